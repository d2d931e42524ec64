//! The bubblewrap compatibility mode: invoked as `bwrap` (a link named so),
//! the binary takes bubblewrap's command line with bubblewrap's defaults
//! (nothing unshared but the mount namespace unless asked, the caller's
//! environment and capabilities kept, an empty root that the options fill,
//! `--bind / /` allowed) and maps it onto the library's [`Sandbox`].
//!
//! Options are processed in order, as bubblewrap does: `--perms` and
//! `--size` apply to the next operation, a later mount lands on top of an
//! earlier one, and `--args FD` splices NUL-separated arguments in place.
//! What the library cannot do is refused with `bwrap: <reason>` and exit
//! status 1, never ignored.
//!
//! A sandboxed program that runs `/proc/self/exe` (this binary again, as
//! bubblewrap's own tests do to nest sandboxes) gets `bwrap` as its
//! `argv[0]` unless `--argv0` says otherwise, so that the nested run is in
//! this mode too: the dispatch looks at `argv[0]` only.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use stockade::caps::{Capability, Policy};
use stockade::fs::{Op, TmpfsOptions};
use stockade::{Command, Error, Namespaces, Network, Sandbox};

/// The name that selects this mode.
pub const NAME: &str = "bwrap";

/// Whether `argv0` (the program name the binary was run under) selects the
/// compatibility mode: its last path component is `bwrap`.
pub fn selected(argv0: &OsStr) -> bool {
    Path::new(argv0).file_name() == Some(OsStr::new(NAME))
}

/// Largest `--size` bubblewrap accepts (`SIZE_MAX / 2`).
const MAX_SIZE: u64 = u64::MAX / 2;

/// Deepest nesting of `--args` (an fd may not name itself forever).
const MAX_ARGS_DEPTH: usize = 32;

/// The help text; `{argv0}` is replaced by the name the binary was run as.
const HELP: &str = "usage: {argv0} [OPTIONS...] [--] COMMAND [ARGS...]

bubblewrap-compatible mode of stockade: bubblewrap's options and defaults.

    --help                       Print this help
    --version                    Print version
    --args FD                    Parse NUL-separated args from FD
    --argv0 VALUE                Set argv[0] to the value VALUE before running the program
    --unshare-all                Unshare every namespace we support by default
    --share-net                  Retain the network namespace (can only combine with --unshare-all)
    --unshare-user               Create new user namespace (may be automatically implied if not setuid)
    --unshare-user-try           Create new user namespace if possible else continue by skipping it
    --unshare-ipc                Create new ipc namespace
    --unshare-pid                Create new pid namespace
    --unshare-net                Create new network namespace
    --unshare-uts                Create new uts namespace
    --unshare-cgroup             Create new cgroup namespace
    --unshare-cgroup-try         Create new cgroup namespace if possible else continue by skipping it
    --uid UID                    Custom uid in the sandbox (requires --unshare-user or --userns)
    --gid GID                    Custom gid in the sandbox (requires --unshare-user or --userns)
    --hostname NAME              Custom hostname in the sandbox (requires --unshare-uts)
    --chdir DIR                  Change directory to DIR
    --clearenv                   Unset all environment variables
    --setenv VAR VALUE           Set an environment variable
    --unsetenv VAR               Unset an environment variable
    --lock-file DEST             Take a lock on DEST while sandbox is running (DEST as the host sees it)
    --sync-fd FD                 Keep this fd open while sandbox is running
    --bind SRC DEST              Bind mount the host path SRC on DEST
    --bind-try SRC DEST          Equal to --bind but ignores non-existent SRC
    --dev-bind SRC DEST          Bind mount the host path SRC on DEST, allowing device access
    --dev-bind-try SRC DEST      Equal to --dev-bind but ignores non-existent SRC
    --ro-bind SRC DEST           Bind mount the host path SRC readonly on DEST
    --ro-bind-try SRC DEST       Equal to --ro-bind but ignores non-existent SRC
    --bind-fd FD DEST            Bind open directory or path fd on DEST
    --ro-bind-fd FD DEST         Bind open directory or path fd read-only on DEST
    --remount-ro DEST            Remount DEST as readonly (an earlier bind's DEST, or /)
    --proc DEST                  Mount new procfs on DEST (DEST must be /proc)
    --dev DEST                   Mount new dev on DEST (DEST must be /dev)
    --tmpfs DEST                 Mount new tmpfs on DEST
    --dir DEST                   Create dir at DEST
    --file FD DEST               Copy from FD to destination DEST
    --bind-data FD DEST          Copy from FD to file which is bind-mounted on DEST (read-only here)
    --ro-bind-data FD DEST       Copy from FD to file which is readonly bind-mounted on DEST
    --symlink SRC DEST           Create symlink at DEST with target SRC
    --seccomp FD                 Load and use seccomp rules from FD (not repeatable)
    --add-seccomp-fd FD          Load and use seccomp rules from FD (repeatable)
    --info-fd FD                 Write information about the running container to FD
    --json-status-fd FD          Write container status to FD as multiple JSON documents
    --block-fd FD                Block on FD until some data to read is available (before the sandbox starts)
    --disable-userns             Disable further use of user namespaces (and every other namespace) inside sandbox
    --assert-userns-disabled     Fail unless further use of user namespace inside sandbox is disabled
    --new-session                Create a new terminal session (always done here)
    --die-with-parent            Kills with SIGKILL child process (COMMAND) when bwrap or bwrap's parent dies.
    --as-pid-1                   Do not install a reaper process with PID=1
    --cap-add CAP                Add cap CAP when running as privileged user
    --cap-drop CAP               Drop cap CAP when running as privileged user
    --perms OCTAL                Set permissions of next argument (--dir, --file, --bind-data, --ro-bind-data, --tmpfs)
    --size BYTES                 Set size of next argument (only for --tmpfs)
    --chmod OCTAL PATH           Change permissions of PATH (an earlier --dir, --file or --tmpfs)

Refused (stockade cannot do them): --userns, --userns2, --pidns, --userns-block-fd, --mqueue,
--exec-label, --file-label, --proc or --dev elsewhere than /proc and /dev.
";

/// An environment change, applied in order to the caller's environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvOp {
    /// `--setenv VAR VALUE`.
    Set(OsString, OsString),
    /// `--unsetenv VAR`.
    Unset(OsString),
    /// `--clearenv`.
    Clear,
}

/// A host directory bound over bubblewrap's empty root (`--bind SRC /` and
/// its kin).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootChoice {
    /// A host directory bound as `/`.
    Bind {
        /// The host directory.
        src: PathBuf,
        /// Read-only (`--ro-bind`, or `--remount-ro /` later).
        read_only: bool,
        /// Device nodes usable (`--dev-bind`).
        devices: bool,
    },
}

/// A capability request, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapOp {
    /// `--cap-add CAP` (`None`: ALL).
    Add(Option<Capability>),
    /// `--cap-drop CAP` (`None`: ALL).
    Drop(Option<Capability>),
}

