//! The puller's configuration: the environment variables of the Go image puller (normally set
//! from a ConfigMap through `envFrom`), parsed and validated up front into one typed [`Config`].
//! Every problem is collected, so a user sees them all at once.
//!
//! The same [`Config::from_vars`] serves every source of `(key, value)` pairs: the process
//! environment, a ConfigMap's data, the variables an operator derives from its custom resource.

mod affinity;
mod cache;
mod images;
mod json;
mod modes;
mod problem;
mod reference;
mod report;
mod scalars;
mod scheduling;
pub mod vars;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Affinity, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub use cache::RefreshPolicy;
pub use problem::{ConfigErrors, Location, Problem};
pub use reference::{ImageReference, ReferenceError};
pub use report::{Reservation, reservation_per_node};
use vars::*;

/// One image to keep cached: the container name and the image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedImage {
    /// Container name in the DaemonSet (a DNS-1123 label).
    pub name: String,
    /// Image reference as written by the user (`registry/repo:tag` or `...@sha256:...`).
    pub image: String,
}

/// How images are kept on a node (see `docs/caching-modes.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CachingMode {
    /// One sleeping container per image: the Go version's shape.
    #[default]
    Containers,
    /// One init container per image, exiting at once, and one small container keeping the pod.
    Init,
    /// One small container mounting every image as a Kubernetes image volume.
    ImageVolume,
}

impl CachingMode {
    /// Every mode, as `CACHING_MODE` accepts them (adding a mode: a variant, its name here).
    pub const ALL: [CachingMode; 3] = [CachingMode::Containers, CachingMode::Init, CachingMode::ImageVolume];

    pub fn as_str(self) -> &'static str {
        match self {
            CachingMode::Containers => "containers",
            CachingMode::Init => "init",
            CachingMode::ImageVolume => "image-volume",
        }
    }
}

/// The validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `IMAGES`, in the order given.
    pub images: Vec<CachedImage>,
    /// `CACHING_INTERVAL_HOURS`, at least 1.
    pub caching_interval_hours: u32,
    /// `DAEMONSET_NAME`.
    pub daemonset_name: String,
    /// `DAEMONSET_ANNOTATIONS`.
    pub daemonset_annotations: BTreeMap<String, String>,
    /// `NAMESPACE`.
    pub namespace: String,
    /// `CACHING_MEMORY_REQUEST`, `CACHING_MEMORY_LIMIT`, `CACHING_CPU_REQUEST`, `CACHING_CPU_LIMIT`.
    pub caching_memory_request: Quantity,
    pub caching_memory_limit: Quantity,
    pub caching_cpu_request: Quantity,
    pub caching_cpu_limit: Quantity,
    /// `NODE_SELECTOR`.
    pub node_selector: BTreeMap<String, String>,
    /// `IMAGE_PULL_SECRETS`.
    pub image_pull_secrets: Vec<String>,
    /// `AFFINITY` (`None` for `{}`).
    pub affinity: Option<Affinity>,
    /// `TOLERATIONS`.
    pub tolerations: Vec<Toleration>,
    /// `KIP_IMAGE`: the image holding `kip-sleep` (kip's own image).
    pub kip_image: String,
    /// `DEPLOYMENT_NAME`: the puller's own Deployment, owner of the DaemonSet.
    pub deployment_name: String,
    /// `KIP_MAX_UNAVAILABLE`: the DaemonSet's rolling-update bound (a count or a percentage).
    pub max_unavailable: IntOrString,
    /// `KIP_KEEP_DAEMONSET_ON_EXIT`: leave the DaemonSet in place when kip stops.
    pub keep_daemonset_on_exit: bool,
    /// `CACHING_MODE`.
    pub caching_mode: CachingMode,
    /// `KIP_REFRESH_POLICY`.
    pub refresh_policy: RefreshPolicy,
    /// `KIP_PIN_DIGESTS`: the caching containers name their images by the resolved digest.
    pub pin_digests: bool,
    /// `KIP_INSECURE_REGISTRIES`: registries (`host[:port]`) reached over plain HTTP.
    pub insecure_registries: BTreeSet<String>,
    /// `KIP_WARM_NODE_LABEL`: set to `true` on nodes holding every image (`None`: off).
    pub warm_node_label: Option<String>,
    /// `KIP_STARTUP_TAINT`: removed from nodes once they hold every image (`None`: off).
    pub startup_taint: Option<String>,
    /// Not errors, but worth a look: near-miss variable names, units that look forgotten.
    pub warnings: Vec<Problem>,
}

