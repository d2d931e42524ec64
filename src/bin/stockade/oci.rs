//! An OCI runtime's command line (`create`, `start`, `state`, `kill`,
//! `delete`, `exec`, `features`), so that container engines that drive
//! runc (podman with `--runtime`, conmon) can drive stockade.
//!
//! Selected when the program is invoked as `stockade-oci` (a link to
//! stockade), or as `stockade oci ...`. Each OCI container is a stockade
//! container (`stockade start ID --bundle DIR`: stockade's init holds its
//! namespaces) plus a *waiter*: a process `create` leaves behind, which is
//! the pid the engine is told about. It waits for `start`, then runs the
//! bundle's program in the container with the standard streams `create`
//! was given, passes signals on to it, stops the container when it ends,
//! and ends as it did: the exit status an engine's monitor reads from the
//! process it was given is the program's.
//!
//! With `process.terminal`, `create` makes the program's pseudo-terminal in
//! the container's own `devpts`, sends its master to `--console-socket`
//! before it returns (engines wait for it), and hands the slave to the
//! waiter, which at `start` gives it to the program as its standard
//! streams and controlling terminal. `exec --tty` does the same at once.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use crate::args;

/// The program names that select this mode.
const NAMES: [&str; 1] = ["stockade-oci"];

/// The OCI runtime specification version the state reports.
const OCI_VERSION: &str = "1.2.0";

/// Runs the OCI mode when this program was invoked for it.
pub fn dispatch() -> Option<ExitCode> {
    let mut argv = std::env::args_os();
    let argv0 = argv.next()?;
    let rest: Vec<OsString> = argv.collect();
    let by_name = Path::new(&argv0)
        .file_name()
        .and_then(OsStr::to_str)
        .is_some_and(|n| NAMES.contains(&n));
    if by_name {
        return Some(main(rest));
    }
    if rest.first().is_some_and(|a| a == "oci") {
        return Some(main(rest[1..].to_vec()));
    }
    None
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("stockade-oci: {msg}");
    ExitCode::from(1)
}

/// The global options, before the command.
struct Global {
    root: PathBuf,
}

/// The default state root: `/run/stockade-oci` for the host's root, else
/// under `$XDG_RUNTIME_DIR`, else `/tmp/stockade-oci-UID`. A rootless engine
/// (podman run by a user) runs its runtime as root of a user namespace of
/// its own, which cannot write `/run`: there `$XDG_RUNTIME_DIR` (the user's)
/// decides, as it does for runc and crun.
fn default_root() -> PathBuf {
    let uid = nix::unistd::geteuid();
    if uid.is_root() && !in_user_namespace() {
        return PathBuf::from("/run/stockade-oci");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(x) if Path::new(&x).is_absolute() => Path::new(&x).join("stockade-oci"),
        _ => PathBuf::from(format!("/tmp/stockade-oci-{uid}")),
    }
}

/// Whether this process runs in a user namespace other than the host's:
/// the host's maps every id to itself.
fn in_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"],
        Err(_) => false,
    }
}

const USAGE: &str = "\
usage: stockade-oci [--root DIR] [--log FILE] [--log-format text|json] COMMAND ...
       create [--bundle DIR] [--pid-file FILE] [--console-socket SOCKET] ID
       start ID
       state ID
       kill ID [SIGNAL]
       delete [--force] ID
       exec [--process FILE] [--detach] [--pid-file FILE] [--tty --console-socket SOCKET]
            [--cwd DIR] [--env K=V]... ID [ARGS...]
       features

An OCI runtime (runtime-spec 1.2) over stockade's containers. The bundle's
config.json is lowered as `stockade run --bundle` lowers it: a field stockade
cannot enforce is an error naming it. See docs/oci-runtime.md.
";

fn main(argv: Vec<OsString>) -> ExitCode {
    let mut it = argv.into_iter().peekable();
    let mut root = None;
    while let Some(a) = it.peek().and_then(|a| a.to_str()).map(str::to_owned) {
        if !a.starts_with('-') {
            break;
        }
        it.next();
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(OsString::from(v))),
            None => (a.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next());
        match flag.as_str() {
            "--root" => match value() {
                Some(v) => root = Some(PathBuf::from(v)),
                None => return fail("option --root needs a value"),
            },
            // Where engines ask for the runtime's own log: errors go to
            // stderr, which they read as well.
            "--log" | "--log-format" | "--criu" => {
                if value().is_none() {
                    return fail(format!("option {flag} needs a value"));
                }
            }
            "--debug" => {}
            "--systemd-cgroup" => {
                return fail(
                    "option --systemd-cgroup: systemd cgroup paths are not supported; \
                     use the cgroupfs manager (podman --cgroup-manager cgroupfs)",
                );
            }
            "--rootless" => {
                let _ = value();
            }
            "-v" | "--version" => {
                println!(
                    "stockade-oci version {}\nspec: {OCI_VERSION}",
                    env!("CARGO_PKG_VERSION")
                );
                return ExitCode::SUCCESS;
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => return fail(format!("unknown global option {flag}")),
        }
    }
    let g = Global {
        root: root.unwrap_or_else(default_root),
    };
    // The stockade containers behind this root's OCI containers live in it
    // too, so that two roots may use the same ids.
    // SAFETY: nothing else runs in this process yet (no other thread reads
    // the environment).
    unsafe { std::env::set_var(crate::container::BASE_ENV, g.root.join(".containers")) };
    let Some(cmd) = it.next() else {
        eprint!("{USAGE}");
        return ExitCode::from(1);
    };
    let rest: Vec<OsString> = it.collect();
    match cmd.to_str() {
        Some("create") => create(&g, rest),
        Some("start") => start(&g, rest),
        Some("state") => state(&g, rest),
        Some("kill") => kill(&g, rest),
        Some("delete") => delete(&g, rest),
        Some("exec") => exec(&g, rest),
        Some("features") => features(),
        Some("__wait") => waiter(&g, rest),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => fail(format!(
            "unknown command {:?}; see stockade-oci --help",
            cmd.to_string_lossy()
        )),
    }
}

/// A command's options (`--name VALUE`, `--name=VALUE`, or flags) and its
/// positional arguments. Options end at the first positional argument.
struct Parsed {
    values: Vec<(String, OsString)>,
    flags: Vec<String>,
    positional: Vec<OsString>,
}

