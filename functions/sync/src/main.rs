//! The sync function: `POST /functions/v1/sync`, behind API Gateway and its own function URL.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    posthorn::lambda::serve_http(posthorn::api::connections::sync_routes()).await
}
