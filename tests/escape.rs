//! Escape regression suite: each test is named after the vulnerability class
//! (and, where there is one, the CVE) it guards, runs an attack inside the
//! default sandbox (`Sandbox::new()`), as root and as an unprivileged uid,
//! and asserts containment.
//!
//! The attacks are subcommands of one small C program, `tests/escape/probe.c`,
//! compiled with `cc` by the test. It prints `ESCAPED <what>` for an attempt
//! that worked and `contained <what>: <errno>` for one that failed, then
//! `done <probe>`; a test fails on any `ESCAPED` line or a missing `done`.
//!
//! Some classes (terminal injection via `TIOCLINUX`, other system-call
//! ABIs, nested user namespaces, the keyring, io_uring) are closed only by
//! the default seccomp profile; with `Sandbox::no_seccomp` those probes
//! escape, which is what keeps them honest.
#![allow(clippy::multiple_unsafe_ops_per_block)]

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{as_each_identity, chain, is_root, pid_alive};
use stockade::{Command, Error, Sandbox, Stdio, error};

/// Where the probe is mounted inside the sandbox.
const PROBE: &str = "/probe";

/// Compiles the probe (once per test process) into a directory the running
/// identity owns.
fn probe() -> PathBuf {
    static PROBE_BIN: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> =
        std::sync::OnceLock::new();
    PROBE_BIN
        .get_or_init(|| {
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/escape/probe.c");
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            let bin = dir.path().join("probe");
            let out = std::process::Command::new("cc")
                .args(["-O1", "-Wall", "-o"])
                .arg(&bin)
                .arg(&src)
                .output()
                .expect("run cc (the escape suite needs a C compiler)");
            assert!(
                out.status.success(),
                "cc failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            (dir, bin)
        })
        .1
        .clone()
}

/// The default sandbox with the probe bound in read-only.
fn sandbox() -> Sandbox {
    let mut sb = Sandbox::new();
    sb.bind_ro(probe(), PROBE);
    sb
}

/// The probe command `name` with `args`.
fn probe_cmd(name: &str, args: &[String]) -> Command {
    let mut c = Command::new(PROBE);
    c.arg(name).args(args);
    c
}

/// Runs `cmd` in `sb`, prints the probe's report and returns its stdout.
fn run_probe(sb: &Sandbox, mut cmd: Command, name: &str) -> String {
    let out = sb
        .output(&mut cmd)
        .unwrap_or_else(|e| panic!("spawn failed: {}", chain(&e)));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("--- probe {name} ({})\n{stdout}{stderr}", out.status);
    stdout
}

/// Asserts the probe made every attempt and none escaped.
fn assert_contained(report: &str, name: &str) {
    let escaped: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("ESCAPED"))
        .collect();
    assert!(escaped.is_empty(), "{name}: {escaped:#?}\n{report}");
    assert!(
        report.lines().any(|l| l == format!("done {name}")),
        "{name}: the probe did not finish\n{report}"
    );
    assert!(
        report.contains("contained"),
        "{name}: nothing tried\n{report}"
    );
}

/// Runs probe `name` in the default sandbox and asserts containment.
fn contained(name: &str, args: &[String]) -> String {
    let report = run_probe(&sandbox(), probe_cmd(name, args), name);
    assert_contained(&report, name);
    report
}

fn sha(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read host binary")
}

/// A long-lived process outside the sandbox, killed on drop.
struct Victim(std::process::Child);

