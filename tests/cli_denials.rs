//! What the command line says the sandbox refused (src/bin/stockade):
//! the `denials` object of `--json`, the line `--denials` prints on
//! stderr, `--no-observe-denials`, and the policy file's
//! `[seccomp] observe_denials`. As root and unprivileged. Build the binary
//! first: `cargo build --all-features`.
//!
//! The refused calls are made with the system's own tools and with raw
//! system calls through Python's `ctypes` (the arguments the test chooses).
//! The tests of system calls need the `seccomp` feature (the binary is
//! built with the tests' features).

mod common;

// The report's JSON reader (an example built as a test harness would not
// also be built as the binary these tests drive).
#[allow(dead_code)]
#[path = "../src/bin/stockade/json.rs"]
mod json;

use std::process::{Output, Stdio};

use common::as_each_identity;
use common::cli_binary as cli;
use json::Value;

fn run(args: &[&str]) -> Output {
    std::process::Command::new(cli())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The `--json` report: the last line of stderr.
fn report(out: &Output) -> Value {
    let err = text(&out.stderr);
    let line = lines_of(&err).last().unwrap_or_default();
    json::parse(line).unwrap_or_else(|| panic!("no JSON report in {err:?}"))
}

/// The report's `denials` object.
fn denials(out: &Output) -> Value {
    report(out)
        .get("denials")
        .cloned()
        .unwrap_or_else(|| panic!("no denials in {}", text(&out.stderr)))
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn events(d: &Value) -> &[Value] {
    d.get("events").and_then(Value::as_array).unwrap()
}

/// The first system call event for `name`.
#[cfg(feature = "seccomp")]
fn syscall<'a>(d: &'a Value, name: &str) -> &'a Value {
    events(d)
        .iter()
        .find(|e| str_of(e, "kind") == Some("syscall") && str_of(e, "syscall") == Some(name))
        .unwrap_or_else(|| panic!("no {name} event in {}", d.to_json()))
}

/// Argument `name` of an event, decoded or read as a path.
#[cfg(feature = "seccomp")]
fn arg<'a>(e: &'a Value, name: &str) -> Option<&'a str> {
    ["decoded", "path"]
        .iter()
        .find_map(|k| e.get(k).and_then(|o| str_of(o, name)))
}

/// A Python program making raw system calls through ctypes; `call` prints
/// each call's errno (0 when it succeeded).
#[cfg(feature = "seccomp")]
fn py(body: &str) -> String {
    format!(
        "import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def call(nr, *args):
    r = libc.syscall(nr, *args)
    print(ctypes.get_errno() if r == -1 else 0, flush=True)
{body}
"
    )
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL), refused by the default
/// profile, as a line of [`py`].
#[cfg(feature = "seccomp")]
fn keyctl() -> String {
    format!("call({}, 1, 0, 0, 0, 0)", libc::SYS_keyctl)
}

const PYTHON: &str = "/usr/bin/python3";

