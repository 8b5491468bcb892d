//! Outgoing webhooks: rapid-response events ([`crate::events`]) POSTed to
//! configured URLs, signed with HMAC-SHA256 and retried.
//!
//! Each webhook acts as one node user (`as_user`): it sends only events
//! about objects that user may read (the read rule applies inside the
//! store query, as for every other reader), and its sends of classified
//! objects are audited like any other read (`via` = `webhook:<name>`).
//!
//! **Delivery.** One thread per webhook follows the store in `date_added`
//! order from a cursor kept in the store (`webhook.<name>.cursor`), so a
//! restart neither loses nor repeats what was delivered (at least once: an
//! event whose delivery was cut by the restart is sent again). The first
//! start begins at the newest version (no replay of history). Every
//! `deadline_scan` it also looks for deadlines that became overdue and
//! sends each once (the keys already sent are kept in the store,
//! `webhook.<name>.overdue`). A slow or failing receiver delays only its
//! own webhook.
//!
//! **Request.** `POST <url>` with `Content-Type: application/json` and
//! - `X-Phalanx-Event`: the event kind (`assistance-request.state-changed`, ...);
//! - `X-Phalanx-Delivery`: a UUID, the same on every retry of one delivery;
//! - `X-Phalanx-Signature`: `t=<unix seconds>,v1=<hex>` where `<hex>` is
//!   HMAC-SHA256 over `<t>.<body>` with the webhook's secret. Receivers
//!   recompute it and reject old `t` values to stop replays.
//!
//! The body: `{"delivery", "event", "time", "object_ref", "detail",
//! "label", "object"}` (`object` is the STIX version the event is about).
//!
//! **Retries.** A 2xx answer is success. Connection errors, timeouts, 408,
//! 429 and 5xx are retried after 1, 2, 4, ... seconds (at most 60) up to
//! `max_attempts`; any other status is a permanent refusal. A delivery
//! that fails for good is logged, counted (`phalanx_webhook_failures_total`)
//! and recorded (`webhook.<name>.last_error`), and the webhook moves on.

use crate::AppState;
use crate::events::{self, EVENT_KINDS, ResponseEvent};
use hmac::{Hmac, KeyInit, Mac};
use phalanx_model::Timestamp;
use phalanx_store::{Actor, Cursor, Order, Query, Store, StoredObject, VersionFilter};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One configured webhook. Its `Debug` form hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// A short name (letters, digits, `-`, `_`): the key of its cursor.
    pub name: String,
    /// Where to POST (`http://` or `https://`).
    pub url: String,
    /// The HMAC key. Kept in the node's configuration, never in the store.
    pub secret: String,
    /// The node user whose read rule applies.
    pub as_user: String,
    /// The event kinds to send; empty = every kind.
    pub events: Vec<String>,
    /// Attempts per delivery, the first included.
    pub max_attempts: u32,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// How often overdue deadlines are looked for.
    pub deadline_scan: Duration,
    /// How often the store is read when nothing was committed in this process.
    pub poll_interval: Duration,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("secret", &"<hidden>")
            .field("as_user", &self.as_user)
            .field("events", &self.events)
            .field("max_attempts", &self.max_attempts)
            .field("timeout", &self.timeout)
            .field("deadline_scan", &self.deadline_scan)
            .finish()
    }
}

impl WebhookConfig {
    /// A webhook with the default retry and timing settings.
    pub fn new(name: &str, url: &str, secret: &str, as_user: &str) -> Self {
        WebhookConfig {
            name: name.to_owned(),
            url: url.to_owned(),
            secret: secret.to_owned(),
            as_user: as_user.to_owned(),
            events: Vec::new(),
            max_attempts: 8,
            timeout: Duration::from_secs(10),
            deadline_scan: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
        }
    }

