//! `windlass secrets ...`: the clap definition shared by the umbrella
//! binary and `windlass-secrets`, and what each command does.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Serialize;
use windlass_config::{LoadError, LoadOptions};
use windlass_http::{HttpConfig, RetryObserver};
use windlass_output::{
    Classifier, Diagnostic, ExitStatus, Outcome, OutputArgs, Printer, ResultExt as _,
};
use windlass_process::Cmd;

use crate::config::{ConfigRef, SecretsConfig};
use crate::error::Status;
use crate::reference::{ParseError, ParseErrorKind, SecretRef};
use crate::resolve::{EntryError, NamedRef, Resolved, Resolver};
use crate::{ResolveError, VaultError};
use windlass_config::Environment;

/// Fetch secrets from Vault, CI variables, the keyring and files; inject
/// them into a command; mask them in GitHub Actions.
#[derive(Debug, Clone, clap::Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub command: SecretsCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum SecretsCommand {
    /// Run a command with secrets in its environment (on top of ours, which
    /// it inherits); its output is redacted, its exit code passed on
    Exec(ExecArgs),
    /// Print one secret (only to a pipe or file, or with --reveal)
    Get(GetArgs),
    /// Resolve every secret reference of the configuration (`[secrets]`,
    /// tools' credentials, Vault login inputs) and report which work and
    /// where each is used, without values; exits 1 if any fails
    Check(CheckArgs),
    /// Inside GitHub Actions: mask every configured secret in the log
    /// (`::add-mask::`), optionally export them to later steps
    Mask(MaskArgs),
}

/// Which secrets a command takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Selection {
    /// A secret to inject: `NAME=REF` (e.g. `PYPI_TOKEN=vault://secret/ci/pypi#token`),
    /// or `NAME` for an entry of `[secrets]`; repeatable
    #[arg(long = "env", short = 'e', value_name = "NAME[=REF]")]
    pub env: Vec<String>,
    /// Every entry of the `[secrets]` table
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GetArgs {
    /// A reference (`vault://...`, `env://...`) or a name from `[secrets]`
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Print even when stdout is a terminal
    #[arg(long)]
    pub reveal: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {}

#[derive(Debug, Clone, clap::Args)]
pub struct MaskArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Also hand the values to later steps through `$GITHUB_ENV` (after
    /// masking them)
    #[arg(long)]
    pub export: bool,
}

/// `windlass secrets` and `windlass-secrets`: the output flags, `--config`
/// and the command. Both binaries flatten this one definition and call
/// [`main`].
#[derive(Debug, Clone, clap::Args)]
pub struct SecretsCli {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Read this project configuration file instead of searching for
    /// `windlass.toml` (also `WINDLASS_CONFIG`; the flag wins)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub secrets: SecretsArgs,
}

impl SecretsCli {
    /// The command name shown in messages and `--json` results.
    pub fn command_name(&self) -> &'static str {
        match &self.secrets.command {
            SecretsCommand::Exec(_) => "secrets exec",
            SecretsCommand::Get(_) => "secrets get",
            SecretsCommand::Check(_) => "secrets check",
            SecretsCommand::Mask(_) => "secrets mask",
        }
    }
}

/// Runs a parsed command line to the end: printer, logging, configuration
/// (`windlass.toml` through windlass-config: user file < project file),
/// the async runtime, the command, and the exit code (`exec` passes its
/// child's on).
pub fn main(cli: &SecretsCli) -> ExitCode {
    let printer = Printer::builder(&cli.output, cli.command_name())
        .classifier(classifier())
        .build();
    let result = windlass_output::init_tracing(&printer)
        .map_err(anyhow::Error::from)
        .and_then(|()| run_process(cli, &printer));
    match result {
        Ok(Exit::Status(status)) => status.into(),
        Ok(Exit::Child(status)) => windlass_process::exit_like(status),
        Err(error) if windlass_output::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => printer.report_error(&error).into(),
    }
}

fn run_process(cli: &SecretsCli, printer: &Printer) -> anyhow::Result<Exit> {
    let mut options = LoadOptions::from_process()
        .context("cannot read the current directory")
        .with_exit_status(ExitStatus::Usage)?;
    if let Some(path) = &cli.config {
        options = options.with_config_file(path);
    }
    let ctx = Context::load(&options, Environment::from_process())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(&cli.secrets, &ctx, printer))
}

