//! Refreshing only on change, against kip-sim over HTTP (its registry serves the same catalog
//! the simulated nodes pull from): unchanged digests restart nothing over many lookups, new
//! content under a tag rolls the pods exactly once and every node ends up holding it, and
//! pinning names the images by digest.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use kip_sim::Sim;
use kip_sim::cluster::catalog::ImageCatalog;
use kip_sim::cluster::node::NodeSpec;
use kube::Client;

const WAIT: Duration = Duration::from_secs(60);
const MIB: u64 = 1024 * 1024;

struct Setup {
    sim: Sim,
    client: Client,
    puller: Puller,
    theia: String,
    java: String,
    /// The digests published first: java and theia.
    first: BTreeMap<String, String>,
}

impl Setup {
    async fn start(extra: &[(&str, &str)]) -> Setup {
        let sim = start_cluster(vec![NodeSpec::new("node-1"), NodeSpec::new("node-2")], 20.0);
        let host = sim.registry_host();
        let theia = format!("{host}/eclipse/che-theia:next");
        let java = format!("{host}/eclipse/che-java11-maven:next");
        let catalog = sim.cluster().expect("a cluster").catalog();
        let first = BTreeMap::from([
            ("java".to_string(), catalog.publish_content(&java, "v1", 10 * MIB)),
            ("theia".to_string(), catalog.publish_content(&theia, "v1", 20 * MIB)),
        ]);
        let client = sim.client().expect("client");
        prepare(&client).await;
        let mut options = options();
        options.refresh_interval = Some(Duration::from_millis(500));
        let mut vars = vec![("KIP_MAX_UNAVAILABLE", "1")];
        vars.extend_from_slice(extra);
        let puller = Puller::start(&client, vars_on(&sim, &vars), options);
        Setup { sim, client, puller, theia, java, first }
    }

    fn catalog(&self) -> &ImageCatalog {
        self.sim.cluster().expect("a cluster").catalog()
    }

    /// Waits for `rounds` more lookups of both images.
    async fn lookups(&self, rounds: u64) {
        let before = self.catalog().registry_requests().manifest_head;
        eventually("more digest lookups", WAIT, || async {
            (self.catalog().registry_requests().manifest_head >= before + 2 * rounds).then_some(())
        })
        .await;
    }

    /// Waits until the DaemonSet records `digests` and runs them on every node.
    async fn rolled_out_with(&self, digests: &BTreeMap<String, String>) -> k8s_openapi::api::apps::v1::DaemonSet {
        eventually("the DaemonSet rolled out with the digests", WAIT, || async {
            let ds = rolled_out(&self.client).await.filter(|ds| recorded_digests(ds) == *digests)?;
            let pods = caching_pods(&self.client).await;
            let pulled = pods.iter().all(|pod| {
                let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
                digests.iter().all(|(name, digest)| {
                    statuses
                        .into_iter()
                        .flatten()
                        .any(|c| &c.name == name && c.image_id.ends_with(&format!("@{digest}")))
                })
            });
            pulled.then_some(ds)
        })
        .await
    }
}

