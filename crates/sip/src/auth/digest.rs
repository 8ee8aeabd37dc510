//! The digest computations of RFC 7616 §3.4.1–§3.4.3 (HA1, HA2, request-digest) for the
//! algorithms callcomp knows: MD5 and SHA-256 (RFC 8760 brings SHA-256 to SIP) and their
//! `-sess` variants.
//!
//! Only `qop=auth` is computed: `auth-int` (which hashes the body) and the RFC 2069 form
//! without qop are not supported. Hex output is lowercase, as the `LHEX` grammar requires.

use md5::Md5;
use sha2::{Digest, Sha256};

/// A digest algorithm (RFC 7616 §3.3 `algorithm`, RFC 8760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`: the RFC 3261 default, kept for older user agents.
    Md5,
    /// `MD5-sess`: MD5 with HA1 bound to the nonce and cnonce.
    Md5Sess,
    /// `SHA-256` (RFC 8760): preferred.
    Sha256,
    /// `SHA-256-sess`: SHA-256 with HA1 bound to the nonce and cnonce.
    Sha256Sess,
}

impl Algorithm {
    /// Parses an `algorithm` token, ignoring case; `None` for anything else (e.g.
    /// `SHA-512-256`, which callcomp does not support).
    pub fn parse(s: &str) -> Option<Algorithm> {
        [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
        ]
        .into_iter()
        .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    /// The token as RFC 7616 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// True for the `-sess` variants.
    pub fn is_session(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// True when the underlying hash is SHA-256.
    pub fn is_sha256(self) -> bool {
        matches!(self, Algorithm::Sha256 | Algorithm::Sha256Sess)
    }

    /// Length of the hash output in bytes (16 for MD5, 32 for SHA-256).
    pub fn output_len(self) -> usize {
        if self.is_sha256() {
            32
        } else {
            16
        }
    }

    /// The hash of `data`, raw bytes.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        if self.is_sha256() {
            Sha256::digest(data).to_vec()
        } else {
            Md5::digest(data).to_vec()
        }
    }

    /// The hash of `data` in lowercase hex: RFC 7616's `H(data)`.
    pub fn hash_hex(self, data: &[u8]) -> String {
        hex_lower(&self.hash(data))
    }
}

impl std::fmt::Display for Algorithm {
    /// The RFC 7616 token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `H(username ":" realm ":" password)` in hex: the base HA1 that a server may store instead
/// of the password (RFC 7616 §3.4.2). The same for a `-sess` algorithm and its base.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash_hex(format!("{username}:{realm}:{password}").as_bytes())
}

/// The HA1 that enters the response: `base_ha1` itself, or for a `-sess` algorithm
/// `H(base_ha1 ":" nonce ":" cnonce)` (RFC 7616 §3.4.2).
pub fn effective_ha1(algorithm: Algorithm, base_ha1: &str, nonce: &str, cnonce: &str) -> String {
    if algorithm.is_session() {
        algorithm.hash_hex(format!("{base_ha1}:{nonce}:{cnonce}").as_bytes())
    } else {
        base_ha1.to_string()
    }
}

/// `H(method ":" uri)` in hex: HA2 for `qop=auth` (RFC 7616 §3.4.3).
pub fn ha2(algorithm: Algorithm, method: &str, uri: &str) -> String {
    algorithm.hash_hex(format!("{method}:{uri}").as_bytes())
}

/// The raw bytes of the request-digest for `qop=auth`:
/// `H(ha1 ":" nonce ":" nc ":" cnonce ":" qop ":" ha2)` (RFC 7616 §3.4.1), where `ha1` is the
/// [`effective_ha1`]. `nc` and `qop` are taken exactly as the client wrote them.
pub fn response(
    algorithm: Algorithm,
    ha1: &str,
    nonce: &str,
    nc: &str,
    cnonce: &str,
    qop: &str,
    ha2: &str,
) -> Vec<u8> {
    algorithm.hash(format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}").as_bytes())
}

/// Lowercase hex of `bytes`.
pub fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes hex digits of either case; `None` for an odd length or a non-hex character.
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256.
    #[test]
    fn rfc_7616_example_vectors() {
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let rows = [
            (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
            (
                Algorithm::Sha256,
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ];
        for (alg, expected) in rows {
            let h1 = ha1(alg, "Mufasa", "http-auth@example.org", "Circle of Life");
            let h1 = effective_ha1(alg, &h1, nonce, cnonce);
            let h2 = ha2(alg, "GET", "/dir/index.html");
            let r = response(alg, &h1, nonce, "00000001", cnonce, "auth", &h2);
            assert_eq!(hex_lower(&r), expected, "{alg}");
            assert_eq!(r.len(), alg.output_len());
        }
    }

    /// RFC 2617 §3.5 (the classic MD5 example) with qop=auth.
    #[test]
    fn rfc_2617_example_vector() {
        let alg = Algorithm::Md5;
        let h1 = ha1(alg, "Mufasa", "testrealm@host.com", "Circle Of Life");
        let h2 = ha2(alg, "GET", "/dir/index.html");
        let r = response(
            alg,
            &h1,
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "00000001",
            "0a4f113b",
            "auth",
            &h2,
        );
        assert_eq!(hex_lower(&r), "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn session_variants_rehash_ha1() {
        let base = ha1(Algorithm::Md5, "u", "r", "p");
        assert_eq!(effective_ha1(Algorithm::Md5, &base, "n", "c"), base);
        let sess = effective_ha1(Algorithm::Md5Sess, &base, "n", "c");
        assert_eq!(
            sess,
            Algorithm::Md5.hash_hex(format!("{base}:n:c").as_bytes())
        );
        assert_ne!(sess, base);
    }

    #[test]
    fn algorithm_tokens() {
        let rows = [
            ("MD5", Some(Algorithm::Md5)),
            ("md5", Some(Algorithm::Md5)),
            ("MD5-sess", Some(Algorithm::Md5Sess)),
            ("SHA-256", Some(Algorithm::Sha256)),
            ("sha-256-SESS", Some(Algorithm::Sha256Sess)),
            ("SHA-512-256", None),
            ("SHA256", None),
            ("", None),
        ];
        for (token, expected) in rows {
            assert_eq!(Algorithm::parse(token), expected, "{token:?}");
            if let Some(a) = expected {
                assert_eq!(Algorithm::parse(a.as_str()), Some(a));
            }
        }
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex_lower(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(decode_hex("00ABff"), Some(vec![0x00, 0xab, 0xff]));
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("+1"), None);
        assert_eq!(decode_hex(""), Some(vec![]));
    }
}
