//! Command-line parsing for the `stockade` front end (bubblewrap's vocabulary
//! where it fits), on clap: the options are declared once ([`OPTIONS`] and
//! the subcommands' builders), and the help and shell completions come from
//! the same declarations. Pure: no I/O, so it can be tested and fuzzed
//! directly.
//!
//! clap finds the options, their values and the program; what they mean,
//! and every check of a value, is ours and runs over the options in the
//! order typed, so that errors name the option as typed and the
//! filesystem operations keep their order.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use clap_complete::Shell;
use stockade::units::{self, ParseDurationError, ParseSizeError};
use stockade::{Rlimit, fs};

/// Where the JSON report goes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum JsonTo {
    /// `--json`: standard error, on a line of its own after the program's
    /// output.
    #[default]
    Stderr,
    /// `--json-fd FD`: the open file descriptor FD, which the program
    /// never sees.
    Fd(i32),
    /// `--json-file PATH`: the file PATH, created or truncated before the
    /// program starts.
    File(PathBuf),
}

/// Everything the command line asks for.
#[derive(Debug, Default, PartialEq)]
pub struct Options {
    pub help: bool,
    /// `--version` (or `-V`) anywhere before the program.
    pub version: bool,
    /// `--policy FILE`: the policy file the other options apply on top of.
    pub policy: Option<PathBuf>,
    /// `--net MODE` (or its aliases `--share-net`, `--net-filter`); an
    /// egress option without it implies [`NetMode::Filter`]. `None`: the
    /// policy file's network, or the library's default.
    pub net: Option<NetMode>,
    /// The option that chose `net` (`--net host`, `--share-net`), for
    /// error messages.
    pub net_option: &'static str,
    /// `--allow-host NAME[:PORT]`: egress rules allowing destinations.
    pub allow_hosts: Vec<String>,
    /// `--deny-host NAME[:PORT]`: egress rules denying destinations.
    pub deny_hosts: Vec<String>,
    /// `--allow-private CIDR`: private addresses the proxy may connect to.
    pub allow_private: Vec<String>,
    /// `--resolve NAME=ADDR`: the proxy's static names (its only resolver
    /// when any is given).
    pub resolve: Vec<(String, IpAddr)>,
    /// `--max-connections N`: the proxy's limit of connections at once.
    pub max_connections: Option<usize>,
    /// `--publish [HOST:]PORT:SANDBOX_PORT`: host addresses forwarded to
    /// the sandbox's ports.
    pub publish: Vec<(SocketAddr, u16)>,
    pub chdir: Option<PathBuf>,
    pub setenv: Vec<(OsString, OsString)>,
    pub unsetenv: Vec<OsString>,
    pub inherit_env: bool,
    pub hostname: Option<OsString>,
    pub as_pid_1: bool,
    /// `--stop-signal SIG` (`start` only): the signal `stop` sends.
    pub stop_signal: Option<i32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// `--subids`: map the caller's subordinate ids.
    pub subids: bool,
    /// `--uid-range`, `--gid-range`: explicit ranges.
    pub uid_ranges: Vec<stockade::IdRange>,
    pub gid_ranges: Vec<stockade::IdRange>,
    pub timeout: Option<Duration>,
    pub cpu_time: Option<Duration>,
    pub rlimits: Vec<(Rlimit, u64)>,
    pub memory: Option<u64>,
    pub swap: Option<u64>,
    pub pids: Option<u64>,
    pub cpus: Option<f64>,
    pub cgroup_parent: Option<PathBuf>,
    pub limits_best_effort: bool,
    /// `--isolation best-available`: step down the isolation ladder where
    /// the host refuses namespaces.
    pub best_available: bool,
    /// `--json`, `--json-fd` or `--json-file`: a JSON report when the
    /// program ends, written where [`Options::json_to`] says.
    pub json: bool,
    /// Where the JSON report goes.
    pub json_to: JsonTo,
    /// `--denials`: when the program ends, the one line of what the
    /// sandbox refused on stderr.
    pub denials: bool,
    /// `--no-observe-denials`: `observe_denials(false)`.
    pub no_observe_denials: bool,
    /// `--observe-writes`: `observe_writes(true)`.
    pub observe_writes: bool,
    /// `--pty`/`-t`: the program gets a terminal of its own, relayed to
    /// this one.
    pub pty: bool,
    pub rootfs: Option<PathBuf>,
    /// `--image REF`: the root is the image's layers (from the image
    /// store), and the image's configuration gives the defaults.
    pub image: Option<String>,
    /// `--entrypoint PROGRAM`: replaces the image's entrypoint.
    pub entrypoint: Option<OsString>,
    /// `--bundle DIR`: an OCI runtime bundle's `config.json` is the policy
    /// and the program, with every other option on top.
    pub bundle: Option<PathBuf>,
    /// `--writable-root` (or `--overlay DIR /`): the root as an overlay
    /// whose changes vanish with the sandbox.
    pub writable_root: bool,
    /// `--keep-changes DIR`: a writable root whose changes are kept in the
    /// layer directory DIR.
    pub keep_changes: Option<PathBuf>,
    /// `--expose-host-secrets`: `mask_host_secrets(false)`.
    pub expose_host_secrets: bool,
    /// `--no-home`: `private_home(false)`.
    pub no_home: bool,
    /// `--sys`: `sys(true)`.
    pub sys: bool,
    /// `--system` (start only): what a userland's own init needs.
    pub system: bool,
    pub fs_ops: Vec<fs::Op>,
    /// Landlock: paths readable and executable, paths also writable, TCP
    /// ports the program may connect to.
    pub landlock_ro: Vec<PathBuf>,
    pub landlock_rw: Vec<PathBuf>,
    pub landlock_connect: Vec<u16>,
    pub landlock_best_effort: bool,
    /// `--seccomp`: `None` when not given (the library's default profile).
    pub seccomp: Option<SeccompMode>,
    pub program: OsString,
    pub args: Vec<OsString>,
}

/// The system call filter asked for with `--seccomp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeccompMode {
    /// The library's default profile.
    Default,
    /// No filter.
    None,
}

/// The network asked for with `--net` (or its aliases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetMode {
    /// `none`: a network namespace of the sandbox's own, loopback only.
    Isolated,
    /// `host` (`--share-net`): the host's network namespace.
    Host,
    /// `filter`: the sandbox's own namespace, out only through the egress
    /// proxy.
    Filter,
    /// `blocked` (`--net-filter`): no namespace, sockets denied by seccomp
    /// and Landlock.
    Blocked,
}

impl NetMode {
    /// The `--net` option that asks for it, as an error message names it.
    pub fn option(self) -> &'static str {
        match self {
            NetMode::Isolated => "--net none",
            NetMode::Host => "--net host",
            NetMode::Filter => "--net filter",
            NetMode::Blocked => "--net blocked",
        }
    }
}

