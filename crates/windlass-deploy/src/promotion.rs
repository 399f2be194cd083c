//! The promotion: one function used by `deploy up`, `deploy promote` and
//! `deploy rollback`, and the recovery of a promotion a killed run left
//! unfinished.
//!
//! Order, each step written to the ledger before the next starts: the
//! environment's lease -> recovery of an unfinished promotion -> `Started`
//! (the whole bundle) -> the gates before (one `Gate` record each) -> the
//! chart checked against the bundle's digest -> the values (secret ones
//! resolved and registered for redaction, handed to Helm as private
//! files) -> `helm upgrade --install --wait --rollback-on-failure` ->
//! `Upgraded` -> rollout and verification -> `Succeeded`, or `helm
//! rollback` to the previous revision, `RolledBack` and `Failed`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use windlass_output::{ExitStatus, Outcome, Printer, ResultExt as _};
use windlass_redact::Secret;

use crate::bundle::{Bundle, BundleId};
use crate::cli::Context;
use crate::config::StrategyKind;
use crate::gates::GateResult;
use crate::helm::{BUNDLE_LABEL, UpgradeRequest};
use crate::kube::lease::EnvLock;
use crate::kube::ledger::{Entry, Event, NewEntry, PassedCheck};
use crate::kube::releases::RecordState;
use crate::stage::{LedgerView, Stage};
use crate::strategy::{LastDeployed, StepReport, StrategyRun, Switch, VerifyStep};

/// How long a promotion's lease lives without renewal: a killed run's
/// lease is taken over after this.
pub const LEASE_TTL: Duration = Duration::from_secs(30);

/// What a promotion does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `deploy up`: a bundle just made.
    Up,
    /// `deploy promote`: the bundle live in the `from` environment.
    Promote,
    /// `deploy rollback`: an earlier bundle of this environment.
    Rollback,
}

/// A promotion to run.
#[derive(Debug)]
pub struct Request {
    pub kind: Kind,
    pub bundle: Bundle,
    pub from: Option<String>,
    /// The chart archive to install (checked against the bundle's digest);
    /// `None` with [`Self::rollback_to`].
    pub archive: Option<PathBuf>,
    /// `helm rollback` to this revision instead of an upgrade.
    pub rollback_to: Option<u32>,
    /// The bundle being rolled back away from (`deploy rollback`).
    pub replacing: Option<BundleId>,
    /// Deploy a bundle even though it was rolled back here before.
    pub allow_rolled_back: bool,
}

/// How a promotion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Result_ {
    /// The bundle is live.
    Succeeded,
    /// A gate refused it, the upgrade failed, or the verification failed
    /// and the release was rolled back.
    Failed,
    /// `--dry-run`: the bundle was made, nothing deployed.
    DryRun,
}

/// What recovery did with a promotion a killed run left unfinished.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Recovery {
    /// The unfinished promotion (its `Started` record's seq).
    pub promotion: u64,
    pub bundle: BundleId,
    /// `resumed` (Helm shows the bundle deployed and healthy: recorded as
    /// succeeded), `rolled-back` (back to the last succeeded revision),
    /// `closed` (nothing had changed, or nothing to roll back to).
    pub action: String,
    /// The release's revision afterwards.
    pub revision: Option<u32>,
    pub detail: String,
}

/// What `deploy up`, `deploy promote` and `deploy rollback` report.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct PromotionReport {
    pub kind: Kind,
    pub environment: String,
    pub namespace: String,
    pub release: String,
    pub bundle: BundleId,
    /// The whole bundle.
    pub content: Bundle,
    pub from: Option<String>,
    pub result: Result_,
    /// The ledger seq of this promotion's `Started` record.
    pub promotion: Option<u64>,
    /// The Helm revision the release is at afterwards.
    pub revision: Option<u32>,
    /// Every gate and check, in order.
    pub gates: Vec<GateResult>,
    /// Why it failed.
    pub reason: Option<String>,
    /// The revision the release was rolled back to after a failure.
    pub rolled_back_to: Option<u32>,
    /// An unfinished promotion found and dealt with first.
    pub recovered: Option<Recovery>,
    /// A stale lease of a killed run that was taken over.
    pub lease_takeover: Option<String>,
    /// The strategy that ran.
    pub strategy: StrategyKind,
    /// The Helm release serving traffic afterwards: the release itself,
    /// or `RELEASE-blue`/`RELEASE-green` with `blue-green`.
    pub live_release: Option<String>,
    /// The strategy's steps (upgrade, switch, canary shares), with their
    /// checks.
    pub steps: Vec<StepReport>,
}

impl Outcome for PromotionReport {
    fn render_human(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        if let Some(recovery) = &self.recovered {
            writeln!(
                out,
                "recovered: promotion {} of bundle {} {}: {}",
                recovery.promotion, recovery.bundle, recovery.action, recovery.detail
            )?;
        }
        for gate in &self.gates {
            let mark = if gate.passed { "ok" } else { "FAILED" };
            writeln!(out, "gate {}: {mark} ({})", gate.gate, gate.detail)?;
        }
        let what = match self.kind {
            Kind::Up => "deployed",
            Kind::Promote => "promoted",
            Kind::Rollback => "rolled back to",
        };
        match self.result {
            Result_::DryRun => writeln!(
                out,
                "bundle {} (dry run: nothing deployed to {})",
                self.bundle, self.environment
            ),
            Result_::Succeeded => writeln!(
                out,
                "{what} bundle {} in {} (release {}, revision {})",
                self.bundle,
                self.environment,
                self.live_release.as_deref().unwrap_or(&self.release),
                self.revision
                    .map_or_else(|| "?".to_owned(), |r| r.to_string())
            ),
            Result_::Failed => {
                writeln!(
                    out,
                    "failed: bundle {} in {}: {}",
                    self.bundle,
                    self.environment,
                    self.reason.as_deref().unwrap_or("unknown")
                )?;
                if let Some(to) = self.rolled_back_to {
                    writeln!(
                        out,
                        "rolled back: release {} is at revision {to}",
                        self.live_release.as_deref().unwrap_or(&self.release)
                    )?;
                }
                Ok(())
            }
        }
    }

    fn exit_status(&self) -> ExitStatus {
        match self.result {
            Result_::Succeeded | Result_::DryRun => ExitStatus::Success,
            Result_::Failed => ExitStatus::Failure,
        }
    }
}

impl PromotionReport {
    /// The report of a bundle that was made and not deployed.
    pub fn dry_run(stage_name: &str, release: &str, bundle: Bundle) -> Self {
        Self {
            kind: Kind::Up,
            environment: stage_name.to_owned(),
            namespace: String::new(),
            release: release.to_owned(),
            bundle: bundle.id(),
            content: bundle,
            from: None,
            result: Result_::DryRun,
            promotion: None,
            revision: None,
            gates: Vec::new(),
            reason: None,
            rolled_back_to: None,
            recovered: None,
            lease_takeover: None,
            strategy: StrategyKind::default(),
            live_release: None,
            steps: Vec::new(),
        }
    }
}

