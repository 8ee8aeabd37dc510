//! Generic `;name=value` parameter lists (RFC 3261 §25.1 `generic-param`, `uri-parameter`).
//!
//! Parameters keep their order and their spelling, so an untouched list writes back the way
//! it was read; names compare case-insensitively. A value is kept as written, quotes included,
//! because a quoted value and a token value are different things on the wire.

use std::fmt;

use crate::text;

/// One parameter: a name and an optional value (`;lr` has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The name as written.
    pub name: String,
    /// The value as written (with its quotes, if it was a quoted string).
    pub value: Option<String>,
}

/// An ordered list of parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params(Vec<Param>);

/// Why a parameter list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// A `;` followed by nothing, or by another `;`.
    #[error("empty parameter")]
    Empty,
    /// A name with characters outside `token`.
    #[error("invalid parameter name {0:?}")]
    InvalidName(String),
    /// A value that is neither a token, a host nor a quoted string.
    #[error("invalid value for parameter {0:?}")]
    InvalidValue(String),
}

impl Params {
    /// An empty list.
    pub fn new() -> Params {
        Params(Vec::new())
    }

    /// Parses header parameters `;a=b;c;d="x y"` (the leading `;` is required when `s` is
    /// not empty). A value is a quoted string, or `token`, host and IPv6-reference characters.
    pub fn parse_header_params(s: &str) -> Result<Params, ParamsError> {
        let s = text::trim_wsp(s);
        let mut params = Params::new();
        if s.is_empty() {
            return Ok(params);
        }
        let Some(rest) = s.strip_prefix(';') else {
            return Err(ParamsError::InvalidName(s.to_string()));
        };
        // Split at ';' outside quoted strings.
        for item in text::split_top_level(rest, b';') {
            if item.is_empty() {
                return Err(ParamsError::Empty);
            }
            let (name, value) = match item.find('=') {
                Some(eq) => (
                    text::trim_wsp(&item[..eq]),
                    Some(text::trim_wsp(&item[eq + 1..])),
                ),
                None => (item, None),
            };
            if !text::is_token(name) {
                return Err(ParamsError::InvalidName(name.to_string()));
            }
            if let Some(value) = value {
                let valid = if value.starts_with('"') {
                    matches!(text::read_quoted(value), Some((_, "")))
                } else {
                    !value.is_empty()
                        && value
                            .bytes()
                            .all(|b| text::is_token_char(b) || matches!(b, b'[' | b']' | b':'))
                };
                if !valid {
                    return Err(ParamsError::InvalidValue(name.to_string()));
                }
            }
            params.0.push(Param {
                name: name.to_string(),
                value: value.map(str::to_string),
            });
        }
        Ok(params)
    }

    /// Appends a parameter from already validated parts.
    pub fn push(&mut self, name: impl Into<String>, value: Option<String>) {
        self.0.push(Param {
            name: name.into(),
            value,
        });
    }

    /// The parameter with that name, if present.
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.0.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// True when a parameter with that name is present, with or without a value.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The value of a parameter as written (quotes kept); `None` when absent or value-less.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|p| p.value.as_deref())
    }

    /// The value with the quotes of a quoted string removed and its escapes resolved.
    pub fn unquoted(&self, name: &str) -> Option<String> {
        let value = self.value(name)?;
        if value.starts_with('"') {
            text::read_quoted(value).map(|(s, _)| s)
        } else {
            Some(value.to_string())
        }
    }

    /// Sets a parameter, replacing the value of an existing one in place.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match self
            .0
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            Some(p) => p.value = value,
            None => self.push(name, value),
        }
    }

    /// Removes every parameter with that name; returns whether one was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|p| !p.name.eq_ignore_ascii_case(name));
        before != self.0.len()
    }

    /// The parameters in order.
    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.0.iter()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Params {
    /// Writes `;name=value` for each parameter, as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            f.write_str(";")?;
            f.write_str(&p.name)?;
            if let Some(v) = &p.value {
                f.write_str("=")?;
                f.write_str(v)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_writes_back() {
        let p = Params::parse_header_params(
            ";branch=z9hG4bK1;rport;received=[2001:db8::9:255];x=\"a;b\"",
        )
        .unwrap();
        assert_eq!(p.value("BRANCH"), Some("z9hG4bK1"));
        assert!(p.contains("rport"));
        assert_eq!(p.value("rport"), None);
        assert_eq!(p.value("received"), Some("[2001:db8::9:255]"));
        assert_eq!(p.unquoted("x").as_deref(), Some("a;b"));
        assert_eq!(
            p.to_string(),
            ";branch=z9hG4bK1;rport;received=[2001:db8::9:255];x=\"a;b\""
        );
    }

    #[test]
    fn rejects_empty_and_bad_params() {
        assert_eq!(Params::parse_header_params(";;"), Err(ParamsError::Empty));
        assert_eq!(Params::parse_header_params(";a;"), Err(ParamsError::Empty));
        assert!(Params::parse_header_params(";a=\"open").is_err());
        assert!(Params::parse_header_params(";a b=1").is_err());
        assert!(Params::parse_header_params("a=1").is_err());
    }

    #[test]
    fn set_and_remove_keep_order() {
        let mut p = Params::parse_header_params(";a=1;b;c=3").unwrap();
        p.set("B", Some("2".into()));
        p.set("d", None);
        assert!(p.remove("a"));
        assert!(!p.remove("zz"));
        assert_eq!(p.to_string(), ";b=2;c=3;d");
    }
}
