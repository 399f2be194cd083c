//! What differs between two bundles: the chart, the images and the
//! application values (by dotted path). `deploy diff FROM TO` shows it.
//!
//! A bundle never holds a secret (secret values are resolved at deploy time
//! and never recorded), so values are shown as they are.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::bundle::{Bundle, ChartRef, ImageRef};

/// The differences between two bundles, `from` to `to`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct BundleDiff {
    /// The chart, when its name, version, location or digest changed.
    pub chart: Option<ChartChange>,
    /// Images by name, in name order.
    pub images: Vec<ImageChange>,
    /// Values by dotted path, in path order.
    pub values: Vec<ValueChange>,
    /// The source commit, when it changed.
    pub source: Option<Change<Option<String>>>,
}

impl BundleDiff {
    /// Whether the two bundles are the same.
    pub fn is_empty(&self) -> bool {
        self.chart.is_none()
            && self.images.is_empty()
            && self.values.is_empty()
            && self.source.is_none()
    }
}

/// A value before and after.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Change<T> {
    pub from: T,
    pub to: T,
}

/// The chart before and after.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ChartChange {
    pub from: ChartRef,
    pub to: ChartRef,
}

/// One image that was added, removed or changed.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "change")]
pub enum ImageChange {
    Added {
        name: String,
        to: ImageRef,
    },
    Removed {
        name: String,
        from: ImageRef,
    },
    Changed {
        name: String,
        from: ImageRef,
        to: ImageRef,
    },
}

/// One value that was added, removed or changed, at a dotted path (a key
/// holding a dot is written `a\.b`; list items as `list[0]`).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "change")]
pub enum ValueChange {
    Added {
        path: String,
        to: Value,
    },
    Removed {
        path: String,
        from: Value,
    },
    Changed {
        path: String,
        from: Value,
        to: Value,
    },
}

impl ValueChange {
    /// The dotted path.
    pub fn path(&self) -> &str {
        match self {
            Self::Added { path, .. } | Self::Removed { path, .. } | Self::Changed { path, .. } => {
                path
            }
        }
    }
}

/// What changes when `to` replaces `from`.
pub fn diff(from: &Bundle, to: &Bundle) -> BundleDiff {
    let chart = (from.chart != to.chart).then(|| ChartChange {
        from: from.chart.clone(),
        to: to.chart.clone(),
    });

    let names: BTreeSet<&String> = from.images.keys().chain(to.images.keys()).collect();
    let images = names
        .into_iter()
        .filter_map(|name| match (from.images.get(name), to.images.get(name)) {
            (None, Some(to)) => Some(ImageChange::Added {
                name: name.clone(),
                to: to.clone(),
            }),
            (Some(from), None) => Some(ImageChange::Removed {
                name: name.clone(),
                from: from.clone(),
            }),
            (Some(old), Some(new)) if old != new => Some(ImageChange::Changed {
                name: name.clone(),
                from: old.clone(),
                to: new.clone(),
            }),
            _ => None,
        })
        .collect();

    let mut values = Vec::new();
    diff_values("", &from.values, &to.values, &mut values);

    let commit = |bundle: &Bundle| bundle.source.as_ref().map(|source| source.commit.clone());
    let source = (commit(from) != commit(to)).then(|| Change {
        from: commit(from),
        to: commit(to),
    });

    BundleDiff {
        chart,
        images,
        values,
        source,
    }
}