impl Parsed {
    fn value(&self, names: &[&str]) -> Option<&OsString> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v)
    }
    fn all(&self, names: &[&str]) -> Vec<&OsString> {
        self.values
            .iter()
            .filter(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v)
            .collect()
    }
    fn flag(&self, names: &[&str]) -> bool {
        self.flags.iter().any(|f| names.contains(&f.as_str()))
    }
    /// The container id: the first positional argument, a valid name.
    fn id(&self, command: &str) -> Result<String, String> {
        let id = self
            .positional
            .first()
            .ok_or_else(|| format!("{command} needs a container id"))?;
        let id = id
            .to_str()
            .ok_or_else(|| format!("invalid container id {id:?}"))?;
        if let Some(why) = args::bad_name(OsStr::new(id)) {
            return Err(format!("invalid container id {id:?}: {why}"));
        }
        Ok(id.to_owned())
    }
}

fn parse(argv: Vec<OsString>, valued: &[&str], flags: &[&str]) -> Result<Parsed, String> {
    let mut p = Parsed {
        values: Vec::new(),
        flags: Vec::new(),
        positional: Vec::new(),
    };
    let mut it = argv.into_iter();
    while let Some(a) = it.next() {
        let Some(s) = a.to_str().filter(|s| s.starts_with('-') && s.len() > 1) else {
            p.positional.push(a);
            p.positional.extend(it);
            break;
        };
        if s == "--" {
            p.positional.extend(it);
            break;
        }
        let (name, inline) = match s.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(OsString::from(v))),
            None => (s.to_owned(), None),
        };
        if valued.contains(&name.as_str()) {
            let v = inline
                .or_else(|| it.next())
                .ok_or_else(|| format!("option {name} needs a value"))?;
            p.values.push((name, v));
        } else if flags.contains(&name.as_str()) {
            p.flags.push(name);
        } else {
            return Err(format!("unknown option {name}"));
        }
    }
    Ok(p)
}

/// The state directory of container `id`.
fn dir(g: &Global, id: &str) -> PathBuf {
    g.root.join(id)
}

/// What the runtime keeps of a container (`ROOT/ID/state.json`).
#[derive(Debug)]
struct Record {
    bundle: PathBuf,
    /// The waiter's pid and start time (clock ticks since boot).
    waiter: u32,
    waiter_start: u64,
    created: String,
    annotations: Value,
    /// Set by the waiter: `running` once `start` released it, then
    /// `stopped`.
    phase: String,
    /// The cgroup made for `linux.cgroupsPath`.
    cgroup: Option<PathBuf>,
}

impl Record {
    fn read(g: &Global, id: &str) -> Result<Record, String> {
        let path = dir(g, id).join("state.json");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(format!("container {id} does not exist"));
            }
            Err(e) => return Err(format!("failed to read {}: {e}", path.display())),
        };
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}: malformed state: {e}", path.display()))?;
        let phase = fs::read_to_string(dir(g, id).join("phase")).unwrap_or_default();
        Ok(Record {
            bundle: PathBuf::from(v["bundle"].as_str().unwrap_or_default()),
            waiter: v["waiter"].as_u64().unwrap_or(0) as u32,
            waiter_start: v["waiter_start"].as_u64().unwrap_or(0),
            created: v["created"].as_str().unwrap_or_default().to_owned(),
            annotations: v["annotations"].clone(),
            phase: phase.trim().to_owned(),
            cgroup: v["cgroup"].as_str().map(PathBuf::from),
        })
    }

    /// Whether the waiter still runs (the same process, not a reused pid).
    fn waiter_alive(&self) -> bool {
        self.waiter != 0
            && crate::container::start_time(self.waiter).is_some_and(|t| t == self.waiter_start)
    }

    /// The OCI status.
    fn status(&self) -> &'static str {
        // The waiter writes `stopped` when the program has ended, then
        // stops the container before it ends itself: stopped from then on.
        if !self.waiter_alive() || self.phase == "stopped" {
            "stopped"
        } else if self.phase == "running" {
            "running"
        } else {
            "created"
        }
    }
}

/// Writes `text` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text)?;
    fs::rename(&tmp, path)
}

/// Now, in RFC 3339 (UTC).
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    crate::container::utc(secs)
}

/// What `create` does to the bundle's configuration before stockade
/// lowers it: the parts the runtime does itself rather than the sandbox.
/// A network, IPC or UTS namespace given by path (a pod's, shared with its
/// other containers) is joined here, and the sandbox then shares it;
/// `linux.sysctl` entries of the network namespace are written in it; both
/// need the runtime to be privileged over that namespace.
struct Prepared {
    config: Value,
    netns: Option<PathBuf>,
    /// IPC and UTS namespaces to join, by path.
    joins: Vec<(nix::sched::CloneFlags, PathBuf)>,
    sysctl: Vec<(String, String)>,
    /// `linux.cgroupsPath` (cgroupfs form), under which stockade makes the
    /// container's cgroup.
    cgroup: Option<PathBuf>,
}

