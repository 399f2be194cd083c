//! The publish run: its request, its context and the schedule of the
//! look-ups and uploads.

use std::collections::BTreeSet;
use std::io::IsTerminal as _;
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt as _;
use futures_util::future::Either;
use indexmap::IndexMap;
use windlass_config::Environment;
use windlass_http::{HttpClient, HttpConfig, Method, RetryObserver};
use windlass_output::{Classified, Classifier, Diagnostic, ExitStatus, Printer};
use windlass_redact::Secret;
use windlass_secrets::{Resolver, SecretsConfig};

use crate::config::{Pypirc, RepositorySection};
use crate::dist::{DistError, Distribution};
use crate::local::LocalIndex;
use crate::oidc::TrustedPublisher;
use crate::report::{FileReport, FileStatus, PublishReport};
use crate::repository::{
    Auth, Credentials, Target, TargetError, TargetRequest, TargetSources, resolve_target,
};
use crate::upload::{Projects, Uploader};

/// What to publish and where: the inputs of one `publish` run, gathered
/// by its caller from flags and windlass.toml.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    /// Wheels and sdists to upload (relative to the context's working
    /// directory); empty means the ones in `dist/` of it.
    pub dists: Vec<PathBuf>,
    /// The repository, its simple API root and the credentials to use.
    pub target: TargetRequest,
    /// Files already on the index (same name and sha256) are expected:
    /// skip them without a warning.
    pub skip_existing: bool,
    /// Plan and send nothing but look-ups.
    pub dry_run: bool,
    /// How many files to upload (and projects to look up) at once.
    pub jobs: NonZeroU16,
    /// The `.pypirc` file to read (relative to the working directory)
    /// instead of `~/.pypirc`.
    pub pypirc: Option<PathBuf>,
}

/// Asks a question and returns the answer.
type Ask = dyn Fn(&str) -> std::io::Result<String> + Send + Sync;

/// Asks the person at the terminal for an API token, with hidden input.
#[derive(Clone)]
pub struct TokenPrompt {
    ask: Arc<Ask>,
}

impl std::fmt::Debug for TokenPrompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenPrompt")
    }
}

impl TokenPrompt {
    /// A prompt that calls `ask` with the question and returns the answer.
    pub fn new(ask: impl Fn(&str) -> std::io::Result<String> + Send + Sync + 'static) -> Self {
        Self { ask: Arc::new(ask) }
    }

    /// The terminal's prompt (input not echoed), when both stdin and stderr
    /// are terminals; `None` otherwise (CI, pipes, redirected output).
    pub fn terminal() -> Option<Self> {
        let interactive = std::io::stdin().is_terminal() && windlass_output::stderr_is_terminal();
        interactive.then(|| Self::new(|question: &str| rpassword::prompt_password(question)))
    }

    /// Asks; the answer is a registered [`Secret`] from the first moment.
    fn ask(&self, question: &str) -> Result<Secret<String>, TargetError> {
        let answer = (self.ask)(question).map_err(TargetError::Prompt)?;
        let token = Secret::registered(answer.trim().to_owned());
        drop(answer);
        if token.expose().is_empty() {
            return Err(TargetError::EmptyToken);
        }
        Ok(token)
    }
}

/// What to do when no credentials were found and `--no-credentials` was
/// not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WithoutCredentials {
    /// Ask for a token.
    Ask,
    /// A dry run in a terminal: plan; the real run will ask.
    PlanOnly,
    /// Stop before sending anything.
    Refuse,
}

/// Nothing is ever uploaded without credentials unless the user said so:
/// in a terminal the token is asked for (as twine does), elsewhere the run
/// stops. A dry run never asks (it uploads nothing) but stops too where the
/// real run would.
fn without_credentials(dry_run: bool, can_ask: bool) -> WithoutCredentials {
    match (can_ask, dry_run) {
        (true, false) => WithoutCredentials::Ask,
        (true, true) => WithoutCredentials::PlanOnly,
        (false, _) => WithoutCredentials::Refuse,
    }
}

