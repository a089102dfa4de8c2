//! Which fields of structured formats hold PHI, as data beside the rules
//! (`rules/fields/*.toml`, embedded in the binary): the HL7 v2 fields and
//! identifier type codes, and the table column headers that name an
//! entity. Each table is parsed once, on first use; the embedded files are
//! checked by the unit tests below, so a bad edit fails `cargo test`.

use crate::entity::Entity;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::OnceLock;

const HL7_FIELDS: &str = include_str!("../../rules/fields/hl7.toml");
const COLUMNS: &str = include_str!("../../rules/fields/columns.toml");

/// What a known HL7 field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hl7FieldKind {
    /// CX identifier list: the type code (CX.5) decides the entity;
    /// without one, the table's default (`None` = plain text).
    Ids(Option<Entity>),
    /// XPN/XCN name.
    Name,
    /// TS/DTM date of birth.
    BirthDate,
    /// XAD address.
    Address,
    /// XTN telephone (or e-mail).
    Phone,
    /// Plain SSN.
    Ssn,
}

/// A `kind` as the table spells it.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindName {
    Identifiers,
    Name,
    BirthDate,
    Address,
    Phone,
    Ssn,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Hl7File {
    /// The data marker (see `rules::DATA_MARKER`).
    #[serde(rename = "phiscan_data")]
    _kind: String,
    field: Vec<Hl7Entry>,
    identifier_types: HashMap<String, Entity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Hl7Entry {
    segment: String,
    fields: Vec<usize>,
    kind: KindName,
    entity: Option<Entity>,
}

/// The HL7 field table, ready for lookups on every field of every segment.
#[derive(Debug)]
pub struct Hl7Fields {
    /// Per segment id, the kind of each field by number (index = number).
    segments: Vec<([u8; 3], Vec<Option<Hl7FieldKind>>)>,
    identifier_types: HashMap<String, Entity>,
}

impl Hl7Fields {
    /// The embedded table.
    pub fn get() -> &'static Hl7Fields {
        static TABLE: OnceLock<Hl7Fields> = OnceLock::new();
        TABLE.get_or_init(|| Hl7Fields::parse(HL7_FIELDS).expect("rules/fields/hl7.toml"))
    }

    fn parse(text: &str) -> Result<Hl7Fields, String> {
        let file: Hl7File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut segments: Vec<([u8; 3], Vec<Option<Hl7FieldKind>>)> = Vec::new();
        for entry in file.field {
            let id: [u8; 3] = entry
                .segment
                .as_bytes()
                .try_into()
                .map_err(|_| format!("segment {:?} is not 3 characters", entry.segment))?;
            let kind = match (entry.kind, entry.entity) {
                (KindName::Identifiers, default) => Hl7FieldKind::Ids(default),
                (KindName::Name, None) => Hl7FieldKind::Name,
                (KindName::BirthDate, None) => Hl7FieldKind::BirthDate,
                (KindName::Address, None) => Hl7FieldKind::Address,
                (KindName::Phone, None) => Hl7FieldKind::Phone,
                (KindName::Ssn, None) => Hl7FieldKind::Ssn,
                (_, Some(_)) => {
                    return Err(format!(
                        "{}: only identifiers take an entity",
                        entry.segment
                    ))
                }
            };
            let at = match segments.iter().position(|(s, _)| *s == id) {
                Some(at) => at,
                None => {
                    segments.push((id, Vec::new()));
                    segments.len() - 1
                }
            };
            let kinds = &mut segments[at].1;
            for number in entry.fields {
                if number == 0 || number > 999 {
                    return Err(format!("{}-{number}: no such field", entry.segment));
                }
                if kinds.len() <= number {
                    kinds.resize(number + 1, None);
                }
                kinds[number] = Some(kind);
            }
        }
        Ok(Hl7Fields {
            segments,
            identifier_types: file
                .identifier_types
                .into_iter()
                .map(|(code, entity)| (code.to_ascii_uppercase(), entity))
                .collect(),
        })
    }

    /// Whether any field of this segment is known.
    pub fn knows_segment(&self, segment: &[u8; 3]) -> bool {
        self.segments.iter().any(|(s, _)| s == segment)
    }

    /// What field `field` of `segment` holds, if it is known.
    pub fn kind(&self, segment: &str, field: usize) -> Option<Hl7FieldKind> {
        let id: [u8; 3] = segment.as_bytes().try_into().ok()?;
        let (_, kinds) = self.segments.iter().find(|(s, _)| *s == id)?;
        kinds.get(field).copied().flatten()
    }

    /// Entity of a CX identifier by its type code; `default` without one.
    pub fn identifier_entity(&self, type_code: &str, default: Option<Entity>) -> Option<Entity> {
        let code = type_code.trim();
        if code.is_empty() {
            return default;
        }
        self.identifier_types
            .get(&code.to_ascii_uppercase())
            .copied()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnsFile {
    /// The data marker (see `rules::DATA_MARKER`).
    #[serde(rename = "phiscan_data")]
    _kind: String,
    column: Vec<ColumnEntry>,
}

/// One entry of the column table (see `rules/fields/columns.toml`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnEntry {
    entity: Entity,
    #[serde(default)]
    words: Vec<String>,
    #[serde(default)]
    contains: Vec<String>,
    #[serde(default)]
    all_words: Vec<Vec<String>>,
    #[serde(default)]
    exact: Vec<String>,
    #[serde(default)]
    unless_words: Vec<String>,
}

impl ColumnEntry {
    fn matches(&self, words: &[String], joined: &str) -> bool {
        let has = |w: &String| words.contains(w);
        let named = self.words.iter().any(has)
            || self.contains.iter().any(|s| joined.contains(s.as_str()))
            || self.all_words.iter().any(|set| set.iter().all(has))
            || self.exact.iter().any(|s| s == joined);
        named && !self.unless_words.iter().any(has)
    }
}

/// The column header table.
pub struct ColumnNames {
    entries: Vec<ColumnEntry>,
}

impl ColumnNames {
    /// Headers of more words than this name no entity.
    const MAX_WORDS: usize = 6;

    /// The embedded table.
    pub fn get() -> &'static ColumnNames {
        static TABLE: OnceLock<ColumnNames> = OnceLock::new();
        TABLE.get_or_init(|| ColumnNames::parse(COLUMNS).expect("rules/fields/columns.toml"))
    }

    fn parse(text: &str) -> Result<ColumnNames, String> {
        let file: ColumnsFile = toml::from_str(text).map_err(|e| e.to_string())?;
        Ok(ColumnNames {
            entries: file.column,
        })
    }

    /// The entity a column holds, judged by its header's words (lower
    /// case); `None` when it names nothing we report.
    pub fn classify(&self, words: &[String]) -> Option<Entity> {
        if words.is_empty() || words.len() > Self::MAX_WORDS {
            return None;
        }
        let joined = words.concat();
        self.entries
            .iter()
            .find(|e| e.matches(words, &joined))
            .map(|e| e.entity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_tables_parse() {
        let hl7 = Hl7Fields::parse(HL7_FIELDS).unwrap();
        assert_eq!(hl7.kind("PID", 19), Some(Hl7FieldKind::Ssn));
        assert_eq!(
            hl7.kind("PID", 3),
            Some(Hl7FieldKind::Ids(Some(Entity::Mrn)))
        );
        assert_eq!(hl7.kind("PID", 21), Some(Hl7FieldKind::Ids(None)));
        assert_eq!(hl7.kind("PID", 8), None);
        assert_eq!(hl7.kind("OBX", 5), None);
        assert!(hl7.knows_segment(b"GT1") && !hl7.knows_segment(b"OBX"));
        assert_eq!(hl7.identifier_entity(" ss ", None), Some(Entity::Ssn));
        assert_eq!(
            hl7.identifier_entity("", Some(Entity::Mrn)),
            Some(Entity::Mrn)
        );
        assert_eq!(hl7.identifier_entity("XX", Some(Entity::Mrn)), None);
        ColumnNames::parse(COLUMNS).unwrap();
    }

    #[test]
    fn mistakes_in_a_table_are_refused() {
        let bad = "phiscan_data = \"hl7-fields\"\n[[field]]\nsegment = \"PIDX\"\nfields = [1]\n\
                   kind = \"ssn\"\n[identifier_types]\n";
        assert!(Hl7Fields::parse(bad).unwrap_err().contains("3 characters"));
        let bad = "phiscan_data = \"hl7-fields\"\n[[field]]\nsegment = \"PID\"\nfields = [1]\n\
                   kind = \"ssn\"\nentity = \"MRN\"\n[identifier_types]\n";
        assert!(Hl7Fields::parse(bad)
            .unwrap_err()
            .contains("only identifiers"));
        let bad =
            "phiscan_data = \"table-columns\"\n[[column]]\nentity = \"SSN\"\nword = [\"ssn\"]\n";
        assert!(ColumnNames::parse(bad).is_err());
    }
}
