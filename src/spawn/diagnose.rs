//! Turning what went wrong in the child zone into a typed error that names
//! the item from the caller's own plan.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::command::Command;
use crate::compile::Compiled;
use crate::error::{Error, ParentOp, ReportProblem, SearchPath, Stage, Target, UsernsBlocker};
use crate::namespaces::Namespaces;
use crate::record::{self, Record};
use crate::rlimit::Rlimit;
use crate::zone::launch::LaunchError;
use crate::zone::plan::ChildPlan;

fn read_sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// `Name:` of `/proc/self/status`, as a number.
fn status_field(name: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
}

/// Whether a seccomp filter on this process refuses `unshare(0)`, which
/// the kernel itself always allows (it unshares nothing): only a filter
/// answers it with an error, as container runtimes' default profiles do
/// for callers without `CAP_SYS_ADMIN`.
fn own_filter_refuses_unshare() -> bool {
    nix::sched::unshare(nix::sched::CloneFlags::empty()).is_err()
}

/// What blocks user namespaces here, from the evidence: `errno` (EPERM,
/// ENOSPC or EUSERS) and what this process can see of its sysctls, its
/// seccomp filters and the LSMs.
pub(crate) fn diagnose_userns(errno: i32) -> UsernsBlocker {
    match errno {
        libc::ENOSPC => {
            return match read_sysctl("/proc/sys/user/max_user_namespaces")
                .and_then(|v| v.parse::<u64>().ok())
            {
                Some(0) => UsernsBlocker::MaxUserNamespacesZero,
                Some(limit) => UsernsBlocker::UserNamespacesExhausted { limit },
                None => UsernsBlocker::Unknown,
            };
        }
        libc::EUSERS => return UsernsBlocker::NestingTooDeep,
        _ => {}
    }
    let filtered = status_field("Seccomp") == Some(2);
    let filters = || status_field("Seccomp_filters").unwrap_or(0) as u32;
    if errno == libc::ENOSYS {
        // Every kernel has clone: only a filter answers it so (podman's
        // default profile, for namespace flags).
        return if filtered {
            UsernsBlocker::CallerSeccomp { filters: filters() }
        } else {
            UsernsBlocker::Unknown
        };
    }
    if filtered && own_filter_refuses_unshare() {
        return UsernsBlocker::CallerSeccomp { filters: filters() };
    }
    let root = nix::unistd::geteuid().is_root();
    if !root && read_sysctl("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return UsernsBlocker::UnprivilegedUsernsCloneDisabled;
    }
    if read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1")
        && read_sysctl("/sys/module/apparmor/parameters/enabled").as_deref() == Some("Y")
    {
        return UsernsBlocker::AppArmor;
    }
    if read_sysctl("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return UsernsBlocker::MaxUserNamespacesZero;
    }
    if read_sysctl("/sys/fs/selinux/enforce").as_deref() == Some("1") {
        return UsernsBlocker::SeLinux;
    }
    UsernsBlocker::Unknown
}

/// What hides part of this process's `/proc`: the mounts below it, from
/// `/proc/self/mountinfo` (the first four).
pub(crate) fn diagnose_proc() -> crate::error::ProcBlocker {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return crate::error::ProcBlocker::Unknown;
    };
    let mut over: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with("/proc/"))
        .map(PathBuf::from)
        .collect();
    over.dedup();
    if over.is_empty() {
        return crate::error::ProcBlocker::Unknown;
    }
    over.truncate(4);
    crate::error::ProcBlocker::Overmounted(over)
}

