//! The REGISTER decision table (RFC 3261 §10.3), row by row, with injected time.

use std::net::SocketAddr;

use callcomp_sip::auth::{digest, Algorithm, DigestAuth, Secret};
use callcomp_sip::check::check_request;
use callcomp_sip::headers::auth::WwwAuthenticate;
use callcomp_sip::message::Message;
use callcomp_sip::parse::Limits;

use super::*;
use crate::transport::{Proto, Target};

const NOW: u64 = 1_800_000_000_000;

fn source() -> Target {
    Target {
        proto: Proto::Udp,
        remote: SocketAddr::from(([192, 0, 2, 10], 5062)),
        conn: None,
    }
}

fn policy(users: &[(&str, Option<&str>)], open: bool) -> RegistrarPolicy {
    RegistrarPolicy {
        domain: "example.com".into(),
        users: users
            .iter()
            .map(|(n, p)| (n.to_string(), p.map(|p| Secret::Password(p.into()))))
            .collect(),
        open,
        min_expires: 60,
        max_expires: 3600,
        default_expires: 3600,
        max_contacts: 10,
        own: OwnAddrs::new(&["192.0.2.1:5060".parse().unwrap()], "example.com"),
    }
}

/// SHA-256 and MD5 offered (the SIP crate's order), no lockout.
fn auth() -> Authenticator {
    let lockout = crate::identity::Lockout::new(crate::identity::LockoutPolicy {
        source_max_failures: 0,
        user_max_failures: 0,
        window: std::time::Duration::from_secs(60),
        lockout: std::time::Duration::from_secs(300),
    });
    Authenticator::new(DigestAuth::new("example.com", [7; 32]), Vec::new(), lockout)
}

/// A 401 decision with fresh challenges for `msg` from [`source`].
fn fresh_challenge(auth: &Authenticator, msg: &Message) -> Decision {
    let attempt = crate::identity::Attempt {
        message: msg,
        method: "REGISTER",
        source: source().remote.ip(),
        kind: crate::identity::ChallengeKind::Www,
        now_ms: NOW,
    };
    match auth.challenge(&attempt, false) {
        crate::identity::Refusal::Challenge {
            stale, challenges, ..
        } => Decision::Challenge { stale, challenges },
        other => panic!("not a challenge: {other:?}"),
    }
}

/// A REGISTER for `to` with extra header lines.
fn register(to: &str, call_id: &str, cseq: u32, extra: &[&str]) -> Message {
    let mut text = format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK{call_id}{cseq}\r\n\
         Max-Forwards: 70\r\n\
         To: <{to}>\r\n\
         From: <{to}>;tag=f1\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n"
    );
    for line in extra {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    Message::parse_datagram(text.as_bytes(), &Limits::default()).unwrap()
}

fn run(
    msg: &Message,
    current: &[Binding],
    policy: &RegistrarPolicy,
    auth: &mut Authenticator,
) -> Decision {
    run_at(msg, current, policy, auth, NOW)
}

fn run_at(
    msg: &Message,
    current: &[Binding],
    policy: &RegistrarPolicy,
    auth: &mut Authenticator,
    now_ms: u64,
) -> Decision {
    let essentials = check_request(msg).unwrap();
    let req = RegisterRequest {
        message: msg,
        essentials: &essentials,
        source: source(),
        now_ms,
    };
    decide(req, current, policy, auth)
}

/// `(contact, seconds left, q)` of an accepted set.
fn summary(d: &Decision) -> Vec<(String, u64, Option<u16>)> {
    match d {
        Decision::Accept { bindings, .. } => bindings
            .iter()
            .map(|b| (b.contact_uri.clone(), b.remaining_secs(NOW), b.q))
            .collect(),
        other => panic!("expected Accept, got {other:?}"),
    }
}

fn accepted(msg: &Message, current: &[Binding]) -> Vec<Binding> {
    match run(msg, current, &policy(&[], true), &mut auth()) {
        Decision::Accept { bindings, .. } => bindings,
        other => panic!("expected Accept, got {other:?}"),
    }
}

