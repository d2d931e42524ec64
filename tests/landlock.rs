//! Landlock against the running kernel.
//!
//! Every restriction is applied in a forked child (`pre_exec`) before it
//! executes either `/bin/sh` or this test binary again as a probe (the
//! ignored `probe` test, driven by `STOCKADE_PROBE*` variables) that issues
//! one system call and prints its errno. Expectations follow the kernel's
//! Landlock ABI: what the kernel cannot enforce must be reported as such and
//! must fail as a hard requirement.
#![cfg(feature = "landlock")]

mod common;

use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use stockade::{CompatLevel, confine, landlock};

// ---------------------------------------------------------------- helpers

/// The kernel's Landlock ABI, probed independently of the crate.
fn abi() -> u32 {
    // SAFETY: landlock_create_ruleset(NULL, 0, VERSION) reads no memory.
    let v = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, 0usize, 0usize, 1usize) };
    if v > 0 { v as u32 } else { 0 }
}

/// Landlock itself is needed by every test here; its absence is a skip, or
/// a failure in the VM suite.
fn landlock_or_skip() -> bool {
    if abi() == 0 {
        common::skip("the kernel has no Landlock");
        return false;
    }
    true
}

fn probe_exe() -> PathBuf {
    std::env::current_exe().unwrap()
}

/// What a program needs to run: system directories, this test binary.
fn base_policy() -> landlock::Policy {
    let mut p = landlock::Policy::new();
    for dir in ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32"] {
        if Path::new(dir).exists() {
            p.allow_read_exec(dir);
        }
    }
    p.allow_read("/etc")
        .allow("/dev/null", landlock::FsAccess::READ_WRITE)
        .allow_read_exec(probe_exe())
        // Whatever the kernel lacks is reported, not fatal: tests assert
        // per ABI.
        .compat(CompatLevel::BestEffort);
    p
}

fn prepare(policy: landlock::Policy) -> Arc<confine::Prepared> {
    Arc::new(
        confine::Confinement::new()
            .landlock(policy)
            .prepare()
            .unwrap(),
    )
}

fn confined(prepared: &Arc<confine::Prepared>, cmd: &mut Command) -> Output {
    let p = prepared.clone();
    // SAFETY: confine::Prepared::apply only issues raw system calls, which
    // is allowed between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            p.apply()
                .map_err(|e| io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(libc::EINVAL)))
        });
    }
    cmd.output().unwrap()
}

/// Runs `script` with /bin/sh under `prepared`; true if it exited 0.
fn sh(prepared: &Arc<confine::Prepared>, dir: &Path, script: &str) -> bool {
    let out = confined(
        prepared,
        Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir),
    );
    out.status.success()
}

/// Runs one probe under `prepared` and returns the errno it saw (0: success).
fn run_probe(prepared: &Arc<confine::Prepared>, op: &str, args: &[&str]) -> i32 {
    run_probe_with(prepared, None, op, args)
}

