//! From flags, `[image]` and a Containerfile to the layers and config
//! changes of a build.
//!
//! Precedence: flags, then `[image]`, then the Containerfile (`--base` and
//! `[image] base` replace its `FROM`, so a Containerfile written for a
//! registry base builds on a local layout unchanged). Layers: the
//! Containerfile's in its order (one per `COPY`/`ADD`, one per `RUN`), then
//! those of flags and `[image]` in cache-friendly order: dependencies
//! (`-r`), the project's wheels, then files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use super::base::{self, BaseImage, Platform};
use super::containerfile::{self, Containerfile, Op, RunStep};
use super::image::{ConfigEdits, Step, StepKind};
use super::layer::{Attrs, Compression, LayerBuilder, LayerOptions, image_path};
use super::python::PythonRequest;
use super::{BuildArgs, BuildError, DEFAULT_OUTPUT};
use crate::config::ImageSection;
use crate::reference::{Location, Reference};

/// A build, from flags and `[image]`: paths absolute.
#[derive(Debug, Clone)]
pub struct Request {
    pub context: PathBuf,
    pub containerfile: Option<PathBuf>,
    /// How messages name the Containerfile: relative to the working
    /// directory when it is below it.
    pub containerfile_shown: Option<PathBuf>,
    pub build_args: BTreeMap<String, String>,
    /// `None`: the Containerfile's `FROM` (or `scratch` without one).
    pub base: Option<BaseChoice>,
    /// `(source, image destination)`.
    pub files: Vec<(PathBuf, String)>,
    pub requirements: Vec<PathBuf>,
    pub wheels: Vec<PathBuf>,
    /// A PEP 751 lock file.
    pub lock: Option<PathBuf>,
    /// Byte-compile Python packages (`--compile`, `--no-compile`,
    /// `[image] compile`); `None`: a Containerfile's `RUN pip install`
    /// decides (compiled unless `--no-compile`, as pip), the other steps
    /// are not compiled.
    pub compile: Option<bool>,
    pub edits: ConfigEdits,
    pub platforms: Vec<Platform>,
    pub compression: Compression,
    pub owner: (u64, u64),
    pub output: Location,
    pub push: Option<Reference>,
}

/// A base image chosen by a flag, `[image]` or the Containerfile.
#[derive(Debug, Clone)]
pub enum BaseChoice {
    Scratch,
    Image(Location),
    /// A registry base already pulled into a local layout.
    Pulled(Box<PulledBase>),
}

impl PartialEq for BaseChoice {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Scratch, Self::Scratch) => true,
            (Self::Image(a), Self::Image(b)) => a == b,
            (Self::Pulled(a), Self::Pulled(b)) => {
                a.name == b.name && a.descriptor.digest() == b.descriptor.digest()
            }
            _ => false,
        }
    }
}

impl Eq for BaseChoice {}

/// A registry base in a local layout (the cache's), and what its
/// reference pointed at when it was pulled.
#[derive(Debug, Clone)]
pub struct PulledBase {
    /// The reference as the build named it, for the annotations.
    pub name: String,
    pub layout: crate::layout::Layout,
    pub descriptor: oci_spec::image::Descriptor,
}

/// What the build makes, base loaded.
#[derive(Debug)]
pub struct Prepared {
    pub base: BaseImage,
    /// The base as the user named it.
    pub base_name: Option<String>,
    pub steps: Vec<Step>,
    pub edits: ConfigEdits,
    pub options: LayerOptions,
}

fn input(what: impl Into<String>, why: impl Into<String>) -> BuildError {
    BuildError::Input {
        what: what.into(),
        why: why.into(),
    }
}

/// `NAME=VALUE`.
fn pair(flag: &str, value: &str) -> Result<(String, String), BuildError> {
    match value.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(input(format!("`{flag} {value}`"), "give `NAME=VALUE`")),
    }
}

/// A command given as a JSON array or as words.
fn command(flag: &str, value: &str) -> Result<Vec<String>, BuildError> {
    if value.trim_start().starts_with('[') {
        serde_json::from_str(value).map_err(|e| {
            input(
                format!("`{flag}`"),
                format!("not a JSON array of strings: {e}"),
            )
        })
    } else {
        Ok(value.split_whitespace().map(str::to_owned).collect())
    }
}

