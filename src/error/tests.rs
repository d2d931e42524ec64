//! Every error of the crate says what is wrong in its own one-line
//! `Display`; `io::Error` converts both ways.

use super::*;
use crate::cgroup::{self, Controller, Problem, Unavailable};
use crate::fs::{self, OpName};

/// Checks that `e` on its own is enough to act on: one line that names
/// each of `items` and does not repeat its causes (they are its
/// `source()`, which a caller walks when it wants them).
#[track_caller]
pub(crate) fn assert_actionable(e: &dyn std::error::Error, items: &[&str]) {
    let msg = e.to_string();
    assert!(
        !msg.is_empty() && !msg.contains('\n'),
        "not one line: {msg:?}"
    );
    for item in items {
        assert!(msg.contains(item), "{msg:?} does not name {item:?}");
    }
    let mut cause = e.source();
    while let Some(c) = cause {
        let said = c.to_string();
        assert!(!msg.contains(&said), "{msg:?} repeats its cause {said:?}");
        cause = c.source();
    }
}

pub(crate) fn os(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

/// Which variant `e` is. A new variant does not compile here until it
/// is named, and then fails the tests until it has a sample.
fn error_variant(e: &Error) -> &'static str {
    match e {
        Error::Config(_) => "Config",
        Error::Unsupported(_) => "Unsupported",
        Error::ProgramNotFound { .. } => "ProgramNotFound",
        Error::NotExecutable { .. } => "NotExecutable",
        Error::IsADirectory { .. } => "IsADirectory",
        Error::InterpreterNotFound { .. } => "InterpreterNotFound",
        Error::ArgumentsTooLarge { .. } => "ArgumentsTooLarge",
        Error::WorkingDirectory { .. } => "WorkingDirectory",
        Error::UserNamespaceDenied { .. } => "UserNamespaceDenied",
        Error::ProcMountDenied { .. } => "ProcMountDenied",
        Error::NoIsolation { .. } => "NoIsolation",
        #[cfg(feature = "landlock")]
        Error::Landlock(_) => "Landlock",
        Error::Setup(_) => "Setup",
        Error::Cgroup(_) => "Cgroup",
        Error::Ids(_) => "Ids",
        Error::SupervisorVanished { .. } => "SupervisorVanished",
        Error::ContainerEnded => "ContainerEnded",
        Error::BadReport { .. } => "BadReport",
        Error::Io { .. } => "Io",
        Error::Other(_) => "Other",
    }
}
const ERROR_VARIANTS: usize = 19 + cfg!(feature = "landlock") as usize;

fn config_variant(e: &ConfigError) -> &'static str {
    match e {
        ConfigError::NulByte { .. } => "NulByte",
        ConfigError::EnvName { .. } => "EnvName",
        ConfigError::Hostname { .. } => "Hostname",
        ConfigError::Identity { .. } => "Identity",
        ConfigError::UnmappedId { .. } => "UnmappedId",
        ConfigError::FdTarget { .. } => "FdTarget",
        ConfigError::Fs(_) => "Fs",
        ConfigError::Capabilities(_) => "Capabilities",
        ConfigError::Namespaces { .. } => "Namespaces",
        ConfigError::Rlimit { .. } => "Rlimit",
        ConfigError::Timeout => "Timeout",
        ConfigError::Cgroup { .. } => "Cgroup",
        ConfigError::LandlockNeedsNoNewPrivs => "LandlockNeedsNoNewPrivs",
        ConfigError::NetFilterNeedsSeccomp => "NetFilterNeedsSeccomp",
        ConfigError::TooManyFds { .. } => "TooManyFds",
        ConfigError::InitNeedsPidNamespace => "InitNeedsPidNamespace",
        ConfigError::PtyNeedsDev { .. } => "PtyNeedsDev",
        ConfigError::StartInitNeedsPidNamespace => "StartInitNeedsPidNamespace",
        ConfigError::MountCgroupNeeds => "MountCgroupNeeds",
        ConfigError::SysNeedsNetworkNamespace => "SysNeedsNetworkNamespace",
        ConfigError::MqueueNeedsIpcNamespace => "MqueueNeedsIpcNamespace",
        ConfigError::FilteredNeedsNetworkNamespace => "FilteredNeedsNetworkNamespace",
        ConfigError::PublishNeedsNetworkNamespace => "PublishNeedsNetworkNamespace",
        ConfigError::StopSignal { .. } => "StopSignal",
        ConfigError::EgressRule { .. } => "EgressRule",
        #[cfg(feature = "seccomp")]
        ConfigError::Seccomp(_) => "Seccomp",
        #[cfg(feature = "seccomp")]
        ConfigError::SeccompDeniesExec { .. } => "SeccompDeniesExec",
        #[cfg(feature = "seccomp")]
        ConfigError::SeccompNeedsNoNewPrivs => "SeccompNeedsNoNewPrivs",
    }
}
const CONFIG_VARIANTS: usize = 25 + 3 * cfg!(feature = "seccomp") as usize;

