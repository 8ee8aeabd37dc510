//! The operator's web console (issue #12) in a real browser: headless Chromium driven by
//! Playwright for Python (`tests/console/console_browser.py`) against the real `callcomp serve`,
//! with SIPp phones doing the calling.
//!
//! The script is the operator; this test is the telephone network. The script prints
//! `STEP <name>` when it needs something done on the SIP side (a call, a phone registering) and
//! waits for `go`; it prints `PASS` when every check on the page held. Its screenshots (desktop
//! and phone sizes of the busiest moments, and `<scenario>-failure.png` when a check fails) go
//! to `target/tmp/console/`.
//!
//! Chromium (Debian `chromium`) and Python Playwright are required, like SIPp: a machine
//! without them fails these tests with installation advice; `scripts/test` installs both.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{Phone, Server, ServerConfig, Sipp};

/// Where the browser is, unless `$CALLCOMP_CHROMIUM` says otherwise.
const CHROMIUM: &str = "/usr/bin/chromium";

/// The token of the protected run.
const TOKEN: &str = "console-test-token";

/// Fails the test with advice unless Chromium and Python Playwright are there.
fn require_browser() {
    common::require_sipp();
    let chromium = std::env::var("CALLCOMP_CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_owned());
    assert!(
        Path::new(&chromium).is_file(),
        "Chromium is required for the console tests but {chromium} is missing.\n\
         Install it with `apt-get install -y chromium`, or run scripts/test as root, which does."
    );
    let playwright = Command::new("python3")
        .args(["-c", "import playwright.sync_api"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        matches!(playwright, Ok(s) if s.success()),
        "Python Playwright is required for the console tests but `python3 -c 'import \
         playwright.sync_api'` failed.\nInstall it with `pip install playwright` (no `playwright \
         install`: the tests use Debian's chromium), or run scripts/test, which does."
    );
}

/// The script and where its screenshots go.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console/console_browser.py")
}

fn shots_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("console")
}

/// The browser run, killed if the test ends early.
struct Browser {
    child: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `scenario` against `server`, calling `on_step` for each `STEP` the script asks for;
/// fails the test unless the script passes.
fn run_browser(
    scenario: &str,
    server: &RefCell<Server>,
    token: Option<&str>,
    mut on_step: impl FnMut(&str),
) {
    let api = server.borrow().api;
    let shots = shots_dir();
    std::fs::create_dir_all(&shots).unwrap();
    let stderr_path = shots.join(format!("{scenario}-stderr.txt"));
    let mut command = Command::new("python3");
    command
        .arg(script())
        .arg(scenario)
        .arg("--url")
        .arg(format!("http://{api}"))
        .arg("--shots")
        .arg(&shots);
    if let Some(token) = token {
        command.arg("--token").arg(token);
    }
    let child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("run python3");
    let mut browser = Browser { child };
    let mut stdin = browser.child.stdin.take().unwrap();
    let stdout = BufReader::new(browser.child.stdout.take().unwrap());
    let mut steps = Vec::new();
    let mut passed = false;
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(step) = line.strip_prefix("STEP ") {
            on_step(step);
            steps.push(step.to_owned());
            // The script may have failed meanwhile; its exit status says so below.
            let _ = writeln!(stdin, "go");
            let _ = stdin.flush();
        } else if line == "PASS" {
            passed = true;
        } else {
            eprintln!("browser: {line}");
        }
    }
    let status = browser.child.wait().unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(
        passed && status.success(),
        "the console scenario {scenario} failed ({status}) after steps {steps:?}\n{stderr}\n\
         (screenshots in {}; the server's log follows)\n{}",
        shots.display(),
        server.borrow().stderr()
    );
}

/// With `api.token` set: the operator signs in; alice calls bob, who is not registered; the
/// busy call appears; a callback is requested from the console and the queue shows it; the
/// server restarts and the page reconnects and shows the request again; bob's phone registers
/// and the recall (alice rung back, then joined to bob) shows up live.
#[test]
fn console_requests_a_callback_and_shows_the_recall_live_with_a_token() {
    require_browser();
    let server = RefCell::new(Server::start(
        ServerConfig::default()
            .token(TOKEN)
            .tables("[completion]\nguard_ms = 200\n"),
    ));
    let alice = Phone::start(
        server
            .borrow()
            .sipp_as("phone.xml", "alice")
            .ooc("uas_recall.xml")
            .pause_ms(200),
    );
    let mut bob = None;
    run_browser("completion", &server, Some(TOKEN), |step| match step {
        "busy-call" => caller_to_absent(&server.borrow(), "alice", "bob"),
        // Same ports, same store: the request and alice's binding come back from disk.
        "restart" => server.borrow_mut().restart(),
        "callee-registers" => bob = Some(server.borrow().phone("bob", "uas_answer_recall.xml")),
        other => panic!("unknown step {other}"),
    });
    let alice = alice.wait();
    alice.assert_success();
    assert!(alice.logged("recall taken"), "{}", alice.report);
    bob.expect("bob's phone ran").wait().assert_success();
}

/// Without a token: a third-party call placed from the console connects carol's and dave's
/// phones and is dropped from the console; a `lagged` message shows the notice and the page
/// reads the state again; a request made from the console is cancelled from its queue; a
/// refused operation is reported with its LINEERR name.
#[test]
fn console_places_drops_recovers_from_lag_and_cancels() {
    require_browser();
    let server = RefCell::new(Server::start(ServerConfig::default()));
    let mut phones: Vec<Phone> = Vec::new();
    run_browser("operations", &server, None, |step| match step {
        "phones" => {
            phones.push(server.borrow().phone("carol", "uas_3pcc_offer.xml"));
            phones.push(server.borrow().phone("dave", "uas_answer.xml"));
        }
        "dropped" => {
            for phone in phones.drain(..) {
                phone.wait().assert_success();
            }
        }
        "busy-call" => caller_to_absent(&server.borrow(), "carol", "bob"),
        other => panic!("unknown step {other}"),
    });
}

/// `caller` calls `callee`, who is not registered: 480 with the offer `m=NL`.
fn caller_to_absent(server: &Server, caller: &str, callee: &str) {
    let run: Sipp = server
        .sipp_as("call_expect_480.xml", caller)
        .service(callee)
        .set("expect_m", "NL");
    run.run().assert_success();
}
