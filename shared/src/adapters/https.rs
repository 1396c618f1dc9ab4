//! One TLS stack for every outbound connection: rustls with ring's crypto, for the outbound
//! client (reqwest) and the AWS SDK alike. Linking one crypto library instead of two keeps each
//! function binary small.

use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Makes ring rustls's process-wide crypto provider, which reqwest reads when it builds a client.
pub fn install_crypto_provider() {
    // An error only says a provider is installed already (by an earlier call, or a test's server).
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The AWS SDK's standard configuration chain (environment, profile, container and instance
/// credentials) with an HTTPS client on the same TLS stack.
pub fn aws_config_loader() -> ConfigLoader {
    let https = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(https)
}
