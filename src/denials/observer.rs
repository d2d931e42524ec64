//! The observer: one thread per process that answers every sandbox's
//! seccomp notifications (see the module above for what it promises).
//!
//! Each sandbox program installs the notifying form of its filter with
//! `SECCOMP_FILTER_FLAG_NEW_LISTENER` and sends the listener to the caller
//! before it executes the program; [`Sink::watch`] adds the listener to the
//! observer's epoll set. A refused call blocks in the kernel until the
//! observer has received it, recorded it in its sandbox's [`Sink`] and
//! answered it with the plain filter's errno. A listener leaves the set
//! when the last process using its filter is gone (`EPOLLHUP`) or when its
//! sandbox is finished ([`Sink::close`]). Should the observer ever stop,
//! closing the listeners makes the kernel answer refused calls with
//! `ENOSYS`: a refusal still, never a call that runs.

#![allow(clippy::disallowed_types)] // Parent-side code: Arc, Mutex, HashMap.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use rustix::buffer::spare_capacity;
use rustix::event::epoll;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use super::{Denials, Detail, Event, FileDenial, FileReason, Kind, Observation, SyscallDenial};
use crate::seccomp::CompiledFilter;
use crate::seccomp::notify::{self, ArgKind};
use crate::sys::raw;

/// One sandbox's record of refusals, and what answers them.
pub(crate) struct Sink {
    filter: Arc<CompiledFilter>,
    /// Path strings are read from the program's memory, and written paths
    /// resolved in its filesystem. Not when the policy lets the program
    /// call `userfaultfd` (a page it registers could hold the observer's
    /// read) or mount filesystems (a FUSE filesystem it serves could hold
    /// the observer's lookup), and with the observer every sandbox's
    /// notified calls.
    read_paths: bool,
    callback: Option<Arc<super::Callback>>,
    denials: Mutex<Denials>,
    /// The observer tokens of this sandbox's listeners (a container has
    /// one per program run in it).
    tokens: Mutex<Vec<u64>>,
    observer: Mutex<Option<Arc<Observer>>>,
    last_command: Mutex<Option<(u32, Option<String>)>>,
    /// How many of the sandbox's listeners the observer's thread holds
    /// outside its table right now.
    busy: AtomicUsize,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").finish_non_exhaustive()
    }
}

impl Sink {
    /// A sink for a sandbox whose programs run under `filter`.
    pub(crate) fn new(
        filter: Arc<CompiledFilter>,
        callback: Option<Arc<super::Callback>>,
    ) -> Arc<Sink> {
        let denials = Denials {
            syscalls: Observation::Observed,
            filesystem: if filter.observes_writes() {
                Observation::Inferred
            } else {
                Observation::NotRecorded
            },
            ..Denials::default()
        };
        let refused = |name| {
            matches!(
                filter.constant_action(name),
                Some(crate::seccomp::Action::Errno(_) | crate::seccomp::Action::KillProcess)
            )
        };
        let read_paths = ["userfaultfd", "mount", "fsmount", "move_mount"]
            .into_iter()
            .all(refused);
        Arc::new(Sink {
            read_paths,
            filter,
            callback,
            denials: Mutex::new(denials),
            tokens: Mutex::new(Vec::new()),
            observer: Mutex::new(None),
            last_command: Mutex::new(None),
            busy: AtomicUsize::new(0),
        })
    }

    /// Starts answering the notifications of `listener`.
    pub(crate) fn watch(self: &Arc<Self>, listener: OwnedFd) -> io::Result<()> {
        // A container's later programs go to the observer its first one
        // went to: the tokens name listeners in that observer's table.
        let pid = std::process::id();
        let mine = lock(&self.observer)
            .as_ref()
            .filter(|o| o.pid == pid)
            .map(Arc::clone);
        let observer = match mine {
            Some(o) => o,
            None => Observer::current()?,
        };
        let token = observer.add(listener, self)?;
        lock(&self.tokens).push(token);
        *lock(&self.observer) = Some(observer);
        Ok(())
    }

