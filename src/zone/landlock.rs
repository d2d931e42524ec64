//! Landlock: the one routine that turns a lowered policy into a kernel
//! ruleset.
//!
//! The parent lowers a policy once (`crate::landlock::lower`) to [`Rules`]:
//! plain data with the rights already masked to what the kernel supports.
//! [`build`] creates the ruleset, opens each rule path and adds the rules,
//! with raw system calls only, so that it is legal here. Two callers:
//!
//! * each program process of a sandbox ([`apply_in_child`]), after
//!   `pivot_root`: rule paths are then the program's view, and rules can
//!   name the sandbox's own mounts, which do not exist before;
//! * [`Confinement`](crate::confine::Confinement) in the caller
//!   (`crate::landlock::prepare`), where rule paths are the caller's view; the
//!   ruleset descriptor is kept and applied later with [`restrict_self`].

use core::ffi::{CStr, c_int};
#[allow(clippy::disallowed_types)]
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::sys::landlock::{
    self as ll, LandlockNetPortAttr, LandlockPathBeneathAttr, LandlockRulesetAttr,
};
use crate::sys::raw::{self, Errno};

// The rules are built and owned by the parent (`crate::landlock::lower`);
// this file only reads them.
/// One path rule, lowered.
#[derive(Debug)]
#[allow(clippy::disallowed_types)]
pub(crate) struct PathRule {
    pub(crate) path: CString,
    /// Rights granted when the path is a directory.
    pub(crate) dir_access: u64,
    /// Rights granted when it is anything else.
    pub(crate) file_access: u64,
    /// Left out, instead of failing, when the path cannot be opened.
    pub(crate) optional: bool,
}

/// A policy lowered to what the kernel takes: the ruleset attribute, the
/// path rules, the port rules.
#[derive(Debug)]
#[allow(clippy::disallowed_types)]
pub(crate) struct Rules {
    pub(crate) attr: LandlockRulesetAttr,
    pub(crate) paths: Vec<PathRule>,
    pub(crate) ports: Vec<LandlockNetPortAttr>,
}

/// The step of [`build`] that failed, with the rule's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failed {
    /// `landlock_create_ruleset`.
    Create,
    /// Opening (or examining) path rule `i`.
    Open(usize),
    /// Adding path rule `i`.
    AddPath(usize),
    /// Adding port rule `i`.
    AddPort(usize),
}

/// Error index of `landlock_create_ruleset` in a failure record.
pub(crate) const INDEX_CREATE: u32 = u32::MAX - 1;
/// Error index of `landlock_restrict_self` in a failure record.
pub(crate) const INDEX_RESTRICT: u32 = u32::MAX;

/// Creates the ruleset and adds every rule, paths resolved from the
/// current root and working directory (following symbolic links). An
/// optional path that cannot be opened is left out and passed to
/// `skipped` with the kernel's answer. Returns the ruleset descriptor.
///
/// No allocation, no panics: legal in the child zone.
pub(crate) fn build(
    rules: &Rules,
    mut skipped: impl FnMut(usize, Errno),
) -> Result<raw::Fd, (Failed, Errno)> {
    let fd = ll::landlock_create_ruleset(&rules.attr).map_err(|e| (Failed::Create, e))?;
    add_rules(rules, fd.raw(), &mut skipped)?;
    Ok(fd)
}

fn add_rules(
    rules: &Rules,
    fd: c_int,
    skipped: &mut impl FnMut(usize, Errno),
) -> Result<(), (Failed, Errno)> {
    for (i, rule) in rules.paths.iter().enumerate() {
        let (pfd, is_dir) = match open_path(&rule.path) {
            Ok(opened) => opened,
            Err(e) if rule.optional => {
                skipped(i, e);
                continue;
            }
            Err(e) => return Err((Failed::Open(i), e)),
        };
        let access = if is_dir {
            rule.dir_access
        } else {
            rule.file_access
        };
        if access != 0 {
            ll::landlock_add_path_rule(
                fd,
                &LandlockPathBeneathAttr {
                    allowed_access: access,
                    parent_fd: pfd.raw(),
                },
            )
            .map_err(|e| (Failed::AddPath(i), e))?;
        }
    }
    for (i, port) in rules.ports.iter().enumerate() {
        ll::landlock_add_net_rule(fd, port).map_err(|e| (Failed::AddPort(i), e))?;
    }
    Ok(())
}

