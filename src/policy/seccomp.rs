//! The `[seccomp]` table (feature `seccomp`): a profile, two actions, the
//! ordered rules, and whether the filter's refusals are observed.
//!
//! The rules hold the public types ([`SyscallGroup`], [`ArgWidth`],
//! [`ArgOp`], [`seccomp::Action`]). Two of them are written differently here
//! than by their own serde forms, which the enforcement report uses: an
//! action is the text `"errno:N"` (not `{ "errno": N }`), and a condition's
//! `op` is the comparison's name alone (`"masked_eq"`), its mask a key of
//! its own.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use super::values::U64;
use crate::seccomp::{self, ArgCondition, ArgOp, ArgWidth, PolicyEntry, SyscallGroup, SyscallRule};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Profile {
    Default,
    None,
    Custom,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawSeccomp {
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<Profile>,
    #[serde(with = "action_text", skip_serializing_if = "Option::is_none")]
    default_action: Option<seccomp::Action>,
    #[serde(with = "action_text", skip_serializing_if = "Option::is_none")]
    unknown_action: Option<seccomp::Action>,
    /// [`Sandbox::observe_denials`](crate::Sandbox::observe_denials).
    #[serde(skip_serializing_if = "Option::is_none")]
    observe_denials: Option<bool>,
    /// [`Sandbox::observe_writes`](crate::Sandbox::observe_writes).
    #[serde(skip_serializing_if = "Option::is_none")]
    observe_writes: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<Vec<RuleEntry>>,
}

/// The `[seccomp]` table, checked as a whole.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(super) struct SeccompFile(RawSeccomp);

impl<'de> Deserialize<'de> for SeccompFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawSeccomp::deserialize(d)?;
        if raw.profile == Some(Profile::None)
            && (raw.default_action.is_some() || raw.unknown_action.is_some() || raw.rules.is_some())
        {
            return Err(de::Error::custom(
                "profile \"none\" takes no actions or rules",
            ));
        }
        Ok(SeccompFile(raw))
    }
}

/// An action as text: `"allow"`, `"log"`, `"trap"`, `"kill_process"` or
/// `"errno:N"`.
mod action_text {
    use serde::Deserialize;
    use serde::de::{self, Deserializer};
    use serde::ser::Serializer;

    use crate::seccomp;

    pub(super) fn serialize<S: Serializer>(
        action: &Option<seccomp::Action>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match action {
            None => s.serialize_none(),
            Some(seccomp::Action::Allow) => s.serialize_str("allow"),
            Some(seccomp::Action::Log) => s.serialize_str("log"),
            Some(seccomp::Action::Trap) => s.serialize_str("trap"),
            Some(seccomp::Action::KillProcess) => s.serialize_str("kill_process"),
            Some(seccomp::Action::Errno(n)) => s.serialize_str(&format!("errno:{n}")),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<seccomp::Action>, D::Error> {
        Ok(Option::<Text>::deserialize(d)?.map(|t| t.0))
    }

    /// An action, checked inside the value's own deserializer so that an
    /// error points at the value.
    struct Text(seccomp::Action);

    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let s = String::deserialize(d)?;
            let action = match s.as_str() {
                "allow" => Some(seccomp::Action::Allow),
                "log" => Some(seccomp::Action::Log),
                "trap" => Some(seccomp::Action::Trap),
                "kill_process" => Some(seccomp::Action::KillProcess),
                other => other
                    .strip_prefix("errno:")
                    .and_then(|n| n.trim().parse::<u16>().ok())
                    .filter(|&n| n <= 4095)
                    .map(seccomp::Action::Errno),
            };
            action.map(Text).ok_or_else(|| {
                de::Error::invalid_value(
                    de::Unexpected::Str(&s),
                    &"\"allow\", \"log\", \"trap\", \"kill_process\" or \"errno:N\" (N up to 4095)",
                )
            })
        }
    }
}

