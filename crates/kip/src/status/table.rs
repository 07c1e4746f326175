//! The cache report as people read it: one line per image with the nodes missing it, and a
//! grid of nodes by images.

use std::fmt::Write;

use super::compute::CacheReport;

/// Nodes listed by name before the rest are summarized as "and N more".
const MAX_LISTED: usize = 5;

fn listed(nodes: &[String]) -> String {
    if nodes.len() <= MAX_LISTED {
        nodes.join(", ")
    } else {
        format!("{} and {} more", nodes[..MAX_LISTED].join(", "), nodes.len() - MAX_LISTED)
    }
}

fn columns(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|c| rows.iter().map(|r| r.get(c).map_or(0, |cell| cell.chars().count())).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let last = row.len().saturating_sub(1);
        for (c, cell) in row.iter().enumerate() {
            if c == last {
                out.push_str(cell);
            } else {
                let _ = write!(out, "{cell:<width$}   ", width = widths[c]);
            }
        }
        out.push('\n');
    }
    out
}

/// Images with how many of the selected nodes hold them, and which do not.
pub fn images_table(report: &CacheReport) -> String {
    let total = report.nodes.len();
    let mut rows = vec![vec!["IMAGE".to_string(), "REFERENCE".into(), "CACHED".into(), "MISSING ON".into()]];
    for image in &report.images {
        rows.push(vec![
            image.name.clone(),
            image.image.clone(),
            format!("{}/{total}", image.cached_on.len()),
            listed(&image.missing_on),
        ]);
    }
    let mut out = columns(&rows);
    let _ = writeln!(out, "{} of {total} selected nodes hold every image.", report.fully_cached.len());
    out
}

/// A grid: one row per node, one column per image.
pub fn nodes_table(report: &CacheReport) -> String {
    let mut header = vec!["NODE".to_string()];
    header.extend(report.images.iter().map(|i| i.name.clone()));
    header.push("CACHED".into());
    let mut rows = vec![header];
    for node in &report.nodes {
        let mut row = vec![node.clone()];
        let mut cached = 0;
        for image in &report.images {
            let here = image.cached_on.contains(node);
            cached += usize::from(here);
            row.push(if here { "yes".into() } else { "-".into() });
        }
        row.push(format!("{cached}/{}", report.images.len()));
        rows.push(row);
    }
    columns(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::compute::ImageCache;

    fn report() -> CacheReport {
        CacheReport {
            nodes: vec!["node-1".into(), "node-2".into()],
            images: vec![
                ImageCache {
                    name: "java".into(),
                    image: "eclipse/java:11".into(),
                    digest: None,
                    cached_on: vec!["node-1".into(), "node-2".into()],
                    missing_on: vec![],
                },
                ImageCache {
                    name: "theia".into(),
                    image: "eclipse/theia:next".into(),
                    digest: None,
                    cached_on: vec!["node-1".into()],
                    missing_on: vec!["node-2".into()],
                },
            ],
            fully_cached: vec!["node-1".into()],
        }
    }

    #[test]
    fn images_table_lists_totals_and_missing_nodes() {
        let text = images_table(&report());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "IMAGE   REFERENCE            CACHED   MISSING ON");
        assert_eq!(lines[1], "java    eclipse/java:11      2/2      ");
        assert_eq!(lines[2], "theia   eclipse/theia:next   1/2      node-2");
        assert_eq!(lines[3], "1 of 2 selected nodes hold every image.");
    }

    #[test]
    fn nodes_table_is_a_grid() {
        let text = nodes_table(&report());
        assert_eq!(text, "NODE     java   theia   CACHED\nnode-1   yes    yes     2/2\nnode-2   yes    -       1/2\n");
    }

    #[test]
    fn long_lists_are_summarized() {
        let nodes: Vec<String> = (1..=8).map(|i| format!("n{i}")).collect();
        assert_eq!(listed(&nodes), "n1, n2, n3, n4, n5 and 3 more");
    }
}
