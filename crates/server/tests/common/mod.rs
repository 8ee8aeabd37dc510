//! End-to-end test harness: runs the real `callcomp` binary on free loopback ports and drives it
//! with SIPp scenarios (`tests/sipp/*.xml`, Debian package `sip-tester`).
//!
//! - [`free_port`] picks a port that is free for both UDP and TCP on 127.0.0.1.
//! - [`ServerConfig`] writes a configuration file for a test (users with and without
//!   passwords, domain 127.0.0.1, SIP and API on free ports, the store in a temporary
//!   directory); [`Server::start`] runs `callcomp serve --config FILE` as a child process,
//!   waits until it answers (SIP OPTIONS or `GET /healthz`), kills it on drop, and prints its
//!   stderr when the test is failing.
//! - [`Sipp`] builds one SIPp run; [`SippProcess`] is a running one (killed on drop);
//!   [`SippOutcome`] is how it ended, with its error log for failure messages.
//! - [`Phone`] registers a user with `phone.xml` and then plays a callee scenario
//!   (`uas_*.xml`, loaded with `-oocsf`); [`call`] runs a phone and a caller side by side.
//!
//! `CALLCOMP_E2E_BIN=/path/to/callcomp` runs the tests against another build of the server.
//!
//! SIPp is required: [`require_sipp`] fails the test with installation advice when it is
//! missing, so a machine without SIPp never reports these tests as passed. `scripts/test`
//! installs it.
//!
//! Waiting for other processes (the server to listen, a phone to register) is done by bounded
//! polling; no test asserts on how long anything took.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

pub mod audio;
pub mod http;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Loopback, where every test process listens.
pub const LOCALHOST: &str = "127.0.0.1";

/// How long a server gets to start answering before the test fails.
pub const SERVER_START_TIMEOUT: Duration = Duration::from_secs(10);

/// SIPp's own global timeout for one run (`-timeout`, with `-timeout_error`).
pub const SIPP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a phone gets to register before the test fails.
pub const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);

/// Password of the test users that have one: `<name>-secret`.
pub fn password_of(user: &str) -> String {
    format!("{user}-secret")
}

/// The directory of the SIPp scenarios.
pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp")
}

/// The path of one scenario file, checked to exist.
pub fn scenario(name: &str) -> PathBuf {
    let path = scenario_dir().join(name);
    assert!(path.is_file(), "no SIPp scenario {}", path.display());
    path
}

/// Fails the test unless the `sipp` binary can be run. Never skips silently: an end-to-end
/// test that did not run must not look like one that passed.
pub fn require_sipp() {
    if let Err(why) = sipp_available() {
        panic!(
            "SIPp is required for the end-to-end tests but {why}.\n\
             Install it with `apt-get install -y sip-tester` (Debian/Ubuntu), \
             or run scripts/test as root, which installs it."
        );
    }
}

/// Whether `sipp` can be run: `Err` says why not.
pub fn sipp_available() -> Result<(), String> {
    match Command::new("sipp")
        .arg("-v")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
    {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            if text.contains("SIPp") {
                Ok(())
            } else {
                Err(format!("`sipp -v` printed no version ({text:?})"))
            }
        }
        Err(e) => Err(format!("`sipp` cannot be run ({e})")),
    }
}

