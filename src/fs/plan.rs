//! Lowering a filesystem configuration into the mount plan the child zone
//! executes: every string converted, every destination normalized and
//! checked, and the division between a policy's template and each spawn.

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::{Config, DEVICES, Error, NodeKind, Op, OpName, Root, SECRET_FILES, SYSTEM_DIRS, Upper};

/// `/proc` entries made read-only in a fresh `/proc` (writes there reach the
/// host kernel when the caller is root).
const PROC_READONLY: &[&str] = &["sys", "sysrq-trigger", "irq", "bus", "fs"];

/// `/proc` entries hidden in a fresh `/proc` (kernel memory and state that
/// helps attacks).
const PROC_MASKED: &[&str] = &[
    "kcore",
    "keys",
    "timer_list",
    "sched_debug",
    "kallsyms",
    "kmsg",
];

/// Largest tmpfs size accepted (1 TiB); larger values are almost certainly a
/// unit mistake.
const MAX_TMPFS_SIZE: u64 = 1 << 40;

/// Normalizes a destination: absolute, no `..`, `.` and duplicate slashes
/// removed. Returns the path relative to the root, as bytes.
fn normalize_dest(op: OpName, dest: &Path) -> Result<Vec<u8>, Error> {
    if !dest.is_absolute() {
        return Err(Error::BadDestination {
            op,
            path: dest.to_owned(),
        });
    }
    let mut out = Vec::new();
    for c in dest.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(s) => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(s.as_bytes());
            }
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::BadDestination {
                    op,
                    path: dest.to_owned(),
                });
            }
        }
    }
    if out.is_empty() {
        return Err(Error::RootDestination { op });
    }
    if out.contains(&0) {
        return Err(Error::NulByte {
            op,
            path: dest.to_owned(),
        });
    }
    Ok(out)
}

fn cstring(op: OpName, p: &Path) -> Result<CString, Error> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Error::NulByte {
        op,
        path: p.to_owned(),
    })
}

/// A source that cannot be looked up: one with a NUL byte says so (no file
/// can have that name), any other is missing.
fn missing(op: OpName, path: &Path, source: std::io::Error) -> Error {
    if path.as_os_str().as_bytes().contains(&0) {
        Error::NulByte {
            op,
            path: path.to_owned(),
        }
    } else {
        Error::MissingSource {
            op,
            path: path.to_owned(),
            source,
        }
    }
}

fn check_mode(op: OpName, dest: &Path, mode: Option<u32>) -> Result<(), Error> {
    match mode {
        Some(m) if m > 0o7777 => Err(Error::Mode {
            op,
            dest: dest.to_owned(),
            mode: m,
        }),
        _ => Ok(()),
    }
}

/// How the sandbox gets a `/proc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProcKind {
    /// A fresh proc for the sandbox's own pid namespace.
    Fresh,
    /// The host's, bound read-only (no pid namespace).
    HostReadOnly,
}

/// The child-side plan plus what the parent remembers to name errors.
#[derive(Debug)]
pub(crate) struct MountPlan {
    pub(crate) root: RootSpec,
    pub(crate) ops: Vec<Mount>,
    /// For each child op: the index of the caller's operation it came from
    /// (None for defaults) and its destination, for error messages.
    pub(crate) origin: Vec<(Option<usize>, PathBuf)>,
    /// The op that mounts the minimal `/dev` tmpfs; it is made read-only
    /// once every op has run (`/dev/shm` and `/dev/pts` stay writable).
    pub(crate) dev_op: Option<usize>,
    /// How the plan divides between a template mount namespace and each
    /// spawn (`None`: every spawn builds the whole plan).
    pub(crate) template: Option<TemplateSplit>,
    /// The binds of the host's system directories (see `fs::idmap`).
    pub(crate) system: Vec<SystemBind>,
    /// The program's private home in the sandbox, if the plan gives it one.
    pub(crate) home: Option<PathBuf>,
}

/// A bind of one of the host's system directories, which a root caller
/// gives its sandbox as a tree idmapped so that no id the sandbox can be
/// owns anything there (see `fs::idmap`).
#[derive(Debug)]
pub(crate) struct SystemBind {
    /// Its index in `SYSTEM_DIRS`: where the per-spawn array of idmapped
    /// trees holds its tree, if any.
    pub(crate) slot: usize,
    /// The host directory.
    pub(crate) src: CString,
    /// Whether a root caller can make it idmapped: `Some(false)` when the
    /// policy was lowered by a root caller that could not (then the entries
    /// of `/etc` that others may not read are masked instead), `None` when it was lowered
    /// by an unprivileged caller (a root spawn then makes it all the same).
    pub(crate) idmap: Option<bool>,
}

impl MountPlan {
    /// The system binds a root caller gives its sandbox idmapped, as (slot,
    /// host directory).
    pub(crate) fn idmapped_system_binds(&self) -> impl Iterator<Item = (usize, &CStr)> {
        self.system
            .iter()
            .filter(|b| b.idmap != Some(false))
            .map(|b| (b.slot, b.src.as_c_str()))
    }
}

/// The host's secret files (see `fs::host_secrets`), by canonical path,
/// with whether each is a directory: masked beneath every source that
/// contains one. For a root caller, whose program would own the host's
/// root-owned files, they include every entry of `/etc` that others may not
/// read (see `fs::idmap`), found when a source first reaches into `/etc`.
struct Secrets {
    found: Vec<(PathBuf, bool)>,
    /// For a root caller, until its entries have been added: the canonical
    /// `/etc`.
    root_etc: Option<PathBuf>,
}

