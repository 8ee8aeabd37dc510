//! `Event` and `Allow-Events` (RFC 6665 §8.2.1 and §8.2.2): which event package a
//! SUBSCRIBE or NOTIFY is about, and which packages an element supports.
//!
//! `event-type = event-package *( "." event-template )`, each part a `token-nodot`. The
//! event type and the `id` parameter compare byte for byte (RFC 6665 §8.2.1), so both are
//! kept exactly as written; other parameters play no part in matching.

use crate::header_name::HeaderName;
use crate::headers::{Header, HeaderError};
use crate::params::Params;
use crate::text;
use std::fmt::Write as _;

/// An `Event` value: `call-completion`, `presence.winfo;id=4`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event package (`call-completion`).
    pub package: String,
    /// The event templates after the package, in order (`winfo` in `presence.winfo`).
    pub template: Vec<String>,
    /// The parameters, `id` included.
    pub params: Params,
}

/// One `Allow-Events` element: an event type the sender accepts subscriptions for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AllowEvents {
    /// The event package.
    pub package: String,
    /// The event templates after the package, in order.
    pub template: Vec<String>,
}

impl Event {
    /// An `Event` for a package with no template and no parameters. `package` must be a
    /// `token-nodot` for the result to be valid on the wire.
    pub fn new(package: &str) -> Event {
        Event {
            package: package.to_string(),
            template: Vec::new(),
            params: Params::new(),
        }
    }

    /// The `id` parameter, which tells apart several subscriptions in one dialog.
    pub fn id(&self) -> Option<&str> {
        self.params.value("id")
    }

    /// Sets the `id` parameter (a token).
    pub fn set_id(&mut self, id: &str) {
        self.params.set("id", Some(id.to_string()));
    }

    /// The full event type, package and templates joined by `.`.
    pub fn event_type(&self) -> String {
        join_type(&self.package, &self.template)
    }

    /// True when both name the same subscription per RFC 6665 §8.2.1: equal event types
    /// and equal `id` parameters (or both without one), compared byte for byte.
    pub fn matches(&self, other: &Event) -> bool {
        self.package == other.package && self.template == other.template && self.id() == other.id()
    }
}

impl Header for Event {
    const NAME: HeaderName = HeaderName::Event;

    /// Parses `event-type *( ";" event-param )`; an `id` must carry a token value.
    fn parse(value: &str) -> Result<Event, HeaderError> {
        let value = text::trim_wsp(value);
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        let (ty, rest) = value.split_at(value.find(';').unwrap_or(value.len()));
        let (package, template) = parse_type(text::trim_wsp(ty))?;
        let params = Params::parse_header_params(rest)?;
        if let Some(p) = params.get("id") {
            if !p.value.as_deref().is_some_and(text::is_token) {
                return Err(HeaderError::Syntax("Event id must be a token"));
            }
        }
        Ok(Event {
            package,
            template,
            params,
        })
    }

    fn write(&self, out: &mut String) {
        out.push_str(&self.event_type());
        let _ = write!(out, "{}", self.params);
    }
}

impl AllowEvents {
    /// An element for a package with no template.
    pub fn new(package: &str) -> AllowEvents {
        AllowEvents {
            package: package.to_string(),
            template: Vec::new(),
        }
    }

    /// The full event type, package and templates joined by `.`.
    pub fn event_type(&self) -> String {
        join_type(&self.package, &self.template)
    }
}

impl Header for AllowEvents {
    const NAME: HeaderName = HeaderName::AllowEvents;
    const LIST: bool = true;

    fn parse(value: &str) -> Result<AllowEvents, HeaderError> {
        let value = text::trim_wsp(value);
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        let (package, template) = parse_type(value)?;
        Ok(AllowEvents { package, template })
    }

    fn write(&self, out: &mut String) {
        out.push_str(&self.event_type());
    }
}

