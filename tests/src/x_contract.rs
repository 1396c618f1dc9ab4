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

/// What a multipart request body to `method path` (its `content_type` names the boundary)
/// breaks of the document. Each part becomes a property: a file part a string (the document's
/// `format: binary`), a text part a string, or a number where the document's property is one.
pub fn multipart_problems(method: &str, path: &str, content_type: &str, body: &[u8]) -> Vec<String> {
    let schema = &operation(method, path)["requestBody"]["content"]["multipart/form-data"]["schema"];
    assert!(schema.is_object(), "{method} {path} takes no multipart body");
    let properties = &resolved(schema)["properties"];
    let boundary = content_type.split("boundary=").nth(1).expect("a multipart boundary").trim_matches('"');
    let mut object = serde_json::Map::new();
    for (name, value, is_file) in multipart_parts(body, boundary) {
        let text = String::from_utf8_lossy(&value).into_owned();
        let numeric = matches!(properties[&name]["type"].as_str(), Some("integer" | "number"));
        let value = match (is_file, numeric, text.parse::<i64>()) {
            (false, true, Ok(number)) => json!(number),
            (true, _, _) => json!(format!("<{} bytes>", value.len())),
            _ => json!(text),
        };
        object.insert(name, value);
    }
    problems(schema, &Value::Object(object))
}

/// A schema with its `$ref` followed.
fn resolved(schema: &Value) -> &Value {
    match schema["$ref"].as_str().and_then(|reference| reference.strip_prefix("#/")) {
        Some(pointer) => document().pointer(&format!("/{pointer}")).expect("a reference of the document"),
        None => schema,
    }
}

/// The parts of a multipart body: name, content, whether it is a file.
fn multipart_parts(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>, bool)> {
    let delimiter = format!("--{boundary}");
    split(body, delimiter.as_bytes())
        .into_iter()
        .skip(1)
        .filter(|part| !part.starts_with(b"--"))
        .filter_map(|part| {
            let part = part.strip_prefix(b"\r\n").unwrap_or(part);
            let end = find(part, b"\r\n\r\n")?;
            let headers = String::from_utf8_lossy(&part[..end]).into_owned();
            let content = part[end + 4..].strip_suffix(b"\r\n").unwrap_or(&part[end + 4..]).to_vec();
            let name = headers.split("name=\"").nth(1)?.split('"').next()?.to_string();
            Some((name, content, headers.contains("filename=")))
        })
        .collect()
}

fn split<'a>(body: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(at) = find(rest, delimiter) {
        parts.push(&rest[..at]);
        rest = &rest[at + delimiter.len()..];
    }
    parts.push(rest);
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
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

/// Checks every JSON and multipart request `server` received against the document.
pub async fn assert_requests_documented(server: &MockServer) {
    for request in server.received_requests().await.unwrap_or_default() {
        let content_type =
            request.headers.get("content-type").and_then(|value| value.to_str().ok()).unwrap_or_default().to_string();
        let (method, path) = (request.method.as_str(), request.url.path());
        let problems = if content_type.starts_with("application/json") {
            let body: Value = serde_json::from_slice(&request.body).expect("a JSON body");
            request_problems(method, path, &body)
        } else if content_type.starts_with("multipart/form-data") {
            multipart_problems(method, path, &content_type, &request.body)
        } else {
            continue;
        };
        assert!(
            problems.is_empty(),
            "{} {} is not what X documents: {problems:#?}",
            request.method,
            request.url.path()
        );
    }
}