/// bubblewrap's namespace options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unshare {
    /// `--unshare-user`.
    pub user: bool,
    /// `--unshare-user-try`.
    pub user_try: bool,
    /// `--unshare-ipc`.
    pub ipc: bool,
    /// `--unshare-pid`.
    pub pid: bool,
    /// `--unshare-net` (and not `--share-net` after `--unshare-all`).
    pub net: bool,
    /// `--unshare-uts`.
    pub uts: bool,
    /// `--unshare-cgroup`.
    pub cgroup: bool,
    /// `--unshare-cgroup-try`.
    pub cgroup_try: bool,
}

/// A parsed bubblewrap command line.
#[derive(Debug, Default)]
pub struct Plan {
    /// Namespaces asked for.
    pub unshare: Unshare,
    /// `--uid`.
    pub uid: Option<u32>,
    /// `--gid`.
    pub gid: Option<u32>,
    /// `--hostname`.
    pub hostname: Option<OsString>,
    /// `--chdir`.
    pub chdir: Option<PathBuf>,
    /// Environment changes in order.
    pub env: Vec<EnvOp>,
    /// The root (`None`: an empty one that the operations fill).
    pub root: Option<RootChoice>,
    /// Filesystem operations in order (after the root).
    pub ops: Vec<Op>,
    /// `--proc /proc`.
    pub proc: bool,
    /// `--dev /dev`.
    pub dev: bool,
    /// Capability requests in order.
    pub caps: Vec<CapOp>,
    /// `--die-with-parent`.
    pub die_with_parent: bool,
    /// `--new-session`.
    pub new_session: bool,
    /// `--as-pid-1`.
    pub as_pid_1: bool,
    /// `--disable-userns`.
    pub disable_userns: bool,
    /// `--assert-userns-disabled`.
    pub assert_userns_disabled: bool,
    /// `--info-fd`.
    pub info_fd: Option<RawFd>,
    /// `--json-status-fd`.
    pub json_status_fd: Option<RawFd>,
    /// `--sync-fd`.
    pub sync_fd: Option<RawFd>,
    /// `--block-fd`.
    pub block_fd: Option<RawFd>,
    /// `--lock-file` paths.
    pub lock_files: Vec<PathBuf>,
    /// `--argv0`.
    pub argv0: Option<OsString>,
    /// `--seccomp` and `--add-seccomp-fd` programs, in order.
    pub seccomp: Vec<stockade::seccomp::Program>,
    /// Whether they came from `--seccomp` (which may not be combined with
    /// `--add-seccomp-fd` nor repeated).
    pub seccomp_legacy: bool,
    /// Descriptors the options consumed (not passed to the program).
    pub consumed_fds: Vec<RawFd>,
    /// The program and its arguments.
    pub command: Vec<OsString>,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// `--help`.
    Help,
    /// `--version`.
    Version,
    /// Run a program.
    Run(Box<Plan>),
}

/// Reads the whole content of a descriptor named on the command line.
pub trait FdSource {
    /// The bytes of `fd`, read to its end (and the descriptor closed).
    fn read_all(&mut self, fd: RawFd) -> Result<Vec<u8>, String>;
}

/// The process's own descriptors.
pub struct ProcessFds;

impl FdSource for ProcessFds {
    fn read_all(&mut self, fd: RawFd) -> Result<Vec<u8>, String> {
        if fd < 0 || !fd_is_open(fd) {
            return Err(format!("Invalid fd: {fd}"));
        }
        // SAFETY: the descriptor is open (checked above) and named by the
        // caller for this process to consume; nothing else here owns it.
        let mut f = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(|e| format!("Failed to read from fd {fd}: {e}"))?;
        Ok(buf)
    }
}

fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only queries the descriptor table.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Pending `--perms` and `--size`, which apply to the next operation.
#[derive(Default)]
struct Pending {
    perms: Option<u32>,
    size: Option<u64>,
}

fn parse_fd(opt: &str, s: &OsStr) -> Result<RawFd, String> {
    s.to_str()
        .and_then(|t| t.parse::<RawFd>().ok())
        .filter(|fd| *fd >= 0)
        .ok_or_else(|| format!("Invalid fd: {}", s.to_string_lossy()))
        .map_err(|e| format!("{opt}: {e}"))
}

fn parse_id(opt: &str, s: &OsStr) -> Result<u32, String> {
    s.to_str()
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or_else(|| format!("{opt}: Invalid {}: {}", &opt[2..], s.to_string_lossy()))
}

/// An octal mode as bubblewrap takes it: up to 07777.
fn parse_perms(s: &OsStr) -> Result<u32, String> {
    s.to_str()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| (b'0'..=b'7').contains(&b)))
        .and_then(|t| u32::from_str_radix(t, 8).ok())
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| {
            format!(
                "--perms takes an octal argument between 0 and 07777, not {:?}",
                s.to_string_lossy()
            )
        })
}

/// A size in bytes: decimal digits only, above 0 and at most `SIZE_MAX / 2`.
fn parse_size(s: &OsStr) -> Result<u64, String> {
    let bad = || {
        format!(
            "--size takes a non-zero number of bytes, not {:?}",
            s.to_string_lossy()
        )
    };
    let t = s.to_str().ok_or_else(bad)?;
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = t.parse().map_err(|_| bad())?;
    if n == 0 || n > MAX_SIZE {
        return Err(bad());
    }
    Ok(n)
}

fn parse_cap(s: &OsStr) -> Result<Option<Capability>, String> {
    let t = s.to_string_lossy();
    if t.eq_ignore_ascii_case("ALL") {
        return Ok(None);
    }
    t.parse::<Capability>()
        .map(Some)
        .map_err(|_| format!("Unknown capability {t}"))
}

/// Makes a host path absolute (relative to the working directory), as
/// bubblewrap resolves sources.
fn host_path(p: &OsStr) -> PathBuf {
    std::path::absolute(Path::new(p)).unwrap_or_else(|_| PathBuf::from(p))
}

/// The mode of the parents `--dir` makes for a directory of mode `m`.
fn parent_mode(m: u32) -> u32 {
    let mut p = 0o700;
    if m & 0o070 != 0 {
        p |= 0o050;
    }
    if m & 0o007 != 0 {
        p |= 0o005;
    }
    p
}

fn is_root_dest(p: &OsStr) -> bool {
    let b = p.as_bytes();
    !b.is_empty() && b.iter().all(|c| *c == b'/')
}

/// Normalized destination for comparisons (`//a/./b/` is `/a/b`).
fn norm(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        if let std::path::Component::Normal(s) = c {
            out.push(s);
        }
    }
    out
}

impl Plan {
    fn take_perms(
        &mut self,
        pending: &mut Pending,
        opt: &str,
        allowed: bool,
    ) -> Result<Option<u32>, String> {
        if pending.size.is_some() && opt != "--tmpfs" {
            return Err(format!("--size must be followed by --tmpfs, not {opt}"));
        }
        match pending.perms.take() {
            Some(_) if !allowed => Err(format!(
                "--perms must be followed by an option that creates a file or directory, not {opt}"
            )),
            p => Ok(p),
        }
    }

