//! The filtered network (`Sandbox::egress`): the only way out is the
//! caller's proxy, under a policy by name; published ports; the connection
//! log. As root and unprivileged.
//!
//! Every server here listens on the host's 127.0.0.1, and every name goes
//! through a resolver the test injects (`allowed.test`, `denied.test`,
//! `private.test` map to loopback or to addresses no test ever reaches):
//! no test sends traffic anywhere else.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{as_each_identity, chain, run, sh};
use stockade::error::ConfigError;
use stockade::net::{Connection, Denial, Egress, EgressVerdict, Hosts, Via};
use stockade::{Command, Error, Sandbox};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A small HTTP/1.0 file server on the host's 127.0.0.1: `GET /hello`
/// answers "hello from origin", any other path a file under `root` (the
/// query string left out), 404 otherwise. It runs until the test process
/// ends.
struct Origin {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Origin {
    fn start(root: Option<PathBuf>) -> Origin {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the origin");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let seen = seen.clone();
                let root = root.clone();
                std::thread::spawn(move || serve(conn, root.as_deref(), &seen));
            }
        });
        Origin { port, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(conn: TcpStream, root: Option<&Path>, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => break,
            Ok(_) if h == "\r\n" || h == "\n" => break,
            Ok(_) => {}
        }
    }
    seen.lock().unwrap().push(line.trim_end().to_owned());
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let path = path.split('?').next().unwrap_or("/").to_owned();
    let body = if path == "/hello" {
        Some(b"hello from origin\n".to_vec())
    } else {
        root.and_then(|r| std::fs::read(r.join(path.trim_start_matches('/'))).ok())
    };
    let mut conn = conn;
    let _ = match body {
        Some(b) => {
            let _ = write!(
                conn,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                b.len()
            );
            conn.write_all(&b)
        }
        None => conn
            .write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
}

/// The names of every test: `allowed.test` and `denied.test` stand for the
/// origin on the host's 127.0.0.1; `private.test` for an address in
/// 10.0.0.0/8 (never connected to: the policy refuses it first).
fn hosts() -> Hosts {
    Hosts::new()
        .add("allowed.test", LOCALHOST)
        .add("denied.test", LOCALHOST)
        .add("also.allowed.test", LOCALHOST)
        .add("private.test", IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)))
}

/// A policy allowing `allowed.test` (which resolves to the host's loopback,
/// so that address is allowed explicitly), nothing else.
fn policy() -> Egress {
    let mut e = Egress::new();
    e.resolver(hosts())
        .allow("allowed.test")
        .allow("private.test")
        .allow_private("127.0.0.1/32");
    e
}

fn filtered(e: Egress) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.egress(e);
    sb
}

fn curl() -> Option<PathBuf> {
    common::debian_package("curl", "curl")
}

fn verdicts(log: &[Connection]) -> Vec<(Via, Option<String>, bool)> {
    log.iter()
        .map(|c| {
            (
                c.via,
                c.host.clone(),
                matches!(c.verdict, EgressVerdict::Allowed { .. }),
            )
        })
        .collect()
}

