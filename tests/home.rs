//! The program's private home: it exists, is writable and empty, belongs to
//! the program, is its own for each sandbox (shared by a container's execs),
//! holds nothing of the caller's home, and steps aside for a policy that
//! takes the path over.

mod common;

use std::path::Path;

use common::{as_each_identity, run, sh};
use stockade::{Command, Sandbox};

/// Runs `script` with `HOME` set to `home` in the caller's environment (the
/// sandbox takes its home's path from there when the policy is compiled, so
/// each call builds a fresh policy).
fn run_with_home(sb: &Sandbox, home: &str, script: &str) -> (i32, String, String) {
    temp_env(home, || {
        let (st, out, err) = run(sb, script);
        (st.code().unwrap_or(-1), out, err)
    })
}

/// Runs `cmd` in `sb`: (status, stdout, stderr).
fn run_cmd(sb: &Sandbox, cmd: &mut Command) -> (stockade::ExitStatus, String, String) {
    let out = sb
        .output(cmd)
        .unwrap_or_else(|e| panic!("spawn failed: {}", common::chain(&e)));
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `f` with the caller's `HOME` set to `home`.
fn temp_env<T>(home: &str, f: impl FnOnce() -> T) -> T {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let old = std::env::var_os("HOME");
    // SAFETY: serialized by LOCK among this file's tests; the library reads
    // the environment only through std, whose accesses take std's own
    // environment lock, and nothing in this process reads it from C.
    unsafe { std::env::set_var("HOME", home) };
    let r = f();
    match old {
        // SAFETY: as above.
        Some(v) => unsafe { std::env::set_var("HOME", v) },
        // SAFETY: as above.
        None => unsafe { std::env::remove_var("HOME") },
    }
    r
}

#[test]
fn the_program_gets_a_private_writable_empty_home() {
    as_each_identity(|| {
        // A caller's home with something in it: none of it may show. (Not
        // under /tmp: that would be a directory the view provides. Where
        // /var/tmp cannot be written, as in the VM, whose host files are
        // read-only, a home the host does not have.)
        let host = tempfile::tempdir_in("/var/tmp").ok();
        let home = match &host {
            Some(h) => {
                let home = h.path().join("alice");
                std::fs::create_dir(&home).unwrap();
                std::fs::write(home.join(".secret"), "the caller's").unwrap();
                home
            }
            None => {
                std::path::PathBuf::from(format!("/var/tmp/stockade-home-{}", std::process::id()))
            }
        };
        let home_s = home.to_str().unwrap().to_owned();
        let sb = Sandbox::new();
        let script = r#"
            echo "HOME=$HOME"
            [ "$HOME" = "$EXPECT" ] || echo "WRONG HOME"
            stat -c 'mode=%a owner=%u:%g' "$HOME"
            echo "uid=$(id -u):$(id -g)"
            ls -A "$HOME" | sed 's/^/ENTRY /'
            git_like="$HOME/.config/tool"; mkdir -p "$git_like" && echo v > "$git_like/conf" && echo wrote
            mkdir -p ~/.cache/x && echo cached
        "#;
        let (code, out, err) = temp_env(&home_s, || {
            let (st, out, err) = run_cmd(&sb, sh(script).env("EXPECT", &home_s));
            (st.code().unwrap_or(-1), out, err)
        });
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains(&format!("HOME={home_s}")), "{out}");
        assert!(!out.contains("WRONG HOME"), "{out}");
        assert!(!out.contains("ENTRY"), "the home was not empty: {out}");
        assert!(
            out.contains("wrote") && out.contains("cached"),
            "{out}{err}"
        );
        let uid = out
            .lines()
            .find_map(|l| l.strip_prefix("uid="))
            .unwrap()
            .to_owned();
        assert!(
            out.contains(&format!("mode=700 owner={uid}")),
            "the home is not the program's own: {out}"
        );
        // Nothing reached the caller's home.
        assert!(!home.join(".config").exists() && !home.join(".cache").exists());
        if host.is_some() {
            assert_eq!(
                std::fs::read_to_string(home.join(".secret")).unwrap(),
                "the caller's"
            );
        }
    });
}

