//! Aligned text tables for the CLI, and the line and call tables built from the API's JSON.
//!
//! The rows are read from the JSON the API sent (`LineView`, `CallView`; docs/api.md) field by
//! field, so a field the server does not send shows as `-` instead of failing the command: a
//! newer or older server still gets a readable table. Cells are cleaned of control characters,
//! because strings such as a call's `remote` come from SIP headers written by strangers and must
//! not move the cursor or recolour the terminal.

use serde_json::Value;

/// A table: a header row and data rows, printed with columns padded to their widest cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column headers.
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells are blank and extra cells are dropped. Cells are cleaned
    /// with [`clean`].
    pub fn push(&mut self, row: Vec<String>) {
        let mut row: Vec<String> = row.iter().map(|c| clean(c)).collect();
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    /// Whether the table has no data rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text: one line per row, each ending in `\n`, columns separated by two
    /// spaces, every column but the last padded to its widest cell (so no line has trailing
    /// spaces). Widths count characters, not bytes.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                if i + 1 < row.len() {
                    let pad = width.saturating_sub(cell.chars().count());
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The table of `GET /v1/lines`: name, address, whether the phone is registered, calls that
/// are not idle, whether the phone is in a call, outstanding completion requests out of the
/// maximum, and the completion modes.
pub fn lines_table(lines: &[Value]) -> Table {
    let mut table = Table::new(&[
        "NAME",
        "ADDRESS",
        "REGISTERED",
        "CALLS",
        "IN CALL",
        "COMPLETIONS",
        "MODES",
    ]);
    for line in lines {
        let status = &line["status"];
        let caps = &line["caps"];
        let yes_no = |v: &Value| match v.as_bool() {
            Some(true) => "yes".to_owned(),
            Some(false) => "no".to_owned(),
            None => "-".to_owned(),
        };
        let completions = match (
            status["num_call_completions"].as_u64(),
            caps["max_call_completions"].as_u64(),
        ) {
            (_, Some(0)) => "unavailable".to_owned(),
            (Some(n), Some(max)) => format!("{n}/{max}"),
            (Some(n), None) => n.to_string(),
            (None, _) => "-".to_owned(),
        };
        table.push(vec![
            text(&line["name"]),
            text(&line["address"]),
            yes_no(&status["registered"]),
            text(&status["num_calls"]),
            yes_no(&status["in_call"]),
            completions,
            list(&caps["call_completion_modes"]),
        ]);
    }
    table
}

/// The table of completion requests: id, caller line, callee, mode, condition, state, queue
/// position, and when it expires (UTC time of day).
pub fn completions_table(requests: &[Value]) -> Table {
    let mut table = Table::new(&[
        "ID", "LINE", "TARGET", "MODE", "COND", "STATE", "POS", "EXPIRES",
    ]);
    for r in requests {
        let expires = r["expires_ms"]
            .as_u64()
            .map_or_else(|| "-".to_owned(), super::events::utc_time);
        table.push(vec![
            text(&r["completion_id"]),
            text(&r["line"]),
            text(&r["target"]),
            text(&r["mode"]),
            text(&r["condition"]),
            text(&r["state"]),
            text(&r["queue_position"]),
            expires,
        ]);
    }
    table
}

/// The table of call views: id, line, direction, remote party, state (with its busy or
/// disconnect mode after a slash), reason, and the completion id behind the call.
pub fn calls_table(calls: &[Value]) -> Table {
    let mut table = Table::new(&[
        "ID",
        "LINE",
        "DIR",
        "REMOTE",
        "STATE",
        "REASON",
        "COMPLETION",
    ]);
    for call in calls {
        table.push(vec![
            text(&call["id"]),
            text(&call["line"]),
            text(&call["direction"]),
            text(&call["remote"]),
            state(call),
            text(&call["reason"]),
            text(&call["completion_id"]),
        ]);
    }
    table
}

/// `state` of a call view or a `callstate` event, with `/mode` when the state has one
/// (`busy/station`, `disconnected/normal`).
pub fn state(value: &Value) -> String {
    let state = text(&value["state"]);
    match value["mode"].as_str() {
        Some(mode) => format!("{state}/{mode}"),
        None => state,
    }
}

/// A JSON scalar as a cell: strings as they are, numbers and booleans in their JSON form, `-`
/// for null or missing, compact JSON for anything else.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON array of scalars joined with commas; `-` when empty or missing.
pub fn list(value: &Value) -> String {
    match value.as_array() {
        Some(items) if !items.is_empty() => items.iter().map(text).collect::<Vec<_>>().join(","),
        _ => "-".to_owned(),
    }
}

/// `s` with every control character (newline, escape, …) written as a Rust escape (`\n`,
/// `\u{1b}`), so that it stays on one line and cannot drive the terminal.
pub fn clean(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_align_on_the_widest_cell_without_trailing_spaces() {
        let mut t = Table::new(&["ID", "NAME", "NOTE"]);
        t.push(vec!["7".into(), "alice".into(), "x".into()]);
        t.push(vec!["12345".into(), "zoë".into(), String::new()]);
        t.push(vec!["1".into()]);
        assert!(!t.is_empty());
        assert_eq!(
            t.render(),
            "ID     NAME   NOTE\n\
             7      alice  x\n\
             12345  zoë\n\
             1\n"
        );
    }

    #[test]
    fn empty_table_is_its_header() {
        let t = Table::new(&["A", "B"]);
        assert!(t.is_empty());
        assert_eq!(t.render(), "A  B\n");
    }

    #[test]
    fn control_characters_are_escaped() {
        let rows = [
            ("bob", "bob"),
            ("a\nb", "a\\nb"),
            ("\u{1b}[31mred", "\\u{1b}[31mred"),
            ("tab\there", "tab\\there"),
            ("\u{85}next", "\\u{85}next"),
        ];
        for (given, want) in rows {
            assert_eq!(clean(given), want, "{given:?}");
        }
        let mut t = Table::new(&["REMOTE"]);
        t.push(vec!["evil\r\nline".into()]);
        assert_eq!(t.render(), "REMOTE\nevil\\r\\nline\n");
    }

    #[test]
    fn lines_table_from_line_views() {
        let lines = [
            json!({
                "name": "alice", "address": "sip:alice@example.com", "address_id": 0,
                "caps": {"call_completion_modes": ["callback", "message"], "max_call_completions": 4},
                "status": {"num_call_completions": 1, "num_calls": 2, "in_call": true, "registered": true}
            }),
            json!({
                "name": "bob", "address": "sip:bob@example.com",
                "caps": {"call_completion_modes": [], "max_call_completions": 0},
                "status": {"num_call_completions": 0, "num_calls": 0, "in_call": false, "registered": false}
            }),
            // Fields a server might not send: shown as `-`, never a failure.
            json!({"name": "carol"}),
        ];
        assert_eq!(
            lines_table(&lines).render(),
            "NAME   ADDRESS                REGISTERED  CALLS  IN CALL  COMPLETIONS  MODES\n\
             alice  sip:alice@example.com  yes         2      yes      1/4          callback,message\n\
             bob    sip:bob@example.com    no          0      no       unavailable  -\n\
             carol  -                      -           -      -        -            -\n"
        );
    }

    #[test]
    fn calls_table_from_call_views() {
        let calls = [
            json!({
                "id": 1, "line": "alice", "direction": "out", "remote": "sip:bob@example.com",
                "state": "busy", "state_value": 64, "mode": "station", "mode_value": 1,
                "reason": "direct", "completion_id": null
            }),
            json!({
                "id": 12, "line": "bob", "direction": "in", "remote": "sip:alice@example.com",
                "state": "offering", "mode": null, "reason": "callcompletion", "completion_id": 3
            }),
        ];
        assert_eq!(
            calls_table(&calls).render(),
            "ID  LINE   DIR  REMOTE                 STATE         REASON          COMPLETION\n\
             1   alice  out  sip:bob@example.com    busy/station  direct          -\n\
             12  bob    in   sip:alice@example.com  offering      callcompletion  3\n"
        );
    }

    #[test]
    fn scalars_and_lists_as_cells() {
        assert_eq!(text(&json!(null)), "-");
        assert_eq!(text(&Value::Null), "-");
        assert_eq!(text(&json!("x")), "x");
        assert_eq!(text(&json!(42)), "42");
        assert_eq!(text(&json!(true)), "true");
        assert_eq!(text(&json!({"a": 1})), r#"{"a":1}"#);
        assert_eq!(list(&json!(["a", "b"])), "a,b");
        assert_eq!(list(&json!([])), "-");
        assert_eq!(list(&json!(null)), "-");
    }

    #[test]
    fn completions_table_shows_state_position_and_expiry() {
        let rows = [json!({
            "completion_id": 7, "line": "alice", "target": "bob", "mode": "callback",
            "condition": "busy", "state": "queued", "queue_position": 1,
            "expires_ms": 3_723_000_u64
        })];
        let text = completions_table(&rows).render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let cells: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            cells,
            [
                "7",
                "alice",
                "bob",
                "callback",
                "busy",
                "queued",
                "1",
                "01:02:03.000"
            ]
        );
    }
}
