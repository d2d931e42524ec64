//! What the sandbox refused: one stream of denial events, from the seccomp
//! filter, the network policy and the resource limits.
//!
//! A sandboxed program that fails often fails because the sandbox refused
//! something; its user (a person reading a log, or an agent deciding what
//! to ask for next) needs to know what, without guessing from the
//! program's error messages. [`Outcome::denials`](crate::Outcome::denials)
//! says, for each source of refusals, whether it was observed
//! ([`Observation`]), how many refusals each kind made, and the first
//! [`MAX_EVENTS`] distinct ones in full ([`Event`]); its `Display` is a
//! short text to put in front of a person or a model:
//!
//! ```text
//! denied: mount target=/mnt (seccomp filter: EPERM); connect to 10.0.0.1:22 (network policy: a literal address)
//! ```
//!
//! # Where the events come from
//!
//! - **System calls** ([`Kind::Syscall`]): exact. The seccomp filter sends
//!   only the calls it refuses to the caller's process
//!   (`SECCOMP_RET_USER_NOTIF`, Linux 5.0), whose observer thread answers
//!   each with the policy's errno and records it. Allowed calls other than
//!   writes to the filesystem (below) take the filter's usual paths and pay
//!   nothing. The answer is always the refusal: the observer never lets a
//!   refused call run. Calls answered
//!   `ENOSYS` (a call the filter treats as absent, such as `clone3`, which
//!   C libraries try first on every thread they start) are not reported.
//!   Turned off by [`Sandbox::observe_denials`](crate::Sandbox::observe_denials);
//!   where the kernel has no user notification, or the caller runs under a
//!   filter that already has a listener (only one is allowed per process),
//!   the plain filter is installed and [`Denials::syscalls`] says why
//!   nothing was observed.
//! - **Network** ([`Kind::Network`]): exact: the denied connections of the
//!   filtered network's log ([`Outcome::connections`](crate::Outcome::connections)).
//! - **Limits** ([`Kind::Limit`]): exact: an OOM kill, a fork refused by
//!   the pids limit, the CPU-time and wall-clock limits.
//! - **Filesystem** ([`Kind::Filesystem`]): inferred, when asked for with
//!   [`Sandbox::observe_writes`](crate::Sandbox::observe_writes) (off by
//!   default: each write then makes a round trip). Each write the
//!   filter allows (an open to write, create or truncate, `mkdir`,
//!   `unlink`, `rename`, `chmod`, `chown`, ...) notifies too, and the
//!   observer, before letting it run (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`,
//!   Linux 5.5, used only for calls the plain filter allows), resolves its
//!   path inside the sandbox's root and records it when it lies on a
//!   read-only mount ([`FileDenial`], `inferred`): the call's own result is
//!   not seen. Reads cost nothing. Landlock's refusals are not observed:
//!   the kernel records them only in the audit log (Linux 6.15), which
//!   needs `CAP_AUDIT_READ` in the initial user namespace; before Linux
//!   5.5 nothing is looked at and [`Denials::filesystem`] says so.
//!
//! # What can be trusted
//!
//! A sandboxed program cannot create, hide or change a system call event:
//! events come from the kernel's notifications, for calls the filter
//! refused, and every refused call is recorded before it is answered. It
//! can make many refusals, which are counted in full but keep only the
//! first [`MAX_EVENTS`] distinct events. Two fields are the program's
//! word, not the kernel's, and are marked so: [`SyscallDenial::path`]
//! (strings read from the program's memory while the call waits, which
//! another of its threads may rewrite at any moment) and
//! [`SyscallDenial::command`] (the process's name, which it sets itself).
//! Use them to explain, never to decide.
//!
//! A filesystem event is inferred: it says that the program asked to write
//! to a path that, when the observer looked just before the call ran,
//! resolved to a read-only mount. A program that changes its paths between
//! that look and the call (another thread renaming a directory) can make
//! the inference wrong either way; a program that only wants to add
//! events can make real attempts. Letting these calls go on changes
//! nothing about what they may do: they are exactly the calls the filter
//! allows, decided on the arguments the kernel copied (the filter never
//! reads the program's memory).