    /// Checks the configuration; the error names the webhook and the field.
    pub fn validate(&self) -> Result<(), String> {
        let name = &self.name;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(format!("webhook '{name}': name: use letters, digits, '-' and '_'"));
        }
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(format!("webhook '{name}': url: must start with http:// or https://"));
        }
        if self.secret.len() < 16 {
            return Err(format!("webhook '{name}': secret: at least 16 characters"));
        }
        if self.as_user.trim().is_empty() {
            return Err(format!("webhook '{name}': as_user: must name a node user"));
        }
        for kind in &self.events {
            if !EVENT_KINDS.contains(&kind.as_str()) {
                return Err(format!("webhook '{name}': events: unknown kind '{kind}' (known: {})", EVENT_KINDS.join(", ")));
            }
        }
        if self.max_attempts == 0 {
            return Err(format!("webhook '{name}': max_attempts: at least 1"));
        }
        Ok(())
    }

    fn wants(&self, kind: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|k| k == kind)
    }
}

/// The `X-Phalanx-Signature` value of `body` sent at `unix_seconds`.
pub fn signature(secret: &str, unix_seconds: u64, body: &[u8]) -> String {
    // HMAC takes keys of any length; new_from_slice cannot fail for it.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(64);
    for b in digest.iter() {
        hex.push_str(&format!("{b:02x}"));
    }
    format!("t={unix_seconds},v1={hex}")
}

/// Starts one thread per webhook; they end when the node shuts down.
/// Returns the handles, to join after shutdown.
pub fn start(state: &AppState, webhooks: Vec<WebhookConfig>) -> Vec<std::thread::JoinHandle<()>> {
    let mut handles = Vec::new();
    for config in webhooks {
        let state = state.clone();
        let name = config.name.clone();
        let spawned = std::thread::Builder::new().name(format!("webhook-{name}")).spawn(move || {
            let mut sender = Sender::new(state, config);
            sender.run();
        });
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(e) => tracing::error!(webhook = %name, error = %e, "webhook thread did not start"),
        }
    }
    handles
}

struct Sender {
    state: AppState,
    store: Arc<dyn Store>,
    config: WebhookConfig,
    agent: ureq::Agent,
    overdue_sent: BTreeSet<String>,
}

