//! `release plan` and `release run`: the steps in dependency order (wheels
//! built, then published; images built from the published wheels, then
//! their tags pushed; the bundle made from the pushed digests, then
//! deployed), each skipped when what it would make is already there.
//!
//! `run` stops at the first failure. Nothing is half-published because
//! each step rests on its tool's own guarantee: a file is on the index or
//! not (`windlass-pypi`), a tag is written after every blob and manifest
//! it points at (`windlass-image`), and the deploy starts only once every
//! step before it succeeded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;
use windlass_image::config::IndexSection;
use windlass_output::{Classified, ExitStatus, Printer, ResultExt as _};
use windlass_pypi::{FileStatus, PublishReport};

use crate::manifest::{
    Content, DeployRecord, Distribution, EnvironmentRecord, EnvironmentTarget, Image, Manifest,
};
use crate::release::{ImageTarget, Release, WheelProject};
use crate::steps::{Status, Step, StepKind};

/// How a plan or a run goes.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Every target replaced by a directory under `[release] local-dir`.
    pub local: bool,
    /// The images' base instead of `[image] base` or the Containerfile's
    /// `FROM`: a registry reference or `oci:DIR:TAG`.
    pub base: Option<String>,
    /// Also write the manifest here.
    pub manifest: Option<PathBuf>,
}

/// What `release plan` returns.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct PlanReport {
    pub project: String,
    pub version: String,
    pub source: crate::manifest::Source,
    pub local: bool,
    pub steps: Vec<Step>,
}

/// What `release run` returns.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct RunReport {
    /// Where the manifest was written.
    pub manifest_path: String,
    pub manifest: Manifest,
    pub steps: Vec<Step>,
}

/// A wheel project's files once built.
struct Built {
    files: Vec<PathBuf>,
}

/// Where the wheels went, and how an image build reaches them.
struct Published {
    distributions: Vec<Distribution>,
    /// The index for pip in the image builds.
    index: Option<IndexSection>,
}

/// Where the local targets live.
struct LocalDirs {
    root: PathBuf,
}

