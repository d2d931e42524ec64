//! The network policy, parent side: the published ports' host listeners,
//! bound before the sandbox starts, and the engine that serves the sockets
//! the sandbox's supervisor opened in its network namespace (see
//! `crate::net` and `crate::zone::net`).

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use crate::compile::NetCompiled;
use crate::config::Config;
use crate::error::{Error, ParentOp};
use crate::net::engine::{Listeners, Published, SocketFactory};
use crate::net::serve::Engine;
use crate::record;
use crate::sys::raw;

/// Binds every published port's host address, before anything else of the
/// sandbox exists: an address in use is the caller's error, named.
pub(super) fn bind_published(cfg: &Config) -> Result<Vec<Published>, Error> {
    cfg.publish
        .iter()
        .map(|&(host, sandbox_port)| {
            let listener = TcpListener::bind(host).map_err(|e| Error::Io {
                op: ParentOp::Publish(host),
                source: e,
            })?;
            Ok(Published {
                host: listener,
                sandbox_port,
            })
        })
        .collect()
}

/// The sandbox's end of the network channel, as a factory of sockets in
/// its network namespace: each request is answered by its supervisor.
struct ZoneSockets(Mutex<OwnedFd>);

impl SocketFactory for ZoneSockets {
    fn stream_socket(&self, v6: bool) -> io::Result<OwnedFd> {
        let chan = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let fd = chan.as_raw_fd();
        raw::send(fd, &[record::REQUEST_NET_SOCKET, u8::from(v6)]).map_err(errno)?;
        receive(fd, true)
    }
}

fn errno(e: raw::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.0)
}

/// Receives one socket from the network channel `fd`; waits for it when
/// `block`, and otherwise expects it queued already.
fn receive(fd: i32, block: bool) -> io::Result<OwnedFd> {
    loop {
        if !block {
            let mut p = [libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            }];
            if raw::poll(
                &mut p,
                Some(&libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                }),
            )
            .map_err(errno)?
                == 0
            {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        let mut buf = [0u8; 8];
        let mut got = [-1; 1];
        match raw::recv_with_fds(fd, &mut buf, &mut got) {
            Err(raw::Errno(libc::EINTR)) => continue,
            Err(e) => return Err(errno(e)),
            Ok((0, _, _)) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok((_, n, _)) => {
                let sock = crate::sys::adopt_received(got[..n.min(1)].to_vec()).pop();
                return match (buf[0], sock) {
                    (record::NET_SOCKET, Some(s)) => Ok(s),
                    (record::NET_FAILED, _) => {
                        let mut e = [0u8; 4];
                        e.copy_from_slice(&buf[4..8]);
                        Err(io::Error::from_raw_os_error(i32::from_ne_bytes(e)))
                    }
                    _ => Err(io::ErrorKind::InvalidData.into()),
                };
            }
        }
    }
}

/// Once the sandbox runs: takes the sockets its supervisor opened (queued
/// on `chan` before it reported `Running`) and starts the engine serving
/// them and the published ports.
pub(super) fn start(
    net: &NetCompiled,
    chan: OwnedFd,
    published: Vec<Published>,
    on_denial: Option<crate::net::policy::Hook<crate::denials::Callback>>,
) -> Result<crate::net::Running, Error> {
    let fail = |source: io::Error| Error::Io {
        op: ParentOp::StartEgressProxy,
        source,
    };
    let mut sockets = Vec::with_capacity(net.sockets.len());
    for _ in &net.sockets {
        sockets.push(receive(chan.as_raw_fd(), false).map_err(fail)?);
    }
    let ports = published
        .iter()
        .map(|p| Ok((p.host.local_addr()?, p.sandbox_port)))
        .collect::<io::Result<Vec<_>>>()
        .map_err(fail)?;
    let factory: Arc<dyn SocketFactory> = Arc::new(ZoneSockets(Mutex::new(chan)));
    let engine = Engine::start(
        net.egress.clone(),
        Listeners { sockets },
        published,
        factory,
        on_denial.map(|h| {
            let f: Arc<crate::net::policy::ConnectionFn> =
                Arc::new(move |c: &crate::net::Connection| {
                    (h.0)(&crate::denials::Event::network(c))
                });
            crate::net::policy::Hook(f)
        }),
    )
    .map_err(fail)?;
    Ok(crate::net::Running {
        engine,
        published: ports,
    })
}
