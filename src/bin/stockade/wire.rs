//! The protocol between the container subcommands and a container's
//! monitor, over its unix stream socket.
//!
//! Each message is a frame: a 4-byte little-endian length, then that many
//! bytes of body, whose first byte says what it is. Strings are byte
//! strings with a 4-byte length before them. An exec request carries the
//! client's stdin, stdout and stderr as `SCM_RIGHTS`, attached to its frame.
//!
//! Client to monitor:
//! - `E` exec: program and arguments, environment changes (set or remove),
//!   working directory, and the window size of a terminal for the program
//!   (or none); three descriptors attached, or none with a terminal; and
//!   whether the program's standard input (a terminal the client made) is
//!   to be its controlling terminal. Then, while it runs,
//!   `G` signal: a signal number to send to the program. Closing the
//!   connection before the reply kills the program.
//! - `S` stop: the grace period in milliseconds; `K` kill.
//!
//! Monitor to client:
//! - `R` the exec started (its pid, in the monitor's terms), with the master
//!   side of the program's terminal attached when it has one; then `X` when
//!   it ended: its raw wait status and whether it timed out.
//! - `F` failed: the exit status to use (125, 126 or 127) and a one-line
//!   message.
//! - `D` done: the container was stopped; whether the grace period ran out.

use std::ffi::OsString;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

/// The largest frame accepted (an argument vector is at most a few MiB).
const MAX_FRAME: usize = 64 << 20;

/// What a client asks of a monitor.
#[derive(Debug, PartialEq)]
pub enum Request {
    Exec(ExecRequest),
    Signal(i32),
    /// Stop with this grace period, or kill at once (`None`).
    Stop(Option<std::time::Duration>),
}

/// A program to run in the container.
#[derive(Debug, Default, PartialEq)]
pub struct ExecRequest {
    pub argv: Vec<OsString>,
    /// In order: set (`Some`) or remove (`None`).
    pub env: Vec<(OsString, Option<OsString>)>,
    pub cwd: Option<PathBuf>,
    /// A terminal of the program's own, of this size (rows, columns).
    pub pty: Option<(u16, u16)>,
    /// The standard input sent is a terminal the client made: it becomes
    /// the controlling terminal of the program's session.
    pub ctty: bool,
    /// Run as this uid and gid (none: the container's gid) inside the
    /// container, rather than as the container's identity.
    pub user: Option<(u32, Option<u32>)>,
}

/// What a monitor answers.
#[derive(Debug, PartialEq)]
pub enum Reply {
    Started { pid: u32 },
    Exited { status: i32, timed_out: bool },
    Failed { code: u8, message: String },
    Stopped { forced: bool },
}

#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn new(tag: u8) -> Writer {
        Writer(vec![0, 0, 0, 0, tag])
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    /// The frame: the length filled in.
    fn finish(mut self) -> Vec<u8> {
        let len = (self.0.len() - 4) as u32;
        self.0[..4].copy_from_slice(&len.to_le_bytes());
        self.0
    }
}

struct Reader<'a>(&'a [u8]);

fn malformed() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "malformed message")
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.0.len() < n {
            return Err(malformed());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn bytes(&mut self) -> io::Result<Vec<u8>> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn os(&mut self) -> io::Result<OsString> {
        Ok(OsString::from_vec(self.bytes()?))
    }
    fn end(&self) -> io::Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(malformed())
        }
    }
}

impl Request {
    fn encode(&self) -> Vec<u8> {
        match self {
            Request::Exec(e) => {
                let mut w = Writer::new(b'E');
                w.u32(e.argv.len() as u32);
                for a in &e.argv {
                    w.bytes(a.as_bytes());
                }
                w.u32(e.env.len() as u32);
                for (k, v) in &e.env {
                    w.bytes(k.as_bytes());
                    match v {
                        Some(v) => {
                            w.u8(1);
                            w.bytes(v.as_bytes());
                        }
                        None => w.u8(0),
                    }
                }
                match &e.cwd {
                    Some(d) => {
                        w.u8(1);
                        w.bytes(d.as_os_str().as_bytes());
                    }
                    None => w.u8(0),
                }
                match e.pty {
                    Some((rows, cols)) => {
                        w.u8(1);
                        w.u32(u32::from(rows) << 16 | u32::from(cols));
                    }
                    None => w.u8(0),
                }
                // Only when set: a monitor of an older stockade reads
                // every other request as before (and refuses one with a
                // user as malformed rather than run it as someone else).
                if e.ctty || e.user.is_some() {
                    w.u8(u8::from(e.ctty));
                }
                if let Some((uid, gid)) = e.user {
                    w.u32(uid);
                    match gid {
                        Some(g) => {
                            w.u8(1);
                            w.u32(g);
                        }
                        None => w.u8(0),
                    }
                }
                w.finish()
            }
            Request::Signal(n) => {
                let mut w = Writer::new(b'G');
                w.u32(*n as u32);
                w.finish()
            }
            Request::Stop(Some(grace)) => {
                let mut w = Writer::new(b'S');
                w.u64(grace.as_millis().min(u64::MAX as u128) as u64);
                w.finish()
            }
            Request::Stop(None) => Writer::new(b'K').finish(),
        }
    }

