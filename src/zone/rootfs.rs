//! Child-zone half of the root filesystem: executes the pre-built plan with
//! raw mount-API system calls. No allocation, no panics.
//!
//! Every destination is resolved inside the new root with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` and every mount is
//! attached with `move_mount` onto the resulting `O_PATH` descriptor, so the
//! object resolved is the object mounted on: a symlink planted in a
//! caller-supplied tree resolves inside the root, and no path is looked up
//! twice.
//!
//! Every source (bind sources, overlay lower directories) is resolved in the
//! caller's view: from this process's root, which stays the caller's until
//! the pivot, while the new root is stacked on it as an unbindable mount, so
//! that a recursive clone of the caller's `/` leaves out the root being
//! built.

use core::ffi::{CStr, c_int};

use super::{Fail, Step, StepExt};
use crate::fs::plan::{Mount, MountKind, MountPlan, RootSpec, TemplateSplit, UpperSpec};
use crate::fs::{MAX_LAYERS, RootBind, SYSTEM_SLOTS};
use crate::stage::Stage;
use crate::sys::mount::{self, MountAttr};
use crate::sys::raw::{self, Errno, Fd, OpenHow};

const PATH_MAX: usize = 4096;

/// Converts a byte string into a NUL-terminated C string in `buf`.
fn cstr_in<'a>(bytes: &[u8], buf: &'a mut [u8; PATH_MAX]) -> Result<&'a CStr, Errno> {
    let n = bytes.len();
    let dst = buf.get_mut(..n).ok_or(Errno(libc::ENAMETOOLONG))?;
    dst.copy_from_slice(bytes);
    *buf.get_mut(n).ok_or(Errno(libc::ENAMETOOLONG))? = 0;
    let end = n.checked_add(1).ok_or(Errno(libc::ENAMETOOLONG))?;
    CStr::from_bytes_with_nul(buf.get(..end).ok_or(Errno(libc::ENAMETOOLONG))?)
        .map_err(|_| Errno(libc::EINVAL))
}

/// Formats `v` in base `radix` as a C string in `buf`.
fn fmt_num(mut v: u64, radix: u64, buf: &mut [u8; 24]) -> &CStr {
    let radix = radix.clamp(2, 16);
    let mut tmp = [0u8; 24];
    let mut n = 0usize;
    loop {
        let digit = v.checked_rem(radix).unwrap_or(0) as u8;
        if let Some(slot) = tmp.get_mut(n) {
            *slot = b'0'.wrapping_add(digit);
        }
        n = n.wrapping_add(1);
        v = v.checked_div(radix).unwrap_or(0);
        if v == 0 || n >= 23 {
            break;
        }
    }
    for i in 0..n {
        let src = n.wrapping_sub(1).wrapping_sub(i);
        if let (Some(d), Some(s)) = (buf.get_mut(i), tmp.get(src)) {
            *d = *s;
        }
    }
    if let Some(z) = buf.get_mut(n) {
        *z = 0;
    }
    CStr::from_bytes_until_nul(buf).unwrap_or(c"0")
}

fn open_in_root(root: c_int, rel: &CStr, flags: c_int) -> Result<Fd, Errno> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: raw::RESOLVE_IN_ROOT | raw::RESOLVE_NO_MAGICLINKS,
    };
    raw::openat2(root, rel, &how)
}

/// Resolves (creating missing components) the directory `rel` inside root.
fn ensure_dir(root: c_int, rel: &[u8]) -> Result<Fd, Errno> {
    let mut buf = [0u8; PATH_MAX];
    match open_in_root(
        root,
        cstr_in(rel, &mut buf)?,
        libc::O_PATH | libc::O_DIRECTORY,
    ) {
        Err(Errno(libc::ENOENT)) => {}
        other => return other,
    }
    let mut start = 0usize;
    loop {
        let rest = rel.get(start..).ok_or(Errno(libc::EINVAL))?;
        let end = rest
            .iter()
            .position(|&c| c == b'/')
            .map_or(rel.len(), |p| start.wrapping_add(p));
        let prefix = rel.get(..end).ok_or(Errno(libc::EINVAL))?;
        match open_in_root(
            root,
            cstr_in(prefix, &mut buf)?,
            libc::O_PATH | libc::O_DIRECTORY,
        ) {
            Ok(_) => {}
            Err(Errno(libc::ENOENT)) => {
                let parent = if start == 0 {
                    None
                } else {
                    let pp = rel
                        .get(..start.wrapping_sub(1))
                        .ok_or(Errno(libc::EINVAL))?;
                    Some(open_in_root(
                        root,
                        cstr_in(pp, &mut buf)?,
                        libc::O_PATH | libc::O_DIRECTORY,
                    )?)
                };
                let name = rel.get(start..end).ok_or(Errno(libc::EINVAL))?;
                let dirfd = parent.as_ref().map_or(root, |f| f.raw());
                match raw::mkdirat(dirfd, cstr_in(name, &mut buf)?, 0o755) {
                    Ok(_) | Err(Errno(libc::EEXIST)) => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
        if end >= rel.len() {
            break;
        }
        start = end.wrapping_add(1);
    }
    open_in_root(
        root,
        cstr_in(rel, &mut buf)?,
        libc::O_PATH | libc::O_DIRECTORY,
    )
}

/// Splits `rel` into (parent, name).
fn split(rel: &[u8]) -> (&[u8], &[u8]) {
    match rel.iter().rposition(|&c| c == b'/') {
        Some(p) => (
            rel.get(..p).unwrap_or(&[]),
            rel.get(p.wrapping_add(1)..).unwrap_or(&[]),
        ),
        None => (&[], rel),
    }
}

fn parent_dir(root: c_int, rel: &[u8]) -> Result<Option<Fd>, Errno> {
    let (parent, _) = split(rel);
    if parent.is_empty() {
        Ok(None)
    } else {
        ensure_dir(root, parent).map(Some)
    }
}

/// Resolves (creating an empty file if missing) the file `rel` inside root.
fn ensure_file(root: c_int, rel: &[u8]) -> Result<Fd, Errno> {
    let mut buf = [0u8; PATH_MAX];
    match open_in_root(root, cstr_in(rel, &mut buf)?, libc::O_PATH) {
        Err(Errno(libc::ENOENT)) => {}
        other => return other,
    }
    let parent = parent_dir(root, rel)?;
    let (_, name) = split(rel);
    let dirfd = parent.as_ref().map_or(root, |f| f.raw());
    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // Read-only: a mount point, not a file to write (bubblewrap's 0444).
    drop(raw::openat(dirfd, cstr_in(name, &mut buf)?, flags, 0o444)?);
    open_in_root(root, cstr_in(rel, &mut buf)?, libc::O_PATH)
}

/// Sets the propagation type of the mount `tree` (not its submounts).
fn set_propagation(tree: c_int, propagation: u64) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: 0,
        attr_clr: 0,
        propagation,
        userns_fd: 0,
    };
    mount::mount_setattr(tree, c"", libc::AT_EMPTY_PATH as u32, &attr).map(drop)
}

fn set_attrs(tree: c_int, attrs: u64, recursive: bool) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = libc::AT_EMPTY_PATH as u32 | if recursive { mount::AT_RECURSIVE } else { 0 };
    mount::mount_setattr(tree, c"", flags, &attr).map(drop)
}

