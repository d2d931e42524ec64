//! A running sandbox: [`Child`], its exit status and captured output.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use crate::enforcement::Enforcement;
use crate::reaper::{self, Orphan};
use crate::record::{self, Record};
use crate::zone::launch::Supervisor;

/// How a sandboxed program ended, with the semantics of
/// [`std::process::ExitStatus`] (it wraps the raw wait status).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExitStatus(i32);

impl ExitStatus {
    /// Builds a status from a raw wait status (as `waitpid` reports it).
    pub fn from_raw(raw: i32) -> ExitStatus {
        ExitStatus(raw)
    }

    /// The raw wait status.
    pub fn into_raw(self) -> i32 {
        self.0
    }

    /// Whether the program exited with code 0.
    pub fn success(&self) -> bool {
        self.code() == Some(0)
    }

    /// The exit code, if the program exited normally.
    pub fn code(&self) -> Option<i32> {
        libc::WIFEXITED(self.0).then(|| libc::WEXITSTATUS(self.0))
    }

    /// The signal that killed the program, if any.
    pub fn signal(&self) -> Option<i32> {
        libc::WIFSIGNALED(self.0).then(|| libc::WTERMSIG(self.0))
    }

    /// Whether the program dumped core when it was killed.
    pub fn core_dumped(&self) -> bool {
        libc::WIFSIGNALED(self.0) && libc::WCOREDUMP(self.0)
    }
}

impl From<ExitStatus> for std::process::ExitStatus {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitStatus::from_raw(s.0)
    }
}

impl From<std::process::ExitStatus> for ExitStatus {
    fn from(s: std::process::ExitStatus) -> Self {
        ExitStatus(s.into_raw())
    }
}

impl fmt::Debug for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&std::process::ExitStatus::from(*self), f)
    }
}

impl fmt::Display for ExitStatus {
    /// Same text as `std::process::ExitStatus`, e.g. `exit status: 42` or
    /// `signal: 9 (SIGKILL)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&std::process::ExitStatus::from(*self), f)
    }
}

/// The output of a finished sandboxed program.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// How it ended.
    pub status: ExitStatus,
    /// Everything it wrote to standard output.
    pub stdout: Vec<u8>,
    /// Everything it wrote to standard error.
    pub stderr: Vec<u8>,
    /// Why it ended and what it used (as [`Child::outcome`]): whether it
    /// timed out or ran out of memory, say, along with what it printed.
    pub outcome: Outcome,
}

macro_rules! stdio_handle {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug)]
        pub struct $name {
            inner: File,
        }

        impl $name {
            pub(crate) fn from_owned(fd: OwnedFd) -> Self {
                $name { inner: File::from(fd) }
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.inner.as_fd()
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.inner.as_raw_fd()
            }
        }

        impl From<$name> for OwnedFd {
            fn from(h: $name) -> OwnedFd {
                h.inner.into()
            }
        }
    };
}

stdio_handle!(
    /// The write end of the program's standard input pipe.
    ChildStdin
);
stdio_handle!(
    /// The read end of the program's standard output pipe.
    ChildStdout
);
stdio_handle!(
    /// The read end of the program's standard error pipe.
    ChildStderr
);

impl Write for ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Read for ChildStdout {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Read for ChildStderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

/// Why a sandbox ended, as far as the sandbox can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Verdict {
    /// The program exited with this code.
    Exited(i32),
    /// The program was killed by this signal, for a reason the sandbox did
    /// not cause.
    Signaled(i32),
    /// The wall-clock limit of [`Sandbox::timeout`](crate::Sandbox::timeout)
    /// expired and the sandbox was killed.
    TimedOut,
    /// The program died of `SIGXCPU`, or of `SIGKILL` after using up the
    /// hard CPU-time limit of
    /// [`Sandbox::cpu_time_limit`](crate::Sandbox::cpu_time_limit).
    CpuTimeExceeded,
    /// The kernel's OOM killer killed a process of the sandbox under its
    /// cgroup memory limit.
    OomKilled,
    /// The caller ended the sandbox ([`Child::kill`], or dropping the
    /// `Child`).
    Killed,
}

