//! End-to-end tests of the SIP bounds (issue #7, items 4 and 6): the real `callcomp serve`,
//! driven over raw UDP and TCP sockets so that every datagram can be counted.
//!
//! - a REGISTER with 1,000 contacts is refused, and an AOR never holds more than
//!   `registrar.max_contacts` (the least recently refreshed contact makes room);
//! - a contact that points at the server itself is refused;
//! - one INVITE to an AOR with many contacts sends at most `sip.max_forks` INVITEs;
//! - Max-Forwards goes out one less than it came; 0 is 483; our own Via or Call-ID is 482;
//! - `sip.tcp_max_per_address` refuses a third connection from 127.0.0.1 and leaves room for
//!   127.0.0.2; malformed datagrams are logged as one summary line with their count.
//!
//! Users (`ServerConfig::default()`): carol and dave have no password.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use callcomp_sip::builder;
use callcomp_sip::headers::contact::Contact;
use callcomp_sip::message::Message;
use callcomp_sip::parse::Limits;
use callcomp_sip::HeaderName;
use common::{Server, ServerConfig, LOCALHOST};

const WAIT: Duration = Duration::from_secs(10);

/// A SIP endpoint on a UDP socket of its own.
struct Endpoint {
    socket: UdpSocket,
    addr: SocketAddr,
}

impl Endpoint {
    fn new() -> Endpoint {
        let socket = UdpSocket::bind((LOCALHOST, 0)).unwrap();
        let addr = socket.local_addr().unwrap();
        Endpoint { socket, addr }
    }

    fn send(&self, text: &str, to: SocketAddr) {
        self.socket.send_to(text.as_bytes(), to).unwrap();
    }

    /// The next datagram within `wait`, parsed.
    fn recv(&self, wait: Duration) -> Option<Message> {
        self.socket.set_read_timeout(Some(wait)).unwrap();
        let mut buf = vec![0u8; 65_535];
        let (n, _) = self.socket.recv_from(&mut buf).ok()?;
        Some(Message::parse_datagram(&buf[..n], &Limits::default()).unwrap())
    }

    /// The next final response (1xx skipped); fails the test after [`WAIT`].
    fn final_response(&self, server: &Server) -> Message {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Some(m) = self.recv(Duration::from_millis(200)) {
                if m.status().is_some_and(|s| s >= 200) {
                    return m;
                }
            }
        }
        panic!("no final response within {WAIT:?}\n{}", server.stderr());
    }
}

