use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

use crate::Redactor;

const CANARY: &str = "s3cr3t/Canary+Value?x=1&y=\"q\"";

/// A made-up token shaped like a PyPI API token (180 characters).
const TOKEN: &str = "pypi-SBdGX-KBfxbCjdDS8TF_joEZh3Lc-eWYbyGDsaRFShfwgfALoy4A1H2koqWoiWXHKwRWxL7nc7BV0363X_7PBVSuzrRy-ItbS8s9zbiSy3nI01E19pm8kbvUFB7qttQqQFGdEBpXA8xkxY4rgO-Mz2GnIFips9gmbmnVY-NO01rrO-h";
/// Non-ASCII beyond the BMP, HTML-special characters, U+2028 and `/`.
const UNICODE: &str = "P\u{e4}sswort&<\u{43a}\u{43b}\u{44e}\u{447}>\u{2028}\u{1F511}/Ende";
/// Upper-case letters, reserved characters, a space and non-ASCII.
const PERCENT: &str = "Tok3n/Secret+Value=1&Zz \u{c4}\u{d6}";

fn redactor(secrets: &[&str]) -> Redactor {
    let r = Redactor::new();
    for s in secrets {
        r.register(s);
    }
    r
}

/// What real tools print for [`TOKEN`], [`UNICODE`] and [`PERCENT`]. Each
/// value was produced once by the command in the comment above it (with
/// the secret in the named variable; coreutils 9.1, OpenSSL 3.0, Python
/// 3.11, Node.js 20, xxd) and pasted here, so that these rows do not depend
/// on our own encoders.
const TOOL_OUTPUT: &[(&str, &str)] = &[
    // printf %s "$TOKEN" | base64
    (
        "base64 76",
        concat!(
            "cHlwaS1TQmRHWC1LQmZ4YkNqZERTOFRGX2pvRVpoM0xjLWVXWWJ5R0RzYVJGU2hmd2dmQUxveTRB\n",
            "MUgya29xV29pV1hIS3dSV3hMN25jN0JWMDM2M1hfN1BCVlN1enJSeS1JdGJTOHM5emJpU3kzbkkw\n",
            "MUUxOXBtOGtidlVGQjdxdHRRcVFGR2RFQnBYQTh4a3hZNHJnTy1NejJHbklGaXBzOWdtYm1uVlkt\n",
            "Tk8wMXJyTy1o\n",
        ),
    ),
    // printf %s "$TOKEN" | base64 -w 64
    (
        "base64 64",
        concat!(
            "cHlwaS1TQmRHWC1LQmZ4YkNqZERTOFRGX2pvRVpoM0xjLWVXWWJ5R0RzYVJGU2hm\n",
            "d2dmQUxveTRBMUgya29xV29pV1hIS3dSV3hMN25jN0JWMDM2M1hfN1BCVlN1enJS\n",
            "eS1JdGJTOHM5emJpU3kzbkkwMUUxOXBtOGtidlVGQjdxdHRRcVFGR2RFQnBYQTh4\n",
            "a3hZNHJnTy1NejJHbklGaXBzOWdtYm1uVlktTk8wMXJyTy1o\n",
        ),
    ),
    // printf %s "$TOKEN" | openssl base64
    (
        "openssl base64",
        concat!(
            "cHlwaS1TQmRHWC1LQmZ4YkNqZERTOFRGX2pvRVpoM0xjLWVXWWJ5R0RzYVJGU2hm\n",
            "d2dmQUxveTRBMUgya29xV29pV1hIS3dSV3hMN25jN0JWMDM2M1hfN1BCVlN1enJS\n",
            "eS1JdGJTOHM5emJpU3kzbkkwMUUxOXBtOGtidlVGQjdxdHRRcVFGR2RFQnBYQTh4\n",
            "a3hZNHJnTy1NejJHbklGaXBzOWdtYm1uVlktTk8wMXJyTy1o\n",
        ),
    ),
    // printf '{"username":"__token__","password":"%s"}' "$TOKEN" | base64
    (
        "json doc base64",
        concat!(
            "eyJ1c2VybmFtZSI6Il9fdG9rZW5fXyIsInBhc3N3b3JkIjoicHlwaS1TQmRHWC1LQmZ4YkNqZERT\n",
            "OFRGX2pvRVpoM0xjLWVXWWJ5R0RzYVJGU2hmd2dmQUxveTRBMUgya29xV29pV1hIS3dSV3hMN25j\n",
            "N0JWMDM2M1hfN1BCVlN1enJSeS1JdGJTOHM5emJpU3kzbkkwMUUxOXBtOGtidlVGQjdxdHRRcVFG\n",
            "R2RFQnBYQTh4a3hZNHJnTy1NejJHbklGaXBzOWdtYm1uVlktTk8wMXJyTy1oIn0=\n",
        ),
    ),
    // printf '__token__:%s' "$TOKEN" | base64 -w 64
    (
        "user:token base64 64",
        concat!(
            "X190b2tlbl9fOnB5cGktU0JkR1gtS0JmeGJDamREUzhURl9qb0VaaDNMYy1lV1li\n",
            "eUdEc2FSRlNoZndnZkFMb3k0QTFIMmtvcVdvaVdYSEt3Uld4TDduYzdCVjAzNjNY\n",
            "XzdQQlZTdXpyUnktSXRiUzhzOXpiaVN5M25JMDFFMTlwbThrYnZVRkI3cXR0UXFR\n",
            "RkdkRUJwWEE4eGt4WTRyZ08tTXoyR25JRmlwczlnbWJtblZZLU5PMDFyck8taA==\n",
        ),
    ),
    // python3 -c 'import email.base64mime as m,os,sys; sys.stdout.write(m.body_encode(os.environ["TOKEN"].encode(), eol="\r\n"))'
    (
        "mime crlf",
        concat!(
            "cHlwaS1TQmRHWC1LQmZ4YkNqZERTOFRGX2pvRVpoM0xjLWVXWWJ5R0RzYVJGU2hmd2dmQUxveTRB\r\n",
            "MUgya29xV29pV1hIS3dSV3hMN25jN0JWMDM2M1hfN1BCVlN1enJSeS1JdGJTOHM5emJpU3kzbkkw\r\n",
            "MUUxOXBtOGtidlVGQjdxdHRRcVFGR2RFQnBYQTh4a3hZNHJnTy1NejJHbklGaXBzOWdtYm1uVlkt\r\n",
            "Tk8wMXJyTy1o\r\n",
        ),
    ),
    // printf 'x:%s' "$TOKEN" | base64 | sed "s/^/    /"
    (
        "indented",
        concat!(
            "    eDpweXBpLVNCZEdYLUtCZnhiQ2pkRFM4VEZfam9FWmgzTGMtZVdZYnlHRHNhUkZTaGZ3Z2ZBTG95\n",
            "    NEExSDJrb3FXb2lXWEhLd1JXeEw3bmM3QlYwMzYzWF83UEJWU3V6clJ5LUl0YlM4czl6YmlTeTNu\n",
            "    STAxRTE5cG04a2J2VUZCN3F0dFFxUUZHZEVCcFhBOHhreFk0cmdPLU16MkduSUZpcHM5Z21ibW5W\n",
            "    WS1OTzAxcnJPLWg=\n",
        ),
    ),
    // printf %s "$TOKEN" | xxd -p
    (
        "xxd -p",
        concat!(
            "707970692d53426447582d4b42667862436a6444533854465f6a6f455a68\n",
            "334c632d6557596279474473615246536866776766414c6f793441314832\n",
            "6b6f71576f695758484b775257784c376e6337425630333633585f375042\n",
            "5653757a7252792d497462533873397a62695379336e493031453139706d\n",
            "386b627655464237717474517151464764454270584138786b7859347267\n",
            "4f2d4d7a32476e494669707339676d626d6e56592d4e4f303172724f2d68\n",
        ),
    ),
    // python3 -c 'import os,re,urllib.parse as u; print(re.sub("%[0-9A-F]{2}", lambda m: m[0].lower(), u.quote(os.environ["PERCENT"], safe="")))'
    (
        "quote lower hex",
        "Tok3n%2fSecret%2bValue%3d1%26Zz%20%c3%84%c3%96\n",
    ),
    // python3 -c 'import os,urllib.parse as u; print(u.quote(os.environ["PERCENT"]))'
    (
        "quote keeps slash",
        "Tok3n/Secret%2BValue%3D1%26Zz%20%C3%84%C3%96\n",
    ),
    // printf %s "$PERCENT" | xxd -p | tr -d "\n" | sed "s/../%&/g"
    (
        "every byte lower hex",
        "%54%6f%6b%33%6e%2f%53%65%63%72%65%74%2b%56%61%6c%75%65%3d%31%26%5a%7a%20%c3%84%c3%96",
    ),
    // python3 -c 'import json,os; print(json.dumps({"token": os.environ["UNICODE"]}))'
    (
        "json ensure_ascii",
        "{\"token\": \"P\\u00e4sswort&<\\u043a\\u043b\\u044e\\u0447>\\u2028\\ud83d\\udd11/Ende\"}\n",
    ),
    // python3 -c 'import json,os; print(json.dumps(os.environ["UNICODE"]).replace("/", "\\/"))'
    (
        "json escaped slash",
        "\"P\\u00e4sswort&<\\u043a\\u043b\\u044e\\u0447>\\u2028\\ud83d\\udd11\\/Ende\"\n",
    ),
    // node -e 'console.log(JSON.stringify({token: process.env.UNICODE}))'
    (
        "node json",
        "{\"token\":\"Pässwort&<ключ>\u{2028}🔑/Ende\"}\n",
    ),
    // node -e 'console.log(encodeURIComponent(process.env.PERCENT))'
    (
        "node uri component",
        "Tok3n%2FSecret%2BValue%3D1%26Zz%20%C3%84%C3%96\n",
    ),
    // Go's `json.Marshal(map[string]string{"token": UNICODE})`, written out
    // by its documented rules (`&`, `<`, `>` as `\u0026`, `\u003c`,
    // `\u003e`; U+2028 as `\u2028`; other non-ASCII as it is): Go is not
    // needed to run the tests.
    (
        "go json",
        "{\"token\":\"P\u{e4}sswort\\u0026\\u003c\u{43a}\u{43b}\u{44e}\u{447}\\u003e\\u2028\u{1F511}/Ende\"}\n",
    ),
];

