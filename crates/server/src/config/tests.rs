//! Unit tests of the configuration: defaults, the example file, and a table of bad files with
//! the exact key, line and column each error must name.

use std::collections::BTreeSet;

use super::*;

const EXAMPLE: &str = include_str!("../../../../callcomp.example.toml");
const DOCS: &str = include_str!("../../../../docs/config.md");

fn load(text: &str) -> Result<Config, ConfigErrors> {
    Config::from_toml_str(text, "t.toml")
}

#[test]
fn empty_file_is_the_embedded_defaults() {
    assert_eq!(load("").unwrap(), Config::default());
    assert_eq!(load("# only a comment\n").unwrap(), Config::default());
}

#[test]
fn embedded_defaults_match_design() {
    // DESIGN §5: SIP 127.0.0.1:5060 UDP+TCP, API 127.0.0.1:8060, callcomp.db, open registration.
    let c = Config::default();
    assert_eq!(c.sip.listen, vec!["127.0.0.1:5060".parse().unwrap()]);
    assert_eq!(c.sip.transports, vec![Transport::Udp, Transport::Tcp]);
    assert_eq!(c.api.listen, "127.0.0.1:8060".parse().unwrap());
    assert_eq!(c.store.path, PathBuf::from("callcomp.db"));
    assert!(c.open_registration());
    assert_eq!(c.warnings(), vec![Warning::OpenRegistration]);
    // DESIGN §2.3 and §2.5: guard_ms 1500, offer_window 20 s, call_waiting true, policies offer.
    assert_eq!(c.completion.guard_ms, 1500);
    assert_eq!(c.completion.offer_window, Duration::from_secs(20));
    let u = UserConfig::default();
    assert!(u.call_waiting);
    assert_eq!((u.on_busy, u.on_no_answer), (Policy::Offer, Policy::Offer));
    // The defaults pass their own validation.
    assert!(validate::check(&c).is_empty());
}

#[test]
fn example_file_is_valid_and_documents_the_defaults() {
    let example = Config::from_toml_str(EXAMPLE, "callcomp.example.toml").unwrap();
    let defaults = Config::default();
    // Every global key of the example is at its default...
    let mut without_users = example.clone();
    without_users.users.clear();
    assert_eq!(without_users, defaults);
    // ...alice is at the user defaults except password and display name...
    let alice = &example.users["alice"];
    assert_eq!(
        alice,
        &UserConfig {
            password: Some(Secret::new("alice-secret")),
            display_name: Some("Alice".into()),
            ..UserConfig::default()
        }
    );
    // ...and bob shows every option changed.
    let bob = example.line("bob").unwrap();
    assert!(!bob.call_waiting && !bob.intrudable);
    assert_eq!(bob.on_busy, Policy::Callback);
    assert_eq!(bob.busy_hold, Duration::from_secs(10));
    assert_eq!(bob.no_answer_timeout, Duration::from_secs(25));
    assert_eq!((bob.max_call_completions, bob.max_queue), (3, 5));
    assert_eq!(bob.aor, "sip:bob@127.0.0.1");
    assert!(!example.open_registration());
    // The section-by-section loader agrees with the derived Deserialize of the whole tree.
    let derived: Config = toml::from_str(EXAMPLE).unwrap();
    assert_eq!(derived, example);
}

