//! The user-facing examples (`examples/compile.rs`, `test_pool.rs`,
//! `agent_shell.rs`), run as the binaries `cargo test` builds, with their
//! printed outcomes checked.
//!
//! Run as is, the examples ask for their cgroup limits best-effort and get
//! rlimits standing in (the tests check that they say so); the tests whose
//! names end in `in_a_delegated_cgroup` give them a delegated cgroup v2
//! subtree as `--cgroup-parent`, where the limits must really hold: those
//! need `tests/vm/run -t examples` and are ignored elsewhere.
//!
//! `cargo test --test examples` alone does not rebuild the examples; a plain
//! `cargo test --all-features` (or `cargo build --examples --all-features`)
//! does.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::as_each_identity;

/// The built example `name`, copied where an unprivileged uid can run it.
fn example(name: &str) -> PathBuf {
    let path = common::deps_dir()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(path.exists(), "example binary {} not built", path.display());
    common::world_executable(&path)
}

/// Runs example `name` with `args`, asserting it exited with `code`.
fn run(name: &str, args: &[&str], home: Option<&Path>, code: i32) -> String {
    run_in(None, name, args, home, code)
}

/// Runs example `name` with `args`, and `--cgroup-parent cgroup` when given,
/// asserting it exited with `code`.
fn run_in(
    cgroup: Option<&Path>,
    name: &str,
    args: &[&str],
    home: Option<&Path>,
    code: i32,
) -> String {
    let mut cmd = std::process::Command::new(example(name));
    if let Some(p) = cgroup {
        cmd.arg("--cgroup-parent").arg(p);
    }
    cmd.args(args);
    if let Some(h) = home {
        cmd.env("HOME", h);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let stderr = String::from_utf8_lossy(&stderr);
    assert_eq!(
        status.code(),
        Some(code),
        "{name} {args:?}: {status}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    stdout
}

/// The `key=value` pairs of the first line starting with `prefix`.
fn fields(out: &str, prefix: &str) -> HashMap<String, String> {
    let line = out
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{out}"));
    line[prefix.len()..]
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Checks a `limits:` line of a run without a cgroup parent: the memory and
/// pids limits are approximated by rlimits, and the line says so.
fn check_approximated_limits(out: &str) {
    let l = fields(out, "limits:");
    let enforced: Vec<&str> = l["enforced"].split(',').collect();
    // RLIMIT_NPROC would not bind real uid 0: it stands in otherwise.
    let approximated = if common::is_root() { "as" } else { "as,nproc" };
    assert_eq!(l["approximated"], approximated, "{out}");
    assert!(!enforced.contains(&"memory.max"), "{out}");
}

/// Checks a `limits:` line of a run in a delegated cgroup: the memory and
/// pids limits are real.
fn check_enforced_limits(out: &str) {
    let l = fields(out, "limits:");
    let enforced: Vec<&str> = l["enforced"].split(',').collect();
    assert!(
        enforced.contains(&"memory.max") && enforced.contains(&"pids.max"),
        "{out}"
    );
    assert_eq!(l["approximated"], "none", "{out}");
}

/// Checks compile's output for the hello-world build, whose peak memory is
/// measured over `peak_scope`.
fn check_hello_world(out: &str, peak_scope: &str) {
    let c = fields(out, "compile:");
    assert_eq!(c["verdict"], "exited", "{out}");
    assert_eq!(c["code"], "0", "{out}");
    assert!(c["peak_memory_kib"].parse::<u64>().unwrap() > 0, "{out}");
    assert_eq!(c["peak_scope"], peak_scope, "{out}");
    assert!(
        out.contains(r#"run: status=0 output="hello from a sandboxed build\n""#),
        "{out}"
    );
}

#[test]
fn compile_builds_and_runs_hello_world() {
    as_each_identity(|| {
        let out = run("compile", &[], None, 0);
        check_approximated_limits(&out);
        check_hello_world(&out, "largest_process");
    });
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn compile_builds_and_runs_hello_world_in_a_delegated_cgroup() {
    as_each_identity(|| {
        let cgroup = common::delegated_cgroup();
        let out = run_in(Some(&cgroup), "compile", &[], None, 0);
        check_enforced_limits(&out);
        check_hello_world(&out, "sandbox");
    });
}

#[test]
fn compile_builds_the_callers_source_into_the_output_dir() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir(&src).unwrap();
        // A program of the caller's, built into a directory of the caller's:
        // the binary lands there and nothing lands next to the source.
        std::fs::write(
            src.join("answer.c"),
            "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 6 * 7); return 0; }\n",
        )
        .unwrap();
        let out_dir = dir.path().join("out");
        let out = run(
            "compile",
            &[
                src.join("answer.c").to_str().unwrap(),
                out_dir.to_str().unwrap(),
            ],
            None,
            0,
        );
        assert!(out.contains(r#"output="42\n""#), "{out}");
        assert!(out_dir.join("answer").is_file(), "{out}");
        let names: Vec<_> = std::fs::read_dir(&src).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "only the source in the source directory");

        // A broken program: the compiler's exit status comes back, and
        // nothing is run.
        std::fs::write(src.join("broken.c"), "int main(void) { return }\n").unwrap();
        let out = run(
            "compile",
            &[
                src.join("broken.c").to_str().unwrap(),
                out_dir.to_str().unwrap(),
            ],
            None,
            1,
        );
        let c = fields(&out, "compile:");
        assert_eq!(c["verdict"], "exited", "{out}");
        assert_ne!(c["code"], "0", "{out}");
        assert!(!out.contains("run:"), "{out}");
    });
}

/// The pool's table rows: worker name -> (verdict, code).
#[cfg(feature = "tokio")]
fn pool_rows(out: &str) -> HashMap<String, (String, String)> {
    let mut rows = HashMap::new();
    let mut in_table = false;
    for l in out.lines() {
        if l.starts_with("worker ") {
            in_table = true;
            continue;
        }
        if !in_table || l.starts_with("---") || l.starts_with("summary:") {
            in_table = false;
            continue;
        }
        let w: Vec<&str> = l.split_whitespace().collect();
        rows.insert(w[0].to_owned(), (w[1].to_owned(), w[2].to_owned()));
    }
    rows
}

/// Checks test_pool's table and summary (without the memory bomb).
#[cfg(feature = "tokio")]
fn check_pool(out: &str) {
    let rows = pool_rows(out);
    let expect = [
        ("upcase", "exited", "0"),
        ("scratch-write", "exited", "0"),
        ("hostname", "exited", "0"),
        ("no-network", "exited", "0"),
        ("assert-fails", "exited", "1"),
        ("segfault", "signaled", "-"),
        ("hangs", "timed_out", "-"),
    ];
    assert_eq!(rows.len(), expect.len(), "{out}");
    for (name, verdict, code) in expect {
        assert_eq!(
            rows.get(name),
            Some(&(verdict.to_owned(), code.to_owned())),
            "worker {name}:\n{out}"
        );
    }
    assert!(out.contains("expected 4, got 5"), "{out}");
    let s = fields(out, "summary:");
    assert_eq!(
        (
            &*s["workers"],
            &*s["passed"],
            &*s["failed"],
            &*s["timed_out"]
        ),
        ("7", "4", "2", "1"),
        "{out}"
    );
    assert_eq!(s["oom_killed"], "0", "{out}");
}

#[cfg(feature = "tokio")]
#[test]
fn test_pool_reports_each_workers_verdict() {
    as_each_identity(|| {
        let out = run("test_pool", &[], None, 0);
        check_approximated_limits(&out);
        check_pool(&out);
    });
}

#[cfg(feature = "tokio")]
#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn test_pool_reports_each_workers_verdict_in_a_delegated_cgroup() {
    as_each_identity(|| {
        let cgroup = common::delegated_cgroup();
        let out = run_in(Some(&cgroup), "test_pool", &[], None, 0);
        check_enforced_limits(&out);
        check_pool(&out);
    });
}

/// Runs test_pool with its memory bomb, checks the workers next to the
/// bomb and returns (output, the bomb's row, the summary).
#[cfg(feature = "tokio")]
fn pool_with_a_bomb(cgroup: Option<&Path>) -> (String, (String, String), HashMap<String, String>) {
    let out = run_in(cgroup, "test_pool", &["--bomb"], None, 0);
    let rows = pool_rows(&out);
    assert_eq!(rows.len(), 8, "{out}");
    // The other workers are unaffected by the bomb next to them.
    assert_eq!(rows["upcase"].0, "exited", "{out}");
    assert_eq!(rows["hangs"].0, "timed_out", "{out}");
    let s = fields(&out, "summary:");
    assert_eq!(s["passed"], "4", "{out}");
    let bomb = rows["memory-bomb"].clone();
    (out, bomb, s)
}

/// Without a cgroup, RLIMIT_AS stands in for the memory limit: the bomb's
/// allocation fails instead of the bomb being OOM-killed.
#[cfg(feature = "tokio")]
#[test]
fn test_pool_with_a_memory_bomb_under_rlimit_as_fails_to_allocate() {
    as_each_identity(|| {
        let (out, bomb, s) = pool_with_a_bomb(None);
        check_approximated_limits(&out);
        assert_eq!(bomb, ("exited".into(), "1".into()), "{out}");
        assert!(out.contains("memory exhausted"), "{out}");
        assert_eq!(s["oom_killed"], "0", "{out}");
    });
}

#[cfg(feature = "tokio")]
#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn test_pool_with_a_memory_bomb_reports_exactly_one_oom_kill_in_a_delegated_cgroup() {
    as_each_identity(|| {
        let cgroup = common::delegated_cgroup();
        let (out, bomb, s) = pool_with_a_bomb(Some(&cgroup));
        check_enforced_limits(&out);
        assert_eq!(bomb.0, "oom_killed", "{out}");
        assert_eq!(s["oom_killed"], "1", "{out}");
    });
}

/// Runs agent_shell on `cmds` and returns (stdout, result fields per command).
fn agent(
    workspace: &Path,
    home: &Path,
    extra: &[&str],
    cmds: &[&str],
) -> (String, Vec<HashMap<String, String>>) {
    let mut args = vec!["--workspace", workspace.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(cmds);
    let out = run("agent_shell", &args, Some(home), 0);
    let results = (0..cmds.len())
        .map(|i| fields(&out, &format!("result index={i} ")))
        .collect();
    (out, results)
}

/// The `denied:` line agent_shell prints right after command `i`'s result
/// line, if any (the command's own output follows indented, so it cannot
/// print such a line).
fn denied_line(out: &str, i: usize) -> Option<&str> {
    let prefix = format!("result index={i} ");
    let mut lines = out.lines().skip_while(|l| !l.starts_with(&prefix));
    lines.next()?;
    lines.next().filter(|l| l.starts_with("denied: "))
}

#[test]
fn agent_shell_confines_and_reports_each_command() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("workspace");
        let home = dir.path().join("home");
        std::fs::create_dir(&workspace).unwrap();
        std::fs::create_dir(&home).unwrap();
        std::fs::write(home.join("canary"), "still here").unwrap();
        std::fs::write(workspace.join("input.txt"), "data").unwrap();

        // A server on the host's loopback, which the host reaches and the
        // sandbox (in its own network namespace, with a loopback of its own
        // that curl reaches without the proxy) does not.
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("the host reaches its server");
        let by_name = format!("curl -sS --max-time 5 http://localhost:{port}/");
        let by_address = format!("curl -sS --max-time 5 http://127.0.0.1:{port}/");
        let cmds = [
            // 0: a write into the workspace, which the host sees.
            "cat input.txt > copy.txt && echo written > notes.txt",
            // 1, 2: the host's server, by name and by address.
            &by_name,
            &by_address,
            // 3: writing outside the workspace.
            "echo pwned > /etc/motd",
            // 4: the caller's home is not in the sandbox (its own is empty).
            "ls -A ~; cat ~/.ssh/id_ed25519",
            // 5: the system directories are read-only.
            "rm -rf /usr 2>&1 | head -n 3",
            // 6: a hang ends at the timeout.
            "sleep 100",
            // 7: endless output stops at the cap.
            "yes",
            // 8: a name, through the proxy, which allows none (refused
            // before any lookup).
            "curl -fsS --max-time 15 http://files.example.test/",
            // 9: a system call the seccomp filter refuses.
            "unshare --user --map-root-user id",
            // 10: words that look like refusals are not refusals.
            "echo 'denied: mount target=/etc (seccomp filter: EPERM)'; \
             echo 'Operation not permitted' >&2; echo 'Network is unreachable'",
        ];
        // Each command's wall-clock limit: past curl's start-up under
        // emulation with other tests running (5 s was not, once).
        let limit = if cfg!(stockade_vm) { "20" } else { "5" };
        let (out, r) = agent(
            &workspace,
            &home,
            &["--timeout", limit, "--cap", "4096"],
            &cmds,
        );

        assert_eq!(
            (&*r[0]["verdict"], &*r[0]["code"], &*r[0]["denied"]),
            ("exited", "0", "none"),
            "{out}"
        );
        assert_eq!(denied_line(&out, 0), None, "{out}");
        assert_eq!(
            std::fs::read_to_string(workspace.join("notes.txt")).unwrap(),
            "written\n"
        );
        assert_eq!(
            std::fs::read_to_string(workspace.join("copy.txt")).unwrap(),
            "data"
        );

        // Not reached, and not a refusal: the sandbox's loopback has no
        // server.
        for i in [1, 2] {
            assert_eq!(r[i]["verdict"], "exited", "{out}");
            assert_ne!(r[i]["code"], "0", "{out}");
            assert_eq!(r[i]["denied"], "none", "command {i}:\n{out}");
        }

        // Writes to read-only directories: looked at before they run, and
        // reported as inferred refusals.
        assert_eq!(r[3]["code"], "2", "{out}");
        assert_eq!(r[3]["denied"], "read-only", "{out}");
        assert!(out.contains("/etc/motd: Read-only file system"), "{out}");
        assert_eq!(
            denied_line(&out, 3),
            Some("denied: write /etc/motd (read-only mount, inferred)"),
            "{out}"
        );

        assert_eq!(r[4]["verdict"], "exited", "{out}");
        assert!(out.contains("No such file or directory"), "{out}");

        assert_eq!(r[5]["denied"], "read-only", "{out}");
        assert!(out.contains("rm: cannot remove '/usr/"), "{out}");

        assert_eq!(
            (&*r[6]["verdict"], &*r[6]["truncated"], &*r[6]["denied"]),
            ("timed_out", "false", "wall-clock"),
            "{out}"
        );
        assert_eq!(
            denied_line(&out, 6),
            Some("denied: wall-clock limit (the sandbox was ended)"),
            "{out}"
        );

        assert_eq!(
            (
                &*r[7]["verdict"],
                &*r[7]["truncated"],
                &*r[7]["bytes"],
                &*r[7]["denied"]
            ),
            ("killed", "true", "4096", "none"),
            "{out}"
        );

        assert_eq!(
            (&*r[8]["code"], &*r[8]["denied"]),
            ("22", "network"),
            "{out}"
        );
        assert_eq!(
            denied_line(&out, 8),
            Some(
                "denied: connect to files.example.test:80 \
                 (network policy: no egress rule allows this name)"
            ),
            "{out}"
        );

        // (Built without the seccomp feature, there is no filter.)
        if cfg!(feature = "seccomp") {
            assert_eq!(
                (&*r[9]["code"], &*r[9]["denied"]),
                ("1", "unshare"),
                "{out}"
            );
            assert_eq!(
                denied_line(&out, 9),
                Some("denied: unshare flags=CLONE_NEWUSER (seccomp filter: EPERM)"),
                "{out}"
            );
        }

        assert_eq!((&*r[10]["code"], &*r[10]["denied"]), ("0", "none"), "{out}");
        assert_eq!(denied_line(&out, 10), None, "{out}");
        assert!(out.contains("  | Operation not permitted"), "{out}");

        // The host is unharmed.
        assert_eq!(
            std::fs::read_to_string(home.join("canary")).unwrap(),
            "still here"
        );
        assert!(Path::new("/usr/bin").is_dir());
        assert!(
            out.contains(&format!("host home {}: intact=true", home.display())),
            "{out}"
        );
        assert!(
            !std::fs::read_to_string("/etc/motd")
                .unwrap_or_default()
                .contains("pwned")
        );
    });
}

#[test]
fn agent_shell_rejects_bad_options_with_a_message() {
    as_each_identity(|| {
        for args in [
            &["--timeout", "soon"][..],
            &["--timeout", "0"],
            &["--cap", "-1"],
            &["--workspace"],
            &["--bogus", "ls"],
        ] {
            let out = std::process::Command::new(example("agent_shell"))
                .args(args)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.starts_with("agent_shell: "), "{args:?}: {err}");
            assert!(err.contains(args[0]), "{args:?}: {err}");
        }
    });
}