impl Verdict {
    /// The short name used in reports: `exited`, `signaled`, `timed_out`,
    /// `cpu_time_exceeded`, `oom_killed`, `killed`.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Exited(_) => "exited",
            Verdict::Signaled(_) => "signaled",
            Verdict::TimedOut => "timed_out",
            Verdict::CpuTimeExceeded => "cpu_time_exceeded",
            Verdict::OomKilled => "oom_killed",
            Verdict::Killed => "killed",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Exited(c) => write!(f, "exited with code {c}"),
            Verdict::Signaled(s) => write!(f, "killed by signal {s}"),
            Verdict::TimedOut => f.write_str("timed out"),
            Verdict::CpuTimeExceeded => f.write_str("CPU time limit exceeded"),
            Verdict::OomKilled => f.write_str("killed for exceeding its memory limit"),
            Verdict::Killed => f.write_str("killed by the caller"),
        }
    }
}

/// Resources a finished sandbox used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Usage {
    /// From just before the program's process was created until it ended.
    pub wall_time: Duration,
    /// User CPU time of every process of the sandbox that was reaped.
    pub user_time: Duration,
    /// System CPU time of every process of the sandbox that was reaped.
    pub system_time: Duration,
    /// Peak memory in bytes: the largest resident set of any single process
    /// (`ru_maxrss`) unless [`peak_memory_whole_sandbox`](Usage::peak_memory_whole_sandbox).
    pub peak_memory_bytes: u64,
    /// Whether [`peak_memory_bytes`](Usage::peak_memory_bytes) covers the
    /// whole sandbox at once (the cgroup's `memory.peak`, Linux 5.19), rather
    /// than its largest process.
    pub peak_memory_whole_sandbox: bool,
    /// Whether a fork or clone in the sandbox failed because of
    /// [`Sandbox::pids_limit`](crate::Sandbox::pids_limit) (`pids.events`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub pids_limit_hit: bool,
}

impl Usage {
    /// User plus system CPU time.
    pub fn cpu_time(&self) -> Duration {
        self.user_time + self.system_time
    }
}

/// Everything known about a finished sandbox: [`Child::outcome`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Outcome {
    /// The program's wait status (for a timed-out or killed sandbox, the
    /// `SIGKILL` that ended it).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub status: ExitStatus,
    /// Why it ended.
    pub verdict: Verdict,
    /// What it used. `None` when the supervisor could not account for it
    /// (it was killed from outside before it could report).
    pub usage: Option<Usage>,
    /// The counters of the sandbox's cgroup, read just before it was
    /// removed; `None` without a cgroup.
    pub cgroup: Option<crate::cgroup::Usage>,
    /// Every connection the sandbox attempted through its filtered network
    /// ([`Sandbox::egress`](crate::Sandbox::egress)), and every connection
    /// to its published ports, in order: allowed or denied, and why.
    /// Empty for other networks.
    pub connections: Vec<crate::net::Connection>,
    /// What the sandbox refused: the seccomp filter's refusals, the
    /// network policy's and the limits hit, with what was not observed and
    /// why (see [`denials`](crate::denials)). Its `Display` is a one-line
    /// summary.
    pub denials: crate::denials::Denials,
}

/// A sandboxed program that was started by [`Sandbox::spawn`](crate::Sandbox::spawn).
///
/// Like [`std::process::Child`], with two differences that make sandboxes
/// hard to leak: dropping a `Child` that has not been waited for kills the
/// whole sandbox (unless [`Sandbox::kill_on_drop`](crate::Sandbox::kill_on_drop)
/// is turned off), and the sandbox dies when the calling process dies (unless
/// [`Sandbox::die_with_parent`](crate::Sandbox::die_with_parent) is turned
/// off).
///
/// Dropping it does not wait for the sandbox: the drop sends the kill and
/// hands the sandbox to a thread of the process that reaps it once it has
/// ended, and returns what it held (its stacks, descriptors and cgroup). A
/// sandbox left running by a drop is reaped the same way whenever it ends.
/// Only when a thousand or more killed sandboxes are still being torn down
/// does a drop wait for its own.
#[derive(Debug)]
pub struct Child {
    /// The program's standard input, if it was [`Stdio::piped`](crate::Stdio::piped).
    pub stdin: Option<ChildStdin>,
    /// The program's standard output, if piped.
    pub stdout: Option<ChildStdout>,
    /// The program's standard error, if piped.
    pub stderr: Option<ChildStderr>,
    /// The master side of the program's terminal, if the command asked
    /// for one ([`Command::pty`](crate::Command::pty)).
    pub pty: Option<crate::pty::Pty>,
    pub(crate) inner: Inner,
}