fn status(d: &Decision) -> u16 {
    match d {
        Decision::Challenge { .. } => 401,
        Decision::Reject { status, .. } => *status,
        Decision::TooBrief { .. } => 423,
        Decision::Accept { .. } => 200,
    }
}

const ALICE: &str = "sip:alice@example.com";

/// One row: headers of the REGISTER, and the expected outcome on an empty AOR under open
/// registration.
#[test]
fn contact_and_expires_rows() {
    type Row = (
        &'static str,
        &'static [&'static str],
        Result<&'static [(&'static str, u64, Option<u16>)], u16>,
    );
    let rows: &[Row] = &[
        (
            "default expiry",
            &["Contact: <sip:alice@192.0.2.10:5062>"],
            Ok(&[("sip:alice@192.0.2.10:5062", 3600, None)]),
        ),
        (
            "Expires header",
            &["Contact: <sip:alice@192.0.2.10>", "Expires: 300"],
            Ok(&[("sip:alice@192.0.2.10", 300, None)]),
        ),
        (
            "parameter beats header",
            &[
                "Contact: <sip:alice@192.0.2.10>;expires=120",
                "Expires: 300",
            ],
            Ok(&[("sip:alice@192.0.2.10", 120, None)]),
        ),
        (
            "cut down to max_expires",
            &["Contact: <sip:alice@192.0.2.10>;expires=86400"],
            Ok(&[("sip:alice@192.0.2.10", 3600, None)]),
        ),
        (
            "exactly min_expires",
            &["Contact: <sip:alice@192.0.2.10>;expires=60"],
            Ok(&[("sip:alice@192.0.2.10", 60, None)]),
        ),
        (
            "too brief: 423",
            &["Contact: <sip:alice@192.0.2.10>;expires=30"],
            Err(423),
        ),
        (
            "header too brief: 423",
            &["Contact: <sip:alice@192.0.2.10>", "Expires: 1"],
            Err(423),
        ),
        (
            "two contacts, q orders them",
            &["Contact: <sip:a@192.0.2.10>;q=0.5, <sip:b@192.0.2.11>;q=0.9"],
            Ok(&[
                ("sip:b@192.0.2.11", 3600, Some(900)),
                ("sip:a@192.0.2.10", 3600, Some(500)),
            ]),
        ),
        (
            "expires=0 on a new contact adds nothing",
            &["Contact: <sip:alice@192.0.2.10>;expires=0"],
            Ok(&[]),
        ),
        (
            "star with Expires 0 clears",
            &["Contact: *", "Expires: 0"],
            Ok(&[]),
        ),
        ("star without Expires", &["Contact: *"], Err(400)),
        (
            "star with Expires 10",
            &["Contact: *", "Expires: 10"],
            Err(400),
        ),
        (
            "star beside a contact",
            &["Contact: *, <sip:alice@192.0.2.10>", "Expires: 0"],
            Err(400),
        ),
        ("tel contact", &["Contact: <tel:+15551234>"], Err(400)),
        (
            "bad Expires header",
            &["Contact: <sip:alice@192.0.2.10>", "Expires: soon"],
            Err(400),
        ),
        ("no contact: a query", &[], Ok(&[])),
    ];
    for (name, extra, want) in rows {
        let msg = register(ALICE, "c1", 1, extra);
        let d = run(&msg, &[], &policy(&[], true), &mut auth());
        match want {
            Ok(want) => {
                let want: Vec<_> = want
                    .iter()
                    .map(|(c, s, q)| (c.to_string(), *s, *q))
                    .collect();
                assert_eq!(summary(&d), want, "{name}");
            }
            Err(code) => assert_eq!(status(&d), *code, "{name}: {d:?}"),
        }
        if let Decision::TooBrief { min_expires } = d {
            assert_eq!(min_expires, 60, "{name}");
        }
    }
}