impl Sender {
    fn new(state: AppState, config: WebhookConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(config.timeout))
            .build()
            .new_agent();
        let store = state.store().clone();
        Sender { state, store, config, agent, overdue_sent: BTreeSet::new() }
    }

    fn key(&self, what: &str) -> String {
        format!("webhook.{}.{what}", self.config.name)
    }

    fn stopping(&self) -> bool {
        *self.state.shutdown_signal().borrow()
    }

    /// The acting user, looked up again on every round so that a disabled
    /// user stops the webhook and a changed clearance applies at once.
    fn actor(&self) -> Result<Actor, String> {
        let name = &self.config.as_user;
        let user = self
            .store
            .find_user(name)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("as_user: no user named '{name}'"))?;
        if user.disabled {
            return Err(format!("as_user: user '{name}' is disabled"));
        }
        self.store.actor(&user, None).map_err(|e| e.to_string())
    }

    fn run(&mut self) {
        let name = self.config.name.clone();
        tracing::info!(webhook = %name, url = %self.config.url, user = %self.config.as_user, "webhook started");
        if let Ok(Some(text)) = self.store.setting(&self.key("overdue"))
            && let Ok(keys) = serde_json::from_str::<BTreeSet<String>>(&text)
        {
            self.overdue_sent = keys;
        }
        let mut committed = self.state.committed_changes();
        let mut last_scan: Option<Instant> = None;
        while !self.stopping() {
            committed.borrow_and_update();
            let mut busy = false;
            match self.actor() {
                Ok(actor) => {
                    match self.follow(&actor) {
                        Ok(sent_any) => busy = sent_any,
                        Err(e) => self.record_error(&format!("reading the store: {e}")),
                    }
                    if last_scan.is_none_or(|t| t.elapsed() >= self.config.deadline_scan) {
                        last_scan = Some(Instant::now());
                        if let Err(e) = self.scan_deadlines(&actor) {
                            self.record_error(&format!("deadline scan: {e}"));
                        }
                    }
                }
                Err(e) => self.record_error(&e),
            }
            if busy {
                continue;
            }
            // Wait for a commit in this process, the poll interval, or shutdown.
            let waited = Instant::now();
            while waited.elapsed() < self.config.poll_interval && !self.stopping() {
                if committed.has_changed().unwrap_or(false) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        tracing::info!(webhook = %name, "webhook stopped");
    }

    /// Sends the events of the versions after the cursor (one batch);
    /// whether there was anything to read.
    fn follow(&mut self, actor: &Actor) -> Result<bool, phalanx_store::StoreError> {
        let cursor = match self.store.setting(&self.key("cursor"))?.and_then(|c| Cursor::decode(&c)) {
            Some(c) => c,
            None => {
                let newest = events::newest_cursor(self.store.as_ref(), &actor.subject)?;
                self.store.set_setting(&self.key("cursor"), &newest.encode())?;
                newest
            }
        };
        let query = Query {
            versions: VersionFilter::All,
            order: Order::AddedAscending,
            after: Some(cursor),
            limit: 200,
            ..Query::default()
        };
        let page = self.store.query(&actor.subject, &query)?;
        let Some(last) = page.objects.last().map(|o| Cursor(o.seq)) else { return Ok(false) };
        for stored in &page.objects {
            if !events::may_carry_events(&stored.object_type) {
                continue;
            }
            let Ok(object) = phalanx_model::strict::parse_text(&stored.json) else { continue };
            let first_version = events::is_first_readable_version(self.store.as_ref(), &actor.subject, stored)?;
            for event in events::version_events(&object, first_version) {
                if self.config.wants(event.kind) {
                    self.deliver(actor, &event, stored, &object);
                }
            }
            if self.stopping() {
                return Ok(false); // the cursor stays: the rest is sent after the restart
            }
        }
        self.store.set_setting(&self.key("cursor"), &last.encode())?;
        Ok(true)
    }

    /// Sends each deadline that is overdue now and was not sent before.
    fn scan_deadlines(&mut self, actor: &Actor) -> Result<(), phalanx_store::StoreError> {
        if !self.config.wants(events::DEADLINE_OVERDUE) {
            return Ok(());
        }
        let now = phalanx_response::Clock::now(&phalanx_response::SystemClock);
        let mut current = BTreeSet::new();
        for (event, stored, object) in events::overdue_now(self.store.as_ref(), &actor.subject, now)? {
            let key = event.detail["key"].as_str().unwrap_or_default().to_owned();
            if !self.overdue_sent.contains(&key) {
                self.deliver(actor, &event, &stored, &object);
            }
            current.insert(key);
        }
        // Keep only what is still overdue: a deadline that is met (or whose
        // object is gone) is forgotten, a new due time is a new key.
        if current != self.overdue_sent {
            self.overdue_sent = current;
            let text = serde_json::to_string(&self.overdue_sent).unwrap_or_else(|_| "[]".into());
            self.store.set_setting(&self.key("overdue"), &text)?;
        }
        Ok(())
    }

    fn record_error(&self, message: &str) {
        tracing::warn!(webhook = %self.config.name, error = %message, "webhook");
        let entry = json!({"time": Timestamp::now(3).to_string(), "error": message}).to_string();
        if let Err(e) = self.store.set_setting(&self.key("last_error"), &entry) {
            tracing::error!(webhook = %self.config.name, error = %e, "webhook: cannot record the last error");
        }
    }

    /// Delivers one event, retrying; gives up after `max_attempts`.
    fn deliver(&self, actor: &Actor, event: &ResponseEvent, stored: &StoredObject, object: &Value) {
        let via = format!("webhook:{}", self.config.name);
        if let Err(e) = phalanx_auth::audit_reads(self.store.as_ref(), actor, std::slice::from_ref(stored), &via) {
            // An unaudited classified read must not leave the node.
            self.record_error(&format!("{}: not sent, the audit failed: {e}", event.object_ref));
            return;
        }
        let delivery = uuid::Uuid::new_v4().to_string();
        let label = match stored.label.tlp {
            Some(t) => format!("{} TLP:{}", stored.label.display_name(None), t.as_str().to_ascii_uppercase()),
            None => stored.label.display_name(None),
        };
        let body = json!({
            "delivery": delivery,
            "event": event.kind,
            "time": Timestamp::now(3).to_string(),
            "object_ref": event.object_ref,
            "detail": event.detail,
            "label": label,
            "object": object,
        })
        .to_string();
        let mut wait = Duration::from_secs(1);
        for attempt in 1..=self.config.max_attempts {
            let unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let outcome = self
                .agent
                .post(&self.config.url)
                .header("Content-Type", "application/json")
                .header("X-Phalanx-Event", event.kind)
                .header("X-Phalanx-Delivery", &delivery)
                .header("X-Phalanx-Signature", &signature(&self.config.secret, unix, body.as_bytes()))
                .send(body.as_bytes());
            let (retry, problem) = match outcome {
                Ok(response) => {
                    let status = response.status().as_u16();
                    if (200..300).contains(&status) {
                        metrics::counter!("phalanx_webhook_deliveries_total", "webhook" => self.config.name.clone()).increment(1);
                        tracing::debug!(webhook = %self.config.name, event = event.kind, object = %event.object_ref, attempt, "webhook delivered");
                        return;
                    }
                    (status == 408 || status == 429 || status >= 500, format!("answered {status}"))
                }
                Err(e) => (true, e.to_string()),
            };
            if !retry || attempt == self.config.max_attempts || self.stopping() {
                metrics::counter!("phalanx_webhook_failures_total", "webhook" => self.config.name.clone()).increment(1);
                self.record_error(&format!(
                    "{} {} (delivery {delivery}): {problem} after {attempt} attempt(s)",
                    event.kind, event.object_ref
                ));
                return;
            }
            tracing::info!(webhook = %self.config.name, event = event.kind, attempt, problem = %problem, "webhook retry");
            let until = Instant::now() + wait;
            while Instant::now() < until && !self.stopping() {
                std::thread::sleep(Duration::from_millis(50));
            }
            wait = (wait * 2).min(Duration::from_secs(60));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_time_dot_body() {
        // RFC 4231 test case 2 checks the primitive ("Jefe", "what do ya want for nothing?").
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").expect("key");
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let a = signature("0123456789abcdef", 1_700_000_000, b"{}");
        assert!(a.starts_with("t=1700000000,v1="), "{a}");
        assert_eq!(a.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(a, signature("0123456789abcdeg", 1_700_000_000, b"{}"), "the key matters");
        assert_ne!(a, signature("0123456789abcdef", 1_700_000_001, b"{}"), "the time matters");
        assert_ne!(a, signature("0123456789abcdef", 1_700_000_000, b"{ }"), "the body matters");
    }

    #[test]
    fn the_configuration_is_checked_field_by_field() {
        let ok = WebhookConfig::new("coordinators", "https://hooks.example/phalanx", "0123456789abcdef", "admin");
        assert_eq!(ok.validate(), Ok(()));
        let mut bad = ok.clone();
        bad.url = "ftp://x".into();
        assert!(bad.validate().is_err_and(|e| e.contains("url")));
        let mut bad = ok.clone();
        bad.secret = "short".into();
        assert!(bad.validate().is_err_and(|e| e.contains("secret")));
        let mut bad = ok.clone();
        bad.events = vec!["everything".into()];
        assert!(bad.validate().is_err_and(|e| e.contains("events") && e.contains("everything")));
        let mut bad = ok;
        bad.name = "a b".into();
        assert!(bad.validate().is_err_and(|e| e.contains("name")));
    }
}
