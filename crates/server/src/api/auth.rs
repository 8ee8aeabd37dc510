//! Bearer-token check (DESIGN §4): when `api.token` is configured, every route but `/healthz`
//! and the console's static files needs `Authorization: Bearer <token>`.
//!
//! Browsers cannot set `Authorization` on a WebSocket, so a WebSocket upgrade may carry the
//! token as a subprotocol instead (the scheme Kubernetes uses): `Sec-WebSocket-Protocol:
//! callcomp.v1, callcomp.bearer.<base64url(token)>`. The server answers with `callcomp.v1`, so
//! the token is never echoed; unlike a token in the query string it stays out of access logs.
//! A page from another origin cannot use this to reach the stream without knowing the token.
//!
//! The comparison runs in constant time over the token's bytes, so a wrong guess does not
//! reveal how many leading bytes were right (only the length can be learnt). A configured empty
//! token matches no request: it locks the API rather than opening it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL, UPGRADE};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use subtle::ConstantTimeEq;

use super::error::ApiError;

/// The subprotocol the event stream answers with; a browser must offer it beside the bearer
/// protocol, because it fails a handshake whose answer names none of its offers.
pub const EVENTS_PROTOCOL: &str = "callcomp.v1";

/// The prefix of the subprotocol that carries the token, base64url-encoded without padding
/// (subprotocol names are HTTP tokens, which a token in general is not).
pub const BEARER_PROTOCOL_PREFIX: &str = "callcomp.bearer.";

/// The configured token, shared by every request.
#[derive(Clone)]
pub(crate) struct Token(Arc<[u8]>);

impl Token {
    /// The token `token`.
    pub(crate) fn new(token: &str) -> Token {
        Token(Arc::from(token.as_bytes()))
    }

    /// Whether `given` is the token (constant time in the token's length).
    fn matches(&self, given: &[u8]) -> bool {
        !self.0.is_empty() && bool::from(self.0.ct_eq(given))
    }
}

/// Middleware: passes the request on when it carries the token, else answers 401.
pub(crate) async fn require_token(
    State(token): State<Token>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let given = match headers.get(AUTHORIZATION) {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(bearer)
            .map(str::as_bytes)
            .map(Vec::from),
        None if is_websocket_upgrade(headers) => protocol_token(headers),
        None => None,
    };
    match given {
        Some(t) if token.matches(&t) => Ok(next.run(request).await),
        _ => {
            tracing::debug!(path = %request.uri().path(), "API request without a valid token");
            Err(ApiError::Unauthorized)
        }
    }
}

/// Whether the request asks for a WebSocket (`Upgrade: websocket`).
fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
}

/// The token carried by a `callcomp.bearer.<base64url>` subprotocol offer, if any (the
/// first such offer; an undecodable one carries none).
fn protocol_token(headers: &HeaderMap) -> Option<Vec<u8>> {
    let encoded = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix(BEARER_PROTOCOL_PREFIX))?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .filter(|t| !t.is_empty())
}

/// The credentials of a `Bearer` authorization value (the scheme is case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.trim().split_once(' ')?;
    let credentials = credentials.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credentials.is_empty()).then_some(credentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values() {
        let rows: &[(&str, Option<&str>)] = &[
            ("Bearer s3cret", Some("s3cret")),
            ("bearer s3cret", Some("s3cret")),
            ("BEARER   s3cret ", Some("s3cret")),
            ("Bearer", None),
            ("Bearer ", None),
            ("Basic czNjcmV0", None),
            ("s3cret", None),
            ("", None),
        ];
        for &(value, want) in rows {
            assert_eq!(bearer(value), want, "{value:?}");
        }
    }

    #[test]
    fn token_matching() {
        let token = Token::new("s3cret");
        assert!(token.matches(b"s3cret"));
        assert!(!token.matches(b"s3cre"));
        assert!(!token.matches(b"s3cret!"));
        assert!(!token.matches(b"S3CRET"));
        assert!(!Token::new("").matches(b""));
    }

    fn headers(rows: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for &(name, value) in rows {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn token_from_the_websocket_protocol() {
        // base64url("s3cret") = "czNjcmV0"; base64url("a/b+c?") = "YS9iK2M_" (URL-safe alphabet).
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let rows: &[(Headers<'_>, Option<&[u8]>)] = &[
            (
                &[(
                    "sec-websocket-protocol",
                    "callcomp.v1, callcomp.bearer.czNjcmV0",
                )],
                Some(b"s3cret"),
            ),
            (
                &[(
                    "sec-websocket-protocol",
                    "callcomp.bearer.czNjcmV0,callcomp.v1",
                )],
                Some(b"s3cret"),
            ),
            (
                &[
                    ("sec-websocket-protocol", "callcomp.v1"),
                    ("sec-websocket-protocol", "callcomp.bearer.YS9iK2M_"),
                ],
                Some(b"a/b+c?"),
            ),
            (&[("sec-websocket-protocol", "callcomp.v1")], None),
            (&[("sec-websocket-protocol", "callcomp.bearer.")], None),
            (&[("sec-websocket-protocol", "callcomp.bearer.!!!")], None),
            (
                &[("sec-websocket-protocol", "callcomp.bearer.czNjcmV0==")],
                None,
            ),
            (&[], None),
        ];
        for &(rows, want) in rows {
            assert_eq!(protocol_token(&headers(rows)).as_deref(), want, "{rows:?}");
        }
    }

    #[test]
    fn websocket_upgrades() {
        assert!(is_websocket_upgrade(&headers(&[("upgrade", "websocket")])));
        assert!(is_websocket_upgrade(&headers(&[("upgrade", "WebSocket")])));
        assert!(is_websocket_upgrade(&headers(&[(
            "upgrade",
            "h2c, websocket"
        )])));
        assert!(!is_websocket_upgrade(&headers(&[("upgrade", "h2c")])));
        assert!(!is_websocket_upgrade(&headers(&[])));
    }
}