/// A command line that cannot be understood.
#[derive(Debug, PartialEq)]
pub enum ArgError {
    /// An option that needs a value (or two) came last.
    MissingValue { option: &'static str },
    /// An option we do not know.
    Unknown { option: OsString },
    /// A value that does not parse.
    BadValue {
        option: &'static str,
        value: OsString,
        expected: &'static str,
    },
    /// A size that does not parse (see `stockade::units`).
    BadSize {
        option: &'static str,
        value: String,
        error: ParseSizeError,
    },
    /// A duration that does not parse (see `stockade::units`).
    BadDuration {
        option: &'static str,
        value: String,
        error: ParseDurationError,
    },
    /// An option that may be given only once came twice.
    Repeated { option: &'static str },
    /// No program to run.
    NoProgram,
    /// A container subcommand without a container name.
    NoName { command: &'static str },
    /// A container name that cannot be used.
    BadName {
        name: OsString,
        reason: &'static str,
    },
    /// An argument a subcommand does not take.
    Unexpected { argument: OsString },
    /// An option the subcommand does not apply.
    NotForContainers {
        option: &'static str,
        why: &'static str,
    },
    /// `--pty` when standard input is not a terminal: there is no
    /// terminal to relay the program's to.
    NotATerminal { option: &'static str },
    /// An option only `start` applies, given to a one-shot program.
    OnlyForStart { option: &'static str },
    /// Two options that ask for different networks.
    Conflict {
        first: &'static str,
        second: &'static str,
        why: &'static str,
    },
    /// An option that means something only with another.
    Needs {
        option: &'static str,
        needs: &'static str,
    },
    /// An option that does not apply to the network asked for.
    WrongNetwork {
        option: &'static str,
        net: &'static str,
        needs: &'static str,
    },
    /// A command line the parser refused for a reason none of the above
    /// says: the first line of its message.
    Invalid { message: String },
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::MissingValue { option } => write!(f, "option {option} needs a value"),
            ArgError::NotForContainers { option, why } => {
                write!(
                    f,
                    "option {option} applies to one-shot programs, not to `start` ({why})"
                )
            }
            ArgError::OnlyForStart { option } => {
                write!(
                    f,
                    "option {option} applies to containers (`stockade start`), not to one-shot programs"
                )
            }
            ArgError::Unknown { option } => {
                write!(f, "unknown option {}", option.to_string_lossy())
            }
            ArgError::Conflict { first, second, why } => {
                write!(f, "options {first} and {second} conflict: {why}")
            }
            ArgError::Needs { option, needs } => {
                write!(f, "option {option} needs {needs}")
            }
            ArgError::WrongNetwork { option, net, needs } => {
                write!(
                    f,
                    "option {option} cannot be used with {net}: it needs {needs}"
                )
            }
            ArgError::BadValue {
                option,
                value,
                expected,
            } => {
                write!(
                    f,
                    "invalid value {:?} for {option}: expected {expected}",
                    value.to_string_lossy()
                )
            }
            ArgError::BadSize {
                option,
                value,
                error,
            } => write!(f, "invalid size {value:?} for {option}: {error}"),
            ArgError::BadDuration {
                option,
                value,
                error,
            } => write!(f, "invalid duration {value:?} for {option}: {error}"),
            ArgError::Repeated { option } => write!(f, "option {option} given twice"),
            ArgError::NoProgram => f.write_str("no program given"),
            ArgError::Invalid { message } => f.write_str(message),
            ArgError::NoName { command } => write!(f, "{command} needs a container name"),
            ArgError::BadName { name, reason } => write!(
                f,
                "invalid container name {:?}: {reason}",
                name.to_string_lossy()
            ),
            ArgError::Unexpected { argument } => {
                write!(f, "unexpected argument {:?}", argument.to_string_lossy())
            }
            ArgError::NotATerminal { option } => write!(
                f,
                "option {option} needs standard input to be a terminal, and it is not \
                 (without {option}, the program reads and writes this process's streams)"
            ),
        }
    }
}

/// One option of the one-shot form (and of `start`): how it is spelled,
/// the values it takes, where the help lists it and what it says there.
/// The parser, the help and the shell completions are all made from
/// [`OPTIONS`].
struct Opt {
    /// `--name`, as typed and as error messages name it.
    long: &'static str,
    short: Option<char>,
    /// The names of its values, one per argument it takes (none: a flag).
    values: &'static [&'static str],
    heading: &'static str,
    help: &'static str,
}

impl Opt {
    /// Its id in clap's matches: the long name without the dashes.
    fn id(&self) -> &'static str {
        &self.long[2..]
    }

    /// The option as clap sees it: every value an `OsString` (paths need
    /// not be UTF-8), values that may start with `-` (`--setenv K -v`),
    /// each occurrence kept so that the order typed can be replayed.
    fn arg(&self) -> Arg {
        let mut a = Arg::new(self.id()).long(self.id());
        // The text only the help and the completions show: a one-shot run
        // does not pay for copying it into every option.
        if DESCRIBED.load(std::sync::atomic::Ordering::Relaxed) {
            a = a.help(self.help).help_heading(self.heading);
        }
        if let Some(s) = self.short {
            a = a.short(s);
        }
        if self.values.is_empty() {
            a.action(ArgAction::Count)
        } else {
            a.action(ArgAction::Append)
                .num_args(self.values.len())
                .value_names(self.values)
                .allow_hyphen_values(true)
                .value_parser(value_parser!(OsString))
        }
    }
}

const POLICY: &str = "Policy";
const NETWORK: &str = "Network";
const EGRESS: &str = "Egress (the filtered network)";
const IDENTITY: &str = "Identity and environment";
const ROOT: &str = "Root";
const FILESYSTEM: &str = "Filesystem (applied in the order given)";
const CONFINEMENT: &str = "Landlock and seccomp";
const LIMITS: &str = "Limits";
const REPORTS: &str = "Reports";
const TERMINAL: &str = "Terminal";
const CONTAINER: &str = "Containers (start only)";

/// Every option of the one-shot form, in the order the help lists them.
const OPTIONS: &[Opt] = &[
    Opt {
        long: "--policy",
        short: None,
        values: &["FILE"],
        heading: POLICY,
        help: "Start from the sandbox policy in FILE: TOML, or JSON when FILE ends in .json \
               (schema: examples/policy.toml). The file is applied first, then every other \
               option on top of it, wherever it stands on the command line: single-valued \
               options (--hostname, --memory, ...) replace the file's value, repeatable ones \
               (--bind, --tmpfs, --rlimit, ...) add to it, and any --landlock-* option \
               replaces the file's [landlock] table. Given at most once",
    },
    Opt {
        long: "--isolation",
        short: None,
        values: &["strict|best-available"],
        heading: POLICY,
        help: "strict (the default): the namespaces asked for, or an error naming what \
               refused them; best-available: where the host refuses them (a container's \
               seccomp profile or masked /proc, user namespaces turned off), step down: \
               without a pid namespace (the host's /proc, read-only), without a user \
               namespace (a privileged caller), then no namespaces (Landlock mirroring the \
               filesystem options, sockets refused, seccomp, limits); --json says which rung \
               held and why",
    },
    Opt {
        long: "--net",
        short: None,
        values: &["none|host|filter|blocked"],
        heading: NETWORK,
        help: "The network: none, a network namespace of the sandbox's own with loopback \
               only (the default); host, the host's (alias --share-net); filter, the \
               sandbox's own namespace whose only way out is an egress proxy run by stockade, \
               under the egress rules (none: nothing is reachable); blocked, sockets denied \
               with seccomp and Landlock instead of a namespace (alias --net-filter; faster \
               to spawn, isolates less: see Network::Blocked)",
    },
    Opt {
        long: "--share-net",
        short: None,
        values: &[],
        heading: NETWORK,
        help: "Same as --net host",
    },
    Opt {
        long: "--net-filter",
        short: None,
        values: &[],
        heading: NETWORK,
        help: "Same as --net blocked",
    },
    Opt {
        long: "--publish",
        short: None,
        values: &["[HOST:]PORT:SANDBOX_PORT"],
        heading: NETWORK,
        help: "Forward HOST:PORT (HOST an IP address, 127.0.0.1 by default, IPv6 in \
               brackets: [::1]:8080:80; PORT 0: one the kernel picks) to \
               127.0.0.1:SANDBOX_PORT in the sandbox's network namespace (repeatable; --net \
               none or filter; --json lists the addresses)",
    },
    Opt {
        long: "--allow-host",
        short: None,
        values: &["NAME[:PORT]"],
        heading: EGRESS,
        help: "Allow NAME (or *.SUFFIX), on any port or PORT. The egress options but \
               --max-connections are repeatable; each implies --net filter, and needs it",
    },
    Opt {
        long: "--deny-host",
        short: None,
        values: &["NAME[:PORT]"],
        heading: EGRESS,
        help: "Deny NAME (or *.SUFFIX), on any port or PORT",
    },
    Opt {
        long: "--allow-private",
        short: None,
        values: &["CIDR"],
        heading: EGRESS,
        help: "Allow private addresses in CIDR (10.0.0.0/8, 127.0.0.1), refused by default \
               even for allowed names",
    },
    Opt {
        long: "--resolve",
        short: None,
        values: &["NAME=ADDR"],
        heading: EGRESS,
        help: "The proxy resolves NAME to ADDR; when any is given, these are its only names \
               (no system resolver)",
    },
    Opt {
        long: "--max-connections",
        short: None,
        values: &["N"],
        heading: EGRESS,
        help: "At most N connections at once (the last one given counts)",
    },
    Opt {
        long: "--hostname",
        short: None,
        values: &["NAME"],
        heading: IDENTITY,
        help: "Hostname inside the sandbox",
    },
    Opt {
        long: "--as-pid-1",
        short: None,
        values: &[],
        heading: IDENTITY,
        help: "The program is pid 1 of the sandbox's pid namespace",
    },
    Opt {
        long: "--uid",
        short: None,
        values: &["N"],
        heading: IDENTITY,
        help: "User id inside the sandbox (default: the caller's)",
    },
    Opt {
        long: "--gid",
        short: None,
        values: &["N"],
        heading: IDENTITY,
        help: "Group id inside the sandbox (default: the caller's)",
    },
    Opt {
        long: "--subids",
        short: None,
        values: &[],
        heading: IDENTITY,
        help: "Map every other id from 0 to 65535 to the caller's subordinate ids \
               (/etc/subuid, /etc/subgid; through newuidmap/newgidmap, package uidmap, \
               unless root), so that users, chown and su work inside",
    },
    Opt {
        long: "--uid-range",
        short: None,
        values: &["IN:OUT:COUNT"],
        heading: IDENTITY,
        help: "Map COUNT user ids from IN inside to OUT outside (repeatable; replaces \
               --subids for users; an unprivileged caller may map only its own id and what \
               /etc/subuid grants it)",
    },
    Opt {
        long: "--gid-range",
        short: None,
        values: &["IN:OUT:COUNT"],
        heading: IDENTITY,
        help: "The same for group ids (/etc/subgid)",
    },
    Opt {
        long: "--chdir",
        short: None,
        values: &["DIR"],
        heading: IDENTITY,
        help: "Working directory inside the sandbox",
    },
    Opt {
        long: "--setenv",
        short: None,
        values: &["KEY", "VALUE"],
        heading: IDENTITY,
        help: "Set an environment variable",
    },
    Opt {
        long: "--unsetenv",
        short: None,
        values: &["KEY"],
        heading: IDENTITY,
        help: "Remove an environment variable",
    },
    Opt {
        long: "--inherit-env",
        short: None,
        values: &[],
        heading: IDENTITY,
        help: "Pass the caller's whole environment",
    },
    Opt {
        long: "--rootfs",
        short: None,
        values: &["DIR"],
        heading: ROOT,
        help: "Use DIR read-only as the root",
    },
    Opt {
        long: "--image",
        short: None,
        values: &["REF"],
        heading: ROOT,
        help: "Use the image REF (NAME[:TAG], or a digest or its first characters) of the \
               image store as the read-only root (with --writable-root: a writable container \
               layer on top, gone with the sandbox), and run its entrypoint and command \
               (PROGRAM and ARGS replace the command) as its user (root of the user namespace \
               when it names none), in its working directory, with its environment; the \
               options given win. The network, capabilities and everything else stay \
               stockade's defaults",
    },
    Opt {
        long: "--entrypoint",
        short: None,
        values: &["PROGRAM"],
        heading: ROOT,
        help: "With --image: run PROGRAM instead of the image's entrypoint, without the \
               image's command",
    },
    Opt {
        long: "--bundle",
        short: None,
        values: &["DIR"],
        heading: ROOT,
        help: "Run the OCI runtime bundle DIR: its config.json is the policy and the \
               program, the other options on top; a field stockade cannot enforce is an \
               error naming it",
    },
    Opt {
        long: "--writable-root",
        short: None,
        values: &[],
        heading: ROOT,
        help: "The whole root (--rootfs DIR, or the system directories of the default view) \
               as an overlay the program may change; the changes vanish with the sandbox \
               (Linux 5.11 unprivileged)",
    },
    Opt {
        long: "--keep-changes",
        short: None,
        values: &["DIR"],
        heading: ROOT,
        help: "A writable root whose changes are kept in the layer directory DIR (DIR/upper, \
               DIR/work; created, 0700; not on an overlay, outside the root directory, one \
               running sandbox at a time): the next sandbox or `start` with the same DIR \
               sees them",
    },
    Opt {
        long: "--ro-bind",
        short: None,
        values: &["SRC", "DEST"],
        heading: FILESYSTEM,
        help: "Bind SRC read-only at DEST (recursively)",
    },
    Opt {
        long: "--ro-bind-try",
        short: None,
        values: &["SRC", "DEST"],
        heading: FILESYSTEM,
        help: "Same, skipped if SRC does not exist",
    },
    Opt {
        long: "--bind",
        short: None,
        values: &["SRC", "DEST"],
        heading: FILESYSTEM,
        help: "Bind SRC read-write at DEST",
    },
    Opt {
        long: "--bind-try",
        short: None,
        values: &["SRC", "DEST"],
        heading: FILESYSTEM,
        help: "Same, skipped if SRC does not exist",
    },
    Opt {
        long: "--dev-bind",
        short: None,
        values: &["SRC", "DEST"],
        heading: FILESYSTEM,
        help: "Bind a device node (devices are off otherwise)",
    },
    Opt {
        long: "--tmpfs",
        short: None,
        values: &["DEST[:SIZE]"],
        heading: FILESYSTEM,
        help: "Fresh tmpfs (SIZE as for --memory)",
    },
    Opt {
        long: "--overlay",
        short: None,
        values: &["LOWER", "DEST"],
        heading: FILESYSTEM,
        help: "Writable overlay of LOWER; changes vanish with the sandbox (--overlay DIR / \
               is --rootfs DIR --writable-root)",
    },
    Opt {
        long: "--dir",
        short: None,
        values: &["DEST"],
        heading: FILESYSTEM,
        help: "Create a directory",
    },
    Opt {
        long: "--symlink",
        short: None,
        values: &["TARGET", "DEST"],
        heading: FILESYSTEM,
        help: "Create a symlink",
    },
    Opt {
        long: "--file",
        short: None,
        values: &["DEST", "TEXT"],
        heading: FILESYSTEM,
        help: "Create a read-only file containing TEXT",
    },
    Opt {
        long: "--mask",
        short: None,
        values: &["PATH"],
        heading: FILESYSTEM,
        help: "Hide a file or directory",
    },
    Opt {
        long: "--no-home",
        short: None,
        values: &[],
        heading: FILESYSTEM,
        help: "No private home: by default $HOME (or /home/sandbox) is an empty writable \
               tmpfs of the program's own",
    },
    Opt {
        long: "--sys",
        short: None,
        values: &[],
        heading: FILESYSTEM,
        help: "Mount a fresh, read-only sysfs on /sys (needs the sandbox's own network \
               namespace)",
    },
    Opt {
        long: "--expose-host-secrets",
        short: None,
        values: &[],
        heading: FILESYSTEM,
        help: "Opt in to exposing the host's secrets (/etc/shadow, SSH host keys...; for a \
               root caller every entry of /etc that others may not read) through binds of \
               their directories (--ro-bind /etc /etc); by default they stay masked there, \
               and binding one is refused",
    },
    Opt {
        long: "--landlock-ro",
        short: None,
        values: &["PATH"],
        heading: CONFINEMENT,
        help: "Landlock: allow reading and executing beneath PATH (repeatable, paths as seen \
               in the sandbox; any --landlock-ro or --landlock-rw denies every other path, as \
               a hard requirement)",
    },
    Opt {
        long: "--landlock-rw",
        short: None,
        values: &["PATH"],
        heading: CONFINEMENT,
        help: "Landlock: also allow writing beneath PATH (repeatable)",
    },
    Opt {
        long: "--landlock-connect",
        short: None,
        values: &["PORT"],
        heading: CONFINEMENT,
        help: "Landlock: allow TCP connections to PORT only (repeatable; Linux 6.7+)",
    },
    Opt {
        long: "--landlock-best-effort",
        short: None,
        values: &[],
        heading: CONFINEMENT,
        help: "Apply what the kernel supports of the Landlock rules instead of failing; \
               --json reports what is missing",
    },
    Opt {
        long: "--seccomp",
        short: None,
        values: &["default|none"],
        heading: CONFINEMENT,
        help: "System call filter: the default profile (the default; denies namespace \
               creation, io_uring, bpf, the keyring, TIOCSTI, ...) or none",
    },
    Opt {
        long: "--no-observe-denials",
        short: None,
        values: &[],
        heading: CONFINEMENT,
        help: "Do not watch the filter's refusals: it refuses the same calls with the same \
               errors without telling stockade, and --json and --denials say system calls \
               were not observed (\"disabled\")",
    },
    Opt {
        long: "--observe-writes",
        short: None,
        values: &[],
        heading: CONFINEMENT,
        help: "Also look at each write before it runs, and report those a read-only mount \
               refuses (inferred); costs some microseconds per write",
    },
    Opt {
        long: "--timeout",
        short: None,
        values: &["DURATION"],
        heading: LIMITS,
        help: "Wall-clock limit; exit code 124 when hit. DURATION is seconds (2.5) or a \
               number with a unit: 500ms, 30s, 5m, 1h (also ns, us)",
    },
    Opt {
        long: "--cpu-time",
        short: None,
        values: &["DURATION"],
        heading: LIMITS,
        help: "CPU-time limit of each process (RLIMIT_CPU)",
    },
    Opt {
        long: "--rlimit",
        short: None,
        values: &["NAME=VALUE"],
        heading: LIMITS,
        help: "Resource limit, e.g. nofile=64, fsize=1M, core=0, as=unlimited (names as in \
               prlimit(1))",
    },
    Opt {
        long: "--memory",
        short: None,
        values: &["SIZE"],
        heading: LIMITS,
        help: "Memory limit of the whole sandbox (cgroup memory.max); OOM kill reported as \
               oom_killed. SIZE is bytes with an optional K, M, G or T suffix (powers of \
               1024; 64M, 64MiB), or unlimited",
    },
    Opt {
        long: "--swap",
        short: None,
        values: &["SIZE"],
        heading: LIMITS,
        help: "Swap allowed on top of --memory (default 0)",
    },
    Opt {
        long: "--pids",
        short: None,
        values: &["N"],
        heading: LIMITS,
        help: "Most processes and threads at once (cgroup pids.max)",
    },
    Opt {
        long: "--cpus",
        short: None,
        values: &["FLOAT"],
        heading: LIMITS,
        help: "CPU bandwidth in CPUs, e.g. 0.5 (cgroup cpu.max)",
    },
    Opt {
        long: "--cgroup-parent",
        short: None,
        values: &["DIR"],
        heading: LIMITS,
        help: "Create the sandbox's cgroup under DIR, a delegated cgroup v2 directory \
               (default: the caller's cgroup)",
    },
    Opt {
        long: "--limits-best-effort",
        short: None,
        values: &[],
        heading: LIMITS,
        help: "Run even where a cgroup limit cannot be enforced, approximating it with \
               rlimits; --json tells",
    },
    Opt {
        long: "--json",
        short: None,
        values: &[],
        heading: REPORTS,
        help: "Print a JSON report on stderr when the program ends, on a line of its own \
               (\"denials\": what the sandbox refused, as --denials says)",
    },
    Opt {
        long: "--json-fd",
        short: None,
        values: &["FD"],
        heading: REPORTS,
        help: "Write the report to the open descriptor FD instead (the program never sees \
               FD): --json-fd 3 3>r.json",
    },
    Opt {
        long: "--json-file",
        short: None,
        values: &["PATH"],
        heading: REPORTS,
        help: "Write the report to the file PATH instead (created or truncated before the \
               program starts)",
    },
    Opt {
        long: "--denials",
        short: None,
        values: &[],
        heading: REPORTS,
        help: "When the program ends, print on stderr, after all of its output, one line of \
               what the sandbox refused: \"stockade: denied: mount target=/mnt (seccomp \
               filter: EPERM); connect to a.test:443 (network policy: ...)\", with the limits \
               hit and what it could not watch; nothing when it refused nothing and watched \
               all it could. Filesystem refusals (read-only mounts, Landlock) are not seen; \
               paths are the program's word (control characters escaped)",
    },
    Opt {
        long: "--pty",
        short: Some('t'),
        values: &[],
        heading: TERMINAL,
        help: "Give the program a terminal of its own (a pseudo-terminal of the sandbox's \
               /dev/pts, its controlling terminal), relayed to this one: keys reach it as \
               typed (^C, ^Z and job control act on its jobs, not on stockade), window size \
               changes follow, and this terminal is restored when stockade ends. Standard \
               input must be a terminal",
    },
    Opt {
        long: "--stop-signal",
        short: None,
        values: &["SIG"],
        heading: CONTAINER,
        help: "The signal stop sends (default TERM): to INIT alone, or without INIT to every \
               process; a name (TERM, SIGUSR1, RTMIN+3 for systemd) or a number",
    },
    Opt {
        long: "--system",
        short: None,
        values: &[],
        heading: CONTAINER,
        help: "A system container, for a userland's own init (systemd): INIT and its \
               services run as uid 0 of the user namespace with every capability there but \
               CAP_SYS_PTRACE, without no_new_privs (setuid programs work) and without a \
               seccomp filter; a read-only /sys, /run and /run/lock as tmpfs, the \
               container's own cgroup mounted writable at /sys/fs/cgroup (it needs a \
               delegated cgroup: --cgroup-parent, or the caller's own); stop sends RTMIN+3. \
               Options given as well (--uid, --seccomp default, --stop-signal, ...) win",
    },
];

/// The option of [`OPTIONS`] (or of a subcommand) spelled `long`, as the
/// `'static` name error messages carry.
fn option_name(long: &str) -> Option<&'static str> {
    OPTIONS
        .iter()
        .map(|o| o.long)
        .chain(["--name", "--user", "--help", "--version"])
        .find(|l| *l == long)
}

const ABOUT: &str = "Runs PROGRAM in a sandbox with the library's default policy: new user, \
mount, pid, network, IPC, UTS and cgroup namespaces; a read-only view of the host's system \
directories without its secrets; fresh /proc, minimal /dev, private /tmp, an empty private \
home ($HOME); no capabilities, no_new_privs, the default seccomp profile; a cleared \
environment.";

const USAGE_LINES: &str = "\
stockade [run] [OPTIONS] [--] PROGRAM [ARGS...]
       stockade [run] --image REF [OPTIONS] [-- ARGS...]
       stockade [run] --bundle DIR [OPTIONS]
       stockade start NAME [OPTIONS] [-- INIT [ARGS...]]
       stockade exec NAME [--pty] [--chdir DIR] [--user UID[:GID]] [--setenv KEY VALUE]... [--] PROGRAM [ARGS...]
       stockade stop NAME [--timeout DURATION]
       stockade kill NAME
       stockade list [--json]
       stockade diff NAME [--json]
       stockade commit NAME
       stockade reset NAME
       stockade image import PATH [--name NAME[:TAG]] | list [--json] | rm REF... | gc
       stockade completions bash|zsh|fish|elvish|powershell";

const AFTER_HELP: &str = "\
A subcommand is recognised only as the first argument: `stockade -- start` (or any option \
first) runs a program named start. `stockade SUBCOMMAND --help` tells more of each.

Remote execution: `stockade --remote-action [OPTIONS] -- PROGRAM [ARGS...]` \
(--remote-action first) runs an action for a remote-execution worker that puts stockade \
before every action (NativeLink's entrypoint): the action keeps its environment (less the \
STOCKADE_* variables) and its working directory, and its action directory \
(STOCKADE_ACTION_DIRECTORY, or the working directory) is bound read-write at the same path. \
The worker maps platform properties to STOCKADE_POLICY (a policy file), STOCKADE_MEMORY, \
STOCKADE_PIDS, STOCKADE_CPUS, STOCKADE_NETWORK (as --net), STOCKADE_ISOLATION, and its \
timeout to STOCKADE_TIMEOUT_MS; on a timeout stockade writes {\"failure\":\"timeout\"} to \
STOCKADE_SIDE_CHANNEL_FILE. Options given after --remote-action win over the variables.

Exit status: the program's; 128+N if killed by signal N; 124 on timeout; 125 if the sandbox \
could not be set up or the command line is wrong (one line naming the option); 126 not \
executable; 127 not found.

Signals: SIGHUP, SIGQUIT and SIGWINCH are passed on to the program. SIGINT and SIGTERM are \
too, and then the program has 2 seconds to end (a second one ends it at once) before the \
sandbox is killed; stockade then ends by that signal (128+N). A signal stockade was started \
with ignored stays ignored.

Containers: a container is a sandbox that stays up between programs. State lives in \
$XDG_RUNTIME_DIR/stockade/NAME (/tmp/stockade-UID/NAME when XDG_RUNTIME_DIR is unset or not \
a private directory of the caller; /run/stockade/NAME for root), readable by its owner only, \
and only its owner may exec into, stop or kill a container. A container started with \
--keep-changes leaves the record of its layer in .layers/NAME there, kept after it stops for \
diff, commit and reset; the next start of NAME replaces it (or, without --keep-changes, \
removes it), and so does removing the layer directory. The state of a container whose \
monitor died is removed when next seen, and never listed. Exit status of start, stop, kill \
and list: 0, or 125 with a one-line reason.

Images: `stockade image import PATH` adds an OCI image layout directory or a `docker \
save`/`podman save` archive to the image store ($STOCKADE_IMAGES, else \
$XDG_CACHE_HOME/stockade/images, else ~/.cache/stockade/images).";

const NAME_HELP: &str = "The container: 1 to 64 ASCII letters, digits, '_', '.' or '-', \
starting with a letter or a digit";

/// The container name every container subcommand takes first.
fn name_arg() -> Arg {
    Arg::new("name")
        .value_name("NAME")
        .required(true)
        .value_parser(value_parser!(OsString))
        .help(NAME_HELP)
}

/// PROGRAM and its arguments: everything from the first argument that is
/// not an option (or after `--`), untouched.
fn program_arg(value_name: &'static str, help: &'static str) -> Arg {
    Arg::new("program")
        .value_name(value_name)
        .num_args(1..)
        .trailing_var_arg(true)
        .value_parser(value_parser!(OsString))
        .help(help)
}

/// `--json` of the subcommands that list something.
fn json_flag(help: &'static str) -> Arg {
    Arg::new("json")
        .long("json")
        .action(ArgAction::Count)
        .help(help)
}

/// A command without clap's own version flag (`-V` is stockade's, and
/// only where the help says) or help subcommand (`help` is a program).
fn bare(name: &'static str) -> Command {
    Command::new(name)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        // `-h` and `--help` both print the whole help, as they always did.
        .disable_help_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::HelpLong)
                .help("Print this help"),
        )
        .max_term_width(100)
}

