//! Policy files: a sandbox written as TOML or JSON reads back equal and
//! behaves the same, malformed files are rejected with the key and line,
//! the documented example runs, and the CLI's `--policy`.
#![cfg(feature = "serde")]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::as_each_identity;
use stockade::{Command, Namespaces, Rlimit, caps, policy};
use stockade::{Sandbox, fs};

/// A sandbox using every part of the builder a policy file covers.
fn rich() -> Sandbox {
    let mut sb = Sandbox::new();
    sb.namespaces(Namespaces::default() | Namespaces::TIME)
        .isolation(stockade::isolation::Isolation::BestAvailable)
        .uid(1000)
        .gid(100)
        .subordinate_ids(true)
        .uid_ranges([
            stockade::IdRange::new(1000, 1000, 1),
            stockade::IdRange::new(0, 100000, 1000),
        ])
        .hostname("rich")
        .inherit_env(true)
        .kill_on_drop(false)
        .die_with_parent(true);
    let mut caps = caps::Policy::new();
    caps.keep(caps::Capability::NetBindService)
        .keep(caps::Capability::Chown)
        .ambient(false);
    sb.capabilities(caps)
        .root_dir("/srv/image")
        .proc(false)
        .tmp(false)
        .private_home(false)
        .mask_host_secrets(false)
        .bind_ro("/usr/share", "/share")
        .bind_rw("/var/tmp", "/var/tmp")
        .bind_ro_try("/no/such", "/maybe")
        .bind_rw_try("/no/such/either", "/maybe-rw")
        .bind_dev("/dev/fuse", "/dev/fuse")
        .fs_op(fs::Op::Bind {
            src: "/dev/dri".into(),
            dest: "/dev/dri".into(),
            read_only: true,
            optional: true,
            devices: true,
            no_exec: true,
        })
        .tmpfs(
            "/scratch",
            fs::TmpfsOptions {
                size: Some(64 << 20),
                mode: Some(0o1777),
            },
        )
        .tmpfs(
            "/odd",
            fs::TmpfsOptions {
                size: Some(12345),
                mode: None,
            },
        )
        .dir("/work")
        .fs_op(fs::Op::Dir {
            dest: "/work/private".into(),
            mode: Some(0o700),
        })
        .symlink("/scratch", "/work/scratch")
        .file("/work/README", "hello\n\"quoted\" and ünïcode\n")
        .overlay("/etc", "/work/etc")
        .mask("/etc/hostname")
        .timeout(Duration::from_millis(2500))
        .cpu_time_limit(Duration::from_secs(7))
        .rlimit(Rlimit::Nofile, 64, 64)
        .rlimit(Rlimit::Fsize, 1 << 20, 2 << 20)
        .rlimit(Rlimit::Stack, Rlimit::INFINITY, Rlimit::INFINITY)
        .memory_limit(256 << 20)
        .pids_limit(32)
        .cpus(0.5);
    let cgroup = sb.cgroup_mut();
    cgroup.memory_high = Some(200 << 20);
    cgroup.swap_max = Some(u64::MAX);
    cgroup.cpu_weight = Some(50);
    cgroup.cpuset_cpus = Some("0-1".into());
    cgroup.io_max.push({
        let mut r = stockade::cgroup::IoMaxRule::new(8, 0);
        r.rbps = Some(10 << 20);
        r.wiops = Some(100);
        r
    });
    cgroup.parent = Some("/sys/fs/cgroup/delegated".into());
    cgroup.placement = true;
    cgroup.compat = stockade::CompatLevel::BestEffort;
    #[cfg(feature = "landlock")]
    {
        use stockade::{CompatLevel, landlock};
        let mut ll = landlock::Policy::new();
        ll.allow_read_exec("/usr")
            .allow_read("/etc")
            .allow_read_write("/tmp")
            .allow(
                "/work",
                landlock::FsAccess::READ_EXEC | landlock::FsAccess::WRITE_FILE,
            )
            .allow_try("/opt", landlock::FsAccess::READ)
            .handle_fs(landlock::FsAccess::DEFAULT_HANDLED | landlock::FsAccess::TRUNCATE)
            .allow_tcp_connect(443)
            .allow_net(53, landlock::NetAccess::CONNECT_SEND_UDP)
            .restrict_tcp()
            .scope(landlock::Scope::SIGNAL)
            .fs_compat(CompatLevel::BestEffort)
            .scope_compat(CompatLevel::BestEffort);
        sb.landlock(ll).landlock_mirror_fs(true);
    }
    #[cfg(feature = "seccomp")]
    {
        use stockade::seccomp;
        let mut p = seccomp::Policy::allowlist(seccomp::Action::KillProcess);
        p.unknown_syscall_action(seccomp::Action::Log)
            .allow_group(seccomp::SyscallGroup::FileIo)
            .allow_group(seccomp::SyscallGroup::Process)
            .group_action(
                seccomp::SyscallGroup::Networking,
                seccomp::Action::Errno(13),
            )
            .rule(
                seccomp::SyscallRule::new("ioctl", seccomp::Action::Trap)
                    .when(seccomp::ArgCondition::new32(
                        1,
                        seccomp::ArgOp::MaskedEq(0xff00),
                        0x5400,
                    ))
                    .when(seccomp::ArgCondition::new(
                        2,
                        seccomp::ArgOp::Ne,
                        u64::MAX - 1,
                    )),
            )
            .allow("mkdirat");
        sb.seccomp(p);
    }
    sb
}

