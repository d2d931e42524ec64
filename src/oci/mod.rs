//! Running an OCI runtime bundle (feature `serde`): a directory with a
//! `config.json` ([OCI runtime specification] 1.0 to 1.2) and a root
//! filesystem, lowered to a [`Sandbox`] and a [`Command`].
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bundle = stockade::oci::Bundle::load("/var/lib/bundles/web")?;
//! let status = bundle.sandbox().status(&mut bundle.command())?;
//! # let _ = status; Ok(())
//! # }
//! ```
//!
//! Every field of `config.json` is either lowered to stockade's own policy
//! or refused with [`Error::Unsupported`] naming its JSON path
//! (`linux.resources.blockIO`, `mounts[3].type`): nothing is silently
//! ignored. The specification asks runtimes to ignore properties they do
//! not know; stockade refuses them instead (an unknown property may be a
//! restriction its author counts on), except `annotations`, the
//! specification's place for free-form data, which [`Bundle::annotations`]
//! returns, and the sections for other platforms (`solaris`, `windows`,
//! `zos`), which do not apply on Linux. Where stockade's policy is stricter
//! than what the bundle asks for, the stricter setting stays; the table
//! says where.
//!
//! # What each field lowers to
//!
//! | Field | Lowered to |
//! |---|---|
//! | `ociVersion` | checked: `1.0.x`, `1.1.x`, `1.2.x` (a suffix such as `-dev` allowed); others refused |
//! | `root.path` | [`Sandbox::root_dir`] (relative paths from the bundle directory); must be a directory |
//! | `root.readonly: false` | [`Sandbox::root_dir_in_place`] without devices: the process writes into the root in place, as with runc |
//! | `process.args` | [`Command::new`] and [`Command::args`]; required, not empty |
//! | `process.env` | the command's whole environment ([`Command::env_clear`], then each `KEY=VALUE`) |
//! | `process.cwd` | [`Command::current_dir`]; required, absolute |
//! | `process.terminal`, `process.consoleSize` | [`Bundle::terminal`], [`Bundle::console_size`]: the caller attaches a terminal ([`Command::pty`], or one it made itself on standard input with [`Command::controlling_terminal`], as the `stockade-oci` runtime does for `--console-socket`) |
//! | `process.user.uid`, `.gid` | [`Sandbox::uid`], [`Sandbox::gid`] |
//! | `process.user.additionalGids` | refused unless it lists only `gid` (the user namespace denies `setgroups`) |
//! | `process.user.umask` | refused when set (the program inherits the caller's umask) |
//! | `process.rlimits[]` | [`Sandbox::rlimit`] (`RLIMIT_*` names); the same limit twice is invalid |
//! | `process.capabilities` | [`caps::Policy`](crate::caps::Policy): the kept set is `bounding` (`CAP_SYS_PTRACE` refused); `ambient` must be empty or equal `bounding` (equal: kept capabilities raised as ambient; empty: they stay in the bounding set, and uid 0 gets them at `execve` as on any Linux system, [`caps::Policy::lock_noroot`](crate::caps::Policy::lock_noroot) off); `effective`, `permitted`, `inheritable` must lie within `bounding` (after `execve` they add nothing; the inheritable set stays empty without ambient: stricter) |
//! | `process.noNewPrivileges` | `no_new_privs` is always set; `false` is accepted and the stricter setting stays |
//! | `process.apparmorProfile`, `.selinuxLabel`, `.oomScoreAdj`, `.scheduler`, `.ioPriority`, `.execCPUAffinity` | refused when set |
//! | `hostname` | [`Sandbox::hostname`] (needs the uts namespace) |
//! | `domainname` | refused when set |
//! | `mounts[]` `proc` at `/proc` | [`Sandbox::proc`] |
//! | `mounts[]` `sysfs` at `/sys` | [`Sandbox::sys`] (always read-only) |
//! | `mounts[]` `tmpfs` at `/dev`, then `devpts` at `/dev/pts`, `tmpfs` at `/dev/shm`, `mqueue` at `/dev/mqueue` | the sandbox's own minimal `/dev` ([`Sandbox::dev`]): `null`, `zero`, `full`, `random`, `urandom`, `tty`, a new `devpts`, `shm`; `mqueue` at `/dev/mqueue` is [`Sandbox::mqueue`] (the container's IPC namespace's queues; with a `user` namespace but no `ipc` one, refused naming the mount's `type`) |
//! | `mounts[]` `tmpfs` elsewhere | [`Sandbox::tmpfs`] with `size=` and `mode=` |
//! | `mounts[]` `bind`/`rbind` | [`Sandbox::bind_ro`] (`ro`) or [`Sandbox::bind_rw`]; always recursive, `nosuid`, `nodev`, private, with the host's secrets beneath the source masked ([`Sandbox::mask_host_secrets`], adjustable with [`Bundle::sandbox_mut`]); `noexec` kept ([`fs::Op::Bind`](crate::fs::Op::Bind)'s `no_exec`); propagation options other than private and slave refused |
//! | `mounts[]` `cgroup` at `/sys/fs/cgroup` | [`Sandbox::mount_cgroup`] (`rw`) or [`Sandbox::mount_cgroup_read_only`] (`ro`), with the cgroup namespace; `rw` also gives the sandbox a cgroup of its own ([`cgroup::Config::placement`](crate::cgroup::Config::placement)), `ro` shows the cgroup it has (its own with resources or a cgroup parent, else its caller's) |
//! | `mounts[]` other types, options stockade cannot honour, idmapped mounts | refused, naming `mounts[i].type` or `mounts[i].options[j]` |
//! | `linux.namespaces[]` | [`Sandbox::namespaces`]: exactly those listed (`mount` required); `path` (joining) refused |
//! | `linux.uidMappings`, `.gidMappings` | [`Sandbox::uid_ranges`], [`Sandbox::gid_ranges`] |
//! | `linux.resources.memory.limit`, `.swap` | [`Sandbox::memory_limit`], [`cgroup::Config::swap_max`](crate::cgroup::Config::swap_max) (`swap - limit`); without `swap` no swap at all (stricter than runc); other memory fields refused |
//! | `linux.resources.cpu.quota`, `.period`, `.shares`, `.cpus`, `.mems` | [`Sandbox::cpus`] (`quota / period`), `cpu_weight` (converted from shares), `cpuset_cpus`, `cpuset_mems`; realtime, burst, idle refused |
//! | `linux.resources.pids.limit` | [`Sandbox::pids_limit`] |
//! | `linux.resources.devices[]` | deny rules, and allow rules for the devices of stockade's `/dev` or of `linux.devices`, accepted; other allow rules refused |
//! | `linux.devices[]` | [`Sandbox::bind_dev`] of the host's node at the same path, when it is that character or block device and `fileMode`, `uid`, `gid` (when given) are the host node's; refused otherwise (stockade makes no device nodes) |
//! | `linux.resources.blockIO`, `.hugepageLimits`, `.network`, `.rdma`, `.unified` | refused when set |
//! | `linux.cgroupsPath` | refused when set: the parent of the sandboxes' cgroups is [`cgroup::Config::parent`](crate::cgroup::Config::parent), set with [`Bundle::sandbox_mut`] |
//! | `linux.seccomp` | a [`seccomp::Policy`](crate::seccomp::Policy) (feature `seccomp`) replacing the default profile: actions allow, log, trap, errno (`errnoRet`, default `EPERM`), kill (thread or process: the process is killed); argument conditions on distinct arguments all hold, several on one argument are alternatives; for one system call the first rule without conditions decides alone, as libseccomp builds runc's filters, and otherwise the later of two matching rules wins; calls of other architectures are left out; other architectures are killed (stricter); `flags`, `listenerPath` refused. Without `linux.seccomp` stockade's default profile stays |
//! | `linux.maskedPaths` | [`Sandbox::mask`] (absolute paths) |
//! | `linux.readonlyPaths` | accepted where the path is read-only already (the fresh `/proc`'s `sys`, `sysrq-trigger`, `irq`, `bus`, `fs`; all of `/proc` without a pid namespace, where it is the host's, read-only; `/sys`; a read-only root outside writable mounts); another entry of a fresh `/proc` that is the kernel's, not a process's (`/proc/asound`), is bound read-only from the caller's `/proc`, which shows the same kernel, where it exists; refused elsewhere |
//! | `linux.sysctl`, `.rootfsPropagation`, `.mountLabel`, `.intelRdt`, `.personality`, `.timeOffsets` | refused when set |
//! | `hooks` | refused when set |
//! | `annotations` | kept ([`Bundle::annotations`]) |
//! | `vm` | refused when set |
//!
//! Everything the bundle does not speak of keeps stockade's defaults (see
//! [`Sandbox`]): a new session, only descriptors 0-2, the sandbox ended
//! with the caller and when the [`Child`](crate::Child) is dropped, the
//! host's secrets masked beneath binds, and the default seccomp profile
//! unless `linux.seccomp` gives one.
//!
//! Cgroup limits (and the cgroup of its own a `cgroup` mount asks for) are
//! hard requirements, as every explicit limit of a [`Sandbox`] is; a caller on a host without the controllers can make them
//! best-effort with [`Bundle::sandbox_mut`] and
//! [`cgroup::Config::compat`](crate::cgroup::Config::compat), and the
//! [`Enforcement`](crate::Enforcement) report then says what was skipped.
//!
//! [OCI runtime specification]: https://github.com/opencontainers/runtime-spec

