//! `phiscan merge`: joins the output folders of the shards of one scan
//! (`phiscan scan --shard I/N --output-dir DIR`) into the reports and the
//! summary one unsharded scan would have written.
//!
//! Row order: an unsharded scan writes rows as its workers finish files,
//! so its order is not fixed; a merge writes them sorted by target, path,
//! line, column, rule, field, match and fingerprint (compare a merge with
//! one scan's rows sorted the same way). The rows are held in memory to be
//! sorted: about 300 bytes a row.
//!
//! A set of folders is refused, naming the problem, when a shard index is
//! missing or repeated, the manifests disagree (shard count, targets,
//! settings, rule pack, fingerprint key, phiscan version), the shards
//! listed different trees above the split depth, or a shard was
//! interrupted (rerun it with `--resume` first).

use crate::report::read::{self, Tail};
use crate::report::{Finding, ReportFormat, RuleInfo, Summary};
use crate::shard::{Manifest, ShardKind, MANIFEST_FILE, SUMMARY_FILE};
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no shard folder given")]
    Empty,
    #[error("{path}: {message}")]
    Unreadable { path: PathBuf, message: String },
    #[error("{dir}: not a shard's output folder (no {MANIFEST_FILE}; was it scanned with --shard I/N --output-dir?)")]
    NoManifest { dir: PathBuf },
    #[error("shard {index}/{count} is given twice: {first} and {second}")]
    Repeated {
        index: u32,
        count: u32,
        first: PathBuf,
        second: PathBuf,
    },
    #[error(
        "shards missing: {missing} of {count} (indexes {list}); merge needs every shard's folder"
    )]
    Missing {
        missing: usize,
        count: u32,
        list: String,
    },
    #[error("cannot merge discover shards with scan shards: {first} ran {first_kind}, {second} ran {second_kind}; merge each command's shards apart")]
    Kinds {
        first: PathBuf,
        first_kind: &'static str,
        second: PathBuf,
        second_kind: &'static str,
    },
    #[error("the rule pack given to merge (digest {given}) is not the one the shards ran ({dir}: {shards}): give merge the shards' own --rules (and --no-default-rules), as written for the scan")]
    Rules {
        dir: PathBuf,
        shards: String,
        given: String,
    },
    #[error("the shards do not belong to one scan: {what} differs between {first} ({a}) and {second} ({b})")]
    Mismatch {
        what: &'static str,
        first: PathBuf,
        second: PathBuf,
        a: String,
        b: String,
    },
    #[error("the shards listed different trees above the split depth ({first}: {a}, {second}: {b}): a server or folder changed between them, or one shard could not list something; rerun the shards")]
    Listing {
        first: PathBuf,
        second: PathBuf,
        a: String,
        b: String,
    },
    #[error(
        "{dir}: shard {shard} was interrupted; rerun it with the same --resume STATE, then merge"
    )]
    Interrupted { dir: PathBuf, shard: String },
    #[error("{dir}: holds no phiscan.csv or phiscan.jsonl report to read rows from")]
    NoReport { dir: PathBuf },
    #[error(transparent)]
    Read(#[from] read::ReadError),
    #[error("{path}: {source}")]
    Output {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The rule pack `merge` was given (`--rules`, `--no-default-rules`):
/// its rules' metadata for SARIF and HTML, and its digest, which must be
/// the scan shards' own.
pub struct RulesGiven {
    pub infos: Vec<RuleInfo>,
    pub digest: String,
}

/// One shard's folder, its manifest read.
struct ShardDir {
    dir: PathBuf,
    manifest: Manifest,
}

/// Merges `dirs` into `out_dir` (one report per format, `summary.json`);
/// returns the merged summary.
pub fn merge(
    dirs: &[PathBuf],
    out_dir: &Path,
    formats: &[ReportFormat],
    rules: &RulesGiven,
    max_rows: u64,
) -> Result<Summary, MergeError> {
    let shards = check_set(dirs)?;
    let first = &shards[0];
    // Scans' SARIF and HTML describe the rules the shards ran; a sweep
    // has no rule pack.
    if first.manifest.kind == ShardKind::Scan && first.manifest.rules_digest != rules.digest {
        return Err(MergeError::Rules {
            dir: first.dir.clone(),
            shards: first.manifest.rules_digest.clone(),
            given: rules.digest.clone(),
        });
    }
    let rules = &rules.infos[..];
    let mut rows: Vec<Finding> = Vec::new();
    let mut summary = Summary::default();
    for shard in &shards {
        let report = [ReportFormat::Jsonl, ReportFormat::Csv]
            .iter()
            .map(|f| shard.dir.join(f.file_name()))
            .find(|p| p.is_file())
            .ok_or_else(|| MergeError::NoReport {
                dir: shard.dir.clone(),
            })?;
        read::read_report(&report, Tail::Strict, &mut |f| rows.push(f))?;
        let path = shard.dir.join(SUMMARY_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| MergeError::Unreadable {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let part: Summary = serde_json::from_str(&text).map_err(|e| MergeError::Unreadable {
            path: path.clone(),
            message: e.to_string(),
        })?;
        summary.add(part);
    }
    rows.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    std::fs::create_dir_all(out_dir).map_err(|source| MergeError::Output {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut formats = formats.to_vec();
    if formats.is_empty() {
        formats.push(ReportFormat::Csv);
    }
    formats.sort();
    formats.dedup();
    let paths: Vec<(ReportFormat, Option<PathBuf>)> = formats
        .iter()
        .map(|f| (*f, Some(out_dir.join(f.file_name()))))
        .collect();
    let output = |source: io::Error| MergeError::Output {
        path: out_dir.to_path_buf(),
        source,
    };
    let mut writers = crate::scan::open_writers_at(&paths, rules, false)
        .map_err(|e| output(io::Error::other(e.to_string())))?;
    // The cap per scan of one run (`--max-rows`, 0 = none): each shard
    // capped only its own rows. Which rows one run keeps depends on the
    // order its files finish; a merge keeps the first in its own order.
    for (i, f) in rows.iter().enumerate() {
        let i = i as u64;
        if max_rows != 0 && i >= max_rows {
            summary.rows_not_written += 1;
            continue;
        }
        let capped;
        let row = if max_rows != 0 && i + 1 == max_rows && rows.len() as u64 > max_rows {
            capped = Finding {
                context: crate::report::SCAN_CAP_NOTE.to_string(),
                ..f.clone()
            };
            &capped
        } else {
            f
        };
        for w in writers.iter_mut() {
            w.finding(row).map_err(output)?;
        }
    }
    for w in writers.iter_mut() {
        w.flush_rows().map_err(output)?;
        w.finish(&summary).map_err(output)?;
    }
    let text = serde_json::to_string_pretty(&summary.to_json()).map_err(io::Error::other);
    text.and_then(|t| crate::outfile::write(&out_dir.join(SUMMARY_FILE), (t + "\n").as_bytes()))
        .map_err(output)?;
    Ok(summary)
}

type SortKey<'a> = (
    &'a str,
    &'a str,
    Option<u64>,
    Option<u64>,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
);

/// The order merged rows are written in (see the module docs).
pub fn sort_key(f: &Finding) -> SortKey<'_> {
    (
        &f.target,
        &f.path,
        f.line,
        f.column,
        &f.rule,
        &f.field,
        &f.matched,
        &f.fingerprint,
    )
}

/// Reads every manifest and checks that the folders are the whole set of
/// one scan's shards.
fn check_set(dirs: &[PathBuf]) -> Result<Vec<ShardDir>, MergeError> {
    let mut shards = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(MergeError::NoManifest { dir: dir.clone() })
            }
            Err(e) => {
                return Err(MergeError::Unreadable {
                    path,
                    message: e.to_string(),
                })
            }
        };
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| MergeError::Unreadable {
                path,
                message: e.to_string(),
            })?;
        shards.push(ShardDir {
            dir: dir.clone(),
            manifest,
        });
    }
    let first = shards.first().ok_or(MergeError::Empty)?;
    if let Some(s) = shards
        .iter()
        .find(|s| s.manifest.kind != first.manifest.kind)
    {
        return Err(MergeError::Kinds {
            first: first.dir.clone(),
            first_kind: first.manifest.kind.as_str(),
            second: s.dir.clone(),
            second_kind: s.manifest.kind.as_str(),
        });
    }
    for s in &shards[1..] {
        let (a, b) = (&first.manifest, &s.manifest);
        let fields: [(&'static str, String, String); 7] = [
            (
                "the shard count",
                a.shard.count.to_string(),
                b.shard.count.to_string(),
            ),
            (
                "the split depth",
                a.split_depth.to_string(),
                b.split_depth.to_string(),
            ),
            (
                "the target set",
                a.targets_digest.clone(),
                b.targets_digest.clone(),
            ),
            (
                "the settings that change results",
                a.settings_digest.clone(),
                b.settings_digest.clone(),
            ),
            (
                "the rule pack",
                a.rules_digest.clone(),
                b.rules_digest.clone(),
            ),
            (
                "the fingerprint key (set one PHISCAN_FINGERPRINT_KEY for every shard)",
                format!("key id {}", a.fingerprint_key_id),
                format!("key id {}", b.fingerprint_key_id),
            ),
            (
                "the phiscan version",
                a.phiscan_version.clone(),
                b.phiscan_version.clone(),
            ),
        ];
        if let Some((what, x, y)) = fields.into_iter().find(|(_, x, y)| x != y) {
            return Err(MergeError::Mismatch {
                what,
                first: first.dir.clone(),
                second: s.dir.clone(),
                a: x,
                b: y,
            });
        }
    }
    let count = first.manifest.shard.count;
    let mut seen: Vec<Option<&PathBuf>> = vec![None; count as usize];
    for s in &shards {
        let i = s.manifest.shard.index as usize;
        match seen.get(i) {
            Some(Some(earlier)) => {
                return Err(MergeError::Repeated {
                    index: s.manifest.shard.index,
                    count,
                    first: (*earlier).clone(),
                    second: s.dir.clone(),
                })
            }
            Some(None) => seen[i] = Some(&s.dir),
            None => {
                return Err(MergeError::Unreadable {
                    path: s.dir.join(MANIFEST_FILE),
                    message: format!("shard index {i} is not below the shard count {count}"),
                })
            }
        }
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| i.to_string())
        .collect();
    if !missing.is_empty() {
        let shown = missing.len().min(20);
        let mut list = missing[..shown].join(", ");
        if missing.len() > shown {
            list.push_str(", …");
        }
        return Err(MergeError::Missing {
            missing: missing.len(),
            count,
            list,
        });
    }
    if let Some(s) = shards.iter().find(|s| s.manifest.interrupted) {
        return Err(MergeError::Interrupted {
            dir: s.dir.clone(),
            shard: s.manifest.shard.to_string(),
        });
    }
    if let Some(s) = shards
        .iter()
        .find(|s| s.manifest.listing_digest != first.manifest.listing_digest)
    {
        return Err(MergeError::Listing {
            first: first.dir.clone(),
            second: s.dir.clone(),
            a: first.manifest.listing_digest.clone(),
            b: s.manifest.listing_digest.clone(),
        });
    }
    Ok(shards)
}
