//! Runs a composite GitHub Action's steps as the runner does, on this
//! machine.
//!
//! [`Action::load`] reads `action.yml` (unknown keys are errors: the
//! harness never ignores what it does not implement). [`Action::run`]
//! takes the inputs of a `with:` and a [`Job`] (the `github`, `runner` and
//! `env` of the job, and its directories), then, step by step: input
//! defaults, `if:` (`success()` by default; a condition without a status
//! function is `success() && (...)`), the step's `env:` merged over the
//! job's and over what earlier steps wrote to `$GITHUB_ENV`, `shell: bash`
//! run as `bash --noprofile --norc -eo pipefail FILE` in the step's
//! `working-directory`, with fresh `$GITHUB_OUTPUT`, `$GITHUB_ENV`,
//! `$GITHUB_PATH` and `$GITHUB_STEP_SUMMARY` files read back afterwards
//! (`name=value` and heredoc entries; paths prepended for later steps;
//! summaries appended), and the workflow commands in the step's output
//! (stdout and stderr, in the order they were written): `::add-mask::`
//! hides its value in everything printed after it, and the harness records
//! whether the value was seen before its mask. The action's outputs are
//! evaluated last.
//!
//! The expressions are those of [`expr`]: an unknown context, input, step,
//! `github` or `runner` property, or function is a [`HarnessError`], never
//! an empty string.

mod expr;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_json::{Map, Value};

/// What the runner would refuse, or what the harness does not implement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarnessError(pub String);

impl HarnessError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

/// `action.yml` (the parts the runner reads for a composite action).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub branding: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    pub inputs: BTreeMap<String, Input>,
    #[serde(default)]
    pub outputs: BTreeMap<String, Output>,
    pub runs: Runs,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<serde_yaml_ng::Value>,
    #[serde(default, rename = "deprecationMessage")]
    pub deprecation_message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    pub description: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runs {
    pub using: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "if")]
    pub condition: Option<serde_yaml_ng::Value>,
    pub run: String,
    pub shell: String,
    #[serde(default)]
    pub env: BTreeMap<String, serde_yaml_ng::Value>,
    #[serde(default, rename = "working-directory")]
    pub working_directory: Option<String>,
}

/// A composite action on disk.
#[derive(Debug, Clone)]
pub struct Action {
    pub dir: PathBuf,
    pub metadata: Metadata,
}

/// The job an action runs in: its contexts and directories. Every
/// directory is under `root`.
#[derive(Debug, Clone)]
pub struct Job {
    pub root: PathBuf,
    /// The `github` context (strings); `action_path` is set by the run.
    pub github: BTreeMap<String, String>,
    /// The `runner` context.
    pub runner: BTreeMap<String, String>,
    /// The job's `env` (also the `env` context).
    pub env: BTreeMap<String, String>,
    /// `PATH` before any `$GITHUB_PATH` entry.
    pub path: OsString,
}

/// One step's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Skipped,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Skipped => "skipped",
        }
    }
}

/// What one step did.
#[derive(Debug, Clone)]
pub struct StepRun {
    pub id: Option<String>,
    pub name: Option<String>,
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    /// The environment the step ran with (after merging).
    pub env: BTreeMap<String, String>,
}

/// A value masked by `::add-mask::`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    pub value: String,
    /// Whether the value had appeared in the log or an environment file
    /// before the mask (a leak the mask came too late for).
    pub seen_before: bool,
}

/// A workflow command other than `add-mask` (`error`, `warning`,
/// `notice`, `group`, ...), as the runner parsed it (after masking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowCommand {
    pub name: String,
    pub properties: BTreeMap<String, String>,
    pub message: String,
}

/// Everything an action run left behind.
#[derive(Debug, Clone)]
pub struct ActionRun {
    pub steps: Vec<StepRun>,
    /// The log as the runner shows it: masked, `add-mask` lines hidden.
    pub log: String,
    /// Every byte the steps printed, unmasked, `add-mask` lines included.
    pub raw_log: String,
    pub masks: Vec<Mask>,
    pub commands: Vec<WorkflowCommand>,
    /// The action's outputs.
    pub outputs: BTreeMap<String, String>,
    /// Each step's outputs, by step id.
    pub step_outputs: BTreeMap<String, BTreeMap<String, String>>,
    /// The job summary (every step's `$GITHUB_STEP_SUMMARY`).
    pub summary: String,
    /// What steps added through `$GITHUB_ENV`.
    pub env: BTreeMap<String, String>,
    /// What steps added through `$GITHUB_PATH`, in order.
    pub path: Vec<String>,
    /// The raw text of every environment file the steps wrote.
    pub files: String,
}

