//! seccomp-bpf system call filtering (Linux 3.17+ for the `seccomp` system
//! call; Linux 4.14+ for [`Action::KillProcess`] and
//! [`Action::Log`]).
//!
//! A [`Policy`] is compiled once, in the parent, into a classic BPF
//! program that the sandbox stores and installs in every child just before
//! `execve`.

mod codegen;
mod error;
mod groups;
pub(crate) mod notify;
mod policy;
mod prebuilt;
mod raw;
mod report;
mod rule;
mod table;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

pub use error::Error;
pub use groups::SyscallGroup;
pub use policy::Policy;
pub(crate) use policy::{PolicyEntry, add_net_filter};
pub use raw::Program;
pub use report::{Arch, Profile, Report};
pub use rule::{Action, ArgCondition, ArgOp, ArgWidth, SyscallRule};
#[cfg(test)]
pub(crate) use table::max_known;

use crate::sys::raw::Errno;
use codegen::Decision;
use table::Target;

/// Whether the native system call table knows `name` (OCI profiles list
/// calls of every architecture; those of others are left out).
#[cfg(feature = "serde")]
pub(crate) fn is_native_syscall(name: &str) -> bool {
    table::lookup(name).is_some()
}

/// The largest program the kernel accepts (`BPF_MAXINSNS`).
const BPF_MAXINSNS: usize = 4096;
/// The largest errno the kernel passes through (`MAX_ERRNO`); larger values
/// are clamped by the kernel, so the compiler rejects them.
const MAX_ERRNO: u16 = 4095;

impl Policy {
    /// Compiles the policy and reports what it would enforce, without
    /// installing anything.
    pub fn validate(&self) -> Result<Report, Error> {
        compile(self).map(|filter| filter.report)
    }

    /// Compiles the policy into the classic BPF program the kernel runs, for
    /// inspection or for installing by other means (for example
    /// `bwrap --seccomp FD` reads this format).
    pub fn to_bpf(&self) -> Result<Vec<libc::sock_filter>, Error> {
        compile(self).map(|filter| filter.program.into_owned())
    }
}

/// Refuses an action the kernel would not return as given: an errno above
/// 4095.
fn check_action(action: Action) -> Result<(), Error> {
    match action {
        Action::Errno(errno) if errno > MAX_ERRNO => Err(Error::InvalidErrno { errno }),
        _ => Ok(()),
    }
}

