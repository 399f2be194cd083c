use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::MASK;

/// Encoded forms shorter than this are not matched on their own: a two
/// character base64 fragment would mask unrelated text everywhere. The plain
/// value is always matched, however short.
const MIN_ENCODED_LEN: usize = 4;

/// RFC 3986 unreserved characters stay as they are in a URL component.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Everything Windlass must never print, with the automaton that finds it.
///
/// A `Redactor` is cheap to clone: clones share the registered secrets.
/// Use [`global`] for the process-wide instance that every output path
/// consults.
#[derive(Clone, Default)]
pub struct Redactor {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// Every pattern, plain and encoded (a set, so re-registering is free).
    patterns: BTreeSet<Vec<u8>>,
    compiled: Option<Arc<Compiled>>,
}

struct Compiled {
    automaton: AhoCorasick,
    max_len: usize,
}

/// The process-wide redactor: every resolved secret is registered here, and
/// everything written to the terminal, logs or files passes through it.
pub fn global() -> &'static Redactor {
    static GLOBAL: OnceLock<Redactor> = OnceLock::new();
    GLOBAL.get_or_init(Redactor::default)
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret: its plain value, each line of a multi-line value,
    /// and its encoded forms (base64 standard and URL-safe at all three
    /// alignments, URL encoding, JSON escaping, hex).
    pub fn register(&self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let mut added = Vec::new();
        for form in encoded_forms(secret) {
            if form.len() >= MIN_ENCODED_LEN || form == secret.as_bytes() {
                added.push(form);
            }
        }
        // Each line of a multi-line value on its own: GitHub masks that way,
        // and it lets a streaming writer cut after a newline safely.
        if secret.contains('\n') {
            for line in secret.lines().map(|l| l.trim_end_matches('\r')) {
                if line.len() >= MIN_ENCODED_LEN {
                    added.extend(encoded_forms(line));
                }
            }
        }
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let before = inner.patterns.len();
        inner.patterns.extend(added);
        if inner.patterns.len() != before {
            inner.compiled = compile(&inner.patterns).map(Arc::new);
        }
    }

    /// Whether no secret is registered.
    pub fn is_empty(&self) -> bool {
        self.snapshot().is_none()
    }

    /// Replaces every registered secret, in any encoded form, with `****`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.redact_bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // Patterns are valid UTF-8 (or ASCII encodings of it), and the
            // mask is ASCII, but a pattern may be a line of a value cut inside
            // a multi-byte character in theory: stay lossless in practice.
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    /// Byte-oriented [`Redactor::redact`], for child output that may not be
    /// UTF-8.
    pub fn redact_bytes<'a>(&self, input: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(compiled) = self.snapshot() else {
            return Cow::Borrowed(input);
        };
        if compiled.automaton.find(input).is_none() {
            return Cow::Borrowed(input);
        }
        let mut out = Vec::with_capacity(input.len());
        compiled
            .automaton
            .replace_all_with_bytes(input, &mut out, |_, _, dst| {
                dst.extend_from_slice(MASK.as_bytes());
                true
            });
        Cow::Owned(out)
    }

    /// Wraps a writer so that everything written through it is redacted,
    /// also when a secret is split across writes.
    pub fn writer<W: Write>(&self, inner: W) -> RedactingWriter<W> {
        RedactingWriter {
            redactor: self.clone(),
            inner,
            pending: Vec::new(),
        }
    }

    fn snapshot(&self) -> Option<Arc<Compiled>> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .compiled
            .clone()
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .patterns
            .len();
        f.debug_struct("Redactor")
            .field("patterns", &count)
            .finish_non_exhaustive()
    }
}

fn compile(patterns: &BTreeSet<Vec<u8>>) -> Option<Compiled> {
    if patterns.is_empty() {
        return None;
    }
    let max_len = patterns.iter().map(Vec::len).max().unwrap_or(0);
    // Patterns are plain bytes; building cannot fail for our sizes, and if it
    // ever did, refusing to run is better than printing secrets.
    let automaton = AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .build(patterns)
        .unwrap_or_else(|err| panic!("cannot build the redaction automaton: {err}"));
    Some(Compiled { automaton, max_len })
}

