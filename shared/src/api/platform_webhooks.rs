//! The platform-webhooks function (SPEC §8): where the platforms push, public (no API key; each
//! request proves itself with the platform's signature). `GET` answers the platform's
//! subscription check: Meta's `hub.challenge` echoed when `hub.verify_token` is the configured
//! one, X's CRC. `POST` checks the signature over the raw body before anything is parsed — a bad
//! or missing one is a 401 and nothing is stored — then lets what it carries arrive.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::adapters::platforms::push::{meta, meta_signature_is_valid, x, x_crc_response, x_signature_is_valid};
use crate::api::{Data, FunctionRoutes, Query};
use crate::app::AppState;
use crate::model::error::{Error, ErrorBody, Result};
use crate::ports::platforms::PushBatch;
use crate::services::inbox::push::{PushReport, receive};

/// The platform-webhooks function: one route per platform.
pub fn platform_webhooks_routes() -> FunctionRoutes {
    FunctionRoutes {
        prefix: "/platform-webhooks/v1",
        routes: OpenApiRouter::new().routes(routes!(meta_verify, meta_push)).routes(routes!(x_crc, x_push)),
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
