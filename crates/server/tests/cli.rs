//! The `callcomp` client subcommands (`lines`, `calls`, `call`, `drop`, `events`) run as the
//! real binary against the real API router, served in-process on an ephemeral port over the
//! fake core of `common_api` (a real switch driven by facts).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common_api;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use callcomp::api::{self, ApiOptions, CallView, Core};
use callcomp_switch::{Event, Fact, Party, Side};
use serde_json::Value;

use common_api::{alice_busy_on_bob, FakeCore};

/// How long a test waits for a child's next line or exit before failing instead of hanging.
/// A bound on a hang, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(30);

/// The API served on an ephemeral loopback port by its own runtime.
struct Server {
    runtime: tokio::runtime::Runtime,
    core: Arc<FakeCore>,
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    fn start(token: Option<&str>) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let core = FakeCore::new(64);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let options = ApiOptions {
            token: token.map(str::to_owned),
            metrics: None,
        };
        let router = api::router(core.clone(), options);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = runtime.spawn(api::serve(listener, router, async move {
            let _ = stopped.await;
        }));
        Server {
            runtime,
            core,
            url,
            stop,
            task,
        }
    }

    /// Runs `callcomp --api URL ARGS…` to completion, with `env` and nothing inherited from
    /// the test's own `CALLCOMP_*` variables.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        run(&self.url, args, env)
    }

    /// Stops serving and drops the core's event sender, which ends open event streams; the
    /// runtime is returned so the stream tasks can still say goodbye.
    fn shut_down(self) -> tokio::runtime::Runtime {
        let Server {
            runtime,
            core,
            stop,
            task,
            ..
        } = self;
        stop.send(()).unwrap();
        runtime.block_on(task).unwrap().unwrap();
        drop(core);
        runtime
    }
}

/// What a finished run printed, and its exit code.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn command(url: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callcomp"));
    cmd.env_remove("CALLCOMP_API")
        .env_remove("CALLCOMP_TOKEN")
        .arg("--api")
        .arg(url)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn run(url: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = command(url, args, env).output().unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Asserts a successful run and returns its stdout.
fn ok(run: Run) -> String {
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stderr, "", "{run:?}");
    run.stdout
}

#[test]
fn lines_as_a_table_and_as_json() {
    let server = Server::start(None);
    assert_eq!(
        ok(server.run(&["lines"], &[])),
        "NAME   ADDRESS                REGISTERED  CALLS  IN CALL  COMPLETIONS  MODES\n\
         alice  sip:alice@example.com  -           0      no       0/4          callback,message\n\
         bob    sip:bob@example.com    -           0      no       0/4          callback,message\n\
         carol  sip:carol@example.com  -           0      no       0/4          callback,message\n"
    );

    // With a call in progress the status columns follow the core.
    server
        .core
        .apply(Fact::Dialed {
            call: server.core.new_ref(),
            from: Party::Line("carol".into()),
            to: "bob".into(),
        })
        .unwrap();
    let table = ok(server.run(&["lines"], &[]));
    assert!(
        table.contains("\ncarol  sip:carol@example.com  -           1      yes      0/4"),
        "{table}"
    );

    // --json is the API's JSON, pretty-printed, whatever the option's position.
    for args in [&["--json", "lines"][..], &["lines", "--json"][..]] {
        let out = ok(server.run(args, &[]));
        // Keys keep the API's order.
        assert!(
            out.starts_with("[\n  {\n    \"name\": \"alice\",\n    \"address\": "),
            "{out}"
        );
        let printed: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(printed, serde_json::to_value(server.core.lines()).unwrap());
    }
}

#[test]
fn calls_of_one_line_and_of_all() {
    let server = Server::start(None);
    assert_eq!(ok(server.run(&["calls"], &[])), "no calls\n");
    assert_eq!(
        ok(server.run(&["calls", "alice"], &[])),
        "no calls on alice\n"
    );

    alice_busy_on_bob(&server.core);
    server
        .core
        .apply(Fact::Dialed {
            call: server.core.new_ref(),
            from: Party::Line("carol".into()),
            to: "sip:bob@example.com".into(),
        })
        .unwrap();
    let alice = server.core.line_calls("alice").unwrap();
    assert_eq!(alice.len(), 1);
    let id = alice[0].id;
    assert_eq!(
        ok(server.run(&["calls", "alice"], &[])),
        format!(
            "ID  LINE   DIR  REMOTE               STATE         REASON  COMPLETION\n\
             {id:<2}  alice  out  sip:bob@example.com  busy/station  direct  -\n"
        )
    );

    // Every line's calls, by id: the same objects the API gives line by line.
    let mut every: Vec<CallView> = ["alice", "bob", "carol"]
        .iter()
        .flat_map(|l| server.core.line_calls(l).unwrap())
        .collect();
    every.sort_by_key(|c| c.id);
    assert!(every.len() >= 2, "{every:?}");
    let printed: Value = serde_json::from_str(&ok(server.run(&["calls", "--json"], &[]))).unwrap();
    assert_eq!(printed, serde_json::to_value(&every).unwrap());
    let table = ok(server.run(&["calls"], &[]));
    let ids: Vec<String> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    let want: Vec<String> = every.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(ids, want, "{table}");
    assert!(
        table.contains("  carol  out  sip:bob@example.com  dialing"),
        "{table}"
    );
}

