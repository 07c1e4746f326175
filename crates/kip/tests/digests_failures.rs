//! A registry that refuses or fails causes no churn: no rollout, the recorded digest stays, a
//! Warning event names the image and the error category, `kip_registry_errors_total` counts
//! it, and kip recovers by itself once the registry heals. Pull secrets unlock private images.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use k8s_openapi::api::core::v1::Secret;
use kip_sim::Sim;
use kip_sim::cluster::catalog::{ImageCatalog, REGISTRY_PASSWORD, REGISTRY_USERNAME, RegistryFault};
use kip_sim::cluster::node::NodeSpec;
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);
const MIB: u64 = 1024 * 1024;

struct Setup {
    sim: Sim,
    client: Client,
    puller: Puller,
    theia: String,
    first: BTreeMap<String, String>,
}

impl Setup {
    /// A rolled-out DaemonSet with the first content of both images; `before` runs ahead of kip.
    async fn start(extra: &[(&str, &str)], before: impl FnOnce(&Sim, &Client, &str)) -> Setup {
        let sim = start_cluster(vec![NodeSpec::new("node-1")], 20.0);
        let host = sim.registry_host();
        let theia = format!("{host}/eclipse/che-theia:next");
        let java = format!("{host}/eclipse/che-java11-maven:next");
        let catalog = sim.cluster().expect("a cluster").catalog();
        let first = BTreeMap::from([
            ("java".to_string(), catalog.publish_content(&java, "v1", MIB)),
            ("theia".to_string(), catalog.publish_content(&theia, "v1", MIB)),
        ]);
        let client = sim.client().expect("client");
        prepare(&client).await;
        before(&sim, &client, &theia);
        let mut options = options();
        options.refresh_interval = Some(Duration::from_millis(300));
        let puller = Puller::start(&client, vars_on(&sim, extra), options);
        Setup { sim, client, puller, theia, first }
    }

    fn catalog(&self) -> &ImageCatalog {
        self.sim.cluster().expect("a cluster").catalog()
    }

    async fn recorded(&self, digests: &BTreeMap<String, String>) -> k8s_openapi::api::apps::v1::DaemonSet {
        eventually("the digests recorded", WAIT, || async {
            daemonset(&self.client).await.filter(|ds| recorded_digests(ds) == *digests)
        })
        .await
    }

    /// Waits until the registry refused `count` more requests.
    async fn refusals(&self, count: u64) {
        let before = self.catalog().registry_requests().refused;
        eventually("more refused lookups", WAIT, || async {
            (self.catalog().registry_requests().refused >= before + count).then_some(())
        })
        .await;
    }

    async fn errors(&self, category: &str) -> f64 {
        metric_series(&self.puller, &format!("kip_registry_errors_total{{category=\"{category}\"}}"))
            .await
            .unwrap_or(0.0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_image_causes_no_rollout_until_access_is_back() {
    let setup = Setup::start(&[], |_, _, _| {}).await;
    let before = setup.recorded(&setup.first).await;

    // New content, but the registry now refuses the image.
    let v2 = setup.catalog().publish_content(&setup.theia, "v2", MIB);
    setup.catalog().set_image_unauthorized(&setup.theia);
    let warning = eventually("a Warning event about theia", WAIT, || async {
        events(&setup.client, "DigestLookupFailed").await.into_iter().next()
    })
    .await;
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    let note = warning.note.clone().unwrap_or_default();
    assert!(note.contains("image theia") && note.contains(&setup.theia), "names the image: {note}");
    assert!(note.contains("unauthorized"), "names the category: {note}");
    assert!(!note.contains(REGISTRY_PASSWORD), "never a credential: {note}");
    setup.refusals(3).await;
    assert!(setup.errors("unauthorized").await >= 3.0);
    let during = daemonset(&setup.client).await.expect("the DaemonSet");
    assert_eq!(recorded_digests(&during), setup.first, "the recorded digest stays");
    assert_eq!(during.metadata.generation, before.metadata.generation, "no rollout");
    assert_eq!(events(&setup.client, "DigestLookupFailed").await.len(), 1, "one event for the episode");

    // Access is back: the new content rolls out.
    setup.catalog().clear_image_fault(&setup.theia);
    let mut second = setup.first.clone();
    second.insert("theia".into(), v2);
    let after = setup.recorded(&second).await;
    assert_eq!(after.metadata.generation, before.metadata.generation.map(|g| g + 1));
    eventually("the recovery event", WAIT, || async {
        events(&setup.client, "DigestLookupRecovered").await.into_iter().next()
    })
    .await;
    setup.puller.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_registry_is_retried_and_causes_no_rollout() {
    let setup = Setup::start(&[], |_, _, _| {}).await;
    let before = setup.recorded(&setup.first).await;
    let v2 = setup.catalog().publish_content(&setup.theia, "v2", MIB);

    setup.catalog().set_registry_fault(Some(RegistryFault::Unavailable));
    setup.refusals(4).await;
    assert!(setup.errors("server_error").await >= 2.0);
    let warnings = events(&setup.client, "DigestLookupFailed").await;
    assert!(warnings.iter().any(|e| e.note.as_deref().is_some_and(|n| n.contains("server_error"))), "{warnings:?}");

    setup.catalog().set_registry_fault(Some(RegistryFault::RateLimited { retry_after: Duration::from_secs(1) }));
    setup.refusals(2).await;
    assert!(setup.errors("rate_limited").await >= 1.0);
    let during = daemonset(&setup.client).await.expect("the DaemonSet");
    assert_eq!(recorded_digests(&during), setup.first);
    assert_eq!(during.metadata.generation, before.metadata.generation, "no rollout while failing");

    setup.catalog().set_registry_fault(None);
    let mut second = setup.first.clone();
    second.insert("theia".into(), v2);
    let after = setup.recorded(&second).await;
    assert_eq!(after.metadata.generation, before.metadata.generation.map(|g| g + 1));
    setup.puller.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_secrets_unlock_private_images() {
    let private = |sim: &Sim, _: &Client, theia: &str| {
        sim.cluster().expect("a cluster").catalog().set_image_unauthorized(theia);
    };
    let setup = Setup::start(&[("IMAGE_PULL_SECRETS", "regcred")], private).await;
    // Without the secret (not created yet), theia cannot be resolved.
    eventually("the refusal", WAIT, || async { events(&setup.client, "DigestLookupFailed").await.into_iter().next() })
        .await;
    assert!(!recorded_digests(&daemonset(&setup.client).await.expect("the DaemonSet")).contains_key("theia"));

    let auth = base64_encode(&format!("{REGISTRY_USERNAME}:{REGISTRY_PASSWORD}"));
    let config = json!({"auths": {setup.sim.registry_host(): {"auth": auth}}}).to_string();
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "regcred"},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64_encode(&config)}
    }))
    .expect("secret");
    let secrets: Api<Secret> = Api::namespaced(setup.client.clone(), NAMESPACE);
    secrets.create(&PostParams::default(), &secret).await.expect("create the pull secret");
    setup.recorded(&setup.first).await;
    setup.puller.stop().await;
}

fn base64_encode(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
