//! Property tests of the names, versions and requirements Windlass reads:
//! PEP 503 normalisation, PEP 440 versions through wheel and sdist file
//! names, wheel file name parsing, and PEP 508 requirements from
//! `[project]` through the native plan into core metadata.

#![allow(clippy::unwrap_used, reason = "test helpers panic on failed setup")]

use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr as _;

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use windlass_dist::metadata::ParsedMetadata;
use windlass_dist::name::{self, WheelFilename};
use windlass_dist::plan::{self, PlanError};
use windlass_dist::pyproject::PyProject;
use windlass_testkit::proptest_config;

/// PEP 503 as written: `re.sub(r"[-_.]+", "-", name).lower()`.
fn pep503(name: &str) -> String {
    let mut out = String::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if matches!(c, '-' | '_' | '.') {
            while chars.next_if(|c| matches!(c, '-' | '_' | '.')).is_some() {}
            out.push('-');
        } else {
            out.push(c);
        }
    }
    out.to_lowercase()
}

/// PEP 508 names: `^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$`, ignoring case.
fn pep508_name(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    name.starts_with(alnum)
        && name.ends_with(alnum)
        && name
            .chars()
            .all(|c| alnum(c) || matches!(c, '.' | '_' | '-'))
}

fn valid_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]([A-Za-z0-9._-]{0,12}[A-Za-z0-9])?"
}

/// Names, almost-names and other text: separators in runs, case, Unicode
/// (with letters whose lowercase is longer, or depends on the context).
fn name_like() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => valid_name(),
        2 => "[A-Za-z0-9._ -]{0,16}",
        1 => proptest::collection::vec(
            proptest::sample::select(vec![
                'a', 'Z', '0', '-', '_', '.', ' ', 'É', 'ß', 'İ', 'Σ', 'ς', 'K', '\u{212a}', 'ǅ',
            ]),
            0..12,
        )
        .prop_map(|chars| chars.into_iter().collect()),
        1 => any::<String>(),
    ]
}

/// PEP 440 versions in every spelling the specification accepts: `v`,
/// epochs, pre/post/dev releases with separators and synonyms, implicit
/// numbers, local labels, any case, surrounding whitespace, big numbers.
fn version_text() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        6 => (0u64..30).prop_map(|n| n.to_string()),
        1 => (0u64..u64::MAX).prop_map(|n| n.to_string()),
        1 => Just("000".to_owned()),
        1 => Just("18446744073709551616".to_owned()),
    ];
    let sep = || proptest::sample::select(vec!["", "", ".", "-", "_"]);
    let opt_number = || proptest::option::of((0u64..1000).prop_map(|n| n.to_string()));
    let pre = proptest::option::of((
        sep(),
        proptest::sample::select(vec!["a", "b", "c", "rc", "alpha", "beta", "pre", "preview"]),
        sep(),
        opt_number(),
    ));
    let post = proptest::option::of(prop_oneof![
        (0u64..100).prop_map(|n| format!("-{n}")),
        (
            sep(),
            proptest::sample::select(vec!["post", "rev", "r"]),
            sep(),
            opt_number()
        )
            .prop_map(|(a, word, b, n)| format!("{a}{word}{b}{}", n.unwrap_or_default())),
    ]);
    let dev = proptest::option::of((sep(), sep(), opt_number()));
    let local = proptest::option::of("[a-zA-Z0-9]{1,6}([-_.][a-zA-Z0-9]{1,6}){0,3}");
    (
        proptest::sample::select(vec!["", "", "", "v", "V", " ", "\t"]),
        proptest::option::of(0u64..5),
        proptest::collection::vec(number, 1..5),
        pre,
        post,
        dev,
        local,
        proptest::sample::select(vec!["", "", "", " ", "\n"]),
        any::<bool>(),
    )
        .prop_map(
            |(lead, epoch, release, pre, post, dev, local, trail, upper)| {
                let mut text = lead.to_owned();
                if let Some(epoch) = epoch {
                    let _ = write!(text, "{epoch}!");
                }
                text.push_str(&release.join("."));
                if let Some((a, word, b, n)) = pre {
                    let _ = write!(text, "{a}{word}{b}{}", n.unwrap_or_default());
                }
                if let Some(post) = post {
                    text.push_str(&post);
                }
                if let Some((a, b, n)) = dev {
                    let _ = write!(text, "{a}dev{b}{}", n.unwrap_or_default());
                }
                if let Some(local) = local {
                    let _ = write!(text, "+{local}");
                }
                text.push_str(trail);
                if upper { text.to_uppercase() } else { text }
            },
        )
}

