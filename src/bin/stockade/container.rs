//! The container subcommands' client side (`start`, `exec`, `stop`, `kill`,
//! `list`) and the state directory they share with the monitors.
//!
//! State layout, under the base directory ([`base`]):
//!
//! ```text
//! .lock            flock(2)ed while a name is claimed, removed or checked
//! NAME/            0700, one per container
//! NAME/pid         "PID STARTTIME": the monitor and its start time
//!                  (/proc/PID/stat field 22), so a reused pid is not taken
//!                  for it
//! NAME/sock        the monitor's unix stream socket (see `wire`)
//! NAME/info.json   created time, init, options, enforcement report
//! ```
//!
//! A directory whose monitor is gone is stale: whoever finds it (under the
//! lock) removes it.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::args;
use crate::json;
use crate::wire::{self, ExecRequest, Reply, Request};

/// The descriptor on which `start` hands the monitor its readiness pipe.
pub const READY_FD: i32 = 3;
/// Set in the monitor's environment by `start` (the hidden `__monitor`
/// subcommand is not for users).
pub const READY_ENV: &str = "STOCKADE_MONITOR_READY_FD";

/// Where containers' state lives instead of the default (set by the OCI
/// runtime mode for itself and the monitors it starts).
pub const BASE_ENV: &str = "STOCKADE_CONTAINER_STATE";

/// A failure of a container subcommand: a one-line message, exit status
/// 125.
type Result<T> = std::result::Result<T, String>;

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("stockade: {msg}");
    ExitCode::from(125)
}

/// The base state directory of this user, created if need be: owned by the
/// caller and private to it.
pub fn base() -> Result<PathBuf> {
    let uid = nix::unistd::geteuid();
    // The OCI runtime mode keeps its containers under its own state root.
    if let Some(dir) = std::env::var_os(BASE_ENV).filter(|d| Path::new(d).is_absolute()) {
        let dir = PathBuf::from(dir);
        private_dir(&dir)?;
        return Ok(dir);
    }
    if uid.is_root() {
        let dir = PathBuf::from("/run/stockade");
        private_dir(&dir)?;
        return Ok(dir);
    }
    // $XDG_RUNTIME_DIR, when it is an absolute path to a directory of the
    // caller's that others cannot write to.
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        let usable = x.is_absolute()
            && fs::symlink_metadata(&x)
                .is_ok_and(|m| m.is_dir() && m.uid() == uid.as_raw() && m.mode() & 0o022 == 0);
        if usable {
            let dir = x.join("stockade");
            if private_dir(&dir).is_ok() {
                return Ok(dir);
            }
        }
    }
    let dir = PathBuf::from(format!("/tmp/stockade-{uid}"));
    private_dir(&dir)?;
    Ok(dir)
}

/// Creates `dir` (mode 0700) unless it exists, and checks it is a real
/// directory owned by the caller that nobody else can enter.
fn private_dir(dir: &Path) -> Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("failed to create {}: {e}", dir.display())),
    }
    let m = fs::symlink_metadata(dir)
        .map_err(|e| format!("failed to inspect {}: {e}", dir.display()))?;
    if !m.is_dir() || m.uid() != nix::unistd::geteuid().as_raw() {
        return Err(format!(
            "state directory {} is not a directory owned by uid {}",
            dir.display(),
            nix::unistd::geteuid()
        ));
    }
    if m.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("failed to make {} private: {e}", dir.display()))?;
    }
    Ok(())
}

/// The base directory's lock, held while a name is claimed, checked or
/// removed.
pub fn lock(base: &Path) -> Result<Flock<File>> {
    let path = base.join(".lock");
    let f = fs::OpenOptions::new()
        .mode(0o600)
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("failed to open {}: {e}", path.display()))?;
    Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("failed to lock {}: {e}", path.display()))
}