#[cfg(feature = "seccomp")]
pub(crate) mod observer;

use std::fmt;
use std::time::SystemTime;

/// At most this many distinct events are kept in full; the counts go on.
pub const MAX_EVENTS: usize = 64;

/// Whether a source of refusals was observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum Observation {
    /// Every refusal of this kind was recorded.
    Observed,
    /// Nothing of this kind is enforced (no seccomp filter, no filtered
    /// network), so nothing was refused.
    NotEnforced,
    /// The caller turned observation off.
    Disabled,
    /// The kernel has no seccomp user notification (Linux 5.0).
    Unsupported,
    /// The caller's process already runs under a seccomp filter with a
    /// listener (a container runtime or supervisor that uses user
    /// notification); the kernel allows one per process.
    ListenerTaken,
    /// The kernel keeps no record of these refusals that the caller can
    /// read (filesystem refusals).
    NotRecorded,
    /// Inferred: each write to the filesystem is looked at before it runs,
    /// and one aimed at a read-only mount is recorded as refused (the call
    /// itself runs as it would; its result is not seen). Landlock's
    /// refusals are not observed.
    Inferred,
    /// The seccomp policy refuses `sendmsg`, with which the sandbox's
    /// program process hands the filter's listener to the caller before
    /// it executes the program.
    PolicyRefusesHandover,
}

impl Observation {
    /// Why nothing was observed, in words; `None` when it was.
    pub fn reason(&self) -> Option<&'static str> {
        Some(match self {
            Self::Observed | Self::Inferred => return None,
            Self::NotEnforced => "nothing of this kind is enforced",
            Self::Disabled => "observation is turned off",
            Self::Unsupported => "the kernel has no seccomp user notification (Linux 5.0)",
            Self::ListenerTaken => "the caller already runs under a seccomp filter with a listener",
            Self::NotRecorded => {
                "the kernel keeps no record of them for the caller (writes to read-only \
                 mounts are reported with observe_writes)"
            }
            Self::PolicyRefusesHandover => {
                "the seccomp policy refuses sendmsg, which hands the listener to the caller"
            }
        })
    }
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            None if *self == Self::Inferred => f.write_str("inferred"),
            None => f.write_str("observed"),
            Some(r) => write!(f, "not observed: {r}"),
        }
    }
}

/// The kind of a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum Kind {
    /// A system call the seccomp filter refused.
    Syscall,
    /// A connection the network policy refused.
    Network,
    /// A resource limit that ended or refused something.
    Limit,
    /// A write to the filesystem a read-only mount refuses (inferred).
    Filesystem,
}

/// How many refusals of each kind were made (every one, not only those
/// kept as events).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Counts {
    /// System calls refused by the seccomp filter.
    pub syscall: u64,
    /// Connections refused by the network policy.
    pub network: u64,
    /// Limits hit.
    pub limit: u64,
    /// Writes refused by read-only mounts (inferred).
    pub filesystem: u64,
}

/// A system call the seccomp filter refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SyscallDenial {
    /// The system call's name (or `syscall_N` for a number the table
    /// does not name).
    pub syscall: String,
    /// Its number on the native architecture.
    pub number: u32,
    /// The raw arguments, as the kernel passed them to the filter.
    pub args: [u64; 6],
    /// The arguments worth reading, decoded: `("family", "AF_INET")`,
    /// `("flags", "CLONE_NEWUSER")`, `("request", "0x5412")`. Decoded
    /// from [`args`](Self::args): trustworthy.
    pub decoded: Vec<(String, String)>,
    /// The path (or name) arguments, as `(argument, string)`, read from
    /// the program's memory while the call waited. **Untrusted**: another
    /// thread of the program may have rewritten the memory before or after
    /// the kernel looked at it (the filter itself never reads memory). Left
    /// out for a process the caller may not read, and under a policy that
    /// allows `userfaultfd` or mounting (which the default profile
    /// refuses), with which the program could stall the read.
    pub path: Vec<(String, String)>,
    /// The errno the call was answered with.
    pub errno: i32,
    /// The process that made the call (the first one, for a repeated
    /// event), as a pid of the caller's pid namespace; 0 if it was not
    /// visible there.
    pub pid: u32,
    /// That process's name (`/proc/PID/comm`). **Untrusted**: the program
    /// sets it.
    pub command: Option<String>,
}

