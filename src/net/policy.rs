//! The egress policy: which names a sandbox may reach through its proxy.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, ToSocketAddrs};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::net::log::{Connection, Via};

/// What a sandbox with an isolated network may reach through the proxy the
/// caller's process runs for it.
///
/// The program sees an HTTP proxy, a SOCKS5 proxy and a DNS server; every
/// connection through them is checked by name against these rules, the
/// name is resolved in the caller's process, and the addresses it resolves
/// to are checked again (loopback, private, link-local and other internal
/// ranges are refused unless [`allow_private`](Egress::allow_private)
/// covers them), so a name cannot be pointed at the caller's own network.
///
/// Rules: `deny` wins over `allow`; a name no rule matches is refused,
/// or handed to the [`ask`](Egress::ask) callback when there is one.
/// Addresses written as such (`1.2.3.4`, `[::1]`, and forms resolvers read
/// as addresses, such as `127.1`) are always refused: the policy is by
/// name.
///
/// How a program gets out:
///
/// - **Proxies.** The program's environment names an HTTP proxy
///   (`HTTP_PROXY`, `HTTPS_PROXY`: `CONNECT` tunnels and plain `http://`
///   requests, forwarded with `Connection: close`) and a SOCKS5 proxy
///   (`ALL_PROXY`, `socks5h://`: names are resolved by the proxy).
/// - **DNS and transparent addresses.** The sandbox's `/etc/resolv.conf`
///   names the engine's DNS server (UDP and TCP). It answers an `A` query
///   for an allowed name that resolves to an address the proxy may reach
///   with an address of the name's own in 127.100.0.0/16, the same for the
///   sandbox's whole life; a connection to that address on one of the
///   [`transparent_ports`](Egress::transparent_ports) is checked (name and
///   port) and relayed to the name. There is no IPv6 pool: `AAAA` and other
///   types get an empty answer for an allowed name. A name that is refused,
///   does not resolve or resolves only to refused addresses is answered
///   `NXDOMAIN`; the addresses are checked again at every connection, so a
///   name that changes its addresses (DNS rebinding) cannot reach an
///   internal one.
///
/// ```
/// use stockade::Egress;
/// let mut egress = Egress::new();
/// egress.allow("pypi.org:443").allow("*.pythonhosted.org").deny("evil.pythonhosted.org");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Egress {
    pub(crate) allow: Vec<String>,
    pub(crate) deny: Vec<String>,
    pub(crate) allow_private: Vec<String>,
    pub(crate) resolver: Option<Hook<dyn Resolve>>,
    pub(crate) ask: Option<Hook<AskFn>>,
    pub(crate) on_connection: Option<Hook<ConnectionFn>>,
    pub(crate) max_connections: Option<usize>,
    pub(crate) max_names: Option<usize>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) transparent_ports: Option<Vec<u16>>,
}

/// The `ask` callback's type.
pub(crate) type AskFn = dyn Fn(&Request) -> bool + Send + Sync;
/// The `on_connection` callback's type.
pub(crate) type ConnectionFn = dyn Fn(&Connection) + Send + Sync;

/// The default [`Egress::max_connections`].
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// The default [`Egress::max_names`].
pub(crate) const DEFAULT_MAX_NAMES: usize = 64;
/// The default [`Egress::connect_timeout`].
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`Egress::idle_timeout`].
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// The most names the transparent pool (127.100.0.0/16) holds.
pub(crate) const POOL_SIZE: usize = 65534;

impl PartialEq for Egress {
    fn eq(&self, other: &Egress) -> bool {
        self.allow == other.allow
            && self.deny == other.deny
            && self.allow_private == other.allow_private
            && self.resolver == other.resolver
            && self.ask == other.ask
            && self.on_connection == other.on_connection
            && self.max_connections == other.max_connections
            && self.max_names == other.max_names
            && self.connect_timeout == other.connect_timeout
            && self.idle_timeout == other.idle_timeout
            && self.transparent_ports == other.transparent_ports
    }
}

impl Egress {
    /// A policy that allows nothing yet.
    pub fn new() -> Egress {
        Egress::default()
    }

    /// Allows a name: `example.com`, `*.example.com` (any subdomain, not
    /// `example.com` itself), either with `:PORT` to allow that port only
    /// (any port without). Names are case-insensitive; a trailing dot is
    /// ignored. Checked when the sandbox is spawned
    /// ([`ConfigError::EgressRule`](crate::error::ConfigError::EgressRule)).
    pub fn allow(&mut self, rule: impl Into<String>) -> &mut Self {
        self.allow.push(rule.into());
        self
    }

