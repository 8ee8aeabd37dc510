//! The operator's console: a live web page served by the API on its own port (issue #12).
//!
//! Three static files embedded in the binary (`console/index.html`, `console.css`,
//! `console.js`; no build step, no CDN): the page reads the state through the same routes as
//! any application and follows `/v1/events` over a WebSocket. The files themselves hold no
//! data, so they are served without the token; the page asks for the token and sends it as
//! `Authorization: Bearer` on fetches and as a WebSocket subprotocol on the stream (auth.rs).
//!
//! Every answer carries a Content-Security-Policy that allows only this origin's script,
//! style and connections, so nothing a phone puts in a header (a display name, a URI) can run
//! as script even if the page had a bug; the script itself writes text nodes only.

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// Where the console's page is.
pub const PATH: &str = "/console/";

const INDEX: &str = include_str!("console/index.html");
const STYLE: &str = include_str!("console/console.css");
const SCRIPT: &str = include_str!("console/console.js");

/// Only this origin's files and connections (`'self'` covers `ws:`/`wss:` to the same host in
/// CSP level 3); no framing, no inline script, no forms posted elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// The console's routes: `/` and `/console` lead to the page, which loads its two files.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to(PATH) }))
        .route("/console", get(|| async { Redirect::to(PATH) }))
        .route(
            PATH,
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/console/console.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/console/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
}

/// One embedded file with its type and the security headers.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // A new binary may serve new files under the same names.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ],
        body,
    )
        .into_response()
}
