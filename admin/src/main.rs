//! `posthorn-admin`: what an operator runs against a deployed stack's store (DynamoDB, with the
//! operator's AWS credentials) or the dev server's (SQLite): create and list workspaces, and
//! create, list and revoke their API keys. A new key is printed once; the store keeps its hash.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use posthorn::config::Config;
use posthorn::model::error::Error;
use posthorn::model::ids::{ApiKeyId, WorkspaceId};
use posthorn::model::workspaces::{ApiKey, Scope};
use posthorn::ports::store::{Page, PageRequest, Store};
use posthorn::services::workspaces::{create_key, create_workspace, revoke_key};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Manage Posthorn workspaces and API keys in the configured store.
#[derive(Parser)]
#[command(name = "posthorn-admin", version)]
struct Cli {
    /// `dynamodb` (a deployed stack) or `sqlite` (the dev server's folder).
    #[arg(long, global = true, env = "POSTHORN_STORE")]
    store: Option<String>,
    /// The DynamoDB table: the stack's `TableName` output.
    #[arg(long, global = true, env = "POSTHORN_TABLE")]
    table: Option<String>,
    /// The dev server's data folder.
    #[arg(long, global = true, env = "POSTHORN_DATA_DIR")]
    data_dir: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or list workspaces.
    #[command(subcommand)]
    Workspaces(WorkspaceCommand),
    /// Create, list or revoke API keys.
    #[command(subcommand)]
    Keys(KeyCommand),
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace (then give it a key with `keys create`).
    Create {
        #[arg(long)]
        name: String,
    },
    /// List every workspace, newest first.
    List,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an API key and print it, once.
    Create {
        #[arg(long)]
        workspace: WorkspaceId,
        /// Comma-separated scopes (posts:read,posts:write,…), or `all`.
        #[arg(long, default_value = "all")]
        scopes: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List a workspace's keys, newest first (never the keys themselves).
    List {
        #[arg(long)]
        workspace: WorkspaceId,
    },
    /// Revoke a key: the next request with it is refused.
    Revoke { id: ApiKeyId },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let detail = match &error {
                Error::Internal(detail) => detail.clone(),
                other => other.to_string(),
            };
            eprintln!("error: {detail}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    let store = open_store(&cli).await?;
    let store = store.as_ref();
    let now = OffsetDateTime::now_utc();
    match cli.command {
        Command::Workspaces(WorkspaceCommand::Create { name }) => {
            let workspace = create_workspace(store, &name, now).await?;
            println!("Created workspace {} ({}).", workspace.id, workspace.name);
            println!("Give it an API key: posthorn-admin keys create --workspace {}", workspace.id);
        }
        Command::Workspaces(WorkspaceCommand::List) => {
            for workspace in every_page(|page| store.list_workspaces(page)).await? {
                println!("{}  {}  {}", workspace.id, timestamp(workspace.created_at), workspace.name);
            }
        }
        Command::Keys(KeyCommand::Create { workspace, scopes, name }) => {
            let scopes = Scope::parse_list(&scopes)?;
            let key = create_key(store, workspace, name, scopes, now).await?;
            println!("Created API key {} of {} with scopes {}.", key.record.id, workspace, scope_list(&key.record));
            println!("The key (shown only this once):\n\n    {}\n", key.plaintext);
        }
        Command::Keys(KeyCommand::List { workspace }) => {
            if store.get_workspace(workspace).await?.is_none() {
                return Err(Error::NotFound("workspace"));
            }
            for key in every_page(|page| store.list_api_keys(workspace, page)).await? {
                let name = key.name.as_deref().unwrap_or("-");
                println!("{}  {}  {}  {}", key.id, timestamp(key.created_at), name, scope_list(&key));
            }
        }
        Command::Keys(KeyCommand::Revoke { id }) => {
            let key = revoke_key(store, id, None).await?;
            println!("Revoked API key {} of {}.", key.id, key.workspace_id);
        }
    }
    Ok(())
}

/// The store the options (or the same environment variables the functions read) name.
async fn open_store(cli: &Cli) -> Result<Arc<dyn Store>, Error> {
    let chosen = [("POSTHORN_STORE", &cli.store), ("POSTHORN_TABLE", &cli.table), ("POSTHORN_DATA_DIR", &cli.data_dir)];
    let config =
        Config::from_lookup(|name| chosen.iter().find(|(of, _)| *of == name).and_then(|(_, value)| (*value).clone()))
            .map_err(|error| Error::bad_request(error.to_string()))?;
    posthorn::app::store_of(&config.store).await
}

async fn every_page<T>(read: impl AsyncFn(PageRequest) -> Result<Page<T>, Error>) -> Result<Vec<T>, Error> {
    let (mut items, mut cursor) = (Vec::new(), None);
    loop {
        let page = read(PageRequest { limit: 100, cursor }).await?;
        items.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(items),
        }
    }
}

fn scope_list(key: &ApiKey) -> String {
    key.granted().iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(",")
}

fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}
