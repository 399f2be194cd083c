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
        ..Pep517Options::default()
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
