//! The extractors handlers use instead of axum's own, so that a body that is not JSON, an
//! unknown or wrongly typed field, a bad query or a malformed id in the path all become a 400
//! (or 413) naming the problem, in the one error format.

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::api::routing::MAX_BODY_BYTES;
use crate::model::error::Error;
use crate::model::ids::InvalidId;

/// A JSON request body, parsed strictly (types declare `deny_unknown_fields`).
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Error> {
        let bytes = Bytes::from_request(request, state).await.map_err(body_error)?;
        parse_json(&bytes).map(Json)
    }
}

fn body_error(rejection: BytesRejection) -> Error {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::PayloadTooLarge { limit: MAX_BODY_BYTES }
    } else {
        Error::bad_request(format!("could not read the request body: {}", rejection.body_text()))
    }
}

/// Parses a JSON body, naming the field at fault: `invalid body at events[0]: …`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    // serde reads a struct from an array of its fields too; a body is an object.
    let is_object = bytes.trim_ascii_start().first() == Some(&b'{');
    if !is_object && (bytes.trim_ascii().is_empty() || serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()) {
        return Err(Error::bad_request("the request body must be a JSON object"));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Error::bad_request(format!("the request body is not valid JSON: {inner}"))
        } else if path == "." {
            Error::bad_request(format!("invalid body: {inner}"))
        } else {
            Error::bad_request(format!("invalid body at `{path}`: {inner}"))
        }
    })
}

/// Query parameters, parsed strictly.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        axum::extract::Query::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| Error::bad_request(rejection.body_text()))
    }
}

/// The single id in a route's path (`/v1/webhooks/{id}`), parsed as a typed id.
pub struct PathId<T>(pub T);

impl<S: Send + Sync, T: FromStr<Err = InvalidId> + Send> FromRequestParts<S> for PathId<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let axum::extract::Path(raw) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| Error::bad_request(rejection.body_text()))?;
        raw.parse().map(PathId).map_err(|error: InvalidId| Error::bad_request(error.to_string()))
    }
}

/// Two ids in a route's path (`/v1/webhooks/{id}/deliveries/{delivery_id}`), parsed as typed ids.
pub struct PathIds<A, B>(pub A, pub B);

impl<S, A, B> FromRequestParts<S> for PathIds<A, B>
where
    S: Send + Sync,
    A: FromStr<Err = InvalidId> + Send,
    B: FromStr<Err = InvalidId> + Send,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let axum::extract::Path((first, second)) =
            axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|rejection| Error::bad_request(rejection.body_text()))?;
        let invalid = |error: InvalidId| Error::bad_request(error.to_string());
        Ok(PathIds(first.parse().map_err(invalid)?, second.parse().map_err(invalid)?))
    }
}