impl Secrets {
    fn load(root: bool) -> Secrets {
        Secrets {
            found: super::host_secrets()
                .into_iter()
                .filter_map(|s| {
                    let dir = std::fs::symlink_metadata(&s).ok()?.is_dir();
                    Some((std::fs::canonicalize(&s).unwrap_or(s), dir))
                })
                .collect(),
            root_etc: root
                .then(|| std::fs::canonicalize("/etc").unwrap_or_else(|_| PathBuf::from("/etc"))),
        }
    }

    /// The secrets beneath the source `src` of `op`, relative to it, or an
    /// error if `src` is one of them or lies inside one.
    fn beneath(&mut self, op: OpName, src: &Path) -> Result<Vec<(&Path, bool)>, Error> {
        let canon = std::fs::canonicalize(src).unwrap_or_else(|_| src.to_owned());
        if let Some(etc) = self
            .root_etc
            .take_if(|etc| etc.starts_with(&canon) || canon.starts_with(etc))
        {
            for (e, dir) in super::idmap::closed_to_others(&etc) {
                if !self.found.iter().any(|(s, _)| e.starts_with(s)) {
                    self.found.push((e, dir));
                }
            }
        }
        let mut out = Vec::new();
        for (s, dir) in &self.found {
            if canon.starts_with(s) {
                return Err(Error::HostSecret {
                    op,
                    path: src.to_owned(),
                    secret: s.clone(),
                });
            }
            if let Ok(rel) = s.strip_prefix(&canon) {
                out.push((rel, *dir));
            }
        }
        Ok(out)
    }
}

/// The division of a plan between a template mount namespace, built once
/// per policy, and the spawns that copy it.
///
/// The template holds every op whose result is the same for every sandbox
/// and never written by one: binds of host paths, directories, symlinks,
/// files and masks on the read-only root, and the `/dev` tmpfs (sealed
/// read-only). Each spawn mounts what must be its own: `/proc` for its pid
/// namespace, `/dev/pts`, `/dev/shm` and `/tmp`.
#[derive(Debug)]
pub(crate) struct TemplateSplit {
    /// Ops applied in the template, in plan order.
    pub(crate) template_ops: Vec<usize>,
    /// Ops each spawn applies to its copy, in plan order.
    pub(crate) spawn_ops: Vec<usize>,
    /// Mount points the template creates for the spawn ops. None of them may
    /// exist before it does: one that did would mean a template op reached
    /// into a place a spawn op later covers (through a symlink), and moving
    /// that op ahead of the spawn op would change its result.
    pub(crate) mountpoints: Vec<CString>,
    /// Whether the template holds a `proc` instance (of an empty pid
    /// namespace) at `proc`: the kernel lets a user namespace mount a new
    /// `proc` only where one is already fully visible.
    pub(crate) proc_anchor: bool,
}

/// Whether `a` is `b` or lies beneath it.
fn beneath(a: &[u8], b: &[u8]) -> bool {
    a == b || (a.starts_with(b) && a.get(b.len()) == Some(&b'/'))
}

/// Divides a plan between a template and its spawns, or says it cannot be.
///
/// Moving the template's ops ahead of the spawn ops keeps the plan's meaning
/// only when no moved op is at or beneath an earlier spawn op's destination
/// (or the reverse); the template build checks the symlink case.
fn split(
    root: &RootSpec,
    ops: &[Mount],
    origin: &[(Option<usize>, PathBuf)],
    dev_op: Option<usize>,
    proc_kind: ProcKind,
) -> Option<TemplateSplit> {
    if !matches!(root, RootSpec::Tmpfs) || proc_kind != ProcKind::Fresh {
        return None;
    }
    let mut fresh: Vec<&[u8]> = Vec::new();
    let mut template_ops = Vec::new();
    let mut spawn_ops = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let dest = op.dest.to_bytes();
        if dest.is_empty() {
            return None;
        }
        let per_spawn = Some(i) != dev_op
            && matches!(
                op.kind,
                MountKind::Proc
                    | MountKind::ProcReadOnly
                    | MountKind::ProcMask
                    | MountKind::Devpts
                    | MountKind::Mqueue
                    | MountKind::Shm
                    | MountKind::Home { .. }
                    | MountKind::Tmpfs { .. }
            );
        if matches!(op.kind, MountKind::Overlay { .. } | MountKind::Sysfs) {
            // An overlay's upper layer is each sandbox's own, and a sysfs
            // belongs to the network namespace of whoever mounts it: the
            // whole plan is built per spawn.
            return None;
        }
        if per_spawn {
            // The caller's own tmpfs and overlay mounts are not (yet) split.
            if origin.get(i).is_none_or(|o| o.0.is_some()) {
                return None;
            }
            fresh.push(dest);
            spawn_ops.push(i);
        } else {
            if fresh.iter().any(|f| beneath(dest, f) || beneath(f, dest)) {
                return None;
            }
            template_ops.push(i);
        }
    }
    // Spawn ops mask files with a bind of /dev/null, which resolves in the
    // template's root: it must be the host's, bound by the default /dev.
    let masks = spawn_ops
        .iter()
        .any(|&i| matches!(ops.get(i).map(|o| &o.kind), Some(MountKind::ProcMask)));
    let nulls: Vec<&Mount> = ops
        .iter()
        .filter(|o| beneath(o.dest.to_bytes(), b"dev/null"))
        .collect();
    let host_null = matches!(
        nulls.as_slice(),
        [Mount { kind: MountKind::Bind { src, .. }, .. }] if src.to_bytes() == b"/dev/null"
    );
    if masks && !host_null {
        return None;
    }
    let mut mountpoints: Vec<CString> = Vec::new();
    for f in &fresh {
        let nested = fresh.iter().any(|g| g != f && beneath(f, g));
        if !nested && !mountpoints.iter().any(|m| m.to_bytes() == *f) {
            mountpoints.push(CString::new(*f).ok()?);
        }
    }
    let proc_anchor = ops.iter().any(|o| matches!(o.kind, MountKind::Proc));
    Some(TemplateSplit {
        template_ops,
        spawn_ops,
        mountpoints,
        proc_anchor,
    })
}

