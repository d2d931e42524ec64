//! How long a sandbox lives: it dies with the process that spawned it,
//! whatever that process forks or executes; the caller's signals reach the
//! program and never stop the supervisor; a caller's signal dispositions do
//! not leak into the sandbox.
//!
//! The caller-death cases run a helper (this test binary, re-executed to run
//! `helper_lifetime`) that spawns, reports pids on its standard output, and
//! is then killed. Bounds on waits only guard against hangs; no timing is
//! asserted.
#![allow(clippy::multiple_unsafe_ops_per_block)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use common::{as_each_identity, pid_alive, sh};
use stockade::{Child, Command, Namespaces, Sandbox, Stdio, Verdict};

/// Generous bound on how long a process may take to go away.
const BOUND: Duration = Duration::from_secs(60);

/// Waits until `done` holds, up to [`BOUND`]; returns whether it did.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let give_up = Instant::now() + BOUND;
    while !done() {
        if Instant::now() > give_up {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// The state letter of a process (`R`, `S`, `T`, `Z`...), `None` once gone.
fn state(pid: u32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit(')').next()?.trim_start().chars().next()
}

fn stopped(pid: u32) -> bool {
    matches!(state(pid), Some('T' | 't'))
}

/// The pid of the sandbox's supervisor, from its pidfd's `fdinfo`.
fn supervisor_pid(child: &Child) -> u32 {
    use std::os::fd::AsRawFd;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", child.pidfd().as_raw_fd()))
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|p| p.trim().parse().ok())
        .expect("a Pid: line in the pidfd's fdinfo")
}

fn kill_pid(pid: u32) {
    if pid > 1 && pid_alive(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// A running helper and what it reported.
struct Helper {
    process: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// Lines read but not asked for yet (the helper's and its sandboxes'
    /// lines may come in any order).
    unread: Vec<String>,
    /// Every pid it reported: killed when the test ends, should one have
    /// outlived it.
    pids: Vec<u32>,
}

impl Helper {
    /// Starts `helper_lifetime` in `mode`, with `env` on top.
    fn start(mode: &str, env: &[(&str, &str)]) -> Helper {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "helper_lifetime",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("STOCKADE_LIFETIME_MODE", mode)
        .stdout(std::process::Stdio::piped())
        // Not the test's own stderr: what it leaves behind on failure
        // would hold that open.
        .stderr(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut process = cmd.spawn().unwrap();
        // Read on a thread: the helper's sandboxes (and what they leave
        // behind, on failure) hold the pipe open.
        let out = process.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Helper {
            process,
            lines,
            unread: Vec::new(),
            pids: Vec::new(),
        }
    }

    /// The value of the line `KEY value` the helper (or its sandbox)
    /// prints.
    fn value(&mut self, key: &str) -> u32 {
        let v = self.find(key);
        self.pids.push(v);
        v
    }

    fn find(&mut self, key: &str) -> u32 {
        // libtest's "test NAME ... " may precede the first line.
        let parse = |line: &str| -> Option<u32> {
            let v = line.split(&format!("{key} ")).nth(1)?;
            Some(v.trim().parse().unwrap())
        };
        if let Some(i) = self.unread.iter().position(|l| parse(l).is_some()) {
            return parse(&self.unread.remove(i)).unwrap();
        }
        let give_up = Instant::now() + BOUND;
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("the helper never printed {key}"));
            match parse(&line) {
                Some(v) => return v,
                None => self.unread.push(line),
            }
        }
    }

    fn kill(&mut self) {
        self.process.kill().unwrap();
        self.process.wait().unwrap();
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        // What a failed test leaves behind: every pid reported.
        self.unread.extend(self.lines.try_iter());
        let unread = self.unread.iter().filter_map(|l| {
            let v = l.rsplit(' ').next()?;
            v.trim().parse::<u32>().ok()
        });
        for pid in self.pids.iter().copied().chain(unread) {
            kill_pid(pid);
        }
    }
}

fn line(key: &str, v: u32) {
    println!("{key} {v}");
    std::io::stdout().flush().unwrap();
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(1000));
    }
}

/// Forks a child that only waits to be killed; returns its pid. `raw`
/// forks with the system call, past libc's fork handlers.
fn fork_idle_child(raw: bool) -> u32 {
    std::io::stdout().flush().unwrap();
    let pid = if raw {
        // SAFETY: a plain fork (SIGCHLD as the only flag, no new stack);
        // the child below makes only raw system calls.
        let r =
            unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0) };
        r as i32
    } else {
        // SAFETY: as above, through libc.
        unsafe { libc::fork() }
    };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        loop {
            // SAFETY: pause takes no arguments; async-signal-safe.
            unsafe { libc::syscall(libc::SYS_pause) };
        }
    }
    pid as u32
}

