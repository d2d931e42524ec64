//! Helpers shared by the integration tests.
//!
//! Most users run unprivileged, and CI runs as root, so every test of a
//! feature an unprivileged user can use goes through [`as_each_identity`]:
//! run as root, the test body runs once as root and once more, in a
//! re-executed copy of the test binary, as an unprivileged uid. Run as a
//! normal user, it runs once.
//!
//! # Tests that cannot run everywhere
//!
//! A test reports `ok` only when it ran. There are three kinds of tests that
//! cannot run on every machine:
//!
//! - Tests that need what only the VM runner (`tests/vm/run`) provides: a
//!   delegated cgroup v2 subtree ([`delegated_cgroup`]) or the VM's kernel
//!   ([`vm_kernel`]). They are marked
//!   `#[cfg_attr(not(stockade_vm), ignore = "needs ...; tests/vm/run runs it")]`:
//!   on a host they show as `ignored` with that reason, and the VM runner,
//!   which builds with `RUSTFLAGS=--cfg stockade_vm`, runs them. Wherever they
//!   run, a missing requirement fails them, and a test that asks for one
//!   without the mark fails on every host, whatever the host has (see
//!   [`assert_marked_for_the_vm`]).
//! - Tests of a feature a host may lack (Landlock, user namespaces, python3):
//!   they call [`skip`], which prints `SKIPPED: <reason>` and lets the test
//!   pass, except where every feature is required
//!   (`STOCKADE_REQUIRE_ALL_FEATURES=1`: CI's host run and the VM runner) or
//!   in a VM build, where it fails the test.
//! - Tests that need root: their names end in `_as_root` and their body runs
//!   through [`as_root`]; the VM runner's unprivileged run leaves them out
//!   (`--skip _as_root`), and an unprivileged user's run reports them through
//!   [`skip`].
#![allow(dead_code, clippy::multiple_unsafe_ops_per_block)]

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The unprivileged identity tests drop to.
pub const TEST_UID: u32 = 65534;
pub const TEST_GID: u32 = 65534;

const REEXEC_ENV: &str = "STOCKADE_TEST_REEXEC";

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Whether missing kernel features must fail tests (the VM suite sets this).
pub fn require_all_features() -> bool {
    std::env::var_os("STOCKADE_REQUIRE_ALL_FEATURES").is_some_and(|v| v == "1")
}

