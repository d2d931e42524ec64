//! Containers: sandboxes that live on and run one program after another.
//!
//! [`Sandbox::start`](crate::Sandbox::start) sets a sandbox up (namespaces, root filesystem,
//! cgroup) and starts no program: the sandbox's init, stockade's
//! supervisor, waits. [`Container::spawn`], [`output`](Container::output)
//! and [`status`](Container::status) run programs inside it, each with its
//! own arguments, environment, working directory, standard streams and
//! [`Outcome`](crate::Outcome), and the same confinement a sandbox's first
//! program gets: identity, capabilities, `no_new_privs`, rlimits, Landlock
//! ruleset and seccomp filter, a new session, and only the descriptors the
//! command passes. A program runs as the container's identity unless its
//! command asks for other ids the container's user namespace maps
//! ([`Command::user`](crate::Command::user)). Processes a program leaves
//! in the background live on, and files it writes stay, until the
//! container stops.
//!
//! ```no_run
//! use stockade::{Command, Sandbox};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut container = Sandbox::new().start()?;
//! container.status(Command::new("sh").args(["-c", "echo hello > /tmp/greeting"]))?;
//! let out = container.output(Command::new("cat").arg("/tmp/greeting"))?;
//! assert_eq!(out.stdout, b"hello\n");
//! container.stop(std::time::Duration::from_secs(5))?;
//! # Ok(())
//! # }
//! ```
//!
//! # Lifetime
//!
//! A container ends when [`stop`](Container::stop) or
//! [`kill`](Container::kill) ends it, when its `Container` is dropped
//! (which kills it), and, with [`Sandbox::die_with_parent`](crate::Sandbox::die_with_parent) (the default),
//! when the process that started it ends; a container with an init of the
//! caller's also ends with its init. Nothing remains after it: its
//! processes, mounts, namespaces and cgroup go with its supervisor.
//!
//! The policy's [`timeout`](crate::Sandbox::timeout) limits each program run in
//! the container, not the container.
//!
//! # A container's own init
//!
//! [`Sandbox::start_init`](crate::Sandbox::start_init) starts a system
//! container: its init is the caller's program (a service manager,
//! `busybox init`, a shell), pid 1 of the container's pid namespace, and
//! stockade's supervisor stays outside that namespace as the init's
//! parent, where it dies with the caller, enforces each program's timeout
//! and reports verdicts. Programs run with [`Container::spawn`] join the
//! init's pid namespace (their parent pid there is 0, as after
//! `nsenter`), and its other namespaces, cgroup and confinement, as in any
//! container; orphans go to the init, which reaps them.
//!
//! The container ends when its init ends: the kernel kills every other
//! process of the namespace, and [`wait`](Container::wait) and
//! [`try_wait`](Container::try_wait) return, with the init's status in
//! [`Stopped::init`]. [`stop`](Container::stop) sends the init alone the
//! policy's [`stop_signal`](crate::Sandbox::stop_signal) (`SIGTERM` unless
//! set) and leaves the shutdown to it, then kills the namespace once the
//! grace period is over. As for any init, a signal other than `SIGKILL`
//! reaches it only if it handles that signal.
//!
//! What the init gets besides the sandbox's policy: `container=stockade`
//! in its environment (unless its command sets `container`), its own
//! `/proc`, and its standard streams from its command. What a service
//! manager may also expect is left to the policy: `/run` and `/run/lock`
//! as tmpfs ([`Sandbox::tmpfs`](crate::Sandbox::tmpfs)), its cgroup
//! writable at `/sys/fs/cgroup` in its own cgroup namespace
//! ([`Sandbox::mount_cgroup`](crate::Sandbox::mount_cgroup); a root caller
//! whose init runs as another id hands it the cgroup, as `Delegate=yes`
//! does), a read-only sysfs on `/sys`
//! ([`Sandbox::sys`](crate::Sandbox::sys)), a writable root and full id
//! ranges. There is no `/dev/console`: a terminal for the init
//! ([`Command::pty`](crate::Command::pty)) is its standard streams and
//! controlling terminal, which a service manager uses as its console.
//!
//! # Entering safely
//!
//! Each program is started by the container's supervisor, never by joining
//! the namespaces from outside: it is a child of the container's init, in
//! its cgroup, and its process is set up exactly as a first program's.
//! Until it has executed the program, that process holds a copy of the
//! caller's memory, which it makes undumpable before anything else, so
//! that no process of the container can read it through `/proc/<pid>/mem`,
//! ptrace or `/proc/<pid>/exe`. Only the holder of the `Container` can run
//! programs in it: there is no socket or path to connect to.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use crate::child::{Child, ChildStderr, ChildStdin, ChildStdout, ExitStatus, Output};
use crate::command::{Command, StdioKind};
use crate::compile::Compiled;
use crate::config::Config;
use crate::enforcement::Enforcement;
use crate::error::{Error, ParentOp};
use crate::record::{self, Record};
use crate::sys::shared::SharedMapping;
use crate::zone::launch::Supervisor;
use crate::zone::plan::Shared;

