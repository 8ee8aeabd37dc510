//! lineCompleteCall / lineUncompleteCall through the HTTP API over the real core task: the
//! tokio loop with a fake transport, the SQLite store in a temporary directory, and the
//! router driven with `oneshot`. Every LINEERR of DESIGN §2.1 and §2.4 that the API can
//! produce, the durable accept, the listings, and a store failure.
//!
//! (`LINEERR_NOTOWNER` cannot come from this API: the server's API owns every call.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use callcomp::api::{self, ApiOptions};
use callcomp::config::Config;
use callcomp::core::handle::CoreHandle;
use callcomp::core::ids::Ids;
use callcomp::core::runtime::{self, Inputs};
use callcomp::core::{new_switch, Engine};
use callcomp::store::Store;
use callcomp::transport::{Inbound, Outbound, Peer, Proto};
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::message::Message;
use callcomp_sip::parse::Limits;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot};
use tower::ServiceExt;

const CONFIG: &str = r#"
domain = "example.com"
[users.alice]
max_call_completions = 1
[users.erin]
[users.carol]
max_call_completions = 0
[users.bob]
max_queue = 1
"#;
const SERVER: &str = "192.0.2.100:5060";
const BOB: &str = "192.0.2.2:5062";

fn phone(user: &str) -> SocketAddr {
    match user {
        "alice" => "192.0.2.1:5061",
        "bob" => BOB,
        "carol" => "192.0.2.4:5064",
        _ => "192.0.2.9:5069",
    }
    .parse()
    .unwrap()
}

struct Rig {
    router: Router,
    inbound: mpsc::Sender<Inbound>,
    out: mpsc::UnboundedReceiver<Outbound>,
    store: Store,
    branch: u32,
}

impl Rig {
    async fn start(
        dir: &std::path::Path,
    ) -> (Rig, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        let config = Arc::new(Config::from_toml_str(CONFIG, "test.toml").unwrap());
        let store = Store::open(dir.join("callcomp.db")).await.unwrap();
        let engine = Engine::new(
            Arc::clone(&config),
            new_switch(&config),
            Ids::from_os_rng(),
            SERVER.parse().unwrap(),
            [1; 32],
            Vec::new(),
            runtime::now(),
        );
        let (inbound_tx, inbound) = mpsc::channel(16);
        let (commands_tx, commands) = mpsc::channel(16);
        let (events_tx, _) = broadcast::channel(256);
        let handle = CoreHandle::new(engine.snapshots(), commands_tx, events_tx.clone());
        let (out_tx, out) = mpsc::unbounded_channel::<Outbound>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(runtime::run(
            engine,
            move |o| {
                let _ = out_tx.send(o);
            },
            store.clone(),
            Inputs {
                inbound: inbound.into(),
                commands,
            },
            events_tx,
            async {
                let _ = stop_rx.await;
            },
        ));
        let router = api::router(Arc::new(handle), ApiOptions::default());
        let rig = Rig {
            router,
            inbound: inbound_tx,
            out,
            store,
            branch: 0,
        };
        (rig, stop_tx, task)
    }

    async fn deliver(&mut self, from: SocketAddr, text: &str) {
        let message = Message::parse_datagram(text.as_bytes(), &Limits::default()).unwrap();
        let peer = Peer {
            proto: Proto::Udp,
            remote: from,
            local: SERVER.parse().unwrap(),
            conn: None,
        };
        self.inbound
            .send(Inbound::Message {
                message,
                peer,
                at: Instant::now(),
            })
            .await
            .unwrap();
    }

    /// The next message sent to `to` that is not a 100 (others to elsewhere are dropped).
    async fn next_to(&mut self, to: SocketAddr) -> Message {
        loop {
            let out = self.out.recv().await.unwrap();
            let m = Message::parse_datagram(&out.bytes, &Limits::default()).unwrap();
            if out.target.remote == to && m.status() != Some(100) {
                return m;
            }
        }
    }

