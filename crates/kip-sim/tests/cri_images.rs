//! The CRI image calls against a real containerd pulling from a real local registry: pull and
//! list with digests, basic auth (and its refusal), a tag moved to new content, removal.
//! Needs `KIP_REAL_RUNTIME=1`, root and the packages of `scripts/real-runtime/install.sh`.

use std::io::Write;
use std::time::Instant;

use kip_sim::cri::harness::RealRuntime;
use kip_sim::cri::oci::ImageBuilder;
use kip_sim::cri::{CriError, RegistryAuth};

/// The stack for one test, or `None` (and a note) if the real-runtime tests are off. A stack
/// that cannot start fails the test with the scripts' own words.
fn start(test: &str) -> Option<RealRuntime> {
    RealRuntime::start_if_enabled(test).unwrap_or_else(|error| panic!("{error}"))
}

fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

#[tokio::test]
async fn a_pulled_image_is_listed_with_its_manifest_digest_and_tag() {
    let Some(runtime) =
        RealRuntime::start_if_enabled("a_pulled_image_is_listed_with_its_manifest_digest_and_tag").unwrap()
    else {
        return;
    };
    let image = ImageBuilder::data_only("cached by kip").build().unwrap();
    let digest = runtime.open_registry().push("kip/data", "1", &image).await.unwrap();
    let reference = format!("{}/kip/data:1", runtime.registry());
    let cri = runtime.client().await.unwrap();

    let version = cri.version().await.unwrap();
    assert_eq!((version.runtime_name.as_str(), version.runtime_api_version.as_str()), ("containerd", "v1"));
    assert_eq!(cri.image_status(&reference).await.unwrap(), None, "not pulled yet");

    let started = Instant::now();
    let id = cri.pull_image(&reference, None).await.unwrap();
    note(&format!("pull of a one-file image: {:?}", started.elapsed()));
    assert_eq!(id.0, image.config_digest(), "containerd names an image by its config digest");

    let listed: Vec<_> = cri.list_images().await.unwrap().into_iter().filter(|i| i.id == id).collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let listed = &listed[0];
    assert_eq!(listed.repo_tags, [reference.as_str()]);
    assert_eq!(listed.repo_digests, [format!("{}/kip/data@{digest}", runtime.registry())]);
    assert_eq!(listed.digest_in(&format!("{}/kip/data", runtime.registry())), Some(digest.as_str()));
    assert!(listed.size > 0);
    let node_entry = listed.to_node_image();
    assert_eq!(node_entry.names.as_deref(), Some(&[listed.repo_digests[0].clone(), reference.clone()][..]));
    assert_eq!(cri.image_status(&reference).await.unwrap().as_ref(), Some(listed));
    assert_eq!(cri.image_status(&id.0).await.unwrap().as_ref(), Some(listed), "status by id");

    let filesystems = cri.image_fs_info().await.unwrap();
    assert!(
        filesystems.iter().any(|fs| fs.mountpoint.starts_with(runtime.dir().to_str().unwrap())),
        "image filesystem under the runtime's own directory: {filesystems:?}"
    );
}

#[tokio::test]
async fn pulls_from_a_registry_with_basic_auth_need_the_credentials() {
    let Some(runtime) =
        RealRuntime::start_if_enabled("pulls_from_a_registry_with_basic_auth_need_the_credentials").unwrap()
    else {
        return;
    };
    let image = ImageBuilder::data_only("private").build().unwrap();
    let anonymous = kip_sim::cri::push::Registry::new(runtime.auth_registry(), None);
    let refused = anonymous.push("kip/private", "1", &image).await.unwrap_err();
    assert!(refused.to_string().contains("HTTP 401"), "the registry demands auth: {refused}");
    let digest = runtime.authenticated_registry().push("kip/private", "1", &image).await.unwrap();
    let reference = format!("{}/kip/private:1", runtime.auth_registry());
    let cri = runtime.client().await.unwrap();

    let without = cri.pull_image(&reference, None).await.unwrap_err();
    let wrong = RegistryAuth::new(&runtime.auth().username, "not-the-password");
    let with_wrong = cri.pull_image(&reference, Some(&wrong)).await.unwrap_err();
    note(&format!("pull without credentials: {without}"));
    for error in [&without, &with_wrong] {
        let text = error.to_string();
        assert!(matches!(error, CriError::Call { method: "PullImage", .. }), "{error:?}");
        assert!(text.contains(&reference), "names the image: {text}");
        assert!(text.contains("401 Unauthorized"), "carries the registry's answer: {text}");
    }
    assert_eq!(cri.image_status(&reference).await.unwrap(), None);

    let id = cri.pull_image(&reference, Some(runtime.auth())).await.unwrap();
    let status = cri.image_status(&reference).await.unwrap().expect("pulled");
    assert_eq!(status.id, id);
    assert_eq!(status.digest_in(&format!("{}/kip/private", runtime.auth_registry())), Some(digest.as_str()));
}

#[tokio::test]
async fn new_content_under_the_same_tag_pulls_to_a_new_digest() {
    let Some(runtime) = start("new_content_under_the_same_tag_pulls_to_a_new_digest") else {
        return;
    };
    let registry = runtime.open_registry();
    let reference = format!("{}/kip/moving:next", runtime.registry());
    let repository = format!("{}/kip/moving", runtime.registry());
    let cri = runtime.client().await.unwrap();

    let first = registry.push("kip/moving", "next", &ImageBuilder::data_only("v1").build().unwrap()).await.unwrap();
    let first_id = cri.pull_image(&reference, None).await.unwrap();
    let second = registry.push("kip/moving", "next", &ImageBuilder::data_only("v2").build().unwrap()).await.unwrap();
    assert_ne!(first, second);
    assert_eq!(registry.resolve("kip/moving", "next").await.unwrap(), second, "the tag moved in the registry");
    let second_id = cri.pull_image(&reference, None).await.unwrap();
    assert_ne!(first_id, second_id, "a re-pull of the moved tag is another image");

    let images = cri.list_images().await.unwrap();
    let newest = images.iter().find(|i| i.id == second_id).expect("new image listed");
    assert_eq!(newest.digest_in(&repository), Some(second.as_str()));
    assert_eq!(newest.repo_tags, [reference.as_str()], "the tag now names the new image");
    // The old image stays until removed (a kubelet's image GC would), reachable by digest only.
    let old = images.iter().find(|i| i.id == first_id).expect("old image still held");
    assert_eq!(old.digest_in(&repository), Some(first.as_str()));
    assert!(old.repo_tags.is_empty(), "{old:?}");
}

#[tokio::test]
async fn a_removed_image_is_gone_and_removing_it_again_succeeds() {
    let Some(runtime) =
        RealRuntime::start_if_enabled("a_removed_image_is_gone_and_removing_it_again_succeeds").unwrap()
    else {
        return;
    };
    runtime.open_registry().push("kip/gone", "1", &ImageBuilder::data_only("bye").build().unwrap()).await.unwrap();
    let reference = format!("{}/kip/gone:1", runtime.registry());
    let cri = runtime.client().await.unwrap();
    let id = cri.pull_image(&reference, None).await.unwrap();
    assert!(cri.list_images().await.unwrap().iter().any(|i| i.id == id));

    cri.remove_image(&reference).await.unwrap();
    assert_eq!(cri.image_status(&reference).await.unwrap(), None);
    assert_eq!(cri.image_status(&id.0).await.unwrap(), None);
    assert!(!cri.list_images().await.unwrap().iter().any(|i| i.id == id));
    cri.remove_image(&reference).await.unwrap();
}