/// Who holds a lease: actor, host and pid.
pub fn holder(ctx: &Context) -> String {
    let host = ctx
        .env
        .get_str("HOSTNAME")
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            windlass_fs::read_to_string(std::path::Path::new("/proc/sys/kernel/hostname"), 256)
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{} on {host} (pid {})", ctx.actor(), std::process::id())
}

/// A promotion's start: the environment's lease held, and the first look
/// at its ledger and Helm's records read alongside.
#[derive(Debug)]
pub struct Begun {
    lock: EnvLock,
    first_look: Option<FirstLook>,
    /// The ledger of the environment promoted from, read alongside.
    from_entries: Option<Vec<Entry>>,
}

impl Begun {
    /// Gives the lease back without promoting (what was to be deployed
    /// could not be made).
    pub async fn release(self, stage: &Stage, printer: &Printer) {
        release(self.lock, stage, printer).await;
    }
}

/// Takes `stage`'s lease, reading its ledger and Helm's records and
/// waiting for the cluster's answer to the version request made when
/// opening, all at once. What else the command prepares (the bundle) can
/// be made meanwhile; then [`run_begun`].
pub async fn begin(ctx: &Context, stage: &Stage, printer: &Printer) -> anyhow::Result<Begun> {
    let (reachable, lock, first_look, from_entries) = tokio::join!(
        stage.cluster.reachable(),
        acquire(ctx, stage, printer),
        FirstLook::read(stage),
        from_ledger(ctx, stage),
    );
    let lock = match (reachable, lock) {
        (Ok(()), Ok(lock)) => lock,
        (Err(error), Ok(lock)) => {
            release(lock, stage, printer).await;
            return Err(error.into());
        }
        (Err(error), Err(_)) => return Err(error.into()),
        (Ok(()), Err(error)) => return Err(error),
    };
    // A lease taken over from a killed run: its last records may have come
    // after the first look, which is not used.
    let first_look = first_look.ok().filter(|_| lock.takeover().is_none());
    Ok(Begun {
        lock,
        first_look,
        from_entries,
    })
}

/// The ledger of the environment `stage` is promoted from, for its gates
/// (read again later when this fails).
async fn from_ledger(ctx: &Context, stage: &Stage) -> Option<Vec<Entry>> {
    let from = stage.spec.from.as_deref()?;
    let from_stage = Stage::open_unchecked(ctx, from).await.ok()?;
    from_stage.ledger.entries().await.ok()
}

async fn release(lock: EnvLock, stage: &Stage, printer: &Printer) {
    if let Err(error) = lock.release().await {
        printer.warn(&format!(
            "cannot release the lease of `{}` (it expires by itself): {error}",
            stage.name
        ));
    }
}

/// Runs a promotion to `stage`: takes its lease, recovers an unfinished
/// promotion, then deploys. SIGINT or SIGTERM stops it: the ledger gets
/// `Failed { reason: "interrupted" }`, the lease is released and the
/// error is an interruption (exit 130). A release left at an unverified
/// revision is rolled back by the next command's recovery.
pub async fn run(
    ctx: &Context,
    stage: &Stage,
    request: Request,
    printer: &Printer,
) -> anyhow::Result<PromotionReport> {
    let begun = begin(ctx, stage, printer).await?;
    run_begun(ctx, stage, begun, request, printer).await
}

/// [`run`] once [`begin`] took the lease.
pub async fn run_begun(
    ctx: &Context,
    stage: &Stage,
    begun: Begun,
    request: Request,
    printer: &Printer,
) -> anyhow::Result<PromotionReport> {
    let Begun {
        lock,
        first_look,
        from_entries,
    } = begun;
    let started: Mutex<Option<u64>> = Mutex::new(None);
    let end: Mutex<Option<Event>> = Mutex::new(None);
    // A signal that reaches a child in the foreground (helm, a verify
    // command) is the child's: the promotion learns of it here and stops
    // at the next step instead of going on (or rolling back) as if the
    // child had failed by itself.
    let signalled = Arc::new(AtomicBool::new(false));
    let watcher = watch_signals(Arc::clone(&signalled));
    let outcome = windlass_process::until_interrupted(Box::pin(steps(
        ctx,
        stage,
        request.clone_parts(),
        (&started, &end),
        &lock,
        &signalled,
        (first_look, from_entries),
        printer,
    )))
    .await;
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    let outcome = match outcome {
        Ok(Err(error))
            if error
                .downcast_ref::<windlass_output::Interrupted>()
                .is_some() =>
        {
            Err(error)
        }
        Ok(result) => Ok(result),
        Err(interrupted) => Err(anyhow::Error::new(interrupted)),
    };
    let result = match outcome {
        Ok(result) => result,
        Err(interrupted) => {
            let promotion = *started.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(promotion) = promotion {
                let record = stage.ledger.append(NewEntry {
                    actor: ctx.actor(),
                    promotion: Some(promotion),
                    bundle: request.bundle.id(),
                    event: Event::Failed {
                        reason: "interrupted".to_owned(),
                        rolled_back_to: None,
                    },
                });
                // A second signal leaves the record unwritten; the next
                // command finds the promotion unfinished and recovers it.
                if windlass_process::until_interrupted(record).await.is_err() {
                    tracing::warn!(
                        "interrupted again: the ledger record of the interruption is not written"
                    );
                }
            }
            Err(interrupted)
        }
    };
    let end = end.lock().unwrap_or_else(PoisonError::into_inner).take();
    let promotion = *started.lock().unwrap_or_else(PoisonError::into_inner);
    match (result, end, promotion) {
        (Ok(report), Some(event), Some(promotion)) => {
            // The end and the lease's release at once: one round trip, not
            // two. Whoever takes the lease in between finds the promotion
            // open only until the end lands; `write_end` settles the one
            // case where it lands second.
            let entry = NewEntry {
                actor: ctx.actor(),
                promotion: Some(promotion),
                bundle: request.bundle.id(),
                event,
            };
            let (written, ()) =
                tokio::join!(write_end(stage, entry), release(lock, stage, printer));
            written.map(|()| report)
        }
        (result, _, _) => {
            release(lock, stage, printer).await;
            result
        }
    }
}

/// Writes the record that ends a promotion, numbered right after the last
/// record this process read or wrote. With the lease released at the same
/// time, another run may have taken it and closed the promotion first
/// (its recovery found it open): that number is then taken, and the
/// promotion's end in the ledger is the one that counts.
async fn write_end(stage: &Stage, entry: NewEntry) -> anyhow::Result<()> {
    let promotion = entry.promotion;
    if stage.ledger.append_next(entry.clone()).await?.is_some() {
        return Ok(());
    }
    let entries = stage.ledger.entries().await?;
    let closed = entries.iter().find(|e| {
        Some(e.promotion) == promotion
            && matches!(e.event, Event::Succeeded { .. } | Event::Failed { .. })
    });
    match closed.map(|e| &e.event) {
        Some(Event::Succeeded { .. }) => Ok(()),
        Some(Event::Failed { reason, .. }) => Err(anyhow::anyhow!(
            "promotion {} was closed by another run as failed: {reason}",
            promotion.unwrap_or_default()
        )),
        _ => {
            stage.ledger.append(entry).await?;
            Ok(())
        }
    }
}

