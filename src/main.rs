//! The `phiscan` command: parses arguments, runs one subcommand of the
//! library, maps its outcome to an exit status. Each subcommand is one
//! function; settings are parsed and resolved in `phiscan::settings`.

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use phiscan::config::ScanConfig;
use phiscan::discover::DiscoverConfig;
use phiscan::fail_on::FailOn;
use phiscan::report::fingerprint::FingerprintKey;
use phiscan::report::summary::Summary;
use phiscan::rules::RulePack;
use phiscan::scan::{self, ScanError};
use phiscan::settings::{KeyArg, Layers, Settings};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Exit statuses (documented in README and in `--help`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
    Clean = 0,
    /// Findings that `--fail-on` names; failed rule examples.
    Findings = 1,
    /// Usage or configuration error: every error that ends a command.
    Usage = 2,
    /// No failing findings, but something was not examined, nothing at
    /// all was scanned, or the report could not be written.
    Incomplete = 3,
    /// No failing findings, but a server could not be read: its login
    /// failed or it could not be reached (neither clean nor "PHI found").
    ServerNotRead = 4,
    /// Interrupted by SIGINT or SIGTERM (128 + SIGINT, as shells report
    /// Ctrl-C).
    Interrupted = 130,
}

impl Exit {
    /// The status of a scan that ran to its summary.
    fn of_scan(summary: &Summary, fail_on: FailOn) -> Exit {
        if summary.interrupted {
            Exit::Interrupted
        } else if fail_on.failing_findings(summary) > 0 {
            Exit::Findings
        } else if summary.servers_not_read() > 0 {
            Exit::ServerNotRead
        } else if summary.incomplete() || nothing_scanned(summary) {
            Exit::Incomplete
        } else {
            Exit::Clean
        }
    }
}

/// No file was read, listed as not examined or left from an earlier run,
/// and no server was reached: an empty folder, or a mount that failed.
fn nothing_scanned(summary: &Summary) -> bool {
    summary.files_scanned == 0
        && summary.files_already_scanned == 0
        && summary.total_not_examined() == 0
        && summary.discovery.is_none()
        && summary.targets.values().all(|t| t.access.is_none())
}

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

Exit status: 0 clean; 1 findings that --fail-on names (default: any PHI or
server exposure); 2 usage or configuration error; 3 no failing findings but the
scan was incomplete, or nothing at all was scanned; 4 no failing findings but an
FTP server could not be read (login failed or unreachable); 130 interrupted.";