    fn bind(
        &mut self,
        src: &OsStr,
        dest: &OsStr,
        read_only: bool,
        devices: bool,
        optional: bool,
    ) -> Result<(), String> {
        let src_path = host_path(src);
        if is_root_dest(dest) {
            if optional && std::fs::symlink_metadata(&src_path).is_err() {
                return Ok(());
            }
            // A bind over the whole root hides what was mounted before.
            self.ops.clear();
            self.proc = false;
            self.dev = false;
            self.root = Some(RootChoice::Bind {
                src: src_path,
                read_only,
                devices,
            });
            return Ok(());
        }
        self.ops.push(Op::Bind {
            src: src_path,
            dest: PathBuf::from(dest),
            read_only,
            optional,
            devices,
            no_exec: false,
        });
        Ok(())
    }

    /// Whether the sandbox surely has the directory `dir`: a host
    /// directory bound as `/` that holds it, or an operation that puts
    /// `dir` or one of its ancestors in place from the same host path (a
    /// bind of a path onto itself) or makes it (`--dir`, `--tmpfs` at `dir`).
    fn has_path(&self, dir: &Path) -> bool {
        let dir = norm(dir);
        if matches!(&self.root, Some(RootChoice::Bind { src, .. }) if norm(src) == Path::new("/")) {
            return true;
        }
        self.ops.iter().any(|op| match op {
            Op::Bind {
                src,
                dest,
                optional,
                ..
            } => !optional && norm(src) == norm(dest) && dir.starts_with(norm(dest)),
            Op::Dir { dest, .. } | Op::Tmpfs { dest, .. } => norm(dest) == dir,
            _ => false,
        })
    }

    fn mode_of_last(&mut self, dest: &Path) -> Option<&mut Option<u32>> {
        let want = norm(dest);
        self.ops.iter_mut().rev().find_map(|op| match op {
            Op::Dir { dest, mode } | Op::File { dest, mode, .. } if norm(dest) == want => {
                Some(mode)
            }
            Op::Tmpfs { dest, options } if norm(dest) == want => Some(&mut options.mode),
            _ => None,
        })
    }
}

