//! The `callcomp` subcommands that are clients of a running server's API (issue #3 item 9):
//! `lines`, `calls [LINE]`, `call LINE TO`, `drop ID`, `complete CALL --mode M`,
//! `uncomplete LINE ID`, `completions [LINE]` and `events`.
//!
//! Each talks to the HTTP API (docs/api.md) at `--api` (default `http://127.0.0.1:8060`, or
//! `CALLCOMP_API`) with the bearer token of `--token` (or `CALLCOMP_TOKEN`). Results are aligned
//! tables ([`table`]), or with `--json` the API's JSON as it came, pretty-printed. Failures are
//! one line on stderr, `error: LINEERR_…: message` for the API's TAPI errors, and exit code 1.
//!
//! - [`client`]: the blocking HTTP client and the error type;
//! - [`table`]: table rendering and the line and call tables;
//! - [`events`]: the WebSocket event stream.

pub mod client;
pub mod events;
pub mod table;

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

use serde_json::{json, Value};

use self::client::{path_segment, CliError, Client, Target};

/// The API's address when neither `--api` nor `CALLCOMP_API` is given.
pub const DEFAULT_API: &str = "http://127.0.0.1:8060";

/// The options every client subcommand shares.
#[derive(Clone, PartialEq, Eq)]
pub struct Options {
    /// The API's base URL, as given.
    pub api: String,
    /// The bearer token, if any.
    pub token: Option<String>,
    /// Print the API's JSON instead of a table.
    pub json: bool,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("Options")
            .field("api", &self.api)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("json", &self.json)
            .finish()
    }
}

/// `callcomp lines`: every line with its address, calls, completion state and modes.
pub fn run_lines(options: &Options) -> ExitCode {
    finish(options, |client, out| {
        let lines = client.get("/v1/lines")?;
        if options.json {
            return print_json(out, &lines);
        }
        let table = table::lines_table(as_list(&lines));
        if table.is_empty() {
            writeln!(out, "no lines configured")?;
        } else {
            out.write_all(table.render().as_bytes())?;
        }
        Ok(())
    })
}

/// `callcomp calls [LINE]`: the calls that are not idle, of one line or of every line (by id).
pub fn run_calls(options: &Options, line: Option<&str>) -> ExitCode {
    finish(options, |client, out| {
        let calls = match line {
            Some(line) => client.get(&format!("/v1/lines/{}/calls", path_segment(line)))?,
            None => all_calls(client)?,
        };
        if options.json {
            return print_json(out, &calls);
        }
        let table = table::calls_table(as_list(&calls));
        if table.is_empty() {
            match line {
                Some(line) => writeln!(out, "no calls on {}", table::clean(line))?,
                None => writeln!(out, "no calls")?,
            }
        } else {
            out.write_all(table.render().as_bytes())?;
        }
        Ok(())
    })
}

/// `callcomp call LINE TO`: a third-party call; prints the new call.
pub fn run_call(options: &Options, line: &str, to: &str) -> ExitCode {
    finish(options, |client, out| {
        let path = format!("/v1/lines/{}/calls", path_segment(line));
        let call = client.post(&path, &json!({ "to": to }))?;
        if options.json {
            return print_json(out, &call);
        }
        let table = table::calls_table(std::slice::from_ref(&call));
        out.write_all(table.render().as_bytes())?;
        Ok(())
    })
}

/// `callcomp drop ID`: drops a call. Prints `call ID dropped` (nothing with `--json`: the API
/// answers 204 without a body).
pub fn run_drop(options: &Options, id: u32) -> ExitCode {
    finish(options, |client, out| {
        client.delete(&format!("/v1/calls/{id}"))?;
        if !options.json {
            writeln!(out, "call {id} dropped")?;
        }
        Ok(())
    })
}

