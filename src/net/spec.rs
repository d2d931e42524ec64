//! The sockets the sandbox side opens for the egress engine.

/// What kind of socket the sandbox side creates in the sandbox's network
/// namespace for the egress engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SocketKind {
    /// A TCP listener: `SO_REUSEADDR`, bound, `listen(128)`.
    Listen,
    /// A bound UDP socket.
    Datagram,
}

/// A socket the sandbox side creates: its kind and address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SocketSpec {
    /// The kind.
    pub(crate) kind: SocketKind,
    /// The address it is bound to.
    pub(crate) addr: std::net::SocketAddr,
}
