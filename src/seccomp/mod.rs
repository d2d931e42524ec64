//! seccomp-bpf system call filtering (Linux 3.17+ for the `seccomp` system
//! call; Linux 4.14+ for [`SeccompAction::KillProcess`] and
//! [`SeccompAction::Log`]).
//!
//! A [`SeccompPolicy`] is compiled once, in the parent, into a classic BPF
//! program ([`CompiledFilter`]) that the sandbox stores and installs in every
//! child just before `execve` ([`install`], child-zone safe).

mod codegen;
mod error;
mod groups;
mod policy;
mod table;

use std::collections::BTreeMap;
use std::fmt;

pub use error::SeccompError;
pub use groups::SyscallGroup;
pub use policy::{ArgCondition, ArgOp, ArgWidth, SeccompAction, SeccompPolicy, SyscallRule};
pub(crate) use policy::{PolicyEntry, add_net_filter};

use crate::sys::raw::Errno;

/// The largest program the kernel accepts (`BPF_MAXINSNS`).
const BPF_MAXINSNS: usize = 4096;

/// Whether a policy is the default profile or was customised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "lowercase")
)]
#[non_exhaustive]
pub enum SeccompProfile {
    /// Exactly [`SeccompPolicy::default_profile`].
    Default,
    /// Anything else.
    Custom,
}

impl fmt::Display for SeccompProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Default => "default",
            Self::Custom => "custom",
        })
    }
}

/// The architecture a filter was compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum SeccompArch {
    /// x86_64 (the filter kills i386 and x32 system calls).
    #[cfg_attr(feature = "serde", serde(rename = "x86_64"))]
    X86_64,
    /// aarch64 (the filter kills aarch32 system calls).
    #[cfg_attr(feature = "serde", serde(rename = "aarch64"))]
    Aarch64,
}

impl SeccompArch {
    /// The architecture this crate was compiled for.
    pub const NATIVE: Self = if cfg!(target_arch = "x86_64") {
        Self::X86_64
    } else {
        Self::Aarch64
    };
}

impl fmt::Display for SeccompArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::X86_64 => "x86_64",
            Self::Aarch64 => "aarch64",
        })
    }
}

/// What a compiled seccomp policy enforces, for the enforcement report.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SeccompReport {
    /// Whether the policy is the default profile.
    pub profile: SeccompProfile,
    /// Per-system-call decisions in the program: one for each argument
    /// check and one for each system call with an explicit unconditional
    /// rule (rules shadowed by later ones are not counted).
    pub rules: usize,
    /// Known system calls allowed whatever their arguments.
    pub allowed_syscalls: usize,
    /// Known system calls whose outcome depends on their arguments.
    pub conditional_syscalls: usize,
    /// Length of the BPF program.
    pub instructions: usize,
    /// Action for known system calls no rule matches.
    pub default_action: SeccompAction,
    /// Action for system call numbers the table does not know.
    pub unknown_syscall_action: SeccompAction,
    /// The architecture the program accepts; every other one is killed.
    pub arch: SeccompArch,
}

impl fmt::Display for SeccompReport {
    /// One line, for example `default profile, 312 rules (286 system calls
    /// allowed, 6 checked by argument, others errno(1))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} profile, {} rules ({} system calls allowed, {} checked by argument, others {})",
            self.profile,
            self.rules,
            self.allowed_syscalls,
            self.conditional_syscalls,
            self.default_action
        )
    }
}

/// A compiled policy: the BPF program and its report. Immutable; meant to be
/// shared (`Arc`) between every spawn of a sandbox.
pub(crate) struct CompiledFilter {
    program: Box<[libc::sock_filter]>,
    /// `program.len()`, checked at compile time to fit `sock_fprog::len`.
    len: u16,
    report: SeccompReport,
}

impl fmt::Debug for CompiledFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledFilter")
            .field("instructions", &self.program.len())
            .field("report", &self.report)
            .finish()
    }
}

impl CompiledFilter {
    /// The BPF program.
    pub(crate) fn instructions(&self) -> &[libc::sock_filter] {
        &self.program
    }

    /// What the program enforces.
    pub(crate) fn report(&self) -> &SeccompReport {
        &self.report
    }
}

/// What a policy decides for one known system call.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Decision {
    /// The same return value whatever the arguments.
    Const(u32),
    /// Argument checks in order (first match wins), then `fallback`.
    Checked {
        rules: Vec<(Vec<ArgCondition>, u32)>,
        fallback: u32,
    },
}

/// One rule resolved to a system call number, in policy order.
struct Resolved<'a> {
    conditions: &'a [ArgCondition],
    action: SeccompAction,
}

