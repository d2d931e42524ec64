//! Networking denied by the seccomp filter and Landlock instead of a network
//! namespace (`Sandbox::deny_net_by_filter`), as root and unprivileged.
//!
//! The mode needs Landlock ABI 6 (Linux 6.12) for its abstract unix socket
//! scope; on older kernels every test here asserts the typed error a spawn
//! gets instead.
#![cfg(all(feature = "seccomp", feature = "landlock"))]

mod common;

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};

use common::{as_each_identity, chain};
use stockade::{Command, Error, Namespaces, Sandbox, error, landlock};

/// The running kernel's Landlock ABI version (0: none).
fn landlock_abi() -> i64 {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    // reads no memory and returns the ABI version or an error.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    v.max(0)
}

fn filtered() -> Sandbox {
    let mut sb = Sandbox::new();
    sb.network(stockade::Network::Blocked);
    sb
}

/// On a kernel without the abstract unix socket scope, the spawn fails with
/// the typed Landlock error naming it; returns whether that was the case.
fn refused_for_old_kernel(sb: &Sandbox) -> bool {
    if landlock_abi() >= 6 {
        return false;
    }
    let err = sb
        .output(&mut Command::new("true"))
        .expect_err("deny_net_by_filter spawned without Landlock ABI 6");
    assert!(
        matches!(
            err,
            Error::Landlock(landlock::Error::Unsupported {
                feature: landlock::Feature::ScopeAbstractUnixSocket,
                ..
            })
        ),
        "{}",
        chain(&err)
    );
    eprintln!(
        "Landlock ABI {} (< 6): deny_net_by_filter is refused with a typed error, as it must be",
        landlock_abi()
    );
    true
}

const SOCKETS: &str = r#"
import errno, os, socket
kinds = [("AF_INET", socket.SOCK_STREAM), ("AF_INET6", socket.SOCK_STREAM),
         ("AF_NETLINK", socket.SOCK_DGRAM), ("AF_PACKET", socket.SOCK_DGRAM),
         ("AF_UNIX", socket.SOCK_STREAM)]
for name, kind in kinds:
    try:
        socket.socket(getattr(socket, name), kind).close()
        print(name, "ok")
    except OSError as e:
        print(name, errno.errorcode[e.errno])
print("netns", os.readlink("/proc/self/ns/net"))
"#;

#[test]
fn sockets_other_than_unix_are_denied_without_a_network_namespace() {
    as_each_identity(|| {
        let sb = filtered();
        if refused_for_old_kernel(&sb) {
            return;
        }
        let out = sb
            .output(Command::new("python3").args(["-c", SOCKETS]))
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // AF_PACKET would be EPERM (no CAP_NET_RAW) without the filter: the
        // filter answers first.
        for name in ["AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET"] {
            assert!(
                text.contains(&format!("{name} EAFNOSUPPORT")),
                "{name}:\n{text}"
            );
        }
        assert!(text.contains("AF_UNIX ok"), "{text}");
        // No network namespace was made: the program is in ours.
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        assert!(
            text.contains(&format!("netns {}", ours.display())),
            "{text}"
        );
    });
}

const CONNECT: &str = r#"
import errno, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect("\0" + sys.argv[1])
    print("connected")
except OSError as e:
    print(errno.errorcode[e.errno])
"#;

/// Abstract unix sockets live in the network namespace, which the program
/// shares here: Landlock's scope is what keeps it from the host's. The
/// same connection from a sandbox that shares the network without the
/// filter succeeds, so the assertion can fail.
#[test]
fn host_abstract_unix_sockets_are_unreachable() {
    as_each_identity(|| {
        let sb = filtered();
        if refused_for_old_kernel(&sb) {
            return;
        }
        let name = format!("stockade-net-filter-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let _listener = UnixListener::bind_addr(&addr).unwrap();
        let attempt = |sb: &Sandbox| {
            let out = sb
                .output(Command::new("python3").args(["-c", CONNECT, &name]))
                .unwrap_or_else(|e| panic!("{}", chain(&e)));
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        assert_eq!(attempt(&sb), "EPERM");
        let mut shared = Sandbox::new();
        shared.network(stockade::Network::Host);
        assert_eq!(attempt(&shared), "connected");
    });
}

#[test]
fn the_report_says_how_the_network_is_denied() {
    as_each_identity(|| {
        let sb = filtered();
        if refused_for_old_kernel(&sb) {
            return;
        }
        let mut child = sb.spawn(&mut Command::new("true")).unwrap();
        let e = child.enforcement().clone();
        child.wait().unwrap();
        assert!(e.net_filter);
        assert!(!e.namespaces.contains(Namespaces::NET));
        let text = e.to_string();
        assert!(
            text.contains(
                "network: blocked (seccomp: sockets other than AF_UNIX denied; Landlock: host abstract unix sockets unreachable)"
            ),
            "{text}"
        );
        assert_eq!(
            e.seccomp.as_ref().map(|s| s.profile.to_string()).as_deref(),
            Some("custom")
        );
    });
}

#[test]
fn needs_the_seccomp_filter_and_share_net_undoes_it() {
    let mut sb = filtered();
    sb.seccomp(None);
    assert!(matches!(
        sb.validate(),
        Err(Error::Config(error::ConfigError::NetFilterNeedsSeccomp))
    ));
    let mut sb = filtered();
    sb.network(stockade::Network::Host);
    sb.validate().unwrap();
    let mut child = sb.spawn(&mut Command::new("true")).unwrap();
    assert!(!child.enforcement().net_filter);
    child.wait().unwrap();
}

#[cfg(feature = "serde")]
#[test]
fn policy_files_carry_the_mode() {
    let toml = filtered().to_toml().unwrap();
    assert!(toml.contains("net_filter = true"), "{toml}");
    let back = Sandbox::from_toml(&toml).unwrap();
    assert_eq!(back.to_toml().unwrap(), toml);
    let json = filtered().to_json().unwrap();
    assert_eq!(Sandbox::from_json(&json).unwrap().to_json().unwrap(), json);
    assert!(!Sandbox::new().to_toml().unwrap().contains("net_filter"));
}
