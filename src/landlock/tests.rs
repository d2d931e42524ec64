//! Tests of the pure parts (resolution, lowering, mirroring, reports) for
//! any ABI, and of preparation against the running kernel where nothing
//! irreversible happens. What restricts a process runs in forked children:
//! `crate::zone::landlock`'s tests and `tests/landlock*.rs`.

use std::path::{Path, PathBuf};

use super::lower::{RuleName, View, lower};
use super::policy::FsRule;
use super::prepare::{prepare, prepare_with};
use super::resolve::{KernelAbi, build_report, kernel_abi, resolve};
use super::*;
use crate::compat::CompatLevel;
use crate::sys::landlock::{LandlockNetPortAttr, LandlockRulesetAttr};
use crate::zone::landlock::{INDEX_CREATE, INDEX_RESTRICT};

/// A kernel with Landlock ABI `v`.
fn at(v: u32) -> KernelAbi {
    KernelAbi::Available(Abi::from_kernel(v).unwrap())
}

fn fs_policy() -> Policy {
    let mut p = Policy::new();
    p.allow_read("/usr").allow_read_write("/tmp");
    p
}

#[test]
fn bits_match_the_kernel_and_the_landlock_crate() {
    use ::landlock::{AccessFs, AccessNet, Scope as CrateScope};
    let pairs: &[(FsAccess, AccessFs)] = &[
        (FsAccess::EXECUTE, AccessFs::Execute),
        (FsAccess::WRITE_FILE, AccessFs::WriteFile),
        (FsAccess::READ_FILE, AccessFs::ReadFile),
        (FsAccess::READ_DIR, AccessFs::ReadDir),
        (FsAccess::REMOVE_DIR, AccessFs::RemoveDir),
        (FsAccess::REMOVE_FILE, AccessFs::RemoveFile),
        (FsAccess::MAKE_CHAR, AccessFs::MakeChar),
        (FsAccess::MAKE_DIR, AccessFs::MakeDir),
        (FsAccess::MAKE_REG, AccessFs::MakeReg),
        (FsAccess::MAKE_SOCK, AccessFs::MakeSock),
        (FsAccess::MAKE_FIFO, AccessFs::MakeFifo),
        (FsAccess::MAKE_BLOCK, AccessFs::MakeBlock),
        (FsAccess::MAKE_SYM, AccessFs::MakeSym),
        (FsAccess::REFER, AccessFs::Refer),
        (FsAccess::TRUNCATE, AccessFs::Truncate),
        (FsAccess::IOCTL_DEV, AccessFs::IoctlDev),
        (FsAccess::RESOLVE_UNIX, AccessFs::ResolveUnix),
    ];
    for (ours, theirs) in pairs {
        assert_eq!(ours.bits(), *theirs as u64, "{ours:?}");
    }
    assert_eq!(pairs.len(), FsAccess::all().iter().count());
    assert_eq!(NetAccess::BIND_TCP.bits(), AccessNet::BindTcp as u64);
    assert_eq!(NetAccess::CONNECT_TCP.bits(), AccessNet::ConnectTcp as u64);
    assert_eq!(NetAccess::BIND_UDP.bits(), AccessNet::BindUdp as u64);
    assert_eq!(
        NetAccess::CONNECT_SEND_UDP.bits(),
        AccessNet::ConnectSendUdp as u64
    );
    assert_eq!(
        Scope::ABSTRACT_UNIX_SOCKET.bits(),
        CrateScope::AbstractUnixSocket as u64
    );
    assert_eq!(Scope::SIGNAL.bits(), CrateScope::Signal as u64);
}

