//! The lowering, field by field, read back from the sandbox's policy.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{Bundle, Error};
use crate::caps::Capability;
use crate::fs::{Op, TmpfsOptions};
use crate::namespaces::Namespaces;
use crate::rlimit::Rlimit;

/// A bundle directory with an empty `rootfs`.
fn dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("rootfs")).unwrap();
    d
}

/// A small config every caller can spawn: a user namespace of its own.
fn base() -> Value {
    json!({
        "ociVersion": "1.2.0",
        "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "root": {"path": "rootfs", "readonly": true},
        "linux": {"namespaces": [
            {"type": "user"}, {"type": "mount"}, {"type": "pid"},
            {"type": "network"}, {"type": "ipc"}, {"type": "uts"}
        ]}
    })
}

fn load(v: &Value) -> Result<Bundle, Error> {
    let d = dir();
    Bundle::from_json(d.path(), &v.to_string())
}

fn lowered(v: &Value) -> Bundle {
    load(v).unwrap_or_else(|e| panic!("{e}: {:?}", std::error::Error::source(&e)))
}

/// The path an error names, and its kind.
fn refused(v: &Value) -> (&'static str, String) {
    match load(v) {
        Err(Error::Unsupported { path, .. }) => ("unsupported", path),
        Err(Error::Invalid { path, .. }) => ("invalid", path),
        Err(Error::Json { path, .. }) => ("json", path),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("accepted: {v}"),
    }
}

#[test]
fn versions_1_0_to_1_2_are_read() {
    for v in ["1.0.0", "1.0.2-dev", "1.1.0", "1.2.1", "1.2.0+build"] {
        let mut c = base();
        c["ociVersion"] = json!(v);
        assert_eq!(lowered(&c).oci_version(), v);
    }
    for (v, kind) in [
        ("2.0.0", "unsupported"),
        ("1.3.0", "unsupported"),
        ("0.9.0", "unsupported"),
        ("one", "invalid"),
        ("1.0", "invalid"),
    ] {
        let mut c = base();
        c["ociVersion"] = json!(v);
        assert_eq!(refused(&c), (kind, "ociVersion".to_owned()), "{v}");
    }
}

#[test]
fn the_process_becomes_the_command() {
    let mut c = base();
    c["process"] = json!({
        "args": ["/bin/prog", "-x", "two words"],
        "env": ["A=1", "B=x=y", "EMPTY="],
        "cwd": "/srv",
        "terminal": true,
        "consoleSize": {"height": 40, "width": 120},
        "user": {"uid": 1000, "gid": 1001, "additionalGids": [1001]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 64, "hard": 128}],
        "noNewPrivileges": false
    });
    c["annotations"] = json!({"org.example/key": "value"});
    let b = lowered(&c);
    let cmd = b.command();
    assert_eq!(cmd.get_program(), "/bin/prog");
    assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["-x", "two words"]);
    let env: Vec<_> = cmd.get_envs().collect();
    for (k, v) in [("A", "1"), ("B", "x=y"), ("EMPTY", "")] {
        assert!(
            env.contains(&(k.as_ref(), Some(v.as_ref()))),
            "{k}: {env:?}"
        );
    }
    assert_eq!(cmd.get_current_dir(), Some("/srv".as_ref()));
    assert!(b.terminal());
    assert_eq!(b.console_size(), Some((40, 120)));
    assert_eq!(b.annotations()["org.example/key"], "value");
    let cfg = &b.sandbox().cfg;
    assert_eq!((cfg.uid, cfg.gid), (Some(1000), Some(1001)));
    assert_eq!(cfg.rlimits[&Rlimit::Nofile], (64, 128));
    assert!(cfg.caps.no_new_privs, "no_new_privs stays on");
    assert!(b.root().is_absolute() && b.root().ends_with("rootfs"));
}