/// Sets `flag` on SIGINT or SIGTERM, for as long as the task runs.
fn watch_signals(flag: Arc<AtomicBool>) -> Option<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).ok()?;
    let mut terminate = signal(SignalKind::terminate()).ok()?;
    Some(tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        flag.store(true, Ordering::SeqCst);
    }))
}

/// Stops the promotion when a signal arrived while a child ran.
fn stop_if_signalled(signalled: &AtomicBool) -> anyhow::Result<()> {
    if signalled.load(Ordering::SeqCst) {
        return Err(anyhow::Error::new(windlass_output::Interrupted));
    }
    Ok(())
}

async fn acquire(ctx: &Context, stage: &Stage, printer: &Printer) -> anyhow::Result<EnvLock> {
    let lock = EnvLock::acquire(&stage.cluster, &stage.name, &holder(ctx), LEASE_TTL).await?;
    if let Some(previous) = lock.takeover().map(|t| &t.previous_holder) {
        printer.warn(&format!(
            "took over the expired lease of `{}` from {previous}",
            stage.name
        ));
    }
    Ok(lock)
}

/// The ledger and the release's revisions (from Helm's records' labels)
/// as a promotion first reads them. The first look is read while the lease
/// is being taken, so it may miss what another run wrote just before
/// releasing it; it is used only when it shows nothing to recover (no open
/// promotion, no pending release), and the `Started` record is then
/// appended right after its last record: ledger records are numbered
/// without gaps, so a record written after the first look takes that
/// number first, the append is refused, and everything is read again.
#[derive(Debug)]
struct FirstLook {
    view: LedgerView,
    revisions: Vec<RecordState>,
}

impl FirstLook {
    async fn read(stage: &Stage) -> anyhow::Result<Self> {
        let (view, revisions) = tokio::try_join!(LedgerView::read(&stage.ledger), async {
            anyhow::Ok(crate::kube::releases::revisions(&stage.cluster, &stage.release).await?)
        })?;
        Ok(Self { view, revisions })
    }

    /// Nothing for recovery to look at: the last promotion ended (and not
    /// by an interruption) and no revision of the release is pending.
    fn settled(&self) -> bool {
        !self.view.last_open() && !self.revisions.last().is_some_and(RecordState::is_pending)
    }
}

impl Request {
    fn clone_parts(&self) -> Self {
        Self {
            kind: self.kind,
            bundle: self.bundle.clone(),
            from: self.from.clone(),
            archive: self.archive.clone(),
            rollback_to: self.rollback_to,
            replacing: self.replacing.clone(),
            allow_rolled_back: self.allow_rolled_back,
        }
    }
}

/// Appends one record of a promotion.
struct Writer<'a> {
    stage: &'a Stage,
    actor: String,
    bundle: BundleId,
    promotion: Option<u64>,
    /// Where a promotion's `Succeeded` waits to be written as the lease is
    /// released (see [`write_end`]); `None`: written at once.
    end: Option<&'a Mutex<Option<Event>>>,
}

impl Writer<'_> {
    /// The record that ends the promotion: left for [`run_begun`] to write
    /// while it releases the lease, when it can.
    async fn end(&self, event: Event) -> anyhow::Result<()> {
        match self.end {
            Some(slot) => {
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(event);
                Ok(())
            }
            None => self.write(event).await.map(drop),
        }
    }

    async fn write(&self, event: Event) -> anyhow::Result<Entry> {
        self.write_for(self.bundle.clone(), event).await
    }

    async fn write_for(&self, bundle: BundleId, event: Event) -> anyhow::Result<Entry> {
        Ok(self
            .stage
            .ledger
            .append(NewEntry {
                actor: self.actor.clone(),
                promotion: self.promotion,
                bundle,
                event,
            })
            .await?)
    }
}

