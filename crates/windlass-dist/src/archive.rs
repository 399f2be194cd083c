//! Reproducible archive writers: a zip writer that deflates entries on all
//! cores and writes them in order, and a pax/ustar tar.gz writer.
//!
//! Every entry gets the same timestamp ([`Timestamp`]), a mode of `0644` or
//! `0755`, uid/gid 0 and empty owner names; entries are written in the order
//! given (callers sort them); gzip headers carry mtime 0 and no file name.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::DeflateEncoder;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// Seconds since the Unix epoch used for every archive entry.
///
/// `SOURCE_DATE_EPOCH` when set, else 1980-01-01T00:00:00Z: the earliest
/// time a zip entry can hold, so wheels and sdists agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// 1980-01-01T00:00:00Z.
    pub const DEFAULT: Self = Self(315_532_800);

    /// The value of `SOURCE_DATE_EPOCH` (from the caller's environment) if
    /// it is an integer, else [`Self::DEFAULT`].
    pub fn from_source_date_epoch(value: Option<&str>) -> Self {
        value
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(Self::DEFAULT, Self)
    }

    /// MS-DOS (time, date) in UTC, clamped to the range zip can hold.
    fn dos(self) -> (u16, u16) {
        let secs = self.0.clamp(Self::DEFAULT.0, 4_354_819_199); // 2107-12-31T23:59:59Z
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        let time = ((rem / 3600) << 11) | (((rem % 3600) / 60) << 5) | ((rem % 60) / 2);
        let date = ((y - 1980) << 9) | (m << 5) | d;
        (
            u16::try_from(time).unwrap_or(0),
            u16::try_from(date).unwrap_or(0),
        )
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Howard Hinnant's algorithm, shifted so that eras start on March 1st.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Where an entry's bytes come from.
#[derive(Debug, Clone)]
pub enum Source {
    Disk(PathBuf),
    Bytes(Vec<u8>),
}

/// One file to put into an archive.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path inside the archive, `/`-separated.
    pub path: String,
    pub source: Source,
    pub executable: bool,
}

impl Entry {
    pub fn bytes(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.into(),
            source: Source::Bytes(bytes.into()),
            executable: false,
        }
    }

    pub fn disk(path: impl Into<String>, source: &Path) -> Self {
        Self {
            path: path.into(),
            source: Source::Disk(source.to_path_buf()),
            executable: is_executable(source),
        }
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o100 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    false
}

fn mode(executable: bool) -> u32 {
    if executable { 0o755 } else { 0o644 }
}

/// What was written for one entry: what RECORD needs.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: String,
    pub sha256: [u8; 32],
    pub size: u64,
}

/// Files above this size are streamed straight into the archive instead of
/// being deflated into memory in parallel.
const STREAM_THRESHOLD: u64 = 16 * 1024 * 1024;
/// How much input one parallel window may hold.
const WINDOW_BYTES: u64 = 64 * 1024 * 1024;
const WINDOW_ENTRIES: usize = 1024;
const BUF: usize = 64 * 1024;

struct Compressed {
    data: Vec<u8>,
    method: u16,
    crc: u32,
    size: u64,
    sha256: [u8; 32],
}

struct CentralEntry {
    name: String,
    method: u16,
    crc: u32,
    csize: u32,
    usize: u32,
    offset: u32,
    mode: u32,
}

/// A zip writer for wheels: parallel deflate, sequential ordered output.
#[derive(Debug)]
pub struct ZipWriter {
    out: BufWriter<File>,
    offset: u64,
    dos: (u16, u16),
    central: Vec<CentralEntryDebug>,
    written: Vec<Written>,
    level: Compression,
}

// Wrapper so that `ZipWriter` can derive `Debug` without printing data.
struct CentralEntryDebug(CentralEntry);

impl std::fmt::Debug for CentralEntryDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.name)
    }
}

fn too_big(what: &str) -> io::Error {
    io::Error::other(format!(
        "{what} exceeds the 4 GiB zip limit (zip64 is not supported)"
    ))
}