/// A compiled policy: the BPF program and its report. Immutable; meant to be
/// shared (`Arc`) between every spawn of a sandbox.
pub(crate) struct CompiledFilter {
    program: Cow<'static, [libc::sock_filter]>,
    /// `program.len()`, checked at compile time to fit `sock_fprog::len`.
    len: u16,
    report: Report,
    /// The decision for each known system call.
    decisions: Decisions,
    /// The notifying form of `program` (see [`notify`]) and its length,
    /// when anything notifies.
    notify: Option<(Cow<'static, [libc::sock_filter]>, u16)>,
    observes_writes: bool,
}

/// What a program decides for each known system call.
enum Decisions {
    /// Compiled here: every decision, by number.
    Compiled(BTreeMap<u32, Decision>),
    /// Prebuilt: the constant decisions (number, return value), sorted by
    /// number; a known call that is not listed depends on its arguments.
    Prebuilt(&'static [(u32, u32)]),
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
    /// The notifying form's instructions (tests).
    #[cfg(test)]
    pub(crate) fn notify_instructions(&self) -> Option<&[libc::sock_filter]> {
        self.notify.as_ref().map(|(p, _)| &p[..])
    }

    /// The BPF program.
    pub(crate) fn instructions(&self) -> &[libc::sock_filter] {
        &self.program
    }

    /// What the program enforces.
    pub(crate) fn report(&self) -> &Report {
        &self.report
    }

    /// The action the program returns for the native system call
    /// `syscall` whatever its arguments; `None` when that depends on the
    /// arguments, or when the name is not in the native table.
    pub(crate) fn constant_action(&self, syscall: &str) -> Option<Action> {
        match &self.decisions {
            Decisions::Compiled(map) => match map.get(&table::lookup(syscall)?)? {
                Decision::Const(ret) => Some(Action::from_ret(*ret)),
                Decision::Checked { .. } => None,
            },
            // A look through the table: a one-shot caller asks a couple of
            // times, not worth building the table's index for.
            Decisions::Prebuilt(consts) => {
                let nr = table::NATIVE
                    .iter()
                    .find(|&&(name, _)| name == syscall)
                    .map(|&(_, nr)| nr)?;
                consts
                    .binary_search_by_key(&nr, |&(n, _)| n)
                    .ok()
                    .and_then(|i| consts.get(i))
                    .map(|&(_, ret)| Action::from_ret(ret))
            }
        }
    }
}

/// One rule resolved to a system call number, in policy order.
struct Resolved<'a> {
    conditions: &'a [ArgCondition],
    action: Action,
}

/// Compiles `policy` for the native architecture.
pub(crate) fn compile(policy: &Policy) -> Result<CompiledFilter, Error> {
    compile_observing(policy, false)
}

/// Compiles `policy`, with a notifying form that also notifies the writes
/// the policy allows when `writes` (see [`notify`]).
pub(crate) fn compile_observing(policy: &Policy, writes: bool) -> Result<CompiledFilter, Error> {
    // The default profile's programs were generated when the crate was
    // written (see `prebuilt`): nothing to compile. (Its write-observing
    // form depends on the kernel; it is compiled.)
    if !writes && *policy == Policy::default_profile() {
        return Ok(prebuilt::default_filter(policy));
    }
    compile_for(policy, writes, Target::native())
}

/// Compiles `policy` for `target` (see [`compile_observing`]).
fn compile_for(policy: &Policy, writes: bool, target: Target) -> Result<CompiledFilter, Error> {
    check_action(policy.default_action)?;
    check_action(policy.unknown_action)?;

    let guards = groups::guards();
    let mut per_nr: BTreeMap<u32, Vec<Resolved<'_>>> = BTreeMap::new();
    for entry in &policy.entries {
        match entry {
            PolicyEntry::Rule(rule) => {
                let nr = target
                    .lookup(&rule.syscall)
                    .ok_or_else(|| Error::UnknownSyscall {
                        name: rule.syscall.clone(),
                        arch: target.arch,
                    })?;
                check_action(rule.action)?;
                if let Some(bad) = rule.conditions.iter().find(|c| c.arg > 5) {
                    return Err(Error::InvalidArgIndex {
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
                    let Some(nr) = target.lookup(name) else {
                        continue;
                    };
                    let slot = per_nr.entry(nr).or_default();
                    let guard = if group.is_privileged() {
                        None
                    } else {
                        guards.get(name)
                    };
                    match guard {
                        Some(rules) => slot.extend(rules.iter().map(|rule| Resolved {
                            conditions: &rule.conditions,
                            action: rule.action,
                        })),
                        None => slot.push(Resolved {
                            conditions: &[],
                            action: Action::Allow,
                        }),
                    }
                }
            }
            PolicyEntry::GroupAction { group, action } => {
                check_action(*action)?;
                for &name in group.syscalls() {
                    let Some(nr) = target.lookup(name) else {
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
    for &(_, nr) in target.table {
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
        target.max_known(),
        policy.unknown_action.ret(),
        target.audit_arch,
        target.x32,
    )
    .map_err(|(nr, source)| Error::CodeGeneration {
        syscall: target
            .table
            .iter()
            .find(|&&(_, n)| n == nr)
            .map_or_else(|| nr.to_string(), |&(name, _)| name.to_owned()),
        source,
    })?;
    if let Some(pc) = codegen::first_malformed(&program) {
        return Err(Error::Malformed { instruction: pc });
    }
    let len = u16::try_from(program.len())
        .ok()
        .filter(|&len| usize::from(len) <= BPF_MAXINSNS)
        .ok_or(Error::TooLarge {
            instructions: program.len(),
            limit: BPF_MAXINSNS,
        })?;

    let profile = if *policy == Policy::default_profile() {
        Profile::Default
    } else {
        Profile::Custom
    };
    let report = Report {
        profile,
        rules,
        allowed_syscalls: allowed,
        conditional_syscalls: conditional,
        instructions: program.len(),
        default_action: policy.default_action,
        unknown_syscall_action: policy.unknown_action,
        arch: target.arch,
    };
    // The notifying form; the writes are observed where the kernel lets
    // a notified call go on (SECCOMP_USER_NOTIF_FLAG_CONTINUE, Linux 5.5).
    // Not when the policy lets the program stall the observer's look at
    // its paths (see `crate::denials::observer`).
    let refused = |name: &str| {
        target
            .lookup(name)
            .and_then(|nr| decisions.get(&nr))
            .is_some_and(|d| match d {
                Decision::Const(ret) => matches!(
                    ret & libc::SECCOMP_RET_ACTION_FULL,
                    libc::SECCOMP_RET_ERRNO
                        | libc::SECCOMP_RET_KILL_PROCESS
                        | libc::SECCOMP_RET_KILL_THREAD
                ),
                Decision::Checked { .. } => false,
            })
    };
    let writes = writes
        && crate::probe::kernel_at_least(5, 5)
        && ["userfaultfd", "mount", "fsmount", "move_mount"]
            .into_iter()
            .all(refused);
    let notify = notify::notifying_decisions(&decisions, writes, &target)
        .and_then(|d| {
            codegen::generate(
                &d,
                target.max_known(),
                policy.unknown_action.ret(),
                target.audit_arch,
                target.x32,
            )
            .ok()
        })
        .filter(|p| codegen::first_malformed(p).is_none())
        .and_then(|p| {
            let len = u16::try_from(p.len())
                .ok()
                .filter(|&l| usize::from(l) <= BPF_MAXINSNS)?;
            Some((Cow::Owned(p), len))
        });
    Ok(CompiledFilter {
        program: Cow::Owned(program),
        len,
        report,
        decisions: Decisions::Compiled(decisions),
        observes_writes: writes && notify.is_some(),
        notify,
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
pub(crate) fn check_support(filter: &CompiledFilter) -> Result<(), Error> {
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
                return Err(Error::ActionUnsupported {
                    action: Action::from_ret(ins.k),
                });
            }
            Err(errno) => {
                return Err(Error::Unsupported {
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

    /// Whether the notifying form notifies the writes the filter allows
    /// (Linux 5.5, see [`notify`]).
    pub(crate) fn observes_writes(&self) -> bool {
        self.observes_writes
    }

    /// The `sock_fprog` describing the notifying form, if there is one.
    pub(crate) fn notify_fprog(&self) -> Option<libc::sock_fprog> {
        self.notify.as_ref().map(|(p, len)| libc::sock_fprog {
            len: *len,
            // As above: only read.
            filter: p.as_ptr().cast_mut(),
        })
    }
}

#[cfg(test)]
mod tests;
