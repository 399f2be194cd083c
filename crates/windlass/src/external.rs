//! `windlass NAME ARGS...` for a NAME that is not built in: run
//! `windlass-NAME` from `PATH`, replacing this process, as cargo does for
//! `cargo-NAME`. Output flags given before NAME are passed on in front of
//! the tool's own arguments.
//!
//! As in a shell, a command that is not found exits with 127 and a
//! `windlass-NAME` that is found but cannot be run exits with 126.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::anyhow;
use clap::CommandFactory as _;
use windlass_output::{ExitStatus, OutputArgs, Printer, ResultExt as _};
use windlass_process::SpawnError;

const PREFIX: &str = "windlass-";

/// Why the tool did not run, classified with the exit status that says so
/// (the shell's 127 and 126 for a tool not found or not runnable): the
/// `--json` result document and the process agree on it.
struct Failure {
    error: anyhow::Error,
}

impl Failure {
    fn new(result: anyhow::Result<Infallible>) -> Self {
        let Err(error) = result;
        Self { error }
    }
}

pub(crate) fn main(args: &[OsString], output: &OutputArgs) -> ExitCode {
    let printer = Printer::new(output, "windlass");
    let failure = dispatch(args, output);
    printer.report_error(&failure.error).into()
}

/// Replaces this process with the tool; returns only when that failed.
fn dispatch(args: &[OsString], output: &OutputArgs) -> Failure {
    let Some((name, rest)) = args.split_first() else {
        let result = Err(anyhow!("no command given")).with_exit_status(ExitStatus::Usage);
        return Failure::new(result);
    };
    let name = name.to_string_lossy();
    let file_name = format!("{PREFIX}{name}");
    let path_var = windlass_process::search_path();
    let Some(program) = find_executable(&file_name, &path_var) else {
        if let Some(found) = find_file(&file_name, &path_var) {
            let result = Err(anyhow!(
                "cannot run `{file_name}`: {} is not executable",
                found.display()
            ))
            .with_exit_status(ExitStatus::CannotExecute)
            .with_hint(format!(
                "make it executable: `chmod +x {}`",
                found.display()
            ));
            return Failure::new(result);
        }
        let known = known_commands(&path_var);
        let hint = match did_you_mean(&name, &known) {
            Some(close) => format!("a command with a similar name exists: `windlass {close}`"),
            None => "`windlass --help` lists the built-in tools; other tools are `windlass-NAME` executables on PATH".to_owned(),
        };
        let result = Err(anyhow!("no such command: `{name}`"))
            .with_exit_status(ExitStatus::CommandNotFound)
            .with_hint(hint);
        return Failure::new(result);
    };
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(err) => {
            let result = Err(anyhow!("cannot read the current directory: {err}"))
                .with_exit_status(ExitStatus::Usage);
            return Failure::new(result);
        }
    };
    // A plugin is a Windlass tool acting for the user: it gets the
    // environment we were given, credentials included.
    let err = windlass_process::Cmd::new(&program, cwd)
        .args(output.to_args())
        .args(rest)
        .inherit_credentials()
        .exec();
    let status = match &err {
        SpawnError::NotFound { .. } => ExitStatus::CommandNotFound,
        SpawnError::Io { .. } => ExitStatus::CannotExecute,
        _ => ExitStatus::Usage,
    };
    let result = Err(anyhow::Error::new(err)).with_exit_status(status);
    Failure::new(result)
}

/// The first executable file called `name` in the `PATH` list.
fn find_executable(name: &str, path_var: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path_var)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// The first file called `name` in the `PATH` list, executable or not.
fn find_file(name: &str, path_var: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path_var)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Built-in subcommands and `windlass-*` executables on `PATH`.
fn known_commands(path_var: &OsStr) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = crate::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    for dir in std::env::split_paths(path_var) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            if let Some(name) = file_name.to_str().and_then(|n| n.strip_prefix(PREFIX))
                && is_executable(&entry.path())
            {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

fn did_you_mean<'a>(name: &str, known: &'a BTreeSet<String>) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro(name, k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.as_str())
}
