//! The webhook endpoints API over HTTP: every route, every error status, workspace isolation and
//! the SSRF rules applied to the URLs customers register.

use std::net::IpAddr;

use axum::http::{Method, StatusCode};
use posthorn_testkit::app::{PUBLIC_HOST, TestApp};
use serde_json::{Value, json};

async fn app() -> TestApp {
    TestApp::new(|| vec![posthorn::api::webhooks::routes()]).await
}

/// A valid registration. These tests have no receiver, so they skip the verification ping
/// (`webhook_delivery.rs` covers it).
fn new_endpoint() -> Value {
    json!({"url": format!("https://{PUBLIC_HOST}/hooks/posthorn"), "events": ["post.published", "post.failed"],
        "name": "Production", "skip_verification": true})
}

async fn create(app: &TestApp) -> Value {
    let reply = app.call(Method::POST, "/v1/webhooks", Some(new_endpoint())).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body["data"].clone()
}

#[tokio::test]
async fn create_returns_the_endpoint_and_its_secret_once() {
    let app = app().await;
    let created = create(&app).await;

    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["url"], format!("https://{PUBLIC_HOST}/hooks/posthorn"));
    assert_eq!(created["events"], json!(["post.published", "post.failed"]));
    assert_eq!(created["active"], true);
    assert_eq!(created["name"], "Production");
    assert!(created["id"].as_str().unwrap().starts_with("wh_"));
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    let read = app.call(Method::GET, &format!("/v1/webhooks/{}", created["id"].as_str().unwrap()), None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(read.body["data"].get("secret").is_none(), "the secret is shown once only");
    assert_eq!(read.body["data"]["secret_hint"], secret[secret.len() - 4..]);
}

#[tokio::test]
async fn the_secret_is_stored_encrypted() {
    let app = app().await;
    let created = create(&app).await;
    let id = created["id"].as_str().unwrap().parse().unwrap();
    let stored = app.store().get_webhook(app.workspace_id, id).await.unwrap().unwrap();
    let raw = serde_json::to_string(&stored).unwrap();
    assert!(!raw.contains(created["secret"].as_str().unwrap()));
    assert_eq!(app.state.secrets.open(&stored.secret).unwrap(), created["secret"].as_str().unwrap());
}

