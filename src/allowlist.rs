//! Allowlists: known, accepted findings that should not be reported. They
//! live in rule packs (`[[allow]]` tables next to `[[rules]]`) and in the
//! config file (`[[allow]]`). Allowed findings are counted in the summary
//! (by entry), never silently dropped.
//!
//! An entry matches a finding when every criterion it gives matches (each
//! list matches when any of its items does):
//! - `rules`: rule ids; none = every rule (a global entry);
//! - `paths`: globs over the target-relative path (an archive's members
//!   match its own path too, `a.zip` allows `a.zip!x.csv`);
//! - `values`: value fingerprints (`v1:…`, printed by `phiscan fingerprint`),
//!   never plain values: a rule pack or config file holding a list of SSNs
//!   would itself be a leak. They are keyed, so they match only in scans
//!   that use the same fingerprint key;
//! - `matches`: regexes over the match as the report shows it (masked
//!   unless `--unmask`: `@example\.org$` allows test e-mail addresses).

use crate::report::{Disposition, Finding, FindingFilter};
use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::RegexSet;
use serde::Deserialize;
use std::collections::HashSet;

/// One `[[allow]]` table as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowSpec {
    /// Shown in the summary's allowed counts (default: file and position).
    #[serde(default)]
    pub name: Option<String>,
    /// Why this is allowed (for reviewers; not used for matching).
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub rules: Vec<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default)]
    pub matches: Vec<String>,
    /// Where this entry came from, filled in by the loader.
    #[serde(skip)]
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AllowError {
    #[error("{source_name}: allow entry {index}: invalid glob {glob:?}: {message}")]
    Glob {
        source_name: String,
        index: usize,
        glob: String,
        message: String,
    },
    #[error("{source_name}: allow entry {index}: invalid regex: {message}")]
    Regex {
        source_name: String,
        index: usize,
        message: String,
    },
    #[error(
        "{source_name}: allow entry {index}: {value:?} is not a value fingerprint (v1:…); \
         plain values are not accepted: run `phiscan fingerprint` to get one"
    )]
    PlainValue {
        source_name: String,
        index: usize,
        value: String,
    },
    #[error(
        "{source_name}: allow entry {index} has no criterion (rules, paths, values or matches)"
    )]
    Empty { source_name: String, index: usize },
}

struct Entry {
    label: String,
    rules: HashSet<String>,
    paths: Option<GlobSet>,
    values: HashSet<String>,
    matches: Option<RegexSet>,
}

impl Entry {
    fn allows(&self, f: &Finding) -> bool {
        if !self.rules.is_empty() && !self.rules.contains(&*f.rule) {
            return false;
        }
        if let Some(paths) = &self.paths {
            let outer = f.path.split('!').next().unwrap_or(&f.path);
            if !paths.is_match(&f.path) && !paths.is_match(outer) {
                return false;
            }
        }
        if !self.values.is_empty() && !self.values.contains(&f.value_fingerprint) {
            return false;
        }
        if let Some(m) = &self.matches {
            if !m.is_match(&f.matched) {
                return false;
            }
        }
        true
    }
}

/// Compiled allowlist entries from every source.
#[derive(Default)]
pub struct Allowlist {
    entries: Vec<Entry>,
}

fn is_value_fingerprint(v: &str) -> bool {
    v.strip_prefix("v1:")
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Allowlist {
    pub fn new(specs: &[AllowSpec]) -> Result<Allowlist, AllowError> {
        let mut entries = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let index = i + 1;
            let source_name = spec.source.clone();
            if spec.rules.is_empty()
                && spec.paths.is_empty()
                && spec.values.is_empty()
                && spec.matches.is_empty()
            {
                // An empty entry would allow everything: surely a mistake.
                return Err(AllowError::Empty { source_name, index });
            }
            let paths = if spec.paths.is_empty() {
                None
            } else {
                let mut b = GlobSetBuilder::new();
                for g in &spec.paths {
                    let glob = Glob::new(g).map_err(|e| AllowError::Glob {
                        source_name: source_name.clone(),
                        index,
                        glob: g.clone(),
                        message: e.kind().to_string(),
                    })?;
                    b.add(glob);
                }
                Some(b.build().map_err(|e| AllowError::Glob {
                    source_name: source_name.clone(),
                    index,
                    glob: spec.paths.join(","),
                    message: e.to_string(),
                })?)
            };
            for v in &spec.values {
                if !is_value_fingerprint(v.trim()) {
                    // Do not echo what may be a real value in full.
                    let shown: String = v.chars().take(3).collect::<String>() + "…";
                    return Err(AllowError::PlainValue {
                        source_name,
                        index,
                        value: shown,
                    });
                }
            }
            let matches = if spec.matches.is_empty() {
                None
            } else {
                Some(
                    regex::RegexSetBuilder::new(&spec.matches)
                        .size_limit(1 << 20)
                        .build()
                        .map_err(|e| AllowError::Regex {
                            source_name: source_name.clone(),
                            index,
                            message: e.to_string(),
                        })?,
                )
            };
            let label = spec
                .name
                .clone()
                .unwrap_or_else(|| format!("{source_name}#{index}"));
            entries.push(Entry {
                label,
                rules: spec.rules.iter().cloned().collect(),
                paths,
                values: spec.values.iter().map(|v| v.trim().to_string()).collect(),
                matches,
            });
        }
        Ok(Allowlist { entries })
    }

    /// The label of the first entry that allows `f`.
    pub fn allowed_by(&self, f: &Finding) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.allows(f))
            .map(|e| e.label.as_str())
    }
}