#[derive(Parser)]
#[command(
    name = "phiscan",
    version,
    propagate_version = true,
    about = "Find PHI/PII on FTP shares and local mirrors of them",
    after_help = EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan files, folders or FTP servers and write a masked report.
    #[command(after_help = EXAMPLES)]
    Scan(Box<Settings>),
    /// Find the FTP servers on a network and judge each one's exposure.
    ///
    /// Sweep only networks you are allowed to audit. Without the --check-*
    /// flags nothing is written to any server: it connects, reads the
    /// greeting, sends SYST, FEAT and AUTH TLS, tries the anonymous logins
    /// and lists what an anonymous user can see.
    Discover(Box<DiscoverArgs>),
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
    /// Join the output folders of `scan --shard I/N` (or `discover --shard
    /// I/N`) into one run's reports.
    ///
    /// Refuses (exit status 2) a set with a shard missing or repeated, or
    /// shards that did not run the same scan (see docs/SHARDING.md). Rows
    /// are sorted in bounded memory (runs spilled to a temporary folder in
    /// --output-dir); discover shards' servers are joined into targets.txt.
    Merge {
        /// Where the merged reports and summary.json go.
        #[arg(long, value_name = "DIR")]
        output_dir: PathBuf,
        /// Report formats: csv, jsonl, sarif, html [default: csv].
        #[arg(long = "format", value_name = "FORMAT", value_delimiter = ',', value_parser = phiscan::settings::parse_format)]
        formats: Vec<phiscan::report::ReportFormat>,
        /// What makes the exit status 1, as for `scan` [default: LOW].
        #[arg(long, value_name = "LEVEL", value_parser = phiscan::fail_on::FailOnParser)]
        fail_on: Option<FailOn>,
        /// No summary on stderr.
        #[arg(short, long)]
        quiet: bool,
        /// The scan shards' rule pack (their --rules, --no-default-rules):
        /// SARIF and HTML describe its rules; refused unless it is the
        /// shards' own.
        #[command(flatten)]
        pack: RulePackArgs,
        /// Rows written in all, as `scan --max-rows` caps one run (each
        /// shard capped only its own); 0 = no cap.
        #[arg(long, value_name = "N", default_value_t = phiscan::report::RowCaps::DEFAULT.per_scan)]
        max_rows: u64,
        /// Each shard's --output-dir.
        #[arg(value_name = "SHARD_DIR", required = true)]
        shards: Vec<PathBuf>,
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
        key: KeyArg,
        /// Take the key from this baseline file.
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff), or write one per command to a folder.
    Man {
        /// The command whose page to print (`scan`, `rules list`); none:
        /// the top-level page.
        #[arg(value_name = "COMMAND")]
        command: Vec<String>,
        /// Write every page (phiscan.1, phiscan-scan.1, ...) to DIR.
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        out: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct DiscoverArgs {
    /// Addresses, CIDR blocks (10.20.0.0/22), ranges (192.168.5.10-192.168.5.40
    /// or 192.168.5.10-40), host names, host:port.
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
    /// File of targets, one per line (`#` starts a comment).
    #[arg(long = "targets", id = "targets_file", value_name = "FILE")]
    targets_file: Option<PathBuf>,
    /// Ports to try on every address (comma list, ranges allowed).
    #[arg(long, value_name = "PORTS", default_value = "21,990,2121")]
    ports: String,
    /// New connections per second, or `unlimited`.
    #[arg(long, value_name = "N", default_value = "100")]
    rate: String,
    /// Most connections open at once.
    #[arg(long, value_name = "N", default_value_t = phiscan::discover::DEFAULT_MAX_IN_FLIGHT)]
    max_in_flight: usize,
    /// Seconds to wait to connect, for a reply, or for data.
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    timeout: u64,
    /// Never contact these addresses or blocks (repeatable).
    #[arg(long, value_name = "ADDR|CIDR")]
    exclude: Vec<String>,
    /// Allow sweeping more than a /16 (65,536 addresses) in one run.
    #[arg(long)]
    allow_large: bool,
    /// Test anonymous write access: MKD and STOR of a uniquely named empty
    /// probe in each folder that looks writable, removed again (changes the
    /// server; a probe that cannot be removed is reported).
    #[arg(long)]
    check_write: bool,
    /// Try the built-in default logins (and --creds), one attempt each.
    #[arg(long)]
    check_default_creds: bool,
    /// More logins for --check-default-creds: `user:password` per line.
    #[arg(long, value_name = "FILE", requires = "check_default_creds")]
    creds: Option<PathBuf>,
    /// Test FTP bounce: PORT to a listener on another address of this machine.
    #[arg(long)]
    check_bounce: bool,
    /// The address of this machine the bounce listener uses (default: a
    /// second loopback address for servers on loopback; others need it).
    #[arg(long, value_name = "ADDR", requires = "check_bounce")]
    bounce_via: Option<std::net::IpAddr>,
    /// Write the URL of every server that accepted a login here, for
    /// `phiscan scan --targets FILE`.
    #[arg(long, value_name = "FILE")]
    targets_out: Option<PathBuf>,
    /// Report formats: csv, jsonl, sarif, html (several need --output-dir).
    #[arg(long = "format", value_name = "FORMAT", value_delimiter = ',', value_parser = phiscan::settings::FormatParser)]
    formats: Vec<phiscan::report::ReportFormat>,
    /// Write each format to DIR/phiscan.<format>.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Write the report here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Write the machine-readable summary (JSON) here.
    #[arg(long, value_name = "FILE")]
    summary_json: Option<PathBuf>,
    #[command(flatten)]
    key: KeyArg,
    /// Lowest confidence of an exposure that makes the exit status 1, or
    /// NONE [default: LOW].
    #[arg(long, value_name = "LEVEL", value_parser = phiscan::fail_on::FailOnParser)]
    fail_on: Option<FailOn>,
    /// No summary or progress on stderr.
    #[arg(short, long)]
    quiet: bool,
    /// Show progress even when stderr is not a terminal.
    #[arg(long)]
    progress: bool,
    /// Run one shard of N (I from 0): probe only the addresses and ports
    /// that a fixed hash gives this shard (see docs/SHARDING.md); `phiscan
    /// merge` joins the shards' output folders. Needs --output-dir.
    #[arg(long, value_name = "I/N")]
    shard: Option<phiscan::shard::Shard>,
}

impl DiscoverArgs {
    /// The sweep's configuration, and the report side's (writers, key,
    /// fail-on) as a scan configuration.
    fn into_configs(self) -> anyhow::Result<(DiscoverConfig, ScanConfig)> {
        let mut targets = self.targets;
        if let Some(file) = &self.targets_file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read targets file {}", file.display()))?;
            targets.extend(phiscan::settings::targets_in(&text).map(str::to_string));
        }
        if targets.is_empty() {
            anyhow::bail!("no TARGET given (on the command line or with --targets)");
        }
        let ports = phiscan::discover::targets::parse_ports(&self.ports)
            .map_err(|e| anyhow::anyhow!("--ports: {e}"))?;
        let rate = if self.rate.eq_ignore_ascii_case("unlimited") {
            None
        } else {
            match self.rate.parse::<f64>() {
                Ok(r) if r.is_finite() && r > 0.0 => Some(r),
                _ => anyhow::bail!(
                    "--rate must be a positive number of connections per second, or unlimited"
                ),
            }
        };
        let key = match &self.key.fingerprint_key {
            Some(k) => {
                FingerprintKey::from_secret(k.expose()).context(phiscan::settings::key_origin(k))?
            }
            None => FingerprintKey::generate().context("fingerprint key")?,
        };
        let extra_logins = match &self.creds {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                phiscan::exposure::data::parse_creds(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
            }
            None => Vec::new(),
        };
        let timeout = std::time::Duration::from_secs(self.timeout);
        let progress = self.progress || (!self.quiet && std::io::stderr().is_terminal());
        let discover = DiscoverConfig {
            targets,
            excludes: self.exclude,
            ports,
            rate,
            max_in_flight: self.max_in_flight.max(1),
            timeout,
            allow_large: self.allow_large,
            exposure: phiscan::exposure::ExposureOptions {
                timeout,
                check_write: self.check_write,
                check_default_creds: self.check_default_creds,
                extra_logins,
                check_bounce: self.check_bounce,
                bounce_via: self.bounce_via,
                ..Default::default()
            },
            targets_out: self.targets_out,
            fingerprint_key: key,
            progress,
            shard: self.shard.map(|shard| {
                Arc::new(phiscan::shard::ShardScan::new(phiscan::shard::ShardSpec {
                    shard,
                    split_depth: 0,
                }))
            }),
            ..DiscoverConfig::default()
        };
        if discover.shard.is_some() && self.output_dir.is_none() {
            anyhow::bail!(
                "--shard needs --output-dir DIR (the shard's reports, summary and manifest, \
                 for phiscan merge)"
            );
        }
        let output = ScanConfig {
            output: self.output,
            output_dir: self.output_dir,
            formats: self.formats,
            summary_json: self.summary_json,
            fingerprint_key: self.key.fingerprint_key,
            fail_on: self.fail_on.unwrap_or_default(),
            quiet: self.quiet,
            ..ScanConfig::default()
        };
        Ok((discover, output))
    }
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
        key: KeyArg,
    },
}

