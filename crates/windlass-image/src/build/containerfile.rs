//! The common subset of the Containerfile (Dockerfile) language, read with
//! line numbers so every error points at its line.
//!
//! Read: line continuations (`\`, or the character of an `# escape=`
//! directive), comments, the JSON (exec) and shell forms, `ARG` with
//! defaults and `--build-arg` values, `$VAR`, `${VAR}`, `${VAR:-word}` and
//! `${VAR:+word}` in the instructions that expand variables. Instructions:
//! `FROM` (one stage), `ARG`, `ENV`, `LABEL`, `WORKDIR`, `USER`, `EXPOSE`,
//! `VOLUME`, `STOPSIGNAL`, `COPY`/`ADD` of files from the build context
//! (`--chown`, `--chmod`), `ENTRYPOINT`, `CMD`, and the `RUN` steps that can
//! be done without running anything: `mkdir [-p] [-m MODE]`, `ln -s`, and
//! `pip install` of requirement files, wheels or pins (installed natively),
//! joined by `&&`. Anything else is an error naming the line, with a hint to
//! build that file with podman or buildah.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The largest Containerfile read.
pub const LIMIT: u64 = 4 * windlass_fs::MIB;

/// A Containerfile, read and checked; variables already substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Containerfile {
    pub path: PathBuf,
    /// The base image as written after substitution (`scratch` for none).
    pub from: String,
    /// `FROM --platform=...`, when given.
    pub from_platform: Option<String>,
    pub instructions: Vec<Instruction>,
}

/// One instruction after `FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line where it starts.
    pub line: usize,
    /// The instruction as written (continuations joined), for the image
    /// history.
    pub text: String,
    pub op: Op,
}

/// What an instruction does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    Workdir(String),
    User(String),
    Expose(Vec<String>),
    Volume(Vec<String>),
    StopSignal(String),
    Entrypoint(Vec<String>),
    Cmd(Vec<String>),
    Copy(Copy),
    Run(Vec<RunStep>),
}

/// `COPY`/`ADD` of files from the build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub sources: Vec<String>,
    pub dest: String,
    /// `--chown=UID[:GID]` (numeric).
    pub chown: Option<(u64, u64)>,
    /// `--chmod=OCTAL`.
    pub chmod: Option<u32>,
}

/// A `RUN` step done without a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStep {
    Mkdir {
        paths: Vec<String>,
        mode: Option<u32>,
    },
    Symlink {
        target: String,
        link: String,
    },
    PipInstall(PipInstall),
}

/// `pip install` arguments Windlass does natively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipInstall {
    /// `-r FILE`, as written (image paths, relative to the working
    /// directory).
    pub requirements: Vec<String>,
    /// `*.whl` arguments.
    pub wheels: Vec<String>,
    /// Other arguments: requirement specifiers (`numpy==2.1.0`).
    pub pins: Vec<String>,
    /// `--compile` (`Some(true)`) or `--no-compile`, the last one given.
    pub compile: Option<bool>,
}

/// An error in a Containerfile: `PATH:LINE: message`, and a hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", path.display())]
pub struct ContainerfileError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl windlass_output::Diagnostic for ContainerfileError {
    fn exit_status(&self) -> windlass_output::ExitStatus {
        windlass_output::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }

    fn location(&self) -> Option<windlass_output::SourceLocation> {
        Some(windlass_output::SourceLocation {
            file: self.path.clone(),
            line: self.line,
            column: 1,
        })
    }
}

/// The hint for what only a container runtime can do.
pub const RUNTIME_HINT: &str = "`windlass image build` runs no container: build this file with \
     `podman build` or `buildah`, or do the step in the build context and `COPY` the result";

/// Reads and checks the Containerfile at `path`, named `shown` in errors;
/// `build_args` override the `ARG` defaults.
pub fn read(
    path: &Path,
    shown: &Path,
    build_args: &BTreeMap<String, String>,
) -> Result<Containerfile, ReadFileError> {
    let text = windlass_fs::read_to_string(path, LIMIT).map_err(ReadFileError::Read)?;
    parse(shown, &text, build_args).map_err(ReadFileError::Syntax)
}

/// A Containerfile that cannot be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum ReadFileError {
    #[error(transparent)]
    Read(windlass_fs::ReadError),
    #[error(transparent)]
    Syntax(ContainerfileError),
}

