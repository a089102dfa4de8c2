//! `rules test`: every rule must find something in each of its examples and
//! nothing in its negative examples, with the whole pack loaded.

use crate::matcher::Matcher;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure {
    pub rule: String,
    pub source: String,
    pub message: String,
}

/// Checks every rule's examples against the compiled pack.
pub fn check(matcher: &Matcher) -> Vec<CheckFailure> {
    let mut failures = Vec::new();
    let mut scratch = matcher.new_scratch();
    let mut hits = Vec::new();
    for (index, rule) in matcher.rules().iter().enumerate() {
        let mut fires = |text: &str| {
            hits.clear();
            matcher.find(text.as_bytes(), 0..text.len(), &mut scratch, &mut hits);
            hits.iter().any(|h| h.rule == index)
        };
        if rule.spec.examples.is_empty() {
            failures.push(CheckFailure {
                rule: rule.id.to_string(),
                source: rule.spec.source.clone(),
                message: "has no examples".into(),
            });
        }
        for ex in &rule.spec.examples {
            if !fires(ex) {
                failures.push(CheckFailure {
                    rule: rule.id.to_string(),
                    source: rule.spec.source.clone(),
                    message: format!("example not found: {ex:?}"),
                });
            }
        }
        for ex in &rule.spec.negative_examples {
            if fires(ex) {
                failures.push(CheckFailure {
                    rule: rule.id.to_string(),
                    source: rule.spec.source.clone(),
                    message: format!("negative example matched: {ex:?}"),
                });
            }
        }
    }
    failures
}
