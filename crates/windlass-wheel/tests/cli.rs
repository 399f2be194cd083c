//! End-to-end tests of the `windlass-wheel` binary: exit codes, stdout,
//! stderr, and an output directory left empty when a build fails.

// Test helpers panic on purpose: a failing step is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::format_push_string,
    clippy::type_complexity
)]

mod support;

use std::path::Path;
use std::time::Duration;

use windlass_testkit::cli::{Cli, Run};

use crate::support::{fixture, wheel};

fn run(args: &[&str], cwd: &Path) -> Run {
    run_at(args, cwd, cwd)
}

/// `run` in `cwd`, with `root` in the output read as `[TMP]`.
fn run_at(args: &[&str], cwd: &Path, root: &Path) -> Run {
    wheel(cwd).args(args).run().replace(root, "[TMP]")
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

const GOOD: &str = r#"[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "demo"
version = "1.0"
readme = "README.md"
"#;

#[test]
fn bad_projects_fail_with_a_hint_and_leave_the_out_dir_empty() {
    let cases: &[(&str, Vec<(&str, String)>, &[&str])] = &[
        ("no pyproject", vec![("README.md", "# hi\n".into())], &[]),
        ("invalid toml", vec![("pyproject.toml", "[project\nname = 1\n".into())], &[]),
        ("missing readme", vec![("pyproject.toml", GOOD.into()), ("demo/__init__.py", String::new())], &[]),
        (
            "bad license",
            vec![("pyproject.toml", format!("{GOOD}license = \"MIT OR Nope\"\n")), ("README.md", "# hi\n".into()), ("demo/__init__.py", String::new())],
            &[],
        ),
        ("no package", vec![("pyproject.toml", GOOD.into()), ("README.md", "# hi\n".into())], &[]),
        (
            "dynamic version with --backend native",
            vec![("pyproject.toml", GOOD.replace("version = \"1.0\"", "dynamic = [\"version\"]")), ("README.md", "# hi\n".into())],
            &["--backend", "native"],
        ),
        (
            "no version",
            vec![("pyproject.toml", GOOD.replace("version = \"1.0\"\n", "")), ("README.md", "# hi\n".into()), ("demo/__init__.py", String::new())],
            &[],
        ),
        (
            "no version with --backend pep517",
            vec![("pyproject.toml", GOOD.replace("version = \"1.0\"\n", "")), ("README.md", "# hi\n".into()), ("demo/__init__.py", String::new())],
            &["--backend", "pep517"],
        ),
        (
            "no version with a backend only pep517 runs",
            vec![(
                "pyproject.toml",
                "[build-system]\nrequires = [\"windlass-no-such-backend-0f3c9a==0.0.1\"]\nbuild-backend = \"windlass_no_such_backend.api\"\n\n[project]\nname = \"demo\"\n".into(),
            )],
            &[],
        ),
        (
            "unknown backend that fails to install",
            vec![(
                "pyproject.toml",
                "[build-system]\nrequires = [\"windlass-no-such-backend-0f3c9a==0.0.1\"]\nbuild-backend = \"windlass_no_such_backend.api\"\n\n[project]\nname = \"demo\"\nversion = \"1.0\"\n".into(),
            )],
            &[],
        ),
    ];
    let mut report = String::new();
    for (label, files, extra) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let project = tmp.path().join("project");
        std::fs::create_dir_all(&project).unwrap();
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        write(&project, &files);
        let out = tmp.path().join("out");
        let mut args = vec!["build", "project", "--out", "out"];
        args.extend_from_slice(extra);
        let r = run(&args, tmp.path());
        let left: Vec<_> = std::fs::read_dir(&out)
            .map(|d| d.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{label}: left {left:?} in the out dir");
        // The installer's own words vary between pip and uv; keep our part.
        let ours = r
            .stderr
            .rfind("error: ")
            .map_or(r.stderr.as_str(), |i| &r.stderr[i..]);
        let stderr = ours
            .lines()
            // uv when it is on PATH, else python -m venv + pip.
            .map(|l| match (l.find(": `"), l.find("` failed")) {
                (Some(a), Some(b)) if a < b => {
                    let a = l[..b].rfind(": `").unwrap_or(a);
                    format!("{}: `[INSTALLER]{}", &l[..a], &l[b..])
                }
                _ => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        report.push_str(&format!(
            "## {label}\nexit {}\nstdout: {:?}\n{stderr}\n\n",
            r.code, r.stdout
        ));
    }
    insta::assert_snapshot!(report);
}

#[test]
fn build_then_check_passes_and_json_is_documented() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run(
        &[
            "build",
            fixture("flat-hatch").to_str().unwrap(),
            "--out",
            "dist",
            "--backend",
            "native",
        ],
        tmp.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!(r.stdout, @r"
    dist/flat_hatch-1.2.0rc1.tar.gz
    dist/flat_hatch-1.2.0rc1-py3-none-any.whl
    ");
    let r = run(
        &[
            "check",
            "--json",
            "dist/flat_hatch-1.2.0rc1-py3-none-any.whl",
            "dist/flat_hatch-1.2.0rc1.tar.gz",
        ],
        tmp.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!(r.stdout, @r#"{"schema":"windlass/1","type":"result","command":"wheel check","ok":true,"exit_code":0,"data":{"files":[{"path":"dist/flat_hatch-1.2.0rc1-py3-none-any.whl","ok":true,"problems":[]},{"path":"dist/flat_hatch-1.2.0rc1.tar.gz","ok":true,"problems":[]}],"problem_count":0},"error":null,"warnings":[]}"#);
}

/// Paths written with `.` components are shown without them, as data and
/// in JSON: `./out/./dist` is `out/dist`.
#[test]
fn paths_are_shown_without_dot_components() {
    let tmp = tempfile::tempdir().unwrap();
    let build = run(
        &[
            "build",
            fixture("flat-hatch").to_str().unwrap(),
            "--out",
            "./out/./dist",
            "--backend",
            "native",
            "--wheel",
        ],
        tmp.path(),
    );
    assert_eq!(build.code, 0, "{}", build.stderr);
    let built_json = run(
        &[
            "build",
            fixture("flat-hatch").to_str().unwrap(),
            "--out",
            "./out/./dist",
            "--backend",
            "native",
            "--wheel",
            "--json",
        ],
        tmp.path(),
    );
    let check = run(
        &["check", "./out/./dist/flat_hatch-1.2.0rc1-py3-none-any.whl"],
        tmp.path(),
    );
    assert_eq!(check.code, 0, "{}", check.stderr);
    for r in [&build, &built_json, &check] {
        assert!(!r.stdout.contains("/./"), "{}", r.stdout);
        assert!(!r.stderr.contains("/./"), "{}", r.stderr);
    }
    insta::assert_snapshot!(format!("{}{}", build.stdout, check.stdout), @r"
    out/dist/flat_hatch-1.2.0rc1-py3-none-any.whl
    PASSED out/dist/flat_hatch-1.2.0rc1-py3-none-any.whl
    ");
}

#[test]
fn check_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        &[
            ("notes.txt", "hi"),
            ("broken-1.0-py3-none-any.whl", "not a zip"),
        ],
    );
    let bad_input = run(&["check", "notes.txt"], tmp.path());
    let missing = run(&["check", "nope-1.0-py3-none-any.whl"], tmp.path());
    let broken = run(&["check", "broken-1.0-py3-none-any.whl"], tmp.path());
    let report = [
        ("not a distribution", bad_input),
        ("missing file", missing),
        ("broken wheel", broken),
    ]
    .iter()
    .map(|(label, r)| {
        format!(
            "## {label}\nexit {}\nstdout: {}\nstderr: {}",
            r.code, r.stdout, r.stderr
        )
    })
    .collect::<Vec<_>>()
    .join("\n");
    insta::assert_snapshot!(report);
}

/// A build whose backend tries to print CI and secret-store credentials:
/// the backend never receives them (the well-known ones, CI identity
/// tokens, and the variables windlass.toml reads secrets from), and nothing
/// Windlass prints or writes contains them in any encoding.
#[test]
fn credentials_never_reach_a_backend_or_the_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let project = dir.path().join("leaky");
    let vault = windlass_testkit::canary("vault-token");
    let twine = windlass_testkit::canary("twine-password");
    let credentials = [
        ("VAULT_TOKEN", vault.clone()),
        ("TWINE_PASSWORD", twine.clone()),
        ("PYPI_ID_TOKEN", windlass_testkit::canary("pypi-id-token")),
        ("CIRCLE_OIDC_TOKEN", windlass_testkit::canary("circle-oidc")),
        ("WL_DEPLOY_KEY", windlass_testkit::canary("deploy-key")),
        ("WL_INDEX_TOKEN", windlass_testkit::canary("index-token")),
    ];
    let names: Vec<String> = credentials
        .iter()
        .map(|(name, _)| format!("'{name}'"))
        .collect();
    // An in-tree backend: it echoes every credential it can see, plain and
    // base64, to stdout and stderr, then builds nothing.
    let backend = format!(
        "import base64, os, sys\n\
         def _leak():\n\
         \x20   for k in ({}, 'WL_PLAIN'):\n\
         \x20       v = os.environ.get(k, 'absent')\n\
         \x20       print(k, v, base64.b64encode(v.encode()).decode())\n\
         \x20       print(k, v, file=sys.stderr)\n\
         def build_sdist(d, config_settings=None):\n\
         \x20   _leak()\n\
         \x20   raise RuntimeError('no sdist today')\n",
        names.join(", ")
    );
    write(
        &project,
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = []\nbuild-backend = \"leaky_backend\"\nbackend-path = [\"_build\"]\n\n[project]\nname = \"leaky\"\nversion = \"1.0\"\n",
            ),
            ("_build/leaky_backend.py", &backend),
            // The configuration names two more variables as secret sources.
            (
                "windlass.toml",
                "[secrets]\nDEPLOY = \"env://WL_DEPLOY_KEY\"\n\n[wheel.repositories.internal]\nurl = \"https://pypi.internal.example/legacy/\"\ntoken = \"env://WL_INDEX_TOKEN\"\n",
            ),
        ],
    );
    let out = wheel(dir.path())
        .args(["build", "--backend", "pep517", "--out"])
        .arg(dir.path().join("dist"))
        .arg(&project)
        .env("RUST_BACKTRACE", "1")
        .env("WL_PLAIN", "plain-value")
        .envs(credentials.iter().map(|(name, value)| (name, value)))
        .output();
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (name, _) in &credentials {
        assert!(
            stderr.contains(&format!("{name} absent")),
            "the backend saw {name}: {stderr}"
        );
    }
    assert!(stderr.contains("WL_PLAIN plain-value"), "{stderr}");
    // `check` in the same environment, on an archive that is not one.
    std::fs::write(dir.path().join("leaky-1.0-py3-none-any.whl"), "not a zip").unwrap();
    let checked = wheel(dir.path())
        .args(["check", "--json", "leaky-1.0-py3-none-any.whl"])
        .env("RUST_BACKTRACE", "1")
        .env("VAULT_TOKEN", &vault)
        .env("TWINE_PASSWORD", &twine)
        .output();
    assert_eq!(
        checked.status.code(),
        Some(1),
        "a broken archive is a problem found"
    );
    for (_, secret) in &credentials {
        for output in [&out, &checked] {
            windlass_testkit::assert_no_leak(&output.stdout, secret);
            windlass_testkit::assert_no_leak(&output.stderr, secret);
        }
        windlass_testkit::assert_no_leak_in_dir(dir.path(), secret);
    }
}

/// Inside GitHub Actions every problem `check` finds is also an `::error`
/// annotation on the archive.
#[test]
fn check_annotates_problems_in_github_actions() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        &[
            ("pyproject.toml", GOOD),
            ("README.md", "# hi\n"),
            ("demo/__init__.py", ""),
        ],
    );
    let built = run(&["build", "--wheel", "--backend", "native"], tmp.path());
    assert_eq!(built.code, 0, "{}", built.stderr);
    // A file name that no longer matches the metadata inside.
    std::fs::rename(
        tmp.path().join("dist/demo-1.0-py3-none-any.whl"),
        tmp.path().join("dist/demo-2.0-py3-none-any.whl"),
    )
    .unwrap();
    let out = wheel(tmp.path())
        .args(["check", "dist/demo-2.0-py3-none-any.whl"])
        .env("GITHUB_ACTIONS", "true")
        .output();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let annotations: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            l.starts_with("::error file=dist/demo-2.0-py3-none-any.whl,title=wheel check%3A ")
        })
        .collect();
    assert!(!annotations.is_empty(), "{stderr}");
    assert!(annotations.iter().any(|l| l.contains("2.0")), "{stderr}");
}

