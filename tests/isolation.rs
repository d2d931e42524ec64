//! The isolation ladder and the diagnosis of what refuses namespaces, from
//! the command line, each cause reproduced for real: a private user
//! namespace whose `user.max_user_namespaces` is 0, user namespaces nested
//! as deep as the kernel allows, and a /proc with a path mounted over (what
//! a container runtime's masked paths do). tests/pod.rs covers the seccomp
//! profiles of container runtimes.

mod common;

use std::process::Output;

use common::as_each_identity;
use common::cli_binary as cli;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `script` under `sh -c` in a new user namespace where this uid is
/// root (`unshare -Urm`), with `$S` the stockade binary.
fn in_userns(script: &str) -> Output {
    std::process::Command::new("unshare")
        .args(["-Urm", "sh", "-c", script])
        .env("S", cli())
        .output()
        .unwrap()
}

/// The report's `"rung":"..."` (the JSON report is stderr's last line).
fn rung(stderr: &str) -> Option<String> {
    let line = stderr.lines().rev().find(|l| l.starts_with('{'))?;
    let at = line.find("\"rung\":\"")? + 8;
    Some(line[at..].split('"').next()?.to_owned())
}

/// Whether this identity may make a user namespace at all (the tests
/// below need one to stand in).
fn userns_available() -> bool {
    let ok = std::process::Command::new("unshare")
        .args(["-Ur", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        common::skip("user namespaces are unavailable to this uid");
    }
    ok
}

#[test]
fn max_user_namespaces_zero_is_named_and_the_ladder_steps_past_it() {
    as_each_identity(|| {
        if !userns_available() {
            return;
        }
        let out = in_userns("echo 0 > /proc/sys/user/max_user_namespaces && exec \"$S\" true");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("user namespaces are disabled (user.max_user_namespaces=0)")
                && err.contains("--isolation best-available"),
            "{err}"
        );
        // Root of its own user namespace, the caller has CAP_SYS_ADMIN
        // there: the other namespaces still hold.
        let out = in_userns(
            "echo 0 > /proc/sys/user/max_user_namespaces && \
             exec \"$S\" --isolation best-available --json sh -c 'echo $$; hostname'",
        );
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(rung(&err).as_deref(), Some("no_user_namespace"), "{err}");
        assert!(err.contains("\"refused\":[{\"rung\":\"namespaces\",\"reason\":\"failed to create a user namespace: user namespaces are disabled"), "{err}");
        // A pid namespace of its own: the program is pid 2.
        assert_eq!(text(&out.stdout).lines().next(), Some("2"), "{err}");
    });
}

#[test]
fn nesting_as_deep_as_the_kernel_allows_is_named() {
    as_each_identity(|| {
        if !userns_available() {
            return;
        }
        // Each level a user namespace of the one before, until the kernel
        // refuses (32 deep at most): stockade then runs where no deeper one
        // can be made.
        let script = "#!/bin/sh\n\
            N=$((${N:-0} + 1)); export N; [ $N -gt 40 ] && exit 9\n\
            unshare -Ur true 2>/dev/null && exec unshare -Ur \"$0\"\n\
            exec \"$S\" true\n";
        let file = tempfile::Builder::new()
            .suffix(".sh")
            .tempfile_in("/tmp")
            .unwrap()
            .into_temp_path();
        std::fs::write(&file, script).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let out = std::process::Command::new(&*file)
            .env("S", cli())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{err}");
        assert!(
            err.contains("32 user namespaces deep") || err.contains("nest at most 32 deep"),
            "{err}"
        );
    });
}

#[test]
fn a_proc_with_paths_mounted_over_is_named_and_the_ladder_uses_the_callers() {
    as_each_identity(|| {
        if !userns_available() {
            return;
        }
        // A user namespace's own mount namespace, /proc/kcore hidden as a
        // container runtime hides it.
        let hidden: Vec<&str> = [
            "/proc/kcore",
            "/proc/keys",
            "/proc/timer_list",
            "/proc/sched_debug",
        ]
        .into_iter()
        .filter(|p| std::path::Path::new(p).exists())
        .take(2)
        .collect();
        assert!(!hidden.is_empty(), "no /proc path to hide");
        let hide = hidden
            .iter()
            .map(|p| format!("mount --bind /dev/null {p}"))
            .collect::<Vec<_>>()
            .join(" && ");
        let out = in_userns(&format!("{hide} && exec \"$S\" true"));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{err}");
        assert!(
            err.contains("failed to mount a fresh /proc for the sandbox's pid namespace")
                && err.contains(&format!("mounted over: {}", hidden.join(", ")))
                && err.contains("--isolation best-available"),
            "{err}"
        );
        let out = in_userns(&format!(
            "{hide} && exec \"$S\" --isolation best-available --json sh -c 'test -r /proc/self/status && echo proc'"
        ));
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(text(&out.stdout), "proc\n", "{err}");
        assert_eq!(rung(&err).as_deref(), Some("host_proc"), "{err}");
    });
}

/// Strict is the default: nothing steps down unless asked, and a policy
/// the host allows runs on the top rung, reported as such.
#[test]
fn strict_is_the_default_and_the_top_rung_is_reported() {
    as_each_identity(|| {
        let out = std::process::Command::new(cli())
            .args(["--json", "true"])
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(
            err.contains(
                "\"isolation\":{\"mode\":\"strict\",\"rung\":\"namespaces\",\"refused\":[]}"
            ),
            "{err}"
        );
        let out = std::process::Command::new(cli())
            .args(["--isolation", "best-available", "--json", "true"])
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(
            err.contains(
                "\"isolation\":{\"mode\":\"best_available\",\"rung\":\"namespaces\",\"refused\":[]}"
            ),
            "{err}"
        );
        let out = std::process::Command::new(cli())
            .args(["--isolation", "sometimes", "true"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(125));
        assert!(text(&out.stderr).contains("--isolation"));
    });
}