fn prepare(mut config: Value) -> Result<Prepared, String> {
    let mut netns = None;
    let mut joins = Vec::new();
    let mut sysctl = Vec::new();
    let mut cgroup = None;
    // The umask is the runtime's to set: the container's processes inherit
    // it from the monitor it starts.
    if let Some(user) = config
        .pointer_mut("/process/user")
        .and_then(Value::as_object_mut)
    {
        if let Some(m) = user.remove("umask") {
            let m = m
                .as_u64()
                .filter(|m| *m <= 0o777)
                .ok_or("process.user.umask: expected a number from 0 to 0o777")?;
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(m as u32));
        }
    }
    if let Some(linux) = config.get_mut("linux").and_then(Value::as_object_mut) {
        if let Some(p) = linux.remove("cgroupsPath") {
            let p = p
                .as_str()
                .ok_or("linux.cgroupsPath: expected a string")?
                .to_owned();
            if p.contains(':') || p.split('/').any(|c| c == "..") {
                return Err(format!(
                    "linux.cgroupsPath = {p:?}: only a cgroupfs path is supported (not \
                     systemd's slice:prefix:name form), without `..`"
                ));
            }
            if !p.is_empty() {
                let root = cgroup2_root().ok_or_else(|| {
                    format!("linux.cgroupsPath = {p:?}: this host has no cgroup v2 hierarchy")
                })?;
                cgroup = Some(root.join(p.trim_start_matches('/')));
            }
        }
        if let Some(list) = linux.get_mut("namespaces").and_then(Value::as_array_mut) {
            let mut keep = Vec::new();
            for (i, ns) in list.drain(..).enumerate() {
                let ty = ns.get("type").and_then(Value::as_str).unwrap_or("?");
                match ns.get("path").and_then(Value::as_str) {
                    Some(p) if ty == "network" && !p.is_empty() => {
                        netns = Some(PathBuf::from(p));
                    }
                    Some(p) if (ty == "ipc" || ty == "uts") && !p.is_empty() => {
                        let flag = if ty == "ipc" {
                            nix::sched::CloneFlags::CLONE_NEWIPC
                        } else {
                            nix::sched::CloneFlags::CLONE_NEWUTS
                        };
                        joins.push((flag, PathBuf::from(p)));
                    }
                    Some(p) if !p.is_empty() => {
                        return Err(format!(
                            "linux.namespaces[{i}].path: joining an existing {ty} namespace is \
                             not supported (network, IPC and UTS namespaces may be joined)"
                        ));
                    }
                    _ => keep.push(ns),
                }
            }
            *list = keep;
        }
        if let Some(map) = linux.remove("sysctl") {
            let Value::Object(map) = map else {
                return Err("linux.sysctl: expected an object".to_owned());
            };
            for (k, v) in map {
                let Some(v) = v.as_str() else {
                    return Err(format!("linux.sysctl.{k}: expected a string"));
                };
                if !k.starts_with("net.") || k.contains("..") || k.contains('/') {
                    return Err(format!(
                        "linux.sysctl.{k}: only sysctls of the network namespace (net.*) \
                         are supported"
                    ));
                }
                sysctl.push((k, v.to_owned()));
            }
        }
    }
    let own_network = config
        .pointer("/linux/namespaces")
        .and_then(Value::as_array)
        .is_some_and(|l| {
            l.iter()
                .any(|ns| ns.get("type").and_then(Value::as_str) == Some("network"))
        });
    if !sysctl.is_empty() && netns.is_none() {
        if !own_network {
            return Err(
                "linux.sysctl: sysctls of the network namespace need one of the container's \
                 own (linux.namespaces[] of type network)"
                    .to_owned(),
            );
        }
        // The runtime makes the container's network namespace itself, so
        // that it can set the sysctls there before the sandbox joins it.
        if let Some(list) = config
            .pointer_mut("/linux/namespaces")
            .and_then(Value::as_array_mut)
        {
            list.retain(|ns| ns.get("type").and_then(Value::as_str) != Some("network"));
        }
        netns = Some(PathBuf::new());
    }
    Ok(Prepared {
        config,
        netns,
        joins,
        sysctl,
        cgroup,
    })
}

/// Where the cgroup v2 hierarchy's root is mounted (`/sys/fs/cgroup`, or
/// `/sys/fs/cgroup/unified` on a hybrid host), from this process's
/// mountinfo.
fn cgroup2_root() -> Option<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let f: Vec<&str> = pre.split(' ').collect();
        let at = f.get(4)?;
        (post.split(' ').next() == Some("cgroup2") && f.get(3) == Some(&"/"))
            .then(|| PathBuf::from(at.replace("\\040", " ")))
    })
}

/// Joins the network namespace at `path` (an empty path: makes a new one,
/// with its loopback interface up) and sets `sysctl` in it.
fn join_network(path: &Path, sysctl: &[(String, String)]) -> Result<(), String> {
    if path.as_os_str().is_empty() {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("failed to create a network namespace: {e}"))?;
        loopback_up().map_err(|e| format!("failed to bring up the loopback interface: {e}"))?;
    } else {
        let f = fs::File::open(path)
            .map_err(|e| format!("network namespace {}: {e}", path.display()))?;
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
            format!(
                "failed to join the network namespace {}: {e}",
                path.display()
            )
        })?;
    }
    for (k, v) in sysctl {
        let p = Path::new("/proc/sys").join(k.replace('.', "/"));
        fs::write(&p, v).map_err(|e| format!("linux.sysctl.{k}: {e}"))?;
    }
    Ok(())
}

/// Sets the loopback interface of this network namespace up.
fn loopback_up() -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let sock = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: a zeroed `ifreq` is valid; the name is copied within its
    // bounds.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads into `req`, which outlives the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the union's flags member is the one SIOCGIFFLAGS filled.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads `req`, which outlives the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn create(g: &Global, argv: Vec<OsString>) -> ExitCode {
    let p = match parse(
        argv,
        &[
            "--bundle",
            "-b",
            "--pid-file",
            "--console-socket",
            "--preserve-fds",
        ],
        &["--no-pivot", "--no-new-keyring"],
    ) {
        Ok(p) => p,
        Err(e) => return fail(format!("create: {e}")),
    };
    let id = match p.id("create") {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    let console = p.value(&["--console-socket"]).map(PathBuf::from);
    if let Some(sock) = &console {
        if let Err(e) = check_console_socket(sock) {
            return fail(format!("create: {e}"));
        }
    }
    if p.value(&["--preserve-fds"]).is_some_and(|v| v != "0") {
        return fail("create: --preserve-fds is not supported");
    }
    let bundle = match p.value(&["--bundle", "-b"]) {
        Some(b) => PathBuf::from(b),
        None => match std::env::current_dir() {
            Ok(d) => d,
            Err(e) => return fail(format!("create: the working directory: {e}")),
        },
    };
    let bundle = match std::path::absolute(&bundle) {
        Ok(b) => b,
        Err(e) => return fail(format!("create: --bundle {}: {e}", bundle.display())),
    };
    if dir(g, &id).exists() {
        return fail(format!("container {id} already exists"));
    }
    let pid_file = p.value(&["--pid-file"]).map(PathBuf::from);
    match create_in(g, &id, &bundle, pid_file, console.as_deref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Nothing of a failed create remains.
            let _ = fs::remove_dir_all(dir(g, &id));
            if e.is_empty() {
                ExitCode::from(1)
            } else {
                fail(e)
            }
        }
    }
}

