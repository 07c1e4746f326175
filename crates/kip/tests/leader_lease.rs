//! The leader Lease against kip-sim over HTTP: a holder renews with one write and no read; a
//! Lease changed or deleted behind its back is read again, and a lease taken over while the
//! holder was away is never renewed from its stale copy.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kip::puller::leader::{Elector, LeaseSettings, Role};
use kip_sim::Sim;
use kube::Api;
use kube::api::{DeleteParams, PostParams};

const LEASE: &str = "kip-test-lease";

fn elector(sim: &Sim, identity: &str, lease_duration: Duration) -> Elector {
    let settings = LeaseSettings {
        name: LEASE.into(),
        namespace: NAMESPACE.into(),
        identity: identity.into(),
        lease_duration,
        renew_every: lease_duration / 3,
    };
    Elector::new(sim.client().expect("client"), settings)
}

/// Lease requests by verb since the last reset.
fn lease_requests(sim: &Sim, verb: &str) -> u64 {
    let stats = sim.stats();
    stats.by_resource.get("leases.coordination.k8s.io").and_then(|verbs| verbs.get(verb)).copied().unwrap_or(0)
}

async fn lease(sim: &Sim) -> Option<Lease> {
    let leases: Api<Lease> = Api::namespaced(sim.client().expect("client"), NAMESPACE);
    leases.get_opt(LEASE).await.expect("read the lease")
}

fn renew_time(lease: &Lease) -> jiff::Timestamp {
    lease.spec.as_ref().and_then(|s| s.renew_time.as_ref()).map(|t| t.0).expect("a renew time")
}

#[tokio::test]
async fn a_holder_renews_with_one_write_and_no_read() {
    let sim = start_sim(0);
    prepare(&sim.client().expect("client")).await;
    let mut a = elector(&sim, "replica-a", Duration::from_secs(15));

    assert_eq!(a.round().await, Role::Leader);
    let first = lease(&sim).await.expect("the lease exists");
    sim.reset_stats();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(a.round().await, Role::Leader);
    }
    assert_eq!(lease_requests(&sim, "update"), 5, "one write per renewal");
    assert_eq!(lease_requests(&sim, "get"), 0, "no read while holding the lease");
    let last = lease(&sim).await.expect("the lease exists");
    assert!(renew_time(&last) > renew_time(&first), "renewals move renewTime on");
    assert_eq!(last.spec.as_ref().unwrap().holder_identity.as_deref(), Some("replica-a"));
}

#[tokio::test]
async fn a_lease_changed_behind_the_holder_is_read_again() {
    let sim = start_sim(0);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let mut a = elector(&sim, "replica-a", Duration::from_secs(15));
    assert_eq!(a.round().await, Role::Leader);

    // Someone hands the lease to another identity, freshly renewed.
    let leases: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    let mut edited = lease(&sim).await.expect("the lease exists");
    let spec = edited.spec.as_mut().unwrap();
    spec.holder_identity = Some("someone-else".into());
    spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
    spec.lease_duration_seconds = Some(60);
    leases.replace(LEASE, &PostParams::default(), &edited).await.expect("edit the lease");

    sim.reset_stats();
    assert_eq!(a.round().await, Role::Follower, "the lease is someone else's now");
    assert_eq!(lease_requests(&sim, "update"), 1, "the renewal over the stale copy, refused");
    assert_eq!(lease_requests(&sim, "get"), 1, "then the lease is read");
    let now = lease(&sim).await.expect("the lease exists");
    assert_eq!(now.spec.as_ref().unwrap().holder_identity.as_deref(), Some("someone-else"));

    // Deleted by hand: the holder creates it again.
    let mut b = elector(&sim, "replica-b", Duration::from_secs(15));
    leases.delete(LEASE, &DeleteParams::default()).await.expect("delete the lease");
    assert_eq!(b.round().await, Role::Leader);
    assert!(lease(&sim).await.is_some());
    leases.delete(LEASE, &DeleteParams::default()).await.expect("delete the lease");
    assert_eq!(b.round().await, Role::Leader, "a holder whose lease is deleted creates it again");
    let recreated = lease(&sim).await.expect("the lease exists again");
    assert_eq!(recreated.spec.as_ref().unwrap().holder_identity.as_deref(), Some("replica-b"));
}

#[tokio::test]
async fn a_lease_taken_over_is_not_renewed_from_a_stale_copy() {
    let sim = start_sim(0);
    prepare(&sim.client().expect("client")).await;
    let mut a = elector(&sim, "replica-a", Duration::from_secs(1));
    let mut b = elector(&sim, "replica-b", Duration::from_secs(1));
    assert_eq!(a.round().await, Role::Leader);
    assert_eq!(b.round().await, Role::Follower, "the lease is held and fresh");

    // A stops renewing (paused, partitioned) until the lease expires; B takes it over.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(b.round().await, Role::Leader);

    // A comes back with its copy of the lease: the write is refused and A learns it lost.
    assert_eq!(a.round().await, Role::Follower);
    let now = lease(&sim).await.expect("the lease exists");
    assert_eq!(now.spec.as_ref().unwrap().holder_identity.as_deref(), Some("replica-b"));
    assert_eq!(now.spec.as_ref().unwrap().lease_transitions, Some(1));
    assert_eq!(b.round().await, Role::Leader, "B keeps renewing");
}
