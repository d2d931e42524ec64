//! Full uid and gid ranges: a root caller maps them itself, an unprivileged
//! one through `newuidmap`/`newgidmap` and its `/etc/subuid`, `/etc/subgid`
//! entries, which the set-up adds for the test uid.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::cli_binary as cli;
use common::{TEST_UID, as_each_identity, as_root, is_root};
use stockade::{Error, IdRange, Sandbox, ids};

/// The outside (uid, gid) of inside id `n` (n >= 1).
type OutsideOf = Box<dyn Fn(u32) -> (u32, u32)>;

/// Where the root caller's ranges map ids 1.. outside: far from any user.
const ROOT_BASE: u32 = 3_000_000_000;

/// A sandbox whose program runs as uid 0 and gid 0 with ranges: the
/// caller's subordinate ids when unprivileged, 0 to itself and the rest
/// from [`ROOT_BASE`] when root. Returns it with the outside id of inside
/// id `n` for n >= 1: (uid, gid).
fn ranged() -> Option<(Sandbox, OutsideOf)> {
    let mut sb = Sandbox::new();
    sb.uid(0).gid(0);
    keep_admin_caps(&mut sb);
    if is_root() {
        // The unprivileged run that follows needs the test uid's entries:
        // on a fresh machine, this root run may be the first to ask.
        common::subordinate_ids()?;
        let r = [IdRange::new(0, 0, 1), IdRange::new(1, ROOT_BASE + 1, 65535)];
        sb.uid_ranges(r).gid_ranges(r);
        Some((sb, Box::new(|n| (ROOT_BASE + n, ROOT_BASE + n))))
    } else {
        let (u, g) = common::subordinate_ids()?;
        sb.subordinate_ids(true);
        Some((sb, Box::new(move |n| (u + n - 1, g + n - 1))))
    }
}

#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs /etc/subuid and /etc/subgid entries for the unprivileged uid, which the host run's set-up adds; the VM sees the host's /etc read-only"
)]
fn ranges_map_many_ids_and_chown_and_setgroups_work() {
    as_each_identity(|| {
        if is_root() {
            // The unprivileged run needs the entries the root run adds.
            common::subordinate_ids();
        }
        ranges_map_many_ids();
    });
}

/// A root caller's explicit ranges (no helper, no subordinate ids): for the
/// VM's kernels too.
#[test]
fn explicit_ranges_map_many_ids_as_root() {
    as_root(ranges_map_many_ids);
}

fn ranges_map_many_ids() {
    {
        let Some((mut sb, outside)) = ranged() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        sb.bind_rw(dir.path(), "/work");
        let child = sb
            .spawn(
                common::sh(
                    "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; \
                 cd /work && touch a b c && chown 1000:2000 a && chown 42:43 b && \
                 chown 65000:65001 c && stat -c '%u:%g' a b c && \
                 setpriv --groups 5,6,1000 id -G",
                )
                .stdout(stockade::Stdio::piped())
                .stderr(stockade::Stdio::piped()),
            )
            .unwrap();
        let e = child.enforcement().clone();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines[..2], ["0", "0"], "{stdout}");
        // Each map as the kernel shows it: the program's own id, then the
        // ranges.
        assert!(e.uid_ranges.len() >= 2 && e.gid_ranges.len() >= 2, "{e}");
        let shown: Vec<Vec<u64>> = lines[2..]
            .iter()
            .take(e.uid_ranges.len() + e.gid_ranges.len())
            .map(|l| l.split_whitespace().map(|w| w.parse().unwrap()).collect())
            .collect();
        let want: Vec<Vec<u64>> = e
            .uid_ranges
            .iter()
            .chain(&e.gid_ranges)
            .map(|r| vec![r.inside.into(), r.outside.into(), r.count.into()])
            .collect();
        assert_eq!(shown, want, "{stdout}");
        assert!(
            stdout.contains("1000:2000\n42:43\n65000:65001\n"),
            "{stdout}"
        );
        assert!(stdout.ends_with("0 5 6 1000\n"), "{stdout}");
        // The host sees the ids outside.
        for (name, (u, g)) in [("a", (1000, 2000)), ("b", (42, 43)), ("c", (65000, 65001))] {
            let m = std::fs::metadata(dir.path().join(name)).unwrap();
            assert_eq!((m.uid(), m.gid()), (outside(u).0, outside(g).1), "{name}");
        }
        // The report names the maps in force.
        let text = e.to_string();
        assert!(text.contains("uid map 0:"), "{text}");
    }
}

