use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind};

use self::automaton::Automaton;
use self::scan::{Scan, emit, joins_lines};

mod automaton;
mod forms;
mod scan;

/// Everything Windlass must never print, with the automata that find it.
///
/// Each registered secret is matched in its plain and encoded forms (see
/// [`Redactor::register`]), also where a line break of wrapped base64 or hex
/// output falls inside it. Where matches overlap (two secrets that share
/// bytes, one inside another), the union of their bytes is masked: each run
/// of masked bytes becomes one `****`, except that the line breaks of
/// wrapped output are kept.
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
    /// Every pattern (a set, so re-registering is free).
    plain: BTreeSet<Vec<u8>>,
    /// The base64 and hex patterns, also matched across wrapped lines.
    wrapped: BTreeSet<Vec<u8>>,
    /// The automata of the patterns, built when first needed after a
    /// change: registering many secrets in a row builds them once.
    compiled: Option<Arc<Compiled>>,
    /// Whether patterns were added since `compiled` was built.
    stale: bool,
    /// Told of every newly registered secret (see [`Redactor::on_register`]).
    observer: Option<Observer>,
}

/// What [`Redactor::on_register`] calls.
type Observer = Arc<dyn Fn(&str) + Send + Sync>;

struct Compiled {
    /// Finds plain matches fast, so that text without any secret is
    /// returned as it is after one quick pass. `None` if the crate refused
    /// the patterns: every text then takes the full pass.
    quick: Option<AhoCorasick>,
    /// The plain view: every pattern.
    plain: Automaton,
    /// The wrapped view, if any base64 or hex pattern is registered.
    wrapped: Option<Automaton>,
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

    /// Registers a secret: its plain value and its encoded forms: JSON
    /// string escaping (raw non-ASCII or `\uXXXX` with surrogate pairs, Go's
    /// HTML-safe escapes, escaped `/`), percent-encoding (the unreserved sets
    /// of the common encoders, `+` for spaces, every byte encoded; upper- or
    /// lower-case hex digits), hex, and base64 standard and URL-safe at all
    /// three alignments. Base64 and hex forms are also found when wrapped
    /// over several lines.
    ///
    /// A multi-line value is matched as a whole with LF, CRLF and CR line
    /// endings, each line of four bytes or more on its own (tools print
    /// values line by line, and GitHub masks that way), and a shorter line
    /// only together with the line break and a neighbouring line. A line of
    /// one to three bytes printed on its own stays visible: it holds next to
    /// nothing of the secret, and masking every `}`, `ok` or `==` in the
    /// output would make it unreadable.
    pub fn register(&self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let forms = forms::of(secret);
        let observer = {
            let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
            let before = (inner.plain.len(), inner.wrapped.len());
            inner.plain.extend(forms.plain);
            inner.wrapped.extend(forms.wrapped);
            if (inner.plain.len(), inner.wrapped.len()) == before {
                None
            } else {
                inner.stale = true;
                inner.observer.clone()
            }
        };
        // Outside the lock: the observer may print, and printing redacts.
        if let Some(observer) = observer {
            observer(secret);
        }
    }

    /// Calls `observer` with the raw value of every secret registered from
    /// now on (once per new value), before `register` returns: in GitHub
    /// Actions, `windlass-output` tells the runner to mask it there, before
    /// anything can print it. Replaces an earlier observer.
    pub fn on_register(&self, observer: impl Fn(&str) + Send + Sync + 'static) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.observer = Some(Arc::new(observer));
    }

    /// Whether no secret is registered.
    pub fn is_empty(&self) -> bool {
        self.snapshot().is_none()
    }

