//! End-to-end call tests (issue #3) beyond the basics of `e2e_sip.rs`: forking to two
//! contacts, a call over TCP, malformed and unknown requests, and registrations that survive a
//! restart. The real `callcomp serve` runs on free loopback ports and SIPp plays the phones.
//!
//! Users of the test server (`ServerConfig::default()`): alice and bob with passwords
//! (`alice-secret`, `bob-secret`), carol and dave without; no-answer timeout 3 s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::{call, Server, ServerConfig, SipTransport, LOCALHOST};

// --- forking (RFC 3261 §16.7, DESIGN §3) ------------------------------------------------

/// bob registers two phones (two contacts on one address of record): one answers, the other
/// rings and must get a CANCEL (`uas_noanswer.xml` fails unless it gets the CANCEL, answers
/// it and ends its INVITE with 487). The caller's call completes with the answer of the first.
#[test]
fn forked_call_one_contact_answers_the_other_is_cancelled() {
    let server = Server::start(ServerConfig::default());
    let ringing_only = server.phone("bob", "uas_noanswer.xml");
    let answering = server.phone("bob", "uas_answer.xml");
    call(
        answering,
        server
            .sipp_as("call_basic.xml", "alice")
            .service("bob")
            .pause_ms(100),
    );
    ringing_only.wait().assert_success();
}

// --- TCP (RFC 3261 §18) -----------------------------------------------------------------

/// Caller and callee on TCP: the callee's phone registers over TCP, callcomp reaches it over
/// TCP, and the SDP goes through untouched both ways (the scenarios check the o= lines).
#[test]
fn call_over_tcp_passes_sdp_intact() {
    let server = Server::start(ServerConfig::default());
    let bob = common::Phone::start(
        server
            .sipp_as("phone.xml", "bob")
            .ooc("uas_answer.xml")
            .transport(SipTransport::Tcp),
    );
    call(
        bob,
        server
            .sipp_as("call_basic.xml", "alice")
            .service("bob")
            .transport(SipTransport::Tcp)
            .pause_ms(100),
    );
}

// --- malformed input (RFC 3261 §8.2, §21.5.2) -------------------------------------------

/// Sends one datagram from `socket` to the server and returns the first response line and the
/// whole response, or fails the test when none comes within 5 s.
fn exchange(socket: &UdpSocket, server: std::net::SocketAddr, request: &str) -> (String, String) {
    socket.send_to(request.as_bytes(), server).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 65536];
    let (n, _) = socket
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no answer to\n{request}\n({e})"));
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    let first = text.lines().next().unwrap_or_default().to_owned();
    (first, text)
}

/// A request from `local` with the given method, CSeq and Via lines.
fn raw_request(
    method: &str,
    local: std::net::SocketAddr,
    via: &str,
    cseq: &str,
    id: &str,
) -> String {
    format!(
        "{method} sip:carol@{LOCALHOST} SIP/2.0\r\n\
         {via}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:dave@{LOCALHOST}>;tag=raw-{id}\r\n\
         To: <sip:carol@{LOCALHOST}>\r\n\
         Call-ID: raw-{id}@{local}\r\n\
         CSeq: {cseq}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// Malformed requests get 400 with a reason phrase, an unknown method 501, and the server
/// keeps serving: a REGISTER afterwards succeeds.
#[test]
fn malformed_requests_get_400_unknown_method_501_and_the_server_keeps_serving() {
    let server = Server::start(ServerConfig::default());
    let socket = UdpSocket::bind((LOCALHOST, 0)).unwrap();
    let local = socket.local_addr().unwrap();
    let via = |branch: &str| format!("Via: SIP/2.0/UDP {local};branch=z9hG4bK-{branch};rport");

    // (what, request, expected status)
    let cases = [
        (
            "CSeq without a number (§20.16)",
            raw_request("OPTIONS", local, &via("cseq"), "abc OPTIONS", "cseq"),
            400,
        ),
        (
            "CSeq method differing from the request method (§8.1.1.5)",
            raw_request("OPTIONS", local, &via("cseq2"), "1 INVITE", "cseq2"),
            400,
        ),
        (
            "Via without a sent-by (§20.42)",
            raw_request(
                "OPTIONS",
                local,
                "Via: SIP/2.0/UDP ;branch=z9hG4bK-via",
                "1 OPTIONS",
                "via",
            ),
            400,
        ),
        (
            "a header line without a colon (§7.3)",
            raw_request(
                "OPTIONS",
                local,
                &format!("{}\r\nThis line is not a header", via("colon")),
                "1 OPTIONS",
                "colon",
            ),
            400,
        ),
        (
            "an unknown method (§8.2.1)",
            raw_request("FOOBAR", local, &via("foobar"), "1 FOOBAR", "foobar"),
            501,
        ),
    ];
    for (what, request, status) in &cases {
        let (first, whole) = exchange(&socket, server.sip, request);
        let prefix = format!("SIP/2.0 {status} ");
        assert!(
            first.starts_with(&prefix),
            "{what}: expected {status}, got {first:?}\n{whole}"
        );
        let reason = first[prefix.len()..].trim();
        assert!(!reason.is_empty(), "{what}: no reason phrase in {first:?}");
        assert!(
            whole.contains("Call-ID: raw-") || whole.contains("i: raw-"),
            "{what}: the answer does not echo the Call-ID\n{whole}"
        );
    }

    // Still serving.
    server
        .sipp_as("register.xml", "carol")
        .run()
        .assert_success();
    server
        .sipp_as("register.xml", "alice")
        .run()
        .assert_success();
}

/// Requests that the transport refuses before they reach the core (a header line without a
/// colon, a Via without a sent-by) must be counted in `callcomp_sip_parse_errors_total`, which
/// docs/api.md describes as "datagrams or stream messages that did not parse as SIP", just
/// like the refusals of the core's checks (e.g. an unreadable CSeq).
#[test]
fn requests_refused_by_the_transport_are_counted_as_parse_errors() {
    let server = Server::start(ServerConfig::default());
    let socket = UdpSocket::bind((LOCALHOST, 0)).unwrap();
    let local = socket.local_addr().unwrap();
    let via = format!("Via: SIP/2.0/UDP {local};branch=z9hG4bK-colon;rport");
    for request in [
        raw_request(
            "OPTIONS",
            local,
            &format!("{via}\r\nThis line is not a header"),
            "1 OPTIONS",
            "colon",
        ),
        raw_request(
            "OPTIONS",
            local,
            "Via: SIP/2.0/UDP ;branch=z9hG4bK-via",
            "1 OPTIONS",
            "via",
        ),
    ] {
        let (first, whole) = exchange(&socket, server.sip, &request);
        assert!(first.starts_with("SIP/2.0 400 "), "{whole}");
    }
    let (status, text) = common::http::request(server.api, "GET", "/metrics", None);
    assert_eq!(status, 200, "{text}");
    let counted: f64 = text
        .lines()
        .filter(|l| l.starts_with("callcomp_sip_parse_errors_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        counted >= 2.0,
        "2 malformed requests, {counted} counted:\n{text}"
    );
}

// --- registrations across a restart (DESIGN §5, store) ----------------------------------

/// bob's phone registers; the server is stopped with SIGTERM and started again on the same
/// store and ports; a call to bob still reaches the phone, which never registered again.
#[test]
fn registrations_survive_a_restart() {
    let mut server = Server::start(ServerConfig::default());
    let bob = server.phone("bob", "uas_answer.xml");
    server.restart();
    call(
        bob,
        server
            .sipp_as("call_basic.xml", "alice")
            .service("bob")
            .pause_ms(100),
    );
}
