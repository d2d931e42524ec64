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
//! maps only those).
//!
//! # A template is never stale
//!
//! A spawn from the template must see what the same plan built whole would
//! show at that moment, and the host may have changed the paths the
//! template resolved when it was built. Before each spawn uses it, checks
//! that cost a few system calls tell whether it still shows that, and the
//! template is rebuilt when it does not:
//!
//! - each bound host path (and `/dev/null`, which masks files) still
//!   resolves, following symlinks as the bind does, to the file or
//!   directory (device and inode) it resolved to before the build: a
//!   directory removed and made again, a file replaced by a rename, a
//!   source swapped for a symlink all count as changes;
//! - no mount of the template has gone: the kernel removes a mount from
//!   every namespace when the file or directory it covers is removed or
//!   renamed over on the host (a masked file replaced by a rename, say),
//!   and reports it through `poll` on the template's
//!   `/proc/<pid>/mountinfo`, opened in it while it was built;
//! - every path the plan makes, mounts or masks beneath a bound host
//!   directory still resolves, looked up through the template's root, to
//!   what it did after the build: the host may have removed or replaced a
//!   directory the plan made, created a file where a mask found nothing,
//!   or renamed away a file or directory that a mount covers, or one of
//!   its parents (the mount goes with it), and made another in its place;
//! - the calling thread is still in the mount namespace the template was
//!   built from, and that namespace's mount table has not changed since
//!   (`poll` on `/proc/thread-self/mountinfo`): host mounts made later
//!   beneath a bound directory must show;
//! - this process built it: a process forked from the one that did shares
//!   its `mountinfo` descriptors, whose `poll` reports a change only once.
//!
//! What the plan itself settled when the policy was compiled (which
//! optional binds have a source, which secret files exist to be masked)
//! is the policy's, with or without a template.
//!
//! # Failures
//!
//! A template that cannot be built or entered costs nothing but time: that
//! spawn builds the whole plan, which reports real configuration errors
//! with their usual types. The failure may pass (the descriptor table was
//! full for a moment), so the policy tries again, after 1, 2, 4, ... 64
//! spawns built whole, and gives the template up (every later spawn builds
//! the whole plan) only after [`MAX_FAILURES`] (8) failures in a row. A
//! spawn that starts from the template ends the row. A bound host path
//! that is missing, or a file where the plan binds a directory (or the
//! reverse), is not counted: the whole plan fails on it too, in every spawn
//! until the host puts it back (a build tool's output directory, removed
//! and made again), and the first spawn after that builds the template.
//!
//! # Fork safety
//!
//! A spawn never waits for a lock another thread holds (see
//! [`crate::forksafe`]): while one thread builds a policy's template, that
//! policy's other spawns build their whole root, and a process forked in
//! the meantime builds a template of its own.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::forksafe::{lock_briefly, relock};
use crate::fs::plan::{Mount, MountKind, MountPlan, TemplateSplit};
use crate::zone::plan::TemplateFds;

/// How many failures in a row (to build the template, or to enter it) make
/// a policy give its template up.
pub(crate) const MAX_FAILURES: u32 = 8;

/// What a path resolved to: its device and inode, or the errno of the
/// lookup that failed.
type Identity = Result<(u64, u64), i32>;

/// A built template: its user and mount namespaces, and what tells whether
/// it still shows what a root built whole would.
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
    /// The template's own mount table: `POLLPRI` once a mount has gone
    /// from it.
    own_mounts: OwnedFd,
    /// The template's root, through which its paths are looked up.
    root: OwnedFd,
    /// Every host path the template binds, with what it resolved to
    /// before the build.
    sources: Vec<(PathBuf, Identity)>,
    /// The paths the plan makes, mounts or masks beneath a bound host
    /// directory, with what they resolved to after the build.
    inner: Vec<Inner>,
    /// Whether a `poll` has seen a change (it reports each only once); the
    /// lock makes the `poll` and the record of its answer one step.
    changed: Mutex<bool>,
    /// The process that built it.
    pid: u32,
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

/// What `path` resolves to in the caller's view, following symlinks as a
/// bind does.
fn identity(path: &Path) -> Identity {
    match nix::sys::stat::stat(path) {
        Ok(st) => Ok((st.st_dev, st.st_ino)),
        Err(e) => Err(e as i32),
    }
}

/// A path of the template that lies beneath a bound host directory.
#[derive(Debug)]
struct Inner {
    /// Relative to the template's root.
    rel: CString,
    /// Whether only its last component lies in a host directory (its
    /// parent is where the template binds one): the host cannot make an
    /// earlier component a symlink, and a plain lookup from the root
    /// resolves it as the child zone does.
    direct: bool,
    /// What it resolved to after the build.
    id: Identity,
}

