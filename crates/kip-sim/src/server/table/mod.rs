//! `meta.k8s.io/v1` `Table` responses, what `kubectl get` asks for: column definitions and one
//! row of cells per object, built-in printers for the built-in types and a CRD's
//! `additionalPrinterColumns` (JSONPath) for custom resources.

mod age;
mod cells;
mod printers;

use jsonpath_rust::JsonPath;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::resources::ResourceType;
use age::age_of;
pub use printers::Printer;

/// `includeObject`: what each row carries besides its cells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    #[default]
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(ApiError::bad_request(format!(
                "includeObject must be one of None, Metadata or Object, not {other:?}"
            ))),
        }
    }
}

/// Builds the rows of one resource type's table.
pub struct TableBuilder {
    printer: Option<Printer>,
    /// For custom resources: (column definition, JSONPath rooted at `$`).
    custom: Vec<(Value, String)>,
    include: IncludeObject,
    now: jiff::Timestamp,
}

impl TableBuilder {
    pub fn new(rt: &ResourceType, include: IncludeObject) -> Self {
        let now = jiff::Timestamp::now();
        if !rt.custom {
            return TableBuilder {
                printer: Some(Printer::for_type(&rt.group, &rt.plural)),
                custom: Vec::new(),
                include,
                now,
            };
        }
        // A CRD without printer columns gets an Age column, as the API server defaults it.
        let columns = if rt.printer_columns.is_empty() {
            vec![json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})]
        } else {
            rt.printer_columns.clone()
        };
        let custom = columns
            .into_iter()
            .map(|c| {
                let path = c.get("jsonPath").and_then(Value::as_str).unwrap_or("").trim();
                let path = path.trim_start_matches('{').trim_end_matches('}');
                (c.clone(), format!("${path}"))
            })
            .collect();
        TableBuilder { printer: None, custom, include, now }
    }

    pub fn column_definitions(&self) -> Vec<Value> {
        let definition = |name: &str, kind: &str, format: &str, priority: u64, description: &str| json!({"name": name, "type": kind, "format": format, "description": description, "priority": priority});
        match self.printer {
            Some(printer) => printer
                .columns()
                .into_iter()
                .map(|c| {
                    let format = if c.name == "Name" { "name" } else { "" };
                    definition(c.name, c.kind, format, c.priority.into(), c.name)
                })
                .collect(),
            None => {
                let mut defs = vec![definition("Name", "string", "name", 0, "Name must be unique within a namespace.")];
                for (c, _) in &self.custom {
                    let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    let priority = c.get("priority").and_then(Value::as_u64).unwrap_or(0);
                    defs.push(definition(
                        &text("name"),
                        &text("type"),
                        &text("format"),
                        priority,
                        &text("description"),
                    ));
                }
                defs
            }
        }
    }

    pub fn row(&self, obj: &Value) -> Value {
        let cells = match self.printer {
            Some(printer) => printer.cells(obj, self.now),
            None => {
                let mut cells = vec![obj.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
                cells.extend(self.custom.iter().map(|(column, path)| self.custom_cell(obj, column, path)));
                cells
            }
        };
        let mut row = json!({"cells": cells});
        match self.include {
            IncludeObject::None => {}
            IncludeObject::Metadata => row["object"] = partial_metadata(obj),
            IncludeObject::Object => row["object"] = obj.clone(),
        }
        row
    }

    fn custom_cell(&self, obj: &Value, column: &Value, path: &str) -> Value {
        let Ok(results) = obj.query(path) else { return Value::Null };
        let kind = column.get("type").and_then(Value::as_str).unwrap_or("string");
        match results.as_slice() {
            [] => Value::Null,
            [single] => match (kind, single) {
                ("date", v) => json!(age_of(Some(v), self.now)),
                ("integer" | "number" | "boolean", v) => (*v).clone(),
                (_, Value::String(s)) => json!(s),
                (_, v) => json!(v.to_string()),
            },
            many => {
                let parts: Vec<String> =
                    many.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), String::from)).collect();
                json!(parts.join(","))
            }
        }
    }

    /// A whole table; `list_meta` is the list's metadata (resourceVersion, continue).
    pub fn table(&self, rows: Vec<Value>, list_meta: Value) -> Value {
        json!({
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": list_meta,
            "columnDefinitions": self.column_definitions(),
            "rows": rows,
        })
    }
}

/// An object reduced to its metadata, as `PartialObjectMetadata`.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

#[cfg(test)]
mod tests;
