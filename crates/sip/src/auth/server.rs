//! The server side of digest authentication: issuing challenges and checking credentials
//! (RFC 3261 §22.2–§22.4, RFC 7616 §3.3–§3.4, RFC 8760 UAS behaviour).
//!
//! Checks run in this order so that the answer says as much as is safe: well-formedness
//! (`400`), realm, algorithm and nonce authenticity (`401`), the response digest in constant
//! time (`401`), then nonce age and nonce count (`401 stale=true`). Staleness is reported only
//! after the digest matched, as RFC 7616 §3.3 recommends, and a nonce count is recorded only
//! for a matching digest, so that guesses cannot push it up.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use subtle::ConstantTimeEq;

use super::digest::{self, Algorithm};
use super::nonce::{self, NonceInfo};
use super::{AuthError, Secret, Verified};
use crate::headers::auth::{Challenge, Credentials};
use crate::text::eq_ignore_case;

/// Default nonce lifetime in seconds.
pub const DEFAULT_NONCE_LIFETIME: u64 = 300;

/// Default number of nonces whose count is tracked.
pub const DEFAULT_MAX_TRACKED_NONCES: usize = 4096;

/// Issues digest challenges for one realm and verifies the credentials answering them.
///
/// Nonces are stateless ([`super::nonce`]); the only state is the nonce-count table, bounded
/// by [`DigestAuth::with_max_tracked_nonces`]. When it is full the entry of the oldest nonce is
/// dropped, and from then on every nonce at least that old is answered as stale (the client
/// gets a new one) rather than trusted without its count. The table is not persisted: after a
/// restart, a request captured within the nonce lifetime could be replayed once, unless the
/// key changes with the restart.
pub struct DigestAuth {
    realm: String,
    key: [u8; 32],
    algorithms: Vec<Algorithm>,
    nonce_lifetime: u64,
    max_tracked: usize,
    next_seq: AtomicU64,
    /// Highest nonce count accepted per nonce, keyed by what the nonce says about itself.
    seen: BTreeMap<NonceInfo, u32>,
    /// The newest nonce whose entry was evicted: nonces up to it are answered as stale.
    evicted_upto: Option<NonceInfo>,
}

impl DigestAuth {
    /// Authentication for `realm`, with nonces keyed by `key` (derive it from the server's
    /// secret; keep it across restarts so nonces stay valid, change it to void them all).
    pub fn new(realm: impl Into<String>, key: [u8; 32]) -> DigestAuth {
        DigestAuth {
            realm: realm.into(),
            key,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            nonce_lifetime: DEFAULT_NONCE_LIFETIME,
            max_tracked: DEFAULT_MAX_TRACKED_NONCES,
            next_seq: AtomicU64::new(0),
            seen: BTreeMap::new(),
            evicted_upto: None,
        }
    }

    /// Sets how many seconds a nonce is good for (default 300).
    pub fn with_nonce_lifetime(mut self, secs: u64) -> DigestAuth {
        self.nonce_lifetime = secs;
        self
    }

    /// Sets how many nonces have their count tracked (default 4096, at least 1).
    pub fn with_max_tracked_nonces(mut self, max: usize) -> DigestAuth {
        self.max_tracked = max.max(1);
        self
    }

