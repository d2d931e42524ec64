//! The spawn engine: exit statuses, typed setup errors, descriptor and
//! environment hygiene, process lifetime, thread safety.
#![allow(clippy::multiple_unsafe_ops_per_block)]

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{as_each_identity, assert_no_children, chain, fd_list, pid_alive, run, sh, stdout_of};
use stockade::{Command, Error, Sandbox, Stdio, error};

/// Runs `script` under std and under the sandbox, and checks the statuses are
/// identical, including their Display.
fn same_status_as_std(script: &str) {
    let std_status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .status()
        .unwrap();
    let ours = Sandbox::new()
        .status(&mut sh(script))
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert_eq!(
        std::process::ExitStatus::from(ours),
        std_status,
        "status of {script:?}"
    );
    assert_eq!(ours.to_string(), std_status.to_string());
    assert_eq!(ours.code(), std_status.code());
    assert_eq!(
        ours.signal(),
        std::os::unix::process::ExitStatusExt::signal(&std_status)
    );
}

/// The first spawn in a process creates the process-wide lifeline pipe,
/// which stays open for the process's lifetime by design; spawn once before
/// taking snapshots of the descriptor table.
fn warm_up() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        Sandbox::new().status(&mut sh("true")).unwrap();
    });
}

#[test]
fn exit_status_fidelity() {
    as_each_identity(|| {
        same_status_as_std("exit 0");
        same_status_as_std("exit 42");
        same_status_as_std("kill -SEGV $$");
        same_status_as_std("kill -KILL $$");
        same_status_as_std("kill -TERM $$");
        let s = Sandbox::new().status(&mut sh("exit 42")).unwrap();
        assert!(!s.success());
        assert_eq!(s.code(), Some(42));
        assert_eq!(s.to_string(), "exit status: 42");
        let s = Sandbox::new().status(&mut sh("kill -SEGV $$")).unwrap();
        assert_eq!(s.signal(), Some(libc::SIGSEGV));
        assert_eq!(s.code(), None);
    });
}

/// Spawns and expects an error, then checks nothing was left behind.
fn expect_error(sb: &Sandbox, cmd: &mut Command) -> Error {
    warm_up();
    // A policy keeps what it builds once (its template mount namespace,
    // from its second spawn on): let it, before the snapshot.
    for _ in 0..2 {
        let _ = sb.status(&mut sh("true"));
    }
    let fds_before = fd_list();
    let err = match sb.spawn(cmd) {
        Ok(mut c) => panic!("spawn succeeded unexpectedly: {:?}", c.wait()),
        Err(e) => e,
    };
    assert_eq!(
        fd_list(),
        fds_before,
        "descriptors leaked by a failed spawn"
    );
    assert_no_children();
    err
}

