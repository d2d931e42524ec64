//! stockade: run child processes inside a Linux sandbox.
#![deny(missing_docs)]

mod child;
mod command;
mod compat;
mod error;
mod namespaces;
mod rootfs;
mod sandbox;
mod spawn;
mod sys;

pub use child::{Child, ChildStderr, ChildStdin, ChildStdout, ExitStatus, Output};
pub use command::{Command, Stdio};
pub use compat::{CompatLevel, Enforcement};
pub use error::{
    ChildSetupError, ConfigError, Error, FdProblem, Feature, Field, HostnameProblem, IdKind,
    IdentityProblem, NamespaceProblem, ParentOp, Result, SearchPath, Stage, Target, Unsupported,
    UnsupportedReason, UsernsBlocker,
};
pub use namespaces::{IdMapping, Namespaces};
pub use rootfs::{FsConfig, FsError, FsOp, OpName, RootKind, TmpfsOptions};
pub use sandbox::Sandbox;
pub use spawn::BASE_ENV;
