//! `phiscan discover` as a whole: the discovery with its rows going
//! through the same report writers and summary as a scan (every format,
//! `--output-dir`, `--summary-json`).

use super::{DiscoverConfig, DiscoverError, DiscoverSummary};
use crate::config::ScanConfig;
use crate::report::summary::DiscoveryCounts;
use crate::report::{self, Event, Summary};
use crate::scan::ScanError;
use crate::shard::{Manifest, ShardKind};
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
    let write_json = |path: &std::path::Path, value: &serde_json::Value| {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| ScanError::Output(io::Error::other(e)))?;
        crate::outfile::write(path, (text + "\n").as_bytes()).map_err(|e| {
            ScanError::Output(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        })
    };
    if let Some(path) = &output.summary_json {
        write_json(path, &summary.to_json())?;
    }
    if let (Some(shard), Some(dir)) = (&config.shard, &output.output_dir) {
        // The shard's servers, for merge to join (with or without
        // --targets-out, which names a file of the user's).
        let path = dir.join(crate::shard::TARGETS_FILE);
        let text = super::targets_text(discovered.login_urls.iter().map(String::as_str));
        crate::outfile::write(&path, text.as_bytes()).map_err(|e| {
            ScanError::Output(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        })?;
        // Written last: a shard folder with a manifest holds whole reports.
        write_json(&dir.join(crate::shard::SUMMARY_FILE), &summary.to_json())?;
        let mut manifest = manifest(config, shard.shard);
        manifest.interrupted = summary.interrupted;
        let value =
            serde_json::to_value(&manifest).map_err(|e| ScanError::Output(io::Error::other(e)))?;
        write_json(&dir.join(crate::shard::MANIFEST_FILE), &value)?;
    }
    Ok((summary, discovered))
}

/// The manifest of `discover --shard`: the target set is the targets and
/// exclusions as given; the settings that change results are the ports and
/// the checks run (the users of `--creds`, never their passwords). Not the
/// rate, the connections at once or the timeout: shards may differ in
/// those. There is no rule pack and nothing listed (the digests are
/// empty).
pub fn manifest(config: &DiscoverConfig, shard: crate::shard::Shard) -> Manifest {
    let targets = config
        .targets
        .iter()
        .cloned()
        .chain(config.excludes.iter().map(|e| format!("exclude {e}")));
    let targets: Vec<String> = targets.collect();
    let e = &config.exposure;
    let users: Vec<&str> = e.extra_logins.iter().map(|l| l.user.as_str()).collect();
    let settings = format!(
        "ports={:?}\nallow_large={}\ncheck_write={} check_default_creds={} creds_users={users:?} \
         check_bounce={} bounce_via={:?}\n",
        config.ports,
        config.allow_large,
        e.check_write,
        e.check_default_creds,
        e.check_bounce,
        e.bounce_via,
    );
    Manifest {
        phiscan_version: env!("CARGO_PKG_VERSION").to_string(),
        kind: ShardKind::Discover,
        shard,
        split_depth: 0,
        targets_digest: crate::shard::targets_digest(targets.iter().map(String::as_str)),
        settings_digest: crate::shard::sha256_hex(settings.as_bytes()),
        rules_digest: String::new(),
        fingerprint_key_id: config.fingerprint_key.id(),
        listing_digest: String::new(),
        interrupted: false,
    }
}
