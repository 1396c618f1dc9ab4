//! The import-channels function: `POST /functions/v1/import-channels`, behind API Gateway and
//! its own function URL.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    posthorn::lambda::serve_http(posthorn::api::connections::import_routes()).await
}
