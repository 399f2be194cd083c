//! Fetching wheels for the image's Python with the host's pip:
//! `pip download --only-binary=:all: --platform TAG... --python-version X.Y
//! --implementation cp --abi cpXY -d CACHE ...`, run through
//! `windlass-process`.
//!
//! The index is pip's own configuration (`PIP_INDEX_URL`, `pip.conf`) unless
//! the request names one; a private index's credentials go to pip inside
//! `PIP_INDEX_URL` in its environment, never in argv, registered with the
//! redactor so that neither pip's output nor our errors show them. pip never
//! prompts (`PIP_NO_INPUT`). `--hash=sha256:` pins of requirement files are
//! checked again here on every file pip hands over.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use windlass_dist::name::{WheelFilename, normalize};
use windlass_process::{Cmd, Sink};
use windlass_redact::Secret;

use super::PythonError;
use super::lock::{LockedSource, read_lock};
use super::target::PythonTarget;

/// The longest pip may take.
const PIP_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The largest requirements file read.
const REQUIREMENTS_LIMIT: u64 = 4 << 20;
/// How deep `-r` may nest.
const MAX_NESTING: usize = 8;

/// What to fetch, and from where.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub requirements: Requirements,
    /// The index (`--index-url`), else pip's configuration decides.
    pub index: Option<Index>,
    /// Extra indexes (`--extra-index-url`), without credentials.
    pub extra_index_urls: Vec<String>,
    /// The host Python that runs pip (`WINDLASS_PYTHON`, else `python3`).
    pub python: OsString,
    /// Windlass's cache directory: wheels are kept in `image-wheels/`,
    /// pip's HTTP cache in `image-pip/`.
    pub cache_dir: PathBuf,
}

impl FetchRequest {
    /// A request for `requirements` from pip's configured index, with the
    /// host Python (`WINDLASS_PYTHON`, else `python3`) and Windlass's cache
    /// directory (`WINDLASS_CACHE_DIR`, else `XDG_CACHE_HOME/windlass`, else
    /// `~/.cache/windlass`), each looked up with `var`.
    pub fn from_env(requirements: Requirements, var: impl Fn(&str) -> Option<OsString>) -> Self {
        Self {
            requirements,
            index: None,
            extra_index_urls: Vec::new(),
            python: var("WINDLASS_PYTHON").unwrap_or_else(|| "python3".into()),
            cache_dir: windlass_dist::pep517::default_cache_dir(var),
        }
    }
}

/// Requirement files (`-r`), pins (`name==1.0`), local wheel files and a
/// `pylock.toml`, all of them asked for directly.
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    pub files: Vec<PathBuf>,
    pub pins: Vec<String>,
    pub wheels: Vec<PathBuf>,
    /// A PEP 751 lock: exactly its wheels, no resolution.
    pub lock: Option<PathBuf>,
}

impl Requirements {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
            && self.pins.is_empty()
            && self.wheels.is_empty()
            && self.lock.is_none()
    }
}

/// A package index and its credentials.
#[derive(Debug, Clone)]
pub struct Index {
    /// `https://host/simple/`, without userinfo.
    pub url: String,
    pub credentials: Option<IndexCredentials>,
}

/// A user name and password (or token) for an index.
#[derive(Debug, Clone)]
pub struct IndexCredentials {
    pub username: String,
    pub password: Secret<String>,
}

/// A wheel pip handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedWheel {
    pub path: PathBuf,
    /// The normalised project name.
    pub name: String,
    pub version: String,
    /// Asked for directly (a requirement line, a pin or a local wheel).
    pub requested: bool,
}