/// What a command needs besides its arguments.
#[derive(Debug)]
pub struct Context {
    pub env: Environment,
    /// Where relative `file://` paths point from (the directory of the
    /// project `windlass.toml`, else the working directory).
    pub project_dir: PathBuf,
    pub config: SecretsConfig,
    /// Every secret reference of the configuration and where it is used,
    /// for `check`.
    pub references: Vec<ConfigRef>,
    /// `[http]` of windlass.toml, for the Vault client.
    pub http: HttpConfig,
}

impl Context {
    /// Loads windlass.toml as `options` say (discovery, `--config`,
    /// `WINDLASS_CONFIG`, the user file, `WINDLASS_HTTP_*`) and takes the
    /// `[secrets]`, `[vault]` and `[http]` settings from it.
    pub fn load(options: &LoadOptions, env: Environment) -> Result<Self, LoadError> {
        let effective = options.load()?;
        let config = SecretsConfig::from_effective(&effective)?;
        let references = crate::config::config_references(&effective, &config);
        // Before anything can print: the variables the configuration reads
        // secrets from are secrets themselves.
        crate::config::declare_secret_vars(
            &crate::config::config_secret_env_vars(&effective),
            &env,
        );
        let project_dir = effective
            .project_dir()
            .map_or_else(|| options.cwd.clone(), Path::to_path_buf);
        Ok(Self {
            env,
            project_dir,
            config,
            references,
            http: HttpConfig::from_settings(&effective.settings.http),
        })
    }
}

/// How the process should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Status(ExitStatus),
    /// `exec`: end as the child ended (its exit code, or killed by the same
    /// signal, also when the signal was ours and forwarded to it).
    Child(windlass_process::ExitStatus),
}

/// The error types of this crate and of what it calls, for
/// [`Printer::builder`](windlass_output::Printer::builder).
pub fn classifier() -> Classifier {
    Classifier::new()
        .with::<ResolveError>()
        .with::<VaultError>()
        .with::<EntryError>()
        .with::<ParseError>()
        .with::<UsageError>()
        .with::<LoadError>()
        .with::<windlass_fs::ReadError>()
        .with::<windlass_process::SpawnError>()
        .with::<windlass_process::RunError>()
}

/// Runs a `secrets` command. Results and errors are left to the caller to
/// print except for `exec`, `get` and `mask`, whose output is their purpose.
///
/// The Vault token the command obtains is revoked on every way out: when it
/// succeeds, when it fails, and when a SIGINT or SIGTERM stops it (during
/// the login, the resolution or the output; a signal that arrives while
/// `exec`'s child runs is the child's, and the command ends as it does).
/// A command interrupted while no child runs returns
/// [`windlass_output::Interrupted`] once the token is revoked: one
/// `interrupted` line and exit 130.
pub async fn run(args: &SecretsArgs, ctx: &Context, printer: &Printer) -> anyhow::Result<Exit> {
    // Retries of Vault calls show on one transient status line, never as
    // log lines.
    let http = ctx
        .http
        .clone()
        .with_retry_observer(RetryObserver::new(printer.status_line().shows("Retrying")));
    let resolver =
        Resolver::new(ctx.env.clone(), &ctx.project_dir, ctx.config.vault.clone()).with_http(http);
    let result = windlass_process::until_interrupted(async {
        match &args.command {
            SecretsCommand::Exec(a) => exec(a, ctx, &resolver, printer).await,
            SecretsCommand::Get(a) => get(a, ctx, &resolver, printer).await,
            SecretsCommand::Check(_) => check(ctx, &resolver, printer).await,
            SecretsCommand::Mask(a) => mask(a, ctx, &resolver, printer).await,
        }
    })
    .await;
    resolver.close_unless_interrupted().await;
    match result {
        Ok(result) => result,
        Err(interrupted) => {
            tracing::debug!(signal = interrupted.signal(), "interrupted");
            Err(anyhow::Error::new(windlass_output::Interrupted))
        }
    }
}

