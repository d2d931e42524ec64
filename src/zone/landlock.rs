//! Landlock, child-zone half: each program process builds its ruleset from
//! the policy lowered once by the parent, after `pivot_root`, and restricts
//! itself.

use core::ffi::c_int;

use crate::landlock::{
    INDEX_CREATE, INDEX_RESTRICT, LANDLOCK_RULE_NET_PORT, LANDLOCK_RULE_PATH_BENEATH,
    PathBeneathAttr, RulesetAttr, SpawnLandlock,
};
use crate::sys::raw::{self, Errno, sc, syscall6};

/// Creates the ruleset, adds every rule (paths resolved from the
/// current root, following symbolic links) and restricts the calling
/// process. On failure: the index of the rule (paths first, then ports;
/// [`INDEX_CREATE`], [`INDEX_RESTRICT`]) and the kernel's answer. A rule
/// marked optional whose path cannot be opened is left out.
///
/// Child zone: no allocation, no panics. Needs `no_new_privs` or
/// `CAP_SYS_ADMIN`.
pub(crate) fn apply_in_child(ll: &SpawnLandlock) -> Result<(), (u32, Errno)> {
    if !ll.enforce {
        return Ok(());
    }
    // SAFETY: the attribute is a live repr(C) struct of the size given;
    // the call only reads it and returns a new descriptor (O_CLOEXEC).
    let fd = unsafe {
        sc!(
            libc::SYS_landlock_create_ruleset,
            &ll.attr as *const RulesetAttr,
            core::mem::size_of::<RulesetAttr>(),
            0usize
        )
    }
    .map_err(|e| (INDEX_CREATE, e))? as c_int;
    // SAFETY: the ruleset descriptor was just created, and nothing else
    // owns it.
    let fd = unsafe { raw::Fd::from_raw(fd) };
    add_rules_and_restrict(ll, fd.raw())
}

fn add_rules_and_restrict(ll: &SpawnLandlock, fd: c_int) -> Result<(), (u32, Errno)> {
    for (i, rule) in ll.paths.iter().enumerate() {
        let index = i as u32;
        let pfd = match raw::openat(
            libc::AT_FDCWD,
            &rule.path,
            libc::O_PATH | libc::O_CLOEXEC,
            0,
        ) {
            Ok(p) => p,
            Err(_) if rule.optional => continue,
            Err(e) => return Err((index, e)),
        };
        // SAFETY: all-zero is a valid stat to be overwritten.
        let mut st: libc::stat = unsafe { core::mem::zeroed() };
        let access = match raw::fstatat(pfd.raw(), c"", &mut st, libc::AT_EMPTY_PATH) {
            Ok(_) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => rule.dir_access,
            Ok(_) => rule.file_access,
            Err(e) => return Err((index, e)),
        };
        let r = if access == 0 {
            Ok(0)
        } else {
            let attr = PathBeneathAttr {
                allowed_access: access,
                parent_fd: pfd.raw(),
            };
            // SAFETY: attr is a live struct in the kernel's packed
            // layout; the call reads it and the descriptors named.
            unsafe {
                sc!(
                    libc::SYS_landlock_add_rule,
                    fd,
                    LANDLOCK_RULE_PATH_BENEATH,
                    &attr as *const PathBeneathAttr,
                    0usize
                )
            }
        };
        drop(pfd);
        r.map_err(|e| (index, e))?;
    }
    let base = ll.paths.len();
    for (j, port) in ll.ports.iter().enumerate() {
        let index = base.saturating_add(j) as u32;
        // SAFETY: port is a live repr(C) struct of the kernel's layout;
        // the call only reads it.
        unsafe {
            sc!(
                libc::SYS_landlock_add_rule,
                fd,
                LANDLOCK_RULE_NET_PORT,
                port as *const crate::landlock::NetPortAttr,
                0usize
            )
        }
        .map_err(|e| (index, e))?;
    }
    crate::landlock::restrict_self(fd).map_err(|e| (INDEX_RESTRICT, e))
}
