//! Tests against a real cgroup v2 hierarchy.
//!
//! They need `STOCKADE_TEST_CGROUP_PARENT`: a cgroup v2 directory delegated to
//! the test's user, with memory, pids, cpu and io available for its children,
//! and the test process placed so that it may move processes into it. The VM
//! runner (`tests/vm/run -t lib`) provides one and builds with
//! `--cfg stockade_vm`; elsewhere these tests are ignored, and run on request
//! (`--ignored`) without one they fail.
//!
//! Forked children only issue raw system calls (`crate::sys::raw`: no
//! allocation, no locks), since the test harness is multi-threaded.

use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::discover::Discovery;
use super::os::{Os, RealOs};
use super::*;
use crate::sys::clone::CLONE_INTO_CGROUP;
use crate::sys::raw;
use crate::sys::testing::{self, wait};

/// The delegated cgroup v2 directory of the VM runner. A test that asks for
/// it must be marked `#[cfg_attr(not(stockade_vm), ignore = "...")]`: run
/// otherwise (neither in a VM build nor on request), it fails on every host.
fn test_parent() -> PathBuf {
    let requested = std::env::args().any(|a| a == "--ignored" || a == "--include-ignored");
    assert!(
        cfg!(stockade_vm) || requested,
        "this test needs a delegated cgroup v2 directory, which only tests/vm/run provides: \
         mark it #[cfg_attr(not(stockade_vm), ignore = \"...\")]"
    );
    std::env::var_os("STOCKADE_TEST_CGROUP_PARENT")
        .map(PathBuf::from)
        .expect("STOCKADE_TEST_CGROUP_PARENT is not set (needs a delegated cgroup v2 directory)")
}

fn engine() -> Engine {
    Engine::new(Arc::new(RealOs))
}

fn in_parent(parent: &Path) -> Config {
    Config {
        parent: Some(parent.to_owned()),
        ..Config::default()
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Forks; the child runs `f` (raw system calls only) and exits with its result.
fn fork_child(f: impl FnOnce() -> i32) -> libc::pid_t {
    testing::fork(f).unwrap_or_else(|e| panic!("fork failed: {}", e.into_io()))
}

/// Writes "0" to a cgroup.procs fd: moves the calling process there.
fn join(procs_fd: i32) -> bool {
    raw::write(procs_fd, b"0") == Ok(1)
}

fn procs_of(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

fn stockade_dirs(parent: &Path) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(stale::PREFIX))
        .collect()
}

/// clone3 without CLONE_VM (a fork); the child runs `f` and exits.
fn clone3_child(flags: u64, cgroup_fd: i32, f: impl FnOnce() -> i32) -> std::io::Result<i32> {
    testing::clone3_fork(flags, cgroup_fd, f).map_err(raw::Errno::into_io)
}

/// A pipe whose read end a child blocks on until the parent closes the write end.
fn gate() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap()
}

/// Lets a child blocked in `block_on` go on. (Closing the write end is not
/// enough: forked children, ours or other tests', hold copies of it.)
fn release(w: std::os::fd::OwnedFd) {
    nix::unistd::write(&w, b"g").unwrap();
}

fn block_on(fd: i32) {
    let mut b = [0u8; 1];
    let _ = raw::read(fd, &mut b);
}

