//! Property tests of `windlass.toml` loading: no document and no bytes
//! panic the loader or a tool section's deserializer, every error that
//! points into a file points at a place that exists there, and generated
//! valid configurations come out of the merged configuration with the
//! values and the provenance (file and line, or variable) they were given.

#![allow(clippy::unwrap_used, reason = "test helpers panic on failed setup")]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;
use serde::Deserialize;
use windlass_config::{EffectiveConfig, LoadError, LoadOptions, RelativePath, Source};
use windlass_testkit::proptest_config;

/// A home directory and a project (a git checkout) in a temporary tree.
struct Tree {
    temp: tempfile::TempDir,
}

impl Tree {
    fn new() -> Self {
        let temp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(temp.path().join("project/.git")).unwrap();
        std::fs::create_dir_all(temp.path().join("home/.config/windlass")).unwrap();
        Self { temp }
    }

    fn project_file(&self) -> PathBuf {
        self.temp.path().join("project/windlass.toml")
    }

    fn user_file(&self) -> PathBuf {
        self.temp.path().join("home/.config/windlass/windlass.toml")
    }

    /// Writes the project file, and the user file or removes it.
    fn write(&self, user: Option<&[u8]>, project: &[u8]) {
        std::fs::write(self.project_file(), project).unwrap();
        match user {
            Some(user) => std::fs::write(self.user_file(), user).unwrap(),
            None => {
                let _ = std::fs::remove_file(self.user_file());
            }
        }
    }

    fn options(&self) -> LoadOptions {
        LoadOptions::new(self.temp.path().join("project")).with_home(self.temp.path().join("home"))
    }
}

/// Checks that a located error points into the file it names: an
/// existing line, a column on it (or just past its end), its text.
fn check_location(error: &LoadError, files: &[(PathBuf, &[u8])]) -> Result<(), TestCaseError> {
    let Some(location) = error.location() else {
        return Ok(());
    };
    let Some((_, bytes)) = files.iter().find(|(path, _)| *path == location.path) else {
        return Err(TestCaseError::fail(format!(
            "{error}: names {}, which was not loaded",
            location.path.display()
        )));
    };
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.split('\n').collect();
    prop_assert!(
        (1..=lines.len()).contains(&location.line),
        "{error}: line {} of {}",
        location.line,
        lines.len()
    );
    // The line without its ending (`\n` or `\r\n`), control characters
    // other than tabs shown as U+FFFD.
    let line = lines[location.line - 1];
    let line = match line.strip_suffix('\r') {
        Some(stripped) if location.line < lines.len() => stripped,
        _ => line,
    };
    let line: String = line
        .chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    if matches!(error, LoadError::PlainCredential { .. }) && location.line_text != line {
        // A credential written as a value is shown as `****` at the caret:
        // the rest of the line is the file's.
        let head: String = line.chars().take(location.column - 1).collect();
        let masked = format!("{head}****");
        prop_assert!(
            location.line_text.starts_with(&masked)
                && line.ends_with(&location.line_text[masked.len()..])
                && location.width == 4,
            "{}: {:?} is not {:?} masked",
            error,
            location.line_text,
            line
        );
    } else {
        prop_assert_eq!(&location.line_text, &line);
    }
    prop_assert!(
        (1..=line.chars().count() + 1).contains(&location.column),
        "{}: column {} of {:?}",
        error,
        location.column,
        line
    );
    prop_assert!(location.width >= 1);
    // The rendering holds the line and a caret line.
    let shown = location.to_string();
    prop_assert!(shown.contains('^'), "{shown}");
    Ok(())
}

/// The kinds of things a tool section may declare.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code, reason = "the fields are read by Debug only")]
enum Method {
    Token,
    Approle { role_id: String },
}

/// A tool section with every shape of field a tool uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[allow(dead_code, reason = "the fields are read by Debug only")]
struct ToolTable {
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    retries: Option<u32>,
    #[serde(default)]
    verify: Option<bool>,
    #[serde(default)]
    ca_file: Option<RelativePath>,
    #[serde(default)]
    method: Option<Method>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    timeout: Option<f64>,
    #[serde(default)]
    nested: Option<Box<ToolTable>>,
    #[serde(default)]
    map: BTreeMap<String, ToolTable>,
}

