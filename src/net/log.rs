//! TEMPORARY STUB.
#![allow(missing_docs, dead_code)]
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Connection {}