/// What `publish` needs from its surroundings. The wheel CLI builds it
/// from windlass.toml (through `windlass-config`) and the process; tests
/// build their own. This crate reads no configuration file but `.pypirc`.
#[derive(Debug, Clone)]
pub struct PublishContext {
    /// The environment (`TWINE_*`, `ACTIONS_ID_TOKEN_*`, `VAULT_*`, `HOME`,
    /// and what `env://` references read).
    pub env: Environment,
    /// The working directory: relative distribution paths, `dist/` and
    /// `--pypirc` start here.
    pub cwd: PathBuf,
    /// The project directory (of windlass.toml, else the working
    /// directory): relative `file://` references start here.
    pub project_dir: PathBuf,
    /// `[wheel.repositories]` of windlass.toml.
    pub repositories: IndexMap<String, RepositorySection>,
    /// `[secrets]` and `[vault]` of windlass.toml; `[vault]` resolves
    /// `vault://` references.
    pub secrets: SecretsConfig,
    /// `[http]` of windlass.toml: for the index, the mint endpoint and
    /// Vault; its retry policy (`http.retries`, `http.retry-budget`) is the
    /// uploads' too.
    pub http: HttpConfig,
    /// How to ask for a token when none is configured: `None` where
    /// nobody can answer (the run then stops before sending anything).
    pub prompt: Option<TokenPrompt>,
}

/// The error types of this crate, for a binary's [`Classifier`] (errors
/// returned by [`publish`] are already classified; this is for callers
/// that use the library pieces directly).
pub fn classifier() -> Classifier {
    Classifier::new()
        .with::<DistError>()
        .with::<crate::repository::TargetError>()
        .with::<crate::oidc::OidcError>()
        .with::<crate::local::LocalIndexError>()
        .with::<windlass_http::HttpError>()
        .with::<windlass_http::BuildError>()
}

/// Runs `windlass wheel publish`.
///
/// Errors come classified (exit status and hint attached), so the caller's
/// printer needs no classifier. A run that uploaded some files and failed
/// others returns `Ok` with the failures in the report; its
/// [`Outcome::exit_status`](windlass_output::Outcome::exit_status) is 3 when
/// the index or network failed and 1 on a name conflict.
///
/// A SIGINT or SIGTERM stops it at any point: no further file is started,
/// uploads in flight are dropped, and a Vault token obtained for the
/// credentials is revoked (as it is on every other way out). Once uploads
/// had begun, the report of what was done comes back with `interrupted`
/// set (exit status 130): files uploaded or skipped, files not started,
/// and files in flight, which may or may not be on the index. Before that,
/// the error is [`windlass_output::Interrupted`]. Credentials are resolved
/// with one resolver, closed once they are found, before anything is
/// uploaded.
pub async fn publish(
    request: &PublishRequest,
    ctx: &PublishContext,
    printer: &Printer,
) -> anyhow::Result<PublishReport> {
    publish_checked(request, ctx, printer, std::future::ready(Ok(()))).await
}