fn any_version_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => version_text(),
        1 => "[0-9a-zA-Z.!+_ -]{0,20}",
        1 => any::<String>(),
    ]
}

/// A project tree the native plan accepts with the hatchling backend.
fn project_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src/demo")).unwrap();
    std::fs::write(dir.path().join("src/demo/__init__.py"), "").unwrap();
    dir
}

/// Plans the project with `[project]` fields from `project`, written as
/// TOML by a serializer so any string is a valid TOML string.
fn plan_with(
    root: &Path,
    project: toml::Table,
) -> Result<Result<plan::NativePlan, plan::Unsupported>, PlanError> {
    let mut doc = toml::Table::new();
    let mut build_system = toml::Table::new();
    build_system.insert("requires".into(), vec!["hatchling"].into());
    build_system.insert("build-backend".into(), "hatchling.build".into());
    doc.insert("build-system".into(), build_system.into());
    let mut fields = toml::Table::new();
    fields.insert("name".into(), "demo".into());
    fields.insert("version".into(), "1.0".into());
    fields.extend(project);
    doc.insert("project".into(), fields.into());
    let text = toml::to_string(&doc).unwrap();
    let path = root.join("pyproject.toml");
    // The plan packages pyproject.toml, so it must exist as a regular file.
    std::fs::write(&path, &text).unwrap();
    let pyproject = PyProject::parse(&text, &path).unwrap();
    plan::plan(root, &pyproject)
}

/// Requirement-like text: names, extras, specifiers, URLs with `;` and
/// `#`, markers whose strings hold `;`, quotes, line breaks and other
/// characters, all with assorted whitespace.
fn requirement_text() -> impl Strategy<Value = String> {
    let ws = || proptest::sample::select(vec!["", " ", " ", "  ", "\t", "\n", "\r", "\u{a0}"]);
    let extras = proptest::sample::select(vec!["", "", "[test]", "[a,b]", "[ x ]", "[]"]);
    let spec = proptest::sample::select(vec![
        "",
        "",
        ">=1.0",
        "==2.*",
        "~=1.2,<2",
        "(>=1)",
        "!=1.0.post1",
        "===weird",
        ">=1,",
    ]);
    let url = proptest::sample::select(vec![
        "https://example.org/p/demo-1.0.tar.gz",
        "https://example.org/p/a;b/demo-1.0-py3-none-any.whl",
        "https://example.org/p/demo.whl#sha256=abcd;x",
        "git+https://example.org/r.git@v1;x",
    ]);
    let version_or_url = prop_oneof![
        3 => spec.prop_map(str::to_owned),
        1 => (ws(), url).prop_map(|(ws, url)| format!("@ {ws}{url}")),
    ];
    let value = proptest::collection::vec(
        proptest::sample::select(vec![
            'x', '8', '6', '_', ';', '\'', '"', ' ', '\n', '\r', '\u{b}', '\u{c}', '\u{85}',
            '\u{2028}', '#', '(', ')', 'é',
        ]),
        0..8,
    )
    .prop_map(|chars| chars.into_iter().collect::<String>());
    let atom = prop_oneof![
        (
            proptest::sample::select(vec!["python_version", "python_full_version"]),
            proptest::sample::select(vec![">", ">=", "<", "==", "!=", "~="]),
            proptest::sample::select(vec!["3", "3.9", "3.12.1", "2.7"]),
        )
            .prop_map(|(var, op, v)| format!("{var} {op} '{v}'")),
        (
            proptest::sample::select(vec![
                "platform_machine",
                "sys_platform",
                "implementation_name"
            ]),
            proptest::sample::select(vec!["==", "!=", "in", "not in"]),
            value,
        )
            .prop_map(|(var, op, value)| {
                if value.contains('\'') {
                    format!("{var} {op} \"{}\"", value.replace('"', ""))
                } else {
                    format!("{var} {op} '{value}'")
                }
            }),
        proptest::sample::select(vec!["extra == 'feat'", "extra != \"b\""]).prop_map(str::to_owned),
    ];
    let marker = proptest::option::of(
        proptest::collection::vec(atom, 1..3).prop_map(|atoms| atoms.join(" and ")),
    );
    (
        ws(),
        valid_name(),
        ws(),
        extras,
        ws(),
        version_or_url,
        ws(),
        marker,
        ws(),
    )
        .prop_map(|(a, name, b, extras, c, vu, d, marker, e)| {
            let marker = marker.map(|m| format!(" ;{d}{m}")).unwrap_or_default();
            format!("{a}{name}{b}{extras}{c}{vu}{marker}{e}")
        })
}

