//! Defaults, blank values, and the single-valued variables.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;

#[test]
fn defaults_are_the_templates_defaults() {
    let config = valid(&[]);
    assert_eq!(config.caching_interval_hours, 1);
    assert_eq!(config.daemonset_name, "kubernetes-image-puller");
    assert_eq!(config.namespace, "k8s-image-puller");
    assert_eq!(config.caching_memory_request, Quantity("10Mi".into()));
    assert_eq!(config.caching_memory_limit, Quantity("20Mi".into()));
    assert_eq!(config.caching_cpu_request, Quantity(".05".into()));
    assert_eq!(config.caching_cpu_limit, Quantity(".2".into()));
    assert!(config.node_selector.is_empty());
    assert!(config.daemonset_annotations.is_empty());
    assert_eq!(config.affinity, None);
    assert!(config.tolerations.is_empty());
    assert!(config.image_pull_secrets.is_empty());
    assert_eq!(config.kip_image, "quay.io/eclipse/kubernetes-image-puller:next");
    assert_eq!(config.max_unavailable, IntOrString::String("10%".into()));
    assert!(!config.keep_daemonset_on_exit);
    assert_eq!(config.caching_mode, CachingMode::Containers);
    assert!(config.warnings.is_empty());
}

#[test]
fn blank_values_count_as_unset() {
    let defaulted: Vec<&str> = VARIABLES.iter().filter(|(_, default)| default.is_some()).map(|(n, _)| *n).collect();
    for blank in ["", "  ", "\n"] {
        let extra: Vec<(&str, &str)> = defaulted.iter().map(|name| (*name, blank)).collect();
        assert_eq!(valid(&extra), valid(&[]), "every defaulted variable set to {blank:?}");
    }
}

#[test]
fn values_are_trimmed() {
    let config = valid(&[("CACHING_INTERVAL_HOURS", " 2\n"), ("NAMESPACE", " ns "), ("CACHING_CPU_LIMIT", " 1 ")]);
    assert_eq!((config.caching_interval_hours, config.namespace.as_str()), (2, "ns"));
    assert_eq!(config.caching_cpu_limit, Quantity("1".into()));
}