/// A running container: see the [module documentation](self).
///
/// `Container` is `Send` and `Sync`: several threads may run programs in
/// it at once.
#[derive(Debug)]
pub struct Container {
    cfg: Config,
    compiled: Arc<Compiled>,
    supervisor: Supervisor,
    /// The caller's end of the control channel.
    control: OwnedFd,
    shared: SharedMapping<Shared>,
    /// The identity its programs run as, and the ids they may ask for.
    users: crate::spawn::ids::Users,
    cgroup_fds: (i32, i32),
    fallback_rlimits: Vec<(libc::c_int, libc::rlimit64)>,
    enforcement: Enforcement,
    use_clone3: bool,
    cgroup: Option<crate::cgroup::PreparedCgroup>,
    /// Set once the container has ended and its supervisor been reaped.
    ended: Option<Stopped>,
    /// Its writable root's persistent layer, if any.
    layer: Option<crate::layer::Layer>,
    /// The locks on its layer directories, released once it has ended.
    layers: crate::layer::Held,
    /// The master of the init's terminal, if it asked for one.
    pty: Option<crate::pty::Pty>,
    /// The container's init, when it is the caller's (its pid in the
    /// caller's pid namespace).
    init: Option<u32>,
    /// The signal that asks the container to stop.
    stop_signal: i32,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    /// The engine of its filtered network or published ports, until it
    /// ends; then the engine's whole log.
    net: Option<crate::net::Running>,
    connections: Vec<crate::net::Connection>,
    /// The observation of its init's refusals.
    denials: crate::denials::Watch,
}

/// How a container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stopped {
    /// Something had to be killed: the grace period of
    /// [`stop`](Container::stop) ran out, or the container was killed
    /// ([`kill`](Container::kill)), or it ended without its supervisor's
    /// report (killed from outside).
    pub forced: bool,
    /// The wait status of the container's init, for a container started
    /// with [`Sandbox::start_init`](crate::Sandbox::start_init) (`None`
    /// for one started with [`Sandbox::start`](crate::Sandbox::start), or
    /// when the supervisor was killed from outside). A service manager
    /// halted by its stop signal usually exits 0; an init killed once the
    /// grace period ran out reports `SIGKILL`.
    pub init: Option<ExitStatus>,
}

impl std::fmt::Debug for SharedMapping<Shared> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedMapping")
    }
}

impl Container {
    pub(crate) fn new(
        cfg: Config,
        compiled: Arc<Compiled>,
        up: crate::spawn::Up,
    ) -> Result<Container, Error> {
        let shared = SharedMapping::new(Shared::new()).map_err(|source| Error::Io {
            op: ParentOp::MapSharedState,
            source,
        })?;
        let init = if has_init(&up) { up.program_pid } else { None };
        let stop_signal = cfg.stop_signal;
        Ok(Container {
            layer: crate::layer::of_root(&cfg.fs),
            pty: up.pty.map(crate::pty::Pty::from_owned),
            init,
            stop_signal,
            stdin: None,
            stdout: None,
            stderr: None,
            cfg,
            compiled,
            supervisor: up.supervisor,
            control: up.report,
            shared,
            users: up.users,
            cgroup_fds: up.cgroup_fds,
            fallback_rlimits: up.fallback_rlimits,
            enforcement: up.enforcement,
            use_clone3: crate::probe::clone3(),
            cgroup: up.cgroup,
            ended: None,
            layers: up.layers,
            net: up.net,
            connections: Vec::new(),
            denials: up.denials,
        })
    }

    /// What the container's init was refused (its seccomp filter's
    /// refusals) and what its network policy refused, so far; the final
    /// report once the container has stopped. Each program started in it with
    /// [`spawn`](Container::spawn) reports its own refusals in its
    /// [`Outcome::denials`](crate::Outcome::denials) (and
    /// [`Child::denials`](crate::Child::denials)).
    pub fn denials(&self) -> crate::denials::Denials {
        self.denials.snapshot(&self.connections())
    }

    /// The connections the container's programs have attempted through its
    /// filtered network ([`Sandbox::egress`](crate::Sandbox::egress)) and
    /// its published ports, in order: a snapshot while it runs, the whole
    /// log once it has ended.
    pub fn connections(&self) -> Vec<crate::net::Connection> {
        match &self.net {
            Some(n) => n.engine.connections(),
            None => self.connections.clone(),
        }
    }