impl ActionRun {
    pub fn succeeded(&self) -> bool {
        self.steps.iter().all(|s| s.outcome != Outcome::Failure)
    }

    pub fn step(&self, id: &str) -> &StepRun {
        self.steps
            .iter()
            .find(|s| s.id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no step `{id}`"))
    }

    /// Everything the run produced that a secret must never reach:
    /// the raw log without its `add-mask` lines, outputs, summary and
    /// environment files.
    pub fn everything_but_masks(&self) -> String {
        let mut text = String::new();
        for line in self.raw_log.lines() {
            if !line.trim_start().starts_with("::add-mask::") {
                text.push_str(line);
                text.push('\n');
            }
        }
        text.push_str(&self.summary);
        text.push_str(&self.files);
        for (name, value) in &self.outputs {
            text.push_str(name);
            text.push('=');
            text.push_str(value);
            text.push('\n');
        }
        text
    }
}

impl Job {
    /// A job rooted at `root` (created if needed): `workspace`, `temp`,
    /// `tool-cache` and `home` under it; a Linux X64 runner; this
    /// process's `PATH`.
    pub fn new(root: &Path) -> std::io::Result<Self> {
        for dir in ["workspace", "temp", "tool-cache", "home"] {
            fs::create_dir_all(root.join(dir))?;
        }
        let s = |p: PathBuf| p.display().to_string();
        let github = BTreeMap::from([
            ("server_url".to_owned(), "https://github.com".to_owned()),
            ("repository".to_owned(), "example/project".to_owned()),
            (
                "action_repository".to_owned(),
                "example/windlass".to_owned(),
            ),
            ("ref".to_owned(), "refs/heads/main".to_owned()),
            ("sha".to_owned(), "0".repeat(40)),
            ("workspace".to_owned(), s(root.join("workspace"))),
            ("event_name".to_owned(), "push".to_owned()),
        ]);
        let runner = BTreeMap::from([
            ("os".to_owned(), "Linux".to_owned()),
            ("arch".to_owned(), "X64".to_owned()),
            ("temp".to_owned(), s(root.join("temp"))),
            ("tool_cache".to_owned(), s(root.join("tool-cache"))),
        ]);
        Ok(Self {
            root: root.to_owned(),
            github,
            runner,
            env: BTreeMap::new(),
            path: std::env::var_os("PATH").unwrap_or_default(),
        })
    }

    pub fn workspace(&self) -> PathBuf {
        self.root.join("workspace")
    }

    pub fn tool_cache(&self) -> PathBuf {
        self.root.join("tool-cache")
    }

    pub fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    #[must_use]
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.insert(name.to_owned(), value.into());
        self
    }

    #[must_use]
    pub fn github(mut self, name: &str, value: impl Into<String>) -> Self {
        self.github.insert(name.to_owned(), value.into());
        self
    }
}

impl Action {
    /// Reads `DIR/action.yml`.
    pub fn load(dir: &Path) -> Result<Self, HarnessError> {
        let path = dir.join("action.yml");
        let text = fs::read_to_string(&path)
            .map_err(|e| HarnessError::new(format!("cannot read {}: {e}", path.display())))?;
        let metadata: Metadata = serde_yaml_ng::from_str(&text)
            .map_err(|e| HarnessError::new(format!("{}: {e}", path.display())))?;
        if metadata.runs.using != "composite" {
            return Err(HarnessError::new(format!(
                "the harness runs composite actions only, not `{}`",
                metadata.runs.using
            )));
        }
        for step in &metadata.runs.steps {
            if step.shell != "bash" {
                return Err(HarnessError::new(format!(
                    "the harness runs `shell: bash` only, not `{}`",
                    step.shell
                )));
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            metadata,
        })
    }

    /// Runs the action's steps with the inputs of a `with:`.
    pub fn run(&self, job: &Job, with: &[(&str, &str)]) -> Result<ActionRun, HarnessError> {
        Runner::new(self, job, with)?.run()
    }
}

struct Runner<'a> {
    action: &'a Action,
    job: &'a Job,
    github: Map<String, Value>,
    inputs: Map<String, Value>,
    steps: Map<String, Value>,
    run: ActionRun,
    /// The step being evaluated's merged env, for the `env` context.
    env_context: BTreeMap<String, String>,
    failed: bool,
}

