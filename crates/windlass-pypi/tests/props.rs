//! Property tests of the simple API parsers: no page panics them, and a
//! generated PEP 503 HTML or PEP 691 JSON page (any file names, hashes,
//! attributes, entities, quoting, relative and absolute links) parses to
//! exactly the files it lists, with the SHA-256 of each.

#![allow(clippy::unwrap_used, reason = "test helpers panic on failed setup")]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use proptest::prelude::*;
use url::Url;
use windlass_pypi::simple::{parse_html, parse_json};
use windlass_testkit::proptest_config;

const BASE: &str = "https://index.example.org/simple/demo/";

/// One file of a generated page.
#[derive(Debug, Clone)]
struct File {
    name: String,
    /// The SHA-256 as the index writes it (any case), if it gives one.
    sha256: Option<String>,
    /// Another hash the index gives instead (`md5`), ignored.
    other_hash: Option<String>,
}

/// File names: what dists are called, with the characters an index may
/// have to escape (`+`, `!`, `%`, `&`, `#`, `?`, quotes, `<`, `>`, spaces,
/// `\`, non-ASCII).
fn file_name() -> impl Strategy<Value = String> {
    let odd = proptest::sample::select(vec![
        '+', '!', '%', '&', '#', '?', '"', '\'', '<', '>', ' ', '=', ';', '\\', 'é', '日', '~',
    ]);
    let stem = proptest::collection::vec(
        prop_oneof![
            6 => proptest::char::ranges(vec!['a'..='z', 'A'..='Z', '0'..='9'].into()),
            2 => proptest::sample::select(vec!['_', '.']),
            1 => odd,
        ],
        1..16,
    )
    .prop_map(|chars| chars.into_iter().collect::<String>());
    let ext = proptest::sample::select(vec![
        "-py3-none-any.whl",
        "-cp312-cp312-manylinux_2_17_x86_64.whl",
        ".tar.gz",
        ".zip",
    ]);
    (
        stem,
        "[0-9]{1,3}(\\.[0-9]{1,3}){0,2}(\\+[a-z0-9.]{1,6})?",
        ext,
    )
        .prop_map(|(stem, version, ext)| format!("{stem}-{version}{ext}"))
}

fn files() -> impl Strategy<Value = Vec<File>> {
    let hash = || "[0-9a-fA-F]{64}";
    proptest::collection::btree_map(
        file_name(),
        (
            proptest::option::weighted(0.8, hash()),
            proptest::option::weighted(0.2, "[0-9a-f]{32}"),
        ),
        0..6,
    )
    .prop_map(|map| {
        map.into_iter()
            .map(|(name, (sha256, other_hash))| File {
                name,
                sha256,
                other_hash,
            })
            .collect()
    })
}

/// What the page lists: file name → lowercase SHA-256.
fn expected(files: &[File]) -> BTreeMap<String, Option<String>> {
    files
        .iter()
        .map(|f| (f.name.clone(), f.sha256.as_ref().map(|h| h.to_lowercase())))
        .collect()
}

/// How one link is written.
#[derive(Debug, Clone)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent choices of a generated link"
)]
struct Style {
    /// 0: relative to the page (`../../packages/`), 1: from the root
    /// (`/packages/`), 2: absolute on another host, 3: next to the page
    /// (`./`), 4: bare file name.
    location: u8,
    /// Percent-encode every character that is not a letter or digit.
    encode_all: bool,
    /// 0: `"`, 1: `'`, 2: unquoted (when the value allows it).
    quote: u8,
    /// 0: `&amp;`, 1: `&#38;`, 2: `&#x26;`, 3: `&AMP;`.
    amp: u8,
    /// Write `<` and `>` as entities rather than raw.
    escape_angles: bool,
    /// Write every other character of the value as a numeric reference.
    numeric: bool,
    /// `<A HREF=...>` rather than `<a href=...>`.
    upper: bool,
    /// Space around `=`.
    spaced: bool,
    /// Other attributes before and after `href`.
    before: Vec<&'static str>,
    after: Vec<&'static str>,
}

