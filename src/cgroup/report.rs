//! What took effect.

use std::path::PathBuf;

use super::error::Unavailable;
use super::kinds::{Controller, LimitKind};

/// A limit written to the sandbox's cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct AppliedLimit {
    /// Which limit.
    pub kind: LimitKind,
    /// The exact value written to the control file (e.g. `50000 100000`).
    pub value: String,
}

/// A limit left out in best-effort mode (or a default that could not apply).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SkippedLimit {
    /// Which limit.
    pub kind: LimitKind,
    /// Why it was not applied.
    pub reason: Unavailable,
    /// Whether the caller asked for it (false for the implicit defaults
    /// `memory.swap.max 0` and `memory.oom.group 1`).
    pub requested: bool,
}

/// What the cgroup part of a sandbox did: where it ran and which limits hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Report {
    /// The sandbox's cgroup directory (holding the limits); None when no
    /// cgroup could be created (best-effort mode).
    pub path: Option<PathBuf>,
    /// Controllers available in the sandbox's cgroup (its `cgroup.controllers`).
    pub controllers: Vec<Controller>,
    /// Limits in force, with the value written.
    pub applied: Vec<AppliedLimit>,
    /// Limits not in force, with the reason.
    pub skipped: Vec<SkippedLimit>,
}

impl Report {
    /// True when every limit the caller asked for is in force.
    pub fn fully_applied(&self) -> bool {
        self.path.is_some() && self.skipped.iter().all(|s| !s.requested)
    }
}
