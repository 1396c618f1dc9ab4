//! Host name resolution behind a trait, so the SSRF guard checks exactly the addresses it will
//! connect to, and tests can make a host resolve to whatever they need.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

#[async_trait]
pub trait HostResolver: Send + Sync {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
}

/// The operating system's resolver.
pub struct SystemResolver;

#[async_trait]
impl HostResolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// A resolver answering from a table that tests can change between calls (DNS rebinding).
#[derive(Clone, Default)]
pub struct StaticResolver(Arc<RwLock<HashMap<String, Vec<IpAddr>>>>);

impl StaticResolver {
    pub fn set(&self, host: &str, addresses: &[IpAddr]) {
        self.0.write().expect("resolver table lock").insert(host.to_ascii_lowercase(), addresses.to_vec());
    }
}

#[async_trait]
impl HostResolver for StaticResolver {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let table = self.0.read().expect("resolver table lock");
        match table.get(&host.to_ascii_lowercase()) {
            Some(addresses) => Ok(addresses.iter().map(|ip| SocketAddr::new(*ip, port)).collect()),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "no such host")),
        }
    }
}