#[allow(
    clippy::too_many_lines,
    clippy::too_many_arguments,
    reason = "the promotion's steps in order, each with its ledger record; the state `run_begun` owns"
)]
async fn steps(
    ctx: &Context,
    stage: &Stage,
    request: Request,
    (started, end): (&Mutex<Option<u64>>, &Mutex<Option<Event>>),
    lock: &EnvLock,
    signalled: &AtomicBool,
    (first_look, from_early): (Option<FirstLook>, Option<Vec<Entry>>),
    printer: &Printer,
) -> anyhow::Result<PromotionReport> {
    let id = request.bundle.id();
    let lease_takeover = lock.takeover().map(|t| t.previous_holder.clone());
    // The first look, read while the lease was being taken, serves when it
    // shows nothing to recover; else everything is read again now that
    // the lease is held. The `Started` record then proves it current (see
    // `FirstLook`).
    let (mut known, mut early) = match first_look.filter(FirstLook::settled) {
        Some(known) => (known, true),
        None => (FirstLook::read(stage).await?, false),
    };
    let mut writer = Writer {
        stage,
        actor: ctx.actor(),
        bundle: id.clone(),
        promotion: None,
        end: Some(end),
    };
    let (view, deployed, mut report, previous_revision, previous_bundle, record) = loop {
        let latest = known.revisions.last();
        let recovered = if early {
            None
        } else {
            Box::pin(recover(ctx, stage, &known.view, latest, printer)).await?
        };
        if recovered.is_some() {
            known.view = LedgerView::read(&stage.ledger).await?;
        }
        let view = &known.view;
        if request.kind != Kind::Rollback
            && !request.allow_rolled_back
            && let Some(entry) = view.rolled_back(&id)
        {
            return Err(anyhow::anyhow!(
                "bundle {id} was rolled back in `{}` (ledger record {})",
                stage.name,
                entry.seq
            ))
            .with_hint("a rolled-back bundle is never deployed there again unless asked: add `--allow-rolled-back`")
            .with_exit_status(ExitStatus::Failure);
        }
        // The release's last deployed revision for the strategy, unless
        // recovery changed it.
        let deployed = if recovered.is_none() {
            LastDeployed::Read(
                known
                    .revisions
                    .iter()
                    .rev()
                    .find(|r| r.status == "deployed")
                    .map(|r| r.revision),
            )
        } else {
            LastDeployed::Unread
        };
        let report = PromotionReport {
            kind: request.kind,
            environment: stage.name.clone(),
            namespace: stage.cluster.namespace().to_owned(),
            release: stage.release.clone(),
            bundle: id.clone(),
            content: request.bundle.clone(),
            from: request.from.clone(),
            result: Result_::Failed,
            promotion: None,
            revision: None,
            gates: Vec::new(),
            reason: None,
            rolled_back_to: None,
            recovered,
            lease_takeover: lease_takeover.clone(),
            strategy: stage.spec.strategy.kind,
            live_release: None,
            steps: Vec::new(),
        };
        let previous = view
            .live()
            .map(|p| (p.succeeded(), p.started.bundle.clone()));
        let previous_revision = previous.as_ref().and_then(|(r, _)| *r);
        let previous_bundle = previous.map(|(_, b)| b);
        let started_event = Event::Started {
            bundle: Box::new(request.bundle.clone()),
            from: request.from.clone(),
            strategy: stage.spec.strategy.kind,
        };
        let record = if early {
            let last = view.entries.last().map_or(0, |e| e.seq);
            let new = NewEntry {
                actor: writer.actor.clone(),
                promotion: None,
                bundle: id.clone(),
                event: started_event,
            };
            let Some(record) = stage.ledger.append_after(last, new).await? else {
                // Someone wrote after the first look: read again.
                known = FirstLook::read(stage).await?;
                early = false;
                continue;
            };
            record
        } else {
            writer.write(started_event).await?
        };
        break (
            known.view,
            deployed,
            report,
            previous_revision,
            previous_bundle,
            record,
        );
    };
    writer.promotion = Some(record.seq);
    report.promotion = Some(record.seq);
    *started.lock().unwrap_or_else(PoisonError::into_inner) = Some(record.seq);
    printer.status(
        "Started",
        &format!("promotion {} of bundle {id} to {}", record.seq, stage.name),
    );

    // The gates before: a rollback is the way out of trouble and passes
    // none of them.
    if request.kind != Kind::Rollback {
        let from_entries = match (stage.spec.from.as_deref(), from_early) {
            (Some(_), Some(entries)) => entries,
            (Some(from), None) => {
                let from_stage = Stage::open(ctx, from).await?;
                from_stage.ledger.entries().await?
            }
            (None, _) => Vec::new(),
        };
        let gates = crate::gates::check_before(&crate::gates::GateInput {
            environment: &stage.name,
            gates: &stage.spec.gates,
            from: stage.spec.from.as_deref(),
            bundle: &id,
            ledger: &view.entries,
            from_ledger: &from_entries,
            now: jiff::Timestamp::now(),
            env: &ctx.env,
        });
        write_gates(&writer, gates.iter().cloned()).await?;
        report.gates.extend(gates);
        if let Some(failed) = report.gates.iter().find(|g| !g.passed) {
            let reason = format!("gate {} failed: {}", failed.gate, failed.detail);
            writer
                .write(Event::Failed {
                    reason: reason.clone(),
                    rolled_back_to: None,
                })
                .await?;
            report.reason = Some(reason);
            return Ok(report);
        }
    }

    // The upgrade through the strategy (or, for a rollback to a revision
    // of an in-place release, Helm's rollback), only while the lease is
    // still ours.
    lock.check()?;
    let Some(rollback_revision) = request.rollback_to else {
        return Box::pin(with_strategy(
            ctx,
            stage,
            &request,
            &writer,
            report,
            (previous_revision, previous_bundle, deployed),
            (lock, signalled),
            printer,
        ))
        .await;
    };
    let upgraded = {
        printer.status(
            "Rolling back",
            &format!("{} to revision {rollback_revision}", stage.release),
        );
        match stage
            .helm
            .rollback(&stage.release, rollback_revision, true, stage.timeout)
            .await
        {
            Ok(()) => current_revision(stage).await,
            Err(error) => Err(anyhow::Error::new(error)),
        }
    };
    stop_if_signalled(signalled)?;
    let revision = match upgraded {
        Ok(revision) => revision,
        Err(error) => {
            let reason = format!("{error:#}");
            // `--rollback-on-failure` put the release back; say where it is.
            let now = stage.helm.status(&stage.release).await.ok().flatten();
            let left_at = now.as_ref().map(|r| r.revision);
            if let (Some(to), Some(left_at)) = (previous_revision, left_at) {
                writer
                    .write(Event::RolledBack {
                        to_revision: to,
                        to_bundle: previous_bundle.clone(),
                        reason: reason.clone(),
                    })
                    .await?;
                report.rolled_back_to = Some(left_at);
            }
            writer
                .write(Event::Failed {
                    reason: reason.clone(),
                    rolled_back_to: report.rolled_back_to,
                })
                .await?;
            report.revision = left_at;
            report.reason = Some(reason);
            return Ok(report);
        }
    };
    writer.write(Event::Upgraded { revision }).await?;
    report.revision = Some(revision);
    stop_if_signalled(signalled)?;
    if let Some(replacing) = &request.replacing {
        writer
            .write_for(
                replacing.clone(),
                Event::RolledBack {
                    to_revision: request.rollback_to.unwrap_or(revision),
                    to_bundle: Some(id.clone()),
                    reason: format!("asked by {}", ctx.actor()),
                },
            )
            .await?;
    }

    // Rollout and verification: checks that all pass go into `Succeeded`,
    // else each is a `Gate` record before the rollback.
    let checks = verify(ctx, stage).await;
    stop_if_signalled(signalled)?;
    let passed = folded(&checks);
    if passed.is_none() {
        write_gates(&writer, checks.iter().cloned()).await?;
    }
    report.gates.extend(checks);
    if let Some(failed) = report.gates.iter().find(|g| !g.passed).cloned() {
        let reason = format!("{} failed: {}", failed.gate, failed.detail);
        report.reason = Some(reason.clone());
        match previous_revision {
            Some(to) => {
                printer.status(
                    "Rolling back",
                    &format!("{} to revision {to}", stage.release),
                );
                stage
                    .helm
                    .rollback(&stage.release, to, true, stage.timeout)
                    .await?;
                let left_at = current_revision(stage).await?;
                writer
                    .write(Event::RolledBack {
                        to_revision: to,
                        to_bundle: previous_bundle,
                        reason: reason.clone(),
                    })
                    .await?;
                writer
                    .write(Event::Failed {
                        reason,
                        rolled_back_to: Some(left_at),
                    })
                    .await?;
                report.rolled_back_to = Some(left_at);
                report.revision = Some(left_at);
            }
            None => {
                writer
                    .write(Event::Failed {
                        reason,
                        rolled_back_to: None,
                    })
                    .await?;
            }
        }
        return Ok(report);
    }
    lock.check()?;
    writer
        .end(Event::Succeeded {
            revision,
            checks: passed.unwrap_or_default(),
        })
        .await?;
    report.result = Result_::Succeeded;
    Ok(report)
}

/// The checks as `Succeeded` records them, when every one passed.
fn folded(checks: &[GateResult]) -> Option<Vec<PassedCheck>> {
    checks
        .iter()
        .map(|c| {
            c.passed.then(|| PassedCheck {
                gate: c.gate.clone(),
                detail: c.detail.clone(),
            })
        })
        .collect()
}

/// A `Gate` record for each check, in order.
async fn write_gates(
    writer: &Writer<'_>,
    checks: impl IntoIterator<Item = GateResult>,
) -> anyhow::Result<()> {
    for check in checks {
        writer
            .write(Event::Gate {
                gate: check.gate,
                passed: check.passed,
                detail: check.detail,
            })
            .await?;
    }
    Ok(())
}

/// The release's current revision, which must exist (from its records'
/// labels: no `helm` process).
async fn current_revision(stage: &Stage) -> anyhow::Result<u32> {
    let status = crate::kube::releases::latest(&stage.cluster, &stage.release).await?;
    status.map(|r| r.revision).ok_or_else(|| {
        anyhow::anyhow!(
            "release `{}` is gone from namespace `{}`",
            stage.release,
            stage.cluster.namespace()
        )
    })
}

