//! Runs a scan: sources feed files to the extractors and matcher on a rayon
//! pool; findings go through a channel to one output thread.

use crate::allowlist::{Allowlist, Suppressor};
use crate::baseline::Baseline;
use crate::config::{ExtractLimits, ScanConfig};
use crate::error::ConfigError;
use crate::extract::{self, Budget, Ctx};
use crate::matcher::{Matcher, Scratch};
use crate::report::fingerprint::FingerprintKey;
use crate::report::progress::Progress;
use crate::report::{
    self, Event, EventSink, ReportFormat, ReportWriter, RuleInfo, SkipReason, Summary,
};
use crate::resume::{Completed, StateFile};
use crate::source::{self, Target};
use std::cell::RefCell;
use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    pub unmask: bool,
    pub limits: ExtractLimits,
    /// Key of the findings' fingerprints (see `report::fingerprint`).
    pub fingerprint_key: FingerprintKey,
}

/// The matcher and options shared by every worker.
pub struct Scanner {
    pub matcher: Matcher,
    pub options: ScanOptions,
    id: u64,
    /// Set on SIGINT/SIGTERM: files not yet started are not read.
    stop: Arc<AtomicBool>,
    /// Files an earlier run completed (`--resume`): skipped.
    completed: Option<Arc<Completed>>,
}

static NEXT_SCANNER_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Matcher scratch reused across files on each worker thread, tagged with
    /// the scanner it belongs to.
    static SCRATCH: RefCell<Option<(u64, Scratch)>> = const { RefCell::new(None) };
}

/// What happened to one top-level file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileOutcome {
    pub bytes: u64,
    pub truncated: bool,
    pub failed: bool,
}

impl Scanner {
    pub fn new(matcher: Matcher, options: ScanOptions) -> Scanner {
        Scanner {
            matcher,
            options,
            id: NEXT_SCANNER_ID.fetch_add(1, Ordering::Relaxed),
            stop: Arc::new(AtomicBool::new(false)),
            completed: None,
        }
    }