/// The start time of process `pid` (field 22 of /proc/PID/stat, in clock
/// ticks since boot), unless it does not exist or is a zombie.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold anything but ends at the last ')'.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // Field 3 was the state: field 22 is 19 further.
    fields.nth(18)?.parse().ok()
}

/// A container's monitor, as its pid file names it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Monitor {
    pub pid: u32,
    pub start: u64,
}

impl Monitor {
    pub fn this_process() -> Monitor {
        let pid = std::process::id();
        Monitor {
            pid,
            start: start_time(pid).unwrap_or(0),
        }
    }

    fn read(dir: &Path) -> Option<Monitor> {
        let text = fs::read_to_string(dir.join("pid")).ok()?;
        let (pid, start) = text.trim().split_once(' ')?;
        Some(Monitor {
            pid: pid.parse().ok()?,
            start: start.parse().ok()?,
        })
    }

    pub fn write(&self, dir: &Path) -> io::Result<()> {
        fs::write(dir.join("pid"), format!("{} {}\n", self.pid, self.start))
    }

    fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.start)
    }

    /// A pidfd of the monitor, if it is still the process the pid file
    /// names.
    fn pidfd(&self) -> Option<OwnedFd> {
        let pid = rustix::process::Pid::from_raw(self.pid as i32)?;
        let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()?;
        // Checked after opening: the pidfd cannot be of a later process.
        self.alive().then_some(fd)
    }
}

/// What the state directory says of a name.
#[derive(Debug, PartialEq)]
pub enum Found {
    Running(Monitor),
    /// A directory left by a monitor that is gone.
    Stale,
    Missing,
}

/// What the state directory says of `name` (call under the lock to act on
/// it).
pub fn find(base: &Path, name: &str) -> Found {
    let dir = base.join(name);
    if fs::symlink_metadata(&dir).is_err() {
        return Found::Missing;
    }
    match Monitor::read(&dir) {
        Some(m) if m.alive() => Found::Running(m),
        _ => Found::Stale,
    }
}

/// Removes the state of `name` if its monitor is gone; returns what was
/// found. Takes the lock.
pub fn clean_if_stale(base: &Path, name: &str) -> Result<Found> {
    let _lock = lock(base)?;
    let found = find(base, name);
    if found == Found::Stale {
        remove(base, name)?;
    }
    Ok(found)
}

/// Removes the state directory of `name` (the caller holds the lock).
pub fn remove(base: &Path, name: &str) -> Result<()> {
    let dir = base.join(name);
    match fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("failed to remove {}: {e}", dir.display())),
    }
}

/// A unix socket path for `path`: itself, or through a descriptor of its
/// directory when it is too long for `sockaddr_un` (108 bytes).
pub fn socket_path(path: &Path) -> io::Result<(PathBuf, Option<File>)> {
    if path.as_os_str().len() < 100 {
        return Ok((path.to_owned(), None));
    }
    let dir = File::open(path.parent().unwrap_or(Path::new("/")))?;
    let short = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()))
        .join(path.file_name().unwrap_or_default());
    Ok((short, Some(dir)))
}

/// A connection to the monitor of `name`, with the monitor; a message
/// naming the container when there is none.
fn connect(name: &str) -> Result<(UnixStream, Monitor)> {
    let base = base()?;
    let no_such = || format!("no such container: {name}");
    let m = match clean_if_stale(&base, name)? {
        Found::Running(m) => m,
        Found::Stale | Found::Missing => return Err(no_such()),
    };
    let (path, _dir) =
        socket_path(&base.join(name).join("sock")).map_err(|e| format!("container {name}: {e}"))?;
    match UnixStream::connect(&path) {
        Ok(s) => Ok((s, m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(format!("container {name} is not ready yet"))
        }
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            // The monitor is stopping, or just died.
            match clean_if_stale(&base, name)? {
                Found::Running(_) => Err(format!("container {name} is stopping")),
                _ => Err(no_such()),
            }
        }
        Err(e) => Err(format!("failed to reach container {name}: {e}")),
    }
}

