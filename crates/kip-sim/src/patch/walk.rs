//! Walks over objects guided by the merge rules: the set of fields an object sets, the
//! difference between two objects as field sets, the structured merge of an applied
//! configuration into a live object, and the removal of fields an applier gave up.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};

use super::fieldset::{FieldSet, PathElement, display_path, field, index, keyed, set_value};
use super::schema::{ApplyList, Cursor, KeyField};

/// The path element of a keyed list's element: its key fields, or their defaults.
pub fn element_key(element: &Value, keys: &[KeyField]) -> Result<PathElement, String> {
    let Some(object) = element.as_object() else {
        return Err("associative list with keys has an element that is not a map".into());
    };
    let mut key = Map::new();
    for k in keys {
        match object.get(&k.name).filter(|v| !v.is_null()).or(k.default.as_ref()) {
            Some(value) => {
                key.insert(k.name.clone(), value.clone());
            }
            None => {
                return Err(format!(
                    "associative list with keys has an element that omits key field {:?} (and doesn't have default value)",
                    k.name
                ));
            }
        }
    }
    Ok(keyed(&key))
}

/// The path elements of a granular list's items, in order. Items without a usable key fall
/// back to their position (live objects are not rejected for that).
fn item_elements(items: &[Value], rule: &ApplyList) -> Vec<PathElement> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match rule {
            ApplyList::Map(keys) => element_key(item, keys).unwrap_or_else(|_| index(i)),
            ApplyList::Set => set_value(item),
            ApplyList::Atomic => index(i),
        })
        .collect()
}

/// The fields `value` sets, as server-side apply records them: scalars, atomic lists and maps,
/// empty maps, keyed-list elements (with their fields) and set values. With `strict`, a keyed
/// list element without its key, or two elements with the same key, is an error (as for an
/// applied configuration); otherwise such elements are tracked by position.
pub fn fields_of(value: &Value, cursor: &Cursor, strict: bool) -> Result<FieldSet, String> {
    let mut set = FieldSet::default();
    collect(value, cursor, strict, &mut Vec::new(), &mut set)?;
    set.member = false;
    Ok(set)
}

fn collect(
    value: &Value,
    cursor: &Cursor,
    strict: bool,
    path: &mut Vec<PathElement>,
    node: &mut FieldSet,
) -> Result<(), String> {
    match value {
        Value::Object(map) if !map.is_empty() && !cursor.atomic_map() => {
            for (name, child) in map {
                path.push(field(name));
                let child_node = node.child_mut(&field(name));
                if child.is_null() {
                    child_node.member = true;
                } else {
                    collect(child, &cursor.field(name), strict, path, child_node)?;
                }
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => match cursor.apply_list() {
            ApplyList::Atomic => node.member = true,
            ApplyList::Set => {
                for item in items {
                    let element = set_value(item);
                    if strict && node.children.contains_key(&element) {
                        return Err(format!("{}: duplicate entries for key [={item}]", display_path(path)));
                    }
                    node.child_mut(&element).member = true;
                }
            }
            ApplyList::Map(keys) => {
                let item_cursor = cursor.item();
                let mut seen = HashSet::new();
                for (i, item) in items.iter().enumerate() {
                    let element = match element_key(item, &keys) {
                        Ok(element) => element,
                        Err(e) if strict => return Err(format!("{}: element {i}: {e}", display_path(path))),
                        Err(_) => index(i),
                    };
                    if strict && !seen.insert(element.clone()) {
                        return Err(format!(
                            "{}: duplicate entries for key {}",
                            display_path(path),
                            display_path(std::slice::from_ref(&element))
                        ));
                    }
                    path.push(element.clone());
                    let child_node = node.child_mut(&element);
                    child_node.member = true;
                    collect(item, &item_cursor, strict, path, child_node)?;
                    path.pop();
                }
            }
        },
        _ => node.member = true,
    }
    Ok(())
}

/// What changed between two versions of an object, as field sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl Comparison {
    /// Fields that now hold a value they did not hold before.
    pub fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }
}

/// Compares two versions of an object. A node present on one side only is added or removed
/// with everything below it; a leaf present on both sides with different values is modified.
pub fn compare(old: Option<&Value>, new: Option<&Value>, cursor: &Cursor) -> Comparison {
    let mut out = Comparison::default();
    compare_node(old, new, cursor, &mut Vec::new(), &mut out);
    out
}

fn non_empty_object(v: Option<&Value>) -> bool {
    v.and_then(Value::as_object).is_some_and(|o| !o.is_empty())
}

fn non_empty_array(v: Option<&Value>) -> bool {
    v.and_then(Value::as_array).is_some_and(|a| !a.is_empty())
}

