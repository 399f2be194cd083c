//! End-to-end tests of the `windlass` binary: exit codes, stdout and stderr.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use assert_cmd::Command;
use windlass_testkit::cli::{Cli, Run, sibling_binary};
use windlass_testkit::{Services, assert_no_leak, canary};

/// The binary with a hermetic environment: no user config, no CI
/// variables, `HOME` in `cwd` and the default cache.
fn windlass(cwd: &Path) -> Cli {
    hermetic(env!("CARGO_BIN_EXE_windlass"), cwd)
}

fn hermetic(bin: impl AsRef<std::ffi::OsStr>, cwd: &Path) -> Cli {
    Cli::new(bin, cwd)
        .env("HOME", cwd)
        .env_remove("WINDLASS_CACHE_DIR")
}

/// Runs `cli`, with `dir` in its output read as `[TEMP]`.
fn run(cli: Cli, dir: &Path) -> Run {
    cli.run().replace(dir, "[TEMP]")
}

#[test]
fn help_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let help = run(windlass(dir.path()).arg("--help"), dir.path());
    assert_eq!(help.code, 0);
    insta::assert_snapshot!("help", help);
    let version = run(windlass(dir.path()).arg("--version"), dir.path());
    assert_eq!(
        version.stdout,
        format!("windlass {}\n", env!("CARGO_PKG_VERSION"))
    );
    let none = run(windlass(dir.path()), dir.path());
    assert_eq!(none.code, 2, "{none}");
}

#[test]
fn config_show_reports_sources() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".git")).unwrap();
    fs::write(
        dir.path().join("windlass.toml"),
        "[http]\ntimeout = \"45s\"\nca-file = \"certs/ca.pem\"\n",
    )
    .unwrap();
    let human = run(
        windlass(dir.path())
            .args(["config", "show"])
            .env("WINDLASS_HTTP_RETRIES", "5"),
        dir.path(),
    );
    // Columns are aligned for the real temporary path: collapse the padding.
    let collapsed: String = human
        .to_string()
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join("  ") + "\n")
        .collect();
    insta::assert_snapshot!("config_show_human", collapsed);
    let json = run(
        windlass(dir.path())
            .args(["config", "show", "--json"])
            .env("WINDLASS_HTTP_RETRIES", "5"),
        dir.path(),
    );
    assert_eq!(json.code, 0, "{json}");
    let doc: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["schema"], "windlass/1");
    insta::assert_json_snapshot!("config_show_json", doc);
}

#[test]
fn config_errors_exit_2_with_location_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("windlass.toml"),
        "[http]\nretries = \"many\"\n",
    )
    .unwrap();
    let wrong_type = run(windlass(dir.path()).args(["config", "show"]), dir.path());
    assert_eq!(wrong_type.code, 2);
    let json = run(
        windlass(dir.path()).args(["config", "show", "--json"]),
        dir.path(),
    );
    assert_eq!(json.code, 2);
    let doc: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["exit_code"], 2);
    let missing = run(
        windlass(dir.path()).args(["config", "show", "--config", "nope.toml"]),
        dir.path(),
    );
    assert_eq!(missing.code, 2);
    insta::assert_snapshot!("config_errors", format!("{wrong_type}\n{missing}"));
}

