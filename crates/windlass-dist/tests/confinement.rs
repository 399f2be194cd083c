//! The native builder packages files of the project only: a symlink that
//! leaves the project and a fifo, socket or device are errors naming them,
//! found before anything is read or written; inputs it reads (pyproject,
//! readme, .gitignore) are read bounded.

// Tests panic on purpose: a failing step is a failing test.
#![allow(clippy::unwrap_used, clippy::format_push_string)]

use std::fmt::Write as _;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::time::Duration;

use windlass_dist::build::{BackendChoice, BuildRequest, build};
use windlass_dist::plan::plan;
use windlass_dist::pyproject::PyProject;

const HATCH: &str = r#"[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "demo"
version = "1.0"
readme = "README.md"
"#;

const FLIT: &str = r#"[build-system]
requires = ["flit_core"]
build-backend = "flit_core.buildapi"

[project]
name = "demo"
version = "1.0"
description = "demo"
readme = "README.md"
"#;

/// A project `tmp/project` (a git root) next to `tmp/home/.pypirc`, a file
/// no build may ever package.
struct Scene {
    tmp: tempfile::TempDir,
}

impl Scene {
    fn new(pyproject: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let project = tmp.path().join("project");
        std::fs::create_dir_all(project.join(".git")).unwrap();
        std::fs::create_dir_all(project.join("demo")).unwrap();
        std::fs::write(project.join("pyproject.toml"), pyproject).unwrap();
        std::fs::write(project.join("README.md"), "# demo\n").unwrap();
        std::fs::write(project.join("demo/__init__.py"), "").unwrap();
        std::fs::create_dir_all(tmp.path().join("home/.config")).unwrap();
        std::fs::write(
            tmp.path().join("home/.pypirc"),
            "[pypi]\npassword = pypi-canary\n",
        )
        .unwrap();
        std::fs::write(tmp.path().join("home/.config/secret.py"), "TOKEN = 1\n").unwrap();
        Self { tmp }
    }

    fn project(&self) -> PathBuf {
        self.tmp.path().join("project")
    }

    fn home(&self) -> PathBuf {
        self.tmp.path().join("home")
    }

    /// The plan's outcome: the packaged paths, or the error with its causes
    /// and hint. Run with a deadline: a fifo must fail, not hang.
    fn plan(&self) -> String {
        let root = self.project();
        let outcome = windlass_testkit::within(Duration::from_secs(30), "planning", move || {
            let pyproject = match PyProject::read(&root) {
                Ok(p) => p,
                Err(e) => return describe(&e, e.hint().map(str::to_owned)),
            };
            match plan(&root, &pyproject) {
                Ok(Ok(plan)) => {
                    let mut files: Vec<String> = plan
                        .wheel_files
                        .iter()
                        .map(|e| format!("wheel:{}", e.path))
                        .chain(plan.sdist_files.iter().map(|e| format!("sdist:{}", e.path)))
                        .collect();
                    files.sort();
                    format!("ok: {}", files.join(" "))
                }
                Ok(Err(unsupported)) => format!("unsupported: {unsupported}"),
                Err(e) => describe(&e, e.hint()),
            }
        });
        outcome.replace(&self.tmp.path().display().to_string(), "[TMP]")
    }
}

fn describe(error: &dyn std::error::Error, hint: Option<String>) -> String {
    let mut text = format!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, "; caused by: {cause}");
        source = cause.source();
    }
    if let Some(hint) = hint {
        let _ = write!(text, "; hint: {hint}");
    }
    text
}

type Setup = fn(&Scene);

