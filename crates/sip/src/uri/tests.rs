use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

fn sip(s: &str) -> SipUri {
    match Uri::parse(s) {
        Ok(Uri::Sip(u)) => u,
        other => panic!("{s}: expected a SIP URI, got {other:?}"),
    }
}

fn v6(s: &str) -> Host {
    Host::Ipv6(s.parse::<Ipv6Addr>().unwrap())
}

/// Accepted SIP URIs: (text, user, host, port, written form).
type Row<'a> = (&'a str, Option<&'a str>, Host, Option<u16>, &'a str);

#[test]
fn sip_uris_parse_and_write() {
    let d = |s: &str| Host::Domain(s.to_string());
    let cases: Vec<Row> = vec![
        (
            "sip:alice@atlanta.com",
            Some("alice"),
            d("atlanta.com"),
            None,
            "sip:alice@atlanta.com",
        ),
        (
            "SIP:alice@atlanta.com",
            Some("alice"),
            d("atlanta.com"),
            None,
            "sip:alice@atlanta.com",
        ),
        ("sip:x", None, d("x"), None, "sip:x"),
        (
            "sip:host.example.com.:5060",
            None,
            d("host.example.com."),
            Some(5060),
            "sip:host.example.com.:5060",
        ),
        (
            "sip:192.0.2.1:05060",
            None,
            Host::Ipv4(Ipv4Addr::new(192, 0, 2, 1)),
            Some(5060),
            "sip:192.0.2.1:5060",
        ),
        (
            "sip:010.0.0.1",
            None,
            Host::Ipv4(Ipv4Addr::new(10, 0, 0, 1)),
            None,
            "sip:10.0.0.1",
        ),
        // RFC 4475 §3.1.1.2 (escruri neighbour) and esc01: escapes kept as written.
        (
            "sip:sips%3Auser%40example.com@example.net",
            Some("sips%3Auser%40example.com"),
            d("example.net"),
            None,
            "sip:sips%3Auser%40example.com@example.net",
        ),
        // RFC 5118 §4.8 / §4.9: port outside the brackets, or part of the address.
        (
            "sip:[2001:db8::10]:5070",
            None,
            v6("2001:db8::10"),
            Some(5070),
            "sip:[2001:db8::10]:5070",
        ),
        (
            "sip:[2001:db8::10:5070]",
            None,
            v6("2001:db8::10:5070"),
            None,
            "sip:[2001:db8::10:5070]",
        ),
        // RFC 5118 §4.4 and §4.2.
        (
            "sip:ted@[::ffff:192.0.2.2]",
            Some("ted"),
            v6("::ffff:192.0.2.2"),
            None,
            "sip:ted@[::ffff:192.0.2.2]",
        ),
        (
            "sip:user@[2001:db8::192.0.2.1]",
            Some("user"),
            v6("2001:db8::c000:201"),
            None,
            "sip:user@[2001:db8::c000:201]",
        ),
        // RFC 4475 §3.1.1.7 semiuri: ';' in the user part.
        (
            "sip:user;par=u%40example.net@example.com",
            Some("user;par=u%40example.net"),
            d("example.com"),
            None,
            "sip:user;par=u%40example.net@example.com",
        ),
        (
            "sips:+1-972-555-2222;phone-context=x@gw1.example.net;user=phone",
            Some("+1-972-555-2222;phone-context=x"),
            d("gw1.example.net"),
            None,
            "sips:+1-972-555-2222;phone-context=x@gw1.example.net;user=phone",
        ),
        (
            "sip:user@example.com;lr",
            Some("user"),
            d("example.com"),
            None,
            "sip:user@example.com;lr",
        ),
        (
            "sip:a:pa$$@b.c",
            Some("a"),
            d("b.c"),
            None,
            "sip:a:pa$$@b.c",
        ),
        // RFC 4475 §3.1.1.8 escruri and §3.3.4 regescrt: escaped headers.
        (
            "sip:user@example.com?Route=%3Csip:example.com%3E",
            Some("user"),
            d("example.com"),
            None,
            "sip:user@example.com?Route=%3Csip:example.com%3E",
        ),
        (
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com&x=",
            None,
            d("biloxi.com"),
            None,
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com&x=",
        ),
        ("sip:3com.com", None, d("3com.com"), None, "sip:3com.com"),
    ];
    for (text, user, host, port, written) in cases {
        let u = sip(text);
        assert_eq!(u.user.as_deref(), user, "{text}");
        assert_eq!(u.host, host, "{text}");
        assert_eq!(u.port, port, "{text}");
        assert_eq!(u.to_string(), written, "{text}");
        assert_eq!(Uri::parse(written), Ok(Uri::Sip(u)), "{text}");
    }
}