#[test]
fn external_subcommands_run_from_path() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let plugin = bin.join("windlass-hello");
    fs::write(
        &plugin,
        "#!/bin/sh\necho \"hello from plugin: $*\"\nexit 7\n",
    )
    .unwrap();
    fs::set_permissions(&plugin, fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &windlass_testkit::var_os("PATH").unwrap(),
    )))
    .unwrap();

    let ran = run(
        windlass(dir.path())
            .env("PATH", &path)
            .args(["hello", "a b", "--flag"]),
        dir.path(),
    );
    assert_eq!(ran.code, 7, "{ran}");
    assert_eq!(ran.stdout, "hello from plugin: a b --flag\n");

    // Output flags before the name reach the plugin, ahead of its own.
    let flagged = run(
        windlass(dir.path())
            .env("PATH", &path)
            .args(["--json", "-qq", "--color", "never", "hello", "-v", "x"]),
        dir.path(),
    );
    assert_eq!(flagged.code, 7, "{flagged}");
    assert_eq!(
        flagged.stdout,
        "hello from plugin: --json -q -q --color=never -v x\n"
    );

    let typo = run(
        windlass(dir.path()).env("PATH", &path).arg("helo"),
        dir.path(),
    );
    assert_eq!(typo.code, 127);
    let unknown = run(
        windlass(dir.path()).env("PATH", &path).arg("frobnicate"),
        dir.path(),
    );
    assert_eq!(unknown.code, 127);
    insta::assert_snapshot!("external_errors", format!("{typo}\n{unknown}"));

    // Found but not executable: 126, as a shell says.
    let stale = bin.join("windlass-stale");
    fs::write(&stale, "#!/bin/sh\necho never\n").unwrap();
    fs::set_permissions(&stale, fs::Permissions::from_mode(0o644)).unwrap();
    let not_executable = run(
        windlass(dir.path()).env("PATH", &path).arg("stale"),
        dir.path(),
    );
    assert_eq!(not_executable.code, 126, "{not_executable}");
    insta::assert_snapshot!("external_not_executable", not_executable);

    // With --json the result document says the code the process exits with.
    for (name, code) in [("frobnicate", 127), ("stale", 126)] {
        let json = run(
            windlass(dir.path())
                .env("PATH", &path)
                .args(["--json", name]),
            dir.path(),
        );
        assert_eq!(json.code, code, "{json}");
        let last: serde_json::Value =
            serde_json::from_str(json.stdout.lines().last().unwrap()).unwrap();
        assert_eq!(last["exit_code"], code, "{json}");
        assert_eq!(last["ok"], false, "{json}");
        assert_eq!(last["type"], "result", "{json}");
        insta::assert_snapshot!(format!("external_json_{code}"), json);
    }
}

/// A hint names the command as it is installed: `windlass wheel ...`, not
/// the focused binary, which the install does not put on PATH.
#[test]
fn hints_name_the_umbrella_command() {
    let dir = tempfile::tempdir().unwrap();
    let build = run(windlass(dir.path()).args(["wheel", "build"]), dir.path());
    assert_eq!(build.code, 2, "{build}");
    assert!(!build.stderr.contains("windlass-wheel"), "{build}");
    insta::assert_snapshot!("hint_names_umbrella_command", build);
}

/// A project (a `.git` root, so no file above it applies) holding `text` as
/// its windlass.toml.
fn project(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".git")).unwrap();
    fs::write(dir.path().join("windlass.toml"), text).unwrap();
    dir
}

const SECRETS_TOML: &str = r#"[http]
retries = 1

[secrets]
PYPI_TOKEN = "vault://secret/ci/pypi#token"
PYPI_USER = { ref = "env://PYPI_USER", secret = false }
SIGNING_KEY = "file://keys/signing.pem"

[vault]
address = "https://vault.example.org:8200"
ca-file = "certs/vault-ca.pem"
auth = "approle"

[vault.approle]
role-id = "env://VAULT_ROLE_ID"
secret-id = "file:///run/secrets/vault-secret-id"
"#;

#[test]
fn config_show_lists_tool_sections() {
    let dir = project(SECRETS_TOML);
    let human = run(windlass(dir.path()).args(["config", "show"]), dir.path());
    assert_eq!(human.code, 0, "{human}");
    let collapsed: String = human
        .to_string()
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join("  ") + "\n")
        .collect();
    insta::assert_snapshot!("config_show_tool_sections", collapsed);

    let json = run(
        windlass(dir.path()).args(["config", "show", "--json"]),
        dir.path(),
    );
    assert_eq!(json.code, 0, "{json}");
    let doc: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    let entry = doc["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "secrets.PYPI_TOKEN")
        .unwrap();
    insta::assert_json_snapshot!("config_show_tool_sections_json_entry", entry);

    // A typo in a tool-owned section is located like any other.
    fs::write(
        dir.path().join("windlass.toml"),
        "[vault]\naddres = \"https://vault.example.org\"\n",
    )
    .unwrap();
    let typo = run(windlass(dir.path()).args(["config", "show"]), dir.path());
    assert_eq!(typo.code, 2, "{typo}");
    insta::assert_snapshot!("config_show_tool_section_typo", typo);
}