proptest! {
    #![proptest_config(proptest_config())]

    /// `normalize` is PEP 503's formula and is idempotent; the file name
    /// component is normalised, idempotent and free of `-`.
    #[test]
    fn normalize_is_pep503(name in name_like()) {
        let normalized = name::normalize(&name);
        prop_assert_eq!(&normalized, &pep503(&name));
        prop_assert_eq!(name::normalize(&normalized), normalized.clone());
        let component = name::file_name_component(&name);
        prop_assert_eq!(name::file_name_component(&component), component.clone());
        prop_assert_eq!(component, normalized.replace('-', "_"));
    }

    /// `is_valid_name` is PEP 508's name pattern.
    #[test]
    fn valid_names_are_pep508(name in name_like()) {
        prop_assert_eq!(name::is_valid_name(&name), pep508_name(&name), "{:?}", name);
    }

    /// Any text: parsing never panics, and a version that parses renders
    /// to its normal form, which parses to the same version and renders
    /// the same again.
    #[test]
    fn versions_round_trip(text in any_version_text()) {
        if let Ok(version) = text.parse::<pep440_rs::Version>() {
            let normal = version.to_string();
            let again = normal.parse::<pep440_rs::Version>();
            prop_assert_eq!(again.as_ref(), Ok(&version), "{:?} -> {:?}", text, normal);
            prop_assert_eq!(again.map(|v| v.to_string()).ok(), Some(normal));
        }
    }

    /// Every spelling PEP 440 allows is accepted.
    #[test]
    fn pep440_spellings_parse(text in version_text()) {
        let huge = text.contains("18446744073709551616");
        let parsed = text.parse::<pep440_rs::Version>();
        prop_assert!(parsed.is_ok() || huge, "{:?}: {:?}", text, parsed.err());
    }

    /// A valid name and any version that parses make wheel and sdist file
    /// names that parse back to the same name and the same version.
    #[test]
    fn file_names_round_trip(name in valid_name(), text in version_text()) {
        let Ok(version) = text.parse::<pep440_rs::Version>() else {
            return Ok(());
        };
        let normal = version.to_string();
        let wheel = WheelFilename::pure(&name, &normal).to_string();
        let parsed = WheelFilename::parse(&wheel);
        prop_assert!(parsed.is_ok(), "{wheel}: {parsed:?}");
        let parsed = parsed.unwrap();
        prop_assert_eq!(&parsed.name, &name::file_name_component(&name));
        prop_assert_eq!(parsed.version.replace('_', "-").parse::<pep440_rs::Version>(), Ok(version.clone()));
        prop_assert_eq!(WheelFilename::parse(&parsed.to_string()), Ok(parsed));

        let sdist = name::sdist_filename(&name, &normal);
        let stem = sdist.strip_suffix(".tar.gz").unwrap();
        let (sdist_name, sdist_version) = stem.split_once('-').unwrap();
        prop_assert_eq!(sdist_name, name::file_name_component(&name));
        prop_assert_eq!(sdist_version.parse::<pep440_rs::Version>(), Ok(version));
    }

    /// Wheel file name parsing never panics, and what parses renders back
    /// to the same text.
    #[test]
    fn wheel_file_names_round_trip(
        parts in proptest::collection::vec(
            prop_oneof![
                valid_name(),
                version_text(),
                "[0-9][A-Za-z0-9_]{0,4}",
                proptest::sample::select(vec!["py3", "cp312.cp313", "none", "abi3", "any", "manylinux_2_17_x86_64.manylinux2014_x86_64", ""]).prop_map(str::to_owned),
                any::<String>(),
            ],
            0..8,
        ),
        ext in proptest::sample::select(vec![".whl", ".whl", ".WHL", ".tar.gz", ""]),
    ) {
        let text = format!("{}{ext}", parts.join("-"));
        if let Ok(parsed) = WheelFilename::parse(&text) {
            prop_assert_eq!(parsed.to_string(), text);
        }
    }
}

