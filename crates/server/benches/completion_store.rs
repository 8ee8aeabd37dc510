//! Durable completion accepts through the API, and the reload of outstanding requests at start.
//!
//! `cargo bench -p callcomp --bench completion_store [-- N]` (N accepts, default 4000):
//!
//! 1. the real core task with a fake transport and a fresh SQLite store (WAL, synchronous=FULL)
//!    in a temporary directory; four caller lines whose calls to an unregistered `bob` fail with
//!    480, so each leaves a `busy` call to complete;
//! 2. `POST /v1/calls/{id}/complete` through the axum router (in-process, `oneshot`: the HTTP
//!    layer without a socket), first one at a time, then 64 at a time; each answer means the
//!    request is committed;
//! 3. 100,000 requests written to a store, then the start-up path timed: open the store, read
//!    every row, decode, and import into a fresh switch.
//!
//! Figures go in docs/benchmarks.md ("Completion through the store and API").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use callcomp::api::{self, ApiOptions};
use callcomp::config::Config;
use callcomp::core::completion::snapshot_of;
use callcomp::core::handle::CoreHandle;
use callcomp::core::ids::Ids;
use callcomp::core::runtime::{self, Inputs};
use callcomp::core::snapshot::Snapshots;
use callcomp::core::{new_switch, Engine};
use callcomp::store::{Store, StoredCompletion};
use callcomp::transport::{Inbound, Outbound, Peer, Proto};
use callcomp_sip::message::Message;
use callcomp_sip::parse::Limits;
use tokio::sync::{broadcast, mpsc, oneshot};
use tower::ServiceExt;

const CONFIG: &str = r#"
domain = "example.com"
[completion]
max_call_completions = 1000
max_queue = 10000
offer_window = "1h"
[users.u0]
[users.u1]
[users.u2]
[users.u3]
[users.bob]
"#;
const CALLERS: usize = 4;
const RELOAD_ROWS: u32 = 100_000;

fn engine(config: &Arc<Config>) -> (Engine, Snapshots) {
    let engine = Engine::new(
        Arc::clone(config),
        new_switch(config),
        Ids::from_os_rng(),
        "192.0.2.100:5060".parse().unwrap(),
        [1; 32],
        Vec::new(),
        runtime::now(),
    );
    let snapshots = engine.snapshots();
    (engine, snapshots)
}

async fn post(router: &Router, uri: String) -> StatusCode {
    let request = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"mode":"callback"}"#))
        .unwrap();
    router.clone().oneshot(request).await.unwrap().status()
}

