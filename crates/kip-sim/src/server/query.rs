//! Query parameters, decoded as the API server decodes them (form-urlencoded: `+` is a space,
//! percent escapes), with typed accessors that answer 400 on a malformed value.

use std::collections::HashMap;

use crate::error::ApiError;

/// The decoded query of one request; when a parameter repeats, the first value counts.
#[derive(Clone, Debug, Default)]
pub struct Query {
    params: HashMap<String, String>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let mut params = HashMap::new();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            params.entry(key.into_owned()).or_insert_with(|| value.into_owned());
        }
        Query { params }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// A non-empty value.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// Booleans as the API server reads them (`true`, `1`, ... ; absent is false).
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(false),
            Some("true" | "1" | "True" | "TRUE" | "t" | "T") => Ok(true),
            Some("false" | "0" | "False" | "FALSE" | "f" | "F") => Ok(false),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid value {other:?} for query parameter {key:?}: expected true or false"
            ))),
        }
    }

    pub fn integer(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.non_empty(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value {v:?} for query parameter {key:?}: expected an integer"))
            }),
        }
    }

    /// `dryRun`: only `All` is defined.
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "Invalid dryRun value {other:?}: the only supported value is \"All\""
            ))),
        }
    }

    /// `resourceVersion` as a number; `None` when unset, empty or `0` (any version will do).
    pub fn resource_version(&self) -> Result<Option<u64>, ApiError> {
        match self.non_empty("resourceVersion") {
            None | Some("0") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {v:?}, expected a number"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_urlencoded_decoding() {
        let cases = [
            ("labelSelector=app+in+(a,b)", "labelSelector", "app in (a,b)"),
            ("labelSelector=app%3Dweb%2Ctier%21%3Ddb", "labelSelector", "app=web,tier!=db"),
            ("&watch=true", "watch", "true"),
            ("fieldSelector=metadata.name%3D%3Dx", "fieldSelector", "metadata.name==x"),
            ("a=1&a=2", "a", "1"),
        ];
        for (raw, key, want) in cases {
            assert_eq!(Query::parse(Some(raw)).get(key), Some(want), "{raw}");
        }
    }

    #[test]
    fn flags_and_numbers() {
        let q = Query::parse(Some("watch=1&allowWatchBookmarks=true&limit=5&bad=x&rv=0&resourceVersion=17"));
        assert!(q.flag("watch").unwrap());
        assert!(q.flag("allowWatchBookmarks").unwrap());
        assert!(!q.flag("missing").unwrap());
        assert_eq!(q.flag("bad").unwrap_err().code, 400);
        assert_eq!(q.integer("limit").unwrap(), Some(5));
        assert_eq!(q.integer("bad").unwrap_err().code, 400);
        assert_eq!(q.resource_version().unwrap(), Some(17));
        assert_eq!(Query::parse(Some("resourceVersion=0")).resource_version().unwrap(), None);
        assert_eq!(Query::parse(Some("resourceVersion=x")).resource_version().unwrap_err().code, 400);
    }

    #[test]
    fn dry_run_accepts_only_all() {
        assert!(Query::parse(Some("dryRun=All")).dry_run().unwrap());
        assert!(!Query::parse(None).dry_run().unwrap());
        assert_eq!(Query::parse(Some("dryRun=Some")).dry_run().unwrap_err().code, 400);
    }
}
