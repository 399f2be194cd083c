//! The output flags every Windlass binary accepts.

use std::ffi::OsString;

/// Output flags shared by every binary: `#[command(flatten)]` them into the
/// top-level parser. They are `global`, so they may follow a subcommand.
///
/// ```
/// use clap::Parser;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     output: windlass_output::OutputArgs,
/// }
///
/// let cli = Cli::parse_from(["windlass", "--json", "-vv", "--color", "never"]);
/// assert!(cli.output.json);
/// assert_eq!(cli.output.verbose, 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Output options")]
pub struct OutputArgs {
    /// Print the result as a versioned JSON document on stdout
    /// (schema `windlass/1`)
    #[arg(long, global = true)]
    pub json: bool,

    /// Print less: once hides status lines and progress bars, twice also
    /// hides warnings (data and errors are always printed)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,

    /// Log more on stderr: once for info, twice for debug, three times for
    /// trace (`WINDLASS_LOG` overrides)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// When to use colours on stderr (`auto` honours `NO_COLOR`,
    /// `CLICOLOR_FORCE` and whether stderr is a terminal)
    #[arg(long, global = true, value_enum, default_value_t, value_name = "WHEN")]
    pub color: ColorChoice,
}

impl OutputArgs {
    /// The command-line flags that give these settings, for handing them on
    /// to another Windlass binary (defaults are left out).
    ///
    /// ```
    /// use clap::Parser;
    ///
    /// #[derive(Parser)]
    /// struct Cli {
    ///     #[command(flatten)]
    ///     output: windlass_output::OutputArgs,
    /// }
    ///
    /// let cli = Cli::parse_from(["windlass", "-vv", "--json", "--color", "never"]);
    /// assert_eq!(cli.output.to_args(), ["--json", "-v", "-v", "--color=never"]);
    /// ```
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        if self.json {
            args.push("--json".into());
        }
        args.extend((0..self.quiet).map(|_| OsString::from("-q")));
        args.extend((0..self.verbose).map(|_| OsString::from("-v")));
        match self.color {
            ColorChoice::Auto => {}
            ColorChoice::Always => args.push("--color=always".into()),
            ColorChoice::Never => args.push("--color=never".into()),
        }
        args
    }
}

/// The `--color` flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal, unless the environment says no.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour, given a way to read environment variables and
    /// whether the stream is a terminal.
    ///
    /// An explicit `always` or `never` wins. For `auto`, in this order: a
    /// non-empty `NO_COLOR` disables colour; a `CLICOLOR_FORCE` other than
    /// empty or `0` enables it; `CLICOLOR=0` disables it; otherwise colour is
    /// used when the stream is a terminal and `TERM` is not `dumb`.
    pub fn resolve(self, env: impl Fn(&str) -> Option<OsString>, is_terminal: bool) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => {
                if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
                    false
                } else if env("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") {
                    true
                } else if env("CLICOLOR").is_some_and(|v| v == "0") {
                    false
                } else {
                    is_terminal && env("TERM").is_none_or(|t| t != "dumb")
                }
            }
        }
    }
}
