//! Per-process resource limits (`setrlimit`), applied to the program just
//! before it is executed.

use std::fmt;
use std::str::FromStr;

/// A per-process resource limit, as in `setrlimit(2)`.
///
/// rlimits apply to each process separately (a forked child starts with its
/// parent's limits and its own fresh usage), so they bound what one process
/// can do, not the sandbox as a whole; cgroup limits bound the whole tree.
/// `Nproc` is the exception that counts processes (and threads) by real
/// uid: since Linux 5.14 those of that uid in the process's user namespace
/// (so, in a sandbox with a user namespace of its own, the sandbox's), before
/// that every one of the uid on the host; and it does not bind real uid 0 on
/// the host, nor a process with `CAP_SYS_RESOURCE` or `CAP_SYS_ADMIN` there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Rlimit {
    /// `RLIMIT_AS`: address space, bytes.
    As,
    /// `RLIMIT_CORE`: core file size, bytes.
    Core,
    /// `RLIMIT_CPU`: CPU time, seconds (`SIGXCPU` at the soft limit,
    /// `SIGKILL` at the hard one).
    Cpu,
    /// `RLIMIT_DATA`: data segment, bytes.
    Data,
    /// `RLIMIT_FSIZE`: largest file the process may write, bytes (`SIGXFSZ`
    /// beyond it).
    Fsize,
    /// `RLIMIT_MEMLOCK`: locked memory, bytes.
    Memlock,
    /// `RLIMIT_MSGQUEUE`: POSIX message queue bytes.
    Msgqueue,
    /// `RLIMIT_NICE`: ceiling of the nice value (20 - limit).
    Nice,
    /// `RLIMIT_NOFILE`: one more than the highest file descriptor number.
    Nofile,
    /// `RLIMIT_NPROC`: processes of the real user id.
    Nproc,
    /// `RLIMIT_RTPRIO`: real-time priority ceiling.
    Rtprio,
    /// `RLIMIT_RTTIME`: real-time CPU time without blocking, microseconds.
    Rttime,
    /// `RLIMIT_SIGPENDING`: queued signals.
    Sigpending,
    /// `RLIMIT_STACK`: main thread stack, bytes.
    Stack,
}

/// Every limit, in `setrlimit` resource number order.
const ALL: [(Rlimit, &str, libc::__rlimit_resource_t); 14] = [
    (Rlimit::Cpu, "cpu", libc::RLIMIT_CPU),
    (Rlimit::Fsize, "fsize", libc::RLIMIT_FSIZE),
    (Rlimit::Data, "data", libc::RLIMIT_DATA),
    (Rlimit::Stack, "stack", libc::RLIMIT_STACK),
    (Rlimit::Core, "core", libc::RLIMIT_CORE),
    (Rlimit::Nproc, "nproc", libc::RLIMIT_NPROC),
    (Rlimit::Nofile, "nofile", libc::RLIMIT_NOFILE),
    (Rlimit::Memlock, "memlock", libc::RLIMIT_MEMLOCK),
    (Rlimit::As, "as", libc::RLIMIT_AS),
    (Rlimit::Sigpending, "sigpending", libc::RLIMIT_SIGPENDING),
    (Rlimit::Msgqueue, "msgqueue", libc::RLIMIT_MSGQUEUE),
    (Rlimit::Nice, "nice", libc::RLIMIT_NICE),
    (Rlimit::Rtprio, "rtprio", libc::RLIMIT_RTPRIO),
    (Rlimit::Rttime, "rttime", libc::RLIMIT_RTTIME),
];

impl Rlimit {
    /// The value meaning "no limit" (`RLIM_INFINITY`).
    pub const INFINITY: u64 = libc::RLIM64_INFINITY;

    /// Every limit.
    pub fn all() -> impl Iterator<Item = Rlimit> {
        ALL.iter().map(|e| e.0)
    }

    fn entry(self) -> &'static (Rlimit, &'static str, libc::__rlimit_resource_t) {
        ALL.iter()
            .find(|e| e.0 == self)
            .expect("every Rlimit variant is in ALL")
    }

    /// The lowercase name used by `prlimit(1)` and the command line (`nofile`).
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// The `RLIMIT_*` resource number.
    pub fn resource(self) -> libc::c_int {
        self.entry().2 as libc::c_int
    }
}

impl fmt::Display for Rlimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown rlimit name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown resource limit {0:?} (known: cpu, fsize, data, stack, core, nproc, nofile, memlock, as, sigpending, msgqueue, nice, rtprio, rttime)"
)]
pub struct ParseRlimitError(pub String);

impl FromStr for Rlimit {
    type Err = ParseRlimitError;

    /// Accepts the `prlimit` name in any case, with or without `RLIMIT_`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let name = lower.strip_prefix("rlimit_").unwrap_or(&lower);
        ALL.iter()
            .find(|e| e.1 == name)
            .map(|e| e.0)
            .ok_or_else(|| ParseRlimitError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_numbers_are_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for r in Rlimit::all() {
            assert_eq!(r.name().parse::<Rlimit>(), Ok(r));
            assert_eq!(r.to_string().to_uppercase().parse::<Rlimit>(), Ok(r));
            assert!(seen.insert(r.resource()), "{r} shares a resource number");
        }
        assert_eq!("RLIMIT_NOFILE".parse::<Rlimit>(), Ok(Rlimit::Nofile));
        assert_eq!(
            Rlimit::Nofile.resource(),
            libc::RLIMIT_NOFILE as libc::c_int
        );
        assert!("files".parse::<Rlimit>().is_err());
    }
}
