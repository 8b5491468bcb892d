//! `phalanx serve`: the HTTP node (TAXII 2.1, health, metrics), plain or
//! over TLS (rustls), with graceful shutdown on SIGTERM/SIGINT.
//!
//! Configuration, highest precedence first: command-line flags, then
//! `PHALANX_*` environment variables, then the TOML file given with
//! `--config`, then the defaults. The file carries `version = 1`.
//!
//! Keys of the file, each also read from `PHALANX_<KEY>` in upper case
//! (`PHALANX_RATE_LIMIT_PER_SEC`, ...): `listen`, `data_dir`, `body_limit`
//! (bytes, default 100 MiB, also the TAXII `max_content_length`),
//! `page_size_cap`, `default_tlp`, `title`, `description`, `contact`,
//! `tls_cert`, `tls_key`, `status_ttl_hours`, `status_capacity`,
//! `shutdown_grace_secs`, `request_timeout_secs` (default 60, 0 = none;
//! not applied to the live stream), `max_concurrent_requests` (default
//! 256, 0 = no limit; more are answered 503), `rate_limit_per_sec`
//! (requests per second per token, anonymous per address; default 100,
//! 0 = no limit; more are answered 429), `rate_limit_burst` (default 200),
//! `stream_poll_ms` (default 1000: how soon the live stream sees writes of
//! other processes), `stream_keepalive_secs` (default 15),
//! `stream_deadline_scan_secs` (default 60: how often a live stream looks
//! for overdue deadlines), `[[webhooks]]` (see `webhook_config`),
//! `alert_countries` (default 3) and `alert_window_hours` (default 24):
//! a collective-threat alert needs sightings from that many countries
//! within that window, `alert_user` (default `admin`: the user the alert
//! evaluation reads and writes as), `alert_poll_secs` (default 30: how
//! often alerts are evaluated when no write of this process woke them),
//! `correlation_too_common` (default 100: a value shared by more readable
//! objects is not followed by `GET /api/v1/objects/{id}/related`; stored in
//! the node's settings, so `phalanx related` uses it too),
//! `web_session_idle_mins` (default 30) and `web_session_max_hours`
//! (default 12): a web UI session ends after that long unused, or that long
//! after login; `web_login_failures` (default 5): failed logins per user name
//! and per address before each further attempt must wait.

use crate::Finished;
use crate::node::open_store;
use anyhow::{Context, bail};
use phalanx_api::auth::TokenAuthenticator;
use phalanx_api::{ApiConfig, AppState, MetricsRender};
use phalanx_labels::Tlp;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The listen address when none is configured.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8470";
/// The configuration file version this build reads.
pub const CONFIG_VERSION: u32 = 1;

/// Arguments of `phalanx serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8470].
    #[arg(long, env = "PHALANX_LISTEN")]
    pub listen: Option<String>,
    /// TOML configuration file (keys: version, listen, data_dir, body_limit,
    /// page_size_cap, default_tlp, title, description, contact, tls_cert,
    /// tls_key, status_ttl_hours, status_capacity, shutdown_grace_secs,
    /// request_timeout_secs, max_concurrent_requests, rate_limit_per_sec,
    /// rate_limit_burst, stream_poll_ms, stream_keepalive_secs,
    /// stream_deadline_scan_secs, [[webhooks]], alert_countries,
    /// alert_window_hours, alert_user, alert_poll_secs, correlation_too_common,
    /// web_session_idle_mins, web_session_max_hours, web_login_failures).
    #[arg(long, env = "PHALANX_CONFIG")]
    pub config: Option<PathBuf>,
    /// TLS certificate chain (PEM); serve HTTPS with --tls-key.
    #[arg(long, env = "PHALANX_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "PHALANX_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
}