#[test]
fn supported_rights_follow_the_abi_table() {
    use ::landlock::{ABI, Access, AccessFs, AccessNet, Scope as CrateScope};
    let abis = [
        ABI::V1,
        ABI::V2,
        ABI::V3,
        ABI::V4,
        ABI::V5,
        ABI::V6,
        ABI::V7,
        ABI::V8,
        ABI::V9,
        ABI::V10,
    ];
    for (i, abi) in abis.into_iter().enumerate() {
        let v = Abi::from_kernel(i as u32 + 1).unwrap();
        assert_eq!(v.version(), abi as u32);
        assert_eq!(
            FsAccess::supported_by(v).bits(),
            AccessFs::from_all(abi).bits(),
            "fs at ABI {v}"
        );
        assert_eq!(
            NetAccess::supported_by(v).bits(),
            AccessNet::from_all(abi).bits(),
            "net at ABI {v}"
        );
        assert_eq!(
            Scope::supported_by(v).bits(),
            CrateScope::from_all(abi).bits(),
            "scopes at ABI {v}"
        );
    }
    assert_eq!(abis.len(), Abi::NEWEST.version() as usize);
    assert_eq!(FsAccess::FILE.bits(), AccessFs::from_file(ABI::V10).bits());
}

#[test]
fn bundles() {
    assert!(FsAccess::WRITE.contains(FsAccess::TRUNCATE | FsAccess::IOCTL_DEV));
    assert!(FsAccess::WRITE.contains(FsAccess::REFER));
    assert!(!FsAccess::WRITE.contains(FsAccess::RESOLVE_UNIX));
    assert!(!FsAccess::DEFAULT_HANDLED.contains(FsAccess::RESOLVE_UNIX));
    assert_eq!(FsAccess::DEFAULT_HANDLED, FsAccess::supported_by(Abi::V5));
    assert!((FsAccess::READ & FsAccess::WRITE).is_empty());
}

#[test]
fn features_name_abi_and_kernel() {
    assert_eq!(Feature::FsTruncate.abi(), Abi::V3);
    assert_eq!(Feature::FsTruncate.linux_version(), "6.2");
    assert_eq!(Feature::NetBindTcp.linux_version(), "6.7");
    assert_eq!(Feature::FsIoctlDev.linux_version(), "6.10");
    assert_eq!(Feature::ScopeSignal.linux_version(), "6.12");
    assert_eq!(
        Feature::FsTruncate.to_string(),
        "the truncate right (Landlock ABI 3, Linux 6.2)"
    );
}

#[test]
fn empty_policy_requests_nothing() {
    let p = Policy::new();
    assert!(p.is_empty());
    let r = resolve(&p, at(7)).unwrap();
    let report = build_report(&r, false, Vec::new());
    assert_eq!(report.status, Status::NotRequested);
    assert_eq!(report.fs_read, Status::NotRequested);
    // Even without Landlock an empty policy is fine.
    let r = resolve(&p, KernelAbi::Unavailable(Unavailable::NotEnabled)).unwrap();
    assert!(r.missing.is_empty());
}

#[test]
fn handled_rights_include_rule_rights() {
    let mut p = Policy::new();
    p.handle_fs(FsAccess::READ_FILE)
        .allow("/tmp", FsAccess::WRITE_FILE);
    assert_eq!(p.fs_requested(), FsAccess::READ_FILE | FsAccess::WRITE_FILE);
    let mut p = Policy::new();
    p.allow("/tmp", FsAccess::RESOLVE_UNIX);
    assert_eq!(
        p.fs_requested(),
        FsAccess::DEFAULT_HANDLED | FsAccess::RESOLVE_UNIX
    );
    let mut p = Policy::new();
    p.restrict_fs();
    assert_eq!(p.fs_requested(), FsAccess::DEFAULT_HANDLED);
    assert!(!p.is_empty());
}

