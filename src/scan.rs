//! Runs a scan: builds its [`ScanPlan`], then starts the threads. Sources
//! (on their own thread) list files and hand each to the [`Engine`] on a
//! worker (local files on the rayon pool, FTP files on the FTP workers);
//! findings go through a channel to one output thread, which writes the
//! reports and keeps the summary.

use crate::allowlist::Suppressor;
use crate::config::ScanConfig;
use crate::engine::Engine;
use crate::error::ConfigError;
use crate::plan::{KeySource, ScanPlan};
use crate::report::progress::Progress;
use crate::report::{self, Event, ReportFormat, ReportWriter, RuleInfo, Summary};
use crate::resume::{Completed, ReplayError, ResumeCheckpoint};
use crate::shard::{Manifest, ShardScan, MANIFEST_FILE};
use crate::source::{self, PathFilter, Target};
use std::io;
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Errors that end a scan as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("writing the report failed: {0}")]
    Output(#[source] io::Error),
}

/// Opens the writers for `paths`. `append`: a resumed run continues the
/// CSV and JSONL reports (no second header) and rewrites SARIF and HTML.
/// A text view is not coloured (see [`open_writers_styled`]).
pub fn open_writers_at(
    paths: &[(ReportFormat, Option<PathBuf>)],
    rules: &[RuleInfo],
    append: bool,
) -> Result<Vec<Box<dyn ReportWriter>>, ConfigError> {
    open_writers_styled(paths, rules, append, false, None)
}

/// [`open_writers_at`]; `text_color`: the text view is coloured;
/// `progress`: the bar a report on stdout is written around.
pub fn open_writers_styled(
    paths: &[(ReportFormat, Option<PathBuf>)],
    rules: &[RuleInfo],
    append: bool,
    text_color: bool,
    progress: Option<&Progress>,
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
            Some(p) => {
                let opened = if appending {
                    crate::outfile::append(p)
                } else {
                    crate::outfile::create(p)
                };
                Box::new(io::BufWriter::new(opened.map_err(|source| {
                    ConfigError::Output {
                        path: p.clone(),
                        source,
                    }
                })?))
            }
            None => match progress {
                Some(p) => Box::new(p.stdout()),
                None => Box::new(io::stdout()),
            },
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
            ReportFormat::Text => Box::new(report::text::TextReport::new(out, text_color)),
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
    let mut plan = ScanPlan::build(config)?;
    // Findings past a file's row cap are only counted when nothing (a
    // baseline, an allowlist, rows an earlier run wrote) could have
    // dropped one of that file's findings before the cap.
    if config.row_caps.per_file != 0 && plan.suppressor.drops_nothing() && plan.resume.is_none() {
        plan.engine.options.rows_per_file = Some(config.row_caps.per_file);
    }
    let shard = sharded(config)?;
    let manifest = shard.as_ref().map(|s| shard_manifest(config, &plan, s));
    // Started before the writers: a report on stdout is written with the
    // bar cleared, or rows and bar would mix on a terminal.
    let progress = Progress::start(config.progress, config.quiet);
    let mut outputs = match Outputs::open(&mut plan, progress.as_ref()) {
        Ok(outputs) => outputs,
        Err(e) => {
            if let Some(p) = &progress {
                p.clear();
            }
            return Err(e);
        }
    };
    outputs.row_caps = config.row_caps;
    outputs.verbose = config.verbose;
    outputs.summary.settings_file = config.origins.settings_file.as_ref().map(|path| {
        let distrusted = config.origins.distrusted.as_ref();
        crate::report::summary::SettingsFileUse {
            path: path.display().to_string(),
            trusted: distrusted.is_none(),
            ignored: distrusted.map(|d| d.ignored.clone()).unwrap_or_default(),
        }
    });
    outputs.summary.run = report::run::RunFacts::for_scan(
        config,
        plan.targets
            .iter()
            .map(|t| match t {
                crate::source::Target::Local { display, .. } => display.to_string(),
                crate::source::Target::Ftp(f) => f.display.to_string(),
                crate::source::Target::Network(n) => n.clone(),
            })
            .collect(),
        &plan.engine.matcher,
    );
    let completed = outputs.completed.clone();
    let engine = Arc::new(plan.engine.for_scan(stop.clone(), completed));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads.unwrap_or(0))
        .thread_name(|i| format!("phiscan-worker-{i}"))
        .build()
        .map_err(|e| ConfigError::Invalid(format!("cannot start worker threads: {e}")))?;
    let (tx, rx) = crossbeam_channel::bounded::<Event>(4096);
    let output = spawn_output(
        outputs,
        rx,
        plan.suppressor,
        progress,
        &engine,
        &stop,
        shard.clone(),
    )?;
    let sources = spawn_sources(
        config,
        plan.targets,
        plan.filter,
        engine,
        tx,
        pool,
        shard.clone(),
    )?;
    wait_for_sources(sources, &stop);
    let (mut summary, mut writers, result) = output
        .join()
        .map_err(|_| ScanError::Output(io::Error::other("output thread panicked")))?;
    result.map_err(ScanError::Output)?;
    // Elapsed time is known only now; writers' summaries include it.
    summary.set_elapsed(started.elapsed());
    summary.run.set_ended_now();
    writers
        .iter_mut()
        .try_for_each(|w| w.finish(&summary))
        .map_err(ScanError::Output)?;
    if let Some(path) = &config.summary_json {
        write_summary_json(path, &summary).map_err(ScanError::Output)?;
    }
    if let (Some(mut manifest), Some(shard), Some(dir)) = (manifest, shard, &config.output_dir) {
        // Written last: a shard folder with a manifest holds whole reports.
        write_summary_json(&dir.join(crate::shard::SUMMARY_FILE), &summary)
            .map_err(ScanError::Output)?;
        manifest.listing_digest = shard.listing_digest();
        manifest.interrupted = summary.interrupted;
        let text = serde_json::to_string_pretty(&manifest).map_err(io::Error::other);
        text.and_then(|t| crate::outfile::write(&dir.join(MANIFEST_FILE), (t + "\n").as_bytes()))
            .map_err(ScanError::Output)?;
    }
    Ok(summary)
}

