//! Reading a TOML file into a [`Config`], with every error placed at its key, line and column.
//!
//! The file is parsed once into toml's spanned document. From it we keep an index of every key
//! (dotted path, key span, value span); then each top-level section, and each user, is
//! deserialized on its own, so that a mistake in `[sip]` does not hide one in `[users.bob]`,
//! and within a table a key that fails is set aside and the rest read again.
//! Finally [`super::validate`] checks what types cannot say, and its findings are placed
//! through the same index.

use std::fmt;
use std::ops::Range;

use callcomp_switch::CompletionMode;
use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::{
    ApiConfig, AuthConfig, CompletionConfig, Config, LogConfig, MediaConfig, RegistrarConfig,
    SipConfig, StoreConfig, UserConfig,
};

/// One problem in a configuration file, with where it is.
///
/// Displays as `FILE:LINE:COL: key: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name given for messages.
    pub file: String,
    /// 1-based line of the offending key or value.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Dotted key path, e.g. `users.alice.password` or `sip.listen[1]`.
    pub key: String,
    /// What is wrong.
    pub kind: ConfigErrorKind,
}

/// What is wrong with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// The file is not valid TOML; the message is the TOML parser's.
    Syntax {
        /// The parser's description.
        message: String,
    },
    /// An unknown key, a value of the wrong type, or a value that cannot be read as the key's
    /// type (a duration without unit, an address that is not `IP:PORT`, an unknown mode...).
    /// The message is from deserialization.
    Schema {
        /// What deserialization reported.
        message: String,
    },
    /// The value must be greater than zero.
    MustBePositive,
    /// The string or list must not be empty.
    Empty,
    /// The same thing is given twice.
    Duplicate {
        /// The other key holding it.
        first: String,
    },
    /// A user name that cannot be the user part of a SIP URI and a path segment of the API.
    InvalidUserName,
    /// The domain is neither a host name nor an IP address.
    InvalidDomain,
    /// A token or password with characters that cannot travel in a header unchanged.
    InvalidSecret,
    /// A string holds control characters (line breaks, tabs, NUL...).
    ControlCharacter,
    /// A `log.sip_trace` entry that is neither a user name nor a Call-ID (spaces, quotes,
    /// non-ASCII).
    InvalidTraceFilter,
    /// A string that travels inside a quoted SIP parameter holds `"` or `\`.
    Quote,
    /// A string or list is longer than allowed.
    TooLong {
        /// The limit (bytes for strings, entries for lists).
        max: usize,
    },
    /// A number or duration outside its allowed range.
    OutOfRange {
        /// The allowed range, as the file would write it.
        range: &'static str,
    },
    /// A policy asks for a mode that `completion.modes` does not offer.
    ModeNotOffered {
        /// The mode asked for.
        mode: CompletionMode,
    },
    /// Registration is closed and no user is configured, so nobody could register.
    NobodyCanRegister,
    /// A feature code that is not 1 to 16 of the characters `0-9 * #`.
    InvalidFeatureCode,
    /// A feature code for a mode that `completion.modes` does not offer.
    FeatureCodeModeNotOffered {
        /// The mode.
        mode: CompletionMode,
    },
    /// A feature code that is also a user's name (that user could not be called).
    FeatureCodeIsUser,
    /// A trunk for callcomp's own domain (its calls would never reach the local users).
    TrunkIsOwnDomain,
    /// A trunk at an address callcomp itself listens on (calls would loop).
    TrunkLoops,
    /// A minimum above its maximum.
    MinAboveMax {
        /// The key holding the maximum.
        max_key: &'static str,
    },
    /// An address that cannot be sent in SDP: unspecified (`0.0.0.0`, `::`) or multicast.
    NotUnicastAddress,
    /// An address peers cannot reach callcomp at: unspecified or multicast.
    NotAdvertisable,
    /// `sip.listen` holds an unspecified address and `sip.advertise` is not set.
    AdvertiseNeeded {
        /// The unspecified listen address.
        listen: std::net::SocketAddr,
    },
    /// A tone that cannot be played.
    InvalidTone(callcomp_media::tone::ToneError),
    /// An announcement name that is neither configured nor built in.
    UnknownAnnouncement {
        /// The name given.
        name: String,
    },
}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigErrorKind::Syntax { message } => write!(f, "TOML syntax: {message}"),
            ConfigErrorKind::Schema { message } => f.write_str(message),
            ConfigErrorKind::MustBePositive => f.write_str("must be greater than zero"),
            ConfigErrorKind::Empty => f.write_str("must not be empty (omit the key instead)"),
            ConfigErrorKind::Duplicate { first } => write!(f, "duplicate of `{first}`"),
            ConfigErrorKind::InvalidUserName => f.write_str(
                "invalid user name: use 1 to 64 of the characters a-z A-Z 0-9 . _ - + ~",
            ),
            ConfigErrorKind::InvalidDomain => {
                f.write_str("not a host name or IP address (no scheme, port or path)")
            }
            ConfigErrorKind::InvalidSecret => {
                f.write_str("must be printable ASCII without spaces or quotes")
            }
            ConfigErrorKind::InvalidTraceFilter => f.write_str(
                "must be a user name or a Call-ID: printable ASCII without spaces or quotes",
            ),
            ConfigErrorKind::ControlCharacter => {
                f.write_str("must not contain control characters (line breaks, tabs...)")
            }
            ConfigErrorKind::Quote => {
                f.write_str("must not contain `\"` or `\\` (it is sent as a quoted string)")
            }
            ConfigErrorKind::TooLong { max } => write!(f, "too long (at most {max})"),
            ConfigErrorKind::OutOfRange { range } => write!(f, "out of range ({range})"),
            ConfigErrorKind::ModeNotOffered { mode } => write!(
                f,
                "mode `{}` is not in completion.modes, so this policy could never act",
                mode.as_str()
            ),
            ConfigErrorKind::InvalidFeatureCode => f.write_str(
                "a feature code is 1 to 16 of the characters 0-9 * # (\"\" turns it off)",
            ),
            ConfigErrorKind::FeatureCodeModeNotOffered { mode } => write!(
                f,
                "mode `{}` is not in completion.modes, so this code could never act",
                mode.as_str()
            ),
            ConfigErrorKind::FeatureCodeIsUser => {
                f.write_str("is also a user name, which could then not be called")
            }
            ConfigErrorKind::NobodyCanRegister => {
                f.write_str("registration is closed and no [users] are configured")
            }
            ConfigErrorKind::TrunkIsOwnDomain => {
                f.write_str("is this server's own `domain`; a trunk serves another domain")
            }
            ConfigErrorKind::TrunkLoops => {
                f.write_str("is one of sip.listen: calls sent there would loop back here")
            }
            ConfigErrorKind::MinAboveMax { max_key } => {
                write!(f, "greater than `{max_key}`")
            }
            ConfigErrorKind::NotUnicastAddress => f.write_str(
                "must be one unicast address of this host (not 0.0.0.0, :: or multicast): it is sent in SDP",
            ),
            ConfigErrorKind::NotAdvertisable => f.write_str(
                "must be one unicast address of this host (not 0.0.0.0, :: or multicast): peers send to it",
            ),
            ConfigErrorKind::AdvertiseNeeded { listen } => write!(
                f,
                "{listen} listens on every interface, so callcomp cannot tell which address to put \
                 in its Via and Contact: set sip.advertise to the address phones reach it at"
            ),
            ConfigErrorKind::InvalidTone(e) => write!(f, "invalid tone: {e}"),
            ConfigErrorKind::UnknownAnnouncement { name } => write!(
                f,
                "no announcement `{name}`: name one of [media.announcements] or the built-in `chime`"
            ),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, self.key, self.kind
        )
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in one file, in file order. Never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors, in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Reads a configuration from TOML text. `file` names the source in messages.
    ///
    /// Keys the text omits keep their defaults. On failure every error found is returned,
    /// sorted by position: all syntax errors; else every unknown key and wrongly typed value;
    /// else every finding of the semantic checks.
    pub fn from_toml_str(text: &str, file: &str) -> Result<Config, ConfigErrors> {
        let (doc, syntax) = DeTable::parse_recoverable(text);
        let index = KeyIndex::build(doc.get_ref());
        let locate = Locator {
            text,
            file,
            index: &index,
        };
        if !syntax.is_empty() {
            let errors = syntax
                .iter()
                .map(|e| {
                    let at = e.span().map_or(0, |s| s.start);
                    let key = index
                        .key_at(at)
                        .map(str::to_owned)
                        .unwrap_or_else(|| textual_key(text, at));
                    locate.error_at(
                        at,
                        key,
                        ConfigErrorKind::Syntax {
                            message: e.message().trim().to_owned(),
                        },
                    )
                })
                .collect();
            return Err(finish(errors));
        }

        let mut errors = Vec::new();
        let mut config = Config::default();
        for (key, value) in doc.into_inner() {
            let name = key.get_ref().as_ref();
            let span = key.span();
            match name {
                "domain" => read(value, &locate, &mut errors, &mut config.domain),
                "sip" => {
                    read_section::<SipConfig>(value, name, &locate, &mut errors, &mut config.sip)
                }
                "registrar" => read_section::<RegistrarConfig>(
                    value,
                    name,
                    &locate,
                    &mut errors,
                    &mut config.registrar,
                ),
                "auth" => {
                    read_section::<AuthConfig>(value, name, &locate, &mut errors, &mut config.auth)
                }
                "completion" => read_section::<CompletionConfig>(
                    value,
                    name,
                    &locate,
                    &mut errors,
                    &mut config.completion,
                ),
                "api" => {
                    read_section::<ApiConfig>(value, name, &locate, &mut errors, &mut config.api)
                }
                "media" => read_section::<MediaConfig>(
                    value,
                    name,
                    &locate,
                    &mut errors,
                    &mut config.media,
                ),
                "store" => read_section::<StoreConfig>(
                    value,
                    name,
                    &locate,
                    &mut errors,
                    &mut config.store,
                ),
                "log" => {
                    read_section::<LogConfig>(value, name, &locate, &mut errors, &mut config.log)
                }
                "users" => read_users(value, &locate, &mut errors, &mut config),
                "trunks" => read(value, &locate, &mut errors, &mut config.trunks),
                other => errors.push(locate.error_at(
                    span.start,
                    other.to_owned(),
                    ConfigErrorKind::Schema {
                        message: format!(
                            "unknown key `{other}`, expected one of {}",
                            TOP_LEVEL_KEYS.join(", ")
                        ),
                    },
                )),
            }
        }
        for e in &mut errors {
            if let Some((_, new)) = MOVED_KEYS.iter().find(|(old, _)| e.key == *old) {
                e.kind = ConfigErrorKind::Schema {
                    message: format!("this key moved to `{new}`: write the same value there"),
                };
            }
        }
        if errors.is_empty() {
            for finding in super::validate::check(&config) {
                let at = index.position_of(&finding.key);
                errors.push(locate.error_at(at, finding.key, finding.kind));
            }
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(finish(errors))
        }
    }
}

