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
        "sh", "echo", "cat", "sleep", "id", "hostname", "ls", "kill", "trap", "wc",
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

#[test]
#[cfg_attr(stockade_vm, ignore = "needs podman (Debian's package) on the host")]
fn podman_runs_execs_and_stops_containers_through_stockade_as_root() {
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
        "sh", "echo", "cat", "sleep", "id", "hostname", "trap", "readlink",
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
fn oci(root: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(common::cli_binary());
    c.arg("oci").arg("--root").arg(root).args(args);
    c
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
        let create = |id: &str| {
            let o = oci(&root, &["create", "--bundle", bundle.to_str().unwrap(), id])
                .stdin(std::process::Stdio::null())
                .stdout(std::fs::File::create(dir.path().join(format!("{id}.out"))).unwrap())
                .stderr(std::fs::File::create(dir.path().join(format!("{id}.err"))).unwrap())
                .status()
                .unwrap();
            let err = std::fs::read_to_string(dir.path().join(format!("{id}.err")));
            assert!(o.success(), "{}", err.unwrap_or_default());
        };
        // `start` at once, before the waiter `create` spawned may have
        // opened its end of the start FIFO: it waits for it.
        for n in 0..5 {
            let id = format!("quick{n}");
            create(&id);
            let o = oci(&root, &["start", &id]).output().unwrap();
            assert!(o.status.success(), "start {id}: {}", text(&o));
            common::eventually("the program ends", || {
                state(&root, &id)["status"] == "stopped"
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
        assert!(
            oci(&root, &["delete", "--force", "made"])
                .status()
                .unwrap()
                .success()
        );
        assert_eq!(left_in(&root), Vec::<String>::new());
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
        let log = dir.path().join("out");
        let st = oci(
            &root,
            &["create", "--bundle", bundle.to_str().unwrap(), "pod1"],
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
        assert!(st.success());
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
