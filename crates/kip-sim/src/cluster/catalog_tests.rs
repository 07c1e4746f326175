//! Tests of the image catalog: reference parsing, publishing, faults, manifests, counters.
use super::*;

#[test]
fn references_normalise_like_container_runtimes() {
    let cases = [
        ("nginx", "docker.io/library/nginx", Some("latest"), None),
        ("nginx:1.27", "docker.io/library/nginx", Some("1.27"), None),
        ("user/app", "docker.io/user/app", Some("latest"), None),
        ("quay.io/eclipse/kubernetes-image-puller:next", "quay.io/eclipse/kubernetes-image-puller", Some("next"), None),
        ("localhost:5000/app", "localhost:5000/app", Some("latest"), None),
        ("localhost:5000/app:v1", "localhost:5000/app", Some("v1"), None),
        ("localhost/app", "localhost/app", Some("latest"), None),
        ("nginx@sha256:abc", "docker.io/library/nginx", None, Some("sha256:abc")),
        ("reg.io/a/b:t@sha256:abc", "reg.io/a/b", Some("t"), Some("sha256:abc")),
    ];
    for (input, repo, tag, digest) in cases {
        let r = ImageRef::parse(input);
        assert_eq!((r.repo.as_str(), r.tag.as_deref(), r.digest.as_deref()), (repo, tag, digest), "reference {input}");
    }
    assert_eq!(ImageRef::parse("nginx").name(), "docker.io/library/nginx:latest");
    assert_eq!(ImageRef::parse("nginx@sha256:abc").name(), "docker.io/library/nginx@sha256:abc");
}

#[test]
fn unpublished_references_resolve_to_stable_digests() {
    let catalog = ImageCatalog::new(1000, Duration::ZERO);
    let a = catalog.resolve(&ImageRef::parse("a:1")).expect("resolves");
    let again = catalog.resolve(&ImageRef::parse("docker.io/library/a:1")).expect("resolves");
    let b = catalog.resolve(&ImageRef::parse("b:1")).expect("resolves");
    assert_eq!(a, again);
    assert_ne!(a.digest, b.digest);
    assert_eq!(a.size_bytes, 1000);
    assert!(a.id().starts_with("docker.io/library/a@sha256:"));
}

#[test]
fn publishing_moves_a_tag_and_clears_faults() {
    let catalog = ImageCatalog::new(1000, Duration::ZERO);
    catalog.set_image_missing("app:1");
    assert!(matches!(catalog.resolve(&ImageRef::parse("app:1")), Err(RegistryError::NotFound(_))));
    catalog.publish_image("app:1", "1111", 42);
    let resolved = catalog.resolve(&ImageRef::parse("app:1")).expect("published");
    assert_eq!((resolved.digest.as_str(), resolved.size_bytes), ("sha256:1111", 42));
    let pinned = catalog.resolve(&ImageRef::parse("app@sha256:1111")).expect("by digest");
    assert_eq!(pinned.size_bytes, 42);
    catalog.set_image_unauthorized("app:1");
    let err = catalog.resolve(&ImageRef::parse("app:1")).expect_err("unauthorized");
    assert!(err.to_string().contains("pull access denied"), "{err}");
    catalog.clear_image_fault("app:1");
    assert!(catalog.resolve(&ImageRef::parse("app:1")).is_ok());
}

#[test]
fn published_content_is_served_with_a_manifest_that_hashes_to_its_digest() {
    let catalog = ImageCatalog::new(1000, Duration::ZERO);
    let v1 = catalog.publish_content("reg.io/a/app:1", "v1", 42);
    assert_eq!(v1, catalog.publish_content("reg.io/a/app:1", "v1", 42), "deterministic");
    let v2 = catalog.publish_content("reg.io/a/app:1", "v2", 42);
    assert_ne!(v1, v2);
    let (resolved, manifest) = catalog.manifest(&ImageRef::parse("reg.io/a/app:1"), false).expect("tag");
    assert_eq!((resolved.digest.as_str(), resolved.size_bytes), (v2.as_str(), 42));
    assert_eq!(sha256_digest(&manifest.body), v2);
    assert_eq!(manifest.media_type, OCI_MANIFEST);
    let old = catalog.manifest(&ImageRef::parse(&format!("reg.io/a/app@{v1}")), false).expect("old content");
    assert_eq!(sha256_digest(&old.1.body), v1);
    // The kubelets' path agrees with the registry's.
    assert_eq!(catalog.resolve(&ImageRef::parse("reg.io/a/app:1")).expect("resolves").digest, v2);
}

#[test]
fn unpublished_tags_have_verifiable_manifests_and_unknown_digests_are_not_found() {
    let catalog = ImageCatalog::new(1000, Duration::ZERO);
    let (resolved, manifest) = catalog.manifest(&ImageRef::parse("reg.io/x:1"), false).expect("implicit");
    assert_eq!(sha256_digest(&manifest.body), resolved.digest);
    let by_digest = format!("reg.io/x@{}", resolved.digest);
    assert_eq!(catalog.manifest(&ImageRef::parse(&by_digest), false).expect("by digest").1, manifest);
    let unknown = format!("reg.io/x@sha256:{}", "0".repeat(64));
    assert!(matches!(catalog.manifest(&ImageRef::parse(&unknown), false), Err(RegistryError::NotFound(_))));
}

#[test]
fn credentials_lift_the_unauthorized_mark_over_http_only() {
    let catalog = ImageCatalog::new(1000, Duration::ZERO);
    let image = ImageRef::parse("reg.io/private:1");
    catalog.set_image_unauthorized("reg.io/private:1");
    assert!(catalog.requires_credentials(&image));
    assert!(matches!(catalog.manifest(&image, false), Err(RegistryError::Unauthorized(_))));
    assert!(catalog.manifest(&image, true).is_ok());
    assert!(matches!(catalog.resolve(&image), Err(RegistryError::Unauthorized(_))));
}

#[test]
fn registry_requests_are_counted_by_kind() {
    let catalog = ImageCatalog::new(1, Duration::ZERO);
    catalog.count_request(RegistryRequestKind::Ping);
    catalog.count_request(RegistryRequestKind::ManifestHead);
    catalog.count_request(RegistryRequestKind::ManifestHead);
    catalog.count_request(RegistryRequestKind::ManifestGet);
    catalog.count_refusal();
    let counts = catalog.registry_requests();
    assert_eq!((counts.ping, counts.manifest_head, counts.manifest_get, counts.refused), (1, 2, 1, 1));
    assert_eq!(counts.total(), 4);
}

#[test]
fn latency_is_per_image_with_a_default() {
    let catalog = ImageCatalog::new(1, Duration::from_millis(200));
    catalog.set_image_latency("slow:1", Duration::from_secs(3));
    assert_eq!(catalog.latency(&ImageRef::parse("slow:1")), Duration::from_secs(3));
    assert_eq!(catalog.latency(&ImageRef::parse("fast:1")), Duration::from_millis(200));
}
