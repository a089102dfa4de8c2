//! Containers: gzip (`.gz`, `.tgz`), zip and tar, nested to any mix. Each
//! member is scanned through [`Ctx::member`] as `container!member`, so it
//! can be any format again (a tar inside a gzip inside a zip).
//!
//! Bounds (see [`crate::config::ExtractLimits`]):
//! - every decompressed byte (gzip stream, zip member) is charged to the
//!   top-level file's expansion budget as it is produced; when the budget is
//!   used up the member being read and the rest of the container are
//!   reported as not examined (`limit`);
//! - a member producing more than `max_ratio` times its compressed size
//!   (checked once it is past [`super::expand::RATIO_FLOOR`]) is cut off (`limit`);
//! - at most `max_entries` members are opened per container;
//! - nesting depth is enforced by [`Ctx::member`].
//!
//! gzip and tar are streamed: a 4 GB gzipped log is matched in bounded
//! memory. Zip needs random access: an archive is held in memory up to
//! [`SPOOL_IN_MEMORY`] and spilled to an anonymous temporary file (deleted
//! when closed) beyond that.
//!
//! Locations: a member's findings carry the member's own lines and fields;
//! the container adds nothing but the `!` path.

use super::expand::{Compressed, Expand};
use super::zipped::{declared_entries, declared_over_budget, open_member, spool, Spooled};
use super::{uncarry, Ctx};
use crate::error::ExtractError;
use crate::report::SkipReason;
use std::cell::Cell;
use std::io::{self, Cursor, ErrorKind, Read, Seek, SeekFrom};
use std::rc::Rc;
use zip::result::ZipError;

/// Largest zip archive held in memory to be read; a larger one goes to an
/// anonymous temporary file. Read into a growing vector, 192 MB held up to
/// 384 MB while the vector moved; the page cache serves the file as fast.
pub const SPOOL_IN_MEMORY: u64 = 16 << 20;
use zip::ZipArchive;

/// Scans a decompressed member and reports a limit it ran into.
fn member_from<R: Read>(ctx: &mut Ctx, name: &str, expand: &mut Expand<R>) {
    ctx.member(name, expand);
    if let Some(e) = expand.tripped.take() {
        ctx.not_examined(Some(name), super::reason_of(&e), e.to_string());
    }
}

/// Counts bytes read through it into a shared cell.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get().saturating_add(n as u64));
        Ok(n)
    }
}

/// Remembers whether the stream below failed, so that an error surfacing
/// from a parser (which may rewrap it) can be told apart: the source's own
/// failure (unreadable) or bad data (corrupt).
struct Watched<R> {
    inner: R,
    failed: Rc<Cell<bool>>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|_| self.failed.set(true))
    }
}

fn budget_used_up(ctx: &Ctx) -> bool {
    ctx.budget.expanded.get() > ctx.limits().max_expanded_bytes
}

fn budget_error(ctx: &Ctx) -> ExtractError {
    ExtractError::Limit(format!(
        "more than {} bytes expanded from one file; remaining members not examined",
        ctx.limits().max_expanded_bytes
    ))
}

/// The name of what a gzip file holds, the way `gunzip` names it: the file
/// name without its `.gz` (`.tgz` → `.tar`).
fn gunzipped_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    for (suffix, replacement) in [(".tgz", ".tar"), (".taz", ".tar"), (".gz", ""), (".z", "")] {
        if lower.ends_with(suffix) && name.len() > suffix.len() {
            if let Some(stem) = name.get(..name.len() - suffix.len()) {
                return format!("{stem}{replacement}");
            }
        }
    }
    if name.is_empty() {
        "data".to_string()
    } else {
        name.to_string()
    }
}

