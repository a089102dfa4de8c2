//! `rules explain TEXT`: which rules saw a value and why each one reported
//! it or not (pattern, validator, keywords, context and exclude words,
//! allowlist). The verdict is the matcher's own; the reasons are worked
//! out beside it from the rule as written, so they can be read by a person
//! writing or debugging a rule.

use crate::matcher::Matcher;
use crate::rules::{compile_pattern, RulePack, RuleSpec};
use crate::validators;
use regex_automata::Input;

/// What one rule made of the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleExplanation {
    pub rule: String,
    pub entity: String,
    pub source: String,
    /// The value the pattern took (its `value` group), if it matched.
    pub matched: Option<String>,
    /// One line per check, in the order the matcher applies them.
    pub reasons: Vec<String>,
    /// The matcher reported a finding of this rule, at this confidence.
    pub reported: Option<String>,
}

/// Explains `text` against every rule of `pack` (compiled as `matcher`):
/// the rules whose pattern matched somewhere in it, or whose keywords or
/// context words it holds. Other rules saw nothing and are left out.
pub fn explain(pack: &RulePack, matcher: &Matcher, text: &str) -> Vec<RuleExplanation> {
    let mut scratch = matcher.new_scratch();
    let mut hits = Vec::new();
    matcher.find(text.as_bytes(), 0..text.len(), &mut scratch, &mut hits);
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    for (index, rule) in matcher.rules().iter().enumerate() {
        let spec = &rule.spec;
        let matched = pattern_value(spec, text);
        let words_seen = present(&lower, &spec.keywords)
            .into_iter()
            .chain(spec.context.iter().flat_map(|c| present(&lower, &c.words)))
            .next()
            .is_some();
        if matched.is_none() && !words_seen {
            continue;
        }
        let mut reasons = Vec::new();
        if !spec.keywords.is_empty() {
            let found = present(&lower, &spec.keywords);
            reasons.push(if found.is_empty() {
                format!(
                    "keywords: none present (the rule runs only near one of {})",
                    list(&spec.keywords)
                )
            } else {
                format!("keywords: {} present", list(&found))
            });
        }
        match &matched {
            None => reasons.push("pattern: did not match".into()),
            Some(value) => {
                reasons.push(format!("pattern: matched {value:?}"));
                match spec.validator.as_deref() {
                    None => reasons.push("validator: none".into()),
                    Some(name) => {
                        let ok = validators::by_name(name).is_some_and(|v| v(value));
                        reasons.push(format!(
                            "validator {name}: {}",
                            if ok { "accepted" } else { "rejected" }
                        ));
                    }
                }
            }
        }
        if let Some(ctx) = &spec.context {
            let words = present(&lower, &ctx.words);
            let excludes = present(&lower, &ctx.exclude);
            if words.is_empty() {
                reasons.push(if ctx.required {
                    format!(
                        "context: required word missing (one of {})",
                        list(&ctx.words)
                    )
                } else {
                    "context: no context word (the rule's own confidence)".into()
                });
            } else {
                reasons.push(format!("context: {} present", list(&words)));
            }
            if !excludes.is_empty() {
                reasons.push(format!(
                    "exclude: {} present (rejects the value when nearer to it than any context word)",
                    list(&excludes)
                ));
            }
        }
        let reported = hits
            .iter()
            .filter(|h| h.rule == index)
            .map(|h| h.confidence)
            .max()
            .map(|c| c.to_string());
        if let (Some(value), Some(_)) = (&matched, &reported) {
            if let Some(entry) = allowed_by(pack, spec, value) {
                reasons.push(format!(
                    "allowlist: {entry} allows it (left out of reports)"
                ));
            }
        }
        if matched.is_some() && reported.is_none() {
            reasons.push(
                "matcher: not reported (a check above failed, a nearer exclude word decided, or \
                 the match is part of a longer number or word)"
                    .into(),
            );
        }
        out.push(RuleExplanation {
            rule: rule.id.to_string(),
            entity: rule.entity.to_string(),
            source: spec.source.clone(),
            matched,
            reasons,
            reported,
        });
    }
    out
}

/// The `value` group (or whole match) of the rule's first match whose
/// value passes its validator, else of its first match.
fn pattern_value(spec: &RuleSpec, text: &str) -> Option<String> {
    let regex = compile_pattern(&spec.pattern).ok()?;
    let group = regex
        .group_info()
        .to_index(regex_automata::util::primitives::PatternID::ZERO, "value");
    let validator = spec.validator.as_deref().and_then(validators::by_name);
    let mut first = None;
    let mut caps = regex.create_captures();
    let mut at = 0;
    while at <= text.len() {
        regex.search_captures(&Input::new(text).range(at..), &mut caps);
        let Some(m) = caps.get_match() else { break };
        let span = group
            .and_then(|g| caps.get_group(g))
            .unwrap_or_else(|| m.span());
        let value = text.get(span.range()).unwrap_or_default().to_string();
        if validator.is_none_or(|v| v(&value)) {
            return Some(value);
        }
        first.get_or_insert(value);
        at = if m.end() > m.start() {
            m.end()
        } else {
            m.start() + 1
        };
    }
    first
}

