//! The SARIF 2.1.0 report, in the shape GitHub code scanning accepts: one
//! run, the rule pack as `tool.driver.rules` (descriptions, help, severity),
//! one result per finding with a location, masked values only.
//!
//! Streamed: results are written as they come (memory stays flat whatever
//! the number of findings); the rules, invocation and summary follow the
//! results array when the scan ends (JSON object members are unordered).

use super::{Finding, ReportWriter, RuleInfo, Summary};
use crate::entity::Confidence;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub struct SarifReport<W: Write> {
    out: W,
    rules: Vec<RuleInfo>,
    rule_index: HashMap<String, usize>,
    results: u64,
    /// Per target: whether it is an existing local file (for URIs).
    target_is_file: HashMap<String, bool>,
}

impl<W: Write> SarifReport<W> {
    /// Starts the document. `rules` is the rule pack in use.
    pub fn new(mut out: W, rules: Vec<RuleInfo>) -> io::Result<Self> {
        write!(
            out,
            "{{\"$schema\":\"{SCHEMA_URI}\",\"version\":\"2.1.0\",\"runs\":[{{\"results\":["
        )?;
        let rule_index = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        Ok(SarifReport {
            out,
            rules,
            rule_index,
            results: 0,
            target_is_file: HashMap::new(),
        })
    }

    /// Index of a rule in `tool.driver.rules`, adding rules that are not in
    /// the pack (rules of structured extractors) as they first appear.
    fn rule_index(&mut self, f: &Finding) -> usize {
        if let Some(&i) = self.rule_index.get(&*f.rule) {
            return i;
        }
        let i = self.rules.len();
        self.rules.push(RuleInfo {
            id: f.rule.to_string(),
            entity: f.entity,
            confidence: f.confidence,
            description: format!("{} found by a structured-format extractor", f.entity),
            source: "built-in extractor".into(),
        });
        self.rule_index.insert(f.rule.to_string(), i);
        i
    }

    fn result(&mut self, f: &Finding) -> Value {
        let rule_index = self.rule_index(f);
        let is_file = *self
            .target_is_file
            .entry(f.target.to_string())
            .or_insert_with(|| Path::new(&*f.target).is_file());
        let mut physical = Map::new();
        physical.insert(
            "artifactLocation".into(),
            json!({ "uri": artifact_uri(&f.target, &f.path, is_file) }),
        );
        // A file-name finding has no position inside the file's content.
        if let (Some(line), Some(column), false) = (f.line, f.column, f.field == "path") {
            if line >= 1 && column >= 1 {
                physical.insert(
                    "region".into(),
                    json!({ "startLine": line, "startColumn": column }),
                );
            }
        }
        let place = if f.field.is_empty() {
            f.path.clone()
        } else {
            format!("{} [{}]", f.path, f.field)
        };
        json!({
            "ruleId": &*f.rule,
            "ruleIndex": rule_index,
            "level": level(f.confidence),
            "message": {
                "text": format!("{} ({}) in {}: {}", f.entity, f.confidence, place, f.matched)
            },
            "locations": [{ "physicalLocation": Value::Object(physical) }],
            "partialFingerprints": { "phiscanFingerprint/v1": &f.fingerprint },
            "properties": {
                "target": &*f.target,
                "path": &f.path,
                "entity": f.entity.as_str(),
                "confidence": f.confidence.as_str(),
                "field": &f.field,
                "match": &f.matched,
                "context": &f.context,
            }
        })
    }
}

fn level(c: Confidence) -> &'static str {
    match c {
        Confidence::High => "error",
        Confidence::Medium => "warning",
        Confidence::Low => "note",
    }
}

/// GitHub ranks alerts by this property (0.0–10.0).
fn security_severity(c: Confidence) -> &'static str {
    match c {
        Confidence::High => "8.0",
        Confidence::Medium => "5.0",
        Confidence::Low => "3.0",
    }
}

