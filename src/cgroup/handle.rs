//! The sandbox's cgroup once created: placement fds, kill, wait, usage, removal.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::fcntl::Flock;

use super::error::{Error, IoOp};
use super::os::Os;
use super::report::Report;
use super::stats::{self, Usage, keyed};

/// How long `Drop` waits for the killed processes to leave before it gives up
/// and leaves the removal to the next `prepare` of this process.
pub(crate) const DROP_WAIT: Duration = Duration::from_millis(500);
/// How long a finished sandbox's cgroup may take to empty.
pub(crate) const FINISH_WAIT: Duration = Duration::from_secs(5);
/// How long `remove` waits by default.
pub(crate) const REMOVE_WAIT: Duration = Duration::from_secs(5);
/// Longest single sleep while waiting, in case a change notification is missed.
const POLL_SLICE: Duration = Duration::from_millis(100);
/// Rounds of the freeze-and-kill loop before giving up (kernels before 5.14).
const KILL_ROUNDS: usize = 64;

/// Where a cgroup lives: its directory and its hierarchy path (as in
/// /proc/<pid>/cgroup, used to recognise its members).
#[derive(Clone, Debug)]
pub(crate) struct Location {
    pub(crate) dir: PathBuf,
    pub(crate) hierarchy: PathBuf,
}

/// Reads the `populated` and `frozen` keys of `cgroup.events`.
fn read_events(fd: BorrowedFd<'_>, path: &Path) -> Result<(bool, bool), Error> {
    let mut buf = [0u8; 256];
    let n =
        nix::sys::uio::pread(fd, &mut buf, 0).map_err(|e| Error::io(IoOp::Read, path, e.into()))?;
    let text = String::from_utf8_lossy(&buf[..n]);
    Ok((
        keyed(&text, "populated").unwrap_or(0) != 0,
        keyed(&text, "frozen").unwrap_or(0) != 0,
    ))
}

/// Waits until `cgroup.events` says `key` has the value `want`, or the timeout.
/// cgroup.events signals every change with POLLPRI (a kernfs notification).
fn wait_event(
    os: &dyn Os,
    dir: &Path,
    timeout: Duration,
    want: impl Fn(bool, bool) -> bool,
) -> Result<bool, Error> {
    let path = dir.join("cgroup.events");
    let fd = os
        .open_file(&path, false)
        .map_err(|e| Error::io(IoOp::Open, &path, e))?;
    let start = Instant::now();
    loop {
        let (populated, frozen) = read_events(fd.as_fd(), &path)?;
        if want(populated, frozen) {
            return Ok(true);
        }
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Ok(false);
        }
        let slice = left.min(POLL_SLICE);
        let ms = u16::try_from(slice.as_millis().max(1)).unwrap_or(u16::MAX);
        let mut fds = [nix::poll::PollFd::new(
            fd.as_fd(),
            nix::poll::PollFlags::POLLPRI,
        )];
        match nix::poll::poll(&mut fds, ms) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::io(IoOp::Poll, &path, e.into())),
        }
    }
}

/// Waits until no process is left in the cgroup or below it.
pub(crate) fn wait_empty(os: &dyn Os, dir: &Path, timeout: Duration) -> Result<(), Error> {
    if wait_event(os, dir, timeout, |populated, _| !populated)? {
        Ok(())
    } else {
        Err(Error::StillPopulated {
            path: dir.to_owned(),
            waited: timeout,
        })
    }
}

/// Every cgroup directory from `dir` down, parents before children.
fn subtree(os: &dyn Os, dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_owned()];
    let mut i = 0;
    while i < out.len() && out.len() < 4096 {
        if let Ok(names) = os.subdirs(&out[i]) {
            let base = out[i].clone();
            out.extend(names.into_iter().map(|n| base.join(n)));
        }
        i += 1;
    }
    out
}