/// A write to the filesystem that a read-only mount refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct FileDenial {
    /// What the program tried: `write`, `truncate`, `mkdir`, `mknod`,
    /// `remove`, `rename`, `link`, `symlink`, `chmod`, `chown`.
    pub operation: String,
    /// The system call.
    pub syscall: String,
    /// The path as the program gave it. **Untrusted**, as
    /// [`SyscallDenial::path`].
    pub path: String,
    /// Why it is refused.
    pub reason: FileReason,
    /// Always true today: the refusal is inferred from the mount the path
    /// resolves to in the sandbox just before the call runs (the call's own
    /// result is not seen), not recorded by the kernel.
    pub inferred: bool,
    /// The process that made the call (see [`SyscallDenial::pid`]).
    pub pid: u32,
    /// That process's name. **Untrusted.**
    pub command: Option<String>,
}

/// Why a write to the filesystem is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum FileReason {
    /// The path lies on a read-only mount (`EROFS`): a read-only bind, the
    /// sandbox's read-only root, a masked file.
    ReadOnlyMount,
}

impl fmt::Display for FileReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ReadOnlyMount => "read-only mount",
        })
    }
}

/// A resource limit that refused or ended something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum Limit {
    /// The OOM killer ended a process under the memory limit.
    Memory,
    /// A fork or clone failed under the pids limit.
    Pids,
    /// The CPU-time limit ended the program.
    CpuTime,
    /// The wall-clock limit ended the sandbox.
    WallClock,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Memory => "memory limit (a process was OOM-killed)",
            Self::Pids => "pids limit (a fork or clone failed)",
            Self::CpuTime => "CPU-time limit (the program was ended)",
            Self::WallClock => "wall-clock limit (the sandbox was ended)",
        })
    }
}

/// What was refused.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum Detail {
    /// A system call.
    Syscall(SyscallDenial),
    /// A connection (one entry of the network log).
    Network(crate::net::Connection),
    /// A resource limit.
    Limit(Limit),
    /// A write to the filesystem.
    File(FileDenial),
}

/// One refusal, or a run of identical ones.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Event {
    /// The kind of refusal.
    pub kind: Kind,
    /// How many identical refusals this event stands for (the same system
    /// call with the same decoded arguments and paths and the same errno).
    pub count: u64,
    /// When the first of them happened.
    pub time: SystemTime,
    /// What was refused.
    pub detail: Detail,
}

impl Event {
    /// The event of one connection of the network log.
    pub(crate) fn network(c: &crate::net::Connection) -> Event {
        Event {
            kind: Kind::Network,
            count: 1,
            time: c.time,
            detail: Detail::Network(c.clone()),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Detail::Syscall(s) => {
                f.write_str(&s.syscall)?;
                for (name, value) in &s.decoded {
                    write!(f, " {name}={value}")?;
                }
                // The program's strings: one line, no terminal controls,
                // bounded.
                for (name, value) in &s.path {
                    write!(f, " {name}=")?;
                    write_clean(f, value)?;
                }
                write!(f, " (seccomp filter: {})", errno_name(s.errno))?;
            }
            Detail::Network(c) => {
                match (&c.host, c.address) {
                    (Some(h), _) => write!(f, "connect to {h}:{}", c.port)?,
                    (None, Some(a)) => write!(f, "connect to {a}")?,
                    (None, None) => write!(f, "connect to port {}", c.port)?,
                }
                f.write_str(" (network policy")?;
                match &c.verdict {
                    crate::net::EgressVerdict::Denied(d) => write!(f, ": {d})")?,
                    _ => f.write_str(")")?,
                }
            }
            Detail::Limit(l) => write!(f, "{l}")?,
            Detail::File(d) => {
                write!(f, "{} ", d.operation)?;
                write_clean(f, &d.path)?;
                write!(f, " ({}", d.reason)?;
                if d.inferred {
                    f.write_str(", inferred")?;
                }
                f.write_str(")")?;
            }
        }
        if self.count > 1 {
            write!(f, " x{}", self.count)?;
        }
        Ok(())
    }
}