/// The rule pack of `rules list` and `rules patterns`: the two flags of
/// `scan` that choose it (`Settings::rules`, `Settings::default_rules`).
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
    /// Say which rules saw a value and why each reported it or not
    /// (pattern, validator, keywords, context and exclude words, allowlist).
    /// Give the value with the words around it: `"SSN 078-05-1120"`.
    Explain {
        /// The text to explain (a value, with its label if it has one).
        text: String,
        #[command(flatten)]
        pack: RulePackArgs,
    },
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Parsed: the arguments' copies live in `cli`, so the originals that
    // `ps` shows can lose their passwords now.
    phiscan::argv::hide_secrets();
    let exit = run(cli).unwrap_or_else(|e| {
        eprintln!("phiscan: {}", error_chain(&e));
        Exit::Usage
    });
    ExitCode::from(exit as u8)
}

fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Scan(settings) => scan(*settings),
        Command::Discover(args) => discover(*args),
        Command::Rules { command } => match command {
            RulesCommand::List(pack) => rules_list(pack),
            RulesCommand::Patterns(pack) => rules_patterns(pack),
            RulesCommand::Test { path } => rules_test(path),
            RulesCommand::Explain { text, pack } => rules_explain(&text, pack),
        },
        Command::Baseline {
            command:
                BaselineCommand::Create {
                    report,
                    output,
                    key,
                },
        } => baseline_create(report, output, key),
        Command::Merge {
            output_dir,
            formats,
            fail_on,
            quiet,
            pack,
            max_rows,
            shards,
        } => merge(
            &shards,
            &output_dir,
            &formats,
            fail_on,
            quiet,
            pack,
            max_rows,
        ),
        Command::Init { path, force } => init(path, force),
        Command::Fingerprint { key, baseline } => fingerprint(key, baseline),
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "phiscan", &mut std::io::stdout());
            Ok(Exit::Clean)
        }
        Command::Man { command, out } => man(&command, out),
    }
}

