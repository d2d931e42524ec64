//! The async API (feature `tokio`): waiting over the pidfd, async stdio,
//! kill, timeouts, kill-on-drop, on current-thread and multi-threaded
//! runtimes.
#![cfg(feature = "tokio")]
#![allow(clippy::multiple_unsafe_ops_per_block)]

mod common;

use std::time::{Duration, Instant};

use common::{as_each_identity, assert_no_children, chain, fd_list, pid_alive, sh};
use stockade::tokio::AsyncChild;
use stockade::{Command, Error, Sandbox, Stdio, Verdict};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::{Builder, Runtime};

fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Threads of this process, from `/proc/self/status`.
fn thread_count() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("Threads: line")
}

/// Whether this process has any child left, running or zombie.
fn has_children() -> bool {
    // SAFETY: all-zero is a valid siginfo to be filled in.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid with WNOHANG|WNOWAIT only inspects.
    let r = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL,
        )
    };
    !(r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD))
}

/// Waits (asynchronously, up to a generous bound that only guards against a
/// hang) until `done` holds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < give_up, "gave up waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn spawn(sb: &Sandbox, cmd: &mut Command) -> AsyncChild {
    sb.spawn_async(cmd)
        .unwrap_or_else(|e| panic!("spawn failed: {}", chain(&e)))
}

/// The first spawn in a process creates the process-wide lifeline pipe,
/// which stays open by design; spawn once before taking descriptor
/// snapshots.
fn warm_up() {
    Sandbox::new().status(&mut sh("true")).unwrap();
}

const SANDBOXES: usize = 200;

#[test]
fn two_hundred_concurrent_sandboxes_on_a_current_thread_runtime() {
    as_each_identity(|| {
        warm_up();
        let threads_before = thread_count();
        let rt = current_thread();
        rt.block_on(async {
            let fds_before = fd_list();
            let started = Instant::now();
            let sb = Sandbox::new();
            // Every program waits for a line on stdin, so all of them are
            // alive at once, then exits with its own code.
            let mut children = Vec::with_capacity(SANDBOXES);
            for i in 0..SANDBOXES {
                let child = spawn(
                    &sb,
                    sh(&format!("read line; exit {i}")).stdin(Stdio::piped()),
                );
                children.push(child);
            }
            for c in &mut children {
                assert_eq!(c.try_wait().unwrap(), None, "ended before its input");
            }
            assert!(thread_count() <= threads_before, "spawning started threads");

            let mut tasks = tokio::task::JoinSet::new();
            for (i, mut child) in children.into_iter().enumerate() {
                tasks.spawn(async move {
                    let mut stdin = child.stdin.take().unwrap();
                    stdin.write_all(b"go\n").await.unwrap();
                    drop(stdin);
                    let status = child.wait().await.unwrap();
                    (i, status, child.outcome().cloned())
                });
            }
            let mut max_threads = 0;
            let mut seen = [false; SANDBOXES];
            while let Some(done) = tasks.join_next().await {
                max_threads = max_threads.max(thread_count());
                let (i, status, outcome) = done.unwrap();
                assert_eq!(status.code(), Some(i as i32), "status of sandbox {i}");
                assert_eq!(outcome.unwrap().verdict, Verdict::Exited(i as i32));
                seen[i] = true;
            }
            assert!(seen.iter().all(|s| *s));
            assert!(
                max_threads <= threads_before,
                "threads grew from {threads_before} to {max_threads} while waiting"
            );
            eprintln!(
                "{SANDBOXES} concurrent sandboxes from a current-thread runtime: {:?}",
                started.elapsed()
            );
            // The policy's template goes with the policy.
            drop(sb);
            common::fd_count_without_listeners();
            assert_eq!(fd_list(), fds_before, "descriptors leaked");
        });
        drop(rt);
        assert_no_children();
    });
}

#[test]
fn piped_streams_round_trip() {
    as_each_identity(|| {
        current_thread().block_on(async {
            let sb = Sandbox::new();
            let mut child = spawn(
                &sb,
                sh("cat; echo done >&2")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped()),
            );
            // More than a pipe holds, written while reading, so both sides
            // have to make progress concurrently.
            let data: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
            let mut stdin = child.stdin.take().unwrap();
            let mut stdout = child.stdout.take().unwrap();
            let mut stderr = child.stderr.take().unwrap();
            let expected = data.clone();
            let writer = async move {
                stdin.write_all(&data).await.unwrap();
                // shutdown closes the pipe: cat sees end-of-file.
                stdin.shutdown().await.unwrap();
                assert_eq!(
                    stdin.write(b"x").await.unwrap_err().kind(),
                    std::io::ErrorKind::BrokenPipe
                );
            };
            let reader = async move {
                let mut got = Vec::new();
                stdout.read_to_end(&mut got).await.unwrap();
                got
            };
            let ((), got) = tokio::join!(writer, reader);
            assert!(got == expected, "stdout differs from stdin");
            let mut err = String::new();
            stderr.read_to_string(&mut err).await.unwrap();
            assert_eq!(err, "done\n");
            assert!(child.wait().await.unwrap().success());

            // wait_with_output reads both streams concurrently.
            let child = spawn(
                &sb,
                sh("head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2; exit 7")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped()),
            );
            let out = child.wait_with_output().await.unwrap();
            assert_eq!(out.status.code(), Some(7));
            assert_eq!(out.stdout.len(), 300_000);
            assert_eq!(out.stderr.len(), 300_000);

            let out = sb
                .output_async(&mut sh("echo out; echo err >&2; exit 3"))
                .await
                .unwrap();
            assert_eq!(out.status.code(), Some(3));
            assert_eq!(out.stdout, b"out\n");
            assert_eq!(out.stderr, b"err\n");
            assert_eq!(out.outcome.verdict, Verdict::Exited(3));
            assert_eq!(out.outcome.status, out.status);

            let status = sb
                .status_async(sh("exit 5").stdout(Stdio::null()))
                .await
                .unwrap();
            assert_eq!(status.code(), Some(5));

            // wait closes a piped stdin first, so a reader ends.
            let mut child = spawn(&sb, sh("cat >/dev/null; exit 4").stdin(Stdio::piped()));
            assert_eq!(child.wait().await.unwrap().code(), Some(4));
        });
        assert_no_children();
    });
}

