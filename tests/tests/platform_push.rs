//! Platform push (issue 16, SPEC §8) on both stores, through the platform-webhooks routes with
//! signatures computed here with the app secret, over the documented bodies: Meta's
//! subscription check, a Page's DM and comment and a DM's delivery, Instagram comments, X's CRC
//! and its mention and DM events arrive as signed inbox events; a delivery the platform retries
//! fires nothing twice; a bad or missing signature is a 401 and stores nothing; entries of kinds
//! Posthorn does not read are counted, never an error. Meta's deauthorize and data-deletion
//! callbacks, with `signed_request`s built as Meta builds them, revoke the account's connections
//! or delete what Posthorn keeps for it, once however often Meta retries.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use base64::Engine;
use hmac::{Hmac, Mac};
use posthorn::adapters::platforms::push::MetaAppSecret;
use posthorn::config::PushSecrets;
use posthorn::model::connections::ConnectionStatus;
use posthorn::model::platforms::Platform;
use posthorn::services::connections::revoke::delete_account_data;
use posthorn_testkit::app::{Reply, TestApp, TestOptions};
use posthorn_testkit::on_both_stores;
use posthorn_testkit::receiver::Receiver;
use posthorn_testkit::stores::{StoreKind, store};
use serde_json::{Value, json};
use sha2::Sha256;

const META_SECRET: &str = "6c8e1f0a2b3d4e5f60718293a4b5c6d7";
const X_SECRET: &str = "x-consumer-secret-of-the-app";
const VERIFY_TOKEN: &str = "meta-verify-token";
const PAGE: &str = "104857";
const X_USER: &str = "2244994945";
const WAIT: Duration = Duration::from_secs(30);

fn hmac(key: &str, body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

struct Fixture {
    app: TestApp,
    receiver: Receiver,
}

async fn fixture(kind: StoreKind) -> Fixture {
    let push = PushSecrets {
        meta_verify_token: Some(VERIFY_TOKEN.into()),
        meta_app_secrets: vec![
            MetaAppSecret { platform: Platform::Threads, secret: "another-app-secret".into() },
            MetaAppSecret { platform: Platform::Facebook, secret: META_SECRET.into() },
        ],
        x_consumer_secret: Some(X_SECRET.into()),
    };
    let options =
        TestOptions { store: store(kind, "posthorn-push").await, push: Some(push), ..TestOptions::receiving() };
    let app = TestApp::with_options(
        || {
            vec![
                posthorn::api::webhooks::routes(),
                posthorn::api::inbox::inbox_routes(),
                posthorn::api::platform_webhooks::platform_webhooks_routes(),
                posthorn::api::posts::routes(),
            ]
        },
        options,
    )
    .await;
    let receiver = app.watched().await;
    Fixture { app, receiver }
}

impl Fixture {
    /// POSTs `body` to a push route with `signature` in `header` (no API key: the routes are public).
    async fn push(&self, route: &str, header: &str, signature: Option<String>, body: &Value) -> Reply {
        let mut request =
            axum::http::Request::builder().method(Method::POST).uri(route).header("content-type", "application/json");
        if let Some(signature) = signature {
            request = request.header(header, signature);
        }
        self.app.request(request.body(axum::body::Body::from(body.to_string())).unwrap()).await
    }

    async fn meta(&self, body: &Value) -> Reply {
        let signature = format!("sha256={}", hex::encode(hmac(META_SECRET, body.to_string().as_bytes())));
        self.push("/platform-webhooks/v1/meta", "x-hub-signature-256", Some(signature), body).await
    }

    async fn x(&self, body: &Value) -> Reply {
        let signature = base64::engine::general_purpose::STANDARD.encode(hmac(X_SECRET, body.to_string().as_bytes()));
        self.push("/platform-webhooks/v1/x", "x-twitter-webhooks-signature", Some(format!("sha256={signature}")), body)
            .await
    }

    /// POSTs a Meta callback's form body: `signed_request`, signed with `secret`.
    async fn callback(&self, route: &str, secret: &str, user_id: &str) -> Reply {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = json!({"algorithm": "HMAC-SHA256", "expires": 1291840400, "issued_at": 1291836800,
            "user_id": user_id});
        let payload = b64.encode(payload.to_string());
        let signed_request = format!("{}.{payload}", b64.encode(hmac(secret, payload.as_bytes())));
        let request = axum::http::Request::builder()
            .method(Method::POST)
            .uri(route)
            .header("host", "push.posthorn.example")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(format!("signed_request={signed_request}")))
            .unwrap();
        self.app.request(request).await
    }

    async fn interactions(&self) -> Vec<Value> {
        let reply = self.app.call(Method::GET, "/v1/interactions?limit=100", None).await;
        reply.body["data"].as_array().unwrap().clone()
    }
}

