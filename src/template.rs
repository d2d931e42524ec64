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

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, PoisonError};

use crate::fs::plan::{MountPlan, TemplateSplit};
use crate::zone::plan::TemplateFds;

/// A built template: its user and mount namespaces.
#[derive(Debug)]
pub(crate) struct Template {
    user: OwnedFd,
    mnt: OwnedFd,
    /// The caller's `/proc`, through which each supervisor writes its id
    /// maps before it has a `/proc` of its own.
    host_proc: OwnedFd,
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
    /// The descriptors the helper that enters the template uses.
    pub(crate) fn fds(&self) -> TemplateFds {
        TemplateFds {
            user_ns: self.user.as_raw_fd(),
            mnt_ns: self.mnt.as_raw_fd(),
            host_proc: self.host_proc.as_raw_fd(),
        }
    }

    /// Whether this template no longer shows what a root built whole now
    /// would: the calling thread is in another mount namespace than the one
    /// it was built from, or that namespace's mount table has changed since
    /// (a host mount under a bound directory, say), or either cannot be
    /// told.
    fn outdated(&self) -> bool {
        if thread_mnt_ns() != Some(self.host_mnt_ns) {
            return true;
        }
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        let mut pfd = [PollFd::new(self.host_mounts.as_fd(), PollFlags::POLLPRI)];
        poll(&mut pfd, PollTimeout::ZERO) != Ok(0)
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

/// Builds a template for `plan` mapping `euid` and `egid` to themselves.
fn build(plan: &MountPlan, split: &TemplateSplit, euid: u32, egid: u32) -> Result<Template, ()> {
    let host_proc: OwnedFd = std::fs::File::open("/proc").map_err(drop)?.into();
    // Before the build, so that a change during it counts as one.
    let host_mnt_ns = thread_mnt_ns().ok_or(())?;
    let host_mounts: OwnedFd = std::fs::File::open("/proc/thread-self/mountinfo")
        .map_err(drop)?
        .into();
    let (user, mnt) = crate::zone::template::build(plan, split, euid, egid)?;
    Ok(Template {
        user,
        mnt,
        host_proc,
        host_mounts,
        host_mnt_ns,
        euid,
        egid,
    })
}
