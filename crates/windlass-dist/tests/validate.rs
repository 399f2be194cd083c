//! Native builds validated by tools we did not write: twine, check-wheel-contents,
//! pip, the declared backends themselves (through `uv build`), plus
//! reproducibility and the checker's findings on broken archives.
//!
//! The Python tools come from the venv named by `WINDLASS_TEST_PYTHON_VENV`,
//! else from the peers venv of `scripts/services.sh` (via windlass-testkit).
//! Without either, these tests fail loudly: they never skip.

// Test helpers panic on purpose: a failing step is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::format_push_string)]

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use windlass_dist::archive::{Entry, Timestamp, ZipWriter};
use windlass_dist::build::{BackendChoice, BuildRequest, build};
use windlass_dist::check_file;
use windlass_dist::metadata::ParsedMetadata;
use windlass_dist::pep517::Pep517Options;
use windlass_process::Cmd;

/// (fixture, module to import, console script, what the script prints)
const FIXTURES: &[(&str, &str, &str, &str)] = &[
    (
        "flat-hatch",
        "flat_hatch.plugins",
        "flat-hatch",
        "flat-hatch says: hello from package data",
    ),
    ("src-flit", "src_flit", "src-flit", "src-flit ok"),
    (
        "namespace-uv",
        "acme.widgets.main",
        "acme-widgets",
        "acme-widgets ok",
    ),
    ("setuptools-src", "st_demo.sub.cmd", "st-demo", "st-demo ok"),
    ("hatch-data", "hatch_data", "hatch-data", "hatch-data ok"),
    (
        "../../../../examples/ml-project",
        "sentiment_lab.serving.app",
        "sentiment-train",
        "",
    ),
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A directory name for a fixture (the example project's path has slashes).
fn label(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The venv holding twine, check-wheel-contents, uv and build.
fn tools_venv() -> PathBuf {
    if let Some(dir) = windlass_testkit::var_os("WINDLASS_TEST_PYTHON_VENV") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("bin/python").exists(),
            "WINDLASS_TEST_PYTHON_VENV={} has no bin/python",
            dir.display()
        );
        return dir;
    }
    let services = windlass_testkit::Services::load();
    let python = PathBuf::from(services.var("WINDLASS_TEST_PYTHON"));
    python
        .parent()
        .and_then(Path::parent)
        .expect("WINDLASS_TEST_PYTHON is <venv>/bin/python")
        .to_path_buf()
}

fn tool(name: &str) -> PathBuf {
    let path = tools_venv().join("bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: the test venv needs twine, check-wheel-contents, uv and build",
        path.display()
    );
    path
}

/// Runs a command, panicking with its output when it fails; returns stdout + stderr.
async fn run(cmd: Cmd) -> String {
    let venv_bin = tools_venv().join("bin");
    let path = format!(
        "{}:{}",
        venv_bin.display(),
        windlass_testkit::var_os("PATH")
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    );
    let program = cmd.program().to_string_lossy().into_owned();
    let outcome = cmd
        .env("PATH", path)
        .capture_output()
        .run()
        .await
        .expect("spawn");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(outcome.stdout().unwrap_or_default()),
        String::from_utf8_lossy(outcome.stderr().unwrap_or_default())
    );
    assert!(outcome.success(), "`{program}` failed:\n{text}");
    text
}

async fn native_build(project: &Path, out: &Path, wheel: bool, sdist: bool) -> Vec<PathBuf> {
    let req = BuildRequest {
        project_dir: project.to_path_buf(),
        out_dir: out.to_path_buf(),
        wheel,
        sdist,
        backend: BackendChoice::Native,
        timestamp: Timestamp::DEFAULT,
        pep517: Pep517Options::from_env(windlass_testkit::var_os),
    };
    build(&req)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", project.display()))
        .artifacts
        .into_iter()
        .map(|a| a.path)
        .collect()
}

fn find(dir: &Path, suffix: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no *{suffix} in {}", dir.display()))
}

#[tokio::test(flavor = "multi_thread")]
async fn native_archives_pass_twine_check_wheel_contents_and_install() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, module, script, expected) in FIXTURES {
        let out = tmp.path().join(label(name));
        let built = native_build(&fixture(name), &out, true, true).await;
        assert_eq!(built.len(), 2, "{name}");
        for artifact in &built {
            let problems = check_file(artifact).unwrap();
            assert!(problems.is_empty(), "{name}: our check found {problems:#?}");
        }
        run(Cmd::new(tool("twine"), &out)
            .args(["check", "--strict"])
            .args(&built))
        .await;
        let wheel = find(&out, ".whl");
        run(Cmd::new(tool("check-wheel-contents"), &out).arg(&wheel)).await;

        // A fresh venv, pip install, import, run the console script.
        let venv = tmp.path().join(format!("venv-{}", label(name)));
        run(Cmd::new(tool("python"), tmp.path())
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv))
        .await;
        run(Cmd::new(tool("python"), tmp.path())
            .args(["-m", "pip", "--python"])
            .arg(venv.join("bin/python"))
            .args([
                "install",
                "--no-deps",
                "--no-index",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(&wheel))
        .await;
        run(Cmd::new(venv.join("bin/python"), tmp.path()).args(["-c", &format!("import {module}")])).await;
        if expected.is_empty() {
            // Runs with `--help`: proves the entry point resolves.
            run(Cmd::new(venv.join("bin").join(script), tmp.path()).arg("--help")).await;
        } else {
            let said = run(Cmd::new(venv.join("bin").join(script), tmp.path())).await;
            assert_eq!(said.trim(), *expected, "{name}");
        }
    }
}

