//! `limit`/`continue` paging with consistent snapshots: the first page of a list keeps the
//! filtered result (a vector of shared objects, cheap to hold) under a random token; later pages
//! read from that same snapshot, so a paged list is exactly the list at the first page's
//! resourceVersion, as with etcd. Tokens expire after a while, like etcd compaction, and an
//! unknown or expired token is 410 Expired.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;

use crate::error::ApiError;

/// What a continued list resumes from.
#[derive(Clone, Debug)]
pub struct Page {
    pub items: Arc<Vec<Arc<Value>>>,
    pub offset: usize,
    pub resource_version: u64,
    /// The request that started the list (type, namespace, selectors): a token is only valid
    /// for the same list.
    pub list_key: String,
}

struct Held {
    page: Page,
    created: Instant,
}

/// The continue tokens in use.
pub struct Pager {
    tokens: Mutex<HashMap<String, Held>>,
    ttl: Duration,
    max_tokens: usize,
}

pub const EXPIRED_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.";

impl Pager {
    pub fn new(ttl: Duration) -> Self {
        Pager { tokens: Mutex::new(HashMap::new()), ttl, max_tokens: 4096 }
    }

    /// Holds the rest of a list and returns its token.
    pub fn hold(&self, page: Page) -> String {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mut tokens = self.tokens.lock();
        let now = Instant::now();
        let ttl = self.ttl;
        tokens.retain(|_, held| now.duration_since(held.created) < ttl);
        if tokens.len() >= self.max_tokens
            && let Some(oldest) = tokens.iter().min_by_key(|(_, h)| h.created).map(|(k, _)| k.clone())
        {
            tokens.remove(&oldest);
        }
        tokens.insert(token.clone(), Held { page, created: now });
        token
    }

    /// The page a token stands for. A token stays valid until it expires, so a client may retry.
    pub fn resume(&self, token: &str, list_key: &str) -> Result<Page, ApiError> {
        let tokens = self.tokens.lock();
        let held = tokens.get(token).ok_or_else(|| ApiError::expired(EXPIRED_CONTINUE))?;
        if held.created.elapsed() >= self.ttl {
            return Err(ApiError::expired(EXPIRED_CONTINUE));
        }
        if held.page.list_key != list_key {
            return Err(ApiError::bad_request(
                "continue key is not valid: the continue token belongs to a different list request",
            ));
        }
        Ok(held.page.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(list_key: &str) -> Page {
        Page {
            items: Arc::new(vec![Arc::new(json!({"a": 1}))]),
            offset: 1,
            resource_version: 9,
            list_key: list_key.into(),
        }
    }

    #[test]
    fn tokens_resume_their_own_list() {
        let pager = Pager::new(Duration::from_secs(60));
        let token = pager.hold(page("pods"));
        let resumed = pager.resume(&token, "pods").expect("resume");
        assert_eq!((resumed.offset, resumed.resource_version), (1, 9));
        assert!(pager.resume(&token, "pods").is_ok(), "a retry of the same page works");
        assert_eq!(pager.resume(&token, "configmaps").expect_err("other list").code, 400);
    }

    #[test]
    fn unknown_and_old_tokens_are_expired() {
        let pager = Pager::new(Duration::ZERO);
        let token = pager.hold(page("pods"));
        let err = pager.resume(&token, "pods").expect_err("too old");
        assert_eq!((err.code, err.reason, err.message.as_str()), (410, "Expired", EXPIRED_CONTINUE));
        assert_eq!(Pager::new(Duration::from_secs(60)).resume("nope", "pods").expect_err("unknown").code, 410);
    }
}
