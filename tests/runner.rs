//! `stockade-runner`, the Buildbarn runner, driven over gRPC by clients
//! generated from the same .proto files (proto/): Python's grpcio (another
//! implementation of the protocol, installed from PyPI into a virtual
//! environment under the target directory) and, where Python's packages
//! cannot be had (the VM has no network), tonic.
//!
//! Every test starts its own runner on a build directory of its own and
//! talks to it over a UNIX socket or 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The generated tonic client.
#[allow(clippy::all, missing_docs, dead_code)]
mod proto {
    pub mod runner {
        tonic::include_proto!("buildbarn.runner");
    }
    pub mod resourceusage {
        tonic::include_proto!("buildbarn.resourceusage");
    }
}

const HELLO_C: &str = r#"#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    printf("hello from %s\n", argc > 1 ? argv[1] : "nobody");
    fprintf(stderr, "to stderr\n");
    return argc > 2 ? atoi(argv[2]) : 0;
}
"#;

const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A runner serving one build directory; killed on drop.
struct Runner {
    process: Child,
    build: tempfile::TempDir,
    socket: PathBuf,
    tcp: Option<String>,
}

impl Runner {
    /// Starts the runner on a new build directory with `flags`, on a UNIX
    /// socket and on 127.0.0.1.
    fn start(flags: &[&str]) -> Runner {
        let build = tempfile::tempdir().unwrap();
        let socket = build.path().join("runner.sock");
        let exe = common::world_executable(Path::new(env!("CARGO_BIN_EXE_stockade-runner")));
        let mut process = Command::new(exe)
            .arg("--build-directory")
            .arg(build.path())
            .arg("--socket")
            .arg(&socket)
            .args(["--listen", "127.0.0.1:0"])
            .args(flags)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(process.stderr.take().unwrap()).lines();
        let mut tcp = None;
        while tcp.is_none() {
            let line = lines
                .next()
                .expect("the runner ended before it listened")
                .unwrap();
            if let Some(addr) = line.strip_prefix("stockade-runner: listening on 127.0.0.1:") {
                tcp = Some(format!("http://127.0.0.1:{addr}"));
            }
        }
        // Pass the rest of its messages on.
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                eprintln!("{l}");
            }
        });
        common::eventually("the runner's socket exists", || socket.exists());
        Runner {
            process,
            build,
            socket,
            tcp,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.build.path().join(rel)
    }

    /// Lays out an action directory `name` (root, tmp, logs) like a worker,
    /// with `files` in its input root.
    fn action(&self, name: &str, files: &[(&str, &str)]) {
        for d in ["root", "tmp", "logs"] {
            std::fs::create_dir_all(self.path(&format!("{name}/{d}"))).unwrap();
        }
        for (f, text) in files {
            std::fs::write(self.path(&format!("{name}/root/{f}")), text).unwrap();
        }
    }

    /// The runner's descendants (the sandboxes it is running).
    fn descendants(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let mut todo = vec![self.process.id()];
        while let Some(pid) = todo.pop() {
            let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
                continue;
            };
            for t in rd.flatten() {
                if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                    for c in s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()) {
                        if common::pid_alive(c) {
                            out.push(c);
                            todo.push(c);
                        }
                    }
                }
            }
        }
        out
    }

    /// The report of action `name`; `null` while there is none.
    fn report(&self, name: &str) -> Value {
        std::fs::read_to_string(self.path(&format!("{name}/logs/stockade-sandbox.json")))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A `RunRequest` (as the Python client's JSON) for the action directory
/// `name` laid out by [`Runner::action`].
fn request(name: &str, args: &[&str]) -> Value {
    json!({
        "arguments": args,
        "environment_variables": {"PATH": PATH},
        "working_directory": "",
        "stdout_path": format!("{name}/stdout"),
        "stderr_path": format!("{name}/stderr"),
        "input_root_directory": format!("{name}/root"),
        "temporary_directory": format!("{name}/tmp"),
        "server_logs_directory": format!("{name}/logs"),
    })
}

/// Python with grpcio and the stubs generated from proto/ by grpcio-tools:
/// (the interpreter, the directory of the stubs). Installs both from PyPI
/// into a virtual environment under the target directory the first time.
fn python_grpc() -> Option<(PathBuf, PathBuf)> {
    static READY: OnceLock<Result<(PathBuf, PathBuf), String>> = OnceLock::new();
    let r = READY.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("runner-python");
        let python = dir.join("venv/bin/python");
        let has = |m: &str| {
            Command::new(&python)
                .args(["-c", &format!("import {m}")])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !(has("grpc") && has("grpc_tools") && has("h2")) {
            let venv = || {
                let _ = std::fs::remove_dir_all(dir.join("venv"));
                Command::new("python3")
                    .args(["-m", "venv"])
                    .arg(dir.join("venv"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            // Debian's python3 makes virtual environments only with the
            // package python3-venv: installed here when root may.
            let made =
                venv() || (common::is_root() && common::apt_install("python3-venv") && venv());
            if !made {
                return Err("python3 -m venv failed (Debian: python3-venv missing)".into());
            }
            let pip = Command::new(dir.join("venv/bin/pip"))
                .args(["install", "--quiet", "grpcio", "grpcio-tools", "h2"])
                .status();
            if !pip.is_ok_and(|s| s.success()) {
                return Err("pip install grpcio grpcio-tools h2 failed (no PyPI?)".into());
            }
        }
        // Generated anew by each run of this test binary (once per process;
        // the Python tests are not re-executed as another identity).
        let stubs = dir.join("stubs");
        let _ = std::fs::remove_dir_all(&stubs);
        std::fs::create_dir_all(&stubs).unwrap();
        let proto = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto");
        let out = Command::new(&python)
            .args(["-m", "grpc_tools.protoc", "-I"])
            .arg(&proto)
            .arg(format!("--python_out={}", stubs.display()))
            .arg(format!("--grpc_python_out={}", stubs.display()))
            .args([
                "buildbarn/runner/runner.proto",
                "buildbarn/resourceusage/resourceusage.proto",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "grpc_tools.protoc failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((python, stubs))
    });
    match r {
        Ok(p) => Some(p.clone()),
        Err(e) => {
            common::skip(e);
            None
        }
    }
}

/// Runs tests/runner_client.py on `job` against `runner`'s UNIX socket and
/// returns its answer.
fn python(runner: &Runner, mut job: Value) -> Option<Value> {
    let (python, stubs) = python_grpc()?;
    job["target"] = json!(format!("unix://{}", runner.socket.display()));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/runner_client.py");
    let mut child = Command::new(python)
        .arg(script)
        .env("PYTHONPATH", stubs)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the Python client failed");
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
#[cfg_attr(stockade_vm, ignore = "needs grpcio from PyPI; the VM has no network")]
fn check_readiness_from_python() {
    let runner = Runner::start(&[]);
    runner.action("a", &[]);
    let Some(answer) = python(
        &runner,
        json!({"ready": ["a/root", "a/missing", "../outside", "/etc"]}),
    ) else {
        return;
    };
    let ready = &answer["ready"];
    assert_eq!(ready[0], json!({"ok": true}));
    assert_eq!(ready[1]["error"], "INTERNAL", "{ready}");
    assert_eq!(ready[2]["error"], "INVALID_ARGUMENT", "{ready}");
    assert_eq!(ready[3]["error"], "INVALID_ARGUMENT", "{ready}");
}

#[test]
#[cfg_attr(stockade_vm, ignore = "needs grpcio from PyPI; the VM has no network")]
fn compiles_and_runs_c_from_python() {
    let runner = Runner::start(&[]);
    runner.action("compile", &[("hello.c", HELLO_C)]);
    let Some(answer) = python(
        &runner,
        json!({"runs": [request("compile", &["gcc", "-O1", "-o", "hello", "hello.c"])]}),
    ) else {
        return;
    };
    let run = &answer["runs"][0]["ok"];
    let stderr = std::fs::read_to_string(runner.path("compile/stderr")).unwrap();
    assert_eq!(run["exit_code"], 0, "{answer}\n{stderr}");
    let usage = &run["usage"][0];
    assert!(
        usage["user_time"].as_f64().unwrap() + usage["system_time"].as_f64().unwrap() > 0.0,
        "{usage}"
    );
    assert!(
        usage["maximum_resident_set_size"].as_i64().unwrap() > 1 << 20,
        "{usage}"
    );
    assert_eq!(usage["termination_signal"], "");
    assert!(runner.path("compile/root/hello").exists());

    // The program it built, in a second action on the same input root, by
    // a relative path, with its exit code passed back.
    std::fs::create_dir(runner.path("compile/logs2")).unwrap();
    let mut run = request("compile", &["./hello", "python", "7"]);
    run["stdout_path"] = json!("compile/stdout2");
    run["stderr_path"] = json!("compile/stderr2");
    run["server_logs_directory"] = json!("compile/logs2");
    let answer = python(&runner, json!({"runs": [run]})).unwrap();
    assert_eq!(answer["runs"][0]["ok"]["exit_code"], 7, "{answer}");
    assert_eq!(
        std::fs::read_to_string(runner.path("compile/stdout2")).unwrap(),
        "hello from python\n"
    );
    assert_eq!(
        std::fs::read_to_string(runner.path("compile/stderr2")).unwrap(),
        "to stderr\n"
    );
    let report = runner.report("compile");
    assert_eq!(report["ended"], "finished", "{report}");
    assert_eq!(report["outcome"]["verdict"]["exited"], 0, "{report}");
    assert!(
        report["enforcement"]["namespaces"]
            .as_str()
            .unwrap()
            .contains("NET"),
        "no network namespace: {report}"
    );
}

#[test]
#[cfg_attr(stockade_vm, ignore = "needs grpcio from PyPI; the VM has no network")]
fn client_deadline_kills_the_action_from_python() {
    let runner = Runner::start(&[]);
    runner.action("slow", &[]);
    let mut run = request("slow", &["sh", "-c", "echo started; exec sleep 600"]);
    run["deadline"] = json!(10.0);
    let start = Instant::now();
    let Some(answer) = python(&runner, json!({"runs": [run]})) else {
        return;
    };
    assert_eq!(answer["runs"][0]["error"], "DEADLINE_EXCEEDED", "{answer}");
    // Ended by the deadline, not by the action's 600 s.
    assert!(start.elapsed() < Duration::from_secs(120));
    assert_eq!(
        std::fs::read_to_string(runner.path("slow/stdout")).unwrap(),
        "started\n"
    );
    common::eventually("the runner has no process left", || {
        runner.descendants().is_empty()
    });
    common::eventually("the report says the call ended early", || {
        let r = runner.report("slow");
        r["ended"] == "cancelled" || r["ended"] == "deadline_exceeded"
    });
}

/// A call whose deadline passes gets DEADLINE_EXCEEDED from the runner
/// itself, after the action was killed and its report says so: the call
/// is made by hand over HTTP/2, with the `grpc-timeout` header but no
/// timer of the client's own (grpcio's would answer first and hide the
/// server's answer).
#[test]
#[cfg_attr(stockade_vm, ignore = "needs grpcio from PyPI; the VM has no network")]
fn a_call_past_its_deadline_gets_deadline_exceeded_from_the_runner() {
    let runner = Runner::start(&[]);
    runner.action("late", &[]);
    let mut run = request("late", &["sh", "-c", "echo started; exec sleep 600"]);
    run["grpc_timeout"] = json!("10S");
    let Some(answer) = python(&runner, json!({"raw_runs": [run]})) else {
        return;
    };
    let raw = &answer["raw_runs"][0];
    assert_eq!(raw["grpc-status"], "4", "DEADLINE_EXCEEDED: {answer}");
    assert!(
        raw["grpc-message"]
            .as_str()
            .is_some_and(|m| m.contains("deadline")),
        "{answer}"
    );
    assert!(raw["seconds"].as_f64().unwrap() >= 1.9, "{answer}");
    assert_eq!(
        std::fs::read_to_string(runner.path("late/stdout")).unwrap(),
        "started\n"
    );
    let report = runner.report("late");
    assert_eq!(report["ended"], "deadline_exceeded", "{report}");
    assert_eq!(report["outcome"]["verdict"], "killed", "{report}");
    common::eventually("the runner has no process left", || {
        runner.descendants().is_empty()
    });
}

/// SIGTERM stops the runner gently: it stops accepting at once, the call
/// in progress finishes with its answer, then it exits 0 and removes its
/// socket.
#[test]
#[cfg_attr(stockade_vm, ignore = "needs grpcio from PyPI; the VM has no network")]
fn sigterm_lets_the_calls_in_progress_finish() {
    // The client first (its set-up can take a while).
    if python_grpc().is_none() {
        return;
    }
    let mut runner = Runner::start(&[]);
    runner.action("last", &[]);
    let run = request(
        "last",
        &["sh", "-c", "echo started; sleep 2; echo finished"],
    );
    let answer = std::thread::scope(|s| {
        let call = s.spawn(|| python(&runner, json!({"runs": [run]})));
        let stdout = runner.path("last/stdout");
        common::eventually("the action has started", || {
            std::fs::read_to_string(&stdout).is_ok_and(|t| t == "started\n")
        });
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(runner.process.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        common::eventually("the runner stops accepting", || {
            std::os::unix::net::UnixStream::connect(&runner.socket).is_err()
        });
        call.join().unwrap()
    });
    let answer = answer.unwrap();
    assert_eq!(answer["runs"][0]["ok"]["exit_code"], 0, "{answer}");
    assert_eq!(
        std::fs::read_to_string(runner.path("last/stdout")).unwrap(),
        "started\nfinished\n"
    );
    let status = runner.process.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!runner.socket.exists(), "the socket is removed");
}

#[test]
#[cfg_attr(stockade_vm, ignore = "needs grpcio from PyPI; the VM has no network")]
fn hundred_concurrent_actions_are_isolated_from_python() {
    const N: usize = 100;
    let runner = Runner::start(&[]);
    let mut runs = Vec::new();
    for i in 0..N {
        let name = format!("a{i}");
        runner.action(&name, &[("secret", &format!("secret {i}\n"))]);
        let other = runner.path(&format!("a{}/root/secret", (i + 1) % N));
        // Writes in its own input root, lists what it can see of the build
        // directory, and tries to read its neighbour's input root.
        let script = format!(
            "echo {i} > mine; ls {build} > seen; ls {build}/{name} >> seen; \
             if cat {other} 2>/dev/null; then echo visible; else echo hidden; fi > neighbour; \
             echo x > {other} 2>/dev/null && echo wrote >> neighbour; exit 0",
            build = runner.build.path().display(),
            other = other.display(),
        );
        runs.push(request(&name, &["sh", "-c", &script]));
    }
    let start = Instant::now();
    let Some(answer) = python(&runner, json!({"runs": runs})) else {
        return;
    };
    eprintln!("{N} concurrent actions took {:?}", start.elapsed());
    for i in 0..N {
        let name = format!("a{i}");
        let run = &answer["runs"][i];
        assert_eq!(run["ok"]["exit_code"], 0, "action {i}: {run}");
        let read = |f: &str| std::fs::read_to_string(runner.path(&format!("{name}/root/{f}")));
        assert_eq!(read("mine").unwrap(), format!("{i}\n"));
        assert_eq!(read("neighbour").unwrap(), "hidden\n", "action {i}");
        assert_eq!(read("secret").unwrap(), format!("secret {i}\n"));
        // Only its own action directory, and in it only what was bound.
        assert_eq!(read("seen").unwrap(), format!("{name}\nroot\ntmp\n"), "{i}");
    }
}

/// The tonic client on the runner's loopback TCP address.
async fn tonic_client(
    runner: &Runner,
) -> proto::runner::runner_client::RunnerClient<tonic::transport::Channel> {
    let channel = tonic::transport::Channel::from_shared(runner.tcp.clone().unwrap())
        .unwrap()
        .connect()
        .await
        .unwrap();
    proto::runner::runner_client::RunnerClient::new(channel)
}

fn tonic_request(name: &str, args: &[&str]) -> proto::runner::RunRequest {
    proto::runner::RunRequest {
        arguments: args.iter().map(|s| s.to_string()).collect(),
        environment_variables: [("PATH".to_owned(), PATH.to_owned())].into(),
        working_directory: String::new(),
        stdout_path: format!("{name}/stdout"),
        stderr_path: format!("{name}/stderr"),
        input_root_directory: format!("{name}/root"),
        temporary_directory: format!("{name}/tmp"),
        server_logs_directory: format!("{name}/logs"),
    }
}

fn posix_usage(response: &proto::runner::RunResponse) -> proto::resourceusage::PosixResourceUsage {
    use prost::Message;
    let any = &response.resource_usage[0];
    assert_eq!(
        any.type_url,
        "type.googleapis.com/buildbarn.resourceusage.POSIXResourceUsage"
    );
    proto::resourceusage::PosixResourceUsage::decode(any.value.as_slice()).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The runner as root and as an unprivileged uid, through tonic: compile and
/// run C, and a dropped call kills its action.
#[test]
fn compiles_runs_and_cancels_as_each_identity() {
    common::as_each_identity(|| {
        let runner = Runner::start(&[]);
        runner.action("c", &[("hello.c", HELLO_C)]);
        runner.action("slow", &[]);
        runtime().block_on(async {
            let mut client = tonic_client(&runner).await;
            client
                .check_readiness(proto::runner::CheckReadinessRequest { path: "c".into() })
                .await
                .unwrap();
            let r = client
                .run(tonic_request("c", &["gcc", "-o", "hello", "hello.c"]))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                r.exit_code,
                0,
                "{}",
                std::fs::read_to_string(runner.path("c/stderr")).unwrap()
            );
            assert!(posix_usage(&r).maximum_resident_set_size > 0);
            let mut run = tonic_request("c", &["./hello", "tonic", "3"]);
            run.stdout_path = "c/stdout2".into();
            run.stderr_path = "c/stderr2".into();
            let r = client.run(run).await.unwrap().into_inner();
            assert_eq!(r.exit_code, 3);
            assert_eq!(
                std::fs::read_to_string(runner.path("c/stdout2")).unwrap(),
                "hello from tonic\n"
            );

            // An action killed by a signal: exit code -1 and the signal's name.
            let mut run = tonic_request("c", &["sh", "-c", "kill -SEGV $$"]);
            run.stdout_path = "c/stdout3".into();
            run.stderr_path = "c/stderr3".into();
            let r = client.run(run).await.unwrap().into_inner();
            assert_eq!(r.exit_code, -1);
            assert_eq!(posix_usage(&r).termination_signal, "SEGV");

            // Dropping the call (no deadline sent) kills the action. It is
            // dropped once the action runs (its report says so): a call
            // dropped while its sandbox is being made leaves no report.
            let call = client.run(tonic_request("slow", &["sleep", "600"]));
            let running = async {
                let start = std::time::Instant::now();
                while runner.report("slow")["ended"] != "running" {
                    assert!(
                        start.elapsed() < Duration::from_secs(60),
                        "the action never ran"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            };
            tokio::select! {
                r = call => panic!("the call ended: {r:?}"),
                () = running => {}
            }
        });
        common::eventually("the runner has no process left", || {
            runner.descendants().is_empty()
        });
        common::eventually("the report says the call was cancelled", || {
            runner.report("slow")["ended"] == "cancelled"
        });
    });
}

/// An action over the runner's memory limit is killed by the kernel's OOM
/// killer in its own cgroup; the exit code, the signal and the usage come
/// back, and the report says why. A tonic client: the VM cannot install
/// Python's grpcio.
#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 with the memory controller; tests/vm/run runs it"
)]
fn memory_limit_kills_the_action_in_the_vm() {
    let parent = common::delegated_cgroup();
    let parent = parent.to_str().unwrap().to_owned();
    let runner = Runner::start(&["--memory", "64M", "--cgroup-parent", &parent]);
    runner.action(
        "big",
        &[(
            "big.c",
            "#include <stdlib.h>\n#include <string.h>\n\
             int main(void) { for (int i = 0; i < 64; i++) { char *p = malloc(16 << 20); \
             if (!p) return 2; memset(p, 1, 16 << 20); } return 0; }\n",
        )],
    );
    runtime().block_on(async {
        let mut client = tonic_client(&runner).await;
        let r = client
            .run(tonic_request("big", &["gcc", "-o", "big", "big.c"]))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            r.exit_code,
            0,
            "{}",
            std::fs::read_to_string(runner.path("big/stderr")).unwrap()
        );
        let mut run = tonic_request("big", &["./big"]);
        run.stdout_path = "big/stdout2".into();
        run.stderr_path = "big/stderr2".into();
        let r = client.run(run).await.unwrap().into_inner();
        assert_eq!(r.exit_code, -1, "{r:?}");
        let usage = posix_usage(&r);
        assert_eq!(usage.termination_signal, "KILL");
        assert!(usage.maximum_resident_set_size > 32 << 20, "{usage:?}");
        assert!(usage.maximum_resident_set_size <= 80 << 20, "{usage:?}");
    });
    let report = runner.report("big");
    assert_eq!(report["outcome"]["verdict"], "oom_killed", "{report}");
}

/// The interfaces in a `/proc/net/dev`.
fn interfaces(net_dev: &str) -> Vec<String> {
    let mut v: Vec<String> = net_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim().to_owned()))
        .collect();
    v.sort();
    v
}

/// Actions have a network of their own with only loopback, unless the
/// runner is started with `--network host`.
#[test]
fn network_only_when_configured() {
    let host = interfaces(&std::fs::read_to_string("/proc/net/dev").unwrap());
    for (flags, want) in [
        (&[][..], vec!["lo".to_owned()]),
        (&["--network", "host"][..], host),
    ] {
        let runner = Runner::start(flags);
        runner.action("net", &[]);
        runtime().block_on(async {
            let mut client = tonic_client(&runner).await;
            let r = client
                .run(tonic_request("net", &["cat", "/proc/net/dev"]))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(r.exit_code, 0);
        });
        let seen = std::fs::read_to_string(runner.path("net/stdout")).unwrap();
        assert_eq!(interfaces(&seen), want, "{flags:?}");
    }
}

/// A command line the runner cannot use: exit status 2 and a message
/// naming the option, never a panic.
#[test]
fn bad_command_lines_name_the_option() {
    let exe = common::world_executable(Path::new(env!("CARGO_BIN_EXE_stockade-runner")));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (args, want) in [
        (vec!["--socket", "/x"], "--build-directory is required"),
        (vec!["--build-directory", d], "nothing to listen on"),
        (
            vec!["--build-directory", d, "--listen", "192.0.2.1:80"],
            "--listen 192.0.2.1:80: not a loopback address",
        ),
        (
            vec!["--build-directory", d, "--socket", "/x", "--memory", "lots"],
            "--memory lots:",
        ),
        (
            vec![
                "--build-directory",
                d,
                "--socket",
                "/x",
                "--network",
                "some",
            ],
            "--network some: expected none or host",
        ),
        (
            vec!["--build-directory", "/nonexistent/dir", "--socket", "/x"],
            "--build-directory /nonexistent/dir:",
        ),
        (vec!["--frobnicate"], "unknown option --frobnicate"),
        (vec!["--pids"], "--pids needs a value"),
    ] {
        let out = Command::new(&exe).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
