//! The `phiscan` command: parses arguments into a plain `ScanConfig`, runs
//! the library, maps the outcome to an exit status.

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use phiscan::config::{FtpOptions, ScanConfig};
use phiscan::config_file::ConfigFile;
use phiscan::entity::Confidence;
use phiscan::report::fingerprint::FingerprintKey;
use phiscan::report::progress::ProgressMode;
use phiscan::report::ReportFormat;
use phiscan::rules::RulePack;
use phiscan::scan::{self, ScanError};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Exit statuses (documented in README).
const EXIT_CLEAN: u8 = 0;
const EXIT_FINDINGS: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_INCOMPLETE: u8 = 3;
/// Interrupted by SIGINT or SIGTERM (128 + SIGINT, as shells report Ctrl-C).
const EXIT_INTERRUPTED: u8 = 130;

const EXAMPLES: &str = "\
Examples:
  Administrator, at a terminal:
    phiscan scan ftp://files.example.internal/ -o findings.csv
    phiscan scan /srv/ftp --format html --output-dir report/

  Auditor, a report for a client (rule packs over several servers):
    phiscan scan --rules clinic-rules/ --format csv,html,sarif --output-dir audit-2026-11 \\
        --summary-json audit-2026-11/summary.json ftp://srv1/ ftp://srv2/

  CI job, on a mirrored share, failing only on new findings:
    export PHISCAN_FINGERPRINT_KEY=...                            # a CI secret
    phiscan scan mirror/ -o report.csv                            # once,
    phiscan baseline create report.csv -o phiscan-baseline.json   # then commit it
    phiscan scan mirror/ --baseline phiscan-baseline.json --fail-on MEDIUM \\
        --format sarif -o phiscan.sarif

  Settings in ./phiscan.toml (phiscan init writes an example); flags override it.

  A large, slow server in pieces (Ctrl-C, then the same command again):
    phiscan scan ftp://srv1/ -o srv1.csv --resume srv1.state

Exit status: 0 clean, 1 findings at or above --fail-on, 2 usage or configuration
error, 3 no findings but the scan was incomplete (an FTP login that failed
included), 130 interrupted.";

#[derive(Parser)]
#[command(
    name = "phiscan",
    version,
    about = "Find PHI/PII on FTP shares and local mirrors of them",
    after_help = EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once; boxing buys nothing
enum Command {
    /// Scan files, folders or FTP servers and write a masked report.
    Scan(Box<ScanArgs>),
    /// List or test rule packs.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Create a baseline of known findings from a report.
    Baseline {
        #[command(subcommand)]
        command: BaselineCommand,
    },
    /// Write a commented example phiscan.toml.
    Init {
        /// Where to write it.
        #[arg(default_value = "phiscan.toml")]
        path: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print value fingerprints for allowlists (values read from stdin).
    ///
    /// One value per line; values are never taken as arguments, which
    /// would keep them in shell history.
    Fingerprint {
        #[command(flatten)]
        key: KeyArgs,
        /// Take the key from this baseline file.
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(clap::Args)]
struct KeyArgs {
    /// Secret key of the finding fingerprints (at least 16 bytes).
    #[arg(
        long = "fingerprint-key",
        env = "PHISCAN_FINGERPRINT_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    fingerprint_key: Option<String>,
}

#[derive(Subcommand)]
enum BaselineCommand {
    /// Read a CSV or JSONL report and write the baseline of its findings.
    Create {
        /// A report written by `phiscan scan` (CSV or JSONL).
        report: PathBuf,
        /// Baseline file to write.
        #[arg(
            short,
            long,
            value_name = "FILE",
            default_value = "phiscan-baseline.json"
        )]
        output: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
    },
}

