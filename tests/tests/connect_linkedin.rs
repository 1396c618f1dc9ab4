//! Connecting LinkedIn members against a fake of LinkedIn's documented OAuth and API endpoints:
//! consent and tokens on the `/oauth/v2` host (client credentials in the form, refresh tokens
//! present or absent), the OpenID Connect userinfo, the organizations the member administers
//! with their names, revocation, and both OAuth and API error bodies.

use std::time::Duration;

use posthorn::adapters::platforms::Linkedin;
use posthorn::model::channels::ChannelKind;
use posthorn::model::platforms::ErrorCode;
use posthorn::ports::platforms::{Connector, OAuthApp, Profile};
use posthorn_testkit::platforms::{
    BEARER, CODE, REDIRECT, STATE, TOKEN, callback, channel, consent, every_channel, form_is, oauth_app, outbound,
    query,
};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn app() -> OAuthApp {
    oauth_app("li-client", Some("li-secret"))
}

fn linkedin(server: &MockServer) -> Linkedin {
    Linkedin::new(outbound()).with_oauth_base(server.uri())
}

fn member() -> Profile {
    Profile {
        platform_user_id: "782bbtaQ".into(),
        username: "Ada Lovelace".into(),
        display_name: Some("Ada Lovelace".into()),
        avatar_url: None,
        profile_url: None,
    }
}

#[tokio::test]
async fn the_consent_url_names_the_client_redirect_state_and_scopes() {
    let server = MockServer::start().await;
    let connector = linkedin(&server).with_scopes("openid profile w_member_social w_organization_social");

    let (page, asked) = consent(&connector, &app(), Some("ignored-challenge")).unwrap();

    assert_eq!(page, format!("{}/oauth/v2/authorization", server.uri()));
    assert_eq!(
        asked,
        query(&[
            ("response_type", "code"),
            ("client_id", "li-client"),
            ("redirect_uri", REDIRECT),
            ("state", STATE),
            ("scope", "openid profile w_member_social w_organization_social"),
        ])
    );
}

#[tokio::test]
async fn the_code_is_exchanged_with_the_client_credentials_in_the_form() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/accessToken"))
        .and(form_is(&[
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("redirect_uri", REDIRECT),
            ("client_id", "li-client"),
            ("client_secret", "li-secret"),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "AQX-access", "expires_in": 5183999, "scope": "openid,profile,w_member_social",
            "token_type": "Bearer", "id_token": "eyJ0eXAi"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let app = app();

    let grant = linkedin(&server).exchange_code(&callback(&app, "https://api.linkedin.com")).await.unwrap();

    assert_eq!(grant.access_token, "AQX-access");
    assert_eq!(grant.refresh_token, None);
    assert_eq!(grant.expires_in, Some(Duration::from_secs(5183999)));
    assert_eq!(grant.scopes, ["openid", "profile", "w_member_social"]);
}

#[tokio::test]
async fn an_expired_code_says_why() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/accessToken"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant",
            "error_description": "The provided authorization grant or refresh token is invalid, expired or revoked."
        })))
        .mount(&server)
        .await;
    let app = app();

    let error = linkedin(&server).exchange_code(&callback(&app, "https://api.linkedin.com")).await.unwrap_err();

    assert_eq!(
        error.message,
        "invalid_grant: The provided authorization grant or refresh token is invalid, expired or revoked."
    );
}

#[tokio::test]
async fn approved_apps_refresh_with_their_refresh_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/accessToken"))
        .and(form_is(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "AQW-refresh"),
            ("client_id", "li-client"),
            ("client_secret", "li-secret"),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "AQX-new", "expires_in": 5183999, "refresh_token": "AQW-refresh",
            "refresh_token_expires_in": 26352000, "scope": "openid,profile,w_member_social"
        })))
        .expect(1)
        .mount(&server)
        .await;

    let grant = linkedin(&server).refresh(&app(), &channel(&server, ""), Some("AQW-refresh")).await.unwrap();

    assert_eq!((grant.access_token.as_str(), grant.refresh_token.as_deref()), ("AQX-new", Some("AQW-refresh")));
}

#[tokio::test]
async fn without_a_refresh_token_the_member_must_reconnect() {
    let server = MockServer::start().await;

    let error = linkedin(&server).refresh(&app(), &channel(&server, ""), None).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::AuthExpired);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_revoked_refresh_token_is_an_expired_connection() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/accessToken"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "The provided refresh token is invalid, expired or revoked."
        })))
        .mount(&server)
        .await;

    let error = linkedin(&server).refresh(&app(), &channel(&server, ""), Some("AQW-refresh")).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::AuthExpired);
    assert!(!error.message.contains("AQW-refresh"));
}

