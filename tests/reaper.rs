//! Sandboxes that nobody waits for: detached ones (`kill_on_drop(false)`)
//! and dropped ones are reaped by the process's reaper, which returns what
//! they held, and dropping a live `Child` does not wait for its sandbox.
//!
//! `STOCKADE_DETACHED_SPAWNS` sets the number of detached spawns (default:
//! enough to exhaust `vm.max_map_count` had each left its stack mappings
//! behind, at least 20,000; 300 under the VM runner, whose spawns are
//! about 20 times slower).
#![allow(clippy::multiple_unsafe_ops_per_block)]

mod common;

use std::collections::HashSet;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{
    as_each_identity, assert_no_children, chain, children_of_self, eventually, fd_list, sh,
};
use stockade::{Child, Command, Sandbox};

/// Lines of /proc/self/maps: this process's memory mappings.
fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

/// Raises the soft descriptor limit to `want` (or the hard limit).
fn raise_nofile(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills in the struct it is given.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur = lim.rlim_cur.max(want.min(lim.rlim_max));
    // SAFETY: setrlimit reads the struct it is given.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
}

/// Each spawn used to leave its supervisor unreaped, and with it a zombie
/// and the mappings of its stacks (six lines of /proc/self/maps), so that
/// after about `vm.max_map_count / 6` detached spawns every spawn of the
/// process failed with `MapStack` (ENOMEM). Spawning well past that from
/// four threads, every spawn succeeds, and once the programs have ended the
/// process has no child (no zombie), its mappings are back where they were
/// (give or take the stack pool and the reaper thread) and it has exactly
/// the descriptors it had.
#[test]
fn detached_sandboxes_are_reaped_and_give_back_what_they_held() {
    as_each_identity(|| {
        let max_map_count: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(65_530);
        let default = if cfg!(stockade_vm) {
            300
        } else {
            (max_map_count / 4).max(20_000)
        };
        let total: usize = std::env::var("STOCKADE_DETACHED_SPAWNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default);
        let mut sb = Sandbox::new();
        sb.kill_on_drop(false);
        // Warm up: the lifeline, the policy's template, the reaper thread
        // and the stack pool are made once and kept.
        for _ in 0..16 {
            drop(sb.spawn(&mut Command::new("/bin/true")).unwrap());
        }
        // Let them be reaped, and the denial observer let go of their
        // seccomp listeners (it does once their processes are gone), before
        // the snapshot (without failing here: the loop below shows what
        // happens when they are not).
        let listening = || {
            fd_list()
                .iter()
                .any(|(_, target)| target.to_string_lossy().contains("seccomp notify"))
        };
        let settle = Instant::now();
        while (!children_of_self().is_empty() || listening())
            && settle.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let fds = common::fd_kinds();
        let maps = mappings();
        let done = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    while done.fetch_add(1, Ordering::Relaxed) < total {
                        let child = sb
                            .spawn(&mut Command::new("/bin/true"))
                            .unwrap_or_else(|e| {
                                panic!(
                                    "spawn {} of {total} failed: {}",
                                    done.load(Ordering::Relaxed),
                                    chain(&e)
                                )
                            });
                        drop(child);
                    }
                });
            }
        });
        eprintln!(
            "measured: {total} detached spawns (vm.max_map_count {max_map_count}); \
             mappings {maps} before, {} right after",
            mappings()
        );
        // Both views: the children lists of this process's threads, and
        // waitid (a child being reparented from a thread that ended can
        // be missing from the first for a moment).
        eventually("every detached sandbox is reaped", || {
            children_of_self().is_empty() && common::no_children().is_ok()
        });
        assert_no_children();
        // The pool keeps up to eight stack sets of six mappings.
        let after = mappings();
        assert!(
            after <= maps + 64,
            "the mappings grew from {maps} to {after} lines"
        );
        // The reaper closes a supervisor's pidfd and report socket just
        // after reaping it: give it a moment to finish the last ones. The
        // policy's template may have been rebuilt meanwhile (the host's
        // mount table changed): its descriptors are then others of the
        // same kinds, so kinds are compared, not descriptors.
        let settle = Instant::now();
        while common::fd_kinds() != fds && settle.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            common::fd_kinds(),
            fds,
            "descriptors changed: {:?}",
            fd_list()
        );
    });
}

