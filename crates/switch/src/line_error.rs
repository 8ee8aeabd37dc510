//! TAPI line errors (`LINEERR_*`): the typed failures of API operations.
//!
//! Codes follow `tapi.h` as listed in `reference/tapi-call-completion.md` §3.6. TAPI functions
//! return them as a negative LONG, so [`LineErr::value`] is an `i32`; DESIGN §2.1 and §4 send
//! the name and that number to applications.

/// A TAPI line error (`LINEERR_*`), the typed failure of an API operation.
///
/// The API answers with `{"error": name(), "code": value(), "message": to_string()}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum LineErr {
    /// The line already has the maximum number of outstanding completions.
    #[error("the maximum number of outstanding call completions has been reached")]
    CompletionOverrun,
    /// The completion mode is not exactly one mode the address offers.
    #[error("the completion mode is invalid or not offered")]
    InvalCallComplMode,
    /// No such call.
    #[error("the call handle is not valid")]
    InvalCallHandle,
    /// The call is not in a state that allows the operation.
    #[error("the call is not in a valid state for this operation")]
    InvalCallState,
    /// The completion id is not outstanding on the line.
    #[error("the completion identifier is not valid")]
    InvalCompletionId,
    /// No such line.
    #[error("the line handle is not valid")]
    InvalLineHandle,
    /// The message id is outside the address's list of completion messages.
    #[error("the message identifier is outside the list of completion messages")]
    InvalMessageId,
    /// A required output is missing.
    #[error("a pointer or required output parameter is invalid")]
    InvalPointer,
    /// Not enough memory.
    #[error("not enough memory")]
    NoMem,
    /// The requester does not own the call.
    #[error("the requester does not own the call")]
    NotOwner,
    /// The operation failed for an unspecified reason.
    #[error("the operation failed")]
    OperationFailed,
    /// The operation is not available on this line or address.
    #[error("the operation is not available here")]
    OperationUnavail,
    /// A resource (such as a queue slot) is exhausted.
    #[error("a required resource is not available")]
    ResourceUnavail,
    /// A structure given was too small.
    #[error("the structure is too small")]
    StructureTooSmall,
    /// The service was used before it was initialised.
    #[error("the service is not initialised")]
    Uninitialized,
}