/// What an existing destination is, as far as the plan knows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Known {
    Dir,
    File,
}

struct Builder {
    ops: Vec<Mount>,
    origin: Vec<(Option<usize>, PathBuf)>,
    known: std::collections::HashMap<Vec<u8>, Known>,
}

impl Builder {
    /// Masks, beneath `dest` (relative to the root), the host secrets a
    /// source of operation `origin` holds at `beneath`.
    fn mask_secrets(&mut self, origin: Option<usize>, dest: &[u8], beneath: &[(&Path, bool)]) {
        for (rel, dir) in beneath {
            let mut d = dest.to_vec();
            if !d.is_empty() {
                d.push(b'/');
            }
            d.extend_from_slice(rel.as_os_str().as_bytes());
            self.push(origin, &d, MountKind::Mask { dir: *dir });
        }
    }

    fn push(&mut self, origin: Option<usize>, dest: &[u8], kind: MountKind) {
        self.ops.push(Mount {
            dest: CString::new(dest).unwrap_or_default(),
            kind,
        });
        self.origin
            .push((origin, Path::new("/").join(OsStr::from_bytes(dest))));
    }
}

/// Builds the child-side plan, for the calling process's identity: a root
/// caller's plan records whether its system binds can be idmapped, masks
/// the entries of `/etc` that others may not read where they cannot, and
/// counts those among the secrets masked beneath its own sources (see
/// `fs::idmap`).
///
/// `owner` is the program's uid and gid as the sandbox sees them: the owner
/// of its private home.
pub(crate) fn plan(
    cfg: &Config,
    proc_kind: ProcKind,
    owner: (u32, u32),
) -> Result<MountPlan, Error> {
    let root = nix::unistd::geteuid().is_root();
    plan_with(cfg, proc_kind, root, owner, &super::idmap::supported)
}

/// Where the default view puts the program's private home: the caller's
/// `HOME` when it names a place of its own (absolute, not `/`, not in or
/// above a directory the view already provides), else [`FALLBACK_HOME`].
/// Relative to the new root.
fn home_dest(caller_home: Option<&OsStr>) -> Vec<u8> {
    let provided: Vec<&str> = SYSTEM_DIRS
        .iter()
        .map(|d| d.trim_start_matches('/'))
        .chain(["proc", "dev", "tmp", "sys", "run"])
        .collect();
    caller_home
        .map(Path::new)
        .and_then(|h| normalize_dest(OpName::Dir, h).ok())
        .filter(|rel| {
            !provided
                .iter()
                .any(|p| beneath(rel, p.as_bytes()) || beneath(p.as_bytes(), rel))
        })
        .unwrap_or_else(|| FALLBACK_HOME.trim_start_matches('/').as_bytes().to_vec())
}

/// The program's private home in a sandbox of `cfg`, if it gets one (see
/// [`Sandbox::private_home`](crate::Sandbox::private_home)): only in the
/// default view, and not where the policy puts anything at, in or above it.
/// Read from the caller's `HOME` when the policy is lowered.
pub(crate) fn home_path(cfg: &Config) -> Option<PathBuf> {
    if !cfg.home || cfg.root != Root::HostSystem {
        return None;
    }
    let rel = home_dest(std::env::var_os("HOME").as_deref());
    let taken = cfg.ops.iter().any(|op| {
        normalize_dest(op.name(), op.dest()).is_ok_and(|d| beneath(&d, &rel) || beneath(&rel, &d))
    });
    (!taken).then(|| Path::new("/").join(OsStr::from_bytes(&rel)))
}

/// The private home's path when the caller's `HOME` cannot serve.
pub(crate) const FALLBACK_HOME: &str = "/home/sandbox";

