//! Webhooks CRUD latency through the webhooks function's Lambda router, in-process, on the
//! embedded store (a SQLite file): create (skip_verification), get, list, update, delete, each
//! timed per request.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use posthorn::adapters::outbound::StaticResolver;
use posthorn::services::workspaces::create_workspace_with_key;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Each operation's sorted latencies.
pub struct Latencies {
    pub operation: &'static str,
    pub sorted: Vec<Duration>,
}

pub async fn measure(scratch: &Path, rounds: usize) -> Result<Vec<Latencies>, Box<dyn std::error::Error>> {
    let resolver = StaticResolver::default();
    resolver.set("hooks.example.com", &["93.184.216.34".parse::<IpAddr>()?]);
    let state = Arc::new(crate::bench_state(&scratch.join("crud"), resolver, false)?);
    let api_key = create_workspace_with_key(state.store.as_ref(), "CRUD", state.clock.now()).await?.1;
    let client = Client { router: posthorn::api::webhooks::routes().into_lambda_router(state), api_key };

    let mut timings: [Vec<Duration>; 5] = Default::default();
    for round in 0..rounds {
        let create =
            json!({"url": format!("https://hooks.example.com/{round}"), "events": ["*"], "skip_verification": true});
        let (created, took) = client.send(Method::POST, "/v1/webhooks", Some(create), StatusCode::CREATED).await?;
        timings[0].push(took);
        let path = format!("/v1/webhooks/{}", created["data"]["id"].as_str().ok_or("no id")?);
        timings[1].push(client.send(Method::GET, &path, None, StatusCode::OK).await?.1);
        timings[2].push(client.send(Method::GET, "/v1/webhooks?limit=20", None, StatusCode::OK).await?.1);
        let update = json!({"name": "renamed", "events": ["post.published"]});
        timings[3].push(client.send(Method::PATCH, &path, Some(update), StatusCode::OK).await?.1);
        timings[4].push(client.send(Method::DELETE, &path, None, StatusCode::NO_CONTENT).await?.1);
    }
    let operations = ["create", "get", "list (20)", "update", "delete"];
    Ok(operations
        .into_iter()
        .zip(timings)
        .map(|(operation, mut sorted)| {
            sorted.sort();
            Latencies { operation, sorted }
        })
        .collect())
}

struct Client {
    router: Router,
    api_key: String,
}

impl Client {
    /// One request; its JSON answer and how long it took. Any other status than `expected` is an error.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        expected: StatusCode,
    ) -> Result<(Value, Duration), Box<dyn std::error::Error>> {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.api_key))
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |json| Body::from(json.to_string())))?;
        let started = Instant::now();
        let response = self.router.clone().oneshot(request).await?;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        let took = started.elapsed();
        if status != expected {
            return Err(format!("{path}: {status} {}", String::from_utf8_lossy(&bytes)).into());
        }
        let json = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes)? };
        Ok((json, took))
    }
}
