//! Usage errors (clap's) as `--json` result documents.

use std::ffi::OsString;
use std::io::Write as _;

use clap::error::ErrorKind;

use crate::ExitStatus;
use crate::json::{ErrorBody, ResultDocument, SCHEMA};

/// Parses the process arguments like [`clap::Parser::parse`], except that
/// with `--json` a usage error (an unknown flag, a missing argument) also
/// prints a result document on stdout: `exit_code` 2, `error.message`
/// clap's first line, `error.hint` the usage line. Clap's text is printed
/// on stderr as usual; `--help` and `--version` print as usual.
pub fn parse_or_exit<C: clap::Parser>() -> C {
    parse_from_or_exit(std::env::args_os())
}

/// [`parse_or_exit`] for the given arguments (the first is the binary).
pub fn parse_from_or_exit<C, I, T>(args: I) -> C
where
    C: clap::Parser,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    match C::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => exit_usage(&error, &C::command(), &args),
    }
}

/// Prints a clap error (and, with `--json` in `args`, its result document)
/// and exits, as [`parse_or_exit`] does. For checks a binary makes after
/// parsing: `exit_usage(&Cli::command().error(kind, message), ...)`.
pub fn exit_usage(error: &clap::Error, command: &clap::Command, args: &[OsString]) -> ! {
    let plain = matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    );
    if plain || !wants_json(args) {
        error.exit()
    }
    let _ = error.print();
    let document = usage_document(error, command, args);
    let mut out = crate::stdout();
    let _ = out
        .write_all(document.as_bytes())
        .and_then(|()| out.finish());
    std::process::exit(i32::from(ExitStatus::Usage.code()))
}

/// The result document of a usage error, one line with its newline.
pub(crate) fn usage_document(
    error: &clap::Error,
    command: &clap::Command,
    args: &[OsString],
) -> String {
    let text = error.render().to_string();
    let message = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .map(|line| line.strip_prefix("error: ").unwrap_or(line).to_owned())
        .unwrap_or_default();
    let usage = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Usage: "))
        .map(|usage| format!("usage: {usage}"))
        .or_else(|| {
            let usage = command.clone().render_usage().to_string();
            (!usage.is_empty()).then(|| usage.replace("Usage: ", "usage: "))
        });
    let redactor = windlass_redact::global();
    let body = ErrorBody {
        message: redactor.redact(&message).into_owned(),
        causes: Vec::new(),
        hint: usage.map(|u| redactor.redact(&u).into_owned()),
        file: None,
        line: None,
        column: None,
    };
    let name = command_name(command, args);
    let document = ResultDocument::<()> {
        schema: SCHEMA,
        kind: "result",
        command: &name,
        ok: false,
        exit_code: ExitStatus::Usage.code(),
        data: None,
        error: Some(&body),
        warnings: &[],
    };
    let mut line = serde_json::to_string(&document).unwrap_or_default();
    line.push('\n');
    line
}

/// Whether `--json` is among the arguments before a `--`.
fn wants_json(args: &[OsString]) -> bool {
    args.iter()
        .skip(1)
        .take_while(|arg| *arg != "--")
        .any(|arg| arg == "--json")
}

/// The command as far as the arguments name one, as the printer names it:
/// `windlass wheel bild` gives `wheel`, `windlass-wheel publish --x` gives
/// `wheel publish`, `windlass --x` gives `windlass`.
fn command_name(command: &clap::Command, args: &[OsString]) -> String {
    let mut command = command.clone();
    // Built, each subcommand also knows the global arguments.
    command.build();
    let root = command.get_name().to_owned();
    let mut words: Vec<String> = root
        .strip_prefix("windlass-")
        .map(|tool| vec![tool.to_owned()])
        .unwrap_or_default();
    let mut current = &command;
    let mut skip_value = false;
    for arg in args.iter().skip(1) {
        let Some(arg) = arg.to_str() else { break };
        if std::mem::take(&mut skip_value) {
            continue;
        }
        if arg == "--" {
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            skip_value =
                !long.contains('=') && takes_value(current, |a| a.get_long() == Some(long));
            continue;
        }
        if let Some(shorts) = arg.strip_prefix('-') {
            let mut chars = shorts.chars();
            skip_value = match (chars.next(), chars.next()) {
                (Some(short), None) => takes_value(current, |a| a.get_short() == Some(short)),
                _ => false,
            };
            continue;
        }
        match current.find_subcommand(arg) {
            Some(sub) => {
                words.push(sub.get_name().to_owned());
                current = sub;
            }
            None => break,
        }
    }
    if words.is_empty() {
        root
    } else {
        words.join(" ")
    }
}

/// Whether the option `matches` finds in `command` is followed by a value.
fn takes_value(command: &clap::Command, matches: impl Fn(&clap::Arg) -> bool) -> bool {
    command
        .get_arguments()
        .find(|arg| matches(arg))
        .is_some_and(|arg| arg.get_action().takes_values())
}