/// Each `# Default: <TOML value>` comment of the example, put alone under its table and key,
/// must load to exactly the embedded defaults.
#[test]
fn every_documented_default_is_the_embedded_default() {
    let mut table = String::new();
    let mut pending: Option<String> = None;
    let mut checked = 0;
    for line in EXAMPLE.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            table = header.trim_end_matches(']').to_owned();
        } else if let Some(default) = line.strip_prefix("# Default: ") {
            pending = if default.starts_with("unset") {
                None
            } else {
                Some(default.to_owned())
            };
        } else if let Some((key, _)) = key_line(line) {
            if let Some(literal) = pending.take() {
                let header = if table.is_empty() {
                    String::new()
                } else {
                    format!("[{table}]\n")
                };
                let mini = format!("{header}{key} = {literal}\n");
                let mut expected = Config::default();
                if let Some(user) = table.strip_prefix("users.") {
                    expected
                        .users
                        .insert(user.to_owned(), UserConfig::default());
                }
                assert_eq!(
                    load(&mini).unwrap(),
                    expected,
                    "documented default:\n{mini}"
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 25,
        "only {checked} defaults found in the example"
    );
}

/// `key = ...` or `# key = ...` (a documented but commented-out key).
fn key_line(line: &str) -> Option<(&str, bool)> {
    let (body, active) = match line.strip_prefix('#') {
        Some(rest) => (rest.trim_start(), false),
        None => (line, true),
    };
    let (key, _) = body.split_once('=')?;
    let key = key.trim();
    (!key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
    .then_some((key, active))
}

/// Every key of the tree, as `section.key` with users as `users.<name>.key`.
fn schema_keys() -> BTreeSet<String> {
    let mut full = Config::default();
    full.registrar.open = Some(true);
    full.auth.realm = Some("r".into());
    full.api.token = Some(Secret::new("t"));
    full.users.insert(
        "u".into(),
        UserConfig {
            password: Some(Secret::new("p")),
            display_name: Some("U".into()),
            busy_hold: Some(Duration::ZERO),
            no_answer_timeout: Some(Duration::from_secs(1)),
            max_call_completions: Some(1),
            max_queue: Some(1),
            ..UserConfig::default()
        },
    );
    full.media.tones.busy = Some(crate::config::media::ToneConfig {
        frequencies: vec![425],
        cadence_ms: vec![500, 500],
        level_dbm0: -13,
        repeat: true,
    });
    full.media
        .announcements
        .insert("a".into(), std::path::PathBuf::from("a.wav"));
    full.media.recall_announcement = Some("a".into());
    full.media.recall_join = super::media::RecallJoin::Direct;
    let table = toml::Table::try_from(&full).unwrap();
    let mut keys = BTreeSet::new();
    collect(&table, "", &mut keys);
    keys
}

fn collect(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (key, value) in table {
        // Tables of named entries: users, tones, announcements.
        let named = ["users", "media.tones", "media.announcements"];
        let key = if named.contains(&prefix) {
            "<name>"
        } else {
            key
        };
        let path = if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(t) => collect(t, &path, out),
            _ => {
                out.insert(path);
            }
        }
    }
}

#[test]
fn example_and_docs_cover_every_key() {
    let schema = schema_keys();
    assert!(schema.len() > 30, "{schema:?}");
    let mut documented = BTreeSet::new();
    let mut table = String::new();
    for line in EXAMPLE.lines() {
        let line = line.trim();
        // Optional tables are shown commented out: `# [media.tones.busy]`.
        let header = line.strip_prefix('[').or_else(|| line.strip_prefix("# ["));
        if let Some(header) = header {
            let header = header.trim_end_matches(']');
            table = if header.starts_with("users.") {
                "users.<name>".to_owned()
            } else if header.starts_with("media.tones.") {
                "media.tones.<name>".to_owned()
            } else {
                header.to_owned()
            };
        } else if let Some((key, _)) = key_line(line) {
            let key = if table == "media.announcements" {
                "<name>"
            } else {
                key
            };
            documented.insert(if table.is_empty() {
                key.to_owned()
            } else {
                format!("{table}.{key}")
            });
        }
    }
    assert_eq!(documented, schema, "example keys vs schema keys");
    for key in &schema {
        assert!(
            DOCS.contains(&format!("| `{key}` |")),
            "docs/config.md lacks `{key}`"
        );
    }
}

/// A bad file, the key, line and column of the first error, and a piece of its message.
struct Bad {
    text: &'static str,
    key: &'static str,
    line: usize,
    column: usize,
    says: &'static str,
}

const BAD: &[Bad] = &[
    // issue #11 item 4: trunks
    Bad {
        text: "domain = \"a.example\"\n[[trunks]]\ndomain = \"A.example\"\naddress = \"192.0.2.2:5060\"\n",
        key: "trunks[0].domain",
        line: 3,
        column: 10,
        says: "is this server's own `domain`",
    },
    Bad {
        text: "[sip]\nlisten = [\"127.0.0.1:5070\"]\n[[trunks]]\ndomain = \"b.example\"\naddress = \"127.0.0.1:5070\"\n",
        key: "trunks[0].address",
        line: 5,
        column: 11,
        says: "would loop back here",
    },
    Bad {
        text: "[[trunks]]\ndomain = \"b.example\"\naddress = \"192.0.2.2:5060\"\n\n\
               [[trunks]]\ndomain = \"B.EXAMPLE\"\naddress = \"192.0.2.3:5060\"\n",
        key: "trunks[1].domain",
        line: 6,
        column: 10,
        says: "duplicate of `trunks[0].domain`",
    },
    Bad {
        text: "[[trunks]]\ndomain = \"b.example\"\naddress = \"b.example:5060\"\n",
        key: "trunks[0].address",
        line: 3,
        column: 11,
        says: "is not an address \"IP:PORT\"",
    },
    Bad {
        text: "[[trunks]]\ndomain = \"b.example/x\"\naddress = \"192.0.2.2:5060\"\n",
        key: "trunks[0].domain",
        line: 2,
        column: 10,
        says: "not a host name or IP address",
    },
    Bad {
        text: "[sip]\ntransports = [\"udp\"]\n[[trunks]]\ndomain = \"b.example\"\n\
               address = \"192.0.2.2:5060\"\ntransport = \"tcp\"\n",
        key: "trunks[0].transport",
        line: 6,
        column: 13,
        says: "not in sip.transports",
    },
    Bad {
        text: "[[trunks]]\ndomain = \"b.example\"\naddress = \"192.0.2.2:5060\"\n\
               max_call_completions = 10001\n",
        key: "trunks[0].max_call_completions",
        line: 4,
        column: 24,
        says: "0 to 10000",
    },
    // issue #11: feature codes
    Bad {
        text: "[completion.feature_codes]\ncallback = \"*3a\"\n",
        key: "completion.feature_codes.callback",
        line: 2,
        column: 12,
        says: "a feature code is 1 to 16 of the characters 0-9 * #",
    },
    Bad {
        text: "[completion.feature_codes]\ncallback = \"*37\"\ncancel = \"*37\"\n",
        key: "completion.feature_codes.cancel",
        line: 3,
        column: 10,
        says: "duplicate of `completion.feature_codes.callback`",
    },
    Bad {
        text:
            "[completion]\nmodes = [\"callback\"]\n[completion.feature_codes]\nmessage = \"*38\"\n",
        key: "completion.feature_codes.message",
        line: 4,
        column: 11,
        says: "mode `message` is not in completion.modes, so this code could never act",
    },
    Bad {
        text: "[completion.feature_codes]\ncampon = \"*39\"\n",
        key: "completion.feature_codes.campon",
        line: 2,
        column: 1,
        says: "unknown field `campon`",
    },
    // issue #12: the trace filter and registrar.nat
    Bad {
        text: "[log]\nsip_trace = [\"alice\", \"a b\"]\n",
        key: "log.sip_trace[1]",
        line: 2,
        column: 23,
        says: "must be a user name or a Call-ID",
    },
    Bad {
        text: "[log]\nsip_trace = [\"\"]\n",
        key: "log.sip_trace[0]",
        line: 2,
        column: 14,
        says: "must not be empty",
    },
    Bad {
        text: "[log]\nsip_trace = [\"bob\", \"bob\"]\n",
        key: "log.sip_trace[1]",
        line: 2,
        column: 21,
        says: "duplicate of `log.sip_trace[0]`",
    },
    Bad {
        text: "[registrar]\nnat = \"stun\"\n",
        key: "registrar.nat",
        line: 2,
        column: 7,
        says: "unknown variant `stun`",
    },
    // TOML syntax
    Bad {
        text: "[users.alice]\npassword = \n",
        key: "users.alice.password",
        line: 2,
        column: 12,
        says: "TOML syntax",
    },
    Bad {
        text: "[users.alice]\n[users.alice]\n",
        key: "users.alice",
        line: 2,
        column: 8,
        says: "duplicate key",
    },
    Bad {
        text: "domain = \"a\"\ndomain = \"b\"\n",
        key: "domain",
        line: 2,
        column: 1,
        says: "duplicate key",
    },
    Bad {
        text: "[sip\nlisten = []\n",
        key: "(top level)",
        line: 1,
        column: 5,
        says: "TOML syntax",
    },
    // unknown keys
    Bad {
        text: "bogus = 1\n",
        key: "bogus",
        line: 1,
        column: 1,
        says: "unknown key `bogus`",
    },
    Bad {
        text: "[users.alice]\npasswrd = \"x\"\n",
        key: "users.alice.passwrd",
        line: 2,
        column: 1,
        says: "unknown field `passwrd`",
    },
    Bad {
        text: "[completion]\n\nrecal_ring = \"20s\"\n",
        key: "completion.recal_ring",
        line: 3,
        column: 1,
        says: "unknown field",
    },
    // wrong types and unreadable values
    Bad {
        text: "[completion]\nmax_queue = \"ten\"\n",
        key: "completion.max_queue",
        line: 2,
        column: 13,
        says: "invalid type: string",
    },
    Bad {
        text: "[completion]\nrecall_ring = 20\n",
        key: "completion.recall_ring",
        line: 2,
        column: 15,
        says: "needs a unit",
    },
    Bad {
        text: "[completion]\noffer_window = \"20 s\"\n",
        key: "completion.offer_window",
        line: 2,
        column: 16,
        says: "invalid duration",
    },
    Bad {
        text: "[completion]\nmodes = [\"callback\", \"bogus\"]\n",
        key: "completion.modes[1]",
        line: 2,
        column: 22,
        says: "unknown completion mode name `bogus`; expected one of campon, callback, intrude, message",
    },
    Bad {
        text: "[completion]\nmax_queue = -1\n",
        key: "completion.max_queue",
        line: 2,
        column: 13,
        says: "invalid value",
    },
    Bad {
        text: "[sip]\nlisten = [\"127.0.0.1:5060\", \"localhost:5060\"]\n",
        key: "sip.listen[1]",
        line: 2,
        column: 29,
        says: "not an address \"IP:PORT\"",
    },
    Bad {
        text: "[api]\nlisten = \"127.0.0.1\"\n",
        key: "api.listen",
        line: 2,
        column: 10,
        says: "not an address",
    },
    Bad {
        text: "sip = 5\n",
        key: "sip",
        line: 1,
        column: 7,
        says: "expected a table",
    },
    Bad {
        text: "[users]\nalice = \"secret\"\n",
        key: "users.alice",
        line: 2,
        column: 9,
        says: "expected a table",
    },
    Bad {
        text: "users = [1]\n",
        key: "users",
        line: 1,
        column: 9,
        says: "expected a table of users",
    },
    Bad {
        text: "[users.bob]\ncall_waiting = \"yes\"\n",
        key: "users.bob.call_waiting",
        line: 2,
        column: 16,
        says: "expected a boolean",
    },
    Bad {
        text: "[users.bob]\non_busy = \"intrude\"\n",
        key: "users.bob.on_busy",
        line: 2,
        column: 11,
        says: "unknown variant `intrude`",
    },
    Bad {
        text: "[media]\nrecall_join = \"bridged\"\n",
        key: "media.recall_join",
        line: 2,
        column: 15,
        says: "unknown variant `bridged`",
    },
    Bad {
        text: "[log]\nlevel = \"verbose\"\n",
        key: "log.level",
        line: 2,
        column: 9,
        says: "unknown variant",
    },
    // semantic checks
    Bad {
        text: "domain = \"\"\n",
        key: "domain",
        line: 1,
        column: 10,
        says: "must not be empty",
    },
    Bad {
        text: "domain = \"sip:example.com\"\n",
        key: "domain",
        line: 1,
        column: 10,
        says: "not a host name",
    },
    Bad {
        text: "[sip]\nlisten = []\n",
        key: "sip.listen",
        line: 2,
        column: 10,
        says: "must not be empty",
    },
    Bad {
        text: "[sip]\nlisten = [\"127.0.0.1:5060\", \"127.0.0.1:5060\"]\n",
        key: "sip.listen[1]",
        line: 2,
        column: 29,
        says: "duplicate of `sip.listen[0]`",
    },
    Bad {
        text: "[sip]\ntransports = [\"udp\", \"udp\"]\n",
        key: "sip.transports[1]",
        line: 2,
        column: 22,
        says: "duplicate",
    },
    Bad {
        text: "[sip]\nno_answer_timeout = \"0s\"\n",
        key: "sip.no_answer_timeout",
        line: 2,
        column: 21,
        says: "greater than zero",
    },
    Bad {
        text: "[completion]\nmax_queue = 0\n",
        key: "completion.max_queue",
        line: 2,
        column: 13,
        says: "greater than zero",
    },
    Bad {
        text: "[completion]\nrecall_ring = \"0s\"\n",
        key: "completion.recall_ring",
        line: 2,
        column: 15,
        says: "greater than zero",
    },
    Bad {
        text: "[completion]\nguard_ms = 60001\n",
        key: "completion.guard_ms",
        line: 2,
        column: 12,
        says: "out of range (0 to 60000)",
    },
    Bad {
        text: "[completion]\nccbs_expiry = \"31d\"\n",
        key: "completion.ccbs_expiry",
        line: 2,
        column: 15,
        says: "out of range",
    },
    Bad {
        text: "[completion]\ncompletion_messages = [\"ok\", \"\"]\n",
        key: "completion.completion_messages[1]",
        line: 2,
        column: 30,
        says: "must not be empty",
    },
    Bad {
        text: "[completion]\ncompletion_messages = [\"two\\nlines\"]\n",
        key: "completion.completion_messages[0]",
        line: 2,
        column: 24,
        says: "control characters",
    },
    Bad {
        text: "[api]\ntoken = \"\"\n",
        key: "api.token",
        line: 2,
        column: 9,
        says: "must not be empty",
    },
    Bad {
        text: "[api]\ntoken = \"two words\"\n",
        key: "api.token",
        line: 2,
        column: 9,
        says: "without spaces",
    },
    Bad {
        text: "[store]\npath = \"\"\n",
        key: "store.path",
        line: 2,
        column: 8,
        says: "must not be empty",
    },
    Bad {
        text: "[registrar]\nopen = false\n",
        key: "registrar.open",
        line: 2,
        column: 8,
        says: "no [users]",
    },
    Bad {
        text: "[registrar]\nmin_expires = \"2h\"\n",
        key: "registrar.min_expires",
        line: 2,
        column: 15,
        says: "greater than `registrar.max_expires`",
    },
    Bad {
        text: "[users.alice]\npassword = \"\"\n",
        key: "users.alice.password",
        line: 2,
        column: 12,
        says: "must not be empty",
    },
    Bad {
        text: "[users.\"al ice\"]\n",
        key: "users.\"al ice\"",
        line: 1,
        column: 1,
        says: "invalid user name",
    },
    Bad {
        text: "[users.Alice]\n[users.alice]\n",
        key: "users.alice",
        line: 2,
        column: 1,
        says: "duplicate of `users.Alice`",
    },
    Bad {
        text: "[completion]\nmodes = [\"callback\"]\n[users.bob]\non_busy = \"campon\"\n",
        key: "users.bob.on_busy",
        line: 4,
        column: 11,
        says: "not in completion.modes",
    },
    Bad {
        text: "[users.bob]\nmax_queue = 0\n",
        key: "users.bob.max_queue",
        line: 2,
        column: 13,
        says: "greater than zero",
    },
    Bad {
        text: "[registrar]\nmax_contacts = 0\n",
        key: "registrar.max_contacts",
        line: 2,
        column: 16,
        says: "greater than zero",
    },
    Bad {
        text: "[sip]\ntcp_max_connections = 10\ntcp_max_per_address = 11\n",
        key: "sip.tcp_max_per_address",
        line: 3,
        column: 23,
        says: "greater than `sip.tcp_max_connections`",
    },
    Bad {
        text: "[sip]\nmax_calls = 10000001\n",
        key: "sip.max_calls",
        line: 2,
        column: 13,
        says: "out of range (1 to 10000000)",
    },
    Bad {
        text: "[sip]\nmax_forks = 101\n",
        key: "sip.max_forks",
        line: 2,
        column: 13,
        says: "out of range (1 to 100)",
    },
    Bad {
        text: "[api]\nallowed_hosts = [\"ok.example\", \"http://x\"]\n",
        key: "api.allowed_hosts[1]",
        line: 2,
        column: 32,
        says: "not a host name or IP address",
    },
    Bad {
        text: "[api]\nheader_timeout = \"0s\"\n",
        key: "api.header_timeout",
        line: 2,
        column: 18,
        says: "greater than zero",
    },
    Bad {
        text: "[log]\nmalformed_interval = \"2h\"\n",
        key: "log.malformed_interval",
        line: 2,
        column: 22,
        says: "out of range (1s to 1h)",
    },
    Bad {
        text: "[users.bob]\nbusy_hold = \"6m\"\n",
        key: "users.bob.busy_hold",
        line: 2,
        column: 13,
        says: "out of range (0s to 5m)",
    },
    Bad {
        text: "[auth]\nalgorithms = [\"SHA-1\"]\n",
        key: "auth.algorithms[0]",
        line: 2,
        column: 15,
        says: "unknown variant `SHA-1`",
    },
    Bad {
        text: "[auth]\nalgorithms = []\n",
        key: "auth.algorithms",
        line: 2,
        column: 14,
        says: "must not be empty",
    },
    Bad {
        text: "[auth]\nlockout = \"0s\"\n",
        key: "auth.lockout",
        line: 2,
        column: 11,
        says: "greater than zero",
    },
    Bad {
        text: "[sip]\ntrusted = [\"10.0.0.1/8\"]\n",
        key: "sip.trusted",
        line: 2,
        column: 11,
        says: "write the network address (10.0.0.0/8)",
    },
    Bad {
        text: "[sip]\ntrusted = [\"gateway.example\"]\n",
        key: "sip.trusted",
        line: 2,
        column: 11,
        says: "is not an IP address",
    },
];

#[test]
fn bad_files_name_key_line_and_column() {
    for bad in BAD {
        let errors = load(bad.text).expect_err(bad.text);
        let first = &errors.0[0];
        let shown = first.to_string();
        assert_eq!(
            (first.key.as_str(), first.line, first.column),
            (bad.key, bad.line, bad.column),
            "file:\n{}\nerror: {shown}",
            bad.text
        );
        assert!(
            shown.contains(bad.says),
            "{shown:?} should say {:?}",
            bad.says
        );
        assert!(
            shown.starts_with(&format!(
                "t.toml:{}:{}: {}: ",
                bad.line, bad.column, bad.key
            )),
            "{shown}"
        );
    }
}

#[test]
fn semantic_errors_are_all_collected() {
    let text = "domain = \"\"\n[completion]\nmax_queue = 0\nrecall_ring = \"0s\"\n\
                [api]\ntoken = \"\"\n[users.bob]\npassword = \"\"\n";
    let errors = load(text).unwrap_err();
    let keys: Vec<(&str, usize)> = errors.iter().map(|e| (e.key.as_str(), e.line)).collect();
    assert_eq!(
        keys,
        vec![
            ("domain", 1),
            ("completion.max_queue", 3),
            ("completion.recall_ring", 4),
            ("api.token", 6),
            ("users.bob.password", 8),
        ]
    );
}

#[test]
fn shape_errors_of_separate_sections_and_users_are_all_collected() {
    let text = "bogus = 1\n[api]\nlisten = 8060\n[users.bob]\ncall_waiting = \"yes\"\n\
                [users.carl]\nx = 1\n";
    let errors = load(text).unwrap_err();
    let keys: Vec<(&str, usize)> = errors.iter().map(|e| (e.key.as_str(), e.line)).collect();
    assert_eq!(
        keys,
        vec![
            ("bogus", 1),
            ("api.listen", 3),
            ("users.bob.call_waiting", 5),
            ("users.carl.x", 7),
        ]
    );
}

#[test]
fn every_shape_error_inside_one_section_is_collected() {
    // Keys are read in name order by toml, yet all are reported, in file order.
    let text = "[completion]\nrecall_ring = 20\nmodes = [\"x\"]\nmax_queue = \"ten\"\nzzz = 1\n";
    let errors = load(text).unwrap_err();
    let keys: Vec<(&str, usize)> = errors.iter().map(|e| (e.key.as_str(), e.line)).collect();
    assert_eq!(
        keys,
        vec![
            ("completion.recall_ring", 2),
            ("completion.modes[0]", 3),
            ("completion.max_queue", 4),
            ("completion.zzz", 5),
        ]
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let errors = load("[users.bob]\ndisplay_name = \"é\"\nmax_queue = 0\n").unwrap_err();
    assert_eq!((errors.0[0].line, errors.0[0].column), (3, 13));
    let errors = load("domain = \"é\" # é\nbogus = 1\n").unwrap_err();
    assert_eq!((errors.0[0].key.as_str(), errors.0[0].line), ("bogus", 2));
}

#[test]
fn hostile_input_never_panics() {
    for text in [
        "\u{0}",
        "[",
        "]]]",
        "a.b.c.d = 1",
        "[[users]]\n",
        "users.alice = { password = 1 }",
        "\"\"\" unterminated",
        "x = 99999999999999999999999",
        "[completion]\nguard_ms = -5",
        "[completion]\nccbs_expiry = \"99999999999999999999d\"",
        "\u{feff}domain = \"a\"",
    ] {
        let _ = load(text);
    }
}

#[test]
fn open_registration_and_lines() {
    let c = load("[users.alice]\npassword = \"pw\"\n").unwrap();
    assert!(!c.open_registration());
    assert!(c.warnings().is_empty());
    let c = load("[registrar]\nopen = true\n[users.alice]\n").unwrap();
    assert!(c.open_registration());
    let line = c.line("alice").unwrap();
    assert_eq!(line.aor, "sip:alice@127.0.0.1");
    assert_eq!(line.max_call_completions, 5);
    assert!(c.line("zed").is_none());
    assert_eq!(c.open_line("zed").max_queue, 10);
    assert_eq!(c.realm(), "127.0.0.1");
    let c = load("[auth]\nrealm = \"pbx.example\"\n").unwrap();
    assert_eq!(c.realm(), "pbx.example");
}

#[test]
fn open_registration_beyond_loopback_is_a_louder_warning() {
    let c = load("[sip]\nlisten = [\"127.0.0.1:5060\", \"192.0.2.1:5060\"]\n").unwrap();
    assert_eq!(
        c.warnings(),
        vec![
            Warning::OpenRegistration,
            Warning::OpenRegistrationReachable {
                listen: "192.0.2.1:5060".parse().unwrap()
            },
        ]
    );
    assert!(c.warnings()[1].to_string().contains("a lab mode"));
    // With users (registration closed) there is nothing to warn about.
    let c = load("[sip]\nlisten = [\"192.0.2.1:5060\"]\n[users.a]\npassword = \"p\"\n").unwrap();
    assert!(c.warnings().is_empty());
}

#[test]
fn warnings_for_exposed_api_and_messageless_message_mode() {
    let c = load(
        "[api]\nlisten = \"0.0.0.0:8060\"\n[completion]\ncompletion_messages = []\n[users.a]\n",
    )
    .unwrap();
    assert_eq!(
        c.warnings(),
        vec![
            Warning::ApiWithoutToken {
                listen: "0.0.0.0:8060".parse().unwrap()
            },
            Warning::MessageModeWithoutMessages,
        ]
    );
}

#[test]
fn warning_for_a_short_token_beyond_loopback() {
    let short = "[api]\nlisten = \"0.0.0.0:8060\"\ntoken = \"short-token\"\n[users.a]\n";
    assert_eq!(
        load(short).unwrap().warnings(),
        vec![Warning::ShortApiToken {
            listen: "0.0.0.0:8060".parse().unwrap(),
            length: 11,
        }]
    );
    // Long enough, or on loopback: no warning.
    let long = short.replace("short-token", "a-token-of-twenty-four-c");
    assert!(load(&long).unwrap().warnings().is_empty());
    let local = short.replace("0.0.0.0", "127.0.0.1");
    assert!(load(&local).unwrap().warnings().is_empty());
}

#[test]
fn secrets_do_not_show_in_debug() {
    let c = load("[api]\ntoken = \"tok123\"\n[users.a]\npassword = \"pw123\"\n").unwrap();
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("tok123") && !shown.contains("pw123"),
        "{shown}"
    );
    assert_eq!(c.users["a"].password.as_ref().unwrap().expose(), "pw123");
}

#[test]
fn a_moved_key_says_where_it_went() {
    let err = load("[registrar]\nrealm = \"pbx.example\"\n").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("registrar.realm"), "{text}");
    assert!(text.contains("moved to `auth.realm`"), "{text}");
    assert!(text.contains(":2:1"), "line and column: {text}");
}