fn attach(tree: c_int, target: c_int) -> Result<(), Errno> {
    mount::move_mount(
        tree,
        c"",
        target,
        c"",
        mount::MOVE_MOUNT_F_EMPTY_PATH | mount::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map(drop)
}

/// Creates a detached filesystem instance with string options.
fn new_fs(fstype: &CStr, opts: &[(&CStr, Option<&CStr>)], attrs: u64) -> Result<Fd, Errno> {
    new_fs_named(fstype, fstype, opts, attrs)
}

/// [`new_fs`] whose mountinfo source is `source`.
fn new_fs_named(
    fstype: &CStr,
    source: &CStr,
    opts: &[(&CStr, Option<&CStr>)],
    attrs: u64,
) -> Result<Fd, Errno> {
    let ctx = mount::fsopen(fstype, mount::FSOPEN_CLOEXEC)?;
    // The source shown in mountinfo, as mount(8) would name it
    // (`proc`, `tmpfs`, ...): without it every new mount reads `none`,
    // which programs that check their mounts (and the OCI runtime
    // validation) take for something else.
    mount::fsconfig(
        ctx.raw(),
        mount::FSCONFIG_SET_STRING,
        Some(c"source"),
        Some(source),
    )?;
    for (k, v) in opts {
        let cmd = if v.is_some() {
            mount::FSCONFIG_SET_STRING
        } else {
            mount::FSCONFIG_SET_FLAG
        };
        mount::fsconfig(ctx.raw(), cmd, Some(k), *v)?;
    }
    mount::fsconfig(ctx.raw(), mount::FSCONFIG_CMD_CREATE, None, None)?;
    mount::fsmount(ctx.raw(), mount::FSMOUNT_CLOEXEC, attrs)
}

fn new_tmpfs(mode: u32, size: Option<u64>, attrs: u64) -> Result<Fd, Errno> {
    let mut mbuf = [0u8; 24];
    let mut sbuf = [0u8; 24];
    let mode_s = fmt_num(u64::from(mode), 8, &mut mbuf);
    match size {
        Some(s) => new_fs(
            c"tmpfs",
            &[
                (c"mode", Some(mode_s)),
                (c"size", Some(fmt_num(s, 10, &mut sbuf))),
            ],
            attrs,
        ),
        None => new_fs(c"tmpfs", &[(c"mode", Some(mode_s))], attrs),
    }
}

/// A detached overlay of the host directory `lower` whose upper and work
/// directories are `upper` and `work` (descriptors of directories).
fn new_overlay(lower: &CStr, upper: c_int, work: c_int) -> Result<Fd, Errno> {
    // Every layer is named by a descriptor path: the mount's options,
    // which the sandbox reads in mountinfo, show no path of the host.
    let lower_dir = raw::openat(
        libc::AT_FDCWD,
        lower,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )?;
    let mut lbuf = [0u8; PATH_MAX];
    let mut ubuf = [0u8; PATH_MAX];
    let mut wbuf = [0u8; PATH_MAX];
    let lowerdir = fd_path(lower_dir.raw(), b"", &mut lbuf)?;
    let upperdir = fd_path(upper, b"", &mut ubuf)?;
    let workdir = fd_path(work, b"", &mut wbuf)?;
    let attrs = mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV;
    // `userxattr` also keeps `redirect_dir` and `metacopy` off: the upper
    // layer stays a plain tree (see `crate::layer`).
    let opts: [(&CStr, Option<&CStr>); 4] = [
        (c"lowerdir", Some(lowerdir)),
        (c"upperdir", Some(upperdir)),
        (c"workdir", Some(workdir)),
        (c"userxattr", None),
    ];
    match new_fs(c"overlay", &opts, attrs) {
        // Kernels before 5.11 do not know `userxattr`; root callers
        // without a user namespace do not need it.
        Err(Errno(libc::EINVAL)) => {
            let opts: [(&CStr, Option<&CStr>); 5] = [
                (c"lowerdir", Some(lowerdir)),
                (c"upperdir", Some(upperdir)),
                (c"workdir", Some(workdir)),
                (c"redirect_dir", Some(c"off")),
                (c"metacopy", Some(c"off")),
            ];
            new_fs(c"overlay", &opts, attrs)
        }
        other => other,
    }
}

/// A detached overlay of `lower` whose upper and work directories are
/// made in the directory `name` (created) of the tmpfs `tmp`.
fn temporary_overlay(lower: &CStr, tmp: c_int, name: &CStr) -> Result<Fd, Errno> {
    let (upper, work) = temporary_upper(tmp, name)?;
    new_overlay(lower, upper.raw(), work.raw())
}

/// Makes the directory `name` in the tmpfs `tmp` with `upper/` and
/// `work/` in it, for an overlay's changes; returns those two.
fn temporary_upper(tmp: c_int, name: &CStr) -> Result<(Fd, Fd), Errno> {
    raw::mkdirat(tmp, name, 0o755)?;
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    let dir = raw::openat(tmp, name, flags, 0)?;
    raw::mkdirat(dir.raw(), c"upper", 0o755)?;
    raw::mkdirat(dir.raw(), c"work", 0o755)?;
    let upper = raw::openat(dir.raw(), c"upper", flags, 0)?;
    let work = raw::openat(dir.raw(), c"work", flags, 0)?;
    Ok((upper, work))
}

/// The longest value `fsconfig` takes for one key (it copies at most 256
/// bytes, the terminating NUL included, and refuses a longer one).
const FSCONFIG_VALUE_MAX: usize = 255;

/// A detached overlay of the host directories `lowers` (the bottom layer
/// first), read-only, or over the upper and work directories `upper`.
///
/// Each layer is opened here and named by its descriptor, so the mount's
/// options show no host path. `lowerdir` lists them top first as the bare
/// descriptor numbers, resolved in `/proc/self/fd`, which is the working
/// directory until the mount exists (older kernels look the layers up
/// only when the filesystem is created): that keeps dozens of layers
/// within the 255 bytes one option may have. A longer list is given one
/// layer at a time (`lowerdir+`, Linux 6.8+).
fn stacked_overlay<L: AsRef<CStr>>(
    lowers: &[L],
    upper: Option<(c_int, c_int)>,
) -> Result<Fd, Errno> {
    const NONE: Option<Fd> = None;
    let mut fds = [NONE; MAX_LAYERS];
    if lowers.len() > fds.len() || lowers.is_empty() {
        return Err(Errno(libc::E2BIG));
    }
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // Top first.
    let mut short = [0u8; FSCONFIG_VALUE_MAX + 1];
    let mut len = 0usize;
    let mut fits = true;
    for (slot, lower) in fds.iter_mut().zip(lowers.iter().rev()) {
        let fd = raw::openat(libc::AT_FDCWD, lower.as_ref(), flags, 0)?;
        let mut num = [0u8; 24];
        let digits = fmt_num(fd.raw() as u64, 10, &mut num).to_bytes();
        *slot = Some(fd);
        let sep = usize::from(len > 0);
        let end = len.wrapping_add(sep).wrapping_add(digits.len());
        if !fits || end > FSCONFIG_VALUE_MAX {
            fits = false;
            continue;
        }
        if sep == 1 {
            if let Some(b) = short.get_mut(len) {
                *b = b':';
            }
        }
        if let Some(d) = short.get_mut(len.wrapping_add(sep)..end) {
            d.copy_from_slice(digits);
        }
        len = end;
    }
    let short = CStr::from_bytes_until_nul(&short).map_err(|_| Errno(libc::EINVAL))?;
    let cwd = raw::openat(libc::AT_FDCWD, c".", flags, 0)?;
    raw::chdir(c"/proc/self/fd")?;
    let made = match stacked_overlay_in_fd_dir(&fds, fits.then_some(short), upper, true) {
        // Kernels before 5.11 do not know `userxattr`; root callers
        // without a user namespace do not need it.
        Err(Errno(libc::EINVAL)) => {
            stacked_overlay_in_fd_dir(&fds, fits.then_some(short), upper, false)
        }
        other => other,
    };
    let back = raw::fchdir(cwd.raw());
    let m = made?;
    back?;
    Ok(m)
}

/// The body of [`stacked_overlay`], run in `/proc/self/fd`: `short` is the
/// `lowerdir` list of descriptor numbers, if it fits one option.
fn stacked_overlay_in_fd_dir(
    fds: &[Option<Fd>],
    short: Option<&CStr>,
    upper: Option<(c_int, c_int)>,
    userxattr: bool,
) -> Result<Fd, Errno> {
    let ctx = mount::fsopen(c"overlay", mount::FSOPEN_CLOEXEC)?;
    let set = |k: &CStr, v: Option<&CStr>| {
        let cmd = if v.is_some() {
            mount::FSCONFIG_SET_STRING
        } else {
            mount::FSCONFIG_SET_FLAG
        };
        mount::fsconfig(ctx.raw(), cmd, Some(k), v)
    };
    match short {
        Some(list) => {
            set(c"lowerdir", Some(list))?;
        }
        None => {
            for fd in fds.iter().flatten() {
                let mut buf = [0u8; PATH_MAX];
                set(c"lowerdir+", Some(fd_path(fd.raw(), b"", &mut buf)?))?;
            }
        }
    }
    let mut attrs = mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV;
    match upper {
        Some((u, w)) => {
            let mut ubuf = [0u8; PATH_MAX];
            let mut wbuf = [0u8; PATH_MAX];
            set(c"upperdir", Some(fd_path(u, b"", &mut ubuf)?))?;
            set(c"workdir", Some(fd_path(w, b"", &mut wbuf)?))?;
        }
        None => attrs |= mount::MOUNT_ATTR_RDONLY,
    }
    if userxattr {
        // Also keeps `redirect_dir` and `metacopy` off.
        set(c"userxattr", None)?;
    } else {
        set(c"redirect_dir", Some(c"off"))?;
        set(c"metacopy", Some(c"off"))?;
    }
    mount::fsconfig(ctx.raw(), mount::FSCONFIG_CMD_CREATE, None, None)?;
    mount::fsmount(ctx.raw(), mount::FSMOUNT_CLOEXEC, attrs)
}

/// A detached overlay of `lower` whose upper and work directories are
/// those of a layer directory (made by the caller), resolved in the
/// caller's view.
fn persistent_overlay(lower: &CStr, upper: &CStr, work: &CStr) -> Result<Fd, Errno> {
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    let u = raw::openat(libc::AT_FDCWD, upper, flags, 0)?;
    let w = raw::openat(libc::AT_FDCWD, work, flags, 0)?;
    new_overlay(lower, u.raw(), w.raw())
}

/// The tmpfs that holds a writable root's temporary upper layer.
/// Overlayfs takes a private clone of its upper layer's mount, which
/// kernels before 6.15 allow only for a mount of the current namespace (a
/// detached one gives EINVAL on 6.1, EPERM on 6.12): the tmpfs is stacked
/// on the old root first, and goes with it at the pivot.
fn root_upper_tmpfs() -> Result<Fd, Errno> {
    let tmp = new_tmpfs(
        0o700,
        None,
        mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV,
    )?;
    mount::move_mount(
        tmp.raw(),
        c"",
        libc::AT_FDCWD,
        c"/",
        mount::MOVE_MOUNT_F_EMPTY_PATH,
    )?;
    Ok(tmp)
}

/// State shared by the operations of one build.
struct Build {
    root: Fd,
    /// A scratch tmpfs stacked on the new root while building, holding file
    /// contents and overlay upper layers; detached before the pivot.
    scratch: Option<Fd>,
    counter: u64,
    /// The minimal `/dev` tmpfs, sealed read-only at the end.
    dev: Option<Fd>,
    /// Idmapped trees of the system directories, by slot (-1: none), which
    /// the caller made and owns (see `fs::idmap`).
    trees: [c_int; SYSTEM_SLOTS],
}

impl Build {
    fn scratch(&mut self) -> Result<c_int, Errno> {
        if let Some(s) = &self.scratch {
            return Ok(s.raw());
        }
        let s = new_tmpfs(
            0o700,
            None,
            mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV,
        )?;
        attach(s.raw(), self.root.raw())?;
        let v = s.raw();
        self.scratch = Some(s);
        Ok(v)
    }

    fn scratch_name<'a>(&mut self, prefix: u8, buf: &'a mut [u8; 24]) -> &'a CStr {
        self.counter = self.counter.wrapping_add(1);
        let mut num = [0u8; 24];
        let digits = fmt_num(self.counter, 10, &mut num).to_bytes();
        if let Some(first) = buf.get_mut(0) {
            *first = prefix;
        }
        let n = digits.len().min(22);
        if let (Some(d), Some(s)) = (buf.get_mut(1..n.wrapping_add(1)), digits.get(..n)) {
            d.copy_from_slice(s);
        }
        if let Some(z) = buf.get_mut(n.wrapping_add(1)) {
            *z = 0;
        }
        CStr::from_bytes_until_nul(buf).unwrap_or(c"x")
    }
}

