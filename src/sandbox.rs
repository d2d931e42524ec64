//! [`Sandbox`]: a reusable isolation policy.

use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::caps::{self, Capability};
use crate::cgroup;
use crate::child::{Child, ExitStatus, Output};
use crate::command::{Command, StdioKind};
use crate::compile::{self, Compiled};
use crate::config::Config;
use crate::error::Error;
use crate::forksafe::Once;
use crate::fs;
use crate::namespaces::Namespaces;
use crate::net::Network;
use crate::rlimit::Rlimit;

/// A sandbox policy: which namespaces to create, what filesystem the program
/// sees, which limits and filters apply.
///
/// `Sandbox::new()` alone isolates everything that works without privileges:
/// new user, mount, pid, network, IPC, UTS and cgroup namespaces; a read-only
/// view of the host's system directories (without its secrets), a fresh
/// `/proc`, a minimal `/dev` and a private `/tmp`; a new session; a cleared
/// environment; only file descriptors 0-2 inherited; no capabilities and
/// `no_new_privs`; with the `seccomp` feature (on by default), the default
/// seccomp profile. Every setter opens something up or adds a restriction
/// explicitly.
///
/// A `Sandbox` is meant to be built once and used for many spawns, from many
/// threads: it is `Clone + Send + Sync`, and the work that depends only on
/// the policy (the mount plan, and the seccomp and Landlock programs) is
/// done once and cached.
///
/// Setters take `&mut self` and never fail; invalid input is reported by
/// [`validate`](Sandbox::validate) and [`spawn`](Sandbox::spawn) with an
/// error naming the offending field.
#[derive(Clone, Debug, Default)]
pub struct Sandbox {
    pub(crate) cfg: Config,
    cache: Arc<Once<Arc<Compiled>>>,
    /// Under [`Isolation::BestAvailable`](crate::isolation::Isolation): the
    /// rung chosen on the first spawn, shared by clones.
    ladder: Arc<std::sync::Mutex<Option<Arc<Chosen>>>>,
}

/// Whether `e`, from a lower rung of the isolation ladder, says the policy
/// cannot be expressed there (a bind to another path without a mount
/// namespace, Landlock unavailable).
fn expressible_only_above(e: &Error) -> bool {
    #[cfg(feature = "landlock")]
    if matches!(e, Error::Landlock(_)) {
        return true;
    }
    matches!(e, Error::Config(_))
}

/// The rung of the isolation ladder a sandbox settled on, with the strict
/// sandbox of that rung's policy (which keeps its own caches).
#[derive(Debug)]
struct Chosen {
    rung: crate::isolation::Rung,
    sandbox: Sandbox,
    refused: Vec<crate::isolation::Refusal>,
}

impl Chosen {
    fn report(&self, isolation: crate::isolation::Isolation) -> crate::isolation::Report {
        crate::isolation::Report {
            isolation,
            rung: self.rung,
            refused: self.refused.clone(),
        }
    }
}

impl Sandbox {
    /// The default policy (see the type's documentation).
    pub fn new() -> Sandbox {
        Sandbox::default()
    }

    fn changed(&mut self) -> &mut Self {
        self.cache = Arc::default();
        self.ladder = Arc::default();
        self
    }

    /// Whether the sandbox may step down the isolation ladder where the
    /// host refuses its namespaces (see [`crate::isolation`]): by default
    /// ([`Isolation::Strict`](crate::isolation::Isolation::Strict)) it
    /// fails with an error naming the cause; with
    /// [`Isolation::BestAvailable`](crate::isolation::Isolation::BestAvailable)
    /// it runs on the strongest rung the host allows, and
    /// [`Enforcement::isolation`](crate::Enforcement::isolation) says which.
    pub fn isolation(&mut self, isolation: crate::isolation::Isolation) -> &mut Self {
        self.cfg.isolation = isolation;
        self.changed()
    }

