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
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::net::egress::rules::{Cidr, NameRule, address_allowed, is_literal, normalize_name};
use crate::net::egress::{dns, http, relay, socks};
use crate::net::log::{Connection, Denial, EgressVerdict, Via};
use crate::net::policy::{
    AskFn, ConnectionFn, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, Hook, Request, Resolve,
};
use crate::net::{SocketKind, SocketSpec};

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
const DNS_TTL: u32 = 300;
/// The most DNS queries answered at once; more are answered `SERVFAIL`.
const DNS_INFLIGHT: usize = 16;
/// The longest a client may take to send a request's head (or less: the
/// idle timeout).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// The stack of the engine's threads: enough for the system resolver.
const STACK: usize = 256 * 1024;

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

/// A running engine. Dropping it stops it.
pub(crate) struct Engine {
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// The transparent addresses given to names.
#[derive(Default)]
struct Pool {
    by_name: HashMap<String, Ipv4Addr>,
    by_addr: HashMap<Ipv4Addr, String>,
}

/// The pool's address number `n` (from 1): 127.100.0.0/16.
fn pool_addr(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 100, (n >> 8) as u8, n as u8)
}

/// What the engine's threads share.
pub(crate) struct Shared {
    policy: Option<Arc<CompiledEgress>>,
    factory: Arc<dyn SocketFactory>,
    /// Readable once the engine stops; every wait polls it.
    stop: OwnedFd,
    stopping: AtomicBool,
    log: Mutex<Vec<Connection>>,
    /// Held while an attempt is logged and the callback told, so that the
    /// callback sees attempts in the log's order.
    recording: Mutex<()>,
    active: AtomicUsize,
    max_connections: usize,
    dns_inflight: AtomicUsize,
    pool: Mutex<Pool>,
    /// The `ask` callback's answers, by name and port (0: any port).
    asked: Mutex<HashMap<(String, u16), bool>>,
    /// Names whose DNS outcome has been logged, with the outcome.
    dns_logged: Mutex<HashSet<(String, String)>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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

    fn connect_timeout(&self) -> Duration {
        self.policy
            .as_ref()
            .map_or(DEFAULT_CONNECT_TIMEOUT, |p| p.connect_timeout)
    }

