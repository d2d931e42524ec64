//! Self-confinement: a program restricting its own process after start-up.
//!
//! [`Confinement`] gathers what to apply (capabilities, `no_new_privs`,
//! Landlock, seccomp); [`Confinement::prepare`] does all the fallible,
//! allocating work (opening rule paths, creating the ruleset, reading the
//! capability state, compiling the seccomp filter);
//! [`Prepared::apply`] then issues only raw system calls, in the
//! order capabilities, `no_new_privs`, Landlock, seccomp.
//!
//! # Threads
//!
//! Capabilities, `no_new_privs`, Landlock domains and seccomp filters belong
//! to a *thread*:
//! restricting one thread leaves its siblings as they were. Threads and
//! processes created *after* [`Prepared::apply`] inherit every
//! restriction of the thread that created them. `apply` guarantees that the
//! whole process is confined, and otherwise refuses with
//! [`Error::MultiThreaded`] before changing anything:
//!
//! - in a single-threaded process (it counts the entries of
//!   `/proc/self/task`; only the calling thread could start another one, so
//!   the count cannot go stale before the restrictions are in place);
//! - in a multi-threaded process, when the confinement does not change
//!   capabilities and each of its Landlock ruleset and seccomp filter reaches
//!   every thread by itself: a seccomp filter always does
//!   (`SECCOMP_FILTER_FLAG_TSYNC`, Linux 3.17), a Landlock ruleset on Linux
//!   7.0+ (Landlock ABI 8, `LANDLOCK_RESTRICT_SELF_TSYNC`); either sets
//!   `no_new_privs` on every thread along with it. Capabilities have no such
//!   mechanism, so a confinement that changes them needs a single thread.
//!
//! So call it before starting threads (and before starting an async
//! runtime), or in a freshly forked child.
//! [`Confinement::current_thread_only`] lifts the check for callers who want
//! only the calling thread confined (a worker thread that handles untrusted
//! input, for instance): then the calling thread and what it creates later
//! are confined and the other threads are not, except that on Linux 7.0+ the
//! Landlock ruleset and `no_new_privs` still reach every thread. (The seccomp
//! filter is then installed on the calling thread only.)
//!
//! # After `fork`
//!
//! [`Prepared::apply`] does not allocate, lock or panic, so it
//! may run in the child of `fork` in a multi-threaded program, for example in
//! [`std::os::unix::process::CommandExt::pre_exec`].

use core::ffi::c_int;
use std::io;

#[cfg(any(feature = "landlock", feature = "seccomp"))]
use crate::caps::Capability;
use crate::caps::{self, CapContext, CapPlan};
#[cfg(feature = "landlock")]
use crate::landlock::{self, PreparedLandlock};
#[cfg(feature = "seccomp")]
use crate::seccomp::{self, CompiledFilter};
use crate::sys::raw::{self, Errno};

/// What to apply to the current process.
///
/// ```no_run
/// # #[cfg(feature = "landlock")] {
/// use stockade::confine::Confinement;
/// use stockade::landlock;
/// let mut fs = landlock::Policy::new();
/// fs.allow_read_exec("/usr").allow_read("/etc").allow_read_write("/tmp");
/// let report = Confinement::new().landlock(fs).apply()?;
/// eprintln!("{report:?}");
/// # }
/// # Ok::<(), stockade::confine::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confinement {
    #[cfg(feature = "landlock")]
    landlock: Option<landlock::Policy>,
    #[cfg(feature = "seccomp")]
    seccomp: Option<seccomp::Policy>,
    capabilities: Option<caps::Policy>,
    no_new_privs: bool,
    current_thread_only: bool,
    in_new_user_namespace: bool,
}

impl Default for Confinement {
    fn default() -> Self {
        Self::new()
    }
}

impl Confinement {
    /// Only `no_new_privs`, until more is added.
    pub fn new() -> Self {
        Self {
            #[cfg(feature = "landlock")]
            landlock: None,
            #[cfg(feature = "seccomp")]
            seccomp: None,
            capabilities: None,
            no_new_privs: true,
            current_thread_only: false,
            in_new_user_namespace: false,
        }
    }

    /// Enforces a Landlock policy (Linux 5.13+; see [`landlock::Policy`] for
    /// the version of each right).
    #[cfg(feature = "landlock")]
    pub fn landlock(&mut self, policy: landlock::Policy) -> &mut Self {
        self.landlock = Some(policy);
        self
    }