/// Opens `path` with `O_PATH` and says whether it is a directory.
fn open_path(path: &CStr) -> Result<(raw::Fd, bool), Errno> {
    let pfd = raw::openat(libc::AT_FDCWD, path, libc::O_PATH | libc::O_CLOEXEC, 0)?;
    // SAFETY: all-zero is a valid stat to be overwritten.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    raw::fstatat(pfd.raw(), c"", &mut st, libc::AT_EMPTY_PATH)?;
    Ok((pfd, st.st_mode & libc::S_IFMT == libc::S_IFDIR))
}

/// Program process: builds the ruleset, restricts itself with it, closes
/// it. On failure: the index of the rule (paths first, then ports;
/// [`INDEX_CREATE`], [`INDEX_RESTRICT`]) and the kernel's answer.
///
/// Needs `no_new_privs` or `CAP_SYS_ADMIN`.
pub(crate) fn apply_in_child(rules: &Rules) -> Result<(), (u32, Errno)> {
    let fd = build(rules, |_, _| {}).map_err(|(step, e)| {
        let index = match step {
            Failed::Create => INDEX_CREATE,
            Failed::Open(i) | Failed::AddPath(i) => i as u32,
            Failed::AddPort(i) => rules.paths.len().saturating_add(i) as u32,
        };
        (index, e)
    })?;
    ll::landlock_restrict_self(fd.raw(), 0)
        .map(drop)
        .map_err(|e| (INDEX_RESTRICT, e))
}

/// Enforces the ruleset `fd` on the calling thread, or on every thread with
/// [`ll::LANDLOCK_RESTRICT_SELF_TSYNC`] in `flags`. No allocation.
pub(crate) fn restrict_self(fd: BorrowedFd<'_>, flags: u32) -> Result<(), Errno> {
    ll::landlock_restrict_self(fd.as_raw_fd(), flags).map(drop)
}

// Test code, run in the parent (and in forked children that only make raw
// calls between fork and _exit).
#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
mod tests {
    //! Against the running kernel: everything irreversible runs in forked
    //! children.

    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    use super::*;
    use crate::compat::CompatLevel;
    use crate::landlock::lower::{View, lower};
    use crate::landlock::{self, FsAccess, kernel_abi, prepare};
    use crate::sys::raw::sc;
    use crate::sys::raw::syscall6;

    fn cstr(p: &Path) -> CString {
        CString::new(p.as_os_str().as_bytes()).unwrap()
    }

    /// Forks; the child runs `f` (raw system calls only: the parent is
    /// multi-threaded) and exits with its result.
    fn in_child(f: impl FnOnce() -> i32) -> i32 {
        // SAFETY: the child only issues raw system calls and then _exit()s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = f();
            // SAFETY: ends the child without running the parent's destructors.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above; status is a live i32.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid);
        assert!(libc::WIFEXITED(status), "child died: {status:#x}");
        libc::WEXITSTATUS(status)
    }

    /// 0 if `path` opens for reading, else the errno.
    fn open_errno(path: &CString) -> i32 {
        // SAFETY: path is NUL-terminated and outlives the call.
        match unsafe {
            sc!(
                libc::SYS_openat,
                libc::AT_FDCWD,
                path.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC
            )
        } {
            Ok(fd) => {
                // SAFETY: closes the fd just opened.
                let _ = unsafe { sc!(libc::SYS_close, fd) };
                0
            }
            Err(Errno(e)) => e,
        }
    }

