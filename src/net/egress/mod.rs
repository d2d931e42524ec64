//! The egress engine's parts: rules, the DNS server's messages, the HTTP
//! and SOCKS5 proxies and the relay.

pub(crate) mod dns;
pub(crate) mod http;
pub(crate) mod relay;
pub(crate) mod rules;
pub(crate) mod socks;

#[cfg(test)]
mod tests;