#[test]
fn esc01_escapes_in_user_and_params() {
    // RFC 4475 §3.1.1.3: the Contact URI of esc01.
    let u = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
    assert_eq!(u.user.as_deref(), Some("cal%6Cer"));
    assert_eq!(u.user_unescaped().as_deref(), Some("caller"));
    assert!(u.params.contains("%6C%72"));
    assert_eq!(u.params.value("n%61me"), Some("v%61lue%25%34%31"));
    assert_eq!(
        u.to_string(),
        "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31"
    );
    let plain = Uri::parse("sip:caller@HOST5.example.net;lr;name=value%2541").unwrap();
    assert!(Uri::Sip(u).equivalent(&plain));
    assert_eq!(
        sip("sip:I%20have%20spaces@example.net")
            .user_unescaped()
            .as_deref(),
        Some("I have spaces")
    );
    assert_eq!(
        sip("sip:null-%00-null@example.com")
            .user_unescaped()
            .as_deref(),
        Some("null-\0-null")
    );
    let e = sip("sip:sips%3Auser%40example.com@example.net");
    assert_eq!(e.user_unescaped().as_deref(), Some("sips:user@example.com"));
}

#[test]
fn lr_and_params() {
    let u = sip("sip:p1.example.com;lr;transport=TCP;maddr=[2001:db8::1]");
    assert!(u.is_loose());
    assert_eq!(u.params.value("transport"), Some("TCP"));
    assert_eq!(u.params.value("maddr"), Some("[2001:db8::1]"));
    assert!(!sip("sip:p1.example.com").is_loose());
}

#[test]
fn tel_and_other_schemes() {
    let cases: &[(&str, &str)] = &[
        ("tel:+1-201-555-0123", "tel:+1-201-555-0123"),
        ("TEL:+1(201)5550123;ext=22", "tel:+1(201)5550123;ext=22"),
        (
            "tel:7042;phone-context=example.com",
            "tel:7042;phone-context=example.com",
        ),
        (
            "tel:*21#;phone-context=+1-201",
            "tel:*21#;phone-context=+1-201",
        ),
    ];
    for (text, written) in cases {
        let u = Uri::parse(text).unwrap();
        assert!(matches!(u, Uri::Tel(_)), "{text}");
        assert_eq!(u.to_string(), *written);
        assert_eq!(Uri::parse(written).unwrap(), u);
    }
    // RFC 4475 §3.1.1.11 unkscm, §3.1.1.12 novelsc, and the 416 case of RFC 3261 §8.2.2.1.
    for (text, scheme, rest) in [
        ("name:John_Doe", "name", "John_Doe"),
        (
            "nobodyKnowsThisScheme:totallyopaquecontent",
            "nobodyKnowsThisScheme",
            "totallyopaquecontent",
        ),
        (
            "soap.beep://192.0.2.103:3002",
            "soap.beep",
            "//192.0.2.103:3002",
        ),
        (
            "http://www.example.com/alice/photo.jpg",
            "http",
            "//www.example.com/alice/photo.jpg",
        ),
    ] {
        let u = Uri::parse(text).unwrap();
        assert_eq!(
            u,
            Uri::Other(OtherUri {
                scheme: scheme.into(),
                rest: rest.into()
            }),
            "{text}"
        );
        assert_eq!(u.scheme(), scheme);
        assert_eq!(u.to_string(), text);
    }
}

