//! Layer directories: the kept upper layer of a writable overlay, and the
//! snapshots of a workspace made from it.
//!
//! A writable overlay (a [writable root](crate::Sandbox::writable_root) or
//! an [overlay](crate::Sandbox::overlay_with_upper) of a bound directory)
//! with [`fs::Upper::Persistent`](crate::fs::Upper::Persistent) keeps its
//! changes in a *layer directory*:
//!
//! ```text
//! LAYER/upper/   what the sandboxes changed, as overlayfs keeps it
//! LAYER/work/    overlayfs's scratch directory
//! LAYER/lock     locked by the caller of the sandbox that uses the layer
//! ```
//!
//! A [`Layer`] names a layer directory and its lower directory, and says
//! what changed ([`Layer::changes`]), applies the changes to the lower
//! directory ([`Layer::commit`]) or throws them away ([`Layer::discard`]):
//! the "review what the command changed, then keep it or roll it back" of
//! an agent's workspace.
//!
//! # Consistency
//!
//! While a sandbox uses a layer, its caller holds an exclusive `flock` on
//! `LAYER/lock`, from before the sandbox's clone until it has ended: its
//! [`Child`](crate::Child) has been waited for (or, dropped, the sandbox
//! has been reaped, also when it was left running), or its
//! [`Container`](crate::Container) has stopped. [`commit`](Layer::commit)
//! and [`discard`](Layer::discard) take the same lock without waiting and
//! refuse with [`Error::InUse`] while it is held: stop the sandbox first.
//! A second sandbox cannot use a layer in use either
//! ([`fs::Error::LayerInUse`](crate::fs::Error::LayerInUse)).
//! [`changes`](Layer::changes) takes no lock: the changes of a running
//! sandbox are a moving target, read as they are at each moment.
//!
//! The lower directory must not be changed by anyone else while a layer
//! over it is kept (overlayfs's rule for its layers): changes made to it
//! meanwhile may show or not in the sandbox, and a commit applies the
//! layer's view over them.
//!
//! # Commit: what is atomic
//!
//! A commit first stages every new file, symbolic link and directory tree
//! beside its target in the lower directory (named `.stockade-new-*`),
//! then swaps them in: each replaced or deleted entry is renamed aside
//! (`.stockade-old-*`) and each staged one renamed to its target, one
//! `rename(2)` at a time, with a journal of the renames. When any step
//! fails, the renames done are undone in reverse order and the staged
//! entries removed: the lower directory is left as it was, and the layer
//! keeps its changes ([`Error::CommitFailed`]). Only then are the entries
//! set aside removed and the layer emptied.
//!
//! Each rename is atomic; the commit as a whole is not: a process reading
//! the lower directory during the swap can see some changes applied and
//! not others, and a commit interrupted by a crash (not by an error) can
//! leave `.stockade-*` entries beside their targets. The journal is kept
//! in memory.
//!
//! What a commit keeps: contents, permission bits, ownership (where the
//! caller may set it; a root caller always can), extended attributes the
//! caller may set (overlayfs's own `*.overlay.*` are left out),
//! modification times of files, symbolic links, device nodes and FIFOs
//! (device nodes need the capability to create them), and hard links
//! between files the commit adds. Overlayfs's `metacopy` and
//! `redirect_dir` features stay off in stockade's overlays, so an upper
//! layer is a plain tree: renamed directories show as a deletion and an
//! addition.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::fs::{OpName, Root, SYSTEM_DIRS, Upper};

/// Overlayfs's own extended attributes, never copied into a lower tree.
const OVERLAY_XATTRS: [&[u8]; 2] = [b"trusted.overlay.", b"user.overlay."];

/// A layer directory and the lower directory its upper layer lies over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    dir: PathBuf,
    lower: PathBuf,
    /// The layer of a writable default view: its lower is the host's
    /// system directories, which a commit never touches.
    host_view: bool,
}