/// Baseline first (a baselined finding is "baselined" even if also
/// allowed), then allowlists.
pub struct Suppressor {
    pub baseline: Option<crate::baseline::Baseline>,
    pub allowlist: Allowlist,
}

impl Suppressor {
    /// Whether every finding is reported: no baseline, no allowlist entry.
    pub fn drops_nothing(&self) -> bool {
        self.baseline.is_none() && self.allowlist.entries.is_empty()
    }
}

impl FindingFilter for Suppressor {
    fn disposition(&self, f: &Finding) -> Disposition {
        if self.baseline.as_ref().is_some_and(|b| b.contains(f)) {
            return Disposition::Baselined;
        }
        match self.allowlist.allowed_by(f) {
            Some(label) => Disposition::Allowed(label.to_string()),
            None => Disposition::Report,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fingerprint::{value_fingerprint, FingerprintKey};
    use crate::report::test_support::sample_findings;

    fn spec(f: impl FnOnce(&mut AllowSpec)) -> AllowSpec {
        let mut s = AllowSpec {
            source: "test.toml".into(),
            ..AllowSpec::default()
        };
        f(&mut s);
        s
    }

    fn allowed(specs: Vec<AllowSpec>) -> Vec<Option<String>> {
        let list = Allowlist::new(&specs).unwrap();
        sample_findings()
            .iter()
            .map(|f| list.allowed_by(f).map(str::to_string))
            .collect()
    }

    #[test]
    fn by_path_glob_and_rule() {
        let got = allowed(vec![spec(|s| s.paths = vec!["hr/*.csv".into()])]);
        assert_eq!(
            got,
            vec![Some("test.toml#1".into()), Some("test.toml#1".into()), None]
        );
        let got = allowed(vec![spec(|s| {
            s.paths = vec!["hr/**".into()];
            s.rules = vec!["email".into()];
            s.name = Some("hr e-mail".into());
        })]);
        assert_eq!(got, vec![None, Some("hr e-mail".into()), None]);
    }

    #[test]
    fn archive_members_match_their_archive() {
        let list = Allowlist::new(&[spec(|s| s.paths = vec!["backups/*.zip".into()])]).unwrap();
        let mut f = sample_findings().remove(0);
        f.path = "backups/old.zip!data/p.csv".into();
        assert!(list.allowed_by(&f).is_some());
    }

    #[test]
    fn by_value_fingerprint_only() {
        let key = FingerprintKey::from_secret("unit-test-key-0123456789").unwrap();
        // test_support fingerprints the masked text it shows as the value.
        let fp = value_fingerprint(&key, "****@example.org");
        let got = allowed(vec![spec(|s| s.values = vec![fp])]);
        assert_eq!(got, vec![None, Some("test.toml#1".into()), None]);
        let err = Allowlist::new(&[spec(|s| s.values = vec!["219-45-6780".into()])])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not a value fingerprint"), "{err}");
        assert!(
            !err.contains("219-45-6780"),
            "error echoes the value: {err}"
        );
    }

    #[test]
    fn by_regex_on_the_match() {
        let got = allowed(vec![spec(|s| s.matches = vec![r"@example\.org$".into()])]);
        assert_eq!(got, vec![None, Some("test.toml#1".into()), None]);
        assert!(Allowlist::new(&[spec(|s| s.matches = vec!["(".into()])]).is_err());
    }

    #[test]
    fn empty_entry_and_bad_glob_are_errors() {
        assert!(matches!(
            Allowlist::new(&[spec(|_| {})]),
            Err(AllowError::Empty { .. })
        ));
        assert!(matches!(
            Allowlist::new(&[spec(|s| s.paths = vec!["a[".into()])]),
            Err(AllowError::Glob { .. })
        ));
    }
}
