//! The callcomp server library: the runtime pieces that the `callcomp` binary wires together.

pub mod store;