/// Parses a Containerfile's text (`path` is for messages).
pub fn parse(
    path: &Path,
    text: &str,
    build_args: &BTreeMap<String, String>,
) -> Result<Containerfile, ContainerfileError> {
    let mut parser = Parser {
        path,
        build_args,
        vars: BTreeMap::new(),
        global_args: BTreeMap::new(),
        from: None,
        instructions: Vec::new(),
    };
    for logical in logical_lines(text) {
        parser.instruction(&logical)?;
    }
    let Some((from, from_platform)) = parser.from else {
        return Err(ContainerfileError {
            path: path.to_owned(),
            line: text.lines().count().max(1),
            message: "no `FROM` instruction".into(),
            hint: Some("start the file with `FROM IMAGE`".into()),
        });
    };
    Ok(Containerfile {
        path: path.to_owned(),
        from,
        from_platform,
        instructions: parser.instructions,
    })
}

/// One instruction's text, continuation lines joined, and its first line.
#[derive(Debug)]
struct Logical {
    line: usize,
    text: String,
}

/// Joins continuation lines and drops comments and blank lines. A parser
/// directive (`# escape=X`) is only read before the first instruction.
fn logical_lines(text: &str) -> Vec<Logical> {
    let mut escape = '\\';
    let mut out = Vec::new();
    let mut current: Option<Logical> = None;
    let mut directives = true;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = raw.trim_start();
        if directives {
            // `# escape=X` before anything else; other directives are ignored.
            let directive = trimmed
                .strip_prefix('#')
                .and_then(|rest| rest.split_once('='))
                .filter(|(key, _)| {
                    let key = key.trim();
                    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphabetic())
                });
            match directive {
                Some((key, value)) => {
                    if key.trim().eq_ignore_ascii_case("escape") {
                        escape = if value.trim() == "`" { '`' } else { '\\' };
                    }
                    continue;
                }
                None => directives = false,
            }
        }
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_some()) {
            // Comments and blank lines end nothing, also between
            // continuation lines.
            continue;
        }
        let (body, continues) = match raw.trim_end().strip_suffix(escape) {
            Some(body) => (body, true),
            None => (raw, false),
        };
        match &mut current {
            Some(logical) => {
                logical.text.push_str(body);
            }
            None if trimmed.is_empty() => continue,
            None => {
                current = Some(Logical {
                    line: line_no,
                    text: body.to_owned(),
                });
            }
        }
        if !continues && let Some(logical) = current.take() {
            out.push(logical);
        }
    }
    if let Some(logical) = current.take() {
        out.push(logical);
    }
    out
}

struct Parser<'a> {
    path: &'a Path,
    build_args: &'a BTreeMap<String, String>,
    /// ARG and ENV values in scope.
    vars: BTreeMap<String, String>,
    /// ARGs declared before FROM.
    global_args: BTreeMap<String, Option<String>>,
    from: Option<(String, Option<String>)>,
    instructions: Vec<Instruction>,
}

