//! The `[limits]` table: the wall-clock timeout, cgroup v2 limits and the
//! per-process rlimits.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::error::Error;
use super::values::{AbsPath, Cpus, Secs, Size, abs, changed};
use crate::cgroup::IoMaxRule;
use crate::compat::CompatLevel;
use crate::config::Config;
use crate::rlimit::Rlimit;
use crate::sandbox::Sandbox;
use crate::units;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct LimitsFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<Secs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_time: Option<Secs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_high: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    swap: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oom_group: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pids: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpus: Option<Cpus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_weight: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpuset_cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpuset_mems: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cgroup_parent: Option<AbsPath>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cgroup_placement: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    best_effort: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    io_max: Option<Vec<IoMaxFile>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rlimits: Option<BTreeMap<Rlimit, RlimitValue>>,
}

/// One `io.max` rule, its rates written as sizes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IoMaxFile {
    major: u32,
    minor: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rbps: Option<Size>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wbps: Option<Size>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    riops: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wiops: Option<u64>,
}

/// An rlimit: one value for soft and hard, or `{ soft, hard }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RlimitValue {
    soft: u64,
    hard: u64,
    /// Whether the limit counts bytes (written with K/M/G suffixes) rather
    /// than seconds, descriptors or processes (written as plain numbers).
    bytes: bool,
}

/// A limit written as a size when it counts bytes.
struct LimitNumber(u64, bool);

impl Serialize for LimitNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.1 || self.0 == u64::MAX || self.0 > i64::MAX as u64 {
            Size(self.0).serialize(s)
        } else {
            s.serialize_u64(self.0)
        }
    }
}

impl Serialize for RlimitValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.soft == self.hard {
            return LimitNumber(self.soft, self.bytes).serialize(s);
        }
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("RlimitValue", 2)?;
        st.serialize_field("soft", &LimitNumber(self.soft, self.bytes))?;
        st.serialize_field("hard", &LimitNumber(self.hard, self.bytes))?;
        st.end()
    }
}

/// Whether the rlimit counts bytes.
fn rlimit_counts_bytes(r: Rlimit) -> bool {
    matches!(
        r,
        Rlimit::As
            | Rlimit::Core
            | Rlimit::Data
            | Rlimit::Fsize
            | Rlimit::Memlock
            | Rlimit::Msgqueue
            | Rlimit::Stack
    )
}

impl<'de> Deserialize<'de> for RlimitValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RlimitValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a limit (an integer, a size like \"1M\" or \"unlimited\") or \
                     a table { soft = ..., hard = ... }",
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RlimitValue, E> {
                Ok(RlimitValue {
                    soft: v,
                    hard: v,
                    bytes: false,
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RlimitValue, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RlimitValue, E> {
                units::parse_size(v)
                    .map(|n| RlimitValue {
                        soft: n,
                        hard: n,
                        bytes: false,
                    })
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RlimitValue, A::Error> {
                #[derive(Deserialize)]
                #[serde(rename_all = "snake_case")]
                enum Key {
                    Soft,
                    Hard,
                }
                let (mut soft, mut hard) = (None, None);
                while let Some(key) = map.next_key::<Key>()? {
                    let slot = match key {
                        Key::Soft => &mut soft,
                        Key::Hard => &mut hard,
                    };
                    if slot.is_some() {
                        return Err(de::Error::custom("duplicate key"));
                    }
                    *slot = Some(map.next_value::<Size>()?.0);
                }
                match (soft, hard) {
                    (Some(soft), Some(hard)) => Ok(RlimitValue {
                        soft,
                        hard,
                        bytes: false,
                    }),
                    (None, _) => Err(de::Error::missing_field("soft")),
                    (_, None) => Err(de::Error::missing_field("hard")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl LimitsFile {
    /// The table for `cfg`'s timeout, cgroup limits and rlimits, leaving
    /// out what equals `def`.
    pub(super) fn from_config(cfg: &Config, def: &Config) -> Result<LimitsFile, Error> {
        let cg = &cfg.cgroup;
        let dcg = &def.cgroup;
        Ok(LimitsFile {
            timeout: cfg.timeout.map(Secs),
            cpu_time: None,
            memory: cg.memory_max.map(Size),
            memory_high: cg.memory_high.map(Size),
            swap: cg.swap_max.map(Size),
            oom_group: changed(cg.oom_group, dcg.oom_group),
            pids: cg.pids_max,
            cpus: cg.cpus.map(Cpus),
            cpu_weight: cg.cpu_weight,
            cpuset_cpus: cg.cpuset_cpus.clone(),
            cpuset_mems: cg.cpuset_mems.clone(),
            cgroup_parent: cg
                .parent
                .as_deref()
                .map(|p| abs("limits.cgroup_parent", p))
                .transpose()?,
            cgroup_placement: changed(cg.placement, dcg.placement),
            best_effort: (cg.compat == CompatLevel::BestEffort).then_some(true),
            io_max: (!cg.io_max.is_empty()).then(|| {
                cg.io_max
                    .iter()
                    .map(|r| IoMaxFile {
                        major: r.major,
                        minor: r.minor,
                        rbps: r.rbps.map(Size),
                        wbps: r.wbps.map(Size),
                        riops: r.riops,
                        wiops: r.wiops,
                    })
                    .collect()
            }),
            rlimits: (!cfg.rlimits.is_empty()).then(|| {
                cfg.rlimits
                    .iter()
                    .map(|(&r, &(soft, hard))| {
                        let bytes = rlimit_counts_bytes(r);
                        (r, RlimitValue { soft, hard, bytes })
                    })
                    .collect()
            }),
        })
    }

    /// Applies the table to `sb`.
    pub(super) fn apply(self, sb: &mut Sandbox) {
        if let Some(t) = self.timeout {
            sb.timeout(t.0);
        }
        for (r, v) in self.rlimits.unwrap_or_default() {
            sb.rlimit(r, v.soft, v.hard);
        }
        if let Some(t) = self.cpu_time {
            sb.cpu_time_limit(t.0);
        }
        let mut cg = sb.cfg.cgroup.clone();
        cg.memory_max = self.memory.map(|s| s.0);
        cg.memory_high = self.memory_high.map(|s| s.0);
        cg.swap_max = self.swap.map(|s| s.0);
        if let Some(v) = self.oom_group {
            cg.oom_group = v;
        }
        cg.pids_max = self.pids;
        cg.cpus = self.cpus.map(|c| c.0);
        cg.cpu_weight = self.cpu_weight;
        cg.cpuset_cpus = self.cpuset_cpus;
        cg.cpuset_mems = self.cpuset_mems;
        cg.parent = self.cgroup_parent.map(|p| PathBuf::from(p.0));
        if let Some(v) = self.cgroup_placement {
            cg.placement = v;
        }
        if self.best_effort == Some(true) {
            cg.compat = CompatLevel::BestEffort;
        }
        for r in self.io_max.unwrap_or_default() {
            let mut rule = IoMaxRule::new(r.major, r.minor);
            rule.rbps = r.rbps.map(|s| s.0);
            rule.wbps = r.wbps.map(|s| s.0);
            rule.riops = r.riops;
            rule.wiops = r.wiops;
            cg.io_max.push(rule);
        }
        *sb.cgroup_mut() = cg;
    }
}