fn attributes() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::collection::vec(
        proptest::sample::select(vec![
            "data-requires-python=\"&gt;=3.9\"",
            "data-requires-python=\">=3.9,<4\"",
            "data-requires-python='>3'",
            "data-yanked",
            "data-yanked=\"\"",
            "data-yanked=\"broken > use 1.1\"",
            "data-yanked='say \"no\" <a href=\"x\">'",
            "data-dist-info-metadata=\"sha256=00ff\"",
            "data-core-metadata=true",
            "class=file",
            "title='see href=elsewhere.whl'",
            "rel=\"internal\"",
            "data-href=\"decoy.whl\"",
        ]),
        0..3,
    )
}

fn style() -> impl Strategy<Value = Style> {
    (
        (0u8..5, any::<bool>(), 0u8..3, 0u8..4),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        attributes(),
        attributes(),
    )
        .prop_map(
            |(
                (location, encode_all, quote, amp),
                (escape_angles, numeric, upper, spaced),
                before,
                after,
            )| Style {
                location,
                encode_all,
                quote,
                amp,
                escape_angles,
                numeric,
                upper,
                spaced,
                before,
                after,
            },
        )
}

/// Characters a path segment must escape, and the ones an index may.
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'?')
    .add(b'/')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'^')
    .add(b'|');

const ALL: &AsciiSet = percent_encoding::NON_ALPHANUMERIC;

/// The text of an attribute value, with HTML character references.
fn escape_attribute(value: &str, style: &Style) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        match c {
            '&' => out.push_str(["&amp;", "&#38;", "&#x26;", "&AMP;"][usize::from(style.amp)]),
            '"' if style.quote == 0 => out.push_str("&quot;"),
            '\'' if style.quote == 1 => out.push_str("&#39;"),
            '<' if style.escape_angles => out.push_str("&lt;"),
            '>' if style.escape_angles => out.push_str("&gt;"),
            c if style.numeric && i % 2 == 1 => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

fn href(file: &File, style: &Style) -> String {
    let set = if style.encode_all { ALL } else { PATH };
    let name = utf8_percent_encode(&file.name, set).to_string();
    let mut href = match style.location {
        0 => format!("../../packages/ab/cd/{name}"),
        1 => format!("/packages/{name}"),
        2 => format!("https://files.example.net/p/{name}"),
        3 => format!("./{name}"),
        _ => name,
    };
    if let Some(sha256) = &file.sha256 {
        let _ = write!(href, "#sha256={sha256}");
    } else if let Some(md5) = &file.other_hash {
        let _ = write!(href, "#md5={md5}");
    }
    href
}

fn anchor(file: &File, style: &Style) -> String {
    let value = escape_attribute(&href(file, style), style);
    let unquotable = value.is_empty()
        || value
            .chars()
            .any(|c| c.is_ascii_whitespace() || "\"'=<>`".contains(c));
    let quoted = match style.quote {
        0 => format!("\"{value}\""),
        1 => format!("'{value}'"),
        _ if unquotable => format!("\"{}\"", value.replace('"', "&quot;")),
        _ => value,
    };
    let (tag, attr, eq) = match (style.upper, style.spaced) {
        (true, true) => ("A", "HREF", " = "),
        (true, false) => ("A", "HREF", "="),
        (false, true) => ("a", "href", " =\n"),
        (false, false) => ("a", "href", "="),
    };
    let mut out = format!("<{tag}");
    for a in &style.before {
        let _ = write!(out, " {a}");
    }
    let _ = write!(out, " {attr}{eq}{quoted}");
    for a in &style.after {
        let _ = write!(out, " {a}");
    }
    let text = file
        .name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let _ = write!(out, ">{text}</{tag}>");
    out
}

/// Markup that holds no link, between the links.
fn filler() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "<br/>\n",
        "\n",
        "<br>",
        " 1 < 2 ",
        "<!-- <a href=\"commented-out-1.0.tar.gz\"> -->",
        "<script>var s = \"<a href='scripted-1.0.tar.gz'>\";</script>",
        "<abbr title=\"x\">y</abbr>",
        "<area href=\"area-1.0.tar.gz\">",
        "<a name=\"anchor-without-href\">",
        "<p class='x>y'>",
    ])
}