/// `stockade start`: starts the container's monitor, a detached copy of
/// this program, and waits until it says the container is ready.
pub fn start(s: &args::Start) -> ExitCode {
    // The same option errors as the one-shot form, before anything starts.
    let checked =
        crate::image::origin(&s.options).and_then(|origin| crate::sandbox(&s.options, &origin));
    if let Err(e) = checked {
        return fail(e);
    }
    let base = match base() {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    match clean_if_stale(&base, &s.name) {
        Ok(Found::Running(_)) => return fail(format!("container {} already exists", s.name)),
        Ok(_) => {}
        Err(e) => return fail(e),
    }
    let (ready_r, ready_w) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => return fail(format!("failed to create a pipe: {e}")),
    };
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg0("stockade")
        .arg("__monitor")
        .arg(&s.name)
        .args(&s.raw)
        .env(READY_ENV, READY_FD.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let w = ready_w.as_raw_fd();
    // SAFETY: the hook makes only async-signal-safe system calls between
    // fork and exec.
    unsafe { cmd.pre_exec(move || detach(w)) };
    let mut monitor = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return fail(format!("failed to start the monitor of {}: {e}", s.name)),
    };
    drop(ready_w);
    let mut line = String::new();
    let read = BufReader::new(File::from(ready_r)).read_line(&mut line);
    if let Some(report) = line.strip_suffix('\n').and_then(|l| l.strip_prefix("ok ")) {
        // The monitor stays; it is reparented when this process exits.
        if s.options.json {
            println!("{}", unescape(report));
        }
        return ExitCode::SUCCESS;
    }
    let status = monitor.wait();
    match line.strip_suffix('\n').and_then(|l| l.strip_prefix("err ")) {
        Some(msg) => {
            eprintln!("{}", unescape(msg));
            ExitCode::from(125)
        }
        None => fail(format!(
            "the monitor of container {} ended before the container was ready ({})",
            s.name,
            match (read, status) {
                (Err(e), _) => e.to_string(),
                (_, Ok(st)) => st.to_string(),
                (_, Err(e)) => e.to_string(),
            }
        )),
    }
}