fn create_in(
    g: &Global,
    id: &str,
    bundle: &Path,
    pid_file: Option<PathBuf>,
    console: Option<&Path>,
) -> Result<(), String> {
    let config_path = bundle.join("config.json");
    let text =
        fs::read_to_string(&config_path).map_err(|e| format!("{}: {e}", config_path.display()))?;
    let config: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", config_path.display()))?;
    let terminal = config.pointer("/process/terminal").and_then(Value::as_bool) == Some(true);
    match (terminal, console) {
        (true, None) => {
            return Err(
                "process.terminal is true but no --console-socket was given: the \
                 terminal's master has nowhere to go"
                    .to_owned(),
            );
        }
        (false, Some(_)) => {
            return Err("--console-socket was given but process.terminal is not true".to_owned());
        }
        _ => {}
    }
    let console_size = console_size(&config["process"], "process")?;
    let prepared = prepare(config)?;

    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&g.root)
        .map_err(|e| format!("failed to create {}: {e}", g.root.display()))?;
    let d = dir(g, id);
    match fs::DirBuilder::new().mode(0o700).create(&d) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(format!("container {id} already exists"));
        }
        Err(e) => return Err(format!("failed to create {}: {e}", d.display())),
    }

    // The configuration stockade lowers: the bundle's, less what the
    // runtime does itself, with the root made absolute.
    let mut config = prepared.config;
    if let Some(root) = config.pointer_mut("/root/path") {
        if let Some(r) = root.as_str() {
            let abs = bundle.join(r);
            *root = Value::String(abs.to_string_lossy().into_owned());
        }
    }
    let text = serde_json::to_string_pretty(&config).unwrap_or_default();
    // Refused fields are named against the bundle the engine gave.
    stockade::oci::Bundle::from_json(bundle, &text)
        .map_err(|e| format!("{}: {}", config_path.display(), crate::one_line(&e)))?;
    let lowered = d.join("bundle");
    fs::create_dir(&lowered).map_err(|e| format!("failed to create {}: {e}", lowered.display()))?;
    fs::write(lowered.join("config.json"), &text)
        .map_err(|e| format!("failed to write the lowered configuration: {e}"))?;
    if let Some(ns) = &prepared.netns {
        join_network(ns, &prepared.sysctl)?;
    }
    for (flag, path) in &prepared.joins {
        let f = fs::File::open(path).map_err(|e| format!("namespace {}: {e}", path.display()))?;
        nix::sched::setns(&f, *flag)
            .map_err(|e| format!("failed to join the namespace {}: {e}", path.display()))?;
    }

    // The container: `stockade start ID --bundle DIR`, stockade's init
    // holding its namespaces.
    let mut argv = vec![
        OsString::from("start"),
        OsString::from(id),
        OsString::from("--bundle"),
        lowered.clone().into_os_string(),
    ];
    if let Some(parent) = &prepared.cgroup {
        fs::create_dir_all(parent)
            .map_err(|e| format!("linux.cgroupsPath: {}: {e}", parent.display()))?;
        argv.push("--cgroup-parent".into());
        argv.push(parent.clone().into_os_string());
    }
    let start = args::parse_command_line(argv).map_err(|e| e.to_string())?;
    let args::Invocation::Start(s) = start else {
        return Err("internal error: not a start".to_owned());
    };
    let code = crate::container::start(&s);
    if code != ExitCode::SUCCESS {
        if let Some(cg) = &prepared.cgroup {
            let _ = fs::remove_dir(cg);
        }
        // `start` said why.
        return Err(String::new());
    }

    // The terminal, made now (the engine waits for its master before
    // `create` returns); its slave waits in the waiter for `start`.
    let slave = match console {
        Some(sock) => match open_console(id, sock, console_size, terminal_owner(&config)) {
            Ok(slave) => Some(slave),
            Err(e) => {
                let _ = stop_container(id);
                return Err(e);
            }
        },
        None => None,
    };

    // The waiter, with this process's standard streams (standard input:
    // the terminal's slave, when there is one).
    let fifo = d.join("start.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| format!("failed to create {}: {e}", fifo.display()))?;
    // The waiter says on this pipe that it is in the container's
    // namespaces; its end is inherited (this process runs no other thread
    // that could start a program meanwhile) and closed here once it runs.
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| format!("failed to create a pipe: {e}"))?;
    nix::fcntl::fcntl(
        &ready_w,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .map_err(|e| format!("failed to pass a pipe on: {e}"))?;
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg0("stockade-oci")
        .arg("--root")
        .arg(&g.root)
        .arg("__wait")
        .arg(id)
        .arg(ready_w.as_raw_fd().to_string());
    if let Some(slave) = slave {
        cmd.arg("terminal").stdin(slave);
    }
    let spawned = cmd.spawn();
    drop(ready_w);
    let mut waiter = spawned.map_err(|e| {
        let _ = stop_container(id);
        format!("failed to start the waiter: {e}")
    })?;
    if !waiter_ready(&ready_r) {
        // The waiter said why, on the standard error it shares with us.
        let _ = waiter.kill();
        let _ = waiter.wait();
        let _ = stop_container(id);
        return Err(String::new());
    }
    let pid = waiter.id();
    let started = crate::container::start_time(pid).unwrap_or(0);
    let record = serde_json::json!({
        "bundle": bundle.to_string_lossy(),
        "waiter": pid,
        "waiter_start": started,
        "created": now_rfc3339(),
        "cgroup": prepared.cgroup.as_ref().map(|c| c.to_string_lossy().into_owned()),
        "annotations": config.get("annotations").cloned().unwrap_or(Value::Object(Default::default())),
    });
    write_atomic(&d.join("state.json"), &record.to_string())
        .map_err(|e| format!("failed to write the state: {e}"))?;
    if let Some(pf) = pid_file {
        write_atomic(&pf, &pid.to_string())
            .map_err(|e| format!("--pid-file {}: {e}", pf.display()))?;
    }
    // The waiter is reparented (to the engine's monitor, a subreaper)
    // when this process exits.
    std::mem::forget(waiter);
    Ok(())
}

/// Whether the waiter said, within 10 s, that it is in the container's
/// namespaces (a byte on `ready`; nothing, if it failed and closed it).
fn waiter_ready(ready: &OwnedFd) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        let mut p = [PollFd::new(ready.as_fd(), PollFlags::POLLIN)];
        match poll(
            &mut p,
            PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) => return false,
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
    let mut byte = [0u8; 1];
    matches!(nix::unistd::read(ready, &mut byte), Ok(1))
}

/// Stops the stockade container `id` at once.
fn stop_container(id: &str) -> ExitCode {
    crate::container::stop(id, Some(Duration::ZERO))
}

