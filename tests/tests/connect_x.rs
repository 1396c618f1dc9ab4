//! Connecting X accounts against a fake of X's OAuth 2.0 endpoints as documented: the consent
//! URL with PKCE, `POST /2/oauth2/token` for codes and for single-use refresh tokens (HTTP Basic
//! for confidential clients, `client_id` in the form for public ones), `GET /2/users/me`,
//! `POST /2/oauth2/revoke`, and OAuth error bodies mapped to stable codes.

use std::time::Duration;

use posthorn::adapters::platforms::X;
use posthorn::model::channels::ChannelKind;
use posthorn::model::platforms::ErrorCode;
use posthorn::ports::platforms::{CodeExchange, ConnectMethod, Connector, OAuthApp, Profile};
use posthorn_testkit::platforms::{
    BEARER, CODE, REDIRECT, STATE, TOKEN, callback, channel, consent, form_is, oauth_app, outbound, query,
};
use serde_json::json;
use time::OffsetDateTime;
use wiremock::matchers::{header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Basic `x-client:x-secret`.
const BASIC: &str = "Basic eC1jbGllbnQ6eC1zZWNyZXQ=";

fn confidential() -> OAuthApp {
    oauth_app("x-client", Some("x-secret"))
}

fn x(server: &MockServer) -> X {
    X::new(outbound()).with_oauth_base(server.uri())
}

fn tokens(access: &str, refresh: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "token_type": "bearer", "expires_in": 7200, "access_token": access,
        "scope": "tweet.write users.read tweet.read offline.access media.write", "refresh_token": refresh
    }))
}

fn oauth_error(error: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({ "error": error, "error_description": description }))
}

/// The callback with the verifier of the challenge sent to consent.
fn exchange<'a>(server: &'a str, app: &'a OAuthApp) -> CodeExchange<'a> {
    CodeExchange { pkce_verifier: Some("verifier-456"), ..callback(app, server) }
}

#[tokio::test]
async fn the_consent_url_asks_for_posting_scopes_with_an_s256_challenge() {
    let server = MockServer::start().await;
    let connector = x(&server);

    let (page, asked) = consent(&connector, &confidential(), Some("challenge-abc")).unwrap();

    assert_eq!(page, format!("{}/i/oauth2/authorize", server.uri()));
    assert_eq!(
        asked,
        query(&[
            ("response_type", "code"),
            ("client_id", "x-client"),
            ("redirect_uri", REDIRECT),
            ("scope", "tweet.read tweet.write users.read offline.access media.write dm.read dm.write"),
            ("state", STATE),
            ("code_challenge", "challenge-abc"),
            ("code_challenge_method", "S256"),
        ])
    );
    assert_eq!(connector.method(), ConnectMethod::OAuth { pkce: true });
    assert_eq!(connector.default_base_url(), "https://api.x.com");
}

#[tokio::test]
async fn consent_without_a_challenge_is_refused() {
    let error = consent(&X::new(outbound()), &confidential(), None).unwrap_err();

    assert!(error.message.contains("PKCE"), "{error:?}");
}

#[tokio::test]
async fn a_confidential_client_exchanges_the_code_and_verifier_with_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .and(header("authorization", BASIC))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(form_is(&[
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "verifier-456"),
        ]))
        .respond_with(tokens("access-1", "refresh-1"))
        .expect(1)
        .mount(&server)
        .await;
    let app = confidential();

    let grant = x(&server).exchange_code(&exchange(&server.uri(), &app)).await.unwrap();

    assert_eq!(grant.access_token, "access-1");
    assert_eq!(grant.refresh_token.as_deref(), Some("refresh-1"));
    assert_eq!(grant.expires_in, Some(Duration::from_secs(7200)));
    assert_eq!(grant.scopes, ["tweet.write", "users.read", "tweet.read", "offline.access", "media.write"]);
    let debug = format!("{grant:?}");
    assert!(!debug.contains("access-1") && !debug.contains("refresh-1"), "{debug}");
}

#[tokio::test]
async fn a_public_client_names_itself_in_the_form_without_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .and(form_is(&[
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "verifier-456"),
            ("client_id", "x-public"),
        ]))
        .respond_with(tokens("access-1", "refresh-1"))
        .expect(1)
        .mount(&server)
        .await;
    let app = oauth_app("x-public", None);

    let grant = x(&server).exchange_code(&exchange(&server.uri(), &app)).await.unwrap();

    assert_eq!(grant.access_token, "access-1");
}

#[tokio::test]
async fn a_rejected_code_says_why() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .respond_with(oauth_error("invalid_request", "Value passed for the authorization code was invalid."))
        .mount(&server)
        .await;
    let app = confidential();

    let error = x(&server).exchange_code(&exchange(&server.uri(), &app)).await.unwrap_err();

    assert_eq!(error.message, "invalid_request: Value passed for the authorization code was invalid.");
    assert!(!error.message.contains(CODE) && !error.message.contains("verifier-456"));
}

