//! Terminals (`Command::pty`): an interactive shell driven through the
//! master side behaves as in a terminal emulator: `tty`, window size
//! changes, job control (`&`, `jobs`, `fg`, `^C`, `^Z`, `kill %1`), for a
//! sandbox's first program, for an exec into a container, and through the
//! tokio handles.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use common::{as_each_identity, chain};
use stockade::pty::{Pty, WindowSize};
use stockade::{Command, Error, Sandbox, Stdio};

/// How long any single expectation may take.
const DEADLINE: Duration = Duration::from_secs(60);

/// An expect-like driver of a terminal's master: everything read is kept
/// as the transcript, which a failed expectation prints.
struct Term {
    pty: Pty,
    transcript: Vec<u8>,
    /// Where the next expectation starts looking.
    seen: usize,
}

impl Term {
    fn new(pty: Pty) -> Term {
        Term {
            pty,
            transcript: Vec::new(),
            seen: 0,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.pty.write_all(bytes).expect("write to the terminal");
    }

    /// Reads until `marker` appears after what earlier expectations
    /// consumed, or fails with the transcript.
    fn expect(&mut self, marker: &str) {
        let start = Instant::now();
        loop {
            let text = &self.transcript[self.seen..];
            if let Some(at) = find(text, marker.as_bytes()) {
                self.seen += at + marker.len();
                return;
            }
            let left = DEADLINE.saturating_sub(start.elapsed());
            if left.is_zero() || !self.read_some(left) {
                panic!(
                    "{marker:?} did not appear within {DEADLINE:?}; transcript:\n{}",
                    String::from_utf8_lossy(&self.transcript).replace('\r', "")
                );
            }
        }
    }

    /// Reads what is there within `wait`; false at the end of the terminal.
    fn read_some(&mut self, wait: Duration) -> bool {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let ms = PollTimeout::try_from(wait.as_millis().min(60_000) as i32).unwrap();
        let mut pfd = [PollFd::new(self.pty.as_fd(), PollFlags::POLLIN)];
        match poll(&mut pfd, ms) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(nix::Error::EINTR) => return true,
            Err(e) => panic!("poll: {e}"),
        }
        let mut buf = [0u8; 4096];
        match self.pty.read(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                self.transcript.extend_from_slice(&buf[..n]);
                true
            }
            Err(e) => panic!("read from the terminal: {e}"),
        }
    }

    /// Reads until the program has closed the terminal.
    fn expect_end(&mut self) {
        let start = Instant::now();
        while self.read_some(DEADLINE) {
            assert!(
                start.elapsed() < DEADLINE,
                "the terminal stayed open; transcript:\n{}",
                String::from_utf8_lossy(&self.transcript).replace('\r', "")
            );
        }
    }

    fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.transcript).into_owned()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// An interactive bash without start-up files or line editing, with a
/// prompt the expectations look for.
fn bash() -> Command {
    let mut cmd = Command::new("bash");
    cmd.args(["--norc", "--noprofile", "--noediting", "-i"])
        .env("PS1", "pty> ")
        .pty(WindowSize::new(24, 80));
    cmd
}

/// A foreground job that says when it runs (the typed line echoes
/// `rea""dy`, only the job prints `ready`), then sleeps.
const FOREGROUND_SLEEP: &[u8] = b"sh -c 'echo rea\"\"dy; exec sleep 100'\n";

