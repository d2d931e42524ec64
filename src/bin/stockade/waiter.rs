//! The OCI runtime's waiter: the process `create` leaves behind, whose pid
//! the state reports and an engine's monitor waits for.
//!
//! Engines read more from that pid than its exit status: `podman top` lists
//! the processes of its pid namespace, tools join `/proc/PID/ns/net` to look
//! at the container's network, and the runtime specification calls it "the
//! container process". So the waiter lives in the container's user, mount,
//! network, IPC and UTS namespaces by the time `create` returns. What needs
//! the host's view (the start FIFO in the state directory, the container's
//! control socket, the phase file) is done by a *helper* it forks first,
//! which dies with it (`PR_SET_PDEATHSIG`).
//!
//! Two namespaces stay the caller's: the pid namespace (a member of the
//! container's would be killed with it, before it could end as the
//! program did) and the cgroup namespace (each program of a container has
//! its own).
//!
//! The waiter passes on every signal an engine commonly sends to the
//! helper, which passes it on to the program, and ends as the helper did:
//! with its exit status, or by its signal. It stays dumpable while it waits
//! (engines read its `/proc/PID/ns` as its own uid, which a non-dumpable
//! process refuses) and drops that only to end by a signal, so that a
//! program killed by `SIGSEGV` or `SIGQUIT` does not make the waiter dump
//! core.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::process::ExitCode;

use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::ForkResult;

/// The namespaces the waiter joins, the user namespace first (it owns the
/// others), with their names under `/proc/PID/ns`.
const JOINED: [(&str, CloneFlags); 5] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("mnt", CloneFlags::CLONE_NEWNS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
];

/// Runs the waiter of container `id`, whose init is `init` (a host pid):
/// forks the helper, which runs `host_side` and ends as it returns; joins
/// the container's namespaces; writes a byte to `ready` once it is in
/// them; then passes signals on and ends as the helper did.
pub fn run(id: &str, init: u32, ready: OwnedFd, host_side: impl FnOnce() -> ExitCode) -> ExitCode {
    // Everything that needs the host's view, opened before the fork.
    let null = match File::options().read(true).write(true).open("/dev/null") {
        Ok(f) => f,
        Err(e) => return fail(id, format!("failed to open /dev/null: {e}")),
    };
    let mut joins = Vec::new();
    for (name, flag) in JOINED {
        let theirs = match File::open(format!("/proc/{init}/ns/{name}")) {
            Ok(f) => f,
            Err(e) => return fail(id, format!("its {name} namespace: {e}")),
        };
        let same = match (
            theirs.metadata(),
            std::fs::metadata(format!("/proc/self/ns/{name}")),
        ) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            (Err(e), _) | (_, Err(e)) => return fail(id, format!("its {name} namespace: {e}")),
        };
        // Joining one's own namespace is refused (EINVAL for a user
        // namespace) and changes nothing: a container without its own
        // network namespace, say.
        if !same {
            joins.push((name, flag, theirs));
        }
    }

    // Blocked before the fork, so that no signal or child's end is lost
    // between the fork and the signalfd; the helper unblocks them.
    let mut mask = SigSet::empty();
    for s in crate::container::FORWARDED
        .into_iter()
        .chain(crate::container::RELAYED)
        .chain([Signal::SIGCHLD])
    {
        mask.add(s);
    }
    let mut old = SigSet::empty();
    if let Err(e) =
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), Some(&mut old))
    {
        return fail(id, format!("failed to block signals: {e}"));
    }
    let parent = nix::unistd::getpid();
    // SAFETY: this process has one thread (it was just executed for this
    // and started none), so the child may run anything after the fork.
    let helper = match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => {
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            // The waiter may have ended before the line above.
            if nix::unistd::getppid() != parent {
                return ExitCode::from(1);
            }
            drop(ready);
            drop(joins);
            drop(null);
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            return host_side();
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => return fail(id, format!("failed to fork: {e}")),
    };
    let abandon = |msg: String| {
        let _ = nix::sys::signal::kill(helper, Signal::SIGKILL);
        let _ = waitpid(helper, None);
        fail(id, msg)
    };
    let sfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC) {
        Ok(s) => s,
        Err(e) => return abandon(format!("failed to watch signals: {e}")),
    };
    for (name, flag, f) in &joins {
        if let Err(e) = nix::sched::setns(f, *flag) {
            return abandon(format!("failed to join its {name} namespace: {e}"));
        }
    }
    drop(joins);
    // The engine's streams are the helper's (and the program's); this
    // process keeps none, so that a pipe closes when they are done.
    for n in 0..3 {
        let r = match n {
            0 => nix::unistd::dup2_stdin(null.as_fd()),
            1 => nix::unistd::dup2_stdout(null.as_fd()),
            _ => nix::unistd::dup2_stderr(null.as_fd()),
        };
        if let Err(e) = r {
            return abandon(format!("failed to let go of its standard streams: {e}"));
        }
    }
    drop(null);
    if File::from(ready).write_all(b"r").is_err() {
        // `create` gave up on us.
        return abandon(String::new());
    }

    loop {
        // The helper may have ended before the signalfd existed.
        match waitpid(helper, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return ExitCode::from(code as u8),
            Ok(WaitStatus::Signaled(_, sig, _)) => return crate::die_as_program(sig),
            Ok(_) => {}
            // No helper to wait for: it was reaped, which nothing else
            // here does.
            Err(_) => return ExitCode::from(125),
        }
        match sfd.read_signal() {
            Ok(Some(info)) => {
                let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                    continue;
                };
                if sig != Signal::SIGCHLD {
                    let _ = nix::sys::signal::kill(helper, sig);
                }
            }
            Ok(None) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => {
                // Without the signalfd, wait for the helper alone.
                return match waitpid(helper, None) {
                    Ok(WaitStatus::Exited(_, code)) => ExitCode::from(code as u8),
                    Ok(WaitStatus::Signaled(_, sig, _)) => crate::die_as_program(sig),
                    _ => ExitCode::from(125),
                };
            }
        }
    }
}

fn fail(id: &str, msg: String) -> ExitCode {
    if !msg.is_empty() {
        eprintln!("stockade-oci: container {id}: the waiter: {msg}");
    }
    ExitCode::from(1)
}
