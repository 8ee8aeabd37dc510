//! Any byte stream, cut anywhere: framing never panics, never reports using more bytes than
//! it was given, and feeding the same bytes in two pieces frames the same messages.
#![no_main]

use callcomp_sip::message::Message;
use callcomp_sip::parse::{Framed, Limits};
use libfuzzer_sys::fuzz_target;

fn frame_all(data: &[u8], cut: usize) -> Vec<Vec<u8>> {
    let limits = Limits::default();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for chunk in [&data[..cut], &data[cut..]] {
        buf.extend_from_slice(chunk);
        loop {
            match Message::parse_stream(&buf, &limits) {
                Ok(Framed::Complete(msg, used)) => {
                    assert!(used > 0 && used <= buf.len());
                    out.push(msg.to_bytes());
                    buf.drain(..used);
                }
                Ok(Framed::Partial) => break,
                // A stream with broken framing is closed: nothing more comes from it.
                Err(_) => return out,
            }
        }
    }
    out
}

fuzz_target!(|input: (u16, &[u8])| {
    let (cut, data) = input;
    let cut = usize::from(cut) % (data.len() + 1);
    let whole = frame_all(data, data.len());
    let split = frame_all(data, cut);
    // Splitting can only delay an error past a message, never change a message.
    let n = whole.len().min(split.len());
    assert_eq!(whole[..n], split[..n]);
});
