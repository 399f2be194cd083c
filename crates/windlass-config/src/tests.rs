use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::{EffectiveConfig, Entry, LoadError, LoadOptions, Override, Settings, Source};

/// A temporary tree with `home/` and `project/` (holding `.git`), plus files.
struct Fixture {
    temp: TempDir,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Self {
        let temp = tempfile::tempdir().unwrap();
        for dir in ["home", "project/.git", "project/sub"] {
            std::fs::create_dir_all(temp.path().join(dir)).unwrap();
        }
        for (path, text) in files {
            let path = temp.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Self { temp }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.temp.path().join(relative)
    }

    /// Options for a run in `project/sub` with `home/` as the home directory.
    fn options(&self) -> LoadOptions {
        LoadOptions::new(self.path("project/sub")).with_home(self.path("home"))
    }

    fn scrub(&self, text: &str) -> String {
        let temp = self.temp.path().to_str().unwrap();
        let text = text.replace(temp, "[TEMP]");
        if cfg!(windows) {
            text.replace('\\', "/")
        } else {
            text
        }
    }
}

const USER: &str = "home/.config/windlass/windlass.toml";
const PROJECT: &str = "project/windlass.toml";

/// The whole message as the binary prints it: message, blank line, hint.
fn render_error(err: &LoadError) -> String {
    format!("error: {err}\n\nhint: {}", err.hint())
}

fn load(fixture: &Fixture, options: &LoadOptions) -> EffectiveConfig {
    match options.load() {
        Ok(config) => config,
        Err(err) => panic!("{}", fixture.scrub(&render_error(&err))),
    }
}

/// Files to create: (path relative to the temp root, contents).
type Files<'a> = &'a [(&'a str, &'a str)];

#[test]
fn precedence_of_all_five_layers() {
    // (case, user file?, project file?, env?, flag?)
    let cases = [
        ("default", false, false, false, false),
        ("user", true, false, false, false),
        ("project over user", true, true, false, false),
        ("env over project", true, true, true, false),
        ("flag over env", true, true, true, true),
        ("flag alone", false, false, false, true),
        ("env over user", true, false, true, false),
    ];
    let mut out = String::new();
    for (case, user, project, env, flag) in cases {
        let mut files = Vec::new();
        if user {
            files.push((USER, "[http]\ntimeout = 11\n"));
        }
        if project {
            files.push((
                PROJECT,
                "# project\n\n[http]\nretries = 1\ntimeout = \"2m\"\n",
            ));
        }
        let fixture = Fixture::new(&files);
        let mut options = fixture.options();
        if env {
            options = options.with_env("WINDLASS_HTTP_TIMEOUT", "90");
        }
        if flag {
            options = options.with_override(Override::new("--timeout", "http.timeout", "500ms"));
        }
        let config = load(&fixture, &options);
        let entry = config.entry("http.timeout").unwrap();
        let line = format!(
            "{case:<18} {:<10} {}",
            entry.value.as_deref().unwrap(),
            fixture.scrub(&entry.source.to_string())
        );
        writeln!(out, "{}", line.trim_end()).unwrap();
    }
    insta::assert_snapshot!(out);
}

#[test]
fn show_table_and_json() {
    let fixture = Fixture::new(&[
        (USER, "[http]\nconnect-timeout = \"5s\"\n"),
        (
            PROJECT,
            "http.retries = 5\nhttp.ca-file = \"certs/ca.pem\"\n",
        ),
    ]);
    let options = fixture
        .options()
        .with_env(
            "WINDLASS_HTTP_INSECURE_HOSTS",
            "registry.internal, pypi.internal",
        )
        .with_override(Override::new(
            "--connect-timeout",
            "http.connect-timeout",
            "90",
        ));
    let config = load(&fixture, &options);
    // Columns are aligned for the real path, so they look ragged after scrubbing.
    insta::assert_snapshot!("show_table", fixture.scrub(&config.render_table()));
    let json = serde_json::to_string_pretty(&config).unwrap();
    insta::assert_snapshot!("show_json", fixture.scrub(&json));
}

#[test]
fn relative_ca_file_resolves_against_its_file() {
    // (case, files, env value)
    let cases: [(&str, Files<'_>, Option<&str>); 4] = [
        (
            "user file",
            &[(USER, "[http]\nca-file = \"ca.pem\"\n")],
            None,
        ),
        (
            "project file",
            &[(PROJECT, "[http]\nca-file = \"certs/ca.pem\"\n")],
            None,
        ),
        (
            "parent dir",
            &[(PROJECT, "[http]\nca-file = \"../shared/ca.pem\"\n")],
            None,
        ),
        (
            "env, against cwd",
            &[(PROJECT, "[http]\nca-file = \"x.pem\"\n")],
            Some("env.pem"),
        ),
    ];
    let mut out = String::new();
    for (case, files, env) in cases {
        let fixture = Fixture::new(files);
        let mut options = fixture.options();
        if let Some(value) = env {
            options = options.with_env("WINDLASS_HTTP_CA_FILE", value);
        }
        let config = load(&fixture, &options);
        let path = config.settings.http.ca_file.as_deref().unwrap();
        assert!(path.is_absolute(), "{case}: {}", path.display());
        writeln!(
            out,
            "{case:<17} {}",
            fixture.scrub(&path.display().to_string())
        )
        .unwrap();
    }
    insta::assert_snapshot!(out);
}

#[test]
fn lists_are_replaced_not_concatenated() {
    // (case, user hosts, project hosts, env hosts)
    let cases = [
        ("user only", Some("[\"a\", \"b\"]"), None, None),
        (
            "project replaces user",
            Some("[\"a\", \"b\"]"),
            Some("[\"c\"]"),
            None,
        ),
        (
            "empty project list clears",
            Some("[\"a\"]"),
            Some("[]"),
            None,
        ),
        (
            "env replaces both",
            Some("[\"a\"]"),
            Some("[\"c\"]"),
            Some("d, e,"),
        ),
        ("empty env is unset", Some("[\"a\"]"), None, Some("")),
    ];
    let mut out = String::new();
    for (case, user, project, env) in cases {
        let user = user.map(|list| format!("[http]\ninsecure-hosts = {list}\n"));
        let project = project.map(|list| format!("[http]\ninsecure-hosts = {list}\n"));
        let mut files = Vec::new();
        if let Some(text) = &user {
            files.push((USER, text.as_str()));
        }
        if let Some(text) = &project {
            files.push((PROJECT, text.as_str()));
        }
        let fixture = Fixture::new(&files);
        let mut options = fixture.options();
        if let Some(value) = env {
            options = options.with_env("WINDLASS_HTTP_INSECURE_HOSTS", value);
        }
        let config = load(&fixture, &options);
        let entry = config.entry("http.insecure-hosts").unwrap();
        let line = format!(
            "{case:<26} {:<12} {}",
            entry.value.as_deref().unwrap(),
            fixture.scrub(&entry.source.to_string())
        );
        writeln!(out, "{}", line.trim_end()).unwrap();
    }
    insta::assert_snapshot!(out);
}

/// Every file error: (snapshot name, file, contents).
#[test]
fn file_errors() {
    let cases = [
        ("syntax_missing_value", PROJECT, "[http]\ntimeout = \n"),
        (
            "syntax_unclosed_string",
            PROJECT,
            "[http]\nca-file = \"auto\n",
        ),
        (
            "syntax_duplicate_key",
            PROJECT,
            "[http]\nretries = 1\nretries = 2\n",
        ),
        ("unknown_key_did_you_mean", PROJECT, "[http]\ntimout = 5\n"),
        (
            "unknown_key_snake_case",
            PROJECT,
            "[http]\nconnect_timeout = 5\n",
        ),
        ("unknown_key_dotted", PROJECT, "http.retry = 2\n"),
        ("unknown_key_no_match", PROJECT, "[http]\nproxy = \"x\"\n"),
        (
            "unknown_section_did_you_mean",
            PROJECT,
            "[htp]\ntimeout = 5\n",
        ),
        ("unknown_section_no_match", PROJECT, "[pypi]\nurl = \"x\"\n"),
        ("unknown_key_in_user_file", USER, "[http]\nretrys = 2\n"),
        (
            "wrong_type_integer",
            PROJECT,
            "[http]\nretries = \"three\"\n",
        ),
        ("wrong_type_duration", PROJECT, "[http]\ntimeout = 1.5\n"),
        ("wrong_type_section", PROJECT, "http = 5\n"),
        (
            "wrong_type_list",
            PROJECT,
            "[http]\ninsecure-hosts = \"a\"\n",
        ),
        (
            "wrong_type_list_element",
            PROJECT,
            "[http]\ninsecure-hosts = [\"a\", 1]\n",
        ),
        (
            "wrong_type_leaf_is_table",
            PROJECT,
            "[http.timeout]\nx = 1\n",
        ),
        ("invalid_duration", PROJECT, "[http]\ntimeout = \"30x\"\n"),
        ("invalid_negative", PROJECT, "[http]\nretries = -1\n"),
        ("invalid_empty_path", PROJECT, "[http]\nca-file = \"\"\n"),
    ];
    for (name, path, text) in cases {
        let fixture = Fixture::new(&[(path, text)]);
        let err = fixture.options().load().expect_err(name);
        assert!(err.is_usage_error(), "{name}");
        let location = err.location().expect("file errors have a location");
        assert!(location.path.ends_with(path), "{name}");
        insta::assert_snapshot!(name, fixture.scrub(&render_error(&err)));
    }
}

/// Bytes the property tests found misplaced or unlocated: the location of
/// each error stays on the line it names, which shows no control
/// characters.
#[test]
fn odd_bytes_errors() {
    let cases: [&[u8]; 5] = [
        // A lone `\r` at the end is not a line ending.
        b"\r",
        // An error in a `\r\n` ending is just past the line's text.
        b"a = \r\n\"[http]\r\n",
        // A lone `\r` inside a line.
        b"a = 1\rb = 2\n",
        // Not UTF-8: the first bad byte.
        b"[http]\nretries = 3 # caf\xe9\n",
        b"\x80",
    ];
    let mut out = String::new();
    for text in cases {
        let fixture = Fixture::new(&[]);
        std::fs::write(fixture.path(PROJECT), text).unwrap();
        let err = fixture.options().load().unwrap_err();
        let location = err.location().expect("file errors have a location");
        writeln!(
            out,
            "{:?}\n  {}:{} width {} {:?}\n{}\n",
            String::from_utf8_lossy(text),
            location.line,
            location.column,
            location.width,
            location.line_text,
            fixture.scrub(&render_error(&err))
        )
        .unwrap();
    }
    insta::assert_snapshot!(out);
}

/// Every environment and flag error: (snapshot name, env, overrides).
#[test]
fn env_and_flag_errors() {
    let cases = [
        ("env_integer", Some(("WINDLASS_HTTP_RETRIES", "abc")), None),
        (
            "env_duration",
            Some(("WINDLASS_HTTP_TIMEOUT", "soon")),
            None,
        ),
        (
            "explicit_missing_env",
            Some(("WINDLASS_CONFIG", "nope.toml")),
            None,
        ),
        (
            "flag_value",
            None,
            Some(("--retries", "http.retries", "many")),
        ),
        (
            "flag_unknown_key",
            None,
            Some(("--set", "http.timout", "5")),
        ),
        (
            "flag_unknown_key_no_match",
            None,
            Some(("--set", "pypi.url", "x")),
        ),
    ];
    for (name, env, flag) in cases {
        let fixture = Fixture::new(&[]);
        let mut options = fixture.options();
        if let Some((var, value)) = env {
            options = options.with_env(var, value);
        }
        if let Some((flag, key, value)) = flag {
            options = options.with_override(Override::new(flag, key, value));
        }
        let err = options.load().expect_err(name);
        assert!(err.is_usage_error(), "{name}");
        insta::assert_snapshot!(name, fixture.scrub(&render_error(&err)));
    }
}

#[test]
fn explicit_config_flag() {
    let fixture = Fixture::new(&[
        (PROJECT, "[http]\nretries = 1\n"),
        ("elsewhere/ci.toml", "[http]\nretries = 7\n"),
    ]);
    // `--config` wins over WINDLASS_CONFIG, which wins over discovery.
    let cases = [
        ("discovered", None, None),
        ("env", None, Some("../../elsewhere/ci.toml")),
        (
            "flag over env",
            Some("../../elsewhere/ci.toml"),
            Some("missing.toml"),
        ),
    ];
    let mut out = String::new();
    for (case, flag, env) in cases {
        let mut options = fixture.options();
        if let Some(path) = flag {
            options = options.with_config_file(path);
        }
        if let Some(path) = env {
            options = options.with_env("WINDLASS_CONFIG", path);
        }
        let config = load(&fixture, &options);
        let source = fixture.scrub(&config.source("http.retries").unwrap().to_string());
        writeln!(out, "{case:<14} {} {source}", config.settings.http.retries).unwrap();
    }
    insta::assert_snapshot!(out);

    let err = fixture
        .options()
        .with_config_file("missing.toml")
        .load()
        .unwrap_err();
    insta::assert_snapshot!(fixture.scrub(&render_error(&err)), @r"
    error: config file [TEMP]/project/sub/missing.toml given by --config does not exist

    hint: fix the path given by --config, or drop it to search for windlass.toml
    ");
}

#[test]
fn discovery_stops_at_git_root() {
    // (case, files, start directory relative to the temp root)
    let cases: [(&str, Files<'_>, &str); 4] = [
        (
            "in cwd",
            &[("project/sub/windlass.toml", "")],
            "project/sub",
        ),
        ("in ancestor", &[(PROJECT, "")], "project/sub"),
        (
            "above .git is ignored",
            &[("windlass.toml", "")],
            "project/sub",
        ),
        ("none", &[], "project/sub"),
    ];
    let mut out = String::new();
    for (case, files, start) in cases {
        let fixture = Fixture::new(files);
        let found = crate::find_project_file(&fixture.path(start)).map_or_else(
            || "(none)".to_owned(),
            |p| fixture.scrub(&p.display().to_string()),
        );
        writeln!(out, "{case:<22} {found}").unwrap();
    }
    insta::assert_snapshot!(out);
}

#[test]
fn user_config_location() {
    let cases = [
        ("home", vec![]),
        ("xdg", vec![("XDG_CONFIG_HOME", "/xdg")]),
        ("relative xdg is ignored", vec![("XDG_CONFIG_HOME", "xdg")]),
        (
            "windlass home wins",
            vec![
                ("XDG_CONFIG_HOME", "/xdg"),
                ("WINDLASS_CONFIG_HOME", "/cfg"),
            ],
        ),
        ("empty means unset", vec![("WINDLASS_CONFIG_HOME", "")]),
    ];
    let mut out = String::new();
    for (case, env) in cases {
        let mut options = LoadOptions::new("/repo").with_home("/home/me");
        for (name, value) in env {
            options = options.with_env(name, value);
        }
        let path = options.user_config_path().unwrap();
        writeln!(
            out,
            "{case:<24} {}",
            path.display().to_string().replace('\\', "/")
        )
        .unwrap();
    }
    insta::assert_snapshot!(out);
}

#[test]
fn durations() {
    let cases = [
        "30", "30s", "2m", "1m30s", "500ms", "1h", "90m", "1d", "2w", "1d12h", "0", "", "30x", "s",
        "1.5s", "-1",
    ];
    let mut out = String::new();
    for input in cases {
        let parsed = crate::duration::parse(input)
            .map_or_else(|| "invalid".to_owned(), crate::duration::format);
        writeln!(out, "{:<8} {parsed}", format!("{input:?}")).unwrap();
    }
    insta::assert_snapshot!(out);
}

#[test]
fn source_display() {
    let cases = [
        Source::Default,
        Source::UserFile {
            path: PathBuf::from("home/windlass.toml"),
            line: 3,
        },
        Source::ProjectFile {
            path: PathBuf::from("windlass.toml"),
            line: 12,
        },
        Source::Env {
            name: "WINDLASS_HTTP_TIMEOUT".to_owned(),
        },
        Source::Flag {
            flag: "--timeout".to_owned(),
        },
    ];
    let out: Vec<String> = cases.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(out.join("\n"), @r"
    default
    home/windlass.toml:3
    windlass.toml:12
    env WINDLASS_HTTP_TIMEOUT
    --timeout
    ");
}

#[test]
fn defaults_without_any_file() {
    let fixture = Fixture::new(&[]);
    let config = load(&fixture, &fixture.options());
    assert_eq!(config.settings, Settings::default());
    assert!(
        config
            .entries
            .iter()
            .all(|entry| entry.source == Source::Default)
    );
    assert_eq!((config.user_file, config.project_file), (None, None));
}

/// The struct and the registry describe the same keys with compatible types.
#[test]
fn schema_matches_registry() {
    // Every registry key, with an example value, deserializes into Settings.
    let mut text = String::new();
    for var in crate::ENV_VARS {
        if let Some(key) = var.key {
            writeln!(text, "{key} = {}", var.kind.example_toml()).unwrap();
        }
        // Every variable follows the naming rule.
        if let Some(key) = var.key {
            let expected = format!("WINDLASS_{}", key.replace(['.', '-'], "_").to_uppercase());
            assert_eq!(var.name, expected);
        }
    }
    let settings: Settings = toml::from_str(&text).unwrap();
    // Every serialized default key is in the registry.
    let defaults = toml::Value::try_from(Settings::default()).unwrap();
    let mut keys = Vec::new();
    collect_keys(&defaults, "", &mut keys);
    for key in &keys {
        assert!(
            crate::setting(key).is_some(),
            "{key} is missing from ENV_VARS"
        );
    }
    // And every registry key is a field (deserializing set it away from the default).
    let populated = toml::Value::try_from(settings).unwrap();
    let mut populated_keys = Vec::new();
    collect_keys(&populated, "", &mut populated_keys);
    populated_keys.sort();
    let mut registry_keys: Vec<_> = crate::keys().collect();
    registry_keys.sort_unstable();
    assert_eq!(populated_keys, registry_keys);
}

fn collect_keys(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
    if let toml::Value::Table(table) = value {
        for (name, inner) in table {
            let key = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            if inner.is_table() {
                collect_keys(inner, &key, out);
            } else {
                out.push(key);
            }
        }
    }
}

/// `docs/environment.md` and `docs/configuration.md` embed generated tables;
/// `UPDATE_DOCS=1 cargo test -p windlass-config docs_are_generated` rewrites them.
#[test]
fn docs_are_generated() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    check_generated(&docs.join("environment.md"), &crate::env_vars_markdown());
    check_generated(
        &docs.join("configuration.md"),
        &crate::config_keys_markdown(),
    );
    check_generated_block(
        &docs.join("configuration.md"),
        "<!-- BEGIN GENERATED SECTIONS: do not edit, see windlass-config -->\n",
        &crate::tool_sections_markdown(),
    );
    check_generated_block(
        &docs.join("configuration.md"),
        "<!-- BEGIN GENERATED TOOL KEYS: do not edit, see windlass-config -->\n",
        &crate::tool_keys_markdown(),
    );
}

/// Every tool key belongs to a tool-owned section, and every credential
/// pattern of a section names a documented key.
#[test]
fn tool_keys_match_their_sections() {
    for key in crate::TOOL_KEYS {
        let section = key.key.split('.').next().unwrap();
        assert!(crate::tool_section(section).is_some(), "{}", key.key);
    }
    for section in crate::TOOL_SECTIONS {
        for (pattern, _) in section.credentials {
            let documented = crate::TOOL_KEYS.iter().any(|key| {
                let key_pattern = key.key.replace("NAME", "*").replace("KEY", "*");
                key.credential()
                    && (key_pattern == *pattern
                        || crate::registry::key_matches(pattern, &key_pattern))
            });
            assert!(documented, "{pattern} is not documented as a credential");
        }
    }
}

fn check_generated(path: &Path, generated: &str) {
    check_generated_block(
        path,
        "<!-- BEGIN GENERATED: do not edit, see windlass-config -->\n",
        generated,
    );
}

fn check_generated_block(path: &Path, begin: &str, generated: &str) {
    const END: &str = "<!-- END GENERATED -->";
    let text = std::fs::read_to_string(path).unwrap();
    let start = text.find(begin).expect("begin marker") + begin.len();
    let end = start + text[start..].find(END).expect("end marker");
    let expected = format!("{}{generated}{}", &text[..start], &text[end..]);
    windlass_testkit::assert_generated(
        path,
        &expected,
        "cargo test -p windlass-config docs_are_generated",
    );
}

/// A stand-in for a tool's section types (the real ones live in the tools).
mod tool {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use crate::RelativePath;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "kebab-case", deny_unknown_fields)]
    pub(super) struct Vault {
        pub(super) address: Option<String>,
        pub(super) ca_file: Option<RelativePath>,
        pub(super) auth: Option<Auth>,
        pub(super) retries: Option<u32>,
        pub(super) approle: Option<AppRole>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub(super) enum Auth {
        Token,
        Approle,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "kebab-case", deny_unknown_fields)]
    pub(super) struct AppRole {
        pub(super) role_id: String,
        pub(super) secret_id: String,
        #[serde(default)]
        pub(super) wrapped: bool,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "kebab-case", deny_unknown_fields)]
    pub(super) struct Entry {
        #[serde(rename = "ref")]
        pub(super) reference: String,
        #[serde(default)]
        pub(super) secret: Option<bool>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    pub(super) enum Secret {
        Ref(String),
        Table(Entry),
    }

    pub(super) type Secrets = indexmap::IndexMap<String, Secret>;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "kebab-case", deny_unknown_fields)]
    pub(super) struct Wheel {
        #[serde(default)]
        pub(super) repositories: BTreeMap<String, Repository>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "kebab-case", deny_unknown_fields)]
    pub(super) struct Repository {
        pub(super) url: String,
        pub(super) username: Option<String>,
        pub(super) token: Option<String>,
    }
}

