//! TAPI 2.x constants the switch speaks, with their names and numeric values.
//!
//! Values follow the Windows SDK `tapi.h` as digested in `reference/tapi-call-completion.md` §3
//! (call states, busy modes, call reasons, completion modes, feature bits; the LINEERR codes live
//! in `line_error.rs` and are re-exported here); the disconnect modes and the call-information
//! change bits come from the same header. Each enum gives the lower-case name the JSON API uses
//! (`as_str`), the TAPI constant name (`tapi_name`) and the number (`value`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::line_error::LineErr;

/// A name that is not one of the API names of a TAPI enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} name `{name}`")]
pub struct UnknownName {
    /// Which enum was being parsed (`call state`, `call reason`, …).
    pub kind: &'static str,
    /// The name that matched nothing.
    pub name: String,
}

/// Declares a closed TAPI enum whose variants each carry a value, an API name and a TAPI name.
macro_rules! tapi_enum {
    (
        $(#[$meta:meta])*
        $name:ident ($kind:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, $api:literal, $tapi:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in ascending order of value.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )+ ];

            /// The TAPI numeric value.
            pub const fn value(self) -> u32 {
                match self { $( $name::$variant => $value, )+ }
            }

            /// The lower-case name used in the JSON API.
            pub const fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $api, )+ }
            }

            /// The TAPI constant name, as spelled in `tapi.h`.
            pub const fn tapi_name(self) -> &'static str {
                match self { $( $name::$variant => $tapi, )+ }
            }

            /// The variant with this TAPI value, if any (an exact match, not a bit test).
            pub fn from_value(value: u32) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.value() == value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            /// Parses the lower-case API name.
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownName { kind: $kind, name: s.to_owned() })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            /// Reads the API name; an unknown name is an error raised while reading the value
            /// itself, so a deserializer that tracks positions (toml) places it there.
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Name;
                impl serde::de::Visitor<'_> for Name {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "a {} name", $kind)
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$name, E> {
                        s.parse().map_err(|e: UnknownName| {
                            let names: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                            E::custom(format!("{e}; expected one of {}", names.join(", ")))
                        })
                    }
                }
                deserializer.deserialize_str(Name)
            }
        }
    };
}

tapi_enum! {
    /// A call's state as one line sees it (`LINECALLSTATE_*`, one bit each).
    CallState ("call state") {
        /// No call: the call is over and can never leave this state.
        Idle = 0x1, "idle", "LINECALLSTATE_IDLE";
        /// A new incoming call is being presented (the phone rings).
        Offering = 0x2, "offering", "LINECALLSTATE_OFFERING";
        /// An offered call has been claimed by an application.
        Accepted = 0x4, "accepted", "LINECALLSTATE_ACCEPTED";
        /// The line has dial tone.
        Dialtone = 0x8, "dialtone", "LINECALLSTATE_DIALTONE";
        /// Destination digits are being sent.
        Dialing = 0x10, "dialing", "LINECALLSTATE_DIALING";
        /// The far end is alerting.
        Ringback = 0x20, "ringback", "LINECALLSTATE_RINGBACK";
        /// The far end is busy.
        Busy = 0x40, "busy", "LINECALLSTATE_BUSY";
        /// Special information tones from the network.
        Specialinfo = 0x80, "specialinfo", "LINECALLSTATE_SPECIALINFO";
        /// The call is established.
        Connected = 0x100, "connected", "LINECALLSTATE_CONNECTED";
        /// Dialing is complete and the call is progressing through the network.
        Proceeding = 0x200, "proceeding", "LINECALLSTATE_PROCEEDING";
        /// The call is held.
        Onhold = 0x400, "onhold", "LINECALLSTATE_ONHOLD";
        /// The call is a member of a conference.
        Conferenced = 0x800, "conferenced", "LINECALLSTATE_CONFERENCED";
        /// Held while a conference is being set up.
        Onholdpendconf = 0x1000, "onholdpendconf", "LINECALLSTATE_ONHOLDPENDCONF";
        /// Held while a transfer is being set up.
        Onholdpendtransfer = 0x2000, "onholdpendtransfer", "LINECALLSTATE_ONHOLDPENDTRANSFER";
        /// The remote party has gone; the call awaits being dropped.
        Disconnected = 0x4000, "disconnected", "LINECALLSTATE_DISCONNECTED";
        /// The state is not known.
        Unknown = 0x8000, "unknown", "LINECALLSTATE_UNKNOWN";
    }
}

