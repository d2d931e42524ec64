//! The whole document: its top-level keys, the `[capabilities]` table, and
//! the conversion of a document to and from a [`Sandbox`]. The other tables
//! live in files of their own.

use serde::{Deserialize, Serialize};

use super::error::Error;
use super::fs::FsFile;
#[cfg(feature = "landlock")]
use super::landlock::LandlockFile;
use super::limits::LimitsFile;
use super::net::{EgressFile, PublishFile};
#[cfg(feature = "seccomp")]
use super::seccomp::SeccompFile;
use super::values::{Version, changed, utf8};
use crate::caps::{self, Capability};
use crate::config::Config;
use crate::namespaces::Namespaces;
use crate::sandbox::Sandbox;

/// The whole file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct PolicyFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<Version>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespaces: Option<Vec<NsName>>,
    #[cfg(all(feature = "seccomp", feature = "landlock"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    net_filter: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    isolation: Option<crate::isolation::Isolation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subordinate_ids: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid_ranges: Option<Vec<crate::ids::IdRange>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid_ranges: Option<Vec<crate::ids::IdRange>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inherit_env: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kill_on_drop: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    die_with_parent: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capabilities: Option<CapsFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filesystem: Option<FsFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<LimitsFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    egress: Option<EgressFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    publish: Option<Vec<PublishFile>>,
    #[cfg(feature = "landlock")]
    #[serde(skip_serializing_if = "Option::is_none")]
    landlock: Option<LandlockFile>,
    #[cfg(feature = "seccomp")]
    #[serde(skip_serializing_if = "Option::is_none")]
    seccomp: Option<SeccompFile>,
}

/// A namespace by name. [`Namespaces`] is a `bitflags` set, which cannot
/// carry per-flag serde names, so the names are listed here with the flags
/// they stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum NsName {
    User,
    Mount,
    Pid,
    Net,
    Ipc,
    Uts,
    Cgroup,
    Time,
}

const NS_NAMES: [(NsName, Namespaces); 8] = [
    (NsName::User, Namespaces::USER),
    (NsName::Mount, Namespaces::MOUNT),
    (NsName::Pid, Namespaces::PID),
    (NsName::Net, Namespaces::NET),
    (NsName::Ipc, Namespaces::IPC),
    (NsName::Uts, Namespaces::UTS),
    (NsName::Cgroup, Namespaces::CGROUP),
    (NsName::Time, Namespaces::TIME),
];

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CapsFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    keep: Option<Vec<Capability>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ambient: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    no_new_privs: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lock_noroot: Option<bool>,
}

/// `None` for a table with nothing in it.
fn nonempty<T: Serialize>(t: T) -> Option<T> {
    let empty = serde_json::to_value(&t)
        .ok()
        .and_then(|v| v.as_object().map(|o| o.is_empty()))
        .unwrap_or(false);
    (!empty).then_some(t)
}

impl PolicyFile {
    pub(super) fn from_sandbox(sb: &Sandbox) -> Result<PolicyFile, Error> {
        let cfg = &sb.cfg;
        let def = Config::default();

        let caps = CapsFile {
            keep: (!cfg.caps.keep.is_empty()).then(|| cfg.caps.kept().collect()),
            ambient: changed(cfg.caps.ambient, def.caps.ambient),
            no_new_privs: changed(cfg.caps.no_new_privs, def.caps.no_new_privs),
            lock_noroot: changed(cfg.caps.lock_noroot, def.caps.lock_noroot),
        };
        let filesystem = FsFile::from_config(&cfg.fs, &def.fs)?;
        let limits = LimitsFile::from_config(cfg, &def)?;
        let namespaces = changed(cfg.namespaces, def.namespaces).map(|ns| {
            NS_NAMES
                .iter()
                .filter(|(_, f)| ns.contains(*f))
                .map(|(n, _)| *n)
                .collect()
        });
        #[cfg(feature = "landlock")]
        let landlock = LandlockFile::from_config(cfg)?;

        Ok(PolicyFile {
            version: Some(Version(1)),
            namespaces,
            #[cfg(all(feature = "seccomp", feature = "landlock"))]
            net_filter: cfg.net_filter.then_some(true),
            isolation: changed(cfg.isolation, def.isolation),
            uid: cfg.uid,
            gid: cfg.gid,
            subordinate_ids: [&cfg.uid_ranges, &cfg.gid_ranges]
                .contains(&&crate::ids::Source::Subordinate)
                .then_some(true),
            uid_ranges: explicit(&cfg.uid_ranges),
            gid_ranges: explicit(&cfg.gid_ranges),
            hostname: cfg
                .hostname
                .as_deref()
                .map(|h| utf8("hostname", h))
                .transpose()?,
            inherit_env: changed(cfg.inherit_env, def.inherit_env),
            kill_on_drop: changed(cfg.kill_on_drop, def.kill_on_drop),
            die_with_parent: changed(cfg.die_with_parent, def.die_with_parent),
            capabilities: nonempty(caps),
            filesystem: nonempty(filesystem),
            limits: nonempty(limits),
            egress: cfg
                .egress
                .as_ref()
                .map(EgressFile::from_egress)
                .transpose()?,
            publish: PublishFile::from_config(&cfg.publish),
            #[cfg(feature = "landlock")]
            landlock,
            #[cfg(feature = "seccomp")]
            seccomp: SeccompFile::from_config(
                cfg.seccomp.as_ref(),
                cfg.observe_denials,
                cfg.observe_writes,
            ),
        })
    }

