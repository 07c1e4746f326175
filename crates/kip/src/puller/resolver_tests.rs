//! How a round of lookups updates what kip knows: the failure rules.

use std::time::Duration;

use super::*;

const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn image(name: &str) -> CachedImage {
    CachedImage { name: name.into(), image: format!("reg.io/{name}:1") }
}

fn ok(name: &str, digest: &str) -> (CachedImage, Result<Resolved, RegistryError>) {
    (image(name), Ok(Resolved { digest: digest.into(), media_type: None }))
}

fn unauthorized(name: &str) -> (CachedImage, Result<Resolved, RegistryError>) {
    let error = RegistryError::Unauthorized {
        registry: "reg.io".into(),
        image: format!("reg.io/{name}:1"),
        credentials_source: None,
        reason: "HTTP 401".into(),
    };
    (image(name), Err(error))
}

fn limited(name: &str, seconds: u64) -> (CachedImage, Result<Resolved, RegistryError>) {
    let error = RegistryError::RateLimited {
        registry: "reg.io".into(),
        image: format!("reg.io/{name}:1"),
        retry_after: Duration::from_secs(seconds),
    };
    (image(name), Err(error))
}

#[test]
fn resolved_digests_are_recorded_and_a_repeat_changes_nothing() {
    let mut book = BookState::default();
    let images = [image("a"), image("b")];
    let first = book.record(&images, vec![ok("a", D1), ok("b", D1)]);
    assert!(first.changed);
    assert_eq!(book.resolved["a"], KnownDigest { image: "reg.io/a:1".into(), digest: D1.into() });
    let again = book.record(&images, vec![ok("a", D1), ok("b", D1)]);
    assert!(!again.changed, "the same digests: nothing to reconcile");
    let moved = book.record(&images, vec![ok("a", D2), ok("b", D1)]);
    assert!(moved.changed);
    assert_eq!(book.resolved["a"].digest, D2);
}

#[test]
fn a_failure_keeps_the_last_digest_and_is_reported_once_per_episode() {
    let mut book = BookState::default();
    let images = [image("a")];
    book.record(&images, vec![ok("a", D1)]);
    let failed = book.record(&images, vec![unauthorized("a")]);
    assert!(!failed.changed, "a failure never changes what is in force");
    assert_eq!(book.resolved["a"].digest, D1);
    assert_eq!(failed.newly_failing.len(), 1);
    assert_eq!(book.failing["a"], ("reg.io/a:1".to_string(), ErrorCategory::Unauthorized));
    let still = book.record(&images, vec![unauthorized("a")]);
    assert!(still.newly_failing.is_empty(), "the same failure again: no new event");
    let other = book.record(&images, vec![limited("a", 30)]);
    assert_eq!(other.newly_failing.len(), 1, "a different category is news");
    assert_eq!(other.retry_after, Some(Duration::from_secs(30)));
    let healed = book.record(&images, vec![ok("a", D1)]);
    assert_eq!(healed.recovered, [image("a")]);
    assert!(book.failing.is_empty());
}

#[test]
fn the_first_lookup_counts_even_when_it_fails() {
    let mut book = BookState::default();
    let images = [image("a")];
    assert!(book.record(&images, vec![unauthorized("a")]).changed, "attempted: pinning stops waiting");
    assert!(!book.record(&images, vec![unauthorized("a")]).changed);
    assert!(book.attempted.contains(&("a".to_string(), "reg.io/a:1".to_string())));
    assert!(book.resolved.is_empty());
}

#[test]
fn the_longest_retry_after_wins() {
    let mut book = BookState::default();
    let outcome = book.record(&[image("a"), image("b")], vec![limited("a", 5), limited("b", 40)]);
    assert_eq!(outcome.retry_after, Some(Duration::from_secs(40)));
}

#[test]
fn images_no_longer_configured_are_forgotten() {
    let mut book = BookState::default();
    book.record(&[image("a"), image("b")], vec![ok("a", D1), unauthorized("b")]);
    book.record(&[image("a")], vec![ok("a", D1)]);
    assert_eq!(book.resolved.keys().collect::<Vec<_>>(), ["a"]);
    assert!(book.failing.is_empty());
    assert_eq!(book.attempted.len(), 1);
}

#[test]
fn the_book_signals_changes_only() {
    let book = DigestBook::default();
    let mut updates = book.updates();
    book.record(&[image("a")], vec![ok("a", D1)]);
    assert!(updates.has_changed().unwrap_or(false));
    updates.mark_unchanged();
    book.record(&[image("a")], vec![ok("a", D1)]);
    assert!(!updates.has_changed().unwrap_or(true));
    assert_eq!(book.snapshot().resolved["a"].digest, D1);
}
