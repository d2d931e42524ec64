//! The `[egress]` table (a filtered network and its policy) and the
//! `[[publish]]` list (published ports).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::error::{Error, Inexpressible};
use super::values::Secs;
use crate::net::Egress;
use crate::sandbox::Sandbox;

/// `[egress]`: present means a filtered network
/// ([`Sandbox::egress`]); an empty table allows nothing.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct EgressFile {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allow: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deny: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allow_private: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_connections: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_names: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connect_timeout: Option<Secs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_timeout: Option<Secs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transparent_ports: Option<Vec<u16>>,
}

/// One `[[publish]]` entry: the host address listened on and the port
/// inside the sandbox it forwards to ([`Sandbox::publish`]).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PublishFile {
    host: SocketAddr,
    sandbox_port: u16,
}

impl EgressFile {
    /// The table for `e`; what only code can give (a resolver, callbacks)
    /// cannot be written.
    pub(super) fn from_egress(e: &Egress) -> Result<EgressFile, Error> {
        for (set, key) in [
            (e.resolver.is_some(), "egress.resolver"),
            (e.ask.is_some(), "egress.ask"),
            (e.on_connection.is_some(), "egress.on_connection"),
        ] {
            if set {
                return Err(Error::NotExpressible {
                    key: key.to_owned(),
                    reason: Inexpressible::NotInPolicyFiles,
                });
            }
        }
        Ok(EgressFile {
            allow: e.allow.clone(),
            deny: e.deny.clone(),
            allow_private: e.allow_private.clone(),
            max_connections: e.max_connections,
            max_names: e.max_names,
            connect_timeout: e.connect_timeout.map(Secs),
            idle_timeout: e.idle_timeout.map(Secs),
            transparent_ports: e.transparent_ports.clone(),
        })
    }

    pub(super) fn apply(self, sb: &mut Sandbox) {
        let mut e = Egress::new();
        for r in self.allow {
            e.allow(r);
        }
        for r in self.deny {
            e.deny(r);
        }
        for r in self.allow_private {
            e.allow_private(r);
        }
        if let Some(n) = self.max_connections {
            e.max_connections(n);
        }
        if let Some(n) = self.max_names {
            e.max_names(n);
        }
        if let Some(t) = self.connect_timeout {
            e.connect_timeout(t.0);
        }
        if let Some(t) = self.idle_timeout {
            e.idle_timeout(t.0);
        }
        if let Some(p) = self.transparent_ports {
            e.transparent_ports(&p);
        }
        sb.egress(e);
    }
}

impl PublishFile {
    pub(super) fn from_config(publish: &[(SocketAddr, u16)]) -> Option<Vec<PublishFile>> {
        (!publish.is_empty()).then(|| {
            publish
                .iter()
                .map(|&(host, sandbox_port)| PublishFile { host, sandbox_port })
                .collect()
        })
    }

    pub(super) fn apply(self, sb: &mut Sandbox) {
        sb.publish(self.host, self.sandbox_port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Error;

    #[test]
    fn egress_and_publish_read_and_write_back() {
        let text = r#"
            [egress]
            allow = ["pypi.org", "*.github.com:443"]
            deny = ["gist.github.com"]
            allow_private = ["10.0.0.0/8"]
            max_connections = 8
            idle_timeout = "30s"
            transparent_ports = [443]

            [[publish]]
            host = "127.0.0.1:8080"
            sandbox_port = 80
        "#;
        let sb = Sandbox::from_toml(text).unwrap();
        let e = sb.cfg.egress.as_ref().expect("a filtered network");
        assert_eq!(e.allow, ["pypi.org", "*.github.com:443"]);
        assert_eq!(e.deny, ["gist.github.com"]);
        assert_eq!(e.max_connections, Some(8));
        assert_eq!(e.idle_timeout, Some(std::time::Duration::from_secs(30)));
        assert_eq!(e.transparent_ports.as_deref(), Some(&[443][..]));
        assert_eq!(sb.cfg.publish, [("127.0.0.1:8080".parse().unwrap(), 80)]);
        assert!(sb.validate().is_ok());
        let again = Sandbox::from_toml(&sb.to_toml().unwrap()).unwrap();
        assert_eq!(again.cfg, sb.cfg);
        // An empty table: filtered, nothing allowed.
        let empty = Sandbox::from_toml("[egress]\n").unwrap();
        assert_eq!(empty.cfg.egress, Some(Egress::new()));
        assert!(empty.to_toml().unwrap().contains("[egress]"));
    }

    #[test]
    fn bad_egress_keys_are_named() {
        let err = Sandbox::from_toml("[egress]\nallow = \"pypi.org\"\n").unwrap_err();
        assert_eq!(err.key(), Some("egress.allow"), "{err}");
        let err = Sandbox::from_toml("[egress]\nallowed = []\n").unwrap_err();
        assert!(err.to_string().contains("allowed"), "{err}");
        let err = Sandbox::from_toml("[[publish]]\nhost = \"localhost:80\"\nsandbox_port = 80\n")
            .unwrap_err();
        assert_eq!(err.key(), Some("publish[0].host"), "{err}");
        // A malformed rule is the library's typed error, at validation.
        let sb = Sandbox::from_toml("[egress]\nallow = [\"*.\"]\n").unwrap();
        assert!(matches!(
            sb.validate(),
            Err(crate::Error::Config(
                crate::error::ConfigError::EgressRule { .. }
            ))
        ));
    }

    #[test]
    fn a_resolver_or_callback_cannot_be_written() {
        let mut e = Egress::new();
        e.on_connection(|_| {});
        let mut sb = Sandbox::new();
        sb.egress(e);
        match sb.to_toml() {
            Err(Error::NotExpressible { key, .. }) => assert_eq!(key, "egress.on_connection"),
            other => panic!("{other:?}"),
        }
    }
}
