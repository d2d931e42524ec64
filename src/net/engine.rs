//! TEMPORARY STUB.
#![allow(missing_docs, dead_code)]
use std::os::fd::OwnedFd;
use std::sync::Arc;
use super::{SocketSpec, log::Connection};
pub(crate) struct CompiledEgress {}
impl CompiledEgress {
    pub(crate) fn proxy_env(&self) -> Vec<(String, String)> { Vec::new() }
    pub(crate) fn resolv_conf(&self) -> Vec<u8> { Vec::new() }
    pub(crate) fn listener_specs(&self) -> Vec<SocketSpec> { Vec::new() }
}
pub(crate) struct Listeners { pub(crate) sockets: Vec<OwnedFd> }
pub(crate) trait SocketFactory: Send + Sync { fn stream_socket(&self, v6: bool) -> std::io::Result<OwnedFd>; }
pub(crate) struct Published { pub(crate) host: std::net::TcpListener, pub(crate) sandbox_port: u16 }
pub(crate) struct Engine {}
impl Engine {
    pub(crate) fn start(_p: Option<Arc<CompiledEgress>>, _l: Listeners, _pb: Vec<Published>, _f: Arc<dyn SocketFactory>) -> std::io::Result<Engine> { Ok(Engine {}) }
    pub(crate) fn stop(self) -> Vec<Connection> { Vec::new() }
    pub(crate) fn connections(&self) -> Vec<Connection> { Vec::new() }
}
