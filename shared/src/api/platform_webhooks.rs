//! The platform-webhooks function (SPEC §8): where the platforms push, public (no API key; each
//! request proves itself with the platform's signature). `GET` answers the platform's
//! subscription check: Meta's `hub.challenge` echoed when `hub.verify_token` is the configured
//! one, X's CRC. `POST` checks the signature over the raw body before anything is parsed — a bad
//! or missing one is a 401 and nothing is stored — then lets what it carries arrive. Meta's
//! deauthorize and data-deletion callbacks prove themselves with a `signed_request`; a deletion
//! answers Meta's `{url, confirmation_code}`, the URL being this function's status page.

use std::sync::Arc;

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::adapters::platforms::push::{
    SignedRequest, meta, meta_signature_is_valid, meta_signed_request, x, x_crc_response, x_signature_is_valid,
};
use crate::api::{Data, FunctionRoutes, Query};
use crate::app::AppState;
use crate::model::error::{Error, ErrorBody, Result};
use crate::ports::platforms::PushBatch;
use crate::services::connections::revoke::{delete_account_data, revoke_on_platform};
use crate::services::inbox::push::{PushReport, receive};

/// How long a data-deletion callback deletes before it answers; the rest resumes in
/// process-queue.
const DELETION_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// The platform-webhooks function: one route per platform.
pub fn platform_webhooks_routes() -> FunctionRoutes {
    FunctionRoutes {
        prefix: "/platform-webhooks/v1",
        routes: OpenApiRouter::new()
            .routes(routes!(meta_verify, meta_push))
            .routes(routes!(meta_deauthorize))
            .routes(routes!(meta_data_deletion))
            .routes(routes!(meta_data_deletion_status))
            .routes(routes!(x_crc, x_push)),
    }
}

/// `?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetaVerification {
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// `?crc_token=…`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct XCrc {
    crc_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CrcResponse {
    response_token: String,
}

/// Meta's subscription check: the challenge, when the verify token is the configured one.
#[utoipa::path(get, path = "/meta", tag = "platform webhooks", params(MetaVerification),
    responses((status = 200, body = String), (status = 403, body = ErrorBody)))]
async fn meta_verify(State(state): State<Arc<AppState>>, Query(params): Query<MetaVerification>) -> Result<String> {
    let expected = state.push.meta_verify_token.as_deref();
    let subscribing = params.mode.as_deref() == Some("subscribe");
    match (expected, params.verify_token.as_deref(), params.challenge) {
        (Some(expected), Some(given), Some(challenge)) if subscribing && constant_time_eq(expected, given) => {
            Ok(challenge)
        }
        _ => Err(Error::Forbidden("the verify token does not match POSTHORN_META_VERIFY_TOKEN".into())),
    }
}

/// What Meta pushes for Facebook Pages and Instagram accounts, signed with the app secret.
#[utoipa::path(post, path = "/meta", tag = "platform webhooks", request_body = String,
    responses((status = 200, body = Data<PushReportView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn meta_push(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<axum::Json<Data<PushReportView>>> {
    let signature = headers.get("x-hub-signature-256").and_then(|value| value.to_str().ok());
    if !meta_signature_is_valid(&state.push.meta_app_secrets, &body, signature) {
        return Err(Error::InvalidSignature("missing or invalid X-Hub-Signature-256".into()));
    }
    received(&state, meta::parse(&body)).await
}

/// Meta's deauthorize callback: the user removed the app, so their connections are revoked.
#[utoipa::path(post, path = "/meta/deauthorize", tag = "platform webhooks",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`signed_request=…`"),
    responses((status = 200, body = Data<RevokedView>), (status = 401, body = ErrorBody)))]
async fn meta_deauthorize(
    State(state): State<Arc<AppState>>,
    body: axum::body::Bytes,
) -> Result<axum::Json<Data<RevokedView>>> {
    let request = signed_request(&state, &body)?;
    let mut revoked = 0;
    for platform in request.platforms {
        revoked += revoke_on_platform(&state.accounts(), platform, &request.user_id).await?;
    }
    tracing::info!(revoked, "Meta deauthorize callback");
    Ok(axum::Json(Data { data: RevokedView { revoked } }))
}

/// Meta's data-deletion callback: deletes what Posthorn keeps for the user and answers with
/// where they can follow it and its code.
#[utoipa::path(post, path = "/meta/data-deletion", tag = "platform webhooks",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`signed_request=…`"),
    responses((status = 200, body = DeletionReceipt), (status = 401, body = ErrorBody)))]
async fn meta_data_deletion(
    State(state): State<Arc<AppState>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<axum::Json<DeletionReceipt>> {
    let request = signed_request(&state, &body)?;
    let deadline = tokio::time::Instant::now() + DELETION_TIME;
    let mut codes = Vec::new();
    for platform in request.platforms {
        codes.push(delete_account_data(&state.accounts(), platform, &request.user_id, deadline).await?.code);
    }
    let confirmation_code = codes.join("-");
    let url = format!("{}/{}", public_url(&headers, uri.path()), codes[0]);
    Ok(axum::Json(DeletionReceipt { url, confirmation_code }))
}

/// The page Meta links its user to: how their data deletion stands.
#[utoipa::path(get, path = "/meta/data-deletion/{code}", tag = "platform webhooks",
    params(("code" = String, Path, description = "The confirmation code")),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, content_type = "text/html", body = String)))]