/// Drives an interactive shell through every terminal behaviour the tests
/// show, then ends it.
fn drive_shell(term: &mut Term, resize: impl Fn(WindowSize)) {
    term.expect("pty> ");
    // A terminal of the sandbox's own devpts.
    term.send(b"tty\n");
    term.expect("/dev/pts/");
    term.expect("pty> ");
    term.send(b"stty size\n");
    term.expect("24 80");
    // A window change reaches the program.
    resize(WindowSize::new(31, 101));
    term.send(b"stty size\n");
    term.expect("31 101");
    term.expect("pty> ");
    // Job control: a background job, listed, brought to the foreground
    // and interrupted by ^C.
    // `fg` prints the job before giving it the terminal: the job watches
    // its process group become the terminal's before it says so.
    term.send(
        b"sh -c 'while :; do read -r _ _ _ _ pg _ _ tp _ < /proc/self/stat; \
          [ \"$pg\" = \"$tp\" ] && break; sleep 0.05; done; echo fore\"\"ground; \
          exec sleep 100' &\n",
    );
    term.expect("[1] ");
    term.expect("pty> ");
    term.send(b"jobs\n");
    term.expect("Running");
    term.expect("pty> ");
    term.send(b"fg\n");
    term.expect("foreground");
    term.send(b"\x03");
    term.expect("pty> ");
    term.send(b"echo $((100+$?))\n");
    term.expect("230");
    term.expect("pty> ");
    // ^C interrupts a foreground job started from the prompt.
    term.send(FOREGROUND_SLEEP);
    term.expect("ready");
    term.send(b"\x03");
    term.expect("pty> ");
    term.send(b"echo $((100+$?))\n");
    term.expect("230");
    term.expect("pty> ");
    // ^Z stops the foreground job; `kill %1` ends it.
    term.send(FOREGROUND_SLEEP);
    term.expect("ready");
    term.send(b"\x1a");
    term.expect("Stopped");
    term.expect("pty> ");
    // bash's kill continues the stopped job it signals; once the job is
    // gone (`wait` returns at once for a stopped job), bash tells of its
    // end.
    let before_kill = term.transcript.len();
    term.send(
        b"kill %1; while kill -0 %1 2>/dev/null; do sleep 0.05; done; jobs; echo $((40+2))\n",
    );
    term.expect("42");
    term.expect("pty> ");
    let after = String::from_utf8_lossy(&term.transcript[before_kill..]).into_owned();
    assert!(after.contains("Terminated"), "no job ended:\n{after}");
    term.send(b"exit\n");
    term.expect_end();
}

#[test]
fn interactive_shell_has_a_terminal_and_job_control() {
    as_each_identity(|| {
        let mut child = Sandbox::new()
            .spawn(&mut bash())
            .unwrap_or_else(|e| panic!("spawn: {}", chain(&e)));
        assert!(child.stdin.is_none() && child.stdout.is_none());
        let pty = child.pty.take().expect("the master side");
        let resizer = pty.try_clone().unwrap();
        let mut term = Term::new(pty);
        drive_shell(&mut term, |size| {
            resizer.resize(size).unwrap();
            assert_eq!(resizer.size().unwrap(), size);
        });
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "{status}; transcript:\n{}",
            term.transcript()
        );
    });
}

#[test]
fn exec_into_a_container_gets_a_terminal_and_job_control() {
    as_each_identity(|| {
        let mut c = Sandbox::new()
            .start()
            .unwrap_or_else(|e| panic!("start: {}", chain(&e)));
        let mut child = c
            .spawn(&mut bash())
            .unwrap_or_else(|e| panic!("exec: {}", chain(&e)));
        let pty = child.pty.take().expect("the master side");
        let resizer = pty.try_clone().unwrap();
        let mut term = Term::new(pty);
        drive_shell(&mut term, |size| resizer.resize(size).unwrap());
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "{status}; transcript:\n{}",
            term.transcript()
        );
        // A second exec gets a terminal of its own.
        let out = c
            .output(common::sh("tty <&2").pty(WindowSize::new(5, 6)))
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("/dev/pts/"),
            "{out:?}"
        );
        c.stop(Duration::from_secs(5)).unwrap();
    });
}

