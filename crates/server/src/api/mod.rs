//! The application API over HTTP and WebSocket (DESIGN §4).
//!
//! [`router`] builds the axum router over a [`Core`]; [`serve`] runs it on a listener until a
//! shutdown future resolves. One file per resource: [`lines`](mod@lines) (`/v1/lines…`),
//! [`calls`](mod@calls) (`/v1/calls…`), [`events`](mod@events) (`/v1/events`, the LINE_*
//! stream), [`health`](mod@health) (`/healthz`, `/metrics`), [`openapi`](mod@openapi)
//! (`/v1/openapi.json`), [`console`](mod@console) (`/console/`, the operator's web page).
//! Errors are [`ApiError`]s, answered as `{"error", "code", "message"}`. `docs/api.md`
//! describes every route.

pub mod auth;
pub mod calls;
pub mod completions;
pub mod console;
pub mod core;
pub mod error;
pub mod events;
pub mod health;
pub mod limits;
pub mod lines;
pub mod metrics;
pub mod openapi;
pub mod views;

use std::future::Future;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;

pub use self::core::{ApiFailure, BoxFuture, Core};
pub use self::error::{ApiError, ErrorBody};
pub use self::limits::{guard, serve_limited, ApiLimits};
pub use self::metrics::{install_prometheus, MetricsError};
pub use self::views::{
    AddressCaps, CallView, CompleteRequest, CompleteResponse, CompletionView, CompletionsQuery,
    Health, LaggedMessage, LineStatus, LineView, MakeCallRequest, RegistrationView,
};

/// The largest request body the API reads; its bodies are a few dozen bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// How the router is set up.
#[derive(Clone, Default)]
pub struct ApiOptions {
    /// When set, every route except `/healthz` and the console's static files needs
    /// `Authorization: Bearer <token>` (or, on a WebSocket upgrade, the bearer subprotocol).
    pub token: Option<String>,
    /// The Prometheus handle `/metrics` renders (from [`install_prometheus`]); without one,
    /// `/metrics` answers 503.
    pub metrics: Option<PrometheusHandle>,
}

impl std::fmt::Debug for ApiOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("ApiOptions")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

/// What every handler gets.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) core: Arc<dyn Core>,
    pub(crate) metrics: Option<PrometheusHandle>,
}

/// The API's router over `core`.
pub fn router(core: Arc<dyn Core>, options: ApiOptions) -> Router {
    let state = AppState {
        core,
        metrics: options.metrics,
    };
    let mut protected = Router::new()
        .route("/metrics", get(health::metrics))
        .route("/v1/lines", get(lines::list))
        .route("/v1/lines/{line}", get(lines::get_line))
        .route(
            "/v1/lines/{line}/calls",
            get(lines::list_calls).post(lines::make_call),
        )
        .route("/v1/calls", get(calls::list))
        .route(
            "/v1/calls/{id}",
            get(calls::get_call).delete(calls::drop_call),
        )
        .route(
            "/v1/calls/{id}/complete",
            axum::routing::post(completions::complete),
        )
        .route("/v1/lines/{line}/registrations", get(lines::registrations))
        .route("/v1/lines/{line}/completions", get(completions::list))
        .route(
            "/v1/lines/{line}/completions/{completion_id}",
            axum::routing::delete(completions::uncomplete),
        )
        .route("/v1/completions", get(completions::waiting_on))
        .route("/v1/events", get(events::events))
        .route("/v1/openapi.json", get(openapi::document));
    if let Some(token) = options.token {
        protected = protected.route_layer(axum::middleware::from_fn_with_state(
            auth::Token::new(&token),
            auth::require_token,
        ));
    }
    Router::new()
        .route("/healthz", get(health::healthz))
        .merge(console::routes())
        .merge(protected)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Serves `router` on `listener` with the default [`ApiLimits`] until `shutdown` resolves,
/// then stops accepting and lets requests in flight finish. Open WebSocket streams end when
/// the core drops its event sender. `callcomp serve` uses [`serve_limited`] with the
/// configured limits.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "API listening");
    }
    serve_limited(listener, router, &ApiLimits::default(), shutdown).await
}

async fn not_found() -> ApiError {
    ApiError::NoRoute
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// A path parameter whose rejection is an [`ApiError`] (JSON) rather than axum's plain text.
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| ApiPath(t))
            .map_err(|e| ApiError::InvalParam(e.body_text()))
    }
}

/// A JSON body whose rejection (bad JSON, wrong content type, unknown field, too large) is a
/// 400 `LINEERR_INVALPARAM`.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(request, state)
            .await
            .map(|axum::Json(t)| ApiJson(t))
            .map_err(|e: JsonRejection| ApiError::InvalParam(e.body_text()))
    }
}