/// User and project files both write the tool-owned sections: the project
/// wins per secret name, per leaf in `[vault]`, per repository in `[wheel]`.
#[test]
fn tool_sections_merge_and_show() {
    let fixture = Fixture::new(&[
        (
            USER,
            r#"[secrets]
PYPI_TOKEN = "vault://secret/user/pypi#token"
GH = { ref = "env://GH_TOKEN", secret = true }

[vault]
address = "https://vault.user.example:8200"
ca-file = "vault-ca.pem"
auth = "approle"

[vault.approle]
role-id = "env://ROLE_ID"
secret-id = "file://~/.secret-id"

[wheel.repositories.internal]
url = "https://user.example/simple"
username = "me"
token = "keyring://pypi/me"
"#,
        ),
        (
            PROJECT,
            r#"[http]
retries = 1

[secrets]
GH = "env://GITHUB_TOKEN"
PYPI_USER = { ref = "env://PYPI_USER", secret = false }

[vault]
address = "https://vault.example.org:8200"
approle.secret-id = "env://SECRET_ID"

[wheel.repositories.internal]
url = "https://project.example/simple"
"#,
        ),
    ]);
    let config = load(&fixture, &fixture.options());
    insta::assert_snapshot!("tool_sections_show", fixture.scrub(&config.render_table()));

    let secrets: tool::Secrets = config.section("secrets").unwrap();
    let names: Vec<&str> = secrets.keys().map(String::as_str).collect();
    // File order, user file first; a replaced entry keeps its place.
    assert_eq!(names, ["PYPI_TOKEN", "GH", "PYPI_USER"]);
    assert!(matches!(&secrets["GH"], tool::Secret::Ref(r) if r == "env://GITHUB_TOKEN"));

    assert!(matches!(
        &secrets["PYPI_USER"],
        tool::Secret::Table(e) if e.reference == "env://PYPI_USER" && e.secret == Some(false)
    ));
    let vault: tool::Vault = config.section("vault").unwrap();
    assert_eq!(
        vault.address.as_deref(),
        Some("https://vault.example.org:8200")
    );
    assert!(matches!(vault.auth, Some(tool::Auth::Approle)));
    let approle = vault.approle.unwrap();
    assert_eq!(
        (approle.role_id.as_str(), approle.secret_id.as_str()),
        ("env://ROLE_ID", "env://SECRET_ID")
    );
    assert!(!approle.wrapped);
    assert_eq!(vault.retries, None);
    // Relative to the user file's directory, which set it.
    assert_eq!(
        vault.ca_file.unwrap().as_path(),
        fixture.path("home/.config/windlass/vault-ca.pem")
    );

    // A repository is replaced whole: the user's username and token never
    // travel to the project's URL.
    let wheel: tool::Wheel = config.section("wheel").unwrap();
    let internal = &wheel.repositories["internal"];
    assert_eq!(internal.url, "https://project.example/simple");
    assert_eq!(
        (internal.username.as_ref(), internal.token.as_ref()),
        (None, None)
    );

    let err = config.section::<tool::Wheel>("pypi").unwrap_err();
    assert!(!err.is_usage_error());
}