fn port(value: &str) -> Result<String, BuildError> {
    let (number, proto) = value.split_once('/').unwrap_or((value, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if number.parse::<u16>().is_err() || !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(input(
            format!("port `{value}`"),
            "write `PORT`, `PORT/tcp` or `PORT/udp`",
        ));
    }
    Ok(format!("{number}/{proto}"))
}

fn owner(value: &str) -> Result<(u64, u64), BuildError> {
    let (u, g) = value.split_once(':').unwrap_or((value, value));
    match (u.parse(), g.parse()) {
        (Ok(u), Ok(g)) => Ok((u, g)),
        _ => Err(input(format!("owner `{value}`"), "give numbers: `UID:GID`")),
    }
}

/// A layout location with a relative directory made absolute from `base`.
fn anchored(location: Location, base: &Path) -> Location {
    match location {
        Location::Layout { dir, tag } if dir.is_relative() => Location::Layout {
            dir: normalize(&base.join(dir)),
            tag,
        },
        other => other,
    }
}

fn parse_base(value: &str, base_dir: &Path) -> Result<BaseChoice, BuildError> {
    if value == "scratch" {
        return Ok(BaseChoice::Scratch);
    }
    value
        .parse::<Location>()
        .map(|l| BaseChoice::Image(anchored(l, base_dir)))
        .map_err(|e| input(format!("base `{value}`"), e.to_string()))
}

impl Request {
    /// Flags over `[image]`; flag paths are relative to `cwd`, the
    /// section's to its file, the defaults to `project_dir`.
    pub fn from_args(
        args: &BuildArgs,
        section: &ImageSection,
        cwd: &Path,
        project_dir: &Path,
    ) -> Result<Self, BuildError> {
        let context = match (&args.context, &section.context) {
            (Some(dir), _) => normalize(&cwd.join(dir)),
            (None, Some(dir)) => dir.as_path().to_owned(),
            (None, None) => project_dir.to_owned(),
        };
        let containerfile = args
            .containerfile
            .as_ref()
            .map(|p| normalize(&cwd.join(p)))
            .or_else(|| {
                section
                    .containerfile
                    .as_ref()
                    .map(|p| p.as_path().to_owned())
            });
        let containerfile_shown = containerfile.as_ref().map(|path| {
            path.strip_prefix(cwd)
                .map_or_else(|_| path.clone(), Path::to_path_buf)
        });
        let build_args = args
            .build_args
            .iter()
            .map(|a| pair("--build-arg", a))
            .collect::<Result<_, _>>()?;
        let base = match (&args.base, &section.base) {
            (Some(b), _) => Some(parse_base(b, cwd)?),
            (None, Some(b)) => Some(parse_base(b, project_dir)?),
            (None, None) => None,
        };
        let mut files = Vec::new();
        for entry in &section.files {
            files.push((entry.src.as_path().to_owned(), entry.dest.clone()));
        }
        for spec in &args.copy {
            let Some((src, dest)) = spec
                .rsplit_once(':')
                .filter(|(s, d)| !s.is_empty() && !d.is_empty())
            else {
                return Err(input(format!("`--copy {spec}`"), "give `SRC:DEST`"));
            };
            files.push((normalize(&context.join(src)), dest.to_owned()));
        }
        let requirements = section
            .requirements
            .iter()
            .map(|p| p.as_path().to_owned())
            .chain(args.requirements.iter().map(|p| normalize(&cwd.join(p))))
            .collect();
        let mut wheels = Vec::new();
        for pattern in section
            .wheels
            .iter()
            .map(|p| p.as_path().to_owned())
            .chain(args.wheels.iter().map(|p| normalize(&cwd.join(p))))
        {
            wheels.extend(expand_wheels(&pattern)?);
        }
        let edits = edits_from(args, section)?;
        let platforms = platforms(if args.platform.is_empty() {
            &section.platforms
        } else {
            &args.platform
        })?;
        let (output, push) = destinations(args, section, cwd, project_dir)?;
        Ok(Self {
            context,
            containerfile,
            containerfile_shown,
            build_args,
            base,
            files,
            requirements,
            wheels,
            lock: lock_choice(args, section, cwd),
            compile: compile_choice(args, section),
            edits,
            platforms,
            compression: args.compression.or(section.compression).unwrap_or_default(),
            owner: match args.owner.as_deref().or(section.owner.as_deref()) {
                Some(o) => owner(o)?,
                None => (0, 0),
            },
            output,
            push,
        })
    }
}

/// `--lock` (relative to `cwd`), else `[image] lock`.
fn lock_choice(args: &BuildArgs, section: &ImageSection, cwd: &Path) -> Option<PathBuf> {
    args.lock
        .as_ref()
        .map(|p| normalize(&cwd.join(p)))
        .or_else(|| section.lock.as_ref().map(|p| p.as_path().to_owned()))
}

/// `--compile`, `--no-compile`, else `[image] compile`.
fn compile_choice(args: &BuildArgs, section: &ImageSection) -> Option<bool> {
    if args.compile {
        Some(true)
    } else if args.no_compile {
        Some(false)
    } else {
        section.compile
    }
}

/// `os/arch[/variant]` specifications, each once.
fn platforms(specs: &[String]) -> Result<Vec<Platform>, BuildError> {
    let mut platforms = Vec::new();
    for spec in specs {
        let platform: Platform = spec
            .parse()
            .map_err(|e: base::PlatformError| input("`--platform`", e.to_string()))?;
        if !platforms.contains(&platform) {
            platforms.push(platform);
        }
    }
    Ok(platforms)
}

/// The runtime config from flags over `[image]`.
fn edits_from(args: &BuildArgs, section: &ImageSection) -> Result<ConfigEdits, BuildError> {
    let mut edits = ConfigEdits::default();
    for (k, v) in &section.env {
        edits.set_env(k, v);
    }
    for e in &args.env {
        let (k, v) = pair("--env", e)?;
        edits.set_env(&k, &v);
    }
    edits.entrypoint = match &args.entrypoint {
        Some(e) => Some(command("--entrypoint", e)?),
        None => section.entrypoint.clone(),
    };
    edits.cmd = match &args.cmd {
        Some(c) => Some(command("--cmd", c)?),
        None => section.cmd.clone(),
    };
    edits.workdir = args.workdir.clone().or_else(|| section.workdir.clone());
    edits.user = args.user.clone().or_else(|| section.user.clone());
    for p in section.expose.iter().chain(&args.expose) {
        edits.expose.push(port(p)?);
    }
    edits.labels = section.labels.clone();
    for l in &args.labels {
        let (k, v) = pair("--label", l)?;
        edits.labels.insert(k, v);
    }
    Ok(edits)
}

/// A wheel path, or a pattern in its file name (`dist/*.whl`, so that
/// `[image] wheels` follows the version `windlass wheel build` writes):
/// the matching files, sorted; none is an error.
fn expand_wheels(pattern: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let name = pattern
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?', '[']) {
        return Ok(vec![pattern.to_owned()]);
    }
    let dir = pattern.parent().unwrap_or(Path::new("."));
    let matcher = globset::Glob::new(&name)
        .map_err(|e| {
            input(
                format!("wheel pattern `{}`", pattern.display()),
                e.to_string(),
            )
        })?
        .compile_matcher();
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| matcher.is_match(e.file_name()))
        .map(|e| e.path())
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(input(
            format!("wheel pattern `{}`", pattern.display()),
            "no file matches it (build the wheel first: `windlass wheel build`)",
        ));
    }
    Ok(found)
}