fn diff_values(path: &str, from: &Value, to: &Value, out: &mut Vec<ValueChange>) {
    match (from, to) {
        (Value::Object(old), Value::Object(new)) => {
            let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for key in keys {
                let child = join(path, key);
                match (old.get(key), new.get(key)) {
                    (Some(a), Some(b)) => diff_values(&child, a, b, out),
                    (None, Some(b)) => out.push(ValueChange::Added {
                        path: child,
                        to: b.clone(),
                    }),
                    (Some(a), None) => out.push(ValueChange::Removed {
                        path: child,
                        from: a.clone(),
                    }),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(ValueChange::Changed {
            path: if path.is_empty() {
                ".".into()
            } else {
                path.into()
            },
            from: a.clone(),
            to: b.clone(),
        }),
    }
}

fn join(path: &str, key: &str) -> String {
    let key = key.replace('.', "\\.");
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

/// The diff for people: one line per change, `+` added, `-` removed, `~`
/// changed; "no differences" when there are none.
pub fn render(diff: &BundleDiff) -> String {
    let mut out = String::new();
    if diff.is_empty() {
        out.push_str("no differences\n");
        return out;
    }
    if let Some(chart) = &diff.chart {
        let _ = writeln!(
            out,
            "chart:\n  ~ {} {} -> {} {}",
            chart.from.name, chart.from.version, chart.to.name, chart.to.version
        );
        if chart.from.digest != chart.to.digest {
            let _ = writeln!(
                out,
                "    digest {} -> {}",
                chart.from.digest, chart.to.digest
            );
        }
        if chart.from.location != chart.to.location {
            let _ = writeln!(
                out,
                "    location {} -> {}",
                chart.from.location, chart.to.location
            );
        }
    }
    if !diff.images.is_empty() {
        out.push_str("images:\n");
        for change in &diff.images {
            let _ = match change {
                ImageChange::Added { name, to } => writeln!(out, "  + {name}: {}", to.reference()),
                ImageChange::Removed { name, from } => {
                    writeln!(out, "  - {name}: {}", from.reference())
                }
                ImageChange::Changed { name, from, to } => writeln!(
                    out,
                    "  ~ {name}: {} -> {}",
                    from.reference(),
                    to.reference()
                ),
            };
        }
    }
    if !diff.values.is_empty() {
        out.push_str("values:\n");
        for change in &diff.values {
            let _ = match change {
                ValueChange::Added { path, to } => writeln!(out, "  + {path}: {to}"),
                ValueChange::Removed { path, from } => writeln!(out, "  - {path}: {from}"),
                ValueChange::Changed { path, from, to } => {
                    writeln!(out, "  ~ {path}: {from} -> {to}")
                }
            };
        }
    }
    if let Some(source) = &diff.source {
        let show = |commit: &Option<String>| commit.clone().unwrap_or_else(|| "(none)".into());
        let _ = writeln!(
            out,
            "source:\n  ~ {} -> {}",
            show(&source.from),
            show(&source.to)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::bundle::SourceRef;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn image(c: char) -> ImageRef {
        ImageRef {
            repository: "registry.test/ml-job".into(),
            digest: digest(c),
            tag: None,
        }
    }

    fn bundle(version: &str, images: &[(&str, char)], values: Value, commit: &str) -> Bundle {
        Bundle {
            chart: ChartRef {
                name: "ml-job".into(),
                version: version.into(),
                location: "charts/ml-job".into(),
                digest: digest(version.chars().last().unwrap_or('0')),
            },
            images: images
                .iter()
                .map(|(name, c)| ((*name).to_owned(), image(*c)))
                .collect::<BTreeMap<_, _>>(),
            values,
            source: Some(SourceRef {
                repository: None,
                commit: commit.into(),
            }),
        }
    }

    #[test]
    fn same_bundle_no_differences() {
        let one = bundle("0.1.1", &[("job", 'a')], json!({"a": 1}), "c1");
        let d = diff(&one, &one.clone());
        assert!(d.is_empty());
        assert_eq!(render(&d), "no differences\n");
    }

    #[test]
    fn everything_that_can_change() {
        let from = bundle(
            "0.1.1",
            &[("job", 'a'), ("old", 'b'), ("same", 'c')],
            json!({
                "replicaCount": 1,
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                "gone": {"deep": true},
                "list": [1, 2],
                "dotted.key": "x",
                "kind": {"was": "map"}
            }),
            "c1",
        );
        let to = bundle(
            "0.1.2",
            &[("job", 'd'), ("new", 'e'), ("same", 'c')],
            json!({
                "replicaCount": 2,
                "resources": {"limits": {"cpu": "2", "memory": "1Gi"}},
                "list": [1, 2, 3],
                "dotted.key": "y",
                "added": {"k": "v"},
                "kind": "scalar"
            }),
            "c2",
        );
        let d = diff(&from, &to);
        assert!(d.chart.is_some());
        let paths: Vec<&str> = d.values.iter().map(ValueChange::path).collect();
        assert_eq!(
            paths,
            [
                "added",
                "dotted\\.key",
                "gone",
                "kind",
                "list",
                "replicaCount",
                "resources.limits.cpu"
            ]
        );
        insta::assert_snapshot!(render(&d), @r#"
        chart:
          ~ ml-job 0.1.1 -> ml-job 0.1.2
            digest sha256:1111111111111111111111111111111111111111111111111111111111111111 -> sha256:2222222222222222222222222222222222222222222222222222222222222222
        images:
          ~ job: registry.test/ml-job@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa -> registry.test/ml-job@sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd
          + new: registry.test/ml-job@sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee
          - old: registry.test/ml-job@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
        values:
          + added: {"k":"v"}
          ~ dotted\.key: "x" -> "y"
          - gone: {"deep":true}
          ~ kind: {"was":"map"} -> "scalar"
          ~ list: [1,2] -> [1,2,3]
          ~ replicaCount: 1 -> 2
          ~ resources.limits.cpu: "1" -> "2"
        source:
          ~ c1 -> c2
        "#);
    }

    #[test]
    fn json_form_names_each_change() {
        let from = bundle("0.1.1", &[], json!({"a": 1}), "c1");
        let to = bundle("0.1.1", &[], json!({"a": 2}), "c1");
        let json = serde_json::to_value(diff(&from, &to)).unwrap();
        assert_eq!(
            json,
            json!({
                "chart": null,
                "images": [],
                "values": [{"change": "changed", "path": "a", "from": 1, "to": 2}],
                "source": null
            })
        );
    }

    #[test]
    fn root_values_replaced() {
        let from = bundle("0.1.1", &[], json!(null), "c1");
        let to = bundle("0.1.1", &[], json!({"a": 1}), "c1");
        assert_eq!(diff(&from, &to).values[0].path(), ".");
    }
}