/// Resolves the environment's `secret-values`: every value registered
/// with the redactor before anything else sees it.
async fn secret_values(
    ctx: &Context,
    stage: &Stage,
) -> anyhow::Result<BTreeMap<String, Secret<String>>> {
    let mut values = BTreeMap::new();
    if stage.spec.secret_values.is_empty() {
        return Ok(values);
    }
    let secrets = windlass_secrets::SecretsConfig::from_effective(&ctx.config)?;
    let http = windlass_http::HttpConfig::from_settings(&ctx.config.settings.http);
    let resolver =
        windlass_secrets::Resolver::new(ctx.env.clone(), ctx.project_dir(), secrets.vault)
            .with_http(http);
    let mut result = Ok(());
    for (key, text) in &stage.spec.secret_values {
        let reference = match windlass_secrets::SecretRef::parse(text) {
            Ok(reference) => reference,
            Err(error) => {
                result = Err(anyhow::Error::new(error).context(format!(
                    "`deploy.environments.{}.secret-values.\"{key}\"` is not a secret reference",
                    stage.name
                )))
                .with_exit_status(ExitStatus::Usage);
                break;
            }
        };
        match resolver.resolve(&reference).await {
            Ok(value) => {
                values.insert(key.clone(), value);
            }
            Err(error) => {
                result = Err(anyhow::Error::new(error).context(format!(
                    "cannot resolve secret value `{key}` of environment `{}`",
                    stage.name
                )));
                break;
            }
        }
    }
    resolver.close_unless_interrupted().await;
    result.map(|()| values)
}

/// The upgrade every step of the strategy makes: the chart archive, the
/// values (secret ones resolved and registered for redaction), Helm's
/// wait and rollback on failure, the revision's description and labels
/// naming the bundle and the promotion.
async fn upgrade_request(
    ctx: &Context,
    stage: &Stage,
    request: &Request,
    promotion: u64,
) -> anyhow::Result<UpgradeRequest> {
    let archive = request
        .archive
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no chart archive for the upgrade"))?;
    let secrets = secret_values(ctx, stage).await?;
    let values = crate::make::environment_values(
        &stage.spec,
        &ctx.deploy,
        &ctx.project_dir(),
        &request.bundle,
        &secrets,
    )?;
    let id = request.bundle.id();
    let labels = BTreeMap::from([
        (BUNDLE_LABEL.to_owned(), id.short().to_owned()),
        ("windlass.dev/promotion".to_owned(), promotion.to_string()),
    ]);
    Ok(UpgradeRequest {
        release: stage.release.clone(),
        archive,
        values,
        wait: true,
        timeout: stage.timeout,
        rollback_on_failure: true,
        description: description(&id),
        labels,
    })
}

/// The environment's verifications, run by the strategy after each of its
/// steps (the strategy waits for the rollout itself). Before the first
/// check it records `Upgraded` with the revision the step made, so that a
/// run killed during the checks leaves a promotion recovery knows reached
/// the cluster.
struct StageVerifier<'a> {
    ctx: &'a Context,
    stage: &'a Stage,
    recorder: &'a Upgrades<'a>,
    signalled: &'a AtomicBool,
}

/// Resolves once a signal was seen while a child ran.
async fn signal_seen(signalled: &AtomicBool) {
    while !signalled.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl crate::strategy::Verifier for StageVerifier<'_> {
    fn verify<'a>(
        &'a self,
        step: &'a VerifyStep,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<GateResult>> + Send + 'a>> {
        Box::pin(async move {
            if self.stage.spec.gates.verify.is_empty() && single_step(self.stage) {
                // Nothing to run: the revision is recorded with the end
                // (see `checked`).
                return Vec::new();
            }
            if !self.recorder.done() {
                // The step's own revision; asked of the cluster only for a
                // step that made none.
                let revision = match step.revision {
                    Some(revision) => Ok(Some(revision)),
                    None => crate::kube::releases::latest(&self.stage.cluster, &step.release)
                        .await
                        .map(|r| r.map(|r| r.revision)),
                };
                let recorded = match revision {
                    Ok(Some(revision)) => self.recorder.record(revision).await,
                    Ok(None) => Ok(()),
                    Err(error) => Err(anyhow::Error::new(error)),
                };
                if let Err(error) = recorded {
                    return vec![GateResult {
                        gate: "ledger".to_owned(),
                        passed: false,
                        detail: format!("cannot record the upgrade: {error:#}"),
                    }];
                }
            }
            let checks = verify_checks(self.ctx, self.stage).await;
            if self.signalled.load(Ordering::SeqCst) {
                // Interrupted, not failed: the promotion stops here.
                std::future::pending::<()>().await;
            }
            checks
        })
    }

    /// `Upgraded` as the step's rollout wait starts.
    fn upgraded<'a>(
        &'a self,
        _release: &'a str,
        revision: u32,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.recorder
                .record(revision)
                .await
                .map_err(|e| format!("{e:#}"))
        })
    }

    /// A `Gate` record for each check of the step, as soon as the step's
    /// checks are in (after `Upgraded`, when the step made a revision and
    /// it is not recorded yet). The one step of `rolling` and `recreate`
    /// whose checks all passed keeps them, and its revision when not
    /// recorded yet, for `Succeeded` instead: right after Helm, the only
    /// write before the end is the end.
    fn checked<'a>(
        &'a self,
        step: &'a StepReport,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let kind = self.stage.spec.strategy.kind;
            let passed = folded(&step.checks).filter(|_| single_step(self.stage));
            if let Some(revision) = step.revision {
                if passed.is_some() && self.recorder.request.replacing.is_none() {
                    self.recorder.keep(revision);
                } else {
                    self.recorder
                        .record(revision)
                        .await
                        .map_err(|e| format!("{e:#}"))?;
                }
            }
            let checks: Vec<GateResult> = step
                .checks
                .iter()
                .map(|check| GateResult {
                    gate: step_gate(kind, step, &check.gate),
                    ..check.clone()
                })
                .collect();
            if let Some(passed) = passed {
                self.recorder
                    .passed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(passed);
                return Ok(());
            }
            write_gates(self.recorder.writer, checks)
                .await
                .map_err(|e| format!("{e:#}"))
        })
    }

    /// A `Switch` record before the Service changes: a run killed after
    /// the switch leaves recovery the colour to switch back to.
    fn switching<'a>(
        &'a self,
        switch: &'a Switch,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.recorder
                .writer
                .write(Event::Switch {
                    service: switch.service.clone(),
                    from: switch.from.clone(),
                    to: switch.to.clone(),
                })
                .await
                .map(drop)
                .map_err(|e| format!("{e:#}"))
        })
    }
}

/// `rolling` and `recreate`: one upgrade, whose checks end the promotion.
fn single_step(stage: &Stage) -> bool {
    matches!(
        stage.spec.strategy.kind,
        StrategyKind::Rolling | StrategyKind::Recreate
    )
}

