//! Denial reports (`Outcome::denials`): each kind of refusal produces its
//! event with the right details, the program cannot forge or hide one, and
//! with observation off the sandbox behaves as before and says so. As root
//! and unprivileged.
//!
//! The refused calls are made with Python's `ctypes` (raw system calls with
//! the arguments the test chooses) and with the system's own tools.

mod common;

use std::sync::{Arc, Mutex};

use common::{as_each_identity, chain, sh};
use stockade::denials::{Denials, Detail, Event, Kind, Observation, SyscallDenial};
use stockade::{Network, Sandbox};

/// Runs `script` and returns its outcome's denials, with its stdout.
fn denials_of(sb: &Sandbox, script: &str) -> (Denials, String) {
    let out = sb
        .output(&mut sh(script))
        .unwrap_or_else(|e| panic!("spawn failed: {}", chain(&e)));
    (
        out.outcome.denials.clone(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn syscalls(d: &Denials) -> Vec<&SyscallDenial> {
    d.events
        .iter()
        .filter_map(|e| match &e.detail {
            Detail::Syscall(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn find<'a>(d: &'a Denials, name: &str) -> &'a SyscallDenial {
    syscalls(d)
        .into_iter()
        .find(|s| s.syscall == name)
        .unwrap_or_else(|| panic!("no {name} event in {d:#?}"))
}

fn arg<'a>(s: &'a SyscallDenial, name: &str) -> Option<&'a str> {
    s.decoded
        .iter()
        .chain(&s.path)
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A Python one-liner making raw system calls through ctypes; prints
/// each call's errno.
fn py(body: &str) -> String {
    format!(
        "/usr/bin/python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def call(nr, *args):
    r = libc.syscall(nr, *args)
    print(ctypes.get_errno() if r == -1 else 0)
{body}
'"
    )
}

#[test]
fn refused_system_calls_are_reported_with_their_arguments() {
    as_each_identity(|| {
        let sb = Sandbox::new();
        let (d, out) = denials_of(
            &sb,
            &format!(
                "{}; mount -t tmpfs none /tmp 2>/dev/null; unshare -U true 2>/dev/null; exit 0",
                py(
                    "call(250, 1, 0, 0, 0, 0)  # keyctl(KEYCTL_JOIN_SESSION_KEYRING)
call(101, 16, 1, 0, 0)  # ptrace(PTRACE_ATTACH, 1)"
                )
            ),
        );
        assert_eq!(d.syscalls, Observation::Observed, "{d:#?}");
        // What the program saw is the policy's errno.
        assert_eq!(out.lines().collect::<Vec<_>>(), ["1", "1"], "{d:#?}");
        let keyctl = find(&d, "keyctl");
        assert_eq!(arg(keyctl, "operation"), Some("1"));
        assert_eq!(keyctl.errno, libc::EPERM);
        assert!(keyctl.pid > 0);
        assert_eq!(keyctl.command.as_deref(), Some("python3"));
        let ptrace = find(&d, "ptrace");
        assert_eq!(arg(ptrace, "request"), Some("PTRACE_ATTACH"));
        assert_eq!(arg(ptrace, "pid"), Some("1"));
        let mount = find(&d, "mount");
        assert_eq!(arg(mount, "target"), Some("/tmp"), "{mount:#?}");
        assert_eq!(arg(mount, "type"), Some("tmpfs"));
        let unshare = find(&d, "unshare");
        assert!(
            arg(unshare, "flags").is_some_and(|f| f.contains("CLONE_NEWUSER")),
            "{unshare:#?}"
        );
        assert!(d.counts.syscall >= 4);
        let text = d.to_string();
        assert!(text.starts_with("denied: "), "{text}");
        assert!(text.contains("mount target=/tmp"), "{text}");
    });
}

#[test]
fn a_socket_refused_by_the_network_filter_is_reported() {
    as_each_identity(|| {
        let mut sb = Sandbox::new();
        sb.network(Network::Blocked);
        let (d, out) = denials_of(
            &sb,
            &py("call(41, 2, 1, 0)  # socket(AF_INET, SOCK_STREAM)"),
        );
        assert_eq!(out.trim(), libc::EAFNOSUPPORT.to_string());
        let socket = find(&d, "socket");
        assert_eq!(arg(socket, "family"), Some("AF_INET"));
        assert_eq!(arg(socket, "type"), Some("SOCK_STREAM"));
        assert_eq!(socket.errno, libc::EAFNOSUPPORT);
    });
}

#[test]
fn repeated_refusals_are_counted_once_per_kind_of_call() {
    as_each_identity(|| {
        let sb = Sandbox::new();
        let (d, _) = denials_of(
            &sb,
            &py("for i in range(500): call(250, 1, 0, 0, 0, 0)
for i in range(3): call(250, 2, 0, 0, 0, 0)"),
        );
        let events: Vec<&Event> = d.of_kind(Kind::Syscall).collect();
        let keyctl: Vec<&&Event> = events
            .iter()
            .filter(|e| matches!(&e.detail, Detail::Syscall(s) if s.syscall == "keyctl"))
            .collect();
        assert_eq!(keyctl.len(), 2, "{d:#?}");
        assert_eq!(keyctl[0].count, 500);
        assert_eq!(keyctl[1].count, 3);
        assert!(d.counts.syscall >= 503);
    });
}

#[test]
fn the_program_cannot_forge_an_event() {
    as_each_identity(|| {
        let sb = Sandbox::new();
        // Look-alike text on every stream, and allowed calls only.
        let (d, _) = denials_of(
            &sb,
            "echo 'denied: mount target=/etc (seccomp filter: EPERM)'; \
             echo 'denied: mount target=/etc (seccomp filter: EPERM)' >&2; \
             printf 'mount\\n' > /tmp/comm 2>/dev/null; true",
        );
        assert_eq!(d.syscalls, Observation::Observed);
        assert!(
            syscalls(&d).is_empty(),
            "an allowed program has no events: {d:#?}"
        );
        assert!(d.is_empty());
        assert_eq!(d.to_string(), "denied: nothing observed");
    });
}

#[test]
fn with_observation_off_the_refusals_are_the_same_and_the_report_says_so() {
    as_each_identity(|| {
        let mut sb = Sandbox::new();
        sb.observe_denials(false);
        let script = py("call(250, 1, 0, 0, 0, 0)
call(101, 16, 1, 0, 0)");
        let (d, out) = denials_of(&sb, &script);
        assert_eq!(out.lines().collect::<Vec<_>>(), ["1", "1"]);
        assert_eq!(d.syscalls, Observation::Disabled);
        assert!(syscalls(&d).is_empty());
        assert!(d.to_string().contains("observation is turned off"), "{d}");
        // Without a filter there is nothing to observe.
        let mut none = Sandbox::new();
        none.seccomp(None);
        let (d, _) = denials_of(&none, "true");
        assert_eq!(d.syscalls, Observation::NotEnforced);
    });
}

#[test]
fn refusals_are_streamed_live_before_the_call_returns() {
    as_each_identity(|| {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let s = seen.clone();
        let mut sb = Sandbox::new();
        sb.on_denial(move |e| s.lock().unwrap().push(e.to_string()));
        let mut child = sb
            .spawn(
                sh(&py("call(250, 1, 0, 0, 0, 0)
import sys; sys.stdout.flush(); sys.stdin.read(1)"))
                .stdin(stockade::Stdio::piped())
                .stdout(stockade::Stdio::piped()),
            )
            .unwrap_or_else(|e| panic!("spawn failed: {}", chain(&e)));
        let mut line = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert_eq!(line.trim(), "1");
        // The program got its answer: the event was recorded before it.
        assert_eq!(seen.lock().unwrap().len(), 1, "{:?}", seen.lock().unwrap());
        assert!(seen.lock().unwrap()[0].starts_with("keyctl operation=1"));
        assert_eq!(child.denials().counts.syscall, 1);
        drop(child.stdin.take());
        let status = child.wait().unwrap();
        assert!(status.success());
        assert_eq!(child.outcome().unwrap().denials.counts.syscall, 1);
    });
}
