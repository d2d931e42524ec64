//! The root filesystem: read-only means read-only, writable binds work,
//! tmpfs limits, overlays, masks, devices, nothing of the host reachable
//! unless configured, and mounts that planted symlinks cannot redirect.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;

use common::{as_each_identity, chain, run, sh, stdout_of};
use stockade::{Error, Sandbox, error, fs};

#[test]
fn read_only_binds_reject_writes_including_submounts() {
    as_each_identity(|| {
        // The whole host root, read-only: its submounts (/proc, /dev, /dev/shm
        // ...) must be read-only too.
        let mut sb = Sandbox::new();
        sb.bind_ro("/", "/host");
        let script = "for d in /host/usr /host/etc /host/dev/shm /host/run /usr /etc; do \
                        [ -d $d ] || continue; \
                        if touch $d/.stockade-probe 2>/tmp/err; then echo WRITABLE $d; else grep -q 'Read-only' /tmp/err && echo ro $d || cat /tmp/err; fi; \
                      done; \
                      mount -o remount,rw /usr 2>/dev/null && echo REMOUNTED || echo no-remount";
        let out = stdout_of(&sb, script);
        assert!(
            !out.contains("WRITABLE") && !out.contains("REMOUNTED"),
            "{out}"
        );
        assert!(
            out.contains("ro /host/usr") && out.contains("ro /usr"),
            "{out}"
        );
        if Path::new("/dev/shm").is_dir() {
            assert!(
                out.contains("ro /host/dev/shm"),
                "submount /dev/shm must be read-only: {out}"
            );
        }
        for d in ["/usr", "/etc", "/dev/shm"] {
            assert!(!Path::new(d).join(".stockade-probe").exists());
        }
    });
}

#[test]
fn read_write_binds_and_tmpfs_limits() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut sb = Sandbox::new();
        sb.bind_rw(dir.path(), "/work").tmpfs(
            "/small",
            fs::TmpfsOptions {
                size: Some(64 * 1024),
                mode: Some(0o700),
            },
        );
        let (st, out, err) = run(
            &sb,
            "echo hello > /work/out.txt && \
             stat -c %a /small && \
             head -c 200000 /dev/zero > /small/big; echo rc=$?",
        );
        assert!(st.success(), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
            "hello\n"
        );
        assert!(out.starts_with("700\n"), "{out}");
        assert!(out.contains("rc=1"), "{out}");
        assert!(
            err.contains("No space left on device"),
            "tmpfs limit gives ENOSPC: {err}"
        );
    });
}

#[test]
fn overlay_writes_never_reach_the_lower_dir() {
    as_each_identity(|| {
        let lower = tempfile::tempdir().unwrap();
        std::fs::write(lower.path().join("keep.txt"), "original").unwrap();
        std::fs::write(lower.path().join("gone.txt"), "delete me").unwrap();
        let mut sb = Sandbox::new();
        sb.overlay(lower.path(), "/src");
        let r = sb.output(&mut sh("echo changed > /src/keep.txt && rm /src/gone.txt && echo new > /src/new.txt && \
                                   mkdir -p /src/d/e && cat /src/keep.txt && ls /src | tr '\\n' ' '"));
        match r {
            Ok(o) => {
                let out = String::from_utf8_lossy(&o.stdout);
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                assert_eq!(out, "changed\nd keep.txt new.txt ");
            }
            Err(e) => panic!("overlay failed: {}", chain(&e)),
        }
        assert_eq!(
            std::fs::read_to_string(lower.path().join("keep.txt")).unwrap(),
            "original"
        );
        assert!(lower.path().join("gone.txt").exists());
        assert!(!lower.path().join("new.txt").exists() && !lower.path().join("d").exists());
        // And the changes vanish with the sandbox.
        assert_eq!(
            stdout_of(&sb, "cat /src/keep.txt; echo; ls /src | wc -l"),
            "original\n2\n"
        );
    });
}