/// Builds the child-side plan, for a root caller (`caller_root`) or not.
/// For a root caller, `idmap` tells whether it can give a system directory
/// to a sandbox idmapped.
fn plan_with(
    cfg: &Config,
    proc_kind: ProcKind,
    caller_root: bool,
    owner: (u32, u32),
    idmap: &dyn Fn(&CStr) -> bool,
) -> Result<MountPlan, Error> {
    let mut b = Builder {
        ops: Vec::new(),
        origin: Vec::new(),
        known: Default::default(),
    };
    let mut secrets: Option<Secrets> = None;
    let mut system = Vec::new();
    if cfg.writable_root.is_some() && cfg.root == Root::Empty {
        return Err(Error::WritableEmptyRoot);
    }
    let root = match &cfg.root {
        Root::HostSystem | Root::Empty => RootSpec::Tmpfs,
        Root::Dir(dir) => tree_root(
            &mut b,
            &mut secrets,
            cfg,
            caller_root,
            std::slice::from_ref(dir),
            cfg.root_bind,
        )?,
        Root::Layers(layers) => {
            if layers.is_empty() || layers.len() > super::MAX_LAYERS {
                return Err(Error::LayerCount {
                    count: layers.len(),
                });
            }
            tree_root(
                &mut b,
                &mut secrets,
                cfg,
                caller_root,
                layers,
                super::RootBind::ReadOnly,
            )?
        }
    };

    if cfg.root == Root::HostSystem {
        let mut etc_unguarded = false;
        for (slot, dir) in SYSTEM_DIRS.iter().enumerate() {
            let p = Path::new(dir);
            let Ok(md) = std::fs::symlink_metadata(p) else {
                continue;
            };
            let rel = dir.trim_start_matches('/').as_bytes();
            if md.file_type().is_symlink() {
                // Merged-/usr systems: /bin -> usr/bin stays a symlink.
                let target = std::fs::read_link(p).unwrap_or_default();
                b.push(
                    None,
                    rel,
                    MountKind::Symlink {
                        target: cstring(OpName::Symlink, &target)?,
                    },
                );
            } else if md.is_dir() && cfg.writable_root.is_some() {
                // A writable default view: each system directory is an
                // overlay whose upper is that directory of the one upper
                // tree. A root caller's are not idmapped (the program
                // owns what it writes there): what only root may read in
                // `/etc` is masked instead.
                let upper = cfg.writable_root.as_ref().unwrap_or(&Upper::Temporary);
                let sub = dir.trim_start_matches('/');
                b.push(
                    None,
                    rel,
                    MountKind::Overlay {
                        lower: cstring(OpName::Root, p)?,
                        upper: upper_spec(OpName::Root, upper, Some(sub))?,
                    },
                );
                b.known.insert(rel.to_vec(), Known::Dir);
                if *dir == "/etc" && caller_root {
                    etc_unguarded = true;
                }
            } else if md.is_dir() {
                let src = cstring(OpName::BindRo, p)?;
                let guard = caller_root.then(|| idmap(&src));
                if *dir == "/etc" && guard == Some(false) {
                    etc_unguarded = true;
                }
                system.push(SystemBind {
                    slot,
                    src: src.clone(),
                    idmap: guard,
                });
                b.push(
                    None,
                    rel,
                    MountKind::Bind {
                        src,
                        read_only: true,
                        dir: true,
                        devices: false,
                        no_exec: false,
                        slot: Some(slot),
                    },
                );
                b.known.insert(rel.to_vec(), Known::Dir);
            }
        }
        let first_mask = b.ops.len();
        if cfg.mask_secrets {
            for s in SECRET_FILES {
                let p = Path::new(s);
                if let Ok(md) = std::fs::symlink_metadata(p) {
                    if md.file_type().is_symlink() {
                        continue;
                    }
                    b.push(
                        None,
                        s.trim_start_matches('/').as_bytes(),
                        MountKind::Mask { dir: md.is_dir() },
                    );
                }
            }
            // SSH host private keys.
            if let Ok(rd) = std::fs::read_dir("/etc/ssh") {
                let mut keys: Vec<PathBuf> = rd
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .and_then(OsStr::to_str)
                            .is_some_and(|n| n.starts_with("ssh_host_") && n.ends_with("_key"))
                    })
                    .collect();
                keys.sort();
                for k in keys {
                    let rel = k.as_os_str().as_bytes()[1..].to_vec();
                    b.push(None, &rel, MountKind::Mask { dir: false });
                }
            }
        }
        if etc_unguarded {
            // A root caller whose /etc cannot be idmapped: what only root
            // may read there is masked instead (see `fs::idmap`).
            for (p, dir) in super::idmap::closed_to_others(Path::new("/etc")) {
                let rel = &p.as_os_str().as_bytes()[1..];
                let masked = b.ops[first_mask..].iter().any(|o| {
                    matches!(o.kind, MountKind::Mask { .. }) && beneath(rel, o.dest.to_bytes())
                });
                if !masked {
                    b.push(None, rel, MountKind::Mask { dir });
                }
            }
        }
    }
    if cfg.proc {
        match proc_kind {
            ProcKind::Fresh => {
                b.push(None, b"proc", MountKind::Proc);
                for e in PROC_READONLY {
                    let rel = format!("proc/{e}");
                    b.push(None, rel.as_bytes(), MountKind::ProcReadOnly);
                }
                for e in PROC_MASKED {
                    let rel = format!("proc/{e}");
                    b.push(None, rel.as_bytes(), MountKind::ProcMask);
                }
            }
            ProcKind::HostReadOnly => {
                b.push(
                    None,
                    b"proc",
                    MountKind::Bind {
                        src: c"/proc".to_owned(),
                        read_only: true,
                        dir: true,
                        devices: false,
                        no_exec: false,
                        slot: None,
                    },
                );
            }
        }
        b.known.insert(b"proc".to_vec(), Known::Dir);
    }
    let mut dev_op = None;
    if cfg.dev {
        dev_op = Some(b.ops.len());
        b.push(
            None,
            b"dev",
            MountKind::Tmpfs {
                read_only: false,
                mode: 0o755,
                size: Some(65536),
            },
        );
        for d in DEVICES {
            let src = format!("/dev/{d}");
            if std::fs::metadata(&src).is_ok() {
                let rel = format!("dev/{d}");
                b.push(
                    None,
                    rel.as_bytes(),
                    MountKind::Bind {
                        src: CString::new(src).unwrap_or_default(),
                        read_only: false,
                        dir: false,
                        devices: true,
                        no_exec: false,
                        slot: None,
                    },
                );
            }
        }
        b.push(None, b"dev/pts", MountKind::Devpts);
        b.push(
            None,
            b"dev/ptmx",
            MountKind::Symlink {
                target: c"pts/ptmx".to_owned(),
            },
        );
        b.push(None, b"dev/shm", MountKind::Shm);
        if cfg.mqueue {
            b.push(None, b"dev/mqueue", MountKind::Mqueue);
        }
        for (name, target) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ] {
            let rel = format!("dev/{name}");
            b.push(
                None,
                rel.as_bytes(),
                MountKind::Symlink {
                    target: CString::new(target).unwrap_or_default(),
                },
            );
        }
        b.known.insert(b"dev".to_vec(), Known::Dir);
    }
    // After /dev, as container engines order them.
    if cfg.sys {
        b.push(None, b"sys", MountKind::Sysfs);
        b.known.insert(b"sys".to_vec(), Known::Dir);
    }
    let home = home_path(cfg);
    if let Some(path) = &home {
        if let Ok(rel) = normalize_dest(OpName::Dir, path) {
            b.push(
                None,
                &rel,
                MountKind::Home {
                    uid: owner.0,
                    gid: owner.1,
                },
            );
            b.known.insert(rel, Known::Dir);
        }
    }
    if cfg.tmp {
        b.push(
            None,
            b"tmp",
            MountKind::Tmpfs {
                read_only: false,
                mode: 0o1777,
                size: None,
            },
        );
        b.known.insert(b"tmp".to_vec(), Known::Dir);
    }

    for (i, op) in cfg.ops.iter().enumerate() {
        let name = op.name();
        let rel = normalize_dest(name, op.dest())?;
        match op {
            Op::Bind {
                src,
                read_only,
                optional,
                devices,
                no_exec,
                dest,
            } => {
                if !src.is_absolute() {
                    return Err(Error::RelativeSource {
                        op: name,
                        path: src.clone(),
                    });
                }
                let md = match std::fs::metadata(src) {
                    Ok(md) => md,
                    Err(_) if *optional => continue,
                    Err(e) => return Err(missing(name, src, e)),
                };
                let dir = md.is_dir();
                let hidden = if cfg.mask_secrets {
                    secrets
                        .get_or_insert_with(|| Secrets::load(caller_root))
                        .beneath(name, src)?
                } else {
                    Vec::new()
                };
                if let Some(k) = b.known.get(&rel) {
                    if (*k == Known::Dir) != dir {
                        let kind = |d| {
                            if d {
                                NodeKind::Directory
                            } else {
                                NodeKind::File
                            }
                        };
                        return Err(Error::KindMismatch {
                            op: name,
                            src: src.clone(),
                            dest: dest.clone(),
                            src_kind: kind(dir),
                            dest_kind: kind(*k == Known::Dir),
                        });
                    }
                }
                b.known
                    .insert(rel.clone(), if dir { Known::Dir } else { Known::File });
                b.push(
                    Some(i),
                    &rel,
                    MountKind::Bind {
                        src: cstring(name, src)?,
                        read_only: *read_only,
                        dir,
                        devices: *devices,
                        no_exec: *no_exec,
                        slot: None,
                    },
                );
                b.mask_secrets(Some(i), &rel, &hidden);
            }
            Op::Tmpfs { dest, options } => {
                check_mode(name, dest, options.mode)?;
                if let Some(size) = options.size {
                    if size == 0 || size > MAX_TMPFS_SIZE {
                        return Err(Error::TmpfsSize {
                            dest: dest.clone(),
                            size,
                        });
                    }
                }
                b.known.insert(rel.clone(), Known::Dir);
                b.push(
                    Some(i),
                    &rel,
                    MountKind::Tmpfs {
                        read_only: false,
                        mode: options.mode.unwrap_or(0o755),
                        size: options.size,
                    },
                );
            }
            Op::Dir { dest, mode } => {
                check_mode(name, dest, *mode)?;
                b.known.insert(rel.clone(), Known::Dir);
                b.push(
                    Some(i),
                    &rel,
                    MountKind::Dir {
                        mode: mode.unwrap_or(0o755),
                    },
                );
            }
            Op::Symlink { target, .. } => {
                b.push(
                    Some(i),
                    &rel,
                    MountKind::Symlink {
                        target: cstring(name, target)?,
                    },
                );
            }
            Op::File {
                dest,
                contents,
                mode,
            } => {
                check_mode(name, dest, *mode)?;
                if contents.len() > 16 << 20 {
                    return Err(Error::FileTooLarge {
                        dest: dest.clone(),
                        len: contents.len(),
                    });
                }
                b.known.insert(rel.clone(), Known::File);
                b.push(
                    Some(i),
                    &rel,
                    MountKind::File {
                        contents: contents.clone(),
                        mode: mode.unwrap_or(0o444),
                    },
                );
            }
            Op::Overlay { lower, upper, .. } => {
                if !lower.is_absolute() {
                    return Err(Error::RelativeSource {
                        op: name,
                        path: lower.clone(),
                    });
                }
                let md = std::fs::metadata(lower).map_err(|e| missing(name, lower, e))?;
                if !md.is_dir() {
                    return Err(Error::NotADirectory {
                        op: name,
                        path: lower.clone(),
                    });
                }
                let hidden = if cfg.mask_secrets {
                    secrets
                        .get_or_insert_with(|| Secrets::load(caller_root))
                        .beneath(name, lower)?
                } else {
                    Vec::new()
                };
                b.known.insert(rel.clone(), Known::Dir);
                b.push(
                    Some(i),
                    &rel,
                    MountKind::Overlay {
                        lower: cstring(name, lower)?,
                        upper: upper_spec(name, upper, None)?,
                    },
                );
                b.mask_secrets(Some(i), &rel, &hidden);
            }
            Op::Mask { .. } => {
                let dir = b.known.get(&rel).map(|k| *k == Known::Dir);
                b.push(Some(i), &rel, MountKind::MaskAuto { known_dir: dir });
            }
        }
    }
    let template = split(&root, &b.ops, &b.origin, dev_op, proc_kind);
    Ok(MountPlan {
        root,
        ops: b.ops,
        origin: b.origin,
        dev_op,
        template,
        system,
        home,
    })
}