/// A gzip stream (concatenated members too), decompressed as it is read.
pub fn scan_gzip(ctx: &mut Ctx, head: &[u8], rest: &mut dyn Read) -> Result<(), ExtractError> {
    let consumed = Rc::new(Cell::new(0u64));
    let counting = Counting {
        inner: Cursor::new(head).chain(rest),
        count: consumed.clone(),
    };
    let decoder = flate2::read::MultiGzDecoder::new(counting);
    let mut expand = Expand::new(decoder, ctx, Compressed::Counted(consumed), "gzip");
    let mut inner_head = Vec::new();
    if let Err(e) = (&mut expand)
        .take(super::HEAD_LEN as u64)
        .read_to_end(&mut inner_head)
    {
        // Damaged within its first bytes: what did decompress is still
        // matched, then the file is reported.
        let name = gunzipped_name(ctx.name());
        ctx.member(&name, &mut inner_head.as_slice());
        return Err(uncarry(e.into()));
    }
    // A gzipped tar (`.tgz`, `.tar.gz`) is one container to its users:
    // its members are reported as `x.tgz!member`, not `x.tgz!x.tar!member`.
    if super::detect(&inner_head, "") == super::Kind::Tar {
        let result = scan_tar(ctx, &inner_head, &mut expand);
        // A tar cut short by a limit fails as truncated: report the limit.
        return match expand.tripped.take() {
            Some(limit) => Err(limit),
            None => result,
        };
    }
    let name = gunzipped_name(ctx.name());
    let mut stream = Cursor::new(inner_head).chain(&mut expand);
    ctx.member(&name, &mut stream);
    drop(stream);
    if let Some(e) = expand.tripped.take() {
        ctx.not_examined(Some(&name), super::reason_of(&e), e.to_string());
    }
    Ok(())
}