    /// Installs a seccomp filter (Linux 3.17; see [`seccomp::Policy`] for the
    /// actions' versions), last, after Landlock. The filter goes on every
    /// thread of the process at once (`SECCOMP_FILTER_FLAG_TSYNC`), or on
    /// the calling thread only with
    /// [`current_thread_only`](Self::current_thread_only). Like Landlock it
    /// needs `no_new_privs` unless `CAP_SYS_ADMIN` is held (and kept).
    ///
    /// ```no_run
    /// use stockade::confine::Confinement;
    /// use stockade::seccomp;
    /// let report = Confinement::new()
    ///     .seccomp(seccomp::Policy::default_profile())
    ///     .apply()?;
    /// assert!(report.seccomp_all_threads);
    /// # Ok::<(), stockade::confine::Error>(())
    /// ```
    #[cfg(feature = "seccomp")]
    pub fn seccomp(&mut self, policy: seccomp::Policy) -> &mut Self {
        self.seccomp = Some(policy);
        self
    }

    /// Reduces the capability sets to `policy`'s kept capabilities. Without
    /// this call the capability sets are left alone. The policy's own
    /// `no_new_privs` setting is ignored here; use
    /// [`no_new_privs`](Self::no_new_privs).
    pub fn capabilities(&mut self, policy: caps::Policy) -> &mut Self {
        self.capabilities = Some(policy);
        self
    }

    /// Whether to set `no_new_privs` (default `true`). Landlock and seccomp
    /// need it unless `CAP_SYS_ADMIN` is held (and kept) when they are
    /// applied.
    pub fn no_new_privs(&mut self, yes: bool) -> &mut Self {
        self.no_new_privs = yes;
        self
    }

    /// Allows confining only the calling thread of a multi-threaded process
    /// (default `false`: such a process is refused). See the module
    /// documentation.
    pub fn current_thread_only(&mut self, yes: bool) -> &mut Self {
        self.current_thread_only = yes;
        self
    }

    /// Declares that [`Prepared::apply`] will run in a process
    /// that has entered a new user namespace since preparation (for example a
    /// forked child after `unshare(CLONE_NEWUSER)`), and so holds every
    /// capability there. The capability plan then relies on that instead of
    /// on the preparing process's own capabilities; `apply` fails if it does
    /// not hold. Default `false`.
    pub fn in_new_user_namespace(&mut self, yes: bool) -> &mut Self {
        self.in_new_user_namespace = yes;
        self
    }

    /// Does the fallible work: opens the Landlock rule paths, creates the
    /// ruleset, compiles the seccomp filter (and checks the kernel supports
    /// its actions) and computes the capability plan for the current
    /// process.
    pub fn prepare(&self) -> Result<Prepared, Error> {
        let caps = match &self.capabilities {
            Some(policy) => {
                let ctx = if self.in_new_user_namespace {
                    CapContext::new_user_namespace(false)?
                } else {
                    CapContext::inherited(false)?
                };
                let mut plan = caps::plan(policy, &ctx)?;
                plan.set_no_new_privs(false);
                Some(plan)
            }
            None => None,
        };

        // Landlock and seccomp need no_new_privs or CAP_SYS_ADMIN.
        #[cfg(any(feature = "landlock", feature = "seccomp"))]
        let check_privs = || -> Result<(), Error> {
            if self.no_new_privs {
                return Ok(());
            }
            let has_admin = match &caps {
                Some(plan) => plan.keeps(Capability::SysAdmin),
                None => ::caps::has_cap(
                    None,
                    ::caps::CapSet::Effective,
                    ::caps::Capability::CAP_SYS_ADMIN,
                )
                .unwrap_or(false),
            };
            if has_admin {
                Ok(())
            } else {
                Err(Error::NoNewPrivsRequired)
            }
        };

        #[cfg(feature = "landlock")]
        let (landlock, landlock_flags) = match &self.landlock {
            Some(policy) => {
                let prepared = landlock::prepare(policy)?;
                if prepared.fd().is_some() {
                    check_privs()?;
                }
                let flags = if prepared.abi() >= Some(landlock::Feature::AllThreads.abi()) {
                    crate::sys::landlock::LANDLOCK_RESTRICT_SELF_TSYNC
                } else {
                    0
                };
                (Some(prepared), flags)
            }
            None => (None, 0),
        };

        #[cfg(feature = "seccomp")]
        let seccomp = match &self.seccomp {
            Some(policy) => {
                let filter = seccomp::compile(policy)?;
                check_privs()?;
                seccomp::check_support(&filter)?;
                Some(filter)
            }
            None => None,
        };
        #[cfg(feature = "seccomp")]
        let seccomp_all_threads = seccomp.is_some() && !self.current_thread_only;

        let report = Report {
            #[cfg(feature = "landlock")]
            landlock: landlock.as_ref().map(|l| l.report().clone()),
            #[cfg(feature = "seccomp")]
            seccomp: seccomp.as_ref().map(|f| f.report().clone()),
            #[cfg(feature = "seccomp")]
            seccomp_all_threads,
            #[cfg(feature = "landlock")]
            landlock_all_threads: landlock_flags
                & crate::sys::landlock::LANDLOCK_RESTRICT_SELF_TSYNC
                != 0,
            capabilities: caps.as_ref().map(|plan| {
                let mut report = plan.report();
                report.no_new_privs = self.no_new_privs;
                report
            }),
            no_new_privs: self.no_new_privs,
        };
        Ok(Prepared {
            #[cfg(feature = "landlock")]
            landlock,
            #[cfg(feature = "landlock")]
            landlock_flags,
            #[cfg(feature = "seccomp")]
            seccomp,
            #[cfg(feature = "seccomp")]
            seccomp_all_threads,
            caps,
            no_new_privs: self.no_new_privs,
            current_thread_only: self.current_thread_only,
            report,
        })
    }