#[derive(clap::Args)]
struct RulePackArgs {
    /// Rule file or folder of rule files, added to the built-in pack (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Do not load the built-in rules.
    #[arg(long)]
    no_default_rules: bool,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// List rules: id, entity, confidence, description.
    List(RulePackArgs),
    /// Print every rule's pattern, one per line, as other tools take them
    /// (`rg -f`): the benchmark's baseline runs the same patterns.
    Patterns(RulePackArgs),
    /// Check every rule's examples and negative examples.
    Test {
        /// Rule file or folder to test (default: the built-in pack).
        path: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
struct ScanArgs {
    /// Files, folders, or ftp:// / ftps:// URLs (default: the config file's targets).
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
    /// Settings file (default: ./phiscan.toml when it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Report formats: csv, jsonl, sarif, html (repeatable or comma list;
    /// several need --output-dir).
    #[arg(long = "format", value_name = "FORMAT", value_delimiter = ',', value_parser = parse_format)]
    formats: Vec<ReportFormat>,
    /// Write each format to DIR/phiscan.<format>.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Write the machine-readable summary (JSON) here.
    #[arg(long, value_name = "FILE")]
    summary_json: Option<PathBuf>,
    /// Findings in this baseline are counted as baselined, not reported.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    #[command(flatten)]
    key: KeyArgs,
    /// Show progress even when stderr is not a terminal or with --quiet.
    #[arg(long)]
    progress: bool,
    /// Write the report here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    pack: RulePackArgs,
    /// Worker threads (default: one per CPU).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Bytes read per file; 0 = whole file (default: whole file locally, 8 MiB over FTP).
    #[arg(long, value_name = "N")]
    max_bytes: Option<u64>,
    /// Seconds spent on one file at most (reading and matching); the rest
    /// is reported as not examined. 0 = no limit. Default: 300.
    #[arg(long, value_name = "SECS")]
    file_timeout: Option<u64>,
    /// Only scan paths matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
    /// Skip paths matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Write matched values in full (reports are masked by default).
    #[arg(long)]
    unmask: bool,
    /// Lowest confidence that makes the exit status 1 [default: LOW].
    #[arg(long, value_name = "LEVEL", value_parser = parse_confidence)]
    fail_on: Option<Confidence>,
    /// No summary or progress on stderr.
    #[arg(short, long)]
    quiet: bool,
    /// State file for a scan done in pieces: files completed are recorded
    /// there; a rerun with the same file skips them and appends to the
    /// report (needs -o or --output-dir, and csv or jsonl).
    #[arg(long, value_name = "STATE")]
    resume: Option<PathBuf>,
    /// File of targets, one per line (`#` starts a comment).
    #[arg(long = "targets", id = "targets_file", value_name = "FILE")]
    targets_file: Option<PathBuf>,
    #[command(flatten)]
    ftp: FtpArgs,
}

/// FTP/FTPS targets.
#[derive(clap::Args)]
struct FtpArgs {
    /// Control connections per FTP server, shared by listing and retrieval.
    /// [default: 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    connections: Option<u64>,
    /// Seconds to wait to connect, for a reply, or for data.
    /// [default: 30]
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    timeout: Option<u64>,
    /// Accept any certificate (self-signed) on ftps:// targets.
    #[arg(long)]
    insecure: bool,
    /// Active mode (PORT/EPRT) instead of passive.
    #[arg(long)]
    active: bool,
    /// Follow symbolic links on FTP servers (with loop protection).
    #[arg(long)]
    follow_links: bool,
    /// Descend at most N folder levels below the FTP target's path.
    #[arg(long, value_name = "N")]
    max_depth: Option<u32>,
    /// Fetch at most N files per FTP server.
    #[arg(long, value_name = "N")]
    max_files: Option<u64>,
    /// Do not fetch FTP files whose listed size is larger than N bytes.
    #[arg(long, value_name = "N")]
    skip_larger_than: Option<u64>,
    /// Also read the last N bytes of FTP files larger than --max-bytes (REST).
    #[arg(long, value_name = "N")]
    sample_tail: Option<u64>,
    /// At most N FTP commands per second per server.
    #[arg(long, value_name = "N")]
    rate: Option<f64>,
    /// Test anonymous write access by creating and removing a directory (changes the server).
    #[arg(long)]
    check_write: bool,
    /// Do not try an anonymous login when credentials are given.
    #[arg(long)]
    no_anon_check: bool,
    /// Password for anonymous logins.
    /// [default: anonymous@]
    #[arg(long, value_name = "PASS")]
    anon_password: Option<String>,
    /// netrc-style file with FTP logins (`machine HOST login USER password PASS`).
    #[arg(long, value_name = "FILE")]
    netrc: Option<PathBuf>,
}

impl FtpArgs {
    /// Flags given on the command line override the config file's `[ftp]`.
    fn apply_to(self, o: &mut FtpOptions) -> anyhow::Result<()> {
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0) {
                anyhow::bail!("--rate must be a positive number of commands per second");
            }
            o.rate = Some(rate);
        }
        if let Some(n) = self.connections {
            o.connections = usize::try_from(n).unwrap_or(4);
        }
        if let Some(t) = self.timeout {
            o.timeout_secs = t;
        }
        if let Some(p) = self.anon_password {
            o.anonymous_password = p;
        }
        o.insecure |= self.insecure;
        o.active |= self.active;
        o.follow_links |= self.follow_links;
        o.check_write |= self.check_write;
        if self.no_anon_check {
            o.anon_check = false;
        }
        if self.max_depth.is_some() {
            o.max_depth = self.max_depth;
        }
        if self.max_files.is_some() {
            o.max_files = self.max_files;
        }
        if self.skip_larger_than.is_some() {
            o.skip_larger_than = self.skip_larger_than;
        }
        if self.sample_tail.is_some() {
            o.sample_tail = self.sample_tail;
        }
        if self.netrc.is_some() {
            o.netrc = self.netrc;
        }
        Ok(())
    }
}

