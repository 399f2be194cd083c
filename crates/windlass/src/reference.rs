//! The Markdown reference of every command (`docs/reference/commands.md`),
//! generated from the same clap definition the binary parses with, as the
//! man pages and completions are.

use std::fmt::Write as _;

use clap::{Arg, Command};

/// The reference of `root` and every visible subcommand under it, parents
/// before children. Global options are listed once, under `root`.
pub(crate) fn commands_markdown(root: &Command) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Command reference\n\n\
         <!-- Generated from the clap definitions by `windlass man --markdown`; do not edit.\n     \
         Regenerate with: UPDATE_DOCS=1 cargo test -p windlass --test reference -->\n"
    );
    let mut all = Vec::new();
    collect(root, None, &mut all);
    for (cmd, _) in &all {
        let _ = writeln!(out, "- [`{}`](#{})", full_name(cmd), anchor(cmd));
    }
    for (cmd, parent) in &all {
        out.push('\n');
        section(&mut out, cmd, *parent);
    }
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    out
}

/// Every visible command with its parent, depth first.
fn collect<'a>(
    cmd: &'a Command,
    parent: Option<&'a Command>,
    out: &mut Vec<(&'a Command, Option<&'a Command>)>,
) {
    out.push((cmd, parent));
    for sub in cmd.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        collect(sub, Some(cmd), out);
    }
}

/// `windlass wheel publish`.
fn full_name(cmd: &Command) -> String {
    cmd.get_bin_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_owned()
}

/// The GitHub anchor of the command's heading.
fn anchor(cmd: &Command) -> String {
    full_name(cmd)
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// One command; a global option is listed where it is defined, not again
/// under every subcommand it propagates to.
fn section(out: &mut String, cmd: &Command, parent: Option<&Command>) {
    let root = parent.is_none();
    let _ = writeln!(out, "## {}\n", full_name(cmd));
    if let Some(about) = cmd.get_long_about().or_else(|| cmd.get_about()) {
        let _ = writeln!(out, "{}\n", about.to_string().trim_end());
    }
    let mut usage = cmd.clone().render_usage().to_string();
    if let Some(rest) = usage.strip_prefix("Usage: ") {
        usage = rest.to_owned();
    }
    let _ = writeln!(out, "```text\n{}\n```\n", usage.trim_end());
    let subcommands: Vec<&Command> = cmd
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .collect();
    if !subcommands.is_empty() {
        out.push_str("Commands:\n\n");
        for sub in subcommands {
            let about = sub
                .get_about()
                .map(|a| format!(": {}", a.to_string().trim_end()))
                .unwrap_or_default();
            let _ = writeln!(out, "- [`{}`](#{}){about}", sub.get_name(), anchor(sub));
        }
        out.push('\n');
    }
    let shown =
        |arg: &&Arg| !arg.is_hide_set() && !matches!(arg.get_id().as_str(), "help" | "version");
    let positionals: Vec<&Arg> = cmd.get_positionals().filter(shown).collect();
    if !positionals.is_empty() {
        out.push_str("Arguments:\n\n");
        for arg in positionals {
            item(out, arg);
        }
        out.push('\n');
    }
    let options: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|arg| !arg.is_positional())
        .filter(shown)
        .filter(|arg| {
            !(arg.is_global_set()
                && parent.is_some_and(|p| p.get_arguments().any(|a| a.get_id() == arg.get_id())))
        })
        .collect();
    if !options.is_empty() {
        out.push_str(if root {
            "Options (global: they may be given after any command):\n\n"
        } else {
            "Options (and the global options of the commands above):\n\n"
        });
        for arg in options {
            item(out, arg);
        }
        out.push('\n');
    }
    if let Some(after) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
        let _ = writeln!(out, "{}\n", after.to_string().trim_end());
    }
}

/// One argument as a list item: its spelling, help, default, environment
/// variable and possible values.
fn item(out: &mut String, arg: &Arg) {
    let _ = write!(out, "- `{}`", spelling(arg));
    let help = arg
        .get_long_help()
        .or_else(|| arg.get_help())
        .map(ToString::to_string)
        .unwrap_or_default();
    let mut lines = help.trim_end().lines();
    if let Some(first) = lines.next() {
        let _ = write!(out, ": {first}");
    }
    out.push('\n');
    for line in lines {
        if line.trim().is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "  {line}");
        }
    }
    let mut facts = Vec::new();
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| format!("`{}`", v.to_string_lossy()))
        .collect();
    if !defaults.is_empty() && arg.get_action().takes_values() {
        facts.push(format!("default {}", defaults.join(", ")));
    }
    if let Some(env) = arg.get_env() {
        facts.push(format!("environment `{}`", env.to_string_lossy()));
    }
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| match v.get_help() {
            Some(help) => format!("`{}` ({help})", v.get_name()),
            None => format!("`{}`", v.get_name()),
        })
        .collect();
    if !values.is_empty() && arg.get_action().takes_values() {
        facts.push(format!("one of {}", values.join(", ")));
    }
    if !facts.is_empty() {
        let _ = writeln!(out, "  ({})", facts.join("; "));
    }
}

/// `-r, --repository <NAME>` or `<DIST>...`.
fn spelling(arg: &Arg) -> String {
    let names: Vec<String> = arg.get_value_names().map_or_else(
        || vec![format!("<{}>", arg.get_id().as_str().to_uppercase())],
        |names| names.iter().map(|n| format!("<{n}>")).collect(),
    );
    let many = matches!(arg.get_num_args(), Some(range) if range.max_values() > 1);
    let value = if arg.get_action().takes_values() {
        let mut value = names.join(" ");
        if many {
            value.push_str("...");
        }
        Some(value)
    } else {
        None
    };
    if arg.is_positional() {
        return value.unwrap_or_default();
    }
    let mut flags = Vec::new();
    if let Some(short) = arg.get_short() {
        flags.push(format!("-{short}"));
    }
    if let Some(long) = arg.get_long() {
        flags.push(format!("--{long}"));
    }
    let mut text = flags.join(", ");
    if let Some(value) = value {
        text.push(' ');
        text.push_str(&value);
    }
    text
}