    /// Sets the algorithms offered, in order of preference, and accepted. An empty list
    /// leaves the default (`SHA-256`, `MD5`); duplicates are dropped.
    pub fn with_algorithms(mut self, algorithms: &[Algorithm]) -> DigestAuth {
        if !algorithms.is_empty() {
            self.algorithms.clear();
            for &a in algorithms {
                if !self.algorithms.contains(&a) {
                    self.algorithms.push(a);
                }
            }
        }
        self
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The algorithms offered and accepted, in order of preference.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The nonce lifetime in seconds.
    pub fn nonce_lifetime(&self) -> u64 {
        self.nonce_lifetime
    }

    /// How many nonces currently have their count tracked.
    pub fn tracked_nonces(&self) -> usize {
        self.seen.len()
    }

    /// One challenge per configured algorithm, most preferred first (by default SHA-256 then
    /// MD5, as RFC 8760 asks of a UAS), all with the same fresh nonce and `qop="auth"`. Put
    /// each in its own `WWW-Authenticate` (or `Proxy-Authenticate`) header line, in this
    /// order. Set `stale` after a [`AuthError::rejection`] that says so. The nonce is good
    /// only for requests from `client`, the address the challenged request came from.
    pub fn challenge(&self, now_secs: u64, stale: bool, client: IpAddr) -> Vec<Challenge> {
        self.challenge_with(now_secs, stale, client, &self.algorithms)
    }

    /// Like [`DigestAuth::challenge`] but for the given algorithms only, e.g. those a user's
    /// stored [`Secret`] [supports](Secret::supports).
    pub fn challenge_with(
        &self,
        now_secs: u64,
        stale: bool,
        client: IpAddr,
        algorithms: &[Algorithm],
    ) -> Vec<Challenge> {
        let info = NonceInfo {
            issued: now_secs,
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
        };
        let nonce = nonce::issue(&self.key, &self.realm, client, info);
        algorithms
            .iter()
            .map(|a| {
                let mut c = Challenge::digest();
                c.set("realm", self.realm.as_str());
                c.set("nonce", nonce.as_str());
                c.set("algorithm", a.as_str());
                c.set("qop", "auth");
                if stale {
                    c.set("stale", "true");
                }
                c
            })
            .collect()
    }

    /// Checks `creds` for a request with `method` (e.g. `REGISTER`) from `client` against
    /// the user's `secret` at `now_secs`. On success the nonce count is recorded, so the same
    /// credentials are refused if they come again. A nonce issued to another client address
    /// is [`AuthError::UnknownNonce`].
    pub fn verify(
        &mut self,
        creds: &Credentials,
        method: &str,
        secret: &Secret,
        client: IpAddr,
        now_secs: u64,
    ) -> Result<Verified, AuthError> {
        // Well-formedness first: these are answered with 400.
        if !creds.is_digest() {
            return Err(AuthError::NotDigest(creds.scheme.clone()));
        }
        let username = required(creds.username(), "username")?;
        let realm = required(creds.realm(), "realm")?;
        let nonce_str = required(creds.nonce(), "nonce")?;
        let uri = required(creds.uri(), "uri")?;
        let response = required(creds.response(), "response")?;
        let qop = required(creds.qop(), "qop")?;
        if !eq_ignore_case(qop, "auth") {
            return Err(AuthError::UnsupportedQop(qop.to_string()));
        }
        if creds.userhash() {
            return Err(AuthError::UserhashNotSupported);
        }
        let cnonce = required(creds.cnonce(), "cnonce")?;
        let nc_str = required(creds.nc(), "nc")?;
        let nc = parse_nc(nc_str)?;
        // RFC 7616 §3.4: no algorithm means MD5.
        let algorithm_token = creds.algorithm().unwrap_or("MD5");
        let algorithm = Algorithm::parse(algorithm_token)
            .filter(|a| self.algorithms.contains(a))
            .ok_or_else(|| AuthError::UnsupportedAlgorithm(algorithm_token.to_string()))?;
        let response = digest::decode_hex(response)
            .filter(|r| r.len() == algorithm.output_len())
            .ok_or(AuthError::Malformed {
                param: "response",
                reason: "not a hex digest of the algorithm's length",
            })?;

        // Who issued this nonce, for which realm.
        if realm != self.realm {
            return Err(AuthError::WrongRealm(realm.to_string()));
        }
        let info = nonce::open(&self.key, &self.realm, client, nonce_str)
            .ok_or(AuthError::UnknownNonce)?;

        // Does the client know the secret.
        let base_ha1 = secret
            .base_ha1(algorithm, username, realm)
            .ok_or(AuthError::NoSecretForAlgorithm(algorithm))?;
        let ha1 = digest::effective_ha1(algorithm, &base_ha1, nonce_str, cnonce);
        let ha2 = digest::ha2(algorithm, method, uri);
        let expected = digest::response(algorithm, &ha1, nonce_str, nc_str, cnonce, qop, &ha2);
        if !bool::from(expected.ct_eq(&response)) {
            return Err(AuthError::WrongResponse);
        }

        // Is the nonce still good, and is this request new.
        let nonce_age = now_secs.saturating_sub(info.issued);
        if nonce_age > self.nonce_lifetime {
            return Err(AuthError::StaleNonce);
        }
        self.prune_expired(now_secs);
        let last = match self.seen.get(&info) {
            Some(&last) => last,
            None if self.evicted_upto.is_some_and(|e| info <= e) => {
                return Err(AuthError::StaleNonce)
            }
            None => 0,
        };
        if nc <= last {
            return Err(AuthError::Replayed { nc, last });
        }
        self.seen.insert(info, nc);
        while self.seen.len() > self.max_tracked {
            if let Some((oldest, _)) = self.seen.pop_first() {
                self.evicted_upto = Some(self.evicted_upto.map_or(oldest, |e| e.max(oldest)));
            }
        }

        Ok(Verified {
            username: username.to_string(),
            algorithm,
            uri: uri.to_string(),
            nc,
            nonce_age,
        })
    }

    /// Drops the entries of nonces too old to be accepted anyway.
    fn prune_expired(&mut self, now_secs: u64) {
        let Some(cutoff) = now_secs.checked_sub(self.nonce_lifetime) else {
            return;
        };
        // Nonces issued before `cutoff` are older than the lifetime.
        let keep = self.seen.split_off(&NonceInfo {
            issued: cutoff,
            seq: 0,
        });
        self.seen = keep;
    }
}

impl fmt::Debug for DigestAuth {
    /// Shows the configuration, never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestAuth")
            .field("realm", &self.realm)
            .field("algorithms", &self.algorithms)
            .field("nonce_lifetime", &self.nonce_lifetime)
            .field("max_tracked", &self.max_tracked)
            .field("tracked", &self.seen.len())
            .finish_non_exhaustive()
    }
}

