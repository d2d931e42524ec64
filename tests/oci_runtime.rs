//! stockade as an OCI runtime: Debian's podman (with its conmon) drives
//! `stockade-oci` through `podman --runtime`, with an image imported from
//! a busybox-static root; and the runtime's own command line, driven by
//! hand through create, start, state, kill, exec and delete.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A busybox-static root as a tarball, for `podman import`.
fn rootfs_tarball(dir: &Path) -> PathBuf {
    let busybox = common::debian_package("busybox", "busybox-static").expect("busybox");
    let root = dir.join("rootfs");
    for d in ["bin", "proc", "dev", "sys", "etc", "tmp", "run", "var"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
    for applet in [
        "sh", "echo", "cat", "sleep", "id", "hostname", "ls", "kill", "trap", "wc", "tty",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    let tar = dir.join("rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    tar
}

/// A podman of its own: storage and state in `dir` (the vfs driver, which
/// works on any filesystem), cgroupfs, events in a file, and stockade as
/// the runtime through a link named `stockade-oci`.
struct Podman {
    dir: PathBuf,
    runtime: PathBuf,
    /// Rootless: podman runs as the unprivileged test uid, with its home
    /// and runtime directory in `dir`.
    rootless: bool,
}

impl Podman {
    fn new(dir: &Path, runtime: &Path) -> Podman {
        Podman {
            dir: dir.to_owned(),
            runtime: runtime.to_owned(),
            rootless: false,
        }
    }

    /// A rootless podman: the caller (root) hands `dir` to the test uid.
    fn rootless(dir: &Path, runtime: &Path) -> Podman {
        for d in ["home", "xdg", "storage", "run", "tmp"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let st = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", common::TEST_UID, common::TEST_GID))
            .arg(dir)
            .status()
            .unwrap();
        assert!(st.success());
        std::fs::set_permissions(dir.join("xdg"), std::fs::Permissions::from_mode(0o700)).unwrap();
        Podman {
            dir: dir.to_owned(),
            runtime: runtime.to_owned(),
            rootless: true,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("podman");
        if self.rootless {
            common::as_test_user(&mut c);
            c.env("HOME", self.dir.join("home"))
                .env("XDG_RUNTIME_DIR", self.dir.join("xdg"))
                .env_remove("XDG_CONFIG_HOME")
                .env_remove("XDG_DATA_HOME")
                .current_dir(&self.dir);
        }
        c.arg("--root")
            .arg(self.dir.join("storage"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .arg("--tmpdir")
            .arg(self.dir.join("tmp"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file"])
            .arg("--runtime")
            .arg(&self.runtime)
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The `--ulimit` options that keep podman's defaults (it asks for more
/// open files and processes than a container host may allow: the runtime
/// then cannot set them, as runc cannot) at values any host allows.
fn ulimits() -> Vec<String> {
    [
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=4096:4096",
    ]
    .map(String::from)
    .to_vec()
}

/// The podman tests share the runtime's default state root (podman passes
/// no `--root`), which each finds empty at its end: one at a time.
fn one_podman_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static PODMAN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    PODMAN.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
#[cfg_attr(stockade_vm, ignore = "needs podman (Debian's package) on the host")]
fn podman_runs_execs_and_stops_containers_through_stockade_as_root() {
    let _alone = one_podman_at_a_time();
    common::as_root(|| {
        if common::debian_package("podman", "podman").is_none() {
            return common::skip("podman (Debian package podman) is not installed");
        }
        let dir = tempfile::tempdir().unwrap();
        let runtime = dir.path().join("stockade-oci");
        std::os::unix::fs::symlink(common::cli_binary(), &runtime).unwrap();
        podman_session(&Podman::new(dir.path(), &runtime));
        // Nothing of the runtime's is left.
        assert_eq!(
            left_in(Path::new("/run/stockade-oci")),
            Vec::<String>::new()
        );
    });
}

/// Rootless podman (run by the unprivileged test uid, with its subordinate
/// ids) runs the runtime as root of a user namespace of its own, without
/// cgroups on a host that delegates none: the runtime keeps its state in
/// the user's runtime directory, and the bundle's read-only cgroup mount
/// shows the cgroup the container runs in.
#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs podman (Debian's package) and /etc/subuid entries on the host"
)]
fn rootless_podman_runs_execs_and_stops_containers_through_stockade_as_root() {
    common::as_root(|| {
        if common::debian_package("podman", "podman").is_none() {
            return common::skip("podman (Debian package podman) is not installed");
        }
        if common::subordinate_ids().is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let runtime = dir.path().join("stockade-oci");
        std::os::unix::fs::symlink(common::cli_binary(), &runtime).unwrap();
        let podman = Podman::rootless(dir.path(), &runtime);
        podman_session(&podman);
        let state = dir.path().join("xdg/stockade-oci");
        assert!(
            state.is_dir(),
            "the runtime's state root should be the user's"
        );
        assert_eq!(left_in(&state), Vec::<String>::new());
        // Rootless podman leaves a pause process holding its user
        // namespace (its pid in the temporary directory given): end it.
        let pause = std::fs::read_to_string(dir.path().join("tmp/pause.pid"))
            .or_else(|_| std::fs::read_to_string(dir.path().join("xdg/libpod/tmp/pause.pid")));
        let pid: i32 = pause
            .expect("rootless podman's pause.pid")
            .trim()
            .parse()
            .unwrap();
        // SAFETY: a plain kill of a pid the test's podman wrote.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
}

/// What both podman tests show: run --rm with output and exit status, a
/// detached container with an exec, stop and rm.
fn podman_session(podman: &Podman) {
    {
        let dir = &podman.dir;
        let tar = rootfs_tarball(dir);
        if podman.rootless {
            let st = Command::new("chown")
                .arg("-R")
                .arg(format!("{}:{}", common::TEST_UID, common::TEST_GID))
                .arg(dir.join("rootfs"))
                .arg(&tar)
                .status()
                .unwrap();
            assert!(st.success());
        }
        let o = podman.run(&["import", tar.to_str().unwrap(), "localhost/stockade-test:1"]);
        assert!(o.status.success(), "{}", text(&o));

        let limits = ulimits();
        let mut base: Vec<&str> = vec!["--network", "none", "--pids-limit", "-1"];
        base.extend(limits.iter().map(String::as_str));

        // run --rm: the program's output, and its exit status.
        let mut a = vec!["run", "--rm"];
        a.extend(&base);
        a.extend(["localhost/stockade-test:1", "echo", "hi"]);
        let o = podman.run(&a);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "hi\n", "{}", text(&o));
        let mut a = vec!["run", "--rm"];
        a.extend(&base);
        a.extend(["localhost/stockade-test:1", "sh", "-c", "exit 7"]);
        let o = podman.run(&a);
        assert_eq!(o.status.code(), Some(7), "{}", text(&o));
        // The bundle's read-only cgroup mount is there, read-only.
        let mut a = vec!["run", "--rm"];
        a.extend(&base);
        a.extend(["localhost/stockade-test:1", "cat", "/proc/self/mountinfo"]);
        let o = podman.run(&a);
        assert!(o.status.success(), "{}", text(&o));
        let cgroup = String::from_utf8_lossy(&o.stdout)
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup"))
            .map(str::to_owned);
        assert!(
            cgroup.as_deref().is_some_and(|l| l.contains(" - cgroup2 ")
                && l.split(' ').nth(5).is_some_and(|o| o.starts_with("ro,"))),
            "no read-only cgroup2 mount at /sys/fs/cgroup: {}",
            text(&o)
        );

        // A detached container: exec into it, then stop it.
        let mut a = vec!["run", "-d", "--name", "sleeper", "--hostname", "box"];
        a.extend(&base);
        a.extend(["localhost/stockade-test:1", "sleep", "1000"]);
        let o = podman.run(&a);
        assert!(o.status.success(), "{}", text(&o));
        let o = podman.run(&["exec", "sleeper", "sh", "-c", "hostname; echo in exec"]);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "box\nin exec\n");
        // podman top lists the processes of the pid namespace the state's
        // pid sees through its mount namespace: the container's, not the
        // host's.
        let o = podman.run(&["top", "sleeper", "args"]);
        assert!(o.status.success(), "{}", text(&o));
        let listed = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(listed.lines().any(|l| l.trim() == "sleep 1000"), "{listed}");
        assert!(
            listed.lines().count() <= 4,
            "not the container's processes: {listed}"
        );
        let o = podman.run(&["inspect", "--format", "{{.State.Status}}", "sleeper"]);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "running",
            "{}",
            text(&o)
        );
        let o = podman.run(&["stop", "-t", "5", "sleeper"]);
        assert!(o.status.success(), "{}", text(&o));
        let o = podman.run(&["inspect", "--format", "{{.State.Status}}", "sleeper"]);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "exited",
            "{}",
            text(&o)
        );
        let o = podman.run(&["rm", "sleeper"]);
        assert!(o.status.success(), "{}", text(&o));
    }
}

#[test]
#[cfg_attr(stockade_vm, ignore = "needs podman (Debian's package) on the host")]
fn podman_gives_run_and_exec_a_terminal_with_dash_t_through_stockade_as_root() {
    let _alone = one_podman_at_a_time();
    common::as_root(|| {
        if common::debian_package("podman", "podman").is_none() {
            return common::skip("podman (Debian package podman) is not installed");
        }
        let dir = tempfile::tempdir().unwrap();
        let runtime = dir.path().join("stockade-oci");
        std::os::unix::fs::symlink(common::cli_binary(), &runtime).unwrap();
        let podman = Podman::new(dir.path(), &runtime);
        let tar = rootfs_tarball(dir.path());
        let before = left_in(Path::new("/run/stockade-oci"));
        let o = podman.run(&["import", tar.to_str().unwrap(), "localhost/stockade-tty:1"]);
        assert!(o.status.success(), "{}", text(&o));
        let limits = ulimits();
        let mut base: Vec<&str> = vec!["--network", "none", "--pids-limit", "-1"];
        base.extend(limits.iter().map(String::as_str));
        let script = "tty; [ -t 0 ] && echo stdin-is-a-tty; [ -t 1 ] && echo stdout-is-a-tty";

        // run -t: the program's streams are a terminal of the container's
        // devpts, and what it shows is podman's output.
        let mut a = vec!["run", "--rm", "-t"];
        a.extend(&base);
        a.extend(["localhost/stockade-tty:1", "sh", "-c", script]);
        let o = podman.run(&a);
        assert!(o.status.success(), "{}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("/dev/pts/"), "{}", text(&o));
        assert!(out.contains("stdin-is-a-tty"), "{}", text(&o));
        assert!(out.contains("stdout-is-a-tty"), "{}", text(&o));
        // The terminal belongs to the program's user, who can reopen it by
        // name.
        let mut a = vec!["run", "--rm", "-t", "--user", "1000:1000"];
        a.extend(&base);
        a.extend([
            "localhost/stockade-tty:1",
            "sh",
            "-c",
            "t=$(tty); exec 3<>$t && echo reopened-rw",
        ]);
        let o = podman.run(&a);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("reopened-rw"),
            "{}",
            text(&o)
        );
        // Its exit status too.
        let mut a = vec!["run", "--rm", "-t"];
        a.extend(&base);
        a.extend(["localhost/stockade-tty:1", "sh", "-c", "exit 6"]);
        let o = podman.run(&a);
        assert_eq!(o.status.code(), Some(6), "{}", text(&o));

        // exec -t into a container without a terminal.
        let mut a = vec!["run", "-d", "--name", "sleeper"];
        a.extend(&base);
        a.extend(["localhost/stockade-tty:1", "sleep", "1000"]);
        let o = podman.run(&a);
        assert!(o.status.success(), "{}", text(&o));
        let o = podman.run(&["exec", "-t", "sleeper", "sh", "-c", script]);
        assert!(o.status.success(), "{}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("/dev/pts/"), "{}", text(&o));
        assert!(out.contains("stdin-is-a-tty"), "{}", text(&o));
        let o = podman.run(&["exec", "-t", "sleeper", "sh", "-c", "exit 4"]);
        assert_eq!(o.status.code(), Some(4), "{}", text(&o));
        // Without -t, still none.
        let o = podman.run(&["exec", "sleeper", "sh", "-c", "[ -t 1 ] || echo no-tty"]);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "no-tty\n",
            "{}",
            text(&o)
        );
        let o = podman.run(&["rm", "-f", "-t", "0", "sleeper"]);
        assert!(o.status.success(), "{}", text(&o));
        // Nothing of this podman's containers is left (others may use the
        // default root meanwhile: podman's ids are 64 hex digits).
        let ours: Vec<String> = left_in(Path::new("/run/stockade-oci"))
            .into_iter()
            .filter(|n| !before.contains(n))
            .filter(|n| {
                let id = n.trim_start_matches(".containers/");
                id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
            })
            .collect();
        assert_eq!(ours, Vec::<String>::new());
    });
}

/// A bundle from `runc spec` (`--rootless` for an unprivileged caller: it
/// maps the caller) with a busybox-static root, running `script`.
fn runc_bundle(dir: &Path, script: &str) -> Option<PathBuf> {
    let runc = common::debian_package("runc", "runc")?;
    let busybox = common::debian_package("busybox", "busybox-static")?;
    let bundle = dir.join("bundle");
    let root = bundle.join("rootfs");
    for d in ["bin", "proc", "dev", "sys", "tmp", "etc"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
    for a in [
        "sh", "echo", "cat", "sleep", "id", "hostname", "trap", "readlink", "tty", "stty",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(a)).unwrap();
    }
    let mut spec = Command::new(runc);
    spec.arg("spec").current_dir(&bundle);
    if !common::is_root() {
        spec.arg("--rootless");
    }
    assert!(spec.status().unwrap().success());
    let path = bundle.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["process"]["terminal"] = serde_json::json!(false);
    config["process"]["args"] = serde_json::json!(["sh", "-c", script]);
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    Some(bundle)
}

/// The runtime, with its state under `root`.
/// `create` with the program's output to `log` (a file: the program keeps
/// it) and the runtime's errors shown if it fails.
fn create_logged(root: &Path, bundle: &Path, id: &str, log: &Path) {
    let errlog = log.with_extension("err");
    let st = oci(root, &["create", "--bundle", bundle.to_str().unwrap(), id])
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(std::fs::File::create(&errlog).unwrap())
        .status()
        .unwrap();
    let err = std::fs::read_to_string(&errlog).unwrap_or_default();
    assert!(st.success(), "create {id}: {err}");
}

fn oci(root: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(common::cli_binary());
    c.arg("oci").arg("--root").arg(root).args(args);
    c
}

/// `delete` (with `--force` when asked) succeeds, and nothing of the
/// runtime's is left under `root`.
#[track_caller]
fn delete_leaves_nothing(root: &Path, id: &str, force: bool) {
    let mut args = vec!["delete"];
    if force {
        args.push("--force");
    }
    args.push(id);
    let o = oci(root, &args).output().unwrap();
    assert!(o.status.success(), "delete {id}: {}", text(&o));
    assert_eq!(left_in(root), Vec::<String>::new());
}

fn state(root: &Path, id: &str) -> serde_json::Value {
    let o = oci(root, &["state", id]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs runc (Debian's package) on the host, for its spec"
)]
fn the_runtime_command_line_creates_starts_execs_kills_and_deletes() {
    common::as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let Some(bundle) = runc_bundle(
            dir.path(),
            "trap 'echo got TERM; exit 9' TERM; echo started; while :; do sleep 1; done",
        ) else {
            return common::skip("runc or busybox-static is not installed");
        };
        let root = dir.path().join("state");
        let _cleanup = ForceDeleteAll(&root);
        let log = dir.path().join("out");
        let id = "box1";

        // create: the program does not run yet. Its streams are files: the
        // program keeps them (a pipe of this test's would stay open).
        let out = std::fs::File::create(&log).unwrap();
        let errlog = dir.path().join("err");
        let err = std::fs::File::create(&errlog).unwrap();
        let st = oci(&root, &["create", "--bundle", bundle.to_str().unwrap(), id])
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .unwrap();
        assert!(
            st.success(),
            "{}",
            std::fs::read_to_string(&errlog).unwrap_or_default()
        );
        let s = state(&root, id);
        assert_eq!(s["status"], "created", "{s}");
        assert_eq!(s["id"], id);
        assert_eq!(s["bundle"], bundle.to_str().unwrap());
        let pid = s["pid"].as_u64().unwrap();
        assert!(pid > 0 && common::pid_alive(pid as u32));
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "");
        // The same id again is refused.
        let o = oci(&root, &["create", "--bundle", bundle.to_str().unwrap(), id])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&o.stderr).contains("box1 already exists"));

        // start: it runs, with the streams create was given.
        assert!(oci(&root, &["start", id]).status().unwrap().success());
        common::eventually("the program starts", || {
            std::fs::read_to_string(&log).unwrap() == "started\n"
        });
        assert_eq!(state(&root, id)["status"], "running");
        let o = oci(&root, &["start", id]).output().unwrap();
        assert!(!o.status.success(), "a second start: {}", text(&o));

        // exec: another program in the same container.
        let o = oci(
            &root,
            &[
                "exec",
                "--env",
                "X=42",
                id,
                "sh",
                "-c",
                "echo x=$X; hostname",
            ],
        )
        .output()
        .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "x=42\nrunc\n");
        // An exec as another user: run as that user where it is mapped (a
        // root caller's bundle has no user namespace), refused naming the
        // field where not (the rootless bundle maps the caller's id alone).
        let process = dir.path().join("process.json");
        std::fs::write(
            &process,
            r#"{"args": ["sh", "-c", "id -u; id -g"], "cwd": "/", "user": {"uid": 4242, "gid": 43}}"#,
        )
        .unwrap();
        let o = oci(&root, &["exec", "--process", process.to_str().unwrap(), id])
            .output()
            .unwrap();
        if common::is_root() {
            assert!(o.status.success(), "{}", text(&o));
            assert_eq!(String::from_utf8_lossy(&o.stdout), "4242\n43\n");
            // runc's --user too.
            let o = oci(
                &root,
                &["exec", "--user", "7:8", id, "sh", "-c", "id -u; id -g"],
            )
            .output()
            .unwrap();
            assert!(o.status.success(), "{}", text(&o));
            assert_eq!(String::from_utf8_lossy(&o.stdout), "7\n8\n");
        } else {
            assert_eq!(o.status.code(), Some(1), "{}", text(&o));
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("process.user.uid = 4242"), "{}", text(&o));
            assert!(err.contains("not mapped"), "{}", text(&o));
            let o = oci(&root, &["exec", "--user", "7", id, "true"])
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(1), "{}", text(&o));
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("--user: uid = 7"),
                "{}",
                text(&o)
            );
        }
        // The container's own ids, asked for, are no other user.
        std::fs::write(
            &process,
            r#"{"args": ["sh", "-c", "id -u"], "cwd": "/", "user": {"uid": 0, "gid": 0}}"#,
        )
        .unwrap();
        let o = oci(&root, &["exec", "--process", process.to_str().unwrap(), id])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "0\n");

        // delete without --force refuses a running container.
        let o = oci(&root, &["delete", id]).output().unwrap();
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("is running"));

        // kill TERM: the program's trap runs, and it ends.
        assert!(
            oci(&root, &["kill", id, "TERM"])
                .status()
                .unwrap()
                .success()
        );
        common::eventually("the container stops", || {
            state(&root, id)["status"] == "stopped"
        });
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "started\ngot TERM\n"
        );
        assert!(oci(&root, &["delete", id]).status().unwrap().success());
        let o = oci(&root, &["state", id]).output().unwrap();
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("box1 does not exist"));
        assert_eq!(left_in(&root), Vec::<String>::new());
    });
}

