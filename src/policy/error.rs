//! Why a policy file cannot be read, or a sandbox written as one.

use std::fmt;

/// The two formats of a policy file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// TOML.
    Toml,
    /// JSON.
    Json,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Toml => "TOML",
            Format::Json => "JSON",
        })
    }
}

/// Why a sandbox cannot be written to a policy file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Inexpressible {
    /// The value (a path, the hostname, a file's contents) is not UTF-8.
    NotUtf8,
    /// A path inside the sandbox is not absolute.
    RelativePath,
    /// Policy files have no key for it (a writable root, a persistent
    /// upper layer: state of the caller's, not policy).
    NotInPolicyFiles,
}

impl fmt::Display for Inexpressible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Inexpressible::NotUtf8 => "the value is not UTF-8",
            Inexpressible::RelativePath => "the path is not absolute",
            Inexpressible::NotInPolicyFiles => "policy files have no key for it",
        })
    }
}

/// A policy file that cannot be read, or a sandbox that cannot be written
/// as one. The schema, with the complete example `examples/policy.toml`,
/// is documented in the [`policy`](crate::policy) module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not a valid policy: a syntax error, an unknown key, a
    /// value of the wrong type or out of range.
    #[error("{}", invalid_message(*format, key, *line, *column, message))]
    Invalid {
        /// The file's format.
        format: Format,
        /// The offending key, as a dotted path with list indices
        /// (`filesystem.ops[2].dest`); empty when the problem is the
        /// document itself (a syntax error).
        key: String,
        /// The line (from 1) of the offending value, when known.
        line: Option<usize>,
        /// The column (from 1) of the offending value, when known.
        column: Option<usize>,
        /// What is wrong, as the parser put it.
        message: String,
    },
    /// The sandbox holds a value a policy file cannot express.
    #[error("failed to write policy key `{key}`: {reason}")]
    NotExpressible {
        /// The key the value belongs to.
        key: String,
        /// Why it cannot be written.
        reason: Inexpressible,
    },
    /// The serializer failed (not expected for a policy built from a
    /// sandbox).
    #[error("failed to write the policy as {format}")]
    Write {
        /// The format being written.
        format: Format,
        /// The serializer's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn invalid_message(
    format: Format,
    key: &str,
    line: Option<usize>,
    column: Option<usize>,
    message: &str,
) -> String {
    let mut s = format!("invalid {format} policy");
    if !key.is_empty() {
        s.push_str(&format!(": key `{key}`"));
    }
    match (line, column) {
        (Some(l), Some(c)) => s.push_str(&format!(" at line {l}, column {c}")),
        (Some(l), None) => s.push_str(&format!(" at line {l}")),
        _ => {}
    }
    s.push_str(": ");
    s.push_str(message);
    s
}

impl Error {
    /// The offending key of an [`Invalid`](Error::Invalid) or
    /// [`NotExpressible`](Error::NotExpressible) error.
    pub fn key(&self) -> Option<&str> {
        match self {
            Error::Invalid { key, .. } | Error::NotExpressible { key, .. } => Some(key),
            Error::Write { .. } => None,
        }
    }

    /// The line (from 1) of an [`Invalid`](Error::Invalid) error, when
    /// known.
    pub fn line(&self) -> Option<usize> {
        match self {
            Error::Invalid { line, .. } => *line,
            _ => None,
        }
    }

    /// The column (from 1, in characters) of an
    /// [`Invalid`](Error::Invalid) error, when known.
    pub fn column(&self) -> Option<usize> {
        match self {
            Error::Invalid { column, .. } => *column,
            _ => None,
        }
    }
}
