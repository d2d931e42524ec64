//! The `[landlock]` table (feature `landlock`): rule paths, rights,
//! scopes and compatibility levels.
//!
//! Rights and scopes are written by name (`"read_exec"`, `"bind_tcp"`,
//! `"signal"`): the bit sets they stand for are `bitflags` types, which
//! cannot carry per-flag serde names, so the names are listed here with
//! the bits they stand for.

use serde::{Deserialize, Serialize};

use super::error::Error;
use super::values::{AbsPath, abs, changed};
use crate::compat::CompatLevel;
use crate::config::Config;
use crate::landlock::{self, FsAccess, NetAccess};
use crate::sandbox::Sandbox;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct LandlockFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    mirror_fs: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fs_compat: Option<CompatLevel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    net_compat: Option<CompatLevel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope_compat: Option<CompatLevel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    handle_fs: Option<Vec<FsRight>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    handle_net: Option<Vec<NetRight>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<ScopeName>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fs: Option<Vec<FsRuleFile>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    net: Option<Vec<NetRuleFile>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FsRuleFile {
    path: AbsPath,
    access: Vec<FsRight>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    optional: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetRuleFile {
    port: u16,
    access: Vec<NetRight>,
}

/// Filesystem rights: bundles first (preferred when writing), then the
/// single rights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FsRight {
    ReadWrite,
    ReadExec,
    Read,
    Write,
    Execute,
    WriteFile,
    ReadFile,
    ReadDir,
    RemoveDir,
    RemoveFile,
    MakeChar,
    MakeDir,
    MakeReg,
    MakeSock,
    MakeFifo,
    MakeBlock,
    MakeSym,
    Refer,
    Truncate,
    IoctlDev,
    ResolveUnix,
}