/// Downloads the wheels of `request` (and their dependencies) for `target`.
pub async fn fetch(
    request: &FetchRequest,
    target: &PythonTarget,
) -> Result<Vec<FetchedWheel>, PythonError> {
    let wheels_dir = request.cache_dir.join("image-wheels");
    let pip_cache = request.cache_dir.join("image-pip");
    for dir in [&wheels_dir, &pip_cache] {
        std::fs::create_dir_all(dir).map_err(PythonError::io("create", dir))?;
    }
    let target_text = format!(
        "CPython {} on {}",
        target.python_version(),
        target.platforms.first().map_or("any", String::as_str)
    );
    let requirements = &request.requirements;
    let mut fetched = Vec::new();
    if let Some(lock) = &requirements.lock {
        fetched.extend(
            fetch_locked(request, target, lock, &wheels_dir, &pip_cache, &target_text).await?,
        );
    }
    if !(requirements.files.is_empty()
        && requirements.pins.is_empty()
        && requirements.wheels.is_empty())
    {
        let mut pinned = Pins::default();
        let mut direct: BTreeSet<String> = BTreeSet::new();
        for file in &requirements.files {
            read_requirements(file, 0, &mut pinned, &mut direct)?;
        }
        for pin in &requirements.pins {
            if let Some(name) = requirement_name(pin) {
                direct.insert(name);
            }
        }
        for wheel in &requirements.wheels {
            let name = wheel
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| WheelFilename::parse(n).ok())
                .ok_or_else(|| PythonError::bad(wheel, "not a wheel file name"))?;
            direct.insert(normalize(&name.name));
        }
        // Every requirement pinned with hashes: pip can only hand over
        // those files, so what it chose for this target before is reused
        // when every file is still there with its hash, without running it.
        let memo = (requirements.pins.is_empty()
            && requirements.wheels.is_empty()
            && !pinned.hashes.is_empty()
            && direct.iter().all(|name| pinned.hashes.contains_key(name)))
        .then(|| memo_path(request, target, &pinned));
        if let Some(memo) = &memo
            && let Some(wheels) = recall(memo, &wheels_dir, &pinned, &direct)
        {
            fetched.extend(wheels);
            fetched.sort_by(|a, b| (&a.name, &a.path).cmp(&(&b.name, &b.path)));
            fetched.dedup_by(|a, b| a.path == b.path);
            return Ok(fetched);
        }
        let mut cmd = pip_command(request, target, &wheels_dir, &pip_cache)?;
        for file in &requirements.files {
            cmd = cmd.arg("--requirement").arg(file);
        }
        cmd = cmd
            .arg("--")
            .args(&requirements.pins)
            .args(&requirements.wheels);
        let stdout = run_pip(cmd, request, &target_text).await?;
        let plain = collect(
            &stdout,
            &wheels_dir,
            &requirements.wheels,
            &pinned,
            &direct,
            &target_text,
        )?;
        if plain.is_empty() {
            return Err(PythonError::Download {
                target: target_text,
                code: 0,
                output: "pip reported no file it saved".into(),
            });
        }
        if let Some(memo) = &memo {
            remember(memo, &plain)?;
        }
        fetched.extend(plain);
    }
    fetched.sort_by(|a, b| (&a.name, &a.path).cmp(&(&b.name, &b.path)));
    fetched.dedup_by(|a, b| a.path == b.path);
    Ok(fetched)
}

/// The wheels of a `pylock.toml`: local ones checked in place, the others
/// downloaded by pip without dependencies (the lock lists them all), every
/// one checked against the lock's sha256.
async fn fetch_locked(
    request: &FetchRequest,
    target: &PythonTarget,
    lock: &Path,
    wheels_dir: &Path,
    pip_cache: &Path,
    target_text: &str,
) -> Result<Vec<FetchedWheel>, PythonError> {
    let mut fetched = Vec::new();
    let mut pins = Pins::default();
    let mut direct = BTreeSet::new();
    let mut lines = String::new();
    for wheel in read_lock(lock, target)? {
        direct.insert(wheel.name.clone());
        match &wheel.source {
            LockedSource::Path(path) => {
                let actual = super::sha256_file(path)?;
                if actual != wheel.sha256 {
                    return Err(PythonError::HashMismatch {
                        file: wheel.file_name,
                        name: wheel.name,
                        requirements: lock.to_owned(),
                        actual,
                    });
                }
                fetched.push(FetchedWheel {
                    path: path.clone(),
                    name: wheel.name,
                    version: wheel.version,
                    requested: true,
                });
            }
            LockedSource::Url(_) if cached_with(wheels_dir, &wheel.file_name, &wheel.sha256) => {
                // Already downloaded, with the locked hash: no pip.
                fetched.push(FetchedWheel {
                    path: wheels_dir.join(&wheel.file_name),
                    name: wheel.name,
                    version: wheel.version,
                    requested: true,
                });
            }
            LockedSource::Url(url) => {
                let line = format!("{} @ {url} --hash=sha256:{}\n", wheel.name, wheel.sha256);
                lines.push_str(&line);
                pins.first_file.get_or_insert_with(|| lock.to_owned());
                pins.hashes
                    .entry(wheel.name.clone())
                    .or_insert_with(|| (lock.to_owned(), BTreeSet::new()))
                    .1
                    .insert(wheel.sha256.clone());
            }
        }
    }
    if lines.is_empty() {
        return Ok(fetched);
    }
    let scratch = tempfile::Builder::new()
        .prefix(".pylock-")
        .tempdir_in(&request.cache_dir)
        .map_err(PythonError::io("create a directory in", &request.cache_dir))?;
    let file = scratch.path().join("requirements.txt");
    std::fs::write(&file, lines).map_err(PythonError::io("write", &file))?;
    let cmd = pip_command(request, target, wheels_dir, pip_cache)?
        .arg("--no-deps")
        .arg("--requirement")
        .arg(&file);
    let stdout = run_pip(cmd, request, target_text).await?;
    fetched.extend(collect(
        &stdout,
        wheels_dir,
        &[],
        &pins,
        &direct,
        target_text,
    )?);
    Ok(fetched)
}

