//! Keeping a root caller's program from the host's files that only root
//! (or another user) may read.
//!
//! A root caller's sandbox maps uid 0 inside to the host's uid 0 (the
//! default 1:1 mapping), and a process that owns a file needs no capability
//! to read it: without more, every file of the system view that others may
//! not read (`/etc/.pwd.lock`, `/etc/security/opasswd`, a root-only
//! directory under `/usr`) would be readable to the program. So a root
//! caller gets the host's system directories as *idmapped* mounts (Linux
//! 5.12) whose mapping holds only the overflow id (`nobody`, 65534): every
//! other owner, the host's root first of all, is unmapped there, so files
//! appear owned by `nobody`, and only their "others" permission bits apply,
//! whatever capability the program holds (the kernel grants none over an
//! unmapped owner). That is what an unprivileged caller's sandbox sees.
//!
//! Only a process with `CAP_SYS_ADMIN` in the initial user namespace may
//! idmap a mount of a host filesystem, so the caller makes the detached,
//! idmapped trees ([`SystemTrees`]) and the sandbox's supervisor (or the
//! template builder) attaches them. Where that cannot be done (a filesystem
//! without idmapped mount support, such as 9p or NFS; a caller without `CAP_SYS_ADMIN` in the initial user namespace,
//! as in most containers), the plan masks instead every entry of `/etc`
//! that others may not read ([`closed_to_others`]): walking `/usr` and
//! `/lib*` too would cost a policy hundreds of milliseconds, so such files
//! there stay readable to a root caller's program. The enforcement report
//! says which holds.
//!
//! The caller's own sources (`bind_ro`, `bind_rw`, `overlay`, `root_dir`)
//! are not idmapped: a root caller's program keeps root's access there and
//! owns what it writes. Beneath those that reach into `/etc`, the entries
//! others may not read are masked with the host's secrets (see
//! `fs::plan`).

use std::ffi::CStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::SYSTEM_SLOTS;
use crate::sys::mount::{self, MountAttr};
use crate::sys::raw::{Errno, Fd};

