//! The plain-data cgroup policy of a sandbox and its validation.

use std::path::PathBuf;

use super::error::Error;
use super::kinds::{Controller, Field, Problem};
use crate::CompatLevel;

/// The kernel's minimum `cpu.max` quota, in microseconds.
const MIN_QUOTA_USEC: u64 = 1000;
/// The `cpu.max` period stockade uses, in microseconds (the kernel default).
pub(crate) const CPU_PERIOD_USEC: u64 = 100_000;

/// One `io.max` rule: throughput limits for one block device.
///
/// The device is named by its major and minor numbers, as in `/proc/partitions`
/// or `ls -l /dev/<disk>`; the kernel accepts only whole disks, not partitions.
/// Unset fields stay unlimited. Needs the `io` controller (Linux 4.5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct IoMaxRule {
    /// The device's major number.
    pub major: u32,
    /// The device's minor number.
    pub minor: u32,
    /// Read bytes per second.
    pub rbps: Option<u64>,
    /// Written bytes per second.
    pub wbps: Option<u64>,
    /// Read operations per second.
    pub riops: Option<u64>,
    /// Write operations per second.
    pub wiops: Option<u64>,
}

impl IoMaxRule {
    /// A rule for device `major:minor` with no limit set yet.
    pub fn new(major: u32, minor: u32) -> IoMaxRule {
        IoMaxRule {
            major,
            minor,
            ..IoMaxRule::default()
        }
    }

    /// The line written to `io.max`, e.g. `8:0 rbps=1048576 wiops=max`.
    pub(crate) fn line(&self) -> String {
        let mut line = format!("{}:{}", self.major, self.minor);
        for (key, value) in [
            ("rbps", self.rbps),
            ("wbps", self.wbps),
            ("riops", self.riops),
            ("wiops", self.wiops),
        ] {
            if let Some(v) = value {
                line.push_str(&format!(" {key}={v}"));
            }
        }
        line
    }
}

/// The cgroup v2 policy of a sandbox: resource limits and where its cgroup lives.
///
/// Plain data: every field is public and validated when the sandbox is
/// spawned. With no limit set and `placement` false, no cgroup is created.
///
/// Each sandbox gets a fresh cgroup named `stockade-<pid>-<start time>-<n>` under
/// `parent` (default: the calling process's own cgroup). The limits are
/// written there and the program runs in a leaf cgroup `sandbox` below it, so
/// that a program that can see its cgroup (it is the root of its cgroup
/// namespace) cannot raise its own limits.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[non_exhaustive]
pub struct Config {
    /// `memory.max` in bytes: above it the kernel reclaims, then OOM-kills
    /// (`memory` controller, Linux 4.5).
    pub memory_max: Option<u64>,
    /// `memory.high` in bytes: above it the kernel throttles and reclaims
    /// (`memory` controller, Linux 4.5).
    pub memory_high: Option<u64>,
    /// `memory.swap.max` in bytes (`u64::MAX` = unlimited). `None` means 0
    /// (no swap) when `memory_max` is set, so the memory limit cannot be
    /// escaped through swap (Linux 4.5, needs swap accounting).
    pub swap_max: Option<u64>,
    /// `memory.oom.group`: when the OOM killer picks a process of the sandbox,
    /// kill all of them (Linux 4.19). Default true; applied best-effort
    /// whenever a memory limit is set.
    pub oom_group: bool,
    /// `pids.max`: the most processes and threads at once (`pids` controller,
    /// Linux 4.5).
    pub pids_max: Option<u64>,
    /// `cpu.max` as a number of CPUs: 0.5 is half of one CPU, written as
    /// `50000 100000` (`cpu` controller, Linux 4.15).
    pub cpus: Option<f64>,
    /// `cpu.weight`, 1..=10000, default 100 (`cpu` controller, Linux 4.15).
    pub cpu_weight: Option<u32>,
    /// `io.max` rules (`io` controller, Linux 4.5).
    pub io_max: Vec<IoMaxRule>,
    /// `cpuset.cpus`, a CPU list like `0-3,5` (`cpuset` controller, Linux 5.0).
    pub cpuset_cpus: Option<String>,
    /// `cpuset.mems`, a memory-node list like `0` (`cpuset` controller, Linux 5.0).
    pub cpuset_mems: Option<String>,
    /// The cgroup under which the sandbox's cgroups are created: an absolute
    /// path to a cgroup v2 directory delegated to the caller. `None` uses the
    /// caller's own cgroup.
    pub parent: Option<PathBuf>,
    /// Create a cgroup even when no limit is set (for usage accounting and to
    /// kill every process of the sandbox at the end).
    pub placement: bool,
    /// What happens when a limit cannot be applied: an error
    /// ([`CompatLevel::HardRequirement`], the default) or a skipped entry in the
    /// report ([`CompatLevel::BestEffort`]).
    pub compat: CompatLevel,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            memory_max: None,
            memory_high: None,
            swap_max: None,
            oom_group: true,
            pids_max: None,
            cpus: None,
            cpu_weight: None,
            io_max: Vec::new(),
            cpuset_cpus: None,
            cpuset_mems: None,
            parent: None,
            placement: false,
            compat: CompatLevel::HardRequirement,
        }
    }
}