impl LocalDirs {
    fn index(&self) -> PathBuf {
        self.root.join("index/simple")
    }
    fn index_url(&self) -> anyhow::Result<String> {
        let url = url::Url::from_directory_path(self.index()).map_err(|()| {
            Classified::new(anyhow::anyhow!(
                "`{}` cannot be written as a file: URL",
                self.index().display()
            ))
            .with_status(ExitStatus::Usage)
        })?;
        Ok(url.to_string())
    }
    fn image(&self, name: &str) -> PathBuf {
        self.root.join("images").join(name)
    }
    fn gitops(&self) -> PathBuf {
        self.root.join("gitops")
    }
    fn manifest(&self) -> PathBuf {
        self.root.join("manifest.json")
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "the steps in order, one block each, read top to bottom"
)]
/// Runs `release plan`: wheels are built into a scratch directory (to know
/// their hashes), the index, registry and environment are looked up;
/// nothing is published.
pub async fn plan(
    release: &Release,
    options: &Options,
    printer: &Printer,
) -> anyhow::Result<PlanReport> {
    let mut steps = Vec::new();
    let local = options.local.then(|| LocalDirs {
        root: release.local_dir(),
    });
    let scratch = tempfile::tempdir().context("cannot make a scratch directory")?;
    let mut all_skipped = true;
    for (i, project) in release.wheels.iter().enumerate() {
        let out = scratch.path().join(i.to_string());
        let built = build_wheels(project, &out, printer).await?;
        for file in &built.files {
            steps.push(Step::new(
                StepKind::Build,
                file_name(file),
                shown(&project.dir, &release.project_dir),
            ));
        }
        if let Some(dirs) = local.as_ref().filter(|d| !d.index().is_dir()) {
            // No local index yet: every file goes in.
            all_skipped = false;
            for file in &built.files {
                steps.push(Step::new(
                    StepKind::Publish,
                    file_name(file),
                    dirs.index_url()?,
                ));
            }
            continue;
        }
        let report = match publish(release, project, &built, local.as_ref(), true, printer).await {
            Ok(report) => report,
            Err(error) if crate::cli::classifier().classify(&error).status == ExitStatus::Usage => {
                return Err(error);
            }
            Err(error) => {
                // The index or its credentials cannot be reached: the plan
                // says so and goes on (a run would stop here).
                all_skipped = false;
                let target = project
                    .repository
                    .clone()
                    .unwrap_or_else(|| "the default index".to_owned());
                for file in &built.files {
                    steps.push(
                        Step::new(StepKind::Publish, file_name(file), &target)
                            .status(Status::Blocked, error_sentence(&error)),
                    );
                }
                continue;
            }
        };
        for file in &report.files {
            let step = Step::new(StepKind::Publish, &file.file, &report.simple_url)
                .detail(format!("credentials: {}", report.credentials))
                .detail(format!("sha256: {}", file.sha256));
            let step = match file.status {
                FileStatus::WouldSkip | FileStatus::Skipped => step.status(
                    Status::Skip,
                    "already on the index with the same sha256".to_owned(),
                ),
                FileStatus::Conflict => {
                    all_skipped = false;
                    step.status(
                        Status::Blocked,
                        "another file with this name is on the index".to_owned(),
                    )
                }
                _ => {
                    all_skipped = false;
                    step
                }
            };
            steps.push(step);
        }
    }
    let image_ctx = release.image_context()?;
    for image in &release.images {
        let base = options
            .base
            .clone()
            .unwrap_or_else(|| "the Containerfile's FROM (or [image] base)".to_owned());
        let target = match &local {
            Some(dirs) => format!(
                "oci:{}",
                shown(&dirs.image(&image.name), &release.project_dir)
            ),
            None => image.repository.clone(),
        };
        steps.push(
            Step::new(StepKind::Image, &image.name, target)
                .detail(format!("containerfile: {}", image.containerfile.display()))
                .detail(format!("base: {base}")),
        );
        for tag in &image.tags {
            if let Some(dirs) = &local {
                steps.push(Step::new(
                    StepKind::Push,
                    tag,
                    format!(
                        "oci:{}:{tag}",
                        shown(&dirs.image(&image.name), &release.project_dir)
                    ),
                ));
                continue;
            }
            let step = Step::new(StepKind::Push, tag, format!("{}:{tag}", image.repository));
            let step = match tag_digest(&image_ctx, &image.repository, tag, printer).await {
                Ok((Some(digest), credentials)) => step
                    .detail(format!("now: {digest}"))
                    .detail(format!("credentials: {credentials}"))
                    .status(
                        Status::WillRun,
                        format!(
                            "the tag exists ({digest}); skipped if the build gives that digest"
                        ),
                    ),
                Ok((None, credentials)) => step.detail(format!("credentials: {credentials}")),
                Err(error) => step.status(
                    Status::Blocked,
                    format!("cannot look the tag up: {}", error_sentence(&error)),
                ),
            };
            steps.push(step);
        }
    }
    if let Some(first) = &release.environment {
        let chart = release
            .deploy
            .release
            .clone()
            .or_else(|| release.deploy.chart.clone())
            .unwrap_or_default();
        let images: Vec<String> = release.images.iter().map(|i| i.name.clone()).collect();
        steps.push(
            Step::new(StepKind::Bundle, &chart, "the images' digests")
                .detail(format!("images: {}", images.join(", "))),
        );
        if let Some(dirs) = &local {
            for env in release.environment_chain() {
                steps.push(Step::new(
                    StepKind::Deploy,
                    &env,
                    shown(&dirs.gitops().join(&env), &release.project_dir),
                ));
            }
        } else {
            let step = Step::new(StepKind::Deploy, first, namespace_of(release, first));
            let step = if all_skipped {
                match planned_bundle_is_live(release, first, printer).await {
                    Ok(Some(bundle)) => step.status(
                        Status::Skip,
                        format!("already runs bundle {}", short(&bundle)),
                    ),
                    Ok(None) => step,
                    Err(error) => step.status(
                        Status::Blocked,
                        format!("cannot read the environment: {}", error_sentence(&error)),
                    ),
                }
            } else {
                step
            };
            steps.push(step);
        }
    }
    block_after_a_block(&mut steps);
    Ok(PlanReport {
        project: release.project.clone(),
        version: release.version.clone(),
        source: release.source.clone(),
        local: options.local,
        steps,
    })
}

