//! The client's address when Wharf runs behind reverse proxies (an Ingress, Caddy, a load
//! balancer): every request would otherwise come from the proxy, so throttling per (account,
//! address) would throttle everyone together and the audit log would name the proxy.
//!
//! Only a request whose TCP peer is a trusted proxy (`--trusted-proxy`) has its
//! `X-Forwarded-For` read, from the right: each trusted proxy appends the address it saw, so the
//! first address from the right that is not a trusted proxy is the client. Anything to its left
//! was written by the client itself and is never believed. The request's `ConnectInfo` is
//! replaced by that address, so every handler sees the client without knowing about proxies.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// Networks whose connections are proxies that append to `X-Forwarded-For`.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Arc<Vec<IpNet>>);

impl TrustedProxies {
    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client behind `peer`, given the `X-Forwarded-For` values (in header order).
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops = forwarded_for.iter().flat_map(|value| value.split(','));
        let mut client = peer;
        for hop in hops.collect::<Vec<_>>().into_iter().rev() {
            let Some(address) = parse_hop(hop) else {
                // Garbage where an address should be: believe nothing further left.
                break;
            };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: an address, perhaps `[v6]` or with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
        .map(canonical)
}

/// An IPv4-mapped IPv6 address as the IPv4 one, so networks match either spelling.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// Middleware: puts the client's address in place of a trusted proxy's.
pub async fn behind_proxies(State(trusted): State<TrustedProxies>, mut request: Request, next: Next) -> Response {
    if trusted.0.is_empty() {
        return next.run(request).await;
    }
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let forwarded: Vec<&str> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        let client = trusted.client(peer.ip(), &forwarded);
        if client != peer.ip() {
            request
                .extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(client, peer.port())));
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(nets: &[&str]) -> TrustedProxies {
        TrustedProxies(Arc::new(nets.iter().map(|n| n.parse().unwrap()).collect()))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_proxy_is_believed_and_only_from_the_right() {
        let proxies = trusted(&["10.0.0.0/8"]);
        // Straight from a client: its own header is ignored.
        assert_eq!(proxies.client(ip("203.0.113.9"), &["1.2.3.4"]), ip("203.0.113.9"));
        // Through the proxy: the address it appended.
        assert_eq!(proxies.client(ip("10.0.0.2"), &["198.51.100.7"]), ip("198.51.100.7"));
        // A client that sends its own X-Forwarded-For: what the proxy appended wins.
        assert_eq!(
            proxies.client(ip("10.0.0.2"), &["1.2.3.4, 198.51.100.7"]),
            ip("198.51.100.7")
        );
        // Two trusted proxies in a row, headers split over two lines.
        assert_eq!(
            proxies.client(ip("10.0.0.2"), &["6.6.6.6, 198.51.100.7", "10.1.1.1"]),
            ip("198.51.100.7")
        );
        // Garbage right of the proxy's entry: nothing left of it is believed.
        assert_eq!(proxies.client(ip("10.0.0.2"), &["1.2.3.4, nonsense"]), ip("10.0.0.2"));
        // No header: the proxy itself.
        assert_eq!(proxies.client(ip("10.0.0.2"), &[]), ip("10.0.0.2"));
        // Ports and brackets, and IPv4-mapped spellings.
        assert_eq!(
            proxies.client(ip("10.0.0.2"), &["198.51.100.7:4711"]),
            ip("198.51.100.7")
        );
        assert_eq!(proxies.client(ip("10.0.0.2"), &["[2001:db8::1]"]), ip("2001:db8::1"));
        assert_eq!(
            proxies.client(ip("::ffff:10.0.0.2"), &["198.51.100.7"]),
            ip("198.51.100.7")
        );
        // Nothing trusted: nothing read.
        assert_eq!(trusted(&[]).client(ip("10.0.0.2"), &["198.51.100.7"]), ip("10.0.0.2"));
    }
}
