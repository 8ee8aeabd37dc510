//! Property tests for the RFC 6910 bodies: written bodies read back to the same value, the
//! writers never produce something their parser refuses, and no input makes a parser panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use callcomp_sip::body::{Basic, BodyError, CallCompletion, CcState, Pidf, Tuple};
use proptest::prelude::*;

fn cc_state() -> impl Strategy<Value = CcState> {
    prop_oneof![
        Just(CcState::Queued),
        Just(CcState::Ready),
        "[a-z][a-z0-9.!%*_+`'~-]{0,12}"
            .prop_filter("not a defined state", |s| s != "queued" && s != "ready")
            .prop_map(CcState::Other),
    ]
}

/// A value as the parser returns it: trimmed, without line breaks.
fn line_value() -> impl Strategy<Value = String> {
    "([!-~\u{a0}-\u{2ff}]([ \t!-~\u{a0}-\u{2ff}]{0,20}[!-~\u{a0}-\u{2ff}])?)?"
}

fn valid_doc() -> impl Strategy<Value = CallCompletion> {
    (
        proptest::option::of(cc_state()),
        any::<bool>(),
        proptest::option::of(
            "(sip|sips|tel):[a-z0-9]{1,8}(@[a-z]{1,8}\\.com)?(;[a-z]{1,4}=[a-z0-9]{1,4}){0,2}",
        ),
        proptest::collection::vec(("x-[a-z0-9-]{0,10}", line_value()), 0..4),
    )
        .prop_map(|(state, service_retention, uri, mut extensions)| {
            extensions.dedup_by(|a, b| a.0 == b.0);
            CallCompletion {
                state,
                service_retention,
                uri,
                extensions,
            }
        })
}

/// Any document at all, including values the writer has to clean or leave out.
fn any_doc() -> impl Strategy<Value = CallCompletion> {
    (
        proptest::option::of(prop_oneof![
            Just(CcState::Queued),
            Just(CcState::Ready),
            any::<String>().prop_map(CcState::Other),
        ]),
        any::<bool>(),
        proptest::option::of(any::<String>()),
        proptest::collection::vec((any::<String>(), any::<String>()), 0..4),
    )
        .prop_map(
            |(state, service_retention, uri, extensions)| CallCompletion {
                state,
                service_retention,
                uri,
                extensions,
            },
        )
}

/// Bodies built line by line from the §10 shapes, in random case, line ends and folding.
fn cc_text() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("cc-state"),
        Just("CC-State"),
        Just("cc-service-retention"),
        Just("cc-URI"),
        Just("uri"),
        Just("x-other"),
        Just("X-Other-2"),
    ];
    let value = prop_oneof![
        Just("queued".to_string()),
        Just("READY".to_string()),
        Just("true".to_string()),
        Just("sip:cc@example.com".to_string()),
        line_value(),
    ];
    let eol = prop_oneof![Just("\r\n"), Just("\n"), Just("\r")];
    let fold = prop_oneof![Just(""), Just("\r\n  more"), Just("\n\tx")];
    proptest::collection::vec((name, value, fold, eol), 0..6).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(n, v, f, e)| format!("{n}: {v}{f}{e}"))
            .collect()
    })
}

/// PIDF text without surrounding white space (the parser trims `<contact>`).
fn xml_text() -> impl Strategy<Value = String> {
    "([!-~\u{a0}-\u{d7ff}]([ \t\n!-~\u{a0}-\u{d7ff}]{0,16}[!-~\u{a0}-\u{d7ff}])?)?"
}

fn valid_pidf() -> impl Strategy<Value = Pidf> {
    let tuple = (
        "[ -~\t\r\n\u{a0}-\u{d7ff}]{0,10}",
        proptest::option::of(prop_oneof![Just(Basic::Open), Just(Basic::Closed)]),
        proptest::option::of(xml_text()),
    )
        .prop_map(|(id, basic, contact)| Tuple { id, basic, contact });
    (
        "[ -~\t\r\n\u{a0}-\u{d7ff}]{0,24}",
        proptest::collection::vec(tuple, 0..4),
    )
        .prop_map(|(entity, tuples)| Pidf { entity, tuples })
}

