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

const ENTRY_FORM: &str = "name=image entries separated by ';', e.g. theia=quay.io/eclipse/che-theia:next;machine-exec=quay.io/eclipse/che-machine-exec:next";
const NAME_RULE: &str =
    "a container name: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit";

/// Parses `raw` into the images, or pushes a problem for every broken entry into `problems`.
pub(crate) fn parse_images(raw: &str, problems: &mut Vec<Problem>) -> Vec<CachedImage> {
    let before = problems.len();
    let mut images = Vec::new();
    // The first entry (by number and text) to use each name, to name both in a duplicate.
    let mut first_use: HashMap<String, (usize, String)> = HashMap::new();
    for (index, entry) in entries(raw).iter().enumerate() {
        let index = index + 1;
        let problem = |message: String| Problem::new(IMAGES, message).entry(index, entry);
        let Some((name, image)) = entry.split_once('=') else {
            problems.push(problem("has no '=' between the container name and the image".into()).accepted(ENTRY_FORM));
            continue;
        };
        let (name, image) = (name.trim(), image.trim());
        if image.contains('=') {
            problems
                .push(problem("has a second '='; is a ';' missing between two entries?".into()).accepted(ENTRY_FORM));
            continue;
        }
        let mut valid = true;
        if name.is_empty() {
            problems.push(problem("the container name before '=' is empty".into()).accepted(NAME_RULE));
            valid = false;
        } else if !kip_rules::dns1123_label(name).is_empty() {
            let suggestion =
                kip_rules::suggest_dns1123_label(name).map(|s| format!(", e.g. {s:?}")).unwrap_or_default();
            let why = if name.len() > 63 {
                format!("is {} characters long", name.len())
            } else {
                "is not a valid container name".to_string()
            };
            problems.push(
                problem(format!("the container name {name:?} {why}")).accepted(format!("{NAME_RULE}{suggestion}")),
            );
            valid = false;
        } else if let Some((first_index, first_entry)) = first_use.get(name) {
            problems.push(
                problem(format!("the container name {name:?} is already used by entry {first_index} {first_entry:?}"))
                    .accepted("a different name for each image (names become container names in one pod)"),
            );
            valid = false;
        } else {
            first_use.insert(name.to_string(), (index, entry.to_string()));
        }
        if image.is_empty() {
            problems.push(problem("the image after '=' is empty".into()).accepted(REFERENCE_FORM));
            valid = false;
        } else if let Err(error) = ImageReference::parse(image) {
            problems.push(problem(format!("the image {image:?} {error}")).accepted(REFERENCE_FORM));
            valid = false;
        }
        if valid {
            images.push(CachedImage { name: name.to_string(), image: image.to_string() });
        }
    }
    if images.is_empty() && problems.len() == before {
        problems.push(Problem::new(IMAGES, "lists no images").accepted(ENTRY_FORM));
    }
    images
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
