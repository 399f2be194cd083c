//! Canary secrets and the leak scanner.

use std::collections::hash_map::RandomState;
use std::fmt::{self, Write as _};
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use percent_encoding::percent_decode;

/// Encoded fragments shorter than this are not searched: they would match
/// by chance. Canaries are far longer.
const MIN_FRAGMENT: usize = 12;

/// A unique, recognisable fake secret such as
/// `wlcanary-pypi-token-3f9c1a0b5d7e2f64a1c0`.
///
/// Only ASCII letters, digits and `-`, so it survives any header, URL or
/// config file unchanged. Use [`canary_with_specials`] to also exercise
/// percent-encoding and JSON escaping.
pub fn canary(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("wlcanary-{clean}-{}", unique_hex())
}

/// Like [`canary`], with characters that URL-encoding and JSON escaping
/// change (`/ + = & % " \` and a space).
pub fn canary_with_specials(name: &str) -> String {
    format!("{}/+= &%\"\\x", canary(name))
}

/// The encodings [`find_leak`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeakForm {
    Plain,
    /// Standard base64 at the given byte alignment (0, 1 or 2).
    Base64 {
        alignment: u8,
    },
    /// URL-safe base64 at the given byte alignment (0, 1 or 2).
    Base64UrlSafe {
        alignment: u8,
    },
    /// Percent-encoded (any case, any set of escaped characters).
    UrlEncoded,
    /// `application/x-www-form-urlencoded` (`+` for space).
    FormEncoded,
    /// A JSON string body (`\"`, `\\`, `\/`, `\uXXXX`).
    JsonEscaped,
    HexLower,
    HexUpper,
}

impl fmt::Display for LeakForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain => f.write_str("plain text"),
            Self::Base64 { alignment } => write!(f, "standard base64 (alignment {alignment})"),
            Self::Base64UrlSafe { alignment } => {
                write!(f, "URL-safe base64 (alignment {alignment})")
            }
            Self::UrlEncoded => f.write_str("URL-encoded"),
            Self::FormEncoded => f.write_str("form-encoded"),
            Self::JsonEscaped => f.write_str("JSON-escaped"),
            Self::HexLower => f.write_str("lowercase hex"),
            Self::HexUpper => f.write_str("uppercase hex"),
        }
    }
}

/// Where a secret was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leak {
    pub form: LeakForm,
    /// Byte offset in the haystack (in the decoded haystack for URL and form
    /// encodings).
    pub offset: usize,
    /// Length of the match in bytes (at `offset`, same haystack).
    pub len: usize,
}

impl Leak {
    fn is_in_decoded_haystack(&self) -> bool {
        matches!(self.form, LeakForm::UrlEncoded | LeakForm::FormEncoded)
    }
}

/// Searches `haystack` for `secret` in plain text, standard and URL-safe
/// base64 (all three alignments), URL- and form-encoding, JSON escaping and
/// hex. Returns the first form found.
///
/// # Panics
///
/// When `secret` is shorter than 8 bytes: too short to scan meaningfully.
pub fn find_leak(haystack: &[u8], secret: &str) -> Option<Leak> {
    assert!(
        secret.len() >= 8,
        "windlass-testkit: a secret of {} bytes is too short to scan for; use canary()",
        secret.len()
    );
    let secret_bytes = secret.as_bytes();
    let found = |form, needle: &[u8]| {
        find(haystack, needle).map(|offset| Leak {
            form,
            offset,
            len: needle.len(),
        })
    };
    if let Some(leak) = found(LeakForm::Plain, secret_bytes) {
        return Some(leak);
    }
    for alignment in 0..3u8 {
        let standard = base64_fragment(&STANDARD_NO_PAD, secret_bytes, alignment);
        let url_safe = base64_fragment(&URL_SAFE_NO_PAD, secret_bytes, alignment);
        if let Some(leak) = found(LeakForm::Base64 { alignment }, standard.as_bytes()) {
            return Some(leak);
        }
        if url_safe != standard
            && let Some(leak) = found(LeakForm::Base64UrlSafe { alignment }, url_safe.as_bytes())
        {
            return Some(leak);
        }
    }
    for (form, escaped) in json_forms(secret) {
        if escaped != secret
            && let Some(leak) = found(form, escaped.as_bytes())
        {
            return Some(leak);
        }
    }
    let lower = hex::encode(secret_bytes);
    if let Some(leak) = found(LeakForm::HexLower, lower.as_bytes()) {
        return Some(leak);
    }
    if let Some(leak) = found(LeakForm::HexUpper, lower.to_ascii_uppercase().as_bytes()) {
        return Some(leak);
    }
    // Decode the whole haystack rather than guessing which characters an
    // encoder escaped and in which case.
    if haystack.contains(&b'%') {
        let decoded: Vec<u8> = percent_decode(haystack).collect();
        if let Some(offset) = find(&decoded, secret_bytes) {
            return Some(Leak {
                form: LeakForm::UrlEncoded,
                offset,
                len: secret.len(),
            });
        }
    }
    if haystack.contains(&b'+') && secret_bytes.contains(&b' ') {
        let plus_as_space: Vec<u8> = haystack
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        let decoded: Vec<u8> = percent_decode(&plus_as_space).collect();
        if let Some(offset) = find(&decoded, secret_bytes) {
            return Some(Leak {
                form: LeakForm::FormEncoded,
                offset,
                len: secret.len(),
            });
        }
    }
    None
}

