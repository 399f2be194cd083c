//! A release manifest as step-summary Markdown (`$GITHUB_STEP_SUMMARY`):
//! the distributions, the images and the deploy, one table each. Every
//! value from the manifest is escaped, so a name cannot break a table or
//! inject markup.

use std::fmt::Write as _;

use crate::manifest::{EnvironmentTarget, Manifest};

/// The manifest as Markdown: a heading with the project, version, id and
/// commit, then a table of distributions (file, sha256 short, index),
/// images (name, digest short, tags) and the deploy (chart, bundle,
/// environments reached).
pub fn markdown(manifest: &Manifest) -> String {
    let content = &manifest.content;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Release {} {}\n",
        escape(&content.project),
        escape(&content.version)
    );
    let commit = &content.source.commit;
    let _ = write!(
        out,
        "Manifest `{}` · commit `{}`",
        manifest.id.short(),
        code(&commit[..commit.len().min(12)])
    );
    if let Some(tag) = &content.source.tag {
        let _ = write!(out, " · tag `{}`", code(tag));
    }
    out.push_str("\n\n");

    if !content.distributions.is_empty() {
        out.push_str("| File | SHA-256 | Index |\n| --- | --- | --- |\n");
        for d in &content.distributions {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} |",
                escape(&d.filename),
                code(short(&d.sha256)),
                escape(&d.index)
            );
        }
        out.push('\n');
    }

    if !content.images.is_empty() {
        out.push_str("| Image | Repository | Digest | Tags |\n| --- | --- | --- | --- |\n");
        for i in &content.images {
            let tags: Vec<String> = i.tags.iter().map(|t| escape(t)).collect();
            let _ = writeln!(
                out,
                "| {} | {} | `{}` | {} |",
                escape(&i.name),
                escape(&i.repository),
                code(short(&i.digest)),
                if tags.is_empty() {
                    "-".to_owned()
                } else {
                    tags.join(", ")
                }
            );
        }
        out.push('\n');
    }

    if let Some(deploy) = &content.deploy {
        out.push_str("| Chart | Bundle | Environments |\n| --- | --- | --- |\n");
        let envs: Vec<String> = manifest
            .environments
            .iter()
            .map(|e| {
                let place = match &e.target {
                    EnvironmentTarget::Cluster {
                        context, namespace, ..
                    } => format!("{context}/{namespace}"),
                    EnvironmentTarget::Gitops { dir } => dir.clone(),
                };
                format!(
                    "{} ({}, {})",
                    escape(&e.name),
                    escape(&place),
                    escape(&e.at)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} {} | `{}` | {} |",
            escape(&deploy.chart),
            escape(&deploy.chart_version),
            code(short(&deploy.bundle)),
            if envs.is_empty() {
                "-".to_owned()
            } else {
                envs.join("<br>")
            }
        );
        out.push('\n');
    }
    out
}

/// The first 12 hex digits of a `sha256:` digest or a bare hex one.
fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

/// Text for a table cell: one line, Markdown's and HTML's special
/// characters escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '!' | '|'
            | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Text inside a code span: backticks and line breaks cannot end it.
fn code(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '`' => '\'',
            '|' => '¦',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Content, DeployRecord, Distribution, EnvironmentRecord, Image, Source};

    #[test]
    fn tables_of_a_manifest_escaped() {
        let mut manifest = Manifest::new(Content {
            project: "sentiment-lab".into(),
            version: "0.4.0".into(),
            source: Source {
                repository: None,
                commit: "a".repeat(40),
                tag: Some("v0.4.0".into()),
            },
            distributions: vec![Distribution {
                filename: "sentiment_lab-0.4.0-py3-none-any.whl".into(),
                sha256: "b".repeat(64),
                size: 10,
                index: "dist/simple/".into(),
            }],
            images: vec![Image {
                name: "ml-job|<script>".into(),
                repository: "oci:dist/oci".into(),
                digest: format!("sha256:{}", "c".repeat(64)),
                tags: vec!["0.4.0".into(), "latest".into()],
            }],
            deploy: Some(DeployRecord {
                chart: "ml-job".into(),
                chart_version: "0.1.0".into(),
                chart_digest: format!("sha256:{}", "d".repeat(64)),
                bundle: format!("sha256:{}", "e".repeat(64)),
            }),
        });
        manifest.environments.push(EnvironmentRecord {
            name: "dev".into(),
            bundle: format!("sha256:{}", "e".repeat(64)),
            at: "2026-01-01T00:00:00Z".into(),
            target: EnvironmentTarget::Gitops {
                dir: "gitops/dev".into(),
            },
        });
        let text = markdown(&manifest);
        assert!(
            text.contains(
                "| sentiment\\_lab-0.4.0-py3-none-any.whl | `bbbbbbbbbbbb` | dist/simple/ |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| ml-job\\|&lt;script&gt; | oci:dist/oci | `cccccccccccc` | 0.4.0, latest |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| ml-job 0.1.0 | `eeeeeeeeeeee` | dev (gitops/dev, 2026-01-01T00:00:00Z) |"
            ),
            "{text}"
        );
        assert!(!text.contains("<script>"));
    }
}