    /// Records that a program's filter was installed without a listener,
    /// and why (the errno its installation with one failed with).
    pub(crate) fn unobserved(&self, errno: i32) {
        let why = match errno {
            libc::EBUSY => Observation::ListenerTaken,
            _ => Observation::Unsupported,
        };
        let mut d = lock(&self.denials);
        if d.counts.syscall == 0 {
            d.syscalls = why;
            d.filesystem = Observation::NotRecorded;
        }
    }

    /// What was recorded so far.
    pub(crate) fn snapshot(&self) -> Denials {
        lock(&self.denials).clone()
    }

    /// Stops watching every listener of the sandbox (its processes are
    /// gone) and returns what was recorded.
    pub(crate) fn close(&self) -> Denials {
        let tokens = std::mem::take(&mut *lock(&self.tokens));
        if let Some(o) = lock(&self.observer).take() {
            for t in tokens {
                o.remove(t);
            }
            // The observer's thread may still hold one of our listeners (it
            // is answering a notification, or noting that the listener's
            // processes are gone): microseconds, unless a live callback is
            // slow. Waited for (never on that thread), so that a sandbox's
            // end leaves no descriptor open behind it.
            if std::thread::current().id() != *lock(&o.thread) {
                let give_up = std::time::Instant::now() + std::time::Duration::from_secs(1);
                while self.busy.load(Ordering::Acquire) > 0 && std::time::Instant::now() < give_up {
                    std::thread::yield_now();
                }
            }
        }
        self.snapshot()
    }

    /// The name of process `pid` (`/proc/PID/comm`), remembered for the
    /// last process asked about: a program refused over and over is not
    /// read again each time (the name is the program's word anyway).
    fn command_of(&self, pid: u32) -> Option<String> {
        let mut last = lock(&self.last_command);
        if let Some((p, name)) = last.as_ref() {
            if *p == pid {
                return name.clone();
            }
        }
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .ok()
            .map(|s| s.trim_end().to_owned());
        *last = Some((pid, name.clone()));
        name
    }