/// The terminal is the program's controlling terminal even when the
/// program never opens it itself (as an interactive shell would): it can
/// open /dev/tty, and ^C written to the master interrupts it, since its
/// group is the terminal's foreground process group.
#[test]
fn the_terminal_is_the_controlling_terminal() {
    as_each_identity(|| {
        let out = Sandbox::new()
            .output(
                common::sh("echo via-tty > /dev/tty && echo ctty-ok").pty(WindowSize::new(5, 20)),
            )
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("via-tty\r\nctty-ok"), "{text:?}");
        let mut child = Sandbox::new()
            .spawn(Command::new("sleep").arg("100").pty(WindowSize::new(5, 20)))
            .unwrap();
        let mut pty = child.pty.take().unwrap();
        // ^C is typed once the program runs: the terminal echoes it.
        let start = Instant::now();
        let status = loop {
            pty.write_all(b"\x03").unwrap();
            if let Some(st) = child.wait_timeout(Duration::from_millis(200)).unwrap() {
                break st;
            }
            assert!(start.elapsed() < DEADLINE, "^C did not reach the program");
        };
        assert_eq!(status.signal(), Some(libc::SIGINT), "{status}");
    });
}

/// A terminal the caller made (its slave on the program's standard
/// streams) becomes the program's controlling terminal with
/// `Command::controlling_terminal`: `/dev/tty` opens it and `^C` written to
/// its master interrupts the program; without the option the program has
/// none. For a sandbox's first program and for an exec into a container.
#[test]
fn a_terminal_the_caller_made_becomes_the_controlling_terminal() {
    as_each_identity(|| {
        let script = "if echo via-tty > /dev/tty; then echo ctty-ok; else echo no-ctty; fi";
        let shown = |ctty: bool, container: Option<&stockade::Container>| -> String {
            let pair = nix::pty::openpty(None, None).unwrap();
            let mut cmd = common::sh(script);
            cmd.stdin(pair.slave.try_clone().unwrap())
                .stdout(pair.slave.try_clone().unwrap())
                .stderr(pair.slave);
            if ctty {
                cmd.controlling_terminal();
            }
            let mut child = match container {
                Some(c) => c.spawn(&mut cmd),
                None => Sandbox::new().spawn(&mut cmd),
            }
            .unwrap_or_else(|e| panic!("spawn: {}", chain(&e)));
            drop(cmd);
            let status = child.wait().unwrap();
            assert!(status.success(), "{status}");
            let mut master = std::fs::File::from(pair.master);
            let mut out = Vec::new();
            let mut buf = [0u8; 1024];
            // Every slave is closed: the read ends (EIO) once drained.
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            String::from_utf8_lossy(&out).replace('\r', "")
        };
        assert_eq!(shown(true, None), "via-tty\nctty-ok\n");
        assert!(shown(false, None).ends_with("no-ctty\n"));
        let mut c = Sandbox::new()
            .start()
            .unwrap_or_else(|e| panic!("start: {}", chain(&e)));
        assert_eq!(shown(true, Some(&c)), "via-tty\nctty-ok\n");
        assert!(shown(false, Some(&c)).ends_with("no-ctty\n"));

        // ^C on the master reaches the program.
        let pair = nix::pty::openpty(None, None).unwrap();
        let mut cmd = Command::new("sleep");
        cmd.arg("100")
            .stdin(pair.slave.try_clone().unwrap())
            .stdout(pair.slave.try_clone().unwrap())
            .stderr(pair.slave)
            .controlling_terminal();
        let mut child = c.spawn(&mut cmd).unwrap();
        drop(cmd);
        let mut master = std::fs::File::from(pair.master);
        let start = Instant::now();
        let status = loop {
            master.write_all(b"\x03").unwrap();
            if let Some(st) = child.wait_timeout(Duration::from_millis(200)).unwrap() {
                break st;
            }
            assert!(start.elapsed() < DEADLINE, "^C did not reach the program");
        };
        assert_eq!(status.signal(), Some(libc::SIGINT), "{status}");

        // Standard input must be a terminal.
        let err = Sandbox::new()
            .spawn(
                common::sh("true")
                    .stdin(Stdio::null())
                    .controlling_terminal(),
            )
            .unwrap_err();
        match &err {
            Error::Setup(e) => assert_eq!(e.stage, stockade::error::Stage::Terminal, "{e}"),
            other => panic!("{}", chain(other)),
        }
        c.stop(Duration::from_secs(5)).unwrap();
    });
}

