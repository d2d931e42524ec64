//! The process's reaper: a thread that reaps the sandboxes whose [`Child`]
//! was dropped before they were waited for, and returns what they held.
//!
//! Dropping an unfinished [`Child`] kills the sandbox (unless
//! `kill_on_drop` is off) and hands its supervisor to the reaper, as tokio
//! hands its dropped children to an orphan queue, rather than waiting on the
//! caller's thread. The reaper watches the supervisors' pidfds and a wake-up
//! `eventfd` with epoll; when a supervisor ends, it reaps it
//! (`waitid(P_PIDFD)`), which gives its stacks back to the pool; it closes
//! the report socket and the pidfd, and removes the sandbox's cgroup once it
//! is empty (waiting for that on the cgroup's `cgroup.events`, at most
//! [`FINISH_WAIT`](crate::cgroup::FINISH_WAIT), then leaving it to the next
//! spawn's clean-up). It never blocks on a single sandbox.
//!
//! A detached sandbox (`kill_on_drop(false)`) is handed over the same way
//! and reaped whenever it ends, so a process can start any number of them
//! over its life without leaking zombies, stacks or descriptors.
//!
//! # The bound
//!
//! At most [`MAX_DYING`] killed sandboxes wait for the reaper at once. A
//! caller that drops them faster than the kernel tears them down (each
//! still holds its processes, its descriptors and its stack mappings until
//! it is reaped) waits, past that, for its own sandbox to end as a drop did
//! before there was a reaper: the backlog, and what it holds that the
//! caller no longer sees, stays bounded. Detached sandboxes do not count:
//! they may run for as long as they like, and they hold no more than their
//! `Child` held.
//!
//! # Fork
//!
//! The reaper belongs to the process that started it
//! ([`PerProcess`](crate::sys::fork::PerProcess)). A child forked from it
//! has no reaper thread, and starts its own on first use, with a queue and
//! descriptors of its own; it never touches the parent's, nor waits for a
//! lock a thread of the parent may have held at the fork.
//!
//! [`Child`]: crate::Child

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rustix::buffer::spare_capacity;
use rustix::event::{EventfdFlags, Timespec, epoll, eventfd};

use crate::cgroup::PreparedCgroup;
use crate::sys::fork::PerProcess;
use crate::zone::launch::Supervisor;

/// How many killed sandboxes may wait for the reaper at once; see the
/// module docs. A thousand workers dropped together fit; a caller killing
/// sandboxes faster than the kernel ends them waits, past that, for its own.
/// Each pending one holds up to six descriptors (pidfd, report socket, the
/// cgroup's four) and six stack mappings until it is reaped, so the backlog
/// stays within a few thousand of each.
pub(crate) const MAX_DYING: usize = 1024;

/// How often entries that could not be registered with epoll are checked.
const POLL_SLICE: Duration = Duration::from_millis(100);

/// The epoll key of the wake-up descriptor.
const WAKE: u64 = 0;

/// A sandbox nobody waits for any more: what the reaper needs to reap it
/// and return its resources.
#[derive(Debug)]
pub(crate) struct Orphan {
    supervisor: Supervisor,
    /// Kept until the supervisor is reaped: a kill request sent just before
    /// the hand-off must reach the supervisor, which treats a closed
    /// channel as a detached caller.
    _report: Option<OwnedFd>,
    cgroup: Option<PreparedCgroup>,
    /// Whether it was killed (it counts against [`MAX_DYING`]).
    killed: bool,
    /// The locks on its layer directories, released once it is reaped
    /// (see `crate::layer`).
    layers: crate::layer::Held,
}

impl Orphan {
    /// A sandbox to reap: `killed` once a kill has been sent to it, else a
    /// detached one, which runs on (its report socket is closed at once,
    /// as nobody will ask it anything again).
    pub(crate) fn new(
        supervisor: Supervisor,
        report: OwnedFd,
        cgroup: Option<PreparedCgroup>,
        killed: bool,
    ) -> Orphan {
        // The reaper thread never touches a runtime's reactor.
        #[cfg(feature = "tokio")]
        let supervisor = {
            let mut supervisor = supervisor;
            supervisor.deregister();
            supervisor
        };
        Orphan {
            supervisor,
            _report: killed.then_some(report),
            cgroup,
            killed,
            layers: crate::layer::Held::default(),
        }
    }

    /// Keeps `layers` (the locks on the sandbox's layer directories) until
    /// the sandbox is reaped.
    pub(crate) fn holding(mut self, layers: crate::layer::Held) -> Orphan {
        self.layers = layers;
        self
    }

