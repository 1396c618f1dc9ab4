//! deliver-webhooks: triggered by the delivery queue; reports partial batch failures so retries
//! keep the delay the worker set.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    posthorn::lambda::serve_delivery_worker().await
}
