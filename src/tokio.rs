//! Async sandboxes for the [tokio](https://tokio.rs) runtime (feature
//! `tokio`).
//!
//! [`Sandbox::spawn_async`] starts a sandbox and returns an [`AsyncChild`],
//! whose [`wait`](AsyncChild::wait) is a future: the sandbox's pidfd
//! (Linux 5.3) is registered with the runtime's reactor and becomes readable
//! when the sandbox has ended, and the sandbox is then reaped without
//! blocking. There is no `SIGCHLD` handler and no thread per child, so
//! thousands of sandboxes can be awaited from a single-threaded runtime. Piped
//! standard streams become [`AsyncWrite`]/[`AsyncRead`] handles.
//!
//! ```
//! use stockade::{Command, Sandbox, Stdio};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! # rt.block_on(async {
//! let sandbox = Sandbox::new();
//!
//! // Run to completion and capture the output.
//! let out = sandbox
//!     .output_async(Command::new("sh").arg("-c").arg("echo hello"))
//!     .await?;
//! assert_eq!(out.stdout, b"hello\n");
//!
//! // Talk to the program through its standard streams.
//! let mut child = sandbox.spawn_async(
//!     Command::new("tr")
//!         .arg("a-z")
//!         .arg("A-Z")
//!         .stdin(Stdio::piped())
//!         .stdout(Stdio::piped()),
//! )?;
//! let mut stdin = child.stdin.take().unwrap();
//! stdin.write_all(b"shout\n").await?;
//! drop(stdin); // end of input
//! let mut text = String::new();
//! child.stdout.take().unwrap().read_to_string(&mut text).await?;
//! assert_eq!(text, "SHOUT\n");
//! assert!(child.wait().await?.success());
//!
//! // Timeouts are tokio's own; the sandbox keeps running until killed.
//! let mut child = sandbox.spawn_async(Command::new("sleep").arg("100"))?;
//! let waited = tokio::time::timeout(std::time::Duration::from_millis(50), child.wait()).await;
//! assert!(waited.is_err(), "still running");
//! child.kill().await?;
//! assert_eq!(child.outcome().unwrap().verdict, stockade::Verdict::Killed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```
//!
//! # Runtime requirements
//!
//! Everything here that registers a descriptor ([`Sandbox::spawn_async`],
//! [`AsyncChild::new`], the `TryFrom` conversions of the stdio handles) must
//! be called from within a tokio runtime whose I/O driver is enabled
//! (`enable_io` or `enable_all` on the runtime builder); like tokio's own
//! I/O types, it panics otherwise. Multi-threaded and current-thread
//! runtimes both work.
//!
//! # Spawning is synchronous
//!
//! [`Sandbox::spawn_async`] runs the spawn on the calling thread, as tokio's
//! own `Command::spawn` does. It waits only until the program has been
//! executed (or its setup has failed), which takes a few milliseconds; it
//! does not wait for the program. A setup step that can block for long
//! (for example a bind mount of a path on an unresponsive network file
//! system) blocks the runtime thread for as long; such callers can spawn
//! with [`Sandbox::spawn`] inside `spawn_blocking` and convert the
//! [`Child`] with [`AsyncChild::new`].
//!
//! # Dropping
//!
//! Dropping an [`AsyncChild`] that has not been waited for does what
//! dropping a [`Child`] does: it sends the kill (unless
//! [`Sandbox::kill_on_drop`] is turned off) and hands the reaping to the
//! process's reaper thread, without waiting, inside a runtime or outside
//! one. With `kill_on_drop` turned off, the sandbox keeps running and is
//! reaped once it ends.
//!
//! [`AsyncWrite`]: ::tokio::io::AsyncWrite
//! [`AsyncRead`]: ::tokio::io::AsyncRead
//! [`Child`]: crate::Child

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ::tokio::net::unix::pipe;

use crate::child::{Child, ChildStderr, ChildStdin, ChildStdout, ExitStatus, Outcome, Output};
use crate::command::{Command, StdioKind};
use crate::container::Container;
use crate::enforcement::Enforcement;
use crate::error::{Error, ParentOp};
use crate::sandbox::Sandbox;

fn wait_error(source: io::Error) -> Error {
    Error::Io {
        op: ParentOp::Wait,
        source,
    }
}