#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs runc (Debian's package) on the host, for its spec"
)]
fn a_start_right_after_create_runs_and_a_created_container_needs_force_to_go() {
    common::as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let Some(bundle) = runc_bundle(dir.path(), "echo ran") else {
            return common::skip("runc or busybox-static is not installed");
        };
        let root = dir.path().join("state");
        let _cleanup = ForceDeleteAll(&root);
        let create = |id: &str| {
            create_logged(&root, &bundle, id, &dir.path().join(format!("{id}.out")));
        };
        // `start` at once, before the waiter `create` spawned may have
        // opened its end of the start FIFO: it waits for it.
        for n in 0..5 {
            let id = format!("quick{n}");
            create(&id);
            let o = oci(&root, &["start", &id]).output().unwrap();
            assert!(o.status.success(), "start {id}: {}", text(&o));
            // From start on, running until stopped: never `created` again
            // (it read so while the ended program's container was being
            // stopped).
            common::eventually("the program ends", || {
                let s = state(&root, &id)["status"].clone();
                assert_ne!(s, "created", "{id} after start");
                s == "stopped"
            });
            let out = std::fs::read_to_string(dir.path().join(format!("{id}.out"))).unwrap();
            assert_eq!(out, "ran\n");
            assert!(oci(&root, &["delete", &id]).status().unwrap().success());
        }

        // A created container is not stopped: delete refuses it without
        // --force and leaves it as it was.
        create("made");
        let o = oci(&root, &["delete", "made"]).output().unwrap();
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("made is created"),
            "{}",
            text(&o)
        );
        assert_eq!(state(&root, "made")["status"], "created");
        delete_leaves_nothing(&root, "made", true);
    });
}