/// Reports a feature this host lacks: a loud skip, or a failure when every
/// feature is required or in a VM build (whose environment promises every
/// feature the tests use).
///
/// Only for what a host may or may not have (Landlock, user namespaces, a
/// program): what only the VM provides goes through [`delegated_cgroup`] or
/// [`vm_kernel`] in a test marked for the VM.
#[track_caller]
pub fn skip(reason: &str) {
    if require_all_features() || cfg!(stockade_vm) {
        panic!("required feature unavailable: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// Installs the Debian package `package` (after `apt-get update` when the
/// first try fails), one install at a time in this process; whether it
/// worked. Only root can; the caller decides whether to.
#[allow(dead_code)]
pub fn apt_install(package: &str) -> bool {
    static APT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = APT.lock().unwrap_or_else(|e| e.into_inner());
    let install = || {
        std::process::Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-q",
                "-o",
                "DPkg::Lock::Timeout=600",
                package,
            ])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    install() || {
        let _ = std::process::Command::new("apt-get")
            .args(["update", "-q"])
            .stdout(std::process::Stdio::null())
            .status();
        install()
    }
}

/// The path of `command`, installing the Debian package `package` that
/// provides it when it is missing and this process is root (the test
/// set-up's real component, never a stand-in). Without it (not root, or the
/// install failed) this reports a [`skip`] and returns `None`.
pub fn debian_package(command: &str, package: &str) -> Option<PathBuf> {
    let find = || {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain(["/usr/sbin".into(), "/sbin".into()])
            .map(|d| d.join(command))
            .find(|p| p.is_file())
    };
    if let Some(p) = find() {
        return Some(p);
    }
    if is_root() && !cfg!(stockade_vm) {
        apt_install(package);
        if let Some(p) = find() {
            return Some(p);
        }
    }
    skip(&format!(
        "{command} (Debian package {package}) is not installed"
    ));
    None
}

/// The command line (src/bin/stockade), which `cargo test --features cli`
/// builds, made executable for every identity the tests run as.
pub fn cli_binary() -> PathBuf {
    let target = deps_dir().parent().unwrap().join("stockade");
    assert!(
        target.exists(),
        "the stockade binary {} is not built (it needs the feature \"cli\": cargo test --all-features)",
        target.display()
    );
    world_executable(&target)
}

/// Whether the test binary was asked to run ignored tests (`--ignored` or
/// `--include-ignored`).
pub fn ignored_tests_requested() -> bool {
    std::env::args().any(|a| a == "--ignored" || a == "--include-ignored")
}

/// Fails the running test unless it may need what only the VM runner
/// provides: in a VM build (`--cfg stockade_vm`), or when ignored tests were
/// asked for. Everywhere else the test can only have run because it lacks the
/// mark `#[cfg_attr(not(stockade_vm), ignore = "needs ...; tests/vm/run runs
/// it")]`, which would let it report `ok` on hosts without `need`: that fails
/// on every host, whatever the host has.
#[track_caller]
pub fn assert_marked_for_the_vm(need: &str) {
    if cfg!(stockade_vm) || ignored_tests_requested() {
        return;
    }
    panic!(
        "this test needs {need}, which only tests/vm/run provides: mark it \
         #[cfg_attr(not(stockade_vm), ignore = \"needs {need}; tests/vm/run runs it\")]"
    );
}

/// A shell script that waits (at most 300 s: a boot under emulation takes
/// tens of seconds) for systemd to finish booting and prints its state.
/// Until systemd's socket exists, systemctl answers "offline" at once.
pub const SYSTEMD_BOOTED: &str = "timeout 300 sh -c 'until [ -S /run/systemd/private ]; \
     do sleep 0.2; done; systemctl is-system-running --wait'";

/// The Debian userland with systemd that tests/vm/run builds (its path)
/// and the first subordinate uid and gid its owners are shifted to (0 is
/// uid and gid 1000, n is that id + n - 1); a [`skip`] without it.
pub fn system_tree() -> Option<(String, u32, u32)> {
    let (Ok(tree), Ok(ids)) = (
        std::env::var("STOCKADE_TEST_SYSTEM_TREE"),
        std::env::var("STOCKADE_TEST_SYSTEM_SUBIDS"),
    ) else {
        skip("no Debian userland: STOCKADE_TEST_SYSTEM_TREE is not set (tests/vm/run sets it)");
        return None;
    };
    let (u, g) = ids
        .split_once(':')
        .expect("STOCKADE_TEST_SYSTEM_SUBIDS is UID:GID");
    Some((tree, u.parse().unwrap(), g.parse().unwrap()))
}

/// The delegated cgroup v2 subtree for the test's sandboxes
/// (`STOCKADE_TEST_CGROUP_PARENT`, which `tests/vm/run` provides) with the
/// memory, pids and cpu controllers. For tests marked for the VM; fails the
/// test when there is none.
#[track_caller]
pub fn delegated_cgroup() -> PathBuf {
    const NEED: &str = "a delegated cgroup v2 subtree";
    assert_marked_for_the_vm(NEED);
    let Some(p) = std::env::var_os("STOCKADE_TEST_CGROUP_PARENT").map(PathBuf::from) else {
        panic!("needs {NEED}: STOCKADE_TEST_CGROUP_PARENT is not set (tests/vm/run sets it)");
    };
    let controllers = std::fs::read_to_string(p.join("cgroup.controllers")).unwrap_or_default();
    for c in ["memory", "pids", "cpu"] {
        assert!(
            controllers.split_whitespace().any(|w| w == c),
            "needs {NEED}: {} does not offer the {c} controller",
            p.display()
        );
    }
    p
}

/// The kernel series the VM runner booted (`STOCKADE_VM_KERNEL`: `6.1` or
/// `6.12`). For tests marked for the VM; fails the test outside the VM.
#[track_caller]
pub fn vm_kernel() -> String {
    const NEED: &str = "the test VM's kernel";
    assert_marked_for_the_vm(NEED);
    std::env::var("STOCKADE_VM_KERNEL")
        .unwrap_or_else(|_| panic!("needs {NEED}: STOCKADE_VM_KERNEL is not set"))
}

/// A copy of the current test binary that an unprivileged uid can execute.
fn world_executable_copy() -> &'static Path {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        let owner =
            std::env::var("STOCKADE_TEST_OWNER").unwrap_or_else(|_| std::process::id().to_string());
        let dir = std::path::Path::new("/tmp").join(format!("stockade-test-{owner}"));
        if std::env::var_os("STOCKADE_TEST_OWNER").is_none() {
            remove_stale_copies();
        }
        std::fs::create_dir_all(&dir).expect("create copy dir");
        // Sticky and world-writable like /tmp itself: both identities add
        // their copies (atomically, by rename).
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777));
        let dst = dir.join(exe.file_name().unwrap());
        if !dst.exists() {
            let tmp = dir.join(format!(".copy{}", std::process::id()));
            std::fs::copy(&exe, &tmp).expect("copy test binary");
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::rename(&tmp, &dst).unwrap();
        }
        dst
    })
}