tapi_enum! {
    /// Why a call exists on a line (`LINECALLREASON_*`, one value per call).
    CallReason ("call reason") {
        /// Placed or received directly.
        Direct = 0x1, "direct", "LINECALLREASON_DIRECT";
        /// Forwarded because the original destination was busy.
        Fwdbusy = 0x2, "fwdbusy", "LINECALLREASON_FWDBUSY";
        /// Forwarded because the original destination did not answer.
        Fwdnoanswer = 0x4, "fwdnoanswer", "LINECALLREASON_FWDNOANSWER";
        /// Forwarded unconditionally.
        Fwdunconditional = 0x8, "fwdunconditional", "LINECALLREASON_FWDUNCOND";
        /// Picked up from another station.
        Pickup = 0x10, "pickup", "LINECALLREASON_PICKUP";
        /// Retrieved from park.
        Unpark = 0x20, "unpark", "LINECALLREASON_UNPARK";
        /// Redirected to this station.
        Redirect = 0x40, "redirect", "LINECALLREASON_REDIRECT";
        /// The result of a call-completion request (the caller's view).
        Callcompletion = 0x80, "callcompletion", "LINECALLREASON_CALLCOMPLETION";
        /// Transferred to this station.
        Transfer = 0x100, "transfer", "LINECALLREASON_TRANSFER";
        /// A reminder of a held or parked call.
        Reminder = 0x200, "reminder", "LINECALLREASON_REMINDER";
        /// The reason is not known.
        Unknown = 0x400, "unknown", "LINECALLREASON_UNKNOWN";
        /// The reason is not available.
        Unavail = 0x800, "unavail", "LINECALLREASON_UNAVAIL";
        /// The call intruded onto this line (the intruded party's view).
        Intrude = 0x1000, "intrude", "LINECALLREASON_INTRUDE";
        /// The call was parked on this address.
        Parked = 0x2000, "parked", "LINECALLREASON_PARKED";
        /// The call was camped on this address (the callee's view of camp-on).
        Campedon = 0x4000, "campedon", "LINECALLREASON_CAMPEDON";
        /// The call arrived as a route request.
        Routerequest = 0x8000, "routerequest", "LINECALLREASON_ROUTEREQUEST";
    }
}

tapi_enum! {
    /// Detail of the `busy` state (`LINEBUSYMODE_*`, the LINE_CALLSTATE mode for `busy`).
    BusyMode ("busy mode") {
        /// The called station is busy.
        Station = 0x1, "station", "LINEBUSYMODE_STATION";
        /// A trunk or circuit is busy.
        Trunk = 0x2, "trunk", "LINEBUSYMODE_TRUNK";
        /// Busy for an unknown reason.
        Unknown = 0x4, "unknown", "LINEBUSYMODE_UNKNOWN";
        /// The kind of busy is not available.
        Unavail = 0x8, "unavail", "LINEBUSYMODE_UNAVAIL";
    }
}

