//! The HTTP proxy: `CONNECT host:port` tunnels and plain requests with an
//! absolute URI (`GET http://host/path`), which are forwarded in origin
//! form with `Connection: close`.

use std::net::TcpStream;
use std::sync::Arc;

use crate::net::egress::relay;
use crate::net::egress::rules::{is_literal, normalize_name};
use crate::net::engine::{Attempt, OpenError, Shared, fail};
use crate::net::log::{Denial, Via};

/// The longest request head the proxy reads.
const MAX_HEAD: usize = 64 * 1024;

/// A request the proxy understood.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) via: Via,
    /// As written (not yet checked).
    pub(crate) host: String,
    pub(crate) port: u16,
    /// For a forwarded request, the head to send upstream.
    pub(crate) head: Option<Vec<u8>>,
}

/// Where the head ends (the index after its blank line).
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Splits `host:port` (`[v6]:port` too); `default` when there is no port.
fn authority(text: &str, default: Option<u16>) -> Option<(String, u16)> {
    if text.contains('@') {
        return None;
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        (format!("[{h}]"), after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (text.to_owned(), None),
        }
    };
    let port = match port {
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
        None => default?,
    };
    if host.is_empty() || port == 0 {
        return None;
    }
    Some((host, port))
}

/// Headers a proxy must not pass on.
fn hop_by_hop(name: &[u8]) -> bool {
    [
        &b"proxy-connection"[..],
        b"proxy-authorization",
        b"proxy-authenticate",
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"upgrade",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

/// Reads a request head (without its blank line).
pub(crate) fn parse(head: &[u8]) -> Option<Target> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let line = std::str::from_utf8(lines.next()?).ok()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !version.starts_with("HTTP/1.") || method.is_empty() {
        return None;
    }
    if !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    if method == "CONNECT" {
        let (host, port) = authority(target, None)?;
        return Some(Target {
            via: Via::HttpConnect,
            host,
            port,
            head: None,
        });
    }
    let scheme = target.get(..7)?;
    if !scheme.eq_ignore_ascii_case("http://") {
        return None;
    }
    let rest = &target[7..];
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (auth, path) = rest.split_at(split);
    let (host, port) = authority(auth, Some(80))?;
    let path = if path.is_empty() {
        "/".to_owned()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    let mut out = format!("{method} {path} {version}\r\n").into_bytes();
    let mut headers = Vec::new();
    // Headers the client's Connection header names are hop-by-hop too.
    let mut named: Vec<Vec<u8>> = Vec::new();
    for l in lines {
        if l.is_empty() {
            continue;
        }
        // Folded lines and names with spaces are refused rather than
        // guessed at.
        let colon = l.iter().position(|&b| b == b':')?;
        let name = &l[..colon];
        if name.is_empty() || !name.iter().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        if name.eq_ignore_ascii_case(b"connection") {
            named.extend(
                l[colon + 1..]
                    .split(|&b| b == b',')
                    .map(|t| t.trim_ascii().to_ascii_lowercase())
                    .filter(|t| !t.is_empty()),
            );
        }
        headers.push((name, l));
    }
    let mut has_host = false;
    for (name, l) in headers {
        if hop_by_hop(name) || named.contains(&name.to_ascii_lowercase()) {
            continue;
        }
        has_host |= name.eq_ignore_ascii_case(b"host");
        out.extend_from_slice(l);
        out.extend_from_slice(b"\r\n");
    }
    if !has_host {
        out.extend_from_slice(format!("Host: {auth}\r\n").as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    Some(Target {
        via: Via::HttpForward,
        host,
        port,
        head: Some(out),
    })
}

fn response(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}\n",
        body.len() + 1
    )
    .into_bytes()
}

/// Logs a refused request whose answer has been written, then closes the
/// connection gently: the write side first, then what the client still
/// sends (a request body) is read and dropped for a moment, so that
/// closing with unread data does not reset the connection before the
/// client has read the answer.
fn finish(shared: &Shared, a: Attempt, client: &TcpStream) {
    shared.record(a);
    let _ = client.shutdown(std::net::Shutdown::Write);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    let mut sink = [0u8; 4096];
    while let Ok(n) = relay::read_some(client, &mut sink, shared.stop_fd(), deadline, "drain") {
        if n == 0 {
            break;
        }
    }
}

/// Serves one proxy client.
pub(crate) fn serve(shared: &Arc<Shared>, client: TcpStream) {
    let stop = shared.stop_fd();
    let deadline = shared.head_deadline();
    let mut a = Attempt::new(Via::HttpConnect);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(end) = head_end(&buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            a.deny(
                Denial::BadRequest,
                Some("the request head is too long".into()),
            );
            let _ = relay::write_all(
                &client,
                &response(
                    "431 Request Header Fields Too Large",
                    "request head too long",
                ),
                stop,
                deadline,
            );
            return finish(shared, a, &client);
        }
        match relay::read_some(&client, &mut chunk, stop, deadline, "request head") {
            Ok(0) => {
                a.deny(
                    Denial::BadRequest,
                    Some("the client closed before a full request".into()),
                );
                return shared.record(a);
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => {
                a.deny(
                    Denial::BadRequest,
                    Some(format!("failed to read the request: {e}")),
                );
                return shared.record(a);
            }
        }
    };
    let rest = buf.split_off(end);
    let Some(target) = parse(&buf[..end - 2]) else {
        a.deny(
            Denial::BadRequest,
            Some("the request is not a proxy request".into()),
        );
        let _ = relay::write_all(
            &client,
            &response(
                "400 Bad Request",
                "not a proxy request this proxy serves (CONNECT, or a plain http:// URL)",
            ),
            stop,
            deadline,
        );
        return finish(shared, a, &client);
    };
    a.conn.via = target.via;
    a.conn.port = target.port;
    let refuse = |a: &mut Attempt, status: &str| {
        let reason = match &a.conn.verdict {
            crate::net::EgressVerdict::Denied(d) => d.to_string(),
            crate::net::EgressVerdict::Allowed { .. } => a.conn.error.clone().unwrap_or_default(),
        };
        let _ = relay::write_all(
            &client,
            &response(status, &format!("stockade egress proxy: {reason}")),
            stop,
            deadline,
        );
    };
    if is_literal(&target.host) {
        a.deny(Denial::LiteralAddress, None);
        refuse(&mut a, "403 Forbidden");
        return finish(shared, a, &client);
    }
    let host = match normalize_name(&target.host) {
        Ok(h) => h,
        Err(p) => {
            a.deny(
                Denial::BadRequest,
                Some(format!("invalid host {:?}: {p}", target.host)),
            );
            refuse(&mut a, "400 Bad Request");
            return finish(shared, a, &client);
        }
    };
    a.conn.host = Some(host.clone());
    let (up, addr, rule) = match shared.open(&host, target.port, target.via) {
        Ok(ok) => ok,
        Err(e) => {
            let status = match &e {
                OpenError::Denied(Denial::Unresolved, _) => "502 Bad Gateway",
                OpenError::Denied(..) => "403 Forbidden",
                OpenError::Failed { error, .. } if error.kind() == std::io::ErrorKind::TimedOut => {
                    "504 Gateway Timeout"
                }
                OpenError::Failed { .. } => "502 Bad Gateway",
            };
            fail(&mut a, e);
            refuse(&mut a, status);
            return finish(shared, a, &client);
        }
    };
    a.conn.address = Some(addr);
    a.allow(rule);
    let deadline = shared.head_deadline();
    let started = match &target.head {
        None => relay::write_all(
            &client,
            b"HTTP/1.1 200 Connection established\r\n\r\n",
            stop,
            deadline,
        ),
        Some(head) => {
            relay::write_all(&up, head, stop, deadline).map(|()| a.conn.sent += head.len() as u64)
        }
    };
    let started = started.and_then(|()| {
        relay::write_all(&up, &rest, stop, deadline)?;
        a.conn.sent += rest.len() as u64;
        Ok(())
    });
    match started {
        Ok(()) => shared.relay(&client, &up, &mut a),
        Err(e) => a.conn.error = Some(format!("failed to start the relay: {e}")),
    }
    shared.record(a);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse() {
        let t = parse(b"CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n").unwrap();
        assert_eq!(
            (t.via, t.host.as_str(), t.port, t.head),
            (Via::HttpConnect, "allowed.test", 443, None)
        );
        let t = parse(b"CONNECT [::1]:443 HTTP/1.1\r\n").unwrap();
        assert_eq!(t.host, "[::1]");
        let t = parse(
            b"GET http://Allowed.test:8080/a?b HTTP/1.1\r\nHost: allowed.test\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: x\r\nX-Hop: 1\r\nAccept: */*\r\nConnection: x-hop, keep-alive\r\n",
        )
        .unwrap();
        assert_eq!(
            (t.via, t.host.as_str(), t.port),
            (Via::HttpForward, "Allowed.test", 8080)
        );
        assert_eq!(
            String::from_utf8(t.head.unwrap()).unwrap(),
            "GET /a?b HTTP/1.1\r\nHost: allowed.test\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let t = parse(b"GET http://a.test HTTP/1.0\r\n").unwrap();
        assert_eq!(t.port, 80);
        assert_eq!(
            t.head.unwrap(),
            b"GET / HTTP/1.0\r\nHost: a.test\r\nConnection: close\r\n\r\n"
        );
        for bad in [
            &b"GET /path HTTP/1.1\r\n"[..],
            b"GET https://a.test/ HTTP/1.1\r\n",
            b"CONNECT a.test HTTP/1.1\r\n",
            b"CONNECT a.test:0 HTTP/1.1\r\n",
            b"CONNECT a.test:99999 HTTP/1.1\r\n",
            b"CONNECT user@a.test:443 HTTP/1.1\r\n",
            b"CONNECT a.test:443\r\n",
            b"\xff\xfe garbage",
            b"GET http://a.test/ HTTP/1.1\r\nno colon\r\n",
            b"GET http://a.test/ HTTP/1.1\r\nA: b\r\n folded\r\n",
            b"GET http://a.test/ HTTP/1.1\r\nBad Name: b\r\n",
            b"",
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
