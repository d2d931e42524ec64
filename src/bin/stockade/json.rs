//! A minimal JSON writer for the `--json` report (keeps the front end free of
//! extra features).

use stockade::Enforcement;

/// An object under construction.
pub struct Object {
    out: String,
    first: bool,
}

pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

impl Object {
    pub fn new() -> Object {
        Object {
            out: String::from("{"),
            first: true,
        }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push_str(&escape(k));
        self.out.push(':');
    }

    pub fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.out.push_str(&escape(v));
    }

    pub fn num(&mut self, k: &str, v: u64) {
        self.key(k);
        self.out.push_str(&v.to_string());
    }

    pub fn opt_num(&mut self, k: &str, v: Option<u64>) {
        match v {
            Some(v) => self.num(k, v),
            None => self.raw(k, "null"),
        }
    }

    pub fn bool(&mut self, k: &str, v: bool) {
        self.raw(k, if v { "true" } else { "false" });
    }

    pub fn raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.out.push_str(v);
    }

    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// The enforcement report as a JSON object.
/// The rung of the isolation ladder: `{"mode", "rung", "refused": [{"rung",
/// "reason"}]}`.
pub fn isolation(r: &stockade::isolation::Report) -> String {
    let mut j = Object::new();
    j.str(
        "mode",
        match r.isolation {
            stockade::isolation::Isolation::Strict => "strict",
            _ => "best_available",
        },
    );
    j.str("rung", r.rung.name());
    let refused: Vec<String> = r
        .refused
        .iter()
        .map(|f| {
            let mut o = Object::new();
            o.str("rung", f.rung.name());
            o.str("reason", &f.reason);
            o.finish()
        })
        .collect();
    j.raw("refused", &format!("[{}]", refused.join(",")));
    j.finish()
}

pub fn enforcement(e: &Enforcement) -> String {
    let mut j = Object::new();
    let ns: Vec<String> = e.namespaces.names().map(escape).collect();
    j.raw("namespaces", &format!("[{}]", ns.join(",")));
    j.raw("isolation", &isolation(&e.isolation));
    for (k, m) in [("uid", e.uid), ("gid", e.gid)] {
        match m {
            Some(m) => j.raw(
                k,
                &format!("{{\"inside\":{},\"outside\":{}}}", m.inside, m.outside),
            ),
            None => j.raw(k, "null"),
        }
    }
    for (k, ranges) in [("uid_ranges", &e.uid_ranges), ("gid_ranges", &e.gid_ranges)] {
        let r: Vec<String> = ranges
            .iter()
            .map(|r| {
                format!(
                    "{{\"inside\":{},\"outside\":{},\"count\":{}}}",
                    r.inside, r.outside, r.count
                )
            })
            .collect();
        j.raw(k, &format!("[{}]", r.join(",")));
    }
    j.bool("filesystem", e.filesystem);
    j.bool("system_view_idmapped", e.system_view_idmapped);
    match &e.cgroup {
        Some(cg) => {
            let mut c = Object::new();
            match &cg.path {
                Some(p) => c.str("path", &p.to_string_lossy()),
                None => c.raw("path", "null"),
            }
            let applied: Vec<String> = cg
                .applied
                .iter()
                .map(|a| format!("{}:{}", escape(a.kind.file()), escape(&a.value)))
                .collect();
            c.raw("applied", &format!("{{{}}}", applied.join(",")));
            let skipped: Vec<String> = cg
                .skipped
                .iter()
                .filter(|s| s.requested)
                .map(|s| escape(s.kind.file()))
                .collect();
            c.raw("not_enforced", &format!("[{}]", skipped.join(",")));
            j.raw("cgroup", &c.finish());
        }
        None => j.raw("cgroup", "null"),
    }
    let fallbacks: Vec<String> = e
        .rlimit_fallbacks
        .iter()
        .map(|r| escape(r.name()))
        .collect();
    j.raw("rlimit_fallbacks", &format!("[{}]", fallbacks.join(",")));
    j.bool("net_filter", e.net_filter);
    j.bool("egress", e.egress);
    #[cfg(feature = "landlock")]
    {
        j.bool("landlock_mirrors_fs", e.landlock_mirrors_fs);
        match &e.landlock {
            Some(l) => j.raw("landlock", &landlock(l)),
            None => j.raw("landlock", "null"),
        }
    }
    #[cfg(feature = "seccomp")]
    match &e.seccomp {
        Some(s) => j.raw("seccomp", &seccomp(s)),
        None => j.raw("seccomp", "null"),
    }
    #[cfg(not(feature = "seccomp"))]
    j.raw("seccomp", "null");
    j.finish()
}

