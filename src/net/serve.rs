//! The running engine: its acceptor thread, which takes connections and
//! datagrams on the sandbox's listeners and hands each to the server of its
//! way in (`egress::http`, `egress::socks`, DNS, transparent, published),
//! over the state in [`engine`](super::engine).

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::net::egress::{dns, http, relay, socks};
use crate::net::engine::{
    Attempt, CompiledEgress, DNS_INFLIGHT, Listeners, Pool, Published, STACK, Shared,
    SocketFactory, fail, lock,
};
use crate::net::log::{Connection, Denial, Via};
/// A running engine. Dropping it stops it.
pub(crate) struct Engine {
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
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
        on_refused: Option<crate::net::policy::Hook<crate::net::policy::ConnectionFn>>,
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
            on_refused,
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
