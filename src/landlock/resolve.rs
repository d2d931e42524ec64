//! Resolution: a policy checked against a kernel's Landlock ABI, what it
//! requests, what the kernel can enforce, the compatibility levels, and the
//! report. Pure: testable for any ABI.

use super::access::{
    Abi, FS_FEATURES, Feature, FsAccess, NET_FEATURES, NetAccess, SCOPE_FEATURES, Scope,
};
use super::error::{Error, Group};
use super::policy::Policy;
use super::report::{Note, Report, Status, Unavailable};
use crate::compat::CompatLevel;

/// The kernel's Landlock status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KernelAbi {
    Available(Abi),
    Unavailable(Unavailable),
}

impl KernelAbi {
    /// The ABI version, `None` without Landlock.
    pub(crate) fn version(self) -> Option<Abi> {
        match self {
            Self::Available(v) => Some(v),
            Self::Unavailable(_) => None,
        }
    }
}

/// The running kernel's Landlock status (probed once per process).
pub(crate) fn kernel_abi() -> KernelAbi {
    use crate::probe::LandlockStatus;
    match crate::probe::landlock_abi() {
        LandlockStatus::Version(v) => match Abi::from_kernel(v) {
            Some(abi) => KernelAbi::Available(abi),
            None => KernelAbi::Unavailable(Unavailable::NotImplemented),
        },
        LandlockStatus::NotEnabled => KernelAbi::Unavailable(Unavailable::NotEnabled),
        LandlockStatus::NotImplemented => KernelAbi::Unavailable(Unavailable::NotImplemented),
    }
}

/// The kernel-independent outcome of checking a policy against an ABI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Resolved {
    pub(super) abi: KernelAbi,
    /// Requested rights per group.
    pub(super) req_fs: FsAccess,
    pub(super) req_net: NetAccess,
    pub(super) req_scopes: Scope,
    /// What goes to the kernel.
    pub(super) fs: FsAccess,
    pub(super) net: NetAccess,
    pub(super) scopes: Scope,
    pub(super) missing: Vec<Feature>,
    pub(super) notes: Vec<Note>,
}

impl Resolved {
    /// Whether anything goes to the kernel (false: nothing requested, or
    /// best-effort on a kernel without Landlock).
    pub(super) fn enforces(&self) -> bool {
        !(self.fs.is_empty() && self.net.is_empty() && self.scopes.is_empty())
    }
}

fn lowest_missing<T: Copy + PartialEq + bitflags::Flags>(
    missing: T,
    table: &[(T, Feature)],
    out: &mut Vec<Feature>,
) {
    for (flag, feature) in table {
        if missing.contains(*flag) && !out.contains(feature) {
            out.push(*feature);
        }
    }
}

/// Checks `policy` against a kernel with Landlock status `abi`, enforcing the
/// compatibility levels. Pure: testable for any ABI.
pub(super) fn resolve(policy: &Policy, abi: KernelAbi) -> Result<Resolved, Error> {
    let req_fs = policy.fs_requested();
    let req_net = policy.net_requested();
    let req_scopes = policy.scopes;
    let groups = [
        (Group::Filesystem, !req_fs.is_empty(), policy.fs_compat),
        (Group::Network, !req_net.is_empty(), policy.net_compat),
        (Group::Scopes, !req_scopes.is_empty(), policy.scope_compat),
    ];
    let version = match abi {
        KernelAbi::Available(v) => v,
        KernelAbi::Unavailable(reason) => {
            for (group, requested, level) in groups {
                if requested && level == CompatLevel::HardRequirement {
                    return Err(Error::Unavailable { group, reason });
                }
            }
            let mut missing = Vec::new();
            if !req_fs.is_empty() || !req_net.is_empty() || !req_scopes.is_empty() {
                missing.push(Feature::Filesystem);
            }
            lowest_missing(req_fs, FS_FEATURES, &mut missing);
            lowest_missing(req_net, NET_FEATURES, &mut missing);
            lowest_missing(req_scopes, SCOPE_FEATURES, &mut missing);
            missing.sort_by_key(|f| (f.abi(), *f));
            return Ok(Resolved {
                abi,
                req_fs,
                req_net,
                req_scopes,
                fs: FsAccess::empty(),
                net: NetAccess::empty(),
                scopes: Scope::empty(),
                missing,
                notes: Vec::new(),
            });
        }
    };

    let fs = req_fs & FsAccess::supported_by(version);
    let net = req_net & NetAccess::supported_by(version);
    let scopes = req_scopes & Scope::supported_by(version);
    let mut notes = Vec::new();
    // On ABI 1 reparenting is always denied: stricter than asked, so not a
    // missing right.
    let mut fs_missing = req_fs - fs;
    if fs_missing.contains(FsAccess::REFER) {
        fs_missing -= FsAccess::REFER;
        notes.push(Note::ReferAlwaysDenied);
    }
    let net_missing = req_net - net;
    let scopes_missing = req_scopes - scopes;

    let mut missing = Vec::new();
    let checks: [(Group, CompatLevel, Vec<Feature>); 3] = [
        (Group::Filesystem, policy.fs_compat, {
            let mut v = Vec::new();
            lowest_missing(fs_missing, FS_FEATURES, &mut v);
            v
        }),
        (Group::Network, policy.net_compat, {
            let mut v = Vec::new();
            lowest_missing(net_missing, NET_FEATURES, &mut v);
            v
        }),
        (Group::Scopes, policy.scope_compat, {
            let mut v = Vec::new();
            lowest_missing(scopes_missing, SCOPE_FEATURES, &mut v);
            v
        }),
    ];
    for (group, level, mut features) in checks {
        features.sort_by_key(|f| (f.abi(), *f));
        if let Some(first) = features.first() {
            if level == CompatLevel::HardRequirement {
                return Err(Error::Unsupported {
                    group,
                    feature: *first,
                    kernel_abi: version,
                });
            }
        }
        missing.extend(features);
    }
    missing.sort_by_key(|f| (f.abi(), *f));
    missing.dedup();
    Ok(Resolved {
        abi,
        req_fs,
        req_net,
        req_scopes,
        fs,
        net,
        scopes,
        missing,
        notes,
    })
}

