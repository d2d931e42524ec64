//! Full uid and gid ranges for a sandbox's user namespace.
//!
//! By default a sandbox's user namespace maps exactly one uid and one gid:
//! the program's, to the caller's. A userland with users of its own (`chown`,
//! `useradd`, `su`, package managers) needs more: a range of ids inside, each
//! mapped to an id outside that the caller may use.
//!
//! - [`Sandbox::uid_ranges`](crate::Sandbox::uid_ranges) and
//!   [`gid_ranges`](crate::Sandbox::gid_ranges) give the maps explicitly, as
//!   [`IdRange`]s.
//! - [`Sandbox::subordinate_ids`](crate::Sandbox::subordinate_ids) maps the
//!   program's own uid and gid to the caller's effective ones (as without
//!   ranges) and every other id from 0 to 65535 (or as many as they hold) to
//!   the caller's subordinate ranges, which the system administrator grants
//!   in `/etc/subuid` and `/etc/subgid` (`subuid(5)`), in the order of those
//!   files.
//!
//! Only a process with `CAP_SETUID` (`CAP_SETGID`) over the caller's user
//! namespace may map more than its own id (`user_namespaces(7)`): a root
//! caller writes the maps itself; an unprivileged caller has them written by
//! the setuid helpers `newuidmap` and `newgidmap` (`newuidmap(1)`; Debian's
//! and Ubuntu's package `uidmap`), which map only what `/etc/subuid` and
//! `/etc/subgid` grant the user. The caller writes the maps once the
//! sandbox's first process exists and before it goes on; a sandbox without
//! ranges has that process write its own single-id maps, as before.
//!
//! # setgroups
//!
//! With a single-id map written by an unprivileged caller, the kernel
//! requires `setgroups(2)` to be denied in the sandbox (CVE-2014-8989: a
//! process could otherwise drop a supplementary group that denies it access
//! to a file). With ranges `setgroups` stays allowed, as `su`, `useradd` and
//! login programs need: the sandbox's processes can drop the caller's
//! supplementary groups (the program starts with none) and take any group
//! mapped inside. For an unprivileged caller that is what the system
//! administrator granted by listing the ranges in `/etc/subgid`
//! (`newgidmap` allows `setgroups` only then); a root caller can do that
//! anyway.
//!
//! # Limits
//!
//! The kernel takes at most 340 ranges per map (Linux 4.15; 5 before), in
//! one write of less than a page. Ranges need no template: a policy with
//! ranges builds its whole root for each spawn (the template's user
//! namespace, the parent of each sandbox's, maps only the caller's ids).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// "uid" or "gid".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdKind {
    /// A user id.
    Uid,
    /// A group id.
    Gid,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::Uid => "uid",
            IdKind::Gid => "gid",
        })
    }
}

/// A range of ids mapped between the sandbox and the host: `count` ids from
/// `inside` inside map to as many from `outside` outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct IdRange {
    /// The first id inside the sandbox.
    pub inside: u32,
    /// The id it maps to outside (in the caller's user namespace).
    pub outside: u32,
    /// How many consecutive ids the range maps (at least 1).
    pub count: u32,
}

impl IdRange {
    /// `count` ids from `inside`, mapped to as many from `outside`.
    pub const fn new(inside: u32, outside: u32, count: u32) -> IdRange {
        IdRange {
            inside,
            outside,
            count,
        }
    }

    /// The id outside that `id` inside maps to, if the range holds it.
    pub fn to_outside(&self, id: u32) -> Option<u32> {
        let off = id.checked_sub(self.inside)?;
        (off < self.count).then(|| self.outside.wrapping_add(off))
    }

    /// The id inside that `id` outside maps to, if the range holds it.
    pub fn to_inside(&self, id: u32) -> Option<u32> {
        let off = id.checked_sub(self.outside)?;
        (off < self.count).then(|| self.inside.wrapping_add(off))
    }

    /// Whether `count` is at least one and neither end passes the last
    /// valid id (`u32::MAX` is not one).
    fn valid(&self) -> bool {
        self.count > 0
            && self.inside.checked_add(self.count).is_some()
            && self.outside.checked_add(self.count).is_some()
    }
}

