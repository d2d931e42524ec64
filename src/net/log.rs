//! TEMPORARY STUB.
#![allow(missing_docs, dead_code)]
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {}
