//! What can be wrong with an egress rule: the vocabulary of
//! [`ConfigError::EgressRule`](crate::error::ConfigError::EgressRule).

use std::fmt;

/// What is wrong with an egress rule ([`ConfigError::EgressRule`](crate::error::ConfigError::EgressRule)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleProblem {
    /// No name.
    EmptyName,
    /// An empty label (`a..b`, a leading dot).
    EmptyLabel,
    /// A label longer than 63 bytes.
    LabelTooLong,
    /// A name longer than 253 bytes.
    NameTooLong,
    /// A character other than an ASCII letter, digit, `-` or `_` (names
    /// with other letters must be written in their `xn--` form).
    BadCharacter,
    /// A `*` anywhere but a leading `*.` followed by a domain.
    Wildcard,
    /// A port that is not a number from 1 to 65535.
    Port,
    /// An address range that is not `ADDRESS` or `ADDRESS/PREFIX` with a
    /// prefix the address family has.
    Cidr,
    /// Zero where it means nothing could work.
    Zero,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleProblem::EmptyName => "the name is empty",
            RuleProblem::EmptyLabel => "the name has an empty label (two dots in a row, or a leading dot)",
            RuleProblem::LabelTooLong => "a label is longer than 63 bytes",
            RuleProblem::NameTooLong => "the name is longer than 253 bytes",
            RuleProblem::BadCharacter => {
                "names may hold only ASCII letters, digits, '-' and '_' (write international names in their xn-- form)"
            }
            RuleProblem::Wildcard => {
                "a wildcard must be a leading \"*.\" followed by a domain, as in \"*.example.com\""
            }
            RuleProblem::Port => "the port must be a number from 1 to 65535",
            RuleProblem::Cidr => {
                "expected an address or ADDRESS/PREFIX with a prefix of at most 32 (IPv4) or 128 (IPv6)"
            }
            RuleProblem::Zero => "it must be greater than zero",
        })
    }
}