/// `sleep 1000` in a sandbox of `sb`, standard streams away from the
/// helper's.
fn spawn_sleeper(sb: &Sandbox) -> Child {
    sb.spawn(
        Command::new("/bin/sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    )
    .unwrap()
}

/// Re-executed helper for the tests below; what it does depends on
/// `STOCKADE_LIFETIME_MODE`, and it prints pids as `KEY pid` lines.
#[test]
#[ignore = "helper for the tests of this file; run by them"]
fn helper_lifetime() {
    let mode = std::env::var("STOCKADE_LIFETIME_MODE").unwrap_or_default();
    let fork = std::env::var("STOCKADE_LIFETIME_FORK").unwrap_or_default();
    if std::env::var_os("STOCKADE_LIFETIME_NO_PIDFD_OPEN").is_some() {
        common::answer_enosys(libc::SYS_pidfd_open);
    }
    let mut sb = Sandbox::new();
    if std::env::var_os("STOCKADE_LIFETIME_NO_PID_NS").is_some() {
        sb.namespaces(Namespaces::default() - Namespaces::PID);
    }
    match mode.as_str() {
        // Spawns, forks a child that lives on, and waits to be killed.
        "fork-then-die" => {
            let child = spawn_sleeper(&sb);
            line("PROGRAM", child.id());
            line("FORK", fork_idle_child(fork == "raw"));
            sleep_forever();
        }
        // Spawns (so the lifeline exists), forks; the forked child spawns
        // and waits to be killed, and so does this process.
        "fork-then-spawn" => {
            drop(spawn_sleeper(&sb));
            std::io::stdout().flush().unwrap();
            // SAFETY: this process has no other thread spawning or holding
            // a lock the child needs (the test harness's main thread only
            // waits for this one).
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0);
            if pid == 0 {
                let child = spawn_sleeper(&sb);
                line("PROGRAM", child.id());
                sleep_forever();
            }
            line("FORK", pid as u32);
            sleep_forever();
        }
        // Spawns, forks a child that lives on (if asked), then executes
        // another program.
        "exec" => {
            let child = spawn_sleeper(&sb);
            line("PROGRAM", child.id());
            if !fork.is_empty() {
                line("FORK", fork_idle_child(fork == "raw"));
            }
            std::mem::forget(child);
            let e = std::process::Command::new("/bin/sleep").arg("1000").exec();
            panic!("exec: {e}");
        }
        // Spawns and stops the program, then waits to be killed.
        "stopped" => {
            let child = spawn_sleeper(&sb);
            child.signal(libc::SIGSTOP).unwrap();
            line("PROGRAM", child.id());
            sleep_forever();
        }
        // The program leaves a grandchild in a session of its own, then
        // waits to be killed; so does this process.
        "setsid" => {
            let script = "(setsid sh -c 'echo GRANDCHILD $$; exec sleep 1000' &); \
                          echo READY 0; exec sleep 1000";
            let child = sb.spawn(sh(script).stdin(Stdio::null())).unwrap();
            line("PROGRAM", child.id());
            sleep_forever();
        }
        other => panic!("unknown mode {other:?}"),
    }
}

/// A sandbox dies with the process that spawned it even while a child that
/// process forked lives on: the lifeline is the caller's pidfd, not only a
/// descriptor every fork inherits. With libc's fork and with a raw one
/// (which runs no fork handler).
#[test]
fn a_sandbox_dies_with_its_caller_while_a_forked_child_lives_on() {
    as_each_identity(|| {
        for fork in ["libc", "raw"] {
            let mut helper = Helper::start("fork-then-die", &[("STOCKADE_LIFETIME_FORK", fork)]);
            let program = helper.value("PROGRAM");
            let forked = helper.value("FORK");
            assert!(pid_alive(program) && pid_alive(forked));
            helper.kill();
            assert!(
                eventually(|| !pid_alive(program)),
                "{fork} fork: the sandbox program {program} outlived its caller, \
                 held by the forked child {forked}"
            );
            assert!(pid_alive(forked), "the forked child died too");
        }
    });
}

/// A sandbox spawned by a forked child dies with that child, not with the
/// process it was forked from: the lifeline is made per process.
#[test]
fn a_forked_childs_sandbox_dies_with_the_child() {
    as_each_identity(|| {
        let mut helper = Helper::start("fork-then-spawn", &[]);
        let forked = helper.value("FORK");
        let program = helper.value("PROGRAM");
        assert!(pid_alive(program));
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(forked as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        assert!(
            eventually(|| !pid_alive(program)),
            "the sandbox program {program} outlived the forked child {forked} that spawned it"
        );
    });
}

/// A caller that executes another program ends its sandboxes, as it did
/// when the lifeline was a pipe alone, also while a child it forked with
/// libc's fork lives on.
#[test]
fn a_sandbox_dies_when_its_caller_executes() {
    as_each_identity(|| {
        for fork in ["", "libc"] {
            let mut helper = Helper::start("exec", &[("STOCKADE_LIFETIME_FORK", fork)]);
            let program = helper.value("PROGRAM");
            if !fork.is_empty() {
                helper.value("FORK");
            }
            assert!(
                eventually(|| !pid_alive(program)),
                "fork {fork:?}: the sandbox program {program} outlived its caller's exec"
            );
            assert!(
                pid_alive(helper.process.id()),
                "the caller itself went away"
            );
        }
    });
}

/// Where `pidfd_open` is missing (ENOSYS, as before Linux 5.3 or under a
/// filter), the pipe alone ends the sandbox at the caller's death, also
/// while a child it forked with libc's fork lives on, and at its exec.
#[test]
fn without_pidfd_open_the_pipe_still_ends_the_sandbox() {
    as_each_identity(|| {
        let no_pidfd = ("STOCKADE_LIFETIME_NO_PIDFD_OPEN", "1");
        let mut helper = Helper::start(
            "fork-then-die",
            &[("STOCKADE_LIFETIME_FORK", "libc"), no_pidfd],
        );
        let program = helper.value("PROGRAM");
        let forked = helper.value("FORK");
        helper.kill();
        assert!(
            eventually(|| !pid_alive(program)),
            "the sandbox program {program} outlived its caller"
        );
        assert!(pid_alive(forked), "the forked child died too");

        let mut helper = Helper::start("exec", &[no_pidfd]);
        let program = helper.value("PROGRAM");
        assert!(
            eventually(|| !pid_alive(program)),
            "the sandbox program {program} outlived its caller's exec"
        );
    });
}

/// A program stopped with `Child::signal(SIGSTOP)` still dies with its
/// caller: the stop reaches the program, never the supervisor watching the
/// caller.
#[test]
fn a_stopped_sandbox_still_dies_with_its_caller() {
    as_each_identity(|| {
        for no_pid_ns in [false, true] {
            let env: &[(&str, &str)] = if no_pid_ns {
                &[("STOCKADE_LIFETIME_NO_PID_NS", "1")]
            } else {
                &[]
            };
            let mut helper = Helper::start("stopped", env);
            let program = helper.value("PROGRAM");
            assert!(
                eventually(|| stopped(program)),
                "the program {program} was not stopped (state {:?})",
                state(program)
            );
            helper.kill();
            assert!(
                eventually(|| !pid_alive(program)),
                "no pid namespace: {no_pid_ns}: the stopped program {program} outlived its caller"
            );
        }
    });
}

/// Without a pid namespace, the caller's death sweeps the whole tree, as a
/// kill, a drop or a timeout does: a grandchild in a session of its own is
/// gone too.
#[test]
fn a_setsid_grandchild_dies_with_the_caller_without_a_pid_namespace() {
    as_each_identity(|| {
        let mut helper = Helper::start("setsid", &[("STOCKADE_LIFETIME_NO_PID_NS", "1")]);
        let program = helper.value("PROGRAM");
        let grandchild = helper.value("GRANDCHILD");
        // Printed once the grandchild's parent has exited: it is an orphan,
        // the supervisor's (as subreaper).
        helper.value("READY");
        assert!(pid_alive(grandchild));
        helper.kill();
        assert!(
            eventually(|| !pid_alive(program)),
            "the program {program} outlived its caller"
        );
        assert!(
            eventually(|| !pid_alive(grandchild)),
            "the setsid'd grandchild {grandchild} outlived the caller"
        );
    });
}

/// `Child::signal(SIGSTOP)` stops the program, not the supervisor: `SIGCONT`
/// resumes it, and a kill and the wall-clock limit still end a stopped
/// sandbox. With and without a pid namespace.
#[test]
fn sigstop_stops_the_program_and_never_the_supervisor() {
    as_each_identity(|| {
        for ns in [
            Namespaces::default(),
            Namespaces::default() - Namespaces::PID,
        ] {
            let mut sb = Sandbox::new();
            sb.namespaces(ns);
            let mut child = spawn_sleeper(&sb);
            let program = child.id();
            let supervisor = supervisor_pid(&child);
            child.signal(libc::SIGSTOP).unwrap();
            assert!(
                eventually(|| stopped(program)),
                "{ns:?}: the program was not stopped (state {:?}; the supervisor's {:?})",
                state(program),
                state(supervisor)
            );
            assert!(!stopped(supervisor), "{ns:?}: the supervisor was stopped");
            child.signal(libc::SIGCONT).unwrap();
            assert!(
                eventually(|| !stopped(program)),
                "{ns:?}: SIGCONT did not resume the program"
            );
            child.signal(libc::SIGSTOP).unwrap();
            assert!(eventually(|| stopped(program)));
            child.kill().unwrap();
            let st = child.wait_timeout(BOUND).unwrap();
            assert_eq!(
                st.and_then(|s| s.signal()),
                Some(libc::SIGKILL),
                "{ns:?}: a kill did not end the stopped sandbox"
            );
            assert_eq!(child.outcome().unwrap().verdict, Verdict::Killed);

            // The wall-clock limit fires while the program is stopped.
            // Long enough for the SIGSTOP below to find the sandbox running.
            sb.timeout(Duration::from_millis(if cfg!(stockade_vm) {
                5000
            } else {
                1000
            }));
            let mut child = spawn_sleeper(&sb);
            child.signal(libc::SIGSTOP).unwrap();
            let st = child.wait_timeout(BOUND).unwrap();
            assert!(st.is_some(), "{ns:?}: the timeout never fired");
            assert_eq!(child.outcome().unwrap().verdict, Verdict::TimedOut);
        }
        common::assert_no_children();
    });
}

/// Signals go to the program's process group; `SIGKILL` kills the sandbox
/// as `kill` does; 0 probes; other numbers are refused.
#[test]
fn signals_reach_the_program_group() {
    as_each_identity(|| {
        let sb = Sandbox::new();
        // The shell ignores SIGTERM; its background sleep (in its group,
        // started before the trap) does not, and the shell's wait then
        // returns 128+15.
        let mut child = sb
            .spawn(sh("sleep 1000 & trap '' TERM; echo ready; wait $!").stdout(Stdio::piped()))
            .unwrap();
        let mut ready = [0u8; 6];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut ready)
            .unwrap();
        child.signal(0).unwrap();
        for bad in [-1, 65, 1000] {
            let e = child.signal(bad).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "signal {bad}");
        }
        child.signal(libc::SIGTERM).unwrap();
        let st = child.wait_timeout(BOUND).unwrap();
        assert_eq!(
            st.and_then(|s| s.code()),
            Some(128 + libc::SIGTERM),
            "the program's group did not get SIGTERM"
        );
        assert_eq!(
            child.signal(libc::SIGTERM).unwrap_err().raw_os_error(),
            Some(libc::ESRCH)
        );

        let mut child = spawn_sleeper(&sb);
        child.signal(libc::SIGKILL).unwrap();
        let st = child.wait_timeout(BOUND).unwrap();
        assert_eq!(st.and_then(|s| s.signal()), Some(libc::SIGKILL));
        assert_eq!(child.outcome().unwrap().verdict, Verdict::Killed);
        common::assert_no_children();
    });
}