    /// The container's published ports ([`Sandbox::publish`](crate::Sandbox::publish))
    /// while it runs: each host address listened on (with the port the
    /// kernel picked where port 0 was asked for) and the container's port
    /// it forwards to.
    pub fn published(&self) -> Vec<(std::net::SocketAddr, u16)> {
        self.net
            .as_ref()
            .map(|n| n.published.clone())
            .unwrap_or_default()
    }

    /// The layer directory of the container's writable root, when its
    /// upper layer is persistent ([`Sandbox::writable_root`](crate::Sandbox::writable_root)
    /// with [`fs::Upper::Persistent`](crate::fs::Upper::Persistent)): its
    /// changes, to list while it runs, and to commit or discard once it
    /// has stopped (see [`crate::layer`]).
    pub fn layer(&self) -> Option<&crate::layer::Layer> {
        self.layer.as_ref()
    }

    /// The process id of the container's supervisor (its init, unless the
    /// container has one of the caller's), as seen by the caller.
    pub fn id(&self) -> u32 {
        self.supervisor.pid().unwrap_or(0)
    }

    /// The process id of the container's init, as seen by the caller, for
    /// a container started with
    /// [`Sandbox::start_init`](crate::Sandbox::start_init) (`None`
    /// otherwise). Inside the container it is 1.
    pub fn init_id(&self) -> Option<u32> {
        self.init
    }

    pub(crate) fn set_init_stdio(&mut self, stdio: crate::spawn::InitStdio) {
        (self.stdin, self.stdout, self.stderr) = stdio;
    }

