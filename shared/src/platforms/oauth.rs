//! OAuth 2 as most platforms speak it (RFC 6749, 7009): the consent URL's query, the token
//! endpoint's form request and JSON answer, and its error body `{"error", "error_description"}`,
//! where `invalid_grant` means the grant is gone for good. Connectors use these through the one
//! guarded outbound client.

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;

use super::http::{self, ErrorDialect, PlatformMessage, ResetHeader};
use super::{ErrorCode, OAuthApp, PlatformError, TokenGrant};
use crate::outbound::OutboundClient;

/// `endpoint` with `params` appended to its query.
pub fn url_with_query(endpoint: &str, params: &[(&str, &str)]) -> Result<String, PlatformError> {
    let mut url = url::Url::parse(endpoint)
        .map_err(|e| PlatformError::new(ErrorCode::PlatformError, format!("`{endpoint}` is not a URL: {e}")))?;
    url.query_pairs_mut().extend_pairs(params);
    Ok(url.into())
}

/// The standard consent query: code flow, client, redirect, scopes, state and the S256 PKCE
/// challenge when there is one.
pub fn authorization_query<'a>(
    app: &'a OAuthApp,
    redirect_uri: &'a str,
    scope: &'a str,
    state: &'a str,
    pkce_challenge: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("scope", scope),
        ("state", state),
    ];
    if let Some(challenge) = pkce_challenge {
        query.extend([("code_challenge", challenge), ("code_challenge_method", "S256")]);
    }
    query
}

/// POSTs a form to a token endpoint and reads the tokens it grants.
pub async fn token_request(
    http: &OutboundClient,
    url: &str,
    form: &[(&str, &str)],
) -> Result<TokenGrant, PlatformError> {
    let request = http.request(Method::POST, url).await.map_err(http::transport_error)?.form(form);
    let response: TokenResponse = http::send_json::<OAuthErrors, _>(http, request).await?;
    Ok(response.into_grant())
}

/// POSTs a form to an endpoint that answers with no tokens (revocation).
pub async fn form_request(http: &OutboundClient, url: &str, form: &[(&str, &str)]) -> Result<(), PlatformError> {
    let request = http.request(Method::POST, url).await.map_err(http::transport_error)?.form(form);
    http::send::<OAuthErrors>(http, request).await.map(drop)
}

/// The client's credentials as form fields (`client_secret_post`).
pub fn client_fields(app: &OAuthApp) -> Vec<(&str, &str)> {
    let mut fields = vec![("client_id", app.client_id.as_str())];
    if let Some(secret) = &app.client_secret {
        fields.push(("client_secret", secret.as_str()));
    }
    fields
}

/// A token endpoint's successful answer (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
    /// Space-separated (some platforms use commas).
    scope: Option<String>,
}

impl TokenResponse {
    fn into_grant(self) -> TokenGrant {
        let scopes = self
            .scope
            .unwrap_or_default()
            .split([' ', ','])
            .filter(|scope| !scope.is_empty())
            .map(str::to_string)
            .collect();
        TokenGrant {
            access_token: self.access_token,
            refresh_token: self.refresh_token,
            expires_in: self.expires_in.map(Duration::from_secs),
            scopes,
        }
    }
}

/// RFC 6749 §5.2 error bodies: `invalid_grant` (a code or refresh token that is expired,
/// revoked or used) means the grant is gone.
pub struct OAuthErrors;

impl ErrorDialect for OAuthErrors {
    const RESET: ResetHeader = ResetHeader::None;

    fn message(body: &serde_json::Value) -> Option<PlatformMessage> {
        let error = body.get("error")?.as_str()?;
        let text = body.get("error_description").and_then(|d| d.as_str()).unwrap_or(error);
        Some(PlatformMessage::new(Some(error.to_string()), text))
    }

    fn classify(_status: u16, message: &PlatformMessage) -> ErrorCode {
        match message.kind.as_deref() {
            Some("invalid_grant") => ErrorCode::AuthExpired,
            _ => ErrorCode::PlatformError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers_become_grants() {
        let answer: TokenResponse = serde_json::from_str(
            r#"{"access_token":"a","token_type":"Bearer","expires_in":7200,"refresh_token":"r","scope":"read write"}"#,
        )
        .unwrap();
        let grant = answer.into_grant();
        assert_eq!(grant.refresh_token.as_deref(), Some("r"));
        assert_eq!(grant.expires_in, Some(Duration::from_secs(7200)));
        assert_eq!(grant.scopes, ["read", "write"]);
    }

    #[test]
    fn invalid_grant_is_a_grant_gone_for_good() {
        let body = serde_json::json!({"error": "invalid_grant", "error_description": "The provided authorization grant is invalid"});
        let message = OAuthErrors::message(&body).unwrap();
        assert_eq!(OAuthErrors::classify(400, &message), ErrorCode::AuthExpired);
        let other = OAuthErrors::message(&serde_json::json!({"error": "invalid_client"})).unwrap();
        assert_eq!(OAuthErrors::classify(401, &other), ErrorCode::PlatformError);
    }

    #[test]
    fn consent_queries_carry_state_and_the_challenge() {
        let app = OAuthApp { client_id: "client 1".into(), client_secret: None };
        let query = authorization_query(&app, "https://app.example/cb", "read write", "st", Some("ch"));
        let url = url_with_query("https://social.example/oauth/authorize", &query).unwrap();
        assert!(url.contains("client_id=client+1"));
        assert!(url.contains("state=st") && url.contains("code_challenge=ch&code_challenge_method=S256"));
    }
}