impl fmt::Display for IdRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.inside, self.outside, self.count)
    }
}

/// The most ranges the kernel takes in one map (Linux 4.15).
pub const MAX_RANGES: usize = 340;

/// Where a map's ranges come from, for errors.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// [`Sandbox::uid_ranges`](crate::Sandbox::uid_ranges) or
    /// [`gid_ranges`](crate::Sandbox::gid_ranges).
    Explicit(IdKind),
    /// A subordinate id file (`/etc/subuid`, `/etc/subgid`).
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Explicit(kind) => write!(f, "Sandbox::{kind}_ranges"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Why a sandbox's uid or gid ranges cannot be mapped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Ranges were asked for without a user namespace.
    #[error("invalid {kind} ranges: ranges map ids of a user namespace; add Namespaces::USER")]
    NeedsUserNamespace {
        /// Which map.
        kind: IdKind,
    },
    /// A range maps no id, or runs past the last valid id.
    #[error(
        "invalid {kind} range {range}: it must map at least one id and end below {}",
        u32::MAX
    )]
    InvalidRange {
        /// Which map.
        kind: IdKind,
        /// The range given.
        range: IdRange,
    },
    /// Two ranges overlap, inside or outside.
    #[error("{}", overlap_message(*kind, origin, first, second, side))]
    Overlap {
        /// Which map.
        kind: IdKind,
        /// Where the ranges come from.
        origin: Origin,
        /// The earlier range.
        first: IdRange,
        /// The later one.
        second: IdRange,
        /// `"inside"` or `"outside"`.
        side: &'static str,
    },
    /// More ranges than the kernel takes in one map.
    #[error("invalid {kind} ranges: {count} ranges, the kernel takes at most {max} per map")]
    TooManyRanges {
        /// Which map.
        kind: IdKind,
        /// How many the map would have.
        count: usize,
        /// The most it may have.
        max: usize,
    },
    /// The ranges do not map an id the sandbox needs: the program's (it runs
    /// as it), or the caller's own outside (the sandbox's first process runs
    /// as it and makes its root filesystem).
    #[error(
        "the {kind} ranges of {origin} are too small: they do not map the {which} {kind} {id}{}",
        if *.inside { " inside" } else { " outside" }
    )]
    TooSmall {
        /// Which map.
        kind: IdKind,
        /// Where the ranges come from.
        origin: Origin,
        /// `"program's"` or `"caller's"`.
        which: &'static str,
        /// The id.
        id: u32,
        /// Whether `id` is an id inside (the program's) or outside (the
        /// caller's).
        inside: bool,
    },
    /// The caller has no usable entry in the subordinate id file.
    #[error(
        "failed to map subordinate {kind}s: {} has no entry for user {user} ({kind} {id}); \
         as root, add one that overlaps no other entry there, for example \
         `usermod --add-sub{kind}s 100000-165535 {user}`",
        file.display()
    )]
    NoSubordinateIds {
        /// Which map.
        kind: IdKind,
        /// The file read.
        file: PathBuf,
        /// The caller's user name (its number when it has none).
        user: String,
        /// The caller's effective id of that kind.
        id: u32,
    },
    /// The subordinate id file could not be read.
    #[error("failed to read {}", file.display())]
    ReadFile {
        /// The file.
        file: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// An unprivileged caller asked for a range outside that is neither its
    /// own id nor granted to it in the subordinate id file.
    #[error(
        "failed to map {kind} range {range}: an unprivileged caller may map only its own {kind} \
         (a range of one) and the ranges {} grants it{}",
        file.display(),
        if granted.is_empty() { " (it grants none)".to_owned() } else { format!(" ({})", Spans(granted)) }
    )]
    NotOwned {
        /// Which map.
        kind: IdKind,
        /// The range asked for.
        range: IdRange,
        /// The subordinate id file.
        file: PathBuf,
        /// What it grants the caller: (first id, count) pairs.
        granted: Vec<(u32, u32)>,
    },
    /// The setuid helper that writes an unprivileged caller's maps is not
    /// installed.
    #[error(
        "failed to map {kind} ranges: {helper} is not installed (it writes an unprivileged \
         caller's ranges; Debian and Ubuntu package `uidmap`, Fedora `shadow-utils`)"
    )]
    HelperMissing {
        /// Which map.
        kind: IdKind,
        /// `newuidmap` or `newgidmap`.
        helper: &'static str,
    },
    /// The setuid helper could not be started.
    #[error("failed to map {kind} ranges: failed to run {}", helper.display())]
    HelperSpawn {
        /// Which map.
        kind: IdKind,
        /// The helper's path.
        helper: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The setuid helper refused or failed; its own message says why.
    #[error(
        "failed to map {kind} ranges: {} {args} failed ({status}): {}",
        helper.display(),
        stderr.trim_end()
    )]
    HelperFailed {
        /// Which map.
        kind: IdKind,
        /// The helper's path.
        helper: PathBuf,
        /// Its arguments after the process id (`inside outside count`...).
        args: String,
        /// How it ended.
        status: std::process::ExitStatus,
        /// What it printed on its standard error.
        stderr: String,
    },
    /// The kernel refused the map a root caller wrote.
    #[error("failed to write the sandbox's {kind} map ({})", Spans(&lines.iter().map(|r| (r.inside, r.count)).collect::<Vec<_>>()))]
    Write {
        /// Which map.
        kind: IdKind,
        /// The map.
        lines: Vec<IdRange>,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
}