/// `output` with a terminal: standard output and error are the terminal,
/// whose output is collected as `stdout`; standard input stays /dev/null.
#[test]
fn output_collects_what_the_terminal_shows() {
    as_each_identity(|| {
        let out = Sandbox::new()
            .output(
                common::sh(
                    "tty <&1; stty size <&1; echo err >&2; [ -t 0 ] || echo stdin-not-a-terminal",
                )
                .pty(WindowSize::new(12, 34)),
            )
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        assert!(text.starts_with("/dev/pts/0\r\n"), "{text:?}");
        assert!(
            text.contains("12 34\r\nerr\r\nstdin-not-a-terminal\r\n"),
            "{text:?}"
        );
        assert!(out.stderr.is_empty(), "{out:?}");
        // A stream the command sets itself stays as set.
        let out = Sandbox::new()
            .output(
                common::sh("echo piped; tty >&2")
                    .pty(WindowSize::new(12, 34))
                    .stdout(Stdio::piped()),
            )
            .unwrap();
        assert_eq!(out.stdout, b"piped\n");
        assert!(out.stderr.is_empty(), "{out:?}");
    });
}

/// The signal and kill paths of `Child` still reach a program with a
/// terminal, and a timeout still ends it.
#[test]
fn signals_kill_and_timeouts_reach_a_program_with_a_terminal() {
    as_each_identity(|| {
        let sb = Sandbox::new();
        let mut child = sb.spawn(&mut bash()).unwrap();
        let mut term = Term::new(child.pty.take().unwrap());
        term.expect("pty> ");
        child.signal(libc::SIGTERM).unwrap();
        child.signal(libc::SIGKILL).unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "{status}");
        let mut timed = Sandbox::new();
        timed.timeout(Duration::from_millis(300));
        let mut child = timed
            .spawn(Command::new("sleep").arg("100").pty(WindowSize::new(2, 2)))
            .unwrap();
        child.wait().unwrap();
        assert_eq!(
            child.outcome().unwrap().verdict,
            stockade::Verdict::TimedOut
        );
    });
}

/// With a terminal of its own, the program still cannot push input into it
/// (`TIOCSTI`): the default seccomp profile refuses the request whatever
/// the terminal (the kernel would allow it here: the program's own
/// controlling terminal). (Programs sharing the caller's terminal: see
/// tests/escape.rs.)
#[cfg(feature = "seccomp")]
#[test]
fn tiocsti_is_refused_on_the_programs_own_terminal() {
    if !std::path::Path::new("/usr/bin/perl").exists() {
        return common::skip("no /usr/bin/perl on this host");
    }
    as_each_identity(|| {
        let script = r#"open(my $t, "+<", "/dev/tty") or die "tty: $!"; my $c = "x"; if (ioctl($t, 0x5412, $c)) { print "pushed\n" } else { print "refused: ", $!+0, "\n" }"#;
        let out = Sandbox::new()
            .output(
                Command::new("/usr/bin/perl")
                    .args(["-e", script])
                    .pty(WindowSize::new(5, 40)),
            )
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("refused: {}", libc::EPERM)),
            "{text:?}"
        );
    });
}