/// The root made of host directories `dirs`, the bottom one first (one
/// for [`Root::Dir`], the layers of [`Root::Layers`]): each checked, the
/// host's secrets beneath each masked, and stacked as an overlay when
/// there are several or the root is writable (`bind`: how a single one is
/// bound otherwise).
fn tree_root(
    b: &mut Builder,
    secrets: &mut Option<Secrets>,
    cfg: &Config,
    caller_root: bool,
    dirs: &[PathBuf],
    bind: super::RootBind,
) -> Result<RootSpec, Error> {
    let mut lowers = Vec::with_capacity(dirs.len());
    for dir in dirs {
        if !dir.is_absolute() {
            return Err(Error::RelativeSource {
                op: OpName::Root,
                path: dir.clone(),
            });
        }
        let md = std::fs::metadata(dir).map_err(|e| missing(OpName::Root, dir, e))?;
        if !md.is_dir() {
            return Err(Error::NotADirectory {
                op: OpName::Root,
                path: dir.clone(),
            });
        }
        if cfg.mask_secrets {
            let sec = secrets.get_or_insert_with(|| Secrets::load(caller_root));
            b.mask_secrets(None, b"", &sec.beneath(OpName::Root, dir)?);
        }
        lowers.push(cstring(OpName::Root, dir)?);
    }
    Ok(match (&cfg.writable_root, lowers.len()) {
        (None, 1) => RootSpec::Dir(lowers.remove(0), bind),
        (Some(upper), 1) => RootSpec::Overlay {
            lower: lowers.remove(0),
            upper: upper_spec(OpName::Root, upper, None)?,
        },
        (upper, _) => RootSpec::Layers {
            lowers,
            upper: upper
                .as_ref()
                .map(|u| upper_spec(OpName::Root, u, None))
                .transpose()?,
        },
    })
}