/// [`run_probe`], running `before` in the child first.
fn run_probe_with(
    prepared: &Arc<confine::Prepared>,
    before: Option<Box<dyn FnMut() -> io::Result<()> + Send + Sync>>,
    op: &str,
    args: &[&str],
) -> i32 {
    let mut cmd = Command::new(probe_exe());
    if let Some(hook) = before {
        // SAFETY: the hooks used here only issue async-signal-safe calls.
        unsafe { cmd.pre_exec(hook) };
    }
    cmd.args([
        "--exact",
        "probe",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("STOCKADE_PROBE", op)
    .env_remove("RUST_BACKTRACE");
    for (i, a) in args.iter().enumerate() {
        cmd.env(format!("STOCKADE_PROBE_{i}"), a);
    }
    let out = confined(prepared, &mut cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("PROBE_ERRNO=").map(|(_, v)| v))
        .unwrap_or_else(|| {
            panic!(
                "probe {op} {args:?} printed no result: {:?}\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    line.trim().parse().unwrap()
}

fn errno_of<T>(r: io::Result<T>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn libc_errno(ret: libc::c_int) -> i32 {
    if ret == 0 {
        0
    } else {
        io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    }
}

/// The probe: one system call, its errno on stdout.
#[test]
#[ignore = "helper executed by the other tests"]
fn probe() {
    let Ok(op) = std::env::var("STOCKADE_PROBE") else {
        return;
    };
    let arg = |i: usize| std::env::var(format!("STOCKADE_PROBE_{i}")).unwrap();
    let errno = match op.as_str() {
        "read" => errno_of(std::fs::read(arg(0))),
        "truncate" => errno_of(
            std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(arg(0)),
        ),
        "append" => errno_of(std::fs::OpenOptions::new().append(true).open(arg(0))),
        "link" => errno_of(std::fs::hard_link(arg(0), arg(1))),
        "rename" => errno_of(std::fs::rename(arg(0), arg(1))),
        "connect-tcp" => {
            let port: u16 = arg(0).parse().unwrap();
            errno_of(std::net::TcpStream::connect(("127.0.0.1", port)))
        }
        "bind-tcp" => {
            let port: u16 = arg(0).parse().unwrap();
            errno_of(std::net::TcpListener::bind(("127.0.0.1", port)))
        }
        "connect-abstract" => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(arg(0)).unwrap();
            errno_of(std::os::unix::net::UnixStream::connect_addr(&addr))
        }
        "kill" => {
            let pid: i32 = arg(0).parse().unwrap();
            let sig: i32 = arg(1).parse().unwrap();
            // SAFETY: kill takes no pointers.
            libc_errno(unsafe { libc::kill(pid, sig) })
        }
        "exec" => {
            let path = c(&arg(0));
            let argv = [path.as_ptr(), std::ptr::null()];
            let envp = [std::ptr::null()];
            // SAFETY: NUL-terminated strings and NULL-terminated arrays that
            // outlive the call; on success the process is replaced.
            unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
            io::Error::last_os_error().raw_os_error().unwrap_or(-1)
        }
        other => panic!("unknown probe {other}"),
    };
    println!("PROBE_ERRNO={errno}");
    std::process::exit(0);
}

struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Tree {
    /// ro/f, rw/f, rw/sub/, outside/secret, plus links made before
    /// confinement.
    fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for d in ["ro", "rw", "rw/sub", "outside", "exec"] {
            std::fs::create_dir(root.join(d)).unwrap();
        }
        std::fs::write(root.join("ro/f"), "ro").unwrap();
        std::fs::write(root.join("rw/f"), "rw").unwrap();
        std::fs::write(root.join("outside/secret"), "secret").unwrap();
        std::os::unix::fs::symlink("../outside/secret", root.join("rw/link-out")).unwrap();
        std::os::unix::fs::symlink("../ro/f", root.join("outside/link-in")).unwrap();
        std::fs::hard_link(root.join("outside/secret"), root.join("rw/old-hardlink")).unwrap();
        std::fs::copy("/bin/true", root.join("ro/true")).unwrap();
        std::fs::copy("/bin/true", root.join("exec/true")).unwrap();
        Tree { _dir: dir, root }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn s(&self, rel: &str) -> String {
        self.p(rel).to_str().unwrap().to_owned()
    }

    fn policy(&self) -> landlock::Policy {
        let mut p = base_policy();
        p.allow_read(self.p("ro"))
            .allow_read_write(self.p("rw"))
            .allow_read_exec(self.p("exec"));
        p
    }
}

// ------------------------------------------------------------ filesystem

#[test]
fn reads_and_writes_outside_the_rules_are_denied() {
    if !landlock_or_skip() {
        return;
    }
    let t = Tree::new();
    let prepared = prepare(t.policy());
    let ll = prepared.report().landlock.clone().unwrap();
    assert_eq!(ll.abi.map_or(0, |a| a.version()), abi());
    assert_eq!(ll.fs_read, landlock::Status::FullyEnforced);
    assert_eq!(ll.fs_write, landlock::Status::FullyEnforced);
    let cases: &[(&str, bool)] = &[
        ("cat ro/f", true),
        ("cat rw/f", true),
        ("ls ro", true),
        ("cat outside/secret", false),
        ("ls outside", false),
        ("cat ro/../outside/secret", false),
        ("cat rw/sub/../../outside/secret", false),
        // A symlink is followed and the target is checked.
        ("cat rw/link-out", false),
        ("cat outside/link-in", true),
        ("echo x > rw/new", true),
        ("mkdir rw/d", true),
        ("echo x > ro/new", false),
        ("echo x >> ro/f", false),
        ("rm ro/f", false),
        ("mkdir ro/d", false),
        ("echo x > outside/new", false),
        ("ln -s /etc/passwd ro/sym", false),
        ("ln -s /etc/passwd rw/sym", true),
    ];
    for (script, ok) in cases {
        assert_eq!(sh(&prepared, &t.root, script), *ok, "{script}");
    }
    // Unconfined, the denied ones work: the test is not vacuous.
    assert!(std::fs::read(t.p("outside/secret")).is_ok());
    // Landlock rules cover file hierarchies: a hard link that already existed
    // beneath an allowed directory is reachable through that directory.
    assert!(sh(&prepared, &t.root, "cat rw/old-hardlink"));
}

#[test]
fn links_and_renames_across_rule_boundaries_are_denied() {
    if !landlock_or_skip() {
        return;
    }
    let t = Tree::new();
    let prepared = prepare(t.policy());
    let v = abi();
    // Cross-directory links and renames need the refer right on both sides
    // (ABI 2+) and must not give the file more rights than it had; on ABI 1
    // they are always denied.
    let denied = |errno: i32| errno == libc::EXDEV || errno == libc::EACCES;
    let e = run_probe(&prepared, "link", &[&t.s("outside/secret"), &t.s("rw/hl")]);
    assert!(denied(e), "link outside -> rw: {e}");
    assert!(!t.p("rw/hl").exists());
    let e = run_probe(&prepared, "link", &[&t.s("ro/f"), &t.s("rw/hl")]);
    assert!(denied(e), "link ro -> rw: {e}");
    let e = run_probe(&prepared, "link", &[&t.s("rw/f"), &t.s("outside/hl")]);
    assert!(denied(e), "link rw -> outside: {e}");
    let e = run_probe(
        &prepared,
        "rename",
        &[&t.s("outside/secret"), &t.s("rw/moved")],
    );
    assert!(denied(e), "rename outside -> rw: {e}");
    let e = run_probe(&prepared, "rename", &[&t.s("rw/f"), &t.s("outside/moved")]);
    assert!(denied(e), "rename rw -> outside: {e}");
    let e = run_probe(&prepared, "rename", &[&t.s("ro/f"), &t.s("rw/moved")]);
    assert!(denied(e), "rename ro -> rw: {e}");
    assert!(t.p("outside/secret").exists() && t.p("rw/f").exists() && t.p("ro/f").exists());
    // Same directory: allowed with write rights.
    assert_eq!(
        run_probe(&prepared, "rename", &[&t.s("rw/f"), &t.s("rw/g")]),
        0
    );
    assert_eq!(
        run_probe(&prepared, "link", &[&t.s("rw/g"), &t.s("rw/h")]),
        0
    );
    // Between directories inside one read-write tree: the refer right, which
    // ABI 1 lacks (then reparenting is always denied).
    let e = run_probe(&prepared, "rename", &[&t.s("rw/g"), &t.s("rw/sub/g")]);
    let e2 = run_probe(&prepared, "link", &[&t.s("rw/h"), &t.s("rw/sub/h")]);
    if v >= 2 {
        assert_eq!((e, e2), (0, 0));
    } else {
        assert_eq!((e, e2), (libc::EXDEV, libc::EXDEV));
    }
}

#[test]
fn exec_needs_the_execute_right() {
    if !landlock_or_skip() {
        return;
    }
    let t = Tree::new();
    let prepared = prepare(t.policy());
    assert_eq!(
        run_probe(&prepared, "exec", &[&t.s("ro/true")]),
        libc::EACCES
    );
    assert!(sh(&prepared, &t.root, "./exec/true"));
    assert!(!sh(&prepared, &t.root, "./ro/true"));
}

#[test]
fn truncate_is_restricted_from_abi_3() {
    if !landlock_or_skip() {
        return;
    }
    let t = Tree::new();
    let mut policy = base_policy();
    // Writable without truncation: only the raw rights can say that.
    policy.allow(
        t.p("rw"),
        landlock::FsAccess::READ | landlock::FsAccess::WRITE_FILE,
    );
    let prepared = prepare(policy);
    let ll = prepared.report().landlock.clone().unwrap();
    let f = t.s("rw/f");
    assert_eq!(run_probe(&prepared, "append", &[&f]), 0);
    if abi() >= 3 {
        assert_eq!(ll.fs_truncate, landlock::Status::FullyEnforced);
        assert_eq!(run_probe(&prepared, "truncate", &[&f]), libc::EACCES);
        assert_eq!(std::fs::read(&f).unwrap(), b"rw");
    } else {
        // Best-effort on an older kernel: reported, and indeed not enforced.
        assert_eq!(ll.fs_truncate, landlock::Status::NotEnforced);
        assert!(ll.missing.contains(&landlock::Feature::FsTruncate));
        assert_eq!(run_probe(&prepared, "truncate", &[&f]), 0);
    }
}

#[test]
fn mirror_mounts_policy_holds_without_namespaces() {
    if !landlock_or_skip() {
        return;
    }
    let t = Tree::new();
    let mut exec: Vec<PathBuf> = ["/usr", "/bin", "/lib", "/lib64"]
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect();
    exec.push(t.p("exec"));
    exec.push(probe_exe());
    let mut policy = landlock::Policy::mirror_mounts(
        [t.p("ro"), "/etc".into()],
        [t.p("rw"), "/dev/null".into()],
        exec,
    );
    policy.fs_compat(CompatLevel::BestEffort);
    let prepared = prepare(policy);
    for (script, ok) in [
        ("cat ro/f", true),
        ("echo x > rw/new", true),
        ("echo x > ro/new", false),
        ("cat outside/secret", false),
        ("./exec/true", true),
        ("./ro/true", false),
    ] {
        assert_eq!(sh(&prepared, &t.root, script), ok, "{script}");
    }
}

// --------------------------------------------------------------- network

type Hook = Box<dyn FnMut() -> io::Result<()> + Send + Sync>;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// struct ifreq, as far as SIOCGIFFLAGS/SIOCSIFFLAGS use it.
#[repr(C)]
struct IfReqFlags {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

fn loopback_addr(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// A `pre_exec` hook giving the child a network of its own (a new user and
/// network namespace with loopback up, so ports are free and known) with a
/// TCP listener on each of `ports`, inherited by the program it executes.
fn own_network_with_listeners(ports: &'static [u16]) -> Hook {
    Box::new(move || {
        // SAFETY: unshare takes no pointers.
        check(unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) })?;
        // SAFETY: socket takes no pointers.
        let ctl = check(unsafe {
            libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
        })?;
        let mut req = IfReqFlags {
            name: [0; libc::IFNAMSIZ],
            flags: 0,
            _pad: [0; 22],
        };
        req.name[..2].copy_from_slice(b"lo");
        // SAFETY: req is a live struct ifreq prefix of the right size.
        check(unsafe { libc::ioctl(ctl, libc::SIOCGIFFLAGS, &mut req as *mut IfReqFlags) })?;
        req.flags |= libc::IFF_UP as libc::c_short;
        // SAFETY: as above.
        check(unsafe { libc::ioctl(ctl, libc::SIOCSIFFLAGS, &mut req as *mut IfReqFlags) })?;
        for port in ports {
            // Not close-on-exec: the listener lives on in the program.
            // SAFETY: socket takes no pointers.
            let fd = check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) })?;
            let addr = loopback_addr(*port);
            // SAFETY: addr is a live sockaddr_in of the given size.
            check(unsafe {
                libc::bind(
                    fd,
                    (&addr as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            })?;
            // SAFETY: listen takes no pointers.
            check(unsafe { libc::listen(fd, 8) })?;
        }
        Ok(())
    })
}

fn userns_available() -> bool {
    // SAFETY: fork; the child only calls unshare and _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: unshare takes no pointers; _exit ends the child.
        let r = unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) };
        // SAFETY: ends the forked child.
        unsafe { libc::_exit(if r == 0 { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

fn network_or_skip() -> bool {
    if !landlock_or_skip() {
        return false;
    }
    if !userns_available() {
        common::skip("the TCP tests need a user and network namespace of their own");
        return false;
    }
    true
}

/// Runs one probe in a network of its own with listeners on `ports`.
fn net_probe(prepared: &Arc<confine::Prepared>, ports: &'static [u16], op: &str, port: u16) -> i32 {
    run_probe_with(
        prepared,
        Some(own_network_with_listeners(ports)),
        op,
        &[&port.to_string()],
    )
}

#[test]
fn tcp_connect_to_other_ports_is_refused() {
    if !network_or_skip() {
        return;
    }
    const LISTENING: &[u16] = &[8080, 8081];
    let mut policy = base_policy();
    policy.allow_tcp_connect(8080);
    let prepared = prepare(policy);
    let ll = prepared.report().landlock.clone().unwrap();
    assert_eq!(net_probe(&prepared, LISTENING, "connect-tcp", 8080), 0);
    let e = net_probe(&prepared, LISTENING, "connect-tcp", 8081);
    if abi() >= 4 {
        assert_eq!(ll.net_connect, landlock::Status::FullyEnforced);
        assert_eq!(e, libc::EACCES);
    } else {
        assert_eq!(ll.net_connect, landlock::Status::NotEnforced);
        assert!(ll.missing.contains(&landlock::Feature::NetConnectTcp));
        assert_eq!(e, 0);
    }
}

#[test]
fn tcp_bind_to_other_ports_is_refused() {
    if !network_or_skip() {
        return;
    }
    // 8081 is taken: Landlock checks before the port is looked up, so the
    // child sees EACCES when it is enforced and EADDRINUSE when it is not.
    const LISTENING: &[u16] = &[8081];
    let mut policy = base_policy();
    policy.allow_tcp_bind(8080);
    let prepared = prepare(policy);
    assert_eq!(net_probe(&prepared, LISTENING, "bind-tcp", 8080), 0);
    let e = net_probe(&prepared, LISTENING, "bind-tcp", 8081);
    let expected = if abi() >= 4 {
        libc::EACCES
    } else {
        libc::EADDRINUSE
    };
    assert_eq!(e, expected);
    // A free port that is not allowed.
    let e = net_probe(&prepared, LISTENING, "bind-tcp", 8082);
    assert_eq!(e, if abi() >= 4 { libc::EACCES } else { 0 });
}

#[test]
fn network_hard_requirement() {
    let mut policy = landlock::Policy::new();
    policy.restrict_tcp();
    let result = confine::Confinement::new().landlock(policy).prepare();
    match (abi(), result) {
        (0, Err(confine::Error::Landlock(landlock::Error::Unavailable { .. }))) => {}
        (
            1..=3,
            Err(confine::Error::Landlock(landlock::Error::Unsupported {
                feature,
                kernel_abi,
                ..
            })),
        ) => {
            assert_eq!(feature, landlock::Feature::NetBindTcp);
            assert_eq!(kernel_abi.version(), abi());
        }
        (4.., Ok(p)) => {
            let ll = p.report().landlock.clone().unwrap();
            assert_eq!(ll.net_bind, landlock::Status::FullyEnforced);
            assert_eq!(ll.net_connect, landlock::Status::FullyEnforced);
            assert_eq!(ll.fs_read, landlock::Status::NotRequested);
        }
        (v, other) => panic!("ABI {v}: unexpected {other:?}"),
    }
}

// ---------------------------------------------------------------- scopes

#[test]
fn abstract_unix_sockets_outside_the_domain_are_unreachable() {
    if !landlock_or_skip() {
        return;
    }
    use std::os::linux::net::SocketAddrExt;
    let name = format!("stockade-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();

    // Without the scope the socket is reachable: the probe works.
    let open = prepare(base_policy());
    assert_eq!(run_probe(&open, "connect-abstract", &[&name]), 0);

    let mut policy = base_policy();
    policy.scope(landlock::Scope::ABSTRACT_UNIX_SOCKET);
    let prepared = prepare(policy);
    let ll = prepared.report().landlock.clone().unwrap();
    let e = run_probe(&prepared, "connect-abstract", &[&name]);
    if abi() >= 6 {
        assert_eq!(
            ll.scope_abstract_unix_socket,
            landlock::Status::FullyEnforced
        );
        assert_eq!(e, libc::EPERM);
    } else {
        assert_eq!(ll.scope_abstract_unix_socket, landlock::Status::NotEnforced);
        assert!(
            ll.missing
                .contains(&landlock::Feature::ScopeAbstractUnixSocket)
        );
        assert_eq!(e, 0);
    }
}

#[test]
fn signals_to_processes_outside_the_domain_are_blocked() {
    if !landlock_or_skip() {
        return;
    }
    let mut target = Command::new("sleep").arg("600").spawn().unwrap();
    let pid = target.id().to_string();

    let open = prepare(base_policy());
    assert_eq!(run_probe(&open, "kill", &[&pid, "0"]), 0);

    let mut policy = base_policy();
    policy.scope(landlock::Scope::SIGNAL);
    let prepared = prepare(policy);
    let ll = prepared.report().landlock.clone().unwrap();
    if abi() >= 6 {
        assert_eq!(ll.scope_signal, landlock::Status::FullyEnforced);
        assert_eq!(run_probe(&prepared, "kill", &[&pid, "0"]), libc::EPERM);
        let term = libc::SIGTERM.to_string();
        assert_eq!(run_probe(&prepared, "kill", &[&pid, &term]), libc::EPERM);
        assert!(
            target.try_wait().unwrap().is_none(),
            "the target was killed"
        );
    } else {
        assert_eq!(ll.scope_signal, landlock::Status::NotEnforced);
        assert_eq!(run_probe(&prepared, "kill", &[&pid, "0"]), 0);
    }
    target.kill().unwrap();
    target.wait().unwrap();
}

// ------------------------------------------------------- compatibility

#[test]
fn default_filesystem_rights_as_a_hard_requirement() {
    let mut policy = landlock::Policy::new();
    policy.allow_read("/usr");
    let result = confine::Confinement::new().landlock(policy).prepare();
    let expected = match abi() {
        0 => None,
        1 | 2 => Some(landlock::Feature::FsTruncate),
        3 | 4 => Some(landlock::Feature::FsIoctlDev),
        _ => None,
    };
    match (abi(), expected, result) {
        (0, _, Err(confine::Error::Landlock(landlock::Error::Unavailable { .. }))) => {}
        (v, Some(want), Err(confine::Error::Landlock(e))) => {
            let landlock::Error::Unsupported {
                feature,
                kernel_abi,
                ..
            } = &e
            else {
                panic!("unexpected {e:?}");
            };
            assert_eq!((*feature, kernel_abi.version()), (want, v));
            let msg = e.to_string();
            assert!(msg.contains(want.linux_version()), "{msg}");
            eprintln!("as expected on ABI {v}: {msg}");
        }
        (5.., None, Ok(p)) => {
            let ll = p.report().landlock.clone().unwrap();
            assert_eq!(ll.status, landlock::Status::FullyEnforced);
        }
        (v, _, other) => panic!("ABI {v}: unexpected {other:?}"),
    }
}

#[test]
fn scopes_hard_requirement() {
    let mut policy = landlock::Policy::new();
    policy.scope(landlock::Scope::SIGNAL | landlock::Scope::ABSTRACT_UNIX_SOCKET);
    match (
        abi(),
        confine::Confinement::new().landlock(policy).prepare(),
    ) {
        (0, Err(confine::Error::Landlock(landlock::Error::Unavailable { .. }))) => {}
        (1..=5, Err(confine::Error::Landlock(landlock::Error::Unsupported { feature, .. }))) => {
            assert_eq!(feature, landlock::Feature::ScopeAbstractUnixSocket);
        }
        (6.., Ok(p)) => {
            let ll = p.report().landlock.clone().unwrap();
            assert_eq!(ll.status, landlock::Status::FullyEnforced);
        }
        (v, other) => panic!("ABI {v}: unexpected {other:?}"),
    }
}

/// Rights newer than the running kernel: a typed error as a hard
/// requirement; best-effort runs, enforces the rest and reports the gap.
#[test]
fn rights_newer_than_the_kernel() {
    if !landlock_or_skip() {
        return;
    }
    let v = abi();
    let t = Tree::new();
    let mut hard = landlock::Policy::new();
    hard.handle_fs(landlock::FsAccess::READ | landlock::FsAccess::RESOLVE_UNIX)
        .allow_read(t.p("ro"));
    let mut udp = landlock::Policy::new();
    udp.allow_net(53, landlock::NetAccess::CONNECT_SEND_UDP);
    for (policy, feature) in [
        (hard.clone(), landlock::Feature::FsResolveUnix),
        (udp, landlock::Feature::NetConnectSendUdp),
    ] {
        let r = confine::Confinement::new().landlock(policy).prepare();
        if v < feature.abi().version() {
            match r {
                Err(confine::Error::Landlock(landlock::Error::Unsupported {
                    feature: f,
                    kernel_abi,
                    ..
                })) => assert_eq!((f, kernel_abi.version()), (feature, v)),
                other => panic!("{feature:?}: unexpected {other:?}"),
            }
        } else {
            assert!(r.is_ok(), "{feature:?}: {r:?}");
        }
    }
    if v >= landlock::Feature::FsResolveUnix.abi().version() {
        eprintln!("note: this kernel has every right this crate knows; only the success path ran");
        return;
    }

    // Best-effort: runs, reports the gap, enforces the rest.
    let mut best = base_policy();
    best.handle_fs(landlock::FsAccess::READ | landlock::FsAccess::RESOLVE_UNIX)
        .allow_read(t.p("ro"));
    let prepared = prepare(best);
    let ll = prepared.report().landlock.clone().unwrap();
    assert!(ll.missing.contains(&landlock::Feature::FsResolveUnix));
    assert_eq!(ll.fs_resolve_unix, landlock::Status::NotEnforced);
    assert_eq!(ll.status, landlock::Status::PartiallyEnforced);
    assert_eq!(run_probe(&prepared, "read", &[&t.s("ro/f")]), 0);
    assert_eq!(
        run_probe(&prepared, "read", &[&t.s("outside/secret")]),
        libc::EACCES
    );
}

#[test]
fn missing_rule_path_is_named() {
    if !landlock_or_skip() {
        return;
    }
    let t = Tree::new();
    let missing = t.p("nope");
    let mut policy = landlock::Policy::new();
    policy
        .handle_fs(landlock::FsAccess::READ)
        .allow_read(&missing);
    match confine::Confinement::new()
        .landlock(policy.clone())
        .prepare()
    {
        Err(confine::Error::Landlock(e @ landlock::Error::RulePath { .. })) => {
            let landlock::Error::RulePath { path, .. } = &e else {
                unreachable!()
            };
            assert_eq!(path, &missing);
            assert!(e.to_string().contains("nope"), "{e}");
        }
        other => panic!("unexpected {other:?}"),
    }
    policy.fs_compat(CompatLevel::BestEffort);
    let report = policy.validate().unwrap();
    assert!(
        format!("{:?}", report.notes).contains("nope"),
        "{:?}",
        report.notes
    );
}

#[cfg(feature = "serde")]
#[test]
fn policy_round_trips_through_serde() {
    let t = Tree::new();
    let mut policy = t.policy();
    policy
        .allow_tcp_connect(443)
        .scope(landlock::Scope::SIGNAL)
        .net_compat(CompatLevel::HardRequirement);
    let json = serde_json::to_string(&policy).unwrap();
    assert!(
        json.contains("best_effort") && json.contains("hard_requirement"),
        "{json}"
    );
    let back: landlock::Policy = serde_json::from_str(&json).unwrap();
    assert_eq!(back, policy);
    if abi() > 0 {
        let report = policy.compat(CompatLevel::BestEffort).validate().unwrap();
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["abi"], abi());
        assert!(json["fs_read"].is_string(), "{json}");
    }
}