tapi_enum! {
    /// Why a call was disconnected (`LINEDISCONNECTMODE_*`, the mode for `disconnected`).
    DisconnectMode ("disconnect mode") {
        /// The remote party ended the call normally.
        Normal = 0x1, "normal", "LINEDISCONNECTMODE_NORMAL";
        /// The reason is not known.
        Unknown = 0x2, "unknown", "LINEDISCONNECTMODE_UNKNOWN";
        /// The remote party rejected the call.
        Reject = 0x4, "reject", "LINEDISCONNECTMODE_REJECT";
        /// The call was picked up elsewhere.
        Pickup = 0x8, "pickup", "LINEDISCONNECTMODE_PICKUP";
        /// The call was forwarded.
        Forwarded = 0x10, "forwarded", "LINEDISCONNECTMODE_FORWARDED";
        /// The remote party was busy.
        Busy = 0x20, "busy", "LINEDISCONNECTMODE_BUSY";
        /// The remote party did not answer.
        Noanswer = 0x40, "noanswer", "LINEDISCONNECTMODE_NOANSWER";
        /// The destination address is not valid.
        Badaddress = 0x80, "badaddress", "LINEDISCONNECTMODE_BADADDRESS";
        /// The destination could not be reached.
        Unreachable = 0x100, "unreachable", "LINEDISCONNECTMODE_UNREACHABLE";
        /// The network is congested.
        Congestion = 0x200, "congestion", "LINEDISCONNECTMODE_CONGESTION";
        /// The remote equipment is incompatible.
        Incompatible = 0x400, "incompatible", "LINEDISCONNECTMODE_INCOMPATIBLE";
        /// The reason is not available.
        Unavail = 0x800, "unavail", "LINEDISCONNECTMODE_UNAVAIL";
        /// No dial tone was detected.
        Nodialtone = 0x1000, "nodialtone", "LINEDISCONNECTMODE_NODIALTONE";
        /// The destination number has changed.
        Numberchanged = 0x2000, "numberchanged", "LINEDISCONNECTMODE_NUMBERCHANGED";
        /// The destination is out of order.
        Outoforder = 0x4000, "outoforder", "LINEDISCONNECTMODE_OUTOFORDER";
        /// A temporary failure.
        Tempfailure = 0x8000, "tempfailure", "LINEDISCONNECTMODE_TEMPFAILURE";
        /// The requested quality of service is not available.
        Qosunavail = 0x10000, "qosunavail", "LINEDISCONNECTMODE_QOSUNAVAIL";
        /// The call was blocked.
        Blocked = 0x20000, "blocked", "LINEDISCONNECTMODE_BLOCKED";
        /// The destination has do-not-disturb set.
        Donotdisturb = 0x40000, "donotdisturb", "LINEDISCONNECTMODE_DONOTDISTURB";
        /// The call was cancelled.
        Cancelled = 0x80000, "cancelled", "LINEDISCONNECTMODE_CANCELLED";
    }
}

tapi_enum! {
    /// A way to complete a call (`LINECALLCOMPLMODE_*`; a request names exactly one).
    CompletionMode ("completion mode") {
        /// Queue the call until the callee is free; the call stays `busy` meanwhile.
        Campon = 0x1, "campon", "LINECALLCOMPLMODE_CAMPON";
        /// Ring the caller back when the callee is free again.
        Callback = 0x2, "callback", "LINECALLCOMPLMODE_CALLBACK";
        /// Join the callee's current call (barge-in).
        Intrude = 0x4, "intrude", "LINECALLCOMPLMODE_INTRUDE";
        /// Leave a short predefined message for the callee.
        Message = 0x8, "message", "LINECALLCOMPLMODE_MESSAGE";
    }
}

tapi_enum! {
    /// A condition under which a call can be completed (`LINECALLCOMPLCOND_*`).
    ///
    /// `notregistered` is callcomp's extension (CCNL): TAPI defines only busy and no answer, so
    /// it takes the top bit, which `tapi.h` leaves unused.
    CompletionCond ("completion condition") {
        /// The callee was busy (CCBS).
        Busy = 0x1, "busy", "LINECALLCOMPLCOND_BUSY";
        /// The callee rang but did not answer (CCNR).
        Noanswer = 0x2, "noanswer", "LINECALLCOMPLCOND_NOANSWER";
        /// The callee had no registered phone (CCNL, callcomp's extension).
        Notregistered = 0x8000_0000, "notregistered", "LINECALLCOMPLCOND_NOTREGISTERED";
    }
}