impl Sandbox {
    /// Starts `cmd` in the sandbox and returns an [`AsyncChild`] to await
    /// (feature `tokio`). Standard streams are inherited unless the command
    /// says otherwise, as with [`spawn`](Sandbox::spawn).
    ///
    /// The spawn itself runs on the calling thread and returns once the
    /// program has been executed; see the [module docs](crate::tokio) for
    /// what that means inside a runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one without the I/O driver enabled.
    pub fn spawn_async(&self, cmd: &mut Command) -> Result<AsyncChild, Error> {
        let child = self.spawn(cmd)?;
        AsyncChild::new(child).map_err(wait_error)
    }

    /// Runs `cmd` to completion, capturing stdout and stderr (stdin is
    /// `/dev/null` unless the command says otherwise): the async form of
    /// [`output`](Sandbox::output) (feature `tokio`).
    ///
    /// Dropping the future before it completes kills the sandbox.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one without the I/O driver enabled.
    pub async fn output_async(&self, cmd: &mut Command) -> Result<Output, Error> {
        let child = self.spawn_with(cmd, StdioKind::Piped, StdioKind::Null)?;
        let child = AsyncChild::new(child).map_err(wait_error)?;
        child.wait_with_output().await.map_err(wait_error)
    }

    /// Runs `cmd` to completion with inherited streams and returns its
    /// status: the async form of [`status`](Sandbox::status) (feature
    /// `tokio`).
    ///
    /// Dropping the future before it completes kills the sandbox.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one without the I/O driver enabled.
    pub async fn status_async(&self, cmd: &mut Command) -> Result<ExitStatus, Error> {
        let mut child = self.spawn_async(cmd)?;
        child.wait().await.map_err(wait_error)
    }
}

impl Container {
    /// Runs `cmd` in the container and returns an [`AsyncChild`] to await
    /// (feature `tokio`): the async form of
    /// [`Container::spawn`](Container::spawn). The hand-over to the
    /// container runs on the calling thread and returns once the program
    /// has been executed; the program's end is awaited on the reactor.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one without the I/O driver enabled.
    pub fn spawn_async(&self, cmd: &mut Command) -> Result<AsyncChild, Error> {
        let child = self.spawn(cmd)?;
        AsyncChild::new(child).map_err(wait_error)
    }

    /// Runs `cmd` in the container to completion, capturing stdout and
    /// stderr: the async form of [`Container::output`] (feature `tokio`).
    ///
    /// Dropping the future before it completes kills the program (not the
    /// container).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one without the I/O driver enabled.
    pub async fn output_async(&self, cmd: &mut Command) -> Result<Output, Error> {
        let child = self.spawn_with(cmd, StdioKind::Piped, StdioKind::Null)?;
        let child = AsyncChild::new(child).map_err(wait_error)?;
        child.wait_with_output().await.map_err(wait_error)
    }

    /// Runs `cmd` in the container to completion with inherited streams:
    /// the async form of [`Container::status`] (feature `tokio`).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one without the I/O driver enabled.
    pub async fn status_async(&self, cmd: &mut Command) -> Result<ExitStatus, Error> {
        let mut child = self.spawn_async(cmd)?;
        child.wait().await.map_err(wait_error)
    }
}

/// A sandboxed program started by [`Sandbox::spawn_async`]: the async form
/// of [`Child`], shaped like `tokio::process::Child`.
///
/// Waiting ([`wait`](AsyncChild::wait), [`kill`](AsyncChild::kill),
/// [`wait_with_output`](AsyncChild::wait_with_output)) awaits the sandbox's
/// pidfd on the runtime's reactor; nothing blocks a thread. Timeouts compose
/// with tokio's, e.g. `tokio::time::timeout(limit, child.wait())`: when the
/// timeout fires the sandbox is left running, to be killed or awaited again.
///
/// Dropping an `AsyncChild` that has not been waited for kills the sandbox
/// (unless [`Sandbox::kill_on_drop`] is turned off) and reaps it in the
/// background; see the [module docs](crate::tokio#dropping).
#[derive(Debug)]
pub struct AsyncChild {
    /// The program's standard input, if it was [`Stdio::piped`](crate::Stdio::piped).
    pub stdin: Option<AsyncChildStdin>,
    /// The program's standard output, if piped.
    pub stdout: Option<AsyncChildStdout>,
    /// The program's standard error, if piped.
    pub stderr: Option<AsyncChildStderr>,
    /// The master side of the program's terminal, if the command asked
    /// for one ([`Command::pty`](crate::Command::pty)).
    pub pty: Option<AsyncPty>,
    /// With its pidfd registered with the reactor.
    child: Child,
}