/// File names and metadata of one archive, normalised for comparison.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    files: BTreeSet<String>,
    fields: BTreeSet<(String, String)>,
    body: Option<String>,
}

fn normalise_field(name: &str, value: &str) -> Option<(String, String)> {
    // The lowest sufficient Metadata-Version is our choice; 2.5's fields are newer than we write.
    if ["Metadata-Version", "Import-Name", "Import-Namespace"].contains(&name) {
        return None;
    }
    let value = match name {
        "Version" => value
            .parse::<pep440_rs::Version>()
            .map_or(value.to_owned(), |v| v.to_string()),
        "Requires-Dist" => value
            .parse::<pep508_rs::Requirement>()
            .map_or(value.to_owned(), |r| r.to_string()),
        _ => value.to_owned(),
    };
    Some((name.to_owned(), value))
}

fn summarize(path: &Path) -> Summary {
    let mut files = BTreeSet::new();
    let mut metadata = String::new();
    if path.to_string_lossy().ends_with(".whl") {
        let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            if f.is_dir() {
                continue;
            }
            let name = f.name().to_owned();
            if name.ends_with(".dist-info/METADATA") {
                f.read_to_string(&mut metadata).unwrap();
            }
            files.insert(name);
        }
    } else {
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
        let mut tar = tar::Archive::new(gz);
        for e in tar.entries().unwrap() {
            let mut e = e.unwrap();
            if e.header().entry_type().is_dir() {
                continue;
            }
            let name = e.path().unwrap().to_string_lossy().into_owned();
            if name.matches('/').count() == 1 && name.ends_with("/PKG-INFO") {
                e.read_to_string(&mut metadata).unwrap();
            }
            files.insert(name);
        }
    }
    let parsed = ParsedMetadata::parse(&metadata);
    Summary {
        files,
        fields: parsed
            .fields
            .iter()
            .filter_map(|(k, v)| normalise_field(k, v))
            .collect(),
        body: parsed.body.map(|b| b.trim_end().to_owned()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn native_matches_the_declared_backend() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, ..) in FIXTURES {
        let ours = tmp.path().join(format!("{}-native", label(name)));
        let theirs = tmp.path().join(format!("{}-backend", label(name)));
        native_build(&fixture(name), &ours, true, true).await;
        // `uv build` runs the declared backend in an isolated environment.
        run(Cmd::new(tool("uv"), tmp.path())
            .args(["build", "--quiet", "--sdist", "--wheel", "--out-dir"])
            .arg(&theirs)
            .arg(fixture(name)))
        .await;
        let kinds: &[&str] = match *name {
            // Their sdists differ by design (egg-info, rewritten pyproject): `auto` uses PEP 517 for them.
            "setuptools-src" | "namespace-uv" => &[".whl"],
            _ => &[".whl", ".tar.gz"],
        };
        for kind in kinds {
            let a = find(&theirs, kind);
            let b = find(&ours, kind);
            assert_eq!(a.file_name(), b.file_name(), "{name}: file names differ");
            let (a, b) = (summarize(&a), summarize(&b));
            let only_backend: Vec<_> = a.files.difference(&b.files).collect();
            let only_native: Vec<_> = b.files.difference(&a.files).collect();
            assert!(
                only_backend.is_empty() && only_native.is_empty(),
                "{name} {kind}: only in the backend's: {only_backend:?}; only in ours: {only_native:?}"
            );
            let fa: Vec<_> = a.fields.difference(&b.fields).collect();
            let fb: Vec<_> = b.fields.difference(&a.fields).collect();
            assert!(
                fa.is_empty() && fb.is_empty(),
                "{name} {kind}: metadata only in the backend's: {fa:?}; only in ours: {fb:?}"
            );
            assert_eq!(a.body, b.body, "{name} {kind}: descriptions differ");
        }
    }
}

