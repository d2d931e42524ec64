//! The mount API (Linux 5.2; `mount_setattr` 5.12): raw wrappers, as
//! `raw`'s, for building the sandbox's root.

use core::ffi::{CStr, c_int, c_uint};

use super::raw::{Errno, Fd, SysResult, new_fd, sc, syscall6};

/// `OPEN_TREE_CLONE`.
pub const OPEN_TREE_CLONE: c_uint = 1;
/// `AT_RECURSIVE`.
pub const AT_RECURSIVE: c_uint = 0x8000;
/// `FSOPEN_CLOEXEC`.
pub const FSOPEN_CLOEXEC: c_uint = 1;
/// `FSCONFIG_SET_FLAG`.
pub const FSCONFIG_SET_FLAG: c_uint = 0;
/// `FSCONFIG_SET_STRING`.
pub const FSCONFIG_SET_STRING: c_uint = 1;
/// `FSCONFIG_CMD_CREATE`.
pub const FSCONFIG_CMD_CREATE: c_uint = 6;
/// `FSMOUNT_CLOEXEC`.
pub const FSMOUNT_CLOEXEC: c_uint = 1;
/// `MOVE_MOUNT_F_EMPTY_PATH`.
pub const MOVE_MOUNT_F_EMPTY_PATH: c_uint = 0x4;
/// `MOVE_MOUNT_T_EMPTY_PATH`.
pub const MOVE_MOUNT_T_EMPTY_PATH: c_uint = 0x40;
/// `MOUNT_ATTR_RDONLY`.
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
/// `MOUNT_ATTR_NOSUID`.
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
/// `MOUNT_ATTR_NODEV`.
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
/// `MOUNT_ATTR_NOEXEC`.
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// `MOUNT_ATTR_IDMAP` (Linux 5.12).
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// `struct mount_attr` (`MOUNT_ATTR_SIZE_VER0`).
#[repr(C)]
pub struct MountAttr {
    /// Attributes to set.
    pub attr_set: u64,
    /// Attributes to clear.
    pub attr_clr: u64,
    /// Propagation type.
    pub propagation: u64,
    /// User namespace fd for idmapped mounts.
    pub userns_fd: u64,
}

/// `open_tree(2)`.
pub fn open_tree(dirfd: c_int, path: &CStr, flags: c_uint) -> Result<Fd, Errno> {
    // SAFETY: path is NUL-terminated.
    let r = unsafe { sc!(libc::SYS_open_tree, dirfd, path.as_ptr(), flags) };
    // SAFETY: open_tree returns a new descriptor.
    unsafe { new_fd(r) }
}

/// `move_mount(2)`.
pub fn move_mount(
    from_dfd: c_int,
    from: &CStr,
    to_dfd: c_int,
    to: &CStr,
    flags: c_uint,
) -> SysResult {
    // SAFETY: both paths are NUL-terminated.
    unsafe {
        sc!(
            libc::SYS_move_mount,
            from_dfd,
            from.as_ptr(),
            to_dfd,
            to.as_ptr(),
            flags
        )
    }
}

/// `fsopen(2)`.
pub fn fsopen(fstype: &CStr, flags: c_uint) -> Result<Fd, Errno> {
    // SAFETY: fstype is NUL-terminated.
    let r = unsafe { sc!(libc::SYS_fsopen, fstype.as_ptr(), flags) };
    // SAFETY: fsopen returns a new descriptor.
    unsafe { new_fd(r) }
}

/// `fsconfig(2)` with a string (or no) value.
pub fn fsconfig(fd: c_int, cmd: c_uint, key: Option<&CStr>, value: Option<&CStr>) -> SysResult {
    let p = |s: Option<&CStr>| s.map_or(core::ptr::null(), CStr::as_ptr);
    // SAFETY: key and value are NUL-terminated or null, as the command allows.
    unsafe { sc!(libc::SYS_fsconfig, fd, cmd, p(key), p(value), 0) }
}

/// `fsmount(2)`.
pub fn fsmount(fd: c_int, flags: c_uint, attrs: u64) -> Result<Fd, Errno> {
    // SAFETY: integer arguments only.
    let r = unsafe { sc!(libc::SYS_fsmount, fd, flags, attrs) };
    // SAFETY: fsmount returns a new descriptor.
    unsafe { new_fd(r) }
}

/// `mount_setattr(2)`.
pub fn mount_setattr(dirfd: c_int, path: &CStr, flags: c_uint, attr: &MountAttr) -> SysResult {
    // SAFETY: path is NUL-terminated; attr is a live struct of the size passed.
    unsafe {
        sc!(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags,
            attr as *const MountAttr,
            core::mem::size_of::<MountAttr>()
        )
    }
}
