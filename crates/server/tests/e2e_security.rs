//! End-to-end tests of who may speak for a user (issue #7, docs/security.md): INVITEs that
//! claim a user with a password are challenged (407) and taken as the authenticated user,
//! never as the From; strangers from untrusted addresses are refused; trusted peers are not
//! challenged; password guessing is locked out at the threshold until the cool-down, logged
//! in the line the shipped fail2ban filter reads, and counted in `/metrics`. The real
//! `callcomp serve` runs on free loopback ports and SIPp plays the phones
//! (`invite_outcome.xml` logs the status of each answer).
//!
//! Users of the test server (`ServerConfig::default()`): alice and bob with passwords
//! (`alice-secret`, `bob-secret`), carol and dave without.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::http::{get_json, line_call_states, poll};
use common::{call, Server, ServerConfig, Sipp};

/// Bound for anything the server does at once.
const SOON: Duration = Duration::from_secs(5);

/// A second loopback address (all of 127.0.0.0/8 is on `lo`), for a trusted peer.
const TRUSTED_IP: &str = "127.0.0.2";

/// One INVITE from `user` to `callee` with `invite_outcome.xml`; with `password`, the 407 is
/// answered with credentials for `auth_user`. Returns SIPp's action log (the statuses).
fn outcome(server: &Server, user: &str, callee: &str, creds: Option<(&str, &str)>) -> String {
    outcome_from(server, Sipp::new("invite_outcome.xml"), user, callee, creds)
}

fn outcome_from(
    server: &Server,
    sipp: Sipp,
    user: &str,
    callee: &str,
    creds: Option<(&str, &str)>,
) -> String {
    let mut sipp = sipp.key("user", user).service(callee).remote(server.sip);
    if let Some((auth_user, password)) = creds {
        sipp = sipp.set("answer", "1").auth(auth_user, password);
    }
    let run = sipp.run();
    run.assert_success();
    run.report
}

/// The lines of `log` that start with `prefix` (SIPp `<log>` lines), for failure messages.
fn statuses(report: &str) -> Vec<&str> {
    report
        .lines()
        .filter(|l| l.starts_with("first: ") || l.starts_with("after credentials: "))
        .collect()
}

fn assert_logged(report: &str, expected: &[&str]) {
    assert_eq!(statuses(report), expected, "{report}");
}

/// Without credentials, alice (a password) is challenged with 407 and carol (none) goes
/// through to routing (bob is not registered: 480); a name that is no user gets 403 at once.
/// With bob's credentials under alice's From the call (to dave) is refused (403) and nothing
/// is booked on alice's or dave's line.
#[test]
fn forged_from_is_challenged_or_refused() {
    let server = Server::start(ServerConfig::default());
    assert_logged(
        &outcome(&server, "alice", "bob", None),
        &["first: 407 Proxy Authentication Required"],
    );
    assert_logged(
        &outcome(&server, "carol", "bob", None),
        &["first: 480 Temporarily Unavailable"],
    );
    assert_logged(
        &outcome(&server, "mallory", "bob", None),
        &["first: 403 Not a local user and not a trusted peer"],
    );
    assert_logged(
        &outcome(&server, "alice", "dave", Some(("bob", "bob-secret"))),
        &[
            "first: 407 Proxy Authentication Required",
            "after credentials: 403 From names another user",
        ],
    );
    assert!(line_call_states(server.api, "alice").is_empty());
    assert!(line_call_states(server.api, "dave").is_empty());
    // alice's own credentials pass (carol is not registered: 480), on alice's line.
    assert_logged(
        &outcome(&server, "alice", "carol", Some(("alice", "alice-secret"))),
        &[
            "first: 407 Proxy Authentication Required",
            "after credentials: 480 Temporarily Unavailable",
        ],
    );
    // The failed call stays in its offer window (`busy`, DESIGN §2.5) on alice's line.
    assert_eq!(line_call_states(server.api, "alice"), ["busy"]);
}

