//! The `phiscan` command: parses arguments into a plain `ScanConfig`, runs
//! the library, maps the outcome to an exit status.

use anyhow::Context;
use clap::{Parser, Subcommand};
use phiscan::config::{FtpOptions, ScanConfig};
use phiscan::entity::Confidence;
use phiscan::scan::{self, ScanError};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit statuses (documented in README).
const EXIT_CLEAN: u8 = 0;
const EXIT_FINDINGS: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_INCOMPLETE: u8 = 3;

#[derive(Parser)]
#[command(
    name = "phiscan",
    version,
    about = "Find PHI/PII on FTP shares and local mirrors of them"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once; boxing buys nothing
enum Command {
    /// Scan files, folders or FTP servers and write a masked report.
    Scan(ScanArgs),
    /// List or test rule packs.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
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
struct ScanArgs {
    /// Files, folders, or ftp:// / ftps:// URLs.
    #[arg(required_unless_present = "targets_file", value_name = "TARGET")]
    targets: Vec<String>,
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
    /// Only scan paths matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
    /// Skip paths matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Write matched values in full (reports are masked by default).
    #[arg(long)]
    unmask: bool,
    /// Lowest confidence that makes the exit status 1.
    #[arg(long, value_name = "LEVEL", default_value = "LOW", value_parser = parse_confidence)]
    fail_on: Confidence,
    /// No summary on stderr.
    #[arg(short, long)]
    quiet: bool,
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
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    connections: u64,
    /// Seconds to wait to connect, for a reply, or for data.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
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
    #[arg(long, value_name = "PASS", default_value = "anonymous@")]
    anon_password: String,
    /// netrc-style file with FTP logins (`machine HOST login USER password PASS`).
    #[arg(long, value_name = "FILE")]
    netrc: Option<PathBuf>,
}

impl FtpArgs {
    fn into_options(self) -> anyhow::Result<FtpOptions> {
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0) {
                anyhow::bail!("--rate must be a positive number of commands per second");
            }
        }
        Ok(FtpOptions {
            connections: usize::try_from(self.connections).unwrap_or(4),
            timeout_secs: self.timeout,
            anonymous_password: self.anon_password,
            insecure: self.insecure,
            active: self.active,
            follow_links: self.follow_links,
            max_depth: self.max_depth,
            max_files: self.max_files,
            skip_larger_than: self.skip_larger_than,
            sample_tail: self.sample_tail,
            rate: self.rate,
            check_write: self.check_write,
            anon_check: !self.no_anon_check,
            netrc: self.netrc,
            ..FtpOptions::default()
        })
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

impl ScanArgs {
    fn into_config(self) -> anyhow::Result<ScanConfig> {
        let mut targets = self.targets;
        if let Some(file) = &self.targets_file {
            targets.extend(read_targets_file(file)?);
        }
        Ok(ScanConfig {
            targets,
            ftp: self.ftp.into_options()?,
            output: self.output,
            rule_paths: self.pack.rules,
            default_rules: !self.pack.no_default_rules,
            threads: self.threads,
            max_bytes: self.max_bytes,
            include: self.include,
            exclude: self.exclude,
            unmask: self.unmask,
            fail_on: self.fail_on,
            quiet: self.quiet,
            ..ScanConfig::default()
        })
    }
}

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
            let summary = match scan::run(&config) {
                Ok(s) => s,
                Err(ScanError::Config(e)) => return Err(e.into()),
                Err(e @ ScanError::Output(_)) => {
                    eprintln!("phiscan: {e}");
                    return Ok(EXIT_INCOMPLETE);
                }
            };
            if !config.quiet {
                eprint!("{}", summary.to_text());
            }
            Ok(if summary.findings_at_or_above(config.fail_on) > 0 {
                EXIT_FINDINGS
            } else if summary.incomplete() {
                EXIT_INCOMPLETE
            } else {
                EXIT_CLEAN
            })
        }
        Command::Rules { command } => match command {
            RulesCommand::List(pack) => {
                let specs = phiscan::rules::load_specs(!pack.no_default_rules, &pack.rules)?;
                let matcher = phiscan::matcher::Matcher::new(specs)?;
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
                let specs = phiscan::rules::load_specs(!pack.no_default_rules, &pack.rules)?;
                for spec in specs {
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
                let specs = phiscan::rules::load_specs(default_rules, &paths)?;
                let matcher = phiscan::matcher::Matcher::new(specs).context("compiling rules")?;
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
