//! The api-keys function: `/v1/api-keys` (create, list, revoke) and the whole API's OpenAPI
//! document at `/v1/openapi.json`, behind API Gateway and its own function URL.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    posthorn::lambda::serve_http_with_whole_document(posthorn::api::keys::routes()).await
}
