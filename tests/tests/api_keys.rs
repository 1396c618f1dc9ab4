//! API keys and scopes (SPEC §9): the keys API, a 403 naming the missing scope, keys that
//! cannot grant what they lack, revocation on the next request, and keys stored before scopes
//! existed (which keep every scope and are listed after their first use), on both stores.

use axum::http::{Method, StatusCode};
use posthorn::dev::http_functions;
use posthorn::model::crypto::KeyHash;
use posthorn::model::ids::ApiKeyId;
use posthorn::ports::store::{Condition, Document, Write, api_key_key};
use posthorn_testkit::app::{TestApp, TestOptions};
use posthorn_testkit::on_both_stores;
use posthorn_testkit::stores::{StoreKind, store};
use serde_json::json;

async fn app_on(kind: StoreKind) -> TestApp {
    let options = TestOptions { store: store(kind, "posthorn-keys").await, ..TestOptions::default() };
    TestApp::with_options(http_functions, options).await
}

/// A new key of the app's workspace with these scopes, made through the API.
async fn key_with(app: &TestApp, scopes: &[&str]) -> String {
    let reply = app.call(Method::POST, "/v1/api-keys", Some(json!({"name": "limited", "scopes": scopes}))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body["data"]["key"].as_str().unwrap().to_string()
}

on_both_stores!(
    a_key_is_created_once_listed_without_its_secret_and_revoked_on_the_next_request,
    a_key_without_the_scope_gets_a_403_naming_it,
    a_key_cannot_grant_scopes_it_lacks,
    a_key_stored_before_scopes_keeps_every_scope_and_is_listed_after_its_first_use,
);

async fn a_key_is_created_once_listed_without_its_secret_and_revoked_on_the_next_request(kind: StoreKind) {
    let app = app_on(kind).await;
    let created = app.call(Method::POST, "/v1/api-keys", Some(json!({"name": "ci", "scopes": ["posts:read"]}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let data = &created.body["data"];
    let (id, key) = (data["id"].as_str().unwrap(), data["key"].as_str().unwrap());
    assert!(key.starts_with("phk_"));
    assert_eq!(data["scopes"], json!(["posts:read"]));
    assert_eq!(data["name"], "ci");

    let listed = app.call(Method::GET, "/v1/api-keys", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    let ids: Vec<&str> = listed.body["data"].as_array().unwrap().iter().map(|k| k["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "the first key and the new one: {}", listed.body);
    assert_eq!(ids[0], id, "newest first");
    assert!(!listed.body.to_string().contains(key), "a listing never shows a key");
    assert!(listed.body["data"].as_array().unwrap().iter().all(|k| k.get("key").is_none()));

    assert_eq!(app.send(Method::GET, "/v1/posts", Some(key), None).await.status, StatusCode::OK);
    let revoked = app.call(Method::DELETE, &format!("/v1/api-keys/{id}"), None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{revoked:?}");
    assert_eq!(app.send(Method::GET, "/v1/posts", Some(key), None).await.status, StatusCode::UNAUTHORIZED);
    let again = app.call(Method::DELETE, &format!("/v1/api-keys/{id}"), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    let other = app.other_workspace_key().await;
    let path = format!("/v1/api-keys/{}", first_key_id(&app).await);
    let foreign = app.send(Method::DELETE, &path, Some(&other), None).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "another workspace's key is not found");
}

async fn first_key_id(app: &TestApp) -> String {
    let listed = app.call(Method::GET, "/v1/api-keys", None).await;
    listed.body["data"].as_array().unwrap().last().unwrap()["id"].as_str().unwrap().to_string()
}

async fn a_key_without_the_scope_gets_a_403_naming_it(kind: StoreKind) {
    let app = app_on(kind).await;
    let reader = key_with(&app, &["posts:read"]).await;
    assert_eq!(app.send(Method::GET, "/v1/posts", Some(&reader), None).await.status, StatusCode::OK);
    let body = json!({"text": "hi", "targets": [posthorn::model::ids::ChannelId::new()]}).to_string().into_bytes();
    let write = app.send(Method::POST, "/v1/posts", Some(&reader), Some(body)).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert!(write.error().contains("posts:write"), "{}", write.error());
    for (path, scope) in [
        ("/v1/webhooks", "webhooks:read"),
        ("/v1/connections", "connections:read"),
        ("/v1/automations", "automations:read"),
        ("/v1/interactions", "inbox:read"),
        ("/v1/api-keys", "keys:write"),
    ] {
        let reply = app.send(Method::GET, path, Some(&reader), None).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
        assert!(reply.error().contains(scope), "{path}: {}", reply.error());
    }
    let no_key = app.send(Method::GET, "/v1/posts", None, None).await;
    assert_eq!(no_key.status, StatusCode::UNAUTHORIZED, "no key is a 401 before any scope");
}

async fn a_key_cannot_grant_scopes_it_lacks(kind: StoreKind) {
    let app = app_on(kind).await;
    let manager = key_with(&app, &["keys:write", "posts:read"]).await;
    let grant = |scopes: serde_json::Value| {
        let body = json!({"scopes": scopes}).to_string().into_bytes();
        app.send(Method::POST, "/v1/api-keys", Some(&manager), Some(body))
    };
    let refused = grant(json!(["posts:read", "posts:write"])).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.error().contains("posts:write"), "{}", refused.error());
    let allowed = grant(json!(["posts:read"])).await;
    assert_eq!(allowed.status, StatusCode::CREATED, "{allowed:?}");
    let inherited = app.send(Method::POST, "/v1/api-keys", Some(&manager), Some(b"{}".to_vec())).await;
    assert_eq!(inherited.body["data"]["scopes"], json!(["posts:read", "keys:write"]));
    let bad_bodies = [
        json!({"scopes": []}),
        json!({"scopes": ["posts:admin"]}),
        json!({"name": ""}),
        json!({"x": 1}),
        json!([null, null]),
    ];
    for bad in bad_bodies {
        let reply = app.call(Method::POST, "/v1/api-keys", Some(bad.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {reply:?}");
    }
}

async fn a_key_stored_before_scopes_keeps_every_scope_and_is_listed_after_its_first_use(kind: StoreKind) {
    let app = app_on(kind).await;
    let plaintext = "phk_stored_before_scopes_existed_0123456789abcdef";
    let hash = KeyHash::of(plaintext);
    let id = ApiKeyId::new();
    // The record as the previous release wrote it: no name, no scopes, no index entries.
    let old = Document {
        key: api_key_key(hash.to_hex()),
        version: None,
        expires_at: None,
        first_index: None,
        second_index: None,
        body: json!({"id": id, "workspace_id": app.workspace_id, "hash": hash.to_hex(), "created_at": "2026-01-01T00:00:00Z"}),
    };
    app.store().core().write(Write::Put(old, Condition::Absent)).await.unwrap();

    let ids = |reply: &posthorn_testkit::app::Reply| -> Vec<String> {
        reply.body["data"].as_array().unwrap().iter().map(|k| k["id"].as_str().unwrap().to_string()).collect()
    };
    assert!(!ids(&app.call(Method::GET, "/v1/api-keys", None).await).contains(&id.to_string()));
    for (method, path) in [(Method::GET, "/v1/posts"), (Method::GET, "/v1/webhooks"), (Method::GET, "/v1/api-keys")] {
        let reply = app.send(method, path, Some(plaintext), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
    }
    let listed = app.call(Method::GET, "/v1/api-keys", None).await;
    let entry = listed.body["data"].as_array().unwrap().iter().find(|k| k["id"] == id.to_string()).cloned();
    let entry = entry.unwrap_or_else(|| panic!("the migrated key is listed: {}", listed.body));
    assert_eq!(entry["scopes"].as_array().unwrap().len(), 12, "{entry}");
    let revoked = app.call(Method::DELETE, &format!("/v1/api-keys/{id}"), None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(app.send(Method::GET, "/v1/posts", Some(plaintext), None).await.status, StatusCode::UNAUTHORIZED);
}