/// A port that is free for both UDP and TCP on 127.0.0.1 at the time of the call, and that
/// this test process has not handed out before: tests run in parallel threads, and a port
/// given to one SIPp that has not bound it yet would otherwise look free to the next caller.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    for _ in 0..100 {
        let udp = UdpSocket::bind((LOCALHOST, 0)).expect("bind a UDP socket on loopback");
        let port = udp.local_addr().unwrap().port();
        if !given.contains(&port) && TcpListener::bind((LOCALHOST, port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("found no port free for both UDP and TCP on {LOCALHOST}");
}

/// A fresh directory under the system temp dir, removed on drop unless the test is failing
/// (then it is kept for inspection and its path printed).
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    /// Creates `callcomp-e2e-<pid>-<n>-<label>`.
    pub fn new(label: &str) -> TestDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("callcomp-e2e-{}-{n}-{label}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a test directory");
        TestDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("(test files kept in {})", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// One configured user of a test server.
#[derive(Clone, Debug)]
pub struct TestUser {
    /// The user (line) name.
    pub name: String,
    /// Digest password; `None` registers without authentication.
    pub password: Option<String>,
    /// Extra `key = value` lines for the user's table (e.g. `call_waiting = false`).
    pub extra: Vec<String>,
}

/// What a test server is configured with. `default()` has alice and bob with passwords
/// (`alice-secret`, `bob-secret`) and carol and dave without, a 3 s no-answer timeout, and
/// debug logging.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The users, in order.
    pub users: Vec<TestUser>,
    /// `sip.no_answer_timeout`.
    pub no_answer_timeout: String,
    /// `sip.transports`.
    pub transports: Vec<String>,
    /// `log.level`.
    pub log_level: String,
    /// Whole extra tables appended to the file (e.g. "[completion]\nbusy_hold = \"5s\"\n").
    pub extra_tables: String,
    /// Extra `key = value` lines for the tables the harness writes itself (`sip`, `api`,
    /// `log`), by table name.
    pub section_lines: Vec<(String, String)>,
    /// `api.token`.
    pub api_token: Option<String>,
    /// `domain` (default 127.0.0.1).
    pub domain: String,
    /// A SIP port chosen in advance (e.g. so another server's trunk can name it); `None`
    /// picks a free one.
    pub sip_port: Option<u16>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        let mut config = ServerConfig {
            users: Vec::new(),
            no_answer_timeout: "3s".to_owned(),
            transports: vec!["udp".to_owned(), "tcp".to_owned()],
            log_level: "debug".to_owned(),
            extra_tables: String::new(),
            section_lines: Vec::new(),
            api_token: None,
            domain: LOCALHOST.to_owned(),
            sip_port: None,
        };
        for name in ["alice", "bob"] {
            config = config.user(name, Some(&password_of(name)));
        }
        for name in ["carol", "dave"] {
            config = config.user(name, None);
        }
        config
    }
}

impl ServerConfig {
    /// Adds (or replaces) a user.
    pub fn user(mut self, name: &str, password: Option<&str>) -> ServerConfig {
        self.users.retain(|u| u.name != name);
        self.users.push(TestUser {
            name: name.to_owned(),
            password: password.map(str::to_owned),
            extra: Vec::new(),
        });
        self
    }

    /// Adds a `key = value` line to an existing user's table.
    pub fn user_option(mut self, name: &str, line: &str) -> ServerConfig {
        let user = self
            .users
            .iter_mut()
            .find(|u| u.name == name)
            .unwrap_or_else(|| panic!("no test user {name}"));
        user.extra.push(line.to_owned());
        self
    }

    /// Sets `api.token`: every API route but `/healthz` then needs the token.
    pub fn token(mut self, token: &str) -> ServerConfig {
        self.api_token = Some(token.to_owned());
        self
    }

    /// Adds a `key = value` line to a table the harness writes itself (`sip`, `api`, `log`).
    pub fn option(mut self, table: &str, line: &str) -> ServerConfig {
        assert!(
            ["sip", "api", "log"].contains(&table),
            "use tables() for [{table}]"
        );
        self.section_lines.push((table.to_owned(), line.to_owned()));
        self
    }

    /// Adds a `key = value` line to the `[sip]` table.
    pub fn sip_option(self, line: &str) -> ServerConfig {
        self.option("sip", line)
    }

    /// Sets `domain`.
    pub fn domain(mut self, domain: &str) -> ServerConfig {
        self.domain = domain.to_owned();
        self
    }

    /// Listens for SIP on this port instead of a free one picked at start.
    pub fn sip_port(mut self, port: u16) -> ServerConfig {
        self.sip_port = Some(port);
        self
    }

    /// Appends whole tables to the file.
    pub fn tables(mut self, toml: &str) -> ServerConfig {
        self.extra_tables.push_str(toml);
        self.extra_tables.push('\n');
        self
    }

    /// The password a user is configured with.
    pub fn password(&self, name: &str) -> Option<&str> {
        self.users
            .iter()
            .find(|u| u.name == name)
            .and_then(|u| u.password.as_deref())
    }

