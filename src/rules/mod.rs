//! Rule packs: TOML data (see `rules/*.toml`) holding detection rules
//! (`[[rules]]`) and allowlist entries (`[[allow]]`). A [`RulePack`] reads
//! and parses each file once and checks it once; `matcher` compiles its
//! rules, `allowlist` its entries, `rules test` runs its examples.

pub mod check;
pub mod explain;

use crate::allowlist::AllowSpec;
use crate::entity::{Confidence, Entity};
use crate::error::ConfigError;
use regex_automata::meta::{BuildError, Regex};
use regex_automata::util::syntax;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The built-in pack, embedded in the binary.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "rules/identifiers.toml",
        include_str!("../../rules/identifiers.toml"),
    ),
    ("rules/dates.toml", include_str!("../../rules/dates.toml")),
    (
        "rules/contact.toml",
        include_str!("../../rules/contact.toml"),
    ),
    (
        "rules/financial.toml",
        include_str!("../../rules/financial.toml"),
    ),
];

/// A complete rule file of one's own, with an entity phiscan does not know
/// (any upper-case name is accepted and reported under that name): shown
/// by `phiscan init` and README, checked by the tests.
pub const EXAMPLE_RULE_FILE: &str = r#"# Site rules: save as rules/site.toml, scan with --rules rules/,
# check with `phiscan rules test rules/site.toml`.
[[rules]]
id = "practice-account"
# Any upper-case name is an entity of its own, with its own label in
# every report.
entity = "PATIENT_ACCOUNT"
description = "Practice account number (PA- and 8 digits); HIGH next to an account label"
pattern = '''\b(?P<value>PA-\d{8})\b'''
confidence = "MEDIUM"
examples = ["Account: PA-00123456", "acct PA-99887766 closed"]
negative_examples = ["PA-1234", "XPA-00123456", "Order PA-00123456"]
[rules.context]
words = ["account", "acct", "patient account"]
confidence = "HIGH"
exclude = ["order", "invoice"]
"#;

/// Default context window, in bytes either side of the value.
pub const DEFAULT_WINDOW: usize = 48;

/// Largest rule file read (rule files are input too: a huge one is an
/// error, not a long wait).
pub const MAX_RULE_FILE_BYTES: u64 = 16 << 20;
/// Longest pattern, in bytes.
pub const MAX_PATTERN_LEN: usize = 4096;
/// Largest compiled form of one pattern (NFA / DFA), in bytes: bounded
/// repetitions multiply a pattern's size (`(a{1000}){1000}`), and such a
/// pattern is refused at load time rather than slowing every scan.
pub const MAX_COMPILED_PATTERN_BYTES: usize = 4 << 20;
/// Deepest nesting of groups and repetitions in a pattern.
pub const MAX_PATTERN_NESTING: u32 = 100;

/// The syntax rule patterns are written in: ASCII classes unless a pattern
/// asks for Unicode (`(?u:…)`), matched against bytes that need not be
/// UTF-8.
pub fn pattern_syntax() -> syntax::Config {
    syntax::Config::new()
        .unicode(false)
        .utf8(false)
        .nest_limit(MAX_PATTERN_NESTING)
}