fn overlap_message(
    kind: IdKind,
    origin: &Origin,
    first: &IdRange,
    second: &IdRange,
    side: &str,
) -> String {
    match origin {
        Origin::Explicit(_) => {
            format!("invalid {kind} ranges in {origin}: {first} and {second} overlap ({side})")
        }
        // Entries of the file, or the caller's own id and an entry: ids
        // outside only.
        Origin::File(_) => format!(
            "invalid subordinate {kind}s in {origin}: {} and {} overlap (each id outside may be \
             mapped once, and not the caller's own {kind})",
            Spans(&[(first.outside, first.count)]),
            Spans(&[(second.outside, second.count)]),
        ),
    }
}

/// (first, count) pairs, as `first-last` spans.
struct Spans<'a>(&'a [(u32, u32)]);

impl fmt::Display for Spans<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (first, count)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            let last = u64::from(*first) + u64::from(*count) - 1;
            write!(f, "{first}-{last}")?;
        }
        Ok(())
    }
}

/// How a policy maps one kind of id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Source {
    /// The program's id to the caller's, alone (the default).
    #[default]
    Single,
    /// The caller's ranges.
    Explicit(Vec<IdRange>),
    /// The program's id to the caller's, the rest to the caller's
    /// subordinate ids.
    Subordinate,
}

/// Checks what does not depend on the caller: each explicit range is
/// valid, no two overlap, there are not too many, and there is a user
/// namespace for them.
pub(crate) fn check(kind: IdKind, source: &Source, userns: bool) -> Result<(), Error> {
    if matches!(source, Source::Single) {
        return Ok(());
    }
    if !userns {
        return Err(Error::NeedsUserNamespace { kind });
    }
    let Source::Explicit(ranges) = source else {
        return Ok(());
    };
    if let Some(r) = ranges.iter().find(|r| !r.valid()) {
        return Err(Error::InvalidRange { kind, range: *r });
    }
    check_overlap(kind, ranges, &Origin::Explicit(kind))?;
    if ranges.len() > MAX_RANGES {
        return Err(Error::TooManyRanges {
            kind,
            count: ranges.len(),
            max: MAX_RANGES,
        });
    }
    Ok(())
}

fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
    let (a0, a1) = (u64::from(a.0), u64::from(a.0) + u64::from(a.1));
    let (b0, b1) = (u64::from(b.0), u64::from(b.0) + u64::from(b.1));
    a0 < b1 && b0 < a1
}

