//! A writable root (an overlay over the root directory or the default
//! view) with a temporary or persistent upper layer, and the snapshots of
//! a persistent one ([`stockade::layer`]).

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{as_each_identity, as_root, run};
use stockade::Sandbox;
use stockade::fs::Upper;
use stockade::layer::{ChangeKind, Layer};

/// A small root tree: a static busybox as `/bin/sh` (and the applets the
/// scripts use), mount points, and some data to change.
fn tree(dir: &Path) -> PathBuf {
    let busybox = common::debian_package("busybox", "busybox-static").expect("busybox");
    let root = dir.join("lower");
    for d in ["bin", "proc", "dev", "tmp", "etc", "data/sub", "data/gone"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
    for applet in [
        "sh", "cat", "rm", "mkdir", "echo", "ls", "mv", "chmod", "ln", "touch", "rmdir", "stat",
        "find", "sort", "sleep",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    std::fs::write(root.join("etc/hostname"), "lower\n").unwrap();
    std::fs::write(root.join("data/keep"), "keep\n").unwrap();
    std::fs::write(root.join("data/edit"), "old\n").unwrap();
    std::fs::write(root.join("data/del"), "del\n").unwrap();
    std::fs::write(root.join("data/sub/inner"), "inner\n").unwrap();
    std::fs::write(root.join("data/gone/x"), "x\n").unwrap();
    root
}

/// Every entry beneath `dir` with its type, mode, owner, size, contents
/// (files) or target (symlinks): what "byte-for-byte unchanged" compares.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let what = if md.is_dir() {
                stack.push(p.clone());
                String::from("dir")
            } else if md.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&p).unwrap())
            } else {
                format!("file {:?}", std::fs::read(&p).unwrap())
            };
            let key = p.strip_prefix(dir).unwrap().to_owned();
            out.insert(
                key,
                format!(
                    "{what} {:o} {}:{}",
                    md.permissions().mode(),
                    md.uid(),
                    md.gid()
                ),
            );
        }
    }
    out
}

/// Where a layer directory cannot be (a filesystem without `user.`
/// extended attributes, as tmpfs before Linux 6.6): asserts that `sb`,
/// which keeps its layer in `dir`, is refused with the typed error, and
/// returns `true` (the test has nothing more to show).
fn refused_for_xattrs(sb: &Sandbox, dir: &Path) -> bool {
    if common::user_xattrs(dir) {
        return false;
    }
    match fs_error(sb) {
        stockade::fs::Error::LayerNoUserXattr { .. } => {}
        other => panic!("{other:?}"),
    }
    eprintln!("note: {dir:?} takes no user. xattrs: only the refusal is shown");
    true
}

/// Creates, modifies and deletes files all over the root, and replaces a
/// directory.
const CHANGE: &str = "echo new > /data/new && echo more >> /data/edit && rm /data/del \
     && rm -r /data/gone && mkdir /data/gone && echo y > /data/gone/y \
     && echo top > /top && echo sandbox > /etc/hostname && echo ok";

/// `CHANGE` without replacing a directory, which a temporary upper layer
/// (a tmpfs) in a user namespace can do only from Linux 6.6.
const CHANGE_IN_PLACE: &str = "echo new > /data/new && echo more >> /data/edit && rm /data/del \
     && echo top > /top && echo sandbox > /etc/hostname && echo ok";

#[test]
fn a_temporary_writable_root_changes_anything_and_leaves_nothing() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let lower = tree(dir.path());
        let before = snapshot(&lower);
        let mut sb = Sandbox::new();
        sb.root_dir(&lower).writable_root(Upper::Temporary);
        let shm = Path::new("/dev/shm");
        let change = if shm.is_dir() && !common::user_xattrs(shm) {
            CHANGE_IN_PLACE
        } else {
            CHANGE
        };
        let (st, out, err) = run(&sb, change);
        assert!(st.success(), "{out}{err}");
        assert_eq!(out, "ok\n");
        let (_, out, _) = run(&sb, "cat /data/edit /etc/hostname; ls /data; ls /top 2>&1");
        assert_eq!(
            out,
            "old\nlower\ndel\nedit\ngone\nkeep\nsub\nls: /top: No such file or directory\n"
        );
        assert_eq!(snapshot(&lower), before);
    });
}

/// What the sandbox sees of the tree the scripts change.
const VIEW: &str = "cd / && find data etc top 2>/dev/null | sort && cat data/* data/gone/* etc/hostname top 2>/dev/null";

