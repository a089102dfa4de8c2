//! `phiscan merge`: joins the output folders of the shards of one scan
//! (`phiscan scan --shard I/N --output-dir DIR`) into the reports and the
//! summary one unsharded scan would have written.
//!
//! Row order: an unsharded scan writes rows as its workers finish files,
//! so its order is not fixed; a merge writes them sorted by target, path,
//! line, column, rule, field, match and fingerprint (compare a merge with
//! one scan's rows sorted the same way). Memory is bounded whatever the
//! number of rows: each shard writes its rows in the order its files
//! finish, so the rows are sorted in runs of [`SortLimits::run_bytes`],
//! spilled to a temporary folder inside the output folder, and merged
//! (an external merge sort); rows that fit in one run are never spilled.
//!
//! A set of folders is refused, naming the problem, when a shard index is
//! missing or repeated, the manifests disagree (shard count, targets,
//! settings, rule pack, fingerprint key, phiscan version), the shards
//! listed different trees above the split depth, or a shard was
//! interrupted (rerun it with `--resume` first).

use crate::entity::{Confidence, Entity};
use crate::report::read::{self, Tail};
use crate::report::{Finding, ReportFormat, RuleInfo, Summary};
use crate::shard::{Manifest, ShardKind, MANIFEST_FILE, SUMMARY_FILE, TARGETS_FILE};
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
    #[error("{path}: merge's temporary sorted run: {source}")]
    Spill {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
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

/// What a merge wrote, and advice for the next sharded run.
#[derive(Debug)]
pub struct MergeOutcome {
    pub summary: Summary,
    /// Set when some shards read no file while others did: the targets
    /// split into fewer units than shards (see [`idle_note`]).
    pub note: Option<String>,
}

/// Merges `dirs` into `out_dir` (one report per format, `summary.json`).
pub fn merge(
    dirs: &[PathBuf],
    out_dir: &Path,
    formats: &[ReportFormat],
    rules: &RulesGiven,
    max_rows: u64,
) -> Result<MergeOutcome, MergeError> {
    merge_bounded(dirs, out_dir, formats, rules, max_rows, SortLimits::DEFAULT)
}

/// [`merge`] with the sort's memory and fan-in given (tests make them
/// small to exercise spilling).
pub fn merge_bounded(
    dirs: &[PathBuf],
    out_dir: &Path,
    formats: &[ReportFormat],
    rules: &RulesGiven,
    max_rows: u64,
    limits: SortLimits,
) -> Result<MergeOutcome, MergeError> {
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
    // Read before anything is written: a missing list stops the merge.
    let targets = match first.manifest.kind {
        ShardKind::Discover => Some(read_targets(&shards)?),
        ShardKind::Scan => None,
    };
    let mut sorter = Sorter::new(out_dir, limits);
    let mut summary = Summary::default();
    let mut files_per_shard = Vec::with_capacity(shards.len());
    for shard in &shards {
        let report = [ReportFormat::Jsonl, ReportFormat::Csv]
            .iter()
            .map(|f| shard.dir.join(f.file_name()))
            .find(|p| p.is_file())
            .ok_or_else(|| MergeError::NoReport {
                dir: shard.dir.clone(),
            })?;
        // The reader hands rows to a callback that cannot fail: a spill
        // error is kept and returned once the report is read.
        let mut failed: Option<MergeError> = None;
        read::read_report(&report, Tail::Strict, &mut |f| {
            if failed.is_none() {
                failed = sorter.push(f).err();
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        let path = shard.dir.join(SUMMARY_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| MergeError::Unreadable {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let part: Summary = serde_json::from_str(&text).map_err(|e| MergeError::Unreadable {
            path: path.clone(),
            message: e.to_string(),
        })?;
        files_per_shard.push((
            shard.manifest.shard.index,
            part.files_scanned + part.files_already_scanned,
        ));
        summary.add(part);
    }
    let mut rows = sorter.finish()?;
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
    let mut i: u64 = 0;
    while let Some(f) = rows.next()? {
        let n = i;
        i += 1;
        if max_rows != 0 && n >= max_rows {
            summary.rows_not_written += 1;
            continue;
        }
        let capped;
        let row = if max_rows != 0 && n + 1 == max_rows && rows.has_more() {
            capped = Finding {
                context: crate::report::SCAN_CAP_NOTE.to_string(),
                ..f
            };
            &capped
        } else {
            &f
        };
        for w in writers.iter_mut() {
            w.finding(row).map_err(output)?;
        }
    }
    for w in writers.iter_mut() {
        w.flush_rows().map_err(output)?;
        w.finish(&summary).map_err(output)?;
    }
    if let Some(urls) = targets {
        let text = crate::discover::targets_text(urls.iter().map(String::as_str));
        let path = out_dir.join(TARGETS_FILE);
        crate::outfile::write(&path, text.as_bytes())
            .map_err(|source| MergeError::Output { path, source })?;
    }
    let text = serde_json::to_string_pretty(&summary.to_json()).map_err(io::Error::other);
    text.and_then(|t| crate::outfile::write(&out_dir.join(SUMMARY_FILE), (t + "\n").as_bytes()))
        .map_err(output)?;
    let note = match first.manifest.kind {
        ShardKind::Scan => idle_note(&files_per_shard, first.manifest.split_depth),
        ShardKind::Discover => None,
    };
    Ok(MergeOutcome { summary, note })
}

/// Advice when some scan shards read no file while others did: their
/// machines were wasted because the targets split into fewer units than
/// shards (few targets at `--split-depth 0`; at depth `D`, a server whose
/// top `D` levels hold few folders, such as one `/data` folder). The
/// partition itself is right; the next run can split deeper.
pub fn idle_note(files_per_shard: &[(u32, u64)], split_depth: u32) -> Option<String> {
    let total: u64 = files_per_shard.iter().map(|(_, n)| n).sum();
    let mut idle: Vec<u32> = files_per_shard
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(i, _)| *i)
        .collect();
    if total == 0 || idle.is_empty() {
        return None;
    }
    idle.sort_unstable();
    let count = files_per_shard.len();
    let shown: Vec<String> = idle.iter().take(10).map(u32::to_string).collect();
    let more = if idle.len() > 10 { ", …" } else { "" };
    Some(format!(
        "note: {} of {count} shards read no file (shard {}{more}): at --split-depth \
         {split_depth} the targets split into too few units to keep {count} shards busy; \
         a deeper --split-depth spreads a few large servers or folders over more shards \
         (see docs/SHARDING.md)",
        idle.len(),
        shown.join(", "),
    ))
}

/// Longest line of a shard's targets list (a URL).
const MAX_TARGET_LINE: u64 = 64 << 10;

/// The servers the discover shards found (each shard's `targets.txt`),
/// joined: sorted, each once. A list is one line per server that let a
/// shard in, far fewer than rows, so it is held in memory.
fn read_targets(shards: &[ShardDir]) -> Result<std::collections::BTreeSet<String>, MergeError> {
    use std::io::{BufRead, Read};
    let mut urls = std::collections::BTreeSet::new();
    for shard in shards {
        let path = shard.dir.join(TARGETS_FILE);
        let unreadable = |message: String| MergeError::Unreadable {
            path: path.clone(),
            message,
        };
        let file = std::fs::File::open(&path).map_err(|e| {
            unreadable(format!(
                "{e} (a discover shard's folder lists the servers it found there)"
            ))
        })?;
        let mut input = io::BufReader::new(file);
        let mut line = String::new();
        for n in 1.. {
            line.clear();
            let got = (&mut input)
                .take(MAX_TARGET_LINE)
                .read_line(&mut line)
                .map_err(|e| unreadable(format!("line {n}: {e}")))?;
            if got == 0 {
                break;
            }
            if !line.ends_with('\n') && got as u64 == MAX_TARGET_LINE {
                return Err(unreadable(format!(
                    "line {n}: longer than any server's URL"
                )));
            }
            let url = line.trim();
            if !url.is_empty() && !url.starts_with('#') {
                urls.insert(url.to_string());
            }
        }
    }
    Ok(urls)
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
    // A damaged manifest's count must not size the table below.
    if count == 0 || count > crate::shard::MAX_SHARDS {
        return Err(MergeError::Unreadable {
            path: first.dir.join(MANIFEST_FILE),
            message: format!(
                "shard count {count} is not between 1 and {}",
                crate::shard::MAX_SHARDS
            ),
        });
    }
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

/// How much of the rows `merge` sorts in memory at once, and how many
/// sorted runs it reads at once. The rows beyond one run are sorted in
/// runs spilled to a temporary folder inside the output folder (not
/// `/tmp`, often a RAM disk), then merged run by run: memory stays about
/// `run_bytes` plus a read buffer per run, whatever the number of rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortLimits {
    /// Rows held before they are sorted and spilled (estimated bytes).
    pub run_bytes: usize,
    /// Runs merged at once (open files, a buffer each); more runs are
    /// merged in passes.
    pub fan_in: usize,
}

impl SortLimits {
    /// 32 MiB of rows (some 50,000 rows of a file scan, as
    /// [`row_bytes`] counts them), 64 runs at once (2 GiB of rows merged
    /// in one pass).
    pub const DEFAULT: SortLimits = SortLimits {
        run_bytes: 32 << 20,
        fan_in: 64,
    };
}

/// Read buffer of each spilled run being merged.
const RUN_BUFFER: usize = 64 << 10;

/// The memory a row takes, roughly: its fields, its strings, the
/// vector's slack.
fn row_bytes(f: &Finding) -> usize {
    2 * std::mem::size_of::<Finding>()
        + 32
        + f.target.len()
        + f.path.len()
        + f.rule.len()
        + f.field.len()
        + f.matched.len()
        + f.context.len()
        + f.fingerprint.len()
        + f.value_fingerprint.len()
}

fn by_key(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    sort_key(a).cmp(&sort_key(b))
}

/// Rows taken in any order, given back sorted by [`sort_key`]; rows with
/// equal keys keep the order they came in.
struct Sorter<'a> {
    out_dir: &'a Path,
    limits: SortLimits,
    rows: Vec<Finding>,
    bytes: usize,
    spill: Option<tempfile::TempDir>,
    runs: Vec<PathBuf>,
    /// Run files made so far (names them).
    made: usize,
}

impl<'a> Sorter<'a> {
    fn new(out_dir: &'a Path, limits: SortLimits) -> Sorter<'a> {
        Sorter {
            out_dir,
            limits: SortLimits {
                run_bytes: limits.run_bytes.max(1),
                fan_in: limits.fan_in.max(2),
            },
            rows: Vec::new(),
            bytes: 0,
            spill: None,
            runs: Vec::new(),
            made: 0,
        }
    }

    fn push(&mut self, f: Finding) -> Result<(), MergeError> {
        self.bytes += row_bytes(&f);
        self.rows.push(f);
        if self.bytes >= self.limits.run_bytes {
            self.spill_rows()?;
        }
        Ok(())
    }

    /// A new run file in the spill folder (made at the first spill).
    fn new_run(&mut self) -> Result<(PathBuf, RunWriter), MergeError> {
        if self.spill.is_none() {
            std::fs::create_dir_all(self.out_dir).map_err(|source| MergeError::Output {
                path: self.out_dir.to_path_buf(),
                source,
            })?;
            let dir = tempfile::Builder::new()
                .prefix(".phiscan-merge-")
                .tempdir_in(self.out_dir)
                .map_err(|source| MergeError::Output {
                    path: self.out_dir.to_path_buf(),
                    source,
                })?;
            self.spill = Some(dir);
        }
        let dir = self
            .spill
            .as_ref()
            .map(|d| d.path())
            .unwrap_or(self.out_dir);
        let path = dir.join(format!("run-{}", self.made));
        self.made += 1;
        let writer = RunWriter::create(&path)?;
        Ok((path, writer))
    }

    fn spill_rows(&mut self) -> Result<(), MergeError> {
        self.rows.sort_by(by_key);
        let (path, mut out) = self.new_run()?;
        for f in self.rows.drain(..) {
            out.write(&f)?;
        }
        out.finish()?;
        self.runs.push(path);
        self.bytes = 0;
        Ok(())
    }

    /// The rows, sorted: from memory when they fit in one run, else merged
    /// from the spilled runs (in passes of `fan_in` runs).
    fn finish(mut self) -> Result<SortedRows, MergeError> {
        self.rows.sort_by(by_key);
        let in_memory = Source::Memory(std::mem::take(&mut self.rows).into_iter());
        if self.runs.is_empty() {
            return SortedRows::new(vec![in_memory], None);
        }
        // Runs are merged in consecutive groups, so that equal keys keep
        // their order across passes.
        while self.runs.len() > self.limits.fan_in {
            let older = std::mem::take(&mut self.runs);
            for group in older.chunks(self.limits.fan_in) {
                let sources = group
                    .iter()
                    .map(|p| RunReader::open(p).map(Source::Run))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut merged = SortedRows::new(sources, None)?;
                let (path, mut out) = self.new_run()?;
                while let Some(f) = merged.next()? {
                    out.write(&f)?;
                }
                out.finish()?;
                self.runs.push(path);
                for p in group {
                    // Done with; the folder goes at the end anyway.
                    let _ = std::fs::remove_file(p);
                }
            }
        }
        let mut sources = self
            .runs
            .iter()
            .map(|p| RunReader::open(p).map(Source::Run))
            .collect::<Result<Vec<_>, _>>()?;
        sources.push(in_memory);
        SortedRows::new(sources, self.spill.take())
    }
}

/// Sorted sources merged into one sorted stream.
struct SortedRows {
    heap: std::collections::BinaryHeap<Head>,
    sources: Vec<Source>,
    /// The spill folder, removed when the merge is done.
    _spill: Option<tempfile::TempDir>,
}

enum Source {
    Memory(std::vec::IntoIter<Finding>),
    Run(RunReader),
}

impl Source {
    fn next(&mut self) -> Result<Option<Finding>, MergeError> {
        match self {
            Source::Memory(rows) => Ok(rows.next()),
            Source::Run(run) => run.next(),
        }
    }
}

/// The next row of one source; the heap's top is the least row, the
/// earliest source first among equal keys.
struct Head {
    row: Finding,
    source: usize,
}

impl Ord for Head {
    fn cmp(&self, other: &Head) -> std::cmp::Ordering {
        by_key(&other.row, &self.row).then(other.source.cmp(&self.source))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Head) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Head {}

impl SortedRows {
    fn new(
        mut sources: Vec<Source>,
        spill: Option<tempfile::TempDir>,
    ) -> Result<SortedRows, MergeError> {
        let mut heap = std::collections::BinaryHeap::with_capacity(sources.len());
        for (source, s) in sources.iter_mut().enumerate() {
            if let Some(row) = s.next()? {
                heap.push(Head { row, source });
            }
        }
        Ok(SortedRows {
            heap,
            sources,
            _spill: spill,
        })
    }

    fn next(&mut self) -> Result<Option<Finding>, MergeError> {
        let Some(Head { row, source }) = self.heap.pop() else {
            return Ok(None);
        };
        if let Some(next) = self.sources[source].next()? {
            self.heap.push(Head { row: next, source });
        }
        Ok(Some(row))
    }

    /// Whether a row follows the last one given.
    fn has_more(&self) -> bool {
        !self.heap.is_empty()
    }
}

/// A spilled run: rows one after another, each a presence byte, then its
/// fields (strings as a little-endian u32 length and UTF-8 bytes, line
/// and column as a presence byte and a little-endian u64). Private to one
/// merge: no version, no header.
struct RunWriter {
    out: io::BufWriter<std::fs::File>,
    path: PathBuf,
}

impl RunWriter {
    fn create(path: &Path) -> Result<RunWriter, MergeError> {
        let file = crate::outfile::create(path).map_err(|source| MergeError::Spill {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(RunWriter {
            out: io::BufWriter::with_capacity(RUN_BUFFER, file),
            path: path.to_path_buf(),
        })
    }

    fn write(&mut self, f: &Finding) -> Result<(), MergeError> {
        self.write_row(f).map_err(|source| MergeError::Spill {
            path: self.path.clone(),
            source,
        })
    }

    fn write_row(&mut self, f: &Finding) -> io::Result<()> {
        use std::io::Write;
        let out = &mut self.out;
        let text = |out: &mut io::BufWriter<std::fs::File>, s: &str| -> io::Result<()> {
            let len = u32::try_from(s.len()).map_err(io::Error::other)?;
            out.write_all(&len.to_le_bytes())?;
            out.write_all(s.as_bytes())
        };
        let num = |out: &mut io::BufWriter<std::fs::File>, n: Option<u64>| -> io::Result<()> {
            match n {
                None => out.write_all(&[0]),
                Some(n) => {
                    out.write_all(&[1])?;
                    out.write_all(&n.to_le_bytes())
                }
            }
        };
        out.write_all(&[1])?;
        text(out, &f.target)?;
        text(out, &f.path)?;
        text(out, f.entity.as_str())?;
        text(out, &f.rule)?;
        text(out, f.confidence.as_str())?;
        num(out, f.line)?;
        num(out, f.column)?;
        text(out, &f.field)?;
        text(out, &f.matched)?;
        text(out, &f.context)?;
        text(out, &f.fingerprint)?;
        text(out, &f.value_fingerprint)
    }

    fn finish(mut self) -> Result<(), MergeError> {
        use std::io::Write;
        self.out.flush().map_err(|source| MergeError::Spill {
            path: self.path.clone(),
            source,
        })
    }
}

/// Reads a run [`RunWriter`] wrote.
struct RunReader {
    input: io::BufReader<std::fs::File>,
    path: PathBuf,
    /// The last row's target: consecutive rows share one allocation.
    target: Option<std::sync::Arc<str>>,
}

impl RunReader {
    fn open(path: &Path) -> Result<RunReader, MergeError> {
        let file = std::fs::File::open(path).map_err(|source| MergeError::Spill {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(RunReader {
            input: io::BufReader::with_capacity(RUN_BUFFER, file),
            path: path.to_path_buf(),
            target: None,
        })
    }

    fn next(&mut self) -> Result<Option<Finding>, MergeError> {
        self.read_row().map_err(|source| MergeError::Spill {
            path: self.path.clone(),
            source,
        })
    }

    fn read_row(&mut self) -> io::Result<Option<Finding>> {
        use std::io::Read;
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
        let mut start = [0u8; 1];
        if self.input.read(&mut start)? == 0 {
            return Ok(None);
        }
        if start[0] != 1 {
            return Err(bad("not a row"));
        }
        let input = &mut self.input;
        let text = |input: &mut io::BufReader<std::fs::File>| -> io::Result<String> {
            let mut len = [0u8; 4];
            input.read_exact(&mut len)?;
            let len = u32::from_le_bytes(len) as u64;
            let mut buf = Vec::new();
            input.take(len).read_to_end(&mut buf)?;
            if buf.len() as u64 != len {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            String::from_utf8(buf).map_err(|_| bad("not UTF-8"))
        };
        let num = |input: &mut io::BufReader<std::fs::File>| -> io::Result<Option<u64>> {
            let mut tag = [0u8; 1];
            input.read_exact(&mut tag)?;
            if tag[0] == 0 {
                return Ok(None);
            }
            let mut n = [0u8; 8];
            input.read_exact(&mut n)?;
            Ok(Some(u64::from_le_bytes(n)))
        };
        let target = text(input)?;
        let path = text(input)?;
        let entity = Entity::parse(&text(input)?).ok_or_else(|| bad("unknown entity"))?;
        let rule = text(input)?;
        let confidence =
            Confidence::parse(&text(input)?).ok_or_else(|| bad("unknown confidence"))?;
        let line = num(input)?;
        let column = num(input)?;
        let field = text(input)?;
        let matched = text(input)?;
        let context = text(input)?;
        let fingerprint = text(input)?;
        let value_fingerprint = text(input)?;
        let target = match &self.target {
            Some(t) if **t == *target => t.clone(),
            _ => {
                let t: std::sync::Arc<str> = target.into();
                self.target = Some(t.clone());
                t
            }
        };
        Ok(Some(Finding {
            target,
            path,
            entity,
            rule: rule.into(),
            confidence,
            line,
            column,
            field,
            matched,
            context,
            fingerprint,
            value_fingerprint,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::Shard;
    use crate::test_rng::Rng;

    /// A row whose key repeats often (few targets, paths, lines), so that
    /// equal keys cross run boundaries; `n` tells rows of equal key apart.
    fn row(rng: &mut Rng, n: usize) -> Finding {
        Finding {
            target: format!("t{}", rng.below(3)).into(),
            path: format!("d{}/f{}.txt", rng.below(4), rng.below(5)),
            entity: Entity::Ssn,
            rule: "ssn".into(),
            confidence: Confidence::High,
            line: [None, Some(1), Some(2)][rng.below(3)],
            column: Some(rng.below(3) as u64 + 1),
            field: String::new(),
            matched: "***-**-6789".into(),
            context: format!("row {n}"),
            fingerprint: format!("fp{}", rng.below(2)),
            value_fingerprint: String::new(),
        }
    }

    fn sorted(rows: &[Finding], dir: &Path, limits: SortLimits) -> Vec<Finding> {
        let mut sorter = Sorter::new(dir, limits);
        for f in rows {
            sorter.push(f.clone()).unwrap();
        }
        let mut merged = sorter.finish().unwrap();
        let mut out = Vec::new();
        while let Some(f) = merged.next().unwrap() {
            out.push(f);
        }
        out
    }

    fn contexts(rows: &[Finding]) -> Vec<&str> {
        rows.iter().map(|f| f.context.as_str()).collect()
    }

    /// Spilled or not, in one pass or several, the rows come out as a
    /// stable sort of them, and the spill folder is gone afterwards.
    #[test]
    fn sorting_in_runs_equals_one_stable_sort() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = Rng::new(16);
        for len in [0, 1, 7, 300] {
            let rows: Vec<Finding> = (0..len).map(|n| row(&mut rng, n)).collect();
            let mut want = rows.clone();
            want.sort_by(by_key);
            let one_row = row_bytes(&rows.first().cloned().unwrap_or_else(|| row(&mut rng, 0)));
            for (run_bytes, fan_in) in [(1 << 30, 64), (1, 2), (one_row * 5, 3), (one_row * 40, 64)]
            {
                let limits = SortLimits { run_bytes, fan_in };
                let got = sorted(&rows, dir.path(), limits);
                assert_eq!(contexts(&got), contexts(&want), "{len} rows, {limits:?}");
                assert_eq!(got, want);
                let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
                assert!(left.is_empty(), "spill folder left: {left:?}");
            }
        }
    }

    #[test]
    fn idle_shards_are_named_only_when_others_worked() {
        assert_eq!(idle_note(&[(0, 0), (1, 0)], 1), None);
        assert_eq!(idle_note(&[(0, 5), (1, 2)], 1), None);
        let note = idle_note(&[(2, 0), (0, 9), (1, 0)], 1).unwrap();
        assert!(
            note.contains("2 of 3 shards read no file (shard 1, 2)"),
            "{note}"
        );
        let many: Vec<(u32, u64)> = (0..20).map(|i| (i, u64::from(i == 7))).collect();
        let note = idle_note(&many, 0).unwrap();
        assert!(
            note.contains("19 of 20 shards") && note.contains(", …"),
            "{note}"
        );
    }

    /// A spilled run that was damaged is an error naming it, not a panic.
    #[test]
    fn a_damaged_run_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run");
        let mut out = RunWriter::create(&path).unwrap();
        let mut rng = Rng::new(3);
        out.write(&row(&mut rng, 0)).unwrap();
        out.finish().unwrap();
        let whole = std::fs::read(&path).unwrap();
        for cut in [1, 5, whole.len() - 1] {
            std::fs::write(&path, &whole[..cut]).unwrap();
            let err = RunReader::open(&path).unwrap().next().unwrap_err();
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
        }
        std::fs::write(&path, [7u8]).unwrap();
        assert!(RunReader::open(&path).unwrap().next().is_err());
    }

    /// A shard folder of `rows`, as `scan --shard I/N --output-dir` leaves it.
    fn shard_dir(base: &Path, index: u32, count: u32, rows: &[Finding]) -> PathBuf {
        let dir = base.join(format!("shard-{index}"));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = Manifest {
            phiscan_version: env!("CARGO_PKG_VERSION").to_string(),
            kind: ShardKind::Scan,
            shard: Shard { index, count },
            split_depth: 1,
            targets_digest: "t".into(),
            settings_digest: "s".into(),
            rules_digest: "r".into(),
            fingerprint_key_id: "k".into(),
            listing_digest: "0:0".into(),
            interrupted: false,
        };
        let paths = [(ReportFormat::Jsonl, Some(dir.join("phiscan.jsonl")))];
        let mut writers = crate::scan::open_writers_at(&paths, &[], false).unwrap();
        let summary = Summary::default();
        for f in rows {
            writers[0].finding(f).unwrap();
        }
        writers[0].flush_rows().unwrap();
        writers[0].finish(&summary).unwrap();
        let json = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap();
        std::fs::write(dir.join(SUMMARY_FILE), json(&summary.to_json())).unwrap();
        let manifest = serde_json::to_value(&manifest).unwrap();
        std::fs::write(dir.join(MANIFEST_FILE), json(&manifest)).unwrap();
        dir
    }

    fn given_rules() -> RulesGiven {
        RulesGiven {
            infos: Vec::new(),
            digest: "r".into(),
        }
    }

    /// A merge that spills writes what one in memory writes, caps and all;
    /// a cut shard report is refused by name.
    #[test]
    fn a_spilling_merge_writes_the_same_reports() {
        let tmp = tempfile::tempdir().unwrap();
        let mut rng = Rng::new(9);
        let rows: Vec<Finding> = (0..200).map(|n| row(&mut rng, n)).collect();
        let dirs: Vec<PathBuf> = rows
            .chunks(70)
            .enumerate()
            .map(|(i, part)| shard_dir(tmp.path(), i as u32, 3, part))
            .collect();
        let formats = [ReportFormat::Csv, ReportFormat::Jsonl];
        let read = |dir: &Path, name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        for max_rows in [0, 50, 200, 1000] {
            let whole = tmp.path().join(format!("memory-{max_rows}"));
            let spilled = tmp.path().join(format!("spilled-{max_rows}"));
            let rules = given_rules();
            let a = merge(&dirs, &whole, &formats, &rules, max_rows)
                .unwrap()
                .summary;
            let small = SortLimits {
                run_bytes: row_bytes(&rows[0]) * 9,
                fan_in: 2,
            };
            let b = merge_bounded(&dirs, &spilled, &formats, &rules, max_rows, small)
                .unwrap()
                .summary;
            assert_eq!(a.rows_not_written, b.rows_not_written);
            assert_eq!(
                b.rows_not_written,
                if max_rows == 50 { 150 } else { 0 },
                "{max_rows}"
            );
            assert_eq!(read(&whole, "phiscan.csv"), read(&spilled, "phiscan.csv"));
            let csv = read(&spilled, "phiscan.csv");
            let written = if max_rows == 50 { 50 } else { 200 };
            assert_eq!(csv.lines().count(), 1 + written);
            // Only the reports and the summary are left: no spill folder.
            let mut names: Vec<String> = std::fs::read_dir(&spilled)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            assert_eq!(names, ["phiscan.csv", "phiscan.jsonl", SUMMARY_FILE]);
        }

        // A manifest whose shard count was damaged.
        let manifest = dirs[0].join(MANIFEST_FILE);
        let kept = std::fs::read_to_string(&manifest).unwrap();
        let mut value: serde_json::Value = serde_json::from_str(&kept).unwrap();
        for count in [0u64, 4_000_000_000] {
            value["shard"]["count"] = count.into();
            std::fs::write(&manifest, value.to_string()).unwrap();
            // Alone: the set's count is this one (no other to differ from).
            let alone = &dirs[..1];
            let err = merge(alone, &tmp.path().join("bad"), &formats, &given_rules(), 0)
                .unwrap_err()
                .to_string();
            assert!(err.contains(&manifest.display().to_string()), "{err}");
        }
        std::fs::write(&manifest, kept).unwrap();

        // A cut report: exit status 2's error, naming the file.
        let report = dirs[1].join("phiscan.jsonl");
        let text = std::fs::read_to_string(&report).unwrap();
        std::fs::write(&report, &text[..text.len() / 2]).unwrap();
        let err = merge(&dirs, &tmp.path().join("cut"), &formats, &given_rules(), 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains(&report.display().to_string()), "{err}");
    }
}