/// Everything the sandbox refused: per source whether it was observed, the
/// counts per kind, and the first [`MAX_EVENTS`] distinct events in order.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Denials {
    /// Refusals by the seccomp filter.
    pub syscalls: Observation,
    /// Refusals by the network policy.
    pub network: Observation,
    /// Limits hit.
    pub limits: Observation,
    /// Refusals by Landlock and by read-only or masked mounts.
    pub filesystem: Observation,
    /// Every refusal, counted.
    pub counts: Counts,
    /// The first [`MAX_EVENTS`] distinct refusals.
    pub events: Vec<Event>,
    /// Distinct refusals beyond those (counted in [`counts`](Self::counts)).
    pub omitted: u64,
}

impl Default for Denials {
    fn default() -> Self {
        Self {
            syscalls: Observation::NotEnforced,
            network: Observation::NotEnforced,
            limits: Observation::Observed,
            filesystem: Observation::NotRecorded,
            counts: Counts::default(),
            events: Vec::new(),
            omitted: 0,
        }
    }
}

impl Denials {
    /// Whether any refusal was observed.
    pub fn is_empty(&self) -> bool {
        self.counts.syscall + self.counts.network + self.counts.limit + self.counts.filesystem == 0
    }

    /// The events of one kind.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(move |e| e.kind == kind)
    }

    /// Adds an event, merging it into an identical earlier one.
    pub(crate) fn push(&mut self, event: Event) {
        match event.kind {
            Kind::Syscall => self.counts.syscall += event.count,
            Kind::Network => self.counts.network += event.count,
            Kind::Limit => self.counts.limit += event.count,
            Kind::Filesystem => self.counts.filesystem += event.count,
        }
        if let Some(same) = self
            .events
            .iter_mut()
            .find(|e| same_refusal(&e.detail, &event.detail))
        {
            same.count += event.count;
            return;
        }
        if self.events.len() < MAX_EVENTS {
            self.events.push(event);
        } else {
            self.omitted += 1;
        }
    }

    /// Adds a connection of the network log if it was refused.
    fn push_connection(&mut self, c: &crate::net::Connection) {
        if matches!(c.verdict, crate::net::EgressVerdict::Denied(_)) {
            self.push(Event::network(c));
        }
    }

    /// Folds the network log's refusals and the limits an outcome reports
    /// into these denials.
    pub(crate) fn add_outcome(&mut self, outcome: &crate::Outcome) {
        let now = SystemTime::now();
        for c in &outcome.connections {
            self.push_connection(c);
        }
        let mut limit = |l| {
            self.push(Event {
                kind: Kind::Limit,
                count: 1,
                time: now,
                detail: Detail::Limit(l),
            });
        };
        match outcome.verdict {
            crate::Verdict::OomKilled => limit(Limit::Memory),
            crate::Verdict::CpuTimeExceeded => limit(Limit::CpuTime),
            crate::Verdict::TimedOut => limit(Limit::WallClock),
            _ => {}
        }
        if outcome.usage.is_some_and(|u| u.pids_limit_hit) {
            limit(Limit::Pids);
        }
    }
}

/// Whether two details describe the same refusal (what merges them into
/// one event with a count).
fn same_refusal(a: &Detail, b: &Detail) -> bool {
    match (a, b) {
        (Detail::Syscall(a), Detail::Syscall(b)) => {
            a.number == b.number && a.errno == b.errno && a.decoded == b.decoded && a.path == b.path
        }
        (Detail::Limit(a), Detail::Limit(b)) => a == b,
        (Detail::File(a), Detail::File(b)) => {
            a.operation == b.operation && a.path == b.path && a.reason == b.reason
        }
        _ => false,
    }
}