/// Parses bubblewrap's command line (without `argv[0]`).
pub fn parse(args: Vec<OsString>, fds: &mut dyn FdSource) -> Result<Parsed, String> {
    let mut plan = Plan::default();
    let mut pending = Pending::default();
    // Arguments still to process, in reverse (so `--args` splices cheaply).
    let mut rest: Vec<OsString> = args.into_iter().rev().collect();
    let mut args_depth = 0usize;
    let mut unshare_all = false;
    let mut share_net = false;
    while let Some(arg) = rest.pop() {
        let Some(opt) = arg.to_str().filter(|a| a.starts_with("--")) else {
            // The program: everything from here on is its.
            rest.push(arg);
            break;
        };
        if opt == "--" {
            break;
        }
        let opt = opt.to_owned();
        let mut take = |n: usize| -> Result<Vec<OsString>, String> {
            if rest.len() < n {
                return Err(format!(
                    "{opt} takes {} argument{}",
                    ["no", "one", "two"].get(n).copied().unwrap_or("more"),
                    if n == 1 { "" } else { "s" }
                ));
            }
            Ok((0..n).filter_map(|_| rest.pop()).collect())
        };
        match opt.as_str() {
            "--help" => return Ok(Parsed::Help),
            "--version" => return Ok(Parsed::Version),
            "--args" => {
                let a = take(1)?;
                let fd = parse_fd(&opt, &a[0])?;
                args_depth += 1;
                if args_depth > MAX_ARGS_DEPTH {
                    return Err("--args nested too deeply".to_owned());
                }
                let data = fds.read_all(fd)?;
                plan.consumed_fds.push(fd);
                let mut more: Vec<OsString> = data
                    .split(|b| *b == 0)
                    .map(|s| OsString::from_vec(s.to_vec()))
                    .collect();
                // A trailing NUL ends the last argument; it does not start one.
                if data.last() == Some(&0) || data.is_empty() {
                    more.pop();
                }
                rest.extend(more.into_iter().rev());
            }
            "--argv0" => plan.argv0 = Some(take(1)?.remove(0)),
            "--unshare-all" => {
                unshare_all = true;
                plan.unshare.user_try = true;
                plan.unshare.ipc = true;
                plan.unshare.pid = true;
                plan.unshare.net = true;
                plan.unshare.uts = true;
                plan.unshare.cgroup_try = true;
            }
            "--share-net" => share_net = true,
            "--unshare-user" => plan.unshare.user = true,
            "--unshare-user-try" => plan.unshare.user_try = true,
            "--unshare-ipc" => plan.unshare.ipc = true,
            "--unshare-pid" => plan.unshare.pid = true,
            "--unshare-net" => plan.unshare.net = true,
            "--unshare-uts" => plan.unshare.uts = true,
            "--unshare-cgroup" => plan.unshare.cgroup = true,
            "--unshare-cgroup-try" => plan.unshare.cgroup_try = true,
            "--uid" => plan.uid = Some(parse_id(&opt, &take(1)?[0])?),
            "--gid" => plan.gid = Some(parse_id(&opt, &take(1)?[0])?),
            "--hostname" => plan.hostname = Some(take(1)?.remove(0)),
            "--chdir" => plan.chdir = Some(PathBuf::from(take(1)?.remove(0))),
            "--clearenv" => plan.env.push(EnvOp::Clear),
            "--setenv" => {
                let a = take(2)?;
                plan.env.push(EnvOp::Set(a[0].clone(), a[1].clone()));
            }
            "--unsetenv" => plan.env.push(EnvOp::Unset(take(1)?.remove(0))),
            "--lock-file" => plan.lock_files.push(host_path(&take(1)?[0])),
            "--sync-fd" => {
                let fd = parse_fd(&opt, &take(1)?[0])?;
                plan.sync_fd = Some(fd);
                plan.consumed_fds.push(fd);
            }
            "--block-fd" => {
                let fd = parse_fd(&opt, &take(1)?[0])?;
                plan.block_fd = Some(fd);
                plan.consumed_fds.push(fd);
            }
            "--info-fd" => {
                let fd = parse_fd(&opt, &take(1)?[0])?;
                plan.info_fd = Some(fd);
                plan.consumed_fds.push(fd);
            }
            "--json-status-fd" => {
                let fd = parse_fd(&opt, &take(1)?[0])?;
                plan.json_status_fd = Some(fd);
                plan.consumed_fds.push(fd);
            }
            "--bind" | "--bind-try" | "--dev-bind" | "--dev-bind-try" | "--ro-bind"
            | "--ro-bind-try" => {
                let a = take(2)?;
                plan.take_perms(&mut pending, &opt, false)?;
                let read_only = opt.starts_with("--ro-");
                let devices = opt.starts_with("--dev-");
                let optional = opt.ends_with("-try");
                if !optional && std::fs::symlink_metadata(host_path(&a[0])).is_err() {
                    let e = std::fs::symlink_metadata(host_path(&a[0])).err().map(|e| {
                        std::io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(libc::ENOENT))
                    });
                    return Err(format!(
                        "Can't find source path {}: {}",
                        a[0].to_string_lossy(),
                        e.map(|e| e.to_string()).unwrap_or_default()
                    ));
                }
                plan.bind(&a[0], &a[1], read_only, devices, optional)?;
            }
            "--bind-fd" | "--ro-bind-fd" => {
                let a = take(2)?;
                plan.take_perms(&mut pending, &opt, false)?;
                let fd = parse_fd(&opt, &a[0])?;
                let src = std::fs::read_link(format!("/proc/self/fd/{fd}"))
                    .map_err(|e| format!("{opt}: Invalid fd {fd}: {e}"))?;
                plan.consumed_fds.push(fd);
                plan.bind(src.as_os_str(), &a[1], opt == "--ro-bind-fd", false, false)?;
            }
            "--remount-ro" => {
                let a = take(1)?;
                plan.take_perms(&mut pending, &opt, false)?;
                if is_root_dest(&a[0]) {
                    match &mut plan.root {
                        Some(RootChoice::Bind { read_only, .. }) => *read_only = true,
                        _ => {
                            return Err(
                                "--remount-ro /: stockade supports it only after a bind of /"
                                    .to_owned(),
                            );
                        }
                    }
                } else {
                    let want = norm(Path::new(&a[0]));
                    let found = plan.ops.iter_mut().rev().find_map(|op| match op {
                        Op::Bind {
                            dest, read_only, ..
                        } if norm(dest) == want => Some(read_only),
                        _ => None,
                    });
                    match found {
                        Some(ro) => *ro = true,
                        None => {
                            return Err(format!(
                                "--remount-ro {}: stockade supports it only on an earlier bind's destination",
                                a[0].to_string_lossy()
                            ));
                        }
                    }
                }
            }
            "--proc" | "--dev" => {
                let a = take(1)?;
                plan.take_perms(&mut pending, &opt, false)?;
                let want = if opt == "--proc" { "/proc" } else { "/dev" };
                if norm(Path::new(&a[0])) != Path::new(want) {
                    return Err(format!(
                        "{opt} {}: stockade mounts it only at {want}",
                        a[0].to_string_lossy()
                    ));
                }
                if opt == "--proc" {
                    plan.proc = true;
                } else {
                    plan.dev = true;
                }
            }
            "--tmpfs" => {
                let a = take(1)?;
                let size = pending.size.take();
                let mode = plan.take_perms(&mut pending, &opt, true)?;
                plan.ops.push(Op::Tmpfs {
                    dest: PathBuf::from(&a[0]),
                    options: TmpfsOptions {
                        size,
                        mode: Some(mode.unwrap_or(0o755)),
                    },
                });
            }
            "--dir" => {
                let a = take(1)?;
                let mode = plan.take_perms(&mut pending, &opt, true)?;
                let dest = PathBuf::from(&a[0]);
                if let Some(m) = mode {
                    // Missing parents get the owner's full access and, for
                    // group and others, search and read where the mode
                    // gives them anything (existing ones are left alone).
                    let parent = parent_mode(m);
                    let mut ancestors: Vec<&Path> = dest.ancestors().skip(1).collect();
                    ancestors.reverse();
                    for p in ancestors
                        .into_iter()
                        .filter(|p| !is_root_dest(p.as_os_str()))
                    {
                        plan.ops.push(Op::Dir {
                            dest: p.to_owned(),
                            mode: Some(parent),
                        });
                    }
                }
                plan.ops.push(Op::Dir { dest, mode });
            }
            "--file" | "--bind-data" | "--ro-bind-data" => {
                let a = take(2)?;
                let mode = plan.take_perms(&mut pending, &opt, true)?;
                let fd = parse_fd(&opt, &a[0])?;
                let contents = fds.read_all(fd)?;
                plan.consumed_fds.push(fd);
                let default = if opt == "--file" { 0o666 } else { 0o600 };
                plan.ops.push(Op::File {
                    dest: PathBuf::from(&a[1]),
                    contents,
                    mode: Some(mode.unwrap_or(default)),
                });
            }
            "--symlink" => {
                let a = take(2)?;
                plan.take_perms(&mut pending, &opt, false)?;
                plan.ops.push(Op::Symlink {
                    target: PathBuf::from(&a[0]),
                    dest: PathBuf::from(&a[1]),
                });
            }
            "--chmod" => {
                let a = take(2)?;
                plan.take_perms(&mut pending, &opt, false)?;
                let m = parse_perms(&a[0]).map_err(|e| e.replace("--perms", "--chmod"))?;
                match plan.mode_of_last(Path::new(&a[1])) {
                    Some(mode) => *mode = Some(m),
                    None => {
                        return Err(format!(
                            "--chmod {}: stockade supports it only on what an earlier --dir, --file or --tmpfs made",
                            a[1].to_string_lossy()
                        ));
                    }
                }
            }
            "--perms" => {
                let a = take(1)?;
                if pending.perms.is_some() {
                    return Err("--perms given twice for the same destination".to_owned());
                }
                pending.perms = Some(parse_perms(&a[0])?);
            }
            "--size" => {
                let a = take(1)?;
                if pending.size.is_some() {
                    return Err("--size given twice for the same destination".to_owned());
                }
                pending.size = Some(parse_size(&a[0])?);
            }
            "--new-session" => plan.new_session = true,
            "--die-with-parent" => plan.die_with_parent = true,
            "--as-pid-1" => plan.as_pid_1 = true,
            "--cap-add" => plan.caps.push(CapOp::Add(parse_cap(&take(1)?[0])?)),
            "--cap-drop" => plan.caps.push(CapOp::Drop(parse_cap(&take(1)?[0])?)),
            "--seccomp" | "--add-seccomp-fd" => {
                let fd = parse_fd(&opt, &take(1)?[0])?;
                let legacy = opt == "--seccomp";
                if !plan.seccomp.is_empty() && (legacy || plan.seccomp_legacy) {
                    return Err(
                        "--seccomp cannot be combined with --add-seccomp-fd, nor given twice"
                            .to_owned(),
                    );
                }
                plan.seccomp_legacy = legacy;
                let bytes = fds.read_all(fd)?;
                plan.consumed_fds.push(fd);
                let program = stockade::seccomp::Program::from_bytes(&bytes)
                    .map_err(|e| format!("{opt} {fd}: {}", one_line(&e)))?;
                plan.seccomp.push(program);
            }
            "--userns" | "--userns2" | "--pidns" | "--userns-block-fd" | "--exec-label"
            | "--file-label" | "--mqueue" => {
                return Err(format!("{opt} is not supported by stockade"));
            }
            "--disable-userns" => plan.disable_userns = true,
            "--assert-userns-disabled" => plan.assert_userns_disabled = true,
            _ => return Err(format!("Unknown option {opt}")),
        }
    }
    if pending.perms.is_some() {
        return Err(
            "--perms must be followed by an option that creates a file or directory".to_owned(),
        );
    }
    if pending.size.is_some() {
        return Err("--size must be followed by --tmpfs".to_owned());
    }
    if share_net {
        if !unshare_all {
            return Err("--share-net requires --unshare-all".to_owned());
        }
        plan.unshare.net = false;
    }
    plan.command = rest.into_iter().rev().collect();
    if plan.command.is_empty() {
        return Err("No command specified".to_owned());
    }
    Ok(Parsed::Run(Box::new(plan)))
}

/// The environment the program gets: the caller's, changed in order.
fn environment(
    ops: &[EnvOp],
    base: impl Iterator<Item = (OsString, OsString)>,
) -> BTreeMap<OsString, OsString> {
    let mut env: BTreeMap<OsString, OsString> = base.collect();
    for op in ops {
        match op {
            EnvOp::Set(k, v) => {
                env.insert(k.clone(), v.clone());
            }
            EnvOp::Unset(k) => {
                env.remove(k);
            }
            EnvOp::Clear => env.clear(),
        }
    }
    env
}