/// Kills every process in the cgroup and below: `cgroup.kill` (Linux 5.14),
/// else freeze (`cgroup.freeze`, Linux 5.2), list, SIGKILL each, thaw, repeat.
pub(crate) fn kill(os: &dyn Os, at: &Location, force_loop: bool) -> Result<(), Error> {
    if !force_loop {
        let path = at.dir.join("cgroup.kill");
        match os.write(&path, "1") {
            Ok(()) => return Ok(()),
            Err(e)
                if e.raw_os_error() == Some(libc::ENOENT)
                    && os.read(&at.dir.join("cgroup.events")).is_ok() => {}
            Err(e) => return Err(Error::io(IoOp::Write, path, e)),
        }
    }
    kill_loop(os, at)
}

fn kill_loop(os: &dyn Os, at: &Location) -> Result<(), Error> {
    let freeze = at.dir.join("cgroup.freeze");
    let frozen = os.write(&freeze, "1").is_ok();
    let mut result = Ok(());
    for _ in 0..KILL_ROUNDS {
        if frozen {
            // Freezing is asynchronous; a short bounded wait is enough since
            // SIGKILL also reaches tasks that are still on their way.
            let _ = wait_event(os, &at.dir, Duration::from_millis(50), |_, f| f);
        }
        let mut pids = Vec::new();
        for dir in subtree(os, &at.dir) {
            let path = dir.join("cgroup.procs");
            match os.read(&path) {
                Ok(text) => pids.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok())),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => {
                    result = Err(Error::io(IoOp::Read, path, e));
                    break;
                }
            }
        }
        if pids.is_empty() || result.is_err() {
            break;
        }
        for pid in pids {
            if let Err(e) = os.kill_member(pid, &at.hierarchy) {
                result = Err(Error::io(IoOp::Signal, &at.dir, e));
            }
        }
        if frozen {
            let _ = os.write(&freeze, "0");
            let _ = os.write(&freeze, "1");
        }
        if wait_empty(os, &at.dir, Duration::from_millis(20)).is_ok() {
            break;
        }
    }
    if frozen {
        let _ = os.write(&freeze, "0");
    }
    result
}

/// Removes the cgroup and every cgroup below it, deepest first.
pub(crate) fn remove_tree(os: &dyn Os, dir: &Path) -> Result<(), Error> {
    let mut all = subtree(os, dir);
    all.reverse();
    for d in all {
        match os.rmdir(&d) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(Error::io(IoOp::Rmdir, d, e)),
        }
    }
    Ok(())
}

/// Kill, wait at most `timeout`, remove.
pub(crate) fn teardown(os: &dyn Os, at: &Location, timeout: Duration) -> Result<(), Error> {
    kill(os, at, false)?;
    wait_empty(os, &at.dir, timeout)?;
    remove_tree(os, &at.dir)
}

/// A sandbox's cgroup, created and limited, ready for the program.
///
/// The limits are on [`path`](Self::path); the program goes into the leaf
/// cgroup below it ([`leaf_path`](Self::leaf_path)) through
/// [`dir_fd`](Self::dir_fd) (clone3 `CLONE_INTO_CGROUP`) or
/// [`procs_fd`](Self::procs_fd) (write `"0"` from the child).
///
/// Dropping it kills whatever runs in the cgroup, waits briefly and removes
/// the directories; what cannot be removed in time is retried by the next
/// `prepare` in this process. Holding it keeps an exclusive `flock` on the
/// cgroup directory, which marks it as alive for stale-cgroup cleanup.
#[derive(Debug)]
pub(crate) struct PreparedCgroup {
    pub(crate) os: Arc<dyn Os>,
    pub(crate) at: Location,
    pub(crate) leaf: PathBuf,
    /// The outer directory, locked.
    pub(crate) _lock: Flock<OwnedFd>,
    pub(crate) leaf_fd: OwnedFd,
    pub(crate) procs_fd: OwnedFd,
    /// The outer directory's `cgroup.kill` (Linux 5.14), opened for writing.
    pub(crate) kill_fd: Option<OwnedFd>,
    pub(crate) report: Report,
    pub(crate) deferred: Option<Arc<super::Deferred>>,
    pub(crate) done: bool,
}

