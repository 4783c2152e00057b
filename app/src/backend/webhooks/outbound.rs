//! Outbound safety: where webhooks may be sent. Every address a webhook URL names or resolves to
//! is checked before it is dialled, at save time and again at every delivery (DNS answers
//! change), by a resolver inside the HTTP client so the checked address is the one connected to.
//!
//! Refused unless an administrator allows the network (`--webhook-allow-network`): loopback,
//! link-local (169.254.0.0/16, where cloud metadata services live, and fe80::/10), unspecified,
//! multicast and broadcast addresses, and private networks (10/8, 172.16/12, 192.168/16,
//! 100.64/10, fc00::/7): a namespace Contributor may save a webhook, and what it may reach from
//! inside the network is the administrator's call. IPv6 spellings of an IPv4 address (mapped
//! `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged
//! as the IPv4 address they carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use url::Url;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Networks allowed even though they would be refused (`--webhook-allow-network`).
    pub allowed: Vec<IpNet>,
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
    /// Why `addr` may not be dialled, if it may not. An allowed network is checked against the
    /// address as written and as the IPv4 address it carries.
    pub fn refusal(&self, addr: IpAddr) -> Option<&'static str> {
        let carried = canonical(addr);
        if self
            .allowed
            .iter()
            .any(|net| net.contains(&addr) || net.contains(&carried))
        {
            return None;
        }
        classify(carried)
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

/// The kind of special-purpose address `addr` is (the IPv4 spellings already unwrapped), or
/// `None` for an ordinary public address.
fn classify(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(v4: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = v4.octets();
    Some(match v4 {
        _ if v4.is_loopback() => "loopback",
        _ if v4.is_link_local() => "link-local",
        // 0.0.0.0/8, "this network": Linux dials 0.0.0.0 as the host itself.
        _ if a == 0 => "unspecified",
        _ if v4.is_multicast() || v4.is_broadcast() => "multicast or broadcast",
        _ if v4.is_private() || (a == 100 && (64..128).contains(&b)) => "private-network",
        _ => return None,
    })
}

fn classify_v6(v6: Ipv6Addr) -> Option<&'static str> {
    let first = v6.segments()[0];
    Some(match v6 {
        _ if v6.is_loopback() => "loopback",
        _ if v6.is_unspecified() => "unspecified",
        _ if v6.is_multicast() => "multicast",
        _ if (first & 0xffc0) == 0xfe80 => "link-local",
        // Unique local (fc00::/7), the old site-local (fec0::/10) and local-use NAT64
        // (64:ff9b:1::/48, whose IPv4 part depends on the operator's prefix length).
        _ if (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfec0 => "private-network",
        _ if v6.segments()[..3] == [0x64, 0xff9b, 1] => "private-network",
        _ => return None,
    })
}

/// The IPv4 address an IPv6 address carries, when it is one of the spellings that reach it:
/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`, not `::` or `::1`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:AABB:CCDD::`).
/// Other addresses are returned as they are.
pub fn canonical(addr: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = addr else {
        return addr;
    };
    let s = v6.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let carried = match s {
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0xffff, 0, ..] => Some(low),
        [0, 0, 0, 0, 0, 0, ..] if !v6.is_unspecified() && !v6.is_loopback() => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(low),
        [0x2002, high, low16, ..] => Some(Ipv4Addr::new(
            (high >> 8) as u8,
            high as u8,
            (low16 >> 8) as u8,
            low16 as u8,
        )),
        _ => None,
    };
    carried.map(IpAddr::V4).unwrap_or(addr)
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
    fn refuses_loopback_link_local_unspecified_and_private_networks_by_default() {
        let policy = OutboundPolicy::default();
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://0.0.0.0/",
            "http://0.1.2.3/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://10.1.2.3/ci",
            "https://172.16.0.1/",
            "https://172.31.255.254/",
            "https://192.168.1.10/",
            "http://100.64.0.1/",
            "http://100.127.255.255/",
            "http://[fd00::1]/",
            "http://[fc00::1]/",
            "http://[fec0::1]/",
            "http://[64:ff9b:1::a00:1]/",
        ] {
            assert!(refused(&policy, url), "{url} must be refused");
        }
        for url in [
            "http://172.32.0.1/",
            "http://100.128.0.1/",
            "https://93.184.216.34/",
            "https://[2606:4700::1111]/",
            "https://example.com/x",
        ] {
            assert!(policy.check_url(url).is_ok(), "{url} is allowed");
        }
    }

    #[test]
    fn ipv6_spellings_of_ipv4_addresses_are_judged_as_the_ipv4_address() {
        let policy = OutboundPolicy::default();
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for (spelling, carried) in [
            ("::ffff:127.0.0.1", loopback),
            ("::ffff:0:127.0.0.1", loopback),
            ("::127.0.0.1", loopback),
            ("64:ff9b::7f00:1", loopback),
            ("2002:7f00:1::", loopback),
            ("::169.254.169.254", "169.254.169.254".parse().unwrap()),
            ("64:ff9b::a9fe:a9fe", "169.254.169.254".parse().unwrap()),
            ("::ffff:10.0.0.1", "10.0.0.1".parse().unwrap()),
            ("64:ff9b::c0a8:101", "192.168.1.1".parse().unwrap()),
            ("64:ff9b::5db8:d822", "93.184.216.34".parse().unwrap()),
        ] {
            let addr: IpAddr = spelling.parse().unwrap();
            assert_eq!(canonical(addr), carried, "{spelling}");
            let url = format!("http://[{spelling}]/hook");
            assert_eq!(
                refused(&policy, &url),
                policy.refusal(carried).is_some(),
                "{url} is judged as {carried}"
            );
        }
        for url in [
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            let err = policy.check_url(url).unwrap_err();
            assert!(
                matches!(err, OutboundError::Refused { kind: "loopback", .. }),
                "{url}: {err}"
            );
        }
        // `::` and `::1` are themselves, not 0.0.0.0 and 0.0.0.1.
        assert_eq!(
            canonical(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        );
        assert_eq!(
            canonical(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        );
        assert_eq!(policy.refusal("::1".parse().unwrap()), Some("loopback"));
        assert!(policy.check_url("http://[64:ff9b::5db8:d822]/").is_ok());
    }

    #[test]
    fn an_allowed_network_opens_only_itself() {
        let policy = OutboundPolicy {
            allowed: vec!["127.0.0.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()],
        };
        assert!(policy.check_url("http://127.0.0.1:9/").is_ok());
        assert!(policy.check_url("http://[::ffff:127.0.0.1]:9/").is_ok());
        assert!(policy.check_url("http://10.20.30.40/").is_ok());
        assert!(refused(&policy, "http://127.0.0.2/"));
        assert!(refused(&policy, "http://192.168.0.1/"));
        assert!(refused(&policy, "http://100.64.0.1/"));
        assert!(refused(&policy, "http://[fd00::1]/"));
        let v6 = OutboundPolicy {
            allowed: vec!["fd00:1::/64".parse().unwrap()],
        };
        assert!(v6.check_url("http://[fd00:1::5]/").is_ok());
        assert!(refused(&v6, "http://[fd00:2::5]/"));
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
        // The client's own resolver refuses the same name at dial time.
        let err = policy.resolve("localhost", 0).await.unwrap_err();
        assert!(matches!(err, OutboundError::Refused { kind: "loopback", .. }), "{err}");
        let allowed = OutboundPolicy {
            allowed: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
        };
        assert!(allowed.resolve("localhost", 0).await.is_ok());
    }
}