/// The one-shot form: every option, then PROGRAM and its arguments.
/// `start` takes the same options.
fn one_shot_command(name: &'static str) -> Command {
    bare(name)
        .version(env!("CARGO_PKG_VERSION"))
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("Print the version of stockade"),
        )
        .args(OPTIONS.iter().map(Opt::arg))
        .arg(program_arg(
            "PROGRAM",
            "The program and its arguments, passed on untouched (an option after PROGRAM is \
             its own)",
        ))
}

/// `start NAME [OPTIONS] [-- INIT...]` (and the monitor it runs).
fn start_command() -> Command {
    bare("start")
        .about("Start a detached container and return once it is ready")
        .long_about(
            "Start a detached container of the policy OPTIONS (the one-shot options) and \
             return once it is ready; it runs until stopped. --chdir, --setenv and --unsetenv \
             are the defaults of every exec; --json prints the container's report on stdout. \
             INIT, if given, is the container's pid 1 (busybox init, systemd, a shell), with \
             container=stockade in its environment, and the container ends when it ends; \
             without it stockade's own init waits for execs. --pty, --denials and --as-pid-1 \
             are for one-shot programs.",
        )
        .override_usage("stockade start NAME [OPTIONS] [-- INIT [ARGS...]]")
        .arg(name_arg())
        .args(OPTIONS.iter().map(Opt::arg))
        .arg(program_arg(
            "INIT",
            "The container's pid 1 and its arguments (after `--`)",
        ))
}

/// `exec NAME [OPTIONS] [--] PROGRAM [ARGS...]`.
fn exec_command() -> Command {
    let opt = |long| {
        OPTIONS
            .iter()
            .find(|o| o.long == long)
            .map(Opt::arg)
            .expect("an option of the table")
    };
    bare("exec")
        .about("Run a program in a running container")
        .long_about(
            "Run PROGRAM in the container with this terminal's stdin, stdout and stderr \
             (with -t/--pty: a terminal of the container's own, relayed as for a one-shot \
             program); the exit status is the program's. Signals are passed on as for a \
             one-shot program; processes it leaves in the background keep running. If \
             stockade exec is killed, so is PROGRAM.",
        )
        .override_usage("stockade exec NAME [--pty] [--chdir DIR] [--user UID[:GID]] [--setenv KEY VALUE]... [--unsetenv KEY]... [--] PROGRAM [ARGS...]")
        .arg(name_arg())
        .arg(opt("--pty").help("A terminal of the container's own, relayed to this one"))
        .arg(opt("--chdir").help("Working directory (default: the container's)"))
        .arg(
            Arg::new("user")
                .long("user")
                .value_name("UID[:GID]")
                .action(ArgAction::Append)
                .allow_hyphen_values(true)
                .value_parser(value_parser!(OsString))
                .help_heading(IDENTITY)
                .help(
                    "Run as these ids inside the container, numbers (default: the container's; \
                     without GID, the container's gid). They must be mapped in its user \
                     namespace: its own, or any of its --uid-range/--gid-range/--subids ranges",
                ),
        )
        .arg(opt("--setenv").help("Set an environment variable"))
        .arg(opt("--unsetenv").help("Remove an environment variable"))
        .arg(program_arg("PROGRAM", "The program and its arguments, untouched"))
}

/// A subcommand that takes a container name and nothing else.
fn name_command(name: &'static str, about: &'static str, usage: &'static str) -> Command {
    bare(name)
        .about(about)
        .override_usage(usage)
        .arg(name_arg())
}

/// `image import|list|rm|gc`.
fn image_command_line() -> Command {
    bare("image")
        .about("Manage the image store")
        .long_about(
            "Manage the image store ($STOCKADE_IMAGES, else $XDG_CACHE_HOME/stockade/images, \
             else ~/.cache/stockade/images).",
        )
        .override_usage(
            "stockade image import PATH [--name NAME[:TAG]] | list [--json] | rm REF... | gc",
        )
        .subcommand_required(true)
        .subcommand(
            bare("import")
                .about("Add an OCI image layout directory or a docker/podman save archive")
                .long_about(
                    "Add an OCI image layout directory or a `docker save`/`podman save` \
                     archive to the image store, checking every blob's digest and unpacking \
                     each layer once for every image that shares it.",
                )
                .override_usage("stockade image import PATH [--name NAME[:TAG]]")
                .arg(
                    Arg::new("path")
                        .value_name("PATH")
                        .required(true)
                        .value_parser(value_parser!(OsString))
                        .help("The image layout directory or archive"),
                )
                .arg(
                    Arg::new("name")
                        .long("name")
                        .value_name("NAME[:TAG]")
                        .action(ArgAction::Append)
                        .allow_hyphen_values(true)
                        .value_parser(value_parser!(OsString))
                        .help("The name the image gets in the store"),
                ),
        )
        .subcommand(
            bare("list")
                .visible_alias("ls")
                .about("Show the images")
                .override_usage("stockade image list [--json]")
                .arg(json_flag("A JSON array")),
        )
        .subcommand(
            bare("rm")
                .about("Forget images")
                .override_usage("stockade image rm REF...")
                .arg(
                    Arg::new("references")
                        .value_name("REF")
                        .num_args(1..)
                        .required(true)
                        .value_parser(value_parser!(OsString))
                        .help("NAME[:TAG], or a digest or its first characters"),
                ),
        )
        .subcommand(
            bare("gc")
                .about("Delete the layers no image uses")
                .override_usage("stockade image gc"),
        )
}

/// `completions SHELL`.
fn completions_command() -> Command {
    bare("completions")
        .about("Print a shell's completion script for stockade")
        .long_about(
            "Print the completion script of SHELL for stockade on stdout, e.g. for bash: \
             stockade completions bash > ~/.local/share/bash-completion/completions/stockade",
        )
        .override_usage("stockade completions bash|zsh|fish|elvish|powershell")
        .arg(
            Arg::new("shell")
                .value_name("SHELL")
                .required(true)
                .value_parser(value_parser!(Shell)),
        )
}

/// The subcommand named `name` (`__monitor` is `start`'s).
fn subcommand(name: &str) -> Option<Command> {
    Some(match name {
        "run" => one_shot_command("run")
            .about("Run a program in a sandbox (the same as without `run`)")
            .override_usage("stockade run [OPTIONS] [--] PROGRAM [ARGS...]"),
        "start" | "__monitor" => start_command(),
        "exec" => exec_command(),
        "stop" => bare("stop")
            .about("Stop a container")
            .long_about(
                "Send the stop signal (SIGTERM unless --stop-signal) to INIT, or without \
                 INIT to every process in the container, then after DURATION (default 10s; 0 \
                 for none) SIGKILL to what is left; return once nothing is left.",
            )
            .override_usage("stockade stop NAME [--timeout DURATION]")
            .arg(name_arg())
            .arg(
                Arg::new("timeout")
                    .long("timeout")
                    .value_name("DURATION")
                    .action(ArgAction::Append)
                    .allow_hyphen_values(true)
                    .value_parser(value_parser!(OsString))
                    .help("How long the processes have to end before SIGKILL (default 10s)"),
            ),
        "kill" => name_command(
            "kill",
            "Send SIGKILL to every process in a container",
            "stockade kill NAME",
        ),
        "list" => bare("list")
            .about("Show the running containers")
            .override_usage("stockade list [--json]")
            .arg(json_flag("A JSON array")),
        "diff" => name_command(
            "diff",
            "Show what a container started with --keep-changes changed",
            "stockade diff NAME [--json]",
        )
        .long_about(
            "What a container started with --keep-changes changed: one line per path, A \
             (added), M (modified), D (deleted) or R (replaced: another type, or a \
             directory made anew), or a JSON array of {\"kind\", \"path\"}; while it runs, a \
             moving target.",
        )
        .arg(json_flag("A JSON array of {\"kind\", \"path\"}")),
        "commit" => name_command(
            "commit",
            "Apply a container's kept changes to its --rootfs directory",
            "stockade commit NAME",
        )
        .long_about(
            "Apply the changes of a container started with --keep-changes to its --rootfs \
             directory and empty the layer (refused while NAME runs, and for the default \
             view); a commit that fails leaves the directory as it was.",
        ),
        "reset" => name_command(
            "reset",
            "Throw a container's kept changes away (refused while it runs)",
            "stockade reset NAME",
        ),
        "image" => image_command_line(),
        "completions" => completions_command(),
        _ => return None,
    })
}

/// Whether the options are built with their help text: only for the help
/// and the completions ([`command`]).
static DESCRIBED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The whole command line, for the help and the shell completions:
/// the one-shot form and its subcommands.
pub fn command() -> Command {
    DESCRIBED.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut cmd = one_shot_command("stockade")
        .bin_name("stockade")
        .about(ABOUT)
        .override_usage(USAGE_LINES)
        .after_help(AFTER_HELP)
        .args_conflicts_with_subcommands(true);
    for name in [
        "run",
        "start",
        "exec",
        "stop",
        "kill",
        "list",
        "diff",
        "commit",
        "reset",
        "image",
        "completions",
    ] {
        if let Some(sub) = subcommand(name) {
            cmd = cmd.subcommand(sub);
        }
    }
    as_switches(cmd)
}

/// `cmd` with its flags (and its subcommands') shown as switches: the
/// parser counts them, to keep where each was given, which the help would
/// show as `--json...`.
fn as_switches(cmd: Command) -> Command {
    cmd.mut_args(|a| match a.get_action() {
        ArgAction::Count => a.action(ArgAction::SetTrue),
        _ => a,
    })
    .mut_subcommands(as_switches)
}

/// The help `args` (the arguments after the program name, which asked for
/// it) want: a subcommand's when the first argument names one (and an
/// image verb's after `image`), the one-shot form's otherwise.
pub fn help(args: &[OsString]) -> String {
    let mut cmd = command();
    cmd.build();
    let first = args.first().and_then(|a| a.to_str());
    let sub = match first {
        Some("__monitor") => Some("start"),
        Some(s) if s != "run" => cmd.find_subcommand(s).map(|c| c.get_name()),
        _ => None,
    };
    let Some(sub) = sub.map(str::to_owned) else {
        return cmd.render_long_help().to_string();
    };
    let Some(sub) = cmd.find_subcommand_mut(&sub) else {
        return String::new();
    };
    let verb = args
        .get(1)
        .and_then(|a| a.to_str())
        .and_then(|v| sub.find_subcommand(v))
        .map(|c| c.get_name().to_owned());
    match verb.and_then(|v| sub.find_subcommand_mut(&v)) {
        Some(verb) => verb.render_long_help().to_string(),
        None => sub.render_long_help().to_string(),
    }
}

/// A size for `option` (see `stockade::units::parse_size`).
fn size(option: &'static str, v: OsString) -> Result<u64, ArgError> {
    let Some(text) = v.to_str() else {
        return Err(ArgError::BadValue {
            option,
            value: v,
            expected: "a size in bytes with an optional K, M, G or T suffix",
        });
    };
    units::parse_size(text).map_err(|error| ArgError::BadSize {
        option,
        value: text.to_owned(),
        error,
    })
}

/// A duration for `option` (see `stockade::units::parse_duration`).
fn duration(option: &'static str, v: OsString) -> Result<Duration, ArgError> {
    let Some(text) = v.to_str() else {
        return Err(ArgError::BadValue {
            option,
            value: v,
            expected: "a duration: seconds, or a number with a unit (500ms, 30s, 5m)",
        });
    };
    units::parse_duration(text).map_err(|error| ArgError::BadDuration {
        option,
        value: text.to_owned(),
        error,
    })
}

/// The value of `option`, the next argument.
fn val(
    it: &mut impl Iterator<Item = OsString>,
    option: &'static str,
) -> Result<OsString, ArgError> {
    it.next().ok_or(ArgError::MissingValue { option })
}

/// An `INSIDE:OUTSIDE:COUNT` range for `option`.
fn id_range(v: OsString, option: &'static str) -> Result<stockade::IdRange, ArgError> {
    let parsed = v.to_str().and_then(|s| {
        let mut f = s.split(':').map(|n| n.parse::<u32>().ok());
        match (f.next()??, f.next()??, f.next()??, f.next()) {
            (i, o, c, None) => Some(stockade::IdRange::new(i, o, c)),
            _ => None,
        }
    });
    parsed.ok_or(ArgError::BadValue {
        option,
        value: v,
        expected: "INSIDE:OUTSIDE:COUNT (three numbers)",
    })
}

/// A number for `option`.
fn num<T: std::str::FromStr>(
    v: OsString,
    option: &'static str,
    expected: &'static str,
) -> Result<T, ArgError> {
    v.to_str()
        .and_then(|s| s.parse().ok())
        .ok_or(ArgError::BadValue {
            option,
            value: v,
            expected,
        })
}

/// `--user UID[:GID]`: ids inside the container, as numbers.
fn user(v: OsString) -> Result<(u32, Option<u32>), ArgError> {
    let id = |t: &str| t.parse::<u32>().ok().filter(|&n| n != u32::MAX);
    let parsed = v.to_str().and_then(|t| match t.split_once(':') {
        Some((u, g)) => Some((id(u)?, Some(id(g)?))),
        None => Some((id(t)?, None)),
    });
    parsed.ok_or(ArgError::BadValue {
        option: "--user",
        value: v,
        expected: "UID or UID:GID, as numbers (user names are not looked up)",
    })
}

/// A signal for `option`: a number from 1 to 64, or a name with or without
/// `SIG` (`TERM`, `SIGUSR1`), `RTMIN+N` or `RTMAX-N` included.
pub fn signal(option: &'static str, v: OsString) -> Result<i32, ArgError> {
    let bad = |v: OsString| ArgError::BadValue {
        option,
        value: v,
        expected: "a signal name (TERM, SIGUSR1, RTMIN+3) or a number from 1 to 64",
    };
    let Some(text) = v.to_str() else {
        return Err(bad(v));
    };
    let name = text.strip_prefix("SIG").unwrap_or(text);
    let n = if let Ok(n) = name.parse::<i32>() {
        Some(n)
    } else if let Some(rest) = name.strip_prefix("RTMIN") {
        let off = if rest.is_empty() {
            Some(0)
        } else {
            rest.strip_prefix('+').and_then(|r| r.parse::<u8>().ok())
        };
        off.and_then(|o| libc::SIGRTMIN().checked_add(i32::from(o)))
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        let off = if rest.is_empty() {
            Some(0)
        } else {
            rest.strip_prefix('-').and_then(|r| r.parse::<u8>().ok())
        };
        off.and_then(|o| libc::SIGRTMAX().checked_sub(i32::from(o)))
    } else {
        format!("SIG{name}")
            .parse::<nix::sys::signal::Signal>()
            .ok()
            .map(|s| s as i32)
    };
    match n {
        Some(n) if (1..=64).contains(&n) && n <= libc::SIGRTMAX() => Ok(n),
        _ => Err(bad(v)),
    }
}

/// Why two network options conflict.
pub const DIFFERENT_NETWORKS: &str = "they ask for different networks";

