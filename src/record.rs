//! The fixed-size record the sandbox's processes send to the parent.
//!
//! One record per `SOCK_SEQPACKET` message, so a record is never split or
//! merged. The supervisor reports `Running` once the program has been
//! executed (with the program's pid as the parent sees it), an `Error` if a
//! setup step failed, and finally `Exit` with the program's wait status.

/// Bytes of free-form detail (e.g. a script's interpreter path).
pub(crate) const DETAIL_LEN: usize = 240;

/// Record kinds (1 is retired).
pub(crate) const KIND_ERROR: u32 = 2;
pub(crate) const KIND_RUNNING: u32 = 3;
pub(crate) const KIND_EXIT: u32 = 4;
/// The program process's pseudo-terminal master rides along as
/// `SCM_RIGHTS`, before `Running` (or an `Error`).
pub(crate) const KIND_PTY: u32 = 5;
/// The program process's seccomp listener rides along as `SCM_RIGHTS`,
/// before `Running` (or an `Error`); without a descriptor, `errno` says why
/// the filter was installed without one (see `crate::denials`).
pub(crate) const KIND_LISTENER: u32 = 6;

/// `flags` bit: execve said ENOENT although the file exists, i.e. its
/// interpreter is missing; `detail` holds the interpreter path when known.
pub(crate) const FLAG_INTERPRETER: u32 = 1;

/// `flags` bit on an `Exit` record: the sandbox's wall-clock timeout expired
/// and the supervisor killed it.
pub(crate) const FLAG_TIMED_OUT: u32 = 2;

/// `flags` bit on a `Running` record: the program's pid is the pid of the
/// record's `SCM_CREDENTIALS` (translated by the kernel into the parent's pid
/// namespace). Without it, `value` holds the pid, or 0 if it is unknown.
pub(crate) const FLAG_PID_IN_CREDENTIALS: u32 = 8;

/// `flags` bit on an `Exit` record: the caller asked for the sandbox to be
/// killed ([`REQUEST_KILL`]) and the supervisor did.
pub(crate) const FLAG_KILLED: u32 = 4;

/// A request the caller sends the supervisor on the report channel (one
/// byte): kill the sandbox and report.
pub(crate) const REQUEST_KILL: u8 = b'K';
/// Caller to supervisor, during setup only: the caller has written the
/// supervisor's id maps (ranges), and it may go on.
pub(crate) const REQUEST_MAPS_WRITTEN: u8 = b'M';

/// A request the caller sends the supervisor on the report channel, as two
/// bytes: this byte, then a signal number (1 to 64) for the supervisor to
/// send to the program's process group. `SIGKILL` means [`REQUEST_KILL`].
/// The caller never signals the supervisor itself for this: a `SIGSTOP`
/// would stop it, and with it the limits and the lifeline it watches.
pub(crate) const REQUEST_SIGNAL: u8 = b'S';

/// A request to a container's supervisor on its control channel: run a
/// program. 24 bytes: this byte, seven of padding, the address of the
/// exec's plan (valid in the supervisor, which shares the caller's memory)
/// as a native-endian `u64`, the number of program descriptors that follow
/// the exec channel in the message's `SCM_RIGHTS` and the lowest number
/// the supervisor may give them (above every target), each a `u32`.
pub(crate) const REQUEST_EXEC: u8 = b'E';

/// Size of an exec request.
pub(crate) const EXEC_REQUEST_LEN: usize = 24;

/// A request to a container's supervisor: stop. 16 bytes: this byte, the
/// stop signal (0: `SIGTERM`), six of padding, and the grace period in
/// nanoseconds as a native-endian `u64` (0: kill at once).
pub(crate) const REQUEST_STOP: u8 = b'T';

/// On the network channel (see `crate::net`): the message, one byte, that
/// carries a socket the supervisor opened in the sandbox's network
/// namespace as `SCM_RIGHTS`, before `Running`, in the plan's order.
pub(crate) const NET_SOCKET: u8 = b'N';

/// A request on the network channel: two bytes, this one and 0 for an
/// IPv4 or 1 for an IPv6 stream socket, created unbound and unconnected in
/// the sandbox's network namespace. The answer is 8 bytes: [`NET_SOCKET`]
/// and the socket as `SCM_RIGHTS`, or [`NET_FAILED`], three bytes of
/// padding and the errno as a native-endian `i32`.
pub(crate) const REQUEST_NET_SOCKET: u8 = b'n';

/// The answer to a [`REQUEST_NET_SOCKET`] that failed.
pub(crate) const NET_FAILED: u8 = b'F';

/// Size of a stop request.
pub(crate) const STOP_REQUEST_LEN: usize = 16;

/// Encodes an exec request.
pub(crate) fn exec_request(plan: u64, fds: u32, min_fd: u32) -> [u8; EXEC_REQUEST_LEN] {
    let mut b = [0u8; EXEC_REQUEST_LEN];
    b[0] = REQUEST_EXEC;
    b[8..16].copy_from_slice(&plan.to_ne_bytes());
    b[16..20].copy_from_slice(&fds.to_ne_bytes());
    b[20..24].copy_from_slice(&min_fd.to_ne_bytes());
    b
}

/// Encodes a stop request.
pub(crate) fn stop_request(grace_ns: u64, signal: u8) -> [u8; STOP_REQUEST_LEN] {
    let mut b = [0u8; STOP_REQUEST_LEN];
    b[0] = REQUEST_STOP;
    b[1] = signal;
    b[8..16].copy_from_slice(&grace_ns.to_ne_bytes());
    b
}

