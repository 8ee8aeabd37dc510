//! Fresh identifiers for what callcomp originates: tags (RFC 3261 §19.3), Via branches
//! (§8.1.1.7, with the magic cookie) and Call-IDs (§8.1.1.4). Random enough that two never
//! collide in practice; none of them is a secret.
//!
//! They come from one generator per thread, seeded from the operating system; [`seed`]
//! makes it deterministic (the core's tests seed it, so a test's identifiers, and so every
//! message the core sends, are the same on every run).

use std::cell::RefCell;

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

/// What every Call-ID callcomp makes starts with, so that a request of ours that comes back
/// (a loop) is recognised and answered 482.
pub const CALL_ID_PREFIX: &str = "callcomp-";

/// A new Call-ID, `callcomp-<random>@<host>`.
pub fn call_id(host: &str) -> String {
    format!("{CALL_ID_PREFIX}{}@{host}", token(20))
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
