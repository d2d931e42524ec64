//! TEMPORARY STUB (replaced by the egress branch).
#![allow(missing_docs, dead_code)]
use crate::error::ConfigError;
/// stub
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Egress {}
impl Egress {
    pub fn new() -> Egress { Egress {} }
    pub fn allow(&mut self, _r: impl Into<String>) -> &mut Self { self }
    pub(crate) fn compile(&self) -> Result<super::engine::CompiledEgress, ConfigError> { Ok(super::engine::CompiledEgress {}) }
}
