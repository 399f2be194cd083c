//! Every command with `--json`, through the real binaries, success and
//! failure: every line of stdout validates against the published schema,
//! `docs/schema/windlass-1.json` (which a unit test keeps equal to what the
//! code generates), and no secret reaches any output.

#![allow(
    clippy::unwrap_used,
    clippy::disallowed_methods,
    reason = "a test fails loudly on the first surprise and drives the binaries directly"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use windlass_testkit::cli::{Cli, Run, sibling_binary};
use windlass_testkit::{Services, assert_no_leak, canary};

/// The JSON documents of a run's stdout.
trait Documents {
    /// Every line of stdout, each validated against the schema; the last is
    /// the result document.
    fn documents(&self) -> Vec<Value>;
    /// The result document (the last line), after validating every line.
    fn result(&self) -> Value;
}

impl Documents for Run {
    fn documents(&self) -> Vec<Value> {
        assert!(!self.stdout.is_empty(), "no JSON on stdout\n{self}");
        assert!(self.stdout.ends_with('\n'), "unterminated line\n{self}");
        self.stdout
            .lines()
            .map(|line| {
                let doc: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}\n{self}"));
                let errors: Vec<String> = validator()
                    .iter_errors(&doc)
                    .map(|e| format!("{e} at {}", e.instance_path()))
                    .collect();
                assert!(
                    errors.is_empty(),
                    "does not validate: {errors:#?}\n{line}\n{self}"
                );
                doc
            })
            .collect()
    }

    fn result(&self) -> Value {
        let doc = self.documents().pop().unwrap();
        assert_eq!(doc["type"], "result", "{self}");
        assert_eq!(doc["schema"], "windlass/1", "{self}");
        doc
    }
}

fn schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema/windlass-1.json")
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: Value =
            serde_json::from_str(&fs::read_to_string(schema_path()).unwrap()).unwrap();
        jsonschema::draft202012::new(&schema).unwrap()
    })
}

/// A focused binary, next to the umbrella one, built for this run.
fn binary(name: &str) -> PathBuf {
    sibling_binary(Path::new(env!("CARGO_BIN_EXE_windlass")), name)
}

/// Runs `bin` in `dir` with a hermetic environment plus `env`.
fn run_bin(bin: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    Cli::new(bin, dir)
        .args(args)
        .envs(env.iter().copied())
        .run()
}

fn windlass(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    run_bin(Path::new(env!("CARGO_BIN_EXE_windlass")), dir, args, env)
}

/// A temporary project: a `.git` (so that the search for `windlass.toml`
/// stops there) and the given `windlass.toml`.
fn project(windlass_toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".git")).unwrap();
    fs::create_dir(dir.path().join("home")).unwrap();
    fs::write(dir.path().join("windlass.toml"), windlass_toml).unwrap();
    dir
}

/// The schema itself is a valid JSON Schema 2020-12 document.
#[test]
fn schema_is_valid_json_schema() {
    let schema: Value = serde_json::from_str(&fs::read_to_string(schema_path()).unwrap()).unwrap();
    jsonschema::meta::validate(&schema).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
}

/// The schema refuses what it should: a check that it is not vacuous.
#[test]
fn schema_rejects_wrong_documents() {
    let ok = serde_json::json!({
        "schema": "windlass/1", "type": "result", "command": "secrets mask", "ok": true,
        "exit_code": 0, "data": {"masked": ["A"], "exported": []}, "error": null, "warnings": [],
    });
    assert!(validator().is_valid(&ok));
    let mut cases = Vec::new();
    let mut wrong_data = ok.clone();
    wrong_data["data"] = serde_json::json!({"masked": "A"});
    cases.push(("data of the wrong type", wrong_data));
    let mut ok_but_failed = ok.clone();
    ok_but_failed["exit_code"] = 3.into();
    cases.push(("ok with a non-zero exit code", ok_but_failed));
    let mut no_warnings = ok.clone();
    no_warnings.as_object_mut().unwrap().remove("warnings");
    cases.push(("no warnings", no_warnings));
    let mut other_schema = ok.clone();
    other_schema["schema"] = "windlass/2".into();
    cases.push(("another schema version", other_schema));
    let mut unknown_with_data = ok.clone();
    unknown_with_data["command"] = "wheel".into();
    cases.push(("data for a command not listed", unknown_with_data));
    let event = serde_json::json!({
        "schema": "windlass/1", "type": "event", "command": "wheel publish", "event": "nope", "data": {},
    });
    cases.push(("an event nobody declared", event));
    for (what, doc) in cases {
        assert!(!validator().is_valid(&doc), "{what} validates: {doc}");
    }
    // Keys may be added within windlass/1.
    let mut added = ok;
    added["elapsed_ms"] = 12.into();
    added["data"]["new_key"] = true.into();
    assert!(validator().is_valid(&added));
}