#[test]
fn masked_paths_are_unreadable() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        std::fs::write(dir.path().join("secrets/key"), "s3cr3t").unwrap();
        std::fs::write(dir.path().join("token"), "t0k3n").unwrap();
        let mut sb = Sandbox::new();
        sb.bind_ro(dir.path(), "/data")
            .mask("/data/secrets")
            .mask("/data/token")
            .mask("/data/missing");
        let out = stdout_of(
            &sb,
            "cat /data/token 2>&1; ls /data/secrets 2>&1; cat /data/secrets/key 2>&1; true",
        );
        assert!(
            !out.contains("t0k3n") && !out.contains("s3cr3t") && !out.contains("key\n"),
            "{out}"
        );
        assert!(out.contains("Permission denied"), "{out}");
        // The host's own secrets are masked in the default view.
        if Path::new("/etc/shadow").exists() {
            let out = stdout_of(&Sandbox::new(), "cat /etc/shadow 2>&1 | head -1; true");
            assert!(!out.contains("root:"), "{out}");
        }
    });
}

#[test]
fn dev_has_real_devices_and_nothing_else() {
    as_each_identity(|| {
        let out = stdout_of(
            &Sandbox::new(),
            "stat -c '%F %t:%T' /dev/null; echo x > /dev/null && echo null-ok; \
             head -c 4 /dev/urandom | wc -c; ls /dev | tr '\\n' ' '; echo; [ -e /dev/ptmx ] && echo ptmx; \
             ls /dev/pts | tr '\\n' ' '",
        );
        let l: Vec<&str> = out.lines().collect();
        assert_eq!(l[0], "character special file 1:3");
        assert_eq!(l[1], "null-ok");
        assert_eq!(l[2], "4");
        let devs: Vec<&str> = l[3].split_whitespace().collect();
        for d in [
            "null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "fd",
            "stdin", "stdout", "stderr",
        ] {
            assert!(devs.contains(&d), "/dev/{d} missing: {devs:?}");
        }
        assert!(
            !devs
                .iter()
                .any(|d| d.starts_with("sd") || d.starts_with("vd") || *d == "mem" || *d == "kmsg"),
            "{devs:?}"
        );
        assert_eq!(l[4], "ptmx");
        assert!(l[5].contains("ptmx"), "a new devpts instance: {}", l[5]);
        // Device nodes elsewhere are off: a bound host device is unusable.
        let mut sb = Sandbox::new();
        sb.bind_ro("/dev/null", "/opt/null");
        let (_, out, _) = run(&sb, "cat /opt/null 2>&1; true");
        assert!(out.contains("Permission denied"), "nodev: {out}");
    });
}

#[test]
fn host_paths_are_unreachable_unless_configured() {
    as_each_identity(|| {
        let exe = std::env::current_exe().unwrap();
        let script = format!(
            "for p in /home /root /work /var /srv /mnt /boot {exe} {cwd}; do [ -e $p ] && echo VISIBLE $p; done; \
             readlink /proc/1/exe 2>/dev/null && echo INIT-EXE; cat /proc/1/cmdline 2>/dev/null && echo INIT-CMDLINE; \
             ls /proc/1 >/dev/null 2>&1 && echo INIT-VISIBLE; \
             cd / && cd .. && ls | tr '\\n' ' '",
            exe = exe.display(),
            cwd = std::env::current_dir().unwrap().display()
        );
        // (Without the private home, which would put the caller's HOME
        // path there, empty: tests/home.rs.)
        let mut sb = Sandbox::new();
        sb.private_home(false);
        let mut policies = vec![sb];
        if common::is_root() {
            // Root without a user namespace: the program is uid 0 too.
            let mut sb = Sandbox::new();
            sb.private_home(false);
            sb.namespaces(stockade::Namespaces::default() - stockade::Namespaces::USER);
            policies.push(sb);
        }
        for sb in policies {
            let out = stdout_of(&sb, &script);
            assert!(!out.contains("VISIBLE") && !out.contains("INIT-"), "{out}");
            assert!(!out.contains("home") && !out.contains("root "), "{out}");
        }
    });
}