/// The Vault token in the environment and the references in the file never
/// turn into a value in `config show`.
#[test]
fn config_show_never_prints_a_secret() {
    let secret = canary("config-show");
    let dir = project(
        "[secrets]\nPYPI_TOKEN = \"env://CANARY_TOKEN\"\nOTHER = \"vault://secret/ci/pypi#token\"\n",
    );
    for args in [&["config", "show"][..], &["config", "show", "--json"]] {
        let output = windlass(dir.path())
            .args(args)
            .env("VAULT_TOKEN", &secret)
            .env("CANARY_TOKEN", &secret)
            .env("VAULT_ADDR", "http://127.0.0.1:9")
            .output();
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert_no_leak(&output.stdout, &secret);
        assert_no_leak(&output.stderr, &secret);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("env://CANARY_TOKEN"), "{stdout}");
    }
}

/// What the tools read themselves appears with its real source: `VAULT_*`
/// and `TWINE_*` as `env NAME`, `.pypirc` repositories with file and line;
/// the Vault token, the twine password and the `.pypirc` password are
/// `****` in every output, never their values in any encoding.
#[test]
fn config_show_lists_what_the_tools_read() {
    let vault_token = canary("vault-token");
    let twine_password = canary("twine-password");
    let pypirc_password = canary("pypirc-password");
    let dir = project("[vault]\naddress = \"https://vault.file.example\"\n");
    fs::write(
        dir.path().join(".pypirc"),
        format!(
            "[distutils]\nindex-servers =\n    local\n\n[local]\n\
             repository = http://127.0.0.1:8081/\nusername = ci\npassword = {pypirc_password}\n"
        ),
    )
    .unwrap();
    let show = |json: bool| {
        let mut cmd = windlass(dir.path())
            .args(["config", "show"])
            .env("VAULT_ADDR", "https://vault.env.example")
            .env("VAULT_TOKEN", &vault_token)
            .env("TWINE_REPOSITORY", "local")
            .env("TWINE_USERNAME", "twine-user")
            .env("TWINE_PASSWORD", &twine_password);
        if json {
            cmd = cmd.arg("--json");
        }
        let output = cmd.output();
        assert_eq!(output.status.code(), Some(0), "json: {json}");
        for secret in [&vault_token, &twine_password, &pypirc_password] {
            assert_no_leak(&output.stdout, secret);
            assert_no_leak(&output.stderr, secret);
        }
        String::from_utf8(output.stdout)
            .unwrap()
            .replace(&dir.path().display().to_string(), "[TEMP]")
    };
    let collapsed: String = show(false)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join("  ") + "\n")
        .collect();
    insta::assert_snapshot!("config_show_tool_reads", collapsed);

    let doc: serde_json::Value = serde_json::from_str(show(true).trim()).unwrap();
    let entries = doc["data"]["entries"].as_array().unwrap();
    let tool: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| !matches!(e["source"]["kind"].as_str(), Some("default")))
        .collect();
    insta::assert_json_snapshot!("config_show_tool_reads_json", tool);
    let entry = |key: &str| entries.iter().find(|e| e["key"] == key).unwrap();
    assert_eq!(entry("vault.address")["value"], "https://vault.env.example");
    assert_eq!(entry("vault.address")["source"]["name"], "VAULT_ADDR");
    assert_eq!(entry("vault.token")["value"], "****");
    assert_eq!(entry("wheel.password")["value"], "****");
    assert_eq!(entry("wheel.repositories.local.password")["value"], "****");
    assert_eq!(entry("wheel.repositories.local.url")["source"]["line"], 6);
    let masked = entries.iter().filter(|e| e["value"] == "****").count();
    assert_eq!(masked, 3, "{entries:?}");
}

