//! The API's own bounds (`docs/security.md`), kept as layers around the router and as the
//! connection loop, so that routes can be added without touching them.
//!
//! - [`guard`] wraps a router: without a token, `Host` must name the listen address, a
//!   loopback address, a `localhost` name or one of `api.allowed_hosts` (`/healthz` aside,
//!   which monitors probe by any name and which tells nothing; a web page that
//!   rebinds its own DNS name to our address sends its own name in `Host`); a WebSocket
//!   upgrade with an `Origin` must come from such a host too, token or not (browsers let any
//!   page open a WebSocket anywhere, with no preflight); and the number of `/v1/events`
//!   clients is bounded (503 past it, taken in [`super::events`]).
//! - [`serve_limited`] is the accept loop: at most `api.max_connections` connections (a new one
//!   beyond gets 503 and is closed), and a request's headers must arrive within
//!   `api.header_timeout`, so a client that never finishes them cannot hold a connection.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN, UPGRADE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use super::metrics as m;
use crate::config::Config;

/// The API's bounds, from `[api]`.
#[derive(Debug, Clone)]
pub struct ApiLimits {
    /// Most connections at once.
    pub max_connections: usize,
    /// Most `/v1/events` clients at once.
    pub max_event_clients: usize,
    /// Longest time for a request's headers.
    pub header_timeout: Duration,
    /// The hosts `Host` and `Origin` may name.
    pub hosts: AllowedHosts,
    /// Whether `Host` is checked (only when no token is set: with a token, a foreign page
    /// cannot authenticate anyway).
    pub check_host: bool,
}

impl ApiLimits {
    /// The limits of a configuration.
    pub fn from_config(config: &Config) -> ApiLimits {
        let api = &config.api;
        let size = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        ApiLimits {
            max_connections: size(api.max_connections),
            max_event_clients: size(api.max_event_clients),
            header_timeout: api.header_timeout,
            hosts: AllowedHosts::new(api.listen, &api.allowed_hosts),
            check_host: api.token.is_none(),
        }
    }
}

impl Default for ApiLimits {
    fn default() -> ApiLimits {
        ApiLimits::from_config(&Config::default())
    }
}

/// Which hosts a request may name in `Host` or `Origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHosts {
    listen: IpAddr,
    /// Lower-case names and IPs (IPv6 without brackets) from `api.allowed_hosts`.
    extra: Vec<String>,
}

impl AllowedHosts {
    /// The listen address's IP, loopback, `localhost` names, and `extra`.
    pub fn new(listen: SocketAddr, extra: &[String]) -> AllowedHosts {
        AllowedHosts {
            listen: listen.ip(),
            extra: extra.iter().map(|h| normalize(h)).collect(),
        }
    }

    /// Whether a `Host` value (`name`, `name:port`, `1.2.3.4:80`, `[::1]:80`) is allowed.
    ///
    /// IP literals that are the listen IP or loopback are allowed, and any IP literal when
    /// the API listens on the unspecified address (DNS rebinding needs a name, so an IP in
    /// `Host` cannot be one); names only when they are `localhost`, end in `.localhost`
    /// (RFC 6761: always loopback), or are listed.
    pub fn allows(&self, host: &str) -> bool {
        let name = normalize(strip_port(host));
        if name.is_empty() {
            return false;
        }
        if self.extra.contains(&name) {
            return true;
        }
        match name.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback() || ip == self.listen || self.listen.is_unspecified(),
            Err(_) => name == "localhost" || name.ends_with(".localhost"),
        }
    }

    /// Whether an `Origin` value (`scheme://host[:port]`) is allowed; `null` never is.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let Some((scheme, rest)) = origin.split_once("://") else {
            return false;
        };
        let authority = rest.split('/').next().unwrap_or_default();
        matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
            && !authority.contains('@')
            && self.allows(authority)
    }
}

/// Lower case, without a final dot, IPv6 without brackets.
fn normalize(host: &str) -> String {
    let host = host.trim().trim_end_matches('.');
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.to_ascii_lowercase()
}

/// `host:port` → `host` (and `[v6]:port` → `[v6]`); a value without a port as it is.
fn strip_port(value: &str) -> &str {
    let value = value.trim();
    if value.starts_with('[') {
        return value.find(']').map_or(value, |end| &value[..=end]);
    }
    match value.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => value,
    }
}

/// The bound on `/v1/events` clients; [`super::events`] takes a permit per stream.
#[derive(Clone)]
pub(crate) struct EventClients {
    permits: Arc<Semaphore>,
    max: usize,
}

impl EventClients {
    /// A permit for one more client, or the 503 that refuses it.
    pub(crate) fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.permits).try_acquire_owned().map_err(|_| {
            metrics::counter!(m::LIMIT_REFUSALS, m::LABEL_LIMIT => "api_event_clients")
                .increment(1);
            tracing::warn!(max = self.max, "event stream refused: too many clients");
            ApiError::TooMany {
                what: "event stream clients",
                max: self.max,
            }
        })
    }
}