/// Runs pip and turns its failures into errors (its redacted output tail
/// included); returns its stdout.
async fn run_pip(
    cmd: Cmd,
    request: &FetchRequest,
    target_text: &str,
) -> Result<String, PythonError> {
    let outcome = cmd
        .timeout(PIP_TIMEOUT)
        .stdout(Sink::Capture)
        .stderr(Sink::Capture)
        .run()
        .await
        .map_err(|source| PythonError::Pip {
            python: request.python.to_string_lossy().into_owned(),
            source,
        })?;
    let stdout = String::from_utf8_lossy(outcome.stdout().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(outcome.stderr().unwrap_or_default()).into_owned();
    if outcome.success() {
        return Ok(stdout);
    }
    if stderr.contains("DO NOT MATCH THE HASHES") {
        return Err(PythonError::PipHashMismatch {
            output: tail(&windlass_redact::global().redact(&stderr), 20),
        });
    }
    // pip says "no matching distribution" also when the index could not be
    // reached: that is a remote failure, not a missing wheel.
    let unreachable = stderr.contains("Could not fetch URL") || stderr.contains("Retrying (Retry(");
    if let Some(requirement) = no_match(&stderr).filter(|_| !unreachable) {
        return Err(PythonError::NoWheel {
            requirement,
            target: target_text.to_owned(),
        });
    }
    Err(PythonError::Download {
        target: target_text.to_owned(),
        code: outcome.exit_code(),
        output: tail(&windlass_redact::global().redact(&stderr), 20),
    })
}

/// `pip download` for `target`, credentials in its environment only.
fn pip_command(
    request: &FetchRequest,
    target: &PythonTarget,
    wheels_dir: &Path,
    pip_cache: &Path,
) -> Result<Cmd, PythonError> {
    let mut cmd = Cmd::new(&request.python, wheels_dir)
        .args([
            "-m",
            "pip",
            "download",
            "--only-binary=:all:",
            "--progress-bar=off",
        ])
        .arg("--dest")
        .arg(wheels_dir)
        .args(["--python-version", &target.python_version()])
        .args(["--implementation", &target.implementation])
        .args(["--abi", &target.abi]);
    for platform in &target.platforms {
        cmd = cmd.args(["--platform", platform]);
    }
    cmd = cmd
        .env("PIP_CACHE_DIR", pip_cache)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        .env("PYTHONIOENCODING", "utf-8");
    if let Some(index) = &request.index {
        cmd = match &index.credentials {
            Some(credentials) => {
                let url = with_userinfo(&index.url, credentials)?;
                windlass_redact::global().register(credentials.password.expose());
                windlass_redact::global().register(&url);
                cmd.env_secret("PIP_INDEX_URL", Secret::new(url))
            }
            None => cmd.env("PIP_INDEX_URL", &index.url),
        };
    }
    if !request.extra_index_urls.is_empty() {
        cmd = cmd.env("PIP_EXTRA_INDEX_URL", request.extra_index_urls.join(" "));
    }
    Ok(cmd)
}

/// The wheels pip handed over, with their pinned hashes checked.
fn collect(
    stdout: &str,
    wheels_dir: &Path,
    exempt: &[PathBuf],
    pinned: &Pins,
    direct: &BTreeSet<String>,
    target_text: &str,
) -> Result<Vec<FetchedWheel>, PythonError> {
    let mut fetched = Vec::new();
    let mut seen = BTreeSet::new();
    for path in handed_over(stdout, wheels_dir) {
        if !seen.insert(path.clone()) {
            continue;
        }
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let Ok(parsed) = WheelFilename::parse(&file_name) else {
            return Err(PythonError::NoWheel {
                requirement: file_name,
                target: target_text.to_owned(),
            });
        };
        let name = normalize(&parsed.name);
        if !pinned.hashes.is_empty() && !exempt.iter().any(|w| w.file_name() == path.file_name()) {
            let actual = super::sha256_file(&path)?;
            match pinned.hashes.get(&name) {
                Some((file, allowed)) if !allowed.contains(&actual) => {
                    return Err(PythonError::HashMismatch {
                        file: file_name,
                        name,
                        requirements: file.clone(),
                        actual,
                    });
                }
                Some(_) => {}
                None => {
                    return Err(PythonError::HashMissing {
                        name,
                        requirements: pinned.first_file.clone().unwrap_or_default(),
                    });
                }
            }
        }
        fetched.push(FetchedWheel {
            requested: direct.contains(&name),
            path,
            name,
            version: parsed.version,
        });
    }
    Ok(fetched)
}

/// `--hash` pins by normalised name, with the file that pinned them.
#[derive(Debug, Default)]
struct Pins {
    hashes: BTreeMap<String, (PathBuf, BTreeSet<String>)>,
    first_file: Option<PathBuf>,
    /// The text of every requirement file read, in order.
    texts: Vec<String>,
}

fn read_requirements(
    path: &Path,
    depth: usize,
    pins: &mut Pins,
    direct: &mut BTreeSet<String>,
) -> Result<(), PythonError> {
    let text = windlass_fs::read_to_string(path, REQUIREMENTS_LIMIT).map_err(|source| {
        PythonError::Requirements {
            path: path.to_owned(),
            source,
        }
    })?;
    pins.texts.push(text.clone());
    // Join continuation lines, remembering where each logical line began.
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or_default();
        let line = if line.trim_start().starts_with('#') {
            ""
        } else {
            line
        };
        let (start, mut joined) = pending.take().unwrap_or((index + 1, String::new()));
        if let Some(cont) = line.strip_suffix('\\') {
            joined.push_str(cont);
            joined.push(' ');
            pending = Some((start, joined));
        } else {
            joined.push_str(line);
            logical.push((start, joined));
        }
    }
    if let Some(rest) = pending {
        logical.push(rest);
    }
    for (line_no, line) in logical {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        if let Some(nested) = first
            .strip_prefix("-r")
            .or_else(|| first.strip_prefix("--requirement"))
        {
            let nested = nested.trim_start_matches('=');
            let nested = if nested.is_empty() {
                words.next().unwrap_or_default()
            } else {
                nested
            };
            if depth >= MAX_NESTING {
                return Err(PythonError::RequirementLine {
                    path: path.to_owned(),
                    line: line_no,
                    why: format!("`-r` nests deeper than {MAX_NESTING} files"),
                });
            }
            let nested_path = path.parent().unwrap_or(Path::new(".")).join(nested);
            read_requirements(&nested_path, depth + 1, pins, direct)?;
            continue;
        }
        if first.starts_with('-') {
            continue; // an option line (--index-url, -c, ...): pip's
        }
        let Some(name) = requirement_name(line) else {
            return Err(PythonError::RequirementLine {
                path: path.to_owned(),
                line: line_no,
                why: format!("`{first}` does not start with a project name"),
            });
        };
        direct.insert(name.clone());
        for word in line.split_whitespace() {
            if let Some(hash) = word.strip_prefix("--hash=") {
                let Some(hex) = hash.strip_prefix("sha256:") else {
                    return Err(PythonError::RequirementLine {
                        path: path.to_owned(),
                        line: line_no,
                        why: format!("`{hash}`: only sha256 hashes are checked"),
                    });
                };
                pins.first_file.get_or_insert_with(|| path.to_owned());
                pins.hashes
                    .entry(name.clone())
                    .or_insert_with(|| (path.to_owned(), BTreeSet::new()))
                    .1
                    .insert(hex.to_ascii_lowercase());
            }
        }
    }
    Ok(())
}

