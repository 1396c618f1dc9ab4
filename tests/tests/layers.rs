//! The library's layers import only downward — model → ports → adapters → services → the
//! composition root (api, app, config, dev, jobs, lambda, telemetry) — and no two of its
//! modules import each other, directly or around a cycle. Read from the source: every
//! `crate::…` path outside the unit tests is an import.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const LAYERS: [&str; 4] = ["model", "ports", "adapters", "services"];

/// The layer's rank: the composition root (anything else at the top) is above every layer.
fn rank(top: &str) -> usize {
    LAYERS.iter().position(|layer| *layer == top).unwrap_or(LAYERS.len())
}

/// `layer::module` inside a layer (`services::posts`), else the top-level module (`api`).
fn node(top: &str, second: Option<&str>) -> String {
    match second {
        Some(second) if rank(top) < LAYERS.len() => format!("{top}::{second}"),
        _ => top.to_string(),
    }
}

fn source_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// The file's node: `shared/src/services/posts.rs` and `…/services/connections/sync.rs` are in
/// `services::posts` and `services::connections`.
fn node_of_file(relative: &Path) -> String {
    let parts: Vec<String> =
        relative.with_extension("").iter().map(|part| part.to_string_lossy().into_owned()).collect();
    let second = parts.get(1).map(String::as_str).filter(|second| *second != "mod");
    node(&parts[0], second)
}

/// Every `crate::a::b` in the file, before its unit tests, as (a, b).
fn imports(source: &str) -> BTreeSet<(String, Option<String>)> {
    let code = source.split("#[cfg(test)]\nmod tests").next().unwrap_or(source);
    let mut found = BTreeSet::new();
    for (start, _) in code.match_indices("crate::") {
        if code[..start].ends_with('$') {
            continue;
        }
        let mut segments = code[start + "crate::".len()..]
            .split("::")
            .map(|segment| segment.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>());
        let top = segments.next().unwrap_or_default();
        if top.is_empty() {
            continue;
        }
        let second = segments.next().filter(|second| !second.is_empty());
        found.insert((top, second));
    }
    found
}

fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let from = node_of_file(file.strip_prefix(&src).unwrap());
        let targets = graph.entry(from.clone()).or_default();
        for (top, second) in imports(&fs::read_to_string(&file).unwrap()) {
            let to = node(&top, second.as_deref());
            if to != from {
                targets.insert(to);
            }
        }
    }
    graph
}

fn layer(node: &str) -> &str {
    node.split("::").next().unwrap_or(node)
}

#[test]
fn every_layer_imports_only_from_the_layers_below_it() {
    let graph = import_graph();
    let upward: Vec<String> = graph
        .iter()
        .flat_map(|(from, targets)| targets.iter().map(move |to| (from, to)))
        .filter(|(from, to)| rank(layer(to)) > rank(layer(from)))
        .map(|(from, to)| format!("{from} imports {to}"))
        .collect();
    assert!(upward.is_empty(), "imports against the layering:\n{}", upward.join("\n"));
}

#[test]
fn no_modules_import_each_other_around_a_cycle() {
    let graph = import_graph();
    let mut finished = BTreeSet::new();
    for start in graph.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = find_cycle(&graph, start, &mut path, &mut finished) {
            panic!("import cycle: {}", cycle.join(" → "));
        }
    }
}

/// Depth-first search from `node`; returns the first cycle through the current path.
fn find_cycle(
    graph: &BTreeMap<String, BTreeSet<String>>,
    node: &str,
    path: &mut Vec<String>,
    finished: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(position) = path.iter().position(|seen| seen == node) {
        let mut cycle = path[position..].to_vec();
        cycle.push(node.to_string());
        return Some(cycle);
    }
    if finished.contains(node) {
        return None;
    }
    path.push(node.to_string());
    for next in graph.get(node).into_iter().flatten() {
        if let Some(cycle) = find_cycle(graph, next, path, finished) {
            return Some(cycle);
        }
    }
    path.pop();
    finished.insert(node.to_string());
    None
}

#[test]
fn the_check_sees_an_upward_import_and_a_cycle() {
    let found = imports("use crate::services::posts::create;\nfn f() { crate::model::ids::PostId::new(); }");
    assert!(found.contains(&("services".to_string(), Some("posts".to_string()))));
    assert!(found.contains(&("model".to_string(), Some("ids".to_string()))));
    let graph = BTreeMap::from([
        ("services::a".to_string(), BTreeSet::from(["services::b".to_string()])),
        ("services::b".to_string(), BTreeSet::from(["services::a".to_string()])),
    ]);
    let cycle = find_cycle(&graph, "services::a", &mut Vec::new(), &mut BTreeSet::new());
    assert_eq!(cycle.unwrap(), ["services::a", "services::b", "services::a"]);
}
