//! One pass over output: which bytes belong to a secret.
//!
//! Two views of the same bytes are searched. The plain view is the bytes as
//! they are, against every pattern. The wrapped view joins the lines of
//! wrapped base64 or hex output (`base64`, `openssl base64`, PEM, MIME,
//! `xxd -p`) into one run, against the base64 and hex forms: a line that
//! ends with at least [`MIN_WRAP_WIDTH`] base64 characters is continued by
//! the next line if that line starts (after any indentation) with one; a
//! line break is LF or CRLF, and a lone CR (a progress line redrawn)
//! separates like any other character. A match in either view masks the
//! bytes it covers; line breaks and indentation between the parts of a
//! wrapped match stay as they are.
//!
//! A [`Scan`] is fed bytes in order and can stop anywhere: that is what lets
//! the streaming writer give the same answer as a one-shot redaction, and
//! tell how many of the last bytes might still become part of a secret.

use std::collections::VecDeque;
use std::ops::Range;

use super::Compiled;
use super::automaton::{Automaton, START, State};
use crate::MASK;

/// The shortest line of base64 or hex whose end the next line may continue.
/// Tools wrap at 76 (`base64`, MIME), 64 (`openssl`, PEM) or 60 (`xxd -p`)
/// columns; requiring a long run keeps short words on consecutive lines
/// from being joined.
pub(super) const MIN_WRAP_WIDTH: usize = 16;

/// Indentation longer than this ends wrapped output: the writer holds a
/// possible wrapped secret while indentation goes on, and must not hold
/// without bound.
const MAX_INDENT: usize = 64;

/// Characters of standard and URL-safe base64 (with padding); hex is a
/// subset.
fn is_base64(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=' | b'-' | b'_')
}

/// Where a pass over the output stands.
pub(super) struct Scan {
    plain: State,
    /// The run of bytes the plain view masked last (stream offsets): a
    /// match that starts inside it only needs its new bytes masked, which
    /// keeps runs of overlapping matches linear.
    plain_masked: Range<u64>,
    wrapped: State,
    /// Bytes fed to the wrapped view so far.
    joined_count: u64,
    /// Stream offsets of the last bytes fed to the wrapped view, as many as
    /// its longest pattern.
    joined: VecDeque<u64>,
    /// As `plain_masked`, counted in bytes fed to the wrapped view.
    wrapped_masked: Range<u64>,
    /// Nothing but indentation seen on the current line.
    line_start: bool,
    /// Indentation bytes seen on the current line.
    indent: usize,
    /// Base64 characters at the end of the current line so far.
    run: usize,
    /// The last byte was a CR: a line ending if LF follows, a separator
    /// otherwise.
    after_cr: bool,
}

impl Scan {
    pub(super) fn new() -> Self {
        Self {
            plain: START,
            plain_masked: 0..0,
            wrapped: START,
            joined_count: 0,
            joined: VecDeque::new(),
            wrapped_masked: 0..0,
            line_start: true,
            indent: 0,
            run: 0,
            after_cr: false,
        }
    }