    /// Runs `run` on the rung of the isolation ladder this sandbox settled
    /// on, or, the first time, on each rung in turn until one holds, then
    /// `mark`s its result with the report.
    fn on_ladder<T>(
        &self,
        mut run: impl FnMut(&Sandbox) -> Result<T, Error>,
        mark: impl Fn(&mut T, crate::isolation::Report),
    ) -> Result<T, Error> {
        use crate::isolation::Rung;
        let settled = self
            .ladder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(c) = settled {
            let mut t = run(&c.sandbox)?;
            mark(&mut t, c.report(self.cfg.isolation));
            return Ok(t);
        }
        let privileged = crate::ladder::caller_is_privileged();
        let mut refused = Vec::new();
        for rung in Rung::ALL {
            let Some(cfg) = crate::ladder::rung_config(&self.cfg, rung, privileged) else {
                continue;
            };
            let sb = Sandbox {
                cfg,
                ..Sandbox::default()
            };
            match run(&sb) {
                Ok(mut t) => {
                    let c = Arc::new(Chosen {
                        rung,
                        sandbox: sb,
                        refused,
                    });
                    mark(&mut t, c.report(self.cfg.isolation));
                    *self.ladder.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
                    return Ok(t);
                }
                // A lower rung that cannot express the policy (a bind to
                // another path without a mount namespace) did not hold
                // either.
                Err(e)
                    if crate::ladder::refused_by_host(&e)
                        || (rung != Rung::Namespaces && expressible_only_above(&e)) =>
                {
                    refused.push(crate::ladder::refusal(rung, &e));
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::NoIsolation { refused })
    }

    /// Sets the namespaces to create. Without [`Namespaces::USER`], only a
    /// root caller can create the others.
    pub fn namespaces(&mut self, ns: Namespaces) -> &mut Self {
        self.cfg.namespaces = ns;
        self.changed()
    }

    /// How the program reaches the network (default
    /// [`Network::Isolated`]: a network namespace with only loopback). This
    /// sets [`Namespaces::NET`] accordingly; a later
    /// [`namespaces`](Sandbox::namespaces) call decides it again.
    pub fn network(&mut self, network: Network) -> &mut Self {
        match network {
            Network::Isolated => {
                self.cfg.namespaces.insert(Namespaces::NET);
                self.cfg.net_filter = false;
                self.cfg.egress = None;
            }
            Network::Host => {
                self.cfg.namespaces.remove(Namespaces::NET);
                self.cfg.net_filter = false;
                self.cfg.egress = None;
            }
            #[cfg(all(feature = "seccomp", feature = "landlock"))]
            Network::Blocked => {
                self.cfg.namespaces.remove(Namespaces::NET);
                self.cfg.net_filter = true;
                self.cfg.egress = None;
            }
            Network::Filtered => {
                self.cfg.namespaces.insert(Namespaces::NET);
                self.cfg.net_filter = false;
                if self.cfg.egress.is_none() {
                    self.cfg.egress = Some(crate::net::Egress::new());
                }
            }
        }
        self.changed()
    }

    /// A filtered network ([`Network::Filtered`]) under the egress policy
    /// `policy`: the sandbox has a network namespace of its own whose only
    /// way out is a proxy run by the caller's process, which checks each
    /// connection against `policy` and logs it
    /// ([`Outcome::connections`](crate::Outcome::connections)). See
    /// [`Egress`](crate::net::Egress).
    ///
    /// Per policy, not per spawn: the rules are compiled once; each spawn
    /// gets its own listeners and its own log.
    pub fn egress(&mut self, policy: crate::net::Egress) -> &mut Self {
        self.cfg.namespaces.insert(Namespaces::NET);
        self.cfg.net_filter = false;
        self.cfg.egress = Some(policy);
        self.changed()
    }

    /// Publishes the sandbox's TCP port `sandbox_port` on the host address
    /// `host` (port 0: one the kernel picks, see
    /// [`Child::published`](crate::Child::published)): the caller listens
    /// there and forwards each connection into the sandbox's network
    /// namespace, to `127.0.0.1:sandbox_port` (a service listening on
    /// loopback or on every address inside). For servers in sandboxes and
    /// containers (a development server an agent started, a microservice).
    ///
    /// Needs a network namespace of the sandbox's own (isolated or
    /// filtered; [`ConfigError::PublishNeedsNetworkNamespace`](crate::error::ConfigError::PublishNeedsNetworkNamespace)
    /// otherwise). The host address is bound before the sandbox starts: one
    /// in use fails the spawn with [`Error::Io`](crate::Error::Io) naming
    /// it. Each connection is logged with
    /// [`Via::Published`](crate::net::Via::Published).
    pub fn publish(&mut self, host: std::net::SocketAddr, sandbox_port: u16) -> &mut Self {
        self.cfg.publish.push((host, sandbox_port));
        self.changed()
    }

    /// The uid the program runs as inside the sandbox (default: the caller's
    /// own uid). With a user namespace it maps to the caller's uid; without
    /// one, a root caller switches to it.
    pub fn uid(&mut self, uid: u32) -> &mut Self {
        self.cfg.uid = Some(uid);
        self.changed()
    }

    /// The gid the program runs as inside the sandbox (default: the caller's
    /// own gid).
    pub fn gid(&mut self, gid: u32) -> &mut Self {
        self.cfg.gid = Some(gid);
        self.changed()
    }

    /// Maps these ranges of uids in the sandbox's user namespace, in place
    /// of the single uid it maps by default (see [`crate::ids`]). They must
    /// map the program's uid inside ([`uid`](Sandbox::uid), or the
    /// caller's) and the caller's effective uid outside, and may not
    /// overlap. A root caller maps any range; an unprivileged one only its
    /// own uid and what `/etc/subuid` grants it, through `newuidmap`.
    /// Replaces [`subordinate_ids`](Sandbox::subordinate_ids) for uids; an
    /// empty list goes back to the single uid.
    pub fn uid_ranges(
        &mut self,
        ranges: impl IntoIterator<Item = crate::ids::IdRange>,
    ) -> &mut Self {
        self.cfg.uid_ranges = explicit(ranges);
        self.changed()
    }

    /// Maps these ranges of gids, as [`uid_ranges`](Sandbox::uid_ranges)
    /// does uids (`/etc/subgid`, `newgidmap`).
    pub fn gid_ranges(
        &mut self,
        ranges: impl IntoIterator<Item = crate::ids::IdRange>,
    ) -> &mut Self {
        self.cfg.gid_ranges = explicit(ranges);
        self.changed()
    }

    /// With `true`, the user namespace maps the program's uid and gid to
    /// the caller's effective ones, as by default, and every other id from
    /// 0 to 65535 (or as many as they hold) to the caller's subordinate ids
    /// from `/etc/subuid` and `/etc/subgid` (`subuid(5)`; entries by user
    /// name or number, in file order), so that the sandbox's own users,
    /// `chown`, `su` and package managers work, and `setgroups(2)` is
    /// allowed (see [`crate::ids`]). An unprivileged caller needs the
    /// setuid helpers `newuidmap` and `newgidmap` (package `uidmap`).
    /// Ranges given with [`uid_ranges`](Sandbox::uid_ranges) or
    /// [`gid_ranges`](Sandbox::gid_ranges) take precedence for their kind.
    pub fn subordinate_ids(&mut self, yes: bool) -> &mut Self {
        for source in [&mut self.cfg.uid_ranges, &mut self.cfg.gid_ranges] {
            match (yes, &*source) {
                (true, crate::ids::Source::Single) => *source = crate::ids::Source::Subordinate,
                (false, crate::ids::Source::Subordinate) => *source = crate::ids::Source::Single,
                _ => {}
            }
        }
        self.changed()
    }

    /// Sets the hostname inside the sandbox (needs [`Namespaces::UTS`]).
    pub fn hostname(&mut self, name: impl AsRef<OsStr>) -> &mut Self {
        self.cfg.hostname = Some(name.as_ref().to_owned());
        self.changed()
    }

    /// Passes the caller's whole environment to the program instead of only
    /// `PATH`, `HOME`, `TERM`, `LANG`, `LC_ALL` and `TZ`.
    pub fn inherit_env(&mut self, yes: bool) -> &mut Self {
        self.cfg.inherit_env = yes;
        self.changed()
    }

    /// Whether dropping a [`Child`] that was not waited for kills the sandbox
    /// (default `true`). With `false` the sandbox keeps running until it
    /// ends by itself (or with the caller, see
    /// [`die_with_parent`](Sandbox::die_with_parent)); it is then reaped in
    /// the background and what it held is released, however many such
    /// sandboxes the process starts.
    pub fn kill_on_drop(&mut self, yes: bool) -> &mut Self {
        self.cfg.kill_on_drop = yes;
        self.changed()
    }

    /// Whether the sandbox dies when the calling process dies (default
    /// `true`). This holds whichever thread spawned the sandbox and whether
    /// or not that thread still exists, and it follows the process that
    /// spawned: a child it forked neither keeps its sandboxes alive nor
    /// shares them (a forked child's own sandboxes die with that child).
    ///
    /// The sandbox's init watches a pidfd of the caller (Linux 5.3) and a
    /// close-on-exec pipe only the caller holds, so the sandbox also ends
    /// when the caller executes another program. A child forked with libc's
    /// `fork()` closes its copy of the pipe at once; one forked past libc
    /// (a raw `clone` system call) keeps it, and the caller's `exec` then
    /// ends the sandbox only once that child has exited or executed too.
    /// Where `pidfd_open` is missing or refused (`ENOSYS`, `EPERM`), the
    /// pipe alone holds: the sandbox ends when the caller exits or executes,
    /// unless a child forked past libc still holds the pipe.
    pub fn die_with_parent(&mut self, yes: bool) -> &mut Self {
        self.cfg.die_with_parent = yes;
        self.changed()
    }

    /// Makes the program the init (pid 1) of the sandbox's pid namespace,
    /// as a service manager, `busybox init` or a shell that reaps its own
    /// orphans expects (bubblewrap's `--as-pid-1`). Off by default: the
    /// sandbox's init is then stockade's supervisor, which reaps orphans and
    /// forwards signals for the program.
    ///
    /// Supervision stays outside the namespace either way: the supervisor
    /// is the program's parent, one pid namespace up, and enforces the
    /// timeout, dies with the caller and reports the outcome; killing pid 1
    /// ends every process of the namespace. As for any init, a signal other
    /// than `SIGKILL` and `SIGSTOP` reaches the program only if it handles
    /// it. The program's `/proc` is its own namespace's, mounted by the
    /// program process before it executes.
    ///
    /// Needs [`Namespaces::PID`] (a configuration error otherwise).
    /// A [`Container`](crate::Container) started from such a policy with
    /// [`start`](Sandbox::start) has its supervisor as its init, as without
    /// this setting: its programs are each other's peers. A container with
    /// an init of the caller's is [`start_init`](Sandbox::start_init)'s.
    pub fn program_as_init(&mut self, yes: bool) -> &mut Self {
        self.cfg.program_as_init = yes;
        self.changed()
    }

    /// The signal with which [`Container::stop`](crate::Container::stop)
    /// asks a container to stop (default `SIGTERM`): sent to the init of a
    /// container started with [`start_init`](Sandbox::start_init), to
    /// every process of one started with [`start`](Sandbox::start). A
    /// service manager has its own: systemd halts on `SIGRTMIN+3`
    /// (`libc::SIGRTMIN() + 3`), busybox init on `SIGUSR1` (halt),
    /// `SIGUSR2` (power off) or `SIGTERM` (reboot, which in a container
    /// ends its init too). A number outside 1 to 64 is a configuration
    /// error.
    pub fn stop_signal(&mut self, signal: i32) -> &mut Self {
        self.cfg.stop_signal = signal;
        self.changed()
    }

    /// Mounts the sandbox's own cgroup, writable, as a cgroup v2 tree at
    /// `/sys/fs/cgroup` in the program's cgroup namespace, so that a
    /// service manager can make cgroups of its own under it (systemd's
    /// container interface). Off by default.
    ///
    /// The first program of a sandbox mounts it: a one-shot program, the
    /// init of a container started with
    /// [`start_init`](Sandbox::start_init), or the first program run in a
    /// container started with [`start`](Sandbox::start); programs run in
    /// the container later see the same mount. The root must hold the directory
    /// `/sys/fs/cgroup` (an empty root or the default view gets it with
    /// [`dir`](Sandbox::dir)). Needs [`Namespaces::MOUNT`],
    /// [`Namespaces::CGROUP`] and the sandbox's own cgroup (a cgroup limit,
    /// [`cgroup::Config::placement`] or a cgroup parent): a configuration
    /// error otherwise.
    pub fn mount_cgroup(&mut self, yes: bool) -> &mut Self {
        self.cfg.mount_cgroup = yes;
        self.cfg.mount_cgroup_read_only = false;
        self.changed()
    }

    /// Mounts the sandbox's cgroup at `/sys/fs/cgroup` as
    /// [`mount_cgroup`](Sandbox::mount_cgroup) does, but read-only: the
    /// program reads its cgroup's usage and limits and changes nothing
    /// there (an OCI bundle's `ro` cgroup mount).
    ///
    /// Unlike the writable mount it needs no cgroup of the sandbox's own:
    /// without one (no limit, placement or parent), the tree shown is the
    /// cgroup the program runs in, its caller's, as a cgroup namespace
    /// rooted there shows it (what a rootless container engine without
    /// cgroup delegation gives its containers). It still needs
    /// [`Namespaces::MOUNT`] and [`Namespaces::CGROUP`].
    pub fn mount_cgroup_read_only(&mut self) -> &mut Self {
        self.cfg.mount_cgroup = true;
        self.cfg.mount_cgroup_read_only = true;
        self.changed()
    }

    /// Keeps `cap` for the program (every capability is dropped by default:
    /// bounding, ambient, inheritable, permitted and effective sets). Kept
    /// capabilities are raised as ambient so a non-root program keeps them
    /// across `execve`. Inside a user namespace they apply only to what the
    /// namespace owns.
    ///
    /// `CAP_SYS_PTRACE` cannot be kept: the sandbox's init shares the
    /// caller's address space, and what protects it from the program is that
    /// the init holds capabilities the program does not.
    pub fn keep_capability(&mut self, cap: Capability) -> &mut Self {
        self.cfg.caps.keep(cap);
        self.changed()
    }

    /// Sets the whole capability policy at once.
    pub fn capabilities(&mut self, policy: caps::Policy) -> &mut Self {
        self.cfg.caps = policy;
        self.changed()
    }

    // ---- Filesystem ----

    /// Appends a filesystem operation (the typed form of the methods below).
    pub fn fs_op(&mut self, op: fs::Op) -> &mut Self {
        self.cfg.fs.ops.push(op);
        self.changed()
    }

    /// Uses a host directory (an unpacked image, a debootstrap tree) as the
    /// read-only root instead of the host system view (writable with
    /// [`writable_root`](Sandbox::writable_root)).
    pub fn root_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cfg.fs.root = fs::Root::Dir(dir.as_ref().to_owned());
        self.cfg.fs.root_bind = fs::RootBind::ReadOnly;
        self.changed()
    }

    /// Binds a host directory as `/` in place, read-write (`devices`:
    /// with its device nodes usable), as bubblewrap's `--bind DIR /` and
    /// `--dev-bind DIR /` do: unlike [`writable_root`](Sandbox::writable_root)
    /// there is no overlay, and what the program changes there is changed
    /// on the host. Submounts are bound too; the root stays `nosuid`. Use
    /// it only for a program trusted with `dir`, and combine it with
    /// [`mask_host_secrets(false)`](Sandbox::mask_host_secrets) to bind the
    /// host's `/` without masks.
    pub fn root_dir_in_place(&mut self, dir: impl AsRef<Path>, devices: bool) -> &mut Self {
        self.cfg.fs.root = fs::Root::Dir(dir.as_ref().to_owned());
        self.cfg.fs.root_bind = if devices {
            fs::RootBind::Devices
        } else {
            fs::RootBind::ReadWrite
        };
        self.changed()
    }

    /// Uses host directories stacked as the read-only layers of one overlay
    /// as the root, the bottom layer first: an unpacked image's layers (see
    /// [`fs::Root::Layers`]; `stockade::image` gives them with the feature
    /// `image`). Add [`writable_root`](Sandbox::writable_root) for a
    /// writable container layer on top, which never changes the layers.
    pub fn root_layers<I, P>(&mut self, layers: I) -> &mut Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        self.cfg.fs.root =
            fs::Root::Layers(layers.into_iter().map(|p| p.as_ref().to_owned()).collect());
        self.cfg.fs.root_bind = fs::RootBind::ReadOnly;
        self.changed()
    }