#[test]
fn capability_sets_lower_to_one_kept_set() {
    let three = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let kept = [
        Capability::Kill,
        Capability::NetBindService,
        Capability::AuditWrite,
    ];
    // runc's default: ambient as well, so kept capabilities are raised.
    let mut c = base();
    c["process"]["capabilities"] = json!({
        "bounding": three, "effective": three, "permitted": three, "ambient": three
    });
    let b = lowered(&c);
    let caps = &b.sandbox().cfg.caps;
    assert!(kept.iter().all(|k| caps.keep.contains(k)) && caps.keep.len() == 3);
    assert!(caps.ambient && caps.lock_noroot);

    // No ambient set for uid 0: root gets the bounding set at execve.
    c["process"]["capabilities"] =
        json!({"bounding": three, "effective": three, "permitted": three});
    let caps = lowered(&c).sandbox().cfg.caps.clone();
    assert!(!caps.ambient && !caps.lock_noroot);

    // For another uid they stay in the bounding set only.
    c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let caps = lowered(&c).sandbox().cfg.caps.clone();
    assert!(!caps.ambient && caps.lock_noroot);
    assert_eq!(caps.keep.len(), 3);

    // Sets beyond bounding, and a partial ambient set, are refused.
    c["process"]["capabilities"]["inheritable"] = json!(["CAP_CHOWN"]);
    assert_eq!(
        refused(&c),
        ("unsupported", "process.capabilities.inheritable".into())
    );
    c["process"]["capabilities"]["inheritable"] = json!([]);
    c["process"]["capabilities"]["ambient"] = json!(["CAP_KILL"]);
    assert_eq!(
        refused(&c),
        ("unsupported", "process.capabilities.ambient".into())
    );
}