impl expr::Scope for Runner<'_> {
    fn lookup(&self, context: &str, keys: &[String]) -> Result<Value, HarnessError> {
        let strict = |map: &Map<String, Value>, what: &str| -> Result<Value, HarnessError> {
            let Some((first, rest)) = keys.split_first() else {
                return Ok(Value::Object(map.clone()));
            };
            let value = map
                .get(first)
                .or_else(|| {
                    map.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(first))
                        .map(|(_, v)| v)
                })
                .ok_or_else(|| HarnessError::new(format!("`{context}.{first}`: no such {what}")))?;
            Ok(rest
                .iter()
                .fold(value.clone(), |v, k| expr::property(&v, k)))
        };
        match context {
            "inputs" => strict(&self.inputs, "input of the action"),
            "github" => strict(&self.github, "github property in the harness"),
            "runner" => strict(&to_map(&self.job.runner), "runner property in the harness"),
            "env" => {
                let map = to_map(&self.env_context);
                Ok(keys
                    .iter()
                    .fold(Value::Object(map), |v, k| expr::property(&v, k)))
            }
            "steps" => {
                let Some((id, rest)) = keys.split_first() else {
                    return Err(HarnessError::new("`steps` alone is not supported"));
                };
                if !self
                    .action
                    .metadata
                    .runs
                    .steps
                    .iter()
                    .any(|s| s.id.as_deref() == Some(id))
                {
                    return Err(HarnessError::new(format!(
                        "`steps.{id}`: no step has that id"
                    )));
                }
                if let Some(field) = rest.first()
                    && !["outputs", "outcome", "conclusion"].contains(&field.as_str())
                {
                    return Err(HarnessError::new(format!(
                        "`steps.{id}.{field}`: steps have outputs, outcome and conclusion"
                    )));
                }
                let step = self.steps.get(id).cloned().unwrap_or(Value::Null);
                Ok(rest.iter().fold(step, |v, k| expr::property(&v, k)))
            }
            _ => Err(HarnessError::new(format!(
                "the harness has no `{context}` context"
            ))),
        }
    }

    fn success(&self) -> bool {
        !self.failed
    }
}

