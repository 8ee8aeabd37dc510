//! Bearer-token check (DESIGN §4): when `api.token` is configured, every route but `/healthz`
//! needs `Authorization: Bearer <token>`.
//!
//! The comparison runs in constant time over the token's bytes, so a wrong guess does not
//! reveal how many leading bytes were right (only the length can be learnt). A configured empty
//! token matches no request: it locks the API rather than opening it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::error::ApiError;

/// The configured token, shared by every request.
#[derive(Clone)]
pub(crate) struct Token(Arc<[u8]>);

impl Token {
    /// The token `token`.
    pub(crate) fn new(token: &str) -> Token {
        Token(Arc::from(token.as_bytes()))
    }

    /// Whether `given` is the token (constant time in the token's length).
    fn matches(&self, given: &str) -> bool {
        !self.0.is_empty() && bool::from(self.0.ct_eq(given.as_bytes()))
    }
}

/// Middleware: passes the request on when it carries the token, else answers 401.
pub(crate) async fn require_token(
    State(token): State<Token>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    match given {
        Some(t) if token.matches(t) => Ok(next.run(request).await),
        _ => {
            tracing::debug!(path = %request.uri().path(), "API request without a valid token");
            Err(ApiError::Unauthorized)
        }
    }
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
        assert!(token.matches("s3cret"));
        assert!(!token.matches("s3cre"));
        assert!(!token.matches("s3cret!"));
        assert!(!token.matches("S3CRET"));
        assert!(!Token::new("").matches(""));
    }
}