fn page_push() -> Value {
    json!({"object": "page", "entry": [{"id": PAGE, "time": 1458692752478_i64,
        "messaging": [
            {"sender": {"id": "2401"}, "recipient": {"id": PAGE}, "timestamp": 1458692752478_i64,
             "message": {"mid": "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM", "text": "hello, world!"}},
            {"sender": {"id": "2401"}, "recipient": {"id": PAGE}, "timestamp": 1458692753000_i64,
             "delivery": {"mids": ["m_AG5Hz2Uq7tuwNEhXfYYKj8mJEN"], "watermark": 1458668856253_i64}},
            {"sender": {"id": "2401"}, "recipient": {"id": PAGE}, "timestamp": 1458692753000_i64,
             "postback": {"title": "Get started", "payload": "START"}}],
        "changes": [{"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "104857_9_1",
            "post_id": "104857_9", "parent_id": "104857_9", "from": {"id": "77", "name": "Ada"},
            "message": "Nice!", "created_time": 1458692752}}]}]})
}

on_both_stores!(
    a_signed_meta_push_arrives_once_however_often_it_is_retried,
    unsigned_or_missigned_pushes_are_refused_and_store_nothing,
    the_subscription_checks_answer_only_the_configured_secrets,
    x_mentions_and_dms_arrive_for_the_subscribed_user,
    meta_deauthorize_revokes_the_accounts_connections_once,
    meta_data_deletion_deletes_the_account_and_shows_its_status,
    a_data_deletion_cut_short_is_finished_by_process_queue,
    a_data_deletion_purges_more_interactions_than_one_transaction_holds,
    a_threads_reply_push_signed_with_the_threads_secret_arrives_as_a_comment,
    a_facebook_read_receipt_marks_read_the_dms_sent_up_to_its_watermark_once,
);

async fn a_signed_meta_push_arrives_once_however_often_it_is_retried(kind: StoreKind) {
    let f = fixture(kind).await;
    let page = f.app.channel_on(Platform::Facebook, PAGE, ConnectionStatus::Active).await;

    let first = f.meta(&page_push()).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_eq!(
        first.body["data"],
        json!({"stored": 2, "duplicates": 0, "statuses": 1, "unknown_accounts": 0, "ignored": 1})
    );
    let dm = &f.receiver.events("dm.received", 1, WAIT).await[0]["data"];
    assert_eq!(dm["platform"], "facebook");
    assert_eq!(dm["channel_id"], page.id.to_string());
    assert_eq!(dm["content"]["text"], "hello, world!");
    let comment = &f.receiver.events("comment.received", 1, WAIT).await[0]["data"];
    assert_eq!(comment["platform_id"], "104857_9_1");
    assert_eq!(comment["author"]["name"], "Ada");
    let status = &f.receiver.events("dm.status.delivered", 1, WAIT).await[0]["data"];
    assert!(status["interaction_id"].as_str().unwrap().starts_with("int_"));
    assert_eq!(status["status"], "delivered");

    let retried = f.meta(&page_push()).await;
    assert_eq!(retried.status, StatusCode::OK, "{retried:?}");
    assert_eq!(retried.body["data"]["duplicates"], 3, "Meta's retry is recognised: {}", retried.body);
    assert_eq!(retried.body["data"]["statuses"], 0, "the delivery receipt fires once: {}", retried.body);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(f.receiver.events("dm.received", 1, WAIT).await.len(), 1, "no second dm.received");
    assert_eq!(f.interactions().await.len(), 2);

    let instagram = json!({"object": "instagram", "entry": [{"id": "17841400", "time": 1569262486,
        "changes": [{"field": "comments", "value": {"id": "17865799348089039", "text": "This is an example.",
            "from": {"id": "232323232", "username": "ada"}, "media": {"id": "123123123"}}}]}]});
    let unknown = f.meta(&instagram).await;
    assert_eq!(unknown.body["data"]["unknown_accounts"], 1, "no workspace connected that account: {}", unknown.body);
}