/// Writes `/proc/self/fd/<fd><suffix>` into `buf`.
fn fd_path<'a>(
    fdnum: c_int,
    suffix: &[u8],
    buf: &'a mut [u8; PATH_MAX],
) -> Result<&'a CStr, Errno> {
    let mut num = [0u8; 24];
    let digits = fmt_num(fdnum as u64, 10, &mut num).to_bytes();
    let mut tmp = [0u8; 128];
    let prefix = b"/proc/self/fd/";
    let total = prefix
        .len()
        .wrapping_add(digits.len())
        .wrapping_add(suffix.len());
    let out = tmp.get_mut(..total).ok_or(Errno(libc::ENAMETOOLONG))?;
    let (a, rest) = out.split_at_mut(prefix.len());
    a.copy_from_slice(prefix);
    let (b, c) = rest.split_at_mut(digits.len());
    b.copy_from_slice(digits);
    c.copy_from_slice(suffix);
    cstr_in(tmp.get(..total).ok_or(Errno(libc::ENAMETOOLONG))?, buf)
}

fn apply(b: &mut Build, op: &Mount) -> Result<(), Errno> {
    let root = b.root.raw();
    let rel = op.dest.to_bytes();
    let mut buf = [0u8; PATH_MAX];
    match &op.kind {
        MountKind::Bind {
            src,
            read_only,
            dir,
            devices,
            no_exec,
            slot,
        } => {
            let target = if *dir {
                ensure_dir(root, rel)?
            } else {
                ensure_file(root, rel)?
            };
            // A tree the caller made for this slot (idmapped, read-only,
            // nosuid, nodev) is attached as it is.
            if let Some(&tree) = slot.and_then(|s| b.trees.get(s)).filter(|t| **t >= 0) {
                return attach(tree, target.raw());
            }
            let flags = mount::OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | mount::AT_RECURSIVE;
            let tree = mount::open_tree(libc::AT_FDCWD, src, flags)?;
            let mut attrs = mount::MOUNT_ATTR_NOSUID;
            if !devices {
                attrs |= mount::MOUNT_ATTR_NODEV;
            }
            if *read_only {
                attrs |= mount::MOUNT_ATTR_RDONLY;
            }
            if *no_exec {
                attrs |= mount::MOUNT_ATTR_NOEXEC;
            }
            set_attrs(tree.raw(), attrs, true)?;
            attach(tree.raw(), target.raw())
        }
        MountKind::Tmpfs {
            read_only,
            mode,
            size,
        } => {
            let mut attrs = mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV;
            if *read_only {
                attrs |= mount::MOUNT_ATTR_RDONLY;
            }
            let m = new_tmpfs(*mode, *size, attrs)?;
            let target = ensure_dir(root, rel)?;
            attach(m.raw(), target.raw())
        }
        MountKind::Dir { mode } => {
            let parent = parent_dir(root, rel)?;
            let (_, name) = split(rel);
            let dirfd = parent.as_ref().map_or(root, |f| f.raw());
            match raw::mkdirat(dirfd, cstr_in(name, &mut buf)?, *mode) {
                Ok(_) | Err(Errno(libc::EEXIST)) => Ok(()),
                Err(e) => Err(e),
            }
        }
        MountKind::Symlink { target } => {
            let parent = parent_dir(root, rel)?;
            let (_, name) = split(rel);
            let dirfd = parent.as_ref().map_or(root, |f| f.raw());
            raw::symlinkat(target, dirfd, cstr_in(name, &mut buf)?).map(drop)
        }
        MountKind::File { contents, mode } => {
            let scratch = b.scratch()?;
            let mut nbuf = [0u8; 24];
            let name = b.scratch_name(b'f', &mut nbuf);
            let flags =
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
            let f = raw::openat(scratch, name, flags, *mode)?;
            let mut off = 0usize;
            while off < contents.len() {
                let chunk = contents.get(off..).unwrap_or(&[]);
                match raw::write(f.raw(), chunk) {
                    Ok(0) => return Err(Errno(libc::EIO)),
                    Ok(n) => off = off.wrapping_add(n),
                    Err(Errno(libc::EINTR)) => {}
                    Err(e) => return Err(e),
                }
            }
            drop(f);
            let tree = mount::open_tree(
                scratch,
                name,
                mount::OPEN_TREE_CLONE | libc::O_CLOEXEC as u32,
            )?;
            set_attrs(
                tree.raw(),
                mount::MOUNT_ATTR_RDONLY | mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV,
                false,
            )?;
            let target = ensure_file(root, rel)?;
            attach(tree.raw(), target.raw())?;
            let _ = raw::unlinkat(scratch, name, 0);
            Ok(())
        }
        MountKind::Overlay { lower, upper } => {
            let m = match upper {
                UpperSpec::Temporary => {
                    let scratch = b.scratch()?;
                    let mut nbuf = [0u8; 24];
                    let name = b.scratch_name(b'o', &mut nbuf);
                    temporary_overlay(lower, scratch, name)?
                }
                UpperSpec::Persistent { upper, work } => persistent_overlay(lower, upper, work)?,
            };
            let target = ensure_dir(root, rel)?;
            attach(m.raw(), target.raw())
        }
        MountKind::Mask { dir } => mask(root, rel, Some(*dir)),
        MountKind::MaskAuto { known_dir } => mask(root, rel, *known_dir),
        MountKind::Proc => {
            let attrs =
                mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV | mount::MOUNT_ATTR_NOEXEC;
            // hidepid=invisible hides processes the viewer cannot ptrace
            // (the init, which holds capabilities the program lacks). Its
            // exemption group defaults to gid 0, which a root caller's
            // program has: name a gid nobody in the sandbox can hold.
            let opts: [(&CStr, Option<&CStr>); 2] =
                [(c"hidepid", Some(c"2")), (c"gid", Some(c"4294967294"))];
            let m = new_fs(c"proc", &opts, attrs)?;
            let target = ensure_dir(root, rel)?;
            attach(m.raw(), target.raw())
        }
        MountKind::Sysfs => {
            // The kernel mounts sysfs in a user namespace only while one
            // is fully visible in the mount namespace (the host's, not yet
            // detached here) and only read-only if that one is.
            let attrs = mount::MOUNT_ATTR_RDONLY
                | mount::MOUNT_ATTR_NOSUID
                | mount::MOUNT_ATTR_NODEV
                | mount::MOUNT_ATTR_NOEXEC;
            let m = new_fs(c"sysfs", &[], attrs)?;
            let target = ensure_dir(root, rel)?;
            attach(m.raw(), target.raw())
        }
        MountKind::ProcReadOnly => {
            let target = match open_in_root(root, cstr_in(rel, &mut buf)?, libc::O_PATH) {
                Ok(t) => t,
                Err(Errno(libc::ENOENT)) => return Ok(()),
                Err(e) => return Err(e),
            };
            let flags = mount::OPEN_TREE_CLONE
                | libc::O_CLOEXEC as u32
                | mount::AT_RECURSIVE
                | libc::AT_EMPTY_PATH as u32;
            let tree = mount::open_tree(target.raw(), c"", flags)?;
            let attrs = mount::MOUNT_ATTR_RDONLY
                | mount::MOUNT_ATTR_NOSUID
                | mount::MOUNT_ATTR_NODEV
                | mount::MOUNT_ATTR_NOEXEC;
            set_attrs(tree.raw(), attrs, true)?;
            attach(tree.raw(), target.raw())
        }
        MountKind::ProcMask => mask(root, rel, Some(false)),
        MountKind::Devpts => {
            let attrs = mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NOEXEC;
            let m = new_fs(
                c"devpts",
                &[(c"ptmxmode", Some(c"0666")), (c"mode", Some(c"0620"))],
                attrs,
            )?;
            let target = ensure_dir(root, rel)?;
            attach(m.raw(), target.raw())
        }
        MountKind::Shm => {
            let attrs = mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV;
            let m = new_fs_named(c"tmpfs", c"shm", &[(c"mode", Some(c"1777"))], attrs)?;
            let target = ensure_dir(root, rel)?;
            attach(m.raw(), target.raw())
        }
        MountKind::Mqueue => {
            let attrs =
                mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV | mount::MOUNT_ATTR_NOEXEC;
            let m = new_fs(c"mqueue", &[], attrs)?;
            let target = ensure_dir(root, rel)?;
            attach(m.raw(), target.raw())
        }
        MountKind::Home { uid, gid } => {
            let (mut ubuf, mut gbuf) = ([0u8; 24], [0u8; 24]);
            let m = new_fs(
                c"tmpfs",
                &[
                    (c"mode", Some(c"700")),
                    (c"uid", Some(fmt_num(u64::from(*uid), 10, &mut ubuf))),
                    (c"gid", Some(fmt_num(u64::from(*gid), 10, &mut gbuf))),
                ],
                mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV,
            )?;
            let target = ensure_dir(root, rel)?;
            attach(m.raw(), target.raw())
        }
    }
}