#[test]
fn config_show_and_config_errors() {
    let dir = project("[http]\ntimeout = \"45s\"\n");
    let shown = windlass(dir.path(), &["config", "show", "--json"], &[]);
    assert_eq!(shown.code, 0, "{shown}");
    let doc = shown.result();
    assert_eq!(doc["command"], "config show");
    assert_eq!(doc["data"]["settings"]["http"]["timeout"], "45s", "{shown}");

    // A configuration error points at its file, line and column.
    let dir = project("[http]\nretries = \"many\"\n");
    let wrong = windlass(dir.path(), &["--json", "config", "show"], &[]);
    assert_eq!(wrong.code, 2, "{wrong}");
    let doc = wrong.result();
    let error = &doc["error"];
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["exit_code"], 2);
    assert!(
        error["file"].as_str().unwrap().ends_with("/windlass.toml"),
        "{wrong}"
    );
    assert_eq!(error["line"], 2, "{wrong}");
    assert_eq!(error["column"], 11, "{wrong}");
    // The human error on stderr is unchanged: it shows the place itself.
    assert!(wrong.stderr.contains("windlass.toml:2:11"), "{wrong}");

    // An unknown key: a did-you-mean, and the place.
    let dir = project("[http]\nretires = 3\n");
    let unknown = windlass(dir.path(), &["config", "show", "--json"], &[]);
    assert_eq!(unknown.code, 2, "{unknown}");
    let doc = unknown.result();
    assert_eq!(doc["error"]["line"], 2, "{unknown}");
    assert_eq!(doc["error"]["column"], 1, "{unknown}");

    // An error with no place in a file has no location keys.
    let missing = windlass(
        dir.path(),
        &["config", "show", "--json", "--config", "nope.toml"],
        &[],
    );
    assert_eq!(missing.code, 2, "{missing}");
    let doc = missing.result();
    assert!(doc["error"].get("line").is_none(), "{missing}");
}

#[test]
fn usage_errors_are_result_documents() {
    let dir = project("");
    let windlass_bin = PathBuf::from(env!("CARGO_BIN_EXE_windlass"));
    let wheel_bin = binary("windlass-wheel");
    let secrets_bin = binary("windlass-secrets");
    let cases: [(&Path, &[&str], &str, &str); 7] = [
        (
            &windlass_bin,
            &["wheel", "build", "--bogus", "--json"],
            "wheel build",
            "unexpected argument '--bogus' found",
        ),
        (
            &windlass_bin,
            &["--json", "wheel", "bild"],
            "wheel",
            "unrecognized subcommand 'bild'",
        ),
        (
            &windlass_bin,
            &["--json", "secrets", "exec"],
            "secrets exec",
            "the following required arguments were not provided:",
        ),
        (
            &windlass_bin,
            &["--json", "-q", "config", "show", "-v"],
            "config show",
            "the argument '--quiet' cannot be used with '--verbose'",
        ),
        (
            &windlass_bin,
            &["--json"],
            "windlass",
            "'windlass' requires a subcommand but one was not provided",
        ),
        (
            &wheel_bin,
            &["--json", "publish", "--bogus"],
            "wheel publish",
            "unexpected argument '--bogus' found",
        ),
        (
            &secrets_bin,
            &["check", "--json", "extra"],
            "secrets check",
            "unexpected argument 'extra' found",
        ),
    ];
    for (bin, args, command, message) in cases {
        let run = run_bin(bin, dir.path(), args, &[]);
        assert_eq!(run.code, 2, "{args:?}: {run}");
        let doc = run.result();
        assert_eq!(doc["command"], command, "{args:?}: {run}");
        assert_eq!(doc["ok"], false);
        assert_eq!(doc["exit_code"], 2);
        assert_eq!(doc["data"], Value::Null);
        assert_eq!(doc["error"]["message"], message, "{args:?}: {run}");
        assert!(
            doc["error"]["hint"]
                .as_str()
                .is_some_and(|h| h.starts_with("usage: ")),
            "{args:?}: {run}"
        );
        // Clap's own text stays on stderr.
        assert!(run.stderr.contains(message), "{args:?}: {run}");
    }

    // Without --json: clap's text only, as before.
    let plain = windlass(dir.path(), &["wheel", "build", "--bogus"], &[]);
    assert_eq!(plain.code, 2, "{plain}");
    assert_eq!(plain.stdout, "", "{plain}");
    // After `--`, `--json` is the child's argument, not ours.
    let child_flag = windlass(
        dir.path(),
        &["secrets", "exec", "--bogus", "--", "x", "--json"],
        &[],
    );
    assert_eq!(child_flag.code, 2, "{child_flag}");
    assert_eq!(child_flag.stdout, "", "{child_flag}");
    // --help and --version stay plain text.
    for flag in ["--help", "--version"] {
        let run = windlass(dir.path(), &["--json", "wheel", flag], &[]);
        assert_eq!(run.code, 0, "{run}");
        assert!(!run.stdout.starts_with('{'), "{run}");
    }
}

