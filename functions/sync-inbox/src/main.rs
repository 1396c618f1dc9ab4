//! sync-inbox: runs every minute on an EventBridge schedule.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    posthorn::lambda::serve_sync_inbox().await
}
