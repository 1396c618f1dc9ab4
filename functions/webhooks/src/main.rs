//! The webhooks function: endpoint CRUD, the event catalog and deliveries, behind API Gateway
//! and its own function URL.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    posthorn::lambda::serve_http(posthorn::api::webhooks::routes()).await
}
