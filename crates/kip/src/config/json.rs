//! JSON-valued variables (`NODE_SELECTOR`, `DAEMONSET_ANNOTATIONS`, `AFFINITY`, `TOLERATIONS`)
//! in three passes, each reporting in its own terms: syntax (line, column and a caret excerpt),
//! shape (the JSON path and the expected type), and unknown fields. The last pass matters because
//! the Kubernetes types skip fields they do not know, so a typo such as `nodeSelecterTerms` would
//! otherwise silently drop a scheduling rule.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::problem::{Location, Problem, caret_excerpt};

/// Parses the syntax; `None` after pushing the problem.
pub(crate) fn parse_value(variable: &str, raw: &str, problems: &mut Vec<Problem>) -> Option<Value> {
    match serde_json::from_str::<Value>(raw) {
        Ok(value) => Some(value),
        Err(error) => {
            let (line, column) = (error.line(), error.column());
            // serde_json appends " at line L column C"; the location goes in front instead.
            let message = error.to_string();
            let message = message.strip_suffix(&format!(" at line {line} column {column}")).unwrap_or(&message);
            let mut problem = Problem::new(variable, format!("is not valid JSON: {message}"))
                .at(Location::Position { line, column })
                .accepted(accepted_json(variable));
            if let Some(excerpt) = caret_excerpt(raw, line, column) {
                problem = problem.excerpt(excerpt);
            }
            problems.push(problem);
            None
        }
    }
}

/// Deserializes into `T`; on the wrong shape pushes a problem at the JSON path of the first
/// mismatch (serde stops there).
pub(crate) fn typed<T: DeserializeOwned>(variable: &str, value: &Value, problems: &mut Vec<Problem>) -> Option<T> {
    typed_at(variable, value, "$", problems)
}

/// [`typed`] for a value found at `prefix` inside the variable's JSON.
pub(crate) fn typed_at<T: DeserializeOwned>(
    variable: &str,
    value: &Value,
    prefix: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value.clone()) {
        Ok(typed) => Some(typed),
        Err(error) => {
            let path = json_path(prefix, &error.path().to_string());
            problems.push(
                Problem::new(variable, format!("has the wrong shape: {}", error.inner()))
                    .at(Location::Path(path))
                    .accepted(accepted_json(variable)),
            );
            None
        }
    }
}

/// Joins `prefix` and a `serde_path_to_error` path, which is `.` for the root and `a.b[0]` below.
fn json_path(prefix: &str, path: &str) -> String {
    match path {
        "." | "" => prefix.to_string(),
        path if path.starts_with('[') => format!("{prefix}{path}"),
        path => format!("{prefix}.{path}"),
    }
}

fn accepted_json(variable: &str) -> &'static str {
    use super::vars::{AFFINITY, DAEMONSET_ANNOTATIONS, NODE_SELECTOR, TOLERATIONS};
    match variable {
        NODE_SELECTOR => r#"a JSON object of label keys to values, e.g. {"node-role.kubernetes.io/worker":""}"#,
        DAEMONSET_ANNOTATIONS => {
            r#"a JSON object of annotation keys to string values, e.g. {"example.com/team":"dev"}"#
        }
        AFFINITY => {
            r#"a JSON core/v1 Affinity, e.g. {"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/os","operator":"In","values":["linux"]}]}]}}}"#
        }
        TOLERATIONS => {
            r#"a JSON array of core/v1 Tolerations, e.g. [{"key":"dedicated","operator":"Equal","value":"builds","effect":"NoSchedule"}]"#
        }
        _ => "JSON",
    }
}

/// Pushes a problem for every object field in `value` that the schema of `T` does not define,
/// with the closest defined name when there is one.
pub(crate) fn unknown_fields<T: JsonSchema>(variable: &str, value: &Value, problems: &mut Vec<Problem>) {
    // Inlined, so that the walk needs no `$ref` resolution (the Kubernetes types kip reads here
    // are not recursive).
    let schema = SchemaSettings::draft2020_12()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>();
    walk(variable, value, schema.as_value(), "$", problems);
}

fn walk(variable: &str, value: &Value, schema: &Value, path: &str, problems: &mut Vec<Problem>) {
    match value {
        Value::Object(fields) => {
            if let Some(Value::Object(properties)) = schema.get("properties") {
                for (name, field) in fields {
                    let field_path = format!("{path}.{name}");
                    match properties.get(name) {
                        Some(field_schema) => walk(variable, field, field_schema, &field_path, problems),
                        None => problems.push(unknown_field(variable, name, properties.keys(), field_path)),
                    }
                }
            } else if let Some(values_schema) = schema.get("additionalProperties").filter(|s| s.is_object()) {
                for (name, field) in fields {
                    walk(variable, field, values_schema, &format!("{path}.{name}"), problems);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    walk(variable, item, item_schema, &format!("{path}[{index}]"), problems);
                }
            }
        }
        _ => {}
    }
}

fn unknown_field<'a>(variable: &str, name: &str, known: impl Iterator<Item = &'a String>, path: String) -> Problem {
    let known: Vec<&str> = known.map(String::as_str).collect();
    let closest = known
        .iter()
        .map(|candidate| (*candidate, strsim::damerau_levenshtein(&name.to_lowercase(), &candidate.to_lowercase())))
        .filter(|(candidate, distance)| *distance <= (candidate.len() / 4).max(2))
        .min_by_key(|(_, distance)| *distance);
    let message = match closest {
        Some((candidate, _)) => format!("unknown field {name:?}; did you mean {candidate:?}?"),
        None => format!("unknown field {name:?}"),
    };
    Problem::new(variable, message).at(Location::Path(path)).accepted(format!("fields {}", known.join(", ")))
}
