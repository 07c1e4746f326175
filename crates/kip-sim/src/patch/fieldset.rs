//! Sets of field paths, in the form `metadata.managedFields` records them (`FieldsV1`), with
//! the set algebra server-side apply needs (union, difference, intersection).
//!
//! A path is a sequence of elements spelled as in `FieldsV1`: `f:name` (a field or map key),
//! `k:{"name":"c"}` (the element of a keyed list), `v:"x"` (a value of a set list) and `i:0`
//! (a list position). Every node of the tree may itself be a member of the set; in `FieldsV1`
//! a member node with children carries a `"."` entry and a member leaf is an empty object.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One step of a field path, in its `FieldsV1` spelling.
pub type PathElement = String;

pub fn field(name: &str) -> PathElement {
    format!("f:{name}")
}

/// The element of a keyed list: the key fields and their values, as a JSON object (keys sorted,
/// as serde_json maps are).
pub fn keyed(key: &Map<String, Value>) -> PathElement {
    format!("k:{}", Value::Object(key.clone()))
}

pub fn set_value(value: &Value) -> PathElement {
    format!("v:{value}")
}

pub fn index(position: usize) -> PathElement {
    format!("i:{position}")
}

/// A set of field paths, as a tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    /// The path leading to this node is itself in the set.
    pub member: bool,
    pub children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// True when no path at all is in the set.
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    pub fn child(&self, element: &str) -> Option<&FieldSet> {
        self.children.get(element)
    }

    pub fn child_mut(&mut self, element: &str) -> &mut FieldSet {
        self.children.entry(element.to_string()).or_default()
    }

    /// Adds one path (and nothing below it).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path.split_first() {
            None => self.member = true,
            Some((first, rest)) => self.child_mut(first).insert(rest),
        }
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.union_in_place(other);
        out
    }

    pub fn union_in_place(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (element, theirs) in &other.children {
            self.child_mut(element).union_in_place(theirs);
        }
    }

    /// The paths of `self` that are not paths of `other` (path by path: removing a path does not
    /// remove the paths below it).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet { member: self.member && !other.member, children: BTreeMap::new() };
        for (element, mine) in &self.children {
            let rest = match other.children.get(element) {
                Some(theirs) => mine.difference(theirs),
                None => mine.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(element.clone(), rest);
            }
        }
        out
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet { member: self.member && other.member, children: BTreeMap::new() };
        for (element, mine) in &self.children {
            if let Some(theirs) = other.children.get(element) {
                let both = mine.intersection(theirs);
                if !both.is_empty() {
                    out.children.insert(element.clone(), both);
                }
            }
        }
        out
    }

    /// Every path of the set, parents before their children, siblings in order.
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        if self.member && !prefix.is_empty() {
            out.push(prefix.clone());
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// Reads a `fieldsV1` object. Anything that is not an object is an empty set.
    pub fn from_fields_v1(value: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        let Some(object) = value.as_object() else { return set };
        if object.is_empty() {
            set.member = true;
        }
        for (key, child) in object {
            if key == "." {
                set.member = true;
            } else {
                set.children.insert(key.clone(), FieldSet::from_fields_v1(child));
            }
        }
        set
    }

    /// Writes the set as a `fieldsV1` object.
    pub fn to_fields_v1(&self) -> Value {
        let mut object = Map::new();
        let children: Vec<(&PathElement, &FieldSet)> =
            self.children.iter().filter(|(_, child)| !child.is_empty()).collect();
        if self.member && !children.is_empty() {
            object.insert(".".into(), Value::Object(Map::new()));
        }
        for (element, child) in children {
            object.insert(element.clone(), child.to_fields_v1());
        }
        Value::Object(object)
    }
}

/// A path as the API server prints it in apply conflicts: `.spec.containers[name="c"].image`.
pub fn display_path(path: &[PathElement]) -> String {
    path.iter().map(|element| display_element(element)).collect()
}

fn display_element(element: &str) -> String {
    if let Some(name) = element.strip_prefix("f:") {
        return format!(".{name}");
    }
    if let Some(position) = element.strip_prefix("i:") {
        return format!("[{position}]");
    }
    if let Some(json) = element.strip_prefix("v:") {
        let value = serde_json::from_str(json).unwrap_or(Value::Null);
        return format!("[={}]", display_value(&value));
    }
    if let Some(json) = element.strip_prefix("k:") {
        let key: Map<String, Value> = serde_json::from_str(json).unwrap_or_default();
        let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={}", display_value(v))).collect();
        return format!("[{}]", parts.join(","));
    }
    element.to_string()
}

/// Values as the structured-merge code prints them: strings quoted, the rest as they are.
fn display_value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!("[{}]", items.iter().map(display_value).collect::<Vec<_>>().join(",")),
        Value::Object(map) => {
            let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k}={}", display_value(v))).collect();
            format!("{{{}}}", parts.join(","))
        }
        other => other.to_string(),
    }
}