    /// Replaces every registered secret, in any encoded form, with `****`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.redact_bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // Patterns are valid UTF-8 or ASCII, and so start and end on
            // character boundaries of valid UTF-8 text; the mask is ASCII.
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    /// Byte-oriented [`Redactor::redact`], for child output that may not be
    /// UTF-8.
    pub fn redact_bytes<'a>(&self, input: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(compiled) = self.snapshot() else {
            return Cow::Borrowed(input);
        };
        let plain_match = compiled
            .quick
            .as_ref()
            .is_none_or(|quick| quick.find(input).is_some());
        if !plain_match && (compiled.wrapped.is_none() || !joins_lines(input)) {
            return Cow::Borrowed(input);
        }
        let mut masked = vec![false; input.len()];
        Scan::new().feed(&compiled, input, 0, 0, &mut masked);
        if !masked.contains(&true) {
            return Cow::Borrowed(input);
        }
        let mut out = Vec::with_capacity(input.len());
        emit(input, &masked, &mut false, &mut out);
        Cow::Owned(out)
    }

    /// Wraps a writer so that everything written through it is redacted,
    /// also when a secret is split across writes.
    pub fn writer<W: Write>(&self, inner: W) -> RedactingWriter<W> {
        RedactingWriter {
            redactor: self.clone(),
            inner,
            pending: Vec::new(),
            masked: Vec::new(),
            base: 0,
            scan: Scan::new(),
            compiled: None,
            in_mask: false,
        }
    }

    /// The automata of every pattern registered so far, built now if a
    /// secret was registered since they were last built.
    fn snapshot(&self) -> Option<Arc<Compiled>> {
        {
            let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
            if !inner.stale {
                return inner.compiled.clone();
            }
        }
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if inner.stale {
            inner.compiled = Some(Arc::new(compile(&inner.plain, &inner.wrapped)));
            inner.stale = false;
        }
        inner.compiled.clone()
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .plain
            .len();
        f.debug_struct("Redactor")
            .field("patterns", &count)
            .finish_non_exhaustive()
    }
}

fn compile(plain: &BTreeSet<Vec<u8>>, wrapped: &BTreeSet<Vec<u8>>) -> Compiled {
    Compiled {
        // A contiguous NFA builds many times faster than the DFA the crate
        // would pick for few patterns, and every registration rebuilds.
        quick: AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(plain)
            .ok(),
        plain: Automaton::new(plain.iter().map(Vec::as_slice)),
        wrapped: (!wrapped.is_empty()).then(|| Automaton::new(wrapped.iter().map(Vec::as_slice))),
    }
}

/// A writer that redacts everything passing through it.
///
/// It holds back only the bytes that could still become part of a secret:
/// the longest tail that some pattern continues and, after a line that ends
/// in a long run of base64 or hex, the part of that run a wrapped secret may
/// continue on the next line. Everything else (in line-oriented output,
/// every complete line) is released at once, and the result is the same as
/// [`Redactor::redact_bytes`] on the whole stream, however it is split into
/// writes. Call [`RedactingWriter::finish`] at the end to release the held
/// tail.
pub struct RedactingWriter<W: Write> {
    redactor: Redactor,
    inner: W,
    /// Bytes not yet released, with whether each is part of a secret.
    pending: Vec<u8>,
    masked: Vec<bool>,
    /// Stream offset of `pending[0]`.
    base: u64,
    scan: Scan,
    /// The automata `scan` runs on (the redactor's may change when a secret
    /// is registered while the writer is open).
    compiled: Option<Arc<Compiled>>,
    /// The last byte released was masked.
    in_mask: bool,
}

impl<W: Write> RedactingWriter<W> {
    /// Releases what is held back (redacted) and flushes. Dropping the
    /// writer does the same, ignoring errors. What is written afterwards
    /// starts a new stream.
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

    /// Scans the bytes from `from` on (all of them when the automata
    /// changed since the last scan).
    fn scan(&mut self, from: usize) {
        let current = self.redactor.snapshot();
        let from = match (&current, &self.compiled) {
            (Some(current), Some(previous)) if Arc::ptr_eq(current, previous) => from,
            _ => {
                // A secret was registered: scan what is held again with the
                // new automata. What was released stays as it was.
                self.scan = Scan::new();
                self.compiled = current;
                0
            }
        };
        if let Some(compiled) = &self.compiled {
            self.scan
                .feed(compiled, &self.pending, self.base, from, &mut self.masked);
        }
    }

    /// Writes out everything that can no longer become part of a secret;
    /// with `all`, everything.
    fn drain(&mut self, all: bool) -> io::Result<()> {
        let end = self.base + self.pending.len() as u64;
        let open_from = match &self.compiled {
            Some(compiled) if !all => self.scan.open_from(compiled, end),
            _ => end,
        };
        let release = usize::try_from(open_from.saturating_sub(self.base))
            .map_or(self.pending.len(), |n| n.min(self.pending.len()));
        if release > 0 {
            let mut out = Vec::with_capacity(release);
            emit(
                &self.pending[..release],
                &self.masked[..release],
                &mut self.in_mask,
                &mut out,
            );
            self.inner.write_all(&out)?;
            self.pending.drain(..release);
            self.masked.drain(..release);
            self.base += release as u64;
        }
        if all {
            self.scan = Scan::new();
            self.in_mask = false;
        }
        Ok(())
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let from = self.pending.len();
        self.pending.extend_from_slice(buf);
        self.masked.resize(self.pending.len(), false);
        self.scan(from);
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
