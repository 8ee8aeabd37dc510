//! The `callcomp` runtime as a library, so that the binary and the tests share it.
//!
//! For now it holds the configuration ([`config`]); transports, registrar, B2BUA, store and
//! API join it as they land.

pub mod config;
pub mod registrar;
pub mod transport;
