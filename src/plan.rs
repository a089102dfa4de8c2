//! The plan of a scan: everything the configuration decides, resolved and
//! checked once before anything is read (like ripgrep's `HiArgs`): the
//! rule pack compiled into an engine, the fingerprint key and baseline,
//! the targets, the path filter, the allowlist, where each report goes,
//! and the `--resume` state. A plan that fails to build has read and
//! written nothing but the report folder.

use crate::allowlist::{Allowlist, Suppressor};
use crate::baseline::Baseline;
use crate::config::{Origin, ScanConfig};
use crate::engine::Engine;
use crate::error::ConfigError;
use crate::extract::ocr::OcrState;
use crate::extract::ScanOptions;
use crate::matcher::Matcher;
use crate::report::fingerprint::FingerprintKey;
use crate::report::{ReportFormat, RuleInfo};
use crate::resume::Resume;
use crate::rules::RulePack;
use crate::source::{self, PathFilter, Target};
use std::path::{Path, PathBuf};

/// A scan, resolved (see the module docs).
pub struct ScanPlan {
    pub engine: Engine,
    pub key_source: KeySource,
    pub targets: Vec<Target>,
    pub filter: PathFilter,
    /// Baseline and allowlists.
    pub suppressor: Suppressor,
    /// Every format asked for and its file (`None`: stdout).
    pub reports: Vec<(ReportFormat, Option<PathBuf>)>,
    /// The text view, where it is written, is coloured.
    pub text_color: bool,
    /// Where a generated key is kept (reports in files only).
    pub key_file: Option<PathBuf>,
    pub resume: Option<Resume>,
    /// SHA-256 of the rule pack as loaded (`manifest.json` of `--shard`).
    pub rules_digest: String,
}

impl ScanPlan {
    pub fn build(config: &ScanConfig) -> Result<ScanPlan, ConfigError> {
        let reports = report_paths(config)?;
        let (key, key_source, baseline) = resolve_key(config)?;
        let pack = RulePack::load(config.default_rules, &config.rule_paths)?;
        let engine = build_engine_with_key(config, &pack, key)?;
        let rules_digest = rules_digest(&pack);
        let targets = config
            .targets
            .iter()
            .map(|t| {
                source::parse_target(t).map_err(|e| match (e, &t.origin) {
                    (ConfigError::MissingTarget(path), Origin::File(file))
                    | (ConfigError::MissingTarget(path), Origin::TargetsFile(file)) => {
                        ConfigError::MissingTargetIn {
                            path,
                            file: file.clone(),
                        }
                    }
                    (e, _) => e,
                })
            })
            .collect::<Result<Vec<Target>, _>>()?;
        if targets.is_empty() {
            return Err(ConfigError::Invalid("no target given".into()));
        }
        let filter = PathFilter::new(&config.include, &config.exclude)?;
        let mut allow_specs = pack.allows().to_vec();
        allow_specs.extend(config.allow.iter().cloned());
        let allowlist =
            Allowlist::new(&allow_specs).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        // Only once the configuration is known to be good: a failed start
        // leaves no state file behind.
        let resume = match &config.resume {
            Some(state) => Some(
                Resume::open(state, &reports, &engine.options.fingerprint_key)
                    .map_err(|e| ConfigError::Invalid(format!("--resume: {e}")))?,
            ),
            None => None,
        };
        Ok(ScanPlan {
            engine,
            key_source,
            targets,
            filter,
            suppressor: Suppressor {
                baseline,
                allowlist,
            },
            reports,
            text_color: view(config).color,
            key_file: key_file(config),
            resume,
            rules_digest,
        })
    }

    /// The rule pack as report writers see it.
    pub fn rule_infos(&self) -> Vec<RuleInfo> {
        rule_infos(&self.engine.matcher)
    }
}

/// Builds the engine for a configuration: rule pack loaded and compiled.
/// The fingerprint key is the configured one, or a one-off key.
pub fn build_engine(config: &ScanConfig) -> Result<Engine, ConfigError> {
    let key = match &config.fingerprint_key {
        Some(k) => FingerprintKey::from_secret(k.expose())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?,
        None => FingerprintKey::default(),
    };
    let pack = RulePack::load(config.default_rules, &config.rule_paths)?;
    build_engine_with_key(config, &pack, key)
}

