use std::fmt::Write as _;
use std::io::{self, Write};
use std::process::ExitCode;

use base64::Engine as _;
use windlass_redact::{Secret, global};

use crate::github::{self, Annotation, GitHub, GitHubError, Level};
use crate::testing::Capture;
use crate::{
    Classified, Classifier, ColorChoice, Diagnostic, ExitStatus, LogConfig, Outcome, OutputArgs,
    Printer, RedactingMakeWriter, Report, ResultExt, finish,
};

/// A library error that knows its exit status and hint.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("registry answered 503")]
    Unavailable,
    #[error("no `[tool.windlass]` table in `pyproject.toml`")]
    NoConfig,
    #[error("cannot read `{path}`")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl Diagnostic for FetchError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Unavailable => ExitStatus::Remote,
            Self::NoConfig | Self::Read { .. } => ExitStatus::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::Unavailable => Some("the registry may be down; retry later".to_owned()),
            Self::NoConfig => Some("add a `[tool.windlass]` table".to_owned()),
            Self::Read { .. } => None,
        }
    }
}

fn classifier() -> Classifier {
    Classifier::new().with::<FetchError>()
}

/// The errors every rendering and classification test sees.
fn error_cases() -> Vec<(&'static str, anyhow::Error)> {
    vec![
        (
            "plain message, unclassified",
            anyhow::anyhow!("something went wrong"),
        ),
        (
            "library error under context",
            anyhow::Error::new(FetchError::Unavailable)
                .context("cannot download `foo-1.0.tar.gz`")
                .context("cannot build the wheel"),
        ),
        (
            "io cause under a library error",
            anyhow::Error::new(FetchError::Read {
                path: "windlass.toml".into(),
                source: io::Error::new(io::ErrorKind::NotFound, "no such file or directory"),
            }),
        ),
        (
            "binary overrides status and hint",
            Err::<(), _>(FetchError::NoConfig)
                .with_exit_status(ExitStatus::Failure)
                .with_hint("run `windlass init` first")
                .unwrap_err(),
        ),
        (
            "hint only, status from inside",
            Err::<(), _>(anyhow::Error::new(FetchError::Unavailable).context("cannot publish"))
                .with_hint("check `--repository-url`")
                .unwrap_err(),
        ),
        (
            "multi-line messages",
            anyhow::anyhow!("line one\nline two").context("outer\nsecond line"),
        ),
        (
            "bug",
            Classified::new(anyhow::anyhow!("invariant broken: empty wheel list"))
                .with_status(ExitStatus::Bug)
                .into(),
        ),
    ]
}

#[test]
fn exit_codes() {
    let mut table = String::new();
    for status in ExitStatus::ALL {
        let code = ExitCode::from(status);
        assert_eq!(code, ExitCode::from(status.code()));
        writeln!(
            table,
            "{:>3} {:<14} success={}",
            status.code(),
            status.name(),
            status.is_success()
        )
        .unwrap();
    }
    insta::assert_snapshot!("exit_codes", table);
}

#[test]
fn classification() {
    let mut table = String::new();
    for (name, error) in error_cases() {
        let c = classifier().classify(&error);
        writeln!(
            table,
            "{name}: {} ({}) hint={:?}",
            c.status.code(),
            c.status.name(),
            c.hint
        )
        .unwrap();
    }
    // Without the library type registered, only binary-attached
    // classification is found.
    let error = anyhow::Error::new(FetchError::Unavailable).context("cannot publish");
    let c = Classifier::new().classify(&error);
    writeln!(
        table,
        "unregistered library error: {} hint={:?}",
        c.status.code(),
        c.hint
    )
    .unwrap();
    insta::assert_snapshot!("classification", table);
}

#[test]
fn error_rendering() {
    let mut out = String::new();
    for (name, error) in error_cases() {
        let report = Report::new(&error, &classifier());
        writeln!(out, "--- {name} (exit {})", report.status.code()).unwrap();
        out.push_str(&report.render(false, true));
    }
    insta::assert_snapshot!("error_rendering", out);
}

#[test]
fn error_rendering_in_colour() {
    let error = anyhow::Error::new(FetchError::Unavailable).context("cannot publish");
    let rendered = Report::new(&error, &classifier()).render(true, true);
    insta::assert_snapshot!(
        "error_rendering_in_colour",
        rendered.escape_debug().to_string()
    );
}

/// A fake environment: `(name, value)` pairs.
type Env = &'static [(&'static str, &'static str)];

#[test]
fn color_choice() {
    let cases: &[(ColorChoice, Env, bool)] = &[
        (ColorChoice::Auto, &[], true),
        (ColorChoice::Auto, &[], false),
        (ColorChoice::Auto, &[("NO_COLOR", "1")], true),
        (ColorChoice::Auto, &[("NO_COLOR", "")], true),
        (ColorChoice::Auto, &[("CLICOLOR_FORCE", "1")], false),
        (ColorChoice::Auto, &[("CLICOLOR_FORCE", "0")], false),
        (
            ColorChoice::Auto,
            &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")],
            false,
        ),
        (ColorChoice::Auto, &[("CLICOLOR", "0")], true),
        (ColorChoice::Auto, &[("TERM", "dumb")], true),
        (ColorChoice::Always, &[("NO_COLOR", "1")], false),
        (ColorChoice::Never, &[("CLICOLOR_FORCE", "1")], true),
    ];
    let mut table = String::new();
    for (choice, env, terminal) in cases {
        let lookup = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| std::ffi::OsString::from(v))
        };
        let color = choice.resolve(lookup, *terminal);
        writeln!(
            table,
            "{choice:?} env={env:?} terminal={terminal} -> {color}"
        )
        .unwrap();
    }
    insta::assert_snapshot!("color_choice", table);
}