/// What `rel` resolves to inside the root `root`, as the child zone
/// resolves a destination (without following a final symlink).
fn identity_in(root: &OwnedFd, rel: &CString, direct: bool) -> Identity {
    use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat2};
    if direct {
        // One system call rather than three.
        return match nix::sys::stat::fstatat(
            root.as_fd(),
            rel.as_c_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(st) => Ok((st.st_dev, st.st_ino)),
            Err(e) => Err(e as i32),
        };
    }
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    // EAGAIN: a rename raced with a `..` in the walk; try again.
    let mut r = openat2(root.as_fd(), rel.as_c_str(), how);
    for _ in 0..16 {
        if !matches!(r, Err(nix::errno::Errno::EAGAIN)) {
            break;
        }
        r = openat2(root.as_fd(), rel.as_c_str(), how);
    }
    match r.and_then(nix::sys::stat::fstat) {
        Ok(st) => Ok((st.st_dev, st.st_ino)),
        Err(e) => Err(e as i32),
    }
}

/// Whether the mount table `mountinfo` was opened on has changed since the
/// last `poll` of it (or it cannot be told).
fn mounts_changed(mountinfo: &OwnedFd) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut pfd = [PollFd::new(mountinfo.as_fd(), PollFlags::POLLPRI)];
    poll(&mut pfd, PollTimeout::ZERO) != Ok(0)
}

/// How a template compares with what a root built whole now would show.
#[derive(Debug, PartialEq, Eq)]
enum Freshness {
    Fresh,
    Stale,
    /// Cannot be told now (another thread is checking).
    Unknown,
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

    /// Whether this template, built by this process for this identity,
    /// still shows what a root built whole now would (see the module's
    /// documentation).
    fn freshness(&self, euid: u32, egid: u32) -> Freshness {
        if (self.euid, self.egid, self.pid) != (euid, egid, std::process::id())
            || thread_mnt_ns() != Some(self.host_mnt_ns)
            || self.sources.iter().any(|(p, id)| identity(p) != *id)
            || self
                .inner
                .iter()
                .any(|i| identity_in(&self.root, &i.rel, i.direct) != i.id)
        {
            return Freshness::Stale;
        }
        let Some(mut changed) = lock_briefly(&self.changed) else {
            return Freshness::Unknown;
        };
        if !*changed {
            *changed = mounts_changed(&self.host_mounts) || mounts_changed(&self.own_mounts);
        }
        if *changed {
            Freshness::Stale
        } else {
            Freshness::Fresh
        }
    }
}

#[derive(Debug, Default)]
enum Phase {
    /// Never used.
    #[default]
    Untried,
    /// Used once (a policy made for a single spawn never pays for a
    /// template), or the last build failed.
    Seen,
    /// A thread of process `pid` is building one.
    Building {
        pid: u32,
    },
    Ready(Arc<Template>),
    /// Given up after [`MAX_FAILURES`] failures in a row.
    Off,
}

#[derive(Debug, Default)]
struct State {
    phase: Phase,
    /// Spawns left to build whole before the template is tried again.
    skip: u32,
}

/// A policy's template, built on first use.
#[derive(Debug, Default)]
pub(crate) struct TemplateCache {
    state: Mutex<State>,
    /// Failures in a row, to build the template or to enter it.
    failures: AtomicU32,
}

/// What a spawn does with the template it found.
enum Next {
    Check(Arc<Template>),
    Build,
}