/// A run with a deadline: a fifo must fail the command, not hang it.
fn run_within(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Run {
    wheel(cwd)
        .args(args)
        .envs(env.iter().copied())
        .timeout(Duration::from_secs(60))
        .run()
        .replace(cwd, "[TMP]")
}

/// Member names that hold terminal escapes and a line break followed by a
/// workflow command reach neither the terminal nor the log raw.
#[test]
fn check_escapes_hostile_member_names() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        &[
            ("pyproject.toml", GOOD),
            ("README.md", "# hi\n"),
            ("demo/__init__.py", ""),
            ("demo/\u{1b}[31mred\u{1b}[0m.py", "X = 1\n"),
            ("demo/x\n::error::injected.py", "X = 1\n"),
        ],
    );
    let built = run_within(
        &["build", "--wheel", "--backend", "native"],
        tmp.path(),
        &[],
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
    let checked = run_within(
        &["check", "dist/demo-1.0-py3-none-any.whl"],
        tmp.path(),
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(checked.code, 1, "{}\n{}", checked.stdout, checked.stderr);
    for output in [&checked.stdout, &checked.stderr] {
        assert!(!output.contains('\u{1b}'), "{output:?}");
        for line in output.lines() {
            assert!(
                !line.starts_with("::") || line.starts_with("::error file=dist/demo-1.0"),
                "a line the runner reads as a command: {line:?}"
            );
        }
    }
    assert!(
        checked.stdout.contains(r"demo/x\n::error::injected.py"),
        "{}",
        checked.stdout
    );
    assert!(
        checked.stdout.contains(r"demo/\u{1b}[31mred\u{1b}[0m.py"),
        "{}",
        checked.stdout
    );
}

/// `check` refuses what is not a regular file, at once; `build` refuses a
/// project that links outside itself or holds a fifo, with a hint, and
/// leaves nothing behind.
#[test]
fn special_files_and_links_outside_are_input_errors() {
    let tmp = tempfile::tempdir().unwrap();
    windlass_testkit::mkfifo(&tmp.path().join("demo-1.0-py3-none-any.whl"));
    let fifo = run_within(&["check", "demo-1.0-py3-none-any.whl"], tmp.path(), &[]);

    let secret = tmp.path().join("home/.pypirc");
    write(tmp.path(), &[("home/.pypirc", "[pypi]\npassword = x\n")]);
    let linked = tmp.path().join("linked");
    write(
        &linked,
        &[
            ("pyproject.toml", GOOD),
            ("README.md", "# hi\n"),
            ("demo/__init__.py", ""),
        ],
    );
    std::os::unix::fs::symlink(&secret, linked.join("demo/pypirc.py")).unwrap();
    let link = run_within(&["build", "linked", "--out", "out"], tmp.path(), &[]);

    let piped = tmp.path().join("piped");
    write(
        &piped,
        &[
            ("pyproject.toml", GOOD),
            ("README.md", "# hi\n"),
            ("demo/__init__.py", ""),
        ],
    );
    windlass_testkit::mkfifo(&piped.join("demo/pipe.py"));
    let pipe = run_within(&["build", "piped", "--out", "out"], tmp.path(), &[]);

    let left: Vec<_> = std::fs::read_dir(tmp.path().join("out"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left {left:?} in the out dir");
    let mut report = String::new();
    for (label, r) in [
        ("check a fifo", fifo),
        ("build with a link outside", link),
        ("build with a fifo", pipe),
    ] {
        report.push_str(&format!(
            "## {label}\nexit {}\nstdout: {:?}\n{}\n",
            r.code, r.stdout, r.stderr
        ));
    }
    insta::assert_snapshot!(report);
}

/// hatchling ships the `.gitignore` it read, even from the repository root
/// above the project: built from a relative path it is packaged, but when
/// it links outside the repository the build refuses it.
#[test]
fn a_parent_gitignore_must_stay_in_the_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    write(
        &repo,
        &[
            (".git/HEAD", "ref: refs/heads/main\n"),
            (".gitignore", "*.log\n"),
            ("pkg/pyproject.toml", GOOD),
            ("pkg/README.md", "# hi\n"),
            ("pkg/demo/__init__.py", ""),
            ("pkg/debug.log", "ignored\n"),
        ],
    );
    let built = run_within(&["build", "pkg", "--sdist", "--out", "out"], &repo, &[]);
    assert_eq!(built.code, 0, "{}", built.stderr);

    write(tmp.path(), &[("home/.pypirc", "[pypi]\npassword = x\n")]);
    std::fs::remove_file(repo.join(".gitignore")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("home/.pypirc"), repo.join(".gitignore")).unwrap();
    let refused = run_within(&["build", "pkg", "--sdist", "--out", "out2"], &repo, &[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("`.gitignore` is a symbolic link to `")
            && refused
                .stderr
                .contains("/home/.pypirc`, outside the project"),
        "{}",
        refused.stderr
    );
}

/// A backend whose hook answers with more than a file name (here 20 MB) is
/// refused with an error naming the limit, not read into memory whole.
#[test]
fn a_huge_hook_answer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let project = dir.path().join("chatty");
    let backend = "def build_sdist(d, config_settings=None):\n\
                   \x20   return 'x' * (20 * 1024 * 1024)\n";
    write(
        &project,
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = []\nbuild-backend = \"chatty_backend\"\nbackend-path = [\"_build\"]\n\n[project]\nname = \"chatty\"\nversion = \"1.0\"\n",
            ),
            ("_build/chatty_backend.py", backend),
        ],
    );
    let out = wheel(dir.path())
        .args(["build", "--backend", "pep517", "--sdist", "--out"])
        .arg(dir.path().join("dist"))
        .arg(&project)
        .output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is larger than 16 MiB"), "{stderr}");
}

