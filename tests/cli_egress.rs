//! The command line's network options (src/bin/stockade): `--net` and its
//! aliases, the egress options, `--publish`, and what `--json` reports of
//! them. Build the binary first: `cargo build --all-features --example
//! stockade`.

mod common;

// The report's JSON reader (an example built as a test harness would not
// also be built as the binary these tests drive).
#[allow(dead_code)]
#[path = "../src/bin/stockade/json.rs"]
mod json;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::as_each_identity;
use common::cli_binary as cli;

fn run(args: &[&str]) -> Output {
    std::process::Command::new(cli())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The `--json` report: the last line of stderr.
fn report(out: &Output) -> json::Value {
    let err = text(&out.stderr);
    let line = err.lines().last().unwrap_or_default();
    json::parse(line).unwrap_or_else(|| panic!("no JSON report in {err:?}"))
}

/// The interface names of /proc/net/dev's text.
fn interfaces(dev: &str) -> Vec<String> {
    let mut names: Vec<String> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .map(|(name, _)| name.trim().to_owned())
        .collect();
    names.sort();
    names
}

/// Usage errors: exit status 125 before anything runs, and a first line
/// that names the options at fault (and the value, when it is the value).
#[test]
fn usage_errors_name_the_options() {
    for (args, named) in [
        (
            &["--share-net", "--net", "filter"][..],
            &["--share-net", "--net filter"][..],
        ),
        (
            &["--net", "host", "--net-filter"],
            &["--net host", "--net-filter"],
        ),
        (
            &["--net", "none", "--net", "host"],
            &["--net none", "--net host"],
        ),
        (
            &["--net", "open"],
            &[
                "--net",
                "\"open\"",
                "\"none\", \"host\", \"filter\" or \"blocked\"",
            ],
        ),
        (
            &["--net", "host", "--allow-host", "a.test"],
            &["--allow-host", "--net host"],
        ),
        (
            &["--deny-host", "a.test", "--share-net"],
            &["--deny-host", "--share-net"],
        ),
        (
            &["--net", "none", "--allow-private", "127.0.0.1"],
            &["--allow-private", "--net none"],
        ),
        (
            &["--net-filter", "--resolve", "a.test=127.0.0.1"],
            &["--resolve", "--net-filter"],
        ),
        (
            &["--net", "blocked", "--max-connections", "3"],
            &["--max-connections", "--net blocked"],
        ),
        (&["--resolve", "a.test"], &["--resolve", "\"a.test\""]),
        (
            &["--resolve", "a.test=not-an-address"],
            &["--resolve", "\"a.test=not-an-address\""],
        ),
        (&["--max-connections", "0"], &["--max-connections", "\"0\""]),
        (&["--publish", "8080"], &["--publish", "\"8080\""]),
        (&["--publish", "8080:0"], &["--publish", "\"8080:0\""]),
        (
            &["--publish", "8080:65536"],
            &["--publish", "\"8080:65536\""],
        ),
        (&["--publish", "70000:80"], &["--publish", "\"70000:80\""]),
        (
            &["--publish", "::1:8080:80"],
            &["--publish", "\"::1:8080:80\""],
        ),
        (
            &["--share-net", "--publish", "8080:80"],
            &["--publish", "--share-net"],
        ),
        (
            &["--publish", "8080:80", "--net", "host"],
            &["--publish", "--net host"],
        ),
        (
            &["--net-filter", "--publish", "8080:80"],
            &["--publish", "--net-filter"],
        ),
    ] {
        let mut a = args.to_vec();
        a.extend(["sh", "-c", "echo ran"]);
        let out = run(&a);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{a:?}: {err}");
        assert_eq!(text(&out.stdout), "", "{a:?}: nothing runs");
        let first = err.lines().next().unwrap_or_default();
        assert!(first.starts_with("stockade: "), "{a:?}: {err}");
        for n in named {
            assert!(first.contains(n), "{a:?}: {n:?} not in {first:?}");
        }
    }
    let out = run(&["--allow-host"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).starts_with("stockade: option --allow-host needs a value"),
        "{}",
        text(&out.stderr)
    );
    // The same for containers, which take the same options.
    let runtime = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(cli())
        .env("XDG_RUNTIME_DIR", runtime.path())
        .args(["start", "egress-usage", "--share-net", "--net", "filter"])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(
        err.contains("--share-net") && err.contains("--net filter"),
        "{err}"
    );
}

/// A host address already in use: the spawn fails with 125 and a one-line
/// message naming it, and the program does not run.
#[test]
fn publish_on_a_port_in_use_fails_naming_the_address() {
    as_each_identity(|| {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = taken.local_addr().unwrap();
        let spec = format!("{addr}:80");
        let out = run(&["--publish", &spec, "sh", "-c", "echo ran"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(&addr.to_string()), "{err}");
        assert_eq!(text(&out.stdout), "");
        // With --json, the report says the setup failed.
        let out = run(&["--json", "--publish", &spec, "true"]);
        assert_eq!(out.status.code(), Some(125));
        let r = report(&out);
        assert_eq!(
            r.get("status").and_then(json::Value::as_str),
            Some("setup_failed")
        );
        drop(taken);
    });
}

/// `--net none` (the default, said explicitly): loopback only.
#[test]
fn net_none_has_loopback_only() {
    as_each_identity(|| {
        for args in [&["--net", "none"][..], &[]] {
            let mut a = args.to_vec();
            a.extend(["cat", "/proc/net/dev"]);
            let out = run(&a);
            assert!(out.status.success(), "{a:?}: {}", text(&out.stderr));
            assert_eq!(interfaces(&text(&out.stdout)), ["lo"], "{a:?}");
        }
    });
}

/// `--net host` and its alias `--share-net`: the host's interfaces.
#[test]
fn net_host_sees_the_hosts_interfaces() {
    as_each_identity(|| {
        let host = interfaces(&std::fs::read_to_string("/proc/net/dev").unwrap());
        for option in [&["--net", "host"][..], &["--share-net"]] {
            let mut a = option.to_vec();
            a.extend(["cat", "/proc/net/dev"]);
            let out = run(&a);
            assert!(out.status.success(), "{a:?}: {}", text(&out.stderr));
            assert_eq!(interfaces(&text(&out.stdout)), host, "{a:?}");
        }
    });
}

/// `--json`: `egress` in the enforcement object, the published ports (the
/// port the kernel picked for 0), the connection log (empty: the program
/// made none).
#[test]
fn json_reports_egress_published_ports_and_connections() {
    as_each_identity(|| {
        let out = run(&[
            "--json",
            "--allow-host",
            "allowed.test",
            "--publish",
            "127.0.0.1:0:8000",
            "--publish",
            "0:8001",
            "true",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let r = report(&out);
        let e = r.get("enforcement").unwrap();
        assert_eq!(e.get("egress"), Some(&json::Value::Bool(true)));
        assert_eq!(e.get("net_filter"), Some(&json::Value::Bool(false)));
        let published = r.get("published").and_then(json::Value::as_array).unwrap();
        assert_eq!(published.len(), 2, "{published:?}");
        for (p, sandbox_port) in published.iter().zip([8000, 8001]) {
            let host: SocketAddr = p
                .get("host")
                .and_then(json::Value::as_str)
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(host.ip(), Ipv4Addr::LOCALHOST);
            assert_ne!(host.port(), 0, "the port the kernel picked");
            assert_eq!(
                p.get("sandbox_port").and_then(json::Value::as_u64),
                Some(sandbox_port)
            );
        }
        assert_eq!(
            r.get("connections").and_then(json::Value::as_array),
            Some(&[][..])
        );

        // Without any of it: no egress, nothing published, an empty log.
        let out = run(&["--json", "true"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let r = report(&out);
        let e = r.get("enforcement").unwrap();
        assert_eq!(e.get("egress"), Some(&json::Value::Bool(false)));
        assert_eq!(
            r.get("published").and_then(json::Value::as_array),
            Some(&[][..])
        );
        assert_eq!(
            r.get("connections").and_then(json::Value::as_array),
            Some(&[][..])
        );
    });
}

/// A container's report (`start --json`, and `list --json` from its
/// state) lists its published ports.
#[test]
fn container_report_lists_published_ports() {
    as_each_identity(|| {
        let runtime = tempfile::Builder::new()
            .prefix("sx")
            .tempdir_in("/tmp")
            .unwrap();
        let name = format!("egress-pub-{}", std::process::id());
        let cmd = |args: &[&str]| {
            std::process::Command::new(cli())
                .env("XDG_RUNTIME_DIR", runtime.path())
                .stdin(Stdio::null())
                .args(args)
                .output()
                .unwrap()
        };
        let out = cmd(&["start", &name, "--json", "--publish", "127.0.0.1:0:8000"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let started = json::parse(text(&out.stdout).trim()).unwrap();
        let listed = cmd(&["list", "--json"]);
        let _ = cmd(&["kill", &name]);
        let published = started
            .get("published")
            .and_then(json::Value::as_array)
            .unwrap();
        assert_eq!(published.len(), 1, "{published:?}");
        let host: SocketAddr = published[0]
            .get("host")
            .and_then(json::Value::as_str)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(host.ip(), Ipv4Addr::LOCALHOST);
        assert_ne!(host.port(), 0);
        assert_eq!(
            published[0]
                .get("sandbox_port")
                .and_then(json::Value::as_u64),
            Some(8000)
        );
        assert!(listed.status.success(), "{}", text(&listed.stderr));
        let list = json::parse(text(&listed.stdout).trim()).unwrap();
        let mine = list
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c.get("name").and_then(json::Value::as_str) == Some(&name))
            .expect("the container is listed");
        assert_eq!(mine.get("published"), started.get("published"));
    });
}

/// An HTTP server on 127.0.0.1 answering every request with `hello`, and
/// the count of connections it accepted.
fn http_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            // The request's head, up to its empty line.
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let _ = conn.write_all(
                b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
            );
        }
    });
    (addr, accepted)
}

/// The connection log's entries of the `--json` report.
fn connections(r: &json::Value) -> Vec<json::Value> {
    r.get("connections")
        .and_then(json::Value::as_array)
        .unwrap()
        .to_vec()
}

fn field<'a>(c: &'a json::Value, k: &str) -> Option<&'a str> {
    c.get(k).and_then(json::Value::as_str)
}

/// Runs curl in a filtered sandbox whose proxy resolves `allowed.test`
/// and `other.test` to 127.0.0.1, with `options` on top.
fn curl(options: &[&str], url: &str, tunnel: bool) -> Output {
    let mut a = vec![
        "--json",
        "--resolve",
        "allowed.test=127.0.0.1",
        "--resolve",
        "other.test=127.0.0.1",
    ];
    a.extend(options);
    a.extend(["curl", "-sS", "--max-time", "60"]);
    if tunnel {
        a.push("--proxytunnel");
    }
    a.push(url);
    run(&a)
}

/// Through the proxy: an allowed name reaches the test's server, by
/// forwarding and by CONNECT, and each connection is logged as allowed by
/// its rule.
#[test]
fn allowed_host_is_reached_through_the_proxy_and_logged() {
    if common::debian_package("curl", "curl").is_none() {
        return;
    }
    as_each_identity(|| {
        let (server, accepted) = http_server();
        let url = format!("http://allowed.test:{}/", server.port());
        for (tunnel, via) in [(false, "http_forward"), (true, "http_connect")] {
            let before = accepted.load(Ordering::SeqCst);
            let out = curl(
                &[
                    "--allow-private",
                    "127.0.0.1",
                    "--allow-host",
                    "allowed.test",
                ],
                &url,
                tunnel,
            );
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert_eq!(text(&out.stdout), "hello");
            assert_eq!(accepted.load(Ordering::SeqCst), before + 1);
            let r = report(&out);
            assert_eq!(
                r.get("enforcement").unwrap().get("egress"),
                Some(&json::Value::Bool(true))
            );
            let log = connections(&r);
            assert_eq!(log.len(), 1, "{log:?}");
            let c = &log[0];
            assert_eq!(field(c, "via"), Some(via), "{c:?}");
            assert_eq!(field(c, "host"), Some("allowed.test"));
            assert_eq!(
                c.get("port").and_then(json::Value::as_u64),
                Some(u64::from(server.port()))
            );
            assert_eq!(field(c, "address"), Some(server.to_string().as_str()));
            assert_eq!(field(c, "verdict"), Some("allowed"));
            assert_eq!(field(c, "rule"), Some("allowed.test"));
            assert_eq!(c.get("denial"), Some(&json::Value::Null));
            assert_eq!(c.get("error"), Some(&json::Value::Null));
            assert!(c.get("sent").and_then(json::Value::as_u64).unwrap() > 0);
            assert!(c.get("received").and_then(json::Value::as_u64).unwrap() >= 5);
            assert!(c.get("time_ms").and_then(json::Value::as_u64).unwrap() > 0);
        }
    });
}

/// Through the proxy: a name without a rule, a name under a deny rule and
/// a private address not allowed are refused before any connection to the
/// server, and logged with the reason.
#[test]
fn denied_destinations_never_reach_the_server_and_are_logged() {
    if common::debian_package("curl", "curl").is_none() {
        return;
    }
    as_each_identity(|| {
        let (server, accepted) = http_server();
        let port = server.port().to_string();
        let deny = format!("allowed.test:{port}");
        for (options, host, denial, rule) in [
            (
                &[
                    "--allow-private",
                    "127.0.0.1",
                    "--allow-host",
                    "allowed.test",
                ][..],
                "other.test",
                "no_rule",
                None,
            ),
            (
                &[
                    "--allow-private",
                    "127.0.0.1",
                    "--allow-host",
                    "*.test",
                    "--deny-host",
                    &deny,
                ],
                "allowed.test",
                "deny_rule",
                Some(deny.as_str()),
            ),
            (
                &["--allow-host", "allowed.test"],
                "allowed.test",
                "private_address",
                None,
            ),
        ] {
            let url = format!("http://{host}:{port}/");
            let out = curl(options, &url, true);
            assert!(!out.status.success(), "{options:?}: curl got through");
            assert_ne!(text(&out.stdout), "hello");
            let r = report(&out);
            let log = connections(&r);
            assert_eq!(log.len(), 1, "{options:?}: {log:?}");
            let c = &log[0];
            assert_eq!(field(c, "host"), Some(host), "{c:?}");
            assert_eq!(field(c, "verdict"), Some("denied"), "{c:?}");
            assert_eq!(field(c, "denial"), Some(denial), "{c:?}");
            assert_eq!(field(c, "rule"), rule, "{c:?}");
            assert_eq!(c.get("received").and_then(json::Value::as_u64), Some(0));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 0, "the server saw nothing");
    });
}

/// A published port reaches a server listening on loopback inside a
/// container, and the connection is logged as published.
#[test]
fn published_port_reaches_a_server_in_a_container() {
    as_each_identity(|| {
        let runtime = tempfile::Builder::new()
            .prefix("sx")
            .tempdir_in("/tmp")
            .unwrap();
        let name = format!("egress-srv-{}", std::process::id());
        let cmd = |args: &[&str]| {
            std::process::Command::new(cli())
                .env("XDG_RUNTIME_DIR", runtime.path())
                .stdin(Stdio::null())
                .args(args)
                .output()
                .unwrap()
        };
        let out = cmd(&[
            "start",
            &name,
            "--json",
            "--publish",
            "127.0.0.1:0:8000",
            "--",
            "python3",
            "-c",
            "import http.server as h\n\
             class H(h.BaseHTTPRequestHandler):\n\
             \x20def do_GET(self):\n\
             \x20 self.send_response(200); self.end_headers(); self.wfile.write(b'inside')\n\
             h.HTTPServer(('127.0.0.1', 8000), H).serve_forever()",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let started = json::parse(text(&out.stdout).trim()).unwrap();
        let host: SocketAddr = started
            .get("published")
            .and_then(json::Value::as_array)
            .and_then(|p| p.first())
            .and_then(|p| p.get("host"))
            .and_then(json::Value::as_str)
            .unwrap()
            .parse()
            .unwrap();
        // The server inside takes a moment to listen.
        let give_up = Instant::now() + Duration::from_secs(120);
        let body = loop {
            let got = TcpStream::connect(host).and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
                let mut reply = String::new();
                s.read_to_string(&mut reply)?;
                Ok(reply)
            });
            match got {
                Ok(reply) if reply.starts_with("HTTP/1.0 200") => break reply,
                _ if Instant::now() < give_up => std::thread::sleep(Duration::from_millis(100)),
                other => {
                    let _ = cmd(&["kill", &name]);
                    panic!("no answer through {host}: {other:?}");
                }
            }
        };
        let _ = cmd(&["kill", &name]);
        assert!(body.ends_with("inside"), "{body}");
    });
}