#[test]
fn completions_and_man() {
    let dir = project("");
    let completions = windlass(dir.path(), &["completions", "bash", "--json"], &[]);
    assert_eq!(completions.code, 0, "{completions}");
    let doc = completions.result();
    assert_eq!(doc["command"], "completions");
    assert_eq!(doc["data"]["shell"], "bash");

    let page = windlass(dir.path(), &["--json", "man"], &[]);
    assert_eq!(page.code, 0, "{page}");
    assert!(
        page.result()["data"]["page"]
            .as_str()
            .unwrap()
            .contains(".TH")
    );

    let pages = dir.path().join("pages");
    let written = windlass(dir.path(), &["--json", "man", pages.to_str().unwrap()], &[]);
    assert_eq!(written.code, 0, "{written}");
    assert!(
        !written.result()["data"]["written"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A file where the directory should be: an error document.
    fs::write(dir.path().join("taken"), "").unwrap();
    let failed = windlass(dir.path(), &["--json", "man", "taken"], &[]);
    assert_eq!(failed.code, 2, "{failed}");
    assert_eq!(failed.result()["command"], "man");
}

#[test]
fn secrets_commands() {
    let token = canary("json-schema");
    let dir = project(
        "[secrets]\nTOKEN = \"env://CANARY_TOKEN\"\nMISSING = \"env://NOT_SET_ANYWHERE\"\n",
    );
    let env = [("CANARY_TOKEN", token.as_str())];
    let mut runs = Vec::new();

    // check: one resolves, one is missing; the check ran and failed.
    let check = windlass(dir.path(), &["secrets", "check", "--json"], &env);
    assert_eq!(check.code, 1, "{check}");
    let doc = check.result();
    assert_eq!(doc["command"], "secrets check");
    assert_eq!(
        doc["data"]["secrets"].as_array().unwrap().len(),
        2,
        "{check}"
    );
    runs.push(check);

    // get: a value never goes into a document.
    let get = windlass(dir.path(), &["secrets", "get", "TOKEN", "--json"], &env);
    assert_eq!(get.code, 2, "{get}");
    assert_eq!(get.result()["command"], "secrets get");
    runs.push(get);

    // mask: outside GitHub Actions, a usage error; inside, the names.
    let outside = windlass(
        dir.path(),
        &["secrets", "mask", "-e", "TOKEN", "--json"],
        &env,
    );
    assert_eq!(outside.code, 2, "{outside}");
    outside.result();
    runs.push(outside);
    let github_env = dir.path().join("github-env");
    fs::write(&github_env, "").unwrap();
    let mask_env = [
        ("CANARY_TOKEN", token.as_str()),
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_ENV", github_env.to_str().unwrap()),
    ];
    let masked = windlass(
        dir.path(),
        &["secrets", "mask", "-e", "TOKEN", "--json"],
        &mask_env,
    );
    assert_eq!(masked.code, 0, "{masked}");
    assert_eq!(masked.result()["data"]["masked"][0], "TOKEN", "{masked}");
    // The workflow commands go to stderr; stdout holds only JSON.
    assert!(masked.stderr.contains("::add-mask::"), "{masked}");
    runs.push(masked);

    for run in &runs {
        // `::add-mask::VALUE` on stderr is how the runner learns the value.
        let stderr: String = run
            .stderr
            .lines()
            .filter(|line| !line.starts_with("::add-mask::"))
            .collect();
        assert_no_leak(run.stdout.as_bytes(), &token);
        assert_no_leak(stderr.as_bytes(), &token);
    }
}

/// `secrets exec --json`: the child's stdout goes to stderr (redacted), and
/// the result document, printed after the child ended, tells how it ended;
/// Windlass exits as the child did.
#[test]
fn secrets_exec() {
    let token = canary("json-exec");
    let dir = project("[secrets]\nTOKEN = \"env://CANARY_TOKEN\"\n");
    let env = [("CANARY_TOKEN", token.as_str())];

    let exited = windlass(
        dir.path(),
        &[
            "--json",
            "secrets",
            "exec",
            "-e",
            "TOKEN",
            "--",
            "sh",
            "-c",
            "echo \"child says $TOKEN\"; printf 'no newline'; exit 3",
        ],
        &env,
    );
    assert_eq!(exited.code, 3, "{exited}");
    let docs = exited.documents();
    assert_eq!(docs.len(), 1, "{exited}");
    let doc = &docs[0];
    assert_eq!(doc["command"], "secrets exec");
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["exit_code"], 3);
    assert_eq!(doc["data"]["exit_code"], 3);
    assert_eq!(doc["data"]["signal"], Value::Null);
    assert!(exited.stderr.contains("child says "), "{exited}");
    assert!(exited.stderr.contains("no newline"), "{exited}");
    exited.assert_no_leak(&token);

    let ok = windlass(
        dir.path(),
        &["--json", "secrets", "exec", "-e", "TOKEN", "--", "true"],
        &env,
    );
    assert_eq!(ok.code, 0, "{ok}");
    let doc = ok.result();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["data"]["exit_code"], 0);

    // Interrupted: the child is killed by SIGINT; the document says so,
    // then Windlass ends killed by the same signal, as a shell would.
    let interrupted = windlass(
        dir.path(),
        &[
            "--json",
            "secrets",
            "exec",
            "-e",
            "TOKEN",
            "--",
            "sh",
            "-c",
            "kill -INT $$",
        ],
        &env,
    );
    assert_eq!(interrupted.signal, Some(2), "{interrupted}");
    let doc = interrupted.result();
    assert_eq!(doc["exit_code"], 130, "{interrupted}");
    assert_eq!(doc["data"]["signal"], 2, "{interrupted}");

    // A child that cannot start: an error document.
    let missing = windlass(
        dir.path(),
        &[
            "--json",
            "secrets",
            "exec",
            "-e",
            "TOKEN",
            "--",
            "no-such-program-here",
        ],
        &env,
    );
    assert_ne!(missing.code, 0, "{missing}");
    let doc = missing.result();
    assert_eq!(doc["ok"], false);
    assert!(doc["error"]["message"].is_string(), "{missing}");
    for run in [&ok, &interrupted, &missing] {
        run.assert_no_leak(&token);
    }
}

