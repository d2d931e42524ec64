//! Process file descriptors (Linux 5.3): signalling and reaping a process
//! through its pidfd, from the parent side.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

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