/// Compiles one rule pattern as the matcher runs it, within the size
/// limits: the pack's check and the matcher build the same regex. (The
/// error is boxed: it is large, and only ever read once.)
pub fn compile_pattern(pattern: &str) -> Result<Regex, Box<BuildError>> {
    // Compiled once per process: every scan checks its pack and then
    // builds its matcher from the same patterns, and building the regexes
    // (DFAs, prefilters) was a third of a scan's start-up. A meta regex is
    // immutable and cheap to clone (it shares its engines); errors are not
    // kept, so a bad pattern costs its compile each time, as before.
    static COMPILED: OnceLock<Mutex<HashMap<String, Regex>>> = OnceLock::new();
    let compiled = COMPILED.get_or_init(Default::default);
    if let Some(regex) = compiled.lock().ok().and_then(|m| m.get(pattern).cloned()) {
        return Ok(regex);
    }
    let regex = Regex::builder()
        .syntax(pattern_syntax())
        .configure(
            Regex::config()
                .utf8_empty(false)
                .nfa_size_limit(Some(MAX_COMPILED_PATTERN_BYTES))
                .onepass_size_limit(Some(MAX_COMPILED_PATTERN_BYTES))
                .dfa_size_limit(Some(MAX_COMPILED_PATTERN_BYTES))
                .dfa(false)
                .auto_prefilter(false),
        )
        .build(pattern)
        .map_err(Box::new)?;
    if let Ok(mut map) = compiled.lock() {
        // Rule files are bounded, but a long-lived process could load
        // many: past this many patterns, start over.
        if map.len() >= MAX_CACHED_PATTERNS {
            map.clear();
        }
        map.insert(pattern.to_string(), regex.clone());
    }
    Ok(regex)
}

/// Patterns kept compiled by [`compile_pattern`].
pub const MAX_CACHED_PATTERNS: usize = 4096;

/// Checks that a rule's pattern compiles within the size limits; the error
/// says which limit and why.
fn check_pattern(spec: &RuleSpec) -> Result<(), ConfigError> {
    if spec.pattern.len() > MAX_PATTERN_LEN {
        return Err(spec.error(format!(
            "pattern is {} bytes long; the limit is {MAX_PATTERN_LEN}",
            spec.pattern.len()
        )));
    }
    match compile_pattern(&spec.pattern) {
        Ok(_) => Ok(()),
        Err(e) if e.size_limit().is_some() => Err(spec.error(format!(
            "pattern too large: it compiles to more than {} MiB (bounded repetitions \
             such as {{1000}} multiply its size); simplify it",
            MAX_COMPILED_PATTERN_BYTES >> 20
        ))),
        Err(e) => {
            // The syntax error's own text repeats the pattern with a caret;
            // its last line says what is wrong.
            let text = match e.syntax_error() {
                Some(se) => se.to_string(),
                None => e.to_string(),
            };
            let what = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .trim_start_matches("error: ")
                .to_string();
            let what = if what.contains("nest") {
                format!("pattern nested more than {MAX_PATTERN_NESTING} levels deep")
            } else {
                format!("bad pattern: {what}")
            };
            Err(spec.error(what))
        }
    }
}

/// One rule file as written: `[[rules]]` tables, and optional `[[allow]]`
/// tables (allowlist entries, see `allowlist`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rules: Vec<RuleSpec>,
    #[serde(default)]
    allow: Vec<AllowSpec>,
}

/// A rule as written in TOML.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    pub entity: Entity,
    pub description: String,
    /// Regex (regex crate syntax, ASCII classes by default: write `(?u:…)`
    /// for Unicode ones). The named group `value` is the reported value;
    /// without it, the whole match.
    pub pattern: String,
    /// The rule only runs on text where one of these occurs (any case).
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub context: Option<ContextSpec>,
    /// Validator by name (see `validators::by_name`).
    #[serde(default)]
    pub validator: Option<String>,
    pub confidence: Confidence,
    /// Texts in which this rule must report a finding.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Texts in which this rule must report nothing.
    #[serde(default)]
    pub negative_examples: Vec<String>,
    /// Where this rule came from (file name, and `:line` of its id when
    /// known), filled in by the loader for error messages.
    #[serde(skip)]
    pub source: String,
}

/// Words near the value that make it (more) credible.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    /// Context words, matched case-insensitively at word boundaries.
    pub words: Vec<String>,
    /// Bytes either side of the value searched for words.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Without a context word in the window, no finding.
    #[serde(default)]
    pub required: bool,
    /// Confidence when a context word is present (default: the rule's).
    #[serde(default)]
    pub confidence: Option<Confidence>,
    /// Words that, when nearer the value than any context word, reject it
    /// (`invoice date`, `order #` ...).
    #[serde(default)]
    pub exclude: Vec<String>,
}