#[test]
fn mounts_lower_to_the_filesystem_plan() {
    let mut c = base();
    c["mounts"] = json!([
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue"},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
        {"destination": "/scratch//", "type": "tmpfs", "options": ["size=1m", "mode=700"]},
        {"destination": "/data", "type": "bind", "source": "rootfs", "options": ["rbind", "ro"]},
        {"destination": "/out", "type": "none", "source": "/tmp", "options": ["bind", "rw", "noexec"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["rprivate", "ro"]}
    ]);
    let d = dir();
    let b = Bundle::from_json(d.path(), &c.to_string()).unwrap();
    let cfg = &b.sandbox().cfg;
    assert!(cfg.fs.proc && cfg.fs.dev && cfg.fs.sys && !cfg.fs.tmp && !cfg.fs.home);
    assert_eq!(
        cfg.fs.ops,
        [
            Op::Tmpfs {
                dest: "/scratch".into(),
                options: TmpfsOptions {
                    size: Some(1 << 20),
                    mode: Some(0o700)
                }
            },
            Op::Bind {
                src: d.path().join("rootfs"),
                dest: "/data".into(),
                read_only: true,
                optional: false,
                devices: false,
                no_exec: false
            },
            Op::Bind {
                src: "/tmp".into(),
                dest: "/out".into(),
                read_only: false,
                optional: false,
                devices: false,
                no_exec: true
            },
        ]
    );
    // Read-only: the cgroup the container has, no placement asked for.
    assert!(cfg.mount_cgroup && cfg.mount_cgroup_read_only && !cfg.cgroup.placement);
    assert!(cfg.namespaces.contains(Namespaces::CGROUP));
    assert!(cfg.fs.mqueue, "/dev/mqueue is mounted");
    // Without an IPC namespace of the container's own, /dev/mqueue would
    // show the host's queues: refused, naming the mount's type.
    let mut c2 = c.clone();
    c2["linux"]["namespaces"] =
        json!([{"type": "user"}, {"type": "mount"}, {"type": "pid"}, {"type": "network"}]);
    assert_eq!(refused(&c2), ("unsupported", "mounts[4].type".into()));

    // Without the /dev tmpfs first, /dev/pts cannot be expressed.
    let mut c = base();
    c["mounts"] = json!([{"destination": "/dev/pts", "type": "devpts"}]);
    assert_eq!(refused(&c), ("unsupported", "mounts[0].destination".into()));
    for (m, path) in [
        (
            json!({"destination": "/x", "type": "tmpfs", "options": ["noexec"]}),
            "mounts[0].options[0]",
        ),
        (
            json!({"destination": "/x", "type": "tmpfs", "options": ["size=lots"]}),
            "mounts[0].options[0]",
        ),
        (
            json!({"destination": "/x", "type": "overlay"}),
            "mounts[0].type",
        ),
        (
            json!({"destination": "/x", "type": "bind", "source": "/tmp", "options": ["rshared"]}),
            "mounts[0].options[0]",
        ),
        (
            json!({"destination": "/x", "type": "bind", "source": "/tmp", "uidMappings": [{}]}),
            "mounts[0].uidMappings",
        ),
        (
            json!({"destination": "/x", "type": "tmpfs", "extra": 1}),
            "mounts[0].extra",
        ),
        (
            json!({"destination": "/proc2", "type": "proc"}),
            "mounts[0].destination",
        ),
    ] {
        let mut c = base();
        c["mounts"] = json!([m]);
        assert_eq!(refused(&c).1, path, "{m}");
    }
    let mut c = base();
    c["linux"]["namespaces"] = json!([{"type": "user"}, {"type": "mount"}]);
    c["mounts"] = json!([{"destination": "/sys", "type": "sysfs"}]);
    assert_eq!(refused(&c), ("unsupported", "mounts[0].type".into()));
    let mut c = base();
    c["mounts"] = json!([{"destination": "x", "type": "tmpfs"}]);
    assert_eq!(refused(&c), ("invalid", "mounts[0].destination".into()));
}

#[test]
fn a_writable_root_is_written_in_place() {
    let mut c = base();
    c["root"]["readonly"] = json!(false);
    let cfg = lowered(&c).sandbox().cfg.clone();
    assert_eq!(cfg.fs.root_bind, crate::fs::RootBind::ReadWrite);
    assert!(matches!(cfg.fs.root, crate::fs::Root::Dir(ref p) if p.ends_with("rootfs")));
    assert!(cfg.fs.writable_root.is_none(), "no overlay");
    c["root"]["readonly"] = json!(true);
    assert_eq!(
        lowered(&c).sandbox().cfg.fs.root_bind,
        crate::fs::RootBind::ReadOnly
    );
}

#[test]
fn namespaces_and_id_mappings() {
    let mut c = base();
    c["linux"]["namespaces"] = json!([{"type": "user"}, {"type": "mount"}]);
    c["linux"]["uidMappings"] =
        json!([{"containerID": 0, "hostID": nix::unistd::geteuid().as_raw(), "size": 1}]);
    let cfg = lowered(&c).sandbox().cfg.clone();
    assert_eq!(cfg.namespaces, Namespaces::USER | Namespaces::MOUNT);
    assert_eq!(
        cfg.uid_ranges,
        crate::ids::Source::Explicit(vec![crate::ids::IdRange::new(
            0,
            nix::unistd::geteuid().as_raw(),
            1
        )])
    );
    // The mount namespace is required, a namespace appears once, and the
    // hostname needs uts.
    c["linux"]["namespaces"] = json!([{"type": "user"}]);
    assert_eq!(refused(&c), ("unsupported", "linux.namespaces".into()));
    c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "mount"}]);
    c["linux"].as_object_mut().unwrap().remove("uidMappings");
    assert_eq!(refused(&c), ("invalid", "linux.namespaces[1].type".into()));
    let mut c = base();
    c["linux"]["namespaces"] = json!([{"type": "user"}, {"type": "mount"}]);
    c["hostname"] = json!("h");
    assert_eq!(refused(&c), ("invalid", "hostname".into()));
}

