//! `linux.seccomp` in the OCI form, lowered to a [`seccomp::Policy`].

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::Error;
use super::walk::{Obj, elem, field, invalid, unsupported};
use crate::seccomp::{self, Action, ArgCondition, ArgOp, SyscallRule};

/// The audit architecture names of the native architecture.
#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH: &str = "SCMP_ARCH_X86_64";
/// The audit architecture names of the native architecture.
#[cfg(target_arch = "aarch64")]
const NATIVE_ARCH: &str = "SCMP_ARCH_AARCH64";

fn action(name: &str, errno: Option<u64>, path: &str, errno_path: &str) -> Result<Action, Error> {
    let a = match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_TRAP" => Action::Trap,
        // Killing the thread is widened to killing the process: stricter.
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" | "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_ERRNO" => {
            let e = errno.unwrap_or(libc::EPERM as u64);
            match u16::try_from(e) {
                Ok(e) if e <= 4095 => Action::Errno(e),
                _ => return Err(invalid(errno_path, "an errno is at most 4095")),
            }
        }
        other => {
            return Err(unsupported(
                path,
                &Value::String(other.into()),
                "stockade's filters allow, log, trap, kill or return an errno (no tracer, no user-space notifier)",
            ));
        }
    };
    if errno.is_some() && !matches!(a, Action::Errno(_)) {
        // runc ignores it there; so may we, but say so rather than guess.
        return Err(invalid(
            errno_path,
            "errnoRet goes only with SCMP_ACT_ERRNO",
        ));
    }
    Ok(a)
}

pub(super) fn lower(v: &Value, path: &str) -> Result<seccomp::Policy, Error> {
    let mut s = Obj::new(v, path)?;
    let Some((default, dp)) = s.string("defaultAction")? else {
        return Err(invalid(
            &field(path, "defaultAction"),
            "required field missing",
        ));
    };
    let default_errno = s.u64("defaultErrnoRet")?;
    let default = action(default, default_errno, &dp, &field(path, "defaultErrnoRet"))?;
    let arches = s.strings("architectures")?;
    if !arches.is_empty() && !arches.iter().any(|(a, _)| *a == NATIVE_ARCH) {
        return Err(unsupported(
            &field(path, "architectures"),
            &Value::String(arches.iter().map(|a| a.0).collect::<Vec<_>>().join(",")),
            format!(
                "stockade filters the native architecture ({NATIVE_ARCH}), which the list leaves out"
            ),
        ));
    }
    s.refuse(
        "flags",
        "stockade installs its filter with flags of its own",
    )?;
    s.refuse("listenerPath", "stockade has no seccomp agent")?;
    s.refuse("listenerMetadata", "stockade has no seccomp agent")?;
    let mut policy = seccomp::Policy::allowlist(default);
    // What the native table does not know answers as the default action
    // does (libseccomp's filters treat every unlisted number alike).
    policy.unknown_syscall_action(default);
    let mut rules = Vec::new();
    if let Some((list, rp)) = s.array("syscalls")? {
        for (i, r) in list.iter().enumerate() {
            lower_rule(&mut rules, r, &elem(&rp, i))?;
        }
    }
    s.finish()?;
    // As libseccomp builds runc's filters: for one system call, the first
    // rule without conditions decides alone (a later one conflicting with
    // it is dropped, and rules with conditions give way to it); otherwise
    // its rules with conditions apply in order (where several match, the
    // later one wins).
    let mut first: HashMap<&str, Action> = HashMap::new();
    for (name, act, conds) in &rules {
        if conds.is_empty() {
            first.entry(name.as_str()).or_insert(*act);
        }
    }
    let mut decided = HashSet::new();
    for (name, act, conds) in &rules {
        if let Some(&decision) = first.get(name.as_str()) {
            if decided.insert(name.as_str()) {
                policy.rule(SyscallRule::new(name.as_str(), decision));
            }
            continue;
        }
        let mut rule = SyscallRule::new(name.as_str(), *act);
        for c in conds {
            rule = rule.when(*c);
        }
        policy.rule(rule);
    }
    policy
        .validate()
        .map_err(|e| invalid(path, format!("the lowered filter does not compile: {e}")))?;
    Ok(policy)
}

/// One system call's rule: its name, action and conditions (all of which
/// must hold; none: always).
type Lowered = (String, Action, Vec<ArgCondition>);

fn lower_rule(out: &mut Vec<Lowered>, r: &Value, rp: &str) -> Result<(), Error> {
    let mut r = Obj::new(r, rp)?;
    let names = r.strings("names")?;
    if names.is_empty() {
        return Err(invalid(
            &field(rp, "names"),
            "a rule names at least one system call",
        ));
    }
    let Some((act, ap)) = r.string("action")? else {
        return Err(invalid(&field(rp, "action"), "required field missing"));
    };
    let errno = r.u64("errnoRet")?;
    let act = action(act, errno, &ap, &field(rp, "errnoRet"))?;
    let mut conds: Vec<ArgCondition> = Vec::new();
    if let Some((args, argp)) = r.array("args")? {
        for (j, a) in args.iter().enumerate() {
            let cp = elem(&argp, j);
            let mut a = Obj::new(a, &cp)?;
            let index = a.u64("index")?;
            let value = a.u64("value")?.unwrap_or(0);
            let two = a.u64("valueTwo")?.unwrap_or(0);
            let op = a.string("op")?;
            a.finish()?;
            let Some(index) = index.filter(|&i| i <= 5) else {
                return Err(invalid(&field(&cp, "index"), "an argument index is 0 to 5"));
            };
            let Some((op, op_path)) = op else {
                return Err(invalid(&field(&cp, "op"), "required field missing"));
            };
            let (op, value) = match op {
                "SCMP_CMP_EQ" => (ArgOp::Eq, value),
                "SCMP_CMP_NE" => (ArgOp::Ne, value),
                "SCMP_CMP_LT" => (ArgOp::Lt, value),
                "SCMP_CMP_LE" => (ArgOp::Le, value),
                "SCMP_CMP_GT" => (ArgOp::Gt, value),
                "SCMP_CMP_GE" => (ArgOp::Ge, value),
                // value is the mask, valueTwo the datum.
                "SCMP_CMP_MASKED_EQ" => (ArgOp::MaskedEq(value), two),
                other => {
                    return Err(unsupported(
                        &op_path,
                        &Value::String(other.into()),
                        "not a comparison of the OCI form",
                    ));
                }
            };
            conds.push(ArgCondition::new(index as u8, op, value));
        }
    }
    r.finish()?;
    // Conditions on distinct arguments all hold at once; several on the
    // same argument are alternatives, one rule each (as runc adds them).
    let mut per_index = [0usize; 6];
    for c in &conds {
        per_index[c.arg() as usize] += 1;
    }
    let alternatives = per_index.iter().any(|&n| n > 1);
    for (name, _) in names {
        if !seccomp::is_native_syscall(name) {
            // A call of another architecture: it cannot be made here.
            continue;
        }
        if alternatives {
            for c in &conds {
                out.push((name.to_owned(), act, vec![*c]));
            }
        } else {
            out.push((name.to_owned(), act, conds.clone()));
        }
    }
    Ok(())
}
