//! The leader's digest lookups: at every refresh interval, when the configuration changes and
//! on `POST /refresh`, every cached image is resolved to the digest its registry reports,
//! with the credentials of the `IMAGE_PULL_SECRETS` secrets, and the result goes into the
//! [`DigestBook`] the reconciliation reads (see [`super::digests`] for what it does with it).
//!
//! A lookup that fails changes nothing in the cluster: the image keeps its recorded digest.
//! It is counted (`kip_registry_errors_total{category}`), reported once per episode by a
//! Warning event naming the image and the error category (never credentials), and retried
//! with exponential backoff, no sooner than a registry's `Retry-After`; only the failing
//! images are retried until the next full lookup.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use parking_lot::Mutex;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::digests::KnownDigest;
use super::error::backoff;
use super::events::{Notifier, daemonset_reference};
use crate::config::{CachedImage, Config};
use crate::registry::{Credentials, ErrorCategory, RegistryClient, RegistryError, RegistryOptions, Resolved};
use crate::telemetry::Metrics;

/// The longest wait between retries of failing lookups (the interval, if shorter).
const RETRY_CAP: Duration = Duration::from_secs(300);

/// What the registry lookups know, shared by the resolver and the reconciliation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BookState {
    /// The last digest resolved for each image, by container name.
    pub resolved: BTreeMap<String, KnownDigest>,
    /// `(container name, image)` pairs looked up at least once, whatever the outcome.
    pub attempted: BTreeSet<(String, String)>,
    /// Images whose last lookup failed, by container name: the image and the error category.
    pub failing: BTreeMap<String, (String, ErrorCategory)>,
}

/// What one round of lookups changed.
#[derive(Debug, Default)]
pub struct Outcome {
    /// A digest was learned or changed: the DaemonSet must be reconciled.
    pub changed: bool,
    /// Images that started failing, or fail differently: worth a Warning event.
    pub newly_failing: Vec<(CachedImage, RegistryError)>,
    /// Images that resolved again after failing.
    pub recovered: Vec<CachedImage>,
    /// The longest wait a registry asked for.
    pub retry_after: Option<Duration>,
}

impl BookState {
    /// Records the results of a round for the configured `images` (entries of images no longer
    /// configured are dropped).
    pub fn record(
        &mut self,
        images: &[CachedImage],
        results: Vec<(CachedImage, Result<Resolved, RegistryError>)>,
    ) -> Outcome {
        let configured: BTreeSet<&str> = images.iter().map(|i| i.name.as_str()).collect();
        self.resolved.retain(|name, _| configured.contains(name.as_str()));
        self.failing.retain(|name, _| configured.contains(name.as_str()));
        self.attempted.retain(|(name, image)| images.iter().any(|i| &i.name == name && &i.image == image));
        let mut outcome = Outcome::default();
        for (cached, result) in results {
            let first_attempt = self.attempted.insert((cached.name.clone(), cached.image.clone()));
            match result {
                Ok(resolved) => {
                    let known = KnownDigest { image: cached.image.clone(), digest: resolved.digest };
                    if self.resolved.get(&cached.name) != Some(&known) {
                        outcome.changed = true;
                        self.resolved.insert(cached.name.clone(), known);
                    }
                    if self.failing.remove(&cached.name).is_some() {
                        outcome.recovered.push(cached);
                    }
                }
                Err(error) => {
                    let failing = (cached.image.clone(), error.category());
                    if self.failing.get(&cached.name) != Some(&failing) {
                        self.failing.insert(cached.name.clone(), failing);
                        outcome.newly_failing.push((cached.clone(), error.clone()));
                    }
                    outcome.retry_after = outcome.retry_after.max(error.retry_after());
                    // A first lookup counts even when it fails: with pinning, kip waits for it
                    // and then no longer for a registry that does not answer.
                    outcome.changed |= first_attempt;
                }
            }
        }
        outcome
    }
}

/// The shared book, with a signal for every change.
#[derive(Debug)]
pub struct DigestBook {
    state: Mutex<BookState>,
    updates: watch::Sender<u64>,
}

impl Default for DigestBook {
    fn default() -> Self {
        DigestBook { state: Mutex::new(BookState::default()), updates: watch::Sender::new(0) }
    }
}

impl DigestBook {
    pub fn snapshot(&self) -> BookState {
        self.state.lock().clone()
    }

    /// Changes whenever the reconciliation should look again.
    pub fn updates(&self) -> watch::Receiver<u64> {
        self.updates.subscribe()
    }

    fn record(&self, images: &[CachedImage], results: Vec<(CachedImage, Result<Resolved, RegistryError>)>) -> Outcome {
        let outcome = self.state.lock().record(images, results);
        if outcome.changed {
            self.updates.send_modify(|n| *n = n.wrapping_add(1));
        }
        outcome
    }
}

/// Everything the lookups need.
pub struct Resolver {
    pub client: kube::Client,
    pub config: watch::Receiver<Arc<Config>>,
    pub book: Arc<DigestBook>,
    pub metrics: Metrics,
    pub notifier: Notifier,
    /// Woken by `POST /refresh`.
    pub refresh: Arc<Notify>,
    /// Replaces `CACHING_INTERVAL_HOURS` when set (demos and tests).
    pub interval: Option<Duration>,
}