    /// The TOML text for the given ports and store path.
    pub fn to_toml(&self, sip_port: u16, api_port: u16, store: &Path) -> String {
        let quoted = |items: &[String]| {
            items
                .iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut text = String::new();
        let _ = writeln!(text, "# Written by the end-to-end test harness.");
        let _ = writeln!(text, "domain = \"{}\"\n", self.domain);
        let _ = writeln!(text, "[sip]");
        let _ = writeln!(text, "listen = [\"{LOCALHOST}:{sip_port}\"]");
        let _ = writeln!(text, "transports = [{}]", quoted(&self.transports));
        let _ = writeln!(text, "no_answer_timeout = {:?}", self.no_answer_timeout);
        let extra = |text: &mut String, table: &str| {
            for (t, line) in &self.section_lines {
                if t == table {
                    let _ = writeln!(text, "{line}");
                }
            }
            text.push('\n');
        };
        extra(&mut text, "sip");
        let _ = writeln!(text, "[api]");
        let _ = writeln!(text, "listen = \"{LOCALHOST}:{api_port}\"");
        if let Some(token) = &self.api_token {
            let _ = writeln!(text, "token = {token:?}");
        }
        extra(&mut text, "api");
        let _ = writeln!(text, "[store]");
        let _ = writeln!(text, "path = {:?}\n", store.display().to_string());
        let _ = writeln!(text, "[log]");
        let _ = writeln!(text, "level = {:?}", self.log_level);
        extra(&mut text, "log");
        text.push_str(&self.extra_tables);
        for user in &self.users {
            let _ = writeln!(text, "\n[users.{}]", user.name);
            if let Some(password) = &user.password {
                let _ = writeln!(text, "password = {password:?}");
            }
            for line in &user.extra {
                let _ = writeln!(text, "{line}");
            }
        }
        text
    }

    /// Writes the file into `dir` with fresh free ports; returns (path, SIP port, API port).
    pub fn write(&self, dir: &Path) -> (PathBuf, u16, u16) {
        let sip_port = self.sip_port.unwrap_or_else(free_port);
        let mut api_port = free_port();
        while api_port == sip_port {
            api_port = free_port();
        }
        let path = dir.join("callcomp.toml");
        let text = self.to_toml(sip_port, api_port, &dir.join("callcomp.db"));
        std::fs::write(&path, text).expect("write the test configuration");
        (path, sip_port, api_port)
    }
}

/// Where Debian installs baresip's modules (no architecture in the path there; the others are
/// for builds from source).
const BARESIP_MODULE_DIRS: &[&str] = &[
    "/usr/lib/baresip/modules",
    "/usr/local/lib/baresip/modules",
    "/usr/lib/x86_64-linux-gnu/baresip/modules",
    "/usr/lib/aarch64-linux-gnu/baresip/modules",
];

/// The directory of baresip's modules that holds `module` (e.g. `g711.so`). baresip is
/// required where it is used: a machine without it fails the test, saying how to install it.
pub fn baresip_module_dir(module: &str) -> PathBuf {
    BARESIP_MODULE_DIRS
        .iter()
        .map(Path::new)
        .find(|dir| dir.join(module).is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| {
            panic!(
                "baresip is required for this test but its module {module} is in none of \
                 {BARESIP_MODULE_DIRS:?}.\nInstall it with `apt-get install -y baresip-core` \
                 (Debian/Ubuntu), or run scripts/test as root, which installs it."
            )
        })
}

/// The `callcomp` binary under test: `$CALLCOMP_E2E_BIN` when set (e.g. a release build, for
/// a run by hand), else the one Cargo built for this test.
pub fn callcomp_bin() -> PathBuf {
    std::env::var_os("CALLCOMP_E2E_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_callcomp")))
}