#[test]
fn hard_requirement_names_the_missing_right() {
    let p = fs_policy();
    // ABI 2 (Linux 6.1): truncate is the first thing missing.
    match resolve(&p, at(2)) {
        Err(Error::Unsupported {
            group: Group::Filesystem,
            feature: Feature::FsTruncate,
            kernel_abi: Abi::V2,
        }) => {}
        other => panic!("unexpected {other:?}"),
    }
    // ABI 4: device ioctl.
    match resolve(&p, at(4)) {
        Err(Error::Unsupported {
            feature: Feature::FsIoctlDev,
            ..
        }) => {}
        other => panic!("unexpected {other:?}"),
    }
    assert!(resolve(&p, at(5)).is_ok());
    let err = resolve(&p, at(2)).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("failed to "), "{msg}");
    assert!(msg.contains("Linux 6.2"), "{msg}");
}

#[test]
fn refer_on_abi_1_is_not_a_missing_right() {
    let mut p = Policy::new();
    p.handle_fs(FsAccess::supported_by(Abi::V1) | FsAccess::REFER);
    let r = resolve(&p, at(1)).unwrap();
    assert!(r.missing.is_empty());
    assert_eq!(r.notes, vec![Note::ReferAlwaysDenied]);
    assert!(!r.fs.contains(FsAccess::REFER));
    let report = build_report(&r, true, Vec::new());
    assert_eq!(report.fs_write, Status::FullyEnforced);
    assert_eq!(report.status, Status::FullyEnforced);
}

#[test]
fn best_effort_reports_what_is_missing() {
    let mut p = fs_policy();
    p.allow_tcp_connect(443)
        .scope(Scope::SIGNAL)
        .compat(CompatLevel::BestEffort);
    let r = resolve(&p, at(2)).unwrap();
    assert_eq!(
        r.missing,
        vec![
            Feature::FsTruncate,
            Feature::NetConnectTcp,
            Feature::FsIoctlDev,
            Feature::ScopeSignal,
        ]
    );
    assert!(r.net.is_empty());
    assert!(r.scopes.is_empty());
    let report = build_report(&r, true, Vec::new());
    assert_eq!(report.abi, Some(Abi::V2));
    assert_eq!(report.fs_read, Status::FullyEnforced);
    assert_eq!(report.fs_write, Status::FullyEnforced);
    assert_eq!(report.fs_exec, Status::FullyEnforced);
    assert_eq!(report.fs_truncate, Status::NotEnforced);
    assert_eq!(report.fs_ioctl_dev, Status::NotEnforced);
    assert_eq!(report.fs_resolve_unix, Status::NotRequested);
    assert_eq!(report.net_bind, Status::NotRequested);
    assert_eq!(report.net_connect, Status::NotEnforced);
    assert_eq!(report.scope_signal, Status::NotEnforced);
    assert_eq!(report.scope_abstract_unix_socket, Status::NotRequested);
    assert_eq!(report.status, Status::PartiallyEnforced);
}