/// The plain value and every encoded form a secret can take in output.
fn encoded_forms(secret: &str) -> Vec<Vec<u8>> {
    let bytes = secret.as_bytes();
    let mut forms = vec![bytes.to_vec()];

    // JSON string escaping (without the quotes).
    if let Ok(json) = serde_json::to_string(secret) {
        forms.push(json.as_bytes()[1..json.len() - 1].to_vec());
    }
    // Percent-encoding as a URL component and as a form value, with upper
    // and lower case hex digits.
    // Encoders disagree on `-._~` (and JavaScript's on `!'()*`): cover both
    // ends of the range.
    let strict = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
    forms.push(strict.to_ascii_lowercase().into_bytes());
    forms.push(strict.into_bytes());
    let component = utf8_percent_encode(secret, COMPONENT).to_string();
    forms.push(component.to_ascii_lowercase().into_bytes());
    forms.push(component.replace("%20", "+").into_bytes());
    forms.push(component.into_bytes());
    // Hex.
    let hex = hex::encode(bytes);
    forms.push(hex.to_ascii_uppercase().into_bytes());
    forms.push(hex.into_bytes());
    // Base64 at the three alignments a value can have inside a larger
    // encoded blob (`user:token` in a Basic header, a token inside JSON):
    // keep only the characters that depend on the secret alone.
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3usize {
            let mut input = vec![0u8; offset];
            input.extend_from_slice(bytes);
            let encoded = engine.encode(&input);
            let start = (offset * 8).div_ceil(6);
            let end = input.len() * 8 / 6;
            if end > start {
                forms.push(encoded.as_bytes()[start..end].to_vec());
            }
        }
    }
    forms.retain(|f| !f.is_empty());
    forms
}

/// A writer that redacts everything passing through it.
///
/// It holds back the shortest tail that could still be the start of a
/// secret, so a value split across two writes is masked as a whole. Text up
/// to the last newline is released at once (every line of a multi-line
/// secret is a pattern of its own), so line-oriented output is not delayed.
/// Call [`RedactingWriter::finish`] at the end to release the held tail.
pub struct RedactingWriter<W: Write> {
    redactor: Redactor,
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> RedactingWriter<W> {
    /// Releases what is held back (redacted) and flushes. Dropping the
    /// writer does the same, ignoring errors.
    pub fn finish(&mut self) -> io::Result<()> {
        self.drain(true)?;
        self.inner.flush()
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Writes out everything that can no longer be the start of a secret;
    /// with `all`, everything.
    fn drain(&mut self, all: bool) -> io::Result<()> {
        let Some(compiled) = self.redactor.snapshot() else {
            self.inner.write_all(&self.pending)?;
            self.pending.clear();
            return Ok(());
        };
        let len = self.pending.len();
        let cut = if all {
            len
        } else {
            let by_length = len.saturating_sub(compiled.max_len.saturating_sub(1));
            let after_newline = self
                .pending
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            by_length.max(after_newline)
        };
        let mut pos = 0;
        for m in compiled.automaton.find_iter(&self.pending) {
            if m.start() >= cut {
                break;
            }
            self.inner.write_all(&self.pending[pos..m.start()])?;
            self.inner.write_all(MASK.as_bytes())?;
            pos = m.end();
        }
        let release_to = cut.max(pos);
        if release_to > pos {
            self.inner.write_all(&self.pending[pos..release_to])?;
        }
        self.pending.drain(..release_to);
        Ok(())
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        self.drain(false)?;
        Ok(buf.len())
    }

    /// Flushes the inner writer; the held tail stays held (releasing it could
    /// print the first half of a secret).
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = self.drain(true);
        let _ = self.inner.flush();
    }
}

impl<W: Write> std::fmt::Debug for RedactingWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedactingWriter")
            .field("held", &self.pending.len())
            .finish_non_exhaustive()
    }
}
