//! `posthorn-admin` as an operator runs it, on the dev server's SQLite folder and on DynamoDB
//! (the moto server, as a deployed stack's table): a workspace and a key made by the CLI work
//! against the API, keys list without their secrets, and a revoked key is refused.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use posthorn::adapters::dynamo::DynamoStore;
use posthorn::adapters::sqlite::SqliteStore;
use posthorn::dev::http_functions;
use posthorn::ports::store::Store;
use posthorn_testkit::app::{TestApp, TestOptions};
use posthorn_testkit::aws;

/// Where the CLI finds its store: its environment, and the store the API test app reads.
struct Target {
    env: Vec<(&'static str, String)>,
    store: Arc<dyn Store>,
    _dir: Option<TempDir>,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn admin(target: &Target, args: &[&str]) -> Output {
    let mut command = Command::new(Path::new(env!("CARGO_BIN_EXE_posthorn-admin")));
    command.args(args).env_remove("POSTHORN_STORE").env_remove("POSTHORN_TABLE").env_remove("POSTHORN_DATA_DIR");
    command.envs(target.env.iter().map(|(name, value)| (name, value)));
    command.output().expect("run posthorn-admin")
}

/// Runs a command that must succeed; its standard output.
fn ok(target: &Target, args: &[&str]) -> String {
    let output = admin(target, args);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{args:?}: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

fn token(text: &str, prefix: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '.')
        .find(|word| word.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}… in {text}"))
        .to_string()
}

async fn sqlite_target() -> Target {
    let dir = std::env::temp_dir().join(aws::unique_name("posthorn-admin"));
    let env = vec![("POSTHORN_DATA_DIR", dir.display().to_string())];
    // Created by the CLI's first command; opened by the app afterwards, in `scenario`.
    Target { env, store: Arc::new(SqliteStore::in_memory().unwrap()), _dir: Some(TempDir(dir)) }
}

async fn dynamodb_target() -> Target {
    let table = aws::unique_name("posthorn-admin");
    let store = DynamoStore::new(aws::dynamodb().await, table.clone());
    store.ensure_table().await.expect("the stack's table");
    let env = vec![
        ("POSTHORN_STORE", "dynamodb".to_string()),
        ("POSTHORN_TABLE", table),
        ("AWS_ENDPOINT_URL", aws::endpoint()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
    ];
    Target { env, store: Arc::new(store), _dir: None }
}

async fn scenario(mut target: Target) {
    let created = ok(&target, &["workspaces", "create", "--name", "Acme"]);
    let workspace = token(&created, "ws_");
    assert!(ok(&target, &["workspaces", "list"]).contains(&format!("{workspace}  ")));

    let made = ok(
        &target,
        &["keys", "create", "--workspace", &workspace, "--name", "ci", "--scopes", "posts:read,posts:write"],
    );
    let (key_id, key) = (token(&made, "key_"), token(&made, "phk_"));
    let everything = ok(&target, &["keys", "create", "--workspace", &workspace]);
    assert!(everything.contains("keys:write"), "{everything}");

    let listed = ok(&target, &["keys", "list", "--workspace", &workspace]);
    assert!(listed.contains(&key_id) && listed.contains("ci") && listed.contains("posts:read,posts:write"), "{listed}");
    assert!(!listed.contains("phk_"), "a listing never shows a key: {listed}");

    if let Some(dir) = &target._dir {
        target.store = Arc::new(SqliteStore::open(&dir.0.join("posthorn.db")).unwrap());
    }
    let options = TestOptions { store: Some(target.store.clone()), ..TestOptions::default() };
    let app = TestApp::with_options(http_functions, options).await;
    assert_eq!(app.send(Method::GET, "/v1/posts", Some(&key), None).await.status, StatusCode::OK);
    let webhooks = app.send(Method::GET, "/v1/webhooks", Some(&key), None).await;
    assert_eq!(webhooks.status, StatusCode::FORBIDDEN, "the key holds only the posts scopes");

    let revoked = ok(&target, &["keys", "revoke", &key_id]);
    assert!(revoked.contains(&key_id), "{revoked}");
    assert_eq!(app.send(Method::GET, "/v1/posts", Some(&key), None).await.status, StatusCode::UNAUTHORIZED);

    let again = admin(&target, &["keys", "revoke", &key_id]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("API key not found"));
    let unknown = admin(&target, &["keys", "create", "--workspace", "ws_01JD8Z3QK5V7Y2W9X4T6R8P0MN"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("workspace not found"));
    let bad_scope = admin(&target, &["keys", "create", "--workspace", &workspace, "--scopes", "posts:admin"]);
    assert!(String::from_utf8_lossy(&bad_scope.stderr).contains("unknown scope `posts:admin`"));
}

#[tokio::test(flavor = "multi_thread")]
async fn on_the_dev_servers_sqlite_folder() {
    scenario(sqlite_target().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_deployed_stacks_dynamodb_table() {
    scenario(dynamodb_target().await).await;
}
