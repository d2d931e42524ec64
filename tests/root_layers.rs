//! A root made of stacked read-only layer directories
//! ([`Sandbox::root_layers`]): what an unpacked image's layers become.
//! Upper layers hide lower files with whiteouts and opaque directories, a
//! writable root on top never changes a layer, and dozens of layers stack.

mod common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use common::{as_each_identity, run};
use stockade::Sandbox;
use stockade::fs::Upper;

/// A base layer: a static busybox as `/bin/sh` and its applets, mount
/// points, and files the upper layer changes, hides or keeps.
fn base(dir: &Path) -> PathBuf {
    let busybox = common::debian_package("busybox", "busybox-static").expect("busybox");
    let root = dir.join("base");
    for d in ["bin", "proc", "dev", "tmp", "etc", "data/opq", "data/keep"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
    for applet in ["sh", "cat", "ls", "echo", "rm", "touch", "wc"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    std::fs::write(root.join("etc/version"), "base\n").unwrap();
    std::fs::write(root.join("etc/gone"), "gone\n").unwrap();
    std::fs::write(root.join("data/opq/old"), "old\n").unwrap();
    std::fs::write(root.join("data/keep/a"), "a\n").unwrap();
    root
}

/// An overlayfs whiteout (a character device 0/0): Linux 5.8+ lets any
/// user make one.
fn whiteout(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid C string for the duration of the call.
    let r = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, 0) };
    assert_eq!(r, 0, "mknod {path:?}: {}", std::io::Error::last_os_error());
}

/// Marks `dir` opaque for an overlay mounted with `userxattr`; false
/// where the filesystem takes no `user.` attributes.
fn opaque(dir: &Path) -> bool {
    let c = CString::new(dir.as_os_str().as_bytes()).unwrap();
    // SAFETY: the name, value and path are valid for the duration of the
    // call; the value's length is given.
    let r = unsafe {
        libc::setxattr(
            c.as_ptr(),
            c"user.overlay.opaque".as_ptr(),
            b"y".as_ptr().cast(),
            1,
            0,
        )
    };
    r == 0
}

/// The layer above `base`: replaces `etc/version`, whites out `etc/gone`,
/// makes `data/opq` opaque with a new file, adds `etc/top`.
fn upper(dir: &Path) -> (PathBuf, bool) {
    let root = dir.join("upper");
    for d in ["etc", "data/opq"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("etc/version"), "upper\n").unwrap();
    std::fs::write(root.join("etc/top"), "top\n").unwrap();
    whiteout(&root.join("etc/gone"));
    std::fs::write(root.join("data/opq/new"), "new\n").unwrap();
    let opq = opaque(&root.join("data/opq"));
    (root, opq)
}

const VIEW: &str = "cat /etc/version /etc/top; ls /etc; ls /data/opq; ls /data/keep";

#[test]
fn stacked_layers_hide_what_upper_layers_delete() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let base = base(dir.path());
        let (upper, opq) = upper(dir.path());
        let mut sb = Sandbox::new();
        sb.root_layers([&base, &upper]);
        let (st, out, err) = run(&sb, VIEW);
        assert!(st.success(), "{out}{err}");
        let opq_listing = if opq { "new\n" } else { "new\nold\n" };
        assert_eq!(
            out,
            format!("upper\ntop\ntop\nversion\n{opq_listing}a\n"),
            "{err}"
        );
        if !opq {
            // tmpfs before Linux 6.6 (the test VM's /tmp): the opaque
            // directory is shown where it can be made.
            eprintln!("note: the temporary directory takes no user. xattrs: no opaque directory");
        }
        // Read-only: nothing may be written anywhere in the stack.
        let (st, _, err) = run(&sb, "touch /etc/x");
        assert!(!st.success());
        assert!(err.contains("Read-only file system"), "{err}");
    });
}