#[derive(serde::Serialize)]
struct Built {
    wheel: String,
    size: u64,
}

impl Outcome for Built {
    fn render_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{} ({} bytes)", self.wheel, self.size)
    }
}

#[derive(serde::Serialize)]
struct Checked {
    problems: Vec<String>,
}

impl Outcome for Checked {
    fn render_human(&self, out: &mut dyn Write) -> io::Result<()> {
        self.problems.iter().try_for_each(|p| writeln!(out, "{p}"))
    }

    fn exit_status(&self) -> ExitStatus {
        if self.problems.is_empty() {
            ExitStatus::Success
        } else {
            ExitStatus::Failure
        }
    }
}

/// A command stopped by a signal, with what it did before.
#[derive(serde::Serialize)]
struct Partial {
    uploaded: Vec<String>,
    not_started: Vec<String>,
}

impl Outcome for Partial {
    fn render_human(&self, out: &mut dyn Write) -> io::Result<()> {
        self.render_human_at(out, 0)
    }

    fn render_human_at(&self, out: &mut dyn Write, verbose: u8) -> io::Result<()> {
        if verbose > 0 {
            for file in &self.uploaded {
                writeln!(out, "uploaded {file}")?;
            }
        }
        writeln!(
            out,
            "{} uploaded, {} not started",
            self.uploaded.len(),
            self.not_started.len()
        )
    }

    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Interrupted
    }
}

type Run = fn(&Printer) -> anyhow::Result<Box<dyn ErasedOutcome>>;

/// `Outcome` is not object safe (`Serialize`); tests box a small adapter.
trait ErasedOutcome {
    fn finish(self: Box<Self>, printer: &Printer) -> ExitCode;
}

impl<T: Outcome + 'static> ErasedOutcome for T {
    fn finish(self: Box<Self>, printer: &Printer) -> ExitCode {
        finish(Ok(*self), printer)
    }
}

fn run_cases() -> Vec<(&'static str, Run)> {
    vec![
        ("success", |printer| {
            printer.status("Building", "foo-1.0-py3-none-any.whl");
            Ok(Box::new(Built {
                wheel: "dist/foo-1.0-py3-none-any.whl".into(),
                size: 1234,
            }))
        }),
        ("success with warning and event", |printer| {
            printer.warn("`README.md` is missing");
            printer.event("built", &serde_json::json!({"file": "foo.whl"}))?;
            printer.data("streamed data line\n")?;
            Ok(Box::new(()))
        }),
        ("check ran and failed", |_| {
            Ok(Box::new(Checked {
                problems: vec!["`LICENSE` missing from the wheel".into()],
            }))
        }),
        ("error", |printer| {
            printer.status("Publishing", "foo.whl");
            Err(anyhow::Error::new(FetchError::Unavailable).context("cannot upload `foo.whl`"))
        }),
        ("interrupted with a partial report", |printer| {
            printer.status("Uploaded", "foo.whl");
            Ok(Box::new(Partial {
                uploaded: vec!["foo.whl".into()],
                not_started: vec!["foo.tar.gz".into()],
            }))
        }),
        ("interrupted with nothing to report", |printer| {
            printer.status("Resolving", "credentials");
            Err(anyhow::Error::new(crate::Interrupted).context("cannot resolve the token"))
        }),
    ]
}

fn run(args: &OutputArgs, case: Run) -> (u8, String, String) {
    let (stdout, stderr) = (Capture::new(), Capture::new());
    let printer = Printer::builder(args, "wheel build")
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .color(false)
        .classifier(classifier())
        .github(None)
        .build();
    let code = match case(&printer) {
        Ok(outcome) => outcome.finish(&printer),
        Err(error) => finish::<()>(Err(error), &printer),
    };
    // `ExitCode` has no accessor; compare with the known statuses.
    let code = ExitStatus::ALL
        .into_iter()
        .find(|s| ExitCode::from(*s) == code)
        .map_or(255, ExitStatus::code);
    (code, stdout.contents(), stderr.contents())
}