#[test]
fn resources_lower_to_cgroup_limits() {
    let mut c = base();
    c["linux"]["resources"] = json!({
        "memory": {"limit": 1 << 30, "swap": (1u64 << 30) + (1 << 20)},
        "cpu": {"quota": 50000, "period": 100000, "shares": 1024, "cpus": "0", "mems": "0"},
        "pids": {"limit": 99},
        "devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 136, "access": "rw"}
        ]
    });
    let cg = lowered(&c).sandbox().cfg.cgroup.clone();
    assert_eq!(cg.memory_max, Some(1 << 30));
    assert_eq!(cg.swap_max, Some(1 << 20));
    assert_eq!(cg.cpus, Some(0.5));
    assert_eq!(cg.cpu_weight, Some(39));
    assert_eq!(cg.cpuset_cpus.as_deref(), Some("0"));
    assert_eq!(cg.pids_max, Some(99));

    // Unlimited values set nothing.
    let mut c = base();
    c["linux"]["resources"] = json!({"memory": {"limit": -1, "swap": -1}, "pids": {"limit": -1}});
    let cg = lowered(&c).sandbox().cfg.cgroup.clone();
    assert_eq!((cg.memory_max, cg.pids_max), (None, None));

    for (r, path, kind) in [
        (
            json!({"memory": {"swappiness": 10}}),
            "linux.resources.memory.swappiness",
            "unsupported",
        ),
        (
            json!({"memory": {"limit": 100, "swap": 50}}),
            "linux.resources.memory.swap",
            "invalid",
        ),
        (
            json!({"cpu": {"realtimeRuntime": 5}}),
            "linux.resources.cpu.realtimeRuntime",
            "unsupported",
        ),
        (
            json!({"devices": [{"allow": true, "type": "b", "major": 8, "minor": 0}]}),
            "linux.resources.devices[0]",
            "unsupported",
        ),
        (
            json!({"devices": [{"allow": true}]}),
            "linux.resources.devices[0]",
            "unsupported",
        ),
        (
            json!({"devices": [{"access": "rwm"}]}),
            "linux.resources.devices[0].allow",
            "invalid",
        ),
        (
            json!({"rdma": {"mlx": {"hcaHandles": 1}}}),
            "linux.resources.rdma",
            "unsupported",
        ),
        (
            json!({"network": {"classID": 1}}),
            "linux.resources.network",
            "unsupported",
        ),
        (
            json!({"pids": {"limit": "many"}}),
            "linux.resources.pids.limit",
            "json",
        ),
    ] {
        let mut c = base();
        c["linux"]["resources"] = r.clone();
        assert_eq!(refused(&c), (kind, path.to_owned()), "{r}");
    }
}