fn config_samples() -> Vec<(ConfigError, Vec<&'static str>)> {
    #[cfg_attr(not(feature = "seccomp"), allow(unused_mut))]
    let mut v = vec![
        (
            ConfigError::NulByte {
                field: Field::Env("LANG".into()),
            },
            vec!["environment variable \"LANG\"", "NUL"],
        ),
        (
            ConfigError::EnvName {
                name: "A=B".into(),
                problem: EnvNameProblem::ContainsEquals,
            },
            vec!["environment variable name \"A=B\"", "'='"],
        ),
        (
            ConfigError::Hostname {
                hostname: "box".into(),
                reason: HostnameProblem::NoUtsNamespace,
            },
            vec!["\"box\"", "Namespaces::UTS"],
        ),
        (
            ConfigError::Identity {
                kind: IdKind::Gid,
                id: 1000,
                reason: IdentityProblem::NeedsUserNamespaceOrRoot,
            },
            vec!["gid 1000", "Namespaces::USER"],
        ),
        (
            ConfigError::UnmappedId {
                kind: IdKind::Uid,
                id: 0,
                mapped: vec![crate::ids::IdRange::new(1000, 1000, 1)],
            },
            vec!["uid 0", "maps only uid 1000"],
        ),
        (
            ConfigError::FdTarget {
                fd: 7,
                reason: FdProblem::Duplicate,
            },
            vec!["fd 7", "twice"],
        ),
        (
            ConfigError::Fs(fs::Error::Mode {
                op: OpName::Dir,
                dest: "/srv".into(),
                mode: 0o17777,
            }),
            vec!["dir", "/srv", "0o17777"],
        ),
        (
            ConfigError::Capabilities(crate::caps::Error::NotHeld {
                cap: crate::caps::Capability::NetAdmin,
            }),
            vec!["CAP_NET_ADMIN"],
        ),
        (
            ConfigError::Namespaces {
                reason: NamespaceProblem::RootfsNeedsMountNamespace,
            },
            vec!["filesystem plan", "Namespaces::MOUNT"],
        ),
        (
            ConfigError::Rlimit {
                resource: crate::rlimit::Rlimit::Nofile,
                soft: 4096,
                hard: 1024,
            },
            vec!["nofile", "4096", "1024"],
        ),
        (ConfigError::Timeout, vec!["timeout", "zero"]),
        (
            ConfigError::Cgroup {
                field: cgroup::Field::PidsMax,
                problem: Problem::Zero,
            },
            vec!["pids_max", "greater than zero"],
        ),
        (
            ConfigError::LandlockNeedsNoNewPrivs,
            vec!["no_new_privs", "CAP_SYS_ADMIN"],
        ),
        (
            ConfigError::NetFilterNeedsSeccomp,
            vec!["Network::Blocked", "seccomp"],
        ),
        (
            ConfigError::TooManyFds {
                count: 300,
                max: 252,
            },
            vec!["300", "252", "container"],
        ),
        (
            ConfigError::InitNeedsPidNamespace,
            vec!["program_as_init", "Namespaces::PID"],
        ),
        (
            ConfigError::PtyNeedsDev {
                reason: PtyProblem::NoDev,
            },
            vec!["pty", "/dev/pts", "Sandbox::dev(false)"],
        ),
        (
            ConfigError::StartInitNeedsPidNamespace,
            vec!["start_init", "Namespaces::PID"],
        ),
        (
            ConfigError::MountCgroupNeeds,
            vec!["mount_cgroup", "Namespaces::CGROUP", "placement"],
        ),
        (
            ConfigError::SysNeedsNetworkNamespace,
            vec!["sys", "/sys", "Namespaces::NET"],
        ),
        (
            ConfigError::MqueueNeedsIpcNamespace,
            vec![
                "mqueue",
                "/dev/mqueue",
                "Namespaces::IPC",
                "dev",
                "user namespace",
            ],
        ),
        (
            ConfigError::FilteredNeedsNetworkNamespace,
            vec!["egress", "network namespace", "Namespaces::NET"],
        ),
        (
            ConfigError::PublishNeedsNetworkNamespace,
            vec!["publish", "network namespace", "Namespaces::NET"],
        ),
        (
            ConfigError::StopSignal { signal: 99 },
            vec!["stop_signal", "99", "1 to 64"],
        ),
        (
            ConfigError::EgressRule {
                option: "allow",
                rule: "*.".into(),
                problem: crate::net::RuleProblem::Wildcard,
            },
            vec!["egress allow rule", "\"*.\"", "*.example.com"],
        ),
    ];
    #[cfg(feature = "seccomp")]
    v.extend([
        (
            ConfigError::Seccomp(crate::seccomp::Error::UnknownSyscall {
                name: "frobnicate".into(),
                arch: crate::seccomp::Arch::X86_64,
            }),
            vec!["frobnicate"],
        ),
        (
            ConfigError::SeccompDeniesExec {
                syscall: "execve".into(),
                action: crate::seccomp::Action::Errno(libc::EPERM as u16),
            },
            vec!["`execve`", "errno(1)", "Policy::allow(\"execve\")"],
        ),
        (
            ConfigError::SeccompNeedsNoNewPrivs,
            vec!["no_new_privs", "Sandbox::seccomp(None)"],
        ),
    ]);
    v
}