/// A mistake in how a command was called.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    #[error("no secrets selected")]
    NothingSelected,
    #[error("`{name}` is not an entry of `[secrets]` in windlass.toml")]
    UnknownName { name: String },
    #[error("`{name}` is not a valid environment variable name")]
    BadName { name: String },
    #[error(
        "not a reference and not an entry of `[secrets]` (the value is not shown in case it is a secret)"
    )]
    NotAReference,
    #[error("refusing to print a secret to a terminal")]
    Terminal,
    #[error("not running inside GitHub Actions")]
    NotGitHubActions,
    #[error("`--json` cannot carry a secret value")]
    Json,
}

impl Diagnostic for UsageError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::NothingSelected => {
                "pass `--env NAME=REF` or `--all` (every entry of `[secrets]`)".into()
            }
            Self::UnknownName { .. } => "add it to `[secrets]` or pass `--env NAME=REF`".into(),
            Self::BadName { .. } => {
                "names are letters, digits and `_`, not starting with a digit".into()
            }
            Self::NotAReference => {
                "write a reference such as vault://secret/ci/pypi#token or env://NAME".into()
            }
            Self::Terminal => "pipe it (`| pbcopy`, `> file`) or pass `--reveal`".into(),
            Self::NotGitHubActions => {
                "`mask` talks to the GitHub Actions runner; elsewhere use `windlass secrets exec`"
                    .into()
            }
            Self::Json => "run `get` without `--json`".into(),
        })
    }
}

impl Diagnostic for ParseError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        Some(self.expected_form().to_owned())
    }
}

fn select(
    selection: &Selection,
    config: &SecretsConfig,
    default_all: bool,
) -> anyhow::Result<Vec<NamedRef>> {
    let mut refs: Vec<NamedRef> = Vec::new();
    if selection.all || (default_all && selection.env.is_empty()) {
        for entry in config.secrets.named_refs() {
            refs.push(entry?);
        }
    }
    for item in &selection.env {
        let named = if let Some((name, reference)) = item.split_once('=') {
            check_name(name)?;
            let reference = SecretRef::parse(reference)
                .with_context(|| format!("invalid reference for `{name}` in `--env`"))?;
            NamedRef {
                name: name.to_owned(),
                reference,
                secret: true,
            }
        } else {
            let entry = config
                .secrets
                .entries
                .get(item)
                .ok_or_else(|| UsageError::UnknownName { name: item.clone() })?;
            NamedRef::from_entry(item, entry)?
        };
        refs.retain(|r| r.name != named.name);
        refs.push(named);
    }
    if refs.is_empty() {
        return Err(UsageError::NothingSelected.into());
    }
    Ok(refs)
}

fn check_name(name: &str) -> Result<(), UsageError> {
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(UsageError::BadName {
            name: name.to_owned(),
        })
    }
}

/// Resolves all, failing on the first error (in selection order) after
/// logging the others.
async fn resolve_all(resolver: &Resolver, refs: &[NamedRef]) -> anyhow::Result<Vec<Resolved>> {
    let mut values = Vec::with_capacity(refs.len());
    let mut first_error = None;
    for (named, result) in refs.iter().zip(resolver.resolve_all(refs).await) {
        match result {
            Ok(r) => values.push(r),
            Err(e) if first_error.is_none() => {
                first_error = Some(anyhow::Error::new(e).context(format!(
                    "cannot resolve secret `{}` ({})",
                    named.name, named.reference
                )));
            }
            Err(e) => tracing::error!("cannot resolve secret `{}`: {e}", named.name),
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(values),
    }
}

/// How `exec`'s child ended (`data` of its `--json` result, printed after
/// the child ended; with `--json` the child's stdout goes to stderr, so
/// that stdout carries only JSON).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ExecReport {
    /// The code Windlass exits with: the child's exit code, or 128 + the
    /// signal that killed it.
    pub exit_code: i32,
    /// The signal that killed the child, if one did.
    pub signal: Option<i32>,
}

impl Outcome for ExecReport {}