#[test]
fn each_sandbox_gets_its_own_home_and_a_containers_execs_share_one() {
    as_each_identity(|| {
        temp_env("/home/alice", || {
            // The same policy twice (the second spawn uses its template):
            // the second sandbox does not see what the first wrote.
            let sb = Sandbox::new();
            for round in 0..3 {
                let (st, out, err) = run(&sb, "ls -A ~; echo $$ > ~/mark");
                assert!(st.success(), "{out}{err}");
                assert_eq!(out, "", "round {round}: the home held {out:?}");
            }
            let c = sb.start().unwrap();
            let st = c.status(&mut sh("echo kept > ~/mark")).unwrap();
            assert!(st.success());
            let out = c.output(&mut sh("cat ~/mark")).unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), "kept\n");
        });
    });
}

#[test]
fn the_home_falls_back_where_home_cannot_serve_and_steps_aside_when_taken() {
    as_each_identity(|| {
        // HOME naming a directory the view provides, the root, nothing, or
        // a relative path: the home is /home/sandbox, and HOME says so.
        for home in ["/", "/tmp", "/usr/local", "/etc", "relative", ""] {
            let (code, out, err) = run_with_home(
                &Sandbox::new(),
                home,
                "echo \"$HOME\"; touch \"$HOME/x\" && echo writable",
            );
            assert_eq!(code, 0, "HOME={home:?}: {out}{err}");
            assert_eq!(out, "/home/sandbox\nwritable\n", "HOME={home:?}");
        }
        // The command's own HOME wins over the private home's path (the
        // home is still mounted where the policy put it).
        let sb = Sandbox::new();
        let (st, out, err) = temp_env("/home/alice", || {
            run_cmd(
                &sb,
                sh("echo \"$HOME\"; test -w /home/alice && echo mounted").env("HOME", "/elsewhere"),
            )
        });
        assert!(st.success(), "{out}{err}");
        assert_eq!(out, "/elsewhere\nmounted\n");
        // Switched off: no home is made; the default view has no /home.
        let mut off = Sandbox::new();
        off.private_home(false);
        let (code, out, _) =
            run_with_home(&off, "/home/alice", "test -e /home/alice || echo absent");
        assert_eq!((code, out.as_str()), (0, "absent\n"));
        // A policy that binds into the home has taken it over: the bind is
        // there, and no tmpfs was put beneath it or over it.
        let proj = tempfile::tempdir().unwrap();
        std::fs::write(proj.path().join("README"), "project").unwrap();
        let mut taken = Sandbox::new();
        taken.bind_ro(proj.path(), "/home/alice/src");
        let (code, out, err) = run_with_home(
            &taken,
            "/home/alice",
            "cat ~/src/README; echo; touch ~/x 2>/dev/null && echo WRITABLE || echo read-only",
        );
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(out, "project\nread-only\n");
        assert!(!Path::new("/home/alice/x").exists());
    });
}

#[test]
fn a_custom_root_gets_no_private_home() {
    as_each_identity(|| {
        let mut sb = Sandbox::new();
        sb.root_dir("/");
        let (code, out, err) = run_with_home(
            &sb,
            "/nonexistent-stockade-home",
            "test -e /nonexistent-stockade-home && echo MADE || echo none",
        );
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(out, "none\n");
    });
}

/// Landlock rules that mirror the mount plan grant the home as writable,
/// like `/tmp`.
#[cfg(feature = "landlock")]
#[test]
fn landlock_mirroring_the_mounts_lets_the_program_write_its_home() {
    // SAFETY: landlock_create_ruleset(NULL, 0, VERSION) reads no memory.
    let abi = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, 0usize, 0usize, 1usize) };
    if abi <= 0 {
        common::skip("the kernel has no Landlock");
        return;
    }
    as_each_identity(|| {
        // Best effort for the rights an older kernel lacks (truncate is
        // Landlock ABI 3).
        let mut compat = stockade::landlock::Policy::new();
        compat.fs_compat(stockade::CompatLevel::BestEffort);
        let mut sb = Sandbox::new();
        sb.landlock(compat).landlock_mirror_fs(true);
        let (code, out, err) = run_with_home(
            &sb,
            "/home/alice",
            "echo x > ~/f && cat ~/f; echo y > /home/f 2>/dev/null || echo denied",
        );
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(out, "x\ndenied\n", "{err}");
    });
}
