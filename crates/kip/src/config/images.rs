//! `IMAGES`: `name=image;name=image;...`, the list of images to keep cached.
//!
//! Written by hand in ConfigMaps, YAML block scalars and shell commands, so the parser is lenient
//! with layout (whitespace and newlines around entries, a trailing `;`, empty entries, a shell
//! line continuation `\` left inside quotes) and strict with content: every entry must become a
//! valid container (name and image), and every broken entry is reported, not skipped.

use std::collections::HashMap;

use super::CachedImage;
use super::problem::Problem;
use super::reference::{ImageReference, REFERENCE_FORM};
use super::vars::IMAGES;
// The init container shares the pod, so its name is taken.
use crate::render::INIT_CONTAINER_NAME;

const ENTRY_FORM: &str = "name=image entries separated by ';', e.g. theia=quay.io/eclipse/che-theia:next;machine-exec=quay.io/eclipse/che-machine-exec:next";
const NAME_RULE: &str =
    "a container name: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit";

/// Parses `raw` into the images, pushing a problem for every broken entry into `errors`, and
/// into `warnings` what is valid but probably not meant.
pub(crate) fn parse_images(raw: &str, errors: &mut Vec<Problem>, warnings: &mut Vec<Problem>) -> Vec<CachedImage> {
    let before = errors.len();
    let mut images = Vec::new();
    // The first entry (by number and text) to use each name, to name both in a duplicate.
    let mut first_use: HashMap<String, (usize, String)> = HashMap::new();
    for (index, entry) in entries(raw).iter().enumerate() {
        let index = index + 1;
        let problem = |message: String| Problem::new(IMAGES, message).entry(index, entry);
        let Some((name, image)) = entry.split_once('=') else {
            errors.push(problem("has no '=' between the container name and the image".into()).accepted(ENTRY_FORM));
            continue;
        };
        let (name, image) = (name.trim(), image.trim());
        if image.contains('=') {
            errors.push(problem("has a second '='; is a ';' missing between two entries?".into()).accepted(ENTRY_FORM));
            continue;
        }
        let name_problem = name_problem(name, first_use.get(name));
        let name_ok = name_problem.is_none();
        errors.extend(name_problem.map(|(message, accepted)| problem(message).accepted(accepted)));
        if name_ok {
            first_use.insert(name.to_string(), (index, entry.clone()));
        }
        let image_ok = if image.is_empty() {
            errors.push(problem("the image after '=' is empty".into()).accepted(REFERENCE_FORM));
            false
        } else {
            match ImageReference::parse(image) {
                Ok(reference) => {
                    warnings.extend(registry_without_dot(image, &reference).map(problem));
                    true
                }
                Err(error) => {
                    errors.push(problem(format!("the image {image:?} {error}")).accepted(REFERENCE_FORM));
                    false
                }
            }
        };
        if name_ok && image_ok {
            images.push(CachedImage { name: name.to_string(), image: image.to_string() });
        }
    }
    if images.is_empty() && errors.len() == before {
        errors.push(Problem::new(IMAGES, "lists no images").accepted(ENTRY_FORM));
    }
    images
}

/// What is wrong with a container name (message, accepted), given the entry that used it first.
fn name_problem(name: &str, first_use: Option<&(usize, String)>) -> Option<(String, String)> {
    if name.is_empty() {
        return Some(("the container name before '=' is empty".into(), NAME_RULE.into()));
    }
    if !kip_rules::dns1123_label(name).is_empty() {
        let suggestion = kip_rules::suggest_dns1123_label(name).map(|s| format!(", e.g. {s:?}")).unwrap_or_default();
        let why = if name.len() > 63 {
            format!("is {} characters long", name.len())
        } else {
            "is not a valid container name".to_string()
        };
        return Some((format!("the container name {name:?} {why}"), format!("{NAME_RULE}{suggestion}")));
    }
    if name == INIT_CONTAINER_NAME {
        return Some((
            format!("the container name {name:?} is kip's own init container in the same pod"),
            "any other name".into(),
        ));
    }
    first_use.map(|(first_index, first_entry)| {
        (
            format!("the container name {name:?} is already used by entry {first_index} {first_entry:?}"),
            "a different name for each image (names become container names in one pod)".into(),
        )
    })
}

/// A first component taken as a registry only because it has capitals (`Eclipse/theia`) is
/// valid, but almost surely meant as a repository path on the default registry.
fn registry_without_dot(image: &str, reference: &ImageReference) -> Option<String> {
    let registry = reference.registry.as_deref()?;
    if registry.contains(['.', ':']) || registry == "localhost" {
        return None;
    }
    Some(format!(
        "the image {image:?} is pulled from a registry host named {registry:?} because of its capitals; for a \
         repository on the default registry write {:?}",
        format!("{}{}", registry.to_ascii_lowercase(), &image[registry.len()..])
    ))
}

/// The non-empty, trimmed entries. A backslash before a line break is a shell line
/// continuation that single quotes kept in the value (`-p IMAGES='a=x;\` then a new line), so it
/// counts as whitespace; so does a backslash ending the value, whose line break YAML chomped.
fn entries(raw: &str) -> Vec<String> {
    let mut text = raw.replace("\\\r\n", " ").replace("\\\n", " ");
    if text.trim_end().ends_with('\\') {
        text = text.trim_end().trim_end_matches('\\').to_string();
    }
    text.split(';').map(str::trim).filter(|entry| !entry.is_empty()).map(str::to_string).collect()
}