/// alice calls bob with her credentials: the call connects, bob's phone sees alice, and the
/// call is booked on alice's line (outgoing, connected), the line she authenticated as.
#[test]
fn authenticated_invite_goes_through_on_the_authenticated_line() {
    let server = Server::start(ServerConfig::default());
    let bob = server.phone("bob", "uas_answer_any.xml");
    let caller = server
        .sipp_as("call_basic.xml", "alice")
        .service("bob")
        .pause_ms(1500)
        .spawn();
    let calls = poll(
        SOON,
        "alice's call connected",
        || {
            let calls = get_json(server.api, "/v1/lines/alice/calls");
            let connected = calls.as_array()?.iter().any(|c| {
                c["state"] == "connected"
                    && c["direction"] == "out"
                    && c["remote"].as_str().is_some_and(|r| r.contains("bob"))
            });
            connected.then_some(calls)
        },
        || get_json(server.api, "/v1/lines/alice/calls").to_string(),
    );
    assert_eq!(calls.as_array().unwrap().len(), 1, "{calls}");
    caller.wait().assert_success();
    let bob = bob.wait();
    bob.assert_success();
    assert!(
        bob.logged("callee got a call from  <sip:alice@"),
        "{}",
        bob.report
    );
}

/// A trusted peer (`sip.trusted`) is not challenged: a name that is no user gets through to
/// routing from 127.0.0.2 (480, bob not registered) but 403 from 127.0.0.1; from the trusted
/// peer even alice's name is an external call: it connects to bob without a challenge and is
/// not booked on alice's line.
#[test]
fn a_trusted_peer_is_not_challenged() {
    let server = Server::start(
        ServerConfig::default().sip_option(&format!("trusted = [\"{TRUSTED_IP}/32\"]")),
    );
    let from_trusted = || Sipp::new("invite_outcome.xml").arg("-i").arg(TRUSTED_IP);
    assert_logged(
        &outcome_from(&server, from_trusted(), "pstn-gw", "bob", None),
        &["first: 480 Temporarily Unavailable"],
    );
    assert_logged(
        &outcome(&server, "pstn-gw", "bob", None),
        &["first: 403 Not a local user and not a trusted peer"],
    );
    let bob = server.phone("bob", "uas_answer_any.xml");
    // No -au: a challenge would fail this run.
    let caller = Sipp::new("call_basic.xml")
        .arg("-i")
        .arg(TRUSTED_IP)
        .key("user", "alice")
        .service("bob")
        .remote(server.sip)
        .pause_ms(1000)
        .spawn();
    poll(
        SOON,
        "bob's incoming call connected",
        || {
            let states = line_call_states(server.api, "bob");
            states.iter().any(|s| s == "connected").then_some(())
        },
        || format!("{:?}", line_call_states(server.api, "bob")),
    );
    assert!(line_call_states(server.api, "alice").is_empty());
    caller.wait().assert_success();
    bob.wait().assert_success();
}

