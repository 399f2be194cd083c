//! `windlass-wheel publish --repository file:///DIR/simple/`: the static
//! PEP 503 index directory, installed from by pip and uv, re-run, refused
//! conflicts, concurrent publishers and what the index refuses to touch.

// The test code panics on purpose: a failing step is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use windlass_testkit::cli::{Cli, Run};

use crate::support::wheel;

/// The example project's wheel and sdist, built once for every test here.
fn example_dists() -> &'static [PathBuf] {
    static BUILT: OnceLock<(tempfile::TempDir, Vec<PathBuf>)> = OnceLock::new();
    let (_, files) = BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ml-project");
        let built = wheel(dir.path())
            .args(["build", project.to_str().unwrap(), "--out", "dist"])
            .args(["--backend", "native"])
            .run();
        assert_eq!(built.code, 0, "{}", built.stderr);
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path().join("dist"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(files.len(), 2, "{files:?}");
        (dir, files)
    });
    files
}

/// A tiny project `name` with `body` as its module, built into `dir/dist`
/// (a different body gives files of the same names and other hashes).
fn tiny_dists(dir: &Path, name: &str, body: &str) -> Vec<PathBuf> {
    tiny_dists_with(dir, name, body, true)
}

/// [`tiny_dists`], with or without a readme (without, `wheel check` finds
/// problems).
fn tiny_dists_with(dir: &Path, name: &str, body: &str, readme: bool) -> Vec<PathBuf> {
    let module = name.replace('-', "_");
    let project = dir.join("src-project");
    std::fs::create_dir_all(project.join(&module)).unwrap();
    std::fs::write(
        project.join("pyproject.toml"),
        format!(
            "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n[project]\nname = \"{name}\"\nversion = \"1.0\"\n{}requires-python = \">=3.8,<4\"\n",
            if readme { "readme = \"README.md\"\n" } else { "" }
        ),
    )
    .unwrap();
    std::fs::write(project.join("README.md"), "# tiny\n").unwrap();
    std::fs::write(project.join(&module).join("__init__.py"), body).unwrap();
    let built = wheel(dir)
        .args([
            "build",
            "src-project",
            "--out",
            "dist",
            "--backend",
            "native",
        ])
        .run();
    assert_eq!(built.code, 0, "{}", built.stderr);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// `windlass-wheel publish --repository URL FILES...` with a clean
/// environment, home in `home`.
fn publisher(home: &Path, url: &str, files: &[PathBuf]) -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_windlass-wheel"), home)
        .env("HOME", home)
        .env("WINDLASS_CACHE_DIR", home.join("cache"))
        .args(["publish", "--repository", url])
        .args(files)
        .timeout(Duration::from_secs(120))
}

fn publish(home: &Path, url: &str, files: &[PathBuf], extra: &[&str]) -> Run {
    publisher(home, url, files).args(extra).run()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `file:///.../simple/` for a directory.
fn file_url(root: &Path) -> String {
    format!("file://{}/", root.display())
}

/// Every entry under `dir`: its kind and, for files, its bytes and mtime.
fn tree(dir: &Path) -> BTreeMap<PathBuf, (String, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(dir).unwrap().to_owned();
            if meta.is_dir() {
                out.insert(rel, ("dir".to_owned(), Vec::new()));
                stack.push(path);
            } else if meta.is_file() {
                let mtime = format!("file {:?}", meta.modified().unwrap());
                out.insert(rel, (mtime, std::fs::read(&path).unwrap()));
            } else {
                out.insert(rel, (format!("{:?}", meta.file_type()), Vec::new()));
            }
        }
    }
    out
}

fn names(tree: &BTreeMap<PathBuf, (String, Vec<u8>)>) -> Vec<String> {
    tree.keys().map(|p| p.display().to_string()).collect()
}

/// pip installs `sentiment-lab` from the index into a fresh virtual
/// environment and downloads its sdist (`sdist`, byte for byte); uv
/// installs it too.
fn pip_and_uv_install_from(dir: &Path, url: &str, sdist: &Path) {
    let tools = windlass_testkit::Services::load().tools();
    // pip, in a fresh virtual environment, from the directory alone.
    let venv = dir.join("venv");
    let made = Cli::new(&tools.python, dir)
        .args(["-m", "venv"])
        .arg(&venv)
        .timeout(Duration::from_secs(120))
        .run();
    assert_eq!(made.code, 0, "{}", made.stderr);
    let installed = Cli::new(venv.join("bin/python"), dir)
        .args(["-m", "pip", "install", "--no-cache-dir", "--index-url", url])
        .arg("sentiment-lab")
        .timeout(Duration::from_secs(120))
        .run();
    assert_eq!(installed.code, 0, "{}", installed.stderr);
    let imported = Cli::new(venv.join("bin/python"), dir)
        .args(["-c", "import sentiment_lab.training.job"])
        .run();
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    let downloaded = Cli::new(&tools.python, dir)
        .args(["-m", "pip", "download", "--no-cache-dir", "--no-deps"])
        .args(["--no-binary", ":all:", "--no-build-isolation"])
        .args(["--index-url", url, "--dest", "downloaded", "sentiment-lab"])
        .timeout(Duration::from_secs(120))
        .run();
    assert_eq!(downloaded.code, 0, "{}", downloaded.stderr);
    assert_eq!(
        std::fs::read(dir.join("downloaded/sentiment_lab-0.4.0.tar.gz")).unwrap(),
        std::fs::read(sdist).unwrap()
    );

    // uv, which reads the same pages.
    let uv_env = dir.join("uv-env");
    let made = Cli::new(&tools.uv, dir)
        .args(["venv", "--quiet"])
        .arg(&uv_env)
        .run();
    assert_eq!(made.code, 0, "{}", made.stderr);
    let installed = Cli::new(&tools.uv, dir)
        .args(["pip", "install", "--no-cache", "--python"])
        .arg(uv_env.join("bin/python"))
        .args(["--index-url", url, "sentiment-lab"])
        .timeout(Duration::from_secs(120))
        .run();
    assert_eq!(installed.code, 0, "{}", installed.stderr);
}