/// The output (flag over `[image] output` over the default) and `--push`.
fn destinations(
    args: &BuildArgs,
    section: &ImageSection,
    cwd: &Path,
    project_dir: &Path,
) -> Result<(Location, Option<Reference>), BuildError> {
    let output = match (&args.output, &section.output) {
        (Some(o), _) => anchored(parse_output(o)?, cwd),
        (None, Some(o)) => anchored(parse_output(o)?, project_dir),
        (None, None) => anchored(parse_output(DEFAULT_OUTPUT)?, project_dir),
    };
    let push = args
        .push
        .as_deref()
        .map(|r| {
            r.parse::<Reference>()
                .map_err(|e| input(format!("`--push {r}`"), e.to_string()))
        })
        .transpose()?;
    if let (Location::Registry(to), Some(also)) = (&output, &push) {
        return Err(input(
            format!("`--push {also}` with the output `docker://{to}`"),
            "give one registry destination: `-o docker://REFERENCE` pushes the image already",
        ));
    }
    Ok((output, push))
}

/// `oci:DIR[:TAG]`, or `docker://REFERENCE` (a registry, spelled with its
/// transport as skopeo does). A bare reference is refused: `dist/image`
/// would read as a Docker Hub repository.
fn parse_output(value: &str) -> Result<Location, BuildError> {
    match value.parse::<Location>() {
        Ok(location @ Location::Layout { .. }) => Ok(location),
        Ok(location @ Location::Registry(_)) if value.starts_with("docker://") => Ok(location),
        Ok(Location::Registry(_)) => Err(BuildError::BareOutput {
            value: windlass_output::escape_controls(value).into_owned(),
        }),
        Err(e) => Err(input(
            format!("output `{}`", windlass_output::escape_controls(value)),
            e.to_string(),
        )),
    }
}

/// The Containerfile of `request`, read and parsed.
pub fn read_containerfile(request: &Request) -> Result<Option<Containerfile>, BuildError> {
    match &request.containerfile {
        Some(path) => Ok(Some(
            containerfile::read(
                path,
                request.containerfile_shown.as_deref().unwrap_or(path),
                &request.build_args,
            )
            .map_err(|e| match e {
                containerfile::ReadFileError::Read(e) => BuildError::Layer(e.into()),
                containerfile::ReadFileError::Syntax(e) => BuildError::Containerfile(e),
            })?,
        )),
        None => Ok(None),
    }
}