/// Runs the `callcomp` binary with `args` and returns (exit code, stdout, stderr).
pub fn callcomp(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(callcomp_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run callcomp");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running `callcomp serve`, killed on drop. Its stderr goes to a file that is printed when
/// the test fails.
pub struct Server {
    child: Child,
    /// The configuration it runs with.
    pub config: ServerConfig,
    /// The configuration file.
    pub config_path: PathBuf,
    /// SIP address (UDP and TCP).
    pub sip: SocketAddr,
    /// API address.
    pub api: SocketAddr,
    stderr_path: PathBuf,
    // Last: removed after the child is gone.
    dir: TestDir,
}

impl Server {
    /// Writes the configuration, starts the server and waits until it answers; fails the test
    /// (with the server's stderr) if it exits or stays silent for [`SERVER_START_TIMEOUT`].
    pub fn start(config: ServerConfig) -> Server {
        match Server::try_start(config) {
            Ok(server) => server,
            Err(why) => panic!("{why}"),
        }
    }

    /// As [`Server::start`], returning the failure instead of failing the test.
    pub fn try_start(config: ServerConfig) -> Result<Server, String> {
        let dir = TestDir::new("server");
        let (config_path, sip_port, api_port) = config.write(dir.path());
        let stderr_path = dir.path().join("stderr.log");
        let stdout_path = dir.path().join("stdout.log");
        let child = Command::new(callcomp_bin())
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).expect("create stdout.log"))
            .stderr(std::fs::File::create(&stderr_path).expect("create stderr.log"))
            .spawn()
            .map_err(|e| format!("cannot start callcomp: {e}"))?;
        let mut server = Server {
            child,
            config,
            config_path,
            sip: SocketAddr::from(([127, 0, 0, 1], sip_port)),
            api: SocketAddr::from(([127, 0, 0, 1], api_port)),
            stderr_path,
            dir,
        };
        server.wait_ready(SERVER_START_TIMEOUT)?;
        Ok(server)
    }

    /// Polls until the SIP port answers an OPTIONS or the API answers `GET /healthz` with 200.
    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!(
                    "callcomp serve exited ({status}) before answering\n{}",
                    self.stderr()
                ));
            }
            if sip_options_answered(self.sip, Duration::from_millis(200))
                || http_get(self.api, "/healthz", Duration::from_millis(200))
                    .is_some_and(|(status, _)| status == 200)
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "callcomp serve did not answer SIP OPTIONS on {} nor GET /healthz on {} \
                     within {limit:?}\n{}",
                    self.sip,
                    self.api,
                    self.stderr()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits (bounded by [`SERVER_START_TIMEOUT`]) for the process to exit;
    /// `None` if it did not exit in time (it is killed on drop then).
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().ok()?;
        if !sent.success() {
            return None;
        }
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server with SIGTERM (failing the test unless it exits 0) and starts it again
    /// with the same configuration file, so on the same ports and the same store; waits until
    /// it answers. Its stderr is appended to the same log.
    pub fn restart(&mut self) {
        let status = self
            .terminate()
            .unwrap_or_else(|| panic!("callcomp did not exit after SIGTERM\n{}", self.stderr()));
        assert_eq!(status.code(), Some(0), "{}", self.stderr());
        let append = |path: &Path| {
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .expect("open a log for appending")
        };
        self.child = Command::new(callcomp_bin())
            .arg("serve")
            .arg("--config")
            .arg(&self.config_path)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(append(&self.dir.path().join("stdout.log")))
            .stderr(append(&self.stderr_path))
            .spawn()
            .expect("start callcomp again");
        if let Err(why) = self.wait_ready(SERVER_START_TIMEOUT) {
            panic!("{why}");
        }
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        format!(
            "--- callcomp stderr ({}) ---\n{text}--- end ---",
            self.stderr_path.display()
        )
    }

    /// The password of a configured user.
    pub fn password(&self, user: &str) -> Option<String> {
        self.config.password(user).map(str::to_owned)
    }

    /// A SIPp run aimed at this server as `user` (adds `-key user` and, when the user has a
    /// password, `-au`/`-ap`).
    pub fn sipp_as(&self, scenario: &str, user: &str) -> Sipp {
        let mut sipp = Sipp::new(scenario).user(user).remote(self.sip);
        if let Some(password) = self.password(user) {
            sipp = sipp.auth(user, &password);
        }
        sipp
    }

    /// Starts a phone for `user` registered at this server, playing `callee_scenario`.
    pub fn phone(&self, user: &str, callee_scenario: &str) -> Phone {
        Phone::start(self.sipp_as("phone.xml", user).ooc(callee_scenario))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.stderr());
        }
    }
}