/// When `start` returns, the container is running: the program has been
/// executed, so a signal sent right away reaches it (its trap), as the
/// runtime-tools `killsig` check expects. `start` had returned, and the
/// state said `running`, as soon as the waiter was released, before the
/// program existed. The container's monitor is held stopped to show it.
#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs runc (Debian's package) on the host, for its spec"
)]
fn start_returns_once_the_program_runs() {
    common::as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let Some(bundle) = runc_bundle(
            dir.path(),
            "trap 'echo got TERM; exit 3' TERM; while :; do sleep 0.05; done",
        ) else {
            return common::skip("runc or busybox-static is not installed");
        };
        let root = dir.path().join("state");
        let _cleanup = ForceDeleteAll(&root);
        let log = dir.path().join("out");
        create_logged(&root, &bundle, "held", &log);
        // The monitor (`PID STARTTIME` in its pid file) runs each program:
        // while it is stopped, none can start.
        let monitor: i32 = std::fs::read_to_string(root.join(".containers/held/pid"))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        // SAFETY: plain kill(2) of the container's monitor, a process of ours.
        assert_eq!(unsafe { libc::kill(monitor, libc::SIGSTOP) }, 0);
        // Whatever happens below, the monitor goes on.
        struct Resume(i32);
        impl Drop for Resume {
            fn drop(&mut self) {
                // SAFETY: as above.
                unsafe { libc::kill(self.0, libc::SIGCONT) };
            }
        }
        let resume = Resume(monitor);
        let mut start = oci(&root, &["start", "held"]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        let waiting = start.try_wait().unwrap().is_none();
        let early = state(&root, "held")["status"].clone();
        drop(resume);
        assert!(start.wait().unwrap().success());
        assert_eq!(early, "created", "the program cannot have run yet");
        assert!(waiting, "start returned before the program ran");
        assert_eq!(state(&root, "held")["status"], "running");
        assert!(
            oci(&root, &["kill", "held", "TERM"])
                .status()
                .unwrap()
                .success()
        );
        common::eventually("the container stops", || {
            state(&root, "held")["status"] == "stopped"
        });
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "got TERM\n");
        delete_leaves_nothing(&root, "held", false);
    });
}