mod lower;
#[cfg(feature = "seccomp")]
mod seccomp;
#[cfg(test)]
mod tests;
mod walk;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::command::Command;
use crate::sandbox::Sandbox;

/// Why a bundle could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `config.json` could not be read.
    #[error("failed to read the bundle's configuration {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The configuration is not well-formed JSON, or a field has the wrong
    /// JSON type.
    #[error("failed to parse the bundle's configuration at {path}: {message}")]
    Json {
        /// The JSON path of the bad value (`process.args[1]`; empty for the
        /// document).
        path: String,
        /// What is wrong there.
        message: String,
    },
    /// A field stockade cannot lower (or does not know).
    #[error("failed to lower {path} = {value}: {reason}")]
    Unsupported {
        /// The JSON path of the field (`linux.resources.blockIO`).
        path: String,
        /// Its value, as compact JSON (shortened).
        value: String,
        /// Why stockade refuses it.
        reason: String,
    },
    /// A field whose value the specification does not allow, or a required
    /// field missing.
    #[error("failed to lower {path}: {reason}")]
    Invalid {
        /// The JSON path of the field (`root.path`).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The lowered policy is refused by the sandbox's own checks.
    #[error("failed to check the lowered sandbox policy")]
    Policy(#[source] crate::Error),
}

impl Error {
    /// The JSON path the error is about, when it names one.
    pub fn json_path(&self) -> Option<&str> {
        match self {
            Error::Json { path, .. }
            | Error::Unsupported { path, .. }
            | Error::Invalid { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// An OCI runtime bundle lowered to a [`Sandbox`] and the parts of a
/// [`Command`] (see the [module documentation](self) for each field).
#[derive(Clone, Debug)]
pub struct Bundle {
    version: String,
    root: PathBuf,
    sandbox: Sandbox,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
    terminal: bool,
    console_size: Option<(u16, u16)>,
    annotations: BTreeMap<String, String>,
}

impl Bundle {
    /// Reads `dir/config.json` and lowers it (see
    /// [`from_json`](Bundle::from_json)).
    pub fn load(dir: impl AsRef<Path>) -> Result<Bundle, Error> {
        let dir = dir.as_ref();
        let path = dir.join("config.json");
        let json = std::fs::read_to_string(&path).map_err(|source| Error::Read { path, source })?;
        Bundle::from_json(dir, &json)
    }

    /// Lowers the configuration `json` of the bundle in `dir` (relative
    /// paths in it are relative to `dir`), then checks the lowered policy
    /// as [`Sandbox::validate`] does ([`Error::Policy`] when it is
    /// refused: a capability the caller cannot keep without a user
    /// namespace, a seccomp filter that does not compile).
    pub fn from_json(dir: impl AsRef<Path>, json: &str) -> Result<Bundle, Error> {
        let dir = dir.as_ref();
        let dir = if dir.is_absolute() {
            dir.to_owned()
        } else {
            std::env::current_dir()
                .map_err(|source| Error::Read {
                    path: dir.to_owned(),
                    source,
                })?
                .join(dir)
        };
        let mut de = serde_json::Deserializer::from_str(json);
        let doc: serde_json::Value =
            serde_path_to_error::deserialize(&mut de).map_err(|e| Error::Json {
                path: json_path(e.path()),
                message: e.inner().to_string(),
            })?;
        de.end().map_err(|e| Error::Json {
            path: String::new(),
            message: e.to_string(),
        })?;
        lower::lower(&dir, &doc)
    }

    /// The lowered policy.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The lowered policy, to adjust before spawning (a cgroup parent,
    /// best-effort limits, a timeout).
    pub fn sandbox_mut(&mut self) -> &mut Sandbox {
        &mut self.sandbox
    }

    /// The process: `process.args`, with exactly `process.env` as its
    /// environment and `process.cwd` as its working directory. It has no
    /// terminal: when [`terminal`](Bundle::terminal) is true, attach one
    /// with [`Command::pty`] (or pass one made beforehand as its standard
    /// streams, with [`Command::controlling_terminal`]).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.args[0]);
        cmd.args(&self.args[1..])
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.cwd);
        cmd
    }

    /// `process.terminal`: whether the process expects a terminal.
    pub fn terminal(&self) -> bool {
        self.terminal
    }

    /// `process.consoleSize` as (height, width), when given.
    pub fn console_size(&self) -> Option<(u16, u16)> {
        self.console_size
    }

    /// `annotations`.
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }

    /// The root filesystem, as an absolute path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `ociVersion`.
    pub fn oci_version(&self) -> &str {
        &self.version
    }
}

/// serde_path_to_error's path as this module writes JSON paths
/// (`process.args[1]`; empty for the document).
fn json_path(p: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for seg in p.iter() {
        match seg {
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            serde_path_to_error::Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
            }
            serde_path_to_error::Segment::Unknown => out.push('?'),
        }
    }
    out
}
