//! Caching modes: the names they accept, the names they reserve, the warnings they carry, and
//! the arithmetic of what each one reserves per node and on a cluster.

use kip_rules::Quantity as Exact;

use super::*;

fn exact(text: &str) -> Exact {
    Exact::parse(text).expect(text)
}

fn reservation(cpu_request: &str, cpu_limit: &str, memory_request: &str, memory_limit: &str) -> Reservation {
    Reservation {
        cpu_request: exact(cpu_request),
        cpu_limit: exact(cpu_limit),
        memory_request: exact(memory_request),
        memory_limit: exact(memory_limit),
    }
}

const TWENTY_IMAGES: &str = "i1=r/1;i2=r/2;i3=r/3;i4=r/4;i5=r/5;i6=r/6;i7=r/7;i8=r/8;i9=r/9;i10=r/10;\
                             i11=r/11;i12=r/12;i13=r/13;i14=r/14;i15=r/15;i16=r/16;i17=r/17;i18=r/18;i19=r/19;i20=r/20";

#[test]
fn every_mode_is_accepted_by_name_in_any_case() {
    for (text, mode) in [
        ("containers", CachingMode::Containers),
        ("init", CachingMode::Init),
        ("INIT", CachingMode::Init),
        ("image-volume", CachingMode::ImageVolume),
        ("Image-Volume", CachingMode::ImageVolume),
    ] {
        assert_eq!(valid(&[("CACHING_MODE", text)]).caching_mode, mode, "{text}");
    }
    for text in ["image_volume", "volumes", "init-containers"] {
        let errors = invalid(&[("CACHING_MODE", text)]);
        assert_problem(&errors.errors, "CACHING_MODE", "", "Accepted: containers, init, image-volume");
    }
}

#[test]
fn the_keeper_name_is_taken_only_in_the_modes_that_add_the_keeper() {
    let images = ("IMAGES", "kip-keeper=quay.io/x/keeper:1;web=nginx:1");
    assert_eq!(valid(&[images]).images.len(), 2, "containers mode has no keeper");
    for mode in ["init", "image-volume"] {
        let errors = invalid(&[images, ("CACHING_MODE", mode)]);
        assert_problem(
            &errors.errors,
            "IMAGES",
            "",
            &format!(
                "the entry \"kip-keeper=quay.io/x/keeper:1\" takes the name of the container that keeps the pod \
                 running in caching mode {mode}. Accepted: any other container name"
            ),
        );
    }
}

#[test]
fn modes_that_can_lose_images_or_need_a_recent_cluster_say_so() {
    assert!(valid(&[]).warnings.is_empty(), "containers: images are in use by running containers");
    let init = valid(&[("CACHING_MODE", "init")]);
    assert_problem(&init.warnings, "CACHING_MODE", "", "exited init container");
    assert_problem(&init.warnings, "CACHING_MODE", "", "docs/caching-modes.md");
    let volume = valid(&[("CACHING_MODE", "image-volume")]);
    assert_problem(&volume.warnings, "CACHING_MODE", "", "Kubernetes 1.35");
    assert_problem(&volume.warnings, "CACHING_MODE", "", "containerd 2.1 or CRI-O 1.31");
    let summary = volume.summary(None);
    assert!(summary.contains("\nwarning: CACHING_MODE: image-volume needs image volumes"), "{summary}");
}

#[test]
fn reservation_per_node_by_mode() {
    // (mode, images, CACHING_* overrides, per node). Defaults: .05/.2 CPU, 10Mi/20Mi memory;
    // the keeper: 5m/50m CPU, 8Mi/16Mi memory.
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], Reservation);
    let cases: [Case; 9] = [
        ("containers", "a=a", &[], reservation("50m", "200m", "10Mi", "20Mi")),
        ("containers", TWENTY_IMAGES, &[], reservation("1", "4", "200Mi", "400Mi")),
        // init: the largest init container (CACHING_*) or the keeper, whatever the count.
        ("init", "a=a", &[], reservation("50m", "200m", "10Mi", "20Mi")),
        ("init", TWENTY_IMAGES, &[], reservation("50m", "200m", "10Mi", "20Mi")),
        (
            "init",
            TWENTY_IMAGES,
            &[
                ("CACHING_CPU_REQUEST", "1m"),
                ("CACHING_CPU_LIMIT", "20m"),
                ("CACHING_MEMORY_REQUEST", "4Mi"),
                ("CACHING_MEMORY_LIMIT", "64Mi"),
            ],
            // Each amount the larger of the two: CPU and the memory request from the keeper.
            reservation("5m", "50m", "8Mi", "64Mi"),
        ),
        // image-volume: the keeper alone; CACHING_* apply to no container.
        ("image-volume", "a=a", &[], reservation("5m", "50m", "8Mi", "16Mi")),
        ("image-volume", TWENTY_IMAGES, &[], reservation("5m", "50m", "8Mi", "16Mi")),
        ("image-volume", TWENTY_IMAGES, &[("CACHING_MEMORY_LIMIT", "1Gi")], reservation("5m", "50m", "8Mi", "16Mi")),
        ("containers", TWENTY_IMAGES, &[("CACHING_MEMORY_LIMIT", "1Gi")], reservation("1", "4", "200Mi", "20Gi")),
    ];
    for (mode, images, overrides, expected) in cases {
        let mut vars = vec![("CACHING_MODE", mode), ("IMAGES", images)];
        vars.extend_from_slice(overrides);
        assert_eq!(reservation_per_node(&valid(&vars)), expected, "{mode} {images} {overrides:?}");
    }
}

#[test]
fn twenty_images_on_a_thousand_nodes() {
    let report =
        |mode: &str| valid(&[("CACHING_MODE", mode), ("IMAGES", TWENTY_IMAGES)]).reservation_report(Some(1000));
    assert_eq!(
        report("containers"),
        "caching mode containers, per node: CPU 1 requested, 4 limit; memory 200Mi requested, 400Mi limit\n\
         1000 nodes: CPU 1000 requested, 4000 limit; memory 200000Mi requested, 400000Mi limit"
    );
    assert_eq!(
        report("init"),
        "caching mode init, per node: CPU 50m requested, 200m limit; memory 10Mi requested, 20Mi limit\n\
         1000 nodes: CPU 50 requested, 200 limit; memory 10000Mi requested, 20000Mi limit"
    );
    assert_eq!(
        report("image-volume"),
        "caching mode image-volume, per node: CPU 5m requested, 50m limit; memory 8Mi requested, 16Mi limit\n\
         1000 nodes: CPU 5 requested, 50 limit; memory 8000Mi requested, 16000Mi limit"
    );
    assert_eq!(
        valid(&[("CACHING_MODE", "init")]).reservation_report(None),
        "caching mode init, per node: CPU 50m requested, 200m limit; memory 10Mi requested, 20Mi limit"
    );
}