/// Every encoding a secret can take in output, embedded in surrounding text.
fn encodings(secret: &str) -> Vec<(&'static str, String)> {
    let json = serde_json::to_string(secret).unwrap();
    let url = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    vec![
        ("plain", format!("token={secret};")),
        ("json", format!("{{\"token\":{json}}}")),
        ("url", format!("https://h/?t={url}&a=b")),
        (
            "url-lower",
            format!("https://h/?t={}&a=b", lower_hex_digits(&url)),
        ),
        ("hex", format!("hex:{}!", hex::encode(secret))),
        ("HEX", format!("hex:{}!", hex::encode_upper(secret))),
        ("b64-0", format!("Basic {}", STANDARD.encode(secret))),
        (
            "b64-1",
            format!("Basic {}", STANDARD.encode(format!("u:{secret}"))),
        ),
        (
            "b64-2",
            format!("Basic {}", STANDARD.encode(format!("us:{secret}"))),
        ),
        (
            "b64-3",
            format!("Basic {}", STANDARD.encode(format!("use:{secret}"))),
        ),
        (
            "b64url-1",
            format!("jwt.{}.sig", URL_SAFE.encode(format!("{{{secret}}}"))),
        ),
        (
            "b64url-2",
            format!("jwt.{}.sig", URL_SAFE.encode(format!("{{\"{secret}\"}}"))),
        ),
    ]
}

