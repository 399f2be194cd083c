//! Byte-compiling installed packages for the image's Python, as `pip
//! install` does by default: each `.py` file a wheel installed gets
//! `__pycache__/NAME.cpython-XY.pyc` next to it, listed in its
//! distribution's RECORD without a hash.
//!
//! The bytecode must be the image's: its magic number is that of the
//! interpreter's minor version, so only a host CPython of exactly the
//! image's `X.Y` compiles (the configured Python, else `pythonX.Y` on
//! `PATH`), run through `windlass-process`. Without one the build stops:
//! bytecode for another version would be ignored and rewritten by the image
//! at run time.
//!
//! Reproducible: `checked-hash` pycs (a hash of the source, no timestamp),
//! `PYTHONHASHSEED=0` (set and frozenset constants are marshalled in hash
//! order), the files in sorted order in one process, and the image's paths
//! as the code's file names (`dfile`), never the staging directory.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::time::Duration;

use windlass_process::{Cmd, Sink};

use super::install::{csv_field, relative_to, split_csv};
use super::target::PythonTarget;
use super::{InstallReport, PythonError};

/// The longest one compilation may take.
const COMPILE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The exit status of the script when the interpreter is not the image's
/// version (it prints its own).
const WRONG_VERSION: i32 = 97;

/// Run as `python -c SCRIPT X.Y ROOT`; stdin: `IMAGE_PATH\0PYC_PATH\0`
/// pairs. Prints `IMPLEMENTATION X.Y` and exits 97 on another interpreter,
/// else the image paths it could not compile (syntax errors, as pip skips
/// them), each followed by `\0`.
const SCRIPT: &str = "\
import sys, py_compile
want = tuple(int(p) for p in sys.argv[1].split('.'))
if sys.implementation.name != 'cpython' or sys.version_info[:2] != want:
    sys.stdout.write('%s %d.%d\\n' % ((sys.implementation.name,) + tuple(sys.version_info[:2])))
    sys.exit(97)
root = sys.argv[2]
items = sys.stdin.buffer.read().decode('utf-8').split('\\0')
mode = py_compile.PycInvalidationMode.CHECKED_HASH
for i in range(0, len(items) - 1, 2):
    source, cache = items[i], items[i + 1]
    try:
        py_compile.compile(root + source, cfile=root + cache, dfile=source,
                           doraise=True, invalidation_mode=mode, optimize=0)
    except py_compile.PyCompileError:
        sys.stdout.write(source + '\\0')
";

/// A host interpreter of the image's Python version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiler {
    pub python: OsString,
    /// `X.Y`.
    pub version: String,
}