impl Config {
    /// Parses and validates a configuration from `(name, value)` pairs; unknown names are
    /// ignored (an environment holds many), near misses of ours become warnings.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Config, ConfigErrors>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        build(&vars::Vars::new(vars), Vec::new())
    }

    /// [`Config::from_vars`] over the process environment.
    pub fn from_env() -> Result<Config, ConfigErrors> {
        let mut errors = Vec::new();
        let mut pairs = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            match value.into_string() {
                Ok(value) => pairs.push((name.to_string(), value)),
                Err(_) if VARIABLES.iter().any(|(known, _)| *known == name) => {
                    errors.push(Problem::new(name, "is not valid UTF-8"));
                }
                Err(_) => {}
            }
        }
        build(&vars::Vars::new(pairs), errors)
    }
}

/// The value, or `None` after pushing the refusal as a problem of `variable`.
fn kept<T, A: Into<String>>(variable: &str, result: Result<T, (String, A)>, errors: &mut Vec<Problem>) -> Option<T> {
    result.map_err(|(message, accepted)| errors.push(Problem::new(variable, message).accepted(accepted))).ok()
}

/// Requires a variable without default; `None` after pushing the problem.
fn required<'a>(vars: &'a vars::Vars, name: &str, accepted: &str, errors: &mut Vec<Problem>) -> Option<&'a str> {
    match vars.raw(name) {
        // Present but unreadable (not UTF-8) is already reported.
        None if errors.iter().any(|p| p.variable == name) => {}
        None => errors.push(Problem::new(name, "is not set").accepted(accepted)),
        Some(raw) if raw.trim().is_empty() => errors.push(Problem::new(name, "is empty").accepted(accepted)),
        Some(raw) => return Some(raw),
    }
    None
}

