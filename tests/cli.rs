//! The command-line front end (src/bin/stockade): the contract of its
//! options, exit statuses and `--json` report.

mod common;

// The option parser's own unit tests run here: an example built as a test
// harness would not also be built as the binary these tests drive.
#[allow(dead_code)]
#[path = "../src/bin/stockade/args.rs"]
mod args;

use std::process::Output;

use common::as_each_identity;
use common::cli_binary as cli;

fn run(args: &[&str]) -> Output {
    std::process::Command::new(cli())
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn runs_a_real_command_with_the_default_policy() {
    as_each_identity(|| {
        let out = run(&["sh", "-c", "echo $$; id -u; hostname"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let s = text(&out.stdout);
        let l: Vec<&str> = s.lines().collect();
        assert_eq!(l[0], "2", "pid inside the sandbox");
        assert_eq!(l[1], nix::unistd::geteuid().as_raw().to_string());
        assert_eq!(l[2], nix::unistd::gethostname().unwrap().to_string_lossy());
    });
}

#[test]
fn exit_status_convention() {
    as_each_identity(|| {
        assert_eq!(run(&["sh", "-c", "exit 42"]).status.code(), Some(42));
        assert_eq!(
            run(&["sh", "-c", "kill -KILL $$"]).status.code(),
            Some(128 + 9)
        );
        assert_eq!(
            run(&["--timeout", "0.3", "sleep", "10"]).status.code(),
            Some(124)
        );
        assert_eq!(
            run(&["--timeout", "300ms", "sleep", "10"]).status.code(),
            Some(124)
        );
        let out = run(&["no-such-program-xyz"]);
        assert_eq!(out.status.code(), Some(127));
        assert!(
            text(&out.stderr).contains("program not found"),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(run(&["/etc"]).status.code(), Some(126));
        let out = run(&["--ro-bind", "/no/such/source", "/x", "true"]);
        assert_eq!(out.status.code(), Some(125));
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one-line reason: {err}");
        assert!(err.contains("/no/such/source"), "{err}");
        assert_eq!(run(&["--bogus"]).status.code(), Some(125));
        // A new file cannot be created inside a read-only bind: the error
        // names the caller's operation and its destination.
        let out = run(&["--tmpfs", "/w", "--file", "/etc/new-file", "x", "true"]);
        assert_eq!(out.status.code(), Some(125));
        let err = text(&out.stderr);
        assert!(
            err.contains("(--file /etc/new-file)")
                && err.contains("Read-only")
                && err.contains("below a --tmpfs or --bind directory"),
            "{err}"
        );
    });
}

#[test]
fn options_take_effect() {
    as_each_identity(|| {
        let out = run(&[
            "--hostname",
            "boxy",
            "--setenv",
            "GREETING",
            "hi",
            "--chdir",
            "/tmp",
            "--uid",
            "0",
            "--gid",
            "0",
            "--tmpfs",
            "/scratch:1M",
            "--file",
            "/etc/hostname",
            "hello file",
            "sh",
            "-c",
            "hostname; echo $GREETING; pwd; id -u; cat /etc/hostname; echo; df -k /scratch | tail -1 | tr -s ' ' | cut -d' ' -f2",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "boxy\nhi\n/tmp\n0\nhello file\n1024\n");
        // Network: only loopback unless shared.
        let out = run(&["sh", "-c", "tail -n +3 /proc/net/dev | wc -l"]);
        assert_eq!(text(&out.stdout).trim(), "1");
        let out = run(&[
            "--share-net",
            "sh",
            "-c",
            "tail -n +3 /proc/net/dev | wc -l",
        ]);
        let host = std::fs::read_to_string("/proc/net/dev")
            .unwrap()
            .lines()
            .count()
            - 2;
        assert_eq!(text(&out.stdout).trim(), host.to_string());
    });
}

#[test]
fn json_report() {
    as_each_identity(|| {
        let out = run(&["--json", "sh", "-c", "exit 3"]);
        assert_eq!(out.status.code(), Some(3));
        let err = text(&out.stderr);
        let j = err.lines().last().unwrap();
        assert!(
            j.starts_with("{\"status\":\"exited\",\"code\":3,\"signal\":null,\"wall_ms\":"),
            "{j}"
        );
        assert!(
            j.contains(
                "\"namespaces\":[\"user\",\"mount\",\"pid\",\"net\",\"ipc\",\"uts\",\"cgroup\"]"
            ),
            "{j}"
        );
        // The namespace ids are those the program itself sees, and not
        // the caller's.
        let out = run(&[
            "--json",
            "sh",
            "-c",
            "stat -L -c %i /proc/self/ns/mnt /proc/self/ns/pid /proc/self/ns/user",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        let v: serde_json::Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
        let ids = &v["namespace_ids"];
        let inside: Vec<u64> = text(&out.stdout)
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        assert_eq!(
            [&ids["mnt"], &ids["pid"], &ids["user"]].map(|i| i.as_u64()),
            [0, 1, 2].map(|n| Some(inside[n])),
            "{v}"
        );
        let own = std::fs::metadata("/proc/self/ns/mnt").unwrap();
        assert_ne!(
            ids["mnt"].as_u64(),
            Some(std::os::unix::fs::MetadataExt::ino(&own)),
            "{v}"
        );
        for ns in ["cgroup", "ipc", "net", "uts"] {
            assert!(ids[ns].as_u64().is_some(), "{ns}: {v}");
        }
        let out = run(&["--json", "--timeout", "0.2", "sleep", "5"]);
        assert!(text(&out.stderr).contains("\"status\":\"timed_out\""));
        let out = run(&["--json", "sh", "-c", "kill -TERM $$"]);
        assert!(text(&out.stderr).contains("\"status\":\"signaled\",\"code\":null,\"signal\":15"));
        let out = run(&["--json", "no-such-program-xyz"]);
        assert!(text(&out.stderr).contains("\"status\":\"setup_failed\""));
    });
}

/// A usage error is one line naming the option, pointing at `--help`,
/// with exit status 125; `--version` answers.
#[test]
fn usage_errors_are_one_line_naming_the_option() {
    let out = run(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        format!("stockade {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(text(&run(&["exec", "--version"]).stdout), text(&out.stdout));
    for (args, names) in [
        (&["--bogus", "true"][..], "--bogus"),
        (&["--memory"][..], "--memory"),
        (&["--memory", "lots", "true"][..], "--memory"),
        (&["--cpus", "0", "true"][..], "--cpus"),
        (&["--share-net", "--net-filter", "true"][..], "--net-filter"),
        (
            &["--json", "--json-file", "/tmp/x", "true"][..],
            "--json-file",
        ),
        (&["--json-fd", "three", "true"][..], "--json-fd"),
        (&["--timeout", "0", "true"][..], "--timeout"),
        (&["stop"][..], "stop"),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.starts_with("stockade: "), "{args:?}: {err}");
        assert!(err.contains(names), "{args:?} names {names}: {err}");
        assert!(err.trim_end().ends_with("; see stockade --help"), "{err}");
    }
}

/// Help and version, of the one-shot form and of the subcommands, answer
/// on stdout with exit status 0 and nothing on stderr.
#[test]
fn help_and_version_answer_on_stdout() {
    for (args, wants) in [
        (&["--help"][..], "Usage: stockade [run] [OPTIONS]"),
        (&["-h"], "Usage: stockade [run] [OPTIONS]"),
        (&["--memory", "1G", "--help"], "--memory <SIZE>"),
        (&["run", "--help"], "stockade start NAME"),
        (&["exec", "--help"], "Usage: stockade exec NAME"),
        (&["stop", "web", "-h"], "--timeout <DURATION>"),
        (&["image", "import", "--help"], "--name <NAME[:TAG]>"),
        (&["completions", "--help"], "bash"),
        (&["--version"], "stockade "),
        (&["list", "-V"], "stockade "),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
        let s = text(&out.stdout);
        assert!(s.contains(wants), "{args:?}: {wants} in {s}");
    }
}

/// What the option parser itself refuses (an unknown option, a missing
/// value, a value given to a flag, a word a subcommand does not take) is
/// one line naming the argument as typed, with exit status 125.
#[test]
fn parser_errors_are_one_line_naming_the_argument() {
    for (args, names) in [
        (&["-x", "true"][..], "-x"),
        (&["--json=yes", "true"], "--json=yes"),
        (&["--setenv", "K"], "--setenv"),
        (&["--ro-bind", "/a"], "--ro-bind"),
        (&["run"], "no program"),
        (&["exec", "web"], "no program"),
        (&["list", "--all"], "--all"),
        (&["kill", "web", "now"], "\"now\""),
        (&["stop", "web", "--timeout"], "--timeout"),
        (&["image", "rm"], "image rm"),
        (&["image", "pull"], "\"pull\""),
        (&["completions", "tcsh"], "\"tcsh\""),
        (&["completions"], "shell"),
    ] {
        let out = run(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.starts_with("stockade: "), "{args:?}: {err}");
        assert!(err.contains(names), "{args:?} names {names}: {err}");
        assert!(err.trim_end().ends_with("; see stockade --help"), "{err}");
    }
    // A word that names no subcommand is the program, as before.
    let out = run(&["no-such-subcommand-xyz"]);
    assert_eq!(out.status.code(), Some(127));
}

/// `stockade completions bash` prints a script that bash sources, and its
/// completion function completes the options and the subcommands.
#[test]
fn bash_completion_completes_options_and_subcommands() {
    let out = run(&["completions", "bash"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("stockade.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    // Completes WORDS... with the cursor on the last one, as bash does on
    // TAB: the function `complete -p` names, with the command, the word
    // and the word before it.
    let probe = r#"
source "$1" || exit 3
fn=$(complete -p stockade | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
[ -n "$fn" ] || exit 4
complete_words() {
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    "$fn" stockade "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s\n' "${COMPREPLY[*]}"
}
complete_words stockade --mem
complete_words stockade image ""
complete_words stockade st
complete_words stockade exec web --ch
"#;
    let out = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", probe, "bash"])
        .arg(&script)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let replies: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(replies.len(), 4, "{stdout}");
    assert!(replies[0].contains(&"--memory"), "{stdout}");
    assert!(
        replies[0].iter().all(|w| w.starts_with("--mem")),
        "{stdout}"
    );
    assert!(replies[1].contains(&"import"), "{stdout}");
    for verb in ["list", "rm", "gc"] {
        assert!(replies[1].contains(&verb), "{verb}: {stdout}");
    }
    assert!(replies[2].contains(&"start"), "{stdout}");
    assert!(replies[2].contains(&"stop"), "{stdout}");
    assert_eq!(replies[3], ["--chdir"], "{stdout}");
}

/// Every shell's script is made, and names the command.
#[test]
fn completion_scripts_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.contains("stockade"), "{shell}");
        assert!(script.contains("--memory"), "{shell}");
    }
}

/// Errors from the library speak the command line's options, not the
/// builder's methods and fields.
#[test]
fn setup_errors_name_the_option_typed() {
    as_each_identity(|| {
        let root = tempfile::tempdir_in("/tmp").unwrap();
        std::fs::create_dir(root.path().join("dev")).unwrap();
        let root_s = root.path().to_str().unwrap().to_owned();
        for (args, wants) in [
            (
                &["--tmpfs", "/", "true"][..],
                &["--tmpfs cannot target `/`", "--rootfs DIR"][..],
            ),
            (
                &["--dev-bind", "/no/such", "/dev/x", "true"],
                &["--dev-bind source \"/no/such\""],
            ),
            (
                &["--bind", "/no/such", "/x", "true"],
                &["--bind source", "--bind-try skips a missing source"],
            ),
            (
                &["--memory", "0", "true"],
                &["invalid --memory: must be greater than zero"],
            ),
            (
                &["--swap", "1M", "true"],
                &["invalid --swap: needs --memory to be set"],
            ),
            (&["--pids", "0", "true"], &["invalid --pids"]),
            (
                &["--ro-bind", "/etc/shadow", "/x", "true"],
                &[
                    "--ro-bind source \"/etc/shadow\"",
                    "unless --expose-host-secrets is given",
                ],
            ),
            (
                &["--rootfs", &root_s, "/bin/true"],
                &[
                    &format!(
                        "--rootfs {root_s}: the root is read-only and lacks {root_s}/proc, {root_s}/tmp,"
                    ),
                    &format!("(mkdir {root_s}/proc {root_s}/tmp), or add --writable-root"),
                ],
            ),
        ] {
            let out = run(args);
            assert_eq!(out.status.code(), Some(125), "{args:?}");
            let err = text(&out.stderr);
            assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
            for want in wants {
                assert!(err.contains(want), "{args:?}: wants {want:?}: {err}");
            }
            for library in [
                "Sandbox::",
                "cgroup::Config",
                "bind_rw",
                "bind_ro",
                "bind_dev",
                "_max",
                "filesystem operation #",
            ] {
                assert!(
                    !err.contains(library),
                    "{args:?}: the library's word {library}: {err}"
                );
            }
        }
    });
}

/// The JSON report never mixes with the program's output: on stderr it
/// starts a line of its own after a partial last line; `--json-fd` and
/// `--json-file` put it elsewhere entirely.
#[test]
fn json_report_stays_apart_from_the_program_output() {
    as_each_identity(|| {
        let out = run(&["--json", "sh", "-c", "printf partial >&2"]);
        assert!(out.status.success());
        let err = text(&out.stderr);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines[0], "partial", "{err}");
        assert!(
            lines.last().unwrap().starts_with("{\"status\":\"exited\""),
            "{err}"
        );

        let dir = tempfile::tempdir_in("/tmp").unwrap();
        let world = std::os::unix::fs::PermissionsExt::from_mode(0o777);
        std::fs::set_permissions(dir.path(), world).unwrap();
        let file = dir.path().join("report.json");
        let out = run(&[
            "--json-file",
            file.to_str().unwrap(),
            "sh",
            "-c",
            "echo out; printf partial >&2",
        ]);
        assert!(out.status.success());
        assert_eq!(text(&out.stdout), "out\n");
        assert_eq!(text(&out.stderr), "partial");
        let report = std::fs::read_to_string(&file).unwrap();
        assert!(
            report.starts_with("{\"status\":\"exited\",\"code\":0"),
            "{report}"
        );
        assert!(
            report.ends_with("}\n") && report.lines().count() == 1,
            "{report}"
        );

        // --json-fd 3: the shell opens it; the program never sees it.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "exec 3>'{}'; exec '{}' --json-fd 3 sh -c 'test -e /proc/$$/fd/3 && echo open || echo closed; printf partial >&2'",
                file.display(),
                cli().display()
            ))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "partial");
        assert_eq!(
            text(&out.stdout),
            "closed\n",
            "the report's fd 3 in the sandbox"
        );
        let report = std::fs::read_to_string(&file).unwrap();
        assert!(
            report.starts_with("{\"status\":\"exited\",\"code\":0"),
            "{report}"
        );

        let out = run(&["--json-fd", "97", "true"]);
        assert_eq!(out.status.code(), Some(125));
        assert!(text(&out.stderr).contains("--json-fd 97: not an open file descriptor"));
        let out = run(&["--json-file", "/no/such/dir/r.json", "true"]);
        assert_eq!(out.status.code(), Some(125));
        assert!(text(&out.stderr).contains("--json-file /no/such/dir/r.json: failed to create it"));
    });
}

/// A memory limit that could only be an address-space rlimit, too small
/// for the program: the death by signal is explained, not silent.
#[test]
fn a_tiny_memory_rlimit_is_explained() {
    as_each_identity(|| {
        let out = run(&["--memory", "1", "--limits-best-effort", "--json", "true"]);
        let err = text(&out.stderr);
        if err.contains("\"rlimit_fallbacks\":[\"as\"]") {
            assert_eq!(out.status.code(), Some(128 + 11), "{err}");
            assert!(
                err.contains(
                    "--memory 1 could only be applied as each process's address-space limit"
                ),
                "{err}"
            );
        } else {
            // A memory cgroup held: the kernel's OOM killer, reported so.
            assert!(err.contains("\"status\":\"oom_killed\""), "{err}");
        }
    });
}

/// Without a delegated subtree (`--cgroup-parent`), a memory limit is
/// refused with advice, unless best effort is asked for.
#[test]
fn a_memory_limit_without_a_cgroup_parent_is_refused_or_approximated() {
    as_each_identity(|| {
        let out = run(&["--memory", "32M", "--json", "true"]);
        assert_eq!(out.status.code(), Some(125));
        let err = text(&out.stderr);
        assert!(err.contains("memory"), "{err}");
        assert!(err.contains("\"status\":\"setup_failed\""), "{err}");
        if err.contains("cgroup v1 hierarchy") {
            assert!(err.contains("Delegate=yes"), "{err}");
        }
        let out = run(&["--memory", "32M", "--limits-best-effort", "--json", "true"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(err.contains("\"not_enforced\":[\"memory.max\"]"), "{err}");
        assert!(err.contains("\"rlimit_fallbacks\":[\"as\"]"), "{err}");
    });
}

/// In a real cgroup v2 subtree the memory bomb is OOM-killed.
#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn cgroup_limits_on_the_command_line_in_a_delegated_cgroup() {
    as_each_identity(|| {
        let parent = common::delegated_cgroup();
        let out = run(&[
            "--cgroup-parent",
            parent.to_str().unwrap(),
            "--memory",
            "32M",
            "--pids",
            "16",
            "--cpus",
            "1",
            "--json",
            "--",
            "tail",
            "/dev/zero",
        ]);
        assert_eq!(out.status.code(), Some(128 + 9), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        let j = err.lines().last().unwrap();
        assert!(j.starts_with("{\"status\":\"oom_killed\""), "{j}");
        assert!(j.contains("\"peak_memory_whole_sandbox\":true"), "{j}");
        assert!(j.contains("\"memory.max\":\"33554432\""), "{j}");
        assert!(j.contains("\"pids.max\":\"16\""), "{j}");
    });
}

/// The kernel's Landlock ABI, probed independently of the crate.
fn landlock_abi() -> u32 {
    // SAFETY: landlock_create_ruleset(NULL, 0, VERSION) reads no memory.
    let v = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, 0usize, 0usize, 1usize) };
    if v > 0 { v as u32 } else { 0 }
}

#[test]
fn landlock_options_deny_every_other_path() {
    let abi = landlock_abi();
    if abi == 0 {
        common::skip("the kernel has no Landlock");
        return;
    }
    as_each_identity(|| {
        let t = tempfile::tempdir().unwrap();
        for d in ["a", "b", "denied"] {
            std::fs::create_dir(t.path().join(d)).unwrap();
        }
        std::fs::write(t.path().join("a/f"), "A").unwrap();
        std::fs::write(t.path().join("denied/s"), "S").unwrap();
        let work = t.path().to_str().unwrap();
        let mut args = vec!["--json", "--bind", work, "/work"];
        for dir in ["/usr", "/bin", "/lib", "/lib64", "/etc"] {
            if std::path::Path::new(dir).exists() {
                args.extend(["--landlock-ro", dir]);
            }
        }
        args.extend([
            "--landlock-ro",
            "/work/a",
            "--landlock-rw",
            "/work/b",
            "--landlock-rw",
            "/dev/null",
        ]);
        let script = "cat /work/a/f; echo; \
                      cat /work/denied/s 2>/dev/null || echo denied; \
                      cat /work/b/../denied/s 2>/dev/null || echo denied; \
                      (echo x > /work/a/new) 2>/dev/null || echo denied; \
                      echo x > /work/b/new && echo wrote";
        let with = |extra: &[&'static str]| {
            let mut a = args.clone();
            a.extend_from_slice(extra);
            a.extend(["sh", "-c", script]);
            run(&a)
        };
        let expected = "A\ndenied\ndenied\ndenied\nwrote\n";
        let out = with(&[]);
        let err = text(&out.stderr);
        if abi >= 5 {
            assert!(out.status.success(), "{err}");
            assert_eq!(text(&out.stdout), expected);
            let v: serde_json::Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
            let l = &v["enforcement"]["landlock"];
            assert_eq!(l["abi"], abi, "{v}");
            assert_eq!(l["status"], "fully_enforced", "{v}");
            assert_eq!(l["rights"]["fs_write"], "fully_enforced", "{v}");
            assert_eq!(l["rights"]["net_connect"], "not_requested", "{v}");
            assert_eq!(l["missing"], serde_json::json!([]), "{v}");
        } else {
            // The default rights include some this kernel lacks: a hard
            // requirement fails with a reason naming the missing right.
            assert_eq!(out.status.code(), Some(125), "{err}");
            assert!(
                err.contains("Landlock") && err.contains("Linux 6."),
                "{err}"
            );
            let out = with(&["--landlock-best-effort"]);
            let err = text(&out.stderr);
            assert!(out.status.success(), "{err}");
            assert_eq!(text(&out.stdout), expected);
            let v: serde_json::Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
            let l = &v["enforcement"]["landlock"];
            assert_eq!(l["status"], "partially_enforced", "{v}");
            assert_eq!(l["rights"]["fs_read"], "fully_enforced", "{v}");
            assert_ne!(l["missing"], serde_json::json!([]), "{v}");
        }
        assert!(!t.path().join("a/new").exists());
        assert_eq!(
            std::fs::read_to_string(t.path().join("b/new")).unwrap(),
            "x\n"
        );
    });
}

#[test]
fn seccomp_option_and_report() {
    as_each_identity(|| {
        let status = "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status | tr -s '\\t' ' '";
        let out = run(&["--json", "sh", "-c", status]);
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(text(&out.stdout), "NoNewPrivs: 1\nSeccomp: 2\n");
        let v: serde_json::Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
        let s = &v["enforcement"]["seccomp"];
        assert_eq!(s["profile"], "default", "{v}");
        assert!(s["rules"].as_u64().unwrap() > 200, "{v}");
        assert_eq!(s["default_action"], "errno(1)", "{v}");
        assert_eq!(s["unknown_syscall_action"], "errno(38)", "{v}");
        // `default` is the default; `none` turns the filter off.
        let out = run(&["--seccomp", "default", "sh", "-c", status]);
        assert_eq!(text(&out.stdout), "NoNewPrivs: 1\nSeccomp: 2\n");
        let out = run(&["--json", "--seccomp", "none", "sh", "-c", status]);
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(text(&out.stdout), "NoNewPrivs: 1\nSeccomp: 0\n");
        let v: serde_json::Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
        assert_eq!(v["enforcement"]["seccomp"], serde_json::Value::Null, "{v}");
        // The filter denies creating namespaces inside the sandbox.
        let out = run(&["sh", "-c", "unshare -U true"]);
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("unshare failed: Operation not permitted"),
            "{}",
            text(&out.stderr)
        );
        let out = run(&["--seccomp", "off", "true"]);
        assert_eq!(out.status.code(), Some(125));
    });
}

/// `--net-filter`: sockets other than AF_UNIX fail, no network namespace is
/// made, and `--json` says so; on kernels without Landlock ABI 6 the
/// sandbox cannot be set up (125) and the reason names the missing scope.
#[cfg(all(feature = "seccomp", feature = "landlock"))]
#[test]
fn net_filter_denies_sockets_and_reports_it() {
    as_each_identity(|| {
        let out = run(&[
            "--net-filter",
            "--json",
            "python3",
            "-c",
            "import socket\ntry:\n socket.socket()\nexcept OSError as e:\n print(e.errno)",
        ]);
        let err = text(&out.stderr);
        if out.status.code() == Some(125) {
            assert!(err.contains("abstract unix socket"), "{err}");
            eprintln!("no Landlock ABI 6 here: --net-filter refused, as it must be");
            return;
        }
        assert!(out.status.success(), "{err}");
        assert_eq!(text(&out.stdout).trim(), libc::EAFNOSUPPORT.to_string());
        let v: serde_json::Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
        assert_eq!(v["enforcement"]["net_filter"], true, "{v}");
        let namespaces = v["enforcement"]["namespaces"].as_array().unwrap();
        assert!(!namespaces.contains(&"net".into()), "{v}");
    });
}

/// Waits for `child` up to a bound that only guards against a hang; kills
/// it and returns `None` past the bound.
fn wait_bounded(child: &mut std::process::Child) -> Option<std::process::ExitStatus> {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        if std::time::Instant::now() > give_up {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Started with `SIGCHLD` ignored (a shell or a Python parent may leave it
/// so), the front end still sees its program end.
#[test]
fn ends_when_started_with_sigchld_ignored() {
    use std::os::unix::process::CommandExt;
    as_each_identity(|| {
        let mut cmd = std::process::Command::new(cli());
        cmd.args(["sh", "-c", "echo hi; exit 3"])
            .stdout(std::process::Stdio::piped());
        fn ignore_sigchld() -> std::io::Result<()> {
            // SAFETY: SIG_IGN installs no handler; signal(2) is
            // async-signal-safe.
            unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
            Ok(())
        }
        // SAFETY: the hook makes only an async-signal-safe call between
        // fork and exec.
        unsafe { cmd.pre_exec(ignore_sigchld) };
        let mut child = cmd.spawn().unwrap();
        let st = wait_bounded(&mut child);
        assert_eq!(
            st.and_then(|s| s.code()),
            Some(3),
            "the front end never saw its program end"
        );
    });
}

/// SIGTERM and SIGINT end the front end, after its sandbox, even when the
/// program ignores them: it ends by that signal (128+N in a shell), and
/// nothing of the sandbox is left.
#[test]
fn sigterm_and_sigint_end_the_sandbox_and_then_the_front_end() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    as_each_identity(|| {
        for sig in [libc::SIGTERM, libc::SIGINT] {
            // The token is the shell's $0, in its command line while it runs.
            let token = format!("stockade-cli-signal-{}-{sig}", std::process::id());
            let mut child = std::process::Command::new(cli())
                .args([
                    "sh",
                    "-c",
                    "trap '' INT TERM; echo ready; while :; do sleep 1; done",
                    &token,
                ])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            assert_eq!(line, "ready\n");
            // SAFETY: kill(2) of our own child, which has not been reaped.
            unsafe { libc::kill(child.id() as i32, sig) };
            let st = wait_bounded(&mut child);
            assert_eq!(
                st.and_then(|s| s.signal()),
                Some(sig),
                "signal {sig}: the front end did not end by it ({st:?})"
            );
            // It ended after its sandbox: the program is gone.
            let left: Vec<u32> = std::fs::read_dir("/proc")
                .unwrap()
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| c.windows(token.len()).any(|w| w == token.as_bytes()))
                        && common::pid_alive(*pid)
                })
                .collect();
            assert!(left.is_empty(), "signal {sig}: {left:?} still running");
        }
    });
}

/// `--ro-bind /etc /etc` keeps the host's secrets masked beneath the bind,
/// binding one of them is refused with a pointer to the opt-in, and
/// `--expose-host-secrets` is that opt-in.
#[test]
fn host_secrets_stay_masked_unless_exposed() {
    as_each_identity(|| {
        if !std::path::Path::new("/etc/shadow").is_file() {
            common::skip("no /etc/shadow on this host");
            return;
        }
        let probe = |p: &str| format!("cat {p} >/dev/null 2>&1 && echo READ || echo DENIED");
        let out = run(&[
            "--ro-bind",
            "/etc",
            "/etc",
            "sh",
            "-c",
            &probe("/etc/shadow"),
        ]);
        assert_eq!(text(&out.stdout), "DENIED\n", "{}", text(&out.stderr));
        let out = run(&["--ro-bind", "/etc/shadow", "/s", "true"]);
        assert_eq!(out.status.code(), Some(125));
        assert!(
            text(&out.stderr).contains("--expose-host-secrets"),
            "{}",
            text(&out.stderr)
        );
        let out = run(&[
            "--expose-host-secrets",
            "--ro-bind",
            "/etc/shadow",
            "/s",
            "sh",
            "-c",
            &probe("/s"),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        // Exposed, it is up to the kernel: root owns it, others may not.
        let expected = if common::is_root() {
            "READ\n"
        } else {
            "DENIED\n"
        };
        assert_eq!(text(&out.stdout), expected);
    });
}

#[test]
fn as_pid_1_makes_the_program_the_namespaces_init() {
    as_each_identity(|| {
        let out = run(&["--as-pid-1", "--", "sh", "-c", "echo $$"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "1\n");
        let out = run(&["--", "sh", "-c", "echo $$"]);
        assert_ne!(
            text(&out.stdout),
            "1\n",
            "without it, stockade's init is pid 1"
        );
        // A container's init is stockade's: refused, naming the option.
        let out = run(&["start", "pid1-refused", "--as-pid-1"]);
        assert_eq!(out.status.code(), Some(125));
        assert!(
            text(&out.stderr).contains("--as-pid-1"),
            "{}",
            text(&out.stderr)
        );
    });
}

#[test]
fn the_program_has_a_writable_home_unless_no_home() {
    as_each_identity(|| {
        let home = |args: &[&str]| {
            std::process::Command::new(cli())
                .args(args)
                .env("HOME", "/home/alice")
                .output()
                .unwrap()
        };
        let script = "echo $HOME; touch ~/.rc && echo writable || echo no-home";
        let out = home(&["--", "sh", "-c", script]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "/home/alice\nwritable\n");
        let out = home(&["--no-home", "--", "sh", "-c", script]);
        assert_eq!(text(&out.stdout), "/home/alice\nno-home\n");
    });
}

#[test]
fn sys_mounts_a_read_only_sysfs_and_needs_the_sandboxs_network() {
    as_each_identity(|| {
        let script = "stat -f -c %T /sys 2>/dev/null || echo none; ls /sys/class/net 2>/dev/null";
        let out = run(&["--", "sh", "-c", script]);
        assert_eq!(text(&out.stdout), "none\n", "{}", text(&out.stderr));
        let out = run(&["--sys", "--", "sh", "-c", script]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "sysfs\nlo\n");
        let out = run(&["--sys", "--share-net", "--", "true"]);
        assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("--sys") && text(&out.stderr).contains("--share-net"),
            "{}",
            text(&out.stderr)
        );
    });
}
