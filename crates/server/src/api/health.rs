//! `GET /healthz` (liveness, never behind the token) and `GET /metrics` (Prometheus text).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

use super::error::{ApiError, ErrorBody};
use super::views::Health;
use super::AppState;

/// The content type of the Prometheus text exposition format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /healthz`: 200 `{"status": "ok"}` while the server answers and its store can keep
/// what it acknowledges; 503 `{"status": "unavailable", "reason": "…"}` while it cannot (the
/// server then refuses every REGISTER, lineCompleteCall and lineUncompleteCall).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "server",
    responses(
        (status = 200, description = "The server is up and its store writable", body = Health),
        (status = 503, description = "The store is unavailable; the reason says why", body = Health),
    )
)]
pub(crate) async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    match state.core.store_problem() {
        None => (
            StatusCode::OK,
            Json(Health {
                status: "ok".to_owned(),
                reason: None,
            }),
        ),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "unavailable".to_owned(),
                reason: Some(reason),
            }),
        ),
    }
}

/// `GET /metrics`: every metric in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "server",
    responses(
        (status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 503, description = "LINEERR_OPERATIONUNAVAIL: metrics are not enabled", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let handle = state.metrics.as_ref().ok_or(ApiError::MetricsDisabled)?;
    // Looks at the store's file now, so `callcomp_store_up` is current.
    let _ = state.core.store_problem();
    handle.run_upkeep();
    Ok((
        [(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)],
        handle.render(),
    ))
}