async fn unsigned_or_missigned_pushes_are_refused_and_store_nothing(kind: StoreKind) {
    let f = fixture(kind).await;
    f.app.channel_on(Platform::Facebook, PAGE, ConnectionStatus::Active).await;
    let body = page_push();
    let wrong_key = format!("sha256={}", hex::encode(hmac("not-the-secret", body.to_string().as_bytes())));
    let other_body = format!("sha256={}", hex::encode(hmac(META_SECRET, b"{}")));
    for signature in [None, Some(wrong_key), Some(other_body), Some("sha256=zz".into())] {
        let reply = f.push("/platform-webhooks/v1/meta", "x-hub-signature-256", signature.clone(), &body).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{signature:?}: {reply:?}");
        assert!(reply.error().contains("X-Hub-Signature-256"), "{}", reply.error());
    }
    let x_body = json!({"for_user_id": X_USER, "tweet_create_events": []});
    let reply =
        f.push("/platform-webhooks/v1/x", "x-twitter-webhooks-signature", Some("sha256=AAAA".into()), &x_body).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    assert!(f.interactions().await.is_empty(), "nothing stored");

    let garbage = json!(["not", "a", "payload"]);
    let reply = f.meta(&garbage).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "signed but not Meta's shape: {reply:?}");
}

async fn the_subscription_checks_answer_only_the_configured_secrets(kind: StoreKind) {
    let f = fixture(kind).await;
    let verify = |token: &str| {
        format!("/platform-webhooks/v1/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}")
    };
    let ok = f.app.send(Method::GET, &verify(VERIFY_TOKEN), None, None).await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    assert_eq!(ok.body, json!(1158201444), "the challenge, echoed");
    let wrong = f.app.send(Method::GET, &verify("guess"), None, None).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{wrong:?}");
    let no_mode = f
        .app
        .send(Method::GET, "/platform-webhooks/v1/meta?hub.challenge=1&hub.verify_token=meta-verify-token", None, None)
        .await;
    assert_eq!(no_mode.status, StatusCode::FORBIDDEN);

    let crc = f.app.send(Method::GET, "/platform-webhooks/v1/x?crc_token=challenge-from-x", None, None).await;
    assert_eq!(crc.status, StatusCode::OK, "{crc:?}");
    let expected = base64::engine::general_purpose::STANDARD.encode(hmac(X_SECRET, b"challenge-from-x"));
    assert_eq!(crc.body["response_token"], format!("sha256={expected}"));
    let missing = f.app.send(Method::GET, "/platform-webhooks/v1/x", None, None).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
}

async fn x_mentions_and_dms_arrive_for_the_subscribed_user(kind: StoreKind) {
    let f = fixture(kind).await;
    f.app.channel_on(Platform::X, X_USER, ConnectionStatus::Active).await;
    let body = json!({
        "for_user_id": X_USER,
        "tweet_create_events": [{"id_str": "1050118621198921728", "created_at": "Wed Oct 10 20:19:24 +0000 2018",
            "text": "@XDevelopers thanks!", "in_reply_to_status_id_str": "1050118621198921700",
            "in_reply_to_user_id_str": X_USER,
            "user": {"id_str": "6253282", "name": "Ada", "screen_name": "ada"}}],
        "direct_message_events": [{"type": "message_create", "id": "954491830116155396",
            "created_timestamp": "1516403560557",
            "message_create": {"target": {"recipient_id": X_USER}, "sender_id": "3001969357",
                "message_data": {"text": "Hello World!"}}}],
        "favorite_events": [{"id": "a7ba59eab0bfcba386f7acedac279542"}]
    });
    let reply = f.x(&body).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["data"]["stored"], 2);
    assert_eq!(reply.body["data"]["ignored"], 1);
    assert_eq!(f.receiver.events("comment.received", 1, WAIT).await[0]["data"]["author"]["username"], "ada");
    assert_eq!(f.receiver.events("dm.received", 1, WAIT).await[0]["data"]["content"]["text"], "Hello World!");
    assert_eq!(f.x(&body).await.body["data"]["duplicates"], 2);
}

/// A platform account id no other test uses (the DynamoDB table is shared).
fn unique_user() -> String {
    (100_000_000 + u64::from(ulid::Ulid::new().random() as u32)).to_string()
}