/// Keys an earlier release read and their new place, so an old file's error says where to
/// move the value instead of only that the key is unknown.
const MOVED_KEYS: &[(&str, &str)] = &[("registrar.realm", "auth.realm")];

/// The top-level keys, as `unknown key` messages list them.
const TOP_LEVEL_KEYS: &[&str] = &[
    "`domain`",
    "`sip`",
    "`registrar`",
    "`auth`",
    "`completion`",
    "`api`",
    "`media`",
    "`store`",
    "`log`",
    "`users`",
    "`trunks`",
];

fn finish(mut errors: Vec<ConfigError>) -> ConfigErrors {
    errors.sort_by_key(|e| (e.line, e.column));
    errors.dedup();
    ConfigErrors(errors)
}

/// Deserializes one value into `slot`, or records where and why it could not.
///
/// Serde stops at the first error, so for a table the offending key is taken out and the
/// rest read again, until it reads or no key can be blamed: every key with a wrong type or
/// an unknown name in the table is reported, not just the first. `slot` is only written when
/// the value reads without any error.
fn read<'i, T: Deserialize<'i>>(
    mut value: Spanned<DeValue<'i>>,
    locate: &Locator<'_>,
    errors: &mut Vec<ConfigError>,
    slot: &mut T,
) {
    let whole = value.span();
    let mut failed = false;
    loop {
        let e = match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => {
                if !failed {
                    *slot = v;
                }
                return;
            }
            Err(e) => e,
        };
        failed = true;
        errors.push(locate.schema_error(&e, whole.start));
        let at = e.span().map_or(whole.start, |s| s.start);
        let DeValue::Table(table) = value.get_mut() else {
            return;
        };
        let blamed = table
            .iter()
            .find(|(k, v)| k.span().contains(&at) || v.span().contains(&at))
            .map(|(k, _)| k.get_ref().to_string());
        match blamed {
            Some(key) if table.remove(key.as_str()).is_some() => {}
            _ => return,
        }
    }
}