fn to_map(values: &BTreeMap<String, String>) -> Map<String, Value> {
    values
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

fn yaml_text(value: &serde_yaml_ng::Value, what: &str) -> Result<String, HarnessError> {
    Ok(match value {
        serde_yaml_ng::Value::Null => String::new(),
        serde_yaml_ng::Value::Bool(b) => b.to_string(),
        serde_yaml_ng::Value::Number(n) => n.to_string(),
        serde_yaml_ng::Value::String(s) => s.clone(),
        _ => return Err(HarnessError::new(format!("{what} is not a scalar"))),
    })
}

impl<'a> Runner<'a> {
    fn new(action: &'a Action, job: &'a Job, with: &[(&str, &str)]) -> Result<Self, HarnessError> {
        let mut github = to_map(&job.github);
        github.insert(
            "action_path".to_owned(),
            Value::String(action.dir.display().to_string()),
        );
        let mut runner = Self {
            action,
            job,
            github,
            inputs: Map::new(),
            steps: Map::new(),
            run: ActionRun {
                steps: Vec::new(),
                log: String::new(),
                raw_log: String::new(),
                masks: Vec::new(),
                commands: Vec::new(),
                outputs: BTreeMap::new(),
                step_outputs: BTreeMap::new(),
                summary: String::new(),
                env: BTreeMap::new(),
                path: Vec::new(),
                files: String::new(),
            },
            env_context: job.env.clone(),
            failed: false,
        };
        for (name, _) in with {
            if !action.metadata.inputs.contains_key(*name) {
                return Err(HarnessError::new(format!(
                    "`with: {name}`: the action has no such input"
                )));
            }
        }
        let mut inputs = Map::new();
        for (name, input) in &action.metadata.inputs {
            let value = match with.iter().find(|(n, _)| n == name) {
                Some((_, value)) => (*value).to_owned(),
                None if input.required => {
                    return Err(HarnessError::new(format!("the input `{name}` is required")));
                }
                None => match &input.default {
                    Some(default) => {
                        let text = yaml_text(default, &format!("the default of `{name}`"))?;
                        expr::interpolate(&text, &runner)?
                    }
                    None => String::new(),
                },
            };
            inputs.insert(name.clone(), Value::String(value));
        }
        runner.inputs = inputs;
        Ok(runner)
    }

    fn run(mut self) -> Result<ActionRun, HarnessError> {
        let steps = self.action.metadata.runs.steps.clone();
        for (index, step) in steps.iter().enumerate() {
            self.step(index, step)?;
        }
        self.env_context = self.job.env.clone();
        let outputs = self.action.metadata.outputs.clone();
        for (name, output) in &outputs {
            let value = expr::interpolate(&output.value, &self)?;
            self.run.outputs.insert(name.clone(), value);
        }
        Ok(self.run)
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one step in the order the runner takes it"
    )]
    fn step(&mut self, index: usize, step: &Step) -> Result<(), HarnessError> {
        // The `env` context of the step's expressions: the job's and what
        // earlier steps exported.
        let mut env = self.job.env.clone();
        env.extend(self.run.env.clone());
        self.env_context = env.clone();
        let condition = match &step.condition {
            None => "success()".to_owned(),
            Some(value) => yaml_text(value, "`if:`")?,
        };
        let condition = expr::condition_text(&condition);
        let mut run_it = expr::truthy(&expr::eval(condition, self)?);
        if !expr::calls_status_function(condition)? {
            run_it = run_it && !self.failed;
        }
        if !run_it {
            self.finish(step, Outcome::Skipped, None, BTreeMap::new(), env);
            return Ok(());
        }
        for (name, value) in &step.env {
            let text = yaml_text(value, &format!("`env: {name}`"))?;
            let value = expr::interpolate(&text, self)?;
            env.insert(name.clone(), value);
        }
        // The step's own `env` is part of the `env` context of its script.
        self.env_context = env.clone();
        let script = expr::interpolate(&step.run, self)?;
        let workspace = self.job.workspace();
        let cwd = match &step.working_directory {
            Some(dir) => workspace.join(expr::interpolate(dir, self)?),
            None => workspace,
        };
        if !cwd.is_dir() {
            return Err(HarnessError::new(format!(
                "working-directory {} does not exist",
                cwd.display()
            )));
        }
        let dir = self.job.root.join(format!("steps/{index}"));
        fs::create_dir_all(&dir).map_err(|e| HarnessError::new(e.to_string()))?;
        let file = |name: &str| {
            let path = dir.join(name);
            fs::write(&path, "").map(|()| path)
        };
        let io = |e: std::io::Error| HarnessError::new(format!("step {index}: {e}"));
        let script_path = dir.join("script.sh");
        fs::write(&script_path, &script).map_err(io)?;
        let output = file("output").map_err(io)?;
        let env_file = file("env").map_err(io)?;
        let path_file = file("path").map_err(io)?;
        let summary = file("summary").map_err(io)?;
        let log_path = dir.join("log");
        let log = fs::File::create(&log_path).map_err(io)?;

        let mut path = OsString::new();
        for added in self.run.path.iter().rev() {
            path.push(added);
            path.push(":");
        }
        path.push(&self.job.path);
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_path)
            .current_dir(&cwd)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.job.home())
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTION_PATH", &self.action.dir)
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_ENV", &env_file)
            .env("GITHUB_PATH", &path_file)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io)?)
            .stderr(log);
        for (name, value) in &self.github {
            if let Value::String(value) = value {
                command.env(format!("GITHUB_{}", name.to_uppercase()), value);
            }
        }
        for (name, value) in &self.job.runner {
            command.env(format!("RUNNER_{}", name.to_uppercase()), value);
        }
        command.envs(&env);
        let status = command.status().map_err(io)?;
        let text = String::from_utf8_lossy(&fs::read(&log_path).map_err(io)?).into_owned();
        self.process_log(&text);

        let read = |p: &Path| fs::read_to_string(p).map_err(io);
        let (output_text, env_text, path_text, summary_text) = (
            read(&output)?,
            read(&env_file)?,
            read(&path_file)?,
            read(&summary)?,
        );
        for text in [&output_text, &env_text, &path_text] {
            self.run.files.push_str(text);
        }
        let outputs = parse_file_command(&output_text, "GITHUB_OUTPUT")?;
        for (name, value) in parse_file_command(&env_text, "GITHUB_ENV")? {
            self.run.env.insert(name, value);
        }
        for line in path_text.lines() {
            let line = line.trim_end_matches('\r');
            if !line.trim().is_empty() {
                self.run.path.push(line.to_owned());
            }
        }
        self.run.summary.push_str(&summary_text);
        let outcome = if status.success() {
            Outcome::Success
        } else {
            self.failed = true;
            Outcome::Failure
        };
        self.finish(step, outcome, status.code(), outputs, env);
        Ok(())
    }

    fn finish(
        &mut self,
        step: &Step,
        outcome: Outcome,
        exit_code: Option<i32>,
        outputs: BTreeMap<String, String>,
        env: BTreeMap<String, String>,
    ) {
        if let Some(id) = &step.id {
            let outputs_json: Map<String, Value> = to_map(&outputs);
            self.steps.insert(
                id.clone(),
                serde_json::json!({
                    "outputs": outputs_json,
                    "outcome": outcome.as_str(),
                    "conclusion": outcome.as_str(),
                }),
            );
            self.run.step_outputs.insert(id.clone(), outputs);
        }
        self.run.steps.push(StepRun {
            id: step.id.clone(),
            name: step.name.clone(),
            outcome,
            exit_code,
            env,
        });
    }

    /// Reads a step's output line by line, as the runner does.
    fn process_log(&mut self, text: &str) {
        for line in text.split_inclusive('\n') {
            let bare = line.trim_end_matches(['\n', '\r']);
            if let Some(value) = bare.trim_start().strip_prefix("::add-mask::") {
                let value = unescape_data(value);
                if !value.trim().is_empty() {
                    let seen_before = self.run.raw_log.contains(&value)
                        || self.run.files.contains(&value)
                        || self.run.summary.contains(&value);
                    self.run.masks.push(Mask { value, seen_before });
                }
                self.run.raw_log.push_str(line);
                continue;
            }
            self.run.raw_log.push_str(line);
            let masked = self.mask(line);
            if let Some(command) = parse_command(masked.trim_end_matches(['\n', '\r'])) {
                self.run.commands.push(command);
            }
            self.run.log.push_str(&masked);
        }
    }

    fn mask(&self, line: &str) -> String {
        let mut values: Vec<&str> = self.run.masks.iter().map(|m| m.value.as_str()).collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let mut line = line.to_owned();
        for value in values {
            line = line.replace(value, "***");
        }
        line
    }
}