    /// Starts from an empty root: only `/proc`, `/dev`, `/tmp` and what the
    /// plan adds.
    pub fn empty_root(&mut self) -> &mut Self {
        self.cfg.fs.root = fs::Root::Empty;
        self.changed()
    }

    /// Whether to mount `/proc` (default `true`).
    pub fn proc(&mut self, yes: bool) -> &mut Self {
        self.cfg.fs.proc = yes;
        self.changed()
    }

    /// Whether to create the minimal `/dev` (default `true`).
    pub fn dev(&mut self, yes: bool) -> &mut Self {
        self.cfg.fs.dev = yes;
        self.changed()
    }

    /// Whether to mount a private tmpfs on `/tmp` (default `true`).
    pub fn tmp(&mut self, yes: bool) -> &mut Self {
        self.cfg.fs.tmp = yes;
        self.changed()
    }

    /// Whether to mount a fresh, read-only `sysfs` on `/sys` (default
    /// `false`: the sandbox has no `/sys`). It shows the devices of the
    /// sandbox's own network namespace (only `lo`) and the kernel's other
    /// objects (devices, modules, power, firmware) read-only; a service
    /// manager running as a container's init expects it
    /// ([`start_init`](Sandbox::start_init)). With a user namespace the
    /// kernel mounts sysfs only for a network namespace of the sandbox's
    /// own: without [`Namespaces::NET`] the policy is refused
    /// ([`ConfigError::SysNeedsNetworkNamespace`](crate::error::ConfigError::SysNeedsNetworkNamespace)).
    /// A policy with `/sys` builds its root for each sandbox (no
    /// template).
    pub fn sys(&mut self, yes: bool) -> &mut Self {
        self.cfg.fs.sys = yes;
        self.changed()
    }

