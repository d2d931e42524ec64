//! A caller may `fork()` (without exec) after using stockade from several
//! threads, and spawn sandboxes from the child. The child holds only the
//! thread that forked: a lock another thread held, or a one-time setup
//! another thread was in the middle of, stays that way in the child for
//! good. No spawn may wait for one.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::as_each_identity;
use stockade::{Command, Namespaces, Sandbox, Stdio};

/// How long the forked children may go without one of them ending: a child
/// still running once none has ended for that long is taken to hang. (A
/// slow machine, an emulated one say, keeps ending children, however many
/// wait for a processor.)
const STALL: Duration = Duration::from_secs(60);

/// How many children a test forks at most while the setup it races runs
/// (fewer under the VM runner's emulation, where each is about 20 times
/// slower).
const MAX_CHILDREN: usize = if cfg!(stockade_vm) { 60 } else { 300 };

/// Spawns `/bin/true` in `sb` and waits for it, with no pipe a forked
/// child could keep open.
fn spawn_quietly(sb: &Sandbox) {
    let mut cmd = Command::new("/bin/true");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Unsupported on kernels without time namespaces: the probe ran all
    // the same.
    let _ = sb.status(&mut cmd);
}

/// Forks a child that spawns `/bin/true` in `sb`, waits for it and exits: 0
/// when the sandbox ran and exited 0, 1 when the spawn failed, 2 when the
/// sandbox failed.
fn fork_and_spawn(sb: &Sandbox) -> libc::pid_t {
    // SAFETY: fork. The child only spawns (the library is made for use in
    // a process forked by a multi-threaded one) and ends with _exit,
    // without running the test harness's code.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let mut cmd = Command::new("/bin/true");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let code = match sb.status(&mut cmd) {
            Ok(st) if st.success() => 0,
            Ok(_) => 2,
            Err(e) => {
                // What went wrong, for the failure's report (glibc's
                // allocator is usable after fork, as the library is).
                eprintln!("child {}: {}", std::process::id(), common::chain(&e));
                1
            }
        };
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// Waits for every child in `pids` until none has ended for `STALL`, kills
/// those still running then, and returns a description of each that did not
/// exit 0.
fn reap(pids: &[libc::pid_t]) -> Vec<String> {
    let mut progress = Instant::now();
    let mut left: Vec<libc::pid_t> = pids.to_vec();
    let mut problems = Vec::new();
    while !left.is_empty() {
        let now = Instant::now();
        let stalled = now.duration_since(progress) > STALL;
        let before = left.len();
        left.retain(|&pid| {
            let mut status = 0;
            // SAFETY: waits for our own child without blocking.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == 0 && !stalled {
                return true;
            }
            if r == 0 {
                // SAFETY: kills our own child, which hangs.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                // SAFETY: reaps it.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                problems.push(format!(
                    "child {pid} still spawning after {STALL:?} in which no child ended"
                ));
            } else if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                problems.push(format!("child {pid} ended with status {status:#x}"));
            }
            false
        });
        if left.len() < before {
            progress = now;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    problems
}

/// Spawns in `sb` once from a thread, the first spawn of its kind in this
/// process, while forking children that spawn in `sb` until it is done;
/// returns what went wrong with the children (see [`reap`]).
fn fork_during_first_spawn(sb: &Sandbox) -> Vec<String> {
    let done = AtomicBool::new(false);
    let mut pids = Vec::new();
    let problems = std::thread::scope(|s| {
        s.spawn(|| {
            spawn_quietly(sb);
            done.store(true, Ordering::SeqCst);
        });
        while !done.load(Ordering::SeqCst) && pids.len() < MAX_CHILDREN {
            pids.push(fork_and_spawn(sb));
            std::thread::sleep(Duration::from_micros(200));
        }
        reap(&pids)
    });
    eprintln!("measured: {} children forked", pids.len());
    problems
}

#[test]
fn a_child_forked_while_templates_are_built_can_spawn() {
    as_each_identity(|| {
        const POLICIES: usize = 30;
        let dir = tempfile::tempdir().unwrap();
        // Distinct policies, each of which builds its template on its
        // second spawn.
        let sandboxes: Vec<Sandbox> = (0..POLICIES)
            .map(|i| {
                let mut sb = Sandbox::new();
                sb.bind_ro(dir.path(), format!("/p{i}"));
                sb
            })
            .collect();
        spawn_quietly(&Sandbox::new());
        let current = AtomicUsize::new(0);
        let done = AtomicBool::new(false);
        let mut pids = Vec::new();
        let problems = std::thread::scope(|s| {
            s.spawn(|| {
                for (i, sb) in sandboxes.iter().enumerate() {
                    spawn_quietly(sb);
                    current.store(i, Ordering::SeqCst);
                    spawn_quietly(sb);
                }
                done.store(true, Ordering::SeqCst);
            });
            while !done.load(Ordering::SeqCst) && pids.len() < MAX_CHILDREN {
                let sb = &sandboxes[current.load(Ordering::SeqCst)];
                pids.push(fork_and_spawn(sb));
                std::thread::sleep(Duration::from_micros(500));
            }
            // Before the builder is joined: a hung child may hold a
            // descriptor one of its spawns waits for.
            reap(&pids)
        });
        eprintln!("measured: {} children forked", pids.len());
        assert!(problems.is_empty(), "{problems:#?}");
    });
}

#[test]
fn a_child_forked_during_the_first_time_namespace_probe_can_spawn() {
    as_each_identity(|| {
        // Nothing in this process has asked yet whether a program enters
        // its time namespace at exec: the first spawn with one asks, with a
        // probe sandbox.
        let mut sb = Sandbox::new();
        sb.namespaces(Namespaces::default() | Namespaces::TIME);
        let problems = fork_during_first_spawn(&sb);
        let problems: Vec<&String> = problems
            .iter()
            // A spawn that fails (no time namespace here) is no hang.
            .filter(|p| !p.ends_with("status 0x100"))
            .collect();
        assert!(problems.is_empty(), "{problems:#?}");
    });
}

#[test]
fn a_child_forked_while_the_denial_observer_starts_can_spawn() {
    as_each_identity(|| {
        // Nothing in this process has observed a sandbox's refusals yet:
        // the first spawn starts the process's observer (its slot held
        // meanwhile), and children forked then find the slot held for good.
        let problems = fork_during_first_spawn(&Sandbox::new());
        assert!(problems.is_empty(), "{problems:#?}");
    });
}