impl CompletionMode {
    /// The `LINECALLFEATURE2_COMPL*` bit saying this mode can be requested on a call.
    pub const fn feature2(self) -> u32 {
        match self {
            CompletionMode::Campon => LINECALLFEATURE2_COMPLCAMPON,
            CompletionMode::Callback => LINECALLFEATURE2_COMPLCALLBACK,
            CompletionMode::Intrude => LINECALLFEATURE2_COMPLINTRUDE,
            CompletionMode::Message => LINECALLFEATURE2_COMPLMESSAGE,
        }
    }
}

tapi_enum! {
    /// A part of the call information that changed (`LINECALLINFOSTATE_*`, the LINE_CALLINFO bits).
    CallInfoState ("call info state") {
        /// The call's origin.
        Origin = 0x100, "origin", "LINECALLINFOSTATE_ORIGIN";
        /// The call's reason.
        Reason = 0x200, "reason", "LINECALLINFOSTATE_REASON";
        /// The call's completion identifier.
        Completionid = 0x400, "completionid", "LINECALLINFOSTATE_COMPLETIONID";
        /// The caller's identity.
        Callerid = 0x8000, "callerid", "LINECALLINFOSTATE_CALLERID";
        /// The called party's identity.
        Calledid = 0x10000, "calledid", "LINECALLINFOSTATE_CALLEDID";
        /// The connected party's identity.
        Connectedid = 0x20000, "connectedid", "LINECALLINFOSTATE_CONNECTEDID";
    }
}

/// `LINECALLFEATURE_COMPLETECALL`: `lineCompleteCall` may be invoked on the call.
pub const LINECALLFEATURE_COMPLETECALL: u32 = 0x10;
/// `LINECALLFEATURE2_COMPLCAMPON`: completion by camp-on may be requested.
pub const LINECALLFEATURE2_COMPLCAMPON: u32 = 0x4;
/// `LINECALLFEATURE2_COMPLCALLBACK`: completion by call-back may be requested.
pub const LINECALLFEATURE2_COMPLCALLBACK: u32 = 0x8;
/// `LINECALLFEATURE2_COMPLINTRUDE`: completion by intrusion may be requested.
pub const LINECALLFEATURE2_COMPLINTRUDE: u32 = 0x10;
/// `LINECALLFEATURE2_COMPLMESSAGE`: completion by message may be requested.
pub const LINECALLFEATURE2_COMPLMESSAGE: u32 = 0x20;
/// `LINEADDRFEATURE_UNCOMPLETECALL`: completion requests can be cancelled on the address.
pub const LINEADDRFEATURE_UNCOMPLETECALL: u32 = 0x40;
/// `LINEADDRCAPFLAGS_COMPLETIONID`: completion ids are useful and unique.
pub const LINEADDRCAPFLAGS_COMPLETIONID: u32 = 0x800;
/// `LINEDEVSTATE_INSERVICE`: the line is in service (its phone registered).
pub const LINEDEVSTATE_INSERVICE: u32 = 0x40;
/// `LINEDEVSTATE_OUTOFSERVICE`: the line is out of service (its last binding went).
pub const LINEDEVSTATE_OUTOFSERVICE: u32 = 0x80;
/// `LINEDEVSTATE_NUMCOMPLETIONS`: the number of outstanding completions changed.
pub const LINEDEVSTATE_NUMCOMPLETIONS: u32 = 0x1000;
/// `LINEDEVSTATE_COMPLCANCEL`: the switch cancelled a completion request.
pub const LINEDEVSTATE_COMPLCANCEL: u32 = 0x0080_0000;

