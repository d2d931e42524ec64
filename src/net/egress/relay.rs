//! Socket plumbing shared by the proxies: waiting with a deadline and the
//! engine's stop signal, connecting with a timeout, and the relay that
//! copies bytes both ways.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// The error of an operation the engine's stop interrupted.
pub(crate) fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "the proxy is stopping")
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

/// A poll timeout for what is left until `deadline` (rounded up, capped).
fn timeout_until(deadline: Instant) -> PollTimeout {
    let left = deadline.saturating_duration_since(Instant::now());
    let ms = left.as_millis().saturating_add(1).min(60_000) as i32;
    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
}

/// Waits until `fd` has one of `events`, the deadline passes (`TimedOut`)
/// or `stop` becomes readable ([`stopped`]).
pub(crate) fn wait(
    fd: BorrowedFd<'_>,
    events: PollFlags,
    stop: BorrowedFd<'_>,
    deadline: Instant,
    what: &str,
) -> io::Result<()> {
    loop {
        let mut fds = [
            PollFd::new(stop, PollFlags::POLLIN),
            PollFd::new(fd, events),
        ];
        match poll(&mut fds, timeout_until(deadline)) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        if fds[0].revents().is_some_and(|r| !r.is_empty()) {
            return Err(stopped());
        }
        if fds[1].revents().is_some_and(|r| !r.is_empty()) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(timed_out(what));
        }
    }
}

/// Reads into `buf` from a non-blocking stream, waiting as needed: the
/// byte count, 0 at end of stream.
pub(crate) fn read_some(
    s: &TcpStream,
    buf: &mut [u8],
    stop: BorrowedFd<'_>,
    deadline: Instant,
    what: &str,
) -> io::Result<usize> {
    loop {
        match (&*s).read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait(s.as_fd(), PollFlags::POLLIN, stop, deadline, what)?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Fills `buf` exactly; end of stream first is `UnexpectedEof`.
pub(crate) fn read_exact(
    s: &TcpStream,
    buf: &mut [u8],
    stop: BorrowedFd<'_>,
    deadline: Instant,
    what: &str,
) -> io::Result<()> {
    let mut at = 0;
    while at < buf.len() {
        let n = read_some(s, &mut buf[at..], stop, deadline, what)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the client closed the connection during the {what}"),
            ));
        }
        at += n;
    }
    Ok(())
}

/// Writes all of `buf` to a non-blocking stream.
pub(crate) fn write_all(
    s: &TcpStream,
    mut buf: &[u8],
    stop: BorrowedFd<'_>,
    deadline: Instant,
) -> io::Result<()> {
    while !buf.is_empty() {
        match (&*s).write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait(s.as_fd(), PollFlags::POLLOUT, stop, deadline, "write")?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Connects a new TCP socket to `addr` within `timeout`.
pub(crate) fn connect(
    addr: SocketAddr,
    timeout: Duration,
    stop: BorrowedFd<'_>,
) -> io::Result<TcpStream> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    connect_fd(fd, addr, timeout, stop)
}

/// Connects `fd`, an unconnected TCP socket (of any namespace), to `addr`
/// within `timeout`; the stream returned is non-blocking.
pub(crate) fn connect_fd(
    fd: OwnedFd,
    addr: SocketAddr,
    timeout: Duration,
    stop: BorrowedFd<'_>,
) -> io::Result<TcpStream> {
    use nix::sys::socket::{getsockopt, sockopt};
    let stream = TcpStream::from(fd);
    stream.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    match start_connect(&stream, addr) {
        Ok(()) => return Ok(stream),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINPROGRESS | libc::EINTR)) => {}
        Err(e) => return Err(e),
    }
    wait(
        stream.as_fd(),
        PollFlags::POLLOUT,
        stop,
        deadline,
        "connect",
    )?;
    match getsockopt(&stream, sockopt::SocketError)? {
        0 => Ok(stream),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// `connect(2)` on a non-blocking socket.
fn start_connect(s: &TcpStream, addr: SocketAddr) -> io::Result<()> {
    use nix::sys::socket::SockaddrStorage;
    Ok(nix::sys::socket::connect(
        s.as_raw_fd(),
        &SockaddrStorage::from(addr),
    )?)
}

/// What a relay carried, and why it ended early if it did.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    /// Bytes written to the destination.
    pub(crate) sent: u64,
    /// Bytes written to the client.
    pub(crate) received: u64,
    /// An error or timeout that ended the relay.
    pub(crate) error: Option<String>,
}

