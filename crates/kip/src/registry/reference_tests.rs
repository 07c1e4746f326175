use super::*;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn parses_and_normalizes_references() {
    // (input, registry, api host, repository, tag, digest)
    type Case<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, Option<&'a str>);
    let digest = Some(DIGEST);
    let cases: &[Case] = &[
        ("nginx", "docker.io", "registry-1.docker.io", "library/nginx", "latest", None),
        ("nginx:1.27", "docker.io", "registry-1.docker.io", "library/nginx", "1.27", None),
        ("library/nginx", "docker.io", "registry-1.docker.io", "library/nginx", "latest", None),
        ("bitnami/redis:7", "docker.io", "registry-1.docker.io", "bitnami/redis", "7", None),
        ("docker.io/nginx", "docker.io", "registry-1.docker.io", "library/nginx", "latest", None),
        ("index.docker.io/nginx", "docker.io", "registry-1.docker.io", "library/nginx", "latest", None),
        ("docker.io/org/app:v1", "docker.io", "registry-1.docker.io", "org/app", "v1", None),
        (
            "quay.io/eclipse/kubernetes-image-puller:next",
            "quay.io",
            "quay.io",
            "eclipse/kubernetes-image-puller",
            "next",
            None,
        ),
        ("quay.io/app", "quay.io", "quay.io", "app", "latest", None),
        ("localhost/app", "localhost", "localhost", "app", "latest", None),
        ("localhost:5000/app:dev", "localhost:5000", "localhost:5000", "app", "dev", None),
        ("127.0.0.1:5000/a/b/c:1.0", "127.0.0.1:5000", "127.0.0.1:5000", "a/b/c", "1.0", None),
        ("[::1]:5000/app", "[::1]:5000", "[::1]:5000", "app", "latest", None),
        ("Registry.Example/app", "Registry.Example", "Registry.Example", "app", "latest", None),
        (
            "reg.example:443/team/app_x.y__z--w:TAG_1.2-3",
            "reg.example:443",
            "reg.example:443",
            "team/app_x.y__z--w",
            "TAG_1.2-3",
            None,
        ),
        (&*format!("nginx@{DIGEST}"), "docker.io", "registry-1.docker.io", "library/nginx", "latest", digest),
        (&*format!("quay.io/a/b:1.0@{DIGEST}"), "quay.io", "quay.io", "a/b", "1.0", digest),
        (&*format!("localhost:5000/app@{DIGEST}"), "localhost:5000", "localhost:5000", "app", "latest", digest),
    ];
    for (input, registry, api_host, repository, tag, digest) in cases {
        let reference = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(reference.registry(), *registry, "{input}");
        assert_eq!(reference.api_host(), *api_host, "{input}");
        assert_eq!(reference.repository(), *repository, "{input}");
        assert_eq!(reference.tag(), *tag, "{input}");
        assert_eq!(reference.digest(), *digest, "{input}");
    }
}

#[test]
fn rejects_invalid_references_with_the_reason() {
    // (input, words the reason must contain)
    let cases: &[(&str, &str)] = &[
        ("", "empty"),
        ("Nginx", "must be lower case"),
        ("docker.io/Library/nginx", "must be lower case"),
        ("quay.io/Org/App:1", "must be lower case"),
        ("nginx:", "the tag after ':' is empty"),
        ("nginx:-bad", "must start with"),
        ("nginx:a/b", "port is digits only"),
        ("nginx@sha256:abc", "exactly 64 hex digits"),
        ("nginx@md5:0123", "unsupported digest algorithm"),
        ("nginx@0123", "a digest is algorithm:hex"),
        (&*format!("nginx@{}", DIGEST.to_uppercase().replace("SHA256", "sha256")), "must be lower case"),
        ("quay.io//app", "empty repository path component"),
        ("quay.io/app/", "empty repository path component"),
        ("quay.io/-app", "must start with a lower-case letter or digit"),
        ("quay.io/a...b", "is not a separator"),
        ("quay.io/a___b", "is not a separator"),
        ("my registry/app", "spaces are not allowed"),
        ("quay.io:abc/app", "port is digits only"),
        ("-bad.io/app", "must not start with '-'"),
        ("[::1/app", "needs a closing ']'"),
        ("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "image ID"),
        (&*format!("quay.io/{}", "a".repeat(260)), "at most 255 are allowed"),
        (&*format!("nginx:{}", "t".repeat(129)), "at most 128"),
    ];
    for (input, expected) in cases {
        match Reference::parse(input) {
            Ok(reference) => panic!("{input:?} parsed as {reference:?}"),
            Err(error) => {
                let message = error.to_string();
                assert!(message.contains(expected), "{input:?}: {message:?} lacks {expected:?}");
                assert!(message.contains(&format!("{input:?}")), "{message} does not quote the input");
            }
        }
    }
}

#[test]
fn displays_the_normalized_reference() {
    let cases = [
        ("nginx", "docker.io/library/nginx:latest"),
        ("quay.io/a/b:1", "quay.io/a/b:1"),
        (&*format!("nginx@{DIGEST}"), &*format!("docker.io/library/nginx@{DIGEST}")),
        (&*format!("nginx:1@{DIGEST}"), &*format!("docker.io/library/nginx:1@{DIGEST}")),
    ];
    for (input, shown) in cases {
        let reference = Reference::parse(input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reference.to_string(), shown);
        assert_eq!(Reference::parse(shown).as_ref(), Ok(&reference), "display must parse back");
    }
}

#[test]
fn the_digest_wins_over_the_tag_for_the_manifest_request() {
    let pinned = Reference::parse(&format!("quay.io/a:1@{DIGEST}")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pinned.manifest_reference(), DIGEST);
    let tagged = Reference::parse("quay.io/a:1").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tagged.manifest_reference(), "1");
    assert_eq!(tagged.name(), "quay.io/a");
}
