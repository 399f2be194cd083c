//! `windlass NAME ARGS...` for a NAME that is not built in: run
//! `windlass-NAME` from `PATH`, replacing this process, as cargo does for
//! `cargo-NAME`. Output flags given before NAME are passed on in front of
//! the tool's own arguments.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::anyhow;
use clap::CommandFactory as _;
use windlass_output::{ExitStatus, OutputArgs, Printer, ResultExt as _};

const PREFIX: &str = "windlass-";

pub(crate) fn main(args: &[OsString], output: &OutputArgs) -> ExitCode {
    let printer = Printer::new(output, "windlass");
    let result = dispatch(args, output);
    windlass_output::finish(result, &printer)
}

fn dispatch(args: &[OsString], output: &OutputArgs) -> anyhow::Result<()> {
    let Some((name, rest)) = args.split_first() else {
        return Err(anyhow!("no command given")).with_exit_status(ExitStatus::Usage);
    };
    let name = name.to_string_lossy();
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let Some(program) = find_executable(&format!("{PREFIX}{name}"), &path_var) else {
        let known = known_commands(&path_var);
        let hint = match did_you_mean(&name, &known) {
            Some(close) => format!("a command with a similar name exists: `windlass {close}`"),
            None => "`windlass --help` lists the built-in tools; other tools are `windlass-NAME` executables on PATH".to_owned(),
        };
        return Err(anyhow!("no such command: `{name}`"))
            .with_exit_status(ExitStatus::Usage)
            .with_hint(hint);
    };
    let cwd = std::env::current_dir()
        .map_err(|err| anyhow!("cannot read the current directory: {err}"))
        .with_exit_status(ExitStatus::Usage)?;
    // A plugin is a Windlass tool acting for the user: it gets the
    // environment we were given, credentials included.
    let err = windlass_process::Cmd::new(&program, cwd)
        .args(output.to_args())
        .args(rest)
        .inherit_credentials()
        .exec();
    Err(anyhow::Error::new(err)).with_exit_status(ExitStatus::Usage)
}

/// The first executable file called `name` in the `PATH` list.
fn find_executable(name: &str, path_var: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path_var)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
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