/// Every way a tool reads its section; a failure must be a located
/// error like any other, never a panic.
fn read_sections(
    config: &EffectiveConfig,
    files: &[(PathBuf, &[u8])],
) -> Result<(), TestCaseError> {
    let mut errors = Vec::new();
    for name in ["secrets", "vault", "wheel"] {
        errors.extend(config.section::<serde_json::Value>(name).err());
        errors.extend(config.section::<toml::Value>(name).err());
        errors.extend(config.section::<ToolTable>(name).err());
        errors.extend(config.section::<BTreeMap<String, ToolTable>>(name).err());
        errors.extend(config.section::<BTreeMap<String, String>>(name).err());
    }
    for error in &errors {
        prop_assert!(error.is_usage_error(), "{error}");
        check_location(error, files)?;
        let _ = error.hint();
    }
    let _ = config.render_table();
    Ok(())
}

/// Runs `test` on values of `strategy` in one tree (creating directories
/// is slow on some file systems; the files are rewritten for each case).
fn run_in_tree<S: Strategy>(
    strategy: S,
    test: impl Fn(&Tree, S::Value) -> Result<(), TestCaseError>,
) {
    let tree = Tree::new();
    let mut runner = proptest::test_runner::TestRunner::new(proptest_config());
    if let Err(failure) = runner.run(&strategy, |value| test(&tree, value)) {
        panic!("{failure}");
    }
}

/// Loads `project` (and `user`, if any) and checks whatever comes out.
fn load_and_check(tree: &Tree, user: Option<&[u8]>, project: &[u8]) -> Result<(), TestCaseError> {
    tree.write(user, project);
    let mut files = vec![(tree.project_file(), project)];
    if let Some(user) = user {
        files.push((tree.user_file(), user));
    }
    match tree.options().load() {
        Ok(config) => read_sections(&config, &files),
        Err(error) => {
            prop_assert!(error.is_usage_error(), "{error}");
            let _ = error.hint();
            // Every file here can be read: the error shows where it is wrong.
            prop_assert!(error.location().is_some(), "{error}");
            check_location(&error, &files)
        }
    }
}

/// Keys a config file may hold, known and unknown, near and far.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(vec![
            "http", "timeout", "connect-timeout", "retries", "ca-file", "insecure-hosts",
            "secrets", "vault", "wheel", "repositories", "approle", "role-id", "ref", "secret",
            "address", "method", "hosts", "nested", "map", "verify", "token", "timout",
        ])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z0-9_-]{1,8}",
        1 => any::<String>().prop_map(|s| s.chars().take(6).collect()),
    ]
}

fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        any::<String>().prop_map(toml::Value::String),
        proptest::sample::select(vec![
            "30s",
            "1m30s",
            "500ms",
            "30x",
            "",
            "ca.pem",
            "../x.pem",
            "vault://secret/a#b",
            "env://A",
            "token",
            "approle",
        ])
        .prop_map(|s| toml::Value::String(s.to_owned())),
        any::<i64>().prop_map(toml::Value::Integer),
        (0i64..10).prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
        proptest::sample::select(vec!["1979-05-27T07:32:00Z", "1979-05-27", "07:32:00"])
            .prop_map(|d| toml::Value::Datetime(d.parse().unwrap())),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            proptest::collection::btree_map(key(), inner, 0..5)
                .prop_map(|map| toml::Value::Table(map.into_iter().collect())),
        ]
    })
}

/// Documents written by a TOML serializer: always valid TOML.
fn toml_document() -> impl Strategy<Value = String> {
    proptest::collection::btree_map(key(), toml_value(), 0..5)
        .prop_filter_map("the serializer refused the document", |map| {
            toml::to_string(&map.into_iter().collect::<toml::Table>()).ok()
        })
}

/// Documents put together from lines, valid and broken.
fn toml_lines() -> impl Strategy<Value = String> {
    let line = proptest::sample::select(vec![
        "[http]",
        "[[http]]",
        "[http.timeout]",
        "http.timeout = 3",
        "timeout = \"30x\"",
        "timeout = \"1m30s\"",
        "retries = -1",
        "retries = 4294967296",
        "retries = \"3\"",
        "insecure-hosts = [\"a\", 1]",
        "ca-file = \"\"",
        "ca-file = \"certs/ca.pem\"",
        "timout = 3",
        "a = ",
        "= 1",
        "[",
        "\"quoted key\" = 1",
        "[secrets]",
        "PYPI = \"vault://secret/ci/pypi#token\"",
        "X = { ref = \"env://A\", secret = false }",
        "[vault]",
        "address = 1",
        "method = \"approle\"",
        "method = { approle = { role-id = 3 } }",
        "nested = { nested = { retries = -2 } }",
        "[wheel.repositories.internal]",
        "[vault.map.x]",
        "hosts = [\"a\", [\"b\"]]",
        "key = \"\"\"",
        "multi",
        "\"\"\"",
        "# comment",
        "é = 1",
        "a.b.c = 1",
        "\t",
        "\r",
        "x = 1979-05-27T07:32:00Z",
        "verify = tru",
    ]);
    (
        proptest::collection::vec(line, 0..12),
        proptest::sample::select(vec!["\n", "\r\n"]),
        any::<bool>(),
    )
        .prop_map(|(lines, newline, trailing)| {
            let mut text = lines.join(newline);
            if trailing {
                text.push_str(newline);
            }
            text
        })
}

