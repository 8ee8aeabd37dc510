//! The HTTP API over a fake core that is a real `callcomp_switch::Switch` driven by facts, so
//! the views and events under test are the switch's own (DESIGN §4, docs/api.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common_api;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use callcomp::api::{self, ApiOptions, CallView};
use callcomp_switch::{Fact, Party, Side};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tower::ServiceExt;

use common_api::{alice_busy_on_bob, FakeCore};

fn app(core: &Arc<FakeCore>, token: Option<&str>) -> Router {
    let options = ApiOptions {
        token: token.map(str::to_owned),
        metrics: None,
    };
    api::router(core.clone(), options)
}

/// Sends one request; returns the status, the headers and the body as JSON (Null if empty).
async fn send(
    router: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, headers, value)
}

async fn get(router: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, _, body) = send(router, Method::GET, uri, &[], None).await;
    (status, body)
}

async fn post_json(router: &Router, uri: &str, body: &str) -> (StatusCode, Value) {
    let (status, _, body) = send(
        router,
        Method::POST,
        uri,
        &[("content-type", "application/json")],
        Some(body),
    )
    .await;
    (status, body)
}

fn error(name: &str, code: i32) -> (String, i64) {
    (name.to_owned(), i64::from(code))
}

fn error_of(body: &Value) -> (String, i64) {
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    (
        body["error"].as_str().unwrap().to_owned(),
        body["code"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn healthz_is_ok_even_with_a_token() {
    let core = FakeCore::new(16);
    for token in [None, Some("s3cret")] {
        let (status, body) = get(&app(&core, token), "/healthz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"status": "ok"}));
    }
}

#[tokio::test]
async fn lines_list_and_one_line_with_caps_and_status() {
    let core = FakeCore::new(16);
    let router = app(&core, None);
    let (status, body) = get(&router, "/v1/lines").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"]);

    let (status, alice) = get(&router, "/v1/lines/alice").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(alice["address"], "sip:alice@example.com");
    assert_eq!(alice["address_id"], 0);
    let caps = &alice["caps"];
    assert_eq!(
        caps["call_completion_modes"],
        json!(["callback", "message"])
    );
    assert_eq!(caps["call_completion_modes_value"], 0x2 | 0x8);
    assert_eq!(
        caps["call_completion_conds"],
        json!(["busy", "noanswer", "notregistered"])
    );
    assert_eq!(caps["call_completion_conds_value"], 0x8000_0003_u32);
    assert_eq!(caps["max_call_completions"], 4);
    assert_eq!(caps["completion_messages"], json!(["Please call me back"]));
    assert_eq!(caps["addr_cap_flags"], 0x800);
    assert_eq!(caps["call_features"], 0x10);
    assert_eq!(caps["address_features"], 0x40);
    assert_eq!(caps["call_features2"], 0x8 | 0x20);
    assert_eq!(
        alice["status"],
        json!({"num_call_completions": 0, "num_calls": 0, "in_call": false, "registered": null})
    );
    // The list holds the same view as the single line.
    assert_eq!(body[0], alice);

    core.apply(Fact::Dialed {
        call: core.new_ref(),
        from: Party::Line("alice".into()),
        to: "bob".into(),
    })
    .unwrap();
    let (_, alice) = get(&router, "/v1/lines/alice").await;
    assert_eq!(
        alice["status"],
        json!({"num_call_completions": 0, "num_calls": 1, "in_call": true, "registered": null})
    );
}

#[tokio::test]
async fn unknown_line_is_404_invallinehandle() {
    let core = FakeCore::new(16);
    let router = app(&core, None);
    let want = error("LINEERR_INVALLINEHANDLE", -2147483605);
    for uri in ["/v1/lines/zed", "/v1/lines/zed/calls", "/v1/lines/%20"] {
        let (status, body) = get(&router, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(error_of(&body), want, "{uri}");
    }
    // POST to an unknown line is 404 whatever the body.
    for body in [r#"{"to": "bob"}"#, "not json"] {
        let (status, body) = post_json(&router, "/v1/lines/zed/calls", body).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(error_of(&body), want);
    }
}

#[tokio::test]
async fn line_calls_and_call_views_are_the_switch_calls() {
    let core = FakeCore::new(16);
    let router = app(&core, None);
    let (status, body) = get(&router, "/v1/lines/alice/calls").await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));

    alice_busy_on_bob(&core);
    let (status, calls) = get(&router, "/v1/lines/alice/calls").await;
    assert_eq!(status, StatusCode::OK);
    let calls = calls.as_array().unwrap();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    let id = call["id"].as_u64().unwrap();
    assert_eq!(call["line"], "alice");
    assert_eq!(call["direction"], "out");
    assert_eq!(call["remote"], "sip:bob@example.com");
    assert_eq!(call["state"], "busy");
    assert_eq!(call["state_value"], 0x40);
    assert_eq!(call["mode"], "station");
    assert_eq!(call["mode_value"], 1);
    assert_eq!(call["reason"], "direct");
    assert_eq!(call["reason_value"], 1);
    assert_eq!(call["completion_id"], Value::Null);
    assert_eq!(call["call_features"], 0x10);
    assert_eq!(call["call_features2"], 0x8 | 0x20);
    assert_eq!(call["completion_modes"], json!(["callback", "message"]));
    assert_eq!(
        call["created_ms"], 1_010,
        "the first fact came 10 ms after the start"
    );
    assert!(call["offer_until_ms"].as_u64().unwrap() > 1_040);

    let (status, one) = get(&router, &format!("/v1/calls/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&one, call);
    // The view deserializes back into the type clients use.
    let view: CallView = serde_json::from_value(one).unwrap();
    assert_eq!(view.id, u32::try_from(id).unwrap());

    // bob's side of the call ended when he refused it.
    let (_, bob_calls) = get(&router, "/v1/lines/bob/calls").await;
    assert_eq!(bob_calls, json!([]));
}

#[tokio::test]
async fn unknown_call_is_404_invalcallhandle() {
    let core = FakeCore::new(16);
    let router = app(&core, None);
    let want = error("LINEERR_INVALCALLHANDLE", -2147483624);
    for uri in [
        "/v1/calls/999",
        "/v1/calls/0",
        "/v1/calls/abc",
        "/v1/calls/-1",
        "/v1/calls/4294967296",
    ] {
        let (status, body) = get(&router, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(error_of(&body), want, "{uri}");
        let (status, _, body) = send(&router, Method::DELETE, uri, &[], None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "DELETE {uri}");
        assert_eq!(error_of(&body), want, "DELETE {uri}");
    }
}

#[tokio::test]
async fn make_call_creates_the_call() {
    let core = FakeCore::new(16);
    let router = app(&core, None);
    let (status, headers, body) = send(
        &router,
        Method::POST,
        "/v1/lines/alice/calls",
        &[("content-type", "application/json")],
        Some(r#"{"to": " bob "}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = body["id"].as_u64().unwrap();
    assert_eq!(
        headers.get(header::LOCATION).unwrap(),
        &format!("/v1/calls/{id}")
    );
    assert_eq!(body["line"], "alice");
    assert_eq!(body["direction"], "out");
    assert_eq!(body["remote"], "bob");
    assert_eq!(body["state"], "dialing");
    assert_eq!(body["state_value"], 0x10);
    let (status, again) = get(&router, &format!("/v1/calls/{id}")).await;
    assert_eq!((status, &again), (StatusCode::OK, &body));
}

#[tokio::test]
async fn make_call_errors() {
    let core = FakeCore::new(16);
    let router = app(&core, None);
    let invalparam = error("LINEERR_INVALPARAM", -2147483598);
    let invaladdress = error("LINEERR_INVALADDRESS", -2147483632);
    let rows: &[(&str, Option<&str>, (String, i64))] = &[
        ("{", Some("application/json"), invalparam.clone()),
        ("[]", Some("application/json"), invalparam.clone()),
        ("{}", Some("application/json"), invalparam.clone()),
        (r#"{"to": 7}"#, Some("application/json"), invalparam.clone()),
        (
            r#"{"to": "bob", "extra": 1}"#,
            Some("application/json"),
            invalparam.clone(),
        ),
        (r#"{"to": "bob"}"#, None, invalparam.clone()),
        (r#"{"to": "bob"}"#, Some("text/plain"), invalparam.clone()),
        (
            r#"{"to": ""}"#,
            Some("application/json"),
            invaladdress.clone(),
        ),
        (
            r#"{"to": "  "}"#,
            Some("application/json"),
            invaladdress.clone(),
        ),
        // The core itself refuses this destination.
        (
            r#"{"to": "nowhere"}"#,
            Some("application/json"),
            invaladdress.clone(),
        ),
    ];
    for (body, content_type, want) in rows {
        let headers: Vec<(&str, &str)> = content_type
            .iter()
            .map(|ct| ("content-type", *ct))
            .collect();
        let (status, _, reply) = send(
            &router,
            Method::POST,
            "/v1/lines/alice/calls",
            &headers,
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} {content_type:?}");
        assert_eq!(&error_of(&reply), want, "{body} {content_type:?}");
    }
    // A body over the limit is refused too.
    let big = format!(r#"{{"to": "{}"}}"#, "b".repeat(api::MAX_BODY));
    let (status, reply) = post_json(&router, "/v1/lines/alice/calls", &big).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&reply), invalparam);
    // Nothing was created by any of them.
    let (_, calls) = get(&router, "/v1/lines/alice/calls").await;
    assert_eq!(calls, json!([]));
}

#[tokio::test]
async fn drop_call_ends_live_calls_and_offer_windows() {
    let core = FakeCore::new(16);
    let router = app(&core, None);
    // A call being set up: the drop hangs up the caller's leg.
    let (_, made) = post_json(&router, "/v1/lines/carol/calls", r#"{"to": "bob"}"#).await;
    let id = made["id"].as_u64().unwrap();
    let (status, _, body) = send(
        &router,
        Method::DELETE,
        &format!("/v1/calls/{id}"),
        &[],
        None,
    )
    .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, _) = get(&router, &format!("/v1/calls/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A call waiting in its offer window: the drop ends the window.
    alice_busy_on_bob(&core);
    let (_, calls) = get(&router, "/v1/lines/alice/calls").await;
    let id = calls[0]["id"].as_u64().unwrap();
    let (status, _, _) = send(
        &router,
        Method::DELETE,
        &format!("/v1/calls/{id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, calls) = get(&router, "/v1/lines/alice/calls").await;
    assert_eq!(calls, json!([]));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let core = FakeCore::new(16);
    let router = app(&core, None);
    let unavail = error("LINEERR_OPERATIONUNAVAIL", -2147483575);
    let (status, body) = get(&router, "/v2/lines").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body), unavail);
    let (status, _, body) = send(&router, Method::PUT, "/v1/lines", &[], None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_of(&body), unavail);
    // A plain GET of the event stream is not a WebSocket upgrade.
    let (status, body) = get(&router, "/v1/events").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&body), error("LINEERR_INVALPARAM", -2147483598));
}

#[tokio::test]
async fn token_is_required_everywhere_but_healthz() {
    let core = FakeCore::new(16);
    let router = app(&core, Some("s3cret"));
    let unauthorized = error("LINEERR_INVALAPPHANDLE", -2147483628);
    let routes: &[(Method, &str)] = &[
        (Method::GET, "/metrics"),
        (Method::GET, "/v1/lines"),
        (Method::GET, "/v1/lines/alice"),
        (Method::GET, "/v1/lines/alice/registrations"),
        (Method::GET, "/v1/lines/alice/calls"),
        (Method::POST, "/v1/lines/alice/calls"),
        (Method::GET, "/v1/calls"),
        (Method::GET, "/v1/calls/1"),
        (Method::DELETE, "/v1/calls/1"),
        (Method::GET, "/v1/completions"),
        (Method::GET, "/v1/events"),
        (Method::GET, "/v1/openapi.json"),
    ];
    let bad: &[&[(&str, &str)]] = &[
        &[],
        &[("authorization", "Bearer wrong")],
        &[("authorization", "Bearer s3cre")],
        &[("authorization", "Bearer s3cret2")],
        &[("authorization", "Basic czNjcmV0")],
        &[("authorization", "s3cret")],
    ];
    for (method, uri) in routes {
        for headers in bad {
            let (status, reply_headers, body) = send(
                &router,
                method.clone(),
                uri,
                headers,
                Some(r#"{"to": "bob"}"#),
            )
            .await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} {headers:?}"
            );
            assert_eq!(error_of(&body), unauthorized);
            assert_eq!(
                reply_headers.get(header::WWW_AUTHENTICATE).unwrap(),
                "Bearer"
            );
        }
    }
    // Unknown paths and methods are answered before the token is checked (docs/api.md).
    let (status, _, _) = send(&router, Method::GET, "/v2/nothing", &[], None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(&router, Method::PUT, "/v1/lines", &[], None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    // The right token opens every route (the status is then the route's own answer).
    let good = [("authorization", "Bearer s3cret")];
    let (status, _, body) = send(&router, Method::GET, "/v1/lines", &good, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().unwrap().len(), 3);
    let (status, _, _) = send(&router, Method::GET, "/v1/openapi.json", &good, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = send(&router, Method::GET, "/v1/calls/1", &good, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        error_of(&body),
        error("LINEERR_INVALCALLHANDLE", -2147483624)
    );
    let (status, _, _) = send(
        &router,
        Method::POST,
        "/v1/lines/alice/calls",
        &[good[0], ("content-type", "application/json")],
        Some(r#"{"to": "bob"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, _) = send(&router, Method::GET, "/metrics", &good, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn metrics_render_the_recorder_or_503() {
    let core = FakeCore::new(16);
    let (status, body) = get(&app(&core, None), "/metrics").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        error_of(&body),
        error("LINEERR_OPERATIONUNAVAIL", -2147483575)
    );

    // A recorder local to this test, so tests do not share counters.
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!(api::metrics::REGISTRATIONS, api::metrics::LABEL_RESULT => "accepted")
            .increment(2);
        metrics::gauge!(api::metrics::CALLS, api::metrics::LABEL_STATE => "busy").set(3.0);
    });
    let router = api::router(
        core.clone(),
        ApiOptions {
            token: None,
            metrics: Some(handle),
        },
    );
    let (status, headers, body) = send(&router, Method::GET, "/metrics", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers
        .get(header::CONTENT_TYPE)
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = body.as_str().unwrap();
    assert!(
        text.contains("callcomp_registrations_total{result=\"accepted\"} 2"),
        "{text}"
    );
    assert!(text.contains("callcomp_calls{state=\"busy\"} 3"), "{text}");
}

#[test]
fn install_prometheus_is_idempotent() {
    let first = api::install_prometheus().unwrap();
    let second = api::install_prometheus().unwrap();
    metrics::counter!(api::metrics::PARSE_ERRORS, api::metrics::LABEL_TRANSPORT => "udp")
        .increment(1);
    for handle in [first, second] {
        let text = handle.render();
        assert!(
            text.contains("callcomp_sip_parse_errors_total{transport=\"udp\"}"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn openapi_documents_every_route_and_schema() {
    let core = FakeCore::new(16);
    let (status, doc) = get(&app(&core, None), "/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let routes: &[(&str, &[&str])] = &[
        ("/healthz", &["get"]),
        ("/metrics", &["get"]),
        ("/v1/lines", &["get"]),
        ("/v1/lines/{line}", &["get"]),
        ("/v1/lines/{line}/registrations", &["get"]),
        ("/v1/lines/{line}/calls", &["get", "post"]),
        ("/v1/calls", &["get"]),
        ("/v1/calls/{id}", &["get", "delete"]),
        ("/v1/calls/{id}/complete", &["post"]),
        ("/v1/lines/{line}/completions", &["get"]),
        ("/v1/lines/{line}/completions/{completion_id}", &["delete"]),
        ("/v1/completions", &["get"]),
        ("/v1/events", &["get"]),
        ("/v1/openapi.json", &["get"]),
    ];
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), routes.len(), "{:?}", paths.keys());
    for (path, methods) in routes {
        let item = paths.get(*path).unwrap_or_else(|| panic!("{path} missing"));
        assert_eq!(item.as_object().unwrap().len(), methods.len(), "{path}");
        for method in *methods {
            let op = &item[*method];
            assert!(op.is_object(), "{method} {path}");
            let secured = op.get("security").is_some();
            assert_eq!(secured, *path != "/healthz", "{method} {path} security");
        }
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "LineView",
        "AddressCaps",
        "LineStatus",
        "RegistrationView",
        "CallView",
        "MakeCallRequest",
        "CompleteRequest",
        "CompleteResponse",
        "CompletionView",
        "Health",
        "LaggedMessage",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["paths"]["/v1/lines/{line}/calls"]["post"]["responses"]["201"]["content"]
            ["application/json"]["schema"]["$ref"],
        "#/components/schemas/CallView"
    );
}

/// Starts the API on an ephemeral loopback port; returns its address and a shutdown trigger.
async fn start(
    core: &Arc<FakeCore>,
    token: Option<&str>,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = app(core, token);
    let server = tokio::spawn(api::serve(listener, router, async move {
        let _ = stopped.await;
    }));
    (addr, stop, server)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(
    addr: std::net::SocketAddr,
    token: Option<&str>,
) -> Result<Ws, Box<dyn std::error::Error>> {
    let mut request = format!("ws://{addr}/v1/events").into_client_request()?;
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
    }
    let (ws, response) = tokio_tungstenite::connect_async(request).await?;
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    Ok(ws)
}

/// The next text message as JSON, skipping nothing else silently.
async fn next_json(ws: &mut Ws) -> Value {
    match ws.next().await.unwrap().unwrap() {
        Message::Text(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

#[tokio::test]
async fn websocket_streams_events_in_order_with_seq() {
    let core = FakeCore::new(64);
    let (addr, stop, server) = start(&core, Some("s3cret")).await;

    // Without the token the upgrade is refused with 401.
    match connect(addr, None).await {
        Err(e) => assert!(e.to_string().contains("401"), "{e}"),
        Ok(_) => panic!("connected without a token"),
    }
    let mut ws = connect(addr, Some("s3cret")).await.unwrap();

    // A ping is answered.
    ws.send(Message::Ping(b"hi".to_vec().into())).await.unwrap();
    match ws.next().await.unwrap().unwrap() {
        Message::Pong(payload) => assert_eq!(&payload[..], b"hi"),
        other => panic!("expected a pong, got {other:?}"),
    }

    // A whole call: alice calls bob, bob answers, alice hangs up.
    let call = core.new_ref();
    let mut sent = Vec::new();
    for fact in [
        Fact::Dialed {
            call,
            from: Party::Line("alice".into()),
            to: "sip:bob@example.com".into(),
        },
        Fact::Proceeding { call },
        Fact::offered(call, "bob"),
        Fact::Ringing { call },
        Fact::Answered { call },
        Fact::Hangup {
            call,
            by: Side::Caller,
        },
    ] {
        sent.extend(core.apply(fact).unwrap());
    }
    assert!(sent.len() >= 10, "{sent:?}");
    for (i, event) in sent.iter().enumerate() {
        let got = next_json(&mut ws).await;
        assert_eq!(got["seq"], i as u64 + 1);
        assert_eq!(got, serde_json::to_value(event).unwrap());
    }
    let names: Vec<&str> = sent.iter().map(|e| e.kind.name()).collect();
    assert_eq!(&names[..2], ["appnewcall", "callstate"]);

    // The client closes; the server answers the close (or the stream simply ends).
    ws.send(Message::Close(None)).await.unwrap();
    match ws.next().await {
        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {}
        Some(Ok(other)) => panic!("unexpected {other:?}"),
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn websocket_reports_lag_instead_of_losing_events_silently() {
    // A buffer of two events; this test's runtime has one thread, so the server task cannot
    // forward anything while the test publishes five events in a row.
    let core = FakeCore::new(2);
    let (addr, stop, server) = start(&core, None).await;
    let mut ws = connect(addr, None).await.unwrap();
    let mut sent = Vec::new();
    for _ in 0..5 {
        sent.extend(
            core.apply(Fact::Dialed {
                call: core.new_ref(),
                from: Party::Line("carol".into()),
                to: "bob".into(),
            })
            .unwrap(),
        );
    }
    assert_eq!(sent.len(), 10, "two events per dialled call");
    let lagged = next_json(&mut ws).await;
    assert_eq!(lagged, json!({"event": "lagged", "missed": 8}));
    // Then the two newest events, with their own seq numbers: nothing in between is invented.
    for event in &sent[8..] {
        assert_eq!(
            next_json(&mut ws).await,
            serde_json::to_value(event).unwrap()
        );
    }
    assert_eq!(sent[9].seq, 10);
    drop(ws);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn websocket_closes_when_the_event_stream_ends() {
    let core = FakeCore::new(4);
    let events = core.events.clone();
    let (addr, stop, server) = start(&core, None).await;
    let mut ws = connect(addr, None).await.unwrap();
    // The router and the server hold the core; closing every sender is what ends the stream,
    // which a test can only do by stopping the server and dropping the core's sender.
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    drop(events);
    drop(core);
    match ws.next().await {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(u16::from(frame.code), 1001);
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
}