fn group_status(requested: u64, effective: u64, enforced: bool) -> Status {
    if requested == 0 {
        Status::NotRequested
    } else if !enforced || effective & requested == 0 {
        Status::NotEnforced
    } else if effective & requested == requested {
        Status::FullyEnforced
    } else {
        Status::PartiallyEnforced
    }
}

/// The report on `resolved`: `enforced` says whether a ruleset is applied,
/// `notes` come after the resolution's own.
pub(super) fn build_report(resolved: &Resolved, enforced: bool, notes: Vec<Note>) -> Report {
    // For the report, REFER on ABI 1 counts as enforced (it is always denied).
    let mut eff_fs = resolved.fs;
    if resolved.abi.version().is_some() && resolved.req_fs.contains(FsAccess::REFER) {
        eff_fs |= FsAccess::REFER;
    }
    let fs = |mask: FsAccess| {
        group_status(
            (resolved.req_fs & mask).bits(),
            (eff_fs & mask).bits(),
            enforced,
        )
    };
    let net = |mask: NetAccess| {
        group_status(
            (resolved.req_net & mask).bits(),
            (resolved.net & mask).bits(),
            enforced,
        )
    };
    let scope = |mask: Scope| {
        group_status(
            (resolved.req_scopes & mask).bits(),
            (resolved.scopes & mask).bits(),
            enforced,
        )
    };
    let write_mask = FsAccess::WRITE - FsAccess::TRUNCATE - FsAccess::IOCTL_DEV;
    let mut merged = resolved.notes.clone();
    merged.extend(notes);
    let groups = [
        fs(FsAccess::READ),
        fs(write_mask),
        fs(FsAccess::EXECUTE),
        fs(FsAccess::TRUNCATE),
        fs(FsAccess::IOCTL_DEV),
        fs(FsAccess::RESOLVE_UNIX),
        net(NetAccess::BIND_TCP | NetAccess::BIND_UDP),
        net(NetAccess::CONNECT_TCP | NetAccess::CONNECT_SEND_UDP),
        scope(Scope::ABSTRACT_UNIX_SOCKET),
        scope(Scope::SIGNAL),
    ];
    let requested: Vec<_> = groups
        .iter()
        .filter(|s| **s != Status::NotRequested)
        .collect();
    let status = if requested.is_empty() {
        Status::NotRequested
    } else if requested.iter().all(|s| **s == Status::FullyEnforced) {
        Status::FullyEnforced
    } else if requested.iter().all(|s| **s == Status::NotEnforced) {
        Status::NotEnforced
    } else {
        Status::PartiallyEnforced
    };
    let [
        fs_read,
        fs_write,
        fs_exec,
        fs_truncate,
        fs_ioctl_dev,
        fs_resolve_unix,
        net_bind,
        net_connect,
        scope_abstract_unix_socket,
        scope_signal,
    ] = groups;
    Report {
        abi: resolved.abi.version(),
        unavailable: match resolved.abi {
            KernelAbi::Unavailable(reason) => Some(reason),
            KernelAbi::Available(_) => None,
        },
        status,
        fs_read,
        fs_write,
        fs_exec,
        fs_truncate,
        fs_ioctl_dev,
        fs_resolve_unix,
        net_bind,
        net_connect,
        scope_abstract_unix_socket,
        scope_signal,
        missing: resolved.missing.clone(),
        notes: merged,
    }
}