/// An [`ArgOp`] by its name alone: `"eq"` ... `"masked_eq"`. It is read
/// through `ArgOp`'s own serde form, its names and its messages, with every
/// variant read as a unit variant: the mask of `masked_eq` is `0` until the
/// condition's `mask` key fills it in.
mod op_name {
    use serde::de::value::U64Deserializer;
    use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, VariantAccess, Visitor};
    use serde::ser::Serializer;
    use serde::{Deserialize, Serialize};

    use crate::seccomp::ArgOp;

    pub(super) fn serialize<S: Serializer>(op: &ArgOp, s: S) -> Result<S::Ok, S::Error> {
        // `ArgOp`'s own form is the name, or `{ name: mask }`.
        let name = match serde_json::to_value(op).map_err(serde::ser::Error::custom)? {
            serde_json::Value::String(name) => name,
            serde_json::Value::Object(map) => {
                map.into_iter().next().map(|(k, _)| k).unwrap_or_default()
            }
            _ => String::new(),
        };
        name.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ArgOp, D::Error> {
        ArgOp::deserialize(Names(d))
    }

    /// A deserializer that hands `ArgOp`'s derived visitor the enum it
    /// reads, with [`UnitOnly`] variants.
    struct Names<D>(D);

    impl<'de, D: Deserializer<'de>> Deserializer<'de> for Names<D> {
        type Error = D::Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.deserialize_any(visitor)
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            name: &'static str,
            variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            self.0.deserialize_enum(name, variants, Enum(visitor))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map struct identifier ignored_any
        }
    }

    struct Enum<V>(V);

    impl<'de, V: Visitor<'de>> Visitor<'de> for Enum<V> {
        type Value = V::Value;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.expecting(f)
        }

        fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
            self.0.visit_enum(Variants(data))
        }
    }

    struct Variants<A>(A);

    impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Variants<A> {
        type Error = A::Error;
        type Variant = UnitOnly<A::Variant>;

        fn variant_seed<S: DeserializeSeed<'de>>(
            self,
            seed: S,
        ) -> Result<(S::Value, Self::Variant), A::Error> {
            let (value, variant) = self.0.variant_seed(seed)?;
            Ok((value, UnitOnly(variant)))
        }
    }

    /// A variant read as a unit variant whatever `ArgOp` declares: a
    /// newtype variant's value is `0`.
    struct UnitOnly<V>(V);

    impl<'de, V: VariantAccess<'de>> VariantAccess<'de> for UnitOnly<V> {
        type Error = V::Error;

        fn unit_variant(self) -> Result<(), V::Error> {
            self.0.unit_variant()
        }

        fn newtype_variant_seed<T: DeserializeSeed<'de>>(
            self,
            seed: T,
        ) -> Result<T::Value, V::Error> {
            self.0.unit_variant()?;
            seed.deserialize(U64Deserializer::new(0))
        }

        fn tuple_variant<W: Visitor<'de>>(self, _: usize, _: W) -> Result<W::Value, V::Error> {
            self.0.unit_variant()?;
            Err(de::Error::custom("a comparison takes no values"))
        }

        fn struct_variant<W: Visitor<'de>>(
            self,
            _: &'static [&'static str],
            _: W,
        ) -> Result<W::Value, V::Error> {
            self.0.unit_variant()?;
            Err(de::Error::custom("a comparison takes no values"))
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CondFile {
    arg: u8,
    #[serde(with = "op_name")]
    op: ArgOp,
    value: U64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mask: Option<U64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    width: Option<ArgWidth>,
}

impl CondFile {
    fn from_condition(c: &ArgCondition) -> CondFile {
        let mask = match c.op() {
            ArgOp::MaskedEq(m) => Some(U64(m)),
            _ => None,
        };
        CondFile {
            arg: c.arg(),
            op: c.op(),
            value: U64(c.value()),
            mask,
            width: match c.width() {
                ArgWidth::Low32 => Some(ArgWidth::Low32),
                ArgWidth::Full64 => None,
            },
        }
    }

    fn to_condition(&self) -> ArgCondition {
        let op = match self.op {
            ArgOp::MaskedEq(_) => ArgOp::MaskedEq(self.mask.map_or(0, |m| m.0)),
            op => op,
        };
        ArgCondition {
            arg: self.arg,
            width: self.width.unwrap_or(ArgWidth::Full64),
            op,
            value: self.value.0,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    syscall: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    allow_group: Option<SyscallGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group: Option<SyscallGroup>,
    #[serde(default, with = "action_text", skip_serializing_if = "Option::is_none")]
    action: Option<seccomp::Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conditions: Option<Vec<CondFile>>,
}

/// One entry of `seccomp.rules`: `{ syscall, action, conditions }`,
/// `{ allow_group }` or `{ group, action }`.
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct RuleEntry(RawRule);

impl<'de> Deserialize<'de> for RuleEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawRule::deserialize(d)?;
        raw.check().map_err(de::Error::custom)?;
        Ok(RuleEntry(raw))
    }
}

impl RawRule {
    fn check(&self) -> Result<(), &'static str> {
        let kinds = usize::from(self.syscall.is_some())
            + usize::from(self.allow_group.is_some())
            + usize::from(self.group.is_some());
        if kinds != 1 {
            return Err("a rule has exactly one of `syscall`, `allow_group` and `group`");
        }
        if self.allow_group.is_some() && (self.action.is_some() || self.conditions.is_some()) {
            return Err("an `allow_group` rule takes no `action` or `conditions`");
        }
        if self.group.is_some() && self.conditions.is_some() {
            return Err("a `group` rule takes no `conditions`");
        }
        if (self.syscall.is_some() || self.group.is_some()) && self.action.is_none() {
            return Err("the rule needs an `action`");
        }
        for c in self.conditions.iter().flatten() {
            if matches!(c.op, ArgOp::MaskedEq(_)) != c.mask.is_some() {
                return Err("a condition has a `mask` exactly when its `op` is \"masked_eq\"");
            }
        }
        Ok(())
    }
}