    fn record(&self, event: Event) {
        lock(&self.denials).push(event.clone());
        if let Some(cb) = &self.callback {
            // A panicking callback loses its own event, nothing else.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(&event)));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.close();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A watched listener.
#[derive(Clone)]
struct Entry {
    fd: Arc<OwnedFd>,
    sink: Arc<Sink>,
}

/// A listener the observer's thread holds outside the table: counted in
/// its sink's `busy` until dropped, after the listener's copy is.
struct Held(Option<Entry>);

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(e) = self.0.take() {
            let sink = Arc::clone(&e.sink);
            drop(e);
            sink.busy.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The process's observer: an epoll set of listeners and the thread that
/// waits on it.
pub(crate) struct Observer {
    epoll: OwnedFd,
    entries: Mutex<HashMap<u64, Entry>>,
    next: AtomicU64,
    /// The process that started the thread (a forked child starts its
    /// own: threads are not copied by fork).
    pid: u32,
    /// The thread that answers.
    thread: Mutex<std::thread::ThreadId>,
    /// Not the process's: started for one sandbox because the process's
    /// could not be had (see [`Observer::current`]); its thread ends once
    /// that sandbox has let go of it.
    private: bool,
}

static CURRENT: Mutex<Option<Arc<Observer>>> = Mutex::new(None);
/// The process whose thread last took [`CURRENT`] to start an observer
/// (0: none yet). A thread that finds the lock held waits for it only when
/// the holder is a thread of its own process: in a child forked while
/// another thread held it, the holder does not exist, and waiting would be
/// forever.
static STARTER: AtomicU32 = AtomicU32::new(0);

impl Observer {
    /// The process's observer, started on first use. Should the slot stay
    /// held by a thread that is not known to be of this process (one of
    /// the process this one was forked from, which will never release it,
    /// or one slow to release it), an observer of the caller's own: the
    /// spawn is observed all the same, never refused for it.
    fn current() -> io::Result<Arc<Observer>> {
        let pid = std::process::id();
        let mut slot = match crate::forksafe::lock_briefly(&CURRENT) {
            Some(g) => g,
            None if STARTER.load(Ordering::Acquire) == pid => lock(&CURRENT),
            None => return Observer::start(pid, true),
        };
        if let Some(o) = slot.as_ref() {
            if o.pid == pid {
                return Ok(Arc::clone(o));
            }
        }
        STARTER.store(pid, Ordering::Release);
        let observer = Observer::start(pid, false)?;
        *slot = Some(Arc::clone(&observer));
        Ok(observer)
    }

    /// A new observer and its thread.
    fn start(pid: u32, private: bool) -> io::Result<Arc<Observer>> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let observer = Arc::new(Observer {
            epoll,
            entries: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            pid,
            // Replaced by the thread's own id below.
            thread: Mutex::new(std::thread::current().id()),
            private,
        });
        let o = Arc::clone(&observer);
        let handle = std::thread::Builder::new()
            .name("stockade-denials".to_owned())
            .stack_size(128 * 1024)
            .spawn(move || Observer::run(&o))?;
        // Before any listener is added: until then it has nothing to do.
        *lock(&observer.thread) = handle.thread().id();
        Ok(observer)
    }

    fn add(&self, listener: OwnedFd, sink: &Arc<Sink>) -> io::Result<u64> {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        // Where the kernel has it: shorter round trips.
        let _ = raw::seccomp_notif_sync_wake_up(listener.as_raw_fd());
        let fd = Arc::new(listener);
        lock(&self.entries).insert(
            token,
            Entry {
                fd: Arc::clone(&fd),
                sink: Arc::clone(sink),
            },
        );
        let flags = epoll::EventFlags::IN | epoll::EventFlags::HUP | epoll::EventFlags::ERR;
        if let Err(e) = epoll::add(&self.epoll, &*fd, epoll::EventData::new_u64(token), flags) {
            lock(&self.entries).remove(&token);
            return Err(e.into());
        }
        Ok(token)
    }

    fn remove(&self, token: u64) {
        let Some(entry) = lock(&self.entries).remove(&token) else {
            return;
        };
        let _ = epoll::delete(&self.epoll, &*entry.fd);
        // The descriptor closes once the observer's thread has let go of
        // the copy it may hold (see `Sink::close`).
    }

    fn run(self: &Arc<Self>) {
        let mut events: Vec<epoll::Event> = Vec::with_capacity(16);
        // A private observer looks up now and then whether its sandbox has
        // let go of it (then this thread holds the last reference).
        let timeout = self.private.then_some(rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 200_000_000,
        });
        loop {
            if self.private && Arc::strong_count(self) == 1 {
                return;
            }
            events.clear();
            match epoll::wait(&self.epoll, spare_capacity(&mut events), timeout.as_ref()) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => {
                    // Nothing sensible is left to do: dropping the
                    // listeners makes refused calls answer ENOSYS.
                    lock(&self.entries).clear();
                    return;
                }
            }
            for ev in &events {
                let (flags, token) = (ev.flags, ev.data.u64());
                // Counted while the table's lock is held, so that a sink
                // that removes its listeners sees this copy.
                let held = lock(&self.entries).get(&token).cloned().map(|e| {
                    e.sink.busy.fetch_add(1, Ordering::AcqRel);
                    Held(Some(e))
                });
                let Some(entry) = held.as_ref().and_then(|h| h.0.as_ref()) else {
                    continue;
                };
                if flags.contains(epoll::EventFlags::IN) {
                    answer(entry);
                } else if flags.intersects(epoll::EventFlags::HUP | epoll::EventFlags::ERR) {
                    // No process uses the filter any more.
                    self.remove(token);
                    lock(&entry.sink.tokens).retain(|&t| t != token);
                }
            }
        }
    }
}

/// Receives one notification, records it and answers it with the refusal.
fn answer(entry: &Entry) {
    let fd = entry.fd.as_raw_fd();
    let Ok(req) = raw::seccomp_notif_recv(fd) else {
        // ENOENT: the caller died waiting; EINTR: the next wake retries.
        return;
    };
    let program = entry.sink.filter.instructions();
    let nr = req.data.nr as u32;
    let name = notify::syscall_name(nr).map_or_else(|| format!("syscall_{nr}"), str::to_owned);
    let plain = notify::evaluate(program, &req.data).map(|r| r & libc::SECCOMP_RET_ACTION_FULL);
    if matches!(plain, Some(libc::SECCOMP_RET_ALLOW | libc::SECCOMP_RET_LOG)) {
        // A write the filter allows: looked at, then let run.
        observe_write(entry, &req, &name);
        // ENOENT (the caller is gone meanwhile) needs nothing.
        let _ = raw::seccomp_notif_continue(fd, req.id);
        return;
    }
    let errno = notify::refusal_errno(program, &req.data);
    let mut decoded = Vec::new();
    let mut paths = Vec::new();
    let args = req.data.args;
    let wanted = notify::interesting_args(&name);
    let mem = (entry.sink.read_paths && wanted.iter().any(|a| a.2 == ArgKind::Path))
        .then(|| File::open(format!("/proc/{}/mem", req.pid)).ok())
        .flatten();
    for &(i, arg, kind) in wanted {
        let Some(&value) = args.get(i) else { continue };
        if kind == ArgKind::Path {
            if let Some(s) = mem.as_ref().and_then(|m| read_string(m, value)) {
                paths.push((arg.to_owned(), s));
            }
        } else {
            decoded.push((arg.to_owned(), notify::describe(kind, value)));
        }
    }
    let command = entry.sink.command_of(req.pid);
    // What was read belongs to the process that made the call only if the
    // notification is still pending (its pid was not reused meanwhile).
    let valid = raw::seccomp_notif_id_valid(fd, req.id);
    if !valid {
        paths.clear();
    }
    entry.sink.record(Event {
        kind: Kind::Syscall,
        count: 1,
        time: SystemTime::now(),
        detail: Detail::Syscall(SyscallDenial {
            syscall: name,
            number: nr,
            args,
            decoded,
            path: paths,
            errno,
            pid: req.pid,
            command: if valid { command } else { None },
        }),
    });
    // ENOENT (the caller is gone meanwhile) needs nothing.
    let _ = raw::seccomp_notif_refuse(fd, req.id, errno);
}

/// Records a write the filter allows if the path it names lies on a
/// read-only mount of the sandbox (the call will fail with `EROFS`).
fn observe_write(entry: &Entry, req: &libc::seccomp_notif, name: &str) {
    if !entry.sink.read_paths {
        return;
    }
    let Ok(mem) = File::open(format!("/proc/{}/mem", req.pid)) else {
        return;
    };
    let args = req.data.args;
    if name == "openat2" {
        // The flags lie in the program's struct open_how.
        let mut flags = [0u8; 8];
        if mem.read_exact_at(&mut flags, args[2]).is_err() {
            return;
        }
        let f = u64::from_ne_bytes(flags) as i32;
        let writes =
            f & libc::O_ACCMODE != libc::O_RDONLY || f & (libc::O_CREAT | libc::O_TRUNC) != 0;
        if !writes {
            return;
        }
    }
    for &(dir, path) in notify::written_paths(name) {
        let Some(p) = read_string(&mem, args[path]) else {
            continue;
        };
        let dirfd = dir.map(|d| args[d] as i32);
        if read_only_at(req.pid, dirfd, &p) != Some(true) {
            continue;
        }
        // The path read belongs to the caller only if it still waits.
        if !raw::seccomp_notif_id_valid(entry.fd.as_raw_fd(), req.id) {
            return;
        }
        entry.sink.record(Event {
            kind: Kind::Filesystem,
            count: 1,
            time: SystemTime::now(),
            detail: Detail::File(FileDenial {
                operation: notify::write_operation(name).to_owned(),
                syscall: name.to_owned(),
                path: p,
                reason: FileReason::ReadOnlyMount,
                inferred: true,
                pid: req.pid,
                command: entry.sink.command_of(req.pid),
            }),
        });
        return;
    }
}

/// Whether `path` (relative to the directory descriptor `dirfd` of
/// process `pid`, or its working directory) lies on a read-only mount as
/// that process sees its filesystem; for a path that does not exist yet,
/// its parent directory's. Resolved inside the process's root
/// (`RESOLVE_IN_ROOT`), so that its symbolic links cannot lead the look
/// out of the sandbox. `None` when it cannot tell.
fn read_only_at(pid: u32, dirfd: Option<i32>, path: &str) -> Option<bool> {
    use std::ffi::CString;
    let base = if path.starts_with('/') {
        format!("/proc/{pid}/root")
    } else {
        match dirfd {
            None | Some(libc::AT_FDCWD) => format!("/proc/{pid}/cwd"),
            Some(fd) if fd >= 0 => format!("/proc/{pid}/fd/{fd}"),
            Some(_) => return None,
        }
    };
    let base = raw::openat(
        libc::AT_FDCWD,
        &CString::new(base).ok()?,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )
    .ok()?;
    let how = raw::OpenHow {
        flags: (libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: raw::RESOLVE_IN_ROOT | raw::RESOLVE_NO_MAGICLINKS,
    };
    let mut rel = path.trim_start_matches('/').trim_end_matches('/');
    for _ in 0..2 {
        let target = if rel.is_empty() { "." } else { rel };
        match raw::openat2(base.raw(), &CString::new(target).ok()?, &how) {
            Ok(fd) => return raw::on_read_only_mount(fd.raw()).ok(),
            Err(raw::Errno(libc::ENOENT)) => {
                rel = rel.rsplit_once('/').map_or("", |(parent, _)| parent);
            }
            Err(_) => return None,
        }
    }
    None
}

/// A NUL-terminated string at `addr` in a process's memory (at most
/// `PATH_MAX` bytes), lossily decoded.
fn read_string(mem: &File, addr: u64) -> Option<String> {
    if addr == 0 {
        return None;
    }
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    let mut got = 0;
    // Read page by page: a string near the end of a mapping is followed
    // by an unmapped page, which fails the whole read.
    while got < buf.len() {
        let at = addr.checked_add(got as u64)?;
        let to_page_end = 4096 - (at % 4096) as usize;
        let end = (got + to_page_end).min(buf.len());
        match mem.read_at(&mut buf[got..end], at) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if buf[got..got + n].contains(&0) {
                    got += n;
                    break;
                }
                got += n;
            }
        }
    }
    let s = buf.get(..got)?;
    let len = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    (got > 0).then(|| String::from_utf8_lossy(&s[..len]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process forked while another thread held the observer's slot
    /// finds it held for good (its holder does not exist there): its
    /// spawns get an observer of their own rather than an error, and that
    /// observer's thread ends once the sandbox lets go of it.
    #[test]
    fn a_slot_held_by_a_thread_of_another_process_gives_a_private_observer() {
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _slot = lock(&CURRENT);
            held_tx.send(()).unwrap();
            let _ = release_rx.recv();
        });
        held_rx.recv().unwrap();
        // As in a forked child: the thread that started the observer was
        // one of another process. (Other tests' spawns meanwhile get
        // private observers too, which is what is tested.)
        let before = STARTER.swap(u32::MAX, Ordering::AcqRel);
        let got = Observer::current();
        STARTER.store(before, Ordering::Release);
        release_tx.send(()).unwrap();
        holder.join().unwrap();

        let observer = got.expect("an observer although the slot was held");
        assert!(observer.private);
        assert_eq!(observer.pid, std::process::id());
        assert!(
            lock(&CURRENT)
                .as_ref()
                .is_none_or(|c| !Arc::ptr_eq(c, &observer)),
            "not the process's observer"
        );
        // Its thread holds the only other reference, until it ends.
        let thread_ref = Arc::downgrade(&observer);
        assert_eq!(Arc::strong_count(&observer), 2);
        drop(observer);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while thread_ref.upgrade().is_some() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(
            thread_ref.upgrade().is_none(),
            "the private observer's thread ended"
        );
    }
}