/// In the monitor's process between fork and exec: a session of its own
/// (no controlling terminal, no signals from the caller's), and the
/// readiness pipe's write end `w` at [`READY_FD`], kept across exec.
fn detach(w: i32) -> io::Result<()> {
    // SAFETY: no arguments.
    if unsafe { libc::setsid() } < 0 {
        return Err(io::Error::last_os_error());
    }
    let r = if w == READY_FD {
        // SAFETY: integer arguments only, on a descriptor this process owns.
        unsafe { libc::fcntl(w, libc::F_SETFD, 0) }
    } else {
        // SAFETY: as above; READY_FD is replaced, which is the intent.
        unsafe { libc::dup2(w, READY_FD) }
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Undoes the readiness line's escapes (`\n` and `\\`).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Signals `exec` passes on to the program, and of them the ones that end
/// it (as the one-shot form).
pub(crate) const FORWARDED: [Signal; 5] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGWINCH,
];

/// With [`args::Exec::relay_only`], the signals passed on besides
/// [`FORWARDED`]: everything a process is commonly sent.
pub(crate) const RELAYED: [Signal; 4] = [
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGPWR,
];

/// One of this process's standard descriptors (`n`), or /dev/null in its
/// place when it is closed.
fn stdio(fd: BorrowedFd<'_>, n: i32) -> io::Result<OwnedFd> {
    match fd.try_clone_to_owned() {
        Err(e) if e.raw_os_error() == Some(libc::EBADF) => Ok(File::options()
            .read(n == 0)
            .write(n != 0)
            .open("/dev/null")?
            .into()),
        r => r,
    }
}

/// `stockade exec`: runs a program in the container with this process's
/// stdio, and exits as the program did.
pub fn exec(e: &args::Exec) -> ExitCode {
    let (sock, _) = match connect(&e.name) {
        Ok(c) => c,
        Err(m) => return fail(m),
    };
    let mut env: Vec<(OsString, Option<OsString>)> = Vec::new();
    env.extend(e.setenv.iter().map(|(k, v)| (k.clone(), Some(v.clone()))));
    env.extend(e.unsetenv.iter().map(|k| (k.clone(), None)));
    let mut argv = vec![e.program.clone()];
    argv.extend(e.args.iter().cloned());
    let size = e.pty.then(crate::terminal::size);
    let req = Request::Exec(ExecRequest {
        argv,
        env,
        cwd: e.chdir.clone(),
        pty: size.map(|s| (s.rows, s.cols)),
        ctty: e.terminal_stdin && !e.pty,
        user: e.user,
    });
    // With a terminal, the program's streams are its terminal, relayed
    // here; with one on our stdin, they are that terminal; without, they
    // are ours.
    let fds: Vec<OwnedFd> = if e.pty {
        Vec::new()
    } else if e.terminal_stdin {
        let fds = [0, 1, 2].map(|_| io::stdin().as_fd().try_clone_to_owned());
        match fds.into_iter().collect() {
            Ok(f) => f,
            Err(err) => return fail(format!("failed to pass on the terminal: {err}")),
        }
    } else {
        let fds = [
            stdio(io::stdin().as_fd(), 0),
            stdio(io::stdout().as_fd(), 1),
            stdio(io::stderr().as_fd(), 2),
        ];
        match fds.into_iter().collect() {
            Ok(f) => f,
            Err(err) => return fail(format!("failed to pass on stdio: {err}")),
        }
    };
    // Block the forwarded signals before the program can start, so none is
    // lost (the monitor starts the program with its own mask).
    let ignored = crate::ignored_at_start();
    let mut mask = SigSet::empty();
    for s in FORWARDED {
        if ignored & (1 << (s as u32 - 1)) == 0 {
            mask.add(s);
        }
    }
    if e.relay_only {
        for s in RELAYED {
            mask.add(s);
        }
    }
    let _ = mask.thread_block();
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok();
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
    if let Err(err) = wire::send_request(&sock, &req, &borrowed) {
        return fail(format!("failed to reach container {}: {err}", e.name));
    }
    drop(borrowed);
    drop(fds);
    if e.terminal_stdin {
        // The terminal is the program's alone: the engine holding its
        // master sees it hang up when the program's side closes, not
        // when this process ends.
        let null = File::options().read(true).open("/dev/null");
        if let Ok(null) = null {
            let _ = nix::unistd::dup2_stdin(&null);
        }
    }

    let mut ending: Option<(Signal, Instant)> = None;
    let mut relay: Option<crate::terminal::Relay> = None;
    let mut raw: Option<crate::terminal::RawMode> = None;
    loop {
        let mut pfds = vec![PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
        if let Some(s) = &sfd {
            pfds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
        }
        let relay_at = pfds.len();
        if let Some(r) = &relay {
            pfds.extend(r.poll_fds());
        }
        let timeout = match ending {
            Some((_, deadline)) => {
                let left = deadline.saturating_duration_since(Instant::now());
                PollTimeout::from(left.as_millis().saturating_add(1).min(60_000) as u16)
            }
            None => PollTimeout::NONE,
        };
        let _ = poll(&mut pfds, timeout);
        let sock_ready = pfds[0].revents().is_some_and(|r| !r.is_empty());
        let sig_ready = sfd.is_some()
            && pfds
                .get(1)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty());
        let relay_ready: Vec<bool> = pfds[relay_at..]
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(pfds);
        if let Some(r) = &mut relay {
            r.ready(&relay_ready);
        }
        if sig_ready {
            if let Some(s) = &sfd {
                while let Ok(Some(info)) = s.read_signal() {
                    let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                        continue;
                    };
                    if let (Signal::SIGWINCH, Some(r)) = (sig, &relay) {
                        r.resize();
                        continue;
                    }
                    // With a terminal of its own, losing ours (SIGHUP)
                    // ends the program too.
                    let is_ending = !e.relay_only
                        && (matches!(sig, Signal::SIGINT | Signal::SIGTERM)
                            || (e.pty && sig == Signal::SIGHUP));
                    if is_ending && ending.is_some() {
                        // A second one: the program is killed with the
                        // connection.
                        drop(sock);
                        return crate::die_by(sig);
                    }
                    let _ = wire::send_request(&sock, &Request::Signal(sig as i32), &[]);
                    if is_ending {
                        ending = Some((sig, Instant::now() + crate::GRACE));
                    }
                }
            }
        }
        if let Some((sig, deadline)) = ending {
            if Instant::now() >= deadline {
                drop(sock);
                return crate::die_by(sig);
            }
        }
        if !sock_ready {
            continue;
        }
        match wire::recv_reply_with(&sock) {
            Ok(Some((Reply::Started { .. }, fds))) => {
                if let Some(path) = &e.started_file {
                    let tmp = path.with_extension("tmp");
                    let _ =
                        std::fs::write(&tmp, "running").and_then(|()| std::fs::rename(&tmp, path));
                }
                if let Some(master) = fds.into_iter().next().filter(|_| e.pty) {
                    relay = Some(crate::terminal::Relay::new(File::from(master)));
                    match crate::terminal::RawMode::enter() {
                        Ok(r) => raw = Some(r),
                        Err(err) => {
                            drop(sock);
                            return fail(format!("failed to put the terminal in raw mode: {err}"));
                        }
                    }
                }
            }
            Ok(Some((Reply::Exited { status, timed_out }, _))) => {
                if let Some(r) = &mut relay {
                    r.drain();
                }
                drop(raw.take());
                if let Some((sig, _)) = ending {
                    return crate::die_by(sig);
                }
                let st = stockade::ExitStatus::from_raw(status);
                if let (true, Some(s)) = (e.dies_as_program, st.signal()) {
                    if let Ok(sig) = Signal::try_from(s) {
                        return crate::die_as_program(sig);
                    }
                }
                return ExitCode::from(match (timed_out, st.code(), st.signal()) {
                    (true, _, _) => 124,
                    (_, Some(c), _) => c as u8,
                    (_, None, Some(s)) => 128 + s as u8,
                    _ => 125,
                });
            }
            Ok(Some((Reply::Failed { code, message }, _))) => {
                eprintln!("{message}");
                return ExitCode::from(code);
            }
            Ok(Some((Reply::Stopped { .. }, _))) | Ok(None) => {
                drop(raw.take());
                return fail(format!(
                    "container {} ended before {} did",
                    e.name,
                    e.program.to_string_lossy()
                ));
            }
            Err(err) => return fail(format!("container {}: {err}", e.name)),
        }
    }
}

