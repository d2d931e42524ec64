//! Command-line parsing for the `stockade` front end (bubblewrap's vocabulary
//! where it fits). Pure: no I/O, so it can be tested and fuzzed directly.

use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::time::Duration;

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

pub const USAGE: &str = "\
usage: stockade [run] [OPTIONS] [--] PROGRAM [ARGS...]
       stockade [run] --image REF [OPTIONS] [-- ARGS...]
       stockade [run] --bundle DIR [OPTIONS]
       stockade start NAME [OPTIONS] [-- INIT [ARGS...]]
       stockade exec NAME [--pty] [--chdir DIR] [--setenv KEY VALUE]... [--] PROGRAM [ARGS...]
       stockade stop NAME [--timeout DURATION]
       stockade kill NAME
       stockade list [--json]
       stockade diff NAME [--json]
       stockade commit NAME
       stockade reset NAME
       stockade image import PATH [--name NAME[:TAG]] | list [--json] | rm REF... | gc

Runs PROGRAM in a sandbox with the library's default policy: new user, mount,
pid, network, IPC, UTS and cgroup namespaces; a read-only view of the host's
system directories without its secrets; fresh /proc, minimal /dev, private /tmp, an empty private home ($HOME);
no capabilities, no_new_privs, the default seccomp profile; a cleared
environment.

  --policy FILE            start from the sandbox policy in FILE: TOML, or JSON
                           when FILE ends in .json (schema: examples/policy.toml).
                           The file is applied first, then every other option
                           on top of it, wherever it stands on the command line:
                           single-valued options (--hostname, --memory, ...)
                           replace the file's value, repeatable ones (--bind,
                           --tmpfs, --rlimit, ...) add to it, and any
                           --landlock-* option replaces the file's [landlock]
                           table. Given at most once.
  --net none|host|filter|blocked
                           the network: none, a network namespace of the
                           sandbox's own with loopback only (the default);
                           host, the host's (alias --share-net); filter, the
                           sandbox's own namespace whose only way out is an
                           egress proxy run by stockade, under the rules
                           below (none: nothing is reachable); blocked,
                           sockets denied with seccomp and Landlock instead of
                           a namespace (alias --net-filter; faster to spawn,
                           isolates less: see Network::Blocked)
  --share-net              same as --net host
  --net-filter             same as --net blocked
  --allow-host NAME[:PORT] egress: allow NAME (or *.SUFFIX), on any port or PORT
  --deny-host NAME[:PORT]  egress: deny NAME (or *.SUFFIX), on any port or PORT
  --allow-private CIDR     egress: allow private addresses in CIDR (10.0.0.0/8,
                           127.0.0.1), refused by default even for allowed names
  --resolve NAME=ADDR      egress: the proxy resolves NAME to ADDR; when any is
                           given, these are its only names (no system resolver)
  --max-connections N      egress: at most N connections at once
                           (the egress options but the last are repeatable;
                           they imply --net filter, and need it)
  --publish [HOST:]PORT:SANDBOX_PORT
                           forward HOST:PORT (HOST an IP address, 127.0.0.1 by
                           default, IPv6 in brackets: [::1]:8080:80; PORT 0:
                           one the kernel picks) to 127.0.0.1:SANDBOX_PORT in
                           the sandbox's network namespace (repeatable; --net
                           none or filter; --json lists the addresses)
  --hostname NAME          hostname inside the sandbox
  --as-pid-1               the program is pid 1 of the sandbox's pid namespace
  --uid N / --gid N        ids inside the sandbox (default: the caller's)
  --subids                 map every other id from 0 to 65535 to the caller's
                           subordinate ids (/etc/subuid, /etc/subgid; through
                           newuidmap/newgidmap, package uidmap, unless root),
                           so that users, chown and su work inside
  --uid-range IN:OUT:COUNT / --gid-range IN:OUT:COUNT
                           map COUNT ids from IN inside to OUT outside
                           (repeatable; replaces --subids for that kind; an
                           unprivileged caller may map only its own id and
                           what /etc/subuid, /etc/subgid grant it)
  --chdir DIR              working directory inside the sandbox
  --setenv KEY VALUE       set an environment variable
  --unsetenv KEY           remove an environment variable
  --inherit-env            pass the caller's whole environment
  --rootfs DIR             use DIR read-only as the root
  --image REF              use the image REF (NAME[:TAG], or a digest or its
                           first characters) of the image store as the
                           read-only root (with --writable-root: a writable
                           container layer on top, gone with the sandbox),
                           and run its entrypoint and command (PROGRAM and
                           ARGS replace the command) as its user (root of
                           the user namespace when it names none), in its
                           working directory, with its environment; the
                           options given win. The network, capabilities and
                           everything else stay stockade's defaults
  --entrypoint PROGRAM     with --image: run PROGRAM instead of the image's
                           entrypoint, without the image's command
  --bundle DIR             run the OCI runtime bundle DIR: its config.json
                           is the policy and the program, the other options
                           on top; a field stockade cannot enforce is an
                           error naming it
  --ro-bind SRC DEST       bind SRC read-only at DEST (recursively)
  --ro-bind-try SRC DEST   same, skipped if SRC does not exist
  --bind SRC DEST          bind SRC read-write at DEST
  --bind-try SRC DEST      same, skipped if SRC does not exist
  --dev-bind SRC DEST      bind a device node (devices are off otherwise)
  --tmpfs DEST[:SIZE]      fresh tmpfs (SIZE as for --memory)
  --overlay LOWER DEST     writable overlay of LOWER; changes vanish with the sandbox
                           (--overlay DIR / is --rootfs DIR --writable-root)
  --writable-root          the whole root (--rootfs DIR, or the system
                           directories of the default view) as an overlay
                           the program may change; the changes vanish with
                           the sandbox (Linux 5.11 unprivileged)
  --keep-changes DIR       a writable root whose changes are kept in the layer
                           directory DIR (DIR/upper, DIR/work; created, 0700;
                           not on an overlay, outside the root directory,
                           one running sandbox at a time): the next sandbox
                           or `start` with the same DIR sees them
  --dir DEST               create a directory
  --symlink TARGET DEST    create a symlink
  --file DEST TEXT         create a read-only file containing TEXT
  --mask PATH              hide a file or directory
  --no-home                no private home: by default $HOME (or /home/sandbox)
                           is an empty writable tmpfs of the program's own
  --sys                    mount a fresh, read-only sysfs on /sys (needs the
                           sandbox's own network namespace)
  --expose-host-secrets    opt in to exposing the host's secrets (/etc/shadow,
                           SSH host keys...; for a root caller every entry of
                           /etc that others may not read) through binds of
                           their directories (--ro-bind /etc /etc); by default
                           they stay masked there, and binding one is refused
  --landlock-ro PATH       Landlock: allow reading and executing beneath PATH
  --landlock-rw PATH       Landlock: also allow writing beneath PATH
                           (both repeatable, paths as seen in the sandbox; any
                           use denies every other path, as a hard requirement)
  --landlock-connect PORT  Landlock: allow TCP connections to PORT only
                           (repeatable; Linux 6.7+)
  --landlock-best-effort   apply what the kernel supports of the Landlock rules
                           instead of failing; --json reports what is missing
  --seccomp default|none   system call filter: the default profile (the
                           default; denies namespace creation, io_uring, bpf,
                           the keyring, TIOCSTI, ...) or none
  --no-observe-denials     do not watch the filter's refusals: it refuses the
                           same calls with the same errors without telling
                           stockade, and --json and --denials say system
                           calls were not observed (\"disabled\")
  --observe-writes         also look at each write before it runs, and report
                           those a read-only mount refuses (inferred); costs
                           some microseconds per write
  --timeout DURATION       wall-clock limit; exit code 124 when hit. DURATION
                           is seconds (2.5) or a number with a unit: 500ms,
                           30s, 5m, 1h (also ns, us)
  --cpu-time DURATION      CPU-time limit of each process (RLIMIT_CPU)
  --rlimit NAME=VALUE      resource limit, e.g. nofile=64, fsize=1M, core=0,
                           as=unlimited (names as in prlimit(1))
  --memory SIZE            memory limit of the whole sandbox (cgroup memory.max);
                           OOM kill reported as oom_killed. SIZE is bytes with
                           an optional K, M, G or T suffix (powers of 1024;
                           64M, 64MiB), or unlimited
  --swap SIZE              swap allowed on top of --memory (default 0)
  --pids N                 most processes and threads at once (cgroup pids.max)
  --cpus FLOAT             CPU bandwidth in CPUs, e.g. 0.5 (cgroup cpu.max)
  --cgroup-parent DIR      create the sandbox's cgroup under DIR, a delegated
                           cgroup v2 directory (default: the caller's cgroup)
  --isolation strict|best-available
                           strict (the default): the namespaces asked for,
                           or an error naming what refused them;
                           best-available: where the host refuses them (a
                           container's seccomp profile or masked /proc, user
                           namespaces turned off), step down: without a pid
                           namespace (the host's /proc, read-only), without a
                           user namespace (a privileged caller), then no
                           namespaces (Landlock mirroring the filesystem
                           options, sockets refused, seccomp, limits);
                           --json says which rung held and why
  --limits-best-effort     run even where a cgroup limit cannot be enforced,
                           approximating it with rlimits; --json tells
  --json                   print a JSON report on stderr when the program ends,
                           on a line of its own (\"denials\": what the sandbox
                           refused, as below)
  --json-fd FD             write the report to the open descriptor FD instead
                           (the program never sees FD): --json-fd 3 3>r.json
  --json-file PATH         write the report to the file PATH instead (created
                           or truncated before the program starts)
  --denials                when the program ends, print on stderr, after all
                           of its output, one line of what the sandbox refused:
                           \"stockade: denied: mount target=/mnt (seccomp
                           filter: EPERM); connect to a.test:443 (network
                           policy: ...)\", with the limits hit and what it
                           could not watch; nothing when it refused nothing
                           and watched all it could. Filesystem refusals
                           (read-only mounts, Landlock) are not seen; paths
                           are the program's word (control characters
                           escaped)
  -t, --pty                give the program a terminal of its own (a pseudo-
                           terminal of the sandbox's /dev/pts, its controlling
                           terminal), relayed to this one: keys reach it as
                           typed (^C, ^Z and job control act on its jobs, not
                           on stockade), window size changes follow, and this
                           terminal is restored when stockade ends. Standard
                           input must be a terminal
  -h, --help               this help
  -V, --version            the version of stockade


Remote execution: `stockade --remote-action [OPTIONS] -- PROGRAM [ARGS...]`
(--remote-action first) runs an action for a remote-execution worker that
puts stockade before every action (NativeLink's entrypoint): the action
keeps its environment (less the STOCKADE_* variables) and its working
directory, and its action directory (STOCKADE_ACTION_DIRECTORY, or the
working directory) is bound read-write at the same path. The worker maps
platform properties to STOCKADE_POLICY (a policy file), STOCKADE_MEMORY,
STOCKADE_PIDS, STOCKADE_CPUS, STOCKADE_NETWORK (as --net),
STOCKADE_ISOLATION, and its timeout to STOCKADE_TIMEOUT_MS; on a timeout
stockade writes {\"failure\":\"timeout\"} to STOCKADE_SIDE_CHANNEL_FILE.
Options given after --remote-action win over the variables.

Exit status: the program's; 128+N if killed by signal N; 124 on timeout;
125 if the sandbox could not be set up or the command line is wrong (one
line naming the option); 126 not executable; 127 not found.

Signals: SIGHUP, SIGQUIT and SIGWINCH are passed on to the program. SIGINT
and SIGTERM are too, and then the program has 2 seconds to end (a second
one ends it at once) before the sandbox is killed; stockade then ends by
that signal (128+N). A signal stockade was started with ignored stays
ignored.

Images: `stockade image import PATH` adds an OCI image layout directory or
a `docker save`/`podman save` archive to the image store
($STOCKADE_IMAGES, else $XDG_CACHE_HOME/stockade/images, else
~/.cache/stockade/images), checking every blob's digest and unpacking each
layer once for every image that shares it; `image list` shows the images,
`image rm REF...` forgets them, `image gc` deletes the layers no image uses.

Containers: a container is a sandbox that stays up between programs.
A subcommand is recognised only as the first argument: `stockade -- start`
(or any option first) runs a program named start.

  start NAME [OPTIONS] [-- INIT...]
                           start a detached container of the policy OPTIONS
                           (the options above) and return once it is ready;
                           it runs until stopped. --chdir, --setenv and
                           --unsetenv are the defaults of every exec; --json
                           prints the container's report on stdout. INIT, if
                           given, is the container's pid 1 (busybox init,
                           systemd, a shell), with container=stockade in its
                           environment, and the container ends when it ends;
                           without it stockade's own init waits for execs.
                           NAME: 1 to 64 ASCII letters, digits, '_', '.' or
                           '-', starting with a letter or a digit
    --stop-signal SIG      the signal stop sends (default TERM): to INIT
                           alone, or without INIT to every process; a name
                           (TERM, SIGUSR1, RTMIN+3 for systemd) or a number
    --system               a system container, for a userland's own init
                           (systemd): INIT and its services run as uid 0 of
                           the user namespace with every capability there
                           but CAP_SYS_PTRACE, without no_new_privs (setuid
                           programs work) and without a seccomp filter; a
                           read-only /sys, /run and /run/lock as tmpfs, the
                           container's own cgroup mounted writable at
                           /sys/fs/cgroup (it needs a delegated cgroup:
                           --cgroup-parent, or the caller's own); stop
                           sends RTMIN+3. Options given as well (--uid,
                           --seccomp default, --stop-signal, ...) win
  exec NAME [--pty] [--chdir DIR] [--setenv KEY VALUE]... [--unsetenv KEY]...
       [--] PROGRAM [ARGS...]
                           run PROGRAM in the container with this terminal's
                           stdin, stdout and stderr (with -t/--pty: a terminal
                           of the container's own, relayed as above); the exit
                           status is the program's, as above. Signals are passed on as
                           above; processes it leaves in the background keep
                           running. If stockade exec is killed, so is PROGRAM
  stop NAME [--timeout DURATION]
                           the stop signal (SIGTERM unless --stop-signal) to
                           INIT, or without INIT to every process in the
                           container, then after DURATION (default 10s; 0 for
                           none) SIGKILL to what is left; returns once
                           nothing is left
  kill NAME                SIGKILL to every process in the container
  list [--json]            the running containers (a JSON array with --json)
  diff NAME [--json]       what a container started with --keep-changes
                           changed: one line per path, A (added), M
                           (modified), D (deleted) or R (replaced: another
                           type, or a directory made anew), or a JSON array
                           of {\"kind\", \"path\"}; while it runs, a moving target
  commit NAME              apply those changes to its --rootfs directory and
                           empty the layer (refused while NAME runs, and for
                           the default view); a commit that fails leaves the
                           directory as it was
  reset NAME               throw the changes away (refused while NAME runs)

State lives in $XDG_RUNTIME_DIR/stockade/NAME (/tmp/stockade-UID/NAME when
XDG_RUNTIME_DIR is unset or not a private directory of the caller;
/run/stockade/NAME for root), readable by its owner only, and only its owner
may exec into, stop or kill a container. A container started with
--keep-changes leaves the record of its layer in .layers/NAME there, kept
after it stops for diff, commit and reset; the next start of NAME replaces
it (or, without --keep-changes, removes it), and so does removing the layer
directory. The state of a container whose
monitor died is removed when next seen, and never listed. Exit status of
start, stop, kill and list: 0, or 125 with a one-line reason.
";

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
    parse_options(&mut args.into_iter(), true)
}

/// Parses options up to the program and its arguments, which must be there
/// when `need_program`.
fn parse_options(
    it: &mut impl Iterator<Item = OsString>,
    need_program: bool,
) -> Result<Options, ArgError> {
    let mut o = Options::default();
    // The first egress option given, which implies --net filter.
    let mut egress_option: Option<&'static str> = None;
    // The option that said where the JSON report goes.
    let mut json_option: Option<&'static str> = None;
    while let Some(a) = it.next() {
        let Some(s) = a.to_str() else {
            o.program = a;
            break;
        };
        match s {
            "--" => {
                match it.next() {
                    Some(p) => o.program = p,
                    None if need_program => return Err(ArgError::NoProgram),
                    None => {}
                }
                break;
            }
            "-h" | "--help" => {
                o.help = true;
                return Ok(o);
            }
            "-V" | "--version" => {
                o.version = true;
                return Ok(o);
            }
            "--policy" => {
                if o.policy.is_some() {
                    return Err(ArgError::Repeated { option: "--policy" });
                }
                o.policy = Some(val(it, "--policy")?.into());
            }
            "--share-net" => set_net(&mut o, NetMode::Host, "--share-net")?,
            "--net-filter" => set_net(&mut o, NetMode::Blocked, "--net-filter")?,
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
                set_net(&mut o, mode, mode.option())?;
            }
            "--allow-host" | "--deny-host" => {
                let option = if s == "--allow-host" {
                    "--allow-host"
                } else {
                    "--deny-host"
                };
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
            "--json" => set_json(&mut o, JsonTo::Stderr, "--json", &mut json_option)?,
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
                set_json(&mut o, JsonTo::Fd(fd), "--json-fd", &mut json_option)?;
            }
            "--json-file" => {
                let path = PathBuf::from(val(it, "--json-file")?);
                set_json(&mut o, JsonTo::File(path), "--json-file", &mut json_option)?;
            }
            "--denials" => o.denials = true,
            "--no-observe-denials" => o.no_observe_denials = true,
            "--observe-writes" => o.observe_writes = true,
            "-t" | "--pty" => o.pty = true,
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
            "--memory" | "--swap" => {
                let option = if s == "--memory" {
                    "--memory"
                } else {
                    "--swap"
                };
                let bytes = size(option, val(it, option)?)?;
                *(if option == "--memory" {
                    &mut o.memory
                } else {
                    &mut o.swap
                }) = Some(bytes);
            }
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
                let option = match s {
                    "--ro-bind" => "--ro-bind",
                    "--ro-bind-try" => "--ro-bind-try",
                    "--bind" => "--bind",
                    "--bind-try" => "--bind-try",
                    _ => "--dev-bind",
                };
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
            _ if s.starts_with('-') && s.len() > 1 => return Err(ArgError::Unknown { option: a }),
            _ => {
                o.program = a;
                break;
            }
        }
    }
    check_net(&mut o, egress_option)?;
    check_root(&o)?;
    if o.program.is_empty() {
        if need_program && o.image.is_none() && o.bundle.is_none() {
            return Err(ArgError::NoProgram);
        }
        return Ok(o);
    }
    o.args = it.collect();
    Ok(o)
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

/// `stockade image ...` after `image`.
fn image_command<I: Iterator<Item = OsString>>(
    it: &mut std::iter::Peekable<I>,
) -> Result<Invocation, ArgError> {
    let text = |a: OsString, what: &'static str| {
        a.into_string().map_err(|value| ArgError::BadValue {
            option: what,
            value,
            expected: "UTF-8 text",
        })
    };
    let Some(verb) = it.next() else {
        return Err(ArgError::NoName { command: "image" });
    };
    let cmd = match verb.to_str() {
        Some("import") => {
            let mut path = None;
            let mut name = None;
            while let Some(a) = it.next() {
                match a.to_str() {
                    Some("--name") => name = Some(text(val(it, "--name")?, "--name")?),
                    Some(s) if s.starts_with('-') && s.len() > 1 => {
                        return Err(ArgError::Unknown { option: a });
                    }
                    _ if path.is_none() => path = Some(PathBuf::from(a)),
                    _ => return Err(unexpected(a)),
                }
            }
            let path = path.ok_or(ArgError::MissingValue {
                option: "image import",
            })?;
            ImageCommand::Import { path, name }
        }
        Some("list" | "ls") => {
            let mut json = false;
            for a in it.by_ref() {
                match a.to_str() {
                    Some("--json") => json = true,
                    _ => return Err(unexpected(a)),
                }
            }
            ImageCommand::List { json }
        }
        Some("rm") => {
            let mut references = Vec::new();
            for a in it.by_ref() {
                if a.to_str()
                    .is_some_and(|s| s.starts_with('-') && s.len() > 1)
                {
                    return Err(ArgError::Unknown { option: a });
                }
                references.push(text(a, "image rm")?);
            }
            if references.is_empty() {
                return Err(ArgError::MissingValue { option: "image rm" });
            }
            ImageCommand::Remove { references }
        }
        Some("gc") => {
            if let Some(a) = it.next() {
                return Err(unexpected(a));
            }
            ImageCommand::Gc
        }
        Some("-h" | "--help") => return Ok(Invocation::Help),
        _ => {
            return Err(ArgError::BadValue {
                option: "image",
                value: verb,
                expected: "import, list, rm or gc",
            });
        }
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
    /// `--pty`/`-t`.
    pub pty: bool,
    /// This process's standard input is a terminal made for the program
    /// (the OCI runtime's `process.terminal`, whose master went to the
    /// engine): it becomes the program's three standard streams and its
    /// controlling terminal, and this process lets go of it once sent.
    /// Not a command-line option.
    pub terminal_stdin: bool,
    pub chdir: Option<PathBuf>,
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

/// The container name, first argument of `command`.
fn name(
    it: &mut impl Iterator<Item = OsString>,
    command: &'static str,
) -> Result<String, ArgError> {
    let n = it.next().ok_or(ArgError::NoName { command })?;
    if n == "-h" || n == "--help" {
        return Err(ArgError::NoName { command });
    }
    match bad_name(&n) {
        Some(reason) => Err(ArgError::BadName { name: n, reason }),
        // Only ASCII passes.
        None => Ok(n.to_string_lossy().into_owned()),
    }
}

/// Parses the arguments after the program name: a subcommand when the
/// first one names one, the one-shot form otherwise (a program named like a
/// subcommand runs after `--`, or after any option).
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

pub fn parse_command_line<I: IntoIterator<Item = OsString>>(
    args: I,
) -> Result<Invocation, ArgError> {
    let mut it = args.into_iter().peekable();
    // `stockade run ...` is the one-shot form, as `stockade ...` is.
    if it.peek().is_some_and(|a| a == "run") {
        it.next();
        if it.peek().is_none() {
            return Err(ArgError::NoProgram);
        }
        let o = parse_options(&mut it, true)?;
        return one_shot(o);
    }
    let sub = it.peek().and_then(|a| a.to_str()).and_then(|a| {
        Some(match a {
            "start" => "start",
            "exec" => "exec",
            "stop" => "stop",
            "kill" => "kill",
            "list" => "list",
            "diff" => "diff",
            "commit" => "commit",
            "reset" => "reset",
            "image" => "image",
            "__monitor" => "__monitor",
            _ => return None,
        })
    });
    let Some(sub) = sub else {
        let o = parse_options(&mut it, true)?;
        return one_shot(o);
    };
    it.next();
    if it.peek().is_some_and(|a| a == "-h" || a == "--help") {
        return Ok(Invocation::Help);
    }
    if it.peek().is_some_and(|a| a == "-V" || a == "--version") {
        return Ok(Invocation::Version);
    }
    match sub {
        "start" | "__monitor" => {
            let name = name(&mut it, "start")?;
            let raw: Vec<OsString> = it.collect();
            let options = parse_options(&mut raw.iter().cloned(), false)?;
            if options.help {
                return Ok(Invocation::Help);
            }
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
            let mut e = Exec {
                name: name(&mut it, "exec")?,
                ..Exec::default()
            };
            while let Some(a) = it.next() {
                match a.to_str() {
                    Some("--") => {
                        e.program = it.next().ok_or(ArgError::NoProgram)?;
                        break;
                    }
                    Some("-h" | "--help") => return Ok(Invocation::Help),
                    Some("--chdir") => e.chdir = Some(val(&mut it, "--chdir")?.into()),
                    Some("-t" | "--pty") => e.pty = true,
                    Some("--setenv") => {
                        let k = val(&mut it, "--setenv")?;
                        let v = val(&mut it, "--setenv")?;
                        e.setenv.push((k, v));
                    }
                    Some("--unsetenv") => e.unsetenv.push(val(&mut it, "--unsetenv")?),
                    Some(s) if s.starts_with('-') && s.len() > 1 => {
                        return Err(ArgError::Unknown { option: a });
                    }
                    _ => {
                        e.program = a;
                        break;
                    }
                }
            }
            if e.program.is_empty() {
                return Err(ArgError::NoProgram);
            }
            e.args = it.collect();
            Ok(Invocation::Exec(e))
        }
        "stop" => {
            let name = name(&mut it, "stop")?;
            let mut grace = STOP_GRACE;
            while let Some(a) = it.next() {
                match a.to_str() {
                    Some("--timeout") => {
                        let v = val(&mut it, "--timeout")?;
                        // Zero is allowed here: no grace at all.
                        grace = if v == "0" {
                            Duration::ZERO
                        } else {
                            duration("--timeout", v)?
                        };
                    }
                    _ => return Err(unexpected(a)),
                }
            }
            Ok(Invocation::Stop { name, grace })
        }
        "kill" => {
            let name = name(&mut it, "kill")?;
            match it.next() {
                Some(a) => Err(unexpected(a)),
                None => Ok(Invocation::Kill { name }),
            }
        }
        "diff" => {
            let name = name(&mut it, "diff")?;
            let mut json = false;
            for a in it {
                match a.to_str() {
                    Some("--json") => json = true,
                    _ => return Err(unexpected(a)),
                }
            }
            Ok(Invocation::Diff { name, json })
        }
        "image" => image_command(&mut it),
        "commit" | "reset" => {
            let name = name(&mut it, if sub == "commit" { "commit" } else { "reset" })?;
            if let Some(a) = it.next() {
                return Err(unexpected(a));
            }
            Ok(if sub == "commit" {
                Invocation::Commit { name }
            } else {
                Invocation::Reset { name }
            })
        }
        _ => {
            let mut json = false;
            for a in it {
                match a.to_str() {
                    Some("--json") => json = true,
                    _ => return Err(unexpected(a)),
                }
            }
            Ok(Invocation::List { json })
        }
    }
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
                pty: false,
                terminal_stdin: false,
                chdir: Some("/t".into()),
                setenv: vec![("K".into(), "V".into())],
                unsetenv: vec!["U".into()],
                program: "ls".into(),
                args: vec!["-l".into()],
            }))
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
}
