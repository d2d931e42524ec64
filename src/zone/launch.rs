//! The door into the child zone: the only code that starts a sandbox's
//! processes, and the types that keep their memory alive.
//!
//! The supervisor runs on a stack of ours and reads the caller's
//! [`ChildPlan`] until it reports. Two types make those lifetimes hold by
//! construction rather than by care:
//!
//! - [`Launched`] borrows the plan for as long as the supervisor may read
//!   it; dropping it before [`Launched::running`] kills and reaps the
//!   supervisor, so the plan cannot be freed under a running one;
//! - [`Supervisor`] owns the stacks with the pidfd, and never unmaps them
//!   while the supervisor may still run on them.
//!
//! This file is parent-side code (it allocates and returns typed errors);
//! it lives in the zone because its `unsafe` blocks are the zone's entry
//! contract.
// Parent-side: it owns the supervisor's pidfd with std's `OwnedFd`.
#![allow(clippy::disallowed_types)]

use core::ffi::{c_int, c_void};
use std::io;
use std::marker::PhantomData;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};

use super::plan::{ChildPlan, HelperArgs, TemplateFds};
use super::supervisor::supervisor_entry;
use super::template::helper_entry;
use super::{reap_exited, with_signals_blocked};
use crate::fs::idmap::SystemTrees;
use crate::sys::clone::{self, CloneArgs, StackMap};
use crate::sys::pidfd::Pidfd;
use crate::sys::raw::Errno;

/// Stack size of each child-zone process. Only touched pages are backed.
const STACK_SIZE: usize = 256 * 1024;

/// Stacks in a set: the supervisor's, the program process's, the template
/// helper's (used only with a template; one shape for all spawns lets the
/// pool serve every one, at the cost of address space only).
const STACKS: usize = 3;
const SUPERVISOR: usize = 0;
const PROGRAM: usize = 1;
const HELPER: usize = 2;

/// Why a launch failed; nothing runs after one.
#[derive(Debug)]
pub(crate) enum LaunchError {
    /// Mapping the stacks failed.
    MapStack(io::Error),
    /// The kernel refused to clone the supervisor.
    Clone(Errno),
    /// A root caller could not make the idmapped trees of the system
    /// directories (see `crate::fs::idmap`).
    SystemTrees(Errno),
}

/// A supervisor that has been started and may still be reading its plan.
pub(crate) struct Launched<'p> {
    supervisor: Supervisor,
    /// The idmapped trees the supervisor attaches, kept open until it
    /// has reported.
    system_trees: Option<SystemTrees>,
    from_template: bool,
    template_failed: bool,
    _plan: PhantomData<&'p ()>,
}

/// Starts the supervisor of `plan`: directly, or (with `template`) from a
/// helper that enters the policy's template namespaces first. If the helper
/// cannot, the supervisor starts directly and builds the whole plan, and
/// [`Launched::template_failed`] says so.
pub(crate) fn launch<'p>(
    plan: &'p ChildPlan<'_>,
    template: Option<TemplateFds>,
) -> Result<Launched<'p>, LaunchError> {
    let stacks = StackMap::pooled(STACKS, STACK_SIZE).map_err(LaunchError::MapStack)?;
    let (Some(supervisor_stack), Some(program_stack), Some(helper_stack)) = (
        stacks.stack(SUPERVISOR),
        stacks.stack(PROGRAM),
        stacks.stack(HELPER),
    ) else {
        stacks.recycle();
        return Err(LaunchError::MapStack(io::ErrorKind::InvalidInput.into()));
    };
    plan.program_stack.set(program_stack);
    let flags = libc::CLONE_VM as u64 | libc::CLONE_PIDFD as u64 | plan.namespace_flags;
    let arg = plan as *const ChildPlan<'_> as *mut c_void;
    let mut pidfd: c_int = -1;
    let mut template_failed = false;

    if let Some(template) = template {
        plan.helper.set(Some(HelperArgs {
            template,
            flags,
            pidfd_out: &mut pidfd as *mut c_int as u64,
            stack: supervisor_stack,
        }));
        let (lo, size) = helper_stack;
        let args = CloneArgs {
            flags: (libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_FILES) as u64,
            exit_signal: 0,
            stack: lo as u64,
            stack_size: size as u64,
            ..CloneArgs::default()
        };
        let r = with_signals_blocked(|| {
            // SAFETY: the helper runs on its own region of `stacks` and
            // CLONE_VFORK suspends us until it has exited, so `pidfd` and
            // `plan` outlive it; the supervisor it clones has the guarantees
            // given below (its pidfd lands in our table, through
            // CLONE_FILES, and in `pidfd`); the entry point follows the
            // child-zone rules.
            unsafe { clone::clone3(&args, helper_entry, arg) }
        });
        if let Ok(pid) = r {
            let _ = reap_exited(pid as i32);
        }
        // SAFETY: a plain read of a live local, which the kernel wrote
        // behind the compiler's back (the helper's clone stored the pidfd).
        pidfd = unsafe { std::ptr::read_volatile(&pidfd) };
        if pidfd < 0 {
            plan.helper.set(None);
            template_failed = true;
        }
    }

    let mut system_trees = None;
    if pidfd < 0 && plan.root_caller {
        // The supervisor builds the whole root: it attaches the system
        // directories made here, idmapped.
        if let Some(m) = plan.mounts {
            match SystemTrees::prepare(m.idmapped_system_binds()) {
                Ok(t) => system_trees = t,
                Err(e) => {
                    stacks.recycle();
                    return Err(LaunchError::SystemTrees(e));
                }
            }
        }
        if let Some(t) = &system_trees {
            plan.system_trees.set(t.raw());
        }
    }

    if pidfd < 0 {
        let (lo, size) = supervisor_stack;
        // Every signal blocked: the supervisor inherits this mask and must
        // not run the caller's handlers on its stack before it has reset
        // them.
        let r = with_signals_blocked(|| {
            if plan.use_clone3 {
                let args = CloneArgs {
                    flags,
                    pidfd: &mut pidfd as *mut c_int as u64,
                    exit_signal: 0,
                    stack: lo as u64,
                    stack_size: size as u64,
                    ..CloneArgs::default()
                };
                // SAFETY: the supervisor's stack is part of `stacks`, which
                // the returned guard (and then the `Supervisor`) keeps mapped
                // until the supervisor is known to be reaped; `plan` is
                // borrowed by the guard for as long as the supervisor may
                // read it, and the guard kills and reaps the supervisor if
                // it is dropped before then; the entry point follows the
                // child-zone rules.
                unsafe { clone::clone3(&args, supervisor_entry, arg) }
            } else {
                let top = lo.wrapping_add(size);
                // SAFETY: as above, for the legacy system call; CLONE_PIDFD
                // stores the pidfd through the parent_tid pointer.
                unsafe { clone::clone_legacy(flags, top, &mut pidfd, supervisor_entry, arg) }
            }
        });
        if let Err(e) = r {
            stacks.recycle();
            return Err(LaunchError::Clone(e));
        }
    }
    // SAFETY: CLONE_PIDFD stored a new descriptor that nothing else owns.
    let pidfd = Pidfd::new(unsafe { OwnedFd::from_raw_fd(pidfd) });
    Ok(Launched {
        supervisor: Supervisor {
            pidfd,
            stacks: Some(stacks),
        },
        system_trees,
        from_template: template.is_some() && !template_failed,
        template_failed,
        _plan: PhantomData,
    })
}

