//! The egress engine: the proxies, DNS server and published ports a
//! sandbox with an isolated network reaches the outside through, run on
//! threads of the caller's process.
//!
//! The sandbox side creates listening sockets in the sandbox's network
//! namespace ([`CompiledEgress::listener_specs`]) and hands them over; the
//! engine accepts on them from the caller's side, checks the policy, and
//! opens outbound connections in the caller's namespace. One acceptor
//! thread polls every listener and the stop signal; each accepted
//! connection gets a thread of its own (at most
//! [`max_connections`](crate::Egress::max_connections)) that reads the
//! request and then relays both ways with `poll`.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::error::ConfigError;
use crate::net::egress::rules::{Cidr, NameRule, address_allowed, is_literal, normalize_name};
use crate::net::egress::{dns, relay};
use crate::net::log::{Connection, Denial, EgressVerdict, Via};
use crate::net::policy::{
    AskFn, ConnectionFn, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, Hook, Request, Resolve,
};
use crate::net::policy::{
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_NAMES, Egress, POOL_SIZE, SystemResolver,
};
use crate::net::problem::RuleProblem;
use crate::net::spec::{SocketKind, SocketSpec};

/// The HTTP proxy's address in the sandbox.
pub(crate) const HTTP_PROXY: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 3128);
/// The SOCKS5 proxy's address in the sandbox.
pub(crate) const SOCKS_PROXY: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 1080);
/// The DNS server's address in the sandbox.
pub(crate) const DNS_SERVER: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 53)), 53);
/// The TTL of the DNS server's answers: a name keeps its address for the
/// engine's life, so a resolver may keep it as long as it likes.
pub(crate) const DNS_TTL: u32 = 300;
/// The most DNS queries answered at once; more are answered `SERVFAIL`.
pub(crate) const DNS_INFLIGHT: usize = 16;
/// The longest a client may take to send a request's head (or less: the
/// idle timeout).
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// The stack of the engine's threads: enough for the system resolver.
pub(crate) const STACK: usize = 256 * 1024;

/// A checked [`Egress`](crate::Egress), shared by every spawn of a sandbox.
#[derive(Debug)]
pub(crate) struct CompiledEgress {
    pub(crate) allow: Vec<NameRule>,
    pub(crate) deny: Vec<NameRule>,
    pub(crate) private: Vec<Cidr>,
    pub(crate) resolver: Arc<dyn Resolve>,
    pub(crate) ask: Option<Hook<AskFn>>,
    pub(crate) on_connection: Option<Hook<ConnectionFn>>,
    pub(crate) max_connections: usize,
    pub(crate) max_names: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) transparent_ports: Vec<u16>,
}

impl CompiledEgress {
    /// The environment that points a program at the proxies. `NO_PROXY`
    /// keeps the sandbox's own loopback services direct.
    pub(crate) fn proxy_env(&self) -> Vec<(String, String)> {
        let http = format!("http://{HTTP_PROXY}");
        let socks = format!("socks5h://{SOCKS_PROXY}");
        let none = "localhost,127.0.0.1,::1".to_owned();
        let mut env = Vec::new();
        for (k, v) in [
            ("HTTP_PROXY", &http),
            ("HTTPS_PROXY", &http),
            ("ALL_PROXY", &socks),
            ("NO_PROXY", &none),
        ] {
            env.push((k.to_owned(), v.clone()));
            env.push((k.to_ascii_lowercase(), v.clone()));
        }
        env
    }

    /// The sandbox's `/etc/resolv.conf`: the engine's DNS server only, no
    /// search domains (a short name would otherwise be asked for under each
    /// of the host's), short timeouts (the server answers locally).
    pub(crate) fn resolv_conf(&self) -> Vec<u8> {
        format!(
            "nameserver {}\noptions timeout:2 attempts:2 ndots:1\n",
            DNS_SERVER.ip()
        )
        .into_bytes()
    }

