//! The HTTP API (composition): each function's axum routes, one module per concern, over what
//! they share — request extractors that turn bad input into
//! [`Error`](crate::model::error::Error)s, API-key authentication, response envelopes, and how a
//! function's routes are mounted (under their API path and at the root of the function URL).

pub mod assist;
pub mod auth;
pub mod automations;
pub mod connections;
mod extract;
pub mod inbox;
pub mod keys;
pub mod platform_webhooks;
pub mod posts;
mod routing;
pub mod webhooks;

pub use auth::Caller;
pub use extract::{Json, PathId, PathIds, Query, parse_json};
pub use routing::{FunctionRoutes, MAX_BODY_BYTES, WHOLE_DOCUMENT, combined_router, openapi_document};

use serde::Serialize;
use utoipa::ToSchema;

/// `{"data": …}`: the envelope of every single-object response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Data<T> {
    pub data: T,
}

/// `{"data": […], "next_cursor": …}`: the envelope of every list.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` to read the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    /// A page of stored records, each shown as `T`.
    pub fn of<R>(page: &crate::ports::store::Page<R>) -> Self
    where
        T: for<'a> From<&'a R>,
    {
        Self { data: page.items.iter().map(T::from).collect(), next_cursor: page.next_cursor.clone() }
    }
}

/// `?limit=&cursor=` of every list.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn page_request(self) -> crate::model::error::Result<crate::ports::store::PageRequest> {
        let limit = match self.limit {
            None => 20,
            Some(limit @ 1..=100) => limit as usize,
            Some(_) => return Err(crate::model::error::Error::bad_request("limit must be between 1 and 100")),
        };
        Ok(crate::ports::store::PageRequest { limit, cursor: self.cursor })
    }
}
