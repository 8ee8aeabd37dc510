//! `GET /v1/openapi.json`: the OpenAPI 3.1 document, generated from the handlers and view types
//! so that it cannot drift from the code.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::ErrorBody;
use super::views::{
    AddressCaps, CallView, CompleteRequest, CompleteResponse, CompletionView, ExternalCallerView,
    Health, LaggedMessage, LineStatus, LineView, MakeCallRequest, RegistrationView,
};
use super::{calls, completions, events, health, lines};

/// The OpenAPI description of every route and schema.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "callcomp API",
        description = "TAPI-shaped application API of the callcomp SIP call-completion server. \
                       Errors answer {\"error\": LINEERR name, \"code\": i32 value, \"message\"}."
    ),
    paths(
        health::healthz,
        health::metrics,
        lines::list,
        lines::get_line,
        lines::registrations,
        lines::list_calls,
        lines::make_call,
        calls::list,
        calls::get_call,
        calls::drop_call,
        completions::complete,
        completions::uncomplete,
        completions::list,
        completions::waiting_on,
        events::events,
        document,
    ),
    components(schemas(
        LineView,
        AddressCaps,
        LineStatus,
        RegistrationView,
        CallView,
        MakeCallRequest,
        CompleteRequest,
        CompleteResponse,
        CompletionView,
        ExternalCallerView,
        Health,
        LaggedMessage,
        ErrorBody,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "lines", description = "Lines, their capabilities, status, registrations and calls"),
        (name = "calls", description = "Calls: all of them, one, dropping one"),
        (name = "completions", description = "Call completion requests (lineCompleteCall, lineUncompleteCall)"),
        (name = "events", description = "The LINE_* event stream"),
        (name = "server", description = "Health, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// The document as served.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Declares the `bearer` security scheme the routes refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /v1/openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "server",
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json"),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}