/// Hides whatever is at `rel`. A missing destination is left alone: there is
/// nothing to hide.
fn mask(root: c_int, rel: &[u8], _known_dir: Option<bool>) -> Result<(), Errno> {
    let mut buf = [0u8; PATH_MAX];
    let target = match open_in_root(
        root,
        cstr_in(rel, &mut buf)?,
        libc::O_PATH | libc::O_NOFOLLOW,
    ) {
        Ok(t) => t,
        Err(Errno(libc::ENOENT)) => return Ok(()),
        Err(e) => return Err(e),
    };
    // SAFETY: an all-zero stat is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    raw::fstatat(target.raw(), c"", &mut st, libc::AT_EMPTY_PATH)?;
    let attrs = mount::MOUNT_ATTR_RDONLY
        | mount::MOUNT_ATTR_NOSUID
        | mount::MOUNT_ATTR_NODEV
        | mount::MOUNT_ATTR_NOEXEC;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        let m = new_tmpfs(0o000, Some(4096), attrs)?;
        attach(m.raw(), target.raw())
    } else {
        // A read-only, nodev bind of /dev/null: opening it fails (EACCES)
        // and it holds nothing.
        let tree = mount::open_tree(
            libc::AT_FDCWD,
            c"/dev/null",
            mount::OPEN_TREE_CLONE | libc::O_CLOEXEC as u32,
        )?;
        set_attrs(tree.raw(), attrs, false)?;
        attach(tree.raw(), target.raw())
    }
}