/// `phiscan merge`: the shards' folders joined, the summary on stderr.
fn merge(
    shards: &[PathBuf],
    output_dir: &std::path::Path,
    formats: &[phiscan::report::ReportFormat],
    fail_on: Option<FailOn>,
    quiet: bool,
    pack: RulePackArgs,
    max_rows: u64,
) -> anyhow::Result<Exit> {
    let pack = RulePack::load(!pack.no_default_rules, &pack.rules)?;
    let rules = phiscan::merge::RulesGiven {
        infos: phiscan::plan::pack_rule_infos(&pack),
        digest: phiscan::plan::rules_digest(&pack),
    };
    let merged = phiscan::merge::merge(shards, output_dir, formats, &rules, max_rows)?;
    let summary = merged.summary;
    if !quiet {
        eprint!("{}", summary.to_text_styled(stderr_color()));
        if let Some(note) = merged.note {
            eprintln!("{note}");
        }
    }
    Ok(Exit::of_scan(&summary, fail_on.unwrap_or_default()))
}

/// `phiscan scan`: the flags over the settings file, one scan, its summary
/// on stderr.
fn scan(flags: Settings) -> anyhow::Result<Exit> {
    let quiet = flags.quiet == Some(true);
    let layers = Layers::read(flags)?;
    // Which file steered the scan is said every time: a phiscan.toml in
    // the working folder acts without being named (issue 20 item 4).
    if let Some(file) = &layers.file {
        if !quiet {
            eprintln!("phiscan: settings from {}", file.path.display());
        }
    }
    if let Some(d) = &layers.distrusted {
        eprintln!("phiscan: warning: {}", d.warning());
    }
    let mut config = layers.resolve()?;
    config.terminal = phiscan::report::text::Terminal::detect();
    if config.unmask {
        eprintln!(
            "phiscan: warning: --unmask writes matched values in full: the reports \
             now hold the PHI they found; keep them as private as the data"
        );
    }
    let summary = match scan::run_until(&config, stop_on_signals()?) {
        Ok(s) => s,
        Err(ScanError::Config(e)) => return Err(e.into()),
        Err(e @ ScanError::Output(_)) => {
            eprintln!("phiscan: {e}");
            return Ok(Exit::Incomplete);
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
        if nothing_scanned(&summary) && !summary.interrupted {
            eprintln!(
                "  warning: nothing was scanned: the targets hold no files \
                 (an empty folder, or a mount that failed?); exit status 3"
            );
        }
        eprint!("{}", written_files(&config, &summary));
    }
    Ok(Exit::of_scan(&summary, config.fail_on))
}

/// Where the scan wrote its reports, summary, key file and state file,
/// one line each (nothing for a report on stdout).
fn written_files(config: &ScanConfig, summary: &Summary) -> String {
    let mut files: Vec<(String, PathBuf)> = phiscan::plan::report_paths(config)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(format, path)| Some((format!("{} report", format.as_str()), path?)))
        .collect();
    if let Some(path) = &config.summary_json {
        files.push(("summary".into(), path.clone()));
    }
    if summary.fingerprint_key_source == "generated" {
        if let Some(path) = phiscan::plan::key_file(config) {
            files.push(("key file".into(), path));
        }
    }
    if let Some(path) = &config.resume {
        files.push(("state file".into(), path.clone()));
    }
    let mut text = String::new();
    if !files.is_empty() {
        text.push_str("  written:\n");
    }
    for (what, path) in files {
        text.push_str(&format!("    {what:<12} {}\n", path.display()));
    }
    text
}