    fn slot(self: &Arc<Self>) -> Option<Slot> {
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
    fn pool_name(&self, ip: IpAddr) -> Option<String> {
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
    fn spawn(self: &Arc<Self>, f: impl FnOnce(&Arc<Shared>) + Send + 'static) -> io::Result<()> {
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

/// What a listener is for.
enum Role {
    Http,
    Socks,
    DnsTcp,
    Transparent,
    Published(u16),
}

impl Engine {
    /// Starts serving `listeners` (with a policy, the sockets of its
    /// [`listener_specs`](CompiledEgress::listener_specs)) and `published`.
    pub(crate) fn start(
        policy: Option<Arc<CompiledEgress>>,
        listeners: Listeners,
        published: Vec<Published>,
        factory: Arc<dyn SocketFactory>,
    ) -> io::Result<Engine> {
        let mut tcp: Vec<(Role, TcpListener)> = Vec::new();
        let mut udp: Option<Arc<UdpSocket>> = None;
        if policy.is_some() {
            if listeners.sockets.len() < 4 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the egress engine needs the HTTP, SOCKS and DNS sockets",
                ));
            }
            for (i, fd) in listeners.sockets.into_iter().enumerate() {
                match i {
                    0 => tcp.push((Role::Http, TcpListener::from(fd))),
                    1 => tcp.push((Role::Socks, TcpListener::from(fd))),
                    2 => udp = Some(Arc::new(UdpSocket::from(fd))),
                    3 => tcp.push((Role::DnsTcp, TcpListener::from(fd))),
                    _ => tcp.push((Role::Transparent, TcpListener::from(fd))),
                }
            }
        }
        for p in published {
            tcp.push((Role::Published(p.sandbox_port), p.host));
        }
        for (_, l) in &tcp {
            l.set_nonblocking(true)?;
        }
        if let Some(u) = &udp {
            u.set_nonblocking(true)?;
        }
        use rustix::event::{EventfdFlags, eventfd};
        let stop = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        let max_connections = policy
            .as_ref()
            .map_or(crate::net::policy::DEFAULT_MAX_CONNECTIONS, |p| {
                p.max_connections
            });
        let shared = Arc::new(Shared {
            policy,
            factory,
            stop,
            stopping: AtomicBool::new(false),
            log: Mutex::new(Vec::new()),
            recording: Mutex::new(()),
            active: AtomicUsize::new(0),
            max_connections,
            dns_inflight: AtomicUsize::new(0),
            pool: Mutex::new(Pool::default()),
            asked: Mutex::new(HashMap::new()),
            dns_logged: Mutex::new(HashSet::new()),
            threads: Mutex::new(Vec::new()),
        });
        let me = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("stockade-egress".into())
            .stack_size(STACK)
            .spawn(move || accept_loop(&me, tcp, udp))?;
        Ok(Engine {
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The attempts logged so far.
    pub(crate) fn connections(&self) -> Vec<Connection> {
        lock(&self.shared.log).clone()
    }

    /// Stops accepting, ends every connection, joins every thread and
    /// returns the log.
    pub(crate) fn stop(mut self) -> Vec<Connection> {
        self.shutdown();
        std::mem::take(&mut *lock(&self.shared.log))
    }

    fn shutdown(&mut self) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        self.shared.stopping.store(true, Ordering::Release);
        let _ = rustix::io::write(&self.shared.stop, &1u64.to_ne_bytes());
        let _ = acceptor.join();
        loop {
            let threads = std::mem::take(&mut *lock(&self.shared.threads));
            if threads.is_empty() {
                break;
            }
            for t in threads {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(shared: &Arc<Shared>, tcp: Vec<(Role, TcpListener)>, udp: Option<Arc<UdpSocket>>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let mut fds = vec![PollFd::new(shared.stop.as_fd(), PollFlags::POLLIN)];
        fds.extend(
            tcp.iter()
                .map(|(_, l)| PollFd::new(l.as_fd(), PollFlags::POLLIN)),
        );
        if let Some(u) = &udp {
            fds.push(PollFd::new(u.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::from(1000u16)) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            return;
        }
        for (i, (role, l)) in tcp.iter().enumerate() {
            if ready[i + 1] {
                accept_some(shared, role, l);
            }
        }
        if let Some(u) = &udp {
            if ready[tcp.len() + 1] {
                receive_some(shared, u, &mut buf);
            }
        }
        lock(&shared.threads).retain(|t| !t.is_finished());
    }
}

fn via_of(role: &Role) -> Via {
    match role {
        Role::Http => Via::HttpConnect,
        Role::Socks => Via::Socks5,
        Role::DnsTcp => Via::Dns,
        Role::Transparent => Via::Transparent,
        Role::Published(_) => Via::Published,
    }
}

/// Accepts what is waiting on `l` (a bounded batch, to keep the other
/// listeners served).
fn accept_some(shared: &Arc<Shared>, role: &Role, l: &TcpListener) {
    for _ in 0..64 {
        let stream = match l.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ) =>
            {
                continue;
            }
            // Out of descriptors, most likely: the connection stays queued,
            // and the listener readable, so pause rather than spin.
            Err(_) => {
                std::thread::sleep(Duration::from_millis(50));
                return;
            }
        };
        let refuse = |d: Denial, e: Option<String>| {
            let mut a = Attempt::new(via_of(role));
            if let Role::Published(port) = role {
                a.conn.port = *port;
            }
            a.deny(d, e);
            shared.record(a);
        };
        let Some(slot) = shared.slot() else {
            refuse(Denial::TooManyConnections, None);
            continue;
        };
        let _ = stream.set_nonblocking(true);
        // The thread owns the slot; if it does not start, the slot is
        // dropped with it.
        let result = match *role {
            Role::Http => shared.spawn(move |s| {
                let _slot = slot;
                http::serve(s, stream)
            }),
            Role::Socks => shared.spawn(move |s| {
                let _slot = slot;
                socks::serve(s, stream)
            }),
            Role::DnsTcp => shared.spawn(move |s| {
                let _slot = slot;
                serve_dns_tcp(s, stream)
            }),
            Role::Transparent => shared.spawn(move |s| {
                let _slot = slot;
                serve_transparent(s, stream)
            }),
            Role::Published(port) => shared.spawn(move |s| {
                let _slot = slot;
                serve_published(s, stream, port)
            }),
        };
        if let Err(e) = result {
            refuse(
                Denial::TooManyConnections,
                Some(format!("failed to start a thread: {e}")),
            );
        }
    }
}

/// Reads the waiting DNS datagrams and answers each on a thread.
fn receive_some(shared: &Arc<Shared>, u: &Arc<UdpSocket>, buf: &mut [u8]) {
    for _ in 0..64 {
        let (n, from) = match u.recv_from(buf) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let msg = buf[..n].to_vec();
        if shared.dns_inflight.fetch_add(1, Ordering::AcqRel) >= DNS_INFLIGHT {
            shared.dns_inflight.fetch_sub(1, Ordering::AcqRel);
            if let dns::Parsed::Query(q) = dns::parse(&msg) {
                let _ = u.send_to(&dns::answer(&q, dns::SERVFAIL, None), from);
            }
            continue;
        }
        let sock = u.clone();
        let spawned = shared.spawn(move |s| {
            if let Some(answer) = s.dns_answer(&msg) {
                let _ = sock.send_to(&answer, from);
            }
            s.dns_inflight.fetch_sub(1, Ordering::AcqRel);
        });
        if spawned.is_err() {
            shared.dns_inflight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// DNS over TCP: length-prefixed queries until the client closes or idles.
fn serve_dns_tcp(shared: &Arc<Shared>, s: TcpStream) {
    let stop = shared.stop_fd();
    loop {
        let deadline = shared.head_deadline();
        let mut len = [0u8; 2];
        if relay::read_exact(&s, &mut len, stop, deadline, "DNS query").is_err() {
            return;
        }
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if relay::read_exact(&s, &mut msg, stop, deadline, "DNS query").is_err() {
            return;
        }
        let Some(answer) = shared.dns_answer(&msg) else {
            return;
        };
        let mut out = (answer.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&answer);
        if relay::write_all(&s, &out, stop, deadline).is_err() {
            return;
        }
    }
}

/// A connection to a transparent address: the name is the one the
/// address was given.
fn serve_transparent(shared: &Arc<Shared>, client: TcpStream) {
    let mut a = Attempt::new(Via::Transparent);
    let local = match client.local_addr() {
        Ok(l) => l,
        Err(e) => {
            a.deny(Denial::BadRequest, Some(e.to_string()));
            return shared.record(a);
        }
    };
    a.conn.port = local.port();
    let Some(host) = shared.pool_name(local.ip()) else {
        a.conn.address = Some(local);
        a.deny(Denial::LiteralAddress, None);
        return shared.record(a);
    };
    a.conn.host = Some(host.clone());
    match shared.open(&host, local.port(), Via::Transparent) {
        Ok((up, addr, rule)) => {
            a.conn.address = Some(addr);
            a.allow(rule);
            shared.relay(&client, &up, &mut a);
        }
        Err(e) => fail(&mut a, e),
    }
    shared.record(a);
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

/// A connection from the host to a published port: connected from inside
/// the sandbox's namespace to its loopback.
fn serve_published(shared: &Arc<Shared>, client: TcpStream, port: u16) {
    let mut a = Attempt::new(Via::Published);
    a.conn.port = port;
    a.allow("publish".to_owned());
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    a.conn.address = Some(target);
    let up = shared
        .factory
        .stream_socket(false)
        .and_then(|fd| relay::connect_fd(fd, target, shared.connect_timeout(), shared.stop_fd()));
    match up {
        Ok(up) => shared.relay(&client, &up, &mut a),
        Err(e) => a.conn.error = Some(format!("failed to connect: {e}")),
    }
    shared.record(a);
}