/// Without the sandbox's own /dev there is no devpts to take the terminal
/// from: a typed error that names the setting.
#[test]
fn a_terminal_needs_the_sandboxs_own_dev() {
    let mut sb = Sandbox::new();
    sb.dev(false);
    let e = sb
        .spawn(Command::new("true").pty(WindowSize::new(1, 1)))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Config(stockade::error::ConfigError::PtyNeedsDev {
                reason: stockade::error::PtyProblem::NoDev
            })
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("Sandbox::dev(false)"), "{e}");
    let mut sb = Sandbox::new();
    sb.namespaces(stockade::Namespaces::USER | stockade::Namespaces::PID);
    let e = sb
        .spawn(Command::new("true").pty(WindowSize::new(1, 1)))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Config(stockade::error::ConfigError::PtyNeedsDev {
                reason: stockade::error::PtyProblem::NoMountNamespace
            })
        ),
        "{e:?}"
    );
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_child_gets_an_async_terminal() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    as_each_identity(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut child = Sandbox::new().spawn_async(&mut bash()).unwrap();
            let mut pty = child.pty.take().expect("the master side");
            let mut seen = Vec::new();
            let mut from = 0;
            let mut buf = [0u8; 1024];
            let steps: [(&[u8], &str); 3] =
                [(b"", "pty> "), (b"tty\n", "/dev/pts/"), (b"", "pty> ")];
            for (sent, want) in steps {
                pty.write_all(sent).await.unwrap();
                let wait = tokio::time::timeout(DEADLINE, async {
                    loop {
                        if let Some(at) = find(&seen[from..], want.as_bytes()) {
                            from += at + want.len();
                            break;
                        }
                        let n = pty.read(&mut buf).await.unwrap();
                        assert!(n > 0, "{}", String::from_utf8_lossy(&seen));
                        seen.extend_from_slice(&buf[..n]);
                    }
                })
                .await;
                assert!(wait.is_ok(), "{want:?}: {}", String::from_utf8_lossy(&seen));
            }
            pty.resize(WindowSize::new(40, 120)).unwrap();
            assert_eq!(pty.size().unwrap(), WindowSize::new(40, 120));
            pty.write_all(b"stty size; exit 7\n").await.unwrap();
            let mut rest = Vec::new();
            tokio::time::timeout(DEADLINE, pty.read_to_end(&mut rest))
                .await
                .unwrap()
                .unwrap();
            let text = String::from_utf8_lossy(&rest);
            assert!(text.contains("40 120"), "{text}");
            assert_eq!(child.wait().await.unwrap().code(), Some(7));
            // `output_async` collects the terminal as stdout.
            let out = Sandbox::new()
                .output_async(common::sh("tty <&1").pty(WindowSize::new(3, 3)))
                .await
                .unwrap();
            assert!(out.stdout.starts_with(b"/dev/pts/"), "{out:?}");
        });
    });
}

/// A container's init can have a terminal too: the container's console,
/// which the caller takes from the `Container`. A shell as pid 1 answers
/// on it, and execs into the container see it as pid 1's terminal.
#[test]
fn a_containers_init_gets_a_terminal_as_its_console() {
    as_each_identity(|| {
        let mut c = Sandbox::new()
            .start_init(Command::new("sh").pty(WindowSize::new(24, 80)))
            .unwrap();
        let mut term = Term::new(c.take_pty().expect("the init's terminal"));
        term.send(b"echo pid=$$ tty=$(tty)\n");
        term.expect("pid=1 tty=/dev/pts/0");
        let out = c.output(&mut common::sh("readlink /proc/1/fd/0")).unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "/dev/pts/0\n");
        // It is also the container's /dev/console (what a service manager
        // writes its messages to), and only a container's init gets one.
        let out = c
            .output(&mut common::sh(
                "echo via-console > /dev/console && stat -L -c %t:%T /dev/console /dev/pts/0",
            ))
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let devices: Vec<&str> = text.lines().collect();
        assert!(
            out.status.success() && devices.len() == 2 && devices[0] == devices[1],
            "{out:?}"
        );
        term.expect("via-console");
        let out = Sandbox::new()
            .output(&mut common::sh("test -e /dev/console || echo none"))
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "none\n");
        term.send(b"exit 5\n");
        let stopped = c.wait().unwrap();
        assert_eq!(
            stopped.init.and_then(|s| s.code()),
            Some(5),
            "{}",
            term.transcript()
        );
    });
}
