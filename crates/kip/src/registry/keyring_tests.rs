use super::*;

#[test]
fn normalizes_keys_like_the_kubelet() {
    let cases = [
        ("quay.io", "quay.io"),
        ("https://quay.io", "quay.io"),
        ("http://quay.io/", "quay.io"),
        ("https://index.docker.io/v1/", "index.docker.io"),
        ("https://index.docker.io/v2/", "index.docker.io"),
        ("quay.io/v2/team/app", "quay.io/team/app"),
        ("quay.io/team", "quay.io/team"),
        ("registry.local:5000", "registry.local:5000"),
        ("https://registry.local:5000/v1/", "registry.local:5000"),
        ("quay.io/team?x=1", "quay.io/team"),
        ("quay.io/v1", "quay.io/v1"),
    ];
    for (location, key) in cases {
        assert_eq!(normalize_key(location), key, "{location}");
    }
}

#[test]
fn matches_keys_against_image_names() {
    // (key, image name, matches)
    let cases = [
        ("quay.io", "quay.io/team/app", true),
        ("quay.io", "quay.io", true),
        ("quay.io/team", "quay.io/team/app", true),
        // A plain string prefix, as the kubelet compares paths.
        ("quay.io/team", "quay.io/teamwork/app", true),
        ("quay.io/team/app", "quay.io/team", false),
        ("quay.io/other", "quay.io/team/app", false),
        ("quay.io", "quay.io:443/team/app", false),
        ("quay.io:443", "quay.io/team/app", false),
        ("registry.local:5000", "registry.local:5000/app", true),
        ("registry.local:5001", "registry.local:5000/app", false),
        ("*.example.com", "registry.example.com/app", true),
        ("*.example.com", "example.com/app", false),
        ("*.example.com", "a.b.example.com/app", false),
        ("*.*.example.com", "a.b.example.com/app", true),
        // `?` starts a URL query, so the kubelet never sees it as a glob in a key.
        ("registry-?.example.com", "registry-1.example.com/app", false),
        ("registry-[0-9].example.com", "registry-7.example.com/app", true),
        ("registry-[^0-9].example.com", "registry-7.example.com/app", false),
        ("registry-[0-9.example.com", "registry-7.example.com/app", false),
        ("example.*", "example.com/app", true),
        ("docker.io", "docker.io/library/nginx", true),
        ("index.docker.io", "docker.io/library/nginx", false),
        ("quay.io", "quay.io.evil.com/app", false),
        ("[::1]:5000", "[::1]:5000/app", true),
    ];
    for (key, image, expected) in cases {
        assert_eq!(urls_match(key, image), expected, "key {key} image {image}");
    }
}

#[test]
fn globs_follow_shell_rules() {
    let cases = [
        ("*", "anything", true),
        ("*", "", true),
        ("a*c", "abbbc", true),
        ("a*c", "abbbd", false),
        ("?", "", false),
        ("[abc]", "b", true),
        ("[a-c]", "d", false),
        ("[^a-c]", "d", true),
        ("[]a]", "a", false),
        ("[-a]", "a", false),
        ("[\\-a]", "-", true),
        ("\\*", "*", true),
        ("\\*", "a", false),
    ];
    for (pattern, text, expected) in cases {
        assert_eq!(glob_match(pattern, text), expected, "{pattern} vs {text}");
    }
}

#[test]
fn looks_up_most_specific_keys_first_then_docker_hub() {
    let mut keyring = Keyring::default();
    keyring.add("quay.io", "quay");
    keyring.add("https://quay.io/team/", "quay-team");
    keyring.add("quay.io/team/app", "quay-team-app");
    keyring.add("*.example.com", "example");
    keyring.add("https://index.docker.io/v1/", "hub");
    keyring.add("quay.io", "quay-second-secret");

    // (image name, entries in order)
    let cases: &[(&str, &[&str])] = &[
        ("quay.io/team/app", &["quay-team-app", "quay-team", "quay", "quay-second-secret"]),
        ("quay.io/team/other", &["quay-team", "quay", "quay-second-secret"]),
        ("quay.io/solo/app", &["quay", "quay-second-secret"]),
        ("registry.example.com/app", &["example"]),
        ("docker.io/library/nginx", &["hub"]),
        ("index.docker.io/library/nginx", &["hub"]),
        ("library/nginx", &["hub"]),
        ("ghcr.io/org/app", &[]),
        ("localhost:5000/app", &[]),
    ];
    for (image, expected) in cases {
        let found: Vec<&str> = keyring.lookup(image).into_iter().copied().collect();
        assert_eq!(&found, expected, "{image}");
    }
}

#[test]
fn docker_io_key_matches_hub_images_directly() {
    let mut keyring = Keyring::default();
    keyring.add("docker.io", "hub");
    assert_eq!(keyring.lookup("docker.io/library/nginx"), vec![&"hub"]);
    // The fallback is only for the index.docker.io key.
    let mut only_quay = Keyring::default();
    only_quay.add("quay.io", "quay");
    assert!(only_quay.lookup("docker.io/library/nginx").is_empty());
}
