//! The client's IP address, for the per-IP rate limit and login throttling.
//!
//! Behind a reverse proxy every connection comes from the proxy, so the
//! socket peer alone would put all clients in one bucket. When, and only
//! when, the peer is a configured trusted proxy (`trusted_proxies`), the
//! address comes from `X-Forwarded-For`: the right-most entry that is not
//! itself a trusted proxy. Each proxy appends the address it received the
//! request from, so that entry is the last hop one of our own proxies saw;
//! everything to its left was written by the client and may be forged, so
//! it is never read. A peer that is not a trusted proxy is the client, and
//! its `X-Forwarded-For` is ignored: otherwise anyone could pick a new
//! address per request and never be limited.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;

/// An address range: `10.0.0.0/8`, `fd00::/8`, or one address. A thin
/// layer over the `ipnet` crate that also takes a bare address (as a /32 or
/// /128) and compares IPv4-mapped IPv6 peers as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet(ipnet::IpNet);

impl IpNet {
    /// Parse `ADDR` or `ADDR/PREFIX`. Host bits below the prefix are
    /// cleared (`10.1.2.3/8` is `10.0.0.0/8`).
    pub fn parse(s: &str) -> Result<IpNet, String> {
        let s = s.trim();
        let net = match s.split_once('/') {
            None => s
                .parse::<IpAddr>()
                .map(|a| ipnet::IpNet::from(a.to_canonical()))
                .map_err(|_| format!("{s:?} is not an IP address or a CIDR range"))?,
            Some((addr, _)) => {
                let addr: IpAddr = addr
                    .parse()
                    .map_err(|_| format!("{s:?} is not an IP address or a CIDR range"))?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                s.parse::<ipnet::IpNet>().map_err(|_| {
                    format!("{s:?} has an invalid prefix length (0 to {max} for this address)")
                })?
            }
        };
        Ok(IpNet(net.trunc()))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

/// The configured `trusted_proxies`, parsed once at start.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parse every entry; the error names the first bad one.
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(|e| IpNet::parse(e))
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client address of a request that arrived from `peer`.
    ///
    /// Falls back to `peer` when the peer is not trusted, when there is no
    /// `X-Forwarded-For`, or when an entry that has to be read is malformed
    /// (a misconfigured proxy: better one shared bucket than a forged one).
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.is_trusted(peer) {
            return peer;
        }
        // Several header lines are one list, in order (RFC 9110 §5.3).
        let mut entries = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(text) = value.to_str() else {
                return peer;
            };
            entries.extend(text.split(','));
        }
        let mut leftmost = None;
        for entry in entries.iter().rev() {
            let Some(ip) = parse_forwarded(entry) else {
                return peer;
            };
            if !self.is_trusted(ip) {
                return ip;
            }
            leftmost = Some(ip);
        }
        // Every hop is one of ours (an internal caller): the first one.
        leftmost.unwrap_or(peer)
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port
/// (`203.0.113.7:41234`, `[2001:db8::1]:443`) as some proxies write it.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = entry.parse::<SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|e| e.parse::<std::net::Ipv6Addr>().ok())
        .map(|v6| IpAddr::V6(v6).to_canonical())
}

