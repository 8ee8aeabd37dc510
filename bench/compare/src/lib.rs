//! Shared inputs for the side-by-side parser benchmark (see `README.md`).

/// The five benchmark messages of `crates/sip/benches/messages`, by name.
pub const MESSAGES: [(&str, &[u8]); 5] = [
    (
        "invite",
        include_bytes!("../../../crates/sip/benches/messages/invite.sip"),
    ),
    (
        "ringing",
        include_bytes!("../../../crates/sip/benches/messages/ringing.sip"),
    ),
    (
        "ok",
        include_bytes!("../../../crates/sip/benches/messages/ok.sip"),
    ),
    (
        "register",
        include_bytes!("../../../crates/sip/benches/messages/register.sip"),
    ),
    (
        "notify",
        include_bytes!("../../../crates/sip/benches/messages/notify.sip"),
    ),
];
