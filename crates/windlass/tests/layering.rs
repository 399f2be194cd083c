//! The crate graph keeps terminals out of libraries: no library crate
//! reaches `windlass-output`, clap, indicatif or tracing-subscriber through
//! its normal dependencies (only binaries and tools render).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// The library crates, whose errors say what they mean through
/// `windlass-diagnostic` alone.
const LIBRARIES: [&str; 7] = [
    "windlass-diagnostic",
    "windlass-redact",
    "windlass-fs",
    "windlass-config",
    "windlass-http",
    "windlass-process",
    "windlass-dist",
];

/// Tool libraries whose command line lives in the tool crate: they take a
/// request type and never name clap themselves (they still print through
/// `windlass-output`, so they reach it, and clap, through that crate).
const REQUEST_LIBRARIES: [&str; 1] = ["windlass-pypi"];

/// What only binaries and tools may depend on.
const TERMINAL_CRATES: [&str; 4] = ["windlass-output", "clap", "indicatif", "tracing-subscriber"];

/// `cargo metadata` for the workspace.
#[allow(
    clippy::disallowed_methods,
    reason = "the test asks cargo itself about the crate graph"
)]
fn metadata() -> Value {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Package id -> (name, ids of its normal, non-build, non-dev dependencies).
fn normal_graph(metadata: &Value) -> BTreeMap<String, (String, Vec<String>)> {
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            let id = node["id"].as_str().unwrap();
            let deps = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|kind| kind["kind"].is_null())
                })
                .map(|dep| dep["pkg"].as_str().unwrap().to_owned())
                .collect();
            (id.to_owned(), (names[id].to_owned(), deps))
        })
        .collect()
}

/// The names of every crate `name` reaches through normal dependencies.
fn closure(graph: &BTreeMap<String, (String, Vec<String>)>, name: &str) -> BTreeSet<String> {
    let Some((start, _)) = graph.iter().find(|(_, (n, _))| n == name) else {
        panic!("`{name}` is not in the workspace");
    };
    let start = start.clone();
    let mut seen = BTreeSet::new();
    let mut todo = vec![start];
    while let Some(id) = todo.pop() {
        if seen.insert(id.clone()) {
            todo.extend(graph[&id].1.iter().cloned());
        }
    }
    seen.iter().map(|id| graph[id].0.clone()).collect()
}

/// The names of the normal dependencies of `name` itself.
fn direct(graph: &BTreeMap<String, (String, Vec<String>)>, name: &str) -> BTreeSet<String> {
    let Some((_, (_, deps))) = graph.iter().find(|(_, (n, _))| n == name) else {
        panic!("`{name}` is not in the workspace");
    };
    deps.iter().map(|id| graph[id].0.clone()).collect()
}

#[test]
fn libraries_do_not_depend_on_terminal_crates() {
    let graph = normal_graph(&metadata());
    let mut offenders = Vec::new();
    for library in LIBRARIES {
        let reached = closure(&graph, library);
        for banned in TERMINAL_CRATES {
            if reached.contains(banned) {
                offenders.push(format!("{library} -> {banned}"));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

#[test]
fn request_libraries_do_not_depend_on_clap() {
    let graph = normal_graph(&metadata());
    let mut offenders = Vec::new();
    for library in REQUEST_LIBRARIES {
        if direct(&graph, library).contains("clap") {
            offenders.push(format!("{library} -> clap"));
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// The check above can fail: the wheel tool owns a clap definition.
#[test]
fn a_tool_is_seen_depending_on_clap() {
    let graph = normal_graph(&metadata());
    assert!(direct(&graph, "windlass-wheel").contains("clap"));
}

/// The check above can fail: a tool crate does reach the terminal crates.
#[test]
fn tools_are_seen_reaching_terminal_crates() {
    let graph = normal_graph(&metadata());
    let reached = closure(&graph, "windlass-wheel");
    for banned in TERMINAL_CRATES {
        assert!(reached.contains(banned), "windlass-wheel -> {banned}");
    }
}
