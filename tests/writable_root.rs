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

/// Creates, modifies and deletes files all over the root, and replaces a
/// directory.
const CHANGE: &str = "echo new > /data/new && echo more >> /data/edit && rm /data/del \
     && rm -r /data/gone && mkdir /data/gone && echo y > /data/gone/y \
     && echo top > /top && echo sandbox > /etc/hostname && echo ok";

#[test]
fn a_temporary_writable_root_changes_anything_and_leaves_nothing() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let lower = tree(dir.path());
        let before = snapshot(&lower);
        let mut sb = Sandbox::new();
        sb.root_dir(&lower).writable_root(Upper::Temporary);
        let (st, out, err) = run(&sb, CHANGE);
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
        assert_eq!(std::fs::read_to_string(lower.join("data/edit")).unwrap(), "old\nmore\n");
        assert!(!lower.join("data/gone/x").exists());
        assert_eq!(snapshot(&outside), outside_before);
        let leftovers: Vec<_> = snapshot(&lower)
            .into_keys()
            .filter(|p| p.to_string_lossy().contains(".stockade-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    });
}