fn default_window() -> usize {
    DEFAULT_WINDOW
}

impl RuleSpec {
    /// An error about this rule, naming its file and line.
    pub(crate) fn error(&self, message: String) -> ConfigError {
        ConfigError::RuleFile {
            path: self.source.clone(),
            message: format!("rule {:?}: {message}", self.id),
        }
    }
}

/// A loaded rule pack: the rules and allowlist entries of every rule file,
/// in file order, each knowing where it came from. Every file was read and
/// parsed once; the rules' patterns compile within the limits and their
/// ids are unique (what only compiling the whole pack can tell, such as an
/// unknown validator, the matcher checks).
#[derive(Clone, Debug, Default)]
pub struct RulePack {
    rules: Vec<RuleSpec>,
    allows: Vec<AllowSpec>,
}

impl RulePack {
    /// Loads the built-in files (unless `default_rules` is false), then
    /// every `.toml` file named in `paths` (files, or folders of them, in
    /// name order).
    pub fn load(default_rules: bool, paths: &[PathBuf]) -> Result<RulePack, ConfigError> {
        let mut pack = RulePack::default();
        if default_rules {
            for (name, text) in BUILTIN {
                pack.add_file(name, text)?;
            }
        }
        for path in paths {
            let named_file = path.is_file();
            for file in rule_files(path)? {
                let text = read_rule_file(&file)?;
                // A folder may hold data files beside rule files (phiscan's
                // own `rules/` does): those say so and are skipped.
                if !named_file && is_data_file(&text) {
                    continue;
                }
                pack.add_file(&file.display().to_string(), &text)?;
            }
        }
        pack.check()?;
        Ok(pack)
    }

    /// The pack of one rule file's text, checked as [`RulePack::load`]
    /// checks; `name` stands for the file in error messages.
    pub fn parse(name: &str, text: &str) -> Result<RulePack, ConfigError> {
        let mut pack = RulePack::default();
        pack.add_file(name, text)?;
        pack.check()?;
        Ok(pack)
    }

    /// Rules, in file order.
    pub fn rules(&self) -> &[RuleSpec] {
        &self.rules
    }

    /// Allowlist entries, in file order.
    pub fn allows(&self) -> &[AllowSpec] {
        &self.allows
    }

    /// Parses one file's text and adds its rules (with `name:line` of each
    /// rule's id) and allowlist entries (with `name`).
    fn add_file(&mut self, name: &str, text: &str) -> Result<(), ConfigError> {
        let file: RuleFile = toml::from_str(text).map_err(|e| ConfigError::RuleFile {
            path: name.to_string(),
            // toml's message names the line and column.
            message: e.to_string().trim_end().to_string(),
        })?;
        for mut rule in file.rules {
            rule.source = match line_of_rule(text, &rule.id) {
                Some(line) => format!("{name}:{line}"),
                None => name.to_string(),
            };
            self.rules.push(rule);
        }
        for mut allow in file.allow {
            allow.source = name.to_string();
            self.allows.push(allow);
        }
        Ok(())
    }

    /// Every pattern first (in file order), then unique ids.
    fn check(&self) -> Result<(), ConfigError> {
        for rule in &self.rules {
            check_pattern(rule)?;
        }
        let mut seen = std::collections::HashSet::new();
        for rule in &self.rules {
            if !seen.insert(rule.id.as_str()) {
                return Err(ConfigError::RuleFile {
                    path: rule.source.clone(),
                    message: format!("rule id {:?} is defined twice", rule.id),
                });
            }
        }
        Ok(())
    }
}

