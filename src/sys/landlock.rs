//! Landlock (Linux 5.13): raw wrappers and the kernel's structures.

use core::ffi::c_int;

use super::raw::{Errno, Fd, SysResult, new_fd, sc, syscall6};

/// `struct landlock_ruleset_attr` (Linux 6.12 layout). An older kernel
/// accepts it as long as the fields it does not know are zero.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LandlockRulesetAttr {
    /// `LANDLOCK_ACCESS_FS_*` rights the ruleset handles.
    pub handled_access_fs: u64,
    /// `LANDLOCK_ACCESS_NET_*` rights the ruleset handles (ABI 4).
    pub handled_access_net: u64,
    /// `LANDLOCK_SCOPE_*` scopes (ABI 6).
    pub scoped: u64,
}

/// `struct landlock_path_beneath_attr` (packed in the kernel's ABI).
#[repr(C, packed)]
#[derive(Clone, Copy)]
pub struct LandlockPathBeneathAttr {
    /// The rights granted beneath `parent_fd`.
    pub allowed_access: u64,
    /// A descriptor (`O_PATH` is enough) of the file or directory.
    pub parent_fd: c_int,
}

/// `struct landlock_net_port_attr` (ABI 4).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LandlockNetPortAttr {
    /// The rights granted on `port`.
    pub allowed_access: u64,
    /// The port, in host byte order.
    pub port: u64,
}

/// `landlock_restrict_self` flag restricting every thread of the process
/// (ABI 8, Linux 7.0).
pub const LANDLOCK_RESTRICT_SELF_TSYNC: u32 = 1 << 3;

/// `landlock_create_ruleset(attr, sizeof *attr, 0)`: a new ruleset
/// descriptor (close-on-exec), owned by the caller.
pub fn landlock_create_ruleset(attr: &LandlockRulesetAttr) -> Result<Fd, Errno> {
    // SAFETY: attr is a live repr(C) struct of the size given; the call only
    // reads it and returns a new descriptor.
    let r = unsafe {
        sc!(
            libc::SYS_landlock_create_ruleset,
            attr as *const LandlockRulesetAttr,
            core::mem::size_of::<LandlockRulesetAttr>(),
            0usize
        )
    };
    // SAFETY: on success the call created the descriptor in this process.
    unsafe { new_fd(r) }
}

/// `landlock_add_rule(ruleset, LANDLOCK_RULE_PATH_BENEATH, attr, 0)`.
pub fn landlock_add_path_rule(ruleset: c_int, attr: &LandlockPathBeneathAttr) -> SysResult {
    const LANDLOCK_RULE_PATH_BENEATH: usize = 1;
    // SAFETY: attr is a live struct in the kernel's packed layout; the call
    // reads it and uses the descriptors named, closing neither.
    unsafe {
        sc!(
            libc::SYS_landlock_add_rule,
            ruleset,
            LANDLOCK_RULE_PATH_BENEATH,
            attr as *const LandlockPathBeneathAttr,
            0usize
        )
    }
}

/// `landlock_add_rule(ruleset, LANDLOCK_RULE_NET_PORT, attr, 0)` (ABI 4).
pub fn landlock_add_net_rule(ruleset: c_int, attr: &LandlockNetPortAttr) -> SysResult {
    const LANDLOCK_RULE_NET_PORT: usize = 2;
    // SAFETY: attr is a live repr(C) struct of the kernel's layout; the call
    // only reads it and uses the ruleset descriptor, without closing it.
    unsafe {
        sc!(
            libc::SYS_landlock_add_rule,
            ruleset,
            LANDLOCK_RULE_NET_PORT,
            attr as *const LandlockNetPortAttr,
            0usize
        )
    }
}

/// `landlock_restrict_self(ruleset, flags)`: enforces the ruleset on the
/// calling thread (every thread with [`LANDLOCK_RESTRICT_SELF_TSYNC`]) and
/// what it later creates. Irreversible. Needs `no_new_privs` or
/// `CAP_SYS_ADMIN`.
pub fn landlock_restrict_self(ruleset: c_int, flags: u32) -> SysResult {
    // SAFETY: the call takes a descriptor and a flag word and reads no user
    // memory; a bad descriptor is reported as EBADF.
    unsafe { sc!(libc::SYS_landlock_restrict_self, ruleset, flags) }
}