/// What happened to a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ChangeKind {
    /// It did not exist in the lower directory (or lies in a directory
    /// that was added or replaced).
    Added,
    /// A file, symbolic link or special file whose contents or metadata
    /// may have changed (overlayfs copies a file up when it is opened for
    /// writing or its metadata is changed), or a directory whose mode or
    /// owner changed.
    Modified,
    /// It was deleted (the upper layer holds a whiteout).
    Deleted,
    /// It was replaced by something of another type, or a directory was
    /// deleted and made again (an opaque directory): nothing of the lower
    /// one shows through.
    Replaced,
}

impl ChangeKind {
    /// The one-letter code: `A`, `M`, `D` or `R`.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Modified => 'M',
            ChangeKind::Deleted => 'D',
            ChangeKind::Replaced => 'R',
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChangeKind::Added => "added",
            ChangeKind::Modified => "modified",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Replaced => "replaced",
        })
    }
}

/// One change of a layer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct Change {
    /// The path, relative to the overlay's root (for a writable root, to
    /// `/`: `etc/hostname`).
    pub path: PathBuf,
    /// What happened to it.
    pub kind: ChangeKind,
}

/// What a layer operation was doing when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LayerOp {
    /// Reading the upper layer or the lower directory.
    Read,
    /// Taking the layer's lock.
    Lock,
    /// Copying a change beside its target in the lower directory.
    Stage,
    /// Renaming an entry of the lower directory aside or into place, or
    /// restoring a directory's mode or owner.
    Swap,
    /// Removing what a commit set aside, or emptying the layer.
    Remove,
}

impl fmt::Display for LayerOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LayerOp::Read => "read",
            LayerOp::Lock => "lock",
            LayerOp::Stage => "stage",
            LayerOp::Swap => "swap in",
            LayerOp::Remove => "remove",
        })
    }
}