/// A REGISTER of `user` from `from` with the given Contact header lines.
fn register(user: &str, from: &Endpoint, cseq: u32, contacts: &[String]) -> String {
    let mut text = format!(
        "REGISTER sip:{LOCALHOST} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {addr};branch=z9hG4bK-reg-{port}-{cseq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@{LOCALHOST}>;tag=r{cseq}\r\n\
         To: <sip:{user}@{LOCALHOST}>\r\n\
         Call-ID: reg-{port}@{LOCALHOST}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Expires: 300\r\n",
        addr = from.addr,
        port = from.addr.port(),
    );
    for line in contacts {
        text.push_str(&format!("Contact: {line}\r\n"));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    text
}

/// `n` contacts `<sip:c<first+i>@addr>`, in lines of at most 100.
fn contact_lines(first: usize, n: usize, addr: SocketAddr) -> Vec<String> {
    let uris: Vec<String> = (first..first + n)
        .map(|i| format!("<sip:c{i}@{addr}>"))
        .collect();
    uris.chunks(100).map(|c| c.join(", ")).collect()
}

/// An INVITE from dave to `user`; `extra` lines go after the headers.
fn invite(from: &Endpoint, user: &str, call_id: &str, max_forwards: u8, extra: &[&str]) -> String {
    let key: String = call_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut text = format!(
        "INVITE sip:{user}@{LOCALHOST} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {addr};branch=z9hG4bK-inv-{key};rport\r\n\
         Max-Forwards: {max_forwards}\r\n\
         From: <sip:dave@{LOCALHOST}>;tag=d-{key}\r\n\
         To: <sip:{user}@{LOCALHOST}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:dave@{addr}>\r\n",
        addr = from.addr,
    );
    for line in extra {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    text
}

fn contacts_of(response: &Message) -> usize {
    response.header_all::<Contact>().unwrap().len()
}

fn reason(response: &Message) -> String {
    response.reason_phrase().unwrap_or_default().into_owned()
}

#[test]
fn a_register_with_1000_contacts_is_refused_and_an_aor_keeps_at_most_max_contacts() {
    let server = Server::start(ServerConfig::default());
    let phone = Endpoint::new();

    phone.send(
        &register("carol", &phone, 1, &contact_lines(0, 1000, phone.addr)),
        server.sip,
    );
    let r = phone.final_response(&server);
    assert_eq!(r.status(), Some(403), "{}", server.stderr());
    assert_eq!(reason(&r), "Too many contacts (at most 10)");

    // Ten, the default bound, are taken.
    phone.send(
        &register("carol", &phone, 2, &contact_lines(0, 10, phone.addr)),
        server.sip,
    );
    let r = phone.final_response(&server);
    assert_eq!(r.status(), Some(200), "{}", server.stderr());
    assert_eq!(contacts_of(&r), 10);

    // An eleventh replaces one of the others: still ten, the new one among them.
    phone.send(
        &register("carol", &phone, 3, &contact_lines(10, 1, phone.addr)),
        server.sip,
    );
    let r = phone.final_response(&server);
    assert_eq!(r.status(), Some(200), "{}", server.stderr());
    assert_eq!(contacts_of(&r), 10);
    let listed: Vec<String> = r
        .header_all::<Contact>()
        .unwrap()
        .iter()
        .filter_map(|c| c.addr().map(|a| a.uri.to_string()))
        .collect();
    let newest = format!("sip:c10@{}", phone.addr);
    assert!(listed.contains(&newest), "{listed:?}");
}

#[test]
fn a_contact_that_points_at_the_server_is_refused() {
    let server = Server::start(ServerConfig::default());
    let phone = Endpoint::new();
    phone.send(
        &register("carol", &phone, 1, &[format!("<sip:carol@{}>", server.sip)]),
        server.sip,
    );
    let r = phone.final_response(&server);
    assert_eq!(r.status(), Some(403), "{}", server.stderr());
    assert_eq!(reason(&r), "Contact points at this server");

    // Nothing was bound: a call to carol finds her not registered.
    let caller = Endpoint::new();
    caller.send(&invite(&caller, "carol", "self-1", 70, &[]), server.sip);
    assert_eq!(caller.final_response(&server).status(), Some(480));
}

#[test]
fn one_invite_to_a_capped_aor_sends_a_bounded_number_of_datagrams() {
    let server = Server::start(ServerConfig::default().option("sip", "max_forks = 3"));
    let phone = Endpoint::new();
    phone.send(
        &register("carol", &phone, 1, &contact_lines(0, 10, phone.addr)),
        server.sip,
    );
    assert_eq!(phone.final_response(&server).status(), Some(200));

    let caller = Endpoint::new();
    caller.send(&invite(&caller, "carol", "fork-1", 70, &[]), server.sip);
    // The phone refuses every INVITE at once and counts what reaches it, until a second
    // after the caller got its final answer (to see the ACKs and anything that follows).
    let mut branches = BTreeSet::new();
    let (mut invites, mut acks, mut others) = (0, 0, 0);
    let mut answered: Option<(u16, Instant)> = None;
    let deadline = Instant::now() + WAIT;
    while answered.is_none_or(|(_, at)| at.elapsed() < Duration::from_secs(1)) {
        assert!(Instant::now() < deadline, "no end\n{}", server.stderr());
        if let Some(m) = phone.recv(Duration::from_millis(20)) {
            match m.method().map(|m| m.as_str().to_owned()).as_deref() {
                Some("INVITE") => {
                    invites += 1;
                    let via = m.get_str(&HeaderName::Via).unwrap().into_owned();
                    branches.insert(via);
                    let busy = builder::response(&m, 486, None, "ph1");
                    phone.socket.send_to(&busy.to_bytes(), server.sip).unwrap();
                }
                Some("ACK") => acks += 1,
                _ => others += 1,
            }
        }
        if answered.is_none() {
            if let Some(m) = caller.recv(Duration::from_millis(20)) {
                if let Some(status @ 200..) = m.status() {
                    answered = Some((status, Instant::now()));
                }
            }
        }
    }
    assert_eq!(answered.map(|(s, _)| s), Some(486), "{}", server.stderr());
    assert_eq!(
        branches.len(),
        3,
        "one INVITE per fork, three forks at most"
    );
    assert_eq!(acks, 3, "one ACK per refused fork");
    assert_eq!(others, 0);
    // Each fork may be retransmitted once if our 486 is slow on a loaded machine.
    assert!((3..=6).contains(&invites), "{invites} INVITE datagrams");
    println!("one INVITE to 10 contacts with max_forks = 3: {invites} INVITEs + {acks} ACKs");
}

#[test]
fn max_forwards_is_carried_one_less_and_loops_get_482() {
    let server = Server::start(ServerConfig::default());
    let phone = Endpoint::new();
    phone.send(
        &register("carol", &phone, 1, &contact_lines(0, 1, phone.addr)),
        server.sip,
    );
    assert_eq!(phone.final_response(&server).status(), Some(200));

    let caller = Endpoint::new();
    caller.send(&invite(&caller, "carol", "mf-5", 5, &[]), server.sip);
    let deadline = Instant::now() + WAIT;
    let forwarded = loop {
        assert!(Instant::now() < deadline, "{}", server.stderr());
        if let Some(m) = phone.recv(Duration::from_millis(200)) {
            if m.method().is_some_and(|m| m.as_str() == "INVITE") {
                break m;
            }
        }
    };
    assert_eq!(
        forwarded.get_str(&HeaderName::MaxForwards).as_deref(),
        Some("4")
    );
    let busy = builder::response(&forwarded, 486, None, "ph1");
    phone.socket.send_to(&busy.to_bytes(), server.sip).unwrap();
    assert_eq!(caller.final_response(&server).status(), Some(486));

    caller.send(&invite(&caller, "carol", "mf-0", 0, &[]), server.sip);
    assert_eq!(caller.final_response(&server).status(), Some(483));

    // Our own Via further down: the request went through us before.
    let ours = format!("Via: SIP/2.0/UDP {};branch=z9hG4bK-earlier", server.sip);
    caller.send(&invite(&caller, "carol", "via-1", 70, &[&ours]), server.sip);
    let r = caller.final_response(&server);
    assert_eq!(r.status(), Some(482), "{}", server.stderr());
    assert_eq!(reason(&r), "Loop Detected: a Via of this server");

    // A Call-ID of ours (its process token, as in the INVITE it sent the phone): a call we
    // placed came back.
    let sent = forwarded.get_str(&HeaderName::CallId).unwrap().into_owned();
    let token = sent.split('-').nth(1).unwrap();
    let ours = format!("callcomp-{token}-again@127.0.0.1");
    caller.send(&invite(&caller, "carol", &ours, 70, &[]), server.sip);
    let r = caller.final_response(&server);
    assert_eq!(r.status(), Some(482));
    assert_eq!(reason(&r), "Loop Detected: a Call-ID of this server");
    // Another callcomp's Call-ID (same shape, another token) is no loop: it reaches carol.
    let other: String = token
        .chars()
        .map(|c| if c == 'z' { 'y' } else { 'z' })
        .collect();
    let theirs = format!("callcomp-{other}-call@127.0.0.1");
    caller.send(&invite(&caller, "carol", &theirs, 70, &[]), server.sip);
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(
            Instant::now() < deadline,
            "{theirs} not forwarded: {}",
            server.stderr()
        );
        if let Some(m) = phone.recv(Duration::from_millis(200)) {
            if m.method().is_some_and(|m| m.as_str() == "INVITE") {
                break;
            }
        }
    }
}

#[tokio::test]
async fn the_tcp_cap_per_address_leaves_room_for_a_second_address() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpSocket, TcpStream};

    let server = Server::start(ServerConfig::default().option("sip", "tcp_max_per_address = 2"));
    let options = |from: SocketAddr| {
        format!(
            "OPTIONS sip:{LOCALHOST} SIP/2.0\r\n\
             Via: SIP/2.0/TCP {from};branch=z9hG4bK-o-{port}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:probe@{LOCALHOST}>;tag=o{port}\r\n\
             To: <sip:{LOCALHOST}>\r\n\
             Call-ID: o-{port}@{LOCALHOST}\r\n\
             CSeq: 1 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n",
            port = from.port()
        )
    };
    // Whether the server answers an OPTIONS on this connection (false: closed on us).
    async fn answered(stream: &mut TcpStream, request: String) -> bool {
        if stream.write_all(request.as_bytes()).await.is_err() {
            return false;
        }
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(WAIT, stream.read(&mut buf)).await {
            Ok(Ok(n)) => buf[..n].starts_with(b"SIP/2.0 200"),
            Ok(Err(_)) => false,
            Err(_) => panic!("neither an answer nor a close within {WAIT:?}"),
        }
    }
    async fn connect_from(ip: &str, to: SocketAddr) -> TcpStream {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
        socket.connect(to).await.unwrap()
    }

    let mut kept = Vec::new();
    for _ in 0..2 {
        let mut s = connect_from("127.0.0.1", server.sip).await;
        let from = s.local_addr().unwrap();
        assert!(answered(&mut s, options(from)).await, "{}", server.stderr());
        kept.push(s);
    }
    let mut third = connect_from("127.0.0.1", server.sip).await;
    let from = third.local_addr().unwrap();
    assert!(
        !answered(&mut third, options(from)).await,
        "a third from 127.0.0.1 is refused"
    );

    let mut other = connect_from("127.0.0.2", server.sip).await;
    let from = other.local_addr().unwrap();
    assert!(
        answered(&mut other, options(from)).await,
        "127.0.0.2 still gets in\n{}",
        server.stderr()
    );
    // The first two still work.
    for s in &mut kept {
        let from = s.local_addr().unwrap();
        let again = options(from)
            .replace("CSeq: 1", "CSeq: 2")
            .replace("-o-", "-o2-");
        assert!(answered(s, again).await);
    }
}