#[cfg(feature = "seccomp")]
#[test]
fn json_reports_each_refused_system_call_with_its_arguments() {
    as_each_identity(|| {
        let script = format!(
            "mount -t tmpfs none /tmp 2>/dev/null; /usr/bin/unshare -U true 2>/dev/null; \
             {PYTHON} -c '{}'; exit 0",
            py(&keyctl())
        );
        let out = run(&["--json", "--", "sh", "-c", &script]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        // What the program saw is the policy's errno.
        assert_eq!(text(&out.stdout), format!("{}\n", libc::EPERM));
        let d = denials(&out);
        assert_eq!(str_of(&d, "syscalls"), Some("observed"), "{}", d.to_json());
        assert_eq!(str_of(&d, "network"), Some("not_enforced"));
        assert_eq!(str_of(&d, "filesystem"), Some("not_recorded"));

        let mount = syscall(&d, "mount");
        assert_eq!(arg(mount, "target"), Some("/tmp"), "{}", mount.to_json());
        assert_eq!(arg(mount, "type"), Some("tmpfs"));
        assert_eq!(str_of(mount, "errno_name"), Some("EPERM"));
        assert_eq!(mount.get("errno").and_then(Value::as_u64), Some(1));
        assert_eq!(str_of(mount, "command"), Some("mount"));
        assert!(
            str_of(mount, "text").is_some_and(|t| t.starts_with("mount target=/tmp")),
            "{}",
            mount.to_json()
        );

        let unshare = syscall(&d, "unshare");
        assert!(
            arg(unshare, "flags").is_some_and(|f| f.contains("CLONE_NEWUSER")),
            "{}",
            unshare.to_json()
        );

        let keyctl = syscall(&d, "keyctl");
        assert_eq!(
            keyctl.get("number").and_then(Value::as_u64),
            Some(libc::SYS_keyctl as u64)
        );
        assert_eq!(arg(keyctl, "operation"), Some("1"));
        assert_eq!(str_of(keyctl, "command"), Some("python3"));
        assert!(keyctl.get("pid").and_then(Value::as_u64).unwrap() > 0);
        let args = keyctl.get("args").and_then(Value::as_array).unwrap();
        assert_eq!(args.len(), 6);
        assert_eq!(args[0].as_str(), Some("0x1"));

        let counts = d.get("counts").unwrap();
        assert!(
            counts.get("syscall").and_then(Value::as_u64).unwrap() >= 3,
            "{}",
            d.to_json()
        );
        assert_eq!(counts.get("network").and_then(Value::as_u64), Some(0));
        let summary = str_of(&d, "summary").unwrap();
        assert!(summary.starts_with("denied: "), "{summary}");
        assert!(summary.contains("mount target=/tmp"), "{summary}");
        assert!(summary.contains("keyctl operation=1"), "{summary}");
    });
}

/// The lines of standard error, without the empty line that sets
/// stockade's own lines apart from the program's output on a pipe (where
/// it cannot see whether the program ended its last line).
fn lines_of(err: &str) -> impl Iterator<Item = &str> {
    err.lines().filter(|l| !l.is_empty())
}

/// `--denials`: one line after all of the program's output, in the words
/// of `Denials`' Display; the exit status is the program's. With `--json`
/// as well, the JSON report stays the last line and says the same.
#[cfg(feature = "seccomp")]
#[test]
fn denials_prints_one_line_after_the_programs_output() {
    as_each_identity(|| {
        let script = "echo before >&2; /usr/bin/unshare -U true 2>/dev/null; \
                      echo after >&2; exit 7";
        let out = run(&["--denials", "sh", "-c", script]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(7), "{err}");
        assert_eq!(
            lines_of(&err).collect::<Vec<_>>(),
            [
                "before",
                "after",
                "stockade: denied: unshare flags=CLONE_NEWUSER (seccomp filter: EPERM)"
            ],
            "{err}"
        );

        let out = run(&["--denials", "--json", "sh", "-c", script]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(7), "{err}");
        let lines: Vec<&str> = lines_of(&err).collect();
        assert_eq!(lines.len(), 4, "{err}");
        let line = lines[2].strip_prefix("stockade: ").unwrap();
        assert_eq!(str_of(&denials(&out), "summary"), Some(line));
    });
}

/// Nothing refused and everything watched: `--denials` says nothing.
#[test]
fn denials_is_silent_when_nothing_was_refused() {
    as_each_identity(|| {
        let out = run(&["--denials", "sh", "-c", "echo hi"]);
        assert!(out.status.success());
        assert_eq!(text(&out.stdout), "hi\n");
        assert_eq!(text(&out.stderr), "", "no line");
        let out = run(&["--json", "true"]);
        let d = denials(&out);
        assert_eq!(events(&d), &[][..]);
        assert_eq!(str_of(&d, "summary"), Some("denied: nothing observed"));
    });
}

/// `--no-observe-denials`: the program gets the same refusals and exits the
/// same way; the report says system calls were not observed, and
/// `--denials` says so rather than staying silent.
#[cfg(feature = "seccomp")]
#[test]
fn no_observe_denials_changes_the_report_only() {
    as_each_identity(|| {
        let program = py(&format!("{}\nimport sys; sys.exit(5)", keyctl()));
        let watched = run(&["--json", PYTHON, "-c", &program]);
        let unwatched = run(&["--json", "--no-observe-denials", PYTHON, "-c", &program]);
        assert_eq!(watched.status.code(), Some(5), "{}", text(&watched.stderr));
        assert_eq!(unwatched.status.code(), Some(5));
        assert_eq!(text(&watched.stdout), format!("{}\n", libc::EPERM));
        assert_eq!(text(&unwatched.stdout), text(&watched.stdout));

        let d = denials(&watched);
        assert_eq!(str_of(&d, "syscalls"), Some("observed"));
        syscall(&d, "keyctl");
        let d = denials(&unwatched);
        assert_eq!(str_of(&d, "syscalls"), Some("disabled"), "{}", d.to_json());
        assert_eq!(events(&d), &[][..]);
        assert_eq!(
            d.get("counts").and_then(|c| c.get("syscall")),
            Some(&Value::Num(0.0))
        );

        let out = run(&["--denials", "--no-observe-denials", PYTHON, "-c", &program]);
        assert_eq!(out.status.code(), Some(5));
        assert_eq!(
            text(&out.stderr),
            "\nstockade: denied: nothing observed \
             (system calls: not observed: observation is turned off)\n"
        );
    });
}

/// The policy file's `[seccomp] observe_denials = false` turns it off as
/// the flag does.
#[cfg(all(feature = "seccomp", feature = "serde"))]
#[test]
fn a_policy_file_turns_observation_off() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("quiet.toml");
        std::fs::write(&policy, "[seccomp]\nobserve_denials = false\n").unwrap();
        let program = py(&keyctl());
        let out = run(&[
            "--json",
            "--policy",
            policy.to_str().unwrap(),
            PYTHON,
            "-c",
            &program,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), format!("{}\n", libc::EPERM));
        assert_eq!(str_of(&denials(&out), "syscalls"), Some("disabled"));
    });
}