/// Whether `dir/file_name` is a regular file with the sha256 `hex`.
fn cached_with(dir: &Path, file_name: &str, hex: &str) -> bool {
    let path = dir.join(file_name);
    path.is_file() && super::sha256_file(&path).is_ok_and(|actual| actual == hex)
}

/// Where pip's choice for hash-pinned requirements on `target` is kept:
/// `CACHE/image-resolved/SHA256.json`, named by everything that decides
/// it (the requirement files as written, the target's tags, the index
/// without credentials).
fn memo_path(request: &FetchRequest, target: &PythonTarget, pins: &Pins) -> PathBuf {
    use sha2::Digest as _;
    let mut key = sha2::Sha256::new();
    let mut field = |value: &str| {
        key.update(value.len().to_le_bytes());
        key.update(value.as_bytes());
    };
    field("windlass image-resolved 1");
    field(&target.python_version());
    field(&target.implementation);
    field(&target.abi);
    for platform in &target.platforms {
        field(platform);
    }
    field(request.index.as_ref().map_or("", |i| i.url.as_str()));
    for url in &request.extra_index_urls {
        field(url);
    }
    for text in &pins.texts {
        field(text);
    }
    request
        .cache_dir
        .join("image-resolved")
        .join(format!("{}.json", hex::encode(key.finalize())))
}