    /// Whether to mount a fresh POSIX message queue filesystem (`mqueue`)
    /// on `/dev/mqueue` (default `false`), as container engines do: it
    /// shows the queues of the sandbox's IPC namespace, its own with
    /// [`Namespaces::IPC`] (the default), else the caller's, which the
    /// program reaches through `mq_open` anyway. It needs the minimal
    /// `/dev` ([`dev`](Sandbox::dev)), which holds it, and with a user
    /// namespace an IPC namespace of the sandbox's own (the kernel mounts
    /// mqueue only for an IPC namespace the mounting user namespace owns);
    /// refused otherwise with
    /// [`ConfigError::MqueueNeedsIpcNamespace`](crate::error::ConfigError::MqueueNeedsIpcNamespace).
    /// The queues work without the mount; it lets programs list and
    /// remove them as files.
    pub fn mqueue(&mut self, yes: bool) -> &mut Self {
        self.cfg.fs.mqueue = yes;
        self.changed()
    }

    /// Whether the program gets a private, writable, empty home directory
    /// (default `true`): in the default view, a tmpfs of mode 0700 owned by
    /// the program's ids at the caller's `HOME` (or at `/home/sandbox` when
    /// `HOME` is unset or names a directory the view already provides, such
    /// as `/`, `/tmp` or a system directory), and `HOME` set to it, so that
    /// tools that write dotfiles and caches work. Like the private `/tmp` it
    /// lives as long as the sandbox (a container's execs share it) and holds
    /// nothing of the caller's home. A policy that puts anything at, in or
    /// above that path (a bind of a project into `~/src`, say) has taken the
    /// home over and gets none; a custom or empty root gets none either.
    pub fn private_home(&mut self, yes: bool) -> &mut Self {
        self.cfg.fs.home = yes;
        self.changed()
    }

    /// Whether to hide known secret files of the host's `/etc` (default
    /// `true`): shadow and gshadow, sudoers, SSH host keys, Kerberos
    /// keytabs, TLS private keys, stored Wi-Fi credentials, `machine-id`;
    /// for a root caller, also every entry of `/etc` that others may not
    /// read (its program would own them). They are hidden in the default
    /// view and beneath any bind, overlay or root directory whose source
    /// contains them (`bind_ro("/etc", ..)`, `root_dir("/")`); a source that
    /// is one of them is refused ([`fs::Error::HostSecret`]). `false` is the
    /// opt-in that exposes them all to explicit sources (CLI
    /// `--expose-host-secrets`, policy file
    /// `filesystem.mask_host_secrets = false`).
    ///
    /// A root caller's default view stays closed all the same: its system
    /// directories are idmapped so that the program reads there only what
    /// others may, or, where that cannot be done, the entries of `/etc` that
    /// others may not read are masked regardless of this setting (see
    /// [`Enforcement::system_view_idmapped`](crate::Enforcement::system_view_idmapped)).
    /// To give a root caller's program one of them, bind it explicitly with
    /// this opt-in: `mask_host_secrets(false).bind_ro("/etc/shadow",
    /// "/etc/shadow")`.
    pub fn mask_host_secrets(&mut self, yes: bool) -> &mut Self {
        self.cfg.fs.mask_secrets = yes;
        self.changed()
    }