    fn decode(body: &[u8]) -> io::Result<Request> {
        let mut r = Reader(body);
        let req = match r.u8()? {
            b'E' => {
                let mut e = ExecRequest::default();
                // Each entry takes at least four bytes: the counts are
                // bounded by the frame's size.
                let n = r.u32()? as usize;
                for _ in 0..n.min(body.len()) {
                    e.argv.push(r.os()?);
                }
                let n = r.u32()? as usize;
                for _ in 0..n.min(body.len()) {
                    let k = r.os()?;
                    let v = match r.u8()? {
                        0 => None,
                        _ => Some(r.os()?),
                    };
                    e.env.push((k, v));
                }
                if r.u8()? != 0 {
                    e.cwd = Some(PathBuf::from(r.os()?));
                }
                if r.u8()? != 0 {
                    let size = r.u32()?;
                    e.pty = Some(((size >> 16) as u16, size as u16));
                }
                // Absent unless set (and from an older client's requests).
                if !r.0.is_empty() {
                    e.ctty = r.u8()? != 0;
                }
                if !r.0.is_empty() {
                    let uid = r.u32()?;
                    let gid = match r.u8()? {
                        0 => None,
                        _ => Some(r.u32()?),
                    };
                    e.user = Some((uid, gid));
                }
                Request::Exec(e)
            }
            b'G' => Request::Signal(r.u32()? as i32),
            b'S' => Request::Stop(Some(std::time::Duration::from_millis(r.u64()?))),
            b'K' => Request::Stop(None),
            _ => return Err(malformed()),
        };
        r.end()?;
        Ok(req)
    }
}

impl Reply {
    fn encode(&self) -> Vec<u8> {
        match self {
            Reply::Started { pid } => {
                let mut w = Writer::new(b'R');
                w.u32(*pid);
                w.finish()
            }
            Reply::Exited { status, timed_out } => {
                let mut w = Writer::new(b'X');
                w.u32(*status as u32);
                w.u8(u8::from(*timed_out));
                w.finish()
            }
            Reply::Failed { code, message } => {
                let mut w = Writer::new(b'F');
                w.u8(*code);
                w.bytes(message.as_bytes());
                w.finish()
            }
            Reply::Stopped { forced } => {
                let mut w = Writer::new(b'D');
                w.u8(u8::from(*forced));
                w.finish()
            }
        }
    }

    fn decode(body: &[u8]) -> io::Result<Reply> {
        let mut r = Reader(body);
        let reply = match r.u8()? {
            b'R' => Reply::Started { pid: r.u32()? },
            b'X' => Reply::Exited {
                status: r.u32()? as i32,
                timed_out: r.u8()? != 0,
            },
            b'F' => Reply::Failed {
                code: r.u8()?,
                message: String::from_utf8_lossy(&r.bytes()?).into_owned(),
            },
            b'D' => Reply::Stopped {
                forced: r.u8()? != 0,
            },
            _ => return Err(malformed()),
        };
        r.end()?;
        Ok(reply)
    }
}

/// Sends `frame` with `fds` attached.
fn send(sock: &UnixStream, frame: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let cmsgs = [ControlMessage::ScmRights(&raw)];
    let cmsgs: &[ControlMessage<'_>] = if raw.is_empty() { &[] } else { &cmsgs };
    let sent = loop {
        match sendmsg::<()>(
            sock.as_raw_fd(),
            &[IoSlice::new(frame)],
            cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r?,
        }
    };
    (&*sock).write_all(&frame[sent..])
}

/// Receives a frame's body and the descriptors attached to it; `None` at
/// the end of the stream.
fn recv(sock: &UnixStream) -> io::Result<Option<(Vec<u8>, Vec<OwnedFd>)>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    let mut fds = Vec::new();
    while got < len.len() {
        let mut cmsg = nix::cmsg_space!([i32; 3]);
        let mut iov = [IoSliceMut::new(&mut len[got..])];
        let msg = match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r?,
        };
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(received) = c {
                // SAFETY: the kernel just installed these descriptors in
                // this process for us; nothing else owns them.
                fds.extend(
                    received
                        .into_iter()
                        .map(|f| unsafe { OwnedFd::from_raw_fd(f) }),
                );
            }
        }
        if msg.bytes == 0 {
            if got == 0 {
                return Ok(None);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got += msg.bytes;
    }
    let len = u32::from_le_bytes(len) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(malformed());
    }
    let mut body = vec![0; len];
    (&*sock).read_exact(&mut body)?;
    Ok(Some((body, fds)))
}

/// Sends a request, with descriptors for an exec.
pub fn send_request(sock: &UnixStream, req: &Request, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    send(sock, &req.encode(), fds)
}

