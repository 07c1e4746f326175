//! The image reference grammar: what registries and runtimes accept, and where a refused
//! reference breaks.

use super::*;

fn hex(n: usize) -> String {
    "0123456789abcdef".chars().cycle().take(n).collect()
}

#[test]
fn references_runtimes_accept() {
    let sha256 = hex(64);
    let accepted = [
        "busybox".to_string(),
        "library/busybox:1.36".into(),
        "quay.io/eclipse/che-theia:next".into(),
        "Quay.IO/eclipse/x".into(),
        "localhost/a".into(),
        "localhost:5000/a/b".into(),
        "[::1]:5000/a:b".into(),
        "192.168.1.10:5000/x/y:v1".into(),
        "registry.example.com:443/a_b/c__d/e-f/g--h/i.j:T_a.g-1".into(),
        "a/b/c/d/e".into(),
        format!("a:{}", "t".repeat(128)),
        format!("a:_{}", "v".repeat(10)),
        format!("a@sha256:{sha256}"),
        format!("quay.io/a/b:next@sha256:{sha256}"),
        format!("a@sha384:{}", hex(96)),
        format!("a@sha512:{}", hex(128)),
        format!("{}/b", "a".repeat(253)),
    ];
    for text in &accepted {
        assert!(ImageReference::parse(text).is_ok(), "{text}: {:?}", ImageReference::parse(text));
    }
}