/// A tar stream: members are scanned one by one as they pass.
pub fn scan_tar(ctx: &mut Ctx, head: &[u8], rest: &mut dyn Read) -> Result<(), ExtractError> {
    let source_failed = Rc::new(Cell::new(false));
    let watched = Watched {
        inner: Cursor::new(head).chain(rest),
        failed: source_failed.clone(),
    };
    let mut archive = tar::Archive::new(watched);
    let tar_error = |e: io::Error| -> ExtractError {
        let failed = source_failed.get();
        match uncarry(ExtractError::Io(e)) {
            ExtractError::Io(e) if !failed => ExtractError::Corrupt {
                format: "tar",
                message: e.to_string(),
            },
            other => other,
        }
    };
    let entries = archive.entries().map_err(tar_error)?;
    let max_entries = ctx.limits().max_entries;
    let mut opened = 0u64;
    for entry in entries {
        let mut entry = entry.map_err(tar_error)?;
        let kind = entry.header().entry_type();
        // Directories, links, devices carry no content of their own.
        if !kind.is_file() && !kind.is_contiguous() {
            continue;
        }
        opened += 1;
        if opened > max_entries {
            return Err(ExtractError::Limit(format!(
                "more than {max_entries} members; the rest were not examined"
            )));
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        ctx.stored_name(&name);
        ctx.member(&name, &mut entry);
        if budget_used_up(ctx) {
            return Err(budget_error(ctx));
        }
    }
    Ok(())
}

/// A zip archive; Office Open XML and OpenDocument files (which are zip
/// archives) go to [`super::office`].
pub fn scan_zip(ctx: &mut Ctx, head: &[u8], rest: &mut dyn Read) -> Result<(), ExtractError> {
    let in_memory = ctx.limits().max_document_bytes.min(SPOOL_IN_MEMORY);
    let mut spooled = spool(head, rest, in_memory)?;
    let max_entries = ctx.limits().max_entries;
    if let Some(declared) = declared_entries(&mut spooled)? {
        if declared > max_entries {
            return Err(ExtractError::Limit(format!(
                "archive declares {declared} members, more than {max_entries}"
            )));
        }
    }
    spooled.seek(SeekFrom::Start(0))?;
    let mut archive = match ZipArchive::new(&mut spooled) {
        Ok(a) => a,
        Err(ZipError::Io(e)) if e.kind() != ErrorKind::UnexpectedEof => return Err(e.into()),
        Err(e) => {
            // No usable central directory (a truncated download, say): the
            // local headers still lead through the members that are there.
            let message = e.to_string();
            return scan_zip_local_headers(ctx, &mut spooled, message);
        }
    };
    if super::office::scan_if_office(ctx, &mut archive)? {
        return Ok(());
    }
    let len = archive.len();
    for index in 0..len {
        if index as u64 >= max_entries {
            return Err(ExtractError::Limit(format!(
                "more than {max_entries} members; {} not examined",
                len - index
            )));
        }
        let name = archive
            .name_for_index(index)
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{index}"));
        let over_budget = declared_over_budget(ctx, &mut archive, index);
        match open_member(ctx, &mut archive, index) {
            Ok(None) => {}
            Ok(Some((mut reader, _))) => {
                ctx.stored_name(&name);
                member_from(ctx, &name, &mut reader)
            }
            Err(ExtractError::Limit(m)) if over_budget => {
                ctx.not_examined(Some(&name), SkipReason::Limit, m);
                return Err(budget_error(ctx));
            }
            Err(e) => {
                let e = uncarry(e);
                ctx.not_examined(Some(&name), super::reason_of(&e), e.to_string());
            }
        }
        if budget_used_up(ctx) {
            return Err(budget_error(ctx));
        }
    }
    Ok(())
}

/// Walks the local headers of an archive whose central directory is
/// unusable, scanning each member found, then reports the archive as
/// corrupt (examined only as far as the walk got).
fn scan_zip_local_headers(
    ctx: &mut Ctx,
    spooled: &mut Spooled,
    why: String,
) -> Result<(), ExtractError> {
    spooled.seek(SeekFrom::Start(0))?;
    let max_entries = ctx.limits().max_entries;
    let mut found = 0u64;
    let stopped = loop {
        if found >= max_entries {
            break format!("more than {max_entries} members");
        }
        let mut file = match zip::read::read_zipfile_from_stream(spooled) {
            Ok(Some(file)) => file,
            Ok(None) => break "end of members".to_string(),
            Err(e) => break e.to_string(),
        };
        found += 1;
        if file.is_dir() {
            continue;
        }
        let name = file.name().to_string();
        ctx.stored_name(&name);
        let compressed = file.compressed_size();
        let mut reader = Expand::new(&mut file, ctx, Compressed::Known(compressed), "zip");
        member_from(ctx, &name, &mut reader);
        if budget_used_up(ctx) {
            return Err(budget_error(ctx));
        }
    };
    Err(ExtractError::Corrupt {
        format: "zip",
        message: format!("{why}; {found} member(s) read from local headers, then: {stopped}"),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::config::ExtractLimits;
    use crate::entity::Entity;
    use crate::report::SkipReason;

    const NOTE: &[u8] = b"Patient SSN: 219-45-6780\n";

    #[test]
    fn gzip_member_is_named_like_gunzip_names_it() {
        let events = scan("logs/visit.txt.gz", &gzip_of(NOTE));
        assert_eq!(
            findings(&events),
            vec![finding(
                "logs/visit.txt.gz!visit.txt",
                Entity::Ssn,
                "",
                "219-45-6780"
            )]
        );
        assert!(skipped(&events).is_empty());
    }

    #[test]
    fn tgz_members_are_flat_and_nested_zips_open() {
        let inner = zip_of(&[("claims/a.txt", b"Billing NPI: 1234567893".as_slice())]);
        let tar = tar_of(&[("notes/n.txt", NOTE), ("exports/batch.zip", &inner)]);
        let events = scan("r.tgz", &gzip_of(&tar));
        assert_eq!(
            findings(&events),
            vec![
                finding("r.tgz!notes/n.txt", Entity::Ssn, "", "219-45-6780"),
                finding(
                    "r.tgz!exports/batch.zip!claims/a.txt",
                    Entity::Npi,
                    "",
                    "1234567893"
                ),
            ]
        );
    }

    #[test]
    fn plain_tar_is_detected_by_content_not_name() {
        let tar = tar_of(&[("a.txt", NOTE)]);
        let events = scan("archive.bin", &tar);
        assert_eq!(
            findings(&events),
            vec![finding("archive.bin!a.txt", Entity::Ssn, "", "219-45-6780")]
        );
    }

    #[test]
    fn zip_bomb_members_hit_the_ratio_limit() {
        let zeros = vec![0u8; 4 << 20];
        let data = zip_of(&[("a.txt", NOTE), ("z1", &zeros), ("z2", &zeros)]);
        assert!(data.len() < 20_000, "fixture is small: {}", data.len());
        let events = scan("bomb.zip", &data);
        assert_eq!(findings(&events).len(), 1);
        assert_eq!(
            skipped(&events),
            vec![
                ("bomb.zip!z1".to_string(), SkipReason::Limit),
                ("bomb.zip!z2".to_string(), SkipReason::Limit),
            ]
        );
    }

    #[test]
    fn gzip_bomb_is_cut_off_while_streaming() {
        let mut data = NOTE.to_vec();
        data.resize(8 << 20, b' ');
        let events = scan("big.txt.gz", &gzip_of(&data));
        // What came before the cut was matched; the member is reported.
        assert_eq!(findings(&events).len(), 1);
        assert_eq!(
            skipped(&events),
            vec![("big.txt.gz!big.txt".to_string(), SkipReason::Limit)]
        );
    }

    #[test]
    fn expansion_budget_stops_the_container() {
        let limits = ExtractLimits {
            max_expanded_bytes: 1 << 20,
            max_ratio: 1_000_000,
            ..ExtractLimits::default()
        };
        let mut first = NOTE.to_vec();
        first.resize(600_000, b'.');
        let filler = vec![b'.'; 600_000];
        let data = zip_of(&[("a.txt", &first), ("b.txt", &filler), ("c.txt", &filler)]);
        let events = scan_with(limits, "x.zip", &data);
        assert_eq!(findings(&events).len(), 1);
        let skipped = skipped(&events);
        // b.txt is refused up front (declared size over what is left); the
        // archive itself is reported as not fully examined.
        assert!(
            skipped.contains(&("x.zip!b.txt".to_string(), SkipReason::Limit)),
            "{skipped:?}"
        );
        assert!(
            skipped.contains(&("x.zip".to_string(), SkipReason::Limit)),
            "{skipped:?}"
        );
        assert!(
            !skipped.iter().any(|(p, _)| p == "x.zip!c.txt"),
            "{skipped:?}"
        );
    }

    #[test]
    fn entry_limit_reports_the_rest() {
        let limits = ExtractLimits {
            max_entries: 2,
            ..ExtractLimits::default()
        };
        let data = zip_of(&[("a", b"x".as_slice()), ("b", b"y"), ("c", NOTE)]);
        let events = scan_with(limits, "x.zip", &data);
        assert!(findings(&events).is_empty());
        assert_eq!(
            skipped(&events),
            vec![("x.zip".to_string(), SkipReason::Limit)]
        );
    }

    #[test]
    fn depth_limit_applies_to_nesting() {
        let limits = ExtractLimits {
            max_depth: 1,
            ..ExtractLimits::default()
        };
        let inner = zip_of(&[("deep.txt", NOTE)]);
        let data = zip_of(&[("top.txt", NOTE), ("inner.zip", &inner)]);
        let events = scan_with(limits, "x.zip", &data);
        assert_eq!(
            findings(&events),
            vec![finding("x.zip!top.txt", Entity::Ssn, "", "219-45-6780")]
        );
        assert_eq!(
            skipped(&events),
            vec![("x.zip!inner.zip!deep.txt".to_string(), SkipReason::Limit)]
        );
    }

    #[test]
    fn encrypted_member_is_reported_and_the_rest_scanned() {
        let mut data = zip_of(&[("secret.txt", b"ciphertext".as_slice()), ("open.txt", NOTE)]);
        data[6] |= 1;
        let central = data
            .windows(4)
            .position(|w| w == b"PK\x01\x02")
            .expect("central directory");
        data[central + 8] |= 1;
        let events = scan("e.zip", &data);
        assert_eq!(
            findings(&events),
            vec![finding("e.zip!open.txt", Entity::Ssn, "", "219-45-6780")]
        );
        assert_eq!(
            skipped(&events),
            vec![("e.zip!secret.txt".to_string(), SkipReason::Encrypted)]
        );
    }

    #[test]
    fn truncated_zip_is_salvaged_from_local_headers() {
        let data = zip_of(&[("first.txt", NOTE), ("second.txt", &[b'x'; 3000])]);
        let cut = data
            .windows(4)
            .rposition(|w| w == b"PK\x03\x04")
            .expect("second member");
        let events = scan("t.zip", &data[..cut + 10]);
        assert_eq!(
            findings(&events),
            vec![finding("t.zip!first.txt", Entity::Ssn, "", "219-45-6780")]
        );
        assert_eq!(
            skipped(&events),
            vec![("t.zip".to_string(), SkipReason::Corrupt)]
        );
    }

    #[test]
    fn corrupt_containers_never_panic() {
        let zip = zip_of(&[("a.txt", NOTE)]);
        let gz = gzip_of(NOTE);
        let tar = tar_of(&[("a.txt", NOTE)]);
        let tgz = gzip_of(&tar);
        let engine = engine(ExtractLimits::default());
        for data in [&zip, &gz, &tar, &tgz] {
            for cut in 0..data.len() {
                let _ = scan_using(&engine, "f", &data[..cut]);
                let mut flipped = data.to_vec();
                flipped[cut] ^= 0xA5;
                let _ = scan_using(&engine, "f", &flipped);
            }
        }
    }

    #[test]
    fn archive_declaring_too_many_members_is_refused_before_reading() {
        let limits = ExtractLimits {
            max_entries: 10,
            ..ExtractLimits::default()
        };
        let mut data = zip_of(&[("a.txt", NOTE)]);
        let eocd = data
            .windows(4)
            .rposition(|w| w == b"PK\x05\x06")
            .expect("end record");
        data[eocd + 10..eocd + 12].copy_from_slice(&5000u16.to_le_bytes());
        let events = scan_with(limits, "x.zip", &data);
        assert_eq!(
            skipped(&events),
            vec![("x.zip".to_string(), SkipReason::Limit)]
        );
    }

    #[test]
    fn truncated_gzip_keeps_what_decompressed() {
        let data = gzip_of(b"SSN 219-45-6780 and then a long tail of text that goes on and on");
        let events = scan("t.txt.gz", &data[..data.len() - 12]);
        assert_eq!(
            findings(&events),
            vec![finding("t.txt.gz!t.txt", Entity::Ssn, "", "219-45-6780")]
        );
        assert_eq!(
            skipped(&events),
            vec![("t.txt.gz".to_string(), SkipReason::Corrupt)]
        );
    }

    #[test]
    fn zip_larger_than_the_memory_limit_is_read_from_a_temporary_file() {
        let limits = ExtractLimits {
            max_document_bytes: 1000,
            ..ExtractLimits::default()
        };
        let mut state = 1u32;
        let noise: Vec<u8> = (0..20_000)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (state >> 16) as u8
            })
            .collect();
        let data = zip_of(&[("noise.bin", &noise), ("note.txt", NOTE)]);
        assert!(data.len() > 10_000);
        let events = scan_with(limits, "big.zip", &data);
        assert_eq!(
            findings(&events),
            vec![finding("big.zip!note.txt", Entity::Ssn, "", "219-45-6780")]
        );
        assert_eq!(
            skipped(&events),
            vec![("big.zip!noise.bin".to_string(), SkipReason::Binary)]
        );
    }

    #[test]
    fn gunzipped_names() {
        assert_eq!(super::gunzipped_name("a.txt.gz"), "a.txt");
        assert_eq!(super::gunzipped_name("b.TGZ"), "b.tar");
        assert_eq!(super::gunzipped_name(".gz"), ".gz");
        assert_eq!(super::gunzipped_name("log"), "log");
        assert_eq!(super::gunzipped_name(""), "data");
    }
}