/// `callcomp complete CALL --mode MODE [--message N]`: lineCompleteCall. Prints the new
/// completion id (the API's JSON with `--json`).
pub fn run_complete(options: &Options, call: u32, mode: &str, message: Option<u32>) -> ExitCode {
    finish(options, |client, out| {
        let body = json!({ "mode": mode, "message_id": message.unwrap_or(0) });
        let answer = client.post(&format!("/v1/calls/{call}/complete"), &body)?;
        if options.json {
            return print_json(out, &answer);
        }
        writeln!(
            out,
            "completion {} requested ({}) on call {call}",
            table::text(&answer["completion_id"]),
            table::clean(mode)
        )?;
        Ok(())
    })
}

/// `callcomp uncomplete LINE ID`: lineUncompleteCall.
pub fn run_uncomplete(options: &Options, line: &str, id: u32) -> ExitCode {
    finish(options, |client, out| {
        client.delete(&format!(
            "/v1/lines/{}/completions/{id}",
            path_segment(line)
        ))?;
        if !options.json {
            writeln!(out, "completion {id} of {} cancelled", table::clean(line))?;
        }
        Ok(())
    })
}

/// `callcomp completions [LINE]`: the outstanding requests of one line or of every line.
pub fn run_completions(options: &Options, line: Option<&str>) -> ExitCode {
    finish(options, |client, out| {
        let requests = match line {
            Some(line) => client.get(&format!("/v1/lines/{}/completions", path_segment(line)))?,
            None => {
                let lines = client.get("/v1/lines")?;
                let mut all = Vec::new();
                for l in as_list(&lines) {
                    let Some(name) = l["name"].as_str() else {
                        continue;
                    };
                    let path = format!("/v1/lines/{}/completions", path_segment(name));
                    if let Value::Array(items) = client.get(&path)? {
                        all.extend(items);
                    }
                }
                all.sort_by_key(|r| r["completion_id"].as_u64().unwrap_or(u64::MAX));
                Value::Array(all)
            }
        };
        if options.json {
            return print_json(out, &requests);
        }
        let table = table::completions_table(as_list(&requests));
        if table.is_empty() {
            match line {
                Some(line) => writeln!(out, "no completion requests on {}", table::clean(line))?,
                None => writeln!(out, "no completion requests")?,
            }
        } else {
            out.write_all(table.render().as_bytes())?;
        }
        Ok(())
    })
}

/// `callcomp events`: follows the event stream until interrupted or until the server ends it.
pub fn run_events(options: &Options) -> ExitCode {
    finish(options, |client, out| {
        let mut status = std::io::stderr().lock();
        events::follow(client.target(), options.json, out, &mut status)
    })
}

/// Runs `command` against the API and turns its outcome into an exit code: 0, or 1 with
/// `error: …` on stderr. A closed stdout (`callcomp events | head`) is a quiet success.
fn finish(
    options: &Options,
    command: impl FnOnce(&Client, &mut dyn Write) -> Result<(), CliError>,
) -> ExitCode {
    let result = Target::new(&options.api, options.token.clone()).and_then(|target| {
        let client = Client::new(target);
        let mut out = std::io::stdout().lock();
        command(&client, &mut out).and_then(|()| out.flush().map_err(CliError::from))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Output(e)) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The calls of every line, by id: the API lists calls per line, so this asks for the lines
/// and then for each line's calls.
fn all_calls(client: &Client) -> Result<Value, CliError> {
    let lines = client.get("/v1/lines")?;
    let mut calls = Vec::new();
    for line in as_list(&lines) {
        let Some(name) = line["name"].as_str() else {
            continue;
        };
        let path = format!("/v1/lines/{}/calls", path_segment(name));
        match client.get(&path)? {
            Value::Array(items) => calls.extend(items),
            _ => {
                return Err(CliError::BadReply {
                    url: client.target().url(&path),
                    detail: "expected a JSON array of calls".to_owned(),
                })
            }
        }
    }
    calls.sort_by_key(|c| c["id"].as_u64().unwrap_or(u64::MAX));
    Ok(Value::Array(calls))
}

/// The elements of a JSON array; nothing for any other value.
fn as_list(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

/// `value` pretty-printed, with a final newline.
fn print_json(out: &mut dyn Write, value: &Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::from)?;
    writeln!(out, "{text}")?;
    Ok(())
}