    /// Whether the scan was asked to stop (SIGINT/SIGTERM).
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Whether `--resume` says an earlier run scanned this file (same size
    /// and modification time where known). Sources may ask before fetching.
    pub fn already_scanned(
        &self,
        target: &str,
        path: &str,
        size: Option<u64>,
        mtime: Option<i64>,
    ) -> bool {
        self.completed
            .as_ref()
            .is_some_and(|c| c.file_done(target, path, size, mtime))
    }

    fn with_scratch<R>(&self, f: impl FnOnce(&mut Scratch) -> R) -> R {
        SCRATCH.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.as_ref().is_none_or(|(id, _)| *id != self.id) {
                *slot = Some((self.id, self.matcher.new_scratch()));
            }
            let (_, scratch) = slot.as_mut().expect("scratch was just set");
            scratch.leave_blocks();
            f(scratch)
        })
    }

    /// Scans one top-level file's content. `max_bytes` = 0 reads it all;
    /// `size` (when known) tells whether the limit truncated it.
    pub fn scan_file(
        &self,
        target: &Arc<str>,
        path: &str,
        data: &mut dyn Read,
        size: Option<u64>,
        max_bytes: u64,
        events: &dyn EventSink,
    ) -> FileOutcome {
        self.scan_file_meta(target, path, data, size, None, max_bytes, events)
    }

    /// [`Scanner::scan_file`] with the file's modification time (seconds
    /// since the epoch), which `--resume` uses to notice a changed file.
    /// Reads nothing once the scan is stopping, or when an earlier run
    /// scanned the file.
    #[allow(clippy::too_many_arguments)]
    pub fn scan_file_meta(
        &self,
        target: &Arc<str>,
        path: &str,
        data: &mut dyn Read,
        size: Option<u64>,
        mtime: Option<i64>,
        max_bytes: u64,
        events: &dyn EventSink,
    ) -> FileOutcome {
        if self.stopped() {
            return FileOutcome {
                failed: true,
                ..FileOutcome::default()
            };
        }
        if self.already_scanned(target, path, size, mtime) {
            events.send(Event::AlreadyScanned {
                target: target.clone(),
            });
            return FileOutcome::default();
        }
        let budget = Budget::with_time_limit(self.options.limits.max_seconds);
        let mut counted = CountingReader {
            inner: data,
            count: 0,
            budget: &budget,
        };
        let limit = if max_bytes == 0 { u64::MAX } else { max_bytes };
        let mut limited = (&mut counted).take(limit);
        let held = report::HeldEvents::new(events);
        let result = self.with_scratch(|scratch| {
            let mut ctx = Ctx {
                scanner: self,
                events: &held,
                target,
                path: path.to_string(),
                depth: 0,
                budget: &budget,
                scratch,
            };
            extract::scan_input(&mut ctx, &mut limited, size)
        });
        held.flush();
        let bytes = counted.count;
        let truncated = max_bytes > 0 && size.map_or(bytes >= max_bytes, |s| s > max_bytes);
        // Past the time limit the reader fails and extractors stop matching:
        // whatever error that caused, the reason is the limit.
        let result = if budget.timed_out() {
            Err(crate::error::ExtractError::Limit(format!(
                "stopped after {} s (time limit per file) with {bytes} bytes read; \
                 what was read before was matched",
                self.options.limits.max_seconds
            )))
        } else {
            result
        };
        match result {
            Ok(()) => {
                events.send(Event::FileScanned {
                    target: target.clone(),
                    path: path.to_string(),
                    bytes,
                    truncated,
                    size,
                    mtime,
                });
                FileOutcome {
                    bytes,
                    truncated,
                    failed: false,
                }
            }
            Err(e) => {
                events.send(Event::NotExamined {
                    target: target.clone(),
                    path: path.to_string(),
                    reason: extract::reason_of(&e),
                    detail: e.to_string(),
                });
                FileOutcome {
                    bytes,
                    truncated,
                    failed: true,
                }
            }
        }
    }

    /// Matches the last component of `path` (a file or directory name): a
    /// name such as `SMITH_JOHN_DOB_1980-01-02.pdf` is itself a finding,
    /// reported with field `path`.
    pub fn scan_name(&self, target: &Arc<str>, path: &str, events: &dyn EventSink) {
        if self.stopped()
            || self
                .completed
                .as_ref()
                .is_some_and(|c| c.name_done(target, path))
        {
            return;
        }
        let name_start = path.rfind('/').map_or(0, |i| i + 1);
        let name = name_for_matching(&path[name_start..]);
        let column = path[..name_start].chars().count() as u64 + 1;
        let budget = Budget::default();
        self.with_scratch(|scratch| {
            let mut ctx = Ctx {
                scanner: self,
                events,
                target,
                path: path.to_string(),
                depth: 0,
                budget: &budget,
                scratch,
            };
            extract::text::scan_block(
                &mut ctx,
                "path",
                &name,
                extract::Location { line: 1, column },
                None,
            );
        });
    }
}