/// Finds a host CPython of `target`'s `X.Y`: `configured` (the host Python
/// of pip, `WINDLASS_PYTHON` else `python3`), then `pythonX.Y` on `PATH`.
/// `cwd` is where it runs (any existing directory).
pub async fn find_compiler(
    configured: &OsStr,
    target: &PythonTarget,
    cwd: &Path,
) -> Result<Compiler, PythonError> {
    let version = target.python_version();
    let versioned = OsString::from(format!("python{version}"));
    let mut tried = Vec::new();
    for candidate in [configured, versioned.as_os_str()] {
        if tried.iter().any(|(c, _)| c == candidate) {
            continue;
        }
        let outcome = Cmd::new(candidate, cwd)
            .args(["-c", SCRIPT, &version, "/"])
            .env("PYTHONHASHSEED", "0")
            .stdin(Vec::new())
            .timeout(Duration::from_secs(60))
            .stdout(Sink::Capture)
            .stderr(Sink::Capture)
            .run()
            .await;
        let found = match outcome {
            Ok(outcome) if outcome.success() => {
                return Ok(Compiler {
                    python: candidate.to_owned(),
                    version,
                });
            }
            Ok(outcome) if outcome.exit_code() == WRONG_VERSION => {
                let said = String::from_utf8_lossy(outcome.stdout().unwrap_or_default());
                format!("is {}", said.trim())
            }
            Ok(outcome) => format!("exited with {}", outcome.exit_code()),
            Err(_) => "was not found".to_owned(),
        };
        tried.push((candidate.to_owned(), found));
    }
    Err(PythonError::NoCompiler {
        version,
        tried: tried
            .iter()
            .map(|(c, why)| format!("`{}` {why}", c.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Compiles every `.py` file the packages of `report` installed under
/// `staging` (the image's root) and adds the pycs to their RECORDs.
/// Returns how many files were compiled.
pub async fn compile(
    compiler: &Compiler,
    staging: &Path,
    report: &mut InstallReport,
) -> Result<usize, PythonError> {
    // Per package: its RECORD's image path, the root its rows are relative
    // to, and its rows.
    let mut records = Vec::new();
    let mut sources: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for (index, package) in report.packages.iter().enumerate() {
        let record = package.record.clone();
        let root = parent(parent(&record)).to_owned();
        let host = staging.join(record.trim_start_matches('/'));
        let text = std::fs::read_to_string(&host).map_err(PythonError::io("read", &host))?;
        for line in text.lines().filter(|l| !l.is_empty()) {
            let Some(path) = split_csv(line).into_iter().next() else {
                continue;
            };
            if let Some(image_path) = path.strip_suffix(".py").and_then(|_| join(&root, &path)) {
                let pyc = pyc_path(&image_path, &compiler.version);
                sources.entry(image_path).or_insert((index, pyc));
            }
        }
        records.push((record, root, text));
    }
    if sources.is_empty() {
        return Ok(0);
    }
    let mut input = Vec::new();
    for (source, (_, pyc)) in &sources {
        for part in [source, pyc] {
            input.extend_from_slice(part.as_bytes());
            input.push(0);
        }
    }
    let root = staging.to_string_lossy().trim_end_matches('/').to_owned();
    let outcome = Cmd::new(&compiler.python, staging)
        .args(["-c", SCRIPT, &compiler.version, &root])
        .env("PYTHONHASHSEED", "0")
        .env_remove("PYTHONOPTIMIZE")
        .stdin(input)
        .timeout(COMPILE_TIMEOUT)
        .stdout(Sink::Capture)
        .stderr(Sink::Capture)
        .run()
        .await
        .map_err(|source| PythonError::Compile {
            python: compiler.python.to_string_lossy().into_owned(),
            output: source.to_string(),
        })?;
    if !outcome.success() {
        let stderr = String::from_utf8_lossy(outcome.stderr().unwrap_or_default());
        return Err(PythonError::Compile {
            python: compiler.python.to_string_lossy().into_owned(),
            output: stderr.lines().rev().take(20).collect::<Vec<_>>().join("\n"),
        });
    }
    let stdout = String::from_utf8_lossy(outcome.stdout().unwrap_or_default()).into_owned();
    for skipped in stdout.split('\0').filter(|s| !s.is_empty()) {
        sources.remove(skipped);
    }
    // RECORD: every pyc relative to the package's root, without a hash.
    let mut added: Vec<Vec<String>> = vec![Vec::new(); records.len()];
    for (index, pyc) in sources.values() {
        added[*index].push(pyc.clone());
    }
    for (index, ((record, root, text), pycs)) in records.iter().zip(&added).enumerate() {
        if pycs.is_empty() {
            continue;
        }
        let mut rows: Vec<String> = text
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        rows.extend(
            pycs.iter()
                .map(|pyc| format!("{},,", csv_field(&relative_to(root, pyc)))),
        );
        rows.sort();
        rows.dedup();
        report.packages[index].files = rows.len();
        let mut bytes = rows.join("\n");
        bytes.push('\n');
        let host = staging.join(record.trim_start_matches('/'));
        std::fs::write(&host, bytes).map_err(PythonError::io("write", &host))?;
    }
    Ok(sources.len())
}

/// `/a/b/c` -> `/a/b`.
fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// The image path of a RECORD row relative to `root` (`../../bin/x`),
/// `None` if it climbs above `/`.
fn join(root: &str, relative: &str) -> Option<String> {
    let mut parts: Vec<&str> = root.split('/').filter(|p| !p.is_empty()).collect();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// `DIR/NAME.py` -> `DIR/__pycache__/NAME.cpython-XY.pyc`, as
/// `importlib.util.cache_from_source` names it for CPython `X.Y`.
fn pyc_path(source: &str, version: &str) -> String {
    let (dir, name) = source.rsplit_once('/').unwrap_or(("", source));
    let stem = name.strip_suffix(".py").unwrap_or(name);
    format!(
        "{dir}/__pycache__/{stem}.cpython-{}.pyc",
        version.replace('.', "")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            pyc_path("/usr/lib/python3.11/site-packages/a/b.py", "3.11"),
            "/usr/lib/python3.11/site-packages/a/__pycache__/b.cpython-311.pyc"
        );
        assert_eq!(
            join(
                "/usr/local/lib/python3.11/dist-packages",
                "../../../bin/x.py"
            ),
            Some("/usr/local/bin/x.py".into())
        );
        assert_eq!(join("/a", "../../x.py"), None);
        assert_eq!(parent(parent("/r/six-1.0.dist-info/RECORD")), "/r");
    }
}
