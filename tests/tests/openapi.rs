//! The OpenAPI document matches the routes that exist: every documented operation is routed,
//! and every routed operation is documented.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use posthorn::api::openapi_document;
use posthorn::dev::http_functions;
use posthorn::model::workspaces::Scope;
use posthorn_testkit::app::TestApp;

/// Every operation the API serves. A new route must be added here and will then be checked.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/webhooks"),
    ("POST", "/v1/webhooks"),
    ("GET", "/v1/webhooks/events"),
    ("GET", "/v1/webhooks/{id}"),
    ("PATCH", "/v1/webhooks/{id}"),
    ("DELETE", "/v1/webhooks/{id}"),
    ("POST", "/v1/webhooks/{id}/rotate-secret"),
    ("POST", "/v1/webhooks/{id}/test"),
    ("GET", "/v1/webhooks/{id}/deliveries"),
    ("GET", "/v1/webhooks/{id}/deliveries/{delivery_id}"),
    ("POST", "/v1/webhooks/{id}/deliveries/{delivery_id}/retry"),
    ("POST", "/v1/webhooks/{id}/recover"),
    ("GET", "/v1/webhooks/{id}/recoveries/{recovery_id}"),
    ("GET", "/v1/posts"),
    ("POST", "/v1/posts"),
    ("POST", "/v1/posts/validate"),
    ("GET", "/v1/posts/{id}"),
    ("PATCH", "/v1/posts/{id}"),
    ("DELETE", "/v1/posts/{id}"),
    ("POST", "/v1/posts/{id}/cancel"),
    ("POST", "/v1/posts/{id}/retry"),
    ("POST", "/v1/posts/{id}/unpublish"),
    ("POST", "/functions/v1/text-assist"),
    ("POST", "/functions/v1/media-assist"),
    ("POST", "/functions/v1/generate-content"),
    ("GET", "/v1/automations"),
    ("POST", "/v1/automations"),
    ("GET", "/v1/automations/{id}"),
    ("PATCH", "/v1/automations/{id}"),
    ("DELETE", "/v1/automations/{id}"),
    ("GET", "/v1/sources"),
    ("POST", "/v1/sources"),
    ("GET", "/v1/sources/{id}"),
    ("PATCH", "/v1/sources/{id}"),
    ("DELETE", "/v1/sources/{id}"),
    ("GET", "/v1/runs/{id}"),
    ("GET", "/functions/v1/connect"),
    ("POST", "/functions/v1/connect"),
    ("POST", "/functions/v1/sync"),
    ("POST", "/functions/v1/import-channels"),
    ("GET", "/v1/connections"),
    ("GET", "/v1/connections/{id}"),
    ("DELETE", "/v1/connections/{id}"),
    ("GET", "/v1/interactions"),
    ("GET", "/v1/interactions/{id}"),
    ("POST", "/v1/interactions/{id}/reply"),
    ("GET", "/v1/accounts/{id}/comments"),
    ("GET", "/v1/accounts/{id}/mentions"),
    ("GET", "/v1/accounts/{id}/dms"),
    ("POST", "/v1/accounts/{id}/inbox/backfill"),
    ("POST", "/v1/sandbox/interactions"),
    ("GET", "/platform-webhooks/v1/meta"),
    ("POST", "/platform-webhooks/v1/meta"),
    ("POST", "/platform-webhooks/v1/meta/deauthorize"),
    ("POST", "/platform-webhooks/v1/meta/data-deletion"),
    ("GET", "/platform-webhooks/v1/meta/data-deletion/{code}"),
    ("GET", "/platform-webhooks/v1/x"),
    ("POST", "/platform-webhooks/v1/x"),
    ("GET", "/v1/api-keys"),
    ("POST", "/v1/api-keys"),
    ("DELETE", "/v1/api-keys/{id}"),
];

/// The operations anyone may call: the platforms' pushes check their own signatures.
const PUBLIC: &[&str] = &[
    "/platform-webhooks/v1/meta",
    "/platform-webhooks/v1/meta/deauthorize",
    "/platform-webhooks/v1/meta/data-deletion",
    "/platform-webhooks/v1/meta/data-deletion/{code}",
    "/platform-webhooks/v1/x",
];

fn documented_operations() -> BTreeSet<(String, String)> {
    let document = serde_json::to_value(openapi_document(http_functions())).unwrap();
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.insert((method.to_uppercase(), path.clone()));
        }
    }
    operations
}

#[test]
fn the_document_lists_exactly_the_served_operations() {
    let expected: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented_operations(), expected);
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = TestApp::new(http_functions).await;
    for (method, path) in documented_operations() {
        let id = if path.starts_with("/v1/posts") {
            posthorn::model::ids::PostId::new().to_string()
        } else if path.starts_with("/v1/connections") || path.starts_with("/v1/accounts") {
            posthorn::model::ids::ConnectionId::new().to_string()
        } else if path.starts_with("/v1/api-keys") {
            posthorn::model::ids::ApiKeyId::new().to_string()
        } else if path.starts_with("/v1/interactions") {
            posthorn::model::ids::InteractionId::new().to_string()
        } else {
            posthorn::model::ids::WebhookId::new().to_string()
        };
        let concrete =
            path.replace("{id}", &id).replace("{delivery_id}", &posthorn::model::ids::DeliveryId::new().to_string());
        let method: Method = method.parse().unwrap();
        let reply = app.call(method.clone(), &concrete, Some(serde_json::json!({}))).await;
        assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let unrouted = reply.body.get("error").and_then(|error| error.as_str()) == Some("route not found");
        assert!(!unrouted, "{method} {path} is documented but not routed");
    }
}

#[tokio::test]
async fn the_document_is_served_as_openapi_3_1() {
    let app = TestApp::new(http_functions).await;
    let reply = app.send(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(reply.body["components"]["schemas"]["WebhookView"].is_object());
    assert_eq!(reply.body["components"]["securitySchemes"]["api_key"]["scheme"], "bearer");
}

#[test]
fn every_authenticated_operation_declares_one_scope() {
    let document = serde_json::to_value(openapi_document(http_functions())).unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let declared = &operation["security"];
            if PUBLIC.contains(&path.as_str()) {
                assert!(declared.is_null(), "{method} {path} is public but declares {declared}");
                continue;
            }
            let scopes = declared[0]["api_key"].as_array().unwrap_or_else(|| panic!("{method} {path}: no api_key"));
            assert_eq!(scopes.len(), 1, "{method} {path} must declare exactly one scope: {declared}");
            let scope = scopes[0].as_str().unwrap();
            assert!(Scope::parse(scope).is_some(), "{method} {path} declares the unknown scope {scope}");
        }
    }
}

/// The document the deployed API serves is the committed `shared/openapi.json`: it must be the
/// generated one. `POSTHORN_WRITE_OPENAPI=1 cargo test -p posthorn-testkit --test openapi`
/// rewrites it after a change of the API.
#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = serde_json::to_string_pretty(&openapi_document(http_functions())).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/openapi.json");
    if std::env::var_os("POSTHORN_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    assert!(
        posthorn::api::WHOLE_DOCUMENT == generated,
        "shared/openapi.json is stale: run POSTHORN_WRITE_OPENAPI=1 cargo test -p posthorn-testkit --test openapi"
    );
}