#[test]
fn printer_output() {
    let modes: &[(&str, OutputArgs)] = &[
        ("human", OutputArgs::default()),
        (
            "quiet",
            OutputArgs {
                quiet: 1,
                ..OutputArgs::default()
            },
        ),
        (
            "very quiet",
            OutputArgs {
                quiet: 2,
                ..OutputArgs::default()
            },
        ),
        (
            "json",
            OutputArgs {
                json: true,
                ..OutputArgs::default()
            },
        ),
        (
            "verbose",
            OutputArgs {
                verbose: 1,
                ..OutputArgs::default()
            },
        ),
    ];
    let mut out = String::new();
    for (mode, args) in modes {
        for (name, case) in run_cases() {
            let (code, stdout, stderr) = run(args, case);
            writeln!(out, "=== {mode} / {name}: exit {code}").unwrap();
            writeln!(out, "--- stdout\n{stdout}--- stderr\n{stderr}").unwrap();
            if args.json {
                // Every stdout line is a JSON document of our schema.
                for line in stdout.lines() {
                    let value: serde_json::Value = serde_json::from_str(line).unwrap();
                    assert_eq!(value["schema"], crate::json::SCHEMA);
                }
            }
        }
    }
    insta::assert_snapshot!("printer_output", out);
}

#[test]
fn json_documents() {
    let args = OutputArgs {
        json: true,
        ..OutputArgs::default()
    };
    let mut out = String::new();
    for (name, case) in run_cases() {
        let (_, stdout, _) = run(&args, case);
        writeln!(out, "--- {name}").unwrap();
        for line in stdout.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            writeln!(out, "{}", serde_json::to_string_pretty(&value).unwrap()).unwrap();
        }
    }
    insta::assert_snapshot!("json_documents", out);
}

/// A writer whose reader went away (`windlass ... | head -0`).
struct ClosedPipe;

impl Write for ClosedPipe {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::ErrorKind::BrokenPipe.into())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn broken_pipe_exits_quietly() {
    for json in [false, true] {
        let stderr = Capture::new();
        let printer = Printer::builder(
            &OutputArgs {
                json,
                ..OutputArgs::default()
            },
            "list",
        )
        .stdout(ClosedPipe)
        .stderr(stderr.clone())
        .github(None)
        .build();
        // The outcome's own write fails...
        let code = finish(Ok("data".to_owned()), &printer);
        assert_eq!(code, ExitCode::SUCCESS);
        // ...and so does a data write the command propagated.
        let result = printer.data("line\n").map_err(anyhow::Error::from);
        let result = result.map_err(|e| e.context("cannot list"));
        assert_eq!(finish(result, &printer), ExitCode::SUCCESS);
        assert_eq!(stderr.contents(), "");
    }
}

/// A writer that fails with a broken pipe, like a child's stdin whose
/// process has exited: not our stdout.
#[test]
fn a_broken_pipe_elsewhere_in_the_chain_is_reported() {
    for json in [false, true] {
        let stdout = Capture::new();
        let stderr = Capture::new();
        let printer = Printer::builder(
            &OutputArgs {
                json,
                ..OutputArgs::default()
            },
            "exec",
        )
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .github(None)
        .build();
        let mut child_stdin = ClosedPipe;
        let result: anyhow::Result<String> = child_stdin
            .write_all(b"input")
            .map(|()| String::new())
            .map_err(|e| anyhow::Error::new(e).context("cannot feed the child's stdin"));
        let error = result.as_ref().unwrap_err();
        assert!(!crate::is_broken_pipe(error));
        let code = finish(result, &printer);
        // Nothing classified it: a bug, exit 101, and said out loud.
        assert_eq!(code, ExitCode::from(101));
        assert!(
            stderr.contents().contains("cannot feed the child's stdin"),
            "{}",
            stderr.contents()
        );
        if json {
            assert!(
                stdout.contents().contains("\"exit_code\":101"),
                "{}",
                stdout.contents()
            );
        }
    }
}

#[test]
fn unclassified_errors_are_bugs() {
    let error = anyhow::anyhow!("something nobody classified").context("cannot publish");
    let classification = Classifier::new().classify(&error);
    assert_eq!(classification.status, ExitStatus::Bug);
    assert_eq!(classification.status.code(), 101);
    // A classified layer anywhere in the chain still decides.
    let error = anyhow::Error::new(FetchError::Unavailable).context("cannot publish");
    assert_eq!(classifier().classify(&error).status, ExitStatus::Remote);
}

#[test]
fn workflow_commands() {
    let annotations = [
        Annotation::error("plain message"),
        Annotation::error("100% broken\r\nsecond line: a, b")
            .file("src/a,b:c%.rs")
            .line(12)
            .column(3)
            .title("title: with, commas\nand newline"),
        Annotation {
            end_line: Some(14),
            end_column: Some(1),
            ..Annotation::warning("range").line(13)
        },
        Annotation::notice("notice").title("50%"),
        Annotation::new(Level::Error, "::inner:: looks like a command"),
    ];
    let mut out = String::new();
    for annotation in &annotations {
        out.push_str(&annotation.to_command());
    }
    out.push_str(&github::command("group", &[], "Build: wheel, sdist"));
    out.push_str(&github::command("endgroup", &[], ""));
    insta::assert_snapshot!("workflow_commands", out);
}

fn github_in(dir: &std::path::Path) -> (GitHub, Capture) {
    let commands = Capture::new();
    let dir = dir.to_owned();
    let env = move |name: &str| match name {
        "GITHUB_ACTIONS" => Some("true".into()),
        "GITHUB_OUTPUT" => Some(dir.join("output").into_os_string()),
        "GITHUB_ENV" => Some(dir.join("env").into_os_string()),
        "GITHUB_STEP_SUMMARY" => Some(dir.join("summary").into_os_string()),
        _ => None,
    };
    (GitHub::from_env(env, commands.clone()).unwrap(), commands)
}