/// Copies a tree, giving every file the given mtime and mode.
fn copy_tree(from: &Path, to: &Path, mtime: std::time::SystemTime, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let dest = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
            let f = std::fs::File::options().write(true).open(&dest).unwrap();
            f.set_modified(mtime).unwrap();
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn builds_are_byte_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, ..) in FIXTURES {
        let mut outputs = Vec::new();
        for (i, (secs, mode)) in [(1_000_000_000u64, 0o600), (1_700_000_000, 0o664)]
            .into_iter()
            .enumerate()
        {
            let src = tmp.path().join(format!("{}-src{i}", label(name)));
            copy_tree(
                &fixture(name),
                &src,
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
                mode,
            );
            let out = tmp.path().join(format!("{}-out{i}", label(name)));
            let mut built = native_build(&src, &out, true, true).await;
            built.sort();
            outputs.push(
                built
                    .iter()
                    .map(|p| std::fs::read(p).unwrap())
                    .collect::<Vec<_>>(),
            );
        }
        assert!(outputs[0] == outputs[1], "{name}: two builds differ");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamic_version_falls_back_to_pep517_and_installs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let venv_bin = tools_venv().join("bin");
    let req = BuildRequest {
        project_dir: fixture("dynamic-version"),
        out_dir: out.clone(),
        wheel: true,
        sdist: true,
        backend: BackendChoice::Auto,
        timestamp: Timestamp::DEFAULT,
        pep517: Pep517Options {
            python: venv_bin.join("python").into_os_string(),
            cache_dir: tmp.path().join("cache"),
            ..Pep517Options::from_env(windlass_testkit::var_os)
        },
    };
    let built = build(&req).await.unwrap();
    insta::assert_debug_snapshot!(built.fallback_reasons, @r#"
    [
        "`project.dynamic = [\"version\"]`: metadata is computed by the backend",
    ]
    "#);
    let names: Vec<String> = built
        .artifacts
        .iter()
        .map(|a| {
            format!(
                "{} {:?} {}",
                a.builder,
                a.kind,
                a.path.file_name().unwrap().to_string_lossy()
            )
        })
        .collect();
    insta::assert_debug_snapshot!(names, @r#"
    [
        "pep517 Sdist dyn_version-4.5.6.tar.gz",
        "pep517 Wheel dyn_version-4.5.6-py3-none-any.whl",
    ]
    "#);
    for a in &built.artifacts {
        assert!(check_file(&a.path).unwrap().is_empty());
    }
    // Nothing but the archives is left in the output directory.
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2);
}

type Edit = Box<dyn Fn(&str, Vec<u8>) -> Vec<(String, Vec<u8>)>>;

/// Rewrites a wheel: `edit` may change each member's name or bytes.
fn rewrite(wheel: &Path, dest: &Path, edit: impl Fn(&str, Vec<u8>) -> Vec<(String, Vec<u8>)>) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let mut entries = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        for (name, bytes) in edit(f.name(), bytes) {
            entries.push(Entry::bytes(name, bytes));
        }
    }
    let mut w = ZipWriter::new(std::fs::File::create(dest).unwrap(), Timestamp::DEFAULT);
    w.add_all(&entries).unwrap();
    w.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn check_finds_broken_archives() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("good");
    native_build(&fixture("flat-hatch"), &out, true, false).await;
    let good = find(&out, ".whl");
    let file_name = good.file_name().unwrap().to_string_lossy().into_owned();
    let meta = "flat_hatch-1.2.0rc1.dist-info/METADATA";
    let cases: Vec<(&str, Edit)> = vec![
        (
            "tampered file",
            Box::new(|n, b| {
                let b = if n == "flat_hatch/cli.py" {
                    b"import os; os.system('evil')\n".to_vec()
                } else {
                    b
                };
                vec![(n.to_owned(), b)]
            }),
        ),
        (
            "bad version",
            Box::new(move |n, b| {
                let b = if n == meta {
                    String::from_utf8(b)
                        .unwrap()
                        .replace("Version: 1.2.0rc1", "Version: 1.2.0-banana")
                        .into_bytes()
                } else {
                    b
                };
                vec![(n.to_owned(), b)]
            }),
        ),
        (
            "bad license expression",
            Box::new(move |n, b| {
                let b = if n == meta {
                    String::from_utf8(b)
                        .unwrap()
                        .replace(
                            "License-Expression: MIT",
                            "License-Expression: MIT OR Nonsense-1.0",
                        )
                        .into_bytes()
                } else {
                    b
                };
                vec![(n.to_owned(), b)]
            }),
        ),
        (
            "path escaping the archive",
            Box::new(|n, b| {
                let mut v = vec![(n.to_owned(), b)];
                if n == "flat_hatch/__init__.py" {
                    v.push(("../../etc/evil.pth".to_owned(), b"import os\n".to_vec()));
                }
                v
            }),
        ),
    ];
    let mut report = String::new();
    for (label, edit) in cases {
        let dir = tmp.path().join(label.replace(' ', "-"));
        std::fs::create_dir_all(&dir).unwrap();
        let broken = dir.join(&file_name);
        rewrite(&good, &broken, edit);
        report.push_str(&format!("## {label}\n"));
        for p in check_file(&broken).unwrap() {
            report.push_str(&format!("{p}\n"));
        }
    }
    insta::assert_snapshot!(report);
}
