//! The command-line front end's writable roots (src/bin/stockade):
//! `--writable-root`, `--keep-changes DIR`, `--overlay DIR /`, and
//! `stockade diff|commit|reset NAME` for containers, as root and as an
//! unprivileged uid.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::as_each_identity;
use common::cli_binary as cli;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A test's own runtime directory, container name, root tree and layer
/// directory.
struct Env {
    dir: tempfile::TempDir,
    name: String,
}

impl Env {
    fn new(test: &str) -> Env {
        let dir = tempfile::Builder::new()
            .prefix("sx")
            .tempdir_in("/tmp")
            .unwrap();
        let busybox = common::debian_package("busybox", "busybox-static").expect("busybox");
        let lower = dir.path().join("lower");
        for d in ["bin", "proc", "dev", "tmp", "etc", "data"] {
            std::fs::create_dir_all(lower.join(d)).unwrap();
        }
        std::fs::copy(busybox, lower.join("bin/busybox")).unwrap();
        for applet in ["sh", "cat", "rm", "echo", "ls", "sleep"] {
            std::os::unix::fs::symlink("busybox", lower.join("bin").join(applet)).unwrap();
        }
        std::fs::write(lower.join("etc/hostname"), "lower\n").unwrap();
        std::fs::write(lower.join("data/del"), "del\n").unwrap();
        std::fs::create_dir(dir.path().join("run")).unwrap();
        let name = format!("{test}-{}", std::process::id());
        Env { dir, name }
    }

    fn lower(&self) -> PathBuf {
        self.dir.path().join("lower")
    }

    fn layer(&self) -> PathBuf {
        self.dir.path().join("layer")
    }

    fn run(&self, args: &[&str]) -> Output {
        std::process::Command::new(cli())
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .stdin(Stdio::null())
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            out.status,
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs and asserts the setup failure status 125, returning stderr.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(125),
            "{args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stderr)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.run(&["kill", &self.name]);
    }
}

/// The lower tree's files and contents.
fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                stack.push(p.clone());
                out.push((p, Vec::new()));
            } else if md.is_file() {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            } else {
                out.push((p, Vec::new()));
            }
        }
    }
    out.sort();
    out
}

const CHANGE: &str = "echo new > /data/new && rm /data/del && echo box > /etc/hostname";
const VIEW: &str = "ls /data; cat /etc/hostname";

#[test]
fn one_shot_writable_roots_change_nothing_or_keep_their_changes() {
    as_each_identity(|| {
        let env = Env::new("oneshot");
        let lower = env.lower();
        let l = lower.to_str().unwrap();
        let before = contents(&lower);
        let both = format!("{CHANGE} && {VIEW}");
        for flags in [
            vec!["--rootfs", l, "--writable-root"],
            vec!["--overlay", l, "/"],
        ] {
            let mut a = flags.clone();
            a.extend(["--", "/bin/sh", "-c", &both]);
            assert_eq!(env.ok(&a), "new\nbox\n");
            let mut a = flags.clone();
            a.extend(["--", "/bin/sh", "-c", VIEW]);
            assert_eq!(env.ok(&a), "del\nlower\n");
        }
        // Without either, the root stays read-only.
        let out = env.run(&["--rootfs", l, "--", "/bin/sh", "-c", "echo x > /data/x"]);
        assert!(!out.status.success());
        let layer = env.layer();
        let k = ["--rootfs", l, "--keep-changes", layer.to_str().unwrap()];
        let mut a = k.to_vec();
        a.extend(["--", "/bin/sh", "-c", CHANGE]);
        if !common::user_xattrs(env.dir.path()) {
            let err = env.refused(&a);
            assert!(err.contains("extended attributes"), "{err}");
            assert!(err.contains("--keep-changes"), "{err}");
            return;
        }
        env.ok(&a);
        let mut a = k.to_vec();
        a.extend(["--", "/bin/sh", "-c", VIEW]);
        assert_eq!(env.ok(&a), "new\nbox\n");
        assert_eq!(contents(&lower), before);
        assert!(layer.join("upper/data/new").is_file());
    });
}

