//! `callcomp serve`: opens the store, starts the SIP transports, the core and the API, and
//! runs until SIGINT or SIGTERM (DESIGN §5).
//!
//! Shutdown is graceful: the API stops accepting, the core ends every call (CANCEL, final
//! responses, BYE) and waits for the store to commit what it was given, the transports
//! close, the store is closed, and the process exits 0.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use callcomp::api::{self, ApiOptions};
use callcomp::config::{Config, LogFormat, LogLevel, Transport};
use callcomp::core::handle::CoreHandle;
use callcomp::core::ids::Ids;
use callcomp::core::runtime::{self, Inputs};
use callcomp::core::{new_switch, Engine};
use callcomp::media;
use callcomp::registrar::Binding;
use callcomp::store::Store;
use callcomp::transport::{self, Proto, TransportLimits};
use rand::Rng;
use tokio::sync::{broadcast, mpsc, watch};
use tracing_subscriber::EnvFilter;

/// How long in-flight API requests get after the shutdown signal.
const API_GRACE: Duration = Duration::from_secs(5);

/// How often the store's file is looked at when nothing else looks (every write batch, every
/// `/healthz` and `/metrics` also do): a deleted database file is logged within this time.
const STORE_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// Runs the server on its own tokio runtime; exit 0 after a clean shutdown, 1 on a start
/// failure.
pub fn main(config: Config, log_level: Option<&str>) -> ExitCode {
    init_tracing(&config, log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("callcomp serve: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &Config, log_level: Option<&str>) {
    let fallback = log_level.map(str::to_owned).unwrap_or_else(|| {
        match config.log.level {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
        .to_owned()
    });
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&fallback))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal: a log file or journal gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let config = Arc::new(config);
    // The warnings include the one for open registration.
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let store = Store::open(&config.store.path)
        .await
        .with_context(|| format!("opening the store {}", config.store.path.display()))?;
    let bindings: Vec<Binding> = store
        .all_bindings()
        .await
        .context("reading the stored bindings")?
        .into_iter()
        .map(Binding::from)
        .collect();

    let protos: Vec<Proto> = config
        .sip
        .transports
        .iter()
        .map(|t| match t {
            Transport::Udp => Proto::Udp,
            Transport::Tcp => Proto::Tcp,
        })
        .collect();
    let (wire, inbound) = transport::start(
        &config.sip.listen,
        &protos,
        TransportLimits::from_config(&config),
    )
    .await
    .context("starting the SIP transports")?;
    for (proto, addr) in wire.local_addrs() {
        tracing::info!(transport = proto.as_str(), %addr, "SIP listening");
    }
    let bound = wire
        .local_addr(Proto::Udp)
        .or_else(|| wire.local_addr(Proto::Tcp))
        .or_else(|| config.sip.listen.first().copied())
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 5060)));
    let advertise = advertised(&config.sip, bound);
    tracing::info!(%advertise, "SIP advertised in Via and Contact");

    let sounds = media::Sounds::load(&config.media)?;
    let (media_handle, media_thread) =
        media::spawn(&config.media, sounds, None).context("starting the media thread")?;
    tracing::info!(address = %config.media.address, ports = %config.media.rtp_ports, "media ready");

    let nonce_key: [u8; 32] = rand::rng().random();
    let now = runtime::now();
    let mut engine = Engine::new(
        Arc::clone(&config),
        new_switch(&config),
        Ids::from_os_rng(),
        advertise,
        nonce_key,
        bindings,
        now,
    )
    .with_media(media_handle);
    let stored = store
        .all_completions()
        .await
        .context("reading the stored completion requests")?;
    let next_id = store
        .next_completion_id()
        .await
        .context("reading the completion id high-water mark")?;
    let outstanding = stored.len();
    engine
        .import_completions(
            callcomp::core::completion::snapshot_of(stored, next_id),
            now,
        )
        .context("reloading the stored completion requests")?;
    if outstanding > 0 {
        tracing::info!(requests = outstanding, "completion requests reloaded");
    }
    let (commands_tx, commands_rx) = mpsc::channel(256);
    let (events_tx, _) = broadcast::channel(1024);
    let handle = CoreHandle::new(engine.snapshots(), commands_tx, events_tx.clone())
        .with_store_health(store.health());

    let metrics = match api::install_prometheus() {
        Ok(metrics) => Some(metrics),
        Err(e) => {
            tracing::warn!(error = %e, "metrics disabled");
            None
        }
    };
    let options = ApiOptions {
        token: config.api.token.as_ref().map(|t| t.expose().to_owned()),
        metrics,
    };
    let limits = api::ApiLimits::from_config(&config);
    let router = api::guard(api::router(Arc::new(handle.clone()), options), &limits);
    let listener = tokio::net::TcpListener::bind(config.api.listen)
        .await
        .with_context(|| format!("binding the API on {}", config.api.listen))?;

    let health = store.health();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(STORE_CHECK_INTERVAL);
        loop {
            every.tick().await;
            // A change is logged (ERROR with the reason) and published by the check itself.
            let _ = health.check();
        }
    });

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested");
        stop_tx.send_replace(true);
    });
    let api_stop = stopped(stop_rx.clone());
    tracing::info!(addr = %config.api.listen, "API listening");
    let api_task =
        tokio::spawn(async move { api::serve_limited(listener, router, &limits, api_stop).await });

    let sender = wire.clone();
    let send = move |out| {
        if let Err(e) = sender.send(out) {
            tracing::warn!(error = %e, "SIP message not sent");
        }
    };
    let inputs = Inputs {
        inbound,
        commands: commands_rx,
    };
    runtime::run(
        engine,
        send,
        store.clone(),
        inputs,
        events_tx,
        stopped(stop_rx),
    )
    .await;

    handle.close_events();
    match tokio::time::timeout(API_GRACE, api_task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "API server error"),
        Ok(Err(e)) => tracing::warn!(error = %e, "API task failed"),
        Err(_) => tracing::warn!("API requests still open at shutdown; leaving them"),
    }
    // Let the last SIP messages leave before the sockets close.
    tokio::time::sleep(Duration::from_millis(50)).await;
    wire.shutdown();
    media_thread.stop();
    store.close().await.context("closing the store")?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves once the stop flag is set.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// SIGINT or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The address put in our Via and Contact headers: `sip.advertise` with the bound port, or the
/// bound address itself (validation refuses an unspecified listen address without
/// `sip.advertise`, so nothing unreachable is ever advertised).
fn advertised(sip: &callcomp::config::SipConfig, bound: SocketAddr) -> SocketAddr {
    match sip.advertise {
        Some(ip) => SocketAddr::new(ip, bound.port()),
        None => bound,
    }
}

#[cfg(test)]
mod advertise_tests {
    use super::*;

    #[test]
    fn the_advertised_address_is_sip_advertise_on_the_bound_port() {
        let mut sip = callcomp::config::SipConfig::default();
        let bound: SocketAddr = "0.0.0.0:5080".parse().unwrap();
        sip.advertise = Some("192.0.2.10".parse().unwrap());
        assert_eq!(advertised(&sip, bound), "192.0.2.10:5080".parse().unwrap());
        sip.advertise = None;
        let loopback: SocketAddr = "127.0.0.1:5080".parse().unwrap();
        assert_eq!(advertised(&sip, loopback), loopback);
    }
}