/// Makes the mount propagation private, creates the new root and stacks it
/// on top of the old one (it is reached through its fd), unbindable until
/// the pivot: the sources of the plan, looked up from this process's root
/// (the caller's), are then the caller's, even `/` cloned recursively.
fn start(plan: &MountPlan, trees: [c_int; SYSTEM_SLOTS]) -> Step<Build> {
    // Nothing done here may propagate back to the caller's namespace.
    raw::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None)
        .at(Stage::MountPropagation, 0)?;

    let root = match &plan.root {
        RootSpec::Tmpfs => new_tmpfs(
            0o755,
            None,
            mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV,
        ),
        RootSpec::Dir(dir, bind) => {
            let flags = mount::OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | mount::AT_RECURSIVE;
            let attrs = match bind {
                RootBind::ReadWrite => mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV,
                RootBind::Devices => mount::MOUNT_ATTR_NOSUID,
                RootBind::ReadOnly => {
                    mount::MOUNT_ATTR_RDONLY | mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV
                }
            };
            mount::open_tree(libc::AT_FDCWD, dir, flags).and_then(|t| {
                set_attrs(t.raw(), attrs, true)?;
                Ok(t)
            })
        }
        RootSpec::Overlay { lower, upper } => match upper {
            UpperSpec::Temporary => {
                root_upper_tmpfs().and_then(|tmp| temporary_overlay(lower, tmp.raw(), c"root"))
            }
            UpperSpec::Persistent { upper, work } => persistent_overlay(lower, upper, work),
        },
        RootSpec::Layers { lowers, upper } => match upper {
            None => stacked_overlay(lowers, None),
            Some(UpperSpec::Temporary) => root_upper_tmpfs().and_then(|tmp| {
                let (u, w) = temporary_upper(tmp.raw(), c"root")?;
                stacked_overlay(lowers, Some((u.raw(), w.raw())))
            }),
            Some(UpperSpec::Persistent { upper, work }) => {
                let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
                raw::openat(libc::AT_FDCWD, upper, flags, 0).and_then(|u| {
                    let w = raw::openat(libc::AT_FDCWD, work, flags, 0)?;
                    stacked_overlay(lowers, Some((u.raw(), w.raw())))
                })
            }
        },
    }
    .map_err(|e| Fail::new(Stage::RootMount, 0, e))?;
    mount::move_mount(
        root.raw(),
        c"",
        libc::AT_FDCWD,
        c"/",
        mount::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .at(Stage::RootMount, 0)?;
    set_propagation(root.raw(), libc::MS_UNBINDABLE).at(Stage::RootMount, 0)?;
    Ok(Build {
        root,
        scratch: None,
        counter: 0,
        dev: None,
        trees,
    })
}

