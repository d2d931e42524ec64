//! The egress log: one [`Connection`] for every attempt a sandbox made to
//! reach out, and what the proxy decided.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

/// One attempt to reach out of the sandbox, once it has ended.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Connection {
    /// When the attempt began (in serialized form, milliseconds since the
    /// Unix epoch).
    #[cfg_attr(feature = "serde", serde(with = "epoch_ms"))]
    pub time: SystemTime,
    /// How the program asked.
    pub via: Via,
    /// The name asked for; `None` when there was none (a literal address,
    /// a request that did not parse, a published port).
    pub host: Option<String>,
    /// The port asked for (for [`Via::Dns`], 0; for [`Via::Published`],
    /// the port inside the sandbox).
    pub port: u16,
    /// The address connected to (or last tried); for [`Via::Dns`], the
    /// address the name was given. `None` when no address was reached.
    pub address: Option<SocketAddr>,
    /// What the policy decided.
    pub verdict: EgressVerdict,
    /// Why an allowed attempt failed or ended early (a connection refused,
    /// a timeout), or what was wrong with a request.
    pub error: Option<String>,
    /// Bytes from the program to the destination.
    pub sent: u64,
    /// Bytes from the destination to the program.
    pub received: u64,
}

/// How a program asked to reach out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Via {
    /// An HTTP proxy `CONNECT` (HTTPS and other tunnels).
    HttpConnect,
    /// A plain HTTP request through the HTTP proxy.
    HttpForward,
    /// A SOCKS5 `CONNECT`.
    Socks5,
    /// A direct connection to the address the sandbox's DNS server gave a
    /// name.
    Transparent,
    /// A DNS query.
    Dns,
    /// A connection from the host to a published port of the sandbox.
    Published,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Via::HttpConnect => "http-connect",
            Via::HttpForward => "http",
            Via::Socks5 => "socks5",
            Via::Transparent => "transparent",
            Via::Dns => "dns",
            Via::Published => "published",
        })
    }
}

/// What the egress policy decided about an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum EgressVerdict {
    /// Allowed (the connection may still have failed: see
    /// [`Connection::error`]).
    Allowed {
        /// The allow rule that matched as written, `"ask"` when the
        /// [`ask`](crate::Egress::ask) callback allowed it, `"publish"` for
        /// a published port.
        rule: String,
    },
    /// Refused.
    Denied(Denial),
}

/// Why an attempt was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Denial {
    /// No rule matches the name (and there is no `ask` callback).
    NoRule,
    /// A deny rule matches.
    DenyRule {
        /// The rule as written.
        rule: String,
    },
    /// The `ask` callback said no (or panicked).
    Asked,
    /// Every address the name resolves to is in a range the proxy refuses
    /// (loopback, private, link-local, ...) and `allow_private` does not
    /// cover.
    PrivateAddress {
        /// The first such address.
        address: IpAddr,
    },
    /// The program asked for an address rather than a name.
    LiteralAddress,
    /// The name does not resolve.
    Unresolved,
    /// Too many connections at once
    /// ([`max_connections`](crate::Egress::max_connections)).
    TooManyConnections,
    /// Too many names given a transparent address
    /// ([`max_names`](crate::Egress::max_names)).
    TooManyNames,
    /// The request did not parse, or asked for something the proxy does
    /// not do.
    BadRequest,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denial::NoRule => f.write_str("no egress rule allows this name"),
            Denial::DenyRule { rule } => write!(f, "the egress rule deny {rule:?} matches"),
            Denial::Asked => f.write_str("refused when asked"),
            Denial::PrivateAddress { address } => write!(
                f,
                "the name resolves to {address}, an internal address the policy does not allow"
            ),
            Denial::LiteralAddress => {
                f.write_str("addresses are not allowed, only names the policy allows")
            }
            Denial::Unresolved => f.write_str("the name does not resolve"),
            Denial::TooManyConnections => f.write_str("too many connections at once"),
            Denial::TooManyNames => f.write_str("too many distinct names"),
            Denial::BadRequest => f.write_str("the request is malformed or not supported"),
        }
    }
}

#[cfg(feature = "serde")]
mod epoch_ms {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    pub(super) fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let ms = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        s.serialize_u64(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<SystemTime, D::Error> {
        let ms = <u64 as serde::Deserialize>::deserialize(d)?;
        Ok(UNIX_EPOCH + Duration::from_millis(ms))
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_connection_serializes_with_its_time_in_milliseconds() {
        let c = Connection {
            time: UNIX_EPOCH + Duration::from_millis(1234),
            via: Via::HttpConnect,
            host: Some("a.test".into()),
            port: 443,
            address: Some("127.0.0.1:443".parse().unwrap()),
            verdict: EgressVerdict::Denied(Denial::PrivateAddress {
                address: "127.0.0.1".parse().unwrap(),
            }),
            error: None,
            sent: 1,
            received: 2,
        };
        let text = serde_json::to_string(&c).unwrap();
        assert!(text.contains("\"time\":1234"), "{text}");
        assert!(text.contains("\"via\":\"http_connect\""), "{text}");
        let back: Connection = serde_json::from_str(&text).unwrap();
        assert_eq!(back, c);
    }
}