/// The inode numbers of the program's namespaces, by `lsns` name:
/// `{"cgroup": 4026532201, ...}`, or `null` when none was recorded.
pub fn namespace_ids(ids: Option<stockade::NamespaceIds>) -> String {
    let Some(ids) = ids else {
        return "null".to_owned();
    };
    let mut j = Object::new();
    for (ns, id) in ids.iter() {
        j.num(ns, id);
    }
    j.finish()
}

/// The published ports: `[{"host": "127.0.0.1:8080", "sandbox_port": 80}]`.
pub fn published(p: &[(std::net::SocketAddr, u16)]) -> String {
    let items: Vec<String> = p
        .iter()
        .map(|(host, port)| {
            let mut j = Object::new();
            j.str("host", &host.to_string());
            j.num("sandbox_port", u64::from(*port));
            j.finish()
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// The egress log: one object per connection the proxy saw.
pub fn connections(log: &[stockade::net::Connection]) -> String {
    let items: Vec<String> = log.iter().map(connection).collect();
    format!("[{}]", items.join(","))
}

// The library's enums are non-exhaustive: a variant added later gets a
// generic name rather than breaking the build.
#[allow(unreachable_patterns)]
fn connection(c: &stockade::net::Connection) -> String {
    use stockade::net::{Denial, EgressVerdict, Via};
    let mut j = Object::new();
    let ms = c
        .time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    j.num("time_ms", ms);
    j.str(
        "via",
        match c.via {
            Via::HttpConnect => "http_connect",
            Via::HttpForward => "http_forward",
            Via::Socks5 => "socks5",
            Via::Transparent => "transparent",
            Via::Dns => "dns",
            Via::Published => "published",
            _ => "other",
        },
    );
    opt_str(&mut j, "host", c.host.as_deref());
    j.num("port", u64::from(c.port));
    opt_str(
        &mut j,
        "address",
        c.address.map(|a| a.to_string()).as_deref(),
    );
    let (verdict, rule, denial) = match &c.verdict {
        EgressVerdict::Allowed { rule } => ("allowed", Some(rule.as_str()), None),
        EgressVerdict::Denied(d) => {
            let (name, rule) = match d {
                Denial::NoRule => ("no_rule", None),
                Denial::DenyRule { rule } => ("deny_rule", Some(rule.as_str())),
                Denial::Asked => ("asked", None),
                Denial::PrivateAddress { .. } => ("private_address", None),
                Denial::LiteralAddress => ("literal_address", None),
                Denial::Unresolved => ("unresolved", None),
                Denial::TooManyConnections => ("too_many_connections", None),
                Denial::TooManyNames => ("too_many_names", None),
                Denial::BadRequest => ("bad_request", None),
                _ => ("other", None),
            };
            ("denied", rule, Some(name))
        }
        _ => ("other", None, None),
    };
    j.str("verdict", verdict);
    opt_str(&mut j, "rule", rule);
    opt_str(&mut j, "denial", denial);
    opt_str(&mut j, "error", c.error.as_deref());
    j.num("sent", c.sent);
    j.num("received", c.received);
    j.finish()
}

/// What the sandbox refused (`Outcome::denials`): per source whether it
/// was watched, the counts, each distinct refusal, and the one-line text.
///
/// ```text
/// {"syscalls":"observed","network":"not_enforced","limits":"observed",
///  "filesystem":"not_recorded","counts":{"syscall":1,"network":0,"limit":0},
///  "events":[{"kind":"syscall","count":1,"time_ms":...,"text":"mount ...",
///    "syscall":"mount","number":165,"args":["0x..",...],
///    "decoded":{...},"path":{"target":"/tmp",...},"errno":1,
///    "errno_name":"EPERM","pid":12,"command":"mount"}],
///  "omitted":0,"summary":"denied: mount target=/tmp ..."}
/// ```
///
/// A network event carries its `connection` (as in `connections`), a limit
/// event its `limit`, a filesystem event (a write a read-only mount
/// refuses, inferred) its `operation`, `syscall`, `path`, `reason`,
/// `inferred`, `pid` and `command`. `path` and `command` are the program's word.
pub fn denials(d: &stockade::denials::Denials) -> String {
    let mut j = Object::new();
    for (k, o) in [
        ("syscalls", d.syscalls),
        ("network", d.network),
        ("limits", d.limits),
        ("filesystem", d.filesystem),
    ] {
        j.str(k, observation(o));
    }
    let mut c = Object::new();
    c.num("syscall", d.counts.syscall);
    c.num("network", d.counts.network);
    c.num("limit", d.counts.limit);
    c.num("filesystem", d.counts.filesystem);
    j.raw("counts", &c.finish());
    let events: Vec<String> = d.events.iter().map(denial_event).collect();
    j.raw("events", &format!("[{}]", events.join(",")));
    j.num("omitted", d.omitted);
    j.str("summary", &d.to_string());
    j.finish()
}

#[allow(unreachable_patterns)]
fn observation(o: stockade::denials::Observation) -> &'static str {
    use stockade::denials::Observation as O;
    match o {
        O::Observed => "observed",
        O::NotEnforced => "not_enforced",
        O::Disabled => "disabled",
        O::Unsupported => "unsupported",
        O::ListenerTaken => "listener_taken",
        O::NotRecorded => "not_recorded",
        O::PolicyRefusesHandover => "policy_refuses_handover",
        O::Inferred => "inferred",
        _ => "other",
    }
}

#[allow(unreachable_patterns)]
fn denial_event(e: &stockade::denials::Event) -> String {
    use stockade::denials::{Detail, Kind, Limit};
    let mut j = Object::new();
    j.str(
        "kind",
        match e.kind {
            Kind::Syscall => "syscall",
            Kind::Network => "network",
            Kind::Limit => "limit",
            Kind::Filesystem => "filesystem",
            _ => "other",
        },
    );
    j.num("count", e.count);
    let ms = e
        .time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    j.num("time_ms", ms);
    j.str("text", &e.to_string());
    // Argument names and values as an object (`{"flags":"CLONE_NEWUSER"}`).
    let pairs = |p: &[(String, String)]| {
        let mut o = Object::new();
        for (k, v) in p {
            o.str(k, v);
        }
        o.finish()
    };
    match &e.detail {
        Detail::Syscall(s) => {
            j.str("syscall", &s.syscall);
            j.num("number", u64::from(s.number));
            // Hexadecimal text: a 64-bit value is not a JSON number every
            // reader keeps exactly.
            let args: Vec<String> = s.args.iter().map(|a| escape(&format!("{a:#x}"))).collect();
            j.raw("args", &format!("[{}]", args.join(",")));
            j.raw("decoded", &pairs(&s.decoded));
            j.raw("path", &pairs(&s.path));
            j.num("errno", u64::from(s.errno.unsigned_abs()));
            j.str(
                "errno_name",
                &format!("{:?}", nix::errno::Errno::from_raw(s.errno)),
            );
            j.num("pid", u64::from(s.pid));
            opt_str(&mut j, "command", s.command.as_deref());
        }
        Detail::Network(c) => j.raw("connection", &connection(c)),
        Detail::Limit(l) => j.str(
            "limit",
            match l {
                Limit::Memory => "memory",
                Limit::Pids => "pids",
                Limit::CpuTime => "cpu_time",
                Limit::WallClock => "wall_clock",
                _ => "other",
            },
        ),
        Detail::File(f) => {
            j.str("operation", &f.operation);
            j.str("syscall", &f.syscall);
            j.str("path", &f.path);
            j.str(
                "reason",
                match f.reason {
                    stockade::denials::FileReason::ReadOnlyMount => "read_only_mount",
                    _ => "other",
                },
            );
            j.bool("inferred", f.inferred);
            j.num("pid", u64::from(f.pid));
            opt_str(&mut j, "command", f.command.as_deref());
        }
        _ => {}
    }
    j.finish()
}

/// A string, or `null`.
fn opt_str(j: &mut Object, k: &str, v: Option<&str>) {
    match v {
        Some(v) => j.str(k, v),
        None => j.raw(k, "null"),
    }
}

/// The seccomp report: profile, rule count, what the program allows and
/// answers.
#[cfg(feature = "seccomp")]
fn seccomp(s: &stockade::seccomp::Report) -> String {
    let mut j = Object::new();
    j.str("profile", &s.profile.to_string());
    j.num("rules", s.rules as u64);
    j.num("allowed_syscalls", s.allowed_syscalls as u64);
    j.num("conditional_syscalls", s.conditional_syscalls as u64);
    j.num("instructions", s.instructions as u64);
    j.str("default_action", &s.default_action.to_string());
    j.str(
        "unknown_syscall_action",
        &s.unknown_syscall_action.to_string(),
    );
    j.str("arch", &s.arch.to_string());
    j.finish()
}

#[cfg(feature = "landlock")]
fn status(s: stockade::landlock::Status) -> &'static str {
    use stockade::landlock::Status as E;
    match s {
        E::FullyEnforced => "fully_enforced",
        E::PartiallyEnforced => "partially_enforced",
        E::NotEnforced => "not_enforced",
        E::NotRequested => "not_requested",
        _ => "unknown",
    }
}

/// The Landlock report: ABI, overall status, each right's status, what is
/// missing.
#[cfg(feature = "landlock")]
fn landlock(l: &stockade::landlock::Report) -> String {
    let mut j = Object::new();
    // 0: Landlock unavailable.
    j.num("abi", l.abi.map_or(0, |a| u64::from(a.version())));
    j.str("status", status(l.status));
    let mut rights = Object::new();
    for (name, s) in l.rights() {
        rights.str(name, status(s));
    }
    j.raw("rights", &rights.finish());
    let missing: Vec<String> = l.missing.iter().map(|m| escape(&m.to_string())).collect();
    j.raw("missing", &format!("[{}]", missing.join(",")));
    j.finish()
}

/// A parsed JSON value (for reading back the state files this program
/// writes).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Value>),
    Obj(Vec<(String, Value)>),
}

