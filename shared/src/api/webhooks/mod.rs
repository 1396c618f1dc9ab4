//! The webhooks function's HTTP API (SPEC §4), under `/v1/webhooks`: endpoints and the event
//! catalog, and each endpoint's deliveries and
//! recoveries. Every handler is scoped to the caller's workspace;
//! its recoveries. An endpoint of another workspace is reported as not found, so ids reveal nothing.

mod deliveries;
mod endpoints;
mod recoveries;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::FunctionRoutes;

/// The webhooks function's routes.
pub fn routes() -> FunctionRoutes {
    FunctionRoutes {
        prefix: "/v1/webhooks",
        routes: OpenApiRouter::new()
            .routes(routes!(endpoints::create_webhook, endpoints::list_webhooks))
            .routes(routes!(endpoints::event_catalog))
            .routes(routes!(endpoints::get_webhook, endpoints::update_webhook, endpoints::delete_webhook))
            .routes(routes!(endpoints::rotate_secret))
            .routes(routes!(endpoints::send_test))
            .routes(routes!(deliveries::list_deliveries))
            .routes(routes!(deliveries::get_delivery))
            .routes(routes!(deliveries::retry_delivery))
            .routes(routes!(recoveries::recover))
            .routes(routes!(recoveries::get_recovery)),
    }
}
