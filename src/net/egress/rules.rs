//! The egress rules' syntax and matching: name patterns with an optional
//! port, address ranges, and the private ranges refused by default.

use std::net::{IpAddr, Ipv4Addr};

use crate::net::problem::RuleProblem;

/// The longest name DNS can carry, without the trailing dot.
const MAX_NAME: usize = 253;
/// The longest label.
const MAX_LABEL: usize = 63;

/// A parsed `allow` or `deny` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NameRule {
    /// The rule as the caller wrote it (for the log).
    pub(crate) text: String,
    /// The name, lowercase, without a trailing dot; for a wildcard, the
    /// domain after `*.`.
    pub(crate) name: String,
    /// `*.name`: any subdomain of `name`, not `name` itself.
    pub(crate) wildcard: bool,
    /// The port it is limited to; `None` for any.
    pub(crate) port: Option<u16>,
}

impl NameRule {
    /// Parses `name`, `*.domain`, either with `:PORT`.
    pub(crate) fn parse(text: &str) -> Result<NameRule, RuleProblem> {
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(parse_port(port)?)),
            None => (text, None),
        };
        let (wildcard, rest) = match host.strip_prefix("*.") {
            Some(rest) => {
                if rest.is_empty() || rest == "." {
                    return Err(RuleProblem::Wildcard);
                }
                (true, rest)
            }
            None => (false, host),
        };
        if rest.contains('*') {
            return Err(RuleProblem::Wildcard);
        }
        let name = normalize_name(rest)?;
        Ok(NameRule {
            text: text.to_owned(),
            name,
            wildcard,
            port,
        })
    }

    /// Whether the rule covers `host` (normalized) on `port`; `None` asks
    /// about the name alone (a DNS lookup): a rule with a port covers it
    /// only when `any_port_ok`.
    pub(crate) fn matches(&self, host: &str, port: Option<u16>, any_port_ok: bool) -> bool {
        let name_ok = if self.wildcard {
            host.len() > self.name.len() + 1
                && host.ends_with(self.name.as_str())
                && host.as_bytes()[host.len() - self.name.len() - 1] == b'.'
        } else {
            host == self.name
        };
        if !name_ok {
            return false;
        }
        match (self.port, port) {
            (None, _) => true,
            (Some(p), Some(q)) => p == q,
            (Some(_), None) => any_port_ok,
        }
    }
}

fn parse_port(text: &str) -> Result<u16, RuleProblem> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || text.len() > 5 {
        return Err(RuleProblem::Port);
    }
    match text.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(RuleProblem::Port),
    }
}

/// Lowercases `name`, strips one trailing dot and checks it is a DNS name
/// of letters, digits, `-` and `_`.
pub(crate) fn normalize_name(name: &str) -> Result<String, RuleProblem> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err(RuleProblem::EmptyName);
    }
    if name.len() > MAX_NAME {
        return Err(RuleProblem::NameTooLong);
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(RuleProblem::EmptyLabel);
        }
        if label.len() > MAX_LABEL {
            return Err(RuleProblem::LabelTooLong);
        }
        if label.contains('*') {
            return Err(RuleProblem::Wildcard);
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(RuleProblem::BadCharacter);
        }
    }
    Ok(name.to_ascii_lowercase())
}

/// Whether a host as a client wrote it is an address rather than a name:
/// an IP literal, or anything the system's resolver would read as one
/// (`127.1`, `0x7f.1`: a last label that is a number). No top-level
/// domain is numeric.
pub(crate) fn is_literal(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.parse::<IpAddr>().is_ok() || host.starts_with('[') || host.contains(':') {
        return true;
    }
    let last = host.rsplit('.').next().unwrap_or(host);
    !last.is_empty()
        && (last.bytes().all(|b| b.is_ascii_digit())
            || (last.len() > 2 && last.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("0x"))))
}

/// An address range of `allow_private`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ADDR/PREFIX` or a bare address (a single host).
    pub(crate) fn parse(text: &str) -> Result<Cidr, RuleProblem> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| RuleProblem::Cidr)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(RuleProblem::Cidr);
                }
                let p: u8 = p.parse().map_err(|_| RuleProblem::Cidr)?;
                if p > max {
                    return Err(RuleProblem::Cidr);
                }
                p
            }
        };
        Ok(Cidr { addr, prefix })
    }

    /// Whether `ip` is in the range (an IPv4-mapped IPv6 address counts as
    /// its IPv4 address).
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    if a[..full] != b[..full] {
        return false;
    }
    let rest = prefix % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[full] & mask == b[full] & mask
}

/// An IPv4-mapped IPv6 address as its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Whether `ip` is one the proxy refuses unless `allow_private` covers it:
/// loopback, private, shared (CGNAT), link-local (cloud metadata services
/// live there), unspecified, "this network", multicast, broadcast,
/// documentation and reserved IPv4 ranges; unique-local, link-local,
/// loopback, unspecified and multicast IPv6; NAT64 and 6to4 addresses are
/// judged by the IPv4 address they embed.
pub(crate) fn is_private(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                let [a, b] = hi.to_be_bytes();
                let [c, d] = lo.to_be_bytes();
                is_private_v4(Ipv4Addr::new(a, b, c, d))
            };
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4
            // address they embed: check that one.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return embedded(s[6], s[7]);
            }
            if s[0] == 0x2002 {
                return embedded(s[1], s[2]);
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
                || (s[0] & 0xffc0) == 0xfe80 // fe80::/10 link local
                || (s[0] & 0xffc0) == 0xfec0 // fec0::/10 site local (deprecated)
                || (s[0] == 0x64 && s[1] == 0xff9b) // 64:ff9b:1::/48, local-use NAT64
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[..6] == [0; 6]) // ::/96 IPv4-compatible, deprecated
        }
    }
}

