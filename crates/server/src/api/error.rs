//! API errors: an HTTP status and a JSON body naming the TAPI error (DESIGN §4).
//!
//! Every failure answers `{"error": "LINEERR_…", "code": <i32>, "message": "…"}`. The codes of
//! the switch's [`LineErr`] are used as they are; three more `tapi.h` codes cover what only the
//! HTTP layer can get wrong: an unreadable request (`LINEERR_INVALPARAM`), an empty or invalid
//! destination (`LINEERR_INVALADDRESS`) and a missing or wrong token (`LINEERR_INVALAPPHANDLE`:
//! in TAPI an application first obtains a handle, here it presents a token).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use callcomp_switch::LineErr;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::core::ApiFailure;

/// `LINEERR_INVALADDRESS` (0x80000010): the destination address is not valid.
pub const LINEERR_INVALADDRESS: i32 = 0x8000_0010_u32 as i32;
/// `LINEERR_INVALAPPHANDLE` (0x80000014): the application is not known (bad bearer token).
pub const LINEERR_INVALAPPHANDLE: i32 = 0x8000_0014_u32 as i32;
/// `LINEERR_INVALPARAM` (0x80000032): a parameter (the request body, a query) is not valid.
pub const LINEERR_INVALPARAM: i32 = 0x8000_0032_u32 as i32;

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The TAPI error name, e.g. `LINEERR_INVALCALLHANDLE`.
    #[schema(example = "LINEERR_INVALCALLHANDLE")]
    pub error: String,
    /// The TAPI error as the negative `i32` TAPI functions return.
    #[schema(example = -2147483624)]
    pub code: i32,
    /// What went wrong, for a person.
    #[schema(example = "the call handle is not valid")]
    pub message: String,
}

/// A failed API request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The core refused or failed the operation.
    #[error(transparent)]
    Core(#[from] ApiFailure),
    /// The request could not be read (bad JSON, wrong content type, unknown field).
    #[error("invalid request: {0}")]
    InvalParam(String),
    /// The `Authorization` header is missing or does not carry the configured token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// No route has this path.
    #[error("no such resource")]
    NoRoute,
    /// The route exists but not with this method.
    #[error("method not allowed on this resource")]
    MethodNotAllowed,
    /// `/metrics` was asked for but no Prometheus recorder was installed.
    #[error("metrics are not enabled")]
    MetricsDisabled,
    /// A `Host` (without a token) or WebSocket `Origin` that names another site: a web page
    /// elsewhere, or DNS rebinding (see `api.allowed_hosts`).
    #[error("{header} {value:?} is not allowed here (see api.allowed_hosts)")]
    ForeignSite {
        /// `Host` or `Origin`.
        header: &'static str,
        /// The value sent (empty when missing).
        value: String,
    },
    /// A limit of the API (`api.max_connections`, `api.max_event_clients`) is reached.
    #[error("too many {what} (at most {max}); try again later")]
    TooMany {
        /// What there are too many of.
        what: &'static str,
        /// The limit.
        max: usize,
    },
}

impl From<LineErr> for ApiError {
    fn from(e: LineErr) -> ApiError {
        ApiError::Core(ApiFailure::Line(e))
    }
}

impl ApiError {
    /// The TAPI error name of the response.
    pub fn name(&self) -> &'static str {
        match self {
            ApiError::Core(ApiFailure::Line(e))
            | ApiError::Core(ApiFailure::Detailed { error: e, .. }) => e.name(),
            ApiError::Core(ApiFailure::InvalAddress(_)) => "LINEERR_INVALADDRESS",
            ApiError::InvalParam(_) => "LINEERR_INVALPARAM",
            ApiError::Unauthorized | ApiError::ForeignSite { .. } => "LINEERR_INVALAPPHANDLE",
            ApiError::TooMany { .. } => LineErr::ResourceUnavail.name(),
            ApiError::NoRoute | ApiError::MethodNotAllowed | ApiError::MetricsDisabled => {
                LineErr::OperationUnavail.name()
            }
        }
    }

    /// The TAPI error value of the response.
    pub fn code(&self) -> i32 {
        match self {
            ApiError::Core(ApiFailure::Line(e))
            | ApiError::Core(ApiFailure::Detailed { error: e, .. }) => e.value(),
            ApiError::Core(ApiFailure::InvalAddress(_)) => LINEERR_INVALADDRESS,
            ApiError::InvalParam(_) => LINEERR_INVALPARAM,
            ApiError::Unauthorized | ApiError::ForeignSite { .. } => LINEERR_INVALAPPHANDLE,
            ApiError::TooMany { .. } => LineErr::ResourceUnavail.value(),
            ApiError::NoRoute | ApiError::MethodNotAllowed | ApiError::MetricsDisabled => {
                LineErr::OperationUnavail.value()
            }
        }
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Core(ApiFailure::Line(e))
            | ApiError::Core(ApiFailure::Detailed { error: e, .. }) => line_err_status(*e),
            ApiError::Core(ApiFailure::InvalAddress(_)) | ApiError::InvalParam(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::MetricsDisabled | ApiError::TooMany { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::ForeignSite { .. } => StatusCode::FORBIDDEN,
        }
    }

    /// The JSON body of the response.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.name().to_owned(),
            code: self.code(),
            message: self.to_string(),
        }
    }
}