/// The LINE_* message numbers (`dwMsg`) of the events the API forwards.
pub mod message {
    /// `LINE_CALLINFO`.
    pub const LINE_CALLINFO: u32 = 1;
    /// `LINE_CALLSTATE`.
    pub const LINE_CALLSTATE: u32 = 2;
    /// `LINE_LINEDEVSTATE`.
    pub const LINE_LINEDEVSTATE: u32 = 8;
    /// `LINE_REPLY`.
    pub const LINE_REPLY: u32 = 12;
    /// `LINE_APPNEWCALL`.
    pub const LINE_APPNEWCALL: u32 = 23;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference §3.3 (LINECALLSTATE_).
    #[test]
    fn call_state_values() {
        let table: &[(CallState, u32, &str, &str)] = &[
            (CallState::Idle, 0x1, "idle", "LINECALLSTATE_IDLE"),
            (
                CallState::Offering,
                0x2,
                "offering",
                "LINECALLSTATE_OFFERING",
            ),
            (
                CallState::Accepted,
                0x4,
                "accepted",
                "LINECALLSTATE_ACCEPTED",
            ),
            (
                CallState::Dialtone,
                0x8,
                "dialtone",
                "LINECALLSTATE_DIALTONE",
            ),
            (CallState::Dialing, 0x10, "dialing", "LINECALLSTATE_DIALING"),
            (
                CallState::Ringback,
                0x20,
                "ringback",
                "LINECALLSTATE_RINGBACK",
            ),
            (CallState::Busy, 0x40, "busy", "LINECALLSTATE_BUSY"),
            (
                CallState::Specialinfo,
                0x80,
                "specialinfo",
                "LINECALLSTATE_SPECIALINFO",
            ),
            (
                CallState::Connected,
                0x100,
                "connected",
                "LINECALLSTATE_CONNECTED",
            ),
            (
                CallState::Proceeding,
                0x200,
                "proceeding",
                "LINECALLSTATE_PROCEEDING",
            ),
            (CallState::Onhold, 0x400, "onhold", "LINECALLSTATE_ONHOLD"),
            (
                CallState::Conferenced,
                0x800,
                "conferenced",
                "LINECALLSTATE_CONFERENCED",
            ),
            (
                CallState::Onholdpendconf,
                0x1000,
                "onholdpendconf",
                "LINECALLSTATE_ONHOLDPENDCONF",
            ),
            (
                CallState::Onholdpendtransfer,
                0x2000,
                "onholdpendtransfer",
                "LINECALLSTATE_ONHOLDPENDTRANSFER",
            ),
            (
                CallState::Disconnected,
                0x4000,
                "disconnected",
                "LINECALLSTATE_DISCONNECTED",
            ),
            (
                CallState::Unknown,
                0x8000,
                "unknown",
                "LINECALLSTATE_UNKNOWN",
            ),
        ];
        assert_eq!(table.len(), CallState::ALL.len());
        for &(state, value, api, tapi) in table {
            assert_eq!(state.value(), value, "{tapi}");
            assert_eq!(state.as_str(), api);
            assert_eq!(state.tapi_name(), tapi);
            assert_eq!(CallState::from_value(value), Some(state));
            assert_eq!(api.parse::<CallState>(), Ok(state));
        }
    }