#[test]
fn proxy_variables_lead_out_to_allowed_names_only() {
    let Some(_) = curl() else { return };
    let origin = Origin::start(None);
    as_each_identity(|| {
        let sb = filtered(policy());
        let p = origin.port;
        let out = sb
            .output(&mut sh(&format!(
                "env | grep -i _proxy | sort; \
                 curl -sS --max-time 20 http://allowed.test:{p}/hello; \
                 curl -sS --max-time 20 -o /dev/null -w 'denied:%{{http_code}}\\n' http://denied.test:{p}/hello; \
                 curl -sS --max-time 20 -p http://allowed.test:{p}/hello; \
                 curl -sS --max-time 20 --socks5-hostname 127.0.0.1:1080 http://allowed.test:{p}/hello; \
                 curl -sS --max-time 20 --socks5-hostname 127.0.0.1:1080 http://denied.test:{p}/hello; echo socks-denied:$?; \
                 /usr/bin/python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://allowed.test:{p}/hello\", timeout=20).read().decode().strip(), \"via urllib\")'"
            )))
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(
            stdout.contains("http_proxy=http://127.0.0.1:3128"),
            "{stdout}"
        );
        assert!(
            stdout.contains("HTTPS_PROXY=http://127.0.0.1:3128"),
            "{stdout}"
        );
        // Plain forward, CONNECT (-p), SOCKS5 and urllib each got through.
        assert_eq!(
            stdout.matches("hello from origin").count(),
            4,
            "{stdout}\n{stderr}"
        );
        assert!(stdout.contains("denied:403"), "{stdout}");
        assert!(!stdout.contains("socks-denied:0"), "{stdout}");
        assert!(stdout.contains("hello from origin via urllib"), "{stdout}");

        let log = out.outcome.connections.clone();
        let v = verdicts(&log);
        assert!(
            v.contains(&(Via::HttpForward, Some("allowed.test".into()), true)),
            "{log:#?}"
        );
        assert!(
            v.contains(&(Via::HttpForward, Some("denied.test".into()), false)),
            "{log:#?}"
        );
        assert!(
            v.contains(&(Via::HttpConnect, Some("allowed.test".into()), true)),
            "{log:#?}"
        );
        assert!(
            v.contains(&(Via::Socks5, Some("allowed.test".into()), true)),
            "{log:#?}"
        );
        assert!(
            v.contains(&(Via::Socks5, Some("denied.test".into()), false)),
            "{log:#?}"
        );
        let denied = log
            .iter()
            .find(|c| c.host.as_deref() == Some("denied.test"))
            .unwrap();
        assert_eq!(
            denied.verdict,
            EgressVerdict::Denied(Denial::NoRule),
            "{denied:?}"
        );
        assert_eq!(denied.port, p);
        let allowed = log.iter().find(|c| c.via == Via::HttpConnect).unwrap();
        assert_eq!(
            allowed.address,
            Some(SocketAddr::new(LOCALHOST, p)),
            "{allowed:?}"
        );
        assert!(allowed.received >= 18 && allowed.sent > 0, "{allowed:?}");
        assert!(out.outcome.connections.len() >= 6, "{log:#?}");
    });
    // The denied name never reached the origin.
    assert!(
        origin
            .requests()
            .iter()
            .all(|r| r.starts_with("GET /hello")),
        "{:?}",
        origin.requests()
    );
}

/// Programs that ignore the proxy variables: the sandbox's resolver gives
/// each allowed name an address of its own on the sandbox's loopback,
/// where the caller listens; other names do not resolve, and a literal
/// address leads nowhere.
#[test]
fn transparent_mode_for_programs_that_ignore_the_proxy() {
    let Some(_) = curl() else { return };
    let origin = Origin::start(None);
    as_each_identity(|| {
        let p = origin.port;
        let mut e = policy();
        e.transparent_ports(&[p]);
        let sb = filtered(e);
        let (st, out, err) = run(
            &sb,
            &format!(
                "cat /etc/resolv.conf; getent ahostsv4 allowed.test | head -1; \
                 curl -sS --max-time 20 --noproxy '*' http://allowed.test:{p}/hello; \
                 getent hosts denied.test; echo denied-lookup:$?; \
                 curl -sS --max-time 5 --noproxy '*' http://denied.test:{p}/hello; echo denied-curl:$?; \
                 curl -sS --max-time 5 --noproxy '*' http://127.0.0.1:{p}/hello; echo literal:$?; \
                 curl -sS --max-time 5 --noproxy '*' http://10.1.2.3:{p}/hello; echo private-literal:$?"
            ),
        );
        assert!(st.success(), "{out}\n{err}");
        assert!(out.contains("nameserver 127.0.0.53"), "{out}");
        assert!(
            out.contains("127.100."),
            "allowed.test has a loopback address of its own: {out}"
        );
        assert!(out.contains("hello from origin"), "{out}\n{err}");
        assert!(
            out.contains("denied-lookup:2"),
            "NXDOMAIN for a name not allowed: {out}"
        );
        for what in ["denied-curl", "literal", "private-literal"] {
            assert!(
                !out.contains(&format!("{what}:0")),
                "{what} got out: {out}\n{err}"
            );
        }
        // 10.1.2.3 has no route in the sandbox's namespace.
        assert!(
            err.contains("unreachable") || err.contains("Couldn't connect"),
            "{err}"
        );
    });
}

