//! The JSON shapes of the API's resources (DESIGN §2, §4): lines with their capabilities and
//! status, calls, and the request bodies.
//!
//! Every TAPI enum travels twice, as its lower-case name and as its numeric value
//! (`"state": "busy", "state_value": 64`), so that an application written against TAPI can use
//! the numbers it knows and everyone else the names.

use callcomp_switch::completion::caps;
use callcomp_switch::{
    Call, CallReason, CallState, CompletionCond, CompletionMode, Direction, Line, StateMode,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The completion capabilities of a line's address (a LINEADDRESSCAPS subset, DESIGN §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AddressCaps {
    /// The completion modes the address offers (`campon`, `callback`, `intrude`, `message`).
    #[schema(value_type = Vec<String>, example = json!(["callback", "message"]))]
    pub call_completion_modes: Vec<CompletionMode>,
    /// The same, as the OR of the `LINECALLCOMPLMODE_*` values.
    pub call_completion_modes_value: u32,
    /// The conditions under which completion can be requested (`busy`, `noanswer`, and
    /// callcomp's `notregistered`).
    #[schema(value_type = Vec<String>, example = json!(["busy", "noanswer", "notregistered"]))]
    pub call_completion_conds: Vec<CompletionCond>,
    /// The same, as the OR of the condition values.
    pub call_completion_conds_value: u32,
    /// How many requests the line may have outstanding; 0 means completion is unavailable.
    pub max_call_completions: u32,
    /// The predefined texts for mode `message`, numbered from 0.
    pub completion_messages: Vec<String>,
    /// `dwAddrCapFlags`: `LINEADDRCAPFLAGS_COMPLETIONID` when completion is available.
    pub addr_cap_flags: u32,
    /// `dwCallFeatures`: `LINECALLFEATURE_COMPLETECALL` when completion is available.
    pub call_features: u32,
    /// `dwAddressFeatures`: `LINEADDRFEATURE_UNCOMPLETECALL` when completion is available.
    pub address_features: u32,
    /// `dwCallFeatures2`: the `LINECALLFEATURE2_COMPL*` bits of the offered modes.
    pub call_features2: u32,
}

impl From<caps::AddressCaps> for AddressCaps {
    /// The switch decides the capabilities (`caps::AddressCaps::new`); the view only carries
    /// them, with its OpenAPI schema.
    fn from(c: caps::AddressCaps) -> AddressCaps {
        AddressCaps {
            call_completion_modes: c.call_completion_modes,
            call_completion_modes_value: c.call_completion_modes_value,
            call_completion_conds: c.call_completion_conds,
            call_completion_conds_value: c.call_completion_conds_value,
            max_call_completions: c.max_call_completions,
            completion_messages: c.completion_messages,
            addr_cap_flags: c.addr_cap_flags,
            call_features: c.call_features,
            address_features: c.address_features,
            call_features2: c.call_features2,
        }
    }
}

impl AddressCaps {
    /// An address on which completion is not available.
    pub fn unavailable() -> AddressCaps {
        caps::AddressCaps::new(&[], &[], 0, &[]).into()
    }
}

/// A line's current status (a LINEDEVSTATUS subset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LineStatus {
    /// Outstanding completion requests of the line (`dwNumCallCompletions`).
    pub num_call_completions: u32,
    /// Calls on the line that are not idle.
    pub num_calls: u32,
    /// Whether the line's phone has a call in progress (a SIP leg open).
    pub in_call: bool,
    /// Whether the line's phone is registered (TAPI's `LINEDEVSTATUSFLAGS_INSERVICE`); `null`
    /// while the server has not said. Changes come as `linedevstate` `inservice` /
    /// `outofservice` events.
    pub registered: Option<bool>,
}

impl From<caps::LineStatus> for LineStatus {
    fn from(s: caps::LineStatus) -> LineStatus {
        LineStatus {
            num_call_completions: s.num_call_completions,
            num_calls: s.num_calls,
            in_call: s.in_call,
            registered: s.registered,
        }
    }
}

/// One line: a configured user with its one address (DESIGN §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LineView {
    /// The line's name, the user part (`alice`).
    pub name: String,
    /// The address of record (`sip:alice@example.com`).
    pub address: String,
    /// The address id on the line (always 0).
    pub address_id: u32,
    /// What completion the address offers.
    pub caps: AddressCaps,
    /// What the line is doing now.
    pub status: LineStatus,
}

impl LineView {
    /// The view of `line` with these capabilities and status.
    pub fn of(line: &Line, caps: AddressCaps, status: LineStatus) -> LineView {
        LineView {
            name: line.name.clone(),
            address: line.address.clone(),
            address_id: callcomp_switch::line::ADDRESS_ID,
            caps,
            status,
        }
    }
}