#[tokio::test]
async fn a_custom_secret_is_accepted_when_well_formed() {
    let app = app().await;
    let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let mut body = new_endpoint();
    body["secret"] = json!(secret);
    let reply = app.call(Method::POST, "/v1/webhooks", Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["data"]["secret"], secret);

    for bad in
        ["C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "whsec_!!!", "whsec_c2hvcnQ=", &format!("whsec_{}", "QUFB".repeat(30))]
    {
        let mut body = new_endpoint();
        body["secret"] = json!(bad);
        let reply = app.call(Method::POST, "/v1/webhooks", Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(reply.error().contains("secret"), "{}", reply.error());
    }
}

#[tokio::test]
async fn events_must_come_from_the_catalog() {
    let app = app().await;
    let cases = [
        (json!([]), "at least one"),
        (json!(["post.exploded"]), "unknown event `post.exploded`"),
        (json!(["*", "post.published"]), "cannot be combined"),
    ];
    for (events, message) in cases {
        let mut body = new_endpoint();
        body["events"] = events;
        let reply = app.call(Method::POST, "/v1/webhooks", Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.error().contains(message), "{}", reply.error());
    }
    let mut body = new_endpoint();
    body["events"] = json!(["*"]);
    let reply = app.call(Method::POST, "/v1/webhooks", Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["data"]["events"], json!(["*"]));
}

#[tokio::test]
async fn malformed_bodies_are_400_naming_the_problem() {
    let app = app().await;
    let not_json = app.send(Method::POST, "/v1/webhooks", Some(&app.api_key), Some(b"url=https://x".to_vec())).await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert!(not_json.error().contains("not valid JSON"), "{}", not_json.error());

    let empty = app.send(Method::POST, "/v1/webhooks", Some(&app.api_key), None).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);

    let mut unknown = new_endpoint();
    unknown["colour"] = json!("blue");
    let reply = app.call(Method::POST, "/v1/webhooks", Some(unknown)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.error().contains("colour"), "{}", reply.error());

    let mut wrong_type = new_endpoint();
    wrong_type["events"] = json!([1, 2]);
    let reply = app.call(Method::POST, "/v1/webhooks", Some(wrong_type)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.error().contains("events[0]"), "{}", reply.error());

    let missing = app.call(Method::POST, "/v1/webhooks", Some(json!({"events": ["*"]}))).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.error().contains("url"), "{}", missing.error());

    let array = app.call(Method::POST, "/v1/webhooks", Some(json!([1]))).await;
    assert_eq!(array.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413() {
    let app = app().await;
    let mut body = new_endpoint();
    body["name"] = json!("x".repeat(1024 * 1024 + 1));
    let reply = app.call(Method::POST, "/v1/webhooks", Some(body)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(reply.error().contains("larger than"), "{}", reply.error());
}

#[tokio::test]
async fn field_lengths_are_bounded() {
    let app = app().await;
    let mut body = new_endpoint();
    body["name"] = json!("n".repeat(101));
    let reply = app.call(Method::POST, "/v1/webhooks", Some(body)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.error().contains("name"));

    let mut body = new_endpoint();
    body["url"] = json!(format!("https://{PUBLIC_HOST}/{}", "a".repeat(2048)));
    let reply = app.call(Method::POST, "/v1/webhooks", Some(body)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.error().contains("longer than 2048"), "{}", reply.error());
}

#[tokio::test]
async fn hostile_urls_are_rejected() {
    let app = app().await;
    let ip = |text: &str| text.parse::<IpAddr>().unwrap();
    app.resolver.set("localhost", &[ip("127.0.0.1"), ip("::1")]);
    app.resolver.set("intranet.example.com", &[ip("10.1.2.3")]);
    app.resolver.set("metadata.example.com", &[ip("169.254.169.254")]);
    app.resolver.set("half.example.com", &[ip("93.184.216.34"), ip("192.168.1.20")]);
    app.resolver.set("v6-ula.example.com", &[ip("fd12:3456::1")]);

    let hostile = [
        "http://hooks.example.com/plain-http",
        "ftp://hooks.example.com/file",
        "javascript:alert(1)",
        "https://user:pass@hooks.example.com/",
        "https://127.0.0.1/",
        "https://127.1.2.3:8443/",
        "https://10.0.0.1/",
        "https://172.16.5.4/",
        "https://192.168.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://198.18.0.1/",
        "https://192.0.2.1/",
        "https://224.0.0.1/",
        "https://255.255.255.255/",
        "https://2130706433/",
        "https://0177.0.0.1/",
        "https://0x7f.0.0.1/",
        "https://017700000001/",
        "https://[::1]/",
        "https://[::]/",
        "https://[fd00::1]/",
        "https://[fe80::1]/",
        "https://[ff02::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:a9fe:a9fe]/",
        "https://[64:ff9b::7f00:1]/",
        "https://[2001:db8::1]/",
        "https://localhost/",
        "https://LOCALHOST./",
        "https://intranet.example.com/",
        "https://metadata.example.com/",
        "https://half.example.com/",
        "https://v6-ula.example.com/",
        "https://does-not-resolve.example.com/",
        "https://0/",
        "https://192.168.1.1:443/",
        "https://[::ffff:10.0.0.1]/",
        "https://[2002:7f00:1::]/",
        "https://[64:ff9b::a00:1]/",
        "https://[fec0::1]/",
        "https://[::127.0.0.1]/",
        "not a url",
    ];
    assert!(hostile.len() >= 40);
    for url in hostile {
        let mut body = new_endpoint();
        body["url"] = json!(url);
        let reply = app.call(Method::POST, "/v1/webhooks", Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{url} was accepted");
        assert!(reply.error().starts_with("url "), "{url}: {}", reply.error());
    }
    let listed = app.call(Method::GET, "/v1/webhooks", None).await;
    assert_eq!(listed.body["data"], json!([]), "nothing was saved");
}

#[tokio::test]
async fn requests_without_a_valid_key_are_401() {
    let app = app().await;
    let cases: [Option<&str>; 4] = [None, Some("phk_not-a-key"), Some("sk_live_123"), Some("")];
    for key in cases {
        let reply = app.send(Method::GET, "/v1/webhooks", key, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{key:?}");
        assert_eq!(reply.error(), "missing or invalid API key");
    }
    let basic = app.send(Method::GET, "/v1/webhooks/events", None, None).await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn another_workspace_cannot_see_or_touch_an_endpoint() {
    let app = app().await;
    let created = create(&app).await;
    let path = format!("/v1/webhooks/{}", created["id"].as_str().unwrap());
    let other = app.other_workspace_key().await;

    assert_eq!(app.send(Method::GET, &path, Some(&other), None).await.status, StatusCode::NOT_FOUND);
    let patch = Some(br#"{"active": false}"#.to_vec());
    assert_eq!(app.send(Method::PATCH, &path, Some(&other), patch).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.send(Method::DELETE, &path, Some(&other), None).await.status, StatusCode::NOT_FOUND);
    let listed = app.send(Method::GET, "/v1/webhooks", Some(&other), None).await;
    assert_eq!(listed.body["data"], json!([]));

    let still_there = app.call(Method::GET, &path, None).await;
    assert_eq!(still_there.body["data"]["active"], true);
}

#[tokio::test]
async fn naming_another_workspace_in_the_body_is_403() {
    let app = app().await;
    let mut body = new_endpoint();
    body["workspace_id"] = json!(posthorn::model::ids::WorkspaceId::new());
    let reply = app.call(Method::POST, "/v1/webhooks", Some(body)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    let mut body = new_endpoint();
    body["workspace_id"] = json!(app.workspace_id);
    assert_eq!(app.call(Method::POST, "/v1/webhooks", Some(body)).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn lists_are_cursor_paginated_newest_first() {
    let app = app().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(create(&app).await["id"].as_str().unwrap().to_string());
    }
    ids.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/v1/webhooks?limit=2&cursor={cursor}"),
            None => "/v1/webhooks?limit=2".to_string(),
        };
        let page = app.call(Method::GET, &path, None).await;
        assert_eq!(page.status, StatusCode::OK);
        let data = page.body["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        assert!(data.iter().all(|endpoint| endpoint.get("secret").is_none()));
        seen.extend(data.iter().map(|endpoint| endpoint["id"].as_str().unwrap().to_string()));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ids);

    for bad in ["limit=0", "limit=101", "limit=ten", "cursor=garbage", "sort=asc"] {
        let reply = app.call(Method::GET, &format!("/v1/webhooks?{bad}"), None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn patch_changes_fields_and_accepts_the_active_aliases() {
    let app = app().await;
    let created = create(&app).await;
    let path = format!("/v1/webhooks/{}", created["id"].as_str().unwrap());

    for (field, value) in [("active", false), ("is_active", true), ("enabled", false)] {
        let reply = app.call(Method::PATCH, &path, Some(json!({ field: value }))).await;
        assert_eq!(reply.status, StatusCode::OK, "{field}");
        assert_eq!(reply.body["data"]["active"], value, "{field}");
    }

    let reply = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"url": format!("https://{PUBLIC_HOST}/v2"), "events": ["*"], "name": "Staging"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["data"]["url"], format!("https://{PUBLIC_HOST}/v2"));
    assert_eq!(reply.body["data"]["events"], json!(["*"]));
    assert_eq!(reply.body["data"]["name"], "Staging");
    assert!(reply.body["data"].get("secret").is_none());

    let read = app.call(Method::GET, &path, None).await;
    assert_eq!(read.body["data"]["url"], format!("https://{PUBLIC_HOST}/v2"));

    let cases = [
        (json!({}), "at least one"),
        (json!({"colour": "blue"}), "colour"),
        (json!({"url": "https://10.0.0.1/"}), "url"),
        (json!({"events": ["nope"]}), "unknown event"),
        (json!({"active": "yes"}), "active"),
    ];
    for (body, message) in cases {
        let reply = app.call(Method::PATCH, &path, Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(reply.error().contains(message), "{body}: {}", reply.error());
    }
}

#[tokio::test]
async fn delete_removes_the_endpoint() {
    let app = app().await;
    let created = create(&app).await;
    let path = format!("/v1/webhooks/{}", created["id"].as_str().unwrap());
    let reply = app.call(Method::DELETE, &path, None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(app.call(Method::GET, &path, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::DELETE, &path, None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ids_in_paths_are_checked() {
    let app = app().await;
    let reply = app.call(Method::GET, "/v1/webhooks/ws_01JD8Z3QK5V7Y2W9X4T6R8P0MN", None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.error().contains("webhook id"), "{}", reply.error());
    let unknown =
        app.call(Method::GET, &format!("/v1/webhooks/{}", posthorn::model::ids::WebhookId::new()), None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.error(), "webhook not found");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let app = app().await;
    let reply = app.call(Method::GET, "/v1/nothing-here", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), "route not found");
    let reply = app.call(Method::PUT, "/v1/webhooks", None).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(reply.error().contains("method"));
}

#[tokio::test]
async fn the_catalog_lists_every_event_with_an_example() {
    let app = app().await;
    let reply = app.call(Method::GET, "/v1/webhooks/events", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let entries = reply.body["data"].as_array().unwrap();
    let names: Vec<&str> = entries.iter().map(|entry| entry["name"].as_str().unwrap()).collect();
    let expected = [
        "post.scheduled",
        "post.published",
        "post.partial",
        "post.failed",
        "post.updated",
        "post.cancelled",
        "post.deleted",
        "post.retried",
        "post.metrics.updated",
        "post.unpublished",
        "account.connected",
        "account.disconnected",
        "token.expired",
        "channel.created",
        "channel.deleted",
        "automation.run.completed",
        "automation.run.failed",
        "comment.received",
        "mention.received",
        "dm.received",
        "dm.sent",
        "dm.referral",
        "dm.status.sent",
        "dm.status.delivered",
        "dm.status.read",
        "dm.status.failed",
        "review.received",
        "webhook.ping",
        "webhook.test",
        "webhook.endpoint.disabled",
        "webhook.endpoint.enabled",
        "webhook.recovery.completed",
    ];
    assert_eq!(names, expected);
    for entry in entries {
        assert_eq!(entry["example"]["event"], entry["name"]);
        assert!(entry["example"]["id"].as_str().unwrap().starts_with("evt_"));
        assert!(entry["example"]["data"].is_object());
        let category = entry["category"].as_str().unwrap();
        assert!(["posts", "accounts", "automations", "inbox", "system"].contains(&category), "{category}");
        assert!(!entry["description"].as_str().unwrap().is_empty());
    }
    let failed = entries.iter().find(|entry| entry["name"] == "post.failed").unwrap();
    assert!(failed["example"]["data"].get("published").is_none(), "published is absent on post.failed");
    let review = entries.iter().find(|entry| entry["name"] == "review.received").unwrap();
    assert_eq!(review["category"], "inbox");
    assert!(review["description"].as_str().unwrap().contains("No connected platform emits it yet"));
    let referral = entries.iter().find(|entry| entry["name"] == "dm.referral").unwrap();
    assert_eq!(referral["example"]["data"]["content"]["text"], "", "a referral carries no message");
    assert!(referral["example"]["data"]["metadata"]["referral"].is_object());
}