#[test]
fn bad_programs_give_distinct_typed_errors() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("noexec"), "#!/bin/sh\necho hi\n").unwrap();
        std::fs::write(d.join("script"), "#!/nonexistent/interpreter -x\necho hi\n").unwrap();
        std::fs::set_permissions(
            d.join("script"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        std::fs::write(d.join("garbage"), [0u8, 1, 2, 3, 4, 5, 6, 7]).unwrap();
        std::fs::set_permissions(
            d.join("garbage"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        std::fs::create_dir(d.join("adir")).unwrap();
        let mut sb = Sandbox::new();
        sb.bind_ro(d, "/t");

        match expect_error(&sb, &mut Command::new("no-such-program-xyz")) {
            Error::ProgramNotFound {
                program,
                searched: error::SearchPath::Path(p),
            } => {
                assert_eq!(program, "no-such-program-xyz");
                assert!(!p.is_empty());
            }
            e => panic!("wrong error: {}", chain(&e)),
        }
        match expect_error(&sb, &mut Command::new("/t/missing")) {
            Error::ProgramNotFound {
                searched: error::SearchPath::Literal,
                ..
            } => {}
            e => panic!("wrong error: {}", chain(&e)),
        }
        match expect_error(&sb, &mut Command::new("/t/noexec")) {
            Error::NotExecutable { path, source } => {
                assert_eq!(path, Path::new("/t/noexec"));
                assert_eq!(source.raw_os_error(), Some(libc::EACCES));
            }
            e => panic!("wrong error: {}", chain(&e)),
        }
        match expect_error(&sb, &mut Command::new("/t/garbage")) {
            Error::NotExecutable { path, source } => {
                assert_eq!(path, Path::new("/t/garbage"));
                assert_eq!(source.raw_os_error(), Some(libc::ENOEXEC));
            }
            e => panic!("wrong error: {}", chain(&e)),
        }
        match expect_error(&sb, &mut Command::new("/t/adir")) {
            Error::IsADirectory { path } => assert_eq!(path, Path::new("/t/adir")),
            e => panic!("wrong error: {}", chain(&e)),
        }
        match expect_error(&sb, &mut Command::new("/t/script")) {
            Error::InterpreterNotFound {
                script,
                interpreter,
            } => {
                assert_eq!(script, Path::new("/t/script"));
                assert_eq!(interpreter, Path::new("/nonexistent/interpreter"));
            }
            e => panic!("wrong error: {}", chain(&e)),
        }
        let mut cmd = sh("true");
        cmd.current_dir("/no/such/dir");
        match expect_error(&sb, &mut cmd) {
            Error::WorkingDirectory { path, source } => {
                assert_eq!(path, Path::new("/no/such/dir"));
                assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
            }
            e => panic!("wrong error: {}", chain(&e)),
        }
        // The same checks without any namespace.
        let mut plain = Sandbox::new();
        plain.namespaces(stockade::Namespaces::empty());
        assert!(matches!(
            expect_error(&plain, &mut Command::new("no-such-program-xyz")),
            Error::ProgramNotFound { .. }
        ));
        let mut cmd = sh("true");
        cmd.current_dir("/no/such/dir");
        assert!(matches!(
            expect_error(&plain, &mut cmd),
            Error::WorkingDirectory { .. }
        ));
    });
}

#[test]
fn bad_inputs_are_config_errors() {
    as_each_identity(|| {
        let sb = Sandbox::new();
        let mut c = Command::new("sh");
        c.arg("a\0b");
        assert!(matches!(
            expect_error(&sb, &mut c),
            Error::Config(stockade::error::ConfigError::NulByte {
                field: stockade::error::Field::Arg(1)
            })
        ));
        let mut c = Command::new("sh");
        c.env("K", "v\0");
        assert!(matches!(
            expect_error(&sb, &mut c),
            Error::Config(stockade::error::ConfigError::NulByte {
                field: stockade::error::Field::Env(_)
            })
        ));
        let mut c = Command::new("sh");
        c.env("A=B", "v");
        assert!(matches!(
            expect_error(&sb, &mut c),
            Error::Config(stockade::error::ConfigError::EnvName {
                problem: stockade::error::EnvNameProblem::ContainsEquals,
                ..
            })
        ));
        let f = std::fs::File::open("/dev/null").unwrap();
        let mut c = Command::new("sh");
        c.pass_fd(1, f);
        assert!(matches!(
            expect_error(&sb, &mut c),
            Error::Config(stockade::error::ConfigError::FdTarget {
                fd: 1,
                reason: stockade::error::FdProblem::Stdio
            })
        ));
        let mut c = Command::new("sh");
        c.pass_fd(5, std::fs::File::open("/dev/null").unwrap())
            .pass_fd(5, std::fs::File::open("/dev/null").unwrap());
        assert!(matches!(
            expect_error(&sb, &mut c),
            Error::Config(stockade::error::ConfigError::FdTarget {
                fd: 5,
                reason: stockade::error::FdProblem::Duplicate
            })
        ));
        let mut h = Sandbox::new();
        h.hostname("x".repeat(65));
        assert!(matches!(
            h.validate(),
            Err(Error::Config(stockade::error::ConfigError::Hostname {
                reason: stockade::error::HostnameProblem::TooLong,
                ..
            }))
        ));
        let mut h = Sandbox::new();
        h.hostname("ok")
            .namespaces(stockade::Namespaces::default() - stockade::Namespaces::UTS);
        assert!(matches!(
            h.validate(),
            Err(Error::Config(stockade::error::ConfigError::Hostname {
                reason: stockade::error::HostnameProblem::NoUtsNamespace,
                ..
            }))
        ));
        assert_no_children();
    });
}

#[test]
fn only_stdio_and_passed_fds_reach_the_program() {
    as_each_identity(|| {
        // A descriptor the caller left inheritable (no O_CLOEXEC).
        // SAFETY: plain open of /dev/null.
        let leaky = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
        assert!(leaky >= 3);
        // SAFETY: we own the descriptor just opened.
        let leaky = unsafe { OwnedFd::from_raw_fd(leaky) };
        for sb in [Sandbox::new(), {
            let mut s = Sandbox::new();
            s.namespaces(stockade::Namespaces::empty());
            s
        }] {
            let (r, mut w) = std::io::pipe().unwrap();
            w.write_all(b"through fd 7\n").unwrap();
            drop(w);
            let mut cmd = sh("ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; cat <&7");
            cmd.pass_fd(7, r);
            let out = sb.output(&mut cmd).unwrap();
            let s = String::from_utf8_lossy(&out.stdout);
            let mut l = s.lines();
            // 0-2, the passed 7, and the descriptor `ls` uses for the directory.
            let fds: Vec<u32> = l
                .next()
                .unwrap()
                .split_whitespace()
                .map(|x| x.parse().unwrap())
                .collect();
            let expected: Vec<u32> = vec![0, 1, 2, 3, 7];
            assert_eq!(fds, expected, "descriptors in the program: {s}");
            assert_eq!(l.next(), Some("through fd 7"));
        }
        drop(leaky);
    });
}

#[test]
fn fds_can_be_passed_to_numbers_that_collide_with_sources() {
    as_each_identity(|| {
        // Pass A as 11 and B as 10 where B currently *is* fd 11 and A is 10:
        // a naive dup2 order would clobber one of them.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "A").unwrap();
        std::fs::write(dir.path().join("b"), "B").unwrap();
        let a = std::fs::File::open(dir.path().join("a")).unwrap();
        let b = std::fs::File::open(dir.path().join("b")).unwrap();
        // SAFETY: dup2 onto numbers this test owns; the results are owned below.
        let (a, b) = unsafe {
            assert_eq!(libc::dup2(a.as_raw_fd(), 40), 40);
            assert_eq!(libc::dup2(b.as_raw_fd(), 41), 41);
            (OwnedFd::from_raw_fd(40), OwnedFd::from_raw_fd(41))
        };
        let mut cmd = sh("cat /dev/fd/41; cat /dev/fd/40");
        cmd.pass_fd(41, a).pass_fd(40, b);
        let out = Sandbox::new().output(&mut cmd).unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "AB");
    });
}

