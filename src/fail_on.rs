//! What makes a run fail (`--fail-on`): findings by kind (PHI/PII in
//! files, or a server's exposure) and by confidence.
//!
//! Written as a level (`LOW`, `MEDIUM`, `HIGH`: both kinds at that level),
//! `NONE` (nothing fails: a report-only run), or a comma list of kinds with
//! optional levels (`phi:MEDIUM,exposure:HIGH`; `phi` alone is `phi:LOW`);
//! a kind the list leaves out never fails the run.

use crate::entity::{Confidence, Entity};
use crate::report::summary::Summary;
use crate::report::ServerAccess;
use std::fmt;

/// The lowest confidence of each kind that fails the run (`None`: that
/// kind never does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailOn {
    pub phi: Option<Confidence>,
    pub exposure: Option<Confidence>,
}

impl Default for FailOn {
    /// Any finding fails: PHI in a file, and an exposure such as an
    /// anonymous login or a server without TLS (an audit that finds either
    /// has failed).
    fn default() -> FailOn {
        FailOn::both(Confidence::Low)
    }
}

/// An exposure row: what a server lets anyone do (an `FTP_*` entity other
/// than the inventory row `FTP_SERVICE`), as opposed to PHI/PII in a file.
pub fn is_exposure(entity: Entity) -> bool {
    !entity.is_inventory() && entity.as_str().starts_with("FTP_")
}

impl FailOn {
    pub const NONE: FailOn = FailOn {
        phi: None,
        exposure: None,
    };

    pub fn both(level: Confidence) -> FailOn {
        FailOn {
            phi: Some(level),
            exposure: Some(level),
        }
    }

    /// The values offered by shell completion and `--help`.
    pub const VALUES: [&'static str; 12] = [
        "LOW",
        "MEDIUM",
        "HIGH",
        "NONE",
        "phi",
        "phi:LOW",
        "phi:MEDIUM",
        "phi:HIGH",
        "exposure",
        "exposure:LOW",
        "exposure:MEDIUM",
        "exposure:HIGH",
    ];

    pub fn parse(s: &str) -> Result<FailOn, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("none") {
            return Ok(FailOn::NONE);
        }
        if let Some(level) = Confidence::parse(s) {
            return Ok(FailOn::both(level));
        }
        let mut fail_on = FailOn::NONE;
        for item in s.split(',').map(str::trim) {
            let (kind, level) = match item.split_once(':') {
                Some((kind, level)) => (
                    kind.trim(),
                    Confidence::parse(level.trim())
                        .ok_or_else(|| format!("{item:?}: {level:?} is not LOW, MEDIUM or HIGH"))?,
                ),
                None => (item, Confidence::Low),
            };
            match kind.to_ascii_lowercase().as_str() {
                "phi" | "pii" => fail_on.phi = Some(level),
                "exposure" => fail_on.exposure = Some(level),
                _ => {
                    return Err(format!(
                        "{item:?} is not LOW, MEDIUM, HIGH, NONE, or a list of \
                         phi[:LEVEL] and exposure[:LEVEL]"
                    ))
                }
            }
        }
        Ok(fail_on)
    }

    /// Findings that fail the run. Those of a server phiscan could not get
    /// into (login failed, unreachable, TLS refused) are left out: what it
    /// showed before the login (e.g. FTP_NO_TLS, a rejected certificate)
    /// does not turn "could not log in" into "findings" (exit status 4).
    pub fn failing_findings(&self, summary: &Summary) -> u64 {
        let at_or_above = |level: Option<Confidence>, c: Confidence| level.is_some_and(|l| c >= l);
        summary
            .targets
            .values()
            .filter(|t| t.access.is_none_or(|a| a == ServerAccess::LoggedIn))
            .flat_map(|t| {
                t.findings_by_confidence.iter().map(|(c, n)| {
                    let exposure = t.exposure_by_confidence.get(c).copied().unwrap_or(0);
                    let phi = n.saturating_sub(exposure);
                    u64::from(at_or_above(self.phi, *c)) * phi
                        + u64::from(at_or_above(self.exposure, *c)) * exposure
                })
            })
            .sum()
    }
}

impl fmt::Display for FailOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.phi, self.exposure) {
            (None, None) => f.write_str("NONE"),
            (Some(a), Some(b)) if a == b => f.write_str(a.as_str()),
            (phi, exposure) => {
                let items: Vec<String> = [("phi", phi), ("exposure", exposure)]
                    .into_iter()
                    .filter_map(|(k, l)| l.map(|l| format!("{k}:{l}")))
                    .collect();
                f.write_str(&items.join(","))
            }
        }
    }
}

/// clap's parser of `--fail-on`: [`FailOn::parse`], with the values shell
/// completion offers.
#[derive(Clone, Copy, Debug, Default)]
pub struct FailOnParser;

impl clap::builder::TypedValueParser for FailOnParser {
    type Value = FailOn;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<FailOn, clap::Error> {
        let text = value.to_str().unwrap_or_default();
        FailOn::parse(text).map_err(|message| {
            let name = arg.map_or("--fail-on".to_string(), |a| a.to_string());
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("invalid value for {name}: {message}\n"),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            FailOn::VALUES
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_levels_none_and_kinds() {
        assert_eq!(
            FailOn::parse("medium"),
            Ok(FailOn::both(Confidence::Medium))
        );
        assert_eq!(FailOn::parse("NONE"), Ok(FailOn::NONE));
        assert_eq!(
            FailOn::parse("phi"),
            Ok(FailOn {
                phi: Some(Confidence::Low),
                exposure: None
            })
        );
        assert_eq!(
            FailOn::parse("phi:HIGH, exposure:medium"),
            Ok(FailOn {
                phi: Some(Confidence::High),
                exposure: Some(Confidence::Medium)
            })
        );
        assert!(FailOn::parse("SEVERE").is_err());
        assert!(FailOn::parse("phi:SEVERE").is_err());
        assert!(FailOn::parse("").is_err());
    }

    #[test]
    fn displays_what_it_parses() {
        for s in [
            "LOW",
            "NONE",
            "phi:MEDIUM",
            "phi:LOW,exposure:HIGH",
            "exposure:LOW",
        ] {
            assert_eq!(FailOn::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn exposure_rows_are_ftp_entities_but_not_inventory() {
        assert!(is_exposure(Entity::FtpAnonymousLogin));
        assert!(is_exposure(Entity::FtpNoTls));
        assert!(!is_exposure(Entity::FtpService));
        assert!(!is_exposure(Entity::Ssn));
    }
}
