//! Names: RFC 1123 labels and subdomains, qualified names (label and annotation keys) and label
//! values. Each check returns the list of problems, empty when the value is valid.

const LABEL_MAX: usize = 63;
const SUBDOMAIN_MAX: usize = 253;

const DNS1123_LABEL_HELP: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN_HELP: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const QUALIFIED_NAME_HELP: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_HELP: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

fn too_long(max: usize) -> String {
    format!("must be no more than {max} characters")
}

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn matches_label_shape(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(is_lower_alnum)
        && s.ends_with(is_lower_alnum)
        && s.chars().all(|c| is_lower_alnum(c) || c == '-')
}

/// Names of containers, namespaces, ports: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63.
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > LABEL_MAX {
        problems.push(too_long(LABEL_MAX));
    }
    if !matches_label_shape(value) {
        problems.push(DNS1123_LABEL_HELP.to_string());
    }
    problems
}

/// Names of most objects: dot-separated RFC 1123 labels, at most 253 characters.
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > SUBDOMAIN_MAX {
        problems.push(too_long(SUBDOMAIN_MAX));
    }
    if value.is_empty() || !value.split('.').all(matches_label_shape) {
        problems.push(DNS1123_SUBDOMAIN_HELP.to_string());
    }
    problems
}

fn matches_qualified_shape(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    !s.is_empty()
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || c == '-' || c == '_' || c == '.')
}

/// Label and annotation keys: an optional DNS subdomain prefix and `/`, then a name of at most
/// 63 characters.
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let (prefix, name) = match value.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, value),
    };
    if name.contains('/') {
        problems.push(format!(
            "a qualified name {QUALIFIED_NAME_HELP} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ));
        return problems;
    }
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            problems.push("prefix part must be non-empty".to_string());
        } else {
            problems.extend(dns1123_subdomain(prefix).into_iter().map(|p| format!("prefix part {p}")));
        }
    }
    if name.is_empty() {
        problems.push("name part must be non-empty".to_string());
    } else {
        if name.len() > LABEL_MAX {
            problems.push(format!("name part {}", too_long(LABEL_MAX)));
        }
        if !matches_qualified_shape(name) {
            problems.push(QUALIFIED_NAME_HELP.to_string());
        }
    }
    problems
}

/// Label values: empty, or at most 63 alphanumerics, `-`, `_`, `.`, starting and ending
/// alphanumeric.
pub fn label_value(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > LABEL_MAX {
        problems.push(too_long(LABEL_MAX));
    }
    if !value.is_empty() && !matches_qualified_shape(value) {
        problems.push(LABEL_VALUE_HELP.to_string());
    }
    problems
}

/// A valid RFC 1123 label close to `value` (lower case, other characters turned into `-`,
/// trimmed to 63), or `None` when nothing usable is left.
pub fn suggest_dns1123_label(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    for c in value.chars().flat_map(char::to_lowercase) {
        let c = if is_lower_alnum(c) { c } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let trimmed: String = out.trim_matches('-').chars().take(LABEL_MAX).collect();
    let trimmed = trimmed.trim_end_matches('-').to_string();
    (!trimmed.is_empty()).then_some(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns1123_labels() {
        for ok in ["a", "theia-rhel8", "123-abc", &"a".repeat(63)] {
            assert!(dns1123_label(ok).is_empty(), "{ok} should be valid");
        }
        for bad in ["", "A", "-a", "a-", "a_b", "a.b", "théia", &"a".repeat(64)] {
            assert!(!dns1123_label(bad).is_empty(), "{bad} should be invalid");
        }
        assert_eq!(dns1123_label(&"a".repeat(64)), vec!["must be no more than 63 characters".to_string()]);
    }

    #[test]
    fn dns1123_subdomains() {
        for ok in ["example.com", "k8s-image-puller", "a.b-c.d"] {
            assert!(dns1123_subdomain(ok).is_empty(), "{ok} should be valid");
        }
        for bad in ["", "a..b", ".a", "a.", "Example.com", "a_b", &"a".repeat(254)] {
            assert!(!dns1123_subdomain(bad).is_empty(), "{bad} should be invalid");
        }
    }

    #[test]
    fn qualified_names() {
        for ok in ["app", "app.kubernetes.io/name", "test", "My_Name.1", "kip.dev/cached"] {
            assert!(qualified_name(ok).is_empty(), "{ok} should be valid");
        }
        for bad in
            ["", "/name", "prefix/", "a/b/c", "-a", "a-", "Bad_Prefix/x", "a b", &format!("x/{}", "a".repeat(64))]
        {
            assert!(!qualified_name(bad).is_empty(), "{bad} should be invalid");
        }
    }

    #[test]
    fn label_values() {
        for ok in ["", "daemonset-test", "image-puller", "A.b_c-1"] {
            assert!(label_value(ok).is_empty(), "{ok} should be valid");
        }
        for bad in ["-a", "a-", "a b", "a/b", &"a".repeat(64)] {
            assert!(!label_value(bad).is_empty(), "{bad} should be invalid");
        }
    }

    #[test]
    fn suggestions_are_valid_labels() {
        let cases = [
            ("Theia_RHEL8", Some("theia-rhel8")),
            ("plugin java8", Some("plugin-java8")),
            ("--x--", Some("x")),
            ("a..b", Some("a-b")),
            ("___", None),
        ];
        for (input, expected) in cases {
            let suggestion = suggest_dns1123_label(input);
            assert_eq!(suggestion.as_deref(), expected, "{input}");
            if let Some(s) = suggestion {
                assert!(dns1123_label(&s).is_empty());
            }
        }
        let long = suggest_dns1123_label(&format!("{}-b", "a".repeat(62))).unwrap_or_default();
        assert_eq!(long.len(), 62, "a trailing dash left by truncation is trimmed");
    }
}