/// A step that will run after a blocked one cannot: it is blocked too,
/// naming the first blocked step (a run stops there).
fn block_after_a_block(steps: &mut [Step]) {
    let Some(first) = steps.iter().position(|s| s.status == Status::Blocked) else {
        return;
    };
    let why = format!(
        "waits for `{} {}`, which is blocked",
        steps[first].kind.as_str(),
        steps[first].name
    );
    for step in &mut steps[first + 1..] {
        if step.status == Status::WillRun {
            step.status = Status::Blocked;
            step.why = Some(why.clone());
        }
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "the steps in order, one block each, read top to bottom"
)]
/// Runs `release run`; see the module's documentation.
pub async fn run(
    release: &Release,
    options: &Options,
    printer: &Printer,
) -> anyhow::Result<RunReport> {
    let mut steps: Vec<Step> = Vec::new();
    let local = options.local.then(|| LocalDirs {
        root: release.local_dir(),
    });
    let done = |steps: &mut Vec<Step>, step: Step| {
        report_step(printer, &step);
        steps.push(step);
    };
    // Wheels: every project built at once, then published one by one.
    let work = release.work_dir();
    let builds =
        futures_util::future::join_all(release.wheels.iter().enumerate().map(|(i, project)| {
            let out = work.join("wheels").join(i.to_string());
            async move {
                let _ = std::fs::remove_dir_all(&out);
                build_wheels(project, &out, printer).await
            }
        }))
        .await;
    let mut built_all = Vec::new();
    for (project, built) in release.wheels.iter().zip(builds) {
        let built = built?;
        for file in &built.files {
            done(
                &mut steps,
                Step::new(
                    StepKind::Build,
                    file_name(file),
                    shown(&project.dir, &release.project_dir),
                )
                .status(Status::Done, None),
            );
        }
        built_all.push(built);
    }
    let mut published = Published {
        distributions: Vec::new(),
        index: None,
    };
    for (project, built) in release.wheels.iter().zip(&built_all) {
        let report = publish(release, project, built, local.as_ref(), false, printer).await?;
        for file in &report.files {
            let step = Step::new(StepKind::Publish, &file.file, &report.simple_url)
                .detail(format!("sha256: {}", file.sha256));
            let step = match file.status {
                FileStatus::Uploaded => step.status(Status::Done, None),
                FileStatus::Skipped => step.status(
                    Status::Skip,
                    "already on the index with the same sha256".to_owned(),
                ),
                _ => {
                    let why = file
                        .error
                        .as_ref()
                        .map_or_else(|| file.status.as_str().to_owned(), |e| e.message.clone());
                    done(&mut steps, step.status(Status::Failed, why.clone()));
                    return Err(Classified::new(anyhow::anyhow!(
                        "`{}` was not published: {why}",
                        file.file
                    ))
                    .with_status(windlass_output::Outcome::exit_status(&report))
                    .with_hint("nothing after it ran; fix it and run the release again: what is done is skipped")
                    .into());
                }
            };
            done(&mut steps, step);
            published.distributions.push(Distribution {
                filename: file.file.clone(),
                sha256: file.sha256.clone(),
                size: file.size,
                index: match &local {
                    Some(dirs) => relative_to_manifest(&dirs.index(), &dirs.manifest(), true),
                    None => report.simple_url.clone(),
                },
            });
        }
        if published.index.is_none() {
            published.index = Some(match &local {
                Some(dirs) => IndexSection {
                    url: dirs.index_url()?,
                    username: None,
                    password: None,
                },
                None => index_for_images(&report, printer),
            });
        }
    }
    published
        .distributions
        .sort_by(|a, b| a.filename.cmp(&b.filename));
    // Images, from the published wheels.
    let mut image_ctx = release.image_context()?;
    image_ctx.image.index = published.index.clone().or(image_ctx.image.index);
    let mut images = Vec::new();
    for image in &release.images {
        let (record, image_steps) =
            build_and_push(&image_ctx, image, local.as_ref(), options, printer).await?;
        for step in image_steps {
            done(&mut steps, step);
        }
        images.push(record);
    }
    images.sort_by(|a, b| a.name.cmp(&b.name));
    // The bundle and the first environment.
    let manifest_path = local
        .as_ref()
        .map_or_else(|| release.manifest_path(), LocalDirs::manifest);
    let mut deploy_record = None;
    let mut environments = Vec::new();
    if let Some(first) = &release.environment {
        if let Some(dirs) = &local {
            let (record, reached, env_steps) =
                render_gitops(release, dirs, &images, printer).await?;
            for step in env_steps {
                done(&mut steps, step);
            }
            deploy_record = Some(record);
            environments = reached;
        } else {
            let (record, reached, env_steps) =
                deploy_first(release, first, &images, printer).await?;
            for step in env_steps {
                done(&mut steps, step);
            }
            deploy_record = Some(record);
            environments.extend(reached);
        }
    }
    let content = Content {
        project: release.project.clone(),
        version: release.version.clone(),
        source: release.source.clone(),
        distributions: published.distributions,
        images,
        deploy: deploy_record,
    };
    let mut manifest = Manifest::new(content);
    manifest.environments = merged_environments(&manifest_path, &manifest, environments);
    write_manifest(&manifest_path, &manifest)?;
    if let Some(extra) = &options.manifest {
        write_manifest(&release.cwd.join(extra), &manifest)?;
    }
    for step in attach_everywhere(&image_ctx, &manifest, &manifest_path, printer).await? {
        done(&mut steps, step);
    }
    printer.status(
        "Released",
        &format!(
            "{} {} (manifest {})",
            release.project,
            release.version,
            manifest.id.short()
        ),
    );
    github_outputs(printer, &manifest, &manifest_path)?;
    Ok(RunReport {
        manifest_path: shown(&manifest_path, &release.cwd),
        manifest,
        steps,
    })
}

