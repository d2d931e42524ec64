//! Run child processes inside a Linux sandbox, with an API shaped like
//! [`std::process`].
//!
//! A [`Sandbox`] is a reusable policy; [`Command`], [`Stdio`], [`Child`],
//! [`ExitStatus`] and [`Output`] behave like their `std::process`
//! namesakes. Everything is secure by default, and every setter of
//! `Sandbox` either opens something up or adds a restriction, explicitly.
//!
//! # Quickstart
//!
//! ```
//! use stockade::{Command, Sandbox};
//!
//! # fn main() -> Result<(), stockade::Error> {
//! // The default policy: new user, mount, pid, network, IPC, UTS and cgroup
//! // namespaces, a read-only view of the host's system directories without its
//! // secrets, fresh /proc, minimal /dev, private /tmp, a cleared environment,
//! // no capabilities, no_new_privs and the default seccomp profile.
//! let sandbox = Sandbox::new();
//!
//! let out = sandbox.output(Command::new("sh").arg("-c").arg("echo $$; ls /"))?;
//! assert!(out.status.success());
//! let text = String::from_utf8_lossy(&out.stdout);
//! assert!(text.starts_with("2\n"), "the program is pid 2, under the sandbox's init");
//! assert!(!text.contains("home"), "the host's home directories are not there");
//!
//! // A Sandbox is a reusable policy: spawn from it as often as needed, from
//! // any thread.
//! let mut child = sandbox.spawn(Command::new("sleep").arg("100"))?;
//! println!("{}", child.enforcement());
//! child.kill().expect("kill");
//! assert_eq!(child.wait().expect("wait").signal(), Some(9));
//! # Ok(())
//! # }
//! ```
//!
//! Opening up is explicit: [`Sandbox::bind_ro`] and [`Sandbox::bind_rw`]
//! show host directories, [`Sandbox::network`] with [`Network::Host`] keeps the
//! host's network,
//! [`Sandbox::inherit_env`] passes the caller's environment,
//! [`Command::pass_fd`] hands over a descriptor. Restricting further is too:
//! [`Sandbox::timeout`], [`Sandbox::rlimit`], the cgroup limits
//! ([`Sandbox::memory_limit`], [`Sandbox::pids_limit`], [`Sandbox::cpus`]),
//! Landlock rules (`Sandbox::landlock`) and a seccomp policy of your own
//! (`Sandbox::seccomp`).
//!
//! A sandbox that lives on is a [`Container`]: [`Sandbox::start`] sets it
//! up, [`Container::spawn`] runs one program after another in it with the
//! same confinement, and [`Container::stop`] ends it (see [`container`]).
//!
//! [`Sandbox::writable_root`] lets the program change the whole root, over
//! a root directory or the default view, with changes discarded with the
//! sandbox or kept in a layer directory; [`layer::Layer`] lists, commits
//! or discards what a sandbox changed (see [`layer`]).
//!
//! # The crate's layout
//!
//! The root holds what `std::process` users expect ([`Sandbox`],
//! [`Command`], [`Stdio`], [`Child`], [`ExitStatus`], [`Output`]) with the
//! sandbox's own words for what a spawn tells ([`Enforcement`], [`Outcome`],
//! [`Verdict`], [`Usage`]), [`Container`], and the few types the builder
//! takes ([`Namespaces`], [`Network`], [`Rlimit`], [`CompatLevel`]). Each feature
//! has a module of its own vocabulary: [`fs`] (the root filesystem's
//! operations), [`layer`] (the kept changes of writable overlays),
//! [`cgroup`] (cgroup v2 limits), [`caps`] (capabilities),
//! `landlock` and `seccomp` (features of the same names, on by default),
//! [`confine`] (restricting the calling process itself), `oci` (running
//! an OCI runtime bundle, feature `serde`), `image` (an OCI image store,
//! feature `image`), `policy` (policy files, feature `serde`), [`units`]
//! (sizes and durations as people write
//! them) and [`error`] (every error and the setup stages they name).
//!
//! # The defaults
//!
//! [`Sandbox::new()`] turns on everything that works without privileges:
//!
//! - **Namespaces**: [`Namespaces::default()`], that is user, mount, pid,
//!   network, IPC, UTS and cgroup (time is opt-in). The program runs as the
//!   caller's own uid and gid, mapped 1:1 ([`Sandbox::uid`] and
//!   [`Sandbox::gid`] choose another single id).
//! - **Filesystem**: a fresh tmpfs root, read-only once built, with
//!   read-only `nosuid`, `nodev` binds of the host's `/usr`, `/bin`, `/sbin`,
//!   `/lib*` and `/etc`; known secrets under `/etc` (`shadow`, `sudoers`, SSH
//!   host keys, TLS private keys, ...) masked; a fresh `/proc` with
//!   `hidepid`; a minimal `/dev` (`null`, `zero`, `full`, `random`,
//!   `urandom`, `tty`, a new `devpts`, `shm`); a private tmpfs on `/tmp`.
//!   [`Sandbox::root_dir`] and [`Sandbox::empty_root`] start from another
//!   root; [`Sandbox::get_fs_ops`] lists the plan.
//! - **Process**: a new session (no controlling terminal, unless the
//!   command asks for a terminal of its own with [`Command::pty`]; see
//!   [`pty`]), signal mask and
//!   dispositions reset, only descriptors 0-2 (and those passed with
//!   [`Command::pass_fd`]), the environment cleared except [`BASE_ENV`], a
//!   fresh session keyring, and an init that reaps orphans, forwards signals
//!   and ends the whole sandbox when the [`Child`] is dropped
//!   ([`Sandbox::kill_on_drop`]) or the caller dies
//!   ([`Sandbox::die_with_parent`]).
//! - **Privileges**: every capability set emptied, `no_new_privs`.
//! - **System calls** (feature `seccomp`, on by default): the default
//!   seccomp profile (`seccomp::Policy::default_profile`), which denies
//!   namespace creation, `mount`, the keyring, `bpf`, io_uring, `ptrace` of
//!   other processes, `TIOCSTI`, the x32 and 32-bit entry points and more.
//!
//! Landlock, cgroup limits, rlimits and timeouts are opt-in.
//!
//! # What a spawn tells you
//!
//! - **Errors keep the stage and the item.** A setup failure is a typed
//!   [`Error`], never an exit code: [`Error::ProgramNotFound`] with the
//!   `PATH` searched, [`Error::UserNamespaceDenied`] with a diagnosis of the
//!   host, [`Error::Unsupported`] naming a kernel feature the policy requires
//!   and how to get it, [`Error::Config`] for bad builder input (before
//!   anything is created), and [`Error::Setup`] with an
//!   [`error::SetupError`] naming the [`error::Stage`] and the path, descriptor or limit it failed on.
//! - **The enforcement report.** [`Child::enforcement`] returns an
//!   [`Enforcement`]: the namespaces, the id mappings, whether the sandbox
//!   has its own root filesystem, its cgroup and the limits in force there,
//!   rlimits standing in for missing cgroup controllers, the seccomp profile
//!   and the status of every Landlock right. What the caller asked for is
//!   enforced or the spawn fails (unless the caller chose
//!   [`CompatLevel::BestEffort`]); the report says what actually holds
//!   either way. It implements `Display`, and `Serialize` with the `serde`
//!   feature.
//! - **The outcome.** After the sandbox has ended, [`Child::outcome`] says
//!   why ([`Verdict`]: exited, signaled, timed out, CPU time exceeded,
//!   OOM-killed, killed by the caller) and what it used ([`Usage`]: wall,
//!   user and system time, peak memory).
//!
//! ```
//! use stockade::{Command, Namespaces, Sandbox, Verdict};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut child = Sandbox::new().spawn(Command::new("sh").arg("-c").arg("exit 3"))?;
//! let report = child.enforcement();
//! assert!(report.namespaces.contains(Namespaces::NET));
//! assert!(report.filesystem, "the program has its own root filesystem");
//! # #[cfg(feature = "seccomp")]
//! assert!(report.seccomp.is_some(), "the default profile is on");
//!
//! assert_eq!(child.wait()?.code(), Some(3));
//! let outcome = child.outcome().expect("the sandbox has ended");
//! assert_eq!(outcome.verdict, Verdict::Exited(3));
//! if let Some(usage) = outcome.usage {
//!     println!("{:?} wall, {:?} CPU", usage.wall_time, usage.cpu_time());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Further reading
//!
//! - [`threat_model`]: what is isolated and what is not, and what the
//!   sandbox trusts.
//! - [`kernel_support`]: the Linux version each feature needs.
//! - [`troubleshooting`]: the common failures (user namespaces refused,
//!   missing cgroup controllers, Landlock not enabled, programs that need
//!   denied system calls) and their fixes.
//!
//! # How a spawn works
//!
//! Everything that allocates, resolves a path or can fail for configuration
//! reasons happens in the caller, before `clone3`: argument and environment
//! strings, the mount plan, file descriptor moves. The caller then clones a
//! *supervisor* with `CLONE_VM` (so a spawn costs the same from a 1 GiB process
//! as from a small one) on a stack of its own. The supervisor writes its uid/gid
//! map, builds the root filesystem and pivots into it, then creates the program
//! process with `CLONE_VFORK`; that process arranges descriptors and
//! credentials, builds its Landlock ruleset, installs the seccomp filter
//! compiled once per policy, and executes the program. Between clone and
//! exec only raw system calls run over the pre-built plan: no allocation, no locks, no panics, which
//! is what makes spawning safe from multi-threaded and async programs.
//!
//! The supervisor stays as the sandbox's init: it reaps orphans, forwards
//! signals to the program, and ends the sandbox when the caller dies. A failed
//! setup step comes back as a typed [`Error`] naming the step and the item,
//! never as an exit code.
//!
//! # Cargo features
//!
//! - `landlock` (default): the `landlock` module and `Sandbox::landlock`.
//! - `seccomp` (default): the `seccomp` module, the default profile and
//!   `Sandbox::seccomp`.
//! - `serde`: `Serialize` for reports and outcomes, `Serialize` and
//!   `Deserialize` for the policy types that support it.
//! - `tokio`: the `tokio` module adds `Sandbox::spawn_async`,
//!   `output_async` and `status_async`, and an `AsyncChild` whose `wait`
//!   awaits the sandbox's pidfd on tokio's reactor, with no `SIGCHLD`
//!   handler and no thread per child.
//! - `image`: the `image` module, an OCI image store (OCI image layouts,
//!   `docker save` and OCI archives) whose layers, verified by digest and
//!   shared between images, are the lower directories of an overlay root.
//! - `runner`: the `stockade-runner` binary, a Buildbarn runner serving
//!   `buildbarn.runner.Runner` over gRPC that runs each remote-execution
//!   action in its own sandbox (see the README's "Remote execution").
#![deny(missing_docs)]
// `unsafe` lives in two places only: `sys` (the raw system calls and the
// safe wrappers over them) and `zone` (the code between clone and exec).
#![deny(unsafe_code)]

