//! Connecting Threads profiles against a fake of the Threads API's documented authorization:
//! the authorization window, the code POSTed to `/oauth/access_token`, the short-lived token
//! exchanged at `/access_token` (`th_exchange_token`) and refreshed at `/refresh_access_token`
//! (`th_refresh_token`), the profile from `/v1.0/me`, and Meta's error bodies.

use std::time::Duration;

use posthorn::adapters::platforms::Threads;
use posthorn::model::channels::ChannelKind;
use posthorn::model::platforms::ErrorCode;
use posthorn::ports::platforms::{Connector, OAuthApp, Profile};
use posthorn_testkit::graph_fake::{TOKEN, auth, client, error_body, form};
use posthorn_testkit::platforms::{CODE, REDIRECT, STATE, callback, consent, form_is, oauth_app, query};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USER: &str = "25025320";

fn app() -> OAuthApp {
    oauth_app("th-app", Some("th-secret"))
}

fn threads(server: &MockServer) -> Threads {
    Threads::new(client()).with_oauth_base(server.uri())
}

fn long_lived(access: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({ "access_token": access, "token_type": "bearer", "expires_in": 5183944 }))
}

#[tokio::test]
async fn the_authorization_window_asks_for_publishing_and_insights() {
    let server = MockServer::start().await;
    let connector = threads(&server);

    let (page, asked) = consent(&connector, &app(), None).unwrap();

    assert_eq!(page, format!("{}/oauth/authorize", server.uri()));
    assert_eq!(
        asked,
        query(&[
            ("client_id", "th-app"),
            ("redirect_uri", REDIRECT),
            (
                "scope",
                "threads_basic,threads_content_publish,threads_manage_insights,threads_delete,threads_read_replies,threads_manage_replies,threads_manage_mentions"
            ),
            ("response_type", "code"),
            ("state", STATE),
        ])
    );
    assert_eq!(connector.default_base_url(), "https://graph.threads.net/v1.0");
}

#[tokio::test]
async fn the_code_becomes_a_long_lived_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/access_token"))
        .and(form_is(&[
            ("client_id", "th-app"),
            ("client_secret", "th-secret"),
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
            ("code", CODE),
        ]))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "access_token": "THQ-short", "user_id": 25025320 })),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/access_token"))
        .and(query_param("grant_type", "th_exchange_token"))
        .and(query_param("client_secret", "th-secret"))
        .and(query_param("access_token", "THQ-short"))
        .respond_with(long_lived("THQ-long"))
        .expect(1)
        .mount(&server)
        .await;
    let app = app();
    let base = format!("{}/v1.0", server.uri());
    let exchange = callback(&app, &base);

    let grant = threads(&server).exchange_code(&exchange).await.unwrap();

    assert_eq!(grant.access_token, "THQ-long");
    assert_eq!((grant.refresh_token, grant.expires_in), (None, Some(Duration::from_secs(5183944))));
}

#[tokio::test]
async fn an_invalid_code_says_why() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/access_token"))
        .and(form("code", CODE))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error_type": "OAuthException", "code": 400, "error_message": "Invalid verification code format"
        })))
        .mount(&server)
        .await;
    let app = app();
    let base = format!("{}/v1.0", server.uri());
    let exchange = callback(&app, &base);

    let error = threads(&server).exchange_code(&exchange).await.unwrap_err();

    assert_eq!(error.message, "Invalid verification code format");
}

#[tokio::test]
async fn refreshing_extends_the_long_lived_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/refresh_access_token"))
        .and(query_param("grant_type", "th_refresh_token"))
        .and(query_param("access_token", TOKEN))
        .respond_with(long_lived("THQ-refreshed"))
        .expect(1)
        .mount(&server)
        .await;

    let grant = threads(&server).refresh(&app(), &auth(&server, "v1.0", USER), None).await.unwrap();

    assert_eq!(grant.access_token, "THQ-refreshed");
    assert_eq!((grant.refresh_token, grant.expires_in), (None, Some(Duration::from_secs(5183944))));
}

#[tokio::test]
async fn an_expired_token_cannot_be_refreshed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/refresh_access_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(error_body(
            "Error validating access token: Session has expired",
            "OAuthException",
            190,
            None,
        )))
        .mount(&server)
        .await;

    let error = threads(&server).refresh(&app(), &auth(&server, "v1.0", USER), None).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::AuthExpired);
}

#[tokio::test]
async fn the_profile_is_the_one_channel() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me"))
        .and(query_param("fields", "id,username,name,threads_profile_picture_url"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": USER, "username": "ada", "name": "Ada Lovelace",
            "threads_profile_picture_url": "https://scontent.cdninstagram.com/ada.jpg"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let auth = auth(&server, "v1.0", "");
    let connector = threads(&server);

    let profile = connector.profile(&auth).await.unwrap();
    let page = connector.list_channels(&auth, &profile, None).await.unwrap();
    assert_eq!(page.next, None, "one page");
    let channels = page.channels;

    assert_eq!(
        profile,
        Profile {
            platform_user_id: USER.into(),
            username: "ada".into(),
            display_name: Some("Ada Lovelace".into()),
            avatar_url: Some("https://scontent.cdninstagram.com/ada.jpg".into()),
            profile_url: Some("https://www.threads.net/@ada".into()),
        }
    );
    let listed: Vec<_> = channels.iter().map(|c| (c.platform_channel_id.as_str(), c.name.as_str(), c.kind)).collect();
    assert_eq!(listed, [(USER, "Ada Lovelace", ChannelKind::Profile)]);
}

#[tokio::test]
async fn a_throttled_profile_read_is_rate_limited() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me"))
        .respond_with(ResponseTemplate::new(429).set_body_json(error_body(
            "Application request limit reached",
            "OAuthException",
            4,
            None,
        )))
        .mount(&server)
        .await;

    let error = threads(&server).profile(&auth(&server, "v1.0", "")).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::RateLimited);
}

#[tokio::test]
async fn revoking_calls_nothing_threads_has_no_revocation() {
    let server = MockServer::start().await;

    threads(&server).revoke(&app(), &auth(&server, "v1.0", USER), None).await.unwrap();

    assert!(server.received_requests().await.unwrap().is_empty());
}
