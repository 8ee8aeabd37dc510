//! `callcomp`: the SIP call-completion server and its command-line client.
//!
//! `serve` runs the server (registrar, B2BUA, store, API; see [`serve`]); `check-config`
//! checks a configuration file. The other subcommands are clients of a running server's API
//! (see `cli`).

mod serve;

use std::path::Path;
use std::process::ExitCode;

use callcomp::config::{Config, Transport};
use clap::{Parser, Subcommand};

mod cli;

/// mimalloc instead of the system allocator: under SIP load the per-message buffers made
/// glibc malloc a third of the server's CPU (docs/decisions.md, docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A SIP call-completion server: camp-on, callback, intrude and message, the TAPI way.
#[derive(Parser, Debug)]
#[command(name = "callcomp", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The API of the server that lines, calls, call, drop and events talk to.
    #[arg(long, global = true, env = "CALLCOMP_API", default_value = cli::DEFAULT_API)]
    api: String,
    /// The API's bearer token (api.token in the server's configuration).
    #[arg(long, global = true, env = "CALLCOMP_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (SIP on 127.0.0.1:5060, API on 127.0.0.1:8060 by default).
    Serve {
        /// Configuration file (TOML); embedded defaults without one.
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// Log level (error, warn, info, debug, trace) or a tracing filter; `RUST_LOG`
        /// overrides it, and without either the file's `log.level` applies.
        #[arg(long)]
        log_level: Option<String>,
    },
    /// Check a configuration file and report each error with its key and line.
    CheckConfig {
        /// The file to check.
        file: std::path::PathBuf,
    },
    /// List lines with their address, calls and completion capabilities.
    Lines,
    /// List the calls that are not idle, of all lines or of one.
    Calls {
        /// Only this line's calls.
        line: Option<String>,
    },
    /// Make a third-party call: ring LINE's phone, then TO; prints the new call.
    Call {
        /// The calling line.
        line: String,
        /// The destination.
        to: String,
    },
    /// Drop a call.
    Drop {
        /// The call id.
        id: u32,
    },
    /// Request completion of a failed call (lineCompleteCall); prints the completion id.
    Complete {
        /// The call id.
        call: u32,
        /// callback, campon or message.
        #[arg(long)]
        mode: String,
        /// Predefined message number, for mode message.
        #[arg(long)]
        message: Option<u32>,
    },
    /// Cancel a completion request (lineUncompleteCall).
    Uncomplete {
        /// The line that owns the request.
        line: String,
        /// The completion id.
        id: u32,
    },
    /// List outstanding completion requests, with state, queue position and expiry.
    Completions {
        /// Only this line's requests.
        line: Option<String>,
    },
    /// Follow the event stream (LINE_* events), one line per event, until interrupted.
    Events,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = cli::Options {
        api: cli.api,
        token: cli.token,
        json: cli.json,
    };
    match cli.command {
        Command::CheckConfig { file } => check_config(&file),
        Command::Serve { config, log_level } => {
            let config = match config {
                Some(file) => match load(&file) {
                    Ok(config) => config,
                    Err(code) => return code,
                },
                None => Config::default(),
            };
            serve::main(config, log_level.as_deref())
        }
        Command::Lines => cli::run_lines(&options),
        Command::Calls { line } => cli::run_calls(&options, line.as_deref()),
        Command::Call { line, to } => cli::run_call(&options, &line, &to),
        Command::Drop { id } => cli::run_drop(&options, id),
        Command::Complete {
            call,
            mode,
            message,
        } => cli::run_complete(&options, call, &mode, message),
        Command::Uncomplete { line, id } => cli::run_uncomplete(&options, &line, id),
        Command::Completions { line } => cli::run_completions(&options, line.as_deref()),
        Command::Events => cli::run_events(&options),
    }
}

/// `check-config FILE`: `FILE: ok` and a summary on stdout (warnings on stderr), exit 0; or
/// each error as `FILE:LINE:COL: key: message` on stderr, exit 1.
fn check_config(file: &Path) -> ExitCode {
    let config = match load(file) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let shown = file.display();
    println!("{shown}: ok");
    let users: Vec<&str> = config.users.keys().map(String::as_str).collect();
    if users.is_empty() {
        println!("  users: none");
    } else {
        println!("  users: {} ({})", users.len(), users.join(", "));
    }
    let transports: Vec<&str> = config
        .sip
        .transports
        .iter()
        .map(|t| match t {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        })
        .collect();
    let listen: Vec<String> = config.sip.listen.iter().map(ToString::to_string).collect();
    println!("  sip: {} on {}", transports.join("+"), listen.join(", "));
    println!(
        "  api: {}{}",
        config.api.listen,
        if config.api.token.is_some() {
            " (token required)"
        } else {
            ""
        }
    );
    println!("  domain: {}", config.domain);
    let algorithms: Vec<&str> = config
        .auth
        .algorithms
        .iter()
        .map(|a| a.algorithm().as_str())
        .collect();
    println!(
        "  auth: digest {} (realm {})",
        algorithms.join(", "),
        config.realm()
    );
    let trusted: Vec<String> = config.sip.trusted.iter().map(ToString::to_string).collect();
    println!(
        "  trusted peers: {}",
        if trusted.is_empty() {
            "none".to_owned()
        } else {
            trusted.join(", ")
        }
    );
    for trunk in &config.trunks {
        println!(
            "  trunk: {} at {} over {}",
            trunk.domain,
            trunk.address,
            trunk.transport.as_str()
        );
    }
    println!("  store: {}", config.store.path.display());
    for warning in config.warnings() {
        eprintln!("{shown}: warning: {warning}");
    }
    ExitCode::SUCCESS
}

/// Reads and checks a configuration file; on failure prints why and gives exit code 1.
fn load(file: &Path) -> Result<Config, ExitCode> {
    let shown = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{shown}: cannot read: {e}");
            return Err(ExitCode::FAILURE);
        }
    };
    Config::from_toml_str(&text, &shown).map_err(|errors| {
        for e in errors.iter() {
            eprintln!("{e}");
        }
        ExitCode::FAILURE
    })
}