#[test]
fn a_rich_sandbox_round_trips_through_toml_and_json() {
    let sb = rich();
    let toml = sb.to_toml().unwrap();
    let json = sb.to_json().unwrap();
    let from_toml = Sandbox::from_toml(&toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let from_json = Sandbox::from_json(&json).unwrap_or_else(|e| panic!("{e}\n{json}"));
    assert_eq!(from_toml, sb, "TOML:\n{toml}");
    assert_eq!(from_json, sb, "JSON:\n{json}");
    assert_eq!(from_toml.to_toml().unwrap(), toml);
    assert_eq!(from_json.to_json().unwrap(), json);
    // The two formats carry the same document.
    assert_eq!(from_toml.to_json().unwrap(), json);
    // Spot checks of the written form: sizes and durations stay readable.
    assert!(toml.contains("memory = \"256M\""), "{toml}");
    assert!(toml.contains("swap = \"unlimited\""), "{toml}");
    assert!(toml.contains("timeout = \"2500ms\""), "{toml}");
    assert!(toml.contains("mode = \"1777\""), "{toml}");
    assert!(toml.contains("private_home = false"), "{toml}");
    assert!(toml.contains("isolation = \"best_available\""), "{toml}");
}

#[test]
fn the_default_profile_with_extra_rules_is_written_as_such() {
    #[cfg(feature = "seccomp")]
    {
        use stockade::seccomp;
        let mut p = seccomp::Policy::default_profile();
        p.rule(seccomp::SyscallRule::new(
            "mkdir",
            seccomp::Action::Errno(13),
        ));
        let mut sb = Sandbox::new();
        sb.seccomp(p);
        let toml = sb.to_toml().unwrap();
        assert!(toml.contains("profile = \"default\""), "{toml}");
        assert_eq!(toml.matches("syscall =").count(), 1, "{toml}");
        assert_eq!(Sandbox::from_toml(&toml).unwrap(), sb);

        let mut none = Sandbox::new();
        none.seccomp(None);
        let toml = none.to_toml().unwrap();
        assert!(toml.contains("profile = \"none\""), "{toml}");
        assert_eq!(Sandbox::from_toml(&toml).unwrap(), none);
    }
}

#[test]
fn writable_roots_and_persistent_layers_are_not_policy() {
    let mut sb = Sandbox::new();
    sb.writable_root(fs::Upper::Temporary);
    match sb.to_toml() {
        Err(policy::Error::NotExpressible { key, reason }) => {
            assert_eq!(key, "filesystem.writable_root");
            assert_eq!(reason, policy::Inexpressible::NotInPolicyFiles);
        }
        other => panic!("{other:?}"),
    }
    let mut sb = Sandbox::new();
    sb.overlay("/usr", "/a").overlay_with_upper(
        "/usr",
        "/b",
        fs::Upper::Persistent("/var/l".into()),
    );
    match sb.to_json() {
        Err(policy::Error::NotExpressible { key, reason }) => {
            assert_eq!(key, "filesystem.ops[1].upper");
            assert_eq!(reason, policy::Inexpressible::NotInPolicyFiles);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn what_a_file_cannot_hold_is_refused_when_writing() {
    use std::os::unix::ffi::OsStrExt;
    let mut sb = Sandbox::new();
    sb.bind_ro(std::ffi::OsStr::from_bytes(b"/bad\xff"), "/x");
    match sb.to_toml() {
        Err(policy::Error::NotExpressible { key, reason }) => {
            assert_eq!(key, "filesystem.ops[0].src");
            assert_eq!(reason, stockade::policy::Inexpressible::NotUtf8);
        }
        other => panic!("{other:?}"),
    }
    let mut sb = Sandbox::new();
    sb.tmpfs("relative", fs::TmpfsOptions::default());
    let err = sb.to_json().unwrap_err();
    assert_eq!(err.key(), Some("filesystem.ops[0].dest"));
    assert!(err.to_string().contains("not absolute"), "{err}");
}

/// The key, line and message of a file that must be rejected.
fn rejected(format: policy::Format, text: &str) -> (String, Option<usize>, String) {
    let res = match format {
        policy::Format::Toml => Sandbox::from_toml(text),
        policy::Format::Json => Sandbox::from_json(text),
        _ => unreachable!(),
    };
    match res {
        Err(e @ policy::Error::Invalid { .. }) => {
            let shown = e.to_string();
            let policy::Error::Invalid {
                format: f,
                key,
                line,
                message,
                ..
            } = e
            else {
                unreachable!()
            };
            assert_eq!(f, format);
            if !key.is_empty() {
                assert!(shown.contains(&format!("`{key}`")), "{shown}");
            }
            if let Some(l) = line {
                assert!(shown.contains(&format!("line {l}")), "{shown}");
            }
            (key, line, message)
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("accepted:\n{text}"),
    }
}

#[test]
fn malformed_toml_files_are_rejected_with_key_and_line() {
    use policy::Format::Toml;
    // An unknown key.
    let (key, line, msg) = rejected(Toml, "hostname = \"a\"\n\n[limits]\nmemroy = \"1G\"\n");
    assert_eq!((key.as_str(), line), ("limits.memroy", Some(4)), "{msg}");
    assert!(msg.contains("unknown field `memroy`"), "{msg}");
    // A value of the wrong type.
    let (key, line, msg) = rejected(Toml, "version = 1\nuid = \"root\"\n");
    assert_eq!((key.as_str(), line), ("uid", Some(2)), "{msg}");
    assert!(msg.contains("invalid type"), "{msg}");
    // A bad size suffix.
    let (key, line, msg) = rejected(Toml, "[limits]\npids = 3\nmemory = \"12Q\"\n");
    assert_eq!((key.as_str(), line), ("limits.memory", Some(3)), "{msg}");
    assert!(msg.contains("\"12Q\""), "{msg}");
    // A negative size.
    let (key, line, msg) = rejected(Toml, "[limits]\nswap = -1\n");
    assert_eq!((key.as_str(), line), ("limits.swap", Some(2)), "{msg}");
    assert!(msg.contains("-1"), "{msg}");
    // A relative mount destination.
    let text = "[[filesystem.ops]]\nop = \"dir\"\ndest = \"/ok\"\n\n\
                [[filesystem.ops]]\nop = \"tmpfs\"\ndest = \"scratch\"\n";
    let (key, line, msg) = rejected(Toml, text);
    assert_eq!(
        (key.as_str(), line),
        ("filesystem.ops[1].dest", Some(7)),
        "{msg}"
    );
    assert!(msg.contains("absolute path"), "{msg}");
    // An unknown namespace.
    let (key, line, msg) = rejected(Toml, "\nnamespaces = [\"user\", \"bogus\"]\n");
    assert_eq!((key.as_str(), line), ("namespaces[1]", Some(2)), "{msg}");
    assert!(msg.contains("unknown variant `bogus`"), "{msg}");
    // An operation missing what it needs.
    let (key, line, msg) = rejected(
        Toml,
        "[filesystem]\ntmp = true\n[[filesystem.ops]]\nop = \"bind_ro\"\ndest = \"/x\"\n",
    );
    assert_eq!(
        (key.as_str(), line),
        ("filesystem.ops[0]", Some(3)),
        "{msg}"
    );
    assert!(msg.contains("needs `src`"), "{msg}");
    // A key an operation does not take.
    let (key, _, msg) = rejected(
        Toml,
        "[[filesystem.ops]]\nop = \"mask\"\ndest = \"/x\"\nsize = 5\n",
    );
    assert_eq!(key, "filesystem.ops[0]", "{msg}");
    assert!(msg.contains("does not take `size`"), "{msg}");
    // An unknown rlimit.
    let (key, line, msg) = rejected(Toml, "[limits.rlimits]\nnofile = 5\nfiles = 5\n");
    assert_eq!((key.as_str(), line), ("limits.rlimits", Some(3)), "{msg}");
    assert!(msg.contains("unknown variant `files`"), "{msg}");
    // A version this crate does not know.
    let (key, line, _) = rejected(Toml, "version = 2\n");
    assert_eq!((key.as_str(), line), ("version", Some(1)));
    // A syntax error.
    let (key, line, msg) = rejected(Toml, "uid = 1\nhostname = \"unterminated\ngid = 2\n");
    assert_eq!((key.as_str(), line), ("", Some(2)), "{msg}");
    #[cfg(feature = "seccomp")]
    {
        let (key, line, msg) = rejected(
            Toml,
            "[seccomp]\nprofile = \"custom\"\ndefault_action = \"errno:5000\"\n",
        );
        assert_eq!(
            (key.as_str(), line),
            ("seccomp.default_action", Some(3)),
            "{msg}"
        );
    }
    #[cfg(feature = "landlock")]
    {
        let (key, line, msg) = rejected(
            Toml,
            "[landlock]\n[[landlock.fs]]\npath = \"/usr\"\naccess = [\"read\", \"fly\"]\n",
        );
        assert_eq!(
            (key.as_str(), line),
            ("landlock.fs[0].access[1]", Some(4)),
            "{msg}"
        );
    }
}

#[test]
fn malformed_json_files_are_rejected_with_key_and_line() {
    use policy::Format::Json;
    let (key, line, msg) = rejected(Json, "{\n  \"limits\": {\n    \"memory\": \"12Q\"\n  }\n}");
    assert_eq!((key.as_str(), line), ("limits.memory", Some(3)), "{msg}");
    let err =
        Sandbox::from_json("{\n  \"limits\": {\n    \"memory\": \"12Q\"\n  }\n}").unwrap_err();
    // serde_json places the error after the offending value.
    assert_eq!(err.column(), Some(19), "{err}");
    let err = Sandbox::from_toml("[limits]\nmemory = \"12Q\"\n").unwrap_err();
    assert_eq!(err.column(), Some(10), "{err}");
    let (key, line, msg) = rejected(Json, "{\n  \"hostnme\": \"x\"\n}");
    assert_eq!((key.as_str(), line), ("hostnme", Some(2)), "{msg}");
    assert!(msg.contains("unknown field `hostnme`"), "{msg}");
    let (key, line, msg) = rejected(
        Json,
        "{\"filesystem\": {\"ops\": [\n {\"op\": \"dir\", \"dest\": \"rel\"}]}}",
    );
    assert_eq!(
        (key.as_str(), line),
        ("filesystem.ops[0].dest", Some(2)),
        "{msg}"
    );
    let (key, line, msg) = rejected(Json, "{\"namespaces\": [\"user\",\n\"nett\"]}");
    assert_eq!((key.as_str(), line), ("namespaces[1]", Some(2)), "{msg}");
    let (key, line, msg) = rejected(Json, "{\"uid\": -3}");
    assert_eq!((key.as_str(), line), ("uid", Some(1)), "{msg}");
    // Syntax: a trailing comma, then trailing garbage.
    let (key, line, _) = rejected(Json, "{\"uid\": 1,\n}");
    assert_eq!((key.as_str(), line), ("", Some(2)));
    let (key, line, _) = rejected(Json, "{\"uid\": 1}\n{}");
    assert_eq!((key.as_str(), line), ("", Some(2)));
}

#[test]
fn sizes_modes_and_durations_take_every_documented_form() {
    let sb = Sandbox::from_toml(
        r#"
        [limits]
        memory = 1048576
        memory_high = "512K"
        timeout = 2.5
        cpu_time = "1500ms"
        [limits.rlimits]
        nofile = { soft = 10, hard = "1K" }
        as = "unlimited"
        [[filesystem.ops]]
        op = "tmpfs"
        dest = "/a"
        size = "2G"
        mode = 0o700
        [[filesystem.ops]]
        op = "dir"
        dest = "/b"
        mode = "0750"
        "#,
    )
    .unwrap();
    let mut expected = Sandbox::new();
    expected
        .memory_limit(1 << 20)
        .timeout(Duration::from_millis(2500))
        .cpu_time_limit(Duration::from_millis(1500))
        .rlimit(Rlimit::Nofile, 10, 1024)
        .rlimit(Rlimit::As, Rlimit::INFINITY, Rlimit::INFINITY)
        .tmpfs(
            "/a",
            fs::TmpfsOptions {
                size: Some(2 << 30),
                mode: Some(0o700),
            },
        )
        .fs_op(fs::Op::Dir {
            dest: "/b".into(),
            mode: Some(0o750),
        });
    expected.cgroup_mut().memory_high = Some(512 << 10);
    assert_eq!(sb, expected);
}

/// A policy a sandbox can run here, as either identity, that shows its
/// parts at work.
fn behaving(data: &std::path::Path) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.hostname("policy-box")
        .inherit_env(true)
        .bind_ro(data, "/data")
        .tmpfs(
            "/scratch",
            fs::TmpfsOptions {
                size: Some(1 << 20),
                mode: None,
            },
        )
        .dir("/work")
        .file("/work/README", "from the policy\n")
        .symlink("/work/README", "/work/link")
        .mask("/etc/passwd");
    sb
}

const SCRIPT: &str = "hostname; \
    if echo x > /data/new 2>/dev/null; then echo WROTE; else echo read-only; fi; \
    cat /data/hello; \
    echo env:${STOCKADE_TEST_DEPS_DIR:+inherited}; \
    df -k /scratch | awk 'NR==2 {print \"scratch-kb:\" $2}'; \
    echo hi > /scratch/x && cat /scratch/x; \
    cat /work/link; \
    cat /etc/passwd 2>/dev/null | wc -c";

#[test]
fn a_round_tripped_sandbox_behaves_the_same() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hello"), "hello from the host\n").unwrap();
        let original = behaving(dir.path());
        let from_toml = Sandbox::from_toml(&original.to_toml().unwrap()).unwrap();
        let from_json = Sandbox::from_json(&original.to_json().unwrap()).unwrap();
        assert_eq!(from_toml, original);
        let expected = "policy-box\nread-only\nhello from the host\nenv:inherited\n\
                        scratch-kb:1024\nhi\nfrom the policy\n0\n";
        for (what, sb) in [
            ("original", &original),
            ("from TOML", &from_toml),
            ("from JSON", &from_json),
        ] {
            let out = sb.output(Command::new("sh").arg("-c").arg(SCRIPT)).unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{what}: {:?} {stdout} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(stdout, expected, "{what}");
        }
        assert!(!dir.path().join("new").exists());
    });
}

fn example_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/policy.toml")
}