    /// [`prepare`](Self::prepare) then [`Prepared::apply`].
    pub fn apply(&self) -> Result<Report, Error> {
        let prepared = self.prepare()?;
        prepared.apply()?;
        Ok(prepared.report)
    }
}

/// A [`Confinement`] ready to apply, any number of times, in any process
/// forked from the one that prepared it.
#[derive(Debug)]
pub struct Prepared {
    #[cfg(feature = "landlock")]
    landlock: Option<PreparedLandlock>,
    #[cfg(feature = "landlock")]
    landlock_flags: u32,
    #[cfg(feature = "seccomp")]
    seccomp: Option<CompiledFilter>,
    #[cfg(feature = "seccomp")]
    seccomp_all_threads: bool,
    caps: Option<CapPlan>,
    no_new_privs: bool,
    current_thread_only: bool,
    report: Report,
}

impl Prepared {
    /// What [`apply`](Self::apply) enforces.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Whether the kernel applies everything to every thread by itself:
    /// Landlock (with `LANDLOCK_RESTRICT_SELF_TSYNC`), seccomp (with
    /// `SECCOMP_FILTER_FLAG_TSYNC`) and `no_new_privs`, which either
    /// propagates along.
    fn covers_every_thread(&self) -> bool {
        #[cfg(feature = "landlock")]
        let landlock = self
            .landlock
            .as_ref()
            .is_some_and(|l| l.fd().is_some())
            .then_some(
                self.landlock_flags & crate::sys::landlock::LANDLOCK_RESTRICT_SELF_TSYNC != 0,
            );
        #[cfg(not(feature = "landlock"))]
        let landlock = None;
        #[cfg(feature = "seccomp")]
        let seccomp = self.seccomp.is_some().then_some(self.seccomp_all_threads);
        #[cfg(not(feature = "seccomp"))]
        let seccomp = None;
        covers_every_thread(landlock, seccomp, self.caps.is_some())
    }

    /// Confines the calling process (or only the calling thread, see
    /// [`Confinement::current_thread_only`]). Irreversible.
    ///
    /// Issues raw system calls only: no allocation, no locks, no panics, so it
    /// is safe between `fork` and `execve`. On error the process may be
    /// partly confined (the steps before the failing one took effect);
    /// [`Error::Apply`] says which step failed.
    #[deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    pub fn apply(&self) -> Result<(), Error> {
        let fail = |stage, e: Errno| Error::Apply {
            stage,
            source: e.into_io(),
        };
        if !self.current_thread_only && !self.covers_every_thread() {
            let threads = count_threads().map_err(|e| Error::CountThreads {
                source: e.into_io(),
            })?;
            if threads != 1 {
                return Err(Error::MultiThreaded { threads });
            }
        }
        if let Some(plan) = &self.caps {
            crate::zone::caps::apply(plan)
                .map_err(|(stage, e)| fail(Stage::Capabilities(stage), e))?;
        }
        if self.no_new_privs {
            crate::zone::caps::set_no_new_privs().map_err(|e| fail(Stage::NoNewPrivs, e))?;
        }
        #[cfg(feature = "landlock")]
        if let Some(fd) = self.landlock.as_ref().and_then(|l| l.fd()) {
            crate::zone::landlock::restrict_self(fd, self.landlock_flags)
                .map_err(|e| fail(Stage::Landlock, e))?;
        }
        #[cfg(feature = "seccomp")]
        if let Some(filter) = &self.seccomp {
            if self.seccomp_all_threads {
                match crate::zone::seccomp::install_all_threads(filter) {
                    Ok(None) => {}
                    Ok(Some(thread)) => return Err(Error::SeccompThreadSync { thread }),
                    Err(e) => return Err(fail(Stage::Seccomp, e)),
                }
            } else {
                crate::zone::seccomp::install(filter).map_err(|e| fail(Stage::Seccomp, e))?;
            }
        }
        Ok(())
    }
}