fn check_overlap(kind: IdKind, ranges: &[IdRange], origin: &Origin) -> Result<(), Error> {
    for (i, a) in ranges.iter().enumerate() {
        for b in ranges.iter().skip(i + 1) {
            for (side, x, y) in [
                ("inside", (a.inside, a.count), (b.inside, b.count)),
                ("outside", (a.outside, a.count), (b.outside, b.count)),
            ] {
                if overlaps(x, y) {
                    return Err(Error::Overlap {
                        kind,
                        origin: origin.clone(),
                        first: *a,
                        second: *b,
                        side,
                    });
                }
            }
        }
    }
    Ok(())
}

/// The subordinate id file of a kind.
pub(crate) fn subordinate_file(kind: IdKind) -> &'static Path {
    match kind {
        IdKind::Uid => Path::new("/etc/subuid"),
        IdKind::Gid => Path::new("/etc/subgid"),
    }
}

/// The entries of a subordinate id file (`subuid(5)`) for the user `name`
/// or number `id`, in file order, as (first id, count); lines that are
/// empty, comments or malformed are skipped, as `newuidmap` does.
pub(crate) fn parse_subordinate(text: &str, name: Option<&str>, id: u32) -> Vec<(u32, u32)> {
    let id = id.to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let (who, first, count) = (f.next()?, f.next()?, f.next()?);
            if f.next().is_some() || (Some(who) != name && who != id) {
                return None;
            }
            Some((first.parse().ok()?, count.parse().ok()?))
        })
        .filter(|&(_, count): &(u32, u32)| count > 0)
        .collect()
}

/// The caller's entries in the subordinate id file of `kind`.
fn read_subordinate(kind: IdKind, file: &Path, user: &Caller) -> Result<Vec<(u32, u32)>, Error> {
    let id = user.id(kind);
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::ReadFile {
                file: file.to_owned(),
                source,
            });
        }
    };
    Ok(parse_subordinate(&text, user.name.as_deref(), id))
}

/// The calling user, as the subordinate id files name it.
pub(crate) struct Caller {
    pub(crate) euid: u32,
    pub(crate) egid: u32,
    /// The user name of `euid`, if it has one.
    pub(crate) name: Option<String>,
}

impl Caller {
    pub(crate) fn new(euid: u32, egid: u32) -> Caller {
        let name = nix::unistd::User::from_uid(euid.into())
            .ok()
            .flatten()
            .map(|u| u.name);
        Caller { euid, egid, name }
    }

    fn id(&self, kind: IdKind) -> u32 {
        match kind {
            IdKind::Uid => self.euid,
            IdKind::Gid => self.egid,
        }
    }

    fn user(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.euid.to_string())
    }
}

/// The ids of 0..=65535 that subordinate ids map: all of them.
const SUBORDINATE_SPAN: u32 = 65536;

/// Maps `program` to `own`, and the ids 0..65536 but `program` to the
/// subordinate entries `subs` in order, as many as they hold.
pub(crate) fn subordinate_map(program: u32, own: u32, subs: &[(u32, u32)]) -> Vec<IdRange> {
    let mut out = vec![IdRange::new(program, own, 1)];
    let mut next: u32 = 0;
    for &(first, count) in subs {
        let (mut outside, mut left) = (first, count);
        while left > 0 && next < SUBORDINATE_SPAN {
            if next == program {
                next += 1;
                continue;
            }
            // Up to the program's id, or to the end of the span.
            let stop = if program > next && program < SUBORDINATE_SPAN {
                program
            } else {
                SUBORDINATE_SPAN
            };
            let n = left.min(stop - next);
            out.push(IdRange::new(next, outside, n));
            next += n;
            outside = outside.wrapping_add(n);
            left -= n;
        }
    }
    out
}

/// Whether `range` outside lies within the union of `granted`.
fn covered(range: &IdRange, granted: &[(u32, u32)]) -> bool {
    let end = u64::from(range.outside) + u64::from(range.count);
    let mut cur = u64::from(range.outside);
    'walk: while cur < end {
        for &(first, count) in granted {
            let (f, e) = (u64::from(first), u64::from(first) + u64::from(count));
            if f <= cur && cur < e {
                cur = e;
                continue 'walk;
            }
        }
        return false;
    }
    true
}