#[test]
fn detection() {
    let cases = [None, Some(""), Some("false"), Some("1"), Some("true")];
    let mut table = String::new();
    for value in cases {
        let found = GitHub::from_env(
            |name| {
                (name == "GITHUB_ACTIONS")
                    .then_some(value)
                    .flatten()
                    .map(Into::into)
            },
            io::sink(),
        )
        .is_some();
        writeln!(table, "GITHUB_ACTIONS={value:?} -> {found}").unwrap();
    }
    insta::assert_snapshot!("detection", table);
}

#[test]
fn add_mask_bypasses_the_redactor() {
    let secret = "first-line-s3cret\r\n\nsecond 100%: line\n";
    global().register(secret);
    let dir = tempfile::tempdir().unwrap();
    let (github, commands) = github_in(dir.path());
    github.add_mask(&Secret::new(secret.to_owned())).unwrap();
    insta::assert_snapshot!("add_mask", commands.contents());
}

#[test]
fn heredocs() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("version", "1.2.3", &["EOF"]),
        ("notes", "line one\nline two\n", &["EOF"]),
        ("collides once", "a\nEOF\nb", &["EOF", "EOF2"]),
        ("collides inside a line", "xEOFy", &["EOF", "", "EOF2"]),
        ("always collides", "EOF", &["EOF"]),
        ("bad=name", "v", &["EOF"]),
        ("", "v", &["EOF"]),
        ("two\nlines", "v", &["EOF"]),
    ];
    let mut out = String::new();
    for (name, value, delimiters) in cases {
        let mut next = delimiters.iter().cycle().map(|d| (*d).to_owned());
        let result = github::heredoc("GITHUB_OUTPUT", name, value, &mut || next.next().unwrap());
        match result {
            Ok(entry) => write!(out, "--- {name:?} ok\n{entry}").unwrap(),
            Err(error) => writeln!(out, "--- {name:?} error: {error}").unwrap(),
        }
    }
    insta::assert_snapshot!("heredocs", out);
}

#[test]
fn random_delimiters_differ() {
    let (a, b) = (github::random_delimiter(), github::random_delimiter());
    assert_ne!(a, b);
    assert!(a.starts_with("ghadelimiter_"));
    assert_eq!(a.len(), "ghadelimiter_".len() + 32);
}

#[test]
fn environment_files() {
    let dir = tempfile::tempdir().unwrap();
    let (github, commands) = github_in(dir.path());
    github
        .set_output("wheel", "dist/foo-1.0-py3-none-any.whl")
        .unwrap();
    github.set_output("notes", "multi\nline\nvalue").unwrap();
    github.set_env("WINDLASS_VERSION", "1.0").unwrap();
    let token = "exported-t0ken-value";
    github
        .export_secret_env("PYPI_TOKEN", &Secret::registered(token.to_owned()))
        .unwrap();
    github
        .append_summary("## Published\n\n| file | size |\n|---|---|\n| foo.whl | 1 kB |")
        .unwrap();
    {
        let _group = github.group("Upload").unwrap();
    }
    let mut out = String::new();
    for file in ["output", "env", "summary"] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        write!(out, "--- {file}\n{}", stable_delimiters(&text)).unwrap();
    }
    write!(out, "--- commands\n{}", commands.contents()).unwrap();
    insta::assert_snapshot!("environment_files", out);
    assert!(GitHubError::NotAvailable { var: "X" }.hint().is_some());
}