/// What a [`Prepared`] enforces.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Report {
    /// The Landlock report, when a policy was given.
    #[cfg(feature = "landlock")]
    pub landlock: Option<landlock::Report>,
    /// Whether the Landlock ruleset (and `no_new_privs`) is enforced on every
    /// thread at once (Linux 7.0+, Landlock ABI 8). Otherwise it applies to
    /// the calling thread, which is the whole process unless
    /// [`Confinement::current_thread_only`] was set.
    #[cfg(feature = "landlock")]
    pub landlock_all_threads: bool,
    /// The seccomp report, when a policy was given.
    #[cfg(feature = "seccomp")]
    pub seccomp: Option<seccomp::Report>,
    /// Whether the seccomp filter is installed on every thread at once
    /// (`SECCOMP_FILTER_FLAG_TSYNC`; everything but
    /// [`Confinement::current_thread_only`]).
    #[cfg(feature = "seccomp")]
    pub seccomp_all_threads: bool,
    /// The capability report, when a capability policy was given.
    pub capabilities: Option<caps::Report>,
    /// Whether `no_new_privs` is set.
    pub no_new_privs: bool,
}

/// The step of [`Prepared::apply`] that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// A capability step.
    Capabilities(caps::Stage),
    /// Setting `no_new_privs`.
    NoNewPrivs,
    /// `landlock_restrict_self`.
    Landlock,
    /// Installing the seccomp filter.
    Seccomp,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Capabilities(stage) => stage.fmt(f),
            Self::NoNewPrivs => f.write_str("set no_new_privs"),
            Self::Landlock => f.write_str("enforce the Landlock ruleset"),
            Self::Seccomp => f.write_str("install the seccomp filter"),
        }
    }
}