fn pod_identities(pods: &[k8s_openapi::api::core::v1::Pod]) -> Vec<(String, i32)> {
    let mut identities: Vec<(String, i32)> = pods
        .iter()
        .map(|pod| {
            let restarts = pod
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .map(|c| c.iter().map(|c| c.restart_count).sum())
                .unwrap_or(0);
            (pod.metadata.uid.clone().unwrap_or_default(), restarts)
        })
        .collect();
    identities.sort();
    identities
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_digests_restart_nothing_and_new_content_rolls_once() {
    let setup = Setup::start(&[]).await;
    let before = setup.rolled_out_with(&setup.first).await;
    let pods_before = pod_identities(&caching_pods(&setup.client).await);
    assert_eq!(pods_before.len(), 2);

    // Several intervals with the same content: no restart, not even a template change.
    setup.lookups(4).await;
    let after = daemonset(&setup.client).await.expect("the DaemonSet");
    assert_eq!(after.metadata.generation, before.metadata.generation, "no template change");
    assert_eq!(pod_identities(&caching_pods(&setup.client).await), pods_before, "the same pods, never restarted");
    assert_eq!(setup.puller.metric("kip_refreshes_total").await, Some(0.0));

    // New content under the theia tag.
    let v2 = setup.catalog().publish_content(&setup.theia, "v2", 25 * MIB);
    let mut second = setup.first.clone();
    second.insert("theia".into(), v2.clone());
    let rolled = setup.rolled_out_with(&second).await;
    assert_eq!(rolled.metadata.generation, before.metadata.generation.map(|g| g + 1), "one template change");
    assert_ne!(template_annotation(&rolled, "kip.dev/refresh"), template_annotation(&before, "kip.dev/refresh"));
    assert_eq!(setup.puller.metric("kip_refreshes_total").await, Some(1.0));
    let refreshing = events(&setup.client, "Refreshing").await;
    assert!(
        refreshing.iter().any(|e| e.note.as_deref().is_some_and(|n| n.contains("new content: theia"))),
        "{refreshing:?}"
    );

    // What `kip status` reports: every node holds the new content.
    let report = kip::status::fetch::fetch(&setup.client, NAMESPACE, DAEMONSET).await.expect("the report");
    let theia = report.images.iter().find(|i| i.name == "theia").expect("theia in the report");
    assert_eq!(theia.digest.as_deref(), Some(v2.as_str()));
    assert_eq!(theia.cached_on, ["node-1", "node-2"]);
    assert!(report.all_cached(), "{report:?}");

    // And that was the only rollout.
    setup.lookups(3).await;
    let later = daemonset(&setup.client).await.expect("the DaemonSet");
    assert_eq!(later.metadata.generation, rolled.metadata.generation);
    assert_eq!(setup.puller.metric("kip_refreshes_total").await, Some(1.0));
    setup.puller.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinning_names_images_by_digest_and_rolls_through_them() {
    let setup = Setup::start(&[("KIP_PIN_DIGESTS", "true")]).await;
    let first = setup.rolled_out_with(&setup.first).await;
    let images: Vec<(String, String)> = container_images(&first);
    assert_eq!(
        images,
        [
            ("java".to_string(), format!("{}@{}", setup.java, setup.first["java"])),
            ("theia".to_string(), format!("{}@{}", setup.theia, setup.first["theia"])),
        ]
    );
    let policies: Vec<Option<String>> = first
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| p.containers.iter().map(|c| c.image_pull_policy.clone()).collect())
        .unwrap_or_default();
    assert_eq!(policies, [Some("IfNotPresent".to_string()), Some("IfNotPresent".to_string())]);

    let v2 = setup.catalog().publish_content(&setup.theia, "v2", 25 * MIB);
    let mut second = setup.first.clone();
    second.insert("theia".into(), v2.clone());
    let rolled = setup.rolled_out_with(&second).await;
    assert_eq!(rolled.metadata.generation, first.metadata.generation.map(|g| g + 1));
    assert!(container_images(&rolled).contains(&("theia".to_string(), format!("{}@{v2}", setup.theia))));
    setup.puller.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_can_be_requested_over_http() {
    let sim = start_cluster(vec![NodeSpec::new("node-1")], 20.0);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let theia = format!("{}/eclipse/che-theia:next", sim.registry_host());
    let catalog = sim.cluster().expect("a cluster").catalog();
    catalog.publish_content(&theia, "v1", MIB);
    // An interval so long that only the request can cause the second lookup.
    let puller = Puller::start(&client, vars_on(&sim, &[]), options());
    let first = eventually("the first lookups", WAIT, || async {
        daemonset(&client).await.filter(|ds| recorded_digests(ds).len() == 2)
    })
    .await;
    let v2 = catalog.publish_content(&theia, "v2", MIB);
    let (status, body) = http_post(puller.http, "/refresh").await;
    assert_eq!(status, 202, "{body}");
    let refreshed = eventually("the new digest", WAIT, || async {
        daemonset(&client).await.filter(|ds| recorded_digests(ds).get("theia") == Some(&v2))
    })
    .await;
    assert_ne!(recorded_digests(&refreshed), recorded_digests(&first));
    puller.stop().await;
}
