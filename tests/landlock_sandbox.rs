//! Landlock in sandboxes: rules built by each program process after the root
//! filesystem is in place, the mount plan mirrored by rules, and what the
//! enforcement report says.
//!
//! The programs under test are `/usr/bin/python3` scripts that perform one
//! system call per operation and print its errno, so each expectation is
//! about one call, not about a tool's fallbacks (`mv` copies when rename is
//! refused, for instance). Expectations follow the kernel's Landlock ABI:
//! what it cannot enforce must fail as a hard requirement and be reported
//! under best-effort.
#![cfg(feature = "landlock")]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{as_each_identity, chain};
use stockade::{Command, CompatLevel, Error, Namespaces, Sandbox, error, fs, landlock};

const EACCES: i32 = libc::EACCES;
const EXDEV: i32 = libc::EXDEV;
const EPERM: i32 = libc::EPERM;

/// The kernel's Landlock ABI, probed independently of the crate.
fn abi() -> u32 {
    // SAFETY: landlock_create_ruleset(NULL, 0, VERSION) reads no memory.
    let v = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, 0usize, 0usize, 1usize) };
    if v > 0 { v as u32 } else { 0 }
}

fn landlock_or_skip() -> bool {
    if abi() == 0 {
        common::skip("the kernel has no Landlock");
        return false;
    }
    true
}

const PYTHON: &str = "/usr/bin/python3";

fn python_or_skip() -> bool {
    if !Path::new(PYTHON).exists() {
        common::skip("no /usr/bin/python3 for the probe scripts");
        return false;
    }
    true
}

/// Performs `(label, op, a, b)` operations, one system call each, and prints
/// `label errno` per line (0: success).
const PROBE: &str = r#"
import os, socket, sys
def run(op, a, b):
    try:
        if op == "read": open(a, "rb").read()
        elif op == "write": open(a, "ab").write(b"x")
        elif op == "create": open(a, "xb").close()
        elif op == "truncate": os.truncate(a, 0)
        elif op == "listdir": os.listdir(a)
        elif op == "mkdir": os.mkdir(a)
        elif op == "unlink": os.unlink(a)
        elif op == "symlink": os.symlink(a, b)
        elif op == "link": os.link(a, b)
        elif op == "rename": os.rename(a, b)
        elif op == "connect":
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try: s.connect(("127.0.0.1", int(a)))
            finally: s.close()
        elif op == "abstract":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try: s.connect("\0" + a)
            finally: s.close()
        elif op == "kill": os.kill(int(a), int(b))
        else: return -1
        return 0
    except OSError as e:
        return e.errno
args = sys.argv[1:]
for i in range(0, len(args), 4):
    label, op, a, b = args[i:i + 4]
    print(label, run(op, a, b), flush=True)
"#;

/// One probe operation.
struct Op<'a>(&'a str, &'a str, String, String);

fn op<'a>(label: &'a str, name: &'a str, a: impl AsRef<Path>, b: impl AsRef<Path>) -> Op<'a> {
    Op(
        label,
        name,
        a.as_ref().to_string_lossy().into_owned(),
        b.as_ref().to_string_lossy().into_owned(),
    )
}

fn probe_cmd(ops: &[Op]) -> Command {
    let mut cmd = Command::new(PYTHON);
    cmd.arg("-I").arg("-S").arg("-c").arg(PROBE);
    for Op(label, name, a, b) in ops {
        cmd.arg(label).arg(name).arg(a).arg(b);
    }
    cmd
}

/// Runs the operations in `sb`; label -> errno.
fn probe(sb: &Sandbox, ops: &[Op]) -> BTreeMap<String, i32> {
    let out = sb
        .output(&mut probe_cmd(ops))
        .unwrap_or_else(|e| panic!("spawn failed: {}", chain(&e)));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "probe failed ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let map: BTreeMap<String, i32> = stdout
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect();
    assert_eq!(map.len(), ops.len(), "one result per operation: {stdout}");
    map
}