#[test]
fn call_prints_the_new_call_and_drop_ends_it() {
    let server = Server::start(None);
    let out = ok(server.run(&["call", "alice", "bob"], &[]));
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(
        rows[0].starts_with("ID  LINE   DIR  REMOTE  STATE"),
        "{out}"
    );
    let fields: Vec<&str> = rows[1].split_whitespace().collect();
    assert_eq!(
        &fields[1..],
        ["alice", "out", "bob", "dialing", "direct", "-"]
    );
    let id: u32 = fields[0].parse().unwrap();
    assert_eq!(server.core.call(id).unwrap().remote, "bob");

    let made: Value =
        serde_json::from_str(&ok(server.run(&["--json", "call", "carol", "bob"], &[]))).unwrap();
    let second = u32::try_from(made["id"].as_u64().unwrap()).unwrap();
    assert_eq!(
        made,
        serde_json::to_value(server.core.call(second).unwrap()).unwrap()
    );

    assert_eq!(
        ok(server.run(&["drop", &id.to_string()], &[])),
        format!("call {id} dropped\n")
    );
    assert!(server.core.call(id).is_err(), "the call is gone");
    assert_eq!(
        ok(server.run(&["drop", "--json", &second.to_string()], &[])),
        ""
    );
    assert!(server.core.call(second).is_err());
}

#[test]
fn api_errors_are_named_and_exit_1() {
    let server = Server::start(None);
    let rows: &[(&[&str], &str)] = &[
        (
            &["drop", "42"],
            "error: LINEERR_INVALCALLHANDLE: the call handle is not valid\n",
        ),
        (
            &["calls", "nobody"],
            "error: LINEERR_INVALLINEHANDLE: the line handle is not valid\n",
        ),
        // The line name is one path segment, slashes and all.
        (
            &["calls", "a/b"],
            "error: LINEERR_INVALLINEHANDLE: the line handle is not valid\n",
        ),
        (
            &["call", "nobody", "bob"],
            "error: LINEERR_INVALLINEHANDLE: the line handle is not valid\n",
        ),
        (
            &["call", "alice", "nowhere"],
            "error: LINEERR_INVALADDRESS: the destination `nowhere` is not a valid address\n",
        ),
        (
            &["--json", "drop", "7"],
            "error: LINEERR_INVALCALLHANDLE: the call handle is not valid\n",
        ),
    ];
    for &(args, want) in rows {
        let got = server.run(args, &[]);
        assert_eq!(got.code, Some(1), "{args:?}: {got:?}");
        assert_eq!(got.stdout, "", "{args:?}");
        assert_eq!(got.stderr, want, "{args:?}");
    }
}

#[test]
fn the_token_is_sent_and_its_absence_explained() {
    let server = Server::start(Some("s3cret"));
    for args in [&["lines"][..], &["events"][..], &["drop", "1"][..]] {
        let missing = server.run(args, &[]);
        assert_eq!(missing.code, Some(1), "{args:?}: {missing:?}");
        assert!(
            missing.stderr.starts_with("error: ")
                && missing.stderr.contains("401")
                && missing.stderr.contains("a token is required; pass --token"),
            "{args:?}: {missing:?}"
        );
        let mut wrong_args = vec!["--token", "guess"];
        wrong_args.extend_from_slice(args);
        let wrong = server.run(&wrong_args, &[]);
        assert_eq!(wrong.code, Some(1), "{args:?}: {wrong:?}");
        assert!(
            wrong.stderr.contains("the token is wrong"),
            "{args:?}: {wrong:?}"
        );
    }
    assert!(ok(server.run(&["--token", "s3cret", "lines"], &[])).starts_with("NAME"));
    assert!(ok(server.run(&["lines"], &[("CALLCOMP_TOKEN", "s3cret")])).starts_with("NAME"));
}

#[test]
fn a_server_that_is_not_there_is_named() {
    // A port that was free a moment ago; nothing listens on it now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    for args in [&["lines"][..], &["calls"][..], &["events"][..]] {
        let got = run(&url, args, &[]);
        assert_eq!(got.code, Some(1), "{args:?}: {got:?}");
        assert!(
            got.stderr.contains(&url)
                && got.stderr.contains("connection refused")
                && got.stderr.contains("callcomp serve"),
            "{args:?}: {got:?}"
        );
    }
    // CALLCOMP_API is the default for --api.
    let mut env_run = Command::new(env!("CARGO_BIN_EXE_callcomp"));
    env_run
        .env("CALLCOMP_API", &url)
        .env_remove("CALLCOMP_TOKEN")
        .arg("lines");
    let got = env_run.output().unwrap();
    assert_eq!(got.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&got.stderr).contains(&url));
}