/// Forks a process that joins the pid namespace of `child`'s sandbox and
/// forks a member of it there: a process of the sandbox whose parent is
/// outside it. The sandbox's init, once killed, cannot finish exiting until
/// that member has been reaped by its parent, which waits for the returned
/// gate (a write or its closing) to do so. Returns the gate and the forked
/// process's pid once the member exists.
fn hold_open(child: &Child) -> (OwnedFd, libc::pid_t) {
    let ns = |kind: &str| {
        std::fs::File::open(format!("/proc/{}/ns/{kind}", child.id()))
            .unwrap_or_else(|e| panic!("open the sandbox's {kind} namespace: {e}"))
    };
    let (user, pid) = (ns("user"), ns("pid"));
    let (gate_rd, gate_wr) = nix::unistd::pipe().unwrap();
    let (ready_rd, ready_wr) = nix::unistd::pipe().unwrap();
    let mut keep = [
        gate_rd.as_raw_fd(),
        ready_wr.as_raw_fd(),
        user.as_raw_fd(),
        pid.as_raw_fd(),
    ];
    let [gate_fd, ready_fd, user_fd, pid_fd] = keep;
    keep.sort_unstable();
    // SAFETY: the child makes only async-signal-safe system calls and ends
    // with _exit.
    let forked = unsafe { libc::fork() };
    if forked == 0 {
        // SAFETY: system calls over descriptors of this (forked) process.
        unsafe {
            // Keep only the four descriptors above (the others would keep
            // the sandboxes' channels and pipes open).
            let mut from = 0;
            for fd in keep {
                if fd > from {
                    libc::syscall(libc::SYS_close_range, from as u32, (fd - 1) as u32, 0);
                }
                from = fd + 1;
            }
            libc::syscall(libc::SYS_close_range, from as u32, !0u32, 0);
            // Joining the sandbox's user namespace gives an unprivileged
            // caller (its owner) the right to join its pid namespace.
            if libc::setns(user_fd, libc::CLONE_NEWUSER) != 0
                || libc::setns(pid_fd, libc::CLONE_NEWPID) != 0
            {
                libc::_exit(11);
            }
            match libc::fork() {
                0 => loop {
                    libc::pause();
                },
                member if member > 0 => {
                    libc::write(ready_fd, [1u8].as_ptr().cast(), 1);
                    libc::close(ready_fd);
                    let mut b = 0u8;
                    libc::read(gate_fd, (&mut b as *mut u8).cast(), 1);
                    libc::waitpid(member, std::ptr::null_mut(), 0);
                    libc::_exit(0)
                }
                _ => libc::_exit(12),
            }
        }
    }
    assert!(forked > 0, "fork failed");
    drop(ready_wr);
    drop(gate_rd);
    let mut b = [0u8; 1];
    let n = nix::unistd::read(&ready_rd, &mut b).unwrap();
    assert_eq!(n, 1, "the process that joins the sandbox failed");
    (gate_wr, forked)
}

/// The supervisor of `child`'s sandbox: the program's parent.
fn supervisor_of(child: &Child) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
    let after = stat.rsplit(')').next().unwrap();
    after.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Dropping a live `Child` used to wait for its sandbox to end and reaped