#[test]
fn kill_and_timeouts() {
    as_each_identity(|| {
        current_thread().block_on(async {
            let sb = Sandbox::new();

            // A tokio timeout around wait leaves the sandbox running; wait is
            // cancel-safe and can be called again.
            let mut child = spawn(&sb, Command::new("sleep").arg("1000"));
            let waited = tokio::time::timeout(Duration::from_millis(20), child.wait()).await;
            assert!(waited.is_err(), "sleep 1000 ended early: {waited:?}");
            assert_eq!(child.try_wait().unwrap(), None);
            assert!(pid_alive(child.id()));
            child.kill().await.unwrap();
            let status = child.wait().await.unwrap();
            assert_eq!(status.signal(), Some(libc::SIGKILL));
            assert_eq!(child.outcome().unwrap().verdict, Verdict::Killed);
            // Killing a finished sandbox does nothing.
            child.kill().await.unwrap();
            assert_eq!(child.wait().await.unwrap(), status);

            // start_kill returns at once; wait collects the status.
            let mut child = spawn(&sb, Command::new("sleep").arg("1000"));
            child.start_kill().unwrap();
            assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGKILL));
            assert_eq!(child.outcome().unwrap().verdict, Verdict::Killed);

            // The sandbox's own wall-clock limit, awaited.
            let mut timed = sb.clone();
            timed.timeout(Duration::from_millis(100));
            let mut child = spawn(&timed, Command::new("sleep").arg("1000"));
            child.wait().await.unwrap();
            assert_eq!(child.outcome().unwrap().verdict, Verdict::TimedOut);

            // The same through output_async.
            let mut cmd = Command::new("sleep");
            cmd.arg("1000");
            let out =
                tokio::time::timeout(Duration::from_millis(20), sb.output_async(&mut cmd)).await;
            assert!(out.is_err(), "sleep 1000 ended early");
        });
        // The sandbox of the cancelled output_async was killed, and is
        // reaped by the process's reaper.
        common::eventually("the cancelled sandbox is reaped", || !has_children());
        assert_no_children();
    });
}

/// `AsyncChild::signal(SIGSTOP)` stops the program, never the supervisor:
/// the sandbox still resumes, and a kill and the wall-clock limit still end
/// it, awaited.
#[test]
fn sigstop_stops_the_program_not_the_supervisor() {
    fn stopped(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with(['T', 't']))
        })
    }
    as_each_identity(|| {
        current_thread().block_on(async {
            let bound = Duration::from_secs(30);
            let mut sb = Sandbox::new();
            let mut child = spawn(&sb, Command::new("sleep").arg("1000"));
            let program = child.id();
            child.signal(libc::SIGSTOP).unwrap();
            eventually("the program is stopped", || stopped(program)).await;
            child.signal(libc::SIGCONT).unwrap();
            eventually("the program runs again", || !stopped(program)).await;
            child.signal(libc::SIGSTOP).unwrap();
            eventually("the program is stopped again", || stopped(program)).await;
            tokio::time::timeout(bound, child.kill())
                .await
                .expect("a kill ends a stopped sandbox")
                .unwrap();
            assert_eq!(child.outcome().unwrap().verdict, Verdict::Killed);

            // Long enough for the SIGSTOP below to find the sandbox running.
            sb.timeout(Duration::from_millis(if cfg!(stockade_vm) {
                5000
            } else {
                1000
            }));
            let mut child = spawn(&sb, Command::new("sleep").arg("1000"));
            child.signal(libc::SIGSTOP).unwrap();
            tokio::time::timeout(bound, child.wait())
                .await
                .expect("the timeout ends a stopped sandbox")
                .unwrap();
            assert_eq!(child.outcome().unwrap().verdict, Verdict::TimedOut);
        });
        assert_no_children();
    });
}

