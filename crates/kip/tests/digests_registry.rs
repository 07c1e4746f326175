//! kip-sim's registry (the cluster's image catalog over the OCI distribution API) as kip's
//! registry client and a plain HTTP client see it: the digests the nodes pull, manifests that
//! hash to their digest, Accept negotiation, Basic authentication for private images, the
//! distribution error JSON, registry faults, and request counts.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use kip::registry::{
    BasicCredentials, Credentials, ErrorCategory, OCI_MANIFEST, RegistryClient, RegistryCredential, RegistryError,
    RegistryOptions,
};
use kip_sim::Sim;
use kip_sim::cluster::catalog::{REGISTRY_PASSWORD, REGISTRY_USERNAME, RegistryFault};
use kip_sim::cluster::node::NodeSpec;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn client(sim: &Sim) -> RegistryClient {
    let options = RegistryOptions { insecure_registries: BTreeSet::from([sim.registry_host()]), ..Default::default() };
    RegistryClient::new(options).expect("a registry client")
}

/// One HTTP/1.0 request with extra headers: (status, headers, body).
async fn request(sim: &Sim, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(sim.address()).await.expect("connect");
    let mut text = format!("{method} {path} HTTP/1.0\r\nHost: {}\r\n", sim.registry_host());
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    stream.write_all(text.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
    let head = String::from_utf8_lossy(&response[..split]).to_lowercase();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head, response[split + 4..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_serves_the_digests_the_nodes_pull() {
    let sim = common::start_cluster(vec![NodeSpec::new("node-1")], 20.0);
    let catalog = sim.cluster().expect("a cluster").catalog();
    let theia = format!("{}/eclipse/che-theia:next", sim.registry_host());
    let digest = catalog.publish_content(&theia, "v1", 1 << 20);

    let (status, head, _) = request(&sim, "GET", "/v2/", &[]).await;
    assert_eq!(status, 200);
    assert!(head.contains("docker-distribution-api-version: registry/2.0"), "{head}");

    let resolved = client(&sim).resolve(&theia, &Credentials::anonymous()).await.expect("resolves");
    assert_eq!(resolved.digest, digest);
    assert_eq!(resolved.media_type.as_deref(), Some(OCI_MANIFEST));

    // GET by tag and by digest: the body hashes to the digest.
    for reference in ["next", digest.as_str()] {
        let path = format!("/v2/eclipse/che-theia/manifests/{reference}");
        let (status, head, body) = request(&sim, "GET", &path, &[("Accept", OCI_MANIFEST)]).await;
        assert_eq!(status, 200, "{reference}");
        assert!(head.contains(&format!("docker-content-digest: {digest}")), "{head}");
        assert_eq!(format!("sha256:{}", hex::encode(Sha256::digest(&body))), digest);
    }
    // HEAD: the same headers, no body.
    let (status, head, body) = request(&sim, "HEAD", "/v2/eclipse/che-theia/manifests/next", &[]).await;
    assert_eq!((status, body.len()), (200, 0));
    assert!(head.contains(&format!("docker-content-digest: {digest}")), "{head}");

    // A client that accepts no OCI manifest is told so.
    let docker_only = [("Accept", "application/vnd.docker.distribution.manifest.v2+json")];
    let (status, _, body) = request(&sim, "GET", "/v2/eclipse/che-theia/manifests/next", &docker_only).await;
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("MANIFEST_UNKNOWN"));
    let counts = catalog.registry_requests();
    assert!(counts.ping >= 1 && counts.manifest_get >= 2 && counts.manifest_head >= 2, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_missing_and_failing_images_answer_as_registries_do() {
    let sim = common::start_cluster(vec![NodeSpec::new("node-1")], 20.0);
    let catalog = sim.cluster().expect("a cluster").catalog();
    let host = sim.registry_host();
    let private = format!("{host}/team/private:1");
    let gone = format!("{host}/team/gone:1");
    let digest = catalog.publish_content(&private, "v1", 1 << 20);
    catalog.set_image_unauthorized(&private);
    catalog.set_image_missing(&gone);
    let client = client(&sim);

    let (status, head, body) = request(&sim, "GET", "/v2/team/private/manifests/1", &[]).await;
    assert_eq!(status, 401);
    assert!(head.contains("www-authenticate: basic realm="), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("UNAUTHORIZED"));
    let refused = client.resolve(&private, &Credentials::anonymous()).await.expect_err("needs credentials");
    assert_eq!(refused.category(), ErrorCategory::Unauthorized);

    let mut credentials = Credentials::anonymous();
    let basic = BasicCredentials::new(REGISTRY_USERNAME, REGISTRY_PASSWORD);
    credentials.insert(&host, RegistryCredential { source: "pull secret \"regcred\"".into(), basic: Some(basic) });
    assert_eq!(client.resolve(&private, &credentials).await.expect("with credentials").digest, digest);
    let wrong =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{REGISTRY_USERNAME}:no")));
    assert_eq!(request(&sim, "GET", "/v2/team/private/manifests/1", &[("Authorization", &wrong)]).await.0, 401);

    let missing = client.resolve(&gone, &Credentials::anonymous()).await.expect_err("missing");
    assert!(matches!(missing, RegistryError::NotFound { .. }), "{missing}");
    let (status, _, body) = request(
        &sim,
        "GET",
        &format!("/v2/team/private/manifests/sha256:{}", "0".repeat(64)),
        &[(
            "Authorization",
            &format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{REGISTRY_USERNAME}:{REGISTRY_PASSWORD}"))
            ),
        )],
    )
    .await;
    assert_eq!(status, 404, "an unknown digest");
    assert!(String::from_utf8_lossy(&body).contains("MANIFEST_UNKNOWN"));

    catalog.set_registry_fault(Some(RegistryFault::Unavailable));
    let down = client.resolve(&gone, &Credentials::anonymous()).await.expect_err("down");
    assert_eq!(down.category(), ErrorCategory::ServerError);
    catalog.set_registry_fault(Some(RegistryFault::RateLimited { retry_after: Duration::from_secs(7) }));
    let (status, head, _) = request(&sim, "GET", "/v2/team/gone/manifests/1", &[]).await;
    assert_eq!(status, 429);
    assert!(head.contains("retry-after: 7"), "{head}");
    let limited = client.resolve(&private, &credentials).await.expect_err("limited");
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
    catalog.set_registry_fault(None);
    assert!(catalog.registry_requests().refused >= 5);
}