#[test]
fn environment_is_cleared_to_a_base_set() {
    as_each_identity(|| {
        // SAFETY: tests in this binary do not read this variable concurrently.
        unsafe { std::env::set_var("STOCKADE_SECRET_TOKEN", "hunter2") };
        let out = stdout_of(&Sandbox::new(), "env | cut -d= -f1 | sort | tr '\\n' ' '");
        for k in out.split_whitespace() {
            assert!(
                stockade::BASE_ENV.contains(&k) || k == "PWD" || k == "SHLVL" || k == "_",
                "unexpected variable {k}"
            );
        }
        assert!(!out.contains("STOCKADE_SECRET_TOKEN"));
        let out = stdout_of(
            Sandbox::new().inherit_env(true),
            "echo $STOCKADE_SECRET_TOKEN",
        );
        assert_eq!(out.trim(), "hunter2");
        let mut cmd = sh("echo ${FOO}-${PATH:+path}-${HOME:-nohome}");
        cmd.env("FOO", "bar").env_remove("HOME");
        let out = Sandbox::new().output(&mut cmd).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "bar-path-nohome"
        );
        let mut cmd = Command::new("/usr/bin/env");
        cmd.env_clear().env("ONLY", "1");
        let out = Sandbox::new().output(&mut cmd).unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ONLY=1\n");
    });
}