#[test]
fn malformed_datagrams_are_logged_as_one_summary_line_with_a_count() {
    let server =
        Server::start(ServerConfig::default().option("log", "malformed_interval = \"1s\""));
    let noise = Endpoint::new();
    for i in 0..50 {
        noise.send(
            &format!("OPTIONS sip:x SIP/2.0\r\nVia: garbage {i}\r\n\r\n"),
            server.sip,
        );
    }
    // The 50 may straddle two intervals: then two lines share the count.
    let count_of = |line: &str| -> u64 {
        let rest = line
            .split("malformed SIP input: ")
            .nth(1)
            .unwrap_or_default();
        rest.split(' ')
            .next()
            .unwrap_or_default()
            .parse()
            .unwrap_or(0)
    };
    let deadline = Instant::now() + WAIT;
    let summaries = loop {
        let log = server.stderr();
        let lines: Vec<String> = log
            .lines()
            .filter(|l| l.contains("WARN") && l.contains("malformed SIP input: "))
            .map(str::to_owned)
            .collect();
        if lines.iter().map(|l| count_of(l)).sum::<u64>() >= 50 {
            break lines;
        }
        assert!(Instant::now() < deadline, "no summary of 50 packets\n{log}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(summaries.len() <= 2, "{summaries:#?}");
    assert_eq!(summaries.iter().map(|l| count_of(l)).sum::<u64>(), 50);
    assert!(
        summaries[0].contains("in the last 1s, last from"),
        "{summaries:#?}"
    );
    assert!(
        summaries
            .iter()
            .all(|l| l.contains(&noise.addr.to_string())),
        "{summaries:#?}"
    );
}
