//! TEMPORARY STUB (replaced by the egress branch).
#![allow(missing_docs, dead_code)]
use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Connection { pub time: SystemTime, pub via: Via, pub host: Option<String>, pub port: u16, pub address: Option<SocketAddr>, pub verdict: EgressVerdict, pub error: Option<String>, pub sent: u64, pub received: u64 }
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Via { HttpConnect, HttpForward, Socks5, Transparent, Dns, Published }
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum EgressVerdict { Allowed { rule: String }, Denied(Denial) }
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Denial { NoRule, DenyRule { rule: String }, Asked, PrivateAddress { address: IpAddr }, LiteralAddress, Unresolved, TooManyConnections, TooManyNames, BadRequest }