impl fmt::Display for Denials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.events.is_empty() {
            f.write_str("denied: nothing observed")?;
        } else {
            f.write_str("denied: ")?;
            for (i, e) in self.events.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{e}")?;
            }
            if self.omitted > 0 {
                write!(f, "; and {} more", self.omitted)?;
            }
        }
        let unseen: Vec<String> = [("system calls", self.syscalls), ("network", self.network)]
            .iter()
            .filter(|(_, o)| !matches!(o, Observation::Observed | Observation::NotEnforced))
            .map(|(what, o)| format!("{what}: {o}"))
            .collect();
        if !unseen.is_empty() {
            write!(f, " ({})", unseen.join("; "))?;
        }
        Ok(())
    }
}

/// A live callback for refusals ([`Sandbox::on_denial`](crate::Sandbox::on_denial)).
pub(crate) type Callback = dyn Fn(&Event) + Send + Sync;

/// What watches a sandbox's seccomp listeners.
#[cfg(feature = "seccomp")]
pub(crate) type Observe = std::sync::Arc<observer::Sink>;
/// What watches a sandbox's seccomp listeners (none in this build).
#[cfg(not(feature = "seccomp"))]
pub(crate) type Observe = ();

/// One sandbox's (or one exec's) observation of refusals: the sink that
/// watches its programs' listeners, and what its report says otherwise.
#[derive(Debug)]
pub(crate) struct Watch {
    sink: Option<Observe>,
    /// The live stream, told of the limits hit when the sandbox ends (the
    /// observer and the network engine tell it the rest as it happens).
    callback: Option<crate::net::policy::Hook<Callback>>,
    syscalls: Observation,
    network: Observation,
    /// The final report, once the sandbox has ended.
    done: Option<Denials>,
}

impl Default for Watch {
    fn default() -> Self {
        Watch {
            sink: None,
            callback: None,
            syscalls: Observation::NotEnforced,
            network: Observation::NotEnforced,
            done: None,
        }
    }
}

impl Watch {
    /// A watch: `sink` watches the programs' listeners (when the seccomp
    /// filter's refusals are observed), `callback` is the live stream,
    /// and `syscalls` and `network` say what is observed.
    pub(crate) fn new(
        sink: Option<Observe>,
        callback: Option<crate::net::policy::Hook<Callback>>,
        syscalls: Observation,
        network: Observation,
    ) -> Watch {
        Watch {
            sink,
            callback,
            syscalls,
            network,
            done: None,
        }
    }

    /// Leaves the listeners to the observer until their processes are
    /// gone (a sandbox detached from its handle, which runs on): refused
    /// calls go on being answered with the policy's errno.
    pub(crate) fn detach(&mut self) {
        self.sink = None;
    }

    /// The sink the setup hands listeners to.
    pub(crate) fn sink(&self) -> Option<&Observe> {
        self.sink.as_ref()
    }

    fn base(&self) -> Denials {
        #[cfg(feature = "seccomp")]
        let mut d = self.sink.as_ref().map(|s| s.snapshot()).unwrap_or_default();
        #[cfg(not(feature = "seccomp"))]
        let mut d = Denials::default();
        if self.sink.is_none() {
            d.syscalls = self.syscalls;
        }
        d.network = self.network;
        d
    }

    /// What was refused so far (the final report once the sandbox ended);
    /// the network's refusals are in `connections`.
    pub(crate) fn snapshot(&self, connections: &[crate::net::Connection]) -> Denials {
        if let Some(d) = &self.done {
            return d.clone();
        }
        let mut d = self.base();
        for c in connections {
            d.push_connection(c);
        }
        d
    }

    /// Closes the listeners of a sandbox whose processes are gone, keeping
    /// what was recorded (and the network's refusals in `connections`).
    pub(crate) fn close(&mut self, connections: &[crate::net::Connection]) {
        #[cfg(feature = "seccomp")]
        if let Some(s) = &self.sink {
            s.close();
        }
        let d = self.snapshot(connections);
        self.sink = None;
        self.done = Some(d);
    }