/// `%2F` as `%2f`: only the two characters after each `%` change case.
fn lower_hex_digits(encoded: &str) -> String {
    let mut out = String::new();
    let mut digits = 0;
    for c in encoded.chars() {
        if digits > 0 {
            out.push(c.to_ascii_lowercase());
            digits -= 1;
        } else {
            out.push(c);
            if c == '%' {
                digits = 2;
            }
        }
    }
    out
}

#[test]
fn every_encoding_is_masked() {
    let r = redactor(&[CANARY]);
    let mut rendered = Vec::new();
    for (name, text) in encodings(CANARY) {
        let out = r.redact(&text).into_owned();
        for (_, probe) in encodings(CANARY) {
            // Nothing of any encoded form survives, beyond the base64
            // characters shared with the surrounding text.
            assert!(!out.contains(&probe), "{name}: {out}");
        }
        assert!(out.contains(crate::MASK), "{name}: {out}");
        rendered.push(format!("{name:>9}: {out}"));
    }
    insta::assert_snapshot!(rendered.join("\n"));
}

/// Shows a redacted row with its line endings visible.
fn render(name: &str, out: &str) -> String {
    format!("--- {name}\n{}", out.replace('\r', "\\r"))
}

#[test]
fn real_tool_output_is_masked() {
    let r = redactor(&[TOKEN, UNICODE, PERCENT]);
    let mut rendered = Vec::new();
    for (name, text) in TOOL_OUTPUT {
        let out = r.redact(text).into_owned();
        assert!(out.contains(crate::MASK), "{name}: {out}");
        // Wrapped output keeps its lines.
        assert_eq!(out.lines().count(), text.lines().count(), "{name}: {out}");
        rendered.push(render(name, &out));
    }
    insta::assert_snapshot!(rendered.join("\n"));
}