#[test]
fn stdio_pipes_files_and_null() {
    as_each_identity(|| {
        let sb = Sandbox::new();
        let mut cmd = sh("tr a-z A-Z; echo err >&2");
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = sb.spawn(&mut cmd).unwrap();
        child
            .stdin
            .as_mut()
            .unwrap()
            .write_all(b"hello sandbox\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"HELLO SANDBOX\n");
        assert_eq!(out.stderr, b"err\n");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let f = std::fs::File::create(&path).unwrap();
        let mut cmd = sh("echo to-file");
        cmd.stdout(f).stdin(Stdio::null());
        assert!(sb.status(&mut cmd).unwrap().success());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "to-file\n");

        let mut cmd = sh("cat; echo done");
        cmd.stdin(Stdio::null());
        let out = sb.output(&mut cmd).unwrap();
        assert_eq!(out.stdout, b"done\n");

        // From a std::process::Command.
        let mut std_cmd = std::process::Command::new("sh");
        std_cmd
            .arg("-c")
            .arg("echo $X; pwd")
            .env("X", "from-std")
            .current_dir("/tmp");
        let out = sb.output(&mut Command::from(&std_cmd)).unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "from-std\n/tmp\n");
    });
}

#[test]
fn signals_kill_and_try_wait() {
    as_each_identity(|| {
        let sb = Sandbox::new();
        let mut cmd = sh("trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done");
        cmd.stdout(Stdio::piped());
        let mut child = sb.spawn(&mut cmd).unwrap();
        let mut ready = [0u8; 6];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut ready)
            .unwrap();
        assert_eq!(child.try_wait().unwrap(), None);
        child.signal(libc::SIGTERM).unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(7));

        let mut child = sb.spawn(&mut sh("sleep 100")).unwrap();
        let pid = child.id();
        assert!(
            pid > 0 && pid_alive(pid),
            "Child::id names the running program"
        );
        child.kill().unwrap();
        let st = child.wait().unwrap();
        assert_eq!(st.signal(), Some(libc::SIGKILL));
        assert!(!pid_alive(pid));
        child.kill().unwrap();
        assert_no_children();
    });
}