/// Turns a child-side failure record into a typed error, naming the item from
/// the parent's plan.
/// `program` is the command and its search path; `None` for a container's
/// start, which runs no program.
pub(super) fn setup_error(
    rec: &Record,
    program: Option<(&Command, &SearchPath)>,
    plan: &ChildPlan<'_>,
    compiled: &Compiled,
    ns: Namespaces,
) -> Error {
    let userns = ns.contains(Namespaces::USER);
    let errno = rec.errno;
    let source = io::Error::from_raw_os_error(errno);
    let Some(stage) = Stage::from_u32(rec.stage) else {
        return Error::BadReport {
            problem: ReportProblem::UnknownStage(rec.stage),
        };
    };
    let candidate = |i: u32| -> PathBuf {
        plan.exec
            .candidates
            .get(i as usize)
            .map(|c| PathBuf::from(OsStr::from_bytes(c.as_bytes())))
            .unwrap_or_else(|| {
                PathBuf::from(program.map_or("".as_ref(), |p| p.0.program.as_os_str()))
            })
    };
    match stage {
        Stage::Exec if program.is_some() => {
            if rec.flags & record::FLAG_INTERPRETER != 0 {
                return Error::InterpreterNotFound {
                    script: candidate(rec.index),
                    interpreter: PathBuf::from(OsStr::from_bytes(rec.detail())),
                };
            }
            match errno {
                libc::E2BIG => {
                    let path = plan.exec.candidates.get(rec.index as usize);
                    let stack = plan
                        .rlimits
                        .iter()
                        .find(|(res, _)| *res == libc::RLIMIT_STACK as libc::c_int)
                        .map(|(_, lim)| lim.rlim_cur);
                    Error::ArgumentsTooLarge {
                        limit: crate::error::ArgLimit::Total {
                            size: super::argv::arg_size(
                                &plan.exec,
                                path.map_or(c"", |p| p.as_c_str()),
                            ),
                            max: super::argv::arg_room(stack),
                        },
                    }
                }
                libc::ENOENT => match program {
                    Some((cmd, search)) => Error::ProgramNotFound {
                        program: cmd.program.clone(),
                        searched: search.clone(),
                    },
                    None => Error::NotExecutable {
                        path: candidate(rec.index),
                        source,
                    },
                },
                libc::EISDIR => Error::IsADirectory {
                    path: candidate(rec.index),
                },
                _ => Error::NotExecutable {
                    path: candidate(rec.index),
                    source,
                },
            }
        }
        Stage::Chdir => Error::WorkingDirectory {
            path: plan
                .cwd
                .as_ref()
                .map(|c| PathBuf::from(OsStr::from_bytes(c.as_bytes())))
                .unwrap_or_default(),
            source,
        },
        Stage::SetGroups | Stage::UidMap | Stage::GidMap if userns && errno == libc::EPERM => {
            Error::UserNamespaceDenied {
                cause: diagnose_userns(errno),
                source,
            }
        }
        Stage::RootMount | Stage::MountOp | Stage::PivotRoot if errno == libc::ENOSYS => {
            // fsopen, open_tree, move_mount, mount_setattr or openat2 is
            // missing: a kernel before 5.12, or a filter that answers
            // unknown system calls with ENOSYS.
            Error::Unsupported(crate::error::Unsupported {
                feature: crate::error::Feature::MountApi,
                reason: if crate::probe::kernel_at_least(5, 12) {
                    crate::error::UnsupportedReason::Blocked
                } else {
                    crate::error::UnsupportedReason::Kernel
                },
            })
        }
        Stage::RootMount
            if errno == libc::ENODEV
                && compiled.mounts.as_ref().is_some_and(|m| {
                    matches!(
                        m.root,
                        crate::fs::plan::RootSpec::Overlay { .. }
                            | crate::fs::plan::RootSpec::Layers { .. }
                    )
                }) =>
        {
            // The writable root's overlay: no overlayfs in this kernel.
            Error::Unsupported(crate::error::Unsupported {
                feature: crate::error::Feature::Overlay,
                reason: crate::error::UnsupportedReason::Kernel,
            })
        }
        Stage::MountOp => {
            let target = compiled
                .mounts
                .as_ref()
                .and_then(|m| m.origin.get(rec.index as usize))
                .map(|(index, dest)| Target::MountOp {
                    index: *index,
                    dest: dest.clone(),
                });
            let fresh_proc = matches!(
                &target,
                Some(Target::MountOp { index: None, dest }) if dest == Path::new("/proc")
            ) && ns.contains(Namespaces::PID);
            if fresh_proc && errno == libc::EPERM {
                return Error::ProcMountDenied {
                    cause: diagnose_proc(),
                    source,
                };
            }
            crate::error::SetupError {
                stage,
                target,
                source,
            }
            .into()
        }
        Stage::Fds => crate::error::SetupError {
            stage,
            target: Some(Target::Fd(rec.index as i32)),
            source,
        }
        .into(),
        Stage::Rlimit => {
            let limit = compiled
                .rlimit_order
                .get(rec.index as usize)
                .copied()
                .or_else(|| {
                    let i = (rec.index as usize).checked_sub(plan.rlimits.len())?;
                    let res = plan.fallback_rlimits.get(i)?.0;
                    Rlimit::all().find(|r| r.resource() == res)
                });
            crate::error::SetupError {
                stage,
                target: limit.map(Target::Rlimit),
                source,
            }
            .into()
        }
        #[cfg(feature = "landlock")]
        Stage::Landlock => crate::error::SetupError {
            stage,
            target: compiled
                .landlock
                .as_ref()
                .and_then(|l| l.rule_name(rec.index))
                .map(|rule| match rule {
                    crate::landlock::RuleName::Path(p) => Target::Path(p.to_owned()),
                    crate::landlock::RuleName::Port(p) => Target::Port(p),
                }),
            source,
        }
        .into(),
        _ => crate::error::SetupError {
            stage,
            target: None,
            source,
        }
        .into(),
    }
}

/// Turns a failed launch into a typed error.
pub(super) fn launch_error(e: LaunchError, ns: Namespaces) -> Error {
    match e {
        LaunchError::MapStack(source) => Error::Io {
            op: ParentOp::MapStack,
            source,
        },
        LaunchError::Clone(errno)
            if ns.contains(Namespaces::USER)
                && matches!(
                    errno.0,
                    libc::EPERM | libc::ENOSPC | libc::EUSERS | libc::ENOSYS
                ) =>
        {
            Error::UserNamespaceDenied {
                cause: diagnose_userns(errno.0),
                source: errno.into_io(),
            }
        }
        LaunchError::Clone(errno) => Error::Io {
            op: ParentOp::Clone,
            source: errno.into_io(),
        },
        LaunchError::SystemTrees(errno) => Error::Io {
            op: ParentOp::IdmapSystemView,
            source: errno.into_io(),
        },
    }
}