/// Applies op `i` of the plan.
fn apply_at(b: &mut Build, plan: &MountPlan, i: usize) -> Step {
    let fail = |e| Fail::new(Stage::MountOp, i as u32, e);
    let op = plan.ops.get(i).ok_or(Errno(libc::EINVAL)).map_err(fail)?;
    if plan.dev_op == Some(i) {
        // The minimal /dev: kept to be sealed read-only at the end.
        if let MountKind::Tmpfs { mode, size, .. } = &op.kind {
            let attrs = mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV;
            let m = new_tmpfs(*mode, *size, attrs).map_err(fail)?;
            let target = ensure_dir(b.root.raw(), op.dest.to_bytes()).map_err(fail)?;
            attach(m.raw(), target.raw()).map_err(fail)?;
            b.dev = Some(m);
            return Ok(());
        }
    }
    apply(b, op).map_err(fail)
}

/// Detaches the scratch tmpfs, seals `/dev` and (for a tmpfs root) the root
/// read-only, and pivots into the new root.
fn finish(mut b: Build, plan: &MountPlan) -> Step {
    if let Some(s) = b.scratch.take() {
        let mut buf = [0u8; PATH_MAX];
        let p = fd_path(s.raw(), b"", &mut buf).map_err(|e| Fail::new(Stage::RootMount, 0, e))?;
        raw::umount2(p, libc::MNT_DETACH).at(Stage::RootMount, 0)?;
    }
    if let Some(dev) = b.dev.take() {
        let idx = plan.dev_op.unwrap_or(0) as u32;
        set_attrs(dev.raw(), mount::MOUNT_ATTR_RDONLY, false).at(Stage::MountOp, idx)?;
    }
    if matches!(plan.root, RootSpec::Tmpfs) {
        set_attrs(
            b.root.raw(),
            mount::MOUNT_ATTR_RDONLY | mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV,
            false,
        )
        .map_err(|e| Fail::new(Stage::RootMount, 0, e))?;
    }
    set_propagation(b.root.raw(), libc::MS_PRIVATE).at(Stage::RootMount, 0)?;

    raw::fchdir(b.root.raw()).at(Stage::PivotRoot, 0)?;
    raw::pivot_root(c".", c".").at(Stage::PivotRoot, 0)?;
    raw::umount2(c".", libc::MNT_DETACH).at(Stage::PivotRoot, 0)?;
    raw::chdir(c"/").at(Stage::PivotRoot, 0)?;
    Ok(())
}