#[test]
fn unrelated_text_is_untouched() {
    let r = redactor(&[CANARY, TOKEN]);
    let texts = [
        "nothing to see here: s3cr3t but not the rest",
        // Wrapped base64 of something else, with a secret's first bytes in
        // it.
        concat!(
            "cHlwaS1TQmRHWC1LQmZ4YkNqZERTOFRGX2pvRVpoM0xjLWVXWWJ5R0RzYVJGU2hmd2dmQUxveTRB\n",
            "AAAAAAAAAAAAAAAAAAAAAAAA\n",
        ),
    ];
    for text in texts {
        assert!(
            matches!(r.redact(text), std::borrow::Cow::Borrowed(_)),
            "{text}"
        );
    }
}

#[test]
fn empty_redactor_is_a_no_op() {
    let r = Redactor::new();
    assert!(r.is_empty());
    assert_eq!(r.redact("abc"), "abc");
    r.register("");
    assert!(r.is_empty());
}

#[test]
fn multi_line_values() {
    let key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\r\nhkiG9w0BAQEFAASC\n-----END KEY-----";
    let r = redactor(&[key]);
    let whole = format!("key: {key}\n");
    let lines: String = key.lines().flat_map(|l| ["log: ", l, "\n"]).collect();
    let json = format!("{}\n", serde_json::json!({ "key": key }));
    insta::assert_snapshot!(format!("{}{}{}", r.redact(&whole), r.redact(&lines), r.redact(&json)), @r#"
    key: ****
    log: ****
    log: ****
    log: ****
    log: ****
    {"key":"****"}
    "#);
}

/// A multi-line value is masked as a whole with any line endings; a line
/// shorter than four bytes is masked next to a neighbouring line of the
/// value, and stays visible when printed on its own (it holds next to
/// nothing of the secret, and masking every `id` or `&` in the output would
/// make it unreadable).
#[test]
fn multi_line_values_with_short_lines() {
    let value = "id\nsecret-line\nZ9\n&";
    let r = redactor(&[value]);
    let rows = [
        ("lf", "v=id\nsecret-line\nZ9\n&;".to_owned()),
        // printf 'id\nsecret-line\nZ9\n&' | sed 's/$/\r/'
        ("crlf", "id\r\nsecret-line\r\nZ9\r\n&\r\n".to_owned()),
        ("cr", "<id\rsecret-line\rZ9\r&>".to_owned()),
        (
            "json crlf",
            serde_json::json!({ "v": "id\r\nsecret-line\r\nZ9\r\n&" }).to_string(),
        ),
        ("first lines", "id\nsecret-line\nnext\n".to_owned()),
        ("last lines", "before\nZ9\n&\n".to_owned()),
        (
            "one per line",
            "log: id\nlog: secret-line\nlog: Z9\nlog: &\n".to_owned(),
        ),
        ("unrelated", "id=7 Z9 & done\n".to_owned()),
    ];
    let out: Vec<String> = rows
        .iter()
        .map(|(name, text)| render(name, &r.redact(text)))
        .collect();
    insta::assert_snapshot!(out.join("\n"), @r#"
        --- lf
        v=****;
        --- crlf
        ****\r

        --- cr
        <****>
        --- json crlf
        {"v":"****"}
        --- first lines
        ****
        next

        --- last lines
        before
        ****

        --- one per line
        log: id
        log: ****
        log: Z9
        log: &

        --- unrelated
        id=7 Z9 & done
    "#);
}

/// A value read from a file often ends with a line break that the output
/// does not repeat: the value without it is the secret.
#[test]
fn values_with_a_final_line_break() {
    let r = redactor(&["file-token\n", "xyz\r\n"]);
    let cases = [
        ("a file-token b", "a **** b"),
        ("file-token\r\n", "****\r\n"),
        ("[xyz]", "[****]"),
        ("{\"v\":\"xyz\\r\\n\"}", "{\"v\":\"****\"}"),
    ];
    for (text, expected) in cases {
        assert_eq!(r.redact(text), expected, "{text:?}");
    }
}

#[test]
fn overlapping_secrets() {
    // One secret contains another; two overlap; a short one is a prefix.
    let r = redactor(&["abcdef123456", "123456zzzz", "abcd", "xyzw", "zzzz-9"]);
    let cases = [
        "abcdef123456",
        "abcdef123456zzzz",
        "abcdef123456zzzz-9!",
        "abcd-abcdef12",
        "__xyzwxyzw__",
        "abc",
    ];
    let out: Vec<String> = cases
        .iter()
        .map(|c| format!("{c} -> {}", r.redact(c)))
        .collect();
    insta::assert_snapshot!(out.join("\n"), @r"
        abcdef123456 -> ****
        abcdef123456zzzz -> ****
        abcdef123456zzzz-9! -> ****!
        abcd-abcdef12 -> ****-****ef12
        __xyzwxyzw__ -> __****__
        abc -> abc
    ");
}

/// Feeds `text` to a redacting writer in the given pieces.
fn write_in_pieces(r: &Redactor, text: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut w = r.writer(Vec::new());
    let mut start = 0;
    for &cut in cuts {
        let cut = cut.clamp(start, text.len());
        w.write_all(&text[start..cut]).unwrap();
        start = cut;
    }
    w.write_all(&text[start..]).unwrap();
    w.finish().unwrap();
    w.get_ref().clone()
}

/// Feeds each input to a redacting writer cut at every possible split point
/// (and byte by byte), and checks the result equals the one-shot redaction.
#[test]
fn split_writes_at_every_point() {
    let key = "line-one-secret\nline-two-secret";
    let r = redactor(&[CANARY, key, TOKEN, UNICODE, PERCENT]);
    let inputs = encodings(CANARY)
        .into_iter()
        .chain([("multi", format!("k={key}\nnext\n"))])
        // A lone CR inside base64 separates, in both paths alike.
        .chain([("lone cr", {
            let mut b64 = STANDARD.encode(TOKEN);
            b64.insert(100, '\r');
            b64
        })])
        .chain(
            TOOL_OUTPUT
                .iter()
                .map(|(n, t)| (*n, format!("before\n{t}after\n"))),
        );
    for (name, text) in inputs {
        let expected = r.redact_bytes(text.as_bytes()).into_owned();
        let bytes = text.as_bytes();
        for cut in 0..=bytes.len() {
            let out = write_in_pieces(&r, bytes, &[cut]);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected),
                "{name}: cut at {cut}"
            );
        }
        let every_byte: Vec<usize> = (1..bytes.len()).collect();
        let out = write_in_pieces(&r, bytes, &every_byte);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected),
            "{name}: byte by byte"
        );
    }
}