/// A project that the native builder builds without a network.
fn write_python_project(root: &Path, name: &str) {
    let module = name.replace('-', "_");
    fs::write(
        root.join("pyproject.toml"),
        format!(
            "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n\
             [project]\nname = \"{name}\"\nversion = \"1.0.0\"\ndescription = \"schema\"\n\
             readme = \"README.md\"\nlicense = \"MIT\"\nrequires-python = \">=3.9\"\n"
        ),
    )
    .unwrap();
    fs::write(root.join("README.md"), "# schema\n").unwrap();
    fs::create_dir_all(root.join("src").join(&module)).unwrap();
    fs::write(root.join("src").join(&module).join("__init__.py"), "").unwrap();
}

#[test]
fn wheel_build_check_publish() {
    let services = Services::load();
    let index = services.pypiserver();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("windlass-schema-{nanos:x}{:x}", std::process::id());
    let module = name.replace('-', "_");
    let dir = project(&format!(
        "[http]\nretries = 0\n\n[wheel]\nout = \"dist\"\n\n[wheel.repositories.local]\nurl = \"{}\"\n\n\
         [wheel.repositories.down]\nurl = \"http://127.0.0.1:9/\"\n",
        index.upload_url()
    ));
    let root = dir.path();
    write_python_project(root, &name);

    let built = windlass(root, &["wheel", "build", "--json"], &[]);
    assert_eq!(built.code, 0, "{built}");
    let doc = built.result();
    assert_eq!(doc["command"], "wheel build");
    assert_eq!(
        doc["data"]["artifacts"].as_array().unwrap().len(),
        2,
        "{built}"
    );

    let wheel = format!("dist/{module}-1.0.0-py3-none-any.whl");
    let sdist = format!("dist/{module}-1.0.0.tar.gz");
    let checked = windlass(root, &["wheel", "check", "--json", &wheel, &sdist], &[]);
    assert_eq!(checked.code, 0, "{checked}");
    assert_eq!(checked.result()["data"]["problem_count"], 0, "{checked}");
    // A directory is not a distribution: an error document.
    let bad_check = windlass(root, &["wheel", "check", "--json", "dist/"], &[]);
    assert_eq!(bad_check.code, 2, "{bad_check}");
    assert_eq!(bad_check.result()["command"], "wheel check");
    // A broken wheel: the check ran and failed, its report in `data`.
    let broken = root
        .join("dist")
        .join(format!("{module}-2.0.0-py3-none-any.whl"));
    fs::write(&broken, "not a zip").unwrap();
    let failed_check = windlass(
        root,
        &["wheel", "check", "--json", broken.to_str().unwrap()],
        &[],
    );
    assert_eq!(failed_check.code, 1, "{failed_check}");
    assert!(
        failed_check.result()["data"]["problem_count"]
            .as_u64()
            .unwrap()
            > 0
    );
    fs::remove_file(&broken).unwrap();

    let published = windlass(
        root,
        &[
            "wheel",
            "publish",
            "--repository",
            "local",
            "--no-credentials",
            "--json",
        ],
        &[],
    );
    assert_eq!(published.code, 0, "{published}");
    let doc = published.result();
    assert_eq!(doc["command"], "wheel publish");
    let statuses: Vec<&str> = doc["data"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["uploaded", "uploaded"], "{published}");

    // A registry that is not there: a remote failure, with the report.
    let down = windlass(
        root,
        &[
            "wheel",
            "publish",
            "--repository",
            "down",
            "--no-credentials",
            "--json",
        ],
        &[],
    );
    assert_eq!(down.code, 3, "{down}");
    let doc = down.result();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["exit_code"], 3);
}

