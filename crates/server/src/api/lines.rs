//! `/v1/lines…`: lines with their capabilities and status, their registered contacts, their
//! calls, and third-party calls (lineGetDevCaps / lineGetAddressCaps / lineGetLineDevStatus,
//! lineMakeCall; DESIGN §4).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::Json;

use super::error::{ApiError, ErrorBody};
use super::views::{CallView, LineView, MakeCallRequest, RegistrationView};
use super::{ApiFailure, ApiJson, ApiPath, AppState};

/// `GET /v1/lines`: every line.
#[utoipa::path(
    get,
    path = "/v1/lines",
    tag = "lines",
    responses(
        (status = 200, description = "Every line, by name", body = [LineView]),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Json<Vec<LineView>> {
    state.core.catch_up().await;
    Json(state.core.lines())
}

/// `GET /v1/lines/{line}`: one line.
#[utoipa::path(
    get,
    path = "/v1/lines/{line}",
    tag = "lines",
    params(("line" = String, Path, description = "The line's name")),
    responses(
        (status = 200, description = "The line", body = LineView),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "LINEERR_INVALLINEHANDLE: no such line", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_line(
    State(state): State<AppState>,
    ApiPath(line): ApiPath<String>,
) -> Result<Json<LineView>, ApiError> {
    state.core.catch_up().await;
    Ok(Json(state.core.line(&line)?))
}

/// `GET /v1/lines/{line}/registrations`: the line's live registered contacts.
#[utoipa::path(
    get,
    path = "/v1/lines/{line}/registrations",
    tag = "lines",
    params(("line" = String, Path, description = "The line's name")),
    responses(
        (status = 200, description = "Live bindings, best first; `[]` when the phone is not registered", body = [RegistrationView]),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "LINEERR_INVALLINEHANDLE: no such line", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn registrations(
    State(state): State<AppState>,
    ApiPath(line): ApiPath<String>,
) -> Result<Json<Vec<RegistrationView>>, ApiError> {
    Ok(Json(state.core.registrations(line).await?))
}

/// `GET /v1/lines/{line}/calls`: the line's calls that are not idle.
#[utoipa::path(
    get,
    path = "/v1/lines/{line}/calls",
    tag = "lines",
    params(("line" = String, Path, description = "The line's name")),
    responses(
        (status = 200, description = "The line's calls, by id", body = [CallView]),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "LINEERR_INVALLINEHANDLE: no such line", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_calls(
    State(state): State<AppState>,
    ApiPath(line): ApiPath<String>,
) -> Result<Json<Vec<CallView>>, ApiError> {
    state.core.catch_up().await;
    Ok(Json(state.core.line_calls(&line)?))
}

/// `POST /v1/lines/{line}/calls`: a third-party call (ring the line's phone, then `to`).
///
/// The line is checked before the body, so an unknown line is a 404 whatever the body says.
#[utoipa::path(
    post,
    path = "/v1/lines/{line}/calls",
    tag = "lines",
    params(("line" = String, Path, description = "The calling line's name")),
    request_body = MakeCallRequest,
    responses(
        (status = 201, description = "The call exists; `Location` names it", body = CallView),
        (status = 400, description = "LINEERR_INVALPARAM: unreadable body; LINEERR_INVALADDRESS: empty or invalid `to`", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "LINEERR_INVALLINEHANDLE: no such line", body = ErrorBody),
        (status = 502, description = "LINEERR_OPERATIONFAILED: the call could not be placed", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn make_call(
    State(state): State<AppState>,
    ApiPath(line): ApiPath<String>,
    body: Result<ApiJson<MakeCallRequest>, ApiError>,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, String); 1],
        Json<CallView>,
    ),
    ApiError,
> {
    state.core.catch_up().await;
    state.core.line(&line)?;
    let ApiJson(request) = body?;
    let to = request.to.trim();
    if to.is_empty() {
        return Err(ApiFailure::InvalAddress(request.to).into());
    }
    let call = state.core.make_call(line, to.to_owned()).await?;
    let location = format!("/v1/calls/{}", call.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(call),
    ))
}
