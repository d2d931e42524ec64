//! cgroup v2 placement, limits, usage accounting and cleanup for sandboxes.
//!
//! Each sandbox that asks for a limit (or for placement) gets its own cgroup:
//!
//! ```text
//! <parent>/stockade-<pid>-<start>-<n>/     limits: memory.max, pids.max, cpu.max, ...
//! <parent>/stockade-<pid>-<start>-<n>/sandbox/   the program (CLONE_INTO_CGROUP)
//! ```
//!
//! `<parent>` is [`Config::parent`] or, by default, the calling process's
//! own cgroup (the `0::` line of /proc/self/cgroup, under the cgroup2 mount
//! found in /proc/self/mountinfo). The needed controllers are enabled in the
//! parent's `cgroup.subtree_control` when the parent allows it (it was
//! delegated to the caller and, unless it is the root, holds no processes);
//! stockade never moves the caller's processes and never writes to cgroups
//! other than the parent and its own.
//!
//! The program runs one level below the limits so that, when it is the root
//! of its own cgroup namespace, the cgroup it can see holds no limit it could
//! raise.
//!
//! Everything that touches the system goes through `os::Os`, so the logic is
//! tested against a fake cgroupfs in a temporary directory.

mod config;
mod discover;
mod error;
mod handle;
mod kinds;
mod limits;
mod os;
mod report;
mod stale;
mod stats;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod kernel_tests;
#[cfg(test)]
mod tests;

pub use config::{Config, IoMaxRule};
pub use error::{Error, IoOp, Unavailable};
pub use kinds::{Controller, Field, LimitKind, Problem};
pub use report::{AppliedLimit, Report, SkippedLimit};
pub use stats::{CpuStat, MemoryEvents, Usage};

pub(crate) use handle::{FINISH_WAIT, PreparedCgroup};

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};

use crate::CompatLevel;
use crate::forksafe::{Once, lock_briefly};
use discover::{Discovery, common_ancestor};
use handle::Location;
use limits::PlannedWrite;
use os::{Os, RealOs};
use stale::{LEAF, Name};

/// The outcome of [`prepare_reported`].
#[derive(Debug)]
#[allow(dead_code)] // Parts are used only by the tests.
pub(crate) struct Preparation {
    /// The cgroup, when one was requested and could be created.
    pub(crate) cgroup: Option<PreparedCgroup>,
    /// What took effect; None when nothing was requested.
    pub(crate) report: Option<Report>,
    /// In best-effort mode, the error that prevented creating any cgroup.
    pub(crate) swallowed: Option<Error>,
}

/// Creates the sandbox's cgroup and writes its limits (parent side, before
/// clone). Ok(None) when the config requests no cgroup, or in best-effort mode
/// when none could be created (use [`prepare_reported`] to learn why).
#[allow(dead_code)] // Parts are used only by the tests.
pub(crate) fn prepare(config: &Config) -> Result<Option<PreparedCgroup>, Error> {
    prepare_reported(config).map(|p| p.cgroup)
}

/// Like [`prepare`], and also returns the report when no cgroup could be made.
#[allow(dead_code)] // Parts are used only by the tests.
pub(crate) fn prepare_reported(config: &Config) -> Result<Preparation, Error> {
    // Made once; a thread that finds another making it (or a process
    // forked meanwhile) uses one of its own rather than wait.
    static ENGINE: Once<Engine> = Once::new();
    ENGINE
        .get_or_init(|| Engine::new(Arc::new(RealOs)))
        .prepare(config)
}

/// Checks a configuration's values (the CPU count against this machine's).
pub(crate) fn validate(config: &Config) -> Result<(), Error> {
    config.validate(RealOs.online_cpus())
}

/// Makes sandbox cgroup names unique within the process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Takes one of the engine's locks, each held only to read or update its
/// cache: `None` when it stays held (see [`lock_briefly`]), and the caller
/// does without the cache.
fn lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    lock_briefly(m)
}