/// `stockade stop` (with a grace period) and `stockade kill` (`None`):
/// returns once the monitor has exited and the state is gone.
pub fn stop(name: &str, grace: Option<Duration>) -> ExitCode {
    let (sock, monitor) = match connect(name) {
        Ok(c) => c,
        Err(m) => return fail(m),
    };
    let Some(pidfd) = monitor.pidfd() else {
        return fail(format!("no such container: {name}"));
    };
    // The monitor answers once everything has ended; a monitor that does
    // not answer in time is killed, and its container with it.
    let bound = grace.unwrap_or_default() + Duration::from_secs(30);
    let _ = sock.set_read_timeout(Some(bound));
    let answer = wire::send_request(&sock, &Request::Stop(grace), &[])
        .and_then(|()| wire::recv_reply(&sock));
    let mut forced = false;
    match answer {
        Ok(Some(Reply::Stopped { forced: f })) => forced = f,
        Ok(Some(Reply::Failed { message, .. })) => {
            eprintln!("{message}");
            return ExitCode::from(125);
        }
        other => {
            eprintln!(
                "stockade: container {name}: the monitor did not answer ({}); killing it",
                match other {
                    Err(e) => e.to_string(),
                    _ => "no reply".to_owned(),
                }
            );
            let _ = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
        }
    }
    // Wait for the monitor to exit.
    let mut p = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    if poll(&mut p, PollTimeout::from(30_000u16)) != Ok(1) {
        return fail(format!("container {name}: the monitor did not exit"));
    }
    if let Ok(base) = base() {
        if let Err(e) = clean_if_stale(&base, name) {
            return fail(e);
        }
    }
    if forced {
        eprintln!("stockade: container {name}: the grace period ran out; what was left was killed");
    }
    ExitCode::SUCCESS
}

