//! Fresh identifiers for what callcomp originates: tags (RFC 3261 §19.3), Via branches
//! (§8.1.1.7, with the magic cookie) and Call-IDs (§8.1.1.4). Random enough that two never
//! collide in practice; none of them is a secret.
//!
//! They come from one generator, [`Ids`], that the core owns (inside its transaction layer,
//! where every part of the core that makes a message reaches it); it also draws the core's
//! one other random choice, the RFC 3261 §14.1 glare wait. It is injected when the core is
//! built: seeded from the operating system in the server, from a fixed seed in the core's
//! tests ([`Ids::seeded`]), so that a test's identifiers and waits, and so every message the
//! core sends and when, are the same on every run.

use std::ops::RangeInclusive;
use std::sync::OnceLock;
use std::time::Duration;

use callcomp_sip::headers::via::MAGIC_COOKIE;
use rand::distr::Alphanumeric;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What every Call-ID callcomp makes starts with, so that a request of ours that comes back
/// (a loop) is recognised and answered 482.
pub const CALL_ID_PREFIX: &str = "callcomp-";

/// The generator of the core's identifiers.
#[derive(Debug, Clone)]
pub struct Ids {
    rng: StdRng,
}

impl Ids {
    /// A generator seeded from the operating system (the server's).
    pub fn from_os_rng() -> Ids {
        Ids {
            rng: StdRng::from_os_rng(),
        }
    }

    /// A generator seeded with `seed`: the same identifiers in the same order on every run.
    pub fn seeded(seed: u64) -> Ids {
        Ids {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// A random token of `len` letters and digits.
    fn token(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(self.rng.sample(Alphanumeric)))
            .collect()
    }

    /// A new From/To tag.
    pub fn tag(&mut self) -> String {
        self.token(12)
    }

    /// A new Via branch, starting with the RFC 3261 magic cookie.
    pub fn branch(&mut self) -> String {
        format!("{MAGIC_COOKIE}{}", self.token(16))
    }

    /// A new Call-ID, `callcomp-<process token>-<random>@<host>`.
    pub fn call_id(&mut self, host: &str) -> String {
        format!(
            "{CALL_ID_PREFIX}{}-{}@{host}",
            process_token(),
            self.token(20)
        )
    }

    /// A wait of a random whole number of milliseconds in `ms`.
    pub fn wait(&mut self, ms: RangeInclusive<u64>) -> Duration {
        Duration::from_millis(self.rng.random_range(ms))
    }
}

/// This process's token, in every Call-ID it makes: a request of ours that comes back (a loop)
/// carries it and is answered 482, while another callcomp (a trunk), whose Call-IDs have the
/// same shape, has its own. Drawn once from the operating system's randomness (not from the
/// injected generator: it must differ between two servers even when both are seeded alike).
fn process_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let mut rng = StdRng::from_os_rng();
        (0..8)
            .map(|_| char::from(rng.sample(Alphanumeric)))
            .collect()
    })
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
        let mut ids = Ids::from_os_rng();
        assert!(ids.branch().starts_with("z9hG4bK"));
        assert_eq!(ids.tag().len(), 12);
        assert_ne!(ids.tag(), ids.tag());
        assert!(ids.call_id("192.0.2.1").ends_with("@192.0.2.1"));
        assert!(ids.call_id("192.0.2.1").starts_with(CALL_ID_PREFIX));
    }

    /// Only this process's Call-IDs are its own: another callcomp's (same shape, its own
    /// token) and anyone else's are not.
    #[test]
    fn own_call_ids_carry_this_processs_token() {
        let ours = Ids::from_os_rng().call_id("192.0.2.1");
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
        // A seeded generator does not change the token.
        let seeded = Ids::seeded(7).call_id("h");
        assert!(is_own_call_id(&seeded));
        assert!(seeded.starts_with(&format!("{CALL_ID_PREFIX}{token}-")));
    }

    #[test]
    fn waits_fall_in_their_range_and_repeat_with_the_seed() {
        let draw = |ids: &mut Ids| (0..50).map(|_| ids.wait(2_100..=4_000)).collect::<Vec<_>>();
        let first = draw(&mut Ids::seeded(7));
        assert!(first
            .iter()
            .all(|w| (Duration::from_millis(2_100)..=Duration::from_millis(4_000)).contains(w)));
        assert!(first.iter().any(|w| *w != first[0]), "not one fixed wait");
        assert_eq!(draw(&mut Ids::seeded(7)), first);
    }

    #[test]
    fn a_seeded_generator_repeats_its_identifiers() {
        let draw = |ids: &mut Ids| (ids.tag(), ids.branch(), ids.call_id("h"));
        let first = draw(&mut Ids::seeded(7));
        assert_eq!(draw(&mut Ids::seeded(7)), first);
        assert_ne!(draw(&mut Ids::seeded(8)).0, first.0);
    }
}