/// What a writer has released after each write: only what may still become
/// part of a secret is held.
#[test]
fn writer_holds_only_what_may_become_a_secret() {
    let r = redactor(&["a-rather-long-secret-value", TOKEN]);
    let (_, wrapped) = TOOL_OUTPUT[0];
    let wrapped: Vec<&str> = wrapped.split_inclusive('\n').collect();
    let spaces = " ".repeat(100);
    let cases: [(&str, &[&str]); 5] = [
        (
            "lines",
            &["first line with a-rather-long-secret-value\n", "second\n"],
        ),
        ("prefix", &["log a-rather-lo", "ng-secret-value!\n"]),
        // Padded base64 ends where nothing continues it.
        (
            "ordinary base64",
            &["QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n", "next\n"],
        ),
        ("wrapped", &wrapped),
        // Wrapped output does not go on through endless indentation.
        ("indentation", &[wrapped[0], &spaces]),
    ];
    let mut rendered = Vec::new();
    for (name, writes) in cases {
        let mut w = r.writer(Vec::new());
        rendered.push(format!("--- {name}"));
        for write in writes {
            w.write_all(write.as_bytes()).unwrap();
            rendered.push(format!(
                "{write:?} -> {:?}",
                String::from_utf8_lossy(w.get_ref())
            ));
        }
    }
    insta::assert_snapshot!(rendered.join("\n"), @r#"
        --- lines
        "first line with a-rather-long-secret-value\n" -> "first line with ****\n"
        "second\n" -> "first line with ****\nsecond\n"
        --- prefix
        "log a-rather-lo" -> "log "
        "ng-secret-value!\n" -> "log ****!\n"
        --- ordinary base64
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n" -> "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n"
        "next\n" -> "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\nnext\n"
        --- wrapped
        "cHlwaS1TQmRHWC1LQmZ4YkNqZERTOFRGX2pvRVpoM0xjLWVXWWJ5R0RzYVJGU2hmd2dmQUxveTRB\n" -> ""
        "MUgya29xV29pV1hIS3dSV3hMN25jN0JWMDM2M1hfN1BCVlN1enJSeS1JdGJTOHM5emJpU3kzbkkw\n" -> ""
        "MUUxOXBtOGtidlVGQjdxdHRRcVFGR2RFQnBYQTh4a3hZNHJnTy1NejJHbklGaXBzOWdtYm1uVlkt\n" -> ""
        "Tk8wMXJyTy1o\n" -> "****\n****\n****\n****\n"
        --- indentation
        "cHlwaS1TQmRHWC1LQmZ4YkNqZERTOFRGX2pvRVpoM0xjLWVXWWJ5R0RzYVJGU2hmd2dmQUxveTRB\n" -> ""
        "                                                                                                    " -> "cHlwaS1TQmRHWC1LQmZ4YkNqZERTOFRGX2pvRVpoM0xjLWVXWWJ5R0RzYVJGU2hmd2dmQUxveTRB\n                                                                                                    "
    "#);
}

#[test]
fn secrets_registered_later_apply_to_open_writers() {
    let r = Redactor::new();
    let mut w = r.writer(Vec::new());
    w.write_all(b"before\n").unwrap();
    r.register("late-secret-1");
    w.write_all(b"now late-secret-1\n").unwrap();
    w.finish().unwrap();
    assert_eq!(w.get_ref().as_slice(), b"before\nnow ****\n");
}

#[test]
fn non_utf8_bytes_pass_through() {
    let r = redactor(&["secret-bytes"]);
    let input = b"\xff\xfe secret-bytes \x00";
    assert_eq!(r.redact_bytes(input).as_ref(), b"\xff\xfe **** \x00");
}

/// Properties over random secrets, surrounding text, encodings and ways of
/// cutting the output into writes. The encoders here are the `base64`,
/// `hex`, `percent-encoding` and `serde_json` crates plus the documented
/// rules of Python's `ensure_ascii` and Go's HTML-safe escaping, not the
/// redactor's own.
mod properties {
    use std::borrow::Cow;
    use std::fmt::Write as _;

    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    use proptest::prelude::*;

    use super::{lower_hex_digits, redactor, write_in_pieces};

    /// Secrets: printable ASCII or any characters, 4 to 200 of them, never
    /// `*` (the mask is made of it, so it would show up as a "leak").
    fn secret() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ -)+-~]{4,200}",
            proptest::collection::vec(any::<char>().prop_filter("the mask", |c| *c != '*'), 4..200)
                .prop_map(String::from_iter),
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter)
    }

    /// JSON as Python writes it by default (`ensure_ascii=True`).
    fn json_ascii(secret: &str) -> String {
        let mut out = String::new();
        for c in serde_json::to_string(secret).unwrap().chars() {
            if c > '~' {
                let mut units = [0; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(out, "\\u{unit:04x}").unwrap();
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// JSON as Go's `encoding/json` writes it (HTML-safe).
    fn json_go(secret: &str) -> String {
        serde_json::to_string(secret)
            .unwrap()
            .replace('&', "\\u0026")
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029")
    }

    /// A JSON string without its quotes.
    fn unquote(json: &str) -> String {
        json[1..json.len() - 1].to_owned()
    }

    /// The text to print and the strings that must not appear in the
    /// output: the encoded secret, and for base64 the characters that
    /// depend on the secret alone. Wrapped output is checked with its line
    /// breaks removed.
    fn encode(secret: &str, encoding: usize, align: usize, tail: &str) -> (String, Vec<String>) {
        let percent =
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let plain = |encoded: String| (encoded.clone(), vec![encoded]);
        match encoding {
            0 => plain(secret.to_owned()),
            1 => plain(unquote(&serde_json::to_string(secret).unwrap())),
            2 => plain(unquote(&json_ascii(secret))),
            3 => plain(unquote(&json_go(secret))),
            4 => plain(lower_hex_digits(&percent)),
            5 => plain(percent),
            6 => plain(hex::encode(secret)),
            7 => plain(hex::encode_upper(secret)),
            _ => {
                let mut input = "\0".repeat(align).into_bytes();
                input.extend_from_slice(secret.as_bytes());
                input.extend_from_slice(tail.as_bytes());
                let engine = if encoding.is_multiple_of(2) {
                    &STANDARD
                } else {
                    &URL_SAFE
                };
                let blob = engine.encode(&input);
                let start = (align * 8).div_ceil(6);
                let end = (align + secret.len()) * 8 / 6;
                let probe = blob[start..end].to_owned();
                let width = match encoding {
                    8 | 9 => return (blob, vec![probe]),
                    10 | 11 => 76,
                    _ => 64,
                };
                let lines: Vec<&str> = blob
                    .as_bytes()
                    .chunks(width)
                    .map(|l| std::str::from_utf8(l).unwrap())
                    .collect();
                let eol = if encoding >= 12 { "\r\n" } else { "\n" };
                (format!("\n{}{eol}", lines.join(eol)), vec![probe])
            }
        }
    }

    const ENCODINGS: usize = 14;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

        /// In any encoding, with any text around it and cut into writes
        /// anywhere, a secret never shows, and the writer gives the same
        /// output as a one-shot redaction.
        #[test]
        fn no_encoded_secret_survives(
            secret in secret(),
            before in text(),
            after in text(),
            encoding in 0..ENCODINGS,
            align in 0..3usize,
            tail in text(),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let r = redactor(&[&secret]);
            let (encoded, probes) = encode(&secret, encoding, align, &tail);
            let text = format!("{before}{encoded}{after}");
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (text.len() + 1)).collect();
            cuts.sort_unstable();
            let once = r.redact_bytes(text.as_bytes()).into_owned();
            let streamed = write_in_pieces(&r, text.as_bytes(), &cuts);
            prop_assert_eq!(String::from_utf8_lossy(&streamed), String::from_utf8_lossy(&once));
            let out = String::from_utf8_lossy(&once).replace(['\n', '\r'], "");
            prop_assert!(!out.contains(&secret), "secret in {}", out);
            for probe in probes {
                prop_assert!(!out.contains(&probe), "{} in {}", probe, out);
            }
            // Redacting again changes nothing.
            let twice = r.redact_bytes(&once).into_owned();
            prop_assert_eq!(String::from_utf8_lossy(&twice), String::from_utf8_lossy(&once));
        }

        /// Two secrets that overlap in the output (the end of one is the
        /// start of the other, or one holds the other) leave nothing of
        /// either visible.
        #[test]
        fn overlapping_secrets_leave_nothing(
            first in "[ -)+-~]{4,60}",
            overlap in any::<proptest::sample::Index>(),
            extra in "[ -)+-~]{0,20}",
            before in text(),
            after in text(),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let start = overlap.index(first.len() - 1);
            let second = format!("{}{extra}", &first[start..]);
            prop_assume!(second.len() >= 4);
            let r = redactor(&[&first, &second]);
            let text = format!("{before}{first}{extra}{after}");
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (text.len() + 1)).collect();
            cuts.sort_unstable();
            let once = r.redact(&text).into_owned();
            let streamed = write_in_pieces(&r, text.as_bytes(), &cuts);
            prop_assert_eq!(String::from_utf8_lossy(&streamed), once.as_str());
            prop_assert!(!once.contains(&first), "{} in {}", first, once);
            prop_assert!(!once.contains(&second), "{} in {}", second, once);
        }

        /// Text that holds no secret passes unchanged, in one piece or cut
        /// into writes. (The secret is one line here: a line of a
        /// multi-line secret is masked on its own, and random text may hold
        /// a short one.)
        #[test]
        fn text_without_secrets_is_unchanged(
            secret in secret().prop_filter("one line", |s| !s.contains(['\n', '\r'])),
            text in proptest::collection::vec(text(), 0..8).prop_map(|l| l.join("\n")),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            prop_assume!(!text.contains(&secret));
            let r = redactor(&[&secret]);
            prop_assert!(matches!(r.redact(&text), Cow::Borrowed(_)));
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (text.len() + 1)).collect();
            cuts.sort_unstable();
            let streamed = write_in_pieces(&r, text.as_bytes(), &cuts);
            prop_assert_eq!(String::from_utf8_lossy(&streamed), text);
        }
    }
}

#[test]
fn the_observer_hears_each_new_secret_once_and_may_redact() {
    use std::sync::{Arc, Mutex};
    let redactor = Redactor::new();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let (sink, inside) = (Arc::clone(&heard), redactor.clone());
    redactor.on_register(move |secret| {
        // Printing redacts: the observer runs outside the redactor's lock.
        let shown = inside.redact(&format!("got {secret}")).into_owned();
        sink.lock().unwrap().push((secret.to_owned(), shown));
    });
    for secret in ["first-secret", "first-secret", "", "second-secret"] {
        redactor.register(secret);
    }
    let heard = heard.lock().unwrap().clone();
    assert_eq!(
        heard,
        [
            ("first-secret".to_owned(), "got ****".to_owned()),
            ("second-secret".to_owned(), "got ****".to_owned()),
        ]
    );
}
