//! Mirroring a sandbox's filesystem plan with filesystem rules.

use std::path::{Path, PathBuf};

use super::access::FsAccess;
use super::error::Error;
use super::policy::Policy;
#[cfg(doc)]
use crate::compat::CompatLevel;
use crate::fs::{self, OpName};

impl Policy {
    /// Filesystem rules granting what a sandbox's filesystem plan exposes,
    /// and nothing else: read and execute where the plan mounts read-only
    /// (the host's system directories, `bind_ro`, a custom root), read,
    /// write and execute where it mounts writable (`bind_rw`, tmpfs,
    /// overlays, `/tmp`), read on `/proc` and on created files and
    /// directories, read and write on the minimal `/dev`'s devices.
    /// Rules for optional binds, and for system directories the host does
    /// not have, are optional too ([`allow_try`](Self::allow_try)).
    ///
    /// With `mount_namespace` the rule paths are the plan's destinations,
    /// as the program sees them: the rules back up the mounts. Without one
    /// (where namespaces are unavailable, as in a container that blocks
    /// user namespaces), nothing is mounted and the rules alone stand in for
    /// the plan, on host paths: then only the host system view (without the
    /// host's secrets under `/etc`, which are left out of the rules), the
    /// minimal `/dev`'s devices, `/proc`, and binds whose source is their
    /// destination can be mirrored. `/tmp` is not granted (there is no
    /// private `/tmp` to give); anything else is a
    /// [`Error::Mirror`].
    ///
    /// The filesystem group stays a [`CompatLevel::HardRequirement`].
    pub fn from_fs_plan(fs: &fs::Config, mount_namespace: bool) -> Result<Self, Error> {
        let mut policy = Self::new();
        policy.restrict_fs();
        policy.add_fs_plan(fs, mount_namespace)?;
        Ok(policy)
    }

    /// Adds the rules of [`from_fs_plan`](Self::from_fs_plan) to this
    /// policy.
    pub(crate) fn add_fs_plan(&mut self, fs: &fs::Config, mount_ns: bool) -> Result<(), Error> {
        const WRITABLE: FsAccess = FsAccess::READ_WRITE.union(FsAccess::EXECUTE);
        self.restrict_fs();
        let cannot = |op: OpName, dest: &Path| Error::Mirror {
            op,
            dest: dest.to_owned(),
        };
        match &fs.root {
            fs::Root::HostSystem => {
                for dir in crate::fs::SYSTEM_DIRS {
                    let access = if mount_ns && fs.writable_root.is_some() {
                        WRITABLE
                    } else if *dir == "/etc" {
                        FsAccess::READ
                    } else {
                        FsAccess::READ_EXEC
                    };
                    if mount_ns || *dir != "/etc" || !fs.mask_secrets {
                        self.allow_try(dir, access);
                    } else {
                        // Landlock cannot take back part of a granted
                        // hierarchy: grant /etc piecewise around the secrets.
                        let secrets = crate::fs::host_secrets();
                        grant_around(self, Path::new(dir), &secrets, access);
                    }
                }
            }
            fs::Root::Dir(_) | fs::Root::Layers(_) if mount_ns && fs.writable_root.is_some() => {
                self.allow("/", WRITABLE);
            }
            fs::Root::Dir(_) | fs::Root::Layers(_) if mount_ns => {
                self.allow("/", FsAccess::READ_EXEC);
            }
            fs::Root::Empty if mount_ns => {}
            _ => return Err(cannot(OpName::Root, Path::new("/"))),
        }
        if fs.proc {
            self.allow_try("/proc", FsAccess::READ);
        }
        if fs.dev {
            for d in crate::fs::DEVICES {
                self.allow_try(Path::new("/dev").join(d), FsAccess::READ_WRITE);
            }
            if mount_ns {
                self.allow_try("/dev", FsAccess::READ);
                self.allow_try("/dev/pts", FsAccess::READ_WRITE);
                self.allow_try("/dev/shm", WRITABLE);
            }
        }
        if fs.tmp && mount_ns {
            self.allow("/tmp", WRITABLE);
        }
        if mount_ns {
            if let Some(home) = crate::fs::plan::home_path(fs) {
                self.allow(home, WRITABLE);
            }
        }
        for op in &fs.ops {
            let dest = op.dest();
            match op {
                fs::Op::Bind {
                    src,
                    read_only,
                    optional,
                    ..
                } => {
                    if !mount_ns && !same_path(src, dest) {
                        return Err(cannot(op.name(), dest));
                    }
                    let access = if *read_only {
                        FsAccess::READ_EXEC
                    } else {
                        WRITABLE
                    };
                    if *optional {
                        self.allow_try(dest, access);
                    } else {
                        self.allow(dest, access);
                    }
                }
                _ if !mount_ns => return Err(cannot(op.name(), dest)),
                fs::Op::Tmpfs { .. } | fs::Op::Overlay { .. } => {
                    self.allow(dest, WRITABLE);
                }
                fs::Op::Dir { .. } | fs::Op::File { .. } => {
                    self.allow(dest, FsAccess::READ);
                }
                // A symlink is followed to its target, which needs a rule
                // of its own; a mask hides what is below it.
                _ => {}
            }
        }
        Ok(())
    }
}

/// Whether two absolute paths name the same place, ignoring `.` and
/// repeated slashes (not symbolic links).
fn same_path(a: &Path, b: &Path) -> bool {
    a.components().eq(b.components())
}

