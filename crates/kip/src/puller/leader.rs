//! Leader election with a `coordination.k8s.io/v1` Lease, so that of several kip replicas only
//! one writes. The holder renews the lease every `renew_every`; another replica takes over
//! once the lease has not been renewed for `lease_duration`. A leader that cannot renew within
//! `lease_duration` steps down on its own, before anyone else can take over, so two replicas
//! never act at once. While it holds the lease, a renewal is one write (a compare-and-swap on
//! the resourceVersion of the previous one); the Lease is read first only to acquire it, or
//! when that write finds it changed.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use tracing::{debug, info, warn};

#[derive(Clone, Debug)]
pub struct LeaseSettings {
    pub name: String,
    pub namespace: String,
    /// Who we are: the pod name when running in a cluster.
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_every: Duration,
}

/// What one election round concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower,
}

pub struct Elector {
    api: Api<Lease>,
    settings: LeaseSettings,
    /// When we last renewed successfully as leader (monotonic clock).
    last_renewal: Option<Instant>,
    /// The Lease as our last successful write left it, while we hold it: the next renewal
    /// writes it back with that resourceVersion and needs no read first.
    held: Option<Lease>,
}

impl Elector {
    pub fn new(client: kube::Client, settings: LeaseSettings) -> Self {
        let api = Api::namespaced(client, &settings.namespace);
        Elector { api, settings, last_renewal: None, held: None }
    }

    pub fn settings(&self) -> &LeaseSettings {
        &self.settings
    }

    /// One round: acquire, renew, or observe. Errors count as "not renewed": a leader whose
    /// renewals fail for a whole lease duration steps down.
    pub async fn round(&mut self) -> Role {
        match self.try_acquire_or_renew().await {
            Ok(true) => {
                self.last_renewal = Some(Instant::now());
                Role::Leader
            }
            Ok(false) => {
                self.last_renewal = None;
                self.held = None;
                Role::Follower
            }
            Err(err) => {
                self.held = None;
                warn!(error = %err, lease = %self.settings.name, "could not renew or acquire the leader lease");
                match self.last_renewal {
                    Some(at)
                        if at.elapsed() < self.settings.lease_duration.saturating_sub(self.settings.renew_every) =>
                    {
                        Role::Leader
                    }
                    _ => {
                        self.last_renewal = None;
                        Role::Follower
                    }
                }
            }
        }
    }

    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let duration_secs = i32::try_from(self.settings.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
        if let Some(renewed) = self.renew_held(now, duration_secs).await? {
            self.held = Some(renewed);
            return Ok(true);
        }
        let me = self.settings.identity.as_str();
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(self.settings.name.clone()), ..Default::default() },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me.to_string()),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    info!(lease = %self.settings.name, identity = me, "acquired the leader lease");
                    self.held = Some(created);
                    Ok(true)
                }
                // Someone else created it first.
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(err) => Err(err),
            };
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let held_by_me = holder == me;
        if !held_by_me && !holder.is_empty() && !expired(spec, now) {
            debug!(holder, "the leader lease is held by another replica");
            return Ok(false);
        }
        if !held_by_me {
            spec.holder_identity = Some(me.to_string());
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.renew_time = Some(MicroTime(now));
        spec.lease_duration_seconds = Some(duration_secs);
        // The resourceVersion from our read makes this a compare-and-swap.
        match self.api.replace(&self.settings.name, &PostParams::default(), &lease).await {
            Ok(replaced) => {
                if !held_by_me {
                    info!(lease = %self.settings.name, identity = me, previous = holder, "acquired the leader lease");
                }
                self.held = Some(replaced);
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The renewal of a lease we hold, written over our last write without reading it first:
    /// the resourceVersion of that write makes it a compare-and-swap, so it succeeds only if no
    /// one has touched the Lease since. `None` when we hold no lease or someone did touch it
    /// (409): the caller then reads the Lease and decides from what it finds.
    async fn renew_held(&mut self, now: Timestamp, duration_secs: i32) -> Result<Option<Lease>, kube::Error> {
        let Some(mut lease) = self.held.take() else { return Ok(None) };
        let spec = lease.spec.get_or_insert_with(Default::default);
        spec.renew_time = Some(MicroTime(now));
        spec.lease_duration_seconds = Some(duration_secs);
        match self.api.replace(&self.settings.name, &PostParams::default(), &lease).await {
            Ok(renewed) => Ok(Some(renewed)),
            Err(kube::Error::Api(status)) if status.code == 409 || status.code == 404 => {
                debug!(lease = %self.settings.name, code = status.code, "the leader lease changed since our renewal; reading it");
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// Gives the lease up so that a standby replica takes over at once (on shutdown).
    pub async fn release(&mut self) {
        self.held = None;
        if self.last_renewal.take().is_none() {
            return;
        }
        let Ok(Some(mut lease)) = self.api.get_opt(&self.settings.name).await else { return };
        let Some(spec) = lease.spec.as_mut() else { return };
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        match self.api.replace(&self.settings.name, &PostParams::default(), &lease).await {
            Ok(_) => info!(lease = %self.settings.name, "released the leader lease"),
            Err(err) => warn!(error = %err, "could not release the leader lease; it will expire"),
        }
    }
}

fn expired(spec: &LeaseSpec, now: Timestamp) -> bool {
    let Some(MicroTime(renewed)) = spec.renew_time else { return true };
    let duration = jiff::SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(0)));
    renewed.saturating_add(duration).map(|until| until <= now).unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_expiry() {
        let now: Timestamp = "2026-01-01T10:00:30Z".parse().expect("ts");
        let spec = |renewed: &str, secs: i32| LeaseSpec {
            renew_time: Some(MicroTime(renewed.parse().expect("ts"))),
            lease_duration_seconds: Some(secs),
            ..Default::default()
        };
        assert!(!expired(&spec("2026-01-01T10:00:20Z", 15), now));
        assert!(expired(&spec("2026-01-01T10:00:10Z", 15), now));
        assert!(expired(&LeaseSpec::default(), now), "a lease never renewed is free");
    }
}