#[test]
fn bad_uris_are_refused_with_the_reason() {
    use UriError::*;
    let cases: Vec<(&str, UriError)> = vec![
        ("", Empty),
        ("alice@atlanta.com", MissingScheme),
        (":x", MissingScheme),
        ("1sip:x", BadScheme("1sip".into())),
        ("si p:x", BadScheme("si p".into())),
        ("sip:", EmptyHost),
        ("sip:user@", EmptyHost),
        ("sip:@host", EmptyUser),
        ("sip:user@:5060", EmptyHost),
        // RFC 5118 §4.10 ipv6-bad, §4.3 three colons.
        ("sip:2001:db8::10", UnbracketedIpv6("2001:db8::10".into())),
        (
            "sip:user@[2001:db8:::192.0.2.1]",
            BadIpv6("[2001:db8:::192.0.2.1]".into()),
        ),
        ("sip:[2001:db8::10", BadIpv6("[2001:db8::10".into())),
        ("sip:[example.com]", BadIpv6("[example.com]".into())),
        (
            "sip:[::1]x",
            IllegalChar {
                ch: 'x',
                position: 9,
                part: "host",
            },
        ),
        // RFC 4475 §3.1.2.x: port out of range.
        ("sip:example.com:9999999", BadPort("9999999".into())),
        ("sip:example.com:65536", BadPort("65536".into())),
        ("sip:example.com:0", BadPort("0".into())),
        ("sip:example.com:", BadPort("".into())),
        ("sip:example.com:50a", BadPort("50a".into())),
        ("sip:exa_mple.com", BadHost("exa_mple.com".into())),
        ("sip:-a.com", BadHost("-a.com".into())),
        ("sip:a..com", BadHost("a..com".into())),
        ("sip:example.123", BadHost("example.123".into())),
        ("sip:1.2.3.256", BadHost("1.2.3.256".into())),
        (
            "sip:a b@host",
            IllegalChar {
                ch: ' ',
                position: 5,
                part: "user",
            },
        ),
        (
            "sip:<a>@host",
            IllegalChar {
                ch: '<',
                position: 4,
                part: "user",
            },
        ),
        (
            "sip:ü@host",
            IllegalChar {
                ch: 'ü',
                position: 4,
                part: "user",
            },
        ),
        (
            "sip:a:p:w@host",
            IllegalChar {
                ch: ':',
                position: 7,
                part: "password",
            },
        ),
        ("sip:a%4@host", BadEscape { position: 5 }),
        ("sip:a%zz@host", BadEscape { position: 5 }),
        ("sip:host;%", BadEscape { position: 9 }),
        ("sip:host;;lr", EmptyParam { position: 8 }),
        ("sip:host;lr;", EmptyParam { position: 11 }),
        ("sip:host;a=", EmptyParam { position: 8 }),
        (
            "sip:host;a=b c",
            IllegalChar {
                ch: ' ',
                position: 12,
                part: "parameter",
            },
        ),
        (
            "sip:host;a\"=b",
            IllegalChar {
                ch: '"',
                position: 10,
                part: "parameter",
            },
        ),
        ("sip:host?", BadHeader { position: 9 }),
        ("sip:host?a", BadHeader { position: 9 }),
        ("sip:host?a=1&=2", BadHeader { position: 13 }),
        (
            "sip:host?a=<",
            IllegalChar {
                ch: '<',
                position: 11,
                part: "header",
            },
        ),
        ("tel:", BadTelNumber("".into())),
        ("tel:+", BadTelNumber("+".into())),
        ("tel:+1 555", BadTelNumber("+1 555".into())),
        ("tel:7042", MissingPhoneContext),
        (
            "tel:+1;e_x=1",
            IllegalChar {
                ch: '_',
                position: 8,
                part: "parameter",
            },
        ),
        ("name:", EmptyBody),
        (
            "name:a b",
            IllegalChar {
                ch: ' ',
                position: 6,
                part: "body",
            },
        ),
        (
            "http://x/<y>",
            IllegalChar {
                ch: '<',
                position: 9,
                part: "body",
            },
        ),
    ];
    for (text, err) in cases {
        assert_eq!(Uri::parse(text), Err(err), "{text}");
    }
    // Messages say what is wrong.
    assert_eq!(
        UriError::BadPort("9999999".into()).to_string(),
        "invalid port \"9999999\" (must be 1 to 65535)"
    );
    assert_eq!(
        UriError::IllegalChar {
            ch: ' ',
            position: 5,
            part: "user"
        }
        .to_string(),
        "illegal character ' ' at position 5 in the URI user"
    );
}

