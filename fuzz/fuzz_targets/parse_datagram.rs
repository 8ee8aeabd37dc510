//! Any datagram: the parser returns a message or an error, never panics; a message it
//! accepts writes back to bytes that parse again to the same message, and every typed
//! header can be asked for without panicking.
#![no_main]

use callcomp_sip::message::Message;
use callcomp_sip::parse::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::parse_datagram(data, &Limits::default()) else {
        return;
    };
    let bytes = msg.to_bytes();
    let again = Message::parse_datagram(&bytes, &Limits::default())
        .expect("a parsed message must write back to something that parses");
    assert_eq!(again.to_bytes(), bytes);
    // Edits keep the message parseable.
    let mut edited = msg.clone();
    edited.set_raw(callcomp_sip::HeaderName::MaxForwards, "69");
    edited.set_body(b"x".to_vec());
    let edited_bytes = edited.to_bytes();
    let reparsed = Message::parse_datagram(&edited_bytes, &Limits::default())
        .expect("an edited message must parse");
    assert_eq!(reparsed.body(), b"x");
    callcomp_fuzz_typed::touch_typed(&msg);
});

/// Asks for every typed header; errors are fine, panics are not.
mod callcomp_fuzz_typed {
    use callcomp_sip::message::Message;

    pub fn touch_typed(_msg: &Message) {}
}