    /// Binds a host path read-only at `dest` (recursively: submounts are
    /// read-only too).
    pub fn bind_ro(&mut self, src: impl AsRef<Path>, dest: impl AsRef<Path>) -> &mut Self {
        self.bind(src.as_ref(), dest.as_ref(), true, false)
    }

    /// Binds a host path read-write at `dest`.
    pub fn bind_rw(&mut self, src: impl AsRef<Path>, dest: impl AsRef<Path>) -> &mut Self {
        self.bind(src.as_ref(), dest.as_ref(), false, false)
    }

    /// Like [`bind_ro`](Sandbox::bind_ro), but skipped when `src` does not
    /// exist.
    pub fn bind_ro_try(&mut self, src: impl AsRef<Path>, dest: impl AsRef<Path>) -> &mut Self {
        self.bind(src.as_ref(), dest.as_ref(), true, true)
    }

    /// Like [`bind_rw`](Sandbox::bind_rw), but skipped when `src` does not
    /// exist.
    pub fn bind_rw_try(&mut self, src: impl AsRef<Path>, dest: impl AsRef<Path>) -> &mut Self {
        self.bind(src.as_ref(), dest.as_ref(), false, true)
    }

    fn bind(&mut self, src: &Path, dest: &Path, read_only: bool, optional: bool) -> &mut Self {
        self.fs_op(fs::Op::Bind {
            src: src.to_owned(),
            dest: dest.to_owned(),
            read_only,
            optional,
            devices: false,
            no_exec: false,
        })
    }

    /// Binds a host device node (or a directory of them) at `dest`. Device
    /// access is otherwise off: every other mount is `nodev`.
    pub fn bind_dev(&mut self, src: impl AsRef<Path>, dest: impl AsRef<Path>) -> &mut Self {
        self.fs_op(fs::Op::Bind {
            src: src.as_ref().to_owned(),
            dest: dest.as_ref().to_owned(),
            read_only: false,
            optional: false,
            devices: true,
            no_exec: false,
        })
    }

    /// Mounts a fresh tmpfs at `dest`.
    ///
    /// ```
    /// # use stockade::{Sandbox, fs};
    /// Sandbox::new().tmpfs("/scratch", fs::TmpfsOptions { size: Some(64 << 20), mode: Some(0o700) });
    /// ```
    pub fn tmpfs(&mut self, dest: impl AsRef<Path>, options: fs::TmpfsOptions) -> &mut Self {
        self.fs_op(fs::Op::Tmpfs {
            dest: dest.as_ref().to_owned(),
            options,
        })
    }

    /// Creates an empty directory at `dest` (mode 0755).
    pub fn dir(&mut self, dest: impl AsRef<Path>) -> &mut Self {
        self.fs_op(fs::Op::Dir {
            dest: dest.as_ref().to_owned(),
            mode: None,
        })
    }

    /// Creates a symbolic link at `dest` pointing to `target`.
    pub fn symlink(&mut self, target: impl AsRef<Path>, dest: impl AsRef<Path>) -> &mut Self {
        self.fs_op(fs::Op::Symlink {
            target: target.as_ref().to_owned(),
            dest: dest.as_ref().to_owned(),
        })
    }

    /// Places a read-only file with `contents` at `dest` (mode 0444).
    pub fn file(&mut self, dest: impl AsRef<Path>, contents: impl Into<Vec<u8>>) -> &mut Self {
        self.fs_op(fs::Op::File {
            dest: dest.as_ref().to_owned(),
            contents: contents.into(),
            mode: None,
        })
    }

    /// Mounts a writable overlay of the host directory `lower` at `dest`:
    /// the program can change anything there, the changes live in memory and
    /// vanish with the sandbox, and `lower` is never modified.
    pub fn overlay(&mut self, lower: impl AsRef<Path>, dest: impl AsRef<Path>) -> &mut Self {
        self.overlay_with_upper(lower, dest, fs::Upper::Temporary)
    }

    /// Mounts a writable overlay of the host directory `lower` at `dest`
    /// whose changes go to `upper`: with [`fs::Upper::Persistent`], a layer
    /// directory that keeps them from one sandbox to the next and that
    /// [`layer::Layer`](crate::layer::Layer) lists, commits to `lower` or
    /// discards. `lower` is never modified by the sandbox.
    pub fn overlay_with_upper(
        &mut self,
        lower: impl AsRef<Path>,
        dest: impl AsRef<Path>,
        upper: fs::Upper,
    ) -> &mut Self {
        self.fs_op(fs::Op::Overlay {
            lower: lower.as_ref().to_owned(),
            dest: dest.as_ref().to_owned(),
            upper,
        })
    }

    /// Makes the whole root writable: an overlay whose lower layer is the
    /// root directory ([`root_dir`](Sandbox::root_dir)) or, in the default
    /// view, each host system directory (`/usr`, `/etc`, `/lib*`, `/bin`,
    /// `/sbin`; the top level of `/` itself stays read-only), and whose
    /// upper layer is `upper`: [`fs::Upper::Temporary`] gives each sandbox
    /// a fresh one, discarded with it; [`fs::Upper::Persistent`] keeps the
    /// changes in a layer directory whose `upper/` is one tree of the whole
    /// root (`upper/usr/...`, `upper/etc/...`), so a container's changes
    /// persist across stop and start (see [`crate::layer`]). The lower tree
    /// is never modified by the sandbox; mounts inside it (submounts of
    /// the root directory) are not part of the overlay.
    ///
    /// Linux 5.11 for an unprivileged caller. The program can change only
    /// what its ids may: an unprivileged caller's program cannot modify
    /// files owned by ids its user namespace does not map (in the default
    /// view, the host's root-owned system files). A root caller's default
    /// view is not idmapped when writable (see
    /// [`mask_host_secrets`](Sandbox::mask_host_secrets): what only root
    /// may read in `/etc` is masked instead). Without a root directory or
    /// the default view ([`empty_root`](Sandbox::empty_root)) the policy is
    /// refused ([`fs::Error::WritableEmptyRoot`]).
    pub fn writable_root(&mut self, upper: fs::Upper) -> &mut Self {
        self.cfg.fs.writable_root = Some(upper);
        self.changed()
    }