impl ZipWriter {
    pub fn new(file: File, timestamp: Timestamp) -> Self {
        Self {
            out: BufWriter::with_capacity(1 << 20, file),
            offset: 0,
            dos: timestamp.dos(),
            central: Vec::new(),
            written: Vec::new(),
            level: Compression::new(6),
        }
    }

    /// Everything written so far, in order.
    pub fn written(&self) -> &[Written] {
        &self.written
    }

    /// Adds entries in the given order, compressing them in parallel.
    pub fn add_all(&mut self, entries: &[Entry]) -> io::Result<()> {
        let mut start = 0;
        while start < entries.len() {
            let mut end = start;
            let mut bytes = 0u64;
            while end < entries.len() && end - start < WINDOW_ENTRIES && bytes < WINDOW_BYTES {
                let size = entry_size(&entries[end])?;
                if size > STREAM_THRESHOLD {
                    break;
                }
                bytes += size;
                end += 1;
            }
            if end == start {
                // A large file: stream it on its own.
                self.stream_entry(&entries[start])?;
                start += 1;
                continue;
            }
            let level = self.level;
            let compressed: Vec<io::Result<Compressed>> = entries[start..end]
                .par_iter()
                .map(|e| compress(e, level))
                .collect();
            for (entry, c) in entries[start..end].iter().zip(compressed) {
                let c = c.map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", entry.path)))?;
                self.write_compressed(entry, &c)?;
            }
            start = end;
        }
        Ok(())
    }

    #[allow(clippy::similar_names)] // csize/usize are the zip spec's names
    fn write_compressed(&mut self, entry: &Entry, c: &Compressed) -> io::Result<()> {
        let usize = u32::try_from(c.size).map_err(|_| too_big(&entry.path))?;
        let csize = u32::try_from(c.data.len()).map_err(|_| too_big(&entry.path))?;
        let offset = u32::try_from(self.offset).map_err(|_| too_big("the archive"))?;
        let header = self.local_header(&entry.path, c.method, c.crc, csize, usize)?;
        self.out.write_all(&header)?;
        self.out.write_all(&c.data)?;
        self.offset += header.len() as u64 + c.data.len() as u64;
        self.central.push(CentralEntryDebug(CentralEntry {
            name: entry.path.clone(),
            method: c.method,
            crc: c.crc,
            csize,
            usize,
            offset,
            mode: mode(entry.executable),
        }));
        self.written.push(Written {
            path: entry.path.clone(),
            sha256: c.sha256,
            size: c.size,
        });
        Ok(())
    }