/// Blocks until a signal arrives (`pause(2)`).
fn pause() {
    let _ = raw::poll(&mut [], None);
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 directory; tests/vm/run runs it"
)]
fn real_memory_limit_oom_kills_and_is_counted() {
    let parent = test_parent();
    let cg = engine()
        .prepare(&Config {
            memory_max: Some(32 << 20),
            ..in_parent(&parent)
        })
        .unwrap()
        .cgroup
        .unwrap();
    assert!(cg.report().fully_applied(), "{:?}", cg.report());
    let dir = cg.path().to_owned();
    assert_eq!(
        std::fs::read_to_string(dir.join("memory.max"))
            .unwrap()
            .trim(),
        "33554432"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("memory.swap.max"))
            .unwrap()
            .trim(),
        "0"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("memory.oom.group"))
            .unwrap()
            .trim(),
        "1"
    );
    let procs = cg.procs_fd().as_raw_fd();
    let pid = fork_child(|| {
        if !join(procs) {
            return 3;
        }
        if !testing::touch_fresh_memory(256 << 20) {
            return 4;
        }
        0
    });
    assert_eq!(
        wait(pid),
        Err(libc::SIGKILL),
        "the child must be OOM-killed"
    );
    let usage = cg.usage().unwrap();
    eprintln!("usage after OOM: {usage:?}");
    let events = usage.memory_events.unwrap();
    assert!(events.oom_kill > 0, "{events:?}");
    assert!(usage.oom_killed());
    if let Some(peak) = usage.memory_peak {
        assert!(peak <= 32 << 20 && peak > 16 << 20, "peak {peak}");
    }
    cg.remove().unwrap();
    assert!(!dir.exists());
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 directory; tests/vm/run runs it"
)]
fn real_clone3_into_cgroup() {
    let parent = test_parent();
    let cg = engine()
        .prepare(&Config {
            pids_max: Some(16),
            ..in_parent(&parent)
        })
        .unwrap()
        .cgroup
        .unwrap();
    // The directory fd as prepared (O_RDONLY|O_DIRECTORY), and an O_PATH one.
    let o_path = nix::fcntl::open(
        cg.leaf_path(),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap();
    for fd in [cg.dir_fd().as_raw_fd(), o_path.as_raw_fd()] {
        let (r, w) = gate();
        let rfd = r.as_raw_fd();
        let pid = match clone3_child(CLONE_INTO_CGROUP, fd, || {
            block_on(rfd);
            0
        }) {
            Ok(pid) => pid,
            Err(e) => panic!("clone3 CLONE_INTO_CGROUP: {e}"),
        };
        assert!(
            procs_of(cg.leaf_path()).contains(&pid),
            "child placed in the leaf"
        );
        release(w);
        assert_eq!(wait(pid), Ok(0));
    }
    // A file fd is refused.
    let file = std::fs::File::open(cg.leaf_path().join("cgroup.procs")).unwrap();
    let err = clone3_child(CLONE_INTO_CGROUP, file.as_raw_fd(), || 0).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF));

    // With a new cgroup namespace, its root is the leaf, not the limits.
    let (r, w) = gate();
    let wfd = w.as_raw_fd();
    let userns = if is_root() {
        0
    } else {
        libc::CLONE_NEWUSER as u64
    };
    let pid = clone3_child(
        CLONE_INTO_CGROUP | libc::CLONE_NEWCGROUP as u64 | userns,
        cg.dir_fd().as_raw_fd(),
        || {
            let mut buf = [0u8; 64];
            let Ok(fd) = raw::openat(libc::AT_FDCWD, c"/proc/self/cgroup", libc::O_RDONLY, 0)
            else {
                return 0;
            };
            if let Ok(n @ 1..) = raw::read(fd.raw(), &mut buf) {
                let _ = raw::write(wfd, &buf[..n]);
            }
            0
        },
    )
    .unwrap();
    assert_eq!(wait(pid), Ok(0));
    let mut buf = [0u8; 64];
    let n = nix::unistd::read(&r, &mut buf).unwrap();
    drop(w);
    assert_eq!(&buf[..n], b"0::/\n");
    cg.remove().unwrap();
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 directory; tests/vm/run runs it"
)]
fn real_procs_fd_works_after_entering_new_namespaces() {
    let parent = test_parent();
    let cg = engine()
        .prepare(&Config {
            placement: true,
            ..in_parent(&parent)
        })
        .unwrap()
        .cgroup
        .unwrap();
    let procs = cg.procs_fd().as_raw_fd();
    let (r, w) = gate();
    let rfd = r.as_raw_fd();
    let pid = fork_child(|| {
        if raw::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWCGROUP).is_err() {
            return 5;
        }
        if !join(procs) {
            return 6;
        }
        block_on(rfd);
        0
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !procs_of(cg.leaf_path()).contains(&pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        procs_of(cg.leaf_path()).contains(&pid),
        "moved after unshare"
    );
    release(w);
    assert_eq!(wait(pid), Ok(0));
    cg.remove().unwrap();
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 directory; tests/vm/run runs it"
)]
fn real_pids_limit_stops_forks() {
    let parent = test_parent();
    let cg = engine()
        .prepare(&Config {
            pids_max: Some(4),
            ..in_parent(&parent)
        })
        .unwrap()
        .cgroup
        .unwrap();
    let procs = cg.procs_fd().as_raw_fd();
    let pid = fork_child(|| {
        if !join(procs) {
            return 100;
        }
        let mut ok = 0;
        for _ in 0..10 {
            // Grandchildren sleep until killed with the cgroup.
            let p = testing::fork(|| {
                pause();
                0
            });
            if p.is_ok() {
                ok += 1;
            }
        }
        ok
    });
    let made = wait(pid).unwrap();
    assert_eq!(made, 3, "4 pids: the child and 3 grandchildren");
    let usage = cg.usage().unwrap();
    assert!(usage.pids_max_events.unwrap() > 0, "{usage:?}");
    cg.remove().unwrap();
}