/// A password in the user info of `TWINE_REPOSITORY_URL` or `VAULT_ADDR`
/// is masked like any URL `config show` prints.
#[test]
fn config_show_masks_user_info_of_tool_urls() {
    let secret = canary("tool-url-password");
    let dir = project("[http]\nretries = 1\n");
    for json in [false, true] {
        let mut cmd = windlass(dir.path())
            .args(["config", "show"])
            .env(
                "TWINE_REPOSITORY_URL",
                format!("https://__token__:{secret}@pypi.example/legacy/"),
            )
            .env("VAULT_ADDR", format!("https://ci:{secret}@vault.example"));
        if json {
            cmd = cmd.arg("--json");
        }
        let output = cmd.output();
        assert_eq!(output.status.code(), Some(0), "json: {json}");
        assert_no_leak(&output.stdout, &secret);
        assert_no_leak(&output.stderr, &secret);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("pypi.example/legacy/"), "{stdout}");
        assert!(stdout.contains("TWINE_REPOSITORY_URL"), "{stdout}");
    }
}

/// A `.pypirc` that cannot be read (here a directory) is a configuration
/// error naming the file, not an empty list.
#[test]
fn config_show_refuses_an_unreadable_pypirc() {
    let dir = project("[http]\nretries = 1\n");
    fs::create_dir(dir.path().join(".pypirc")).unwrap();
    let out = run(windlass(dir.path()).args(["config", "show"]), dir.path());
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("[TEMP]/.pypirc"), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
}

/// A credential written as a value instead of a reference, in the project
/// or the user file, is refused when the configuration is loaded (exit 2,
/// located, with the reference forms), and its value is never printed.
#[test]
fn config_show_refuses_plain_credentials() {
    let secret = canary("plain-password");
    let dir = project(&format!(
        "[wheel.repositories.internal]\nurl = \"https://index.example.org/legacy/\"\n\
         username = \"ci\"\npassword = \"{secret}\"\n"
    ));
    let mut report = String::new();
    for args in [&["config", "show"][..], &["config", "show", "--json"]] {
        let output = windlass(dir.path()).args(args).output();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_no_leak(&output.stdout, &secret);
        assert_no_leak(&output.stderr, &secret);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let shown = if stdout.trim().is_empty() {
            stderr.replace(&dir.path().display().to_string(), "[PROJECT]")
        } else {
            stdout.replace(&dir.path().display().to_string(), "[PROJECT]")
        };
        writeln!(report, "$ windlass {}\n{shown}", args.join(" ")).unwrap();
    }

    // The same in the user file, with a project file that has none.
    let dir = project("[http]\nretries = 1\n");
    fs::create_dir(dir.path().join("user-config")).unwrap();
    fs::write(
        dir.path().join("user-config/windlass.toml"),
        format!("[vault.approle]\nrole-id = \"env://VAULT_ROLE_ID\"\nsecret-id = '{secret}'\n"),
    )
    .unwrap();
    let output = windlass(dir.path()).args(["config", "show"]).output();
    assert_eq!(output.status.code(), Some(2));
    assert_no_leak(&output.stdout, &secret);
    assert_no_leak(&output.stderr, &secret);
    let stderr = String::from_utf8_lossy(&output.stderr);
    write!(
        report,
        "$ windlass config show (user file)\n{}",
        stderr.replace(&dir.path().display().to_string(), "[PROJECT]")
    )
    .unwrap();
    insta::assert_snapshot!(report);
}