impl Parser<'_> {
    fn error(&self, line: usize, message: impl Into<String>) -> ContainerfileError {
        ContainerfileError {
            path: self.path.to_owned(),
            line,
            message: message.into(),
            hint: None,
        }
    }

    fn error_hint(
        &self,
        line: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> ContainerfileError {
        ContainerfileError {
            hint: Some(hint.into()),
            ..self.error(line, message)
        }
    }

    fn instruction(&mut self, logical: &Logical) -> Result<(), ContainerfileError> {
        let line = logical.line;
        let text = logical.text.trim();
        let (keyword, rest) = match text.find(char::is_whitespace) {
            Some(i) => (&text[..i], text[i..].trim()),
            None => (text, ""),
        };
        let keyword = keyword.to_ascii_uppercase();
        let shown = windlass_output::escape_controls(text).into_owned();
        if self.from.is_none() && keyword != "FROM" && keyword != "ARG" {
            return Err(self.error_hint(
                line,
                format!("`{keyword}` before `FROM`"),
                "only `ARG` may come before `FROM`",
            ));
        }
        let op = match keyword.as_str() {
            "FROM" => return self.from(line, rest),
            "ARG" => return self.arg(line, rest),
            "ENV" => {
                let pairs = self.pairs(line, rest, "ENV")?;
                for (k, v) in &pairs {
                    self.vars.insert(k.clone(), v.clone());
                }
                Op::Env(pairs)
            }
            "LABEL" => Op::Label(self.pairs(line, rest, "LABEL")?),
            "WORKDIR" => Op::Workdir(self.single(line, rest, "WORKDIR")?),
            "USER" => Op::User(self.single(line, rest, "USER")?),
            "STOPSIGNAL" => Op::StopSignal(self.single(line, rest, "STOPSIGNAL")?),
            "EXPOSE" => {
                let ports = self.words(line, rest)?;
                for port in &ports {
                    if !valid_port(port) {
                        return Err(self.error_hint(
                            line,
                            format!("`{port}` is not a port"),
                            "write `PORT` or `PORT/tcp` or `PORT/udp`",
                        ));
                    }
                }
                Op::Expose(
                    ports
                        .into_iter()
                        .map(|p| {
                            if p.contains('/') {
                                p.to_ascii_lowercase()
                            } else {
                                format!("{p}/tcp")
                            }
                        })
                        .collect(),
                )
            }
            "VOLUME" => Op::Volume(match json_array(rest) {
                Some(list) => list,
                None => self.words(line, rest)?,
            }),
            "ENTRYPOINT" => Op::Entrypoint(exec_form(rest)),
            "CMD" => Op::Cmd(exec_form(rest)),
            "COPY" | "ADD" => Op::Copy(self.copy(line, rest, keyword == "ADD")?),
            "RUN" => Op::Run(self.run(line, rest)?),
            "MAINTAINER" => Op::Label(vec![("maintainer".into(), rest.to_owned())]),
            "SHELL" | "HEALTHCHECK" | "ONBUILD" => {
                return Err(self.error_hint(
                    line,
                    format!("`{keyword}` is not supported"),
                    RUNTIME_HINT,
                ));
            }
            _ => {
                return Err(self.error_hint(
                    line,
                    format!(
                        "unknown instruction `{}`",
                        shown.split_whitespace().next().unwrap_or("")
                    ),
                    "the instructions are FROM, ARG, ENV, LABEL, WORKDIR, USER, EXPOSE, VOLUME, \
                     STOPSIGNAL, COPY, ADD, RUN, ENTRYPOINT and CMD",
                ));
            }
        };
        self.instructions.push(Instruction {
            line,
            text: shown,
            op,
        });
        Ok(())
    }

    fn from(&mut self, line: usize, rest: &str) -> Result<(), ContainerfileError> {
        if self.from.is_some() {
            return Err(self.error_hint(
                line,
                "a second `FROM`: multi-stage builds are not supported",
                RUNTIME_HINT,
            ));
        }
        // FROM sees only the ARGs declared before it.
        let globals: BTreeMap<String, String> = self
            .global_args
            .iter()
            .filter_map(|(k, default)| {
                self.build_args
                    .get(k)
                    .cloned()
                    .or_else(|| default.clone())
                    .map(|v| (k.clone(), v))
            })
            .collect();
        let words = lex(rest, Some(&globals)).map_err(|m| self.error(line, m))?;
        let mut platform = None;
        let mut image = None;
        let mut iter = words.into_iter();
        while let Some(word) = iter.next() {
            if let Some(p) = word.strip_prefix("--platform=") {
                platform = Some(p.to_owned());
            } else if word.starts_with("--") {
                return Err(self.error(line, format!("`FROM {word}` is not supported")));
            } else if image.is_none() {
                image = Some(word);
            } else if word.eq_ignore_ascii_case("AS") {
                // A stage name: fine for a single stage.
                iter.next();
            } else {
                return Err(self.error(line, format!("unexpected `{word}` after the image")));
            }
        }
        let Some(image) = image else {
            return Err(self.error(line, "`FROM` needs an image"));
        };
        // ARGs declared before FROM are not in scope after it unless
        // declared again.
        self.vars.clear();
        self.from = Some((image, platform));
        Ok(())
    }

    fn arg(&mut self, line: usize, rest: &str) -> Result<(), ContainerfileError> {
        let words = lex(rest, Some(&self.vars)).map_err(|m| self.error(line, m))?;
        if words.is_empty() {
            return Err(self.error(line, "`ARG` needs a name"));
        }
        for word in words {
            let (name, default) = match word.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (word, None),
            };
            if !valid_name(&name) {
                return Err(self.error(line, format!("`{name}` is not a variable name")));
            }
            if self.from.is_none() {
                self.global_args.insert(name, default);
                continue;
            }
            // An ARG after FROM may redeclare a global one to reuse its
            // value.
            let value = self
                .build_args
                .get(&name)
                .cloned()
                .or(default)
                .or_else(|| self.global_args.get(&name).cloned().flatten());
            if let Some(value) = value {
                // ENV wins over ARG.
                self.vars.entry(name).or_insert(value);
            }
        }
        Ok(())
    }

    /// `KEY=VALUE ...`, or the legacy `KEY VALUE` form.
    fn pairs(
        &self,
        line: usize,
        rest: &str,
        what: &str,
    ) -> Result<Vec<(String, String)>, ContainerfileError> {
        let words = lex(rest, Some(&self.vars)).map_err(|m| self.error(line, m))?;
        if words.is_empty() {
            return Err(self.error(line, format!("`{what}` needs `KEY=VALUE`")));
        }
        if !words[0].contains('=') {
            // `ENV KEY value with spaces`: the rest of the line, as written.
            let mut split = rest.splitn(2, char::is_whitespace);
            let key = split.next().unwrap_or_default();
            let value = split.next().map(str::trim).unwrap_or_default();
            let value = lex(value, Some(&self.vars))
                .map_err(|m| self.error(line, m))?
                .join(" ");
            if value.is_empty() {
                return Err(self.error(line, format!("`{what} {key}` needs a value")));
            }
            return Ok(vec![(key.to_owned(), value)]);
        }
        let mut pairs = Vec::new();
        for word in words {
            let Some((k, v)) = word.split_once('=') else {
                return Err(self.error_hint(
                    line,
                    format!("`{word}` is not `KEY=VALUE`"),
                    "quote values with spaces: KEY=\"a b\"",
                ));
            };
            if k.is_empty() {
                return Err(self.error(line, format!("`{word}` has an empty key")));
            }
            pairs.push((k.to_owned(), v.to_owned()));
        }
        Ok(pairs)
    }

    fn words(&self, line: usize, rest: &str) -> Result<Vec<String>, ContainerfileError> {
        lex(rest, Some(&self.vars)).map_err(|m| self.error(line, m))
    }

    fn single(&self, line: usize, rest: &str, what: &str) -> Result<String, ContainerfileError> {
        let words = self.words(line, rest)?;
        match words.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(self.error(line, format!("`{what}` takes one value"))),
        }
    }

    fn copy(&self, line: usize, rest: &str, add: bool) -> Result<Copy, ContainerfileError> {
        let what = if add { "ADD" } else { "COPY" };
        // Flags come first, in either form.
        let mut rest = rest.trim_start();
        let mut chown = None;
        let mut chmod = None;
        while rest.starts_with("--") {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let flag = &rest[..end];
            rest = rest[end..].trim_start();
            let flag = lex(flag, Some(&self.vars))
                .map_err(|m| self.error(line, m))?
                .join("");
            if let Some(v) = flag.strip_prefix("--chown=") {
                chown = Some(parse_chown(v).ok_or_else(|| {
                    self.error_hint(
                        line,
                        format!("`--chown={v}` is not a numeric owner"),
                        "give `--chown=UID:GID` as numbers: names need the image's /etc/passwd",
                    )
                })?);
            } else if let Some(v) = flag.strip_prefix("--chmod=") {
                chmod = Some(
                    u32::from_str_radix(v, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .ok_or_else(|| {
                            self.error_hint(
                                line,
                                format!("`--chmod={v}` is not an octal mode"),
                                "give `--chmod=0755`",
                            )
                        })?,
                );
            } else if flag == "--link" {
                // Layers are independent already.
            } else if flag.starts_with("--from") {
                return Err(self.error_hint(
                    line,
                    format!("`{what} --from` copies from another stage or image"),
                    RUNTIME_HINT,
                ));
            } else {
                return Err(self.error(line, format!("`{what} {flag}` is not supported")));
            }
        }
        let words = match json_array(rest) {
            Some(list) => list
                .iter()
                .map(|w| expand(w, &self.vars).map_err(|m| self.error(line, m)))
                .collect::<Result<Vec<_>, _>>()?,
            None => self.words(line, rest)?,
        };
        let Some((dest, sources)) = words.split_last() else {
            return Err(self.error(line, format!("`{what}` needs a source and a destination")));
        };
        if sources.is_empty() {
            return Err(self.error(line, format!("`{what}` needs a source and a destination")));
        }
        for source in sources {
            if source.contains("://") || source.starts_with("git@") {
                return Err(self.error_hint(
                    line,
                    format!("`{what}` of a URL (`{source}`)"),
                    "download it into the build context first, then `COPY` it",
                ));
            }
            if add && is_archive(source) {
                return Err(self.error_hint(
                    line,
                    format!("`ADD {source}` would unpack the archive"),
                    "unpack it into the build context and `COPY` the directory",
                ));
            }
        }
        Ok(Copy {
            sources: sources.to_vec(),
            dest: dest.clone(),
            chown,
            chmod,
        })
    }

    fn run(&self, line: usize, rest: &str) -> Result<Vec<RunStep>, ContainerfileError> {
        let refuse = |message: String| self.error_hint(line, message, RUNTIME_HINT);
        if rest.starts_with("--") {
            return Err(refuse(format!(
                "`RUN {}` is not supported",
                rest.split_whitespace().next().unwrap_or_default()
            )));
        }
        // The exec form runs no shell: one command, no variables.
        let commands: Vec<Vec<String>> = if let Some(argv) = json_array(rest) {
            vec![argv]
        } else {
            let mut commands = vec![Vec::new()];
            for token in lex_shell(rest, &self.vars).map_err(&refuse)? {
                match token {
                    Token::And => commands.push(Vec::new()),
                    Token::Word(w) => commands
                        .last_mut()
                        .unwrap_or_else(|| unreachable!())
                        .push(w),
                }
            }
            commands
        };
        let mut steps = Vec::new();
        for argv in commands {
            let Some(program) = argv.first() else {
                return Err(self.error(line, "an empty command in `RUN`"));
            };
            let name = program.rsplit('/').next().unwrap_or(program);
            let args = &argv[1..];
            let step = match name {
                "mkdir" => self.mkdir(line, args)?,
                "ln" => self.ln(line, args)?,
                "pip" | "pip3" => self.pip(line, args)?,
                n if n.starts_with("python")
                    && args.first().map(String::as_str) == Some("-m")
                    && args.get(1).map(String::as_str) == Some("pip") =>
                {
                    self.pip(line, &args[2..])?
                }
                "true" | ":" => continue,
                _ => {
                    return Err(refuse(format!(
                        "`RUN {}` needs a container runtime; only `mkdir`, `ln -s` and \
                         `pip install` are done natively",
                        windlass_output::escape_controls(program)
                    )));
                }
            };
            steps.push(step);
        }
        Ok(steps)
    }

    fn mkdir(&self, line: usize, args: &[String]) -> Result<RunStep, ContainerfileError> {
        let mut mode = None;
        let mut paths = Vec::new();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                "-p" | "--parents" | "-v" | "--verbose" => {}
                "-m" | "--mode" => {
                    let value = iter.next().map(String::as_str).unwrap_or_default();
                    mode = Some(self.octal(line, value)?);
                }
                a if a.starts_with("--mode=") => mode = Some(self.octal(line, &a[7..])?),
                a if a.starts_with('-')
                    && a.len() > 1
                    && a[1..].chars().all(|c| "pv".contains(c)) => {}
                a if a.starts_with('-') => {
                    return Err(self.error(line, format!("`mkdir {a}` is not supported")));
                }
                path => paths.push(path.to_owned()),
            }
        }
        if paths.is_empty() {
            return Err(self.error(line, "`mkdir` needs a directory"));
        }
        Ok(RunStep::Mkdir { paths, mode })
    }

    fn octal(&self, line: usize, value: &str) -> Result<u32, ContainerfileError> {
        u32::from_str_radix(value, 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .ok_or_else(|| self.error(line, format!("`{value}` is not an octal mode")))
    }

    fn ln(&self, line: usize, args: &[String]) -> Result<RunStep, ContainerfileError> {
        let mut symbolic = false;
        let mut rest = Vec::new();
        for arg in args {
            match arg.as_str() {
                "-s" | "--symbolic" | "-sf" | "-fs" | "-snf" | "-sfn" | "-nsf" => symbolic = true,
                "-f" | "--force" | "-n" | "--no-dereference" => {}
                a if a.starts_with('-') => {
                    return Err(self.error(line, format!("`ln {a}` is not supported")));
                }
                a => rest.push(a.to_owned()),
            }
        }
        match (symbolic, rest.as_slice()) {
            (true, [target, name]) => Ok(RunStep::Symlink {
                target: target.clone(),
                link: name.clone(),
            }),
            _ => Err(self.error_hint(line, "only `ln -s TARGET LINK` is supported", RUNTIME_HINT)),
        }
    }

    fn pip(&self, line: usize, args: &[String]) -> Result<RunStep, ContainerfileError> {
        let Some((first, args)) = args.split_first().filter(|(f, _)| f.as_str() == "install")
        else {
            return Err(self.error_hint(line, "only `pip install` is done natively", RUNTIME_HINT));
        };
        let _ = first;
        let mut pip = PipInstall::default();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                // Options that change nothing for a fresh, native install.
                "--no-cache-dir"
                | "-U"
                | "--upgrade"
                | "-q"
                | "--quiet"
                | "-v"
                | "--verbose"
                | "--disable-pip-version-check"
                | "--no-warn-script-location"
                | "--root-user-action=ignore"
                | "--only-binary=:all:"
                | "--break-system-packages"
                | "--require-hashes" => {}
                "--compile" => pip.compile = Some(true),
                "--no-compile" => pip.compile = Some(false),
                "-r" | "--requirement" => match iter.next() {
                    Some(file) => pip.requirements.push(file.clone()),
                    None => return Err(self.error(line, "`pip install -r` needs a file")),
                },
                a if a.starts_with("--requirement=") => {
                    pip.requirements
                        .push(a["--requirement=".len()..].to_owned());
                }
                a if a.starts_with("-r") && a.len() > 2 => pip.requirements.push(a[2..].to_owned()),
                a if a.starts_with('-') => {
                    return Err(self.error_hint(
                        line,
                        format!("`pip install {a}` is not supported natively"),
                        "indexes and credentials come from `windlass.toml`; drop the option, \
                         or build this file with `podman build`",
                    ));
                }
                a if has_extension(a, "whl") => pip.wheels.push(a.to_owned()),
                a if a == "."
                    || a.starts_with("./")
                    || a.starts_with('/')
                    || has_extension(a, "gz")
                    || has_extension(a, "zip") =>
                {
                    return Err(self.error_hint(
                        line,
                        format!("`pip install {a}` builds from source"),
                        "build the wheel first (`windlass wheel build`) and install the `.whl`",
                    ));
                }
                a => pip.pins.push(a.to_owned()),
            }
        }
        if pip.requirements.is_empty() && pip.wheels.is_empty() && pip.pins.is_empty() {
            return Err(self.error(line, "`pip install` names nothing to install"));
        }
        Ok(RunStep::PipInstall(pip))
    }
}

