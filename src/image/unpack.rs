//! Unpacking one layer's tar stream into a directory, safely.
//!
//! The layer is untrusted input. Every entry's path is checked (not
//! absolute, no `..`), its parent directory is opened beneath the layer's
//! root without following any symbolic link (`openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`), and the
//! entry is created relative to that descriptor with calls that do not
//! follow a final symbolic link either (`mkdirat`, `openat` with
//! `O_CREAT | O_EXCL | O_NOFOLLOW`, `symlinkat`, `linkat` without
//! `AT_SYMLINK_FOLLOW`, `mknodat`). Nothing is ever written through an
//! existing file: an entry replacing another first removes it.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rustix::fs::{
    AtFlags, FileType, Gid, Mode, OFlags, ResolveFlags, Timespec, Timestamps, Uid, XattrFlags,
};
use rustix::io::Errno;

use super::Skipped;
use super::error::{Error, SkipReason, UnsafeEntry};

/// The opaque-directory marker of the OCI layer format.
const OPAQUE: &[u8] = b".wh..wh..opq";
/// The prefix of a whiteout.
const WHITEOUT: &[u8] = b".wh.";

/// How directories are opened while resolving: a real descriptor (not
/// `O_PATH`), so that attributes can be set through it.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// The path-resolution rules for every lookup inside a layer.
const BENEATH: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// The longest entry path accepted: with the store's own prefix
/// (`layer-<64 hex>/`), every path of a layer stays within `PATH_MAX`.
const PATH_LIMIT: usize = 3968;

