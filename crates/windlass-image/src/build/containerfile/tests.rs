use std::fmt::Write as _;

use super::*;

/// One line per instruction (`LINE OP`), or the error as printed.
fn render(text: &str, build_args: &[(&str, &str)]) -> String {
    let args = build_args
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    match parse(Path::new("Containerfile"), text, &args) {
        Ok(file) => {
            let mut out = format!("FROM {}", file.from);
            if let Some(p) = &file.from_platform {
                let _ = write!(out, " platform={p}");
            }
            for i in &file.instructions {
                let _ = write!(out, "\n{} {:?}", i.line, i.op);
            }
            out
        }
        Err(e) => format!(
            "{e}{}",
            e.hint
                .as_ref()
                .map(|h| format!(" | hint: {h}"))
                .unwrap_or_default()
        ),
    }
}

fn check(text: &str, want: &str) {
    assert_eq!(render(text, &[]), want, "\n--- input\n{text}");
}

#[test]
fn the_lecture_file() {
    let text = "\
FROM python:3.11-slim

# The training job.
RUN mkdir /job/
COPY requirements.txt /job/requirements.txt
RUN pip install --no-cache-dir -r /job/requirements.txt
COPY train.py /job/train.py
WORKDIR /job
ENTRYPOINT [\"python\", \"train.py\"]
";
    check(
        text,
        r#"FROM python:3.11-slim
4 Run([Mkdir { paths: ["/job/"], mode: None }])
5 Copy(Copy { sources: ["requirements.txt"], dest: "/job/requirements.txt", chown: None, chmod: None })
6 Run([PipInstall(PipInstall { requirements: ["/job/requirements.txt"], wheels: [], pins: [], compile: None })])
7 Copy(Copy { sources: ["train.py"], dest: "/job/train.py", chown: None, chmod: None })
8 Workdir("/job")
9 Entrypoint(["python", "train.py"])"#,
    );
}

#[test]
fn instructions() {
    let cases: &[(&str, &str)] = &[
        // Continuations, comments inside them, lower-case keywords.
        (
            "FROM a\nenv A=1 \\\n# a comment\n    B=\"two words\"\nLABEL x=y",
            "FROM a\n2 Env([(\"A\", \"1\"), (\"B\", \"two words\")])\n5 Label([(\"x\", \"y\")])",
        ),
        // A blank line inside a continuation is skipped, as BuildKit does.
        (
            "FROM a\nRUN mkdir /a \\\n\n  /b\nUSER 1",
            "FROM a\n2 Run([Mkdir { paths: [\"/a\", \"/b\"], mode: None }])\n5 User(\"1\")",
        ),
        // The legacy `ENV KEY value` form.
        (
            "FROM a\nENV PATH /x:/y",
            "FROM a\n2 Env([(\"PATH\", \"/x:/y\")])",
        ),
        // Shell-form ENTRYPOINT and CMD run through sh.
        (
            "FROM a\nCMD echo hi",
            "FROM a\n2 Cmd([\"/bin/sh\", \"-c\", \"echo hi\"])",
        ),
        // A broken JSON form is the shell form, as in Docker.
        (
            "FROM a\nCMD [\"x\",]",
            "FROM a\n2 Cmd([\"/bin/sh\", \"-c\", \"[\\\"x\\\",]\"])",
        ),
        (
            "FROM a\nEXPOSE 80 53/udp",
            "FROM a\n2 Expose([\"80/tcp\", \"53/udp\"])",
        ),
        (
            "FROM a\nCOPY --chown=1000:1000 --chmod=0640 a b /dst/",
            "FROM a\n2 Copy(Copy { sources: [\"a\", \"b\"], dest: \"/dst/\", chown: Some((1000, 1000)), chmod: Some(416) })",
        ),
        (
            "FROM a\nCOPY [\"a b\", \"/d/\"]",
            "FROM a\n2 Copy(Copy { sources: [\"a b\"], dest: \"/d/\", chown: None, chmod: None })",
        ),
        (
            "FROM a\nRUN mkdir -p -m 0700 /a /b && ln -sf /a /c && pip3 install x==1 y.whl",
            "FROM a\n2 Run([Mkdir { paths: [\"/a\", \"/b\"], mode: Some(448) }, Symlink { target: \"/a\", link: \"/c\" }, PipInstall(PipInstall { requirements: [], wheels: [\"y.whl\"], pins: [\"x==1\"], compile: None })])",
        ),
        (
            "FROM a\nRUN python3 -m pip install -r r.txt",
            "FROM a\n2 Run([PipInstall(PipInstall { requirements: [\"r.txt\"], wheels: [], pins: [], compile: None })])",
        ),
        (
            "FROM a\nRUN pip install --compile x==1 --no-compile",
            "FROM a\n2 Run([PipInstall(PipInstall { requirements: [], wheels: [], pins: [\"x==1\"], compile: Some(false) })])",
        ),
        (
            "FROM a\nRUN pip install --compile x==1",
            "FROM a\n2 Run([PipInstall(PipInstall { requirements: [], wheels: [], pins: [\"x==1\"], compile: Some(true) })])",
        ),
        // The escape directive.
        (
            "# escape=`\nFROM a\nENV A=1 `\n  B=2",
            "FROM a\n3 Env([(\"A\", \"1\"), (\"B\", \"2\")])",
        ),
        (
            "FROM --platform=linux/arm64 a AS build",
            "FROM a platform=linux/arm64",
        ),
    ];
    for (text, want) in cases {
        check(text, want);
    }
}

#[test]
fn variables() {
    let text = "\
ARG BASE=python:3.11
FROM ${BASE}
ARG DIR=/job
ARG UNSET
ENV HOME=$DIR/home GREETING='$DIR stays' X=${UNSET:-fallback} Y=${DIR:+set}
WORKDIR ${DIR}
COPY app \"$DIR/\"
RUN mkdir $HOME/cache
CMD [\"$DIR\"]
";
    assert_eq!(
        render(text, &[]),
        r#"FROM python:3.11
5 Env([("HOME", "/job/home"), ("GREETING", "$DIR stays"), ("X", "fallback"), ("Y", "set")])
6 Workdir("/job")
7 Copy(Copy { sources: ["app"], dest: "/job/", chown: None, chmod: None })
8 Run([Mkdir { paths: ["/job/home/cache"], mode: None }])
9 Cmd(["$DIR"])"#
    );
    // --build-arg wins over defaults, before and after FROM.
    assert_eq!(
        render(text, &[("BASE", "oci:py:3.12"), ("DIR", "/srv")])
            .lines()
            .take(3)
            .collect::<Vec<_>>(),
        [
            "FROM oci:py:3.12",
            r#"5 Env([("HOME", "/srv/home"), ("GREETING", "$DIR stays"), ("X", "fallback"), ("Y", "set")])"#,
            r#"6 Workdir("/srv")"#,
        ]
    );
}

#[test]
fn errors_name_the_line() {
    let cases: &[(&str, &str)] = &[
        (
            "FROM a\nRUN apt-get update",
            "Containerfile:2: `RUN apt-get` needs a container runtime; only `mkdir`, `ln -s` and `pip install` are done natively | hint: ",
        ),
        (
            "FROM a\n\n# x\nRUN mkdir /a; rm -rf /",
            "Containerfile:4: `;` needs a shell; only `&&` joins commands | hint: ",
        ),
        (
            "FROM a\nRUN echo $(id)",
            "Containerfile:2: command substitution `$(...)` needs a shell | hint: ",
        ),
        (
            "FROM a\nCOPY --from=build /x /y",
            "Containerfile:2: `COPY --from` copies from another stage or image | hint: ",
        ),
        (
            "FROM a\nADD https://example.org/x.tgz /x",
            "Containerfile:2: `ADD` of a URL (`https://example.org/x.tgz`) | hint: download it into the build context first, then `COPY` it",
        ),
        (
            "FROM a\nADD app.tar.gz /x",
            "Containerfile:2: `ADD app.tar.gz` would unpack the archive | hint: unpack it into the build context and `COPY` the directory",
        ),
        (
            "FROM a\nFROM b",
            "Containerfile:2: a second `FROM`: multi-stage builds are not supported | hint: ",
        ),
        (
            "ENV A=1\nFROM a",
            "Containerfile:1: `ENV` before `FROM` | hint: only `ARG` may come before `FROM`",
        ),
        (
            "# nothing\n",
            "Containerfile:1: no `FROM` instruction | hint: start the file with `FROM IMAGE`",
        ),
        (
            "FROM a\nCOPY --chown=app:app x /y",
            "Containerfile:2: `--chown=app:app` is not a numeric owner | hint: give `--chown=UID:GID` as numbers: names need the image's /etc/passwd",
        ),
        (
            "FROM a\nEXPOSE http",
            "Containerfile:2: `http` is not a port | hint: write `PORT` or `PORT/tcp` or `PORT/udp`",
        ),
        (
            "FROM a\nENV A=\"open",
            "Containerfile:2: an unterminated `\"` quote",
        ),
        (
            "FROM a\nRUN pip install --index-url http://x/ y",
            "Containerfile:2: `pip install --index-url` is not supported natively | hint: indexes and credentials come from `windlass.toml`; drop the option, or build this file with `podman build`",
        ),
        (
            "FROM a\nRUN pip install .",
            "Containerfile:2: `pip install .` builds from source | hint: build the wheel first (`windlass wheel build`) and install the `.whl`",
        ),
        (
            "FROM a\nHEALTHCHECK CMD true",
            "Containerfile:2: `HEALTHCHECK` is not supported | hint: ",
        ),
        (
            "FROM a\nFETCH x",
            "Containerfile:2: unknown instruction `FETCH` | hint: ",
        ),
        // The line where a continued instruction starts.
        (
            "FROM a\nRUN mkdir /a && \\\n  chown 1 /a",
            "Containerfile:2: `RUN chown` needs a container runtime; only `mkdir`, `ln -s` and `pip install` are done natively | hint: ",
        ),
    ];
    for (text, want) in cases {
        let got = render(text, &[]);
        // Hints after `| hint: ` are compared by prefix (the runtime hint is long).
        assert!(
            got.starts_with(want) && (want.ends_with("hint: ") || got == *want),
            "\n--- input\n{text}\n--- got\n{got}\n--- want\n{want}"
        );
    }
}