    /// The final report: the sandbox's processes are gone, its listeners
    /// are closed, and the outcome's network log and limits are added.
    pub(crate) fn finish(&mut self, outcome: &crate::Outcome) -> Denials {
        #[cfg(feature = "seccomp")]
        if let Some(s) = &self.sink {
            s.close();
        }
        let mut d = self.base();
        d.add_outcome(outcome);
        if let Some(cb) = &self.callback {
            for e in d.of_kind(Kind::Limit) {
                let f = &cb.0;
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(e)));
            }
        }
        self.sink = None;
        self.done = Some(d.clone());
        d
    }
}

impl Drop for Watch {
    /// Stops watching: the sandbox is over (or its setup failed), and its
    /// listeners close now rather than when the kernel says their
    /// processes are gone.
    fn drop(&mut self) {
        #[cfg(feature = "seccomp")]
        if let Some(s) = self.sink.take() {
            s.close();
        }
    }
}

/// Longest stretch of a program's string a summary shows.
const SHOWN_CHARS: usize = 256;

/// Writes a string of the program's with control characters and the
/// bidirectional-text marks escaped (so it cannot break a line, drive a
/// terminal or reorder what surrounds it) and cut after [`SHOWN_CHARS`].
fn write_clean(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    for (i, c) in s.chars().enumerate() {
        if i == SHOWN_CHARS {
            return f.write_str("...");
        }
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            write!(f, "{}", c.escape_default())?;
        } else {
            write!(f, "{c}")?;
        }
    }
    Ok(())
}

/// The symbolic name of an errno the filter answers with.
pub(crate) fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::ENOSYS => "ENOSYS",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EINVAL => "EINVAL",
        libc::ENOTTY => "ENOTTY",
        libc::EROFS => "EROFS",
        libc::ENOENT => "ENOENT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        _ => return format!("errno {errno}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syscall(name: &str, errno: i32) -> Event {
        Event {
            kind: Kind::Syscall,
            count: 1,
            time: SystemTime::UNIX_EPOCH,
            detail: Detail::Syscall(SyscallDenial {
                syscall: name.to_owned(),
                number: 1,
                args: [0; 6],
                decoded: vec![("family".to_owned(), "AF_INET".to_owned())],
                path: Vec::new(),
                errno,
                pid: 7,
                command: None,
            }),
        }
    }

    #[test]
    fn identical_refusals_merge_and_the_list_is_bounded() {
        let mut d = Denials::default();
        for _ in 0..3 {
            d.push(syscall("socket", libc::EAFNOSUPPORT));
        }
        assert_eq!(d.events.len(), 1);
        assert_eq!(d.events[0].count, 3);
        assert_eq!(
            d.to_string(),
            "denied: socket family=AF_INET (seccomp filter: EAFNOSUPPORT) x3"
        );
        for i in 0..(MAX_EVENTS as i32 + 10) {
            d.push(syscall("socket", 1000 + i));
        }
        assert_eq!(d.events.len(), MAX_EVENTS);
        assert_eq!(d.omitted, 11);
        assert_eq!(d.counts.syscall, 3 + MAX_EVENTS as u64 + 10);
    }

    #[test]
    fn the_programs_strings_are_shown_on_one_line() {
        let mut e = syscall("mount", libc::EPERM);
        if let Detail::Syscall(s) = &mut e.detail {
            s.decoded.clear();
            s.path = vec![("target".to_owned(), "/a\n\u{1b}[2J\u{202e}b".to_owned())];
        }
        assert_eq!(
            e.to_string(),
            "mount target=/a\\n\\u{1b}[2J\\u{202e}b (seccomp filter: EPERM)"
        );
        if let Detail::Syscall(s) = &mut e.detail {
            s.path[0].1 = "x".repeat(1000);
        }
        assert!(e.to_string().len() < 300);
    }

    #[test]
    fn what_was_not_observed_is_said() {
        let d = Denials {
            syscalls: Observation::Disabled,
            ..Denials::default()
        };
        assert_eq!(
            d.to_string(),
            "denied: nothing observed (system calls: not observed: observation is turned off)"
        );
    }
}