    async fn register(&mut self, user: &str) {
        self.branch += 1;
        let at = phone(user);
        let text = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {at};branch=z9hG4bKr{}\r\nMax-Forwards: 70\r\n\
             To: <sip:{user}@example.com>\r\nFrom: <sip:{user}@example.com>;tag=r\r\nCall-ID: reg-{user}\r\n\
             CSeq: {} REGISTER\r\nContact: <sip:{user}@{at}>\r\nContent-Length: 0\r\n\r\n",
            self.branch, self.branch
        );
        self.deliver(at, &text).await;
        assert_eq!(self.next_to(at).await.status(), Some(200));
    }

    /// `user` calls bob, whose phone answers 486; returns the busy call's id.
    async fn busy_call(&mut self, user: &str) -> u32 {
        self.branch += 1;
        let at = phone(user);
        let text = format!(
            "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {at};branch=z9hG4bKi{}\r\nMax-Forwards: 70\r\n\
             To: <sip:bob@example.com>\r\nFrom: <sip:{user}@example.com>;tag=f{}\r\nCall-ID: c{}\r\n\
             CSeq: 1 INVITE\r\nContact: <sip:{user}@{at}>\r\nContent-Length: 0\r\n\r\n",
            self.branch, self.branch, self.branch
        );
        self.deliver(at, &text).await;
        // (bob's phone may also get SUBSCRIBEs for its dialog state: left unanswered.)
        let invite = loop {
            let m = self.next_to(phone("bob")).await;
            if m.method() == Some(&callcomp_sip::Method::Invite) {
                break m;
            }
        };
        let mut busy = String::from("SIP/2.0 486 Busy Here\r\n");
        for name in [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::CallId,
            HeaderName::CSeq,
        ] {
            let value = invite.get_str(&name).unwrap();
            busy.push_str(&format!("{name}: {value}\r\n"));
        }
        let to = invite.get_str(&HeaderName::To).unwrap();
        busy.push_str(&format!("To: {to};tag=busy\r\nContent-Length: 0\r\n\r\n"));
        self.deliver(phone("bob"), &busy).await;
        assert_eq!(self.next_to(at).await.status(), Some(486));
        let (status, calls) = self.get(&format!("/v1/lines/{user}/calls")).await;
        assert_eq!(status, StatusCode::OK);
        let call = calls
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["state"] == "busy")
            .unwrap();
        u32::try_from(call["id"].as_u64().unwrap()).unwrap()
    }

    async fn send(&self, method: Method, uri: &str, body: Option<&str>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, value)
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.send(Method::GET, uri, None).await
    }

    async fn delete(&self, uri: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, uri, None).await
    }

    async fn complete(&self, call: u32, body: &str) -> (StatusCode, Value) {
        self.send(
            Method::POST,
            &format!("/v1/calls/{call}/complete"),
            Some(body),
        )
        .await
    }
}

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("")
}