/// Sends one SIP OPTIONS over UDP and reports whether any SIP response came back.
pub fn sip_options_answered(server: SocketAddr, wait: Duration) -> bool {
    let Ok(socket) = UdpSocket::bind((LOCALHOST, 0)) else {
        return false;
    };
    let local = socket.local_addr().unwrap();
    let request = format!(
        "OPTIONS sip:{server} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-ready-{port};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@{LOCALHOST}>;tag=ready{port}\r\n\
         To: <sip:{server}>\r\n\
         Call-ID: ready-{port}@{LOCALHOST}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        port = local.port()
    );
    if socket.send_to(request.as_bytes(), server).is_err() {
        return false;
    }
    let _ = socket.set_read_timeout(Some(wait));
    let mut buf = [0u8; 4096];
    match socket.recv_from(&mut buf) {
        Ok((n, _)) => buf[..n].starts_with(b"SIP/2.0 "),
        Err(_) => false,
    }
}

/// A plain HTTP/1.1 GET on a fresh connection: `Some((status, body))`, `None` when nothing
/// answered in time.
pub fn http_get(addr: SocketAddr, path: &str, wait: Duration) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, wait).ok()?;
    stream.set_read_timeout(Some(wait)).ok()?;
    stream.set_write_timeout(Some(wait)).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// Transport for a SIPp run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SipTransport {
    /// `-t u1`: one UDP socket.
    Udp,
    /// `-t t1`: one TCP connection.
    Tcp,
}

/// One SIPp run to be started: scenario, keywords, variables and addresses.
#[derive(Clone, Debug)]
pub struct Sipp {
    scenario: String,
    builtin: bool,
    args: Vec<String>,
    local_ip: &'static str,
    local_port: Option<u16>,
    remote: Option<SocketAddr>,
    transport: SipTransport,
    timeout: Duration,
}

impl Sipp {
    /// A run of `tests/sipp/<scenario>`: one call (`-m 1 -l 1 -r 1`), on 127.0.0.1, with
    /// `-timeout 20s -timeout_error`, the error log and the `<log>` actions traced to files.
    pub fn new(scenario: &str) -> Sipp {
        Sipp {
            scenario: scenario.to_owned(),
            builtin: false,
            args: Vec::new(),
            local_ip: LOCALHOST,
            local_port: None,
            remote: None,
            transport: SipTransport::Udp,
            timeout: SIPP_TIMEOUT,
        }
    }

    /// A run of one of SIPp's built-in scenarios (`-sn uac`, `-sn uas`, ...), otherwise as
    /// [`Sipp::new`].
    pub fn builtin(name: &str) -> Sipp {
        Sipp {
            builtin: true,
            ..Sipp::new(name)
        }
    }

    /// `-key name value`: the `[name]` keyword of the scenario.
    pub fn key(mut self, name: &str, value: &str) -> Sipp {
        self.args
            .extend(["-key".to_owned(), name.to_owned(), value.to_owned()]);
        self
    }

    /// `-set name value`: the initial value of the global variable `$name`.
    pub fn set(mut self, name: &str, value: &str) -> Sipp {
        self.args
            .extend(["-set".to_owned(), name.to_owned(), value.to_owned()]);
        self
    }

    /// `-key user NAME`, plus `-key expires 3600` (used by the REGISTER scenarios).
    pub fn user(self, name: &str) -> Sipp {
        self.key("user", name).key("expires", "3600")
    }

    /// `-s NAME`: the `[service]` keyword, the user called.
    pub fn service(mut self, name: &str) -> Sipp {
        self.args.extend(["-s".to_owned(), name.to_owned()]);
        self
    }

    /// `-au USER -ap PASSWORD`: credentials for `[authentication]`.
    pub fn auth(mut self, user: &str, password: &str) -> Sipp {
        self.args.extend([
            "-au".to_owned(),
            user.to_owned(),
            "-ap".to_owned(),
            password.to_owned(),
        ]);
        self
    }