#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs /etc/subuid and /etc/subgid entries for the unprivileged uid, which the host run's set-up adds; the VM sees the host's /etc read-only"
)]
fn a_containers_execs_run_as_its_program_ids_with_the_ranges() {
    as_each_identity(|| {
        let Some((mut sb, _)) = ranged() else {
            return;
        };
        sb.uid(7).gid(8);
        let mut c = sb.start().unwrap();
        let out = c
            .output(&mut common::sh(
                "id -u; id -g; id -G; wc -l < /proc/self/uid_map",
            ))
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines[..3], ["7", "8", "8"], "{stdout}");
        assert_ne!(lines[3].trim(), "1", "{stdout}");
        c.stop(std::time::Duration::from_secs(5)).unwrap();
    });
}

#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs /etc/subuid and /etc/subgid entries for the unprivileged uid, which the host run's set-up adds; the VM sees the host's /etc read-only"
)]
fn a_containers_program_runs_as_any_id_of_its_ranges() {
    as_each_identity(|| {
        let Some((mut sb, _)) = ranged() else {
            return;
        };
        sb.uid(7).gid(8);
        let mut c = sb.start().unwrap();
        let out = c
            .output(common::sh("id -u; id -g; id -G").user(1000, 2000))
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        // Its gid map was written with privilege: no groups are kept.
        assert_eq!(stdout, "1000\n2000\n2000\n");
        // The others still run as the container's program ids.
        let out = c.output(&mut common::sh("id -u")).unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "7\n");
        match c.output(common::sh("true").user(70_000, 8)) {
            Err(Error::Config(e @ stockade::error::ConfigError::UnmappedId { .. })) => {
                let text = e.to_string();
                assert!(text.contains("uid 70000"), "{text}");
                assert!(text.contains("uids 0-65535"), "{text}");
            }
            other => panic!("{other:?}"),
        }
        c.stop(std::time::Duration::from_secs(5)).unwrap();
    });
}

#[test]
fn without_subordinate_entries_the_error_says_how_to_add_them_as_root() {
    as_root(|| {
        let text = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
        if text
            .lines()
            .any(|l| l.starts_with("root:") || l.starts_with("0:"))
        {
            return common::skip("root has an /etc/subuid entry here");
        }
        let mut sb = Sandbox::new();
        sb.subordinate_ids(true);
        let e = sb.output(&mut common::sh("true")).unwrap_err();
        assert!(
            matches!(&e, Error::Ids(ids::Error::NoSubordinateIds { file, user, .. })
                if file == Path::new("/etc/subuid") && user == "root"),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("usermod --add-subuids 100000-165535 root"),
            "{e}"
        );
    });
}

#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs /etc/subuid and /etc/subgid entries for the unprivileged uid, which the host run's set-up adds; the VM sees the host's /etc read-only"
)]
fn an_unprivileged_caller_maps_only_what_it_was_granted() {
    as_each_identity(|| {
        if is_root() {
            common::subordinate_ids();
            return;
        }
        let Some((u, _)) = common::subordinate_ids() else {
            return;
        };
        let me = nix::unistd::geteuid().as_raw();
        let mut sb = Sandbox::new();
        // Its own uid, then one id past its grant.
        sb.uid(0)
            .uid_ranges([IdRange::new(0, me, 1), IdRange::new(1, u + 65535, 2)]);
        let e = sb.output(&mut common::sh("true")).unwrap_err();
        assert!(
            matches!(&e, Error::Ids(ids::Error::NotOwned { file, .. }) if file == Path::new("/etc/subuid")),
            "{e:?}"
        );
        // Within the grant it works.
        sb.uid_ranges([IdRange::new(0, me, 1), IdRange::new(1, u + 10, 5)]);
        let out = sb
            .output(&mut common::sh("cat /proc/self/uid_map"))
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert_eq!(stdout.lines().count(), 2, "{stdout}");
    });
}