#[test]
fn parts_are_split_as_runtimes_split_them() {
    let sha256 = hex(64);
    // (reference, registry, path, tag, has a digest)
    type Case = (String, Option<&'static str>, &'static str, Option<&'static str>, bool);
    let cases: Vec<Case> = vec![
        ("busybox".into(), None, "busybox", None, false),
        ("library/busybox:1".into(), None, "library/busybox", Some("1"), false),
        ("quay.io/eclipse/theia:next".into(), Some("quay.io"), "eclipse/theia", Some("next"), false),
        ("localhost:5000/a".into(), Some("localhost:5000"), "a", None, false),
        ("localhost:5000".into(), None, "localhost", Some("5000"), false),
        (format!("r.io/a:t@sha256:{sha256}"), Some("r.io"), "a", Some("t"), true),
    ];
    for (text, registry, path, tag, digest) in cases {
        let parsed = ImageReference::parse(&text).expect(&text);
        assert_eq!(parsed.registry.as_deref(), registry, "{text}");
        assert_eq!(parsed.path, path, "{text}");
        assert_eq!(parsed.tag.as_deref(), tag, "{text}");
        assert_eq!(parsed.digest.is_some(), digest, "{text}");
    }
}

#[test]
fn refused_references_say_where_and_why() {
    let sha256 = hex(64);
    // (reference, position, character, fragment of the reason)
    let cases: Vec<(String, Option<usize>, Option<char>, &str)> = vec![
        ("".into(), None, None, "the image reference is empty"),
        (
            "Quay.io/Eclipse/theia".into(),
            Some(9),
            Some('E'),
            r#"lower case (only a registry host may have capitals); did you mean "Quay.io/eclipse/theia"?"#,
        ),
        ("eclipse/Theia:Next".into(), Some(9), Some('T'), r#"did you mean "eclipse/theia:Next"?"#),
        ("a:{prod-ver}".into(), Some(3), Some('{'), "{prod-ver} is a placeholder from the product documentation"),
        ("a:{version}".into(), Some(3), Some('{'), "{version} looks like a placeholder that was never filled in"),
        ("a:{".into(), Some(3), Some('{'), "'{' is not allowed"),
        ("a:${TAG}".into(), Some(3), Some('$'), "never expanded"),
        ("https://quay.io/a".into(), Some(6), Some(':'), "no URL scheme: write quay.io/a"),
        ("quay.io/a b".into(), Some(10), Some(' '), "spaces are not allowed"),
        ("a//b".into(), Some(3), Some('/'), "empty repository path component"),
        ("/a".into(), Some(1), Some('/'), "empty repository path component"),
        ("a/".into(), Some(3), None, "empty repository path component"),
        ("-a".into(), Some(1), Some('-'), "must start with a lower-case letter or digit"),
        ("a-".into(), Some(2), Some('-'), "must end with a lower-case letter or digit"),
        ("a..b".into(), Some(2), Some('.'), r#"".." is not a separator"#),
        ("a___b".into(), Some(2), Some('_'), r#""___" is not a separator"#),
        ("a_-b".into(), Some(2), Some('_'), r#""_-" is not a separator"#),
        ("a+b".into(), Some(2), Some('+'), "not allowed in a repository path"),
        ("quay.io/é/x".into(), Some(9), Some('é'), "not allowed in a repository path"),
        ("a:".into(), Some(2), Some(':'), "the tag after ':' is empty"),
        ("a:.x".into(), Some(3), Some('.'), "a tag must start with a letter, a digit or '_'"),
        ("a:x:y".into(), Some(4), Some(':'), "a tag may not contain ':'"),
        ("a:é1".into(), Some(3), Some('é'), "not allowed in a tag"),
        (format!("a:{}", "t".repeat(129)), Some(131), Some('t'), "the tag is 129 characters long; at most 128"),
        ("a@sha256:abc".into(), Some(10), Some('a'), "a sha256 digest has exactly 64 hex digits; this one has 3"),
        (format!("a@sha256:{}", sha256.to_uppercase()), Some(20), Some('A'), "digest hex digits must be lower case"),
        ("a@sha256:xyz".into(), Some(10), Some('x'), "not a hexadecimal digit"),
        (format!("a@md5:{}", hex(32)), Some(3), Some('m'), r#"unsupported digest algorithm "md5""#),
        ("a@sha256".into(), Some(3), Some('s'), "a digest is algorithm:hex"),
        ("a@1sha:00".into(), Some(3), Some('1'), "a digest algorithm is letters and digits"),
        ("a@sha+:00".into(), Some(7), Some(':'), "the digest algorithm is empty or ends with a separator"),
        (format!("a@sha256:{sha256}@x"), Some(74), Some('@'), "at most one '@'"),
        ("quay..io/a".into(), Some(6), Some('.'), "the registry host has an empty part between dots"),
        ("quay_io.x/a".into(), Some(5), Some('_'), "a registry host has letters, digits, '-' and '.' only"),
        ("-quay.io/a".into(), Some(1), Some('-'), "must not start with '-'"),
        ("quay-.io/a".into(), Some(5), Some('-'), "must not end with '-'"),
        ("localhost:50a0/a".into(), Some(13), Some('a'), "a registry port is digits only"),
        ("localhost:/a".into(), Some(11), Some('/'), "a registry port after ':' must not be empty"),
        ("[::1/a".into(), Some(1), Some('['), "needs a closing ']'"),
        ("[::g]/a".into(), Some(4), Some('g'), "not allowed in an IPv6 address"),
        (
            format!("a/{}", "b".repeat(254)),
            None,
            None,
            "the name (registry and path, without tag or digest) is 256 characters long; at most 255",
        ),
    ];
    for (text, position, character, fragment) in cases {
        let error = ImageReference::parse(&text).expect_err(&text);
        assert_eq!((error.position, error.character), (position, character), "{text}: {error}");
        assert!(error.reason.contains(fragment), "{text}: {error}");
    }
}

#[test]
fn the_error_reads_as_a_sentence() {
    let error = ImageReference::parse("quay.io/a b").expect_err("space");
    assert_eq!(
        error.to_string(),
        "breaks at character 10 ' ': spaces are not allowed in an image reference (entries are separated by ';')"
    );
    let error = ImageReference::parse("a/").expect_err("trailing slash");
    assert!(error.to_string().starts_with("breaks at character 3: empty repository path component"), "{error}");
}

#[test]
fn kip_image_is_checked_too() {
    let errors = invalid(&[("KIP_IMAGE", "quay.io/Eclipse/kip:next")]);
    assert_problem(&errors.errors, "KIP_IMAGE", "", "breaks at character 9 'E'");
    let config = valid(&[("KIP_IMAGE", "registry.example.com/kip/kip:1.0")]);
    assert_eq!(config.kip_image, "registry.example.com/kip/kip:1.0");
}

#[test]
fn runtime_names_make_docker_hub_explicit() {
    let cases: &[(&str, &[&str])] = &[
        ("nginx", &["docker.io/library/nginx:latest"]),
        ("nginx:1.25", &["docker.io/library/nginx:1.25"]),
        ("eclipse/che-theia:next", &["docker.io/eclipse/che-theia:next"]),
        ("docker.io/library/busybox:1", &["docker.io/library/busybox:1"]),
        ("quay.io/eclipse/che-machine-exec:next", &["quay.io/eclipse/che-machine-exec:next"]),
        ("localhost:5000/kip/data:v1", &["localhost:5000/kip/data:v1"]),
        (
            "quay.io/x/y@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            &["quay.io/x/y@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"],
        ),
    ];
    for (text, expected) in cases {
        let reference = ImageReference::parse(text).expect(text);
        assert_eq!(reference.runtime_names(), expected.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{text}");
    }
}