fn has_extension(arg: &str, extension: &str) -> bool {
    Path::new(arg)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(extension))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

fn valid_port(port: &str) -> bool {
    let (number, proto) = port.split_once('/').unwrap_or((port, "tcp"));
    let number_ok = match number.split_once('-') {
        Some((a, b)) => a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok(),
        None => number.parse::<u16>().is_ok(),
    };
    number_ok && matches!(proto.to_ascii_lowercase().as_str(), "tcp" | "udp" | "sctp")
}

fn parse_chown(value: &str) -> Option<(u64, u64)> {
    let (user, group) = value.split_once(':').unwrap_or((value, value));
    Some((user.parse().ok()?, group.parse().ok()?))
}

fn is_archive(source: &str) -> bool {
    [
        ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst",
    ]
    .iter()
    .any(|s| source.ends_with(s))
}

/// The JSON form: an array of strings, else `None` (Docker then reads the
/// shell form).
fn json_array(rest: &str) -> Option<Vec<String>> {
    let rest = rest.trim();
    if !rest.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(rest).ok()
}

/// `ENTRYPOINT`/`CMD`: the JSON form as is; the shell form through
/// `/bin/sh -c`.
fn exec_form(rest: &str) -> Vec<String> {
    match json_array(rest) {
        Some(argv) => argv,
        None if rest.trim().is_empty() => Vec::new(),
        None => vec!["/bin/sh".into(), "-c".into(), rest.trim().to_owned()],
    }
}