/// RFC 3261 §19.1.4: the equivalent and non-equivalent examples, plus parameter rules.
#[test]
fn equivalence_per_rfc3261_19_1_4() {
    let same: &[(&str, &str)] = &[
        (
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp",
        ),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
        (
            "sip:carol@chicago.com;newparam=5",
            "sip:carol@chicago.com;security=on",
        ),
        (
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
        ),
        (
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
        ),
        ("sip:a@[2001:db8::1]", "sip:a@[2001:DB8:0::1]"),
        ("sip:a@h;lr", "sip:a@h;LR"),
        ("sip:a@h;%74ransport=tcp", "sip:a@h;transport=TCP"),
        ("sip:a@h;x=1;x=2", "sip:a@h;x=1"),
        ("tel:+1-201-555-0123", "tel:+1(201)5550123"),
        (
            "tel:7042;phone-context=EXAMPLE.com;ext=1",
            "tel:7042;ext=1;phone-context=example.com",
        ),
        ("NAME:x", "name:x"),
    ];
    for (a, b) in same {
        let (a, b) = (Uri::parse(a).unwrap(), Uri::parse(b).unwrap());
        assert!(a.equivalent(&b), "{a} ~ {b}");
        assert!(b.equivalent(&a), "{b} ~ {a}");
    }
    let different: &[(&str, &str)] = &[
        (
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP",
        ),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
        (
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com:6000;transport=tcp",
        ),
        (
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting",
        ),
        ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
        (
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;security=off",
        ),
        ("sip:a@h", "sips:a@h"),
        ("sip:a@h;user=phone", "sip:a@h"),
        ("sip:a@h;maddr=1.2.3.4", "sip:a@h;maddr=1.2.3.5"),
        ("sip:a@h;ttl=1", "sip:a@h;ttl=2"),
        ("sip:a@h;%74ransport=tcp", "sip:a@h"),
        ("sip:a@h;n%61me=x", "sip:a@h;name=y"),
        ("sip:a%3Bb@h", "sip:a;b@h"),
        ("sip:a:x@h", "sip:a:X@h"),
        ("sip:a@h?x=1", "sip:a@h?x=1&x=1"),
        ("tel:+1234", "tel:+1235"),
        ("tel:+1234;ext=1", "tel:+1234"),
        ("sip:a@h", "tel:+1234"),
        ("name:x", "name:X"),
    ];
    for (a, b) in different {
        let (a, b) = (Uri::parse(a).unwrap(), Uri::parse(b).unwrap());
        assert!(!a.equivalent(&b), "{a} !~ {b}");
        assert!(!b.equivalent(&a), "{b} !~ {a}");
    }
}

