//! The media-assist function: AI image generation, behind API Gateway and its own function URL.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    posthorn::lambda::serve_http(posthorn::api::assist::media_assist_routes()).await
}