/// Removes copy directories left by test processes that no longer exist.
fn remove_stale_copies() {
    let Ok(rd) = std::fs::read_dir("/tmp") else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name
            .strip_prefix("stockade-test-")
            .and_then(|p| p.parse::<u32>().ok())
        {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// A world-executable copy of `path` (for binaries under a target directory
/// an unprivileged uid may not be able to reach).
pub fn world_executable(path: &Path) -> PathBuf {
    let dir = world_executable_copy().parent().unwrap().to_owned();
    let dst = dir.join(path.file_name().unwrap());
    if !dst.exists() {
        // Tests of one binary copy at once: each its own temporary name.
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let tmp = dir.join(format!(
            ".{}.tmp{}.{}",
            path.file_name().unwrap().to_string_lossy(),
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::copy(path, &tmp).expect("copy binary");
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, &dst).unwrap();
    }
    dst
}

/// The directory holding the original (not copied) test binaries.
pub fn deps_dir() -> PathBuf {
    std::env::var_os("STOCKADE_TEST_DEPS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::current_exe()
                .unwrap()
                .parent()
                .unwrap()
                .to_owned()
        })
}

/// The name of the running test (libtest names each test's thread after it).
fn test_name() -> String {
    std::thread::current()
        .name()
        .expect("test thread has a name")
        .to_owned()
}

/// Runs `body` in a process of its own (so checks of process-wide state,
/// such as open descriptors and children, are not disturbed by other tests),
/// as the current identity and, when that is root, again as an unprivileged
/// uid.
pub fn as_each_identity(body: impl FnOnce()) {
    if std::env::var_os(REEXEC_ENV).is_some() {
        body();
        return;
    }
    let single = std::env::var_os("STOCKADE_TEST_SINGLE_IDENTITY").is_some();
    reexec(false);
    if is_root() && !single {
        reexec(true);
    }
}

/// Runs `body`, in a process of its own, as root: for tests of what only
/// root can do. Their names end in `_as_root`, which lets the VM runner's
/// unprivileged run leave them out; run by another user they are a feature
/// this host lacks ([`skip`]).
#[track_caller]
pub fn as_root(body: impl FnOnce()) {
    if std::env::var_os(REEXEC_ENV).is_some() {
        body();
        return;
    }
    let name = test_name();
    assert!(
        name.ends_with("_as_root"),
        "{name} runs only as root: its name must end in `_as_root` (the VM runner's \
         unprivileged run leaves such tests out)"
    );
    if !is_root() {
        return skip("needs root");
    }
    reexec(false);
}

/// Runs `body`, in a process of its own, as an unprivileged uid: the test
/// uid when the caller is root, the caller's own otherwise.
pub fn as_unprivileged(body: impl FnOnce()) {
    if std::env::var_os(REEXEC_ENV).is_some() {
        body();
        return;
    }
    reexec(is_root());
}

/// Re-executes the running test alone in a new process, optionally as the
/// unprivileged test uid, and asserts it passed.
fn reexec(unprivileged: bool) {
    let name = test_name();
    let mut cmd = if unprivileged {
        std::process::Command::new(world_executable_copy())
    } else {
        std::process::Command::new(std::env::current_exe().unwrap())
    };
    let owner =
        std::env::var("STOCKADE_TEST_OWNER").unwrap_or_else(|_| std::process::id().to_string());
    cmd.arg(&name)
        .arg("--exact")
        .arg("--nocapture")
        .arg("--test-threads=1")
        .env(REEXEC_ENV, "1")
        .env("STOCKADE_TEST_OWNER", owner)
        .env("STOCKADE_TEST_DEPS_DIR", deps_dir());
    // An #[ignore]d test runs only on request, and then in the re-executed
    // copy too (and only then: see `assert_marked_for_the_vm`).
    if ignored_tests_requested() {
        cmd.arg("--include-ignored");
    }
    let mut home = None;
    if unprivileged {
        let h = std::env::temp_dir().join(format!(
            "stockade-test-home-{}-{}",
            std::process::id(),
            name.replace("::", "-")
        ));
        std::fs::create_dir_all(&h).unwrap();
        nix::unistd::chown(&h, Some(TEST_UID.into()), Some(TEST_GID.into())).unwrap();
        cmd.env("HOME", &h).env("TMPDIR", &h).current_dir(&h);
        as_test_user(&mut cmd);
        home = Some(h);
    }
    let who = if unprivileged {
        format!("uid {TEST_UID}")
    } else {
        format!("uid {}", nix::unistd::geteuid())
    };
    // A process forked by another test while the copy was being written
    // holds a writable descriptor to it until it exits or executes, and
    // meanwhile executing the copy fails with ETXTBSY: try again shortly.
    let mut attempts = 0;
    let out = loop {
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempts < 2400 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            r => break r.expect("re-exec test"),
        }
    };
    if let Some(h) = home {
        let _ = std::fs::remove_dir_all(h);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "test {name} failed as {who}:\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    for line in stderr.lines().filter(|l| {
        l.starts_with("SKIPPED") || l.starts_with("measured:") || l.contains("sandboxes from")
    }) {
        eprintln!("{line} (as {who})");
    }
}