    /// Feeds `buf[from..]`; `buf[0]` is at stream offset `base`, and
    /// `masked[i]` is set for every byte `buf[i]` found inside a secret.
    /// Matches never reach before the bytes the scan said were still open
    /// ([`Scan::open_from`]), so `buf` may start there.
    pub(super) fn feed(
        &mut self,
        compiled: &Compiled,
        buf: &[u8],
        base: u64,
        from: usize,
        masked: &mut [bool],
    ) {
        let mut mark = |offsets: Range<u64>| {
            let start = offsets.start.saturating_sub(base);
            let end = offsets.end.saturating_sub(base);
            if let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end))
                && let Some(bytes) = masked.get_mut(start..end)
            {
                bytes.fill(true);
            }
        };
        for (i, &byte) in buf.iter().enumerate().skip(from) {
            let offset = base + i as u64;
            self.plain = compiled.plain.next(self.plain, byte);
            let len = compiled.plain.matched(self.plain) as u64;
            if len > 0 {
                let new = extend_run(&mut self.plain_masked, offset + 1 - len, offset + 1);
                mark(new);
            }
            if let Some(wrapped) = &compiled.wrapped {
                self.feed_wrapped(wrapped, byte, offset, &mut mark);
            }
        }
    }

    fn feed_wrapped(
        &mut self,
        wrapped: &Automaton,
        byte: u8,
        offset: u64,
        mark: &mut impl FnMut(Range<u64>),
    ) {
        if std::mem::take(&mut self.after_cr) && byte != b'\n' {
            self.separate();
        }
        match byte {
            b'\n' => {
                if self.run < MIN_WRAP_WIDTH {
                    self.reset_wrapped();
                }
                self.run = 0;
                self.line_start = true;
                self.indent = 0;
            }
            b'\r' => self.after_cr = true,
            b' ' | b'\t' if self.line_start => {
                self.indent += 1;
                if self.indent > MAX_INDENT {
                    self.separate();
                }
            }
            byte if is_base64(byte) => {
                self.line_start = false;
                self.run += 1;
                self.wrapped = wrapped.next(self.wrapped, byte);
                self.joined_count += 1;
                self.joined.push_back(offset);
                if self.joined.len() > wrapped.max_len() {
                    self.joined.pop_front();
                }
                let len = wrapped.matched(self.wrapped) as u64;
                if len > 0 {
                    let end = self.joined_count;
                    let new = extend_run(&mut self.wrapped_masked, end - len, end);
                    // `joined` holds the offsets of the last `joined.len()`
                    // bytes fed, and a match is never longer than that.
                    let first = end - self.joined.len() as u64;
                    for count in new {
                        let index = usize::try_from(count - first).ok();
                        if let Some(&offset) = index.and_then(|i| self.joined.get(i)) {
                            mark(offset..offset + 1);
                        }
                    }
                }
            }
            _ => self.separate(),
        }
    }

    /// A byte that is neither base64 nor a line break: wrapped output
    /// cannot go on through it.
    fn separate(&mut self) {
        self.line_start = false;
        self.run = 0;
        self.reset_wrapped();
    }

    fn reset_wrapped(&mut self) {
        self.wrapped = START;
        self.joined.clear();
        self.wrapped_masked = self.joined_count..self.joined_count;
    }

    /// The stream offset from which bytes may still become part of a
    /// secret, given that `end` bytes were fed: everything before it is
    /// settled.
    pub(super) fn open_from(&self, compiled: &Compiled, end: u64) -> u64 {
        let plain = end.saturating_sub(compiled.plain.open(self.plain) as u64);
        let wrapped = match &compiled.wrapped {
            Some(wrapped) => match wrapped.open(self.wrapped) {
                0 => end,
                open => {
                    let first = self.joined.len().saturating_sub(open);
                    self.joined.get(first).copied().unwrap_or(end)
                }
            },
            None => end,
        };
        plain.min(wrapped)
    }
}

/// Records that `start..end` is masked, given that `run` was the last run
/// masked, and returns the part not masked yet.
fn extend_run(run: &mut Range<u64>, start: u64, end: u64) -> Range<u64> {
    if run.contains(&start) || run.end == start {
        let new = run.end.max(start)..end;
        run.end = end;
        new
    } else {
        *run = start..end;
        start..end
    }
}

/// Appends `bytes` to `out` with each run of masked bytes replaced by one
/// [`MASK`]. `in_mask` says whether the byte before `bytes` was masked (a
/// run that goes on gets no second mask) and is updated.
pub(super) fn emit(bytes: &[u8], masked: &[bool], in_mask: &mut bool, out: &mut Vec<u8>) {
    for (&byte, &hidden) in bytes.iter().zip(masked) {
        if hidden {
            if !*in_mask {
                out.extend_from_slice(MASK.as_bytes());
            }
        } else {
            out.push(byte);
        }
        *in_mask = hidden;
    }
}

/// Whether the wrapped view joins two lines of `text` (see
/// [`Scan::feed`]): a quick test that lets text with no plain match skip
/// the full pass.
pub(super) fn joins_lines(text: &[u8]) -> bool {
    let mut long_run = false;
    for line in text.split(|&b| b == b'\n') {
        let starts_with_base64 = line
            .iter()
            .find(|&&b| !matches!(b, b' ' | b'\t'))
            .is_some_and(|&b| is_base64(b));
        if long_run && starts_with_base64 {
            return true;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        long_run = line
            .iter()
            .rev()
            .take_while(|&&b| is_base64(b))
            .nth(MIN_WRAP_WIDTH - 1)
            .is_some();
    }
    false
}