/// A byte string that is mostly a document, with bytes flipped or spliced
/// in (invalid UTF-8 included).
fn toml_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![toml_lines(), toml_document()],
        proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
    )
        .prop_map(|(text, edits)| {
            let mut bytes = text.into_bytes();
            for (at, byte) in edits {
                let at = at % (bytes.len() + 1);
                bytes.insert(at, byte);
            }
            bytes
        })
}

// ---------------------------------------------------------------------------
// Valid configurations and their provenance.

/// One `[http]` value as the file writes it, and as it must come out.
#[derive(Debug, Clone)]
enum HttpValue {
    Timeout(Duration, String),
    ConnectTimeout(Duration, String),
    Retries(u32),
    CaFile(String),
    InsecureHosts(Vec<String>),
}

impl HttpValue {
    fn key(&self) -> &'static str {
        match self {
            Self::Timeout(..) => "timeout",
            Self::ConnectTimeout(..) => "connect-timeout",
            Self::Retries(_) => "retries",
            Self::CaFile(_) => "ca-file",
            Self::InsecureHosts(_) => "insecure-hosts",
        }
    }

    fn toml(&self) -> String {
        let string = |s: &str| toml::Value::String(s.to_owned()).to_string();
        match self {
            Self::Timeout(_, text) | Self::ConnectTimeout(_, text) => text.clone(),
            Self::Retries(n) => n.to_string(),
            Self::CaFile(path) => string(path),
            Self::InsecureHosts(hosts) => {
                let items: Vec<String> = hosts.iter().map(|h| string(h)).collect();
                format!("[{}]", items.join(", "))
            }
        }
    }
}

fn duration() -> impl Strategy<Value = (Duration, String)> {
    prop_oneof![
        (0u64..100_000).prop_map(|s| (Duration::from_secs(s), s.to_string())),
        (0u64..100, 0u64..60, 0u64..60, 0u64..1000).prop_map(|(h, m, s, ms)| {
            let mut text = String::new();
            for (n, unit) in [(h, "h"), (m, "m"), (s, "s"), (ms, "ms")] {
                if n > 0 {
                    let _ = write!(text, "{n}{unit}");
                }
            }
            if text.is_empty() {
                text.push_str("0s");
            }
            let total = Duration::from_secs(h * 3600 + m * 60 + s) + Duration::from_millis(ms);
            (total, format!("\"{text}\""))
        }),
    ]
}

fn http_values() -> impl Strategy<Value = Vec<HttpValue>> {
    (
        proptest::option::of(duration()),
        proptest::option::of(duration()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(
            "[a-z]{1,5}(/[a-z.]{1,5}){0,2}|\\.\\./[a-z]{1,5}\\.pem|/etc/[a-z]{1,5}\\.pem",
        ),
        proptest::option::of(proptest::collection::vec(
            "[a-z0-9.-]{1,10}|é[a-z]\"\\\\",
            0..3,
        )),
    )
        .prop_map(|(timeout, connect, retries, ca_file, hosts)| {
            let mut values = Vec::new();
            values.extend(timeout.map(|(d, t)| HttpValue::Timeout(d, t)));
            values.extend(connect.map(|(d, t)| HttpValue::ConnectTimeout(d, t)));
            values.extend(retries.map(HttpValue::Retries));
            values.extend(ca_file.map(HttpValue::CaFile));
            values.extend(hosts.map(HttpValue::InsecureHosts));
            values
        })
}

/// How a file writes its `[http]` keys.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// `[http]` then one key per line.
    Table,
    /// `http.key = value` lines.
    Dotted,
    /// `http = { key = value, ... }` on one line.
    Inline,
}

/// A generated file: its text, the line of each `[http]` key, and the
/// line of each secret.
#[derive(Debug, Clone)]
struct Written {
    text: String,
    http: Vec<(HttpValue, usize)>,
    secrets: Vec<(String, String, usize)>,
}