/// The changes `CHANGE` makes, as a layer lists them.
fn expected_changes() -> Vec<(ChangeKind, &'static str)> {
    use ChangeKind::*;
    vec![
        (Deleted, "data/del"),
        (Modified, "data/edit"),
        (Replaced, "data/gone"),
        (Added, "data/gone/y"),
        (Added, "data/new"),
        (Modified, "etc/hostname"),
        (Added, "top"),
    ]
}

fn changes(layer: &Layer) -> Vec<(ChangeKind, String)> {
    layer
        .changes()
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.path.to_string_lossy().into_owned()))
        .collect()
}

fn expect(list: Vec<(ChangeKind, &str)>) -> Vec<(ChangeKind, String)> {
    list.into_iter().map(|(k, p)| (k, p.to_owned())).collect()
}

#[test]
fn a_persistent_writable_root_keeps_lists_commits_and_discards_changes() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let lower = tree(dir.path());
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("f"), "outside\n").unwrap();
        let layer_dir = dir.path().join("layer");
        let before = snapshot(&lower);
        let mut sb = Sandbox::new();
        sb.root_dir(&lower)
            .writable_root(Upper::Persistent(layer_dir.clone()));
        if refused_for_xattrs(&sb, dir.path()) {
            return;
        }
        let (_, original, _) = run(&sb, VIEW);
        let (st, out, err) = run(&sb, CHANGE);
        assert!(st.success(), "{out}{err}");
        let (_, changed, _) = run(&sb, VIEW);
        assert_ne!(changed, original);
        // The next sandbox sees them, the lower tree does not have them.
        assert_eq!(run(&sb, VIEW).1, changed);
        assert_eq!(snapshot(&lower), before);
        let layer = Layer::new(&layer_dir, &lower);
        assert_eq!(changes(&layer), expect(expected_changes()));

        // Discarded: the next sandbox sees the lower tree again.
        layer.discard().unwrap();
        assert_eq!(changes(&layer), vec![]);
        assert_eq!(run(&sb, VIEW).1, original);
        assert_eq!(snapshot(&lower), before);

        // Committed: the lower tree is what the sandbox saw.
        let (st, _, _) = run(&sb, CHANGE);
        assert!(st.success());
        let outside_before = snapshot(&outside);
        layer.commit().unwrap();
        assert_eq!(changes(&layer), vec![]);
        let mut ro = Sandbox::new();
        ro.root_dir(&lower);
        assert_eq!(run(&ro, VIEW).1, changed);
        assert_eq!(run(&sb, VIEW).1, changed);
        assert_eq!(
            std::fs::read_to_string(lower.join("data/edit")).unwrap(),
            "old\nmore\n"
        );
        assert!(!lower.join("data/gone/x").exists());
        assert_eq!(snapshot(&outside), outside_before);
        let leftovers: Vec<_> = snapshot(&lower)
            .into_keys()
            .filter(|p| p.to_string_lossy().contains(".stockade-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    });
}

/// Runs `chattr` with `flag` on `path`.
fn chattr(flag: &str, path: &Path) {
    let st = std::process::Command::new("chattr")
        .arg(flag)
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "chattr {flag} {path:?}");
}

