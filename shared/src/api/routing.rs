//! How function routers are assembled: each function declares its routes relative to its own
//! prefix; the Lambda binary mounts them under the prefix (API Gateway) and at the root (its
//! function URL), and the dev server mounts every function under its prefix on one port. The
//! OpenAPI document comes from the same route declarations, so it cannot drift from them.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;

use crate::api::auth::{SECURITY_SCHEME, ScopeTable};
use crate::app::AppState;
use crate::model::error::Error;

/// The whole API's OpenAPI document, as `tests/tests/openapi.rs` checks it is generated: what
/// the deployed HTTP API serves at `/v1/openapi.json` (and clients are generated from).
pub const WHOLE_DOCUMENT: &str = include_str!("../../openapi.json");

/// SPEC §6: request bodies are capped at 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One function's routes, relative to `prefix`.
pub struct FunctionRoutes {
    pub prefix: &'static str,
    pub routes: OpenApiRouter<Arc<AppState>>,
}

impl FunctionRoutes {
    /// The router a Lambda function serves: its routes under the prefix and at the root, and
    /// its part of the OpenAPI document.
    pub fn into_lambda_router(self, state: Arc<AppState>) -> Router {
        self.lambda_router(state, None)
    }

    /// The router of the Lambda function that serves the whole API's OpenAPI document
    /// ([`WHOLE_DOCUMENT`]) at `/v1/openapi.json`.
    pub fn into_lambda_router_with_whole_document(self, state: Arc<AppState>) -> Router {
        self.lambda_router(state, Some(WHOLE_DOCUMENT))
    }

    fn lambda_router(self, state: Arc<AppState>, document: Option<&'static str>) -> Router {
        let (at_root, _) = self.routes.clone().split_for_parts();
        let prefix = self.prefix;
        let (router, openapi) = serve([self]);
        let scopes = ScopeTable::of(&openapi, Some(prefix));
        let document = match document {
            Some(whole) => Document::Whole(whole),
            None => Document::Generated(Arc::new(openapi)),
        };
        finish(router.merge(at_root), document, scopes, state)
    }
}

/// The router of several functions on one port (the dev server), with their OpenAPI document.
pub fn combined_router(functions: impl IntoIterator<Item = FunctionRoutes>, state: Arc<AppState>) -> Router {
    let (router, openapi) = serve(functions);
    let scopes = ScopeTable::of(&openapi, None);
    finish(router, Document::Generated(Arc::new(openapi)), scopes, state)
}

/// The OpenAPI 3.1 document of the given functions, with paths as the API serves them.
pub fn openapi_document(functions: impl IntoIterator<Item = FunctionRoutes>) -> OpenApi {
    serve(functions).1
}

fn serve(functions: impl IntoIterator<Item = FunctionRoutes>) -> (Router<Arc<AppState>>, OpenApi) {
    let router = functions.into_iter().fold(OpenApiRouter::with_openapi(base_document()), |router, function| {
        router.nest(function.prefix, function.routes)
    });
    let (router, mut openapi) = router.split_for_parts();
    document_common_answers(&mut openapi);
    (router, openapi)
}

/// Adds to every operation the error answers the shared machinery gives, so that the document
/// lists every status an operation can answer: 400 (a bad parameter or body), 401 and 403 (the
/// key, its scope), 404 (an id in the path that is not the caller's), 413 (a body over the cap).
fn document_common_answers(openapi: &mut OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for operation in operations.into_iter().flatten() {
            let parameters = operation.parameters.as_deref().unwrap_or_default();
            let in_path = parameters.iter().any(|p| matches!(p.parameter_in, ParameterIn::Path));
            let mut answers = Vec::new();
            if !parameters.is_empty() || operation.request_body.is_some() {
                answers.push(("400", "Bad input: the message names the parameter or field"));
            }
            if operation.security.is_some() {
                answers.push(("401", "Missing, invalid or revoked API key"));
                answers.push(("403", "The API key lacks the operation's scope, or names another workspace"));
            }
            if in_path {
                answers.push(("404", "No such resource in the caller's workspace"));
            }
            if operation.request_body.is_some() {
                answers.push(("413", "The body is larger than 1 MiB"));
            }
            for (status, description) in answers {
                operation.responses.responses.entry(status.to_string()).or_insert_with(|| error_answer(description));
            }
        }
    }
}

fn error_answer(description: &str) -> RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    ResponseBuilder::new().description(description).content("application/json", content).build().into()
}

/// The OpenAPI document a router serves.
enum Document {
    Generated(Arc<OpenApi>),
    Whole(&'static str),
}

impl Document {
    fn response(&self) -> Response {
        match self {
            Self::Generated(openapi) => axum::Json(openapi.as_ref()).into_response(),
            Self::Whole(text) => ([(CONTENT_TYPE, "application/json")], *text).into_response(),
        }
    }
}

fn finish(router: Router<Arc<AppState>>, document: Document, scopes: ScopeTable, state: Arc<AppState>) -> Router {
    let document = Arc::new(document);
    router
        .route("/v1/openapi.json", get(move || async move { document.response() }))
        .fallback(|| async { Error::NotFound("route") })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(Extension(Arc::new(scopes)))
        .with_state(state)
}

fn base_document() -> OpenApi {
    let mut document = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Posthorn")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some("Publish to many social platforms at once, and hear back through signed webhooks."))
                .build(),
        )
        .build();
    document.components.get_or_insert_default().add_security_scheme(
        SECURITY_SCHEME,
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("phk_…").build()),
    );
    document
}