async fn busy_calls(router: &Router, line: &str) -> Vec<u64> {
    let request = Request::builder()
        .uri(format!("/v1/lines/{line}/calls"))
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let calls: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == "busy")
        .map(|c| c["id"].as_u64().unwrap())
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(4000)
        .min(CALLERS * 1000);
    let dir = tempfile::tempdir().unwrap();
    let config = Arc::new(Config::from_toml_str(CONFIG, "bench.toml").unwrap());
    let store = Store::open(dir.path().join("callcomp.db")).await.unwrap();
    let (core, switch) = engine(&config);
    let (inbound_tx, inbound) = mpsc::channel(1024);
    let (commands_tx, commands) = mpsc::channel(1024);
    let (events_tx, _) = broadcast::channel(1024);
    let handle = CoreHandle::new(switch, commands_tx, events_tx.clone());
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Outbound>();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(runtime::run(
        core,
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

    // N calls to the unregistered bob: each fails with 480 and stays busy.
    for i in 0..n {
        let user = format!("u{}", i % CALLERS);
        let text = format!(
            "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bKb{i}\r\n\
             Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:{user}@example.com>;tag=t{i}\r\n\
             Call-ID: bench-{i}\r\nCSeq: 1 INVITE\r\nContact: <sip:{user}@192.0.2.1:5061>\r\n\
             Content-Length: 0\r\n\r\n"
        );
        let message = Message::parse_datagram(text.as_bytes(), &Limits::default()).unwrap();
        let peer = Peer {
            proto: Proto::Udp,
            remote: "192.0.2.1:5061".parse().unwrap(),
            local: "192.0.2.100:5060".parse().unwrap(),
            conn: None,
        };
        inbound_tx
            .send(Inbound::Message {
                message,
                peer,
                at: Instant::now(),
            })
            .await
            .unwrap();
    }
    // Count each call once: unacknowledged 480s are retransmitted.
    let mut failed = std::collections::HashSet::new();
    while failed.len() < n {
        let out = out_rx.recv().await.unwrap();
        let m = Message::parse_datagram(&out.bytes, &Limits::default()).unwrap();
        if m.status() == Some(480) {
            failed.insert(
                m.get_str(&callcomp_sip::HeaderName::CallId)
                    .unwrap()
                    .into_owned(),
            );
        }
    }
    let mut calls = Vec::new();
    for i in 0..CALLERS {
        calls.extend(busy_calls(&router, &format!("u{i}")).await);
    }
    assert_eq!(calls.len(), n);
    let (sequential, concurrent) = calls.split_at(n / 2);

    let start = Instant::now();
    for id in sequential {
        assert_eq!(
            post(&router, format!("/v1/calls/{id}/complete")).await,
            StatusCode::CREATED
        );
    }
    let seq_time = start.elapsed();

    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in concurrent.chunks(concurrent.len().div_ceil(64).max(1)) {
        let router = router.clone();
        let chunk = chunk.to_vec();
        tasks.spawn(async move {
            for id in chunk {
                assert_eq!(
                    post(&router, format!("/v1/calls/{id}/complete")).await,
                    StatusCode::CREATED
                );
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let conc_time = start.elapsed();
    let rows = store.all_completions().await.unwrap();
    assert_eq!(rows.len(), n, "every accepted request is stored");
    println!(
        "durable accepts, sequential: {} in {:.3} s = {:.0}/s",
        sequential.len(),
        seq_time.as_secs_f64(),
        sequential.len() as f64 / seq_time.as_secs_f64()
    );
    println!(
        "durable accepts, 64 concurrent: {} in {:.3} s = {:.0}/s",
        concurrent.len(),
        conc_time.as_secs_f64(),
        concurrent.len() as f64 / conc_time.as_secs_f64()
    );
    stop_tx.send(()).unwrap();
    task.await.unwrap();
    store.close().await.unwrap();

    // Reload: 100,000 rows shaped like the real ones.
    let template: serde_json::Value = serde_json::from_str(&rows[0].data).unwrap();
    let big = dir.path().join("reload.db");
    let store = Store::open(&big).await.unwrap();
    let mut writes = tokio::task::JoinSet::new();
    for chunk in 0..(RELOAD_ROWS / 1000) {
        let store = store.clone();
        let template = template.clone();
        writes.spawn(async move {
            for k in 0..1000 {
                let id = chunk * 1000 + k + 1;
                let mut r = template.clone();
                r["id"] = id.into();
                r["seq"] = u64::from(id).into();
                r["line"] = format!("u{}", id % 4).into();
                store
                    .upsert_completion(StoredCompletion {
                        completion_id: id,
                        line: r["line"].as_str().unwrap().to_owned(),
                        target: "bob".into(),
                        mode: "callback".into(),
                        state: "queued".into(),
                        seq: u64::from(id),
                        data: r.to_string(),
                    })
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(r) = writes.join_next().await {
        r.unwrap();
    }
    store.close().await.unwrap();

    let start = Instant::now();
    let store = Store::open(&big).await.unwrap();
    let rows = store.all_completions().await.unwrap();
    let next_id = store.next_completion_id().await.unwrap();
    let read = start.elapsed();
    let snapshot = snapshot_of(rows, next_id);
    let count = snapshot.requests.len();
    let (mut engine, _) = engine(&config);
    engine.import_completions(snapshot, runtime::now()).unwrap();
    let total = start.elapsed();
    println!(
        "reload of {count} requests: {:.3} s (open + read {:.3} s, decode + import {:.3} s)",
        total.as_secs_f64(),
        read.as_secs_f64(),
        (total - read).as_secs_f64()
    );
}