/// Grants `access` on `dir` except beneath the paths in `secrets`: the
/// entries of every directory on the way to a secret are granted one by
/// one, the secret itself is not.
pub(super) fn grant_around(policy: &mut Policy, dir: &Path, secrets: &[PathBuf], access: FsAccess) {
    if secrets.iter().any(|s| s == dir) {
        return;
    }
    if !secrets.iter().any(|s| s.starts_with(dir)) {
        policy.allow_try(dir, access);
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for e in entries {
        grant_around(policy, &e, secrets, access);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(p: &Policy, path: &str) -> Option<(FsAccess, bool)> {
        p.fs_rules
            .iter()
            .find(|r| r.path == Path::new(path))
            .map(|r| (r.access, r.optional))
    }

    #[test]
    fn mirroring_a_plan_with_a_mount_namespace_uses_destinations() {
        use crate::fs;
        let writable = FsAccess::READ_WRITE | FsAccess::EXECUTE;
        let mut fs = fs::Config::default();
        fs.ops.push(fs::Op::Bind {
            src: "/host/proj".into(),
            dest: "/work".into(),
            read_only: false,
            optional: false,
            devices: false,
            no_exec: false,
        });
        fs.ops.push(fs::Op::Bind {
            src: "/host/opt".into(),
            dest: "/opt".into(),
            read_only: true,
            optional: true,
            devices: false,
            no_exec: false,
        });
        fs.ops.push(fs::Op::File {
            dest: "/etc/motd".into(),
            contents: Vec::new(),
            mode: None,
        });
        let p = Policy::from_fs_plan(&fs, true).unwrap();
        assert_eq!(rule(&p, "/usr"), Some((FsAccess::READ_EXEC, true)));
        assert_eq!(rule(&p, "/etc"), Some((FsAccess::READ, true)));
        assert_eq!(rule(&p, "/proc"), Some((FsAccess::READ, true)));
        assert_eq!(rule(&p, "/dev/null"), Some((FsAccess::READ_WRITE, true)));
        assert_eq!(rule(&p, "/tmp"), Some((writable, false)));
        assert_eq!(rule(&p, "/work"), Some((writable, false)));
        assert_eq!(rule(&p, "/opt"), Some((FsAccess::READ_EXEC, true)));
        assert_eq!(rule(&p, "/etc/motd"), Some((FsAccess::READ, false)));
        assert_eq!(rule(&p, "/host/proj"), None);
        assert_eq!(p.fs_requested(), FsAccess::DEFAULT_HANDLED);

        let mut fs = fs::Config {
            root: crate::fs::Root::Dir("/img".into()),
            tmp: false,
            proc: false,
            dev: false,
            ..fs::Config::default()
        };
        fs.ops.clear();
        let p = Policy::from_fs_plan(&fs, true).unwrap();
        assert_eq!(p.fs_rules.len(), 1);
        assert_eq!(rule(&p, "/"), Some((FsAccess::READ_EXEC, false)));
    }

    #[test]
    fn mirroring_without_a_mount_namespace_uses_host_paths() {
        use crate::fs::{self, OpName};
        let mut fs = fs::Config::default();
        fs.ops.push(fs::Op::Bind {
            src: "/srv/data".into(),
            dest: "/srv/./data/".into(),
            read_only: true,
            optional: false,
            devices: false,
            no_exec: false,
        });
        let p = Policy::from_fs_plan(&fs, false).unwrap();
        assert_eq!(rule(&p, "/srv/./data/"), Some((FsAccess::READ_EXEC, false)));
        assert_eq!(rule(&p, "/tmp"), None, "no private /tmp to give");
        assert_eq!(rule(&p, "/dev"), None, "only the devices");
        assert_eq!(rule(&p, "/dev/null"), Some((FsAccess::READ_WRITE, true)));
        if !crate::fs::host_secrets().is_empty() {
            assert_eq!(rule(&p, "/etc"), None, "granted around the secrets");
        }
        for s in crate::fs::host_secrets() {
            assert!(
                !p.fs_rules.iter().any(|r| s.starts_with(&r.path)),
                "{s:?} is granted"
            );
        }
        fs.ops.push(fs::Op::Mask {
            dest: "/etc/hosts".into(),
        });
        match Policy::from_fs_plan(&fs, false) {
            Err(Error::Mirror { op, dest }) => {
                assert_eq!(op, OpName::Mask);
                assert_eq!(dest, Path::new("/etc/hosts"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn granting_around_secrets() {
        let d = tempfile::tempdir().unwrap();
        let etc = d.path().join("etc");
        for sub in ["ssl/certs", "ssl/private", "skel"] {
            std::fs::create_dir_all(etc.join(sub)).unwrap();
        }
        for f in ["passwd", "shadow", "ssl/openssl.cnf"] {
            std::fs::write(etc.join(f), "x").unwrap();
        }
        let secrets = [etc.join("shadow"), etc.join("ssl/private")];
        let mut p = Policy::new();
        grant_around(&mut p, &etc, &secrets, FsAccess::READ);
        let mut got: Vec<_> = p
            .fs_rules
            .iter()
            .map(|r| r.path.strip_prefix(&etc).unwrap().to_owned())
            .collect();
        got.sort();
        let want: Vec<PathBuf> = ["passwd", "skel", "ssl/certs", "ssl/openssl.cnf"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(got, want);
        assert!(p.fs_rules.iter().all(|r| r.access == FsAccess::READ));
    }
}