/// The configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Format version; must be 1 when given.
    pub version: Option<u32>,
    /// Listen address.
    pub listen: Option<String>,
    /// Data directory (used when neither --data nor PHALANX_DATA is given).
    pub data_dir: Option<PathBuf>,
    /// Largest request body in bytes (TAXII max_content_length).
    pub body_limit: Option<usize>,
    /// Most objects in one page.
    pub page_size_cap: Option<usize>,
    /// TLP of unmarked objects (clear, green, amber, amber+strict, red).
    pub default_tlp: Option<String>,
    /// Server title.
    pub title: Option<String>,
    /// Server description.
    pub description: Option<String>,
    /// Contact information.
    pub contact: Option<String>,
    /// TLS certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Hours a TAXII status resource stays queryable (at least 24).
    pub status_ttl_hours: Option<u64>,
    /// Most status resources kept.
    pub status_capacity: Option<usize>,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_grace_secs: Option<u64>,
    /// Seconds a request may take before it is answered 503 (0: no limit).
    pub request_timeout_secs: Option<u64>,
    /// Most requests handled at once; more are answered 503 (0: no limit).
    pub max_concurrent_requests: Option<usize>,
    /// Requests per second per token (anonymous: per address); more are
    /// answered 429 (0: no limit).
    pub rate_limit_per_sec: Option<f64>,
    /// Requests a token may make in a burst.
    pub rate_limit_burst: Option<u32>,
    /// Milliseconds between the live stream's reads of the store.
    pub stream_poll_ms: Option<u64>,
    /// Seconds of silence before the live stream sends a keep-alive.
    pub stream_keepalive_secs: Option<u64>,
    /// Seconds between a live stream's looks for overdue deadlines.
    pub stream_deadline_scan_secs: Option<u64>,
    /// Distinct countries a collective-threat alert needs.
    pub alert_countries: Option<usize>,
    /// Window of a collective-threat alert, in hours.
    pub alert_window_hours: Option<u32>,
    /// User the alert evaluation acts as.
    pub alert_user: Option<String>,
    /// Seconds between alert evaluations when no write woke them.
    pub alert_poll_secs: Option<u64>,
    /// Correlations: most readable objects a value may be shared by and still be followed.
    pub correlation_too_common: Option<usize>,
    /// Outgoing webhooks (see `crate::webhook_config`).
    #[serde(default)]
    pub webhooks: Vec<crate::webhook_config::WebhookEntry>,
    /// Minutes a web UI session may go unused.
    pub web_session_idle_mins: Option<u64>,
    /// Hours a web UI session lasts at most.
    pub web_session_max_hours: Option<u64>,
    /// Failed web logins per user name and address before throttling.
    pub web_login_failures: Option<u32>,
}

/// The resolved configuration of `phalanx serve`.
#[derive(Debug)]
pub struct ServeConfig {
    /// Listen address.
    pub listen: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// TLS certificate and key, when serving HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// What the HTTP interface needs.
    pub api: ApiConfig,
    /// Grace period for in-flight requests on shutdown.
    pub shutdown_grace: Duration,
    /// Collective-threat alerts.
    pub alerts: crate::alerts::AlertSettings,
    /// The correlation bound to store in the node's settings, when configured.
    pub correlation_too_common: Option<usize>,
    /// Outgoing webhooks.
    pub webhooks: Vec<phalanx_api::webhooks::WebhookConfig>,
    /// The web UI (sessions, login throttle; `Secure` cookies over TLS).
    pub web: phalanx_web::WebConfig,
}

/// Reads `PHALANX_<NAME>` and parses it.
fn env_value<T: std::str::FromStr>(name: &str) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    let var = format!("PHALANX_{name}");
    match std::env::var(&var) {
        Ok(text) => text.trim().parse::<T>().map(Some).map_err(|e| anyhow::anyhow!("{var}: '{text}': {e}")),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{var}: not unicode"),
    }
}

/// Whether `--data` or `PHALANX_DATA` chose the data directory.
fn data_dir_given() -> bool {
    std::env::var_os("PHALANX_DATA").is_some()
        || std::env::args_os().any(|a| a == "--data" || a.to_string_lossy().starts_with("--data="))
}