#[test]
fn the_aor_must_be_a_sip_uri_with_a_user() {
    for to in ["tel:+15551234", "sip:example.com"] {
        let msg = register(to, "c1", 1, &["Contact: <sip:x@192.0.2.10>"]);
        assert_eq!(
            status(&run(&msg, &[], &policy(&[], true), &mut auth())),
            400,
            "{to}"
        );
    }
}

#[test]
fn unknown_users_are_forbidden_unless_open() {
    let msg = register(
        "sip:mallory@example.com",
        "c1",
        1,
        &["Contact: <sip:m@192.0.2.10>"],
    );
    let closed = policy(&[("alice", None)], false);
    assert_eq!(status(&run(&msg, &[], &closed, &mut auth())), 403);
    let open = policy(&[("alice", None)], true);
    assert_eq!(status(&run(&msg, &[], &open, &mut auth())), 200);
    // A configured user without a password registers without a challenge.
    let msg = register(ALICE, "c1", 1, &["Contact: <sip:a@192.0.2.10>"]);
    assert_eq!(status(&run(&msg, &[], &closed, &mut auth())), 200);
}

/// An Authorization value answering `challenge` as `user` with `password`.
fn answer(challenge: &WwwAuthenticate, user: &str, password: &str, nc: &str) -> String {
    let c = &challenge.0;
    let alg = Algorithm::parse(c.algorithm().unwrap()).unwrap();
    let (nonce, realm) = (c.nonce().unwrap(), c.realm().unwrap());
    let ha1 = digest::ha1(alg, user, realm, password);
    let ha2 = digest::ha2(alg, "REGISTER", "sip:example.com");
    let r = digest::response(alg, &ha1, nonce, nc, "cn", "auth", &ha2);
    format!(
        "Authorization: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
         uri=\"sip:example.com\", response=\"{}\", algorithm={alg}, cnonce=\"cn\", qop=auth, nc={nc}",
        digest::hex_lower(&r)
    )
}

#[test]
fn digest_auth_with_sha256_and_md5() {
    let policy = policy(&[("alice", Some("secret")), ("bob", Some("bobpw"))], false);
    let registrar = Registrar::new(policy.clone());
    let mut auth = auth();
    let msg = register(ALICE, "c1", 1, &["Contact: <sip:a@192.0.2.10>"]);
    let d = run(&msg, &[], &policy, &mut auth);
    assert!(
        matches!(d, Decision::Challenge { stale: false, .. }),
        "{d:?}"
    );
    let challenge = registrar.response(&d, &msg, "t", NOW);
    assert_eq!(challenge.status(), Some(401));
    let challenges = challenge.header_all::<WwwAuthenticate>().unwrap();
    assert_eq!(challenges[0].0.algorithm(), Some("SHA-256"));
    assert_eq!(challenges[1].0.algorithm(), Some("MD5"));

    for (i, c) in challenges.iter().enumerate() {
        let creds = answer(c, "alice", "secret", "00000001");
        // Each challenge carries the same nonce: the second use of nc=1 is a replay.
        let msg = register(
            ALICE,
            "c1",
            2 + i as u32,
            &["Contact: <sip:a@192.0.2.10>", &creds],
        );
        let d = run(&msg, &[], &policy, &mut auth);
        if i == 0 {
            assert_eq!(status(&d), 200, "{d:?}");
        } else {
            assert!(
                matches!(d, Decision::Challenge { stale: true, .. }),
                "{d:?}"
            );
        }
    }
    // A fresh nonce answered with MD5.
    let fresh = registrar.response(&fresh_challenge(&auth, &msg), &msg, "t", NOW);
    let md5 = &fresh.header_all::<WwwAuthenticate>().unwrap()[1];
    let creds = answer(md5, "alice", "secret", "00000001");
    let msg = register(ALICE, "c1", 9, &["Contact: <sip:a@192.0.2.10>", &creds]);
    assert_eq!(status(&run(&msg, &[], &policy, &mut auth)), 200);

    // A wrong password is challenged again; bob's good credentials do not register alice.
    let c = &registrar
        .response(&fresh_challenge(&auth, &msg), &msg, "t", NOW)
        .header_all::<WwwAuthenticate>()
        .unwrap()[0];
    let wrong = answer(c, "alice", "guess", "00000001");
    let msg = register(ALICE, "c1", 10, &["Contact: <sip:a@192.0.2.10>", &wrong]);
    assert!(matches!(
        run(&msg, &[], &policy, &mut auth),
        Decision::Challenge { stale: false, .. }
    ));
    let bobs = answer(c, "bob", "bobpw", "00000002");
    let msg = register(ALICE, "c1", 11, &["Contact: <sip:a@192.0.2.10>", &bobs]);
    assert_eq!(status(&run(&msg, &[], &policy, &mut auth)), 403);
    // Malformed credentials are a 400.
    let msg = register(
        ALICE,
        "c1",
        12,
        &[
            "Contact: <sip:a@192.0.2.10>",
            "Authorization: Digest username=\"alice\"",
        ],
    );
    assert_eq!(status(&run(&msg, &[], &policy, &mut auth)), 400);
}