/// Splits an `event-type` into its package and templates.
fn parse_type(s: &str) -> Result<(String, Vec<String>), HeaderError> {
    let mut parts = s.split('.').map(|part| {
        if !part.is_empty() && part.bytes().all(text::is_token_char) {
            Ok(part.to_string())
        } else {
            Err(HeaderError::Syntax(
                "event type must be token-nodot parts joined by dots (RFC 6665 §8.2.1)",
            ))
        }
    });
    // `split` yields at least one item, so the fallback is never taken.
    let package = parts.next().unwrap_or(Err(HeaderError::Empty))?;
    let template = parts.collect::<Result<Vec<_>, _>>()?;
    Ok((package, template))
}

fn join_type(package: &str, template: &[String]) -> String {
    let mut s = package.to_string();
    for t in template {
        s.push('.');
        s.push_str(t);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAD_TYPE: HeaderError = HeaderError::Syntax(
        "event type must be token-nodot parts joined by dots (RFC 6665 §8.2.1)",
    );

    #[test]
    fn good_events() {
        type Row<'a> = (&'a str, &'a str, &'a [&'a str], Option<&'a str>, &'a str);
        let rows: [Row; 5] = [
            (
                "call-completion",
                "call-completion",
                &[],
                None,
                "call-completion",
            ),
            (
                "presence.winfo",
                "presence",
                &["winfo"],
                None,
                "presence.winfo",
            ),
            (
                "dialog ; id=42 ; x",
                "dialog",
                &[],
                Some("42"),
                "dialog;id=42;x",
            ),
            ("a.b.c;ID=z9", "a", &["b", "c"], Some("z9"), "a.b.c;ID=z9"),
            (
                "refer;id=93809824",
                "refer",
                &[],
                Some("93809824"),
                "refer;id=93809824",
            ),
        ];
        for (input, package, template, id, wire) in rows {
            let e = Event::parse(input).unwrap();
            assert_eq!(e.package, package, "{input:?}");
            assert_eq!(e.template, template, "{input:?}");
            assert_eq!(e.id(), id, "{input:?}");
            assert_eq!(e.to_value(), wire);
            assert_eq!(Event::parse(&e.to_value()).unwrap(), e);
        }
    }

    #[test]
    fn bad_events() {
        let rows = [
            ("", HeaderError::Empty),
            (".x", BAD_TYPE),
            ("x.", BAD_TYPE),
            ("a..b", BAD_TYPE),
            ("a b", BAD_TYPE),
            ("a,b", BAD_TYPE),
            ("dialog;id", HeaderError::Syntax("Event id must be a token")),
            (
                "dialog;id=\"q\"",
                HeaderError::Syntax("Event id must be a token"),
            ),
        ];
        for (input, err) in rows {
            assert_eq!(Event::parse(input), Err(err), "{input:?}");
        }
        assert!(matches!(
            Event::parse("dialog;;"),
            Err(HeaderError::Params(_))
        ));
    }

    #[test]
    fn matching_follows_rfc_6665() {
        let e = |s| Event::parse(s).unwrap();
        // RFC 6665 §8.2.1: other parameters do not count; case and id do.
        assert!(e("foo;id=1234").matches(&e("foo;param=abcd;id=1234")));
        assert!(!e("foo;id=1234").matches(&e("Foo;id=1234")));
        assert!(!e("foo;id=1234").matches(&e("foo")));
        assert!(!e("foo;id=1234").matches(&e("foo;id=1235")));
        assert!(e("foo").matches(&e("foo;x=1")));
        let mut built = Event::new("call-completion");
        built.set_id("7");
        assert_eq!(built.to_value(), "call-completion;id=7");
    }

    #[test]
    fn allow_events() {
        let a = AllowEvents::parse(" presence.winfo ").unwrap();
        assert_eq!(
            (a.package.as_str(), a.template.clone()),
            ("presence", vec!["winfo".to_string()])
        );
        assert_eq!(AllowEvents::parse(&a.to_value()), Ok(a));
        assert_eq!(
            AllowEvents::new("call-completion").to_value(),
            "call-completion"
        );
        assert_eq!(AllowEvents::parse(""), Err(HeaderError::Empty));
        assert_eq!(AllowEvents::parse("dialog;id=1"), Err(BAD_TYPE));
        assert_eq!(AllowEvents::parse("a b"), Err(BAD_TYPE));
    }
}