/// it on the caller's thread (1,000 drops took seconds). Now the drop sends
/// the kill and hands the reaping over. The check does not time anything:
/// one of the 1,000 sandboxes cannot end (its init cannot finish exiting)
/// until the test lets it, after every drop has returned; a drop that
/// waited for it would not return until a watchdog lets the sandbox go, and
/// the test fails. Then every sandbox ends and is reaped.
#[test]
fn dropping_a_thousand_live_children_does_not_wait_for_them() {
    as_each_identity(|| {
        let count = if cfg!(stockade_vm) { 100 } else { 1000 };
        raise_nofile(16 * 1024);
        let sb = Sandbox::new();
        let mut children: Vec<Child> = (0..count)
            .map(|_| {
                sb.spawn(&mut sh("exec sleep 1000"))
                    .unwrap_or_else(|e| panic!("spawn failed: {}", chain(&e)))
            })
            .collect();
        let (gate, holder) = hold_open(&children[0]);
        let held = supervisor_of(&children[0]);
        // The programs, by pidfd: their pids may be reused once they end.
        let programs: Vec<(u32, OwnedFd)> = children
            .iter()
            .map(|c| {
                let pid = c.id();
                // SAFETY: pidfd_open takes a pid and flags and returns a new
                // descriptor, owned here.
                let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
                assert!(
                    fd >= 0,
                    "pidfd_open({pid}): {}",
                    std::io::Error::last_os_error()
                );
                // SAFETY: a new descriptor that nothing else owns.
                (pid, unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
            })
            .collect();

        let dropped = AtomicBool::new(false);
        let released_by_watchdog = AtomicBool::new(false);
        let gate = std::sync::Mutex::new(Some(gate));
        std::thread::scope(|s| {
            s.spawn(|| {
                // A drop that waits for the held sandbox would never return:
                // let it go after a while, and fail.
                let give_up = Instant::now() + Duration::from_secs(120);
                while !dropped.load(Ordering::Acquire) && Instant::now() < give_up {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if !dropped.load(Ordering::Acquire) {
                    released_by_watchdog.store(true, Ordering::Release);
                    drop(gate.lock().unwrap().take());
                }
            });
            // The held one first: every later drop comes after it.
            for child in children.drain(..) {
                drop(child);
            }
            dropped.store(true, Ordering::Release);
        });
        assert!(
            !released_by_watchdog.load(Ordering::Acquire),
            "dropping a Child waited for its sandbox to end"
        );
        // Every drop has returned, and the held sandbox's init is still
        // this process's child: the drops did not wait for it.
        let now: HashSet<u32> = children_of_self().into_iter().collect();
        assert!(
            now.contains(&held),
            "the held sandbox's init {held} is gone before it was let go"
        );
        // The others end and are reaped meanwhile.
        eventually("every other sandbox is reaped", || {
            children_of_self()
                .iter()
                .all(|&p| p == held || p == holder as u32)
        });
        drop(gate.lock().unwrap().take());
        let mut status = 0;
        // SAFETY: waits for the process forked by `hold_open`.
        assert_eq!(unsafe { libc::waitpid(holder, &mut status, 0) }, holder);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        eventually("the held sandbox is reaped", || {
            children_of_self().is_empty()
        });
        for (pid, fd) in programs {
            // A pidfd is readable once its process has ended.
            let mut p = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: polls one valid descriptor without waiting.
            let r = unsafe { libc::poll(&mut p, 1, 0) };
            assert!(
                r == 1 && p.revents & libc::POLLIN != 0,
                "program {pid} still runs"
            );
        }
        assert_no_children();
    });
}

/// A process forked after its parent's reaper started has no reaper thread:
/// its first drop starts one of its own, which reaps its own sandboxes (a
/// killed one and a detached one) and never touches the parent's queue,
/// whose lock a thread of the parent may have held at the fork. The parent
/// goes on reaping its own.
#[test]
fn a_forked_child_reaps_its_own_dropped_sandboxes() {
    as_each_identity(|| {
        let sb = Sandbox::new();
        let mut detached = Sandbox::new();
        detached.kill_on_drop(false);
        // This process's reaper runs, and has one to reap when the fork
        // happens.
        let live = sb.spawn(&mut sh("exec sleep 1000")).unwrap();
        drop(sb.spawn(&mut sh("exec sleep 1000")).unwrap());
        // SAFETY: the child runs this test's code (spawning sandboxes,
        // allocating), which the crate supports after fork, and ends with
        // _exit.
        let forked = unsafe { libc::fork() };
        if forked == 0 {
            let reaped = std::panic::catch_unwind(|| {
                let killed = sb.spawn(&mut sh("exec sleep 1000")).unwrap();
                let program = killed.id();
                drop(killed);
                drop(detached.spawn(&mut Command::new("/bin/true")).unwrap());
                eventually("the forked process's sandboxes are reaped", || {
                    children_of_self().is_empty()
                });
                assert!(!common::pid_alive(program));
            });
            // SAFETY: ends the forked process without running the
            // harness's exit path.
            unsafe { libc::_exit(if reaped.is_ok() { 0 } else { 1 }) }
        }
        assert!(forked > 0, "fork failed");
        let give_up = Instant::now() + Duration::from_secs(120);
        let mut status = 0;
        loop {
            // SAFETY: polls the process forked above.
            let r = unsafe { libc::waitpid(forked, &mut status, libc::WNOHANG) };
            if r == forked {
                break;
            }
            if Instant::now() > give_up {
                // SAFETY: kills and reaps the process forked above.
                unsafe {
                    libc::kill(forked, libc::SIGKILL);
                    libc::waitpid(forked, &mut status, 0);
                }
                panic!("the forked process hung");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the forked process failed ({status:#x}); its stderr says why"
        );
        let program = live.id();
        drop(live);
        eventually("this process's sandboxes are reaped", || {
            children_of_self().is_empty()
        });
        assert!(!common::pid_alive(program));
        assert_no_children();
    });
}
