use std::panic;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{
    LeakForm, assert_no_leak, assert_no_leak_in_dir, canary, canary_with_specials, find_leak,
};

/// Deterministic filler bytes (xorshift), so failures reproduce.
fn filler(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

fn form_of(haystack: &[u8], secret: &str) -> Option<LeakForm> {
    find_leak(haystack, secret).map(|leak| leak.form)
}

/// A secret whose base64 holds `+` and `/` at every alignment.
const BASE64_SPECIALS: &str = "wlcanary-b64-???>>>~~~???>>>~~~???";

#[test]
fn canaries_are_unique_and_recognisable() {
    let all: std::collections::BTreeSet<String> = (0..1000).map(|_| canary("pypi token")).collect();
    assert_eq!(all.len(), 1000);
    let one = all.iter().next().unwrap();
    assert!(one.starts_with("wlcanary-pypi-token-"), "{one}");
    assert!(
        one.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "{one}"
    );
    assert!(canary_with_specials("x").contains("/+= &%\"\\"));
}

#[test]
fn finds_plain() {
    let secret = canary("plain");
    let text = format!("log line\nusing token {secret} for upload\n");
    assert_eq!(form_of(text.as_bytes(), &secret), Some(LeakForm::Plain));
}

#[test]
fn finds_standard_base64_at_every_alignment() {
    let secret = canary_with_specials("std");
    for prefix in 0..6 {
        for suffix in 0..4 {
            let mut raw = filler(prefix, 7);
            raw.extend_from_slice(secret.as_bytes());
            raw.extend(filler(suffix, 11));
            let text = format!("data: {}\n", STANDARD.encode(&raw));
            let alignment = u8::try_from(prefix % 3).unwrap();
            let form = form_of(text.as_bytes(), &secret);
            assert_eq!(
                form,
                Some(LeakForm::Base64 { alignment }),
                "prefix {prefix} suffix {suffix}"
            );
        }
    }
}

#[test]
fn finds_url_safe_base64_at_every_alignment() {
    for prefix in 0..6 {
        let mut raw = filler(prefix, 3);
        raw.extend_from_slice(BASE64_SPECIALS.as_bytes());
        raw.push(b'!');
        for encoded in [URL_SAFE.encode(&raw), URL_SAFE_NO_PAD.encode(&raw)] {
            let alignment = u8::try_from(prefix % 3).unwrap();
            assert_eq!(
                form_of(encoded.as_bytes(), BASE64_SPECIALS),
                Some(LeakForm::Base64UrlSafe { alignment }),
                "prefix {prefix}: {encoded}"
            );
        }
    }
}

#[test]
fn finds_basic_auth_header() {
    let secret = canary("registry password");
    let header = format!(
        "Authorization: Basic {}",
        STANDARD.encode(format!("windlass:{secret}"))
    );
    // "windlass:" is 9 bytes: alignment 0.
    assert_eq!(
        form_of(header.as_bytes(), &secret),
        Some(LeakForm::Base64 { alignment: 0 })
    );
    let header = format!(
        "Authorization: Basic {}",
        STANDARD.encode(format!("ci:{secret}"))
    );
    assert_eq!(
        form_of(header.as_bytes(), &secret),
        Some(LeakForm::Base64 { alignment: 0 })
    );
    let header = format!(
        "Authorization: Basic {}",
        STANDARD.encode(format!("user:{secret}"))
    );
    assert_eq!(
        form_of(header.as_bytes(), &secret),
        Some(LeakForm::Base64 { alignment: 2 })
    );
}

#[test]
fn finds_url_encoded_whatever_the_escape_set_and_case() {
    const USERINFO: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%').add(b'/').add(b'\\');
    let secret = canary_with_specials("url");
    let strict = utf8_percent_encode(&secret, NON_ALPHANUMERIC).to_string();
    let loose = utf8_percent_encode(&secret, USERINFO).to_string();
    let lower = lowercase_escapes(&strict);
    assert_ne!(lower, strict);
    for encoded in [strict, loose, lower] {
        let url = format!("https://user:{encoded}@pypi.example/legacy/?x=1");
        assert_eq!(
            form_of(url.as_bytes(), &secret),
            Some(LeakForm::UrlEncoded),
            "{url}"
        );
    }
}

fn lowercase_escapes(encoded: &str) -> String {
    let mut out = String::new();
    let mut lower_next = 0;
    for c in encoded.chars() {
        if lower_next > 0 {
            out.push(c.to_ascii_lowercase());
            lower_next -= 1;
        } else {
            out.push(c);
            if c == '%' {
                lower_next = 2;
            }
        }
    }
    out
}

#[test]
fn finds_form_encoded() {
    let secret = canary_with_specials("form");
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    assert!(encoded.contains('+'), "{encoded}");
    let body = format!("grant_type=password&password={encoded}&x=1");
    assert_eq!(
        form_of(body.as_bytes(), &secret),
        Some(LeakForm::FormEncoded)
    );
}

#[test]
fn finds_json_escaped() {
    let secret = canary_with_specials("json");
    let body = serde_json::json!({ "auth": { "client_token": secret } }).to_string();
    assert_eq!(
        form_of(body.as_bytes(), &secret),
        Some(LeakForm::JsonEscaped)
    );
    let slashed = body.replace('/', "\\/");
    assert_eq!(
        form_of(slashed.as_bytes(), &secret),
        Some(LeakForm::JsonEscaped)
    );
    let unicode = format!("{}-é", canary("json unicode"));
    let body = format!("{{\"v\":\"{}\"}}", unicode.replace('é', "\\u00e9"));
    assert_eq!(
        form_of(body.as_bytes(), &unicode),
        Some(LeakForm::JsonEscaped)
    );
}

#[test]
fn finds_hex_in_both_cases() {
    let secret = canary("hex");
    let lower = format!("dump: {}", hex::encode(&secret));
    assert_eq!(form_of(lower.as_bytes(), &secret), Some(LeakForm::HexLower));
    let upper = format!("DUMP: {}", hex::encode_upper(&secret));
    assert_eq!(form_of(upper.as_bytes(), &secret), Some(LeakForm::HexUpper));
}

#[test]
fn no_false_positives() {
    let secret = canary_with_specials("real");
    let other = canary_with_specials("other");
    let half = &secret[..secret.len() / 2];
    let mut haystack = Vec::new();
    haystack.extend_from_slice(other.as_bytes());
    haystack.extend_from_slice(half.as_bytes());
    haystack.push(b'\n');
    haystack.extend_from_slice(STANDARD.encode(&other).as_bytes());
    haystack.extend_from_slice(URL_SAFE.encode(&other).as_bytes());
    haystack.extend_from_slice(hex::encode(&other).as_bytes());
    haystack.extend_from_slice(
        utf8_percent_encode(&other, NON_ALPHANUMERIC)
            .to_string()
            .as_bytes(),
    );
    haystack.extend_from_slice(
        serde_json::Value::from(other.as_str())
            .to_string()
            .as_bytes(),
    );
    haystack.extend_from_slice(STANDARD.encode(half).as_bytes());
    haystack.extend_from_slice(b"wlcanary-real-");
    haystack.extend(filler(1 << 16, 42));
    let encoded_filler = STANDARD.encode(filler(1 << 16, 43));
    haystack.extend_from_slice(encoded_filler.as_bytes());
    assert_eq!(find_leak(&haystack, &secret), None);
    assert_no_leak(&haystack, &secret);
}

#[test]
#[should_panic(expected = "found standard base64 (alignment 1)")]
fn assert_names_the_form() {
    let secret = canary("named");
    let text = STANDARD.encode(format!("x{secret}y"));
    assert_no_leak(text.as_bytes(), &secret);
}

#[test]
fn panic_message_does_not_repeat_the_secret() {
    let secret = canary("quiet");
    let text = format!("before {secret} after");
    let message = panic::catch_unwind(|| assert_no_leak(text.as_bytes(), &secret))
        .expect_err("the leak must be found");
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.contains("plain text"), "{message}");
    assert!(message.contains("before <SECRET...> after"), "{message}");
    assert!(!message.contains(&secret), "{message}");
}

#[test]
#[should_panic(expected = "too short")]
fn short_secrets_are_refused() {
    let _ = find_leak(b"abc", "abc");
}

#[test]
fn scans_directories_recursively() {
    let secret = canary("dir");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
    std::fs::write(dir.path().join("a/clean.txt"), "nothing here").unwrap();
    std::fs::write(dir.path().join("a/b/binary.bin"), filler(4096, 5)).unwrap();
    assert_no_leak_in_dir(dir.path(), &secret);

    std::fs::write(dir.path().join("a/b/leak.json"), hex::encode_upper(&secret)).unwrap();
    let message = panic::catch_unwind(|| assert_no_leak_in_dir(dir.path(), &secret))
        .expect_err("the leak must be found");
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.contains("uppercase hex"), "{message}");
    assert!(message.contains("leak.json"), "{message}");
}

#[test]
fn scans_file_names() {
    let secret = canary("name");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(format!("cache-{secret}")), "").unwrap();
    let message = panic::catch_unwind(|| assert_no_leak_in_dir(dir.path(), &secret))
        .expect_err("the leak must be found");
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.contains("in the name of"), "{message}");
}