/// `phiscan discover`: a sweep, the exposure checks of every service
/// found, the reports and the summary on stderr.
fn discover(args: DiscoverArgs) -> anyhow::Result<Exit> {
    let (discover, output) = args.into_configs()?;
    let (summary, _) =
        match phiscan::discover::audit::run_with_reports(&discover, &output, stop_on_signals()?) {
            Ok(s) => s,
            Err(phiscan::discover::audit::AuditError::Scan(ScanError::Output(e))) => {
                eprintln!("phiscan: {e}");
                return Ok(Exit::Incomplete);
            }
            Err(e) => return Err(e.into()),
        };
    if !output.quiet {
        eprint!("{}", summary.to_text_styled(stderr_color()));
    }
    Ok(Exit::of_scan(&summary, output.fail_on))
}

/// `phiscan man`: the page of one command on stdout, or every page in a
/// folder.
fn man(command: &[String], out: Option<PathBuf>) -> anyhow::Result<Exit> {
    let mut cli = Cli::command().disable_help_subcommand(true);
    // Built, every subcommand knows its full name (`phiscan-rules-list`).
    cli.build();
    if let Some(dir) = out {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        clap_mangen::generate_to(cli, &dir)
            .with_context(|| format!("writing man pages to {}", dir.display()))?;
        eprintln!("phiscan: man pages written to {}", dir.display());
        return Ok(Exit::Clean);
    }
    let mut page = &cli;
    for name in command {
        page = page.find_subcommand(name).with_context(|| {
            let names: Vec<&str> = page.get_subcommands().map(|c| c.get_name()).collect();
            format!(
                "no command {name:?} under {}; commands: {}",
                page.get_display_name().unwrap_or("phiscan"),
                names.join(", ")
            )
        })?;
    }
    clap_mangen::Man::new(page.clone()).render(&mut std::io::stdout())?;
    Ok(Exit::Clean)
}

/// `phiscan rules list`: one tab-separated row per rule.
fn rules_list(pack: RulePackArgs) -> anyhow::Result<Exit> {
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
    Ok(Exit::Clean)
}

/// `phiscan rules patterns`: every pattern, one per line.
fn rules_patterns(pack: RulePackArgs) -> anyhow::Result<Exit> {
    let rule_pack = RulePack::load(!pack.no_default_rules, &pack.rules)?;
    for spec in rule_pack.rules() {
        // phiscan compiles patterns with ASCII classes; group names repeat
        // across rules, which a joined pattern cannot have.
        let plain = spec
            .pattern
            .replace("(?P<value>", "(?:")
            .replace("(?<value>", "(?:");
        println!("(?-u:{plain})");
    }
    Ok(Exit::Clean)
}