/// Line (1-based) of `id = "<id>"` in a rule file, for error messages.
fn line_of_rule(text: &str, id: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim();
            l.starts_with("id")
                && (l.contains(&format!("\"{id}\"")) || l.contains(&format!("'{id}'")))
        })
        .map(|i| i + 1)
}
/// Reads a rule file, refusing one larger than [`MAX_RULE_FILE_BYTES`].
fn read_rule_file(file: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let err = |message: String| ConfigError::RuleFile {
        path: file.display().to_string(),
        message,
    };
    let f = std::fs::File::open(file).map_err(|e| err(e.to_string()))?;
    let mut text = String::new();
    f.take(MAX_RULE_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| err(e.to_string()))?;
    if text.len() as u64 > MAX_RULE_FILE_BYTES {
        return Err(err(format!(
            "larger than {} MiB: not a rule file phiscan will read",
            MAX_RULE_FILE_BYTES >> 20
        )));
    }
    Ok(text)
}

/// The top-level key that marks a TOML file under a rules folder as data
/// (HL7 fields, FTP default logins ...) rather than a rule file.
pub const DATA_MARKER: &str = "phiscan_data";

/// Whether `text` is a data file: its top level has [`DATA_MARKER`]. A
/// rule file with a typo is not skipped: it has no marker, so it fails to
/// parse and is reported.
fn is_data_file(text: &str) -> bool {
    text.lines()
        .any(|l| l.trim_start().starts_with(DATA_MARKER))
        && toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key(DATA_MARKER))
}

