//! What a finding is about (entity) and how sure we are (confidence).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Kind of personal data a finding is about. Spelled in reports as
/// SCREAMING_SNAKE_CASE (`CREDIT_CARD`); rule files use the same spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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
        }
    }

    /// Rows of this entity are an inventory (a service exists), not an
    /// exposure: they do not count towards the exit status.
    pub fn is_inventory(self) -> bool {
        self == Entity::FtpService
    }

    pub fn parse(s: &str) -> Option<Entity> {
        Entity::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(s))
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
        assert_eq!(Entity::parse("NOPE"), None);
    }

    #[test]
    fn confidence_orders_low_to_high() {
        assert!(Confidence::Low < Confidence::Medium && Confidence::Medium < Confidence::High);
        assert_eq!(Confidence::parse("medium"), Some(Confidence::Medium));
    }
}
