//! Every question asked of the running kernel, each asked once per process
//! and cached.
//!
//! A probe only asks: it creates nothing and changes nothing. Each answer is
//! kept in an atomic, so a spawn pays for a probe at most once per process
//! (twice, should two threads ask at once), and never waits for another
//! thread's probe: a process forked while one ran would wait for good. Where a feature's absence is
//! told by a specific errno, only that errno counts as absence; any other
//! answer is taken as presence, so the feature's real use reports the real
//! error.
//!
//! One probe lives elsewhere: whether a program enters a new time namespace
//! at exec needs a whole sandbox, so it is in `spawn::time_ns`.

#[cfg(feature = "landlock")]
use std::sync::atomic::AtomicI32;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use crate::sys::raw::{self, Errno};

/// 0 = not probed, 1 = yes, 2 = no.
static CLONE3: AtomicU8 = AtomicU8::new(0);

/// Whether `clone3(2)` is usable (Linux 5.3, and not answered with `ENOSYS`
/// by a seccomp filter, as Docker's and podman's default profiles do).
pub(crate) fn clone3() -> bool {
    match CLONE3.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let enosys = raw::clone3_probe() == Errno(libc::ENOSYS);
            CLONE3.store(if enosys { 2 } else { 1 }, Ordering::Relaxed);
            !enosys
        }
    }
}

/// The kernel release, `major << 32 | minor`, or `u64::MAX` before it has
/// been read.
static VERSION: AtomicU64 = AtomicU64::new(u64::MAX);

/// The running kernel's release as (major, minor); (0, 0) if it cannot be
/// read.
pub(crate) fn kernel_version() -> (u32, u32) {
    let mut v = VERSION.load(Ordering::Relaxed);
    if v == u64::MAX {
        let (major, minor) = match nix::sys::utsname::uname() {
            Ok(u) => parse_release(&u.release().to_string_lossy()),
            Err(_) => (0, 0),
        };
        v = u64::from(major) << 32 | u64::from(minor);
        VERSION.store(v, Ordering::Relaxed);
    }
    ((v >> 32) as u32, v as u32)
}

/// "6.12.48+deb13-amd64" -> (6, 12).
fn parse_release(release: &str) -> (u32, u32) {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Whether the running kernel's release is at least `major.minor`.
pub(crate) fn kernel_at_least(major: u32, minor: u32) -> bool {
    kernel_version() >= (major, minor)
}

/// Whether `clone3` accepts `CLONE_INTO_CGROUP` (Linux 5.7), from the
/// kernel release.
pub(crate) fn clone_into_cgroup() -> bool {
    kernel_at_least(5, 7)
}

/// The kernel's answer to the Landlock version query.
#[cfg(feature = "landlock")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LandlockStatus {
    /// Landlock is enforced, with this ABI version.
    Version(u32),
    /// Built in but not enabled at boot (`EOPNOTSUPP`).
    NotEnabled,
    /// Not built in (`ENOSYS`, or anything else).
    NotImplemented,
}

#[cfg(feature = "landlock")]
const ABI_UNKNOWN: i32 = i32::MIN;
#[cfg(feature = "landlock")]
const ABI_NOT_ENABLED: i32 = -1;
#[cfg(feature = "landlock")]
const ABI_NOT_IMPLEMENTED: i32 = -2;
#[cfg(feature = "landlock")]
static LANDLOCK_ABI: AtomicI32 = AtomicI32::new(ABI_UNKNOWN);

/// The running kernel's Landlock ABI (Linux 5.13+).
#[cfg(feature = "landlock")]
pub(crate) fn landlock_abi() -> LandlockStatus {
    let mut v = LANDLOCK_ABI.load(Ordering::Relaxed);
    if v == ABI_UNKNOWN {
        v = match raw::landlock_abi_version() {
            Ok(n) => i32::try_from(n).unwrap_or(i32::MAX),
            Err(Errno(libc::EOPNOTSUPP)) => ABI_NOT_ENABLED,
            Err(_) => ABI_NOT_IMPLEMENTED,
        };
        LANDLOCK_ABI.store(v, Ordering::Relaxed);
    }
    match v {
        ABI_NOT_ENABLED => LandlockStatus::NotEnabled,
        n if n > 0 => LandlockStatus::Version(n as u32),
        _ => LandlockStatus::NotImplemented,
    }
}

/// Whether the kernel supports the seccomp return action `action` (one of
/// the `SECCOMP_RET_*` values, action bits only), asked with
/// `SECCOMP_GET_ACTION_AVAIL` (Linux 4.14). `Err` carries the kernel's
/// answer: `EOPNOTSUPP` for an unknown action, anything else when seccomp
/// itself is missing or blocked. Not cached: a policy asks once, when it is
/// compiled.
#[cfg(feature = "seccomp")]
pub(crate) fn seccomp_action(action: u32) -> Result<(), Errno> {
    raw::seccomp_action_available(action).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_parse() {
        assert_eq!(parse_release("6.12.48+deb13-amd64"), (6, 12));
        assert_eq!(parse_release("5.4.0-150-generic"), (5, 4));
        assert_eq!(parse_release("7.0"), (7, 0));
        assert_eq!(parse_release("garbage"), (0, 0));
    }

    #[test]
    fn the_running_kernel_answers() {
        let (major, _) = kernel_version();
        assert!(major >= 5, "stockade needs Linux 5.x or later");
        // Stable across calls: the answer is cached.
        assert_eq!(clone3(), clone3());
        #[cfg(feature = "landlock")]
        assert_eq!(landlock_abi(), landlock_abi());
    }
}