#[test]
fn readonly_paths_are_accepted_only_where_already_read_only() {
    let mut c = base();
    c["mounts"] = json!([
        {"destination": "/proc", "type": "proc"},
        {"destination": "/tmp", "type": "tmpfs"}
    ]);
    c["linux"]["readonlyPaths"] = json!([
        "/proc/sys",
        "/proc/sysrq-trigger",
        "/etc",
        "/sys/x",
        "/proc/asound"
    ]);
    c["linux"]["maskedPaths"] = json!(["/proc/kcore", "/etc/shadow"]);
    let b = lowered(&c);
    let masks: Vec<_> = b
        .sandbox()
        .get_fs_ops()
        .iter()
        .filter_map(|o| match o {
            Op::Mask { dest } => Some(dest.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(masks, [PathBuf::from("/proc/kcore"), "/etc/shadow".into()]);
    // A kernel entry of the fresh /proc that is not read-only there: the
    // caller's same entry, bound read-only where it exists.
    assert!(b.sandbox().get_fs_ops().iter().any(|o| matches!(o,
        Op::Bind { src, dest, read_only: true, optional: true, .. }
            if src == Path::new("/proc/asound") && dest == Path::new("/proc/asound"))));
    for (paths, bad) in [
        (json!(["/tmp/x"]), "linux.readonlyPaths[0]"),
        (json!(["/proc/sys", "/"]), "linux.readonlyPaths[1]"),
        (json!(["/proc/self"]), "linux.readonlyPaths[0]"),
    ] {
        c["linux"]["readonlyPaths"] = paths;
        assert_eq!(refused(&c), ("unsupported", bad.to_owned()));
    }
    // Without a pid namespace /proc is the host's, read-only.
    let mut h = c.clone();
    h["linux"]["namespaces"] = json!([{"type": "user"}, {"type": "mount"}]);
    h["linux"]["readonlyPaths"] = json!(["/proc/self", "/proc/sys"]);
    lowered(&h);
    // A writable root makes nothing of it read-only.
    c["root"]["readonly"] = json!(false);
    c["linux"]["readonlyPaths"] = json!(["/etc"]);
    assert_eq!(refused(&c).1, "linux.readonlyPaths[0]");
}

#[cfg(feature = "seccomp")]
#[test]
fn seccomp_profiles_lower_to_a_policy() {
    use crate::seccomp::{Action, ArgCondition, ArgOp, SyscallRule};
    let mut c = base();
    c["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
        "syscalls": [
            {"names": ["read", "write", "execve", "vm86", "exit_group"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                      {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},
                      {"index": 1, "value": 5, "op": "SCMP_CMP_LT"}]},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["kill"], "action": "SCMP_ACT_KILL"},
            // For one call, the first rule without conditions decides.
            {"names": ["setns"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["kcmp"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7,
             "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["setns", "kcmp"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["setns"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2,
             "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}
        ]
    });
    let policy = lowered(&c).sandbox().cfg.seccomp.clone().expect("a policy");
    assert_eq!(policy.default_action, Action::Errno(38));
    assert_eq!(policy.unknown_action, Action::Errno(38));
    let rules: Vec<SyscallRule> = policy
        .entries
        .iter()
        .map(|e| match e {
            crate::seccomp::PolicyEntry::Rule(r) => r.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    let native_vm86 = crate::seccomp::is_native_syscall("vm86");
    let mut want = vec![
        SyscallRule::new("read", Action::Allow),
        SyscallRule::new("write", Action::Allow),
        SyscallRule::new("execve", Action::Allow),
    ];
    if native_vm86 {
        want.push(SyscallRule::new("vm86", Action::Allow));
    }
    want.extend([
        SyscallRule::new("exit_group", Action::Allow),
        // Two conditions on one argument: alternatives.
        SyscallRule::new("personality", Action::Allow).when(ArgCondition::new(0, ArgOp::Eq, 0)),
        SyscallRule::new("personality", Action::Allow).when(ArgCondition::new(0, ArgOp::Eq, 8)),
        // On distinct arguments: both hold.
        SyscallRule::new("clone", Action::Allow)
            .when(ArgCondition::new(0, ArgOp::MaskedEq(2114060288), 0))
            .when(ArgCondition::new(1, ArgOp::Lt, 5)),
        SyscallRule::new("mkdir", Action::Errno(libc::EPERM as u16)),
        SyscallRule::new("kill", Action::KillProcess),
        SyscallRule::new("setns", Action::Allow),
        SyscallRule::new("kcmp", Action::Errno(1)),
    ]);
    assert_eq!(rules, want);

    for (s, path, kind) in [
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PPC64LE"]}),
            "linux.seccomp.architectures",
            "unsupported",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_TRACE"}),
            "linux.seccomp.defaultAction",
            "unsupported",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}),
            "linux.seccomp.defaultErrnoRet",
            "invalid",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent"}),
            "linux.seccomp.listenerPath",
            "unsupported",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}]}),
            "linux.seccomp.syscalls[0].errnoRet",
            "invalid",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[0].args[0].index",
            "invalid",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]}),
            "linux.seccomp.syscalls[0].names",
            "invalid",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": "x"}]}),
            "linux.seccomp.syscalls[0].comment",
            "unsupported",
        ),
    ] {
        let mut c = base();
        c["linux"]["seccomp"] = s.clone();
        assert_eq!(refused(&c), (kind, path.to_owned()), "{s}");
    }
}

#[test]
fn unknown_fields_are_refused_where_they_are() {
    for (pointer, path) in [
        ("/process/user/name", "process.user.name"),
        ("/root/bogus", "root.bogus"),
        ("/linux/namespaces/0/bogus", "linux.namespaces[0].bogus"),
        ("/process/consoleSize/depth", "process.consoleSize.depth"),
        ("/extension", "extension"),
    ] {
        let mut c = base();
        if pointer == "/process/consoleSize/depth" {
            c["process"]["consoleSize"] = json!({"height": 1, "width": 1});
        }
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        c.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key.to_owned(), json!(1));
        let (kind, p) = refused(&c);
        assert_eq!((kind, p.as_str()), ("unsupported", path), "{pointer}");
    }
    // Other platforms' sections are not Linux's business; null is absent.
    let mut c = base();
    c["windows"] = json!({"layerFolders": ["C:\\x"]});
    c["solaris"] = json!({"milestone": "x"});
    c["hooks"] = Value::Null;
    c["domainname"] = json!("");
    lowered(&c);
}