/// The `flat-hatch` fixture built natively into `dir/dist`.
fn build_flat_hatch(dir: &Path) {
    let built = run(
        &[
            "build",
            fixture("flat-hatch").to_str().unwrap(),
            "--out",
            "dist",
            "--backend",
            "native",
        ],
        dir,
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
}

/// `publish` with no credentials anywhere and no terminal to ask on stops
/// before sending anything, exit 2, naming every source it tried; a dry
/// run stops the same way. An index at a local port proves that nothing
/// reached it, not even a look-up.
#[test]
fn publish_without_credentials_sends_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    build_flat_hatch(tmp.path());
    let index = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    index.set_nonblocking(true).unwrap();
    let url = format!("http://{}/", index.local_addr().unwrap());
    let mut outputs = String::new();
    // The default repository (PyPI, by name) is refused the same way,
    // before any connection.
    let runs: [&[&str]; 3] = [
        &["--repository", url.as_str()],
        &["--repository", url.as_str(), "--dry-run"],
        &[],
    ];
    for extra in runs {
        let mut args = vec!["publish"];
        args.extend_from_slice(extra);
        let out = publisher(tmp.path(), tmp.path())
            .args(&args)
            .timeout(Duration::from_secs(60))
            .output();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        outputs.push_str(&format!(
            "$ windlass-wheel {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let accepted = index.accept();
    assert!(
        accepted
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "something reached the index: {accepted:?}"
    );
    insta::with_settings!({filters => windlass_testkit::cli::filters()}, {
        insta::assert_snapshot!(outputs);
    });
}

/// The binary for `publish` in `cwd`, with a clean environment (no
/// credentials, no CI) and `HOME` and the cache in `home`.
fn publisher(cwd: &Path, home: &Path) -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_windlass-wheel"), cwd)
        .env("HOME", home)
        .env("WINDLASS_CACHE_DIR", home.join("cache"))
}

/// A `publish` run against the test pypiserver, with no credentials or
/// repository coming from the environment or a `.pypirc`; the index's
/// address in the output reads `[INDEX]`.
fn publish_run(args: &[&str], cwd: &Path, home: &Path, index: &str) -> Run {
    let out = publisher(cwd, home)
        .arg("publish")
        .args(args)
        .timeout(Duration::from_secs(120))
        .output();
    let mut run = Run::from(out).replace(home, "[TMP]");
    for text in [&mut run.stdout, &mut run.stderr] {
        *text = text.replace(index.trim_end_matches('/'), "[INDEX]");
    }
    run
}

/// A project that no other test publishes, so a dry run always plans an
/// upload.
fn publishable_project(dir: &Path, name: &str, extra: &[(&str, &str)]) {
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    let pyproject = GOOD.replace("name = \"demo\"", &format!("name = \"{name}\""));
    let module = format!("{}/__init__.py", name.replace('-', "_"));
    let mut files = vec![
        ("project/pyproject.toml", pyproject.as_str()),
        ("project/README.md", "# hi\n"),
        (module.as_str(), ""),
    ];
    let module_path = format!("project/{module}");
    files[2].0 = module_path.as_str();
    files.extend_from_slice(extra);
    write(dir, &files);
}

/// The runs one after the other, hashes read as `[HASH]` (what is found
/// and planned matters here, not the bytes the builder wrote).
fn report(runs: &[(&str, &Run)]) -> String {
    let hash = |text: &str| {
        text.split('\n')
            .map(|line| {
                line.split(' ')
                    .map(|word| {
                        if word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit()) {
                            "[HASH]"
                        } else {
                            word
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    runs.iter()
        .map(|(label, r)| {
            format!(
                "$ {label}\nexit {}\nstdout:\n{}stderr:\n{}",
                r.code,
                hash(&r.stdout),
                r.stderr
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `check` and `publish` given no files take what `build` wrote (`[wheel]
/// out` of the project, else its `dist/`), wherever in the project they
/// run.
#[test]
fn bare_publish_from_a_subdirectory_finds_what_build_wrote() {
    let index = windlass_testkit::Services::load().pypiserver().upload_url();
    let tmp = tempfile::tempdir().unwrap();
    publishable_project(
        tmp.path(),
        "wl-subdir-demo",
        &[("project/windlass.toml", "[wheel]\nout = \"build/wheels\"\n")],
    );
    let project = tmp.path().join("project");
    let built = run_at(&["build", "--backend", "native"], &project, tmp.path());
    assert_eq!(built.code, 0, "{}", built.stderr);
    let sub = project.join("wl_subdir_demo");
    let checked = run_at(&["check"], &sub, tmp.path());
    let published = publish_run(
        &["--repository", &index, "--no-credentials", "--dry-run"],
        &sub,
        tmp.path(),
        &index,
    );
    insta::assert_snapshot!(report(&[
        ("windlass-wheel build (in project)", &built),
        ("windlass-wheel check (in project/wl_subdir_demo)", &checked),
        (
            "windlass-wheel publish --repository [INDEX] --no-credentials --dry-run (in project/wl_subdir_demo)",
            &published
        ),
    ]));
}

/// `[wheel] repository` is where a bare `publish` goes; `--repository`
/// still wins.
#[test]
fn wheel_repository_is_the_default_target_and_a_flag_wins() {
    let index = windlass_testkit::Services::load().pypiserver().upload_url();
    let tmp = tempfile::tempdir().unwrap();
    let config = format!(
        "[wheel]\nrepository = \"local\"\n\n[wheel.repositories.local]\nurl = \"{index}\"\n"
    );
    publishable_project(
        tmp.path(),
        "wl-default-repo",
        &[("project/windlass.toml", config.as_str())],
    );
    let project = tmp.path().join("project");
    let built = run(&["build", "--backend", "native"], &project);
    assert_eq!(built.code, 0, "{}", built.stderr);
    let configured = publish_run(
        &["--no-credentials", "--dry-run"],
        &project,
        tmp.path(),
        &index,
    );
    // Named by the flag: PyPI, where nothing is configured, so the run
    // stops before sending anything.
    let flagged = publish_run(
        &["--repository", "pypi", "--dry-run"],
        &project,
        tmp.path(),
        &index,
    );
    insta::assert_snapshot!(report(&[
        (
            "windlass-wheel publish --no-credentials --dry-run",
            &configured
        ),
        (
            "windlass-wheel publish --repository pypi --dry-run",
            &flagged
        ),
    ]));
}

/// Rewrites a wheel with one RECORD hash that no longer matches its file.
fn break_record(wheel: &Path) {
    use std::io::{Read as _, Write as _};
    let bytes = std::fs::read(wheel).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut writer = zip::ZipWriter::new(std::fs::File::create(wheel).unwrap());
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().to_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name.ends_with(".dist-info/RECORD") {
            let text = String::from_utf8(data).unwrap();
            let broken: Vec<String> = text
                .lines()
                .map(|l| match l.split_once(",sha256=") {
                    Some((path, rest)) if path.ends_with("__init__.py") => {
                        let size = rest.split_once(',').unwrap().1;
                        format!("{path},sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,{size}")
                    }
                    _ => l.to_owned(),
                })
                .collect();
            data = (broken.join("\n") + "\n").into_bytes();
        }
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(&data).unwrap();
    }
    writer.finish().unwrap();
}

/// `publish` runs the checks of `check` first: a wheel whose RECORD is
/// broken is refused (exit 1) before anything is sent, and published with
/// `--no-check` (here planned: a dry run).
#[test]
fn publish_refuses_a_file_check_fails_unless_no_check() {
    let index = windlass_testkit::Services::load().pypiserver().upload_url();
    let tmp = tempfile::tempdir().unwrap();
    publishable_project(tmp.path(), "wl-broken-record", &[]);
    let project = tmp.path().join("project");
    let built = run(&["build", "--wheel", "--backend", "native"], &project);
    assert_eq!(built.code, 0, "{}", built.stderr);
    break_record(&project.join("dist/wl_broken_record-1.0-py3-none-any.whl"));
    let args = [
        "--repository",
        index.as_str(),
        "--no-credentials",
        "--dry-run",
    ];
    let refused = publish_run(&args, &project, tmp.path(), &index);
    let mut unchecked_args = args.to_vec();
    unchecked_args.push("--no-check");
    let unchecked = publish_run(&unchecked_args, &project, tmp.path(), &index);
    insta::assert_snapshot!(report(&[
        (
            "windlass-wheel publish --repository [INDEX] --no-credentials --dry-run",
            &refused
        ),
        (
            "windlass-wheel publish --repository [INDEX] --no-credentials --dry-run --no-check",
            &unchecked
        ),
    ]));
}

/// The checks run while the index is asked for the project's files, but no
/// upload starts before every file has passed them: a broken wheel given
/// after a good sdist stops the run (exit 1) with nothing uploaded.
#[test]
fn publish_uploads_nothing_when_a_later_file_fails_its_check() {
    let tmp = tempfile::tempdir().unwrap();
    publishable_project(tmp.path(), "wl-late-broken", &[]);
    let project = tmp.path().join("project");
    let built = run(&["build", "--backend", "native"], &project);
    assert_eq!(built.code, 0, "{}", built.stderr);
    break_record(&project.join("dist/wl_late_broken-1.0-py3-none-any.whl"));
    let (url, seen) = unavailable_index();
    let out = publisher(&project, tmp.path())
        .args([
            "publish",
            "--repository",
            url.as_str(),
            "--no-credentials",
            "dist/wl_late_broken-1.0.tar.gz",
            "dist/wl_late_broken-1.0-py3-none-any.whl",
        ])
        .env("WINDLASS_HTTP_RETRIES", "1")
        .timeout(Duration::from_secs(60))
        .output();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("so nothing was published"), "{stderr}");
    // Look-ups may have been made (or cut short when the run ended).
    let requests = seen.lock().unwrap().clone();
    assert!(
        !requests.iter().any(|r| r.starts_with("POST")),
        "{requests:?}"
    );
}

/// A local index that answers every request with `503 Service
/// Unavailable` (after reading it whole) and records `METHOD /path` of
/// each; it serves until the test process ends.
fn unavailable_index() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut length = 0_usize;
            let mut chunked = false;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(value) = lower.strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
            }
            if chunked {
                let mut rest = Vec::new();
                while !rest.ends_with(b"0\r\n\r\n") {
                    let mut byte = [0_u8];
                    if reader.read(&mut byte).unwrap_or(0) == 0 {
                        break;
                    }
                    rest.push(byte[0]);
                }
            } else {
                let _ = std::io::copy(&mut (&mut reader).take(length as u64), &mut std::io::sink());
            }
            let mut words = request_line.split(' ');
            let method = words.next().unwrap_or_default();
            let path = words.next().unwrap_or_default();
            log.lock().unwrap().push(format!("{method} {path}"));
            let _ = stream.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 19\r\nconnection: close\r\n\r\nService Unavailable",
            );
        }
    });
    (url, seen)
}

/// An index that is down: the retries are never log lines. Off a terminal
/// nothing shows them by default or with `-q`; with `-v` each retry is one
/// plain status line. The error says how many attempts were made in how
/// long.
#[test]
fn retries_against_a_down_index_are_status_lines_not_logs() {
    let tmp = tempfile::tempdir().unwrap();
    build_flat_hatch(tmp.path());
    let files = std::fs::read_dir(tmp.path().join("dist")).unwrap().count();
    assert!(files > 0);
    let (url, seen) = unavailable_index();
    let mut outputs = String::new();
    for flags in [&[][..], &["-q"], &["-v"]] {
        let before = seen.lock().unwrap().len();
        let mut args = vec!["publish", "--repository", url.as_str(), "--no-credentials"];
        args.extend_from_slice(flags);
        let out = publisher(tmp.path(), tmp.path())
            .args(&args)
            .env("WINDLASS_HTTP_RETRIES", "1")
            .env("WINDLASS_HTTP_RETRY_BUDGET", "60s")
            .timeout(Duration::from_secs(60))
            .output();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(!stderr.contains("WARN"), "{stderr}");
        let retry_lines = stderr.lines().filter(|l| l.contains("Retrying")).count();
        // The project's one look-up (its files share it) and each file's
        // upload are retried once (`http.retries = 1`); the look-up after a
        // failed upload is part of the upload's retry, never retried on its
        // own.
        let projects = 1;
        let expected = if flags == ["-v"] { files + projects } else { 0 };
        assert_eq!(retry_lines, expected, "{stderr}");
        let requests = seen.lock().unwrap()[before..].to_vec();
        let posts = requests.iter().filter(|r| r.starts_with("POST")).count();
        let gets = requests.iter().filter(|r| r.starts_with("GET")).count();
        assert_eq!(
            (posts, gets),
            (2 * files, 2 * projects + 2 * files),
            "{requests:?}"
        );
        // The look-up runs while the files are checked: its retry line may
        // come before, among or after the `Checking` lines, so the
        // transcript shows it last.
        let (lookups, others): (Vec<&str>, Vec<&str>) =
            stderr.lines().partition(|l| l.contains("Retrying GET"));
        assert_eq!(lookups.len(), expected.min(projects), "{stderr}");
        outputs.push_str(&format!("$ windlass-wheel {}\n", args.join(" ")));
        for line in others.iter().chain(&lookups) {
            outputs.push_str(line);
            outputs.push('\n');
        }
    }
    // With a token: the retry lines and the errors never show it.
    let token = windlass_testkit::canary("retry-token");
    let out = publisher(tmp.path(), tmp.path())
        .args([
            "publish",
            "--repository",
            url.as_str(),
            "--token",
            "env://PYPI_TOKEN",
            "-v",
        ])
        .env("WINDLASS_HTTP_RETRIES", "1")
        .env("WINDLASS_HTTP_RETRY_BUDGET", "60s")
        .env("PYPI_TOKEN", &token)
        .timeout(Duration::from_secs(60))
        .output();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Retrying POST"), "{stderr}");
    windlass_testkit::assert_no_leak(&out.stderr, &token);
    windlass_testkit::assert_no_leak(&out.stdout, &token);
    insta::with_settings!({filters => windlass_testkit::cli::filters()}, {
        insta::assert_snapshot!(outputs);
    });
}

/// `-v` names the real reason a project goes to its backend: with `auto`
/// (the build then runs the backend) and with `--backend native` (which
/// refuses with that reason). `--backend pep517` gives no reason: it never
/// looks at `[project]`.
#[test]
fn verbose_names_why_a_project_goes_to_its_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let poetry = tmp.path().join("poetry");
    write(
        &poetry,
        &[(
            "pyproject.toml",
            "[build-system]\nrequires = [\"poetry-core\"]\nbuild-backend = \"poetry.core.masonry.api\"\n\n[tool.poetry]\nname = \"demo\"\nversion = \"1.0\"\n",
        )],
    );
    let legacy = tmp.path().join("legacy");
    write(
        &legacy,
        &[("setup.py", "from setuptools import setup\nsetup()\n")],
    );
    let unknown = fixture("unknown-project-key");
    let unknown = unknown.to_str().unwrap();
    let cases: [(&str, &str, &str); 5] = [
        ("unknown key, auto", unknown, "auto"),
        ("unknown key, pep517", unknown, "pep517"),
        ("unknown key, native", unknown, "native"),
        ("poetry-core, native", "poetry", "native"),
        ("setup.py only, native", "legacy", "native"),
    ];
    let mut report = String::new();
    for (label, project, backend) in cases {
        let r = run(
            &[
                "-v",
                "build",
                project,
                "--wheel",
                "--out",
                "out",
                "--backend",
                backend,
            ],
            tmp.path(),
        );
        let said: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| l.contains("declared backend") || l.starts_with("error:"))
            .map(str::trim)
            .collect();
        report.push_str(&format!(
            "## {label}\nexit {}\n{}\n\n",
            r.code,
            said.join("\n")
        ));
    }
    insta::assert_snapshot!(report);
}

/// A `setup.py`-only tree goes to setuptools' legacy backend in an
/// environment filled by an installer: neither the installer nor
/// `setup.py` sees credentials, and nothing printed or written holds them.
#[test]
fn a_setup_py_only_build_never_sees_credentials() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let project = dir.path().join("legacy");
    let vault = windlass_testkit::canary("vault-token");
    let twine = windlass_testkit::canary("twine-password");
    write(
        &project,
        &[(
            "setup.py",
            "import os, sys\n\
             for k in ('VAULT_TOKEN', 'TWINE_PASSWORD'):\n\
             \x20   print(k, os.environ.get(k, 'absent'), file=sys.stderr)\n\
             raise SystemExit('no build today')\n",
        )],
    );
    let out = wheel(dir.path())
        .args(["build", "--out"])
        .arg(dir.path().join("dist"))
        .arg(&project)
        .env("VAULT_TOKEN", &vault)
        .env("TWINE_PASSWORD", &twine)
        .output();
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("VAULT_TOKEN absent"), "{stderr}");
    assert!(stderr.contains("TWINE_PASSWORD absent"), "{stderr}");
    for secret in [&vault, &twine] {
        windlass_testkit::assert_no_leak(&out.stdout, secret);
        windlass_testkit::assert_no_leak(&out.stderr, secret);
        windlass_testkit::assert_no_leak_in_dir(dir.path(), secret);
    }
}