#[tokio::test]
async fn complete_and_uncomplete_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let (mut rig, stop, task) = Rig::start(dir.path()).await;
    for user in ["alice", "bob", "carol", "erin"] {
        rig.register(user).await;
    }

    // Capabilities: the four modes (intrude joins through the media plane).
    let (_, line) = rig.get("/v1/lines/alice").await;
    assert_eq!(
        line["caps"]["call_completion_modes"],
        serde_json::json!(["campon", "callback", "intrude", "message"])
    );
    assert_eq!(line["caps"]["max_call_completions"], 1);
    let (_, carol) = rig.get("/v1/lines/carol").await;
    assert_eq!(carol["caps"]["max_call_completions"], 0);

    let call = rig.busy_call("alice").await;
    let (_, view) = rig.get(&format!("/v1/calls/{call}")).await;
    assert_eq!(
        view["completion_modes"],
        serde_json::json!(["callback", "message"])
    );

    // DESIGN §2.1 refusals, in order.
    let table: &[(u32, &str, StatusCode, &str)] = &[
        (
            999,
            r#"{"mode":"callback"}"#,
            StatusCode::NOT_FOUND,
            "LINEERR_INVALCALLHANDLE",
        ),
        (
            0,
            r#"{"mode":"callback"}"#,
            StatusCode::NOT_FOUND,
            "LINEERR_INVALCALLHANDLE",
        ),
        (
            call,
            r#"{"mode":"ring"}"#,
            StatusCode::BAD_REQUEST,
            "LINEERR_INVALCALLCOMPLMODE",
        ),
        (
            call,
            r#"{"mode":"intrude"}"#,
            StatusCode::CONFLICT,
            "LINEERR_INVALCALLSTATE",
        ),
        (
            call,
            r#"{"mode":"campon"}"#,
            StatusCode::CONFLICT,
            "LINEERR_INVALCALLSTATE",
        ),
        (
            call,
            r#"{"mode":"message","message_id":3}"#,
            StatusCode::BAD_REQUEST,
            "LINEERR_INVALMESSAGEID",
        ),
        (
            call,
            r#"{"mode":5}"#,
            StatusCode::BAD_REQUEST,
            "LINEERR_INVALPARAM",
        ),
    ];
    for (id, body, status, error) in table {
        let (got, answer) = rig.complete(*id, body).await;
        assert_eq!((got, error_of(&answer)), (*status, *error), "{id} {body}");
    }
    let carol_call = rig.busy_call("carol").await;
    let (status, answer) = rig.complete(carol_call, r#"{"mode":"callback"}"#).await;
    assert_eq!(
        (status, error_of(&answer)),
        (StatusCode::CONFLICT, "LINEERR_OPERATIONUNAVAIL")
    );

    // Accepted: 201 with the id, and the row is on disk.
    let (status, answer) = rig.complete(call, r#"{"mode":"callback"}"#).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let id = answer["completion_id"].as_u64().unwrap();
    let rows = rig.store.all_completions().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(u64::from(rows[0].completion_id), id);
    assert_eq!(
        (rows[0].line.as_str(), rows[0].target.as_str()),
        ("alice", "bob")
    );

    let (_, list) = rig.get("/v1/lines/alice/completions").await;
    assert_eq!(list[0]["completion_id"].as_u64(), Some(id));
    assert_eq!(list[0]["mode"], "callback");
    assert_eq!(list[0]["condition"], "busy");
    assert_eq!(list[0]["queue_position"], 1);
    assert!(list[0]["expires_ms"].as_u64().unwrap() > list[0]["created_ms"].as_u64().unwrap());
    let (_, waiting) = rig.get("/v1/completions?target=bob").await;
    assert_eq!(waiting.as_array().unwrap().len(), 1);
    // Without a target: every callee's requests (here bob's one).
    let (status, all) = rig.get("/v1/completions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all, waiting);
    // carol's refused call is still busy in its offer window; alice's went idle.
    let (_, calls) = rig.get("/v1/calls").await;
    let lines: Vec<&str> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["line"].as_str().unwrap())
        .collect();
    assert_eq!(lines, ["carol"], "{calls}");
    let (_, line) = rig.get("/v1/lines/alice").await;
    assert_eq!(line["status"]["num_call_completions"], 1);

    // Limits: bob's queue holds one; alice may have one.
    let erin_call = rig.busy_call("erin").await;
    let (status, answer) = rig.complete(erin_call, r#"{"mode":"callback"}"#).await;
    assert_eq!(
        (status, error_of(&answer)),
        (StatusCode::SERVICE_UNAVAILABLE, "LINEERR_RESOURCEUNAVAIL")
    );
    let again = rig.busy_call("alice").await;
    let (status, answer) = rig.complete(again, r#"{"mode":"callback"}"#).await;
    assert_eq!(
        (status, error_of(&answer)),
        (StatusCode::CONFLICT, "LINEERR_COMPLETIONOVERRUN")
    );

    // DESIGN §2.4.
    let (status, answer) = rig
        .delete(&format!("/v1/lines/nobody/completions/{id}"))
        .await;
    assert_eq!(
        (status, error_of(&answer)),
        (StatusCode::NOT_FOUND, "LINEERR_INVALLINEHANDLE")
    );
    for bad in ["999".to_owned(), "x".to_owned()] {
        let (status, answer) = rig
            .delete(&format!("/v1/lines/alice/completions/{bad}"))
            .await;
        assert_eq!(
            (status, error_of(&answer)),
            (StatusCode::NOT_FOUND, "LINEERR_INVALCOMPLETIONID")
        );
    }
    let (status, answer) = rig
        .delete(&format!("/v1/lines/erin/completions/{id}"))
        .await;
    assert_eq!(error_of(&answer), "LINEERR_INVALCOMPLETIONID", "{status}");
    let (status, _) = rig
        .delete(&format!("/v1/lines/alice/completions/{id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, answer) = rig
        .delete(&format!("/v1/lines/alice/completions/{id}"))
        .await;
    assert_eq!(
        (status, error_of(&answer)),
        (StatusCode::NOT_FOUND, "LINEERR_INVALCOMPLETIONID")
    );

    // A store that is gone: nothing is accepted, the call is still busy, and the answer is
    // RESOURCEUNAVAIL (the store is unavailable, not this request wrong).
    let call = rig.busy_call("erin").await;
    rig.store.clone().close().await.unwrap();
    let (status, answer) = rig.complete(call, r#"{"mode":"message"}"#).await;
    assert_eq!(
        (status, error_of(&answer)),
        (StatusCode::SERVICE_UNAVAILABLE, "LINEERR_RESOURCEUNAVAIL")
    );
    let (_, list) = rig.get("/v1/lines/erin/completions").await;
    assert_eq!(list, serde_json::json!([]));
    let (_, calls) = rig.get("/v1/lines/erin/calls").await;
    assert!(
        calls
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == call && c["state"] == "busy"),
        "the call did not move on: {calls}"
    );

    stop.send(()).unwrap();
    task.await.unwrap();
}

/// `GET /v1/lines/{line}/registrations` (what the console shows under a line): the live
/// bindings from the registrar, with the contact as written and the source it came from; the
/// line's `registered` status follows.
#[tokio::test]
async fn registrations_show_contact_source_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let (mut rig, stop, task) = Rig::start(dir.path()).await;
    let (_, before) = rig.get("/v1/lines/alice").await;
    assert_eq!(before["status"]["registered"], false);
    rig.register("alice").await;

    let (status, list) = rig.get("/v1/lines/alice/registrations").await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let b = &list[0];
    let at = phone("alice").to_string();
    assert_eq!(b["contact"], format!("sip:alice@{at}"));
    assert_eq!(b["source"], at);
    assert_eq!(b["transport"], "UDP");
    let expires = b["expires_ms"].as_u64().unwrap();
    let updated = b["updated_ms"].as_u64().unwrap();
    assert!(expires > updated, "{b}");
    let (_, line) = rig.get("/v1/lines/alice").await;
    assert_eq!(line["status"]["registered"], true);

    let (status, none) = rig.get("/v1/lines/bob/registrations").await;
    assert_eq!((status, none), (StatusCode::OK, serde_json::json!([])));
    let (status, answer) = rig.get("/v1/lines/nobody/registrations").await;
    assert_eq!(
        (status, error_of(&answer)),
        (StatusCode::NOT_FOUND, "LINEERR_INVALLINEHANDLE")
    );
    stop.send(()).unwrap();
    task.await.unwrap();
}