/// Errors from confining the current process.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Preparing the Landlock ruleset failed.
    #[cfg(feature = "landlock")]
    #[error(transparent)]
    Landlock(#[from] landlock::Error),
    /// Compiling the seccomp filter failed, or the kernel lacks seccomp
    /// filters or an action the policy uses.
    #[cfg(feature = "seccomp")]
    #[error(transparent)]
    Seccomp(#[from] seccomp::Error),
    /// Planning the capability setup failed.
    #[error(transparent)]
    Caps(#[from] caps::Error),
    /// `no_new_privs` is off and `CAP_SYS_ADMIN` would not be held when
    /// Landlock or seccomp is applied.
    #[error(
        "failed to confine the process: Landlock and seccomp need no_new_privs or CAP_SYS_ADMIN kept; keep no_new_privs (Confinement::no_new_privs(true)), or hold CAP_SYS_ADMIN and keep it"
    )]
    NoNewPrivsRequired,
    /// Another thread has seccomp filters the calling thread does not have,
    /// so the filter cannot be installed on every thread at once; nothing
    /// was installed (the steps before it took effect).
    #[cfg(feature = "seccomp")]
    #[error(
        "failed to install the seccomp filter on every thread: thread {thread} has filters of its own"
    )]
    SeccompThreadSync {
        /// The id of the thread that could not be synchronised.
        thread: u32,
    },
    /// The process has other threads, which would stay unconfined.
    #[error(
        "failed to confine the process: it has {threads} threads and only the calling one would be confined; confine it before starting threads, or allow this with Confinement::current_thread_only"
    )]
    MultiThreaded {
        /// How many threads the process has.
        threads: usize,
    },
    /// Counting the process's threads failed (is /proc mounted?).
    #[error("failed to count the threads of the process in /proc/self/task (is /proc mounted?)")]
    CountThreads {
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A step of [`Prepared::apply`] failed.
    #[error("failed to {stage}")]
    Apply {
        /// The step.
        stage: Stage,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The kernel error number behind the error, if any. Does not allocate.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Self::Apply { source, .. } | Self::CountThreads { source } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// See [`Prepared::covers_every_thread`]. `landlock` and
/// `seccomp` are `None` when not applied, otherwise whether they reach every
/// thread (with TSYNC, which also sets `no_new_privs` on every thread when
/// the caller has it, and the caller sets it first). Capabilities and a lone
/// `no_new_privs` never do.
fn covers_every_thread(landlock: Option<bool>, seccomp: Option<bool>, changes_caps: bool) -> bool {
    !changes_caps
        && (landlock.is_some() || seccomp.is_some())
        && landlock.unwrap_or(true)
        && seccomp.unwrap_or(true)
}

/// Counts the calling process's threads from `/proc/self/task`. Raw system
/// calls and a stack buffer only.
#[deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
fn count_threads() -> Result<usize, Errno> {
    let fd = raw::openat(
        libc::AT_FDCWD,
        c"/proc/self/task",
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )?;
    count_dirents(fd.raw())
}

#[deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
fn count_dirents(fd: c_int) -> Result<usize, Errno> {
    // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type;
    // char d_name[]; }
    const RECLEN_AT: usize = 16;
    const NAME_AT: usize = 19;
    let mut buf = [0u8; 2048];
    let mut count = 0usize;
    loop {
        let n = raw::getdents64(fd, &mut buf)?;
        if n == 0 {
            return Ok(count);
        }
        let mut off = 0usize;
        while off < n {
            let (Some(lo), Some(hi), Some(first)) = (
                buf.get(off + RECLEN_AT),
                buf.get(off + RECLEN_AT + 1),
                buf.get(off + NAME_AT),
            ) else {
                return Err(Errno(libc::EIO));
            };
            let reclen = usize::from(u16::from_ne_bytes([*lo, *hi]));
            if reclen == 0 {
                return Err(Errno(libc::EIO));
            }
            // Thread ids are digits; "." and ".." are not threads.
            if *first != b'.' {
                count += 1;
            }
            off += reclen;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threads_from_status() -> usize {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    #[test]
    fn counts_threads() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let before = count_threads().unwrap();
        assert!(before >= 1);
        let handle = std::thread::spawn(move || {
            ready_tx.send(()).unwrap();
            rx.recv().unwrap();
        });
        ready_rx.recv().unwrap();
        let during = count_threads().unwrap();
        // Other tests may start or stop threads meanwhile; compare with the
        // kernel's own count taken at about the same time.
        let status = threads_from_status();
        assert!(during >= 2);
        assert!(during.abs_diff(status) <= 4, "{during} vs {status}");
        tx.send(()).unwrap();
        handle.join().unwrap();
    }

    #[test]
    fn apply_refuses_a_multithreaded_process() {
        // The test harness runs tests on threads: refused before any change.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let handle = std::thread::spawn(move || rx.recv().unwrap());
        // Nothing to apply, in case the check were broken.
        let prepared = Confinement::new().no_new_privs(false).prepare().unwrap();
        match prepared.apply() {
            Err(Error::MultiThreaded { threads }) => assert!(threads >= 2),
            other => panic!("unexpected {other:?}"),
        }
        tx.send(()).unwrap();
        handle.join().unwrap();
    }

    #[test]
    fn which_confinements_cover_every_thread() {
        // Landlock with TSYNC, seccomp with TSYNC, or both.
        assert!(covers_every_thread(Some(true), None, false));
        assert!(covers_every_thread(None, Some(true), false));
        assert!(covers_every_thread(Some(true), Some(true), false));
        // Either one on the calling thread only.
        assert!(!covers_every_thread(Some(false), None, false));
        assert!(!covers_every_thread(Some(false), Some(true), false));
        assert!(!covers_every_thread(Some(true), Some(false), false));
        // no_new_privs alone, and any capability change.
        assert!(!covers_every_thread(None, None, false));
        assert!(!covers_every_thread(Some(true), Some(true), true));
        assert!(!covers_every_thread(None, None, true));
    }

    #[cfg(feature = "landlock")]
    #[test]
    fn tsync_is_used_from_abi_8() {
        let dir = tempfile::tempdir().unwrap();
        let mut policy = landlock::Policy::new();
        policy
            .handle_fs(crate::landlock::FsAccess::READ)
            .allow_read(dir.path());
        let abi = landlock::kernel_abi().version();
        if abi.is_none() {
            assert!(std::env::var_os("STOCKADE_REQUIRE_ALL_FEATURES").is_none());
            eprintln!("SKIPPED: no Landlock on this kernel");
            return;
        }
        let prepared = Confinement::new().landlock(policy).prepare().unwrap();
        let tsync = abi >= Some(crate::landlock::Abi::V8);
        assert_eq!(prepared.report().landlock_all_threads, tsync);
        assert_eq!(prepared.covers_every_thread(), tsync);
        // A capability change always needs a single thread.
        let mut policy = landlock::Policy::new();
        policy
            .handle_fs(crate::landlock::FsAccess::READ)
            .allow_read(dir.path());
        let prepared = Confinement::new()
            .landlock(policy)
            .capabilities(caps::Policy::new())
            .prepare()
            .unwrap();
        assert!(!prepared.covers_every_thread());
    }

    #[test]
    fn error_messages() {
        let e = Error::Apply {
            stage: Stage::Capabilities(caps::Stage::Capset),
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert_eq!(e.to_string(), "failed to set the capability sets");
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        assert_eq!(
            Error::MultiThreaded { threads: 3 }.to_string(),
            "failed to confine the process: it has 3 threads and only the calling one would be \
             confined; confine it before starting threads, or allow this with \
             Confinement::current_thread_only"
        );
    }

    /// Which variant `e` is; a new variant must be named here and sampled
    /// below.
    fn variant(e: &Error) -> &'static str {
        match e {
            #[cfg(feature = "landlock")]
            Error::Landlock(_) => "Landlock",
            #[cfg(feature = "seccomp")]
            Error::Seccomp(_) => "Seccomp",
            Error::Caps(_) => "Caps",
            Error::NoNewPrivsRequired => "NoNewPrivsRequired",
            #[cfg(feature = "seccomp")]
            Error::SeccompThreadSync { .. } => "SeccompThreadSync",
            Error::MultiThreaded { .. } => "MultiThreaded",
            Error::CountThreads { .. } => "CountThreads",
            Error::Apply { .. } => "Apply",
        }
    }
    const VARIANTS: usize =
        5 + cfg!(feature = "landlock") as usize + 2 * cfg!(feature = "seccomp") as usize;

    #[test]
    fn every_error_says_what_is_wrong_in_one_line() {
        use crate::error::tests::{assert_actionable, os};
        #[cfg_attr(not(any(feature = "landlock", feature = "seccomp")), allow(unused_mut))]
        let mut samples: Vec<(Error, Vec<&str>)> = vec![
            (
                Error::Caps(caps::Error::NotHeld {
                    cap: crate::caps::Capability::Kill,
                }),
                vec!["CAP_KILL"],
            ),
            (
                Error::NoNewPrivsRequired,
                vec!["no_new_privs", "CAP_SYS_ADMIN", "Confinement::no_new_privs"],
            ),
            (
                Error::MultiThreaded { threads: 3 },
                vec!["3 threads", "Confinement::current_thread_only"],
            ),
            (
                Error::CountThreads {
                    source: os(libc::ENOENT),
                },
                vec!["/proc/self/task"],
            ),
            (
                Error::Apply {
                    stage: Stage::Capabilities(caps::Stage::AmbientRaise { cap: 12 }),
                    source: os(libc::EPERM),
                },
                vec!["CAP_NET_ADMIN", "ambient"],
            ),
        ];
        #[cfg(feature = "landlock")]
        samples.push((
            Error::Landlock(landlock::Error::RulePath {
                path: "/srv/data".into(),
                source: os(libc::ENOENT),
            }),
            vec!["Landlock", "/srv/data"],
        ));
        #[cfg(feature = "seccomp")]
        samples.extend([
            (
                Error::Seccomp(seccomp::Error::InvalidErrno { errno: 5000 }),
                vec!["seccomp", "5000"],
            ),
            (
                Error::SeccompThreadSync { thread: 4242 },
                vec!["seccomp", "4242"],
            ),
        ]);
        for (e, items) in &samples {
            assert_actionable(e, items);
            assert!(e.to_string().starts_with("failed to "), "{e}");
        }
        let seen: std::collections::BTreeSet<_> = samples.iter().map(|(e, _)| variant(e)).collect();
        assert_eq!(seen.len(), VARIANTS, "a variant has no sample");
        for stage in [Stage::NoNewPrivs, Stage::Landlock, Stage::Seccomp] {
            let e = Error::Apply {
                stage,
                source: os(libc::EPERM),
            };
            assert_actionable(&e, &[&stage.to_string()]);
        }
    }
}