/// The wall-clock limit is a refusal too: exit status 124, and the line
/// says it.
#[test]
fn a_limit_hit_is_reported() {
    as_each_identity(|| {
        let out = run(&["--denials", "--json", "--timeout", "300ms", "sleep", "10"]);
        assert_eq!(out.status.code(), Some(124));
        let err = text(&out.stderr);
        let lines: Vec<&str> = lines_of(&err).collect();
        assert_eq!(
            lines[0], "stockade: denied: wall-clock limit (the sandbox was ended)",
            "{err}"
        );
        let d = denials(&out);
        let limit = events(&d)
            .iter()
            .find(|e| str_of(e, "kind") == Some("limit"))
            .unwrap_or_else(|| panic!("{}", d.to_json()));
        assert_eq!(str_of(limit, "limit"), Some("wall_clock"));
        assert_eq!(
            d.get("counts").and_then(|c| c.get("limit")),
            Some(&Value::Num(1.0))
        );
    });
}

/// With --observe-writes, a write a read-only mount refuses is an event
/// of its own, marked inferred; without, writes are not looked at.
#[cfg(feature = "seccomp")]
#[test]
fn observe_writes_reports_writes_to_read_only_mounts() {
    as_each_identity(|| {
        let script = "{ echo x > /etc/motd; } 2>/dev/null; echo x > /tmp/ok; true";
        let out = run(&[
            "--denials",
            "--json",
            "--observe-writes",
            "sh",
            "-c",
            script,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert_eq!(
            lines_of(&err).next(),
            Some("stockade: denied: write /etc/motd (read-only mount, inferred)"),
            "{err}"
        );
        let d = denials(&out);
        assert_eq!(str_of(&d, "filesystem"), Some("inferred"));
        let file = events(&d)
            .iter()
            .find(|e| str_of(e, "kind") == Some("filesystem"))
            .unwrap_or_else(|| panic!("{}", d.to_json()));
        assert_eq!(str_of(file, "path"), Some("/etc/motd"));
        assert_eq!(str_of(file, "operation"), Some("write"));
        assert_eq!(str_of(file, "reason"), Some("read_only_mount"));
        assert_eq!(file.get("inferred"), Some(&Value::Bool(true)));
        assert_eq!(
            events(&d).len(),
            1,
            "the write to /tmp is not one: {}",
            d.to_json()
        );
        // Without the flag: the same run, nothing looked at.
        let out = run(&["--json", "sh", "-c", script]);
        let d = denials(&out);
        assert_eq!(str_of(&d, "filesystem"), Some("not_recorded"));
        assert!(events(&d).is_empty(), "{}", d.to_json());
    });
}

/// A connection the filtered network refuses (a name no rule allows,
/// refused before any lookup) is an event of its own, with its entry of
/// the log.
#[test]
fn a_refused_connection_is_reported() {
    as_each_identity(|| {
        let program = "import urllib.request
try:
    urllib.request.urlopen(\"http://refused.test/\", timeout=60)
except Exception as e:
    print(type(e).__name__)
";
        let out = run(&[
            "--json",
            "--denials",
            "--net",
            "filter",
            PYTHON,
            "-c",
            program,
        ]);
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(text(&out.stdout), "HTTPError\n", "{err}");
        let line = lines_of(&err).next().unwrap_or_default();
        assert!(
            line.starts_with("stockade: denied: connect to refused.test:80 (network policy: "),
            "{err}"
        );
        let d = denials(&out);
        assert_eq!(str_of(&d, "network"), Some("observed"));
        let e = events(&d)
            .iter()
            .find(|e| str_of(e, "kind") == Some("network"))
            .unwrap_or_else(|| panic!("{}", d.to_json()));
        let c = e.get("connection").unwrap();
        assert_eq!(str_of(c, "host"), Some("refused.test"));
        assert_eq!(str_of(c, "verdict"), Some("denied"));
        assert_eq!(str_of(c, "denial"), Some("no_rule"));
    });
}

/// A path the program chose is its word: a newline or an escape sequence
/// in it cannot add a line to stderr or reach the terminal as such; the
/// JSON report keeps it exactly.
#[cfg(feature = "seccomp")]
#[test]
fn the_programs_strings_cannot_break_the_line() {
    as_each_identity(|| {
        let program = "import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.mount(b\"none\", b\"/tmp/a\\nstockade: forged\\x1b[2J\", b\"tmpfs\", 0, None)
";
        let out = run(&["--denials", "--json", PYTHON, "-c", program]);
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        let lines: Vec<&str> = lines_of(&err).collect();
        assert_eq!(lines.len(), 2, "the line and the report: {err}");
        assert_eq!(
            lines[0],
            "stockade: denied: mount target=/tmp/a\\nstockade: forged\\u{1b}[2J \
             source=none type=tmpfs (seccomp filter: EPERM)"
        );
        let mount = syscall(&denials(&out), "mount").clone();
        assert_eq!(
            arg(&mount, "target"),
            Some("/tmp/a\nstockade: forged\x1b[2J")
        );
    });
}

/// The flags are in the help, and `--denials` is refused for a container
/// (which runs until stopped) in the command line's words.
#[test]
fn help_and_usage_errors() {
    let out = run(&["--help"]);
    let help = text(&out.stdout);
    for flag in ["--denials", "--no-observe-denials"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(flag)),
            "{flag} in {help}"
        );
    }
    let runtime = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(cli())
        .env("XDG_RUNTIME_DIR", runtime.path())
        .args(["start", "denials-usage", "--denials"])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(
        err.starts_with("stockade: option --denials applies to one-shot programs, not to `start`"),
        "{err}"
    );
}