#[test]
fn a_commit_that_fails_midway_leaves_the_lower_tree_as_it_was() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let lower = tree(dir.path());
        // Sorted after `data/`, whose changes are staged (and, as root,
        // swapped in) before this one fails.
        let stuck = lower.join("zz");
        std::fs::create_dir(&stuck).unwrap();
        std::fs::write(stuck.join("locked"), "locked\n").unwrap();
        let layer_dir = dir.path().join("layer");
        let mut sb = Sandbox::new();
        sb.root_dir(&lower)
            .writable_root(Upper::Persistent(layer_dir.clone()));
        if refused_for_xattrs(&sb, dir.path()) {
            return;
        }
        let (st, out, err) = run(&sb, &format!("{CHANGE} && echo changed >> /zz/locked"));
        assert!(st.success(), "{out}{err}");
        // Root may write anywhere: an immutable file cannot be renamed
        // aside (the swap fails after `data/`'s renames). Others: a
        // read-only directory takes no staged entry (the staging fails).
        let root = common::is_root();
        let layer = Layer::new(&layer_dir, &lower);
        let listed = changes(&layer);
        let before = snapshot(&lower);
        if root {
            chattr("+i", &stuck.join("locked"));
        } else {
            std::fs::set_permissions(&stuck, std::fs::Permissions::from_mode(0o555)).unwrap();
        }
        let e = layer.commit().unwrap_err();
        if root {
            chattr("-i", &stuck.join("locked"));
        } else {
            std::fs::set_permissions(&stuck, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        match &e {
            stockade::layer::Error::CommitFailed { path, op, .. } => {
                assert_eq!(path, &stuck.join("locked"), "{e}");
                let want = if root {
                    stockade::layer::LayerOp::Swap
                } else {
                    stockade::layer::LayerOp::Stage
                };
                assert_eq!(*op, want, "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("left as it was"), "{e}");
        assert_eq!(snapshot(&lower), before);
        // The layer keeps its changes, and commits once it can.
        assert_eq!(changes(&layer), listed);
        layer.commit().unwrap();
        assert_eq!(
            std::fs::read_to_string(stuck.join("locked")).unwrap(),
            "locked\nchanged\n"
        );
        assert_eq!(std::fs::read_to_string(lower.join("top")).unwrap(), "top\n");
    });
}

/// The filesystem error of a policy that cannot spawn.
fn fs_error(sb: &Sandbox) -> stockade::fs::Error {
    match sb.output(&mut common::sh("true")) {
        Err(stockade::Error::Config(stockade::error::ConfigError::Fs(e))) => e,
        other => panic!("not a filesystem error: {other:?}"),
    }
}

#[test]
fn bad_layer_directories_and_roots_are_refused_with_typed_errors() {
    use stockade::fs::{Error as E, OpName};
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let lower = tree(dir.path());
        // Inside the lower tree, or containing it.
        for layer in [lower.join("data/layer"), dir.path().to_owned()] {
            let mut sb = Sandbox::new();
            sb.root_dir(&lower)
                .writable_root(Upper::Persistent(layer.clone()));
            match fs_error(&sb) {
                E::LayerOverlapsLower {
                    op: OpName::Root,
                    path,
                    lower: l,
                } => assert_eq!((path, l), (layer.clone(), lower.clone())),
                other => panic!("{other:?}"),
            }
            let mut sb = Sandbox::new();
            sb.overlay_with_upper(&lower, "/work", Upper::Persistent(layer.clone()));
            assert!(matches!(
                fs_error(&sb),
                E::LayerOverlapsLower {
                    op: OpName::Overlay,
                    ..
                }
            ));
        }
        // Relative.
        let mut sb = Sandbox::new();
        sb.root_dir(&lower)
            .writable_root(Upper::Persistent("layer".into()));
        assert!(matches!(
            fs_error(&sb),
            E::RelativeSource {
                op: OpName::Root,
                ..
            }
        ));
        // Over an empty root.
        let mut sb = Sandbox::new();
        sb.empty_root().writable_root(Upper::Temporary);
        assert!(matches!(fs_error(&sb), E::WritableEmptyRoot));
        assert!(fs_error(&sb).to_string().contains("Sandbox::root_dir"));
    });
}

#[test]
fn a_layer_in_use_is_refused_to_sandboxes_commits_and_discards() {
    use stockade::fs::{Error as E, OpName};
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let lower = tree(dir.path());
        let layer_dir = dir.path().join("layer");
        let mut sb = Sandbox::new();
        sb.root_dir(&lower)
            .writable_root(Upper::Persistent(layer_dir.clone()));
        if refused_for_xattrs(&sb, dir.path()) {
            return;
        }
        let mut child = sb
            .spawn(
                common::sh("echo x > /data/new; echo ready; exec sleep 100")
                    .stdout(stockade::Stdio::piped()),
            )
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line, "ready\n");
        match fs_error(&sb) {
            E::LayerInUse {
                op: OpName::Root,
                path,
            } => assert_eq!(path, layer_dir),
            other => panic!("{other:?}"),
        }
        assert!(fs_error(&sb).to_string().contains("stop it first"));
        let layer = Layer::new(&layer_dir, &lower);
        for r in [layer.commit(), layer.discard()] {
            match r {
                Err(stockade::layer::Error::InUse { dir }) => assert_eq!(dir, layer_dir),
                other => panic!("{other:?}"),
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Ended: the lock is gone.
        assert_eq!(
            changes(&layer),
            expect(vec![(ChangeKind::Added, "data/new")])
        );
        layer.commit().unwrap();
        assert_eq!(
            std::fs::read_to_string(lower.join("data/new")).unwrap(),
            "x\n"
        );
        // A detached sandbox keeps its layer until it ends, though its
        // `Child` is gone.
        sb.kill_on_drop(false);
        // It runs until its standard input closes.
        let mut child = sb
            .spawn(
                common::sh("echo ready; read line")
                    .stdin(stockade::Stdio::piped())
                    .stdout(stockade::Stdio::piped()),
            )
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        let input = child.stdin.take().unwrap();
        drop(child);
        assert!(matches!(
            layer.discard(),
            Err(stockade::layer::Error::InUse { .. })
        ));
        drop(input);
        common::eventually("the detached sandbox ends and lets its layer go", || {
            layer.discard().is_ok()
        });
    });
}

