//! Turning a [`Config`] into the exact control-file writes.

use super::config::{CPU_PERIOD_USEC, Config};
use super::kinds::LimitKind;

/// One write to a control file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PlannedWrite {
    pub(crate) kind: LimitKind,
    pub(crate) value: String,
    /// False for defaults the caller did not ask for (swap 0, oom.group 1):
    /// those are always best-effort and reported when skipped.
    pub(crate) explicit: bool,
}

/// `cpu.max` for a fractional CPU count: `"<quota> <period>"` in microseconds.
pub(crate) fn cpu_max_value(cpus: f64) -> String {
    let quota = (cpus * CPU_PERIOD_USEC as f64).round() as u64;
    format!("{quota} {CPU_PERIOD_USEC}")
}

fn bytes_or_max(v: u64) -> String {
    if v == u64::MAX {
        "max".to_owned()
    } else {
        v.to_string()
    }
}

/// The writes for a validated config, in the order they are applied.
pub(crate) fn plan(config: &Config) -> Vec<PlannedWrite> {
    let mut out = Vec::new();
    let mut push = |kind, value: String, explicit| {
        out.push(PlannedWrite {
            kind,
            value,
            explicit,
        })
    };
    if let Some(mems) = &config.cpuset_mems {
        push(LimitKind::CpusetMems, mems.trim().to_owned(), true);
    }
    if let Some(cpus) = &config.cpuset_cpus {
        push(LimitKind::CpusetCpus, cpus.trim().to_owned(), true);
    }
    if let Some(high) = config.memory_high {
        push(LimitKind::MemoryHigh, bytes_or_max(high), true);
    }
    if let Some(max) = config.memory_max {
        push(LimitKind::MemoryMax, bytes_or_max(max), true);
        match config.swap_max {
            Some(swap) => push(LimitKind::MemorySwapMax, bytes_or_max(swap), true),
            None => push(LimitKind::MemorySwapMax, "0".to_owned(), false),
        }
    }
    if config.oom_group && (config.memory_max.is_some() || config.memory_high.is_some()) {
        push(LimitKind::MemoryOomGroup, "1".to_owned(), false);
    }
    if let Some(pids) = config.pids_max {
        push(LimitKind::PidsMax, bytes_or_max(pids), true);
    }
    if let Some(cpus) = config.cpus {
        push(LimitKind::CpuMax, cpu_max_value(cpus), true);
    }
    if let Some(weight) = config.cpu_weight {
        push(LimitKind::CpuWeight, weight.to_string(), true);
    }
    for rule in &config.io_max {
        push(LimitKind::IoMax, rule.line(), true);
    }
    out
}