/// Wraps `router` in the Host and Origin checks and the event-client bound.
pub fn guard(router: Router, limits: &ApiLimits) -> Router {
    let clients = EventClients {
        permits: Arc::new(Semaphore::new(limits.max_event_clients)),
        max: limits.max_event_clients,
    };
    let check = SiteCheck {
        hosts: Arc::new(limits.hosts.clone()),
        check_host: limits.check_host,
    };
    router
        .layer(axum::middleware::from_fn_with_state(check, check_site))
        .layer(Extension(clients))
}

#[derive(Clone)]
struct SiteCheck {
    hosts: Arc<AllowedHosts>,
    check_host: bool,
}

/// Middleware: refuses a foreign `Host` (when checked) and a foreign `Origin` on a WebSocket
/// upgrade, with 403.
async fn check_site(State(check): State<SiteCheck>, request: Request, next: Next) -> Response {
    match foreign(&check, &request) {
        None => next.run(request).await,
        Some((name, value)) => {
            let limit = if name == "Host" {
                "api_host"
            } else {
                "api_origin"
            };
            metrics::counter!(m::LIMIT_REFUSALS, m::LABEL_LIMIT => limit).increment(1);
            tracing::warn!(header = name, %value, path = %request.uri().path(), "API request from a foreign site refused");
            ApiError::ForeignSite {
                header: name,
                value,
            }
            .into_response()
        }
    }
}

/// The header that names a foreign site, and its value.
fn foreign(check: &SiteCheck, request: &Request) -> Option<(&'static str, String)> {
    let header = |name| {
        request
            .headers()
            .get(name)
            .map(|v: &axum::http::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    // `/healthz` tells nothing worth rebinding for, and monitors probe it by any name.
    if check.check_host && request.uri().path() != "/healthz" {
        let host = header(HOST).or_else(|| request.uri().authority().map(|a| a.to_string()));
        match host {
            Some(h) if check.hosts.allows(&h) => {}
            h => return Some(("Host", h.unwrap_or_default())),
        }
    }
    let upgrade = header(UPGRADE).is_some_and(|u| u.to_ascii_lowercase().contains("websocket"));
    match header(ORIGIN) {
        Some(origin) if upgrade && !check.hosts.allows_origin(&origin) => Some(("Origin", origin)),
        _ => None,
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then stops
/// accepting, lets requests in flight finish, and returns once every connection closed.
pub async fn serve_limited(
    listener: TcpListener,
    router: Router,
    limits: &ApiLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(r) => r,
                Err(e) => {
                    // Out of file descriptors, say: wait a little instead of spinning.
                    tracing::warn!(error = %e, "API accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            metrics::counter!(m::LIMIT_REFUSALS, m::LABEL_LIMIT => "api_connections").increment(1);
            tracing::debug!(%remote, max = limits.max_connections, "API connection refused: too many open");
            tokio::spawn(refuse(stream, limits.max_connections));
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let mut stop = stop_rx.clone();
        let open = open_rx.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let _open = open;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let mut conn = pin!(builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades());
            let mut stopping = false;
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(%remote, error = %e, "API connection ended");
                        }
                        break;
                    }
                    _ = stop.wait_for(|s| *s), if !stopping => {
                        stopping = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
    stop_tx.send_replace(true);
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}

/// Answers a connection beyond the bound with 503 and closes it.
async fn refuse(mut stream: TcpStream, max: usize) {
    let body = serde_json::to_string(
        &ApiError::TooMany {
            what: "API connections",
            max,
        }
        .body(),
    )
    .unwrap_or_default();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // A client that does not read gets nothing more; the write is not worth waiting for.
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        stream.write_all(response.as_bytes()),
    )
    .await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_allowed_without_a_token() {
        let hosts = AllowedHosts::new(
            "192.0.2.7:8060".parse().unwrap(),
            &["pbx.example.com".to_owned(), "[2001:db8::1]".to_owned()],
        );
        let rows: &[(&str, bool)] = &[
            ("127.0.0.1:8060", true),
            ("127.0.0.1", true),
            ("[::1]:8060", true),
            ("192.0.2.7:8060", true),
            ("localhost:8060", true),
            ("LOCALHOST.", true),
            ("app.localhost:8060", true),
            ("pbx.example.com", true),
            ("PBX.example.com:8060", true),
            ("[2001:db8::1]:8060", true),
            ("192.0.2.8:8060", false),
            ("evil.example:8060", false),
            ("localhost.evil.example", false),
            ("", false),
        ];
        for (host, want) in rows {
            assert_eq!(hosts.allows(host), *want, "{host}");
        }
        // Listening everywhere, any IP literal is fine, names still are not.
        let any = AllowedHosts::new("0.0.0.0:8060".parse().unwrap(), &[]);
        assert!(any.allows("198.51.100.3:8060"));
        assert!(!any.allows("rebind.evil.example:8060"));
    }

    #[test]
    fn origins_allowed_on_upgrades() {
        let hosts = AllowedHosts::new("127.0.0.1:8060".parse().unwrap(), &[]);
        let rows: &[(&str, bool)] = &[
            ("http://localhost:8060", true),
            ("http://127.0.0.1:8060", true),
            ("https://[::1]", true),
            ("http://evil.example", false),
            ("http://localhost@evil.example", false),
            ("null", false),
            ("file://", false),
            ("chrome-extension://abc", false),
        ];
        for (origin, want) in rows {
            assert_eq!(hosts.allows_origin(origin), *want, "{origin}");
        }
    }
}