    #[allow(clippy::similar_names)] // csize/usize are the zip spec's names
    fn stream_entry(&mut self, entry: &Entry) -> io::Result<()> {
        let Source::Disk(path) = &entry.source else {
            let c = compress(entry, self.level)?;
            return self.write_compressed(entry, &c);
        };
        let offset = u32::try_from(self.offset).map_err(|_| too_big("the archive"))?;
        let header = self.local_header(&entry.path, 8, 0, 0, 0)?;
        self.out.write_all(&header)?;
        let data_start = self.offset + header.len() as u64;
        let mut input = open(path)?;
        let mut hasher = Sha256::new();
        let mut crc = crc32fast::Hasher::new();
        let mut size = 0u64;
        let mut encoder = DeflateEncoder::new(&mut self.out, self.level);
        let mut buf = vec![0u8; BUF];
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            crc.update(&buf[..n]);
            size += n as u64;
            encoder.write_all(&buf[..n])?;
        }
        encoder.finish()?;
        self.out.flush()?;
        let file = self.out.get_mut();
        let end = file.stream_position()?;
        let csize = u32::try_from(end - data_start).map_err(|_| too_big(&entry.path))?;
        let usize = u32::try_from(size).map_err(|_| too_big(&entry.path))?;
        let crc = crc.finalize();
        // Patch crc and sizes in the local header (offset 14 from its start).
        file.seek(SeekFrom::Start(self.offset + 14))?;
        let mut patch = Vec::with_capacity(12);
        patch.extend_from_slice(&crc.to_le_bytes());
        patch.extend_from_slice(&csize.to_le_bytes());
        patch.extend_from_slice(&usize.to_le_bytes());
        file.write_all(&patch)?;
        file.seek(SeekFrom::Start(end))?;
        self.offset = end;
        self.central.push(CentralEntryDebug(CentralEntry {
            name: entry.path.clone(),
            method: 8,
            crc,
            csize,
            usize,
            offset,
            mode: mode(entry.executable),
        }));
        self.written.push(Written {
            path: entry.path.clone(),
            sha256: hasher.finalize().into(),
            size,
        });
        Ok(())
    }

    fn local_header(
        &self,
        name: &str,
        method: u16,
        crc: u32,
        csize: u32,
        usize: u32,
    ) -> io::Result<Vec<u8>> {
        let name_len = u16::try_from(name.len()).map_err(|_| too_big(name))?;
        let mut h = Vec::with_capacity(30 + name.len());
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&20u16.to_le_bytes());
        h.extend_from_slice(&flags(name).to_le_bytes());
        h.extend_from_slice(&method.to_le_bytes());
        h.extend_from_slice(&self.dos.0.to_le_bytes());
        h.extend_from_slice(&self.dos.1.to_le_bytes());
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&csize.to_le_bytes());
        h.extend_from_slice(&usize.to_le_bytes());
        h.extend_from_slice(&name_len.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        Ok(h)
    }

    /// Writes the central directory and flushes; returns the file.
    pub fn finish(mut self) -> io::Result<(File, Vec<Written>)> {
        let cd_start = u32::try_from(self.offset).map_err(|_| too_big("the archive"))?;
        let count = u16::try_from(self.central.len()).map_err(|_| too_big("the entry count"))?;
        let mut cd = Vec::new();
        for CentralEntryDebug(e) in &self.central {
            let name_len = u16::try_from(e.name.len()).map_err(|_| too_big(&e.name))?;
            cd.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            cd.extend_from_slice(&0x0314u16.to_le_bytes()); // made by: Unix, 2.0
            cd.extend_from_slice(&20u16.to_le_bytes());
            cd.extend_from_slice(&flags(&e.name).to_le_bytes());
            cd.extend_from_slice(&e.method.to_le_bytes());
            cd.extend_from_slice(&self.dos.0.to_le_bytes());
            cd.extend_from_slice(&self.dos.1.to_le_bytes());
            cd.extend_from_slice(&e.crc.to_le_bytes());
            cd.extend_from_slice(&e.csize.to_le_bytes());
            cd.extend_from_slice(&e.usize.to_le_bytes());
            cd.extend_from_slice(&name_len.to_le_bytes());
            cd.extend_from_slice(&[0; 8]); // extra len, comment len, disk, internal attrs
            cd.extend_from_slice(&((0o100_000 | e.mode) << 16).to_le_bytes());
            cd.extend_from_slice(&e.offset.to_le_bytes());
            cd.extend_from_slice(e.name.as_bytes());
        }
        let cd_size = u32::try_from(cd.len()).map_err(|_| too_big("the central directory"))?;
        self.out.write_all(&cd)?;
        let mut end = Vec::with_capacity(22);
        end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        end.extend_from_slice(&[0; 4]);
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&cd_size.to_le_bytes());
        end.extend_from_slice(&cd_start.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        self.out.write_all(&end)?;
        let file = self
            .out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        Ok((file, self.written))
    }
}

/// Opens a file to archive: a regular file only, never a fifo that would
/// block or a device that never ends.
fn open(path: &Path) -> io::Result<windlass_fs::RegularFile> {
    windlass_fs::open(path).map_err(io::Error::other)
}

fn flags(name: &str) -> u16 {
    if name.is_ascii() { 0 } else { 0x0800 }
}

fn entry_size(entry: &Entry) -> io::Result<u64> {
    match &entry.source {
        Source::Bytes(b) => Ok(b.len() as u64),
        Source::Disk(p) => Ok(std::fs::metadata(p)?.len()),
    }
}