#[test]
fn json_errors_name_the_bad_value() {
    let d = dir();
    for (text, want) in [
        (
            r#"{"ociVersion": "1.0.0", "mounts": [{}, {"destination": "/x", }]}"#,
            "mounts[1]",
        ),
        (
            r#"{"ociVersion": "1.0.0", "process": {"args": ["sh"] "#,
            "process",
        ),
        (r#"{} trailing"#, ""),
    ] {
        match Bundle::from_json(d.path(), text) {
            Err(Error::Json { path, message }) => {
                assert!(path.starts_with(want), "{text}: {path} ({message})")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    match Bundle::from_json(d.path(), "[]") {
        Err(Error::Json { path, message }) => {
            assert_eq!(path, "");
            assert!(message.contains("an object"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_read_as_failures_with_their_path() {
    let mut c = base();
    c["hooks"] = json!({"prestart": [{"path": "/bin/true"}]});
    let e = load(&c).unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("failed to lower hooks = "), "{text}");
    assert_eq!(e.json_path(), Some("hooks"));
    let read = Bundle::load("/nonexistent-bundle").unwrap_err();
    assert!(read.to_string().starts_with("failed to read "), "{read}");
    assert!(std::error::Error::source(&read).is_some());
    assert_eq!(read.json_path(), None);
    let mut c = base();
    c["root"]["path"] = json!("elsewhere");
    let invalid = load(&c).unwrap_err();
    assert!(
        invalid
            .to_string()
            .starts_with("failed to lower root.path: ")
    );
    let json = Bundle::from_json("/", "{").unwrap_err();
    assert!(json.to_string().starts_with("failed to parse "), "{json}");
}

#[test]
fn tmpfs_sizes() {
    assert_eq!(super::lower::size("65536k"), Some(64 << 20));
    assert_eq!(super::lower::size("2M"), Some(2 << 20));
    assert_eq!(super::lower::size("1g"), Some(1 << 30));
    assert_eq!(super::lower::size("4096"), Some(4096));
    assert_eq!(super::lower::size("10%"), None);
    assert_eq!(super::lower::size(""), None);
    assert_eq!(super::lower::size("k"), None);
}

#[test]
fn device_nodes_are_the_hosts_bound_at_their_path() {
    let mut c = base();
    c["linux"]["devices"] = json!([
        {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o20666u32}
    ]);
    c["linux"]["resources"] = json!({"devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}
    ]});
    let b = lowered(&c);
    assert_eq!(
        b.sandbox().get_fs_ops(),
        [Op::Bind {
            src: "/dev/null".into(),
            dest: "/dev/null".into(),
            read_only: false,
            optional: false,
            devices: true,
            no_exec: false
        }]
    );
    for (d, path) in [
        (
            json!({"path": "/dev/null", "type": "c", "major": 1, "minor": 4}),
            "linux.devices[0]",
        ),
        (
            json!({"path": "/dev/null", "type": "b", "major": 1, "minor": 3}),
            "linux.devices[0]",
        ),
        (
            json!({"path": "/dev/null", "type": "p"}),
            "linux.devices[0].type",
        ),
        (
            json!({"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600}),
            "linux.devices[0].fileMode",
        ),
        (
            json!({"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "uid": 4242}),
            "linux.devices[0].uid",
        ),
        (
            json!({"path": "/no/such/node", "type": "c", "major": 1, "minor": 3}),
            "linux.devices[0]",
        ),
    ] {
        let mut c = base();
        c["linux"]["devices"] = json!([d]);
        assert_eq!(refused(&c), ("unsupported", path.to_owned()), "{d}");
    }
}