#[test]
fn a_writable_root_over_layers_changes_no_layer() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let base = base(dir.path());
        let (upper, _) = upper(dir.path());
        let before = (
            std::fs::read_dir(&base).unwrap().count(),
            std::fs::read(base.join("etc/version")).unwrap(),
        );
        let mut sb = Sandbox::new();
        sb.root_layers([&base, &upper])
            .writable_root(Upper::Temporary);
        let (st, out, err) = run(
            &sb,
            "echo changed > /etc/version && rm /etc/top && echo n > /new && cat /etc/version /new",
        );
        assert!(st.success(), "{out}{err}");
        assert_eq!(out, "changed\nn\n");
        assert_eq!(
            (
                std::fs::read_dir(&base).unwrap().count(),
                std::fs::read(base.join("etc/version")).unwrap()
            ),
            before
        );
        assert_eq!(
            std::fs::read(upper.join("etc/version")).unwrap(),
            b"upper\n"
        );
        assert!(upper.join("etc/top").exists());
        assert!(!base.join("new").exists() && !upper.join("new").exists());

        // A persistent upper keeps the changes for the next sandbox; the
        // layers stay as they were. A layer directory of an overlay
        // mounted in a user namespace needs `user.` extended attributes
        // (tmpfs has them from Linux 6.6): where it has none, the typed
        // refusal.
        let layer = dir.path().join("changes");
        let mut sb = Sandbox::new();
        sb.root_layers([&base, &upper])
            .writable_root(Upper::Persistent(layer.clone()));
        if !opaque(dir.path()) {
            let e = sb.spawn(&mut common::sh("true")).unwrap_err();
            assert!(
                e.to_string()
                    .contains("without `user.` extended attributes"),
                "{e}"
            );
            return;
        }
        let (st, out, err) = run(&sb, "echo kept > /etc/version");
        assert!(st.success(), "{out}{err}");
        let (_, out, _) = run(&sb, "cat /etc/version");
        assert_eq!(out, "kept\n");
        assert_eq!(
            std::fs::read(upper.join("etc/version")).unwrap(),
            b"upper\n"
        );
    });
}

/// More layers than one `lowerdir` option of 255 bytes could name by
/// path: each layer adds a file, and every one shows.
#[test]
fn dozens_of_layers_stack() {
    as_each_identity(|| stack_of(40));
}

/// More layers than even their descriptor numbers fit in one option: they
/// are given one at a time (Linux 6.8+); older kernels refuse the mount.
#[test]
fn a_hundred_layers_stack_from_linux_6_8() {
    as_each_identity(|| {
        let kernel = nix::sys::utsname::uname().unwrap();
        let release = kernel.release().to_string_lossy().into_owned();
        let mut v = release
            .split(['.', '-'])
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (v.next().unwrap_or(0), v.next().unwrap_or(0));
        if (major, minor) >= (6, 8) {
            stack_of(100);
        } else {
            let dir = tempfile::tempdir().unwrap();
            let layers = layers(dir.path(), 100);
            let e = Sandbox::new()
                .root_layers(&layers)
                .spawn(&mut common::sh("true"))
                .unwrap_err();
            assert!(e.to_string().contains("root"), "{e}");
        }
    });
}

fn stack_of(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let layers = layers(dir.path(), n);
    let mut sb = Sandbox::new();
    sb.root_layers(&layers);
    let (st, out, err) = run(&sb, "cat /etc/version; ls /etc/layers | wc -l");
    assert!(st.success(), "{out}{err}");
    assert_eq!(out, format!("{}\n{n}\n", n - 1));
}

/// The base layer and `n` layers above it, each adding a file and
/// replacing `etc/version`.
fn layers(dir: &Path, n: usize) -> Vec<PathBuf> {
    let mut layers = vec![base(dir)];
    for i in 0..n {
        let l = dir.join(format!("l{i}"));
        std::fs::create_dir_all(l.join("etc/layers")).unwrap();
        std::fs::write(l.join(format!("etc/layers/{i:03}")), "").unwrap();
        std::fs::write(l.join("etc/version"), format!("{i}\n")).unwrap();
        layers.push(l);
    }
    layers
}

#[test]
fn bad_layer_lists_are_refused_naming_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    let base = base(dir.path());
    let mut cmd = common::sh("true");
    let none: [&Path; 0] = [];
    let e = Sandbox::new()
        .root_layers(none)
        .spawn(&mut cmd)
        .unwrap_err();
    assert!(e.to_string().contains("1 to 128 layers, not 0"), "{e}");
    let missing = dir.path().join("missing");
    let e = Sandbox::new()
        .root_layers([&base, &missing])
        .spawn(&mut cmd)
        .unwrap_err();
    assert!(e.to_string().contains(&*missing.to_string_lossy()), "{e}");
    let e = Sandbox::new()
        .root_layers([base.as_path(), Path::new("relative")])
        .spawn(&mut cmd)
        .unwrap_err();
    assert!(e.to_string().contains("\"relative\""), "{e}");
    let file = base.join("etc/version");
    let e = Sandbox::new()
        .root_layers([&base, &file])
        .spawn(&mut cmd)
        .unwrap_err();
    assert!(e.to_string().contains("version"), "{e}");
}