/// RFC 3261 §10.3 step 7: bindings and their Call-ID/CSeq.
#[test]
fn call_id_and_cseq_ordering() {
    let first = accepted(
        &register(ALICE, "c1", 5, &["Contact: <sip:a@192.0.2.10>"]),
        &[],
    );
    assert_eq!(first[0].cseq, 5);
    let rows: &[(&str, u32, u16)] = &[
        ("same Call-ID, lower CSeq", 4, 500),
        ("same Call-ID, same CSeq", 5, 500),
        ("same Call-ID, higher CSeq", 6, 200),
    ];
    for (name, cseq, want) in rows {
        let msg = register(
            ALICE,
            "c1",
            *cseq,
            &["Contact: <sip:a@192.0.2.10>;expires=100"],
        );
        assert_eq!(
            status(&run(&msg, &first, &policy(&[], true), &mut auth())),
            *want,
            "{name}"
        );
    }
    // Another Call-ID may update with any CSeq (a rebooted phone).
    let msg = register(ALICE, "c2", 1, &["Contact: <sip:a@192.0.2.10>;expires=100"]);
    let next = accepted(&msg, &first);
    assert_eq!(next.len(), 1);
    assert_eq!((next[0].call_id.as_str(), next[0].cseq), ("c2", 1));
    // Contact * also respects the order.
    let star = register(ALICE, "c1", 5, &["Contact: *", "Expires: 0"]);
    assert_eq!(
        status(&run(&star, &first, &policy(&[], true), &mut auth())),
        500
    );
}

#[test]
fn several_contacts_refresh_remove_and_expire() {
    let two = accepted(
        &register(
            ALICE,
            "c1",
            1,
            &["Contact: <sip:a@192.0.2.10>, <sip:a@192.0.2.20>"],
        ),
        &[],
    );
    assert_eq!(two.len(), 2);
    // Removing one keeps the other; the URI comparison is RFC 3261 §19.1.4 equivalence.
    let msg = register(
        ALICE,
        "c1",
        2,
        &["Contact: <sip:a@192.0.2.20:5060>;expires=0"],
    );
    let one = accepted(&msg, &two);
    // Port 5060 written out is not equivalent to no port: nothing was removed.
    assert_eq!(one.len(), 2);
    let msg = register(ALICE, "c1", 3, &["Contact: <SIP:a@192.0.2.20>;expires=0"]);
    let one = accepted(&msg, &two);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].contact_uri, "sip:a@192.0.2.10");
    // The binding remembers where the REGISTER came from.
    assert_eq!(one[0].source, Some(source()));
    // Star removes all.
    let none = accepted(
        &register(ALICE, "c1", 4, &["Contact: *", "Expires: 0"]),
        &two,
    );
    assert!(none.is_empty());
    // An expired binding is ignored: a query shows nothing, and the set counts as changed.
    let mut stale = two.clone();
    stale[0].expires_at_ms = NOW - 1;
    let d = run(
        &register(ALICE, "c9", 1, &[]),
        &stale,
        &policy(&[], true),
        &mut auth(),
    );
    match d {
        Decision::Accept {
            bindings, changed, ..
        } => {
            assert_eq!(bindings.len(), 1);
            assert!(changed);
        }
        other => panic!("{other:?}"),
    }
    // A query on an unchanged set changes nothing.
    let d = run(
        &register(ALICE, "c9", 1, &[]),
        &two,
        &policy(&[], true),
        &mut auth(),
    );
    assert!(matches!(d, Decision::Accept { changed: false, .. }));
}