/// A `sh -c script` command.
pub fn sh(script: &str) -> stockade::Command {
    let mut c = stockade::Command::new("/bin/sh");
    c.arg("-c").arg(script);
    c
}

/// Runs `script` in `sb` and returns (status, stdout, stderr), panicking
/// with the error chain if the spawn fails.
pub fn run(sb: &stockade::Sandbox, script: &str) -> (stockade::ExitStatus, String, String) {
    let out = sb
        .output(&mut sh(script))
        .unwrap_or_else(|e| panic!("spawn failed: {}", chain(&e)));
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `script` and returns its stdout, asserting it exited 0.
pub fn stdout_of(sb: &stockade::Sandbox, script: &str) -> String {
    let (st, out, err) = run(sb, script);
    assert!(
        st.success(),
        "script failed ({st}): {script}\nstdout: {out}\nstderr: {err}"
    );
    out
}

/// An error with its sources, one per line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!("\n  caused by: {c}"));
        cur = c.source();
    }
    s
}

/// Number of open descriptors in this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Names of the open descriptors in this process, with their targets.
pub fn fd_list() -> Vec<(String, OsString)> {
    let mut v: Vec<_> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_link(e.path())
                    .unwrap_or_default()
                    .into_os_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Waits (up to 60 s) until this process holds no seccomp listener, then
/// returns its descriptor count. The observer of refused calls closes a
/// sandbox's listener once the sandbox's processes are gone, a moment
/// after the sandbox ended: a count taken before that is one too high.
/// Only for when no sandbox of this process is meant to be alive.
#[allow(dead_code)]
pub fn fd_count_without_listeners() -> usize {
    let listening = || {
        fd_list()
            .iter()
            .any(|(_, target)| target.to_string_lossy().contains("seccomp notify"))
    };
    let start = std::time::Instant::now();
    while listening() && start.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(
        !listening(),
        "a seccomp listener stayed open: {:?}",
        fd_list()
    );
    fd_count()
}

/// What this process's descriptors are, without their numbers: each
/// target with every run of digits (descriptor, inode, pid, thread id)
/// written `N`, sorted. Two snapshots are equal when the process holds as
/// many descriptors of the same kinds, though one it keeps may have been
/// replaced by another of its kind meanwhile (a cached mount namespace
/// rebuilt because the host's mount table changed, say).
#[allow(dead_code)]
pub fn fd_kinds() -> Vec<String> {
    let mut v: Vec<String> = fd_list()
        .into_iter()
        .map(|(_, target)| {
            let mut out = String::new();
            let mut digits = false;
            for c in target.to_string_lossy().chars() {
                if c.is_ascii_digit() {
                    if !digits {
                        out.push('N');
                    }
                    digits = true;
                } else {
                    out.push(c);
                    digits = false;
                }
            }
            out
        })
        .collect();
    v.sort();
    v
}

/// Whether this process has no children left (running or zombie), as
/// `waitid` sees them; otherwise what it saw.
pub fn no_children() -> Result<(), String> {
    // SAFETY: all-zero is a valid siginfo to be filled in.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid with WNOHANG|WNOWAIT only inspects.
    let r = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL,
        )
    };
    let err = std::io::Error::last_os_error();
    // SAFETY: si_pid is valid to read after waitid (zero if nothing was filled in).
    let pid = unsafe { info.si_pid() };
    if r == -1 && err.raw_os_error() == Some(libc::ECHILD) {
        Ok(())
    } else {
        Err(format!(
            "this process still has children (waitid returned {r}, pid {pid})"
        ))
    }
}

