//! The program to run: [`Command`] and [`Stdio`], shaped like `std::process`.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// A program to run inside a [`Sandbox`](crate::Sandbox), with its
/// arguments, environment, working directory and standard streams.
///
/// It mirrors [`std::process::Command`]: the same method names, the same
/// defaults for [`Sandbox::spawn`](crate::Sandbox::spawn) (stdio inherited)
/// and [`Sandbox::output`](crate::Sandbox::output) (stdout/stderr captured,
/// stdin null). What differs is the environment: a sandbox starts from a
/// small documented set of variables rather than the caller's whole
/// environment (see [`Sandbox::inherit_env`](crate::Sandbox::inherit_env)).
///
/// ```
/// let mut cmd = stockade::Command::new("sh");
/// cmd.arg("-c").arg("echo $GREETING").env("GREETING", "hello");
/// ```
#[derive(Debug)]
pub struct Command {
    pub(crate) program: OsString,
    pub(crate) arg0: Option<OsString>,
    pub(crate) args: Vec<OsString>,
    pub(crate) env_clear: bool,
    pub(crate) env: BTreeMap<OsString, Option<OsString>>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) stdin: Option<Stdio>,
    pub(crate) stdout: Option<Stdio>,
    pub(crate) stderr: Option<Stdio>,
    pub(crate) fds: Vec<(RawFd, OwnedFd)>,
    pub(crate) pty: Option<crate::pty::WindowSize>,
    pub(crate) controlling_terminal: bool,
    pub(crate) record_namespace_ids: bool,
    pub(crate) user: Option<(u32, u32)>,
}