/// Records `Upgraded` once per promotion (and, for `deploy rollback`, the
/// `RolledBack` of the bundle it leaves).
struct Upgrades<'a> {
    writer: &'a Writer<'a>,
    request: &'a Request,
    actor: String,
    revision: Mutex<Option<u32>>,
    /// Checks kept for `Succeeded` (see [`StageVerifier::checked`]).
    passed: Mutex<Vec<PassedCheck>>,
    /// A revision kept for `Succeeded`, with no `Upgraded` written.
    kept: Mutex<Option<u32>>,
}

impl Upgrades<'_> {
    fn done(&self) -> bool {
        self.revision
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    fn revision(&self) -> Option<u32> {
        *self.revision.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `revision` as recorded, to be written with the end.
    fn keep(&self, revision: u32) {
        let mut recorded = self.revision.lock().unwrap_or_else(PoisonError::into_inner);
        if recorded.is_none() {
            *recorded = Some(revision);
            *self.kept.lock().unwrap_or_else(PoisonError::into_inner) = Some(revision);
        }
    }

    fn take_passed(&self) -> Vec<PassedCheck> {
        std::mem::take(&mut *self.passed.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The kept revision and checks as `Upgraded` and `Gate` records, for
    /// a promotion that does not end in `Succeeded` after all.
    async fn write_passed(&self) -> anyhow::Result<()> {
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(revision) = kept {
            self.writer.write(Event::Upgraded { revision }).await?;
        }
        let passed = self.take_passed().into_iter().map(|c| GateResult {
            gate: c.gate,
            passed: true,
            detail: c.detail,
        });
        write_gates(self.writer, passed).await
    }

    async fn record(&self, revision: u32) -> anyhow::Result<()> {
        if self.done() {
            return Ok(());
        }
        self.writer.write(Event::Upgraded { revision }).await?;
        *self.revision.lock().unwrap_or_else(PoisonError::into_inner) = Some(revision);
        if let Some(replacing) = &self.request.replacing {
            self.writer
                .write_for(
                    replacing.clone(),
                    Event::RolledBack {
                        to_revision: revision,
                        to_bundle: Some(self.request.bundle.id()),
                        reason: format!("asked by {}", self.actor),
                    },
                )
                .await?;
        }
        Ok(())
    }
}

/// The steps of a gate's name in the ledger: `idle: rollout`,
/// `canary 25%: verify: health` for the strategies with several steps.
fn step_gate(kind: StrategyKind, step: &StepReport, gate: &str) -> String {
    match kind {
        StrategyKind::BlueGreen
        | StrategyKind::Canary
        | StrategyKind::Ab
        | StrategyKind::Shadow => format!("{}: {gate}", step.name),
        _ => gate.to_owned(),
    }
}

/// The strategy's `pause`, parsed.
fn strategy_pause(stage: &Stage) -> anyhow::Result<Duration> {
    match stage.spec.strategy.pause.as_deref() {
        None => Ok(Duration::ZERO),
        Some(text) => crate::stage::parse_duration(text)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "`deploy.environments.{}.strategy.pause = \"{text}\"` is not a duration",
                    stage.name
                )
            })
            .with_hint("write it as `30s`, `5m`, `2h` or `1d`")
            .with_exit_status(ExitStatus::Usage),
    }
}

/// A report line for every check of every step (their `Gate` records
/// were written as each step ended, by [`StageVerifier`]).
fn report_checks(kind: StrategyKind, steps: &[StepReport], report: &mut PromotionReport) {
    for step in steps {
        for check in &step.checks {
            report.gates.push(GateResult {
                gate: step_gate(kind, step, &check.gate),
                passed: check.passed,
                detail: check.detail.clone(),
            });
        }
    }
}

/// The upgrade and its verification through `stage`'s strategy, then the
/// ledger records of what it did: `Upgraded` (the first revision a step
/// made), a `Gate` for every check of every step, then `Succeeded` with the
/// live revision; or, when the strategy put back what was live,
/// `RolledBack` and `Failed`.
#[allow(
    clippy::too_many_arguments,
    clippy::too_many_lines,
    reason = "the promotion's state handed over from `steps`; its steps in order, each with its ledger record"
)]
async fn with_strategy(
    ctx: &Context,
    stage: &Stage,
    request: &Request,
    writer: &Writer<'_>,
    mut report: PromotionReport,
    (previous_revision, previous_bundle, deployed): (Option<u32>, Option<BundleId>, LastDeployed),
    (lock, signalled): (&EnvLock, &AtomicBool),
    printer: &Printer,
) -> anyhow::Result<PromotionReport> {
    let kind = stage.spec.strategy.kind;
    let promotion = writer.promotion.unwrap_or_default();
    let upgrade = upgrade_request(ctx, stage, request, promotion).await?;
    let pause = strategy_pause(stage)?;
    printer.status(
        "Upgrading",
        &format!(
            "release {} in {} (namespace {}, strategy {})",
            stage.release,
            stage.name,
            stage.cluster.namespace(),
            kind.name()
        ),
    );
    let recorder = Upgrades {
        writer,
        request,
        actor: ctx.actor(),
        revision: Mutex::new(None),
        passed: Mutex::new(Vec::new()),
        kept: Mutex::new(None),
    };
    let verifier = StageVerifier {
        ctx,
        stage,
        recorder: &recorder,
        signalled,
    };
    let strategy_run = StrategyRun {
        spec: &stage.spec.strategy,
        helm: &stage.helm,
        cluster: &stage.cluster,
        upgrade: &upgrade,
        pause,
        verifier: &verifier,
        rollout: stage.spec.gates.rollout != Some(false),
        deployed,
    };
    let run = crate::strategy::run(&strategy_run);
    // A signal forwarded to helm or a verify command stops the promotion
    // where it is (the verifier then never returns, so the strategy does
    // not take the interrupted check for a failure and roll back): the
    // next command's recovery deals with the unverified revision.
    let outcome = tokio::select! {
        biased;
        () = signal_seen(signalled) => None,
        outcome = run => Some(outcome),
    };
    let Some(outcome) = outcome else {
        return Err(anyhow::Error::new(windlass_output::Interrupted));
    };
    stop_if_signalled(signalled)?;
    let strategy = match outcome {
        Ok(strategy) => strategy,
        Err(error) => {
            // Helm or the API failed under the strategy: say so in the
            // ledger, and what is live is for `deploy status` to show.
            recorder.write_passed().await?;
            writer
                .write(Event::Failed {
                    reason: error.to_string(),
                    rolled_back_to: None,
                })
                .await?;
            return Err(error.into());
        }
    };

    // `Upgraded` when no check ran (the upgrade or the rollout failed).
    if let Some(revision) = strategy.steps.iter().find_map(|s| s.revision) {
        recorder.record(revision).await?;
    }
    let upgraded = recorder.revision();
    report_checks(kind, &strategy.steps, &mut report);
    report.live_release = Some(strategy.live_release.clone()).filter(|r| !r.is_empty());
    report.revision = strategy.live_revision.or(upgraded);
    report.steps.clone_from(&strategy.steps);

    if !strategy.succeeded {
        let reason = strategy
            .reason
            .clone()
            .unwrap_or_else(|| format!("the {} strategy failed", kind.name()));
        report.reason = Some(reason.clone());
        recorder.write_passed().await?;
        // Something was put back: traffic on the old version again.
        if let (Some(restored), Some(_)) = (&strategy.restored, upgraded)
            && let Some(live) = strategy.live_revision.filter(|_| previous_bundle.is_some())
        {
            printer.status("Rolled back", restored);
            writer
                .write(Event::RolledBack {
                    to_revision: previous_revision.unwrap_or(live),
                    to_bundle: previous_bundle,
                    reason: format!("{reason}; {restored}"),
                })
                .await?;
            report.rolled_back_to = Some(live);
        }
        writer
            .write(Event::Failed {
                reason,
                rolled_back_to: report.rolled_back_to,
            })
            .await?;
        return Ok(report);
    }
    let Some(revision) = report.revision else {
        recorder.write_passed().await?;
        return Err(anyhow::anyhow!(
            "the {} strategy reported no revision of release `{}`",
            kind.name(),
            strategy.live_release
        ));
    };
    lock.check()?;
    writer
        .end(Event::Succeeded {
            revision,
            checks: recorder.take_passed(),
        })
        .await?;
    report.result = Result_::Succeeded;
    Ok(report)
}