/// The pid the state reports (the one engines read `/proc/PID/ns` of, and
/// `podman top` lists the pid namespace of) is in the container's user,
/// mount, network, IPC and UTS namespaces from `create` on; its pid and
/// cgroup namespaces stay the caller's.
#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs runc (Debian's package) on the host, for its spec"
)]
fn the_state_pid_is_in_the_containers_namespaces() {
    common::as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let Some(bundle) = runc_bundle(dir.path(), "sleep 1000") else {
            return common::skip("runc or busybox-static is not installed");
        };
        let root = dir.path().join("state");
        let _cleanup = ForceDeleteAll(&root);
        create_logged(&root, &bundle, "ns1", &dir.path().join("out"));
        let waiter = state(&root, "ns1")["pid"].as_u64().unwrap();
        let names = ["ipc", "mnt", "net", "user", "uts"];
        let ns = |pid: &str, name: &str| {
            std::fs::read_link(format!("/proc/{pid}/ns/{name}"))
                .unwrap_or_else(|e| panic!("/proc/{pid}/ns/{name}: {e}"))
                .to_string_lossy()
                .into_owned()
        };
        let waiters: Vec<String> = names.iter().map(|n| ns(&waiter.to_string(), n)).collect();
        // Already at `create`, before the program runs: the container's
        // mount namespace is never the caller's.
        assert_ne!(
            waiters[1],
            ns("self", "mnt"),
            "the waiter's mount namespace"
        );
        for n in ["pid", "cgroup"] {
            assert_eq!(ns(&waiter.to_string(), n), ns("self", n), "{n}");
        }
        assert!(oci(&root, &["start", "ns1"]).status().unwrap().success());
        // What a program of the container sees as its own.
        let script = "for n in ipc mnt net user uts; do readlink /proc/self/ns/$n; done";
        let o = oci(&root, &["exec", "ns1", "sh", "-c", script])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let inside: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(waiters, inside);
        delete_leaves_nothing(&root, "ns1", true);
    });
}