/// A caller that ignores `SIGCHLD` (as a shell or a Python parent may leave
/// it) still sees its sandboxes end, from a template or not, with and
/// without a pid namespace; and the program starts with no signal ignored.
#[test]
fn a_caller_ignoring_sigchld_sees_its_sandboxes_end() {
    as_each_identity(|| {
        // SAFETY: SIG_IGN installs no handler; this process (the test alone,
        // re-executed) waits for no child of its own through SIGCHLD.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
        for ns in [
            Namespaces::default(),
            Namespaces::default() - Namespaces::PID,
        ] {
            let mut sb = Sandbox::new();
            sb.namespaces(ns);
            // The second spawn of a policy starts from its template.
            for round in 0..2 {
                let mut child = sb
                    .spawn(
                        sh("grep SigIgn /proc/self/status; exit 3")
                            .stdin(Stdio::null())
                            .stdout(Stdio::piped()),
                    )
                    .unwrap();
                let mut out = String::new();
                child
                    .stdout
                    .take()
                    .unwrap()
                    .read_to_string(&mut out)
                    .unwrap();
                let st = child.wait_timeout(BOUND).unwrap();
                assert_eq!(
                    st.and_then(|s| s.code()),
                    Some(3),
                    "{ns:?}, spawn {round}: the sandbox never reported its end"
                );
                assert_eq!(out.trim(), "SigIgn:\t0000000000000000", "{ns:?}");
            }
        }
        // SAFETY: back to the default disposition.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
        common::assert_no_children();
    });
}
