//! The core task end to end in-process: the tokio loop with a fake transport (channels), the
//! real SQLite store in a temporary directory, the API's view of the core, and a graceful
//! shutdown; then a restart that finds the registration again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use callcomp::api::Core;
use callcomp::config::Config;
use callcomp::core::handle::CoreHandle;
use callcomp::core::ids::Ids;
use callcomp::core::runtime::{self, Inputs};
use callcomp::core::snapshot::Snapshots;
use callcomp::core::{new_switch, Engine};
use callcomp::registrar::Binding;
use callcomp::store::Store;
use callcomp::transport::{Inbound, Outbound, Peer, Proto};
use callcomp_sip::message::Message;
use callcomp_sip::parse::Limits;
use callcomp_switch::EventKind;
use tokio::sync::{broadcast, mpsc, oneshot};

const CONFIG: &str = "domain = \"example.com\"\n[users.alice]\n[users.bob]\n";
const ALICE: &str = "192.0.2.1:5061";

fn register() -> Message {
    let text = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKrt1\r\nMax-Forwards: 70\r\n\
         To: <sip:alice@example.com>\r\nFrom: <sip:alice@example.com>;tag=x\r\nCall-ID: rt-1\r\nCSeq: 1 REGISTER\r\n\
         Contact: <sip:alice@{ALICE}>\r\nContent-Length: 0\r\n\r\n"
    );
    Message::parse_datagram(text.as_bytes(), &Limits::default()).unwrap()
}

fn parse(out: &Outbound) -> Message {
    Message::parse_datagram(&out.bytes, &Limits::default()).unwrap()
}

fn engine(config: &Arc<Config>, bindings: Vec<Binding>) -> (Engine, Snapshots) {
    let server: SocketAddr = "192.0.2.100:5060".parse().unwrap();
    let engine = Engine::new(
        Arc::clone(config),
        new_switch(config),
        Ids::from_os_rng(),
        server,
        [1; 32],
        bindings,
        runtime::now(),
    );
    let snapshots = engine.snapshots();
    (engine, snapshots)
}

#[tokio::test]
async fn register_make_call_drop_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("callcomp.db");
    let config = Arc::new(Config::from_toml_str(CONFIG, "test.toml").unwrap());
    let store = Store::open(&path).await.unwrap();
    let (core, switch) = engine(&config, Vec::new());

    let (inbound_tx, inbound) = mpsc::channel(16);
    let (commands_tx, commands) = mpsc::channel(16);
    let (events_tx, _) = broadcast::channel(64);
    let handle = CoreHandle::new(switch, commands_tx, events_tx.clone());
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Outbound>();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(runtime::run(
        core,
        move |out| {
            let _ = out_tx.send(out);
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

    // REGISTER: the 200 comes once the binding is on disk.
    let peer = Peer {
        proto: Proto::Udp,
        remote: ALICE.parse().unwrap(),
        local: "192.0.2.100:5060".parse().unwrap(),
        conn: None,
    };
    inbound_tx
        .send(Inbound::Message {
            message: register(),
            peer,
            at: Instant::now(),
        })
        .await
        .unwrap();
    let ok = parse(&out_rx.recv().await.unwrap());
    assert_eq!(ok.status(), Some(200));
    let stored = store.bindings("sip:alice@example.com").await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].contact_uri, format!("sip:alice@{ALICE}"));
    assert_eq!(stored[0].received, ALICE);

    // The API reads the switch as last published; the core publishes when a read asks
    // (`catch_up`, which every read handler awaits first), not after every batch.
    let stale = handle.line("alice").unwrap().status.registered;
    handle.catch_up().await;
    let fresh = handle.line("alice").unwrap().status.registered;
    assert_eq!((stale, fresh), (Some(false), Some(true)));

    // The API sees the configured lines.
    let names: Vec<String> = handle.lines().into_iter().map(|l| l.name).collect();
    assert_eq!(names, ["alice", "bob"]);

    // lineMakeCall through the API's view: alice's phone is rung first.
    let mut events = handle.subscribe();
    let view = handle
        .make_call("alice".into(), "bob".into())
        .await
        .unwrap();
    assert_eq!(
        (view.line.as_str(), view.state.as_str()),
        ("alice", "dialing")
    );
    let invite = out_rx.recv().await.unwrap();
    assert_eq!(invite.target.remote.to_string(), ALICE);
    assert_eq!(parse(&invite).method(), Some(&callcomp_sip::Method::Invite));
    let first = events.recv().await.unwrap();
    assert!(matches!(first.kind, EventKind::AppNewCall(_)));

    // lineDrop ends it; an unknown call is LINEERR_INVALCALLHANDLE.
    handle.catch_up().await;
    assert!(handle.call(view.id).is_ok(), "the call is there");
    handle.drop_call(view.id).await.unwrap();
    handle.catch_up().await;
    assert!(handle.call(view.id).is_err());
    assert!(handle.drop_call(999).await.is_err());

    // Graceful shutdown: the task ends.
    stop_tx.send(()).unwrap();
    task.await.unwrap();
    store.close().await.unwrap();

    // Restart: the binding is loaded again.
    let store = Store::open(&path).await.unwrap();
    let bindings: Vec<Binding> = store
        .all_bindings()
        .await
        .unwrap()
        .into_iter()
        .map(Binding::from)
        .collect();
    let (engine, _) = engine(&config, bindings);
    let reg = engine.registrar();
    let contacts = reg.contacts("alice", runtime::now().ms());
    assert_eq!(contacts.len(), 1);
    assert_eq!(
        contacts[0].source.map(|s| s.remote.to_string()).as_deref(),
        Some(ALICE)
    );
    store.close().await.unwrap();
}