/// Splits an entry path into its components: `.` and empty components are
/// dropped, so the layer's root is the empty list.
pub(crate) fn components(path: &[u8]) -> Result<Vec<&[u8]>, UnsafeEntry> {
    if path.first() == Some(&b'/') {
        return Err(UnsafeEntry::Absolute);
    }
    if path.len() > PATH_LIMIT {
        return Err(UnsafeEntry::TooLong);
    }
    let mut out = Vec::new();
    for c in path.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err(UnsafeEntry::DotDot),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn join(comps: &[&[u8]]) -> Vec<u8> {
    let mut p = Vec::new();
    for (i, c) in comps.iter().enumerate() {
        if i > 0 {
            p.push(b'/');
        }
        p.extend_from_slice(c);
    }
    p
}

fn os(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

/// What a directory entry asked for, applied when the layer is complete
/// (so that a read-only directory does not stop later entries).
struct DirMeta {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    opaque: bool,
}

/// Why resolving a parent directory failed.
enum Resolve {
    /// A component is a symbolic link or not a directory.
    NotDir,
    /// A component does not exist (and was not to be created).
    Missing,
    /// Anything else.
    Io(io::Error),
}

/// Opens the directory `comps` beneath `root`, never through a symbolic
/// link; with `create`, missing directories are made (mode 0755).
fn open_dir(root: BorrowedFd<'_>, comps: &[&[u8]], create: bool) -> Result<OwnedFd, Resolve> {
    let classify = |e: Errno| match e {
        Errno::LOOP | Errno::NOTDIR | Errno::XDEV => Resolve::NotDir,
        Errno::NOENT => Resolve::Missing,
        e => Resolve::Io(e.into()),
    };
    let path = if comps.is_empty() {
        b".".to_vec()
    } else {
        join(comps)
    };
    match rustix::fs::openat2(root, os(&path), DIR_FLAGS, Mode::empty(), BENEATH) {
        Ok(fd) => return Ok(fd),
        // Before Linux 5.6 there is no openat2: the component walk below
        // is as strict (each step refuses a symbolic link).
        Err(Errno::NOSYS) => {}
        Err(Errno::NOENT) if create => {}
        Err(e) => return Err(classify(e)),
    }
    let mut cur = rustix::fs::openat(root, ".", DIR_FLAGS, Mode::empty()).map_err(classify)?;
    for c in comps {
        let next = match rustix::fs::openat(&cur, os(c), DIR_FLAGS, Mode::empty()) {
            Err(Errno::NOENT) if create => {
                match rustix::fs::mkdirat(&cur, os(c), Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(classify(e)),
                }
                rustix::fs::openat(&cur, os(c), DIR_FLAGS, Mode::empty())
            }
            r => r,
        };
        cur = next.map_err(classify)?;
    }
    Ok(cur)
}

/// Removes `name` in `dir`, whatever it is; a directory with everything in
/// it, made writable first (so that a read-only directory of a layer can
/// go). Never follows a symbolic link, and holds one descriptor at a time
/// however deep the tree is (a hostile layer may be thousands of
/// directories deep).
pub(crate) fn remove_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(Into::into);
    }
    // Directories still to empty, as paths beneath `dir`; a directory is
    // removed once a visit finds no directory left in it.
    let mut stack: Vec<Vec<u8>> = vec![name.as_bytes().to_vec()];
    while let Some(path) = stack.last() {
        let sub = match rustix::fs::openat2(dir, os(path), DIR_FLAGS, Mode::empty(), BENEATH) {
            Ok(fd) => fd,
            Err(Errno::ACCESS) => {
                // A directory its owner may not read: give the owner access
                // (it was seen to be a directory, and nothing on its path
                // is a link).
                rustix::fs::chmodat(dir, os(path), Mode::from_raw_mode(0o700), AtFlags::empty())?;
                rustix::fs::openat2(dir, os(path), DIR_FLAGS, Mode::empty(), BENEATH)?
            }
            Err(e) => return Err(e.into()),
        };
        let st = rustix::fs::fstat(&sub)?;
        if st.st_mode & 0o700 != 0o700 {
            rustix::fs::fchmod(&sub, Mode::from_raw_mode(0o700))?;
        }
        let mut subdirs = Vec::new();
        for e in rustix::fs::Dir::read_from(&sub)? {
            let e = e?;
            let n = e.file_name().to_bytes();
            if n == b"." || n == b".." {
                continue;
            }
            let st = rustix::fs::statat(&sub, os(n), AtFlags::SYMLINK_NOFOLLOW)?;
            if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                subdirs.push([&path[..], b"/", n].concat());
            } else {
                rustix::fs::unlinkat(&sub, os(n), AtFlags::empty())?;
            }
        }
        drop(sub);
        if subdirs.is_empty() {
            let path = stack.pop().unwrap_or_default();
            rustix::fs::unlinkat(dir, os(&path), AtFlags::REMOVEDIR)?;
        } else {
            stack.extend(subdirs);
        }
    }
    Ok(())
}

/// The disk space `name` in `dir` takes, everything under it counted,
/// each inode once (`seen` holds the hard-linked ones already counted).
pub(crate) fn usage_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    seen: &mut std::collections::HashSet<(u64, u64)>,
) -> io::Result<u64> {
    let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut total = 0;
    if st.st_nlink < 2 || seen.insert((st.st_dev, st.st_ino)) {
        total += u64::try_from(st.st_blocks).unwrap_or(0) * 512;
    }
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        // A directory its owner may not read counts as itself only.
        let Ok(sub) = rustix::fs::openat(dir, name, DIR_FLAGS, Mode::empty()) else {
            return Ok(total);
        };
        for e in rustix::fs::Dir::read_from(&sub)? {
            let e = e?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                total += usage_at(sub.as_fd(), os(n), seen)?;
            }
        }
    }
    Ok(total)
}

/// The file type of `name` in `dir`, without following it; `None` when it
/// does not exist.
fn kind_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<(FileType, u64)>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some((FileType::from_raw_mode(st.st_mode), st.st_rdev))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn is_whiteout(kind: Option<(FileType, u64)>) -> bool {
    matches!(kind, Some((FileType::CharacterDevice, 0)))
}