/// Compiles `policy` for the native architecture.
pub(crate) fn compile(policy: &SeccompPolicy) -> Result<CompiledFilter, SeccompError> {
    policy.default_action.validate()?;
    policy.unknown_action.validate()?;

    let mut per_nr: BTreeMap<u32, Vec<Resolved<'_>>> = BTreeMap::new();
    for entry in &policy.entries {
        match entry {
            PolicyEntry::Rule(rule) => {
                let nr =
                    table::lookup(&rule.syscall).ok_or_else(|| SeccompError::UnknownSyscall {
                        name: rule.syscall.clone(),
                        arch: SeccompArch::NATIVE,
                    })?;
                rule.action.validate()?;
                if let Some(bad) = rule.conditions.iter().find(|c| c.arg > 5) {
                    return Err(SeccompError::InvalidArgIndex {
                        syscall: rule.syscall.clone(),
                        index: bad.arg,
                    });
                }
                per_nr.entry(nr).or_default().push(Resolved {
                    conditions: &rule.conditions,
                    action: rule.action,
                });
            }
            PolicyEntry::AllowGroup(group) => {
                for &name in group.syscalls() {
                    let Some(nr) = table::lookup(name) else {
                        continue;
                    };
                    let slot = per_nr.entry(nr).or_default();
                    let guard = if group.is_privileged() {
                        None
                    } else {
                        groups::guard(name)
                    };
                    match guard {
                        Some(rules) => slot.extend(rules.iter().map(|rule| Resolved {
                            conditions: &rule.conditions,
                            action: rule.action,
                        })),
                        None => slot.push(Resolved {
                            conditions: &[],
                            action: SeccompAction::Allow,
                        }),
                    }
                }
            }
            PolicyEntry::GroupAction { group, action } => {
                action.validate()?;
                for &name in group.syscalls() {
                    let Some(nr) = table::lookup(name) else {
                        continue;
                    };
                    per_nr.entry(nr).or_default().push(Resolved {
                        conditions: &[],
                        action: *action,
                    });
                }
            }
        }
    }

    let default_ret = policy.default_action.ret();
    let mut rules = 0;
    let mut decisions: BTreeMap<u32, Decision> = BTreeMap::new();
    for &(_, nr) in table::NATIVE {
        let Some(entries) = per_nr.get(&nr) else {
            decisions.insert(nr, Decision::Const(default_ret));
            continue;
        };
        let (decision, counted) = decide(entries, default_ret);
        rules += counted;
        decisions.insert(nr, decision);
    }

    let mut allowed = 0;
    let mut conditional = 0;
    for decision in decisions.values() {
        match decision {
            Decision::Const(ret) if *ret == libc::SECCOMP_RET_ALLOW => allowed += 1,
            Decision::Const(_) => {}
            Decision::Checked { .. } => conditional += 1,
        }
    }

    let program = codegen::generate(
        &decisions,
        table::max_known(),
        policy.unknown_action.ret(),
        table::NATIVE_AUDIT_ARCH,
        cfg!(target_arch = "x86_64"),
    )
    .map_err(|(nr, source)| SeccompError::CodeGeneration {
        syscall: table::NATIVE
            .iter()
            .find(|&&(_, n)| n == nr)
            .map_or_else(|| nr.to_string(), |&(name, _)| name.to_owned()),
        source,
    })?;
    if let Some(pc) = codegen::first_malformed(&program) {
        return Err(SeccompError::Malformed { instruction: pc });
    }
    let len = u16::try_from(program.len())
        .ok()
        .filter(|&len| usize::from(len) <= BPF_MAXINSNS)
        .ok_or(SeccompError::TooLarge {
            instructions: program.len(),
            limit: BPF_MAXINSNS,
        })?;

    let profile = if *policy == SeccompPolicy::default_profile() {
        SeccompProfile::Default
    } else {
        SeccompProfile::Custom
    };
    let report = SeccompReport {
        profile,
        rules,
        allowed_syscalls: allowed,
        conditional_syscalls: conditional,
        instructions: program.len(),
        default_action: policy.default_action,
        unknown_syscall_action: policy.unknown_action,
        arch: SeccompArch::NATIVE,
    };
    Ok(CompiledFilter {
        program: program.into_boxed_slice(),
        len,
        report,
    })
}

/// Resolves the rules for one system call (in policy order) into a
/// decision, and counts the rules that survive shadowing.
fn decide(entries: &[Resolved<'_>], default_ret: u32) -> (Decision, usize) {
    // Last match wins: walk backwards; conditional rules are tried in that
    // order until the first unconditional one, which ends the search.
    let mut checked = Vec::new();
    let mut fallback = None;
    for entry in entries.iter().rev() {
        if entry.conditions.is_empty() {
            fallback = Some(entry.action.ret());
            break;
        }
        checked.push((entry.conditions.to_vec(), entry.action.ret()));
    }
    let explicit = fallback.is_some();
    let fallback = fallback.unwrap_or(default_ret);
    // A check whose action equals what follows it changes nothing.
    while checked.last().is_some_and(|(_, ret)| *ret == fallback) {
        checked.pop();
    }
    let counted = checked.len() + usize::from(explicit);
    if checked.is_empty() {
        (Decision::Const(fallback), counted)
    } else {
        (
            Decision::Checked {
                rules: checked,
                fallback,
            },
            counted,
        )
    }
}

/// Checks, without installing anything, that the running kernel has
/// seccomp filters and supports every action `filter` returns (asked with
/// `SECCOMP_GET_ACTION_AVAIL`, Linux 4.14). Parent side; meant to be probed
/// once per filter so that a missing feature is a typed error before any
/// spawn rather than a failure in the child.
pub(crate) fn check_support(filter: &CompiledFilter) -> Result<(), SeccompError> {
    let mut seen: Vec<u32> = Vec::new();
    for ins in filter
        .instructions()
        .iter()
        .filter(|i| i.code == codegen::RET_K)
    {
        let action = ins.k & libc::SECCOMP_RET_ACTION_FULL;
        if seen.contains(&action) {
            continue;
        }
        seen.push(action);
        match crate::probe::seccomp_action(action) {
            Ok(_) => {}
            Err(Errno(libc::EOPNOTSUPP)) => {
                return Err(SeccompError::ActionUnsupported {
                    action: SeccompAction::from_ret(ins.k),
                });
            }
            Err(errno) => {
                return Err(SeccompError::Unsupported {
                    source: errno.into_io(),
                });
            }
        }
    }
    Ok(())
}

impl CompiledFilter {
    /// The `sock_fprog` describing this filter's program.
    pub(crate) fn fprog(&self) -> libc::sock_fprog {
        libc::sock_fprog {
            len: self.len,
            // The kernel only reads (copies) the program, despite the
            // pointer's `*mut` type.
            filter: self.program.as_ptr().cast_mut(),
        }
    }
}

#[cfg(test)]
mod tests;