    /// Denies a name, with the syntax of [`allow`](Egress::allow); a deny
    /// rule wins over every allow rule and over [`ask`](Egress::ask).
    pub fn deny(&mut self, rule: impl Into<String>) -> &mut Self {
        self.deny.push(rule.into());
        self
    }

    /// Lets an allowed name resolve into an address range the proxy refuses
    /// by default (loopback, private, link-local, ...): `10.0.0.0/8`,
    /// `::1/128`, or a bare address for that address alone.
    pub fn allow_private(&mut self, cidr: impl Into<String>) -> &mut Self {
        self.allow_private.push(cidr.into());
        self
    }

    /// How names are resolved in the caller's process; [`SystemResolver`]
    /// by default. [`Hosts`] is a fixed table.
    pub fn resolver(&mut self, r: impl Resolve + 'static) -> &mut Self {
        self.resolver = Some(Hook(Arc::new(r)));
        self
    }

    /// A callback consulted for a name no rule matches, instead of refusing
    /// it: `true` allows the connection. Its answers are remembered for the
    /// life of one sandbox per name and port (a DNS lookup asks with port
    /// 0, and an answer for port 0 covers every port), and calls are made
    /// one at a time, so a slow callback holds up other unknown names (and
    /// stopping the sandbox's proxy waits for it). A panic in it is a
    /// refusal.
    pub fn ask(&mut self, f: impl Fn(&Request) -> bool + Send + Sync + 'static) -> &mut Self {
        self.ask = Some(Hook(Arc::new(f)));
        self
    }

    /// A callback called with every attempt when it ends (allowed, refused
    /// or failed), from the proxy's threads, as it happens, one call at a
    /// time in the order of the log. It should return quickly: the
    /// proxy's threads wait for it. A panic in it is ignored.
    pub fn on_connection(&mut self, f: impl Fn(&Connection) + Send + Sync + 'static) -> &mut Self {
        self.on_connection = Some(Hook(Arc::new(f)));
        self
    }

    /// How many connections the proxy carries at once (default 256); one
    /// more is closed at once and logged as
    /// [`Denial::TooManyConnections`](crate::net::Denial::TooManyConnections).
    /// Zero is a configuration error.
    pub fn max_connections(&mut self, n: usize) -> &mut Self {
        self.max_connections = Some(n);
        self
    }

    /// How many distinct names the DNS server gives a transparent address
    /// (default 64, at most 65534); the next one is answered `REFUSED` and
    /// logged as [`Denial::TooManyNames`](crate::net::Denial::TooManyNames).
    pub fn max_names(&mut self, n: usize) -> &mut Self {
        self.max_names = Some(n);
        self
    }

    /// How long a connection to an allowed address may take (default 10 s).
    pub fn connect_timeout(&mut self, d: Duration) -> &mut Self {
        self.connect_timeout = Some(d);
        self
    }

    /// How long a relayed connection may carry no byte either way before it
    /// is closed (default 300 s). Reading a request's head is bounded by
    /// 30 s or this, whichever is shorter.
    pub fn idle_timeout(&mut self, d: Duration) -> &mut Self {
        self.idle_timeout = Some(d);
        self
    }

    /// The ports a program may reach without a proxy, by connecting to the
    /// address the sandbox's DNS server gave a name (default 80 and 443).
    /// Port 0 is a configuration error.
    pub fn transparent_ports(&mut self, ports: &[u16]) -> &mut Self {
        self.transparent_ports = Some(ports.to_vec());
        self
    }
}

/// A shared callback or resolver that keeps [`Egress`] `Clone`, `Debug`,
/// `UnwindSafe` and comparable (by identity).
pub(crate) struct Hook<T: ?Sized>(pub(crate) Arc<T>);

impl<T: ?Sized> Clone for Hook<T> {
    fn clone(&self) -> Self {
        Hook(self.0.clone())
    }
}

impl<T: ?Sized> fmt::Debug for Hook<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<callback>")
    }
}

impl<T: ?Sized> PartialEq for Hook<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

// A callback that panics is caught where it is called (the engine treats
// the panic as a refusal and drops nothing it shares with the caller), so
// no broken invariant of the policy can be observed after an unwind.
impl<T: ?Sized> UnwindSafe for Hook<T> {}
impl<T: ?Sized> RefUnwindSafe for Hook<T> {}