/// Asserts each label's errno is one of the expected values.
fn expect(results: &BTreeMap<String, i32>, want: &[(&str, &[i32])]) {
    let mut wrong = Vec::new();
    for (label, allowed) in want {
        let got = results[*label];
        if !allowed.contains(&got) {
            wrong.push(format!("{label}: errno {got}, expected one of {allowed:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}\nall: {results:?}", wrong.join("\n"));
}

/// What python needs to start: system directories, /dev/null.
fn system_rules(p: &mut landlock::Policy) {
    for dir in ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32"] {
        p.allow_try(dir, landlock::FsAccess::READ_EXEC);
    }
    p.allow_read("/etc")
        .allow("/dev/null", landlock::FsAccess::READ_WRITE);
}

/// Default filesystem rights are fully enforceable from ABI 5 on; below,
/// the filesystem group is best-effort and the report must say what is
/// missing.
fn fs_compat_for_kernel() -> CompatLevel {
    if abi() >= 5 {
        CompatLevel::HardRequirement
    } else {
        CompatLevel::BestEffort
    }
}

fn assert_fs_report(report: &stockade::landlock::Report) {
    let abi = abi();
    assert_eq!(report.abi.map_or(0, |a| a.version()), abi);
    assert_eq!(report.fs_read, landlock::Status::FullyEnforced);
    assert_eq!(report.fs_write, landlock::Status::FullyEnforced);
    let truncate = if abi >= 3 {
        landlock::Status::FullyEnforced
    } else {
        landlock::Status::NotEnforced
    };
    assert_eq!(report.fs_truncate, truncate);
    if abi < 3 {
        assert!(report.missing.contains(&landlock::Feature::FsTruncate));
    }
    if abi < 5 {
        assert!(report.missing.contains(&landlock::Feature::FsIoctlDev));
        assert_eq!(report.status, landlock::Status::PartiallyEnforced);
    } else {
        assert!(report.missing.is_empty(), "{:?}", report.missing);
        assert_eq!(report.status, landlock::Status::FullyEnforced);
    }
}

/// ro/f, ro/g, rw/f, rw/sub/, denied/secret.
fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    for d in ["ro", "rw/sub", "denied"] {
        std::fs::create_dir_all(t.path().join(d)).unwrap();
    }
    std::fs::write(t.path().join("ro/f"), "ro").unwrap();
    std::fs::write(t.path().join("ro/g"), "g").unwrap();
    std::fs::write(t.path().join("rw/f"), "rw").unwrap();
    std::fs::write(t.path().join("denied/secret"), "secret").unwrap();
    t
}

/// The operations that must be refused across rule boundaries, for a tree
/// seen at `w`; `rename` within the writable directory needs the refer
/// right (ABI 2).
fn boundary_ops(w: &Path) -> Vec<Op<'static>> {
    vec![
        op("read_ro", "read", w.join("ro/f"), ""),
        op("read_denied", "read", w.join("denied/secret"), ""),
        op("read_dotdot", "read", w.join("rw/../denied/secret"), ""),
        op("list_top", "listdir", w, ""),
        op("write_ro", "write", w.join("ro/f"), ""),
        op("create_ro", "create", w.join("ro/new"), ""),
        op("create_rw", "create", w.join("rw/new"), ""),
        op("write_rw", "write", w.join("rw/f"), ""),
        op("truncate_rw", "truncate", w.join("rw/f"), ""),
        op("truncate_ro", "truncate", w.join("ro/g"), ""),
        op(
            "symlink_out",
            "symlink",
            w.join("denied/secret"),
            w.join("rw/sl"),
        ),
        op("read_via_symlink", "read", w.join("rw/sl"), ""),
        op(
            "link_from_denied",
            "link",
            w.join("denied/secret"),
            w.join("rw/hl"),
        ),
        op("link_from_ro", "link", w.join("ro/f"), w.join("rw/hl2")),
        op("link_to_ro", "link", w.join("rw/f"), w.join("ro/hl3")),
        op(
            "rename_to_ro",
            "rename",
            w.join("rw/new"),
            w.join("ro/moved"),
        ),
        op(
            "rename_from_ro",
            "rename",
            w.join("ro/f"),
            w.join("rw/moved"),
        ),
        op(
            "rename_to_denied",
            "rename",
            w.join("rw/sub"),
            w.join("denied/sub"),
        ),
        op(
            "rename_within_rw",
            "rename",
            w.join("rw/new"),
            w.join("rw/sub/new"),
        ),
        op("mkdir_denied", "mkdir", w.join("denied/d"), ""),
        op("unlink_ro", "unlink", w.join("ro/f"), ""),
    ]
}