#[test]
fn completion_subcommands_talk_to_the_api() {
    let server = Server::start(None);
    // The fake core has no completion requests and refuses lineCompleteCall.
    assert_eq!(
        ok(server.run(&["completions", "alice"], &[])),
        "no completion requests on alice\n"
    );
    assert_eq!(
        ok(server.run(&["completions"], &[])),
        "no completion requests\n"
    );
    assert_eq!(
        ok(server.run(&["--json", "completions", "alice"], &[])),
        "[]\n"
    );
    let got = server.run(&["complete", "1", "--mode", "callback"], &[]);
    assert_eq!(got.code, Some(1), "{got:?}");
    assert!(got.stderr.contains("LINEERR_OPERATIONUNAVAIL"), "{got:?}");
    let got = server.run(&["completions", "nobody"], &[]);
    assert_eq!(got.code, Some(1), "{got:?}");
    assert!(got.stderr.contains("LINEERR_INVALLINEHANDLE"), "{got:?}");
}

/// A running `callcomp events` whose output lines arrive on channels.
struct Follower {
    child: Option<Child>,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Follower {
    /// Starts `callcomp events` and waits until it says it is following, which it says only
    /// once the server has subscribed it.
    fn start(url: &str, args: &[&str]) -> Follower {
        let mut child = command(url, args, &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        let mut follower = Follower {
            child: Some(child),
            stdout,
            stderr,
        };
        let first = follower.stderr_line();
        assert!(
            first.starts_with("following events from ws://")
                && first.ends_with("/v1/events (Ctrl-C to stop)"),
            "{first}"
        );
        follower
    }

    fn stdout_line(&mut self) -> String {
        self.stdout
            .recv_timeout(PATIENCE)
            .expect("no output line from callcomp events")
    }

    fn stderr_line(&mut self) -> String {
        self.stderr
            .recv_timeout(PATIENCE)
            .expect("no stderr line from callcomp events")
    }

    /// Waits for the process to exit on its own; its exit code.
    fn exit_code(&mut self) -> Option<i32> {
        let mut child = self.child.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait().unwrap().code());
        });
        rx.recv_timeout(PATIENCE)
            .expect("callcomp events did not exit")
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // It may have exited already.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The lines read from `pipe`, on a channel, by a thread of their own.
fn lines_of(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The time of day in UTC that the CLI prints for `ms`, computed independently.
fn time_of_day(ms: u64) -> String {
    let s = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600 % 24,
        s / 60 % 60,
        s % 60,
        ms % 1000
    )
}

/// A whole call through the fake core: alice calls bob, bob answers, alice hangs up.
fn whole_call(core: &FakeCore) -> Vec<Event> {
    let call = core.new_ref();
    let mut sent = Vec::new();
    for fact in [
        Fact::Dialed {
            call,
            from: Party::Line("alice".into()),
            to: "sip:bob@example.com".into(),
        },
        Fact::Proceeding { call },
        Fact::offered(call, "bob"),
        Fact::Ringing { call },
        Fact::Answered { call },
        Fact::Hangup {
            call,
            by: Side::Caller,
        },
    ] {
        sent.extend(core.apply(fact).unwrap());
    }
    sent
}

#[test]
fn events_are_printed_in_order_one_line_each() {
    let server = Server::start(Some("s3cret"));
    let mut table = Follower::start(&server.url, &["--token", "s3cret", "events"]);
    let mut json = Follower::start(&server.url, &["--token", "s3cret", "events", "--json"]);

    let sent = whole_call(&server.core);
    assert!(sent.len() >= 10, "{sent:?}");
    for event in &sent {
        let value = serde_json::to_value(event).unwrap();
        let line = table.stdout_line();
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            fields[0],
            time_of_day(value["at_ms"].as_u64().unwrap()),
            "{line}"
        );
        assert_eq!(fields[1], format!("#{}", event.seq), "{line}");
        assert_eq!(fields[2], event.kind.name(), "{line}");
        assert_eq!(
            fields[3..5],
            ["call".to_owned(), value["call_id"].to_string()],
            "{line}"
        );
        assert_eq!(fields[5], value["line"], "{line}");
        match event.kind.name() {
            "callstate" => {
                let state = value["state"].as_str().unwrap();
                assert!(
                    fields[6] == state || fields[6].starts_with(&format!("{state}/")),
                    "{line}"
                );
            }
            "appnewcall" => {
                assert_eq!(fields[6], value["direction"], "{line}");
                assert_eq!(fields[7], value["remote"], "{line}");
            }
            _ => {}
        }
        assert!(
            line.contains(&format!("reason {}", value["reason"].as_str().unwrap())),
            "{line}"
        );

        // --json: the event as the server sent it, one object per line.
        let raw = json.stdout_line();
        assert!(raw.starts_with(r#"{"seq":"#), "{raw}");
        assert_eq!(serde_json::from_str::<Value>(&raw).unwrap(), value);
    }
}

#[test]
fn events_end_when_the_server_ends_the_stream() {
    let server = Server::start(None);
    let mut follower = Follower::start(&server.url, &["events"]);
    let runtime = server.shut_down();
    // The server closes with 1001 once the core's event sender is gone.
    let said = follower.stderr_line();
    assert_eq!(
        said,
        "error: the server closed the event stream (code 1001: event stream ended)"
    );
    assert_eq!(follower.exit_code(), Some(1));
    drop(runtime);
}