fn required<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str, AuthError> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(AuthError::Missing(name)),
    }
}

/// `nc-value = 8LHEX` (RFC 7616 §3.4); uppercase digits are tolerated, zero is not a count.
fn parse_nc(s: &str) -> Result<u32, AuthError> {
    let malformed = AuthError::Malformed {
        param: "nc",
        reason: "not 8 hex digits above zero",
    };
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed);
    }
    match u32::from_str_radix(s, 16) {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Rejection;
    use crate::headers::auth::{Authorization, WwwAuthenticate};
    use crate::headers::Header;

    const KEY: [u8; 32] = [0x5a; 32];
    const REALM: &str = "callcomp.example";
    const T0: u64 = 1_700_000_000;
    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    fn password() -> Secret {
        Secret::Password("s3cret".into())
    }

    /// A minimal client (RFC 7616 §3.4) answering `challenge` for `REGISTER sip:callcomp.example`.
    fn answer(challenge: &Challenge, username: &str, password: &str, nc: u32) -> Credentials {
        let alg = challenge
            .algorithm()
            .map_or(Some(Algorithm::Md5), Algorithm::parse)
            .unwrap();
        let realm = challenge.realm().unwrap();
        let nonce = challenge.nonce().unwrap();
        let uri = "sip:callcomp.example";
        let cnonce = "0a4f113b";
        let nc = format!("{nc:08x}");
        let ha1 = digest::ha1(alg, username, realm, password);
        let ha1 = digest::effective_ha1(alg, &ha1, nonce, cnonce);
        let ha2 = digest::ha2(alg, "REGISTER", uri);
        let response = digest::response(alg, &ha1, nonce, &nc, cnonce, "auth", &ha2);
        let mut c = Credentials::digest();
        c.set("username", username);
        c.set("realm", realm);
        c.set("nonce", nonce);
        c.set("uri", uri);
        c.set("response", digest::hex_lower(&response));
        c.set("algorithm", alg.as_str());
        c.set("cnonce", cnonce);
        c.set("nc", nc);
        c.set("qop", "auth");
        c
    }

    fn auth() -> DigestAuth {
        DigestAuth::new(REALM, KEY)
    }

    #[test]
    fn challenges_offer_sha256_then_md5() {
        let a = auth();
        let cs = a.challenge(T0, false, CLIENT);
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].algorithm(), Some("SHA-256"));
        assert_eq!(cs[1].algorithm(), Some("MD5"));
        for c in &cs {
            assert!(c.is_digest());
            assert_eq!(c.realm(), Some(REALM));
            assert_eq!(c.qop_options().collect::<Vec<_>>(), vec!["auth"]);
            assert!(!c.stale());
            assert_eq!(c.nonce(), cs[0].nonce());
        }
        // Wire form parses back as a header.
        let wire = WwwAuthenticate(cs[0].clone()).to_value();
        assert!(wire.starts_with(&format!("Digest realm=\"{REALM}\", nonce=\"")));
        assert!(
            wire.ends_with("\", algorithm=SHA-256, qop=\"auth\""),
            "{wire}"
        );
        assert_eq!(WwwAuthenticate::parse(&wire).unwrap().0, cs[0]);

        // Each call gets a new nonce, even within the same second.
        let again = a.challenge(T0, true, CLIENT);
        assert_ne!(again[0].nonce(), cs[0].nonce());
        assert!(again.iter().all(Challenge::stale));
    }

    #[test]
    fn round_trip_for_each_algorithm() {
        for alg in [
            Algorithm::Sha256,
            Algorithm::Md5,
            Algorithm::Sha256Sess,
            Algorithm::Md5Sess,
        ] {
            let mut a = auth().with_algorithms(&[alg]);
            let c = &a.challenge(T0, false, CLIENT)[0];
            assert_eq!(c.algorithm(), Some(alg.as_str()));
            let creds = answer(c, "alice", "s3cret", 1);
            // Through the header writer and parser, as on the wire.
            let creds = Authorization::parse(&Authorization(creds).to_value())
                .unwrap()
                .0;
            let v = a
                .verify(&creds, "REGISTER", &password(), CLIENT, T0 + 10)
                .unwrap();
            assert_eq!(
                v,
                Verified {
                    username: "alice".into(),
                    algorithm: alg,
                    uri: "sip:callcomp.example".into(),
                    nc: 1,
                    nonce_age: 10,
                }
            );
            // Also against stored HA1 values.
            let ha1 = Secret::ha1_from_password("alice", REALM, "s3cret");
            let creds = answer(c, "alice", "s3cret", 2);
            assert!(
                a.verify(&creds, "REGISTER", &ha1, CLIENT, T0 + 11).is_ok(),
                "{alg}"
            );
        }
    }

    #[test]
    fn wrong_password_user_method_or_uri_is_401() {
        let mut a = auth();
        let c = &a.challenge(T0, false, CLIENT)[0];
        let rows: [(&str, Credentials, &str); 4] = [
            ("password", answer(c, "alice", "guess", 1), "REGISTER"),
            ("username", answer(c, "mallory", "s3cret", 1), "REGISTER"),
            ("method", answer(c, "alice", "s3cret", 1), "INVITE"),
            (
                "uri",
                {
                    let mut x = answer(c, "alice", "s3cret", 1);
                    x.set("uri", "sip:other.example");
                    x
                },
                "REGISTER",
            ),
        ];
        for (what, creds, method) in rows {
            let mut creds = creds;
            // Each response was computed over something other than what is claimed; the
            // "username" row hashed "mallory" but claims to be alice.
            creds.set("username", "alice");
            let err = a
                .verify(&creds, method, &password(), CLIENT, T0)
                .unwrap_err();
            assert_eq!(err, AuthError::WrongResponse, "{what}");
            assert_eq!(
                err.rejection(),
                Rejection {
                    status: 401,
                    stale: false
                }
            );
        }
        // A failed guess does not consume the nonce count.
        let good = answer(c, "alice", "s3cret", 1);
        assert!(a.verify(&good, "REGISTER", &password(), CLIENT, T0).is_ok());
    }

    #[test]
    fn nonce_count_must_increase() {
        let mut a = auth();
        let c = &a.challenge(T0, false, CLIENT)[0];
        let first = answer(c, "alice", "s3cret", 1);
        assert!(a
            .verify(&first, "REGISTER", &password(), CLIENT, T0)
            .is_ok());
        let err = a
            .verify(&first, "REGISTER", &password(), CLIENT, T0 + 1)
            .unwrap_err();
        assert_eq!(err, AuthError::Replayed { nc: 1, last: 1 });
        assert_eq!(err.rejection().status, 401);
        assert!(err.rejection().stale);
        let third = answer(c, "alice", "s3cret", 3);
        assert_eq!(
            a.verify(&third, "REGISTER", &password(), CLIENT, T0 + 2)
                .unwrap()
                .nc,
            3
        );
        let second = answer(c, "alice", "s3cret", 2);
        assert_eq!(
            a.verify(&second, "REGISTER", &password(), CLIENT, T0 + 3),
            Err(AuthError::Replayed { nc: 2, last: 3 })
        );
        // Two nonces from the same second are counted separately.
        let other = &a.challenge(T0, false, CLIENT)[0];
        let creds = answer(other, "alice", "s3cret", 1);
        assert!(a
            .verify(&creds, "REGISTER", &password(), CLIENT, T0 + 4)
            .is_ok());
        assert_eq!(a.tracked_nonces(), 2);
    }

    #[test]
    fn expired_nonce_is_stale_only_with_the_right_password() {
        let mut a = auth().with_nonce_lifetime(60);
        let c = &a.challenge(T0, false, CLIENT)[0];
        // At exactly the lifetime the nonce is still good.
        let creds = answer(c, "alice", "s3cret", 1);
        assert!(a
            .verify(&creds, "REGISTER", &password(), CLIENT, T0 + 60)
            .is_ok());
        let creds = answer(c, "alice", "s3cret", 2);
        let err = a
            .verify(&creds, "REGISTER", &password(), CLIENT, T0 + 61)
            .unwrap_err();
        assert_eq!(err, AuthError::StaleNonce);
        assert_eq!(
            err.rejection(),
            Rejection {
                status: 401,
                stale: true
            }
        );
        let wrong = answer(c, "alice", "guess", 2);
        assert_eq!(
            a.verify(&wrong, "REGISTER", &password(), CLIENT, T0 + 61),
            Err(AuthError::WrongResponse)
        );
        // The expired entry is pruned from the table.
        let fresh = &a.challenge(T0 + 61, true, CLIENT)[0];
        let creds = answer(fresh, "alice", "s3cret", 1);
        assert!(a
            .verify(&creds, "REGISTER", &password(), CLIENT, T0 + 62)
            .is_ok());
        assert_eq!(a.tracked_nonces(), 1);
    }

    #[test]
    fn table_is_bounded_and_evicted_nonces_go_stale() {
        let mut a = auth().with_max_tracked_nonces(2);
        let cs: Vec<Challenge> = (0..3)
            .map(|i| a.challenge(T0 + i, false, CLIENT).remove(0))
            .collect();
        for c in &cs {
            let creds = answer(c, "alice", "s3cret", 1);
            assert!(a
                .verify(&creds, "REGISTER", &password(), CLIENT, T0 + 5)
                .is_ok());
        }
        assert_eq!(a.tracked_nonces(), 2);
        // The oldest nonce lost its entry: even a proper next count gets a new nonce.
        let creds = answer(&cs[0], "alice", "s3cret", 2);
        assert_eq!(
            a.verify(&creds, "REGISTER", &password(), CLIENT, T0 + 6),
            Err(AuthError::StaleNonce)
        );
        // Replays of it are not accepted either.
        let creds = answer(&cs[0], "alice", "s3cret", 1);
        assert_eq!(
            a.verify(&creds, "REGISTER", &password(), CLIENT, T0 + 6),
            Err(AuthError::StaleNonce)
        );
        // The tracked ones carry on.
        let creds = answer(&cs[2], "alice", "s3cret", 2);
        assert!(a
            .verify(&creds, "REGISTER", &password(), CLIENT, T0 + 6)
            .is_ok());
    }

    #[test]
    fn tampered_or_foreign_nonce_is_unknown() {
        let mut a = auth();
        let c = a.challenge(T0, false, CLIENT).remove(0);
        let nonce = c.nonce().unwrap().to_string();
        // Move the timestamp forward to extend the nonce's life: the MAC no longer matches.
        let mut later = c.clone();
        later.set("nonce", format!("{:016x}{}", T0 + 1000, &nonce[16..]));
        let mut garbage = c.clone();
        garbage.set("nonce", "dcd98b7102dd2f0e8b11d0f600bfb0c093");
        let other_key = DigestAuth::new(REALM, [1; 32])
            .challenge(T0, false, CLIENT)
            .remove(0);
        for (what, ch) in [("time", later), ("garbage", garbage), ("key", other_key)] {
            let creds = answer(&ch, "alice", "s3cret", 1);
            let err = a
                .verify(&creds, "REGISTER", &password(), CLIENT, T0)
                .unwrap_err();
            assert_eq!(err, AuthError::UnknownNonce, "{what}");
            assert_eq!(err.rejection().status, 401);
            assert!(!err.rejection().stale);
        }
    }

    #[test]
    fn nonce_from_another_client_is_unknown() {
        let mut a = auth();
        let c = &a.challenge(T0, false, CLIENT)[0];
        let creds = answer(c, "alice", "s3cret", 1);
        let other: IpAddr = "198.51.100.9".parse().unwrap();
        let err = a
            .verify(&creds, "REGISTER", &password(), other, T0)
            .unwrap_err();
        assert_eq!(err, AuthError::UnknownNonce);
        assert_eq!(err.rejection().status, 401);
        // The client it was issued to may still use it.
        assert!(a
            .verify(&creds, "REGISTER", &password(), CLIENT, T0)
            .is_ok());
    }

    #[test]
    fn wrong_realm_is_401() {
        let mut a = auth();
        let c = &a.challenge(T0, false, CLIENT)[0];
        let mut creds = answer(c, "alice", "s3cret", 1);
        creds.set("realm", "evil.example");
        let err = a
            .verify(&creds, "REGISTER", &password(), CLIENT, T0)
            .unwrap_err();
        assert_eq!(err, AuthError::WrongRealm("evil.example".into()));
        assert_eq!(err.rejection().status, 401);
        // A nonce minted for another realm with the same key does not pass either.
        let mut other = DigestAuth::new("evil.example", KEY);
        let c = &a.challenge(T0, false, CLIENT)[0];
        let creds = answer(c, "alice", "s3cret", 1);
        assert_eq!(
            other.verify(&creds, "REGISTER", &password(), CLIENT, T0),
            Err(AuthError::WrongRealm(REALM.into()))
        );
        let mut forged = answer(c, "alice", "s3cret", 1);
        forged.set("realm", "evil.example");
        assert_eq!(
            other.verify(&forged, "REGISTER", &password(), CLIENT, T0),
            Err(AuthError::UnknownNonce)
        );
    }

    #[test]
    fn malformed_credentials_are_400() {
        let mut a = auth();
        let c = &a.challenge(T0, false, CLIENT)[0];
        let good = answer(c, "alice", "s3cret", 1);
        let mut rows: Vec<(Credentials, AuthError)> = Vec::new();
        for name in [
            "username", "realm", "nonce", "uri", "response", "qop", "cnonce", "nc",
        ] {
            let mut x = good.clone();
            x.params.retain(|p| p.name != name);
            let missing = match name {
                "username" => "username",
                "realm" => "realm",
                "nonce" => "nonce",
                "uri" => "uri",
                "response" => "response",
                "qop" => "qop",
                "cnonce" => "cnonce",
                _ => "nc",
            };
            rows.push((x.clone(), AuthError::Missing(missing)));
            let mut empty = good.clone();
            empty.set(name, "");
            rows.push((empty, AuthError::Missing(missing)));
        }
        let nc_bad = AuthError::Malformed {
            param: "nc",
            reason: "not 8 hex digits above zero",
        };
        for nc in ["1", "0000000g", "00000000", "000000001", "+0000001"] {
            let mut x = good.clone();
            x.set("nc", nc);
            rows.push((x, nc_bad.clone()));
        }
        let response_bad = AuthError::Malformed {
            param: "response",
            reason: "not a hex digest of the algorithm's length",
        };
        for r in ["abc", "zz", &"0".repeat(32)] {
            let mut x = good.clone();
            x.set("response", r);
            rows.push((x, response_bad.clone()));
        }
        let mut x = good.clone();
        x.set("qop", "auth-int");
        rows.push((x, AuthError::UnsupportedQop("auth-int".into())));
        let mut x = good.clone();
        x.set("userhash", "true");
        rows.push((x, AuthError::UserhashNotSupported));

        for (creds, expected) in rows {
            let err = a
                .verify(&creds, "REGISTER", &password(), CLIENT, T0)
                .unwrap_err();
            assert_eq!(err, expected, "{creds}");
            assert_eq!(err.rejection().status, 400, "{creds}");
        }
        // None of these consumed the count.
        assert!(a.verify(&good, "REGISTER", &password(), CLIENT, T0).is_ok());
    }

    #[test]
    fn scheme_and_algorithm_checks() {
        let mut a = auth().with_algorithms(&[Algorithm::Sha256]);
        let c = &a.challenge(T0, false, CLIENT)[0];
        let mut basic = answer(c, "alice", "s3cret", 1);
        basic.scheme = "Basic".into();
        assert_eq!(
            a.verify(&basic, "REGISTER", &password(), CLIENT, T0),
            Err(AuthError::NotDigest("Basic".into()))
        );
        // MD5 (explicit or by omission) is not accepted when only SHA-256 is configured.
        let mut md5 = c.clone();
        md5.set("algorithm", "MD5");
        let creds = answer(&md5, "alice", "s3cret", 1);
        assert_eq!(
            a.verify(&creds, "REGISTER", &password(), CLIENT, T0),
            Err(AuthError::UnsupportedAlgorithm("MD5".into()))
        );
        let mut x = creds.clone();
        x.params.retain(|p| p.name != "algorithm");
        assert_eq!(
            a.verify(&x, "REGISTER", &password(), CLIENT, T0),
            Err(AuthError::UnsupportedAlgorithm("MD5".into()))
        );
        // With the default configuration, omitting the algorithm means MD5 and is accepted.
        let mut default = auth();
        let mut creds_md5 = answer(&md5, "alice", "s3cret", 1);
        creds_md5.params.retain(|p| p.name != "algorithm");
        assert_eq!(
            default
                .verify(&creds_md5, "REGISTER", &password(), CLIENT, T0)
                .map(|v| v.algorithm),
            Ok(Algorithm::Md5)
        );
        let mut x = creds;
        x.set("algorithm", "SHA-512-256");
        assert_eq!(
            a.verify(&x, "REGISTER", &password(), CLIENT, T0),
            Err(AuthError::UnsupportedAlgorithm("SHA-512-256".into()))
        );
        // A user with only an MD5 HA1 cannot answer a SHA-256 challenge.
        let md5_only = Secret::ha1_from_hex(Some(&"0".repeat(32)), None).unwrap();
        let creds = answer(c, "alice", "s3cret", 1);
        assert_eq!(
            a.verify(&creds, "REGISTER", &md5_only, CLIENT, T0),
            Err(AuthError::NoSecretForAlgorithm(Algorithm::Sha256))
        );
        let only_md5 = a.challenge_with(T0, false, CLIENT, &[Algorithm::Md5]);
        assert_eq!(only_md5.len(), 1);
        assert_eq!(only_md5[0].algorithm(), Some("MD5"));
    }

    #[test]
    fn debug_hides_the_key() {
        let d = format!("{:?}", auth());
        assert!(d.contains(REALM));
        assert!(!d.contains("90"), "{d}");
    }
}
