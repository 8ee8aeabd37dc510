//! Fresh identifiers for what callcomp originates: tags (RFC 3261 §19.3), Via branches
//! (§8.1.1.7, with the magic cookie) and Call-IDs (§8.1.1.4). Random enough that two never
//! collide in practice; none of them is a secret.
//!
//! They come from one generator per thread, seeded from the operating system; [`seed`]
//! makes it deterministic (the core's tests seed it, so a test's identifiers, and so every
//! message the core sends, are the same on every run).

use std::cell::RefCell;
use std::sync::OnceLock;

use callcomp_sip::headers::via::MAGIC_COOKIE;
use rand::distr::Alphanumeric;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

thread_local! {
    static RNG: RefCell<StdRng> = RefCell::new(StdRng::from_os_rng());
}

/// Makes this thread's identifiers come from a generator seeded with `seed`.
pub fn seed(seed: u64) {
    RNG.with(|rng| *rng.borrow_mut() = StdRng::seed_from_u64(seed));
}

/// A random token of `len` letters and digits.
fn token(len: usize) -> String {
    RNG.with(|rng| {
        let mut rng = rng.borrow_mut();
        (0..len)
            .map(|_| char::from(rng.sample(Alphanumeric)))
            .collect()
    })
}

/// A new From/To tag.
pub fn tag() -> String {
    token(12)
}

/// A new Via branch, starting with the RFC 3261 magic cookie.
pub fn branch() -> String {
    format!("{MAGIC_COOKIE}{}", token(16))
}

/// What every Call-ID callcomp makes starts with.
pub const CALL_ID_PREFIX: &str = "callcomp-";

/// This process's token, in every Call-ID it makes: a request of ours that comes back (a loop)
/// carries it and is answered 482, while another callcomp (a trunk), whose Call-IDs have the
/// same shape, has its own. Drawn once from the operating system's randomness (not from the
/// seeded generator: it must differ between two servers even when both are seeded alike).
fn process_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let mut rng = StdRng::from_os_rng();
        (0..8)
            .map(|_| char::from(rng.sample(Alphanumeric)))
            .collect()
    })
}

/// A new Call-ID, `callcomp-<process token>-<random>@<host>`.
pub fn call_id(host: &str) -> String {
    format!("{CALL_ID_PREFIX}{}-{}@{host}", process_token(), token(20))
}

/// Whether `call_id` is one this process made (it carries this process's token).
pub fn is_own_call_id(call_id: &str) -> bool {
    call_id
        .strip_prefix(CALL_ID_PREFIX)
        .and_then(|rest| rest.strip_prefix(process_token()))
        .is_some_and(|rest| rest.starts_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_have_their_shapes_and_differ() {
        assert!(branch().starts_with("z9hG4bK"));
        assert_eq!(tag().len(), 12);
        assert_ne!(tag(), tag());
        assert!(call_id("192.0.2.1").ends_with("@192.0.2.1"));
        assert!(call_id("192.0.2.1").starts_with(CALL_ID_PREFIX));
    }

    /// Only this process's Call-IDs are its own: another callcomp's (same shape, its own
    /// token) and anyone else's are not.
    #[test]
    fn own_call_ids_carry_this_processs_token() {
        let ours = call_id("192.0.2.1");
        assert!(is_own_call_id(&ours));
        let token = process_token();
        assert_eq!(token.len(), 8);
        let other_token: String = token
            .chars()
            .map(|c| if c == 'a' { 'b' } else { 'a' })
            .collect();
        let theirs = format!("{CALL_ID_PREFIX}{other_token}-Xy12@192.0.2.9");
        assert!(!is_own_call_id(&theirs), "another callcomp's");
        assert!(!is_own_call_id("callcomp-abc@127.0.0.1"));
        assert!(
            !is_own_call_id(&format!("{CALL_ID_PREFIX}{token}")),
            "no random part"
        );
        assert!(!is_own_call_id("1-2345@192.0.2.1"));
        // The seeded generator does not change the token.
        seed(7);
        assert!(is_own_call_id(&call_id("h")));
        assert!(call_id("h").starts_with(&format!("{CALL_ID_PREFIX}{token}-")));
    }

    #[test]
    fn a_seeded_generator_repeats_its_identifiers() {
        seed(7);
        let first = (tag(), branch(), call_id("h"));
        seed(7);
        assert_eq!((tag(), branch(), call_id("h")), first);
        seed(8);
        assert_ne!(tag(), first.0);
    }
}