/// The running containers' names, cleaning stale state on the way.
fn names(base: &Path) -> Result<Vec<String>> {
    let rd = fs::read_dir(base).map_err(|e| format!("failed to read {}: {e}", base.display()))?;
    let mut names: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| args::bad_name(n.as_ref()).is_none())
        .collect();
    names.sort();
    Ok(names)
}

/// `stockade list`: the running containers, a table or a JSON array. A
/// state directory whose monitor is gone is removed, with a note on
/// stderr, and not listed.
pub fn list(json_out: bool) -> ExitCode {
    let base = match base() {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let names = match names(&base) {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    let mut rows = Vec::new();
    for name in names {
        match clean_if_stale(&base, &name) {
            Ok(Found::Running(m)) => {
                let info = fs::read_to_string(base.join(&name).join("info.json"))
                    .ok()
                    .and_then(|t| json::parse(&t));
                rows.push((name, m, info));
            }
            Ok(Found::Stale) => {
                eprintln!("stockade: container {name}: its monitor is gone; removed its state")
            }
            Ok(Found::Missing) => {}
            Err(e) => return fail(e),
        }
    }
    if json_out {
        let items: Vec<String> = rows
            .iter()
            .map(|(name, m, info)| {
                let mut fields = vec![
                    ("name".to_owned(), json::Value::Str(name.clone())),
                    (
                        "state".to_owned(),
                        json::Value::Str(
                            if info.is_some() {
                                "running"
                            } else {
                                "starting"
                            }
                            .into(),
                        ),
                    ),
                    ("monitor_pid".to_owned(), json::Value::Num(m.pid as f64)),
                ];
                if let Some(json::Value::Obj(more)) = info {
                    fields.extend(
                        more.iter()
                            .filter(|(k, _)| k != "name" && k != "monitor_pid")
                            .cloned(),
                    );
                }
                json::Value::Obj(fields).to_json()
            })
            .collect();
        println!("[{}]", items.join(","));
        return ExitCode::SUCCESS;
    }
    println!(
        "{:<24} {:>8} {:>8}  {:<20}  INIT",
        "NAME", "PID", "MONITOR", "CREATED"
    );
    for (name, m, info) in &rows {
        let get = |k: &str| info.as_ref().and_then(|i| i.get(k));
        let pid = get("pid")
            .and_then(json::Value::as_u64)
            .map_or("-".to_owned(), |p| p.to_string());
        let created = get("created_utc")
            .and_then(json::Value::as_str)
            .unwrap_or("starting");
        let init: Vec<&str> = get("init")
            .and_then(json::Value::as_array)
            .unwrap_or(&[])
            .iter()
            .filter_map(json::Value::as_str)
            .collect();
        let init = if init.is_empty() {
            "-".to_owned()
        } else {
            init.join(" ")
        };
        println!("{name:<24} {pid:>8} {:>8}  {created:<20}  {init}", m.pid);
    }
    ExitCode::SUCCESS
}

/// `secs` since the epoch as an RFC 3339 UTC time.
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