#[test]
fn a_layer_directory_on_an_overlay_is_refused_as_root() {
    use stockade::fs::{Error as E, OpName};
    as_root(|| {
        let dir = tempfile::tempdir().unwrap();
        let lower = tree(dir.path());
        // An overlay of the caller's own, in a mount namespace of this
        // test process.
        let o = dir.path().join("o");
        for d in ["l", "u", "w", "m"] {
            std::fs::create_dir_all(o.join(d)).unwrap();
        }
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .unwrap();
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            o.join("l").display(),
            o.join("u").display(),
            o.join("w").display()
        );
        nix::mount::mount(
            Some("overlay"),
            &o.join("m"),
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(opts.as_str()),
        )
        .unwrap();
        let layer = o.join("m/layer");
        let mut sb = Sandbox::new();
        sb.root_dir(&lower)
            .writable_root(Upper::Persistent(layer.clone()));
        match fs_error(&sb) {
            E::LayerOnOverlay {
                op: OpName::Root,
                path,
            } => assert_eq!(path, layer),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn a_containers_changes_persist_across_stop_and_start() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let lower = tree(dir.path());
        let before = snapshot(&lower);
        let layer_dir = dir.path().join("layer");
        let mut sb = Sandbox::new();
        sb.root_dir(&lower)
            .writable_root(Upper::Persistent(layer_dir.clone()));
        if refused_for_xattrs(&sb, dir.path()) {
            return;
        }
        let mut c = sb.start().unwrap();
        let out = c.output(&mut common::sh(CHANGE)).unwrap();
        assert!(out.status.success(), "{out:?}");
        let changed = String::from_utf8(c.output(&mut common::sh(VIEW)).unwrap().stdout).unwrap();
        let layer = c.layer().expect("a persistent layer").clone();
        assert_eq!(layer.dir(), layer_dir);
        assert_eq!(layer.lower(), lower);
        assert!(matches!(
            layer.discard(),
            Err(stockade::layer::Error::InUse { .. })
        ));
        c.stop(std::time::Duration::from_secs(5)).unwrap();
        assert_eq!(changes(&layer), expect(expected_changes()));
        let c = sb.start().unwrap();
        let again = String::from_utf8(c.output(&mut common::sh(VIEW)).unwrap().stdout).unwrap();
        assert_eq!(again, changed);
        drop(c);
        assert_eq!(snapshot(&lower), before);
        layer.discard().unwrap();
        let c = sb.start().unwrap();
        let reset = String::from_utf8(
            c.output(&mut common::sh("cat /etc/hostname"))
                .unwrap()
                .stdout,
        )
        .unwrap();
        assert_eq!(reset, "lower\n");
    });
}

#[test]
fn an_overlay_of_a_workspace_keeps_its_changes_for_review() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(work.join("src")).unwrap();
        std::fs::write(work.join("src/main.c"), "int main;\n").unwrap();
        std::fs::write(work.join("README"), "readme\n").unwrap();
        let layer_dir = dir.path().join("layer");
        let mut sb = Sandbox::new();
        sb.overlay_with_upper(&work, "/work", Upper::Persistent(layer_dir.clone()));
        if refused_for_xattrs(&sb, dir.path()) {
            return;
        }
        let (st, out, err) = run(
            &sb,
            "cd /work && echo '// edited' >> src/main.c && rm README && mkdir build && echo o > build/out \
             && ln build/out build/link && ln -s out build/sym && chmod 0750 build/out",
        );
        assert!(st.success(), "{out}{err}");
        let layer = Layer::new(&layer_dir, &work);
        assert_eq!(
            changes(&layer),
            expect(vec![
                (ChangeKind::Deleted, "README"),
                (ChangeKind::Added, "build"),
                (ChangeKind::Added, "build/link"),
                (ChangeKind::Added, "build/out"),
                (ChangeKind::Added, "build/sym"),
                (ChangeKind::Modified, "src/main.c"),
            ])
        );
        assert!(work.join("README").exists());
        layer.commit().unwrap();
        assert!(!work.join("README").exists());
        assert_eq!(
            std::fs::read_to_string(work.join("build/out")).unwrap(),
            "o\n"
        );
        // Modes, hard links and symbolic links are kept.
        let out = std::fs::metadata(work.join("build/out")).unwrap();
        assert_eq!(out.permissions().mode() & 0o7777, 0o750);
        assert_eq!(
            std::fs::metadata(work.join("build/link")).unwrap().ino(),
            out.ino()
        );
        assert_eq!(
            std::fs::read_link(work.join("build/sym")).unwrap(),
            Path::new("out")
        );
        assert_eq!(
            std::fs::read_to_string(work.join("src/main.c")).unwrap(),
            "int main;\n// edited\n"
        );
    });
}