/// Keeps what a userland's root needs to manage its users and files (the
/// sandbox drops every capability by default).
fn keep_admin_caps(sb: &mut Sandbox) {
    use stockade::caps::Capability as C;
    for c in [
        C::Chown,
        C::DacOverride,
        C::Fowner,
        C::Fsetid,
        C::Setuid,
        C::Setgid,
        C::AuditWrite,
    ] {
        sb.keep_capability(c);
    }
}

/// The Debian bookworm minbase tree the test set-up builds as root with
/// mmdebstrap, its owners shifted as a sandbox with the test uid's
/// subordinate ids maps them (0 to the test uid, `n` to the `n`th
/// subordinate id), so that root and unprivileged callers map it alike
/// (cached; one tree, as a copy costs as much disk again); and a local
/// package to install in it, built with dpkg-deb.
fn debian_tree(sub: (u32, u32)) -> Option<(PathBuf, PathBuf)> {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let tree = base.join(format!(
        "debian-bookworm-minbase-{TEST_UID}-{}-{}",
        sub.0, sub.1
    ));
    let deb = base.join("stockade-hello.deb");
    if is_root() {
        let _lock = common::lock_file(&base.join("debian.lock"));
        if !tree.join("etc/debian_version").exists() {
            let mmdebstrap = common::debian_package("mmdebstrap", "mmdebstrap")?;
            let partial = tree.with_extension("partial");
            let _ = std::fs::remove_dir_all(&partial);
            let st = std::process::Command::new(mmdebstrap)
                .args(["--variant=minbase", "bookworm"])
                .arg(&partial)
                .status()
                .unwrap();
            assert!(st.success(), "mmdebstrap failed");
            shift(&partial, sub);
            std::fs::rename(&partial, &tree).unwrap();
        }
        if !deb.exists() {
            let src = base.join("stockade-hello");
            let _ = std::fs::remove_dir_all(&src);
            std::fs::create_dir_all(src.join("DEBIAN")).unwrap();
            std::fs::create_dir_all(src.join("usr/share/stockade-hello")).unwrap();
            std::fs::write(
                src.join("DEBIAN/control"),
                "Package: stockade-hello\nVersion: 1.0\nArchitecture: all\n\
                 Maintainer: stockade tests <tests@localhost>\nDescription: a test package\n",
            )
            .unwrap();
            std::fs::write(src.join("usr/share/stockade-hello/hello"), "hello\n").unwrap();
            let st = std::process::Command::new("dpkg-deb")
                .args(["--root-owner-group", "--build"])
                .arg(&src)
                .arg(&deb)
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(st.success(), "dpkg-deb failed");
        }
    }
    if !tree.join("etc/debian_version").exists() || !deb.exists() {
        common::skip("the Debian tree is built by the root run");
        return None;
    }
    Some((tree, deb))
}

/// Shifts the owners of every file in `tree`: id 0 to the test uid (gid),
/// id `n` to the `n`th subordinate id from `sub`.
fn shift(tree: &Path, sub: (u32, u32)) {
    use std::os::unix::fs::PermissionsExt;
    let shift = |id: u32, base: u32| if id == 0 { TEST_UID } else { base + id - 1 };
    let mut stack = vec![tree.to_owned()];
    while let Some(p) = stack.pop() {
        let m = p.symlink_metadata().unwrap();
        let (u, g) = (shift(m.uid(), sub.0), shift(m.gid(), sub.1));
        std::os::unix::fs::lchown(&p, Some(u), Some(g)).unwrap();
        if !m.file_type().is_symlink() {
            // chown clears the set-id bits: they come back.
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m.mode() & 0o7777))
                .unwrap();
        }
        if m.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        }
    }
}

/// What the test compares of the lower tree before and after.
fn fingerprint(tree: &Path) -> Vec<(PathBuf, u32, u32, u32, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in ["etc", "home", "var/lib/dpkg"] {
        let mut stack = vec![tree.join(dir)];
        while let Some(d) = stack.pop() {
            let mut entries: Vec<_> = std::fs::read_dir(&d).unwrap().flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let m = e.path().symlink_metadata().unwrap();
                let data = if m.is_file() {
                    std::fs::read(e.path()).unwrap()
                } else {
                    Vec::new()
                };
                if m.is_dir() {
                    stack.push(e.path());
                }
                out.push((e.path(), m.uid(), m.gid(), m.mode(), data));
            }
        }
    }
    out
}