#[test]
fn links_leaving_the_project_and_special_files_are_refused() {
    let cases: &[(&str, &str, Setup)] = &[
        ("plain project", HATCH, |_| {}),
        ("a link inside the project is followed", HATCH, |s| {
            std::fs::write(s.project().join("demo/real.py"), "X = 1\n").unwrap();
            symlink("real.py", s.project().join("demo/alias.py")).unwrap();
        }),
        ("a link to ~/.pypirc in the package", HATCH, |s| {
            symlink(s.home().join(".pypirc"), s.project().join("demo/pypirc.py")).unwrap();
        }),
        ("a link to ~/.pypirc at the root (sdist only)", HATCH, |s| {
            symlink(s.home().join(".pypirc"), s.project().join("notes.txt")).unwrap();
        }),
        ("a relative link leaving through ..", FLIT, |s| {
            symlink("../../home/.pypirc", s.project().join("demo/rc.py")).unwrap();
        }),
        ("a chain of links ending outside", HATCH, |s| {
            symlink("hop2", s.project().join("demo/hop1.py")).unwrap();
            symlink("../../home/.pypirc", s.project().join("demo/hop2")).unwrap();
        }),
        ("a linked directory outside", HATCH, |s| {
            symlink(s.home().join(".config"), s.project().join("demo/conf")).unwrap();
        }),
        ("the package itself links outside", FLIT, |s| {
            std::fs::remove_dir_all(s.project().join("demo")).unwrap();
            std::fs::create_dir_all(s.home().join("pkg")).unwrap();
            std::fs::write(s.home().join("pkg/__init__.py"), "").unwrap();
            symlink(s.home().join("pkg"), s.project().join("demo")).unwrap();
        }),
        ("the readme links outside", HATCH, |s| {
            std::fs::remove_file(s.project().join("README.md")).unwrap();
            symlink(s.home().join(".pypirc"), s.project().join("README.md")).unwrap();
        }),
        ("the readme is outside through ..", HATCH, |s| {
            let text = HATCH.replace("\"README.md\"", "\"../home/.config/secret.md\"");
            std::fs::write(s.home().join(".config/secret.md"), "# secret\n").unwrap();
            std::fs::write(s.project().join("pyproject.toml"), text).unwrap();
        }),
        ("the .gitignore links outside", HATCH, |s| {
            symlink(s.home().join(".pypirc"), s.project().join(".gitignore")).unwrap();
        }),
        ("a fifo in the package", HATCH, |s| {
            windlass_testkit::mkfifo(&s.project().join("demo/pipe.py"));
        }),
        ("a fifo at the root, which flit does not ship", FLIT, |s| {
            windlass_testkit::mkfifo(&s.project().join("pipe"));
        }),
        (
            "a fifo at the root, which hatchling ships in the sdist",
            HATCH,
            |s| {
                windlass_testkit::mkfifo(&s.project().join("pipe"));
            },
        ),
        ("a socket in the package", FLIT, |s| {
            let socket = windlass_testkit::bind_socket(&s.project().join("demo/sock"));
            std::mem::forget(socket);
        }),
        ("a link to /dev/zero in the package", HATCH, |s| {
            symlink("/dev/zero", s.project().join("demo/zero.bin")).unwrap();
        }),
        ("the readme is a fifo", HATCH, |s| {
            std::fs::remove_file(s.project().join("README.md")).unwrap();
            windlass_testkit::mkfifo(&s.project().join("README.md"));
        }),
        ("the readme is too large", HATCH, |s| {
            let limit = usize::try_from(windlass_dist::plan::README_LIMIT).unwrap();
            std::fs::write(s.project().join("README.md"), "x".repeat(limit + 1)).unwrap();
        }),
        ("pyproject.toml is a fifo", HATCH, |s| {
            std::fs::remove_file(s.project().join("pyproject.toml")).unwrap();
            windlass_testkit::mkfifo(&s.project().join("pyproject.toml"));
        }),
        ("pyproject.toml is /dev/zero", HATCH, |s| {
            std::fs::remove_file(s.project().join("pyproject.toml")).unwrap();
            symlink("/dev/zero", s.project().join("pyproject.toml")).unwrap();
        }),
    ];
    let mut table = String::new();
    for (label, pyproject, setup) in cases {
        let scene = Scene::new(pyproject);
        setup(&scene);
        let _ = writeln!(table, "=== {label}\n{}\n", scene.plan());
    }
    insta::assert_snapshot!(table);
}

/// The whole build: a fifo among the files fails fast with nothing written,
/// where it used to block the archive writer forever.
#[test]
fn a_build_with_a_fifo_fails_and_writes_nothing() {
    let scene = Scene::new(HATCH);
    windlass_testkit::mkfifo(&scene.project().join("demo/pipe.py"));
    let out = scene.tmp.path().join("out");
    let request = BuildRequest {
        project_dir: scene.project(),
        out_dir: out.clone(),
        wheel: true,
        sdist: true,
        backend: BackendChoice::Native,
        timestamp: windlass_dist::archive::Timestamp::DEFAULT,
        pep517: windlass_dist::pep517::Pep517Options::from_env(windlass_testkit::var_os),
    };
    let result = windlass_testkit::within(Duration::from_secs(30), "building", move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(build(&request)).map(|_| ())
    });
    let error = result.unwrap_err();
    assert!(error.is_usage(), "{error}");
    assert!(error.to_string().contains("demo/pipe.py"), "{error}");
    let left: Vec<_> = std::fs::read_dir(&out)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left {left:?}");
}

/// The archive writer refuses a special file even when handed one directly.
#[test]
fn the_archive_writer_refuses_special_files() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("pipe");
    windlass_testkit::mkfifo(&fifo);
    let out = tmp.path().join("out.whl");
    let result = windlass_testkit::within(Duration::from_secs(30), "archiving", move || {
        let file = std::fs::File::create(&out).unwrap();
        let mut zip = windlass_dist::archive::ZipWriter::new(
            file,
            windlass_dist::archive::Timestamp::DEFAULT,
        );
        zip.add_all(&[windlass_dist::archive::Entry::disk("pipe", &fifo)])
            .map_err(|e| e.to_string())
    });
    let error = result.unwrap_err();
    assert!(error.contains("is a fifo, not a regular file"), "{error}");
}
