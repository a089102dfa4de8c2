//! Plain-language advice per exposure kind, for the HTML report: the data
//! in `rules/ftp/remediation.toml` (built in), one entry per exposure
//! entity a check can write, and one for PHI found on a share.

use crate::entity::Entity;
use serde::Deserialize;
use std::sync::OnceLock;

const REMEDIATION: &str = include_str!("../../rules/ftp/remediation.toml");

/// What a weakness is, why it matters, what to do.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advice {
    pub title: String,
    pub risk: String,
    pub fix: String,
}

/// (`deny_unknown_fields` does not work beside `flatten`; [`Advice`]
/// denies them.)
#[derive(Debug, Deserialize)]
struct Entry {
    entity: Entity,
    #[serde(flatten)]
    advice: Advice,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RemediationFile {
    /// The data marker (see `rules::DATA_MARKER`).
    #[serde(rename = "phiscan_data")]
    _kind: String,
    remediation: Vec<Entry>,
    phi: Advice,
}

fn parsed() -> Option<&'static RemediationFile> {
    static FILE: OnceLock<Option<RemediationFile>> = OnceLock::new();
    // Built in and tested: a broken file fails `cargo test`, never a run.
    FILE.get_or_init(|| toml::from_str(REMEDIATION).ok())
        .as_ref()
}

/// The advice for an exposure entity; `None` for PHI/PII entities and the
/// inventory.
pub fn for_entity(entity: Entity) -> Option<&'static Advice> {
    parsed()?
        .remediation
        .iter()
        .find(|e| e.entity == entity)
        .map(|e| &e.advice)
}

/// Where an exposure entity comes in the file's order of urgency (most
/// urgent first); entities without advice last.
pub fn urgency_rank(entity: Entity) -> usize {
    parsed()
        .and_then(|f| f.remediation.iter().position(|e| e.entity == entity))
        .unwrap_or(usize::MAX)
}

/// The advice for PHI/PII found on a share or in a folder.
pub fn for_phi() -> Option<&'static Advice> {
    parsed().map(|f| &f.phi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fail_on::is_exposure;

    #[test]
    fn the_file_parses() {
        let file: RemediationFile = toml::from_str(REMEDIATION).expect("remediation.toml");
        assert!(!file.phi.fix.is_empty());
        // A misspelt field is an error, not advice silently missing.
        let typo = "phiscan_data = \"remediation\"\n[phi]\ntitle = \"t\"\nrisk = \"r\"\nfix = \"f\"\n\
                    [[remediation]]\nentity = \"FTP_BOUNCE\"\ntitle = \"t\"\nrisk = \"r\"\nfixx = \"f\"\n";
        assert!(toml::from_str::<RemediationFile>(typo).is_err());
    }

    /// Every exposure entity a check can write has its advice, so a new
    /// kind cannot ship without it; and the file names nothing else.
    #[test]
    fn every_exposure_entity_has_advice() {
        for e in Entity::ALL.into_iter().filter(|e| is_exposure(*e)) {
            let advice = for_entity(e).unwrap_or_else(|| panic!("no remediation for {e}"));
            for text in [&advice.title, &advice.risk, &advice.fix] {
                assert!(text.len() > 10, "{e}: {text:?}");
            }
        }
        let file = parsed().unwrap();
        for entry in &file.remediation {
            assert!(is_exposure(entry.entity), "{} is no exposure", entry.entity);
        }
        let mut names: Vec<&str> = file.remediation.iter().map(|e| e.entity.as_str()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "an entity twice");
        assert!(for_entity(Entity::Ssn).is_none());
        assert!(for_entity(Entity::FtpService).is_none());
    }

    /// The entities the checks' code writes (`Entity::Ftp…` in the
    /// exposure sources) are all exposure entities, so the test above
    /// covers them.
    #[test]
    fn entities_the_checks_write_are_covered() {
        let sources = [
            include_str!("../source/ftp/exposure.rs"),
            include_str!("../exposure/mod.rs"),
            include_str!("../exposure/tree.rs"),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for src in sources {
            for (at, _) in src.match_indices("Entity::Ftp") {
                let name: String = src[at + "Entity::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                let entity = Entity::ALL
                    .into_iter()
                    .find(|e| format!("{e:?}") == name)
                    .unwrap_or_else(|| panic!("unknown Entity::{name}"));
                if entity != Entity::FtpService {
                    assert!(for_entity(entity).is_some(), "no remediation for {entity}");
                    seen.insert(entity);
                }
            }
        }
        assert!(seen.len() >= 9, "{seen:?}");
    }
}