fn error_samples() -> Vec<(Error, Vec<&'static str>)> {
    #[cfg_attr(not(feature = "landlock"), allow(unused_mut))]
    let mut v = vec![
        (Error::Config(ConfigError::Timeout), vec!["invalid timeout"]),
        (
            Error::Unsupported(Unsupported {
                feature: Feature::MountApi,
                reason: UnsupportedReason::Kernel,
            }),
            vec!["mount_setattr", "Linux 5.12", "kernel"],
        ),
        (
            Error::ProgramNotFound {
                program: "frobnicate".into(),
                searched: SearchPath::Path("/usr/bin:/bin".into()),
            },
            vec!["\"frobnicate\"", "PATH=/usr/bin:/bin"],
        ),
        (
            Error::NotExecutable {
                path: "/opt/tool".into(),
                source: os(libc::EACCES),
            },
            vec!["/opt/tool"],
        ),
        (
            Error::IsADirectory {
                path: "/etc".into(),
            },
            vec!["/etc", "directory"],
        ),
        (
            Error::InterpreterNotFound {
                script: "/run.sh".into(),
                interpreter: "/bin/zsh".into(),
            },
            vec!["/run.sh", "/bin/zsh"],
        ),
        (
            Error::ArgumentsTooLarge {
                limit: ArgLimit::String {
                    field: Field::Arg(1),
                    len: 2 << 20,
                    max: 128 << 10,
                },
            },
            vec!["argument 1", "2097152 bytes", "131072", "MAX_ARG_STRLEN"],
        ),
        (
            Error::WorkingDirectory {
                path: "/work".into(),
                source: os(libc::ENOENT),
            },
            vec!["/work"],
        ),
        (
            Error::UserNamespaceDenied {
                cause: UsernsBlocker::MaxUserNamespacesZero,
                source: os(libc::EPERM),
            },
            vec!["user namespace", "user.max_user_namespaces"],
        ),
        (
            Error::ProcMountDenied {
                cause: crate::error::ProcBlocker::Overmounted(vec!["/proc/keys".into()]),
                source: os(libc::EPERM),
            },
            vec!["fresh /proc", "/proc/keys", "Isolation::BestAvailable"],
        ),
        (
            Error::NoIsolation {
                refused: vec![crate::ladder::refusal(
                    crate::isolation::Rung::Confinement,
                    &Error::ContainerEnded,
                )],
            },
            vec!["isolation", "confinement"],
        ),
        (
            Error::Setup(SetupError {
                stage: Stage::MountOp,
                target: Some(Target::MountOp {
                    index: Some(2),
                    dest: "/data".into(),
                }),
                source: os(libc::EROFS),
            }),
            vec!["building the filesystem", "#2", "/data"],
        ),
        (
            Error::Cgroup(cgroup::Error::NotCgroup2 {
                path: "/tmp".into(),
            }),
            vec!["/tmp", "cgroup parent"],
        ),
        (
            Error::SupervisorVanished {
                status: Some(crate::ExitStatus::from_raw(libc::SIGKILL)),
            },
            vec!["supervisor", "reported (signal: 9"],
        ),
        (
            Error::BadReport {
                problem: ReportProblem::UnknownStage(99),
            },
            vec!["setup report", "99"],
        ),
        (Error::ContainerEnded, vec!["container has ended"]),
        (
            Error::Ids(crate::ids::Error::NoSubordinateIds {
                kind: IdKind::Uid,
                file: "/etc/subuid".into(),
                user: "alice".into(),
                id: 1000,
            }),
            vec!["/etc/subuid", "alice", "usermod --add-subuids"],
        ),
        (
            Error::Io {
                op: ParentOp::Clone,
                source: os(libc::EAGAIN),
            },
            vec!["clone the sandbox process"],
        ),
        (Error::from(os(libc::EPIPE)), vec!["Broken pipe"]),
    ];
    #[cfg(feature = "landlock")]
    v.extend([
        (
            Error::Landlock(crate::landlock::Error::AddPortRule {
                port: 8080,
                source: os(libc::EINVAL),
            }),
            vec!["Landlock", "8080"],
        ),
        (
            Error::Landlock(crate::landlock::Error::InvalidRule {
                path: "etc".into(),
                reason: crate::landlock::RuleProblem::RelativePath,
            }),
            vec!["\"etc\"", "absolute"],
        ),
        (
            Error::Landlock(crate::landlock::Error::Mirror {
                op: OpName::Tmpfs,
                dest: "/scratch".into(),
            }),
            vec!["tmpfs", "/scratch"],
        ),
    ]);
    v
}

