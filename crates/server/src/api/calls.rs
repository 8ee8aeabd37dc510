//! `/v1/calls…`: every call, one call's information and status, and dropping it
//! (lineGetCallInfo / lineGetCallStatus, lineDrop; DESIGN §4).
//!
//! An id that is not a number, or is 0, names no call: `LINEERR_INVALCALLHANDLE` (404), the
//! same answer as for a number no call has.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use callcomp_switch::LineErr;

use super::error::{ApiError, ErrorBody};
use super::views::CallView;
use super::{ApiPath, AppState};

/// `GET /v1/calls`: every call that is not idle, on every line.
#[utoipa::path(
    get,
    path = "/v1/calls",
    tag = "calls",
    responses(
        (status = 200, description = "Every call that is not idle, by id", body = [CallView]),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Json<Vec<CallView>> {
    state.core.catch_up().await;
    Json(state.core.calls())
}

/// `GET /v1/calls/{id}`: one call.
#[utoipa::path(
    get,
    path = "/v1/calls/{id}",
    tag = "calls",
    params(("id" = u32, Path, description = "The call id")),
    responses(
        (status = 200, description = "The call", body = CallView),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "LINEERR_INVALCALLHANDLE: no such call", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_call(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CallView>, ApiError> {
    state.core.catch_up().await;
    Ok(Json(state.core.call(call_id(&id)?)?))
}

/// `DELETE /v1/calls/{id}`: drop a call; its state changes follow as events.
#[utoipa::path(
    delete,
    path = "/v1/calls/{id}",
    tag = "calls",
    params(("id" = u32, Path, description = "The call id")),
    responses(
        (status = 204, description = "The drop was accepted"),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "LINEERR_INVALCALLHANDLE: no such call", body = ErrorBody),
        (status = 409, description = "LINEERR_INVALCALLSTATE: the call cannot be dropped now", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn drop_call(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.core.drop_call(call_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The call id in a path segment; anything but a non-zero `u32` names no call.
pub(crate) fn call_id(segment: &str) -> Result<u32, ApiError> {
    match segment.parse::<u32>() {
        Ok(id) if id != 0 => Ok(id),
        _ => Err(LineErr::InvalCallHandle.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_id_segments() {
        assert_eq!(call_id("7"), Ok(7));
        assert_eq!(call_id("4294967295"), Ok(u32::MAX));
        for bad in ["0", "", "-1", "4294967296", "x", "7x", " 7"] {
            assert_eq!(
                call_id(bad),
                Err(LineErr::InvalCallHandle.into()),
                "{bad:?}"
            );
        }
    }
}