fn entry_to_rule(e: &PolicyEntry) -> RuleEntry {
    RuleEntry(match e {
        PolicyEntry::Rule(r) => RawRule {
            syscall: Some(r.syscall().to_owned()),
            action: Some(r.action()),
            conditions: (!r.conditions().is_empty()).then(|| {
                r.conditions()
                    .iter()
                    .map(CondFile::from_condition)
                    .collect()
            }),
            ..RawRule::default()
        },
        PolicyEntry::AllowGroup(g) => RawRule {
            allow_group: Some(*g),
            ..RawRule::default()
        },
        PolicyEntry::GroupAction { group, action } => RawRule {
            group: Some(*group),
            action: Some(*action),
            ..RawRule::default()
        },
    })
}

fn rule_to_entry(r: &RuleEntry) -> PolicyEntry {
    let r = &r.0;
    let action = r.action.unwrap_or(seccomp::Action::Allow);
    if let Some(g) = r.allow_group {
        PolicyEntry::AllowGroup(g)
    } else if let Some(group) = r.group {
        PolicyEntry::GroupAction { group, action }
    } else {
        let mut rule = SyscallRule::new(r.syscall.clone().unwrap_or_default(), action);
        for c in r.conditions.iter().flatten() {
            rule = rule.when(c.to_condition());
        }
        PolicyEntry::Rule(rule)
    }
}

impl SeccompFile {
    /// The table for a sandbox's filter and whether its refusals are
    /// observed (`observe_denials`, written only when off: on is the
    /// default).
    pub(super) fn from_config(
        policy: Option<&seccomp::Policy>,
        observe_denials: bool,
        observe_writes: bool,
    ) -> Option<SeccompFile> {
        let table = Self::from_policy(policy);
        if observe_denials && !observe_writes {
            return table;
        }
        let mut table = table.unwrap_or(SeccompFile(RawSeccomp::default()));
        table.0.observe_denials = (!observe_denials).then_some(false);
        table.0.observe_writes = observe_writes.then_some(true);
        Some(table)
    }

    /// Whether the table says writes are looked at (`None`: it does not
    /// say; off).
    pub(super) fn observe_writes(&self) -> Option<bool> {
        self.0.observe_writes
    }

    /// The table for a sandbox's filter (`None` for the filter: no filter;
    /// `None` returned: the default profile, written as nothing).
    fn from_policy(policy: Option<&seccomp::Policy>) -> Option<SeccompFile> {
        let Some(policy) = policy else {
            return Some(SeccompFile(RawSeccomp {
                profile: Some(Profile::None),
                ..RawSeccomp::default()
            }));
        };
        let default = seccomp::Policy::default_profile();
        if *policy == default {
            return None;
        }
        let raw = if policy.entries.starts_with(&default.entries) {
            let rest = &policy.entries[default.entries.len()..];
            RawSeccomp {
                profile: Some(Profile::Default),
                default_action: (policy.default_action != default.default_action)
                    .then_some(policy.default_action),
                unknown_action: (policy.unknown_action != default.unknown_action)
                    .then_some(policy.unknown_action),
                rules: (!rest.is_empty()).then(|| rest.iter().map(entry_to_rule).collect()),
                observe_denials: None,
                observe_writes: None,
            }
        } else {
            RawSeccomp {
                profile: Some(Profile::Custom),
                default_action: Some(policy.default_action),
                unknown_action: Some(policy.unknown_action),
                rules: Some(policy.entries.iter().map(entry_to_rule).collect()),
                observe_denials: None,
                observe_writes: None,
            }
        };
        Some(SeccompFile(raw))
    }

    /// Whether the table says the filter's refusals are observed (`None`:
    /// it does not say, the default holds).
    pub(super) fn observe_denials(&self) -> Option<bool> {
        self.0.observe_denials
    }

    /// The sandbox's filter for the table (`None`: no filter).
    pub(super) fn to_policy(&self) -> Option<seccomp::Policy> {
        let raw = &self.0;
        let mut policy = match raw.profile.unwrap_or(Profile::Default) {
            Profile::None => return None,
            Profile::Default => seccomp::Policy::default_profile(),
            Profile::Custom => {
                seccomp::Policy::allowlist(seccomp::Action::Errno(libc::EPERM as u16))
            }
        };
        if let Some(a) = raw.default_action {
            policy.default_action = a;
        }
        if let Some(a) = raw.unknown_action {
            policy.unknown_action = a;
        }
        for r in raw.rules.iter().flatten() {
            policy.entries.push(rule_to_entry(r));
        }
        Some(policy)
    }
}