/// Every way out but the proxy fails: literal addresses through the
/// proxies, a name resolving to a private address, the host's loopback
/// services, raw and packet sockets, route changes, addresses the sandbox
/// does not have, IPv6.
#[test]
fn no_other_way_out() {
    let Some(_) = curl() else { return };
    let origin = Origin::start(None);
    as_each_identity(|| {
        let p = origin.port;
        let sb = filtered(policy());
        let (st, out, err) = run(
            &sb,
            &format!(
                "curl -sS --max-time 60 -x http://127.0.0.1:3128 --noproxy '' -o /dev/null -w 'literal:%{{http_code}}\\n' http://127.0.0.1:{p}/hello; \
                 curl -sS --max-time 60 -x http://127.0.0.1:3128 --noproxy '' -p -o /dev/null http://127.0.0.1:{p}/hello; echo connect-literal:$?; \
                 curl -sS --max-time 60 --socks5 127.0.0.1:1080 http://127.0.0.1:{p}/hello; echo socks-literal:$?; \
                 curl -sS --max-time 60 -o /dev/null -w 'private:%{{http_code}}\\n' http://private.test:{p}/hello; \
                 curl -sS --max-time 60 -o /dev/null -w 'metadata:%{{http_code}}\\n' http://169.254.169.254/latest/meta-data/; \
                 /usr/bin/python3 - <<'EOF'
import socket, errno
def attempt(name, f):
    try:
        f()
        print(name + ':open')
    except OSError as e:
        print(name + ':' + (errno.errorcode.get(e.errno, str(e.errno))))
def tcp(addr, fam=socket.AF_INET):
    s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(5); s.connect(addr)
attempt('host-loopback', lambda: tcp(('127.0.0.1', {p})))
attempt('outside-v4', lambda: tcp(('192.0.2.1', 80)))
attempt('outside-v6', lambda: tcp(('2001:db8::1', 80, 0, 0), socket.AF_INET6))
attempt('v6-loopback-origin', lambda: tcp(('::1', {p}, 0, 0), socket.AF_INET6))
attempt('raw', lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
attempt('packet', lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0))
def bind_foreign():
    s = socket.socket(); s.bind(('192.0.2.7', 0))
attempt('bind-foreign', bind_foreign)
def udp_out():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('192.0.2.1', 53))
attempt('udp-out', udp_out)
EOF
                 ip route add default dev lo 2>&1; echo route:$?; ip link add dummy0 type dummy 2>&1; echo link:$?; \
                 ip -o link | wc -l"
            ),
        );
        assert!(st.success(), "{out}\n{err}");
        assert!(out.contains("literal:403"), "{out}");
        assert!(!out.contains("connect-literal:0"), "{out}");
        assert!(!out.contains("socks-literal:0"), "{out}");
        assert!(out.contains("private:403"), "{out}");
        assert!(out.contains("metadata:403"), "{out}");
        // Nothing of the host's loopback: the sandbox's own is empty.
        assert!(out.contains("host-loopback:ECONNREFUSED"), "{out}");
        assert!(out.contains("v6-loopback-origin:ECONNREFUSED"), "{out}");
        assert!(out.contains("outside-v4:ENETUNREACH"), "{out}");
        assert!(out.contains("outside-v6:ENETUNREACH"), "{out}");
        assert!(out.contains("udp-out:ENETUNREACH"), "{out}");
        assert!(out.contains("raw:EPERM"), "{out}");
        assert!(
            out.contains("packet:EPERM") || out.contains("packet:EAFNOSUPPORT"),
            "{out}"
        );
        assert!(out.contains("bind-foreign:EADDRNOTAVAIL"), "{out}");
        assert!(!out.contains("route:0") && !out.contains("link:0"), "{out}");
        assert!(out.trim_end().ends_with('1'), "only lo: {out}");
    });
    // None of it reached the origin.
    assert!(origin.requests().is_empty(), "{:?}", origin.requests());
}

