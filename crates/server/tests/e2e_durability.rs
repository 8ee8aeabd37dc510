//! DESIGN §5 under `kill -9`: what callcomp acknowledged is on disk, what it refused or never
//! answered is there at most once.
//!
//! The crash test runs the real binary in rounds. Each round starts the server on the same
//! store, checks every operation of the rounds before against what the restarted server has,
//! makes busy calls with SIPp (callers to a callee that is not registered: 480, then `busy`
//! for the offer window), runs a seeded random mix of operations one at a time (accept,
//! cancel through the API; register, unregister through SIPp), then starts a burst of them at
//! once and kills the server with SIGKILL a random few milliseconds later. The seed is printed
//! (set `CALLCOMP_CRASH_SEED` to replay one run).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    callcomp_bin, free_port, require_sipp, sip_options_answered, ServerConfig, Sipp, SippProcess,
    TestDir,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Operations the crash test runs at least.
const MIN_OPERATIONS: usize = 200;
/// Busy calls made per caller and round.
const CALLS_PER_CALLER: usize = 8;
/// Operations run one at a time per round, then at once just before the kill.
const SEQUENTIAL: usize = 20;
const BURST: usize = 5;

const CALLERS: [&str; 2] = ["carol", "dave"];
const CALLEE: &str = "zed";
const REGISTRANTS: [&str; 3] = ["r0", "r1", "r2"];

/// What the test knows of a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reg {
    Registered,
    Unregistered,
    /// An operation on it was not answered before the kill: either is fine, once.
    Unknown,
}

/// What the test knows of the completion requests and registrations.
#[derive(Debug, Default)]
struct Model {
    /// Acknowledged accepts not acknowledged cancelled: must be outstanding.
    live: BTreeMap<u64, String>,
    /// Acknowledged cancels: must never come back.
    cancelled: BTreeSet<u64>,
    /// Cancels that were not answered: the request may or may not be there.
    maybe_cancelled: BTreeMap<u64, String>,
    /// Accepts not answered since the last check: at most this many unknown requests appear.
    unanswered_accepts: usize,
    /// Every id ever seen, to show that none is issued twice.
    seen: BTreeSet<u64>,
    regs: BTreeMap<String, Reg>,
}

#[derive(Debug, Default)]
struct Counts {
    operations: usize,
    acknowledged: usize,
    refused: usize,
    unanswered: usize,
    crashes: usize,
}

/// One operation, as chosen.
#[derive(Debug, Clone)]
enum Op {
    Accept { line: String, call: u64 },
    Cancel { line: String, id: u64 },
    Register { user: String },
    Unregister { user: String },
}

/// How an operation ended.
enum Outcome {
    /// Answered with success (the id for an accept).
    Acknowledged(Option<u64>),
    /// Answered with an error.
    Refused(String),
    /// No answer before the kill.
    Unanswered,
}

/// An operation under way.
enum Running {
    Http(std::thread::JoinHandle<Option<(u16, String)>>),
    Sipp(SippProcess),
}