/// A step as it finishes: one line on stderr, and with `--json` a `step`
/// event on stdout (so a run that fails still says what it did).
fn report_step(printer: &Printer, step: &Step) {
    let verb = match step.status {
        Status::Skip => "Skipped",
        Status::Failed => "Failed",
        _ => "Done",
    };
    printer.status(verb, &step.line());
    // A closed stdout ends the run at its result; the step is done anyway.
    let _ = printer.event("step", step);
}

/// Builds a project's wheel and sdist into `out`.
async fn build_wheels(
    project: &WheelProject,
    out: &Path,
    printer: &Printer,
) -> anyhow::Result<Built> {
    let args = windlass_wheel::WheelArgs {
        command: windlass_wheel::WheelCommand::Build(windlass_wheel::BuildArgs {
            dir: project.dir.clone(),
            out: Some(out.to_path_buf()),
            wheel: false,
            sdist: false,
            backend: None,
            no_wheel_from_sdist: false,
        }),
    };
    let windlass_wheel::WheelOutcome::Built(report) =
        windlass_wheel::run(&args, &project.ctx, printer).await?
    else {
        unreachable!("a build returns a build report")
    };
    let mut files: Vec<PathBuf> = report.artifacts.into_iter().map(|a| a.path).collect();
    files.sort();
    for file in &files {
        let problems = windlass_dist::check_file(file)
            .with_context(|| format!("cannot check `{}`", file.display()))?;
        if let Some(problem) = problems.first() {
            return Err(Classified::new(anyhow::anyhow!(
                "`{}` has {}, so nothing was published: {problem}",
                file_name(file),
                windlass_output::plural(problems.len(), "problem", "problems"),
            ))
            .with_status(ExitStatus::Failure)
            .with_hint("`windlass wheel check` shows every problem")
            .into());
        }
    }
    Ok(Built { files })
}

/// Publishes (or with `dry_run` looks up) a project's files.
async fn publish(
    release: &Release,
    project: &WheelProject,
    built: &Built,
    local: Option<&LocalDirs>,
    dry_run: bool,
    printer: &Printer,
) -> anyhow::Result<PublishReport> {
    let repository = match local {
        Some(dirs) => {
            if !dry_run {
                std::fs::create_dir_all(dirs.root.join("index"))
                    .with_context(|| format!("cannot create `{}`", dirs.root.display()))
                    .with_exit_status(ExitStatus::Usage)?;
            }
            Some(dirs.index_url()?)
        }
        None => project.repository.clone(),
    };
    let request = windlass_pypi::PublishRequest {
        dists: built.files.clone(),
        target: windlass_pypi::TargetRequest {
            repository,
            anonymous: local.is_some(),
            default_repository: project.ctx.wheel.repository.clone(),
            ..windlass_pypi::TargetRequest::default()
        },
        skip_existing: true,
        dry_run,
        jobs: std::num::NonZeroU16::new(4).unwrap_or(std::num::NonZeroU16::MIN),
        pypirc: None,
    };
    let mut context = project.ctx.publish_context()?;
    context.cwd.clone_from(&release.project_dir);
    context.prompt = None;
    windlass_pypi::publish(&request, &context, printer).await
}

