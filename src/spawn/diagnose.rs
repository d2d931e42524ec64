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

/// Guesses what blocks unprivileged user namespaces on this host.
fn diagnose_userns() -> UsernsBlocker {
    if read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1")
    {
        return UsernsBlocker::AppArmor;
    }
    if read_sysctl("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return UsernsBlocker::MaxUserNamespacesZero;
    }
    if read_sysctl("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return UsernsBlocker::UnprivilegedUsernsCloneDisabled;
    }
    let in_container = Path::new("/.dockerenv").exists()
        || Path::new("/run/.containerenv").exists()
        || std::fs::read_to_string("/proc/1/cgroup").is_ok_and(|s| {
            s.contains("docker") || s.contains("containerd") || s.contains("kubepods")
        });
    if in_container {
        return UsernsBlocker::ContainerSeccomp;
    }
    UsernsBlocker::Unknown
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
                cause: diagnose_userns(),
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
                    matches!(m.root, crate::fs::plan::RootSpec::Overlay { .. })
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
                && matches!(errno.0, libc::EPERM | libc::ENOSPC | libc::EUSERS) =>
        {
            Error::UserNamespaceDenied {
                cause: diagnose_userns(),
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