fn rule_json(r: &RuleInfo) -> Value {
    let help = format!(
        "{desc}\n\nphiscan reported {entity} data (confidence {conf}) matched by rule `{id}` \
         from {source}. Remove the data from the share, restrict access to it, or, if it \
         is known and accepted, add it to the baseline (`phiscan baseline create`) or an \
         allowlist.",
        desc = r.description,
        entity = r.entity,
        conf = r.confidence,
        id = r.id,
        source = r.source,
    );
    json!({
        "id": r.id,
        "name": rule_name(&r.id),
        "shortDescription": { "text": format!("{}: {}", r.entity, first_sentence(&r.description)) },
        "fullDescription": { "text": r.description },
        "help": { "text": help, "markdown": help },
        "defaultConfiguration": { "level": level(r.confidence) },
        "properties": {
            "tags": ["security", "privacy", "phi", r.entity.as_str()],
            "precision": match r.confidence {
                Confidence::High => "high",
                Confidence::Medium => "medium",
                Confidence::Low => "low",
            },
            "security-severity": security_severity(r.confidence),
        }
    })
}

/// `ssn.dashed` → `SsnDashed` (SARIF's `name` is an identifier-like label).
fn rule_name(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut cs = p.chars();
            match cs.next() {
                Some(c) => c.to_ascii_uppercase().to_string() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn first_sentence(s: &str) -> &str {
    match s.find(". ") {
        Some(i) => s.get(..=i).unwrap_or(s),
        None => s,
    }
}

/// The artifact URI of a finding. Local relative targets give relative URIs
/// (`mirror/hr/staff.csv`), which GitHub resolves against the repository
/// root; absolute ones give `file://` URIs; FTP targets their URL. An
/// archive member points at its archive (the member is in the message).
pub fn artifact_uri(target: &str, path: &str, target_is_file: bool) -> String {
    let outer = path.split('!').next().unwrap_or(path);
    let lower = target.get(..7).unwrap_or("").to_ascii_lowercase();
    if lower.starts_with("ftp://") || lower.starts_with("ftps://") {
        let base = target.trim_end_matches('/');
        return if outer.is_empty() {
            format!("{base}/")
        } else {
            format!("{base}/{}", encode_path(outer))
        };
    }
    let base = if target_is_file {
        // A file target: the path is the file's name; the target is the file.
        target.to_string()
    } else if outer.is_empty() {
        target.to_string()
    } else {
        format!("{}/{}", target.trim_end_matches('/'), outer)
    };
    let base = base.replace('\\', "/");
    let mut rel = base.as_str();
    while let Some(rest) = rel.strip_prefix("./") {
        rel = rest;
    }
    if rel.starts_with('/') {
        format!("file://{}", encode_path(rel))
    } else if rel.is_empty() || rel == "." {
        ".".to_string()
    } else {
        encode_path(rel)
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
fn encode_path(p: &str) -> String {
    let mut s = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

impl<W: Write + Send> ReportWriter for SarifReport<W> {
    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        let result = self.result(f);
        if self.results > 0 {
            self.out.write_all(b",")?;
        }
        serde_json::to_writer(&mut self.out, &result).map_err(io::Error::other)?;
        self.results += 1;
        Ok(())
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        let notifications: Vec<Value> = summary
            .not_examined_examples
            .iter()
            .map(|ex| {
                json!({
                    "level": "warning",
                    "message": {
                        "text": format!(
                            "{} {}: not examined ({}): {}",
                            ex.target, ex.path, ex.reason.as_str(), ex.detail
                        )
                    },
                    "descriptor": { "id": format!("not-examined/{}", ex.reason.as_str()) }
                })
            })
            .collect();
        let tail = json!({
            "tool": {
                "driver": {
                    "name": "phiscan",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": self.rules.iter().map(rule_json).collect::<Vec<_>>(),
                }
            },
            "invocations": [{
                "executionSuccessful": !summary.incomplete(),
                "toolExecutionNotifications": notifications,
            }],
            "columnKind": "unicodeCodePoints",
            // The marks a reader must not miss: values unmasked,
            // certificates not verified.
            "properties": {
                "unmasked": summary.run.unmasked,
                "insecure": summary.run.insecure,
                "startedAt": summary.run.started_at,
                "endedAt": summary.run.ended_at,
                "summary": summary.to_json(),
            },
        });
        // Splice the tail's members after the results array.
        let tail = serde_json::to_string(&tail).map_err(io::Error::other)?;
        let members = tail
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or("");
        write!(self.out, "],{members}}}]}}")?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::Entity;
    use crate::report::test_support::{sample_findings, sample_summary};

    fn rules() -> Vec<RuleInfo> {
        vec![RuleInfo {
            id: "ssn".into(),
            entity: Entity::Ssn,
            confidence: Confidence::High,
            description: "US Social Security number. Dashed or spaced.".into(),
            source: "rules/identifiers.toml".into(),
        }]
    }

    #[test]
    fn document_is_valid_json_with_rules_results_and_masked_values() {
        let mut buf = Vec::new();
        {
            let mut w = SarifReport::new(&mut buf, rules()).unwrap();
            for f in sample_findings() {
                w.finding(&f).unwrap();
            }
            w.finish(&sample_summary()).unwrap();
        }
        let doc: Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(doc["version"], "2.1.0");
        let run = &doc["runs"][0];
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        // The pack's rule plus the two seen only in findings.
        assert_eq!(rules.len(), 3);
        for r in results {
            let i = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[i]["id"], r["ruleId"]);
        }
        assert_eq!(results[0]["level"], "error");
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "share/hr/staff.csv"
        );
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
        assert_eq!(
            results[2]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "share/notes/%3Cscript%3Ealert%281%29%3C/script%3E.txt"
        );
        assert!(results[0]["message"]["text"]
            .as_str()
            .unwrap()
            .ends_with("***-**-6780"));
        assert_eq!(run["invocations"][0]["executionSuccessful"], false);
        assert_eq!(run["properties"]["summary"]["total_findings"], 3);
    }

    /// Archive members, file-name findings and server findings without a
    /// path or position still give schema-valid SARIF.
    #[test]
    fn unusual_findings_are_schema_valid() {
        let base = sample_findings().remove(0);
        let mut member = base.clone();
        member.path = "backup.zip!data/p\u{7f}\"q.csv".into();
        let mut name = base.clone();
        name.field = "path".into();
        let mut server = base.clone();
        server.target = "ftp://files.test/".into();
        server.path = String::new();
        server.entity = Entity::FtpAnonymousLogin;
        server.rule = "ftp-anonymous-login".into();
        server.line = None;
        server.column = None;
        let mut buf = Vec::new();
        {
            let mut w = SarifReport::new(&mut buf, rules()).unwrap();
            for f in [&member, &name, &server] {
                w.finding(f).unwrap();
            }
            w.finish(&sample_summary()).unwrap();
        }
        let doc: Value = serde_json::from_slice(&buf).unwrap();
        let schema: Value =
            serde_json::from_str(include_str!("../../tests/data/sarif-schema-2.1.0.json")).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        let results = doc["runs"][0]["results"].as_array().unwrap();
        let loc = |i: usize| &results[i]["locations"][0]["physicalLocation"];
        assert_eq!(loc(0)["artifactLocation"]["uri"], "share/backup.zip");
        assert!(loc(1).get("region").is_none(), "a file name has no region");
        assert_eq!(loc(2)["artifactLocation"]["uri"], "ftp://files.test/");
        assert!(loc(2).get("region").is_none());
    }

    #[test]
    fn empty_report_is_valid() {
        let mut buf = Vec::new();
        {
            let mut w = SarifReport::new(&mut buf, rules()).unwrap();
            w.finish(&Summary::default()).unwrap();
        }
        let doc: Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(doc["runs"][0]["results"].as_array().unwrap().len(), 0);
        assert_eq!(
            doc["runs"][0]["invocations"][0]["executionSuccessful"],
            true
        );
    }

    #[test]
    fn uris() {
        assert_eq!(
            artifact_uri("./mirror/", "a b.csv", false),
            "mirror/a%20b.csv"
        );
        assert_eq!(
            artifact_uri("/srv/share", "x.zip!in/y.csv", false),
            "file:///srv/share/x.zip"
        );
        assert_eq!(artifact_uri("data/x.csv", "x.csv", true), "data/x.csv");
        assert_eq!(
            artifact_uri("ftp://host/pub/", "a.txt", false),
            "ftp://host/pub/a.txt"
        );
        assert_eq!(artifact_uri(".", "a.txt", false), "a.txt");
        assert_eq!(rule_name("ssn.dashed-form"), "SsnDashedForm");
    }
}