/// Every capability "ALL" stands for: the library's list without
/// `CAP_SYS_PTRACE`, which it never keeps (the sandbox's supervisor shares
/// the caller's memory), limited to `held` when there is no user namespace
/// to grant the others.
fn all_caps(held: Option<u64>) -> Vec<Capability> {
    Capability::ALL
        .iter()
        .copied()
        .filter(|c| *c != Capability::SysPtrace)
        .filter(|c| held.is_none_or(|h| h & (1u64 << c.number()) != 0))
        .collect()
}

/// The capabilities the program keeps: a root caller's own set by default
/// (bubblewrap keeps them), none otherwise; `--cap-add` and `--cap-drop`
/// change that in order. `held`: the caller's effective set when the
/// sandbox has no user namespace of its own.
fn capabilities(caps: &[CapOp], caller_root: bool, held: Option<u64>) -> Vec<Capability> {
    let mut set: Vec<Capability> = if caller_root {
        all_caps(held)
    } else {
        Vec::new()
    };
    for op in caps {
        match op {
            CapOp::Add(None) => set = all_caps(held),
            CapOp::Add(Some(c)) => {
                if !set.contains(c) {
                    set.push(*c);
                }
            }
            CapOp::Drop(None) => set.clear(),
            CapOp::Drop(Some(c)) => set.retain(|x| x != c),
        }
    }
    set
}

/// This process's effective capabilities (`CapEff` in `/proc/self/status`).
fn held_caps() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        })
        .unwrap_or(0)
}

/// The library policy for `plan`, for a caller whose effective uid is
/// `euid`.
pub fn sandbox(plan: &Plan, euid: u32) -> Result<Sandbox, String> {
    let caller_root = euid == 0;
    let u = plan.unshare;
    // Without privileges nothing works without a user namespace: bubblewrap
    // (not setuid) implies it, and so does this mode.
    // The -try forms: only where the kernel lets this process have one.
    let user = u.user || !caller_root || (u.user_try && can_create_userns());
    let cgroup = u.cgroup || (u.cgroup_try && Path::new("/proc/self/ns/cgroup").exists());
    if plan.uid.is_some() && !user {
        return Err("Specifying --uid requires --unshare-user or --userns".to_owned());
    }
    if plan.gid.is_some() && !user {
        return Err("Specifying --gid requires --unshare-user or --userns".to_owned());
    }
    if plan.hostname.is_some() && !u.uts {
        return Err("Specifying --hostname requires --unshare-uts".to_owned());
    }
    if plan.as_pid_1 && !u.pid {
        return Err("Specifying --as-pid-1 requires --unshare-pid".to_owned());
    }
    if plan.disable_userns && !user {
        return Err("--disable-userns requires --unshare-user".to_owned());
    }
    let mut ns = Namespaces::MOUNT;
    for (on, flag) in [
        (user, Namespaces::USER),
        (u.ipc, Namespaces::IPC),
        (u.pid, Namespaces::PID),
        (u.net, Namespaces::NET),
        (u.uts, Namespaces::UTS),
        (cgroup, Namespaces::CGROUP),
    ] {
        if on {
            ns |= flag;
        }
    }
    let mut sb = Sandbox::new();
    sb.network(if u.net {
        Network::Isolated
    } else {
        Network::Host
    });
    sb.namespaces(ns);
    sb.inherit_env(true)
        .die_with_parent(plan.die_with_parent)
        .private_home(false)
        .mask_host_secrets(false)
        .proc(plan.proc)
        .dev(plan.dev)
        .tmp(false);
    if plan.disable_userns {
        sb.seccomp(no_new_namespaces()).observe_denials(false);
    } else {
        sb.seccomp(None);
    }
    for program in &plan.seccomp {
        sb.seccomp_program(program.clone());
    }
    match &plan.root {
        None => {
            sb.empty_root();
        }
        Some(RootChoice::Bind {
            src,
            read_only: true,
            ..
        }) => {
            sb.root_dir(src);
        }
        Some(RootChoice::Bind { src, devices, .. }) => {
            sb.root_dir_in_place(src, *devices);
        }
    }
    if plan.dev {
        // bubblewrap's /dev also has this link, which the library's
        // minimal /dev leaves out.
        sb.symlink("/proc/kcore", "/dev/core");
    }
    for op in &plan.ops {
        sb.fs_op(op.clone());
    }
    if let Some(uid) = plan.uid {
        sb.uid(uid);
    }
    if let Some(gid) = plan.gid {
        sb.gid(gid);
    }
    if let Some(h) = &plan.hostname {
        sb.hostname(h);
    }
    if plan.as_pid_1 {
        sb.program_as_init(true);
    }
    let held = (!user).then(held_caps);
    let set = capabilities(&plan.caps, caller_root, held);
    if !set.is_empty() {
        let mut p = Policy::new();
        p.keep_all(set.iter().copied());
        let uid_inside = plan.uid.unwrap_or(euid);
        p.ambient(uid_inside != 0).lock_noroot(false);
        sb.capabilities(p);
    }
    Ok(sb)
}

/// The namespace flags of `unshare(2)` and `clone(2)`.
const NEW_NAMESPACES: [u32; 8] = [
    libc::CLONE_NEWNS as u32,
    libc::CLONE_NEWCGROUP as u32,
    libc::CLONE_NEWUTS as u32,
    libc::CLONE_NEWIPC as u32,
    libc::CLONE_NEWUSER as u32,
    libc::CLONE_NEWPID as u32,
    libc::CLONE_NEWNET as u32,
    0x80, // CLONE_NEWTIME (unshare only: clone's low byte is its signal)
];

/// `--disable-userns`: the program and its descendants can create no
/// namespace (`unshare` and `clone` with a namespace flag fail with EPERM,
/// `setns` too, and `clone3`, whose flags a filter cannot see, answers
/// ENOSYS so that callers fall back to `clone`). bubblewrap reaches the
/// same end with a nested user namespace under a limit of one: no new user
/// namespace, and no capability over the sandbox's namespaces to make
/// others.
fn no_new_namespaces() -> stockade::seccomp::Policy {
    use stockade::seccomp::{Action, ArgCondition, ArgOp, Policy, SyscallRule};
    let eperm = Action::Errno(libc::EPERM as u16);
    let mut p = Policy::denylist();
    for (i, bit) in NEW_NAMESPACES.into_iter().enumerate() {
        let has = |arg| ArgCondition::new32(arg, ArgOp::MaskedEq(u64::from(bit)), bit);
        p.rule(SyscallRule::new("unshare", eperm).when(has(0)));
        if i < NEW_NAMESPACES.len() - 1 {
            p.rule(SyscallRule::new("clone", eperm).when(has(0)));
        }
    }
    p.rule(SyscallRule::new(
        "clone3",
        Action::Errno(libc::ENOSYS as u16),
    ));
    p.rule(SyscallRule::new("setns", eperm));
    p
}

