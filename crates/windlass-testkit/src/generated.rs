//! Files generated from the code and checked in (references, schemas,
//! tables): a test keeps each equal to what the code generates.

use std::path::Path;

/// The variable that makes [`assert_generated`] rewrite a stale file
/// instead of failing.
pub const UPDATE_VAR: &str = "UPDATE_DOCS";

/// Passes when the file at `path` holds exactly `expected`. Otherwise, with
/// `UPDATE_DOCS=1` in the environment, writes `expected` there (creating the
/// directory) and passes; without it, fails naming the file and
/// `regenerate`, the command that rewrites it.
///
/// # Panics
///
/// When the file is stale and `UPDATE_DOCS` is not `1`, or cannot be written.
pub fn assert_generated(path: &Path, expected: &str, regenerate: &str) {
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if current == expected {
        return;
    }
    if std::env::var_os(UPDATE_VAR).is_some_and(|value| value == "1") {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|err| panic!("cannot create {}: {err}", parent.display()));
        }
        std::fs::write(path, expected)
            .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
        return;
    }
    panic!(
        "{} is out of date with the code it is generated from;\n\
         regenerate it with: {UPDATE_VAR}=1 {regenerate}",
        path.display()
    );
}