fn boundary_expectations() -> Vec<(&'static str, &'static [i32])> {
    let denied: &'static [i32] = &[EACCES];
    let refused: &'static [i32] = &[EACCES, EXDEV];
    // truncate(2) is controlled from ABI 3 (Linux 6.2) on; before, the
    // report says the truncate right is not enforced, and it is not.
    let truncate: &'static [i32] = if abi() >= 3 { &[EACCES] } else { &[0] };
    let within: &'static [i32] = if abi() >= 2 { &[0] } else { &[EXDEV] };
    vec![
        ("read_ro", &[0]),
        ("read_denied", denied),
        ("read_dotdot", denied),
        ("list_top", denied),
        ("write_ro", denied),
        ("create_ro", denied),
        ("create_rw", &[0]),
        ("write_rw", &[0]),
        ("truncate_rw", &[0]),
        ("truncate_ro", truncate),
        ("symlink_out", &[0]),
        ("read_via_symlink", denied),
        ("link_from_denied", refused),
        ("link_from_ro", refused),
        ("link_to_ro", refused),
        ("rename_to_ro", refused),
        ("rename_from_ro", refused),
        ("rename_to_denied", refused),
        ("rename_within_rw", within),
        ("mkdir_denied", denied),
        ("unlink_ro", denied),
    ]
}