/// Inside GitHub Actions `build` sets the step outputs `version` and
/// `files` (a JSON list) in `$GITHUB_OUTPUT`, as heredoc entries, redacted:
/// a secret in the output path shows as `****`.
#[test]
fn build_sets_step_outputs_in_github_actions() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        &[
            ("pyproject.toml", GOOD),
            ("README.md", "# hi\n"),
            ("demo/__init__.py", ""),
        ],
    );
    let canary = windlass_testkit::canary("wheel-output");
    let out = tmp.path().join(&canary).join("dist");
    let outputs = tmp.path().join("github_output");
    std::fs::write(&outputs, "").unwrap();
    let built = wheel(tmp.path())
        .args(["build", "--backend", "native", "--out"])
        .arg(&out)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &outputs)
        .env("TWINE_PASSWORD", &canary)
        .run();
    assert_eq!(built.code, 0, "{built}");
    let text = std::fs::read_to_string(&outputs).unwrap();
    assert!(text.starts_with("version<<ghadelimiter_"), "{text}");
    windlass_testkit::assert_no_leak(text.as_bytes(), &canary);
    let entries = windlass_testkit::actions::parse_file_command(&text, "GITHUB_OUTPUT").unwrap();
    assert_eq!(entries["version"], "1.0", "{text}");
    let files: Vec<String> = serde_json::from_str(&entries["files"]).unwrap();
    let masked = tmp.path().join("****").join("dist");
    assert_eq!(
        files,
        [
            masked.join("demo-1.0.tar.gz").display().to_string(),
            masked
                .join("demo-1.0-py3-none-any.whl")
                .display()
                .to_string(),
        ]
    );
    // Outside GitHub Actions nothing is written.
    std::fs::write(&outputs, "").unwrap();
    let plain = wheel(tmp.path())
        .args(["build", "--backend", "native", "--out"])
        .arg(&out)
        .env("GITHUB_OUTPUT", &outputs)
        .run();
    assert_eq!(plain.code, 0, "{plain}");
    assert_eq!(std::fs::read_to_string(&outputs).unwrap(), "");
}
