//! Connecting Facebook Pages against a fake of Facebook Login and the Graph API as documented:
//! the login dialog, the code then the short-lived token exchanged at `/oauth/access_token` for
//! a long-lived one (no refresh tokens), the user from `/me`, the pages with their page tokens
//! from `/me/accounts` page after page, `DELETE /me/permissions`, and Meta's error bodies.

use std::time::Duration;

use posthorn::adapters::platforms::Facebook;
use posthorn::model::channels::ChannelKind;
use posthorn::model::platforms::ErrorCode;
use posthorn::ports::platforms::{ConnectMethod, Connector, OAuthApp, Profile};
use posthorn_testkit::graph_fake::{TOKEN, auth, client, error_body};
use posthorn_testkit::platforms::{CODE, REDIRECT, STATE, callback, consent, every_channel, oauth_app, query};
use serde_json::json;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USER: &str = "10158000000000001";

fn app() -> OAuthApp {
    oauth_app("fb-app", Some("fb-secret"))
}

fn facebook(server: &MockServer) -> Facebook {
    Facebook::new(client()).with_oauth_base(format!("{}/v25.0", server.uri()))
}

fn user() -> Profile {
    Profile {
        platform_user_id: USER.into(),
        username: "Ada Lovelace".into(),
        display_name: Some("Ada Lovelace".into()),
        avatar_url: None,
        profile_url: None,
    }
}

fn token(access: &str, expires_in: u64) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({ "access_token": access, "token_type": "bearer", "expires_in": expires_in }))
}

/// The Graph API's `oauth/access_token` on the fake, answering the exchange of `short` for `long`.
async fn long_lived_exchange(server: &MockServer, short: &str, long: &str) {
    Mock::given(method("GET"))
        .and(path("/v25.0/oauth/access_token"))
        .and(query_param("grant_type", "fb_exchange_token"))
        .and(query_param("client_id", "fb-app"))
        .and(query_param("client_secret", "fb-secret"))
        .and(query_param("fb_exchange_token", short))
        .respond_with(token(long, 5183944))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_login_dialog_is_at_the_graph_version_and_asks_for_pages() {
    let server = MockServer::start().await;
    let connector = facebook(&server);

    let (page, asked) = consent(&connector, &app(), None).unwrap();

    assert_eq!(page, format!("{}/v25.0/dialog/oauth", server.uri()));
    assert_eq!(
        asked,
        query(&[
            ("client_id", "fb-app"),
            ("redirect_uri", REDIRECT),
            ("state", STATE),
            ("response_type", "code"),
            ("scope", "pages_show_list,pages_read_engagement,pages_manage_posts,business_management"),
        ])
    );
    assert_eq!(connector.method(), ConnectMethod::OAuth { pkce: false });
    assert_eq!(connector.default_base_url(), "https://graph.facebook.com/v25.0");
}

#[tokio::test]
async fn the_code_becomes_a_long_lived_user_token_with_its_granted_permissions() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v25.0/oauth/access_token"))
        .and(query_param("client_id", "fb-app"))
        .and(query_param("redirect_uri", REDIRECT))
        .and(query_param("client_secret", "fb-secret"))
        .and(query_param("code", CODE))
        .respond_with(token("EAAG-short", 5400))
        .expect(1)
        .mount(&server)
        .await;
    long_lived_exchange(&server, "EAAG-short", "EAAG-long").await;
    Mock::given(method("GET"))
        .and(path("/v25.0/me/permissions"))
        .and(query_param("access_token", "EAAG-long"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": [
            { "permission": "pages_show_list", "status": "granted" },
            { "permission": "pages_manage_posts", "status": "granted" },
            { "permission": "business_management", "status": "declined" }
        ] })))
        .expect(1)
        .mount(&server)
        .await;
    let app = app();
    let base = format!("{}/v25.0", server.uri());
    let exchange = callback(&app, &base);

    let grant = facebook(&server).exchange_code(&exchange).await.unwrap();

    assert_eq!(grant.access_token, "EAAG-long");
    assert_eq!((grant.refresh_token, grant.expires_in), (None, Some(Duration::from_secs(5183944))));
    assert_eq!(grant.scopes, ["pages_show_list", "pages_manage_posts"]);
}

