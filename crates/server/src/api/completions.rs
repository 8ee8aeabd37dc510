//! Call completion (DESIGN §4): lineCompleteCall (`POST /v1/calls/{id}/complete`),
//! lineUncompleteCall (`DELETE /v1/lines/{line}/completions/{id}`), and the outstanding
//! requests of a line or waiting on a callee.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use callcomp_switch::{CompletionMode, LineErr};

use super::error::{ApiError, ErrorBody};
use super::views::{CompleteRequest, CompleteResponse, CompletionView, CompletionsQuery};
use super::{calls, ApiJson, ApiPath, AppState};

/// `POST /v1/calls/{id}/complete`: ask to complete a busy or unanswered call.
///
/// The answer comes once the request is on disk. Refusals follow DESIGN §2.1's order.
#[utoipa::path(
    post,
    path = "/v1/calls/{id}/complete",
    tag = "completions",
    params(("id" = u32, Path, description = "The call id")),
    request_body = CompleteRequest,
    responses(
        (status = 201, description = "Accepted and stored", body = CompleteResponse),
        (status = 400, description = "LINEERR_INVALCALLCOMPLMODE: unknown or unoffered mode; LINEERR_INVALMESSAGEID; LINEERR_INVALPARAM: unreadable body", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "LINEERR_NOTOWNER", body = ErrorBody),
        (status = 404, description = "LINEERR_INVALCALLHANDLE: no such call", body = ErrorBody),
        (status = 409, description = "LINEERR_OPERATIONUNAVAIL: completion unavailable; LINEERR_INVALCALLSTATE: not busy/ringback, or the mode needs a held leg; LINEERR_COMPLETIONOVERRUN: the line has too many requests", body = ErrorBody),
        (status = 502, description = "LINEERR_OPERATIONFAILED: the request could not be stored", body = ErrorBody),
        (status = 503, description = "LINEERR_RESOURCEUNAVAIL: the callee's queue is full", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn complete(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CompleteRequest>,
) -> Result<(StatusCode, Json<CompleteResponse>), ApiError> {
    let call = calls::call_id(&id)?;
    let mode = mode_value(&body.mode);
    let completion_id = state
        .core
        .complete_call(call, mode, body.message_id)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CompleteResponse { completion_id }),
    ))
}

/// `DELETE /v1/lines/{line}/completions/{completion_id}`: cancel a request.
#[utoipa::path(
    delete,
    path = "/v1/lines/{line}/completions/{completion_id}",
    tag = "completions",
    params(
        ("line" = String, Path, description = "The line's name"),
        ("completion_id" = u32, Path, description = "The completion id"),
    ),
    responses(
        (status = 204, description = "Cancelled; it will never fire"),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "LINEERR_INVALLINEHANDLE: no such line; LINEERR_INVALCOMPLETIONID: not outstanding on that line", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn uncomplete(
    State(state): State<AppState>,
    ApiPath((line, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    // A non-number names no outstanding request; the line is still checked first.
    let id = match id.parse::<u32>() {
        Ok(id) => id,
        Err(_) => {
            state.core.catch_up().await;
            state.core.line(&line)?;
            return Err(LineErr::InvalCompletionId.into());
        }
    };
    state.core.uncomplete_call(line, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/lines/{line}/completions`: the line's outstanding requests.
#[utoipa::path(
    get,
    path = "/v1/lines/{line}/completions",
    tag = "completions",
    params(("line" = String, Path, description = "The line's name")),
    responses(
        (status = 200, description = "Outstanding requests, by id", body = [CompletionView]),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "LINEERR_INVALLINEHANDLE: no such line", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    ApiPath(line): ApiPath<String>,
) -> Result<Json<Vec<CompletionView>>, ApiError> {
    state.core.catch_up().await;
    Ok(Json(state.core.line_completions(&line)?))
}

/// `GET /v1/completions?target=bob`: the requests waiting on a callee, its queue first;
/// without `target`, those of every callee, callee by callee.
#[utoipa::path(
    get,
    path = "/v1/completions",
    tag = "completions",
    params(CompletionsQuery),
    responses(
        (status = 200, description = "Waiting requests: by callee name, each callee's queue in order, then its messages", body = [CompletionView]),
        (status = 400, description = "LINEERR_INVALPARAM: unreadable query", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn waiting_on(
    State(state): State<AppState>,
    query: Result<Query<CompletionsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<CompletionView>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::InvalParam(e.body_text()))?;
    state.core.catch_up().await;
    Ok(Json(match query.target {
        Some(target) => state.core.completions_for(&target),
        None => state.core.completions(),
    }))
}

/// The `LINECALLCOMPLMODE_*` value of a mode name; 0 (never a valid mode, so
/// `LINEERR_INVALCALLCOMPLMODE`) for anything else.
fn mode_value(name: &str) -> u32 {
    name.parse::<CompletionMode>()
        .map_or(0, CompletionMode::value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_names() {
        assert_eq!(mode_value("campon"), 0x1);
        assert_eq!(mode_value("callback"), 0x2);
        assert_eq!(mode_value("intrude"), 0x4);
        assert_eq!(mode_value("message"), 0x8);
        for bad in ["", "Callback", "ring", "2"] {
            assert_eq!(mode_value(bad), 0, "{bad:?}");
        }
    }
}
