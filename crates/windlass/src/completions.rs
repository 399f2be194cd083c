//! `windlass completions SHELL`: a completion script generated from the
//! same clap definition the binary parses with.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Args, CommandFactory as _};
use clap_complete::Shell;
use windlass_output::{OutputArgs, Printer};

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: Shell,
}

/// A completion script; `--json` wraps it in the result document.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Script {
    shell: String,
    script: String,
}

impl windlass_output::Outcome for Script {
    fn render_human(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(self.script.as_bytes())
    }
}

pub(crate) fn main(args: &CompletionsArgs, output: &OutputArgs) -> ExitCode {
    let printer = Printer::new(output, "completions");
    windlass_output::finish(Ok(script(args.shell)), &printer)
}

fn script(shell: Shell) -> Script {
    let mut cmd = crate::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "windlass", &mut buf);
    Script {
        shell: shell.to_string(),
        script: String::from_utf8_lossy(&buf).into_owned(),
    }
}