async fn meta_data_deletion_status(
    State(state): State<Arc<AppState>>,
    Path(code): Path<String>,
) -> Result<(StatusCode, Html<String>)> {
    let deletion = match code.starts_with("del_") {
        true => state.store.get_data_deletion(&code).await?,
        false => None,
    };
    let Some(deletion) = deletion else {
        return Ok((StatusCode::NOT_FOUND, status_page("Unknown deletion request", "No data deletion has this code.")));
    };
    let requested = crate::model::times::rfc3339(deletion.requested_at);
    let (title, detail) = match deletion.completed_at {
        Some(at) => (
            "Your data has been deleted",
            format!(
                "Requested {requested}; completed {}. {} connected account(s) and {} received message(s) or comment(s) were deleted.",
                crate::model::times::rfc3339(at),
                deletion.connections_deleted,
                deletion.interactions_deleted
            ),
        ),
        None => ("Your data is being deleted", format!("Requested {requested}; the deletion is under way.")),
    };
    Ok((StatusCode::OK, status_page(title, &detail)))
}

fn status_page(title: &str, detail: &str) -> Html<String> {
    let escape = |text: &str| text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{0}</title></head><body><h1>{0}</h1><p>{1}</p></body></html>",
        escape(title),
        escape(detail)
    ))
}

/// The `signed_request` of a callback's form body, verified with the Meta app secrets.
fn signed_request(state: &AppState, body: &[u8]) -> Result<SignedRequest> {
    let value = url::form_urlencoded::parse(body).find(|(name, _)| name == "signed_request").map(|(_, value)| value);
    value
        .and_then(|value| meta_signed_request(&state.push.meta_app_secrets, &value))
        .ok_or_else(|| Error::InvalidSignature("missing or invalid signed_request".into()))
}

/// This request's own URL without its query: where it was called, as the caller sees it.
fn public_url(headers: &HeaderMap, path: &str) -> String {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let host = header("x-forwarded-host").or_else(|| header("host")).unwrap_or("localhost");
    let local = host.starts_with("127.0.0.1") || host.starts_with("localhost") || host.starts_with("[::1]");
    let scheme = header("x-forwarded-proto").unwrap_or(if local { "http" } else { "https" });
    format!("{scheme}://{host}{path}")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedView {
    /// Connections this call revoked (0 when they were already).
    revoked: usize,
}

/// What Meta requires a data-deletion callback to answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionReceipt {
    url: String,
    confirmation_code: String,
}

/// X's challenge-response check.
#[utoipa::path(get, path = "/x", tag = "platform webhooks", params(XCrc),
    responses((status = 200, body = CrcResponse), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn x_crc(State(state): State<Arc<AppState>>, Query(params): Query<XCrc>) -> Result<axum::Json<CrcResponse>> {
    let secret = x_secret(&state)?;
    let token = params.crc_token.ok_or_else(|| Error::bad_request("crc_token is required"))?;
    Ok(axum::Json(CrcResponse { response_token: x_crc_response(secret, &token) }))
}

/// What X's Account Activity pushes, signed with the consumer secret.
#[utoipa::path(post, path = "/x", tag = "platform webhooks", request_body = String,
    responses((status = 200, body = Data<PushReportView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn x_push(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<axum::Json<Data<PushReportView>>> {
    let signature = headers.get("x-twitter-webhooks-signature").and_then(|value| value.to_str().ok());
    let valid =
        state.push.x_consumer_secret.as_deref().is_some_and(|secret| x_signature_is_valid(secret, &body, signature));
    if !valid {
        return Err(Error::InvalidSignature("missing or invalid x-twitter-webhooks-signature".into()));
    }
    received(&state, x::parse(&body)).await
}

fn x_secret(state: &AppState) -> Result<&str> {
    state
        .push
        .x_consumer_secret
        .as_deref()
        .ok_or_else(|| Error::Unavailable("X webhooks are not configured: set POSTHORN_X_CONSUMER_SECRET".into()))
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// What a push did, for the platform's delivery log.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushReportView {
    stored: usize,
    duplicates: usize,
    statuses: usize,
    unknown_accounts: usize,
    ignored: usize,
}

impl From<PushReport> for PushReportView {
    fn from(report: PushReport) -> Self {
        Self {
            stored: report.stored,
            duplicates: report.duplicates,
            statuses: report.statuses,
            unknown_accounts: report.unknown_accounts,
            ignored: report.ignored,
        }
    }
}

async fn received(state: &AppState, batch: Option<PushBatch>) -> Result<axum::Json<Data<PushReportView>>> {
    let batch = batch.ok_or_else(|| Error::bad_request("the body is not a webhook payload of this platform"))?;
    let report = receive(&state.accounts(), &state.inbox, batch).await?;
    tracing::info!(?report, "platform push received");
    Ok(axum::Json(Data { data: PushReportView::from(report) }))
}
