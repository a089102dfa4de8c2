//! `cargo test` checks every built-in rule's examples and negative examples,
//! the same check `phiscan rules test` runs.

use phiscan::matcher::Matcher;
use phiscan::rules::{check::check, RulePack};

#[test]
fn builtin_pack_passes_its_own_examples() {
    let pack = RulePack::load(true, &[]).expect("built-in rules parse");
    let matcher = Matcher::new(&pack).expect("built-in rules compile");
    let failures = check(&matcher);
    let report: Vec<String> = failures
        .iter()
        .map(|f| format!("{} ({}): {}", f.rule, f.source, f.message))
        .collect();
    assert!(
        report.is_empty(),
        "{} failures:\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn builtin_pack_covers_the_entities_of_the_issue() {
    use phiscan::entity::Entity;
    let pack = RulePack::load(true, &[]).expect("built-in rules parse");
    let specs = pack.rules();
    for entity in [
        Entity::Ssn,
        Entity::Mrn,
        Entity::Dob,
        Entity::Npi,
        Entity::Mbi,
        Entity::Dea,
        Entity::CreditCard,
        Entity::Email,
        Entity::Phone,
    ] {
        let rules: Vec<&str> = specs
            .iter()
            .filter(|s| s.entity == entity)
            .map(|s| s.id.as_str())
            .collect();
        assert!(!rules.is_empty(), "no rule for {entity}");
        for s in specs.iter().filter(|s| s.entity == entity) {
            assert!(s.examples.len() >= 3, "{}: too few examples", s.id);
            assert!(
                s.negative_examples.len() >= 3,
                "{}: too few negative examples",
                s.id
            );
        }
    }
    // Rule ids are kebab-case.
    for s in specs {
        assert!(
            s.id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{}",
            s.id
        );
    }
}

#[test]
fn a_failing_example_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"
[[rules]]
id = "needs-ssn"
entity = "SSN"
description = "dashed SSN"
pattern = '\b\d{3}-\d{2}-\d{4}\b'
validator = "ssn"
confidence = "HIGH"
examples = ["123-45-6789"]            # a sample number: the validator rejects it
negative_examples = ["512-34-7890"]   # valid: the rule fires
"#,
    )
    .unwrap();
    let pack = RulePack::load(false, &[path]).unwrap();
    let failures = check(&Matcher::new(&pack).unwrap());
    let messages: Vec<&str> = failures.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "example not found: \"123-45-6789\"",
            "negative example matched: \"512-34-7890\""
        ]
    );
}

/// Values of `rule` found in `text` by the built-in pack.
fn builtin_values(text: &str, rule: &str) -> Vec<String> {
    let matcher = Matcher::new(&RulePack::load(true, &[]).unwrap()).unwrap();
    let mut scratch = matcher.new_scratch();
    let mut hits = Vec::new();
    matcher.find(text.as_bytes(), 0..text.len(), &mut scratch, &mut hits);
    hits.sort_by_key(|h| h.start);
    hits.iter()
        .filter(|h| &*matcher.rule(h.rule).id == rule)
        .map(|h| text[h.start..h.end].to_string())
        .collect()
}

// The three tests below pin down how the matcher must treat real files; see
// the rules branch's report to the lead.

#[test]
fn csv_fields_next_to_numeric_fields_are_found() {
    // A comma between CSV fields is not a thousands separator.
    let row = "CLM-1001,2024-03-04,212-55-1234,1987654328,125.50\n";
    assert_eq!(builtin_values(row, "ssn-formatted"), vec!["212-55-1234"]);
    assert_eq!(builtin_values(row, "npi"), vec!["1987654328"]);
}

#[test]
fn multi_word_labels_match_in_title_case() {
    assert_eq!(
        builtin_values("Social Security Number 512347890", "ssn-bare-with-context"),
        vec!["512347890"]
    );
    assert_eq!(
        builtin_values("Social Security: 305669012", "ssn-bare-with-context"),
        vec!["305669012"]
    );
}

#[test]
fn a_label_followed_by_its_value_does_not_reach_the_next_line() {
    let log = "10:22:19 INFO profile updated: birthdate=19800102\n\
               2024-03-05 10:22:20,750 INFO shutdown complete\n";
    assert_eq!(builtin_values(log, "dob-numeric"), vec!["19800102"]);
    // A label alone on its line still labels the next one (forms, PDFs).
    let form = "Date of birth\n03/15/1972\n";
    assert_eq!(builtin_values(form, "dob-numeric"), vec!["03/15/1972"]);
}

#[test]
fn a_longer_word_does_not_hide_a_shorter_keyword() {
    // `mr#` (an exclude word of one rule) must not hide `mr` (another rule's
    // keyword) where both start.
    let pack = r#"
[[rules]]
id = "a"
entity = "MRN"
description = "needs the keyword mr"
pattern = '(?i)\bmr#\s*(?P<value>\d{7})'
keywords = ["mr"]
confidence = "HIGH"

[[rules]]
id = "b"
entity = "SSN"
description = "has mr# as an exclude word"
pattern = '\b\d{9}\b'
confidence = "LOW"
[rules.context]
words = ["ssn"]
exclude = ["mr#"]
"#;
    let matcher = Matcher::new(&RulePack::parse("t.toml", pack).unwrap()).unwrap();
    let mut scratch = matcher.new_scratch();
    let mut hits = Vec::new();
    let text = "MR# 7788990";
    matcher.find(text.as_bytes(), 0..text.len(), &mut scratch, &mut hits);
    assert_eq!(hits.len(), 1, "{hits:?}");
}