/// [`build_engine`] with the rule pack loaded and the fingerprint key
/// already decided.
fn build_engine_with_key(
    config: &ScanConfig,
    pack: &RulePack,
    fingerprint_key: FingerprintKey,
) -> Result<Engine, ConfigError> {
    let matcher = Matcher::new(pack)?;
    let ocr = OcrState::new(config.threads);
    ocr.check(&config.limits.ocr)
        .map_err(ConfigError::Invalid)?;
    Ok(Engine::new(
        matcher,
        ScanOptions {
            unmask: config.unmask,
            limits: config.limits.clone(),
            fingerprint_key,
            ocr,
            rows_per_file: None,
        },
    ))
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
fn resolve_key(
    config: &ScanConfig,
) -> Result<(FingerprintKey, KeySource, Option<Baseline>), ConfigError> {
    let invalid = |e: &dyn std::fmt::Display| ConfigError::Invalid(e.to_string());
    let baseline = match &config.baseline {
        Some(p) => Some(Baseline::load(p).map_err(|e| invalid(&e))?),
        None => None,
    };
    let (key, source) = match (&config.fingerprint_key, &baseline) {
        (Some(k), _) => (
            FingerprintKey::from_secret(k.expose())
                .map_err(|e| invalid(&format!("{}: {e}", crate::settings::key_origin(k))))?,
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
            let kept_file = config.resume.as_ref().and(key_file(config));
            let kept = kept_file
                .as_ref()
                .and_then(|p| crate::baseline::read_key_file(p));
            match kept {
                Some(k) => (
                    k.map_err(|e| {
                        let file = kept_file.as_deref().unwrap_or(Path::new(""));
                        invalid(&format!("key file {}: {e}", file.display()))
                    })?,
                    KeySource::Generated,
                ),
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

/// The formats asked for; when none, the text view at a terminal, else CSV.
fn formats(config: &ScanConfig) -> Vec<ReportFormat> {
    let mut f = config.formats.clone();
    if f.is_empty() {
        f.push(if view(config).default_is_text {
            ReportFormat::Text
        } else {
            ReportFormat::Csv
        });
    }
    f.sort();
    f.dedup();
    f
}

/// How the report is shown, from the terminal, `--color`, `--format` and
/// `-o`/`--output-dir`.
pub fn view(config: &ScanConfig) -> crate::report::text::View {
    crate::report::text::stdout_view(
        config.terminal,
        config.color,
        !config.formats.is_empty(),
        config.output.is_some() || config.output_dir.is_some(),
    )
}

/// A rule pack as report writers see it, without compiling it.
/// SHA-256 of the rule pack as loaded (`manifest.json` of `--shard`, and
/// what `merge --rules` is checked against).
pub fn rules_digest(pack: &RulePack) -> String {
    crate::shard::sha256_hex(format!("{pack:?}").as_bytes())
}

pub fn pack_rule_infos(pack: &RulePack) -> Vec<RuleInfo> {
    pack.rules()
        .iter()
        .map(|r| RuleInfo {
            id: r.id.clone(),
            entity: r.entity,
            confidence: r.confidence,
            description: r.description.clone(),
            source: r.source.clone(),
        })
        .collect()
}

/// The rule pack as report writers see it.
fn rule_infos(matcher: &Matcher) -> Vec<RuleInfo> {
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
        [one] => Ok(vec![(*one, report_file(config))]),
        _ => Err(ConfigError::Invalid(format!(
            "{} formats need --output-dir DIR (one file each)",
            formats.len()
        ))),
    }
}

/// Where a generated fingerprint key is kept: beside the report file, or
/// beside the report folder. `None` for a report on stdout.
pub fn key_file(config: &ScanConfig) -> Option<PathBuf> {
    match (&config.output_dir, report_file(config)) {
        (Some(dir), _) => Some(crate::baseline::key_file_for_dir(dir)),
        (None, Some(out)) => Some(crate::baseline::key_file_for_report(&out)),
        (None, None) => None,
    }
}

/// The report file of `-o FILE`; `None` for stdout (no `-o`, or `-o -`).
fn report_file(config: &ScanConfig) -> Option<PathBuf> {
    config.output.clone().filter(|p| p.as_os_str() != "-")
}