impl TemplateCache {
    /// The template for this caller identity, built if needed; `None` when
    /// the plan cannot use one, it could not be built, or it is not to be
    /// tried for this spawn.
    pub(crate) fn get(&self, plan: &MountPlan, euid: u32, egid: u32) -> Option<Arc<Template>> {
        let split = plan.template.as_ref()?;
        let me = std::process::id();
        let next = {
            let mut st = lock_briefly(&self.state)?;
            if st.skip > 0 {
                st.skip -= 1;
                return None;
            }
            match &st.phase {
                Phase::Off => return None,
                Phase::Untried => {
                    st.phase = Phase::Seen;
                    return None;
                }
                // Another thread of this process builds it.
                Phase::Building { pid } if *pid == me => return None,
                Phase::Ready(t) => Next::Check(t.clone()),
                // Or a thread of the process this one was forked from was
                // building it: that build will never end here.
                Phase::Seen | Phase::Building { .. } => {
                    st.phase = Phase::Building { pid: me };
                    Next::Build
                }
            }
        };
        if let Next::Check(t) = next {
            match t.freshness(euid, egid) {
                Freshness::Fresh => return Some(t),
                Freshness::Unknown => return None,
                Freshness::Stale => {
                    let mut st = relock(&self.state);
                    match &st.phase {
                        Phase::Ready(cur) if Arc::ptr_eq(cur, &t) => {
                            st.phase = Phase::Building { pid: me };
                        }
                        // Another thread got there first.
                        _ => return None,
                    }
                }
            }
        }
        // Built without the lock: the policy's other spawns meanwhile build
        // their whole root rather than wait.
        let built = build(plan, split, euid, egid);
        let mut st = relock(&self.state);
        match built {
            Ok(t) => {
                let t = Arc::new(t);
                st.phase = Phase::Ready(t.clone());
                Some(t)
            }
            // The root built whole fails too: not counted (a build tool's
            // output directory may be gone for a while).
            Err(BuildError::Source) => {
                st.phase = Phase::Seen;
                None
            }
            Err(BuildError::Failed) => {
                st.phase = Phase::Seen;
                self.failed(&mut st);
                None
            }
        }
    }

    /// Counts a failure: the template is tried again after a number of
    /// spawns that doubles with each failure in a row, and given up after
    /// [`MAX_FAILURES`].
    fn failed(&self, st: &mut State) {
        let n = self
            .failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if n >= MAX_FAILURES {
            st.phase = Phase::Off;
        } else {
            st.skip = 1 << (n - 1);
        }
    }

    /// A spawn started from the template: failures no longer run in a row.
    pub(crate) fn entered(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
    }

    /// Entering `t` failed (that spawn built its whole root).
    pub(crate) fn failed_to_enter(&self, t: &Arc<Template>) {
        let Some(mut st) = lock_briefly(&self.state) else {
            return;
        };
        if matches!(&st.phase, Phase::Ready(cur) if Arc::ptr_eq(cur, t)) {
            self.failed(&mut st);
        }
    }
}

/// The host paths the template's ops bind, each once.
fn bind_sources(plan: &MountPlan, split: &TemplateSplit) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for &i in &split.template_ops {
        let src: &[u8] = match plan.ops.get(i).map(|o| &o.kind) {
            Some(MountKind::Bind { src, .. }) => src.to_bytes(),
            // A masked file is covered by a bind of /dev/null.
            Some(MountKind::Mask { .. } | MountKind::MaskAuto { .. }) => b"/dev/null",
            _ => continue,
        };
        let src = Path::new(std::ffi::OsStr::from_bytes(src));
        if !out.iter().any(|p| p == src) {
            out.push(src.to_owned());
        }
    }
    out
}

/// The destinations of the template's ops that lie beneath a bound host
/// directory (or a symlink, which may lead into one): what the plan makes,
/// mounts or masks there. The host can change what each resolves to
/// without a mount going: remove or replace a directory or symlink the
/// plan made, create a file where a mask found nothing, or rename away
/// the file or directory a mount covers, or one of its parents (the mount
/// goes with it), and make another in its place.
fn inner_paths<'p>(
    plan: &'p MountPlan,
    split: &'p TemplateSplit,
) -> impl Iterator<Item = (&'p CString, bool)> {
    // `a` lies strictly beneath `b`.
    fn beneath(a: &[u8], b: &[u8]) -> bool {
        a.len() > b.len() && a.starts_with(b) && a.get(b.len()) == Some(&b'/')
    }
    let ops = &plan.ops;
    let template_ops = &split.template_ops;
    template_ops.iter().enumerate().filter_map(move |(n, &i)| {
        let op = ops.get(i)?;
        let dest = op.dest.to_bytes();
        let earlier = || {
            template_ops
                .get(..n)
                .unwrap_or_default()
                .iter()
                .filter_map(|&j| ops.get(j))
        };
        let host = |o: &Mount| matches!(o.kind, MountKind::Bind { .. } | MountKind::Symlink { .. });
        if !earlier().any(|o| host(o) && beneath(dest, o.dest.to_bytes())) {
            return None;
        }
        let parent = dest.get(..dest.iter().rposition(|&b| b == b'/')?)?;
        let direct = earlier()
            .any(|o| matches!(o.kind, MountKind::Bind { .. }) && o.dest.to_bytes() == parent)
            && !earlier().any(|o| {
                let d = o.dest.to_bytes();
                host(o)
                    && (beneath(parent, d)
                        || matches!(o.kind, MountKind::Symlink { .. }) && d == parent)
            });
        Some((&op.dest, direct))
    })
}