/// Whether this process can create a user namespace (a child made with
/// `clone(CLONE_NEWUSER)` that exits at once).
fn can_create_userns() -> bool {
    // SAFETY: the child shares nothing it could corrupt (no CLONE_VM) and
    // only calls _exit; the parent reaps it.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::CLONE_NEWUSER | libc::SIGCHLD,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid == 0 {
        // SAFETY: the child leaves at once.
        unsafe { libc::_exit(0) };
    }
    if pid < 0 {
        return false;
    }
    let mut status = 0;
    // SAFETY: waiting for the child just made.
    unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
    true
}

/// The first JSON document of `--info-fd` and `--json-status-fd`: the
/// program's pid and its namespaces' inode numbers (recorded before the
/// program ran: a program that has already ended has them too).
fn info_json(pid: u32, ids: Option<stockade::NamespaceIds>) -> String {
    let mut s = format!("{{\n    \"child-pid\": {pid}");
    for (ns, id) in ids.iter().flat_map(stockade::NamespaceIds::iter) {
        if ["cgroup", "ipc", "mnt", "net", "pid", "uts"].contains(&ns) {
            s.push_str(&format!(",\n    \"{ns}-namespace\": {id}"));
        }
    }
    s.push_str("\n}\n");
    s
}

fn write_fd(fd: RawFd, text: &str) {
    // SAFETY: the caller named the descriptor for this process to write to;
    // ManuallyDrop keeps it open for later documents.
    let mut f = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(fd) });
    let _ = f.write_all(text.as_bytes());
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("{NAME}: {msg}");
    ExitCode::from(1)
}

/// The message bubblewrap gives for a program it could not execute.
fn exec_failure(program: &OsStr, e: &Error) -> String {
    let errno = match e {
        Error::ProgramNotFound { .. } | Error::InterpreterNotFound { .. } => Some(libc::ENOENT),
        Error::NotExecutable { .. } => Some(libc::EACCES),
        Error::IsADirectory { .. } => Some(libc::EACCES),
        _ => None,
    };
    match errno {
        Some(n) => format!(
            "execvp {}: {}",
            program.to_string_lossy(),
            std::io::Error::from_raw_os_error(n)
        ),
        None => one_line(e),
    }
}

/// `e` and its causes on one line.
fn one_line(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Takes a shared lock on `path` (as the host sees it) for as long as
/// the returned file lives.
fn lock(path: &Path) -> Result<File, String> {
    use std::os::fd::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .open(path)
        .map_err(|e| format!("Can't open lock file {}: {e}", path.display()))?;
    let mut fl: libc::flock = {
        // SAFETY: an all-zero flock is a valid value, filled in below.
        unsafe { std::mem::zeroed() }
    };
    fl.l_type = libc::F_RDLCK as _;
    fl.l_whence = libc::SEEK_SET as _;
    // SAFETY: F_SETLK on an open descriptor with a valid flock.
    if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &fl) } < 0 {
        return Err(format!(
            "Can't lock file {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(f)
}

/// The descriptors the caller left open for the program (3 and above,
/// without close-on-exec), as bubblewrap's program inherits them.
fn inherited_fds() -> Vec<RawFd> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc/self/fd") {
        for e in rd.flatten() {
            if let Some(fd) = e.file_name().to_str().and_then(|n| n.parse::<RawFd>().ok()) {
                // SAFETY: F_GETFD only queries the descriptor table.
                let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
                if fd > 2 && flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                    out.push(fd);
                }
            }
        }
    }
    out.sort_unstable();
    out
}

/// The compatibility mode's exit status when `argv[0]` selects it; `None`
/// otherwise (the binary's own command line).
pub fn dispatch() -> Option<ExitCode> {
    let mut argv = std::env::args_os();
    let argv0 = argv.next().filter(|a| selected(a))?;
    Some(main(&argv0, argv.collect()))
}

/// Runs the compatibility mode: `argv0` as invoked, `args` after it.
pub fn main(argv0: &OsStr, args: Vec<OsString>) -> ExitCode {
    // Before anything here opens a descriptor of its own.
    let inherited = inherited_fds();
    let plan = match parse(args, &mut ProcessFds) {
        Ok(Parsed::Help) => {
            print!("{}", HELP.replace("{argv0}", &argv0.to_string_lossy()));
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Version) => {
            println!("bubblewrap 0.8.0 (stockade {})", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Run(p)) => p,
        Err(e) => return fail(e),
    };
    run(&plan, &inherited)
}

fn run(plan: &Plan, inherited: &[RawFd]) -> ExitCode {
    if plan.die_with_parent {
        // bubblewrap's own process dies with its parent, and the sandbox
        // with it.
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    }
    if plan.assert_userns_disabled && can_create_userns() {
        return fail("creation of new user namespaces was not disabled as requested");
    }
    let euid = nix::unistd::geteuid().as_raw();
    let sb = match sandbox(plan, euid) {
        Ok(sb) => sb,
        Err(e) => return fail(e),
    };
    let mut _locks = Vec::new();
    for p in &plan.lock_files {
        match lock(p) {
            Ok(f) => _locks.push(f),
            Err(e) => return fail(e),
        }
    }
    if let Some(fd) = plan.block_fd {
        let mut b = [0u8; 1];
        // SAFETY: reading into a valid one-byte buffer.
        let _ = unsafe { libc::read(fd, b.as_mut_ptr().cast(), 1) };
    }

    let program = &plan.command[0];
    let mut cmd = Command::new(program);
    cmd.args(&plan.command[1..]);
    match &plan.argv0 {
        Some(a) => {
            cmd.arg0(a);
        }
        None if is_own_exe(program) => {
            // Nested: this binary again, in this mode.
            cmd.arg0(NAME);
        }
        None => {}
    }
    let env = environment(&plan.env, std::env::vars_os());
    cmd.env_clear();
    cmd.envs(env);
    // bubblewrap starts the program in --chdir's directory, else in the
    // caller's if the sandbox has it, else in /, and sets PWD to it.
    let cwd = match &plan.chdir {
        Some(d) => d.clone(),
        None => std::env::current_dir()
            .ok()
            .filter(|d| plan.has_path(d))
            .unwrap_or_else(|| PathBuf::from("/")),
    };
    cmd.current_dir(&cwd);
    cmd.env("PWD", &cwd);
    for &fd in inherited {
        if plan.consumed_fds.contains(&fd) {
            continue;
        }
        if let Ok(dup) = nix::unistd::dup(
            // SAFETY: the descriptor is open (listed at start-up) and
            // only borrowed for the dup.
            unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
        ) {
            cmd.pass_fd(fd, dup);
        }
    }

    // The program runs in a session of its own, out of reach of the
    // terminal's signals: these reach it through this process instead
    // (blocked before the spawn, so none is lost in between).
    let sfd = forwarded_signals();
    if plan.info_fd.is_some() || plan.json_status_fd.is_some() {
        cmd.record_namespace_ids();
    }
    let mut child = match sb.spawn(&mut cmd) {
        Ok(c) => c,
        Err(e) => return fail(exec_failure(program, &e)),
    };
    let info = info_json(child.id(), child.namespace_ids());
    if let Some(fd) = plan.info_fd {
        write_fd(fd, &info);
        // SAFETY: the descriptor was named for this process; it is done.
        unsafe { libc::close(fd) };
    }
    if let Some(fd) = plan.json_status_fd {
        write_fd(fd, &info);
    }
    let status = match wait_forwarding(&mut child, sfd.as_ref()) {
        Ok(s) => s,
        Err(e) => return fail(format!("failed to wait for the sandbox: {e}")),
    };
    let code = match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => 1,
    };
    if let Some(fd) = plan.json_status_fd {
        write_fd(fd, &format!("{{ \"exit-code\": {code} }}\n"));
    }
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// Signals passed on to the program (those this process was not started
/// with ignored), blocked and readable from the returned descriptor.
fn forwarded_signals() -> Option<nix::sys::signalfd::SignalFd> {
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    // SigIgn in /proc/self/status: the signals ignored at start stay so.
    let ignored = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|st| {
            st.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        })
        .unwrap_or(0);
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        let ignored = ignored & (1u64 << (s as u32 - 1)) != 0;
        if !ignored {
            mask.add(s);
        }
    }
    mask.thread_block().ok()?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok()
}