#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "builds a Debian tree with mmdebstrap from the network; the host run covers it"
)]
fn a_debian_userland_adds_users_and_installs_packages() {
    as_each_identity(|| {
        let Some(sub) = common::subordinate_ids() else {
            return;
        };
        let Some((tree, deb)) = debian_tree(sub) else {
            return;
        };
        let mut sb = Sandbox::new();
        if is_root() {
            // A root caller maps any range: here the test uid's, as
            // `subordinate_ids` maps them for it, and its own uid 0 (the
            // sandbox's first process runs as it) to an id of its own.
            let map = |first| {
                [
                    IdRange::new(0, TEST_UID, 1),
                    IdRange::new(1, first, 65535),
                    IdRange::new(65536, 0, 1),
                ]
            };
            sb.uid_ranges(map(sub.0)).gid_ranges(map(sub.1));
        } else {
            sb.subordinate_ids(true);
        }
        let before = fingerprint(&tree);
        sb.root_dir(&tree)
            .uid(0)
            .gid(0)
            .bind_ro(&deb, "/tmp/hello.deb");
        keep_admin_caps(&mut sb);
        for d in ["/etc", "/var", "/home", "/usr"] {
            sb.overlay(tree.join(&d[1..]), d);
        }
        let script = "set -e
            useradd -m alice
            su alice -c id
            stat -c '%U:%G' /home/alice
            touch /home/f && chown 1234:5678 /home/f && stat -c '%u:%g' /home/f
            chown alice:users /home/f && stat -c '%U:%G' /home/f
            dpkg -i /tmp/hello.deb >/dev/null
            cat /usr/share/stockade-hello/hello
            dpkg -s stockade-hello | grep '^Status'";
        let out = sb.output(&mut common::sh(script)).unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(
            stdout.contains("uid=1000(alice) gid=1000(alice) groups=1000(alice)"),
            "{stdout}"
        );
        assert!(
            stdout.contains("alice:alice\n1234:5678\nalice:users\nhello\n"),
            "{stdout}"
        );
        assert!(stdout.contains("Status: install ok installed"), "{stdout}");
        assert!(before == fingerprint(&tree), "the lower tree changed");
    });
}

