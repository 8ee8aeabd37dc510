//! Any datagram as RTP: the parser returns a packet or an error, never panics; an accepted
//! packet writes back to bytes that parse to the same packet, and as a telephone-event payload
//! its payload parses or fails cleanly.
#![no_main]

use callcomp_media::rtp::Packet;
use callcomp_media::telephone_event::TelephoneEvent;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::parse(data) else {
        return;
    };
    let written = packet.to_bytes();
    assert_eq!(written.len(), packet.len());
    let again = Packet::parse(&written).expect("a written packet must parse");
    assert_eq!(again, packet);
    if let Ok(event) = TelephoneEvent::parse(packet.payload) {
        assert_eq!(TelephoneEvent::parse(&event.to_bytes()), Ok(event));
    }
});
