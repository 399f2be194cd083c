//! Every form a secret can take in output.
//!
//! The encoders here are our own rather than library calls because tools
//! disagree on details that a library picks for us: the case of hex digits
//! in `%XX` and `\uXXXX`, which punctuation stays unescaped, whether `/` is
//! escaped in JSON. Each variant another tool produces is a pattern.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// Encoded forms shorter than this are not matched on their own: a two
/// character base64 fragment would mask unrelated text everywhere. The plain
/// value is always matched, however short.
pub(super) const MIN_ENCODED_LEN: usize = 4;

/// The patterns of one secret.
#[derive(Default)]
pub(super) struct Forms {
    /// Matched anywhere in the output.
    pub(super) plain: Vec<Vec<u8>>,
    /// Base64 and hex forms, also matched across the line breaks of wrapped
    /// output (`base64`, `openssl base64`, PEM, MIME, `xxd -p`).
    pub(super) wrapped: Vec<Vec<u8>>,
}

/// What is registered for `secret`.
///
/// A multi-line value is matched as a whole with LF, CRLF and CR line
/// endings, in every encoding; each line of at least [`MIN_ENCODED_LEN`]
/// bytes on its own (tools print values line by line, and GitHub masks that
/// way), also encoded; a shorter non-empty line only together with the line
/// break and its non-empty neighbouring line, as printed. A line of one to
/// three bytes printed alone stays visible: it holds next to nothing of the
/// secret, and masking every `}`, `ok` or `==` in the output would make it
/// unreadable.
pub(super) fn of(secret: &str) -> Forms {
    let mut forms = Forms::default();
    add_encoded(&mut forms, secret);
    if !secret.contains(['\n', '\r']) {
        return forms;
    }
    let lines = split_lines(secret);
    let mut wholes = vec![secret.to_owned()];
    for eol in EOLS {
        let whole = lines.join(eol);
        if !wholes.contains(&whole) {
            add_encoded(&mut forms, &whole);
            wholes.push(whole);
        }
    }
    if lines.len() == 1 {
        // A single line with a line break after it: the line is a whole.
        return forms;
    }
    for (i, line) in lines.iter().enumerate() {
        if line.len() >= MIN_ENCODED_LEN {
            add_encoded(&mut forms, line);
        } else if !line.is_empty() {
            let before = i.checked_sub(1).and_then(|j| lines.get(j));
            let after = lines.get(i + 1);
            for (first, second) in [(before, Some(line)), (Some(line), after)] {
                let (Some(first), Some(second)) = (first, second) else {
                    continue;
                };
                if first.is_empty() || second.is_empty() {
                    continue;
                }
                for eol in EOLS {
                    let pair = format!("{first}{eol}{second}");
                    if pair.len() >= MIN_ENCODED_LEN {
                        forms.plain.push(pair.into_bytes());
                    }
                }
            }
        }
    }
    forms
}

const EOLS: [&str; 3] = ["\n", "\r\n", "\r"];

/// The lines of `value`, split at LF, CRLF or CR; a final line break ends
/// the last line rather than starting an empty one.
fn split_lines(value: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = value;
    while let Some(i) = rest.find(['\n', '\r']) {
        lines.push(&rest[..i]);
        let eol = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[i + eol..];
    }
    if !rest.is_empty() || lines.is_empty() {
        lines.push(rest);
    }
    lines
}

/// Adds `value` itself and its encoded forms.
fn add_encoded(forms: &mut Forms, value: &str) {
    let bytes = value.as_bytes();
    forms.plain.push(bytes.to_vec());
    let mut add = |form: Vec<u8>, wrapped: bool| {
        if form.len() >= MIN_ENCODED_LEN && form != bytes {
            if wrapped {
                forms.wrapped.push(form.clone());
            }
            forms.plain.push(form);
        }
    };
    for style in JsonStyle::ALL {
        for upper in [false, true] {
            add(json(value, style, upper).into_bytes(), false);
        }
    }
    for style in PercentStyle::ALL {
        for upper in [false, true] {
            add(percent(bytes, style, upper).into_bytes(), false);
        }
    }
    let hex = hex::encode(bytes);
    add(hex.to_ascii_uppercase().into_bytes(), true);
    add(hex.into_bytes(), true);
    // Base64 at the three alignments a value can have inside a larger
    // encoded blob (`user:token` in a Basic header, a token inside JSON):
    // keep only the characters that depend on the value alone.
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3usize {
            let mut input = vec![0u8; offset];
            input.extend_from_slice(bytes);
            let encoded = engine.encode(&input);
            let start = (offset * 8).div_ceil(6);
            let end = input.len() * 8 / 6;
            if let Some(form) = encoded.as_bytes().get(start..end) {
                add(form.to_vec(), true);
            }
        }
    }
}

