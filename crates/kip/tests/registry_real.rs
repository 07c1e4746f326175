//! The registry client against a real registry: Debian's `docker-registry` (the distribution
//! registry) started on 127.0.0.1 with our own configuration, images pushed through the
//! distribution upload API. Instances share one storage directory: tests push through an
//! open instance and resolve through instances with htpasswd or token authentication.
//!
//! Runs only with `KIP_REAL_REGISTRY=1` (CI sets it); then a missing binary is a failure.

mod registry_real_support;

use kip::registry::{
    Credentials, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, ErrorCategory, OCI_INDEX, OCI_MANIFEST, RegistryClient,
    RegistryError, RegistryOptions,
};
use registry_real_support::*;

fn client_for(hosts: &[&str]) -> RegistryClient {
    let options = RegistryOptions {
        insecure_registries: hosts.iter().map(|host| (*host).to_owned()).collect(),
        ..RegistryOptions::default()
    };
    RegistryClient::new(options).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn resolves_a_tag_and_sees_the_digest_change_when_the_tag_moves() {
    let Some(fixture) = Fixture::start(&[]).await else { return };
    let host = fixture.open.host.clone();
    let first = fixture.push_manifest("team/app", "stable", OCI_MANIFEST, "first content").await;
    let client = client_for(&[&host]);
    let image = format!("{host}/team/app:stable");

    let resolved = client.resolve(&image, &Credentials::anonymous()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resolved.digest, first);
    assert_eq!(resolved.media_type.as_deref(), Some(OCI_MANIFEST));
    assert_eq!(client.request_counts().total(), 1, "one HEAD, no fallback, no auth round trip");

    let second = fixture.push_manifest("team/app", "stable", OCI_MANIFEST, "second content").await;
    assert_ne!(first, second);
    let moved = client.resolve(&image, &Credentials::anonymous()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(moved.digest, second);
}

#[tokio::test]
async fn every_manifest_type_resolves_to_its_own_digest() {
    let Some(fixture) = Fixture::start(&[]).await else { return };
    let host = fixture.open.host.clone();
    let client = client_for(&[&host]);
    // The registry serves a manifest of a given type only to a client that accepts it: with
    // a type missing from Accept, that tag is "not found" or answered with another manifest.
    for (tag, media_type) in [
        ("oci", OCI_MANIFEST),
        ("docker", DOCKER_MANIFEST),
        ("oci-index", OCI_INDEX),
        ("docker-list", DOCKER_MANIFEST_LIST),
    ] {
        let pushed = fixture.push_manifest("multi", tag, media_type, tag).await;
        let resolved = client
            .resolve(&format!("{host}/multi:{tag}"), &Credentials::anonymous())
            .await
            .unwrap_or_else(|e| panic!("{tag}: {e}"));
        assert_eq!(resolved.digest, pushed, "{tag}");
        assert_eq!(resolved.media_type.as_deref(), Some(media_type), "{tag}");
    }
}

#[tokio::test]
async fn unknown_tags_and_repositories_are_not_found() {
    let Some(fixture) = Fixture::start(&[]).await else { return };
    let host = fixture.open.host.clone();
    fixture.push_manifest("known", "v1", OCI_MANIFEST, "x").await;
    let client = client_for(&[&host]);
    for image in [format!("{host}/known:v2"), format!("{host}/unknown/repo:v1")] {
        let error = client.resolve(&image, &Credentials::anonymous()).await.err();
        assert!(matches!(error, Some(RegistryError::NotFound { .. })), "{image}: {error:?}");
        let error = error.unwrap_or_else(|| unreachable!());
        assert_eq!(error.category(), ErrorCategory::NotFound);
        assert!(error.to_string().contains(&image), "{error}");
    }
}

#[tokio::test]
async fn a_pinned_digest_resolves_to_itself_without_a_request() {
    let Some(fixture) = Fixture::start(&[]).await else { return };
    let host = fixture.open.host.clone();
    let pushed = fixture.push_manifest("pinned", "v1", OCI_MANIFEST, "pinned").await;
    let client = client_for(&[&host]);
    for image in [format!("{host}/pinned@{pushed}"), format!("{host}/pinned:v1@{pushed}")] {
        let resolved = client.resolve(&image, &Credentials::anonymous()).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resolved.digest, pushed);
        assert_eq!(resolved.media_type, None);
    }
    assert_eq!(client.request_counts().total(), 0);
}

#[tokio::test]
async fn resolve_all_answers_each_image_in_order_asking_once_per_distinct_image() {
    let Some(fixture) = Fixture::start(&[]).await else { return };
    let host = fixture.open.host.clone();
    let mut expected = Vec::new();
    for index in 0..12 {
        expected.push(fixture.push_manifest("fleet", &format!("v{index}"), OCI_MANIFEST, &format!("v{index}")).await);
    }
    let client = client_for(&[&host]);
    let mut images: Vec<String> = (0..12).map(|index| format!("{host}/fleet:v{index}")).collect();
    images.push(format!("{host}/fleet:v0"));
    images.push(format!("{host}/fleet:missing"));
    images.push("Invalid/Reference".to_owned());

    let results = client.resolve_all(images.clone(), &Credentials::anonymous()).await;
    assert_eq!(results.iter().map(|(image, _)| image.clone()).collect::<Vec<_>>(), images);
    for (index, digest) in expected.iter().enumerate() {
        assert_eq!(results[index].1.as_ref().map(|r| &r.digest), Ok(digest), "{}", images[index]);
    }
    assert_eq!(results[12].1.as_ref().map(|r| &r.digest), Ok(&expected[0]));
    assert_eq!(results[13].1.as_ref().map_err(RegistryError::category), Err(ErrorCategory::NotFound));
    assert_eq!(results[14].1.as_ref().map_err(RegistryError::category), Err(ErrorCategory::InvalidReference));
    assert_eq!(client.request_counts().manifest, 13, "12 tags and the missing one, each asked once");
}

#[tokio::test]
async fn basic_auth_registry_needs_the_right_pull_secret() {
    let Some(fixture) = Fixture::start(&[Protection::Htpasswd]).await else { return };
    let protected = fixture.htpasswd.as_ref().unwrap_or_else(|| unreachable!()).host.clone();
    let pushed = fixture.push_manifest("private/app", "v1", OCI_MANIFEST, "private").await;
    let image = format!("{protected}/private/app:v1");
    let client = client_for(&[&protected]);

    let anonymous = client.resolve(&image, &Credentials::anonymous()).await;
    let anonymous = anonymous.err().unwrap_or_else(|| panic!("anonymous access succeeded"));
    assert_eq!(anonymous.category(), ErrorCategory::Unauthorized, "{anonymous}");
    assert!(anonymous.to_string().contains("without credentials"), "{anonymous}");

    let wrong = credentials_from_secret(&protected, USER, "not-the-password");
    let refused = client.resolve(&image, &wrong).await.err().unwrap_or_else(|| panic!("wrong password accepted"));
    assert_eq!(refused.category(), ErrorCategory::Unauthorized);
    assert_no_secret(&format!("{refused} {refused:?} {client:?} {wrong:?}"), "not-the-password");

    let right = credentials_from_secret(&protected, USER, PASSWORD);
    let before = client.request_counts().total();
    let resolved = client.resolve(&image, &right).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resolved.digest, pushed);
    assert_eq!(client.request_counts().total() - before, 1, "Basic is sent at once once the registry asked for it");
    assert_no_secret(&format!("{client:?} {right:?}"), PASSWORD);
}

