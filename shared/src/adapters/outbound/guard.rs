//! The SSRF guard (SPEC §6): a user-supplied URL must use an allowed scheme and every address
//! its host resolves to must be public. The addresses it returns are the ones to connect to, so
//! a second lookup (DNS rebinding) never happens.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, LazyLock};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use url::{Host, Url};

use crate::adapters::outbound::resolve::HostResolver;

pub const MAX_URL_LENGTH: usize = 2048;

static BLOCKED_V4: LazyLock<Vec<Ipv4Net>> = LazyLock::new(|| {
    [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    ]
    .iter()
    .map(|net| net.parse().expect("static IPv4 network"))
    .collect()
});

static BLOCKED_V6: LazyLock<Vec<Ipv6Net>> = LazyLock::new(|| {
    [
        // Unspecified, loopback and the deprecated IPv4-compatible range.
        "::/96",
        "100::/64",
        // Teredo tunnels hide their IPv4 destination.
        "2001::/32",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    ]
    .iter()
    .map(|net| net.parse().expect("static IPv6 network"))
    .collect()
});

/// Whether `ip` is a public address that user-supplied URLs may reach.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_ipv4(v6) {
            Some(v4) => is_public_v4(v4),
            None => !BLOCKED_V6.iter().any(|net| net.contains(&v6)),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !BLOCKED_V4.iter().any(|net| net.contains(&ip))
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:0:0/96`), NAT64 (`64:ff9b::/96`,
/// `64:ff9b:1::/48`) or 6to4 (`2002::/16`) address: it is judged as that IPv4 address.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let octets = ip.octets();
    let last_four = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    let in_net = |net: &str| net.parse::<IpNet>().expect("static network").contains(&IpAddr::V6(ip));
    if in_net("64:ff9b::/96") || in_net("64:ff9b:1::/48") {
        return Some(last_four);
    }
    if in_net("2002::/16") {
        return Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]));
    }
    None
}

/// Why a URL was refused. The message is safe to show to the user who supplied it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRejected {
    #[error("is longer than {MAX_URL_LENGTH} characters")]
    TooLong,
    #[error("is not a valid URL ({0})")]
    Invalid(String),
    #[error("must use https")]
    NotHttps,
    #[error("must not contain a user name or password")]
    HasCredentials,
    #[error("has no host")]
    NoHost,
    #[error("host `{0}` could not be resolved")]
    Unresolvable(String),
    #[error("resolves to {0}, which is a private, loopback, link-local or reserved address")]
    PrivateAddress(IpAddr),
}

/// Checks user-supplied URLs. `allow_private` is the explicit, off-by-default unsafe setting for
/// local development: it permits http and any address.
#[derive(Clone)]
pub struct UrlGuard {
    resolver: Arc<dyn HostResolver>,
    allow_private: bool,
}

impl UrlGuard {
    pub fn new(resolver: Arc<dyn HostResolver>, allow_private: bool) -> Self {
        Self { resolver, allow_private }
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Parses `raw` and checks its form (length, scheme, credentials, host) without resolving.
    pub fn parse(&self, raw: &str) -> Result<Url, UrlRejected> {
        if raw.len() > MAX_URL_LENGTH {
            return Err(UrlRejected::TooLong);
        }
        let url = Url::parse(raw).map_err(|e| UrlRejected::Invalid(e.to_string()))?;
        let scheme_allowed = url.scheme() == "https" || (self.allow_private && url.scheme() == "http");
        if !scheme_allowed {
            return Err(UrlRejected::NotHttps);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRejected::HasCredentials);
        }
        if url.host().is_none() {
            return Err(UrlRejected::NoHost);
        }
        Ok(url)
    }

    /// Resolves the URL's host and returns its addresses, all of which are allowed.
    pub async fn resolve(&self, url: &Url) -> Result<Vec<SocketAddr>, UrlRejected> {
        let port = url.port_or_known_default().unwrap_or(443);
        match url.host().ok_or(UrlRejected::NoHost)? {
            Host::Ipv4(ip) => self.allowed(vec![SocketAddr::new(IpAddr::V4(ip), port)]),
            Host::Ipv6(ip) => self.allowed(vec![SocketAddr::new(IpAddr::V6(ip), port)]),
            Host::Domain(domain) => self.resolve_host(domain, port).await,
        }
    }

    /// Resolves a host name and returns its addresses, all of which are allowed.
    pub async fn resolve_host(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, UrlRejected> {
        let unresolvable = || UrlRejected::Unresolvable(host.to_string());
        let addresses = self.resolver.resolve(host, port).await.map_err(|_| unresolvable())?;
        if addresses.is_empty() {
            return Err(unresolvable());
        }
        self.allowed(addresses)
    }

    fn allowed(&self, addresses: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, UrlRejected> {
        if !self.allow_private
            && let Some(blocked) = addresses.iter().find(|address| !is_public_ip(address.ip()))
        {
            return Err(UrlRejected::PrivateAddress(blocked.ip()));
        }
        Ok(addresses)
    }

    /// [`parse`](Self::parse) then [`resolve`](Self::resolve).
    pub async fn check(&self, raw: &str) -> Result<Url, UrlRejected> {
        let url = self.parse(raw)?;
        self.resolve(&url).await?;
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_pass_and_embedded_private_ones_do_not() {
        for public in
            ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34", "64:ff9b::5db8:d822"]
        {
            assert!(is_public_ip(public.parse().unwrap()), "{public} should be public");
        }
        for private in ["127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "::127.0.0.1", "fd00::1"]
        {
            assert!(!is_public_ip(private.parse().unwrap()), "{private} should be blocked");
        }
    }
}