#[test]
fn planted_symlinks_cannot_redirect_mounts_out_of_the_root() {
    as_each_identity(|| {
        let host_etc_mounts = mounts_under("/etc");
        // A caller-supplied root (think: an image someone else controls) with
        // symlinks planted where mounts will go.
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for d in ["usr", "proc", "dev", "tmp", "etc", "data"] {
            std::fs::create_dir(r.join(d)).unwrap();
        }
        for l in ["bin", "lib", "lib64", "sbin"] {
            if let Ok(t) = std::fs::read_link(Path::new("/").join(l)) {
                symlink(t, r.join(l)).unwrap();
            }
        }
        std::fs::write(r.join("etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
        symlink("/etc", r.join("work")).unwrap();
        symlink("../../../../../../etc", r.join("work2")).unwrap();
        symlink("/etc/passwd", r.join("data/pw")).unwrap();
        symlink("/proc/self/root/etc", r.join("magic")).unwrap();

        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("planted.txt"), "inside").unwrap();
        let file = src.path().join("planted.txt");

        // A file bind through a symlink lands on the root's own /etc/passwd.
        let mut sb = Sandbox::new();
        sb.root_dir(r)
            .bind_ro("/usr", "/usr")
            .bind_ro(&file, "/data/pw");
        assert_eq!(stdout_of(&sb, "cat /etc/passwd"), "inside");
        // Both directory binds land on the root's own /etc.
        let mut sb = Sandbox::new();
        sb.root_dir(r)
            .bind_ro("/usr", "/usr")
            .bind_ro(src.path(), "/work")
            .bind_ro(src.path(), "/work2");
        let out = stdout_of(
            &sb,
            "ls /etc | tr '\\n' ' '; grep -c planted /proc/self/mountinfo || true",
        );
        assert!(out.starts_with("planted.txt"), "{out}");
        // Nothing happened to the host's /etc.
        assert_eq!(mounts_under("/etc"), host_etc_mounts);
        assert!(!Path::new("/etc/planted.txt").exists());

        // A magic link is refused rather than followed.
        let mut sb = Sandbox::new();
        sb.root_dir(r)
            .bind_ro("/usr", "/usr")
            .bind_ro(src.path(), "/magic");
        match sb.spawn(&mut sh("true")) {
            Err(Error::Setup(error::SetupError {
                stage: error::Stage::MountOp,
                target:
                    Some(error::Target::MountOp {
                        index: Some(1),
                        dest,
                    }),
                source,
            })) => {
                assert_eq!(dest, Path::new("/magic"));
                assert_eq!(source.raw_os_error(), Some(libc::ELOOP), "{source}");
            }
            Err(e) => panic!("wrong error: {}", chain(&e)),
            Ok(mut c) => panic!("magic link followed: {:?}", c.wait()),
        }

        // In the default (tmpfs) root: a writable bind of a directory someone
        // else controls, with a planted symlink where a later mount goes.
        let evil = tempfile::tempdir().unwrap();
        symlink("/etc", evil.path().join("sub")).unwrap();
        let mut sb = Sandbox::new();
        sb.bind_rw(evil.path(), "/w").bind_ro(src.path(), "/w/sub");
        let out = stdout_of(&sb, "ls /etc | grep -c planted; ls /w/sub 2>&1 | head -1");
        assert!(
            out.starts_with("1\n"),
            "the mount landed on the sandbox's /etc: {out}"
        );
        assert_eq!(mounts_under("/etc"), host_etc_mounts);
        assert!(!Path::new("/etc/planted.txt").exists());
    });
}

/// Mount points at or under `prefix` in this process's mount namespace.
fn mounts_under(prefix: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_owned))
        .filter(|m| m == prefix || m.starts_with(&format!("{prefix}/")))
        .collect()
}

#[test]
fn custom_root_runs_a_userland_and_needs_its_mount_points() {
    as_each_identity(|| {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for d in ["usr", "proc", "dev", "tmp", "etc"] {
            std::fs::create_dir(r.join(d)).unwrap();
        }
        for l in ["bin", "lib", "lib64", "sbin"] {
            if let Ok(t) = std::fs::read_link(Path::new("/").join(l)) {
                symlink(t, r.join(l)).unwrap();
            }
        }
        let mut sb = Sandbox::new();
        sb.root_dir(r).bind_ro("/usr", "/usr");
        let out = stdout_of(&sb, "echo $$; ls /");
        let mut expected: Vec<String> = std::fs::read_dir(r)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        expected.sort();
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("2"));
        assert_eq!(lines.map(str::to_owned).collect::<Vec<_>>(), expected);
        // The root is read-only: a destination that does not exist cannot be
        // created in it, and the error names the operation.
        let mut sb = Sandbox::new();
        sb.root_dir(r)
            .bind_ro("/usr", "/usr")
            .tmpfs("/newdir", fs::TmpfsOptions::default());
        match sb.spawn(&mut sh("true")) {
            Err(Error::Setup(error::SetupError {
                stage: error::Stage::MountOp,
                target:
                    Some(error::Target::MountOp {
                        index: Some(1),
                        dest,
                    }),
                source,
            })) => {
                assert_eq!(dest, Path::new("/newdir"));
                assert_eq!(source.raw_os_error(), Some(libc::EROFS));
            }
            Err(e) => panic!("wrong error: {}", chain(&e)),
            Ok(mut c) => panic!("unexpected success: {:?}", c.wait()),
        }
    });
}