/// Resolves names for the proxy, in the caller's process.
pub trait Resolve: Send + Sync + fmt::Debug {
    /// The addresses of `name` (lowercase, without a trailing dot), in the
    /// order to try them. A name that does not exist is an error of kind
    /// [`NotFound`](std::io::ErrorKind::NotFound).
    fn resolve(&self, name: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The system's resolver (`getaddrinfo`), as the caller's process sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: &str) -> std::io::Result<Vec<IpAddr>> {
        let mut out: Vec<IpAddr> = Vec::new();
        for a in (name, 0u16).to_socket_addrs()? {
            if !out.contains(&a.ip()) {
                out.push(a.ip());
            }
        }
        if out.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("failed to resolve {name}: no address"),
            ));
        }
        Ok(out)
    }
}

/// A fixed table of names, as a resolver: for tests, and for pinning names
/// to addresses. A name not in it does not exist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hosts {
    names: HashMap<String, Vec<IpAddr>>,
}

impl Hosts {
    /// An empty table.
    pub fn new() -> Hosts {
        Hosts::default()
    }

    /// Adds an address of `name` (case-insensitive, a trailing dot
    /// ignored); adding several keeps their order.
    ///
    /// ```
    /// use stockade::{Egress, net::Hosts};
    /// let hosts = Hosts::new().add("db.internal", "10.0.0.5".parse().unwrap());
    /// Egress::new().resolver(hosts).allow("db.internal").allow_private("10.0.0.5");
    /// ```
    pub fn add(mut self, name: &str, addr: IpAddr) -> Hosts {
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        let list = self.names.entry(name).or_default();
        if !list.contains(&addr) {
            list.push(addr);
        }
        self
    }
}

impl Resolve for Hosts {
    fn resolve(&self, name: &str) -> std::io::Result<Vec<IpAddr>> {
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        match self.names.get(&name) {
            Some(list) if !list.is_empty() => Ok(list.clone()),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("failed to resolve {name}: not in the table"),
            )),
        }
    }
}

/// A connection the [`ask`](Egress::ask) callback decides about.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// The name, lowercase, without a trailing dot.
    pub host: String,
    /// The port; 0 for a DNS lookup (a name without a port yet).
    pub port: u16,
    /// How the program asked.
    pub via: Via,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ConfigError;
    use crate::net::problem::RuleProblem;

    #[test]
    fn every_bad_rule_is_a_typed_error_naming_it() {
        let cases: &[(&str, &str, RuleProblem)] = &[
            ("allow", "*.", RuleProblem::Wildcard),
            ("allow", "a..b", RuleProblem::EmptyLabel),
            ("deny", "a.*.b", RuleProblem::Wildcard),
            ("deny", "x.com:70000", RuleProblem::Port),
            ("allow_private", "10.0.0.0/33", RuleProblem::Cidr),
        ];
        for (option, rule, problem) in cases {
            let mut e = Egress::new();
            match *option {
                "allow" => e.allow(*rule),
                "deny" => e.deny(*rule),
                _ => e.allow_private(*rule),
            };
            match e.compile() {
                Err(ConfigError::EgressRule {
                    option: o,
                    rule: r,
                    problem: p,
                }) => {
                    assert_eq!((o, r.as_str(), p), (*option, *rule, *problem));
                }
                other => panic!("{rule}: {other:?}"),
            }
        }
        let e = Egress::new().allow("*.").compile().err().unwrap();
        assert_eq!(
            e.to_string(),
            "invalid egress allow rule \"*.\": a wildcard must be a leading \"*.\" followed by a domain, as in \"*.example.com\""
        );
        let e = Egress::new().max_connections(0).compile().err().unwrap();
        assert!(matches!(
            e,
            ConfigError::EgressRule {
                option: "max_connections",
                problem: RuleProblem::Zero,
                ..
            }
        ));
        let e = Egress::new()
            .transparent_ports(&[443, 0])
            .compile()
            .err()
            .unwrap();
        assert!(matches!(
            e,
            ConfigError::EgressRule {
                option: "transparent_ports",
                problem: RuleProblem::Zero,
                ..
            }
        ));
    }

    #[test]
    fn egress_is_clone_debug_unwind_safe_and_compares_callbacks_by_identity() {
        fn traits<T: Clone + fmt::Debug + Send + Sync + UnwindSafe + RefUnwindSafe + PartialEq>() {}
        traits::<Egress>();
        let mut a = Egress::new();
        a.allow("a.com").ask(|_| true);
        let b = a.clone();
        assert_eq!(a, b);
        let mut c = a.clone();
        c.ask(|_| true);
        assert_ne!(a, c, "a different callback");
        assert!(format!("{a:?}").contains("<callback>"));
    }

    #[test]
    fn hosts_resolve_their_names_only() {
        let h = Hosts::new().add("A.test.", "127.0.0.1".parse().unwrap());
        assert_eq!(
            h.resolve("a.test").unwrap(),
            vec!["127.0.0.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            h.resolve("b.test").unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
    }
}
