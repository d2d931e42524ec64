//! Preparing a policy in the calling process, for
//! [`Confinement`](crate::Confinement) and [`LandlockPolicy::validate`]: the
//! same lowering and rule-building routine as a sandbox's, with rule paths
//! resolved in the caller's view now.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use super::access::LandlockAbi;
use super::error::LandlockError;
use super::lower::{View, lower};
use super::policy::LandlockPolicy;
use super::report::{LandlockNote, LandlockReport};
use super::resolve::{KernelAbi, kernel_abi};
use crate::zone::landlock::{Failed, build};

/// A policy turned into a kernel ruleset, ready to be applied by any number
/// of processes.
#[derive(Debug)]
pub(crate) struct PreparedLandlock {
    fd: Option<OwnedFd>,
    abi: Option<LandlockAbi>,
    report: LandlockReport,
}

impl PreparedLandlock {
    /// The ruleset to restrict a thread with; `None` when there is nothing
    /// to enforce (nothing requested, or best-effort on a kernel without
    /// Landlock).
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(|fd| fd.as_fd())
    }

    /// What the ruleset enforces.
    pub(crate) fn report(&self) -> &LandlockReport {
        &self.report
    }

    /// The kernel's Landlock ABI version (`None` without Landlock).
    pub(crate) fn abi(&self) -> Option<LandlockAbi> {
        self.abi
    }
}

/// Builds the kernel ruleset for `policy`, opening every rule path from the
/// caller's view. The result is meant to be kept and shared.
pub(crate) fn prepare(policy: &LandlockPolicy) -> Result<PreparedLandlock, LandlockError> {
    prepare_with(policy, kernel_abi())
}

pub(super) fn prepare_with(
    policy: &LandlockPolicy,
    abi: KernelAbi,
) -> Result<PreparedLandlock, LandlockError> {
    let lowered = lower(policy, abi, View::Caller)?;
    let mut report = lowered.report().clone();
    let Some(rules) = lowered.rules() else {
        return Ok(PreparedLandlock {
            fd: None,
            abi: abi.version(),
            report,
        });
    };
    let path = |i| {
        lowered
            .path_name(i)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    let mut skipped = Vec::new();
    let fd = build(rules, |i, errno| skipped.push((i, errno))).map_err(|(step, e)| {
        let source = e.into_io();
        match step {
            Failed::Create => LandlockError::CreateRuleset { source },
            Failed::Open(i) => LandlockError::RulePath {
                path: path(i),
                source,
            },
            Failed::AddPath(i) => LandlockError::AddPathRule {
                path: path(i),
                source,
            },
            Failed::AddPort(i) => LandlockError::AddPortRule {
                port: lowered.port_name(i).unwrap_or_default(),
                source,
            },
        }
    })?;
    report.notes.extend(
        skipped
            .into_iter()
            .map(|(i, errno)| LandlockNote::SkippedPath {
                path: path(i),
                errno: errno.0,
            }),
    );
    Ok(PreparedLandlock {
        fd: Some(fd.into_owned()),
        abi: abi.version(),
        report,
    })
}

impl LandlockPolicy {
    /// Prepares the policy against the running kernel (opening every rule path
    /// and creating the ruleset) and returns what would be enforced, without
    /// applying anything.
    pub fn validate(&self) -> Result<LandlockReport, LandlockError> {
        prepare(self).map(|prepared| prepared.report)
    }
}
