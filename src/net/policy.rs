//! TEMPORARY STUB (replaced by the egress branch): the builder's
//! signatures only.
#![allow(missing_docs, dead_code, unused_variables)]
use std::net::IpAddr;
use std::time::Duration;

use super::log::{Connection, Via};
use crate::error::ConfigError;

pub trait Resolve: Send + Sync + std::fmt::Debug {
    fn resolve(&self, name: &str) -> std::io::Result<Vec<IpAddr>>;
}
#[derive(Debug, Default)]
pub struct Hosts {}
impl Hosts {
    pub fn new() -> Hosts { Hosts {} }
    pub fn add(&mut self, name: impl Into<String>, addr: IpAddr) -> &mut Self { self }
}
impl Resolve for Hosts {
    fn resolve(&self, name: &str) -> std::io::Result<Vec<IpAddr>> { Err(std::io::ErrorKind::NotFound.into()) }
}
#[derive(Debug)]
pub struct Request { pub host: String, pub port: u16, pub via: Via }
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Egress {}
impl Egress {
    pub fn new() -> Egress { Egress {} }
    pub fn allow(&mut self, r: impl Into<String>) -> &mut Self { self }
    pub fn deny(&mut self, r: impl Into<String>) -> &mut Self { self }
    pub fn allow_private(&mut self, r: impl Into<String>) -> &mut Self { self }
    pub fn resolver(&mut self, r: impl Resolve + 'static) -> &mut Self { self }
    pub fn ask(&mut self, f: impl Fn(&Request) -> bool + Send + Sync + 'static) -> &mut Self { self }
    pub fn on_connection(&mut self, f: impl Fn(&Connection) + Send + Sync + 'static) -> &mut Self { self }
    pub fn max_connections(&mut self, n: usize) -> &mut Self { self }
    pub fn max_names(&mut self, n: usize) -> &mut Self { self }
    pub fn connect_timeout(&mut self, d: Duration) -> &mut Self { self }
    pub fn idle_timeout(&mut self, d: Duration) -> &mut Self { self }
    pub fn transparent_ports(&mut self, p: &[u16]) -> &mut Self { self }
    pub(crate) fn compile(&self) -> Result<super::engine::CompiledEgress, ConfigError> { Ok(super::engine::CompiledEgress {}) }
}