fn any_pidf() -> impl Strategy<Value = Pidf> {
    let tuple = (
        any::<String>(),
        proptest::option::of(prop_oneof![Just(Basic::Open), Just(Basic::Closed)]),
        proptest::option::of(any::<String>()),
    )
        .prop_map(|(id, basic, contact)| Tuple { id, basic, contact });
    (any::<String>(), proptest::collection::vec(tuple, 0..3))
        .prop_map(|(entity, tuples)| Pidf { entity, tuples })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn call_completion_round_trips(doc in valid_doc()) {
        let bytes = doc.to_bytes();
        prop_assert_eq!(CallCompletion::parse(&bytes), Ok(doc));
    }

    #[test]
    fn call_completion_output_always_parses(doc in any_doc()) {
        let bytes = doc.to_bytes();
        let back = CallCompletion::parse(&bytes);
        prop_assert!(back.is_ok(), "{:?} -> {:?}", String::from_utf8_lossy(&bytes), back);
        // Writing what was read gives the same bytes: the canonical form is stable.
        prop_assert_eq!(back.unwrap().to_bytes(), bytes);
    }

    #[test]
    fn call_completion_text_is_stable(text in cc_text()) {
        if let Ok(doc) = CallCompletion::parse(text.as_bytes()) {
            prop_assert_eq!(CallCompletion::parse(&doc.to_bytes()), Ok(doc));
        }
    }

    #[test]
    fn call_completion_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = CallCompletion::parse(&bytes);
    }

    #[test]
    fn pidf_round_trips(doc in valid_pidf()) {
        let bytes = doc.to_bytes();
        prop_assert_eq!(Pidf::parse(&bytes), Ok(doc));
    }

    #[test]
    fn pidf_output_always_parses(doc in any_pidf()) {
        let bytes = doc.to_bytes();
        let back = Pidf::parse(&bytes);
        prop_assert!(back.is_ok(), "{:?} -> {:?}", String::from_utf8_lossy(&bytes), back);
        prop_assert_eq!(back.unwrap().tuples.len(), doc.tuples.len());
    }

    #[test]
    fn pidf_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Pidf::parse(&bytes);
    }

    #[test]
    fn pidf_mutations_never_panic(
        doc in valid_pidf(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut bytes = doc.to_bytes();
        for (at, byte, kind) in edits {
            let i = at.index(bytes.len() + 1);
            match kind {
                0 if i < bytes.len() => bytes[i] = byte,
                1 if i < bytes.len() => { bytes.remove(i); }
                _ => bytes.insert(i, byte),
            }
        }
        match Pidf::parse(&bytes) {
            Ok(_) => {}
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn pidf_markup_soup_never_panics() {
    // Fragments that exercise the reader's corners, glued together in many orders.
    let parts = [
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\">",
        "<p:presence xmlns:p=\"urn:ietf:params:xml:ns:pidf\">",
        "<tuple id=\"t\">",
        "<status>",
        "<basic>",
        "open",
        "</basic>",
        "</status>",
        "</tuple>",
        "</presence>",
        "<![CDATA[x]]>",
        "&amp;",
        "&#x41;",
        "&bogus;",
        "<!-- c -->",
        "<?pi x?>",
        "<!DOCTYPE x>",
        "<x/>",
        "<",
        ">",
        "\"",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut ok = 0;
    for _ in 0..4000 {
        let mut doc = String::new();
        for _ in 0..(seed % 12) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            doc.push_str(parts[(seed % parts.len() as u64) as usize]);
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if Pidf::parse(doc.as_bytes()).is_ok() {
            ok += 1;
        }
    }
    // Some soups are well-formed PIDF; the point is that none of them panicked.
    assert!(ok < 4000);
    assert!(matches!(
        Pidf::parse(b"<!DOCTYPE x>"),
        Err(BodyError::Doctype)
    ));
}