/// Panics, naming the encoding and offset, if `secret` occurs in `haystack`
/// in any form [`find_leak`] knows.
pub fn assert_no_leak(haystack: &[u8], secret: &str) {
    if let Some(leak) = find_leak(haystack, secret) {
        panic!(
            "secret leaked: found {} at byte {} of {} bytes\ncontext (secret masked): {}",
            leak.form,
            leak.offset,
            haystack.len(),
            context(haystack, leak)
        );
    }
}

/// [`assert_no_leak`] over every regular file under `dir` (recursively, not
/// following symlinks) and over every file and directory name.
pub fn assert_no_leak_in_dir(dir: &Path, secret: &str) {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = fs::read_dir(&current).unwrap_or_else(|err| {
            panic!("windlass-testkit: cannot list {}: {err}", current.display())
        });
        for entry in entries {
            let entry = entry.unwrap_or_else(|err| {
                panic!("windlass-testkit: cannot list {}: {err}", current.display())
            });
            let path = entry.path();
            let name = entry.file_name();
            if let Some(leak) = find_leak(name.as_encoded_bytes(), secret) {
                panic!(
                    "secret leaked: found {} in the name of {}",
                    leak.form,
                    path.display()
                );
            }
            let file_type = entry.file_type().unwrap_or_else(|err| {
                panic!("windlass-testkit: cannot stat {}: {err}", path.display())
            });
            if file_type.is_dir() {
                pending.push(path);
            } else if file_type.is_file() {
                let contents = fs::read(&path).unwrap_or_else(|err| {
                    panic!("windlass-testkit: cannot read {}: {err}", path.display())
                });
                if let Some(leak) = find_leak(&contents, secret) {
                    panic!(
                        "secret leaked: found {} at byte {} of {}\ncontext (secret masked): {}",
                        leak.form,
                        leak.offset,
                        path.display(),
                        context(&contents, leak)
                    );
                }
            }
        }
    }
}

pub(crate) fn unique_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    let first = hasher.finish();
    hasher.write_u64(first);
    format!("{first:016x}{:04x}", hasher.finish() & 0xffff)
}

/// The part of base64(`alignment` bytes + secret + anything) that depends on
/// the secret alone.
fn base64_fragment<E: Engine>(engine: &E, secret: &[u8], alignment: u8) -> String {
    let pad = usize::from(alignment);
    let mut input = vec![0u8; pad];
    input.extend_from_slice(secret);
    let encoded = engine.encode(&input);
    // Characters are 6 bits; skip those touching the prefix, drop the last
    // one if it also holds bits of whatever follows.
    let start = (pad * 8).div_ceil(6);
    let end = ((pad + secret.len()) * 8) / 6;
    let fragment = encoded.get(start..end).unwrap_or_default();
    if fragment.len() < MIN_FRAGMENT {
        String::new()
    } else {
        fragment.to_owned()
    }
}

fn json_forms(secret: &str) -> [(LeakForm, String); 3] {
    let escaped = serde_json::Value::from(secret).to_string();
    let inner = escaped
        .get(1..escaped.len() - 1)
        .unwrap_or_default()
        .to_owned();
    let slashes = inner.replace('/', "\\/");
    let mut ascii = String::new();
    for c in inner.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(ascii, "\\u{unit:04x}");
            }
        }
    }
    [
        (LeakForm::JsonEscaped, inner),
        (LeakForm::JsonEscaped, slashes),
        (LeakForm::JsonEscaped, ascii),
    ]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Up to 40 bytes either side of the match, lossily decoded, with the match
/// itself replaced so the panic message does not leak it again.
fn context(haystack: &[u8], leak: Leak) -> String {
    if leak.is_in_decoded_haystack() {
        return String::from("(not shown: the match is in the percent-decoded text)");
    }
    let offset = leak.offset;
    let before = &haystack[offset.saturating_sub(40)..offset];
    let after_start = (offset + leak.len).min(haystack.len());
    let after = &haystack[after_start..(after_start + 40).min(haystack.len())];
    format!(
        "{}<SECRET...>{}",
        String::from_utf8_lossy(before).escape_debug(),
        String::from_utf8_lossy(after).escape_debug()
    )
}

#[cfg(test)]
mod tests;