/// `--shard`: checked against the rest of the configuration.
fn sharded(config: &ScanConfig) -> Result<Option<Arc<ShardScan>>, ConfigError> {
    let Some(spec) = config.shard else {
        return Ok(None);
    };
    if config.output_dir.is_none() {
        return Err(ConfigError::Invalid(
            "--shard needs --output-dir DIR (the shard's reports, summary and manifest, for \
             phiscan merge)"
                .into(),
        ));
    }
    Ok(Some(Arc::new(ShardScan::new(spec))))
}

/// The shard's manifest as far as it is known before the scan (the
/// listing digest and the interruption are filled in at the end).
fn shard_manifest(config: &ScanConfig, plan: &ScanPlan, shard: &ShardScan) -> Manifest {
    Manifest {
        phiscan_version: env!("CARGO_PKG_VERSION").to_string(),
        kind: crate::shard::ShardKind::Scan,
        shard: shard.shard,
        split_depth: shard.split_depth,
        targets_digest: crate::shard::targets_digest(plan.targets.iter().map(target_shown)),
        settings_digest: crate::shard::settings_digest(config),
        rules_digest: plan.rules_digest.clone(),
        fingerprint_key_id: plan.engine.options.fingerprint_key.id(),
        listing_digest: String::new(),
        interrupted: false,
    }
}

/// A target as its report rows name it.
fn target_shown(target: &Target) -> &str {
    match target {
        Target::Local { display, .. } => display,
        Target::Ftp(ftp) => &ftp.display,
        Target::Network(spec) => spec,
    }
}

/// The report side before the scan starts: writers open, the summary begun
/// (with an earlier run's rows when resuming), the generated key kept.
struct Outputs {
    writers: Vec<Box<dyn ReportWriter>>,
    summary: Summary,
    checkpoint: Option<ResumeCheckpoint>,
    /// Files an earlier run completed (`--resume`).
    completed: Option<Arc<Completed>>,
    row_caps: report::RowCaps,
    /// `-v`: files named on stderr.
    verbose: bool,
}

impl Outputs {
    /// Takes the plan's `--resume` state.
    fn open(plan: &mut ScanPlan, progress: Option<&Progress>) -> Result<Outputs, ScanError> {
        let formats: Vec<ReportFormat> = plan.reports.iter().map(|(f, _)| *f).collect();
        let appending = plan.resume.as_ref().is_some_and(|r| r.continues());
        let mut writers = open_writers_styled(
            &plan.reports,
            &plan.rule_infos(),
            appending,
            plan.text_color,
            progress,
        )?;
        let key = &plan.engine.options.fingerprint_key;
        let mut summary = Summary {
            fingerprint_key_id: key.id(),
            fingerprint_key_source: plan.key_source.as_str().to_string(),
            ..Summary::default()
        };
        let completed = plan.resume.as_ref().and_then(|r| r.completed.clone());
        // The earlier run's rows count in this summary (and exit status),
        // and SARIF/HTML, rewritten whole, hold them again.
        let checkpoint = match plan.resume.take() {
            Some(resume) => Some(
                resume
                    .replay(&formats, &mut writers, &mut summary)
                    .map_err(|e| match e {
                        ReplayError::Read(e) => {
                            ConfigError::Invalid(format!("--resume: {e}")).into()
                        }
                        ReplayError::Write(e) => ScanError::Output(e),
                    })?,
            ),
            None => None,
        };
        if let Some(path) = plan
            .key_file
            .clone()
            .filter(|_| plan.key_source == KeySource::Generated)
        {
            // Keep the generated key beside the report so that `baseline
            // create` (and `--resume`) can use it; readable by the owner only.
            crate::baseline::write_key_file(&path, key)
                .map_err(|source| ConfigError::Output { path, source })?;
        }
        Ok(Outputs {
            writers,
            summary,
            checkpoint,
            completed,
            row_caps: report::RowCaps::DEFAULT,
            verbose: false,
        })
    }
}

