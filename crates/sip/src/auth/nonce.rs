//! Self-validating nonces (RFC 7616 §3.3 leaves the nonce format to the server, §5.4 and §5.5
//! discuss its lifetime).
//!
//! A nonce is 64 lowercase hex digits: the issue time in seconds (16 digits), a sequence
//! number (16 digits) that makes nonces issued in the same second distinct, and the first
//! 128 bits of `HMAC-SHA256(key, issued ‖ seq ‖ realm)` (32 digits), with `issued` and `seq`
//! as 8-byte big-endian integers. The server keeps no state to recognise its own nonces; a
//! nonce from another realm, another key or with any digit changed fails the MAC. Truncating
//! the HMAC to 128 bits is allowed by RFC 2104 §5 and keeps challenges short.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::digest::{decode_hex, hex_lower};

/// Length of a nonce in characters.
pub const NONCE_LEN: usize = 64;

/// Bytes of the HMAC kept in the nonce.
const TAG_LEN: usize = 16;

/// What an authentic nonce says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NonceInfo {
    /// When it was issued, in the caller's seconds.
    pub issued: u64,
    /// Its sequence number among the nonces this server instance issued.
    pub seq: u64,
}

/// Builds the nonce for `info` under `key` and `realm`.
pub fn issue(key: &[u8; 32], realm: &str, info: NonceInfo) -> String {
    let mut out = String::with_capacity(NONCE_LEN);
    out.push_str(&format!("{:016x}{:016x}", info.issued, info.seq));
    let tag = mac(key, realm, info).finalize().into_bytes();
    out.push_str(&hex_lower(&tag[..TAG_LEN]));
    out
}

/// Checks that `nonce` was issued under `key` for `realm` and says when; `None` for anything
/// that is not such a nonce. The MAC is compared in constant time.
pub fn open(key: &[u8; 32], realm: &str, nonce: &str) -> Option<NonceInfo> {
    // Only lowercase hex is issued; refusing other forms keeps one spelling per nonce.
    if nonce.len() != NONCE_LEN
        || !nonce
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let issued = u64::from_str_radix(nonce.get(..16)?, 16).ok()?;
    let seq = u64::from_str_radix(nonce.get(16..32)?, 16).ok()?;
    let tag = decode_hex(nonce.get(32..)?)?;
    let info = NonceInfo { issued, seq };
    mac(key, realm, info).verify_truncated_left(&tag).ok()?;
    Some(info)
}

fn mac(key: &[u8; 32], realm: &str, info: NonceInfo) -> Hmac<Sha256> {
    // HMAC pads a short key with zeros to the hash's block size (RFC 2104 §2); doing it here
    // gives the infallible fixed-size constructor the same key.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as Mac>::new(&block.into());
    mac.update(&info.issued.to_be_bytes());
    mac.update(&info.seq.to_be_bytes());
    mac.update(realm.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn issued_nonces_open() {
        let info = NonceInfo {
            issued: 1_700_000_000,
            seq: 42,
        };
        let n = issue(&KEY, "example.com", info);
        assert_eq!(n.len(), NONCE_LEN);
        assert!(n.starts_with("000000006553f100000000000000002a"));
        assert_eq!(open(&KEY, "example.com", &n), Some(info));
    }

    /// The zero-padded fixed-size key gives the HMAC of the 32-byte key (RFC 2104 §2).
    #[test]
    fn padded_key_is_the_same_hmac() {
        let info = NonceInfo { issued: 9, seq: 3 };
        let mut reference = <Hmac<Sha256> as Mac>::new_from_slice(&KEY).unwrap();
        reference.update(&9u64.to_be_bytes());
        reference.update(&3u64.to_be_bytes());
        reference.update(b"r");
        assert_eq!(
            mac(&KEY, "r", info).finalize().into_bytes(),
            reference.finalize().into_bytes()
        );
    }

    #[test]
    fn foreign_or_tampered_nonces_do_not_open() {
        let info = NonceInfo { issued: 5, seq: 1 };
        let n = issue(&KEY, "example.com", info);
        assert_eq!(open(&KEY, "other.com", &n), None, "other realm");
        assert_eq!(open(&[8; 32], "example.com", &n), None, "other key");
        // Change each position in turn: the time, the sequence and the tag are all covered.
        for i in 0..n.len() {
            let mut bytes = n.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let t = String::from_utf8(bytes).unwrap();
            assert_eq!(open(&KEY, "example.com", &t), None, "digit {i}");
        }
        assert_eq!(open(&KEY, "example.com", &n.to_uppercase()), None);
        assert_eq!(open(&KEY, "example.com", &n[..63]), None);
        assert_eq!(open(&KEY, "example.com", &format!("{n}0")), None);
        assert_eq!(open(&KEY, "example.com", ""), None);
        assert_eq!(open(&KEY, "example.com", &"é".repeat(32)), None);
    }
}