impl AsyncChild {
    /// Turns a [`Child`] started with [`Sandbox::spawn`] into an
    /// `AsyncChild`: registers its pidfd with the current runtime and makes
    /// its piped streams non-blocking async handles.
    ///
    /// On error the `Child` is dropped, which kills the sandbox unless
    /// [`Sandbox::kill_on_drop`] was turned off.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one without the I/O driver enabled.
    pub fn new(mut child: Child) -> io::Result<AsyncChild> {
        let stdin = child
            .stdin
            .take()
            .map(AsyncChildStdin::try_from)
            .transpose()?;
        let stdout = child
            .stdout
            .take()
            .map(AsyncChildStdout::try_from)
            .transpose()?;
        let stderr = child
            .stderr
            .take()
            .map(AsyncChildStderr::try_from)
            .transpose()?;
        let pty = child.pty.take().map(AsyncPty::try_from).transpose()?;
        child.inner.register()?;
        Ok(AsyncChild {
            stdin,
            stdout,
            stderr,
            pty,
            child,
        })
    }

    /// The program's process id, as seen by the caller.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The sandbox's pidfd; see [`Child::pidfd`].
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.child.pidfd()
    }

    /// What the sandbox actually enforced.
    pub fn enforcement(&self) -> &Enforcement {
        self.child.enforcement()
    }

    /// How the sandbox ended and what it used, once it has been waited for
    /// ([`wait`](AsyncChild::wait) or [`try_wait`](AsyncChild::try_wait)
    /// returned a status).
    pub fn outcome(&self) -> Option<&Outcome> {
        self.child.outcome()
    }

    /// What the sandbox has refused so far; see [`Child::denials`].
    pub fn denials(&self) -> crate::denials::Denials {
        self.child.denials()
    }

    /// The connections the sandbox has attempted through its filtered
    /// network; see [`Child::connections`].
    pub fn connections(&self) -> Vec<crate::net::Connection> {
        self.child.connections()
    }

    /// Sends `signal` to the program's process group; see
    /// [`Child::signal`]. A `SIGSTOP` stops the program, never the
    /// sandbox's init, so awaiting a kill or the sandbox's wall-clock limit
    /// still ends a stopped sandbox. The request is queued without waiting
    /// for the program; the call blocks only while the sandbox has many
    /// requests unread.
    pub fn signal(&self, signal: i32) -> io::Result<()> {
        self.child.signal(signal)
    }

    /// Starts killing every process of the sandbox and returns at once; a
    /// later [`wait`](AsyncChild::wait) reports `SIGKILL` and the outcome
    /// [`Verdict::Killed`](crate::Verdict::Killed). Does nothing if the
    /// sandbox already ended.
    pub fn start_kill(&mut self) -> io::Result<()> {
        self.child.kill()
    }

    /// Kills every process of the sandbox and waits for it to be reaped.
    ///
    /// Cancel-safe: if the future is dropped, the kill has been sent, and
    /// [`wait`](AsyncChild::wait) collects the status later.
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(drop)
    }

    /// Returns the status if the sandbox has ended, reaping it, without
    /// waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Waits for the sandbox to end and returns the program's status.
    /// Closes the program's stdin first, if it was piped, so that a program
    /// reading it is not left waiting for input.
    ///
    /// Cancel-safe: dropping the future (for example when a
    /// `tokio::time::timeout` around it expires) leaves the sandbox running
    /// and the `AsyncChild` usable; a later call waits again. Once it has
    /// returned a status, further calls return the same status.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        poll_fn(|cx| self.child.poll_wait(cx)).await
    }

    /// Waits for the sandbox to end and collects its stdout and stderr
    /// (those that were piped), reading both concurrently so neither pipe
    /// can fill up and stall the program. Closes stdin first.
    ///
    /// Dropping the future before it completes drops the `AsyncChild`,
    /// which kills the sandbox.
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let pty = self.pty.take();
        let (stdout, stderr) = match (self.stdout.take(), pty) {
            (None, Some(pty)) => read_pty_and(pty, self.stderr.take()).await?,
            (out, _) => read_both(out, self.stderr.take()).await?,
        };
        let status = self.wait().await?;
        let outcome = self
            .outcome()
            .cloned()
            .ok_or_else(|| io::Error::other("the sandbox ended without an outcome"))?;
        Ok(Output {
            status,
            stdout,
            stderr,
            outcome,
        })
    }
}