    /// Reference §3.2 (LINECALLREASON_).
    #[test]
    fn call_reason_values() {
        let table: &[(CallReason, u32, &str, &str)] = &[
            (CallReason::Direct, 0x1, "direct", "LINECALLREASON_DIRECT"),
            (
                CallReason::Fwdbusy,
                0x2,
                "fwdbusy",
                "LINECALLREASON_FWDBUSY",
            ),
            (
                CallReason::Fwdnoanswer,
                0x4,
                "fwdnoanswer",
                "LINECALLREASON_FWDNOANSWER",
            ),
            (
                CallReason::Fwdunconditional,
                0x8,
                "fwdunconditional",
                "LINECALLREASON_FWDUNCOND",
            ),
            (CallReason::Pickup, 0x10, "pickup", "LINECALLREASON_PICKUP"),
            (CallReason::Unpark, 0x20, "unpark", "LINECALLREASON_UNPARK"),
            (
                CallReason::Redirect,
                0x40,
                "redirect",
                "LINECALLREASON_REDIRECT",
            ),
            (
                CallReason::Callcompletion,
                0x80,
                "callcompletion",
                "LINECALLREASON_CALLCOMPLETION",
            ),
            (
                CallReason::Transfer,
                0x100,
                "transfer",
                "LINECALLREASON_TRANSFER",
            ),
            (
                CallReason::Reminder,
                0x200,
                "reminder",
                "LINECALLREASON_REMINDER",
            ),
            (
                CallReason::Unknown,
                0x400,
                "unknown",
                "LINECALLREASON_UNKNOWN",
            ),
            (
                CallReason::Unavail,
                0x800,
                "unavail",
                "LINECALLREASON_UNAVAIL",
            ),
            (
                CallReason::Intrude,
                0x1000,
                "intrude",
                "LINECALLREASON_INTRUDE",
            ),
            (
                CallReason::Parked,
                0x2000,
                "parked",
                "LINECALLREASON_PARKED",
            ),
            (
                CallReason::Campedon,
                0x4000,
                "campedon",
                "LINECALLREASON_CAMPEDON",
            ),
            (
                CallReason::Routerequest,
                0x8000,
                "routerequest",
                "LINECALLREASON_ROUTEREQUEST",
            ),
        ];
        assert_eq!(table.len(), CallReason::ALL.len());
        for &(reason, value, api, tapi) in table {
            assert_eq!(reason.value(), value, "{tapi}");
            assert_eq!(reason.as_str(), api);
            assert_eq!(reason.tapi_name(), tapi);
            assert_eq!(CallReason::from_value(value), Some(reason));
        }
    }

    /// Reference §3.3 (LINEBUSYMODE_) and `tapi.h` (LINEDISCONNECTMODE_).
    #[test]
    fn mode_values() {
        let busy: &[(BusyMode, u32, &str)] = &[
            (BusyMode::Station, 0x1, "LINEBUSYMODE_STATION"),
            (BusyMode::Trunk, 0x2, "LINEBUSYMODE_TRUNK"),
            (BusyMode::Unknown, 0x4, "LINEBUSYMODE_UNKNOWN"),
            (BusyMode::Unavail, 0x8, "LINEBUSYMODE_UNAVAIL"),
        ];
        assert_eq!(busy.len(), BusyMode::ALL.len());
        for &(mode, value, tapi) in busy {
            assert_eq!((mode.value(), mode.tapi_name()), (value, tapi));
        }
        let disconnect: &[(DisconnectMode, u32, &str)] = &[
            (DisconnectMode::Normal, 0x1, "LINEDISCONNECTMODE_NORMAL"),
            (DisconnectMode::Unknown, 0x2, "LINEDISCONNECTMODE_UNKNOWN"),
            (DisconnectMode::Reject, 0x4, "LINEDISCONNECTMODE_REJECT"),
            (DisconnectMode::Pickup, 0x8, "LINEDISCONNECTMODE_PICKUP"),
            (
                DisconnectMode::Forwarded,
                0x10,
                "LINEDISCONNECTMODE_FORWARDED",
            ),
            (DisconnectMode::Busy, 0x20, "LINEDISCONNECTMODE_BUSY"),
            (
                DisconnectMode::Noanswer,
                0x40,
                "LINEDISCONNECTMODE_NOANSWER",
            ),
            (
                DisconnectMode::Badaddress,
                0x80,
                "LINEDISCONNECTMODE_BADADDRESS",
            ),
            (
                DisconnectMode::Unreachable,
                0x100,
                "LINEDISCONNECTMODE_UNREACHABLE",
            ),
            (
                DisconnectMode::Congestion,
                0x200,
                "LINEDISCONNECTMODE_CONGESTION",
            ),
            (
                DisconnectMode::Incompatible,
                0x400,
                "LINEDISCONNECTMODE_INCOMPATIBLE",
            ),
            (DisconnectMode::Unavail, 0x800, "LINEDISCONNECTMODE_UNAVAIL"),
            (
                DisconnectMode::Nodialtone,
                0x1000,
                "LINEDISCONNECTMODE_NODIALTONE",
            ),
            (
                DisconnectMode::Numberchanged,
                0x2000,
                "LINEDISCONNECTMODE_NUMBERCHANGED",
            ),
            (
                DisconnectMode::Outoforder,
                0x4000,
                "LINEDISCONNECTMODE_OUTOFORDER",
            ),
            (
                DisconnectMode::Tempfailure,
                0x8000,
                "LINEDISCONNECTMODE_TEMPFAILURE",
            ),
            (
                DisconnectMode::Qosunavail,
                0x10000,
                "LINEDISCONNECTMODE_QOSUNAVAIL",
            ),
            (
                DisconnectMode::Blocked,
                0x20000,
                "LINEDISCONNECTMODE_BLOCKED",
            ),
            (
                DisconnectMode::Donotdisturb,
                0x40000,
                "LINEDISCONNECTMODE_DONOTDISTURB",
            ),
            (
                DisconnectMode::Cancelled,
                0x80000,
                "LINEDISCONNECTMODE_CANCELLED",
            ),
        ];
        assert_eq!(disconnect.len(), DisconnectMode::ALL.len());
        for &(mode, value, tapi) in disconnect {
            assert_eq!((mode.value(), mode.tapi_name()), (value, tapi));
        }
    }

