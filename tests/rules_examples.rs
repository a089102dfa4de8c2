//! `cargo test` checks every built-in rule's examples and negative examples,
//! the same check `phiscan rules test` runs.

use phiscan::matcher::Matcher;
use phiscan::rules::{check::check, load_specs};

#[test]
fn builtin_pack_passes_its_own_examples() {
    let specs = load_specs(true, &[]).expect("built-in rules parse");
    let matcher = Matcher::new(specs).expect("built-in rules compile");
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
    let specs = load_specs(true, &[]).expect("built-in rules parse");
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
    for s in &specs {
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
    let specs = load_specs(false, &[path]).unwrap();
    let failures = check(&Matcher::new(specs).unwrap());
    let messages: Vec<&str> = failures.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "example not found: \"123-45-6789\"",
            "negative example matched: \"512-34-7890\""
        ]
    );
}
