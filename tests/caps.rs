//! Capabilities and no_new_privs against the running kernel.
//!
//! The plan is prepared in the test process and applied in a forked child
//! (`pre_exec`), sometimes after the child entered a new user namespace, and
//! the executed program (`/bin/cat /proc/self/status`, or this test binary
//! re-executed as a probe) shows the result.

mod common;

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};
use std::sync::Arc;

use stockade::{Namespaces, Sandbox, caps, confine};

// ---------------------------------------------------------------- helpers

use common::skip;

fn has_cap(cap: ::caps::Capability) -> bool {
    ::caps::has_cap(None, ::caps::CapSet::Effective, cap).unwrap_or(false)
}

/// Root with the capabilities these tests keep or need.
fn privileged() -> bool {
    has_cap(::caps::Capability::CAP_SETPCAP)
        && has_cap(::caps::Capability::CAP_SETUID)
        && has_cap(::caps::Capability::CAP_NET_BIND_SERVICE)
}

fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn full_mask() -> u64 {
    (1u64 << (last_cap() + 1)) - 1
}

type Hook = Box<dyn FnMut() -> io::Result<()> + Send + Sync>;

fn write_file(path: &CString, data: &[u8]) -> io::Result<()> {
    // SAFETY: a NUL-terminated path that outlives the call.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: data is a live buffer of data.len() bytes.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    let err = io::Error::last_os_error();
    // SAFETY: closes the fd opened above.
    unsafe { libc::close(fd) };
    if n < 0 { Err(err) } else { Ok(()) }
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A `pre_exec` hook: optionally become `nobody` first (so the namespace is
/// created by an unprivileged user), then enter a new user namespace (plus
/// `extra` namespaces) as uid/gid `inside`. Everything it touches is built
/// before the fork.
fn enter_userns(inside: u32, extra: libc::c_int, as_nobody: bool) -> Hook {
    let (outside_uid, outside_gid) = if as_nobody {
        (65534, 65534)
    } else {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    };
    let uid_map = format!("{inside} {outside_uid} 1\n").into_bytes();
    let gid_map = format!("{inside} {outside_gid} 1\n").into_bytes();
    let (setgroups, uid_path, gid_path) = (
        CString::new("/proc/self/setgroups").unwrap(),
        CString::new("/proc/self/uid_map").unwrap(),
        CString::new("/proc/self/gid_map").unwrap(),
    );
    Box::new(move || {
        if as_nobody {
            // SAFETY: setgroups with an empty list, then set ids; the forked
            // child is single-threaded.
            check(unsafe { libc::setgroups(0, std::ptr::null()) })?;
            // SAFETY: as above.
            check(unsafe { libc::setgid(outside_gid) })?;
            // SAFETY: as above.
            check(unsafe { libc::setuid(outside_uid) })?;
            // Changing uid made the process non-dumpable, which makes its
            // /proc files root's; make them ours again for the id maps.
            // SAFETY: PR_SET_DUMPABLE takes no pointers.
            check(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) })?;
        }
        // SAFETY: unshare takes no pointers.
        check(unsafe { libc::unshare(libc::CLONE_NEWUSER | extra) })?;
        write_file(&setgroups, b"deny")?;
        write_file(&uid_path, &uid_map)?;
        write_file(&gid_path, &gid_map)
    })
}

fn run(
    prepared: Option<&Arc<confine::Prepared>>,
    before: Option<Hook>,
    cmd: &mut Command,
) -> Output {
    if let Some(hook) = before {
        // SAFETY: the hook only issues async-signal-safe calls over data built
        // before the fork.
        unsafe { cmd.pre_exec(hook) };
    }
    if let Some(p) = prepared {
        let p = p.clone();
        // SAFETY: confine::Prepared::apply only issues raw system calls.
        unsafe {
            cmd.pre_exec(move || {
                p.apply().map_err(|e| {
                    io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(libc::EINVAL))
                })
            })
        };
    }
    cmd.output().unwrap()
}

