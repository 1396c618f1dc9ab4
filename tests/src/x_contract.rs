//! X's own contract for the X adapter's fake: the operations of X's OpenAPI document that
//! Posthorn calls, with every schema they reference, vendored in `tests/fixtures/x/openapi.json`
//! (extracted unchanged from `specs/openapi.json` of github.com/xdevplatform/xdk; the file names
//! the commit). Every JSON body the adapter sends and every answer the fake gives it is
//! validated against the document, so a misreading of X's API is caught by X's description of
//! it rather than encoded twice.

use std::sync::OnceLock;

use serde_json::{Value, json};
use wiremock::{MockServer, ResponseTemplate};

const DOCUMENT: &str = include_str!("../fixtures/x/openapi.json");

fn document() -> &'static Value {
    static PARSED: OnceLock<Value> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(DOCUMENT).expect("the vendored OpenAPI document is JSON"))
}

/// What `body` breaks of `schema` (an OpenAPI schema object of the document), one line each.
fn problems(schema: &Value, body: &Value) -> Vec<String> {
    let rooted = json!({ "allOf": [schema], "components": document()["components"] });
    let validator = jsonschema::draft7::new(&rooted).expect("the document's schemas compile");
    validator.iter_errors(body).map(|error| format!("{} at {}", error, error.instance_path())).collect()
}

/// The operation `method` of the document's path template matching `path` (`/2/tweets/123`
/// matches `/2/tweets/{id}`).
fn operation(method: &str, path: &str) -> &'static Value {
    let segments: Vec<&str> = path.split('/').collect();
    let paths = document()["paths"].as_object().expect("paths");
    let (_, item) = paths
        .iter()
        .find(|(template, _)| {
            let pattern: Vec<&str> = template.split('/').collect();
            pattern.len() == segments.len()
                && pattern.iter().zip(&segments).all(|(want, got)| want.starts_with('{') || want == got)
        })
        .unwrap_or_else(|| panic!("{path} is not an operation of the vendored document"));
    let operation = &item[method.to_ascii_lowercase()];
    assert!(operation.is_object(), "the document has no {method} {path}");
    operation
}

/// What a JSON request body to `method path` breaks of the document.
pub fn request_problems(method: &str, path: &str, body: &Value) -> Vec<String> {
    let schema = &operation(method, path)["requestBody"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} takes no JSON body");
    problems(schema, body)
}

/// What an answer of `status` to `method path` breaks of the document.
pub fn response_problems(method: &str, path: &str, status: u16, body: &Value) -> Vec<String> {
    let responses = &operation(method, path)["responses"];
    let response = responses.get(status.to_string()).unwrap_or(&responses["default"]);
    let schema = &response["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} documents no JSON answer with {status}");
    problems(schema, body)
}

/// The fake's answer, after checking that X's document describes it.
pub fn answer(method: &str, path: &str, status: u16, body: Value) -> ResponseTemplate {
    let problems = response_problems(method, path, status, &body);
    assert!(problems.is_empty(), "the fake's answer to {method} {path} is not X's: {problems:#?}");
    ResponseTemplate::new(status).set_body_json(body)
}

/// Checks every JSON request `server` received against the document.
pub async fn assert_requests_documented(server: &MockServer) {
    for request in server.received_requests().await.unwrap_or_default() {
        let is_json =
            request.headers.get("content-type").is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
        if !is_json {
            continue;
        }
        let body: Value = serde_json::from_slice(&request.body).expect("a JSON body");
        let problems = request_problems(request.method.as_str(), request.url.path(), &body);
        assert!(
            problems.is_empty(),
            "{} {} is not what X documents: {problems:#?}",
            request.method,
            request.url.path()
        );
    }
}
