//! `callcomp`: the SIP call-completion server and its command-line client.
//!
//! The SIP core (`callcomp-sip`) is in place; the server (registrar, B2BUA, store, API) and
//! the call-completion engine arrive next. Until then the subcommands below are listed so
//! that `--help` shows what the binary will do, and each one says plainly that it is not
//! available yet instead of pretending.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A SIP call-completion server: camp-on, callback, intrude and message, the TAPI way.
#[derive(Parser, Debug)]
#[command(name = "callcomp", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (SIP on 127.0.0.1:5060, API on 127.0.0.1:8060 by default). [not yet available]
    Serve {
        /// Configuration file (TOML); embedded defaults without one.
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    },
    /// Check a configuration file and report each error with its key and line. [not yet available]
    CheckConfig {
        /// The file to check.
        file: std::path::PathBuf,
    },
    /// List lines with their capabilities and status. [not yet available]
    Lines,
    /// List calls, of all lines or of one. [not yet available]
    Calls {
        /// Only this line's calls.
        line: Option<String>,
    },
    /// Make a third-party call: ring LINE's phone, then TO. [not yet available]
    Call {
        /// The calling line.
        line: String,
        /// The destination.
        to: String,
    },
    /// Drop a call. [not yet available]
    Drop {
        /// The call id.
        id: u32,
    },
    /// Request completion of a failed call (lineCompleteCall). [not yet available]
    Complete {
        /// The call id.
        call: u32,
        /// callback, campon, intrude or message.
        #[arg(long)]
        mode: String,
        /// Predefined message number, for mode message.
        #[arg(long)]
        message: Option<u32>,
    },
    /// Cancel a completion request (lineUncompleteCall). [not yet available]
    Uncomplete {
        /// The line that owns the request.
        line: String,
        /// The completion id.
        id: u32,
    },
    /// List outstanding completion requests. [not yet available]
    Completions {
        /// Only this line's requests.
        line: Option<String>,
    },
    /// Follow the event stream (LINE_* events). [not yet available]
    Events,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let name = match cli.command {
        Command::Serve { .. } => "serve",
        Command::CheckConfig { .. } => "check-config",
        Command::Lines => "lines",
        Command::Calls { .. } => "calls",
        Command::Call { .. } => "call",
        Command::Drop { .. } => "drop",
        Command::Complete { .. } => "complete",
        Command::Uncomplete { .. } => "uncomplete",
        Command::Completions { .. } => "completions",
        Command::Events => "events",
    };
    eprintln!(
        "callcomp {name}: not available yet. This build has the SIP core only; \
         the server and its API arrive with the next milestones (see README.md, Status)."
    );
    ExitCode::from(2)
}
