//! The API side of the end-to-end tests: plain HTTP/1.1 requests to a running server, and a
//! follower of its WebSocket event stream (`GET /v1/events`) that collects the events on a
//! thread so a test can wait for them with a bound.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tungstenite::client::IntoClientRequest;
use tungstenite::Message;

/// How long one HTTP exchange may take.
pub const HTTP_WAIT: Duration = Duration::from_secs(5);

/// One HTTP/1.1 request on a fresh connection (`Connection: close`); a body is sent as JSON.
/// Returns the status and the body; fails the test when nothing answers.
pub fn request(api: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&api, HTTP_WAIT)
        .unwrap_or_else(|e| panic!("cannot reach the API at {api}: {e}"));
    stream.set_read_timeout(Some(HTTP_WAIT)).unwrap();
    stream.set_write_timeout(Some(HTTP_WAIT)).unwrap();
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n");
    if let Some(body) = body {
        text.push_str("Content-Type: application/json\r\n");
        text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    } else {
        text.push_str("Content-Length: 0\r\n\r\n");
    }
    stream.write_all(text.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// `GET path`, expecting 200 and a JSON body.
pub fn get_json(api: SocketAddr, path: &str) -> Value {
    let (status, body) = request(api, "GET", path, None);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
}

/// The states of a line's calls that are not idle (`GET /v1/lines/{line}/calls`).
pub fn line_call_states(api: SocketAddr, line: &str) -> Vec<String> {
    let calls = get_json(api, &format!("/v1/lines/{line}/calls"));
    calls
        .as_array()
        .unwrap_or_else(|| panic!("calls of {line} are not a list: {calls}"))
        .iter()
        .map(|c| c["state"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// Polls `probe` every 20 ms until it returns `Some`, or fails the test after `limit` with the
/// last value `describe` gives.
pub fn poll<T>(
    limit: Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
    describe: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!(
                "{what} did not happen within {limit:?}; last: {}",
                describe()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A follower of `/v1/events`: every text message, parsed as JSON, in arrival order.
pub struct Events {
    rx: mpsc::Receiver<Value>,
    seen: Vec<Value>,
    stream: TcpStream,
}

impl Events {
    /// Opens the WebSocket and starts reading it on a thread.
    pub fn connect(api: SocketAddr) -> Events {
        let stream = TcpStream::connect_timeout(&api, HTTP_WAIT)
            .unwrap_or_else(|e| panic!("cannot reach the API at {api}: {e}"));
        let request = format!("ws://{api}/v1/events")
            .into_client_request()
            .unwrap();
        let (mut socket, response) = tungstenite::client(request, stream.try_clone().unwrap())
            .unwrap_or_else(|e| panic!("WebSocket handshake with {api} failed: {e}"));
        assert_eq!(response.status().as_u16(), 101);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || loop {
            match socket.read() {
                Ok(Message::Text(text)) => {
                    let value = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|_| Value::String(text.as_str().to_owned()));
                    if tx.send(value).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        });
        Events {
            rx,
            seen: Vec::new(),
            stream,
        }
    }

    /// Collects events until `done` holds for the events seen so far; fails the test (showing
    /// them) after `limit`. Returns every event seen since the connection.
    pub fn wait_until(&mut self, limit: Duration, done: impl Fn(&[Value]) -> bool) -> &[Value] {
        let deadline = Instant::now() + limit;
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(value) => self.seen.push(value),
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(e) => panic!(
                    "events: condition not met within {limit:?} ({e:?}); seen:\n{}",
                    self.dump()
                ),
            }
        }
        &self.seen
    }

    /// The events seen so far, one per line, for failure messages.
    pub fn dump(&self) -> String {
        self.seen
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        // Ends the reader thread's blocking read.
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// The `callstate` states of `line`'s calls, in the order the events came.
pub fn states_of(events: &[Value], line: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == "callstate" && e["line"] == line)
        .map(|e| e["state"].as_str().unwrap_or("?").to_owned())
        .collect()
}