/// A layer operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A sandbox using the layer is running (its caller holds
    /// `LAYER/lock`).
    #[error("layer directory {dir:?} is in use by a running sandbox; stop it first")]
    InUse {
        /// The layer directory.
        dir: PathBuf,
    },
    /// The layer belongs to a writable default view, whose lower
    /// directories are the host's own system directories.
    #[error(
        "layer directory {dir:?} lies over the host's system directories, which a commit never \
         changes; discard it, or copy what you need from its upper/"
    )]
    HostLower {
        /// The layer directory.
        dir: PathBuf,
    },
    /// A commit failed and was rolled back: the lower directory is as it
    /// was and the layer keeps its changes.
    #[error(
        "failed to commit layer directory {dir:?}: could not {op} {path:?}; the lower directory \
         was left as it was"
    )]
    CommitFailed {
        /// The layer directory.
        dir: PathBuf,
        /// What failed.
        op: LayerOp,
        /// The path it failed on.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A commit failed and undoing its renames failed too: `path` could not
    /// be put back, and the lower directory is partly changed.
    #[error(
        "failed to roll back the commit of layer directory {dir:?}: {path:?} could not be \
         restored from {aside:?}"
    )]
    RollbackFailed {
        /// The layer directory.
        dir: PathBuf,
        /// The entry of the lower directory not restored.
        path: PathBuf,
        /// Where it is.
        aside: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Reading, locking, or emptying the layer failed.
    #[error("failed to {op} {path:?}")]
    Io {
        /// What failed.
        op: LayerOp,
        /// The path it failed on.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

fn io_err(op: LayerOp, path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

impl Layer {
    /// The layer directory `dir` over the lower directory `lower` (a root
    /// directory, or the lower directory of an overlay).
    pub fn new(dir: impl Into<PathBuf>, lower: impl Into<PathBuf>) -> Layer {
        Layer {
            dir: dir.into(),
            lower: lower.into(),
            host_view: false,
        }
    }

    /// The layer directory `dir` of a writable default view: its changes
    /// are listed against the host's system directories, and can be
    /// discarded but not committed.
    pub fn of_default_view(dir: impl Into<PathBuf>) -> Layer {
        Layer {
            dir: dir.into(),
            lower: PathBuf::from("/"),
            host_view: true,
        }
    }

    /// The layer directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lower directory (`/` for a default view's layer).
    pub fn lower(&self) -> &Path {
        &self.lower
    }

    /// Whether this is the layer of a writable default view.
    pub fn is_default_view(&self) -> bool {
        self.host_view
    }

    /// The upper layer: `LAYER/upper`.
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// What changed, sorted by path, parents before their children. An
    /// added or replaced directory is listed with everything in it. A
    /// layer that was never used has no changes.
    pub fn changes(&self) -> Result<Vec<Change>, Error> {
        Ok(self
            .entries()?
            .into_iter()
            .map(|e| Change {
                path: e.rel,
                kind: e.kind,
            })
            .collect())
    }

    /// Applies the changes to the lower directory, then empties the layer
    /// (see the [module documentation](self) for what is atomic). Refused
    /// while a sandbox uses the layer ([`Error::InUse`]) and for a default
    /// view's layer ([`Error::HostLower`]).
    pub fn commit(&self) -> Result<(), Error> {
        if self.host_view {
            return Err(Error::HostLower {
                dir: self.dir.clone(),
            });
        }
        let _lock = self.lock()?;
        let entries = self.entries()?;
        Commit::new(self).run(&entries)?;
        self.clear()
    }

    /// Throws the changes away: the layer's `upper/` and `work/` are
    /// emptied, and the next sandbox sees the lower directory as it is.
    /// Refused while a sandbox uses the layer ([`Error::InUse`]).
    pub fn discard(&self) -> Result<(), Error> {
        let _lock = self.lock()?;
        self.clear()
    }

    /// Takes the layer's lock, or says it is in use.
    fn lock(&self) -> Result<Flock<File>, Error> {
        match lock(&self.dir) {
            Ok(l) => Ok(l),
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Err(Error::InUse {
                dir: self.dir.clone(),
            }),
            Err(source) => Err(Error::Io {
                op: LayerOp::Lock,
                path: self.dir.join("lock"),
                source,
            }),
        }
    }

    /// Empties `upper/` and `work/`.
    fn clear(&self) -> Result<(), Error> {
        for d in [self.upper(), self.dir.join("work")] {
            let rd = match fs::read_dir(&d) {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(LayerOp::Remove, &d)(e)),
            };
            for e in rd {
                let p = e.map_err(io_err(LayerOp::Remove, &d))?.path();
                remove_tree(&p).map_err(io_err(LayerOp::Remove, &p))?;
            }
        }
        Ok(())
    }

    /// The changes, with what a commit needs to know of them.
    fn entries(&self) -> Result<Vec<Entry>, Error> {
        let upper = self.upper();
        let mut out = Vec::new();
        match fs::symlink_metadata(&upper) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io_err(LayerOp::Read, &upper)(e)),
            Ok(_) => {}
        }
        walk(&upper, &self.lower, Path::new(""), false, &mut out)?;
        if self.host_view {
            // The top directories are each overlay's own (the upper
            // layer's root, made by the caller): their mode and owner are
            // not the program's changes.
            out.retain(|e| {
                !(e.kind == ChangeKind::Modified && e.dir && e.rel.components().count() == 1)
            });
        }
        Ok(out)
    }
}

/// A change, as [`Layer::entries`] finds it.
#[derive(Debug)]
struct Entry {
    rel: PathBuf,
    kind: ChangeKind,
    /// The upper layer's entry is a directory.
    dir: bool,
    /// It lies in a directory that was added or replaced (a commit copies
    /// that directory whole).
    inside_new: bool,
}

