//! Lines: one per configured user (DESIGN §2).
//!
//! A line is named after its user (`alice`) and has exactly one address, its address of record
//! (`sip:alice@example.com`, address id 0). The switch treats the address as an opaque string:
//! the server builds it and matches SIP URIs against it.

use serde::{Deserialize, Serialize};

/// The id of a line's only address.
pub const ADDRESS_ID: u32 = 0;

/// One line: a user and its address of record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The line's name, the user part (`alice`); unique within the switch.
    pub name: String,
    /// The address of record, as the server spells it (`sip:alice@example.com`).
    pub address: String,
}

impl Line {
    /// A line named `name` with address of record `address`.
    pub fn new(name: impl Into<String>, address: impl Into<String>) -> Line {
        Line {
            name: name.into(),
            address: address.into(),
        }
    }
}

/// Why a line could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddLineError {
    /// The name is empty.
    #[error("a line name must not be empty")]
    EmptyName,
    /// A line with this name already exists.
    #[error("line `{0}` already exists")]
    Exists(String),
}
