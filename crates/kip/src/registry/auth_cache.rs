//! What the client remembers about authenticating to each registry, so that a refresh of many
//! images costs few requests: the scheme a registry asked for last (so later requests carry
//! credentials or a token at once instead of first collecting a 401), and Bearer tokens per
//! registry, scope and user until shortly before they expire.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use secrecy::SecretString;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::credentials::BasicCredentials;

/// How long a token lives when the token endpoint does not say (the distribution token
/// specification's default).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// The authentication scheme a registry asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KnownScheme {
    Basic,
    Bearer { realm: String, service: Option<String> },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TokenKey {
    registry: String,
    scope: String,
    /// A token carries the identity it was issued to, so each set of credentials has its
    /// own: a hash of username and password, never shown, so that a wrong password for a
    /// known user is not covered up by a token issued for the right one.
    identity: Option<[u8; 32]>,
}

struct CachedToken {
    token: SecretString,
    reuse_until: Instant,
}

#[derive(Default)]
pub(crate) struct AuthCache {
    schemes: Mutex<HashMap<String, KnownScheme>>,
    tokens: Mutex<HashMap<TokenKey, CachedToken>>,
}

impl AuthCache {
    pub(crate) fn scheme(&self, registry: &str) -> Option<KnownScheme> {
        self.schemes.lock().get(registry).cloned()
    }

    pub(crate) fn remember_scheme(&self, registry: &str, scheme: KnownScheme) {
        self.schemes.lock().insert(registry.to_owned(), scheme);
    }

    /// A token still worth sending, if one is cached.
    pub(crate) fn token(
        &self,
        registry: &str,
        scope: &str,
        credentials: Option<&BasicCredentials>,
    ) -> Option<SecretString> {
        let key = token_key(registry, scope, credentials);
        let mut tokens = self.tokens.lock();
        match tokens.get(&key) {
            Some(cached) if Instant::now() < cached.reuse_until => Some(cached.token.clone()),
            Some(_) => {
                tokens.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Keeps a token for reuse during most of its lifetime; the margin covers clock skew and
    /// the time a request spends in flight.
    pub(crate) fn store_token(
        &self,
        registry: &str,
        scope: &str,
        credentials: Option<&BasicCredentials>,
        token: SecretString,
        lifetime: Duration,
    ) {
        let now = Instant::now();
        let mut tokens = self.tokens.lock();
        tokens.retain(|_, cached| now < cached.reuse_until);
        tokens.insert(
            token_key(registry, scope, credentials),
            CachedToken { token, reuse_until: now + lifetime * 9 / 10 },
        );
    }

    /// Drops a token the registry refused.
    pub(crate) fn forget_token(&self, registry: &str, scope: &str, credentials: Option<&BasicCredentials>) {
        self.tokens.lock().remove(&token_key(registry, scope, credentials));
    }
}

impl fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthCache")
            .field("schemes", &*self.schemes.lock())
            .field("cached_tokens", &self.tokens.lock().len())
            .finish()
    }
}

fn token_key(registry: &str, scope: &str, credentials: Option<&BasicCredentials>) -> TokenKey {
    let identity = credentials.map(|credentials| {
        let mut hasher = Sha256::new();
        hasher.update(credentials.username().as_bytes());
        hasher.update([0]);
        hasher.update(credentials.password().as_bytes());
        hasher.finalize().into()
    });
    TokenKey { registry: registry.to_owned(), scope: scope.to_owned(), identity }
}

/// Reads a token endpoint's answer: `token` (or OAuth2's `access_token`) and `expires_in`.
/// Error messages describe the shape only, never the content.
pub(crate) fn parse_token_response(body: &[u8]) -> Result<(SecretString, Duration), String> {
    let document: Value =
        serde_json::from_slice(body).map_err(|_| "the token endpoint's answer is not JSON".to_owned())?;
    let token = ["token", "access_token"]
        .iter()
        .find_map(|field| document.get(field).and_then(Value::as_str).filter(|token| !token.is_empty()))
        .ok_or_else(|| "the token endpoint's answer has no \"token\" or \"access_token\" string".to_owned())?;
    let lifetime = match document.get("expires_in") {
        None | Some(Value::Null) => DEFAULT_TOKEN_LIFETIME,
        Some(value) => value
            .as_u64()
            .map(Duration::from_secs)
            .ok_or_else(|| "the token endpoint's \"expires_in\" is not a whole number of seconds".to_owned())?,
    };
    Ok((SecretString::from(token.to_owned()), lifetime))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    #[test]
    fn reads_token_answers() {
        type Expected = Result<(&'static str, u64), &'static str>;
        let cases: &[(&str, Expected)] = &[
            (r#"{"token": "abc", "expires_in": 300}"#, Ok(("abc", 300))),
            (r#"{"access_token": "xyz"}"#, Ok(("xyz", 60))),
            (r#"{"token": "", "access_token": "second"}"#, Ok(("second", 60))),
            (r#"{"token": "abc", "expires_in": "soon"}"#, Err("not a whole number")),
            (r#"{"expires_in": 300}"#, Err("no \"token\"")),
            ("<html>", Err("not JSON")),
        ];
        for (body, expected) in cases {
            let parsed = parse_token_response(body.as_bytes());
            match (parsed, expected) {
                (Ok((token, lifetime)), Ok((want_token, want_seconds))) => {
                    assert_eq!(token.expose_secret(), *want_token, "{body}");
                    assert_eq!(lifetime, Duration::from_secs(*want_seconds), "{body}");
                }
                (Err(message), Err(words)) => assert!(message.contains(words), "{body}: {message}"),
                (parsed, _) => panic!("{body}: unexpected {:?}", parsed.map(|(_, lifetime)| lifetime)),
            }
        }
    }

    #[test]
    fn tokens_are_kept_per_registry_scope_and_credentials_until_near_expiry() {
        let cache = AuthCache::default();
        let scope = "repository:app:pull";
        let alice = BasicCredentials::new("alice", "right");
        let alice_wrong = BasicCredentials::new("alice", "wrong");
        let bob = BasicCredentials::new("bob", "right");
        cache.store_token("reg", scope, Some(&alice), SecretString::from("for-alice"), Duration::from_secs(300));
        cache.store_token("reg", scope, None, SecretString::from("anonymous"), Duration::from_secs(300));
        cache.store_token("reg", "repository:other:pull", None, SecretString::from("expired"), Duration::ZERO);

        let shown = |token: Option<SecretString>| token.map(|t| t.expose_secret().to_owned());
        assert_eq!(shown(cache.token("reg", scope, Some(&alice))).as_deref(), Some("for-alice"));
        assert_eq!(shown(cache.token("reg", scope, None)).as_deref(), Some("anonymous"));
        assert_eq!(shown(cache.token("reg", scope, Some(&bob))), None);
        assert_eq!(shown(cache.token("reg", scope, Some(&alice_wrong))), None);
        assert_eq!(shown(cache.token("other-reg", scope, None)), None);
        assert_eq!(shown(cache.token("reg", "repository:other:pull", None)), None);

        cache.forget_token("reg", scope, Some(&alice));
        assert_eq!(shown(cache.token("reg", scope, Some(&alice))), None);
        let debug = format!("{cache:?}");
        assert!(!debug.contains("anonymous") && debug.contains("cached_tokens: 1"), "{debug}");
    }
}