#[test]
fn a_real_userland_builds_into_a_writable_bind() {
    as_each_identity(|| {
        let out_dir = tempfile::tempdir().unwrap();
        let mut sb = Sandbox::new();
        sb.bind_rw(out_dir.path(), "/out");
        let script = "set -e; cd /tmp; \
                      printf '#include <stdio.h>\\nint main(void){puts(\"compiled in a sandbox\");return 0;}\\n' > hello.c; \
                      cc -O2 -o /out/hello hello.c; /out/hello; \
                      python3 -c 'import sys, json; print(json.dumps({\"py\": sys.version_info[0]}))'; \
                      sh -c 'echo sh-ok'";
        let (st, out, err) = run(&sb, script);
        assert!(st.success(), "{out}\n{err}");
        assert_eq!(out, "compiled in a sandbox\n{\"py\": 3}\nsh-ok\n");
        // The binary is on the host, and runs there too.
        let host = std::process::Command::new(out_dir.path().join("hello"))
            .output()
            .unwrap();
        assert_eq!(host.stdout, b"compiled in a sandbox\n");
    });
}

#[test]
fn bad_filesystem_inputs_are_typed_errors() {
    type Configure = Box<dyn Fn(&mut Sandbox)>;
    type Check = Box<dyn Fn(&fs::Error) -> bool>;
    let cases: Vec<(Configure, Check)> = vec![
        (
            Box::new(|s| {
                s.bind_ro("/usr", "relative");
            }),
            Box::new(|e| {
                matches!(
                    e,
                    fs::Error::BadDestination {
                        op: fs::OpName::BindRo,
                        ..
                    }
                )
            }),
        ),
        (
            Box::new(|s| {
                s.bind_rw("/usr", "/a/../../etc");
            }),
            Box::new(|e| {
                matches!(
                    e,
                    fs::Error::BadDestination {
                        op: fs::OpName::BindRw,
                        ..
                    }
                )
            }),
        ),
        (
            Box::new(|s| {
                s.bind_ro("/no/such/src", "/x");
            }),
            Box::new(|e| {
                matches!(
                    e,
                    fs::Error::MissingSource {
                        op: fs::OpName::BindRo,
                        ..
                    }
                )
            }),
        ),
        (
            Box::new(|s| {
                s.bind_ro("usr", "/x");
            }),
            Box::new(|e| matches!(e, fs::Error::RelativeSource { .. })),
        ),
        (
            Box::new(|s| {
                s.tmpfs(
                    "/t",
                    fs::TmpfsOptions {
                        size: Some(0),
                        mode: None,
                    },
                );
            }),
            Box::new(|e| matches!(e, fs::Error::TmpfsSize { .. })),
        ),
        (
            Box::new(|s| {
                s.tmpfs(
                    "/t",
                    fs::TmpfsOptions {
                        size: None,
                        mode: Some(0o20000),
                    },
                );
            }),
            Box::new(|e| matches!(e, fs::Error::Mode { .. })),
        ),
        (
            Box::new(|s| {
                s.file("/f", "x").bind_ro("/usr", "/f");
            }),
            Box::new(|e| matches!(e, fs::Error::KindMismatch { .. })),
        ),
        (
            Box::new(|s| {
                s.overlay("/etc/hostname", "/o");
            }),
            Box::new(|e| {
                matches!(
                    e,
                    fs::Error::NotADirectory {
                        op: fs::OpName::Overlay,
                        ..
                    }
                )
            }),
        ),
        (
            Box::new(|s| {
                s.root_dir("/no/such/root");
            }),
            Box::new(|e| {
                matches!(
                    e,
                    fs::Error::MissingSource {
                        op: fs::OpName::Root,
                        ..
                    }
                )
            }),
        ),
        (
            Box::new(|s| {
                s.tmpfs("/", fs::TmpfsOptions::default());
            }),
            Box::new(|e| matches!(e, fs::Error::RootDestination { .. })),
        ),
    ];
    for (i, (configure, check)) in cases.iter().enumerate() {
        let mut sb = Sandbox::new();
        configure(&mut sb);
        match sb.validate() {
            Err(Error::Config(stockade::error::ConfigError::Fs(e))) => {
                assert!(check(&e), "case {i}: unexpected error {e}");
                assert!(!e.to_string().is_empty());
            }
            other => panic!("case {i}: expected a filesystem error, got {other:?}"),
        }
    }
    // Optional binds skip a missing source.
    let mut sb = Sandbox::new();
    sb.bind_ro_try("/no/such/src", "/x");
    assert!(sb.validate().is_ok());
    // A filesystem plan without a mount namespace is refused.
    let mut sb = Sandbox::new();
    sb.namespaces(stockade::Namespaces::empty())
        .tmpfs("/x", fs::TmpfsOptions::default());
    assert!(matches!(
        sb.validate(),
        Err(Error::Config(
            stockade::error::ConfigError::Namespaces { .. }
        ))
    ));
}