/// The description of every revision Windlass makes: names the bundle so
/// that recovery can tell what Helm has deployed.
pub fn description(id: &BundleId) -> String {
    format!("windlass bundle {}", id.as_str())
}

/// The rollout wait and the verifications after an upgrade.
async fn verify(ctx: &Context, stage: &Stage) -> Vec<GateResult> {
    let mut results = Vec::new();
    if stage.spec.gates.rollout != Some(false) {
        let rollout =
            crate::kube::rollout::wait(&stage.cluster, &stage.release, stage.timeout).await;
        results.push(match rollout {
            Ok(report) => GateResult {
                gate: "rollout".to_owned(),
                passed: report.complete,
                detail: report.summary(),
            },
            Err(error) => GateResult {
                gate: "rollout".to_owned(),
                passed: false,
                detail: error.to_string(),
            },
        });
        if results.iter().any(|r| !r.passed) {
            return results;
        }
    }
    results.extend(verify_checks(ctx, stage).await);
    results
}

/// The environment's `gates.verify` checks (HTTP, commands).
async fn verify_checks(ctx: &Context, stage: &Stage) -> Vec<GateResult> {
    let mut results = Vec::new();
    if stage.spec.gates.verify.is_empty() {
        return results;
    }
    let project_dir = ctx.project_dir();
    let http_config = windlass_http::HttpConfig::from_settings(&ctx.config.settings.http);
    let http = match windlass_http::HttpClient::new(&http_config) {
        Ok(http) => http,
        Err(error) => {
            results.push(GateResult {
                gate: "verify".to_owned(),
                passed: false,
                detail: format!("cannot make an HTTP client: {error}"),
            });
            return results;
        }
    };
    let vault = match windlass_secrets::SecretsConfig::from_effective(&ctx.config) {
        Ok(secrets) => secrets.vault,
        Err(error) => {
            results.push(GateResult {
                gate: "verify".to_owned(),
                passed: false,
                detail: format!("cannot read the secrets configuration: {error}"),
            });
            return results;
        }
    };
    let resolver = windlass_secrets::Resolver::new(ctx.env.clone(), &project_dir, vault)
        .with_http(http_config);
    results.extend(
        crate::gates::verify_after(&crate::gates::VerifyInput {
            checks: &stage.spec.gates.verify,
            http: &http,
            secrets: &resolver,
            cwd: &project_dir,
        })
        .await,
    );
    resolver.close_unless_interrupted().await;
    results
}

