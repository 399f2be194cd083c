//! gzip on every core, with the same bytes on every machine.
//!
//! The stream is cut into fixed 4 MiB pieces, each compressed on its own
//! thread as one gzip member (no name, mtime 0, OS "unknown"), and the
//! members are written in order: RFC 1952 allows a file of several members,
//! and every gzip reader of the container world (Go's `compress/gzip`,
//! klauspost's, zlib's `gunzip`) reads them as one stream. The cut depends
//! only on the byte count, never on the number of threads or on how the
//! writes fall, so the blob and its digest are reproducible.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::thread::JoinHandle;

/// The size of one member's input.
pub const PIECE: usize = 4 << 20;

/// A writer compressing into `inner` on several threads.
pub struct ParallelGzip<W: Write> {
    inner: W,
    piece_size: usize,
    piece: Vec<u8>,
    in_flight: VecDeque<JoinHandle<io::Result<Vec<u8>>>>,
    max_in_flight: usize,
    /// Whether a member was written (an empty stream still gets one).
    wrote_member: bool,
}

impl<W: Write> std::fmt::Debug for ParallelGzip<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelGzip")
            .field("buffered", &self.piece.len())
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl<W: Write> ParallelGzip<W> {
    pub fn new(inner: W) -> Self {
        Self::with_piece_size(inner, PIECE)
    }

    /// Cuts the stream every `piece_size` bytes instead (tests).
    fn with_piece_size(inner: W, piece_size: usize) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self {
            inner,
            piece_size,
            piece: Vec::with_capacity(piece_size),
            in_flight: VecDeque::new(),
            max_in_flight: threads.max(1) * 2,
            wrote_member: false,
        }
    }

    /// Compresses what is left, writes every member in order and returns
    /// the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.piece.is_empty() || (!self.wrote_member && self.in_flight.is_empty()) {
            self.send()?;
        }
        while !self.in_flight.is_empty() {
            self.write_oldest()?;
        }
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn send(&mut self) -> io::Result<()> {
        let piece = std::mem::replace(&mut self.piece, Vec::with_capacity(self.piece_size));
        self.in_flight
            .push_back(std::thread::spawn(move || member(&piece)));
        self.wrote_member = true;
        while self.in_flight.len() >= self.max_in_flight {
            self.write_oldest()?;
        }
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        if let Some(handle) = self.in_flight.pop_front() {
            let bytes = handle
                .join()
                .map_err(|_| io::Error::other("a gzip thread panicked"))??;
            self.inner.write_all(&bytes)?;
        }
        Ok(())
    }
}

/// One gzip member of `input`.
fn member(input: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(
            Vec::with_capacity(input.len() / 3 + 64),
            flate2::Compression::default(),
        );
    encoder.write_all(input)?;
    encoder.finish()
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.piece_size - self.piece.len();
        let n = buf.len().min(room);
        self.piece.extend_from_slice(&buf[..n]);
        if self.piece.len() == self.piece_size {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Pieces are cut by size only: a flush never cuts one.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    const PIECE_SIZE: usize = 64 << 10;

    fn compress(data: &[u8], write_size: usize) -> Vec<u8> {
        let mut gz = ParallelGzip::with_piece_size(Vec::new(), PIECE_SIZE);
        for chunk in data.chunks(write_size.max(1)) {
            gz.write_all(chunk).unwrap();
        }
        gz.finish().unwrap()
    }

    #[test]
    fn one_stream_whatever_the_writes() {
        let data: Vec<u8> = (0..(PIECE_SIZE * 2 + 12_345))
            .map(|i| u8::try_from((i * 7 + i / 1000) % 251).unwrap())
            .collect();
        let a = compress(&data, 1 << 16);
        let b = compress(&data, 4097);
        assert_eq!(a, b, "the cut depends on the byte count only");
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&a[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        // Three members, each a complete gzip stream.
        let members = a.windows(4).filter(|w| *w == [0x1f, 0x8b, 8, 0]).count();
        assert!(members >= 3, "{members}");
        // An empty stream is one empty member.
        let empty = compress(b"", 1);
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&empty[..])
            .read_to_end(&mut out)
            .unwrap();
        assert!(out.is_empty() && !empty.is_empty());
    }
}