#[test]
fn files_dirs_and_symlinks() {
    as_each_identity(|| {
        let mut sb = Sandbox::new();
        sb.dir("/opt/app/data")
            .symlink("/opt/app/data", "/data")
            .file("/opt/app/config.toml", "answer = 42\n");
        let out = stdout_of(
            &sb,
            "cat /data/../config.toml; readlink /data; echo x > /opt/app/config.toml 2>/dev/null || echo ro; stat -c %a /opt/app/config.toml",
        );
        assert_eq!(out, "answer = 42\n/opt/app/data\nro\n444\n");
    });
}

#[test]
fn a_missing_mount_api_is_a_typed_unsupported_error() {
    as_each_identity(|| {
        // Re-run the helper below in a process whose seccomp filter answers
        // fsopen(2) with ENOSYS, as on a kernel before 5.2 or under a filter
        // that does not know the call.
        let out = common::run_helper_test("helper_spawn_under_fsopen_enosys");
        assert!(out.contains("fsopen is ENOSYS"), "{out}");
    });
}

#[test]
#[ignore = "helper for a_missing_mount_api_is_a_typed_unsupported_error"]
fn helper_spawn_under_fsopen_enosys() {
    common::answer_enosys(libc::SYS_fsopen);
    println!("fsopen is ENOSYS");
    let sb = Sandbox::new();
    // The first spawn builds the whole root, the second a template: both
    // must give the typed error, and nothing may be left behind.
    for _ in 0..2 {
        match sb.spawn(&mut sh("true")) {
            Err(Error::Unsupported(u)) => {
                assert_eq!(u.feature, stockade::error::Feature::MountApi);
                // This kernel has the call: the filter is what blocks it.
                assert_eq!(u.reason, stockade::error::UnsupportedReason::Blocked);
                assert!(u.to_string().contains("mount API"), "{u}");
            }
            other => panic!("expected Unsupported(MountApi), got {other:?}"),
        }
    }
    common::assert_no_children();
    // A sandbox without a mount namespace does not need it.
    let mut plain = Sandbox::new();
    plain.namespaces(stockade::Namespaces::USER | stockade::Namespaces::PID);
    assert!(plain.status(&mut sh("true")).unwrap().success());
}

/// A bind source is resolved in the caller's view, even `/`: a bind of the
/// host's root shows the host's root (its `/tmp` holds a file the test made
/// there), not the sandbox's half-built one; built whole and from the
/// policy's template.
#[test]
fn a_bind_of_the_root_shows_the_callers_root() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("marker"), "host").unwrap();
        let marker = Path::new("/mnt/host").join(dir.path().strip_prefix("/").unwrap());
        let mut sb = Sandbox::new();
        sb.bind_ro("/", "/mnt/host");
        for round in 0..3 {
            let out = stdout_of(
                &sb,
                &format!(
                    "cat '{}/marker'; echo; [ -d /mnt/host/mnt/host ] && echo NESTED; \
                     [ -e /mnt/host/proc/self ] && echo proc; true",
                    marker.display()
                ),
            );
            assert_eq!(out, "host\nproc\n", "spawn {round}");
        }
    });
}