#[tokio::test]
async fn the_profile_is_the_openid_userinfo() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/userinfo"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sub": "782bbtaQ", "name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace",
            "picture": "https://media.licdn.com/dms/image/ada.jpg", "locale": { "country": "GB", "language": "en" }
        })))
        .expect(1)
        .mount(&server)
        .await;

    let profile = linkedin(&server).profile(&channel(&server, "")).await.unwrap();

    assert_eq!(profile, Profile { avatar_url: Some("https://media.licdn.com/dms/image/ada.jpg".into()), ..member() });
}

#[tokio::test]
async fn an_invalid_token_on_the_api_is_an_expired_connection() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/userinfo"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", "message": "Invalid access token"
        })))
        .mount(&server)
        .await;

    let error = linkedin(&server).profile(&channel(&server, "")).await.unwrap_err();

    assert_eq!(
        (error.code, error.message.as_str()),
        (ErrorCode::AuthExpired, "INVALID_ACCESS_TOKEN: Invalid access token")
    );
}

#[tokio::test]
async fn a_rate_limited_profile_read_is_rate_limited() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/userinfo"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "status": 429, "serviceErrorCode": 101, "message": "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."
        })))
        .mount(&server)
        .await;

    let error = linkedin(&server).profile(&channel(&server, "")).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::RateLimited);
}

fn versioned(mock: wiremock::MockBuilder) -> wiremock::MockBuilder {
    mock.and(header("authorization", BEARER))
        .and(header("LinkedIn-Version", posthorn::adapters::platforms::versions::LINKEDIN.version))
        .and(header("X-Restli-Protocol-Version", "2.0.0"))
}

#[tokio::test]
async fn channels_are_the_member_and_the_organizations_they_administer() {
    let server = MockServer::start().await;
    versioned(Mock::given(method("GET")).and(path("/rest/organizationAcls")))
        .and(query_param("q", "roleAssignee"))
        .and(query_param("role", "ADMINISTRATOR"))
        .and(query_param("state", "APPROVED"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "paging": { "count": 100, "start": 0, "links": [] },
            "elements": [
                { "roleAssignee": "urn:li:person:782bbtaQ", "state": "APPROVED", "role": "ADMINISTRATOR",
                  "organization": "urn:li:organization:2414183" },
                { "roleAssignee": "urn:li:person:782bbtaQ", "state": "APPROVED", "role": "ADMINISTRATOR",
                  "organization": "urn:li:organization:5515715" }
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    for (id, name) in [("2414183", "Analytical Engines Ltd"), ("5515715", "Difference Works")] {
        versioned(Mock::given(method("GET")).and(path(format!("/rest/organizations/{id}"))))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": id.parse::<u64>().unwrap(), "localizedName": name, "vanityName": "engines"
            })))
            .expect(1)
            .mount(&server)
            .await;
    }

    let (channels, pages) = every_channel(&linkedin(&server), &channel(&server, ""), &member()).await.unwrap();

    assert_eq!(pages, 3, "the member with the administered organizations, then one page per organization");
    let listed: Vec<_> = channels.iter().map(|c| (c.platform_channel_id.as_str(), c.name.as_str(), c.kind)).collect();
    assert_eq!(
        listed,
        [
            ("urn:li:person:782bbtaQ", "Ada Lovelace", ChannelKind::Profile),
            ("urn:li:organization:2414183", "Analytical Engines Ltd", ChannelKind::Organization),
            ("urn:li:organization:5515715", "Difference Works", ChannelKind::Organization),
        ]
    );
    assert!(channels.iter().all(|c| c.channel_token.is_none()));
}

#[tokio::test]
async fn without_an_organization_scope_the_member_is_the_only_channel() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/organizationAcls"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED",
            "message": "Not enough permissions to access: organizationAcls.FINDER-roleAssignee.20240501"
        })))
        .mount(&server)
        .await;

    let page = linkedin(&server).list_channels(&channel(&server, ""), &member(), None).await.unwrap();

    assert_eq!(page.next, None);
    let channels = page.channels;
    assert_eq!(channels.len(), 1);
    assert_eq!(channels[0].platform_channel_id, "urn:li:person:782bbtaQ");
}

#[tokio::test]
async fn revoking_posts_the_token_with_the_client_credentials() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/revoke"))
        .and(form_is(&[("token", TOKEN), ("client_id", "li-client"), ("client_secret", "li-secret")]))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;

    linkedin(&server).revoke(&app(), &channel(&server, ""), None).await.unwrap();
}