fn times(mtime: u64) -> Timestamps {
    let t = Timespec {
        tv_sec: i64::try_from(mtime).unwrap_or(i64::MAX),
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Sets the opaque markers overlayfs reads on `dir`: `user.overlay.opaque`
/// (for the sandbox's overlays, mounted with `userxattr` in a user
/// namespace) and, when root, `trusted.overlay.opaque`.
fn mark_opaque(dir: BorrowedFd<'_>, root: bool) -> io::Result<()> {
    rustix::fs::fsetxattr(dir, "user.overlay.opaque", b"y", XattrFlags::empty())?;
    if root {
        rustix::fs::fsetxattr(dir, "trusted.overlay.opaque", b"y", XattrFlags::empty())?;
    }
    Ok(())
}

/// Changes the owner when unpacking as root; an id the user namespace does
/// not map (`EINVAL`) is left to the caller.
fn chown_fd(fd: BorrowedFd<'_>, uid: u64, gid: u64) -> io::Result<()> {
    let (Ok(u), Ok(g)) = (u32::try_from(uid), u32::try_from(gid)) else {
        return Ok(());
    };
    match rustix::fs::fchown(fd, Some(Uid::from_raw(u)), Some(Gid::from_raw(g))) {
        Ok(()) | Err(Errno::INVAL) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Unpacks one layer into an empty directory.
pub(crate) struct Unpacker<'a> {
    root: BorrowedFd<'a>,
    blob: &'a str,
    as_root: bool,
    dirs: HashMap<Vec<u8>, DirMeta>,
    /// Entries not unpacked.
    pub(crate) skipped: Vec<Skipped>,
}

impl<'a> Unpacker<'a> {
    /// An unpacker into the directory `root` for the layer `blob`.
    pub(crate) fn new(root: BorrowedFd<'a>, blob: &'a str) -> Self {
        Unpacker {
            root,
            blob,
            as_root: rustix::process::geteuid().is_root(),
            dirs: HashMap::new(),
            skipped: Vec::new(),
        }
    }

    fn unsafe_entry(&self, entry: &[u8], reason: UnsafeEntry) -> Error {
        Error::Unsafe {
            blob: self.blob.to_owned(),
            entry: PathBuf::from(os(entry)),
            reason,
        }
    }

    fn io(&self, entry: &[u8], source: io::Error) -> Error {
        Error::Unpack {
            blob: self.blob.to_owned(),
            entry: PathBuf::from(os(entry)),
            source,
        }
    }

    fn parent(&self, entry: &[u8], comps: &[&[u8]], create: bool) -> Result<OwnedFd, Error> {
        open_dir(self.root, comps, create).map_err(|e| match e {
            Resolve::NotDir => self.unsafe_entry(entry, UnsafeEntry::ThroughSymlink),
            Resolve::Missing => self.io(entry, Errno::NOENT.into()),
            Resolve::Io(e) => self.io(entry, e),
        })
    }

    /// Unpacks every entry of `archive`.
    pub(crate) fn unpack<R: Read>(&mut self, archive: &mut tar::Archive<R>) -> Result<(), Error> {
        let entries = archive.entries().map_err(|e| self.io(b"", e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| self.io(b"", e))?;
            self.entry(&mut entry)?;
        }
        self.finish()
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), Error> {
        use tar::EntryType as T;
        let path = entry.path_bytes().into_owned();
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink
        ) {
            return Ok(());
        }
        let comps = components(&path).map_err(|r| self.unsafe_entry(&path, r))?;
        let header = entry.header();
        let mode = header.mode().map_err(|e| self.io(&path, e))?;
        let uid = header.uid().map_err(|e| self.io(&path, e))?;
        let gid = header.gid().map_err(|e| self.io(&path, e))?;
        let mtime = header.mtime().unwrap_or(0);

        let Some((name, parents)) = comps.split_last() else {
            // The layer's root itself.
            if kind == T::Directory {
                let key = Vec::new();
                let opaque = self.dirs.get(&key).is_some_and(|d| d.opaque);
                self.dirs.insert(
                    key,
                    DirMeta {
                        mode,
                        uid,
                        gid,
                        mtime,
                        opaque,
                    },
                );
                return Ok(());
            }
            return Err(self.unsafe_entry(&path, UnsafeEntry::BadName));
        };
        let name: &[u8] = name;

        let skip = |me: &mut Self, reason| {
            me.skipped.push(Skipped {
                blob: me.blob.to_owned(),
                entry: PathBuf::from(os(&path)),
                reason,
            });
            Ok(())
        };
        if name.starts_with(WHITEOUT) {
            let dir = self.parent(&path, parents, true)?;
            if name == OPAQUE {
                let key = join(parents);
                if let Some(d) = self.dirs.get_mut(&key) {
                    d.opaque = true;
                }
                return mark_opaque(dir.as_fd(), self.as_root).map_err(|e| self.io(&path, e));
            }
            if name.starts_with(b".wh..wh.") {
                return skip(self, SkipReason::AufsMeta);
            }
            let target = &name[WHITEOUT.len()..];
            if target.is_empty() || target == b"." || target == b".." || target.contains(&b'/') {
                return Err(self.unsafe_entry(&path, UnsafeEntry::BadName));
            }
            // A whiteout hides what lower layers have; an entry of this
            // same layer by that name stays (it hides them already).
            let existing = kind_at(dir.as_fd(), os(target)).map_err(|e| self.io(&path, e))?;
            if existing.is_none() {
                rustix::fs::mknodat(
                    &dir,
                    os(target),
                    FileType::CharacterDevice,
                    Mode::empty(),
                    rustix::fs::makedev(0, 0),
                )
                .map_err(|e| self.io(&path, e.into()))?;
            }
            return Ok(());
        }

        match kind {
            T::Char | T::Block => return skip(self, SkipReason::Device),
            T::Fifo => return skip(self, SkipReason::Fifo),
            T::Directory | T::Regular | T::Continuous | T::GNUSparse | T::Symlink | T::Link => {}
            other => return skip(self, SkipReason::UnknownType(other.as_byte())),
        }

        let dir = self.parent(&path, parents, true)?;
        let existing = kind_at(dir.as_fd(), os(name)).map_err(|e| self.io(&path, e))?;
        let replaces_whiteout = is_whiteout(existing);
        let existing_dir = matches!(existing, Some((FileType::Directory, _)));
        if existing.is_some() && !(kind == T::Directory && existing_dir) {
            if kind == T::Link {
                // Linking a name to itself changes nothing.
                let target = entry.link_name_bytes().unwrap_or_default();
                if components(&target).is_ok_and(|t| t == comps) {
                    return Ok(());
                }
            }
            remove_at(dir.as_fd(), os(name)).map_err(|e| self.io(&path, e))?;
        }

        match kind {
            T::Directory => {
                if !existing_dir {
                    rustix::fs::mkdirat(&dir, os(name), Mode::from_raw_mode(0o700))
                        .map_err(|e| self.io(&path, e.into()))?;
                }
                let key = join(&comps);
                let opaque = replaces_whiteout || self.dirs.get(&key).is_some_and(|d| d.opaque);
                self.dirs.insert(
                    key,
                    DirMeta {
                        mode,
                        uid,
                        gid,
                        mtime,
                        opaque,
                    },
                );
            }
            T::Symlink => {
                let target = entry.link_name_bytes().unwrap_or_default();
                rustix::fs::symlinkat(os(&target), &dir, os(name))
                    .map_err(|e| self.io(&path, e.into()))?;
                if self.as_root {
                    if let (Ok(u), Ok(g)) = (u32::try_from(uid), u32::try_from(gid)) {
                        match rustix::fs::chownat(
                            &dir,
                            os(name),
                            Some(Uid::from_raw(u)),
                            Some(Gid::from_raw(g)),
                            AtFlags::SYMLINK_NOFOLLOW,
                        ) {
                            Ok(()) | Err(Errno::INVAL) => {}
                            Err(e) => return Err(self.io(&path, e.into())),
                        }
                    }
                }
                rustix::fs::utimensat(&dir, os(name), &times(mtime), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| self.io(&path, e.into()))?;
            }
            T::Link => {
                let target = entry.link_name_bytes().unwrap_or_default();
                let tcomps = components(&target).map_err(|r| {
                    let r = match r {
                        UnsafeEntry::TooLong => r,
                        _ => UnsafeEntry::LinkOutside,
                    };
                    self.unsafe_entry(&path, r)
                })?;
                let Some((tname, tparents)) = tcomps.split_last() else {
                    return Err(self.unsafe_entry(&path, UnsafeEntry::LinkTargetMissing));
                };
                let tdir = open_dir(self.root, tparents, false).map_err(|e| match e {
                    Resolve::NotDir => self.unsafe_entry(&path, UnsafeEntry::LinkThroughSymlink),
                    Resolve::Missing => self.unsafe_entry(&path, UnsafeEntry::LinkTargetMissing),
                    Resolve::Io(e) => self.io(&path, e),
                })?;
                match rustix::fs::linkat(&tdir, os(tname), &dir, os(name), AtFlags::empty()) {
                    Ok(()) => {}
                    Err(Errno::NOENT) => {
                        return Err(self.unsafe_entry(&path, UnsafeEntry::LinkTargetMissing));
                    }
                    Err(e) => return Err(self.io(&path, e.into())),
                }
            }
            _ => {
                let fd = rustix::fs::openat(
                    &dir,
                    os(name),
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| self.io(&path, e.into()))?;
                let mut file = std::fs::File::from(fd);
                io::copy(entry, &mut file).map_err(|e| self.io(&path, e))?;
                if self.as_root {
                    chown_fd(file.as_fd(), uid, gid).map_err(|e| self.io(&path, e))?;
                }
                rustix::fs::fchmod(&file, Mode::from_raw_mode(mode & 0o7777))
                    .map_err(|e| self.io(&path, e.into()))?;
                rustix::fs::futimens(&file, &times(mtime)).map_err(|e| self.io(&path, e.into()))?;
            }
        }
        Ok(())
    }

    /// Gives the directories their own modes, owners, opaque markers and
    /// times, deepest first.
    fn finish(&mut self) -> Result<(), Error> {
        let mut dirs: Vec<_> = self.dirs.drain().collect();
        let depth = |p: &[u8]| {
            if p.is_empty() {
                0
            } else {
                1 + p.iter().filter(|b| **b == b'/').count()
            }
        };
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(depth(p)));
        for (path, meta) in dirs {
            let comps = components(&path).unwrap_or_default();
            let fd = match open_dir(self.root, &comps, false) {
                Ok(fd) => fd,
                // Replaced by a later entry of another type.
                Err(Resolve::NotDir | Resolve::Missing) => continue,
                Err(Resolve::Io(e)) => return Err(self.io(&path, e)),
            };
            if meta.opaque {
                mark_opaque(fd.as_fd(), self.as_root).map_err(|e| self.io(&path, e))?;
            }
            if self.as_root {
                chown_fd(fd.as_fd(), meta.uid, meta.gid).map_err(|e| self.io(&path, e))?;
            }
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(meta.mode & 0o7777))
                .map_err(|e| self.io(&path, e.into()))?;
            rustix::fs::futimens(&fd, &times(meta.mtime)).map_err(|e| self.io(&path, e.into()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_drop_dots_and_refuse_escapes() {
        assert_eq!(
            components(b"./usr//bin/./sh").unwrap(),
            vec![&b"usr"[..], b"bin", b"sh"]
        );
        assert!(components(b"./").unwrap().is_empty());
        assert_eq!(components(b"/etc/passwd"), Err(UnsafeEntry::Absolute));
        assert_eq!(components(b"a/../../b"), Err(UnsafeEntry::DotDot));
        assert_eq!(components(b".."), Err(UnsafeEntry::DotDot));
        // `...` and `..x` are ordinary names.
        assert_eq!(components(b"...").unwrap(), vec![&b"..."[..]]);
        assert_eq!(components(b"..x/y").unwrap(), vec![&b"..x"[..], b"y"]);
        assert_eq!(
            components("a/".repeat(2000).as_bytes()),
            Err(UnsafeEntry::TooLong)
        );
    }
}