/// The base: the flag's or `[image]`'s, else the Containerfile's `FROM`,
/// else `scratch`.
pub fn base_choice(
    request: &Request,
    file: Option<&Containerfile>,
) -> Result<BaseChoice, BuildError> {
    match (&request.base, file) {
        (Some(choice), _) => Ok(choice.clone()),
        (None, Some(file)) => parse_base(&file.from, &request.context),
        (None, None) => Ok(BaseChoice::Scratch),
    }
}

/// The platforms to build: the flag's or `[image]`'s, else the
/// Containerfile's `FROM --platform`, else none (the base decides).
pub fn build_platforms(
    request: &Request,
    file: Option<&Containerfile>,
) -> Result<Vec<Platform>, BuildError> {
    let mut platforms = request.platforms.clone();
    if platforms.is_empty()
        && let Some(p) = file.and_then(|f| f.from_platform.as_deref())
    {
        platforms.push(
            p.parse()
                .map_err(|e: base::PlatformError| input("`FROM --platform`", e.to_string()))?,
        );
    }
    Ok(platforms)
}

/// Loads the base and turns the request into layers.
pub fn prepare(request: &Request, epoch: u64) -> Result<Prepared, BuildError> {
    let options = LayerOptions {
        mtime: epoch,
        compression: request.compression,
    };
    let file = read_containerfile(request)?;
    let choice = base_choice(request, file.as_ref())?;
    let platforms = build_platforms(request, file.as_ref())?;
    let (base, base_name) = match &choice {
        BaseChoice::Scratch => (base::load(None, &platforms)?, None),
        BaseChoice::Image(location) => (
            base::load(Some(location), &platforms)?,
            Some(location.to_string()),
        ),
        BaseChoice::Pulled(pulled) => (
            base::load_pulled(
                pulled.layout.clone(),
                &pulled.descriptor,
                &pulled.name,
                &platforms,
            )?,
            Some(pulled.name.clone()),
        ),
    };
    let ignore = Ignore::load(&request.context)?;
    let mut lowering = Lowering {
        request,
        options,
        ignore: &ignore,
        workdir: base
            .images
            .first()
            .and_then(|i| i.config.pointer("/config/WorkingDir"))
            .and_then(|v| v.as_str())
            .filter(|w| !w.is_empty())
            .unwrap_or("/")
            .to_owned(),
        steps: Vec::new(),
        edits: ConfigEdits::default(),
        copied_files: BTreeMap::new(),
        copied_dirs: Vec::new(),
        dirs: BTreeSet::new(),
    };
    if lowering.workdir != "/" {
        lowering.dirs.insert(image_path(&lowering.workdir)?);
    }
    if let Some(file) = &file {
        lowering.containerfile(file)?;
    }
    lowering.flags()?;
    let Lowering {
        steps, mut edits, ..
    } = lowering;
    merge_edits(&mut edits, &request.edits);
    Ok(Prepared {
        base,
        base_name,
        steps,
        edits,
        options,
    })
}

/// Applies the flag and `[image]` edits over the Containerfile's.
fn merge_edits(into: &mut ConfigEdits, over: &ConfigEdits) {
    for (k, v) in &over.env {
        into.set_env(k, v);
    }
    if over.entrypoint.is_some() {
        into.entrypoint.clone_from(&over.entrypoint);
    }
    if over.cmd.is_some() {
        into.cmd.clone_from(&over.cmd);
    }
    for (field, value) in [
        (&mut into.workdir, &over.workdir),
        (&mut into.user, &over.user),
        (&mut into.stop_signal, &over.stop_signal),
    ] {
        if value.is_some() {
            field.clone_from(value);
        }
    }
    into.expose.extend(over.expose.iter().cloned());
    into.volumes.extend(over.volumes.iter().cloned());
    into.labels
        .extend(over.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
}

struct Lowering<'a> {
    request: &'a Request,
    options: LayerOptions,
    ignore: &'a Ignore,
    /// The image working directory (`/job`).
    workdir: String,
    steps: Vec<Step>,
    edits: ConfigEdits,
    /// Image path (no leading `/`) -> the file it was copied from.
    copied_files: BTreeMap<String, PathBuf>,
    /// Image directory -> the directory it was copied from.
    copied_dirs: Vec<(String, PathBuf)>,
    /// Directories this build made or filled.
    dirs: BTreeSet<String>,
}