/// [`publish`] with the caller's own check of the files (the wheel tool
/// runs the checks of `wheel check`): `check` runs while every file is read
/// and hashed, the target is chosen and the projects are looked up, and no
/// file is uploaded unless it succeeds. Its error (first), a file that
/// cannot be published, or a target that cannot be used ends the run
/// before any upload; look-ups, which send no file, may have been made.
pub async fn publish_checked(
    request: &PublishRequest,
    ctx: &PublishContext,
    printer: &Printer,
    check: impl Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<PublishReport> {
    if let Some(index) =
        crate::repository::local_index(&request.target, &ctx.env, &ctx.repositories)
    {
        let index = index.map_err(diagnosed)?;
        // Interrupted, the run stops where it is: every file and page is
        // written by rename, so the index is whole (a temporary file may
        // stay behind; no page lists it).
        return windlass_process::until_interrupted(Box::pin(publish_local(
            request, ctx, printer, index, check,
        )))
        .await
        .unwrap_or_else(|_| Err(anyhow::Error::new(windlass_output::Interrupted)));
    }
    // Retries (of uploads, look-ups and Vault calls) show on one transient
    // status line, never as log lines.
    let ctx = &PublishContext {
        http: ctx
            .http
            .clone()
            .with_retry_observer(RetryObserver::new(printer.status_line().shows("Retrying"))),
        ..ctx.clone()
    };
    let resolver = Resolver::new(ctx.env.clone(), &ctx.project_dir, ctx.secrets.vault.clone())
        .with_http(ctx.http.clone());
    let ledger = Ledger::default();
    // Boxed: the run's state (every file's work, the look-ups) is large.
    let result = windlass_process::until_interrupted(Box::pin(publish_with(
        request, ctx, &resolver, printer, &ledger, check,
    )))
    .await;
    resolver.close_unless_interrupted().await;
    match result {
        Ok(result) => result,
        Err(interrupted) => {
            tracing::debug!(signal = interrupted.signal(), "publish interrupted");
            match ledger.interrupted() {
                Some(report) => Ok(finish_report(report, printer)),
                None => Err(anyhow::Error::new(windlass_output::Interrupted)),
            }
        }
    }
}

/// Publishes into a static index directory: the files checked, read and
/// hashed as for a server, then written under the index's lock.
async fn publish_local(
    request: &PublishRequest,
    ctx: &PublishContext,
    printer: &Printer,
    index: LocalIndex,
    check: impl Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<PublishReport> {
    let paths = dist_paths(&request.dists, &ctx.cwd, &ctx.cwd.join("dist"))?;
    let (checked, inspected) = futures_util::future::join(check, inspect_all(&paths)).await;
    checked?;
    let dists = inspected?;
    announce(printer, request.dry_run, dists.len(), &index.url);
    let dry_run = request.dry_run;
    let (waiting, waited) = tokio::sync::oneshot::channel::<()>();
    let url = index.url.to_string();
    let mut task = tokio::task::spawn_blocking(move || {
        crate::local::publish(&index, &dists, dry_run, move || {
            let _ = waiting.send(());
        })
    });
    let joined = tokio::select! {
        joined = &mut task => joined,
        Ok(()) = waited => {
            printer.status("Waiting", &format!("for another publisher of {url} to finish"));
            task.await
        }
    };
    let report = joined
        .map_err(|join| {
            classified(
                ExitStatus::Bug,
                None,
                anyhow::Error::new(join).context("publishing into the local index panicked"),
            )
        })?
        .map_err(diagnosed)?;
    if !request.skip_existing {
        warn_skipped(&report, printer);
    }
    Ok(finish_report(report, printer))
}

/// The status line a publish starts with: `Publishing N files to URL`
/// (`Planning` for a dry run).
fn announce(printer: &Printer, dry_run: bool, files: usize, to: &dyn std::fmt::Display) {
    let verb = if dry_run { "Planning" } else { "Publishing" };
    let count = windlass_output::plural(files, "file", "files");
    printer.status(verb, &format!("{count} to {to}"));
}

/// Each file's state during the uploads, kept outside the work so that an
/// interrupted run (whose work is dropped) can still say what was done.
#[derive(Debug, Default)]
struct Ledger(std::sync::Mutex<Option<(PublishReport, Vec<Slot>)>>);

#[derive(Debug)]
struct Slot {
    /// The file's report: its final one once `state` is `Done`.
    report: FileReport,
    state: SlotState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Waiting,
    InFlight,
    Done,
}

impl Ledger {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(PublishReport, Vec<Slot>)>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Uploads begin: every file waits.
    fn open(&self, header: PublishReport, files: Vec<FileReport>) {
        let slots = files
            .into_iter()
            .map(|report| Slot {
                report,
                state: SlotState::Waiting,
            })
            .collect();
        *self.lock() = Some((header, slots));
    }

    fn start(&self, index: usize) {
        if let Some((_, slots)) = self.lock().as_mut()
            && let Some(slot) = slots.get_mut(index)
        {
            slot.state = SlotState::InFlight;
        }
    }

    fn done(&self, index: usize, report: &FileReport) {
        if let Some((_, slots)) = self.lock().as_mut()
            && let Some(slot) = slots.get_mut(index)
        {
            slot.report = report.clone();
            slot.state = SlotState::Done;
        }
    }

    /// The report of a run interrupted now, if uploads had begun.
    fn interrupted(&self) -> Option<PublishReport> {
        let (mut report, slots) = self.lock().take()?;
        report.interrupted = true;
        report.files = slots
            .into_iter()
            .map(|slot| match slot.state {
                SlotState::Done => slot.report,
                SlotState::Waiting => slot.report.with(
                    FileStatus::NotStarted,
                    crate::report::NOT_STARTED_REASON.to_owned(),
                ),
                SlotState::InFlight => slot.report.with(
                    FileStatus::Interrupted,
                    crate::report::IN_FLIGHT_REASON.to_owned(),
                ),
            })
            .collect();
        report.count();
        Some(report)
    }
}

/// Uploads (or plans) one file, noting it in the ledger.
async fn one(
    index: usize,
    dist: &Distribution,
    uploader: &Uploader<'_>,
    ledger: &Ledger,
    dry_run: bool,
) -> (usize, FileReport) {
    let report = if dry_run {
        ledger.start(index);
        uploader.plan(dist).await
    } else {
        upload_one(index, dist, uploader, ledger).await
    };
    ledger.done(index, &report);
    (index, report)
}

/// Looks the file up (its project's shared look-up) and uploads it unless
/// that settles it.
async fn upload_one(
    index: usize,
    dist: &Distribution,
    uploader: &Uploader<'_>,
    ledger: &Ledger,
) -> FileReport {
    if let Some(report) = uploader.not_started(dist) {
        return report;
    }
    if let Some(report) = uploader.check(dist).await {
        return report;
    }
    ledger.start(index);
    uploader.upload(dist).await
}

/// The order files are started in: the smallest first (the first upload
/// goes alone until the index answers, so it should be quick), then the
/// largest first, so that the longest upload does not end the run alone.
/// Sizes count by their power of two: files of about one size keep the
/// order they were given in.
fn schedule(sizes: &[u64]) -> Vec<usize> {
    let class = |i: usize| 64 - sizes[i].leading_zeros();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    // Stable: the given order within a size class.
    order.sort_by_key(|&i| std::cmp::Reverse(class(i)));
    let smallest = (0..sizes.len()).min_by_key(|&i| class(i));
    if let Some(smallest) = smallest {
        order.retain(|&i| i != smallest);
        order.insert(0, smallest);
    }
    order
}

async fn publish_with(
    request: &PublishRequest,
    ctx: &PublishContext,
    resolver: &Resolver,
    printer: &Printer,
    ledger: &Ledger,
    check: impl Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<PublishReport> {
    // 1. Every file checked, read and hashed before anything is uploaded;
    // meanwhile the target is chosen and, once it is, the projects the
    // file names give are looked up (look-ups send no file).
    let paths = dist_paths(&request.dists, &ctx.cwd, &ctx.cwd.join("dist"))?;
    let inspecting = inspect_all(&paths);
    let checked = async {
        let (checked, inspected) = futures_util::future::join(check, inspecting).await;
        checked?;
        inspected
    };
    let mut checked = std::pin::pin!(checked);
    let choosing = std::pin::pin!(choose_target(request, ctx, resolver));
    let (target, mut dists) = match futures_util::future::select(choosing, checked.as_mut()).await {
        Either::Left((target, _)) => (target, None),
        // A file that cannot be published stops the run at once.
        Either::Right((dists, choosing)) => {
            let dists = dists?;
            (choosing.await, Some(dists))
        }
    };
    let mut target = match target {
        Ok(target) => target,
        // The files' error first, as when checks ran before anything else.
        Err(error) => {
            if dists.is_none() {
                checked.as_mut().await?;
            }
            return Err(error);
        }
    };
    // 2. With no credentials found, wait for the files before asking for a
    // token (or refusing): nothing, not even a look-up, is sent first.
    if matches!(target.credentials, Credentials::None) && !request.target.anonymous {
        if dists.is_none() {
            dists = Some(checked.as_mut().await?);
        }
        complete_credentials(&mut target, request, ctx, printer)?;
    }
    let client = HttpClient::new(&ctx.http).map_err(diagnosed)?;
    client
        .check_url(&Method::POST, &target.upload_url)
        .map_err(diagnosed)?;
    let trusted = matches!(target.credentials, Credentials::TrustedPublishing).then(|| {
        TrustedPublisher::new(
            client.clone(),
            target.trusted_publishing_url.clone(),
            ctx.env.clone(),
        )
    });
    let uploader = Uploader {
        client,
        target: &target,
        trusted,
        printer,
        skip_existing: request.skip_existing,
        refused: std::sync::Mutex::new(None),
        projects: Projects::default(),
    };
    let uploader = &uploader;
    let jobs = usize::from(request.jobs.get());
    // Each project is looked up once, ahead of its files and at most
    // `jobs` at once, while the files are checked and then uploaded: an
    // upload rarely waits for its look-up, and the look-ups go ahead while
    // the first upload waits alone for its answer. The projects come from
    // the file names, in the order the files will start (sizes from the
    // file system; a file that cannot be read stops the run anyway).
    let sizes: Vec<u64> = paths
        .iter()
        .map(|path| std::fs::metadata(path).map_or(0, |m| m.len()))
        .collect();
    let mut names = BTreeSet::new();
    let projects: Vec<String> = schedule(&sizes)
        .into_iter()
        .filter_map(|i| {
            let filename = paths[i].file_name()?.to_str()?;
            crate::dist::project_of_filename(filename)
        })
        .filter(|name| names.insert(name.clone()))
        .collect();
    let prefetch = futures_util::stream::iter(&projects)
        .for_each_concurrent(jobs, |name| uploader.prefetch(name));
    let work = async {
        let dists = match dists {
            Some(dists) => dists,
            None => checked.await?,
        };
        Ok::<_, anyhow::Error>(upload_all(request, &dists, uploader, printer, ledger).await)
    };
    // The work ends the run: the look-ups go on while it needs them, and
    // stop when it ends (a file that cannot be published, or all done).
    let report =
        match futures_util::future::select(std::pin::pin!(work), std::pin::pin!(prefetch)).await {
            Either::Left((report, _)) => report?,
            Either::Right(((), work)) => work.await?,
        };
    if !request.skip_existing {
        warn_skipped(&report, printer);
    }
    Ok(finish_report(report, printer))
}

/// Uploads (or plans) every file, a bounded number at once, results in
/// input order.
async fn upload_all(
    request: &PublishRequest,
    dists: &[Distribution],
    uploader: &Uploader<'_>,
    printer: &Printer,
    ledger: &Ledger,
) -> PublishReport {
    let target = uploader.target;
    announce(printer, request.dry_run, dists.len(), &target.upload_url);
    let header = PublishReport {
        repository: target
            .name
            .clone()
            .unwrap_or_else(|| target.upload_url.to_string()),
        upload_url: target.upload_url.to_string(),
        simple_url: target.simple_url.to_string(),
        credentials: target.credential_source.clone(),
        dry_run: request.dry_run,
        uploaded: 0,
        skipped: 0,
        failed: 0,
        not_started: 0,
        interrupted: false,
        in_flight: 0,
        files: Vec::new(),
        credential_reference: target.credential_reference.clone(),
    };
    ledger.open(
        header.clone(),
        dists.iter().map(|d| uploader.report(d)).collect(),
    );
    let jobs = usize::from(request.jobs.get());
    let sizes: Vec<u64> = dists.iter().map(|d| d.size).collect();
    let mut files: Vec<(usize, FileReport)> = Vec::with_capacity(dists.len());
    let mut rest = schedule(&sizes).into_iter();
    if !request.dry_run {
        // One upload at a time until one is sent: credentials the index
        // refuses then cost one attempt, and the other files are never
        // started.
        for index in rest.by_ref() {
            let (index, report) = one(index, &dists[index], uploader, ledger, false).await;
            let sent = report.attempts > 0;
            files.push((index, report));
            if sent {
                break;
            }
        }
    }
    let others: Vec<(usize, FileReport)> = futures_util::stream::iter(rest)
        .map(|index| one(index, &dists[index], uploader, ledger, request.dry_run))
        .buffer_unordered(jobs)
        .collect()
        .await;
    files.extend(others);
    files.sort_by_key(|(index, _)| *index);
    let mut report = header;
    report.files = files.into_iter().map(|(_, f)| f).collect();
    report.count();
    report
}

/// One warning for every file skipped as already on the index, when the
/// run did not say to expect them (`--skip-existing`): the per-file lines
/// say which.
fn warn_skipped(report: &PublishReport, printer: &Printer) {
    if report.skipped > 0 {
        let files = windlass_output::plural(report.skipped, "file was", "files were");
        printer.warn(&format!(
            "{files} already on the index with the same sha256 and skipped (pass --skip-existing to expect this)"
        ));
    }
}

/// In GitHub Actions, the step summary and one annotation per failed file.
fn finish_report(report: PublishReport, printer: &Printer) -> PublishReport {
    if let Some(github) = printer.github() {
        if let Err(error) = github.append_summary(&report.markdown()) {
            printer.warn(&format!("cannot write the step summary: {error}"));
        }
        for file in &report.files {
            if let Some(error) = &file.error {
                let _ = github.annotate(
                    &windlass_output::github::Annotation::error(error.message.as_str())
                        .title(format!("windlass wheel publish: {}", file.file)),
                );
            }
        }
    }
    report
}

/// Reads `.pypirc` and resolves the target and its credentials, if any
/// are configured.
async fn choose_target(
    publish: &PublishRequest,
    ctx: &PublishContext,
    resolver: &Resolver,
) -> anyhow::Result<Target> {
    let pypirc_path = publish
        .pypirc
        .as_ref()
        .map(|p| ctx.cwd.join(p))
        .or_else(|| ctx.env.home().map(|h| h.join(".pypirc")));
    let pypirc = match &pypirc_path {
        Some(path) => Pypirc::load(path).map_err(|e| {
            classified(
                ExitStatus::Usage,
                e.hint().map(str::to_owned),
                anyhow::Error::new(e).context(format!("cannot read `{}`", path.display())),
            )
        })?,
        None => Pypirc::default(),
    };
    let request = &publish.target;
    let sources = TargetSources {
        env: &ctx.env,
        repositories: &ctx.repositories,
        pypirc: &pypirc,
        resolver,
    };
    resolve_target(request, &sources).await.map_err(diagnosed)
}

/// For a target with no credentials (and no `--no-credentials`): asks for
/// a token, or says the real run will, or stops.
fn complete_credentials(
    target: &mut Target,
    publish: &PublishRequest,
    ctx: &PublishContext,
    printer: &Printer,
) -> anyhow::Result<()> {
    let request = &publish.target;
    match without_credentials(publish.dry_run, ctx.prompt.is_some()) {
        WithoutCredentials::Refuse => Err(diagnosed(target.no_credentials(request))),
        WithoutCredentials::PlanOnly => {
            printer.warn(&format!(
                "no credentials for {}: the real run will ask for a token",
                target.upload_url
            ));
            Ok(())
        }
        WithoutCredentials::Ask => {
            let prompt = ctx
                .prompt
                .as_ref()
                .ok_or_else(|| diagnosed(target.no_credentials(request)))?;
            printer.status(
                "Credentials",
                &format!("none configured for {}", target.upload_url),
            );
            let question = format!("API token for {} (input hidden): ", target.upload_url);
            let token = prompt.ask(&question).map_err(diagnosed)?;
            target.credentials = Credentials::Basic(Auth::token(token));
            "the prompt".clone_into(&mut target.credential_source);
            target.credential_reference = None;
            Ok(())
        }
    }
}

/// The distributions to work on: `dists` (relative to `cwd`), or else the
/// `*.whl` and `*.tar.gz` files in `default_dir`, sorted; duplicates
/// dropped. None at all is an input error (exit 2) with a hint.
pub fn dist_paths(
    dists: &[PathBuf],
    cwd: &Path,
    default_dir: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = if dists.is_empty() {
        let entries = std::fs::read_dir(default_dir).map_err(|e| {
            classified(
                ExitStatus::Usage,
                Some("build them first with `windlass wheel build`, or pass the files".to_owned()),
                anyhow::Error::new(e).context(format!("cannot list `{}`", default_dir.display())),
            )
        })?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(is_dist_name)
            })
            .collect();
        found.sort();
        found
    } else {
        dists
            .iter()
            .map(|p| windlass_output::clean_path(&cwd.join(p)))
            .collect()
    };
    let mut seen = BTreeSet::new();
    paths.retain(|p| seen.insert(p.clone()));
    if paths.is_empty() {
        return Err(classified(
            ExitStatus::Usage,
            Some("build them first with `windlass wheel build`, or pass the files".to_owned()),
            anyhow::anyhow!("no wheels or sdists in `{}`", default_dir.display()),
        ));
    }
    Ok(paths)
}

/// Reads every file on blocking threads; the first bad file stops the run
/// (the others are named in warnings-free order of the arguments).
async fn inspect_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Distribution>> {
    let tasks: Vec<_> = paths
        .iter()
        .cloned()
        .map(|path| tokio::task::spawn_blocking(move || Distribution::inspect(&path)))
        .collect();
    let mut dists = Vec::with_capacity(tasks.len());
    let mut errors = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(dist)) => dists.push(dist),
            Ok(Err(error)) => errors.push(error),
            Err(join) => {
                return Err(classified(
                    ExitStatus::Bug,
                    None,
                    anyhow::Error::new(join).context("reading a distribution panicked"),
                ));
            }
        }
    }
    if let Some(first) = errors.into_iter().next() {
        return Err(diagnosed(first));
    }
    let mut names = BTreeSet::new();
    for dist in &dists {
        if !names.insert(dist.filename.clone()) {
            return Err(classified(
                ExitStatus::Usage,
                Some("pass each file once".to_owned()),
                anyhow::anyhow!(
                    "`{}` is given twice (from different directories)",
                    dist.filename
                ),
            ));
        }
    }
    Ok(dists)
}