/// Replaces the random delimiters with a stable name.
fn stable_delimiters(text: &str) -> String {
    text.split('\n')
        .map(|line| match line.find("ghadelimiter_") {
            Some(at) => format!("{}ghadelimiter_RANDOM", &line[..at]),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn missing_files_are_usage_errors() {
    let github = GitHub::from_env(
        |name| (name == "GITHUB_ACTIONS").then(|| "true".into()),
        io::sink(),
    )
    .unwrap();
    let error = anyhow::Error::new(github.set_output("a", "b").unwrap_err());
    insta::assert_snapshot!(
        "missing_files",
        Report::new(&error, &Classifier::new()).render(false, true)
    );
}

#[test]
fn log_filters() {
    let mut table = String::new();
    for (verbose, quiet) in [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (0, 1), (0, 2)] {
        let config = LogConfig {
            verbose,
            quiet,
            color: false,
        };
        writeln!(table, "-v x{verbose} -q x{quiet}: {}", config.directives()).unwrap();
    }
    let error = crate::subscriber(LogConfig::default(), Some("windlass=loud"), io::sink)
        .err()
        .unwrap();
    let error = anyhow::Error::new(error);
    table.push_str(&Report::new(&error, &Classifier::new()).render(false, true));
    insta::assert_snapshot!("log_filters", table);
}

#[test]
fn tracing_lines_are_redacted_and_filtered() {
    let capture = Capture::new();
    let sink = capture.clone();
    let writer = RedactingMakeWriter::new(move || sink.clone());
    let subscriber = crate::subscriber(LogConfig::default(), Some("warn"), writer).unwrap();
    global().register("tracing-s3cret-value");
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("hidden at warn");
        tracing::warn!(token = "tracing-s3cret-value", "using tracing-s3cret-value");
    });
    insta::assert_snapshot!("tracing", capture.contents());
}

/// A canary registered with the redactor goes into every output path; no
/// form of it may come out.
#[test]
fn canary_never_leaks() {
    let canary = "c4nary-S3cret/\"q\"+plus&amp";
    let secret = Secret::registered(canary.to_owned());
    let forms = leak_forms(canary);

    let dir = tempfile::tempdir().unwrap();
    let (github, commands) = github_in(dir.path());
    let (stdout, stderr) = (Capture::new(), Capture::new());
    let printer = Printer::builder(
        &OutputArgs {
            json: true,
            ..OutputArgs::default()
        },
        "canary",
    )
    .stdout(stdout.clone())
    .stderr(stderr.clone())
    .color(false)
    .github(Some(github))
    .build();
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("user:{canary}"));
    printer.warn(&format!("token {canary} in a warning"));
    printer.status("Using", canary);
    printer
        .event(
            "token",
            &serde_json::json!({ "token": canary, "basic": encoded }),
        )
        .unwrap();
    let github = printer.github().unwrap();
    github
        .set_output("token", &format!("value {canary} end"))
        .unwrap();
    github.set_env("TOKEN", canary).unwrap();
    github
        .append_summary(&format!("token `{canary}` and {}", hex::encode(canary)))
        .unwrap();
    github
        .annotate(&Annotation::error(canary).title(canary).file(canary))
        .unwrap();
    printer.progress(3, canary).set_message(canary);
    let error = anyhow::anyhow!("server echoed Authorization: Basic {encoded}")
        .context(format!("cannot log in with {}", secret.expose()))
        .context(format!(
            "request to https://pypi.example/?token={} failed",
            percent_encoding::utf8_percent_encode(canary, percent_encoding::NON_ALPHANUMERIC)
        ));
    let code = finish::<()>(Err(error), &printer);
    // Nothing classified it: a bug.
    assert_eq!(code, ExitCode::from(101));

    let log = Capture::new();
    let sink = log.clone();
    let subscriber = crate::subscriber(
        LogConfig::default(),
        None,
        RedactingMakeWriter::new(move || sink.clone()),
    )
    .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        tracing::error!(
            secret = canary,
            hex = hex::encode(canary),
            "logging {canary}"
        );
    });

    let mut outputs = vec![
        ("stdout", stdout.contents()),
        ("stderr", stderr.contents()),
        ("commands", commands.contents()),
        ("log", log.contents()),
    ];
    for file in ["output", "env", "summary"] {
        outputs.push((
            file,
            std::fs::read_to_string(dir.path().join(file)).unwrap(),
        ));
    }
    for (name, text) in &outputs {
        assert!(
            text.contains(windlass_redact::MASK),
            "{name} should show the mask:\n{text}"
        );
        for (form, value) in &forms {
            assert!(
                !text.contains(value.as_str()),
                "{name} leaks the canary ({form}):\n{text}"
            );
        }
    }
}

/// The canary as it could appear in output: plain, base64 (standard and URL
/// safe, padded or not, at each alignment), URL-encoded, JSON-escaped, hex.
fn leak_forms(canary: &str) -> Vec<(&'static str, String)> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let mut forms = vec![
        ("plain", canary.to_owned()),
        (
            "json",
            serde_json::to_string(canary)
                .unwrap()
                .trim_matches('"')
                .to_owned(),
        ),
        (
            "url",
            percent_encoding::utf8_percent_encode(canary, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
        ),
        ("hex", hex::encode(canary)),
        ("HEX", hex::encode_upper(canary)),
        ("base64", STANDARD.encode(canary)),
        ("base64url", URL_SAFE_NO_PAD.encode(canary)),
    ];
    // The middle of the encoding of `user:<canary>` depends on the canary
    // alone: a long fragment of it must not appear either.
    let basic = STANDARD.encode(format!("user:{canary}"));
    forms.push(("base64 in basic auth", basic[8..basic.len() - 4].to_owned()));
    forms
}

