//! The text-assist function: AI rewrites of a post's text, behind API Gateway and its own function URL.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    posthorn::lambda::serve_http(posthorn::api::assist::text_assist_routes()).await
}