/// The root comes from one place: `--rootfs`, `--image` or `--bundle`;
/// `--entrypoint` needs an image, and a bundle names its own program.
fn check_root(o: &Options) -> Result<(), ArgError> {
    let roots = [
        ("--rootfs", o.rootfs.is_some()),
        ("--image", o.image.is_some()),
        ("--bundle", o.bundle.is_some()),
    ];
    let mut given = roots.iter().filter(|r| r.1).map(|r| r.0);
    if let (Some(first), Some(second)) = (given.next(), given.next()) {
        return Err(ArgError::Conflict {
            first,
            second,
            why: "they ask for different roots",
        });
    }
    if o.entrypoint.is_some() && o.image.is_none() {
        return Err(ArgError::Needs {
            option: "--entrypoint",
            needs: "--image",
        });
    }
    if o.bundle.is_some() && !o.program.is_empty() {
        return Err(ArgError::Conflict {
            first: "--bundle",
            second: "PROGRAM",
            why: "the bundle's config.json names the program (process.args)",
        });
    }
    Ok(())
}

/// Records where the JSON report goes, asked by `option`, refusing a second
/// place.
fn set_json(
    o: &mut Options,
    to: JsonTo,
    option: &'static str,
    first: &mut Option<&'static str>,
) -> Result<(), ArgError> {
    match *first {
        Some(f) if f == option && to == o.json_to => Ok(()),
        Some(f) => Err(ArgError::Conflict {
            first: f,
            second: option,
            why: "they ask for different places for the report",
        }),
        None => {
            *first = Some(option);
            o.json = true;
            o.json_to = to;
            Ok(())
        }
    }
}

/// Records the network `mode` asked for by `option`, refusing one that
/// another option asked differently.
fn set_net(o: &mut Options, mode: NetMode, option: &'static str) -> Result<(), ArgError> {
    match o.net {
        Some(m) if m != mode => Err(ArgError::Conflict {
            first: o.net_option,
            second: option,
            why: DIFFERENT_NETWORKS,
        }),
        Some(_) => Ok(()),
        None => {
            o.net = Some(mode);
            o.net_option = option;
            Ok(())
        }
    }
}

/// After the options: the egress options (the first is `egress_option`)
/// imply a filtered network and need it; published ports need a network
/// namespace of the sandbox's own.
fn check_net(o: &mut Options, egress_option: Option<&'static str>) -> Result<(), ArgError> {
    if let Some(option) = egress_option {
        match o.net {
            None => {
                o.net = Some(NetMode::Filter);
                o.net_option = option;
            }
            Some(NetMode::Filter) => {}
            Some(_) => {
                return Err(ArgError::WrongNetwork {
                    option,
                    net: o.net_option,
                    needs: "the filtered network (--net filter)",
                });
            }
        }
    }
    if !o.publish.is_empty() && matches!(o.net, Some(NetMode::Host | NetMode::Blocked)) {
        return Err(ArgError::WrongNetwork {
            option: "--publish",
            net: o.net_option,
            needs: "a network namespace of the sandbox's own (--net none or --net filter)",
        });
    }
    Ok(())
}

/// The value of `option` as text, not empty.
fn text(option: &'static str, v: OsString, expected: &'static str) -> Result<String, ArgError> {
    match v.to_str() {
        Some(t) if !t.is_empty() => Ok(t.to_owned()),
        _ => Err(ArgError::BadValue {
            option,
            value: v,
            expected,
        }),
    }
}

/// An IP address, an IPv6 one with or without brackets.
fn ip(s: &str) -> Option<IpAddr> {
    match s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(v6) => v6.parse().ok().map(IpAddr::V6),
        None => s.parse().ok(),
    }
}

/// A port number: decimal digits only, at most 65535.
fn port(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `--resolve NAME=ADDR`.
fn resolve(v: OsString) -> Result<(String, IpAddr), ArgError> {
    let parsed = v.to_str().and_then(|t| {
        let (name, addr) = t.split_once('=')?;
        if name.is_empty() {
            return None;
        }
        Some((name.to_owned(), ip(addr)?))
    });
    parsed.ok_or(ArgError::BadValue {
        option: "--resolve",
        value: v,
        expected: "NAME=ADDR with an IP address ADDR (allowed.test=127.0.0.1)",
    })
}

/// `--publish [HOST:]PORT:SANDBOX_PORT`: HOST an IP address (127.0.0.1 by
/// default; IPv6 in brackets), PORT 0 to 65535, SANDBOX_PORT 1 to 65535.
fn publish(v: OsString) -> Result<(SocketAddr, u16), ArgError> {
    let parsed = v.to_str().and_then(|t| {
        let (host, ports) = if let Some(rest) = t.strip_prefix('[') {
            let (v6, rest) = rest.split_once(']')?;
            (IpAddr::V6(v6.parse().ok()?), rest.strip_prefix(':')?)
        } else {
            match t.matches(':').count() {
                1 => (IpAddr::V4(Ipv4Addr::LOCALHOST), t),
                2 => {
                    let (host, rest) = t.split_once(':')?;
                    (IpAddr::V4(host.parse().ok()?), rest)
                }
                _ => return None,
            }
        };
        let (host_port, sandbox_port) = ports.split_once(':')?;
        let sandbox_port = port(sandbox_port).filter(|p| *p != 0)?;
        Some((SocketAddr::new(host, port(host_port)?), sandbox_port))
    });
    parsed.ok_or(ArgError::BadValue {
        option: "--publish",
        value: v,
        expected: "[HOST:]PORT:SANDBOX_PORT with an IP address HOST (IPv6 in brackets), \
                   PORT 0 to 65535 and SANDBOX_PORT 1 to 65535",
    })
}

/// Parses the arguments of the one-shot form, after the program name (the
/// option parser's tests and fuzz target use it).
#[allow(dead_code)]
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Options, ArgError> {
    let args: Vec<OsString> = args.into_iter().collect();
    parse_options(one_shot_command("stockade"), &args, true)
}

/// What clap's matches mean, whatever the command: the outcome of
/// [`Command::try_get_matches_from`], with the help and version flags
/// (which clap reports as errors) answered, and its other errors made
/// [`ArgError`]s naming the argument as typed.
enum Parsed {
    Matches(ArgMatches),
    Help,
    Version,
}

/// Runs `cmd` (named `name`, which clap takes as the program name) over
/// `args`.
fn matches(cmd: Command, args: &[OsString]) -> Result<Parsed, clap::Error> {
    let name = OsString::from(cmd.get_name());
    match cmd.try_get_matches_from(std::iter::once(name).chain(args.iter().cloned())) {
        Ok(m) => Ok(Parsed::Matches(m)),
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                Ok(Parsed::Help)
            }
            ErrorKind::DisplayVersion => Ok(Parsed::Version),
            _ => Err(e),
        },
    }
}

/// The argument of `args` that clap's error names as `shown`: itself, or
/// the `--option=value` it was typed as.
fn typed(args: &[OsString], shown: &str) -> OsString {
    args.iter()
        .find(|a| {
            let b = a.as_bytes();
            b == shown.as_bytes()
                || (b.starts_with(shown.as_bytes()) && b.get(shown.len()) == Some(&b'='))
        })
        .cloned()
        .unwrap_or_else(|| shown.into())
}

/// The one line an error of clap's becomes. `missing` names what a
/// missing required argument is (`image import`: its PATH).
fn clap_error(e: &clap::Error, args: &[OsString], missing: &'static str) -> ArgError {
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    let arg = context(ContextKind::InvalidArg).unwrap_or_default();
    // clap shows an option with its value names (`--net <NET>`), a flag
    // that may repeat as `--json...`.
    let shown = arg.split(' ').next().unwrap_or("").trim_end_matches("...");
    let option = option_name(shown);
    match (e.kind(), option) {
        (ErrorKind::UnknownArgument, _) => unexpected(typed(args, &arg)),
        (ErrorKind::TooManyValues, Some(_)) => {
            // A flag given a value: `--json=yes`.
            let value = context(ContextKind::InvalidValue).unwrap_or_default();
            ArgError::Unknown {
                option: typed(args, &format!("{shown}={value}")),
            }
        }
        (ErrorKind::InvalidValue | ErrorKind::WrongNumberOfValues, Some(option))
            if context(ContextKind::InvalidValue).is_none_or(|v| v.is_empty()) =>
        {
            ArgError::MissingValue { option }
        }
        (ErrorKind::MissingRequiredArgument, _) => ArgError::MissingValue { option: missing },
        _ => {
            // Only the first line: the rest is clap's usage and tips.
            let rendered = e.render().to_string();
            let line = rendered.lines().next().unwrap_or("");
            ArgError::Invalid {
                message: line.strip_prefix("error: ").unwrap_or(line).to_owned(),
            }
        }
    }
}

