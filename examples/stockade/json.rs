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
pub fn enforcement(e: &Enforcement) -> String {
    let mut j = Object::new();
    let ns: Vec<String> = e.namespaces.names().map(escape).collect();
    j.raw("namespaces", &format!("[{}]", ns.join(",")));
    for (k, m) in [("uid", e.uid), ("gid", e.gid)] {
        match m {
            Some(m) => j.raw(
                k,
                &format!("{{\"inside\":{},\"outside\":{}}}", m.inside, m.outside),
            ),
            None => j.raw(k, "null"),
        }
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