/// One wheel of a remembered choice.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Remembered {
    file: String,
    sha256: String,
}

/// The wheels remembered in `memo`, when each is in `wheels_dir` with its
/// hash and that hash is still pinned; `None` sends the caller to pip.
fn recall(
    memo: &Path,
    wheels_dir: &Path,
    pins: &Pins,
    direct: &BTreeSet<String>,
) -> Option<Vec<FetchedWheel>> {
    let text = windlass_fs::read_to_string(memo, REQUIREMENTS_LIMIT).ok()?;
    let remembered: Vec<Remembered> = serde_json::from_str(&text).ok()?;
    let mut wheels = Vec::new();
    for entry in remembered {
        let parsed = WheelFilename::parse(&entry.file).ok()?;
        let name = normalize(&parsed.name);
        let pinned = pins.hashes.get(&name)?;
        if entry.file.contains('/')
            || !pinned.1.contains(&entry.sha256)
            || !cached_with(wheels_dir, &entry.file, &entry.sha256)
        {
            return None;
        }
        wheels.push(FetchedWheel {
            path: wheels_dir.join(&entry.file),
            requested: direct.contains(&name),
            name,
            version: parsed.version,
        });
    }
    (!wheels.is_empty()).then_some(wheels)
}

/// Keeps what pip handed over (already checked against the pins) for
/// [`recall`]; written whole by rename.
fn remember(memo: &Path, wheels: &[FetchedWheel]) -> Result<(), PythonError> {
    let mut entries = Vec::new();
    for wheel in wheels {
        entries.push(Remembered {
            file: wheel
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: super::sha256_file(&wheel.path)?,
        });
    }
    let dir = memo.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(PythonError::io("create", dir))?;
    let bytes = serde_json::to_vec(&entries).unwrap_or_default();
    let mut file =
        tempfile::NamedTempFile::new_in(dir).map_err(PythonError::io("write in", dir))?;
    std::io::Write::write_all(&mut file, &bytes).map_err(PythonError::io("write", memo))?;
    file.persist(memo)
        .map_err(|e| PythonError::io("write", memo)(e.error))?;
    Ok(())
}

/// The normalised project name a requirement line starts with.
fn requirement_name(line: &str) -> Option<String> {
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(line.len());
    let name = &line[..end];
    (!name.is_empty() && name.starts_with(|c: char| c.is_ascii_alphanumeric()))
        .then(|| normalize(name))
}

