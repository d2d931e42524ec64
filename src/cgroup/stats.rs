//! Usage accounting read from a sandbox's cgroup after (or while) it runs.

use std::path::{Path, PathBuf};

use super::error::{Error, IoOp};
use super::os::Os;

/// Counters from `memory.events` (Linux 4.13; `oom_kill` 4.13,
/// `oom_group_kill` 5.17). Hierarchical: they include the leaf cgroup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct MemoryEvents {
    /// Times usage went over `memory.low` protection.
    pub low: u64,
    /// Times usage went over `memory.high` and was throttled.
    pub high: u64,
    /// Times usage hit `memory.max` (each time reclaim was forced).
    pub max: u64,
    /// Times the cgroup ran out of memory and the OOM killer was invoked.
    pub oom: u64,
    /// Processes killed by the OOM killer.
    pub oom_kill: u64,
    /// Times the whole group was killed because of `memory.oom.group`
    /// (None before Linux 5.17).
    pub oom_group_kill: Option<u64>,
}

/// Counters from `cpu.stat` (always present on cgroup v2, Linux 4.15).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct CpuStat {
    /// Total CPU time, microseconds.
    pub usage_usec: u64,
    /// User CPU time, microseconds.
    pub user_usec: u64,
    /// System CPU time, microseconds.
    pub system_usec: u64,
    /// Periods in which `cpu.max` throttled the cgroup (only with the cpu
    /// controller enabled).
    pub nr_throttled: Option<u64>,
    /// Time throttled by `cpu.max`, microseconds (only with the cpu controller).
    pub throttled_usec: Option<u64>,
}

/// Resource usage of a sandbox's cgroup. Fields are None when the controller
/// was not enabled for the sandbox or the kernel lacks the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Usage {
    /// Highest memory use in bytes (`memory.peak`, Linux 5.19). None on older
    /// kernels: use the child's rusage `ru_maxrss` instead.
    pub memory_peak: Option<u64>,
    /// Memory use now, bytes (`memory.current`).
    pub memory_current: Option<u64>,
    /// `memory.events` counters.
    pub memory_events: Option<MemoryEvents>,
    /// `pids.events` `max`: forks that failed because of `pids.max`.
    pub pids_max_events: Option<u64>,
    /// `pids.current`: processes and threads now.
    pub pids_current: Option<u64>,
    /// `cpu.stat` counters.
    pub cpu: Option<CpuStat>,
}

impl Usage {
    /// True when the kernel's OOM killer killed a process of the sandbox.
    pub fn oom_killed(&self) -> bool {
        self.memory_events.is_some_and(|e| e.oom_kill > 0)
    }
}

/// Looks up `key` in a flat-keyed file (`key value` per line).
pub(crate) fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut it = line.split_whitespace();
        (it.next() == Some(key)).then(|| it.next()?.parse().ok())?
    })
}

pub(crate) fn parse_memory_events(text: &str) -> MemoryEvents {
    let get = |k| keyed(text, k).unwrap_or(0);
    MemoryEvents {
        low: get("low"),
        high: get("high"),
        max: get("max"),
        oom: get("oom"),
        oom_kill: get("oom_kill"),
        oom_group_kill: keyed(text, "oom_group_kill"),
    }
}

pub(crate) fn parse_cpu_stat(text: &str) -> Option<CpuStat> {
    Some(CpuStat {
        usage_usec: keyed(text, "usage_usec")?,
        user_usec: keyed(text, "user_usec").unwrap_or(0),
        system_usec: keyed(text, "system_usec").unwrap_or(0),
        nr_throttled: keyed(text, "nr_throttled"),
        throttled_usec: keyed(text, "throttled_usec"),
    })
}

/// Reads an optional file: Ok(None) when it does not exist.
fn read_opt(os: &dyn Os, dir: &Path, name: &str) -> Result<Option<String>, Error> {
    let path: PathBuf = dir.join(name);
    match os.read(&path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(Error::io(IoOp::Read, path, e)),
    }
}

/// Reads every usage file of the cgroup at `dir`.
pub(crate) fn read_usage(os: &dyn Os, dir: &Path) -> Result<Usage, Error> {
    let num = |name| -> Result<Option<u64>, Error> {
        Ok(read_opt(os, dir, name)?.and_then(|s| s.trim().parse().ok()))
    };
    Ok(Usage {
        memory_peak: num("memory.peak")?,
        memory_current: num("memory.current")?,
        memory_events: read_opt(os, dir, "memory.events")?.map(|t| parse_memory_events(&t)),
        pids_max_events: read_opt(os, dir, "pids.events")?.and_then(|t| keyed(&t, "max")),
        pids_current: num("pids.current")?,
        cpu: read_opt(os, dir, "cpu.stat")?.and_then(|t| parse_cpu_stat(&t)),
    })
}
