//! The SIP transports over real sockets on 127.0.0.1 (RFC 3261 §18, RFC 3581, RFC 5626 §3.5.1).
//!
//! Every wait is a receive bounded by a generous timeout; nothing sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use callcomp::transport::{
    start, ConnId, Inbound, InboundRx, Outbound, Peer, Proto, SendError, Target, TransportHandle,
    TransportLimits,
};
use callcomp_sip::headers::via::Via;
use callcomp_sip::message::Message;
use callcomp_sip::parse::{Framed, Limits};
use callcomp_sip::HeaderName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

fn request(method: &str, via: &str, call_id: &str) -> Vec<u8> {
    format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
Via: {via}\r\n\
From: <sip:alice@example.com>;tag=a1\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: {call_id}\r\n\
CSeq: 1 {method}\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

const RESPONSE: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
Call-ID: c1\r\n\
CSeq: 1 REGISTER\r\n\
Content-Length: 0\r\n\r\n";

async fn start_local(limits: TransportLimits) -> (TransportHandle, InboundRx) {
    start(
        &["127.0.0.1:0".parse().unwrap()],
        &[Proto::Udp, Proto::Tcp],
        limits,
    )
    .await
    .unwrap()
}

async fn next_event(rx: &mut InboundRx) -> Inbound {
    timeout(WAIT, rx.recv())
        .await
        .expect("no inbound event in time")
        .expect("inbound channel closed")
}

async fn next_message(rx: &mut InboundRx) -> (Message, Peer) {
    match next_event(rx).await {
        Inbound::Message { message, peer, .. } => (message, peer),
        other => panic!("expected a message, got {other:?}"),
    }
}

/// Waits until the transport has taken in `n` well-formed messages (queued, dropped or
/// refused), so that the order the core sees does not depend on when it starts reading.
async fn messages_in(handle: &TransportHandle, n: u64) {
    timeout(WAIT, async {
        while handle.stats().messages_in < n {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the transport did not take in the messages in time");
}

/// The next `n` messages the core gets, each as "METHOD call-id" (no method: a response).
async fn method_and_call_ids(rx: &mut InboundRx, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..n {
        let (message, _) = next_message(rx).await;
        let method = message.method().map(|m| m.to_string()).unwrap_or_default();
        let call_id = message.get_str(&HeaderName::CallId).unwrap().into_owned();
        got.push(format!("{method} {call_id}"));
    }
    got
}

async fn udp_client() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

async fn udp_recv(socket: &UdpSocket) -> Message {
    let mut buf = vec![0u8; 65_535];
    let (n, _) = timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .expect("no datagram in time")
        .unwrap();
    Message::parse_datagram(&buf[..n], &Limits::default()).unwrap()
}

/// Reads the next message from a TCP stream, keeping what follows it in `buf`.
async fn tcp_read(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Message {
    loop {
        if let Framed::Complete(m, used) = Message::parse_stream(buf, &Limits::default()).unwrap() {
            buf.drain(..used);
            return m;
        }
        let n = timeout(WAIT, stream.read_buf(buf))
            .await
            .expect("no TCP bytes in time")
            .unwrap();
        assert!(n > 0, "connection closed before a whole message");
    }
}

/// Waits for the server to close a TCP stream (EOF or reset).
async fn tcp_expect_closed(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    match timeout(WAIT, stream.read_to_end(&mut rest))
        .await
        .expect("connection not closed in time")
    {
        Ok(_) => assert!(rest.is_empty(), "unexpected bytes: {rest:?}"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }
}

fn top_via(m: &Message) -> Via {
    m.header::<Via>().unwrap().unwrap()
}

fn tcp_addr(handle: &TransportHandle) -> SocketAddr {
    handle.local_addr(Proto::Tcp).unwrap()
}

#[tokio::test]
async fn udp_and_tcp_share_the_port_the_os_chose() {
    // TCP takes the port UDP got when it is free; when another process holds that TCP port
    // (other tests run in parallel), the transport falls back to another one. So the port
    // must be shared in at least one of five tries.
    let mut seen = Vec::new();
    for _ in 0..5 {
        let (handle, _rx) = start_local(TransportLimits::default()).await;
        assert_eq!(handle.local_addrs().len(), 2);
        let udp = handle.local_addr(Proto::Udp).unwrap();
        let tcp = tcp_addr(&handle);
        assert_ne!(udp.port(), 0);
        if udp == tcp {
            return;
        }
        seen.push((udp, tcp));
    }
    panic!("UDP and TCP never shared a port: {seen:?}");
}

#[tokio::test]
async fn udp_round_trip_with_rport() {
    let (handle, mut rx) = start_local(TransportLimits::default()).await;
    let client = udp_client().await;
    let server = handle.local_addr(Proto::Udp).unwrap();
    let register = request(
        "REGISTER",
        "SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1",
        "c1",
    );
    client.send_to(&register, server).await.unwrap();

    let (message, peer) = next_message(&mut rx).await;
    assert_eq!(peer.proto, Proto::Udp);
    assert_eq!(peer.remote, client.local_addr().unwrap());
    assert_eq!(peer.local, server);
    assert_eq!(peer.conn, None);
    let via = top_via(&message);
    assert_eq!(via.received(), Some("127.0.0.1".parse().unwrap()));
    assert_eq!(via.rport(), Some(Some(client.local_addr().unwrap().port())));

    handle
        .send(Outbound {
            target: Target::reply_to(&peer),
            bytes: RESPONSE.to_vec(),
        })
        .unwrap();
    let reply = udp_recv(&client).await;
    assert_eq!(reply.status(), Some(200));
    assert_eq!(reply.to_bytes(), RESPONSE);
    assert_eq!(handle.stats().messages_in, 1);
}

#[tokio::test]
async fn udp_via_from_the_source_address_is_left_alone() {
    let (handle, mut rx) = start_local(TransportLimits::default()).await;
    let client = udp_client().await;
    let port = client.local_addr().unwrap().port();
    let via = format!("SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK2");
    let options = request("OPTIONS", &via, "c2");
    client
        .send_to(&options, handle.local_addr(Proto::Udp).unwrap())
        .await
        .unwrap();
    let (message, _) = next_message(&mut rx).await;
    assert_eq!(message.to_bytes(), options);
}

#[tokio::test]
async fn malformed_udp_request_gets_a_stateless_answer() {
    let (handle, mut rx) = start_local(TransportLimits::default()).await;
    let client = udp_client().await;
    let server = handle.local_addr(Proto::Udp).unwrap();
    // (request, expected status, expected reason, its Call-ID)
    let rows: &[(&[u8], u16, &str, &str)] = &[
        (
            b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKbad1\r\n\
To: <sip:bob@example.com>\r\n\
i: bad-1\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: -5\r\n\r\n",
            400,
            "Invalid Content-Length",
            "bad-1",
        ),
        (
            b"OPTIONS sip:bob@example.com SIP/7.0\r\n\
v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKbad2\r\n\
Call-ID: bad-2\r\n\
CSeq: 2 OPTIONS\r\n\r\n",
            505,
            "Version Not Supported",
            "bad-2",
        ),
        // The message parses but its top Via does not.
        (
            b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP\r\n\
Call-ID: bad-3\r\n\
CSeq: 3 OPTIONS\r\n\
Content-Length: 0\r\n\r\n",
            400,
            "Invalid Via header",
            "bad-3",
        ),
    ];
    for (input, status, reason, call_id) in rows {
        client.send_to(input, server).await.unwrap();
        let answer = udp_recv(&client).await;
        assert_eq!(answer.status(), Some(*status));
        assert_eq!(answer.reason_phrase().as_deref(), Some(*reason));
        // The Via is copied as written, whatever its header name spelling.
        let text = String::from_utf8_lossy(input);
        let via_line = text
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with('v'))
            .unwrap();
        let via_value = via_line.split_once(':').unwrap().1.trim();
        assert_eq!(answer.get_str(&HeaderName::Via).as_deref(), Some(via_value));
        assert_eq!(
            answer.get_str(&HeaderName::CallId).as_deref(),
            Some(*call_id)
        );
        let cseq_line = text.lines().find(|l| l.starts_with("CSeq")).unwrap();
        assert_eq!(
            answer.get_str(&HeaderName::CSeq).as_deref(),
            Some(cseq_line.split_once(':').unwrap().1.trim())
        );
        assert_eq!(
            answer.get_str(&HeaderName::ContentLength).as_deref(),
            Some("0")
        );
        if text.contains("To:") {
            // A To header without a tag gains one (RFC 3261 §8.2.6.2).
            let to = answer
                .header::<callcomp_sip::headers::from_to::To>()
                .unwrap()
                .unwrap();
            assert!(to.tag().is_some());
        }
    }
    assert_eq!(handle.stats().rejected, 3);
    assert_eq!(handle.stats().parse_errors, 3);
    // Nothing reached the core.
    assert!(rx.try_recv().is_none());
}

#[tokio::test]
async fn malformed_udp_response_is_dropped() {
    let (handle, mut rx) = start_local(TransportLimits::default()).await;
    let client = udp_client().await;
    let server = handle.local_addr(Proto::Udp).unwrap();
    client
        .send_to(
            b"SIP/2.0 999 Way Out\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\r\n",
            server,
        )
        .await
        .unwrap();
    let options = request("OPTIONS", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK3", "c3");
    client.send_to(&options, server).await.unwrap();
    // Datagrams are handled in order: the next event is the OPTIONS ...
    let (message, _) = next_message(&mut rx).await;
    assert_eq!(message.get_str(&HeaderName::CallId).as_deref(), Some("c3"));
    // ... and nothing was sent back for the broken response.
    let mut buf = [0u8; 1024];
    assert!(client.try_recv_from(&mut buf).is_err());
    assert_eq!(handle.stats().parse_errors, 1);
    assert_eq!(handle.stats().rejected, 0);
}

#[tokio::test]
async fn tcp_two_messages_in_one_write_and_reply_on_the_connection() {
    let (handle, mut rx) = start_local(TransportLimits::default()).await;
    let mut client = TcpStream::connect(tcp_addr(&handle)).await.unwrap();
    let mut both = request("OPTIONS", "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK4", "c4");
    both.extend_from_slice(&request(
        "OPTIONS",
        "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK5",
        "c5",
    ));
    client.write_all(&both).await.unwrap();

    let (first, peer) = next_message(&mut rx).await;
    let (second, peer2) = next_message(&mut rx).await;
    assert_eq!(first.get_str(&HeaderName::CallId).as_deref(), Some("c4"));
    assert_eq!(second.get_str(&HeaderName::CallId).as_deref(), Some("c5"));
    assert_eq!(peer.proto, Proto::Tcp);
    assert_eq!(peer.remote, client.local_addr().unwrap());
    assert!(peer.conn.is_some());
    assert_eq!(peer.conn, peer2.conn);
    assert_eq!(
        top_via(&first).received(),
        Some("127.0.0.1".parse().unwrap())
    );

    handle
        .send(Outbound {
            target: Target::reply_to(&peer),
            bytes: RESPONSE.to_vec(),
        })
        .unwrap();
    let mut buf = Vec::new();
    let reply = tcp_read(&mut client, &mut buf).await;
    assert_eq!(reply.to_bytes(), RESPONSE);
}

#[tokio::test]
async fn tcp_one_message_in_many_small_writes() {
    let (handle, mut rx) = start_local(TransportLimits::default()).await;
    let mut client = TcpStream::connect(tcp_addr(&handle)).await.unwrap();
    client.set_nodelay(true).unwrap();
    let mut message = request("INVITE", "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK6", "c6");
    // A body, so that framing by Content-Length is exercised too.
    let text = String::from_utf8(message)
        .unwrap()
        .replace("Content-Length: 0", "Content-Length: 5");
    message = text.into_bytes();
    message.extend_from_slice(b"hello");
    for chunk in message.chunks(7) {
        client.write_all(chunk).await.unwrap();
        client.flush().await.unwrap();
    }
    let (got, _) = next_message(&mut rx).await;
    assert_eq!(got.body(), b"hello");
    assert_eq!(got.get_str(&HeaderName::CallId).as_deref(), Some("c6"));
}

#[tokio::test]
async fn tcp_keep_alives() {
    let (handle, mut rx) = start_local(TransportLimits::default()).await;
    let mut client = TcpStream::connect(tcp_addr(&handle)).await.unwrap();
    // A double-CRLF ping gets a single-CRLF pong (RFC 5626 §3.5.1).
    client.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    timeout(WAIT, client.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    // CRLFs before a message are skipped.
    let mut message = b"\r\n".to_vec();
    message.extend_from_slice(&request(
        "OPTIONS",
        "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK7",
        "c7",
    ));
    client.write_all(&message).await.unwrap();
    let (got, _) = next_message(&mut rx).await;
    assert_eq!(got.get_str(&HeaderName::CallId).as_deref(), Some("c7"));
    // A second ping on the same connection works as well: the connection is still in step.
    client.write_all(b"\r\n\r\n").await.unwrap();
    timeout(WAIT, client.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
}

#[tokio::test]
async fn tcp_framing_error_answers_400_and_closes() {
    let (handle, mut rx) = start_local(TransportLimits::default()).await;
    let mut client = TcpStream::connect(tcp_addr(&handle)).await.unwrap();
    // No Content-Length: a stream cannot be framed (RFC 3261 §18.3).
    client
        .write_all(
            b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK8\r\n\
Call-ID: c8\r\n\
CSeq: 8 OPTIONS\r\n\r\n",
        )
        .await
        .unwrap();
    let mut buf = Vec::new();
    let answer = tcp_read(&mut client, &mut buf).await;
    assert_eq!(answer.status(), Some(400));
    assert_eq!(
        answer.reason_phrase().as_deref(),
        Some("Content-Length required on stream transports")
    );
    assert_eq!(answer.get_str(&HeaderName::CallId).as_deref(), Some("c8"));
    assert!(buf.is_empty());
    tcp_expect_closed(&mut client).await;
    assert!(matches!(next_event(&mut rx).await, Inbound::Closed(_)));
}

#[tokio::test]
async fn tcp_max_connections_is_enforced() {
    let limits = TransportLimits {
        max_connections: 1,
        ..TransportLimits::default()
    };
    let (handle, mut rx) = start_local(limits).await;
    let mut first = TcpStream::connect(tcp_addr(&handle)).await.unwrap();
    first
        .write_all(&request(
            "OPTIONS",
            "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK9",
            "c9",
        ))
        .await
        .unwrap();
    let (_, peer) = next_message(&mut rx).await;

    // The second connection is accepted by the kernel, then closed by the server.
    let mut second = TcpStream::connect(tcp_addr(&handle)).await.unwrap();
    tcp_expect_closed(&mut second).await;
    assert_eq!(handle.stats().connections_refused, 1);

    // The first one still works.
    handle
        .send(Outbound {
            target: Target::reply_to(&peer),
            bytes: RESPONSE.to_vec(),
        })
        .unwrap();
    let mut buf = Vec::new();
    assert_eq!(tcp_read(&mut first, &mut buf).await.status(), Some(200));
}

#[tokio::test]
async fn tcp_idle_connection_is_closed() {
    let limits = TransportLimits {
        idle_timeout: Duration::from_millis(200),
        ..TransportLimits::default()
    };
    let (handle, mut rx) = start_local(limits).await;
    let mut client = TcpStream::connect(tcp_addr(&handle)).await.unwrap();
    client
        .write_all(&request(
            "OPTIONS",
            "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKa",
            "ca",
        ))
        .await
        .unwrap();
    let (_, peer) = next_message(&mut rx).await;
    let conn: ConnId = peer.conn.unwrap();
    match next_event(&mut rx).await {
        Inbound::Closed(id) => assert_eq!(id, conn),
        other => panic!("expected Closed, got {other:?}"),
    }
    tcp_expect_closed(&mut client).await;
}

#[tokio::test]
async fn tcp_connects_on_demand_and_reuses_the_connection() {
    let (handle, mut rx) = start_local(TransportLimits::default()).await;
    let phone = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let phone_addr = phone.local_addr().unwrap();
    let target = Target {
        proto: Proto::Tcp,
        remote: phone_addr,
        conn: None,
    };
    let first = request("OPTIONS", "SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKb", "cb");
    handle
        .send(Outbound {
            target,
            bytes: first.clone(),
        })
        .unwrap();
    let (mut stream, _) = timeout(WAIT, phone.accept()).await.unwrap().unwrap();
    let mut buf = Vec::new();
    assert_eq!(tcp_read(&mut stream, &mut buf).await.to_bytes(), first);

    // The phone answers over the same connection; the core sees where it came from.
    stream.write_all(RESPONSE).await.unwrap();
    let (reply, peer) = next_message(&mut rx).await;
    assert_eq!(reply.status(), Some(200));
    assert_eq!(peer.remote, phone_addr);
    assert!(peer.conn.is_some());

    // A second message to the same address goes over the open connection.
    let second = request("OPTIONS", "SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKc", "cc");
    handle
        .send(Outbound {
            target,
            bytes: second.clone(),
        })
        .unwrap();
    assert_eq!(tcp_read(&mut stream, &mut buf).await.to_bytes(), second);
}

#[tokio::test]
async fn shutdown_refuses_further_sends() {
    let (handle, _rx) = start_local(TransportLimits::default()).await;
    let clone = handle.clone();
    handle.shutdown();
    let result = clone.send(Outbound {
        target: Target {
            proto: Proto::Udp,
            remote: "127.0.0.1:9".parse().unwrap(),
            conn: None,
        },
        bytes: RESPONSE.to_vec(),
    });
    assert_eq!(result, Err(SendError::Stopped));
}

#[tokio::test]
async fn bind_failure_names_the_address() {
    let taken = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let err = start(&[addr], &[Proto::Udp], TransportLimits::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

/// Writes `bytes` one at a time, `gap` apart, until the server closes the connection; returns
/// how many were written. Fails the test if all were written and it is still open.
async fn trickle_until_closed(
    stream: &mut TcpStream,
    rx: &mut InboundRx,
    bytes: &[u8],
    gap: Duration,
) -> usize {
    for (i, b) in bytes.iter().enumerate() {
        if stream.write_all(&[*b]).await.is_err() {
            return i;
        }
        if let Ok(Some(event)) = timeout(gap, rx.recv()).await {
            match event {
                Inbound::Closed(_) => return i + 1,
                other => panic!("expected nothing or Closed, got {other:?}"),
            }
        }
    }
    panic!(
        "the connection stayed open while {} bytes trickled in",
        bytes.len()
    );
}

#[tokio::test]
async fn tcp_a_message_that_trickles_in_is_cut_at_the_message_timeout() {
    let limits = TransportLimits {
        message_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(600),
        ..TransportLimits::default()
    };
    let (handle, mut rx) = start_local(limits).await;
    let mut client = TcpStream::connect(tcp_addr(&handle)).await.unwrap();
    // A byte every 50 ms: each one would reset an idle timer, none completes the message,
    // and 300 bytes would take 15 s.
    let message = request("OPTIONS", "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKt", "ct");
    let sent = trickle_until_closed(
        &mut client,
        &mut rx,
        &message[..message.len() - 4],
        Duration::from_millis(50),
    )
    .await;
    assert!(sent < message.len() - 4);
    tcp_expect_closed(&mut client).await;
}

#[tokio::test]
async fn tcp_stray_bytes_do_not_reset_the_idle_timer() {
    let limits = TransportLimits {
        idle_timeout: Duration::from_millis(300),
        message_timeout: Duration::from_secs(60),
        ..TransportLimits::default()
    };
    let (handle, mut rx) = start_local(limits).await;
    let mut client = TcpStream::connect(tcp_addr(&handle)).await.unwrap();
    client
        .write_all(&request(
            "OPTIONS",
            "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKi",
            "ci",
        ))
        .await
        .unwrap();
    next_message(&mut rx).await;
    // The start of another message, a byte every 50 ms.
    let next = request("OPTIONS", "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKj", "cj");
    trickle_until_closed(
        &mut client,
        &mut rx,
        &next[..next.len() - 4],
        Duration::from_millis(50),
    )
    .await;
    tcp_expect_closed(&mut client).await;
}

#[tokio::test]
async fn tcp_keep_alives_and_whole_messages_keep_a_connection_open() {
    let limits = TransportLimits {
        idle_timeout: Duration::from_millis(1000),
        ..TransportLimits::default()
    };
    let (handle, mut rx) = start_local(limits).await;
    let mut client = TcpStream::connect(tcp_addr(&handle)).await.unwrap();
    // Pings every 150 ms for twice the idle time, each answered with a pong.
    for _ in 0..14 {
        client.write_all(b"\r\n\r\n").await.unwrap();
        let mut pong = [0u8; 2];
        timeout(WAIT, client.read_exact(&mut pong))
            .await
            .expect("no pong in time")
            .unwrap();
        assert_eq!(&pong, b"\r\n");
        assert!(
            timeout(Duration::from_millis(150), rx.recv())
                .await
                .is_err(),
            "the connection closed although kept alive"
        );
    }
    client
        .write_all(&request(
            "OPTIONS",
            "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKk",
            "ck",
        ))
        .await
        .unwrap();
    let (message, _) = next_message(&mut rx).await;
    assert_eq!(message.get_str(&HeaderName::CallId).as_deref(), Some("ck"));
}

#[tokio::test]
async fn tcp_connections_per_address_are_capped() {
    let limits = TransportLimits {
        max_per_address: 1,
        ..TransportLimits::default()
    };
    let (handle, mut rx) = start_local(limits).await;
    let mut first = TcpStream::connect(tcp_addr(&handle)).await.unwrap();
    first
        .write_all(&request(
            "OPTIONS",
            "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKp1",
            "p1",
        ))
        .await
        .unwrap();
    next_message(&mut rx).await;
    let mut second = TcpStream::connect(tcp_addr(&handle)).await.unwrap();
    tcp_expect_closed(&mut second).await;
    assert_eq!(handle.stats().connections_refused, 1);
    // From 127.0.0.2 (also loopback) there is room.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = socket.connect(tcp_addr(&handle)).await.unwrap();
    other
        .write_all(&request(
            "OPTIONS",
            "SIP/2.0/TCP 10.0.0.2;branch=z9hG4bKp2",
            "p2",
        ))
        .await
        .unwrap();
    let (_, peer) = next_message(&mut rx).await;
    assert_eq!(peer.remote.ip().to_string(), "127.0.0.2");
    // When the first closes, 127.0.0.1 has room again.
    drop(first);
    assert!(matches!(next_event(&mut rx).await, Inbound::Closed(_)));
    let mut again = TcpStream::connect(tcp_addr(&handle)).await.unwrap();
    again
        .write_all(&request(
            "OPTIONS",
            "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKp3",
            "p3",
        ))
        .await
        .unwrap();
    next_message(&mut rx).await;
}

#[tokio::test]
async fn udp_new_invites_get_503_retry_after_while_the_core_is_behind_and_dialogs_still_pass() {
    let limits = TransportLimits {
        inbound_queue: 8,
        shed_at: 2,
        ..TransportLimits::default()
    };
    let (handle, mut rx) = start_local(limits).await;
    let server = handle.local_addr(Proto::Udp).unwrap();
    let client = udp_client().await;
    let via = |b: &str| format!("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK{b}");
    // The core reads nothing yet: two INVITEs fill the queue to the shedding mark.
    for (branch, call_id) in [("o1", "c1"), ("o2", "c2")] {
        client
            .send_to(&request("INVITE", &via(branch), call_id), server)
            .await
            .unwrap();
    }
    client
        .send_to(&request("INVITE", &via("o3"), "c3"), server)
        .await
        .unwrap();
    let refused = udp_recv(&client).await;
    assert_eq!(refused.status(), Some(503));
    assert_eq!(refused.get_str(&HeaderName::CallId).as_deref(), Some("c3"));
    assert_eq!(
        refused.get_str(&HeaderName::RetryAfter).as_deref(),
        Some(
            callcomp::transport::OVERLOAD_RETRY_AFTER_SECS
                .to_string()
                .as_str()
        )
    );
    assert!(refused
        .get_str(&HeaderName::To)
        .is_some_and(|to| to.contains(";tag=")));
    // Messages of calls in progress still queue, up to the full bound.
    client
        .send_to(&request("BYE", &via("o4"), "c1"), server)
        .await
        .unwrap();
    client.send_to(RESPONSE, server).await.unwrap();
    messages_in(&handle, 5).await;

    let got = method_and_call_ids(&mut rx, 4).await;
    // The core takes calls in progress first, then the new work that waited.
    assert_eq!(got, ["BYE c1", " c1", "INVITE c1", "INVITE c2"]);
    assert_eq!(handle.stats().overload_refused, 1);

    // The core caught up: a new INVITE is delivered again.
    client
        .send_to(&request("INVITE", &via("o5"), "c5"), server)
        .await
        .unwrap();
    let (message, _) = next_message(&mut rx).await;
    assert_eq!(message.get_str(&HeaderName::CallId).as_deref(), Some("c5"));
    assert_eq!(handle.stats().overload_refused, 1);
}

#[tokio::test]
async fn udp_a_flood_of_new_invites_past_the_bound_leaves_dialog_messages_their_own_lane() {
    // The shedding mark is out of reach: the new-work lane fills to its bound and drops.
    let limits = TransportLimits {
        inbound_queue: 4,
        shed_at: 1_000,
        ..TransportLimits::default()
    };
    let (handle, mut rx) = start_local(limits).await;
    let server = handle.local_addr(Proto::Udp).unwrap();
    let client = udp_client().await;
    let via = |b: &str| format!("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK{b}");
    for n in 0..20 {
        client
            .send_to(
                &request("INVITE", &via(&format!("f{n}")), &format!("f{n}")),
                server,
            )
            .await
            .unwrap();
    }
    messages_in(&handle, 20).await;
    assert_eq!(
        handle.stats().inbound_dropped,
        16,
        "the new-work lane is full"
    );
    let reinvite = String::from_utf8(request("INVITE", &via("d2"), "up1"))
        .unwrap()
        .replace(
            "To: <sip:bob@example.com>",
            "To: <sip:bob@example.com>;tag=b1",
        );
    client
        .send_to(&request("BYE", &via("d1"), "up1"), server)
        .await
        .unwrap();
    client.send_to(RESPONSE, server).await.unwrap();
    client.send_to(reinvite.as_bytes(), server).await.unwrap();
    messages_in(&handle, 23).await;

    let got = method_and_call_ids(&mut rx, 7).await;
    assert_eq!(
        got,
        [
            "BYE up1",
            " c1",
            "INVITE up1",
            "INVITE f0",
            "INVITE f1",
            "INVITE f2",
            "INVITE f3"
        ]
    );
    assert_eq!(
        handle.stats().inbound_dropped,
        16,
        "only new INVITEs dropped"
    );
    assert_eq!(handle.stats().overload_refused, 0);
}
