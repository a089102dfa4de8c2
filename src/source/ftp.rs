//! FTP/FTPS crawler. (Skeleton: the crawler lands in the FTP change.)

use super::ScanEnv;
use crate::error::ConfigError;
use std::sync::Arc;

/// An `ftp://` or `ftps://` target.
#[derive(Debug)]
pub struct FtpTarget {
    /// The URL without its password, as written to reports.
    pub display: Arc<str>,
}

impl FtpTarget {
    pub fn parse(s: &str) -> Result<FtpTarget, ConfigError> {
        Err(ConfigError::BadTarget {
            target: crate::source::ftp::redact(s),
            message: "FTP targets are not supported yet".into(),
        })
    }
}

/// The target with any password removed.
pub fn redact(s: &str) -> String {
    match (s.find("://"), s.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &s[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}@{}", &s[..scheme + 3], user, &s[at + 1..])
        }
        _ => s.to_string(),
    }
}

pub fn scan(_env: &ScanEnv, _target: &FtpTarget) {}
