//! The checks' data under `rules/ftp/`: known-vulnerable versions (matched
//! against the greeting and SYST only) and the default logins.

use crate::source::ftp::url::Secret;
use regex::Regex;
use serde::Deserialize;
use std::sync::OnceLock;

const VULNERABLE: &str = include_str!("../../rules/ftp/vulnerable.toml");
const DEFAULT_CREDENTIALS: &str = include_str!("../../rules/ftp/default-credentials.toml");

/// Most built-in default logins (the bound; a test holds the file to it).
pub const MAX_BUILT_IN_CREDENTIALS: usize = 20;
/// Most logins read from `--creds FILE`.
pub const MAX_EXTRA_CREDENTIALS: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VulnerableFile {
    /// The data marker (see `rules::DATA_MARKER`).
    #[serde(rename = "phiscan_data")]
    _kind: String,
    vulnerable: Vec<VulnerableSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VulnerableSpec {
    id: String,
    cve: String,
    pattern: String,
    description: String,
}

/// One known-vulnerable version.
#[derive(Debug)]
pub struct Vulnerable {
    pub id: String,
    pub cve: String,
    pub description: String,
    pattern: Regex,
}

fn vulnerable() -> &'static [Vulnerable] {
    static LIST: OnceLock<Vec<Vulnerable>> = OnceLock::new();
    LIST.get_or_init(|| {
        // Built in and tested: a broken file fails `cargo test`, never a run.
        let vulnerable = toml::from_str::<VulnerableFile>(VULNERABLE)
            .map(|f| f.vulnerable)
            .unwrap_or_default();
        vulnerable
            .into_iter()
            .filter_map(|v| {
                Some(Vulnerable {
                    pattern: Regex::new(&format!("(?i){}", v.pattern)).ok()?,
                    id: v.id,
                    cve: v.cve,
                    description: v.description,
                })
            })
            .collect()
    })
}

/// The known-vulnerable versions that the greeting or SYST reply names.
pub fn vulnerable_matches(banner: &str, syst: &str) -> Vec<(&'static Vulnerable, String)> {
    let mut out = Vec::new();
    for v in vulnerable() {
        for text in [banner, syst] {
            if let Some(m) = v.pattern.find(text) {
                out.push((v, m.as_str().trim().to_string()));
                break;
            }
        }
    }
    out
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialFile {
    /// The data marker (see `rules::DATA_MARKER`).
    #[serde(rename = "phiscan_data")]
    _kind: String,
    credentials: Vec<CredentialSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialSpec {
    user: String,
    password: String,
}

/// A login to try; `Debug` hides the password.
#[derive(Clone, Debug)]
pub struct Login {
    pub user: String,
    pub password: Secret,
}

/// The built-in default logins.
pub fn default_logins() -> Vec<Login> {
    toml::from_str::<CredentialFile>(DEFAULT_CREDENTIALS)
        .map(|f| f.credentials)
        .unwrap_or_default()
        .into_iter()
        .take(MAX_BUILT_IN_CREDENTIALS)
        .map(|c| Login {
            user: c.user,
            password: Secret::new(c.password),
        })
        .collect()
}

/// Parses a `--creds` file: `user:password` per line, `#` comments and
/// blank lines ignored. Errors name the line, never its content.
pub fn parse_creds(text: &str) -> Result<Vec<Login>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((user, password)) = line.split_once(':') else {
            return Err(format!("line {}: expected user:password", i + 1));
        };
        let user = user.trim();
        if user.is_empty() || user.contains(['\r', '\n', '\0']) || password.contains('\0') {
            return Err(format!("line {}: empty or unusable user name", i + 1));
        }
        out.push(Login {
            user: user.to_string(),
            password: Secret::new(password),
        });
        if out.len() > MAX_EXTRA_CREDENTIALS {
            return Err(format!("more than {MAX_EXTRA_CREDENTIALS} logins"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_load_whole() {
        let file: VulnerableFile = toml::from_str(VULNERABLE).unwrap();
        assert_eq!(vulnerable().len(), file.vulnerable.len());
        assert!(vulnerable().iter().all(|v| !v.cve.is_empty()));
        let file: CredentialFile = toml::from_str(DEFAULT_CREDENTIALS).unwrap();
        assert!(file.credentials.len() <= MAX_BUILT_IN_CREDENTIALS);
        assert_eq!(default_logins().len(), file.credentials.len());
        assert!(default_logins()
            .iter()
            .any(|l| l.user == "ftp" && l.password.expose() == "ftp"));
    }

    #[test]
    fn versions_matched_by_banner_only() {
        let ids = |b: &str, s: &str| -> Vec<&str> {
            vulnerable_matches(b, s)
                .iter()
                .map(|(v, _)| v.id.as_str())
                .collect()
        };
        assert_eq!(ids("(vsFTPd 2.3.4)", ""), ["vsftpd-2.3.4-backdoor"]);
        assert!(ids("(vsFTPd 2.3.5)", "").is_empty());
        assert!(ids("(vsFTPd 3.0.3)", "UNIX Type: L8").is_empty());
        assert_eq!(
            ids("ProFTPD 1.3.3c Server (ProFTPD) [127.0.0.1]", ""),
            ["proftpd-1.3.3c-backdoor"]
        );
        assert_eq!(
            ids("ProFTPD 1.3.3b Server", ""),
            ["proftpd-telnet-iac-overflow"]
        );
        assert_eq!(
            ids("ProFTPD 1.3.5 Server (Debian)", ""),
            ["proftpd-mod-copy-1.3.5"]
        );
        assert_eq!(
            ids("ProFTPD 1.3.5b Server", ""),
            ["proftpd-mod-copy-1.3.5b"]
        );
        assert!(ids("ProFTPD 1.3.5e Server", "").is_empty());
        assert!(ids("ProFTPD 1.3.8 Server (Debian)", "").is_empty());
        assert!(ids("ProFTPD 1.3.35 Server", "").is_empty());
        assert_eq!(
            ids(
                "host FTP server (Version wu-2.6.0(1) Mon Feb 28 2000) ready.",
                ""
            ),
            ["wu-ftpd-2.6.0-site-exec"]
        );
        // SYST counts too.
        assert_eq!(
            ids("FTP ready", "UNIX Type: L8 (vsFTPd 2.3.4)"),
            ["vsftpd-2.3.4-backdoor"]
        );
    }

    #[test]
    fn creds_file_lines() {
        let l = parse_creds("# logins\nbackup:s3cr:et\n\n  admin:\n").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(
            (l[0].user.as_str(), l[0].password.expose()),
            ("backup", "s3cr:et")
        );
        assert_eq!(l[1].password.expose(), "");
        let e = parse_creds("ok:1\nnopassword-here\n").unwrap_err();
        assert_eq!(e, "line 2: expected user:password");
        assert!(!format!("{:?}", l[0]).contains("s3cr"));
    }
}