#[test]
fn child_id_is_the_program_pid_in_the_callers_terms() {
    as_each_identity(|| {
        let with_pid_ns = stockade::Namespaces::default();
        for ns in [with_pid_ns, with_pid_ns - stockade::Namespaces::PID] {
            let mut sb = Sandbox::new();
            sb.namespaces(ns);
            // The second spawn of a policy starts from its template.
            for round in 0..2 {
                let mut child = sb
                    .spawn(Command::new("/bin/sleep").arg("100").stdin(Stdio::null()))
                    .unwrap();
                let pid = child.id();
                // `spawn` may return a moment before exec has switched the
                // process to the program's memory (until then its command
                // line is the caller's), and before the kernel has set up the
                // new command line (empty until then). A process that is not
                // the program never shows the program's.
                let want = b"/bin/sleep\x00100\x00";
                let deadline = Instant::now() + Duration::from_secs(60);
                let cmdline = loop {
                    let c = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
                    if c == want || Instant::now() > deadline {
                        break c;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                };
                assert_eq!(
                    cmdline, want,
                    "{ns:?}, spawn {round}: pid {pid} is not the program"
                );
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
                let nspid: Vec<&str> = status
                    .lines()
                    .find_map(|l| l.strip_prefix("NSpid:"))
                    .unwrap()
                    .split_whitespace()
                    .collect();
                assert_eq!(nspid.first(), Some(&pid.to_string().as_str()));
                if ns.contains(stockade::Namespaces::PID) {
                    // The supervisor is 1 in the sandbox, the program 2.
                    assert_eq!(nspid.last(), Some(&"2"), "{status}");
                }
                child.kill().unwrap();
                child.wait().unwrap();
            }
        }
        assert_no_children();
    });
}

#[test]
fn dropping_a_child_kills_the_sandbox() {
    as_each_identity(|| {
        let child = Sandbox::new().spawn(&mut sh("sleep 100")).unwrap();
        let pid = child.id();
        assert!(pid_alive(pid));
        // The drop sends the kill; the process's reaper reaps the sandbox.
        drop(child);
        common::eventually("the program is gone", || !pid_alive(pid));
        common::eventually("the sandbox is reaped", || {
            common::children_of_self().is_empty()
        });
        assert_no_children();
    });
}

#[test]
fn orphans_are_reaped_while_the_program_runs() {
    as_each_identity(|| {
        // 500 short-lived orphans (100 under emulation), reparented to the
        // sandbox's init; the program counts zombies in its pid namespace
        // while still running.
        let n = if cfg!(stockade_vm) { 100 } else { 500 };
        let script = format!(
            "for i in $(seq {n}); do ( /bin/true & ) ; done; tries=0; \
             while :; do sleep 0.1; tries=$((tries+1)); \
               z=0; for s in /proc/[0-9]*/stat; do \
                 st=$(sed 's/.*) //' $s 2>/dev/null | cut -d' ' -f1); [ \"$st\" = Z ] && z=$((z+1)); \
               done; [ $z = 0 ] || [ $tries -ge 50 ] && break; \
             done; echo zombies=$z"
        );
        let out = stdout_of(&Sandbox::new(), &script);
        assert_eq!(out.trim(), "zombies=0");
    });
}

#[test]
fn the_program_exit_status_is_what_wait_returns_with_children_left() {
    as_each_identity(|| {
        // The program exits while a child it started is still running: wait
        // returns the program's status, and the straggler is gone with the
        // sandbox.
        let (st, out, _) = run(&Sandbox::new(), "sleep 100 & echo $!; exit 3");
        assert_eq!(st.code(), Some(3));
        assert!(out.trim().parse::<u32>().is_ok());
        assert_no_children();
    });
}

/// Re-executed helper: spawns a sandbox running `sleep 100` (from a thread
/// that exits right away when asked), prints the program's pid and waits to
/// be killed.
#[test]
#[ignore = "helper for die_with_parent; run by that test"]
fn helper_spawn_and_hang() {
    let from_thread = std::env::var_os("FROM_THREAD").is_some();
    let spawn = || Sandbox::new().spawn(&mut sh("sleep 100")).unwrap();
    let child = if from_thread {
        std::thread::spawn(spawn).join().unwrap()
    } else {
        spawn()
    };
    println!("PID {}", child.id());
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(100));
    drop(child);
}

