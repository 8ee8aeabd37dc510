//! What the operator's console needs from the API (issue #12), over the fake core: its static
//! files (served without the token, under a strict Content-Security-Policy), the token carried
//! as a WebSocket subprotocol (browsers cannot set `Authorization` on a WebSocket), and the
//! list of every call. The console itself is driven in a real browser by `e2e_console.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common_api;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use callcomp::api::{self, ApiOptions};
use callcomp_switch::{Fact, Party};
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tower::ServiceExt;

use common_api::{alice_busy_on_bob, FakeCore};

/// base64url("s3cret"), without padding.
const S3CRET_B64: &str = "czNjcmV0";

fn app(core: &Arc<FakeCore>, token: Option<&str>) -> Router {
    let options = ApiOptions {
        token: token.map(str::to_owned),
        metrics: None,
    };
    api::router(core.clone(), options)
}

/// One request; the status, the headers and the body as text.
async fn send(
    router: &Router,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::builder().method(Method::GET).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn console_files_are_served_without_the_token_under_a_strict_policy() {
    let core = FakeCore::new(16);
    let router = app(&core, Some("s3cret"));
    for path in ["/", "/console"] {
        let (status, headers, _) = send(&router, path, &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(headers[header::LOCATION], "/console/", "{path}");
    }
    let files = [
        (
            "/console/",
            "text/html; charset=utf-8",
            "<script src=\"console.js\"",
        ),
        (
            "/console/console.js",
            "text/javascript; charset=utf-8",
            "/v1/events",
        ),
        ("/console/console.css", "text/css; charset=utf-8", "@media"),
    ];
    for (path, content_type, sample) in files {
        let (status, headers, body) = send(&router, path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], content_type, "{path}");
        assert!(body.contains(sample), "{path}");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    }
    // The page has no inline script for the policy to block.
    let (_, _, page) = send(&router, "/console/", &[]).await;
    assert_eq!(page.matches("<script").count(), 1);
    // The data stays behind the token.
    let (status, _, _) = send(&router, "/v1/lines", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_bearer_subprotocol_counts_only_on_a_websocket_upgrade() {
    let core = FakeCore::new(16);
    let router = app(&core, Some("s3cret"));
    let protocol = format!("callcomp.v1, callcomp.bearer.{S3CRET_B64}");
    let (status, _, _) = send(
        &router,
        "/v1/lines",
        &[("sec-websocket-protocol", protocol.as_str())],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Starts the API on an ephemeral loopback port.
async fn start(
    core: &Arc<FakeCore>,
    token: Option<&str>,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(api::serve(listener, app(core, token), async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

#[tokio::test]
async fn the_event_stream_takes_the_token_as_a_subprotocol_and_never_echoes_it() {
    let core = FakeCore::new(16);
    let (addr, stop) = start(&core, Some("s3cret")).await;
    let connect = |protocols: String| async move {
        let mut request = format!("ws://{addr}/v1/events")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocols.parse().unwrap());
        tokio_tungstenite::connect_async(request).await
    };

    // A wrong or undecodable token, or none, is refused like a wrong Authorization header.
    for protocols in [
        "callcomp.v1".to_owned(),
        "callcomp.v1, callcomp.bearer.d3Jvbmc".to_owned(),
        "callcomp.v1, callcomp.bearer.%%%".to_owned(),
    ] {
        match connect(protocols.clone()).await {
            Err(e) => assert!(e.to_string().contains("401"), "{protocols}: {e}"),
            Ok(_) => panic!("connected with {protocols}"),
        }
    }

    let (mut ws, response) = connect(format!("callcomp.v1, callcomp.bearer.{S3CRET_B64}"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    // The server picks the plain protocol, so the token does not travel back.
    assert_eq!(response.headers()["sec-websocket-protocol"], "callcomp.v1");
    let sent = core
        .apply(Fact::Dialed {
            call: core.new_ref(),
            from: Party::Line("carol".into()),
            to: "bob".into(),
        })
        .unwrap();
    match ws.next().await.unwrap().unwrap() {
        Message::Text(text) => {
            let got: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(got, serde_json::to_value(&sent[0]).unwrap());
        }
        other => panic!("expected an event, got {other:?}"),
    }
    drop(ws);
    stop.send(()).unwrap();
}

#[tokio::test]
async fn calls_lists_the_calls_of_every_line_by_id() {
    let core = FakeCore::new(16);
    let router = app(&core, None);
    let (_, _, body) = send(&router, "/v1/calls", &[]).await;
    assert_eq!(body, "[]");
    alice_busy_on_bob(&core);
    core.apply(Fact::Dialed {
        call: core.new_ref(),
        from: Party::Line("carol".into()),
        to: "sip:bob@example.com".into(),
    })
    .unwrap();
    let (status, _, body) = send(&router, "/v1/calls", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let calls: Vec<Value> = serde_json::from_str(&body).unwrap();
    let lines: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c["line"].as_str().unwrap(), c["state"].as_str().unwrap()))
        .collect();
    assert_eq!(lines, [("alice", "busy"), ("carol", "dialing")]);
    let ids: Vec<u64> = calls.iter().map(|c| c["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    for call in &calls {
        let (_, _, one) = send(&router, &format!("/v1/calls/{}", call["id"]), &[]).await;
        assert_eq!(&serde_json::from_str::<Value>(&one).unwrap(), call);
    }
}