fn rule_files(path: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| ConfigError::RuleFile {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(path)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_in_a_rules_folder_are_skipped_and_typos_are_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("a.toml"), RULE).unwrap();
        std::fs::write(
            dir.path().join("data/table.toml"),
            "phiscan_data = \"table-columns\"\n[[column]]\nentity = \"SSN\"\n",
        )
        .unwrap();
        let pack = RulePack::load(false, &[dir.path().to_path_buf()]).unwrap();
        assert_eq!(pack.rules().len(), 1);
        // A rule file with a typo has no marker: an error, not skipped.
        std::fs::write(dir.path().join("b.toml"), "[[rule]]\nid = \"x\"\n").unwrap();
        assert!(RulePack::load(false, &[dir.path().to_path_buf()]).is_err());
        // The project's own rules folder loads as a pack.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let pack = RulePack::load(false, &[root]).unwrap();
        assert_eq!(
            pack.rules().len(),
            RulePack::load(true, &[]).unwrap().rules().len()
        );
    }

    const RULE: &str = "[[rules]]\nid = \"a\"\nentity = \"SSN\"\ndescription = \"d\"\n\
                        pattern = '\\d{3}-\\d{2}-\\d{4}'\nconfidence = \"LOW\"\n";

    #[test]
    fn the_example_rule_file_loads_with_its_own_entity_and_passes_its_examples() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.toml");
        std::fs::write(&path, EXAMPLE_RULE_FILE).unwrap();
        let pack = RulePack::load(true, &[path]).unwrap();
        let rule = pack.rules().last().unwrap();
        assert_eq!(rule.entity.as_str(), "PATIENT_ACCOUNT");
        let matcher = crate::matcher::Matcher::new(&pack).unwrap();
        assert_eq!(check::check(&matcher), []);
    }

    #[test]
    fn builtin_pack_loads() {
        let pack = RulePack::load(true, &[]).unwrap();
        assert!(pack.rules().len() >= 10);
        assert!(pack.rules().iter().all(|s| s.source.starts_with("rules/")));
    }

    #[test]
    fn one_file_gives_its_rules_and_allow_entries() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "# site pack\n{RULE}\n[[allow]]\nname = \"test data\"\npaths = [\"fixtures/**\"]\n\n\
             [[allow]]\nrules = [\"a\"]\nmatches = ['^000']\n"
        );
        std::fs::write(dir.path().join("site.toml"), &text).unwrap();
        // Not a rule file: only `.toml` files in a folder are read.
        std::fs::write(dir.path().join("notes.txt"), "[[rules]]\n").unwrap();
        let pack = RulePack::load(false, &[dir.path().to_path_buf()]).unwrap();
        let name = dir.path().join("site.toml").display().to_string();
        let rules: Vec<(&str, &str)> = pack
            .rules()
            .iter()
            .map(|r| (r.id.as_str(), r.source.as_str()))
            .collect();
        assert_eq!(rules, [("a", format!("{name}:3").as_str())]);
        let allows: Vec<(Option<&str>, &str)> = pack
            .allows()
            .iter()
            .map(|a| (a.name.as_deref(), a.source.as_str()))
            .collect();
        assert_eq!(
            allows,
            [(Some("test data"), name.as_str()), (None, name.as_str())]
        );
        assert_eq!(pack.allows()[1].matches, ["^000"]);

        // Built-in files first, then the user's.
        let both = RulePack::load(true, &[dir.path().join("site.toml")]).unwrap();
        assert_eq!(
            both.rules().len(),
            RulePack::load(true, &[]).unwrap().rules().len() + 1
        );
        assert_eq!(both.rules().last().unwrap().source, format!("{name}:3"));
        assert_eq!(both.allows().len(), 2);
    }

    #[test]
    fn a_malformed_file_is_one_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a-good.toml"), RULE).unwrap();
        // A bad key in an allow entry: rules and entries are parsed together.
        let bad = dir.path().join("b-bad.toml");
        std::fs::write(&bad, "# entries\n\n[[allow]]\npaths = [\"x\"]\nbogus = 1\n").unwrap();
        let err = RulePack::load(false, &[dir.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        let name = bad.display().to_string();
        assert!(
            err.starts_with(&format!("{name}: TOML parse error at line 5")),
            "{err}"
        );
        assert_eq!(err.matches(&name).count(), 1, "{err}");
        assert!(err.contains("unknown field `bogus`"), "{err}");

        let err = RulePack::parse("bad.toml", "[[rules]]\nid = \"a\"\nbogus = 1\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("bad.toml: TOML parse error at line 3"),
            "{err}"
        );
    }

    #[test]
    fn rule_errors_name_the_rule_file_and_line() {
        let text = format!("# pack\n\n{}", RULE.replace(r"\d{3}-", "(x"));
        let err = RulePack::parse("pack.toml", &text).unwrap_err().to_string();
        assert!(
            err.starts_with("pack.toml:4: rule \"a\": bad pattern: unclosed group"),
            "{err}"
        );
        let twice = format!("{RULE}\n{RULE}");
        let err = RulePack::parse("pack.toml", &twice)
            .unwrap_err()
            .to_string();
        // `line_of_rule` finds an id's first line: both are named there.
        assert_eq!(err, "pack.toml:2: rule id \"a\" is defined twice");
    }

    #[test]
    fn a_too_long_or_too_large_pattern_is_refused_at_load() {
        let long = RULE.replace(r"\d{3}-", &"a".repeat(5000));
        let err = RulePack::parse("long.toml", &long).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "long.toml:2: rule \"a\": pattern is {} bytes long; the limit is 4096",
                5000 + r"\d{2}-\d{4}".len()
            )
        );
        let huge = RULE.replace(r"\d{3}-", "((\\w{100}){100}){100}");
        let err = RulePack::parse("huge.toml", &huge).unwrap_err().to_string();
        assert!(
            err.starts_with("huge.toml:2: rule \"a\": pattern too large"),
            "{err}"
        );
        let deep = RULE.replace(
            r"\d{3}-",
            &format!("{}a{}", "(".repeat(150), ")".repeat(150)),
        );
        let err = RulePack::parse("deep.toml", &deep).unwrap_err().to_string();
        assert!(
            err.ends_with("pattern nested more than 100 levels deep"),
            "{err}"
        );
    }
}
