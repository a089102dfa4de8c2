//! `phiscan discover` as a whole: the discovery with its rows going
//! through the same report writers and summary as a scan (every format,
//! `--output-dir`, `--summary-json`).

use super::{DiscoverConfig, DiscoverError, DiscoverSummary};
use crate::config::ScanConfig;
use crate::report::summary::DiscoveryCounts;
use crate::report::{self, Event, Summary};
use crate::scan::ScanError;
use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// Why a discovery with reports stopped.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    #[error(transparent)]
    Scan(#[from] ScanError),
}

/// Discovery has no baseline or allowlist: every row is written.
struct ReportAll;

impl report::FindingFilter for ReportAll {
    fn disposition(&self, _finding: &report::Finding) -> report::Disposition {
        report::Disposition::Report
    }
}

/// The sweep's counts as the summary shows them.
pub fn counts(d: &DiscoverSummary) -> DiscoveryCounts {
    DiscoveryCounts {
        addresses: d.addresses,
        addresses_done: d.addresses_done,
        ports_probed: d.ports_probed,
        ports_open: d.ports_open,
        ftp_services: d.services,
        not_ftp: d.not_ftp,
    }
}

/// Runs `config`, writing every row to the reports `output` asks for
/// (`output`, `output_dir`, `formats`, `summary_json` are read from it).
pub fn run_with_reports(
    config: &DiscoverConfig,
    output: &ScanConfig,
    stop: Arc<AtomicBool>,
) -> Result<(Summary, DiscoverSummary), AuditError> {
    let started = Instant::now();
    // Targets are checked before any report file is created.
    super::space(config)?;
    let paths = crate::plan::report_paths(output).map_err(ScanError::from)?;
    let mut writers = crate::scan::open_writers_at(&paths, &[], false).map_err(ScanError::from)?;
    let mut summary = Summary {
        fingerprint_key_id: config.fingerprint_key.id(),
        fingerprint_key_source: if output.fingerprint_key.is_some() {
            "given"
        } else {
            "generated"
        }
        .to_string(),
        run: crate::report::run::RunFacts {
            phiscan_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: crate::report::run::rfc3339(std::time::SystemTime::now()),
            ..Default::default()
        },
        ..Summary::default()
    };
    let (tx, rx) = crossbeam_channel::bounded::<Event>(4096);
    let output_stop = stop.clone();
    let writer_thread = std::thread::Builder::new()
        .name("phiscan-output".into())
        .spawn(move || {
            let result = report::run_output(
                rx,
                &mut writers,
                &mut summary,
                &ReportAll,
                None,
                report::OutputControl {
                    shown_path: None,
                    stop: Some(&output_stop),
                    checkpoint: None,
                    // One row per service and check: nothing to cap.
                    row_caps: report::RowCaps::NONE,
                    keep: None,
                    verbose: false,
                },
            );
            (summary, writers, result)
        })
        .map_err(|e| ScanError::Output(io::Error::other(e)))?;
    let discovered = super::run(config, stop, &tx);
    drop(tx);
    let (mut summary, mut writers, result) = writer_thread
        .join()
        .map_err(|_| ScanError::Output(io::Error::other("output thread panicked")))?;
    let discovered = discovered?;
    result.map_err(ScanError::Output)?;
    summary.interrupted |= discovered.interrupted;
    summary.set_elapsed(started.elapsed());
    summary.run.set_ended_now();
    writers
        .iter_mut()
        .try_for_each(|w| w.finish(&summary))
        .map_err(ScanError::Output)?;
    if let Some(path) = &output.summary_json {
        let text = serde_json::to_string_pretty(&summary.to_json())
            .map_err(|e| ScanError::Output(io::Error::other(e)))?;
        crate::outfile::write(path, (text + "\n").as_bytes()).map_err(|e| {
            ScanError::Output(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        })?;
    }
    Ok((summary, discovered))
}