#[allow(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "distribution file names are lowercase by specification"
)]
fn is_dist_name(name: &str) -> bool {
    name.ends_with(".whl") || name.ends_with(".tar.gz")
}

fn diagnosed<E>(error: E) -> anyhow::Error
where
    E: std::error::Error + Diagnostic + Send + Sync + 'static,
{
    let status = error.exit_status();
    let hint = error.hint();
    classified(status, hint, anyhow::Error::new(error))
}

fn classified(status: ExitStatus, hint: Option<String>, error: anyhow::Error) -> anyhow::Error {
    let mut classified = Classified::new(error).with_status(status);
    if let Some(hint) = hint {
        classified = classified.with_hint(hint);
    }
    classified.into()
}

#[cfg(test)]
mod tests {
    use super::{WithoutCredentials, without_credentials};

    /// Without credentials nothing is uploaded unless someone at a terminal
    /// types a token; a dry run never asks, and stops where the real run
    /// would.
    #[test]
    fn what_happens_without_credentials() {
        let table: Vec<String> = [(false, false), (true, false), (false, true), (true, true)]
            .into_iter()
            .map(|(dry_run, can_ask)| {
                format!(
                    "dry_run={dry_run} can_ask={can_ask}: {:?}",
                    without_credentials(dry_run, can_ask)
                )
            })
            .collect();
        assert_eq!(
            table,
            [
                "dry_run=false can_ask=false: Refuse",
                "dry_run=true can_ask=false: Refuse",
                "dry_run=false can_ask=true: Ask",
                "dry_run=true can_ask=true: PlanOnly",
            ]
        );
        assert_eq!(without_credentials(false, true), WithoutCredentials::Ask);
    }
}