/// The index the images' pip reads: the simple URL the wheels went to, with
/// the credentials they went with, as the references `wheel publish`
/// resolved them from (resolved again by the image build, given to pip in
/// its environment only).
fn index_for_images(report: &PublishReport, printer: &Printer) -> IndexSection {
    let reference = report.credential_reference.clone();
    let plain = !matches!(
        report.credentials.as_str(),
        windlass_pypi::repository::NO_CREDENTIALS | windlass_pypi::repository::TRUSTED_PUBLISHING
    );
    if reference.is_none() && plain {
        printer.warn(&format!(
            "the wheels went to {} with credentials from {}, which are no secret reference: the images' pip reads the index without them (give the repository a `token` or `password` reference in `[wheel.repositories]`)",
            report.simple_url, report.credentials
        ));
    }
    IndexSection {
        url: report.simple_url.clone(),
        username: reference.as_ref().map(|r| r.username.clone()),
        password: reference.map(|r| r.password),
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "the local and the registry path side by side"
)]
/// Builds an image (into a layout), then points each tag at it: pushed to
/// the registry unless it is already there, or tagged in the local layout.
async fn build_and_push(
    image_ctx: &windlass_image::cli::Context,
    image: &ImageTarget,
    local: Option<&LocalDirs>,
    options: &Options,
    printer: &Printer,
) -> anyhow::Result<(Image, Vec<Step>)> {
    let mut steps = Vec::new();
    let first_tag = image
        .tags
        .first()
        .cloned()
        .unwrap_or_else(|| "latest".into());
    let layout = match local {
        Some(dirs) => dirs.image(&image.name),
        None => image_ctx
            .cwd
            .join("dist/release/work/images")
            .join(&image.name),
    };
    let layout_shown = shown(&layout, &image_ctx.cwd);
    // What the layout's tags point at before this build (a re-run finds
    // them at the digest it builds again).
    let before: BTreeMap<String, String> = match local {
        Some(_) => windlass_image::Layout::open(&layout)
            .ok()
            .map(|l| {
                image
                    .tags
                    .iter()
                    .filter_map(|tag| {
                        let descriptor = l.resolve(Some(tag)).ok()?;
                        Some((tag.clone(), descriptor.digest().to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        None => BTreeMap::new(),
    };
    let build_tag = if local.is_some() {
        first_tag.as_str()
    } else {
        "build"
    };
    let args = windlass_image::build::BuildArgs {
        context: Some(image.context.clone()),
        containerfile: Some(image.containerfile.clone()),
        base: options.base.clone(),
        output: Some(format!("oci:{}:{build_tag}", layout.display())),
        ..windlass_image::build::BuildArgs::default()
    };
    let built = Box::pin(windlass_image::build::run(&args, image_ctx, printer)).await;
    let built = match built {
        Ok(built) => built,
        Err(error) => {
            steps.push(
                Step::new(StepKind::Image, &image.name, format!("oci:{layout_shown}"))
                    .status(Status::Failed, error_sentence(&error)),
            );
            for step in &steps {
                report_step(printer, step);
            }
            return Err(error.context(format!("the image `{}` was not built", image.name)));
        }
    };
    let digest = built.digest.to_string();
    steps.push(
        Step::new(StepKind::Image, &image.name, format!("oci:{layout_shown}"))
            .status(Status::Done, None)
            .detail(format!("digest: {digest}")),
    );
    if let Some(dirs) = local {
        let rest: Vec<String> = image.tags.iter().skip(1).cloned().collect();
        if !rest.is_empty() {
            let args = windlass_image::tag::TagArgs {
                image: format!("oci:{}:{first_tag}", layout.display()),
                tags: rest,
                transfer: windlass_image::registry::TransferArgs { jobs: 4 },
            };
            windlass_image::tag::run(&args, image_ctx, printer).await?;
        }
        for tag in &image.tags {
            let step = Step::new(StepKind::Push, tag, format!("oci:{layout_shown}:{tag}"));
            steps.push(if before.get(tag) == Some(&digest) {
                step.status(Status::Skip, format!("already at {digest}"))
            } else {
                step.status(Status::Done, None)
            });
        }
        Ok((
            Image {
                name: image.name.clone(),
                repository: format!(
                    "oci:{}",
                    relative_to_manifest(&layout, &dirs.manifest(), false)
                ),
                digest,
                tags: image.tags.clone(),
            },
            steps,
        ))
    } else {
        for tag in &image.tags {
            let destination = format!("{}:{tag}", image.repository);
            let step = Step::new(StepKind::Push, tag, &destination);
            let (now, _) = tag_digest(image_ctx, &image.repository, tag, printer).await?;
            if now.as_deref() == Some(digest.as_str()) {
                steps.push(step.status(Status::Skip, format!("already at {digest}")));
                continue;
            }
            let args = windlass_image::push::PushArgs {
                source: format!("oci:{}:{build_tag}", layout.display()),
                destination: destination.clone(),
                transfer: windlass_image::registry::TransferArgs { jobs: 4 },
            };
            windlass_image::push::run(&args, image_ctx, printer).await?;
            steps.push(step.status(Status::Done, None));
        }
        Ok((
            Image {
                name: image.name.clone(),
                repository: image.repository.clone(),
                digest,
                tags: image.tags.clone(),
            },
            steps,
        ))
    }
}

/// The digest a registry tag points at (`None` when there is no such
/// tag), and where the registry's credential comes from.
async fn tag_digest(
    image_ctx: &windlass_image::cli::Context,
    repository: &str,
    tag: &str,
    printer: &Printer,
) -> anyhow::Result<(Option<String>, String)> {
    let reference: windlass_image::Reference = format!("{repository}:{tag}")
        .parse()
        .with_context(|| format!("`[deploy.images]` repository `{repository}`"))
        .with_exit_status(ExitStatus::Usage)?;
    let client = windlass_image::registry::open_client(
        image_ctx,
        &windlass_image::registry::TransferArgs { jobs: 1 },
        printer,
        &[reference.registry.as_str()],
    )
    .await?;
    let repo = client.repo(&reference).await?;
    let digest = match repo.head_manifest(&reference.target()).await? {
        Some(descriptor) => Some(windlass_image::registry::digest_of(&descriptor)?.to_string()),
        None => None,
    };
    Ok((digest, repo.credential_source()))
}

/// Makes the bundle from the pushed digests and deploys it to the first
/// environment, unless it already runs it.
async fn deploy_first(
    release: &Release,
    env: &str,
    images: &[Image],
    printer: &Printer,
) -> anyhow::Result<(DeployRecord, Option<EnvironmentRecord>, Vec<Step>)> {
    let ctx = release.deploy_context();
    let mut steps = Vec::new();
    let image_flags: Vec<String> = images
        .iter()
        .map(|i| format!("{}={}@{}", i.name, i.repository, i.digest))
        .collect();
    let up = |dry_run| windlass_deploy::commands::up::UpArgs {
        environment: env.to_owned(),
        images: image_flags.clone(),
        chart_version: None,
        dry_run,
        allow_rolled_back: false,
    };
    let made = Box::pin(windlass_deploy::commands::up::run(&up(true), &ctx, printer)).await?;
    let bundle = made.bundle.clone();
    let record = DeployRecord {
        chart: made.content.chart.name.clone(),
        chart_version: made.content.chart.version.clone(),
        chart_digest: made.content.chart.digest.clone(),
        bundle: bundle.as_str().to_owned(),
    };
    steps.push(
        Step::new(StepKind::Bundle, &record.chart, bundle.as_str())
            .status(Status::Done, None)
            .detail(format!("chart: {} {}", record.chart, record.chart_version)),
    );
    let live = windlass_process::until_interrupted(windlass_deploy::commands::status::environment(
        &ctx, env,
    ))
    .await??;
    let step = Step::new(StepKind::Deploy, env, live.namespace.clone());
    if live.bundle.as_ref() == Some(&bundle) {
        steps.push(step.status(
            Status::Skip,
            format!("already runs bundle {}", short(bundle.as_str())),
        ));
        return Ok((record, None, steps));
    }
    let report = Box::pin(windlass_deploy::commands::up::run(
        &up(false),
        &ctx,
        printer,
    ))
    .await?;
    if report.result != windlass_deploy::promotion::Result_::Succeeded {
        let why = report
            .reason
            .clone()
            .unwrap_or_else(|| "the deploy failed".to_owned());
        steps.push(step.status(Status::Failed, why.clone()));
        for step in &steps {
            report_step(printer, step);
        }
        return Err(Classified::new(anyhow::anyhow!(
            "the deploy to `{env}` failed: {why}"
        ))
        .with_status(ExitStatus::Failure)
        .with_hint(format!(
            "`windlass deploy status {env}` shows where it stands; the wheels and images are published, a re-run skips them"
        ))
        .into());
    }
    steps.push(step.status(Status::Done, None));
    let spec = release.deploy.environments.get(env);
    let reached = EnvironmentRecord {
        name: env.to_owned(),
        bundle: bundle.as_str().to_owned(),
        at: now(),
        target: EnvironmentTarget::Cluster {
            context: spec
                .and_then(|s| s.context.clone())
                .unwrap_or_else(|| "current-context".to_owned()),
            namespace: report.namespace.clone(),
            release: report.release.clone(),
            revision: report.revision,
        },
    };
    Ok((record, Some(reached), steps))
}

/// Renders the bundle into `gitops/ENV/` for every environment: the first
/// made from the images, the later ones promoted from the first's
/// `bundle.json` (the same bundle id).
async fn render_gitops(
    release: &Release,
    dirs: &LocalDirs,
    images: &[Image],
    printer: &Printer,
) -> anyhow::Result<(DeployRecord, Vec<EnvironmentRecord>, Vec<Step>)> {
    use windlass_deploy::gitops::{RenderRequest, render};
    let ctx = release.deploy_context();
    let out = dirs.gitops();
    let mut inputs = Vec::new();
    for image in images {
        let tag = image.tags.first().map_or("latest", String::as_str);
        let text = format!(
            "{}=oci:{}:{tag}",
            image.name,
            dirs.image(&image.name).display()
        );
        inputs.push(text.parse::<windlass_deploy::make::ImageInput>()?);
    }
    let mut steps = Vec::new();
    let mut reached = Vec::new();
    let mut record = None;
    let mut first_bundle: Option<PathBuf> = None;
    for env in release.environment_chain() {
        let before = previous_bundle(&out.join(&env).join("bundle.json"));
        let request = RenderRequest {
            environment: env.clone(),
            out: out.clone(),
            images: if first_bundle.is_some() {
                Vec::new()
            } else {
                inputs.clone()
            },
            bundle: first_bundle.clone(),
            chart_version: None,
        };
        let rendered = Box::pin(render(&ctx, &request, printer)).await?;
        let id = rendered.bundle_id.as_str().to_owned();
        if record.is_none() {
            let chart = &rendered.bundle.chart;
            record = Some(DeployRecord {
                chart: chart.name.clone(),
                chart_version: chart.version.clone(),
                chart_digest: chart.digest.clone(),
                bundle: id.clone(),
            });
            steps.push(
                Step::new(StepKind::Bundle, &chart.name, &id)
                    .status(Status::Done, None)
                    .detail(format!("chart: {} {}", chart.name, chart.version)),
            );
            first_bundle = Some(rendered.env_dir.join("bundle.json"));
        }
        let step = Step::new(
            StepKind::Deploy,
            &env,
            shown(&rendered.env_dir, &release.project_dir),
        );
        steps.push(if before.as_deref() == Some(id.as_str()) {
            step.status(Status::Skip, format!("already holds bundle {}", short(&id)))
        } else {
            step.status(Status::Done, None)
        });
        reached.push(EnvironmentRecord {
            name: env.clone(),
            bundle: id,
            at: now(),
            target: EnvironmentTarget::Gitops {
                dir: relative_to_manifest(&rendered.env_dir, &dirs.manifest(), false),
            },
        });
    }
    let record = record.ok_or_else(|| {
        Classified::new(anyhow::anyhow!("the release has no environment to render"))
            .with_status(ExitStatus::Usage)
    })?;
    Ok((record, reached, steps))
}

/// The bundle id of a `bundle.json` an earlier render wrote.
fn previous_bundle(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("id")?.as_str().map(ToOwned::to_owned)
}

/// Whether the first environment already runs the bundle the registry's
/// current tags would make (plan, when every wheel is already published).
async fn planned_bundle_is_live(
    release: &Release,
    env: &str,
    printer: &Printer,
) -> anyhow::Result<Option<String>> {
    let ctx = release.deploy_context();
    let image_ctx = release.image_context()?;
    let mut flags = Vec::new();
    for image in &release.images {
        let Some(tag) = image.tags.first() else {
            return Ok(None);
        };
        match tag_digest(&image_ctx, &image.repository, tag, printer)
            .await?
            .0
        {
            Some(digest) => flags.push(format!("{}={}@{digest}", image.name, image.repository)),
            None => return Ok(None),
        }
    }
    let args = windlass_deploy::commands::up::UpArgs {
        environment: env.to_owned(),
        images: flags,
        chart_version: None,
        dry_run: true,
        allow_rolled_back: false,
    };
    let made = Box::pin(windlass_deploy::commands::up::run(&args, &ctx, printer)).await?;
    let live = windlass_process::until_interrupted(windlass_deploy::commands::status::environment(
        &ctx, env,
    ))
    .await??;
    Ok((live.bundle.as_ref() == Some(&made.bundle)).then(|| made.bundle.as_str().to_owned()))
}

/// The environment records of the manifest already at `path` when it is
/// this release's, with the ones reached now appended (a re-run that
/// deployed nothing keeps what the first run recorded).
fn merged_environments(
    path: &Path,
    manifest: &Manifest,
    reached: Vec<EnvironmentRecord>,
) -> Vec<EnvironmentRecord> {
    let mut environments = std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Manifest>(&bytes).ok())
        .filter(|old| old.id == manifest.id)
        .map(|old| old.environments)
        .unwrap_or_default();
    for record in reached {
        let same = environments
            .iter()
            .any(|e| e.name == record.name && e.bundle == record.bundle);
        if !same {
            environments.push(record);
        }
    }
    environments
}

/// Writes the manifest through a temporary file renamed over the target.
fn write_manifest(path: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(manifest).context("cannot write the manifest")?;
    bytes.push(b'\n');
    windlass_output::write_atomically(path, &bytes)
}

/// In GitHub Actions: the step outputs (`version`, `manifest`,
/// `manifest-id`, `bundle-id`, `digests`) and the step summary.
fn github_outputs(printer: &Printer, manifest: &Manifest, path: &Path) -> anyhow::Result<()> {
    let Some(github) = printer.github() else {
        return Ok(());
    };
    let digests: BTreeMap<&str, &str> = manifest
        .content
        .images
        .iter()
        .map(|i| (i.name.as_str(), i.digest.as_str()))
        .collect();
    let mut outputs = vec![
        ("version", manifest.content.version.clone()),
        ("manifest", path.display().to_string()),
        ("manifest-id", manifest.id.as_str().to_owned()),
        ("digests", serde_json::to_string(&digests)?),
    ];
    if let Some(deploy) = &manifest.content.deploy {
        outputs.push(("bundle-id", deploy.bundle.clone()));
    }
    printer.set_step_outputs(&outputs);
    github.append_summary(&crate::summary::markdown(manifest))?;
    Ok(())
}

/// Attaches the manifest to every image it names: as an OCI referrer in
/// the registry (a fallback tag where the registry lacks the referrers
/// API), or into the local layout.
async fn attach_everywhere(
    image_ctx: &windlass_image::cli::Context,
    manifest: &Manifest,
    manifest_path: &Path,
    printer: &Printer,
) -> anyhow::Result<Vec<Step>> {
    let dir = manifest_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut targets = Vec::new();
    let mut registries = Vec::new();
    for image in &manifest.content.images {
        let target = crate::attach::ImageTarget::of(image, dir)?;
        if let crate::attach::ImageTarget::Registry(reference) = &target {
            registries.push(reference.registry.clone());
        }
        targets.push((image, target));
    }
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let hosts: Vec<&str> = registries.iter().map(String::as_str).collect();
    let client = windlass_image::registry::open_client(
        image_ctx,
        &windlass_image::registry::TransferArgs { jobs: 4 },
        printer,
        &hosts,
    )
    .await?;
    let mut steps = Vec::new();
    for (image, target) in targets {
        let attached = crate::attach::attach(manifest, &target, &client).await?;
        let how = match &attached.via {
            crate::attach::Via::Referrers => "as a referrer".to_owned(),
            crate::attach::Via::FallbackTag(tag) => format!("under the fallback tag {tag}"),
            crate::attach::Via::Layout => "into the layout".to_owned(),
        };
        steps.push(
            Step::new(StepKind::Attach, &image.name, &image.repository)
                .status(
                    if attached.new {
                        Status::Done
                    } else {
                        Status::Skip
                    },
                    (!attached.new).then(|| "attached before".to_owned()),
                )
                .detail(format!(
                    "manifest {} {how}: {}",
                    manifest.id.short(),
                    attached.digest
                )),
        );
    }
    Ok(steps)
}

fn namespace_of(release: &Release, env: &str) -> String {
    release
        .deploy
        .environments
        .get(env)
        .and_then(|s| s.namespace.clone())
        .map_or_else(|| env.to_owned(), |ns| format!("namespace {ns}"))
}

/// `path` relative to the directory of `manifest` (both under the same
/// root), with `/` separators; a trailing `/` for a directory.
fn relative_to_manifest(path: &Path, manifest: &Path, dir: bool) -> String {
    let base = manifest.parent().unwrap_or(Path::new(""));
    let relative = path.strip_prefix(base).unwrap_or(path);
    let mut text = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    if dir {
        text.push('/');
    }
    text
}

/// `path` as seen from `base` (`../ml-project`, `dist/release/local`),
/// for people.
pub(crate) fn shown(path: &Path, base: &Path) -> String {
    let path_parts: Vec<_> = path.components().collect();
    let base_parts: Vec<_> = base.components().collect();
    let common = path_parts
        .iter()
        .zip(&base_parts)
        .take_while(|(a, b)| a == b)
        .count();
    if common == 0 {
        return windlass_output::display_path(path);
    }
    let mut parts: Vec<String> = vec!["..".to_owned(); base_parts.len() - common];
    parts.extend(
        path_parts[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_owned()
    } else {
        windlass_output::escape_controls(&parts.join("/")).into_owned()
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

fn error_sentence(error: &anyhow::Error) -> String {
    windlass_redact::global()
        .redact(&format!("{error:#}"))
        .into_owned()
}

fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::steps::{Status, Step, StepKind};

    #[test]
    fn steps_after_a_blocked_one_are_blocked() {
        let mut steps = vec![
            Step::new(StepKind::Publish, "a.whl", "index"),
            Step::new(StepKind::Publish, "a.tar.gz", "index")
                .status(Status::Blocked, "another file".to_owned()),
            Step::new(StepKind::Image, "job", "registry"),
            Step::new(StepKind::Deploy, "dev", "ns").status(Status::Skip, "live".to_owned()),
        ];
        super::block_after_a_block(&mut steps);
        let statuses: Vec<Status> = steps.iter().map(|s| s.status).collect();
        assert_eq!(
            statuses,
            [
                Status::WillRun,
                Status::Blocked,
                Status::Blocked,
                Status::Skip
            ]
        );
        assert_eq!(
            steps[2].why.as_deref(),
            Some("waits for `publish a.tar.gz`, which is blocked")
        );
    }

    #[test]
    fn paths_shown_from_the_project() {
        let base = Path::new("/w/repo/ml-job");
        let check = |path: &str, expected: &str| {
            assert_eq!(super::shown(Path::new(path), base), expected, "{path}");
        };
        check("/w/repo/ml-project", "../ml-project");
        check("/w/repo/ml-job/dist/release/local", "dist/release/local");
        check("/w/repo/ml-job", ".");
    }
}
