//! Process file descriptors (Linux 5.3): signalling and reaping a process
//! through its pidfd, from the parent side.

use std::io;
#[cfg(feature = "tokio")]
use std::os::fd::RawFd;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
#[cfg(feature = "tokio")]
use std::task::{Context, Poll, ready};

/// An owned pidfd. With the `tokio` feature it can be registered with the
/// runtime's reactor ([`register`](Pidfd::register)), and the registration
/// lives inside it: the descriptor is private and never replaced, and the
/// registration is dropped before the descriptor is closed, which is what
/// tokio's `AsyncFd` requires of a registered descriptor.
#[derive(Debug)]
pub(crate) struct Pidfd {
    // Declared before `fd`, so dropped (deregistered) before it is closed.
    #[cfg(feature = "tokio")]
    reactor: Option<tokio::io::unix::AsyncFd<RawFd>>,
    fd: OwnedFd,
}

impl Pidfd {
    /// Takes ownership of a process descriptor.
    pub(crate) fn new(fd: OwnedFd) -> Pidfd {
        Pidfd {
            #[cfg(feature = "tokio")]
            reactor: None,
            fd,
        }
    }

    /// The descriptor.
    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Sends `sig` to the process.
    /// The process's id in the caller's pid namespace, from the pidfd's
    /// `fdinfo` (`None` once it has been reaped, or if it cannot be read).
    pub(crate) fn pid(&self) -> Option<u32> {
        let info =
            std::fs::read_to_string(format!("/proc/self/fdinfo/{}", self.fd.as_raw_fd())).ok()?;
        info.lines()
            .find_map(|l| l.strip_prefix("Pid:"))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .and_then(|p| u32::try_from(p).ok())
            .filter(|&p| p > 0)
    }

    pub(crate) fn send_signal(&self, sig: libc::c_int) -> io::Result<()> {
        send_signal(self.fd.as_fd(), sig)
    }

    /// Reaps the process; see [`wait`].
    pub(crate) fn wait(&self, nohang: bool) -> io::Result<Option<i32>> {
        wait(self.fd.as_fd(), nohang)
    }

    /// Registers the descriptor with the current tokio runtime's reactor
    /// for readability (once; later calls do nothing).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one without the I/O driver enabled.
    #[cfg(feature = "tokio")]
    pub(crate) fn register(&mut self) -> io::Result<()> {
        if self.reactor.is_none() {
            let fd = self.fd.as_raw_fd();
            // SAFETY: `fd` is `self.fd`, which is open, private to this
            // value and never replaced, so it refers to the same open file
            // description for as long as the registration, stored beside it,
            // lives; the registration is dropped before `self.fd` (field
            // order). A `RawFd`'s `as_raw_fd` always returns itself.
            let afd = unsafe {
                tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
            }
            .map_err(io::Error::from)?;
            self.reactor = Some(afd);
        }
        Ok(())
    }

    /// Drops the registration with the reactor, if any (the descriptor
    /// stays open).
    #[cfg(feature = "tokio")]
    pub(crate) fn deregister(&mut self) {
        self.reactor = None;
    }

    /// Polls for the process's end through the reactor and reaps it,
    /// returning its raw wait status. Needs [`register`](Pidfd::register).
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_exit(&self, cx: &mut Context<'_>) -> Poll<io::Result<i32>> {
        let Some(afd) = &self.reactor else {
            return Poll::Ready(Err(io::Error::other(
                "the pidfd is not registered with the reactor",
            )));
        };
        loop {
            if let Some(status) = self.wait(true)? {
                return Poll::Ready(Ok(status));
            }
            let mut guard = ready!(afd.poll_read_ready(cx))?;
            // A pidfd is readable once its process is a zombie, which the
            // next wait reaps. Should the readiness ever come before that,
            // forget it and wait for the next event.
            if let Some(status) = self.wait(true)? {
                return Poll::Ready(Ok(status));
            }
            guard.clear_ready();
        }
    }
}

/// `pidfd_send_signal(pidfd, sig, NULL, 0)` (Linux 5.1).
pub fn send_signal(pidfd: BorrowedFd<'_>, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: pidfd_send_signal with a borrowed descriptor, a null siginfo
    // and no flags reads no memory of ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Waits for (reaps) the process behind `pidfd` with `waitid(P_PIDFD)`
/// (Linux 5.4). Returns its raw wait status (as `waitpid` reports it), or
/// `None` with `nohang` while it is still running.
pub fn wait(pidfd: BorrowedFd<'_>, nohang: bool) -> io::Result<Option<i32>> {
    const P_PIDFD: libc::idtype_t = 3;
    loop {
        // SAFETY: an all-zero siginfo is valid to be filled in.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let mut flags = libc::WEXITED | libc::__WALL;
        if nohang {
            flags |= libc::WNOHANG;
        }
        // SAFETY: waitid with a borrowed descriptor and a live siginfo.
        let r = unsafe { libc::waitid(P_PIDFD, pidfd.as_raw_fd() as libc::id_t, &mut info, flags) };
        if r != 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        // SAFETY: waitid filled in the child fields of siginfo (or left
        // si_pid zero with WNOHANG when nothing changed).
        let pid = unsafe { info.si_pid() };
        // SAFETY: as above.
        let status = unsafe { info.si_status() };
        if pid == 0 {
            return Ok(None);
        }
        let raw = match info.si_code {
            libc::CLD_EXITED => (status & 0xff) << 8,
            libc::CLD_KILLED => status & 0x7f,
            libc::CLD_DUMPED => (status & 0x7f) | 0x80,
            _ => status,
        };
        return Ok(Some(raw));
    }
}

/// Registers `fd`, owned by `owner`, with the current tokio runtime's
/// reactor for readability. The registration must be dropped before
/// `owner` closes the descriptor: keep both in one value, the registration
/// declared (and so dropped) first.
///
/// # Panics
///
/// Outside a tokio runtime, or in one without the I/O driver enabled.
#[cfg(feature = "tokio")]
pub(crate) fn register_readable(
    owner: BorrowedFd<'_>,
) -> io::Result<tokio::io::unix::AsyncFd<RawFd>> {
    // SAFETY: the descriptor is open (borrowed from its owner), and the
    // caller drops the registration before the owner closes it (see
    // above), so the reactor never watches a closed or reused number.
    unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(
            owner.as_raw_fd(),
            tokio::io::Interest::READABLE,
        )
    }
    .map_err(io::Error::from)
}

/// Registers a file that owns its descriptor with the current tokio
/// runtime's reactor, for reading and writing.
///
/// # Panics
///
/// Outside a tokio runtime, or in one without the I/O driver enabled.
#[cfg(feature = "tokio")]
pub(crate) fn register_file(
    file: std::fs::File,
) -> io::Result<tokio::io::unix::AsyncFd<std::fs::File>> {
    // SAFETY: the `File` owns its descriptor and the registration owns the
    // `File`: the descriptor stays open, and refers to the same open file
    // description, for as long as it is registered.
    unsafe { tokio::io::unix::AsyncFd::register(file) }.map_err(io::Error::from)
}