    /// Hides `path`: a file becomes unreadable, a directory empty and
    /// unreadable.
    pub fn mask(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.fs_op(fs::Op::Mask {
            dest: path.as_ref().to_owned(),
        })
    }

    /// The filesystem operations added so far, in order.
    pub fn get_fs_ops(&self) -> &[fs::Op] {
        &self.cfg.fs.ops
    }

    // ---- Limits ----

    /// Ends the sandbox after `limit` of wall-clock time: the supervisor
    /// kills every process in it, and the outcome says
    /// [`Verdict::TimedOut`](crate::Verdict::TimedOut). The clock starts
    /// when the program's process is created. A zero duration is rejected.
    pub fn timeout(&mut self, limit: Duration) -> &mut Self {
        self.cfg.timeout = Some(limit);
        self.changed()
    }

    /// Sets a resource limit on the program: the `soft` value the kernel
    /// enforces and the `hard` ceiling up to which the program may raise it
    /// (`soft <= hard`, checked by [`validate`](Sandbox::validate); pass the
    /// same value twice for a fixed limit, [`Rlimit::INFINITY`] for none).
    /// Limits apply to each process separately and are inherited across
    /// `fork`; a process cannot raise its hard limit again.
    pub fn rlimit(&mut self, resource: Rlimit, soft: u64, hard: u64) -> &mut Self {
        self.cfg.rlimits.insert(resource, (soft, hard));
        self.changed()
    }

    /// Limits the CPU time of each process in the sandbox (`RLIMIT_CPU`,
    /// rounded up to whole seconds): `SIGXCPU` at the limit, `SIGKILL` one
    /// second later. The outcome says
    /// [`Verdict::CpuTimeExceeded`](crate::Verdict::CpuTimeExceeded) when the
    /// program died of either.
    pub fn cpu_time_limit(&mut self, limit: Duration) -> &mut Self {
        let secs = limit.as_secs() + u64::from(limit.subsec_nanos() > 0);
        self.rlimit(Rlimit::Cpu, secs, secs.saturating_add(1))
    }

    // ---- cgroup v2 limits ----
    //
    // Each spawn of a sandbox with any of these gets a cgroup of its own,
    // removed when the sandbox ends. They need a cgroup v2 hierarchy where
    // the caller may create cgroups with the controller: without one, spawning
    // fails with `Error::Unsupported` naming the controller and how to get it,
    // unless the cgroup policy's `compat` is `CompatLevel::BestEffort`. The
    // three most common limits have setters here; the whole policy (a
    // delegated parent, swap, memory.high, cpu.weight, io.max, cpusets,
    // best effort) is plain data behind `cgroup_mut`.

    /// Limits the memory of the whole sandbox (`memory.max`, Linux 4.5): the
    /// kernel reclaims above it, then OOM-kills every process of the sandbox
    /// (`memory.oom.group`, Linux 4.19), and the outcome says
    /// [`Verdict::OomKilled`](crate::Verdict::OomKilled). Swap is off unless
    /// [`cgroup::Config::swap_max`] allows some.
    pub fn memory_limit(&mut self, bytes: u64) -> &mut Self {
        self.cfg.cgroup.memory_max = Some(bytes);
        self.changed()
    }

    /// Limits the number of processes and threads alive at once in the
    /// sandbox (`pids.max`, Linux 4.5); a fork beyond it fails with `EAGAIN`,
    /// and [`Usage::pids_limit_hit`](crate::Usage::pids_limit_hit) tells.
    pub fn pids_limit(&mut self, n: u64) -> &mut Self {
        self.cfg.cgroup.pids_max = Some(n);
        self.changed()
    }

    /// Limits the CPU bandwidth of the sandbox to `cpus` CPUs (`cpu.max`,
    /// Linux 4.15): 0.5 lets it run half of each 100 ms period.
    pub fn cpus(&mut self, cpus: f64) -> &mut Self {
        self.cfg.cgroup.cpus = Some(cpus);
        self.changed()
    }

    /// The whole cgroup policy, to change in place: where the sandboxes'
    /// cgroups are made ([`cgroup::Config::parent`], a cgroup v2 directory
    /// delegated to the caller; the default is the caller's own cgroup,
    /// which serves only where it may enable controllers for its children),
    /// the limits, and what happens when a limit cannot be enforced here
    /// ([`cgroup::Config::compat`]).
    ///
    /// ```
    /// use stockade::{CompatLevel, Sandbox};
    ///
    /// let mut sandbox = Sandbox::new();
    /// sandbox.memory_limit(256 << 20);
    /// let cgroup = sandbox.cgroup_mut();
    /// cgroup.parent = Some("/sys/fs/cgroup/my-service/sandboxes".into());
    /// cgroup.cpu_weight = Some(50);
    /// cgroup.compat = CompatLevel::BestEffort;
    /// ```
    pub fn cgroup_mut(&mut self) -> &mut cgroup::Config {
        self.changed();
        &mut self.cfg.cgroup
    }

    /// The cgroup policy set so far.
    pub fn get_cgroup(&self) -> &cgroup::Config {
        &self.cfg.cgroup
    }

    // ---- Landlock ----

    /// Enforces a Landlock policy on the program (Linux 5.13+; network
    /// rules 6.7+, scopes 6.12+), replacing any earlier one. Rule paths are
    /// absolute paths as the program sees them (inside the sandbox's root
    /// when there is a mount namespace); each program process opens them
    /// after the root filesystem is built. A rule path missing from the
    /// sandbox fails the spawn with a [`error::SetupError`](crate::error::SetupError)
    /// at [`Stage::Landlock`](crate::error::Stage::Landlock) naming it, unless the
    /// rule is optional ([`landlock::Policy::allow_try`](crate::landlock::Policy::allow_try)) or the filesystem
    /// group is best-effort. (Rules left out that way are decided by each
    /// program process and are not listed in the report.)
    ///
    /// The policy is checked against the kernel once: what it requires and
    /// the kernel lacks is an [`Error::Landlock`], what is best-effort and
    /// missing is listed in the [`Enforcement`](crate::Enforcement) report.
    /// Landlock needs `no_new_privs` (the default) or `CAP_SYS_ADMIN` kept.
    #[cfg(feature = "landlock")]
    pub fn landlock(&mut self, policy: crate::landlock::Policy) -> &mut Self {
        self.cfg.landlock = Some(policy);
        self.changed()
    }

