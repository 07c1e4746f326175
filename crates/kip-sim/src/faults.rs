//! Fault injection for the API server: 500s, 429s with Retry-After, added latency and 409
//! Conflicts on writes, each either for the next N matching requests (deterministic, for tests)
//! or for a fraction of them drawn from a seeded generator (repeatable soak runs); plus dropping
//! every open watch and restarting the API server. Faults never apply to `/_sim/*`.

use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};

use crate::error::ApiError;
use crate::server::stats::Verb;

/// What happens to a request a rule matches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Fault {
    /// 500 InternalError.
    InternalError,
    /// 429 TooManyRequests with `Retry-After`.
    #[serde(rename_all = "camelCase")]
    TooManyRequests { retry_after_seconds: u32 },
    /// The request is served, this much later.
    Latency { millis: u64 },
    /// 409 Conflict, as after a concurrent write; writes only.
    Conflict,
}

/// One fault and the requests it applies to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    #[serde(flatten)]
    pub fault: Fault,
    /// Only this verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`); any when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    /// Only this resource, as a plural (`pods`) or group-resource (`daemonsets.apps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The next `count` matching requests fail, then the rule is spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Without `count`: this fraction (0 to 1) of matching requests fail, drawn from the seeded
    /// generator. Neither set: every matching request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

impl FaultRule {
    /// The next `count` requests fail with `fault`.
    pub fn next(count: u64, fault: Fault) -> Self {
        FaultRule { fault, verb: None, resource: None, count: Some(count), rate: None }
    }

    /// A fraction of requests fail with `fault`, for as long as the rule is installed.
    pub fn rate(rate: f64, fault: Fault) -> Self {
        FaultRule { fault, verb: None, resource: None, count: None, rate: Some(rate) }
    }

    pub fn for_verb(mut self, verb: &str) -> Self {
        self.verb = Some(verb.to_string());
        self
    }

    pub fn for_resource(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_string());
        self
    }

    fn matches(&self, verb: Verb, group: &str, plural: &str) -> bool {
        if matches!(self.fault, Fault::Conflict) && !verb.is_write() {
            return false;
        }
        let verb_ok = self.verb.as_deref().is_none_or(|v| v == verb.as_str());
        let resource_ok = self.resource.as_deref().is_none_or(|r| {
            r == plural
                || (!group.is_empty() && r.strip_prefix(plural).and_then(|g| g.strip_prefix('.')) == Some(group))
        });
        verb_ok && resource_ok && self.count != Some(0)
    }
}

/// The installed rules and the generator seed, as `/_sim/faults` shows and accepts them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultConfig {
    #[serde(default)]
    pub rules: Vec<FaultRule>,
    #[serde(default)]
    pub seed: u64,
}

/// What the faults decided for one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    pub latency: Duration,
    pub fail: Option<Fault>,
}

/// SplitMix64: a small, well-distributed generator, so a seed replays the same faults.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_fraction(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct State {
    config: FaultConfig,
    rng: SplitMix64,
}

/// The fault switchboard shared by the API server, the handle and `/_sim/faults`.
pub struct Faults {
    state: Mutex<State>,
    watch_epoch: watch::Sender<u64>,
    restart: Notify,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            state: Mutex::new(State { config: FaultConfig::default(), rng: SplitMix64(0) }),
            watch_epoch: watch::channel(0).0,
            restart: Notify::new(),
        }
    }
}

impl Faults {
    pub fn add(&self, rule: FaultRule) {
        self.state.lock().config.rules.push(rule);
    }

    /// Replaces every rule and reseeds the generator.
    pub fn set(&self, config: FaultConfig) {
        let mut state = self.state.lock();
        state.rng = SplitMix64(config.seed);
        state.config = config;
    }

    pub fn config(&self) -> FaultConfig {
        self.state.lock().config.clone()
    }

    pub fn clear(&self) {
        self.state.lock().config.rules.clear();
    }

    /// Ends every open watch now (clients see their stream close and must resume).
    pub fn drop_watches(&self) {
        self.watch_epoch.send_modify(|epoch| *epoch += 1);
    }

    /// Changes whenever watches are dropped; each watch holds one.
    pub fn watch_drops(&self) -> watch::Receiver<u64> {
        self.watch_epoch.subscribe()
    }

    /// Asks the API server to restart (stop listening, drop connections, listen again).
    pub fn request_restart(&self) {
        self.restart.notify_one();
    }

    pub async fn restart_requested(&self) {
        self.restart.notified().await;
    }

    /// Decides the fate of one API request.
    pub fn decide(&self, verb: Verb, group: &str, plural: &str) -> Decision {
        let mut state = self.state.lock();
        let State { config, rng } = &mut *state;
        let mut decision = Decision::default();
        for rule in config.rules.iter_mut() {
            if !rule.matches(verb, group, plural) {
                continue;
            }
            if matches!(rule.fault, Fault::Latency { .. }) || decision.fail.is_none() {
                let fires = match (rule.count, rule.rate) {
                    (Some(_), _) => true,
                    (None, Some(rate)) => rng.next_fraction() < rate,
                    (None, None) => true,
                };
                if !fires {
                    continue;
                }
                if let Some(count) = rule.count.as_mut() {
                    *count -= 1;
                }
                match rule.fault {
                    Fault::Latency { millis } => decision.latency += Duration::from_millis(millis),
                    ref fault => decision.fail = Some(fault.clone()),
                }
            }
        }
        config.rules.retain(|r| r.count != Some(0));
        decision
    }
}

/// The error a failing fault answers with.
pub fn fault_error(fault: &Fault, group: &str, plural: &str, name: &str) -> Option<ApiError> {
    match fault {
        Fault::InternalError => Some(ApiError::internal(
            "an error on the server (\"injected fault\") has prevented the request from succeeding",
        )),
        Fault::TooManyRequests { retry_after_seconds } => Some(ApiError::too_many_requests(*retry_after_seconds)),
        Fault::Conflict => Some(ApiError::stale(group, plural, name)),
        Fault::Latency { .. } => None,
    }
}

#[cfg(test)]
mod tests;