/// Receives a request and its descriptors; `None` when the client closed
/// the connection.
pub fn recv_request(sock: &UnixStream) -> io::Result<Option<(Request, Vec<OwnedFd>)>> {
    match recv(sock)? {
        Some((body, fds)) => Ok(Some((Request::decode(&body)?, fds))),
        None => Ok(None),
    }
}

pub fn send_reply(sock: &UnixStream, reply: &Reply) -> io::Result<()> {
    send(sock, &reply.encode(), &[])
}

/// Sends a reply with descriptors attached (a terminal's master with
/// `Started`).
pub fn send_reply_with(sock: &UnixStream, reply: &Reply, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    send(sock, &reply.encode(), fds)
}

/// Receives a reply; `None` when the monitor closed the connection.
pub fn recv_reply(sock: &UnixStream) -> io::Result<Option<Reply>> {
    Ok(recv_reply_with(sock)?.map(|r| r.0))
}

/// Receives a reply and the descriptors attached to it.
pub fn recv_reply_with(sock: &UnixStream) -> io::Result<Option<(Reply, Vec<OwnedFd>)>> {
    match recv(sock)? {
        Some((body, fds)) => Ok(Some((Reply::decode(&body)?, fds))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let reqs = [
            Request::Exec(ExecRequest {
                argv: vec!["sh".into(), "-c".into(), OsString::from_vec(vec![0xff, 0])],
                env: vec![("A".into(), Some("b".into())), ("C".into(), None)],
                cwd: Some("/tmp".into()),
                pty: None,
                ctty: false,
                user: None,
            }),
            Request::Exec(ExecRequest {
                argv: vec!["bash".into()],
                pty: Some((50, 132)),
                ctty: true,
                ..ExecRequest::default()
            }),
            Request::Exec(ExecRequest::default()),
            Request::Exec(ExecRequest {
                argv: vec!["sh".into()],
                ctty: true,
                ..ExecRequest::default()
            }),
            Request::Exec(ExecRequest {
                argv: vec!["id".into()],
                user: Some((1000, Some(0))),
                ..ExecRequest::default()
            }),
            Request::Exec(ExecRequest {
                argv: vec!["id".into()],
                ctty: true,
                user: Some((7, None)),
                ..ExecRequest::default()
            }),
            Request::Signal(15),
            Request::Stop(Some(std::time::Duration::from_millis(1500))),
            Request::Stop(None),
        ];
        for r in reqs {
            assert_eq!(Request::decode(&r.encode()[4..]).unwrap(), r);
        }
        // Without the controlling-terminal flag, an exec is what an older
        // stockade sends and reads: the flag adds one byte when set.
        let plain = ExecRequest {
            argv: vec!["sh".into()],
            ..ExecRequest::default()
        };
        let with = ExecRequest {
            argv: vec!["sh".into()],
            ctty: true,
            ..ExecRequest::default()
        };
        let (plain, with) = (Request::Exec(plain).encode(), Request::Exec(with).encode());
        assert_eq!(with.len(), plain.len() + 1);
        assert_eq!(with[4..with.len() - 1], plain[4..]);
        // A user adds itself after the flag, which is then always sent.
        let as_user = ExecRequest {
            argv: vec!["sh".into()],
            user: Some((5, None)),
            ..ExecRequest::default()
        };
        let as_user = Request::Exec(as_user).encode();
        assert_eq!(as_user[4..plain.len()], plain[4..]);
        assert_eq!(as_user[plain.len()..], [0, 5, 0, 0, 0, 0]);
        let replies = [
            Reply::Started { pid: 7 },
            Reply::Exited {
                status: 0x0300,
                timed_out: false,
            },
            Reply::Failed {
                code: 127,
                message: "no".into(),
            },
            Reply::Stopped { forced: true },
        ];
        for r in replies {
            assert_eq!(Reply::decode(&r.encode()[4..]).unwrap(), r);
        }
        assert!(Request::decode(b"").is_err());
        assert!(Request::decode(b"E\xff\xff\xff\xff").is_err());
        assert!(Request::decode(b"K!").is_err());
    }

    #[test]
    fn descriptors_travel_with_the_frame() {
        let (a, b) = UnixStream::pair().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        let fd = std::os::fd::AsFd::as_fd(&file);
        let req = Request::Exec(ExecRequest {
            argv: vec!["x".repeat(300_000).into()],
            ..ExecRequest::default()
        });
        // Larger than the socket's buffer: sent while it is received.
        let (got, fds) = std::thread::scope(|s| {
            let t = s.spawn(|| send_request(&a, &req, &[fd, fd, fd]));
            let got = recv_request(&b).unwrap().unwrap();
            t.join().unwrap().unwrap();
            got
        });
        assert!(matches!(got, Request::Exec(e) if e.argv[0].len() == 300_000));
        assert_eq!(fds.len(), 3);
        drop(a);
        assert!(recv_request(&b).unwrap().is_none());
    }
}
