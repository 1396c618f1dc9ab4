//! Connecting Instagram professional accounts against a fake of Business Login for Instagram as
//! documented: the authorization window and the code exchange on the OAuth host (answered as a
//! `data` list with the granted permissions), the long-lived token from `/access_token`
//! (`ig_exchange_token`) and its refresh (`ig_refresh_token`) on the API host, and the account
//! from `/me` as the one channel.

use std::time::Duration;

use posthorn::adapters::platforms::Instagram;
use posthorn::model::channels::ChannelKind;
use posthorn::model::platforms::ErrorCode;
use posthorn::ports::platforms::{Connector, OAuthApp};
use posthorn_testkit::graph_fake::{TOKEN, auth, client, error_body};
use posthorn_testkit::platforms::{CODE, REDIRECT, STATE, callback, consent, form_is, oauth_app, query};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn app() -> OAuthApp {
    oauth_app("ig-app", Some("ig-secret"))
}

/// The OAuth host (api.instagram.com) and the API (graph.instagram.com) on two fakes.
async fn fakes() -> (MockServer, MockServer, Instagram) {
    let oauth = MockServer::start().await;
    let api = MockServer::start().await;
    let instagram = Instagram::new(client()).with_oauth_base(oauth.uri());
    (oauth, api, instagram)
}

#[tokio::test]
async fn the_authorization_window_asks_for_business_publishing() {
    let (oauth, _api, instagram) = fakes().await;
    let (page, asked) = consent(&instagram, &app(), None).unwrap();

    assert_eq!(page, format!("{}/oauth/authorize", oauth.uri()));
    assert_eq!(
        asked,
        query(&[
            ("client_id", "ig-app"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "instagram_business_basic,instagram_business_content_publish,instagram_business_manage_insights"),
            ("state", STATE),
        ])
    );
    assert_eq!(instagram.default_base_url(), "https://graph.instagram.com/v25.0");
}

#[tokio::test]
async fn the_code_becomes_a_long_lived_token_with_the_granted_permissions() {
    let (oauth, api, instagram) = fakes().await;
    Mock::given(method("POST"))
        .and(path("/oauth/access_token"))
        .and(form_is(&[
            ("client_id", "ig-app"),
            ("client_secret", "ig-secret"),
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
            ("code", CODE),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": [{
            "access_token": "IGQ-short", "user_id": "17841400000000001",
            "permissions": "instagram_business_basic,instagram_business_content_publish"
        }] })))
        .expect(1)
        .mount(&oauth)
        .await;
    Mock::given(method("GET"))
        .and(path("/access_token"))
        .and(query_param("grant_type", "ig_exchange_token"))
        .and(query_param("client_secret", "ig-secret"))
        .and(query_param("access_token", "IGQ-short"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "IGQ-long", "token_type": "bearer", "expires_in": 5183944
        })))
        .expect(1)
        .mount(&api)
        .await;
    let app = app();
    let base = format!("{}/v25.0", api.uri());
    let exchange = callback(&app, &base);

    let grant = instagram.exchange_code(&exchange).await.unwrap();

    assert_eq!(grant.access_token, "IGQ-long");
    assert_eq!((grant.refresh_token.as_deref(), grant.expires_in), (None, Some(Duration::from_secs(5183944))));
    assert_eq!(grant.scopes, ["instagram_business_basic", "instagram_business_content_publish"]);
}

#[tokio::test]
async fn refreshing_extends_the_long_lived_token_and_expiry_is_final() {
    let (_oauth, api, instagram) = fakes().await;
    Mock::given(method("GET"))
        .and(path("/refresh_access_token"))
        .and(query_param("grant_type", "ig_refresh_token"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "IGQ-refreshed", "token_type": "bearer", "expires_in": 5183944
        })))
        .up_to_n_times(1)
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/refresh_access_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(error_body(
            "Error validating access token: Session has expired",
            "OAuthException",
            190,
            Some(463),
        )))
        .mount(&api)
        .await;
    let auth = auth(&api, "v25.0", "");

    let grant = instagram.refresh(&app(), &auth, None).await.unwrap();
    let error = instagram.refresh(&app(), &auth, None).await.unwrap_err();

    assert_eq!((grant.access_token.as_str(), grant.expires_in), ("IGQ-refreshed", Some(Duration::from_secs(5183944))));
    assert_eq!(error.code, ErrorCode::AuthExpired);
}

#[tokio::test]
async fn the_professional_account_is_the_one_channel() {
    let (_oauth, api, instagram) = fakes().await;
    Mock::given(method("GET"))
        .and(path("/v25.0/me"))
        .and(query_param("fields", "user_id,username,name,profile_picture_url"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "9876543210", "user_id": "17841400000000001", "username": "ada.engines",
            "name": "Ada", "profile_picture_url": "https://scontent.cdninstagram.com/ada.jpg"
        })))
        .expect(1)
        .mount(&api)
        .await;
    let auth = auth(&api, "v25.0", "");

    let profile = instagram.profile(&auth).await.unwrap();
    let page = instagram.list_channels(&auth, &profile, None).await.unwrap();
    assert_eq!(page.next, None, "one page");
    let channels = page.channels;

    assert_eq!(profile.platform_user_id, "17841400000000001");
    assert_eq!(profile.profile_url.as_deref(), Some("https://www.instagram.com/ada.engines"));
    let listed: Vec<_> =
        channels.iter().map(|c| (c.platform_channel_id.as_str(), c.kind, c.channel_token.is_none())).collect();
    assert_eq!(listed, [("17841400000000001", ChannelKind::Account, true)]);
}