/// `phiscan rules explain TEXT`: each rule that saw the text, its checks
/// and its verdict. Exits 1 when some rule reports a finding in it.
fn rules_explain(text: &str, pack: RulePackArgs) -> anyhow::Result<Exit> {
    let rule_pack = RulePack::load(!pack.no_default_rules, &pack.rules)?;
    let matcher = phiscan::matcher::Matcher::new(&rule_pack).context("compiling rules")?;
    let explained = phiscan::rules::explain::explain(&rule_pack, &matcher, text);
    if explained.is_empty() {
        println!("no rule saw this text: no pattern matched it and it holds no rule's words");
    }
    for e in &explained {
        let verdict = match &e.reported {
            Some(confidence) => format!("REPORTED, {confidence}"),
            None => "not reported".to_string(),
        };
        println!("{} ({}, {}): {verdict}", e.rule, e.entity, e.source);
        for reason in &e.reasons {
            println!("  {reason}");
        }
    }
    Ok(if explained.iter().any(|e| e.reported.is_some()) {
        Exit::Findings
    } else {
        Exit::Clean
    })
}

/// `phiscan rules test`: every rule's examples; a failure exits 1.
fn rules_test(path: Option<PathBuf>) -> anyhow::Result<Exit> {
    let (default_rules, paths) = match path {
        Some(p) => (false, vec![p]),
        None => (true, vec![]),
    };
    let rule_pack = RulePack::load(default_rules, &paths)?;
    let matcher = phiscan::matcher::Matcher::new(&rule_pack).context("compiling rules")?;
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
        Exit::Clean
    } else {
        Exit::Findings
    })
}

/// `phiscan baseline create`: the findings of a report, fingerprinted.
fn baseline_create(report: PathBuf, output: PathBuf, key: KeyArg) -> anyhow::Result<Exit> {
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
    Ok(Exit::Clean)
}

/// `phiscan init`: the commented example settings file.
fn init(path: PathBuf, force: bool) -> anyhow::Result<Exit> {
    if path.exists() && !force {
        anyhow::bail!("{} exists (use --force to overwrite)", path.display());
    }
    std::fs::write(&path, phiscan::settings::EXAMPLE)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("phiscan: wrote {}", path.display());
    println!(
        "An example rule file of your own (rule files may name entities of their own):\n\n{}",
        phiscan::rules::EXAMPLE_RULE_FILE
    );
    Ok(Exit::Clean)
}

/// `phiscan fingerprint`: the value fingerprint of each line of stdin.
fn fingerprint(key: KeyArg, baseline: Option<PathBuf>) -> anyhow::Result<Exit> {
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
    Ok(Exit::Clean)
}

fn key_from(arg: KeyArg) -> anyhow::Result<Option<FingerprintKey>> {
    arg.fingerprint_key
        .map(|k| FingerprintKey::from_secret(k.expose()).context(phiscan::settings::key_origin(&k)))
        .transpose()
}

/// An error and its causes, `: `-separated, each once: library errors
/// embed their source in their own message (they are also shown alone,
/// in reports), so anyhow's `{:#}` would print an OS error twice.
fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// Colors only on a terminal, and never when NO_COLOR is set (no-color.org).
fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A flag set by the first SIGINT or SIGTERM: the scan stops and writes
/// its summary. A second one ends the process at once (exit status 130).
fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Registered first: exits only when the flag is already set.
        let status = i32::from(Exit::Interrupted as u8);
        flag::register_conditional_shutdown(signal, status, stop.clone())
            .context("cannot install the signal handler")?;
        flag::register(signal, stop.clone()).context("cannot install the signal handler")?;
    }
    Ok(stop)
}