fn written() -> impl Strategy<Value = Written> {
    (
        http_values(),
        prop_oneof![
            Just(Layout::Table),
            Just(Layout::Dotted),
            Just(Layout::Inline)
        ],
        proptest::collection::btree_map(
            "[A-Z][A-Z0-9_]{0,6}",
            "vault://[a-z]{1,4}/[a-z]{1,4}#[a-z]{1,4}|env://[A-Z_]{1,6}",
            0..3,
        ),
        proptest::collection::vec(
            proptest::sample::select(vec!["", "# a comment", "   ", "\t# indented"]),
            12,
        ),
        any::<bool>(),
    )
        .prop_map(|(http, layout, secrets, fillers, secrets_first)| {
            let mut lines: Vec<String> = Vec::new();
            let mut fill = fillers.into_iter().cycle();
            let mut at = Vec::new();
            let mut secret_lines = Vec::new();
            let mut write_secrets = |lines: &mut Vec<String>| {
                if secrets.is_empty() {
                    return;
                }
                lines.push("[secrets]".to_owned());
                for (name, reference) in &secrets {
                    lines.push(format!("{name} = \"{reference}\""));
                    secret_lines.push((name.clone(), reference.clone(), lines.len()));
                }
            };
            // Dotted and inline keys after `[secrets]` would land in it.
            let secrets_first = secrets_first && matches!(layout, Layout::Table);
            if secrets_first {
                write_secrets(&mut lines);
            }
            match layout {
                Layout::Table => {
                    if !http.is_empty() {
                        lines.push("[http]".to_owned());
                    }
                    for value in &http {
                        lines.push(fill.next().unwrap_or_default().to_owned());
                        lines.push(format!("{} = {}", value.key(), value.toml()));
                        at.push((value.clone(), lines.len()));
                    }
                }
                Layout::Dotted => {
                    for value in &http {
                        lines.push(fill.next().unwrap_or_default().to_owned());
                        lines.push(format!("http.{} = {}", value.key(), value.toml()));
                        at.push((value.clone(), lines.len()));
                    }
                }
                Layout::Inline => {
                    if !http.is_empty() {
                        let pairs: Vec<String> = http
                            .iter()
                            .map(|v| format!("{} = {}", v.key(), v.toml()))
                            .collect();
                        lines.push(format!("http = {{ {} }}", pairs.join(", ")));
                        at.extend(http.iter().map(|v| (v.clone(), lines.len())));
                    }
                }
            }
            if !secrets_first {
                write_secrets(&mut lines);
            }
            Written {
                text: lines.join("\n") + "\n",
                http: at,
                secrets: secret_lines,
            }
        })
}

/// `WINDLASS_HTTP_RETRIES` and `WINDLASS_HTTP_TIMEOUT`, when set.
#[derive(Debug, Clone)]
struct Env {
    retries: Option<u32>,
    timeout: Option<(Duration, String)>,
}

fn env() -> impl Strategy<Value = Env> {
    (
        proptest::option::weighted(0.3, any::<u32>()),
        proptest::option::weighted(0.3, duration()),
    )
        .prop_map(|(retries, timeout)| Env {
            retries,
            timeout: timeout.map(|(d, text)| (d, text.trim_matches('"').to_owned())),
        })
}

/// What a key must come out as: its value and where it came from.
fn expect_http(
    tree: &Tree,
    user: Option<&Written>,
    project: &Written,
    env: &Env,
) -> BTreeMap<&'static str, (HttpValue, Source)> {
    let mut out = BTreeMap::new();
    let layers = [
        (user, tree.user_file(), true),
        (Some(project), tree.project_file(), false),
    ];
    for (written, path, is_user) in layers {
        for (value, line) in written.map(|w| w.http.as_slice()).unwrap_or_default() {
            let (path, line) = (path.clone(), *line);
            let source = if is_user {
                Source::UserFile { path, line }
            } else {
                Source::ProjectFile { path, line }
            };
            out.insert(value.key(), (value.clone(), source));
        }
    }
    if let Some(retries) = env.retries {
        let name = "WINDLASS_HTTP_RETRIES".to_owned();
        out.insert(
            "retries",
            (HttpValue::Retries(retries), Source::Env { name }),
        );
    }
    if let Some((duration, text)) = &env.timeout {
        let name = "WINDLASS_HTTP_TIMEOUT".to_owned();
        let value = HttpValue::Timeout(*duration, text.clone());
        out.insert("timeout", (value, Source::Env { name }));
    }
    out
}