/// Like [`read`] for a value that must be a table: says so in TOML's words, not Rust's.
fn read_section<'i, T: Deserialize<'i>>(
    value: Spanned<DeValue<'i>>,
    key: &str,
    locate: &Locator<'_>,
    errors: &mut Vec<ConfigError>,
    slot: &mut T,
) {
    if value.get_ref().is_table() {
        read(value, locate, errors, slot);
    } else {
        errors.push(locate.error_at(
            value.span().start,
            key.to_owned(),
            ConfigErrorKind::Schema {
                message: format!(
                    "expected a table ([{key}] or {key} = {{ ... }}), found {}",
                    value.get_ref().type_str()
                ),
            },
        ));
    }
}

/// `[users]` is read user by user, so that each user's first mistake is reported.
fn read_users<'i>(
    value: Spanned<DeValue<'i>>,
    locate: &Locator<'_>,
    errors: &mut Vec<ConfigError>,
    config: &mut Config,
) {
    let span = value.span();
    let DeValue::Table(table) = value.into_inner() else {
        errors.push(locate.error_at(
            span.start,
            "users".to_owned(),
            ConfigErrorKind::Schema {
                message: "expected a table of users, e.g. [users.alice]".to_owned(),
            },
        ));
        return;
    };
    for (name, user) in table {
        let mut parsed = UserConfig::default();
        let before = errors.len();
        let key = format!("users.{}", quote_key(name.get_ref()));
        read_section(user, &key, locate, errors, &mut parsed);
        if errors.len() == before {
            config.users.insert(name.into_inner().into_owned(), parsed);
        }
    }
}