impl TryFrom<Child> for AsyncChild {
    type Error = io::Error;

    /// Same as [`AsyncChild::new`].
    fn try_from(child: Child) -> io::Result<AsyncChild> {
        AsyncChild::new(child)
    }
}

/// Reads both pipes to their end concurrently.
async fn read_both(
    out: Option<AsyncChildStdout>,
    err: Option<AsyncChildStderr>,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut out = out.map(|o| o.inner);
    let mut err = err.map(|e| e.inner);
    let mut bufs = (Vec::new(), Vec::new());
    poll_fn(|cx| {
        let a = poll_drain(&mut out, &mut bufs.0, cx)?;
        let b = poll_drain(&mut err, &mut bufs.1, cx)?;
        if a.is_ready() && b.is_ready() {
            Poll::Ready(Ok::<(), io::Error>(()))
        } else {
            Poll::Pending
        }
    })
    .await?;
    Ok(bufs)
}

/// Reads `pipe` into `dst` until it would block (`Pending`) or reaches its
/// end (`Ready`, and `pipe` becomes `None`).
fn poll_drain(
    pipe: &mut Option<pipe::Receiver>,
    dst: &mut Vec<u8>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let mut chunk = [0u8; 16 * 1024];
    while let Some(rx) = pipe.as_mut() {
        let mut buf = ReadBuf::new(&mut chunk);
        match Pin::new(rx).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => *pipe = None,
            Poll::Ready(Ok(())) => dst.extend_from_slice(buf.filled()),
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
    Poll::Ready(Ok(()))
}

/// Reads a terminal's master and a standard error pipe to their ends.
async fn read_pty_and(
    mut pty: AsyncPty,
    err: Option<AsyncChildStderr>,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut err = err.map(|e| e.inner);
    let mut bufs = (Vec::new(), Vec::new());
    let mut pty_done = false;
    poll_fn(|cx| {
        if !pty_done {
            pty_done = poll_drain_pty(&mut pty, &mut bufs.0, cx)?.is_ready();
        }
        let b = poll_drain(&mut err, &mut bufs.1, cx)?;
        if pty_done && b.is_ready() {
            Poll::Ready(Ok::<(), io::Error>(()))
        } else {
            Poll::Pending
        }
    })
    .await?;
    Ok(bufs)
}

/// Reads a terminal's master to its end into `dst`.
fn poll_drain_pty(
    pty: &mut AsyncPty,
    dst: &mut Vec<u8>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let mut buf = ReadBuf::new(&mut chunk);
        match Pin::new(&mut *pty).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
            Poll::Ready(Ok(())) => dst.extend_from_slice(buf.filled()),
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// The master side of a sandboxed program's terminal, registered with the
/// runtime's reactor: the async form of [`Pty`](crate::pty::Pty).
///
/// Reading returns end of file once every process of the sandbox has
/// closed the terminal. Dropping it hangs the terminal up.
pub struct AsyncPty {
    inner: ::tokio::io::unix::AsyncFd<std::fs::File>,
}

impl AsyncPty {
    /// Sets the window size; the terminal's foreground process group gets
    /// `SIGWINCH` when it changes.
    pub fn resize(&self, size: crate::pty::WindowSize) -> io::Result<()> {
        crate::pty::set_size(self.inner.get_ref().as_fd(), size)
    }

    /// The window size.
    pub fn size(&self) -> io::Result<crate::pty::WindowSize> {
        crate::pty::get_size(self.inner.get_ref().as_fd())
    }
}

impl TryFrom<crate::pty::Pty> for AsyncPty {
    type Error = io::Error;

    /// Registers the master with the current runtime's reactor (and makes
    /// it non-blocking).
    fn try_from(p: crate::pty::Pty) -> io::Result<Self> {
        let file = std::fs::File::from(p);
        rustix::io::ioctl_fionbio(&file, true)?;
        Ok(AsyncPty {
            inner: crate::sys::pidfd::register_file(file)?,
        })
    }
}

impl AsyncRead for AsyncPty {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        use std::io::Read;
        let this = self.get_mut();
        loop {
            let mut guard = std::task::ready!(this.inner.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|f| crate::pty::end_on_eio(f.get_ref().read(unfilled))) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for AsyncPty {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        use std::io::Write;
        let this = self.get_mut();
        loop {
            let mut guard = std::task::ready!(this.inner.poll_write_ready(cx))?;
            match guard.try_io(|f| f.get_ref().write(data)) {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsFd for AsyncPty {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.get_ref().as_fd()
    }
}

impl AsRawFd for AsyncPty {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.get_ref().as_raw_fd()
    }
}

impl fmt::Debug for AsyncPty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncPty")
            .field("fd", &self.inner.get_ref().as_raw_fd())
            .finish()
    }
}

/// The write end of the program's standard input pipe, as an
/// [`AsyncWrite`].
///
/// Shutting it down ([`poll_shutdown`](AsyncWrite::poll_shutdown), or
/// `AsyncWriteExt::shutdown`) closes the pipe, so the program reads
/// end-of-file, as dropping the handle does; writes after it fail with
/// [`io::ErrorKind::BrokenPipe`].
pub struct AsyncChildStdin {
    inner: Option<pipe::Sender>,
}

/// The read end of the program's standard output pipe, as an
/// [`AsyncRead`].
pub struct AsyncChildStdout {
    inner: pipe::Receiver,
}

/// The read end of the program's standard error pipe, as an
/// [`AsyncRead`].
pub struct AsyncChildStderr {
    inner: pipe::Receiver,
}

impl AsyncChildStdin {
    fn sender(&mut self) -> io::Result<Pin<&mut pipe::Sender>> {
        self.inner
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

impl AsyncWrite for AsyncChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().sender() {
            Ok(s) => s.poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().sender() {
            Ok(s) => s.poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Pipe writes are not buffered.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner = None;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for AsyncChildStdout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncRead for AsyncChildStderr {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl TryFrom<ChildStdin> for AsyncChildStdin {
    type Error = io::Error;

    /// Makes the pipe non-blocking and registers it with the current
    /// runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one without the I/O driver enabled.
    fn try_from(h: ChildStdin) -> io::Result<Self> {
        let inner = pipe::Sender::from_owned_fd(OwnedFd::from(h))?;
        Ok(AsyncChildStdin { inner: Some(inner) })
    }
}

impl TryFrom<ChildStdout> for AsyncChildStdout {
    type Error = io::Error;

    /// Makes the pipe non-blocking and registers it with the current
    /// runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one without the I/O driver enabled.
    fn try_from(h: ChildStdout) -> io::Result<Self> {
        let inner = pipe::Receiver::from_owned_fd(OwnedFd::from(h))?;
        Ok(AsyncChildStdout { inner })
    }
}

impl TryFrom<ChildStderr> for AsyncChildStderr {
    type Error = io::Error;

    /// Makes the pipe non-blocking and registers it with the current
    /// runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one without the I/O driver enabled.
    fn try_from(h: ChildStderr) -> io::Result<Self> {
        let inner = pipe::Receiver::from_owned_fd(OwnedFd::from(h))?;
        Ok(AsyncChildStderr { inner })
    }
}

impl fmt::Debug for AsyncChildStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fd = self.inner.as_ref().map(AsRawFd::as_raw_fd);
        f.debug_struct("AsyncChildStdin").field("fd", &fd).finish()
    }
}

impl fmt::Debug for AsyncChildStdout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncChildStdout")
            .field("fd", &self.inner.as_raw_fd())
            .finish()
    }
}

impl fmt::Debug for AsyncChildStderr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncChildStderr")
            .field("fd", &self.inner.as_raw_fd())
            .finish()
    }
}

impl AsFd for AsyncChildStdout {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for AsyncChildStdout {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for AsyncChildStderr {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for AsyncChildStderr {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}