/// `path` made absolute against `base` and normalised, as the loader does.
fn resolved(base: &Path, path: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for component in base.join(path).components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Any document a TOML serializer writes, as the project file and as the
/// user file: no panic, located errors point into the file.
#[test]
fn any_document_loads_or_points_into_the_file() {
    let documents = (proptest::option::of(toml_document()), toml_document());
    run_in_tree(documents, |tree, (user, project)| {
        load_and_check(tree, user.as_deref().map(str::as_bytes), project.as_bytes())
    });
}

/// Documents made of valid and broken lines, with `\n` or `\r\n`.
#[test]
fn broken_documents_point_into_the_file() {
    run_in_tree(toml_lines(), |tree, project| {
        load_and_check(tree, None, project.as_bytes())
    });
}

/// Any bytes, invalid UTF-8 included: no panic, and an error shows where
/// the file is wrong.
#[test]
fn any_bytes_load_or_point_into_the_file() {
    run_in_tree(toml_bytes(), |tree, project| {
        load_and_check(tree, None, &project)
    });
}

/// Generated valid configurations: every `[http]` value comes out as
/// written with the file and line that set it, a project value over a user
/// value and a variable over both; every secret reference comes out as
/// written, with its file and line.
#[test]
fn valid_configs_round_trip_with_provenance() {
    let cases = (proptest::option::of(written()), written(), env());
    run_in_tree(cases, |tree, (user, project, env)| {
        tree.write(
            user.as_ref().map(|u| u.text.as_bytes()),
            project.text.as_bytes(),
        );
        round_trip(tree, user.as_ref(), &project, &env)
    });
}

fn round_trip(
    tree: &Tree,
    user: Option<&Written>,
    project: &Written,
    env: &Env,
) -> Result<(), TestCaseError> {
    let mut options = tree.options();
    if let Some(retries) = env.retries {
        options = options.with_env("WINDLASS_HTTP_RETRIES", retries.to_string());
    }
    if let Some((_, text)) = &env.timeout {
        options = options.with_env("WINDLASS_HTTP_TIMEOUT", text);
    }
    let loaded = options.load();
    prop_assert!(
        loaded.is_ok(),
        "{:?}\n{}",
        loaded.err().map(|e| e.to_string()),
        project.text
    );
    let config = loaded.unwrap();

    let expected = expect_http(tree, user, project, env);
    let http = &config.settings.http;
    let defaults = windlass_config::Settings::default().http;
    for key in [
        "timeout",
        "connect-timeout",
        "retries",
        "ca-file",
        "insecure-hosts",
    ] {
        let entry = config.entry(&format!("http.{key}")).unwrap();
        let Some((value, source)) = expected.get(key) else {
            prop_assert_eq!(&entry.source, &Source::Default, "{}", key);
            continue;
        };
        prop_assert_eq!(&entry.source, source, "{}", key);
        match value {
            HttpValue::Timeout(d, _) => prop_assert_eq!(http.timeout, *d),
            HttpValue::ConnectTimeout(d, _) => prop_assert_eq!(http.connect_timeout, *d),
            HttpValue::Retries(n) => prop_assert_eq!(http.retries, *n),
            HttpValue::CaFile(path) => {
                let base = match source {
                    Source::UserFile { path, .. } | Source::ProjectFile { path, .. } => {
                        path.parent().unwrap().to_owned()
                    }
                    _ => unreachable!("ca-file is set by a file here"),
                };
                prop_assert_eq!(http.ca_file.clone(), Some(resolved(&base, path)));
            }
            HttpValue::InsecureHosts(hosts) => prop_assert_eq!(&http.insecure_hosts, hosts),
        }
    }
    if !expected.contains_key("retries") {
        prop_assert_eq!(http.retries, defaults.retries);
    }

    // `[secrets]` entries replace each other whole, project over user.
    let mut secrets: BTreeMap<String, (String, Source)> = BTreeMap::new();
    let layers = [
        (user, tree.user_file(), true),
        (Some(project), tree.project_file(), false),
    ];
    for (written, path, is_user) in layers {
        for (name, reference, line) in written.map(|w| w.secrets.as_slice()).unwrap_or_default() {
            let (path, line) = (path.clone(), *line);
            let source = if is_user {
                Source::UserFile { path, line }
            } else {
                Source::ProjectFile { path, line }
            };
            secrets.insert(name.clone(), (reference.clone(), source));
        }
    }
    let section: BTreeMap<String, String> = config.section("secrets").unwrap();
    prop_assert_eq!(
        section,
        secrets
            .iter()
            .map(|(n, (r, _))| (n.clone(), r.clone()))
            .collect::<BTreeMap<_, _>>()
    );
    for (name, (reference, source)) in &secrets {
        let entry = config.entry(&format!("secrets.{name}"));
        prop_assert!(entry.is_some(), "secrets.{name} missing");
        let entry = entry.unwrap();
        prop_assert_eq!(entry.value.clone(), Some(format!("\"{reference}\"")));
        prop_assert_eq!(&entry.source, source, "secrets.{}", name);
    }
    Ok(())
}