#[test]
fn interval_hours() {
    for (text, hours) in [("1", 1), ("24", 24), ("168", 168)] {
        assert_eq!(valid(&[("CACHING_INTERVAL_HOURS", text)]).caching_interval_hours, hours, "{text}");
    }
    let refused = [
        ("0", r#""0" is zero"#),
        ("-1", r#""-1" is negative"#),
        ("1.5", r#""1.5" is not a whole number"#),
        ("1h", r#""1h" has a unit; the value is already in hours, write 1"#),
        ("12hours", "write 12"),
        ("one", r#""one" is not a number"#),
        ("99999999999", r#""99999999999" is too large"#),
    ];
    for (text, fragment) in refused {
        let errors = invalid(&[("CACHING_INTERVAL_HOURS", text)]);
        assert_problem(&errors.errors, "CACHING_INTERVAL_HOURS", "", fragment);
        assert_problem(&errors.errors, "CACHING_INTERVAL_HOURS", "", "Accepted: a whole number of hours, at least 1");
    }
}

#[test]
fn quantities() {
    let config = valid(&[
        ("CACHING_MEMORY_REQUEST", "64Mi"),
        ("CACHING_MEMORY_LIMIT", "1Gi"),
        ("CACHING_CPU_REQUEST", "50m"),
        ("CACHING_CPU_LIMIT", "0.5"),
    ]);
    assert_eq!(config.caching_memory_limit, Quantity("1Gi".into()));
    assert_eq!(config.caching_cpu_request, Quantity("50m".into()));
    let refused = [
        ("CACHING_MEMORY_LIMIT", "20MB", r#""20MB" has an unknown unit "MB"; Kubernetes writes mebibytes as Mi"#),
        ("CACHING_MEMORY_LIMIT", "lots", r#""lots" is not a quantity"#),
        ("CACHING_MEMORY_REQUEST", "-1Mi", r#""-1Mi" is negative"#),
        ("CACHING_CPU_LIMIT", "1 cpu", "is not a quantity"),
        ("CACHING_CPU_LIMIT", "abc", "Accepted: a quantity such as .05, 50m, 1"),
        ("CACHING_MEMORY_LIMIT", "abc", "Accepted: a quantity such as 10Mi"),
    ];
    for (variable, text, fragment) in refused {
        assert_problem(&invalid(&[(variable, text)]).errors, variable, "", fragment);
    }
}

#[test]
fn a_request_above_its_limit_names_both() {
    let errors = invalid(&[("CACHING_MEMORY_REQUEST", "30Mi"), ("CACHING_CPU_REQUEST", "1")]);
    assert_problem(
        &errors.errors,
        "CACHING_MEMORY_REQUEST",
        "",
        r#""30Mi" is above CACHING_MEMORY_LIMIT "20Mi". Accepted: a request at most the limit"#,
    );
    assert_problem(&errors.errors, "CACHING_CPU_REQUEST", "", r#""1" is above CACHING_CPU_LIMIT ".2""#);
    // Equal is fine, and units are compared by value, not by text.
    valid(&[("CACHING_MEMORY_REQUEST", "20Mi"), ("CACHING_CPU_REQUEST", "200m")]);
    valid(&[("CACHING_MEMORY_REQUEST", "20971520"), ("CACHING_MEMORY_LIMIT", "20Mi")]);
}

#[test]
fn numbers_that_look_like_a_forgotten_unit_are_warned_about() {
    let config =
        valid(&[("CACHING_MEMORY_REQUEST", "10"), ("CACHING_MEMORY_LIMIT", "20"), ("CACHING_CPU_LIMIT", "200")]);
    assert_problem(&config.warnings, "CACHING_MEMORY_LIMIT", "", r#""20" is 20 bytes; did you mean 20Mi?"#);
    assert_problem(&config.warnings, "CACHING_CPU_LIMIT", "", r#""200" is 200 CPUs; did you mean 200m?"#);
    assert!(valid(&[("CACHING_CPU_LIMIT", "2")]).warnings.is_empty(), "two CPUs is plausible");
}

#[test]
fn keep_daemonset_on_exit() {
    for (text, expected) in [
        ("true", true),
        ("TRUE", true),
        ("1", true),
        ("yes", true),
        ("Yes", true),
        ("false", false),
        ("0", false),
        ("no", false),
        ("NO", false),
    ] {
        assert_eq!(valid(&[("KIP_KEEP_DAEMONSET_ON_EXIT", text)]).keep_daemonset_on_exit, expected, "{text}");
    }
    let errors = invalid(&[("KIP_KEEP_DAEMONSET_ON_EXIT", "maybe")]);
    assert_problem(
        &errors.errors,
        "KIP_KEEP_DAEMONSET_ON_EXIT",
        "",
        r#""maybe" is not a switch. Accepted: true or false"#,
    );
}

#[test]
fn max_unavailable() {
    let accepted = [
        ("10%", IntOrString::String("10%".into())),
        ("1%", IntOrString::String("1%".into())),
        ("100%", IntOrString::String("100%".into())),
        ("1", IntOrString::Int(1)),
        ("25", IntOrString::Int(25)),
    ];
    for (text, expected) in accepted {
        assert_eq!(valid(&[("KIP_MAX_UNAVAILABLE", text)]).max_unavailable, expected, "{text}");
    }
    let refused = [
        ("0", "would never let a pod be replaced"),
        ("0%", "would never let a pod be replaced"),
        ("101%", "is above 100%"),
        ("-1", "is negative"),
        ("1.5", "is neither a number nor a percentage"),
        ("1.5%", "is not a whole percentage"),
        ("ten", "is neither a number nor a percentage"),
        ("99999999999", "is too large"),
    ];
    for (text, fragment) in refused {
        let errors = invalid(&[("KIP_MAX_UNAVAILABLE", text)]);
        assert_problem(&errors.errors, "KIP_MAX_UNAVAILABLE", "", fragment);
        assert_problem(
            &errors.errors,
            "KIP_MAX_UNAVAILABLE",
            "",
            "Accepted: a number of nodes (at least 1) or a percentage",
        );
    }
}

#[test]
fn caching_mode_lists_the_modes_it_accepts() {
    assert_eq!(valid(&[("CACHING_MODE", "Containers")]).caching_mode, CachingMode::Containers);
    let errors = invalid(&[("CACHING_MODE", "layers")]);
    assert_problem(
        &errors.errors,
        "CACHING_MODE",
        "",
        r#""layers" is not a caching mode. Accepted: containers, init, image-volume"#,
    );
}

#[test]
fn object_names() {
    let config = valid(&[("NAMESPACE", "images"), ("DAEMONSET_NAME", "puller.v2"), ("DEPLOYMENT_NAME", "kip.v2")]);
    assert_eq!((config.daemonset_name.as_str(), config.deployment_name.as_str()), ("puller.v2", "kip.v2"));
    // Pod names are generated from the DaemonSet's name and cut to fit, so any valid name works.
    valid(&[("DAEMONSET_NAME", &"d".repeat(253))]);
    let refused = [
        ("NAMESPACE", "My-NS".to_string(), r#""My-NS" is not a valid namespace name: a lowercase RFC 1123 label"#),
        ("NAMESPACE", "a.b".to_string(), "is not a valid namespace name"),
        ("NAMESPACE", "n".repeat(64), "must be no more than 63 characters"),
        ("DAEMONSET_NAME", "image_puller".to_string(), "is not a valid DaemonSet name: a lowercase RFC 1123 subdomain"),
        ("DAEMONSET_NAME", "d".repeat(254), "must be no more than 253 characters"),
        ("DEPLOYMENT_NAME", "Kip".to_string(), "is not a valid Deployment name"),
    ];
    for (variable, text, fragment) in refused {
        assert_problem(&invalid(&[(variable, &text)]).errors, variable, "", fragment);
    }
}

#[test]
fn deployment_name_is_required() {
    let unset = Config::from_vars([("IMAGES", "a=x")]).expect_err("DEPLOYMENT_NAME is required");
    assert_problem(
        &unset.errors,
        "DEPLOYMENT_NAME",
        "",
        "DEPLOYMENT_NAME: is not set. Accepted: the name of the Deployment",
    );
    assert_problem(&invalid(&[("DEPLOYMENT_NAME", " ")]).errors, "DEPLOYMENT_NAME", "", "is empty");
}

#[test]
fn image_pull_secrets() {
    assert_eq!(
        valid(&[("IMAGE_PULL_SECRETS", "quay;registry.example")]).image_pull_secrets,
        ["quay", "registry.example"]
    );
    assert_eq!(valid(&[("IMAGE_PULL_SECRETS", " a ; ;b; ")]).image_pull_secrets, ["a", "b"]);
    let errors = invalid(&[("IMAGE_PULL_SECRETS", "a;Pull_Secret")]);
    assert_problem(&errors.errors, "IMAGE_PULL_SECRETS", r#"entry 2 "Pull_Secret""#, "is not a valid Secret name");
}

#[test]
fn near_miss_names_are_warnings() {
    let cases = [
        ("CACHING_INTERVAL_HOUR", "CACHING_INTERVAL_HOURS"),
        ("IMAGE", "IMAGES"),
        ("images", "IMAGES"),
        ("cachingIntervalHours", "CACHING_INTERVAL_HOURS"),
        ("namespace", "NAMESPACE"),
        ("KIP_IMAGES", "KIP_IMAGE"),
        ("IMAGE_PULL_SECRET", "IMAGE_PULL_SECRETS"),
        ("NODE_SELECTORS", "NODE_SELECTOR"),
        ("CACHING_MEMORY_LIMT", "CACHING_MEMORY_LIMIT"),
    ];
    for (name, meant) in cases {
        let config = valid(&[(name, "1")]);
        assert_problem(&config.warnings, name, "", &format!("kip does not read this variable; did you mean {meant}?"));
    }
    // What a pod's environment holds anyway is not worth a word.
    let unrelated = [
        "HOME",
        "PATH",
        "HOSTNAME",
        "KUBERNETES_SERVICE_HOST",
        "KUBERNETES_PORT_443_TCP",
        "POD_NAMESPACE",
        "NODE_NAME",
        "LANG",
        "TERM",
    ];
    for name in unrelated {
        assert!(valid(&[(name, "x")]).warnings.is_empty(), "{name}");
    }
    // Warnings stay apart from errors when the configuration is refused.
    let errors = invalid(&[("IMAGE", "a=x"), ("NAMESPACE", "Bad")]);
    assert_eq!(errors.errors.len(), 1, "{errors}");
    assert_problem(&errors.warnings, "IMAGE", "", "did you mean IMAGES?");
}
