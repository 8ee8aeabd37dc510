//! Headless baresip phones for end-to-end tests with real audio: each sends a sine of its own
//! (`ausine`, which runs at 48 kHz) and records what it hears (`sndfile`, 8 kHz mono WAV).
//! A phone can be steered while it runs through its `cons` module (commands such as `/dial`,
//! `/accept`, `/hangup` sent as UDP datagrams), and quits by itself after the time it is given.
//!
//! Each phone binds to 127.0.0.1 (`net_interface`), where callcomp's media plane is, and runs
//! without a jitter buffer: Debian's baresip 1.0 keeps its jitter buffer across an SSRC
//! change, so after a re-INVITE it would drop the new stream's packets as "late" whenever their
//! sequence numbers start below the old stream's (about half the time).

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use callcomp_media::goertzel;

use super::http::poll;
use super::{baresip_module_dir, free_port, Server, TestDir, LOCALHOST, REGISTER_TIMEOUT};

/// How a phone answers an incoming call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// At once.
    Auto,
    /// When told to (`Phone::command("/accept")`); it rings until then.
    Manual,
}

/// A running baresip (killed on drop; its output printed when the test is failing).
pub struct Phone {
    child: Child,
    dir: TestDir,
    control: u16,
}

impl Phone {
    /// Starts `user`'s phone registered with `server`, sending `hz`, quitting after `seconds`;
    /// `dial` is called at start.
    pub fn start(
        server: &Server,
        user: &str,
        hz: u16,
        seconds: u64,
        answer: Answer,
        dial: Option<&str>,
    ) -> Phone {
        let modules = baresip_module_dir("sndfile.so");
        let dir = TestDir::new(&format!("baresip-{user}"));
        let port = free_port();
        let control = free_port();
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
             module cons.so\n\
             module_app account.so\n\
             module_app menu.so\n\
             cons_listen {LOCALHOST}:{control}\n\
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
        let answermode = match answer {
            Answer::Auto => "auto",
            Answer::Manual => "manual",
        };
        let account = format!(
            "<sip:{user}@{LOCALHOST}:{sip_port};transport=udp>;auth_pass={password};regint=600;answermode={answermode};audio_codecs=PCMU\n",
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
        Phone {
            child,
            dir,
            control,
        }
    }

    /// What baresip printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("out.log")).unwrap_or_default()
    }

    /// Sends a console command (`/dial sip:…`, `/accept`, `/hangup`).
    pub fn command(&self, line: &str) {
        let socket = UdpSocket::bind((LOCALHOST, 0)).unwrap();
        socket
            .send_to(format!("{line}\n").as_bytes(), (LOCALHOST, self.control))
            .unwrap();
    }

    /// Waits (bounded) until its output holds `needle`, `count` times.
    pub fn wait_for_output(&self, needle: &str, count: usize, limit: Duration) {
        poll(
            limit,
            &format!("baresip printing {needle:?} ×{count}"),
            || (self.output().matches(needle).count() >= count).then_some(()),
            || self.output(),
        );
    }

    /// Waits (bounded) until the server logged the phone's registration.
    pub fn registered(&self, server: &Server, user: &str) {
        poll(
            REGISTER_TIMEOUT,
            &format!("{user}'s registration"),
            || {
                server
                    .stderr()
                    .contains(&format!("registered aor=sip:{user}@"))
                    .then_some(())
            },
            || self.output(),
        );
    }

    /// Tells baresip to quit (its recordings are complete once it has) and waits for it.
    pub fn quit(&mut self, limit: Duration) {
        self.command("/quit");
        self.wait(limit);
    }

    /// Waits (bounded) for baresip to quit by itself.
    pub fn wait(&mut self, limit: Duration) {
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
    pub fn heard(&self) -> Vec<i16> {
        self.recordings().iter().flat_map(read_wav).collect()
    }

    /// What it heard in its last call.
    pub fn heard_last_call(&self) -> Vec<i16> {
        read_wav(self.recordings().last().unwrap())
    }

    /// The recordings of what it heard, one per call, oldest first (baresip names them by the
    /// second the call's audio started).
    fn recordings(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("rec"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no recording\n{}", self.output());
        files
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

fn read_wav(path: &PathBuf) -> Vec<i16> {
    callcomp_media::wav::parse(&std::fs::read(path).unwrap()).unwrap()
}

/// The index of the first 200 ms block of `audio` that holds every one of `tones` (each a fair
/// share of the block's energy) and none of `absent`.
pub fn first_block_with(audio: &[i16], tones: &[f64], absent: &[f64]) -> Option<usize> {
    audio.chunks_exact(1_600).position(|block| {
        tones
            .iter()
            .all(|&hz| goertzel::detect(block, hz).ratio > 0.15)
            && absent
                .iter()
                .all(|&hz| goertzel::detect(block, hz).ratio < 0.02)
    })
}

/// Whether some 200 ms block of `audio` holds every one of `tones` and none of `absent`.
pub fn block_with(audio: &[i16], tones: &[f64], absent: &[f64]) -> bool {
    first_block_with(audio, tones, absent).is_some()
}