impl Scanner {
    /// `text` (a report path, or a detail that may quote one) as reports
    /// show it: unless `--unmask`, every value the rules find in a folder,
    /// file or member name is masked as in the `match` column. A file named
    /// `SMITH_412-56-7890.pdf` would otherwise put the SSN in every row and
    /// every "not examined" line about it. `None` when nothing is masked.
    pub fn shown_path(&self, text: &str) -> Option<String> {
        if self.options.unmask || !text.bytes().any(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut changed = false;
        let mut hits = Vec::new();
        self.with_scratch(|scratch| {
            for part in text.split_inclusive(['/', '!']) {
                let name = part.trim_end_matches(['/', '!']);
                let spaced = name_for_matching(name);
                hits.clear();
                self.matcher
                    .find(&spaced, 0..spaced.len(), scratch, &mut hits);
                hits.sort_unstable_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
                let mut at = 0;
                for hit in &hits {
                    // Overlapping hits: the first (longest) one covers it.
                    let (Some(before), Some(value)) =
                        (name.get(at..hit.start), name.get(hit.start..hit.end))
                    else {
                        continue;
                    };
                    out.push_str(before);
                    let entity = self.matcher.rule(hit.rule).entity;
                    out.push_str(&crate::mask::mask_value(entity, value));
                    at = hit.end;
                    changed = true;
                }
                out.push_str(&part[at..]);
            }
        });
        changed.then_some(out)
    }
}

/// A file or folder name as the rules see it. Underscores separate words in
/// names (`SMITH_JOHN_DOB_1980-01-02`); as word characters they would hide
/// every value from the rules' word boundaries. Same length as `name`.
fn name_for_matching(name: &str) -> Vec<u8> {
    name.bytes()
        .map(|b| if b == b'_' { b' ' } else { b })
        .collect()
}

struct CountingReader<'a> {
    inner: &'a mut dyn Read,
    count: u64,
    budget: &'a Budget,
}

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.budget.check_time_now() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "time limit per file reached",
            ));
        }
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Builds the scanner for a configuration: rule pack loaded and compiled.
/// The fingerprint key is the configured one, or a one-off key.
pub fn build_scanner(config: &ScanConfig) -> Result<Scanner, ConfigError> {
    let key = match &config.fingerprint_key {
        Some(k) => {
            FingerprintKey::from_secret(k).map_err(|e| ConfigError::Invalid(e.to_string()))?
        }
        None => FingerprintKey::default(),
    };
    build_scanner_with_key(config, key)
}

/// [`build_scanner`] with the fingerprint key already decided.
pub fn build_scanner_with_key(
    config: &ScanConfig,
    fingerprint_key: FingerprintKey,
) -> Result<Scanner, ConfigError> {
    let specs = crate::rules::load_specs(config.default_rules, &config.rule_paths)?;
    let matcher = Matcher::new(specs)?;
    Ok(Scanner::new(
        matcher,
        ScanOptions {
            unmask: config.unmask,
            limits: config.limits.clone(),
            fingerprint_key,
        },
    ))
}

/// Errors that end a scan as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("writing the report failed: {0}")]
    Output(#[source] io::Error),
}

/// Where the fingerprint key came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// `--fingerprint-key` / `PHISCAN_FINGERPRINT_KEY`.
    Given,
    /// Stored in the `--baseline` file.
    Baseline,
    /// Generated for this scan (and written to a key file next to the
    /// report when the report goes to a file).
    Generated,
}

impl KeySource {
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::Given => "given",
            KeySource::Baseline => "baseline",
            KeySource::Generated => "generated",
        }
    }
}

/// Decides the fingerprint key and loads the baseline: the given key must
/// be the baseline's (else nothing would match).
pub fn resolve_key(
    config: &ScanConfig,
) -> Result<(FingerprintKey, KeySource, Option<Baseline>), ConfigError> {
    let invalid = |e: &dyn std::fmt::Display| ConfigError::Invalid(e.to_string());
    let baseline = match &config.baseline {
        Some(p) => Some(Baseline::load(p).map_err(|e| invalid(&e))?),
        None => None,
    };
    let (key, source) = match (&config.fingerprint_key, &baseline) {
        (Some(k), _) => (
            FingerprintKey::from_secret(k)
                .map_err(|e| invalid(&format!("--fingerprint-key: {e}")))?,
            KeySource::Given,
        ),
        (None, Some(Baseline { key: Some(k), .. })) => (k.clone(), KeySource::Baseline),
        (None, Some(_)) => {
            return Err(ConfigError::Invalid(format!(
                "{}: this baseline does not store its fingerprint key; pass the key it was \
                 made with (--fingerprint-key or PHISCAN_FINGERPRINT_KEY)",
                config
                    .baseline
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display()
            )))
        }
        (None, None) => {
            // A resumed run goes on with the key its first part generated,
            // or its fingerprints would not match the rows already written.
            let kept = config
                .resume
                .as_ref()
                .and(key_file(config))
                .and_then(|p| crate::baseline::read_key_file(&p));
            match kept {
                Some(k) => (k.map_err(|e| invalid(&e))?, KeySource::Generated),
                None => (
                    FingerprintKey::generate().map_err(|e| invalid(&e))?,
                    KeySource::Generated,
                ),
            }
        }
    };
    if let (Some(b), Some(path)) = (&baseline, &config.baseline) {
        b.check_key(path, &key).map_err(|e| invalid(&e))?;
    }
    Ok((key, source, baseline))
}