impl Launched<'_> {
    /// Whether the supervisor started from the policy's template.
    pub(crate) fn started_from_template(&self) -> bool {
        self.from_template
    }

    /// The supervisor's process id in the caller's pid namespace.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.supervisor.pid()
    }

    /// Whether a template was offered but could not be entered.
    pub(crate) fn template_failed(&self) -> bool {
        self.template_failed
    }

    /// The supervisor has reported `Running`: it reads nothing of the plan
    /// any more, so the plan may go, and the supervisor lives on as the
    /// sandbox's init.
    pub(crate) fn running(self) -> Supervisor {
        let mut this = std::mem::ManuallyDrop::new(self);
        drop(this.system_trees.take());
        // SAFETY: `this` is never dropped or used again, so the supervisor
        // moves out of it exactly once.
        unsafe { std::ptr::read(&this.supervisor) }
    }

    /// The supervisor ended before reporting: waits for it and returns its
    /// wait status (`None` if it cannot be had).
    pub(crate) fn reap(self) -> Option<i32> {
        let mut supervisor = self.running();
        supervisor.wait(false).ok().flatten()
    }
}

impl Drop for Launched<'_> {
    fn drop(&mut self) {
        // Leaving the spawn before the supervisor let go of the plan (an
        // error or a panic): stop it before the plan goes.
        let _ = self.supervisor.signal(libc::SIGKILL);
        let _ = self.supervisor.wait(false);
    }
}

/// A sandbox's supervisor (its init), with the stacks it runs on.
#[derive(Debug)]
pub(crate) struct Supervisor {
    pidfd: Pidfd,
    /// Mapped until the supervisor is reaped, then back to the pool.
    stacks: Option<StackMap>,
}

impl Supervisor {
    /// Its pidfd: readable once it has exited.
    pub(crate) fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// Its process id in the caller's pid namespace, from the pidfd's
    /// `fdinfo` (`None` once it has been reaped, or if it cannot be read).
    pub(crate) fn pid(&self) -> Option<u32> {
        self.pidfd.pid()
    }

    /// Sends it `sig`.
    pub(crate) fn signal(&self, sig: c_int) -> io::Result<()> {
        self.pidfd.send_signal(sig)
    }

    /// Reaps it (without blocking with `nohang`), returning its raw wait
    /// status; its stacks then serve the next spawn.
    pub(crate) fn wait(&mut self, nohang: bool) -> io::Result<Option<i32>> {
        let status = self.pidfd.wait(nohang)?;
        if status.is_some() {
            self.reaped();
        }
        Ok(status)
    }

    /// Registers its pidfd with the current tokio runtime's reactor, for
    /// [`poll_wait`](Supervisor::poll_wait).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one without the I/O driver enabled.
    #[cfg(feature = "tokio")]
    pub(crate) fn register(&mut self) -> io::Result<()> {
        self.pidfd.register()
    }

    /// Drops its registration with the reactor, if any: before it is handed
    /// to a thread outside the runtime.
    #[cfg(feature = "tokio")]
    pub(crate) fn deregister(&mut self) {
        self.pidfd.deregister();
    }

    /// Polls for its end through the reactor and reaps it, as
    /// [`wait`](Supervisor::wait) does.
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_wait(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<i32>> {
        let status = std::task::ready!(self.pidfd.poll_exit(cx))?;
        self.reaped();
        std::task::Poll::Ready(Ok(status))
    }

    fn reaped(&mut self) {
        if let Some(stacks) = self.stacks.take() {
            stacks.recycle();
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if let Some(stacks) = self.stacks.take() {
            // Not known to be reaped: it may still run on this memory.
            std::mem::forget(stacks);
        }
    }
}
