//! The sandbox's network: [`Network`], and the egress policy
//! ([`Egress`]) of a sandbox whose only way out is a proxy the caller's
//! process runs, with its log ([`Connection`]) and published ports.

mod egress;
pub(crate) mod engine;
pub mod log;
pub mod policy;
pub(crate) mod problem;
pub(crate) mod serve;
pub(crate) mod spec;

pub use log::{Connection, Denial, EgressVerdict, Via};
pub use policy::{Egress, Hosts, Request, Resolve, SystemResolver};
pub use problem::RuleProblem;

/// Feeds `bytes` to every parser of what a sandboxed program sends the
/// egress engine (a DNS message, an HTTP request head, a name or address
/// rule): each must answer or refuse, never panic. For the fuzz target.
pub(crate) fn fuzz_input(bytes: &[u8]) {
    use egress::{dns, http, rules};
    match dns::parse(bytes) {
        dns::Parsed::Query(q) => {
            let answer = dns::answer(&q, 0, Some((std::net::Ipv4Addr::new(127, 100, 0, 1), 300)));
            assert!(answer.len() >= 12, "a reply has a header");
            let refused = dns::answer(&q, 3, None);
            assert!(refused.len() >= 12, "a reply has a header");
            let _ = rules::normalize_name(&q.name);
        }
        dns::Parsed::Reply(r) => assert!(r.len() >= 12, "a reply has a header"),
        dns::Parsed::Ignore => {}
    }
    if let Some(t) = http::parse(bytes) {
        let _ = rules::normalize_name(&t.host);
        let _ = rules::is_literal(&t.host);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(rule) = rules::NameRule::parse(text) {
            let _ = rule.matches(text, Some(443), true);
        }
        if let Ok(c) = rules::Cidr::parse(text) {
            let _ = c.contains(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        }
        let _ = rules::is_literal(text);
    }
}

/// A sandbox's running engine, as its handle holds it.
pub(crate) struct Running {
    pub(crate) engine: serve::Engine,
    /// The published ports: the host address listened on (the port the
    /// kernel picked for port 0), and the sandbox's port.
    pub(crate) published: Vec<(std::net::SocketAddr, u16)>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("published", &self.published)
            .finish_non_exhaustive()
    }
}

/// How a sandbox reaches the network ([`Sandbox::network`](crate::Sandbox::network)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Network {
    /// A network namespace of the sandbox's own (the default): no
    /// interface but loopback, so nothing outside the sandbox is reachable
    /// over the network.
    #[default]
    Isolated,
    /// The host's network namespace: the program reaches what the caller
    /// can.
    Host,
    /// No network, without a network namespace, which saves the
    /// namespace's creation and teardown (about a fifth of the default
    /// policy's spawn cost). Opt-in, because it isolates less.
    ///
    /// What enforces it: the seccomp filter answers `socket(2)` for every
    /// address family but `AF_UNIX` with `EAFNOSUPPORT` (and
    /// `io_uring_setup` with `EPERM`, since io_uring can create sockets), and
    /// Landlock's abstract-unix-socket scope (ABI 6, Linux 6.12) stops
    /// connections to abstract sockets created outside the sandbox.
    /// Filesystem unix sockets are reachable only where the root filesystem
    /// exposes them, as with a network namespace.
    ///
    /// The trade-off against the namespace: the program shares the host's
    /// network namespace, so it sees the host's interfaces, routes and
    /// `/proc/net` (read-only information, no way to send), and a socket
    /// passed in through a descriptor keeps working (also true with a
    /// namespace). Needs the seccomp filter on (a configuration error
    /// otherwise) and a kernel with Landlock ABI 6, which is a hard
    /// requirement unless the Landlock policy's scope compatibility is
    /// best-effort. The enforcement report says `network: blocked`.
    #[cfg(all(feature = "seccomp", feature = "landlock"))]
    Blocked,
    /// A network namespace of the sandbox's own whose only way out is an
    /// egress proxy that the caller's process runs, under the policy given
    /// by [`Sandbox::egress`](crate::Sandbox::egress) (with none given, an
    /// empty policy: nothing is reachable, every attempt is logged). See
    /// [`Egress`] for how traffic leaves and what the program sees.
    Filtered,
}
