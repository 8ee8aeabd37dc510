//! The callcomp server library: the runtime pieces that the `callcomp` binary wires together.

pub mod api;
pub mod config;
pub mod registrar;
pub mod store;
pub mod transport;
