//! Who the program runs as: the user namespace's id maps, or (without one)
//! the ids a root caller switches to.

use crate::config::Config;
use crate::error::{ConfigError, Error, IdKind, IdentityProblem, NamespaceProblem};
use crate::ids::{IdRange, Source};
use crate::namespaces::{IdMapping, Namespaces};
use crate::zone::plan::IdMaps;

/// The calling process's effective ids, read once per spawn.
#[derive(Clone, Copy, Debug)]
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
    /// Maps of ranges, which the caller writes (see `crate::ids`).
    pub(super) ranges: Option<RangeMaps>,
    /// The switch to `set_ids` keeps the supplementary groups.
    pub(super) keep_groups: bool,
}

/// How a program's process takes its identity.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Switch {
    /// The ids it switches to (`None`: it keeps the supervisor's).
    pub(crate) set_ids: Option<(u32, u32)>,
    /// The switch keeps the supplementary groups (the user namespace
    /// denies `setgroups`).
    pub(crate) keep_groups: bool,
    /// For the enforcement report.
    pub(crate) uid: Option<IdMapping>,
    pub(crate) gid: Option<IdMapping>,
}

/// The ids a sandbox's programs may run as ([`Command::user`]), checked
/// in the caller before anything is sent; a container keeps it for its
/// execs.
///
/// [`Command::user`]: crate::Command::user
#[derive(Clone, Debug)]
pub(crate) struct Users {
    /// The identity of the sandbox's own programs.
    own: Switch,
    /// The user namespace's uid and gid maps (`None`: no user namespace).
    maps: Option<(Vec<IdRange>, Vec<IdRange>)>,
    /// The maps are ranges, within which a program switches; a single map
    /// holds only the ids the supervisor already runs as.
    ranged: bool,
    caller: Caller,
}

impl Users {
    /// How a program asking to run as `user` (uid, gid inside) takes its
    /// identity, or why it cannot.
    pub(crate) fn switch(&self, user: Option<(u32, u32)>) -> Result<Switch, Error> {
        let Some((uid, gid)) = user else {
            return Ok(self.own);
        };
        for (kind, id) in [(IdKind::Uid, uid), (IdKind::Gid, gid)] {
            if id == u32::MAX {
                return Err(ConfigError::Identity {
                    kind,
                    id,
                    reason: IdentityProblem::Invalid,
                }
                .into());
            }
        }
        let Some((uid_map, gid_map)) = &self.maps else {
            if self.caller.euid == 0 {
                // A root caller's program switches to any ids, and keeps
                // none of the caller's groups.
                return Ok(Switch {
                    set_ids: Some((uid, gid)),
                    keep_groups: false,
                    uid: Some(IdMapping {
                        inside: uid,
                        outside: uid,
                    }),
                    gid: Some(IdMapping {
                        inside: gid,
                        outside: gid,
                    }),
                });
            }
            // Only the caller's own ids, which its programs have already.
            let own = [
                (IdKind::Uid, uid, self.caller.euid),
                (IdKind::Gid, gid, self.caller.egid),
            ];
            return match own.into_iter().find(|&(_, asked, have)| asked != have) {
                None => Ok(self.own),
                Some((kind, id, _)) => Err(ConfigError::Identity {
                    kind,
                    id,
                    reason: IdentityProblem::NeedsUserNamespaceOrRoot,
                }
                .into()),
            };
        };
        let mut outside = [0; 2];
        for (i, (kind, id, map)) in [(IdKind::Uid, uid, uid_map), (IdKind::Gid, gid, gid_map)]
            .into_iter()
            .enumerate()
        {
            match map.iter().find_map(|r| r.to_outside(id)) {
                Some(o) => outside[i] = o,
                None => {
                    return Err(ConfigError::UnmappedId {
                        kind,
                        id,
                        mapped: map.clone(),
                    }
                    .into());
                }
            }
        }
        if !self.ranged {
            // A single map: the ids asked for are those the program runs
            // as anyway.
            return Ok(self.own);
        }
        Ok(Switch {
            set_ids: Some((uid, gid)),
            keep_groups: self.own.keep_groups,
            uid: Some(IdMapping {
                inside: uid,
                outside: outside[0],
            }),
            gid: Some(IdMapping {
                inside: gid,
                outside: outside[1],
            }),
        })
    }
}

