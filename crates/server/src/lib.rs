//! The callcomp server library: the runtime pieces that the `callcomp` binary wires together.
//!
//! - [`config`]: the configuration; [`store`]: the SQLite store; [`transport`]: UDP and TCP;
//! - [`registrar`], [`b2bua`]: the SIP roles; [`core`](mod@core): the task that owns them;
//! - [`media`]: callcomp's own RTP endpoints (tones, announcements, relay, mixing);
//! - [`identity`]: who a request speaks for (digest, trusted peers, guessing lockout);
//! - [`api`]: the HTTP/WebSocket API over the core.

pub mod api;
pub mod b2bua;
pub mod config;
pub mod core;
pub mod identity;
pub mod media;
pub mod registrar;
pub mod store;
pub mod transport;