/// What each `secrets` command prints with `--json`: the type of its result
/// `data` (no command streams events). `get` refuses `--json` (a value
/// never goes into a document): its result is always an error.
pub fn json_schemas() -> Vec<windlass_output::json::CommandSchema> {
    use windlass_output::json::CommandSchema;
    vec![
        CommandSchema::new::<ExecReport>("secrets exec"),
        CommandSchema::new::<()>("secrets get"),
        CommandSchema::new::<CheckReport>("secrets check"),
        CommandSchema::new::<MaskReport>("secrets mask"),
    ]
}

async fn exec(
    args: &ExecArgs,
    ctx: &Context,
    resolver: &Resolver,
    printer: &Printer,
) -> anyhow::Result<Exit> {
    let refs = select(&args.selection, &ctx.config, false)?;
    let values = resolve_all(resolver, &refs).await?;
    // The child never needs our Vault token: give it up before it starts.
    resolver.close().await;
    // The child's output is its own: no status line stays below it.
    printer.status_line().clear();

    let (program, rest) = args
        .command
        .split_first()
        .ok_or(UsageError::NothingSelected)?;
    let cwd = std::env::current_dir().context("cannot find the current directory")?;
    // The child acts for the user, in the user's environment: it keeps the
    // variables we were started with, credentials included (CI tokens, the
    // variables `env://` references read), as `env` would; the secrets it
    // asked for come on top. What it prints is redacted all the same. Our
    // own Vault token it never gets: it is revoked above.
    let mut cmd = Cmd::new(program, cwd).args(rest).inherit_credentials();
    for r in values {
        cmd = if r.secret {
            cmd.env_secret(r.name, r.value)
        } else {
            cmd.env(r.name, r.value.expose())
        };
    }
    // The child writes into our redacting pipe, not the terminal: tell
    // tools that check isatty to keep their colours when we are on one.
    let colour = windlass_output::stdout_is_terminal()
        && ctx
            .env
            .get("NO_COLOR")
            .is_none_or(std::ffi::OsStr::is_empty);
    if colour {
        for var in ["FORCE_COLOR", "CLICOLOR_FORCE"] {
            if ctx.env.get(var).is_none() {
                cmd = cmd.env(var, "1");
            }
        }
    }
    if printer.is_json() {
        cmd = cmd.stdout(windlass_process::Sink::Stderr);
    }
    let outcome = cmd.run().await?;
    let status = outcome.pass_on();
    if printer.is_json() {
        let report = ExecReport {
            exit_code: status.exit_code(),
            signal: match status {
                windlass_process::ExitStatus::Signal(signal) => Some(signal),
                windlass_process::ExitStatus::Code(_) => None,
            },
        };
        let code = u8::try_from(report.exit_code).unwrap_or(1);
        printer.report_with_code(&report, code)?;
    }
    Ok(Exit::Child(status))
}

async fn get(
    args: &GetArgs,
    ctx: &Context,
    resolver: &Resolver,
    printer: &Printer,
) -> anyhow::Result<Exit> {
    if printer.is_json() {
        return Err(UsageError::Json.into());
    }
    let reference = if args.reference.contains("://") {
        SecretRef::parse(&args.reference)?
    } else if let Some(entry) = ctx.config.secrets.entries.get(&args.reference) {
        NamedRef::from_entry(&args.reference, entry)?.reference
    } else {
        match SecretRef::parse(&args.reference) {
            // Refused without echoing: it may be a pasted value.
            Err(err)
                if matches!(
                    err.kind(),
                    ParseErrorKind::BareValue | ParseErrorKind::Empty
                ) =>
            {
                return Err(UsageError::NotAReference.into());
            }
            // A reference with a typo (`vault:/...`): say where.
            parsed => parsed?,
        }
    };
    let terminal = windlass_output::stdout_is_terminal();
    if terminal && !args.reveal {
        return Err(UsageError::Terminal.into());
    }
    let value = resolver
        .resolve(&reference)
        .await
        .with_context(|| format!("cannot resolve `{reference}`"))?;
    printer.status_line().clear();
    // The purpose of `get`: the raw value, bypassing the redactor, to a
    // pipe or file (or a terminal with --reveal).
    windlass_output::reveal(&value)?;
    Ok(Exit::Status(ExitStatus::Success))
}

/// The report of `check` (`data` of its `--json` result).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "SecretsCheckReport")]
pub struct CheckReport {
    pub secrets: Vec<CheckItem>,
}

