//! Outbound safety: where webhooks may be sent. Every address a webhook URL names or resolves to
//! is checked before it is dialled, at save time and again at every delivery (DNS answers
//! change), by a resolver inside the HTTP client so the checked address is the one connected to.
//!
//! Refused unless an administrator allows the network: loopback, link-local (169.254.0.0/16,
//! where cloud metadata services live, and fe80::/10), unspecified, multicast and broadcast
//! addresses. Private networks (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) are allowed
//! by default, since internal CI servers are the common receiver, and can be denied.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use url::Url;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Networks allowed even though they would be refused (`--webhook-allow-network`).
    pub allowed: Vec<IpNet>,
    /// Refuse private networks too (`--webhook-deny-private`).
    pub deny_private: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("the URL is not valid: {0}")]
    Invalid(String),
    #[error("only http:// and https:// URLs can receive webhooks")]
    Scheme,
    #[error("{host} resolves to {addr}, a {kind} address: refused (an administrator can allow the network with --webhook-allow-network)")]
    Refused {
        host: String,
        addr: IpAddr,
        kind: &'static str,
    },
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
}

impl OutboundPolicy {
    /// Why `addr` may not be dialled, if it may not.
    pub fn refusal(&self, addr: IpAddr) -> Option<&'static str> {
        let addr = canonical(addr);
        if self.allowed.iter().any(|net| net.contains(&addr)) {
            return None;
        }
        let kind = match addr {
            IpAddr::V4(v4) if v4.is_loopback() => "loopback",
            IpAddr::V4(v4) if v4.is_link_local() => "link-local",
            IpAddr::V4(v4) if v4.is_unspecified() => "unspecified",
            IpAddr::V4(v4) if v4.is_multicast() || v4.is_broadcast() => "multicast or broadcast",
            IpAddr::V6(v6) if v6.is_loopback() => "loopback",
            IpAddr::V6(v6) if v6.is_unspecified() => "unspecified",
            IpAddr::V6(v6) if v6.is_multicast() => "multicast",
            IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => "link-local",
            _ if self.deny_private && is_private(addr) => "private-network",
            _ => return None,
        };
        Some(kind)
    }

    /// Checks a URL's form and, when its host is an address, the address. Names are checked when
    /// they are resolved ([`OutboundPolicy::check_resolved`], and the client's resolver).
    pub fn check_url(&self, raw: &str) -> Result<Url, OutboundError> {
        let url = Url::parse(raw).map_err(|e| OutboundError::Invalid(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::Scheme);
        }
        let host = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(OutboundError::Invalid("the URL has no host".into())),
        };
        if let Some(addr) = host {
            if let Some(kind) = self.refusal(addr) {
                return Err(OutboundError::Refused {
                    host: addr.to_string(),
                    addr,
                    kind,
                });
            }
        }
        Ok(url)
    }

    /// [`OutboundPolicy::check_url`], then resolves a host name and checks every address: what
    /// saving a webhook runs, so a refused receiver is reported at once.
    pub async fn check_resolved(&self, raw: &str) -> Result<Url, OutboundError> {
        let url = self.check_url(raw)?;
        if let Some(url::Host::Domain(host)) = url.host() {
            let port = url.port_or_known_default().unwrap_or(443);
            self.resolve(host, port).await?;
        }
        Ok(url)
    }

    /// Resolves `host` and refuses it when any of its addresses is refused.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, OutboundError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| OutboundError::Resolve {
                host: host.to_string(),
                reason: e.to_string(),
            })?
            .collect();
        if addrs.is_empty() {
            return Err(OutboundError::Resolve {
                host: host.to_string(),
                reason: "no addresses".into(),
            });
        }
        for addr in &addrs {
            if let Some(kind) = self.refusal(addr.ip()) {
                return Err(OutboundError::Refused {
                    host: host.to_string(),
                    addr: addr.ip(),
                    kind,
                });
            }
        }
        Ok(addrs)
    }

    /// The HTTP client for deliveries: the policy is applied to every name it resolves, redirects
    /// are not followed, no proxy from the environment is used.
    pub fn client(self: &Arc<Self>) -> reqwest::Client {
        reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver(self.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(std::time::Duration::from_secs(10))
            .user_agent(concat!("Wharf-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a client with these settings builds")
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are judged as the IPv4 address they carry.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    }
}

fn is_private(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

struct CheckedResolver(Arc<OutboundPolicy>);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let addrs = policy.resolve(name.as_str(), 0).await?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &OutboundPolicy, url: &str) -> bool {
        matches!(policy.check_url(url), Err(OutboundError::Refused { .. }))
    }

    #[test]
    fn refuses_loopback_link_local_and_unspecified_by_default() {
        let policy = OutboundPolicy::default();
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://0.0.0.0/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://224.0.0.1/",
        ] {
            assert!(refused(&policy, url), "{url} must be refused");
        }
        for url in [
            "http://10.1.2.3/ci",
            "https://192.168.1.10/",
            "https://93.184.216.34/",
            "https://example.com/x",
        ] {
            assert!(policy.check_url(url).is_ok(), "{url} is allowed");
        }
    }

    #[test]
    fn an_allowed_network_and_denied_private_networks() {
        let policy = OutboundPolicy {
            allowed: vec!["127.0.0.1/32".parse().unwrap()],
            deny_private: true,
        };
        assert!(policy.check_url("http://127.0.0.1:9/").is_ok());
        assert!(refused(&policy, "http://127.0.0.2/"));
        assert!(refused(&policy, "http://10.0.0.1/"));
        assert!(refused(&policy, "http://100.64.0.1/"));
        assert!(refused(&policy, "http://[fd00::1]/"));
    }

    #[test]
    fn refuses_other_schemes_and_garbage() {
        let policy = OutboundPolicy::default();
        assert_eq!(
            policy.check_url("file:///etc/passwd").unwrap_err(),
            OutboundError::Scheme
        );
        assert_eq!(policy.check_url("gopher://x/").unwrap_err(), OutboundError::Scheme);
        assert!(matches!(policy.check_url("not a url"), Err(OutboundError::Invalid(_))));
    }

    #[tokio::test]
    async fn names_are_checked_after_resolving() {
        let policy = OutboundPolicy::default();
        let err = policy.check_resolved("http://localhost:9/").await.unwrap_err();
        assert!(matches!(err, OutboundError::Refused { kind: "loopback", .. }), "{err}");
    }
}
