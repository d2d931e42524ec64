//! DNS messages, as much of them as the sandbox's DNS server needs: one
//! question in, an answer with at most one A record out.

use std::net::Ipv4Addr;

/// Query type A.
pub(crate) const TYPE_A: u16 = 1;
/// Query type AAAA.
#[cfg(test)]
pub(crate) const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
const CLASS_ANY: u16 = 255;

/// Response codes.
pub(crate) const NOERROR: u8 = 0;
pub(crate) const FORMERR: u8 = 1;
pub(crate) const SERVFAIL: u8 = 2;
pub(crate) const NXDOMAIN: u8 = 3;
pub(crate) const NOTIMP: u8 = 4;
pub(crate) const REFUSED: u8 = 5;

/// A question the server answers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Query<'a> {
    id: u16,
    /// The recursion-desired bit, echoed.
    rd: bool,
    /// The name as asked, labels joined with dots (not yet checked).
    pub(crate) name: String,
    /// The query type.
    pub(crate) qtype: u16,
    /// The question section as it came, to echo.
    question: &'a [u8],
}

/// What to do with a datagram.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed<'a> {
    /// A question for the policy.
    Query(Query<'a>),
    /// An answer that needs no policy (an error).
    Reply(Vec<u8>),
    /// Nothing: not a query, or too short to answer.
    Ignore,
}

fn header(id: u16, rd: bool, rcode: u8, qd: u16, an: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&id.to_be_bytes());
    // QR=1, opcode 0, AA=1, TC=0, RD echoed; RA=1, rcode.
    out.push(0x84 | u8::from(rd));
    out.push(0x80 | (rcode & 0x0f));
    out.extend_from_slice(&qd.to_be_bytes());
    out.extend_from_slice(&an.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out
}

/// Reads a message: a standard query with one question of class IN.
pub(crate) fn parse(msg: &[u8]) -> Parsed<'_> {
    if msg.len() < 12 {
        return Parsed::Ignore;
    }
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    if msg[2] & 0x80 != 0 {
        return Parsed::Ignore; // a response: never answer those
    }
    let rd = msg[2] & 0x01 != 0;
    let opcode = (msg[2] >> 3) & 0x0f;
    if opcode != 0 {
        return Parsed::Reply(header(id, rd, NOTIMP, 0, 0));
    }
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    if qdcount != 1 {
        return Parsed::Reply(header(id, rd, FORMERR, 0, 0));
    }
    let mut at = 12;
    let mut name = String::new();
    loop {
        let Some(&len) = msg.get(at) else {
            return Parsed::Reply(header(id, rd, FORMERR, 0, 0));
        };
        at += 1;
        if len == 0 {
            break;
        }
        // A compression pointer (or a reserved label type) has no place in
        // the only question of a query.
        if len & 0xc0 != 0 || name.len() + usize::from(len) > 254 {
            return Parsed::Reply(header(id, rd, FORMERR, 0, 0));
        }
        let Some(label) = msg.get(at..at + usize::from(len)) else {
            return Parsed::Reply(header(id, rd, FORMERR, 0, 0));
        };
        if !name.is_empty() {
            name.push('.');
        }
        // Bytes outside ASCII become U+FFFD and fail the name check later.
        name.push_str(&String::from_utf8_lossy(label));
        at += usize::from(len);
    }
    let Some(tail) = msg.get(at..at + 4) else {
        return Parsed::Reply(header(id, rd, FORMERR, 0, 0));
    };
    let qtype = u16::from_be_bytes([tail[0], tail[1]]);
    let qclass = u16::from_be_bytes([tail[2], tail[3]]);
    let question = &msg[12..at + 4];
    if qclass != CLASS_IN && qclass != CLASS_ANY {
        let mut out = header(id, rd, NOTIMP, 1, 0);
        out.extend_from_slice(question);
        return Parsed::Reply(out);
    }
    Parsed::Query(Query {
        id,
        rd,
        name,
        qtype,
        question,
    })
}

/// The answer to `q`: `rcode`, with an A record when `a` is given.
pub(crate) fn answer(q: &Query<'_>, rcode: u8, a: Option<(Ipv4Addr, u32)>) -> Vec<u8> {
    let mut out = header(q.id, q.rd, rcode, 1, u16::from(a.is_some()));
    out.extend_from_slice(q.question);
    if let Some((addr, ttl)) = a {
        out.extend_from_slice(&[0xc0, 12]); // the name: a pointer to the question's
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&addr.octets());
    }
    out
}

/// A query for `name` of type `qtype` (for tests and probes).
#[cfg(test)]
pub(crate) fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out
}

/// A parsed answer (for tests): id, rcode and the A records' addresses.
#[cfg(test)]
pub(crate) fn read_answer(msg: &[u8]) -> (u16, u8, Vec<Ipv4Addr>) {
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let rcode = msg[3] & 0x0f;
    let an = u16::from_be_bytes([msg[6], msg[7]]);
    let qd = u16::from_be_bytes([msg[4], msg[5]]);
    let mut at = 12;
    for _ in 0..qd {
        while msg[at] != 0 {
            at += 1 + usize::from(msg[at]);
        }
        at += 5;
    }
    let mut addrs = Vec::new();
    for _ in 0..an {
        at += 2; // pointer
        let ty = u16::from_be_bytes([msg[at], msg[at + 1]]);
        let len = usize::from(u16::from_be_bytes([msg[at + 8], msg[at + 9]]));
        at += 10;
        if ty == TYPE_A && len == 4 {
            addrs.push(Ipv4Addr::new(
                msg[at],
                msg[at + 1],
                msg[at + 2],
                msg[at + 3],
            ));
        }
        at += len;
    }
    (id, rcode, addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_parses_and_is_answered() {
        let q = query(0x1234, "Allowed.Test", TYPE_A);
        let Parsed::Query(parsed) = parse(&q) else {
            panic!()
        };
        assert_eq!(
            (parsed.name.as_str(), parsed.qtype),
            ("Allowed.Test", TYPE_A)
        );
        let a = answer(&parsed, NOERROR, Some((Ipv4Addr::new(127, 100, 0, 1), 60)));
        assert_eq!(
            read_answer(&a),
            (0x1234, NOERROR, vec![Ipv4Addr::new(127, 100, 0, 1)])
        );
    }

    #[test]
    fn malformed_messages_never_panic() {
        assert_eq!(parse(&[]), Parsed::Ignore);
        assert_eq!(parse(&[0; 11]), Parsed::Ignore);
        let q = query(7, "a.test", TYPE_A);
        // Every truncation and every single-byte corruption is answered or
        // ignored.
        for n in 0..q.len() {
            let _ = parse(&q[..n]);
            for b in [0u8, 0x3f, 0xc0, 0xff] {
                let mut m = q.clone();
                m[n] = b;
                if let Parsed::Query(q) = parse(&m) {
                    let _ = answer(&q, NXDOMAIN, None);
                }
            }
        }
        let mut two = q.clone();
        two[5] = 2;
        let Parsed::Reply(r) = parse(&two) else {
            panic!()
        };
        assert_eq!(read_answer(&r).1, FORMERR);
        let mut resp = q.clone();
        resp[2] |= 0x80;
        assert_eq!(parse(&resp), Parsed::Ignore);
        let mut pointer = q.clone();
        pointer[12] = 0xc0;
        assert!(matches!(parse(&pointer), Parsed::Reply(_)));
    }
}
