//! What the API server requires of a CustomResourceDefinition before it stores one, and the
//! defaults it fills in. The CRD controller checks the same rules, so a CRD that reached the
//! store without them is reported (`NamesAccepted: False`) rather than served.

use serde_json::{Value, json};

use crate::error::Cause;

const DNS1035: &str = "a lowercase RFC 1035 label must consist of lower case alphanumeric characters or '-', \
                       start with an alphabetic character, and end with an alphanumeric character";

fn text<'a>(obj: &'a Value, pointer: &str) -> Option<&'a str> {
    obj.pointer(pointer).and_then(Value::as_str)
}

/// Fills `spec.names.singular` (the kind, lower case) and `spec.names.listKind`
/// (`<kind>List`) when they are missing, as the API server's defaulting does.
pub fn default_crd(crd: &mut Value) {
    let Some(names) = crd.pointer_mut("/spec/names").and_then(Value::as_object_mut) else { return };
    let Some(kind) = names.get("kind").and_then(Value::as_str).map(str::to_string) else { return };
    let empty = |v: Option<&Value>| v.and_then(Value::as_str).is_none_or(str::is_empty);
    if empty(names.get("singular")) {
        names.insert("singular".into(), json!(kind.to_lowercase()));
    }
    if empty(names.get("listKind")) {
        names.insert("listKind".into(), json!(format!("{kind}List")));
    }
}

fn is_dns1035_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.last().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

/// A lower-case label field (plural, singular, a short name, a category).
fn check_label(causes: &mut Vec<Cause>, field: &str, value: &str) {
    if !is_dns1035_label(value) {
        causes.push(Cause::invalid(field, value, DNS1035));
    }
}

/// A kind field: any case, otherwise a label.
fn check_kind(causes: &mut Vec<Cause>, field: &str, value: Option<&str>) {
    match value {
        None | Some("") => causes.push(Cause::required(field)),
        Some(kind) if !is_dns1035_label(&kind.to_lowercase()) => {
            causes.push(Cause::invalid(
                field,
                kind,
                format!("may have mixed case, but should otherwise match: {DNS1035}"),
            ));
        }
        Some(_) => {}
    }
}

fn strings<'a>(crd: &'a Value, pointer: &str) -> Vec<&'a str> {
    crd.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The reasons the API server would refuse this CRD (empty when it is acceptable). Expects the