/// The descriptors the child zone uses to place and kill the sandbox; -1
/// where unused. They stay valid while the [`PreparedCgroup`] lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Placement {
    /// The leaf's directory, for clone3 `CLONE_INTO_CGROUP`.
    pub(crate) clone_into: RawFd,
    /// The leaf's `cgroup.procs`, for the program to write `"0"` into when
    /// `CLONE_INTO_CGROUP` is unavailable.
    pub(crate) procs: RawFd,
    /// `cgroup.kill`, for the supervisor's teardown.
    pub(crate) kill: RawFd,
}

#[allow(dead_code)] // Parts are used only by the tests.
impl PreparedCgroup {
    /// Hands the leaf cgroup to `uid`:`gid` as systemd's `Delegate=yes`
    /// does: the directory and the files the kernel lists as delegatable
    /// (`/sys/kernel/cgroup/delegate`, Linux 4.15; before it, the three of
    /// cgroup-v2.rst). A program running as those ids may then make
    /// cgroups beneath it and move its processes between them, and no more:
    /// the limits the caller wrote stay the caller's.
    pub(crate) fn delegate(&self, uid: u32, gid: u32) -> Result<(), super::Error> {
        use super::error::IoOp;
        let chown = |p: &std::path::Path| {
            std::os::unix::fs::lchown(p, Some(uid), Some(gid))
                .map_err(|e| super::Error::io(IoOp::Chown, p, e))
        };
        chown(&self.leaf)?;
        let listed = std::fs::read_to_string("/sys/kernel/cgroup/delegate").unwrap_or_default();
        let mut names: Vec<&str> = listed.split_whitespace().collect();
        if names.is_empty() {
            names = vec!["cgroup.procs", "cgroup.threads", "cgroup.subtree_control"];
        }
        for name in names {
            let p = self.leaf.join(name);
            match std::fs::symlink_metadata(&p) {
                Ok(_) => chown(&p)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(super::Error::io(IoOp::Chown, &p, e)),
            }
        }
        Ok(())
    }

    /// The descriptors for the child zone: placement by `CLONE_INTO_CGROUP`
    /// when `clone3` is used and the kernel has it (Linux 5.7), else by a
    /// `cgroup.procs` write from the program process before it runs anything.
    pub(crate) fn placement(&self, use_clone3: bool) -> Placement {
        let into = use_clone3 && crate::probe::clone_into_cgroup();
        Placement {
            clone_into: if into { self.leaf_fd.as_raw_fd() } else { -1 },
            procs: if into { -1 } else { self.procs_fd.as_raw_fd() },
            kill: self.kill_fd.as_ref().map_or(-1, AsRawFd::as_raw_fd),
        }
    }