/// Cgroups whose removal failed (processes slow to die), retried later.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    list: Mutex<Vec<Location>>,
    pending: AtomicBool,
}

impl Deferred {
    fn push(&self, at: Location) {
        // (A list held by a thread that this process, forked from another,
        // does not have loses the cgroup: it is removed as stale once this
        // process has ended.)
        if let Some(mut list) = lock(&self.list) {
            list.push(at);
            self.pending.store(true, Ordering::Release);
        }
    }

    fn retry(&self, os: &dyn Os) {
        if !self.pending.swap(false, Ordering::AcqRel) {
            return;
        }
        let Some(list) = lock(&self.list).map(|mut l| std::mem::take(&mut *l)) else {
            self.pending.store(true, Ordering::Release);
            return;
        };
        for at in list {
            if handle::teardown(os, &at, Duration::ZERO).is_err() {
                self.push(at);
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Cached {
    Found(Arc<Discovery>),
    NoCgroup2,
}

/// What has been established about one parent cgroup.
#[derive(Debug, Default)]
struct ParentState {
    /// Controllers known to be enabled in its `cgroup.subtree_control`.
    enabled: Vec<Controller>,
}

/// The cgroup machinery with its caches; one per process (tests make their own).
#[derive(Debug)]
pub(crate) struct Engine {
    os: Arc<dyn Os>,
    discovery: Mutex<Option<Cached>>,
    parents: Mutex<HashMap<PathBuf, ParentState>>,
    identity: Mutex<Option<(u32, u64)>>,
    deferred: Arc<Deferred>,
    /// Use the freeze-and-kill loop even where cgroup.kill exists (tests).
    force_kill_loop: bool,
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

fn contains(list: &str, c: Controller) -> bool {
    list.split_whitespace().any(|w| w == c.name())
}

impl Engine {
    pub(crate) fn new(os: Arc<dyn Os>) -> Engine {
        Engine {
            os,
            discovery: Mutex::new(None),
            parents: Mutex::new(HashMap::new()),
            identity: Mutex::new(None),
            deferred: Arc::new(Deferred::default()),
            force_kill_loop: false,
        }
    }

    #[cfg(test)]
    pub(crate) fn with_kill_loop(mut self) -> Engine {
        self.force_kill_loop = true;
        self
    }

    /// (pid, start time) of this process; recomputed after a fork.
    fn identity(&self) -> (u32, u64) {
        let pid = self.os.pid();
        if let Some(Some((p, start))) = lock(&self.identity).map(|id| *id) {
            if p == pid {
                return (p, start);
            }
        }
        let start = self.os.start_time(pid).unwrap_or(0);
        if let Some(mut id) = lock(&self.identity) {
            *id = Some((pid, start));
        }
        (pid, start)
    }

    fn discovery(&self) -> Result<Arc<Discovery>, Error> {
        match lock(&self.discovery).and_then(|c| c.clone()) {
            Some(Cached::Found(d)) => return Ok(d),
            Some(Cached::NoCgroup2) => return Err(Error::NoCgroup2),
            None => {}
        }
        // Loaded without the lock (threads that ask at once each load).
        let store = |c| {
            if let Some(mut cache) = lock(&self.discovery) {
                *cache = Some(c);
            }
        };
        match Discovery::load(&*self.os) {
            Ok(d) => {
                let d = Arc::new(d);
                store(Cached::Found(d.clone()));
                Ok(d)
            }
            Err(Error::NoCgroup2) => {
                store(Cached::NoCgroup2);
                Err(Error::NoCgroup2)
            }
            Err(e) => Err(e),
        }
    }

    /// Forgets everything learned about the system (after a surprise such as
    /// the caller's cgroup disappearing).
    fn invalidate(&self) {
        if let Some(mut d) = lock(&self.discovery) {
            *d = None;
        }
        if let Some(mut p) = lock(&self.parents) {
            p.clear();
        }
    }

    pub(crate) fn prepare(&self, config: &Config) -> Result<Preparation, Error> {
        if !config.requests_cgroup() {
            return Ok(Preparation {
                cgroup: None,
                report: None,
                swallowed: None,
            });
        }
        config.validate(self.os.online_cpus())?;
        self.deferred.retry(&*self.os);
        let best_effort = config.compat == CompatLevel::BestEffort;
        let result = match self.setup(config, best_effort) {
            Err(Retry) => {
                self.invalidate();
                self.setup(config, best_effort)
            }
            other => other,
        };
        match result {
            Ok(cg) => Ok(Preparation {
                report: Some(cg.report.clone()),
                cgroup: Some(cg),
                swallowed: None,
            }),
            Err(e) => {
                let e = match e {
                    Retry => Error::io(
                        IoOp::Mkdir,
                        config.parent.clone().unwrap_or_default(),
                        io::Error::from_raw_os_error(libc::ENOENT),
                    ),
                    Fail(e) => e,
                };
                if best_effort {
                    let reason = e.as_unavailable();
                    let skipped = limits::plan(config)
                        .into_iter()
                        .map(|w| SkippedLimit {
                            kind: w.kind,
                            reason,
                            requested: w.explicit,
                        })
                        .collect();
                    Ok(Preparation {
                        cgroup: None,
                        report: Some(Report {
                            skipped,
                            ..Report::default()
                        }),
                        swallowed: Some(e),
                    })
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Checks a parent the first time this process uses it: a cgroup2
    /// directory, writable, processes can be moved into it; then removes the
    /// stale cgroups found there.
    fn check_parent(&self, disc: &Discovery, parent: &Path) -> Result<(), Error> {
        if lock(&self.parents).is_some_and(|p| p.contains_key(parent)) {
            return Ok(());
        }
        match self.os.is_cgroup2(parent) {
            Ok(true) => {}
            Ok(false) => {
                return Err(Error::NotCgroup2 {
                    path: parent.to_owned(),
                });
            }
            Err(e) => return Err(Error::io(IoOp::Open, parent, e)),
        }
        let Some(hierarchy) = disc.hierarchy_path(parent) else {
            return Err(Error::NotCgroup2 {
                path: parent.to_owned(),
            });
        };
        // Moving a process from our cgroup into the new one needs write access
        // to cgroup.procs of the two cgroups' common ancestor.
        let common = common_ancestor(&disc.own, &hierarchy);
        if let Some(dir) = disc.dir_of(&common) {
            if !self.os.writable(&dir.join("cgroup.procs")) {
                return Err(Error::CannotMigrate {
                    parent: parent.to_owned(),
                    own: disc.own_dir.clone(),
                    common_ancestor: dir,
                });
            }
        }
        if !self.os.writable(parent) {
            return Err(Error::NotDelegated {
                parent: parent.to_owned(),
                source: io::Error::from_raw_os_error(libc::EACCES),
            });
        }
        stale::clean(
            &*self.os,
            disc,
            parent,
            self.identity(),
            self.force_kill_loop,
        );
        if let Some(mut p) = lock(&self.parents) {
            p.insert(parent.to_owned(), ParentState::default());
        }
        Ok(())
    }

    fn unavailable(
        &self,
        disc: &Discovery,
        parent: &Path,
        c: Controller,
    ) -> Result<Unavailable, Error> {
        if disc.v1.contains(&c) {
            return Ok(Unavailable::OnV1Hierarchy);
        }
        // Only the real root has no cgroup.type; there, a missing controller
        // is missing from the kernel.
        let root = &disc.mount_point;
        if self.os.read(&root.join("cgroup.type")).is_err() {
            let path = root.join("cgroup.controllers");
            let text = self
                .os
                .read(&path)
                .map_err(|e| Error::io(IoOp::Read, path, e))?;
            if !contains(&text, c) {
                return Ok(Unavailable::NotInKernel);
            }
        }
        let _ = parent;
        Ok(Unavailable::NotEnabledInParent)
    }

    /// Makes sure controller `c` is enabled for the parent's children.
    fn ensure_controller(
        &self,
        disc: &Discovery,
        parent: &Path,
        c: Controller,
    ) -> Result<(), Error> {
        let known = |s: &Self| {
            lock(&s.parents)
                .is_some_and(|ps| ps.get(parent).is_some_and(|p| p.enabled.contains(&c)))
        };
        if known(self) {
            return Ok(());
        }
        let mark = |s: &Self| {
            if let Some(mut ps) = lock(&s.parents) {
                ps.entry(parent.to_owned()).or_default().enabled.push(c);
            }
        };
        let unsupported = |reason| Error::Unsupported {
            controller: c,
            parent: parent.to_owned(),
            reason,
        };
        let sc_path = parent.join("cgroup.subtree_control");
        let sc = self
            .os
            .read(&sc_path)
            .map_err(|e| Error::io(IoOp::Read, &sc_path, e))?;
        // The kernel refuses a domain controller (memory, io) in a non-root
        // cgroup that holds processes (EBUSY), but accepts a threaded one
        // (cpu, cpuset, pids): the parent then becomes a thread root, every
        // new child of it is "domain invalid", and clone3 fails to place the
        // program there with EOPNOTSUPP. So never enable anything in, nor
        // use a controller someone else enabled in, a parent that holds
        // processes (the caller's own cgroup always does, unless it is the
        // root, where the rule does not apply).
        let refuse_if_busy = |s: &Self| -> Result<(), Error> {
            let is_root = s.os.read(&parent.join("cgroup.type")).is_err();
            if !is_root && s.has_processes(parent)? {
                return Err(Error::NoInternalProcesses {
                    parent: parent.to_owned(),
                    controller: c,
                });
            }
            Ok(())
        };
        if contains(&sc, c) {
            refuse_if_busy(self)?;
            mark(self);
            return Ok(());
        }
        let avail_path = parent.join("cgroup.controllers");
        let avail = self
            .os
            .read(&avail_path)
            .map_err(|e| Error::io(IoOp::Read, &avail_path, e))?;
        if !contains(&avail, c) {
            return Err(unsupported(self.unavailable(disc, parent, c)?));
        }
        refuse_if_busy(self)?;
        match self.os.write(&sc_path, &format!("+{}", c.name())) {
            Ok(()) => {
                mark(self);
                Ok(())
            }
            Err(e) => Err(match errno(&e) {
                libc::EACCES | libc::EPERM | libc::EROFS => unsupported(Unavailable::NotDelegated),
                libc::EBUSY => Error::NoInternalProcesses {
                    parent: parent.to_owned(),
                    controller: c,
                },
                libc::ENOENT | libc::EINVAL | libc::EOPNOTSUPP => {
                    unsupported(Unavailable::NotEnabledInParent)
                }
                _ => Error::io(IoOp::Write, sc_path, e),
            }),
        }
    }

    /// Whether cgroup `dir` itself (not its descendants) holds a process.
    fn has_processes(&self, dir: &Path) -> Result<bool, Error> {
        let path = dir.join("cgroup.procs");
        let text = self
            .os
            .read(&path)
            .map_err(|e| Error::io(IoOp::Read, path, e))?;
        Ok(!text.trim().is_empty())
    }

    /// Creates and locks `<parent>/stockade-<pid>-<start>-<n>`.
    fn create_dir(
        &self,
        parent: &Path,
        own_parent: bool,
    ) -> Result<(PathBuf, Flock<std::os::fd::OwnedFd>), SetupError> {
        let (pid, start) = self.identity();
        for _ in 0..64 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = parent.join(Name { pid, start, n }.format());
            if let Err(e) = self.os.mkdir(&dir) {
                return Err(match errno(&e) {
                    libc::EEXIST => continue,
                    libc::EACCES | libc::EPERM | libc::EROFS => Fail(Error::NotDelegated {
                        parent: parent.to_owned(),
                        source: e,
                    }),
                    libc::EAGAIN | libc::ENOSPC => Fail(Error::TooManyCgroups {
                        parent: parent.to_owned(),
                        source: e,
                    }),
                    libc::ENOENT if own_parent => Retry,
                    _ => Fail(Error::io(IoOp::Mkdir, dir, e)),
                });
            }
            let fd = match self.os.open_dir(&dir) {
                Ok(fd) => fd,
                Err(e) => {
                    let _ = self.os.rmdir(&dir);
                    return Err(Fail(Error::io(IoOp::Open, dir, e)));
                }
            };
            match Flock::lock(fd, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => return Ok((dir, lock)),
                // A cleaner from another namespace took it for stale: leave
                // it to them and use another name.
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => continue,
                Err((_, e)) => {
                    let _ = self.os.rmdir(&dir);
                    return Err(Fail(Error::io(IoOp::Open, dir, e.into())));
                }
            }
        }
        Err(Fail(Error::io(
            IoOp::Mkdir,
            parent,
            io::Error::from_raw_os_error(libc::EEXIST),
        )))
    }

    fn setup(&self, config: &Config, best_effort: bool) -> Result<PreparedCgroup, SetupError> {
        let disc = self.discovery()?;
        let own_parent = config.parent.is_none();
        let parent = config
            .parent
            .clone()
            .unwrap_or_else(|| disc.own_dir.clone());
        // A controller bound to a cgroup v1 hierarchy cannot appear on v2:
        // say so before looking at permissions.
        let wanted = config.controllers();
        let offered = self
            .os
            .read(&parent.join("cgroup.controllers"))
            .unwrap_or_default();
        let on_v1: Vec<Controller> = wanted
            .iter()
            .copied()
            .filter(|&c| disc.v1.contains(&c) && !contains(&offered, c))
            .collect();
        // Hard requirement: any of them; best effort: only when nothing
        // requested could apply.
        let give_up = if best_effort {
            !config.placement && !on_v1.is_empty() && on_v1.len() == wanted.len()
        } else {
            !on_v1.is_empty()
        };
        if let (true, Some(&controller)) = (give_up, on_v1.first()) {
            return Err(Fail(Error::Unsupported {
                controller,
                parent,
                reason: Unavailable::OnV1Hierarchy,
            }));
        }
        if let Err(e) = self.check_parent(&disc, &parent) {
            let gone = matches!(&e, Error::Io { source, .. } if errno(source) == libc::ENOENT);
            return Err(if gone && own_parent { Retry } else { Fail(e) });
        }
        let mut missing: Vec<(Controller, Unavailable)> = Vec::new();
        for c in config.controllers() {
            match self.ensure_controller(&disc, &parent, c) {
                Ok(()) => {}
                Err(e) if best_effort => missing.push((c, e.as_unavailable())),
                Err(e) => return Err(Fail(e)),
            }
        }
        if let Some(&(controller, reason)) = missing.first() {
            if !config.placement && missing.len() == config.controllers().len() {
                // Nothing requested could apply: make no cgroup at all.
                return Err(Fail(Error::Unsupported {
                    controller,
                    parent,
                    reason,
                }));
            }
        }
        let (dir, dir_lock) = self.create_dir(&parent, own_parent)?;
        let at = Location {
            hierarchy: disc.hierarchy_path(&dir).unwrap_or_default(),
            dir,
        };
        match self.fill(config, best_effort, &at, &missing) {
            Ok((leaf, leaf_fd, procs_fd, report)) => Ok(PreparedCgroup {
                os: self.os.clone(),
                kill_fd: self.os.open_file(&at.dir.join("cgroup.kill"), true).ok(),
                at,
                leaf,
                _lock: dir_lock,
                leaf_fd,
                procs_fd,
                report,
                deferred: Some(self.deferred.clone()),
                done: false,
            }),
            Err(e) => {
                // Nothing runs there yet: just remove what was made.
                let _ = handle::remove_tree(&*self.os, &at.dir);
                drop(dir_lock);
                if matches!(e, Retry) {
                    if let Some(mut ps) = lock(&self.parents) {
                        ps.remove(&parent);
                    }
                }
                Err(e)
            }
        }
    }

    /// Writes the limits, makes the leaf and opens the placement fds.
    #[allow(clippy::type_complexity)]
    fn fill(
        &self,
        config: &Config,
        best_effort: bool,
        at: &Location,
        missing: &[(Controller, Unavailable)],
    ) -> Result<(PathBuf, std::os::fd::OwnedFd, std::os::fd::OwnedFd, Report), SetupError> {
        let os = &*self.os;
        let controllers_path = at.dir.join("cgroup.controllers");
        let controllers_text = os
            .read(&controllers_path)
            .map_err(|e| Fail(Error::io(IoOp::Read, &controllers_path, e)))?;
        let mut report = Report {
            path: Some(at.dir.clone()),
            controllers: Controller::ALL
                .into_iter()
                .filter(|&c| contains(&controllers_text, c))
                .collect(),
            ..Report::default()
        };
        for PlannedWrite {
            kind,
            value,
            explicit,
        } in limits::plan(config)
        {
            let c = kind.controller();
            if let Some(&(_, reason)) = missing.iter().find(|(m, _)| *m == c) {
                report.skipped.push(SkippedLimit {
                    kind,
                    reason,
                    requested: explicit,
                });
                continue;
            }
            let path = at.dir.join(kind.file());
            let Err(e) = os.write(&path, &value) else {
                report.applied.push(AppliedLimit { kind, value });
                continue;
            };
            if errno(&e) == libc::ENOENT && explicit && !contains(&controllers_text, c) {
                // The parent's subtree_control changed since we looked.
                return Err(Retry);
            }
            let skip = |report: &mut Report, reason| {
                report.skipped.push(SkippedLimit {
                    kind,
                    reason,
                    requested: explicit,
                })
            };
            match (errno(&e), explicit) {
                (libc::ENOENT, false) => skip(&mut report, Unavailable::InterfaceMissing),
                (libc::ENOENT, true) if best_effort => {
                    skip(&mut report, Unavailable::InterfaceMissing)
                }
                (libc::ENOENT, true) => {
                    return Err(Fail(Error::InterfaceMissing {
                        limit: kind,
                        path: at.dir.clone(),
                    }));
                }
                (_, false) => skip(&mut report, Unavailable::InterfaceMissing),
                (_, true) => {
                    return Err(Fail(Error::LimitRejected {
                        limit: kind,
                        path: at.dir.clone(),
                        source: e,
                    }));
                }
            }
        }
        let leaf = at.dir.join(LEAF);
        os.mkdir(&leaf)
            .map_err(|e| Fail(Error::io(IoOp::Mkdir, &leaf, e)))?;
        let leaf_fd = os
            .open_dir(&leaf)
            .map_err(|e| Fail(Error::io(IoOp::Open, &leaf, e)))?;
        let procs = leaf.join("cgroup.procs");
        let procs_fd = os
            .open_file(&procs, true)
            .map_err(|e| Fail(Error::io(IoOp::Open, &procs, e)))?;
        Ok((leaf, leaf_fd, procs_fd, report))
    }
}

/// Internal outcome of one setup attempt.
#[derive(Debug)]
enum SetupError {
    /// The system changed under a cache: forget and try once more.
    Retry,
    Fail(Error),
}
use SetupError::{Fail, Retry};

impl From<Error> for SetupError {
    fn from(e: Error) -> Self {
        Fail(e)
    }
}