    /// What a drop does without the reaper: a killed sandbox is waited for
    /// here (its cgroup is then torn down by its `Drop`); a detached one is
    /// left running, with its stacks and cgroup, for the life of the
    /// process.
    pub(crate) fn settle_here(mut self) {
        if self.killed {
            while let Ok(None) = self.supervisor.wait(false) {}
        } else if let Some(cg) = self.cgroup.take() {
            cg.detach();
        }
    }
}

/// Hands `orphan` to this process's reaper, starting it if need be. Gives
/// it back when the reaper cannot take it: its descriptors cannot be made,
/// or (for a killed sandbox) [`MAX_DYING`] are pending or its thread cannot
/// be started; the caller then [settles](Orphan::settle_here) it itself.
#[must_use = "an orphan given back must be settled"]
pub(crate) fn adopt(orphan: Orphan) -> Option<Orphan> {
    static REAPER: PerProcess<Reaper> = PerProcess::new();
    let Ok(reaper) = REAPER.get_or_try_init(Reaper::new) else {
        return Some(orphan);
    };
    if orphan.killed && reaper.dying.fetch_add(1, Ordering::AcqRel) >= MAX_DYING {
        reaper.dying.fetch_sub(1, Ordering::AcqRel);
        return Some(orphan);
    }
    if !reaper.start() && orphan.killed {
        reaper.dying.fetch_sub(1, Ordering::AcqRel);
        return Some(orphan);
    }
    // A detached sandbox waits in the queue if the thread could not be
    // started, and so does a killed one if another thread's start, which it
    // counted on, failed: the next hand-off tries again.
    lock(&reaper.queue).push(orphan);
    let _ = rustix::io::write(&reaper.wake, &1u64.to_ne_bytes());
    None
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One process's reaper. Its lock is only ever taken by this process's
/// threads (see the module docs on fork).
struct Reaper {
    /// Hand-offs the thread has not taken yet.
    queue: Mutex<Vec<Orphan>>,
    /// Written after each hand-off; registered with `epoll` as [`WAKE`].
    wake: OwnedFd,
    epoll: OwnedFd,
    /// Whether the thread runs (or is being started).
    started: AtomicBool,
    /// Killed sandboxes handed over and not reaped yet.
    dying: AtomicUsize,
}

impl Reaper {
    fn new() -> rustix::io::Result<Reaper> {
        let wake = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        epoll::add(
            &epoll,
            &wake,
            epoll::EventData::new_u64(WAKE),
            epoll::EventFlags::IN,
        )?;
        Ok(Reaper {
            queue: Mutex::new(Vec::new()),
            wake,
            epoll,
            started: AtomicBool::new(false),
            dying: AtomicUsize::new(0),
        })
    }

    /// Starts the thread unless it runs; whether it runs.
    fn start(&'static self) -> bool {
        if self.started.load(Ordering::Acquire) || self.started.swap(true, Ordering::AcqRel) {
            return true;
        }
        let spawned = std::thread::Builder::new()
            .name("stockade-reaper".into())
            .spawn(move || {
                let _restart = Restart(self);
                self.run()
            });
        if spawned.is_err() {
            self.started.store(false, Ordering::Release);
            return false;
        }
        true
    }

    fn run(&'static self) {
        let mut watch = Watch::default();
        let mut events: Vec<epoll::Event> = Vec::with_capacity(64);
        loop {
            for orphan in std::mem::take(&mut *lock(&self.queue)) {
                watch.adopt(self, orphan);
            }
            let timeout = watch
                .timeout(Instant::now())
                .and_then(|d| Timespec::try_from(d).ok());
            events.clear();
            if let Err(e) = epoll::wait(&self.epoll, spare_capacity(&mut events), timeout.as_ref())
            {
                if e != rustix::io::Errno::INTR {
                    // Cannot happen with a valid epoll descriptor; do not
                    // spin should it ever.
                    std::thread::sleep(POLL_SLICE);
                }
            }
            for ev in &events {
                let data = ev.data;
                match data.u64() {
                    WAKE => {
                        let mut buf = [0u8; 8];
                        let _ = rustix::io::read(&self.wake, &mut buf);
                    }
                    key => watch.check(self, key),
                }
            }
            watch.sweep(self, Instant::now());
        }
    }
}

/// Should the thread ever end (a panic), the next hand-off starts another.
struct Restart(&'static Reaper);

impl Drop for Restart {
    fn drop(&mut self) {
        self.0.started.store(false, Ordering::Release);
    }
}

/// A cgroup whose sandbox was reaped, waiting to be empty.
#[derive(Debug)]
struct Draining {
    cgroup: PreparedCgroup,
    /// Its `cgroup.events`, registered with epoll (`None`: polled).
    events: Option<OwnedFd>,
    deadline: Instant,
}

/// What the reaper thread watches, by epoll key.
#[derive(Default)]
struct Watch {
    running: HashMap<u64, Orphan>,
    draining: HashMap<u64, Draining>,
    /// Running entries that could not be registered with epoll: checked
    /// every [`POLL_SLICE`].
    polled: Vec<u64>,
    next: u64,
}

impl Watch {
    fn key(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn adopt(&mut self, reaper: &Reaper, orphan: Orphan) {
        let key = self.key();
        let registered = epoll::add(
            &reaper.epoll,
            orphan.supervisor.pidfd(),
            epoll::EventData::new_u64(key),
            epoll::EventFlags::IN,
        );
        if registered.is_err() {
            self.polled.push(key);
        }
        self.running.insert(key, orphan);
        // It may have ended already; if so, the registration reports it
        // at once.
    }

    /// How long the thread may sleep: until the next cgroup deadline, or a
    /// poll slice while some entry is polled.
    fn timeout(&self, now: Instant) -> Option<Duration> {
        let mut t = self
            .draining
            .values()
            .map(|d| d.deadline.saturating_duration_since(now))
            .min();
        if !self.polled.is_empty() || self.draining.values().any(|d| d.events.is_none()) {
            t = Some(t.map_or(POLL_SLICE, |t| t.min(POLL_SLICE)));
        }
        t
    }

    /// An epoll event for `key`.
    fn check(&mut self, reaper: &Reaper, key: u64) {
        if self.running.contains_key(&key) {
            self.reap(reaper, key);
        } else if let Some(d) = self.draining.get_mut(&key) {
            if d.cgroup.try_remove(false).unwrap_or(false) {
                self.forget_draining(reaper, key);
            }
        }
    }

    /// Checks what epoll does not report: polled entries and deadlines.
    fn sweep(&mut self, reaper: &Reaper, now: Instant) {
        for key in std::mem::take(&mut self.polled) {
            self.polled.push(key);
            self.reap(reaper, key);
        }
        let due: Vec<u64> = self
            .draining
            .iter()
            .filter(|(_, d)| d.events.is_none() || d.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let Some(d) = self.draining.get_mut(&key) else {
                continue;
            };
            if d.cgroup.try_remove(false).unwrap_or(false) {
                self.forget_draining(reaper, key);
            } else if d.deadline <= now {
                if let Some(d) = self.forget_draining(reaper, key) {
                    d.cgroup.defer();
                }
            }
        }
    }

    /// Reaps the supervisor of `key` if it has ended, and returns what its
    /// sandbox held.
    fn reap(&mut self, reaper: &Reaper, key: u64) {
        let Some(orphan) = self.running.get_mut(&key) else {
            return;
        };
        // Reaping gives the stacks back (and only reaping may: until then
        // the supervisor may run on them).
        let ended = match orphan.supervisor.wait(true) {
            Ok(None) => return,
            Ok(Some(_)) => true,
            // Not this process's child (a copy inherited through fork):
            // its owner reaps it; only the copies here are dropped.
            Err(_) => false,
        };
        let Some(mut orphan) = self.running.remove(&key) else {
            return;
        };
        self.polled.retain(|k| *k != key);
        let _ = epoll::delete(&reaper.epoll, orphan.supervisor.pidfd());
        if orphan.killed {
            reaper.dying.fetch_sub(1, Ordering::AcqRel);
        }
        let cgroup = orphan.cgroup.take();
        // Its pidfd and report socket close here, before its cgroup goes.
        drop(orphan);
        let Some(mut cgroup) = cgroup else {
            return;
        };
        if !ended {
            cgroup.detach();
            return;
        }
        // The sandbox has ended: what is left in its cgroup goes too.
        if cgroup.try_remove(true).unwrap_or(false) {
            return;
        }
        // Wait for it to empty. Edge-triggered: a `cgroup.events`
        // descriptor stays readable after its first change until it is read
        // again, and each change is worth one look.
        let key = self.key();
        let events = cgroup.events().ok().filter(|fd| {
            epoll::add(
                &reaper.epoll,
                fd,
                epoll::EventData::new_u64(key),
                epoll::EventFlags::PRI | epoll::EventFlags::ET,
            )
            .is_ok()
        });
        self.draining.insert(
            key,
            Draining {
                cgroup,
                events,
                deadline: Instant::now() + crate::cgroup::FINISH_WAIT,
            },
        );
        // It may have emptied before the registration.
        self.check(reaper, key);
    }

    fn forget_draining(&mut self, reaper: &Reaper, key: u64) -> Option<Draining> {
        let d = self.draining.remove(&key)?;
        if let Some(fd) = &d.events {
            let _ = epoll::delete(&reaper.epoll, fd.as_fd());
        }
        Some(d)
    }
}