    /// The sockets the sandbox side creates in the sandbox's network
    /// namespace, in the order [`Engine::start`] takes them.
    pub(crate) fn listener_specs(&self) -> Vec<SocketSpec> {
        let mut v = vec![
            SocketSpec {
                kind: SocketKind::Listen,
                addr: HTTP_PROXY,
            },
            SocketSpec {
                kind: SocketKind::Listen,
                addr: SOCKS_PROXY,
            },
            SocketSpec {
                kind: SocketKind::Datagram,
                addr: DNS_SERVER,
            },
            SocketSpec {
                kind: SocketKind::Listen,
                addr: DNS_SERVER,
            },
        ];
        for &p in &self.transparent_ports {
            v.push(SocketSpec {
                kind: SocketKind::Listen,
                addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), p),
            });
        }
        v
    }

    /// The bound on reading a request's head.
    fn head_timeout(&self) -> Duration {
        HEAD_TIMEOUT.min(self.idle_timeout)
    }
}

/// The sockets of [`CompiledEgress::listener_specs`], created in the
/// sandbox's namespace, in that order.
#[derive(Debug, Default)]
pub(crate) struct Listeners {
    pub(crate) sockets: Vec<OwnedFd>,
}

/// Creates unconnected TCP sockets in the sandbox's network namespace, for
/// connections to its published ports.
pub(crate) trait SocketFactory: Send + Sync {
    /// A new TCP socket, IPv6 when `v6`.
    fn stream_socket(&self, v6: bool) -> io::Result<OwnedFd>;
}

/// A port of the sandbox published on the host.
#[derive(Debug)]
pub(crate) struct Published {
    /// The listener on the host, already bound.
    pub(crate) host: TcpListener,
    /// The port inside the sandbox its connections go to (on 127.0.0.1).
    pub(crate) sandbox_port: u16,
}

/// The transparent addresses given to names.
#[derive(Default)]
pub(crate) struct Pool {
    pub(crate) by_name: HashMap<String, Ipv4Addr>,
    pub(crate) by_addr: HashMap<Ipv4Addr, String>,
}

/// The pool's address number `n` (from 1): 127.100.0.0/16.
pub(crate) fn pool_addr(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 100, (n >> 8) as u8, n as u8)
}