/// Asserts this process has no children left (running or zombie).
pub fn assert_no_children() {
    if let Err(e) = no_children() {
        panic!("{e}");
    }
}

/// Children of this process as listed by the kernel (needs CONFIG_PROC_CHILDREN).
pub fn children_of_self() -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc/self/task") {
        for t in rd.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
            }
        }
    }
    out
}

/// Whether a process exists.
pub fn pid_alive(pid: u32) -> bool {
    // A zombie counts as gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// Runs the `#[ignore]`d test `helper` of the running test binary alone, in
/// a new process, and returns its stdout, asserting that it passed.
pub fn run_helper_test(helper: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            helper,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && s.contains("1 passed"),
        "{s}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s
}

/// Installs, on this whole process, a seccomp filter that answers system
/// call `nr` with ENOSYS (as an old kernel, or a container runtime's filter,
/// would) and allows everything else; then checks it took effect.
pub fn answer_enosys(nr: libc::c_long) {
    let insn = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let filter = [
        insn(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0),
        insn(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 1, nr as u32),
        insn(
            libc::BPF_RET | libc::BPF_K,
            0,
            0,
            libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
        ),
        insn(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut _,
    };
    // SAFETY: integer arguments only; affects this process.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    assert_eq!(r, 0);
    // SAFETY: installs a valid filter, alive for the call, on every thread.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &prog,
        )
    };
    assert_eq!(r, 0);
    // SAFETY: with the filter in place the call never reaches the kernel;
    // null and zero arguments are what it would get.
    let r = unsafe { libc::syscall(nr, 0usize, 0usize) };
    assert_eq!(
        (r, std::io::Error::last_os_error().raw_os_error()),
        (-1, Some(libc::ENOSYS))
    );
}

