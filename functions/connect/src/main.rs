//! The connect function: `GET /functions/v1/connect` (the consent URL) and
//! `POST /functions/v1/connect` (the callback), behind API Gateway and its own function URL.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    posthorn::lambda::serve_http(posthorn::api::connections::connect_routes()).await
}