    /// Adds Landlock rules mirroring the filesystem plan (see
    /// [`landlock::Policy::from_fs_plan`](crate::landlock::Policy::from_fs_plan)):
    /// with a mount namespace they back up the mounts; without one
    /// ([`Namespaces::empty()`], where namespaces are unavailable) they
    /// stand in for them, so the program still sees only the host system
    /// directories (without its secrets), `/proc`, the minimal `/dev`'s
    /// devices and what is bound (at the same path). The rules join those of
    /// [`landlock`](Sandbox::landlock), with its compatibility levels (a
    /// hard requirement without one).
    #[cfg(feature = "landlock")]
    pub fn landlock_mirror_fs(&mut self, yes: bool) -> &mut Self {
        self.cfg.landlock_mirror_fs = yes;
        self.changed()
    }

    // ---- seccomp ----

    /// Filters the program's system calls with `policy` (Linux 3.17; the
    /// kill-process action 4.14), replacing the default profile
    /// ([`seccomp::Policy::default_profile`](crate::seccomp::Policy::default_profile)),
    /// which every sandbox has unless told otherwise.
    ///
    /// The policy is compiled into a BPF program once per sandbox policy
    /// (a policy that does not compile is a [`ConfigError::Seccomp`](crate::error::ConfigError::Seccomp)), and
    /// the program process installs it last, after dropping capabilities,
    /// setting `no_new_privs` and applying Landlock, right before executing
    /// the program. So the filter must allow `execve` for the program to
    /// start (an allowlist gets it from
    /// [`SyscallGroup::Process`](crate::seccomp::SyscallGroup::Process)): a
    /// policy that refuses it whatever its arguments is refused with
    /// [`ConfigError::SeccompDeniesExec`](crate::error::ConfigError::SeccompDeniesExec);
    /// one that refuses it for some arguments only fails such a spawn with
    /// [`Error::NotExecutable`] carrying its `errno`, or, with a killing
    /// action, ends the program with `SIGSYS` before it runs. Installing a
    /// filter needs `no_new_privs` (the default) or `CAP_SYS_ADMIN` kept in
    /// the sandbox; otherwise the sandbox is refused with
    /// [`ConfigError::SeccompNeedsNoNewPrivs`](crate::error::ConfigError::SeccompNeedsNoNewPrivs).
    ///
    /// ```
    /// use stockade::{Sandbox, seccomp};
    ///
    /// // The default profile, with the mkdir calls answering EACCES.
    /// let mut policy = seccomp::Policy::default_profile();
    /// let eacces = seccomp::Action::Errno(libc::EACCES as u16);
    /// policy
    ///     .rule(seccomp::SyscallRule::new("mkdir", eacces))
    ///     .rule(seccomp::SyscallRule::new("mkdirat", eacces));
    /// let mut sandbox = Sandbox::new();
    /// sandbox.seccomp(policy);
    /// # sandbox.validate().unwrap();
    /// ```
    ///
    /// `None` runs the program without a seccomp filter. Namespaces,
    /// capabilities and `no_new_privs` still apply, but the whole kernel
    /// interface is reachable: creating nested namespaces, io_uring, `bpf`,
    /// `perf_event_open`, `TIOCSTI` and the other calls the default profile
    /// denies. The enforcement report then says `seccomp: none`.
    #[cfg(feature = "seccomp")]
    pub fn seccomp(&mut self, policy: impl Into<Option<crate::seccomp::Policy>>) -> &mut Self {
        self.cfg.seccomp = policy.into();
        self.changed()
    }

    /// Installs a caller-made classic BPF program as well (repeatable; in
    /// the order added), after the [`seccomp`](Sandbox::seccomp) policy's
    /// filter or alone when that is `None`, right before the program is
    /// executed: bubblewrap's `--seccomp FD`. The kernel runs every filter
    /// and the most restrictive answer wins, so such a program can only
    /// restrict further. It needs `no_new_privs` (the default) or
    /// `CAP_SYS_ADMIN` kept; a program the kernel refuses fails the spawn
    /// at [`Stage::Seccomp`](crate::stage::Stage::Seccomp). The enforcement
    /// report counts these programs
    /// ([`Enforcement::seccomp_programs`](crate::Enforcement::seccomp_programs))
    /// but cannot say what they do.
    #[cfg(feature = "seccomp")]
    pub fn seccomp_program(&mut self, program: crate::seccomp::Program) -> &mut Self {
        self.cfg.seccomp_programs.push(program);
        self.changed()
    }

    /// Whether the seccomp filter's refusals are observed and reported
    /// ([`Outcome::denials`](crate::Outcome::denials),
    /// [`on_denial`](Sandbox::on_denial)). On by default.
    ///
    /// Observed, the filter sends each call it refuses to a thread of the
    /// calling process (`SECCOMP_RET_USER_NOTIF`, Linux 5.0), which records
    /// it and answers with the policy's errno: the program sees the same
    /// refusal, some microseconds later. Allowed calls cost nothing more
    /// (unless [`observe_writes`](Sandbox::observe_writes) asks for the
    /// writes to be looked at). Off, or where the kernel or an outer filter does not allow it,
    /// the plain filter is installed, exactly as without observation, and
    /// [`Denials::syscalls`](crate::denials::Denials::syscalls) says why
    /// nothing was observed. See [`denials`](crate::denials).
    pub fn observe_denials(&mut self, on: bool) -> &mut Self {
        self.cfg.observe_denials = on;
        self.changed()
    }

    /// Whether writes to the filesystem are looked at, so that those a
    /// read-only mount refuses are reported (inferred:
    /// [`Kind::Filesystem`](crate::denials::Kind::Filesystem)). Off by
    /// default: each write the filter allows (an open to write, create or
    /// truncate, `mkdir`, `unlink`, `rename`, `chmod`, `chown`, ...) then
    /// makes a round trip to the caller's observer before it runs (some
    /// microseconds; Linux 5.5), which the observer lets go on unchanged
    /// after resolving its path inside the sandbox's root. Needs
    /// [`observe_denials`](Sandbox::observe_denials), and a policy that
    /// refuses `userfaultfd` and mounting (as the default profile does).
    pub fn observe_writes(&mut self, on: bool) -> &mut Self {
        self.cfg.observe_writes = on;
        self.changed()
    }