/// A trunk loads with its transport defaulting to UDP, is found by domain (any case) and by
/// its server's IP (any port), and draws a warning until its address is trusted.
#[test]
fn trunks_load_resolve_and_warn_when_untrusted() {
    let text = "domain = \"a.example\"\n[[trunks]]\ndomain = \"b.example\"\n\
                address = \"192.0.2.2:5070\"\n";
    let config = load(text).unwrap();
    let trunk = config.trunk_for("B.Example").unwrap();
    assert_eq!(trunk.address, "192.0.2.2:5070".parse().unwrap());
    assert_eq!(trunk.transport, super::Transport::Udp);
    assert_eq!(
        trunk.max_call_completions,
        super::trunks::DEFAULT_TRUNK_COMPLETIONS,
        "the default limit of the trunk's subscribers"
    );
    assert!(config.trunk_for("a.example").is_none());
    assert!(config
        .trunk_at("192.0.2.2:40000".parse().unwrap())
        .is_some());
    assert!(config.trunk_at("192.0.2.3:5070".parse().unwrap()).is_none());
    assert!(config.warnings().contains(&Warning::TrunkNotTrusted {
        domain: "b.example".into(),
        address: "192.0.2.2:5070".parse().unwrap(),
    }));
    let trusted = load(&format!("{text}[sip]\ntrusted = [\"192.0.2.0/24\"]\n")).unwrap();
    assert!(!trusted
        .warnings()
        .iter()
        .any(|w| matches!(w, Warning::TrunkNotTrusted { .. })));
}