#[test]
fn escape_user_round_trips() {
    for raw in ["alice", "a b", "x@y:z", "100%", "ü;?/"] {
        let mut u = SipUri::new(Host::Domain("example.com".into()));
        u.user = Some(escape_user(raw));
        let again = sip(&u.to_string());
        assert_eq!(again.user_unescaped().as_deref(), Some(raw));
        assert_eq!(again, u);
    }
    assert_eq!(unescape("a%41%4"), b"aA%4");
}

fn escaped(chars: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => proptest::sample::select(chars.as_bytes().to_vec()).prop_map(|b| char::from(b).to_string()),
            1 => any::<u8>().prop_map(|b| format!("%{b:02x}")),
        ],
        1..8,
    )
    .prop_map(|v| v.concat())
}

const UNRESERVED: &str = "abcXYZ019-_.!~*'()";

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        "[a-z]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-zA-Z]([a-z0-9-]{0,4}[a-z])?){0,3}\\.?"
            .prop_map(Host::Domain),
        any::<[u8; 4]>().prop_map(|o| Host::Ipv4(Ipv4Addr::from(o))),
        any::<[u16; 8]>().prop_map(|s| Host::Ipv6(Ipv6Addr::from(s))),
    ]
}

fn params(name_chars: &'static str) -> impl Strategy<Value = Params> {
    proptest::collection::vec(
        (
            escaped(name_chars),
            proptest::option::of(escaped("abc019-[]/:&+$")),
        ),
        0..4,
    )
    .prop_map(|list| {
        let mut p = Params::new();
        for (n, v) in list {
            p.push(n, v);
        }
        p
    })
}

fn sip_uri() -> impl Strategy<Value = SipUri> {
    (
        any::<bool>(),
        proptest::option::of((
            escaped("abcXYZ019-_.!~*'()&=+$,;?/"),
            proptest::option::of(escaped("abc019&=+$,")),
        )),
        host(),
        proptest::option::of(1u16..),
        params(UNRESERVED),
        proptest::collection::vec((escaped("abc[]/?:+$"), escaped("abc019[]/?:+$")), 0..3),
    )
        .prop_map(|(secure, userinfo, host, port, params, headers)| SipUri {
            secure,
            user: userinfo.as_ref().map(|(u, _)| u.clone()),
            password: userinfo.and_then(|(_, p)| p),
            host,
            port,
            params,
            headers,
        })
}

fn any_uri() -> impl Strategy<Value = Uri> {
    prop_oneof![
        4 => sip_uri().prop_map(Uri::Sip),
        1 => ("\\+[0-9][0-9().-]{0,10}", params("abc019-"))
            .prop_map(|(number, params)| Uri::Tel(TelUri { number, params })),
        1 => ("[a-zA-Z][a-zA-Z0-9+.-]{0,6}", "[a-zA-Z0-9;/?:@&=+$,#\\[\\]_.!~*'()-]{1,20}")
            .prop_filter("not an interpreted scheme", |(s, _)| {
                !["sip", "sips", "tel"].iter().any(|k| s.eq_ignore_ascii_case(k))
            })
            .prop_map(|(scheme, rest)| Uri::Other(OtherUri { scheme, rest })),
    ]
}

proptest! {
    #[test]
    fn generated_uris_round_trip(u in any_uri()) {
        let text = u.to_string();
        prop_assert_eq!(Uri::parse(&text), Ok(u.clone()), "{}", text);
        prop_assert!(u.equivalent(&u));
    }

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        if let Ok(u) = Uri::parse(&s) {
            prop_assert_eq!(Uri::parse(&u.to_string()), Ok(u));
        }
    }

    #[test]
    fn uri_like_text_reparses_equal(
        scheme in prop_oneof![Just("sip:"), Just("sips:"), Just("tel:"), Just("x:")],
        body in "[a-zA-Z0-9:;@?&=%.+\\[\\]-]{0,30}",
    ) {
        let s = format!("{scheme}{body}");
        if let Ok(u) = Uri::parse(&s) {
            prop_assert_eq!(Uri::parse(&u.to_string()), Ok(u));
        }
    }
}
