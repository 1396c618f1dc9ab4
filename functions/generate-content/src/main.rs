//! The generate-content function: one run of an automation, behind API Gateway and its own function URL.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    posthorn::lambda::serve_http(posthorn::api::automations::generate_content_routes()).await
}