/// Reads a `--targets` file: one target per line, `#` comments, blanks ignored.
fn read_targets_file(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read targets file {}", path.display()))?;
    Ok(text
        .lines()
        .map(|l| l.split_once('#').map_or(l, |(before, _)| before).trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

fn parse_confidence(s: &str) -> Result<Confidence, String> {
    Confidence::parse(s).ok_or_else(|| format!("{s:?} is not LOW, MEDIUM or HIGH"))
}

fn parse_format(s: &str) -> Result<ReportFormat, String> {
    ReportFormat::parse(s).ok_or_else(|| format!("{s:?} is not csv, jsonl, sarif or html"))
}

impl ScanArgs {
    /// The config file's settings (if any), then the flags given on top.
    fn into_config(self) -> anyhow::Result<ScanConfig> {
        let mut config = ScanConfig::default();
        let file = match &self.config {
            Some(p) => Some(p.clone()),
            None => ConfigFile::find_default(),
        };
        if let Some(path) = file {
            ConfigFile::load(&path)?.apply_to(&mut config);
        }
        if !self.targets.is_empty() {
            config.targets = self.targets;
        }
        if let Some(file) = &self.targets_file {
            config.targets.extend(read_targets_file(file)?);
        }
        self.ftp.apply_to(&mut config.ftp)?;
        if config.targets.is_empty() {
            anyhow::bail!("no TARGET given (on the command line, with --targets, or in the config file's targets)");
        }
        if self.output.is_some() {
            config.output = self.output;
            // An explicit single file wins over the file's output_dir.
            config.output_dir = None;
        }
        if self.output_dir.is_some() {
            config.output_dir = self.output_dir;
            config.output = None;
        }
        if !self.pack.rules.is_empty() {
            config.rule_paths = self.pack.rules;
        }
        if self.pack.no_default_rules {
            config.default_rules = false;
        }
        if self.threads.is_some() {
            config.threads = self.threads;
        }
        if self.max_bytes.is_some() {
            config.max_bytes = self.max_bytes;
        }
        if let Some(seconds) = self.file_timeout {
            config.limits.max_seconds = seconds;
        }
        if !self.include.is_empty() {
            config.include = self.include;
        }
        if !self.exclude.is_empty() {
            config.exclude = self.exclude;
        }
        config.unmask |= self.unmask;
        if let Some(level) = self.fail_on {
            config.fail_on = level;
        }
        config.quiet |= self.quiet;
        if !self.formats.is_empty() {
            config.formats = self.formats;
        }
        if self.summary_json.is_some() {
            config.summary_json = self.summary_json;
        }
        if self.baseline.is_some() {
            config.baseline = self.baseline;
        }
        if self.key.fingerprint_key.is_some() {
            config.fingerprint_key = self.key.fingerprint_key;
        }
        if self.progress {
            config.progress = ProgressMode::Always;
        }
        if self.resume.is_some() {
            config.resume = self.resume;
        }
        Ok(config)
    }
}

/// Colors only on a terminal, and never when NO_COLOR is set (no-color.org).
fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn key_from(args: KeyArgs) -> anyhow::Result<Option<FingerprintKey>> {
    args.fingerprint_key
        .map(|k| FingerprintKey::from_secret(&k))
        .transpose()
        .context("--fingerprint-key")
}

/// A flag set by the first SIGINT or SIGTERM: the scan stops and writes
/// its summary. A second one ends the process at once (exit status 130).
fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Registered first: exits only when the flag is already set.
        flag::register_conditional_shutdown(signal, i32::from(EXIT_INTERRUPTED), stop.clone())
            .context("cannot install the signal handler")?;
        flag::register(signal, stop.clone()).context("cannot install the signal handler")?;
    }
    Ok(stop)
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("phiscan: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Scan(args) => {
            let config = args.into_config()?;
            let summary = match scan::run_until(&config, stop_on_signals()?) {
                Ok(s) => s,
                Err(ScanError::Config(e)) => return Err(e.into()),
                Err(e @ ScanError::Output(_)) => {
                    eprintln!("phiscan: {e}");
                    return Ok(EXIT_INCOMPLETE);
                }
            };
            if !config.quiet {
                eprint!("{}", summary.to_text_styled(stderr_color()));
                if summary.interrupted {
                    eprintln!(
                        "  {}",
                        if config.resume.is_some() {
                            "interrupted: run the same command again to continue where it stopped"
                        } else {
                            "interrupted: with --resume STATE a scan can be continued later"
                        }
                    );
                }
                if summary.fingerprint_key_source == "generated"
                    && config.output.is_none()
                    && config.output_dir.is_none()
                    && summary.total_findings() > 0
                {
                    eprintln!(
                        "  note: fingerprints use a one-off key; set PHISCAN_FINGERPRINT_KEY \
                         (or write the report to a file) to baseline them"
                    );
                }
            }
            Ok(if summary.interrupted {
                EXIT_INTERRUPTED
            } else if summary.findings_at_or_above_where_logged_in(config.fail_on) > 0 {
                EXIT_FINDINGS
            } else if summary.incomplete() {
                EXIT_INCOMPLETE
            } else {
                EXIT_CLEAN
            })
        }
        Command::Baseline {
            command:
                BaselineCommand::Create {
                    report,
                    output,
                    key,
                },
        } => {
            let key = key_from(key)?;
            let file = phiscan::baseline::create(&report, key.as_ref())?;
            let text = serde_json::to_string_pretty(&file)? + "\n";
            if file.key.is_some() {
                // The stored key makes the baseline as sensitive as a report.
                phiscan::baseline::write_private(&output, &text)
            } else {
                std::fs::write(&output, &text)
            }
            .with_context(|| format!("writing {}", output.display()))?;
            eprintln!(
                "phiscan: baseline of {} findings (key id {}) written to {}{}",
                file.findings.len(),
                file.key_id,
                output.display(),
                if file.key.is_some() {
                    "; it stores the fingerprint key: keep it as private as the reports"
                } else {
                    ""
                }
            );
            Ok(EXIT_CLEAN)
        }
        Command::Init { path, force } => {
            if path.exists() && !force {
                anyhow::bail!("{} exists (use --force to overwrite)", path.display());
            }
            std::fs::write(&path, phiscan::config_file::EXAMPLE)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("phiscan: wrote {}", path.display());
            Ok(EXIT_CLEAN)
        }
        Command::Fingerprint { key, baseline } => {
            let key = match (key_from(key)?, baseline) {
                (Some(k), _) => k,
                (None, Some(b)) => phiscan::baseline::Baseline::load(&b)?
                    .key
                    .context("the baseline does not store its key: pass --fingerprint-key")?,
                (None, None) => anyhow::bail!(
                    "a key is needed: --fingerprint-key, PHISCAN_FINGERPRINT_KEY or --baseline"
                ),
            };
            let mut line = String::new();
            let stdin = std::io::stdin();
            loop {
                line.clear();
                if stdin.read_line(&mut line)? == 0 {
                    break;
                }
                let value = line.trim_end_matches(['\n', '\r']);
                if value.is_empty() {
                    continue;
                }
                println!(
                    "{}",
                    phiscan::report::fingerprint::value_fingerprint(&key, value)
                );
            }
            Ok(EXIT_CLEAN)
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "phiscan",
                &mut std::io::stdout(),
            );
            Ok(EXIT_CLEAN)
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(EXIT_CLEAN)
        }
        Command::Rules { command } => match command {
            RulesCommand::List(pack) => {
                let rule_pack = RulePack::load(!pack.no_default_rules, &pack.rules)?;
                let matcher = phiscan::matcher::Matcher::new(&rule_pack)?;
                let mut out = csv::WriterBuilder::new()
                    .delimiter(b'\t')
                    .from_writer(std::io::stdout());
                out.write_record(["id", "entity", "confidence", "description"])?;
                for r in matcher.rules() {
                    out.write_record([
                        &*r.id,
                        r.entity.as_str(),
                        r.confidence.as_str(),
                        &r.spec.description,
                    ])?;
                }
                out.flush()?;
                Ok(EXIT_CLEAN)
            }
            RulesCommand::Patterns(pack) => {
                let rule_pack = RulePack::load(!pack.no_default_rules, &pack.rules)?;
                for spec in rule_pack.rules() {
                    // phiscan compiles patterns with ASCII classes; group
                    // names repeat across rules, which a joined pattern
                    // cannot have.
                    let plain = spec
                        .pattern
                        .replace("(?P<value>", "(?:")
                        .replace("(?<value>", "(?:");
                    println!("(?-u:{plain})");
                }
                Ok(EXIT_CLEAN)
            }
            RulesCommand::Test { path } => {
                let (default_rules, paths) = match path {
                    Some(p) => (false, vec![p]),
                    None => (true, vec![]),
                };
                let rule_pack = RulePack::load(default_rules, &paths)?;
                let matcher =
                    phiscan::matcher::Matcher::new(&rule_pack).context("compiling rules")?;
                let failures = phiscan::rules::check::check(&matcher);
                let examples: usize = matcher
                    .rules()
                    .iter()
                    .map(|r| r.spec.examples.len() + r.spec.negative_examples.len())
                    .sum();
                for f in &failures {
                    println!("FAIL {} ({}): {}", f.rule, f.source, f.message);
                }
                println!(
                    "{} rules, {} examples checked, {} failures",
                    matcher.rules().len(),
                    examples,
                    failures.len()
                );
                Ok(if failures.is_empty() {
                    EXIT_CLEAN
                } else {
                    EXIT_FINDINGS
                })
            }
        },
    }
}