fn compress(entry: &Entry, level: Compression) -> io::Result<Compressed> {
    let mut hasher = Sha256::new();
    let mut crc = crc32fast::Hasher::new();
    let mut encoder = DeflateEncoder::new(Vec::new(), level);
    let size;
    let mut raw = Vec::new();
    match &entry.source {
        Source::Bytes(b) => {
            hasher.update(b);
            crc.update(b);
            encoder.write_all(b)?;
            size = b.len() as u64;
            raw.extend_from_slice(b);
        }
        Source::Disk(path) => {
            // Only files up to the threshold are compressed in memory; one
            // that grew since it was measured is an error, not a memory hog.
            raw = open(path)?
                .read_bytes(STREAM_THRESHOLD)
                .map_err(io::Error::other)?;
            hasher.update(&raw);
            crc.update(&raw);
            encoder.write_all(&raw)?;
            size = raw.len() as u64;
        }
    }
    let deflated = encoder.finish()?;
    let (data, method) = if deflated.len() < raw.len() {
        (deflated, 8)
    } else {
        (raw, 0)
    };
    Ok(Compressed {
        data,
        method,
        crc: crc.finalize(),
        size,
        sha256: hasher.finalize().into(),
    })
}

/// A reproducible `.tar.gz` writer for sdists (ustar headers, pax records for
/// long paths).
pub struct TarGzWriter {
    builder: tar::Builder<flate2::write::GzEncoder<BufWriter<File>>>,
    mtime: u64,
}

impl std::fmt::Debug for TarGzWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TarGzWriter")
            .field("mtime", &self.mtime)
            .finish_non_exhaustive()
    }
}

impl TarGzWriter {
    pub fn new(file: File, timestamp: Timestamp) -> Self {
        let gz = flate2::GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(BufWriter::with_capacity(1 << 20, file), Compression::new(9));
        let mut builder = tar::Builder::new(gz);
        builder.mode(tar::HeaderMode::Deterministic);
        Self {
            builder,
            mtime: timestamp.0,
        }
    }

    /// Appends one regular file.
    pub fn add(&mut self, entry: &Entry) -> io::Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(mode(entry.executable));
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("")?;
        header.set_groupname("")?;
        header.set_mtime(self.mtime);
        if header.set_path(&entry.path).is_err() {
            self.builder
                .append_pax_extensions([("path", entry.path.as_bytes())])?;
            let short: String = entry
                .path
                .chars()
                .rev()
                .take(90)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            header.set_path(short.trim_start_matches('/'))?;
        }
        match &entry.source {
            Source::Bytes(b) => {
                header.set_size(b.len() as u64);
                header.set_cksum();
                self.builder.append(&header, b.as_slice())
            }
            Source::Disk(p) => {
                let file = open(p)?;
                let len = file.len();
                header.set_size(len);
                header.set_cksum();
                // Exactly the size in the header, even if the file grew.
                self.builder.append(&header, file.take(len))
            }
        }
    }

    pub fn finish(self) -> io::Result<File> {
        let gz = self.builder.into_inner()?;
        let buf = gz.finish()?;
        buf.into_inner()
            .map_err(std::io::IntoInnerError::into_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_times() {
        let cases = [
            ("default", Timestamp::DEFAULT),
            ("before 1980 clamps", Timestamp(0)),
            ("2024-02-29T12:34:56Z", Timestamp(1_709_210_096)),
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|(n, t)| {
                let (time, date) = t.dos();
                format!(
                    "{n}: {}-{:02}-{:02} {:02}:{:02}:{:02}",
                    1980 + (date >> 9),
                    (date >> 5) & 0xf,
                    date & 0x1f,
                    time >> 11,
                    (time >> 5) & 0x3f,
                    (time & 0x1f) * 2
                )
            })
            .collect();
        insta::assert_snapshot!(out.join("\n"), @r"
        default: 1980-01-01 00:00:00
        before 1980 clamps: 1980-01-01 00:00:00
        2024-02-29T12:34:56Z: 2024-02-29 12:34:56
        ");
    }
}