/// The log says why: a literal address, a private address after
/// resolution (the rule allowed the name), a deny rule beating an allow
/// rule.
#[test]
fn the_log_names_each_refusal() {
    let Some(_) = curl() else { return };
    let origin = Origin::start(None);
    let p = origin.port;
    let mut e = policy();
    e.allow("*.allowed.test").deny("also.allowed.test");
    let sb = filtered(e);
    let out = sb
        .output(&mut sh(&format!(
            "curl -sS --max-time 60 -x http://127.0.0.1:3128 --noproxy '' -o /dev/null http://127.0.0.1:{p}/; \
             curl -sS --max-time 60 -o /dev/null http://private.test:{p}/; \
             curl -sS --max-time 60 -o /dev/null http://also.allowed.test:{p}/; \
             curl -sS --max-time 60 -o /dev/null http://nowhere.test:{p}/; true"
        )))
        .unwrap();
    let log = &out.outcome.connections;
    let verdict = |host: &str| {
        log.iter()
            .find(|c| c.host.as_deref() == Some(host))
            .map(|c| c.verdict.clone())
            .unwrap_or_else(|| panic!("{host} not in {log:#?}"))
    };
    assert!(
        log.iter()
            .any(|c| c.verdict == EgressVerdict::Denied(Denial::LiteralAddress)),
        "{log:#?}"
    );
    assert_eq!(
        verdict("private.test"),
        EgressVerdict::Denied(Denial::PrivateAddress {
            address: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))
        })
    );
    assert_eq!(
        verdict("also.allowed.test"),
        EgressVerdict::Denied(Denial::DenyRule {
            rule: "also.allowed.test".into()
        })
    );
    assert!(
        matches!(
            verdict("nowhere.test"),
            EgressVerdict::Denied(Denial::NoRule | Denial::Unresolved)
        ),
        "{log:#?}"
    );
    assert!(origin.requests().is_empty(), "{:?}", origin.requests());
}

/// `git clone` over HTTP of a repository the test serves, through the
/// proxy variables.
#[test]
fn git_clone_through_the_proxy() {
    let Some(_) = curl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str], cwd: &Path| {
        let st = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.invalid",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(cwd)
            .env("HOME", dir.path())
            .status()
            .expect("run git");
        assert!(st.success(), "git {args:?}");
    };
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    git(&["init", "-q"], &work);
    std::fs::write(work.join("README"), "cloned through the proxy\n").unwrap();
    git(&["add", "README"], &work);
    git(&["commit", "-q", "-m", "first"], &work);
    git(&["clone", "-q", "--bare", "work", "repo.git"], dir.path());
    git(&["update-server-info"], &dir.path().join("repo.git"));
    // Readable by the unprivileged identity too.
    std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(dir.path())
        .status()
        .unwrap();
    let origin = Origin::start(Some(dir.path().to_owned()));
    as_each_identity(|| {
        let p = origin.port;
        let sb = filtered(policy());
        let (st, out, err) = run(
            &sb,
            &format!(
                "cd /tmp && git clone -q http://allowed.test:{p}/repo.git c && cat c/README; \
                 git clone -q http://denied.test:{p}/repo.git d; echo denied:$?"
            ),
        );
        assert!(st.success(), "{out}\n{err}");
        assert!(out.contains("cloned through the proxy"), "{out}\n{err}");
        assert!(!out.contains("denied:0"), "{out}\n{err}");
    });
}

/// A server inside a container, reached from the host through a published
/// port; the port on the host is taken before the sandbox starts.
#[test]
fn published_port_reaches_a_server_inside() {
    as_each_identity(|| {
        let mut sb = Sandbox::new();
        sb.publish(SocketAddr::new(LOCALHOST, 0), 8000);
        let mut server = Command::new("/usr/bin/python3");
        server
            .args([
                "-m",
                "http.server",
                "8000",
                "--bind",
                "127.0.0.1",
                "--directory",
                "/usr/share",
            ])
            .stdout(stockade::Stdio::null())
            .stderr(stockade::Stdio::null());
        let mut child = sb
            .spawn(&mut server)
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        let published = child.published();
        assert_eq!(published.len(), 1);
        let (host, inside) = published[0];
        assert_eq!(inside, 8000);
        assert_ne!(host.port(), 0);
        let mut body = String::new();
        common::eventually("the server inside answers", || {
            let Ok(mut c) = TcpStream::connect(host) else {
                return false;
            };
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let _ = c.write_all(b"GET / HTTP/1.0\r\n\r\n");
            body.clear();
            let _ = c.read_to_string(&mut body);
            body.starts_with("HTTP/1.0 200")
        });
        assert!(body.contains("Directory listing"), "{body}");
        // The same host port again: in use, a typed error naming it.
        let mut again = Sandbox::new();
        again.publish(host, 8000);
        let err = again.output(&mut Command::new("true")).unwrap_err();
        assert!(
            matches!(&err, Error::Io { op: stockade::error::ParentOp::Publish(a), .. } if *a == host),
            "{}",
            chain(&err)
        );
        assert!(err.to_string().contains(&host.to_string()), "{err}");
        child.kill().unwrap();
        let _ = child.wait();
        let log = child.connections();
        assert!(
            log.iter()
                .any(|c| c.via == Via::Published && c.port == 8000 && c.received > 0),
            "{log:#?}"
        );
    });
}