#[test]
fn the_200_lists_every_binding_with_its_expiry() {
    let mut registrar = Registrar::new(policy(&[], true));
    let msg = register(
        ALICE,
        "c1",
        1,
        &["Contact: <sip:a@192.0.2.10>;expires=120;q=0.5, <sip:a@192.0.2.20>"],
    );
    let essentials = check_request(&msg).unwrap();
    let req = RegisterRequest {
        message: &msg,
        essentials: &essentials,
        source: source(),
        now_ms: NOW,
    };
    let d = registrar.decide(req, &mut auth());
    let resp = registrar.response(&d, &msg, "tag1", NOW + 20_000);
    assert_eq!(resp.status(), Some(200));
    let contacts: Vec<String> = resp
        .get_all_raw(&callcomp_sip::HeaderName::Contact)
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
        .collect();
    assert_eq!(
        contacts,
        [
            "<sip:a@192.0.2.20>;expires=3580",
            "<sip:a@192.0.2.10>;expires=100;q=0.5"
        ]
    );
    let Decision::Accept { user, bindings, .. } = d else {
        panic!()
    };
    registrar.apply(&user, bindings);
    assert!(registrar.is_registered("alice", NOW));
    assert_eq!(registrar.binding_count(NOW), 2);
    assert_eq!(registrar.next_expiry_ms(), Some(NOW + 120_000));
    assert!(registrar.purge(NOW + 119_000).is_empty());
    assert_eq!(registrar.purge(NOW + 120_000), ["alice"]);
    assert_eq!(registrar.contacts("alice", NOW + 120_000).len(), 1);
    // Loading from the store drops what expired meanwhile.
    let mut again = Registrar::new(policy(&[], true));
    let kept = registrar
        .contacts("alice", NOW)
        .into_iter()
        .cloned()
        .collect();
    again.load(kept, NOW + 4_000_000);
    assert!(!again.is_registered("alice", NOW + 4_000_000));
}

#[test]
fn q_values_are_written_as_qvalues() {
    for (q, s) in [
        (1000, "1"),
        (500, "0.5"),
        (125, "0.125"),
        (0, "0"),
        (900, "0.9"),
    ] {
        assert_eq!(format_q(q), s);
    }
}

fn contacts_header(n: usize, host: &str) -> String {
    let list: Vec<String> = (0..n).map(|i| format!("<sip:c{i}@{host}>")).collect();
    format!("Contact: {}", list.join(", "))
}

#[test]
fn more_contacts_than_the_bound_in_one_register_are_refused() {
    let mut p = policy(&[], true);
    p.max_contacts = 3;
    let header = contacts_header(4, "192.0.2.10");
    let d = run(&register(ALICE, "c1", 1, &[&header]), &[], &p, &mut auth());
    match &d {
        Decision::Reject { status, reason } => {
            assert_eq!(*status, 403);
            assert_eq!(reason, "Too many contacts (at most 3)");
        }
        other => panic!("{other:?}"),
    }
    // Exactly the bound is fine.
    let header = contacts_header(3, "192.0.2.10");
    let d = run(&register(ALICE, "c1", 1, &[&header]), &[], &p, &mut auth());
    assert_eq!(summary(&d).len(), 3);
    // 1,000 in one REGISTER (ten header lines of 100), at the default bound.
    let lines: Vec<String> = (0..10)
        .map(|_| contacts_header(100, "192.0.2.10"))
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let d = run(
        &register(ALICE, "c1", 1, &lines),
        &[],
        &policy(&[], true),
        &mut auth(),
    );
    assert_eq!(status(&d), 403);
}