/// The waiter, the process an engine's monitor waits for, ends as the
/// program did: with its exit status, or killed by its signal (not an
/// exit status of 128+N, which a monitor would report as an exit); and a
/// signal sent to it reaches the program.
#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs runc (Debian's package) on the host, for its spec"
)]
fn the_waiter_ends_as_the_program_did() {
    common::as_each_identity(|| {
        // The waiter is this process's to wait for, as it is an engine's
        // monitor's.
        // SAFETY: a plain prctl on this (test) process.
        let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(r, 0);
        let cases = [
            ("exit 7", None, "exited 7"),
            ("kill -USR1 $$", None, "killed by signal 10"),
            (
                "trap 'exit 9' TERM; echo ready; while :; do sleep 0.05; done",
                Some("TERM"),
                "exited 9",
            ),
        ];
        for (i, (script, signal, expected)) in cases.into_iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let Some(bundle) = runc_bundle(dir.path(), script) else {
                return common::skip("runc or busybox-static is not installed");
            };
            let root = dir.path().join("state");
            let _cleanup = ForceDeleteAll(&root);
            let id = format!("end{i}");
            let log = dir.path().join("out");
            create_logged(&root, &bundle, &id, &log);
            let waiter = state(&root, &id)["pid"].as_u64().unwrap() as i32;
            assert!(oci(&root, &["start", &id]).status().unwrap().success());
            if let Some(sig) = signal {
                common::eventually("the program is ready", || {
                    std::fs::read_to_string(&log).unwrap_or_default() == "ready\n"
                });
                assert!(oci(&root, &["kill", &id, sig]).status().unwrap().success());
            }
            let mut status = 0;
            // SAFETY: waits for a child of this (subreaper) process.
            let r = unsafe { libc::waitpid(waiter, &mut status, 0) };
            assert_eq!(r, waiter, "{script}");
            let ended = if libc::WIFEXITED(status) {
                format!("exited {}", libc::WEXITSTATUS(status))
            } else if libc::WIFSIGNALED(status) {
                assert!(!libc::WCOREDUMP(status), "{script}: the waiter dumped core");
                format!("killed by signal {}", libc::WTERMSIG(status))
            } else {
                format!("{status:#x}")
            };
            assert_eq!(ended, expected, "{script}");
            common::eventually("the container stops", || {
                state(&root, &id)["status"] == "stopped"
            });
            delete_leaves_nothing(&root, &id, false);
        }
    });
}