fn is_private_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    a == 0 // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link local, cloud metadata services
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // protocol assignments, documentation
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224 // multicast, reserved, broadcast
}

/// Whether the proxy may connect to `ip` given the `allow_private` ranges.
pub(crate) fn address_allowed(ip: IpAddr, private: &[Cidr]) -> bool {
    !is_private(ip) || private.iter().any(|c| c.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_case_insensitively_with_a_trailing_dot() {
        let r = NameRule::parse("Example.COM.").unwrap();
        assert_eq!(r.name, "example.com");
        assert!(!r.wildcard);
        assert_eq!(r.port, None);
        let r = NameRule::parse("*.Example.com:443").unwrap();
        assert_eq!(
            (r.name.as_str(), r.wildcard, r.port),
            ("example.com", true, Some(443))
        );
        assert_eq!(r.text, "*.Example.com:443");
        assert!(NameRule::parse("a_b.example").is_ok());
    }

    #[test]
    fn malformed_names_are_refused_with_a_reason() {
        let long_label = format!("{}.com", "a".repeat(64));
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        let cases: &[(&str, RuleProblem)] = &[
            ("", RuleProblem::EmptyName),
            (".", RuleProblem::EmptyName),
            ("a..b", RuleProblem::EmptyLabel),
            (".a", RuleProblem::EmptyLabel),
            (&long_label, RuleProblem::LabelTooLong),
            (&long_name, RuleProblem::NameTooLong),
            ("exa mple.com", RuleProblem::BadCharacter),
            ("bücher.de", RuleProblem::BadCharacter),
            ("a/b", RuleProblem::BadCharacter),
            ("*.", RuleProblem::Wildcard),
            ("*", RuleProblem::Wildcard),
            ("a.*.b", RuleProblem::Wildcard),
            ("*foo.com", RuleProblem::Wildcard),
            ("foo*.com", RuleProblem::Wildcard),
            ("*.*.com", RuleProblem::Wildcard),
            ("a.com:0", RuleProblem::Port),
            ("a.com:70000", RuleProblem::Port),
            ("a.com:https", RuleProblem::Port),
            ("a.com:", RuleProblem::Port),
            ("a.com:+80", RuleProblem::Port),
            ("a.com:1:2", RuleProblem::BadCharacter),
        ];
        for (text, problem) in cases {
            assert_eq!(
                NameRule::parse(text).as_ref().err(),
                Some(problem),
                "{text:?}"
            );
        }
    }

    #[test]
    fn wildcards_cover_subdomains_not_the_apex() {
        let r = NameRule::parse("*.example.com").unwrap();
        assert!(r.matches("a.example.com", Some(80), false));
        assert!(r.matches("a.b.example.com", Some(80), false));
        assert!(!r.matches("example.com", Some(80), false));
        assert!(!r.matches("badexample.com", Some(80), false));
        let r = NameRule::parse("example.com:443").unwrap();
        assert!(r.matches("example.com", Some(443), false));
        assert!(!r.matches("example.com", Some(80), false));
        assert!(!r.matches("example.com", None, false));
        assert!(r.matches("example.com", None, true));
    }

    #[test]
    fn literals_include_what_resolvers_read_as_numbers() {
        for lit in [
            "1.2.3.4",
            "127.1",
            "0x7f.1",
            "::1",
            "[::1]",
            "2130706433",
            "1.2.3.4.",
        ] {
            assert!(is_literal(lit), "{lit}");
        }
        for name in ["example.com", "a1.b2", "x.0xfoo.com"] {
            assert!(!is_literal(name), "{name}");
        }
    }

    /// The check takes any string: a last label whose second byte lies
    /// inside a character once made it slice off a character boundary and
    /// panic (found by the `egress_input` fuzz target, which calls it on
    /// raw input; the engine's callers validate names as ASCII first, so no
    /// program could reach it).
    #[test]
    fn literal_check_takes_any_character() {
        for host in [
            "*.F\u{b9}FFFexample3",
            "a.\u{b9}x",
            "\u{b9}",
            "x.0\u{e9}1",
            "a.\u{fffd}\u{fffd}x",
        ] {
            assert!(!is_literal(host), "{host}");
        }
    }

    #[test]
    fn cidrs_parse_and_contain() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        let c = Cidr::parse("127.0.0.1").unwrap();
        assert!(c.contains("127.0.0.1".parse().unwrap()));
        assert!(!c.contains("127.0.0.2".parse().unwrap()));
        let c = Cidr::parse("fe80::/10").unwrap();
        assert!(c.contains("febf::1".parse().unwrap()));
        assert!(Cidr::parse("::1/128").is_ok());
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "host/8",
            "10.0.0.0/",
            "10.0.0.0/x",
            "",
        ] {
            assert_eq!(Cidr::parse(bad), Err(RuleProblem::Cidr), "{bad}");
        }
    }

    #[test]
    fn private_ranges_are_refused_unless_allowed() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::808:808",
            "2002:a00:1::",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_private(ip), "{ip}");
            assert!(!address_allowed(ip, &[]), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1",
            "8.8.8.8",
            "192.0.32.8",
            "198.51.1.1",
            "203.0.1.1",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_private(ip), "{ip}");
        }
        let lo = [Cidr::parse("127.0.0.1/32").unwrap()];
        assert!(address_allowed("127.0.0.1".parse().unwrap(), &lo));
        assert!(!address_allowed("127.0.0.2".parse().unwrap(), &lo));
    }
}