/// One call as its line sees it (LINECALLINFO and LINECALLSTATUS subsets, DESIGN §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CallView {
    /// The call id (never 0).
    pub id: u32,
    /// The line the call is on.
    pub line: String,
    /// The address id on the line (always 0).
    pub address_id: u32,
    /// `in` or `out`, as the line sees it.
    #[schema(value_type = String, example = "out")]
    pub direction: Direction,
    /// The other party.
    pub remote: String,
    /// The TAPI call state (`idle`, `offering`, `dialing`, `proceeding`, `ringback`, `busy`,
    /// `connected`, `disconnected`, …).
    #[schema(value_type = String, example = "busy")]
    pub state: CallState,
    /// The state's `LINECALLSTATE_*` value.
    pub state_value: u32,
    /// The detail of `busy` (busy mode) or `disconnected` (disconnect mode), if any.
    pub mode: Option<String>,
    /// The detail's TAPI value.
    pub mode_value: Option<u32>,
    /// Why the call exists (`direct`, `callcompletion`, `campedon`, `intrude`, …).
    #[schema(value_type = String, example = "direct")]
    pub reason: CallReason,
    /// The reason's `LINECALLREASON_*` value.
    pub reason_value: u32,
    /// The completion request behind the call; only with reason `callcompletion`.
    pub completion_id: Option<u32>,
    /// `dwCallFeatures`: `LINECALLFEATURE_COMPLETECALL` when completion can be requested now.
    pub call_features: u32,
    /// `dwCallFeatures2`: the `LINECALLFEATURE2_COMPL*` bits of the modes requestable now.
    pub call_features2: u32,
    /// The completion modes that could be requested on the call now.
    #[schema(value_type = Vec<String>, example = json!(["callback", "message"]))]
    pub completion_modes: Vec<CompletionMode>,
    /// When the call appeared, in milliseconds since the UNIX epoch.
    pub created_ms: u64,
    /// When the call entered its current state.
    pub state_since_ms: u64,
    /// When the call was answered, if it was.
    pub connected_ms: Option<u64>,
    /// While the call waits in its offer window: when it will go idle.
    pub offer_until_ms: Option<u64>,
}

impl CallView {
    /// The view of `call` on an address that offers the completion modes `offered`.
    pub fn of(call: &Call, offered: &[CompletionMode]) -> CallView {
        let features = call.call_features(offered);
        let completion_modes = call
            .completable_modes()
            .into_iter()
            .filter(|m| offered.contains(m))
            .collect();
        CallView {
            id: call.id.get(),
            line: call.line.clone(),
            address_id: callcomp_switch::line::ADDRESS_ID,
            direction: call.direction,
            remote: call.remote.clone(),
            state: call.state,
            state_value: call.state.value(),
            mode: call.mode.map(|m| StateMode::as_str(m).to_owned()),
            mode_value: call.mode.map(StateMode::value),
            reason: call.reason,
            reason_value: call.reason.value(),
            completion_id: call.completion_id,
            call_features: features.features,
            call_features2: features.features2,
            completion_modes,
            created_ms: call.created.as_millis(),
            state_since_ms: call.state_since.as_millis(),
            connected_ms: call.connected_at.map(|t| t.as_millis()),
            offer_until_ms: call.offer_until.map(|t| t.as_millis()),
        }
    }
}

/// The body of `POST /v1/lines/{line}/calls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MakeCallRequest {
    /// The destination: a line name (`bob`) or a SIP URI.
    #[schema(example = "bob")]
    pub to: String,
}

/// The body of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the store cannot keep what the server would acknowledge.
    #[schema(example = "ok")]
    pub status: String,
    /// With `unavailable`: why, e.g. "the database file /var/lib/callcomp.db was deleted".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The message a WebSocket client gets instead of events it was too slow to receive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LaggedMessage {
    /// Always `lagged`.
    #[schema(example = "lagged")]
    pub event: String,
    /// How many events were skipped; the next event's `seq` is that many past the last one seen.
    pub missed: u64,
}

/// The body of `POST /v1/calls/{id}/complete` (lineCompleteCall).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// The completion mode: `callback`, `campon` or `message` (`intrude` is not offered).
    #[schema(example = "callback")]
    pub mode: String,
    /// For mode `message`: the index of the predefined text (ignored for other modes).
    #[serde(default)]
    pub message_id: u32,
}

/// The answer to an accepted lineCompleteCall: the request is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CompleteResponse {
    /// The new request's id (never 0).
    #[schema(example = 7)]
    pub completion_id: u32,
}

