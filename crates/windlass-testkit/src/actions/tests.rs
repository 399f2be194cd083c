use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::expr::{self, Scope};
use super::{HarnessError, parse_command, parse_file_command};

struct Fixed {
    contexts: Value,
    success: bool,
}

impl Scope for Fixed {
    fn lookup(&self, context: &str, keys: &[String]) -> Result<Value, HarnessError> {
        let mut value = self
            .contexts
            .get(context)
            .cloned()
            .ok_or_else(|| HarnessError(format!("no `{context}`")))?;
        for key in keys {
            value = expr::property(&value, key);
        }
        Ok(value)
    }

    fn success(&self) -> bool {
        self.success
    }
}

fn scope() -> Fixed {
    Fixed {
        contexts: json!({
            "inputs": {"command": "check", "empty": "", "download-url": "https://x/dl"},
            "steps": {"run": {"outputs": {"digest": "sha256:ab", "list": "[\"a\",\"b\"]"}}},
            "github": {"server_url": "https://github.com", "action_repository": "o/windlass"},
        }),
        success: true,
    }
}

#[test]
fn expressions_evaluate_as_the_runner_does() {
    let cases: &[(&str, Value)] = &[
        ("inputs.command", json!("check")),
        ("inputs.empty || 'fallback'", json!("fallback")),
        ("inputs.command && 'yes'", json!("yes")),
        ("inputs.command == 'CHECK'", json!(true)),
        ("inputs.command != 'check'", json!(false)),
        ("!inputs.empty", json!(true)),
        ("steps.run.outputs.digest", json!("sha256:ab")),
        ("steps.run.outputs.missing", Value::Null),
        ("steps.run.outputs['digest']", json!("sha256:ab")),
        ("inputs['download-url']", json!("https://x/dl")),
        (
            "format('{0}/{1}/{{x}}', github.server_url, 'a')",
            json!("https://github.com/a/{x}"),
        ),
        ("contains(inputs.command, 'HEC')", json!(true)),
        (
            "contains(fromJSON(steps.run.outputs.list), 'b')",
            json!(true),
        ),
        (
            "startsWith(inputs.command, 'ch') && endsWith(inputs.command, 'ck')",
            json!(true),
        ),
        ("fromJSON('{\"a\": [1, 2]}').a[1]", json!(2)),
        ("toJSON(fromJSON('[1]'))", json!("[\n  1\n]")),
        ("1 == '1'", json!(true)),
        ("null == 0", json!(true)),
        ("(false || 'x') == 'x'", json!(true)),
        (
            "success() && !failure() && always() && !cancelled()",
            json!(true),
        ),
        ("'it''s'", json!("it's")),
    ];
    for (text, expected) in cases {
        let value = expr::eval(text, &scope()).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(&value, expected, "{text}");
    }
}

#[test]
fn unsupported_expressions_are_errors_never_empty() {
    for text in [
        "nope.x",
        "join(inputs.command)",
        "inputs.command < 'z'",
        "inputs.",
        "'unterminated",
        "hashFiles('**')",
    ] {
        assert!(expr::eval(text, &scope()).is_err(), "{text}");
    }
    assert!(expr::interpolate("a ${{ github }} b", &scope()).is_err());
    assert!(expr::interpolate("a ${{ inputs.command", &scope()).is_err());
}

#[test]
fn interpolation_and_conditions() {
    let text = expr::interpolate(
        "${{ github.server_url }}/${{ github.action_repository }}/releases/download",
        &scope(),
    )
    .unwrap();
    assert_eq!(text, "https://github.com/o/windlass/releases/download");
    assert_eq!(
        expr::interpolate("'}}' ${{ '}}' }}", &scope()).unwrap(),
        "'}}' }}"
    );
    assert_eq!(expr::condition_text("${{ failure() }}"), " failure() ");
    assert!(expr::calls_status_function("failure() || x").unwrap());
    assert!(!expr::calls_status_function("inputs.x == 'a'").unwrap());
}