/// Waits for the sandbox to end, passing the signals `sfd` receives on to
/// the program.
fn wait_forwarding(
    child: &mut stockade::Child,
    sfd: Option<&nix::sys::signalfd::SignalFd>,
) -> std::io::Result<stockade::ExitStatus> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let Some(sfd) = sfd else {
        return child.wait();
    };
    loop {
        let signalled = {
            let mut fds = [
                PollFd::new(child.pidfd(), PollFlags::POLLIN),
                PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            if fds[0].revents().is_some_and(|r| !r.is_empty()) {
                return child.wait();
            }
            fds[1].revents().is_some_and(|r| !r.is_empty())
        };
        if signalled {
            while let Ok(Some(info)) = sfd.read_signal() {
                let _ = child.signal(info.ssi_signo as i32);
            }
        }
    }
}

/// Whether `program` is this binary run again through `/proc/self/exe`
/// (as it is from the sandbox's program process, a clone of this one).
fn is_own_exe(program: &OsStr) -> bool {
    program == "/proc/self/exe"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::IntoRawFd;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn plan(v: &[&str]) -> Plan {
        match parse(os(v), &mut ProcessFds) {
            Ok(Parsed::Run(p)) => *p,
            other => panic!("{v:?}: {other:?}"),
        }
    }

    fn err(v: &[&str]) -> String {
        match parse(os(v), &mut ProcessFds) {
            Err(e) => e,
            other => panic!("{v:?} parsed: {other:?}"),
        }
    }

    /// A real pipe holding `data`, its read end's number handed over.
    fn fd_with(data: &[u8]) -> String {
        let (r, w) = nix::unistd::pipe().unwrap();
        File::from(w).write_all(data).unwrap();
        r.into_raw_fd().to_string()
    }

    #[test]
    fn selected_by_the_last_component_of_argv0_only() {
        assert!(selected(OsStr::new("bwrap")));
        assert!(selected(OsStr::new("/usr/local/bin/bwrap")));
        assert!(!selected(OsStr::new("stockade")));
        assert!(!selected(OsStr::new("/usr/bin/bwrap-oci")));
        assert!(!selected(OsStr::new("/proc/self/exe")));
    }

    #[test]
    fn perms_and_size_apply_to_the_next_operation_only() {
        let p = plan(&[
            "--perms", "0700", "--dir", "/a", "--dir", "/b", "--size", "4096", "--tmpfs", "/t",
            "true",
        ]);
        assert_eq!(
            p.ops,
            vec![
                Op::Dir {
                    dest: "/a".into(),
                    mode: Some(0o700)
                },
                Op::Dir {
                    dest: "/b".into(),
                    mode: None
                },
                Op::Tmpfs {
                    dest: "/t".into(),
                    options: TmpfsOptions {
                        size: Some(4096),
                        mode: Some(0o755)
                    }
                },
            ]
        );
        // Parents of a --perms --dir get bubblewrap's derived modes.
        let p = plan(&["--perms", "0604", "--dir", "/x/y", "true"]);
        assert_eq!(
            p.ops,
            vec![
                Op::Dir {
                    dest: "/x".into(),
                    mode: Some(0o705)
                },
                Op::Dir {
                    dest: "/x/y".into(),
                    mode: Some(0o604)
                },
            ]
        );
        assert_eq!(parent_mode(0o1777), 0o755);
        assert_eq!(parent_mode(0o640), 0o750);
        assert_eq!(parent_mode(0), 0o700);
    }

    #[test]
    fn bad_perms_and_sizes_are_refused() {
        for v in [
            &[
                "--perms", "0640", "--perms", "0640", "--tmpfs", "/a", "true",
            ][..],
            &["--size", "1", "--size", "1", "--tmpfs", "/a", "true"],
            &["--size", "0", "--tmpfs", "/a", "true"],
            &["--size", "123bogus", "--tmpfs", "/a", "true"],
            &["--size", "", "--tmpfs", "/a", "true"],
            &["--size", "-1", "--tmpfs", "/a", "true"],
            &["--size", " 1", "--tmpfs", "/a", "true"],
            &["--size", "18446744073709551616", "--tmpfs", "/a", "true"],
            &["--size", "9223372036854775809", "--tmpfs", "/a", "true"],
            &["--size", "1", "--dir", "/a", "true"],
            &["--perms", "0640", "--symlink", "a", "/b", "true"],
            &["--perms", "8", "--dir", "/a", "true"],
            &["--perms", "0700", "true"],
        ] {
            err(v);
        }
        assert!(
            err(&["--size", "1", "--dir", "/a", "true"])
                .contains("--size must be followed by --tmpfs")
        );
    }

    #[test]
    fn a_bind_over_the_root_replaces_what_came_before() {
        let p = plan(&[
            "--bind",
            "/",
            "/",
            "--tmpfs",
            "/tmp",
            "--proc",
            "/proc",
            "--ro-bind",
            "/",
            "/",
            "--dir",
            "/d",
            "true",
        ]);
        assert_eq!(
            p.root,
            Some(RootChoice::Bind {
                src: "/".into(),
                read_only: true,
                devices: false
            })
        );
        assert_eq!(
            p.ops,
            vec![Op::Dir {
                dest: "/d".into(),
                mode: None
            }]
        );
        assert!(!p.proc);
        let p = plan(&["--dev-bind", "/", "/", "--remount-ro", "/", "true"]);
        assert_eq!(
            p.root,
            Some(RootChoice::Bind {
                src: "/".into(),
                read_only: true,
                devices: true
            })
        );
    }

    #[test]
    fn later_options_change_earlier_operations() {
        let p = plan(&[
            "--bind",
            "/usr",
            "/usr",
            "--remount-ro",
            "/usr/",
            "--dir",
            "/d",
            "--chmod",
            "1755",
            "/d",
            "true",
        ]);
        assert!(matches!(
            p.ops[0],
            Op::Bind {
                read_only: true,
                ..
            }
        ));
        assert_eq!(
            p.ops[1],
            Op::Dir {
                dest: "/d".into(),
                mode: Some(0o1755)
            }
        );
        assert!(err(&["--chmod", "0755", "/nothing", "true"]).contains("--chmod"));
        assert!(err(&["--remount-ro", "/usr", "true"]).contains("--remount-ro"));
    }

    #[test]
    fn the_command_starts_at_the_first_non_option_or_after_double_dash() {
        let p = plan(&["--unshare-pid", "--", "--dev-bind", "/dev", "/dev"]);
        assert_eq!(p.command, os(&["--dev-bind", "/dev", "/dev"]));
        let p = plan(&["sh", "-c", "--bind"]);
        assert_eq!(p.command, os(&["sh", "-c", "--bind"]));
        assert_eq!(err(&["--unshare-pid"]), "No command specified");
    }

    #[test]
    fn unknown_refused_and_short_options_are_errors() {
        assert_eq!(
            err(&["--frobnicate", "true"]),
            "Unknown option --frobnicate"
        );
        assert!(err(&["--bind", "/usr"]).contains("--bind takes two arguments"));
        assert!(err(&["--uid"]).contains("--uid takes one argument"));
        assert!(err(&["--uid", "x", "true"]).contains("Invalid uid"));
        for o in ["--userns", "--pidns", "--userns-block-fd"] {
            assert!(
                err(&[o, "3", "true"]).contains("not supported by stockade"),
                "{o}"
            );
        }
        assert!(err(&["--mqueue", "/dev/mqueue", "true"]).contains("not supported"));
        assert!(err(&["--proc", "/elsewhere", "true"]).contains("only at /proc"));
        assert!(err(&["--share-net", "true"]).contains("requires --unshare-all"));
        assert!(
            err(&["--bind", "/stockade-no-such-source", "/x", "true"])
                .starts_with("Can't find source path /stockade-no-such-source")
        );
        plan(&["--bind-try", "/stockade-no-such-source", "/x", "true"]);
        assert!(matches!(
            parse(os(&["--help", "--frob"]), &mut ProcessFds),
            Ok(Parsed::Help)
        ));
    }

    #[test]
    fn unshare_all_and_share_net() {
        let p = plan(&["--unshare-all", "--share-net", "true"]);
        assert!(
            p.unshare.user_try
                && p.unshare.pid
                && p.unshare.ipc
                && p.unshare.uts
                && p.unshare.cgroup_try
        );
        assert!(!p.unshare.net && !p.unshare.user && !p.unshare.cgroup);
        let p = plan(&["true"]);
        assert_eq!(p.unshare, Unshare::default());
    }

    #[test]
    fn args_from_a_descriptor_are_spliced_in_place() {
        let fd = fd_with(b"--dir\0/from-fd\0--setenv\0A\0b c\0");
        let p = plan(&["--dir", "/first", "--args", &fd, "--dir", "/last", "true"]);
        let dests: Vec<&Path> = p.ops.iter().map(|o| o.dest()).collect();
        assert_eq!(
            dests,
            [
                Path::new("/first"),
                Path::new("/from-fd"),
                Path::new("/last")
            ]
        );
        assert_eq!(p.env, vec![EnvOp::Set("A".into(), "b c".into())]);
        assert!(p.consumed_fds.contains(&fd.parse().unwrap()));
        // The command itself may come from the descriptor.
        let fd = fd_with(b"--\0echo\0hi");
        assert_eq!(plan(&["--args", &fd]).command, os(&["echo", "hi"]));
        assert!(err(&["--args", "999", "true"]).contains("Invalid fd"));
    }

    #[test]
    fn file_contents_come_from_their_descriptor() {
        let fd = fd_with(b"data");
        let p = plan(&["--perms", "0640", "--file", &fd, "/f", "true"]);
        assert_eq!(
            p.ops,
            vec![Op::File {
                dest: "/f".into(),
                contents: b"data".to_vec(),
                mode: Some(0o640)
            }]
        );
        let fd = fd_with(b"");
        let p = plan(&["--bind-data", &fd, "/g", "true"]);
        assert_eq!(
            p.ops,
            vec![Op::File {
                dest: "/g".into(),
                contents: Vec::new(),
                mode: Some(0o600)
            }]
        );
    }

    #[test]
    fn environment_changes_apply_in_order() {
        let base =
            [("KEEP", "1"), ("DROP", "2")].map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let env = environment(
            &[
                EnvOp::Unset("DROP".into()),
                EnvOp::Set("NEW".into(), "3".into()),
            ],
            base.clone().into_iter(),
        );
        assert_eq!(env.len(), 2);
        assert_eq!(env[OsStr::new("NEW")], "3");
        let env = environment(
            &[
                EnvOp::Set("A".into(), "1".into()),
                EnvOp::Clear,
                EnvOp::Set("B".into(), "2".into()),
            ],
            base.into_iter(),
        );
        assert_eq!(env.keys().collect::<Vec<_>>(), [OsStr::new("B")]);
    }

    #[test]
    fn capabilities_follow_the_caller_and_the_requests_in_order() {
        assert!(capabilities(&[], false, None).is_empty());
        let all = capabilities(&[], true, None);
        assert!(!all.is_empty() && !all.contains(&Capability::SysPtrace));
        let kill = "CAP_KILL".parse::<Capability>().unwrap();
        let chown = "CAP_CHOWN".parse::<Capability>().unwrap();
        assert_eq!(
            capabilities(&[CapOp::Drop(None), CapOp::Add(Some(kill))], true, None),
            vec![kill]
        );
        let some = capabilities(&[CapOp::Drop(Some(kill))], true, None);
        assert!(!some.contains(&kill) && some.contains(&chown));
        // Without a user namespace, only what the caller holds.
        let held = 1u64 << chown.number();
        assert_eq!(
            capabilities(&[CapOp::Add(None)], false, Some(held)),
            vec![chown]
        );
        assert!(parse_cap(OsStr::new("CAP_NOPE")).is_err());
        assert_eq!(parse_cap(OsStr::new("all")), Ok(None));
    }

    #[test]
    fn requirements_between_options_are_checked() {
        let p = plan(&["--hostname", "h", "true"]);
        assert!(sandbox(&p, 1000).unwrap_err().contains("--unshare-uts"));
        let p = plan(&["--as-pid-1", "true"]);
        assert!(sandbox(&p, 1000).unwrap_err().contains("--unshare-pid"));
        let p = plan(&["--uid", "5", "true"]);
        assert!(sandbox(&p, 0).unwrap_err().contains("--unshare-user"));
        // Unprivileged, the user namespace is implied.
        sandbox(&p, 1000).unwrap();
        let p = plan(&[
            "--bind",
            "/usr",
            "/usr",
            "--ro-bind",
            "/etc",
            "/etc2",
            "--dir",
            "/d",
            "true",
        ]);
        assert!(p.has_path(Path::new("/usr/lib")));
        assert!(!p.has_path(Path::new("/etc2")) && !p.has_path(Path::new("/etc")));
        assert!(p.has_path(Path::new("/d")) && !p.has_path(Path::new("/d/e")));
        assert!(plan(&["--ro-bind", "/", "/", "true"]).has_path(Path::new("/anything")));
        let p = plan(&["--disable-userns", "true"]);
        assert!(
            sandbox(&p, 0)
                .unwrap_err()
                .contains("requires --unshare-user")
        );
        let p = plan(&["--unshare-user", "--disable-userns", "true"]);
        sandbox(&p, 0).unwrap();
        no_new_namespaces().validate().unwrap();
    }
}