/// A system container: the Debian userland as a writable root with a
/// persistent layer and ranges. What one run of the container does (a user
/// added, a package installed, files chowned) is there after stop and
/// start, `Layer::changes` lists it, and after `discard` it is gone; the
/// lower tree never changes.
#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "builds a Debian tree with mmdebstrap from the network; the host run covers it"
)]
fn a_debian_system_container_keeps_its_changes_across_stop_and_start_until_reset() {
    as_each_identity(|| {
        let Some(sub) = common::subordinate_ids() else {
            return;
        };
        let Some((tree, deb)) = debian_tree(sub) else {
            return;
        };
        let layer_dir = tempfile::tempdir_in("/var/tmp").unwrap();
        let layer = layer_dir.path().join("layer");
        let mut sb = Sandbox::new();
        if is_root() {
            let map = |first| {
                [
                    IdRange::new(0, TEST_UID, 1),
                    IdRange::new(1, first, 65535),
                    IdRange::new(65536, 0, 1),
                ]
            };
            sb.uid_ranges(map(sub.0)).gid_ranges(map(sub.1));
        } else {
            sb.subordinate_ids(true);
        }
        sb.root_dir(&tree)
            .writable_root(stockade::fs::Upper::Persistent(layer.clone()))
            .uid(0)
            .gid(0)
            .bind_ro(&deb, "/tmp/hello.deb");
        keep_admin_caps(&mut sb);
        let before = fingerprint(&tree);
        let exec = |c: &stockade::Container, script: &str| {
            let out = c.output(&mut common::sh(script)).unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr),
            )
        };
        // First life: change the system.
        let mut c = sb.start().unwrap();
        let (ok, out) = exec(
            &c,
            "set -e; useradd -m alice; dpkg -i /tmp/hello.deb >/dev/null; \
             touch /srv/f && chown 1234:5678 /srv/f; rm /etc/issue.net",
        );
        assert!(ok, "{out}");
        c.stop(std::time::Duration::from_secs(5)).unwrap();
        // Second life: it is all there.
        let mut c = sb.start().unwrap();
        let (ok, out) = exec(
            &c,
            "set -e; su alice -c id; cat /usr/share/stockade-hello/hello; \
             stat -c '%u:%g' /srv/f; test ! -e /etc/issue.net && echo deleted",
        );
        assert!(ok, "{out}");
        assert!(
            out.contains("uid=1000(alice)") && out.contains("hello\n1234:5678\ndeleted\n"),
            "{out}"
        );
        c.stop(std::time::Duration::from_secs(5)).unwrap();
        drop(c);
        let l = stockade::layer::Layer::new(&layer, &tree);
        if !is_root() {
            // The layer holds files of the subordinate ids, which the
            // caller itself may not read or remove: the layer says so,
            // naming the path, and a sandbox with the same ids resets it
            // (the documented way for an unprivileged caller).
            let e = l.discard().unwrap_err();
            assert!(e.to_string().contains(&*layer.to_string_lossy()), "{e}");
            let mut reset = Sandbox::new();
            reset
                .subordinate_ids(true)
                .uid(0)
                .gid(0)
                .bind_rw(&layer, "/layer");
            keep_admin_caps(&mut reset);
            let out = reset
                .output(&mut common::sh(
                    "rm -rf /layer/upper/* /layer/upper/.[!.]* /layer/work/* 2>&1; ls -A /layer/upper",
                ))
                .unwrap();
            assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
            let c = sb.start().unwrap();
            let (ok, out) = exec(&c, "id alice 2>&1; test -e /srv/f || echo no-f");
            assert!(
                ok && out.contains("no such user") && out.ends_with("no-f\n"),
                "{out}"
            );
            drop(c);
            assert!(before == fingerprint(&tree), "the lower tree changed");
            return;
        }
        // What changed, as the layer lists it.
        let changes: Vec<String> = l
            .changes()
            .unwrap()
            .iter()
            .map(|c| format!("{} {}", c.kind.letter(), c.path.display()))
            .collect();
        for want in [
            "A home/alice",
            "A srv/f",
            "A usr/share/stockade-hello/hello",
            "M etc/passwd",
            "D etc/issue.net",
        ] {
            assert!(
                changes
                    .iter()
                    .any(|c| c == want || c == &format!("{want}/")),
                "{want} missing from {changes:#?}"
            );
        }
        // Reset: the next life starts from the lower tree again.
        l.discard().unwrap();
        let c = sb.start().unwrap();
        let (ok, out) = exec(
            &c,
            "id alice 2>&1; test -e /srv/f || echo no-f; test -e /etc/issue.net && echo issue",
        );
        assert!(ok, "{out}");
        assert!(
            out.contains("no such user") && out.contains("no-f\nissue\n"),
            "{out}"
        );
        drop(c);
        assert!(before == fingerprint(&tree), "the lower tree changed");
    });
}

/// The front end's options for ranges: explicit ones as root, `--subids`
/// otherwise.
fn cli_range_args() -> Vec<String> {
    let mut v: Vec<String> = ["--uid", "0", "--gid", "0"].map(String::from).to_vec();
    if is_root() {
        for o in ["--uid-range", "--gid-range"] {
            v.extend([
                o.into(),
                "0:0:1".into(),
                o.into(),
                format!("1:{}:65535", ROOT_BASE + 1),
            ]);
        }
    } else {
        v.push("--subids".into());
    }
    v
}

