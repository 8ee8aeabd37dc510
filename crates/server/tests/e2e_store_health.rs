//! The store's health through the real binary (DESIGN §5): a database file deleted under the
//! running server makes it refuse every acknowledgement and say why, and a read-only database
//! is a start-up error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::http::request;
use common::{callcomp_bin, http_get, Server, ServerConfig, Sipp, TestDir};

/// A REGISTER of `user` (no password) from a socket of this test; the response's status line
/// and its Retry-After.
fn register(sip: SocketAddr, user: &str) -> (String, Option<String>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let local = socket.local_addr().unwrap();
    let text = format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKhealth1\r\n\
         Max-Forwards: 70\r\nTo: <sip:{user}@127.0.0.1>\r\nFrom: <sip:{user}@127.0.0.1>;tag=h1\r\n\
         Call-ID: health-{user}\r\nCSeq: 1 REGISTER\r\nContact: <sip:{user}@{local}>\r\n\
         Expires: 600\r\nContent-Length: 0\r\n\r\n"
    );
    socket.send_to(text.as_bytes(), sip).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let (n, _) = socket
            .recv_from(&mut buf)
            .expect("a response to the REGISTER");
        let response = String::from_utf8_lossy(&buf[..n]).into_owned();
        let status = response.lines().next().unwrap_or_default().to_owned();
        if status.starts_with("SIP/2.0 1") {
            continue;
        }
        let retry = response
            .lines()
            .find_map(|l| l.strip_prefix("Retry-After:"))
            .map(|v| v.trim().to_owned());
        return (status, retry);
    }
}

/// carol's call to the unregistered zed: 480, then `busy`; its id.
fn busy_call(server: &Server) -> u64 {
    Sipp::new("call_expect_480.xml")
        .user("carol")
        .remote(server.sip)
        .service("zed")
        .set("expect_m", "NL")
        .run()
        .assert_success();
    let (status, body) = request(server.api, "GET", "/v1/lines/carol/calls", None);
    assert_eq!(status, 200, "{body}");
    let calls: serde_json::Value = serde_json::from_str(&body).unwrap();
    calls
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["state"] == "busy")
        .unwrap_or_else(|| panic!("no busy call: {body}"))["id"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_deleted_database_file_makes_the_server_refuse_and_say_why() {
    common::require_sipp();
    let server = Server::start(ServerConfig::default().user("zed", None));
    let call = busy_call(&server);
    let (status, _) = register(server.sip, "dave");
    assert_eq!(status, "SIP/2.0 200 OK");
    let (status, body) = request(server.api, "GET", "/healthz", None);
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));

    let db = server.config_path.with_file_name("callcomp.db");
    std::fs::remove_file(&db).unwrap();

    let (status, body) = request(server.api, "GET", "/healthz", None);
    assert_eq!(status, 503, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "unavailable");
    let reason = health["reason"].as_str().unwrap();
    assert!(reason.contains("was deleted"), "{reason}");
    assert!(reason.contains(&db.display().to_string()), "{reason}");

    let (status, body) = request(
        server.api,
        "POST",
        &format!("/v1/calls/{call}/complete"),
        Some(r#"{"mode": "callback"}"#),
    );
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("LINEERR_RESOURCEUNAVAIL"), "{body}");
    let (_, list) = request(server.api, "GET", "/v1/lines/carol/completions", None);
    assert_eq!(list, "[]", "nothing was accepted");

    let (status, retry) = register(server.sip, "carol");
    assert!(status.starts_with("SIP/2.0 503"), "{status}");
    assert_eq!(retry.as_deref(), Some("30"));

    let (_, metrics) = request(server.api, "GET", "/metrics", None);
    assert!(
        metrics.lines().any(|l| l == "callcomp_store_up 0"),
        "{metrics}"
    );
    let log = server.stderr();
    assert!(
        log.lines().any(|l| l.contains("ERROR")
            && l.contains("store unavailable")
            && l.contains("was deleted")),
        "{log}"
    );
}

#[test]
fn a_read_only_database_is_a_startup_error_naming_the_file() {
    let dir = TestDir::new("read-only-store");
    let config = ServerConfig::default();
    let (path, _sip, api_port) = config.write(dir.path());
    let db = dir.path().join("callcomp.db");
    // A valid store, then write-protected (the directory stays writable).
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA user_version=0;")
            .unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();

    // root writes through any permission, so it runs the server as nobody.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap();
    let mut command = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(callcomp_bin());
        c
    } else {
        Command::new(callcomp_bin())
    };
    let mut child = command
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let api = SocketAddr::from(([127, 0, 0, 1], api_port));
            panic!(
                "the server started on a read-only store (healthz: {:?})",
                http_get(api, "/healthz", Duration::from_millis(500))
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    assert!(stderr.contains("cannot be written"), "{stderr}");
    assert!(stderr.contains("read-only"), "{stderr}");
}