#[test]
fn a_containers_changes_are_listed_committed_and_reset_after_stop() {
    as_each_identity(|| {
        let env = Env::new("layer");
        let lower = env.lower();
        let layer = env.layer();
        let (l, k, n) = (
            lower.to_str().unwrap(),
            layer.to_str().unwrap(),
            env.name.as_str(),
        );
        let before = contents(&lower);
        let start = ["start", n, "--rootfs", l, "--keep-changes", k];
        if !common::user_xattrs(env.dir.path()) {
            let err = env.refused(&start);
            assert!(err.contains("extended attributes"), "{err}");
            return;
        }
        env.ok(&start);
        env.ok(&["exec", n, "/bin/sh", "-c", CHANGE]);
        // Listed while it runs; not committed or reset.
        let diff = "D /data/del\nA /data/new\nM /etc/hostname\n";
        assert_eq!(env.ok(&["diff", n]), diff);
        for verb in ["commit", "reset"] {
            let err = env.refused(&[verb, n]);
            assert!(err.contains("is running; stop it first"), "{err}");
        }
        env.ok(&["stop", n]);
        // After stop: the same list, also as JSON.
        assert_eq!(env.ok(&["diff", n]), diff);
        let v: serde_json::Value =
            serde_json::from_str(env.ok(&["diff", n, "--json"]).trim()).unwrap();
        assert_eq!(v[0]["kind"], "deleted");
        assert_eq!(v[1]["path"], "/data/new");
        assert_eq!(v.as_array().unwrap().len(), 3);
        // Kept across stop and start.
        env.ok(&start);
        assert_eq!(env.ok(&["exec", n, "/bin/sh", "-c", VIEW]), "new\nbox\n");
        env.ok(&["stop", n]);
        // Reset: gone.
        env.ok(&["reset", n]);
        assert_eq!(env.ok(&["diff", n]), "");
        env.ok(&start);
        assert_eq!(env.ok(&["exec", n, "/bin/sh", "-c", VIEW]), "del\nlower\n");
        env.ok(&["exec", n, "/bin/sh", "-c", CHANGE]);
        env.ok(&["stop", n]);
        assert_eq!(contents(&lower), before);
        // Commit: the root directory has them.
        env.ok(&["commit", n]);
        assert_eq!(env.ok(&["diff", n]), "");
        assert_eq!(
            std::fs::read_to_string(lower.join("etc/hostname")).unwrap(),
            "box\n"
        );
        assert!(!lower.join("data/del").exists());
        assert_eq!(
            env.ok(&["--rootfs", l, "--", "/bin/sh", "-c", VIEW]),
            "new\nbox\n"
        );
        // Removing the layer directory forgets the record.
        std::fs::remove_dir_all(&layer).unwrap();
        let err = env.refused(&["diff", n]);
        assert!(err.contains("has no recorded layer"), "{err}");
    });
}

#[test]
fn bad_layer_directories_name_the_flag() {
    as_each_identity(|| {
        let env = Env::new("badlayer");
        let lower = env.lower();
        let l = lower.to_str().unwrap();
        let inside = lower.join("layer");
        let err = env.refused(&[
            "--rootfs",
            l,
            "--keep-changes",
            inside.to_str().unwrap(),
            "--",
            "/bin/sh",
            "-c",
            "true",
        ]);
        assert!(err.contains("overlaps the lower directory"), "{err}");
        assert!(err.contains("--keep-changes"), "{err}");
        let err = env.refused(&["diff", "nosuch"]);
        assert!(
            err.contains("container nosuch has no recorded layer"),
            "{err}"
        );
        // A container without --keep-changes has none either.
        env.ok(&["start", &env.name, "--rootfs", l, "--writable-root"]);
        let err = env.refused(&["diff", &env.name]);
        assert!(err.contains("--keep-changes"), "{err}");
    });
}