/// `windlass NAME` for a `windlass-NAME` that is not on PATH: 127, with an
/// error document.
#[test]
fn external_dispatch_not_found() {
    let dir = project("");
    let run = windlass(dir.path(), &["--json", "frobnicate"], &[]);
    assert_eq!(run.code, 127, "{run}");
    let doc = run.result();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["exit_code"], 127, "{run}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("frobnicate"),
        "{run}"
    );
}

/// A server that accepts connections and never answers: a command talking
/// to it waits until it is interrupted. Returns its address and a receiver
/// told of each accepted connection.
fn silent_server() -> (String, std::sync::mpsc::Receiver<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
            let _ = tx.send(());
        }
    });
    (address, rx)
}

/// Runs `windlass ARGS` until `server` has seen a connection, then sends
/// SIGINT, as Ctrl-C in a terminal would.
fn interrupted(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    seen: &std::sync::mpsc::Receiver<()>,
) -> Run {
    let running = Cli::new(env!("CARGO_BIN_EXE_windlass"), dir)
        .args(args)
        .envs(env.iter().copied())
        .spawn();
    if seen
        .recv_timeout(std::time::Duration::from_secs(60))
        .is_err()
    {
        panic!("the command never connected to the server");
    }
    running.interrupt();
    running.wait()
}

/// Ctrl-C while a command waits for a server: exit 130, one `interrupted`
/// line on stderr, and a result document that validates, with the partial
/// report where the command has one.
#[test]
fn interrupted_runs_are_result_documents() {
    let token = canary("interrupted-vault-token");
    let (vault, seen) = silent_server();
    let dir = project("[secrets]\nX = \"vault://secret/ci/x#k\"\n");
    let vault_addr = format!("http://{vault}/");
    let run = interrupted(
        dir.path(),
        &["--json", "secrets", "check"],
        &[("VAULT_ADDR", &vault_addr), ("VAULT_TOKEN", &token)],
        &seen,
    );
    assert_eq!(run.code, 130, "{run}");
    let doc = run.result();
    assert_eq!(doc["command"], "secrets check", "{run}");
    assert_eq!(doc["exit_code"], 130, "{run}");
    assert_eq!(doc["error"]["message"], "interrupted", "{run}");
    assert_eq!(run.stderr.trim_end(), "interrupted", "{run}");
    run.assert_no_leak(&token);

    let (index, seen) = silent_server();
    let dir = project("[wheel]\nout = \"dist\"\n");
    let root = dir.path();
    write_python_project(root, "windlass-interrupted");
    let built = windlass(root, &["wheel", "build", "--json"], &[]);
    assert_eq!(built.code, 0, "{built}");
    let url = format!("http://{index}/");
    let run = interrupted(
        root,
        &[
            "wheel",
            "publish",
            "--json",
            "--repository",
            &url,
            "--no-credentials",
        ],
        &[],
        &seen,
    );
    assert_eq!(run.code, 130, "{run}");
    let doc = run.result();
    assert_eq!(doc["command"], "wheel publish", "{run}");
    assert_eq!(doc["exit_code"], 130, "{run}");
    assert_eq!(doc["ok"], false, "{run}");
    assert!(
        run.stderr.lines().any(|line| line == "interrupted"),
        "{run}"
    );
}

