//! The SOCKS5 proxy (RFC 1928): no authentication, `CONNECT` to a domain
//! name only.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;

use crate::net::egress::relay;
use crate::net::egress::rules::{is_literal, normalize_name};
use crate::net::engine::{Attempt, OpenError, Shared, fail};
use crate::net::log::{Denial, Via};

const SUCCEEDED: u8 = 0x00;
const FAILURE: u8 = 0x01;
const NOT_ALLOWED: u8 = 0x02;
const HOST_UNREACHABLE: u8 = 0x04;
const REFUSED: u8 = 0x05;
const TTL_EXPIRED: u8 = 0x06;
const COMMAND: u8 = 0x07;
const ATYP: u8 = 0x08;

fn reply(code: u8, bound: Option<SocketAddr>) -> Vec<u8> {
    let mut out = vec![5, code, 0];
    match bound {
        Some(SocketAddr::V6(a)) => {
            out.push(4);
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_be_bytes());
        }
        Some(SocketAddr::V4(a)) => {
            out.push(1);
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_be_bytes());
        }
        None => out.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0]),
    }
    out
}

/// Serves one SOCKS5 client.
pub(crate) fn serve(shared: &Arc<Shared>, client: TcpStream) {
    let mut a = Attempt::new(Via::Socks5);
    match negotiate(shared, &client, &mut a) {
        Ok(Some(up)) => shared.relay(&client, &up, &mut a),
        Ok(None) => {}
        Err(e) => {
            if a.conn.error.is_none() {
                a.conn.error = Some(e);
            }
        }
    }
    shared.record(a);
}

/// The handshake: the upstream connection, `None` when refused (with the
/// reply sent), or what went wrong reading the request.
fn negotiate(
    shared: &Arc<Shared>,
    c: &TcpStream,
    a: &mut Attempt,
) -> Result<Option<TcpStream>, String> {
    let stop = shared.stop_fd();
    let deadline = shared.head_deadline();
    let read = |buf: &mut [u8]| {
        relay::read_exact(c, buf, stop, deadline, "SOCKS request")
            .map_err(|e| format!("failed to read the SOCKS request: {e}"))
    };
    let send = |msg: &[u8]| {
        let _ = relay::write_all(c, msg, stop, deadline);
    };
    let mut hello = [0u8; 2];
    read(&mut hello)?;
    if hello[0] != 5 {
        return Err(format!("not SOCKS version 5 (version byte {})", hello[0]));
    }
    let mut methods = vec![0u8; usize::from(hello[1])];
    read(&mut methods)?;
    if !methods.contains(&0) {
        send(&[5, 0xff]);
        return Err("the client offers no method without authentication".into());
    }
    send(&[5, 0]);
    let mut req = [0u8; 4];
    read(&mut req)?;
    if req[0] != 5 {
        return Err(format!("not SOCKS version 5 (version byte {})", req[0]));
    }
    let host = match req[3] {
        1 | 4 => {
            let mut addr = vec![0u8; if req[3] == 1 { 4 } else { 16 }];
            read(&mut addr)?;
            let mut port = [0u8; 2];
            read(&mut port)?;
            let ip = match <[u8; 4]>::try_from(addr.as_slice()) {
                Ok(v4) => IpAddr::from(v4),
                Err(_) => IpAddr::from(<[u8; 16]>::try_from(addr.as_slice()).unwrap_or_default()),
            };
            a.conn.port = u16::from_be_bytes(port);
            a.conn.address = Some(SocketAddr::new(ip, a.conn.port));
            a.deny(Denial::LiteralAddress, None);
            send(&reply(NOT_ALLOWED, None));
            return Ok(None);
        }
        3 => {
            let mut len = [0u8; 1];
            read(&mut len)?;
            let mut name = vec![0u8; usize::from(len[0])];
            read(&mut name)?;
            let mut port = [0u8; 2];
            read(&mut port)?;
            a.conn.port = u16::from_be_bytes(port);
            String::from_utf8_lossy(&name).into_owned()
        }
        other => {
            send(&reply(ATYP, None));
            a.deny(
                Denial::BadRequest,
                Some(format!("unknown address type {other}")),
            );
            return Ok(None);
        }
    };
    if req[1] != 1 {
        send(&reply(COMMAND, None));
        a.conn.host = Some(host);
        a.deny(
            Denial::BadRequest,
            Some(format!(
                "unsupported SOCKS command {} (only CONNECT)",
                req[1]
            )),
        );
        return Ok(None);
    }
    if is_literal(&host) {
        a.conn.host = Some(host);
        a.deny(Denial::LiteralAddress, None);
        send(&reply(NOT_ALLOWED, None));
        return Ok(None);
    }
    let host = match normalize_name(&host) {
        Ok(h) => h,
        Err(p) => {
            a.deny(
                Denial::BadRequest,
                Some(format!("invalid host {host:?}: {p}")),
            );
            send(&reply(NOT_ALLOWED, None));
            return Ok(None);
        }
    };
    a.conn.host = Some(host.clone());
    if a.conn.port == 0 {
        a.deny(Denial::BadRequest, Some("port 0".into()));
        send(&reply(NOT_ALLOWED, None));
        return Ok(None);
    }
    match shared.open(&host, a.conn.port, Via::Socks5) {
        Ok((up, addr, rule)) => {
            a.conn.address = Some(addr);
            a.allow(rule);
            // The bound address would tell the program the host's own
            // address; clients do not need it for CONNECT.
            relay::write_all(c, &reply(SUCCEEDED, None), stop, deadline)
                .map_err(|e| format!("failed to answer the client: {e}"))?;
            Ok(Some(up))
        }
        Err(e) => {
            let code = match &e {
                OpenError::Denied(Denial::Unresolved, _) => HOST_UNREACHABLE,
                OpenError::Denied(..) => NOT_ALLOWED,
                OpenError::Failed { error, .. } => match error.kind() {
                    std::io::ErrorKind::ConnectionRefused => REFUSED,
                    std::io::ErrorKind::TimedOut => TTL_EXPIRED,
                    std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable => HOST_UNREACHABLE,
                    _ => FAILURE,
                },
            };
            fail(a, e);
            send(&reply(code, None));
            Ok(None)
        }
    }
}