/// The example's wheel and sdist published into a fresh directory: the
/// layout and pages PEP 503/658/714 describe; pip installs the wheel and
/// downloads the sdist, uv installs from it; a re-run skips both files
/// and changes nothing (bytes and mtimes).
#[test]
fn the_example_publishes_into_a_directory_pip_and_uv_install_from() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("index");
    std::fs::create_dir(&base).unwrap();
    let root = base.join("simple");
    let url = file_url(&root);
    let dists = example_dists();

    let planned = publish(tmp.path(), &url, dists, &["--dry-run"]);
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    assert!(
        !root.exists(),
        "a dry run wrote something: {:?}",
        tree(&base)
    );

    let first = publish(tmp.path(), &url, dists, &["--json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let json = first.json();
    assert_eq!(json["data"]["uploaded"], 2, "{json}");
    assert_eq!(json["data"]["upload_url"], url.as_str(), "{json}");
    assert_eq!(json["data"]["credentials"], "none (local index)", "{json}");

    let layout = tree(&base);
    assert_eq!(
        names(&layout),
        [
            ".windlass-index.lock",
            "simple",
            "simple/index.html",
            "simple/sentiment-lab",
            "simple/sentiment-lab/index.html",
            "simple/sentiment-lab/sentiment_lab-0.4.0-py3-none-any.whl",
            "simple/sentiment-lab/sentiment_lab-0.4.0-py3-none-any.whl.metadata",
            "simple/sentiment-lab/sentiment_lab-0.4.0.tar.gz",
        ]
    );
    let page = std::fs::read_to_string(root.join("sentiment-lab/index.html")).unwrap();
    let wheel_sha = sha256_hex(&std::fs::read(&dists[0]).unwrap());
    let metadata =
        std::fs::read(root.join("sentiment-lab/sentiment_lab-0.4.0-py3-none-any.whl.metadata"))
            .unwrap();
    let metadata_sha = sha256_hex(&metadata);
    assert!(String::from_utf8_lossy(&metadata).contains("Name: sentiment-lab"));
    assert!(
        page.contains(&format!(
            "<a href=\"sentiment_lab-0.4.0-py3-none-any.whl#sha256={wheel_sha}\" data-requires-python=\"&gt;=3.9\" data-dist-info-metadata=\"sha256={metadata_sha}\" data-core-metadata=\"sha256={metadata_sha}\">"
        )),
        "{page}"
    );
    assert!(
        page.contains("<meta name=\"pypi:repository-version\" content=\"1.0\">"),
        "{page}"
    );
    let index = std::fs::read_to_string(root.join("index.html")).unwrap();
    assert!(
        index.contains("<a href=\"sentiment-lab/\">sentiment-lab</a>"),
        "{index}"
    );

    pip_and_uv_install_from(tmp.path(), &url, &dists[1]);

    // Again: both skipped, nothing rewritten.
    let again = publish(tmp.path(), &url, dists, &["--json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json()["data"]["skipped"], 2, "{}", again.stdout);
    assert!(
        again.stderr.contains("already on the index"),
        "{}",
        again.stderr
    );
    assert!(tree(&base) == layout, "a re-run changed the index");
    let planned = publish(tmp.path(), &url, dists, &["--dry-run", "--json"]);
    assert_eq!(planned.json()["data"]["files"][0]["status"], "would-skip");
}

/// A different file under a name the index has is refused like a
/// server's "file exists" (exit 1, both hashes), and nothing of the run
/// is written, not even its other, new file.
#[test]
fn a_conflicting_file_is_refused_with_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("simple");
    let url = file_url(&root);
    let first = tiny_dists(&tmp.path().join("a"), "wl-local-conflict", "");
    let published = publish(tmp.path(), &url, &first[..1], &[]);
    assert_eq!(published.code, 0, "{}", published.stderr);
    let before = tree(tmp.path().join("simple").as_path());

    let second = tiny_dists(&tmp.path().join("b"), "wl-local-conflict", "x = 1\n");
    let refused = publish(tmp.path(), &url, &second, &["--json"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let json = refused.json();
    let files = &json["data"]["files"];
    assert_eq!(files[0]["status"], "conflict", "{json}");
    assert_eq!(files[1]["status"], "not-started", "{json}");
    let message = files[0]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("the index already has a different"),
        "{message}"
    );
    assert!(tree(&root) == before, "the refused run changed the index");
}

/// Two publishers at once (one a `[wheel.repositories]` name, one the URL)
/// never interleave: every file lands and the pages list them all.
#[test]
fn concurrent_publishes_both_land() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("simple");
    let url = file_url(&root);
    let one = tiny_dists(&tmp.path().join("one"), "wl-local-one", "");
    let two = tiny_dists(&tmp.path().join("two"), "wl-local-two", "");
    std::fs::write(
        tmp.path().join("windlass.toml"),
        format!("[wheel.repositories.local]\nurl = \"{url}\"\n"),
    )
    .unwrap();
    let runs = [
        publisher(tmp.path(), "local", &one[..1]).spawn(),
        publisher(tmp.path(), &url, &one[1..]).spawn(),
        publisher(tmp.path(), &url, &two).spawn(),
    ];
    for run in runs {
        let run = run.wait();
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let index = std::fs::read_to_string(root.join("index.html")).unwrap();
    assert!(index.contains("href=\"wl-local-one/\""), "{index}");
    assert!(index.contains("href=\"wl-local-two/\""), "{index}");
    let page = std::fs::read_to_string(root.join("wl-local-one/index.html")).unwrap();
    for file in &one {
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(page.contains(&format!("href=\"{name}#sha256=")), "{page}");
        assert!(root.join("wl-local-one").join(name).is_file());
    }
    assert!(
        page.contains("data-requires-python=\"&gt;=3.8,&lt;4\""),
        "{page}"
    );
    let leftovers: Vec<String> = names(&tree(&root))
        .into_iter()
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A symlinked project directory, a missing parent and credentials are
/// refused with exit 2 before anything is written; a secret given as a
/// credential never shows.
#[test]
fn what_a_local_index_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let dists = tiny_dists(&tmp.path().join("a"), "wl-local-refused", "");
    let root = tmp.path().join("simple");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("wl-local-refused")).unwrap();
    let url = file_url(&root);
    let linked = publish(tmp.path(), &url, &dists, &[]);
    assert_eq!(linked.code, 2, "{}", linked.stderr);
    assert!(
        linked
            .stderr
            .contains("is a symbolic link, not a directory"),
        "{}",
        linked.stderr
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert!(!root.join("index.html").exists());

    let missing = file_url(&tmp.path().join("missing/simple"));
    let orphan = publish(tmp.path(), &missing, &dists, &[]);
    assert_eq!(orphan.code, 2, "{}", orphan.stderr);
    assert!(
        orphan
            .stderr
            .contains("its parent directory does not exist"),
        "{}",
        orphan.stderr
    );

    // The checks of `wheel check` run first: a file with problems stops
    // the run before anything is written.
    let unchecked = tiny_dists_with(&tmp.path().join("b"), "wl-local-unchecked", "", false);
    let fresh_root = tmp.path().join("simple-checked");
    let checked = publish(tmp.path(), &file_url(&fresh_root), &unchecked, &[]);
    assert_eq!(checked.code, 1, "{}", checked.stderr);
    assert!(
        checked.stderr.contains("so nothing was published"),
        "{}",
        checked.stderr
    );
    assert!(!fresh_root.exists());

    let canary = windlass_testkit::canary("local-index-token");
    let fresh = file_url(&tmp.path().join("simple-2"));
    let credentials = publisher(tmp.path(), &fresh, &dists)
        .args(["--token", "env://LOCAL_TOKEN"])
        .env("LOCAL_TOKEN", &canary)
        .run();
    assert_eq!(credentials.code, 2, "{}", credentials.stderr);
    assert!(
        credentials
            .stderr
            .contains("a local index takes no credentials, but --token was given"),
        "{}",
        credentials.stderr
    );
    credentials.assert_no_leak(&canary);
    assert!(!tmp.path().join("simple-2").exists());
}

/// A publisher finding the index locked says it waits, writes nothing
/// until the lock is released, then publishes.
#[test]
fn a_held_lock_is_waited_for() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("index");
    std::fs::create_dir(&base).unwrap();
    let root = base.join("simple");
    let url = file_url(&root);
    let dists = tiny_dists(&tmp.path().join("a"), "wl-local-locked", "");
    let lock = std::fs::File::create(base.join(".windlass-index.lock")).unwrap();
    lock.lock().unwrap();
    let running = publisher(tmp.path(), &url, &dists).spawn();
    let waiting = format!("     Waiting for another publisher of {url} to finish");
    assert!(
        running.wait_for_stderr_line(&waiting, Duration::from_secs(60)),
        "no waiting line"
    );
    assert!(!root.exists(), "written while the lock was held");
    lock.unlock().unwrap();
    let run = running.wait();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(root.join("wl-local-locked/index.html").is_file());
}
