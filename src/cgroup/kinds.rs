//! The cgroup vocabulary shared by the configuration, its errors and the
//! report: controllers, limit kinds, configuration fields and what can be
//! wrong with a value.

use std::fmt;

#[cfg(doc)]
use super::Config;

/// A cgroup v2 controller that stockade can enable for a sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Controller {
    /// `memory`: memory.max, memory.high, memory.swap.max, memory.oom.group
    /// and the memory accounting (Linux 4.5).
    Memory,
    /// `pids`: pids.max (Linux 4.5).
    Pids,
    /// `cpu`: cpu.max and cpu.weight (Linux 4.15).
    Cpu,
    /// `io`: io.max (Linux 4.5).
    Io,
    /// `cpuset`: cpuset.cpus and cpuset.mems (Linux 5.0).
    Cpuset,
}

impl Controller {
    /// Every controller stockade knows, in the order it enables them.
    pub const ALL: [Controller; 5] = [
        Controller::Cpuset,
        Controller::Cpu,
        Controller::Io,
        Controller::Memory,
        Controller::Pids,
    ];

    /// The controller's name as the kernel spells it in `cgroup.controllers`.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
            Controller::Io => "io",
            Controller::Cpuset => "cpuset",
        }
    }

    /// The kernel version that introduced the controller on cgroup v2.
    pub fn since(self) -> &'static str {
        match self {
            Controller::Memory | Controller::Pids | Controller::Io => "4.5",
            Controller::Cpu => "4.15",
            Controller::Cpuset => "5.0",
        }
    }

    /// Parses a cgroup v2 controller name.
    pub(crate) fn from_v2_name(name: &str) -> Option<Controller> {
        Controller::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Parses a cgroup v1 subsystem name (`blkio` is v1's name for `io`).
    pub(crate) fn from_v1_name(name: &str) -> Option<Controller> {
        match name {
            "blkio" => Some(Controller::Io),
            "cpuacct" => None,
            other => Controller::from_v2_name(other),
        }
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What is wrong with a configuration value.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Problem {
    /// The value is zero where at least one unit is needed.
    Zero,
    /// The value is negative, NaN or infinite.
    NotFinitePositive,
    /// The value is below the kernel's minimum.
    BelowMinimum {
        /// The smallest accepted value.
        minimum: f64,
    },
    /// The value is above the allowed maximum.
    AboveMaximum {
        /// The largest accepted value.
        maximum: f64,
    },
    /// More CPUs than the machine has online.
    ExceedsOnlineCpus {
        /// Number of online CPUs.
        online: usize,
    },
    /// `memory_high` is above `memory_max`, so it would never take effect.
    HighAboveMax,
    /// `swap_max` was given without `memory_max`.
    SwapWithoutMemoryMax,
    /// A CPU or memory-node list is not of the form `0-3,5`.
    BadList,
    /// An io rule sets none of rbps, wbps, riops, wiops.
    EmptyIoRule,
    /// Two io rules name the same device.
    DuplicateDevice,
    /// The path is not absolute.
    NotAbsolute,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Zero => f.write_str("must be greater than zero"),
            Problem::NotFinitePositive => f.write_str("must be a finite number greater than zero"),
            Problem::BelowMinimum { minimum } => write!(f, "must be at least {minimum}"),
            Problem::AboveMaximum { maximum } => write!(f, "must be at most {maximum}"),
            Problem::ExceedsOnlineCpus { online } => {
                write!(f, "exceeds the {online} online CPUs of this machine")
            }
            Problem::HighAboveMax => f.write_str("is above memory_max and would never apply"),
            Problem::SwapWithoutMemoryMax => f.write_str("needs memory_max to be set"),
            Problem::BadList => f.write_str("must be a list like `0-3,5`"),
            Problem::EmptyIoRule => f.write_str("sets none of rbps, wbps, riops, wiops"),
            Problem::DuplicateDevice => f.write_str("names the same device twice"),
            Problem::NotAbsolute => f.write_str("must be an absolute path"),
        }
    }
}

/// One kind of limit, named after the control file it is written to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum LimitKind {
    /// `memory.max` (Linux 4.5).
    MemoryMax,
    /// `memory.high` (Linux 4.5).
    MemoryHigh,
    /// `memory.swap.max` (Linux 4.5).
    MemorySwapMax,
    /// `memory.oom.group` (Linux 4.19).
    MemoryOomGroup,
    /// `pids.max` (Linux 4.5).
    PidsMax,
    /// `cpu.max` (Linux 4.15).
    CpuMax,
    /// `cpu.weight` (Linux 4.15).
    CpuWeight,
    /// `io.max` (Linux 4.5).
    IoMax,
    /// `cpuset.cpus` (Linux 5.0).
    CpusetCpus,
    /// `cpuset.mems` (Linux 5.0).
    CpusetMems,
}

impl LimitKind {
    /// The control file the limit is written to.
    pub fn file(self) -> &'static str {
        match self {
            LimitKind::MemoryMax => "memory.max",
            LimitKind::MemoryHigh => "memory.high",
            LimitKind::MemorySwapMax => "memory.swap.max",
            LimitKind::MemoryOomGroup => "memory.oom.group",
            LimitKind::PidsMax => "pids.max",
            LimitKind::CpuMax => "cpu.max",
            LimitKind::CpuWeight => "cpu.weight",
            LimitKind::IoMax => "io.max",
            LimitKind::CpusetCpus => "cpuset.cpus",
            LimitKind::CpusetMems => "cpuset.mems",
        }
    }

    /// The controller that provides the file.
    pub fn controller(self) -> Controller {
        match self {
            LimitKind::MemoryMax
            | LimitKind::MemoryHigh
            | LimitKind::MemorySwapMax
            | LimitKind::MemoryOomGroup => Controller::Memory,
            LimitKind::PidsMax => Controller::Pids,
            LimitKind::CpuMax | LimitKind::CpuWeight => Controller::Cpu,
            LimitKind::IoMax => Controller::Io,
            LimitKind::CpusetCpus | LimitKind::CpusetMems => Controller::Cpuset,
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file())
    }
}

/// A field of [`Config`], named in validation errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// [`Config::memory_max`].
    MemoryMax,
    /// [`Config::memory_high`].
    MemoryHigh,
    /// [`Config::swap_max`].
    SwapMax,
    /// [`Config::pids_max`].
    PidsMax,
    /// [`Config::cpus`].
    Cpus,
    /// [`Config::cpu_weight`].
    CpuWeight,
    /// [`Config::io_max`], with the rule's index.
    IoMax(usize),
    /// [`Config::cpuset_cpus`].
    CpusetCpus,
    /// [`Config::cpuset_mems`].
    CpusetMems,
    /// [`Config::parent`].
    Parent,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::MemoryMax => f.write_str("memory_max"),
            Field::MemoryHigh => f.write_str("memory_high"),
            Field::SwapMax => f.write_str("swap_max"),
            Field::PidsMax => f.write_str("pids_max"),
            Field::Cpus => f.write_str("cpus"),
            Field::CpuWeight => f.write_str("cpu_weight"),
            Field::IoMax(i) => write!(f, "io_max[{i}]"),
            Field::CpusetCpus => f.write_str("cpuset_cpus"),
            Field::CpusetMems => f.write_str("cpuset_mems"),
            Field::Parent => f.write_str("parent"),
        }
    }
}