impl Lowering<'_> {
    fn containerfile(&mut self, file: &Containerfile) -> Result<(), BuildError> {
        for instruction in &file.instructions {
            let at = |source: BuildError| BuildError::Step {
                file: file.path.clone(),
                line: instruction.line,
                instruction: instruction.text.clone(),
                source: Box::new(source),
            };
            if !matches!(instruction.op, Op::Copy(_) | Op::Run(_)) {
                self.steps.push(Step {
                    created_by: instruction.text.clone(),
                    kind: StepKind::Config,
                });
            }
            match &instruction.op {
                Op::Env(pairs) => {
                    for (k, v) in pairs {
                        self.edits.set_env(k, v);
                    }
                }
                Op::Label(pairs) => {
                    for (k, v) in pairs {
                        self.edits.labels.insert(k.clone(), v.clone());
                    }
                }
                Op::Workdir(dir) => {
                    let dir = self.image_abs(dir).map_err(at)?;
                    // The runtime makes it: `COPY x /job` after `WORKDIR
                    // /job` copies into it.
                    self.dirs
                        .insert(image_path(&dir).map_err(|e| at(e.into()))?);
                    self.workdir.clone_from(&dir);
                    self.edits.workdir = Some(dir);
                }
                Op::User(user) => self.edits.user = Some(user.clone()),
                Op::Expose(ports) => self.edits.expose.extend(ports.iter().cloned()),
                Op::Volume(volumes) => self.edits.volumes.extend(volumes.iter().cloned()),
                Op::StopSignal(s) => self.edits.stop_signal = Some(s.clone()),
                Op::Entrypoint(e) => self.edits.set_entrypoint(e.clone()),
                Op::Cmd(c) => self.edits.cmd = Some(c.clone()),
                Op::Copy(copy) => {
                    let attrs = Attrs {
                        uid: copy.chown.map_or(0, |c| c.0),
                        gid: copy.chown.map_or(0, |c| c.1),
                        mode: copy.chmod,
                    };
                    let mut builder = LayerBuilder::new(self.options);
                    self.copy(&mut builder, &copy.sources, &copy.dest, attrs)
                        .map_err(at)?;
                    self.steps.push(Step {
                        created_by: instruction.text.clone(),
                        kind: StepKind::Files(builder),
                    });
                }
                Op::Run(steps) => self.run(&instruction.text, steps).map_err(at)?,
            }
        }
        Ok(())
    }

    fn run(&mut self, text: &str, steps: &[RunStep]) -> Result<(), BuildError> {
        let mut pending: Option<LayerBuilder> = None;
        for step in steps {
            match step {
                RunStep::Mkdir { paths, mode } => {
                    let builder = pending.get_or_insert_with(|| LayerBuilder::new(self.options));
                    for path in paths {
                        let dir = self.image_abs(path)?;
                        builder.add_dir(
                            &dir,
                            Attrs {
                                mode: *mode,
                                ..Attrs::default()
                            },
                        )?;
                        self.dirs.insert(image_path(&dir)?);
                    }
                }
                RunStep::Symlink { target, link } => {
                    let builder = pending.get_or_insert_with(|| LayerBuilder::new(self.options));
                    let link = self.image_abs(link)?;
                    builder.add_symlink(&link, target, Attrs::default())?;
                }
                RunStep::PipInstall(pip) => {
                    if let Some(builder) = pending.take() {
                        self.steps.push(Step {
                            created_by: text.to_owned(),
                            kind: StepKind::Files(builder),
                        });
                    }
                    let mut request = PythonRequest {
                        pins: pip.pins.clone(),
                        // pip compiles unless told not to.
                        compile: self.request.compile.or(pip.compile).unwrap_or(true),
                        compile_by_default: self.request.compile.or(pip.compile).is_none(),
                        ..PythonRequest::default()
                    };
                    for r in &pip.requirements {
                        request.requirements.push(self.copied(r)?);
                    }
                    for w in &pip.wheels {
                        request.wheels.push(self.copied(w)?);
                    }
                    self.steps.push(Step {
                        created_by: text.to_owned(),
                        kind: StepKind::Python(request),
                    });
                }
            }
        }
        if let Some(builder) = pending {
            self.steps.push(Step {
                created_by: text.to_owned(),
                kind: StepKind::Files(builder),
            });
        }
        Ok(())
    }

    /// Flags and `[image]`: dependencies, wheels, files.
    fn flags(&mut self) -> Result<(), BuildError> {
        let request = self.request;
        let compile = request.compile.unwrap_or(false);
        if !request.requirements.is_empty() {
            let names: Vec<String> = request
                .requirements
                .iter()
                .map(|p| format!("-r {}", self.shown(p)))
                .collect();
            self.steps.push(Step {
                created_by: format!("pip install {}", names.join(" ")),
                kind: StepKind::Python(PythonRequest {
                    requirements: request.requirements.clone(),
                    compile,
                    ..PythonRequest::default()
                }),
            });
        }
        if let Some(lock) = &request.lock {
            self.steps.push(Step {
                created_by: format!("pip install -r {}", self.shown(lock)),
                kind: StepKind::Python(PythonRequest {
                    lock: Some(lock.clone()),
                    compile,
                    ..PythonRequest::default()
                }),
            });
        }
        if !request.wheels.is_empty() {
            let names: Vec<String> = request.wheels.iter().map(|p| self.shown(p)).collect();
            self.steps.push(Step {
                created_by: format!("pip install {}", names.join(" ")),
                kind: StepKind::Python(PythonRequest {
                    wheels: request.wheels.clone(),
                    compile,
                    ..PythonRequest::default()
                }),
            });
        }
        if !request.files.is_empty() {
            let attrs = Attrs {
                uid: request.owner.0,
                gid: request.owner.1,
                mode: None,
            };
            let mut builder = LayerBuilder::new(self.options);
            let mut shown = Vec::new();
            for (src, dest) in &request.files {
                let rel =
                    src.strip_prefix(&request.context)
                        .map_err(|_| BuildError::OutsideContext {
                            path: src.clone(),
                            context: request.context.clone(),
                        })?;
                let rel = rel.to_string_lossy().into_owned();
                self.copy(&mut builder, std::slice::from_ref(&rel), dest, attrs)?;
                shown.push(format!("{rel} {dest}"));
            }
            self.steps.push(Step {
                created_by: format!("COPY {}", shown.join(", ")),
                kind: StepKind::Files(builder),
            });
        }
        Ok(())
    }

    /// A path as history shows it: relative to the context, never a path
    /// of this machine.
    fn shown(&self, path: &Path) -> String {
        path.strip_prefix(&self.request.context).map_or_else(
            |_| {
                path.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            },
            |p| p.to_string_lossy().into_owned(),
        )
    }

    /// An image path made absolute against the working directory.
    fn image_abs(&self, path: &str) -> Result<String, BuildError> {
        let joined = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("{}/{path}", self.workdir)
        };
        Ok(format!("/{}", image_path(&joined)?))
    }

    /// The file on this machine a `RUN pip install` argument names: one
    /// this build copied into the image.
    fn copied(&self, path: &str) -> Result<PathBuf, BuildError> {
        let abs = self.image_abs(path)?;
        let key = image_path(&abs)?;
        if let Some(host) = self.copied_files.get(&key) {
            return Ok(host.clone());
        }
        for (dir, host) in self.copied_dirs.iter().rev() {
            if let Some(rest) = key
                .strip_prefix(dir.as_str())
                .and_then(|r| r.strip_prefix('/'))
            {
                let candidate = host.join(rest);
                if candidate.is_file() {
                    return Ok(candidate);
                }
            }
        }
        Err(BuildError::NotCopied { path: abs })
    }

    fn copy(
        &mut self,
        builder: &mut LayerBuilder,
        sources: &[String],
        dest: &str,
        attrs: Attrs,
    ) -> Result<(), BuildError> {
        let context = &self.request.context;
        let real_context = std::fs::canonicalize(context).map_err(|e| {
            input(
                format!("the build context `{}`", context.display()),
                e.to_string(),
            )
        })?;
        let dest_abs = self.image_abs(dest)?;
        let dest_key = image_path(&dest_abs)?;
        let mut matched: Vec<PathBuf> = Vec::new();
        for source in sources {
            let rel = normalize_rel(source).ok_or_else(|| BuildError::OutsideContext {
                path: PathBuf::from(source),
                context: context.clone(),
            })?;
            if source.contains(['*', '?', '[']) {
                let found = glob(context, &rel, self.ignore)?;
                if found.is_empty() {
                    return Err(BuildError::NoMatch {
                        pattern: source.clone(),
                    });
                }
                matched.extend(found);
            } else {
                matched.push(rel);
            }
        }
        let into_dir = dest.ends_with('/')
            || dest == "."
            || matched.len() > 1
            || self.dirs.contains(&dest_key)
            || dest_key.is_empty();
        for rel in matched {
            let host = context.join(&rel);
            if self.ignore.ignores(&rel, host.is_dir()) {
                return Err(BuildError::Ignored {
                    path: rel,
                    ignore_file: self.ignore.name.clone().unwrap_or_default(),
                });
            }
            let meta = std::fs::symlink_metadata(&host).map_err(|e| {
                input(
                    format!("`{}` in the build context", rel.display()),
                    e.to_string(),
                )
            })?;
            // A named symlink is followed, but only inside the context.
            let real = std::fs::canonicalize(&host).map_err(|_| {
                BuildError::Layer(super::layer::LayerError::Dangling { path: rel.clone() })
            })?;
            if !real.starts_with(&real_context) {
                return Err(if meta.file_type().is_symlink() {
                    BuildError::Layer(super::layer::LayerError::LinkOutside {
                        link: rel.clone(),
                        target: real,
                        root: context.clone(),
                    })
                } else {
                    BuildError::OutsideContext {
                        path: rel.clone(),
                        context: context.clone(),
                    }
                });
            }
            if real.is_dir() {
                // The directory's contents go to DEST.
                let ignore = self.ignore;
                let base = rel.clone();
                builder.add_tree(&real, &dest_abs, attrs, &|p, is_dir| {
                    !ignore.ignores(&base.join(p), is_dir)
                })?;
                self.dirs.insert(dest_key.clone());
                self.copied_dirs.push((dest_key.clone(), real));
            } else {
                let target = if into_dir {
                    let name = rel
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    self.dirs.insert(dest_key.clone());
                    format!("{dest_abs}/{name}")
                } else {
                    dest_abs.clone()
                };
                builder.add_file(&target, &real, attrs)?;
                self.copied_files.insert(image_path(&target)?, real);
            }
        }
        Ok(())
    }
}

