//! `windlass man [DIR]`: manual pages (roff) generated from the same clap
//! definition the binary parses with; `windlass man --markdown`: the same
//! as one Markdown reference (`docs/reference/commands.md`).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, CommandFactory as _};
use windlass_output::{ExitStatus, OutputArgs, Printer, ResultExt as _};

#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write `windlass.1` and one page per command (`windlass-wheel.1`,
    /// `windlass-wheel-publish.1`, ...) into this directory, created if
    /// missing, instead of printing the top-level page
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Print the reference of every command as Markdown instead (the text
    /// of `docs/reference/commands.md`)
    #[arg(long, conflicts_with = "dir")]
    markdown: bool,
}

/// What `man` produced: the page itself, or the files it wrote.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub(crate) enum Pages {
    Page { page: String },
    Written { written: Vec<PathBuf> },
    Markdown { markdown: String },
}

impl windlass_output::Outcome for Pages {
    fn render_human(&self, out: &mut dyn Write) -> io::Result<()> {
        match self {
            Self::Page { page: text } | Self::Markdown { markdown: text } => {
                out.write_all(text.as_bytes())
            }
            Self::Written { written } => written
                .iter()
                .try_for_each(|path| writeln!(out, "{}", path.display())),
        }
    }
}

pub(crate) fn main(args: &ManArgs, output: &OutputArgs) -> ExitCode {
    let printer = Printer::new(output, "man");
    let result = match &args.dir {
        _ if args.markdown => Ok(Pages::Markdown {
            markdown: crate::reference::commands_markdown(&command()),
        }),
        None => page(),
        Some(dir) => write_all(dir),
    };
    windlass_output::finish(result, &printer)
}

/// The top-level page.
fn page() -> anyhow::Result<Pages> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(command()).render(&mut buf)?;
    Ok(Pages::Page {
        page: String::from_utf8_lossy(&buf).into_owned(),
    })
}

/// One page per visible command, parents before children.
fn write_all(dir: &Path) -> anyhow::Result<Pages> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory `{}`", dir.display()))
        .with_exit_status(ExitStatus::Usage)?;
    let mut written = Vec::new();
    let mut pending = vec![command()];
    while let Some(cmd) = pending.pop() {
        let children: Vec<_> = cmd
            .get_subcommands()
            .filter(|sub| !sub.is_hide_set())
            .cloned()
            .collect();
        pending.extend(children.into_iter().rev());
        let man = clap_mangen::Man::new(cmd);
        let path = dir.join(man.get_filename());
        man.generate_to(dir)
            .with_context(|| format!("cannot write `{}`", path.display()))
            .with_exit_status(ExitStatus::Usage)?;
        written.push(path);
    }
    Ok(Pages::Written { written })
}

/// The whole command tree, built so that subcommands know their full names.
fn command() -> clap::Command {
    let mut cmd = crate::Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}