    pub(super) fn into_sandbox(self) -> Sandbox {
        let mut sb = Sandbox::new();
        if let Some(names) = &self.namespaces {
            let mut ns = Namespaces::empty();
            for n in names {
                if let Some((_, f)) = NS_NAMES.iter().find(|(m, _)| m == n) {
                    ns |= *f;
                }
            }
            sb.namespaces(ns);
        }
        #[cfg(all(feature = "seccomp", feature = "landlock"))]
        if self.net_filter == Some(true) {
            sb.network(crate::Network::Blocked);
        }
        if let Some(i) = self.isolation {
            sb.isolation(i);
        }
        if let Some(u) = self.uid {
            sb.uid(u);
        }
        if let Some(g) = self.gid {
            sb.gid(g);
        }
        if self.subordinate_ids == Some(true) {
            sb.subordinate_ids(true);
        }
        if let Some(r) = self.uid_ranges {
            sb.uid_ranges(r);
        }
        if let Some(r) = self.gid_ranges {
            sb.gid_ranges(r);
        }
        if let Some(h) = &self.hostname {
            sb.hostname(h);
        }
        if let Some(v) = self.inherit_env {
            sb.inherit_env(v);
        }
        if let Some(v) = self.kill_on_drop {
            sb.kill_on_drop(v);
        }
        if let Some(v) = self.die_with_parent {
            sb.die_with_parent(v);
        }
        if let Some(c) = self.capabilities {
            let mut caps = caps::Policy::new();
            caps.keep_all(c.keep.unwrap_or_default());
            if let Some(a) = c.ambient {
                caps.ambient(a);
            }
            if let Some(n) = c.no_new_privs {
                caps.no_new_privs(n);
            }
            if let Some(l) = c.lock_noroot {
                caps.lock_noroot(l);
            }
            sb.capabilities(caps);
        }
        if let Some(f) = self.filesystem {
            f.apply(&mut sb);
        }
        if let Some(l) = self.limits {
            l.apply(&mut sb);
        }
        if let Some(e) = self.egress {
            e.apply(&mut sb);
        }
        for p in self.publish.into_iter().flatten() {
            p.apply(&mut sb);
        }
        #[cfg(feature = "landlock")]
        if let Some(l) = self.landlock {
            l.apply(&mut sb);
        }
        #[cfg(feature = "seccomp")]
        if let Some(s) = &self.seccomp {
            sb.seccomp(s.to_policy());
            if let Some(on) = s.observe_denials() {
                sb.observe_denials(on);
            }
            if let Some(on) = s.observe_writes() {
                sb.observe_writes(on);
            }
        }
        sb
    }
}

/// Explicit ranges, for the file.
fn explicit(source: &crate::ids::Source) -> Option<Vec<crate::ids::IdRange>> {
    match source {
        crate::ids::Source::Explicit(r) => Some(r.clone()),
        _ => None,
    }
}
