//! Preparing a policy in the calling process, for
//! [`Confinement`](crate::confine::Confinement) and [`Policy::validate`]: the
//! same lowering and rule-building routine as a sandbox's, with rule paths
//! resolved in the caller's view now.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use super::access::Abi;
use super::error::Error;
use super::lower::{View, lower};
use super::policy::Policy;
use super::report::{Note, Report};
use super::resolve::{KernelAbi, kernel_abi};
use crate::zone::landlock::{Failed, build};

/// A policy turned into a kernel ruleset, ready to be applied by any number
/// of processes.
#[derive(Debug)]
pub(crate) struct PreparedLandlock {
    fd: Option<OwnedFd>,
    abi: Option<Abi>,
    report: Report,
}

impl PreparedLandlock {
    /// The ruleset to restrict a thread with; `None` when there is nothing
    /// to enforce (nothing requested, or best-effort on a kernel without
    /// Landlock).
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(|fd| fd.as_fd())
    }

    /// What the ruleset enforces.
    pub(crate) fn report(&self) -> &Report {
        &self.report
    }

    /// The kernel's Landlock ABI version (`None` without Landlock).
    pub(crate) fn abi(&self) -> Option<Abi> {
        self.abi
    }
}

/// Builds the kernel ruleset for `policy`, opening every rule path from the
/// caller's view. The result is meant to be kept and shared.
pub(crate) fn prepare(policy: &Policy) -> Result<PreparedLandlock, Error> {
    prepare_with(policy, kernel_abi())
}

pub(super) fn prepare_with(policy: &Policy, abi: KernelAbi) -> Result<PreparedLandlock, Error> {
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
            Failed::Create => Error::CreateRuleset { source },
            Failed::Open(i) => Error::RulePath {
                path: path(i),
                source,
            },
            Failed::AddPath(i) => Error::AddPathRule {
                path: path(i),
                source,
            },
            Failed::AddPort(i) => Error::AddPortRule {
                port: lowered.port_name(i).unwrap_or_default(),
                source,
            },
        }
    })?;
    report
        .notes
        .extend(skipped.into_iter().map(|(i, errno)| Note::SkippedPath {
            path: path(i),
            errno: errno.0,
        }));
    Ok(PreparedLandlock {
        fd: Some(fd.into_owned()),
        abi: abi.version(),
        report,
    })
}

impl Policy {
    /// Prepares the policy against the running kernel (opening every rule path
    /// and creating the ruleset) and returns what would be enforced, without
    /// applying anything.
    pub fn validate(&self) -> Result<Report, Error> {
        prepare(self).map(|prepared| prepared.report)
    }
}
