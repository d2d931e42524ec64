//! The child-zone half of template mount namespaces (see
//! `crate::template`): the builder that makes a policy's template, and the
//! helper that enters it to clone each spawn's supervisor.

use core::cell::UnsafeCell;
use core::ffi::{c_int, c_void};
#[allow(clippy::disallowed_types)] // For `build`, which is parent-side.
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use super::plan::ChildPlan;
use super::supervisor::supervisor_entry;
use super::{Fail, StepExt, write_file};
use crate::fs::SYSTEM_SLOTS;
use crate::fs::idmap::SystemTrees;
use crate::fs::plan::{MountPlan, TemplateSplit};
use crate::stage::Stage;
use crate::sys::clone::{self, CloneArgs, StackMap};
use crate::sys::raw::{self, Errno};

/// Stack size of the builder and of its `/proc` anchor process.
const STACK_SIZE: usize = 256 * 1024;

/// Entry point of the helper that enters a policy's template namespaces and
/// clones the supervisor there, as the caller's child (`CLONE_PARENT`). Its
/// exit status is 0, or the errno of the step that failed.
///
/// # Safety
/// As for [`supervisor_entry`].
pub(crate) unsafe extern "C" fn helper_entry(arg: *mut c_void) -> c_int {
    // SAFETY: guaranteed by the caller (see above).
    let plan = unsafe { &*(arg as *const ChildPlan<'_>) };
    super::reset_signal_dispositions();
    let Some(h) = plan.helper.get() else {
        return libc::EINVAL;
    };
    if let Err(Errno(e)) = raw::setns(h.template.user_ns, libc::CLONE_NEWUSER) {
        return e;
    }
    if let Err(Errno(e)) = raw::setns(h.template.mnt_ns, libc::CLONE_NEWNS) {
        return e;
    }
    let args = CloneArgs {
        flags: h.flags | libc::CLONE_PARENT as u64,
        pidfd: h.pidfd_out,
        exit_signal: 0,
        stack: h.stack.0 as u64,
        stack_size: h.stack.1 as u64,
        ..CloneArgs::default()
    };
    // SAFETY: the same contract as the caller's own clone of the supervisor
    // (see `launch`): the stack and the plan outlive the supervisor's use
    // of them, and the entry point follows the child-zone rules.
    match unsafe { clone::clone3(&args, supervisor_entry, arg) } {
        Ok(_) => 0,
        Err(Errno(e)) => e,
    }
}

/// What the builder process reads and writes.
// The parent builds the id maps; the builder only reads them.
#[allow(clippy::disallowed_types)]
struct BuilderArgs<'a> {
    plan: &'a MountPlan,
    split: &'a TemplateSplit,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    anchor_stack: (*mut u8, usize),
    /// The system directories' idmapped trees, for a root caller.
    trees: [c_int; SYSTEM_SLOTS],
    user_fd: AtomicI32,
    mnt_fd: AtomicI32,
    mounts_fd: AtomicI32,
    root_fd: AtomicI32,
    fail: UnsafeCell<Option<Fail>>,
}

// (The builder's failure is kept for debugging only: a template that cannot
// be built is not an error, the spawn builds the whole plan instead.)

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
    // It waits for a child of its own (the `/proc` anchor).
    super::reset_signal_dispositions();
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
    // Both descriptors go to the caller, whose table this is (CLONE_FILES).
    let user =
        raw::openat(libc::AT_FDCWD, c"/proc/self/ns/user", flags, 0).at(Stage::RootMount, 0)?;
    a.user_fd.store(user.into_raw(), Ordering::Relaxed);
    let mnt =
        raw::openat(libc::AT_FDCWD, c"/proc/self/ns/mnt", flags, 0).at(Stage::RootMount, 0)?;
    a.mnt_fd.store(mnt.into_raw(), Ordering::Relaxed);
    // This namespace's mount table (bound to it at open): the caller polls
    // it to learn that a mount has gone from the template.
    let mounts =
        raw::openat(libc::AT_FDCWD, c"/proc/self/mountinfo", flags, 0).at(Stage::RootMount, 0)?;
    a.mounts_fd.store(mounts.into_raw(), Ordering::Relaxed);
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
    crate::zone::rootfs::build_template(a.plan, a.split, a.anchor_stack, a.trees)?;
    // The new root, through which the caller looks paths up in it.
    let root = raw::openat(
        libc::AT_FDCWD,
        c"/",
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )
    .at(Stage::RootMount, 0)?;
    a.root_fd.store(root.into_raw(), Ordering::Relaxed);
    Ok(())
}

/// Descriptors of a built template, each opened by the builder in it.
// Parent-side: the caller owns them.
#[allow(clippy::disallowed_types)]
pub(crate) struct Built {
    /// Its user namespace.
    pub(crate) user: OwnedFd,
    /// Its mount namespace.
    pub(crate) mnt: OwnedFd,
    /// Its mount table (`/proc/<builder>/mountinfo`).
    pub(crate) mounts: OwnedFd,
    /// Its root directory (`O_PATH`).
    pub(crate) root: OwnedFd,
}

/// Builds a template for `plan`: a builder process in new user and mount
/// namespaces mapping `euid` and `egid` to themselves applies the static
/// part of the plan (`split`) and pivots into it. Returns descriptors of
/// the builder's user and mount namespaces, which keep them alive, and of
/// their mount table and root. For a root caller, the system directories
/// are the idmapped trees made here (see `fs::idmap`); a template is not
/// built without them.
///
/// Parent-side code: it formats the id maps and returns owned descriptors.
#[allow(clippy::disallowed_types, clippy::disallowed_macros)]
pub(crate) fn build(
    plan: &MountPlan,
    split: &TemplateSplit,
    euid: u32,
    egid: u32,
) -> Result<Built, ()> {
    // The builder shares our descriptor table (CLONE_FILES): it attaches
    // these trees by number, and they are closed when `trees` goes.
    let trees = match euid {
        0 => SystemTrees::prepare(plan.idmapped_system_binds()).map_err(drop)?,
        _ => None,
    };
    let stacks = StackMap::new(2, STACK_SIZE).map_err(drop)?;
    let (Some((lo, size)), Some(anchor_stack)) = (stacks.stack(0), stacks.stack(1)) else {
        return Err(());
    };
    let args = BuilderArgs {
        plan,
        split,
        uid_map: format!("{euid} {euid} 1\n").into_bytes(),
        gid_map: format!("{egid} {egid} 1\n").into_bytes(),
        anchor_stack,
        trees: trees.as_ref().map_or([-1; SYSTEM_SLOTS], SystemTrees::raw),
        user_fd: AtomicI32::new(-1),
        mnt_fd: AtomicI32::new(-1),
        mounts_fd: AtomicI32::new(-1),
        root_fd: AtomicI32::new(-1),
        fail: UnsafeCell::new(None),
    };
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
                builder_entry,
                &args as *const BuilderArgs<'_> as *mut c_void,
            )
        }
    });
    let status = match r {
        Ok(pid) => super::reap_exited(pid as i32),
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
    let mounts = own(args.mounts_fd.load(Ordering::Relaxed));
    let root = own(args.root_fd.load(Ordering::Relaxed));
    match (status, user, mnt, mounts, root) {
        (Ok(0), Some(user), Some(mnt), Some(mounts), Some(root)) => Ok(Built {
            user,
            mnt,
            mounts,
            root,
        }),
        _ => Err(()),
    }
}