#[test]
fn absent_tool_section_is_empty() {
    let fixture = Fixture::new(&[(PROJECT, "[http]\nretries = 1\n")]);
    let config = load(&fixture, &fixture.options());
    let secrets: tool::Secrets = config.section("secrets").unwrap();
    assert!(secrets.is_empty());
    let vault: tool::Vault = config.section("vault").unwrap();
    assert!(vault.address.is_none());
    assert!(config.entries.iter().all(|e| e.key.starts_with("http.")));
}

/// A tool's serde errors, located like the crate's own:
/// (snapshot name, file, contents, section).
#[test]
fn tool_section_errors() {
    let cases = [
        (
            "tool_unknown_key_did_you_mean",
            PROJECT,
            "[vault]\naddres = \"http://x\"\n",
            "vault",
        ),
        (
            "tool_unknown_key_nested",
            PROJECT,
            "[vault]\naddress = \"http://x\"\n\n[vault.approle]\nrole-id = \"env://R\"\nsecret-id = \"env://S\"\nwraped = true\n",
            "vault",
        ),
        (
            "tool_unknown_key_inline",
            PROJECT,
            "[secrets]\nX = { ref = \"env://X\", secrte = false }\n",
            "secrets",
        ),
        (
            "tool_unknown_key_in_user_file",
            USER,
            "[vault]\nnamespce = \"team\"\n",
            "vault",
        ),
        (
            "tool_unknown_key_no_match",
            PROJECT,
            "[vault]\nproxy = \"x\"\n",
            "vault",
        ),
        (
            "tool_wrong_type",
            PROJECT,
            "[vault]\naddress = 8200\n",
            "vault",
        ),
        (
            "tool_wrong_type_table",
            PROJECT,
            "[vault]\napprole = \"env://X\"\n",
            "vault",
        ),
        (
            "tool_wrong_type_untagged",
            PROJECT,
            "[secrets]\nX = { ref = \"env://X\", secret = \"no\" }\n",
            "secrets",
        ),
        (
            "tool_unknown_variant",
            PROJECT,
            "[vault]\nauth = \"ldap\"\n",
            "vault",
        ),
        (
            "tool_invalid_value",
            PROJECT,
            "[vault]\nretries = -1\n",
            "vault",
        ),
        (
            "tool_missing_key",
            PROJECT,
            "[vault.approle]\nrole-id = \"env://R\"\n",
            "vault",
        ),
        (
            "tool_missing_key_dotted",
            PROJECT,
            "vault.approle.role-id = \"env://R\"\n",
            "vault",
        ),
        (
            "tool_empty_path",
            PROJECT,
            "[vault]\nca-file = \"\"\n",
            "vault",
        ),
        (
            "tool_section_not_a_table",
            PROJECT,
            "vault = \"http://x\"\n",
            "vault",
        ),
    ];
    for (name, path, text, section) in cases {
        let fixture = Fixture::new(&[(path, text)]);
        let config = load(&fixture, &fixture.options());
        let err = match section {
            "vault" => config.section::<tool::Vault>(section).map(|_| ()),
            _ => config.section::<tool::Secrets>(section).map(|_| ()),
        }
        .expect_err(name);
        assert!(err.is_usage_error(), "{name}");
        let location = err.location().expect("file errors have a location");
        assert!(location.path.ends_with(path), "{name}");
        insta::assert_snapshot!(name, fixture.scrub(&render_error(&err)));
    }
}

