//! A container's monitor: the detached process `stockade start` leaves
//! behind. It owns the [`Container`] (which dies with it), serves the
//! container's socket, and removes the container's state when it ends.
//!
//! Its main thread started the container and stays until the end (the
//! container dies with the thread that started it). Each connection has a
//! thread of its own: an exec is spawned and waited for by the same thread.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::sockopt::PeerCredentials;

use stockade::{Command, Container, Stdio, Verdict};

use crate::args::{self, Options, Start};
use crate::container::{self, Found, Monitor, READY_ENV, READY_FD};
use crate::json;
use crate::wire::{self, ExecRequest, Reply, Request};

/// What the connection threads share with the main thread.
struct Shared {
    name: String,
    container: RwLock<Container>,
    /// Set once a stop has begun: no exec starts after it.
    stopping: AtomicBool,
    /// Execs running (their threads wait for them).
    running: AtomicUsize,
    /// The defaults of every exec: `start`'s --chdir, --setenv, --unsetenv.
    defaults: Options,
    /// Stop requests, for the main thread, with the connection to answer.
    stops: mpsc::Sender<(Option<Duration>, UnixStream)>,
    /// Wakes the main thread when a stop is queued.
    wake: OwnedFd,
}

/// Reports to `start` through the readiness pipe: `ok REPORT` or
/// `err MESSAGE`, one line (newlines in it escaped as `\n`, backslashes
/// as `\\`).
struct Ready(Option<File>);

impl Ready {
    fn send(&mut self, line: &str) {
        if let Some(mut f) = self.0.take() {
            let line = line.replace('\\', "\\\\").replace('\n', "\\n");
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
    }

    fn fail(&mut self, msg: &str) -> ExitCode {
        self.send(&format!("err {msg}"));
        ExitCode::from(125)
    }
}

/// The monitor's main: sets the container up, says it is ready, serves.
pub fn main(s: Start) -> ExitCode {
    // The readiness pipe, which `start` put at READY_FD.
    if std::env::var_os(READY_ENV).is_none_or(|v| v != READY_FD.to_string().as_str()) {
        eprintln!("stockade: __monitor is run by `stockade start`");
        return ExitCode::from(125);
    }
    // SAFETY: `start` put the write end of the readiness pipe at READY_FD
    // (checked by the environment marker above), and nothing else in this
    // process uses that descriptor.
    let ready = unsafe { OwnedFd::from_raw_fd(READY_FD) };
    let _ = nix::fcntl::fcntl(
        ready.as_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    // SAFETY: removing a variable while this process has one thread.
    unsafe { std::env::remove_var(READY_ENV) };
    let mut ready = Ready(Some(File::from(ready)));
    // Started through /proc/self/exe (the very binary of `start`), it
    // would be called "exe" in ps.
    let _ = nix::sys::prctl::set_name(c"stockade");
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));

