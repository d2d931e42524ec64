//! Naming sandbox cgroups so they can be recognised, and removing the ones
//! left behind by a process that died.
//!
//! A sandbox cgroup is named `stockade-<pid>-<start>-<n>`: the creating
//! process's pid, its start time (clock ticks after boot, field 22 of
//! `/proc/<pid>/stat`, which tells a reused pid apart) and a per-process counter.
//! Its creator holds an exclusive `flock` on the directory for as long as the
//! cgroup is in use. A cgroup is stale when its creator is gone (no process
//! with that pid and start time) and nobody holds the lock. The lock covers
//! what the name cannot: creators in another pid or time namespace, and the
//! moment between `mkdir` and `flock` (a creator that finds its fresh
//! directory locked by a cleaner abandons it and picks another name).

use std::path::Path;
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};

use super::discover::Discovery;
use super::handle::{self, Location};
use super::os::Os;

/// Prefix of every sandbox cgroup's name.
pub(crate) const PREFIX: &str = "stockade-";
/// Name of the leaf cgroup the program runs in.
pub(crate) const LEAF: &str = "sandbox";
/// How long cleanup waits for a stale cgroup's processes to die.
const STALE_WAIT: Duration = Duration::from_secs(1);

/// The parts of a sandbox cgroup's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Name {
    pub(crate) pid: u32,
    pub(crate) start: u64,
    pub(crate) n: u64,
}

impl Name {
    pub(crate) fn format(&self) -> String {
        format!("{PREFIX}{}-{}-{}", self.pid, self.start, self.n)
    }

    pub(crate) fn parse(name: &str) -> Option<Name> {
        let mut it = name.strip_prefix(PREFIX)?.split('-');
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let mut next = || it.next().filter(|s| digits(s));
        let name = Name {
            pid: next()?.parse().ok()?,
            start: next()?.parse().ok()?,
            n: next()?.parse().ok()?,
        };
        it.next().is_none().then_some(name)
    }
}

/// Whether the creator named in `name` is alive, as far as this process can see.
pub(crate) fn creator_alive(os: &dyn Os, name: &Name) -> bool {
    os.start_time(name.pid) == Some(name.start)
}

/// Removes the stale sandbox cgroups directly under `parent`; returns how many.
/// Never touches a directory whose name is not a sandbox name, whose creator
/// is alive, or that someone holds locked.
pub(crate) fn clean(
    os: &dyn Os,
    disc: &Discovery,
    parent: &Path,
    me: (u32, u64),
    force_kill_loop: bool,
) -> usize {
    let Ok(entries) = os.subdirs(parent) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries {
        let Some(name) = entry.to_str().and_then(Name::parse) else {
            continue;
        };
        if (name.pid, name.start) == me || creator_alive(os, &name) {
            continue;
        }
        let dir = parent.join(&entry);
        let Ok(fd) = os.open_dir(&dir) else {
            continue;
        };
        let Ok(lock) = Flock::lock(fd, FlockArg::LockExclusiveNonblock) else {
            continue;
        };
        let at = Location {
            hierarchy: disc.hierarchy_path(&dir).unwrap_or_default(),
            dir,
        };
        let killed = handle::kill(os, &at, force_kill_loop).is_ok();
        if killed
            && handle::wait_empty(os, &at.dir, STALE_WAIT).is_ok()
            && handle::remove_tree(os, &at.dir).is_ok()
        {
            removed += 1;
        }
        drop(lock);
    }
    removed
}