/// Resolves the configuration from flags, environment, file and defaults.
pub fn resolve(data: &Path, args: &ServeArgs) -> anyhow::Result<ServeConfig> {
    let file = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("--config {}", path.display()))?;
            let parsed: FileConfig = toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?;
            if let Some(v) = parsed.version.filter(|v| *v != CONFIG_VERSION) {
                bail!("config {}: version: {v} is not supported (this build reads version {CONFIG_VERSION})", path.display());
            }
            parsed
        }
        None => FileConfig::default(),
    };
    let data_dir = match (&file.data_dir, data_dir_given()) {
        (Some(dir), false) => dir.clone(),
        _ => data.to_owned(),
    };
    let listen = args.listen.clone().or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let tls_cert = args.tls_cert.clone().or(file.tls_cert);
    let tls_key = args.tls_key.clone().or(file.tls_key);
    let tls = match (tls_cert, tls_key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        (Some(_), None) => bail!("tls_key: a TLS certificate was given without its key (--tls-key)"),
        (None, Some(_)) => bail!("tls_cert: a TLS key was given without its certificate (--tls-cert)"),
    };
    let defaults = ApiConfig::default();
    let body_limit = env_value::<usize>("BODY_LIMIT")?.or(file.body_limit).unwrap_or(defaults.max_content_length);
    if body_limit == 0 {
        bail!("body_limit: must be greater than 0");
    }
    let page_size_cap = env_value::<usize>("PAGE_SIZE_CAP")?.or(file.page_size_cap).unwrap_or(defaults.page_size_cap);
    if page_size_cap == 0 || page_size_cap > 1 << 53 {
        bail!("page_size_cap: must be between 1 and 2^53");
    }
    let default_tlp = match env_value::<String>("DEFAULT_TLP")?.or(file.default_tlp) {
        Some(t) => Some(t.parse::<Tlp>().map_err(|e| anyhow::anyhow!("default_tlp: {e}"))?),
        None => None,
    };
    let ttl_hours = env_value::<u64>("STATUS_TTL_HOURS")?.or(file.status_ttl_hours).unwrap_or(48);
    if ttl_hours < 24 {
        bail!("status_ttl_hours: must be at least 24 (TAXII keeps statuses for 24 hours)");
    }
    let status_capacity =
        env_value::<usize>("STATUS_CAPACITY")?.or(file.status_capacity).unwrap_or(defaults.status_capacity);
    if status_capacity == 0 {
        bail!("status_capacity: must be greater than 0");
    }
    let grace = env_value::<u64>("SHUTDOWN_GRACE_SECS")?.or(file.shutdown_grace_secs).unwrap_or(30);
    let limit_defaults = defaults.limits.clone();
    let timeout_secs = env_value::<u64>("REQUEST_TIMEOUT_SECS")?
        .or(file.request_timeout_secs)
        .unwrap_or(limit_defaults.request_timeout.as_secs());
    let rate = env_value::<f64>("RATE_LIMIT_PER_SEC")?.or(file.rate_limit_per_sec).unwrap_or(limit_defaults.rate_per_sec);
    if !rate.is_finite() || rate < 0.0 {
        bail!("rate_limit_per_sec: must be a number of at least 0 (0 = no limit)");
    }
    let burst = env_value::<u32>("RATE_LIMIT_BURST")?.or(file.rate_limit_burst).unwrap_or(limit_defaults.rate_burst);
    if burst == 0 {
        bail!("rate_limit_burst: must be greater than 0");
    }
    let limits = phalanx_api::limits::LimitsConfig {
        request_timeout: Duration::from_secs(timeout_secs),
        max_concurrent_requests: env_value::<usize>("MAX_CONCURRENT_REQUESTS")?
            .or(file.max_concurrent_requests)
            .unwrap_or(limit_defaults.max_concurrent_requests),
        rate_per_sec: rate,
        rate_burst: burst,
    };
    let stream_defaults = defaults.stream.clone();
    let poll_ms = env_value::<u64>("STREAM_POLL_MS")?.or(file.stream_poll_ms).unwrap_or(stream_defaults.poll_interval.as_millis() as u64);
    if poll_ms == 0 {
        bail!("stream_poll_ms: must be greater than 0");
    }
    let keepalive_secs = env_value::<u64>("STREAM_KEEPALIVE_SECS")?
        .or(file.stream_keepalive_secs)
        .unwrap_or(stream_defaults.keepalive.as_secs());
    if keepalive_secs == 0 {
        bail!("stream_keepalive_secs: must be greater than 0");
    }
    let deadline_scan_secs = env_value::<u64>("STREAM_DEADLINE_SCAN_SECS")?
        .or(file.stream_deadline_scan_secs)
        .unwrap_or(stream_defaults.deadline_scan.as_secs());
    if deadline_scan_secs == 0 {
        bail!("stream_deadline_scan_secs: must be greater than 0");
    }
    let stream = phalanx_api::stream::StreamConfig {
        poll_interval: Duration::from_millis(poll_ms),
        keepalive: Duration::from_secs(keepalive_secs),
        deadline_scan: Duration::from_secs(deadline_scan_secs),
        ..stream_defaults
    };
    let api = ApiConfig {
        title: env_value::<String>("TITLE")?.or(file.title).unwrap_or(defaults.title),
        description: env_value::<String>("DESCRIPTION")?.or(file.description),
        contact: env_value::<String>("CONTACT")?.or(file.contact),
        max_content_length: body_limit,
        page_size_cap,
        default_tlp,
        status_ttl: Duration::from_secs(ttl_hours * 3600),
        status_capacity,
        limits,
        stream,
    };
    let alert_countries = env_value::<usize>("ALERT_COUNTRIES")?.or(file.alert_countries).unwrap_or(3);
    let alert_window = env_value::<u32>("ALERT_WINDOW_HOURS")?.or(file.alert_window_hours).unwrap_or(24);
    let alert_poll = env_value::<u64>("ALERT_POLL_SECS")?.or(file.alert_poll_secs).unwrap_or(30);
    if alert_countries == 0 || alert_window == 0 || alert_poll == 0 {
        bail!("alert_countries, alert_window_hours and alert_poll_secs: must be greater than 0");
    }
    let alerts = crate::alerts::AlertSettings {
        policy: phalanx_matcher::alert::AlertPolicy { threshold_countries: alert_countries, window_hours: alert_window },
        user: env_value::<String>("ALERT_USER")?.or(file.alert_user),
        poll: Duration::from_secs(alert_poll),
    };
    let webhooks = crate::webhook_config::resolve(&file.webhooks)?;
    let correlation_too_common = env_value::<usize>("CORRELATION_TOO_COMMON")?.or(file.correlation_too_common);
    let web_defaults = phalanx_web::WebConfig::default();
    let idle_mins = env_value::<u64>("WEB_SESSION_IDLE_MINS")?
        .or(file.web_session_idle_mins)
        .unwrap_or(web_defaults.session_idle.as_secs() / 60);
    let max_hours = env_value::<u64>("WEB_SESSION_MAX_HOURS")?
        .or(file.web_session_max_hours)
        .unwrap_or(web_defaults.session_absolute.as_secs() / 3600);
    let login_failures =
        env_value::<u32>("WEB_LOGIN_FAILURES")?.or(file.web_login_failures).unwrap_or(web_defaults.login_failures_allowed);
    if idle_mins == 0 || max_hours == 0 {
        bail!("web_session_idle_mins and web_session_max_hours: must be greater than 0");
    }
    let web = phalanx_web::WebConfig {
        session_idle: Duration::from_secs(idle_mins * 60),
        session_absolute: Duration::from_secs(max_hours * 3600),
        secure_cookies: tls.is_some(),
        login_failures_allowed: login_failures,
        ..web_defaults
    };
    Ok(ServeConfig {
        listen,
        data_dir,
        tls,
        api,
        shutdown_grace: Duration::from_secs(grace),
        alerts,
        webhooks,
        correlation_too_common,
        web,
    })
}