#[test]
fn a_writable_default_view_keeps_the_host_unchanged() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let layer_dir = dir.path().join("layer");
        let name = format!("stockade-writable-{}", std::process::id());
        // An unprivileged caller's program may change only what its ids
        // own or others may write: the top of each system directory (the
        // upper layer's own directory), not the host's root-owned
        // directories beneath.
        let root = common::is_root();
        let script = if root {
            format!(
                "echo new > /etc/{name} && mkdir -p /usr/local/{name} && cat /etc/{name} \
                 && ls /usr/local/{name} && echo ok"
            )
        } else {
            format!(
                "echo new > /etc/{name} && cat /etc/{name} && ! mkdir /usr/local/{name} 2>/dev/null \
                 && echo ok"
            )
        };
        let host_etc = std::fs::read_dir("/etc").unwrap().count();
        for upper in [Upper::Temporary, Upper::Persistent(layer_dir.clone())] {
            let mut sb = Sandbox::new();
            sb.writable_root(upper.clone());
            if upper != Upper::Temporary && refused_for_xattrs(&sb, dir.path()) {
                return;
            }
            let (st, out, err) = run(&sb, &script);
            assert!(st.success(), "{out}{err}");
            assert_eq!(out, "new\nok\n");
            // The host's secrets stay masked.
            if Path::new("/etc/shadow").exists() {
                let (st, _, _) = run(&sb, "cat /etc/shadow");
                assert!(!st.success());
            }
            let (_, again, _) = run(&sb, &format!("cat /etc/{name} 2>/dev/null || echo gone"));
            match upper {
                Upper::Temporary => assert_eq!(again, "gone\n"),
                _ => assert_eq!(again, "new\n"),
            }
            assert!(!Path::new("/etc").join(&name).exists());
            assert!(!Path::new("/usr/local").join(&name).exists());
            assert_eq!(std::fs::read_dir("/etc").unwrap().count(), host_etc);
        }
        let layer = Layer::of_default_view(&layer_dir);
        let local = format!("usr/local/{name}");
        let etc = format!("etc/{name}");
        let mut want = vec![(ChangeKind::Added, etc.as_str())];
        if root {
            want.push((ChangeKind::Added, local.as_str()));
        }
        assert_eq!(changes(&layer), expect(want));
        assert!(layer.upper().join(&etc).is_file());
        assert!(matches!(
            layer.commit(),
            Err(stockade::layer::Error::HostLower { .. })
        ));
        layer.discard().unwrap();
        assert_eq!(changes(&layer), vec![]);
    });
}

/// The running kernel's (major, minor).
fn kernel() -> (u32, u32) {
    let r = nix::sys::utsname::uname().unwrap();
    let rel = r.release().to_string_lossy().into_owned();
    let mut it = rel
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok());
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

#[test]
fn a_layer_directory_on_tmpfs_needs_user_xattrs() {
    use stockade::fs::{Error as E, OpName};
    as_each_identity(|| {
        let shm = Path::new("/dev/shm");
        if !nix::sys::statfs::statfs(shm)
            .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC)
        {
            return common::skip("/dev/shm is not a tmpfs");
        }
        let dir = tempfile::tempdir().unwrap();
        let lower = tree(dir.path());
        let layer = tempfile::tempdir_in(shm).unwrap();
        let mut sb = Sandbox::new();
        sb.root_dir(&lower)
            .writable_root(Upper::Persistent(layer.path().to_owned()));
        // tmpfs has `user.` extended attributes from Linux 6.6.
        if kernel() >= (6, 6) {
            let (st, out, err) = run(&sb, "echo kept > /data/new");
            assert!(st.success(), "{out}{err}");
            assert_eq!(run(&sb, "cat /data/new").1, "kept\n");
        } else {
            match fs_error(&sb) {
                E::LayerNoUserXattr {
                    op: OpName::Root,
                    path,
                    ..
                } => assert_eq!(path, layer.path()),
                other => panic!("{other:?}"),
            }
        }
    });
}