#[test]
fn every_error_says_what_is_wrong_in_one_line() {
    let samples = error_samples();
    for (e, items) in &samples {
        assert_actionable(e, items);
    }
    let seen: std::collections::BTreeSet<_> =
        samples.iter().map(|(e, _)| error_variant(e)).collect();
    assert_eq!(seen.len(), ERROR_VARIANTS, "a variant has no sample");

    let samples = config_samples();
    for (e, items) in &samples {
        assert_actionable(e, items);
    }
    let seen: std::collections::BTreeSet<_> =
        samples.iter().map(|(e, _)| config_variant(e)).collect();
    assert_eq!(seen.len(), CONFIG_VARIANTS, "a variant has no sample");
    // Wrapped, a configuration error says the same thing.
    for (e, items) in config_samples() {
        assert_actionable(&Error::from(e), &items);
    }
}

#[test]
fn the_detail_survives_boxing() {
    // What `?` into `Box<dyn Error>` keeps: the message, not the type.
    let boxed: Box<dyn std::error::Error> = Error::from(ConfigError::Hostname {
        hostname: "".into(),
        reason: HostnameProblem::Empty,
    })
    .into();
    assert_eq!(boxed.to_string(), "invalid hostname \"\": it is empty");
    let boxed: Box<dyn std::error::Error> = Error::Unsupported(Unsupported {
        feature: Feature::CgroupController(Controller::Memory),
        reason: UnsupportedReason::Cgroup(Unavailable::NotDelegated),
    })
    .into();
    assert_actionable(&*boxed, &["memory", "delegated", "Delegate=yes"]);
}