/// defaults of [`default_crd`] to be filled in.
pub fn validate_crd(crd: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let group = text(crd, "/spec/group").unwrap_or("");
    let plural = text(crd, "/spec/names/plural").unwrap_or("");
    let name = text(crd, "/metadata/name").unwrap_or("");
    if name != format!("{plural}.{group}") {
        causes.push(Cause::invalid("metadata.name", name, r#"must be spec.names.plural+"."+spec.group"#));
    }
    if group.is_empty() {
        causes.push(Cause::required("spec.group"));
    } else if !group.contains('.') {
        causes.push(Cause::invalid("spec.group", group, "should be a domain with at least one dot"));
    } else if !is_dns1123_subdomain(group) {
        causes.push(Cause::invalid("spec.group", group, "must be a lowercase RFC 1123 subdomain"));
    }
    if plural.is_empty() {
        causes.push(Cause::required("spec.names.plural"));
    } else {
        check_label(&mut causes, "spec.names.plural", plural);
    }
    if let Some(singular) = text(crd, "/spec/names/singular").filter(|s| !s.is_empty()) {
        check_label(&mut causes, "spec.names.singular", singular);
    }
    let kind = text(crd, "/spec/names/kind");
    let list_kind = text(crd, "/spec/names/listKind");
    check_kind(&mut causes, "spec.names.kind", kind);
    check_kind(&mut causes, "spec.names.listKind", list_kind);
    if kind.is_some_and(|k| !k.is_empty()) && kind == list_kind {
        causes.push(Cause::invalid(
            "spec.names.listKind",
            list_kind.unwrap_or(""),
            "kind and listKind may not be the same",
        ));
    }
    for (i, short) in strings(crd, "/spec/names/shortNames").into_iter().enumerate() {
        check_label(&mut causes, &format!("spec.names.shortNames[{i}]"), short);
    }
    for (i, category) in strings(crd, "/spec/names/categories").into_iter().enumerate() {
        check_label(&mut causes, &format!("spec.names.categories[{i}]"), category);
    }
    match text(crd, "/spec/scope") {
        Some("Cluster" | "Namespaced") => {}
        None | Some("") => causes.push(Cause::required("spec.scope")),
        Some(other) => causes.push(Cause {
            reason: "FieldValueNotSupported",
            field: "spec.scope".into(),
            message: format!(r#"Unsupported value: {other:?}: supported values: "Cluster", "Namespaced""#),
        }),
    }
    check_versions(&mut causes, crd);
    causes
}

fn check_versions(causes: &mut Vec<Cause>, crd: &Value) {
    let versions = crd.pointer("/spec/versions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    if versions.is_empty() {
        causes.push(Cause::required("spec.versions"));
        return;
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, version) in versions.iter().enumerate() {
        let name = version.get("name").and_then(Value::as_str).unwrap_or("");
        let field = format!("spec.versions[{i}].name");
        if name.is_empty() {
            causes.push(Cause::required(field));
        } else if seen.contains(&name) {
            causes.push(Cause::duplicate(field, name));
        } else {
            check_label(causes, &field, name);
            seen.push(name);
        }
    }
    let storage = versions.iter().filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true)).count();
    if storage != 1 {
        causes.push(Cause::invalid(
            "spec.versions",
            &format!("{storage} storage versions"),
            "must have exactly one version marked as storage version",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd() -> Value {
        json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [{"name": "v1", "served": true, "storage": true}]
            }
        })
    }

    #[test]
    fn defaults_singular_and_list_kind() {
        let mut c = crd();
        default_crd(&mut c);
        assert_eq!(c["spec"]["names"]["singular"], "widget");
        assert_eq!(c["spec"]["names"]["listKind"], "WidgetList");
        assert!(validate_crd(&c).is_empty(), "{:?}", validate_crd(&c));
    }

    /// A rule's name, a change that breaks it, and the field the refusal must name.
    type Case = (&'static str, fn(&mut Value), &'static str);

    #[test]
    fn each_rule_names_its_field() {
        let cases: Vec<Case> = vec![
            ("name must be plural.group", |c| c["metadata"]["name"] = json!("widget.example.com"), "metadata.name"),
            ("group needs a dot", |c| c["spec"]["group"] = json!("example"), "spec.group"),
            ("group required", |c| c["spec"]["group"] = json!(""), "spec.group"),
            ("plural lower case", |c| c["spec"]["names"]["plural"] = json!("Widgets"), "spec.names.plural"),
            ("singular a label", |c| c["spec"]["names"]["singular"] = json!("wid_get"), "spec.names.singular"),
            ("kind required", |c| c["spec"]["names"]["kind"] = json!(""), "spec.names.kind"),
            ("kind a label in any case", |c| c["spec"]["names"]["kind"] = json!("Wid.get"), "spec.names.kind"),
            ("listKind differs from kind", |c| c["spec"]["names"]["listKind"] = json!("Widget"), "spec.names.listKind"),
            ("short names are labels", |c| c["spec"]["names"]["shortNames"] = json!(["W"]), "spec.names.shortNames[0]"),
            ("scope is known", |c| c["spec"]["scope"] = json!("Global"), "spec.scope"),
            ("versions required", |c| c["spec"]["versions"] = json!([]), "spec.versions"),
            (
                "one storage version",
                |c| c["spec"]["versions"] = json!([{"name": "v1", "storage": true}, {"name": "v2", "storage": true}]),
                "spec.versions",
            ),
            (
                "version names unique",
                |c| c["spec"]["versions"] = json!([{"name": "v1", "storage": true}, {"name": "v1"}]),
                "spec.versions[1].name",
            ),
        ];
        for (name, change, field) in cases {
            let mut c = crd();
            default_crd(&mut c);
            change(&mut c);
            let causes = validate_crd(&c);
            assert!(causes.iter().any(|cause| cause.field == field), "{name}: {causes:?}");
        }
    }
}