    fn kernel_version() -> Option<landlock::Abi> {
        kernel_abi().version()
    }

    fn skip_without_landlock() -> bool {
        if kernel_version().is_some() {
            return false;
        }
        eprintln!("SKIPPED: no Landlock on this kernel");
        assert!(std::env::var_os("STOCKADE_REQUIRE_ALL_FEATURES").is_none());
        true
    }

    /// `landlock_restrict_self(fd, 0)`.
    fn restrict(fd: c_int) -> Result<(), Errno> {
        ll::landlock_restrict_self(fd, 0).map(drop)
    }

    /// A filesystem policy every Landlock kernel (ABI 1+) can enforce.
    fn abi1_policy(allowed: &Path) -> landlock::Policy {
        let mut p = landlock::Policy::new();
        p.handle_fs(FsAccess::READ).allow_read(allowed);
        p
    }

    #[test]
    fn file_rules_keep_file_rights_only() {
        if skip_without_landlock() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        // READ_DIR on a file would be EINVAL from the kernel: it is dropped.
        let p = abi1_policy(&file);
        let prepared = prepare(&p).unwrap();
        let fd = prepared.fd().unwrap().as_raw_fd();
        let (f, other) = (cstr(&file), cstr(dir.path()));
        let code = in_child(|| {
            if set_no_new_privs_raw().is_err() || restrict(fd).is_err() {
                return 100;
            }
            match (open_errno(&f), open_errno(&other)) {
                (0, libc::EACCES) => 0,
                (0, _) => 2,
                _ => 1,
            }
        });
        assert_eq!(code, 0);
    }

    fn set_no_new_privs_raw() -> Result<(), Errno> {
        crate::zone::caps::set_no_new_privs()
    }