/// One secret reference of the configuration, resolved once however many
/// places use it: never its value.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "SecretsCheckItem")]
pub struct CheckItem {
    /// The entry name for `[secrets]`, else the dotted key (of the first
    /// place that uses it).
    pub name: String,
    /// The reference as written (absent when it does not parse).
    pub reference: Option<String>,
    pub status: Status,
    /// Why it failed.
    pub message: Option<String>,
    pub hint: Option<String>,
    /// Every place that uses it: `[secrets] PYPI_TOKEN`,
    /// `wheel.repositories.internal.password`, `vault.approle.secret-id`.
    pub used_in: Vec<String>,
    /// An input to the Vault login, resolved before logging in.
    pub vault_login: bool,
}

impl CheckReport {
    fn render_items(
        items: &[&CheckItem],
        width: usize,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        for item in items {
            let reference = item.reference.as_deref().unwrap_or("-");
            let mut places = item.used_in.iter();
            let first = places.next().map_or(item.name.as_str(), String::as_str);
            writeln!(
                out,
                "{:<11} {first:<width$}  {reference}",
                item.status.as_str()
            )?;
            for place in places {
                writeln!(out, "{:<11} {place}", "")?;
            }
            if let Some(message) = &item.message {
                writeln!(out, "{:<11} {:<width$}  {message}", "", "")?;
            }
            if let Some(hint) = &item.hint {
                writeln!(out, "{:<11} {:<width$}  hint: {hint}", "", "")?;
            }
        }
        Ok(())
    }
}

impl Outcome for CheckReport {
    fn render_human(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        if self.secrets.is_empty() {
            return writeln!(out, "no secret references in the configuration");
        }
        let width = self
            .secrets
            .iter()
            .map(|s| s.used_in.first().map_or(s.name.len(), String::len))
            .max()
            .unwrap_or(0);
        let (login, rest): (Vec<&CheckItem>, Vec<&CheckItem>) =
            self.secrets.iter().partition(|s| s.vault_login);
        if login.is_empty() {
            Self::render_items(&rest, width, out)?;
        } else {
            writeln!(out, "vault login inputs (resolved before logging in):")?;
            Self::render_items(&login, width, out)?;
            if !rest.is_empty() {
                writeln!(out, "\nsecrets:")?;
                Self::render_items(&rest, width, out)?;
            }
        }
        let failed = self
            .secrets
            .iter()
            .filter(|s| s.status != Status::Ok)
            .count();
        if failed > 0 {
            writeln!(
                out,
                "\n{failed} of {} failed",
                windlass_output::plural(self.secrets.len(), "secret", "secrets")
            )?;
        }
        Ok(())
    }

    /// 0 when every secret resolved; 3 when a store could not be reached
    /// (the check could not run: CI may retry, as for every other command
    /// that cannot reach Vault); else 1.
    fn exit_status(&self) -> ExitStatus {
        if self.secrets.iter().all(|s| s.status == Status::Ok) {
            ExitStatus::Success
        } else if self.secrets.iter().any(|s| s.status == Status::Unreachable) {
            ExitStatus::Remote
        } else {
            ExitStatus::Failure
        }
    }
}

/// One reference to check, with every place that uses it.
struct CheckRow {
    name: String,
    used_in: Vec<String>,
    reference: Result<SecretRef, ParseError>,
    secret: bool,
    vault_login: bool,
}

impl CheckRow {
    fn named(&self) -> Option<NamedRef> {
        self.reference.as_ref().ok().map(|reference| NamedRef {
            name: self.name.clone(),
            reference: reference.clone(),
            secret: self.secret,
        })
    }
}