/// URLs that hold user info (a repository's, Vault's address) are shown with
/// the password hidden, in the table and in the JSON, whatever their case.
#[test]
fn config_show_hides_user_info_in_urls() {
    let secret = canary("url-userinfo");
    let token = canary("url-lone-token");
    let dir = project(&format!(
        "[vault]\naddress = \"HTTPS://ops:{secret}@vault.example.org:8200\"\n\n\
         [wheel.repositories.internal]\nurl = \"https://ci:{secret}@index.example.org/legacy/\"\n\
         simple-url = \"https://{token}@index.example.org/simple/\"\n"
    ));
    for args in [&["config", "show"][..], &["config", "show", "--json"]] {
        let output = windlass(dir.path()).args(args).output();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_no_leak(&output.stdout, &secret);
        assert_no_leak(&output.stdout, &token);
        assert_no_leak(&output.stderr, &secret);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("https://ci:****@index.example.org/legacy/"),
            "{stdout}"
        );
        assert!(
            stdout.contains("HTTPS://ops:****@vault.example.org:8200"),
            "{stdout}"
        );
        assert!(
            stdout.contains("https://****@index.example.org/simple/"),
            "{stdout}"
        );
    }
}

/// The focused binary, built for this run (`cargo test -p windlass` builds
/// only the umbrella one).
fn focused_secrets_binary() -> std::path::PathBuf {
    sibling_binary(
        Path::new(env!("CARGO_BIN_EXE_windlass")),
        "windlass-secrets",
    )
}

/// `windlass secrets check` and `windlass-secrets check` are one program.
#[test]
fn secrets_subcommand_matches_focused_binary() {
    let bao = Services::load().bao();
    let reference = bao.kv2.reference();
    let dir = project(&format!(
        "[secrets]\nPYPI_TOKEN = \"{reference}\"\nMISSING = \"env://NOT_SET_ANYWHERE\"\nPYPI_USER = {{ ref = \"env://PYPI_USER\", secret = false }}\n"
    ));
    let focused = focused_secrets_binary();
    let value = bao.kv2.value.expose().clone();
    let mut outputs = Vec::new();
    for args in [&["check"][..], &["check", "--json"]] {
        for umbrella in [true, false] {
            let cmd = if umbrella {
                windlass(dir.path()).arg("secrets")
            } else {
                hermetic(&focused, dir.path())
            };
            let cmd = cmd
                .args(args)
                .env("VAULT_ADDR", &bao.addr)
                .env("VAULT_TOKEN", bao.read_token.expose())
                .env("PYPI_USER", "release-bot");
            let out = run(cmd, dir.path());
            assert_eq!(out.code, 1, "{out}");
            assert_no_leak(out.stdout.as_bytes(), &value);
            assert_no_leak(out.stderr.as_bytes(), &value);
            outputs.push(out.to_string());
        }
        let (umbrella, focused) = (&outputs[outputs.len() - 2], &outputs[outputs.len() - 1]);
        assert_eq!(umbrella, focused, "{args:?}");
    }
    // The output flags may also come before the tool name.
    let before = run(
        windlass(dir.path())
            .args(["--json", "secrets", "check"])
            .env("VAULT_ADDR", &bao.addr)
            .env("VAULT_TOKEN", bao.read_token.expose())
            .env("PYPI_USER", "release-bot"),
        dir.path(),
    );
    assert_eq!(before.to_string(), outputs[2]);
    insta::assert_snapshot!("secrets_check", outputs[0]);
}

/// The output flags are global: before the tool name, after it, or after the
/// subcommand, the result is the same.
#[test]
fn output_flags_before_or_after_the_tool_name() {
    let dir = project("[http]\nretries = 5\n");
    let show = |args: &[&str]| run(windlass(dir.path()).args(args), dir.path());
    let before = show(&["--json", "config", "show"]);
    assert_eq!(before.code, 0, "{before}");
    for args in [
        &["config", "show", "--json"][..],
        &["config", "--json", "show"],
    ] {
        assert_eq!(show(args).to_string(), before.to_string(), "{args:?}");
    }
    let quiet_before = show(&["-q", "config", "show"]);
    assert_eq!(
        quiet_before.to_string(),
        show(&["config", "show", "-q"]).to_string()
    );

    let conflict = show(&["-q", "config", "show", "-v"]);
    assert_eq!(conflict.code, 2, "{conflict}");
    assert!(
        conflict.stderr.contains("cannot be used with"),
        "{conflict}"
    );

    let check = |args: &[&str]| run(windlass(dir.path()).args(args), dir.path());
    let wheel_before = check(&["--json", "-q", "wheel", "check", "notes.txt"]);
    assert_eq!(wheel_before.code, 2, "{wheel_before}");
    for args in [
        &["wheel", "--json", "-q", "check", "notes.txt"][..],
        &["wheel", "check", "notes.txt", "--json", "-q"],
        &["-q", "wheel", "check", "--json", "notes.txt"],
    ] {
        assert_eq!(
            check(args).to_string(),
            wheel_before.to_string(),
            "{args:?}"
        );
    }
    insta::assert_snapshot!("output_flags_anywhere", format!("{before}\n{wheel_before}"));
}

