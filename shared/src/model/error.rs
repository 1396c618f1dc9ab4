//! The one error type of Posthorn and its mapping to HTTP (SPEC §3): every handler returns it,
//! and this is the only place that decides status codes and the `{"error": …}` body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input; the message names the field.
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or invalid API key")]
    Unauthorized,
    /// A platform's push whose signature does not check out.
    #[error("{0}")]
    InvalidSignature(String),
    #[error("{0}")]
    Forbidden(String),
    /// The named resource does not exist in the caller's workspace.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The API key made more requests of this kind than it may per minute.
    #[error("{0}")]
    TooManyRequests(String, RetryAfter),
    /// Well-formed but impossible.
    #[error("{0}")]
    Unprocessable(String),
    /// A service Posthorn relies on (the AI provider) answered with an error or an unreadable
    /// response. The message is shown: it must name the service and carry no secrets.
    #[error("{0}")]
    BadGateway(String),
    /// A service Posthorn relies on is down, timed out or stays overloaded after retries.
    #[error("{0}")]
    Unavailable(String),
    /// A dependency outside the process failed; the message is logged, never returned.
    #[error("internal error")]
    Internal(String),
}

impl Error {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    pub fn internal(context: &str, source: impl std::fmt::Display) -> Self {
        Self::Internal(format!("{context}: {source}"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::InvalidSignature(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Whole seconds a client should wait before trying again: a 429's `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

/// The JSON body of every error response.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in words a developer can act on.
    pub error: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
        }
        let body = ErrorBody { error: self.to_string() };
        let mut response = (self.status(), Json(body)).into_response();
        if let Self::TooManyRequests(_, RetryAfter(seconds)) = self {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
