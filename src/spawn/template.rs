//! Template mount namespaces.
//!
//! Building the default root filesystem is most of what a sandbox costs the
//! kernel: a copy of the caller's whole mount table, some thirty mounts and
//! the detach of the old root. Most of that result is the same for every
//! sandbox of a policy, so it is built once: a builder process, in a new
//! user namespace `T` and mount namespace `M`, applies the static part of
//! the plan ([`TemplateSplit`]) and pivots into it. Its namespaces stay
//! alive through descriptors held by the policy's compiled form.
//!
//! Each spawn then starts from a copy of `M`: a short-lived helper enters
//! `T` and `M` (`setns(2)`) and clones the supervisor from there, with
//! `CLONE_PARENT` so that it is the caller's child as usual, and with the
//! usual namespace flags. The supervisor's user namespace is thus a child of
//! `T`, and its mount namespace a copy of `M` made for a less privileged
//! user namespace: the kernel locks every copied mount (it cannot be
//! unmounted to reveal what it covers, nor made writable). The supervisor
//! then mounts only what must be its own: `/proc`, `/dev/pts`, `/dev/shm`,
//! `/tmp`.
//!
//! The template is built on the second spawn of a policy (a policy used
//! once is better off without), for the caller's effective uid and gid (it
//! maps only those). Any failure to build
//! or enter it makes that policy fall back to building the whole plan per
//! spawn, which reports real configuration errors with their usual types.
//! Like every bind, the template's binds show later changes to the files
//! beneath them. Host mounts made after it was built under a bound
//! directory would not appear in it, and a thread that moved to another
//! mount namespace would get the view of the old one. So each spawn checks
//! that the calling thread is still in the namespace the template was built
//! from and that its mount table has not changed since (`poll` on
//! `/proc/thread-self/mountinfo`), and rebuilds the template otherwise.

use core::cell::UnsafeCell;
use core::ffi::{c_int, c_void};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::child::{Fail, StepExt, write_file};
use crate::error::Stage;
use crate::rootfs::{MountPlan, TemplateSplit};
use crate::sys::clone::{self, CloneArgs, StackMap};
use crate::sys::raw;

const STACK_SIZE: usize = 256 * 1024;

/// A built template: its user and mount namespaces.
#[derive(Debug)]
pub(crate) struct Template {
    pub(crate) user: OwnedFd,
    pub(crate) mnt: OwnedFd,
    /// The caller's `/proc`, through which each supervisor writes its id
    /// maps before it has a `/proc` of its own.
    pub(crate) host_proc: OwnedFd,
    /// The building thread's mount table, opened before the build: `poll`
    /// reports `POLLPRI` once it has changed since.
    host_mounts: OwnedFd,
    /// The building thread's mount namespace (device and inode).
    host_mnt_ns: (u64, u64),
    euid: u32,
    egid: u32,
}

/// The calling thread's mount namespace (device and inode of its nsfs file).
fn thread_mnt_ns() -> Option<(u64, u64)> {
    let m = std::fs::metadata("/proc/thread-self/ns/mnt").ok()?;
    Some((
        std::os::unix::fs::MetadataExt::dev(&m),
        std::os::unix::fs::MetadataExt::ino(&m),
    ))
}

impl Template {
    /// Whether this template no longer shows what a root built whole now
    /// would: the calling thread is in another mount namespace than the one
    /// it was built from, or that namespace's mount table has changed since
    /// (a host mount under a bound directory, say), or either cannot be
    /// told.
    fn outdated(&self) -> bool {
        if thread_mnt_ns() != Some(self.host_mnt_ns) {
            return true;
        }
        let mut pfd = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&self.host_mounts),
            events: libc::POLLPRI,
            revents: 0,
        };
        // SAFETY: poll of one live pollfd, without waiting.
        let r = unsafe { libc::poll(&mut pfd, 1, 0) };
        r != 0
    }
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Untried,
    /// Used once: a policy made for a single spawn never pays for a
    /// template.
    Seen,
    Ready(Arc<Template>),
    Unusable,
}

/// A policy's template, built on first use.
#[derive(Debug, Default)]
pub(crate) struct TemplateCache {
    state: Mutex<State>,
}

impl TemplateCache {
    /// The template for this caller identity, built if needed; `None` when
    /// the plan cannot use one or it could not be built.
    pub(crate) fn get(&self, plan: &MountPlan, euid: u32, egid: u32) -> Option<Arc<Template>> {
        let split = plan.template.as_ref()?;
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match &*st {
            State::Ready(t) if t.euid == euid && t.egid == egid && !t.outdated() => {
                return Some(t.clone());
            }
            State::Unusable => return None,
            State::Untried => {
                *st = State::Seen;
                return None;
            }
            State::Ready(_) | State::Seen => {}
        }
        match build(plan, split, euid, egid) {
            Ok(t) => {
                let t = Arc::new(t);
                *st = State::Ready(t.clone());
                Some(t)
            }
            Err(_) => {
                *st = State::Unusable;
                None
            }
        }
    }

    /// Stops using the template (entering it failed).
    pub(crate) fn disable(&self) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = State::Unusable;
    }
}

/// What the builder process reads and writes.
struct BuilderArgs<'a> {
    plan: &'a MountPlan,
    split: &'a TemplateSplit,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    anchor_stack: (*mut u8, usize),
    user_fd: AtomicI32,
    mnt_fd: AtomicI32,
    fail: UnsafeCell<Option<Fail>>,
}

