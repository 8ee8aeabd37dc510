//! The `callcomp` runtime as a library, so that the binary and the tests share it.
//!
//! - [`config`]: the TOML configuration, its embedded defaults and its checks;
//! - [`store`]: the SQLite store (registrations now; completion requests later);
//! - [`transport`]: UDP and TCP sockets;
//! - [`api`]: the HTTP and WebSocket API, in TAPI terms.

pub mod api;
pub mod config;
pub mod store;
pub mod transport;