/// A requirement Windlass accepts in `project.dependencies` and
/// `project.optional-dependencies` reaches `METADATA` as one
/// `Requires-Dist` line each that means the same (plus `extra == ...` for
/// the optional one); what it refuses is a field error. One project tree
/// serves every case.
#[test]
fn requirements_reach_metadata_unchanged() {
    let root = project_dir();
    let mut runner = TestRunner::new(proptest_config());
    let result = runner.run(&requirement_text(), |dep| {
        let mut optional = toml::Table::new();
        optional.insert("feat".into(), vec![dep.clone()].into());
        let mut project = toml::Table::new();
        project.insert("dependencies".into(), vec![dep.clone()].into());
        project.insert("optional-dependencies".into(), optional.into());
        let planned = plan_with(root.path(), project);
        let metadata = match planned {
            Ok(Ok(plan)) => plan.metadata,
            Ok(Err(unsupported)) => {
                return Err(TestCaseError::fail(format!(
                    "{dep:?}: unsupported: {unsupported}"
                )));
            }
            Err(PlanError::Field { field, .. }) => {
                prop_assert!(
                    field.starts_with("project.dependencies")
                        || field.starts_with("project.optional-dependencies"),
                    "{field}"
                );
                return Ok(());
            }
            Err(other) => return Err(TestCaseError::fail(format!("{dep:?}: {other}"))),
        };
        let original = pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(&dep);
        prop_assert!(original.is_ok(), "accepted {dep:?}, which is not PEP 508");
        let original = original.unwrap();
        let rendered = metadata.render();
        let header = rendered.split("\n\n").next().unwrap_or_default();
        // Python's email parser also breaks lines at a lone `\r`.
        prop_assert!(!header.contains('\r'), "{rendered:?}");
        let parsed = ParsedMetadata::parse(&rendered);
        let lines: Vec<&str> = parsed.get_all("Requires-Dist").collect();
        prop_assert_eq!(lines.len(), 2, "{:?}", rendered);
        // One line, separated the way Python's `packaging` reads it.
        for line in &lines {
            prop_assert!(
                !line
                    .chars()
                    .any(|c| (c.is_control() || c.is_whitespace()) && c != ' ' && c != '\t'),
                "{line:?}"
            );
        }
        let feat = pep508_rs::ExtraName::from_str("feat").unwrap();
        let expected = [original.clone(), original.with_extra_marker(&feat)];
        for (line, expected) in lines.iter().zip(expected) {
            let got = pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(line);
            prop_assert!(
                got.is_ok(),
                "{dep:?} became {line:?}: {:?}",
                got.err().map(|e| e.message.to_string())
            );
            let got = got.unwrap();
            prop_assert_eq!(&got.name, &expected.name);
            prop_assert_eq!(&got.extras, &expected.extras);
            prop_assert_eq!(
                got.version_or_url.as_ref().map(ToString::to_string),
                expected.version_or_url.as_ref().map(ToString::to_string),
                "{:?} became {:?}",
                dep,
                line
            );
            prop_assert_eq!(&got.marker, &expected.marker, "{:?} became {:?}", dep, line);
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