#[tokio::test]
async fn refreshing_spends_the_refresh_token_and_returns_the_next_one() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .and(header("authorization", BASIC))
        .and(form_is(&[("grant_type", "refresh_token"), ("refresh_token", "refresh-1")]))
        .respond_with(tokens("access-2", "refresh-2"))
        .expect(1)
        .mount(&server)
        .await;

    let grant = x(&server).refresh(&confidential(), &channel(&server, ""), Some("refresh-1")).await.unwrap();

    assert_eq!((grant.access_token.as_str(), grant.refresh_token.as_deref()), ("access-2", Some("refresh-2")));
}

#[tokio::test]
async fn a_spent_refresh_token_is_an_expired_connection() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .respond_with(oauth_error("invalid_request", "Value passed for the token was invalid."))
        .mount(&server)
        .await;

    let error = x(&server).refresh(&confidential(), &channel(&server, ""), Some("refresh-1")).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::AuthExpired);
    assert_eq!(error.message, "invalid_request: Value passed for the token was invalid.");
}

#[tokio::test]
async fn a_refused_client_is_a_configuration_error_not_an_expired_connection() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({ "error": "unauthorized_client", "error_description": "Missing valid authorization header" }),
        ))
        .mount(&server)
        .await;

    let error = x(&server).refresh(&confidential(), &channel(&server, ""), Some("refresh-1")).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::PlatformError);
}

#[tokio::test]
async fn token_answers_in_an_undocumented_shape_never_reach_the_error() {
    let server = MockServer::start().await;
    let leaked = ["access-LEAKED", "refresh-LEAKED", "x-secret"];
    let form_encoded = format!("access_token={}&refresh_token={}&token_type=bearer", leaked[0], leaked[1]);
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(form_encoded))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let debug_page = format!("<pre>client_secret={} access_token={}</pre>", leaked[2], leaked[0]);
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .respond_with(ResponseTemplate::new(400).set_body_string(debug_page))
        .mount(&server)
        .await;

    for _ in 0..2 {
        let error = x(&server).refresh(&confidential(), &channel(&server, ""), Some("refresh-1")).await.unwrap_err();
        for secret in leaked {
            assert!(!error.message.contains(secret), "{secret} in {:?}", error.message);
        }
    }
}

#[tokio::test]
async fn without_a_refresh_token_the_user_must_reconnect() {
    let server = MockServer::start().await;

    let error = x(&server).refresh(&confidential(), &channel(&server, ""), None).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::AuthExpired);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_profile_is_the_authenticated_user_and_its_one_channel() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/users/me"))
        .and(query_param("user.fields", "profile_image_url,name,username"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": {
            "id": "2244994945", "name": "Developers", "username": "XDevelopers",
            "profile_image_url": "https://pbs.twimg.com/profile_images/1/normal.jpg"
        } })))
        .expect(1)
        .mount(&server)
        .await;
    let auth = channel(&server, "");
    let connector = x(&server);

    let profile = connector.profile(&auth).await.unwrap();
    let page = connector.list_channels(&auth, &profile, None).await.unwrap();
    assert_eq!(page.next, None, "one page");
    let channels = page.channels;

    assert_eq!(
        profile,
        Profile {
            platform_user_id: "2244994945".into(),
            username: "XDevelopers".into(),
            display_name: Some("Developers".into()),
            avatar_url: Some("https://pbs.twimg.com/profile_images/1/normal.jpg".into()),
            profile_url: Some("https://x.com/XDevelopers".into()),
        }
    );
    assert_eq!(channels.len(), 1);
    let only = &channels[0];
    assert_eq!((only.platform_channel_id.as_str(), only.name.as_str()), ("2244994945", "Developers"));
    assert_eq!((only.kind, only.channel_token.as_deref()), (ChannelKind::Profile, None));
}

#[tokio::test]
async fn a_rate_limited_profile_read_says_when_to_retry() {
    let server = MockServer::start().await;
    let reset = OffsetDateTime::now_utc().unix_timestamp() + 120;
    Mock::given(method("GET"))
        .and(path("/2/users/me"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-rate-limit-reset", reset.to_string())
                .set_body_json(json!({ "title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429 })),
        )
        .mount(&server)
        .await;

    let error = x(&server).profile(&channel(&server, "")).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::RateLimited);
    let wait = error.retry_after.unwrap();
    assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120), "{wait:?}");
}

#[tokio::test]
async fn revoking_sends_the_access_token_with_its_type() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/oauth2/revoke"))
        .and(header("authorization", BASIC))
        .and(form_is(&[("token", TOKEN), ("token_type_hint", "access_token")]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "revoked": true })))
        .expect(1)
        .mount(&server)
        .await;
    x(&server).revoke(&confidential(), &channel(&server, ""), None).await.unwrap();
}
