//! Rule packs: TOML data (see `rules/*.toml`), loaded and checked here,
//! compiled by `matcher`.

pub mod check;

use crate::entity::{Confidence, Entity};
use crate::error::ConfigError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

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

/// Default context window, in bytes either side of the value.
pub const DEFAULT_WINDOW: usize = 48;

/// Largest rule file read (rule files are input too: a huge one is an
/// error, not a long wait).
pub const MAX_RULE_FILE_BYTES: u64 = 16 << 20;
/// Longest pattern, in bytes (the matcher checks the same).
pub const MAX_PATTERN_LEN: usize = 4096;
/// Largest compiled form of one pattern (NFA / DFA), in bytes: bounded
/// repetitions multiply a pattern's size (`(a{1000}){1000}`), and such a
/// pattern is refused at load time rather than slowing every scan.
pub const MAX_COMPILED_PATTERN_BYTES: usize = 4 << 20;
/// Deepest nesting of groups and repetitions in a pattern.
pub const MAX_PATTERN_NESTING: u32 = 100;

/// Checks that a rule's pattern compiles within the size limits, with the
/// syntax the matcher uses; the error says which limit and why.
pub fn check_pattern(spec: &RuleSpec) -> Result<(), ConfigError> {
    use regex_automata::meta::Regex;
    use regex_automata::util::syntax;
    let err = |message: String| ConfigError::RuleFile {
        path: spec.source.clone(),
        message: format!("rule {:?}: {message}", spec.id),
    };
    if spec.pattern.len() > MAX_PATTERN_LEN {
        return Err(err(format!(
            "pattern is {} bytes long; the limit is {MAX_PATTERN_LEN}",
            spec.pattern.len()
        )));
    }
    let built = Regex::builder()
        .syntax(
            syntax::Config::new()
                .unicode(false)
                .utf8(false)
                .nest_limit(MAX_PATTERN_NESTING),
        )
        .configure(
            Regex::config()
                .utf8_empty(false)
                .nfa_size_limit(Some(MAX_COMPILED_PATTERN_BYTES))
                .onepass_size_limit(Some(MAX_COMPILED_PATTERN_BYTES))
                .dfa_size_limit(Some(MAX_COMPILED_PATTERN_BYTES)),
        )
        .build(&spec.pattern);
    match built {
        Ok(_) => Ok(()),
        Err(e) if e.size_limit().is_some() => Err(err(format!(
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
            Err(err(what))
        }
    }
}

/// One rule file: `[[rules]]` tables, and optional `[[allow]]` tables
/// (allowlist entries, see `allowlist`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    #[serde(default)]
    pub allow: Vec<crate::allowlist::AllowSpec>,
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

/// Parses one rule file's text. `name` is used in error messages.
pub fn parse_rule_file(name: &str, text: &str) -> Result<Vec<RuleSpec>, ConfigError> {
    let file: RuleFile = toml::from_str(text).map_err(|e| ConfigError::RuleFile {
        path: name.to_string(),
        // toml's message names the line and column.
        message: e.to_string().trim_end().to_string(),
    })?;
    let mut rules = file.rules;
    for r in &mut rules {
        r.source = match line_of_rule(text, &r.id) {
            Some(line) => format!("{name}:{line}"),
            None => name.to_string(),
        };
    }
    Ok(rules)
}

/// Line (1-based) of `id = "<id>"` in a rule file, for error messages.
pub fn line_of_rule(text: &str, id: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim();
            l.starts_with("id")
                && (l.contains(&format!("\"{id}\"")) || l.contains(&format!("'{id}'")))
        })
        .map(|i| i + 1)
}

/// Loads the pack: built-in rules (unless `default_rules` is false) plus
/// every `.toml` file named in `paths` (files, or folders of them).
pub fn load_specs(default_rules: bool, paths: &[PathBuf]) -> Result<Vec<RuleSpec>, ConfigError> {
    let mut specs = Vec::new();
    if default_rules {
        for (name, text) in BUILTIN {
            specs.extend(parse_rule_file(name, text)?);
        }
    }
    for path in paths {
        for file in rule_files(path)? {
            let text = read_rule_file(&file)?;
            specs.extend(parse_rule_file(&file.display().to_string(), &text)?);
        }
    }
    for spec in &specs {
        check_pattern(spec)?;
    }
    let mut seen = std::collections::HashSet::new();
    for s in &specs {
        if !seen.insert(s.id.clone()) {
            return Err(ConfigError::RuleFile {
                path: s.source.clone(),
                message: format!("rule id {:?} is defined twice", s.id),
            });
        }
    }
    Ok(specs)
}

/// The `[[allow]]` entries of the same pack [`load_specs`] loads.
pub fn load_allows(
    default_rules: bool,
    paths: &[PathBuf],
) -> Result<Vec<crate::allowlist::AllowSpec>, ConfigError> {
    let parse = |name: &str, text: &str| -> Result<Vec<crate::allowlist::AllowSpec>, ConfigError> {
        let file: RuleFile = toml::from_str(text).map_err(|e| ConfigError::RuleFile {
            path: name.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let mut allows = file.allow;
        for a in &mut allows {
            a.source = name.to_string();
        }
        Ok(allows)
    };
    let mut allows = Vec::new();
    if default_rules {
        for (name, text) in BUILTIN {
            allows.extend(parse(name, text)?);
        }
    }
    for path in paths {
        for file in rule_files(path)? {
            let text = read_rule_file(&file)?;
            allows.extend(parse(&file.display().to_string(), &text)?);
        }
    }
    Ok(allows)
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
    fn errors_name_file_and_line() {
        let text = "# pack\n\n[[rules]]\nid = \"a\"\nentity = \"SSN\"\ndescription = \"d\"\npattern = '(x'\nconfidence = \"LOW\"\n";
        let specs = parse_rule_file("pack.toml", text).unwrap();
        assert_eq!(specs[0].source, "pack.toml:4");
        let err = crate::matcher::Matcher::new(specs)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("pack.toml:4: rule \"a\": bad pattern"),
            "{err}"
        );
        let err = parse_rule_file("bad.toml", "[[rules]]\nid = \"a\"\nbogus = 1\n").unwrap_err();
        assert!(
            err.to_string().contains("bad.toml") && err.to_string().contains("line"),
            "{err}"
        );
    }

    #[test]
    fn builtin_pack_loads() {
        let specs = load_specs(true, &[]).unwrap();
        assert!(specs.len() >= 10);
        assert!(specs.iter().all(|s| s.source.starts_with("rules/")));
    }
}