#[test]
fn file_commands_read_both_forms() {
    let text = "a=1\nempty=\nm<<EOF\nline 1\nx=y\nEOF\nz=a<<b\n\nh<<D\r\nwin\r\nD\r\n";
    let entries = parse_file_command(text, "GITHUB_OUTPUT").unwrap();
    let expected: BTreeMap<String, String> = [
        ("a", "1"),
        ("empty", ""),
        ("m", "line 1\nx=y"),
        ("z", "a<<b"),
        ("h", "win"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(entries, expected);
    for bad in ["novalue\n", "=x\n", "a<<EOF\nnever closed\n"] {
        assert!(parse_file_command(bad, "GITHUB_OUTPUT").is_err(), "{bad:?}");
    }
}

#[test]
fn workflow_commands_are_parsed_and_unescaped() {
    let command =
        parse_command("::error file=src/a.py,line=3,title=a%3Ab%2Cc::two%0Alines 100%25").unwrap();
    assert_eq!(command.name, "error");
    assert_eq!(command.properties["file"], "src/a.py");
    assert_eq!(command.properties["line"], "3");
    assert_eq!(command.properties["title"], "a:b,c");
    assert_eq!(command.message, "two\nlines 100%");
    assert!(parse_command("plain text").is_none());
}

const ACTION: &str = r###"name: harness test
description: every runner feature the harness implements
inputs:
  who:
    description: who
    default: ${{ github.repository }}
  fail:
    description: fail the second step
    default: "false"
  needed:
    description: required
    required: true
outputs:
  greeting:
    description: g
    value: ${{ steps.one.outputs.greeting }}
  multi:
    description: m
    value: ${{ steps.one.outputs.multi }}
  after:
    description: a
    value: ${{ steps.three.outputs.ran }}
runs:
  using: composite
  steps:
    - id: one
      shell: bash
      env:
        WHO: ${{ inputs.who }}
      run: |
        echo "greeting=hello $WHO" >> "$GITHUB_OUTPUT"
        printf 'multi<<EOF\nline1\nline2\nEOF\n' >> "$GITHUB_OUTPUT"
        echo "FROM_ONE=exported" >> "$GITHUB_ENV"
        mkdir -p "$RUNNER_TEMP/bin"
        printf '#!/bin/sh\necho tool-ran\n' > "$RUNNER_TEMP/bin/mytool"
        chmod +x "$RUNNER_TEMP/bin/mytool"
        echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
        echo "early s3cr3t-value"
        echo "::add-mask::s3cr3t-value"
        echo "now s3cr3t-value" >&2
        echo "::add-mask::other-value"
        echo "::warning file=a.txt,line=2::careful other-value"
        echo "## summary" >> "$GITHUB_STEP_SUMMARY"
    - id: two
      shell: bash
      working-directory: sub
      env:
        FAIL: ${{ inputs.fail }}
      run: |
        mytool
        echo "fail=${{ env.FAIL }}"
        echo "env=$FROM_ONE in ${PWD##*/}"
        if [ "$FAIL" = true ]; then exit 7; fi
    - id: three
      if: ${{ inputs.fail == 'false' }}
      shell: bash
      run: echo "ran=yes" >> "$GITHUB_OUTPUT"
    - id: four
      if: failure()
      shell: bash
      run: echo "cleanup after failure"
"###;

fn harness_action() -> (tempfile::TempDir, super::Action, super::Job) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("action");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("action.yml"), ACTION).unwrap();
    let action = super::Action::load(&dir).unwrap();
    let job = super::Job::new(&tmp.path().join("job")).unwrap();
    std::fs::create_dir_all(job.workspace().join("sub")).unwrap();
    (tmp, action, job)
}

#[test]
fn the_harness_runs_steps_as_the_runner_does() {
    use super::Outcome;
    let (_tmp, action, job) = harness_action();
    let run = action.run(&job, &[("needed", "x")]).unwrap();
    assert!(run.succeeded(), "{}", run.log);
    assert_eq!(run.outputs["greeting"], "hello example/project");
    assert_eq!(run.outputs["multi"], "line1\nline2");
    assert_eq!(run.outputs["after"], "yes");
    assert_eq!(run.env["FROM_ONE"], "exported");
    // $GITHUB_PATH reached the next step; $GITHUB_ENV too; the step ran in
    // its working-directory.
    assert!(
        run.log
            .contains("tool-ran\nfail=false\nenv=exported in sub\n"),
        "{}",
        run.log
    );
    // Masks apply to what comes after them, on both streams.
    assert!(run.log.contains("early s3cr3t-value\n"), "{}", run.log);
    assert!(run.log.contains("now ***\n"), "{}", run.log);
    assert!(!run.log.contains("::add-mask::"), "{}", run.log);
    let seen: Vec<(&str, bool)> = run
        .masks
        .iter()
        .map(|m| (m.value.as_str(), m.seen_before))
        .collect();
    assert_eq!(seen, [("s3cr3t-value", true), ("other-value", false)]);
    let warning = run.commands.iter().find(|c| c.name == "warning").unwrap();
    assert_eq!(warning.message, "careful ***");
    assert_eq!(warning.properties["line"], "2");
    assert_eq!(run.summary, "## summary\n");
    let outcomes: Vec<Outcome> = run.steps.iter().map(|s| s.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Success,
            Outcome::Success,
            Outcome::Success,
            Outcome::Skipped
        ]
    );
}

#[test]
fn a_failed_step_skips_the_rest_but_failure_steps() {
    use super::Outcome;
    let (_tmp, action, job) = harness_action();
    let run = action
        .run(&job, &[("needed", "x"), ("fail", "true")])
        .unwrap();
    assert!(!run.succeeded());
    assert_eq!(run.step("two").exit_code, Some(7));
    assert_eq!(run.step("three").outcome, Outcome::Skipped);
    assert_eq!(run.step("four").outcome, Outcome::Success);
    assert!(run.log.contains("cleanup after failure"), "{}", run.log);
    assert_eq!(run.outputs["after"], "");
}

#[test]
fn inputs_the_action_does_not_declare_or_require_are_errors() {
    let (_tmp, action, job) = harness_action();
    assert!(
        action.run(&job, &[]).is_err(),
        "a required input is missing"
    );
    assert!(
        action.run(&job, &[("needed", "x"), ("typo", "y")]).is_err(),
        "an undeclared input"
    );
}