impl Identity {
    /// The ids this sandbox's programs may run as.
    pub(super) fn users(&self, userns: bool, caller: Caller) -> Users {
        let single = |m: Option<IdMapping>| {
            m.map(|m| vec![IdRange::new(m.inside, m.outside, 1)])
                .unwrap_or_default()
        };
        let maps = userns.then(|| match &self.ranges {
            Some(r) => (r.uid.lines.clone(), r.gid.lines.clone()),
            None => (single(self.uid), single(self.gid)),
        });
        Users {
            own: self.switch(),
            maps,
            ranged: self.ranges.is_some(),
            caller,
        }
    }

    /// How the sandbox's own programs take their identity.
    pub(super) fn switch(&self) -> Switch {
        Switch {
            set_ids: self.set_ids,
            keep_groups: self.keep_groups,
            uid: self.uid,
            gid: self.gid,
        }
    }

    /// Makes `s` the identity of this spawn's program.
    pub(super) fn apply(&mut self, s: Switch) {
        self.set_ids = s.set_ids;
        self.keep_groups = s.keep_groups;
        self.uid = s.uid;
        self.gid = s.gid;
    }
}

/// A sandbox's maps when it has ranges.
pub(super) struct RangeMaps {
    pub(super) uid: crate::ids::Map,
    pub(super) gid: crate::ids::Map,
}

impl RangeMaps {
    /// Writes both maps for the supervisor `pid` (both helpers, when it
    /// takes them, at once).
    pub(super) fn write(&self, pid: u32) -> Result<(), crate::ids::Error> {
        use crate::ids::{Pending, start};
        let uid = start(pid, &self.uid);
        let gid = start(pid, &self.gid);
        // Each helper started is waited for, whatever the other did.
        let uid = uid.and_then(Pending::finish);
        let gid = gid.and_then(Pending::finish);
        uid.and(gid)
    }
}

/// Checks what this caller can be given and plans it.
pub(super) fn plan(cfg: &Config, caller: Caller) -> Result<Identity, Error> {
    let ns = cfg.namespaces;
    let userns = ns.contains(Namespaces::USER);
    let Caller { euid, egid } = caller;
    if !userns && euid != 0 && !(ns - Namespaces::USER).is_empty() {
        return Err(ConfigError::Namespaces {
            reason: NamespaceProblem::NeedsUserNamespace,
        }
        .into());
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
        return Err(ConfigError::Identity { kind, id, reason }.into());
    }
    let uid = cfg.uid.unwrap_or(euid);
    let gid = cfg.gid.unwrap_or(egid);
    let root_caller = euid == 0;
    let ranged = cfg.uid_ranges != Source::Single || cfg.gid_ranges != Source::Single;
    Ok(if userns && ranged {
        let who = crate::ids::Caller::new(euid, egid);
        let file = crate::ids::subordinate_file;
        let uid_map = crate::ids::plan(IdKind::Uid, &cfg.uid_ranges, uid, &who, file(IdKind::Uid))?;
        let gid_map = crate::ids::plan(IdKind::Gid, &cfg.gid_ranges, gid, &who, file(IdKind::Gid))?;
        Identity {
            maps: None,
            // The supervisor runs as whatever the caller's ids map to; the
            // program switches to its own.
            set_ids: Some((uid, gid)),
            uid: uid_map.to_outside(uid).map(|outside| IdMapping {
                inside: uid,
                outside,
            }),
            gid: gid_map.to_outside(gid).map(|outside| IdMapping {
                inside: gid,
                outside,
            }),
            root_caller,
            // An unprivileged caller's single gid map denies setgroups.
            keep_groups: !root_caller && !gid_map.helper,
            ranges: Some(RangeMaps {
                uid: uid_map,
                gid: gid_map,
            }),
        }
    } else if userns {
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
            ranges: None,
            keep_groups: false,
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
            ranges: None,
            keep_groups: false,
        }
    } else {
        Identity {
            maps: None,
            set_ids: None,
            uid: None,
            gid: None,
            root_caller,
            ranges: None,
            keep_groups: false,
        }
    })
}