/// Runs the example policy (with its limits under `cgroup` when given,
/// where they must take effect) and checks what its program sees.
fn run_the_example_policy(cgroup: Option<&Path>) {
    let text = std::fs::read_to_string(example_path()).unwrap();
    let mut sb = Sandbox::from_toml(&text).unwrap_or_else(|e| panic!("{e}"));
    let again = Sandbox::from_toml(&sb.to_toml().unwrap()).unwrap();
    assert_eq!(again, sb);
    assert_eq!(Sandbox::from_json(&sb.to_json().unwrap()).unwrap(), sb);
    if let Some(parent) = cgroup {
        // The example's commented-out `cgroup_parent`.
        sb.cgroup_mut().parent = Some(parent.to_owned());
    }

    let child = sb
        .spawn(
            Command::new("sh")
                .arg("-c")
                .arg(
                    "hostname; id -u; cat /work/README; readlink /work/scratch; \
                     cat /etc/hostname 2>/dev/null || echo masked; \
                     ls /srv/share >/dev/null && echo share",
                )
                .stdout(stockade::Stdio::piped()),
        )
        .unwrap_or_else(|e| panic!("{}", common::chain(&e)));
    if cgroup.is_some() {
        let report = child.enforcement().cgroup.clone().expect("a cgroup report");
        assert!(report.path.is_some(), "{report:?}");
        use stockade::cgroup::LimitKind;
        assert!(
            !report.skipped.iter().any(|s| matches!(
                s.kind,
                LimitKind::MemoryMax | LimitKind::PidsMax | LimitKind::CpuMax
            )),
            "{report:?}"
        );
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{:?} {stdout} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        "sandbox\n1000\nFiles here vanish with the sandbox.\n/scratch\nmasked\nshare\n"
    );
}