const FS_RIGHTS: [(FsRight, FsAccess); 21] = [
    (FsRight::ReadWrite, FsAccess::READ_WRITE),
    (FsRight::ReadExec, FsAccess::READ_EXEC),
    (FsRight::Read, FsAccess::READ),
    (FsRight::Write, FsAccess::WRITE),
    (FsRight::Execute, FsAccess::EXECUTE),
    (FsRight::WriteFile, FsAccess::WRITE_FILE),
    (FsRight::ReadFile, FsAccess::READ_FILE),
    (FsRight::ReadDir, FsAccess::READ_DIR),
    (FsRight::RemoveDir, FsAccess::REMOVE_DIR),
    (FsRight::RemoveFile, FsAccess::REMOVE_FILE),
    (FsRight::MakeChar, FsAccess::MAKE_CHAR),
    (FsRight::MakeDir, FsAccess::MAKE_DIR),
    (FsRight::MakeReg, FsAccess::MAKE_REG),
    (FsRight::MakeSock, FsAccess::MAKE_SOCK),
    (FsRight::MakeFifo, FsAccess::MAKE_FIFO),
    (FsRight::MakeBlock, FsAccess::MAKE_BLOCK),
    (FsRight::MakeSym, FsAccess::MAKE_SYM),
    (FsRight::Refer, FsAccess::REFER),
    (FsRight::Truncate, FsAccess::TRUNCATE),
    (FsRight::IoctlDev, FsAccess::IOCTL_DEV),
    (FsRight::ResolveUnix, FsAccess::RESOLVE_UNIX),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum NetRight {
    BindTcp,
    ConnectTcp,
    BindUdp,
    ConnectSendUdp,
}

const NET_RIGHTS: [(NetRight, NetAccess); 4] = [
    (NetRight::BindTcp, NetAccess::BIND_TCP),
    (NetRight::ConnectTcp, NetAccess::CONNECT_TCP),
    (NetRight::BindUdp, NetAccess::BIND_UDP),
    (NetRight::ConnectSendUdp, NetAccess::CONNECT_SEND_UDP),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ScopeName {
    AbstractUnixSocket,
    Signal,
}

const SCOPES: [(ScopeName, landlock::Scope); 2] = [
    (
        ScopeName::AbstractUnixSocket,
        landlock::Scope::ABSTRACT_UNIX_SOCKET,
    ),
    (ScopeName::Signal, landlock::Scope::SIGNAL),
];

/// Names covering `set` exactly: the bundles wholly inside it first,
/// then single rights for the rest.
fn names<N: Copy, F: bitflags::Flags + Copy>(table: &[(N, F)], set: F) -> Vec<N> {
    let mut left = set;
    let mut out = Vec::new();
    for &(name, bits) in table {
        if !bits.is_empty() && left.contains(bits) {
            out.push(name);
            left.remove(bits);
        }
    }
    out
}

fn union<N: Copy + PartialEq, F: bitflags::Flags + Copy>(table: &[(N, F)], names: &[N]) -> F {
    let mut set = F::empty();
    for n in names {
        if let Some((_, bits)) = table.iter().find(|(t, _)| t == n) {
            set.insert(*bits);
        }
    }
    set
}

impl LandlockFile {
    /// The table for `cfg`'s Landlock policy and mirrored rules (`None`:
    /// neither).
    pub(super) fn from_config(cfg: &Config) -> Result<Option<LandlockFile>, Error> {
        if cfg.landlock.is_none() && !cfg.landlock_mirror_fs {
            return Ok(None);
        }
        let p = cfg.landlock.clone().unwrap_or_default();
        let fs_rules = p
            .fs_rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                Ok(FsRuleFile {
                    path: abs(&format!("landlock.fs[{i}].path"), &r.path)?,
                    access: names(&FS_RIGHTS, r.access),
                    optional: r.optional,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let net_rules: Vec<NetRuleFile> = p
            .net_rules
            .iter()
            .map(|r| NetRuleFile {
                port: r.port,
                access: names(&NET_RIGHTS, r.access),
            })
            .collect();
        let hard = CompatLevel::HardRequirement;
        Ok(Some(LandlockFile {
            mirror_fs: cfg.landlock_mirror_fs.then_some(true),
            fs_compat: changed(p.fs_compat, hard),
            net_compat: changed(p.net_compat, hard),
            scope_compat: changed(p.scope_compat, hard),
            handle_fs: p.fs_handled.map(|h| names(&FS_RIGHTS, h)),
            handle_net: (!p.net_handled.is_empty()).then(|| names(&NET_RIGHTS, p.net_handled)),
            scopes: (!p.scopes.is_empty()).then(|| names(&SCOPES, p.scopes)),
            fs: (!fs_rules.is_empty()).then_some(fs_rules),
            net: (!net_rules.is_empty()).then_some(net_rules),
        }))
    }

    /// Applies the table to `sb`.
    pub(super) fn apply(self, sb: &mut Sandbox) {
        let mut p = landlock::Policy::new();
        for r in self.fs.unwrap_or_default() {
            let access = union(&FS_RIGHTS, &r.access);
            if r.optional {
                p.allow_try(r.path.0, access);
            } else {
                p.allow(r.path.0, access);
            }
        }
        for r in self.net.unwrap_or_default() {
            p.allow_net(r.port, union(&NET_RIGHTS, &r.access));
        }
        if let Some(h) = &self.handle_fs {
            p.handle_fs(union(&FS_RIGHTS, h));
        }
        if let Some(h) = &self.handle_net {
            p.handle_net(union(&NET_RIGHTS, h));
        }
        if let Some(s) = &self.scopes {
            p.scope(union(&SCOPES, s));
        }
        if let Some(c) = self.fs_compat {
            p.fs_compat(c);
        }
        if let Some(c) = self.net_compat {
            p.net_compat(c);
        }
        if let Some(c) = self.scope_compat {
            p.scope_compat(c);
        }
        let mirror = self.mirror_fs.unwrap_or(false);
        sb.landlock_mirror_fs(mirror);
        // A table holding only `mirror_fs` asks for the mirrored rules
        // alone, which is what a sandbox without a policy of its own
        // and with `landlock_mirror_fs` means.
        if !(mirror && p == landlock::Policy::new()) {
            sb.landlock(p);
        }
    }
}