impl Command {
    /// A command that runs `program`: a path inside the sandbox if it
    /// contains a `/`, otherwise a name searched in the sandbox's `PATH`.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            arg0: None,
            args: Vec::new(),
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            stdin: None,
            stdout: None,
            stderr: None,
            fds: Vec::new(),
            pty: None,
            controlling_terminal: false,
            record_namespace_ids: false,
            user: None,
        }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds several arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets `argv[0]` (by default the program as given).
    pub fn arg0(&mut self, arg0: impl AsRef<OsStr>) -> &mut Command {
        self.arg0 = Some(arg0.as_ref().to_owned());
        self
    }

    /// Sets an environment variable for the program.
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Command {
        self.env
            .insert(key.as_ref().to_owned(), Some(val.as_ref().to_owned()));
        self
    }

    /// Sets several environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Removes an environment variable (from the sandbox's base environment
    /// or an earlier [`env`](Command::env)).
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.env.insert(key.as_ref().to_owned(), None);
        self
    }

    /// Starts from an empty environment: only variables set on this command
    /// afterwards reach the program.
    pub fn env_clear(&mut self) -> &mut Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// Sets the working directory, as a path inside the sandbox.
    ///
    /// Without it the program starts in the caller's working directory if
    /// that path exists inside the sandbox, else in `/`.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Configures the program's standard input.
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.stdin = Some(cfg.into());
        self
    }

    /// Configures the program's standard output.
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.stdout = Some(cfg.into());
        self
    }

    /// Configures the program's standard error.
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.stderr = Some(cfg.into());
        self
    }

    /// Passes `fd` to the program as descriptor number `child_fd` (3 or
    /// above; use [`stdin`](Command::stdin) and friends for 0-2).
    ///
    /// Only descriptors passed this way and 0-2 reach the program; everything
    /// else the caller has open is closed on exec.
    pub fn pass_fd(&mut self, child_fd: RawFd, fd: impl Into<OwnedFd>) -> &mut Command {
        self.fds.push((child_fd, fd.into()));
        self
    }

    /// Gives the program a terminal of its own: a pseudo-terminal of the
    /// sandbox's `/dev/pts`, `size` large, as its controlling terminal.
    /// The caller gets the master side as [`Child::pty`](crate::Child::pty).
    ///
    /// The terminal becomes every standard stream the command does not set
    /// itself and the calling method would inherit or pipe: all three for
    /// [`Sandbox::spawn`](crate::Sandbox::spawn); standard output and
    /// error for [`Sandbox::output`](crate::Sandbox::output), which keeps
    /// standard input at `/dev/null` and collects what the terminal shows
    /// as [`Output::stdout`](crate::Output::stdout). The program's session
    /// has the terminal as its controlling terminal, so job control works
    /// as in a terminal emulator: `^C` written to the master interrupts the
    /// foreground process group, `^Z` stops it, and a shell such as
    /// `bash -i` runs jobs in the foreground and background.
    ///
    /// As with a pipe, a program writing to a terminal that nobody reads
    /// blocks once the terminal's buffer is full: read the master (or drop
    /// it, which hangs the terminal up). [`Sandbox::status`](crate::Sandbox::status)
    /// reads nothing, so it suits only programs that print little.
    ///
    /// Needs the sandbox's own `/dev` (the default: a mount namespace and
    /// [`Sandbox::dev`](crate::Sandbox::dev) on), whose `devpts` instance
    /// holds the terminal; without it the spawn fails with
    /// [`ConfigError::PtyNeedsDev`](crate::error::ConfigError::PtyNeedsDev).
    /// Needs Linux 4.13 (`TIOCGPTPEER`).
    pub fn pty(&mut self, size: crate::pty::WindowSize) -> &mut Command {
        self.pty = Some(size);
        self
    }

    /// Makes the terminal the program gets as its standard input its
    /// controlling terminal, for a terminal the caller made itself (rather
    /// than one [`pty`](Command::pty) makes): a terminal whose master the
    /// caller holds or has handed on, such as the console of an OCI
    /// runtime's `process.terminal`.
    ///
    /// The program runs in a session of its own (every sandboxed program
    /// does); with this, that session's controlling terminal is its
    /// standard input, so the terminal's signals (`^C`, `^Z`, a hang-up)
    /// reach its foreground process group and `/dev/tty` opens it. The
    /// terminal must be the controlling terminal of no other session, and
    /// standard input must be a terminal: otherwise the spawn fails at
    /// [`Stage::Terminal`](crate::error::Stage::Terminal). Without effect
    /// together with [`pty`](Command::pty), whose terminal is the
    /// controlling terminal anyway.
    pub fn controlling_terminal(&mut self) -> &mut Command {
        self.controlling_terminal = true;
        self
    }

    /// Records the identities of the program's namespaces, for
    /// [`Child::namespace_ids`](crate::Child::namespace_ids): the program's
    /// process reads them just before it executes the program, so they are
    /// known however soon the program ends (reading `/proc/PID/ns` after
    /// the spawn returns finds nothing once the program is gone).
    ///
    /// The process reads them through the caller's `/proc` (opened for the
    /// spawn, closed before the program runs); where `/proc` cannot be
    /// opened the spawn goes on and there are none. Costs a few
    /// microseconds. Not for a container's programs, which run in the
    /// namespaces of its first.
    pub fn record_namespace_ids(&mut self) -> &mut Command {
        self.record_namespace_ids = true;
        self
    }

    /// Runs the program as `uid` and `gid`: ids *inside* the sandbox's
    /// user namespace, as `docker exec --user` does for a container's
    /// program. Without it the program runs as the sandbox's identity
    /// ([`Sandbox::uid`](crate::Sandbox::uid),
    /// [`Sandbox::gid`](crate::Sandbox::gid), else the caller's).
    ///
    /// The ids must be mapped in the sandbox's user namespace: the
    /// sandbox's own identity, and with
    /// [`Sandbox::uid_ranges`](crate::Sandbox::uid_ranges) and
    /// [`Sandbox::gid_ranges`](crate::Sandbox::gid_ranges) (or subordinate
    /// ids) every id of those ranges. An unprivileged caller's namespace
    /// without ranges maps a single uid and gid, so only those are
    /// allowed. Without a user namespace a root caller's program may run as
    /// any ids; any other caller's only as its own. Otherwise the spawn
    /// fails, before anything starts, with
    /// [`ConfigError::UnmappedId`](crate::error::ConfigError::UnmappedId)
    /// (or [`ConfigError::Identity`](crate::error::ConfigError::Identity)
    /// without a user namespace), and a container stays as it was.
    ///
    /// Honoured alike by [`Container::spawn`](crate::Container::spawn)
    /// and its siblings, by [`Sandbox::spawn`](crate::Sandbox::spawn) and
    /// its siblings, and for the init of
    /// [`Sandbox::start_init`](crate::Sandbox::start_init) (the
    /// container's other programs keep the sandbox's identity unless they
    /// ask for one).
    ///
    /// Supplementary groups: a program that switches ids (a root caller's,
    /// or one within ranges whose gid map a privileged writer wrote) has
    /// none. Where the user namespace denies `setgroups` (an unprivileged
    /// caller's namespace whose gid map it wrote itself) nothing can drop
    /// them: the program keeps the groups the sandbox's processes started
    /// with, the caller's, which show as the overflow gid (65534) inside
    /// unless mapped, as every program of that sandbox does.
    pub fn user(&mut self, uid: u32, gid: u32) -> &mut Command {
        self.user = Some((uid, gid));
        self
    }

    /// The ids set with [`user`](Command::user), if any.
    pub fn get_user(&self) -> Option<(u32, u32)> {
        self.user
    }

    /// The program as given.
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments (without `argv[0]`).
    pub fn get_args(&self) -> impl Iterator<Item = &OsStr> {
        self.args.iter().map(OsString::as_os_str)
    }

    /// Environment changes made on this command: `None` means removed.
    pub fn get_envs(&self) -> impl Iterator<Item = (&OsStr, Option<&OsStr>)> {
        self.env.iter().map(|(k, v)| (k.as_os_str(), v.as_deref()))
    }

    /// The working directory, if set.
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.cwd.as_deref()
    }
}

