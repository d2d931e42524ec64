//! The command-line front end's containers (src/bin/stockade): `start`,
//! `exec`, `stop`, `kill` and `list`, driven as a user would, with real
//! processes, as root and as an unprivileged uid.

mod common;

// The protocol's and the JSON reader's own unit tests run here (an example
// built as a test harness would not also be built as the binary these tests
// drive), and the protocol lets a test speak to a monitor directly.
#[allow(dead_code)]
#[path = "../src/bin/stockade/json.rs"]
mod json;
#[allow(dead_code)]
#[path = "../src/bin/stockade/wire.rs"]
mod wire;

use std::io::{BufRead, BufReader};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use common::as_each_identity;
use common::cli_binary as cli;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A test's own state: a private runtime directory (each test and identity
/// its own, so that parallel tests never see each other's containers;
/// root's state is always under /run/stockade, where the names keep them
/// apart) and a container name unique to the process and the test.
struct Env {
    runtime: tempfile::TempDir,
    name: String,
}

impl Env {
    fn new(test: &str) -> Env {
        let runtime = tempfile::Builder::new()
            .prefix("sx")
            .tempdir_in("/tmp")
            .unwrap();
        let name = format!("{test}-{}", std::process::id());
        assert!(name.len() <= 64, "{name}");
        Env { runtime, name }
    }

    /// The front end with this test's runtime directory.
    fn cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new(cli());
        c.env("XDG_RUNTIME_DIR", self.runtime.path())
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs and asserts success, returning stdout.
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

    /// The directory holding this identity's containers.
    fn base(&self) -> PathBuf {
        if common::is_root() {
            PathBuf::from("/run/stockade")
        } else {
            self.runtime.path().join("stockade")
        }
    }

    fn state(&self, name: &str) -> PathBuf {
        self.base().join(name)
    }

    /// `stockade exec NAME ARGS...`.
    fn exec(&self, args: &[&str]) -> Output {
        let mut a = vec!["exec", &self.name];
        a.extend_from_slice(args);
        self.run(&a)
    }

    /// The running containers, from `list --json`.
    fn list(&self) -> Vec<serde_json::Value> {
        let out = self.ok(&["list", "--json"]);
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        v.as_array().unwrap().clone()
    }

    /// This test's container in `list --json`, if it is listed.
    fn listed(&self) -> Option<serde_json::Value> {
        self.list()
            .into_iter()
            .find(|c| c["name"] == self.name.as_str())
    }
}

impl Drop for Env {
    /// A failed test leaves nothing running behind it.
    fn drop(&mut self) {
        let _ = self.run(&["kill", &self.name]);
    }
}

/// Processes whose command line contains `marker`.
fn with_marker(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.windows(marker.len()).any(|w| w == marker.as_bytes()))
                && common::pid_alive(*pid)
        })
        .collect()
}

/// Of those, the ones that are not stockade itself: a client, or a monitor
/// (and the container's init, a copy of it), whose arguments name the
/// marker.
fn programs_with_marker(marker: &str) -> Vec<u32> {
    with_marker(marker)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let argv0 = c.split(|b| *b == 0).next().unwrap_or_default();
                !(argv0 == b"stockade" || argv0.ends_with(b"/stockade"))
            })
        })
        .collect()
}

fn have_python() -> bool {
    Path::new("/usr/bin/python3").exists()
}

