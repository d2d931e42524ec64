//! Finding the cgroup v2 mount and the calling process's cgroup.

use std::path::{Component, Path, PathBuf};

use super::error::Error;
use super::kinds::Controller;
use super::os::Os;

/// A cgroup2 mount from /proc/self/mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cgroup2Mount {
    /// Where it is mounted.
    pub(crate) mount_point: PathBuf,
    /// Which cgroup of the hierarchy is the mount's root (`/` for a full mount).
    pub(crate) root: PathBuf,
}

/// What /proc/self/mountinfo says about cgroups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mounts {
    pub(crate) cgroup2: Vec<Cgroup2Mount>,
    /// Controllers attached to a mounted cgroup v1 hierarchy.
    pub(crate) v1: Vec<Controller>,
}

/// What /proc/self/cgroup says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SelfCgroup {
    /// The `0::` line's path, relative to the cgroup namespace's root.
    pub(crate) v2: Option<PathBuf>,
    /// Controllers that appear on a cgroup v1 line (`4:memory:/...`).
    pub(crate) v1: Vec<Controller>,
}

/// Everything discovered about the caller's cgroup situation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Discovery {
    pub(crate) mounts: Vec<Cgroup2Mount>,
    /// Controllers bound to cgroup v1 (hybrid or legacy layout).
    pub(crate) v1: Vec<Controller>,
    /// The caller's cgroup, as a hierarchy path (`/user.slice/...`).
    pub(crate) own: PathBuf,
    /// The caller's cgroup directory.
    pub(crate) own_dir: PathBuf,
    /// The mount point of the hierarchy containing the caller's cgroup.
    pub(crate) mount_point: PathBuf,
}

/// Undoes mountinfo's octal escapes (`\040` for a space and so on).
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' && i + 3 < bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            if oct.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Parses /proc/self/mountinfo. Returns the 1-based number of a malformed line.
pub(crate) fn parse_mountinfo(text: &str) -> Result<Mounts, usize> {
    let mut mounts = Mounts::default();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        // id parent major:minor root mount-point options [optional...] - fstype source super-options
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            return Err(n + 1);
        };
        if sep < 6 || fields.len() < sep + 3 {
            return Err(n + 1);
        }
        let (root, mount_point) = (fields[3], fields[4]);
        let (fstype, super_opts) = (fields[sep + 1], fields[sep + 3..].join(" "));
        match fstype {
            "cgroup2" => mounts.cgroup2.push(Cgroup2Mount {
                mount_point: unescape(mount_point),
                root: unescape(root),
            }),
            "cgroup" => {
                for opt in super_opts.split(',') {
                    if let Some(c) = Controller::from_v1_name(opt) {
                        if !mounts.v1.contains(&c) {
                            mounts.v1.push(c);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(mounts)
}

/// Parses /proc/self/cgroup. Returns the 1-based number of a malformed line.
pub(crate) fn parse_self_cgroup(text: &str) -> Result<SelfCgroup, usize> {
    let mut out = SelfCgroup::default();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(n + 1);
        };
        if id == "0" && controllers.is_empty() {
            out.v2 = Some(PathBuf::from(path));
        } else {
            for name in controllers.split(',') {
                if let Some(c) = Controller::from_v1_name(name) {
                    if !out.v1.contains(&c) {
                        out.v1.push(c);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `path` relative to `base` when it lies inside it (component-wise).
fn strip(path: &Path, base: &Path) -> Option<PathBuf> {
    path.strip_prefix(base).ok().map(Path::to_path_buf)
}

/// `base/rest`, without a trailing slash when `rest` is empty.
fn join(base: &Path, rest: &Path) -> PathBuf {
    if rest.as_os_str().is_empty() {
        base.to_path_buf()
    } else {
        base.join(rest)
    }
}

impl Discovery {
    /// Combines the two files' contents.
    pub(crate) fn from_texts(self_cgroup: &str, mountinfo: &str) -> Result<Discovery, Error> {
        let sc = parse_self_cgroup(self_cgroup).map_err(|line| Error::Malformed {
            path: "/proc/self/cgroup".into(),
            line,
        })?;
        let mi = parse_mountinfo(mountinfo).map_err(|line| Error::Malformed {
            path: "/proc/self/mountinfo".into(),
            line,
        })?;
        let mut v1 = sc.v1;
        for c in mi.v1 {
            if !v1.contains(&c) {
                v1.push(c);
            }
        }
        let (Some(own), false) = (sc.v2, mi.cgroup2.is_empty()) else {
            return Err(Error::NoCgroup2);
        };
        if own.components().any(|c| c == Component::ParentDir) || !own.is_absolute() {
            return Err(Error::OwnCgroupNotVisible { own });
        }
        // The mount whose root is the deepest ancestor of our cgroup.
        let best = mi
            .cgroup2
            .iter()
            .filter_map(|m| strip(&own, &m.root).map(|rest| (m, rest)))
            .max_by_key(|(m, _)| m.root.components().count());
        let Some((mount, rest)) = best else {
            return Err(Error::OwnCgroupNotVisible { own });
        };
        Ok(Discovery {
            own_dir: join(&mount.mount_point, &rest),
            mount_point: mount.mount_point.clone(),
            mounts: mi.cgroup2.clone(),
            v1,
            own,
        })
    }

    /// Reads and parses the caller's files through `os`.
    pub(crate) fn load(os: &dyn Os) -> Result<Discovery, Error> {
        let read = |p: &str| {
            os.read(Path::new(p))
                .map_err(|e| Error::io(super::error::IoOp::Read, p, e))
        };
        Discovery::from_texts(&read("/proc/self/cgroup")?, &read("/proc/self/mountinfo")?)
    }

    /// The hierarchy path (`/a/b`) of a directory on one of the cgroup2 mounts.
    pub(crate) fn hierarchy_path(&self, dir: &Path) -> Option<PathBuf> {
        self.mounts
            .iter()
            .filter_map(|m| strip(dir, &m.mount_point).map(|rest| (m, rest)))
            .max_by_key(|(m, _)| m.mount_point.components().count())
            .map(|(m, rest)| join(&m.root, &rest))
    }

    /// The directory of a hierarchy path, when a mount shows it.
    pub(crate) fn dir_of(&self, hierarchy_path: &Path) -> Option<PathBuf> {
        self.mounts
            .iter()
            .filter_map(|m| strip(hierarchy_path, &m.root).map(|rest| (m, rest)))
            .max_by_key(|(m, _)| m.root.components().count())
            .map(|(m, rest)| join(&m.mount_point, &rest))
    }
}

/// The deepest common ancestor of two hierarchy paths.
pub(crate) fn common_ancestor(a: &Path, b: &Path) -> PathBuf {
    a.components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect()
}