/// Waits until `done`, at most a minute (a guard against hanging, not a
/// measure of speed), and fails naming `what` if it never is.
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(
            std::time::Instant::now() < give_up,
            "gave up waiting until {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Whether files in `dir` take `user.` extended attributes (tmpfs, the test
/// VM's `/tmp`, has them from Linux 6.6): a layer directory kept there needs
/// them, and so does an opaque directory of a layer or of an overlay's
/// temporary upper layer (a tmpfs).
pub fn user_xattrs(dir: &std::path::Path) -> bool {
    let probe = dir.join(".xattr-probe");
    std::fs::write(&probe, "").unwrap();
    let path = std::ffi::CString::new(probe.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: both strings are NUL-terminated; the value is 1 readable byte.
    let r = unsafe {
        libc::setxattr(
            path.as_ptr(),
            c"user.probe".as_ptr(),
            b"1".as_ptr().cast(),
            1,
            0,
        )
    };
    std::fs::remove_file(&probe).unwrap();
    r == 0
}

/// Makes sure the test uid can map subordinate ids: as root, installs
/// `newuidmap`/`newgidmap` (package `uidmap`) and adds entries for the test
/// uid (by number) to `/etc/subuid` and `/etc/subgid` where it has none,
/// each a range of 65536 that overlaps no other entry, under a lock.
/// Returns the first subordinate uid and gid of the test uid.
pub fn subordinate_ids() -> Option<(u32, u32)> {
    if is_root() && !cfg!(stockade_vm) {
        debian_package("newuidmap", "uidmap")?;
        debian_package("newgidmap", "uidmap")?;
        let _lock = lock_file(Path::new("/run/stockade-test-subids.lock"));
        for file in ["/etc/subuid", "/etc/subgid"] {
            use std::io::Write;
            let text = std::fs::read_to_string(file).unwrap_or_default();
            if subordinate_entry(&text).is_some() {
                continue;
            }
            let end = text
                .lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.trim().split(':').collect();
                    let first: u64 = f.get(1)?.parse().ok()?;
                    let count: u64 = f.get(2)?.parse().ok()?;
                    Some(first + count)
                })
                .max()
                .unwrap_or(0);
            // Above every other entry, on a 65536 boundary, from 1000000.
            let first = end.max(1_000_000).div_ceil(65536) * 65536;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(file)
                .unwrap();
            if !text.is_empty() && !text.ends_with('\n') {
                writeln!(f).unwrap();
            }
            writeln!(f, "{TEST_UID}:{first}:65536").unwrap();
        }
    }
    let read = |f| subordinate_entry(&std::fs::read_to_string(f).unwrap_or_default());
    match (read("/etc/subuid"), read("/etc/subgid")) {
        (Some(u), Some(g)) => Some((u, g)),
        _ => {
            skip("the test uid has no /etc/subuid or /etc/subgid entry (the root run adds it)");
            None
        }
    }
}

/// The first id of the test uid's entry (by number or as `nobody`).
fn subordinate_entry(text: &str) -> Option<u32> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.trim().split(':').collect();
        if f.len() == 3 && (f[0] == TEST_UID.to_string() || f[0] == "nobody") {
            f[1].parse().ok()
        } else {
            None
        }
    })
}

/// An exclusive lock on `path`, held until the file is dropped.
pub fn lock_file(path: &Path) -> std::fs::File {
    let f = std::fs::File::create(path).unwrap();
    // SAFETY: flock on a descriptor we own.
    let r = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&f), libc::LOCK_EX) };
    assert_eq!(r, 0);
    f
}

/// Makes `cmd` run as the unprivileged test uid and gid, without
/// supplementary groups (the caller must be root).
pub fn as_test_user(cmd: &mut std::process::Command) -> &mut std::process::Command {
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setresgid(TEST_GID, TEST_GID, TEST_GID) != 0
                || libc::setresuid(TEST_UID, TEST_UID, TEST_UID) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Runs Debian's `umoci` (at `umoci`) with `args` in `dir`; fails the test,
/// with umoci's message, if it fails.
pub fn umoci(umoci: &Path, dir: &Path, args: &[&str]) {
    let out = std::process::Command::new(umoci)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every sandbox cgroup under `parent`, whoever made it.
pub fn all_sandbox_cgroups(parent: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("stockade-"))
        .collect()
}
