//! How function routers are assembled: each function declares its routes relative to its own
//! prefix; the Lambda binary mounts them under the prefix (API Gateway) and at the root (its
//! function URL), and the dev server mounts every function under its prefix on one port. The
//! OpenAPI document comes from the same route declarations, so it cannot drift from them.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::model::error::Error;

/// SPEC §6: request bodies are capped at 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One function's routes, relative to `prefix`.
pub struct FunctionRoutes {
    pub prefix: &'static str,
    pub routes: OpenApiRouter<Arc<AppState>>,
}

impl FunctionRoutes {
    /// The router a Lambda function serves: its routes under the prefix and at the root.
    pub fn into_lambda_router(self, state: Arc<AppState>) -> Router {
        let (at_root, _) = self.routes.clone().split_for_parts();
        let (router, openapi) = serve([self]);
        finish(router.merge(at_root), openapi, state)
    }
}

/// The router of several functions on one port (the dev server), with their OpenAPI document.
pub fn combined_router(functions: impl IntoIterator<Item = FunctionRoutes>, state: Arc<AppState>) -> Router {
    let (router, openapi) = serve(functions);
    finish(router, openapi, state)
}

/// The OpenAPI 3.1 document of the given functions, with paths as the API serves them.
pub fn openapi_document(functions: impl IntoIterator<Item = FunctionRoutes>) -> OpenApi {
    serve(functions).1
}

fn serve(functions: impl IntoIterator<Item = FunctionRoutes>) -> (Router<Arc<AppState>>, OpenApi) {
    let router = functions.into_iter().fold(OpenApiRouter::with_openapi(base_document()), |router, function| {
        router.nest(function.prefix, function.routes)
    });
    router.split_for_parts()
}

fn finish(router: Router<Arc<AppState>>, openapi: OpenApi, state: Arc<AppState>) -> Router {
    let openapi = Arc::new(openapi);
    router
        .route("/v1/openapi.json", get(move || async move { axum::Json(openapi.as_ref().clone()) }))
        .fallback(|| async { Error::NotFound("route") })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
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
        "api_key",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("phk_…").build()),
    );
    document
}
