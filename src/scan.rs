//! Runs a scan: sources feed files to the extractors and matcher on a rayon
//! pool; findings go through a channel to one output thread.

use crate::config::{ExtractLimits, ScanConfig};
use crate::error::ConfigError;
use crate::extract::{self, Budget, Ctx};
use crate::matcher::{Matcher, Scratch};
use crate::report::{self, Event, EventSink, ReportWriter, SkipReason, Summary};
use crate::source::{self, Target};
use std::cell::RefCell;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    pub unmask: bool,
    pub limits: ExtractLimits,
}

/// The matcher and options shared by every worker.
pub struct Scanner {
    pub matcher: Matcher,
    pub options: ScanOptions,
    id: u64,
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
        }
    }

    fn with_scratch<R>(&self, f: impl FnOnce(&mut Scratch) -> R) -> R {
        SCRATCH.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.as_ref().is_none_or(|(id, _)| *id != self.id) {
                *slot = Some((self.id, self.matcher.new_scratch()));
            }
            let (_, scratch) = slot.as_mut().expect("scratch was just set");
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
        let mut counted = CountingReader {
            inner: data,
            count: 0,
        };
        let limit = if max_bytes == 0 { u64::MAX } else { max_bytes };
        let mut limited = (&mut counted).take(limit);
        let budget = Budget::default();
        let result = self.with_scratch(|scratch| {
            let mut ctx = Ctx {
                scanner: self,
                events,
                target,
                path: path.to_string(),
                depth: 0,
                budget: &budget,
                scratch,
            };
            extract::scan_input(&mut ctx, &mut limited, size)
        });
        let bytes = counted.count;
        let truncated = max_bytes > 0 && size.map_or(bytes >= max_bytes, |s| s > max_bytes);
        match result {
            Ok(()) => {
                events.send(Event::FileScanned {
                    target: target.clone(),
                    bytes,
                    truncated,
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
        let name_start = path.rfind('/').map_or(0, |i| i + 1);
        // Underscores separate words in file names; as word characters they
        // would hide every value from the rules' word boundaries.
        let name: String = path[name_start..]
            .chars()
            .map(|c| if c == '_' { ' ' } else { c })
            .collect();
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
                name.as_bytes(),
                extract::Location { line: 1, column },
                None,
            );
        });
    }
}

struct CountingReader<'a> {
    inner: &'a mut dyn Read,
    count: u64,
}

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Builds the scanner for a configuration: rule pack loaded and compiled.
pub fn build_scanner(config: &ScanConfig) -> Result<Scanner, ConfigError> {
    let specs = crate::rules::load_specs(config.default_rules, &config.rule_paths)?;
    let matcher = Matcher::new(specs)?;
    Ok(Scanner::new(
        matcher,
        ScanOptions {
            unmask: config.unmask,
            limits: config.limits.clone(),
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

/// Opens the report writers the configuration asks for.
pub fn open_writers(config: &ScanConfig) -> Result<Vec<Box<dyn ReportWriter>>, ConfigError> {
    let out: Box<dyn io::Write + Send> = match &config.output {
        Some(path) => {
            Box::new(
                std::fs::File::create(path).map_err(|source| ConfigError::Output {
                    path: path.clone(),
                    source,
                })?,
            )
        }
        None => Box::new(io::stdout()),
    };
    let csv = report::csv::CsvReport::new(out).map_err(|source| ConfigError::Output {
        path: config.output.clone().unwrap_or_else(|| "<stdout>".into()),
        source,
    })?;
    Ok(vec![Box::new(csv)])
}

/// Runs a whole scan as configured and returns its summary.
pub fn run(config: &ScanConfig) -> Result<Summary, ScanError> {
    let started = Instant::now();
    let scanner = build_scanner(config)?;
    let targets = config
        .targets
        .iter()
        .map(|t| source::parse_target(t))
        .collect::<Result<Vec<Target>, _>>()?;
    if targets.is_empty() {
        return Err(ConfigError::Invalid("no target given".into()).into());
    }
    let filter = source::PathFilter::new(&config.include, &config.exclude)?;
    let mut writers = open_writers(config)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads.unwrap_or(0))
        .thread_name(|i| format!("phiscan-worker-{i}"))
        .build()
        .map_err(|e| ConfigError::Invalid(format!("cannot start worker threads: {e}")))?;

    let (tx, rx) = crossbeam_channel::bounded::<Event>(4096);
    let output = std::thread::Builder::new()
        .name("phiscan-output".into())
        .spawn(move || {
            let mut summary = Summary::default();
            let result = report::run_output(rx, &mut writers, &mut summary)
                .and_then(|()| writers.iter_mut().try_for_each(|w| w.finish(&summary)));
            (summary, result)
        })
        .map_err(|e| ScanError::Output(io::Error::other(e)))?;

    for target in &targets {
        let env = source::ScanEnv {
            scanner: &scanner,
            config,
            filter: &filter,
            events: &tx,
            pool: &pool,
        };
        match target {
            Target::Local { display, path } => source::local::scan(&env, display, path),
            Target::Ftp(ftp) => source::ftp::scan(&env, ftp),
        }
    }
    drop(tx);
    let (mut summary, result) = output
        .join()
        .map_err(|_| ScanError::Output(io::Error::other("output thread panicked")))?;
    result.map_err(ScanError::Output)?;
    summary.set_elapsed(started.elapsed());
    Ok(summary)
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