/// A native-endian `u64` at `at` in `b` (0 if out of range); child-zone
/// safe.
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(at..at.wrapping_add(8)) {
        w.copy_from_slice(s);
    }
    u64::from_ne_bytes(w)
}

/// A native-endian `u32` at `at` in `b` (0 if out of range); child-zone
/// safe.
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at..at.wrapping_add(4)) {
        w.copy_from_slice(s);
    }
    u32::from_ne_bytes(w)
}

/// Size of an encoded record's seven 32-bit fields.
const HEADER_LEN: usize = 7 * 4;

/// Size of an encoded record.
pub(crate) const RECORD_LEN: usize = HEADER_LEN + DETAIL_LEN;

/// A report record, sent as its seven 32-bit fields followed by `detail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub kind: u32,
    pub stage: u32,
    pub index: u32,
    pub errno: i32,
    pub value: i32,
    pub flags: u32,
    pub detail_len: u32,
    pub detail: [u8; DETAIL_LEN],
}

impl Record {
    pub(crate) const fn new(kind: u32) -> Record {
        Record {
            kind,
            stage: 0,
            index: 0,
            errno: 0,
            value: 0,
            flags: 0,
            detail_len: 0,
            detail: [0; DETAIL_LEN],
        }
    }

    /// The record's bytes, for sending: the fields in order, native-endian,
    /// then `detail`. Plain copies into a stack array, so the child zone
    /// may call it.
    pub(crate) fn encode(&self) -> [u8; RECORD_LEN] {
        let mut out = [0u8; RECORD_LEN];
        let words = [
            self.kind,
            self.stage,
            self.index,
            self.errno as u32,
            self.value as u32,
            self.flags,
            self.detail_len,
        ];
        let (head, tail) = out.split_at_mut(HEADER_LEN);
        for (dst, w) in head.chunks_exact_mut(4).zip(words) {
            dst.copy_from_slice(&w.to_ne_bytes());
        }
        tail.copy_from_slice(&self.detail);
        out
    }

    /// The valid part of `detail`.
    pub(crate) fn detail(&self) -> &[u8] {
        let n = (self.detail_len as usize).min(DETAIL_LEN);
        self.detail.get(..n).unwrap_or(&[])
    }

    /// Decodes a received message. Anything but a whole record of a known
    /// kind is rejected: the bytes come from a process that has already run
    /// code the caller chose not to trust.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Record> {
        if bytes.len() != RECORD_LEN {
            return None;
        }
        let word = |i: usize| -> u32 {
            let mut w = [0u8; 4];
            w.copy_from_slice(&bytes[i * 4..i * 4 + 4]);
            u32::from_ne_bytes(w)
        };
        let mut r = Record::new(word(0));
        if !(KIND_ERROR..=KIND_LISTENER).contains(&r.kind) {
            return None;
        }
        r.stage = word(1);
        r.index = word(2);
        r.errno = word(3) as i32;
        r.value = word(4) as i32;
        r.flags = word(5);
        r.detail_len = word(6);
        if r.detail_len as usize > DETAIL_LEN {
            return None;
        }
        r.detail.copy_from_slice(&bytes[HEADER_LEN..]);
        Some(r)
    }
}

/// Accounting the supervisor collects for an `Exit` record: wall time from
/// just before the program process was created until it was reaped, and the
/// resource usage of every process it reaped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ExitInfo {
    pub wall_ns: u64,
    pub utime_us: u64,
    pub stime_us: u64,
    pub maxrss_kib: u64,
}

impl ExitInfo {
    pub(crate) fn encode(&self, rec: &mut Record) {
        let vals = [self.wall_ns, self.utime_us, self.stime_us, self.maxrss_kib];
        for (dst, v) in rec.detail.chunks_exact_mut(8).zip(vals) {
            dst.copy_from_slice(&v.to_ne_bytes());
        }
        rec.detail_len = 32;
    }

    pub(crate) fn decode(rec: &Record) -> Option<ExitInfo> {
        let d = rec.detail();
        if d.len() < 32 {
            return None;
        }
        let mut v = [0u64; 4];
        for (slot, chunk) in v.iter_mut().zip(d.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *slot = u64::from_ne_bytes(b);
        }
        Some(ExitInfo {
            wall_ns: v[0],
            utime_us: v[1],
            stime_us: v[2],
            maxrss_kib: v[3],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut r = Record::new(KIND_ERROR);
        r.stage = 24;
        r.index = 3;
        r.errno = 2;
        r.flags = FLAG_INTERPRETER;
        r.detail[..9].copy_from_slice(b"/bin/nope");
        r.detail_len = 9;
        let d = Record::decode(&r.encode()).unwrap();
        assert_eq!(d, r);
        assert_eq!(d.detail(), b"/bin/nope");
    }

    #[test]
    fn exit_info_round_trip() {
        let info = ExitInfo {
            wall_ns: 1,
            utime_us: u64::MAX,
            stime_us: 3,
            maxrss_kib: 4,
        };
        let mut r = Record::new(KIND_EXIT);
        info.encode(&mut r);
        let d = Record::decode(&r.encode()).unwrap();
        assert_eq!(ExitInfo::decode(&d), Some(info));
        assert_eq!(ExitInfo::decode(&Record::new(KIND_EXIT)), None);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Record::decode(&[]).is_none());
        assert!(Record::decode(&[0u8; RECORD_LEN - 1]).is_none());
        let mut r = Record::new(KIND_EXIT);
        r.detail_len = DETAIL_LEN as u32 + 1;
        assert!(Record::decode(&r.encode()).is_none());
        let r = Record::new(99);
        assert!(Record::decode(&r.encode()).is_none());
    }
}