/// `check`: the plan, a run with a finding and a usage error, each one
/// result document that validates.
#[test]
fn check_commands() {
    let dir = project("");
    fs::write(dir.path().join("run.sh"), "#!/bin/sh\necho $1\n").unwrap();
    let plan = windlass(dir.path(), &["check", "--list", "--json"], &[]);
    assert_eq!(plan.code, 0, "{plan}");
    let doc = plan.result();
    assert_eq!(doc["command"], "check");
    assert_eq!(doc["data"]["checks"][0]["name"], "shellcheck", "{plan}");

    let run = windlass(dir.path(), &["--json", "check", "--no-cache"], &[]);
    assert_eq!(run.code, 1, "{run}");
    let doc = run.result();
    let check = &doc["data"]["checks"][0];
    assert_eq!(check["status"], "failed", "{run}");
    assert_eq!(check["findings"][0]["rule"], "SC2086", "{run}");
    assert_eq!(check["findings"][0]["location"]["path"], "run.sh", "{run}");

    let wrong = windlass(dir.path(), &["check", "--json", "--only", "nope"], &[]);
    assert_eq!(wrong.code, 2, "{wrong}");
    assert_eq!(wrong.result()["ok"], false, "{wrong}");
}

/// `release plan`, `release run` and `release verify` with `--local` on a
/// copy of the examples, and a release whose tag names another version
/// (exit 2): every document validates.
#[test]
fn release_commands() {
    let services = Services::load();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    for example in ["ml-job", "ml-project"] {
        let copied = std::process::Command::new("cp")
            .arg("-r")
            .arg(root.join("examples").join(example))
            .arg(dir.path().join(example))
            .status()
            .unwrap();
        assert!(copied.success());
    }
    let job = dir.path().join("ml-job");
    let base = services.python_base();
    let base = format!("oci:{}:{}", base.layout.display(), base.tag);
    let helm = services.tools().helm;
    let env = [("WINDLASS_HELM", helm.to_str().unwrap())];
    let release = |args: &[&str]| {
        Cli::new(Path::new(env!("CARGO_BIN_EXE_windlass")), dir.path())
            .current_dir(&job)
            .args(args)
            .envs(env.iter().copied())
            .run()
    };

    let plan = release(&["--json", "release", "plan", "--local"]);
    let doc = plan.result();
    assert_eq!(doc["command"], "release plan", "{plan}");
    assert_eq!(doc["exit_code"], 0, "{plan}");

    let run = release(&["--json", "release", "run", "--local", "--base", &base]);
    let doc = run.result();
    assert_eq!(doc["command"], "release run", "{run}");
    assert_eq!(doc["exit_code"], 0, "{run}");

    let verified = release(&[
        "--json",
        "release",
        "verify",
        "dist/release/local/manifest.json",
    ]);
    let doc = verified.result();
    assert_eq!(doc["command"], "release verify", "{verified}");
    assert_eq!(doc["exit_code"], 0, "{verified}");

    // Two projects that disagree on the version: exit 2, a result document.
    let pyproject = dir.path().join("ml-project/pyproject.toml");
    let text = fs::read_to_string(&pyproject).unwrap();
    fs::write(
        &pyproject,
        text.replace("version = \"0.4.0\"", "version = \"0.5.0\""),
    )
    .unwrap();
    fs::write(
        job.join("pyproject.toml"),
        "[project]\nname = \"ml-job\"\nversion = \"0.4.0\"\n",
    )
    .unwrap();
    let text = fs::read_to_string(job.join("windlass.toml")).unwrap();
    fs::write(
        job.join("windlass.toml"),
        text.replace(
            "wheels = [\"../ml-project\"]",
            "wheels = [\"../ml-project\", \".\"]",
        ),
    )
    .unwrap();
    let refused = release(&["--json", "release", "plan", "--local"]);
    let doc = refused.result();
    assert_eq!(doc["exit_code"], 2, "{refused}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("disagree on the version"),
        "{refused}"
    );
}
