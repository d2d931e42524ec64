//! stockade: run child processes inside a Linux sandbox.
#![deny(missing_docs)]

mod compat;
mod sys;

pub use compat::CompatLevel;