#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs /etc/subuid and /etc/subgid entries for the unprivileged uid, which the host run's set-up adds; the VM sees the host's /etc read-only"
)]
fn the_cli_maps_ranges_for_run_and_start() {
    as_each_identity(|| {
        if common::subordinate_ids().is_none() {
            return;
        }
        let runtime = tempfile::Builder::new()
            .prefix("sx")
            .tempdir_in("/tmp")
            .unwrap();
        let run = |args: &[String]| {
            let out = std::process::Command::new(cli())
                .env("XDG_RUNTIME_DIR", runtime.path())
                .stdin(std::process::Stdio::null())
                .args(args)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(out.status.success(), "{args:?}: {stdout}\n{stderr}");
            stdout
        };
        let ranges = cli_range_args();
        let mut one_shot = ranges.clone();
        one_shot.extend(["--", "sh", "-c", "id -u; cat /proc/self/uid_map"].map(String::from));
        let out = run(&one_shot);
        assert!(out.starts_with("0\n"), "{out}");
        assert_eq!(out.lines().count(), 3, "{out}");
        let name = format!("ranges-{}", std::process::id());
        let mut start: Vec<String> = vec!["start".into(), name.clone()];
        start.extend(ranges);
        run(&start);
        let out = run(&[
            "exec",
            &name,
            "--",
            "sh",
            "-c",
            "id -u; wc -l < /proc/self/gid_map",
        ]
        .map(String::from));
        run(&["stop".into(), name]);
        assert_eq!(out, "0\n2\n");
    });
}

#[test]
fn the_cli_says_how_to_add_missing_subordinate_ids_as_root() {
    as_root(|| {
        // A uid with no entries (the set-up adds only the test uid's).
        let uid = TEST_UID - 1;
        for f in ["/etc/subuid", "/etc/subgid"] {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            if text.lines().any(|l| l.starts_with(&format!("{uid}:"))) {
                return common::skip("uid 65533 has subordinate ids here");
            }
        }
        let out = std::process::Command::new("setpriv")
            .args([
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--clear-groups",
            ])
            .arg(cli())
            .args(["--subids", "--", "true"])
            .env("XDG_RUNTIME_DIR", "/tmp")
            .current_dir("/")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{stderr}");
        assert!(
            stderr.contains("/etc/subuid has no entry for user")
                && stderr.contains("usermod --add-subuids 100000-165535"),
            "{stderr}"
        );
        // An explicit range in the command line's words.
        let out = std::process::Command::new(cli())
            .args(["--uid-range", "0:0:0", "--", "true"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("invalid uid range 0:0:0"), "{stderr}");
        let out = std::process::Command::new(cli())
            .args(["--uid", "5", "--uid-range", "0:0:1", "--", "true"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("the uid ranges of --uid-range are too small"),
            "{stderr}"
        );
    });
}

/// Spawn cost with ranges (a root caller writes them; an unprivileged one
/// runs `newuidmap` and `newgidmap`) against the single-id map, measured
/// interleaved, for the default policy (whose single-id spawns start from
/// the template, which ranges do without) and for one without a mount
/// namespace (the maps alone).
#[test]
#[ignore = "a measurement: cargo test --test id_ranges -- --ignored measure"]
fn measure_spawn_cost_of_ranges() {
    as_each_identity(|| {
        let Some((ranged_default, _)) = ranged() else {
            return;
        };
        let mut single_default = Sandbox::new();
        single_default.uid(0).gid(0);
        let no_mounts = stockade::Namespaces::USER | stockade::Namespaces::PID;
        let mut single_bare = single_default.clone();
        single_bare.namespaces(no_mounts);
        let mut ranged_bare = ranged_default.clone();
        ranged_bare.namespaces(no_mounts);
        let policies = [
            ("default, single map", &single_default),
            ("default, ranges", &ranged_default),
            ("user+pid only, single map", &single_bare),
            ("user+pid only, ranges", &ranged_bare),
        ];
        let mut times: Vec<Vec<std::time::Duration>> = vec![Vec::new(); policies.len()];
        for round in 0..12 {
            for (i, (_, sb)) in policies.iter().enumerate() {
                let t = std::time::Instant::now();
                for _ in 0..20 {
                    assert!(
                        sb.status(&mut stockade::Command::new("/bin/true"))
                            .unwrap()
                            .success()
                    );
                }
                if round > 1 {
                    times[i].push(t.elapsed() / 20);
                }
            }
        }
        let median = |v: &mut Vec<std::time::Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let m: Vec<std::time::Duration> = times.iter_mut().map(median).collect();
        for (i, (name, _)) in policies.iter().enumerate() {
            eprintln!("measured: {name}: {:?} per spawn", m[i]);
        }
        eprintln!(
            "measured: ranges/single: {:.2} (default policy), {:.2} (user+pid only)",
            m[1].as_secs_f64() / m[0].as_secs_f64(),
            m[3].as_secs_f64() / m[2].as_secs_f64()
        );
    });
}