/// The waiter (`__wait ID READY_FD [terminal]`): joins the container's
/// namespaces and leaves the host-side work to its helper
/// ([`host_side`]); see the `waiter` module.
fn waiter(g: &Global, argv: Vec<OsString>) -> ExitCode {
    let Some(id) = argv.first().and_then(|a| a.to_str()).map(str::to_owned) else {
        return fail("__wait needs a container id");
    };
    let Some(ready) = argv
        .get(1)
        .and_then(|a| a.to_str())
        .and_then(|a| a.parse::<std::os::fd::RawFd>().ok())
        .filter(|&fd| fd > 2)
    else {
        return fail("__wait needs the descriptor of its ready pipe");
    };
    // SAFETY: `create` passed this descriptor, open, for this alone, and
    // nothing else in this process owns it.
    let ready = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(ready) };
    let _ = nix::fcntl::fcntl(
        &ready,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    let terminal = argv.get(2).is_some_and(|a| a == "terminal");
    let init = match container_pid(&id) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    crate::waiter::run(&id, init, ready, || host_side(g, &id, terminal))
}

/// What the waiter's helper does: blocks until `start`, runs the bundle's
/// program in the container with this process's streams, stops the
/// container when it ends, and ends as it did.
fn host_side(g: &Global, id: &str, terminal: bool) -> ExitCode {
    let id = id.to_owned();
    let d = dir(g, &id);
    // Blocks until `start` opens the other end.
    let mut byte = [0u8; 1];
    let released = fs::File::open(d.join("start.fifo")).and_then(|mut f| f.read(&mut byte));
    if !matches!(released, Ok(1)) {
        let _ = stop_container(&id);
        return fail(format!("container {id}: never started"));
    }
    let config: Value = match fs::read_to_string(d.join("bundle/config.json"))
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            let _ = stop_container(&id);
            return fail(format!("container {id}: its configuration: {e}"));
        }
    };
    let exec = match process_exec(&id, &config["process"], "process") {
        Ok(mut e) => {
            // `create` made the terminal: it is our standard input.
            e.terminal_stdin = terminal;
            e.dies_as_program = true;
            // The state says `running` once the program has been executed.
            e.started_file = Some(d.join("phase"));
            e
        }
        Err(e) => {
            let _ = stop_container(&id);
            return fail(e);
        }
    };
    let code = crate::container::exec(&exec);
    let _ = write_atomic(&d.join("phase"), "stopped");
    let _ = stop_container(&id);
    code
}

/// The container's configuration, from its bundle.
fn container_config(g: &Global, id: &str) -> Result<Value, String> {
    fs::read_to_string(dir(g, id).join("bundle/config.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| format!("container {id}: its configuration cannot be read"))
}

/// The user an exec's `process` asks for, when it is not the container's
/// (`None`: the container's). An exec keeps the container's capabilities:
/// a `process` asking for another bounding set is refused rather than run
/// with other capabilities.
fn exec_identity(config: &Value, process: &Value) -> Result<Option<(u32, u32)>, String> {
    let caps = |v: &Value| -> Vec<String> {
        let mut c: Vec<String> = v["capabilities"]["bounding"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        c.sort();
        c
    };
    if !process["capabilities"].is_null() && caps(process) != caps(&config["process"]) {
        return Err(
            "process.capabilities.bounding: an exec keeps the container's capabilities; \
             other capabilities are not supported"
                .to_owned(),
        );
    }
    let mut ids = [0u32; 2];
    for (i, field) in ["uid", "gid"].into_iter().enumerate() {
        let asked = &process["user"][field];
        ids[i] = if asked.is_null() {
            id_of(config, field)
        } else {
            asked
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|&n| n != u32::MAX)
                .ok_or_else(|| format!("process.user.{field} = {asked}: expected an id"))?
        };
    }
    exec_user(config, ids[0], ids[1], "process.user.")
}

/// The container's `process.user.uid` or `.gid` (0 when unset).
fn id_of(config: &Value, field: &str) -> u32 {
    config["process"]["user"][field]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0)
}

/// An exec as `uid`:`gid`: `None` when those are the container's ids,
/// refused (naming `prefix` and the field) when the container's user
/// namespace does not map them. Its namespace maps the configuration's
/// `linux.uidMappings` and `.gidMappings`, or without them the container's
/// own ids alone; without a user namespace the library decides (a root
/// caller may switch to any ids).
fn exec_user(
    config: &Value,
    uid: u32,
    gid: u32,
    prefix: &str,
) -> Result<Option<(u32, u32)>, String> {
    if (uid, gid) == (id_of(config, "uid"), id_of(config, "gid")) {
        return Ok(None);
    }
    let userns = config["linux"]["namespaces"]
        .as_array()
        .is_some_and(|l| l.iter().any(|n| n["type"] == "user"));
    if !userns {
        return Ok(Some((uid, gid)));
    }
    for (field, id, key) in [("uid", uid, "uidMappings"), ("gid", gid, "gidMappings")] {
        let ranges: Vec<(u64, u64)> = config["linux"][key]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|m| Some((m["containerID"].as_u64()?, m["size"].as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        let own = u64::from(id_of(config, field));
        let ranges = if ranges.is_empty() {
            vec![(own, 1)]
        } else {
            ranges
        };
        let id64 = u64::from(id);
        if !ranges
            .iter()
            .any(|&(first, n)| first <= id64 && id64 < first + n)
        {
            let mapped: Vec<String> = ranges
                .iter()
                .map(|&(first, n)| match n {
                    1 => first.to_string(),
                    _ => format!("{first}-{}", first + n - 1),
                })
                .collect();
            return Err(format!(
                "{prefix}{field} = {id}: not mapped in the container's user namespace, \
                 which maps only {field} {} (linux.{key})",
                mapped.join(", ")
            ));
        }
    }
    Ok(Some((uid, gid)))
}

/// A stockade exec of an OCI `process` object (args, env, cwd).
fn process_exec(id: &str, process: &Value, path: &str) -> Result<args::Exec, String> {
    let argv: Vec<OsString> = process["args"]
        .as_array()
        .ok_or_else(|| format!("{path}.args: expected an array of strings"))?
        .iter()
        .map(|a| a.as_str().map(OsString::from))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("{path}.args: expected an array of strings"))?;
    let Some((program, rest)) = argv.split_first() else {
        return Err(format!("{path}.args: no program"));
    };
    let mut setenv = Vec::new();
    if let Some(env) = process["env"].as_array() {
        for (i, kv) in env.iter().enumerate() {
            let kv = kv
                .as_str()
                .ok_or_else(|| format!("{path}.env[{i}]: expected a string"))?;
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("{path}.env[{i}]: expected KEY=VALUE"))?;
            setenv.push((OsString::from(k), OsString::from(v)));
        }
    }
    Ok(args::Exec {
        name: id.to_owned(),
        relay_only: true,
        dies_as_program: false,
        pty: false,
        terminal_stdin: false,
        started_file: None,
        chdir: process["cwd"].as_str().map(PathBuf::from),
        user: None,
        setenv,
        unsetenv: Vec::new(),
        program: program.clone(),
        args: rest.to_vec(),
    })
}

fn start(g: &Global, argv: Vec<OsString>) -> ExitCode {
    let p = match parse(argv, &[], &[]) {
        Ok(p) => p,
        Err(e) => return fail(format!("start: {e}")),
    };
    let id = match p.id("start") {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    let rec = match Record::read(g, &id) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if rec.status() != "created" {
        return fail(format!(
            "container {id} is {}, not created: it cannot be started",
            rec.status()
        ));
    }
    // Opening the FIFO without blocking finds the waiter reading it. A
    // waiter `create` has just spawned may not have opened its end yet
    // (ENXIO): wait for it while it lives, a bounded time.
    let fifo = dir(g, &id).join("start.fifo");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let opened = loop {
        let r = fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo);
        match r {
            Err(e)
                if e.raw_os_error() == Some(libc::ENXIO)
                    && rec.waiter_alive()
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            r => break r,
        }
    };
    if let Err(e) = opened.and_then(|mut f| f.write_all(b"s")) {
        return fail(format!("container {id}: failed to start: {e}"));
    }
    let _ = fs::remove_file(&fifo);
    // As with runc, the container is running when `start` returns: the
    // waiter records that once the program has been executed (or it ends,
    // and the container is stopped). A signal sent right after `start`
    // then finds the program, not the process about to execute it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        match Record::read(g, &id) {
            Ok(r) if r.status() == "created" => std::thread::sleep(Duration::from_millis(2)),
            _ => break,
        }
    }
    ExitCode::SUCCESS
}

