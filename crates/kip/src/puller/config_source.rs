//! Where `kip run` gets its configuration: the environment (the Go puller's `envFrom` a
//! ConfigMap), and optionally that ConfigMap itself, watched live so that a change applies
//! without a restart. A configuration that turns invalid is reported and ignored: the last
//! valid one stays in force, so a bad edit never takes down the caching DaemonSet.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::Reporters;
use crate::config::Config;

/// The configuration variables from the environment plus, when set, the watched ConfigMap.
#[derive(Clone, Debug)]
pub struct ConfigSource {
    pub env: BTreeMap<String, String>,
    /// Name of the ConfigMap to watch, in the configured namespace.
    pub config_map: Option<String>,
}

impl ConfigSource {
    pub fn from_env(config_map: Option<String>) -> Self {
        ConfigSource { env: std::env::vars().collect(), config_map }
    }

    /// The variables in force: the environment, overridden by the ConfigMap's data.
    pub fn merged(&self, data: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
        let mut vars = self.env.clone();
        if let Some(data) = data {
            vars.extend(data.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        vars
    }
}

/// Parses variables into a configuration.
pub fn parse(vars: &BTreeMap<String, String>) -> Result<Config, crate::config::ConfigErrors> {
    Config::from_vars(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Keeps `sender` holding the last valid configuration read from the ConfigMap, until
/// `shutdown`. Invalid configurations are reported (log, event, metric, readiness).
pub async fn watch_config_map(
    client: kube::Client,
    source: ConfigSource,
    namespace: String,
    sender: watch::Sender<Arc<Config>>,
    report: Reporters,
    shutdown: CancellationToken,
) {
    let Reporters { notifier, metrics, health } = report;
    let Some(name) = source.config_map.clone() else { return };
    let api: Api<ConfigMap> = Api::namespaced(client, &namespace);
    let selector = format!("metadata.name={name}");
    let mut changes =
        watcher(api, watcher::Config::default().fields(&selector)).default_backoff().applied_objects().boxed();
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            next = changes.next() => next,
        };
        let config_map = match next {
            Some(Ok(cm)) => cm,
            Some(Err(err)) => {
                warn!(error = %err, config_map = %name, "watching the configuration ConfigMap failed; retrying");
                continue;
            }
            None => return,
        };
        let vars = source.merged(config_map.data.as_ref());
        match parse(&vars) {
            Ok(config) => {
                metrics.config_errors.set(0);
                let was_invalid = !health.config_valid();
                health.set_config_valid(true);
                if was_invalid {
                    notifier.config_recovered().await;
                }
                let changed = **sender.borrow() != config;
                if changed {
                    info!(config_map = %name, images = config.images.len(), "configuration changed; applying it");
                    sender.send_replace(Arc::new(config));
                }
            }
            Err(problems) => {
                metrics.config_errors.set(problems.errors.len() as i64);
                health.set_config_valid(false);
                error!(config_map = %name, problems = problems.errors.len(), report = %problems, "the new configuration is invalid; keeping the last valid one");
                notifier.config_invalid(&problems).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_map_data_overrides_the_environment() {
        let source = ConfigSource {
            env: BTreeMap::from([("IMAGES".into(), "a=x".into()), ("DEPLOYMENT_NAME".into(), "kip".into())]),
            config_map: Some("k8s-image-puller".into()),
        };
        let data = BTreeMap::from([("IMAGES".to_string(), "b=y".to_string())]);
        let merged = source.merged(Some(&data));
        assert_eq!(merged["IMAGES"], "b=y");
        assert_eq!(merged["DEPLOYMENT_NAME"], "kip");
        assert_eq!(source.merged(None)["IMAGES"], "a=x");
    }
}