/// Why no template was built.
#[derive(Debug)]
enum BuildError {
    /// A host path the template binds cannot be bound as the plan says
    /// (see [`unusable_source`]): the root built whole fails on it too, in
    /// every spawn until the host puts it back. The policy's failure, not
    /// the template's.
    Source,
    /// Anything else (the template's failure).
    Failed,
}

/// Whether a host path the template binds cannot be bound as the plan
/// says: it cannot be looked up, or it is a directory where the plan binds
/// a file or the reverse.
fn unusable_source(plan: &MountPlan, split: &TemplateSplit) -> bool {
    split.template_ops.iter().any(|&i| {
        let Some(MountKind::Bind { src, dir, .. }) = plan.ops.get(i).map(|o| &o.kind) else {
            return false;
        };
        match nix::sys::stat::stat(src.as_c_str()) {
            Ok(st) => (st.st_mode & libc::S_IFMT == libc::S_IFDIR) != *dir,
            Err(_) => true,
        }
    })
}

/// Builds a template for `plan` mapping `euid` and `egid` to themselves.
fn build(
    plan: &MountPlan,
    split: &TemplateSplit,
    euid: u32,
    egid: u32,
) -> Result<Template, BuildError> {
    // What the freshness check compares is recorded before the build, so
    // that a change during it counts as one.
    let sources: Vec<(PathBuf, Identity)> = bind_sources(plan, split)
        .into_iter()
        .map(|p| {
            let id = identity(&p);
            (p, id)
        })
        .collect();
    if unusable_source(plan, split) {
        return Err(BuildError::Source);
    }
    let failed = |_| BuildError::Failed;
    let host_proc: OwnedFd = std::fs::File::open("/proc").map_err(failed)?.into();
    let host_mnt_ns = thread_mnt_ns().ok_or(BuildError::Failed)?;
    let host_mounts: OwnedFd = std::fs::File::open("/proc/thread-self/mountinfo")
        .map_err(failed)?
        .into();
    let built =
        crate::zone::template::build(plan, split, euid, egid).map_err(|()| BuildError::Failed)?;
    // The build's own mounts are no change.
    mounts_changed(&built.mounts);
    let inner = inner_paths(plan, split)
        .map(|(rel, direct)| Inner {
            rel: rel.clone(),
            direct,
            id: identity_in(&built.root, rel, direct),
        })
        .collect();
    Ok(Template {
        user: built.user,
        mnt: built.mnt,
        host_proc,
        host_mounts,
        host_mnt_ns,
        own_mounts: built.mounts,
        root: built.root,
        sources,
        inner,
        changed: Mutex::new(false),
        pid: std::process::id(),
        euid,
        egid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::Op;
    use crate::fs::plan::{ProcKind, plan};

    #[test]
    fn paths_beneath_host_directories_are_looked_up_and_direct_ones_simply() {
        let d = tempfile::tempdir().unwrap();
        let n = tempfile::tempdir().unwrap();
        let bind = |src: &Path, dest: &str| Op::Bind {
            src: src.to_owned(),
            dest: dest.into(),
            read_only: true,
            optional: false,
            devices: false,
            no_exec: false,
        };
        let mask = |dest: &str| Op::Mask { dest: dest.into() };
        let mut cfg = crate::fs::Config::default();
        cfg.ops.extend([
            bind(d.path(), "/d"),
            mask("/d/a"),
            mask("/d/s/b"),
            Op::Symlink {
                target: "/d".into(),
                dest: "/l".into(),
            },
            mask("/l/c"),
            bind(n.path(), "/d/n"),
            mask("/d/n/x"),
            Op::Dir {
                dest: "/made/here".into(),
                mode: None,
            },
        ]);
        let plan = plan(&cfg, ProcKind::Fresh, (0, 0)).unwrap();
        let split = plan.template.as_ref().unwrap();
        let inner: Vec<(&str, bool)> = inner_paths(&plan, split)
            .map(|(rel, direct)| (rel.to_str().unwrap(), direct))
            .filter(|(rel, _)| !rel.starts_with("etc/"))
            .collect();
        assert_eq!(
            inner,
            [
                ("d/a", true),
                // The host may make `s` a symlink.
                ("d/s/b", false),
                // `l` leads wherever its target does.
                ("l/c", false),
                ("d/n", true),
                // The host may rename `n` away.
                ("d/n/x", false),
            ]
        );
    }
}
