//! The report printed for an invalid configuration, the summary of a valid one, and the
//! per-node reservation.

use kip_rules::Quantity as Exact;

use super::*;

fn exact(text: &str) -> Exact {
    Exact::parse(text).expect(text)
}

#[test]
fn the_report_has_a_count_and_one_problem_a_line() {
    let errors = invalid(&[("IMAGES", "a=x;b"), ("CACHING_INTERVAL_HOURS", "1h"), ("IMAGE", "c=y")]);
    assert_eq!(
        errors.to_string(),
        "invalid configuration: 2 errors, 1 warning\n\
         error: IMAGES[entry 2 \"b\"]: has no '=' between the container name and the image. Accepted: name=image \
         entries separated by ';', e.g. theia=quay.io/eclipse/che-theia:next;machine-exec=quay.io/eclipse/che-machine-exec:next\n\
         error: CACHING_INTERVAL_HOURS: \"1h\" has a unit; the value is already in hours, write 1. Accepted: a whole \
         number of hours, at least 1, without unit, e.g. 1 or 24\n\
         warning: IMAGE: kip does not read this variable; did you mean IMAGES? Accepted: IMAGES (variable names are \
         case-sensitive)"
    );
    let one = invalid(&[("NAMESPACE", "Bad")]);
    assert!(one.to_string().starts_with("invalid configuration: 1 error\nerror: NAMESPACE: \"Bad\""), "{one}");
}

#[test]
fn a_configuration_with_many_problems_reports_all_of_them() {
    let errors = Config::from_vars([
        ("IMAGES", "theia=quay.io/Eclipse/theia;bad;theia=x;Web App=nginx"),
        ("CACHING_INTERVAL_HOURS", "0"),
        ("CACHING_MEMORY_REQUEST", "10MB"),
        ("CACHING_CPU_REQUEST", "2"),
        ("DAEMONSET_NAME", "Puller"),
        ("NAMESPACE", "my_ns"),
        ("NODE_SELECTOR", "{"),
        ("DAEMONSET_ANNOTATIONS", "[]"),
        ("AFFINITY", r#"{"nodeAfinity": {}}"#),
        ("TOLERATIONS", r#"[{"operator": "Exists", "value": "x"}]"#),
        ("IMAGE_PULL_SECRETS", "Secret_1"),
        ("KIP_IMAGE", "kip image"),
        ("KIP_MAX_UNAVAILABLE", "0"),
        ("KIP_KEEP_DAEMONSET_ON_EXIT", "sometimes"),
        ("CACHING_MODE", "layers"),
        ("NAMESPACES", "x"),
    ])
    .expect_err("everything is wrong");
    let mut variables: Vec<&str> = errors.errors.iter().map(|p| p.variable.as_str()).collect();
    variables.dedup();
    assert_eq!(
        variables,
        [
            "IMAGES",
            "DEPLOYMENT_NAME",
            "CACHING_INTERVAL_HOURS",
            "KIP_MAX_UNAVAILABLE",
            "KIP_KEEP_DAEMONSET_ON_EXIT",
            "CACHING_MODE",
            "CACHING_MEMORY_REQUEST",
            "CACHING_CPU_REQUEST",
            "NAMESPACE",
            "DAEMONSET_NAME",
            "KIP_IMAGE",
            "IMAGE_PULL_SECRETS",
            "NODE_SELECTOR",
            "DAEMONSET_ANNOTATIONS",
            "AFFINITY",
            "TOLERATIONS",
        ]
    );
    assert_eq!(errors.for_variable("IMAGES").count(), 4, "{errors}");
    assert_eq!(errors.warnings.len(), 1, "{errors}");
    assert!(
        errors.to_string().starts_with(&format!("invalid configuration: {} errors, 1 warning\n", errors.errors.len()))
    );
}

#[test]
fn reservation_per_node_counts_every_cached_image() {
    // The figure users are told to compute: 5 images, 20 nodes, a 20Mi limit -> 2000Mi.
    let config = valid(&[("IMAGES", "a=a;b=b;c=c;d=d;e=e")]);
    let per_node = reservation_per_node(&config);
    assert_eq!(
        per_node,
        Reservation {
            cpu_request: exact("250m"),
            cpu_limit: exact("1"),
            memory_request: exact("50Mi"),
            memory_limit: exact("100Mi"),
        }
    );
    let cluster = per_node.times(20).expect("no overflow");
    assert_eq!(cluster.memory_limit, exact("2000Mi"));
    assert_eq!(cluster.to_string(), "CPU 5 requested, 20 limit; memory 1000Mi requested, 2000Mi limit");
}

#[test]
fn the_init_container_runs_alone_so_it_adds_nothing() {
    let config = valid(&[("IMAGES", "a=a"), ("CACHING_MEMORY_LIMIT", "1Gi"), ("CACHING_CPU_LIMIT", "1")]);
    let per_node = reservation_per_node(&config);
    assert_eq!((per_node.memory_limit, per_node.cpu_limit), (exact("1Gi"), exact("1")));
}

#[test]
fn a_reservation_too_large_to_count_is_none() {
    let config = valid(&[("CACHING_MEMORY_REQUEST", "100Ei"), ("CACHING_MEMORY_LIMIT", "100Ei")]);
    assert_eq!(reservation_per_node(&config).times(u32::MAX), None);
}

#[test]
fn the_summary_of_a_valid_configuration() {
    let config = valid(&[
        ("IMAGES", "a=a;b=b;c=c;d=d;e=e"),
        ("CACHING_INTERVAL_HOURS", "6"),
        ("IMAGE", "x"),
        ("KIP_REFRESH_POLICY", "always"),
    ]);
    assert_eq!(
        config.summary(Some(20)),
        "valid configuration: 5 images to cache, mode containers, refreshed every 6 hours\n\
         DaemonSet k8s-image-puller/kubernetes-image-puller (owner Deployment kubernetes-image-puller), at most 10% of \
         nodes refreshing at once\n\
         per node: CPU 250m requested, 1 limit; memory 50Mi requested, 100Mi limit\n\
         20 nodes: CPU 5 requested, 20 limit; memory 1000Mi requested, 2000Mi limit\n\
         warning: IMAGE: kip does not read this variable; did you mean IMAGES? Accepted: IMAGES (variable names are \
         case-sensitive)"
    );
    let one = valid(&[("KIP_MAX_UNAVAILABLE", "1"), ("KIP_PIN_DIGESTS", "true")]).summary(None);
    assert_eq!(
        one,
        "valid configuration: 1 image to cache, pinned by digest, mode containers, refreshed when a digest changes \
         (checked every hour)\n\
         DaemonSet k8s-image-puller/kubernetes-image-puller (owner Deployment kubernetes-image-puller), at most 1 node \
         refreshing at once\n\
         per node: CPU 50m requested, 200m limit; memory 10Mi requested, 20Mi limit"
    );
}
