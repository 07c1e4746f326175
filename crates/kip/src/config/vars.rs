//! The variables kip reads, their defaults, and the raw `(key, value)` source they come from
//! (the environment, a ConfigMap's data, an operator's spec), with the near-miss check that
//! turns a mistyped name into a warning instead of a silently ignored setting.

use std::collections::BTreeMap;

use super::problem::Problem;

pub const IMAGES: &str = "IMAGES";
pub const CACHING_INTERVAL_HOURS: &str = "CACHING_INTERVAL_HOURS";
pub const DAEMONSET_NAME: &str = "DAEMONSET_NAME";
pub const DAEMONSET_ANNOTATIONS: &str = "DAEMONSET_ANNOTATIONS";
pub const NAMESPACE: &str = "NAMESPACE";
pub const CACHING_MEMORY_REQUEST: &str = "CACHING_MEMORY_REQUEST";
pub const CACHING_MEMORY_LIMIT: &str = "CACHING_MEMORY_LIMIT";
pub const CACHING_CPU_REQUEST: &str = "CACHING_CPU_REQUEST";
pub const CACHING_CPU_LIMIT: &str = "CACHING_CPU_LIMIT";
pub const NODE_SELECTOR: &str = "NODE_SELECTOR";
pub const IMAGE_PULL_SECRETS: &str = "IMAGE_PULL_SECRETS";
pub const AFFINITY: &str = "AFFINITY";
pub const TOLERATIONS: &str = "TOLERATIONS";
pub const KIP_IMAGE: &str = "KIP_IMAGE";
pub const DEPLOYMENT_NAME: &str = "DEPLOYMENT_NAME";
pub const KIP_MAX_UNAVAILABLE: &str = "KIP_MAX_UNAVAILABLE";
pub const KIP_KEEP_DAEMONSET_ON_EXIT: &str = "KIP_KEEP_DAEMONSET_ON_EXIT";
pub const CACHING_MODE: &str = "CACHING_MODE";
pub const KIP_REFRESH_POLICY: &str = "KIP_REFRESH_POLICY";
pub const KIP_PIN_DIGESTS: &str = "KIP_PIN_DIGESTS";
pub const KIP_INSECURE_REGISTRIES: &str = "KIP_INSECURE_REGISTRIES";
pub const KIP_WARM_NODE_LABEL: &str = "KIP_WARM_NODE_LABEL";
pub const KIP_STARTUP_TAINT: &str = "KIP_STARTUP_TAINT";

/// Every variable kip reads, with its default (`None`: required).
pub const VARIABLES: [(&str, Option<&str>); 23] = [
    (IMAGES, None),
    (CACHING_INTERVAL_HOURS, Some("1")),
    (DAEMONSET_NAME, Some("kubernetes-image-puller")),
    (DAEMONSET_ANNOTATIONS, Some("{}")),
    (NAMESPACE, Some("k8s-image-puller")),
    (CACHING_MEMORY_REQUEST, Some("10Mi")),
    (CACHING_MEMORY_LIMIT, Some("20Mi")),
    (CACHING_CPU_REQUEST, Some(".05")),
    (CACHING_CPU_LIMIT, Some(".2")),
    (NODE_SELECTOR, Some("{}")),
    (IMAGE_PULL_SECRETS, Some("")),
    (AFFINITY, Some("{}")),
    (TOLERATIONS, Some("[]")),
    // The Go puller's default, kept so that a configuration written for it behaves the same.
    (KIP_IMAGE, Some("quay.io/eclipse/kubernetes-image-puller:next")),
    (DEPLOYMENT_NAME, None),
    (KIP_MAX_UNAVAILABLE, Some("10%")),
    (KIP_KEEP_DAEMONSET_ON_EXIT, Some("false")),
    (CACHING_MODE, Some("containers")),
    (KIP_REFRESH_POLICY, Some("on-change")),
    (KIP_PIN_DIGESTS, Some("false")),
    (KIP_INSECURE_REGISTRIES, Some("")),
    (KIP_WARM_NODE_LABEL, Some("")),
    (KIP_STARTUP_TAINT, Some("")),
];

/// The default of a variable (`""` for the required ones, which have none).
pub fn default_of(name: &str) -> &'static str {
    VARIABLES.iter().find(|(known, _)| *known == name).and_then(|(_, default)| *default).unwrap_or("")
}

/// The raw source, last value winning as in an environment built from several `envFrom`s.
#[derive(Debug, Default)]
pub(crate) struct Vars {
    values: BTreeMap<String, String>,
}

impl Vars {
    pub(crate) fn new<I, K, V>(source: I) -> Vars
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let values = source.into_iter().map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string())).collect();
        Vars { values }
    }

    /// The value as written, if the variable is present at all.
    pub(crate) fn raw(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The trimmed value, or the default when the variable is unset or blank: ConfigMaps built
    /// from templates often carry `""` for "not configured".
    pub(crate) fn get_or_default(&self, name: &str) -> &str {
        match self.raw(name).map(str::trim) {
            Some(value) if !value.is_empty() => value,
            _ => default_of(name),
        }
    }

    /// Warnings for unknown variables whose names are so close to one of ours that they are
    /// probably a typo (`CACHING_INTERVAL_HOUR`, `IMAGE`, `namespace`, `cachingIntervalHours`).
    pub(crate) fn near_misses(&self) -> Vec<Problem> {
        self.values
            .keys()
            .filter_map(|name| near_miss(name).map(|known| (name, known)))
            .map(|(name, known)| {
                Problem::new(name.as_str(), format!("kip does not read this variable; did you mean {known}?"))
                    .accepted(format!("{known} (variable names are case-sensitive)"))
            })
            .collect()
    }
}

/// Our variable that `name` most likely means, if `name` is not one of ours.
pub(crate) fn near_miss(name: &str) -> Option<&'static str> {
    if VARIABLES.iter().any(|(known, _)| *known == name) {
        return None;
    }
    let normalized = normalize(name);
    if normalized.is_empty() {
        return None;
    }
    VARIABLES
        .iter()
        .map(|(known, _)| (*known, strsim::damerau_levenshtein(&normalized, &normalize(known))))
        // Longer names tolerate more edits; a one-letter slip in a short name is still caught.
        .filter(|(known, distance)| *distance <= (known.len() / 8).clamp(1, 2))
        .min_by_key(|(_, distance)| *distance)
        .map(|(known, _)| known)
}

/// Upper case without separators, so `caching-interval-hours` and `cachingIntervalHours` meet
/// `CACHING_INTERVAL_HOURS`.
fn normalize(name: &str) -> String {
    name.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}
