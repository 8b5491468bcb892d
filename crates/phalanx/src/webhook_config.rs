//! The `[[webhooks]]` tables of `phalanx serve`'s configuration file.
//!
//! ```toml
//! [[webhooks]]
//! name = "coordinators"                  # letters, digits, '-', '_'
//! url = "https://soc.example/phalanx"
//! secret_env = "PHALANX_WEBHOOK_SECRET"  # or: secret = "..." (at least 16 characters)
//! as_user = "coordinator"                # whose read rule applies
//! events = ["assistance-request.created", "collective-alert.raised"]  # default: every kind
//! max_attempts = 8                       # default 8
//! timeout_secs = 10                      # default 10
//! deadline_scan_secs = 60                # default 60
//! ```
//!
//! The secret is the HMAC key of `X-Phalanx-Signature` (see
//! `phalanx_api::webhooks`); it stays in the configuration (or the
//! environment) and never enters the store.

use anyhow::{Context, bail};
use phalanx_api::webhooks::WebhookConfig;
use serde::Deserialize;
use std::time::Duration;

/// One `[[webhooks]]` table. Its `Debug` form hides the secret.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEntry {
    /// A short name (the key of its cursor in the store).
    pub name: String,
    /// Where to POST.
    pub url: String,
    /// The HMAC key.
    pub secret: Option<String>,
    /// The environment variable that holds the HMAC key.
    pub secret_env: Option<String>,
    /// The node user whose read rule applies.
    pub as_user: String,
    /// Event kinds to send (default: all).
    #[serde(default)]
    pub events: Vec<String>,
    /// Attempts per delivery.
    pub max_attempts: Option<u32>,
    /// Seconds one attempt may take.
    pub timeout_secs: Option<u64>,
    /// Seconds between looks for overdue deadlines.
    pub deadline_scan_secs: Option<u64>,
}

impl std::fmt::Debug for WebhookEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEntry")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<hidden>"))
            .field("secret_env", &self.secret_env)
            .field("as_user", &self.as_user)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// Checks the tables and resolves their secrets.
pub fn resolve(entries: &[WebhookEntry]) -> anyhow::Result<Vec<WebhookConfig>> {
    let mut out: Vec<WebhookConfig> = Vec::new();
    for entry in entries {
        let name = &entry.name;
        let secret = match (&entry.secret, &entry.secret_env) {
            (Some(s), None) => s.clone(),
            (None, Some(var)) => std::env::var(var)
                .with_context(|| format!("webhook '{name}': secret_env: the variable {var} is not set"))?,
            _ => bail!("webhook '{name}': give exactly one of secret and secret_env"),
        };
        let mut config = WebhookConfig::new(name, &entry.url, &secret, &entry.as_user);
        config.events = entry.events.clone();
        if let Some(n) = entry.max_attempts {
            config.max_attempts = n;
        }
        if let Some(s) = entry.timeout_secs {
            config.timeout = Duration::from_secs(s.max(1));
        }
        if let Some(s) = entry.deadline_scan_secs {
            config.deadline_scan = Duration::from_secs(s.max(1));
        }
        config.validate().map_err(anyhow::Error::msg)?;
        if out.iter().any(|c| c.name == config.name) {
            bail!("webhook '{name}': name: used twice");
        }
        out.push(config);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_one_place_and_names_are_unique() {
        let entry = |name: &str| WebhookEntry {
            name: name.into(),
            url: "http://127.0.0.1:9/x".into(),
            secret: Some("0123456789abcdef".into()),
            as_user: "admin".into(),
            ..WebhookEntry::default()
        };
        assert_eq!(resolve(&[entry("a")]).expect("valid").len(), 1);
        let twice = resolve(&[entry("a"), entry("a")]).expect_err("twice");
        assert!(twice.to_string().contains("used twice"), "{twice}");
        let mut both = entry("b");
        both.secret_env = Some("X".into());
        assert!(resolve(&[both]).expect_err("both").to_string().contains("exactly one"));
        let mut unset = entry("c");
        unset.secret = None;
        unset.secret_env = Some("PHALANX_TEST_SURELY_UNSET_VARIABLE".into());
        assert!(resolve(&[unset]).expect_err("unset").to_string().contains("not set"));
    }
}