/// One outstanding completion request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CompletionView {
    /// The request's id (never 0).
    pub completion_id: u32,
    /// The caller's line, which asked for it; for another server's subscriber (see
    /// `external_caller`) the callee's line, through which the API cancels it.
    pub line: String,
    /// Only for a request of another server's subscriber (RFC 6910 over a trunk): who asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_caller: Option<ExternalCallerView>,
    /// The callee: a line's name, or a remote party's AOR (`sip:user@<trunk domain>`).
    pub target: String,
    /// `line`, or `remote` for a callee on another server (RFC 6910 agent role).
    #[schema(example = "line")]
    pub target_kind: String,
    /// For a remote callee: its AOR, the monitor URI its server offered, the offer's `m`,
    /// and the request's `cc-URI` once the monitor named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub remote: Option<callcomp_switch::RemoteTarget>,
    /// `callback`, `campon` or `message`.
    #[schema(value_type = String, example = "callback")]
    pub mode: CompletionMode,
    /// The mode's `LINECALLCOMPLMODE_*` value.
    pub mode_value: u32,
    /// How the original call failed: `busy`, `noanswer` or `notregistered`.
    #[schema(value_type = String, example = "busy")]
    pub condition: callcomp_switch::tapi::CompletionCond,
    /// The predefined message, for mode `message`.
    pub message_id: Option<u32>,
    /// `queued`, `suspended`, `ready` or `recalling`.
    #[schema(value_type = String, example = "queued")]
    pub state: callcomp_switch::RequestState,
    /// Whether the callee is known to be available: `waiting`, `unknown` or `met`.
    #[schema(value_type = String, example = "waiting")]
    pub availability: callcomp_switch::Availability,
    /// The 1-based place in the callee's queue (none for messages).
    pub queue_position: Option<u32>,
    /// The original call's id; none for another server's subscriber (the call was its
    /// server's).
    pub call_id: Option<u32>,
    /// When the request was accepted, in ms since the UNIX epoch.
    pub created_ms: u64,
    /// When it expires unless it fires first.
    pub expires_ms: u64,
    /// While recalling: when the recall stops ringing.
    pub recall_until_ms: Option<u64>,
}

impl CompletionView {
    /// The view of request `r`, at `position` in its callee's queue.
    pub fn of(r: &callcomp_switch::CompletionRequest, position: Option<u32>) -> CompletionView {
        CompletionView {
            completion_id: r.id.get(),
            line: r.speaking_line().to_owned(),
            external_caller: r.caller.trunk().map(|t| ExternalCallerView {
                trunk: t.trunk.clone(),
                aor: t.aor.clone(),
            }),
            target: r.target.key().to_owned(),
            target_kind: r.target.kind().to_owned(),
            remote: r.target.remote().cloned(),
            mode: r.mode,
            mode_value: r.mode.value(),
            condition: r.condition,
            message_id: r.message_id,
            state: r.state,
            availability: r.availability(),
            queue_position: position,
            call_id: r.call.map(|c| c.get()),
            created_ms: r.created.as_millis(),
            expires_ms: r.expiry.as_millis(),
            recall_until_ms: r.recall_until.map(|t| t.as_millis()),
        }
    }
}

/// Another server's subscriber whose request callcomp keeps as its monitor: the trunk it
/// came over and its address of record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExternalCallerView {
    /// The trunk's domain (`[[trunks]].domain`).
    #[schema(example = "b.example")]
    pub trunk: String,
    /// The subscriber's address of record.
    #[schema(example = "sip:carol@b.example")]
    pub aor: String,
}

/// The query of `GET /v1/completions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
pub struct CompletionsQuery {
    /// The callee's line whose waiting requests to list; without it, every callee's.
    pub target: Option<String>,
}

/// One registered contact of a line (a binding, RFC 3261 §10.3): where its phone said it is
/// and where the REGISTER came from, which differ behind NAT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegistrationView {
    /// The Contact URI as the phone wrote it.
    #[schema(example = "sip:alice@192.168.1.20:5060")]
    pub contact: String,
    /// The address the REGISTER came from (`ip:port`), if known.
    #[schema(example = "203.0.113.7:61234")]
    pub source: Option<String>,
    /// The transport it came over (`UDP`, `TCP`), if known.
    #[schema(example = "UDP")]
    pub transport: Option<String>,
    /// When the binding expires unless refreshed, in ms since the UNIX epoch.
    pub expires_ms: u64,
    /// The `q` preference in thousandths (1000 = 1.0), when the phone gave one.
    pub q: Option<u16>,
    /// The phone's User-Agent, as it said.
    pub user_agent: Option<String>,
    /// The contact's `+sip.instance` (RFC 5626), when given.
    pub instance: Option<String>,
    /// When the binding was last written (made or refreshed), in ms since the UNIX epoch.
    pub updated_ms: u64,
}