pub mod caps;
pub mod cgroup;
mod child;
mod command;
mod compat;
mod compile;
mod config;
pub mod confine;
pub mod container;
pub mod denials;
mod enforcement;
pub mod error;
mod forksafe;
pub mod fs;
pub mod ids;
#[cfg(feature = "image")]
pub mod image;
pub mod isolation;
mod ladder;
#[cfg(feature = "landlock")]
pub mod landlock;
pub mod layer;
mod namespaces;
pub mod net;
#[cfg(feature = "serde")]
pub mod oci;
#[cfg(feature = "serde")]
pub mod policy;
mod probe;
pub mod pty;
mod reaper;
mod record;
mod rlimit;
mod sandbox;
#[cfg(feature = "seccomp")]
pub mod seccomp;
mod spawn;
mod stage;
#[allow(unsafe_code)]
mod sys;
mod template;
#[cfg(feature = "tokio")]
pub mod tokio;
pub mod units;
#[allow(unsafe_code)]
mod zone;

#[doc = include_str!("../docs/threat-model.md")]
pub mod threat_model {}
#[doc = include_str!("../docs/kernel-support.md")]
pub mod kernel_support {}
#[doc = include_str!("../docs/troubleshooting.md")]
pub mod troubleshooting {}

pub use child::{
    Child, ChildStderr, ChildStdin, ChildStdout, ExitStatus, Outcome, Output, Usage, Verdict,
};
pub use command::{Command, Stdio};
pub use compat::CompatLevel;
pub use container::Container;
pub use enforcement::{Enforcement, NprocScope};
pub use error::{Error, Result};
pub use ids::IdRange;
pub use namespaces::{IdMapping, NamespaceIds, Namespaces};
pub use net::{Egress, Network};
pub use rlimit::Rlimit;
pub use sandbox::Sandbox;
pub use spawn::BASE_ENV;

/// The README's examples, compiled as documentation tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
/// Entry points for the fuzz targets under `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod __fuzz {
    use crate::record::{ExitInfo, Record};

    /// Decodes `bytes` as the caller decodes a message from a sandbox's
    /// report channel, and everything derived from an accepted record (its
    /// detail, setup stage and exit accounting). Returns whether the record
    /// was accepted; an accepted record re-encodes to the same bytes.
    pub fn decode_record(bytes: &[u8]) -> bool {
        let Some(rec) = Record::decode(bytes) else {
            return false;
        };
        assert_eq!(&rec.encode()[..], bytes, "decode/encode round trip");
        assert!(rec.detail().len() <= rec.detail.len());
        let _ = crate::error::Stage::from_u32(rec.stage);
        let _ = ExitInfo::decode(&rec);
        true
    }

    /// Feeds `bytes` to the egress engine's parsers of what a sandboxed
    /// program sends it (DNS, HTTP request heads, rules).
    pub fn egress_input(bytes: &[u8]) {
        crate::net::fuzz_input(bytes);
    }
}