/// `windlass completions SHELL` prints a script for every shell clap knows.
#[test]
fn completions_for_every_shell() {
    let dir = tempfile::tempdir().unwrap();
    let mut summary = String::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(
            windlass(dir.path()).args(["completions", shell]),
            dir.path(),
        );
        assert_eq!(out.code, 0, "{out}");
        assert!(out.stderr.is_empty(), "{out}");
        for word in [
            "config",
            "secrets",
            "wheel",
            "publish",
            "completions",
            "json",
        ] {
            assert!(out.stdout.contains(word), "{shell} lacks {word}");
        }
        let first = out.stdout.lines().find(|l| !l.trim().is_empty()).unwrap();
        writeln!(summary, "{shell}: {first}").unwrap();
    }
    insta::assert_snapshot!("completions_first_lines", summary);

    // bash itself accepts the script.
    let script = run(
        windlass(dir.path()).args(["completions", "bash"]),
        dir.path(),
    );
    let file = dir.path().join("windlass.bash");
    fs::write(&file, &script.stdout).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );

    let unknown = run(
        windlass(dir.path()).args(["completions", "tcsh"]),
        dir.path(),
    );
    assert_eq!(unknown.code, 2, "{unknown}");
}

/// `windlass man` prints roff; `windlass man DIR` writes one page per command.
#[test]
fn man_pages() {
    let dir = tempfile::tempdir().unwrap();
    let page = run(windlass(dir.path()).arg("man"), dir.path());
    assert_eq!(page.code, 0, "{page}");
    // clap_mangen puts two string definitions (for the apostrophe) before
    // the title; nothing else comes first.
    let first = page
        .stdout
        .lines()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .unwrap();
    assert!(first.starts_with(".TH windlass 1"), "{first}");
    assert!(page.stdout.contains("\\-\\-json"), "{}", page.stdout);

    let written = run(windlass(dir.path()).args(["man", "pages/man1"]), dir.path());
    assert_eq!(written.code, 0, "{written}");
    for line in written.stdout.lines() {
        let text = fs::read_to_string(dir.path().join(line)).unwrap();
        assert!(text.contains(".TH "), "{line}");
    }
    insta::assert_snapshot!("man_pages_written", written);
}

/// A `vault://` credential whose Vault cannot be reached fails the publish
/// as a remote failure (exit 3), like every `secrets` command.
#[test]
fn publish_with_unreachable_vault_is_remote() {
    let dir = project("[http]\nretries = 0\n");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ml-project");
    let built = run(
        windlass(dir.path())
            .args(["wheel", "build", "--out", "dist"])
            .arg(&example),
        dir.path(),
    );
    assert_eq!(built.code, 0, "{built}");
    let published = run(
        windlass(dir.path())
            .args([
                "wheel",
                "publish",
                "--repository",
                "https://upload.example.org/legacy/",
                "--token",
                "vault://secret/ci/pypi#token",
            ])
            .env("VAULT_ADDR", "http://127.0.0.1:9")
            .env("VAULT_TOKEN", "s.unused0000000000000000"),
        dir.path(),
    );
    assert_eq!(published.code, 3, "{published}");
    insta::assert_snapshot!("publish_vault_unreachable", published);
}
