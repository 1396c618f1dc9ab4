//! sync-post-metrics: runs every 15 minutes on an EventBridge schedule.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    posthorn::lambda::serve_sync_post_metrics().await
}
