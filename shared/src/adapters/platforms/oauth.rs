//! OAuth 2.0 as the platforms speak it (RFC 6749, 7009, 7636): the consent URL and its standard
//! query, the form-encoded token request with the client's credentials, the token answer read
//! into a [`TokenGrant`] without ever echoing it, revocation, and the `{"error",
//! "error_description"}` body mapped so that a grant the platform rejects for good is
//! `auth_expired`. Every call goes through the one guarded outbound client.

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;

use crate::adapters::outbound::{FullResponse, OutboundClient};
use crate::adapters::platforms::http::{self, ErrorDialect, PlatformMessage, ResetHeader, mentions};
use crate::model::platforms::ErrorCode;
use crate::ports::platforms::PlatformError;
use crate::ports::platforms::connect::{OAuthApp, TokenGrant};

/// `endpoint` with `params` appended to its query: a consent page, or a redirect.
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
    read_grant(&http::send::<OAuthErrors>(http, request).await?)
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

/// The stored refresh token, or the error saying the user must connect again.
pub(crate) fn stored_refresh_token(refresh_token: Option<&str>) -> Result<&str, PlatformError> {
    refresh_token.ok_or_else(|| {
        PlatformError::new(ErrorCode::AuthExpired, "the platform granted no refresh token; reconnect the account")
    })
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// HTTP Basic for confidential clients, only `client_id` in the form for public ones (X).
    BasicOrPublic,
    /// `client_id` and `client_secret` in the form (LinkedIn).
    Form,
}

/// One platform's token (or revocation) endpoint, called as `app`.
pub(crate) struct TokenEndpoint<'a> {
    pub http: &'a OutboundClient,
    pub url: String,
    pub app: &'a OAuthApp,
    pub client_auth: ClientAuth,
}

impl TokenEndpoint<'_> {
    /// POSTs `form` with the client's credentials and reads the tokens granted.
    pub(crate) async fn grant(&self, form: &[(&str, &str)]) -> Result<TokenGrant, PlatformError> {
        read_grant(&self.post(form).await?)
    }

    /// POSTs `form` with the client's credentials; an error answer is mapped with [`OAuthErrors`].
    pub(crate) async fn post(&self, form: &[(&str, &str)]) -> Result<FullResponse, PlatformError> {
        let mut form = form.to_vec();
        let request = self.http.request(Method::POST, &self.url).await.map_err(http::transport_error)?;
        let secret = self.app.client_secret.as_deref();
        let request = match (self.client_auth, secret) {
            (ClientAuth::BasicOrPublic, Some(secret)) => request.basic_auth(&self.app.client_id, Some(secret)),
            (ClientAuth::BasicOrPublic, None) => {
                form.push(("client_id", &self.app.client_id));
                request
            }
            (ClientAuth::Form, secret) => {
                form.push(("client_id", &self.app.client_id));
                form.extend(secret.map(|secret| ("client_secret", secret)));
                request
            }
        };
        http::send::<OAuthErrors>(self.http, request.form(&form)).await
    }
}

/// A token answer (RFC 6749 §5.1); LinkedIn adds `refresh_token_expires_in`, unused here.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
    scope: Option<String>,
}

/// The tokens in a successful answer. Its body holds tokens, so it is never quoted in an error.
pub(crate) fn read_grant(response: &FullResponse) -> Result<TokenGrant, PlatformError> {
    let answer: TokenAnswer = serde_json::from_slice(&response.body).map_err(|_| {
        PlatformError::new(ErrorCode::PlatformError, "the token endpoint answered without a readable access token")
    })?;
    Ok(TokenGrant {
        access_token: answer.access_token,
        refresh_token: answer.refresh_token,
        expires_in: answer.expires_in.map(Duration::from_secs),
        scopes: answer.scope.as_deref().map(split_scopes).unwrap_or_default(),
    })
}

/// X separates granted scopes with spaces, LinkedIn with commas.
pub(crate) fn split_scopes(scope: &str) -> Vec<String> {
    scope.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// OAuth error bodies (RFC 6749 §5.2): `{"error": "invalid_grant", "error_description": "…"}`.
pub(crate) struct OAuthErrors;

impl ErrorDialect for OAuthErrors {
    const RESET: ResetHeader = ResetHeader::EpochSeconds("x-rate-limit-reset");

    fn message(body: &serde_json::Value) -> Option<PlatformMessage> {
        let kind = body.get("error")?.as_str()?;
        let text = body.get("error_description").and_then(|d| d.as_str()).unwrap_or(kind);
        Some(PlatformMessage::new(Some(kind.to_string()), text))
    }

    fn classify(_status: u16, _message: &PlatformMessage) -> ErrorCode {
        ErrorCode::PlatformError
    }

    /// A grant rejected for good is `invalid_grant`; X answers a spent or revoked refresh token
    /// with `invalid_request` "Value passed for the token was invalid." instead. A client the
    /// platform does not accept is Posthorn's configuration, not the user's connection.
    fn decide(_body: &serde_json::Value, message: &PlatformMessage) -> Option<ErrorCode> {
        match message.kind.as_deref()? {
            "invalid_grant" => Some(ErrorCode::AuthExpired),
            "invalid_request" if mentions(&message.text, &["token"]) => Some(ErrorCode::AuthExpired),
            "invalid_client" | "unauthorized_client" => Some(ErrorCode::PlatformError),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_on_spaces_and_commas() {
        assert_eq!(split_scopes("tweet.read users.read"), ["tweet.read", "users.read"]);
        assert_eq!(split_scopes("openid,profile, w_member_social"), ["openid", "profile", "w_member_social"]);
    }

    #[test]
    fn rejected_grants_are_expired_and_client_errors_are_not() {
        let read = |body: serde_json::Value| OAuthErrors::message(&body).unwrap();
        let spent = read(
            serde_json::json!({"error": "invalid_request", "error_description": "Value passed for the token was invalid."}),
        );
        assert_eq!(OAuthErrors::decide(&serde_json::Value::Null, &spent), Some(ErrorCode::AuthExpired));
        let client =
            read(serde_json::json!({"error": "invalid_client", "error_description": "Client authentication failed"}));
        assert_eq!(OAuthErrors::decide(&serde_json::Value::Null, &client), Some(ErrorCode::PlatformError));
        let scope = read(serde_json::json!({"error": "invalid_scope"}));
        assert_eq!(
            (OAuthErrors::decide(&serde_json::Value::Null, &scope), scope.text.as_str()),
            (None, "invalid_scope")
        );
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