    // SIGTERM, SIGINT and SIGHUP stop the container (with the default
    // grace); blocked here, so every thread inherits the mask.
    let mut mask = SigSet::empty();
    for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        mask.add(sig);
    }
    let _ = mask.thread_block();
    let sfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) {
        Ok(f) => f,
        Err(e) => return ready.fail(&format!("stockade: failed to create a signalfd: {e}")),
    };

    let origin = match crate::image::origin(&s.options) {
        Ok(o) => o,
        Err(e) => return ready.fail(&format!("stockade: {e}")),
    };
    let sb = match crate::sandbox(&s.options, &origin) {
        Ok(sb) => sb,
        Err(e) => return ready.fail(&format!("stockade: {e}")),
    };
    let base = match container::base() {
        Ok(b) => b,
        Err(e) => return ready.fail(&format!("stockade: {e}")),
    };
    let name = s.name.clone();
    let dir = base.join(&name);

    // Claim the name: its directory and pid file appear together, under
    // the lock.
    {
        let lock = match container::lock(&base) {
            Ok(l) => l,
            Err(e) => return ready.fail(&format!("stockade: {e}")),
        };
        match container::find(&base, &name) {
            Found::Running(_) => {
                return ready.fail(&format!("stockade: container {name} already exists"));
            }
            Found::Stale => {
                if let Err(e) = container::remove(&base, &name) {
                    return ready.fail(&format!("stockade: {e}"));
                }
            }
            Found::Missing => {}
        }
        let made = std::fs::create_dir(&dir).and_then(|()| Monitor::this_process().write(&dir));
        if let Err(e) = made {
            let _ = container::remove(&base, &name);
            return ready.fail(&format!(
                "stockade: failed to create {}: {e}",
                dir.display()
            ));
        }
        // Unlocked before the container exists: its processes must not
        // share the lock's open file.
        drop(lock);
    }
    let forget = |ready: &mut Ready, msg: &str| -> ExitCode {
        if let Ok(_lock) = container::lock(&base) {
            let _ = container::remove(&base, &name);
        }
        ready.fail(msg)
    };

    // INIT, when given, is the container's pid 1; its streams go nowhere
    // (the monitor is detached).
    let started = if s.options.program.is_empty() {
        sb.start()
    } else {
        let mut cmd = match crate::command(&s.options, &origin) {
            Ok(c) => c,
            Err(e) => return forget(&mut ready, &format!("stockade: {e}")),
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        sb.start_init(&mut cmd)
    };
    let mut container = match started {
        Ok(c) => c,
        Err(e) => return forget(&mut ready, &crate::setup_failure_message(&e)),
    };
    // The record of its layer, which `diff`, `commit` and `reset` read
    // after it has stopped.
    if let Err(e) = crate::layer::record(&base, &name, container.layer()) {
        let _ = container.kill();
        return forget(
            &mut ready,
            &format!("stockade: container {name}: failed to record its layer: {e}"),
        );
    }
    let created = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());

    // The socket, made after the container so that none of its processes
    // ever held it.
    let listener = match container::socket_path(&dir.join("sock"))
        .and_then(|(path, _dir)| UnixListener::bind(path))
    {
        Ok(l) => l,
        Err(e) => {
            let _ = container.kill();
            return forget(
                &mut ready,
                &format!("stockade: container {name}: failed to create its socket: {e}"),
            );
        }
    };
    let _ = listener.set_nonblocking(true);

    // Host paths in the policy are resolved: keep no directory busy.
    let _ = std::env::set_current_dir("/");

    let report = {
        let mut j = json::Object::new();
        j.str("name", &name);
        j.num("monitor_pid", u64::from(std::process::id()));
        j.num("pid", u64::from(container.id()));
        if let Some(init) = container.init_id() {
            j.num("init_pid", u64::from(init));
        }
        j.num("created", created);
        j.str("created_utc", &container::utc(created));
        let strings = |v: &mut dyn Iterator<Item = &std::ffi::OsStr>| {
            let items: Vec<String> = v.map(|a| json::escape(&a.to_string_lossy())).collect();
            format!("[{}]", items.join(","))
        };
        let init: Vec<&std::ffi::OsStr> = if s.options.program.is_empty() {
            Vec::new()
        } else {
            std::iter::once(s.options.program.as_os_str())
                .chain(s.options.args.iter().map(|a| a.as_os_str()))
                .collect()
        };
        j.raw("init", &strings(&mut init.into_iter()));
        j.raw(
            "options",
            &strings(&mut s.policy.iter().map(|a| a.as_os_str())),
        );
        j.str("state_dir", &dir.to_string_lossy());
        j.raw("enforcement", &json::enforcement(container.enforcement()));
        j.raw("published", &json::published(&container.published()));
        j.finish()
    };
    let tmp = dir.join(".info.json");
    if let Err(e) =
        std::fs::write(&tmp, &report).and_then(|()| std::fs::rename(&tmp, dir.join("info.json")))
    {
        let _ = container.kill();
        return forget(
            &mut ready,
            &format!("stockade: container {name}: failed to write its state: {e}"),
        );
    }

    let (wake_r, wake_w) =
        match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK) {
            Ok(p) => p,
            Err(e) => {
                let _ = container.kill();
                return forget(
                    &mut ready,
                    &format!("stockade: failed to create a pipe: {e}"),
                );
            }
        };
    let ended = match container.pidfd().try_clone_to_owned() {
        Ok(fd) => fd,
        Err(e) => {
            let _ = container.kill();
            return forget(
                &mut ready,
                &format!("stockade: failed to watch the container: {e}"),
            );
        }
    };
    let (stops_tx, stops) = mpsc::channel();
    let shared = Arc::new(Shared {
        name: name.clone(),
        container: RwLock::new(container),
        stopping: AtomicBool::new(false),
        running: AtomicUsize::new(0),
        defaults: exec_defaults(&s.options, &origin),
        stops: stops_tx,
        wake: wake_w,
    });
    ready.send(&format!("ok {report}"));
    drop(ready);

    // Serve until asked to stop, signalled, or the container ends.
    let me = nix::unistd::geteuid().as_raw();
    let (grace, answer) = loop {
        let mut fds = [
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(ended.as_fd(), PollFlags::POLLIN),
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(wake_r.as_fd(), PollFlags::POLLIN),
        ];
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready_at = |i: usize| fds[i].revents().is_some_and(|r| !r.is_empty());
        let (accept, ended_now, signalled, woken) =
            (ready_at(0), ready_at(1), ready_at(2), ready_at(3));
        if ended_now {
            // INIT ended, or the container crashed or was killed from
            // outside: nothing is left to stop.
            break (Some(Duration::ZERO), None);
        }
        if signalled {
            while let Ok(Some(_)) = sfd.read_signal() {}
            break (Some(args::STOP_GRACE), None);
        }
        if woken {
            let mut buf = [0u8; 64];
            while nix::unistd::read(&wake_r, &mut buf).is_ok_and(|n| n > 0) {}
            if let Ok((grace, conn)) = stops.try_recv() {
                break (grace, Some(conn));
            }
        }
        if accept {
            while let Ok((conn, _)) = listener.accept() {
                let _ = conn.set_nonblocking(false);
                let peer = nix::sys::socket::getsockopt(&conn, PeerCredentials);
                if peer.map(|c| c.uid()) != Ok(me) {
                    let _ = wire::send_reply(
                        &conn,
                        &Reply::Failed {
                            code: 125,
                            message: format!(
                                "stockade: container {name}: permission denied (not its owner)"
                            ),
                        },
                    );
                    continue;
                }
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || serve(conn, &shared));
            }
        }
    };

    // The end: stop what runs, let the execs' threads answer, remove the
    // state, then answer the stop.
    shared.stopping.store(true, Ordering::SeqCst);
    drop(listener);
    let forced = {
        let mut c = shared.container.write().unwrap_or_else(|p| p.into_inner());
        let stopped = match grace {
            Some(g) => c.stop(g),
            None => c.kill(),
        };
        stopped.map_or(true, |s| s.forced)
    };
    let give_up = Instant::now() + Duration::from_secs(2);
    while shared.running.load(Ordering::SeqCst) > 0 && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(5));
    }
    if let Ok(_lock) = container::lock(&base) {
        let _ = container::remove(&base, &name);
    }
    // Every stop asked for meanwhile is answered too.
    for conn in answer.into_iter().chain(stops.try_iter().map(|(_, c)| c)) {
        let _ = wire::send_reply(&conn, &Reply::Stopped { forced });
    }
    ExitCode::SUCCESS
}