impl Victim {
    fn new() -> Victim {
        Victim(
            std::process::Command::new("sleep")
                .arg("100000")
                .spawn()
                .expect("spawn victim"),
        )
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// CVE-2019-5736 (runc): a contained process overwrote the host's runtime
/// binary through `/proc/<pid>/exe`. The sandbox's init runs the embedding
/// program's own binary; neither it nor the program's binary can be opened
/// for writing, and the host binary is unchanged afterwards.
#[test]
fn cve_2019_5736_proc_self_exe_overwrite() {
    as_each_identity(|| {
        let host_bin = std::env::current_exe().unwrap();
        let before = sha(&host_bin);
        let probe_before = sha(&probe());
        let report = contained("proc-exe", &[]);
        assert!(report.contains("init exe writable"), "{report}");
        assert!(sha(&host_bin) == before, "the host binary changed");
        assert!(
            sha(&probe()) == probe_before,
            "the program's binary changed"
        );
    });
}

/// CVE-2024-21626 (runc "Leaky Vessels": a leaked descriptor and a working
/// directory outside the container root) and CVE-2016-9962 (runc: the
/// runtime's descriptors reachable from the container). Descriptors the
/// embedding process holds without `O_CLOEXEC` are not inherited; the working
/// directory and the `cwd`/`root` magic links of the program and of init lead
/// nowhere outside the root; init's descriptors cannot be reopened.
#[test]
fn cve_2024_21626_leaked_fds_and_cwd_outside_root() {
    as_each_identity(|| {
        // Descriptors to the host's root and to a host directory, inheritable.
        let mut leaked = Vec::new();
        for p in [c"/", c"/etc", c"/proc/self"] {
            // SAFETY: plain open(2) of a NUL-terminated path; the descriptor
            // is owned below.
            let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
            assert!(fd >= 0);
            // SAFETY: fd was just opened and nothing else owns it.
            leaked.push(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        // The embedding process's working directory is a host directory.
        let cwd = tempfile::tempdir().unwrap();
        std::env::set_current_dir(cwd.path()).unwrap();
        let nums: Vec<String> = leaked.iter().map(|f| f.as_raw_fd().to_string()).collect();
        let report = contained("leaked-fds", &nums);
        for n in &nums {
            assert!(
                report.contains(&format!("contained embedding process fd {n}")),
                "{report}"
            );
        }
        // Also with an explicit working directory in the sandbox.
        let mut c = probe_cmd("leaked-fds", &nums);
        c.current_dir("/tmp");
        assert_contained(&run_probe(&sandbox(), c, "leaked-fds"), "leaked-fds");
        std::env::set_current_dir("/").unwrap();
    });
}

/// Entering a running container (the CVE-2019-5736 and CVE-2016-9962
/// classes at exec time, as `runc exec` met them): a watcher inside the
/// container polls the processes that enter it while the caller runs
/// programs there. Until it has executed its program, each holds a copy of
/// the embedding process's memory: none may show the embedding program as
/// its exe, nor let its memory be opened. Then the leaked-descriptor,
/// init-exe and ptrace probes run as programs of the same container.
#[test]
fn cve_2019_5736_and_2016_9962_entering_a_running_container() {
    as_each_identity(|| {
        let c = sandbox()
            .start()
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        let exe = std::env::current_exe().unwrap();
        let needle = exe.file_name().unwrap().to_string_lossy().into_owned();
        let ms = if cfg!(stockade_vm) { 8_000 } else { 3_000 };
        let mut watch = probe_cmd("watch-entries", &[needle, ms.to_string()]);
        watch.stdout(Stdio::piped());
        let mut watcher = c.spawn(&mut watch).unwrap();
        let mut entered = 0;
        while watcher.try_wait().unwrap().is_none() {
            let st = c
                .status(Command::new("/bin/true").stdin(Stdio::null()))
                .unwrap_or_else(|e| panic!("{}", chain(&e)));
            assert!(st.success());
            entered += 1;
        }
        let mut report = String::new();
        std::io::Read::read_to_string(&mut watcher.stdout.take().unwrap(), &mut report).unwrap();
        eprintln!("--- probe watch-entries ({entered} programs entered)\n{report}");
        assert_contained(&report, "watch-entries");
        // The watcher saw programs enter (their exe links once executed):
        // it was looking at the right processes.
        let links: u64 = report
            .split("links read")
            .next()
            .and_then(|s| s.rsplit(", ").next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        assert!(links > 0, "the watcher saw no program enter:\n{report}");

        // The other entry-time classes, probed by programs of the container.
        let mut leaked = Vec::new();
        for p in [c"/", c"/etc"] {
            // SAFETY: plain open(2) of a NUL-terminated path; the descriptor
            // is owned below.
            let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
            assert!(fd >= 0);
            // SAFETY: fd was just opened and nothing else owns it.
            leaked.push(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let nums: Vec<String> = leaked.iter().map(|f| f.as_raw_fd().to_string()).collect();
        for (name, args) in [
            ("leaked-fds", nums.clone()),
            ("proc-exe", Vec::new()),
            ("ptrace", vec![std::process::id().to_string()]),
        ] {
            let out = c.output(&mut probe_cmd(name, &args)).unwrap();
            let report = String::from_utf8_lossy(&out.stdout).into_owned();
            eprintln!("--- probe {name} in a container\n{report}");
            assert_contained(&report, name);
        }
    });
}

/// CVE-2021-30465 (runc: a symlink-exchange race redirected a mount target
/// out of the container root). A host thread swaps a mount destination in a
/// caller-supplied root with a symlink to a host directory, with
/// `renameat2(RENAME_EXCHANGE)` in a tight loop, while sandboxes are spawned:
/// every spawn either mounts inside the root or fails with a typed mount
/// error, and the host directory is never touched.
#[test]
fn cve_2021_30465_symlink_exchange_race_on_mount_targets() {
    as_each_identity(|| {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for d in ["usr", "proc", "dev", "tmp", "etc", "data"] {
            std::fs::create_dir(r.join(d)).unwrap();
        }
        for l in ["bin", "lib", "lib64", "sbin"] {
            if let Ok(t) = std::fs::read_link(Path::new("/").join(l)) {
                std::os::unix::fs::symlink(t, r.join(l)).unwrap();
            }
        }
        // The host directory the attacker wants the mount to land on.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("host-file"), "host").unwrap();
        std::os::unix::fs::symlink(outside.path(), r.join("swap")).unwrap();
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("marker"), "bound").unwrap();
        std::fs::set_permissions(src.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let racer = {
            let stop = stop.clone();
            let a = std::ffi::CString::new(r.join("data").into_os_string().into_encoded_bytes())
                .unwrap();
            let b = std::ffi::CString::new(r.join("swap").into_os_string().into_encoded_bytes())
                .unwrap();
            std::thread::spawn(move || {
                let mut swaps = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // SAFETY: renameat2 with two NUL-terminated paths.
                    let rc = unsafe {
                        libc::renameat2(
                            libc::AT_FDCWD,
                            a.as_ptr(),
                            libc::AT_FDCWD,
                            b.as_ptr(),
                            libc::RENAME_EXCHANGE,
                        )
                    };
                    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
                    swaps += 1;
                }
                swaps
            })
        };
        let mut sb = Sandbox::new();
        sb.root_dir(r)
            .bind_ro("/usr", "/usr")
            .bind_ro(src.path(), "/data");
        let (mut ok, mut refused) = (0, 0);
        let deadline = Instant::now() + Duration::from_secs(4);
        while Instant::now() < deadline || ok == 0 || refused == 0 {
            let mut c = Command::new("/bin/sh");
            c.arg("-c")
                .arg("ls /data /swap 2>/dev/null | grep -c host-file; cat /proc/self/mountinfo");
            match sb.output(&mut c) {
                Ok(out) => {
                    let s = String::from_utf8_lossy(&out.stdout);
                    assert!(s.starts_with("0\n"), "host directory visible: {s}");
                    // The bind is mounted once, on the root's own directory:
                    // seen at /data, or at /swap when the host renamed that
                    // directory afterwards (the racer keeps going while the
                    // program runs). Never on the host directory.
                    // Field 4 of mountinfo is the bind's root relative to
                    // its filesystem (just `/.tmpXXXXXX` when /tmp is a
                    // mount of its own): match on the unique last part.
                    let src_leaf =
                        format!("/{}", src.path().file_name().unwrap().to_str().unwrap());
                    let points: Vec<&str> = s
                        .lines()
                        .filter_map(|l| {
                            let f: Vec<&str> = l.split(' ').collect();
                            f.get(3)
                                .is_some_and(|root| root.ends_with(&src_leaf))
                                .then(|| f[4])
                        })
                        .collect();
                    assert!(
                        points == ["/data"] || points == ["/swap"],
                        "bind mounted at {points:?}:\n{s}"
                    );
                    assert!(!s.contains(outside.path().to_str().unwrap()), "{s}");
                    ok += 1;
                }
                Err(Error::Setup(error::SetupError {
                    stage: error::Stage::MountOp,
                    ..
                })) => refused += 1,
                Err(e) => panic!("untyped failure under the race: {}", chain(&e)),
            }
            if Instant::now() > deadline + Duration::from_secs(20) {
                break;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let swaps = racer.join().unwrap();
        eprintln!("race: {ok} spawns mounted, {refused} refused, {swaps} swaps");
        assert!(ok + refused > 0);
        // The host directory holds exactly what it held.
        let names: Vec<_> = std::fs::read_dir(outside.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["host-file"]);
        assert_eq!(
            std::fs::read_to_string(outside.path().join("host-file")).unwrap(),
            "host"
        );
    });
}

/// Privilege gain through set-user-ID and file-capability binaries
/// (CVE-2023-0386-style setuid smuggling): with `no_new_privs` and every
/// capability dropped, running them gains nothing. As root the test makes a
/// setuid-root copy of the probe and one with file capabilities; as an
/// unprivileged uid it uses the host's own setuid binaries when it finds them.
#[test]
fn setuid_and_file_capability_binaries_gain_nothing() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut sb = sandbox();
        if is_root() {
            let suid = dir.path().join("escape-suid");
            std::fs::copy(probe(), &suid).unwrap();
            std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4755)).unwrap();
            let fcap = dir.path().join("escape-fcap");
            std::fs::copy(probe(), &fcap).unwrap();
            // vfs_cap_data v2: every capability permitted, effective bit set.
            let mut xattr = Vec::new();
            xattr.extend_from_slice(&(0x0200_0000u32 | 1).to_le_bytes());
            xattr.extend_from_slice(&u32::MAX.to_le_bytes());
            xattr.extend_from_slice(&0u32.to_le_bytes());
            xattr.extend_from_slice(&u32::MAX.to_le_bytes());
            xattr.extend_from_slice(&0u32.to_le_bytes());
            let path = std::ffi::CString::new(fcap.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: setxattr with a NUL-terminated path, name and a buffer
            // of the given length.
            let rc = unsafe {
                libc::setxattr(
                    path.as_ptr(),
                    c"security.capability".as_ptr(),
                    xattr.as_ptr().cast(),
                    xattr.len(),
                    0,
                )
            };
            assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
            // Run them where they were made (the bind is not the point).
            sb.bind_ro(dir.path(), "/privbins");
            for name in ["escape-suid", "escape-fcap"] {
                let path = format!("/privbins/{name}");
                let out = sb.output(&mut Command::new(&path)).unwrap();
                let s = String::from_utf8_lossy(&out.stdout);
                eprintln!("{name}: {s}");
                assert!(s.contains("done whoami"), "{s}");
                let me = nix::unistd::getuid().as_raw();
                assert!(s.contains(&format!("uid {me} euid {me}")), "{name}: {s}");
                for l in s.lines().filter(|l| l.starts_with("Cap")) {
                    assert!(l.ends_with("0000000000000000"), "{name} gained {l}");
                }
                assert!(s.contains("NoNewPrivs:\t1"), "{s}");
            }
        }
        // Unprivileged (and as root, too): the program runs with no_new_privs
        // and no capability at all.
        let report = run_probe(&sandbox(), probe_cmd("whoami", &[]), "whoami");
        assert!(report.contains("NoNewPrivs:\t1"), "{report}");
    });
}

/// Writes to `/proc/sys`, `/proc/sysrq-trigger` and `core_pattern` (the
/// classic container escape of setting a core handler that the host runs)
/// fail, and `/proc` cannot be remounted read-write.
#[test]
fn proc_sys_sysrq_and_core_pattern_writes_fail() {
    as_each_identity(|| {
        let host_pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
        let report = contained("proc-writes", &[]);
        assert!(report.contains("contained core_pattern"), "{report}");
        assert!(report.contains("contained sysrq-trigger"), "{report}");
        assert_eq!(
            std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
            host_pattern
        );
    });
}

/// CVE-2016-9962 and ptrace-class attacks: `ptrace`, `process_vm_readv`,
/// `process_vm_writev`, `/proc/<pid>/mem` and `pidfd_getfd` on the sandbox's
/// init (which shares the embedding process's memory) and on outside
/// processes, by their host pid numbers, all fail.
#[test]
fn cve_2016_9962_ptrace_and_process_vm_on_outside_processes() {
    as_each_identity(|| {
        let victim = Victim::new();
        // Host pid numbers of an outside process and of the embedding
        // process (pid 1, init, is always tried).
        let pids = vec![victim.pid().to_string(), std::process::id().to_string()];
        let report = contained("ptrace", &pids);
        assert!(report.contains("contained PTRACE_ATTACH 1"), "{report}");
        assert!(pid_alive(victim.pid()));
    });
}

/// `kill(-1)` and signals to outside pids (by number, to the process and
/// its group) never reach outside processes: a victim outside survives.
#[test]
fn kill_minus_one_and_signals_to_outside_pids() {
    as_each_identity(|| {
        let victim = Victim::new();
        let args = vec![victim.pid().to_string(), std::process::id().to_string()];
        let sb = sandbox();
        let report = run_probe(&sb, probe_cmd("signals", &args), "signals");
        // The probe may be killed by its own kill(-1) only if that reached
        // itself, which it does not; it prints everything first anyway.
        assert!(report.contains("kill(-1) sent"), "{report}");
        assert!(!report.contains("ESCAPED"), "{report}");
        std::thread::sleep(Duration::from_millis(100));
        assert!(pid_alive(victim.pid()), "the outside victim was killed");
    });
}

/// Abstract unix sockets of host services (for example a D-Bus or X11
/// abstract socket) are unreachable: they belong to the host's network
/// namespace.
#[test]
fn abstract_unix_sockets_of_the_host_are_unreachable() {
    as_each_identity(|| {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("stockade-escape-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
        // Reachable from the host: the test would be void otherwise.
        std::os::unix::net::UnixStream::connect_addr(&addr).expect("host connect");
        let _ = listener.accept().unwrap();
        listener.set_nonblocking(true).unwrap();
        let report = contained("abstract-socket", &[name]);
        assert!(report.contains("contained connect to host abstract stream socket"));
        assert!(
            listener.accept().is_err(),
            "a connection arrived from inside"
        );
    });
}

/// Device nodes: `mknod` fails, the host's devices are absent, and a device
/// node planted by the host in a bound directory cannot be opened (`nodev`).
#[test]
fn device_nodes_and_mknod() {
    as_each_identity(|| {
        let mut args = Vec::new();
        let dir = tempfile::tempdir().unwrap();
        let mut sb = sandbox();
        if is_root() {
            let node = dir.path().join("null");
            nix::sys::stat::mknod(
                &node,
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::from_bits_truncate(0o666),
                nix::sys::stat::makedev(1, 3),
            )
            .unwrap();
            sb.bind_rw(dir.path(), "/planted");
            args.push("/planted/null".to_owned());
        }
        let report = run_probe(&sb, probe_cmd("devices", &args), "devices");
        assert_contained(&report, "devices");
    });
}

/// Setting the system clock (`clock_settime`, `settimeofday`, `adjtimex`,
/// `clock_adjtime`) fails: the clock is not namespaced.
#[test]
fn clock_setting_fails() {
    as_each_identity(|| {
        contained("clock", &[]);
    });
}

/// The embedding process's environment does not reach the program, neither
/// inherited nor through `/proc/<pid>/environ` or `/proc/<pid>/mem` of the
/// init, which shares the embedding process's memory.
#[test]
fn environment_and_proc_environ_of_the_embedding_process() {
    as_each_identity(|| {
        // Set by `as_each_identity` in this process's environment only.
        let secret = std::env::var("STOCKADE_TEST_OWNER").expect("re-executed");
        let needle = format!("STOCKADE_TEST_OWNER={secret}");
        assert!(
            std::fs::read("/proc/self/environ")
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        );
        contained("environ", &[needle]);
    });
}

/// The sandbox's own cgroup files cannot be written (they would lift its
/// limits or move it out): no cgroup filesystem is mounted, none can be,
/// and the cgroup namespace roots `/proc/self/cgroup` at the sandbox.
#[test]
fn own_cgroup_files_are_not_writable() {
    as_each_identity(|| {
        let report = contained("cgroup-writes", &[]);
        assert!(report.contains("0::/\n"), "{report}");
    });
}

/// Makes the slave side of a new pseudo-terminal the controlling terminal
/// of a session outside the sandbox (as a user's terminal is) and returns
/// (master, slave, session holder).
fn terminal_of_an_outside_session() -> (OwnedFd, OwnedFd, std::process::Child) {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave = pty.slave.as_raw_fd();
    let mut cmd = std::process::Command::new("sleep");
    cmd.arg("600");
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 || libc::ioctl(slave, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let holder = cmd.spawn().expect("session holder");
    let mut t = nix::sys::termios::tcgetattr(&pty.slave).unwrap();
    nix::sys::termios::cfmakeraw(&mut t);
    nix::sys::termios::tcsetattr(&pty.slave, nix::sys::termios::SetArg::TCSANOW, &t).unwrap();
    (pty.master, pty.slave, holder)
}

/// Terminal injection with `TIOCSTI` (CVE-2017-5226, bubblewrap; CVE-2016-7545,
/// SELinux sandbox): the program gets the caller's terminal on stdin but runs
/// in a new session without a controlling terminal, so it can neither push
/// input into the terminal nor make it its own.
#[test]
fn cve_2017_5226_tiocsti_terminal_injection() {
    as_each_identity(|| {
        let (_master, slave, mut holder) = terminal_of_an_outside_session();
        let stdin = slave.try_clone().unwrap();
        let sb = sandbox();
        let out = sb
            .output(probe_cmd("tiocsti", &[]).stdin(Stdio::from(stdin)))
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!("{report}");
        let _ = holder.kill();
        let _ = holder.wait();
        assert!(report.contains("done tiocsti"), "{report}");
        for what in [
            "TIOCSTI on the inherited terminal",
            "TIOCSCTTY steal (force 0)",
            "TIOCSCTTY steal (force 1)",
            "TIOCSTI after TIOCSCTTY",
        ] {
            assert!(
                report.contains(&format!("contained {what}")),
                "{what}:\n{report}"
            );
        }
        // Nothing was queued as input on the terminal.
        nix::fcntl::fcntl(
            &slave,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let mut buf = [0u8; 64];
        let n = nix::unistd::read(&slave, &mut buf);
        assert!(
            matches!(n, Err(nix::errno::Errno::EAGAIN)),
            "input was injected: {n:?} {:?}",
            &buf
        );
    });
}

/// `TIOCLINUX` (copy and paste on a virtual console, CVE-2023-1523 class)
/// is refused on any terminal the program holds: the seccomp profile answers
/// `EPERM`. The program gets a virtual console when this identity can open
/// one, else a pseudo-terminal; on a pseudo-terminal the ioctl fails anyway
/// (`ENOTTY`), so the test requires `EPERM`, which only the filter gives.
#[cfg(feature = "seccomp")]
#[test]
fn cve_2023_1523_tioclinux_is_denied() {
    as_each_identity(|| {
        let console = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty1");
        let (stdin, holder) = match console {
            Ok(tty) => (OwnedFd::from(tty), None),
            Err(e) => {
                eprintln!("no virtual console ({e}): using a pseudo-terminal");
                let (_master, slave, holder) = terminal_of_an_outside_session();
                (slave, Some((_master, holder)))
            }
        };
        let out = sandbox()
            .output(probe_cmd("tiocsti", &[]).stdin(Stdio::from(stdin)))
            .unwrap();
        if let Some((_master, mut holder)) = holder {
            let _ = holder.kill();
            let _ = holder.wait();
        }
        // Only TIOCLINUX is this test's concern (TIOCSTI is covered, with a
        // terminal held by an outside session, above).
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(report.contains("done tiocsti"), "{report}");
        let eperm = std::io::Error::from_raw_os_error(libc::EPERM).to_string();
        let eperm = eperm.split(" (os error").next().unwrap();
        assert!(
            report.contains(&format!("contained TIOCLINUX paste: {eperm}")),
            "{report}"
        );
    });
}

/// Entering the kernel through another system-call ABI to get around a
/// filter written for x86_64 (x32 with `__X32_SYSCALL_BIT`, and the 32-bit
/// `int 0x80` gate): `unshare(CLONE_NEWUSER)` and `getpid` through them are
/// refused: the default profile kills the process for either, so each
/// attempt runs in a child of the probe. Without the profile `int 0x80`
/// works when the kernel has IA-32 emulation.
#[cfg(feature = "seccomp")]
#[test]
#[cfg(target_arch = "x86_64")]
fn x32_and_int80_syscall_entry() {
    as_each_identity(|| {
        contained("syscall-abis", &[]);
    });
}

/// Re-enabling user namespaces from inside (the sysctls that govern them)
/// fails: `/proc/sys` is read-only.
#[test]
fn user_namespace_sysctls_cannot_be_changed() {
    as_each_identity(|| {
        let report = contained("proc-writes", &[]);
        assert!(
            report.contains(
                "contained re-enable user namespaces (write /proc/sys/user/max_user_namespaces)"
            ),
            "{report}"
        );
    });
}

/// Nested user namespaces (the entry to most unprivileged kernel exploits:
/// CVE-2022-0185, CVE-2023-32233, ...): `unshare(CLONE_NEWUSER)` and
/// `unshare -Ur` fail inside the sandbox. With capabilities dropped but no
/// seccomp filter, they would succeed.
#[cfg(feature = "seccomp")]
#[test]
fn nested_user_namespaces_are_denied() {
    as_each_identity(|| {
        contained("nested-userns", &[]);
        let out = sandbox()
            .output(Command::new("unshare").args(["-Ur", "true"]))
            .unwrap();
        assert!(!out.status.success(), "unshare -Ur worked");
    });
}

/// The kernel keyring is not namespaced: a program that inherits the
/// embedding process's session keyring can read its keys (found while
/// writing this suite, before the seccomp profile closed it), and `add_key`/`keyctl` give access to
/// a shared kernel attack surface (CVE-2016-0728).
#[cfg(feature = "seccomp")]
#[test]
fn keyring_of_the_embedding_process() {
    as_each_identity(|| {
        let desc = format!("stockade-escape-{}", std::process::id());
        // SAFETY: keyctl(JOIN_SESSION_KEYRING, NULL) gives this (test)
        // process a fresh session keyring of its own; add_key with valid
        // NUL-terminated strings and a buffer of the given length.
        let key = unsafe {
            libc::syscall(libc::SYS_keyctl, 1, std::ptr::null::<libc::c_char>());
            let d = std::ffi::CString::new(desc.clone()).unwrap();
            libc::syscall(
                libc::SYS_add_key,
                c"user".as_ptr(),
                d.as_ptr(),
                b"hunter2".as_ptr(),
                7usize,
                -3i32,
            )
        };
        assert!(key > 0, "{}", std::io::Error::last_os_error());
        contained("keyring", &[desc]);
    });
}

/// io_uring (a way around seccomp filters and a frequent source of kernel
/// escapes, e.g. CVE-2022-29582): `io_uring_setup` fails.
#[cfg(feature = "seccomp")]
#[test]
fn io_uring_is_denied() {
    as_each_identity(|| {
        contained("io-uring", &[]);
    });
}

/// The caller's session keys stay out of reach even with seccomp off: the
/// program gets a fresh session keyring of its own. (Creating keys then
/// works, as it would for any process; only the default profile stops it.)
#[test]
fn caller_session_keys_unreachable_without_seccomp() {
    as_each_identity(|| {
        let desc = format!("stockade-escape-noseccomp-{}", std::process::id());
        // SAFETY: as in keyring_of_the_embedding_process.
        let key = unsafe {
            libc::syscall(libc::SYS_keyctl, 1, std::ptr::null::<libc::c_char>());
            let d = std::ffi::CString::new(desc.clone()).unwrap();
            libc::syscall(
                libc::SYS_add_key,
                c"user".as_ptr(),
                d.as_ptr(),
                b"hunter2".as_ptr(),
                7usize,
                -3i32,
            )
        };
        assert!(key > 0, "{}", std::io::Error::last_os_error());
        #[allow(unused_mut)]
        let mut sb = sandbox();
        #[cfg(feature = "seccomp")]
        sb.seccomp(None);
        let report = run_probe(&sb, probe_cmd("keyring", &[desc]), "keyring");
        assert!(report.contains("done keyring"), "{report}");
        assert!(
            report.contains("contained read a key of the caller's session keyring"),
            "{report}"
        );
    });
}

/// Control for the seccomp-closed classes: with the profile off, the same
/// probes report escapes, so their tests above can fail.
#[cfg(feature = "seccomp")]
#[test]
fn seccomp_classes_escape_without_the_profile() {
    as_each_identity(|| {
        let mut sb = sandbox();
        sb.seccomp(None);
        let report = run_probe(&sb, probe_cmd("nested-userns", &[]), "nested-userns");
        assert!(
            report.contains("ESCAPED unshare(CLONE_NEWUSER)"),
            "nested user namespaces were refused without seccomp:\n{report}"
        );
        let report = run_probe(&sb, probe_cmd("io-uring", &[]), "io-uring");
        if std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
            .is_ok_and(|v| v.trim() != "0")
        {
            common::skip("io_uring is disabled by the kernel (kernel.io_uring_disabled)");
        } else {
            assert!(report.contains("ESCAPED"), "{report}");
        }
    });
}

/// Every entry beneath `dir` that others may not read (or, for a
/// directory, list and search), as this identity can see them; symbolic
/// links are not followed, and nothing beneath an entry listed is.
fn closed_to_others(dir: &Path) -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.file_type().is_symlink() {
                continue;
            }
            let mode = md.permissions().mode();
            let readable = mode & 0o004 != 0 && (!md.is_dir() || mode & 0o001 != 0);
            if !readable {
                out.push((e.path(), md.is_dir()));
            } else if md.is_dir() {
                pending.push(e.path());
            }
        }
    }
    out
}

/// Root-only files placed in the host's `/etc` and `/usr` for one test
/// (where they are writable), removed on drop.
struct RootOnlyFixtures {
    etc_file: PathBuf,
    usr_dir: Option<PathBuf>,
}

impl RootOnlyFixtures {
    fn create() -> Option<RootOnlyFixtures> {
        let etc_file = PathBuf::from(format!("/etc/.stockade-test-{}", std::process::id()));
        std::fs::write(&etc_file, "root-only").ok()?;
        std::fs::set_permissions(&etc_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let usr_dir = PathBuf::from(format!("/usr/.stockade-test-{}", std::process::id()));
        let usr_dir = std::fs::create_dir(&usr_dir).ok().map(|()| {
            std::fs::write(usr_dir.join("inside"), "root-only").unwrap();
            std::fs::set_permissions(&usr_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
            usr_dir
        });
        Some(RootOnlyFixtures { etc_file, usr_dir })
    }
}

impl Drop for RootOnlyFixtures {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.etc_file);
        if let Some(d) = &self.usr_dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// A shell script that prints `READ path` for each of `targets` it can
/// read (a directory: list as non-empty, or read an entry of), then `done`.
fn read_probe(targets: &[(PathBuf, bool)]) -> String {
    let mut script = String::from("cat /etc/passwd >/dev/null || echo BROKEN; ");
    for (p, dir) in targets {
        let p = p.display();
        if *dir {
            // A masked directory may be listed: it is empty.
            script.push_str(&format!(
                "[ -n \"$(ls -A '{p}' 2>/dev/null)\" ] && echo \"READ {p}\"; \
                 cat '{p}'/* >/dev/null 2>&1 && echo \"READ {p}/*\"; "
            ));
        } else {
            script.push_str(&format!("cat '{p}' >/dev/null 2>&1 && echo \"READ {p}\"; "));
        }
    }
    script.push_str("echo done");
    script
}

/// Files of the host that others may not read, in a root caller's sandbox
/// (whose uid 0 is the host's under the default 1:1 mapping, and an owner
/// needs no capability to read its own file). The system directories are
/// idmapped so that every file there is nobody's (where the kernel and the
/// filesystem allow it), else `/etc`'s closed entries are masked; beneath
/// the caller's own binds of `/etc` and a root directory of `/`, they are
/// masked with the host's secrets. Every entry of `/etc` that others may
/// not read (on this host, and one the test places there when it can)
/// stays unreadable: with and without a user namespace, keeping the
/// capabilities that override permissions when the view is idmapped (the
/// kernel grants none over unmapped owners), from the policy's template as
/// well as built whole; so does a root-only directory placed under `/usr`
/// when the report says the view is idmapped. `mask_host_secrets(false)`
/// is the opt-in that exposes them to a root caller's own bind.
#[test]
fn closed_files_of_the_host_are_unreadable_to_a_root_callers_program() {
    as_each_identity(|| {
        let fixtures = if is_root() {
            RootOnlyFixtures::create()
        } else {
            None
        };
        let targets = closed_to_others(Path::new("/etc"));
        if targets.is_empty() {
            common::skip("no entry of /etc is closed to others here, and none could be placed");
            return;
        }
        let usr = fixtures.as_ref().and_then(|f| f.usr_dir.clone());
        let mut policies = vec![("default", Sandbox::new())];
        let mut sb = Sandbox::new();
        sb.bind_ro("/etc", "/etc");
        policies.push(("bind of /etc at /etc", sb));
        let mut sb = Sandbox::new();
        sb.root_dir("/");
        policies.push(("root directory /", sb));
        if is_root() {
            let no_userns = stockade::Namespaces::default() - stockade::Namespaces::USER;
            let mut sb = Sandbox::new();
            sb.namespaces(no_userns);
            policies.push(("no user namespace", sb));
            let idmapped = Sandbox::new()
                .spawn(Command::new("/bin/true").stdout(Stdio::null()))
                .map(|c| c.enforcement().system_view_idmapped)
                .unwrap_or(false);
            if idmapped {
                for (name, ns) in [
                    ("DAC capabilities kept", stockade::Namespaces::default()),
                    ("DAC capabilities kept, no user namespace", no_userns),
                ] {
                    let mut sb = Sandbox::new();
                    sb.namespaces(ns)
                        .keep_capability(stockade::caps::Capability::DacOverride)
                        .keep_capability(stockade::caps::Capability::DacReadSearch);
                    policies.push((name, sb));
                }
            } else {
                eprintln!("system view not idmapped here: the masks alone are checked");
            }
        }
        for (name, sb) in &policies {
            // Three spawns: built whole, then from the policy's template.
            for round in 0..3 {
                let child = sb
                    .spawn(Command::new("/bin/sh").arg("-c").arg("true"))
                    .unwrap_or_else(|e| panic!("{name}: {}", chain(&e)));
                let idmapped = child.enforcement().system_view_idmapped;
                child.wait_with_output().unwrap();
                let mut all = targets.clone();
                if idmapped || !is_root() {
                    all.extend(usr.iter().map(|d| (d.clone(), true)));
                }
                let out = sb
                    .output(Command::new("/bin/sh").arg("-c").arg(read_probe(&all)))
                    .unwrap_or_else(|e| panic!("{name}: {}", chain(&e)));
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    stdout.ends_with("done\n")
                        && !stdout.contains("READ")
                        && !stdout.contains("BROKEN"),
                    "{name}, spawn {round} (system view idmapped: {idmapped}): a file closed to \
                     others is readable:\n{stdout}"
                );
            }
        }
        // The opt-in: a root caller's own bind of /etc then shows them (the
        // probe sees what it can read).
        if let Some(f) = &fixtures {
            let mut sb = Sandbox::new();
            sb.mask_host_secrets(false).bind_ro("/etc", "/etc");
            let out = sb
                .output(
                    Command::new("/bin/sh")
                        .arg("-c")
                        .arg(read_probe(&[(f.etc_file.clone(), false)])),
                )
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(stdout, format!("READ {}\ndone\n", f.etc_file.display()));
        }
        drop(fixtures);
    });
}