/// The formats asked for (CSV when none).
pub fn formats(config: &ScanConfig) -> Vec<ReportFormat> {
    let mut f = config.formats.clone();
    if f.is_empty() {
        f.push(ReportFormat::Csv);
    }
    f.sort();
    f.dedup();
    f
}

/// The rule pack as report writers see it.
pub fn rule_infos(matcher: &Matcher) -> Vec<RuleInfo> {
    matcher
        .rules()
        .iter()
        .map(|r| RuleInfo {
            id: r.id.to_string(),
            entity: r.entity,
            confidence: r.confidence,
            description: r.spec.description.clone(),
            source: r.spec.source.clone(),
        })
        .collect()
}

fn create_file(path: &Path) -> Result<std::fs::File, ConfigError> {
    std::fs::File::create(path).map_err(|source| ConfigError::Output {
        path: path.to_path_buf(),
        source,
    })
}

/// Where each requested format goes: `--output-dir DIR/phiscan.<ext>`, or
/// `--output FILE` / stdout for a single format.
pub fn report_paths(
    config: &ScanConfig,
) -> Result<Vec<(ReportFormat, Option<PathBuf>)>, ConfigError> {
    let formats = formats(config);
    if let Some(dir) = &config.output_dir {
        if config.output.is_some() {
            return Err(ConfigError::Invalid(
                "--output and --output-dir exclude each other".into(),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|source| ConfigError::Output {
            path: dir.clone(),
            source,
        })?;
        return Ok(formats
            .into_iter()
            .map(|f| (f, Some(dir.join(f.file_name()))))
            .collect());
    }
    match formats.as_slice() {
        [one] => Ok(vec![(*one, config.output.clone())]),
        _ => Err(ConfigError::Invalid(format!(
            "{} formats need --output-dir DIR (one file each)",
            formats.len()
        ))),
    }
}

/// A resumed run's report side: the state file, and where the earlier
/// run's rows are.
struct Resume {
    state: StateFile,
    completed: Option<Arc<Completed>>,
    /// The report the earlier run's findings are read from (CSV, else
    /// JSONL), when there was an earlier run.
    primary: Option<(ReportFormat, PathBuf)>,
    /// Rows of the other appendable report (CSV and JSONL both asked
    /// for): a kill between the two writes of a row leaves it in one only.
    other_ids: HashSet<[u8; 16]>,
}

/// Opens the `--resume` state file; when it records an earlier run, checks
/// its report is there and repairs the other appendable one (a partial
/// last row is cut off).
fn open_resume(
    state_path: &Path,
    paths: &[(ReportFormat, Option<PathBuf>)],
) -> Result<Resume, ConfigError> {
    if paths.iter().any(|(_, p)| p.is_none()) {
        return Err(resume_error(
            "the report must go to a file (-o FILE or --output-dir DIR) to be appended to",
        ));
    }
    let Some((primary_format, primary)) = crate::resume::appendable(paths) else {
        return Err(resume_error(
            "needs csv or jsonl among the formats: SARIF and HTML are rebuilt from them",
        ));
    };
    let (state, completed) = StateFile::open(state_path).map_err(resume_error)?;
    // No file completed yet: nothing to continue, start the report afresh
    // (rows of files that were in flight are written again by this run).
    let completed = completed.filter(|c| !c.is_empty());
    let mut other_ids = HashSet::new();
    if let Some(done) = &completed {
        if !primary.exists() {
            return Err(resume_error(format!(
                "{} lists {} files scanned by an earlier run, but its report {} is missing \
                 (remove the state file to start over)",
                state_path.display(),
                done.len(),
                primary.display()
            )));
        }
        for (format, path) in paths {
            let Some(path) = path.as_ref().filter(|p| p.exists()) else {
                continue;
            };
            let mut on_row = |f: report::Finding| {
                other_ids.insert(crate::resume::row_id(&f));
            };
            match format {
                _ if *format == primary_format => {}
                ReportFormat::Csv => {
                    crate::resume::read_csv_report(path, &mut on_row).map_err(resume_error)?;
                }
                ReportFormat::Jsonl => {
                    crate::resume::read_jsonl_report(path, &mut on_row).map_err(resume_error)?;
                }
                ReportFormat::Sarif | ReportFormat::Html => {}
            }
        }
    }
    Ok(Resume {
        state,
        primary: completed.as_ref().map(|_| (primary_format, primary)),
        completed: completed.map(Arc::new),
        other_ids,
    })
}

fn resume_error(e: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid(format!("--resume: {e}"))
}

/// Opens the report writers the configuration asks for.
pub fn open_writers(
    config: &ScanConfig,
    rules: &[RuleInfo],
) -> Result<Vec<Box<dyn ReportWriter>>, ConfigError> {
    open_writers_at(&report_paths(config)?, rules, false)
}

/// Opens the writers for `paths`. `append`: a resumed run continues the
/// CSV and JSONL reports (no second header) and rewrites SARIF and HTML.
fn open_writers_at(
    paths: &[(ReportFormat, Option<PathBuf>)],
    rules: &[RuleInfo],
    append: bool,
) -> Result<Vec<Box<dyn ReportWriter>>, ConfigError> {
    let mut writers: Vec<Box<dyn ReportWriter>> = Vec::new();
    for (format, path) in paths {
        let format = *format;
        let appending = append
            && matches!(format, ReportFormat::Csv | ReportFormat::Jsonl)
            && path
                .as_ref()
                .is_some_and(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0));
        let out: Box<dyn io::Write + Send> = match &path {
            Some(p) if appending => Box::new(io::BufWriter::new(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(p)
                    .map_err(|source| ConfigError::Output {
                        path: p.clone(),
                        source,
                    })?,
            )),
            Some(p) => Box::new(io::BufWriter::new(create_file(p)?)),
            None => Box::new(io::stdout()),
        };
        let output_err = |source| ConfigError::Output {
            path: path.clone().unwrap_or_else(|| "<stdout>".into()),
            source,
        };
        let writer: Box<dyn ReportWriter> = match format {
            ReportFormat::Csv if appending => Box::new(report::csv::CsvReport::appending(out)),
            ReportFormat::Csv => Box::new(report::csv::CsvReport::new(out).map_err(output_err)?),
            ReportFormat::Jsonl => Box::new(report::jsonl::JsonlReport::new(out)),
            ReportFormat::Sarif => {
                Box::new(report::sarif::SarifReport::new(out, rules.to_vec()).map_err(output_err)?)
            }
            ReportFormat::Html => Box::new(report::html::HtmlReport::new(out)),
        };
        writers.push(writer);
    }
    Ok(writers)
}

/// Runs a whole scan as configured and returns its summary.
pub fn run(config: &ScanConfig) -> Result<Summary, ScanError> {
    run_until(config, Arc::new(AtomicBool::new(false)))
}

/// How often the caller's thread looks at the stop flag while sources run.
const STOP_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// [`run`], stopping early once `stop` is set (SIGINT/SIGTERM): no new file
/// is started, the output side stops taking events, and the reports and
/// summary are finished, marked interrupted. Files being read at that
/// moment are dropped: their thread is left to wind down on its own (the
/// process is about to exit), and whatever it still sends goes nowhere.
pub fn run_until(config: &ScanConfig, stop: Arc<AtomicBool>) -> Result<Summary, ScanError> {
    let started = Instant::now();
    let paths = report_paths(config)?;
    let (key, key_source, baseline) = resolve_key(config)?;
    let key_id = key.id();
    let mut scanner = build_scanner_with_key(config, key.clone())?;
    let targets = config
        .targets
        .iter()
        .map(|t| source::parse_target(t))
        .collect::<Result<Vec<Target>, _>>()?;
    if targets.is_empty() {
        return Err(ConfigError::Invalid("no target given".into()).into());
    }
    let filter = source::PathFilter::new(&config.include, &config.exclude)?;
    let mut allow_specs = crate::rules::load_allows(config.default_rules, &config.rule_paths)?;
    allow_specs.extend(config.allow.iter().cloned());
    let allowlist =
        Allowlist::new(&allow_specs).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let suppressor = Suppressor {
        baseline,
        allowlist,
    };
    // Only once the configuration is known to be good: a failed start
    // leaves no state file behind.
    let mut resume = match &config.resume {
        Some(state) => Some(open_resume(state, &paths)?),
        None => None,
    };
    let resuming = resume.as_ref().is_some_and(|r| r.completed.is_some());
    scanner.stop = stop.clone();
    scanner.completed = resume.as_ref().and_then(|r| r.completed.clone());
    let scanner = Arc::new(scanner);
    let mut writers = open_writers_at(&paths, &rule_infos(&scanner.matcher), resuming)?;
    let mut summary = Summary {
        fingerprint_key_id: key_id,
        fingerprint_key_source: key_source.as_str().to_string(),
        ..Summary::default()
    };
    // Per writer, the rows it holds already (an index into `row_sets`);
    // the first set is also what the summary has counted.
    let mut row_sets = Vec::new();
    let mut writer_rows = Vec::new();
    let mut state = None;
    if let Some(r) = resume.take() {
        // The earlier run's rows count in this summary (and exit status),
        // and SARIF/HTML, rewritten whole, hold them again. Streamed: a large
        // report costs 16 bytes a row, not its size.
        let mut ids = HashSet::new();
        if let Some((format, path)) = &r.primary {
            let mut failed = None;
            let mut on_row = |f: report::Finding| {
                ids.insert(crate::resume::row_id(&f));
                for w in writers.iter_mut().filter(|w| !w.appends()) {
                    if let Err(e) = w.finding(&f) {
                        failed.get_or_insert(e);
                    }
                }
                summary.findings_from_earlier_run += 1;
                summary.record(&Event::Finding(f));
            };
            match format {
                ReportFormat::Csv => {
                    crate::resume::read_csv_report(path, &mut on_row).map_err(resume_error)?;
                }
                _ => crate::resume::read_jsonl_report(path, &mut on_row).map_err(resume_error)?,
            }
            if let Some(e) = failed {
                return Err(ScanError::Output(e));
            }
        }
        if let Some((primary, _)) = &r.primary {
            writer_rows = paths
                .iter()
                .map(|(f, _)| match f {
                    ReportFormat::Csv | ReportFormat::Jsonl if f != primary => Some(1),
                    _ => Some(0),
                })
                .collect();
            row_sets = vec![ids, r.other_ids];
        }
        state = Some(r.state);
    }
    if let Some(path) = key_file(config).filter(|_| key_source == KeySource::Generated) {
        // Keep the generated key beside the report so that `baseline
        // create` (and `--resume`) can use it; readable by the owner only.
        crate::baseline::write_key_file(&path, &key)
            .map_err(|source| ConfigError::Output { path, source })?;
    }
    let progress = Progress::start(config.progress, config.quiet);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads.unwrap_or(0))
        .thread_name(|i| format!("phiscan-worker-{i}"))
        .build()
        .map_err(|e| ConfigError::Invalid(format!("cannot start worker threads: {e}")))?;

    let (tx, rx) = crossbeam_channel::bounded::<Event>(4096);
    let output_stop = stop.clone();
    let output_scanner = scanner.clone();
    let output = std::thread::Builder::new()
        .name("phiscan-output".into())
        .spawn(move || {
            let mut state = state;
            let result = report::run_output_with(
                rx,
                &mut writers,
                &mut summary,
                &suppressor,
                progress.as_ref(),
                report::OutputControl {
                    shown_path: Some(&|p: &str| output_scanner.shown_path(p)),
                    stop: Some(&output_stop),
                    previous_rows: writer_rows
                        .iter()
                        .map(|i: &Option<usize>| i.map(|i| &row_sets[i]))
                        .collect(),
                    counted_rows: row_sets.first(),
                    state: state.as_mut(),
                },
            );
            if let Some(p) = &progress {
                p.finish(&summary);
            }
            (summary, writers, result)
        })
        .map_err(|e| ScanError::Output(io::Error::other(e)))?;

    // Sources run on their own thread so that an interruption need not wait
    // for a slow transfer to end.
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
    let source_config = config.clone();
    let source_scanner = scanner.clone();
    let sources = std::thread::Builder::new()
        .name("phiscan-sources".into())
        .spawn(move || {
            let _done = done_tx;
            for target in &targets {
                if source_scanner.stopped() {
                    break;
                }
                let env = source::ScanEnv {
                    scanner: &source_scanner,
                    config: &source_config,
                    filter: &filter,
                    events: &tx,
                    pool: &pool,
                };
                match target {
                    Target::Local { display, path } => source::local::scan(&env, display, path),
                    Target::Ftp(ftp) => source::ftp::scan(&env, ftp),
                }
            }
        })
        .map_err(|e| ScanError::Output(io::Error::other(e)))?;
    loop {
        match done_rx.recv_timeout(STOP_POLL) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) if !stop.load(Ordering::SeqCst) => {}
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => break,
            Ok(()) | Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                if let Err(panic) = sources.join() {
                    std::panic::resume_unwind(panic);
                }
                break;
            }
        }
    }
    let (mut summary, mut writers, result) = output
        .join()
        .map_err(|_| ScanError::Output(io::Error::other("output thread panicked")))?;
    result.map_err(ScanError::Output)?;
    // Elapsed time is known only now; writers' summaries include it.
    summary.set_elapsed(started.elapsed());
    writers
        .iter_mut()
        .try_for_each(|w| w.finish(&summary))
        .map_err(ScanError::Output)?;
    if let Some(path) = &config.summary_json {
        write_summary_json(path, &summary).map_err(ScanError::Output)?;
    }
    Ok(summary)
}

/// Where a generated fingerprint key is kept: beside the report file, or
/// beside the report folder. `None` for a report on stdout.
fn key_file(config: &ScanConfig) -> Option<PathBuf> {
    match (&config.output_dir, &config.output) {
        (Some(dir), _) => Some(crate::baseline::key_file_for_dir(dir)),
        (None, Some(out)) => Some(crate::baseline::key_file_for_report(out)),
        (None, None) => None,
    }
}

fn write_summary_json(path: &Path, summary: &Summary) -> io::Result<()> {
    let text = serde_json::to_string_pretty(&summary.to_json()).map_err(io::Error::other)?;
    std::fs::write(path, text + "\n")
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Emits a not-examined event (for sources).
pub fn not_examined(
    events: &dyn EventSink,
    target: &Arc<str>,
    path: &str,
    reason: SkipReason,
    detail: String,
) {
    events.send(Event::NotExamined {
        target: target.clone(),
        path: path.to_string(),
        reason,
        detail,
    });
}
