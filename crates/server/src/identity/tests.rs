//! The identity gate, row by row, with injected time: who is challenged, who passes as whom,
//! who is refused, and when guessing locks a source or a user out.

use std::net::IpAddr;
use std::time::Duration;

use callcomp_sip::auth::{digest, Algorithm, DigestAuth, Secret};
use callcomp_sip::check::check_request;
use callcomp_sip::headers::auth::ProxyAuthenticate;
use callcomp_sip::message::Message;
use callcomp_sip::parse::Limits;

use super::gate::{is_gated, Directory};
use super::*;
use crate::transport::{Proto, Target};

const NOW: u64 = 1_800_000_000_000;
const PHONE: &str = "192.0.2.10:5062";
const TRUNK: &str = "198.51.100.7:5060";

fn users() -> Users {
    [
        ("alice", Some("alice-pw")),
        ("bob", Some("bob-pw")),
        ("carol", None),
    ]
    .into_iter()
    .map(|(n, p)| (n.to_owned(), p.map(|p| Secret::Password(p.to_owned()))))
    .collect()
}

fn authenticator(source_max: u32, user_max: u32) -> Authenticator {
    let lockout = Lockout::new(LockoutPolicy {
        source_max_failures: source_max,
        user_max_failures: user_max,
        window: Duration::from_secs(60),
        lockout: Duration::from_secs(300),
    });
    let digest = DigestAuth::new("example.com", [5; 32]).with_algorithms(&[Algorithm::Md5]);
    Authenticator::new(digest, vec!["198.51.100.0/24".parse().unwrap()], lockout)
}

fn target(addr: &str) -> Target {
    Target {
        proto: Proto::Udp,
        remote: addr.parse().unwrap(),
        conn: None,
    }
}

fn request(method: &str, uri: &str, from: &str, extra: &[String]) -> Message {
    let mut text = format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-{}\r\n\
         Max-Forwards: 70\r\n\
         From: <{from}>;tag=f1\r\n\
         To: <sip:bob@example.com>\r\n\
         Call-ID: gate-test\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:x@192.0.2.10:5062>\r\n",
        extra.len()
    );
    for line in extra {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    Message::parse_datagram(text.as_bytes(), &Limits::default()).unwrap()
}

fn invite(from: &str, extra: &[String]) -> Message {
    request("INVITE", "sip:bob@example.com", from, extra)
}

/// A `Proxy-Authorization` line answering the 407 `response` as `user` with `password`.
fn answer(response: &Message, user: &str, password: &str, nc: u32) -> String {
    let c = &response.header_all::<ProxyAuthenticate>().unwrap()[0].0;
    let alg = Algorithm::parse(c.algorithm().unwrap()).unwrap();
    let (nonce, realm) = (c.nonce().unwrap(), c.realm().unwrap());
    let nc = format!("{nc:08x}");
    let ha1 = digest::ha1(alg, user, realm, password);
    let ha2 = digest::ha2(alg, "INVITE", "sip:bob@example.com");
    let r = digest::response(alg, &ha1, nonce, &nc, "cn", "auth", &ha2);
    format!(
        "Proxy-Authorization: Digest username=\"{user}\", realm=\"{realm}\", \
         nonce=\"{nonce}\", uri=\"sip:bob@example.com\", response=\"{}\", algorithm={alg}, \
         cnonce=\"cn\", qop=auth, nc={nc}",
        digest::hex_lower(&r)
    )
}

fn admit_at(
    auth: &mut Authenticator,
    msg: &Message,
    from: &str,
    open: bool,
    now_ms: u64,
) -> Result<Identity, Refusal> {
    let ess = check_request(msg).unwrap();
    let users = users();
    let directory = Directory {
        users: &users,
        open,
    };
    admit(auth, msg, &ess, target(from), directory, now_ms)
}

fn admit_from(auth: &mut Authenticator, msg: &Message, from: &str) -> Result<Identity, Refusal> {
    admit_at(auth, msg, from, false, NOW)
}

/// The status a refusal answers with, and its reason phrase.
fn status(r: &Result<Identity, Refusal>) -> (u16, String) {
    let msg = invite("sip:x@example.com", &[]);
    match r {
        Ok(_) => (0, String::new()),
        Err(refusal) => {
            let resp = refusal.response(&msg, "t");
            (
                resp.status().unwrap(),
                resp.reason_phrase().unwrap_or_default().to_string(),
            )
        }
    }
}

