//! `--pty`: the program's own terminal, relayed to this process's.
//!
//! This process's terminal goes into raw mode (no echo, no line editing,
//! no signals from keys), so every key reaches the program's terminal as
//! typed: `^C` and `^Z` become the program's terminal's signals for its
//! foreground job, not this process's. What the program's terminal shows is
//! copied to standard output, and a change of this terminal's window size
//! (`SIGWINCH`) is passed on as a resize. The terminal's settings are
//! restored on every way out: the program's end, an ending signal, an
//! error, a panic.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::Mutex;

use nix::poll::{PollFd, PollFlags};
use nix::sys::termios::{self, SetArg, Termios};
use stockade::pty::WindowSize;

/// The settings to restore, while raw mode is on.
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

/// Whether standard input is a terminal.
pub fn stdin_is_terminal() -> bool {
    nix::unistd::isatty(io::stdin().as_fd()).unwrap_or(false)
}

/// Raw mode on standard input's terminal, undone when dropped.
pub struct RawMode(());

impl RawMode {
    pub fn enter() -> io::Result<RawMode> {
        let stdin = io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd())?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        *SAVED.lock().unwrap_or_else(|p| p.into_inner()) = Some(saved);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)?;
        Ok(RawMode(()))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts standard input's terminal back as it was before raw mode, if raw
/// mode is on (any number of times; only the first does something).
pub fn restore() {
    let saved = SAVED.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(t) = saved {
        let _ = termios::tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, &t);
    }
}

/// The window size of standard input's terminal (80x24 if it has none).
pub fn size() -> WindowSize {
    window_size(io::stdin().as_fd()).unwrap_or(WindowSize::new(24, 80))
}

fn window_size(fd: BorrowedFd<'_>) -> Option<WindowSize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize to a live location.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0 && ws.ws_col > 0).then(|| WindowSize::new(ws.ws_row, ws.ws_col))
}

/// Copies between this process's standard streams and the program's
/// terminal (its master side).
pub struct Relay {
    master: File,
    /// Whether standard input is still read (until its end).
    stdin_open: bool,
    /// Whether the program's terminal is still open on its side.
    master_open: bool,
}

impl Relay {
    pub fn new(master: File) -> Relay {
        Relay {
            master,
            stdin_open: true,
            master_open: true,
        }
    }

    /// What to poll: standard input and the master, while open (in that
    /// order; [`Relay::ready`] takes their `revents` in the same order).
    pub fn poll_fds(&self) -> Vec<PollFd<'_>> {
        let mut v = Vec::with_capacity(2);
        if self.stdin_open {
            v.push(PollFd::new(stdin_fd(), PollFlags::POLLIN));
        }
        if self.master_open {
            v.push(PollFd::new(self.master.as_fd(), PollFlags::POLLIN));
        }
        v
    }

    /// Moves what is ready: `ready` holds whether each of
    /// [`poll_fds`](Relay::poll_fds) was.
    pub fn ready(&mut self, ready: &[bool]) {
        let mut it = ready.iter().copied();
        let stdin_ready = self.stdin_open && it.next().unwrap_or(false);
        let master_ready = self.master_open && it.next().unwrap_or(false);
        let mut buf = [0u8; 16 * 1024];
        if stdin_ready {
            match io::stdin().lock().read(&mut buf) {
                Ok(0) | Err(_) => self.stdin_open = false,
                Ok(n) => {
                    if (&self.master).write_all(&buf[..n]).is_err() {
                        self.stdin_open = false;
                    }
                }
            }
        }
        if master_ready {
            self.copy_out(&mut buf);
        }
    }

    /// Copies one read of the master to standard output.
    fn copy_out(&mut self, buf: &mut [u8]) -> bool {
        match (&self.master).read(buf) {
            Ok(0) => {
                self.master_open = false;
                false
            }
            Ok(n) => {
                let mut out = io::stdout().lock();
                let _ = out.write_all(&buf[..n]);
                let _ = out.flush();
                true
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => true,
            // Nothing left for now (while draining).
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            // EIO: every process of the sandbox has closed its side.
            Err(_) => {
                self.master_open = false;
                false
            }
        }
    }

    /// After the program's end: copies what its terminal still holds.
    pub fn drain(&mut self) {
        if !self.master_open {
            return;
        }
        let _ = nix::fcntl::fcntl(
            &self.master,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        let mut buf = [0u8; 16 * 1024];
        while self.copy_out(&mut buf) {}
        self.master_open = false;
    }

    /// Passes this terminal's window size on to the program's.
    pub fn resize(&self) {
        set_size(self.master.as_fd(), size());
    }
}

fn stdin_fd() -> BorrowedFd<'static> {
    // SAFETY: standard input stays open for the whole process (this module
    // never closes it).
    unsafe { BorrowedFd::borrow_raw(0) }
}

/// Sets the window size of the terminal `fd`.
pub fn set_size(fd: BorrowedFd<'_>, size: WindowSize) {
    let ws = libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize from a live location.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}