/// The references of the configuration, one row per distinct reference
/// (references that do not parse each get their own): Vault login inputs
/// first, then in the order of first use.
fn check_rows(references: &[ConfigRef]) -> Vec<CheckRow> {
    let mut rows: Vec<CheckRow> = Vec::new();
    for r in references {
        let parsed = SecretRef::parse(&r.reference);
        let same = parsed.as_ref().ok().and_then(|parsed| {
            rows.iter_mut()
                .find(|row| row.reference.as_ref().is_ok_and(|other| other == parsed))
        });
        if let Some(row) = same {
            row.used_in.push(r.used_in.clone());
            row.secret |= r.secret;
            row.vault_login |= r.vault_login;
        } else {
            rows.push(CheckRow {
                name: r.name.clone(),
                used_in: vec![r.used_in.clone()],
                reference: parsed,
                secret: r.secret,
                vault_login: r.vault_login,
            });
        }
    }
    // Stable: file order within each group.
    rows.sort_by_key(|row| !row.vault_login);
    rows
}

async fn check(ctx: &Context, resolver: &Resolver, printer: &Printer) -> anyhow::Result<Exit> {
    let rows = check_rows(&ctx.references);
    // The login inputs first: the login reads them, and they never come
    // from Vault itself.
    let mut results: Vec<Option<Result<(), ResolveError>>> = Vec::new();
    results.resize_with(rows.len(), || None);
    for login in [true, false] {
        let group: Vec<(usize, NamedRef)> = rows
            .iter()
            .enumerate()
            .filter(|(_, row)| row.vault_login == login)
            .filter_map(|(i, row)| row.named().map(|named| (i, named)))
            .filter(|(_, named)| !(login && matches!(named.reference, SecretRef::Vault(_))))
            .collect();
        let named: Vec<NamedRef> = group.iter().map(|(_, n)| n.clone()).collect();
        for ((i, _), result) in group.iter().zip(resolver.resolve_all(&named).await) {
            if let Some(slot) = results.get_mut(*i) {
                *slot = Some(result.map(|_| ()));
            }
        }
    }
    let mut items = Vec::with_capacity(rows.len());
    for (row, result) in rows.into_iter().zip(results) {
        let (reference, status, message, hint) = match (&row.reference, result) {
            (Err(e), _) => (
                None,
                Status::Invalid,
                Some(e.to_string()),
                Some(e.expected_form().to_owned()),
            ),
            (Ok(reference), Some(Ok(()))) => (Some(reference.to_string()), Status::Ok, None, None),
            (Ok(reference), Some(Err(e))) => (
                Some(reference.to_string()),
                e.status(),
                Some(windlass_output::error_line(&e)),
                e.hint(),
            ),
            // A login input written as a `vault://` reference.
            (Ok(reference), None) => {
                let what = if row.name.ends_with("role-id") {
                    "role id"
                } else {
                    "secret id"
                };
                let e = ResolveError::from(VaultError::AppRoleVaultRef { what });
                (
                    Some(reference.to_string()),
                    e.status(),
                    Some(windlass_output::error_line(&e)),
                    e.hint(),
                )
            }
        };
        items.push(CheckItem {
            name: row.name,
            reference,
            status,
            message,
            hint,
            used_in: row.used_in,
            vault_login: row.vault_login,
        });
    }
    let status = printer.report(&CheckReport { secrets: items })?;
    Ok(Exit::Status(status))
}

/// The report of `mask` (names only).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MaskReport {
    pub masked: Vec<String>,
    pub exported: Vec<String>,
}

impl Outcome for MaskReport {}

async fn mask(
    args: &MaskArgs,
    ctx: &Context,
    resolver: &Resolver,
    printer: &Printer,
) -> anyhow::Result<Exit> {
    let github = printer.github().ok_or(UsageError::NotGitHubActions)?;
    let refs = select(&args.selection, &ctx.config, true)?;
    let values = resolve_all(resolver, &refs).await?;
    let mut report = MaskReport {
        masked: Vec::new(),
        exported: Vec::new(),
    };
    // Every mask before any export, so no later line can show a value.
    for r in values.iter().filter(|r| r.secret) {
        github.add_mask(&r.value)?;
        report.masked.push(r.name.clone());
    }
    if args.export {
        for r in &values {
            if r.secret {
                github.export_secret_env(&r.name, &r.value)?;
            } else {
                github.set_env(&r.name, r.value.expose())?;
            }
            report.exported.push(r.name.clone());
        }
    }
    printer.status(
        "Masked",
        &windlass_output::plural(report.masked.len(), "secret", "secrets"),
    );
    let status = printer.report(&report)?;
    Ok(Exit::Status(status))
}