/// A pod's IPC and UTS namespaces, given by path, are joined (the
/// container shares them with the namespaces' holder), as podman's pods
/// share them with their infra container; other namespaces by path are
/// refused naming the entry.
#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs runc (Debian's package) on the host, for its spec"
)]
fn a_pods_ipc_and_uts_namespaces_are_joined_by_path_as_root() {
    common::as_root(|| {
        let dir = tempfile::tempdir().unwrap();
        let Some(bundle) = runc_bundle(
            dir.path(),
            "hostname; readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts",
        ) else {
            return common::skip("runc or busybox-static is not installed");
        };
        // The pod: a process holding new IPC and UTS namespaces.
        struct Holder(std::process::Child);
        impl Drop for Holder {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let mut holder = Holder(
            Command::new("unshare")
                .args(["--ipc", "--uts", "sh", "-c"])
                .arg("hostname podbox && echo ready && exec sleep 1000")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        let mut ready = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(holder.0.stdout.as_mut().unwrap()),
            &mut ready,
        )
        .unwrap();
        assert_eq!(ready, "ready\n");
        let ns = |t: &str| format!("/proc/{}/ns/{t}", holder.0.id());
        let path = bundle.join("config.json");
        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        config.as_object_mut().unwrap().remove("hostname");
        for n in config["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "ipc" || n["type"] == "uts" {
                n["path"] = serde_json::json!(ns(n["type"].as_str().unwrap()));
            }
        }
        std::fs::write(&path, config.to_string()).unwrap();

        let root = dir.path().join("state");
        let _cleanup = ForceDeleteAll(&root);
        let log = dir.path().join("out");
        create_logged(&root, &bundle, "pod1", &log);
        assert!(oci(&root, &["start", "pod1"]).status().unwrap().success());
        common::eventually("the container stops", || {
            state(&root, "pod1")["status"] == "stopped"
        });
        let link = |t: &str| std::fs::read_link(ns(t)).unwrap().display().to_string();
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            format!("podbox\n{}\n{}\n", link("ipc"), link("uts"))
        );
        assert!(oci(&root, &["delete", "pod1"]).status().unwrap().success());
        drop(holder);

        // A pid namespace by path is refused, naming the entry.
        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for n in config["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "pid" {
                n["path"] = serde_json::json!("/proc/1/ns/pid");
            }
        }
        std::fs::write(&path, config.to_string()).unwrap();
        let o = oci(
            &root,
            &["create", "--bundle", bundle.to_str().unwrap(), "pod2"],
        )
        .output()
        .unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("linux.namespaces[") && err.contains("pid namespace"),
            "{err}"
        );
        assert_eq!(left_in(&root), Vec::<String>::new());
    });
}

/// Deletes with `--force` every container still in a state root when it
/// goes. Should an assertion fail, the containers' processes would hold
/// the test's output pipes, and the test would hang instead of failing.
struct ForceDeleteAll<'a>(&'a Path);

impl Drop for ForceDeleteAll<'_> {
    fn drop(&mut self) {
        for id in left_in(self.0) {
            if !id.starts_with('.') {
                let _ = oci(self.0, &["delete", "--force", &id]).output();
            }
        }
    }
}

/// What is left in a state root: entries other than the directory of
/// stockade's containers, and the containers in it.
fn left_in(root: &Path) -> Vec<String> {
    let names = |d: &Path| -> Vec<String> {
        std::fs::read_dir(d)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut left: Vec<String> = names(root)
        .into_iter()
        .filter(|n| n != ".containers")
        .collect();
    left.extend(
        names(&root.join(".containers"))
            .into_iter()
            .filter(|n| n != ".lock")
            .map(|n| format!(".containers/{n}")),
    );
    left
}

#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs runc (Debian's package) on the host, for its spec"
)]
fn the_runtime_refuses_what_it_cannot_enforce_and_leaves_nothing() {
    common::as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let Some(bundle) = runc_bundle(dir.path(), "true") else {
            return common::skip("runc or busybox-static is not installed");
        };
        let path = bundle.join("config.json");
        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        config["hooks"] = serde_json::json!({"prestart": [{"path": "/bin/true"}]});
        std::fs::write(&path, config.to_string()).unwrap();
        let root = dir.path().join("state");
        let _cleanup = ForceDeleteAll(&root);
        let o = oci(
            &root,
            &["create", "--bundle", bundle.to_str().unwrap(), "bad"],
        )
        .output()
        .unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("config.json: failed to lower hooks ="),
            "{}",
            text(&o)
        );
        assert_eq!(left_in(&root), Vec::<String>::new());
        for (args, says) in [
            (&["start", "nosuch"][..], "nosuch does not exist"),
            (&["kill", "nosuch", "TERM"][..], "nosuch does not exist"),
            (&["kill", "x", "NOSIG"][..], "invalid signal"),
            (&["create", "../x"][..], "invalid container id"),
            (&["frobnicate"][..], "unknown command"),
        ] {
            let o = oci(&root, args).output().unwrap();
            assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains(says), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        }
        // `delete --force` of what does not exist is what was asked.
        assert!(
            oci(&root, &["delete", "--force", "nosuch"])
                .status()
                .unwrap()
                .success()
        );
    });
}

