//! `callcomp events`: follows the API's WebSocket event stream (`GET /v1/events`, docs/api.md)
//! and prints one line per LINE_* event until interrupted.
//!
//! Each line reads `TIME  #SEQ  EVENT  call ID  LINE  DETAIL`: the event's time of day in UTC,
//! its sequence number (a gap means events were missed), its name, the call and line it is
//! about, then what it says: the state (with its mode) for `callstate`, direction and remote
//! party for `appnewcall`, what changed for `callinfo`, followed by the call's reason and its
//! completion id when it has one. With `--json` each event is printed as the server sent it, one
//! JSON object per line, so the output can be piped into `jq`.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::Value;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

use super::client::{io_error, CliError, Target};
use super::table::{clean, list, state, text};

/// The API route of the event stream.
pub const EVENTS_PATH: &str = "/v1/events";

/// Connects to `target`'s event stream, says so on `status` (so that a reader knows events
/// from now on will show), then writes every event to `out` until the stream ends.
///
/// Returns only with an error: the server closing the stream is
/// [`CliError::StreamClosed`]; an interrupt ends the process before that.
pub fn follow(
    target: &Target,
    json: bool,
    out: &mut dyn Write,
    status: &mut dyn Write,
) -> Result<(), CliError> {
    let mut socket = connect(target)?;
    // The server subscribes before it answers the upgrade: every event after this line shows.
    writeln!(
        status,
        "following events from {} (Ctrl-C to stop)",
        target.ws_url(EVENTS_PATH)
    )?;
    status.flush()?;
    loop {
        let message = match socket.read() {
            Ok(message) => message,
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Err(CliError::StreamClosed {
                    reason: String::new(),
                })
            }
            Err(tungstenite::Error::Io(e)) => return Err(io_error(target, &e)),
            Err(e) => {
                return Err(CliError::Unreachable {
                    url: target.base.clone(),
                    detail: format!("the event stream failed: {e}"),
                })
            }
        };
        match message {
            Message::Text(text) => {
                let line = if json {
                    // As sent, but on one line whatever the server did.
                    match serde_json::from_str::<Value>(text.as_str()) {
                        Ok(value) => value.to_string(),
                        Err(_) => clean(text.as_str()),
                    }
                } else {
                    match serde_json::from_str::<Value>(text.as_str()) {
                        Ok(value) => event_line(&value),
                        Err(e) => format!("(unreadable message: {e}: {})", clean(text.as_str())),
                    }
                };
                writeln!(out, "{line}")?;
                out.flush()?;
            }
            Message::Close(frame) => {
                // Let tungstenite send its reply to the close; the stream is over either way.
                let _ = socket.flush();
                let reason = frame
                    .map(|f| {
                        let code = u16::from(f.code);
                        if f.reason.is_empty() {
                            format!("code {code}")
                        } else {
                            format!("code {code}: {}", clean(f.reason.as_str()))
                        }
                    })
                    .unwrap_or_default();
                return Err(CliError::StreamClosed { reason });
            }
            // Pings are answered by tungstenite on the next read; binary frames are not part of
            // the API.
            Message::Ping(_) | Message::Pong(_) | Message::Binary(_) | Message::Frame(_) => {}
        }
    }
}

/// Opens the WebSocket, with the token if there is one.
///
/// The TCP connection is made here rather than by `tungstenite::connect`, which reports a
/// refused connection only as "unable to connect": a refusal has its own message.
fn connect(target: &Target) -> Result<WebSocket<TcpStream>, CliError> {
    let url = target.ws_url(EVENTS_PATH);
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| CliError::BadApiUrl {
            url: target.base.clone(),
            why: e.to_string(),
        })?;
    if let Some(auth) = target.authorization() {
        let value = HeaderValue::from_str(&auth).map_err(|_| CliError::Unauthorized {
            url: target.base.clone(),
            token_given: true,
        })?;
        request.headers_mut().insert("authorization", value);
    }
    let host = request.uri().host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = request.uri().port_u16().unwrap_or(80);
    let stream = tcp_connect(host, port).map_err(|e| io_error(target, &e))?;
    match tungstenite::client(request, stream) {
        Ok((socket, _response)) => Ok(socket),
        Err(HandshakeError::Interrupted(_)) => Err(CliError::Unreachable {
            url: target.base.clone(),
            detail: "the WebSocket handshake was interrupted".to_owned(),
        }),
        Err(HandshakeError::Failure(tungstenite::Error::Io(e))) => Err(io_error(target, &e)),
        Err(HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            Err(target.error_for(EVENTS_PATH, status, &body))
        }
        Err(HandshakeError::Failure(e)) => Err(CliError::Unreachable {
            url: target.base.clone(),
            detail: format!("the WebSocket handshake failed: {e}"),
        }),
    }
}

