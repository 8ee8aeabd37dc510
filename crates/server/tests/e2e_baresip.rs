//! A real phone against callcomp's default authentication settings (issue #7): Debian's
//! baresip (libre 1.1, package `baresip-core`) registers as alice with her password and
//! calls bob's SIPp phone through callcomp. libre refuses a 401/407 that carries any
//! challenge other than MD5, so this fails if `auth.algorithms` defaults to anything else
//! (docs/decisions.md).
//!
//! baresip runs headless: a config directory (`-f DIR`) with `config` and `accounts`, the
//! sine-wave audio source `ausine` and the `aubridge` player (no sound device), the `menu`
//! module for the `/dial` command given with `-e`, and `-t` to quit (hanging up) after a few
//! seconds. baresip is required: `scripts/test` installs it, and a machine without it fails
//! this test rather than skipping it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http::{get_json, poll};
use common::{free_port, Server, ServerConfig, TestDir, LOCALHOST, REGISTER_TIMEOUT};

/// How long baresip runs before it quits and hangs up (`-t`).
const BARESIP_SECONDS: u64 = 6;

/// A running baresip, killed on drop; its output goes to a file shown on failure.
struct Baresip {
    child: Child,
    log: PathBuf,
    _dir: TestDir,
}

impl Baresip {
    /// baresip as `user` with `password`, registering at `server` and dialling `dial`.
    fn start(server: &Server, user: &str, password: &str, dial: &str) -> Baresip {
        let modules = common::baresip_module_dir("g711.so");
        let dir = TestDir::new(&format!("baresip-{user}"));
        let port = free_port();
        let config = format!(
            "# Written by e2e_baresip.rs: headless, no sound device.\n\
             sip_listen {LOCALHOST}:{port}\n\
             sip_transports udp\n\
             module_path {modules}\n\
             module g711.so\n\
             module ausine.so\n\
             module aubridge.so\n\
             module_app account.so\n\
             module_app menu.so\n\
             audio_source ausine,440\n\
             ausrc_srate 48000\n\
             ausrc_channels 2\n\
             audio_player aubridge,none\n\
             audio_alert aubridge,none\n",
            modules = modules.display()
        );
        std::fs::write(dir.path().join("config"), config).unwrap();
        // The default settings: nothing but the password (MD5 is what libre answers).
        let account = format!(
            "<sip:{user}@{LOCALHOST}:{sip_port};transport=udp>;auth_pass={password};regint=600\n",
            sip_port = server.sip.port()
        );
        std::fs::write(dir.path().join("accounts"), account).unwrap();
        let log = dir.path().join("baresip.log");
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .args(["-t", &BARESIP_SECONDS.to_string()])
            .args(["-e", &format!("/dial {dial}")])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("stderr.log")).unwrap(),
            ))
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "baresip is required for this test but cannot be run ({e}).\n\
                     Install it with `apt-get install -y baresip-core` (Debian/Ubuntu), or run \
                     scripts/test as root, which installs it."
                )
            });
        Baresip {
            child,
            log,
            _dir: dir,
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for baresip to quit by itself (bounded); fails the test unless it exited 0.
    fn wait(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(BARESIP_SECONDS + 10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "baresip: {status}\n{}", self.output());
                return;
            }
            assert!(
                Instant::now() < deadline,
                "baresip did not quit\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- baresip output ---\n{}--- end ---", self.output());
        }
    }
}

/// baresip registers as alice with her password on the default `[auth]` settings (MD5), then
/// calls bob through callcomp: the INVITE is challenged (407) and answered, bob's phone sees
/// alice calling, the call is connected on alice's line, and baresip's hang-up ends it at bob.
#[test]
fn baresip_registers_with_a_password_and_calls_through_callcomp() {
    let server = Server::start(ServerConfig::default());
    let bob = server.phone("bob", "uas_answer_any.xml");
    let mut alice = Baresip::start(
        &server,
        "alice",
        "alice-secret",
        &format!("sip:bob@{}", server.sip),
    );
    poll(
        REGISTER_TIMEOUT,
        "baresip's registration as alice",
        || {
            server
                .stderr()
                .contains("registered aor=sip:alice@127.0.0.1")
                .then_some(())
        },
        || alice.output(),
    );
    poll(
        REGISTER_TIMEOUT,
        "alice's call to bob connected",
        || {
            let calls = get_json(server.api, "/v1/lines/alice/calls");
            calls
                .as_array()?
                .iter()
                .any(|c| c["state"] == "connected" && c["direction"] == "out")
                .then_some(())
        },
        || {
            format!(
                "{}\n{}",
                get_json(server.api, "/v1/lines/alice/calls"),
                alice.output()
            )
        },
    );
    alice.wait();
    let bob = bob.wait();
    bob.assert_success();
    assert!(
        bob.logged("callee got a call from  <sip:alice@"),
        "{}",
        bob.report
    );
    let log = server.stderr();
    assert!(!log.contains("authentication failed"), "{log}");
    assert!(
        alice.output().contains("Call established"),
        "{}",
        alice.output()
    );
}