fn compare_node(
    old: Option<&Value>,
    new: Option<&Value>,
    cursor: &Cursor,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) {
    let old = old.filter(|v| !v.is_null());
    let new = new.filter(|v| !v.is_null());
    if old.is_none() && new.is_none() {
        return;
    }
    let maps = old.is_none_or(Value::is_object)
        && new.is_none_or(Value::is_object)
        && (non_empty_object(old) || non_empty_object(new))
        && !cursor.atomic_map();
    let lists = old.is_none_or(Value::is_array)
        && new.is_none_or(Value::is_array)
        && (non_empty_array(old) || non_empty_array(new));
    let list_rule = if lists { cursor.apply_list() } else { ApplyList::Atomic };
    if maps {
        let empty = Map::new();
        let old_map = old.and_then(Value::as_object).unwrap_or(&empty);
        let new_map = new.and_then(Value::as_object).unwrap_or(&empty);
        let names: std::collections::BTreeSet<&String> = old_map.keys().chain(new_map.keys()).collect();
        for name in names {
            path.push(field(name));
            compare_node(old_map.get(name), new_map.get(name), &cursor.field(name), path, out);
            path.pop();
        }
    } else if list_rule != ApplyList::Atomic {
        let by_element = |v: Option<&Value>| -> BTreeMap<PathElement, Value> {
            let items = v.and_then(Value::as_array).cloned().unwrap_or_default();
            item_elements(&items, &list_rule).into_iter().zip(items).collect()
        };
        let old_items = by_element(old);
        let new_items = by_element(new);
        let item_cursor = cursor.item();
        let elements: std::collections::BTreeSet<&PathElement> = old_items.keys().chain(new_items.keys()).collect();
        for element in elements {
            path.push(element.clone());
            compare_node(old_items.get(element), new_items.get(element), &item_cursor, path, out);
            path.pop();
        }
    } else {
        if let (Some(a), Some(b)) = (old, new)
            && a != b
        {
            out.modified.insert(path);
        }
    }
    if !path.is_empty() {
        if old.is_none() {
            out.added.insert(path);
        } else if new.is_none() {
            out.removed.insert(path);
        }
    }
}

/// Merges an applied configuration into the live object: maps merge key by key (unless
/// atomic), keyed lists element by element (live order, new elements appended), sets by value;
/// atomic lists and scalars are replaced. A `null` in the configuration removes the field.
pub fn merge_applied(live: &Value, config: &Value, cursor: &Cursor) -> Value {
    match (live, config) {
        (Value::Object(l), Value::Object(c)) if !cursor.atomic_map() => {
            let mut out = l.clone();
            for (name, value) in c {
                if value.is_null() {
                    out.remove(name);
                    continue;
                }
                let merged = match l.get(name) {
                    Some(current) => merge_applied(current, value, &cursor.field(name)),
                    None => value.clone(),
                };
                out.insert(name.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(c)) => match cursor.apply_list() {
            ApplyList::Atomic => config.clone(),
            ApplyList::Set => {
                let mut out = l.clone();
                out.extend(c.iter().filter(|v| !l.contains(v)).cloned());
                Value::Array(out)
            }
            ApplyList::Map(keys) => {
                let item_cursor = cursor.item();
                let mut out = l.clone();
                for item in c {
                    let wanted = element_key(item, &keys).ok();
                    let position = wanted
                        .as_ref()
                        .and_then(|w| out.iter().position(|e| element_key(e, &keys).ok().as_ref() == Some(w)));
                    match position {
                        Some(i) => out[i] = merge_applied(&out[i], item, &item_cursor),
                        None => out.push(item.clone()),
                    }
                }
                Value::Array(out)
            }
        },
        _ => config.clone(),
    }
}

/// Removes from `value` the fields of `remove`, except what `keep` still holds: a node of
/// `remove` goes whole only when nothing at or below it is kept; otherwise only its removed
/// descendants go. A map or list emptied this way goes too.
pub fn remove_fields(value: &mut Value, remove: &FieldSet, keep: &FieldSet, cursor: &Cursor) {
    let nothing = FieldSet::default();
    for (element, to_remove) in &remove.children {
        let kept = keep.child(element).unwrap_or(&nothing);
        let whole = to_remove.member && kept.is_empty();
        match value {
            Value::Object(map) => {
                let Some(name) = element.strip_prefix("f:") else { continue };
                if whole {
                    map.remove(name);
                } else if let Some(child) = map.get_mut(name) {
                    remove_fields(child, to_remove, kept, &cursor.field(name));
                    if is_empty_container(child) {
                        map.remove(name);
                    }
                }
            }
            Value::Array(items) => {
                let rule = cursor.apply_list();
                let elements = item_elements(items, &rule);
                let Some(position) = elements.iter().position(|e| e == element) else { continue };
                if whole {
                    items.remove(position);
                } else {
                    remove_fields(&mut items[position], to_remove, kept, &cursor.item());
                }
            }
            _ => {}
        }
    }
}

fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}
