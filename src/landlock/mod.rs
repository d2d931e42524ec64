//! Landlock: unprivileged access control over the filesystem, TCP ports and
//! IPC scopes (Linux 5.13+).
//!
//! A [`Policy`] is plain data. It is resolved against the running
//! kernel's ABI and lowered to what the kernel takes once
//! (`lower`), and one routine with raw system calls
//! (`crate::zone::landlock::build`) turns that into a ruleset, in either of
//! two places:
//!
//! - in a sandbox ([`Sandbox::landlock`](crate::Sandbox::landlock)) each
//!   program process builds the ruleset after `pivot_root` and restricts
//!   itself: a ruleset built in the caller could not name the sandbox's own
//!   mounts, which do not exist yet. Rule paths are the program's view.
//! - to confine the calling process ([`Confinement`](crate::confine::Confinement))
//!   the caller builds it once (`prepare`), opening every
//!   rule path in its own view, and applies it with one
//!   `landlock_restrict_self` after `no_new_privs`.
//!
//! Rules refer to inodes, not to path names: a rule opened on `/home/me/proj`
//! keeps covering that directory when the sandbox sees it at `/work` through a
//! bind mount, and it does not follow a different directory later mounted at
//! `/home/me/proj`.
//!
//! # Compatibility
//!
//! Every right has the Landlock ABI version ([`Abi`]) and Linux
//! release that introduced it; see [`Feature`]. Rules are grouped
//! (filesystem, network, scopes) and each group has a [`CompatLevel`]: under
//! [`CompatLevel::HardRequirement`] (the default) a right the running kernel
//! cannot enforce is a [`Error::Unsupported`] naming it; under
//! [`CompatLevel::BestEffort`] the ruleset is built without it and the
//! [`Report`] lists it in [`Report::missing`].
//!
//! # The `landlock` crate
//!
//! The `landlock` crate is not used to build rulesets here, and is only a
//! test dependency. Its `Ruleset` cannot run in the child zone (it
//! allocates, and formats errors), and a sandbox's ruleset has to be built
//! there, after `pivot_root`. Using the crate for [`Confinement`] alone
//! would mean a second rule-building path, and every new ABI wired twice.
//! Its per-ABI access tables (`AccessFs::from_all` and the like) hold the
//! same facts as [`Feature::abi`], which the report and the errors
//! need per right (with the Linux release) and the crate does not give:
//! taking the rights from the crate too would make two tables that must
//! agree. So the tables here are the only ones, and the tests check them,
//! and the access bits, against the crate's.
//!
//! [`CompatLevel`]: crate::CompatLevel
//! [`CompatLevel::HardRequirement`]: crate::CompatLevel::HardRequirement
//! [`CompatLevel::BestEffort`]: crate::CompatLevel::BestEffort
//! [`Confinement`]: crate::confine::Confinement

mod access;
mod error;
pub(crate) mod lower;
mod mirror;
mod policy;
pub(crate) mod prepare;
mod report;
pub(crate) mod resolve;

#[cfg(test)]
mod tests;

pub use access::{Abi, Feature, FsAccess, NetAccess, Scope};
pub use error::{Error, Group, RuleProblem};
pub(crate) use lower::{Lowered, RuleName};
pub use policy::Policy;
pub(crate) use prepare::{PreparedLandlock, prepare};
pub use report::{Note, Report, Status, Unavailable};
pub(crate) use resolve::kernel_abi;