    #[test]
    fn one_ruleset_fd_serves_many_processes_threads_and_layers() {
        if skip_without_landlock() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let allowed = dir.path().join("allowed");
        let denied = dir.path().join("denied");
        std::fs::create_dir(&allowed).unwrap();
        std::fs::create_dir(&denied).unwrap();
        std::fs::write(allowed.join("a"), "a").unwrap();
        std::fs::write(denied.join("b"), "b").unwrap();
        let prepared = std::sync::Arc::new(prepare(&abi1_policy(&allowed)).unwrap());
        let a = std::sync::Arc::new(cstr(&allowed.join("a")));
        let b = std::sync::Arc::new(cstr(&denied.join("b")));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (prepared, a, b) = (prepared.clone(), a.clone(), b.clone());
                std::thread::spawn(move || {
                    let fd = prepared.fd().unwrap().as_raw_fd();
                    for i in 0..8 {
                        // Some children stack the same ruleset several times.
                        let layers = 1 + (t + i) % 3;
                        let code = in_child(|| {
                            if set_no_new_privs_raw().is_err() {
                                return 100;
                            }
                            for _ in 0..layers {
                                if restrict(fd).is_err() {
                                    return 101;
                                }
                            }
                            match (open_errno(&a), open_errno(&b)) {
                                (0, libc::EACCES) => 0,
                                (0, _) => 2,
                                _ => 1,
                            }
                        });
                        assert_eq!(code, 0, "thread {t} child {i}");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // The parent itself is untouched.
        assert_eq!(open_errno(&b), 0);
    }

    #[test]
    fn restrict_self_without_no_new_privs_is_refused() {
        if skip_without_landlock() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let policy = abi1_policy(dir.path());
        let prepared = prepare(&policy).unwrap();
        let fd = prepared.fd().unwrap().as_raw_fd();
        let lowered = lower(&policy, kernel_abi(), View::Sandbox).unwrap();
        let rules = lowered.rules().unwrap();
        let code = in_child(|| {
            // Drop CAP_SYS_ADMIN (root test runs) so that only no_new_privs
            // could allow restrict_self.
            // SAFETY: capset over stack structs that outlive the call.
            unsafe {
                let mut hdr = [0x2008_0522u32, 0];
                let data = [0u32; 6];
                let _ = sc!(libc::SYS_capset, hdr.as_mut_ptr(), data.as_ptr());
            }
            match restrict(fd) {
                Err(Errno(libc::EPERM)) => {}
                Err(_) => return 2,
                Ok(()) => return 1,
            }
            // A program process names the step.
            match apply_in_child(rules) {
                Err((INDEX_RESTRICT, Errno(libc::EPERM))) => 0,
                Err(_) => 4,
                Ok(()) => 3,
            }
        });
        assert_eq!(code, 0);
    }

    /// A sandbox's program process: the same routine builds the ruleset
    /// from the lowered rules, then restricts the process; a failure names
    /// the rule by its index.
    #[test]
    fn apply_in_child_builds_and_restricts() {
        if skip_without_landlock() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let allowed = dir.path().join("allowed");
        let denied = dir.path().join("denied");
        let missing = dir.path().join("missing");
        std::fs::create_dir(&allowed).unwrap();
        std::fs::create_dir(&denied).unwrap();
        std::fs::write(allowed.join("a"), "a").unwrap();
        std::fs::write(denied.join("b"), "b").unwrap();
        let mut policy = abi1_policy(&allowed);
        policy.allow_try(&missing, FsAccess::READ);
        let lowered = lower(&policy, kernel_abi(), View::Sandbox).unwrap();
        let rules = lowered.rules().unwrap();
        let (a, b) = (cstr(&allowed.join("a")), cstr(&denied.join("b")));
        let code = in_child(|| {
            if set_no_new_privs_raw().is_err() {
                return 100;
            }
            if apply_in_child(rules).is_err() {
                return 101;
            }
            match (open_errno(&a), open_errno(&b)) {
                (0, libc::EACCES) => 0,
                (0, _) => 2,
                _ => 1,
            }
        });
        assert_eq!(code, 0);

        // A required rule path that is missing: its index and the kernel's
        // answer, before anything is restricted.
        let mut policy = abi1_policy(&allowed);
        policy.allow_read(&missing);
        let lowered = lower(&policy, kernel_abi(), View::Sandbox).unwrap();
        let rules = lowered.rules().unwrap();
        let code = in_child(|| match apply_in_child(rules) {
            Err((1, Errno(libc::ENOENT))) => 0,
            Err(_) => 1,
            Ok(()) => 2,
        });
        assert_eq!(code, 0);
        assert_eq!(
            lowered.rule_name(1),
            Some(crate::landlock::RuleName::Path(&missing))
        );
    }

    /// A kernel refusal keeps its errno, in the caller's preparation.
    #[test]
    fn kernel_errors_keep_their_errno() {
        if skip_without_landlock() {
            return;
        }
        let mut p = landlock::Policy::new();
        p.handle_fs(FsAccess::READ);
        let lowered = lower(&p, kernel_abi(), View::Sandbox).unwrap();
        let rules = lowered.rules().unwrap();
        let code = in_child(|| {
            // No free descriptor: creating the ruleset fails with EMFILE.
            // (This child allocates: acceptable in a test, glibc's malloc is
            // fork-safe, and nothing here takes another lock.)
            let limit = libc::rlimit {
                rlim_cur: 3,
                rlim_max: 3,
            };
            for fd in 3..1024 {
                // SAFETY: closes descriptors this child does not use.
                let _ = unsafe { sc!(libc::SYS_close, fd) };
            }
            // SAFETY: setrlimit reads a live stack struct.
            if unsafe {
                sc!(
                    libc::SYS_setrlimit,
                    libc::RLIMIT_NOFILE,
                    &limit as *const libc::rlimit
                )
            }
            .is_err()
            {
                return 100;
            }
            match prepare(&p) {
                Err(landlock::Error::CreateRuleset { source })
                    if source.raw_os_error() == Some(libc::EMFILE) => {}
                Err(_) => return 1,
                Ok(_) => return 2,
            }
            // A program process names the step.
            match apply_in_child(rules) {
                Err((INDEX_CREATE, Errno(libc::EMFILE))) => 0,
                Err(_) => 3,
                Ok(()) => 4,
            }
        });
        assert_eq!(code, 0);
    }

    /// Rules refer to inodes: after the child's mount namespace changes, the
    /// rule still covers the directory wherever it is mounted, and does not
    /// cover whatever now sits at the original path.
    #[test]
    fn rules_follow_inodes_across_mount_namespace_changes() {
        if skip_without_landlock() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let allowed = dir.path().join("allowed");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&allowed).unwrap();
        std::fs::create_dir(&mnt).unwrap();
        std::fs::write(allowed.join("a"), "a").unwrap();
        let policy = abi1_policy(&allowed);
        let prepared = prepare(&policy).unwrap();
        let fd = prepared.fd().unwrap().as_raw_fd();
        let root = root_is_privileged();

        let (c_allowed, c_mnt) = (cstr(&allowed), cstr(&mnt));
        let c_view = cstr(&mnt.join("view"));
        let c_view_a = cstr(&mnt.join("view").join("a"));
        let c_old_a = cstr(&allowed.join("a"));
        let c_shadow = cstr(&allowed.join("shadow"));
        let uid_map = format!("0 {} 1", nix::unistd::geteuid()).into_bytes();
        let gid_map = format!("0 {} 1", nix::unistd::getegid()).into_bytes();
        let c_setgroups = CString::new("/proc/self/setgroups").unwrap();
        let c_uid_map = CString::new("/proc/self/uid_map").unwrap();
        let c_gid_map = CString::new("/proc/self/gid_map").unwrap();
        let (slash, tmpfs) = (CString::new("/").unwrap(), CString::new("tmpfs").unwrap());
        let code = in_child(|| {
            let flags = if root {
                libc::CLONE_NEWNS
            } else {
                libc::CLONE_NEWNS | libc::CLONE_NEWUSER
            };
            if raw_unshare(flags).is_err() {
                return 90;
            }
            // Unprivileged: map our ids, or nothing can be created.
            if !root
                && (raw_write(&c_setgroups, b"deny").is_err()
                    || raw_write(&c_uid_map, &uid_map).is_err()
                    || raw_write(&c_gid_map, &gid_map).is_err())
            {
                return 89;
            }
            let none = None;
            if raw_mount(none, &slash, none, libc::MS_REC | libc::MS_PRIVATE).is_err() {
                return 91;
            }
            // The directory appears somewhere else...
            if raw_mount(Some(&tmpfs), &c_mnt, Some(&tmpfs), 0).is_err()
                || raw_mkdir(&c_view).is_err()
                || raw_mount(Some(&c_allowed), &c_view, none, libc::MS_BIND).is_err()
            {
                return 92;
            }
            // ...and something else now sits at its original path.
            if raw_mount(Some(&tmpfs), &c_allowed, Some(&tmpfs), 0).is_err() {
                return 93;
            }
            if raw_create(&c_shadow).is_err() {
                return 94;
            }
            if open_errno(&c_old_a) != libc::ENOENT || open_errno(&c_shadow) != 0 {
                return 95;
            }
            if set_no_new_privs_raw().is_err() || restrict(fd).is_err() {
                return 100;
            }
            if open_errno(&c_view_a) != 0 {
                return 1;
            }
            if open_errno(&c_shadow) != libc::EACCES {
                return 2;
            }
            0
        });
        assert_eq!(code, 0);
    }

    fn raw_unshare(flags: i32) -> Result<usize, Errno> {
        // SAFETY: unshare takes no pointers.
        unsafe { sc!(libc::SYS_unshare, flags) }
    }

    fn raw_mount(
        src: Option<&CString>,
        target: &CString,
        fstype: Option<&CString>,
        flags: libc::c_ulong,
    ) -> Result<usize, Errno> {
        let ptr = |s: Option<&CString>| s.map_or(core::ptr::null(), |s| s.as_ptr());
        // SAFETY: NUL-terminated strings (or NULL) that outlive the call; no
        // mount data.
        unsafe {
            sc!(
                libc::SYS_mount,
                ptr(src),
                target.as_ptr(),
                ptr(fstype),
                flags,
                0usize
            )
        }
    }

    fn raw_mkdir(path: &CString) -> Result<usize, Errno> {
        // SAFETY: a NUL-terminated string that outlives the call.
        unsafe { sc!(libc::SYS_mkdirat, libc::AT_FDCWD, path.as_ptr(), 0o755) }
    }

    fn raw_write(path: &CString, data: &[u8]) -> Result<(), Errno> {
        // SAFETY: a NUL-terminated string that outlives the call.
        let fd = unsafe {
            sc!(
                libc::SYS_openat,
                libc::AT_FDCWD,
                path.as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC
            )
        }?;
        // SAFETY: data is a live buffer of data.len() bytes.
        let r = unsafe { sc!(libc::SYS_write, fd, data.as_ptr(), data.len()) };
        // SAFETY: closes the fd just opened.
        let _ = unsafe { sc!(libc::SYS_close, fd) };
        r.map(|_| ())
    }

    fn raw_create(path: &CString) -> Result<(), Errno> {
        // SAFETY: a NUL-terminated string that outlives the call.
        let fd = unsafe {
            sc!(
                libc::SYS_openat,
                libc::AT_FDCWD,
                path.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644
            )
        }?;
        // SAFETY: closes the fd just opened.
        let _ = unsafe { sc!(libc::SYS_close, fd) };
        Ok(())
    }

    fn monotonic_ns() -> u64 {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: writes into a live stack timespec.
        let _ = unsafe {
            sc!(
                libc::SYS_clock_gettime,
                libc::CLOCK_MONOTONIC,
                &mut t as *mut libc::timespec
            )
        };
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    }

    fn root_is_privileged() -> bool {
        ::caps::has_cap(
            None,
            ::caps::CapSet::Effective,
            ::caps::Capability::CAP_SYS_ADMIN,
        )
        .unwrap_or(false)
    }

    /// Costs of preparing a typical ruleset and of restrict_self; prints
    /// numbers, asserts nothing about them.
    #[test]
    #[ignore = "measurement: cargo test --release --lib zone::landlock::tests::measure -- --ignored --nocapture"]
    fn measure() {
        assert!(kernel_version().is_some(), "needs Landlock");
        let dirs = [
            "/usr",
            "/bin",
            "/lib",
            "/etc",
            "/tmp",
            "/var",
            "/opt",
            "/srv",
            "/home",
            "/dev/null",
        ];
        let mut policy = landlock::Policy::new();
        for d in &dirs[..5] {
            policy.allow_read_exec(d);
        }
        for d in &dirs[5..] {
            policy.allow_read_write(d);
        }
        policy.compat(CompatLevel::BestEffort);
        let n = 2000;
        let start = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(prepare(&policy).unwrap());
        }
        let per = start.elapsed() / n;
        println!(
            "prepare (10 paths, ABI {}): {per:?} per ruleset",
            kernel_version().unwrap()
        );

        let prepared = prepare(&policy).unwrap();
        let fd = prepared.fd().unwrap().as_raw_fd();
        let mut samples = Vec::new();
        for _ in 0..200 {
            let mut pipe = [0; 2];
            // SAFETY: pipe writes two fds into the array.
            assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
            let w = pipe[1];
            let code = in_child(|| {
                let _ = set_no_new_privs_raw();
                let t0 = monotonic_ns();
                if restrict(fd).is_err() {
                    return 1;
                }
                let ns = monotonic_ns() - t0;
                // SAFETY: reads 8 bytes from a live stack value.
                let _ = unsafe { sc!(libc::SYS_write, w, &ns as *const u64, 8) };
                0
            });
            assert_eq!(code, 0);
            let mut buf = [0u8; 8];
            // SAFETY: reads 8 bytes into a live buffer.
            let n = unsafe { libc::read(pipe[0], buf.as_mut_ptr().cast(), 8) };
            assert_eq!(n, 8);
            for fd in pipe {
                // SAFETY: closes the pipe ends created above.
                unsafe { libc::close(fd) };
            }
            samples.push(u64::from_ne_bytes(buf));
        }
        samples.sort_unstable();
        println!(
            "restrict_self: median {} ns, p90 {} ns, min {} ns ({} samples, one per fresh process)",
            samples[samples.len() / 2],
            samples[samples.len() * 9 / 10],
            samples[0],
            samples.len()
        );
    }

    /// Per-spawn cost of building and applying a sandbox's ruleset in the
    /// program process (create, open + fstat + add_rule per path, restrict):
    /// prints numbers, asserts nothing about them.
    #[test]
    #[ignore = "measurement: cargo test --release --lib landlock::tests::measure_spawn_ruleset -- --ignored --nocapture"]
    fn measure_spawn_ruleset() {
        assert!(kernel_version().is_some(), "needs Landlock");
        let mirror = landlock::Policy::from_fs_plan(&crate::fs::Config::default(), true).unwrap();
        let mut explicit = landlock::Policy::new();
        for d in ["/usr", "/bin", "/lib", "/lib64", "/etc"] {
            explicit.allow_try(d, FsAccess::READ_EXEC);
        }
        explicit
            .allow_read_write("/tmp")
            .allow("/dev/null", FsAccess::READ_WRITE);
        let mut scope_only = landlock::Policy::new();
        scope_only.scope(landlock::Scope::ABSTRACT_UNIX_SOCKET | landlock::Scope::SIGNAL);
        for (name, mut policy) in [
            ("scopes only (0 paths)", scope_only),
            ("7 paths", explicit),
            ("default mount plan mirrored", mirror),
        ] {
            policy.compat(CompatLevel::BestEffort);
            let lowered = lower(&policy, kernel_abi(), View::Sandbox).unwrap();
            let rules = lowered.rules().unwrap();
            let mut samples = Vec::new();
            for _ in 0..300 {
                let mut pipe = [0; 2];
                // SAFETY: pipe writes two fds into the array.
                assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
                let w = pipe[1];
                let code = in_child(|| {
                    let _ = set_no_new_privs_raw();
                    let t0 = monotonic_ns();
                    if apply_in_child(rules).is_err() {
                        return 1;
                    }
                    let ns = monotonic_ns() - t0;
                    // SAFETY: reads 8 bytes from a live stack value.
                    let _ = unsafe { sc!(libc::SYS_write, w, &ns as *const u64, 8) };
                    0
                });
                assert_eq!(code, 0);
                let mut buf = [0u8; 8];
                // SAFETY: reads 8 bytes into a live buffer.
                let n = unsafe { libc::read(pipe[0], buf.as_mut_ptr().cast(), 8) };
                assert_eq!(n, 8);
                for fd in pipe {
                    // SAFETY: closes the pipe ends created above.
                    unsafe { libc::close(fd) };
                }
                samples.push(u64::from_ne_bytes(buf));
            }
            samples.sort_unstable();
            println!(
                "build + restrict, {name} ({} rules, ABI {}): median {} ns, p90 {} ns, min {} ns ({} fresh processes)",
                rules.paths.len(),
                kernel_version().unwrap(),
                samples[samples.len() / 2],
                samples[samples.len() * 9 / 10],
                samples[0],
                samples.len()
            );
        }
    }
}