/// The words of `words` that occur in `lower` (lower-cased text) at word
/// boundaries.
fn present(lower: &str, words: &[String]) -> Vec<String> {
    let boundary = |b: Option<&u8>| b.is_none_or(|b| !b.is_ascii_alphanumeric());
    words
        .iter()
        .filter(|w| {
            let w = w.to_ascii_lowercase();
            lower.match_indices(w.as_str()).any(|(i, _)| {
                let b = lower.as_bytes();
                let first_is_word = w.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric());
                let last_is_word = w.bytes().last().is_some_and(|c| c.is_ascii_alphanumeric());
                (!first_is_word || i == 0 || boundary(b.get(i - 1)))
                    && (!last_is_word || boundary(b.get(i + w.len())))
            })
        })
        .cloned()
        .collect()
}

fn list(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("{w:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The allowlist entry of the pack that allows `value` for this rule
/// regardless of path (its `matches` patterns; value fingerprints need the
/// scan's key and are not judged here).
fn allowed_by(pack: &RulePack, spec: &RuleSpec, value: &str) -> Option<String> {
    pack.allows().iter().enumerate().find_map(|(i, a)| {
        let for_rule = a.rules.is_empty() || a.rules.iter().any(|r| r == &spec.id);
        let matches = !a.matches.is_empty()
            && a.paths.is_empty()
            && a.matches
                .iter()
                .any(|m| regex::Regex::new(m).is_ok_and(|re| re.is_match(value)));
        (for_rule && matches).then(|| {
            a.name
                .clone()
                .unwrap_or_else(|| format!("{}#{}", a.source, i + 1))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(extra: Option<&str>, text: &str) -> Vec<RuleExplanation> {
        let mut paths = Vec::new();
        let dir = tempfile::tempdir().unwrap();
        if let Some(extra) = extra {
            let p = dir.path().join("site.toml");
            std::fs::write(&p, extra).unwrap();
            paths.push(p);
        }
        let pack = RulePack::load(true, &paths).unwrap();
        let matcher = Matcher::new(&pack).unwrap();
        explain(&pack, &matcher, text)
    }

    fn of<'a>(all: &'a [RuleExplanation], rule: &str) -> &'a RuleExplanation {
        all.iter()
            .find(|e| e.rule == rule)
            .unwrap_or_else(|| panic!("{rule} not in {all:#?}"))
    }

    #[test]
    fn a_sample_ssn_is_rejected_by_the_validator() {
        let all = run(None, "SSN 078-05-1120");
        let e = of(&all, "ssn-formatted");
        assert_eq!(e.matched.as_deref(), Some("078-05-1120"));
        assert!(
            e.reasons.contains(&"validator ssn: rejected".to_string()),
            "{e:#?}"
        );
        assert_eq!(e.reported, None);
        let all = run(None, "SSN 078-05-1123");
        let e = of(&all, "ssn-formatted");
        assert_eq!(e.reported.as_deref(), Some("HIGH"), "{e:#?}");
    }

    #[test]
    fn a_missing_required_word_and_an_exclude_word_are_named() {
        let all = run(None, "512347890");
        let e = of(&all, "ssn-bare-with-context");
        assert!(
            e.reasons
                .iter()
                .any(|r| r.starts_with("context: required word missing")),
            "{e:#?}"
        );
        assert_eq!(e.reported, None);
        let all = run(None, "Order 212-555-0147");
        let e = of(&all, "phone-nanp");
        assert!(
            e.reasons
                .iter()
                .any(|r| r.starts_with("exclude: \"order\"")),
            "{e:#?}"
        );
        assert_eq!(e.reported, None);
        // Rules that saw nothing are left out.
        assert!(all.iter().all(|e| e.rule != "dob-month-name"), "{all:#?}");
    }

    #[test]
    fn an_allowlist_entry_is_named() {
        let site = "[[allow]]\nname = \"test numbers\"\nrules = [\"ssn-formatted\"]\nmatches = ['^512-34']\n";
        let all = run(Some(site), "SSN 512-34-7890");
        let e = of(&all, "ssn-formatted");
        assert!(
            e.reasons
                .iter()
                .any(|r| r.starts_with("allowlist: test numbers")),
            "{e:#?}"
        );
    }
}