/// The 407 a bare INVITE from alice gets from `from`.
fn challenge_for(auth: &mut Authenticator, from: &str) -> Message {
    let msg = invite("sip:alice@example.com", &[]);
    let refusal = admit_from(auth, &msg, from).unwrap_err();
    refusal.response(&msg, "t")
}

fn user(name: &str, authenticated: bool) -> Identity {
    Identity::User {
        name: name.to_owned(),
        authenticated,
    }
}

#[test]
fn a_user_with_a_password_is_challenged_with_407_and_md5_only() {
    let mut auth = authenticator(10, 20);
    let resp = challenge_for(&mut auth, PHONE);
    assert_eq!(resp.status(), Some(407));
    let challenges = resp.header_all::<ProxyAuthenticate>().unwrap();
    assert_eq!(challenges.len(), 1);
    assert_eq!(challenges[0].0.algorithm(), Some("MD5"));
    assert_eq!(challenges[0].0.realm(), Some("example.com"));
    // The same From at another host is still alice: challenged, not a stranger.
    let msg = invite("sip:alice@elsewhere.example", &[]);
    assert_eq!(status(&admit_from(&mut auth, &msg, PHONE)).0, 407);
}

#[test]
fn the_identity_is_the_authenticated_user_never_the_from() {
    let mut auth = authenticator(10, 20);
    let resp = challenge_for(&mut auth, PHONE);
    // alice's credentials, alice's From: alice.
    let good = invite(
        "sip:alice@example.com",
        &[answer(&resp, "alice", "alice-pw", 1)],
    );
    assert_eq!(admit_from(&mut auth, &good, PHONE), Ok(user("alice", true)));
    // bob's credentials under alice's From: 403.
    let forged = invite(
        "sip:alice@example.com",
        &[answer(&resp, "bob", "bob-pw", 2)],
    );
    assert_eq!(
        status(&admit_from(&mut auth, &forged, PHONE)),
        (403, "From names another user".to_owned())
    );
    // bob's credentials under a From that names no local user: bob.
    let anon = invite(
        "sip:anonymous@anonymous.invalid",
        &[answer(&resp, "bob", "bob-pw", 3)],
    );
    assert_eq!(admit_from(&mut auth, &anon, PHONE), Ok(user("bob", true)));
    // Credentials of carol, who has no password, or of nobody: 403.
    for name in ["carol", "mallory"] {
        let msg = invite("sip:alice@example.com", &[answer(&resp, name, "x", 4)]);
        assert_eq!(
            status(&admit_from(&mut auth, &msg, PHONE)),
            (403, "Unknown user".to_owned()),
            "{name}"
        );
    }
}