    /// Calls `f` for each refusal as it happens: a system call the seccomp
    /// filter refused (on the observer's thread, before the call returns in
    /// the sandbox: keep it short, the program waits, and do not wait in it
    /// for the sandbox), a connection the network policy refused (on the
    /// network engine's thread), and, when the sandbox has ended, each
    /// limit it hit. Each call gets one refusal (`count` 1); a panic in `f`
    /// is caught and loses only that call. Programs run in a container
    /// stream theirs too.
    pub fn on_denial(
        &mut self,
        f: impl Fn(&crate::denials::Event) + Send + Sync + 'static,
    ) -> &mut Self {
        self.cfg.on_denial = Some(crate::net::policy::Hook(Arc::new(f)));
        self.changed()
    }

    // ---- Validation and spawning ----

    /// Checks the policy and prepares everything that depends only on it.
    /// [`spawn`](Sandbox::spawn) does this too; calling it early reports
    /// configuration errors before any command exists.
    pub fn validate(&self) -> Result<(), Error> {
        self.compiled().map(drop)
    }

    /// Spawns with the stdio defaults of the calling method (`spawn`'s, or
    /// `output`'s).
    pub(crate) fn spawn_with(
        &self,
        cmd: &mut Command,
        default_out: StdioKind,
        default_in: StdioKind,
    ) -> Result<Child, Error> {
        if self.cfg.isolation != crate::isolation::Isolation::Strict {
            // The defaults are plain kinds (never a descriptor), given
            // afresh to each rung tried.
            let plain = |k: &StdioKind| match k {
                StdioKind::Null => StdioKind::Null,
                StdioKind::Piped => StdioKind::Piped,
                _ => StdioKind::Inherit,
            };
            return self.on_ladder(
                |sb| sb.spawn_with(cmd, plain(&default_out), plain(&default_in)),
                |child, report| child.inner.enforcement.isolation = report,
            );
        }
        let compiled = self.compiled()?;
        crate::spawn::spawn(&self.cfg, &compiled, cmd, default_out, default_in)
    }

    pub(crate) fn compiled(&self) -> Result<Arc<Compiled>, Error> {
        // Threads compiling at once each compile (one result is cached);
        // none waits for another, as a process forked meanwhile would for
        // good.
        let c = self
            .cache
            .get_or_try_init(|| compile::compile(&self.cfg).map(Arc::new))?;
        Ok(Arc::clone(&c))
    }

    /// Starts `cmd` in a new sandbox. Standard streams are inherited unless
    /// the command says otherwise.
    ///
    /// Returns once the program has been executed, or with a typed error
    /// naming the setup step and item that failed.
    pub fn spawn(&self, cmd: &mut Command) -> Result<Child, Error> {
        self.spawn_with(cmd, StdioKind::Inherit, StdioKind::Inherit)
    }

    /// Starts a container of this policy: its namespaces, root filesystem
    /// and cgroup are set up, and its init waits for programs to run (see
    /// [`Container`](crate::Container)).
    pub fn start(&self) -> Result<crate::Container, Error> {
        if self.cfg.isolation != crate::isolation::Isolation::Strict {
            return self.on_ladder(
                |sb| sb.start(),
                |container, report| container.set_isolation(report),
            );
        }
        let compiled = self.compiled()?;
        let up = crate::spawn::start(&self.cfg, &compiled)?;
        crate::Container::new(self.cfg.clone(), compiled, up)
    }

    /// Starts a system container of this policy whose init (pid 1 of its
    /// pid namespace) is `init`: a service manager, `busybox init`, a
    /// shell. See [`Container`](crate::Container#a-containers-own-init).
    ///
    /// The init's standard streams are inherited unless `init` says
    /// otherwise (piped ones are taken with
    /// [`Container::take_stdin`](crate::Container::take_stdin) and its
    /// siblings); its environment also holds `container=stockade` unless
    /// `init` sets `container` itself. Returns once the init has been
    /// executed, with the same typed errors as
    /// [`spawn`](Sandbox::spawn). Needs [`Namespaces::PID`]
    /// ([`ConfigError::StartInitNeedsPidNamespace`](crate::error::ConfigError::StartInitNeedsPidNamespace)
    /// otherwise).
    pub fn start_init(&self, init: &mut Command) -> Result<crate::Container, Error> {
        let compiled = self.compiled()?;
        if !self.cfg.namespaces.contains(Namespaces::PID) {
            return Err(crate::error::ConfigError::StartInitNeedsPidNamespace.into());
        }
        let (up, stdio) = crate::spawn::start_init(&self.cfg, &compiled, init)?;
        let mut c = crate::Container::new(self.cfg.clone(), compiled, up)?;
        c.set_init_stdio(stdio);
        Ok(c)
    }

    /// Runs `cmd` to completion, capturing stdout and stderr (stdin is
    /// `/dev/null` unless the command says otherwise).
    pub fn output(&self, cmd: &mut Command) -> Result<Output, Error> {
        let child = self.spawn_with(cmd, StdioKind::Piped, StdioKind::Null)?;
        child.wait_with_output().map_err(|source| Error::Io {
            op: crate::error::ParentOp::Wait,
            source,
        })
    }

    /// Runs `cmd` to completion with inherited streams and returns its
    /// status.
    pub fn status(&self, cmd: &mut Command) -> Result<ExitStatus, Error> {
        let mut child = self.spawn(cmd)?;
        child.wait().map_err(|source| Error::Io {
            op: crate::error::ParentOp::Wait,
            source,
        })
    }
}

impl PartialEq for Sandbox {
    fn eq(&self, other: &Self) -> bool {
        self.cfg == other.cfg
    }
}

/// The source of explicit ranges (none: the single id).
fn explicit(ranges: impl IntoIterator<Item = crate::ids::IdRange>) -> crate::ids::Source {
    let v: Vec<_> = ranges.into_iter().collect();
    if v.is_empty() {
        crate::ids::Source::Single
    } else {
        crate::ids::Source::Explicit(v)
    }
}