/// Resolves when SIGTERM or SIGINT arrives.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = ctrl_c => tracing::info!(signal = "SIGINT", "shutting down"),
        _ = term => tracing::info!(signal = "SIGTERM", "shutting down"),
    }
}

/// Installs the process-wide Prometheus recorder (once per process).
fn install_metrics() -> Option<MetricsRender> {
    match metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder() {
        Ok(handle) => {
            let upkeep = handle.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    upkeep.run_upkeep();
                }
            });
            Some(Arc::new(move || handle.render()))
        }
        Err(error) => {
            tracing::warn!(%error, "metrics disabled: cannot install the recorder");
            None
        }
    }
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let store = Arc::new(open_store(&config.data_dir)?.with_background_checkpoints()?);
    if let Some(n) = config.correlation_too_common {
        phalanx_store::Store::set_setting(store.as_ref(), phalanx_api::rest::related::TOO_COMMON_SETTING, &n.to_string())?;
    }
    let metrics = install_metrics();
    let api = config.api.clone();
    let api_store = store.clone();
    let state = tokio::task::spawn_blocking(move || AppState::new(api_store, Arc::new(TokenAuthenticator::new()), api, metrics))
        .await
        .context("starting the api")?
        .context("loading the TAXII collections")?;
    crate::alerts::spawn_watcher(state.clone(), config.alerts.clone());
    phalanx_api::webhooks::start(&state, config.webhooks.clone());
    let committed = state.clone();
    let federation = crate::federation::start(&config.data_dir, store, Box::new(move || committed.notify_committed()))?;
    {
        // Push workers wake on every commit of this process.
        let wakeup = federation.wakeup();
        let mut changes = state.committed_changes();
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                wakeup.notify();
            }
        });
    }
    let web = phalanx_web::WebState::new(state.clone(), config.web.clone());
    let app = phalanx_api::router(state.clone())
        .merge(phalanx_web::router(web))
        .merge(phalanx_federation::server::router(federation.clone()))
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let listener =
        std::net::TcpListener::bind(&config.listen).with_context(|| format!("--listen: cannot bind {}", config.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if config.tls.is_some() { "https" } else { "http" };

    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        // Live streams end now: they would otherwise hold the graceful
        // shutdown until the grace period is over.
        state.begin_shutdown();
        federation.stop();
        let _ = tx.send(true);
    });
    let stopping = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    match &config.tls {
        Some((cert, key)) => {
            // aws-lc-rs is the one provider built in; installing it makes
            // the choice explicit (an error only means one is installed).
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .with_context(|| format!("tls: cannot load {} and {}", cert.display(), key.display()))?;
            let handle = axum_server::Handle::new();
            let on_signal = handle.clone();
            let grace = config.shutdown_grace;
            let wait = stopping(rx.clone());
            tokio::spawn(async move {
                wait.await;
                on_signal.graceful_shutdown(Some(grace));
            });
            println!("listening on {scheme}://{addr}");
            tracing::info!(%addr, scheme, "listening");
            axum_server::tls_rustls::from_tcp_rustls(listener, tls)?
                .handle(handle)
                .serve(app)
                .await
                .context("serving https")?;
        }
        None => {
            listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(listener)?;
            println!("listening on {scheme}://{addr}");
            tracing::info!(%addr, scheme, "listening");
            let server = axum::serve(listener, app).with_graceful_shutdown(stopping(rx.clone()));
            let grace = config.shutdown_grace;
            let deadline = {
                let wait = stopping(rx.clone());
                async move {
                    wait.await;
                    tokio::time::sleep(grace).await;
                }
            };
            tokio::select! {
                result = server.into_future() => result.context("serving http")?,
                _ = deadline => tracing::warn!(grace_secs = grace.as_secs(), "grace period over; closing the connections left"),
            }
        }
    }
    println!("stopped");
    Ok(())
}

/// `phalanx serve`.
pub fn run(data: &Path, args: ServeArgs) -> anyhow::Result<Finished> {
    let config = resolve(data, &args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(serve(config))?;
    // Dropping the runtime waits for store work already running on the
    // blocking pool: a write is committed whole or not at all, and only a
    // committed write was acknowledged.
    drop(runtime);
    Ok(Finished::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_config_refuses_unknown_keys_and_reads_known_ones() {
        let ok: FileConfig = toml::from_str("version = 1\nlisten = \"127.0.0.1:9000\"\npage_size_cap = 50\ndefault_tlp = \"green\"")
            .expect("valid config");
        assert_eq!(ok.page_size_cap, Some(50));
        assert!(toml::from_str::<FileConfig>("lisen = \"x\"").is_err());
    }
}
