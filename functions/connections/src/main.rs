//! The connections function: `/v1/connections` (list, read, disconnect), behind API Gateway and
//! its own function URL.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    posthorn::lambda::serve_http(posthorn::api::connections::connections_routes()).await
}
