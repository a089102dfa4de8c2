//! Zip archives as the extractors read them (plain archives and the zip
//! containers of Office and OpenDocument files): held for random access,
//! their declared member count checked before the zip crate sizes its
//! tables by it, and members opened decompressed and bounded.

use super::expand::{Compressed, Expand, RATIO_FLOOR};
use super::Ctx;
use crate::error::ExtractError;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use zip::result::ZipError;
use zip::ZipArchive;

/// Whether member `index` declares more bytes than the budget has left
/// (then the rest of the archive cannot be read either).
pub(crate) fn declared_over_budget<R: Read + Seek>(
    ctx: &Ctx,
    archive: &mut ZipArchive<R>,
    index: usize,
) -> bool {
    let left = ctx
        .limits()
        .max_expanded_bytes
        .saturating_sub(ctx.budget.expanded.get());
    archive.by_index_raw(index).is_ok_and(|f| f.size() > left)
}

/// Bytes of an end-of-central-directory search: the record (22) plus the
/// longest comment (65535).
const EOCD_SEARCH: u64 = 22 + 65535;

/// How many members the archive's end record declares, if it has one.
/// Checked before the zip crate sizes its tables by it.
pub(crate) fn declared_entries<R: Read + Seek>(r: &mut R) -> io::Result<Option<u64>> {
    let len = r.seek(SeekFrom::End(0))?;
    let from = len.saturating_sub(EOCD_SEARCH);
    r.seek(SeekFrom::Start(from))?;
    let mut tail = Vec::new();
    r.take(EOCD_SEARCH).read_to_end(&mut tail)?;
    let Some(pos) = memchr::memmem::rfind(&tail, b"PK\x05\x06") else {
        return Ok(None);
    };
    let count16 = tail
        .get(pos + 10..pos + 12)
        .map(|b| u16::from_le_bytes([b[0], b[1]]));
    let Some(count16) = count16 else {
        return Ok(None);
    };
    if count16 != 0xFFFF {
        return Ok(Some(u64::from(count16)));
    }
    // Zip64: the locator sits just before the end record and points at the
    // zip64 end record, which holds the 64-bit count.
    let locator = pos
        .checked_sub(20)
        .and_then(|at| tail.get(at..at + 20))
        .filter(|l| l.starts_with(b"PK\x06\x07"));
    let Some(locator) = locator else {
        return Ok(None);
    };
    let mut offset = [0u8; 8];
    offset.copy_from_slice(&locator[8..16]);
    let offset = u64::from_le_bytes(offset);
    if offset >= len {
        return Ok(None);
    }
    r.seek(SeekFrom::Start(offset))?;
    let mut record = [0u8; 40];
    if r.read_exact(&mut record).is_err() || !record.starts_with(b"PK\x06\x06") {
        return Ok(None);
    }
    let mut count = [0u8; 8];
    count.copy_from_slice(&record[32..40]);
    Ok(Some(u64::from_le_bytes(count)))
}

/// Either an archive held in memory or one spilled to a temporary file.
pub(crate) enum Spooled {
    Memory(Cursor<Vec<u8>>),
    File(std::fs::File),
}

impl Read for Spooled {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Spooled::Memory(c) => c.read(buf),
            Spooled::File(f) => f.read(buf),
        }
    }
}

impl Seek for Spooled {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            Spooled::Memory(c) => c.seek(pos),
            Spooled::File(f) => f.seek(pos),
        }
    }
}

/// Reads the whole stream for random access: into memory up to
/// `in_memory` bytes, into an anonymous temporary file beyond that.
pub(crate) fn spool(
    head: &[u8],
    rest: &mut dyn Read,
    in_memory: u64,
) -> Result<Spooled, ExtractError> {
    let mut data = head.to_vec();
    rest.take(
        in_memory
            .saturating_sub(head.len() as u64)
            .saturating_add(1),
    )
    .read_to_end(&mut data)?;
    if data.len() as u64 <= in_memory {
        return Ok(Spooled::Memory(Cursor::new(data)));
    }
    let mut file = tempfile::tempfile()?;
    file.write_all(&data)?;
    drop(data);
    io::copy(rest, &mut file)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(Spooled::File(file))
}

pub(crate) fn zip_corrupt(e: impl std::fmt::Display) -> ExtractError {
    ExtractError::Corrupt {
        format: "zip",
        message: e.to_string(),
    }
}

/// A zip member's decompressed reader and its declared size.
pub(crate) type OpenMember<'z, 'b, R> = (Expand<'b, zip::read::ZipFile<'z, R>>, u64);

/// Opens member `index` for reading, decompressed and bounded. `None` for
/// directories. Encrypted members and those whose declared sizes already
/// break a limit are errors, reported by the caller for that member.
pub(crate) fn open_member<'z, 'b, R: Read + Seek>(
    ctx: &Ctx<'b>,
    archive: &'z mut ZipArchive<R>,
    index: usize,
) -> Result<Option<OpenMember<'z, 'b, R>>, ExtractError> {
    let (is_dir, encrypted, size, compressed) = {
        let raw = archive.by_index_raw(index).map_err(zip_error)?;
        (
            raw.is_dir(),
            raw.encrypted(),
            raw.size(),
            raw.compressed_size(),
        )
    };
    if is_dir {
        return Ok(None);
    }
    if encrypted {
        return Err(ExtractError::Encrypted);
    }
    let limits = ctx.limits();
    if size > RATIO_FLOOR && size > compressed.saturating_mul(limits.max_ratio) {
        return Err(ExtractError::Limit(format!(
            "declared to expand {size} bytes from {compressed}, more than {}:1 (compression bomb?)",
            limits.max_ratio
        )));
    }
    let remaining = limits
        .max_expanded_bytes
        .saturating_sub(ctx.budget.expanded.get());
    if size > remaining {
        return Err(ExtractError::Limit(format!(
            "declared size {size} bytes exceeds what is left of the {} bytes expansion budget",
            limits.max_expanded_bytes
        )));
    }
    let file = archive.by_index(index).map_err(zip_error)?;
    Ok(Some((
        Expand::new(file, ctx, Compressed::Known(compressed), "zip"),
        size,
    )))
}

pub(crate) fn zip_error(e: ZipError) -> ExtractError {
    match e {
        ZipError::Io(e) => ExtractError::Io(e),
        ZipError::UnsupportedArchive(m) if m == ZipError::PASSWORD_REQUIRED => {
            ExtractError::Encrypted
        }
        ZipError::UnsupportedArchive(m) => ExtractError::Unsupported(m.to_string()),
        other => zip_corrupt(other),
    }
}