#[test]
fn control_characters_are_escaped() {
    let cases = [
        "plain/name.py",
        "héllo wörld",
        "red\u{1b}[31mtext\u{1b}[0m",
        "line\n::error::injected",
        "cr\rback",
        "tab\there",
        "c1\u{9b}31m",
        "bidi\u{202e}txt.py",
        "del\u{7f}",
    ];
    let mut table = String::new();
    for case in cases {
        let escaped = crate::escape_controls(case);
        assert!(
            !escaped.chars().any(char::is_control),
            "{case:?} -> {escaped:?}"
        );
        writeln!(table, "{escaped}").unwrap();
    }
    insta::assert_snapshot!(table, @r"
    plain/name.py
    héllo wörld
    red\u{1b}[31mtext\u{1b}[0m
    line\n::error::injected
    cr\rback
    tab\there
    c1\u{9b}31m
    bidi\u{202e}txt.py
    del\u{7f}
    ");
}

/// A message or property with a line break stays one workflow command:
/// the runner would read a second line starting with `::` as a command.
#[test]
fn workflow_commands_cannot_be_injected() {
    let annotation = Annotation::error("bad name\n::error::injected%0A\r\n::warning::too")
        .file("dist/x\n::error::.whl")
        .title("t\r\n::notice::x");
    let command = annotation.to_command();
    assert_eq!(command.matches('\n').count(), 1, "{command:?}");
    assert!(!command.contains('\r'), "{command:?}");
    assert!(command.ends_with('\n'));
    insta::assert_snapshot!(command, @"::error file=dist/x%0A%3A%3Aerror%3A%3A.whl,title=t%0D%0A%3A%3Anotice%3A%3Ax::bad name%0A::error::injected%250A%0D%0A::warning::too");
}

/// A `$GITHUB_OUTPUT` or `$GITHUB_STEP_SUMMARY` that is a fifo (or a
/// device) is refused at once, never blocked on or written to.
#[test]
fn github_files_that_are_not_regular_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    windlass_testkit::mkfifo(&dir.path().join("output"));
    windlass_testkit::mkfifo(&dir.path().join("summary"));
    let path = dir.path().to_owned();
    let errors = windlass_testkit::within(
        std::time::Duration::from_secs(30),
        "appending to a fifo",
        move || {
            let (github, _) = github_in(&path);
            let output = github.set_output("wheel", "x.whl").unwrap_err();
            let summary = github.append_summary("## Published").unwrap_err();
            [output, summary].map(|e| {
                let cause = std::error::Error::source(&e).map(ToString::to_string);
                format!("{e}: {}", cause.unwrap_or_default())
                    .replace(&*path.to_string_lossy(), "[DIR]")
            })
        },
    );
    insta::assert_snapshot!(errors.join("\n"), @r"
    cannot append to `[DIR]/output` (`GITHUB_OUTPUT`): No such device or address (os error 6)
    cannot append to `[DIR]/summary` (`GITHUB_STEP_SUMMARY`): No such device or address (os error 6)
    ");
}

/// Counts, sizes and paths as people read them.
#[test]
fn counts_sizes_and_paths() {
    let mut table = String::new();
    for n in [0, 1, 2] {
        writeln!(
            table,
            "{} | {}",
            crate::plural(n, "file", "files"),
            crate::plural(n, "secret", "secrets")
        )
        .unwrap();
    }
    for bytes in [
        0,
        1023,
        1024,
        12_595,
        1024 * 1024 - 1,
        5 * 1024 * 1024,
        3 * 1024 * 1024 * 1024 / 2,
        u64::MAX,
    ] {
        writeln!(table, "{bytes} -> {}", crate::human_size(bytes)).unwrap();
    }
    for path in [
        "dist/./foo.whl",
        "./dist/foo.whl",
        "././x",
        ".",
        "./",
        "/tmp/./a/../b",
        "a/b/",
        "dist/\u{1b}[31m.whl",
    ] {
        writeln!(
            table,
            "{path:?} -> {}",
            crate::display_path(std::path::Path::new(path))
        )
        .unwrap();
    }
    insta::assert_snapshot!(table, @r#"
    0 files | 0 secrets
    1 file | 1 secret
    2 files | 2 secrets
    0 -> 0 B
    1023 -> 1023 B
    1024 -> 1.0 KiB
    12595 -> 12.3 KiB
    1048575 -> 1.0 MiB
    5242880 -> 5.0 MiB
    1610612736 -> 1.5 GiB
    18446744073709551615 -> 16777216.0 TiB
    "dist/./foo.whl" -> dist/foo.whl
    "./dist/foo.whl" -> dist/foo.whl
    "././x" -> x
    "." -> .
    "./" -> .
    "/tmp/./a/../b" -> /tmp/a/../b
    "a/b/" -> a/b
    "dist/\u{1b}[31m.whl" -> dist/\u{1b}[31m.whl
    "#);
}

/// The exit code of an interrupted run agrees with its JSON document.
#[test]
fn interrupted_json_agrees_with_the_exit_code() {
    let args = OutputArgs {
        json: true,
        ..OutputArgs::default()
    };
    for (name, case) in run_cases()
        .into_iter()
        .filter(|(n, _)| n.starts_with("interrupted"))
    {
        let (code, stdout, stderr) = run(&args, case);
        let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        assert_eq!(code, 130, "{name}");
        assert_eq!(last["exit_code"], 130, "{name}");
        assert_eq!(last["ok"], false, "{name}");
        assert_eq!(last["error"]["message"], "interrupted", "{name}");
        assert_eq!(stderr, "interrupted\n", "{name}");
    }
}

/// A transient status line is never a log line: hidden by default, `-q` and
/// `--json` when stderr is not a terminal, one plain line per message at
/// `-v`; never on stdout.
#[test]
fn status_lines_off_a_terminal() {
    let cases: &[(&str, OutputArgs)] = &[
        ("default", OutputArgs::default()),
        (
            "verbose",
            OutputArgs {
                verbose: 1,
                ..OutputArgs::default()
            },
        ),
        (
            "verbose quiet",
            OutputArgs {
                verbose: 1,
                quiet: 1,
                ..OutputArgs::default()
            },
        ),
        (
            "verbose json",
            OutputArgs {
                verbose: 1,
                json: true,
                ..OutputArgs::default()
            },
        ),
    ];
    let mut out = String::new();
    for (name, args) in cases {
        let (stdout, stderr) = (Capture::new(), Capture::new());
        let printer = Printer::builder(args, "wheel publish")
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .color(false)
            .github(None)
            .build();
        let line = printer.status_line();
        let moved = line.clone();
        std::thread::spawn(move || moved.set("Retrying", "GET http://127.0.0.1/ (attempt 2 of 4)"))
            .join()
            .unwrap();
        line.set("Retrying", "GET http://127.0.0.1/ (attempt 3 of 4)");
        line.clear();
        assert_eq!(stdout.contents(), "", "{name}");
        writeln!(
            out,
            "=== {name}: hidden={}\n{}",
            line.is_hidden(),
            stderr.contents()
        )
        .unwrap();
    }
    insta::assert_snapshot!(out, @r"
    === default: hidden=true

    === verbose: hidden=false
        Retrying GET http://127.0.0.1/ (attempt 2 of 4)
        Retrying GET http://127.0.0.1/ (attempt 3 of 4)

    === verbose quiet: hidden=true

    === verbose json: hidden=true
    ");
}

/// An error that points into a file, wrapped in context as a binary would.
#[derive(Debug, thiserror::Error)]
#[error("unknown key `retires`")]
struct LocatedError;

impl Diagnostic for LocatedError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Usage
    }

    fn location(&self) -> Option<crate::SourceLocation> {
        Some(crate::SourceLocation {
            file: "project/windlass.toml".into(),
            line: 2,
            column: 1,
        })
    }
}

#[test]
fn error_locations_reach_the_json_error() {
    let classifier = Classifier::new().with::<LocatedError>();
    let wrapped = Err::<(), _>(LocatedError)
        .with_exit_status(ExitStatus::Usage)
        .map_err(|e| e.context("cannot load the configuration"))
        .unwrap_err();
    let out = Capture::new();
    let args = OutputArgs {
        json: true,
        ..OutputArgs::default()
    };
    let printer = Printer::builder(&args, "config show")
        .stdout(out.clone())
        .stderr(Capture::new())
        .classifier(classifier)
        .github(None)
        .build();
    assert_eq!(printer.report_error(&wrapped), ExitStatus::Usage);
    let doc: serde_json::Value = serde_json::from_str(out.contents().trim()).unwrap();
    assert_eq!(doc["error"]["file"], "project/windlass.toml");
    assert_eq!(doc["error"]["line"], 2);
    assert_eq!(doc["error"]["column"], 1);

    // Nobody knows a place: no location keys at all.
    let out = Capture::new();
    let printer = Printer::builder(&args, "config show")
        .stdout(out.clone())
        .stderr(Capture::new())
        .github(None)
        .build();
    printer.report_error(&anyhow::anyhow!("no place"));
    let doc: serde_json::Value = serde_json::from_str(out.contents().trim()).unwrap();
    let error = doc["error"].as_object().unwrap();
    assert!(
        !error.contains_key("file") && !error.contains_key("line"),
        "{doc}"
    );
}

#[derive(Debug, clap::Parser)]
#[command(name = "windlass-wheel")]
struct UsageCli {
    #[command(flatten)]
    output: OutputArgs,
    #[command(subcommand)]
    command: UsageCommand,
}

#[derive(Debug, clap::Subcommand)]
enum UsageCommand {
    Publish {
        #[arg(long)]
        repository: Option<String>,
    },
}

#[test]
fn usage_error_documents() {
    use clap::CommandFactory as _;
    let cases: [(&[&str], &str, &str); 4] = [
        (
            &["windlass-wheel", "--json", "publish", "--bogus"],
            "wheel publish",
            "unexpected argument '--bogus' found",
        ),
        (
            &[
                "windlass-wheel",
                "--json",
                "--color",
                "never",
                "publish",
                "--repository",
                "publish",
                "x",
            ],
            "wheel publish",
            "unexpected argument 'x' found",
        ),
        (
            &["windlass-wheel", "--json", "pub"],
            "wheel",
            "unrecognized subcommand 'pub'",
        ),
        (
            &["windlass-wheel", "publish", "--json", "--repository"],
            "wheel publish",
            "a value is required for '--repository <REPOSITORY>' but none was supplied",
        ),
    ];
    for (args, command, message) in cases {
        let os: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        let error = <UsageCli as clap::Parser>::try_parse_from(&os).unwrap_err();
        let line = crate::usage::usage_document(&error, &UsageCli::command(), &os);
        assert!(
            line.ends_with('\n') && line.matches('\n').count() == 1,
            "{line}"
        );
        let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(doc["command"], command, "{args:?}");
        assert_eq!(doc["exit_code"], 2);
        assert_eq!(doc["ok"], false);
        assert_eq!(doc["data"], serde_json::Value::Null);
        assert_eq!(doc["error"]["message"], message, "{args:?}");
        let hint = doc["error"]["hint"].as_str().unwrap();
        assert!(hint.starts_with("usage: windlass-wheel"), "{hint}");
    }
}

#[test]
fn document_schema_lists_each_command() {
    #[derive(serde::Serialize, schemars::JsonSchema)]
    struct Built {
        wheel: String,
    }
    let commands = [
        crate::json::CommandSchema::new::<Built>("wheel build").event::<Built>("written"),
        crate::json::CommandSchema::new::<()>("secrets get"),
    ];
    let schema = crate::json::document_schema(&commands);
    let defs = schema["$defs"].as_object().unwrap();
    for name in [
        "WheelBuildResult",
        "WheelBuildWrittenEvent",
        "SecretsGetResult",
        "OtherResult",
        "ResultDocument",
        "EventDocument",
        "ErrorBody",
        "Built",
    ] {
        assert!(defs.contains_key(name), "{name} missing");
    }
    assert_eq!(schema["oneOf"].as_array().unwrap().len(), 4);
    assert_eq!(
        defs["OtherResult"]["properties"]["command"]["not"]["enum"],
        serde_json::json!(["wheel build", "secrets get"])
    );
    // Same input, same bytes.
    assert_eq!(schema, crate::json::document_schema(&commands));
}

/// A data type named as a command's result document (`CheckResult` for
/// `check`) keeps its name; the document becomes `CheckResultDocument`,
/// and the command's branch points at the document, not at the type.
#[test]
fn document_schema_keeps_a_data_type_named_like_a_document() {
    #[derive(serde::Serialize, schemars::JsonSchema)]
    struct CheckResult {
        status: String,
    }
    #[derive(serde::Serialize, schemars::JsonSchema)]
    struct Report {
        checks: Vec<CheckResult>,
    }
    let commands = [crate::json::CommandSchema::new::<Report>("check")];
    let schema = crate::json::document_schema(&commands);
    let defs = schema["$defs"].as_object().unwrap();
    assert!(defs["CheckResult"]["properties"].get("status").is_some());
    assert_eq!(
        defs["CheckResultDocument"]["properties"]["command"]["const"],
        "check"
    );
    assert_eq!(schema["oneOf"][0]["$ref"], "#/$defs/CheckResultDocument");
}

/// By default an error is one sentence (the message and its first cause)
/// and the hint; `-v` shows every cause on its own line.
#[test]
fn errors_are_one_sentence_and_the_chain_is_for_verbose() {
    let error = anyhow::anyhow!("Connection refused (os error 111)")
        .context("cannot connect for GET http://127.0.0.1:9/v1/sys/health")
        .context("cannot reach vault at http://127.0.0.1:9/")
        .context("cannot resolve `vault://secret/ci/pypi#token`");
    let mut out = String::new();
    for verbose in [0, 1] {
        let stderr = Capture::new();
        let printer = Printer::builder(
            &OutputArgs {
                verbose,
                ..OutputArgs::default()
            },
            "secrets get",
        )
        .stdout(Capture::new())
        .stderr(stderr.clone())
        .color(false)
        .github(None)
        .build();
        printer.report_error(&error);
        writeln!(out, "=== -v x{verbose}\n{}", stderr.contents()).unwrap();
    }
    insta::assert_snapshot!(out, @r"
    === -v x0
    error: cannot resolve `vault://secret/ci/pypi#token`: cannot reach vault at http://127.0.0.1:9/: Connection refused (os error 111)

    === -v x1
    error: cannot resolve `vault://secret/ci/pypi#token`
      caused by: cannot reach vault at http://127.0.0.1:9/
      caused by: cannot connect for GET http://127.0.0.1:9/v1/sys/health
      caused by: Connection refused (os error 111)
    ");
}

/// `set_step_outputs` writes heredoc entries, redacted, in a step with an
/// output file; a step without one gets nothing and no warning.
#[test]
fn step_outputs_are_written_only_where_the_step_has_an_output_file() {
    let secret = Secret::registered("step-output-s3cret".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let (github, commands) = github_in(dir.path());
    let printer = Printer::builder(&OutputArgs::default(), "image push")
        .stdout(Capture::new())
        .stderr(Capture::new())
        .github(Some(github))
        .build();
    printer.set_step_outputs(&[
        ("digest", "sha256:abc".to_owned()),
        ("reference", format!("host/{}@sha256:abc", secret.expose())),
    ]);
    let text = std::fs::read_to_string(dir.path().join("output")).unwrap();
    let entries: Vec<&str> = text.lines().collect();
    assert_eq!(entries.len(), 6, "{text}");
    assert!(entries[0].starts_with("digest<<ghadelimiter_"), "{text}");
    assert_eq!(entries[1], "sha256:abc");
    assert!(entries[3].starts_with("reference<<ghadelimiter_"), "{text}");
    assert_eq!(entries[4], "host/****@sha256:abc");
    assert!(commands.contents().is_empty(), "{}", commands.contents());

    let stderr = Capture::new();
    let without = GitHub::from_env(
        |name| (name == "GITHUB_ACTIONS").then(|| "true".into()),
        io::sink(),
    );
    let printer = Printer::builder(&OutputArgs::default(), "image push")
        .stdout(Capture::new())
        .stderr(stderr.clone())
        .github(without)
        .build();
    printer.set_step_outputs(&[("digest", "sha256:abc".to_owned())]);
    assert!(stderr.contents().is_empty(), "{}", stderr.contents());
}