/// A blocking TCP connection to `host:port`, trying each of its addresses in turn.
fn tcp_connect(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("{host} has no address"),
    );
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(stream) => {
                // Events are small and should show at once.
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// One event as a line of text (see the module documentation for the layout).
pub fn event_line(event: &Value) -> String {
    let name = text(&event["event"]);
    if name == "lagged" {
        return format!(
            "{:<12}  lagged: {} events missed; re-read the state with `callcomp calls`",
            "-",
            text(&event["missed"])
        );
    }
    let time = event["at_ms"]
        .as_u64()
        .map_or_else(|| "-".to_owned(), utc_time);
    let seq = format!("#{}", text(&event["seq"]));
    let call = format!("call {}", text(&event["call_id"]));
    let mut detail = Vec::new();
    if event.get("state").is_some() {
        detail.push(state(event));
    }
    if event.get("direction").is_some() || event.get("remote").is_some() {
        detail.push(format!(
            "{} {}",
            text(&event["direction"]),
            text(&event["remote"])
        ));
    }
    if event.get("changed").is_some() {
        detail.push(format!("changed {}", list(&event["changed"])));
    }
    if event.get("reason").is_some() {
        detail.push(format!("reason {}", text(&event["reason"])));
    }
    if let Some(id) = event["completion_id"].as_u64() {
        detail.push(format!("completion {id}"));
    }
    let line = format!(
        "{time:<12}  {seq:<6}  {name:<10}  {call:<9}  {line:<8}  {detail}",
        line = text(&event["line"]),
        detail = detail.join("  "),
    );
    clean(line.trim_end())
}

/// Milliseconds since the UNIX epoch as the UTC time of day, `HH:MM:SS.mmm`.
pub fn utc_time(ms: u64) -> String {
    let day_ms = ms % 86_400_000;
    let (h, m, s, milli) = (
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000,
    );
    format!("{h:02}:{m:02}:{s:02}.{milli:03}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_of_day() {
        let rows = [
            (0, "00:00:00.000"),
            (1_764_100_000_000, "19:46:40.000"),
            (1_764_100_003_042, "19:46:43.042"),
            (86_399_999, "23:59:59.999"),
            (86_400_000, "00:00:00.000"),
        ];
        for (ms, want) in rows {
            assert_eq!(utc_time(ms), want, "{ms}");
        }
    }

    /// The event lines for the messages docs/api.md shows, one per event kind.
    #[test]
    fn event_lines() {
        let rows = [
            (
                json!({"seq":1,"at_ms":1764100000000u64,"event":"appnewcall","call_id":1,"line":"alice","address_id":0,"direction":"out","remote":"bob","reason":"direct","reason_value":1,"completion_id":null}),
                "19:46:40.000  #1      appnewcall  call 1     alice     out bob  reason direct",
            ),
            (
                json!({"seq":6,"at_ms":1764100003000u64,"event":"callstate","call_id":1,"line":"alice","state":"busy","state_value":64,"mode":"station","mode_value":1,"reason":"direct","reason_value":1,"completion_id":null}),
                "19:46:43.000  #6      callstate   call 1     alice     busy/station  reason direct",
            ),
            (
                json!({"seq":12,"at_ms":1764100003000u64,"event":"callstate","call_id":14,"line":"bob","state":"offering","state_value":2,"reason":"callcompletion","reason_value":64,"completion_id":3}),
                "19:46:43.000  #12     callstate   call 14    bob       offering  reason callcompletion  completion 3",
            ),
            (
                json!({"seq":7,"at_ms":1764100003000u64,"event":"callinfo","call_id":1,"line":"alice","changed":["reason","completionid"],"changed_value":3,"reason":"direct","reason_value":1,"completion_id":null}),
                "19:46:43.000  #7      callinfo    call 1     alice     changed reason,completionid  reason direct",
            ),
            (
                json!({"event":"lagged","missed":8}),
                "-             lagged: 8 events missed; re-read the state with `callcomp calls`",
            ),
            // A kind this client does not know is still shown with what it has.
            (
                json!({"seq":9,"at_ms":0,"event":"linedevstate","line":"carol"}),
                "00:00:00.000  #9      linedevstate  call -     carol",
            ),
            // A hostile remote cannot break the line.
            (
                json!({"seq":2,"at_ms":0,"event":"appnewcall","call_id":2,"line":"bob","direction":"in","remote":"x\n\u{1b}[2J","reason":"direct"}),
                "00:00:00.000  #2      appnewcall  call 2     bob       in x\\n\\u{1b}[2J  reason direct",
            ),
        ];
        for (event, want) in rows {
            assert_eq!(event_line(&event), want, "{event}");
        }
    }
}
