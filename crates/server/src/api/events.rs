//! `GET /v1/events`: the LINE_* events as a WebSocket stream (DESIGN §4).
//!
//! Each event is one JSON text message, the switch's event as it serializes: `seq` (one more per
//! event), `at_ms`, `event` (`appnewcall`, `callstate`, `callinfo`, …) and its fields. A client
//! that falls so far behind that the core's buffer overwrites events it has not read gets one
//! `{"event": "lagged", "missed": N}` message in their place, then the stream goes on; nothing is
//! dropped silently. Pings are answered by the WebSocket layer; text sent by the client is
//! ignored; when the core's event stream ends the server closes with 1001 (going away).

use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use callcomp_switch::Event;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

use super::auth::EVENTS_PROTOCOL;
use super::error::{ApiError, ErrorBody};
use super::limits::EventClients;
use super::metrics::{EVENTS_LAGGED, EVENT_CLIENTS};
use super::views::LaggedMessage;
use super::AppState;

/// `GET /v1/events`: upgrade to a WebSocket that carries every event from now on.
///
/// The subscription is taken before the upgrade is answered, so once a client sees the 101 it
/// gets every event that happens after.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    responses(
        (status = 101, description = "WebSocket: one JSON text message per event (`seq`, `at_ms`, `event`, …), or a `lagged` message", body = LaggedMessage),
        (status = 400, description = "LINEERR_INVALPARAM: not a WebSocket upgrade request", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "LINEERR_INVALAPPHANDLE: an `Origin` of another site (see `api.allowed_hosts`)", body = ErrorBody),
        (status = 503, description = "LINEERR_RESOURCEUNAVAIL: `api.max_event_clients` streams are open", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    clients: Option<Extension<EventClients>>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // Answering with `callcomp.v1` when it is offered lets a browser that sent its token as a
    // subprotocol (auth.rs) complete the handshake; clients that offer none get none.
    let upgrade = upgrade
        .map_err(|e| ApiError::InvalParam(e.body_text()))?
        .protocols([EVENTS_PROTOCOL]);
    // Without the guard layer (a router built for tests) there is no bound.
    let permit = clients.map(|Extension(c)| c.admit()).transpose()?;
    let events = state.core.subscribe();
    Ok(upgrade.on_upgrade(move |socket| async move {
        stream(socket, events).await;
        drop(permit);
    }))
}

/// The JSON text of one WebSocket message: the event itself, or why events are missing.
///
/// `Ok(None)` means the event stream is over.
fn message_for(received: Result<Event, RecvError>) -> Result<Option<String>, serde_json::Error> {
    match received {
        Ok(event) => serde_json::to_string(&event).map(Some),
        Err(RecvError::Lagged(missed)) => {
            metrics::counter!(EVENTS_LAGGED).increment(missed);
            let lagged = LaggedMessage {
                event: "lagged".to_owned(),
                missed,
            };
            serde_json::to_string(&lagged).map(Some)
        }
        Err(RecvError::Closed) => Ok(None),
    }
}

/// Forwards events to one client until either side ends.
async fn stream(mut socket: WebSocket, mut events: Receiver<Event>) {
    let clients = metrics::gauge!(EVENT_CLIENTS);
    clients.increment(1.0);
    loop {
        tokio::select! {
            received = events.recv() => {
                let text = match message_for(received) {
                    Ok(Some(text)) => text,
                    Ok(None) => {
                        let frame = CloseFrame {
                            code: close_code::AWAY,
                            reason: "event stream ended".into(),
                        };
                        // The client may already be gone; there is nothing left to tell it.
                        let _ = socket.send(Message::Close(Some(frame))).await;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot serialize an event; skipped");
                        continue;
                    }
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                // Pings are answered by the WebSocket layer; client text means nothing here.
                Some(Ok(_)) => {}
            }
        }
    }
    clients.decrement(1.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lagged_and_closed_messages() {
        let lagged = message_for(Err(RecvError::Lagged(5))).unwrap().unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&lagged).unwrap(),
            serde_json::json!({"event": "lagged", "missed": 5})
        );
        assert_eq!(message_for(Err(RecvError::Closed)).unwrap(), None);
    }
}