/// A detached, read-only, idmapped (only the overflow ids mapped) recursive
/// clone of the host directory `src`.
fn clone_idmapped(src: &CStr) -> Result<Fd, Errno> {
    use std::os::fd::AsRawFd;
    let userns = crate::zone::userns::nobody_only()?;
    let flags = mount::OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | mount::AT_RECURSIVE;
    let tree = mount::open_tree(libc::AT_FDCWD, src, flags)?;
    let attr = MountAttr {
        attr_set: mount::MOUNT_ATTR_IDMAP
            | mount::MOUNT_ATTR_RDONLY
            | mount::MOUNT_ATTR_NOSUID
            | mount::MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    let flags = libc::AT_EMPTY_PATH as u32 | mount::AT_RECURSIVE;
    mount::mount_setattr(tree.raw(), c"", flags, &attr)?;
    Ok(tree)
}

/// Whether this process can give `src` to a sandbox idmapped. Only the
/// kernel's refusals count as "no" (the kernel, the filesystem or a submount
/// does not support it, or the caller lacks the privilege); any other
/// failure is taken as "yes", so that the spawn that needs the mount reports
/// it.
///
/// Making a tree to find out costs about a tenth of a millisecond per
/// directory (most of it in discarding it), so the answer is kept for the
/// life of the process, per directory and per identity of the directory
/// (device and inode): a policy compiled later asks again only if another
/// filesystem has been mounted there.
pub(crate) fn supported(src: &CStr) -> bool {
    use std::os::unix::fs::MetadataExt;
    use std::sync::Mutex;
    /// (directory, device, inode, answer).
    type Seen = Vec<(std::ffi::CString, u64, u64, bool)>;
    static SEEN: Mutex<Seen> = Mutex::new(Vec::new());
    let path = Path::new(std::ffi::OsStr::from_bytes(src.to_bytes()));
    let id = std::fs::metadata(path).map(|m| (m.dev(), m.ino())).ok();
    // Never wait for the lock (a fork taken while another thread held it
    // would wait forever): without it, ask the kernel.
    if let (Some((dev, ino)), Ok(seen)) = (id, SEEN.try_lock()) {
        if let Some(&(.., yes)) = seen
            .iter()
            .find(|(p, d, i, _)| p.as_c_str() == src && (*d, *i) == (dev, ino))
        {
            return yes;
        }
    }
    let yes = match clone_idmapped(src) {
        Ok(_) => true,
        Err(Errno(e)) => !matches!(
            e,
            libc::EINVAL
                | libc::EPERM
                | libc::EACCES
                | libc::ENOSYS
                | libc::EOPNOTSUPP
                | libc::ENOSPC
                | libc::EUSERS
        ),
    };
    if let (Some((dev, ino)), Ok(mut seen)) = (id, SEEN.try_lock()) {
        seen.retain(|(p, ..)| p.as_c_str() != src);
        seen.push((src.to_owned(), dev, ino, yes));
    }
    yes
}

/// The idmapped trees of a plan's system view, made by a root caller for one
/// supervisor or template builder, which attaches them (see the module
/// documentation). Dropping it closes the caller's descriptors, which is
/// harmless once they are attached.
#[derive(Debug)]
pub(crate) struct SystemTrees {
    _trees: Vec<Fd>,
    raw: [libc::c_int; SYSTEM_SLOTS],
}

impl SystemTrees {
    /// Makes the trees of the system binds a root caller gets idmapped
    /// (slot, host directory: see `MountPlan::idmapped_system_binds`);
    /// `None` when there are none.
    pub(crate) fn prepare<'a>(
        binds: impl IntoIterator<Item = (usize, &'a CStr)>,
    ) -> Result<Option<SystemTrees>, Errno> {
        let mut raw = [-1; SYSTEM_SLOTS];
        let mut trees = Vec::new();
        for (slot, src) in binds {
            let slot = raw.get_mut(slot).ok_or(Errno(libc::EINVAL))?;
            let tree = clone_idmapped(src)?;
            *slot = tree.raw();
            trees.push(tree);
        }
        Ok((!trees.is_empty()).then_some(SystemTrees { _trees: trees, raw }))
    }

    /// The descriptors, by slot (-1: none).
    pub(crate) fn raw(&self) -> [libc::c_int; SYSTEM_SLOTS] {
        self.raw
    }
}

/// Whether `mode` lets others read a file, or read and search a directory.
fn others_may_read(mode: u32, dir: bool) -> bool {
    let r = mode & 0o004 != 0;
    if dir { r && mode & 0o001 != 0 } else { r }
}

/// Every entry beneath `dir` that others may not read (or, for a
/// directory, list and search), whether it is a directory, sorted; entries
/// beneath one listed are not. Symbolic links are not followed.
pub(crate) fn closed_to_others(dir: &Path) -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            let ft = md.file_type();
            if ft.is_symlink() {
                continue;
            }
            let is_dir = ft.is_dir();
            if !others_may_read(md.permissions().mode(), is_dir) {
                out.push((e.path(), is_dir));
            } else if is_dir {
                pending.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_others_cannot_read_is_listed() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path();
        let mode = |path: &Path, m: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(m)).unwrap()
        };
        std::fs::write(p.join("public"), "").unwrap();
        std::fs::write(p.join("private"), "").unwrap();
        mode(&p.join("private"), 0o600);
        std::fs::create_dir(p.join("closed")).unwrap();
        std::fs::write(p.join("closed/inside"), "").unwrap();
        mode(&p.join("closed/inside"), 0o600);
        mode(&p.join("closed"), 0o700);
        std::fs::create_dir(p.join("unlisted")).unwrap();
        mode(&p.join("unlisted"), 0o711);
        std::fs::create_dir_all(p.join("open/deeper")).unwrap();
        std::fs::write(p.join("open/deeper/key"), "").unwrap();
        mode(&p.join("open/deeper/key"), 0o640);
        std::os::unix::fs::symlink("private", p.join("link")).unwrap();
        assert_eq!(
            closed_to_others(p),
            vec![
                (p.join("closed"), true),
                (p.join("open/deeper/key"), false),
                (p.join("private"), false),
                (p.join("unlisted"), true),
            ]
        );
    }
}