/// A token of a `RUN` line.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    And,
}

/// Splits words as Docker does for the instructions that expand variables:
/// quotes group, a backslash escapes, `$VAR` expands outside single quotes
/// (when `vars` is given).
fn lex(s: &str, vars: Option<&BTreeMap<String, String>>) -> Result<Vec<String>, String> {
    let empty = BTreeMap::new();
    let tokens = lex_inner(s, vars.unwrap_or(&empty), false)?;
    Ok(tokens
        .into_iter()
        .filter_map(|t| match t {
            Token::Word(w) => Some(w),
            Token::And => None,
        })
        .collect())
}

/// A `RUN` line as `sh` would split it, refusing what needs a shell.
fn lex_shell(s: &str, vars: &BTreeMap<String, String>) -> Result<Vec<Token>, String> {
    lex_inner(s, vars, true)
}

/// Substitutes variables in one word (JSON-form `COPY` arguments).
fn expand(s: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' {
            i = expand_var(&chars, i, vars, &mut out)?;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn lex_inner(s: &str, vars: &BTreeMap<String, String>, shell: bool) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    tokens.push(Token::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
                i += 1;
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.get(i + 1) {
                    word.push(*next);
                }
                i += 2;
            }
            '\'' => {
                in_word = true;
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '\'')
                    .ok_or("an unterminated `'` quote")?;
                word.extend(&chars[i + 1..i + 1 + end]);
                i += end + 2;
            }
            '"' => {
                in_word = true;
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("an unterminated `\"` quote".into()),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') if matches!(chars.get(i + 1), Some('"' | '\\' | '$' | '`')) => {
                            word.push(chars[i + 1]);
                            i += 2;
                        }
                        Some('$') => i = expand_var(&chars, i, vars, &mut word)?,
                        Some('`') if shell => {
                            return Err("command substitution needs a shell".into());
                        }
                        Some(c) => {
                            word.push(*c);
                            i += 1;
                        }
                    }
                }
            }
            '$' => {
                in_word = true;
                i = expand_var(&chars, i, vars, &mut word)?;
            }
            '&' if shell && chars.get(i + 1) == Some(&'&') => {
                if in_word {
                    tokens.push(Token::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
                tokens.push(Token::And);
                i += 2;
            }
            ';' | '|' | '&' | '<' | '>' | '`' | '(' | ')' if shell => {
                return Err(format!("`{c}` needs a shell; only `&&` joins commands"));
            }
            c => {
                in_word = true;
                word.push(c);
                i += 1;
            }
        }
    }
    if in_word {
        tokens.push(Token::Word(word));
    }
    Ok(tokens)
}