fn spawn_daemon(procs: i32) -> libc::pid_t {
    let pid = fork_child(|| {
        if !join(procs) {
            return 1;
        }
        // Double fork with setsid; the daemon ignores SIGTERM (as does
        // every process on the way to it, so a SIGTERM aimed at the middle
        // one cannot stop the daemon from being born) and sleeps until
        // SIGKILL.
        let _ = raw::set_disposition(libc::SIGTERM, raw::Disposition::Ignore);
        let _ = testing::fork(|| {
            let _ = raw::setsid();
            let _ = testing::fork(|| {
                loop {
                    pause();
                }
            });
            0
        });
        0
    });
    assert_eq!(wait(pid), Ok(0));
    pid
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 directory; tests/vm/run runs it"
)]
fn real_kill_reaches_double_forked_daemons() {
    let parent = test_parent();
    for force_loop in [false, true] {
        let cg = engine()
            .prepare(&Config {
                pids_max: Some(32),
                ..in_parent(&parent)
            })
            .unwrap()
            .cgroup
            .unwrap();
        spawn_daemon(cg.procs_fd().as_raw_fd());
        let deadline = Instant::now() + Duration::from_secs(10);
        while procs_of(cg.leaf_path()).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let daemons = procs_of(cg.leaf_path());
        assert!(!daemons.is_empty(), "the daemon lives on in the cgroup");
        assert!(cg.is_populated().unwrap());
        // SIGTERM does nothing to it.
        for &d in &daemons {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(d),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(cg.is_populated().unwrap());
        handle::kill(&RealOs, &cg.at, force_loop).unwrap();
        cg.wait_empty(Duration::from_secs(10)).unwrap();
        assert!(!cg.is_populated().unwrap(), "killed (loop: {force_loop})");
        let dir = cg.path().to_owned();
        cg.remove().unwrap();
        assert!(!dir.exists());
    }
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 directory; tests/vm/run runs it"
)]
fn real_drop_kills_waits_and_removes() {
    let parent = test_parent();
    let cg = engine()
        .prepare(&Config {
            memory_max: Some(64 << 20),
            ..in_parent(&parent)
        })
        .unwrap()
        .cgroup
        .unwrap();
    spawn_daemon(cg.procs_fd().as_raw_fd());
    let dir = cg.path().to_owned();
    drop(cg);
    assert!(!dir.exists(), "drop removed a populated cgroup");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 directory; tests/vm/run runs it"
)]
fn real_200_cycles_leave_nothing_and_measure_cost() {
    let parent = test_parent();
    let e = engine();
    let config = Config {
        memory_max: Some(64 << 20),
        pids_max: Some(64),
        cpus: Some(0.5),
        ..in_parent(&parent)
    };
    let before = stockade_dirs(&parent).len();
    let (mut prep, mut down) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        let t = Instant::now();
        let cg = e.prepare(&config).unwrap().cgroup.unwrap();
        prep.push(t.elapsed());
        let t = Instant::now();
        drop(cg);
        down.push(t.elapsed());
    }
    eprintln!(
        "cgroup cost over 200 cycles (memory+pids+cpu limits): prepare median {:?}, teardown median {:?}",
        median(prep),
        median(down)
    );
    // Other tests may run concurrently in the same parent; ours are all gone.
    assert!(stockade_dirs(&parent).len() <= before + 8);
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 directory; tests/vm/run runs it"
)]
fn real_stale_cgroup_of_dead_creator_is_cleaned() {
    let parent = test_parent();
    // A creator that has died: a reaped child's pid and start time.
    let (r, w) = gate();
    let rfd = r.as_raw_fd();
    let dead = fork_child(|| {
        block_on(rfd);
        0
    });
    let start = RealOs.start_time(dead as u32).unwrap();
    release(w);
    assert_eq!(wait(dead), Ok(0));
    let stale_dir = parent.join(format!("stockade-{dead}-{start}-0"));
    std::fs::create_dir(&stale_dir).unwrap();
    std::fs::create_dir(stale_dir.join("sandbox")).unwrap();
    let procs = std::fs::OpenOptions::new()
        .write(true)
        .open(stale_dir.join("sandbox/cgroup.procs"))
        .unwrap();
    let leftover = spawn_daemon(procs.as_raw_fd());
    let _ = leftover;
    assert!(!procs_of(&stale_dir.join("sandbox")).is_empty());
    // A cgroup whose creator is alive (pid 1) stays.
    let init_start = RealOs.start_time(1).unwrap();
    let live_dir = parent.join(format!("stockade-1-{init_start}-999"));
    std::fs::create_dir(&live_dir).unwrap();

    let cg = engine().prepare(&in_parent(&parent)).unwrap();
    assert!(
        !stale_dir.exists(),
        "stale cgroup removed, its processes killed"
    );
    assert!(
        live_dir.exists(),
        "a live creator's cgroup is never removed"
    );
    std::fs::remove_dir(&live_dir).unwrap();
    drop(cg);
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 directory; tests/vm/run runs it"
)]
fn real_sandbox_cannot_reach_its_limits() {
    let parent = test_parent();
    let cg = engine()
        .prepare(&Config {
            memory_max: Some(64 << 20),
            ..in_parent(&parent)
        })
        .unwrap()
        .cgroup
        .unwrap();
    // The program's view: new user, mount and cgroup namespaces rooted at the
    // leaf, cgroup2 mounted. It tries to lift memory.max where it can see it.
    let flags = CLONE_INTO_CGROUP
        | (libc::CLONE_NEWCGROUP | libc::CLONE_NEWUSER | libc::CLONE_NEWNS) as u64;
    let attempt = |fd: i32| {
        clone3_child(flags, fd, || {
            // In the child's own mount namespace.
            if raw::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None).is_err() {
                return 10;
            }
            if raw::mount(Some(c"none"), c"/tmp", Some(c"cgroup2"), 0, None).is_err() {
                return 11;
            }
            let Ok(fd) = raw::openat(libc::AT_FDCWD, c"/tmp/memory.max", libc::O_WRONLY, 0) else {
                return 20; // no memory.max in view
            };
            if raw::write(fd.raw(), b"max") == Ok(3) {
                21
            } else {
                22
            }
        })
        .unwrap()
    };
    let pid = attempt(cg.dir_fd().as_raw_fd());
    assert_eq!(wait(pid), Ok(20), "the leaf shows no limit file");
    let limit = std::fs::read_to_string(cg.path().join("memory.max")).unwrap();
    assert_eq!(limit.trim(), "67108864");
    // For contrast, a program placed directly in the limited cgroup.
    let outer = cg._lock.as_fd().as_raw_fd();
    let pid = attempt(outer);
    let contrast = wait(pid);
    eprintln!(
        "placed in the limited cgroup itself, lifting memory.max gives {contrast:?} \
         (21 = lifted, 22 = refused, e.g. with nsdelegate)"
    );
    std::fs::write(cg.path().join("memory.max"), "67108864").ok();
    cg.remove().unwrap();
}

#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs the memory controller on cgroup v1 (a hybrid host); the VM's is on cgroup v2"
)]
fn host_memory_limit_on_hybrid_cgroups_is_unsupported() {
    let disc = match Discovery::load(&RealOs) {
        Ok(d) => d,
        Err(Error::NoCgroup2) => {
            let err = prepare(&Config {
                memory_max: Some(1 << 20),
                ..Config::default()
            })
            .unwrap_err();
            assert!(matches!(err, Error::NoCgroup2), "{err:?}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    if !disc.v1.contains(&Controller::Memory) {
        // A host without it: a loud skip, or a failure where every feature
        // is required.
        assert!(
            std::env::var_os("STOCKADE_REQUIRE_ALL_FEATURES").is_none_or(|v| v != "1"),
            "the memory controller is not on cgroup v1 here"
        );
        eprintln!("SKIPPED: the memory controller is not on cgroup v1 here");
        return;
    }
    let err = prepare(&Config {
        memory_max: Some(1 << 20),
        ..Config::default()
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                controller: Controller::Memory,
                reason: Unavailable::OnV1Hierarchy,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(
        msg.contains("memory cgroup controller") && msg.contains("to fix:"),
        "{msg}"
    );
}