    /// `-d MS`: the length of the scenario's `<pause/>`.
    pub fn pause_ms(mut self, ms: u64) -> Sipp {
        self.args.extend(["-d".to_owned(), ms.to_string()]);
        self
    }

    /// `-oocsf tests/sipp/<scenario>`: the scenario for requests of no known call.
    pub fn ooc(mut self, scenario_name: &str) -> Sipp {
        self.args.extend([
            "-oocsf".to_owned(),
            scenario(scenario_name).display().to_string(),
        ]);
        self
    }

    /// `-i IP`: the local address (default 127.0.0.1; another loopback address plays another
    /// host, such as a trunk's server).
    pub fn local_ip(mut self, ip: &'static str) -> Sipp {
        self.local_ip = ip;
        self
    }

    /// `-p PORT`: the local SIP port (a free one is picked when not given).
    pub fn local_port(mut self, port: u16) -> Sipp {
        self.local_port = Some(port);
        self
    }

    /// Where requests go (the positional `host:port`); none for server-mode scenarios.
    pub fn remote(mut self, addr: SocketAddr) -> Sipp {
        self.remote = Some(addr);
        self
    }

    /// Transport (`-t u1` or `-t t1`).
    pub fn transport(mut self, transport: SipTransport) -> Sipp {
        self.transport = transport;
        self
    }

    /// SIPp's global `-timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Sipp {
        self.timeout = timeout;
        self
    }

    /// Any other SIPp argument.
    pub fn arg(mut self, arg: &str) -> Sipp {
        self.args.push(arg.to_owned());
        self
    }

    /// The scenario file name.
    pub fn scenario_name(&self) -> &str {
        &self.scenario
    }

    /// Starts SIPp; fails the test when SIPp is missing or cannot start.
    pub fn spawn(self) -> SippProcess {
        require_sipp();
        let port = self.local_port.unwrap_or_else(free_port);
        let label = self.scenario.trim_end_matches(".xml").to_owned();
        let dir = TestDir::new(&format!("sipp-{label}-{port}"));
        let error_log = dir.path().join("errors.log");
        let action_log = dir.path().join("actions.log");
        let stderr_path = dir.path().join("stderr.log");
        let mut command = Command::new("sipp");
        if self.builtin {
            command.args(["-sn", &self.scenario]);
        } else {
            command.arg("-sf").arg(scenario(&self.scenario));
        }
        command
            .args(["-m", "1", "-l", "1", "-r", "1"])
            .args(["-i", self.local_ip, "-p", &port.to_string()])
            .args([
                "-t",
                match self.transport {
                    SipTransport::Udp => "u1",
                    SipTransport::Tcp => "t1",
                },
            ])
            .arg("-timeout")
            .arg(format!("{}s", self.timeout.as_secs().max(1)))
            .args(["-timeout_error", "-nostdin", "-trace_err", "-trace_logs"])
            .arg("-error_file")
            .arg(&error_log)
            .arg("-log_file")
            .arg(&action_log)
            .args(&self.args);
        if let Some(remote) = self.remote {
            command.arg(remote.to_string());
        }
        let shown = format!("{command:?}");
        let child = command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr_path).expect("create stderr.log"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start sipp: {e}"));
        SippProcess {
            child: Some(child),
            label,
            command: shown,
            port,
            // SIPp stops itself at -timeout; this outer bound only catches a hung SIPp.
            deadline: Instant::now() + self.timeout + Duration::from_secs(10),
            error_log,
            action_log,
            stderr_path,
            dir,
        }
    }

    /// Starts SIPp and waits for it to end.
    pub fn run(self) -> SippOutcome {
        self.spawn().wait()
    }
}

/// A running SIPp, killed on drop.
pub struct SippProcess {
    child: Option<Child>,
    label: String,
    command: String,
    port: u16,
    deadline: Instant,
    error_log: PathBuf,
    action_log: PathBuf,
    stderr_path: PathBuf,
    // Last: removed after the child is gone.
    dir: TestDir,
}