impl From<&std::process::Command> for Command {
    /// Copies program, arguments, environment changes and working directory.
    /// Stdio settings of a `std` command cannot be read back and are not
    /// copied.
    fn from(c: &std::process::Command) -> Command {
        let mut cmd = Command::new(c.get_program());
        cmd.args(c.get_args());
        for (k, v) in c.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(d) = c.get_current_dir() {
            cmd.current_dir(d);
        }
        cmd
    }
}

/// How a standard stream of the program is set up.
#[derive(Debug)]
pub struct Stdio(pub(crate) StdioKind);

#[derive(Debug)]
pub(crate) enum StdioKind {
    Inherit,
    Null,
    Piped,
    Fd(OwnedFd),
}

impl Stdio {
    /// The program shares the caller's stream.
    pub fn inherit() -> Stdio {
        Stdio(StdioKind::Inherit)
    }

    /// The stream is connected to `/dev/null`.
    pub fn null() -> Stdio {
        Stdio(StdioKind::Null)
    }

    /// A pipe to the caller, available on the [`Child`](crate::Child).
    pub fn piped() -> Stdio {
        Stdio(StdioKind::Piped)
    }
}

impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Stdio {
        Stdio(StdioKind::Fd(fd))
    }
}

impl From<File> for Stdio {
    fn from(f: File) -> Stdio {
        Stdio(StdioKind::Fd(f.into()))
    }
}

impl From<std::process::ChildStdin> for Stdio {
    fn from(c: std::process::ChildStdin) -> Stdio {
        Stdio(StdioKind::Fd(c.into()))
    }
}

impl From<std::process::ChildStdout> for Stdio {
    fn from(c: std::process::ChildStdout) -> Stdio {
        Stdio(StdioKind::Fd(c.into()))
    }
}

impl From<std::process::ChildStderr> for Stdio {
    fn from(c: std::process::ChildStderr) -> Stdio {
        Stdio(StdioKind::Fd(c.into()))
    }
}

impl From<crate::child::ChildStdout> for Stdio {
    fn from(c: crate::child::ChildStdout) -> Stdio {
        Stdio(StdioKind::Fd(c.into()))
    }
}

impl From<crate::child::ChildStderr> for Stdio {
    fn from(c: crate::child::ChildStderr) -> Stdio {
        Stdio(StdioKind::Fd(c.into()))
    }
}

impl From<crate::child::ChildStdin> for Stdio {
    fn from(c: crate::child::ChildStdin) -> Stdio {
        Stdio(StdioKind::Fd(c.into()))
    }
}
