//! End-to-end tests of the API's limits (issue #7, item 6) on the real `callcomp serve`:
//! the WebSocket client cap (503 past it), `Origin` refused on upgrades, `Host` refused when
//! no token is set, the header-read timeout, and the connection cap.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::http::{poll, HTTP_WAIT};
use common::{Server, ServerConfig};
use serde_json::Value;
use tungstenite::client::IntoClientRequest;

/// One request on a fresh connection with the given extra header lines; (status, body).
fn raw_request(api: SocketAddr, path: &str, headers: &[&str]) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&api, HTTP_WAIT).unwrap();
    stream.set_read_timeout(Some(HTTP_WAIT)).unwrap();
    let mut text = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    for h in headers {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    stream.write_all(text.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    parse(&String::from_utf8_lossy(&response))
}

fn parse(response: &str) -> (u16, String) {
    let status = response
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn error_name(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["error"].as_str().unwrap_or_default().to_owned()
}

type Ws = tungstenite::WebSocket<TcpStream>;

/// Opens `/v1/events` with an optional Origin: the socket, or the refusal's status and body.
fn open_events(api: SocketAddr, origin: Option<&str>) -> Result<Ws, (u16, String)> {
    let stream = TcpStream::connect_timeout(&api, HTTP_WAIT).unwrap();
    stream.set_read_timeout(Some(HTTP_WAIT)).unwrap();
    let mut request = format!("ws://{api}/v1/events")
        .into_client_request()
        .unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", origin.parse().unwrap());
    }
    match tungstenite::client(request, stream) {
        Ok((socket, response)) => {
            assert_eq!(response.status().as_u16(), 101);
            Ok(socket)
        }
        Err(tungstenite::handshake::HandshakeError::Failure(tungstenite::Error::Http(r))) => {
            let body = r
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err((r.status().as_u16(), body))
        }
        Err(e) => panic!("WebSocket handshake failed oddly: {e}"),
    }
}

#[test]
fn event_clients_are_capped_and_foreign_origins_refused() {
    let server = Server::start(ServerConfig::default().option("api", "max_event_clients = 2"));
    let api = server.api;
    let first = open_events(api, None).expect("first stream");
    let _second = open_events(api, Some(&format!("http://localhost:{}", api.port())))
        .expect("second stream, from a localhost page");
    let (status, body) = open_events(api, None).expect_err("a third is refused");
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_name(&body), "LINEERR_RESOURCEUNAVAIL");

    // A closed stream frees its place.
    drop(first);
    let third = poll(
        HTTP_WAIT,
        "a place after a client left",
        || open_events(api, None).ok(),
        || server.stderr(),
    );
    drop(third);

    // A page of another site may not follow the events.
    let (status, body) =
        open_events(api, Some("http://evil.example")).expect_err("a foreign Origin is refused");
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_name(&body), "LINEERR_INVALAPPHANDLE");
    assert!(body.contains("evil.example"), "{body}");
}

#[test]
fn foreign_host_is_refused_without_a_token_and_allowed_hosts_extend_the_list() {
    let server =
        Server::start(ServerConfig::default().option("api", "allowed_hosts = [\"pbx.test\"]"));
    let api = server.api;
    let port = api.port();
    for (host, want) in [
        (format!("Host: {api}"), 200),
        (format!("Host: localhost:{port}"), 200),
        ("Host: pbx.test".to_owned(), 200),
        (format!("Host: rebind.evil.example:{port}"), 403),
        ("Host: 192.0.2.1".to_owned(), 403),
    ] {
        let (status, body) = raw_request(api, "/v1/lines", &[&host]);
        assert_eq!(status, want, "{host}: {body}");
        if want == 403 {
            assert_eq!(error_name(&body), "LINEERR_INVALAPPHANDLE");
        }
    }
    // No Host at all is refused too.
    let (status, _) = raw_request(api, "/v1/lines", &[]);
    assert_eq!(status, 403);
    // A monitor may probe /healthz by any name.
    let (status, _) = raw_request(api, "/healthz", &["Host: monitor.example"]);
    assert_eq!(status, 200);
}

#[test]
fn with_a_token_the_host_is_not_checked() {
    let server = Server::start(
        ServerConfig::default().option("api", "token = \"a-long-enough-test-token-123\""),
    );
    let (status, body) = raw_request(
        server.api,
        "/v1/lines",
        &[
            "Host: rebind.evil.example",
            "Authorization: Bearer a-long-enough-test-token-123",
        ],
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn headers_that_never_end_are_cut_at_the_header_timeout() {
    let server = Server::start(ServerConfig::default().option("api", "header_timeout = \"1s\""));
    let mut stream = TcpStream::connect_timeout(&server.api, HTTP_WAIT).unwrap();
    // Without a timeout this read would wait forever: fail after 20 s instead.
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n", server.api).as_bytes())
        .unwrap();
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => {
            // Closed, possibly after a 408.
            let text = String::from_utf8_lossy(&rest);
            assert!(
                text.is_empty() || text.starts_with("HTTP/1.1 408"),
                "{text}"
            );
        }
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the connection was not closed: {e}"),
    }
}

#[test]
fn connections_beyond_the_cap_get_503() {
    let server = Server::start(
        ServerConfig::default()
            .option("api", "max_connections = 2")
            .option("api", "header_timeout = \"30s\""),
    );
    let api = server.api;
    // Two connections held open, idle.
    let held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect_timeout(&api, HTTP_WAIT).unwrap())
        .collect();
    // The server may not have accepted them yet: a third is refused once it has.
    let (status, body) = poll(
        HTTP_WAIT,
        "a refused connection",
        || {
            let (status, body) = raw_request(api, "/healthz", &[&format!("Host: {api}")]);
            (status == 503).then_some((status, body))
        },
        || server.stderr(),
    );
    assert_eq!(status, 503);
    assert_eq!(error_name(&body), "LINEERR_RESOURCEUNAVAIL");
    drop(held);
    let (status, _) = poll(
        HTTP_WAIT,
        "room after the held connections closed",
        || {
            let r = raw_request(api, "/healthz", &[&format!("Host: {api}")]);
            (r.0 == 200).then_some(r)
        },
        || server.stderr(),
    );
    assert_eq!(status, 200);
}