/// The HTTP status that answers a line error.
///
/// Unknown handles are 404, a state or limit conflict 409, a call of someone else 403, a bad
/// argument 400, a lack of resources 503 and a failure of the operation itself 502 (the phone
/// or network behind the server failed).
pub const fn line_err_status(e: LineErr) -> StatusCode {
    match e {
        LineErr::InvalLineHandle | LineErr::InvalCallHandle | LineErr::InvalCompletionId => {
            StatusCode::NOT_FOUND
        }
        LineErr::InvalCallState | LineErr::CompletionOverrun | LineErr::OperationUnavail => {
            StatusCode::CONFLICT
        }
        LineErr::NotOwner => StatusCode::FORBIDDEN,
        LineErr::InvalCallComplMode
        | LineErr::InvalMessageId
        | LineErr::InvalPointer
        | LineErr::StructureTooSmall => StatusCode::BAD_REQUEST,
        LineErr::ResourceUnavail | LineErr::NoMem | LineErr::Uninitialized => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        LineErr::OperationFailed => StatusCode::BAD_GATEWAY,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        if matches!(self, ApiError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line error maps to a status, and the body carries its name and value.
    #[test]
    fn line_errors_map_to_status_and_body() {
        let rows: &[(LineErr, u16)] = &[
            (LineErr::CompletionOverrun, 409),
            (LineErr::InvalCallComplMode, 400),
            (LineErr::InvalCallHandle, 404),
            (LineErr::InvalCallState, 409),
            (LineErr::InvalCompletionId, 404),
            (LineErr::InvalLineHandle, 404),
            (LineErr::InvalMessageId, 400),
            (LineErr::InvalPointer, 400),
            (LineErr::NoMem, 503),
            (LineErr::NotOwner, 403),
            (LineErr::OperationFailed, 502),
            (LineErr::OperationUnavail, 409),
            (LineErr::ResourceUnavail, 503),
            (LineErr::StructureTooSmall, 400),
            (LineErr::Uninitialized, 503),
        ];
        assert_eq!(rows.len(), LineErr::ALL.len());
        for &(e, status) in rows {
            let err = ApiError::from(e);
            assert_eq!(err.status().as_u16(), status, "{}", e.name());
            let body = err.body();
            assert_eq!(body.error, e.name());
            assert_eq!(body.code, e.value());
            assert_eq!(body.message, e.to_string());
        }
    }

    /// The extra `tapi.h` codes, in hex and as the decimal the API sends.
    #[test]
    fn extra_codes() {
        assert_eq!(LINEERR_INVALADDRESS, -2147483632);
        assert_eq!(LINEERR_INVALAPPHANDLE, -2147483628);
        assert_eq!(LINEERR_INVALPARAM, -2147483598);
        let detailed = ApiError::Core(ApiFailure::Detailed {
            error: LineErr::OperationFailed,
            detail: "alice's phone did not answer".into(),
        });
        assert_eq!(detailed.name(), "LINEERR_OPERATIONFAILED");
        assert_eq!(
            detailed.to_string(),
            "the operation failed: alice's phone did not answer"
        );
        let unauth = ApiError::Unauthorized.into_response();
        assert_eq!(unauth.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            unauth.headers().get(header::WWW_AUTHENTICATE),
            Some(&HeaderValue::from_static("Bearer"))
        );
    }
}