/// How the new root is made.
#[derive(Debug)]
pub(crate) enum RootSpec {
    /// A fresh tmpfs, made read-only once built.
    Tmpfs,
    /// A host directory, cloned recursively; read-only unless the bind
    /// says otherwise.
    Dir(CString, super::RootBind),
    /// A writable overlay of a host directory (its submounts are not
    /// part of it).
    Overlay { lower: CString, upper: UpperSpec },
    /// An overlay of at least two stacked host directories, the bottom
    /// one first; read-only without an upper layer.
    Layers {
        lowers: Vec<CString>,
        upper: Option<UpperSpec>,
    },
}

/// Where a planned overlay's upper layer is.
#[derive(Debug, Clone)]
pub(crate) enum UpperSpec {
    /// In a fresh tmpfs of the spawn.
    Temporary,
    /// In a layer directory: the overlay's `upper` and `work` directories
    /// (created by the caller before each spawn, see `crate::layer`).
    Persistent { upper: CString, work: CString },
}

/// The child-side form of `upper` for an overlay of `lower` by `op`: for
/// a persistent layer, its `upper/` and `work/` (or their subdirectory
/// `sub`, for one system directory of a writable default view). The layer
/// directory itself is checked and prepared by each spawn (see
/// `crate::layer`).
fn upper_spec(op: OpName, upper: &Upper, sub: Option<&str>) -> Result<UpperSpec, Error> {
    match upper {
        Upper::Temporary => Ok(UpperSpec::Temporary),
        Upper::Persistent(dir) => {
            if !dir.is_absolute() {
                return Err(Error::RelativeSource {
                    op,
                    path: dir.clone(),
                });
            }
            let (mut u, mut w) = (dir.join("upper"), dir.join("work"));
            if let Some(sub) = sub {
                u.push(sub);
                w.push(sub);
            }
            Ok(UpperSpec::Persistent {
                upper: cstring(op, &u)?,
                work: cstring(op, &w)?,
            })
        }
    }
}

