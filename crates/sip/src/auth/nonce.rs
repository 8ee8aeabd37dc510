//! Self-validating nonces (RFC 7616 §3.3 leaves the nonce format to the server, §5.4 and §5.5
//! discuss its lifetime).
//!
//! A nonce is 64 lowercase hex digits: the issue time in seconds (16 digits), a sequence
//! number (16 digits) that makes nonces issued in the same second distinct, and the first
//! 128 bits of `HMAC-SHA256(key, issued ‖ seq ‖ client ‖ realm)` (32 digits), with `issued`
//! and `seq` as 8-byte big-endian integers and `client` the IP address the challenge was sent
//! to (16 bytes, IPv4 as IPv4-mapped IPv6). The server keeps no state to recognise its own
//! nonces; a nonce from another realm, another key, for another client address or with any
//! digit changed fails the MAC. Binding the client (RFC 7616 §3.3 suggests the client's IP
//! address in the nonce) means a nonce obtained from one address is worthless from another,
//! so a spoofed-source request cannot be answered with a nonce the attacker fetched itself.
//! Truncating the HMAC to 128 bits is allowed by RFC 2104 §5 and keeps challenges short.

use std::net::IpAddr;

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

/// Builds the nonce for `info` under `key` and `realm`, for the client at `client`.
pub fn issue(key: &[u8; 32], realm: &str, client: IpAddr, info: NonceInfo) -> String {
    let mut out = String::with_capacity(NONCE_LEN);
    out.push_str(&format!("{:016x}{:016x}", info.issued, info.seq));
    let tag = mac(key, realm, client, info).finalize().into_bytes();
    out.push_str(&hex_lower(&tag[..TAG_LEN]));
    out
}

/// Checks that `nonce` was issued under `key` for `realm` to the client at `client` and says
/// when; `None` for anything that is not such a nonce. The MAC is compared in constant time.
pub fn open(key: &[u8; 32], realm: &str, client: IpAddr, nonce: &str) -> Option<NonceInfo> {
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
    mac(key, realm, client, info)
        .verify_truncated_left(&tag)
        .ok()?;
    Some(info)
}

fn mac(key: &[u8; 32], realm: &str, client: IpAddr, info: NonceInfo) -> Hmac<Sha256> {
    // HMAC pads a short key with zeros to the hash's block size (RFC 2104 §2); doing it here
    // gives the infallible fixed-size constructor the same key.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as Mac>::new(&block.into());
    mac.update(&info.issued.to_be_bytes());
    mac.update(&info.seq.to_be_bytes());
    // One 16-byte form for both families, so the input stays unambiguous.
    let client = match client {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    mac.update(&client.octets());
    mac.update(realm.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];
    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

    #[test]
    fn issued_nonces_open() {
        let info = NonceInfo {
            issued: 1_700_000_000,
            seq: 42,
        };
        let n = issue(&KEY, "example.com", CLIENT, info);
        assert_eq!(n.len(), NONCE_LEN);
        assert!(n.starts_with("000000006553f100000000000000002a"));
        assert_eq!(open(&KEY, "example.com", CLIENT, &n), Some(info));
    }

    /// 192.0.2.7 as an IPv4-mapped IPv6 address.
    const CLIENT_MAPPED: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7];

    /// The zero-padded fixed-size key gives the HMAC of the 32-byte key (RFC 2104 §2).
    #[test]
    fn padded_key_is_the_same_hmac() {
        let info = NonceInfo { issued: 9, seq: 3 };
        let mut reference = <Hmac<Sha256> as Mac>::new_from_slice(&KEY).unwrap();
        reference.update(&9u64.to_be_bytes());
        reference.update(&3u64.to_be_bytes());
        reference.update(&CLIENT_MAPPED);
        reference.update(b"r");
        assert_eq!(
            mac(&KEY, "r", CLIENT, info).finalize().into_bytes(),
            reference.finalize().into_bytes()
        );
    }

    #[test]
    fn foreign_or_tampered_nonces_do_not_open() {
        let info = NonceInfo { issued: 5, seq: 1 };
        let n = issue(&KEY, "example.com", CLIENT, info);
        assert_eq!(open(&KEY, "other.com", CLIENT, &n), None, "other realm");
        assert_eq!(open(&[8; 32], "example.com", CLIENT, &n), None, "other key");
        let elsewhere: IpAddr = "192.0.2.8".parse().unwrap();
        assert_eq!(
            open(&KEY, "example.com", elsewhere, &n),
            None,
            "other client"
        );
        // The same address in its IPv4-mapped IPv6 spelling is the same client.
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(open(&KEY, "example.com", mapped, &n), Some(info));
        // Change each position in turn: the time, the sequence and the tag are all covered.
        for i in 0..n.len() {
            let mut bytes = n.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let t = String::from_utf8(bytes).unwrap();
            assert_eq!(open(&KEY, "example.com", CLIENT, &t), None, "digit {i}");
        }
        let bad = |n: &str| open(&KEY, "example.com", CLIENT, n);
        assert_eq!(bad(&n.to_uppercase()), None);
        assert_eq!(bad(&n[..63]), None);
        assert_eq!(bad(&format!("{n}0")), None);
        assert_eq!(bad(""), None);
        assert_eq!(bad(&"é".repeat(32)), None);
    }
}