/// The `/proc/self/status` lines of the executed program.
#[derive(Debug)]
struct Status(HashMap<String, String>);

impl Status {
    fn hex(&self, key: &str) -> u64 {
        u64::from_str_radix(&self.0[key], 16).unwrap()
    }
    fn caps(&self) -> [u64; 5] {
        ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"].map(|k| self.hex(k))
    }
    fn no_new_privs(&self) -> bool {
        self.0["NoNewPrivs"] == "1"
    }
    fn uid(&self) -> u32 {
        self.0["Uid"]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }
}

fn status(prepared: Option<&Arc<confine::Prepared>>, before: Option<Hook>) -> Option<Status> {
    let out = run(
        prepared,
        before,
        Command::new("/bin/cat").arg("/proc/self/status"),
    );
    if !out.status.success() {
        eprintln!(
            "cat failed: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(parse_status(&String::from_utf8(out.stdout).unwrap()))
}

fn parse_status(text: &str) -> Status {
    Status(
        text.lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
            .collect(),
    )
}

fn confine(policy: caps::Policy) -> Arc<confine::Prepared> {
    Arc::new(
        confine::Confinement::new()
            .capabilities(policy)
            .prepare()
            .unwrap(),
    )
}

/// For a child that enters a user namespace before applying.
fn confine_userns(policy: caps::Policy) -> Arc<confine::Prepared> {
    Arc::new(
        confine::Confinement::new()
            .capabilities(policy)
            .in_new_user_namespace(true)
            .prepare()
            .unwrap(),
    )
}

fn keep(caps: &[caps::Capability], ambient: bool) -> caps::Policy {
    let mut p = caps::Policy::new();
    p.keep_all(caps.iter().copied()).ambient(ambient);
    p
}

/// Runs this test binary as a probe; returns what it printed after
/// `PROBE=`.
fn run_probe(
    prepared: Option<&Arc<confine::Prepared>>,
    before: Option<Hook>,
    op: &str,
    arg: &str,
) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "probe",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("STOCKADE_PROBE", op)
    .env("STOCKADE_PROBE_0", arg);
    let out = run(prepared, before, &mut cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.split_once("PROBE=").map(|(_, v)| v.trim().to_owned()))
        .unwrap_or_else(|| {
            panic!(
                "probe {op} printed nothing: {:?}\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

#[test]
#[ignore = "helper executed by the other tests"]
fn probe() {
    let Ok(op) = std::env::var("STOCKADE_PROBE") else {
        return;
    };
    let arg = std::env::var("STOCKADE_PROBE_0").unwrap_or_default();
    let result = match op.as_str() {
        "securebits" => {
            // SAFETY: PR_GET_SECUREBITS takes no pointers.
            let bits = unsafe { libc::prctl(libc::PR_GET_SECUREBITS) };
            bits.to_string()
        }
        "bind-any" => {
            let port: u16 = arg.parse().unwrap();
            match std::net::TcpListener::bind(("0.0.0.0", port)) {
                Ok(_) => "0".to_owned(),
                Err(e) => e.raw_os_error().unwrap_or(-1).to_string(),
            }
        }
        other => panic!("unknown probe {other}"),
    };
    println!("PROBE={result}");
    std::process::exit(0);
}

/// User namespaces usable here? Checked with the control run itself.
fn userns_or_skip(control: &Option<Status>) -> bool {
    if control.is_none() {
        skip("cannot create a user namespace here");
        return false;
    }
    true
}

// ------------------------------------------------------------------ tests

#[test]
fn drops_every_capability_as_root() {
    common::as_root(|| {
        if !privileged() {
            return skip("root without CAP_SETPCAP, CAP_SETUID or CAP_NET_BIND_SERVICE");
        }
        let control = status(None, None).unwrap();
        assert_ne!(control.hex("CapEff"), 0, "control run has no capabilities");

        let prepared = confine(caps::Policy::new());
        let report = prepared.report().capabilities.clone().unwrap();
        assert!(report.kept.is_empty());
        assert!(report.bounding_set_dropped && report.noroot_locked && report.no_new_privs);
        let s = status(Some(&prepared), None).unwrap();
        assert_eq!(s.caps(), [0; 5], "{s:?}");
        assert!(s.no_new_privs());
    });
}

#[test]
fn drops_every_capability_in_an_unprivileged_user_namespace() {
    let as_nobody = privileged();
    // Control: uid 0 in a fresh user namespace holds every capability there.
    let control = status(None, Some(enter_userns(0, 0, as_nobody)));
    if !userns_or_skip(&control) {
        return;
    }
    let control = control.unwrap();
    assert_eq!(control.uid(), 0);
    assert_eq!(control.hex("CapEff"), full_mask(), "{control:?}");

    // Prepared from this process's credentials (which may hold nothing, so
    // the child checks for CAP_SETPCAP itself), or declared up front.
    for prepared in [
        confine(caps::Policy::new()),
        confine_userns(caps::Policy::new()),
    ] {
        let s = status(Some(&prepared), Some(enter_userns(0, 0, as_nobody))).unwrap();
        assert_eq!(s.uid(), 0);
        assert_eq!(s.caps(), [0; 5], "{s:?}");
        assert!(s.no_new_privs());
    }
}

/// With SECBIT_NOROOT locked, uid 0 gets nothing from execve even with a
/// capability left in the bounding set; without it, it would get that one.
#[test]
fn uid_0_in_a_user_namespace_regains_nothing_on_exec() {
    let as_nobody = privileged();
    // Control: only the bounding set reduced (raw), no securebits.
    let mut enter = enter_userns(0, 0, as_nobody);
    let last = last_cap();
    let only_bounding: Hook = Box::new(move || {
        enter()?;
        for cap in 0..=last {
            if cap != caps::Capability::NetBindService.number() as u32 {
                // SAFETY: PR_CAPBSET_DROP takes no pointers.
                check(unsafe {
                    libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0)
                })?;
            }
        }
        Ok(())
    });
    let Some(control) = status(None, Some(only_bounding)) else {
        skip("cannot create a user namespace here");
        return;
    };
    let bind = 1u64 << caps::Capability::NetBindService.number();
    assert_eq!(control.hex("CapBnd"), bind);
    assert_eq!(
        control.hex("CapEff"),
        bind,
        "root regains from the bounding set"
    );

    let prepared = confine_userns(keep(&[caps::Capability::NetBindService], false));
    let s = status(Some(&prepared), Some(enter_userns(0, 0, as_nobody))).unwrap();
    assert_eq!(s.uid(), 0);
    assert_eq!(s.caps(), [0, 0, 0, bind, 0], "{s:?}");

    // The executed program sees NOROOT and its lock.
    let prepared = confine_userns(caps::Policy::new());
    let bits: i32 = run_probe(
        Some(&prepared),
        Some(enter_userns(0, 0, as_nobody)),
        "securebits",
        "",
    )
    .parse()
    .unwrap();
    assert_eq!(bits & 0b11, 0b11, "securebits {bits:#x}");
}

#[test]
fn kept_net_bind_service_lets_a_non_root_uid_bind_port_80() {
    let ns = libc::CLONE_NEWNET;
    let control = status(None, Some(enter_userns(1000, ns, false)));
    if !userns_or_skip(&control) {
        return;
    }
    let bind = 1u64 << caps::Capability::NetBindService.number();

    let prepared = confine_userns(keep(&[caps::Capability::NetBindService], true));
    let report = prepared.report().capabilities.clone().unwrap();
    assert_eq!(report.kept, vec![caps::Capability::NetBindService]);
    assert!(report.ambient);
    let s = status(Some(&prepared), Some(enter_userns(1000, ns, false))).unwrap();
    assert_eq!(s.uid(), 1000);
    assert_eq!(s.caps(), [bind, bind, bind, bind, bind], "{s:?}");
    assert!(s.no_new_privs());
    let e = run_probe(
        Some(&prepared),
        Some(enter_userns(1000, ns, false)),
        "bind-any",
        "80",
    );
    assert_eq!(e, "0");

    // Without it, or without making it ambient, the bind is refused.
    for policy in [
        caps::Policy::new(),
        keep(&[caps::Capability::NetBindService], false),
    ] {
        let prepared = confine_userns(policy);
        let e = run_probe(
            Some(&prepared),
            Some(enter_userns(1000, ns, false)),
            "bind-any",
            "80",
        );
        assert_eq!(e, libc::EACCES.to_string());
    }
}

/// The `/proc/self/status` of `/bin/cat` run in `sb`.
fn sandbox_status(sb: &Sandbox) -> Status {
    let out = sb
        .output(stockade::Command::new("/bin/cat").arg("/proc/self/status"))
        .unwrap_or_else(|e| panic!("spawn failed: {}", common::chain(&e)));
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    parse_status(&String::from_utf8(out.stdout).unwrap())
}

/// A root caller without a user namespace can switch the program to
/// another uid: the switch happens after the bounding set and securebits
/// are settled (they need CAP_SETPCAP, which a non-root uid does not keep),
/// and a kept capability stays, ambient, across the switch and `execve`.
#[test]
fn without_a_user_namespace_runs_as_another_uid_without_capabilities_as_root() {
    common::as_root(|| {
        if !privileged() {
            return skip("root without CAP_SETPCAP, CAP_SETUID or CAP_NET_BIND_SERVICE");
        }
        let mut sb = Sandbox::new();
        sb.namespaces(Namespaces::empty()).uid(65534).gid(65534);
        let s = sandbox_status(&sb);
        assert_eq!(s.uid(), 65534, "{s:?}");
        assert_eq!(s.0["Gid"].split_whitespace().next(), Some("65534"));
        assert_eq!(s.0["Groups"], "");
        assert_eq!(s.caps(), [0; 5], "{s:?}");
        assert!(s.no_new_privs());

        // A kept capability is the program's (ambient) as a non-root uid; in a
        // network namespace of its own, it binds port 80 with it.
        let bind = 1u64 << caps::Capability::NetBindService.number();
        sb.namespaces(Namespaces::NET)
            .keep_capability(caps::Capability::NetBindService);
        let s = sandbox_status(&sb);
        assert_eq!(s.uid(), 65534, "{s:?}");
        assert_eq!(s.caps(), [bind; 5], "{s:?}");
        let exe = common::world_executable(&std::env::current_exe().unwrap());
        let out = sb
            .output(
                stockade::Command::new(exe)
                    .args(["--exact", "probe", "--ignored", "--nocapture"])
                    .env("STOCKADE_PROBE", "bind-any")
                    .env("STOCKADE_PROBE_0", "80"),
            )
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("PROBE=0\n"), "{stdout}");
    });
}

#[test]
fn no_new_privs_can_be_turned_off() {
    let prepared = Arc::new(
        confine::Confinement::new()
            .capabilities(caps::Policy::new())
            .no_new_privs(false)
            .prepare()
            .unwrap(),
    );
    assert!(!prepared.report().no_new_privs);
    let s = status(Some(&prepared), None).unwrap();
    assert!(!s.no_new_privs());
    assert_eq!(s.hex("CapEff"), 0);
    let on = Arc::new(confine::Confinement::new().prepare().unwrap());
    assert!(status(Some(&on), None).unwrap().no_new_privs());
}

#[cfg(feature = "landlock")]
fn read_usr_best_effort() -> stockade::landlock::Policy {
    let mut policy = stockade::landlock::Policy::new();
    policy
        .allow_read("/usr")
        .compat(stockade::CompatLevel::BestEffort);
    policy
}

#[cfg(feature = "landlock")]
#[test]
fn landlock_without_no_new_privs_needs_cap_sys_admin() {
    common::as_each_identity(|| {
        let policy = read_usr_best_effort();
        if !policy.validate().is_ok_and(|r| r.abi.is_some()) {
            return skip("the kernel has no Landlock");
        }
        let r = confine::Confinement::new()
            .landlock(policy)
            .capabilities(caps::Policy::new())
            .no_new_privs(false)
            .prepare();
        assert!(
            matches!(r, Err(stockade::confine::Error::NoNewPrivsRequired)),
            "{r:?}"
        );
    });
}

#[cfg(feature = "landlock")]
#[test]
fn landlock_without_no_new_privs_is_allowed_with_cap_sys_admin_as_root() {
    common::as_root(|| {
        if !(privileged() && has_cap(::caps::Capability::CAP_SYS_ADMIN)) {
            return skip("root without CAP_SYS_ADMIN");
        }
        let mut caps = caps::Policy::new();
        caps.keep(caps::Capability::SysAdmin);
        let r = confine::Confinement::new()
            .landlock(read_usr_best_effort())
            .capabilities(caps)
            .no_new_privs(false)
            .prepare();
        assert!(r.is_ok(), "{r:?}");
    });
}

/// As an unprivileged uid, which holds no capability (root may hold them
/// all, and then has none to lack).
#[test]
fn not_held_capability_is_refused() {
    common::as_unprivileged(|| {
        let missing = caps::Capability::ALL.iter().copied().find(|c| {
            let cap: ::caps::Capability = c.name().parse().unwrap();
            !::caps::has_cap(None, ::caps::CapSet::Permitted, cap).unwrap_or(false)
        });
        let missing = missing.expect("an unprivileged uid holds no capability");
        let mut p = caps::Policy::new();
        p.keep(missing);
        match confine::Confinement::new().capabilities(p).prepare() {
            Err(stockade::confine::Error::Caps(stockade::caps::Error::NotHeld { cap })) => {
                assert_eq!(cap, missing)
            }
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[cfg(feature = "serde")]
#[test]
fn policy_and_report_serialize() {
    let p = keep(
        &[caps::Capability::NetBindService, caps::Capability::Chown],
        true,
    );
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.contains("\"CAP_NET_BIND_SERVICE\""), "{json}");
    let back: caps::Policy = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    let short: caps::Policy =
        serde_json::from_str(r#"{"keep":["net_bind_service"],"ambient":true,"no_new_privs":true}"#)
            .unwrap();
    assert_eq!(
        short.kept().collect::<Vec<_>>(),
        vec![caps::Capability::NetBindService]
    );
    assert!(
        serde_json::from_str::<caps::Policy>(
            r#"{"keep":["cap_nope"],"ambient":true,"no_new_privs":true}"#
        )
        .is_err()
    );
}

/// `lock_noroot(false)`: the securebits stay the program's, and uid 0 gets
/// the bounding set (the kept capabilities) at `execve` as on any system.
/// By default `SECBIT_NOROOT` is set and locked, and uid 0 holds after
/// `execve` only what is ambient.
#[test]
fn root_gains_the_bounding_set_only_without_the_noroot_lock() {
    common::as_each_identity(|| {
        let script = "python3 -c 'import ctypes; print(ctypes.CDLL(None).prctl(27, 0, 0, 0, 0))'; \
                      grep CapEff /proc/self/status";
        let run = |lock: bool| {
            let mut p = caps::Policy::new();
            p.keep(caps::Capability::NetBindService)
                .ambient(false)
                .lock_noroot(lock);
            let out = Sandbox::new()
                .uid(0)
                .gid(0)
                .capabilities(p)
                .output(stockade::Command::new("sh").arg("-c").arg(script))
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        // PR_GET_SECUREBITS: 3 is SECBIT_NOROOT and its lock.
        assert_eq!(run(true), "3\nCapEff:\t0000000000000000\n");
        assert_eq!(run(false), "0\nCapEff:\t0000000000000400\n");
    });
}