impl Value {
    /// The member `k` of an object.
    pub fn get(&self, k: &str) -> Option<&Value> {
        match self {
            Value::Obj(m) => m.iter().find(|(n, _)| n == k).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Num(n) if *n >= 0.0 && n.fract() == 0.0 => Some(*n as u64),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Arr(a) => Some(a),
            _ => None,
        }
    }

    /// The value as JSON text.
    pub fn to_json(&self) -> String {
        match self {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Num(n) if n.fract() == 0.0 && n.abs() < 9e15 => (*n as i64).to_string(),
            Value::Num(n) => n.to_string(),
            Value::Str(s) => escape(s),
            Value::Arr(a) => {
                let items: Vec<String> = a.iter().map(Value::to_json).collect();
                format!("[{}]", items.join(","))
            }
            Value::Obj(m) => {
                let mut o = Object::new();
                for (k, v) in m {
                    o.raw(k, &v.to_json());
                }
                o.finish()
            }
        }
    }
}

/// Parses a JSON text; `None` if it is not one.
pub fn parse(text: &str) -> Option<Value> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    (p.i == p.s.len()).then_some(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn lit(&mut self, word: &str, v: Value) -> Option<Value> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Some(v)
        } else {
            None
        }
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > 64 {
            return None;
        }
        self.ws();
        match *self.s.get(self.i)? {
            b'n' => self.lit("null", Value::Null),
            b't' => self.lit("true", Value::Bool(true)),
            b'f' => self.lit("false", Value::Bool(false)),
            b'"' => self.string().map(Value::Str),
            b'[' => {
                self.i += 1;
                let mut a = Vec::new();
                if self.eat(b']') {
                    return Some(Value::Arr(a));
                }
                loop {
                    a.push(self.value(depth + 1)?);
                    if self.eat(b']') {
                        return Some(Value::Arr(a));
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b'{' => {
                self.i += 1;
                let mut m = Vec::new();
                if self.eat(b'}') {
                    return Some(Value::Obj(m));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    if !self.eat(b':') {
                        return None;
                    }
                    m.push((k, self.value(depth + 1)?));
                    if self.eat(b'}') {
                        return Some(Value::Obj(m));
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            _ => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
                {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).ok()?;
                t.parse().ok().map(Value::Num)
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        if self.s.get(self.i) != Some(&b'"') {
            return None;
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.i)?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = *self.s.get(self.i)?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let hex = std::str::from_utf8(self.s.get(self.i..self.i + 4)?).ok()?;
                            self.i += 4;
                            // Surrogates (only needed outside the BMP) are
                            // replaced.
                            char::from_u32(u32::from_str_radix(hex, 16).ok()?)
                                .unwrap_or(char::REPLACEMENT_CHARACTER)
                        }
                        _ => return None,
                    };
                    let mut b = [0; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                }
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_writes() {
        let mut o = Object::new();
        o.str("name", "a \"q\" \u{1}\n é");
        o.num("pid", 1234);
        o.raw("init", "[\"sh\",\"-c\"]");
        o.raw("none", "null");
        o.bool("t", true);
        let text = o.finish();
        let v = parse(&text).unwrap();
        assert_eq!(v.get("name").unwrap().as_str(), Some("a \"q\" \u{1}\n é"));
        assert_eq!(v.get("pid").unwrap().as_u64(), Some(1234));
        assert_eq!(v.get("init").unwrap().as_array().unwrap().len(), 2);
        assert_eq!(v.to_json(), text);
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "\"x", "nul", "[1] 2"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(parse(" [ 1.5 , -2 ] ").unwrap().to_json(), "[1.5,-2]");
    }
}