/// The ids inside that `ranges` map, in words: `uid 1000`, `uids 0-65535`.
pub(crate) fn describe_inside(kind: IdKind, ranges: &[IdRange]) -> String {
    let mut spans: Vec<(u32, u32)> = ranges
        .iter()
        .filter(|r| r.count > 0)
        .map(|r| (r.inside, r.inside.saturating_add(r.count - 1)))
        .collect();
    spans.sort_unstable();
    // Adjacent ranges read as one.
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if u64::from(a) <= u64::from(last.1) + 1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    match merged.as_slice() {
        [] => format!("no {kind}"),
        [(a, b)] if a == b => format!("{kind} {a}"),
        _ => {
            let list: Vec<String> = merged
                .iter()
                .map(|&(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}-{b}")
                    }
                })
                .collect();
            format!("{kind}s {}", list.join(", "))
        }
    }
}

/// One map of a sandbox with ranges, and how it gets written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Map {
    pub(crate) kind: IdKind,
    pub(crate) lines: Vec<IdRange>,
    /// Written by the setuid helper (an unprivileged caller's map of more
    /// than its own id); otherwise by the caller.
    pub(crate) helper: bool,
}

impl Map {
    /// The map as the kernel reads it.
    pub(crate) fn text(&self) -> String {
        self.lines
            .iter()
            .map(|r| format!("{} {} {}\n", r.inside, r.outside, r.count))
            .collect()
    }

    /// The id outside that `id` inside maps to.
    pub(crate) fn to_outside(&self, id: u32) -> Option<u32> {
        self.lines.iter().find_map(|r| r.to_outside(id))
    }

    fn to_inside(&self, id: u32) -> Option<u32> {
        self.lines.iter().find_map(|r| r.to_inside(id))
    }
}

/// Plans the map of `kind` for a sandbox with ranges: `program` is the id
/// the program runs as inside, `root` whether the caller is root (it writes
/// any map itself). `file` is the subordinate id file to read.
pub(crate) fn plan(
    kind: IdKind,
    source: &Source,
    program: u32,
    caller: &Caller,
    file: &Path,
) -> Result<Map, Error> {
    let own = caller.id(kind);
    let root = caller.euid == 0;
    let single = vec![IdRange::new(program, own, 1)];
    let (lines, origin) = match source {
        Source::Single => {
            return Ok(Map {
                kind,
                lines: single,
                helper: false,
            });
        }
        Source::Subordinate => {
            let subs = read_subordinate(kind, file, caller)?;
            if subs.is_empty() {
                return Err(Error::NoSubordinateIds {
                    kind,
                    file: file.to_owned(),
                    user: caller.user(),
                    id: own,
                });
            }
            let origin = Origin::File(file.to_owned());
            // Entries that overlap each other or the caller's own id would
            // map one id outside twice.
            let as_ranges: Vec<IdRange> = std::iter::once(IdRange::new(0, own, 1))
                .chain(subs.iter().map(|&(f, c)| IdRange::new(0, f, c)))
                .collect();
            for (i, a) in as_ranges.iter().enumerate() {
                for b in as_ranges.iter().skip(i + 1) {
                    if overlaps((a.outside, a.count), (b.outside, b.count)) {
                        return Err(Error::Overlap {
                            kind,
                            origin,
                            first: *a,
                            second: *b,
                            side: "outside",
                        });
                    }
                }
            }
            (subordinate_map(program, own, &subs), origin)
        }
        Source::Explicit(ranges) => (ranges.clone(), Origin::Explicit(kind)),
    };
    if lines.len() > MAX_RANGES {
        return Err(Error::TooManyRanges {
            kind,
            count: lines.len(),
            max: MAX_RANGES,
        });
    }
    let map = Map {
        kind,
        helper: !root && lines != single,
        lines,
    };
    if map.to_outside(program).is_none() {
        return Err(Error::TooSmall {
            kind,
            origin,
            which: "program's",
            id: program,
            inside: true,
        });
    }
    if map.to_inside(own).is_none() {
        return Err(Error::TooSmall {
            kind,
            origin,
            which: "caller's",
            id: own,
            inside: false,
        });
    }
    if let (Source::Explicit(ranges), false) = (source, root) {
        let granted = read_subordinate(kind, file, caller)?;
        for r in ranges {
            let own_alone = r.count == 1 && r.outside == own;
            if !own_alone && !covered(r, &granted) {
                return Err(Error::NotOwned {
                    kind,
                    range: *r,
                    file: file.to_owned(),
                    granted,
                });
            }
        }
    }
    Ok(map)
}