/// How a JSON encoder writes a string (without the quotes).
#[derive(Clone, Copy)]
struct JsonStyle {
    /// Everything outside printable ASCII as `\uXXXX`, with surrogate pairs
    /// beyond the BMP (Python's `ensure_ascii`, PHP).
    ascii: bool,
    /// `&`, `<`, `>`, U+2028 and U+2029 as `\uXXXX` (Go's `encoding/json`).
    html: bool,
    /// `/` as `\/` (PHP, some Java encoders).
    slash: bool,
}

impl JsonStyle {
    const ALL: [Self; 8] = {
        let mut all = [Self {
            ascii: false,
            html: false,
            slash: false,
        }; 8];
        let mut i = 0;
        while i < 8 {
            all[i] = Self {
                ascii: i & 1 != 0,
                html: i & 2 != 0,
                slash: i & 4 != 0,
            };
            i += 1;
        }
        all
    };
}

/// `value` JSON-escaped in `style`, with upper- or lower-case hex digits in
/// `\uXXXX`.
fn json(value: &str, style: JsonStyle, upper: bool) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '/' if style.slash => out.push_str("\\/"),
            '&' | '<' | '>' | '\u{2028}' | '\u{2029}' if style.html => {
                push_unicode_escape(&mut out, c, upper);
            }
            c if c < ' ' || (style.ascii && c > '~') => {
                push_unicode_escape(&mut out, c, upper);
            }
            c => out.push(c),
        }
    }
    out
}

/// `\uXXXX`, twice (a surrogate pair) beyond the BMP.
fn push_unicode_escape(out: &mut String, c: char, upper: bool) {
    let mut units = [0u16; 2];
    for unit in c.encode_utf16(&mut units) {
        let escape = if upper {
            format!("\\u{unit:04X}")
        } else {
            format!("\\u{unit:04x}")
        };
        out.push_str(&escape);
    }
}

/// Which bytes a percent-encoder leaves as they are, beyond ASCII letters
/// and digits, and what it does with a space.
#[derive(Clone, Copy)]
struct PercentStyle {
    keep: &'static [u8],
    /// A space as `+` (form encoding).
    plus: bool,
    /// Letters and digits encoded too (`xxd -p | sed 's/../%&/g'`).
    every_byte: bool,
}

impl PercentStyle {
    const ALL: [Self; 7] = [
        // Only letters and digits as they are.
        Self::keeps(b"", false),
        // RFC 3986 unreserved: Go's `url.PathEscape` and most libraries.
        Self::keeps(b"-._~", false),
        // Python's `quote_plus`, Go's `url.QueryEscape`.
        Self::keeps(b"-._~", true),
        // Python's `quote` with its default `safe='/'`.
        Self::keeps(b"-._~/", false),
        // JavaScript's `encodeURIComponent`.
        Self::keeps(b"-_.!~*'()", false),
        // `application/x-www-form-urlencoded` (WHATWG `URLSearchParams`).
        Self::keeps(b"*-._", true),
        Self {
            keep: b"",
            plus: false,
            every_byte: true,
        },
    ];

    const fn keeps(keep: &'static [u8], plus: bool) -> Self {
        Self {
            keep,
            plus,
            every_byte: false,
        }
    }
}