#[test]
fn detail_of_every_kind() {
    for (field, item) in [
        (Field::Program, "program name"),
        (Field::Arg(3), "argument 3"),
        (Field::Env("K".into()), "\"K\""),
        (Field::CurrentDir, "working directory"),
        (Field::Hostname, "hostname"),
        (Field::Path("/p".into()), "\"/p\""),
    ] {
        assert_actionable(&ConfigError::NulByte { field }, &[item]);
    }
    for (problem, item) in [
        (EnvNameProblem::Empty, "it is empty"),
        (EnvNameProblem::ContainsEquals, "contains '='"),
    ] {
        let e = ConfigError::EnvName {
            name: "".into(),
            problem,
        };
        assert_actionable(&e, &["environment variable name \"\"", item]);
    }
    for (limit, items) in [
        (
            ArgLimit::String {
                field: Field::Env("BIG".into()),
                len: 200_000,
                max: 131_072,
            },
            &["environment variable \"BIG\"", "200000", "131072"][..],
        ),
        (
            ArgLimit::Total {
                size: 300_000,
                max: 262_144,
            },
            &["300000", "262144", "RLIMIT_STACK", "raise the stack limit"][..],
        ),
        (
            ArgLimit::Total {
                size: 262_000,
                max: 262_144,
            },
            &["262000", "262144", "RLIMIT_STACK", "script"][..],
        ),
    ] {
        assert_actionable(&Error::ArgumentsTooLarge { limit }, items);
    }
    assert_eq!(
        io::Error::from(Error::ArgumentsTooLarge {
            limit: ArgLimit::Total { size: 2, max: 1 }
        })
        .kind(),
        io::ErrorKind::ArgumentListTooLong
    );
    for (reason, item) in [
        (HostnameProblem::Empty, "empty"),
        (HostnameProblem::TooLong, "64 bytes"),
        (HostnameProblem::NulByte, "NUL"),
        (HostnameProblem::NoUtsNamespace, "UTS"),
    ] {
        let e = ConfigError::Hostname {
            hostname: "h".into(),
            reason,
        };
        assert_actionable(&e, &["\"h\"", item]);
    }
    for (reason, item) in [
        (FdProblem::Negative, "negative"),
        (FdProblem::Stdio, "stdin/stdout/stderr"),
        (FdProblem::Duplicate, "twice"),
    ] {
        assert_actionable(&ConfigError::FdTarget { fd: -1, reason }, &["fd -1", item]);
    }
    assert_actionable(
        &ConfigError::Identity {
            kind: IdKind::Uid,
            id: u32::MAX,
            reason: IdentityProblem::Invalid,
        },
        &["uid 4294967295", "not a valid id"],
    );
    assert_actionable(
        &ConfigError::Namespaces {
            reason: NamespaceProblem::NeedsUserNamespace,
        },
        &["Namespaces::USER"],
    );
    #[cfg(feature = "landlock")]
    assert_actionable(
        &crate::landlock::Error::InvalidRule {
            path: "/a\0b".into(),
            reason: crate::landlock::RuleProblem::NulByte,
        },
        &["/a", "NUL"],
    );
    for (cause, item) in [
        (
            UsernsBlocker::AppArmor,
            "kernel.apparmor_restrict_unprivileged_userns",
        ),
        (
            UsernsBlocker::MaxUserNamespacesZero,
            "user.max_user_namespaces",
        ),
        (
            UsernsBlocker::UnprivilegedUsernsCloneDisabled,
            "kernel.unprivileged_userns_clone",
        ),
        (
            UsernsBlocker::CallerSeccomp { filters: 2 },
            "refuses even unshare(0)",
        ),
        (
            UsernsBlocker::UserNamespacesExhausted { limit: 7 },
            "user.max_user_namespaces (7)",
        ),
        (UsernsBlocker::NestingTooDeep, "32 deep"),
        (UsernsBlocker::SeLinux, "userns_create"),
        (UsernsBlocker::Unknown, "the kernel refused"),
    ] {
        let e = Error::UserNamespaceDenied {
            cause,
            source: os(libc::EPERM),
        };
        assert_actionable(&e, &[item, "Isolation::BestAvailable"]);
    }
    #[cfg_attr(not(feature = "seccomp"), allow(unused_mut))]
    let mut features = vec![
        (Feature::PidFd, "Linux 5.3"),
        (Feature::TimeNamespace, "time namespace"),
        (Feature::MountApi, "mount_setattr"),
        (Feature::Cgroup2, "cgroup v2"),
        (Feature::CgroupController(Controller::Pids), "pids"),
        (Feature::Overlay, "Linux 5.11"),
    ];
    #[cfg(feature = "seccomp")]
    features.extend([
        (Feature::SeccompFilter, "Sandbox::seccomp(None)"),
        (
            Feature::SeccompAction(crate::seccomp::Action::KillProcess),
            "seccomp action",
        ),
    ]);
    for (feature, item) in features {
        for (reason, why) in [
            (UnsupportedReason::Kernel, "kernel"),
            (UnsupportedReason::Blocked, "blocks it"),
            (
                UnsupportedReason::Cgroup(Unavailable::NoInternalProcesses),
                "cgroup::Config::parent",
            ),
        ] {
            assert_actionable(&Unsupported { feature, reason }, &[item, why]);
        }
    }
    for op in [
        ParentOp::CreateReportChannel,
        ParentOp::CreatePipe,
        ParentOp::OpenDevNull,
        ParentOp::DuplicateFd,
        ParentOp::MapStack,
        ParentOp::Clone,
        ParentOp::ReadReport,
        ParentOp::Wait,
        ParentOp::CreateLifeline,
        ParentOp::IdmapSystemView,
        ParentOp::IdMaps,
        ParentOp::StartEgressProxy,
        ParentOp::ObserveDenials,
        ParentOp::Publish(std::net::SocketAddr::from(([127, 0, 0, 1], 8080))),
    ] {
        let e = Error::Io {
            op,
            source: os(libc::EMFILE),
        };
        assert_actionable(&e, &["failed to ", &op.to_string()]);
    }
    for (target, item) in [
        (Target::Path("/x".into()), "(/x)"),
        (Target::Fd(9), "(fd 9)"),
        (
            Target::Rlimit(crate::rlimit::Rlimit::Nproc),
            "(rlimit nproc)",
        ),
        (Target::Port(443), "(port 443)"),
        (
            Target::MountOp {
                index: None,
                dest: "/proc".into(),
            },
            "(default mount on /proc)",
        ),
    ] {
        let e = SetupError {
            stage: Stage::Rlimit,
            target: Some(target),
            source: os(libc::EPERM),
        };
        assert_actionable(&e, &["setting a resource limit", item]);
    }
    let e = SetupError {
        stage: Stage::Signals,
        target: None,
        source: os(libc::EINVAL),
    };
    assert_eq!(
        e.to_string(),
        "failed to set up the sandbox at resetting signals"
    );
    assert_actionable(
        &Error::SupervisorVanished { status: None },
        &["supervisor was killed from outside or crashed before it reported"],
    );
    assert_actionable(
        &Error::ProgramNotFound {
            program: "./a.out".into(),
            searched: SearchPath::Literal,
        },
        &["\"./a.out\"", "the literal path"],
    );
}