#[test]
fn groups_have_their_own_compat_level() {
    let mut p = fs_policy();
    p.allow_tcp_bind(80).net_compat(CompatLevel::BestEffort);
    // The network group may degrade on ABI 3, the fs group may not.
    match resolve(&p, at(3)) {
        Err(Error::Unsupported {
            group: Group::Filesystem,
            feature: Feature::FsIoctlDev,
            ..
        }) => {}
        other => panic!("unexpected {other:?}"),
    }
    let r = resolve(&p, at(5)).unwrap();
    assert_eq!(r.net, NetAccess::BIND_TCP);
    assert!(r.missing.is_empty());
    p.fs_compat(CompatLevel::BestEffort)
        .net_compat(CompatLevel::HardRequirement);
    match resolve(&p, at(3)) {
        Err(Error::Unsupported {
            group: Group::Network,
            feature: Feature::NetBindTcp,
            kernel_abi: Abi::V3,
        }) => {}
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn partial_group_status() {
    let mut p = Policy::new();
    p.allow_net(53, NetAccess::CONNECT_TCP | NetAccess::CONNECT_SEND_UDP)
        .net_compat(CompatLevel::BestEffort);
    let r = resolve(&p, at(7)).unwrap();
    assert_eq!(r.missing, vec![Feature::NetConnectSendUdp]);
    let report = build_report(&r, true, Vec::new());
    assert_eq!(report.net_connect, Status::PartiallyEnforced);
    assert_eq!(report.status, Status::PartiallyEnforced);
    let r = resolve(&p, at(10)).unwrap();
    let report = build_report(&r, true, Vec::new());
    assert_eq!(report.net_connect, Status::FullyEnforced);
    assert_eq!(report.status, Status::FullyEnforced);
}

#[test]
fn unavailable_landlock() {
    let p = fs_policy();
    let reason = Unavailable::NotImplemented;
    match resolve(&p, KernelAbi::Unavailable(reason)) {
        Err(Error::Unavailable {
            group: Group::Filesystem,
            reason: Unavailable::NotImplemented,
        }) => {}
        other => panic!("unexpected {other:?}"),
    }
    let mut p = fs_policy();
    p.compat(CompatLevel::BestEffort);
    let r = resolve(&p, KernelAbi::Unavailable(reason)).unwrap();
    assert_eq!(r.missing.first(), Some(&Feature::Filesystem));
    let report = build_report(&r, false, Vec::new());
    assert_eq!(report.abi, None);
    assert_eq!(report.unavailable, Some(reason));
    assert_eq!(report.status, Status::NotEnforced);
    assert_eq!(report.fs_read, Status::NotEnforced);
}

#[test]
fn mirror_mounts_grants_the_union() {
    let p = Policy::mirror_mounts(["/usr", "/etc"], ["/tmp"], ["/usr"]);
    assert_eq!(
        p.fs_rules,
        vec![
            FsRule {
                path: "/usr".into(),
                access: FsAccess::READ,
                optional: false,
            },
            FsRule {
                path: "/etc".into(),
                access: FsAccess::READ,
                optional: false,
            },
            FsRule {
                path: "/tmp".into(),
                access: FsAccess::READ_WRITE,
                optional: false,
            },
            FsRule {
                path: "/usr".into(),
                access: FsAccess::READ_EXEC,
                optional: false,
            },
        ]
    );
    assert_eq!(p.fs_requested(), FsAccess::DEFAULT_HANDLED);
    let empty = Policy::mirror_mounts(
        Vec::<PathBuf>::new(),
        Vec::<PathBuf>::new(),
        Vec::<PathBuf>::new(),
    );
    assert!(
        !empty.is_empty(),
        "an empty mount plan still denies everything"
    );
}

// ---- Lowering for sandboxes and mirroring (pure) ----

#[test]
fn lowering_masks_rights_to_the_kernel() {
    let mut p = Policy::new();
    p.allow_read_write("/tmp")
        .allow_try("/opt", FsAccess::READ)
        .allow_tcp_connect(443)
        .scope(Scope::SIGNAL)
        .compat(CompatLevel::BestEffort);

    // ABI 2 (Linux 6.1): no truncate, ioctl, ports or scopes.
    let l = lower(&p, at(2), View::Sandbox).unwrap();
    let r = l.rules().unwrap();
    let fs2 = FsAccess::DEFAULT_HANDLED & FsAccess::supported_by(Abi::V2);
    assert_eq!(
        r.attr,
        LandlockRulesetAttr {
            handled_access_fs: fs2.bits(),
            handled_access_net: 0,
            scoped: 0,
        }
    );
    assert!(r.ports.is_empty());
    assert_eq!(r.paths.len(), 2);
    assert_eq!(r.paths[0].path.as_bytes(), b"/tmp");
    assert_eq!(r.paths[0].dir_access, (FsAccess::READ_WRITE & fs2).bits());
    assert_eq!(
        r.paths[0].file_access,
        (FsAccess::READ_WRITE & fs2 & FsAccess::FILE).bits()
    );
    // Best-effort: every rule may be left out when its path is missing.
    assert!(r.paths.iter().all(|r| r.optional));
    assert_eq!(l.report().missing.first(), Some(&Feature::FsTruncate));
    assert_eq!(l.report().net_connect, Status::NotEnforced);

    // ABI 6: everything requested goes to the kernel.
    let l = lower(&p, at(6), View::Sandbox).unwrap();
    let r = l.rules().unwrap();
    assert_eq!(r.attr.handled_access_fs, FsAccess::DEFAULT_HANDLED.bits());
    assert_eq!(r.attr.handled_access_net, NetAccess::CONNECT_TCP.bits());
    assert_eq!(r.attr.scoped, Scope::SIGNAL.bits());
    assert_eq!(
        r.ports,
        [LandlockNetPortAttr {
            allowed_access: NetAccess::CONNECT_TCP.bits(),
            port: 443
        }]
    );
    assert_eq!(l.report().status, Status::FullyEnforced);
    assert_eq!(l.rule_name(0), Some(RuleName::Path(Path::new("/tmp"))));
    assert_eq!(l.rule_name(1), Some(RuleName::Path(Path::new("/opt"))));
    assert_eq!(l.rule_name(2), Some(RuleName::Port(443)));
    assert_eq!(l.rule_name(3), None);
    assert_eq!(l.rule_name(INDEX_CREATE), None);
    assert_eq!(l.rule_name(INDEX_RESTRICT), None);

    // Hard requirements: only the optional rule is optional.
    p.compat(CompatLevel::HardRequirement);
    let l = lower(&p, at(6), View::Sandbox).unwrap();
    assert_eq!(
        l.rules()
            .unwrap()
            .paths
            .iter()
            .map(|r| r.optional)
            .collect::<Vec<_>>(),
        [false, true]
    );
    assert!(matches!(
        lower(&p, at(3), View::Sandbox),
        Err(Error::Unsupported {
            group: Group::Filesystem,
            feature: Feature::FsIoctlDev,
            kernel_abi: Abi::V3,
        })
    ));
    // No Landlock at all, best-effort: nothing to apply, and reported.
    p.compat(CompatLevel::BestEffort);
    let l = lower(
        &p,
        KernelAbi::Unavailable(Unavailable::NotEnabled),
        View::Sandbox,
    )
    .unwrap();
    assert!(l.rules().is_none());
    assert_eq!(l.report().status, Status::NotEnforced);
    assert_eq!(l.report().unavailable, Some(Unavailable::NotEnabled));
}

#[test]
fn lowering_rejects_relative_and_nul_paths() {
    for (path, want) in [
        ("rel", RuleProblem::RelativePath),
        ("/a\0b", RuleProblem::NulByte),
    ] {
        let mut p = Policy::new();
        p.allow_read(path);
        match lower(&p, at(6), View::Sandbox) {
            Err(Error::InvalidRule { reason, .. }) => assert_eq!(reason, want),
            other => panic!("{path:?}: unexpected {other:?}"),
        }
    }
}

#[test]
fn enforcement_display_says_whether_the_mirror_holds() {
    let mut p = Policy::new();
    p.allow_read("/usr").compat(CompatLevel::BestEffort);
    let report = |abi| lower(&p, abi, View::Sandbox).unwrap().report().clone();
    let mut e = crate::enforcement::Enforcement {
        namespaces: crate::namespaces::Namespaces::empty(),
        isolation: crate::isolation::Report::default(),
        uid: None,
        gid: None,
        uid_ranges: Vec::new(),
        gid_ranges: Vec::new(),
        filesystem: false,
        filesystem_template: false,
        system_view_idmapped: false,
        cgroup: None,
        rlimit_fallbacks: Vec::new(),
        nproc_scope: None,
        landlock: Some(report(at(2))),
        landlock_mirrors_fs: true,
        #[cfg(feature = "seccomp")]
        seccomp: None,
        #[cfg(feature = "seccomp")]
        seccomp_programs: 0,
        net_filter: false,
        egress: false,
    };
    let text = e.to_string();
    assert!(
        text.contains("filesystem: host, confined by Landlock rules mirroring the mount plan"),
        "{text}"
    );
    assert!(
        text.contains("landlock: ABI 2, partially enforced (fs_read: fully enforced"),
        "{text}"
    );
    assert!(text.contains("fs_truncate: not enforced"), "{text}");
    assert!(
        text.contains("missing: the truncate right (Landlock ABI 3, Linux 6.2)"),
        "{text}"
    );
    e.landlock = Some(report(KernelAbi::Unavailable(Unavailable::NotImplemented)));
    let text = e.to_string();
    assert!(
        text.contains("filesystem: host, not enforced: Landlock rules mirroring"),
        "{text}"
    );
    assert!(text.contains("landlock: unavailable ("), "{text}");
    e.filesystem = true;
    e.landlock = Some(report(at(6)));
    let text = e.to_string();
    assert!(
        text.contains("private root, backed by Landlock rules"),
        "{text}"
    );
    assert!(text.ends_with("landlock: ABI 6, fully enforced (fs_read: fully enforced, fs_write: fully enforced, fs_exec: fully enforced, fs_truncate: fully enforced, fs_ioctl_dev: fully enforced)"), "{text}");
}

#[test]
fn abi_versions() {
    assert!(Abi::V1 < Abi::V2 && Abi::V9 < Abi::V10);
    assert_eq!(Abi::V6.version(), 6);
    assert_eq!(Abi::V6.to_string(), "6");
    assert_eq!(Abi::V6.linux_version(), "6.12");
    assert_eq!(Abi::V8.linux_version(), "7.0");
    assert_eq!(Abi::from_kernel(0), None);
    assert_eq!(Abi::from_kernel(4), Some(Abi::V4));
    // A kernel newer than this crate enforces all that the crate knows.
    assert_eq!(Abi::from_kernel(99), Some(Abi::NEWEST));
    for v in 1..=Abi::NEWEST.version() {
        assert_eq!(Abi::from_kernel(v).unwrap().version(), v);
    }
}

#[test]
fn the_caller_view_takes_relative_paths() {
    let mut p = Policy::new();
    p.allow_read("rel").allow_read("/abs");
    let l = lower(&p, at(6), View::Caller).unwrap();
    let r = l.rules().unwrap();
    assert_eq!(r.paths.len(), 2);
    assert_eq!(r.paths[0].path.as_bytes(), b"rel");
    assert_eq!(l.rule_name(0), Some(RuleName::Path(Path::new("rel"))));
}

/// A path with a NUL byte cannot be opened: an error, or a note under
/// best-effort, as for any other path that cannot be opened.
#[test]
fn the_caller_view_cannot_open_a_nul_path() {
    let mut p = Policy::new();
    p.allow_read("/a\0b").allow_read("/usr");
    match lower(&p, at(6), View::Caller) {
        Err(Error::RulePath { path, source }) => {
            assert_eq!(path, Path::new("/a\0b"));
            assert_eq!(source.raw_os_error(), Some(libc::EINVAL));
        }
        other => panic!("unexpected {other:?}"),
    }
    p.fs_compat(CompatLevel::BestEffort);
    let l = lower(&p, at(6), View::Caller).unwrap();
    assert_eq!(l.rules().unwrap().paths.len(), 1);
    assert_eq!(l.rule_name(0), Some(RuleName::Path(Path::new("/usr"))));
    assert_eq!(
        l.report().notes,
        [Note::SkippedPath {
            path: "/a\0b".into(),
            errno: libc::EINVAL
        }]
    );
}

/// Every rule path is opened while the filesystem group is enforced, also
/// one none of whose rights the kernel has.
#[test]
fn rules_without_rights_are_kept() {
    let mut p = Policy::new();
    p.allow_read("/usr")
        .allow("/run/sock", FsAccess::RESOLVE_UNIX)
        .compat(CompatLevel::BestEffort);
    let l = lower(&p, at(6), View::Sandbox).unwrap();
    let r = l.rules().unwrap();
    assert_eq!(r.paths.len(), 2);
    assert_eq!((r.paths[1].dir_access, r.paths[1].file_access), (0, 0));
    let l = lower(&p, at(9), View::Sandbox).unwrap();
    assert_eq!(
        l.rules().unwrap().paths[1].file_access,
        FsAccess::RESOLVE_UNIX.bits()
    );
}

// ---- Against the running kernel (nothing irreversible) ----

fn kernel_version() -> Option<Abi> {
    kernel_abi().version()
}

fn skip_without_landlock() -> bool {
    if kernel_version().is_some() {
        return false;
    }
    eprintln!("SKIPPED: no Landlock on this kernel");
    assert!(std::env::var_os("STOCKADE_REQUIRE_ALL_FEATURES").is_none());
    true
}

/// A filesystem policy every Landlock kernel (ABI 1+) can enforce.
fn abi1_policy(allowed: &Path) -> Policy {
    let mut p = Policy::new();
    p.handle_fs(FsAccess::READ).allow_read(allowed);
    p
}

#[test]
fn probe_matches_the_kernel() {
    match crate::sys::raw::landlock_abi_version() {
        Ok(v) => assert_eq!(
            kernel_abi(),
            KernelAbi::Available(Abi::from_kernel(v as u32).unwrap())
        ),
        Err(_) => assert!(matches!(kernel_abi(), KernelAbi::Unavailable(_))),
    }
}

#[test]
fn prepare_reports_the_kernel_abi() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = abi1_policy(dir.path());
    p.allow_tcp_connect(443)
        .scope(Scope::SIGNAL)
        .compat(CompatLevel::BestEffort);
    let prepared = prepare(&p).unwrap();
    let abi = kernel_version();
    assert_eq!(prepared.report().abi, abi);
    assert_eq!(prepared.abi(), abi);
    assert_eq!(prepared.fd().is_some(), abi.is_some());
    let expect = |min| {
        if abi >= Some(min) {
            Status::FullyEnforced
        } else {
            Status::NotEnforced
        }
    };
    assert_eq!(prepared.report().fs_read, expect(Abi::V1));
    assert_eq!(prepared.report().net_connect, expect(Abi::V4));
    assert_eq!(prepared.report().scope_signal, expect(Abi::V6));
    assert_eq!(prepared.report().net_bind, Status::NotRequested);
    assert_eq!(p.validate().unwrap(), *prepared.report());
}

/// Preparing for an older ABI than the kernel's masks the rights the same
/// way a sandbox's lowering does.
#[test]
fn prepare_for_an_older_abi() {
    if skip_without_landlock() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut p = abi1_policy(dir.path());
    p.allow_tcp_connect(443).compat(CompatLevel::BestEffort);
    let prepared = prepare_with(&p, at(1)).unwrap();
    assert!(prepared.fd().is_some());
    assert_eq!(prepared.report().missing, [Feature::NetConnectTcp]);
    assert_eq!(prepared.report().net_connect, Status::NotEnforced);
}

#[test]
fn missing_rule_path() {
    if skip_without_landlock() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let mut p = abi1_policy(dir.path());
    p.allow_read(&missing);
    match prepare(&p) {
        Err(Error::RulePath { path, source }) => {
            assert_eq!(path, missing);
            assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
        }
        other => panic!("unexpected {other:?}"),
    }
    p.fs_compat(CompatLevel::BestEffort);
    let prepared = prepare(&p).unwrap();
    assert!(prepared.fd().is_some());
    assert_eq!(
        prepared.report().notes,
        vec![Note::SkippedPath {
            path: missing,
            errno: libc::ENOENT
        }]
    );
    assert_eq!(prepared.report().status, Status::FullyEnforced);
}
