//! The platform-webhooks function: `/platform-webhooks/v1/meta` and `/…/x`, where the platforms
//! push comments, mentions and messages, behind API Gateway and its own function URL.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    posthorn::lambda::serve_http(posthorn::api::platform_webhooks::platform_webhooks_routes()).await
}