/// What the refused operations must not have changed, seen from outside.
fn assert_tree_intact(t: &Path) {
    assert_eq!(std::fs::read_to_string(t.join("ro/f")).unwrap(), "ro");
    assert_eq!(
        std::fs::read_to_string(t.join("denied/secret")).unwrap(),
        "secret"
    );
    let mut denied: Vec<_> = std::fs::read_dir(t.join("denied"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    denied.sort();
    assert_eq!(denied, ["secret"]);
    let mut ro: Vec<_> = std::fs::read_dir(t.join("ro"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    ro.sort();
    assert_eq!(ro, ["f", "g"]);
    let g = if abi() >= 3 { "g" } else { "" };
    assert_eq!(std::fs::read_to_string(t.join("ro/g")).unwrap(), g);
    for gone in ["rw/hl", "rw/hl2", "rw/moved"] {
        assert!(!t.join(gone).exists(), "{gone} was created");
    }
    // The writes that were allowed did happen.
    assert!(t.join("rw/sl").is_symlink());
}

// ------------------------------------------------------------------ tests

#[test]
fn rules_confine_a_namespaced_sandbox_to_its_paths() {
    if !landlock_or_skip() || !python_or_skip() {
        return;
    }
    as_each_identity(|| {
        let t = tree();
        let mut policy = landlock::Policy::new();
        system_rules(&mut policy);
        // Rule paths are paths inside the sandbox.
        policy
            .allow_read_exec("/work/ro")
            .allow_read_write("/work/rw")
            .fs_compat(fs_compat_for_kernel());
        let mut sb = Sandbox::new();
        sb.bind_rw(t.path(), "/work").landlock(policy);

        let child = sb.spawn(&mut probe_cmd(&[])).unwrap();
        let report = child.enforcement().landlock.clone().expect("a report");
        assert_fs_report(&report);
        child.wait_with_output().unwrap();

        let results = probe(&sb, &boundary_ops(Path::new("/work")));
        expect(&results, &boundary_expectations());
        assert_tree_intact(t.path());
    });
}

#[test]
fn mirrored_mount_plan_confines_a_sandbox_without_namespaces() {
    if !landlock_or_skip() || !python_or_skip() {
        return;
    }
    as_each_identity(|| {
        let t = tree();
        let w = t.path();
        let mut compat = landlock::Policy::new();
        compat.fs_compat(fs_compat_for_kernel());
        let mut sb = Sandbox::new();
        sb.namespaces(Namespaces::empty())
            .landlock(compat)
            .landlock_mirror_fs(true)
            .bind_ro(w.join("ro"), w.join("ro"))
            .bind_rw(w.join("rw"), w.join("rw"))
            .bind_ro_try("/no/such/dir", "/no/such/dir")
            .rlimit(stockade::Rlimit::Nofile, 64, 64);

        let child = sb.spawn(&mut probe_cmd(&[])).unwrap();
        let e = child.enforcement().clone();
        child.wait_with_output().unwrap();
        assert!(e.namespaces.is_empty());
        assert!(!e.filesystem);
        assert!(e.landlock_mirrors_fs);
        assert_fs_report(e.landlock.as_ref().unwrap());
        let text = e.to_string();
        assert!(
            text.contains("filesystem: host, confined by Landlock rules mirroring the mount plan"),
            "{text}"
        );
        assert!(text.contains(&format!("landlock: ABI {}", abi())), "{text}");

        let mut ops = boundary_ops(w);
        // The host's own files: the system view is readable, its secrets
        // and everything else are not (the caller may be root).
        let scratch = std::env::temp_dir().join(format!("stockade-ll-{}", std::process::id()));
        ops.extend([
            op("read_passwd", "read", "/etc/passwd", ""),
            op("read_shadow", "read", "/etc/shadow", ""),
            op("list_etc", "listdir", "/etc", ""),
            op("create_tmp", "create", &scratch, ""),
            op("read_proc", "read", "/proc/self/status", ""),
            op("write_null", "write", "/dev/null", ""),
        ]);
        let results = probe(&sb, &ops);
        let mut want = boundary_expectations();
        let shadow: &[i32] = if Path::new("/etc/shadow").exists() {
            &[EACCES]
        } else {
            &[libc::ENOENT]
        };
        want.extend([
            ("read_passwd", &[0][..]),
            ("read_shadow", shadow),
            ("list_etc", &[EACCES][..]),
            ("create_tmp", &[EACCES][..]),
            ("read_proc", &[0][..]),
            ("write_null", &[0][..]),
        ]);
        expect(&results, &want);
        assert!(!scratch.exists());
        assert_tree_intact(w);
    });
}

#[test]
fn mirroring_without_a_mount_namespace_refuses_what_rules_cannot_express() {
    let t = tempfile::tempdir().unwrap();
    type Setup<'a> = Box<dyn Fn(&mut Sandbox) + 'a>;
    let cases: Vec<(Setup, fs::OpName)> = vec![
        (
            Box::new(|sb: &mut Sandbox| {
                sb.bind_ro(t.path(), "/elsewhere");
            }),
            fs::OpName::BindRo,
        ),
        (
            Box::new(|sb: &mut Sandbox| {
                sb.tmpfs("/scratch", Default::default());
            }),
            fs::OpName::Tmpfs,
        ),
        (
            Box::new(|sb: &mut Sandbox| {
                sb.empty_root();
            }),
            fs::OpName::Root,
        ),
    ];
    for (setup, want) in cases {
        let mut sb = Sandbox::new();
        sb.namespaces(Namespaces::empty()).landlock_mirror_fs(true);
        setup(&mut sb);
        match sb.validate() {
            Err(Error::Landlock(landlock::Error::Mirror { op, .. })) => assert_eq!(op, want),
            other => panic!("{want}: unexpected {other:?}"),
        }
    }
    // Without mirroring, the plan still needs a mount namespace.
    let mut sb = Sandbox::new();
    sb.namespaces(Namespaces::empty())
        .tmpfs("/x", Default::default());
    assert!(matches!(
        sb.validate(),
        Err(Error::Config(error::ConfigError::Namespaces { .. }))
    ));
}

#[test]
fn invalid_policies_are_refused_before_spawning() {
    let mut p = landlock::Policy::new();
    p.allow_read("relative/dir");
    let mut sb = Sandbox::new();
    sb.landlock(p);
    match sb.validate() {
        Err(Error::Landlock(landlock::Error::InvalidRule { path, reason })) => {
            assert_eq!(path, PathBuf::from("relative/dir"));
            assert_eq!(reason, landlock::RuleProblem::RelativePath);
        }
        other => panic!("unexpected {other:?}"),
    }
    if abi() == 0 {
        common::skip("the kernel has no Landlock: no_new_privs check");
        return;
    }
    let mut fs = landlock::Policy::new();
    fs.allow_read("/usr").compat(CompatLevel::BestEffort);
    // fs is enforceable on every Landlock kernel.
    let mut sb = Sandbox::new();
    let mut caps = stockade::caps::Policy::new();
    caps.no_new_privs(false);
    sb.capabilities(caps).landlock(fs);
    let err = sb.validate().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config(error::ConfigError::LandlockNeedsNoNewPrivs)
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("invalid Landlock setup"),
        "{err}"
    );
    // Keeping CAP_SYS_ADMIN (in the sandbox's user namespace) is the
    // alternative the kernel accepts.
    sb.keep_capability(stockade::caps::Capability::SysAdmin);
    sb.validate().unwrap();
}

#[test]
fn a_missing_required_rule_path_names_the_rule() {
    if !landlock_or_skip() {
        return;
    }
    as_each_identity(|| {
        // /srv exists on the host, but not in the default sandbox's root.
        let mut p = landlock::Policy::new();
        system_rules(&mut p);
        p.allow_read("/srv/stockade-none")
            .fs_compat(CompatLevel::BestEffort);
        // Best-effort filesystem group: the missing path is left out.
        let mut sb = Sandbox::new();
        sb.landlock(p.clone());
        let out = sb.output(Command::new("true").arg("x")).unwrap();
        assert!(out.status.success());

        p.fs_compat(CompatLevel::HardRequirement);
        if abi() < 5 {
            // The hard requirement fails earlier, on the missing rights.
            let mut sb = Sandbox::new();
            sb.landlock(p);
            assert!(matches!(
                sb.validate(),
                Err(Error::Landlock(landlock::Error::Unsupported { .. }))
            ));
            return;
        }
        let mut sb = Sandbox::new();
        sb.landlock(p.clone());
        match sb.output(&mut Command::new("true")) {
            Err(Error::Setup(e)) => {
                assert_eq!(e.stage, error::Stage::Landlock);
                assert_eq!(
                    e.target,
                    Some(error::Target::Path(PathBuf::from("/srv/stockade-none")))
                );
                assert_eq!(e.source.raw_os_error(), Some(libc::ENOENT));
                let msg = e.to_string();
                assert!(msg.contains("/srv/stockade-none"), "{msg}");
            }
            other => panic!("unexpected {other:?}"),
        }
        // An optional rule is skipped even under the hard requirement.
        let mut p2 = landlock::Policy::new();
        system_rules(&mut p2);
        p2.allow_try("/srv/stockade-none", landlock::FsAccess::READ);
        let mut sb = Sandbox::new();
        sb.landlock(p2);
        assert!(
            sb.output(&mut Command::new("true"))
                .unwrap()
                .status
                .success()
        );
    });
}

#[test]
fn tcp_connect_only_to_allowed_ports() {
    if !landlock_or_skip() || !python_or_skip() {
        return;
    }
    as_each_identity(|| {
        let allowed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (pa, pb) = (
            allowed.local_addr().unwrap().port(),
            other.local_addr().unwrap().port(),
        );
        // What a connect gets here without Landlock: 0, or ENETUNREACH
        // where the loopback interface is down (Landlock refuses before
        // routing, with EACCES).
        let baseline = match std::net::TcpStream::connect(("127.0.0.1", pb)) {
            Ok(_) => 0,
            Err(e) => e.raw_os_error().unwrap(),
        };
        assert_ne!(baseline, EACCES);
        let mut policy = landlock::Policy::new();
        policy.allow_tcp_connect(pa);
        let mut sb = Sandbox::new();
        sb.network(stockade::Network::Host).landlock(policy.clone());
        let ops = [
            op("allowed", "connect", pa.to_string(), ""),
            op("other", "connect", pb.to_string(), ""),
        ];
        if abi() >= 4 {
            let results = probe(&sb, &ops);
            expect(&results, &[("allowed", &[baseline]), ("other", &[EACCES])]);
            let child = sb.spawn(&mut probe_cmd(&[])).unwrap();
            let r = child.enforcement().landlock.clone().unwrap();
            child.wait_with_output().unwrap();
            assert_eq!(r.net_connect, landlock::Status::FullyEnforced);
            assert_eq!(r.fs_read, landlock::Status::NotRequested);
        } else {
            // A hard requirement the kernel cannot meet: a typed error.
            match sb.validate() {
                Err(Error::Landlock(landlock::Error::Unsupported {
                    feature: landlock::Feature::NetConnectTcp,
                    kernel_abi,
                    ..
                })) => assert_eq!(kernel_abi.version(), abi()),
                other => panic!("unexpected {other:?}"),
            }
            // Best-effort runs, unrestricted, and says so.
            policy.net_compat(CompatLevel::BestEffort);
            sb.landlock(policy);
            let child = sb.spawn(&mut probe_cmd(&[])).unwrap();
            let r = child.enforcement().landlock.clone().unwrap();
            child.wait_with_output().unwrap();
            assert_eq!(r.net_connect, landlock::Status::NotEnforced);
            assert_eq!(r.missing, [landlock::Feature::NetConnectTcp]);
            // Nothing is enforced, as reported.
            expect(
                &probe(&sb, &ops),
                &[("allowed", &[baseline]), ("other", &[baseline])],
            );
        }
    });
}

#[test]
fn abstract_unix_sockets_outside_are_unreachable() {
    if !landlock_or_skip() || !python_or_skip() {
        return;
    }
    as_each_identity(|| {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("stockade-test-{}-{}", std::process::id(), abi());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        let _listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
        let ops = [op("abstract", "abstract", &name, "")];
        // Abstract sockets belong to the network namespace: share it.
        let mut open = Sandbox::new();
        open.network(stockade::Network::Host);
        expect(&probe(&open, &ops), &[("abstract", &[0])]);

        let mut policy = landlock::Policy::new();
        policy.scope(landlock::Scope::ABSTRACT_UNIX_SOCKET);
        let mut sb = Sandbox::new();
        sb.network(stockade::Network::Host).landlock(policy.clone());
        if abi() >= 6 {
            expect(&probe(&sb, &ops), &[("abstract", &[EPERM])]);
        } else {
            match sb.validate() {
                Err(Error::Landlock(landlock::Error::Unsupported {
                    feature: landlock::Feature::ScopeAbstractUnixSocket,
                    ..
                })) => {}
                other => panic!("unexpected {other:?}"),
            }
            policy.scope_compat(CompatLevel::BestEffort);
            sb.landlock(policy);
            let child = sb.spawn(&mut probe_cmd(&[])).unwrap();
            let r = child.enforcement().landlock.clone().unwrap();
            child.wait_with_output().unwrap();
            assert_eq!(r.scope_abstract_unix_socket, landlock::Status::NotEnforced);
            assert!(
                r.missing
                    .contains(&landlock::Feature::ScopeAbstractUnixSocket)
            );
            // Nothing is enforced, as reported.
            expect(&probe(&sb, &ops), &[("abstract", &[0])]);
        }
    });
}

#[test]
fn signals_to_processes_outside_are_refused_with_the_signal_scope() {
    if !landlock_or_skip() || !python_or_skip() {
        return;
    }
    as_each_identity(|| {
        // Without a pid namespace the program can name this process; signal
        // 0 checks permission without delivering anything.
        let me = std::process::id().to_string();
        let ops = [op("kill", "kill", &me, "0")];
        let mut open = Sandbox::new();
        open.namespaces(Namespaces::default() - Namespaces::PID);
        expect(&probe(&open, &ops), &[("kill", &[0])]);

        let mut policy = landlock::Policy::new();
        policy.scope(landlock::Scope::SIGNAL);
        let mut sb = open.clone();
        sb.landlock(policy.clone());
        if abi() >= 6 {
            expect(&probe(&sb, &ops), &[("kill", &[EPERM])]);
        } else {
            match sb.validate() {
                Err(Error::Landlock(landlock::Error::Unsupported {
                    feature: landlock::Feature::ScopeSignal,
                    ..
                })) => {}
                other => panic!("unexpected {other:?}"),
            }
            policy.scope_compat(CompatLevel::BestEffort);
            sb.landlock(policy);
            expect(&probe(&sb, &ops), &[("kill", &[0])]);
        }
    });
}

/// The lowest-ABI right the running kernel lacks among those requested by
/// [`default_rights_plus_resolve_unix`].
fn first_missing(abi: u32) -> Option<landlock::Feature> {
    [
        landlock::Feature::FsTruncate,
        landlock::Feature::FsIoctlDev,
        landlock::Feature::FsResolveUnix,
    ]
    .into_iter()
    .find(|f| f.abi().version() > abi)
}

fn default_rights_plus_resolve_unix() -> landlock::Policy {
    let mut p = landlock::Policy::new();
    system_rules(&mut p);
    p.allow(
        "/tmp",
        landlock::FsAccess::READ_WRITE | landlock::FsAccess::RESOLVE_UNIX,
    );
    p
}

#[test]
fn missing_kernel_features_fail_hard_requirements_and_are_reported_under_best_effort() {
    if !landlock_or_skip() {
        return;
    }
    as_each_identity(|| {
        let abi = abi();
        let Some(missing) = first_missing(abi) else {
            common::skip("the kernel has every right this test can request");
            return;
        };
        let mut sb = Sandbox::new();
        sb.landlock(default_rights_plus_resolve_unix());
        let err = sb.spawn(&mut Command::new("true")).unwrap_err();
        match &err {
            Error::Landlock(landlock::Error::Unsupported {
                feature,
                kernel_abi,
                ..
            }) => {
                assert_eq!(*feature, missing);
                assert_eq!(kernel_abi.version(), abi);
            }
            other => panic!("unexpected {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(missing.linux_version()), "{msg}");

        let mut p = default_rights_plus_resolve_unix();
        p.compat(CompatLevel::BestEffort);
        sb.landlock(p);
        let child = sb
            .spawn(
                Command::new("sh")
                    .arg("-c")
                    .arg("cat /etc/passwd >/dev/null"),
            )
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        let e = child.enforcement().clone();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let r = e.landlock.as_ref().unwrap();
        assert_eq!(r.missing.first(), Some(&missing));
        assert_eq!(r.fs_resolve_unix, landlock::Status::NotEnforced);
        assert_eq!(r.fs_read, landlock::Status::FullyEnforced);
        assert_eq!(r.status, landlock::Status::PartiallyEnforced);
        let text = e.to_string();
        assert!(text.contains("partially enforced"), "{text}");
        assert!(text.contains("fs_resolve_unix: not enforced"), "{text}");
        assert!(text.contains(&format!("missing: {missing}")), "{text}");
        #[cfg(feature = "serde")]
        {
            let v = serde_json::to_value(&e).unwrap();
            assert_eq!(v["landlock"]["abi"], abi);
            assert_eq!(v["landlock"]["fs_read"], "fully_enforced");
            assert_eq!(v["landlock"]["fs_resolve_unix"], "not_enforced");
            assert_eq!(v["landlock_mirrors_fs"], false);
        }
    });
}

#[test]
fn without_a_policy_the_report_has_no_landlock() {
    let child = Sandbox::new().spawn(&mut Command::new("true")).unwrap();
    let e = child.enforcement().clone();
    child.wait_with_output().unwrap();
    assert_eq!(e.landlock, None);
    assert!(!e.landlock_mirrors_fs);
    assert!(!e.to_string().contains("landlock"));
}

#[test]
fn one_policy_serves_many_spawns_from_many_threads() {
    if !landlock_or_skip() {
        return;
    }
    let mut p = landlock::Policy::new();
    system_rules(&mut p);
    p.compat(CompatLevel::BestEffort);
    let mut sb = Sandbox::new();
    sb.landlock(p);
    let sb = std::sync::Arc::new(sb);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let sb = sb.clone();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    // /tmp is not granted: creating a file there fails.
                    let out = sb
                        .output(Command::new("sh").arg("-c").arg(
                            "cat /etc/passwd >/dev/null && ! (echo x > /tmp/x) 2>/dev/null && echo ok",
                        ))
                        .unwrap();
                    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
