//! Intrusion with real phones and real audio (issue #10): three baresip phones, each sending
//! its own sine (`ausine`, which runs at 48 kHz) and recording what it hears (`sndfile`, 8 kHz mono WAV). alice
//! calls bob (auto-answer); dave calls bob, who has no call waiting, so callcomp answers busy
//! and holds dave's INVITE (`busy_hold`); the application asks `intrude` on dave's call. While
//! dave is in, each phone hears the other two (Goertzel on its recording); after dave's phone
//! quits, alice and bob hear each other and no longer dave.
//!
//! baresip is required (`scripts/test` installs it); see `e2e_baresip.rs` for the headless
//! setup. Each phone binds to 127.0.0.1 (`net_interface`), where callcomp's media plane is,
//! and runs without a jitter buffer: Debian's baresip 1.0 keeps its jitter buffer across an
//! SSRC change, so after the re-INVITE it drops the mixer's packets as "late" whenever their
//! sequence numbers start below the old stream's (about half the time).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use callcomp_media::goertzel;
use common::http::{get_json, poll, request};
use common::{free_port, Server, ServerConfig, TestDir, LOCALHOST, REGISTER_TIMEOUT};

/// A headless baresip sending a sine of `hz` and recording what it hears.
struct Phone {
    child: Child,
    dir: TestDir,
}

impl Phone {
    fn start(server: &Server, user: &str, hz: u16, seconds: u64, dial: Option<&str>) -> Phone {
        let modules = common::baresip_module_dir("sndfile.so");
        let dir = TestDir::new(&format!("intrude-{user}"));
        let port = free_port();
        let record = dir.path().join("rec");
        std::fs::create_dir_all(&record).unwrap();
        let config = format!(
            "sip_listen {LOCALHOST}:{port}\n\
             net_interface {LOCALHOST}\n\
             sip_transports udp\n\
             module_path {modules}\n\
             module g711.so\n\
             module ausine.so\n\
             module aubridge.so\n\
             module sndfile.so\n\
             module_app account.so\n\
             module_app menu.so\n\
             audio_source ausine,{hz}\n\
             ausrc_srate 48000\n\
             ausrc_channels 2\n\
             audio_player aubridge,none\n\
             auplay_srate 8000\n\
             auplay_channels 1\n\
             audio_alert aubridge,none\n\
             snd_path {record}\n\
             jitter_buffer_delay 0-0\n\
             call_max_calls 4\n",
            modules = modules.display(),
            record = record.display()
        );
        std::fs::write(dir.path().join("config"), config).unwrap();
        let password = server.password(user).unwrap_or_default();
        let account = format!(
            "<sip:{user}@{LOCALHOST}:{sip_port};transport=udp>;auth_pass={password};regint=600;answermode=auto;audio_codecs=PCMU\n",
            sip_port = server.sip.port()
        );
        std::fs::write(dir.path().join("accounts"), account).unwrap();
        let mut command = Command::new("baresip");
        command
            .arg("-f")
            .arg(dir.path())
            .args(["-t", &seconds.to_string()]);
        if let Some(dial) = dial {
            command.args(["-e", &format!("/dial {dial}")]);
        }
        let child = command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("out.log")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("err.log")).unwrap())
            .spawn()
            .expect("baresip is required for this test");
        Phone { child, dir }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("out.log")).unwrap_or_default()
    }

    /// Waits (bounded) for baresip to quit by itself.
    fn wait(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "baresip did not quit\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What it heard: the decoded (received) audio of every call, in file order.
    fn heard(&self) -> Vec<i16> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("rec"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no recording\n{}", self.output());
        files
            .iter()
            .flat_map(|f| callcomp_media::wav::parse(&std::fs::read(f).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- baresip output ---\n{}--- end ---", self.output());
        }
    }
}

/// Whether some 200 ms block of `audio` holds every one of `tones` (each a fair share of
/// the block's energy) and none of `absent`.
fn block_with(audio: &[i16], tones: &[f64], absent: &[f64]) -> bool {
    audio.chunks_exact(1_600).any(|block| {
        tones
            .iter()
            .all(|&hz| goertzel::detect(block, hz).ratio > 0.15)
            && absent
                .iter()
                .all(|&hz| goertzel::detect(block, hz).ratio < 0.02)
    })
}

fn registered(server: &Server, user: &str, phone: &Phone) {
    poll(
        REGISTER_TIMEOUT,
        &format!("{user}'s registration"),
        || {
            server
                .stderr()
                .contains(&format!("registered aor=sip:{user}@"))
                .then_some(())
        },
        || phone.output(),
    );
}

fn call_in(server: &Server, line: &str, state: &str) -> Option<u64> {
    let calls = get_json(server.api, &format!("/v1/lines/{line}/calls"));
    calls
        .as_array()?
        .iter()
        .find(|c| c["state"] == state && c["direction"] == "out")
        .and_then(|c| c["id"].as_u64())
}

#[test]
fn three_phones_hear_each_other_during_an_intrusion() {
    let server = Server::start(
        ServerConfig::default()
            .user_option("bob", "call_waiting = false")
            .user_option("dave", "busy_hold = \"20s\""),
    );
    let (alice_hz, bob_hz, dave_hz) = (700.0, 1100.0, 1500.0);
    let mut bob = Phone::start(&server, "bob", 1100, 10, None);
    registered(&server, "bob", &bob);
    let bob_uri = format!("sip:bob@{}", server.sip);
    let mut alice = Phone::start(&server, "alice", 700, 9, Some(&bob_uri));
    poll(
        Duration::from_secs(8),
        "alice's call to bob connected",
        || call_in(&server, "alice", "connected"),
        || alice.output(),
    );
    let mut dave = Phone::start(&server, "dave", 1500, 4, Some(&bob_uri));
    let held = poll(
        Duration::from_secs(8),
        "dave's call busy and held",
        || call_in(&server, "dave", "busy"),
        || {
            format!(
                "{}\n{}",
                get_json(server.api, "/v1/lines/dave/calls"),
                dave.output()
            )
        },
    );
    let (status, body) = request(
        server.api,
        "POST",
        &format!("/v1/calls/{held}/complete"),
        Some(r#"{"mode":"intrude"}"#),
    );
    assert_eq!(status, 201, "{body}");
    poll(
        Duration::from_secs(8),
        "dave connected into the call",
        || call_in(&server, "dave", "connected"),
        || format!("{}\n{}", server.stderr(), dave.output()),
    );
    dave.wait(Duration::from_secs(15));
    alice.wait(Duration::from_secs(20));
    bob.wait(Duration::from_secs(20));

    let (a, b, d) = (alice.heard(), bob.heard(), dave.heard());
    assert!(
        block_with(&a, &[bob_hz, dave_hz], &[]),
        "alice hears bob and dave"
    );
    assert!(
        block_with(&b, &[alice_hz, dave_hz], &[]),
        "bob hears alice and dave"
    );
    assert!(
        block_with(&d, &[alice_hz, bob_hz], &[]),
        "dave hears alice and bob"
    );
    // After dave left: the end of each recording has the other original party only.
    let tail = |audio: &[i16]| audio[audio.len().saturating_sub(8_000)..].to_vec();
    assert!(
        block_with(&tail(&a), &[bob_hz], &[dave_hz]),
        "alice hears bob again"
    );
    assert!(
        block_with(&tail(&b), &[alice_hz], &[dave_hz]),
        "bob hears alice again"
    );
}