fn html_page() -> impl Strategy<Value = (Vec<File>, String)> {
    files()
        .prop_flat_map(|files| {
            let n = files.len();
            (
                Just(files),
                proptest::collection::vec(style(), n),
                proptest::collection::vec(filler(), n + 1),
            )
        })
        .prop_map(|(files, styles, fillers)| {
            let mut page = String::from(
                "<!DOCTYPE html>\n<html>\n  <head>\n    \
                 <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
                 <title>Links for demo</title>\n  </head>\n  <body>\n    \
                 <h1>Links for demo</h1>\n",
            );
            page.push_str(fillers[0]);
            for ((file, style), filler) in files.iter().zip(&styles).zip(&fillers[1..]) {
                page.push_str(&anchor(file, style));
                page.push_str(filler);
            }
            page.push_str("  </body>\n</html>\n");
            (files, page)
        })
}

/// A JSON string, every character escaped as `\uXXXX` when `escape`.
fn json_string(text: &str, escape: bool) -> String {
    if !escape {
        return serde_json::Value::String(text.to_owned()).to_string();
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            let _ = write!(out, "\\u{unit:04x}");
        }
    }
    out.push('"');
    out
}

fn json_page() -> impl Strategy<Value = (Vec<File>, String)> {
    (files(), any::<bool>(), any::<bool>()).prop_map(|(files, escape, extra)| {
        let mut entries = Vec::new();
        for file in &files {
            let mut hashes = Vec::new();
            if let Some(sha256) = &file.sha256 {
                hashes.push(format!("\"sha256\": \"{sha256}\""));
            }
            if let Some(md5) = &file.other_hash {
                hashes.push(format!("\"md5\": \"{md5}\""));
            }
            let mut entry = format!(
                "{{\"filename\": {}, \"url\": {}, \"hashes\": {{{}}}",
                json_string(&file.name, escape),
                json_string(&format!("../../packages/{}", file.name), escape),
                hashes.join(", ")
            );
            if extra {
                entry.push_str(
                    ", \"requires-python\": \">=3.9\", \"yanked\": \"broken\", \
                     \"core-metadata\": {\"sha256\": \"00\"}, \"size\": 12, \
                     \"upload-time\": \"2025-01-01T00:00:00Z\"",
                );
            }
            entry.push('}');
            entries.push(entry);
        }
        let page = format!(
            "{{\"meta\": {{\"api-version\": \"1.1\"}}, \"name\": \"demo\", \
             \"versions\": [\"1.0\"], \"files\": [{}]}}",
            entries.join(",\n")
        );
        (files, page)
    })
}

proptest! {
    #![proptest_config(proptest_config())]

    /// No text panics the HTML parser; every file it reports has a name.
    #[test]
    fn html_never_panics(body in prop_oneof![
        any::<String>(),
        "(<a|<A|href|HREF|=|\"|'|>|<!--|-->|&amp;|&#|x;|#sha256=|/| |\\.\\./|[a-z0-9]){0,40}",
    ]) {
        let base = Url::parse(BASE).unwrap();
        let files = parse_html(&body, &base).files;
        prop_assert!(files.keys().all(|name| !name.is_empty()));
    }

    /// No bytes panic the JSON parser.
    #[test]
    fn json_never_panics(body in prop_oneof![
        any::<Vec<u8>>(),
        "(\\{|\\}|\\[|\\]|\"files\"|\"filename\"|\"hashes\"|\"sha256\"|:|,|\"x\"|null|1){0,30}"
            .prop_map(String::into_bytes),
    ]) {
        let _ = parse_json(&body);
    }

    /// A generated PEP 503 page lists exactly its files, each with the
    /// SHA-256 of its `#sha256=` fragment (lowercase), or none.
    #[test]
    fn html_pages_list_their_files((files, page) in html_page()) {
        let base = Url::parse(BASE).unwrap();
        let parsed = parse_html(&page, &base);
        prop_assert_eq!(parsed.files, expected(&files), "{}", page);
    }

    /// A generated PEP 691 page lists exactly its files, each with its
    /// SHA-256 (lowercase), or none.
    #[test]
    fn json_pages_list_their_files((files, page) in json_page()) {
        let parsed = parse_json(page.as_bytes());
        prop_assert!(parsed.is_ok(), "{page}: {parsed:?}");
        prop_assert_eq!(parsed.unwrap().files, expected(&files), "{}", page);
    }
}