#[test]
fn io_errors_compose_both_ways() {
    fn wait_like() -> io::Result<()> {
        Err(os(libc::ECHILD))
    }
    fn caller() -> Result<()> {
        wait_like()?;
        Ok(())
    }
    // In: kept whole, as the source of nothing more.
    let e = caller().unwrap_err();
    assert!(matches!(&e, Error::Other(io) if io.raw_os_error() == Some(libc::ECHILD)));
    // Out: an `Other` gives its io::Error back; the rest keep their
    // message and cause, with a kind that fits.
    let back = io::Error::from(e);
    assert_eq!(back.raw_os_error(), Some(libc::ECHILD));
    let back = io::Error::from(Error::from(ConfigError::Timeout));
    assert_eq!(back.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(
        back.to_string(),
        "invalid timeout: it must be longer than zero"
    );
    let back = io::Error::from(Error::WorkingDirectory {
        path: "/w".into(),
        source: os(libc::ENOENT),
    });
    assert_eq!(back.kind(), io::ErrorKind::NotFound);
    assert!(back.get_ref().is_some_and(|inner| inner.is::<Error>()));
    let cause = std::error::Error::source(&back).and_then(|c| c.downcast_ref::<io::Error>());
    assert_eq!(cause.and_then(io::Error::raw_os_error), Some(libc::ENOENT));
    let back = io::Error::from(Error::Setup(SetupError {
        stage: Stage::MountOp,
        target: None,
        source: os(libc::EACCES),
    }));
    assert_eq!(back.kind(), io::ErrorKind::PermissionDenied);
    let back = io::Error::from(Error::Unsupported(Unsupported {
        feature: Feature::PidFd,
        reason: UnsupportedReason::Kernel,
    }));
    assert_eq!(back.kind(), io::ErrorKind::Unsupported);
}
