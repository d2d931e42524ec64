//! Whether a program executed in a new time namespace really is in it.
//!
//! Kernels that do not switch a process into its time namespace at exec
//! leave it in the caller's (Debian's 6.1 does; its vforks then fail). The
//! answer comes from a one-time probe sandbox: a shell that writes a line
//! and then blocks reading its stdin. Once its line has arrived the shell is
//! certainly past exec, so its namespace is final; looking any earlier would
//! race with exec, which releases the supervisor (by closing the
//! close-on-exec error pipe) before it switches the namespace. Without a
//! shell to probe with, the answer is no.

use std::io::Read as _;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::command::{Command, StdioKind};
use crate::compile;
use crate::config::Config;
use crate::namespaces::Namespaces;

/// Whether the running kernel moves a program into its new time namespace
/// at exec; probed once (0: not yet, 1: yes, 2: no). Threads that ask
/// before the first answer each probe: none waits for another's probe,
/// which a process forked while it ran would wait for forever.
pub(super) fn entered_at_exec() -> bool {
    static PROBE: AtomicU8 = AtomicU8::new(0);
    match PROBE.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let yes = probe();
            PROBE.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
            yes
        }
    }
}

fn probe() -> bool {
    let cfg = Config {
        namespaces: Namespaces::USER | Namespaces::TIME,
        ..Config::default()
    };
    let Ok(compiled) = compile::compile(&cfg) else {
        return false;
    };
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("echo ready; read x")
        .stdin(crate::Stdio::piped())
        .stdout(crate::Stdio::piped())
        .stderr(crate::Stdio::null());
    // The orchestrator itself, not `spawn`, which would ask this probe.
    match super::run(&cfg, &compiled, &mut cmd, StdioKind::Null, StdioKind::Null) {
        Err(_) => false,
        Ok(mut child) => {
            let mut byte = [0u8; 1];
            let past_exec = child
                .stdout
                .as_mut()
                .is_some_and(|out| matches!(out.read(&mut byte), Ok(1)));
            let entered = past_exec && differs_from_ours(child.id()).unwrap_or(false);
            let _ = child.kill();
            let _ = child.wait();
            entered
        }
    }
}

/// Whether process `pid` is in a time namespace other than ours; `None` if
/// it cannot be told (the process is gone).
fn differs_from_ours(pid: u32) -> Option<bool> {
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/time")).ok()?;
    let ours = std::fs::read_link("/proc/self/ns/time").ok()?;
    Some(theirs != ours)
}