/// Whether `md` is an overlayfs whiteout: a character device 0/0.
fn is_whiteout(md: &fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

/// Whether the upper directory `p` is opaque (hides its lower directory).
fn is_opaque(p: &Path) -> bool {
    ["user.overlay.opaque", "trusted.overlay.opaque"]
        .iter()
        .any(|n| matches!(crate::sys::xattr::get(p, OsStr::new(n)), Ok(Some(v)) if v == b"y"))
}

/// Whether two entries are of the same type.
fn same_type(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.mode() & libc::S_IFMT == b.mode() & libc::S_IFMT
}

/// Lists the changes beneath `rel` of the upper layer `upper` over
/// `lower`; `new`: `rel` was added or replaced (nothing of the lower
/// shows through).
fn walk(
    upper: &Path,
    lower: &Path,
    rel: &Path,
    new: bool,
    out: &mut Vec<Entry>,
) -> Result<(), Error> {
    let dir = upper.join(rel);
    let mut names: Vec<OsString> = fs::read_dir(&dir)
        .map_err(io_err(LayerOp::Read, &dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(io_err(LayerOp::Read, &dir))?;
    names.sort();
    for name in names {
        let r = rel.join(&name);
        let u = upper.join(&r);
        let md = fs::symlink_metadata(&u).map_err(io_err(LayerOp::Read, &u))?;
        let lmd = if new {
            None
        } else {
            match fs::symlink_metadata(lower.join(&r)) {
                Ok(m) => Some(m),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(io_err(LayerOp::Read, &lower.join(&r))(e)),
            }
        };
        let mut push = |kind, dir| {
            out.push(Entry {
                rel: r.clone(),
                kind,
                dir,
                inside_new: new,
            })
        };
        if is_whiteout(&md) {
            if lmd.is_some() {
                push(ChangeKind::Deleted, false);
            }
            continue;
        }
        if md.is_dir() {
            let kind = match &lmd {
                None => Some(ChangeKind::Added),
                Some(l) if !l.is_dir() || is_opaque(&u) => Some(ChangeKind::Replaced),
                Some(l) => (l.mode() & 0o7777 != md.mode() & 0o7777
                    || l.uid() != md.uid()
                    || l.gid() != md.gid())
                .then_some(ChangeKind::Modified),
            };
            if let Some(k) = kind {
                push(k, true);
            }
            let whole = matches!(kind, Some(ChangeKind::Added | ChangeKind::Replaced));
            walk(upper, lower, &r, new || whole, out)?;
        } else {
            let kind = match &lmd {
                None => ChangeKind::Added,
                Some(l) if same_type(l, &md) => ChangeKind::Modified,
                Some(_) => ChangeKind::Replaced,
            };
            push(kind, false);
        }
    }
    Ok(())
}

/// Opens (creating it) and locks `dir/lock` exclusively, without waiting.
fn lock(dir: &Path) -> io::Result<Flock<File>> {
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(dir.join("lock"))?;
    Flock::lock(f, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| io::Error::from(e))
}

/// Removes `p` and everything beneath it, making directories the caller
/// owns writable first (overlayfs's work directories, read-only trees).
fn remove_tree(p: &Path) -> io::Result<()> {
    let md = match fs::symlink_metadata(p) {
        Ok(md) => md,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !md.is_dir() {
        return fs::remove_file(p);
    }
    if md.mode() & 0o700 != 0o700 {
        let _ = fs::set_permissions(p, fs::Permissions::from_mode(md.mode() & 0o7777 | 0o700));
    }
    for e in fs::read_dir(p)? {
        remove_tree(&e?.path())?;
    }
    fs::remove_dir(p)
}

/// Copies the extended attributes of `src` the caller may set to `dst`
/// (not overlayfs's own), ignoring those it may not.
fn copy_xattrs(src: &Path, dst: &Path) {
    let Ok(names) = crate::sys::xattr::list(src) else {
        return;
    };
    for n in names {
        use std::os::unix::ffi::OsStrExt;
        if OVERLAY_XATTRS.iter().any(|p| n.as_bytes().starts_with(p)) {
            continue;
        }
        if let Ok(Some(v)) = crate::sys::xattr::get(src, &n) {
            let _ = crate::sys::xattr::set(dst, &n, &v);
        }
    }
}

/// Gives `dst` the owner (where permitted), extended attributes, mode and
/// (for a file) modification time of `src`, whose metadata is `md`.
fn copy_meta(src: &Path, dst: &Path, md: &fs::Metadata) -> io::Result<()> {
    match std::os::unix::fs::lchown(dst, Some(md.uid()), Some(md.gid())) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
        Err(e) => return Err(e),
    }
    copy_xattrs(src, dst);
    if md.file_type().is_symlink() {
        return Ok(());
    }
    fs::set_permissions(dst, fs::Permissions::from_mode(md.mode() & 0o7777))?;
    if md.is_file() {
        let f = fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(dst)
            .or_else(|_| File::open(dst))?;
        f.set_modified(md.modified()?)?;
    }
    Ok(())
}

/// One rename (or metadata change) of a commit's swap, to undo on failure.
enum Undo {
    /// `target` was renamed to `aside`.
    Aside { target: PathBuf, aside: PathBuf },
    /// `staged` was renamed to `target`.
    Placed { target: PathBuf, staged: PathBuf },
    /// `target`'s mode and owner were changed from these.
    Meta {
        target: PathBuf,
        mode: u32,
        uid: u32,
        gid: u32,
    },
}

/// The state of one commit.
struct Commit<'a> {
    layer: &'a Layer,
    upper: PathBuf,
    counter: u64,
    /// Entries staged, to remove if the commit fails.
    staged: Vec<PathBuf>,
    /// Files staged, by (device, inode) in the upper layer: a second link
    /// to one of them is staged as a hard link.
    links: HashMap<(u64, u64), PathBuf>,
}

/// A step of the swap: what to do at one target of the lower directory.
struct Step {
    target: PathBuf,
    /// Rename the existing target aside first.
    aside: bool,
    /// The staged entry to rename into place.
    staged: Option<PathBuf>,
    /// The directory's new mode and owner (a directory modified in place).
    meta: Option<(u32, u32, u32)>,
}

impl<'a> Commit<'a> {
    fn new(layer: &'a Layer) -> Commit<'a> {
        Commit {
            layer,
            upper: layer.upper(),
            counter: 0,
            staged: Vec::new(),
            links: HashMap::new(),
        }
    }

    fn failed(&self, op: LayerOp, path: &Path, source: io::Error) -> Error {
        Error::CommitFailed {
            dir: self.layer.dir.clone(),
            op,
            path: path.to_owned(),
            source,
        }
    }

    /// A name beside `target` for an entry staged or set aside.
    fn beside(&mut self, target: &Path, what: &str) -> PathBuf {
        self.counter += 1;
        let name = format!(".stockade-{what}-{}-{}", std::process::id(), self.counter);
        target.with_file_name(name)
    }

    fn run(mut self, entries: &[Entry]) -> Result<(), Error> {
        let mut steps = Vec::new();
        let staged = self.stage_all(entries, &mut steps);
        if let Err(e) = staged {
            self.remove_staged();
            return Err(e);
        }
        let mut journal = Vec::new();
        if let Err((op, path, source)) = swap(&steps, &mut journal) {
            self.roll_back(journal)?;
            self.remove_staged();
            return Err(self.failed(op, &path, source));
        }
        // The commit is done: what was set aside goes.
        let mut first_error = None;
        for u in journal {
            if let Undo::Aside { aside, .. } = u {
                if let Err(e) = remove_tree(&aside) {
                    first_error.get_or_insert(io_err(LayerOp::Remove, &aside)(e));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Stages the new contents of every change beside its target, and
    /// plans the swap.
    fn stage_all(&mut self, entries: &[Entry], steps: &mut Vec<Step>) -> Result<(), Error> {
        let lower = self.layer.lower.clone();
        for e in entries.iter().filter(|e| !e.inside_new) {
            let target = lower.join(&e.rel);
            let src = self.upper.join(&e.rel);
            match (e.kind, e.dir) {
                (ChangeKind::Deleted, _) => steps.push(Step {
                    target,
                    aside: true,
                    staged: None,
                    meta: None,
                }),
                (ChangeKind::Modified, true) => {
                    let md = fs::symlink_metadata(&src)
                        .map_err(|err| self.failed(LayerOp::Read, &src, err))?;
                    steps.push(Step {
                        target,
                        aside: false,
                        staged: None,
                        meta: Some((md.mode() & 0o7777, md.uid(), md.gid())),
                    });
                }
                (kind, _) => {
                    let staged = self.beside(&target, "new");
                    self.copy(&src, &staged)
                        .map_err(|err| self.failed(LayerOp::Stage, &target, err))?;
                    steps.push(Step {
                        target,
                        aside: kind != ChangeKind::Added,
                        staged: Some(staged),
                        meta: None,
                    });
                }
            }
        }
        Ok(())
    }

    /// Copies the upper layer's `src` (and all beneath it) to `dst`.
    fn copy(&mut self, src: &Path, dst: &Path) -> io::Result<()> {
        let md = fs::symlink_metadata(src)?;
        let ft = md.file_type();
        if ft.is_dir() {
            fs::DirBuilder::new().mode(0o700).create(dst)?;
            self.staged.push(dst.to_owned());
            let mut names: Vec<OsString> = fs::read_dir(src)?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<_, _>>()?;
            names.sort();
            for n in names {
                let s = src.join(&n);
                if is_whiteout(&fs::symlink_metadata(&s)?) {
                    continue;
                }
                self.copy(&s, &dst.join(&n))?;
            }
            return copy_meta(src, dst, &md);
        }
        if ft.is_file() && md.nlink() > 1 {
            if let Some(first) = self.links.get(&(md.dev(), md.ino())) {
                if fs::hard_link(first, dst).is_ok() {
                    self.staged.push(dst.to_owned());
                    return Ok(());
                }
            }
        }
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(src)?, dst)?;
        } else if ft.is_file() {
            let mut from = File::open(src)?;
            let mut to = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(dst)?;
            self.staged.push(dst.to_owned());
            io::copy(&mut from, &mut to)?;
            if md.nlink() > 1 {
                self.links.insert((md.dev(), md.ino()), dst.to_owned());
            }
        } else {
            let kind = nix::sys::stat::SFlag::from_bits_truncate(md.mode() & libc::S_IFMT);
            let perm = nix::sys::stat::Mode::from_bits_truncate(md.mode() & 0o7777);
            nix::sys::stat::mknod(dst, kind, perm, md.rdev())?;
        }
        if self.staged.last().is_none_or(|s| s != dst) {
            self.staged.push(dst.to_owned());
        }
        copy_meta(src, dst, &md)
    }

    /// Removes every staged entry still present.
    fn remove_staged(&mut self) {
        // Children were staged after their parents: remove the parents,
        // which takes the children along.
        for s in &self.staged {
            if s.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".stockade-new-"))
            {
                let _ = remove_tree(s);
            }
        }
    }

    /// Undoes the journal's steps in reverse.
    fn roll_back(&self, journal: Vec<Undo>) -> Result<(), Error> {
        for u in journal.into_iter().rev() {
            let r = match &u {
                Undo::Placed { target, staged } => fs::rename(target, staged),
                Undo::Aside { target, aside } => fs::rename(aside, target),
                Undo::Meta {
                    target,
                    mode,
                    uid,
                    gid,
                } => std::os::unix::fs::lchown(target, Some(*uid), Some(*gid))
                    .or_else(|e| {
                        if e.raw_os_error() == Some(libc::EPERM) {
                            Ok(())
                        } else {
                            Err(e)
                        }
                    })
                    .and_then(|()| fs::set_permissions(target, fs::Permissions::from_mode(*mode))),
            };
            if let Err(source) = r {
                let (path, aside) = match u {
                    Undo::Placed { target, staged } => (target, staged),
                    Undo::Aside { target, aside } => (target, aside),
                    Undo::Meta { target, .. } => (target.clone(), target),
                };
                return Err(Error::RollbackFailed {
                    dir: self.layer.dir.clone(),
                    path,
                    aside,
                    source,
                });
            }
        }
        Ok(())
    }
}

/// Runs the swap's steps, journaling each rename; stops at the first
/// failure.
fn swap(steps: &[Step], journal: &mut Vec<Undo>) -> Result<(), (LayerOp, PathBuf, io::Error)> {
    let mut n = 0u64;
    for s in steps {
        if let Some((mode, uid, gid)) = s.meta {
            let md = fs::symlink_metadata(&s.target)
                .map_err(|e| (LayerOp::Swap, s.target.clone(), e))?;
            journal.push(Undo::Meta {
                target: s.target.clone(),
                mode: md.mode() & 0o7777,
                uid: md.uid(),
                gid: md.gid(),
            });
            match std::os::unix::fs::lchown(&s.target, Some(uid), Some(gid)) {
                Err(e) if e.raw_os_error() != Some(libc::EPERM) => {
                    return Err((LayerOp::Swap, s.target.clone(), e));
                }
                _ => {}
            }
            fs::set_permissions(&s.target, fs::Permissions::from_mode(mode))
                .map_err(|e| (LayerOp::Swap, s.target.clone(), e))?;
        }
        if s.aside {
            n += 1;
            let aside = s
                .target
                .with_file_name(format!(".stockade-old-{}-{n}", std::process::id()));
            match fs::rename(&s.target, &aside) {
                Ok(()) => journal.push(Undo::Aside {
                    target: s.target.clone(),
                    aside,
                }),
                // Already gone: nothing to set aside.
                Err(e) if e.kind() == io::ErrorKind::NotFound && s.staged.is_none() => {}
                Err(e) => return Err((LayerOp::Swap, s.target.clone(), e)),
            }
        }
        if let Some(staged) = &s.staged {
            fs::rename(staged, &s.target).map_err(|e| (LayerOp::Swap, s.target.clone(), e))?;
            journal.push(Undo::Placed {
                target: s.target.clone(),
                staged: staged.clone(),
            });
        }
    }
    Ok(())
}

/// The locks a spawn holds on the layer directories its policy uses,
/// released when dropped.
#[derive(Debug, Default)]
pub(crate) struct Held(#[allow(dead_code)] Vec<Flock<File>>);

/// One persistent upper layer of a policy: the operation it belongs to,
/// its layer directory, and its lower directories (with the subdirectory
/// of `upper/` each one's changes go to, for a default view).
struct Wanted<'a> {
    op: OpName,
    dir: &'a Path,
    lowers: Vec<(PathBuf, Option<&'static str>)>,
}

/// The persistent upper layers of `cfg`.
fn wanted(cfg: &crate::fs::Config) -> Vec<Wanted<'_>> {
    let mut out = Vec::new();
    if let Some(Upper::Persistent(dir)) = &cfg.writable_root {
        let lowers = match &cfg.root {
            Root::Dir(d) => vec![(d.clone(), None)],
            Root::Layers(layers) => layers.iter().map(|d| (d.clone(), None)).collect(),
            _ => SYSTEM_DIRS
                .iter()
                .filter(|d| fs::symlink_metadata(d).is_ok_and(|m| m.is_dir()))
                .map(|d| (PathBuf::from(d), Some(d.trim_start_matches('/'))))
                .collect(),
        };
        out.push(Wanted {
            op: OpName::Root,
            dir,
            lowers,
        });
    }
    for op in &cfg.ops {
        if let crate::fs::Op::Overlay {
            lower,
            upper: Upper::Persistent(dir),
            ..
        } = op
        {
            out.push(Wanted {
                op: OpName::Overlay,
                dir,
                lowers: vec![(lower.clone(), None)],
            });
        }
    }
    out
}

/// The layer a container's writable root keeps, if persistent.
pub(crate) fn of_root(cfg: &crate::fs::Config) -> Option<Layer> {
    match (&cfg.writable_root, &cfg.root) {
        (Some(Upper::Persistent(dir)), Root::Dir(lower)) => Some(Layer::new(dir, lower)),
        // Changes over stacked layers are kept, but there is no one lower
        // directory to compare them with or commit them to.
        (Some(Upper::Persistent(_)), Root::Layers(_)) => None,
        (Some(Upper::Persistent(dir)), _) => Some(Layer::of_default_view(dir)),
        _ => None,
    }
}

/// Whether `a` and `b` (canonical) overlap: one is, or lies in, the other.
fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Checks, prepares and locks the layer directories of `cfg` for one
/// spawn: each is created if missing (mode 0700), must not be on an
/// overlay, must not overlap its lower directories, must take `user.`
/// extended attributes when the overlay is mounted in a user namespace,
/// and must not be in use; its `upper/` and `work/` are made, the upper
/// of an overlay root with its lower's mode and (where permitted) owner.
pub(crate) fn prepare(cfg: &crate::fs::Config, userns: bool) -> Result<Held, crate::Error> {
    let wanted = wanted(cfg);
    let any_overlay = cfg.writable_root.is_some()
        || cfg
            .ops
            .iter()
            .any(|o| matches!(o, crate::fs::Op::Overlay { .. }))
        || matches!(&cfg.root, Root::Layers(l) if l.len() > 1);
    if any_overlay && userns && !crate::probe::kernel_at_least(5, 11) {
        return Err(crate::Error::Unsupported(crate::error::Unsupported {
            feature: crate::error::Feature::Overlay,
            reason: crate::error::UnsupportedReason::Kernel,
        }));
    }
    let mut held = Vec::new();
    for w in wanted {
        held.push(prepare_one(&w, userns).map_err(crate::error::ConfigError::from)?);
    }
    Ok(Held(held))
}

fn prepare_one(w: &Wanted<'_>, userns: bool) -> Result<Flock<File>, crate::fs::Error> {
    use crate::fs::Error as E;
    let op = w.op;
    let layer_err = |path: &Path| {
        let path = path.to_owned();
        move |source| E::Layer { op, path, source }
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(w.dir)
        .map_err(layer_err(w.dir))?;
    let canon = fs::canonicalize(w.dir).map_err(layer_err(w.dir))?;
    if nix::sys::statfs::statfs(&canon)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::OVERLAYFS_SUPER_MAGIC)
    {
        return Err(E::LayerOnOverlay {
            op,
            path: w.dir.to_owned(),
        });
    }
    for (lower, _) in &w.lowers {
        let l = fs::canonicalize(lower).unwrap_or_else(|_| lower.clone());
        if overlaps(&canon, &l) {
            return Err(E::LayerOverlapsLower {
                op,
                path: w.dir.to_owned(),
                lower: lower.clone(),
            });
        }
    }
    let held = match lock(&canon) {
        Ok(l) => l,
        Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => {
            return Err(E::LayerInUse {
                op,
                path: w.dir.to_owned(),
            });
        }
        Err(e) => return Err(layer_err(&canon.join("lock"))(e)),
    };
    let upper = canon.join("upper");
    let work = canon.join("work");
    // The root of an overlay: over a root directory or stacked layers (the
    // top one shows its root's mode and owner).
    let root_of_overlay = !w.lowers.is_empty() && w.lowers.iter().all(|l| l.1.is_none());
    let make = |dir: &Path, like: Option<&Path>| -> Result<(), E> {
        match fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
            Err(e) => return Err(layer_err(dir)(e)),
        }
        // The upper directory of an overlay is its root: it shows with
        // its own mode and owner, which must be the lower's.
        if let Some(md) = like.and_then(|l| fs::metadata(l).ok()) {
            let _ = std::os::unix::fs::lchown(dir, Some(md.uid()), Some(md.gid()));
            fs::set_permissions(dir, fs::Permissions::from_mode(md.mode() & 0o7777))
                .map_err(layer_err(dir))?;
        }
        Ok(())
    };
    let top = w.lowers.last().map(|l| l.0.as_path());
    make(&upper, top.filter(|_| root_of_overlay))?;
    make(&work, None)?;
    if !root_of_overlay {
        fs::set_permissions(&upper, fs::Permissions::from_mode(0o755))
            .map_err(layer_err(&upper))?;
        for (lower, sub) in &w.lowers {
            let Some(sub) = sub else { continue };
            make(&upper.join(sub), Some(lower))?;
            make(&work.join(sub), None)?;
        }
    }
    if userns {
        let name = OsStr::new("user.stockade.probe");
        match crate::sys::xattr::set(&work, name, b"1") {
            Ok(()) => {
                let _ = crate::sys::xattr::remove(&work, name);
            }
            Err(source) => {
                return Err(E::LayerNoUserXattr {
                    op,
                    path: w.dir.to_owned(),
                    source,
                });
            }
        }
    }
    Ok(held)
}
