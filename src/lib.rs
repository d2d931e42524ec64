//! stockade: run child processes inside a Linux sandbox.
#![deny(missing_docs)]

pub mod cgroup;
mod compat;
mod sys;

pub use cgroup::{CgroupConfig, CgroupError, CgroupReport, CgroupUsage};
pub use compat::CompatLevel;