/// Its limits are best-effort: they hold where they can.
#[test]
fn the_example_policy_parses_round_trips_and_runs() {
    as_each_identity(|| run_the_example_policy(None));
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn the_example_policy_runs_with_its_limits_in_a_delegated_cgroup() {
    as_each_identity(|| run_the_example_policy(Some(&common::delegated_cgroup())));
}

// ---- The command-line front end ----

fn run_cli(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(common::cli_binary())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_policy_file_with_overriding_flags() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let toml = dir.path().join("p.toml");
        std::fs::write(
            &toml,
            "hostname = \"from-policy\"\n\
             [[filesystem.ops]]\nop = \"file\"\ndest = \"/greeting\"\ncontents = \"hi\\n\"\n",
        )
        .unwrap();
        let json = dir.path().join("p.json");
        std::fs::write(
            &json,
            "{\"hostname\": \"from-json\", \"filesystem\": {\"ops\": [\
             {\"op\": \"file\", \"dest\": \"/greeting\", \"contents\": \"json\\n\"}]}}",
        )
        .unwrap();
        let os = |s: &str| std::ffi::OsString::from(s);
        let script = "hostname; cat /greeting; echo $(cat /extra 2>/dev/null || echo no-extra)";

        // The policy alone.
        let out = run_cli(&[
            &os("--policy"),
            toml.as_os_str(),
            &os("sh"),
            &os("-c"),
            &os(script),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "from-policy\nhi\nno-extra\n"
        );

        // Flags override and extend it whatever their position: here one
        // before --policy and one after.
        let out = run_cli(&[
            &os("--hostname"),
            &os("from-flag"),
            &os("--policy"),
            toml.as_os_str(),
            &os("--file"),
            &os("/extra"),
            &os("added"),
            &os("sh"),
            &os("-c"),
            &os(script),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "from-flag\nhi\nadded\n"
        );

        // JSON by extension.
        let out = run_cli(&[
            &os("--policy"),
            json.as_os_str(),
            &os("sh"),
            &os("-c"),
            &os(script),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "from-json\njson\nno-extra\n"
        );

        // A bad policy: exit 125 with the key and line on one line.
        std::fs::write(&toml, "hostname = \"x\"\n[limits]\nmemory = \"12Q\"\n").unwrap();
        let out = run_cli(&[&os("--policy"), toml.as_os_str(), &os("true")]);
        assert_eq!(out.status.code(), Some(125));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("`limits.memory`") && err.contains("line 3") && err.contains("p.toml"),
            "{err}"
        );
        // A missing file.
        let out = run_cli(&[&os("--policy"), &os("/no/such/policy.toml"), &os("true")]);
        assert_eq!(out.status.code(), Some(125));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("/no/such/policy.toml"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}