/// The client address of the request (see the module docs). The per-IP
/// middleware resolves it once and leaves it in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(ip) = parts.extensions.get::<ClientIp>() {
            return Ok(*ip);
        }
        // Served without connect info is a wiring bug, not the client's fault.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| {
                tracing::error!("no peer address on the request (served without connect info?)");
                ApiError::internal()
            })?;
        Ok(ClientIp(
            state.trusted_proxies.client_ip(peer, &parts.headers),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn parses_addresses_and_ranges() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains(ip("10.255.0.1")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(n.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped IPv6 peers");
        let one = IpNet::parse(" 192.0.2.1 ").unwrap();
        assert!(one.contains(ip("192.0.2.1")) && !one.contains(ip("192.0.2.2")));
        let v6 = IpNet::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert_eq!(
            IpNet::parse("10.1.2.3/8").unwrap(),
            IpNet::parse("10.0.0.0/8").unwrap()
        );
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(IpNet::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "proxy.local",
            "10.0.0.0/",
            "10.0.0.0/-1",
        ] {
            let e = IpNet::parse(bad).unwrap_err();
            assert!(e.contains(&format!("{:?}", bad.trim())), "{e}");
        }
        let e = TrustedProxies::parse(&["10.0.0.1".into(), "nope".into()]).unwrap_err();
        assert!(e.contains("\"nope\""), "{e}");
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_the_header_says() {
        let t = proxies(&["10.0.0.0/8"]);
        let h = xff(&["1.2.3.4"]);
        assert_eq!(t.client_ip(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        // No proxies configured (the default): never read the header.
        assert_eq!(
            TrustedProxies::default().client_ip(ip("127.0.0.1"), &h),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn trusted_peer_gives_right_most_untrusted_entry() {
        let t = proxies(&["10.0.0.0/8", "2001:db8:ffff::/48"]);
        let peer = ip("10.0.0.5");
        // The client forged the first entry; our proxy appended the real one.
        let h = xff(&["6.6.6.6, 198.51.100.7"]);
        assert_eq!(t.client_ip(peer, &h), ip("198.51.100.7"));
        // Two of our proxies in a row are skipped.
        let h = xff(&["6.6.6.6, 198.51.100.7, 10.1.1.1"]);
        assert_eq!(t.client_ip(peer, &h), ip("198.51.100.7"));
        // Several header lines form one list.
        let h = xff(&["6.6.6.6", "198.51.100.7 , 10.1.1.1"]);
        assert_eq!(t.client_ip(peer, &h), ip("198.51.100.7"));
        // Ports and brackets, IPv6 and IPv4-mapped forms.
        let h = xff(&["198.51.100.7:4711"]);
        assert_eq!(t.client_ip(peer, &h), ip("198.51.100.7"));
        let h = xff(&["[2001:db8::7]:443"]);
        assert_eq!(t.client_ip(peer, &h), ip("2001:db8::7"));
        let h = xff(&["[2001:db8::8]"]);
        assert_eq!(t.client_ip(peer, &h), ip("2001:db8::8"));
        let h = xff(&["::ffff:198.51.100.9"]);
        assert_eq!(t.client_ip(peer, &h), ip("198.51.100.9"));
        assert_eq!(
            t.client_ip(ip("::ffff:10.0.0.5"), &xff(&["198.51.100.7"])),
            ip("198.51.100.7"),
            "an IPv4-mapped peer matches an IPv4 range"
        );
        let h = xff(&["2001:db8::1, 2001:db8:ffff::2"]);
        assert_eq!(t.client_ip(ip("2001:db8:ffff::3"), &h), ip("2001:db8::1"));
        // Garbage left of the client is the client's own business.
        let h = xff(&["not-an-ip, 198.51.100.7"]);
        assert_eq!(t.client_ip(peer, &h), ip("198.51.100.7"));
        // Only our own hops: the first of them.
        let h = xff(&["10.9.9.9, 10.1.1.1"]);
        assert_eq!(t.client_ip(peer, &h), ip("10.9.9.9"));
    }

    #[test]
    fn missing_or_malformed_header_gives_the_peer() {
        let t = proxies(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.5");
        assert_eq!(t.client_ip(peer, &HeaderMap::new()), peer);
        for bad in [
            "",
            "198.51.100.7,",
            "unknown",
            "198.51.100.7, garbage",
            "198.51.100.7, 10.1.1.1:x",
            "1.2.3.4.5",
            "[198.51.100.7]",
        ] {
            assert_eq!(t.client_ip(peer, &xff(&[bad])), peer, "{bad:?}");
        }
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"198.51.100.\xff").unwrap(),
        );
        assert_eq!(t.client_ip(peer, &h), peer, "non-ASCII header");
    }
}