/// A console socket of the test's: where the runtime sends a terminal's
/// master.
struct ConsoleSocket {
    path: PathBuf,
    listener: std::os::unix::net::UnixListener,
}

impl ConsoleSocket {
    /// Binds `path`, which may be longer than a socket address holds (a
    /// test user's temporary directory is deep): then through the
    /// directory's descriptor, as an engine with a long path may.
    fn new(path: PathBuf) -> ConsoleSocket {
        let dir = std::fs::File::open(path.parent().unwrap()).unwrap();
        let short = format!(
            "/proc/self/fd/{}/{}",
            std::os::fd::AsRawFd::as_raw_fd(&dir),
            path.file_name().unwrap().to_str().unwrap()
        );
        let listener = std::os::unix::net::UnixListener::bind(&path)
            .or_else(|_| std::os::unix::net::UnixListener::bind(&short))
            .unwrap();
        ConsoleSocket { path, listener }
    }

    fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// The next master sent, and the message that came with it.
    fn receive(&self) -> (std::fs::File, String) {
        use std::os::fd::{AsRawFd, FromRawFd};
        let (conn, _) = self.listener.accept().unwrap();
        let mut buf = [0u8; 256];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = nix::sys::socket::recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .unwrap();
        let mut fds = Vec::new();
        for c in msg.cmsgs().unwrap() {
            if let nix::sys::socket::ControlMessageOwned::ScmRights(f) = c {
                fds.extend(f);
            }
        }
        let n = msg.bytes;
        assert_eq!(fds.len(), 1, "one descriptor comes with the message");
        // SAFETY: the descriptor was just received, and is owned by
        // nothing else.
        let master = unsafe { std::fs::File::from_raw_fd(fds[0]) };
        (master, String::from_utf8_lossy(&buf[..n]).into_owned())
    }
}

