//! The calls from another server's users (over a trusted trunk) that failed here with the
//! completion offer: what callcomp, as their RFC 6910 monitor, needs to accept the
//! subscription that follows (§7.2: only a subscription for a call that failed may be
//! accepted). The switch has no caller side for such a call, so the B2BUA remembers, per
//! subscriber and callee, the newest failure and its condition while the offer window is
//! open (`completion.offer_window`).

use std::time::Instant;

use callcomp_sip::uri::Uri;
use callcomp_switch::{CompletionCond, Failure, TrunkCaller};

use crate::config::Config;
use crate::transport::Target;

/// The trunk subscriber a request from `source` speaks for: `source` is a trunk's server and
/// `from` (its From URI) names a user of the trunk's domain, as `sip:user@domain` (no
/// parameters, lower-case host). `None` for anyone else (a local phone on the trunk's
/// address, a stranger relayed by the trunk).
pub fn trunk_caller(config: &Config, source: Target, from: &Uri) -> Option<TrunkCaller> {
    let trunk = config.trunk_at(source.remote)?;
    let sip = from.as_sip()?;
    let user = sip.user_unescaped().filter(|u| !u.is_empty())?;
    let host = sip.host.to_string().to_ascii_lowercase();
    if !host.eq_ignore_ascii_case(&trunk.domain) {
        return None;
    }
    Some(TrunkCaller {
        trunk: trunk.domain.clone(),
        aor: format!("sip:{user}@{host}"),
    })
}

/// The completion condition of a failure the offer is made on.
pub fn condition_of(failure: Failure) -> Option<CompletionCond> {
    match failure {
        Failure::Busy => Some(CompletionCond::Busy),
        Failure::NoAnswer => Some(CompletionCond::Noanswer),
        Failure::NotRegistered => Some(CompletionCond::Notregistered),
        _ => None,
    }
}

#[derive(Debug, Clone)]
struct Failed {
    caller: TrunkCaller,
    callee: String,
    condition: CompletionCond,
    until: Instant,
}

/// The recent failed trunk calls (see the module documentation); bounded by
/// [`TrunkFailures::MAX`], oldest dropped first.
#[derive(Debug, Default)]
pub struct TrunkFailures {
    failed: Vec<Failed>,
}

impl TrunkFailures {
    /// Most remembered failures at once.
    pub const MAX: usize = 1024;

    /// `caller`'s call to `callee` failed with `condition`; remembered until `until`.
    pub fn record(
        &mut self,
        caller: TrunkCaller,
        callee: &str,
        condition: CompletionCond,
        now: Instant,
        until: Instant,
    ) {
        self.failed
            .retain(|f| f.until > now && !(f.caller == caller && f.callee == callee));
        if self.failed.len() >= Self::MAX {
            self.failed.remove(0);
        }
        self.failed.push(Failed {
            caller,
            callee: callee.to_owned(),
            condition,
            until,
        });
    }

    /// The condition of `caller`'s newest failed call to `callee` whose offer is still open.
    pub fn condition(
        &self,
        caller: &TrunkCaller,
        callee: &str,
        now: Instant,
    ) -> Option<CompletionCond> {
        self.failed
            .iter()
            .rev()
            .find(|f| f.until > now && &f.caller == caller && f.callee == callee)
            .map(|f| f.condition)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::transport::Proto;

    fn carol() -> TrunkCaller {
        TrunkCaller {
            trunk: "b.test".into(),
            aor: "sip:carol@b.test".into(),
        }
    }

    #[test]
    fn a_failure_is_found_while_its_offer_is_open() {
        let mut f = TrunkFailures::default();
        let t0 = Instant::now();
        let window = Duration::from_secs(20);
        f.record(carol(), "bob", CompletionCond::Busy, t0, t0 + window);
        assert_eq!(f.condition(&carol(), "bob", t0), Some(CompletionCond::Busy));
        assert_eq!(f.condition(&carol(), "alice", t0), None);
        let other = TrunkCaller {
            trunk: "c.test".into(),
            ..carol()
        };
        assert_eq!(f.condition(&other, "bob", t0), None);
        assert_eq!(f.condition(&carol(), "bob", t0 + window), None);
        // The newest failure counts.
        f.record(carol(), "bob", CompletionCond::Noanswer, t0, t0 + window);
        assert_eq!(
            f.condition(&carol(), "bob", t0),
            Some(CompletionCond::Noanswer)
        );
    }

    #[test]
    fn the_oldest_failure_goes_when_full() {
        let mut f = TrunkFailures::default();
        let t0 = Instant::now();
        let until = t0 + Duration::from_secs(20);
        for i in 0..=TrunkFailures::MAX {
            f.record(carol(), &format!("u{i}"), CompletionCond::Busy, t0, until);
        }
        assert_eq!(f.condition(&carol(), "u0", t0), None);
        assert!(f.condition(&carol(), "u1", t0).is_some());
    }

    #[test]
    fn only_a_trunks_address_makes_a_trunk_caller() {
        let config = Config::from_toml_str(
            "domain = \"a.test\"\n[[trunks]]\ndomain = \"b.test\"\naddress = \"192.0.2.20:5070\"\n",
            "t.toml",
        )
        .unwrap();
        let from = Uri::parse("sip:Carol@B.Test;transport=udp").unwrap();
        let at = |addr: &str| Target {
            proto: Proto::Udp,
            remote: addr.parse().unwrap(),
            conn: None,
        };
        let caller = trunk_caller(&config, at("192.0.2.20:40000"), &from).unwrap();
        assert_eq!(caller.trunk, "b.test");
        assert_eq!(caller.aor, "sip:Carol@b.test");
        assert!(trunk_caller(&config, at("192.0.2.21:5070"), &from).is_none());
        let local = Uri::parse("sip:carol@a.test").unwrap();
        assert!(trunk_caller(&config, at("192.0.2.20:5070"), &local).is_none());
        let no_user = Uri::parse("sip:b.test").unwrap();
        assert!(trunk_caller(&config, at("192.0.2.20:5070"), &no_user).is_none());
    }
}