#[test]
fn sandbox_dies_with_its_parent_even_after_the_spawning_thread_exited() {
    as_each_identity(|| {
        for from_thread in [false, true] {
            let exe = std::env::current_exe().unwrap();
            let mut helper = std::process::Command::new(exe);
            helper
                .args([
                    "helper_spawn_and_hang",
                    "--exact",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .stdout(std::process::Stdio::piped());
            if from_thread {
                helper.env("FROM_THREAD", "1");
            }
            let mut helper = helper.spawn().unwrap();
            let mut reader = std::io::BufReader::new(helper.stdout.take().unwrap());
            let mut line = String::new();
            let pid: u32 = loop {
                line.clear();
                assert!(
                    std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0,
                    "helper ended early"
                );
                if let Some(p) = line.split("PID ").nth(1) {
                    break p.trim().parse().unwrap();
                }
            };
            assert!(pid_alive(pid));
            // The spawning thread has exited (from_thread) and the sandbox
            // must still be alive.
            std::thread::sleep(Duration::from_millis(200));
            assert!(pid_alive(pid), "sandbox died with its spawning thread");
            helper.kill().unwrap();
            helper.wait().unwrap();
            let t = Instant::now();
            while pid_alive(pid) && t.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(
                !pid_alive(pid),
                "sandbox program {pid} still alive 30 s after its parent was killed"
            );
            eprintln!(
                "measured: the program ended {:?} after its parent was killed",
                t.elapsed()
            );
        }
    });
}

#[test]
fn many_threads_spawning_concurrently() {
    as_each_identity(|| {
        // Under emulation (the VM runner) spawns are about 20 times
        // slower: fewer per thread keep the same concurrency.
        let per_thread = if cfg!(stockade_vm) {
            30
        } else if cfg!(debug_assertions) {
            130
        } else {
            250
        };
        let threads = 8;
        let sb = Sandbox::new();
        warm_up();
        let fds_before = common::fd_count_without_listeners();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Noise: threads that allocate and hold locks all the time, so a
        // child that touched the allocator or a lock would deadlock.
        let lock = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
        let noise: Vec<_> = (0..2)
            .map(|i| {
                let (stop, lock) = (stop.clone(), lock.clone());
                std::thread::spawn(move || {
                    let mut n = 0usize;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let mut g = lock.lock().unwrap();
                        g.push(vec![i as u8; 1000 + n % 5000]);
                        if g.len() > 100 {
                            g.clear();
                        }
                        n += 1;
                        std::hint::black_box(format!("{n}"));
                    }
                })
            })
            .collect();
        let start = Instant::now();
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let sb = sb.clone();
                std::thread::spawn(move || {
                    for i in 0..per_thread {
                        let mut cmd = Command::new("/bin/sh");
                        cmd.arg("-c").arg(format!("exit {}", (t * 7 + i) % 100));
                        let st = sb
                            .status(&mut cmd)
                            .unwrap_or_else(|e| panic!("thread {t} spawn {i}: {}", chain(&e)));
                        assert_eq!(st.code(), Some((t * 7 + i) % 100));
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for n in noise {
            n.join().unwrap();
        }
        eprintln!(
            "{} sandboxes from {threads} threads in {:?}",
            threads * per_thread,
            start.elapsed()
        );
        // The policy's template goes with the policy.
        drop(sb);
        assert_eq!(
            common::fd_count_without_listeners(),
            fds_before,
            "descriptor count changed"
        );
        assert_no_children();
    });
}

#[test]
fn legacy_clone_fallback_when_clone3_is_enosys() {
    as_each_identity(|| {
        // Re-run the helper below in a process whose seccomp filter answers
        // clone3 with ENOSYS, as Docker's default profile does.
        let out = common::run_helper_test("helper_spawn_under_clone3_enosys");
        assert!(out.contains("clone3 is ENOSYS"), "{out}");
    });
}

#[test]
#[ignore = "helper for legacy_clone_fallback_when_clone3_is_enosys"]
fn helper_spawn_under_clone3_enosys() {
    common::answer_enosys(libc::SYS_clone3);
    println!("clone3 is ENOSYS");
    let out = stdout_of(
        Sandbox::new().hostname("legacy"),
        "echo $$; hostname; id -u",
    );
    assert_eq!(out.lines().take(2).collect::<Vec<_>>(), ["2", "legacy"]);
    let mut child = Sandbox::new().spawn(&mut sh("sleep 100")).unwrap();
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    assert!(matches!(
        Sandbox::new().spawn(&mut Command::new("no-such-program-xyz")),
        Err(Error::ProgramNotFound { .. })
    ));
    assert_no_children();
}

#[test]
fn sandbox_is_clone_send_sync() {
    fn check<T: Clone + Send + Sync>() {}
    check::<Sandbox>();
    fn send<T: Send>() {}
    send::<stockade::Child>();
}
