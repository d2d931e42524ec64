//! The plain data behind a [`Sandbox`](crate::Sandbox): what its builder
//! methods set, before any lowering.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::time::Duration;

use crate::caps;
use crate::cgroup;
use crate::fs;
use crate::namespaces::Namespaces;
use crate::rlimit::Rlimit;

/// A sandbox policy as its builder left it. Plain data: validated and
/// lowered by `compile`, once per policy.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Config {
    pub(crate) namespaces: Namespaces,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    /// How the user namespace maps uids and gids besides the program's.
    pub(crate) uid_ranges: crate::ids::Source,
    pub(crate) gid_ranges: crate::ids::Source,
    pub(crate) hostname: Option<OsString>,
    pub(crate) inherit_env: bool,
    pub(crate) kill_on_drop: bool,
    pub(crate) die_with_parent: bool,
    pub(crate) caps: caps::Policy,
    pub(crate) fs: fs::Config,
    pub(crate) timeout: Option<Duration>,
    /// resource -> (soft, hard)
    pub(crate) rlimits: BTreeMap<Rlimit, (u64, u64)>,
    pub(crate) cgroup: cgroup::Config,
    /// Networking denied by seccomp and Landlock instead of a network
    /// namespace ([`Sandbox::deny_net_by_filter`](crate::Sandbox::deny_net_by_filter)).
    pub(crate) net_filter: bool,
    /// The filtered network's egress policy
    /// ([`Sandbox::egress`](crate::Sandbox::egress)); `None`: not filtered.
    pub(crate) egress: Option<crate::net::Egress>,
    /// Published ports: a host address the caller listens on, and the port
    /// inside the sandbox it forwards to
    /// ([`Sandbox::publish`](crate::Sandbox::publish)).
    pub(crate) publish: Vec<(std::net::SocketAddr, u16)>,
    /// The program is the init (pid 1) of the sandbox's pid namespace
    /// ([`Sandbox::program_as_init`](crate::Sandbox::program_as_init)).
    pub(crate) program_as_init: bool,
    /// The signal that asks a container to stop
    /// ([`Sandbox::stop_signal`](crate::Sandbox::stop_signal)).
    pub(crate) stop_signal: i32,
    /// The sandbox's cgroup, in its cgroup namespace, at /sys/fs/cgroup
    /// ([`Sandbox::mount_cgroup`](crate::Sandbox::mount_cgroup)).
    pub(crate) mount_cgroup: bool,
    /// That mount is read-only
    /// ([`Sandbox::mount_cgroup_read_only`](crate::Sandbox::mount_cgroup_read_only)).
    pub(crate) mount_cgroup_read_only: bool,
    #[cfg(feature = "landlock")]
    pub(crate) landlock: Option<crate::landlock::Policy>,
    #[cfg(feature = "landlock")]
    pub(crate) landlock_mirror_fs: bool,
    /// The seccomp policy (`None`: no filter).
    #[cfg(feature = "seccomp")]
    pub(crate) seccomp: Option<crate::seccomp::Policy>,
    /// Caller-made programs installed after the filter
    /// ([`Sandbox::seccomp_program`](crate::Sandbox::seccomp_program)).
    #[cfg(feature = "seccomp")]
    pub(crate) seccomp_programs: Vec<crate::seccomp::Program>,
    /// Refusals of the seccomp filter are observed
    /// ([`Sandbox::observe_denials`](crate::Sandbox::observe_denials)).
    pub(crate) observe_denials: bool,
    /// Writes to the filesystem are looked at for read-only mounts
    /// ([`Sandbox::observe_writes`](crate::Sandbox::observe_writes)).
    pub(crate) observe_writes: bool,
    /// Called for each refusal as it is observed
    /// ([`Sandbox::on_denial`](crate::Sandbox::on_denial)).
    pub(crate) on_denial: Option<crate::net::policy::Hook<crate::denials::Callback>>,
    /// Whether the sandbox may step down the isolation ladder
    /// ([`Sandbox::isolation`](crate::Sandbox::isolation)).
    pub(crate) isolation: crate::isolation::Isolation,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            namespaces: Namespaces::default(),
            uid: None,
            gid: None,
            uid_ranges: crate::ids::Source::Single,
            gid_ranges: crate::ids::Source::Single,
            hostname: None,
            inherit_env: false,
            kill_on_drop: true,
            die_with_parent: true,
            caps: caps::Policy::new(),
            fs: fs::Config::default(),
            timeout: None,
            rlimits: BTreeMap::new(),
            cgroup: cgroup::Config::default(),
            net_filter: false,
            egress: None,
            publish: Vec::new(),
            program_as_init: false,
            stop_signal: libc::SIGTERM,
            mount_cgroup: false,
            mount_cgroup_read_only: false,
            #[cfg(feature = "landlock")]
            landlock: None,
            #[cfg(feature = "landlock")]
            landlock_mirror_fs: false,
            #[cfg(feature = "seccomp")]
            seccomp: Some(crate::seccomp::Policy::default_profile()),
            #[cfg(feature = "seccomp")]
            seccomp_programs: Vec::new(),
            observe_denials: true,
            observe_writes: false,
            on_denial: None,
            isolation: crate::isolation::Isolation::Strict,
        }
    }
}