impl LineErr {
    /// Every line error, in ascending order of code.
    pub const ALL: &'static [LineErr] = &[
        LineErr::CompletionOverrun,
        LineErr::InvalCallComplMode,
        LineErr::InvalCallHandle,
        LineErr::InvalCallState,
        LineErr::InvalCompletionId,
        LineErr::InvalLineHandle,
        LineErr::InvalMessageId,
        LineErr::InvalPointer,
        LineErr::NoMem,
        LineErr::NotOwner,
        LineErr::OperationFailed,
        LineErr::OperationUnavail,
        LineErr::ResourceUnavail,
        LineErr::StructureTooSmall,
        LineErr::Uninitialized,
    ];

    /// The TAPI constant name, e.g. `LINEERR_INVALCALLSTATE`.
    pub const fn name(self) -> &'static str {
        match self {
            LineErr::CompletionOverrun => "LINEERR_COMPLETIONOVERRUN",
            LineErr::InvalCallComplMode => "LINEERR_INVALCALLCOMPLMODE",
            LineErr::InvalCallHandle => "LINEERR_INVALCALLHANDLE",
            LineErr::InvalCallState => "LINEERR_INVALCALLSTATE",
            LineErr::InvalCompletionId => "LINEERR_INVALCOMPLETIONID",
            LineErr::InvalLineHandle => "LINEERR_INVALLINEHANDLE",
            LineErr::InvalMessageId => "LINEERR_INVALMESSAGEID",
            LineErr::InvalPointer => "LINEERR_INVALPOINTER",
            LineErr::NoMem => "LINEERR_NOMEM",
            LineErr::NotOwner => "LINEERR_NOTOWNER",
            LineErr::OperationFailed => "LINEERR_OPERATIONFAILED",
            LineErr::OperationUnavail => "LINEERR_OPERATIONUNAVAIL",
            LineErr::ResourceUnavail => "LINEERR_RESOURCEUNAVAIL",
            LineErr::StructureTooSmall => "LINEERR_STRUCTURETOOSMALL",
            LineErr::Uninitialized => "LINEERR_UNINITIALIZED",
        }
    }

    /// The code as TAPI returns it: a negative `i32` (the `0x8000_00xx` DWORD reinterpreted).
    pub const fn value(self) -> i32 {
        // The cast reinterprets the header's DWORD as the LONG that TAPI functions return.
        self.code() as i32
    }

    /// The code as the unsigned `0x8000_00xx` DWORD from `tapi.h`.
    pub const fn code(self) -> u32 {
        match self {
            LineErr::CompletionOverrun => 0x8000_0006,
            LineErr::InvalCallComplMode => 0x8000_0017,
            LineErr::InvalCallHandle => 0x8000_0018,
            LineErr::InvalCallState => 0x8000_001C,
            LineErr::InvalCompletionId => 0x8000_001F,
            LineErr::InvalLineHandle => 0x8000_002B,
            LineErr::InvalMessageId => 0x8000_0030,
            LineErr::InvalPointer => 0x8000_0035,
            LineErr::NoMem => 0x8000_0044,
            LineErr::NotOwner => 0x8000_0046,
            LineErr::OperationFailed => 0x8000_0048,
            LineErr::OperationUnavail => 0x8000_0049,
            LineErr::ResourceUnavail => 0x8000_004B,
            LineErr::StructureTooSmall => 0x8000_004D,
            LineErr::Uninitialized => 0x8000_0050,
        }
    }

    /// The error with this code, if it is one the switch knows.
    pub fn from_value(value: i32) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.value() == value)
    }

    /// The error with this TAPI name (`LINEERR_…`), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference §3.6: every code, in hex and as the decimal i32 the API reports.
    #[test]
    fn line_error_values() {
        let table: &[(LineErr, &str, u32, i32)] = &[
            (
                LineErr::CompletionOverrun,
                "LINEERR_COMPLETIONOVERRUN",
                0x80000006,
                -2147483642,
            ),
            (
                LineErr::InvalCallComplMode,
                "LINEERR_INVALCALLCOMPLMODE",
                0x80000017,
                -2147483625,
            ),
            (
                LineErr::InvalCallHandle,
                "LINEERR_INVALCALLHANDLE",
                0x80000018,
                -2147483624,
            ),
            (
                LineErr::InvalCallState,
                "LINEERR_INVALCALLSTATE",
                0x8000001C,
                -2147483620,
            ),
            (
                LineErr::InvalCompletionId,
                "LINEERR_INVALCOMPLETIONID",
                0x8000001F,
                -2147483617,
            ),
            (
                LineErr::InvalLineHandle,
                "LINEERR_INVALLINEHANDLE",
                0x8000002B,
                -2147483605,
            ),
            (
                LineErr::InvalMessageId,
                "LINEERR_INVALMESSAGEID",
                0x80000030,
                -2147483600,
            ),
            (
                LineErr::InvalPointer,
                "LINEERR_INVALPOINTER",
                0x80000035,
                -2147483595,
            ),
            (LineErr::NoMem, "LINEERR_NOMEM", 0x80000044, -2147483580),
            (
                LineErr::NotOwner,
                "LINEERR_NOTOWNER",
                0x80000046,
                -2147483578,
            ),
            (
                LineErr::OperationFailed,
                "LINEERR_OPERATIONFAILED",
                0x80000048,
                -2147483576,
            ),
            (
                LineErr::OperationUnavail,
                "LINEERR_OPERATIONUNAVAIL",
                0x80000049,
                -2147483575,
            ),
            (
                LineErr::ResourceUnavail,
                "LINEERR_RESOURCEUNAVAIL",
                0x8000004B,
                -2147483573,
            ),
            (
                LineErr::StructureTooSmall,
                "LINEERR_STRUCTURETOOSMALL",
                0x8000004D,
                -2147483571,
            ),
            (
                LineErr::Uninitialized,
                "LINEERR_UNINITIALIZED",
                0x80000050,
                -2147483568,
            ),
        ];
        assert_eq!(table.len(), LineErr::ALL.len());
        for &(err, name, code, value) in table {
            assert_eq!(err.name(), name);
            assert_eq!(err.code(), code, "{name}");
            assert_eq!(err.value(), value, "{name}");
            assert_eq!(LineErr::from_value(value), Some(err));
            assert_eq!(LineErr::from_name(name), Some(err));
            assert!(!err.to_string().is_empty());
        }
        assert_eq!(LineErr::from_value(0), None);
    }
}