/// `::name key=value,key=value::message`.
fn parse_command(line: &str) -> Option<WorkflowCommand> {
    let rest = line.trim_start().strip_prefix("::")?;
    let end = rest.find("::")?;
    let (head, message) = (&rest[..end], &rest[end + 2..]);
    let (name, properties) = head.split_once(' ').unwrap_or((head, ""));
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    let properties = properties
        .split(',')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), unescape_property(v)))
        .collect();
    Some(WorkflowCommand {
        name: name.to_owned(),
        properties,
        message: unescape_data(message),
    })
}

fn unescape_data(text: &str) -> String {
    text.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
}

fn unescape_property(text: &str) -> String {
    unescape_data(&text.replace("%3A", ":").replace("%2C", ","))
}

/// An environment file (`$GITHUB_OUTPUT`, `$GITHUB_ENV`): `name=value`
/// lines and `name<<DELIMITER` heredocs, as the runner reads them.
pub fn parse_file_command(text: &str, var: &str) -> Result<BTreeMap<String, String>, HarnessError> {
    let mut entries = BTreeMap::new();
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let equals = line.find('=');
        let heredoc = line.find("<<");
        match (equals, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                let name = &line[..e];
                if name.is_empty() {
                    return Err(HarnessError::new(format!(
                        "{var}: an entry has no name: {line:?}"
                    )));
                }
                entries.insert(name.to_owned(), line[e + 1..].to_owned());
            }
            (_, Some(h)) => {
                let (name, delimiter) = (&line[..h], &line[h + 2..]);
                if name.is_empty() || delimiter.is_empty() {
                    return Err(HarnessError::new(format!(
                        "{var}: invalid heredoc {line:?}"
                    )));
                }
                let mut value: Vec<&str> = Vec::new();
                loop {
                    match lines.next() {
                        Some(l) if l == delimiter => break,
                        Some(l) => value.push(l),
                        None => {
                            return Err(HarnessError::new(format!(
                                "{var}: `{name}` has no closing delimiter {delimiter:?}"
                            )));
                        }
                    }
                }
                entries.insert(name.to_owned(), value.join("\n"));
            }
            _ => return Err(HarnessError::new(format!("{var}: invalid line {line:?}"))),
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests;