/// Turns spans into positions and key paths.
struct Locator<'a> {
    text: &'a str,
    file: &'a str,
    index: &'a KeyIndex,
}

impl Locator<'_> {
    fn error_at(&self, offset: usize, key: String, kind: ConfigErrorKind) -> ConfigError {
        let (line, column) = line_column(self.text, offset);
        ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            key,
            kind,
        }
    }

    fn schema_error(&self, e: &toml::de::Error, fallback: usize) -> ConfigError {
        let at = e.span().map_or(fallback, |s| s.start);
        let key = self
            .index
            .key_at(at)
            .map(str::to_owned)
            .unwrap_or_else(|| textual_key(self.text, at));
        self.error_at(
            at,
            key,
            ConfigErrorKind::Schema {
                message: e.message().trim().to_owned(),
            },
        )
    }
}

/// 1-based line and character column of a byte offset (clamped to the text).
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// One key of the document and where it is.
struct Entry {
    path: String,
    key: Range<usize>,
    value: Range<usize>,
}

/// Every key of a parsed document, by dotted path (array elements as `key[i]`).
struct KeyIndex {
    entries: Vec<Entry>,
}

impl KeyIndex {
    fn build(root: &DeTable<'_>) -> KeyIndex {
        let mut index = KeyIndex {
            entries: Vec::new(),
        };
        index.walk_table("", root);
        index
    }

    fn walk_table(&mut self, prefix: &str, table: &DeTable<'_>) {
        for (key, value) in table {
            let path = if prefix.is_empty() {
                quote_key(key.get_ref())
            } else {
                format!("{prefix}.{}", quote_key(key.get_ref()))
            };
            self.entries.push(Entry {
                path: path.clone(),
                key: key.span(),
                value: value.span(),
            });
            self.walk_value(&path, value);
        }
    }

    fn walk_value(&mut self, path: &str, value: &Spanned<DeValue<'_>>) {
        match value.get_ref() {
            DeValue::Table(t) => self.walk_table(path, t),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    self.entries.push(Entry {
                        path: item_path.clone(),
                        key: item.span(),
                        value: item.span(),
                    });
                    self.walk_value(&item_path, item);
                }
            }
            _ => {}
        }
    }

    /// The path of the innermost key or value at `offset`.
    fn key_at(&self, offset: usize) -> Option<&str> {
        if let Some(e) = self.entries.iter().find(|e| e.key.contains(&offset)) {
            return Some(&e.path);
        }
        self.entries
            .iter()
            .filter(|e| e.value.contains(&offset) || e.value.start == offset)
            .min_by_key(|e| e.value.len())
            .map(|e| e.path.as_str())
    }

    /// Where to point for `path`: its value, else its nearest present ancestor; 0 if none.
    fn position_of(&self, path: &str) -> usize {
        let mut path = path;
        loop {
            if let Some(e) = self.entries.iter().find(|e| e.path == path) {
                return e.value.start;
            }
            match path.rfind(['.', '[']) {
                Some(cut) => path = &path[..cut],
                None => return 0,
            }
        }
    }
}

/// For a syntax error the document may not hold the key: read it off the text instead, as
/// the last `[table]` header before the error plus the bare key that starts the line.
fn textual_key(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let mut table = String::new();
    let mut line_key = String::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let end = pos + line.len();
        let trimmed = line.trim();
        let is_error_line = offset >= pos && (offset < end || end == text.len());
        if let Some(header) = trimmed.strip_prefix('[') {
            if !is_error_line {
                let header = header.trim_start_matches('[');
                if let Some(close) = header.find(']') {
                    table = header[..close].trim().to_owned();
                }
            }
        } else if is_error_line {
            let key: String = trimmed
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                .collect();
            if trimmed[key.len()..].trim_start().starts_with('=') {
                line_key = key;
            }
        }
        if is_error_line {
            break;
        }
        pos = end;
    }
    match (table.is_empty(), line_key.is_empty()) {
        (true, true) => "(top level)".to_owned(),
        (true, false) => line_key,
        (false, true) => table,
        (false, false) => format!("{table}.{line_key}"),
    }
}

/// A key as TOML writes it in a dotted path: bare when it can be, quoted otherwise.
pub(super) fn quote_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        key.to_owned()
    } else {
        format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
    }
}
