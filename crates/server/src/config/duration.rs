//! Durations as the configuration file writes them: `"20s"`, `"5m"`, `"1h30m"`, `"1500ms"`.
//!
//! A duration is one or more `<digits><unit>` groups with no spaces, units `ms`, `s`, `m`, `h`
//! and `d`, largest first is customary but not required. A bare number is refused on purpose:
//! `30` could mean seconds or milliseconds, and a unit in the file removes the doubt.

use std::fmt;
use std::time::Duration;

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// The string was empty.
    Empty,
    /// A group had digits but no unit, as in `"30"`.
    MissingUnit {
        /// The digits that lacked a unit.
        number: String,
    },
    /// A group had a unit this parser does not know, as in `"30x"`.
    UnknownUnit {
        /// The unit as written.
        unit: String,
    },
    /// A unit appeared without digits before it, or a character that is neither.
    Malformed {
        /// Byte offset of the offending character.
        at: usize,
    },
    /// The total does not fit in a `Duration` of milliseconds held in a `u64`.
    Overflow,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HINT: &str = "write a number with a unit, e.g. \"30s\", \"5m\" or \"1h30m\" \
                            (units: ms, s, m, h, d)";
        match self {
            DurationError::Empty => write!(f, "empty duration; {HINT}"),
            DurationError::MissingUnit { number } => {
                write!(f, "\"{number}\" has no unit; {HINT}")
            }
            DurationError::UnknownUnit { unit } => write!(f, "unknown unit \"{unit}\"; {HINT}"),
            DurationError::Malformed { at } => {
                write!(f, "unexpected character at position {}; {HINT}", at + 1)
            }
            DurationError::Overflow => write!(f, "duration too large"),
        }
    }
}

impl std::error::Error for DurationError {}

/// Parses a duration such as `"20s"`, `"5m"`, `"1h30m"` or `"1500ms"`.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let bytes = s.as_bytes();
    let mut total_ms: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(DurationError::Malformed { at: i });
        }
        let number = &s[start..i];
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[unit_start..i];
        if unit.is_empty() {
            if i < bytes.len() {
                return Err(DurationError::Malformed { at: i });
            }
            return Err(DurationError::MissingUnit {
                number: number.to_owned(),
            });
        }
        let per_unit: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => {
                return Err(DurationError::UnknownUnit {
                    unit: unit.to_owned(),
                })
            }
        };
        let value: u64 = number.parse().map_err(|_| DurationError::Overflow)?;
        total_ms = value
            .checked_mul(per_unit)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or(DurationError::Overflow)?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Writes a duration in the form [`parse_duration`] reads, largest units first (`"1h30m"`).
/// Sub-millisecond parts are dropped; zero is `"0s"`.
pub fn format_duration(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, per) in [
        ("d", 86_400_000u64),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        let n = ms / per;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
            ms -= n * per;
        }
    }
    out
}

/// Serde adapter: `#[serde(with = "crate::config::duration::serde_text")]` on a `Duration`.
pub mod serde_text {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    /// Reads a duration string, refusing numbers without a unit with a message saying so.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(DurationVisitor)
    }

    /// Writes the duration as [`super::format_duration`] does.
    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration(*value))
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration string such as \"30s\" or \"5m\"")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            super::parse_duration(v).map_err(|e| E::custom(format!("invalid duration: {e}")))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
            Err(E::custom(format!(
                "a duration needs a unit: write \"{v}s\" for seconds, or \"{v}ms\", \"{v}m\"..."
            )))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
            Err(E::custom(format!(
                "a duration needs a unit: write \"{v}s\" for seconds, or \"{v}ms\", \"{v}m\"..."
            )))
        }
    }

    /// Same as the parent module, for `Option<Duration>` fields.
    pub mod option {
        use std::time::Duration;

        use serde::{Deserializer, Serializer};

        /// Reads a duration string when the key is present.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            super::deserialize(d).map(Some)
        }

        /// Writes the duration when set.
        pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match value {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        let table: &[(&str, u64)] = &[
            ("0s", 0),
            ("1500ms", 1_500),
            ("20s", 20_000),
            ("5m", 300_000),
            ("1h", 3_600_000),
            ("1h30m", 5_400_000),
            ("2d", 172_800_000),
            ("1m30s250ms", 90_250),
        ];
        for (text, ms) in table {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(*ms)),
                "{text}"
            );
        }
    }

    #[test]
    fn refused_forms() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(
            parse_duration("30"),
            Err(DurationError::MissingUnit {
                number: "30".into()
            })
        );
        assert_eq!(
            parse_duration("30x"),
            Err(DurationError::UnknownUnit { unit: "x".into() })
        );
        assert_eq!(
            parse_duration("30sec"),
            Err(DurationError::UnknownUnit { unit: "sec".into() })
        );
        assert_eq!(parse_duration("s"), Err(DurationError::Malformed { at: 0 }));
        assert_eq!(
            parse_duration("1 s"),
            Err(DurationError::Malformed { at: 1 })
        );
        assert_eq!(
            parse_duration("-1s"),
            Err(DurationError::Malformed { at: 0 })
        );
        assert_eq!(
            parse_duration("99999999999999999999d"),
            Err(DurationError::Overflow)
        );
        assert_eq!(
            parse_duration("999999999999999d"),
            Err(DurationError::Overflow)
        );
    }

    #[test]
    fn format_round_trips() {
        for text in ["0s", "20s", "5m", "1h30m", "2d", "1m30s250ms"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
        }
        assert_eq!(format_duration(Duration::from_millis(1_500)), "1s500ms");
    }
}