/// Parses options up to the program and its arguments, which must be there
/// when `need_program`, with `cmd` (the one-shot form's or `start`'s).
fn parse_options(cmd: Command, args: &[OsString], need_program: bool) -> Result<Options, ArgError> {
    let m = match matches(cmd, args).map_err(|e| clap_error(&e, args, "PROGRAM"))? {
        Parsed::Matches(m) => m,
        Parsed::Help => {
            return Ok(Options {
                help: true,
                ..Options::default()
            });
        }
        Parsed::Version => {
            return Ok(Options {
                version: true,
                ..Options::default()
            });
        }
    };
    // Each option given, with its values, in the order typed: the
    // filesystem operations apply in that order, and the first of two
    // conflicting options is named first.
    let mut given: Vec<(usize, &'static str, Vec<OsString>)> = Vec::new();
    for opt in OPTIONS {
        let id = opt.id();
        if m.value_source(id) != Some(ValueSource::CommandLine) {
            continue;
        }
        let indices: Vec<usize> = m.indices_of(id).map(Iterator::collect).unwrap_or_default();
        if opt.values.is_empty() {
            given.extend(indices.into_iter().map(|i| (i, opt.long, Vec::new())));
        } else if let Some(occurrences) = m.get_raw_occurrences(id) {
            for (k, values) in occurrences.enumerate() {
                let at = indices
                    .get(k * opt.values.len())
                    .copied()
                    .unwrap_or(usize::MAX);
                given.push((at, opt.long, values.map(OsStr::to_os_string).collect()));
            }
        }
    }
    given.sort_by_key(|(at, ..)| *at);

    let mut o = Options::default();
    // The first egress option given, which implies --net filter.
    let mut egress_option: Option<&'static str> = None;
    // The option that said where the JSON report goes.
    let mut json_option: Option<&'static str> = None;
    for (_, option, values) in given {
        apply(
            &mut o,
            option,
            &mut values.into_iter(),
            &mut egress_option,
            &mut json_option,
        )?;
    }
    let mut program = m
        .get_raw("program")
        .into_iter()
        .flatten()
        .map(OsStr::to_os_string);
    if let Some(p) = program.next() {
        o.program = p;
        o.args = program.collect();
    }
    check_net(&mut o, egress_option)?;
    check_root(&o)?;
    if o.program.is_empty() && need_program && o.image.is_none() && o.bundle.is_none() {
        return Err(ArgError::NoProgram);
    }
    Ok(o)
}

/// Applies one option (`option`, with its values in `it`) to `o`.
fn apply(
    o: &mut Options,
    option: &'static str,
    it: &mut impl Iterator<Item = OsString>,
    egress_option: &mut Option<&'static str>,
    json_option: &mut Option<&'static str>,
) -> Result<(), ArgError> {
    let s = option;
    match s {
        "--policy" => {
            if o.policy.is_some() {
                return Err(ArgError::Repeated { option: "--policy" });
            }
            o.policy = Some(val(it, "--policy")?.into());
        }
        "--share-net" => set_net(o, NetMode::Host, "--share-net")?,
        "--net-filter" => set_net(o, NetMode::Blocked, "--net-filter")?,
        "--net" => {
            let v = val(it, "--net")?;
            let mode = match v.to_str() {
                Some("none") => NetMode::Isolated,
                Some("host") => NetMode::Host,
                Some("filter") => NetMode::Filter,
                Some("blocked") => NetMode::Blocked,
                _ => {
                    return Err(ArgError::BadValue {
                        option: "--net",
                        value: v,
                        expected: "\"none\", \"host\", \"filter\" or \"blocked\"",
                    });
                }
            };
            set_net(o, mode, mode.option())?;
        }
        "--allow-host" | "--deny-host" => {
            let rule = text(
                option,
                val(it, option)?,
                "NAME[:PORT], a host name or *.SUFFIX with an optional port",
            )?;
            egress_option.get_or_insert(option);
            if option == "--allow-host" {
                o.allow_hosts.push(rule);
            } else {
                o.deny_hosts.push(rule);
            }
        }
        "--allow-private" => {
            let cidr = text(
                "--allow-private",
                val(it, "--allow-private")?,
                "an address or CIDR block (10.0.0.0/8, 127.0.0.1)",
            )?;
            egress_option.get_or_insert("--allow-private");
            o.allow_private.push(cidr);
        }
        "--resolve" => {
            o.resolve.push(resolve(val(it, "--resolve")?)?);
            egress_option.get_or_insert("--resolve");
        }
        "--max-connections" => {
            let v = val(it, "--max-connections")?;
            let n = v
                .to_str()
                .and_then(|t| t.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .ok_or(ArgError::BadValue {
                    option: "--max-connections",
                    value: v,
                    expected: "a positive number",
                })?;
            o.max_connections = Some(n);
            egress_option.get_or_insert("--max-connections");
        }
        "--publish" => o.publish.push(publish(val(it, "--publish")?)?),
        "--inherit-env" => o.inherit_env = true,
        "--json" => set_json(o, JsonTo::Stderr, "--json", json_option)?,
        "--json-fd" => {
            let v = val(it, "--json-fd")?;
            let fd = v
                .to_str()
                .and_then(|t| t.parse::<i32>().ok())
                .filter(|n| *n >= 0)
                .ok_or(ArgError::BadValue {
                    option: "--json-fd",
                    value: v,
                    expected: "a file descriptor number (0 or more)",
                })?;
            set_json(o, JsonTo::Fd(fd), "--json-fd", json_option)?;
        }
        "--json-file" => {
            let path = PathBuf::from(val(it, "--json-file")?);
            set_json(o, JsonTo::File(path), "--json-file", json_option)?;
        }
        "--denials" => o.denials = true,
        "--no-observe-denials" => o.no_observe_denials = true,
        "--observe-writes" => o.observe_writes = true,
        "--pty" => o.pty = true,
        "--hostname" => o.hostname = Some(val(it, "--hostname")?),
        "--as-pid-1" => o.as_pid_1 = true,
        "--stop-signal" => {
            o.stop_signal = Some(signal("--stop-signal", val(it, "--stop-signal")?)?);
        }
        "--chdir" => o.chdir = Some(val(it, "--chdir")?.into()),
        "--uid" => o.uid = Some(num(val(it, "--uid")?, "--uid", "a number")?),
        "--gid" => o.gid = Some(num(val(it, "--gid")?, "--gid", "a number")?),
        "--subids" => o.subids = true,
        "--uid-range" => o
            .uid_ranges
            .push(id_range(val(it, "--uid-range")?, "--uid-range")?),
        "--gid-range" => o
            .gid_ranges
            .push(id_range(val(it, "--gid-range")?, "--gid-range")?),
        "--setenv" => {
            let k = val(it, "--setenv")?;
            let v = val(it, "--setenv")?;
            o.setenv.push((k, v));
        }
        "--unsetenv" => o.unsetenv.push(val(it, "--unsetenv")?),
        "--timeout" => {
            o.timeout = Some(duration("--timeout", val(it, "--timeout")?)?);
        }
        "--cpu-time" => {
            o.cpu_time = Some(duration("--cpu-time", val(it, "--cpu-time")?)?);
        }
        "--rlimit" => {
            let v = val(it, "--rlimit")?;
            let parsed = v.to_str().and_then(|t| {
                let (name, value) = t.split_once('=')?;
                Some((name.parse::<Rlimit>().ok()?, units::parse_size(value).ok()?))
            });
            o.rlimits.push(parsed.ok_or(ArgError::BadValue {
                option: "--rlimit",
                value: v,
                expected: "NAME=VALUE with a prlimit name (nofile, fsize, ...) and a number, \
                           a size like 1M or \"unlimited\"",
            })?);
        }
        "--memory" => o.memory = Some(size("--memory", val(it, "--memory")?)?),
        "--swap" => o.swap = Some(size("--swap", val(it, "--swap")?)?),
        "--pids" => o.pids = Some(num(val(it, "--pids")?, "--pids", "a number")?),
        "--cpus" => {
            let v = val(it, "--cpus")?;
            let cpus = v
                .to_str()
                .and_then(|t| t.trim().parse::<f64>().ok())
                .filter(|c| c.is_finite() && *c > 0.0)
                .ok_or(ArgError::BadValue {
                    option: "--cpus",
                    value: v,
                    expected: "a positive number of CPUs, e.g. 0.5",
                })?;
            o.cpus = Some(cpus);
        }
        "--cgroup-parent" => o.cgroup_parent = Some(val(it, "--cgroup-parent")?.into()),
        "--limits-best-effort" => o.limits_best_effort = true,
        "--isolation" => {
            let v = val(it, "--isolation")?;
            o.best_available = match v.to_str() {
                Some("strict") => false,
                Some("best-available") => true,
                _ => {
                    return Err(ArgError::BadValue {
                        option: "--isolation",
                        value: v,
                        expected: "\"strict\" or \"best-available\"",
                    });
                }
            };
        }
        "--expose-host-secrets" => o.expose_host_secrets = true,
        "--no-home" => o.no_home = true,
        "--sys" => o.sys = true,
        "--system" => o.system = true,
        "--rootfs" => o.rootfs = Some(val(it, "--rootfs")?.into()),
        "--image" => {
            let v = val(it, "--image")?;
            o.image = Some(v.into_string().map_err(|value| ArgError::BadValue {
                option: "--image",
                value,
                expected: "an image reference (NAME[:TAG] or a digest)",
            })?);
        }
        "--entrypoint" => o.entrypoint = Some(val(it, "--entrypoint")?),
        "--bundle" => o.bundle = Some(val(it, "--bundle")?.into()),
        "--writable-root" => o.writable_root = true,
        "--keep-changes" => o.keep_changes = Some(val(it, "--keep-changes")?.into()),
        "--landlock-ro" => o.landlock_ro.push(val(it, "--landlock-ro")?.into()),
        "--landlock-rw" => o.landlock_rw.push(val(it, "--landlock-rw")?.into()),
        "--landlock-connect" => o.landlock_connect.push(num(
            val(it, "--landlock-connect")?,
            "--landlock-connect",
            "a TCP port number (0-65535)",
        )?),
        "--landlock-best-effort" => o.landlock_best_effort = true,
        "--seccomp" => {
            let v = val(it, "--seccomp")?;
            o.seccomp = Some(match v.to_str() {
                Some("default") => SeccompMode::Default,
                Some("none") => SeccompMode::None,
                _ => {
                    return Err(ArgError::BadValue {
                        option: "--seccomp",
                        value: v,
                        expected: "\"default\" or \"none\"",
                    });
                }
            });
        }
        "--ro-bind" | "--ro-bind-try" | "--bind" | "--bind-try" | "--dev-bind" => {
            let src = val(it, option)?;
            let dest = val(it, option)?;
            o.fs_ops.push(fs::Op::Bind {
                src: src.into(),
                dest: dest.into(),
                read_only: s.starts_with("--ro"),
                optional: s.ends_with("-try"),
                devices: s == "--dev-bind",
                no_exec: false,
            });
        }
        "--tmpfs" => {
            let v = val(it, "--tmpfs")?;
            let bytes = v.as_bytes();
            let (dest, size) = match bytes.iter().rposition(|b| *b == b':') {
                Some(i) => {
                    let size = size("--tmpfs", OsString::from_vec(bytes[i + 1..].to_vec()))?;
                    (OsString::from_vec(bytes[..i].to_vec()), Some(size))
                }
                None => (v.clone(), None),
            };
            o.fs_ops.push(fs::Op::Tmpfs {
                dest: dest.into(),
                options: fs::TmpfsOptions { size, mode: None },
            });
        }
        "--overlay" => {
            let lower = val(it, "--overlay")?;
            let dest = val(it, "--overlay")?;
            if std::path::Path::new(&dest)
                .components()
                .all(|c| c == std::path::Component::RootDir)
            {
                // The whole root: a writable root over LOWER.
                o.rootfs = Some(lower.into());
                o.writable_root = true;
            } else {
                o.fs_ops.push(fs::Op::Overlay {
                    lower: lower.into(),
                    dest: dest.into(),
                    upper: fs::Upper::Temporary,
                });
            }
        }
        "--dir" => o.fs_ops.push(fs::Op::Dir {
            dest: val(it, "--dir")?.into(),
            mode: None,
        }),
        "--symlink" => {
            let target = val(it, "--symlink")?;
            let dest = val(it, "--symlink")?;
            o.fs_ops.push(fs::Op::Symlink {
                target: target.into(),
                dest: dest.into(),
            });
        }
        "--file" => {
            let dest = val(it, "--file")?;
            let text = val(it, "--file")?;
            o.fs_ops.push(fs::Op::File {
                dest: dest.into(),
                contents: text.into_encoded_bytes(),
                mode: None,
            });
        }
        "--mask" => o.fs_ops.push(fs::Op::Mask {
            dest: val(it, "--mask")?.into(),
        }),
        // Every option of the table has its arm above.
        _ => return Err(ArgError::Unknown { option: s.into() }),
    }
    Ok(())
}

/// The one-shot form's options, checked.
fn one_shot(o: Options) -> Result<Invocation, ArgError> {
    if o.version {
        return Ok(Invocation::Version);
    }
    if o.stop_signal.is_some() && !o.help {
        return Err(ArgError::OnlyForStart {
            option: "--stop-signal",
        });
    }
    if o.system && !o.help {
        return Err(ArgError::OnlyForStart { option: "--system" });
    }
    Ok(if o.help {
        Invocation::Help
    } else {
        Invocation::Run(o)
    })
}

/// `stockade image ...`: `args` are the arguments after `image`.
fn image_command(args: &[OsString]) -> Result<Invocation, ArgError> {
    let text = |a: &OsStr, what: &'static str| {
        a.to_os_string()
            .into_string()
            .map_err(|value| ArgError::BadValue {
                option: what,
                value,
                expected: "UTF-8 text",
            })
    };
    let Some(verb) = args.first() else {
        return Err(ArgError::NoName { command: "image" });
    };
    let missing = match verb.to_str() {
        Some("import") => "image import",
        Some("rm") => "image rm",
        Some("list" | "ls" | "gc" | "-h" | "--help") => "image",
        _ => {
            return Err(ArgError::BadValue {
                option: "image",
                value: verb.clone(),
                expected: "import, list, rm or gc",
            });
        }
    };
    let m = match matches(image_command_line(), args) {
        Ok(Parsed::Matches(m)) => m,
        Ok(Parsed::Help) => return Ok(Invocation::Help),
        Ok(Parsed::Version) => return Ok(Invocation::Version),
        Err(e) => return Err(clap_error(&e, args, missing)),
    };
    let cmd = match m.subcommand() {
        Some(("import", m)) => ImageCommand::Import {
            path: m
                .get_raw("path")
                .into_iter()
                .flatten()
                .next()
                .map(PathBuf::from)
                .ok_or(ArgError::MissingValue {
                    option: "image import",
                })?,
            name: match m.get_raw("name").into_iter().flatten().last() {
                Some(n) => Some(text(n, "--name")?),
                None => None,
            },
        },
        Some(("list", m)) => ImageCommand::List {
            json: m.get_count("json") > 0,
        },
        Some(("rm", m)) => ImageCommand::Remove {
            references: m
                .get_raw("references")
                .into_iter()
                .flatten()
                .map(|r| text(r, "image rm"))
                .collect::<Result<_, _>>()?,
        },
        _ => ImageCommand::Gc,
    };
    Ok(Invocation::Image(cmd))
}

/// The most bytes a container name may have.
pub const MAX_NAME: usize = 64;

/// What the command line asks for: a one-shot run (the bare form) or one of
/// the container subcommands, recognised only as the first argument.
#[derive(Debug, PartialEq)]
pub enum Invocation {
    /// `-h` or `--help` anywhere before the program.
    Help,
    /// `-V` or `--version` anywhere before the program (of the one-shot
    /// form, or as a subcommand's first argument).
    Version,
    /// `stockade [OPTIONS] [--] PROGRAM [ARGS...]`.
    Run(Options),
    /// `stockade start NAME [OPTIONS] [-- INIT...]`.
    Start(Start),
    /// `stockade exec NAME [OPTIONS] [--] PROGRAM [ARGS...]`.
    Exec(Exec),
    /// `stockade stop NAME [--timeout DURATION]`.
    Stop { name: String, grace: Duration },
    /// `stockade kill NAME`.
    Kill { name: String },
    /// `stockade list [--json]`.
    List { json: bool },
    /// `stockade diff NAME [--json]`.
    Diff { name: String, json: bool },
    /// `stockade commit NAME`.
    Commit { name: String },
    /// `stockade reset NAME`.
    Reset { name: String },
    /// `stockade image import|list|rm|gc`.
    Image(ImageCommand),
    /// `stockade completions SHELL`: the shell's completion script.
    Completions(Shell),
    /// The detached process that owns a started container (not for users:
    /// `start` runs it with the same arguments).
    Monitor(Start),
}

/// What `stockade image` does with the image store.
#[derive(Debug, PartialEq)]
pub enum ImageCommand {
    /// `import PATH [--name NAME[:TAG]]`: an OCI image layout directory, or
    /// a `docker save`/`podman save` archive.
    Import { path: PathBuf, name: Option<String> },
    /// `list [--json]`.
    List { json: bool },
    /// `rm REF...`.
    Remove { references: Vec<String> },
    /// `gc`: delete the layers no image uses.
    Gc,
}

/// `stockade start`: the container's name, its policy (the one-shot
/// options), and the arguments as given, for the record.
#[derive(Debug, PartialEq)]
pub struct Start {
    pub name: String,
    /// The one-shot options; `program` is empty when no INIT was given.
    /// `--chdir`, `--setenv` and `--unsetenv` are the defaults of every
    /// program run in the container; `--json` prints the container's
    /// report when it is ready.
    pub options: Options,
    /// The arguments after NAME, as typed.
    pub raw: Vec<OsString>,
    /// Of those, the options (without INIT).
    pub policy: Vec<OsString>,
}

/// `stockade exec`: which container, and what to run there.
#[derive(Debug, Default, PartialEq)]
pub struct Exec {
    pub name: String,
    /// Pass every signal on and let the program alone decide how it ends
    /// (the OCI runtime's waiter), instead of ending after a grace period
    /// as an interactive exec does. Not a command-line option.
    pub relay_only: bool,
    /// A program killed by a signal ends this process by the same signal
    /// (the OCI runtime's waiter, whose end an engine reads as the
    /// program's), instead of an exit status of 128+N. Not a command-line
    /// option.
    pub dies_as_program: bool,
    /// `--pty`/`-t`.
    pub pty: bool,
    /// This process's standard input is a terminal made for the program
    /// (the OCI runtime's `process.terminal`, whose master went to the
    /// engine): it becomes the program's three standard streams and its
    /// controlling terminal, and this process lets go of it once sent.
    /// Not a command-line option.
    pub terminal_stdin: bool,
    /// Once the program has been executed, `running` is written to this
    /// file (through a rename): the OCI runtime's record of the state, which
    /// says `running` only from then on. Not a command-line option.
    pub started_file: Option<PathBuf>,
    pub chdir: Option<PathBuf>,
    /// `--user UID[:GID]`: ids inside the container (no GID: the
    /// container's).
    pub user: Option<(u32, Option<u32>)>,
    pub setenv: Vec<(OsString, OsString)>,
    pub unsetenv: Vec<OsString>,
    pub program: OsString,
    pub args: Vec<OsString>,
}

/// The default grace period of `stockade stop`.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Why a container name is refused, or `None` when it is a good one: 1 to
/// [`MAX_NAME`] bytes of ASCII letters, digits, `_`, `.` and `-`, starting
/// with a letter or a digit, without `..`.
pub fn bad_name(name: &std::ffi::OsStr) -> Option<&'static str> {
    let b = name.as_bytes();
    if b.is_empty() {
        Some("it is empty")
    } else if b.len() > MAX_NAME {
        Some("it is longer than 64 bytes")
    } else if b.contains(&b'/') {
        Some("it contains '/'")
    } else if b.windows(2).any(|w| w == b"..") {
        Some("it contains '..'")
    } else if b.iter().any(|c| c.is_ascii_control()) {
        Some("it contains a control character")
    } else if !b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
    {
        Some("only ASCII letters, digits, '_', '.' and '-' are allowed")
    } else if !b[0].is_ascii_alphanumeric() {
        Some("it must start with a letter or a digit")
    } else {
        None
    }
}

/// The container name, first of `args`, for `command`: checked before
/// clap sees the rest, so that a first argument that is not a good name
/// (an option, say) is refused as the name it stands for.
fn name(args: &[OsString], command: &'static str) -> Result<String, ArgError> {
    let n = args.first().ok_or(ArgError::NoName { command })?;
    match bad_name(n) {
        Some(reason) => Err(ArgError::BadName {
            name: n.clone(),
            reason,
        }),
        // Only ASCII passes.
        None => Ok(n.to_string_lossy().into_owned()),
    }
}

/// The container subcommands (and `image`, `completions`), recognised
/// only as the first argument.
const SUBCOMMANDS: &[&str] = &[
    "start",
    "exec",
    "stop",
    "kill",
    "list",
    "diff",
    "commit",
    "reset",
    "image",
    "completions",
    "__monitor",
];

/// The matches of `cmd` over `args` (`sub`'s arguments), or what they ask
/// for instead: help, the version, or a usage error.
fn sub_matches(
    cmd: Command,
    args: &[OsString],
) -> Result<Result<ArgMatches, Invocation>, ArgError> {
    match matches(cmd, args) {
        Ok(Parsed::Matches(m)) => Ok(Ok(m)),
        Ok(Parsed::Help) => Ok(Err(Invocation::Help)),
        Ok(Parsed::Version) => Ok(Err(Invocation::Version)),
        Err(e) => Err(clap_error(&e, args, "NAME")),
    }
}

/// Whether the flag `id` was given.
fn flag(m: &ArgMatches, id: &str) -> bool {
    m.get_count(id) > 0
}

/// The values of `id`, in the order given.
fn raw(m: &ArgMatches, id: &str) -> Vec<OsString> {
    m.get_raw(id)
        .into_iter()
        .flatten()
        .map(OsStr::to_os_string)
        .collect()
}

