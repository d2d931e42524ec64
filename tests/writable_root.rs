//! A writable root (an overlay over the root directory or the default
//! view) with a temporary or persistent upper layer, and the snapshots of
//! a persistent one ([`stockade::layer`]).

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{as_each_identity, run};
use stockade::Sandbox;
use stockade::fs::Upper;

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