/// A credential field holds a secret reference; anything else is refused
/// when the file is loaded, in either file, and the error never repeats
/// the value.
#[test]
fn credential_fields_take_references_only() {
    let cases = [
        (
            "repository password",
            PROJECT,
            "[wheel.repositories.internal]\nurl = \"https://x.example/\"\nusername = \"ci\"\npassword = \"hunter2\"\n",
        ),
        (
            "repository token, inline, user file",
            USER,
            "[wheel]\nrepositories.pypi = { url = \"https://x.example/\", token = \"pypi-hunter2\" }\n",
        ),
        (
            "approle secret id",
            PROJECT,
            "[vault.approle]\nrole-id = \"env://R\"\nsecret-id = 'hunter2'\n",
        ),
        (
            "approle role id, dotted",
            PROJECT,
            "vault.approle.role-id = \"hunter2\"\n",
        ),
        ("secret entry", PROJECT, "[secrets]\nX = \"hunter2\"\n"),
        (
            "a url is not a reference",
            PROJECT,
            "[secrets]\nX = \"https://ci:hunter2@x.example/\"\n",
        ),
        (
            "secret entry table",
            PROJECT,
            "[secrets]\nX = { ref = \"hunter2\", secret = false }\n",
        ),
        (
            "a table under a credential",
            PROJECT,
            "[wheel.repositories.x.password]\nvalue = \"hunter2\"\n",
        ),
        ("a number", PROJECT, "[vault.approle]\nsecret-id = 12345\n"),
        (
            "a multi-line string",
            PROJECT,
            "[vault.approle]\nsecret-id = \"\"\"hunter2\nhunter3\"\"\"\n",
        ),
        (
            "a deploy secret value at a dotted values path",
            PROJECT,
            "[deploy.environments.prod]\nsecret-values = { \"db.password\" = \"hunter2\" }\n",
        ),
        (
            "a verify command's env, array of tables",
            PROJECT,
            "[[deploy.environments.prod.gates.verify]]\ncommand = [\"./smoke\"]\nenv = { TOKEN = \"hunter2\" }\n",
        ),
        (
            "a verify command's env, inline array",
            PROJECT,
            "[deploy.environments.prod]\ngates = { verify = [{ http = \"https://x.example/\" }, { command = [\"x\"], env = { T = \"hunter2\" } }] }\n",
        ),
    ];
    let mut out = String::new();
    for (case, path, text) in cases {
        let fixture = Fixture::new(&[(path, text)]);
        let err = fixture.options().load().expect_err(case);
        assert!(err.is_usage_error(), "{case}");
        let location = err.location().expect("file errors have a location");
        assert!(location.path.ends_with(path), "{case}");
        let shown = fixture.scrub(&render_error(&err));
        assert!(!shown.contains("hunter"), "{case}: {shown}");
        writeln!(out, "=== {case}\n{shown}\n").unwrap();
    }
    insta::assert_snapshot!(out);

    // References of every scheme are accepted and shown as written.
    let fixture = Fixture::new(&[(
        PROJECT,
        "[secrets]\nA = \"keyring://svc/user\"\nB = { ref = \"env://B\", secret = false }\n\
         # a mistyped reference is left to the tool, which points at the typo\n\
         C = \"vault:secret/x#y\"\n\n\
         [vault.approle]\nrole-id = \"env://R\"\nsecret-id = \"file:///run/secret-id\"\n\n\
         [wheel.repositories.x]\nurl = \"https://x.example/\"\ntoken = \"vault://secret/ci/pypi#token\"\n\n\
         [deploy.environments.prod]\nsecret-values = { \"db.password\" = \"vault://secret/ml#db\" }\n\n\
         [[deploy.environments.prod.gates.verify]]\ncommand = [\"./smoke\"]\nenv = { TOKEN = \"env://SMOKE_TOKEN\" }\n",
    )]);
    let config = load(&fixture, &fixture.options());
    let shown: Vec<String> = config
        .entries
        .iter()
        .filter_map(|e| Some(format!("{} = {}", e.key, e.value.as_deref()?)))
        .filter(|line| !line.starts_with("http."))
        .collect();
    insta::assert_snapshot!("credential_references_shown", shown.join("\n"));
}