/// Brings an environment out of a state a killed run left: an unfinished
/// promotion in the ledger, or a Helm release stuck `pending-*`. Called
/// with the environment's lease held, which proves nobody else is working
/// on it. `latest` is the release's latest revision as its record's
/// labels tell it ([`crate::kube::releases`]); Helm is asked for the rest
/// only when there is something to recover.
#[allow(
    clippy::too_many_lines,
    reason = "the cases of recovery in order, each with its ledger record"
)]
pub async fn recover(
    ctx: &Context,
    stage: &Stage,
    view: &LedgerView,
    latest: Option<&RecordState>,
    printer: &Printer,
) -> anyhow::Result<Option<Recovery>> {
    if stage.spec.strategy.kind == StrategyKind::BlueGreen
        && let Some(recovery) = Box::pin(recover_switch(ctx, stage, view, printer)).await?
    {
        return Ok(Some(recovery));
    }
    let pending = latest.is_some_and(RecordState::is_pending);
    let unfinished = view.unfinished();
    // A promotion interrupted after the upgrade left the release at a
    // revision nobody verified: it goes back like an unfinished one.
    let interrupted = view
        .interrupted_upgrade()
        .filter(|p| latest.map(|r| r.revision) == p.upgraded());
    if unfinished.is_none() && interrupted.is_none() && !pending {
        return Ok(None);
    }
    // Something to recover: the revision as Helm tells it (its
    // description names the bundle).
    let current = stage.helm.status(&stage.release).await?;
    let open = unfinished.is_some() || interrupted.is_some();
    let live = view.live();
    let live_revision = live.as_ref().and_then(Promotion::succeeded);
    let live_bundle = live.as_ref().map(|p| p.started.bundle.clone());
    let named = unfinished
        .as_ref()
        .or(interrupted.as_ref())
        .or(live.as_ref())
        .map(|p| (p.seq, p.started.bundle.clone()));
    let Some((promotion, bundle)) = named else {
        printer.warn(&format!(
            "release `{}` is `{}` and the ledger of `{}` has no promotion: left as it is",
            stage.release,
            current.as_ref().map_or("pending", |r| r.status.as_str()),
            stage.name
        ));
        return Ok(None);
    };
    let writer = Writer {
        stage,
        actor: ctx.actor(),
        bundle: bundle.clone(),
        promotion: Some(promotion),
        end: None,
    };
    // Blue/green and canary keep what is live in the cluster (the
    // Service's selector, the canary release), and their next promotion
    // starts from there: close the promotion, change nothing.
    if let (Some(_), kind @ (StrategyKind::BlueGreen | StrategyKind::Canary)) =
        (&unfinished, stage.spec.strategy.kind)
    {
        let live = live_release(stage).await?;
        let revision = stage.helm.status(&live).await?.map(|r| r.revision);
        let detail = format!(
            "the {} promotion stopped before it ended; `{live}` serves the traffic (revision {}), the next promotion starts from there",
            kind.name(),
            revision.map_or_else(|| "none".to_owned(), |r| r.to_string())
        );
        writer
            .write(Event::Failed {
                reason: format!("unfinished: {detail}"),
                rolled_back_to: None,
            })
            .await?;
        printer.warn(&format!(
            "promotion {promotion} was left unfinished: {detail}"
        ));
        return Ok(Some(Recovery {
            promotion,
            bundle,
            action: "closed".to_owned(),
            revision,
            detail,
        }));
    }
    // Helm shows the unfinished bundle deployed: check it is healthy and
    // record the success the killed run did not.
    if unfinished.is_some()
        && let Some(revision) = &current
        && revision.status == "deployed"
        && revision.description == description(&bundle)
    {
        let checks = verify(ctx, stage).await;
        if checks.iter().all(|c| c.passed) {
            writer
                .write(Event::Succeeded {
                    revision: revision.revision,
                    checks: folded(&checks).unwrap_or_default(),
                })
                .await?;
            let recovery = Recovery {
                promotion,
                bundle,
                action: "resumed".to_owned(),
                revision: Some(revision.revision),
                detail: format!(
                    "Helm shows it deployed and healthy at revision {}",
                    revision.revision
                ),
            };
            printer.warn(&format!(
                "promotion {promotion} was left unfinished; {}: recorded as succeeded",
                recovery.detail
            ));
            return Ok(Some(recovery));
        }
    }
    let unchanged = !pending
        && current
            .as_ref()
            .is_some_and(|r| Some(r.revision) == live_revision && r.status == "deployed");
    let recovery = if unchanged || live_revision.is_none() {
        let detail = if unchanged {
            "the release is unchanged: it stopped before the upgrade".to_owned()
        } else if pending {
            // A first install killed half-way: nothing to roll back to.
            stage
                .helm
                .uninstall(&stage.release, true, stage.timeout)
                .await?;
            format!(
                "the release was stuck `{}` with no succeeded revision: uninstalled",
                current.as_ref().map_or("pending", |r| r.status.as_str())
            )
        } else {
            "no succeeded revision to roll back to: the release is left as it is".to_owned()
        };
        if open {
            writer
                .write(Event::Failed {
                    reason: format!("unfinished: {detail}"),
                    rolled_back_to: None,
                })
                .await?;
        }
        Recovery {
            promotion,
            bundle,
            action: "closed".to_owned(),
            revision: current.as_ref().map(|r| r.revision),
            detail,
        }
    } else {
        let to = live_revision.unwrap_or_default();
        printer.status(
            "Rolling back",
            &format!(
                "{} to revision {to} (unfinished promotion {promotion})",
                stage.release
            ),
        );
        stage
            .helm
            .rollback(&stage.release, to, true, stage.timeout)
            .await?;
        let left_at = current_revision(stage).await?;
        let reason = if interrupted.is_some() && unfinished.is_none() {
            "it was interrupted after the upgrade, before verification".to_owned()
        } else if pending {
            format!(
                "the release was stuck `{}`",
                current.as_ref().map_or("pending", |r| r.status.as_str())
            )
        } else {
            "the promotion stopped before it ended".to_owned()
        };
        if open {
            writer
                .write(Event::Failed {
                    reason: format!("unfinished: {reason}; rolled back to revision {to}"),
                    rolled_back_to: Some(left_at),
                })
                .await?;
        }
        Recovery {
            promotion,
            bundle,
            action: "rolled-back".to_owned(),
            revision: Some(left_at),
            detail: format!(
                "{reason}: rolled back to revision {to} (bundle {}), now revision {left_at}",
                live_bundle.map_or_else(|| "?".to_owned(), |b| b.short().to_owned())
            ),
        }
    };
    printer.warn(&format!(
        "promotion {promotion} was left unfinished: {}",
        recovery.detail
    ));
    Ok(Some(recovery))
}

use crate::stage::Promotion;

/// Blue/green: a promotion that switched the Service and then stopped
/// before it ended (killed, or interrupted during the live checks) left
/// the traffic on a colour nobody verified. The Service goes back to the
/// colour its `Switch` record says it selected before, and the promotion
/// is closed as failed. Nothing to do when the Service does not select the
/// new colour (the switch never happened, or was undone), or when there
/// was no colour before (a first promotion: it is closed as the other
/// strategies' are).
async fn recover_switch(
    ctx: &Context,
    stage: &Stage,
    view: &LedgerView,
    printer: &Printer,
) -> anyhow::Result<Option<Recovery>> {
    let Some(last) = view.promotions().pop() else {
        return Ok(None);
    };
    let open = match last.end().map(|e| &e.event) {
        None => true,
        Some(Event::Failed { reason, .. }) => reason == "interrupted",
        Some(_) => false,
    };
    let closed = last.records.iter().any(|e| {
        matches!(
            e.event,
            Event::Succeeded { .. }
                | Event::Failed {
                    rolled_back_to: Some(_),
                    ..
                }
        )
    });
    let switch = last.records.iter().rev().find_map(|e| match &e.event {
        Event::Switch { service, from, to } => Some((service, from.as_ref()?, to)),
        _ => None,
    });
    let (true, false, Some((service, from, to))) = (open, closed, switch) else {
        return Ok(None);
    };
    let live = crate::strategy::blue_green::live_release(
        &stage.cluster,
        &stage.spec.strategy,
        &stage.release,
    )
    .await?;
    if live.as_deref() != Some(to.as_str()) {
        return Ok(None);
    }
    printer.status(
        "Switching back",
        &format!(
            "Service {service} to {from} (unfinished promotion {})",
            last.seq
        ),
    );
    crate::strategy::blue_green::switch_service(
        &stage.cluster,
        &stage.spec.strategy,
        &stage.release,
        from,
    )
    .await?;
    let revision = crate::kube::releases::deployed(&stage.cluster, from).await?;
    let detail = format!(
        "the Service `{service}` was switched to `{to}` before its checks ended: switched back to `{from}`"
    );
    let writer = Writer {
        stage,
        actor: ctx.actor(),
        bundle: last.started.bundle.clone(),
        promotion: Some(last.seq),
        end: None,
    };
    writer
        .write(Event::Failed {
            reason: format!("unfinished: {detail}"),
            rolled_back_to: revision,
        })
        .await?;
    printer.warn(&format!(
        "promotion {} was left unfinished: {detail}",
        last.seq
    ));
    Ok(Some(Recovery {
        promotion: last.seq,
        bundle: last.started.bundle.clone(),
        action: "rolled-back".to_owned(),
        revision,
        detail,
    }))
}

/// Which revision the ledger expects Helm to show: the last success, or
/// where a failed promotion left the release.
pub fn expected_revision(entries: &[Entry]) -> Option<u32> {
    entries.iter().rev().find_map(|e| match e.event {
        Event::Succeeded { revision, .. }
        | Event::Failed {
            rolled_back_to: Some(revision),
            ..
        } => Some(revision),
        _ => None,
    })
}

/// The Helm release serving traffic in `stage`: with `blue-green`, the
/// colour its Service selects (read from the cluster); else the release.
pub async fn live_release(stage: &Stage) -> anyhow::Result<String> {
    if stage.spec.strategy.kind == StrategyKind::BlueGreen
        && let Some(live) = crate::strategy::blue_green::live_release(
            &stage.cluster,
            &stage.spec.strategy,
            &stage.release,
        )
        .await?
    {
        return Ok(live);
    }
    Ok(stage.release.clone())
}