    /// Reference §3.1 and §3.4 (completion modes and their feature bits).
    #[test]
    fn completion_mode_values_and_features() {
        let table: &[(CompletionMode, u32, u32, &str)] = &[
            (CompletionMode::Campon, 0x1, 0x4, "campon"),
            (CompletionMode::Callback, 0x2, 0x8, "callback"),
            (CompletionMode::Intrude, 0x4, 0x10, "intrude"),
            (CompletionMode::Message, 0x8, 0x20, "message"),
        ];
        assert_eq!(table.len(), CompletionMode::ALL.len());
        for &(mode, value, feature2, api) in table {
            assert_eq!(mode.value(), value);
            assert_eq!(mode.feature2(), feature2);
            assert_eq!(mode.as_str(), api);
        }
        assert_eq!(LINECALLFEATURE_COMPLETECALL, 0x10);
        assert_eq!(LINEADDRFEATURE_UNCOMPLETECALL, 0x40);
        assert_eq!(LINEADDRCAPFLAGS_COMPLETIONID, 0x800);
        assert_eq!(LINEDEVSTATE_INSERVICE, 0x40);
        assert_eq!(LINEDEVSTATE_OUTOFSERVICE, 0x80);
        assert_eq!(LINEDEVSTATE_NUMCOMPLETIONS, 0x1000);
        assert_eq!(LINEDEVSTATE_COMPLCANCEL, 0x0080_0000);
        assert_eq!(CallInfoState::Reason.value(), 0x200);
        assert_eq!(CallInfoState::Completionid.value(), 0x400);
        assert_eq!(
            (
                message::LINE_CALLINFO,
                message::LINE_CALLSTATE,
                message::LINE_APPNEWCALL
            ),
            (1, 2, 23)
        );
    }

    #[test]
    fn names_round_trip_through_serde_and_reject_unknown() {
        for state in CallState::ALL {
            let json = serde_json::to_string(state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
            assert_eq!(serde_json::from_str::<CallState>(&json).unwrap(), *state);
        }
        let err = "Busy".parse::<CallState>().unwrap_err();
        assert_eq!(err.name, "Busy");
        assert!(serde_json::from_str::<CallReason>("\"nonsense\"").is_err());
        assert_eq!(CallState::from_value(0x3), None, "a bit set is not a state");
    }
}
