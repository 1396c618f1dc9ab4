//! The posts function: the publishing API, behind API Gateway and its own function URL.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    posthorn::lambda::serve_http(posthorn::api::posts::routes()).await
}
