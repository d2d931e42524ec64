//! The command-line front end's `--pty` (src/bin/stockade), under a real
//! terminal: tmux runs a shell in a pane, the tests type into it
//! (`send-keys`) and read the screen (`capture-pane`), as a user at a
//! terminal emulator would.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::as_each_identity;
use common::cli_binary as cli;

const DEADLINE: Duration = Duration::from_secs(60);

/// `sh check.sh N PROGRAM [ARGS...]`: runs the program, then prints its
/// status and whether the terminal's settings are those saved before.
const CHECK: &str = r#"n=$1; shift
"$@"
echo "status=$? check$n"
if stty -g | cmp -s - stty.before; then echo "settings-$n-kept"; else echo "settings-$n-changed"; fi
"#;

/// Waits until job 1 is gone (`wait` returns at once for a stopped job).
const UNTIL_GONE: &str = "while kill -0 %1 2>/dev/null; do sleep 0.05; done";

/// A command line that waits until the terminal's size is `rows cols` (a
/// window change reaches the program through the front end, some time
/// after tmux made it), then prints `resized2`.
fn until_size(size: &str) -> String {
    format!("until [ \"$(stty size)\" = '{size}' ]; do sleep 0.05; done; echo resized$((1+1))")
}

/// A command line whose job prints `ready<TAG>` and then runs `sleep 100`
/// in its place. Its output comes once it has the terminal: an interactive
/// bash gives a foreground job the terminal before it executes it.
fn foreground_job(tag: &str) -> String {
    format!("sh -c 'echo rea\"\"dy{tag}; exec sleep 100'")
}

/// A tmux server of the test's own (its socket in a private directory)
/// with one window running an outer shell.
struct Tmux {
    tmux: PathBuf,
    dir: tempfile::TempDir,
    /// How many times the outer shell had prompted when the last run
    /// started.
    prompts: usize,
}

impl Tmux {
    fn start(tmux: &Path) -> Tmux {
        let dir = tempfile::Builder::new()
            .prefix("stockade-tmux")
            .tempdir_in("/tmp")
            .unwrap();
        let mut t = Tmux {
            tmux: tmux.to_owned(),
            dir,
            prompts: 0,
        };
        // The outer shell stays when the run inside it ends, so that its
        // status and the terminal's settings can be read after.
        t.ok(&[
            "new-session",
            "-d",
            "-x",
            "100",
            "-y",
            "30",
            "exec env PS1='outer$ ' bash --norc --noprofile --noediting -i",
        ]);
        t.wait_for("outer$ ", 1);
        // Each run goes through a script that then prints its status and
        // whether the terminal's settings are those from before: neither
        // it nor the shell it runs in restores them itself (an interactive
        // bash restores them after a job killed by a signal).
        std::fs::write(t.dir.path().join("check.sh"), CHECK).unwrap();
        t.keys("stty -g > stty.before; cd . ; echo $((1000+1))");
        t.wait_for("1001", 1);
        t.wait_for("outer$ ", 2);
        t.prompts = 2;
        t
    }