#[test]
fn dropping_kills_the_sandbox() {
    as_each_identity(|| {
        let rt = current_thread();
        rt.block_on(async {
            let sb = Sandbox::new();
            let child = spawn(&sb, Command::new("sleep").arg("1000"));
            let pid = child.id();
            assert!(pid_alive(pid));
            drop(child);
            // The kill was sent in drop; the process's reaper reaps it.
            eventually("the dropped sandbox is gone", || !pid_alive(pid)).await;
            eventually("the dropped sandbox is reaped", || !has_children()).await;

            // Without a pid namespace the supervisor tears the sandbox down
            // on request.
            let mut no_pidns = Sandbox::new();
            no_pidns.namespaces(stockade::Namespaces::default() - stockade::Namespaces::PID);
            let child = spawn(&no_pidns, Command::new("sleep").arg("1000"));
            let pid = child.id();
            drop(child);
            eventually("the dropped sandbox is gone", || !pid_alive(pid)).await;
            eventually("the dropped sandbox is reaped", || !has_children()).await;

            // With kill_on_drop off, the sandbox runs on and is reaped once
            // it ends.
            let mut keep = Sandbox::new();
            keep.kill_on_drop(false);
            let mut child = spawn(&keep, sh("read line; exit 0").stdin(Stdio::piped()));
            let mut stdin = child.stdin.take().unwrap();
            let pid = child.id();
            drop(child);
            assert!(pid_alive(pid), "killed although kill_on_drop is off");
            stdin.write_all(b"go\n").await.unwrap();
            eventually("the detached sandbox is reaped", || !has_children()).await;
        });

        // Dropped outside the runtime that registered it: the same.
        let child =
            rt.block_on(async { spawn(&Sandbox::new(), Command::new("sleep").arg("1000")) });
        let pid = child.id();
        drop(rt);
        drop(child);
        common::eventually("the dropped sandbox is gone", || !pid_alive(pid));
        common::eventually("the dropped sandbox is reaped", || !has_children());
        assert_no_children();
    });
}

#[test]
fn setup_errors_come_back_typed() {
    as_each_identity(|| {
        current_thread().block_on(async {
            match Sandbox::new().spawn_async(&mut Command::new("no-such-program-xyz")) {
                Err(Error::ProgramNotFound { .. }) => {}
                Err(e) => panic!("wrong error: {}", chain(&e)),
                Ok(_) => panic!("spawned a missing program"),
            }
            match Sandbox::new()
                .output_async(&mut Command::new("/nonexistent/program"))
                .await
            {
                Err(Error::ProgramNotFound { .. }) => {}
                Err(e) => panic!("wrong error: {}", chain(&e)),
                Ok(_) => panic!("spawned a missing program"),
            }
        });
        assert_no_children();
    });
}

#[test]
fn multi_threaded_runtime() {
    as_each_identity(|| {
        let rt = multi_thread();
        rt.block_on(async {
            let sb = std::sync::Arc::new(Sandbox::new());
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..40u32 {
                let sb = sb.clone();
                tasks.spawn(async move {
                    let out = sb
                        .output_async(&mut sh(&format!("echo {i}; exit {}", i % 7)))
                        .await
                        .unwrap_or_else(|e| panic!("spawn failed: {}", chain(&e)));
                    assert_eq!(out.stdout, format!("{i}\n").into_bytes());
                    assert_eq!(out.status.code(), Some((i % 7) as i32));
                });
            }
            // A long-running one, awaited on another worker and killed from
            // here.
            let mut sleeper = spawn(&sb, Command::new("sleep").arg("1000"));
            sleeper.start_kill().unwrap();
            let waiter = tokio::spawn(async move {
                let status = sleeper.wait().await.unwrap();
                (status, sleeper.outcome().unwrap().verdict)
            });
            while let Some(r) = tasks.join_next().await {
                r.unwrap();
            }
            let (status, verdict) = waiter.await.unwrap();
            assert_eq!(status.signal(), Some(libc::SIGKILL));
            assert_eq!(verdict, Verdict::Killed);
        });
        drop(rt);
        assert_no_children();
    });
}

#[test]
fn converting_a_blocking_child() {
    as_each_identity(|| {
        current_thread().block_on(async {
            let child = Sandbox::new()
                .spawn(sh("echo converted").stdout(Stdio::piped()))
                .unwrap();
            let child = AsyncChild::try_from(child).unwrap();
            let out = child.wait_with_output().await.unwrap();
            assert!(out.status.success());
            assert_eq!(out.stdout, b"converted\n");

            // A sandbox that has already ended (its pidfd readable, not yet
            // reaped) before being registered still completes its wait.
            let child = Sandbox::new().spawn(&mut sh("exit 9")).unwrap();
            let mut pfd = libc::pollfd {
                fd: std::os::fd::AsRawFd::as_raw_fd(&child.pidfd()),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one live pollfd.
            assert_eq!(unsafe { libc::poll(&mut pfd, 1, -1) }, 1);
            let mut child = AsyncChild::new(child).unwrap();
            assert_eq!(child.wait().await.unwrap().code(), Some(9));
        });
        assert_no_children();
    });
}