/// A `Child`'s state. Empty only once `Drop` has handed the sandbox to the
/// reaper; until then it dereferences to its [`State`].
#[derive(Debug)]
pub(crate) struct Inner(Option<State>);

impl std::ops::Deref for Inner {
    type Target = State;
    fn deref(&self) -> &State {
        self.0.as_ref().expect("taken only by Child::drop")
    }
}

impl std::ops::DerefMut for Inner {
    fn deref_mut(&mut self) -> &mut State {
        self.0.as_mut().expect("taken only by Child::drop")
    }
}

/// What a [`Child`] ends with.
#[derive(Debug)]
pub(crate) enum End {
    /// A sandbox of its own: it ends with its supervisor (its init).
    Sandbox(Supervisor),
    /// A program run in a container: it ends with the exit record on its
    /// channel (the `report` descriptor), or the channel's closing when the
    /// container ends first.
    Exec(ExecEnd),
}

/// The reactor registration of an exec's channel.
#[derive(Debug, Default)]
pub(crate) struct ExecEnd {
    #[cfg(feature = "tokio")]
    reactor: Option<tokio::io::unix::AsyncFd<std::os::fd::RawFd>>,
}

/// Whether `fd` is readable (or hung up), waiting at most `ms`
/// milliseconds (-1: for ever).
fn readable(fd: BorrowedFd<'_>, ms: i32) -> io::Result<bool> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    loop {
        let mut pfd = [PollFd::new(fd, PollFlags::POLLIN)];
        let t = PollTimeout::try_from(ms).unwrap_or(PollTimeout::NONE);
        match poll(&mut pfd, t) {
            Ok(n) => return Ok(n > 0),
            Err(nix::Error::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

#[derive(Debug)]
pub(crate) struct State {
    /// What the program ends with. Declared before `report`, so that an
    /// exec's reactor registration of `report` is dropped before it.
    pub(crate) end: End,
    pub(crate) program_pid: u32,
    pub(crate) report: OwnedFd,
    pub(crate) status: Option<ExitStatus>,
    pub(crate) enforcement: Enforcement,
    pub(crate) kill_on_drop: bool,
    /// Whether the sandbox has a pid namespace (its supervisor's death
    /// kills every process in it).
    pub(crate) pid_ns: bool,
    /// The soft `RLIMIT_CPU`, in seconds, if one was set.
    pub(crate) cpu_limit_secs: Option<u64>,
    pub(crate) started: Instant,
    pub(crate) kill_requested: bool,
    pub(crate) outcome: Option<Outcome>,
    /// The sandbox's cgroup, removed once the sandbox has ended.
    pub(crate) cgroup: Option<crate::cgroup::PreparedCgroup>,
    /// The locks on the sandbox's layer directories, released once it has
    /// ended (see `crate::layer`).
    pub(crate) layers: crate::layer::Held,
    /// The engine of the sandbox's filtered network or published ports,
    /// stopped once the sandbox has ended.
    pub(crate) net: Option<crate::net::Running>,
    /// The observation of the sandbox's refusals.
    pub(crate) denials: crate::denials::Watch,
    /// The program's namespaces, when its command asked for them.
    pub(crate) namespace_ids: Option<crate::NamespaceIds>,
}

impl Inner {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        supervisor: Supervisor,
        program_pid: u32,
        report: OwnedFd,
        enforcement: Enforcement,
        kill_on_drop: bool,
        pid_ns: bool,
        cpu_limit_secs: Option<u64>,
        started: Instant,
        cgroup: Option<crate::cgroup::PreparedCgroup>,
    ) -> Inner {
        Inner(Some(State {
            end: End::Sandbox(supervisor),
            program_pid,
            report,
            status: None,
            enforcement,
            kill_on_drop,
            pid_ns,
            cpu_limit_secs,
            started,
            kill_requested: false,
            outcome: None,
            cgroup,
            layers: Default::default(),
            net: None,
            denials: Default::default(),
            namespace_ids: None,
        }))
    }
}

impl Inner {
    /// The state of a program run in a container, whose channel is
    /// `report`.
    pub(crate) fn exec(
        program_pid: u32,
        report: OwnedFd,
        enforcement: Enforcement,
        kill_on_drop: bool,
        cpu_limit_secs: Option<u64>,
        started: Instant,
    ) -> Inner {
        Inner(Some(State {
            end: End::Exec(ExecEnd::default()),
            program_pid,
            report,
            status: None,
            enforcement,
            kill_on_drop,
            pid_ns: false,
            cpu_limit_secs,
            started,
            kill_requested: false,
            outcome: None,
            cgroup: None,
            layers: Default::default(),
            net: None,
            denials: Default::default(),
            namespace_ids: None,
        }))
    }
}

impl State {
    /// Waits for the end (without blocking with `nohang`): the supervisor's
    /// raw wait status, or 0 once an exec's channel is readable.
    fn wait_end(&mut self, nohang: bool) -> io::Result<Option<i32>> {
        match &mut self.end {
            End::Sandbox(sup) => sup.wait(nohang),
            End::Exec(_) => {
                let ready = readable(self.report.as_fd(), if nohang { 0 } else { -1 })?;
                Ok(ready.then_some(0))
            }
        }
    }

    /// A descriptor that becomes readable once the program has ended.
    fn end_fd(&self) -> BorrowedFd<'_> {
        match &self.end {
            End::Sandbox(sup) => sup.pidfd(),
            End::Exec(_) => self.report.as_fd(),
        }
    }

    /// Registers what the program ends with with the current tokio
    /// runtime's reactor.
    #[cfg(feature = "tokio")]
    pub(crate) fn register(&mut self) -> io::Result<()> {
        match &mut self.end {
            End::Sandbox(sup) => sup.register(),
            End::Exec(e) => {
                if e.reactor.is_none() {
                    e.reactor = Some(crate::sys::pidfd::register_readable(self.report.as_fd())?);
                }
                Ok(())
            }
        }
    }

    /// Polls for the end through the reactor.
    #[cfg(feature = "tokio")]
    fn poll_end(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<i32>> {
        match &mut self.end {
            End::Sandbox(sup) => sup.poll_wait(cx),
            End::Exec(e) => {
                let Some(afd) = &e.reactor else {
                    return std::task::Poll::Ready(Err(io::Error::other(
                        "the channel is not registered with the reactor",
                    )));
                };
                loop {
                    if readable(self.report.as_fd(), 0)? {
                        return std::task::Poll::Ready(Ok(0));
                    }
                    let mut guard = std::task::ready!(afd.poll_read_ready(cx))?;
                    if readable(self.report.as_fd(), 0)? {
                        return std::task::Poll::Ready(Ok(0));
                    }
                    guard.clear_ready();
                }
            }
        }
    }

    /// Sends `sig` to the supervisor itself (`ESRCH` for an exec, which
    /// has none of its own).
    fn signal_supervisor(&self, sig: i32) -> io::Result<()> {
        match &self.end {
            End::Sandbox(sup) => sup.signal(sig),
            End::Exec(_) => Err(io::Error::from_raw_os_error(libc::ESRCH)),
        }
    }
}

impl Child {
    /// The program's process id, as seen by the caller.
    pub fn id(&self) -> u32 {
        self.inner.program_pid
    }

    /// The identities of the program's namespaces, recorded before it ran
    /// when its command asked
    /// ([`Command::record_namespace_ids`](crate::Command::record_namespace_ids));
    /// `None` otherwise, or where the caller's `/proc` could not be opened.
    pub fn namespace_ids(&self) -> Option<crate::NamespaceIds> {
        self.inner.namespace_ids
    }

    /// A pidfd that becomes readable when the sandbox has ended (it refers
    /// to the sandbox's supervisor, which outlives the program by at most the
    /// time it takes to tear the sandbox down). Useful with `poll` and event
    /// loops.
    ///
    /// For a program run in a [`Container`](crate::Container), it is the
    /// program's channel to the container's supervisor, readable once the
    /// program has ended (or the container has).
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.inner.end_fd()
    }

    /// What the sandbox actually enforced.
    pub fn enforcement(&self) -> &Enforcement {
        &self.inner.enforcement
    }

    /// Kills every process of the sandbox. Does nothing if it already
    /// ended. [`wait`](Child::wait) then reports `SIGKILL`, and the
    /// outcome [`Verdict::Killed`].
    pub fn kill(&mut self) -> io::Result<()> {
        if self.inner.status.is_some() {
            return Ok(());
        }
        self.inner.kill_requested = true;
        // Ask the supervisor to tear the sandbox down and report; it kills
        // what a pid namespace would not take down with it.
        use nix::sys::socket::{MsgFlags, send};
        let sent = send(
            self.inner.report.as_raw_fd(),
            &[record::REQUEST_KILL],
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
        );
        if let End::Exec(_) = self.inner.end {
            // The container's supervisor kills the program's group; if the
            // request cannot be sent, the container has ended and so has
            // the program.
            return Ok(());
        }
        if sent == Ok(1) && !self.inner.pid_ns {
            return Ok(());
        }
        // In a pid namespace the supervisor's death kills everything at once,
        // even if the supervisor is stopped or stuck.
        match self.inner.signal_supervisor(libc::SIGKILL) {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            other => other,
        }
    }

    /// How the sandbox ended and what it used, once it has been waited for
    /// ([`wait`](Child::wait), [`try_wait`](Child::try_wait) or
    /// [`wait_timeout`](Child::wait_timeout) returned a status).
    pub fn outcome(&self) -> Option<&Outcome> {
        self.inner.outcome.as_ref()
    }

    /// The connections the sandbox has attempted so far through its
    /// filtered network and its published ports (see
    /// [`Outcome::connections`]): a snapshot while it runs, the whole log
    /// once it has been waited for. For a live stream, see
    /// [`Egress::on_connection`](crate::net::Egress::on_connection).
    pub fn connections(&self) -> Vec<crate::net::Connection> {
        match (&self.inner.net, &self.inner.outcome) {
            (Some(n), _) => n.engine.connections(),
            (None, Some(o)) => o.connections.clone(),
            (None, None) => Vec::new(),
        }
    }

    /// What the sandbox has refused so far: a snapshot while it runs (the
    /// seccomp filter's refusals and the network policy's), the whole
    /// report ([`Outcome::denials`]) once it has been waited for. For a
    /// live stream, see [`Sandbox::on_denial`](crate::Sandbox::on_denial).
    pub fn denials(&self) -> crate::denials::Denials {
        self.inner.denials.snapshot(&self.connections())
    }

    /// The sandbox's published ports ([`Sandbox::publish`](crate::Sandbox::publish)),
    /// while it runs: each host address listened on (with the port the
    /// kernel picked where port 0 was asked for) and the sandbox's port it
    /// forwards to.
    pub fn published(&self) -> Vec<(std::net::SocketAddr, u16)> {
        self.inner
            .net
            .as_ref()
            .map(|n| n.published.clone())
            .unwrap_or_default()
    }

    /// Sends `signal` to the program's process group: the program and
    /// whatever it started that stayed in its group, as a terminal's job
    /// control would. `SIGKILL` kills the whole sandbox, as
    /// [`kill`](Child::kill) does; `0` only checks that the sandbox is
    /// running.
    ///
    /// The request goes to the sandbox's supervisor, which sends the signal:
    /// a `SIGSTOP` stops the program, never the supervisor, so the wall-clock
    /// limit and the death with the caller hold while the program is
    /// stopped. Returns once the request is queued (it blocks only while the
    /// supervisor has many requests unread). Errors: `ESRCH` once the
    /// sandbox has ended, `EINVAL` for a number that is not a signal.
    pub fn signal(&self, signal: i32) -> io::Result<()> {
        if self.inner.status.is_some() {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        let sig = match u8::try_from(signal) {
            Ok(0) => {
                return match self.inner.end {
                    End::Sandbox(_) => self.inner.signal_supervisor(0),
                    End::Exec(_) if readable(self.inner.report.as_fd(), 0)? => {
                        Err(io::Error::from_raw_os_error(libc::ESRCH))
                    }
                    End::Exec(_) => Ok(()),
                };
            }
            Ok(s) if s <= 64 => s,
            _ => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
        };
        let sent = if signal == libc::SIGKILL {
            self.request(&[record::REQUEST_KILL])
        } else {
            self.request(&[record::REQUEST_SIGNAL, sig])
        };
        match sent {
            Ok(()) => Ok(()),
            // The supervisor is gone, or cannot be reached: a kill still
            // ends it (its pid namespace with it, the program by its death
            // signal).
            Err(_) if signal == libc::SIGKILL && matches!(self.inner.end, End::Sandbox(_)) => {
                match self.inner.signal_supervisor(libc::SIGKILL) {
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
                    other => other,
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Queues a request on the report channel, waiting while the channel is
    /// full for as long as the supervisor runs. `ESRCH` when the supervisor
    /// has closed its end.
    fn request(&self, msg: &[u8]) -> io::Result<()> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use nix::sys::socket::{MsgFlags, send};
        let gone = || io::Error::from_raw_os_error(libc::ESRCH);
        loop {
            match send(
                self.inner.report.as_raw_fd(),
                msg,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
            ) {
                Ok(_) => return Ok(()),
                Err(nix::Error::EINTR) => {}
                Err(nix::Error::EAGAIN) => {
                    let mut pfd = [
                        PollFd::new(self.inner.report.as_fd(), PollFlags::POLLOUT),
                        PollFd::new(self.inner.end_fd(), PollFlags::POLLIN),
                    ];
                    match poll(&mut pfd, PollTimeout::NONE) {
                        Ok(_) | Err(nix::Error::EINTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                    if pfd[1].revents().is_some_and(|r| !r.is_empty()) {
                        return Err(gone());
                    }
                }
                Err(nix::Error::EPIPE | nix::Error::ECONNRESET | nix::Error::ENOTCONN) => {
                    return Err(gone());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Waits for the program to end and returns its status. Closes the
    /// program's stdin first, if it was piped.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        self.wait_outcome().map(|o| o.status)
    }

    /// [`wait`](Child::wait), returning the whole outcome.
    fn wait_outcome(&mut self) -> io::Result<Outcome> {
        drop(self.stdin.take());
        if let Some(o) = self.inner.outcome.clone() {
            return Ok(o);
        }
        // A blocking wait returns once the supervisor has ended, with its
        // status or an error; should it return without either, wait again.
        let sup = loop {
            if let Some(sup) = self.inner.wait_end(false)? {
                break sup;
            }
        };
        Ok(self.finish(ExitStatus(sup)))
    }

    /// Returns the status if the program has ended, without blocking.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(s) = self.inner.status {
            return Ok(Some(s));
        }
        match self.inner.wait_end(true)? {
            Some(sup) => Ok(Some(self.finish(ExitStatus(sup)).status)),
            None => Ok(None),
        }
    }

    /// Polls for the program's end through the tokio reactor, which the
    /// supervisor's pidfd must be registered with
    /// ([`Supervisor::register`](crate::zone::launch::Supervisor::register));
    /// the async form of [`try_wait`](Child::try_wait).
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_wait(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<ExitStatus>> {
        if let Some(s) = self.inner.status {
            return std::task::Poll::Ready(Ok(s));
        }
        let sup = std::task::ready!(self.inner.poll_end(cx))?;
        std::task::Poll::Ready(Ok(self.finish(ExitStatus(sup)).status))
    }

    /// Waits at most `timeout` for the program to end. Returns `None` if it is
    /// still running (it is left running; call [`kill`](Child::kill) to end
    /// it).
    pub fn wait_timeout(&mut self, timeout: std::time::Duration) -> io::Result<Option<ExitStatus>> {
        drop(self.stdin.take());
        if let Some(s) = self.inner.status {
            return Ok(Some(s));
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
            let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(PollTimeout::MAX);
            let mut pfd = [PollFd::new(self.inner.end_fd(), PollFlags::POLLIN)];
            let r = match poll(&mut pfd, ms) {
                Ok(r) => r,
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if r > 0 {
                return self.try_wait();
            }
            if left.is_zero() {
                return Ok(None);
            }
        }
    }

    /// Waits for the program and collects its stdout and stderr (those that
    /// were piped).
    ///
    /// With a terminal ([`Command::pty`](crate::Command::pty)) and
    /// standard output not piped, what the terminal shows is collected as
    /// `stdout`, until every process of the sandbox has closed it.
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let pty = self.pty.take();
        let out = match self.stdout.take() {
            Some(o) => Some(o.inner),
            None => pty.map(File::from),
        };
        let (stdout, stderr) = read2(out, self.stderr.take().map(|e| e.inner))?;
        let outcome = self.wait_outcome()?;
        Ok(Output {
            status: outcome.status,
            stdout,
            stderr,
            outcome,
        })
    }

    /// Turns the supervisor's status into the program's, from the exit
    /// record the supervisor sent before exiting, and records the outcome.
    fn finish(&mut self, supervisor: ExitStatus) -> Outcome {
        let mut status = supervisor;
        let mut exit: Option<Record> = None;
        let mut buf = [0u8; record::RECORD_LEN];
        loop {
            use nix::sys::socket::{MsgFlags, recv};
            let n = match recv(
                self.inner.report.as_raw_fd(),
                &mut buf,
                MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(n) if n > 0 => n,
                _ => break,
            };
            if let Some(rec) = Record::decode(buf.get(..n).unwrap_or(&[])) {
                if rec.kind == record::KIND_EXIT && supervisor.code() == Some(0) {
                    status = ExitStatus(rec.value);
                    exit = Some(rec);
                }
            }
        }
        if exit.is_none() && matches!(self.inner.end, End::Exec(_)) {
            // The channel closed without an exit record: the container
            // ended, and the program with it.
            status = ExitStatus(libc::SIGKILL);
        }
        // Every process of the sandbox is dead or dying: read the cgroup's
        // counters and remove it.
        let cg = self
            .inner
            .cgroup
            .take()
            .and_then(|c| c.finish(crate::cgroup::FINISH_WAIT).ok());
        self.inner.status = Some(status);
        self.inner.layers = Default::default();
        let mut outcome = self.judge(status, exit.as_ref());
        if let Some(cg) = cg {
            apply_cgroup_usage(&mut outcome, &cg, self.inner.started);
        }
        // The sandbox's sockets die with it; the engine's threads end, and
        // its log is complete.
        if let Some(net) = self.inner.net.take() {
            outcome.connections = net.engine.stop();
        }
        outcome.denials = self.inner.denials.finish(&outcome);
        self.inner.outcome = Some(outcome.clone());
        outcome
    }
}

impl Child {
    fn judge(&self, status: ExitStatus, exit: Option<&Record>) -> Outcome {
        let flags = exit.map_or(0, |r| r.flags);
        let usage = exit.and_then(record::ExitInfo::decode).map(|i| Usage {
            wall_time: Duration::from_nanos(i.wall_ns),
            user_time: Duration::from_micros(i.utime_us),
            system_time: Duration::from_micros(i.stime_us),
            peak_memory_bytes: i.maxrss_kib.saturating_mul(1024),
            peak_memory_whole_sandbox: false,
            pids_limit_hit: false,
        });
        let usage = usage.or_else(|| {
            // Killed from outside before reporting: only the wall time is
            // known, from the caller's side.
            self.inner.kill_requested.then(|| Usage {
                wall_time: self.inner.started.elapsed(),
                ..Usage::default()
            })
        });
        let cpu_out = |u: &Option<Usage>| match (self.inner.cpu_limit_secs, u) {
            (Some(limit), Some(u)) => u.cpu_time() >= Duration::from_secs(limit),
            _ => false,
        };
        let verdict = if flags & record::FLAG_TIMED_OUT != 0 {
            Verdict::TimedOut
        } else if flags & record::FLAG_KILLED != 0 || (exit.is_none() && self.inner.kill_requested)
        {
            Verdict::Killed
        } else if let Some(code) = status.code() {
            Verdict::Exited(code)
        } else {
            let sig = status.signal().unwrap_or(0);
            if self.inner.cpu_limit_secs.is_some()
                && (sig == libc::SIGXCPU || (sig == libc::SIGKILL && cpu_out(&usage)))
            {
                Verdict::CpuTimeExceeded
            } else {
                Verdict::Signaled(sig)
            }
        };
        Outcome {
            status,
            verdict,
            usage,
            cgroup: None,
            connections: Vec::new(),
            denials: crate::denials::Denials::default(),
        }
    }
}

/// Folds the cgroup's counters into an outcome: the OOM verdict, the
/// whole-sandbox memory peak and CPU time, the pids limit.
fn apply_cgroup_usage(outcome: &mut Outcome, cg: &crate::cgroup::Usage, started: Instant) {
    outcome.cgroup = Some(*cg);
    let oom = cg
        .memory_events
        .is_some_and(|e| e.oom_kill > 0 || e.oom_group_kill.is_some_and(|n| n > 0));
    if oom
        && !outcome.status.success()
        && matches!(
            outcome.verdict,
            Verdict::Exited(_) | Verdict::Signaled(_) | Verdict::CpuTimeExceeded
        )
    {
        outcome.verdict = Verdict::OomKilled;
    }
    let usage = outcome.usage.get_or_insert_with(|| Usage {
        wall_time: started.elapsed(),
        ..Usage::default()
    });
    if let Some(peak) = cg.memory_peak {
        usage.peak_memory_bytes = peak;
        usage.peak_memory_whole_sandbox = true;
    }
    if let Some(cpu) = cg.cpu {
        // The cgroup also counts processes killed without being reaped here.
        usage.user_time = usage.user_time.max(Duration::from_micros(cpu.user_usec));
        usage.system_time = usage
            .system_time
            .max(Duration::from_micros(cpu.system_usec));
    }
    usage.pids_limit_hit = cg.pids_max_events.is_some_and(|n| n > 0);
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.inner.status.is_some() {
            return;
        }
        let killed = self.inner.kill_on_drop;
        if killed {
            let _ = self.kill();
        }
        // Not waited for: the process's reaper reaps the supervisor when it
        // ends (at once when killed, whenever it likes when detached) and
        // returns its stacks, descriptors and cgroup. When the reaper
        // cannot take it, a killed sandbox is waited for here.
        let Some(mut state) = self.inner.0.take() else {
            return;
        };
        if !killed {
            // It runs on: its refused calls are still answered.
            state.denials.detach();
        }
        let End::Sandbox(supervisor) = state.end else {
            // A program in a container: its supervisor reaps it.
            return;
        };
        let orphan =
            Orphan::new(supervisor, state.report, state.cgroup, killed).holding(state.layers);
        if let Some(orphan) = reaper::adopt(orphan) {
            orphan.settle_here();
        }
    }
}

/// Reads two pipes to the end concurrently, so neither can fill up and block
/// the program.
/// A terminal's master counts as a pipe whose `EIO` (every peer closed) is
/// its end.
pub(crate) fn read2(out: Option<File>, err: Option<File>) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut bufs = (Vec::new(), Vec::new());
    let mut fds: [Option<File>; 2] = [out, err];
    let mut chunk = vec![0u8; 64 * 1024];
    while fds.iter().any(Option::is_some) {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let open: Vec<usize> = (0..2).filter(|&i| fds[i].is_some()).collect();
        let mut pfds: Vec<PollFd<'_>> = fds
            .iter()
            .flatten()
            .map(|f| PollFd::new(f.as_fd(), PollFlags::POLLIN))
            .collect();
        match poll(&mut pfds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<usize> = pfds
            .iter()
            .zip(&open)
            .filter(|(p, _)| p.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, &i)| i)
            .collect();
        drop(pfds);
        for i in ready {
            let Some(f) = fds[i].as_mut() else { continue };
            match crate::pty::end_on_eio(f.read(&mut chunk)) {
                Ok(0) => fds[i] = None,
                Ok(n) => {
                    let dst = if i == 0 { &mut bufs.0 } else { &mut bufs.1 };
                    dst.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(bufs)
}