#[test]
fn users_without_password_strangers_and_trusted_peers() {
    let mut auth = authenticator(10, 20);
    let carol = invite("sip:carol@example.com", &[]);
    let stranger = invite("sip:mallory@evil.example", &[]);
    let alice = invite("sip:alice@example.com", &[]);
    type Expected = Result<Identity, (u16, &'static str)>;
    let rows: [(&Message, &str, Expected); 6] = [
        (&carol, PHONE, Ok(user("carol", false))),
        (
            &stranger,
            PHONE,
            Err((403, "Not a local user and not a trusted peer")),
        ),
        // A trusted peer is never challenged; its calls are external unless the From names
        // a user without a password.
        (&carol, TRUNK, Ok(user("carol", false))),
        (&stranger, TRUNK, Ok(Identity::External)),
        (&alice, TRUNK, Ok(Identity::External)),
        (&alice, PHONE, Err((407, "Proxy Authentication Required"))),
    ];
    for (msg, from, expected) in rows {
        let got = admit_from(&mut auth, msg, from);
        match expected {
            Ok(identity) => assert_eq!(got, Ok(identity), "{from}"),
            Err((code, reason)) => assert_eq!(status(&got), (code, reason.to_owned()), "{from}"),
        }
    }
    // Under open registration any name is a local user without a password.
    assert_eq!(
        admit_at(&mut auth, &stranger, PHONE, true, NOW),
        Ok(user("mallory", false))
    );
}

#[test]
fn a_nonce_is_good_only_from_the_address_it_was_sent_to() {
    let mut auth = authenticator(10, 20);
    let resp = challenge_for(&mut auth, PHONE);
    let creds = invite(
        "sip:alice@example.com",
        &[answer(&resp, "alice", "alice-pw", 1)],
    );
    // Replayed from elsewhere: a new challenge, not a pass, and not a counted failure.
    let got = admit_from(&mut auth, &creds, "203.0.113.5:5060");
    assert_eq!(status(&got).0, 407);
    assert_eq!(auth.lockout().tracked(), 0);
    assert_eq!(
        admit_from(&mut auth, &creds, PHONE),
        Ok(user("alice", true))
    );
}

#[test]
fn guessing_locks_the_source_at_the_threshold_until_the_cool_down() {
    let mut auth = authenticator(3, 0);
    let resp = challenge_for(&mut auth, PHONE);
    let guess = |nc: u32| {
        invite(
            "sip:alice@example.com",
            &[answer(&resp, "alice", &format!("guess{nc}"), nc)],
        )
    };
    // Two wrong passwords: challenged again each time.
    for nc in 1..=2 {
        let got = admit_at(&mut auth, &guess(nc), PHONE, false, NOW + u64::from(nc));
        assert_eq!(status(&got).0, 407, "guess {nc}");
    }
    // The third reaches the threshold: 403, no challenge.
    let locked = (403, "Too many failed authentications".to_owned());
    assert_eq!(
        status(&admit_at(&mut auth, &guess(3), PHONE, false, NOW + 3)),
        locked
    );
    // Meanwhile even the right password and a bare INVITE get 403 from that address...
    let right = invite(
        "sip:alice@example.com",
        &[answer(&resp, "alice", "alice-pw", 4)],
    );
    assert_eq!(
        status(&admit_at(&mut auth, &right, PHONE, false, NOW + 1_000)),
        locked
    );
    let bare = invite("sip:alice@example.com", &[]);
    assert_eq!(
        status(&admit_at(&mut auth, &bare, PHONE, false, NOW + 1_000)),
        locked
    );
    // ...but not from another address (no per-user lockout here).
    assert_eq!(
        status(&admit_at(
            &mut auth,
            &bare,
            "192.0.2.11:5062",
            false,
            NOW + 1_000
        ))
        .0,
        407
    );
    // A user without a password is not authenticated, so not locked.
    let carol = invite("sip:carol@example.com", &[]);
    assert_eq!(
        admit_at(&mut auth, &carol, PHONE, false, NOW + 1_000),
        Ok(user("carol", false))
    );
    // After the cool-down (300 s from the third failure) the challenge comes back.
    assert_eq!(
        status(&admit_at(&mut auth, &bare, PHONE, false, NOW + 3 + 299_999)),
        locked
    );
    let again = admit_at(&mut auth, &bare, PHONE, false, NOW + 3 + 300_000);
    assert_eq!(status(&again).0, 407);
}

#[test]
fn guessing_one_user_from_many_addresses_locks_the_user() {
    let mut auth = authenticator(0, 2);
    for (i, from) in ["192.0.2.21:5060", "192.0.2.22:5060"].iter().enumerate() {
        let resp = challenge_for(&mut auth, from);
        let msg = invite(
            "sip:alice@example.com",
            &[answer(&resp, "alice", "guess", 1)],
        );
        let got = admit_from(&mut auth, &msg, from);
        assert_eq!(status(&got).0, if i == 0 { 407 } else { 403 }, "{from}");
    }
    // alice is locked wherever the request comes from; bob is not.
    let alice = invite("sip:alice@example.com", &[]);
    assert_eq!(
        status(&admit_from(&mut auth, &alice, "192.0.2.30:5060")).0,
        403
    );
    let bob = invite("sip:bob@example.com", &[]);
    assert_eq!(
        status(&admit_from(&mut auth, &bob, "192.0.2.30:5060")).0,
        407
    );
}

#[test]
fn which_requests_pass_the_gate() {
    use callcomp_sip::method::Method;
    let rows = [
        ("INVITE", "sip:bob@example.com", true),
        ("MESSAGE", "sip:bob@example.com", true),
        ("SUBSCRIBE", "sip:bob@example.com", true),
        ("PUBLISH", "sip:bob@example.com", true),
        ("REFER", "sip:bob@example.com", true),
        ("OPTIONS", "sip:bob@example.com", true),
        // A keep-alive to the server itself.
        ("OPTIONS", "sip:example.com", false),
        ("BYE", "sip:bob@example.com", false),
        ("REGISTER", "sip:example.com", false),
    ];
    for (method, uri, gated) in rows {
        let msg = request(method, uri, "sip:alice@example.com", &[]);
        let m = Method::parse(method.as_bytes()).unwrap();
        assert_eq!(is_gated(&m, &msg), gated, "{method} {uri}");
    }
}

#[test]
fn in_dialog_requests_come_from_the_peer_or_its_contact() {
    let contact = callcomp_sip::uri::Uri::parse("sip:alice@192.0.2.10:5070").unwrap();
    let peer = target(PHONE);
    let tcp = |addr: &str, conn: u64| Target {
        proto: Proto::Tcp,
        remote: addr.parse().unwrap(),
        conn: Some(crate::transport::ConnId(conn)),
    };
    let rows = [
        (target(PHONE), peer, true),
        (target("192.0.2.10:5070"), peer, true),
        // IPv4-mapped spelling of the same address.
        (target("[::ffff:192.0.2.10]:5062"), peer, true),
        (target("192.0.2.10:5099"), peer, false),
        (target("203.0.113.5:5062"), peer, false),
        (tcp("192.0.2.10:40000", 7), tcp("192.0.2.10:40000", 7), true),
        (tcp("192.0.2.10:40001", 7), tcp("192.0.2.10:40000", 7), true),
        (
            tcp("192.0.2.10:40001", 8),
            tcp("192.0.2.10:40000", 7),
            false,
        ),
    ];
    for (source, peer, ok) in rows {
        assert_eq!(from_dialog_peer(source, peer, &contact), ok, "{source:?}");
    }
}

#[test]
fn registrar_credentials_go_through_the_same_lockout() {
    // A REGISTER's wrong passwords count toward the same source lockout as INVITEs.
    let mut auth = authenticator(2, 0);
    let resp = challenge_for(&mut auth, PHONE);
    let wrong = invite(
        "sip:alice@example.com",
        &[answer(&resp, "alice", "guess", 1)],
    );
    assert_eq!(status(&admit_from(&mut auth, &wrong, PHONE)).0, 407);
    let register = request(
        "REGISTER",
        "sip:example.com",
        "sip:alice@example.com",
        &[
            "Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"00\", \
           uri=\"sip:example.com\", response=\"00000000000000000000000000000000\", \
           cnonce=\"c\", qop=auth, nc=00000001"
                .to_owned(),
        ],
    );
    let attempt = Attempt {
        message: &register,
        method: "REGISTER",
        source: IpAddr::from([192, 0, 2, 10]),
        kind: ChallengeKind::Www,
        now_ms: NOW,
    };
    // A forged nonce is not a guess (nothing was learned): challenged, not counted.
    let got = auth.authenticate(&attempt, &users(), Some("alice"));
    assert!(matches!(
        got,
        Err(Refusal::Challenge {
            kind: ChallengeKind::Www,
            ..
        })
    ));
    // A real wrong password over REGISTER is the second failure: locked.
    let www = Refusal::response(&auth.challenge(&attempt, false), &register, "t");
    let c = &www
        .header_all::<callcomp_sip::headers::auth::WwwAuthenticate>()
        .unwrap()[0]
        .0;
    let nonce = c.nonce().unwrap();
    let ha1 = digest::ha1(Algorithm::Md5, "alice", "example.com", "guess");
    let ha2 = digest::ha2(Algorithm::Md5, "REGISTER", "sip:example.com");
    let r = digest::response(Algorithm::Md5, &ha1, nonce, "00000001", "c", "auth", &ha2);
    let register = request(
        "REGISTER",
        "sip:example.com",
        "sip:alice@example.com",
        &[format!(
            "Authorization: Digest username=\"alice\", realm=\"example.com\", \
             nonce=\"{nonce}\", uri=\"sip:example.com\", response=\"{}\", algorithm=MD5, \
             cnonce=\"c\", qop=auth, nc=00000001",
            digest::hex_lower(&r)
        )],
    );
    let attempt = Attempt {
        message: &register,
        ..attempt
    };
    let got = auth.authenticate(&attempt, &users(), Some("alice"));
    assert_eq!(
        got,
        Err(Refusal::Reject {
            status: 403,
            reason: "Too many failed authentications".into()
        })
    );
}