impl SippProcess {
    /// The local SIP port (`-p`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The local SIP address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Whether SIPp is still running.
    pub fn running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Polls the `<log>` output until it contains `needle`. `Err` (with everything SIPp
    /// wrote) if SIPp ends first or `limit` passes.
    pub fn wait_for_log(&mut self, needle: &str, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            let log = std::fs::read_to_string(&self.action_log).unwrap_or_default();
            if log.contains(needle) {
                return Ok(());
            }
            if !self.running() {
                return Err(format!(
                    "{} ended before logging {needle:?}\n{}",
                    self.label,
                    self.report()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} did not log {needle:?} within {limit:?}\n{}",
                    self.label,
                    self.report()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for SIPp to end (killing it past its deadline) and collects its logs.
    pub fn wait(mut self) -> SippOutcome {
        let mut status = None;
        if let Some(child) = &mut self.child {
            loop {
                match child.try_wait() {
                    Ok(Some(s)) => {
                        status = Some(s);
                        break;
                    }
                    Ok(None) if Instant::now() < self.deadline => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
        self.child = None;
        SippOutcome {
            label: self.label.clone(),
            status,
            report: self.report(),
        }
    }

    /// Stops SIPp now.
    pub fn kill(mut self) -> SippOutcome {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.child = None;
        SippOutcome {
            label: self.label.clone(),
            status: None,
            report: self.report(),
        }
    }

    /// The command line, stderr, error log and action log, for failure messages.
    fn report(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- {label}: {command}\n--- stderr:\n{stderr}\n--- error log:\n{errors}\n\
             --- action log:\n{actions}\n--- end {label} ---",
            label = self.label,
            command = self.command,
            stderr = read(&self.stderr_path),
            errors = read(&self.error_log),
            actions = read(&self.action_log),
        )
    }
}

impl Drop for SippProcess {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How a SIPp run ended.
#[derive(Debug)]
pub struct SippOutcome {
    /// The scenario name.
    pub label: String,
    /// The exit status; `None` when it was killed.
    pub status: Option<ExitStatus>,
    /// Command line, stderr, error log and action log.
    pub report: String,
}

impl SippOutcome {
    /// The exit code (0: every call succeeded; 1: some call failed; 255: fatal, e.g. an
    /// `<error>` action or the global timeout); `None` when killed.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// Fails the test, with SIPp's logs, unless SIPp exited 0.
    pub fn assert_success(&self) {
        assert_eq!(
            self.code(),
            Some(0),
            "SIPp scenario {} failed\n{}",
            self.label,
            self.report
        );
    }

    /// Fails the test unless SIPp exited with a failure code (it ran and a call failed).
    pub fn assert_failure(&self) {
        assert!(
            matches!(self.code(), Some(c) if c != 0),
            "SIPp scenario {} should have failed but ended with {:?}\n{}",
            self.label,
            self.status,
            self.report
        );
    }

    /// Whether the logs contain `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.report.contains(text)
    }
}

/// A registered phone: `phone.xml` (REGISTER, answering one 401) with a callee scenario
/// loaded by `-oocsf`. It ends successfully once its callee call completed.
pub struct Phone {
    process: SippProcess,
}

impl Phone {
    /// Starts the phone run (built with `.ooc(...)`) and waits until it is registered.
    pub fn start(sipp: Sipp) -> Phone {
        let mut process = sipp.spawn();
        if let Err(why) = process.wait_for_log("registered ", REGISTER_TIMEOUT) {
            panic!("phone did not register: {why}");
        }
        Phone { process }
    }

    /// The phone's SIP address.
    pub fn addr(&self) -> SocketAddr {
        self.process.addr()
    }

    /// Waits for the phone's callee call to finish.
    pub fn wait(self) -> SippOutcome {
        self.process.wait()
    }
}

/// Runs a caller against a registered phone: starts the caller, waits for both, and asserts
/// that both succeeded (the caller first, so that its error is the one shown).
pub fn call(phone: Phone, caller: Sipp) {
    let caller = caller.run();
    if caller.code() != Some(0) {
        let phone = phone.process.kill();
        panic!(
            "caller {} failed\n{}\n(the callee side, stopped:)\n{}",
            caller.label, caller.report, phone.report
        );
    }
    phone.wait().assert_success();
}