/// The overlay's layers are named by descriptor paths in the mount's
/// options: `/proc/self/mountinfo` inside shows no host path of the lower
/// directory (nor of the upper and work directories).
#[test]
fn overlay_lower_dir_is_not_shown_in_mountinfo() {
    as_each_identity(|| {
        let lower = tempfile::Builder::new()
            .prefix("stockade-lower-marker")
            .tempdir()
            .unwrap();
        std::fs::write(lower.path().join("f"), "lower").unwrap();
        let mut sb = Sandbox::new();
        sb.overlay(lower.path(), "/o");
        let out = stdout_of(&sb, "cat /o/f; echo; grep ' /o ' /proc/self/mountinfo");
        assert!(out.starts_with("lower\n"), "{out}");
        assert!(out.contains("lowerdir=/proc/self/fd/"), "{out}");
        assert!(!out.contains("stockade-lower-marker"), "{out}");
    });
}

/// A secret of the host that the default view masks stays masked beneath
/// any bind, overlay or root directory whose source contains it; binding
/// the secret itself is a typed error unless the policy opts out of
/// masking (`mask_host_secrets(false)`), which exposes it.
#[test]
fn host_secrets_stay_masked_beneath_binds_unless_opted_out() {
    as_each_identity(|| {
        let Some(secret) = ["/etc/shadow", "/etc/gshadow", "/etc/sudoers"]
            .into_iter()
            .map(Path::new)
            .find(|p| p.is_file())
        else {
            common::skip("no masked secret file on this host");
            return;
        };
        let rel = secret.strip_prefix("/etc").unwrap();
        let check = |sb: &Sandbox, path: &Path, what: &str| {
            let (st, out, _) = run(
                sb,
                &format!(
                    "[ -e '{p}' ] && cat '{p}' 2>&1 | head -c 200",
                    p = path.display()
                ),
            );
            assert!(st.success(), "{what}: {path:?} is missing: {out}");
            assert!(
                out.contains("Permission denied"),
                "{what}: {path:?} readable: {out}"
            );
        };
        let mut sb = Sandbox::new();
        sb.bind_ro("/etc", "/host-etc");
        check(&sb, &Path::new("/host-etc").join(rel), "bind of /etc");
        let mut sb = Sandbox::new();
        sb.bind_ro("/", "/mnt/host");
        check(
            &sb,
            &Path::new("/mnt/host").join(secret.strip_prefix("/").unwrap()),
            "bind of /",
        );
        let mut sb = Sandbox::new();
        sb.root_dir("/");
        check(&sb, secret, "root directory /");
        if let Ok(md) = std::fs::symlink_metadata("/etc/ssl/private") {
            if md.is_dir() {
                let mut sb = Sandbox::new();
                sb.overlay("/etc/ssl", "/o");
                let (_, out, _) = run(&sb, "ls /o/private 2>&1; true");
                assert!(
                    out.contains("Permission denied"),
                    "overlay of /etc/ssl: {out}"
                );
            }
        }

        let mut sb = Sandbox::new();
        sb.bind_ro(secret, "/s");
        match sb.validate() {
            Err(Error::Config(error::ConfigError::Fs(fs::Error::HostSecret {
                op: fs::OpName::BindRo,
                path,
                secret: s,
            }))) => assert!(path == secret && s == secret, "{path:?} {s:?}"),
            other => panic!("expected HostSecret, got {other:?}"),
        }
        // Opting out exposes it: as root the program reads it (the caller's
        // explicit bind is not idmapped), as anyone else the kernel decides.
        sb.mask_host_secrets(false);
        let (st, out, err) = run(&sb, "head -c 5 /s");
        if common::is_root() {
            assert!(st.success() && !out.is_empty(), "{out}{err}");
        } else {
            assert!(err.contains("Permission denied"), "{out}{err}");
        }
    });
}

/// The idmapped system view concerns only the host's system directories: a
/// root caller's program (say, a build tool in CI) still owns what it
/// writes into a writable bind, and reads the caller's own private files
/// there.
#[test]
fn writes_into_binds_keep_the_callers_ids() {
    as_each_identity(|| {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("private"), "mine").unwrap();
        std::fs::set_permissions(
            dir.path().join("private"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let mut sb = Sandbox::new();
        sb.bind_rw(dir.path(), "/work");
        let out = stdout_of(
            &sb,
            "cat /work/private; echo; mkdir /work/out && echo built > /work/out/file && echo ok",
        );
        assert_eq!(out, "mine\nok\n");
        let md = std::fs::metadata(dir.path().join("out/file")).unwrap();
        assert_eq!(
            (md.uid(), md.gid()),
            (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw()
            )
        );
    });
}

#[test]
fn no_exec_binds_refuse_to_execute_even_for_the_owner() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("hello");
        std::fs::write(&script, "#!/bin/sh\necho ran\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        for no_exec in [false, true] {
            let mut sb = Sandbox::new();
            sb.fs_op(fs::Op::Bind {
                src: dir.path().to_owned(),
                dest: "/work".into(),
                read_only: false,
                optional: false,
                devices: false,
                no_exec,
            });
            let (st, out, err) = run(
                &sb,
                "/work/hello; cat /work/hello >/dev/null && echo readable",
            );
            assert!(st.success(), "{out}{err}");
            if no_exec {
                assert_eq!(out, "readable\n");
                assert!(err.contains("Permission denied"), "{err}");
            } else {
                assert_eq!(out, "ran\nreadable\n", "{err}");
            }
        }
    });
}

