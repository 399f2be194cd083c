//! JUnit XML as pytest writes it (`--junitxml`, `-o junit_family=xunit1`).

use std::path::Path;

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};

use super::{MAX_POSITION, ParseError, relative_path};
use crate::model::{Location, TestCase, TestOutcome};

const TOOL: &str = "pytest (JUnit XML)";

/// Test cases from a JUnit XML report: every `<testcase>` at any depth,
/// with its `<failure>`, `<error>` or `<skipped>` (message attribute and
/// text). pytest's xunit1 `file` and `line` give the location; its line is
/// 0-based and is shifted to 1-based. A DTD, an undefined entity, a
/// document that is not XML or holds no `<testsuite>`/`<testsuites>` root
/// is a [`ParseError`].
pub fn junit(xml: &[u8], root: &Path) -> Result<Vec<TestCase>, ParseError> {
    let xml =
        std::str::from_utf8(xml).map_err(|e| ParseError::new(TOOL, format!("not UTF-8: {e}")))?;
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut cases = Vec::new();
    let mut current: Option<TestCase> = None;
    // The outcome element being read (`failure`, `error`, `skipped`, or
    // `system-out`/`system-err` and others whose text is dropped).
    let mut outcome: Option<(String, String, String)> = None;
    let mut root_seen = false;
    loop {
        let event = reader.read_event().map_err(|e| {
            ParseError::new(
                TOOL,
                format!("not XML at byte {}: {e}", reader.buffer_position()),
            )
        })?;
        match event {
            Event::DocType(_) => {
                return Err(ParseError::new(TOOL, "a DTD (<!DOCTYPE>) is not accepted"));
            }
            Event::Start(e) | Event::Empty(e) if !root_seen => {
                check_root(&e)?;
                root_seen = true;
            }
            Event::Start(e) => match e.local_name().as_ref() {
                "testcase" => current = Some(test_case(&e, root)?),
                name if current.is_some() => {
                    let message = attribute(&e, "message")?.unwrap_or_default();
                    outcome = Some((name.to_owned(), message, String::new()));
                }
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "testcase" => cases.push(test_case(&e, root)?),
                name => {
                    if let Some(case) = current.as_mut() {
                        let message = attribute(&e, "message")?.unwrap_or_default();
                        apply(case, name, message, "");
                    }
                }
            },
            Event::Text(t) => {
                if let Some((_, _, text)) = outcome.as_mut() {
                    text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some((_, _, text)) = outcome.as_mut() {
                    text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = resolve_reference(&r)?;
                if let Some((_, _, text)) = outcome.as_mut() {
                    text.push_str(&resolved);
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                "testcase" => {
                    if let Some(case) = current.take() {
                        cases.push(case);
                    }
                }
                name => {
                    if let (Some(case), Some((kind, message, text))) =
                        (current.as_mut(), outcome.take())
                        && kind == name
                    {
                        apply(case, name, message, &text);
                    }
                }
            },
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err(ParseError::new(
            TOOL,
            "no <testsuites> or <testsuite> element (empty output?)",
        ));
    }
    if current.is_some() {
        return Err(ParseError::new(
            TOOL,
            "the document ends inside a <testcase> (truncated?)",
        ));
    }
    Ok(cases)
}

/// The character a reference stands for: a character reference or one of
/// XML's five predefined entities; any other entity is refused.
fn resolve_reference(r: &BytesRef<'_>) -> Result<String, ParseError> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => Ok(c.to_string()),
        Ok(None) => resolve_predefined_entity(r)
            .map(str::to_owned)
            .ok_or_else(|| {
                ParseError::new(TOOL, format!("the entity `&{};` is not defined", &**r))
            }),
        Err(e) => Err(ParseError::new(
            TOOL,
            format!("bad character reference: {e}"),
        )),
    }
}

fn check_root(e: &BytesStart<'_>) -> Result<(), ParseError> {
    let name = e.local_name();
    if matches!(name.as_ref(), "testsuites" | "testsuite") {
        Ok(())
    } else {
        Err(ParseError::new(
            TOOL,
            format!(
                "the root element is <{}>, not <testsuites> or <testsuite>",
                name.as_ref()
            ),
        ))
    }
}

/// Records an outcome element on its test case; a failure or error wins
/// over a skip, and the first failure or error wins over later ones.
fn apply(case: &mut TestCase, element: &str, message: String, details: &str) {
    let details = details.trim_end().to_owned();
    let new = match element {
        "failure" => TestOutcome::Failed { message, details },
        "error" => TestOutcome::Error { message, details },
        "skipped" => TestOutcome::Skipped {
            message: if message.is_empty() { details } else { message },
        },
        _ => return,
    };
    let replace = matches!(
        (&case.outcome, &new),
        (TestOutcome::Passed, _)
            | (
                TestOutcome::Skipped { .. },
                TestOutcome::Failed { .. } | TestOutcome::Error { .. }
            )
    );
    if replace {
        case.outcome = new;
    }
}

fn test_case(e: &BytesStart<'_>, root: &Path) -> Result<TestCase, ParseError> {
    let name = attribute(e, "name")?
        .ok_or_else(|| ParseError::new(TOOL, "a <testcase> without a name"))?;
    let classname = attribute(e, "classname")?.unwrap_or_default();
    let time = match attribute(e, "time")? {
        Some(t) => t
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|t| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| {
                ParseError::new(TOOL, format!("test `{name}`: time `{t}` is not a duration"))
            })?,
        None => 0.0,
    };
    let location = match attribute(e, "file")? {
        Some(file) if !file.is_empty() => {
            let line = match attribute(e, "line")? {
                Some(l) => {
                    let zero_based: u64 = l
                        .trim()
                        .parse()
                        .ok()
                        .filter(|l| *l < MAX_POSITION)
                        .ok_or_else(|| {
                            ParseError::new(
                                TOOL,
                                format!("test `{name}`: line `{l}` is not a line number"),
                            )
                        })?;
                    u32::try_from(zero_based + 1).ok()
                }
                None => None,
            };
            Some(Location {
                path: relative_path(&file, root),
                line,
                column: None,
                end_line: None,
                end_column: None,
            })
        }
        _ => None,
    };
    Ok(TestCase {
        classname,
        name,
        location,
        time,
        outcome: TestOutcome::Passed,
    })
}

fn attribute(e: &BytesStart<'_>, key: &str) -> Result<Option<String>, ParseError> {
    for attr in e.attributes() {
        let attr = attr.map_err(|err| ParseError::new(TOOL, format!("bad attribute: {err}")))?;
        if attr.key.as_ref() == key {
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| ParseError::new(TOOL, format!("attribute `{key}`: {err}")))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}