/// Where the setuid helpers are looked for (not the caller's `PATH`: a
/// setuid program is installed in a system directory).
const HELPER_DIRS: &[&str] = &["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"];

/// A map being written: by a helper that may still run, or already.
pub(crate) enum Pending {
    Done,
    Helper {
        kind: IdKind,
        helper: PathBuf,
        args: Vec<String>,
        child: std::process::Child,
    },
}

impl Pending {
    /// Waits for the helper, if any, and says how it went.
    pub(crate) fn finish(self) -> Result<(), Error> {
        let Pending::Helper {
            kind,
            helper,
            args,
            child,
        } = self
        else {
            return Ok(());
        };
        let out = child
            .wait_with_output()
            .map_err(|source| Error::HelperSpawn {
                kind,
                helper: helper.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(Error::HelperFailed {
                kind,
                helper,
                args: args.join(" "),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(())
    }
}

/// Writes `map` for process `pid` (the sandbox's first process, a child of
/// the caller in a new user namespace that has not written its maps).
#[cfg(test)]
fn write(pid: u32, map: &Map) -> Result<(), Error> {
    start(pid, map)?.finish()
}

/// Starts writing `map` for process `pid`, as [`write`] does: a map the
/// caller writes is written on return, a helper may still run (so that
/// both helpers run at once).
pub(crate) fn start(pid: u32, map: &Map) -> Result<Pending, Error> {
    start_with(pid, map, HELPER_DIRS)
}

/// [`start`], with the helpers looked for in `dirs`.
fn start_with(pid: u32, map: &Map, dirs: &[&str]) -> Result<Pending, Error> {
    let kind = map.kind;
    if map.helper {
        let name = match kind {
            IdKind::Uid => "newuidmap",
            IdKind::Gid => "newgidmap",
        };
        let helper = dirs
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.is_file())
            .ok_or(Error::HelperMissing { kind, helper: name })?;
        let args: Vec<String> = map
            .lines
            .iter()
            .flat_map(|r| [r.inside, r.outside, r.count])
            .map(|v| v.to_string())
            .collect();
        let child = std::process::Command::new(&helper)
            .arg(pid.to_string())
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|source| Error::HelperSpawn {
                kind,
                helper: helper.clone(),
                source,
            })?;
        return Ok(Pending::Helper {
            kind,
            helper,
            args,
            child,
        });
    }
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let err = |source| Error::Write {
        kind,
        lines: map.lines.clone(),
        source,
    };
    if kind == IdKind::Gid && nix::unistd::geteuid().as_raw() != 0 {
        // An unprivileged writer of its own single id (`user_namespaces(7)`).
        std::fs::write(proc.join("setgroups"), b"deny").map_err(err)?;
    }
    let file = match kind {
        IdKind::Uid => "uid_map",
        IdKind::Gid => "gid_map",
    };
    // One write: the kernel takes a map only whole.
    use std::io::Write;
    let text = map.text();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(proc.join(file))
        .map_err(err)?;
    match f.write(text.as_bytes()) {
        Ok(n) if n == text.len() => Ok(Pending::Done),
        Ok(_) => Err(err(io::ErrorKind::WriteZero.into())),
        Err(e) => Err(err(e)),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn mapped_ids_are_described_as_inside_spans() {
        assert_eq!(
            describe_inside(IdKind::Uid, &[IdRange::new(1000, 1000, 1)]),
            "uid 1000"
        );
        let r = [IdRange::new(1, 100_000, 65535), IdRange::new(0, 1000, 1)];
        assert_eq!(describe_inside(IdKind::Gid, &r), "gids 0-65535");
        let r = [IdRange::new(5, 100_000, 1), IdRange::new(0, 1000, 2)];
        assert_eq!(describe_inside(IdKind::Uid, &r), "uids 0-1, 5");
        assert_eq!(describe_inside(IdKind::Uid, &[]), "no uid");
    }
    use super::*;

    fn caller(euid: u32, name: &str) -> Caller {
        Caller {
            euid,
            egid: euid,
            name: Some(name.to_owned()),
        }
    }

    #[test]
    fn subordinate_entries_are_found_by_name_and_number_in_order() {
        let text = "# comment\nalice:100000:65536\n1000:300000:10\nbob:200000:65536\n\
                    alice:400000:0\nbad line\nalice:x:1\n";
        assert_eq!(
            parse_subordinate(text, Some("alice"), 1000),
            [(100000, 65536), (300000, 10)]
        );
        assert_eq!(parse_subordinate(text, None, 1000), [(300000, 10)]);
        assert!(parse_subordinate(text, Some("carol"), 5).is_empty());
    }

    #[test]
    fn subordinate_map_skips_the_program_id_and_stops_at_65536() {
        assert_eq!(
            subordinate_map(0, 1000, &[(100000, 65536)]),
            [IdRange::new(0, 1000, 1), IdRange::new(1, 100000, 65535)]
        );
        assert_eq!(
            subordinate_map(1000, 1000, &[(100000, 65536)]),
            [
                IdRange::new(1000, 1000, 1),
                IdRange::new(0, 100000, 1000),
                IdRange::new(1001, 101000, 64535)
            ]
        );
        // Split over two entries, and fewer ids than the span.
        assert_eq!(
            subordinate_map(5, 1000, &[(100000, 3), (200000, 4)]),
            [
                IdRange::new(5, 1000, 1),
                IdRange::new(0, 100000, 3),
                IdRange::new(3, 200000, 2),
                IdRange::new(6, 200002, 2)
            ]
        );
        // A program id beyond the span.
        assert_eq!(
            subordinate_map(70000, 1000, &[(100000, 65536)]),
            [IdRange::new(70000, 1000, 1), IdRange::new(0, 100000, 65536)]
        );
    }

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("subuid");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn subordinate_plans_and_their_errors() {
        let (_d, f) = file("alice:100000:65536\n");
        let alice = caller(1000, "alice");
        let m = plan(IdKind::Uid, &Source::Subordinate, 0, &alice, &f).unwrap();
        assert!(m.helper);
        assert_eq!(m.text(), "0 1000 1\n1 100000 65535\n");
        let e = plan(
            IdKind::Uid,
            &Source::Subordinate,
            0,
            &caller(1001, "bob"),
            &f,
        )
        .unwrap_err();
        assert!(matches!(e, Error::NoSubordinateIds { id: 1001, .. }), "{e}");
        assert!(
            e.to_string()
                .contains("usermod --add-subuids 100000-165535 bob"),
            "{e}"
        );
        let (_d2, missing) = (
            tempfile::tempdir().unwrap(),
            PathBuf::from("/nonexistent/subuid"),
        );
        let e = plan(IdKind::Uid, &Source::Subordinate, 0, &alice, &missing).unwrap_err();
        assert!(matches!(e, Error::NoSubordinateIds { .. }), "{e}");
        let (_d3, f) = file("alice:100000:65536\nalice:165000:10\n");
        let e = plan(IdKind::Uid, &Source::Subordinate, 0, &alice, &f).unwrap_err();
        assert!(matches!(e, Error::Overlap { .. }), "{e}");
        let (_d4, f) = file("alice:500:65536\n");
        let e = plan(IdKind::Uid, &Source::Subordinate, 0, &alice, &f).unwrap_err();
        assert!(matches!(e, Error::Overlap { .. }), "{e}");
        // A root caller writes the map itself.
        let (_d5, f) = file("root:100000:65536\n");
        let m = plan(IdKind::Gid, &Source::Subordinate, 0, &caller(0, "root"), &f).unwrap();
        assert!(!m.helper);
    }

    #[test]
    fn explicit_plans_and_their_errors() {
        let (_d, f) = file("alice:100000:65536\n");
        let alice = caller(1000, "alice");
        let ok = Source::Explicit(vec![IdRange::new(0, 1000, 1), IdRange::new(1, 100000, 100)]);
        assert!(plan(IdKind::Uid, &ok, 0, &alice, &f).unwrap().helper);
        let e = plan(IdKind::Uid, &ok, 500, &alice, &f).unwrap_err();
        assert!(
            matches!(
                e,
                Error::TooSmall {
                    id: 500,
                    inside: true,
                    ..
                }
            ),
            "{e}"
        );
        let not_own = Source::Explicit(vec![IdRange::new(0, 1000, 1), IdRange::new(1, 99999, 2)]);
        let e = plan(IdKind::Uid, &not_own, 0, &alice, &f).unwrap_err();
        assert!(matches!(e, Error::NotOwned { .. }), "{e}");
        // Without the caller's own id outside.
        let no_own = Source::Explicit(vec![IdRange::new(0, 100000, 10)]);
        let e = plan(IdKind::Uid, &no_own, 0, &alice, &f).unwrap_err();
        assert!(matches!(e, Error::TooSmall { inside: false, .. }), "{e}");
        // Root maps anything that maps its own id.
        let root = Source::Explicit(vec![IdRange::new(0, 0, 65536)]);
        assert!(
            !plan(IdKind::Uid, &root, 0, &caller(0, "root"), &f)
                .unwrap()
                .helper
        );
    }

    #[test]
    fn static_checks() {
        let r = |v: Vec<IdRange>| check(IdKind::Uid, &Source::Explicit(v), true);
        assert!(r(vec![IdRange::new(0, 0, 10)]).is_ok());
        assert!(matches!(
            r(vec![IdRange::new(0, 0, 0)]),
            Err(Error::InvalidRange { .. })
        ));
        assert!(matches!(r(vec![IdRange::new(0, u32::MAX - 1, 1)]), Ok(())));
        assert!(matches!(
            r(vec![IdRange::new(0, u32::MAX - 1, 2)]),
            Err(Error::InvalidRange { .. })
        ));
        assert!(matches!(
            r(vec![IdRange::new(0, 0, 10), IdRange::new(5, 100, 10)]),
            Err(Error::Overlap { side: "inside", .. })
        ));
        assert!(matches!(
            r(vec![IdRange::new(0, 0, 10), IdRange::new(50, 9, 10)]),
            Err(Error::Overlap {
                side: "outside",
                ..
            })
        ));
        let many = (0..341).map(|i| IdRange::new(i, i + 1000, 1)).collect();
        assert!(matches!(r(many), Err(Error::TooManyRanges { .. })));
        assert!(matches!(
            check(IdKind::Gid, &Source::Subordinate, false),
            Err(Error::NeedsUserNamespace { .. })
        ));
        assert!(check(IdKind::Gid, &Source::Single, false).is_ok());
    }

    #[test]
    fn a_missing_helper_names_its_package_and_a_failing_one_passes_its_message() {
        let map = Map {
            kind: IdKind::Gid,
            lines: vec![IdRange::new(0, 1000, 1), IdRange::new(1, 100000, 10)],
            helper: true,
        };
        let e = start_with(1, &map, &["/nonexistent"]).err().unwrap();
        assert!(
            matches!(
                e,
                Error::HelperMissing {
                    helper: "newgidmap",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("package `uidmap`"), "{e}");
        // The real helper refuses a process that is not the caller's, in a
        // namespace that is not new, with ids not granted.
        if HELPER_DIRS
            .iter()
            .any(|d| Path::new(d).join("newgidmap").is_file())
        {
            let e = write(1, &map).unwrap_err();
            let Error::HelperFailed { stderr, args, .. } = &e else {
                panic!("{e:?}");
            };
            assert!(stderr.contains("newgidmap"), "{e}");
            assert_eq!(args, "0 1000 1 1 100000 10");
            assert!(e.to_string().contains(stderr.trim_end()), "{e}");
        }
    }

    #[test]
    fn coverage_walks_adjacent_entries() {
        let g = [(100, 10), (110, 10)];
        assert!(covered(&IdRange::new(0, 105, 10), &g));
        assert!(!covered(&IdRange::new(0, 115, 10), &g));
        assert!(!covered(&IdRange::new(0, 99, 2), &g));
    }
}