fn state(g: &Global, argv: Vec<OsString>) -> ExitCode {
    let p = match parse(argv, &[], &[]) {
        Ok(p) => p,
        Err(e) => return fail(format!("state: {e}")),
    };
    let id = match p.id("state") {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    let rec = match Record::read(g, &id) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let status = rec.status();
    let state = serde_json::json!({
        "ociVersion": OCI_VERSION,
        "id": id,
        "status": status,
        "pid": if status == "stopped" { 0 } else { rec.waiter },
        "bundle": rec.bundle.to_string_lossy(),
        "annotations": rec.annotations,
        "created": rec.created,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&state).unwrap_or_default()
    );
    ExitCode::SUCCESS
}

/// `SIGTERM`, `TERM`, `term` or `15`.
fn signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let full = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    full.parse::<nix::sys::signal::Signal>()
        .ok()
        .map(|s| s as i32)
}

fn kill(g: &Global, argv: Vec<OsString>) -> ExitCode {
    let p = match parse(argv, &[], &["--all", "-a"]) {
        Ok(p) => p,
        Err(e) => return fail(format!("kill: {e}")),
    };
    let id = match p.id("kill") {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    let sig = match p.positional.get(1) {
        None => libc::SIGTERM,
        Some(s) => match s.to_str().and_then(signal) {
            Some(n) => n,
            None => return fail(format!("kill: invalid signal {s:?}")),
        },
    };
    let rec = match Record::read(g, &id) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if !rec.waiter_alive() {
        return fail(format!("container {id} is not running"));
    }
    // The waiter passes catchable signals on to the program; SIGKILL ends
    // it, and the program with it.
    // SAFETY: plain integer arguments.
    let r = unsafe { libc::kill(rec.waiter as libc::pid_t, sig) };
    if r != 0 {
        return fail(format!(
            "container {id}: kill: {}",
            io::Error::last_os_error()
        ));
    }
    ExitCode::SUCCESS
}

fn delete(g: &Global, argv: Vec<OsString>) -> ExitCode {
    let p = match parse(argv, &[], &["--force", "-f"]) {
        Ok(p) => p,
        Err(e) => return fail(format!("delete: {e}")),
    };
    let id = match p.id("delete") {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    let force = p.flag(&["--force", "-f"]);
    let rec = match Record::read(g, &id) {
        Ok(r) => r,
        Err(e) if force && !dir(g, &id).exists() => {
            // Nothing to delete, which is what was asked.
            let _ = e;
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(e),
    };
    // Only a stopped container goes without --force, a created one too
    // (the runtime specification's delete).
    let status = rec.status();
    if status != "stopped" && !force {
        return fail(format!(
            "container {id} is {status}; stop it first or use --force"
        ));
    }
    if rec.waiter_alive() {
        // SAFETY: plain integer arguments.
        unsafe { libc::kill(rec.waiter as libc::pid_t, libc::SIGKILL) };
    }
    // The stockade container, if its waiter did not stop it.
    if let Ok(base) = crate::container::base() {
        if matches!(
            crate::container::find(&base, &id),
            crate::container::Found::Running(_)
        ) {
            let _ = stop_container(&id);
        }
    }
    // The cgroup `linux.cgroupsPath` named, made by `create` (stockade's
    // own beneath it went with the container).
    if let Some(cg) = &rec.cgroup {
        let _ = fs::remove_dir(cg);
    }
    match fs::remove_dir_all(dir(g, &id)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::NotFound => ExitCode::SUCCESS,
        Err(e) => fail(format!("container {id}: failed to remove its state: {e}")),
    }
}

fn exec(g: &Global, argv: Vec<OsString>) -> ExitCode {
    let p = match parse(
        argv,
        &[
            "--process",
            "-p",
            "--pid-file",
            "--console-socket",
            "--cwd",
            "--env",
            "-e",
            "--user",
            "-u",
            "--cap",
            "-c",
            "--preserve-fds",
            "--apparmor",
            "--process-label",
        ],
        &[
            "--detach",
            "-d",
            "--tty",
            "-t",
            "--no-new-privs",
            STDIN_TERMINAL,
        ],
    ) {
        Ok(p) => p,
        Err(e) => return fail(format!("exec: {e}")),
    };
    let id = match p.id("exec") {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    match Record::read(g, &id) {
        Ok(r) if r.status() == "running" => {}
        Ok(r) => return fail(format!("container {id} is {}, not running", r.status())),
        Err(e) => return fail(e),
    }
    for (names, what) in [
        (&["--cap", "-c"][..], "--cap"),
        (&["--apparmor"][..], "--apparmor"),
        (&["--process-label"][..], "--process-label"),
    ] {
        if p.value(names).is_some() {
            return fail(format!("exec: {what} is not supported"));
        }
    }
    let mut terminal = p.flag(&["--tty", "-t"]);
    let mut size = None;
    let mut e = match p.value(&["--process", "-p"]) {
        Some(file) => {
            let parsed = fs::read_to_string(file)
                .map_err(|e| format!("--process {}: {e}", Path::new(file).display()))
                .and_then(|t| {
                    serde_json::from_str::<Value>(&t)
                        .map_err(|e| format!("--process {}: {e}", Path::new(file).display()))
                });
            let process = match parsed {
                Ok(v) => v,
                Err(e) => return fail(e),
            };
            terminal |= process["terminal"].as_bool() == Some(true);
            let user = match container_config(g, &id).and_then(|c| exec_identity(&c, &process)) {
                Ok(u) => u,
                Err(e) => return fail(format!("exec: --process: {e}")),
            };
            size = match console_size(&process, "process") {
                Ok(s) => s,
                Err(e) => return fail(format!("exec: --process: {e}")),
            };
            match process_exec(&id, &process, "process") {
                Ok(e) => args::Exec {
                    user: user.map(|(u, g)| (u, Some(g))),
                    ..e
                },
                Err(e) => return fail(format!("exec: --process: {e}")),
            }
        }
        None => {
            let Some((program, rest)) = p.positional[1..].split_first() else {
                return fail("exec: no program: give --process FILE or ARGS");
            };
            args::Exec {
                name: id.clone(),
                relay_only: true,
                program: program.clone(),
                args: rest.to_vec(),
                ..args::Exec::default()
            }
        }
    };
    if let Some(user) = p.value(&["--user", "-u"]) {
        // UID[:GID], numbers: without GID, the container's.
        let config = match container_config(g, &id) {
            Ok(c) => c,
            Err(err) => return fail(format!("exec: {err}")),
        };
        let id_ = |t: &str| t.parse::<u32>().ok().filter(|&n| n != u32::MAX);
        let parsed = user.to_str().and_then(|t| match t.split_once(':') {
            Some((u, g)) => Some((id_(u)?, id_(g)?)),
            None => Some((id_(t)?, id_of(&config, "gid"))),
        });
        let Some((uid, gid)) = parsed else {
            return fail(format!(
                "exec: --user {user:?}: expected UID or UID:GID, as numbers"
            ));
        };
        match exec_user(&config, uid, gid, "--user: ") {
            Ok(u) => e.user = u.map(|(u, g)| (u, Some(g))),
            Err(err) => return fail(format!("exec: {err}")),
        }
    }
    if let Some(cwd) = p.value(&["--cwd"]) {
        e.chdir = Some(PathBuf::from(cwd));
    }
    for kv in p.all(&["--env", "-e"]) {
        let Some((k, v)) = kv.to_str().and_then(|s| s.split_once('=')) else {
            return fail(format!("exec: --env {kv:?}: expected KEY=VALUE"));
        };
        e.setenv.push((OsString::from(k), OsString::from(v)));
    }
    let socket = p.value(&["--console-socket"]).map(PathBuf::from);
    let slave = match (terminal, &socket) {
        (true, Some(sock)) => {
            // The owner of the program's terminal: the user the exec runs
            // as, the container's unless it asks for another.
            let owner = container_config(g, &id).ok().and_then(|mut c| {
                if let Some((uid, _)) = e.user {
                    c["process"]["user"]["uid"] = uid.into();
                }
                terminal_owner(&c)
            });
            match check_console_socket(sock).and_then(|()| open_console(&id, sock, size, owner)) {
                Ok(slave) => Some(slave),
                Err(err) => return fail(format!("exec: {err}")),
            }
        }
        (true, None) => {
            return fail(
                "exec: --tty (process.terminal) needs --console-socket: the terminal's master \
                 has nowhere to go",
            );
        }
        (false, Some(_)) => {
            return fail("exec: --console-socket was given without --tty (process.terminal)");
        }
        (false, None) => None,
    };
    // The detached child `exec` starts below, with the terminal as its
    // standard input.
    e.terminal_stdin = p.flag(&[STDIN_TERMINAL]);
    if !p.flag(&["--detach", "-d"]) {
        if let Some(slave) = slave {
            if let Err(err) = nix::unistd::dup2_stdin(&slave) {
                return fail(format!("exec: failed to pass on the terminal: {err}"));
            }
            e.terminal_stdin = true;
        }
        return crate::container::exec(&e);
    }
    // Detached: a child runs the program and ends as it does; its pid is
    // the one the engine waits for (it is reparented to the engine's
    // monitor when this process exits).
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg0("stockade-oci")
        .arg("--root")
        .arg(&g.root)
        .arg("exec");
    if let Some(d) = &e.chdir {
        cmd.arg("--cwd").arg(d);
    }
    for (k, v) in &e.setenv {
        let mut kv = k.clone();
        kv.push("=");
        kv.push(v);
        cmd.arg("--env").arg(kv);
    }
    if let Some(slave) = slave {
        cmd.arg(STDIN_TERMINAL).stdin(slave);
    }
    // Everything after the id is the program and its arguments.
    cmd.arg(&id).arg(&e.program).args(&e.args);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(err) => return fail(format!("exec: failed to start: {err}")),
    };
    if let Some(pf) = p.value(&["--pid-file"]) {
        if let Err(err) = write_atomic(Path::new(pf), &child.id().to_string()) {
            return fail(format!("exec: --pid-file: {err}"));
        }
    }
    std::mem::forget(child);
    ExitCode::SUCCESS
}

/// The option of the detached `exec` child whose standard input is the
/// terminal its parent made (not for engines: `--tty` with
/// `--console-socket` is theirs).
const STDIN_TERMINAL: &str = "--stdin-terminal";

/// Checks that `path` (`--console-socket`) names a UNIX socket, before
/// anything starts.
fn check_console_socket(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    match fs::metadata(path) {
        Ok(m) if m.file_type().is_socket() => Ok(()),
        Ok(_) => Err(format!(
            "--console-socket {}: not a UNIX socket",
            path.display()
        )),
        Err(e) => Err(format!("--console-socket {}: {e}", path.display())),
    }
}

/// `consoleSize` of the OCI `process` object at `path`, as (rows,
/// columns), when given.
fn console_size(process: &Value, path: &str) -> Result<Option<(u16, u16)>, String> {
    let Some(size) = process.get("consoleSize").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let dim = |k: &str| {
        size.get(k)
            .and_then(Value::as_u64)
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| format!("{path}.consoleSize.{k}: expected a number from 0 to 65535"))
    };
    Ok(Some((dim("height")?, dim("width")?)))
}

/// The pid of a process of the stockade container `id` whose root is the
/// container's: its init, else its supervisor.
fn container_pid(id: &str) -> Result<u32, String> {
    let base = crate::container::base()?;
    let path = base.join(id).join("info.json");
    let info: Value = fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        .map_err(|e| format!("container {id}: failed to read {}: {e}", path.display()))?;
    info["init_pid"]
        .as_u64()
        .or_else(|| info["pid"].as_u64())
        .and_then(|p| u32::try_from(p).ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("container {id}: {} names no process", path.display()))
}

/// The host uid of the container's `process.user.uid` (through
/// `linux.uidMappings`; the same uid without a user namespace), to own the
/// program's terminal as it would one it opened itself. `None` when it
/// cannot be known (a user namespace whose mapping stockade chooses).
fn terminal_owner(config: &Value) -> Option<u32> {
    let uid = config
        .pointer("/process/user/uid")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let user_ns = config
        .pointer("/linux/namespaces")
        .and_then(Value::as_array)
        .is_some_and(|l| {
            l.iter()
                .any(|ns| ns.get("type").and_then(Value::as_str) == Some("user"))
        });
    let host = if !user_ns {
        uid
    } else {
        config
            .pointer("/linux/uidMappings")
            .and_then(Value::as_array)?
            .iter()
            .find_map(|m| {
                let inside = m.get("containerID")?.as_u64()?;
                let outside = m.get("hostID")?.as_u64()?;
                let size = m.get("size")?.as_u64()?;
                (uid >= inside && uid - inside < size).then(|| outside + (uid - inside))
            })?
    };
    u32::try_from(host).ok()
}

/// Connects to the UNIX socket at `path`, also when the path is longer
/// than a socket address holds (108 bytes): then through its directory,
/// opened here, as `/proc/self/fd/N/NAME`.
fn connect_long(path: &Path) -> io::Result<std::os::unix::net::UnixStream> {
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::UnixStream;
    if path.as_os_str().as_bytes().len() < 100 {
        return UnixStream::connect(path);
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return UnixStream::connect(path);
    };
    let dir = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(parent)?;
    let mut short = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    short.push(name);
    UnixStream::connect(short)
}

/// Makes the terminal of a program of container `id` (`process.terminal`)
/// and hands its master to the engine through the console socket at
/// `socket`; returns the slave, for the program's standard streams.
///
/// The pseudo-terminal is one of the container's own `devpts` instance
/// (opened through the root of one of its processes), so that the program
/// sees it as `/dev/pts/N` there, as it would one it opened itself. The
/// master is sent with `SCM_RIGHTS` (the terminal's path as the message,
/// as runc does) and closed here: the engine's copy is the only one.
fn open_console(
    id: &str,
    socket: &Path,
    size: Option<(u16, u16)>,
    owner: Option<u32>,
) -> Result<OwnedFd, String> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let pid = container_pid(id)?;
    let ptmx = format!("/proc/{pid}/root/dev/pts/ptmx");
    let master = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&ptmx)
        .map_err(|e| {
            format!("process.terminal: failed to open the container's /dev/pts/ptmx: {e}")
        })?;
    let failed = |what: &str| {
        format!(
            "process.terminal: failed to {what}: {}",
            io::Error::last_os_error()
        )
    };
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int from the pointer, which outlives the
    // call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } < 0 {
        return Err(failed("unlock the terminal"));
    }
    let mut number: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes an unsigned int through the pointer, which
    // outlives the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut number) } < 0 {
        return Err(failed("read the terminal's number"));
    }
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes the open flags as an integer and returns a
    // new descriptor.
    let fd = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    if fd < 0 {
        return Err(failed("open the terminal's slave"));
    }
    // SAFETY: `fd` was just returned by the kernel, open, and owned by
    // nothing else.
    let slave = unsafe { OwnedFd::from_raw_fd(fd) };
    if let Some(uid) = owner {
        // Best effort: the program may reopen its terminal by name. The
        // group is the one devpts gives (its `gid=` option).
        let _ = nix::unistd::fchown(&slave, Some(nix::unistd::Uid::from_raw(uid)), None);
    }
    if let Some((rows, cols)) = size {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize through the pointer, which
        // outlives the call.
        if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
            return Err(failed("set the terminal's size (process.consoleSize)"));
        }
    }
    let sock =
        connect_long(socket).map_err(|e| format!("--console-socket {}: {e}", socket.display()))?;
    let name = format!("/dev/pts/{number}");
    let fds = [master.as_raw_fd()];
    let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&fds)];
    let iov = [io::IoSlice::new(name.as_bytes())];
    nix::sys::socket::sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &cmsg,
        nix::sys::socket::MsgFlags::empty(),
        None,
    )
    .map_err(|e| {
        format!(
            "--console-socket {}: failed to send the terminal: {e}",
            socket.display()
        )
    })?;
    Ok(slave)
}

/// `features`: what this runtime supports (runtime-spec features.md).
fn features() -> ExitCode {
    let f = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": [],
        "mountOptions": ["ro", "rw", "bind", "rbind", "nosuid", "nodev", "noexec"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": [],
            "cgroup": { "v1": false, "v2": true, "systemd": false, "systemdUser": false },
            "seccomp": { "enabled": true },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
        },
        "annotations": { "org.stockade.runtime": "stockade-oci" },
    });
    println!("{}", serde_json::to_string_pretty(&f).unwrap_or_default());
    ExitCode::SUCCESS
}