#[test]
fn new_contacts_past_the_bound_replace_the_least_recently_refreshed() {
    let mut p = policy(&[], true);
    p.max_contacts = 3;
    // Three bindings written at different times: c0 oldest, c2 newest.
    let mut current = Vec::new();
    for i in 0..3u64 {
        let header = format!("Contact: <sip:c{i}@192.0.2.10>");
        let d = run_at(
            &register(ALICE, &format!("r{i}"), 1, &[&header]),
            &current,
            &p,
            &mut auth(),
            NOW - 10_000 + i * 1000,
        );
        current = match d {
            Decision::Accept { bindings, .. } => bindings,
            other => panic!("{other:?}"),
        };
    }
    assert_eq!(current.len(), 3);
    // Two new contacts: c0 and c1 (the two oldest) make room; c2 stays.
    let header = "Contact: <sip:n1@192.0.2.10>, <sip:n2@192.0.2.10>";
    let d = run(
        &register(ALICE, "n", 1, &[header]),
        &current,
        &p,
        &mut auth(),
    );
    let mut kept: Vec<String> = summary(&d).into_iter().map(|(c, _, _)| c).collect();
    kept.sort();
    assert_eq!(
        kept,
        [
            "sip:c2@192.0.2.10",
            "sip:n1@192.0.2.10",
            "sip:n2@192.0.2.10"
        ]
    );
    // Refreshing a binding at the bound drops nothing.
    let d = run(
        &register(ALICE, "r0x", 1, &["Contact: <sip:c2@192.0.2.10>"]),
        &current,
        &p,
        &mut auth(),
    );
    assert_eq!(summary(&d).len(), 3);
}

#[test]
fn contacts_and_sources_that_are_this_server_are_refused() {
    // policy(): we listen on 192.0.2.1:5060, domain example.com.
    let p = policy(&[], true);
    for contact in [
        "Contact: <sip:loop@192.0.2.1>",
        "Contact: <sip:loop@192.0.2.1:5060;transport=tcp>",
        "Contact: <sip:loop@localhost:5060>",
        "Contact: <sip:loop@example.com>",
        "Contact: <sip:ok@192.0.2.10>, <sip:loop@0.0.0.0:5060>",
    ] {
        let d = run(&register(ALICE, "c1", 1, &[contact]), &[], &p, &mut auth());
        match &d {
            Decision::Reject { status, reason } => {
                assert_eq!(
                    (*status, reason.as_str()),
                    (403, "Contact points at this server")
                );
            }
            other => panic!("{contact}: {other:?}"),
        }
    }
    // Another port of the same host is someone else.
    let d = run(
        &register(ALICE, "c1", 1, &["Contact: <sip:phone@192.0.2.1:5070>"]),
        &[],
        &p,
        &mut auth(),
    );
    assert_eq!(status(&d), 200);
    // A REGISTER whose source is our own address (spoofed) is refused.
    let msg = register(ALICE, "c1", 1, &["Contact: <sip:phone@192.0.2.10>"]);
    let essentials = check_request(&msg).unwrap();
    let req = RegisterRequest {
        message: &msg,
        essentials: &essentials,
        source: Target {
            proto: Proto::Udp,
            remote: "192.0.2.1:5060".parse().unwrap(),
            conn: None,
        },
        now_ms: NOW,
    };
    assert_eq!(status(&decide(req, &[], &p, &mut auth())), 403);
}