#[tokio::test]
async fn token_auth_registry_is_reached_through_the_bearer_flow() {
    let Some(fixture) = Fixture::start(&[Protection::Token]).await else { return };
    let token = fixture.token.as_ref().unwrap_or_else(|| unreachable!());
    let protected = token.registry.host.clone();
    let first = fixture.push_manifest("private/one", "v1", OCI_MANIFEST, "one").await;
    let second = fixture.push_manifest("private/two", "v1", OCI_MANIFEST, "two").await;
    let client = client_for(&[&protected]);
    let right = credentials_from_secret(&protected, USER, PASSWORD);

    let resolved = client.resolve(&format!("{protected}/private/one:v1"), &right).await;
    assert_eq!(resolved.map(|r| r.digest), Ok(first.clone()));
    let counts = client.request_counts();
    assert_eq!((counts.manifest, counts.token), (2, 1), "401, token, HEAD with the token");
    assert_eq!(token.server.issued(), 1);

    // The token is reused for the same repository until it nears expiry.
    let again = client.resolve(&format!("{protected}/private/one:v1"), &right).await;
    assert_eq!(again.map(|r| r.digest), Ok(first));
    assert_eq!(client.request_counts().token, 1);
    assert_eq!(client.request_counts().manifest, 3);

    // Another repository needs its own scope; the registry's realm is already known.
    let other = client.resolve(&format!("{protected}/private/two:v1"), &right).await;
    assert_eq!(other.map(|r| r.digest), Ok(second));
    assert_eq!((client.request_counts().manifest, client.request_counts().token), (4, 2));

    let wrong = credentials_from_secret(&protected, USER, "wrong-password");
    let refused = client.resolve(&format!("{protected}/private/two:v1"), &wrong).await.err();
    let refused = refused.unwrap_or_else(|| panic!("wrong password accepted"));
    assert_eq!(refused.category(), ErrorCategory::Unauthorized);
    assert!(refused.to_string().contains("token endpoint"), "{refused}");
    assert_no_secret(&format!("{refused} {refused:?} {client:?}"), "wrong-password");
    assert_no_secret(&format!("{refused} {refused:?} {client:?}"), PASSWORD);
}

/// The request cost of refreshing many images behind token authentication; prints the
/// wall time too (run with `--nocapture`), which is not asserted.
#[tokio::test]
async fn a_refresh_costs_one_manifest_request_per_image_once_tokens_are_cached() {
    let Some(fixture) = Fixture::start(&[Protection::Token]).await else { return };
    let token = fixture.token.as_ref().unwrap_or_else(|| unreachable!());
    let protected = token.registry.host.clone();
    let (images, repositories) = (60, 20);
    for index in 0..images {
        let repository = format!("fleet/r{}", index % repositories);
        fixture.push_manifest(&repository, &format!("t{index}"), OCI_MANIFEST, &format!("c{index}")).await;
    }
    let client = client_for(&[&protected]);
    let credentials = credentials_from_secret(&protected, USER, PASSWORD);
    let references: Vec<String> =
        (0..images).map(|index| format!("{protected}/fleet/r{}:t{index}", index % repositories)).collect();
    let mut previous = client.request_counts();
    for round in 0..2 {
        let started = std::time::Instant::now();
        let results = client.resolve_all(references.clone(), &credentials).await;
        let elapsed = started.elapsed();
        assert!(results.iter().all(|(_, result)| result.is_ok()), "{results:?}");
        let counts = client.request_counts();
        let (manifest, tokens) = (counts.manifest - previous.manifest, counts.token - previous.token);
        eprintln!("round {round}: {images} images, {manifest} manifest requests, {tokens} token requests, {elapsed:?}");
        if round == 0 {
            // One token per repository; until the realm is known, each image in flight
            // (at most 8) first collects a 401.
            assert_eq!(tokens, repositories);
            assert!((images..=images + 8).contains(&manifest), "{manifest}");
        } else {
            assert_eq!((manifest, tokens), (images, 0));
        }
        previous = counts;
    }
}