#[test]
fn crash_test_kill_9_at_random_points_loses_no_acknowledged_operation() {
    require_sipp();
    let seed: u64 = std::env::var("CALLCOMP_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    println!("crash test seed: {seed} (CALLCOMP_CRASH_SEED={seed} replays it)");
    let mut rng = StdRng::seed_from_u64(seed);

    let dir = TestDir::new("crash");
    let mut config = ServerConfig::default().tables(
        "[completion]\noffer_window = \"1h\"\nmax_call_completions = 1000\nmax_queue = 1000\n",
    );
    for user in [CALLEE].iter().chain(REGISTRANTS.iter()) {
        config = config.user(user, None);
    }
    let (config_path, sip_port, api_port) = config.write(dir.path());
    let sip = SocketAddr::from(([127, 0, 0, 1], sip_port));
    let api = SocketAddr::from(([127, 0, 0, 1], api_port));
    let db = dir.path().join("callcomp.db");
    let phone_ports: BTreeMap<String, u16> = REGISTRANTS
        .iter()
        .map(|u| ((*u).to_owned(), free_port()))
        .collect();

    let mut model = Model::default();
    for user in REGISTRANTS {
        model.regs.insert(user.to_owned(), Reg::Unregistered);
    }
    let mut counts = Counts::default();
    let mut round = 0;
    while counts.operations < MIN_OPERATIONS {
        round += 1;
        let server = Process::start(&config_path, dir.path(), sip, round);
        check(&mut model, api, &db, &server);
        let mut busy = make_busy_calls(sip, api, &server);
        for _ in 0..SEQUENTIAL {
            let op = choose(&mut rng, &model, &mut busy);
            let outcome = finish(start(&op, api, sip, &phone_ports), true);
            // One at a time, with the server up, everything is acknowledged.
            match &outcome {
                Outcome::Acknowledged(_) => {}
                Outcome::Refused(why) => panic!("{op:?} refused: {why}\n{}", server.log()),
                Outcome::Unanswered => panic!("{op:?} unanswered\n{}", server.log()),
            }
            record(&mut model, &mut counts, &op, &outcome, &server);
        }
        let ops: Vec<Op> = (0..BURST)
            .map(|_| choose(&mut rng, &model, &mut busy))
            .collect();
        let running: Vec<Running> = ops
            .iter()
            .map(|op| start(op, api, sip, &phone_ports))
            .collect();
        std::thread::sleep(Duration::from_millis(rng.random_range(0..40)));
        server.kill9();
        counts.crashes += 1;
        for (op, run) in ops.iter().zip(running) {
            let outcome = finish(run, false);
            record(&mut model, &mut counts, op, &outcome, &server);
        }
    }
    let server = Process::start(&config_path, dir.path(), sip, round + 1);
    check(&mut model, api, &db, &server);
    println!(
        "crash test: {} operations ({} acknowledged, {} refused, {} unanswered), {} crashes \
         (kill -9), {} requests outstanding at the end, seed {seed}",
        counts.operations,
        counts.acknowledged,
        counts.refused,
        counts.unanswered,
        counts.crashes,
        model.live.len()
    );
    assert!(counts.operations >= MIN_OPERATIONS);
    assert!(counts.acknowledged > counts.operations / 2, "{counts:?}");
}

/// Picks the next operation: accept while busy calls are left, cancel a live request,
/// register or unregister a phone.
fn choose(rng: &mut StdRng, model: &Model, busy: &mut Vec<(String, u64)>) -> Op {
    loop {
        match rng.random_range(0..10) {
            0..=3 if !busy.is_empty() => {
                let (line, call) = busy.swap_remove(rng.random_range(0..busy.len()));
                return Op::Accept { line, call };
            }
            4..=5 if !model.live.is_empty() => {
                let at = rng.random_range(0..model.live.len());
                let (id, line) = model
                    .live
                    .iter()
                    .nth(at)
                    .map(|(i, l)| (*i, l.clone()))
                    .unwrap();
                return Op::Cancel { line, id };
            }
            6..=7 => {
                let user = REGISTRANTS[rng.random_range(0..REGISTRANTS.len())].to_owned();
                return Op::Register { user };
            }
            8..=9 => {
                let user = REGISTRANTS[rng.random_range(0..REGISTRANTS.len())].to_owned();
                return Op::Unregister { user };
            }
            _ => {}
        }
    }
}

fn start(op: &Op, api: SocketAddr, sip: SocketAddr, ports: &BTreeMap<String, u16>) -> Running {
    match op {
        Op::Accept { call, .. } => {
            let path = format!("/v1/calls/{call}/complete");
            Running::Http(std::thread::spawn(move || {
                try_request(api, "POST", &path, Some(r#"{"mode": "callback"}"#))
            }))
        }
        Op::Cancel { line, id } => {
            let path = format!("/v1/lines/{line}/completions/{id}");
            Running::Http(std::thread::spawn(move || {
                try_request(api, "DELETE", &path, None)
            }))
        }
        Op::Register { user } | Op::Unregister { user } => {
            let (scenario, expires) = match op {
                Op::Register { .. } => ("register.xml", "3600"),
                _ => ("unregister.xml", "0"),
            };
            let sipp = Sipp::new(scenario)
                .user(user)
                .remote(sip)
                .key("expires", expires)
                .local_port(ports[user])
                // At the default rate of one call a second SIPp waits out the second.
                .arg("-r")
                .arg("100")
                .timeout(Duration::from_secs(3));
            Running::Sipp(sipp.spawn())
        }
    }
}

/// Waits for an operation's answer; after a kill (`server_up` false) a SIPp still waiting is
/// stopped, as it will never get one.
fn finish(run: Running, server_up: bool) -> Outcome {
    match run {
        Running::Http(thread) => match thread.join().unwrap() {
            Some((status, body)) if (200..300).contains(&status) => {
                let id = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["completion_id"].as_u64());
                Outcome::Acknowledged(id)
            }
            Some((status, body)) => Outcome::Refused(format!("{status} {body}")),
            None => Outcome::Unanswered,
        },
        Running::Sipp(mut sipp) => {
            if !server_up && sipp.running() {
                let _ = sipp.kill();
                return Outcome::Unanswered;
            }
            let outcome = sipp.wait();
            match outcome.code() {
                Some(0) => Outcome::Acknowledged(None),
                // With the server up a failed REGISTER was answered with an error.
                _ if server_up => Outcome::Refused(outcome.report),
                // After the kill SIPp cannot tell a refusal from silence: assume nothing.
                _ => Outcome::Unanswered,
            }
        }
    }
}

fn record(model: &mut Model, counts: &mut Counts, op: &Op, outcome: &Outcome, server: &Process) {
    counts.operations += 1;
    match outcome {
        Outcome::Acknowledged(_) => counts.acknowledged += 1,
        Outcome::Refused(_) => counts.refused += 1,
        Outcome::Unanswered => counts.unanswered += 1,
    }
    match (op, outcome) {
        (Op::Accept { line, .. }, Outcome::Acknowledged(id)) => {
            let id = id.unwrap_or_else(|| panic!("an accept answered without an id"));
            assert!(
                model.seen.insert(id),
                "completion id {id} issued twice\n{}",
                server.log()
            );
            model.live.insert(id, line.clone());
        }
        (Op::Accept { .. }, Outcome::Unanswered) => model.unanswered_accepts += 1,
        (Op::Cancel { id, .. }, Outcome::Acknowledged(_)) => {
            model.live.remove(id);
            model.cancelled.insert(*id);
        }
        (Op::Cancel { id, line }, Outcome::Unanswered) => {
            model.live.remove(id);
            model.maybe_cancelled.insert(*id, line.clone());
        }
        (Op::Register { user }, Outcome::Acknowledged(_)) => {
            model.regs.insert(user.clone(), Reg::Registered);
        }
        (Op::Unregister { user }, Outcome::Acknowledged(_)) => {
            model.regs.insert(user.clone(), Reg::Unregistered);
        }
        (Op::Register { user } | Op::Unregister { user }, Outcome::Unanswered) => {
            model.regs.insert(user.clone(), Reg::Unknown);
        }
        // Refused: nothing may have changed, which the next check verifies.
        (_, Outcome::Refused(_)) => {}
    }
}

/// The restarted server against the model: every acknowledged request outstanding, no
/// acknowledged cancel back, at most one request per unanswered accept, registrations as
/// acknowledged. What was unknown becomes what the server has.
fn check(model: &mut Model, api: SocketAddr, db: &Path, server: &Process) {
    let mut outstanding: BTreeMap<u64, String> = BTreeMap::new();
    for line in CALLERS {
        let (status, body) =
            try_request(api, "GET", &format!("/v1/lines/{line}/completions"), None)
                .unwrap_or_else(|| panic!("no answer from the API\n{}", server.log()));
        assert_eq!(status, 200, "{body}");
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        for r in list.as_array().unwrap() {
            let id = r["completion_id"].as_u64().unwrap();
            assert!(
                outstanding.insert(id, line.to_owned()).is_none(),
                "completion {id} listed twice"
            );
        }
    }
    for (id, line) in &model.live {
        assert!(
            outstanding.contains_key(id),
            "acknowledged completion {id} of {line} lost after kill -9\n{}",
            server.log()
        );
    }
    for id in &model.cancelled {
        assert!(
            !outstanding.contains_key(id),
            "completion {id} came back after its cancel was acknowledged\n{}",
            server.log()
        );
    }
    let unknown: Vec<u64> = outstanding
        .keys()
        .filter(|id| !model.live.contains_key(id) && !model.maybe_cancelled.contains_key(id))
        .copied()
        .collect();
    assert!(
        unknown.len() <= model.unanswered_accepts,
        "{} requests nobody was told of, for {} unanswered accepts: {unknown:?}\n{}",
        unknown.len(),
        model.unanswered_accepts,
        server.log()
    );
    for id in unknown {
        assert!(model.seen.insert(id), "completion id {id} issued twice");
        model.live.insert(id, outstanding[&id].clone());
    }
    for (id, line) in std::mem::take(&mut model.maybe_cancelled) {
        if outstanding.contains_key(&id) {
            model.live.insert(id, line);
        } else {
            model.cancelled.insert(id);
        }
    }
    model.unanswered_accepts = 0;

    let bound = registered_users(db);
    for (user, reg) in model.regs.iter_mut() {
        let has = bound.contains(user);
        match *reg {
            Reg::Registered => assert!(has, "acknowledged registration of {user} lost"),
            Reg::Unregistered => assert!(
                !has,
                "{user} registered although its last acknowledged REGISTER removed it"
            ),
            Reg::Unknown => {}
        }
        *reg = if has {
            Reg::Registered
        } else {
            Reg::Unregistered
        };
    }
}

/// The users with a stored binding, read from the database the server runs on.
fn registered_users(db: &Path) -> BTreeSet<String> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn.prepare("SELECT DISTINCT aor FROM bindings").unwrap();
    let aors: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    aors.iter()
        .filter_map(|aor| aor.strip_prefix("sip:"))
        .filter_map(|a| a.split('@').next())
        .map(str::to_owned)
        .collect()
}

/// Calls from every caller to the unregistered callee: each ends with 480 and stays `busy`.
fn make_busy_calls(sip: SocketAddr, api: SocketAddr, server: &Process) -> Vec<(String, u64)> {
    let runs: Vec<SippProcess> = CALLERS
        .iter()
        .map(|caller| {
            Sipp::new("call_expect_480.xml")
                .user(caller)
                .remote(sip)
                .service(CALLEE)
                .set("expect_m", "NL")
                .arg("-m")
                .arg(&CALLS_PER_CALLER.to_string())
                .arg("-r")
                .arg("50")
                .arg("-l")
                .arg(&CALLS_PER_CALLER.to_string())
                .spawn()
        })
        .collect();
    for run in runs {
        run.wait().assert_success();
    }
    let mut busy = Vec::new();
    for line in CALLERS {
        let (status, body) = try_request(api, "GET", &format!("/v1/lines/{line}/calls"), None)
            .unwrap_or_else(|| panic!("no answer from the API\n{}", server.log()));
        assert_eq!(status, 200, "{body}");
        let calls: serde_json::Value = serde_json::from_str(&body).unwrap();
        for c in calls.as_array().unwrap() {
            if c["state"] == "busy" {
                busy.push((line.to_owned(), c["id"].as_u64().unwrap()));
            }
        }
    }
    assert_eq!(busy.len(), CALLERS.len() * CALLS_PER_CALLER, "{busy:?}");
    busy
}

/// One HTTP/1.1 exchange; `None` when the server did not answer (it was killed).
fn try_request(
    api: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Option<(u16, String)> {
    let wait = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&api, wait).ok()?;
    stream.set_read_timeout(Some(wait)).ok()?;
    let body = body.unwrap_or("");
    let text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).ok()?;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// The server as a child process this test kills with SIGKILL; its stderr goes to a file per
/// start, shown when a check fails.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn start(config: &Path, dir: &Path, sip: SocketAddr, round: usize) -> Process {
        let log = dir.join(format!("stderr-{round}.log"));
        let child = Command::new(callcomp_bin())
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "info")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut process = Process { child, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sip_options_answered(sip, Duration::from_millis(200)) {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("the server exited ({status})\n{}", process.log());
            }
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        process
    }

    fn kill9(&self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-KILL", &pid]).status().unwrap();
        assert!(status.success());
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("--- {} ---\n{text}--- end ---", self.log.display())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