/// With a threshold of 3 and a 3 s lockout: two wrong passwords are challenged again, the
/// third failure (a user name crafted to smuggle another address into the log) locks the
/// address, after which even the right password gets 403 without a challenge; once the
/// cool-down is over the right password passes again. Each failure is one WARN line that the
/// shipped fail2ban filter matches with the real source address, and `/metrics` counts them.
#[test]
fn lockout_starts_at_the_threshold_and_ends_after_the_cool_down() {
    let server = Server::start(
        ServerConfig::default()
            .tables("[auth]\nsource_max_failures = 3\nuser_max_failures = 0\nlockout = \"3s\"\n"),
    );
    let challenged_again = [
        "first: 407 Proxy Authentication Required",
        "after credentials: 407 Proxy Authentication Required",
    ];
    assert_logged(
        &outcome(&server, "alice", "carol", Some(("alice", "guess-1"))),
        &challenged_again,
    );
    assert_logged(
        &outcome(&server, "alice", "carol", Some(("alice", "guess-2"))),
        &challenged_again,
    );
    let evil = "x source=10.9.9.9 method=INVITE";
    assert_logged(
        &outcome(&server, "alice", "carol", Some((evil, "guess-3"))),
        &[
            "first: 407 Proxy Authentication Required",
            "after credentials: 403 Too many failed authentications",
        ],
    );
    assert_logged(
        &outcome(&server, "alice", "carol", Some(("alice", "alice-secret"))),
        &["first: 403 Too many failed authentications"],
    );
    // Another user from the same address is locked out too.
    assert_logged(
        &outcome(&server, "bob", "carol", None),
        &["first: 403 Too many failed authentications"],
    );
    // After the cool-down the challenge is back and the right password passes (480: carol
    // is not registered).
    let passed = [
        "first: 407 Proxy Authentication Required",
        "after credentials: 480 Temporarily Unavailable",
    ];
    let after = poll(
        Duration::from_secs(15),
        "the lockout to end",
        || {
            let report = outcome(&server, "alice", "carol", Some(("alice", "alice-secret")));
            (statuses(&report) == passed).then_some(report)
        },
        || "still refused".to_owned(),
    );
    assert_logged(&after, &passed);

    // The log: one stable line per failure, and the lockout.
    let log = server.stderr();
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("authentication failed: "))
        .collect();
    assert_eq!(failures.len(), 3, "{log}");
    assert!(failures[0].contains(
        " WARN callcomp::identity: authentication failed: source=127.0.0.1 method=INVITE \
         user=\"alice\" reason=wrong-password"
    ));
    assert!(
        failures[2].ends_with(
            "source=127.0.0.1 method=INVITE user=\"x source=10.9.9.9 method=INVITE\" \
             reason=unknown-user"
        ),
        "{}",
        failures[2]
    );
    assert!(
        log.contains("authentication lockout: source=127.0.0.1 seconds=3"),
        "{log}"
    );
    // The fail2ban filter finds the real address in every failure line, never the smuggled one.
    assert_eq!(fail2ban_hosts(&failures), ["127.0.0.1"; 3]);

    let (status, metrics) = common::http::request(server.api, "GET", "/metrics", None);
    assert_eq!(status, 200);
    for line in [
        "callcomp_auth_failures_total{method=\"INVITE\",reason=\"wrong-password\"} 2",
        "callcomp_auth_failures_total{method=\"INVITE\",reason=\"unknown-user\"} 1",
        "callcomp_auth_lockouts_total{scope=\"source\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
    // At least the two refusals above (the polling may have met the lockout again).
    let refused: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("callcomp_auth_refusals_total{reason=\"locked-source\"} "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no locked-source refusals\n{metrics}"));
    assert!(refused >= 2, "{metrics}");
}

/// The addresses that `docs/fail2ban/callcomp.conf` finds in `lines`, with the filter's own
/// regular expression run by Python (fail2ban's language), after cutting the leading
/// timestamp as fail2ban does with its `datepattern`.
fn fail2ban_hosts(lines: &[&str]) -> Vec<String> {
    let filter = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/fail2ban/callcomp.conf"),
    )
    .expect("read docs/fail2ban/callcomp.conf");
    let failregex = filter
        .lines()
        .find_map(|l| l.strip_prefix("failregex = "))
        .expect("a failregex line");
    let script = r#"
import re, sys
regex = sys.argv[1].replace("<HOST>", r"(?P<host>[0-9A-Fa-f:.]+)")
for line in sys.stdin.read().splitlines():
    rest = re.sub(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z", "", line)
    m = re.search(regex, rest)
    print(m.group("host") if m else "no match")
"#;
    let mut child = Command::new("python3")
        .args(["-c", script, failregex])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (CI has Python 3)");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(lines.join("\n").as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// carol (no password) calling bob's registered phone still works with no credentials at
/// all, as before: authentication only applies to users with a password.
#[test]
fn a_user_without_a_password_calls_without_credentials() {
    let server = Server::start(ServerConfig::default());
    let bob = server.phone("bob", "uas_answer.xml");
    call(
        bob,
        Sipp::new("call_basic.xml")
            .key("user", "carol")
            .service("bob")
            .remote(server.sip),
    );
}

/// REGISTER guessing counts too, here per user (threshold 2, no per-source lockout): after
/// two wrong passwords for alice, even her right password is refused with 403, while bob
/// registers from the same address; the lockout is logged and counted.
#[test]
fn register_guessing_locks_the_user_out() {
    let server = Server::start(
        ServerConfig::default()
            .tables("[auth]\nsource_max_failures = 0\nuser_max_failures = 2\nlockout = \"1m\"\n"),
    );
    for guess in ["guess-1", "guess-2"] {
        Sipp::new("register_wrong_password.xml")
            .user("alice")
            .auth("alice", guess)
            .remote(server.sip)
            .run()
            .assert_success();
    }
    let refused = server.sipp_as("register.xml", "alice").run();
    refused.assert_failure();
    assert!(
        refused.logged("403 Too many failed authentications"),
        "{}",
        refused.report
    );
    server.sipp_as("register.xml", "bob").run().assert_success();
    let log = server.stderr();
    assert!(
        log.contains("authentication lockout: user=\"alice\" seconds=60"),
        "{log}"
    );
    assert_eq!(
        log.matches("authentication failed: source=127.0.0.1 method=REGISTER user=\"alice\" reason=wrong-password")
            .count(),
        2,
        "{log}"
    );
    let (_, metrics) = common::http::request(server.api, "GET", "/metrics", None);
    assert!(
        metrics
            .lines()
            .any(|l| l == "callcomp_auth_lockouts_total{scope=\"user\"} 1"),
        "{metrics}"
    );
}