#[test]
fn tool_section_name_is_registered() {
    let cases = ["secrets", "vault", "wheel", "image", "deploy"];
    for name in cases {
        assert!(crate::tool_section(name).is_some(), "{name}");
    }
    assert!(crate::tool_section("pypi").is_none());
    let secrets = crate::tool_section("secrets").unwrap();
    assert!(secrets.replaced_whole("secrets.PYPI_TOKEN"));
    assert!(!secrets.replaced_whole("secrets"));
    assert!(
        !crate::tool_section("vault")
            .unwrap()
            .replaced_whole("vault.approle")
    );
}

#[test]
fn special_and_huge_files_are_refused() {
    use std::time::Duration;

    let fixture = Fixture::new(&[]);
    windlass_testkit::mkfifo(&fixture.path("fifo.toml"));
    let _socket = windlass_testkit::bind_socket(&fixture.path("socket.toml"));
    let huge = "# padding\n".repeat(usize::try_from(crate::FILE_LIMIT).unwrap() / 10 + 1);
    std::fs::write(fixture.path("huge.toml"), huge).unwrap();
    // (case, where windlass.toml is, or the `--config` path)
    let cases: [(&str, &str, Option<&str>); 6] = [
        ("project file is a fifo", PROJECT, None),
        ("user file is a fifo", USER, None),
        ("--config names a fifo", "", Some("fifo.toml")),
        ("--config names a socket", "", Some("socket.toml")),
        ("--config names /dev/zero", "", Some("/dev/zero")),
        ("--config names a huge file", "", Some("huge.toml")),
    ];
    let mut out = String::new();
    for (case, place, flag) in cases {
        if !place.is_empty() {
            std::fs::create_dir_all(fixture.path(place).parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(fixture.path("fifo.toml"), fixture.path(place)).unwrap();
        }
        let mut options = fixture.options();
        if let Some(flag) = flag {
            options = options.with_config_file(fixture.path(flag));
        }
        let result = windlass_testkit::within(Duration::from_secs(20), case, move || {
            options.load().map(|_| ())
        });
        let err = result.expect_err(case);
        assert!(err.is_usage_error(), "{case}");
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        let shown = format!(
            "{err}\n  caused by: {}\n\nhint: {}",
            cause.unwrap_or_default(),
            err.hint()
        );
        writeln!(out, "=== {case}\n{}\n", fixture.scrub(&shown)).unwrap();
        if !place.is_empty() {
            std::fs::remove_file(fixture.path(place)).unwrap();
        }
    }
    insta::assert_snapshot!(out);
}

/// Tool entries replace the entry of their key where it stands, or are
/// appended; JSON values are typed and a masked value stays `****`.
#[test]
fn tool_entries_and_typed_values() {
    let fixture = Fixture::new(&[(
        PROJECT,
        "[vault]\naddress = \"https://file.example\"\n[wheel]\nrepository = \"internal\"\n",
    )]);
    let mut config = load(&fixture, &fixture.options());
    let before: Vec<String> = config.entries.iter().map(|e| e.key.clone()).collect();
    config.add_tool_entries([
        Entry::string(
            "vault.address",
            "https://env.example",
            Source::ToolEnv {
                name: "VAULT_ADDR".to_owned(),
            },
        ),
        Entry::masked(
            "vault.token",
            Source::ToolEnv {
                name: "VAULT_TOKEN".to_owned(),
            },
        ),
        Entry::string(
            "wheel.repositories.local.url",
            "https://user:pw@pypi.example/",
            Source::Pypirc {
                path: "/home/u/.pypirc".into(),
                line: 3,
            },
        ),
    ]);
    let keys: Vec<String> = config.entries.iter().map(|e| e.key.clone()).collect();
    assert_eq!(&keys[..before.len()], &before[..]);
    assert_eq!(
        &keys[before.len()..],
        ["vault.token", "wheel.repositories.local.url"]
    );
    let address = config.entry("vault.address").unwrap();
    assert_eq!(address.source.to_string(), "env VAULT_ADDR");
    let json = serde_json::to_value(&config).unwrap();
    let value = |key: &str| {
        json["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == key)
            .unwrap()
            .clone()
    };
    assert_eq!(value("vault.address")["value"], "https://env.example");
    assert_eq!(value("vault.address")["source"]["kind"], "tool-env");
    assert_eq!(value("vault.token")["value"], "****");
    assert_eq!(value("http.retries")["value"], 3);
    let url = value("wheel.repositories.local.url");
    assert_eq!(url["source"]["kind"], "pypirc");
    assert_eq!(url["source"]["line"], 3);
    assert!(!url.to_string().contains("pw@"), "{url}");
    let table = config.render_table();
    assert!(table.contains("/home/u/.pypirc:3"), "{table}");
}

/// Every `WINDLASS_*` variable the code of any crate reads (a string literal
/// in its sources, outside tests and the test kit) has a row in the
/// registry, so `docs/environment.md` lists them all.
#[test]
fn every_variable_the_code_reads_is_registered() {
    fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") && name != "tests.rs" {
                out.push(path);
            }
        }
    }
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let krate = entry.unwrap().path();
        if krate.ends_with("windlass-testkit") || !krate.join("src").is_dir() {
            continue;
        }
        sources(&krate.join("src"), &mut files);
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut unregistered = std::collections::BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (start, _) in text.match_indices("\"WINDLASS_") {
            let name: String = text[start + 1..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            // Prefixes (`WINDLASS_HTTP_`) build names, they are not read.
            if name.ends_with('_') || crate::registry::env_var(&name).is_some() {
                continue;
            }
            unregistered.insert(format!("{name} ({})", file.display()));
        }
    }
    assert!(
        unregistered.is_empty(),
        "read by the code but not in ENV_VARS: {unregistered:#?}"
    );
}