/// What a terminal's master shows until `needle` appears (at most a
/// minute), or until the terminal closes.
fn read_until(master: &std::fs::File, needle: &str) -> String {
    use std::io::Read;
    use std::os::fd::AsFd;
    let mut seen = Vec::new();
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !String::from_utf8_lossy(&seen).contains(needle) {
        let left = give_up.saturating_duration_since(std::time::Instant::now());
        assert!(
            !left.is_zero(),
            "no {needle:?} on the terminal; it showed {:?}",
            String::from_utf8_lossy(&seen)
        );
        let mut p = [nix::poll::PollFd::new(
            master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = left.as_millis().min(10_000) as u16;
        if nix::poll::poll(&mut p, nix::poll::PollTimeout::from(ms)).unwrap_or(0) == 0 {
            continue;
        }
        let mut chunk = [0u8; 4096];
        match (&*master).read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
            // Every slave closed.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => panic!("reading the terminal: {e}"),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Whether the master shows anything within `ms` milliseconds.
fn shows_something(master: &std::fs::File, ms: u16) -> bool {
    use std::os::fd::AsFd;
    let mut p = [nix::poll::PollFd::new(
        master.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    nix::poll::poll(&mut p, nix::poll::PollTimeout::from(ms)).unwrap_or(0) > 0
}

/// What the descriptors of process `pid` name.
fn fd_targets(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .collect()
}

#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs runc (Debian's package) on the host, for its spec"
)]
fn a_terminal_goes_to_the_console_socket_at_create_and_to_the_program_at_start() {
    use std::io::Write;
    common::as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let Some(bundle) = runc_bundle(
            dir.path(),
            "tty; stty size; [ -t 0 ] && echo stdin-is-a-tty; read line; echo got $line; exit 3",
        ) else {
            return common::skip("runc or busybox-static is not installed");
        };
        let path = bundle.join("config.json");
        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        config["process"]["terminal"] = serde_json::json!(true);
        config["process"]["consoleSize"] = serde_json::json!({"height": 33, "width": 77});
        std::fs::write(&path, config.to_string()).unwrap();
        let root = dir.path().join("state");
        let _cleanup = ForceDeleteAll(&root);
        let console = ConsoleSocket::new(dir.path().join("console.sock"));
        let errlog = dir.path().join("err");
        let id = "tty1";
        // The waiter is this process's to wait for (as it is an engine's
        // monitor's): its exit status is the program's.
        // SAFETY: a plain prctl on this (test) process.
        let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(r, 0);

        let o = oci(
            &root,
            &[
                "create",
                "--bundle",
                bundle.to_str().unwrap(),
                "--console-socket",
                console.path(),
                id,
            ],
        )
        // A file for its errors: the waiter keeps create's streams.
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&errlog).unwrap())
        .status()
        .unwrap();
        assert!(
            o.success(),
            "{}",
            std::fs::read_to_string(&errlog).unwrap_or_default()
        );
        // The master came before create returned.
        let (master, name) = console.receive();
        assert!(name.starts_with("/dev/pts/"), "{name:?}");
        let s = state(&root, id);
        assert_eq!(s["status"], "created", "{s}");
        let waiter = s["pid"].as_u64().unwrap() as u32;
        // The waiter holds the slave only, no master.
        let fds = fd_targets(waiter);
        assert!(!fds.iter().any(|t| t.ends_with("ptmx")), "{fds:?}");
        // Nothing runs before start.
        assert!(!shows_something(&master, 300));

        assert!(oci(&root, &["start", id]).status().unwrap().success());
        let shown = read_until(&master, "stdin-is-a-tty");
        assert!(shown.contains(&name), "{shown:?}");
        assert!(shown.contains("33 77"), "{shown:?}");
        // Once it has sent it, the waiter holds no terminal at all.
        common::eventually("the waiter lets go of the terminal", || {
            !fd_targets(waiter).iter().any(|t| t.contains("/dev/pts/"))
        });

        // exec --tty: a terminal of its own, the same way.
        let mut exec = oci(
            &root,
            &[
                "exec",
                "--tty",
                "--console-socket",
                console.path(),
                id,
                "sh",
                "-c",
                "tty; read x; echo x=$x; exit 5",
            ],
        )
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
        let (exec_master, exec_name) = console.receive();
        assert!(exec_name.starts_with("/dev/pts/"), "{exec_name:?}");
        assert_ne!(exec_name, name);
        let shown = read_until(&exec_master, &exec_name);
        assert!(shown.contains(&exec_name), "{shown:?}");
        (&exec_master).write_all(b"yo\n").unwrap();
        let shown = read_until(&exec_master, "x=yo");
        assert!(shown.contains("x=yo"), "{shown:?}");
        assert_eq!(exec.wait().unwrap().code(), Some(5));
        drop(exec_master);
        // exec --detach --tty, as conmon runs it: the master has come when
        // the command returns, and the process in the pid file ends as
        // the program does.
        let pid_file = dir.path().join("exec.pid");
        let st = oci(
            &root,
            &[
                "exec",
                "--detach",
                "--tty",
                "--console-socket",
                console.path(),
                "--pid-file",
                pid_file.to_str().unwrap(),
                id,
                "sh",
                "-c",
                "tty; exit 6",
            ],
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&errlog).unwrap())
        .status()
        .unwrap();
        assert!(
            st.success(),
            "{}",
            std::fs::read_to_string(&errlog).unwrap_or_default()
        );
        let (detached_master, detached_name) = console.receive();
        let shown = read_until(&detached_master, &detached_name);
        assert!(shown.contains(&detached_name), "{shown:?}");
        let exec_pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut status = 0;
        // SAFETY: waits for a child of this (subreaper) process.
        let r = unsafe { libc::waitpid(exec_pid, &mut status, 0) };
        assert_eq!(r, exec_pid);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 6,
            "{status:#x}"
        );

        // The program's input is what is written to the master.
        (&master).write_all(b"hello\n").unwrap();
        let shown = read_until(&master, "got hello");
        assert!(shown.contains("got hello"), "{shown:?}");
        // It ended: the terminal hangs up, the waiter ends as it did.
        read_until(&master, "\u{0}never");
        let mut status = 0;
        // SAFETY: waits for a child of this (subreaper) process.
        let r = unsafe { libc::waitpid(waiter as i32, &mut status, 0) };
        assert_eq!(r, waiter as i32);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 3,
            "{status:#x}"
        );
        common::eventually("the container stops", || {
            state(&root, id)["status"] == "stopped"
        });
        delete_leaves_nothing(&root, id, false);
    });
}

#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs runc (Debian's package) on the host, for its spec"
)]
fn a_terminal_needs_a_console_socket_and_a_bad_one_is_named() {
    common::as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let Some(bundle) = runc_bundle(dir.path(), "true") else {
            return common::skip("runc or busybox-static is not installed");
        };
        let path = bundle.join("config.json");
        let plain = std::fs::read_to_string(&path).unwrap();
        let mut config: serde_json::Value = serde_json::from_str(&plain).unwrap();
        config["process"]["terminal"] = serde_json::json!(true);
        let root = dir.path().join("state");
        let _cleanup = ForceDeleteAll(&root);
        let b = bundle.to_str().unwrap();
        let missing = dir.path().join("nosuch.sock");
        let missing = missing.to_str().unwrap();
        let not_socket = path.to_str().unwrap();
        let run = |terminal: bool, args: &[&str], says: &[&str]| {
            let cfg = if terminal {
                config.to_string()
            } else {
                plain.clone()
            };
            std::fs::write(&path, cfg).unwrap();
            let o = oci(&root, args).output().unwrap();
            assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
            let err = String::from_utf8_lossy(&o.stderr);
            for s in says {
                assert!(err.contains(s), "{args:?}: {err}");
            }
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert_eq!(left_in(&root), Vec::<String>::new());
        };
        run(
            true,
            &["create", "--bundle", b, "t1"],
            &["process.terminal", "--console-socket"],
        );
        run(
            true,
            &["create", "--bundle", b, "--console-socket", missing, "t2"],
            &["--console-socket", "nosuch.sock"],
        );
        run(
            true,
            &[
                "create",
                "--bundle",
                b,
                "--console-socket",
                not_socket,
                "t3",
            ],
            &["--console-socket", "not a UNIX socket"],
        );
        let console = ConsoleSocket::new(dir.path().join("console.sock"));
        run(
            false,
            &[
                "create",
                "--bundle",
                b,
                "--console-socket",
                console.path(),
                "t4",
            ],
            &["--console-socket", "process.terminal"],
        );
    });
}