#[tokio::test]
async fn a_used_code_says_why() {
    let server = MockServer::start().await;
    let used = error_body("This authorization code has been used.", "OAuthException", 100, Some(36009));
    Mock::given(method("GET"))
        .and(path("/v25.0/oauth/access_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(used))
        .mount(&server)
        .await;
    let app = app();
    let base = format!("{}/v25.0", server.uri());
    let exchange = callback(&app, &base);

    let error = facebook(&server).exchange_code(&exchange).await.unwrap_err();

    assert_eq!(error.message, "This authorization code has been used.");
}

#[tokio::test]
async fn refreshing_exchanges_the_current_token_for_a_new_long_lived_one() {
    let server = MockServer::start().await;
    long_lived_exchange(&server, TOKEN, "EAAG-extended").await;

    let grant = facebook(&server).refresh(&app(), &auth(&server, "v25.0", USER), None).await.unwrap();

    assert_eq!(grant.access_token, "EAAG-extended");
    assert_eq!((grant.refresh_token, grant.expires_in), (None, Some(Duration::from_secs(5183944))));
}

#[tokio::test]
async fn an_expired_token_cannot_be_extended() {
    let server = MockServer::start().await;
    let expired = error_body(
        "Error validating access token: Session has expired on Friday, 20-Nov-26 10:00:00 PST.",
        "OAuthException",
        190,
        Some(463),
    );
    Mock::given(method("GET"))
        .and(path("/v25.0/oauth/access_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(expired))
        .mount(&server)
        .await;

    let error = facebook(&server).refresh(&app(), &auth(&server, "v25.0", USER), None).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::AuthExpired);
    assert!(!error.message.contains(TOKEN));
}

#[tokio::test]
async fn the_profile_is_the_user_with_their_picture() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v25.0/me"))
        .and(query_param("fields", "id,name,picture"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": USER, "name": "Ada Lovelace",
            "picture": { "data": { "height": 50, "is_silhouette": false, "url": "https://scontent.xx.fbcdn.net/ada.jpg", "width": 50 } }
        })))
        .expect(1)
        .mount(&server)
        .await;

    let profile = facebook(&server).profile(&auth(&server, "v25.0", "")).await.unwrap();

    assert_eq!(profile, Profile { avatar_url: Some("https://scontent.xx.fbcdn.net/ada.jpg".into()), ..user() });
}

#[tokio::test]
async fn a_throttled_profile_read_is_rate_limited() {
    let server = MockServer::start().await;
    let throttled = error_body("(#4) Application request limit reached", "OAuthException", 4, None);
    Mock::given(method("GET"))
        .and(path("/v25.0/me"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30").set_body_json(throttled))
        .mount(&server)
        .await;

    let error = facebook(&server).profile(&auth(&server, "v25.0", "")).await.unwrap_err();

    assert_eq!((error.code, error.retry_after), (ErrorCode::RateLimited, Some(Duration::from_secs(30))));
}

fn page(id: &str, name: &str) -> serde_json::Value {
    json!({ "id": id, "name": name, "access_token": format!("EAAG-page-{id}"), "category": "Software",
            "category_list": [{ "id": "2211", "name": "Software" }], "tasks": ["ADVERTISE", "CREATE_CONTENT"] })
}

#[tokio::test]
async fn channels_are_every_page_with_its_own_token_across_pages_of_results() {
    let server = MockServer::start().await;
    let accounts = || {
        Mock::given(method("GET"))
            .and(path("/v25.0/me/accounts"))
            .and(query_param("fields", "id,name,access_token"))
            .and(query_param("access_token", TOKEN))
    };
    accounts()
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [page("111", "Engines"), page("222", "Difference Works")],
            "paging": { "cursors": { "before": "QVFIUjE", "after": "QVFIUjI" },
                        "next": "https://graph.facebook.com/v25.0/10158000000000001/accounts?access_token=EAAG&limit=2&after=QVFIUjI" }
        })))
        .expect(1)
        .mount(&server)
        .await;
    accounts()
        .and(query_param("after", "QVFIUjI"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [page("333", "Jacquard Looms")],
            "paging": { "cursors": { "before": "QVFIUjM", "after": "QVFIUjM" } }
        })))
        .expect(1)
        .mount(&server)
        .await;

    let (channels, pages) = every_channel(&facebook(&server), &auth(&server, "v25.0", ""), &user()).await.unwrap();

    assert_eq!(pages, 2);
    let listed: Vec<_> = channels
        .iter()
        .map(|c| (c.platform_channel_id.as_str(), c.name.as_str(), c.kind, c.channel_token.as_deref()))
        .collect();
    assert_eq!(
        listed,
        [
            ("111", "Engines", ChannelKind::Page, Some("EAAG-page-111")),
            ("222", "Difference Works", ChannelKind::Page, Some("EAAG-page-222")),
            ("333", "Jacquard Looms", ChannelKind::Page, Some("EAAG-page-333")),
        ]
    );
    let debug = format!("{channels:?}");
    assert!(!debug.contains("EAAG-page"), "{debug}");
}

#[tokio::test]
async fn revoking_deletes_the_apps_permissions() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/v25.0/me/permissions"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "success": true })))
        .expect(1)
        .mount(&server)
        .await;

    facebook(&server).revoke(&app(), &auth(&server, "v25.0", USER), None).await.unwrap();
}
