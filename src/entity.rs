//! What a finding is about (entity) and how sure we are (confidence).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Kind of personal data a finding is about. Spelled in reports as
/// SCREAMING_SNAKE_CASE (`CREDIT_CARD`); rule files use the same spelling,
/// and may name an entity of their own (`PATIENT_ACCOUNT`, see
/// [`Entity::Custom`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    Ssn,
    Mrn,
    Dob,
    Npi,
    Mbi,
    Dea,
    CreditCard,
    Email,
    Phone,
    PersonName,
    Address,
    /// Exposure findings about a server rather than a file.
    FtpAnonymousLogin,
    FtpAnonymousWrite,
    FtpWorldWritable,
    FtpNoTls,
    /// An FTP service found by `discover` (inventory; not an exposure).
    FtpService,
    FtpTlsCert,
    FtpDefaultCredentials,
    FtpBounce,
    FtpKnownVulnerable,
    FtpAbuseSigns,
    /// An entity a rule file names that phiscan does not know
    /// (`PATIENT_ACCOUNT`): upper-case letters, digits and `_`, reported
    /// under its own name.
    Custom(CustomName),
}

/// The name of a custom entity, interned: each distinct name is stored
/// once for the life of the process (there are as many as rule files name),
/// so that [`Entity`] stays `Copy` and its name a `&'static str`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomName(&'static str);

impl CustomName {
    /// Longest custom entity name.
    pub const MAX_LEN: usize = 64;

    /// `name` when it is a valid custom entity name: an upper-case letter,
    /// then upper-case letters, digits or `_`.
    pub fn new(name: &str) -> Option<CustomName> {
        use std::collections::HashSet;
        use std::sync::{Mutex, OnceLock};
        let valid = name.len() <= Self::MAX_LEN
            && name.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return None;
        }
        static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
        let mut names = NAMES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(&known) = names.get(name) {
            return Some(CustomName(known));
        }
        let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
        names.insert(leaked);
        Some(CustomName(leaked))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl Entity {
    pub const ALL: [Entity; 21] = [
        Entity::Ssn,
        Entity::Mrn,
        Entity::Dob,
        Entity::Npi,
        Entity::Mbi,
        Entity::Dea,
        Entity::CreditCard,
        Entity::Email,
        Entity::Phone,
        Entity::PersonName,
        Entity::Address,
        Entity::FtpAnonymousLogin,
        Entity::FtpAnonymousWrite,
        Entity::FtpWorldWritable,
        Entity::FtpNoTls,
        Entity::FtpService,
        Entity::FtpTlsCert,
        Entity::FtpDefaultCredentials,
        Entity::FtpBounce,
        Entity::FtpKnownVulnerable,
        Entity::FtpAbuseSigns,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Ssn => "SSN",
            Entity::Mrn => "MRN",
            Entity::Dob => "DOB",
            Entity::Npi => "NPI",
            Entity::Mbi => "MBI",
            Entity::Dea => "DEA",
            Entity::CreditCard => "CREDIT_CARD",
            Entity::Email => "EMAIL",
            Entity::Phone => "PHONE",
            Entity::PersonName => "PERSON_NAME",
            Entity::Address => "ADDRESS",
            Entity::FtpAnonymousLogin => "FTP_ANONYMOUS_LOGIN",
            Entity::FtpAnonymousWrite => "FTP_ANONYMOUS_WRITE",
            Entity::FtpWorldWritable => "FTP_WORLD_WRITABLE",
            Entity::FtpNoTls => "FTP_NO_TLS",
            Entity::FtpService => "FTP_SERVICE",
            Entity::FtpTlsCert => "FTP_TLS_CERT",
            Entity::FtpDefaultCredentials => "FTP_DEFAULT_CREDENTIALS",
            Entity::FtpBounce => "FTP_BOUNCE",
            Entity::FtpKnownVulnerable => "FTP_KNOWN_VULNERABLE",
            Entity::FtpAbuseSigns => "FTP_ABUSE_SIGNS",
            Entity::Custom(name) => name.as_str(),
        }
    }

    /// Rows of this entity are an inventory (a service exists), not an
    /// exposure: they do not count towards the exit status.
    pub fn is_inventory(self) -> bool {
        self == Entity::FtpService
    }

    /// A built-in entity (any case), or else a custom one (upper case).
    pub fn parse(s: &str) -> Option<Entity> {
        Entity::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(s))
            .or_else(|| CustomName::new(s).map(Entity::Custom))
    }
}

impl Serialize for Entity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Entity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Entity::parse(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown entity {name:?}: a built-in one ({}) or a name of your own in upper \
                 case (letters, digits, _), such as PATIENT_ACCOUNT",
                Entity::ALL[..11]
                    .iter()
                    .map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure a finding is. Ordered: `Low < Medium < High`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "LOW",
            Confidence::Medium => "MEDIUM",
            Confidence::High => "HIGH",
        }
    }

    pub fn parse(s: &str) -> Option<Confidence> {
        match s.to_ascii_uppercase().as_str() {
            "LOW" => Some(Confidence::Low),
            "MEDIUM" => Some(Confidence::Medium),
            "HIGH" => Some(Confidence::High),
            _ => None,
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_names_round_trip() {
        for e in Entity::ALL {
            assert_eq!(Entity::parse(e.as_str()), Some(e));
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.as_str()));
        }
        assert_eq!(Entity::parse("credit_card"), Some(Entity::CreditCard));
        // Any other upper-case name is an entity of its own.
        let account = Entity::parse("PATIENT_ACCOUNT").unwrap();
        assert_eq!(account.as_str(), "PATIENT_ACCOUNT");
        assert_eq!(Entity::parse("PATIENT_ACCOUNT"), Some(account));
        assert_eq!(
            serde_json::to_string(&account).unwrap(),
            "\"PATIENT_ACCOUNT\""
        );
        let back: Entity = serde_json::from_str("\"PATIENT_ACCOUNT\"").unwrap();
        assert_eq!(back, account);
        for bad in [
            "nope",
            "Patient_Account",
            "1ABC",
            "A-B",
            "",
            &"A".repeat(65),
        ] {
            assert_eq!(Entity::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn confidence_orders_low_to_high() {
        assert!(Confidence::Low < Confidence::Medium && Confidence::Medium < Confidence::High);
        assert_eq!(Confidence::parse("medium"), Some(Confidence::Medium));
    }
}
