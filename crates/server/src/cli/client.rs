//! A blocking client of the callcomp API (docs/api.md): JSON over plain HTTP, with the bearer
//! token, and errors that say what went wrong in terms a person at a terminal can act on.
//!
//! The API is meant to listen on loopback, so this client speaks `http://` only; TLS belongs to
//! a reverse proxy in front of the server, not to this build.

use std::time::Duration;

use serde_json::Value;

/// Where the API is and how to present ourselves to it.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// The API's base URL without a trailing slash (`http://127.0.0.1:8060`).
    pub base: String,
    /// The bearer token, if one was given.
    pub token: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("Target")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Target {
    /// The target at `url` (`http://host:port`, or just `host:port`), with `token`.
    ///
    /// An empty token counts as none: `CALLCOMP_TOKEN=` in the environment should not send an
    /// `Authorization` header the server can only refuse.
    pub fn new(url: &str, token: Option<String>) -> Result<Target, CliError> {
        let url = url.trim();
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(CliError::BadApiUrl {
                    url: url.to_owned(),
                    why: format!("the scheme `{scheme}` is not supported; use http://"),
                })
            }
            None => url,
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains(['/', '?', '#']) || rest.contains(char::is_whitespace) {
            return Err(CliError::BadApiUrl {
                url: url.to_owned(),
                why: "expected http://HOST:PORT".to_owned(),
            });
        }
        Ok(Target {
            base: format!("http://{rest}"),
            token: token.filter(|t| !t.is_empty()),
        })
    }

    /// The URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The WebSocket URL of `path`.
    pub fn ws_url(&self, path: &str) -> String {
        let host = self.base.strip_prefix("http://").unwrap_or(&self.base);
        format!("ws://{host}{path}")
    }

    /// The `Authorization` header value, if a token was given.
    pub fn authorization(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    /// The error for an HTTP status other than success, from the response's `body`.
    ///
    /// A body in the API's error shape (`{"error", "code", "message"}`) gives
    /// [`CliError::Api`], except that a 401 is reported as [`CliError::Unauthorized`] whatever
    /// its body; anything else (a proxy's page, another server) gives [`CliError::Http`].
    pub fn error_for(&self, path: &str, status: u16, body: &str) -> CliError {
        if status == 401 {
            return CliError::Unauthorized {
                url: self.base.clone(),
                token_given: self.token.is_some(),
            };
        }
        let parsed: Option<Value> = serde_json::from_str(body).ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        match (field("error"), field("message")) {
            (Some(error), Some(message)) => CliError::Api { error, message },
            _ => CliError::Http {
                url: self.url(path),
                status,
                body: excerpt(body),
            },
        }
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The API answered with a TAPI error.
    #[error("{error}: {message}")]
    Api {
        /// The TAPI error name (`LINEERR_INVALCALLHANDLE`).
        error: String,
        /// The API's sentence about it.
        message: String,
    },
    /// The API wants a token and did not get the right one.
    #[error(
        "{url} refused the request (401): {}",
        if *token_given {
            "the token is wrong; check --token or CALLCOMP_TOKEN"
        } else {
            "a token is required; pass --token or set CALLCOMP_TOKEN"
        }
    )]
    Unauthorized {
        /// The API's base URL.
        url: String,
        /// Whether a token was sent.
        token_given: bool,
    },
    /// Nothing listens at the API's address.
    #[error("cannot connect to the callcomp API at {url}: connection refused (is `callcomp serve` running? use --api or CALLCOMP_API to point elsewhere)")]
    Refused {
        /// The API's base URL.
        url: String,
    },
    /// The connection failed in another way (host unknown, reset, timeout).
    #[error("cannot reach the callcomp API at {url}: {detail}")]
    Unreachable {
        /// The API's base URL.
        url: String,
        /// What the network layer said.
        detail: String,
    },
    /// A failure status without the API's error body: something else answered.
    #[error("{url} answered HTTP {status}: {body}")]
    Http {
        /// The URL asked for.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A success status whose body is not the JSON the API sends.
    #[error("{url} answered with a body that is not the API's JSON: {detail}")]
    BadReply {
        /// The URL asked for.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// `--api` is not a URL this client can use.
    #[error("--api {url}: {why}")]
    BadApiUrl {
        /// The value given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The server ended the event stream.
    #[error("the server closed the event stream{}", if reason.is_empty() { String::new() } else { format!(" ({reason})") })]
    StreamClosed {
        /// The close code and reason, if the server gave them.
        reason: String,
    },
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// A blocking HTTP client bound to one API target.
pub struct Client {
    target: Target,
    agent: ureq::Agent,
}

impl Client {
    /// A client of `target`.
    pub fn new(target: Target) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Failure statuses carry the API's error body; read them rather than erroring.
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            // A third-party call resolves when the call exists, which takes a SIP round trip;
            // a minute is far beyond that and still ends a hung request.
            .timeout_global(Some(Duration::from_secs(60)))
            .max_redirects(0)
            // The API is local; an HTTP_PROXY meant for the web must not see its token (the
            // WebSocket of `events` goes direct as well).
            .proxy(None)
            .user_agent(concat!("callcomp-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client { target, agent }
    }

    /// The target this client talks to.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// `GET path`, expecting JSON.
    pub fn get(&self, path: &str) -> Result<Value, CliError> {
        let mut request = self.agent.get(self.target.url(path));
        if let Some(auth) = self.target.authorization() {
            request = request.header("authorization", auth);
        }
        let response = request.call().map_err(|e| self.transport_error(e))?;
        self.json_reply(path, response)
    }

    /// `POST path` with the JSON `body`, expecting JSON.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        let mut request = self.agent.post(self.target.url(path));
        if let Some(auth) = self.target.authorization() {
            request = request.header("authorization", auth);
        }
        let response = request
            .send_json(body)
            .map_err(|e| self.transport_error(e))?;
        self.json_reply(path, response)
    }

    /// `DELETE path`, expecting no body.
    pub fn delete(&self, path: &str) -> Result<(), CliError> {
        let mut request = self.agent.delete(self.target.url(path));
        if let Some(auth) = self.target.authorization() {
            request = request.header("authorization", auth);
        }
        let response = request.call().map_err(|e| self.transport_error(e))?;
        let (status, body) = self.read(response)?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(self.target.error_for(path, status, &body))
        }
    }

    /// The JSON of a success reply, or the error a failure reply describes.
    fn json_reply(
        &self,
        path: &str,
        response: ureq::http::Response<ureq::Body>,
    ) -> Result<Value, CliError> {
        let (status, body) = self.read(response)?;
        if !(200..300).contains(&status) {
            return Err(self.target.error_for(path, status, &body));
        }
        serde_json::from_str(&body).map_err(|e| CliError::BadReply {
            url: self.target.url(path),
            detail: e.to_string(),
        })
    }

    /// The status and body text of a response.
    fn read(&self, response: ureq::http::Response<ureq::Body>) -> Result<(u16, String), CliError> {
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .read_to_string()
            .map_err(|e| self.transport_error(e))?;
        Ok((status, body))
    }

    fn transport_error(&self, e: ureq::Error) -> CliError {
        match e {
            ureq::Error::Io(io) => io_error(&self.target, &io),
            ureq::Error::ConnectionFailed => CliError::Refused {
                url: self.target.base.clone(),
            },
            other => CliError::Unreachable {
                url: self.target.base.clone(),
                detail: other.to_string(),
            },
        }
    }
}

/// The error for an I/O failure while talking to `target`.
pub fn io_error(target: &Target, e: &std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::ConnectionRefused {
        CliError::Refused {
            url: target.base.clone(),
        }
    } else {
        CliError::Unreachable {
            url: target.base.clone(),
            detail: e.to_string(),
        }
    }
}

/// `segment` percent-encoded for use as one path segment (RFC 3986 §3.3: everything but the
/// unreserved characters is encoded, so `/`, `?`, `#` and `%` in a line name stay inside it).
pub fn path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The first line of `body`, at most 200 characters, for an error message.
fn excerpt(body: &str) -> String {
    let line = body.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut out: String = line.chars().take(200).collect();
    if line.chars().count() > 200 {
        out.push('…');
    }
    super::table::clean(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls() {
        let rows: &[(&str, Option<&str>)] = &[
            ("http://127.0.0.1:8060", Some("http://127.0.0.1:8060")),
            ("http://127.0.0.1:8060/", Some("http://127.0.0.1:8060")),
            ("HTTP://[::1]:8060", Some("http://[::1]:8060")),
            ("localhost:9000", Some("http://localhost:9000")),
            (" http://h:1 ", Some("http://h:1")),
            ("https://h:1", None),
            ("ws://h:1", None),
            ("http://", None),
            ("http://h:1/v1", None),
            ("http://h:1?x", None),
            ("", None),
        ];
        for &(given, want) in rows {
            let got = Target::new(given, None).ok().map(|t| t.base);
            assert_eq!(got.as_deref(), want, "{given:?}");
        }
        let t = Target::new("http://h:1", None).unwrap();
        assert_eq!(t.url("/v1/lines"), "http://h:1/v1/lines");
        assert_eq!(t.ws_url("/v1/events"), "ws://h:1/v1/events");
    }

    #[test]
    fn token_header_and_debug() {
        let t = Target::new("h:1", Some("s3cret".into())).unwrap();
        assert_eq!(t.authorization().as_deref(), Some("Bearer s3cret"));
        assert!(!format!("{t:?}").contains("s3cret"));
        let empty = Target::new("h:1", Some(String::new())).unwrap();
        assert_eq!(empty.authorization(), None);
    }

    #[test]
    fn path_segments() {
        let rows = [
            ("alice", "alice"),
            ("a.b-c_d~", "a.b-c_d~"),
            ("a/b", "a%2Fb"),
            ("a b?#%", "a%20b%3F%23%25"),
            ("zoë", "zo%C3%AB"),
        ];
        for (given, want) in rows {
            assert_eq!(path_segment(given), want);
        }
    }

    #[test]
    fn errors_from_replies() {
        let t = Target::new("h:1", None).unwrap();
        let body = r#"{"error":"LINEERR_INVALCALLHANDLE","code":-2147483624,"message":"the call handle is not valid"}"#;
        assert_eq!(
            t.error_for("/v1/calls/42", 404, body).to_string(),
            "LINEERR_INVALCALLHANDLE: the call handle is not valid"
        );
        let unauth = t.error_for("/v1/lines", 401, body).to_string();
        assert!(unauth.contains("a token is required"), "{unauth}");
        let with = Target::new("h:1", Some("x".into())).unwrap();
        let wrong = with.error_for("/v1/lines", 401, "").to_string();
        assert!(wrong.contains("the token is wrong"), "{wrong}");
        assert_eq!(
            t.error_for("/v1/lines", 502, "<html>Bad gateway\nmore</html>")
                .to_string(),
            "http://h:1/v1/lines answered HTTP 502: <html>Bad gateway"
        );
        assert_eq!(
            t.error_for("/v1/lines", 500, "").to_string(),
            "http://h:1/v1/lines answered HTTP 500: (empty body)"
        );
        let refused = io_error(&t, &std::io::ErrorKind::ConnectionRefused.into()).to_string();
        assert!(refused.contains("http://h:1"), "{refused}");
        assert!(refused.contains("callcomp serve"), "{refused}");
    }
}
