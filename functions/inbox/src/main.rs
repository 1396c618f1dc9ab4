//! The inbox function: `/v1/interactions` (list, read, reply), `/v1/accounts/{id}/comments|mentions|dms`,
//! backfill, and the sandbox's simulated arrivals, behind API Gateway and its own function URL.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    posthorn::lambda::serve_http(posthorn::api::inbox::inbox_routes()).await
}