/// Entry point of the builder: runs in new user and mount namespaces,
/// sharing the caller's descriptor table (`CLONE_FILES`), so the namespace
/// descriptors it opens are the caller's.
///
/// # Safety
/// `arg` points to a `BuilderArgs` that outlives the builder (the caller is
/// suspended by `CLONE_VFORK` until it exits).
unsafe extern "C" fn builder_entry(arg: *mut c_void) -> c_int {
    // SAFETY: guaranteed by the caller; the only writes are to atomics and to
    // `fail`, which nobody reads until we have exited.
    let a = unsafe { &*(arg as *const BuilderArgs<'_>) };
    match builder(a) {
        Ok(()) => 0,
        Err(f) => {
            // SAFETY: see above.
            unsafe { *a.fail.get() = Some(f) };
            1
        }
    }
}

fn builder(a: &BuilderArgs<'_>) -> Result<(), Fail> {
    let flags = libc::O_RDONLY | libc::O_CLOEXEC;
    let user =
        raw::openat(libc::AT_FDCWD, c"/proc/self/ns/user", flags, 0).at(Stage::RootMount, 0)?;
    a.user_fd.store(user as c_int, Ordering::Relaxed);
    let mnt =
        raw::openat(libc::AT_FDCWD, c"/proc/self/ns/mnt", flags, 0).at(Stage::RootMount, 0)?;
    a.mnt_fd.store(mnt as c_int, Ordering::Relaxed);
    write_file(
        libc::AT_FDCWD,
        c"/proc/self/setgroups",
        b"deny",
        Stage::SetGroups,
    )?;
    write_file(
        libc::AT_FDCWD,
        c"/proc/self/uid_map",
        &a.uid_map,
        Stage::UidMap,
    )?;
    write_file(
        libc::AT_FDCWD,
        c"/proc/self/gid_map",
        &a.gid_map,
        Stage::GidMap,
    )?;
    raw::umask(0);
    crate::rootfs::child::build_template(a.plan, a.split, a.anchor_stack)
}

/// Builds a template for `plan` mapping `euid` and `egid` to themselves.
fn build(plan: &MountPlan, split: &TemplateSplit, euid: u32, egid: u32) -> Result<Template, ()> {
    let host_proc: OwnedFd = std::fs::File::open("/proc").map_err(drop)?.into();
    // Before the build, so that a change during it counts as one.
    let host_mnt_ns = thread_mnt_ns().ok_or(())?;
    let host_mounts: OwnedFd = std::fs::File::open("/proc/thread-self/mountinfo")
        .map_err(drop)?
        .into();
    let stacks = StackMap::new(2, STACK_SIZE).map_err(drop)?;
    let args = BuilderArgs {
        plan,
        split,
        uid_map: format!("{euid} {euid} 1\n").into_bytes(),
        gid_map: format!("{egid} {egid} 1\n").into_bytes(),
        anchor_stack: stacks.stack(1, STACK_SIZE),
        user_fd: AtomicI32::new(-1),
        mnt_fd: AtomicI32::new(-1),
        fail: UnsafeCell::new(None),
    };
    let (lo, size) = stacks.stack(0, STACK_SIZE);
    let cargs = CloneArgs {
        flags: (libc::CLONE_VM
            | libc::CLONE_VFORK
            | libc::CLONE_FILES
            | libc::CLONE_NEWUSER
            | libc::CLONE_NEWNS) as u64,
        exit_signal: 0,
        stack: lo as u64,
        stack_size: size as u64,
        ..CloneArgs::default()
    };
    let r = super::with_signals_blocked(|| {
        // SAFETY: the stack is part of `stacks`, alive until after the
        // builder has been reaped below; CLONE_VFORK suspends this thread
        // until the builder has exited, so `args` outlives it; the entry
        // point follows the child-zone rules.
        unsafe {
            clone::clone3(
                &cargs,
                core::mem::size_of::<CloneArgs>(),
                builder_entry,
                &args as *const BuilderArgs<'_> as *mut c_void,
            )
        }
    });
    let status = match r {
        Ok(pid) => reap(pid as i32),
        Err(e) => Err(e),
    };
    // The descriptors the builder opened are ours (CLONE_FILES), whatever
    // happened after.
    let own = |fd: RawFd| {
        // SAFETY: the builder opened this descriptor in our table and
        // nothing else refers to it.
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    };
    let user = own(args.user_fd.load(Ordering::Relaxed));
    let mnt = own(args.mnt_fd.load(Ordering::Relaxed));
    match (status, user, mnt) {
        (Ok(0), Some(user), Some(mnt)) => Ok(Template {
            user,
            mnt,
            host_proc,
            host_mounts,
            host_mnt_ns,
            euid,
            egid,
        }),
        _ => Err(()),
    }
}

/// Waits for a child that has already exited (it was cloned with
/// `CLONE_VFORK`) and returns its wait status.
pub(crate) fn reap(pid: i32) -> Result<c_int, raw::Errno> {
    loop {
        let mut st: c_int = 0;
        match raw::wait4(pid, &mut st, libc::__WALL, None) {
            Err(raw::Errno(libc::EINTR)) => {}
            r => return r.map(|_| st),
        }
    }
}
