//! Cached PEP 517 build environments are keyed by their shape and verified
//! before reuse: a tampered environment is made again, never used.
//!
//! Real builds with `python3` (or `WINDLASS_PYTHON`) and an in-tree backend
//! without requirements, so no index is needed.

#![allow(clippy::unwrap_used, reason = "test code")]

use std::path::{Path, PathBuf};

use windlass_dist::pep517::{Pep517Options, Targets, build};

/// An in-tree backend whose wheel is a zip with one file.
const BACKEND: &str = r#"
import os, zipfile

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "tiny-1.0-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        z.writestr("tiny/__init__.py", "")
    return name
"#;

fn project(root: &Path, backend_path: &str) -> PathBuf {
    let dir = root.join(format!("project-{backend_path}"));
    std::fs::create_dir_all(dir.join(backend_path)).unwrap();
    std::fs::write(
        dir.join("pyproject.toml"),
        format!(
            "[build-system]\nrequires = []\nbuild-backend = \"tiny_backend\"\nbackend-path = [\"{backend_path}\"]\n\n[project]\nname = \"tiny\"\nversion = \"1.0\"\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join(backend_path).join("tiny_backend.py"), BACKEND).unwrap();
    dir
}

/// The cached environments, by directory name.
fn envs(cache: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(cache.join("pep517-envs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().contains('-'))
        .collect();
    found.sort();
    found
}

fn site_packages(env: &Path) -> PathBuf {
    std::fs::read_dir(env.join("lib"))
        .unwrap()
        .map(|e| e.unwrap().path().join("site-packages"))
        .find(|p| p.is_dir())
        .unwrap()
}

/// Every path in an environment, relative, sorted.
fn envs_listing(env: &Path) -> Vec<String> {
    let mut paths: Vec<String> = walkdir::WalkDir::new(env)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            e.unwrap()
                .path()
                .strip_prefix(env)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    paths.sort();
    paths
}

/// The paths a record lists (files made in a temporary directory hold its
/// name, so their contents differ from one making to the next).
fn recorded_paths(env: &Path) -> Vec<String> {
    std::fs::read_to_string(env.join(".windlass-record"))
        .unwrap()
        .lines()
        .map(|line| line.split('\t').next().unwrap().to_owned())
        .collect()
}

async fn build_wheel(project: &Path, out: &Path, opts: &Pep517Options) -> Vec<PathBuf> {
    std::fs::create_dir_all(out).unwrap();
    build(
        project,
        out,
        Targets {
            wheel: true,
            sdist: false,
        },
        opts,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn tampered_environments_are_made_again() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = Pep517Options {
        cache_dir: tmp.path().join("cache"),
        wheel_from_sdist: false,
        use_uv: false,
        ..Pep517Options::from_env(windlass_testkit::var_os)
    };
    let project = project(tmp.path(), "_build");
    let out = tmp.path().join("out");
    let marker = tmp.path().join("pth-ran");

    // Made once, then reused as it is.
    build_wheel(&project, &out, &opts).await;
    let [env] = envs(&opts.cache_dir).try_into().unwrap();
    let paths_before = envs_listing(&env);
    let inode =
        |path: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap());
    let made = inode(&env.join("pyvenv.cfg"));
    build_wheel(&project, &out, &opts).await;
    assert_eq!(envs(&opts.cache_dir), std::slice::from_ref(&env));
    assert_eq!(
        inode(&env.join("pyvenv.cfg")),
        made,
        "an intact environment was made again"
    );
    assert_eq!(
        envs_listing(&env),
        paths_before,
        "reusing changed the environment"
    );

    // A `.pth` file dropped into site-packages runs its `import` line at
    // every start of the environment's Python: the environment is made
    // again instead, and the file is gone.
    let pth = site_packages(&env).join("zz-evil.pth");
    std::fs::write(
        &pth,
        format!(
            "import pathlib; pathlib.Path({:?}).touch()\n",
            marker.display().to_string()
        ),
    )
    .unwrap();
    build_wheel(&project, &out, &opts).await;
    assert!(!marker.exists(), "the tampered environment was used");
    assert!(!pth.exists(), "the tampered file is still there");
    assert_eq!(envs(&opts.cache_dir), std::slice::from_ref(&env));
    assert_eq!(envs_listing(&env), paths_before);
    // The record lists the whole tree, as made.
    let recorded = recorded_paths(&env);
    assert!(
        recorded.iter().any(|p| p == "\"pyvenv.cfg\""),
        "{recorded:?}"
    );
    assert_eq!(recorded.len() + 1, paths_before.len(), "{recorded:?}");

    // A changed file (the environment told to see the system's packages).
    let cfg = env.join("pyvenv.cfg");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace(
            "include-system-site-packages = false",
            "include-system-site-packages = true",
        ),
    )
    .unwrap();
    assert_ne!(std::fs::read_to_string(&cfg).unwrap(), text);
    build_wheel(&project, &out, &opts).await;
    assert!(
        std::fs::read_to_string(&cfg)
            .unwrap()
            .contains("include-system-site-packages = false")
    );

    // An environment without its record (half made) is made again too.
    std::fs::remove_file(env.join(".windlass-record")).unwrap();
    std::fs::write(site_packages(&env).join("leftover.py"), "").unwrap();
    build_wheel(&project, &out, &opts).await;
    assert!(!site_packages(&env).join("leftover.py").exists());

    // Another backend-path is another environment.
    let other = self::project(tmp.path(), "backend");
    build_wheel(&other, &out, &opts).await;
    assert_eq!(envs(&opts.cache_dir).len(), 2);
}

/// An in-tree backend that asks `get_requires_for_build_*` for `ASKED`.
fn asking_project(root: &Path, name: &str, asked: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("_build")).unwrap();
    std::fs::write(
        dir.join("pyproject.toml"),
        "[build-system]\nrequires = [\"setuptools>=40.8.0\"]\nbuild-backend = \"asking_backend\"\nbackend-path = [\"_build\"]\n\n[project]\nname = \"tiny\"\nversion = \"1.0\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("_build/asking_backend.py"),
        format!(
            "{BACKEND}\ndef get_requires_for_build_wheel(config_settings=None):\n    return [{asked:?}]\n"
        ),
    )
    .unwrap();
    dir
}

/// Names in an environment's site-packages, lowercased.
fn installed(env: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(site_packages(env))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_lowercase())
        .collect();
    names.sort();
    names
}

/// An environment holds what the build requires and nothing seeded (no
/// pip, no setuptools of the interpreter's own); what
/// `get_requires_for_build_wheel` asks for is installed only when the
/// environment lacks it. Installs from the package index.
#[tokio::test]
async fn one_unseeded_environment_serves_requirements_already_met() {
    // The pip path: uv is taken from PATH only, where a developer may not
    // have it.
    {
        let tmp = tempfile::tempdir().unwrap();
        let opts = Pep517Options {
            cache_dir: tmp.path().join("cache"),
            wheel_from_sdist: false,
            use_uv: false,
            ..Pep517Options::from_env(windlass_testkit::var_os)
        };
        let out = tmp.path().join("out");
        // Asks for what `setuptools>=40.8.0` already installed.
        let met = asking_project(tmp.path(), "met", "setuptools>=40");
        build_wheel(&met, &out, &opts).await;
        let [env] = envs(&opts.cache_dir).try_into().unwrap();
        let names = installed(&env);
        assert!(
            names.iter().any(|n| n.starts_with("setuptools-")),
            "{names:?}"
        );
        assert!(
            !names.iter().any(|n| n == "pip" || n.starts_with("pip-")),
            "pip was seeded: {names:?}"
        );
        // A version the interpreter bundles would be older than the one
        // the installer picks today: at least 70 (2024).
        let version = names
            .iter()
            .find_map(|n| n.strip_prefix("setuptools-"))
            .and_then(|v| v.split('.').next())
            .and_then(|major| major.parse::<u32>().ok())
            .unwrap();
        assert!(version >= 70, "setuptools {version}");

        // Asks for what is not there: one more environment, with it.
        let unmet = asking_project(tmp.path(), "unmet", "six");
        build_wheel(&unmet, &out, &opts).await;
        let all = envs(&opts.cache_dir);
        assert_eq!(all.len(), 2, "{all:?}");
        let with_six = all.iter().find(|e| **e != env).unwrap();
        assert!(installed(with_six).iter().any(|n| n == "six.py"));
    }
}

/// An interpreter without pip (or with one older than 22.3) fills
/// environments with the pip it bundles, from an installer environment
/// made once and cached. Installs from the package index.
#[tokio::test]
async fn an_interpreter_without_pip_uses_a_cached_installer() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = tmp.path().join("bare");
    let python = windlass_testkit::var_os("WINDLASS_PYTHON").unwrap_or_else(|| "python3".into());
    windlass_process::Cmd::new(&python, tmp.path())
        .args(["-m", "venv", "--without-pip"])
        .arg(&bare)
        .run_checked()
        .await
        .unwrap();
    let opts = Pep517Options {
        python: bare.join("bin/python").into_os_string(),
        cache_dir: tmp.path().join("cache"),
        wheel_from_sdist: false,
        use_uv: false,
    };
    let out = tmp.path().join("out");
    let project = asking_project(tmp.path(), "met", "setuptools>=40");
    build_wheel(&project, &out, &opts).await;
    build_wheel(&project, &out, &opts).await;
    let installers: Vec<PathBuf> = std::fs::read_dir(opts.cache_dir.join("pep517-installers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("bin/python").exists())
        .collect();
    assert_eq!(installers.len(), 1, "{installers:?}");
    let [env] = envs(&opts.cache_dir).try_into().unwrap();
    let names = installed(&env);
    assert!(
        !names.iter().any(|n| n == "pip"),
        "pip was seeded: {names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("setuptools-")));
}
