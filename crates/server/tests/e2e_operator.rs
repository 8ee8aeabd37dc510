//! End-to-end tests of what an operator and real phones see (issue #12): the SIP trace lines
//! and their filter, `registrar.nat`, and header hygiene with a real baresip.
//!
//! The real `callcomp serve` on free loopback ports; phones are SIPp runs, plain UDP sockets
//! of the test (when the test must see every byte a phone gets) or Debian's baresip.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{call, free_port, Server, ServerConfig, TestDir, LOCALHOST};

/// How long a test waits for something the server or a phone should do at once.
const WAIT: Duration = Duration::from_secs(5);

// --- helpers: raw UDP phones -----------------------------------------------------------------

/// A UDP socket on loopback standing in for a phone, reading with a short timeout.
fn socket() -> UdpSocket {
    let socket = UdpSocket::bind((LOCALHOST, 0)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    socket
}

/// Reads datagrams until one whose first line starts with `start` comes, or `limit` passes.
fn wait_for(socket: &UdpSocket, start: &str, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 65536];
    while Instant::now() < deadline {
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with(start) {
                return Some(text);
            }
        }
    }
    None
}

/// The value of the first header `name` in a message's text.
fn header(text: &str, name: &str) -> Option<String> {
    text.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// Registers `user` (no password) from `socket`, with `contact` as its Contact URI and
/// `call_id`; fails the test unless a 200 comes.
fn register(socket: &UdpSocket, server: SocketAddr, user: &str, contact: &str, call_id: &str) {
    let local = socket.local_addr().unwrap();
    let text = format!(
        "REGISTER sip:{LOCALHOST} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-{call_id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@{LOCALHOST}>;tag=r-{call_id}\r\n\
         To: <sip:{user}@{LOCALHOST}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <{contact}>\r\n\
         Expires: 300\r\n\
         User-Agent: e2e-raw-phone/1\r\n\
         Content-Length: 0\r\n\r\n"
    );
    socket.send_to(text.as_bytes(), server).unwrap();
    let ok = wait_for(socket, "SIP/2.0 200", WAIT);
    assert!(
        ok.is_some(),
        "no 200 for the REGISTER of {user} ({call_id})"
    );
}

/// An SDP offer whose media port is `media` (a socket of the test, so stray RTP stays here).
fn sdp(media: u16) -> String {
    format!(
        "v=0\r\no=- 4242 1 IN IP4 {LOCALHOST}\r\ns=e2e\r\nc=IN IP4 {LOCALHOST}\r\nt=0 0\r\n\
         m=audio {media} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )
}

/// Sends an INVITE from `from` to `to` through the server, with extra header lines.
fn invite(
    socket: &UdpSocket,
    server: SocketAddr,
    from: &str,
    to: &str,
    call_id: &str,
    extra: &str,
) {
    let local = socket.local_addr().unwrap();
    let body = sdp(local.port());
    let text = format!(
        "INVITE sip:{to}@{LOCALHOST} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-{call_id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{from}@{LOCALHOST}>;tag=i-{call_id}\r\n\
         To: <sip:{to}@{LOCALHOST}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:{from}@{local}>\r\n\
         {extra}\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.send_to(text.as_bytes(), server).unwrap();
}

/// Polls the server's log until some line holds every one of `needles`.
fn wait_for_log(server: &Server, needles: &[&str]) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = server.stderr();
        if log.lines().any(|l| needles.iter().all(|n| l.contains(n))) {
            return log;
        }
        if Instant::now() >= deadline {
            panic!("no log line with all of {needles:?}\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether some line of `log` holds every one of `needles`.
fn has_line(log: &str, needles: &[&str]) -> bool {
    log.lines().any(|l| needles.iter().all(|n| l.contains(n)))
}

// --- SIP tracing -------------------------------------------------------------------------------

/// A SIPp call alice → bob through the server: at `debug` every message in and out has its
/// line (direction, transport, peer, method or status, Call-ID, CSeq), and the choice of
/// bob's binding has a routing line.
#[test]
fn debug_trace_shows_each_message_of_a_sipp_call_and_the_routing_decision() {
    let server = Server::start(ServerConfig::default());
    let caller_port = free_port();
    let bob = server.phone("bob", "uas_answer.xml");
    let phone = bob.addr().to_string();
    call(
        bob,
        server
            .sipp_as("call_basic.xml", "alice")
            .service("bob")
            .local_port(caller_port),
    );
    let caller = format!("peer=127.0.0.1:{caller_port}");
    let phone_peer = format!("peer={phone}");
    let sip = server.sip.to_string();
    // bob's phone registers (challenged first).
    wait_for_log(
        &server,
        &[
            "SIP in",
            r#"dir="in""#,
            r#"transport="UDP""#,
            &phone_peer,
            &format!("msg=REGISTER sip:{sip}"),
            "cseq=1 REGISTER",
        ],
    );
    wait_for_log(
        &server,
        &["SIP out", &phone_peer, "msg=401 ", "cseq=1 REGISTER"],
    );
    // alice's INVITE comes in, the route to bob's binding is chosen, the INVITE goes out.
    wait_for_log(
        &server,
        &[
            "SIP in",
            &caller,
            "msg=INVITE sip:bob@",
            "call_id=",
            "cseq=1 INVITE",
        ],
    );
    wait_for_log(
        &server,
        &[
            "SIP route",
            r#"user="bob""#,
            &format!("to={phone}"),
            r#"why="contact reachable""#,
        ],
    );
    wait_for_log(
        &server,
        &[
            "SIP out",
            &phone_peer,
            "msg=INVITE sip:bob@",
            "cseq=1 INVITE",
        ],
    );
    // bob answers; alice gets the 200; alice hangs up.
    wait_for_log(
        &server,
        &["SIP in", &phone_peer, "msg=200 ", "cseq=1 INVITE"],
    );
    wait_for_log(&server, &["SIP out", &caller, "msg=200 ", "INVITE"]);
    wait_for_log(&server, &["SIP in", &caller, "msg=BYE ", "BYE"]);
    wait_for_log(&server, &["SIP out", &phone_peer, "msg=BYE ", "BYE"]);
}

/// `log.sip_trace = ["carol", "<call-id>"]`: carol's messages and those of the listed Call-ID
/// are traced, dave's other messages are not (his registration itself still happens).
#[test]
fn sip_trace_filter_keeps_one_user_and_one_call_and_drops_another() {
    // The line continues the [log] table the harness writes just before the extra tables.
    let config = ServerConfig::default().tables(r#"sip_trace = ["carol", "watch-this-call"]"#);
    let server = Server::start(config);
    let (carol, dave) = (socket(), socket());
    let carol_at = format!("sip:carol@{}", carol.local_addr().unwrap());
    let dave_at = format!("sip:dave@{}", dave.local_addr().unwrap());
    register(&carol, server.sip, "carol", &carol_at, "reg-carol-1");
    register(&dave, server.sip, "dave", &dave_at, "reg-dave-1");
    register(&dave, server.sip, "dave", &dave_at, "watch-this-call");
    // The last message first: once it is there, everything before it is too.
    let log = wait_for_log(&server, &["SIP out", "call_id=watch-this-call", "msg=200 "]);
    assert!(
        has_line(&log, &["SIP in", "call_id=reg-carol-1", "msg=REGISTER"]),
        "{log}"
    );
    assert!(
        has_line(&log, &["SIP out", "call_id=reg-carol-1", "msg=200 "]),
        "{log}"
    );
    assert!(
        has_line(&log, &["SIP in", "call_id=watch-this-call", "msg=REGISTER"]),
        "{log}"
    );
    assert!(
        has_line(&log, &["registered", "sip:dave@"]),
        "dave registered: {log}"
    );
    assert!(
        !log.contains("call_id=reg-dave-1"),
        "dave's other call is not traced: {log}"
    );

    // A call from dave to carol is traced (carol is in To), with the routing line for carol.
    let caller = socket();
    invite(&caller, server.sip, "dave", "carol", "dave-to-carol", "");
    assert!(wait_for(&carol, "INVITE ", WAIT).is_some());
    wait_for_log(
        &server,
        &["SIP in", "call_id=dave-to-carol", "msg=INVITE sip:carol@"],
    );
    wait_for_log(&server, &["SIP route", r#"user="carol""#]);
}

/// At `trace` each message line carries the whole message.
#[test]
fn trace_level_logs_the_whole_message() {
    let server = Server::start(ServerConfig {
        log_level: "trace".to_owned(),
        ..ServerConfig::default()
    });
    let carol = socket();
    let at = format!("sip:carol@{}", carol.local_addr().unwrap());
    register(&carol, server.sip, "carol", &at, "whole-1");
    let log = wait_for_log(&server, &["SIP in", "call_id=whole-1", "raw="]);
    assert!(log.contains("User-Agent: e2e-raw-phone/1"), "{log}");
    // The answer, whole, with callcomp's own Server header.
    wait_for_log(&server, &["Server: callcomp/"]);
}

// --- registrar.nat ------------------------------------------------------------------------------

/// A phone that registers from socket `from` with the Contact `contact`; dave then calls
/// carol. Returns the server (to read its log) and the INVITE that reached `expect_at`,
/// failing when it went elsewhere.
fn nat_case(
    mode: &str,
    from: &UdpSocket,
    contact: &str,
    expect_at: &UdpSocket,
    other: Option<&UdpSocket>,
) -> Server {
    let server =
        Server::start(ServerConfig::default().tables(&format!("[registrar]\nnat = \"{mode}\"")));
    register(from, server.sip, "carol", contact, &format!("nat-{mode}"));
    let caller = socket();
    invite(
        &caller,
        server.sip,
        "dave",
        "carol",
        &format!("nat-call-{mode}"),
        "",
    );
    let got = wait_for(expect_at, "INVITE sip:carol@", WAIT);
    assert!(
        got.is_some(),
        "nat = {mode}, Contact {contact}: the INVITE did not reach {}\n{}",
        expect_at.local_addr().unwrap(),
        server.stderr()
    );
    if let Some(other) = other {
        assert!(
            wait_for(other, "INVITE", Duration::from_millis(300)).is_none(),
            "nat = {mode}: an INVITE also went to {}",
            other.local_addr().unwrap()
        );
    }
    server
}

/// A phone that sends from one port and listens on another: `contact` and `auto` reach it
/// on its Contact; `source` sends to the port it registered from.
#[test]
fn nat_contact_and_auto_reach_a_phone_listening_on_another_port() {
    for mode in ["contact", "auto"] {
        let (sender, listener) = (socket(), socket());
        let contact = format!("sip:carol@{}", listener.local_addr().unwrap());
        let server = nat_case(mode, &sender, &contact, &listener, Some(&sender));
        wait_for_log(
            &server,
            &["SIP route", r#"user="carol""#, r#"why="contact reachable""#],
        );
    }
    let (sender, listener) = (socket(), socket());
    let contact = format!("sip:carol@{}", listener.local_addr().unwrap());
    let server = nat_case("source", &sender, &contact, &sender, Some(&listener));
    wait_for_log(&server, &["SIP route", r#"why="nat=source""#]);
}

/// A phone behind NAT (a private Contact): `source` and `auto` send to where its REGISTER came
/// from. (`contact` would send to the private address, which no test may do.)
#[test]
fn nat_source_and_auto_reach_a_natted_phone_at_its_source() {
    for (mode, why) in [
        ("source", "nat=source"),
        ("auto", "contact address is private and not the source"),
    ] {
        let phone = socket();
        let server = nat_case(mode, &phone, "sip:carol@192.168.1.20:5060", &phone, None);
        let to = format!("to={}", phone.local_addr().unwrap());
        wait_for_log(
            &server,
            &["SIP route", "192.168.1.20", &to, &format!("why=\"{why}\"")],
        );
    }
}

// --- header hygiene with a real baresip ----------------------------------------------------------

/// Fails the test when baresip is missing (`scripts/test` installs Debian's baresip-core).
fn require_baresip() {
    let found = Command::new("baresip")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "baresip is missing: install it with `apt-get install baresip-core` (scripts/test does)"
    );
}

/// A baresip registered at the server as `user` (no password) that answers every call by
/// itself; its SIP trace (`-s`) goes to a file. Killed on drop.
struct Baresip {
    child: Child,
    out: std::path::PathBuf,
    _dir: TestDir,
}

impl Baresip {
    /// Writes the configuration this test was written with (docs/phones.md shows it) and
    /// starts baresip.
    fn start(server: SocketAddr, user: &str, display: &str) -> Baresip {
        require_baresip();
        let dir = TestDir::new(&format!("baresip-{user}"));
        let port = free_port();
        let config = format!(
            "poll_method\t\tpoll\n\
             sip_listen\t\t{LOCALHOST}:{port}\n\
             sip_transports\t\tudp\n\
             audio_source\t\tausine,440\n\
             ausrc_srate\t\t48000\n\
             ausrc_channels\t\t2\n\
             audio_player\t\taufile,/dev/null\n\
             audio_alert\t\taufile,/dev/null\n\
             module_path\t\t/usr/lib/baresip/modules\n\
             module\t\t\tg711.so\n\
             module\t\t\tausine.so\n\
             module\t\t\taufile.so\n\
             module_app\t\taccount.so\n\
             module_app\t\tmenu.so\n"
        );
        std::fs::write(dir.path().join("config"), config).unwrap();
        let account = format!(
            "\"{display}\" <sip:{user}@{LOCALHOST}>;outbound=\"sip:{server}\";answermode=auto;regint=300\n"
        );
        std::fs::write(dir.path().join("accounts"), account).unwrap();
        let out = dir.path().join("baresip.out");
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .args(["-n", LOCALHOST, "-s", "-t", "30"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start baresip: {e}"));
        Baresip {
            child,
            out,
            _dir: dir,
        }
    }

    /// Everything baresip printed (its SIP trace among it).
    fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// The first SIP message baresip received whose first line starts with `start`.
    fn received(&self, start: &str) -> Option<String> {
        // Each traced message is "UDP <from> -> <to>" followed by the message.
        let out = self.output();
        out.split("#\nUDP ").find_map(|block| {
            let (_, message) = block.split_once('\n')?;
            message.starts_with(start).then(|| message.to_owned())
        })
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- baresip output ---\n{}\n--- end ---", self.output());
        }
    }
}

/// dave (a test socket with its own User-Agent, Allow and Supported) calls carol, a real
/// baresip that answers by itself: baresip gets none of dave's agent headers but callcomp's,
/// and dave's 200 carries none of baresip's (`Server: baresip…`, its Allow).
#[test]
fn baresip_and_the_caller_each_see_callcomps_headers_not_the_other_phones() {
    let server = Server::start(ServerConfig::default());
    let carol = Baresip::start(server.sip, "carol", "Carol Baresip");
    wait_for_log(&server, &["registered", "sip:carol@"]);

    let dave = socket();
    let extra = "User-Agent: DavePhone/1.0\r\nAllow: INVITE, ACK, BYE, DAVEONLY\r\n\
                 Supported: gruu, 100rel, path\r\n";
    invite(&dave, server.sip, "dave", "carol", "hygiene-1", extra);
    let ok = wait_for(&dave, "SIP/2.0 200", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("baresip did not answer\n{}", server.stderr()));
    // The SDP passes untouched (it names baresip in `a=tool`); the headers must not.
    let head = ok.split("\r\n\r\n").next().unwrap_or_default();
    assert!(!head.to_ascii_lowercase().contains("baresip"), "{ok}");
    assert!(
        header(&ok, "Server").is_some_and(|s| s.starts_with("callcomp/")),
        "{ok}"
    );
    let allow = header(&ok, "Allow").unwrap_or_default();
    assert!(
        allow.contains("MESSAGE") && !allow.contains("REFER"),
        "callcomp's Allow: {ok}"
    );

    let got = carol
        .received("INVITE sip:carol")
        .unwrap_or_else(|| panic!("baresip's trace shows no INVITE\n{}", carol.output()));
    let head = got.split("\r\n\r\n").next().unwrap_or_default();
    for foreign in ["DavePhone", "DAVEONLY", "gruu", "path"] {
        assert!(!head.contains(foreign), "{foreign} reached baresip:\n{got}");
    }
    assert!(
        header(&got, "User-Agent").is_some_and(|s| s.starts_with("callcomp/")),
        "{got}"
    );
    assert_eq!(
        header(&got, "Supported").as_deref(),
        Some("100rel"),
        "{got}"
    );

    // ACK and BYE, so baresip's call ends cleanly.
    let local = dave.local_addr().unwrap();
    let to = header(&ok, "To").unwrap();
    let target = header(&ok, "Contact").unwrap();
    let target = target
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    for (method, seq) in [("ACK", 1), ("BYE", 2)] {
        let text = format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-{method}-h1;rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:dave@{LOCALHOST}>;tag=i-hygiene-1\r\nTo: {to}\r\n\
             Call-ID: hygiene-1\r\nCSeq: {seq} {method}\r\nContent-Length: 0\r\n\r\n"
        );
        dave.send_to(text.as_bytes(), server.sip).unwrap();
    }
    assert!(
        wait_for(&dave, "SIP/2.0 200", WAIT).is_some(),
        "BYE answered"
    );
}

/// `display_name` in a call callcomp places (`lineMakeCall`): carol's phone, a real baresip,
/// rings showing whom it will call (`"Dave Desk"`), and dave's phone then shows carol's
/// display name, not her bare address.
#[test]
fn third_party_call_shows_display_names_on_baresip_and_the_callee() {
    let config = ServerConfig::default()
        .user_option("carol", r#"display_name = "Carol Soft""#)
        .user_option("dave", r#"display_name = "Dave Desk""#);
    let server = Server::start(config);
    let carol = Baresip::start(server.sip, "carol", "Carol Baresip");
    wait_for_log(&server, &["registered", "sip:carol@"]);
    let dave = socket();
    let at = format!("sip:dave@{}", dave.local_addr().unwrap());
    register(&dave, server.sip, "dave", &at, "dn-dave");

    let (status, body) = common::http::request(
        server.api,
        "POST",
        "/v1/lines/carol/calls",
        Some(r#"{"to": "dave"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let to_dave = wait_for(&dave, "INVITE ", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("dave was not called\n{}", server.stderr()));
    let from = header(&to_dave, "From").unwrap_or_default();
    assert!(
        from.starts_with(r#""Carol Soft" <sip:carol@127.0.0.1>;tag="#),
        "{from}"
    );
    let to_carol = carol
        .received("INVITE sip:carol")
        .unwrap_or_else(|| panic!("baresip's trace shows no INVITE\n{}", carol.output()));
    let from = header(&to_carol, "From").unwrap_or_default();
    assert!(
        from.starts_with(r#""Dave Desk" <sip:dave@127.0.0.1>;tag="#),
        "{from}"
    );
}