/// Serves one connection: an exec, or a stop for the main thread.
fn serve(conn: UnixStream, shared: &Shared) {
    let (req, fds) = match wire::recv_request(&conn) {
        Ok(Some(r)) => r,
        _ => return,
    };
    match req {
        Request::Exec(e) => exec(conn, e, fds, shared),
        Request::Stop(grace) => {
            if shared.stops.send((grace, conn)).is_ok() {
                let _ = nix::unistd::write(&shared.wake, b"s");
            }
        }
        Request::Signal(_) => {}
    }
}

/// Counts a running exec for as long as it lives.
struct Running<'a>(&'a AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs an exec request and answers when it ends. The client closing the
/// connection kills the program.
fn exec(conn: UnixStream, e: ExecRequest, fds: Vec<OwnedFd>, shared: &Shared) {
    shared.running.fetch_add(1, Ordering::SeqCst);
    let _running = Running(&shared.running);
    let failed = |message: String| {
        let _ = wire::send_reply(&conn, &Reply::Failed { code: 125, message });
    };
    // With a terminal, the program's standard streams are the terminal.
    let stdio = match (e.pty, <[OwnedFd; 3]>::try_from(fds)) {
        (None, Ok(fds)) => Some(fds),
        (Some(_), Err(fds)) if fds.is_empty() => None,
        _ => return failed("stockade: malformed exec request (stdio)".to_owned()),
    };
    let Some((program, args)) = e.argv.split_first() else {
        return failed("stockade: malformed exec request (no program)".to_owned());
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    apply(&mut cmd, &shared.defaults);
    for (k, v) in &e.env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    if let Some(d) = &e.cwd {
        cmd.current_dir(d);
    }
    if let Some([stdin, stdout, stderr]) = stdio {
        cmd.stdin(Stdio::from(stdin))
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr));
    }
    if let Some((rows, cols)) = e.pty {
        cmd.pty(stockade::pty::WindowSize::new(rows, cols));
    }
    if e.ctty {
        cmd.controlling_terminal();
    }
    let spawned = {
        let c = shared.container.read().unwrap_or_else(|p| p.into_inner());
        if shared.stopping.load(Ordering::SeqCst) {
            return failed(format!("stockade: container {} is stopping", shared.name));
        }
        if let Some((uid, gid)) = e.user {
            // Without a gid, the container's: the one it maps, or (without
            // a user namespace or another gid) this process's.
            let gid = gid.unwrap_or_else(|| {
                c.enforcement()
                    .gid
                    .map_or_else(|| nix::unistd::getegid().as_raw(), |g| g.inside)
            });
            cmd.user(uid, gid);
        }
        c.spawn(&mut cmd)
    };
    // The client's descriptors are the program's alone now.
    drop(cmd);
    let mut child = match spawned {
        Ok(c) => c,
        Err(err) => {
            let _ = wire::send_reply(
                &conn,
                &Reply::Failed {
                    code: crate::setup_failure_code(&err),
                    message: crate::setup_failure_message(&err),
                },
            );
            return;
        }
    };
    // The terminal's master is the client's alone.
    let started = Reply::Started { pid: child.id() };
    match child.pty.take() {
        Some(master) => {
            let _ = wire::send_reply_with(&conn, &started, &[master.as_fd()]);
        }
        None => {
            let _ = wire::send_reply(&conn, &started);
        }
    }
    let mut client = true;
    loop {
        let mut fds = vec![PollFd::new(child.pidfd(), PollFlags::POLLIN)];
        if client {
            fds.push(PollFd::new(conn.as_fd(), PollFlags::POLLIN));
        }
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let done = fds[0].revents().is_some_and(|r| !r.is_empty());
        let from_client = fds
            .get(1)
            .and_then(|f| f.revents())
            .is_some_and(|r| !r.is_empty());
        drop(fds);
        if from_client {
            match wire::recv_request(&conn) {
                Ok(Some((Request::Signal(sig), _))) => {
                    let _ = child.signal(sig);
                }
                Ok(Some(_)) => {}
                // The client is gone: so is its program.
                Ok(None) | Err(_) => {
                    client = false;
                    let _ = child.kill();
                }
            }
        }
        if done {
            break;
        }
    }
    let status = match child.wait() {
        Ok(s) => s,
        Err(err) => {
            return failed(format!(
                "stockade: container {}: failed to wait for {}: {err}",
                shared.name,
                program.to_string_lossy()
            ));
        }
    };
    if client {
        let timed_out = child.outcome().map(|o| o.verdict) == Some(Verdict::TimedOut);
        let _ = wire::send_reply(
            &conn,
            &Reply::Exited {
                status: status.into_raw(),
                timed_out,
            },
        );
    }
}

/// The defaults of every exec: `start`'s --chdir, --setenv and
/// --unsetenv, over an image's working directory and environment.
fn exec_defaults(options: &Options, origin: &crate::image::Origin) -> Options {
    let mut d = Options {
        chdir: options.chdir.clone(),
        setenv: options.setenv.clone(),
        unsetenv: options.unsetenv.clone(),
        ..Options::default()
    };
    if let crate::image::Origin::Image(img) = origin {
        let cfg = img.config();
        if d.chdir.is_none() {
            d.chdir = cfg
                .working_dir
                .as_deref()
                .filter(|w| !w.is_empty())
                .map(std::path::PathBuf::from);
        }
        let mut env: Vec<(std::ffi::OsString, std::ffi::OsString)> = cfg
            .env
            .iter()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        env.append(&mut d.setenv);
        d.setenv = env;
    }
    d
}

/// Applies `start`'s --chdir, --setenv and --unsetenv to an exec.
fn apply(cmd: &mut Command, defaults: &Options) {
    for (k, v) in &defaults.setenv {
        cmd.env(k, v);
    }
    for k in &defaults.unsetenv {
        cmd.env_remove(k);
    }
    if let Some(d) = &defaults.chdir {
        cmd.current_dir(d);
    }
}