/// Every filesystem the sandbox mounts names its source in mountinfo as
/// mount(8) would (`proc`, `tmpfs`, `overlay`, ...), never `none`: programs
/// that check their mounts (and the OCI runtime validation) read it.
#[test]
fn new_mounts_name_their_source_in_mountinfo() {
    as_each_identity(|| {
        let lower = tempfile::tempdir().unwrap();
        let mut sb = Sandbox::new();
        sb.overlay(lower.path(), "/o")
            .tmpfs("/scratch", fs::TmpfsOptions::default());
        // mount point, type, source of each mount.
        let out = stdout_of(
            &sb,
            "awk '{for (i = 7; i <= NF; i++) if ($i == \"-\") { print $5, $(i+1), $(i+2); break }}' \
             /proc/self/mountinfo",
        );
        for want in [
            "/proc proc proc",
            "/scratch tmpfs tmpfs",
            "/o overlay overlay",
            // Named as container engines name it.
            "/dev/shm tmpfs shm",
        ] {
            assert!(out.lines().any(|l| l == want), "no `{want}` in:\n{out}");
        }
        assert!(
            !out.lines().any(|l| l.ends_with(" none")),
            "a mount without a source:\n{out}"
        );
    });
}

/// `/dev/mqueue` shows the sandbox's own IPC namespace's message queues,
/// never the host's, and mounts after the rest of `/dev` and before `/sys`
/// (the order container engines use); with a user namespace but no IPC
/// namespace it is a typed error.
#[test]
fn mqueue_shows_the_sandboxs_own_queues() {
    as_each_identity(|| {
        // A queue of the host's (of this test's IPC namespace).
        let name =
            std::ffi::CString::new(format!("/stockade-test-{}", std::process::id())).unwrap();
        // SAFETY: a NUL-terminated name; default attributes (null).
        let q = unsafe {
            libc::mq_open(
                name.as_ptr(),
                libc::O_CREAT | libc::O_RDWR | libc::O_CLOEXEC,
                0o600,
                std::ptr::null::<libc::mq_attr>(),
            )
        };
        assert!(q >= 0, "mq_open: {}", std::io::Error::last_os_error());
        let mut sb = Sandbox::new();
        sb.mqueue(true).sys(true);
        let out = stdout_of(
            &sb,
            "ls -A /dev/mqueue | wc -l; \
             awk '{for (i = 7; i <= NF; i++) if ($i == \"-\") { print $5, $(i+1), $(i+2); break }}' \
             /proc/self/mountinfo",
        );
        // SAFETY: the descriptor from above, closed once.
        unsafe { libc::mq_close(q) };
        // SAFETY: the NUL-terminated name from above.
        unsafe { libc::mq_unlink(name.as_ptr()) };
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0].trim(), "0", "the host's queue is visible:\n{out}");
        let at = |m: &str| lines.iter().position(|l| l.starts_with(m));
        let (mq, shm, sys) = (at("/dev/mqueue "), at("/dev/shm "), at("/sys "));
        assert!(
            lines.contains(&"/dev/mqueue mqueue mqueue"),
            "no mqueue mount:\n{out}"
        );
        assert!(
            shm < mq && mq < sys,
            "order /dev/shm, /dev/mqueue, /sys:\n{out}"
        );

        let mut sb = Sandbox::new();
        sb.mqueue(true).namespaces(
            (stockade::Namespaces::default() | stockade::Namespaces::USER)
                - stockade::Namespaces::IPC,
        );
        assert!(
            matches!(
                sb.validate(),
                Err(Error::Config(error::ConfigError::MqueueNeedsIpcNamespace))
            ),
            "{:?}",
            sb.validate()
        );
    });
}
