//! Terminals for sandboxed programs: [`Command::pty`](crate::Command::pty)
//! gives a program a pseudo-terminal of the sandbox's own `devpts`
//! instance, and the caller gets the master side, a [`Pty`].
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use stockade::pty::WindowSize;
//! use stockade::{Command, Sandbox};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut child = Sandbox::new().spawn(
//!     Command::new("bash")
//!         .arg("-i")
//!         .pty(WindowSize { rows: 24, cols: 80 }),
//! )?;
//! let mut pty = child.pty.take().unwrap();
//! pty.write_all(b"tty; exit\n")?;
//! let mut screen = Vec::new();
//! pty.read_to_end(&mut screen)?; // ends when the program closes the terminal
//! child.wait()?;
//! # Ok(())
//! # }
//! ```
//!
//! The terminal behaves as one in a terminal emulator: the program's
//! session has it as its controlling terminal, so `^C` (0x03) written to
//! the master interrupts the foreground process group, `^Z` (0x1a) stops
//! it, and [`Pty::resize`] sends it `SIGWINCH`. The line discipline is the
//! kernel's default (echo, canonical input, `\n` shown as `\r\n`); a
//! program that wants raw input sets it on its side, as in any terminal.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::sys::raw;

/// The size of a terminal's window, in character cells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct WindowSize {
    /// Lines.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
}

impl WindowSize {
    /// A window of `rows` lines and `cols` columns.
    pub const fn new(rows: u16, cols: u16) -> WindowSize {
        WindowSize { rows, cols }
    }
}

/// The caller's side (the master) of a sandboxed program's terminal: what
/// is written to it is the program's keyboard input, what is read from it
/// is what the program shows.
///
/// Reading returns end of file (`Ok(0)`) once every process of the
/// sandbox has closed the terminal (the kernel answers `EIO` then, which
/// this type turns into an end of file, as a pipe's reader would see).
/// Dropping it hangs the terminal up: the program's session gets
/// `SIGHUP`.
#[derive(Debug)]
pub struct Pty {
    inner: File,
}

impl Pty {
    pub(crate) fn from_owned(fd: OwnedFd) -> Pty {
        Pty {
            inner: File::from(fd),
        }
    }

    /// Sets the window size; the terminal's foreground process group gets
    /// `SIGWINCH` when it changes.
    pub fn resize(&self, size: WindowSize) -> io::Result<()> {
        set_size(self.inner.as_fd(), size)
    }

    /// The window size.
    pub fn size(&self) -> io::Result<WindowSize> {
        get_size(self.inner.as_fd())
    }

    /// Another handle on the same master (for example, one to read from and
    /// one to write to on two threads).
    pub fn try_clone(&self) -> io::Result<Pty> {
        Ok(Pty {
            inner: self.inner.try_clone()?,
        })
    }
}

/// Sets the window size of the terminal `fd` (master or peer).
pub(crate) fn set_size(fd: BorrowedFd<'_>, size: WindowSize) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    raw::set_window_size(fd.as_raw_fd(), &ws)
        .map(drop)
        .map_err(raw::Errno::into_io)
}

/// The window size of the terminal `fd`.
pub(crate) fn get_size(fd: BorrowedFd<'_>) -> io::Result<WindowSize> {
    let ws = raw::window_size(fd.as_raw_fd()).map_err(raw::Errno::into_io)?;
    Ok(WindowSize {
        rows: ws.ws_row,
        cols: ws.ws_col,
    })
}

/// A read from a master: `EIO` (every peer closed) is the end of file.
pub(crate) fn end_on_eio(r: io::Result<usize>) -> io::Result<usize> {
    match r {
        Err(e) if e.raw_os_error() == Some(libc::EIO) => Ok(0),
        other => other,
    }
}

impl Read for Pty {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        end_on_eio(self.inner.read(buf))
    }
}

impl Read for &Pty {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        end_on_eio((&self.inner).read(buf))
    }
}

impl Write for Pty {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &Pty {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.inner).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Pty {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for Pty {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl From<Pty> for OwnedFd {
    fn from(p: Pty) -> OwnedFd {
        p.inner.into()
    }
}

impl From<Pty> for File {
    fn from(p: Pty) -> File {
        p.inner
    }
}
