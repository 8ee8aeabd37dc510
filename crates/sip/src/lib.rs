//! SIP on the wire for callcomp, sans-IO.
//!
//! This crate turns bytes into SIP messages and back, and runs the RFC 3261 transaction state
//! machines, without sockets or clocks: the caller feeds input and the current time and gets
//! back what to send and when to wake up. It is strict where RFC 3261 is strict (framing,
//! scalar ranges, the request line), lossless where a B2BUA passes things on (unknown headers,
//! untouched messages serialize to the same bytes), and built to be fast (an eager header
//! index, typed headers parsed only when asked for).
//!
//! Layout, one concern per module:
//! - [`message`], [`parse`], [`method`], [`header_name`]: the message model, framing and parser.
//! - [`uri`], [`name_addr`], [`params`], [`text`]: URIs and the lexical rules under them.
//! - [`headers`]: typed header fields.
//! - [`builder`]: requests and responses per RFC 3261 §8.1.1 and §8.2.6.
//! - [`check`]: what a transaction and a dialog need beyond a well-formed message.
//! - [`transaction`]: client and server transactions (RFC 3261 §17, RFC 6026).
//! - [`auth`]: server-side digest authentication (RFC 7616, RFC 8760).
//! - [`body`]: the RFC 6910 `application/call-completion` body and PIDF basic status.

pub mod auth;
pub mod body;
pub mod builder;
pub mod check;
pub mod header_name;
pub mod headers;
pub mod message;
pub mod method;
pub mod name_addr;
pub mod params;
pub mod parse;
pub mod text;
pub mod transaction;
pub mod uri;

pub use header_name::HeaderName;
pub use method::Method;