/// The relay's buffer per direction.
const BUF: usize = 256 * 1024;
/// How long a quiet relay keeps its buffers.
const RELEASE_AFTER: Duration = Duration::from_secs(1);

/// One direction of a relay.
#[derive(Default)]
struct Pipe {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The source reached its end.
    eof: bool,
    /// The destination's write side is shut down (after `eof`, once the
    /// buffer is drained).
    shut: bool,
    count: u64,
}

enum Step {
    /// Nothing more can happen until poll says so (or this direction has
    /// had its turn).
    Blocked,
    /// The relay must end with this error.
    Fail(io::Error),
}

impl Pipe {
    /// Frees the buffer when it holds nothing.
    fn release(&mut self) {
        if !self.pending() {
            self.buf = Vec::new();
            self.start = 0;
            self.end = 0;
        }
    }

    fn pending(&self) -> bool {
        self.start < self.end
    }

    /// Moves what can be moved from `src` to `dst` without blocking, or a
    /// few buffers' worth: a source that never runs dry must not starve the
    /// other direction or the stop signal (poll is level-triggered, so what
    /// is left wakes the next poll at once).
    ///
    /// Without a buffer, it reads only when poll said `src` is readable
    /// (`ready`): a quiet relay allocates nothing.
    fn pump(&mut self, src: &TcpStream, dst: &TcpStream, ready: bool, last: &mut Instant) -> Step {
        let mut reads = 0;
        loop {
            if self.pending() {
                match (&*dst).write(&self.buf[self.start..self.end]) {
                    Ok(n) => {
                        self.start += n;
                        self.count += n as u64;
                        *last = Instant::now();
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Blocked,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Step::Fail(e),
                }
            }
            if self.eof {
                if !self.shut {
                    self.shut = true;
                    match dst.shutdown(Shutdown::Write) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                        Err(e) => return Step::Fail(e),
                    }
                }
                return Step::Blocked;
            }
            if reads == 8 {
                return Step::Blocked;
            }
            reads += 1;
            if self.buf.is_empty() {
                if !ready {
                    return Step::Blocked;
                }
                self.buf = vec![0; BUF];
            }
            match (&*src).read(&mut self.buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.start = 0;
                    self.end = n;
                    *last = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Blocked,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Step::Fail(e),
            }
        }
    }

    /// What to poll for on the source and the destination.
    fn interest(&self) -> (PollFlags, PollFlags) {
        let src = if !self.eof && !self.pending() {
            PollFlags::POLLIN
        } else {
            PollFlags::empty()
        };
        let dst = if self.pending() {
            PollFlags::POLLOUT
        } else {
            PollFlags::empty()
        };
        (src, dst)
    }
}