/// Builds the new root and pivots into it. Runs in the supervisor, in the new
/// mount namespace, before the program process exists. `trees` are the
/// system directories' idmapped trees the caller made, if any.
///
/// With `as_init` (the program will be the init of its own pid namespace
/// and mounts `/proc` itself, see [`mount_proc_as_init`]), the `proc`
/// mount is replaced by one of an empty pid namespace, mounted by a
/// short-lived process on the stack given, and the mounts over `/proc` are
/// left to the program process.
pub(crate) fn build(
    plan: &MountPlan,
    trees: [c_int; SYSTEM_SLOTS],
    as_init: Option<(*mut u8, usize)>,
    console: bool,
) -> Step {
    let mut b = start(plan, trees)?;
    for i in 0..plan.ops.len() {
        if let Some(stack) = as_init {
            match plan.ops.get(i).map(|o| (&o.kind, o.dest.to_bytes())) {
                Some((MountKind::Proc, rel)) => {
                    let fail = |e| Fail::new(Stage::MountOp, i as u32, e);
                    let dir = ensure_dir(b.root.raw(), rel).map_err(fail)?;
                    mount_proc_anchor(dir.raw(), stack).map_err(fail)?;
                    continue;
                }
                Some((MountKind::ProcReadOnly | MountKind::ProcMask, _)) => continue,
                _ => {}
            }
        }
        apply_at(&mut b, plan, i)?;
    }
    if let (true, Some(i)) = (console, plan.dev_op) {
        // What the init's terminal is bound over (see `bind_console`),
        // made before /dev is sealed.
        let fail = |e| Fail::new(Stage::MountOp, i as u32, e);
        drop(ensure_file(b.root.raw(), b"dev/console").map_err(fail)?);
    }
    finish(b, plan)
}

/// Binds the terminal `peer` (the program process's, in the sandbox's
/// devpts) over the `/dev/console` that [`build`] made, as container
/// managers do, so that what a service manager writes to its console
/// reaches the caller. Runs in the program process, in the new root, with
/// the user namespace's capabilities still held.
pub(crate) fn bind_console(peer: c_int) -> Result<(), Errno> {
    let flags = mount::OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | libc::AT_EMPTY_PATH as u32;
    let tree = mount::open_tree(peer, c"", flags)?;
    let target = raw::openat(
        libc::AT_FDCWD,
        c"/dev/console",
        libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        0,
    )?;
    attach(tree.raw(), target.raw())
}

/// Whether a planned mount belongs to `/proc`: the `proc` instance and
/// what is mounted over parts of it.
fn is_proc_op(kind: &MountKind) -> bool {
    matches!(
        kind,
        MountKind::Proc | MountKind::ProcReadOnly | MountKind::ProcMask
    )
}

/// A build that continues in this process's root, which is already the
/// sandbox's (a copy of the template, or after the pivot).
fn in_current_root() -> Step<Build> {
    let root = raw::openat(
        libc::AT_FDCWD,
        c"/",
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )
    .map_err(|e| Fail::new(Stage::RootMount, 0, e))?;
    Ok(Build {
        root,
        scratch: None,
        counter: 0,
        dev: None,
        trees: [-1; SYSTEM_SLOTS],
    })
}

/// Mounts the `/proc` of the calling process's pid namespace and what the
/// plan mounts over parts of it, over the empty `proc` the supervisor left
/// at its place. Runs in the program process of a program that is pid 1,
/// in the sandbox's root.
pub(crate) fn mount_proc_as_init(plan: &MountPlan) -> Step {
    let mut b = in_current_root()?;
    for (i, op) in plan.ops.iter().enumerate() {
        if is_proc_op(&op.kind) {
            apply_at(&mut b, plan, i)?;
        }
    }
    Ok(())
}