impl Resolver {
    /// Looks up digests until `stop`.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut registry: Option<(BTreeSet<String>, Arc<RegistryClient>)> = None;
        let mut counted_requests = 0;
        let mut failed_rounds = 0u32;
        // The images to retry; `None` for a full round.
        let mut retry: Option<BTreeSet<String>> = None;
        let mut secret_problems = BTreeSet::new();
        let mut config_open = true;
        loop {
            let config = self.config.borrow_and_update().clone();
            let interval = self
                .interval
                .unwrap_or(Duration::from_secs(u64::from(config.caching_interval_hours).saturating_mul(3600)));
            let client = match &registry {
                Some((insecure, client)) if *insecure == config.insecure_registries => Some(client.clone()),
                _ => {
                    let options = RegistryOptions {
                        insecure_registries: config.insecure_registries.clone(),
                        ..Default::default()
                    };
                    match RegistryClient::new(options) {
                        Ok(client) => {
                            let client = Arc::new(client);
                            registry = Some((config.insecure_registries.clone(), client.clone()));
                            counted_requests = 0;
                            Some(client)
                        }
                        Err(error) => {
                            warn!(%error, "cannot look up digests");
                            None
                        }
                    }
                }
            };
            let mut wait = interval;
            if let Some(client) = client {
                let credentials = self.credentials(&config, &mut secret_problems).await;
                let targets: Vec<CachedImage> = config
                    .images
                    .iter()
                    .filter(|image| retry.as_ref().is_none_or(|names| names.contains(&image.name)))
                    .cloned()
                    .collect();
                let results = client.resolve_all(targets.iter().map(|t| t.image.clone()), &credentials).await;
                let total = client.request_counts().total();
                self.metrics.registry_requests.inc_by(total.saturating_sub(counted_requests));
                counted_requests = total;
                let results: Vec<_> = targets.into_iter().zip(results).map(|(t, (_, result))| (t, result)).collect();
                for error in results.iter().filter_map(|(_, r)| r.as_ref().err()) {
                    self.metrics.count_registry_error(error.category().as_str());
                }
                let outcome = self.book.record(&config.images, results);
                self.report(&config, &outcome).await;
                let failing: BTreeSet<String> = self.book.snapshot().failing.into_keys().collect();
                if failing.is_empty() {
                    failed_rounds = 0;
                    retry = None;
                } else {
                    failed_rounds += 1;
                    let delay = backoff(failed_rounds, true, RETRY_CAP.min(interval));
                    wait = delay.max(outcome.retry_after.unwrap_or_default());
                    retry = Some(failing);
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
                changed = self.config.changed(), if config_open => {
                    // Without a watched ConfigMap the configuration never changes.
                    config_open = changed.is_ok();
                    retry = None;
                    failed_rounds = 0;
                }
                _ = self.refresh.notified() => {
                    info!("refresh requested: looking up every image's digest now");
                    retry = None;
                }
            }
        }
    }

    /// The credentials of the pull secrets that can be read; problems are logged once each.
    async fn credentials(&self, config: &Config, logged: &mut BTreeSet<String>) -> Credentials {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &config.namespace);
        let mut secrets = Vec::new();
        let mut problems = Vec::new();
        for name in &config.image_pull_secrets {
            match api.get_opt(name).await {
                Ok(Some(secret)) => secrets.push(secret),
                Ok(None) => {
                    problems.push(format!("pull secret {name:?} does not exist in namespace {}", config.namespace))
                }
                Err(kube::Error::Api(status)) if status.code == 403 => {
                    problems.push(format!("kip may not read pull secret {name:?}: its Role needs `get` on that secret"))
                }
                Err(error) => problems.push(format!("reading pull secret {name:?} failed: {error}")),
            }
        }
        let (credentials, unreadable) = Credentials::from_pull_secrets(&secrets);
        problems.extend(unreadable.iter().map(ToString::to_string));
        for problem in &problems {
            if !logged.contains(problem) {
                warn!(%problem, "registry lookups go without these credentials");
            }
        }
        *logged = problems.into_iter().collect();
        credentials
    }

    async fn report(&self, config: &Config, outcome: &Outcome) {
        let daemonset = daemonset_reference(config);
        for (image, error) in &outcome.newly_failing {
            let category = error.category().as_str();
            warn!(image = %image.name, reference = %image.image, category, %error, "cannot resolve the image's digest");
            let note = format!(
                "Cannot resolve the digest of image {} ({}): {category}: {error}. Its recorded digest stays in \
                 force and it causes no refresh until it resolves; retrying with backoff.",
                image.name, image.image
            );
            self.notifier.daemonset_warning(&daemonset, "DigestLookupFailed", note).await;
        }
        for image in &outcome.recovered {
            info!(image = %image.name, reference = %image.image, "the image's digest resolves again");
            let note = format!("The digest of image {} ({}) resolves again.", image.name, image.image);
            self.notifier.daemonset(&daemonset, "DigestLookupRecovered", note).await;
        }
    }
}

#[cfg(test)]
#[path = "resolver_tests.rs"]
mod tests;