#[test]
fn execs_share_the_containers_files_and_background_servers() {
    as_each_identity(|| {
        let t = Env::new("share");
        assert_eq!(t.ok(&["start", &t.name]), "");
        let out = t.exec(&["sh", "-c", "echo hi > /tmp/f"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = t.exec(&["cat", "/tmp/f"]);
        assert_eq!(text(&out.stdout), "hi\n", "{}", text(&out.stderr));
        // Not the host's /tmp.
        assert!(!Path::new("/tmp/f").exists() || std::fs::read("/tmp/f").unwrap() != b"hi\n");
        if !have_python() {
            return common::skip("no /usr/bin/python3 for the server");
        }
        // A server left in the background by one exec answers the next.
        let out = t.exec(&[
            "sh",
            "-c",
            "cd /tmp && python3 -m http.server --bind 127.0.0.1 8000 >/dev/null 2>&1 &",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let fetch = "import time, urllib.request\n\
                     end = time.monotonic() + 120\n\
                     while True:\n\
                     \x20   try:\n\
                     \x20       print(urllib.request.urlopen('http://127.0.0.1:8000/f').read().decode(), end='')\n\
                     \x20       break\n\
                     \x20   except OSError:\n\
                     \x20       if time.monotonic() > end: raise\n\
                     \x20       time.sleep(0.05)\n";
        let out = t.exec(&["python3", "-c", fetch]);
        assert_eq!(text(&out.stdout), "hi\n", "{}", text(&out.stderr));
        t.ok(&["stop", &t.name]);
    });
}

#[test]
fn exec_has_the_callers_stdio_and_the_exit_status_convention() {
    as_each_identity(|| {
        let t = Env::new("status");
        t.ok(&["start", &t.name]);
        assert_eq!(t.exec(&["sh", "-c", "exit 3"]).status.code(), Some(3));
        assert_eq!(
            t.exec(&["sh", "-c", "kill -TERM $$"]).status.code(),
            Some(128 + 15)
        );
        // A missing program: the one-shot form's status and message.
        let out = t.exec(&["no-such-program-xyz"]);
        let one_shot = t.run(&["no-such-program-xyz"]);
        assert_eq!(out.status.code(), Some(127));
        assert_eq!(one_shot.status.code(), Some(127));
        assert!(
            text(&out.stderr).contains("program not found"),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stderr), text(&one_shot.stderr));
        assert_eq!(t.exec(&["/etc"]).status.code(), Some(126));
        // stdin, stdout and stderr are the caller's own.
        let mut child = t
            .cmd()
            .args(["exec", &t.name, "sh", "-c", "tr a-z A-Z; echo err >&2"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"hello\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(text(&out.stdout), "HELLO\n");
        assert_eq!(text(&out.stderr), "err\n");
        // A closed stdin reads as empty.
        let out = t.exec(&["sh", "-c", "cat; echo done"]);
        assert_eq!(text(&out.stdout), "done\n");
        t.ok(&["stop", &t.name]);
    });
}

#[test]
fn exec_options_and_start_defaults() {
    as_each_identity(|| {
        let t = Env::new("opts");
        t.ok(&[
            "start",
            &t.name,
            "--hostname",
            "boxy",
            "--setenv",
            "A",
            "from-start",
            "--setenv",
            "B",
            "b",
            "--chdir",
            "/tmp",
        ]);
        let script = "hostname; echo $A $B; pwd";
        assert_eq!(
            text(&t.exec(&["sh", "-c", script]).stdout),
            "boxy\nfrom-start b\n/tmp\n"
        );
        let out = t.exec(&[
            "--setenv",
            "A",
            "mine",
            "--unsetenv",
            "B",
            "--chdir",
            "/",
            "--",
            "sh",
            "-c",
            script,
        ]);
        assert_eq!(
            text(&out.stdout),
            "boxy\nmine\n/\n",
            "{}",
            text(&out.stderr)
        );
        // The container's confinement, as a one-shot program's.
        let out = t.exec(&[
            "sh",
            "-c",
            "grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status | tr -s '\\t' ' '",
        ]);
        assert_eq!(
            text(&out.stdout),
            "CapEff: 0000000000000000\nNoNewPrivs: 1\nSeccomp: 2\n"
        );
        t.ok(&["stop", &t.name]);
    });
}

#[test]
fn exec_user_runs_as_a_mapped_user_and_refuses_others() {
    as_each_identity(|| {
        let t = Env::new("user");
        t.ok(&["start", &t.name, "--uid", "0", "--gid", "0"]);
        let ids = "id -u; id -g";
        let out = t.exec(&["--user", "0:0", "sh", "-c", ids]);
        assert_eq!(text(&out.stdout), "0\n0\n", "{}", text(&out.stderr));
        // Without GID, the container's.
        let out = t.exec(&["--user", "0", "sh", "-c", ids]);
        assert_eq!(text(&out.stdout), "0\n0\n", "{}", text(&out.stderr));
        // Not mapped: refused before anything runs, in one line.
        for (user, named) in [("1000", "uid 1000"), ("0:1000", "gid 1000")] {
            let out = t.exec(&["--user", user, "sh", "-c", "echo ran"]);
            assert_eq!(out.status.code(), Some(125), "{user}");
            assert_eq!(text(&out.stdout), "", "{user}");
            let err = text(&out.stderr);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains(named), "{err}");
            assert!(err.contains("maps only"), "{err}");
        }
        // Bad values are usage errors naming the option.
        for bad in ["root", "1:x", ""] {
            let out = t.exec(&["--user", bad, "true"]);
            assert_eq!(out.status.code(), Some(125), "{bad:?}");
            let err = text(&out.stderr);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains("--user"), "{err}");
        }
        // The container is as it was.
        assert_eq!(text(&t.exec(&["sh", "-c", ids]).stdout), "0\n0\n");
        t.ok(&["stop", &t.name]);
    });
}

#[test]
fn list_shows_running_containers() {
    as_each_identity(|| {
        let t = Env::new("list");
        let json = t.ok(&["start", &t.name, "--json", "--", "sleep", "1000"]);
        let report: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        assert_eq!(report["name"], t.name.as_str());
        assert!(report["enforcement"]["namespaces"].is_array(), "{report}");
        let c = t.listed().expect("listed");
        assert_eq!(c["state"], "running", "{c}");
        assert_eq!(c["init"], serde_json::json!(["sleep", "1000"]), "{c}");
        assert_eq!(c["options"], serde_json::json!(["--json"]), "{c}");
        // INIT is the container's pid 1.
        let init = c["init_pid"].as_u64().unwrap() as u32;
        assert!(common::pid_alive(init));
        let monitor = c["monitor_pid"].as_u64().unwrap() as u32;
        assert!(common::pid_alive(monitor));
        assert!(c["created"].as_u64().unwrap() > 1_600_000_000, "{c}");
        let table = t.ok(&["list"]);
        let row = table
            .lines()
            .find(|l| l.starts_with(&t.name))
            .unwrap_or_else(|| panic!("{table}"));
        assert!(row.ends_with("sleep 1000"), "{row}");
        assert!(table.starts_with("NAME "), "{table}");
        // sleep, as pid 1, has no handler for SIGTERM: no grace is needed.
        t.ok(&["stop", &t.name, "--timeout", "0.1"]);
        assert!(t.listed().is_none());
        assert!(!t.ok(&["list"]).contains(&t.name));
    });
}

#[test]
fn stop_leaves_nothing_behind() {
    as_each_identity(|| {
        let t = Env::new("stop");
        let marker = format!("marker-{}", t.name);
        t.ok(&[
            "start",
            &t.name,
            "--",
            "sh",
            "-c",
            "sleep 1000; true",
            &marker,
        ]);
        // A background process that ignores SIGTERM: killed when the grace
        // period ends.
        let stubborn = format!(
            "sh -c 'trap \"\" TERM; touch /tmp/trapped; while :; do sleep 1; done' \
             {marker}-bg >/dev/null 2>&1 &"
        );
        assert!(t.exec(&["sh", "-c", &stubborn]).status.success());
        let wait = "while [ ! -e /tmp/trapped ]; do sleep 0.01; done";
        assert!(t.exec(&["sh", "-c", wait]).status.success());
        let monitor = t.listed().unwrap()["monitor_pid"].as_u64().unwrap() as u32;
        assert!(t.state(&t.name).is_dir());
        let before = std::time::Instant::now();
        let out = t.run(&["stop", &t.name, "--timeout", "0.5"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("grace period"),
            "{}",
            text(&out.stderr)
        );
        assert!(before.elapsed() >= Duration::from_millis(500));
        // Nothing left once stop returns: no process, no state.
        assert_eq!(with_marker(&marker), Vec::<u32>::new());
        assert_eq!(with_marker(&t.name), Vec::<u32>::new());
        assert!(!common::pid_alive(monitor));
        assert!(!t.state(&t.name).exists());
        // A stopped container is no more.
        let out = t.exec(&["true"]);
        assert_eq!(out.status.code(), Some(125));
        assert_eq!(
            text(&out.stderr),
            format!("stockade: no such container: {}\n", t.name)
        );
        // SIGTERM is enough for a program that does not ignore it.
        t.ok(&["start", &t.name]);
        assert!(
            t.exec(&["sh", "-c", "sleep 1000 >/dev/null 2>&1 &"])
                .status
                .success()
        );
        let before = std::time::Instant::now();
        let out = t.run(&["stop", &t.name]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        // Not killed after the grace period (which says so on stderr).
        assert_eq!(text(&out.stderr), "");
        eprintln!("measured: stop took {:?}", before.elapsed());
        assert!(!t.state(&t.name).exists());
    });
}

#[test]
fn kill_ends_everything_at_once() {
    as_each_identity(|| {
        let t = Env::new("kill");
        let marker = format!("marker-{}", t.name);
        t.ok(&[
            "start",
            &t.name,
            "--",
            "sh",
            "-c",
            "trap '' TERM; sleep 1000; true",
            &marker,
        ]);
        let before = std::time::Instant::now();
        t.ok(&["kill", &t.name]);
        // Without the 10 s a stop would give the program ignoring SIGTERM.
        assert!(
            before.elapsed() < Duration::from_secs(9),
            "{:?}",
            before.elapsed()
        );
        assert_eq!(with_marker(&marker), Vec::<u32>::new());
        assert_eq!(with_marker(&t.name), Vec::<u32>::new());
        assert!(!t.state(&t.name).exists());
        assert_eq!(t.run(&["kill", &t.name]).status.code(), Some(125));
    });
}

#[test]
fn the_detached_container_survives_the_start_process() {
    as_each_identity(|| {
        let t = Env::new("detach");
        // `start` returned and was reaped: the container lives on, in a
        // session of its own.
        t.ok(&["start", &t.name]);
        std::thread::sleep(Duration::from_millis(200));
        let c = t.listed().unwrap();
        let monitor = c["monitor_pid"].as_u64().unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{monitor}/stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        // Fields 4 (ppid) and 6 (session), counted from 1.
        assert_ne!(fields[1], std::process::id().to_string());
        assert_eq!(fields[3], monitor.to_string(), "not a session leader");
        assert_eq!(text(&t.exec(&["echo", "alive"]).stdout), "alive\n");
        // Its state is the owner's alone.
        for p in [t.base(), t.state(&t.name)] {
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(&p).unwrap().permissions(),
            );
            assert_eq!(mode & 0o777, 0o700, "{}", p.display());
        }
        let pid = std::fs::read_to_string(t.state(&t.name).join("pid")).unwrap();
        assert_eq!(
            pid.split_whitespace().next(),
            Some(monitor.to_string().as_str())
        );
        t.ok(&["stop", &t.name]);
    });
}

#[test]
fn a_killed_monitor_takes_its_container_along() {
    as_each_identity(|| {
        let t = Env::new("monkill");
        let marker = format!("marker-{}", t.name);
        t.ok(&[
            "start",
            &t.name,
            "--",
            "sh",
            "-c",
            "sleep 1000; true",
            &marker,
        ]);
        common::eventually("the init runs", || {
            !programs_with_marker(&marker).is_empty()
        });
        let monitor = t.listed().unwrap()["monitor_pid"].as_u64().unwrap() as i32;
        // SAFETY: kill(2) of the monitor this test started.
        assert_eq!(unsafe { libc::kill(monitor, libc::SIGKILL) }, 0);
        common::eventually("the container dies with its monitor", || {
            with_marker(&marker).is_empty() && with_marker(&t.name).is_empty()
        });
        // Its state is stale: never listed, and cleaned when seen (root's
        // state directory is shared with the other tests, whose `list` may
        // see it first).
        let shared = common::is_root();
        assert!(shared || t.state(&t.name).exists());
        let out = t.run(&["list", "--json"]);
        assert!(out.status.success());
        let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(!all.to_string().contains(&t.name), "{all}");
        assert!(
            shared
                || text(&out.stderr)
                    .contains(&format!("container {}: its monitor is gone", t.name)),
            "{}",
            text(&out.stderr)
        );
        assert!(!t.state(&t.name).exists());
        let out = t.exec(&["true"]);
        assert_eq!(out.status.code(), Some(125));
        assert!(text(&out.stderr).contains("no such container"));
        // The name is free again.
        t.ok(&["start", &t.name]);
        t.ok(&["stop", &t.name]);
    });
}

#[test]
fn a_container_killed_from_outside_is_gone_with_its_state() {
    as_each_identity(|| {
        let t = Env::new("crash");
        t.ok(&["start", &t.name]);
        let c = t.listed().unwrap();
        let (init, monitor) = (
            c["pid"].as_u64().unwrap(),
            c["monitor_pid"].as_u64().unwrap(),
        );
        // SAFETY: kill(2) of the container's init, which this test started.
        assert_eq!(unsafe { libc::kill(init as i32, libc::SIGKILL) }, 0);
        // Its monitor sees it end, removes the state and exits.
        common::eventually("the monitor ends", || {
            !common::pid_alive(monitor as u32) && !t.state(&t.name).exists()
        });
        assert!(t.listed().is_none());
        let out = t.exec(&["true"]);
        assert_eq!(out.status.code(), Some(125));
        assert_eq!(
            text(&out.stderr),
            format!("stockade: no such container: {}\n", t.name)
        );
    });
}

#[test]
fn stale_state_with_a_reused_pid_is_not_taken_for_a_container() {
    as_each_identity(|| {
        let t = Env::new("stale");
        // A pid file naming a live process (this one) with another start
        // time: the pid was reused.
        t.ok(&["list"]);
        let dir = t.state(&t.name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("pid"), format!("{} 1\n", std::process::id())).unwrap();
        let out = t.exec(&["true"]);
        assert_eq!(out.status.code(), Some(125));
        assert!(text(&out.stderr).contains("no such container"));
        assert!(!dir.exists());
        // A directory without a pid file is stale too; start takes its name.
        std::fs::create_dir(&dir).unwrap();
        t.ok(&["start", &t.name]);
        assert!(t.listed().is_some());
        t.ok(&["stop", &t.name]);
    });
}

#[test]
fn a_killed_exec_client_kills_its_program() {
    as_each_identity(|| {
        let t = Env::new("client");
        t.ok(&["start", &t.name]);
        let marker = format!("marker-{}", t.name);
        let mut client = t
            .cmd()
            .args([
                "exec",
                &t.name,
                "sh",
                "-c",
                "echo ready; sleep 1000; true",
                &marker,
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(client.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n");
        assert!(!programs_with_marker(&marker).is_empty());
        client.kill().unwrap();
        client.wait().unwrap();
        common::eventually("the program dies with its client", || {
            with_marker(&marker).is_empty()
        });
        // The container itself is fine.
        assert_eq!(text(&t.exec(&["echo", "ok"]).stdout), "ok\n");
        t.ok(&["stop", &t.name]);
    });
}

#[test]
fn exec_passes_signals_on() {
    as_each_identity(|| {
        let t = Env::new("signals");
        t.ok(&["start", &t.name]);
        let mut client = t.cmd();
        client
            .args([
                "exec",
                &t.name,
                "sh",
                "-c",
                "trap 'echo got-hup' HUP; trap 'echo got-term; exit 7' TERM; echo ready; \
                 while :; do sleep 0.05; done",
            ])
            .stdout(Stdio::piped());
        // A signal ignored when the client starts stays ignored, as for any
        // program (that is what `nohup` relies on): a suite run under
        // `nohup` would hand the client an ignored SIGHUP, and wait forever
        // for its relay. The client gets the default disposition here.
        // SAFETY: the hook makes one async-signal-safe system call between
        // fork and exec.
        unsafe { client.pre_exec(default_sighup) };
        let mut client = client.spawn().unwrap();
        let mut out = BufReader::new(client.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        let pid = client.id() as i32;
        // SAFETY: kill(2) of this test's own child.
        unsafe { libc::kill(pid, libc::SIGHUP) };
        line.clear();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "got-hup\n");
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        // Once: the relay reaches the program's group or the program,
        // never both (the shell ran its trap twice when it did).
        line.clear();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "got-term\n");
        // The client ends by the signal it got, as the one-shot form does.
        let st = client.wait().unwrap();
        assert_eq!(st.signal(), Some(libc::SIGTERM), "{st:?}");
        t.ok(&["stop", &t.name]);
    });
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    as_each_identity(|| {
        let t = Env::new("bad");
        let long = "x".repeat(65);
        for (name, reason) in [
            ("", "it is empty"),
            ("a/b", "it contains '/'"),
            ("..", "it contains '..'"),
            ("a..b", "it contains '..'"),
            ("x\u{1}y", "it contains a control character"),
            ("x\ny", "it contains a control character"),
            (long.as_str(), "it is longer than 64 bytes"),
            ("-x", "it must start with a letter or a digit"),
            ("a b", "only ASCII letters"),
        ] {
            for sub in ["start", "exec", "stop", "kill"] {
                let mut args = vec![sub, name];
                if sub == "exec" {
                    args.push("true");
                }
                let out = t.run(&args);
                assert_eq!(out.status.code(), Some(125), "{sub} {name:?}");
                let err = text(&out.stderr);
                assert!(
                    err.starts_with(&format!(
                        "stockade: invalid container name {name:?}: {reason}"
                    )),
                    "{sub} {name:?}: {err}"
                );
            }
        }
        // Exactly 64 bytes is fine.
        let max = format!("{}-{}", "m".repeat(63 - t.name.len()), t.name);
        assert_eq!(max.len(), 64);
        t.ok(&["start", &max]);
        t.ok(&["stop", &max]);
        // Unknown containers.
        for sub in [
            &["exec", "nope-x", "true"][..],
            &["stop", "nope-x"],
            &["kill", "nope-x"],
        ] {
            let out = t.run(sub);
            assert_eq!(out.status.code(), Some(125), "{sub:?}");
            assert_eq!(text(&out.stderr), "stockade: no such container: nope-x\n");
        }
        // A name in use.
        t.ok(&["start", &t.name]);
        let out = t.run(&["start", &t.name]);
        assert_eq!(out.status.code(), Some(125));
        assert_eq!(
            text(&out.stderr),
            format!("stockade: container {} already exists\n", t.name)
        );
        t.ok(&["stop", &t.name]);
        // A bad policy: the one-shot form's error, and nothing left.
        let other = format!("{}-2", t.name);
        for bad in [
            &["--ro-bind", "/no/such/source", "/x"][..],
            &["--seccomp", "off"],
            &["--bogus"],
            &["--", "no-such-program-xyz"],
        ] {
            let mut args = vec!["start", &other];
            args.extend_from_slice(bad);
            let out = t.run(&args);
            assert_eq!(out.status.code(), Some(125), "{bad:?}");
            let err = text(&out.stderr);
            let mut one_shot: Vec<&str> = bad.iter().copied().filter(|a| *a != "--").collect();
            if !bad.contains(&"--") {
                one_shot.push("true");
            }
            let expected = text(&t.run(&one_shot).stderr);
            assert_eq!(err, expected, "{bad:?}");
            assert!(!t.state(&other).exists(), "{bad:?}");
            assert_eq!(with_marker(&other), Vec::<u32>::new(), "{bad:?}");
        }
        // Extra arguments.
        let out = t.run(&["kill", &t.name, "now"]);
        assert_eq!(out.status.code(), Some(125));
        assert!(text(&out.stderr).starts_with("stockade: unexpected argument \"now\""));
        let out = t.run(&["stop", &t.name, "--timeout", "soon"]);
        assert_eq!(out.status.code(), Some(125));
        assert!(text(&out.stderr).contains("--timeout"));
        let out = t.run(&["exec"]);
        assert!(text(&out.stderr).starts_with("stockade: exec needs a container name"));
        let out = t.run(&["exec", &t.name]);
        assert!(text(&out.stderr).starts_with("stockade: no program given"));
        let out = t.run(&["list", "--all"]);
        assert!(text(&out.stderr).starts_with("stockade: unknown option --all"));
    });
}

/// The subcommands are recognised only as the first argument: after `--`
/// or an option, `start` and the others are programs.
#[test]
fn programs_named_like_subcommands_run_in_the_one_shot_form() {
    as_each_identity(|| {
        let t = Env::new("oneshot");
        for sub in ["start", "list", "exec"] {
            let out = t.run(&["--", sub]);
            assert_eq!(out.status.code(), Some(127), "{sub}");
            assert!(
                text(&out.stderr).contains(&format!("program not found: \"{sub}\"")),
                "{}",
                text(&out.stderr)
            );
        }
        let out = t.run(&["--hostname", "h", "sh", "-c", "echo $0", "start"]);
        assert_eq!(text(&out.stdout), "start\n");
        let out = t.run(&["--help"]);
        assert!(text(&out.stdout).contains("stockade start NAME"));
    });
}

/// A runtime directory path long enough that the socket path does not fit
/// in `sockaddr_un`.
#[test]
fn a_long_runtime_directory_works() {
    as_each_identity(|| {
        if common::is_root() {
            // Root's state is under /run/stockade whatever the runtime
            // directory.
            return;
        }
        let t = Env::new("longdir");
        let deep = t.runtime.path().join("d".repeat(60)).join("e".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::set_permissions(&deep, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let run = |args: &[&str]| {
            t.cmd()
                .env("XDG_RUNTIME_DIR", &deep)
                .args(args)
                .output()
                .unwrap()
        };
        let out = run(&["start", &t.name]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(deep.join("stockade").join(&t.name).join("sock").exists());
        let out = run(&["exec", &t.name, "echo", "hi"]);
        assert_eq!(text(&out.stdout), "hi\n", "{}", text(&out.stderr));
        assert!(run(&["stop", &t.name]).status.success());
    });
}

/// Gives SIGHUP its default disposition (a `pre_exec` hook).
fn default_sighup() -> std::io::Result<()> {
    // SAFETY: signal(2) with integer arguments.
    unsafe { libc::signal(libc::SIGHUP, libc::SIG_DFL) };
    Ok(())
}

/// Drops to the unprivileged test identity (between fork and exec).
fn become_nobody() -> std::io::Result<()> {
    // SAFETY: no pointers but a null list of groups.
    if unsafe { libc::setgroups(0, std::ptr::null()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let (g, u) = (common::TEST_GID, common::TEST_UID);
    // SAFETY: integer arguments only.
    if unsafe { libc::setresgid(g, g, g) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: integer arguments only.
    if unsafe { libc::setresuid(u, u, u) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Another user's containers: their state is out of reach, and a monitor
/// answers only its owner.
#[test]
fn another_users_containers_are_out_of_reach_as_root() {
    common::as_root(|| {
        let t = Env::new("owner");
        t.ok(&["start", &t.name]);
        let as_nobody = |args: &[&str], runtime: &Path| {
            let mut c = std::process::Command::new(cli());
            c.args(args)
                .env("XDG_RUNTIME_DIR", runtime)
                .stdin(Stdio::null())
                .current_dir("/");
            // SAFETY: the hook makes only async-signal-safe system calls
            // between fork and exec.
            unsafe { c.pre_exec(become_nobody) };
            c.output().unwrap()
        };
        // Root's container does not exist for another user, even one whose
        // runtime directory points at root's (not theirs: not used).
        let theirs = tempfile::Builder::new()
            .prefix("sx")
            .tempdir_in("/tmp")
            .unwrap();
        nix::unistd::chown(
            theirs.path(),
            Some(common::TEST_UID.into()),
            Some(common::TEST_GID.into()),
        )
        .unwrap();
        for runtime in [theirs.path(), Path::new("/run")] {
            for args in [
                &["exec", &t.name, "true"][..],
                &["stop", &t.name],
                &["kill", &t.name],
            ] {
                let out = as_nobody(args, runtime);
                assert_eq!(out.status.code(), Some(125), "{args:?}");
                assert_eq!(
                    text(&out.stderr),
                    format!("stockade: no such container: {}\n", t.name),
                    "{args:?}"
                );
            }
            let out = as_nobody(&["list", "--json"], runtime);
            assert!(!text(&out.stdout).contains(&t.name));
        }
        // The other way round: root can reach an unprivileged user's socket,
        // but its monitor refuses anyone but its owner.
        let name = format!("{}-nobody", t.name);
        let out = as_nobody(&["start", &name], theirs.path());
        assert!(out.status.success(), "{}", text(&out.stderr));
        let sock = theirs.path().join("stockade").join(&name).join("sock");
        let conn = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        let null = std::fs::File::open("/dev/null").unwrap();
        let fd = std::os::fd::AsFd::as_fd(&null);
        let req = wire::Request::Exec(wire::ExecRequest {
            argv: vec!["touch".into(), "/tmp/pwned".into()],
            ..wire::ExecRequest::default()
        });
        let _ = wire::send_request(&conn, &req, &[fd, fd, fd]);
        match wire::recv_reply(&conn).unwrap() {
            Some(wire::Reply::Failed { code: 125, message }) => {
                assert!(message.contains("permission denied"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        // Its owner still can.
        let out = as_nobody(&["exec", &name, "echo", "mine"], theirs.path());
        assert_eq!(text(&out.stdout), "mine\n", "{}", text(&out.stderr));
        assert!(as_nobody(&["stop", &name], theirs.path()).status.success());
        t.ok(&["stop", &t.name]);
    });
}

/// A root directory holding busybox alone (copied), its applets in /bin, an
/// /etc/inittab of `inittab`, and mount points for /proc, /dev, /tmp and
/// /state.
fn busybox_rootfs(busybox: &Path, inittab: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for d in ["bin", "etc", "proc", "dev", "tmp", "state"] {
        std::fs::create_dir(root.path().join(d)).unwrap();
    }
    std::fs::copy(busybox, root.path().join("bin/busybox")).unwrap();
    for a in ["init", "sh", "sleep", "echo", "cat", "ps", "kill"] {
        std::os::unix::fs::symlink("busybox", root.path().join("bin").join(a)).unwrap();
    }
    std::fs::write(root.path().join("etc/inittab"), inittab).unwrap();
    root
}

#[test]
fn start_runs_init_as_pid_1_and_stop_uses_its_stop_signal() {
    as_each_identity(|| {
        let Some(busybox) = common::debian_package("busybox", "busybox-static") else {
            return;
        };
        let t = Env::new("init");
        let marker = format!("marker-{}", t.name);
        let inittab = format!(
            "::sysinit:/bin/sh -c 'echo ran > /state/sysinit'\n\
             ::respawn:/bin/sh -c 'sleep 1000; true' {marker}\n\
             ::shutdown:/bin/sh -c 'echo ran > /state/shutdown'\n"
        );
        let root = busybox_rootfs(&busybox, &inittab);
        let state = tempfile::tempdir().unwrap();
        let json = t.ok(&[
            "start",
            &t.name,
            "--json",
            "--rootfs",
            root.path().to_str().unwrap(),
            "--bind",
            state.path().to_str().unwrap(),
            "/state",
            "--stop-signal",
            "SIGUSR1",
            "--",
            "/bin/init",
        ]);
        let report: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        let init = report["init_pid"].as_u64().unwrap() as u32;
        assert!(common::pid_alive(init));
        common::eventually("the respawn entry runs", || {
            !programs_with_marker(&marker).is_empty()
        });
        assert_eq!(
            std::fs::read_to_string(state.path().join("sysinit")).unwrap(),
            "ran\n"
        );
        // An exec sees busybox init as pid 1.
        let out = t.exec(&["ps", "-o", "pid,comm"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let ps = text(&out.stdout);
        assert!(ps.lines().any(|l| l.trim() == "1 init"), "{ps}");
        let out = t.exec(&["cat", "/proc/1/cmdline"]);
        // busybox init writes its name over its arguments.
        assert!(
            text(&out.stdout).starts_with("init\0"),
            "{}",
            text(&out.stderr)
        );
        // SIGUSR1 halts busybox init: it runs its shutdown entries, ends
        // every process and exits, well within the grace period.
        let before = std::time::Instant::now();
        let out = t.run(&["stop", &t.name, "--timeout", "30"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        // Not killed after the grace period (which says so on stderr).
        assert_eq!(text(&out.stderr), "");
        eprintln!("measured: stop took {:?}", before.elapsed());
        assert_eq!(
            std::fs::read_to_string(state.path().join("shutdown")).unwrap(),
            "ran\n"
        );
        assert!(!common::pid_alive(init));
        assert_eq!(with_marker(&marker), Vec::<u32>::new());
        assert_eq!(with_marker(&t.name), Vec::<u32>::new());
        assert!(!t.state(&t.name).exists());
    });
}

#[test]
fn a_container_ends_with_its_init() {
    as_each_identity(|| {
        let t = Env::new("initend");
        let json = t.ok(&[
            "start",
            &t.name,
            "--json",
            "--",
            "sh",
            "-c",
            "read x; exit 0",
        ]);
        let report: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        let monitor = report["monitor_pid"].as_u64().unwrap() as u32;
        // The init's stdin is /dev/null: it ends at once, or did already.
        common::eventually("the container ends with its init", || {
            !common::pid_alive(monitor)
        });
        assert!(t.listed().is_none());
        let out = t.exec(&["true"]);
        assert_eq!(out.status.code(), Some(125));
        assert!(!t.state(&t.name).exists() || !common::is_root());
    });
}

#[test]
fn stop_signal_bad_input() {
    let t = Env::new("stopsig");
    // Only containers stop.
    let out = t.run(&["--stop-signal", "TERM", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        text(&out.stderr).lines().next().unwrap_or(""),
        "stockade: option --stop-signal applies to containers (`stockade start`), not to one-shot programs; see stockade --help"
    );
    for bad in ["BOGUS", "0", "65", "RTMIN+99", ""] {
        let out = t.run(&["start", &t.name, "--stop-signal", bad]);
        assert_eq!(out.status.code(), Some(125), "{bad:?}");
        assert!(
            text(&out.stderr).contains(&format!("invalid value {bad:?} for --stop-signal")),
            "{bad:?}: {}",
            text(&out.stderr)
        );
        assert!(!t.state(&t.name).exists());
    }
}

/// `start --system`: a Debian userland (minbase and systemd, built by
/// tests/vm/run) boots systemd as the container's init; `exec` runs
/// `systemctl` in it; `stop` halts it (RTMIN+3) within the grace period.
#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree and the Debian userland tests/vm/run builds; tests/vm/run runs it"
)]
fn start_system_boots_systemd_and_stop_halts_it() {
    as_each_identity(|| {
        let Some((tree, sub_uid, sub_gid)) = common::system_tree() else {
            return;
        };
        let parent = common::delegated_cgroup();
        let t = Env::new("systemd");
        let mut args = vec![
            "start",
            &t.name,
            "--system",
            "--rootfs",
            &tree,
            "--writable-root",
            "--cgroup-parent",
            parent.to_str().unwrap(),
        ];
        let ranges: Vec<String> = [("--uid-range", sub_uid), ("--gid-range", sub_gid)]
            .iter()
            .flat_map(|(kind, sub)| {
                // The tree's owners as tests/vm/run shifted them (0 to
                // uid 1000, n to sub + n - 1), and root's own uid.
                [
                    kind.to_string(),
                    "0:1000:1".to_owned(),
                    kind.to_string(),
                    format!("1:{sub}:65535"),
                    kind.to_string(),
                    "65536:0:1".to_owned(),
                ]
            })
            .collect();
        if common::is_root() {
            args.extend(ranges.iter().map(String::as_str));
        } else {
            args.push("--subids");
        }
        args.extend(["--", "/sbin/init"]);
        t.ok(&args);
        let out = t.exec(&["sh", "-c", common::SYSTEMD_BOOTED]);
        let state = text(&out.stdout);
        let failed = text(
            &t.exec(&["systemctl", "--failed", "--no-legend", "--plain"])
                .stdout,
        );
        assert!(
            state == "running\n" || state == "degraded\n",
            "state {state:?} ({}); failed units:\n{failed}",
            text(&out.stderr)
        );
        let out = t.exec(&["systemctl", "status", "--no-pager"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let status = text(&out.stdout);
        assert!(
            status.contains("State: running") || status.contains("State: degraded"),
            "{status}"
        );
        let out = t.run(&["stop", &t.name, "--timeout", "120"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "", "a clean halt, nothing killed");
        assert!(!t.state(&t.name).exists());
    });
}
