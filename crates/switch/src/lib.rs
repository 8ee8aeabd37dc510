//! The telephony domain of callcomp, sans-IO.
//!
//! This crate will hold lines, addresses, calls and their TAPI states, completion requests,
//! per-callee queues and timers. It knows nothing of SIP or of tokio: input is facts,
//! commands and the current time; output is actions and events (see DESIGN.md §1, §2).
//! It is empty until the call model lands.