fn invalid(field: Field, problem: Problem) -> Error {
    Error::Invalid { field, problem }
}

/// Checks a kernel CPU/memory-node list such as `0-3,5,7-8`.
pub(crate) fn is_valid_list(list: &str) -> bool {
    let list = list.trim();
    !list.is_empty()
        && list.split(',').all(|part| {
            let mut ends = part.splitn(2, '-');
            let lo = ends.next().and_then(|s| s.parse::<u32>().ok());
            match (lo, ends.next()) {
                (Some(_), None) => true,
                (Some(lo), Some(hi)) => hi.parse::<u32>().is_ok_and(|hi| hi >= lo),
                _ => false,
            }
        })
}

impl Config {
    /// True when a limit is set or `placement` asks for a cgroup anyway.
    pub fn requests_cgroup(&self) -> bool {
        self.placement || self.parent.is_some() || self.has_limits()
    }

    /// True when any explicit limit is set.
    pub fn has_limits(&self) -> bool {
        self.memory_max.is_some()
            || self.memory_high.is_some()
            || self.swap_max.is_some()
            || self.pids_max.is_some()
            || self.cpus.is_some()
            || self.cpu_weight.is_some()
            || !self.io_max.is_empty()
            || self.cpuset_cpus.is_some()
            || self.cpuset_mems.is_some()
    }

    /// The controllers the explicit limits need, in enabling order.
    pub fn controllers(&self) -> Vec<Controller> {
        let needs = |c: Controller| match c {
            Controller::Memory => {
                self.memory_max.is_some() || self.memory_high.is_some() || self.swap_max.is_some()
            }
            Controller::Pids => self.pids_max.is_some(),
            Controller::Cpu => self.cpus.is_some() || self.cpu_weight.is_some(),
            Controller::Io => !self.io_max.is_empty(),
            Controller::Cpuset => self.cpuset_cpus.is_some() || self.cpuset_mems.is_some(),
        };
        Controller::ALL.into_iter().filter(|&c| needs(c)).collect()
    }

    /// Checks every value without touching the system, except `cpus`, which is
    /// compared with `online_cpus`.
    pub(crate) fn validate(&self, online_cpus: usize) -> Result<(), Error> {
        for (field, value) in [
            (Field::MemoryMax, self.memory_max),
            (Field::MemoryHigh, self.memory_high),
            (Field::PidsMax, self.pids_max),
        ] {
            if value == Some(0) {
                return Err(invalid(field, Problem::Zero));
            }
        }
        if let (Some(high), Some(max)) = (self.memory_high, self.memory_max) {
            if high > max {
                return Err(invalid(Field::MemoryHigh, Problem::HighAboveMax));
            }
        }
        if self.swap_max.is_some() && self.memory_max.is_none() {
            return Err(invalid(Field::SwapMax, Problem::SwapWithoutMemoryMax));
        }
        if let Some(cpus) = self.cpus {
            if !cpus.is_finite() || cpus <= 0.0 {
                return Err(invalid(Field::Cpus, Problem::NotFinitePositive));
            }
            let minimum = MIN_QUOTA_USEC as f64 / CPU_PERIOD_USEC as f64;
            if cpus < minimum {
                return Err(invalid(Field::Cpus, Problem::BelowMinimum { minimum }));
            }
            if cpus > online_cpus as f64 {
                return Err(invalid(
                    Field::Cpus,
                    Problem::ExceedsOnlineCpus {
                        online: online_cpus,
                    },
                ));
            }
        }
        if let Some(weight) = self.cpu_weight {
            if weight == 0 {
                return Err(invalid(Field::CpuWeight, Problem::Zero));
            }
            if weight > 10_000 {
                return Err(invalid(
                    Field::CpuWeight,
                    Problem::AboveMaximum { maximum: 10_000.0 },
                ));
            }
        }
        for (i, rule) in self.io_max.iter().enumerate() {
            let values = [rule.rbps, rule.wbps, rule.riops, rule.wiops];
            if values.iter().all(Option::is_none) {
                return Err(invalid(Field::IoMax(i), Problem::EmptyIoRule));
            }
            if values.contains(&Some(0)) {
                return Err(invalid(Field::IoMax(i), Problem::Zero));
            }
            let same = |r: &IoMaxRule| r.major == rule.major && r.minor == rule.minor;
            if self.io_max[..i].iter().any(same) {
                return Err(invalid(Field::IoMax(i), Problem::DuplicateDevice));
            }
        }
        for (field, list) in [
            (Field::CpusetCpus, &self.cpuset_cpus),
            (Field::CpusetMems, &self.cpuset_mems),
        ] {
            if list.as_deref().is_some_and(|l| !is_valid_list(l)) {
                return Err(invalid(field, Problem::BadList));
            }
        }
        if self.parent.as_deref().is_some_and(|p| !p.is_absolute()) {
            return Err(invalid(Field::Parent, Problem::NotAbsolute));
        }
        Ok(())
    }
}