type OutputThread = std::thread::JoinHandle<(Summary, Vec<Box<dyn ReportWriter>>, io::Result<()>)>;

/// Starts the output thread: it writes the reports and keeps the summary
/// until every sender is gone or the scan stops.
fn spawn_output(
    outputs: Outputs,
    events: crossbeam_channel::Receiver<Event>,
    suppressor: Suppressor,
    progress: Option<Progress>,
    engine: &Arc<Engine>,
    stop: &Arc<AtomicBool>,
    shard: Option<Arc<ShardScan>>,
) -> Result<OutputThread, ScanError> {
    let stop = stop.clone();
    let engine = engine.clone();
    std::thread::Builder::new()
        .name("phiscan-output".into())
        .spawn(move || {
            let Outputs {
                mut writers,
                mut summary,
                mut checkpoint,
                row_caps,
                verbose,
                ..
            } = outputs;
            let keep = shard.map(|s| move |e: &Event| s.keeps(e));
            let result = report::run_output(
                events,
                &mut writers,
                &mut summary,
                &suppressor,
                progress.as_ref(),
                report::OutputControl {
                    shown_path: Some(&|p: &str| engine.shown_path(p)),
                    stop: Some(&stop),
                    checkpoint: checkpoint
                        .as_mut()
                        .map(|c| c as &mut dyn report::Checkpoint),
                    row_caps,
                    keep: keep.as_ref().map(|k| k as &(dyn Fn(&Event) -> bool + Sync)),
                    verbose,
                },
            );
            if let Some(p) = &progress {
                p.finish(&summary);
            }
            (summary, writers, result)
        })
        .map_err(|e| ScanError::Output(io::Error::other(e)))
}

/// Starts the sources on their own thread, so that an interruption need
/// not wait for a slow transfer to end. The receiver ends (disconnects)
/// when they are done.
fn spawn_sources(
    config: &ScanConfig,
    targets: Vec<Target>,
    filter: PathFilter,
    engine: Arc<Engine>,
    events: crossbeam_channel::Sender<Event>,
    pool: rayon::ThreadPool,
    shard: Option<Arc<ShardScan>>,
) -> Result<SourcesThread, ScanError> {
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
    let config = config.clone();
    let handle = std::thread::Builder::new()
        .name("phiscan-sources".into())
        .spawn(move || {
            let _done = done_tx;
            for target in &targets {
                if engine.stopped() {
                    break;
                }
                // A network target is swept by every shard, each probing
                // its own addresses and ports (see `discover::sweep`).
                if !matches!(target, Target::Network(_))
                    && shard
                        .as_ref()
                        .is_some_and(|s| !s.visits_target(target_shown(target)))
                {
                    continue;
                }
                let env = source::ScanEnv {
                    engine: &engine,
                    config: &config,
                    filter: &filter,
                    events: &events,
                    pool: &pool,
                    shard: shard.as_deref(),
                };
                match target {
                    Target::Local { display, path } => source::local::scan(&env, display, path),
                    Target::Ftp(ftp) => source::ftp::scan(&env, ftp),
                    Target::Network(spec) => crate::discover::crawl::scan_network(&env, spec),
                }
            }
        })
        .map_err(|e| ScanError::Output(io::Error::other(e)))?;
    Ok(SourcesThread {
        handle,
        done: done_rx,
    })
}

struct SourcesThread {
    handle: std::thread::JoinHandle<()>,
    /// Disconnects when the thread ends.
    done: crossbeam_channel::Receiver<()>,
}

/// Waits until the sources are done, or the scan is stopped (then they are
/// left to wind down on their own).
fn wait_for_sources(sources: SourcesThread, stop: &AtomicBool) {
    loop {
        match sources.done.recv_timeout(STOP_POLL) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) if !stop.load(Ordering::SeqCst) => {}
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => break,
            Ok(()) | Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                if let Err(panic) = sources.handle.join() {
                    std::panic::resume_unwind(panic);
                }
                break;
            }
        }
    }
}

fn write_summary_json(path: &Path, summary: &Summary) -> io::Result<()> {
    let text = serde_json::to_string_pretty(&summary.to_json()).map_err(io::Error::other)?;
    crate::outfile::write(path, (text + "\n").as_bytes())
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}