fn percent(bytes: &[u8], style: PercentStyle, upper: bool) -> String {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if !style.every_byte && (b.is_ascii_alphanumeric() || style.keep.contains(&b)) {
            out.push(char::from(b));
        } else if b == b' ' && style.plus {
            out.push('+');
        } else {
            out.push('%');
            out.push(char::from(digits[usize::from(b >> 4)]));
            out.push(char::from(digits[usize::from(b & 0xf)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{JsonStyle, PercentStyle, json, percent, split_lines};

    #[test]
    fn lines_split_at_any_line_ending() {
        let cases: [(&str, &[&str]); 6] = [
            ("one", &["one"]),
            ("", &[""]),
            ("a\nb", &["a", "b"]),
            ("a\r\nb\rc\n", &["a", "b", "c"]),
            ("a\n\nb", &["a", "", "b"]),
            ("\n", &[""]),
        ];
        for (value, lines) in cases {
            assert_eq!(split_lines(value), lines, "{value:?}");
        }
    }

    #[test]
    fn json_styles() {
        let value = "a/\u{e9}&<>\u{2028}\u{1F511}\"\\\n\u{1}";
        let out: Vec<String> = [false, true]
            .into_iter()
            .flat_map(|upper| JsonStyle::ALL.map(|s| json(value, s, upper)))
            .map(|json| json.replace('\u{2028}', "<U+2028>"))
            .collect();
        insta::assert_snapshot!(out.join("\n"), @r#"
            a/é&<><U+2028>🔑\"\\\n\u0001
            a/\u00e9&<>\u2028\ud83d\udd11\"\\\n\u0001
            a/é\u0026\u003c\u003e\u2028🔑\"\\\n\u0001
            a/\u00e9\u0026\u003c\u003e\u2028\ud83d\udd11\"\\\n\u0001
            a\/é&<><U+2028>🔑\"\\\n\u0001
            a\/\u00e9&<>\u2028\ud83d\udd11\"\\\n\u0001
            a\/é\u0026\u003c\u003e\u2028🔑\"\\\n\u0001
            a\/\u00e9\u0026\u003c\u003e\u2028\ud83d\udd11\"\\\n\u0001
            a/é&<><U+2028>🔑\"\\\n\u0001
            a/\u00E9&<>\u2028\uD83D\uDD11\"\\\n\u0001
            a/é\u0026\u003C\u003E\u2028🔑\"\\\n\u0001
            a/\u00E9\u0026\u003C\u003E\u2028\uD83D\uDD11\"\\\n\u0001
            a\/é&<><U+2028>🔑\"\\\n\u0001
            a\/\u00E9&<>\u2028\uD83D\uDD11\"\\\n\u0001
            a\/é\u0026\u003C\u003E\u2028🔑\"\\\n\u0001
            a\/\u00E9\u0026\u003C\u003E\u2028\uD83D\uDD11\"\\\n\u0001
        "#);
    }

    #[test]
    fn percent_styles() {
        let value = b"Ab -._~/!*'()+\xc3\xa9";
        let out: Vec<String> = PercentStyle::ALL
            .iter()
            .flat_map(|s| [percent(value, *s, true), percent(value, *s, false)])
            .collect();
        insta::assert_snapshot!(out.join("\n"), @r"
            Ab%20%2D%2E%5F%7E%2F%21%2A%27%28%29%2B%C3%A9
            Ab%20%2d%2e%5f%7e%2f%21%2a%27%28%29%2b%c3%a9
            Ab%20-._~%2F%21%2A%27%28%29%2B%C3%A9
            Ab%20-._~%2f%21%2a%27%28%29%2b%c3%a9
            Ab+-._~%2F%21%2A%27%28%29%2B%C3%A9
            Ab+-._~%2f%21%2a%27%28%29%2b%c3%a9
            Ab%20-._~/%21%2A%27%28%29%2B%C3%A9
            Ab%20-._~/%21%2a%27%28%29%2b%c3%a9
            Ab%20-._~%2F!*'()%2B%C3%A9
            Ab%20-._~%2f!*'()%2b%c3%a9
            Ab+-._%7E%2F%21*%27%28%29%2B%C3%A9
            Ab+-._%7e%2f%21*%27%28%29%2b%c3%a9
            %41%62%20%2D%2E%5F%7E%2F%21%2A%27%28%29%2B%C3%A9
            %41%62%20%2d%2e%5f%7e%2f%21%2a%27%28%29%2b%c3%a9
        ");
    }
}