    /// The writing end of the init's standard input, when its command
    /// asked for a pipe ([`Stdio::piped`](crate::Stdio::piped)); taken once.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.stdin.take()
    }

    /// The reading end of the init's standard output, when piped; taken
    /// once.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    /// The reading end of the init's standard error, when piped; taken
    /// once.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.stderr.take()
    }

    /// The master side of the init's terminal, when its command asked for
    /// one ([`Command::pty`](crate::Command::pty)): the container's
    /// console, also its `/dev/console`. Taken once.
    ///
    /// Keep it open, and read it, while the container runs. A service
    /// manager closes its own terminal and opens `/dev/console` for each
    /// message: an end of file read here means only that nobody has the
    /// terminal open at that moment, and once the master is closed every
    /// open of `/dev/console` fails with `EIO` (systemd retries each for a
    /// second before it gives up on that message).
    pub fn take_pty(&mut self) -> Option<crate::pty::Pty> {
        self.pty.take()
    }

    /// Marks the report with the rung of the isolation ladder the
    /// container runs on.
    pub(crate) fn set_isolation(&mut self, report: crate::isolation::Report) {
        self.enforcement.isolation = report;
    }

    /// What the container enforces; every program run in it gets the same.
    pub fn enforcement(&self) -> &Enforcement {
        &self.enforcement
    }

    /// A pidfd that becomes readable when the container has ended.
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.supervisor.pidfd()
    }

    pub(crate) fn spawn_with(
        &self,
        cmd: &mut Command,
        default_out: StdioKind,
        default_in: StdioKind,
    ) -> Result<Child, Error> {
        if self.ended.is_some() {
            return Err(Error::ContainerEnded);
        }
        // Checked before anything reaches the supervisor.
        let ids = self.users.switch(cmd.user)?;
        let target = crate::spawn::exec::Target {
            cfg: &self.cfg,
            compiled: &self.compiled,
            control: self.control.as_fd(),
            shared: &self.shared,
            has_init: self.init.is_some(),
            ids,
            cgroup_fds: self.cgroup_fds,
            fallback_rlimits: &self.fallback_rlimits,
            enforcement: &self.enforcement,
            use_clone3: self.use_clone3,
        };
        crate::spawn::exec::exec(&target, cmd, default_out, default_in)
    }

    /// Runs `cmd` in the container. Standard streams are inherited unless
    /// the command says otherwise.
    ///
    /// Returns once the program has been executed, with the same typed
    /// errors as [`Sandbox::spawn`](crate::Sandbox::spawn), or
    /// [`Error::ContainerEnded`].
    pub fn spawn(&self, cmd: &mut Command) -> Result<Child, Error> {
        self.spawn_with(cmd, StdioKind::Inherit, StdioKind::Inherit)
    }

    /// Runs `cmd` in the container to completion, capturing stdout and
    /// stderr (stdin is `/dev/null` unless the command says otherwise).
    pub fn output(&self, cmd: &mut Command) -> Result<Output, Error> {
        let child = self.spawn_with(cmd, StdioKind::Piped, StdioKind::Null)?;
        child.wait_with_output().map_err(|source| Error::Io {
            op: ParentOp::Wait,
            source,
        })
    }

    /// Runs `cmd` in the container to completion with inherited streams
    /// and returns its status.
    pub fn status(&self, cmd: &mut Command) -> Result<ExitStatus, Error> {
        let mut child = self.spawn(cmd)?;
        child.wait().map_err(|source| Error::Io {
            op: ParentOp::Wait,
            source,
        })
    }

    /// Stops the container: the policy's
    /// [`stop_signal`](crate::Sandbox::stop_signal) (`SIGTERM` unless set)
    /// to every process in it, or to its init alone when it has one of the
    /// caller's, up to `grace` for them to end, then `SIGKILL` to what is
    /// left. Returns once the container is gone. Programs still running end
    /// with the stop signal's or `SIGKILL`'s status.
    pub fn stop(&mut self, grace: Duration) -> io::Result<Stopped> {
        let ns = u64::try_from(grace.as_nanos()).unwrap_or(u64::MAX).max(1);
        let sig = u8::try_from(self.stop_signal).unwrap_or(libc::SIGTERM as u8);
        self.end(&record::stop_request(ns, sig))
    }

    /// Kills every process of the container at once and returns once it
    /// is gone.
    pub fn kill(&mut self) -> io::Result<Stopped> {
        self.end(&record::stop_request(0, libc::SIGKILL as u8))
    }

    /// Whether the container has ended (stopped, killed, or its supervisor
    /// killed from outside), without blocking.
    pub fn try_wait(&mut self) -> io::Result<bool> {
        if self.ended.is_some() {
            return Ok(true);
        }
        match self.supervisor.wait(true)? {
            Some(status) => {
                self.finish(status);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Waits for the container to end by other means than this handle
    /// (its init's own end, for a container started with
    /// [`Sandbox::start_init`](crate::Sandbox::start_init); its supervisor
    /// killed from outside; the end of its caller's lifeline in a forked
    /// child) and says how. Blocks for as long as it runs: a container
    /// without an init of the caller's ends on its own only when something
    /// outside ends it.
    pub fn wait(&mut self) -> io::Result<Stopped> {
        if let Some(s) = self.ended {
            return Ok(s);
        }
        let status = loop {
            if let Some(status) = self.supervisor.wait(false)? {
                break status;
            }
        };
        Ok(self.finish(status))
    }

    fn end(&mut self, request: &[u8]) -> io::Result<Stopped> {
        if let Some(s) = self.ended {
            return Ok(s);
        }
        use nix::sys::socket::{MsgFlags, send};
        let sent = send(
            std::os::fd::AsRawFd::as_raw_fd(&self.control),
            request,
            MsgFlags::MSG_NOSIGNAL,
        );
        if sent.is_err() {
            // The supervisor cannot be told: end it, which ends the
            // container with it (its pid namespace, or its lifeline).
            let _ = self.supervisor.signal(libc::SIGKILL);
        }
        let status = loop {
            if let Some(status) = self.supervisor.wait(false)? {
                break status;
            }
        };
        Ok(self.finish(status))
    }

    /// Records the end from the supervisor's wait status and its last
    /// record, and removes the cgroup.
    fn finish(&mut self, status: i32) -> Stopped {
        let mut forced = true;
        let mut init = None;
        let mut buf = [0u8; record::RECORD_LEN];
        loop {
            use nix::sys::socket::{MsgFlags, recv};
            let n = match recv(
                std::os::fd::AsRawFd::as_raw_fd(&self.control),
                &mut buf,
                MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(n) if n > 0 => n,
                _ => break,
            };
            if let Some(rec) = Record::decode(buf.get(..n).unwrap_or(&[])) {
                if rec.kind == record::KIND_EXIT && status == 0 {
                    forced = rec.flags & record::FLAG_KILLED != 0;
                    if self.init.is_some() {
                        init = Some(ExitStatus::from_raw(rec.value));
                    }
                }
            }
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.finish(crate::cgroup::FINISH_WAIT);
        }
        if let Some(net) = self.net.take() {
            self.connections = net.engine.stop();
        }
        self.denials.close(&self.connections);
        let s = Stopped { forced, init };
        self.ended = Some(s);
        self.layers = Default::default();
        s
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.ended.is_none() {
            let _ = self.kill();
        }
    }
}

/// Whether the supervisor that reported `up` started an init of the
/// caller's (it then reports the init's pid; a container's supervisor
/// without one reports none).
fn has_init(up: &crate::spawn::Up) -> bool {
    up.program_pid.is_some()
}