/// The files pip says it saved or found already downloaded (pip logs them
/// relative to its working directory, `wheels_dir`).
fn handed_over(stdout: &str, wheels_dir: &Path) -> Vec<PathBuf> {
    stdout
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            line.strip_prefix("Saved ")
                .or_else(|| line.strip_prefix("File was already downloaded "))
        })
        .map(|shown| {
            let shown = Path::new(shown.trim());
            let shown = shown.strip_prefix("./").unwrap_or(shown);
            if shown.is_absolute() {
                shown.to_owned()
            } else {
                wheels_dir.join(shown)
            }
        })
        .collect()
}

/// The requirement of pip's "No matching distribution found for X".
fn no_match(stderr: &str) -> Option<String> {
    stderr.lines().find_map(|line| {
        line.split_once("No matching distribution found for ")
            .map(|(_, rest)| rest.trim().to_owned())
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The index URL with `user:password` as its userinfo (any userinfo it
/// had replaced), both percent-encoded by the URL parser.
fn with_userinfo(url: &str, credentials: &IndexCredentials) -> Result<String, PythonError> {
    let bad = |why: &str| PythonError::IndexUrl {
        url: windlass_redact::mask_userinfo(url).into_owned(),
        why: why.to_owned(),
    };
    let mut parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    parsed
        .set_username(&credentials.username)
        .and_then(|()| parsed.set_password(Some(credentials.password.expose())))
        .map_err(|()| bad("it cannot carry credentials"))?;
    Ok(parsed.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_requirement_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("base.txt"),
            "six==1.17.0 \\\n    --hash=sha256:AB\n",
        )
        .unwrap();
        let main = dir.path().join("requirements.txt");
        std::fs::write(
            &main,
            "# comment\n--index-url https://example.invalid/simple/\n-r base.txt\n\
             Certifi[x]>=1 ; python_version >= '3' --hash=sha256:cd --hash=sha256:ef\n",
        )
        .unwrap();
        let mut pins = Pins::default();
        let mut direct = BTreeSet::new();
        read_requirements(&main, 0, &mut pins, &mut direct).unwrap();
        assert_eq!(
            direct,
            BTreeSet::from(["certifi".to_owned(), "six".to_owned()])
        );
        assert_eq!(pins.hashes["six"].1, BTreeSet::from(["ab".to_owned()]));
        assert_eq!(pins.hashes["certifi"].1.len(), 2);

        std::fs::write(&main, "ok==1\n\n  ==2\n").unwrap();
        let err = read_requirements(&main, 0, &mut pins, &mut direct).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:3: `==2` does not start with a project name",
                main.display()
            )
        );
    }

    #[test]
    fn from_env() {
        let request = FetchRequest::from_env(Requirements::default(), |name| match name {
            "WINDLASS_CACHE_DIR" => Some("/c".into()),
            _ => None,
        });
        assert_eq!(request.python, "python3");
        assert_eq!(request.cache_dir, PathBuf::from("/c"));
    }

    #[test]
    fn pip_output() {
        let dir = Path::new("/w");
        let out = "Collecting six\n  Saved ./six-1.17.0-py2.py3-none-any.whl\n\
                   File was already downloaded /w/certifi-1-py3-none-any.whl\nSuccessfully downloaded six\n";
        assert_eq!(
            handed_over(out, dir),
            vec![
                PathBuf::from("/w/six-1.17.0-py2.py3-none-any.whl"),
                PathBuf::from("/w/certifi-1-py3-none-any.whl")
            ]
        );
        assert_eq!(
            no_match(
                "ERROR: Could not find a version\nERROR: No matching distribution found for onlysdist==1.0\n"
            ),
            Some("onlysdist==1.0".into())
        );
        let creds = IndexCredentials {
            username: "me".into(),
            password: Secret::new("p@ss/w:rd".into()),
        };
        assert_eq!(
            with_userinfo("https://old@idx.example/simple/", &creds).unwrap(),
            "https://me:p%40ss%2Fw%3Ard@idx.example/simple/"
        );
        assert_eq!(
            with_userinfo("http://old:pw@127.0.0.1:8080/simple/", &creds).unwrap(),
            "http://me:p%40ss%2Fw%3Ard@127.0.0.1:8080/simple/"
        );
        let err = with_userinfo("idx.example/simple/", &creds).unwrap_err();
        assert!(matches!(err, PythonError::IndexUrl { .. }), "{err}");
    }
}