async fn meta_deauthorize_revokes_the_accounts_connections_once(kind: StoreKind) {
    let f = fixture(kind).await;
    let user = unique_user();
    let page = f.app.channel_of_user(Platform::Facebook, &user, PAGE, ConnectionStatus::Active).await;

    let forged = f.callback("/platform-webhooks/v1/meta/deauthorize", "not-the-secret", &user).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED, "{forged:?}");
    let stored = f.app.store().get_connection(page.workspace_id, page.connection_id).await.unwrap().unwrap();
    assert_eq!(stored.status, ConnectionStatus::Active, "a forged callback changes nothing");

    let reply = f.callback("/platform-webhooks/v1/meta/deauthorize", META_SECRET, &user).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["data"]["revoked"], 1);
    let event = &f.receiver.events("account.disconnected", 1, WAIT).await[0]["data"];
    assert_eq!(event["account_id"], page.connection_id.to_string());
    assert_eq!(event["reason"], "revoked_on_platform");
    let stored = f.app.store().get_connection(page.workspace_id, page.connection_id).await.unwrap().unwrap();
    assert_eq!(stored.status, ConnectionStatus::Revoked);

    let retried = f.callback("/platform-webhooks/v1/meta/deauthorize", META_SECRET, &user).await;
    assert_eq!(retried.body["data"]["revoked"], 0, "Meta's retry revokes nothing more: {retried:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(f.receiver.events("account.disconnected", 1, WAIT).await.len(), 1, "one event");

    let post = json!({"text": "hello", "targets": [page.id]});
    let refused = f.app.call(Method::POST, "/v1/posts", Some(post)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{refused:?}");
    assert!(refused.body.to_string().contains("reconnect"), "{}", refused.body);
}

async fn meta_data_deletion_deletes_the_account_and_shows_its_status(kind: StoreKind) {
    let f = fixture(kind).await;
    let user = unique_user();
    let page = f.app.channel_of_user(Platform::Facebook, &user, PAGE, ConnectionStatus::Active).await;
    assert_eq!(f.meta(&page_push()).await.body["data"]["stored"], 2);
    assert_eq!(f.interactions().await.len(), 2);

    let reply = f.callback("/platform-webhooks/v1/meta/data-deletion", META_SECRET, &user).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let code = reply.body["confirmation_code"].as_str().unwrap().to_string();
    assert!(code.starts_with("del_"), "{code}");
    let url = reply.body["url"].as_str().unwrap();
    assert_eq!(url, format!("https://push.posthorn.example/platform-webhooks/v1/meta/data-deletion/{code}"));

    let store = f.app.store();
    assert_eq!(store.get_connection(page.workspace_id, page.connection_id).await.unwrap(), None);
    assert_eq!(store.get_channel(page.workspace_id, page.id).await.unwrap(), None);
    assert!(f.interactions().await.is_empty(), "the interactions received on the page are deleted");
    let event = &f.receiver.events("account.disconnected", 1, WAIT).await[0]["data"];
    assert_eq!((event["reason"].as_str(), event["data_deleted"].as_bool()), (Some("revoked_on_platform"), Some(true)));

    let status = f.app.send(Method::GET, &format!("/platform-webhooks/v1/meta/data-deletion/{code}"), None, None).await;
    assert_eq!(status.status, StatusCode::OK, "{status:?}");
    let page_text = status.body.as_str().unwrap();
    assert!(page_text.contains("Your data has been deleted"), "{page_text}");
    assert!(page_text.contains("1 connected account(s) and 2 received"), "{page_text}");
    let unknown = f.app.send(Method::GET, "/platform-webhooks/v1/meta/data-deletion/del_nothing", None, None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let forged = f.callback("/platform-webhooks/v1/meta/data-deletion", "not-the-secret", &user).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
}

async fn a_data_deletion_cut_short_is_finished_by_process_queue(kind: StoreKind) {
    let f = fixture(kind).await;
    let user = unique_user();
    let page = f.app.channel_of_user(Platform::Facebook, &user, PAGE, ConnectionStatus::Active).await;
    f.meta(&page_push()).await;
    let accounts = f.app.state.accounts();
    let past = tokio::time::Instant::now();
    let deletion = delete_account_data(&accounts, Platform::Facebook, &user, past).await.unwrap();
    assert_eq!(deletion.completed_at, None, "its deadline had passed: {deletion:?}");
    assert_eq!(deletion.connections_deleted, 1);
    assert_eq!(f.app.store().get_connection(page.workspace_id, page.connection_id).await.unwrap(), None);
    assert_eq!(f.interactions().await.len(), 2, "not purged yet");

    posthorn::jobs::process_queue(&f.app.state).await.unwrap();
    let done = f.app.store().get_data_deletion(&deletion.code).await.unwrap().unwrap();
    assert!(done.completed_at.is_some(), "{done:?}");
    assert_eq!((done.interactions_deleted, done.platform_user_id), (2, None));
    assert!(f.interactions().await.is_empty());
}

async fn a_threads_reply_push_signed_with_the_threads_secret_arrives_as_a_comment(kind: StoreKind) {
    let f = fixture(kind).await;
    let account = unique_user();
    let channel = f.app.channel_on(Platform::Threads, &account, ConnectionStatus::Active).await;
    let body = json!({"app_id": "123456", "topic": "moderate", "target_id": "17841400000000001", "time": 1788249976,
        "subscription_id": "234567", "has_uid_field": false,
        "values": [{"field": "replies", "value": {"id": "17800000000000002", "username": "ada", "text": "Great post!",
            "media_type": "TEXT_POST", "permalink": "https://www.threads.com/@ada/post/ABC",
            "replied_to": {"id": "17841400000000001"},
            "root_post": {"id": "17841400000000001", "owner_id": account, "username": "posthorn"},
            "shortcode": "ABC", "timestamp": "2026-09-01T08:06:09+0000"}}]});
    // The fixture's Threads app secret.
    let signature = format!("sha256={}", hex::encode(hmac("another-app-secret", body.to_string().as_bytes())));
    let reply = f.push("/platform-webhooks/v1/meta", "x-hub-signature-256", Some(signature), &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["data"]["stored"], 1, "{}", reply.body);
    let comment = &f.receiver.events("comment.received", 1, WAIT).await[0]["data"];
    assert_eq!(
        (comment["platform"].as_str(), comment["channel_id"].as_str()),
        (Some("threads"), Some(channel.id.to_string().as_str()))
    );
    assert_eq!(comment["content"]["text"], "Great post!");
}

async fn a_facebook_read_receipt_marks_read_the_dms_sent_up_to_its_watermark_once(kind: StoreKind) {
    let f = fixture(kind).await;
    let page = unique_user();
    f.app.channel_on(Platform::Facebook, &page, ConnectionStatus::Active).await;
    let now = time::OffsetDateTime::now_utc();
    let millis = |at: time::OffsetDateTime| (at.unix_timestamp_nanos() / 1_000_000) as i64;
    let echo = |mid: &str, to: &str, at: time::OffsetDateTime| {
        json!({"sender": {"id": page}, "recipient": {"id": to}, "timestamp": millis(at),
            "message": {"mid": mid, "text": "Thanks for writing!", "is_echo": true}})
    };
    let sent = json!({"object": "page", "entry": [{"id": page, "time": millis(now), "messaging": [
        echo("m_read", "2401", now - time::Duration::minutes(10)),
        echo("m_later", "2401", now + time::Duration::minutes(10)),
        echo("m_other_reader", "2402", now - time::Duration::minutes(10))]}]});
    assert_eq!(f.meta(&sent).await.body["data"]["stored"], 3);
    assert_eq!(f.receiver.events("dm.sent", 3, WAIT).await.len(), 3);

    let read = json!({"object": "page", "entry": [{"id": page, "time": millis(now), "messaging": [
        {"sender": {"id": "2401"}, "recipient": {"id": page}, "timestamp": millis(now),
         "read": {"watermark": millis(now)}}]}]});
    let first = f.meta(&read).await;
    assert_eq!(first.body["data"]["statuses"], 1, "only the DM to that reader before the watermark: {}", first.body);
    let status = &f.receiver.events("dm.status.read", 1, WAIT).await[0]["data"];
    let read_dm = f.interactions().await.into_iter().find(|i| i["platform_id"] == "m_read").unwrap();
    assert_eq!(status["interaction_id"], read_dm["id"]);

    let again = f.meta(&read).await;
    assert_eq!(
        (again.body["data"]["statuses"].as_u64(), again.body["data"]["duplicates"].as_u64()),
        (Some(0), Some(1))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(f.receiver.events("dm.status.read", 1, WAIT).await.len(), 1, "one dm.status.read");
}

/// DynamoDB writes at most 100 items a transaction: 150 interactions take two.
async fn a_data_deletion_purges_more_interactions_than_one_transaction_holds(kind: StoreKind) {
    let f = fixture(kind).await;
    let user = unique_user();
    let page = unique_user();
    f.app.channel_of_user(Platform::Facebook, &user, &page, ConnectionStatus::Active).await;
    let messages: Vec<Value> = (0..150)
        .map(|n| {
            json!({"sender": {"id": "2401"}, "recipient": {"id": page}, "timestamp": 1458692752478_i64 + n,
                "message": {"mid": format!("m_{n}"), "text": format!("message {n}")}})
        })
        .collect();
    let push = json!({"object": "page", "entry": [{"id": page, "time": 1458692752478_i64, "messaging": messages}]});
    assert_eq!(f.meta(&push).await.body["data"]["stored"], 150);

    let reply = f.callback("/platform-webhooks/v1/meta/data-deletion", META_SECRET, &user).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let code = reply.body["confirmation_code"].as_str().unwrap();
    let deletion = f.app.store().get_data_deletion(code).await.unwrap().unwrap();
    assert!(deletion.completed_at.is_some(), "{deletion:?}");
    assert_eq!(deletion.interactions_deleted, 150);
    assert!(f.interactions().await.is_empty());
}