/// A context-relative path without `.`, `..` or a leading `/`; `None` when
/// it climbs out.
fn normalize_rel(source: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in Path::new(source.trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
        }
    }
    Some(out)
}

/// `path` with `.` and `..` removed lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Context paths matching a `COPY` glob (relative, sorted).
fn glob(context: &Path, pattern: &Path, ignore: &Ignore) -> Result<Vec<PathBuf>, BuildError> {
    let text = pattern.to_string_lossy();
    let matcher = globset::GlobBuilder::new(&text)
        .literal_separator(true)
        .build()
        .map_err(|e| input(format!("`{text}`"), e.to_string()))?
        .compile_matcher();
    let depth = if text.contains("**") {
        usize::MAX
    } else {
        pattern.components().count()
    };
    let mut found = Vec::new();
    let mut stack = vec![(PathBuf::new(), 0usize)];
    while let Some((rel, level)) = stack.pop() {
        let dir = context.join(&rel);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let child = rel.join(entry.file_name());
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if ignore.ignores(&child, is_dir) {
                continue;
            }
            if matcher.is_match(&child) {
                found.push(child.clone());
            } else if is_dir && level + 1 < depth {
                stack.push((child, level + 1));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// `.containerignore` (or `.dockerignore`) of the build context: patterns
/// anchored at the context root, `!` re-includes, `**` any depth.
#[derive(Debug)]
pub struct Ignore {
    name: Option<String>,
    matcher: Option<ignore::gitignore::Gitignore>,
}

impl Ignore {
    /// Reads the context's ignore file, if any.
    pub fn load(context: &Path) -> Result<Self, BuildError> {
        for name in [".containerignore", ".dockerignore"] {
            let path = context.join(name);
            let text = match windlass_fs::read_to_string(&path, windlass_fs::MIB) {
                Ok(text) => text,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(BuildError::Layer(e.into())),
            };
            let mut builder = ignore::gitignore::GitignoreBuilder::new(context);
            for line in text.lines() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let (negate, pattern) = match line.strip_prefix('!') {
                    Some(p) => ("!", p.trim()),
                    None => ("", line),
                };
                let pattern = pattern.trim_start_matches("./").trim_start_matches('/');
                builder
                    .add_line(None, &format!("{negate}/{pattern}"))
                    .map_err(|e| input(format!("`{name}`"), e.to_string()))?;
            }
            let matcher = builder
                .build()
                .map_err(|e| input(format!("`{name}`"), e.to_string()))?;
            return Ok(Self {
                name: Some(name.to_owned()),
                matcher: Some(matcher),
            });
        }
        Ok(Self {
            name: None,
            matcher: None,
        })
    }

    /// Whether the context-relative `path` is excluded.
    pub fn ignores(&self, path: &Path, is_dir: bool) -> bool {
        self.matcher.as_ref().is_some_and(|m| {
            !path.as_os_str().is_empty() && m.matched_path_or_any_parents(path, is_dir).is_ignore()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FileEntry;
    use windlass_config::RelativePath;

    #[test]
    fn flags_win_over_the_section() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        let cwd = project.join("sub");
        std::fs::create_dir_all(project.join("dist")).unwrap();
        std::fs::create_dir_all(&cwd).unwrap();
        for wheel in [
            "job-1.0-py3-none-any.whl",
            "job-1.1-py3-none-any.whl",
            "notes.txt",
        ] {
            std::fs::write(project.join("dist").join(wheel), "").unwrap();
        }
        let section = ImageSection {
            base: Some("oci:images/py:3.11".into()),
            files: vec![FileEntry {
                src: RelativePath::new(project.join("train.py")),
                dest: "/job/".into(),
            }],
            wheels: vec![RelativePath::new(project.join("dist/*.whl"))],
            entrypoint: Some(vec!["python".into()]),
            env: [("A".to_owned(), "config".to_owned())].into(),
            expose: vec!["8080".into()],
            output: Some("oci:out/image:cfg".into()),
            ..ImageSection::default()
        };
        let args = BuildArgs {
            env: vec!["A=flag".into(), "B=2".into()],
            cmd: Some(r#"["train.py", "--epochs", "3"]"#.into()),
            expose: vec!["53/UDP".into()],
            copy: vec!["data:/job/data/".into()],
            platform: vec![
                "linux/amd64".into(),
                "linux/arm64".into(),
                "linux/amd64".into(),
            ],
            ..BuildArgs::default()
        };
        let request = Request::from_args(&args, &section, &cwd, &project).unwrap();
        assert_eq!(
            request.base,
            Some(BaseChoice::Image(Location::Layout {
                dir: project.join("images/py"),
                tag: Some("3.11".into())
            }))
        );
        assert_eq!(request.context, project);
        assert_eq!(
            request.files,
            [
                (project.join("train.py"), "/job/".to_owned()),
                (project.join("data"), "/job/data/".to_owned()),
            ]
        );
        assert_eq!(
            request.wheels,
            [
                project.join("dist/job-1.0-py3-none-any.whl"),
                project.join("dist/job-1.1-py3-none-any.whl"),
            ]
        );
        assert_eq!(
            request.edits.env,
            [
                ("A".to_owned(), "flag".to_owned()),
                ("B".to_owned(), "2".to_owned())
            ]
        );
        assert_eq!(request.edits.entrypoint, Some(vec!["python".to_owned()]));
        assert_eq!(
            request.edits.cmd,
            Some(vec![
                "train.py".to_owned(),
                "--epochs".to_owned(),
                "3".to_owned()
            ])
        );
        assert_eq!(request.edits.expose, ["8080/tcp", "53/udp"]);
        assert_eq!(request.platforms.len(), 2);
        assert_eq!(
            request.output.to_string(),
            format!("oci:{}:cfg", project.join("out/image").display())
        );

        // The output flag is relative to the working directory.
        let args = BuildArgs {
            output: Some("oci:here".into()),
            base: Some("scratch".into()),
            ..BuildArgs::default()
        };
        let request = Request::from_args(&args, &ImageSection::default(), &cwd, &project).unwrap();
        assert_eq!(
            request.output.to_string(),
            format!("oci:{}", cwd.join("here").display())
        );
        assert_eq!(request.base, Some(BaseChoice::Scratch));

        for (args, want) in [
            (
                BuildArgs {
                    env: vec!["NOVALUE".into()],
                    ..BuildArgs::default()
                },
                "`--env NOVALUE`: give `NAME=VALUE`",
            ),
            (
                BuildArgs {
                    expose: vec!["http".into()],
                    ..BuildArgs::default()
                },
                "port `http`",
            ),
            (
                BuildArgs {
                    owner: Some("app".into()),
                    ..BuildArgs::default()
                },
                "owner `app`: give numbers: `UID:GID`",
            ),
            (
                BuildArgs {
                    output: Some("127.0.0.1:5000/x".into()),
                    ..BuildArgs::default()
                },
                "is a registry reference without its transport",
            ),
            (
                BuildArgs {
                    output: Some("dist/image".into()),
                    ..BuildArgs::default()
                },
                "output `dist/image` is a registry reference",
            ),
            (
                BuildArgs {
                    output: Some("docker://127.0.0.1:5000/x".into()),
                    push: Some("127.0.0.1:5000/y".into()),
                    ..BuildArgs::default()
                },
                "give one registry destination",
            ),
            (
                BuildArgs {
                    platform: vec!["amd64".into()],
                    ..BuildArgs::default()
                },
                "is not a platform",
            ),
            (
                BuildArgs {
                    wheels: vec!["none/*.whl".into()],
                    ..BuildArgs::default()
                },
                "no file matches it",
            ),
        ] {
            let err = Request::from_args(&args, &ImageSection::default(), &cwd, &project)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{err}");
        }
    }
}