/// Builds the static part of the root (`split.template_ops`), creates the
/// mount points of the per-spawn part, and pivots into it. Runs once per
/// policy in the template builder, in the template's new user and mount
/// namespaces. `anchor_stack` is where the short-lived process that mounts
/// the `proc` anchor runs; `trees` as for [`build`].
pub(crate) fn build_template(
    plan: &MountPlan,
    split: &TemplateSplit,
    anchor_stack: (*mut u8, usize),
    trees: [c_int; SYSTEM_SLOTS],
) -> Step {
    let mut b = start(plan, trees)?;
    for &i in &split.template_ops {
        apply_at(&mut b, plan, i)?;
    }
    let mut buf = [0u8; PATH_MAX];
    for (i, m) in split.mountpoints.iter().enumerate() {
        let rel = m.to_bytes();
        // Nothing may have been put there yet (see TemplateSplit).
        match open_in_root(
            b.root.raw(),
            cstr_in(rel, &mut buf).at(Stage::RootMount, i as u32)?,
            libc::O_PATH | libc::O_NOFOLLOW,
        ) {
            Err(Errno(libc::ENOENT)) => {}
            Ok(_) => return Err(Fail::new(Stage::RootMount, i as u32, Errno(libc::EEXIST))),
            Err(e) => return Err(Fail::new(Stage::RootMount, i as u32, e)),
        }
        let dir = ensure_dir(b.root.raw(), rel).at(Stage::RootMount, i as u32)?;
        if rel == b"proc" && split.proc_anchor {
            mount_proc_anchor(dir.raw(), anchor_stack).at(Stage::RootMount, i as u32)?;
        }
    }
    finish(b, plan)
}

/// Applies the per-spawn part of a split plan to this process's copy of the
/// template (its root is the template's root). Runs in the supervisor.
///
/// With `as_init`, the mounts of `/proc` are left to the program process
/// (see [`mount_proc_as_init`]); the template's empty `proc` stands in.
pub(crate) fn build_spawn(plan: &MountPlan, split: &TemplateSplit, as_init: bool) -> Step {
    let mut b = in_current_root()?;
    for &i in &split.spawn_ops {
        if as_init && plan.ops.get(i).is_some_and(|o| is_proc_op(&o.kind)) {
            continue;
        }
        apply_at(&mut b, plan, i)?;
    }
    if b.scratch.is_some() {
        // Spawn ops are proc, devpts and tmpfs mounts, which need none.
        return Err(Fail::new(Stage::RootMount, 0, Errno(libc::EINVAL)));
    }
    raw::chdir(c"/").at(Stage::PivotRoot, 0)?;
    Ok(())
}

/// Mounts, on `target`, a `proc` instance of a new and immediately empty pid
/// namespace. The template needs a `proc` the kernel considers fully visible
/// so that each sandbox's user namespace may mount its own on top of it; one
/// of the caller's pid namespace would show the caller's processes to a
/// sandbox able to unmount its `/proc`, this one shows none.
fn mount_proc_anchor(target: c_int, stack: (*mut u8, usize)) -> Result<(), Errno> {
    let mut arg = target;
    let args = crate::sys::clone::CloneArgs {
        flags: (libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_NEWPID) as u64,
        exit_signal: 0,
        stack: stack.0 as u64,
        stack_size: stack.1 as u64,
        ..Default::default()
    };
    // SAFETY: `stack` is a region of the builder's stack mapping reserved for
    // this process, which the parent keeps mapped until the builder has been
    // reaped; CLONE_VFORK suspends us until the child has exited, so `arg`
    // outlives its use; the entry point follows the child-zone rules.
    let pid =
        unsafe { crate::sys::clone::clone3(&args, anchor_entry, (&mut arg as *mut c_int).cast()) }?;
    let mut st: c_int = 0;
    raw::wait4(pid as i32, &mut st, libc::__WALL, None)?;
    if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0 {
        Ok(())
    } else if libc::WIFEXITED(st) {
        Err(Errno(libc::WEXITSTATUS(st)))
    } else {
        Err(Errno(libc::ECHILD))
    }
}

/// Entry point of the anchor process: the init of a new pid namespace,
/// which mounts its `proc` and exits (emptying the namespace). Its exit
/// status is 0 or the errno of the step that failed.
///
/// # Safety
/// `arg` points to the target directory's descriptor, valid until we exit.
unsafe extern "C" fn anchor_entry(arg: *mut core::ffi::c_void) -> c_int {
    // SAFETY: guaranteed by the caller.
    let target = unsafe { *(arg as *const c_int) };
    let attrs = mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV | mount::MOUNT_ATTR_NOEXEC;
    match new_fs(c"proc", &[], attrs).and_then(|m| attach(m.raw(), target)) {
        Ok(()) => 0,
        Err(Errno(e)) => e.clamp(1, 255),
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::disallowed_macros
)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_without_allocation() {
        let mut b = [0u8; 24];
        assert_eq!(fmt_num(0, 10, &mut b).to_bytes(), b"0");
        assert_eq!(fmt_num(65536, 10, &mut b).to_bytes(), b"65536");
        assert_eq!(fmt_num(0o1777, 8, &mut b).to_bytes(), b"1777");
        assert_eq!(
            fmt_num(u64::MAX, 10, &mut b).to_bytes(),
            b"18446744073709551615"
        );
    }

    #[test]
    fn paths_split_and_convert() {
        assert_eq!(split(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split(b"c"), (&b""[..], &b"c"[..]));
        let mut buf = [0u8; PATH_MAX];
        assert_eq!(
            cstr_in(b"dev/null", &mut buf).unwrap().to_bytes(),
            b"dev/null"
        );
        assert_eq!(
            cstr_in(&[b'x'; PATH_MAX], &mut buf),
            Err(Errno(libc::ENAMETOOLONG))
        );
        let mut buf = [0u8; PATH_MAX];
        assert_eq!(
            fd_path(17, b"/upper", &mut buf).unwrap().to_bytes(),
            b"/proc/self/fd/17/upper"
        );
    }
}