/// What the engine's threads share.
pub(crate) struct Shared {
    pub(crate) policy: Option<Arc<CompiledEgress>>,
    pub(crate) factory: Arc<dyn SocketFactory>,
    /// Readable once the engine stops; every wait polls it.
    pub(crate) stop: OwnedFd,
    pub(crate) stopping: AtomicBool,
    pub(crate) log: Mutex<Vec<Connection>>,
    /// Held while an attempt is logged and the callback told, so that the
    /// callback sees attempts in the log's order.
    pub(crate) recording: Mutex<()>,
    pub(crate) active: AtomicUsize,
    pub(crate) max_connections: usize,
    pub(crate) dns_inflight: AtomicUsize,
    pub(crate) pool: Mutex<Pool>,
    /// The `ask` callback's answers, by name and port (0: any port).
    pub(crate) asked: Mutex<HashMap<(String, u16), bool>>,
    /// Names whose DNS outcome has been logged, with the outcome.
    pub(crate) dns_logged: Mutex<HashSet<(String, String)>>,
    pub(crate) threads: Mutex<Vec<JoinHandle<()>>>,
    /// Told of each refused connection: the sandbox's live stream of
    /// refusals ([`Sandbox::on_denial`](crate::Sandbox::on_denial)).
    pub(crate) on_refused: Option<Hook<ConnectionFn>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic is never raised while one of these is held (callbacks run
    // outside them or under catch_unwind), but a poisoned lock must not take
    // the engine down either.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connection's place under `max_connections`, given back on drop.
pub(crate) struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why `Shared::open` did not give a connection.
pub(crate) enum OpenError {
    /// The policy refused; with the error to log, if any.
    Denied(Denial, Option<String>),
    /// Allowed, but no address could be connected to.
    Failed {
        rule: String,
        address: Option<SocketAddr>,
        error: io::Error,
    },
}

/// An attempt in progress, logged once when it ends.
pub(crate) struct Attempt {
    pub(crate) conn: Connection,
}

impl Attempt {
    pub(crate) fn new(via: Via) -> Attempt {
        Attempt {
            conn: Connection {
                time: SystemTime::now(),
                via,
                host: None,
                port: 0,
                address: None,
                verdict: EgressVerdict::Denied(Denial::BadRequest),
                error: None,
                sent: 0,
                received: 0,
            },
        }
    }

    pub(crate) fn deny(&mut self, d: Denial, error: Option<String>) {
        self.conn.verdict = EgressVerdict::Denied(d);
        self.conn.error = error;
    }

    pub(crate) fn allow(&mut self, rule: String) {
        self.conn.verdict = EgressVerdict::Allowed { rule };
    }
}

impl Shared {
    pub(crate) fn stop_fd(&self) -> BorrowedFd<'_> {
        self.stop.as_fd()
    }

    pub(crate) fn policy(&self) -> &CompiledEgress {
        // Only the proxies call this, and they run only with a policy.
        self.policy
            .as_deref()
            .expect("a proxy runs only with a policy")
    }

    pub(crate) fn head_deadline(&self) -> Instant {
        let t = self
            .policy
            .as_ref()
            .map_or(HEAD_TIMEOUT, |p| p.head_timeout());
        Instant::now() + t
    }

    pub(crate) fn idle_timeout(&self) -> Duration {
        self.policy
            .as_ref()
            .map_or(DEFAULT_IDLE_TIMEOUT, |p| p.idle_timeout)
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        self.policy
            .as_ref()
            .map_or(DEFAULT_CONNECT_TIMEOUT, |p| p.connect_timeout)
    }

    pub(crate) fn slot(self: &Arc<Self>) -> Option<Slot> {
        let n = self.active.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(self.clone());
        (n < self.max_connections).then_some(slot)
    }

    /// Logs an attempt that ended and tells the `on_connection` callback.
    pub(crate) fn record(&self, attempt: Attempt) {
        let conn = attempt.conn;
        let _order = lock(&self.recording);
        lock(&self.log).push(conn.clone());
        if let Some(hook) = self.policy.as_ref().and_then(|p| p.on_connection.as_ref()) {
            let f = &hook.0;
            let _ = catch_unwind(AssertUnwindSafe(|| f(&conn)));
        }
        if let (Some(hook), EgressVerdict::Denied(_)) = (&self.on_refused, &conn.verdict) {
            let f = &hook.0;
            let _ = catch_unwind(AssertUnwindSafe(|| f(&conn)));
        }
    }

    /// The policy's verdict on `host` (normalized) at `port` (`None`: the
    /// name alone, for DNS): the allow rule's text, or why not.
    pub(crate) fn decide(&self, host: &str, port: Option<u16>, via: Via) -> Result<String, Denial> {
        let p = self.policy();
        if let Some(d) = p.deny.iter().find(|d| d.matches(host, port, false)) {
            return Err(Denial::DenyRule {
                rule: d.text.clone(),
            });
        }
        if let Some(a) = p.allow.iter().find(|a| a.matches(host, port, true)) {
            return Ok(a.text.clone());
        }
        let Some(ask) = &p.ask else {
            return Err(Denial::NoRule);
        };
        let port = port.unwrap_or(0);
        // One question at a time, so that the A and AAAA lookups of one
        // name, or a lookup and its connection, ask once.
        let mut asked = lock(&self.asked);
        let known = asked
            .get(&(host.to_owned(), port))
            .or_else(|| asked.get(&(host.to_owned(), 0)))
            .copied();
        let yes = match known {
            Some(yes) => yes,
            None => {
                let req = Request {
                    host: host.to_owned(),
                    port,
                    via,
                };
                let f = &ask.0;
                let yes = catch_unwind(AssertUnwindSafe(|| f(&req))).unwrap_or(false);
                asked.insert((host.to_owned(), port), yes);
                yes
            }
        };
        if yes {
            Ok("ask".to_owned())
        } else {
            Err(Denial::Asked)
        }
    }

    /// Resolves `host` and keeps the addresses the policy lets the proxy
    /// connect to.
    fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, (Denial, Option<String>)> {
        let p = self.policy();
        let r = &p.resolver;
        let resolved = catch_unwind(AssertUnwindSafe(|| r.resolve(host)))
            .unwrap_or_else(|_| Err(io::Error::other("the resolver panicked")));
        let addrs = match resolved {
            Ok(a) if !a.is_empty() => a,
            Ok(_) => return Err((Denial::Unresolved, Some("no address".to_owned()))),
            Err(e) => return Err((Denial::Unresolved, Some(e.to_string()))),
        };
        let ok: Vec<IpAddr> = addrs
            .iter()
            .copied()
            .filter(|a| address_allowed(*a, &p.private))
            .collect();
        if ok.is_empty() {
            return Err((Denial::PrivateAddress { address: addrs[0] }, None));
        }
        Ok(ok)
    }

    /// Checks `host:port` against the policy, resolves it and connects.
    pub(crate) fn open(
        &self,
        host: &str,
        port: u16,
        via: Via,
    ) -> Result<(TcpStream, SocketAddr, String), OpenError> {
        let rule = self
            .decide(host, Some(port), via)
            .map_err(|d| OpenError::Denied(d, None))?;
        let addrs = self
            .addresses(host)
            .map_err(|(d, e)| OpenError::Denied(d, e))?;
        let mut last = None;
        for ip in addrs {
            let addr = SocketAddr::new(ip, port);
            match relay::connect(addr, self.connect_timeout(), self.stop_fd()) {
                Ok(s) => return Ok((s, addr, rule)),
                Err(e) => {
                    let stop = self.stopping.load(Ordering::Acquire);
                    last = Some((addr, e));
                    if stop {
                        break;
                    }
                }
            }
        }
        let (address, error) = match last {
            Some((a, e)) => (Some(a), e),
            None => (None, io::Error::other("no address")),
        };
        Err(OpenError::Failed {
            rule,
            address,
            error,
        })
    }

    /// Relays between `client` and `upstream`, counting into `attempt`.
    pub(crate) fn relay(&self, client: &TcpStream, upstream: &TcpStream, attempt: &mut Attempt) {
        let mut totals = relay::Totals::default();
        relay::relay(
            client,
            upstream,
            self.stop_fd(),
            self.idle_timeout(),
            &mut totals,
        );
        attempt.conn.sent += totals.sent;
        attempt.conn.received += totals.received;
        if totals.error.is_some() {
            attempt.conn.error = totals.error;
        }
    }

    /// The name the transparent address `ip` was given.
    pub(crate) fn pool_name(&self, ip: IpAddr) -> Option<String> {
        let IpAddr::V4(v4) = ip else { return None };
        lock(&self.pool).by_addr.get(&v4).cloned()
    }

    /// Logs a DNS outcome for `name` once per distinct outcome.
    fn dns_log(
        &self,
        name: &str,
        verdict: EgressVerdict,
        address: Option<Ipv4Addr>,
        error: Option<String>,
    ) {
        let key = (name.to_owned(), format!("{verdict:?}"));
        if !lock(&self.dns_logged).insert(key) {
            return;
        }
        let mut a = Attempt::new(Via::Dns);
        a.conn.host = Some(name.to_owned());
        a.conn.address = address.map(|ip| SocketAddr::new(IpAddr::V4(ip), 0));
        a.conn.verdict = verdict;
        a.conn.error = error;
        self.record(a);
    }

    /// The transparent address of `name`, giving it one if the policy
    /// allows the name and it resolves to an address the proxy may reach;
    /// otherwise the response code to answer with.
    fn dns_lookup(&self, name: &str) -> Result<Ipv4Addr, u8> {
        if let Some(ip) = lock(&self.pool).by_name.get(name) {
            return Ok(*ip);
        }
        let deny = |d: Denial, e: Option<String>, rcode: u8| {
            self.dns_log(name, EgressVerdict::Denied(d), None, e);
            Err(rcode)
        };
        if is_literal(name) {
            return deny(Denial::LiteralAddress, None, dns::NXDOMAIN);
        }
        let rule = match self.decide(name, None, Via::Dns) {
            Ok(rule) => rule,
            Err(d) => return deny(d, None, dns::NXDOMAIN),
        };
        // Resolving now answers NXDOMAIN for a name that does not exist,
        // rather than an address that fails when connected to. The
        // addresses are checked again at each connection (they may change).
        if let Err((d, e)) = self.addresses(name) {
            return deny(d, e, dns::NXDOMAIN);
        }
        let policy = self.policy();
        let mut pool = lock(&self.pool);
        if let Some(ip) = pool.by_name.get(name) {
            return Ok(*ip);
        }
        if pool.by_name.len() >= policy.max_names {
            drop(pool);
            return deny(Denial::TooManyNames, None, dns::REFUSED);
        }
        let ip = pool_addr(pool.by_name.len() + 1);
        pool.by_name.insert(name.to_owned(), ip);
        pool.by_addr.insert(ip, name.to_owned());
        drop(pool);
        self.dns_log(name, EgressVerdict::Allowed { rule }, Some(ip), None);
        Ok(ip)
    }

    /// The answer to a DNS message, if it gets one.
    pub(crate) fn dns_answer(&self, msg: &[u8]) -> Option<Vec<u8>> {
        let q = match dns::parse(msg) {
            dns::Parsed::Ignore => return None,
            dns::Parsed::Reply(r) => return Some(r),
            dns::Parsed::Query(q) => q,
        };
        let name = match normalize_name(&q.name) {
            Ok(n) => n,
            Err(_) => return Some(dns::answer(&q, dns::NXDOMAIN, None)),
        };
        Some(match self.dns_lookup(&name) {
            Err(rcode) => dns::answer(&q, rcode, None),
            // No IPv6 pool: AAAA and every other type get no data, which
            // makes programs use the A record.
            Ok(ip) if q.qtype == dns::TYPE_A => dns::answer(&q, dns::NOERROR, Some((ip, DNS_TTL))),
            Ok(_) => dns::answer(&q, dns::NOERROR, None),
        })
    }

    /// Runs `f` on a thread of the engine's, joined when it stops.
    pub(crate) fn spawn(
        self: &Arc<Self>,
        f: impl FnOnce(&Arc<Shared>) + Send + 'static,
    ) -> io::Result<()> {
        let me = self.clone();
        let h = std::thread::Builder::new()
            .name("stockade-egress".into())
            .stack_size(STACK)
            .spawn(move || f(&me))?;
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.is_finished());
        threads.push(h);
        Ok(())
    }
}