/// Two filtered sandboxes cannot reach each other: each has its own
/// loopback.
#[test]
fn two_sandboxes_are_apart() {
    as_each_identity(|| {
        let mut server = filtered(policy())
            .spawn(&mut sh(
                "exec /usr/bin/python3 -m http.server 8000 --bind 127.0.0.1 >/dev/null 2>&1",
            ))
            .unwrap();
        // The server listens before the other sandbox tries.
        std::thread::sleep(Duration::from_millis(300));
        let (st, out, err) = run(
            &filtered(policy()),
            "/usr/bin/python3 -c 'import socket; s=socket.socket(); s.settimeout(5)
try:
    s.connect((\"127.0.0.1\", 8000)); print(\"reached\")
except OSError as e: print(\"refused\", e.errno)'",
        );
        assert!(st.success(), "{out}\n{err}");
        assert!(out.contains("refused 111"), "{out}\n{err}");
        server.kill().unwrap();
        let _ = server.wait();
    });
}

#[test]
fn malformed_rules_are_typed_errors_naming_the_rule() {
    for (option, rule) in [
        ("allow", "*."),
        ("allow", "a..b"),
        ("allow", ""),
        ("allow", "example.com:0"),
        ("allow", "example.com:70000"),
        ("deny", "exa mple.com"),
        ("allow_private", "10.0.0.0/33"),
        ("allow_private", "not-a-cidr"),
    ] {
        let mut e = Egress::new();
        match option {
            "allow" => e.allow(rule),
            "deny" => e.deny(rule),
            _ => e.allow_private(rule),
        };
        let err = filtered(e).validate().unwrap_err();
        match &err {
            Error::Config(ConfigError::EgressRule {
                option: o, rule: r, ..
            }) => {
                assert_eq!((*o, r.as_str()), (option, rule), "{err}");
            }
            other => panic!("{option} {rule:?}: {}", chain(other)),
        }
        assert!(err.to_string().contains(option), "{err}");
        assert!(err.to_string().contains(&format!("{rule:?}")), "{err}");
    }
    // A filtered network without a network namespace.
    let mut sb = filtered(policy());
    sb.namespaces(stockade::Namespaces::default() - stockade::Namespaces::NET);
    assert!(matches!(
        sb.validate(),
        Err(Error::Config(ConfigError::FilteredNeedsNetworkNamespace))
    ));
    let mut sb = Sandbox::new();
    sb.network(stockade::Network::Host)
        .publish(SocketAddr::new(LOCALHOST, 0), 80);
    assert!(matches!(
        sb.validate(),
        Err(Error::Config(ConfigError::PublishNeedsNetworkNamespace))
    ));
}

/// A program that opens connections in a loop is bounded, the log counts
/// the refusals, and the caller's descriptors and threads return to where
/// they were once the sandbox has ended.
#[test]
fn connection_flood_is_bounded_and_nothing_leaks() {
    let Some(_) = curl() else { return };
    let origin = Origin::start(None);
    as_each_identity(|| {
        let p = origin.port;
        let threads = || std::fs::read_dir("/proc/self/task").unwrap().count();
        let mut e = policy();
        e.max_connections(4);
        let sb = filtered(e);
        // What the first spawns set up once per process (the lifeline) and
        // per policy (its template, on the second) is there before the
        // count.
        for _ in 0..2 {
            assert!(sb.status(&mut Command::new("true")).unwrap().success());
        }
        let fds_before = common::fd_count();
        let threads_before = threads();
        // 16 connections held open at once through CONNECT.
        let (st, out, err) = run(
            &sb,
            &format!(
                "/usr/bin/python3 - <<'EOF'
import socket
held, refused = [], 0
for i in range(16):
    s = socket.create_connection(('127.0.0.1', 3128), timeout=60)
    try:
        s.sendall(b'CONNECT allowed.test:{p} HTTP/1.1\\r\\nHost: allowed.test:{p}\\r\\n\\r\\n')
        head = s.recv(100)
    except OSError:
        head = b''
    if head.startswith(b'HTTP/1.1 200') or head.startswith(b'HTTP/1.0 200'):
        held.append(s)
    else:
        refused += 1
print('held', len(held), 'refused', refused)
EOF"
            ),
        );
        assert!(st.success(), "{out}\n{err}");
        assert!(out.contains("held 4 refused 12"), "{out}\n{err}");
        common::eventually("the engine's descriptors and threads are gone", || {
            common::fd_count() <= fds_before && threads() <= threads_before
        });
    });
}

/// A callback sees each connection as it ends, and may decide names no
/// rule covers.
#[test]
fn live_stream_and_ask() {
    let Some(_) = curl() else { return };
    let origin = Origin::start(None);
    let p = origin.port;
    let seen: Arc<Mutex<Vec<Connection>>> = Arc::default();
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut e = Egress::new();
    let (s, a) = (seen.clone(), asked.clone());
    e.resolver(hosts())
        .allow_private("127.0.0.1")
        .on_connection(move |c| s.lock().unwrap().push(c.clone()))
        .ask(move |req| {
            a.lock().unwrap().push(req.host.clone());
            req.host == "allowed.test"
        });
    let sb = filtered(e);
    let (st, out, err) = run(
        &sb,
        &format!(
            "curl -sS --max-time 60 http://allowed.test:{p}/hello; \
             curl -sS --max-time 60 -o /dev/null -w '%{{http_code}}\\n' http://denied.test:{p}/hello"
        ),
    );
    assert!(st.success(), "{out}\n{err}");
    assert!(
        out.contains("hello from origin") && out.contains("403"),
        "{out}\n{err}"
    );
    let asked = asked.lock().unwrap().clone();
    assert!(asked.contains(&"allowed.test".to_owned()), "{asked:?}");
    assert!(asked.contains(&"denied.test".to_owned()), "{asked:?}");
    let seen = seen.lock().unwrap().clone();
    let v = verdicts(&seen);
    assert!(
        v.contains(&(Via::HttpForward, Some("allowed.test".into()), true)),
        "{seen:#?}"
    );
    assert!(
        v.contains(&(Via::HttpForward, Some("denied.test".into()), false)),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|c| c.verdict == EgressVerdict::Denied(Denial::Asked)),
        "{seen:#?}"
    );
}

/// A container with a filtered network: every exec goes through the same
/// proxy, and the log covers them all.
#[test]
fn container_execs_share_the_policy() {
    let Some(_) = curl() else { return };
    let origin = Origin::start(None);
    as_each_identity(|| {
        let p = origin.port;
        let c = filtered(policy())
            .start()
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        for _ in 0..2 {
            let out = c
                .output(&mut sh(&format!(
                    "curl -sS --max-time 60 http://allowed.test:{p}/hello"
                )))
                .unwrap();
            assert!(String::from_utf8_lossy(&out.stdout).contains("hello from origin"));
        }
        // A connection is logged once its relay has finished, which may
        // be just after curl has exited.
        common::eventually("both connections are logged", || {
            c.connections()
                .iter()
                .filter(|c| c.via == Via::HttpForward)
                .count()
                == 2
        });
    });
}

/// With the tokio feature: an async spawn gets the same proxy and the same
/// log.
#[cfg(feature = "tokio")]
#[test]
fn async_children_get_the_log_too() {
    let Some(_) = curl() else { return };
    let origin = Origin::start(None);
    let p = origin.port;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = rt.block_on(async {
        filtered(policy())
            .output_async(&mut sh(&format!(
                "curl -sS --max-time 60 http://allowed.test:{p}/hello"
            )))
            .await
            .unwrap()
    });
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello from origin"));
    assert!(
        verdicts(&out.outcome.connections).contains(&(
            Via::HttpForward,
            Some("allowed.test".into()),
            true
        )),
        "{:#?}",
        out.outcome.connections
    );
}
