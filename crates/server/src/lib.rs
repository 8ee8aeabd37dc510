//! The `callcomp` runtime as a library, so that the binary and the tests share it.

pub mod api;