fn build(vars: &vars::Vars, mut errors: Vec<Problem>) -> Result<Config, ConfigErrors> {
    let mut warnings = vars.near_misses();
    let images = required(vars, IMAGES, "name=image entries separated by ';'", &mut errors)
        .map(|raw| images::parse_images(raw, &mut errors, &mut warnings))
        .unwrap_or_default();
    let deployment_name = required(
        vars,
        DEPLOYMENT_NAME,
        "the name of the Deployment running kip, which owns the DaemonSet",
        &mut errors,
    )
    .map(str::trim)
    .unwrap_or_default()
    .to_string();
    if !deployment_name.is_empty() {
        errors.extend(scalars::name(
            DEPLOYMENT_NAME,
            &deployment_name,
            kip_rules::dns1123_subdomain,
            "Deployment name",
        ));
    }

    let caching_interval_hours =
        kept(CACHING_INTERVAL_HOURS, scalars::interval_hours(vars.get_or_default(CACHING_INTERVAL_HOURS)), &mut errors);
    let max_unavailable =
        kept(KIP_MAX_UNAVAILABLE, scalars::max_unavailable(vars.get_or_default(KIP_MAX_UNAVAILABLE)), &mut errors);
    let keep_daemonset_on_exit =
        kept(KIP_KEEP_DAEMONSET_ON_EXIT, scalars::switch(vars.get_or_default(KIP_KEEP_DAEMONSET_ON_EXIT)), &mut errors);
    let caching_mode = kept(CACHING_MODE, scalars::caching_mode(vars.get_or_default(CACHING_MODE)), &mut errors);
    let refresh_policy =
        kept(KIP_REFRESH_POLICY, cache::refresh_policy(vars.get_or_default(KIP_REFRESH_POLICY)), &mut errors);
    let pin_digests = kept(KIP_PIN_DIGESTS, scalars::switch(vars.get_or_default(KIP_PIN_DIGESTS)), &mut errors);
    let insecure_registries =
        cache::insecure_registries(KIP_INSECURE_REGISTRIES, vars.get_or_default(KIP_INSECURE_REGISTRIES), &mut errors);
    let warm_node_label =
        cache::node_key(KIP_WARM_NODE_LABEL, vars.get_or_default(KIP_WARM_NODE_LABEL), "label key", &mut errors);
    let startup_taint =
        cache::node_key(KIP_STARTUP_TAINT, vars.get_or_default(KIP_STARTUP_TAINT), "taint key", &mut errors);

    let mut resources = BTreeMap::new();
    for (name, memory) in [
        (CACHING_MEMORY_REQUEST, true),
        (CACHING_MEMORY_LIMIT, true),
        (CACHING_CPU_REQUEST, false),
        (CACHING_CPU_LIMIT, false),
    ] {
        let text = vars.get_or_default(name);
        if let Some((quantity, warning)) = kept(name, scalars::quantity(text, memory), &mut errors) {
            warnings.extend(warning.map(|message| Problem::new(name, message)));
            resources.insert(name, (text, quantity));
        }
    }
    for (request, limit) in [(CACHING_MEMORY_REQUEST, CACHING_MEMORY_LIMIT), (CACHING_CPU_REQUEST, CACHING_CPU_LIMIT)] {
        if let (Some(r), Some(l)) = (resources.get(request), resources.get(limit)) {
            errors.extend(scalars::request_within_limit(request, *r, limit, *l));
        }
    }
    let quantity = |name: &str| Quantity(vars.get_or_default(name).to_string());

    let namespace = vars.get_or_default(NAMESPACE).to_string();
    errors.extend(scalars::name(NAMESPACE, &namespace, kip_rules::dns1123_label, "namespace name"));
    let daemonset_name = vars.get_or_default(DAEMONSET_NAME).to_string();
    errors.extend(scalars::name(DAEMONSET_NAME, &daemonset_name, kip_rules::dns1123_subdomain, "DaemonSet name"));
    let kip_image = vars.get_or_default(KIP_IMAGE).to_string();
    if let Err(error) = ImageReference::parse(&kip_image) {
        errors.push(Problem::new(KIP_IMAGE, format!("{kip_image:?} {error}")).accepted(reference::REFERENCE_FORM));
    }
    let image_pull_secrets = pull_secrets(vars.get_or_default(IMAGE_PULL_SECRETS), &mut errors);
    if let Some(mode) = caching_mode {
        modes::check(mode, &images, &mut errors, &mut warnings);
    }

    let node_selector = scheduling::node_selector(vars.get_or_default(NODE_SELECTOR), &mut errors);
    let daemonset_annotations = scheduling::annotations(vars.get_or_default(DAEMONSET_ANNOTATIONS), &mut errors);
    let affinity = scheduling::affinity(vars.get_or_default(AFFINITY), &mut errors);
    let tolerations = scheduling::tolerations(vars.get_or_default(TOLERATIONS), &mut errors);

    match (caching_interval_hours, max_unavailable, keep_daemonset_on_exit, caching_mode, refresh_policy, pin_digests) {
        (
            Some(caching_interval_hours),
            Some(max_unavailable),
            Some(keep_daemonset_on_exit),
            Some(caching_mode),
            Some(refresh_policy),
            Some(pin_digests),
        ) if errors.is_empty() => Ok(Config {
            images,
            caching_interval_hours,
            daemonset_name,
            daemonset_annotations,
            namespace,
            caching_memory_request: quantity(CACHING_MEMORY_REQUEST),
            caching_memory_limit: quantity(CACHING_MEMORY_LIMIT),
            caching_cpu_request: quantity(CACHING_CPU_REQUEST),
            caching_cpu_limit: quantity(CACHING_CPU_LIMIT),
            node_selector,
            image_pull_secrets,
            affinity,
            tolerations,
            kip_image,
            deployment_name,
            max_unavailable,
            keep_daemonset_on_exit,
            caching_mode,
            refresh_policy,
            pin_digests,
            insecure_registries,
            warm_node_label,
            startup_taint,
            warnings,
        }),
        _ => Err(ConfigErrors { errors, warnings }),
    }
}

/// `IMAGE_PULL_SECRETS`: `secret;secret`, names of Secrets in the DaemonSet's namespace.
fn pull_secrets(raw: &str, errors: &mut Vec<Problem>) -> Vec<String> {
    let names: Vec<String> = raw.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    for (index, name) in names.iter().enumerate() {
        for rule in kip_rules::dns1123_subdomain(name) {
            errors.push(
                Problem::new(IMAGE_PULL_SECRETS, format!("is not a valid Secret name: {rule}"))
                    .entry(index + 1, name)
                    .accepted("Secret names separated by ';', e.g. quay-pull;registry-pull"),
            );
        }
    }
    names
}
