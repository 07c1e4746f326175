use super::*;

#[test]
fn next_n_fails_exactly_n_matching_requests() {
    let faults = Faults::default();
    faults.add(FaultRule::next(2, Fault::InternalError).for_verb("list").for_resource("daemonsets.apps"));
    assert_eq!(faults.decide(Verb::Get, "apps", "daemonsets").fail, None, "other verb");
    assert_eq!(faults.decide(Verb::List, "", "pods").fail, None, "other resource");
    assert_eq!(faults.decide(Verb::List, "apps", "daemonsets").fail, Some(Fault::InternalError));
    assert_eq!(faults.decide(Verb::List, "apps", "daemonsets").fail, Some(Fault::InternalError));
    assert_eq!(faults.decide(Verb::List, "apps", "daemonsets").fail, None, "spent");
    assert!(faults.config().rules.is_empty(), "spent rules are removed");
}

#[test]
fn resource_matches_plural_or_group_resource() {
    let rule = FaultRule::next(1, Fault::InternalError).for_resource("daemonsets");
    assert!(rule.matches(Verb::Get, "apps", "daemonsets"));
    let rule = FaultRule::next(1, Fault::InternalError).for_resource("daemonsets.apps");
    assert!(rule.matches(Verb::Get, "apps", "daemonsets"));
    assert!(!rule.matches(Verb::Get, "extensions", "daemonsets"));
}

#[test]
fn conflicts_apply_only_to_writes() {
    let faults = Faults::default();
    faults.add(FaultRule::next(1, Fault::Conflict));
    assert_eq!(faults.decide(Verb::Get, "", "configmaps").fail, None);
    assert_eq!(faults.decide(Verb::Update, "", "configmaps").fail, Some(Fault::Conflict));
    let err = fault_error(&Fault::Conflict, "", "configmaps", "c").expect("error");
    assert_eq!((err.code, err.reason), (409, "Conflict"));
}

#[test]
fn latency_adds_up_and_does_not_fail() {
    let faults = Faults::default();
    faults.add(FaultRule::next(1, Fault::Latency { millis: 30 }));
    faults.add(FaultRule::next(1, Fault::Latency { millis: 20 }));
    faults.add(FaultRule::next(1, Fault::TooManyRequests { retry_after_seconds: 3 }));
    let decision = faults.decide(Verb::Get, "", "pods");
    assert_eq!(decision.latency, Duration::from_millis(50));
    assert_eq!(decision.fail, Some(Fault::TooManyRequests { retry_after_seconds: 3 }));
    let err = fault_error(&Fault::TooManyRequests { retry_after_seconds: 3 }, "", "pods", "").expect("429");
    assert_eq!((err.code, err.retry_after), (429, Some(3)));
}

#[test]
fn rates_replay_with_the_same_seed() {
    let run = |seed| {
        let faults = Faults::default();
        faults.set(FaultConfig { rules: vec![FaultRule::rate(0.3, Fault::InternalError)], seed });
        (0..200).map(|_| faults.decide(Verb::Get, "", "pods").fail.is_some()).collect::<Vec<_>>()
    };
    let a = run(7);
    assert_eq!(a, run(7), "same seed, same faults");
    assert_ne!(a, run(8), "another seed, other faults");
    let failed = a.iter().filter(|f| **f).count();
    assert!((30..=90).contains(&failed), "about 30% of 200 fail, got {failed}");
}

#[test]
fn config_round_trips_through_json() {
    let config = FaultConfig {
        rules: vec![
            FaultRule::next(3, Fault::TooManyRequests { retry_after_seconds: 2 }).for_verb("list"),
            FaultRule::rate(0.1, Fault::Latency { millis: 5 }),
        ],
        seed: 42,
    };
    let text = serde_json::to_string(&config).expect("json");
    assert!(text.contains(r#""kind":"tooManyRequests","retryAfterSeconds":2"#), "{text}");
    assert_eq!(serde_json::from_str::<FaultConfig>(&text).expect("parse"), config);
}

#[test]
fn dropping_watches_notifies_subscribers() {
    let faults = Faults::default();
    let drops = faults.watch_drops();
    assert!(!drops.has_changed().expect("open"));
    faults.drop_watches();
    assert!(drops.has_changed().expect("open"));
}