/// Copies bytes both ways between two non-blocking streams until both
/// directions have ended (each end of stream is passed on as a
/// `shutdown(Write)`), an error, `idle` without a byte either way, or the
/// engine's stop. Counts into `totals`.
pub(crate) fn relay(
    client: &TcpStream,
    upstream: &TcpStream,
    stop: BorrowedFd<'_>,
    idle: Duration,
    totals: &mut Totals,
) {
    let mut up = Pipe::default(); // client -> upstream
    let mut down = Pipe::default(); // upstream -> client
    let mut last = Instant::now();
    let (mut client_ready, mut upstream_ready) = (false, false);
    let error = loop {
        if let Step::Fail(e) = up.pump(client, upstream, client_ready, &mut last) {
            break Some(e);
        }
        if let Step::Fail(e) = down.pump(upstream, client, upstream_ready, &mut last) {
            break Some(e);
        }
        if up.shut && down.shut {
            break None;
        }
        let (up_src, up_dst) = up.interest();
        let (down_src, down_dst) = down.interest();
        let client_ev = up_src | down_dst;
        let upstream_ev = down_src | up_dst;
        // A relay with buffers and nothing in them wakes after a second
        // of quiet to give them back: an idle connection holds none.
        let holding = !up.buf.is_empty() || !down.buf.is_empty();
        let quiet = holding && !up.pending() && !down.pending();
        let deadline = if quiet {
            (last + idle).min(Instant::now() + RELEASE_AFTER)
        } else {
            last + idle
        };
        let mut fds = [
            PollFd::new(stop, PollFlags::POLLIN),
            PollFd::new(client.as_fd(), client_ev),
            PollFd::new(upstream.as_fd(), upstream_ev),
        ];
        let ready = match poll(&mut fds, timeout_until(deadline)) {
            Ok(n) => n,
            Err(nix::Error::EINTR) => 1,
            Err(e) => break Some(e.into()),
        };
        if ready == 0 && quiet {
            up.release();
            down.release();
        }
        if fds[0].revents().is_some_and(|r| !r.is_empty()) {
            // A client that had already ended the conversation (its end of
            // stream is read, everything for it delivered) finished before
            // the stop: the stop cut nothing off. The sandbox ending often
            // wakes this poll for the stop and the client's end at once.
            let _ = up.pump(client, upstream, true, &mut last);
            if up.eof && !down.pending() {
                break None;
            }
            break Some(stopped());
        }
        let readable = |i: usize| {
            fds[i].revents().is_some_and(|r| {
                r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            })
        };
        (client_ready, upstream_ready) = (readable(1), readable(2));
        // An error or hang-up on a socket nothing is wanted from would
        // otherwise wake every poll without anything to do.
        let dead = |i: usize, wanted: PollFlags| {
            let r = fds[i].revents().unwrap_or(PollFlags::empty());
            r.contains(PollFlags::POLLERR)
                || (wanted.is_empty() && r.intersects(PollFlags::POLLHUP | PollFlags::POLLNVAL))
        };
        if dead(1, client_ev) || dead(2, upstream_ev) {
            let e = [client, upstream]
                .iter()
                .find_map(|s| s.take_error().ok().flatten())
                .unwrap_or_else(|| io::ErrorKind::ConnectionReset.into());
            break Some(e);
        }
        if Instant::now() >= last + idle {
            break Some(timed_out("the connection was idle and"));
        }
    };
    totals.sent += up.count;
    totals.received += down.count;
    if let Some(e) = error {
        totals.error = Some(e.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    fn never() -> OwnedFd {
        rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).unwrap()
    }

    /// A relay between a connected pair: returns the ends the test drives.
    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        (a, b)
    }

    #[test]
    fn the_relay_counts_bytes_and_passes_half_closes_on() {
        let stop = never();
        let (client, client_inner) = pair();
        let (upstream_inner, upstream) = pair();
        client_inner.set_nonblocking(true).unwrap();
        upstream_inner.set_nonblocking(true).unwrap();
        let stop_fd = stop.try_clone().unwrap();
        let t = thread::spawn(move || {
            let mut totals = Totals::default();
            relay(
                &client_inner,
                &upstream_inner,
                stop_fd.as_fd(),
                Duration::from_secs(10),
                &mut totals,
            );
            totals
        });
        // The client sends and half-closes; the far end reads to the end,
        // then answers on the still-open direction.
        (&client).write_all(&[7u8; 300_000]).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        (&upstream).read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), 300_000);
        (&upstream).write_all(b"thanks").unwrap();
        upstream.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        (&client).read_to_end(&mut back).unwrap();
        assert_eq!(back, b"thanks");
        let totals = t.join().unwrap();
        assert_eq!(
            (totals.sent, totals.received, totals.error),
            (300_000, 6, None)
        );
    }

    #[test]
    fn an_idle_relay_is_closed() {
        let stop = never();
        let (_client, client_inner) = pair();
        let (upstream_inner, _upstream) = pair();
        client_inner.set_nonblocking(true).unwrap();
        upstream_inner.set_nonblocking(true).unwrap();
        let mut totals = Totals::default();
        let t0 = Instant::now();
        relay(
            &client_inner,
            &upstream_inner,
            stop.as_fd(),
            Duration::from_millis(200),
            &mut totals,
        );
        assert!(t0.elapsed() >= Duration::from_millis(200));
        assert!(totals.error.unwrap().contains("idle"));
    }
}