/// Parses the arguments after the program name: a subcommand when the
/// first one names one, the one-shot form otherwise (a program named like a
/// subcommand runs after `--`, or after any option).
pub fn parse_command_line<I: IntoIterator<Item = OsString>>(
    args: I,
) -> Result<Invocation, ArgError> {
    let args: Vec<OsString> = args.into_iter().collect();
    let first = args.first().and_then(|a| a.to_str());
    // `stockade run ...` is the one-shot form, as `stockade ...` is.
    if first == Some("run") {
        if args.len() == 1 {
            return Err(ArgError::NoProgram);
        }
        return one_shot(parse_options(one_shot_command("run"), &args[1..], true)?);
    }
    let Some(sub) = first.and_then(|f| SUBCOMMANDS.iter().copied().find(|s| *s == f)) else {
        return one_shot(parse_options(one_shot_command("stockade"), &args, true)?);
    };
    let args = &args[1..];
    match args.first().and_then(|a| a.to_str()) {
        Some("-h" | "--help") => return Ok(Invocation::Help),
        Some("-V" | "--version") => return Ok(Invocation::Version),
        _ => {}
    }
    match sub {
        "image" => return image_command(args),
        "list" => {
            return Ok(
                match sub_matches(subcommand(sub).unwrap_or_else(|| bare(sub)), args)? {
                    Ok(m) => Invocation::List {
                        json: flag(&m, "json"),
                    },
                    Err(i) => i,
                },
            );
        }
        "completions" => {
            return match matches(completions_command(), args) {
                Ok(Parsed::Matches(m)) => match m.get_one::<Shell>("shell") {
                    Some(shell) => Ok(Invocation::Completions(*shell)),
                    None => Err(ArgError::Invalid {
                        message: "completions needs a shell: bash, zsh, fish, elvish or powershell"
                            .to_owned(),
                    }),
                },
                Ok(Parsed::Help) => Ok(Invocation::Help),
                Ok(Parsed::Version) => Ok(Invocation::Version),
                Err(e) if e.kind() == ErrorKind::InvalidValue => Err(ArgError::BadValue {
                    option: "completions",
                    value: args[0].clone(),
                    expected: "bash, zsh, fish, elvish or powershell",
                }),
                Err(e) if e.kind() == ErrorKind::MissingRequiredArgument => {
                    Err(ArgError::Invalid {
                        message: "completions needs a shell: bash, zsh, fish, elvish or powershell"
                            .to_owned(),
                    })
                }
                Err(e) => Err(clap_error(&e, args, "completions")),
            };
        }
        _ => {}
    }
    let command = if sub == "__monitor" { "start" } else { sub };
    let name = name(args, command)?;
    match sub {
        "start" | "__monitor" => {
            let options = parse_options(start_command(), args, false)?;
            if options.help {
                return Ok(Invocation::Help);
            }
            let raw: Vec<OsString> = args[1..].to_vec();
            // The options as typed: what came before INIT and its `--`.
            let init = if options.program.is_empty() {
                0
            } else {
                1 + options.args.len()
            };
            let mut policy = raw[..raw.len() - init].to_vec();
            if policy.last().is_some_and(|a| a == "--") {
                policy.pop();
            }
            if options.pty {
                return Err(ArgError::NotForContainers {
                    option: "--pty",
                    why: "a container's programs get terminals with `stockade exec --pty`",
                });
            }
            if options.denials {
                return Err(ArgError::NotForContainers {
                    option: "--denials",
                    why: "it reports when the program ends, and a container runs until stopped",
                });
            }
            if options.as_pid_1 {
                // INIT, when given, is pid 1 anyway; without it the
                // container's init is stockade's.
                return Err(ArgError::NotForContainers {
                    option: "--as-pid-1",
                    why: "INIT, given after `--`, is always the container's pid 1",
                });
            }
            let s = Start {
                name,
                options,
                raw,
                policy,
            };
            Ok(if sub == "start" {
                Invocation::Start(s)
            } else {
                Invocation::Monitor(s)
            })
        }
        "exec" => {
            let m = match sub_matches(exec_command(), args)? {
                Ok(m) => m,
                Err(i) => return Ok(i),
            };
            let mut program = raw(&m, "program").into_iter();
            let setenv = m
                .get_raw_occurrences("setenv")
                .into_iter()
                .flatten()
                .filter_map(|mut kv| Some((kv.next()?.to_os_string(), kv.next()?.to_os_string())))
                .collect();
            let e = Exec {
                name,
                relay_only: false,
                dies_as_program: false,
                pty: flag(&m, "pty"),
                chdir: raw(&m, "chdir").pop().map(PathBuf::from),
                // The last one counts; each is checked.
                user: raw(&m, "user")
                    .into_iter()
                    .map(user)
                    .collect::<Result<Vec<_>, _>>()?
                    .pop(),
                setenv,
                unsetenv: raw(&m, "unsetenv"),
                program: program.next().ok_or(ArgError::NoProgram)?,
                args: program.collect(),
                terminal_stdin: false,
                started_file: None,
            };
            Ok(Invocation::Exec(e))
        }
        "stop" => {
            let m = match sub_matches(subcommand(sub).unwrap_or_else(|| bare(sub)), args)? {
                Ok(m) => m,
                Err(i) => return Ok(i),
            };
            // The last one counts; each is checked.
            let mut grace = STOP_GRACE;
            for v in raw(&m, "timeout") {
                // Zero is allowed here: no grace at all.
                grace = if v == "0" {
                    Duration::ZERO
                } else {
                    duration("--timeout", v)?
                };
            }
            Ok(Invocation::Stop { name, grace })
        }
        _ => {
            let m = match sub_matches(subcommand(sub).unwrap_or_else(|| bare(sub)), args)? {
                Ok(m) => m,
                Err(i) => return Ok(i),
            };
            Ok(match sub {
                "diff" => Invocation::Diff {
                    name,
                    json: flag(&m, "json"),
                },
                "commit" => Invocation::Commit { name },
                "reset" => Invocation::Reset { name },
                _ => Invocation::Kill { name },
            })
        }
    }
}

/// Refuses `--pty` when standard input is not a terminal (`stdin_is_tty`).
pub fn check_terminal(inv: &Invocation, stdin_is_tty: bool) -> Result<(), ArgError> {
    let pty = match inv {
        Invocation::Run(o) => o.pty,
        Invocation::Exec(e) => e.pty,
        _ => false,
    };
    if pty && !stdin_is_tty {
        return Err(ArgError::NotATerminal { option: "--pty" });
    }
    Ok(())
}