/// One child-side operation: a destination relative to the new root and what
/// to put there.
#[derive(Debug)]
pub(crate) struct Mount {
    pub(crate) dest: CString,
    pub(crate) kind: MountKind,
}

#[derive(Debug)]
pub(crate) enum MountKind {
    /// A bind of a host path, resolved in the caller's view.
    Bind {
        src: CString,
        read_only: bool,
        dir: bool,
        devices: bool,
        no_exec: bool,
        /// For a system directory: its slot among the spawn's idmapped
        /// trees, used instead of a clone of `src` when present.
        slot: Option<usize>,
    },
    Tmpfs {
        read_only: bool,
        mode: u32,
        size: Option<u64>,
    },
    Dir {
        mode: u32,
    },
    Symlink {
        target: CString,
    },
    File {
        contents: Vec<u8>,
        mode: u32,
    },
    /// An overlay whose lower layer is the host directory `lower`, resolved
    /// in the caller's view.
    Overlay {
        lower: CString,
        upper: UpperSpec,
    },
    Mask {
        dir: bool,
    },
    MaskAuto {
        known_dir: Option<bool>,
    },
    Proc,
    /// A fresh, read-only sysfs of the sandbox's network namespace.
    Sysfs,
    ProcReadOnly,
    ProcMask,
    Devpts,
    /// A fresh mqueue filesystem: the message queues of the IPC namespace
    /// of the process that mounts it.
    Mqueue,
    /// The minimal /dev's `shm`: a tmpfs of mode 1777 whose source reads
    /// `shm`, as container engines name it.
    Shm,
    /// The program's private home: an empty tmpfs of mode 0700 owned by
    /// the program's ids (as the sandbox's user namespace sees them).
    Home {
        uid: u32,
        gid: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::TmpfsOptions;

    #[test]
    fn destinations_are_normalized_or_rejected() {
        assert_eq!(
            normalize_dest(OpName::Dir, Path::new("/a//b/./c")).unwrap(),
            b"a/b/c"
        );
        assert!(matches!(
            normalize_dest(OpName::Dir, Path::new("a/b")),
            Err(Error::BadDestination {
                op: OpName::Dir,
                ..
            })
        ));
        assert!(matches!(
            normalize_dest(OpName::Tmpfs, Path::new("/a/../etc")),
            Err(Error::BadDestination {
                op: OpName::Tmpfs,
                ..
            })
        ));
        assert!(matches!(
            normalize_dest(OpName::Tmpfs, Path::new("/")),
            Err(Error::RootDestination { .. })
        ));
    }

    #[test]
    fn bad_inputs_give_typed_errors() {
        let mut cfg = Config::default();
        cfg.ops.push(Op::Tmpfs {
            dest: "/x".into(),
            options: TmpfsOptions {
                size: Some(0),
                mode: None,
            },
        });
        assert!(matches!(
            plan(&cfg, ProcKind::Fresh, (0, 0)),
            Err(Error::TmpfsSize { size: 0, .. })
        ));

        let mut cfg = Config::default();
        cfg.ops.push(Op::Tmpfs {
            dest: "/x".into(),
            options: TmpfsOptions {
                size: None,
                mode: Some(0o17777),
            },
        });
        assert!(matches!(
            plan(&cfg, ProcKind::Fresh, (0, 0)),
            Err(Error::Mode { mode: 0o17777, .. })
        ));

        let mut cfg = Config::default();
        cfg.ops.push(Op::Bind {
            src: "/definitely/not/here".into(),
            dest: "/x".into(),
            read_only: true,
            optional: false,
            devices: false,
            no_exec: false,
        });
        assert!(matches!(
            plan(&cfg, ProcKind::Fresh, (0, 0)),
            Err(Error::MissingSource {
                op: OpName::BindRo,
                ..
            })
        ));

        let mut cfg = Config::default();
        cfg.ops.push(Op::Bind {
            src: "/definitely/not/here".into(),
            dest: "/x".into(),
            read_only: true,
            optional: true,
            devices: false,
            no_exec: false,
        });
        assert!(plan(&cfg, ProcKind::Fresh, (0, 0)).is_ok());

        let mut cfg = Config::default();
        cfg.ops.push(Op::File {
            dest: "/f".into(),
            contents: b"x".to_vec(),
            mode: None,
        });
        cfg.ops.push(Op::Bind {
            src: "/usr".into(),
            dest: "/f".into(),
            read_only: true,
            optional: false,
            devices: false,
            no_exec: false,
        });
        assert!(matches!(
            plan(&cfg, ProcKind::Fresh, (0, 0)),
            Err(Error::KindMismatch {
                src_kind: NodeKind::Directory,
                dest_kind: NodeKind::File,
                ..
            })
        ));
    }

    #[test]
    fn default_view_masks_secrets_and_keeps_symlinks() {
        let p = plan(&Config::default(), ProcKind::Fresh, (0, 0)).unwrap();
        let dests: Vec<&[u8]> = p.ops.iter().map(|o| o.dest.as_bytes()).collect();
        if Path::new("/etc/shadow").exists() {
            let i = dests
                .iter()
                .position(|d| *d == b"etc/shadow")
                .expect("shadow masked");
            assert!(matches!(p.ops[i].kind, MountKind::Mask { dir: false }));
        }
        if std::fs::symlink_metadata("/bin").is_ok_and(|m| m.file_type().is_symlink()) {
            let i = dests.iter().position(|d| *d == b"bin").unwrap();
            assert!(matches!(p.ops[i].kind, MountKind::Symlink { .. }));
        }
        assert!(dests.contains(&&b"proc"[..]));
        assert!(dests.contains(&&b"dev/null"[..]));
        assert!(dests.contains(&&b"tmp"[..]));
    }

    /// The destinations of the masks of `p`.
    fn masks(p: &MountPlan) -> Vec<&[u8]> {
        p.ops
            .iter()
            .filter(|o| matches!(o.kind, MountKind::Mask { .. }))
            .map(|o| o.dest.as_bytes())
            .collect()
    }

    #[test]
    fn system_binds_are_idmapped_for_root_or_masked_under_etc() {
        let cfg = Config::default();
        // Unprivileged, or root with idmapped mounts: only the secrets.
        let plain = plan_with(&cfg, ProcKind::Fresh, false, (0, 0), &|_| true).unwrap();
        let idmapped = plan_with(&cfg, ProcKind::Fresh, true, (0, 0), &|_| true).unwrap();
        assert_eq!(masks(&plain), masks(&idmapped));
        assert!(plain.system.iter().all(|b| b.idmap.is_none()));
        assert!(idmapped.system.iter().all(|b| b.idmap == Some(true)));
        assert!(plain.system.iter().any(|b| b.src.as_bytes() == b"/etc"));
        for b in &plain.system {
            let op = plain
                .ops
                .iter()
                .find(|o| matches!(o.kind, MountKind::Bind { slot: Some(s), .. } if s == b.slot))
                .expect("the system bind's op");
            assert_eq!(SYSTEM_DIRS[b.slot].as_bytes()[1..], *op.dest.as_bytes());
        }
        // Root without: every root-only entry of /etc is masked (itself or
        // beneath a masked directory).
        let fallback = plan_with(&cfg, ProcKind::Fresh, true, (0, 0), &|_| false).unwrap();
        let m = masks(&fallback);
        for (e, _) in crate::fs::idmap::closed_to_others(Path::new("/etc")) {
            let rel = &e.as_os_str().as_bytes()[1..];
            assert!(m.iter().any(|d| beneath(rel, d)), "{e:?} not masked");
        }
        assert!(m.len() >= masks(&plain).len());
    }

    #[test]
    fn secrets_beneath_a_source_stay_masked_and_a_secret_source_is_refused() {
        // Any of the host's secret files directly under /etc will do.
        let Some(secret) = crate::fs::host_secrets()
            .into_iter()
            .find(|s| s.parent() == Some(Path::new("/etc")) && s.is_file())
        else {
            assert!(
                std::env::var_os("STOCKADE_REQUIRE_ALL_FEATURES").is_none_or(|v| v != "1"),
                "no secret file under /etc on this host"
            );
            eprintln!("SKIPPED: no secret file under /etc on this host");
            return;
        };
        let name = secret.file_name().unwrap().as_bytes();
        let bind = |src: &Path, dest: &str| Op::Bind {
            src: src.into(),
            dest: dest.into(),
            read_only: true,
            optional: false,
            devices: false,
            no_exec: false,
        };
        let mut cfg = Config::default();
        cfg.ops.push(bind(Path::new("/etc"), "/x"));
        cfg.ops.push(bind(Path::new("/"), "/h"));
        cfg.ops.push(Op::Overlay {
            lower: "/etc".into(),
            dest: "/o".into(),
            upper: Upper::Temporary,
        });
        let p = plan_with(&cfg, ProcKind::Fresh, false, (0, 0), &|_| true).unwrap();
        let m = masks(&p);
        for d in ["x/", "h/etc/", "o/"] {
            let d = [d.as_bytes(), name].concat();
            assert!(
                m.contains(&&d[..]),
                "{:?} not masked",
                String::from_utf8_lossy(&d)
            );
        }
        // Each mask follows the op it belongs to, and names it.
        let x = [&b"x/"[..], name].concat();
        let i = p.ops.iter().position(|o| o.dest.as_bytes() == x).unwrap();
        assert!(matches!(
            p.ops[i - 1].kind,
            MountKind::Bind { .. } | MountKind::Mask { .. }
        ));
        assert_eq!(p.origin[i].0, Some(0));
        let cfg = Config {
            root: Root::Dir("/".into()),
            ..Config::default()
        };
        let p = plan_with(&cfg, ProcKind::Fresh, false, (0, 0), &|_| true).unwrap();
        let e = [&b"etc/"[..], name].concat();
        assert!(masks(&p).contains(&&e[..]));

        for src in [
            secret.clone(),
            Path::new("/etc/../etc").join(secret.file_name().unwrap()),
        ] {
            let mut cfg = Config::default();
            cfg.ops.push(bind(&src, "/s"));
            match plan_with(&cfg, ProcKind::Fresh, false, (0, 0), &|_| true) {
                Err(Error::HostSecret {
                    op: OpName::BindRo,
                    secret: s,
                    ..
                }) => assert_eq!(s, secret),
                other => panic!("{src:?}: {other:?}"),
            }
            cfg.mask_secrets = false;
            let p = plan_with(&cfg, ProcKind::Fresh, false, (0, 0), &|_| true).unwrap();
            assert!(masks(&p).is_empty());
        }
    }
}
