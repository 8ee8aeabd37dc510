//! Runs the built `callcomp` binary's `check-config` and `serve --config` on good and bad files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn callcomp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_callcomp"))
        .args(args)
        .output()
        .expect("run callcomp")
}

/// A file in a fresh temporary directory of this test.
fn write_temp(test: &str, name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("callcomp-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../callcomp.example.toml")
}

#[test]
fn example_file_checks_ok_with_summary() {
    let path = example();
    let out = callcomp(&["check-config", path.to_str().unwrap()]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.starts_with(&format!("{}: ok\n", path.display())),
        "{stdout}"
    );
    assert!(stdout.contains("users: 2 (alice, bob)"), "{stdout}");
    assert!(
        stdout.contains("sip: udp+tcp on 127.0.0.1:5060"),
        "{stdout}"
    );
    assert!(stdout.contains("api: 127.0.0.1:8060"), "{stdout}");
    assert!(
        stdout.contains("auth: digest MD5 (realm 127.0.0.1)"),
        "{stdout}"
    );
    assert!(stdout.contains("trusted peers: none"), "{stdout}");
}

/// Trunks are listed, and one whose address is not trusted draws a warning.
#[test]
fn trunks_are_listed_and_an_untrusted_one_is_warned_about() {
    let text = "domain = \"a.test\"\n[[trunks]]\ndomain = \"b.test\"\n\
                address = \"192.0.2.20:5070\"\ntransport = \"tcp\"\n";
    let path = write_temp("trunks", "trunks.toml", text);
    let out = callcomp(&["check-config", path.to_str().unwrap()]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("trunk: b.test at 192.0.2.20:5070 over tcp"),
        "{stdout}"
    );
    assert!(
        stderr.contains("warning: trunk b.test at 192.0.2.20:5070 is not in sip.trusted"),
        "{stderr}"
    );
}

#[test]
fn bad_file_lists_every_error_with_line_and_key() {
    let text = "domain = \"\"\n\
                [completion]\n\
                max_queue = 0\n\
                [users.alice]\n\
                password = \"\"\n";
    let path = write_temp("bad", "bad.toml", text);
    let shown = path.display().to_string();
    let out = callcomp(&["check-config", &shown]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        vec![
            format!("{shown}:1:10: domain: must not be empty (omit the key instead)"),
            format!("{shown}:3:13: completion.max_queue: must be greater than zero"),
            format!("{shown}:5:12: users.alice.password: must not be empty (omit the key instead)"),
        ]
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn unknown_key_and_syntax_errors_are_placed() {
    let path = write_temp("unknown", "typo.toml", "[users.bob]\n\npaswword = \"x\"\n");
    let out = callcomp(&["check-config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "{}:3:1: users.bob.paswword: unknown field",
            path.display()
        )),
        "{stderr}"
    );

    let path = write_temp(
        "syntax",
        "syntax.toml",
        "[sip]\nlisten = [\"127.0.0.1:5060\"\n",
    );
    let out = callcomp(&["check-config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(": sip.listen: TOML syntax:"), "{stderr}");
}

#[test]
fn missing_file_is_an_error() {
    let out = callcomp(&["check-config", "/nonexistent/callcomp.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("/nonexistent/callcomp.toml: cannot read:"),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_a_bad_config_with_the_same_messages() {
    let path = write_temp("serve", "serve.toml", "[api]\ntoken = \"\"\n");
    let out = callcomp(&["serve", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "{}:2:9: api.token: must not be empty (omit the key instead)\n",
            path.display()
        )
    );
}