    /// The leaf cgroup's directory, opened `O_RDONLY | O_DIRECTORY`, for clone3's
    /// `CLONE_INTO_CGROUP` (Linux 5.7; the kernel also accepts an `O_PATH` fd,
    /// not an fd of a file inside the directory).
    pub(crate) fn dir_fd(&self) -> BorrowedFd<'_> {
        self.leaf_fd.as_fd()
    }

    /// The leaf cgroup's `cgroup.procs`, opened write-only, for kernels or
    /// contexts without clone3: the child writes `"0"` to it before exec. Since
    /// Linux 5.16 the kernel checks the opener's credentials and cgroup namespace,
    /// so the write also works after the child entered new user and cgroup
    /// namespaces.
    pub(crate) fn procs_fd(&self) -> BorrowedFd<'_> {
        self.procs_fd.as_fd()
    }

    /// The sandbox's cgroup (holding the limits).
    pub(crate) fn path(&self) -> &Path {
        &self.at.dir
    }

    /// The leaf cgroup where the program runs.
    pub(crate) fn leaf_path(&self) -> &Path {
        &self.leaf
    }

    /// What was enabled, applied and skipped.
    pub(crate) fn report(&self) -> &Report {
        &self.report
    }

    /// Reads the usage counters (valid during and after the run, until removal).
    pub(crate) fn usage(&self) -> Result<Usage, Error> {
        stats::read_usage(&*self.os, &self.at.dir)
    }

    /// Whether any process is left in the cgroup.
    pub(crate) fn is_populated(&self) -> Result<bool, Error> {
        let path = self.at.dir.join("cgroup.events");
        let fd = self
            .os
            .open_file(&path, false)
            .map_err(|e| Error::io(IoOp::Open, &path, e))?;
        Ok(read_events(fd.as_fd(), &path)?.0)
    }

    /// SIGKILLs every process in the cgroup (cgroup.kill, Linux 5.14; a
    /// freeze-and-kill loop on older kernels).
    pub(crate) fn kill(&self) -> Result<(), Error> {
        kill(&*self.os, &self.at, false)
    }

    /// Waits until the cgroup has no process left, at most `timeout`.
    pub(crate) fn wait_empty(&self, timeout: Duration) -> Result<(), Error> {
        wait_empty(&*self.os, &self.at.dir, timeout)
    }

    /// Kills, waits (at most 5 s) and removes the cgroup.
    pub(crate) fn remove(mut self) -> Result<(), Error> {
        self.done = true;
        teardown(&*self.os, &self.at, REMOVE_WAIT)
    }

    /// Kills, waits at most `timeout`, reads the usage, removes the cgroup.
    /// What cannot be removed now is left to `Drop` (which retries later).
    pub(crate) fn finish(mut self, timeout: Duration) -> Result<Usage, Error> {
        let killed = self.kill();
        let emptied = killed.and_then(|()| self.wait_empty(timeout));
        let usage = self.usage();
        if emptied.is_ok() && remove_tree(&*self.os, &self.at.dir).is_ok() {
            self.done = true;
        }
        usage
    }

    /// Kills what is left in the cgroup (with `kill`) and removes it if
    /// nothing is left, without waiting: `Ok(true)` once it is removed,
    /// `Ok(false)` while processes are still on their way out (wait for
    /// [`events`](Self::events) and try again).
    pub(crate) fn try_remove(&mut self, kill: bool) -> Result<bool, Error> {
        if kill {
            self.kill()?;
        }
        if self.is_populated()? {
            return Ok(false);
        }
        remove_tree(&*self.os, &self.at.dir)?;
        self.done = true;
        Ok(true)
    }

    /// The cgroup's `cgroup.events`, which signals every change of its
    /// `populated` key with `POLLPRI`.
    pub(crate) fn events(&self) -> Result<OwnedFd, Error> {
        let path = self.at.dir.join("cgroup.events");
        self.os
            .open_file(&path, false)
            .map_err(|e| Error::io(IoOp::Open, &path, e))
    }

    /// Gives up waiting for the cgroup to empty: its removal is retried by
    /// the next `prepare` of this process, as when `Drop` times out, but
    /// without waiting here.
    pub(crate) fn defer(mut self) {
        self.done = true;
        if let Some(d) = &self.deferred {
            d.push(self.at.clone());
        }
    }

    /// Leaves the cgroup and its processes alone for as long as this
    /// process lives (a sandbox this process cannot reap: a copy inherited
    /// through `fork`, or one whose reaper could not start); once the
    /// process has died, the cgroup is stale and the next user of its
    /// parent removes it.
    pub(crate) fn detach(self) {
        std::mem::forget(self);
    }
}

impl Drop for PreparedCgroup {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if teardown(&*self.os, &self.at, DROP_WAIT).is_err() {
            if let Some(d) = &self.deferred {
                d.push(self.at.clone());
            }
        }
    }
}