/// Expands the variable at `chars[i] == '$'` into `out`; returns the index
/// after it. An unset variable is empty, as in Docker.
fn expand_var(
    chars: &[char],
    i: usize,
    vars: &BTreeMap<String, String>,
    out: &mut String,
) -> Result<usize, String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    match chars.get(i + 1) {
        Some('{') => {
            let end = chars[i + 2..]
                .iter()
                .position(|&c| c == '}')
                .ok_or("an unterminated `${`")?;
            let inner: String = chars[i + 2..i + 2 + end].iter().collect();
            let (name, op) = match inner.find(|c: char| !is_name(c)) {
                Some(p) => (&inner[..p], Some(&inner[p..])),
                None => (inner.as_str(), None),
            };
            if name.is_empty() {
                return Err(format!("`${{{inner}}}` is not a variable"));
            }
            let value = vars.get(name).filter(|v| !v.is_empty());
            match op {
                None => out.push_str(vars.get(name).map_or("", String::as_str)),
                Some(op) if op.starts_with(":-") => match value {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&expand(&op[2..], vars)?),
                },
                Some(op) if op.starts_with(":+") => {
                    if value.is_some() {
                        out.push_str(&expand(&op[2..], vars)?);
                    }
                }
                Some(op) => {
                    return Err(format!(
                        "`${{{name}{op}}}` is not supported (use `:-` or `:+`)"
                    ));
                }
            }
            Ok(i + 3 + end)
        }
        Some('(') => Err("command substitution `$(...)` needs a shell".into()),
        Some(&c) if is_name(c) && !c.is_ascii_digit() => {
            let len = chars[i + 1..].iter().take_while(|&&c| is_name(c)).count();
            let name: String = chars[i + 1..i + 1 + len].iter().collect();
            out.push_str(vars.get(&name).map_or("", String::as_str));
            Ok(i + 1 + len)
        }
        _ => {
            out.push('$');
            Ok(i + 1)
        }
    }
}

impl fmt::Display for RunStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mkdir { paths, .. } => write!(f, "mkdir {}", paths.join(" ")),
            Self::Symlink { target, link } => write!(f, "ln -s {target} {link}"),
            Self::PipInstall(_) => f.write_str("pip install"),
        }
    }
}

#[cfg(test)]
mod tests;