    fn cmd(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(&self.tmux)
            .arg("-S")
            .arg(self.dir.path().join("sock"))
            .args(["-f", "/dev/null"])
            .args(args)
            // tmux runs the pane's command through $SHELL, or else the
            // user's login shell, which for uid 65534 is nologin.
            .env("SHELL", "/bin/sh")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `line` and Enter in the outer shell, once it prompts.
    fn run(&mut self, line: &str) {
        self.wait_for("outer$ ", self.prompts);
        self.keys(line);
    }

    /// Types `line` and Enter.
    fn keys(&self, line: &str) {
        self.ok(&["send-keys", "-l", line]);
        self.ok(&["send-keys", "Enter"]);
    }

    /// Presses one key (tmux's name for it: `C-c`, `C-z`).
    fn key(&self, key: &str) {
        self.ok(&["send-keys", key]);
    }

    /// The screen and its history.
    fn screen(&self) -> String {
        self.ok(&["capture-pane", "-p", "-J", "-S", "-"])
    }

    /// Waits until `marker` appears `times` times on the screen.
    #[track_caller]
    fn wait_for(&self, marker: &str, times: usize) {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.matches(marker).count() >= times {
                return;
            }
            if start.elapsed() > DEADLINE {
                panic!("{marker:?} did not appear {times} times; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The pid of the front end the check script runs (the outer shell's
    /// grandchild).
    fn front_end(&self) -> u32 {
        let shell: u32 = self
            .ok(&["display-message", "-p", "#{pane_pid}"])
            .trim()
            .parse()
            .unwrap();
        let child_of = |pid: u32| -> u32 {
            let start = Instant::now();
            loop {
                let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                    .unwrap_or_default();
                if let Some(c) = children.split_whitespace().next() {
                    return c.parse().unwrap();
                }
                assert!(start.elapsed() < DEADLINE, "nothing runs under {pid}");
                std::thread::sleep(Duration::from_millis(50));
            }
        };
        child_of(child_of(shell))
    }

    /// Checks what the check script of run `n` printed: the front end's
    /// status, and that the terminal's settings are what they were before.
    #[track_caller]
    fn assert_status_and_restored(&mut self, status: i32, n: usize) {
        self.wait_for(&format!("status={status} check{n}"), 1);
        self.wait_for(&format!("settings-{n}-"), 1);
        let screen = self.screen();
        assert!(
            screen.contains(&format!("settings-{n}-kept")),
            "the terminal's settings were not restored; screen:\n{screen}"
        );
        self.prompts += 1;
        self.wait_for("outer$ ", self.prompts);
    }
}

impl Drop for Tmux {
    /// Ends the server and waits (up to 10 s) until it and the processes
    /// of its panes are gone: they are not this test's children, and what
    /// outlives the test binary counts as a leak.
    fn drop(&mut self) {
        let mut pids: Vec<u32> = String::from_utf8_lossy(
            &self
                .cmd(&["list-panes", "-a", "-F", "#{pid} #{pane_pid}"])
                .stdout,
        )
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
        // And everything running beneath them.
        let mut i = 0;
        while let Some(&p) = pids.get(i) {
            let children =
                std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
            pids.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
            i += 1;
        }
        pids.sort_unstable();
        pids.dedup();
        let _ = self.cmd(&["kill-server"]);
        let start = Instant::now();
        while pids.iter().any(|&p| common::pid_alive(p)) && start.elapsed() < DEADLINE / 2 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A shell under `stockade --pty`, typed into as a user would: its own
/// terminal, window size changes, job control with ^C and ^Z acting on the
/// sandboxed job (not on stockade), and the outer terminal restored with
/// the program's exit status.
#[test]
fn pty_shell_with_job_control_under_a_real_terminal() {
    as_each_identity(|| {
        let Some(tmux) = common::debian_package("tmux", "tmux") else {
            return;
        };
        let mut t = Tmux::start(&tmux);
        let cli = cli();
        t.run(&format!(
            "sh check.sh 1 {} -t --setenv PS1 'in> ' -- bash --norc --noprofile --noediting -i",
            cli.display()
        ));
        t.wait_for("in> ", 1);
        t.keys("tty; echo $((2000+1))");
        t.wait_for("2001", 1);
        assert!(t.screen().contains("/dev/pts/0\n"), "{}", t.screen());
        t.keys("stty size");
        t.wait_for("30 100", 1);
        t.ok(&["resize-window", "-x", "120", "-y", "40"]);
        t.keys(&until_size("40 120"));
        t.wait_for("resized2", 1);
        // ^Z stops the sandboxed job, and the shell inside takes over: the
        // outer shell does not come back (stockade was not stopped). A job
        // says it runs once it has the terminal (bash gives it before it
        // executes the job), so the key is not typed before.
        t.keys(&foreground_job("Z"));
        t.wait_for("readyZ", 1);
        t.key("C-z");
        t.wait_for("Stopped", 1);
        t.keys("jobs; echo $((3000+1))");
        t.wait_for("3001", 1);
        assert_eq!(t.screen().matches("outer$ ").count(), 2, "{}", t.screen());
        // Killed (bash's kill continues a stopped job it signals); once
        // it is gone, bash tells of its end.
        t.keys(&format!("kill %1; {UNTIL_GONE}; jobs; echo $((4000+1))"));
        t.wait_for("4001", 1);
        t.wait_for("Terminated", 1);
        // ^C interrupts the foreground job.
        t.keys(&foreground_job("C"));
        t.wait_for("readyC", 1);
        t.key("C-c");
        t.keys("echo $((100+$?))");
        t.wait_for("230", 1);
        // A background job, brought back with fg and interrupted once it
        // has the terminal (it watches its own process group become the
        // terminal's).
        t.keys(
            "sh -c 'while :; do read -r _ _ _ _ pg _ _ tp _ < /proc/self/stat; \
             [ \"$pg\" = \"$tp\" ] && break; sleep 0.05; done; echo fore\"\"groundF; \
             exec sleep 100' &",
        );
        t.keys("fg");
        t.wait_for("foregroundF", 1);
        t.key("C-c");
        t.keys("echo $((200+$?))");
        t.wait_for("330", 1);
        t.keys("exit 3");
        t.assert_status_and_restored(3, 1);
    });
}

/// An ending signal to stockade (SIGTERM, SIGHUP, SIGINT from outside)
/// ends the program, and stockade restores the terminal before it ends by
/// that signal.
#[test]
fn pty_terminal_restored_when_stockade_is_signalled() {
    as_each_identity(|| {
        let Some(tmux) = common::debian_package("tmux", "tmux") else {
            return;
        };
        let mut t = Tmux::start(&tmux);
        let cli = cli();
        for (n, sig) in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT]
            .into_iter()
            .enumerate()
        {
            t.run(&format!(
                "sh check.sh {n} {} -t -- sh -c 'echo rea\"\"dy{n}; exec sleep 100'",
                cli.display()
            ));
            t.wait_for(&format!("ready{n}"), 1);
            let pid = t.front_end();
            // SAFETY: kill(2) of a process of this test.
            assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
            t.assert_status_and_restored(128 + sig, n);
        }
    });
}

/// `stockade exec NAME --pty` into a started container: the program's
/// terminal is the container's, relayed the same way.
#[test]
fn pty_exec_into_a_container_under_a_real_terminal() {
    as_each_identity(|| {
        let Some(tmux) = common::debian_package("tmux", "tmux") else {
            return;
        };
        let runtime = tempfile::Builder::new()
            .prefix("sx")
            .tempdir_in("/tmp")
            .unwrap();
        let name = format!("pty-{}", std::process::id());
        let cli = cli();
        let run = |args: &[&str]| {
            let out = std::process::Command::new(&cli)
                .args(args)
                .env("XDG_RUNTIME_DIR", runtime.path())
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
        };
        run(&["start", &name]);
        // Killed however the test ends (declared before the runtime
        // directory's removal reaches it: dropped first).
        struct Kill<'a>(&'a Path, &'a Path, &'a str);
        impl Drop for Kill<'_> {
            fn drop(&mut self) {
                let _ = std::process::Command::new(self.0)
                    .args(["kill", self.2])
                    .env("XDG_RUNTIME_DIR", self.1)
                    .stdin(Stdio::null())
                    .output();
            }
        }
        let _kill = Kill(&cli, runtime.path(), &name);
        let mut t = Tmux::start(&tmux);
        t.run(&format!(
            "XDG_RUNTIME_DIR={} sh check.sh 1 {} exec {name} -t --setenv PS1 'in> ' -- bash --norc --noprofile --noediting -i",
            runtime.path().display(),
            cli.display()
        ));
        t.wait_for("in> ", 1);
        t.keys("tty; echo $((2000+1))");
        t.wait_for("2001", 1);
        assert!(t.screen().contains("/dev/pts/"), "{}", t.screen());
        t.ok(&["resize-window", "-x", "90", "-y", "20"]);
        t.keys(&until_size("20 90"));
        t.wait_for("resized2", 1);
        t.keys(&foreground_job("Z"));
        t.wait_for("readyZ", 1);
        t.key("C-z");
        t.wait_for("Stopped", 1);
        t.keys(&format!("kill -9 %1; {UNTIL_GONE}; exit 5"));
        t.assert_status_and_restored(5, 1);
        run(&["stop", &name]);
        drop(t);
    });
}

/// `--pty` without a terminal on standard input: a usage error naming
/// `--pty`, and nothing runs.
#[test]
fn pty_needs_a_terminal_on_stdin() {
    for args in [&["-t", "true"][..], &["exec", "nosuch", "--pty", "true"]] {
        let out = std::process::Command::new(cli())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{err}");
        assert!(
            err.starts_with("stockade: option --pty needs standard input to be a terminal"),
            "{err}"
        );
    }
}
