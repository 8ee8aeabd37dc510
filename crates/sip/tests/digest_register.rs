//! Digest authentication through whole messages: a registrar's `401` with two challenges
//! (SHA-256 then MD5, RFC 8760) and the `REGISTER` that answers one of them, parsed from the
//! wire with a folded `Authorization` line (RFC 3261 §22.4, §7.3.1).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use callcomp_sip::auth::{digest, Algorithm, AuthError, DigestAuth, Secret};
use callcomp_sip::headers::auth::{Authorization, Challenge, WwwAuthenticate};
use callcomp_sip::message::Message;
use callcomp_sip::parse::Limits;

const T0: u64 = 1_800_000_000;
/// The phone's address, as the Via says; the nonces are bound to it.
const CLIENT: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 10));

fn register_with(authorization: &str) -> Vec<u8> {
    format!(
        "REGISTER sip:callcomp.example SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:alice@callcomp.example>\r\n\
         From: <sip:alice@callcomp.example>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710@192.0.2.10\r\n\
         CSeq: 2 REGISTER\r\n\
         Contact: <sip:alice@192.0.2.10>\r\n\
         Authorization: {authorization}\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Builds the Authorization value a user agent would send, split over two lines.
fn folded_answer(challenge: &Challenge, password: &str) -> String {
    let alg = Algorithm::parse(challenge.algorithm().unwrap()).unwrap();
    let nonce = challenge.nonce().unwrap();
    let realm = challenge.realm().unwrap();
    let ha1 = digest::ha1(alg, "alice", realm, password);
    let ha2 = digest::ha2(alg, "REGISTER", "sip:callcomp.example");
    let r = digest::response(alg, &ha1, nonce, "00000001", "xyz", "auth", &ha2);
    format!(
        "Digest username=\"alice\", realm=\"{realm}\",\r\n  nonce=\"{nonce}\", \
         uri=\"sip:callcomp.example\", response=\"{}\", algorithm={alg}, \
         cnonce=\"xyz\", qop=auth, nc=00000001",
        digest::hex_lower(&r)
    )
}

#[test]
fn challenge_then_register() {
    let mut auth = DigestAuth::new("callcomp.example", [3; 32]);

    // The 401 carries one WWW-Authenticate line per challenge, SHA-256 first.
    let mut unauthorized = Message::new_response(401, "Unauthorized");
    for c in auth.challenge(T0, false, CLIENT) {
        unauthorized.push(&WwwAuthenticate(c));
    }
    let bytes = unauthorized.to_bytes();
    let parsed = Message::parse_datagram(&bytes, &Limits::default()).unwrap();
    let challenges = parsed.header_all::<WwwAuthenticate>().unwrap();
    assert_eq!(challenges.len(), 2);
    assert_eq!(challenges[0].algorithm(), Some("SHA-256"));
    assert_eq!(challenges[1].algorithm(), Some("MD5"));

    let secret = Secret::Password("wonderland".into());
    let verify = |auth: &mut DigestAuth, challenge: &Challenge, now: u64| {
        let request = register_with(&folded_answer(challenge, "wonderland"));
        let request = Message::parse_datagram(&request, &Limits::default()).unwrap();
        let creds = request.header::<Authorization>().unwrap().unwrap();
        auth.verify(&creds, "REGISTER", &secret, CLIENT, now)
    };

    let verified = verify(&mut auth, &challenges[0], T0 + 3).unwrap();
    assert_eq!(verified.username, "alice");
    assert_eq!(verified.algorithm, Algorithm::Sha256);
    assert_eq!(verified.uri, "sip:callcomp.example");

    // The same request again is a replay; so is nonce count 1 under the other challenge,
    // which shares the nonce.
    for challenge in &challenges {
        let err = verify(&mut auth, challenge, T0 + 4).unwrap_err();
        assert!(
            matches!(err, AuthError::Replayed { nc: 1, last: 1 }),
            "{err}"
        );
        assert!(err.rejection().stale);
    }

    // A fresh challenge answered with MD5 passes.
    let fresh = auth.challenge(T0 + 5, true, CLIENT);
    let verified = verify(&mut auth, &fresh[1], T0 + 6).unwrap();
    assert_eq!(verified.algorithm, Algorithm::Md5);
}