/// Fills `a` from a failed [`Shared::open`].
pub(crate) fn fail(a: &mut Attempt, e: OpenError) {
    match e {
        OpenError::Denied(d, error) => a.deny(d, error),
        OpenError::Failed {
            rule,
            address,
            error,
        } => {
            a.allow(rule);
            a.conn.address = address;
            a.conn.error = Some(format!("failed to connect: {error}"));
        }
    }
}

impl Egress {
    /// Checks every rule and setting.
    pub(crate) fn compile(&self) -> Result<CompiledEgress, ConfigError> {
        let err = |option: &'static str, rule: &str, problem| ConfigError::EgressRule {
            option,
            rule: rule.to_owned(),
            problem,
        };
        let names = |option: &'static str, rules: &[String]| {
            rules
                .iter()
                .map(|r| NameRule::parse(r).map_err(|p| err(option, r, p)))
                .collect::<Result<Vec<_>, _>>()
        };
        let allow = names("allow", &self.allow)?;
        let deny = names("deny", &self.deny)?;
        let private = self
            .allow_private
            .iter()
            .map(|r| Cidr::parse(r).map_err(|p| err("allow_private", r, p)))
            .collect::<Result<Vec<_>, _>>()?;
        let max_connections = self.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
        if max_connections == 0 {
            return Err(err("max_connections", "0", RuleProblem::Zero));
        }
        let ports = self
            .transparent_ports
            .clone()
            .unwrap_or_else(|| vec![80, 443]);
        if ports.contains(&0) {
            return Err(err("transparent_ports", "0", RuleProblem::Zero));
        }
        let mut transparent_ports = Vec::new();
        for p in ports {
            if !transparent_ports.contains(&p) {
                transparent_ports.push(p);
            }
        }
        let resolver = match &self.resolver {
            Some(r) => r.0.clone(),
            None => Arc::new(SystemResolver),
        };
        Ok(CompiledEgress {
            allow,
            deny,
            private,
            resolver,
            ask: self.ask.clone(),
            on_connection: self.on_connection.clone(),
            max_connections,
            max_names: self.max_names.unwrap_or(DEFAULT_MAX_NAMES).min(POOL_SIZE),
            connect_timeout: self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            idle_timeout: self.idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT),
            transparent_ports,
        })
    }
}