/// An argument a subcommand does not take.
fn unexpected(a: OsString) -> ArgError {
    if a.as_bytes().starts_with(b"-") {
        ArgError::Unknown { option: a }
    } else {
        ArgError::Unexpected { argument: a }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, ArgError> {
        parse(args.iter().map(OsString::from))
    }

    fn inv(args: &[&str]) -> Result<Invocation, ArgError> {
        parse_command_line(args.iter().map(OsString::from))
    }

    #[test]
    fn system_and_stop_signal_are_for_start_only() {
        for opt in ["--system", "--stop-signal=TERM"] {
            let (name, value) = opt.split_once('=').unwrap_or((opt, ""));
            let mut line = vec![name];
            if !value.is_empty() {
                line.push(value);
            }
            line.extend(["--", "true"]);
            match inv(&line) {
                Err(e @ ArgError::OnlyForStart { option }) => {
                    assert_eq!(option, name);
                    assert!(e.to_string().contains(name), "{e}");
                }
                other => panic!("{line:?}: {other:?}"),
            }
        }
        match inv(&["start", "deb", "--system", "--", "/sbin/init"]) {
            Ok(Invocation::Start(s)) => {
                assert!(s.options.system);
                assert_eq!(s.options.program, "/sbin/init");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pty_needs_a_terminal_on_stdin() {
        for line in [
            &["-t", "bash"][..],
            &["--pty", "bash"],
            &["exec", "web", "-t", "bash"],
        ] {
            let i = inv(line).unwrap();
            assert!(check_terminal(&i, true).is_ok());
            let e = check_terminal(&i, false).unwrap_err();
            assert_eq!(e, ArgError::NotATerminal { option: "--pty" });
            assert!(e.to_string().contains("--pty"), "{e}");
        }
        assert!(check_terminal(&inv(&["bash"]).unwrap(), false).is_ok());
        assert!(matches!(
            inv(&["start", "web", "--pty"]),
            Err(ArgError::NotForContainers {
                option: "--pty",
                ..
            })
        ));
    }

    #[test]
    fn subcommands_only_as_the_first_argument() {
        match inv(&[
            "start",
            "web",
            "--share-net",
            "--setenv",
            "A",
            "b",
            "--",
            "sh",
            "-c",
            "x",
        ]) {
            Ok(Invocation::Start(s)) => {
                assert_eq!(s.name, "web");
                assert_eq!(s.options.net, Some(NetMode::Host));
                assert_eq!(s.options.program, "sh");
                assert_eq!(s.options.args, ["-c", "x"]);
                assert_eq!(s.policy, ["--share-net", "--setenv", "A", "b"]);
                assert_eq!(s.raw.len(), 8);
            }
            other => panic!("{other:?}"),
        }
        match inv(&["start", "web", "--json"]) {
            Ok(Invocation::Start(s)) => {
                assert!(s.options.program.is_empty());
                assert_eq!(s.policy, ["--json"]);
            }
            other => panic!("{other:?}"),
        }
        match inv(&["start", "web", "--"]) {
            Ok(Invocation::Start(s)) => {
                assert!(s.policy.is_empty() && s.options.program.is_empty())
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            inv(&[
                "exec",
                "web",
                "--chdir",
                "/t",
                "--setenv",
                "K",
                "V",
                "--unsetenv",
                "U",
                "ls",
                "-l"
            ]),
            Ok(Invocation::Exec(Exec {
                name: "web".into(),
                relay_only: false,
                dies_as_program: false,
                pty: false,
                terminal_stdin: false,
                started_file: None,
                chdir: Some("/t".into()),
                user: None,
                setenv: vec![("K".into(), "V".into())],
                unsetenv: vec!["U".into()],
                program: "ls".into(),
                args: vec!["-l".into()],
            }))
        );
        for (typed, want) in [("1000", (1000, None)), ("0:42", (0, Some(42)))] {
            match inv(&["exec", "web", "--user", "7", "--user", typed, "id"]) {
                Ok(Invocation::Exec(e)) => assert_eq!(e.user, Some(want)),
                other => panic!("{other:?}"),
            }
        }
        for bad in ["root", "1:", ":1", "-1", "4294967295", "1:2:3", ""] {
            assert_eq!(
                inv(&["exec", "web", "--user", bad, "id"]),
                Err(ArgError::BadValue {
                    option: "--user",
                    value: bad.into(),
                    expected: "UID or UID:GID, as numbers (user names are not looked up)",
                }),
                "{bad}"
            );
        }
        assert_eq!(
            inv(&["exec", "web", "id", "--user"]).map(|i| match i {
                Invocation::Exec(e) => e.user,
                _ => None,
            }),
            Ok(None)
        );
        assert_eq!(
            inv(&["exec", "web", "--user"]),
            Err(ArgError::MissingValue { option: "--user" })
        );
        match inv(&["exec", "web", "--", "--chdir"]) {
            Ok(Invocation::Exec(e)) => assert_eq!(e.program, "--chdir"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            inv(&["stop", "web"]),
            Ok(Invocation::Stop {
                name: "web".into(),
                grace: STOP_GRACE
            })
        );
        assert_eq!(
            inv(&["stop", "web", "--timeout", "0"]),
            Ok(Invocation::Stop {
                name: "web".into(),
                grace: Duration::ZERO
            })
        );
        assert_eq!(
            inv(&["stop", "web", "--timeout", "1.5"]),
            Ok(Invocation::Stop {
                name: "web".into(),
                grace: Duration::from_millis(1500)
            })
        );
        assert_eq!(
            inv(&["kill", "web"]),
            Ok(Invocation::Kill { name: "web".into() })
        );
        assert_eq!(inv(&["list"]), Ok(Invocation::List { json: false }));
        assert_eq!(
            inv(&["list", "--json"]),
            Ok(Invocation::List { json: true })
        );
        assert_eq!(inv(&["exec", "--help"]), Ok(Invocation::Help));
        assert_eq!(inv(&["--help"]), Ok(Invocation::Help));
        // Anywhere else they are programs, or arguments.
        for args in [
            &["--", "start", "x"][..],
            &["--share-net", "list"],
            &["sh", "exec"],
        ] {
            assert!(matches!(inv(args), Ok(Invocation::Run(_))), "{args:?}");
        }
        assert_eq!(inv(&["exec"]), Err(ArgError::NoName { command: "exec" }));
        assert_eq!(inv(&["exec", "web"]), Err(ArgError::NoProgram));
        assert_eq!(
            inv(&["kill", "web", "now"]),
            Err(ArgError::Unexpected {
                argument: "now".into()
            })
        );
        assert_eq!(
            inv(&["list", "--all"]),
            Err(ArgError::Unknown {
                option: "--all".into()
            })
        );
        assert!(matches!(
            inv(&["start", "web", "--memory", "lots"]),
            Err(ArgError::BadSize {
                option: "--memory",
                ..
            })
        ));
    }

    #[test]
    fn container_names() {
        for good in ["a", "web-1", "A.b_c", "0", &"x".repeat(64)] {
            assert_eq!(bad_name(good.as_ref()), None, "{good}");
        }
        for (bad, reason) in [
            ("", "empty"),
            ("a/b", "'/'"),
            ("..", "'..'"),
            ("a..b", "'..'"),
            ("a\tb", "control"),
            ("a\u{7f}", "control"),
            (&"x".repeat(65), "64 bytes"),
            (".a", "start with"),
            ("-a", "start with"),
            ("a b", "only ASCII"),
            ("é", "only ASCII"),
        ] {
            assert!(
                bad_name(bad.as_ref()).is_some_and(|r| r.contains(reason)),
                "{bad:?}: {:?}",
                bad_name(bad.as_ref())
            );
        }
        assert_eq!(
            bad_name(std::ffi::OsStr::from_bytes(b"a\xff")),
            Some("only ASCII letters, digits, '_', '.' and '-' are allowed")
        );
        let e = inv(&["start", "a/b"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid container name \"a/b\": it contains '/'"
        );
    }

    #[test]
    fn program_and_arguments() {
        let o = p(&["--share-net", "--", "sh", "-c", "echo hi"]).unwrap();
        assert_eq!(o.net, Some(NetMode::Host));
        assert_eq!(
            p(&["--net-filter", "true"]).unwrap().net,
            Some(NetMode::Blocked)
        );
        assert_eq!(o.program, "sh");
        assert_eq!(o.args, ["-c", "echo hi"]);
        let o = p(&["ls", "--share-net"]).unwrap();
        assert_eq!(o.program, "ls");
        assert_eq!(o.args, ["--share-net"]);
    }

    #[test]
    fn net_modes_and_aliases() {
        let o = p(&["sh"]).unwrap();
        assert_eq!(o.net, None);
        for (args, mode) in [
            (&["--net", "none"][..], NetMode::Isolated),
            (&["--net", "host"], NetMode::Host),
            (&["--net", "filter"], NetMode::Filter),
            (&["--net", "blocked"], NetMode::Blocked),
            (&["--share-net"], NetMode::Host),
            (&["--net-filter"], NetMode::Blocked),
            // The same network twice, in any spelling, is no conflict.
            (&["--share-net", "--net", "host"], NetMode::Host),
            (&["--net", "blocked", "--net-filter"], NetMode::Blocked),
            (&["--net", "none", "--net", "none"], NetMode::Isolated),
        ] {
            let mut a = args.to_vec();
            a.push("sh");
            let o = p(&a).unwrap();
            assert_eq!(o.net, Some(mode), "{args:?}");
            assert_eq!(o.program, "sh");
        }
        assert_eq!(
            p(&["--net", "host", "sh"]).unwrap().net_option,
            "--net host"
        );
        assert_eq!(p(&["--share-net", "sh"]).unwrap().net_option, "--share-net");
        // After the program, it is the program's.
        let o = p(&["sh", "--net", "host"]).unwrap();
        assert_eq!((o.net, o.args.len()), (None, 2));
        assert_eq!(
            p(&["--net"]),
            Err(ArgError::MissingValue { option: "--net" })
        );
        for bad in ["", "isolated", "Host", "filtered", "off"] {
            let e = p(&["--net", bad, "sh"]).unwrap_err();
            assert_eq!(
                e,
                ArgError::BadValue {
                    option: "--net",
                    value: bad.into(),
                    expected: "\"none\", \"host\", \"filter\" or \"blocked\"",
                },
                "{bad}"
            );
            let m = e.to_string();
            assert!(m.contains("--net") && m.contains("\"blocked\""), "{m}");
        }
    }

    #[test]
    fn conflicting_networks_name_both_options() {
        for (args, first, second) in [
            (
                &["--share-net", "--net", "filter"][..],
                "--share-net",
                "--net filter",
            ),
            (
                &["--net", "host", "--net-filter"],
                "--net host",
                "--net-filter",
            ),
            (
                &["--net", "host", "--net", "none"],
                "--net host",
                "--net none",
            ),
            (
                &["--net", "filter", "--net", "blocked"],
                "--net filter",
                "--net blocked",
            ),
            (
                &["--share-net", "--net-filter"],
                "--share-net",
                "--net-filter",
            ),
            (
                &["--net-filter", "--net", "none"],
                "--net-filter",
                "--net none",
            ),
        ] {
            let mut a = args.to_vec();
            a.push("sh");
            let e = p(&a).unwrap_err();
            assert_eq!(
                e,
                ArgError::Conflict {
                    first,
                    second,
                    why: DIFFERENT_NETWORKS
                },
                "{args:?}"
            );
            let m = e.to_string();
            assert!(m.contains(first) && m.contains(second), "{m}");
            assert_eq!(m.lines().count(), 1, "{m}");
        }
    }

    #[test]
    fn egress_options_imply_and_need_the_filtered_network() {
        let o = p(&[
            "--allow-host",
            "example.test",
            "--allow-host",
            "*.pkg.test:443",
            "--deny-host",
            "bad.pkg.test",
            "--allow-private",
            "10.0.0.0/8",
            "--allow-private",
            "127.0.0.1",
            "--resolve",
            "allowed.test=127.0.0.1",
            "--resolve",
            "six.test=::1",
            "--resolve",
            "br.test=[::1]",
            "--max-connections",
            "8",
            "sh",
        ])
        .unwrap();
        assert_eq!(o.net, Some(NetMode::Filter));
        assert_eq!(o.net_option, "--allow-host");
        assert_eq!(o.allow_hosts, ["example.test", "*.pkg.test:443"]);
        assert_eq!(o.deny_hosts, ["bad.pkg.test"]);
        assert_eq!(o.allow_private, ["10.0.0.0/8", "127.0.0.1"]);
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(
            o.resolve,
            [
                ("allowed.test".to_owned(), IpAddr::V4(Ipv4Addr::LOCALHOST)),
                ("six.test".to_owned(), v6),
                ("br.test".to_owned(), v6),
            ]
        );
        assert_eq!(o.max_connections, Some(8));
        // The last --max-connections wins.
        let o = p(&["--max-connections", "2", "--max-connections", "3", "sh"]).unwrap();
        assert_eq!(o.max_connections, Some(3));
        // Each of them alone implies --net filter, and goes with it.
        for (option, value) in [
            ("--allow-host", "a.test"),
            ("--deny-host", "a.test:80"),
            ("--allow-private", "192.168.0.0/16"),
            ("--resolve", "a.test=127.0.0.2"),
            ("--max-connections", "1"),
        ] {
            let o = p(&[option, value, "sh"]).unwrap();
            assert_eq!(o.net, Some(NetMode::Filter), "{option}");
            // With --net filter, before or after.
            for a in [
                ["--net", "filter", option, value, "sh"],
                [option, value, "--net", "filter", "sh"],
            ] {
                assert_eq!(p(&a).unwrap().net, Some(NetMode::Filter), "{a:?}");
            }
            // With another network, before or after: refused, naming both.
            for (net, named) in [
                (&["--net", "host"][..], "--net host"),
                (&["--net", "none"], "--net none"),
                (&["--net", "blocked"], "--net blocked"),
                (&["--share-net"], "--share-net"),
                (&["--net-filter"], "--net-filter"),
            ] {
                for a in [
                    net.iter()
                        .copied()
                        .chain([option, value, "sh"])
                        .collect::<Vec<_>>(),
                    [option, value]
                        .into_iter()
                        .chain(net.iter().copied())
                        .chain(["sh"])
                        .collect(),
                ] {
                    let e = p(&a).unwrap_err();
                    assert_eq!(
                        e,
                        ArgError::WrongNetwork {
                            option,
                            net: named,
                            needs: "the filtered network (--net filter)"
                        },
                        "{a:?}"
                    );
                    let m = e.to_string();
                    assert!(m.contains(option) && m.contains(named), "{m}");
                }
            }
            assert_eq!(p(&[option]), Err(ArgError::MissingValue { option }));
        }
    }

    #[test]
    fn malformed_egress_values_name_the_option() {
        for (option, bad) in [
            ("--allow-host", ""),
            ("--deny-host", ""),
            ("--allow-private", ""),
            ("--resolve", "allowed.test"),
            ("--resolve", "=127.0.0.1"),
            ("--resolve", "allowed.test="),
            ("--resolve", "allowed.test=localhost"),
            ("--resolve", "allowed.test=1.2.3.999"),
            ("--resolve", "allowed.test=[127.0.0.1]"),
            ("--resolve", "allowed.test=::1]"),
            ("--resolve", "allowed.test=127.0.0.1:80"),
            ("--max-connections", "0"),
            ("--max-connections", "-1"),
            ("--max-connections", "many"),
            ("--max-connections", ""),
        ] {
            let e = p(&[option, bad, "sh"]).unwrap_err();
            match &e {
                ArgError::BadValue {
                    option: o, value, ..
                } => {
                    assert_eq!((*o, value.to_str()), (option, Some(bad)));
                }
                other => panic!("{option} {bad}: {other:?}"),
            }
            let m = e.to_string();
            assert!(m.contains(option) && m.contains(&format!("{bad:?}")), "{m}");
        }
        // Not UTF-8.
        let bad = OsString::from_vec(b"a\xff".to_vec());
        for option in [
            "--allow-host",
            "--deny-host",
            "--allow-private",
            "--resolve",
        ] {
            let e = parse([option.into(), bad.clone(), "sh".into()]).unwrap_err();
            assert!(
                matches!(e, ArgError::BadValue { option: o, .. } if o == option),
                "{option}: {e:?}"
            );
        }
        // The rules themselves are the library's to check, at spawn.
        let o = p(&["--allow-host", "no such:rule", "sh"]).unwrap();
        assert_eq!(o.allow_hosts, ["no such:rule"]);
    }

    #[test]
    fn publish_forms() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let v6: IpAddr = "::1".parse().unwrap();
        for (text, host, sandbox_port) in [
            ("8080:80", SocketAddr::new(lo, 8080), 80),
            ("0:80", SocketAddr::new(lo, 0), 80),
            (
                "127.0.0.2:8080:80",
                SocketAddr::new([127, 0, 0, 2].into(), 8080),
                80,
            ),
            (
                "0.0.0.0:65535:65535",
                SocketAddr::new([0, 0, 0, 0].into(), 65535),
                65535,
            ),
            ("[::1]:8080:80", SocketAddr::new(v6, 8080), 80),
            ("[::]:1:1", SocketAddr::new("::".parse().unwrap(), 1), 1),
        ] {
            let o = p(&["--publish", text, "sh"]).unwrap();
            assert_eq!(o.publish, [(host, sandbox_port)], "{text}");
            // Published ports alone choose no network.
            assert_eq!(o.net, None, "{text}");
        }
        let o = p(&["--publish", "1:2", "--publish", "3:4", "sh"]).unwrap();
        assert_eq!(o.publish.len(), 2);
        for net in [
            &["--net", "none"][..],
            &["--net", "filter"],
            &["--allow-host", "a.test"],
        ] {
            let a: Vec<&str> = net
                .iter()
                .copied()
                .chain(["--publish", "1:2", "sh"])
                .collect();
            assert_eq!(p(&a).unwrap().publish.len(), 1, "{net:?}");
        }
        for (net, named) in [
            (&["--net", "host"][..], "--net host"),
            (&["--net", "blocked"], "--net blocked"),
            (&["--share-net"], "--share-net"),
            (&["--net-filter"], "--net-filter"),
        ] {
            for a in [
                net.iter()
                    .copied()
                    .chain(["--publish", "1:2", "sh"])
                    .collect::<Vec<_>>(),
                ["--publish", "1:2"]
                    .into_iter()
                    .chain(net.iter().copied())
                    .chain(["sh"])
                    .collect(),
            ] {
                let e = p(&a).unwrap_err();
                assert!(
                    matches!(e, ArgError::WrongNetwork { option: "--publish", net: n, .. } if n == named),
                    "{a:?}: {e:?}"
                );
                let m = e.to_string();
                assert!(m.contains("--publish") && m.contains(named), "{m}");
            }
        }
        for bad in [
            "",
            "80",
            "8080:0",
            "8080:",
            ":80",
            "8080:65536",
            "65536:80",
            "99999999999:80",
            "-1:80",
            "+8080:80",
            "8080:+80",
            "8080:80:",
            "localhost:8080:80",
            "1.2.3:8080:80",
            "::1:8080:80",
            "[::1]8080:80",
            "[::1:8080:80",
            "[127.0.0.1]:8080:80",
            "[::1]:80",
            "1:2:3:4",
            "a:b",
            " 8080:80",
        ] {
            let e = p(&["--publish", bad, "sh"]).unwrap_err();
            match &e {
                ArgError::BadValue {
                    option: "--publish",
                    value,
                    ..
                } => {
                    assert_eq!(value.to_str(), Some(bad));
                }
                other => panic!("{bad}: {other:?}"),
            }
            let m = e.to_string();
            assert!(
                m.contains("--publish") && m.contains(&format!("{bad:?}")),
                "{m}"
            );
        }
        assert_eq!(
            p(&["--publish"]),
            Err(ArgError::MissingValue {
                option: "--publish"
            })
        );
    }

    #[test]
    fn containers_take_the_network_options() {
        match inv(&[
            "start",
            "web",
            "--allow-host",
            "a.test",
            "--publish",
            "0:80",
        ]) {
            Ok(Invocation::Start(s)) => {
                assert_eq!(s.options.net, Some(NetMode::Filter));
                assert_eq!(s.options.allow_hosts, ["a.test"]);
                assert_eq!(s.options.publish.len(), 1);
                assert_eq!(s.policy, ["--allow-host", "a.test", "--publish", "0:80"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            inv(&["start", "web", "--share-net", "--net", "filter"]),
            Err(ArgError::Conflict { .. })
        ));
        assert!(matches!(
            inv(&["start", "web", "--net", "blocked", "--publish", "1:2"]),
            Err(ArgError::WrongNetwork {
                option: "--publish",
                ..
            })
        ));
        // Also without INIT: the checks run when the options end.
        assert!(matches!(
            inv(&["start", "web", "--net-filter", "--resolve", "a=127.0.0.1"]),
            Err(ArgError::WrongNetwork {
                option: "--resolve",
                ..
            })
        ));
    }

    #[test]
    fn policy_file_once() {
        let o = p(&["--hostname", "h", "--policy", "p.toml", "sh"]).unwrap();
        assert_eq!(o.policy, Some(PathBuf::from("p.toml")));
        assert_eq!(o.hostname.as_deref(), Some(std::ffi::OsStr::new("h")));
        assert_eq!(
            p(&["--policy", "a", "--policy", "b", "sh"]),
            Err(ArgError::Repeated { option: "--policy" })
        );
        assert_eq!(
            p(&["--policy"]),
            Err(ArgError::MissingValue { option: "--policy" })
        );
    }

    #[test]
    fn errors() {
        assert_eq!(p(&[]), Err(ArgError::NoProgram));
        assert_eq!(
            p(&["--hostname"]),
            Err(ArgError::MissingValue {
                option: "--hostname"
            })
        );
        assert_eq!(
            p(&["--bogus", "x"]),
            Err(ArgError::Unknown {
                option: "--bogus".into()
            })
        );
        assert!(matches!(
            p(&["--uid", "x", "sh"]),
            Err(ArgError::BadValue {
                option: "--uid",
                ..
            })
        ));
        assert_eq!(
            p(&["--timeout", "-1", "sh"]),
            Err(ArgError::BadDuration {
                option: "--timeout",
                value: "-1".into(),
                error: ParseDurationError::InvalidNumber {
                    number: "-1".into()
                },
            })
        );
        for bad in ["files=3", "nofile", "nofile=x", "nofile=-1"] {
            assert!(
                matches!(
                    p(&["--rlimit", bad, "sh"]),
                    Err(ArgError::BadValue {
                        option: "--rlimit",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        let o = p(&[
            "--rlimit",
            "nofile=64",
            "--rlimit",
            "AS=unlimited",
            "--rlimit",
            "fsize=1MiB",
            "sh",
        ])
        .unwrap();
        assert_eq!(
            o.rlimits,
            [
                (Rlimit::Nofile, 64),
                (Rlimit::As, Rlimit::INFINITY),
                (Rlimit::Fsize, 1 << 20)
            ]
        );
        let err = p(&["--tmpfs", "/t:lots", "sh"]).unwrap_err();
        assert_eq!(
            err,
            ArgError::BadSize {
                option: "--tmpfs",
                value: "lots".into(),
                error: ParseSizeError::UnknownSuffix {
                    suffix: "lots".into()
                },
            }
        );
        assert_eq!(
            err.to_string(),
            "invalid size \"lots\" for --tmpfs: unknown size suffix `lots` \
             (expected K, M, G or T, powers of 1024)"
        );
    }

    #[test]
    fn durations_take_the_library_forms() {
        for (text, d) in [
            ("0.3", Duration::from_millis(300)),
            ("2", Duration::from_secs(2)),
            ("300ms", Duration::from_millis(300)),
            ("1.5m", Duration::from_secs(90)),
            ("1h", Duration::from_secs(3600)),
        ] {
            let o = p(&["--timeout", text, "--cpu-time", text, "sh"]).unwrap();
            assert_eq!((o.timeout, o.cpu_time), (Some(d), Some(d)), "{text}");
        }
        for bad in ["0", "1e3", "1d", "", "1000000001"] {
            for option in ["--timeout", "--cpu-time"] {
                match p(&[option, bad, "sh"]) {
                    Err(e @ ArgError::BadDuration { option: o, .. }) => {
                        assert_eq!(o, option, "{bad}");
                        assert!(e.to_string().contains(option), "{e}");
                    }
                    other => panic!("{option} {bad}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn cgroup_limits() {
        let o = p(&[
            "--memory",
            "64M",
            "--swap",
            "0",
            "--pids",
            "32",
            "--cpus",
            "0.5",
            "--cgroup-parent",
            "/sys/fs/cgroup/mine",
            "--limits-best-effort",
            "sh",
        ])
        .unwrap();
        assert_eq!(o.memory, Some(64 << 20));
        assert_eq!(o.swap, Some(0));
        assert_eq!(o.pids, Some(32));
        assert_eq!(o.cpus, Some(0.5));
        assert_eq!(o.cgroup_parent, Some(PathBuf::from("/sys/fs/cgroup/mine")));
        assert!(o.limits_best_effort);
        assert!(
            p(&["--expose-host-secrets", "sh"])
                .unwrap()
                .expose_host_secrets
        );
        let o = p(&["sh"]).unwrap();
        assert!(!o.expose_host_secrets);
        assert_eq!((o.memory, o.pids, o.cpus), (None, None, None));
        let o = p(&["--memory", "1GiB", "--swap", "unlimited", "sh"]).unwrap();
        assert_eq!((o.memory, o.swap), (Some(1 << 30), Some(u64::MAX)));
        for (option, bad) in [
            ("--memory", "lots"),
            ("--memory", "-1"),
            ("--memory", "1.5G"),
            ("--memory", "64MB"),
            ("--swap", "1X"),
            ("--swap", "99999999999T"),
        ] {
            match p(&[option, bad, "sh"]) {
                Err(e @ ArgError::BadSize { option: o, .. }) => {
                    assert_eq!(o, option, "{bad}");
                    assert!(e.to_string().contains(option), "{e}");
                }
                other => panic!("{option} {bad}: {other:?}"),
            }
        }
        for (option, bad) in [
            ("--pids", "many"),
            ("--pids", "-3"),
            ("--cpus", "0"),
            ("--cpus", "-0.5"),
            ("--cpus", "NaN"),
            ("--cpus", "inf"),
        ] {
            match p(&[option, bad, "sh"]) {
                Err(ArgError::BadValue { option: o, .. }) => assert_eq!(o, option, "{bad}"),
                other => panic!("{option} {bad}: {other:?}"),
            }
        }
        assert_eq!(
            p(&["--cpus"]),
            Err(ArgError::MissingValue { option: "--cpus" })
        );
    }

    #[test]
    fn landlock_options_repeat_and_keep_their_paths() {
        let o = p(&[
            "--landlock-ro",
            "/usr",
            "--landlock-rw",
            "/work",
            "--landlock-ro",
            "/etc",
            "--landlock-connect",
            "443",
            "--landlock-connect",
            "80",
            "sh",
        ])
        .unwrap();
        assert_eq!(
            o.landlock_ro,
            [PathBuf::from("/usr"), PathBuf::from("/etc")]
        );
        assert_eq!(o.landlock_rw, [PathBuf::from("/work")]);
        assert_eq!(o.landlock_connect, [443, 80]);
        assert!(!o.landlock_best_effort);
        assert_eq!(o.program, "sh");
        let o = p(&["--landlock-best-effort", "--landlock-rw", "/w", "true"]).unwrap();
        assert!(o.landlock_best_effort);
        assert_eq!(
            p(&["--landlock-ro"]),
            Err(ArgError::MissingValue {
                option: "--landlock-ro"
            })
        );
        for bad in ["http", "-1", "65536", ""] {
            assert!(
                matches!(
                    p(&["--landlock-connect", bad, "sh"]),
                    Err(ArgError::BadValue {
                        option: "--landlock-connect",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn writable_root_options() {
        let o = p(&["sh"]).unwrap();
        assert!(!o.writable_root && o.keep_changes.is_none());
        let o = p(&["--rootfs", "/r", "--writable-root", "sh"]).unwrap();
        assert!(o.writable_root);
        assert_eq!(o.rootfs, Some(PathBuf::from("/r")));
        let o = p(&["--keep-changes", "/var/l", "sh"]).unwrap();
        assert_eq!(o.keep_changes, Some(PathBuf::from("/var/l")));
        // An overlay of the whole root is a writable root over its lower.
        for dest in ["/", "//"] {
            let o = p(&["--overlay", "/img", dest, "sh"]).unwrap();
            assert!(o.writable_root && o.fs_ops.is_empty());
            assert_eq!(o.rootfs, Some(PathBuf::from("/img")));
        }
        let o = p(&["--overlay", "/img", "/w", "sh"]).unwrap();
        assert!(!o.writable_root && o.rootfs.is_none() && o.fs_ops.len() == 1);
        assert_eq!(
            p(&["--keep-changes"]),
            Err(ArgError::MissingValue {
                option: "--keep-changes"
            })
        );
        let i = |a: &[&str]| parse_command_line(a.iter().map(OsString::from));
        assert_eq!(
            i(&["diff", "c1", "--json"]),
            Ok(Invocation::Diff {
                name: "c1".into(),
                json: true
            })
        );
        assert_eq!(
            i(&["commit", "c1"]),
            Ok(Invocation::Commit { name: "c1".into() })
        );
        assert_eq!(
            i(&["reset", "c1"]),
            Ok(Invocation::Reset { name: "c1".into() })
        );
        assert_eq!(i(&["reset"]), Err(ArgError::NoName { command: "reset" }));
        assert!(matches!(
            i(&["commit", "c1", "extra"]),
            Err(ArgError::Unexpected { .. })
        ));
        assert!(matches!(
            i(&["diff", "c1", "--all"]),
            Err(ArgError::Unknown { .. })
        ));
        // A program named like them runs after `--`.
        assert!(matches!(i(&["--", "diff"]), Ok(Invocation::Run(_))));
    }

    #[test]
    fn seccomp_option() {
        assert_eq!(p(&["sh"]).unwrap().seccomp, None);
        let o = p(&["--seccomp", "none", "sh"]).unwrap();
        assert_eq!(o.seccomp, Some(SeccompMode::None));
        assert_eq!(o.program, "sh");
        // The last one wins.
        let o = p(&["--seccomp", "none", "--seccomp", "default", "true"]).unwrap();
        assert_eq!(o.seccomp, Some(SeccompMode::Default));
        // After the program it is the program's argument.
        let o = p(&["sh", "--seccomp", "none"]).unwrap();
        assert_eq!(o.seccomp, None);
        assert_eq!(o.args, ["--seccomp", "none"]);
        assert_eq!(
            p(&["--seccomp"]),
            Err(ArgError::MissingValue {
                option: "--seccomp"
            })
        );
        for bad in ["off", "Default", "", "custom"] {
            assert_eq!(
                p(&["--seccomp", bad, "sh"]),
                Err(ArgError::BadValue {
                    option: "--seccomp",
                    value: bad.into(),
                    expected: "\"default\" or \"none\"",
                }),
                "{bad}"
            );
        }
        let err = p(&["--seccomp", "off", "sh"]).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid value \"off\" for --seccomp: expected \"default\" or \"none\""
        );
    }

    #[test]
    fn denial_options() {
        let o = p(&["sh"]).unwrap();
        assert!(!o.denials && !o.no_observe_denials);
        let o = p(&["--denials", "--no-observe-denials", "sh", "--denials"]).unwrap();
        assert!(o.denials && o.no_observe_denials);
        // After the program they are the program's.
        assert_eq!(o.args, ["--denials"]);
        // A container takes the policy option, not the report at the end.
        match inv(&["start", "web", "--no-observe-denials"]) {
            Ok(Invocation::Start(s)) => assert!(s.options.no_observe_denials),
            other => panic!("{other:?}"),
        }
        let e = inv(&["start", "web", "--denials"]).unwrap_err();
        assert!(
            matches!(
                e,
                ArgError::NotForContainers {
                    option: "--denials",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("option --denials applies to one-shot programs")
        );
        assert_eq!(
            p(&["--denials=yes", "sh"]),
            Err(ArgError::Unknown {
                option: "--denials=yes".into()
            })
        );
    }

    #[test]
    fn sizes_and_fs_ops_keep_order() {
        let o = p(&[
            "--tmpfs",
            "/a:1K",
            "--ro-bind",
            "/x",
            "/y",
            "--mask",
            "/y/z",
            "true",
        ])
        .unwrap();
        assert_eq!(o.fs_ops.len(), 3);
        assert_eq!(
            o.fs_ops[0],
            fs::Op::Tmpfs {
                dest: "/a".into(),
                options: fs::TmpfsOptions {
                    size: Some(1024),
                    mode: None
                }
            }
        );
        assert!(matches!(
            &o.fs_ops[1],
            fs::Op::Bind {
                read_only: true,
                optional: false,
                ..
            }
        ));
        assert_eq!(
            o.fs_ops[2],
            fs::Op::Mask {
                dest: "/y/z".into()
            }
        );
    }

    #[test]
    fn the_declarations_are_consistent() {
        // clap's own checks of the tree (ids, positionals, value names).
        command().debug_assert();
        for sub in SUBCOMMANDS {
            if let Some(c) = subcommand(sub) {
                c.debug_assert();
            }
        }
        // Every option of the table has its arm in `apply`.
        for opt in OPTIONS {
            let values = vec![OsString::from("1"); opt.values.len()];
            let r = apply(
                &mut Options::default(),
                opt.long,
                &mut values.into_iter(),
                &mut None,
                &mut None,
            );
            assert!(
                !matches!(&r, Err(ArgError::Unknown { option }) if option == opt.long),
                "{}",
                opt.long
            );
        }
    }

    #[test]
    fn parser_errors_are_one_line_and_name_the_argument_as_typed() {
        for (args, want) in [
            (
                &["--bogus", "true"][..],
                ArgError::Unknown {
                    option: "--bogus".into(),
                },
            ),
            (
                &["-x", "true"],
                ArgError::Unknown {
                    option: "-x".into(),
                },
            ),
            (
                &["--bogus=3", "true"],
                ArgError::Unknown {
                    option: "--bogus=3".into(),
                },
            ),
            (
                &["--json=yes", "true"],
                ArgError::Unknown {
                    option: "--json=yes".into(),
                },
            ),
            (
                &["--share-net=1", "true"],
                ArgError::Unknown {
                    option: "--share-net=1".into(),
                },
            ),
            (&["--memory"], ArgError::MissingValue { option: "--memory" }),
            (
                &["--setenv", "K"],
                ArgError::MissingValue { option: "--setenv" },
            ),
            (
                &["--file", "/a"],
                ArgError::MissingValue { option: "--file" },
            ),
            (
                &["start", "web", "--ro-bind", "/a"],
                ArgError::MissingValue {
                    option: "--ro-bind",
                },
            ),
            (
                &["exec", "web", "--chdir"],
                ArgError::MissingValue { option: "--chdir" },
            ),
            (
                &["exec", "web", "--bogus", "ls"],
                ArgError::Unknown {
                    option: "--bogus".into(),
                },
            ),
            (
                &["stop", "web", "--timeout"],
                ArgError::MissingValue {
                    option: "--timeout",
                },
            ),
            (
                &["stop", "web", "--json"],
                ArgError::Unknown {
                    option: "--json".into(),
                },
            ),
            (
                &["list", "--json=1"],
                ArgError::Unknown {
                    option: "--json=1".into(),
                },
            ),
            (
                &["list", "all"],
                ArgError::Unexpected {
                    argument: "all".into(),
                },
            ),
            (
                &["image", "import"],
                ArgError::MissingValue {
                    option: "image import",
                },
            ),
            (
                &["image", "import", "a", "b"],
                ArgError::Unexpected {
                    argument: "b".into(),
                },
            ),
            (
                &["image", "import", "a", "--name"],
                ArgError::MissingValue { option: "--name" },
            ),
            (
                &["image", "rm"],
                ArgError::MissingValue { option: "image rm" },
            ),
            (
                &["image", "rm", "a", "-f"],
                ArgError::Unknown {
                    option: "-f".into(),
                },
            ),
            (
                &["image", "gc", "now"],
                ArgError::Unexpected {
                    argument: "now".into(),
                },
            ),
            (
                &["image", "list", "--all"],
                ArgError::Unknown {
                    option: "--all".into(),
                },
            ),
            (
                &["image", "pull"],
                ArgError::BadValue {
                    option: "image",
                    value: "pull".into(),
                    expected: "import, list, rm or gc",
                },
            ),
        ] {
            let e = inv(args).unwrap_err();
            assert_eq!(e, want, "{args:?}");
            let m = e.to_string();
            assert_eq!(m.lines().count(), 1, "{args:?}: {m}");
        }
    }

    #[test]
    fn a_word_that_names_no_subcommand_is_the_program() {
        for word in ["strat", "help", "completion", "images", "version"] {
            match inv(&[word, "-x"]) {
                Ok(Invocation::Run(o)) => {
                    assert_eq!(o.program, word);
                    assert_eq!(o.args, ["-x"]);
                }
                other => panic!("{word}: {other:?}"),
            }
        }
        // A subcommand's name after an option, or after `--`, too.
        for args in [
            &["--", "completions", "bash"][..],
            &["--inherit-env", "image", "ls"],
        ] {
            assert!(matches!(inv(args), Ok(Invocation::Run(_))), "{args:?}");
        }
    }

    #[test]
    fn help_and_version() {
        for args in [
            &["--help"][..],
            &["-h"],
            &["--hostname", "h", "--help", "--bogus"],
            &["run", "--help"],
            &["start", "--help"],
            &["start", "web", "--memory", "1G", "-h"],
            &["exec", "web", "--help"],
            &["stop", "web", "--help"],
            &["kill", "-h"],
            &["list", "--help"],
            &["image", "--help"],
            &["image", "import", "--help"],
            &["completions", "--help"],
        ] {
            assert_eq!(inv(args), Ok(Invocation::Help), "{args:?}");
        }
        for args in [
            &["--version"][..],
            &["-V"],
            &["--inherit-env", "-V"],
            &["list", "-V"],
        ] {
            assert_eq!(inv(args), Ok(Invocation::Version), "{args:?}");
        }
        // An option before it that does not parse is the answer.
        assert_eq!(
            inv(&["--bogus", "--help"]),
            Err(ArgError::Unknown {
                option: "--bogus".into()
            })
        );
        // After the program, they are the program's.
        match inv(&["ls", "--help", "-V"]) {
            Ok(Invocation::Run(o)) => assert_eq!(o.args, ["--help", "-V"]),
            other => panic!("{other:?}"),
        }
        match inv(&["exec", "web", "--", "ls", "--help"]) {
            Ok(Invocation::Exec(e)) => {
                assert_eq!((e.program, e.args), ("ls".into(), vec!["--help".into()]))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn help_text_is_made_from_the_declarations() {
        let h = help(&[]);
        assert!(h.contains("stockade start NAME"), "{h}");
        for opt in OPTIONS {
            let shown = match opt.short {
                Some(c) => format!("-{c}, {}", opt.long),
                None => opt.long.to_owned(),
            };
            assert!(
                h.lines().any(|l| l.trim_start().starts_with(&shown)),
                "{} in {h}",
                opt.long
            );
        }
        for heading in [POLICY, NETWORK, EGRESS, FILESYSTEM, LIMITS, REPORTS] {
            assert!(h.contains(&format!("{heading}:")), "{heading}");
        }
        assert!(
            h.contains("Exit status:") && h.contains("completions"),
            "{h}"
        );
        for (args, wants) in [
            (&["run", "--help"][..], "stockade start NAME"),
            (&["exec", "--help"], "Usage: stockade exec NAME"),
            (&["__monitor", "--help"], "Usage: stockade start NAME"),
            (&["stop", "web", "--help"], "--timeout <DURATION>"),
            (&["image", "--help"], "import"),
            (&["image", "import", "--help"], "--name <NAME[:TAG]>"),
            (&["image", "ls", "--help"], "Usage: stockade image list"),
            (&["completions", "-h"], "bash"),
        ] {
            let args: Vec<OsString> = args.iter().map(OsString::from).collect();
            let h = help(&args);
            assert!(h.contains(wants), "{args:?}: {wants} in {h}");
        }
        // No line of the help is wider than 100 columns, but the usage's.
        assert!(
            h.lines()
                .filter(|l| !l.contains("stockade exec NAME"))
                .all(|l| l.chars().count() <= 100),
            "{h}"
        );
    }

    #[test]
    fn completions_subcommand() {
        for (name, shell) in [
            ("bash", Shell::Bash),
            ("zsh", Shell::Zsh),
            ("fish", Shell::Fish),
            ("elvish", Shell::Elvish),
            ("powershell", Shell::PowerShell),
        ] {
            assert_eq!(
                inv(&["completions", name]),
                Ok(Invocation::Completions(shell))
            );
        }
        assert_eq!(
            inv(&["completions", "tcsh"]),
            Err(ArgError::BadValue {
                option: "completions",
                value: "tcsh".into(),
                expected: "bash, zsh, fish, elvish or powershell",
            })
        );
        let e = inv(&["completions"]).unwrap_err();
        assert!(
            e.to_string().starts_with("completions needs a shell"),
            "{e}"
        );
        assert_eq!(
            inv(&["completions", "bash", "zsh"]),
            Err(ArgError::Unexpected {
                argument: "zsh".into()
            })
        );
    }

    #[test]
    fn values_may_look_like_options_and_need_not_be_utf8() {
        let o = p(&[
            "--setenv",
            "K",
            "-v",
            "--hostname",
            "--",
            "--file",
            "/f",
            "--json",
            "--",
            "-sh",
        ])
        .unwrap();
        assert_eq!(o.setenv, [("K".into(), "-v".into())]);
        assert_eq!(o.hostname.as_deref(), Some(std::ffi::OsStr::new("--")));
        assert!(!o.json);
        assert_eq!(
            o.fs_ops,
            [fs::Op::File {
                dest: "/f".into(),
                contents: b"--json".to_vec(),
                mode: None
            }]
        );
        assert_eq!(o.program, "-sh");
        let bad = |b: &[u8]| OsString::from_vec(b.to_vec());
        let o = parse([
            "--ro-bind".into(),
            bad(b"/src\xff"),
            bad(b"/dest\xfe"),
            "--chdir".into(),
            bad(b"/w\xff"),
            bad(b"prog\xff"),
            bad(b"arg\xfe"),
        ])
        .unwrap();
        assert!(matches!(
            &o.fs_ops[0],
            fs::Op::Bind { src, dest, .. }
                if src.as_os_str().as_bytes() == b"/src\xff"
                    && dest.as_os_str().as_bytes() == b"/dest\xfe"
        ));
        assert_eq!(o.chdir.unwrap().as_os_str().as_bytes(), b"/w\xff");
        assert_eq!(o.program.as_bytes(), b"prog\xff");
        assert_eq!(o.args, [bad(b"arg\xfe")]);
        // A first argument that is not UTF-8 is the program.
        assert_eq!(
            parse([bad(b"\xff"), "-x".into()]).unwrap().program,
            bad(b"\xff")
        );
    }

    #[test]
    fn every_kind_of_filesystem_option_keeps_its_place() {
        let o = p(&[
            "--bind",
            "/b",
            "/B",
            "--hostname",
            "h",
            "--dir",
            "/d",
            "--ro-bind-try",
            "/r",
            "/R",
            "--symlink",
            "t",
            "/s",
            "--memory",
            "1M",
            "--file",
            "/f",
            "x",
            "--dev-bind",
            "/dev/x",
            "/dev/x",
            "--overlay",
            "/l",
            "/o",
            "--tmpfs",
            "/t",
            "--bind-try",
            "/c",
            "/C",
            "--mask",
            "/m",
            "true",
        ])
        .unwrap();
        let kinds: Vec<String> = o
            .fs_ops
            .iter()
            .map(|op| match op {
                fs::Op::Bind {
                    dest,
                    read_only,
                    optional,
                    devices,
                    ..
                } => format!("bind {} {read_only} {optional} {devices}", dest.display()),
                fs::Op::Dir { dest, .. } => format!("dir {}", dest.display()),
                fs::Op::Symlink { dest, .. } => format!("symlink {}", dest.display()),
                fs::Op::File { dest, .. } => format!("file {}", dest.display()),
                fs::Op::Overlay { dest, .. } => format!("overlay {}", dest.display()),
                fs::Op::Tmpfs { dest, .. } => format!("tmpfs {}", dest.display()),
                fs::Op::Mask { dest } => format!("mask {}", dest.display()),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "bind /B false false false",
                "dir /d",
                "bind /R true true false",
                "symlink /s",
                "file /f",
                "bind /dev/x false false true",
                "overlay /o",
                "tmpfs /t",
                "bind /C false true false",
                "mask /m",
            ]
        );
        // The same options for a container, and its record as typed.
        let mut line = vec!["start", "web", "--tmpfs", "/t", "--bind", "/b", "/B", "--"];
        line.extend(["sh", "-c", "x"]);
        match inv(&line) {
            Ok(Invocation::Start(s)) => {
                assert!(matches!(s.options.fs_ops[0], fs::Op::Tmpfs { .. }));
                assert!(matches!(s.options.fs_ops[1], fs::Op::Bind { .. }));
                assert_eq!(s.raw, line[2..]);
                assert_eq!(s.policy, line[2..7]);
            }
            other => panic!("{other:?}"),
        }
    }
}
