//! `stockade --remote-action`: the command line as a remote-execution
//! worker's entrypoint (NativeLink's), driven the way the worker drives it:
//! the action's argv after it, the action's environment plus the
//! `STOCKADE_*` variables the worker maps from platform properties, the
//! working directory inside the action directory, and a side-channel file
//! for a timeout.

mod common;

use std::path::Path;
use std::process::Output;

use common::as_each_identity;
use common::cli_binary as cli;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// An action directory the identity running the test owns, with a work
/// subdirectory the action runs in.
fn action_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    std::fs::create_dir(dir.path().join("work")).unwrap();
    std::fs::write(dir.path().join("work/input.txt"), "from the input root\n").unwrap();
    dir
}

fn action(dir: &Path, env: &[(&str, &str)], argv: &[&str]) -> Output {
    let mut c = std::process::Command::new(cli());
    c.arg("--remote-action")
        .arg("--")
        .args(argv)
        .current_dir(dir.join("work"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("ACTION_VAR", "kept")
        .env("STOCKADE_ACTION_DIRECTORY", dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn an_action_keeps_its_environment_and_directory_and_nothing_else() {
    as_each_identity(|| {
        let dir = action_dir();
        let out = action(
            dir.path(),
            &[("STOCKADE_NETWORK", "none")],
            &[
                "sh",
                "-c",
                "pwd; cat input.txt; echo \"$ACTION_VAR\"; env | grep -c '^STOCKADE_' ; \
                 echo out > ../output.txt && echo wrote; \
                 ( echo x > /etc/probe ) 2>/dev/null || echo etc-refused; \
                 cat /etc/shadow >/dev/null 2>&1 || echo shadow-refused; \
                 tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
            ],
        );
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            lines,
            [
                dir.path().join("work").to_str().unwrap(),
                "from the input root",
                "kept",
                "0",
                "wrote",
                "etc-refused",
                "shadow-refused",
                "lo",
            ],
            "{}",
            text(&out.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("output.txt")).unwrap(),
            "out\n"
        );
    });
}

#[test]
fn a_timeout_is_reported_through_the_side_channel() {
    as_each_identity(|| {
        let dir = action_dir();
        let side = dir.path().join("side-channel.json");
        let out = action(
            dir.path(),
            &[
                ("STOCKADE_TIMEOUT_MS", "300"),
                ("STOCKADE_SIDE_CHANNEL_FILE", side.to_str().unwrap()),
            ],
            &["sleep", "30"],
        );
        assert_eq!(out.status.code(), Some(124), "{}", text(&out.stderr));
        assert_eq!(
            std::fs::read_to_string(&side).unwrap(),
            "{\"failure\":\"timeout\"}\n"
        );
        // No timeout, no side-channel word.
        let side2 = dir.path().join("side-channel-2.json");
        let out = action(
            dir.path(),
            &[
                ("STOCKADE_TIMEOUT_MS", "30000"),
                ("STOCKADE_SIDE_CHANNEL_FILE", side2.to_str().unwrap()),
            ],
            &["true"],
        );
        assert!(out.status.success());
        assert!(!side2.exists());
    });
}

#[test]
fn bad_variables_are_named_and_options_after_the_flag_win() {
    as_each_identity(|| {
        let dir = action_dir();
        for (name, value) in [
            ("STOCKADE_MEMORY", "lots"),
            ("STOCKADE_TIMEOUT_MS", "-1"),
            ("STOCKADE_NETWORK", "everywhere"),
            ("STOCKADE_PIDS", "many"),
        ] {
            let out = action(dir.path(), &[(name, value)], &["true"]);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(125), "{name}: {err}");
            assert!(
                err.starts_with(&format!("stockade: {name}={value}: ")),
                "{name}: {err}"
            );
            assert_eq!(err.lines().count(), 1, "{err}");
        }
        // --net host given after the flag wins over STOCKADE_NETWORK=none.
        let mut c = std::process::Command::new(cli());
        c.args(["--remote-action", "--net", "host", "--", "sh", "-c"])
            .arg("tail -n +3 /proc/net/dev | wc -l")
            .current_dir(dir.path().join("work"))
            .env("STOCKADE_ACTION_DIRECTORY", dir.path())
            .env("STOCKADE_NETWORK", "none");
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let host_interfaces = std::fs::read_to_string("/proc/net/dev")
            .unwrap()
            .lines()
            .count()
            - 2;
        assert_eq!(
            text(&out.stdout).trim(),
            host_interfaces.to_string(),
            "the host's interfaces"
        );
    });
}
