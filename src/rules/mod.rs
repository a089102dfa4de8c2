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

/// One rule file: `[[rules]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
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
            let text = std::fs::read_to_string(&file).map_err(|e| ConfigError::RuleFile {
                path: file.display().to_string(),
                message: e.to_string(),
            })?;
            specs.extend(parse_rule_file(&file.display().to_string(), &text)?);
        }
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
