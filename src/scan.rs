//! Runs a scan: builds its [`ScanPlan`], then starts the threads. Sources
//! (on their own thread) list files and hand each to the [`Engine`] on a
//! worker (local files on the rayon pool, FTP files on the FTP workers);
//! findings go through a channel to one output thread, which writes the
//! reports and keeps the summary.

use crate::config::ScanConfig;
use crate::error::ConfigError;
use crate::plan::{KeySource, ScanPlan};
use crate::report::progress::Progress;
use crate::report::{self, Event, ReportFormat, ReportWriter, RuleInfo, Summary};
use crate::resume::ReplayError;
use crate::source::{self, Target};
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
            Some(p) => Box::new(io::BufWriter::new(std::fs::File::create(p).map_err(
                |source| ConfigError::Output {
                    path: p.clone(),
                    source,
                },
            )?)),
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
    let plan = ScanPlan::build(config)?;
    let formats: Vec<ReportFormat> = plan.reports.iter().map(|(f, _)| *f).collect();
    let appending = plan.resume.as_ref().is_some_and(|r| r.continues());
    let mut writers = open_writers_at(&plan.reports, &plan.rule_infos(), appending)?;
    let key = plan.engine.options.fingerprint_key.clone();
    let mut summary = Summary {
        fingerprint_key_id: key.id(),
        fingerprint_key_source: plan.key_source.as_str().to_string(),
        ..Summary::default()
    };
    let completed = plan.resume.as_ref().and_then(|r| r.completed.clone());
    // The earlier run's rows count in this summary (and exit status), and
    // SARIF/HTML, rewritten whole, hold them again.
    let checkpoint = match plan.resume {
        Some(resume) => Some(
            resume
                .replay(&formats, &mut writers, &mut summary)
                .map_err(|e| match e {
                    ReplayError::Read(e) => ConfigError::Invalid(format!("--resume: {e}")).into(),
                    ReplayError::Write(e) => ScanError::Output(e),
                })?,
        ),
        None => None,
    };
    if let Some(path) = plan
        .key_file
        .filter(|_| plan.key_source == KeySource::Generated)
    {
        // Keep the generated key beside the report so that `baseline
        // create` (and `--resume`) can use it; readable by the owner only.
        crate::baseline::write_key_file(&path, &key)
            .map_err(|source| ConfigError::Output { path, source })?;
    }
    let engine = Arc::new(plan.engine.for_scan(stop.clone(), completed));
    let progress = Progress::start(config.progress, config.quiet);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads.unwrap_or(0))
        .thread_name(|i| format!("phiscan-worker-{i}"))
        .build()
        .map_err(|e| ConfigError::Invalid(format!("cannot start worker threads: {e}")))?;

    let (tx, rx) = crossbeam_channel::bounded::<Event>(4096);
    let output_stop = stop.clone();
    let output_engine = engine.clone();
    let suppressor = plan.suppressor;
    let output = std::thread::Builder::new()
        .name("phiscan-output".into())
        .spawn(move || {
            let mut checkpoint = checkpoint;
            let result = report::run_output(
                rx,
                &mut writers,
                &mut summary,
                &suppressor,
                progress.as_ref(),
                report::OutputControl {
                    shown_path: Some(&|p: &str| output_engine.shown_path(p)),
                    stop: Some(&output_stop),
                    checkpoint: checkpoint
                        .as_mut()
                        .map(|c| c as &mut dyn report::Checkpoint),
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
    let targets = plan.targets;
    let filter = plan.filter;
    let sources = std::thread::Builder::new()
        .name("phiscan-sources".into())
        .spawn(move || {
            let _done = done_tx;
            for target in &targets {
                if engine.stopped() {
                    break;
                }
                let env = source::ScanEnv {
                    engine: &engine,
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

fn write_summary_json(path: &Path, summary: &Summary) -> io::Result<()> {
    let text = serde_json::to_string_pretty(&summary.to_json()).map_err(io::Error::other)?;
    std::fs::write(path, text + "\n")
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}
