//! Who the program runs as: the user namespace's id maps, or (without one)
//! the ids a root caller switches to.

use crate::config::Config;
use crate::error::{ConfigError, IdKind, IdentityProblem, NamespaceProblem};
use crate::namespaces::{IdMapping, Namespaces};
use crate::zone::plan::IdMaps;

/// The calling process's effective ids, read once per spawn.
#[derive(Clone, Copy)]
pub(super) struct Caller {
    pub(super) euid: u32,
    pub(super) egid: u32,
}

impl Caller {
    pub(super) fn current() -> Caller {
        Caller {
            euid: nix::unistd::geteuid().as_raw(),
            egid: nix::unistd::getegid().as_raw(),
        }
    }
}

/// The identity plan of one spawn.
pub(super) struct Identity {
    /// Maps the supervisor writes for its new user namespace.
    pub(super) maps: Option<IdMaps>,
    /// Ids a root caller's program switches to without a user namespace.
    pub(super) set_ids: Option<(u32, u32)>,
    /// For the enforcement report.
    pub(super) uid: Option<IdMapping>,
    pub(super) gid: Option<IdMapping>,
    /// The caller is root (its program would own the host's root-owned
    /// files but for the idmapped system view, see `crate::fs::idmap`).
    pub(super) root_caller: bool,
}

/// Checks what this caller can be given and plans it.
pub(super) fn plan(cfg: &Config, caller: Caller) -> Result<Identity, ConfigError> {
    let ns = cfg.namespaces;
    let userns = ns.contains(Namespaces::USER);
    let Caller { euid, egid } = caller;
    if !userns && euid != 0 && !(ns - Namespaces::USER).is_empty() {
        return Err(ConfigError::Namespaces {
            reason: NamespaceProblem::NeedsUserNamespace,
        });
    }
    for (kind, id) in [(IdKind::Uid, cfg.uid), (IdKind::Gid, cfg.gid)] {
        let Some(id) = id else { continue };
        let reason = if id == u32::MAX {
            IdentityProblem::Invalid
        } else if !userns && euid != 0 {
            IdentityProblem::NeedsUserNamespaceOrRoot
        } else {
            continue;
        };
        return Err(ConfigError::Identity { kind, id, reason });
    }
    let uid = cfg.uid.unwrap_or(euid);
    let gid = cfg.gid.unwrap_or(egid);
    let root_caller = euid == 0;
    Ok(if userns {
        Identity {
            maps: Some(IdMaps {
                uid_map: format!("{uid} {euid} 1\n").into_bytes(),
                gid_map: format!("{gid} {egid} 1\n").into_bytes(),
            }),
            set_ids: None,
            uid: Some(IdMapping {
                inside: uid,
                outside: euid,
            }),
            gid: Some(IdMapping {
                inside: gid,
                outside: egid,
            }),
            root_caller,
        }
    } else if cfg.uid.is_some() || cfg.gid.is_some() {
        Identity {
            maps: None,
            set_ids: Some((uid, gid)),
            uid: Some(IdMapping {
                inside: uid,
                outside: uid,
            }),
            gid: Some(IdMapping {
                inside: gid,
                outside: gid,
            }),
            root_caller,
        }
    } else {
        Identity {
            maps: None,
            set_ids: None,
            uid: None,
            gid: None,
            root_caller,
        }
    })
}
