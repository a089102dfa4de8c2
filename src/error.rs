//! Library error types. The binary maps them to exit statuses.

use std::path::PathBuf;
use thiserror::Error;

/// Problems that stop a scan before it starts (exit status 2).
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    RuleFile { path: String, message: String },
    #[error("target not found: {0}")]
    MissingTarget(PathBuf),
    /// A target named in a file (`phiscan.toml`, a `--targets` file).
    #[error("target not found: {} (from {})", path.display(), file.display())]
    MissingTargetIn { path: PathBuf, file: PathBuf },
    #[error(
        "{target}: {scheme}:// is not supported; supported: ftp, ftps, ftpes, file, local paths"
    )]
    UnsupportedScheme { target: String, scheme: String },
    #[error("invalid target {target:?}: {message}")]
    BadTarget { target: String, message: String },
    #[error("invalid glob {glob:?}: {message}")]
    BadGlob { glob: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A failure while extracting one file or member. It never stops the scan:
/// the file is reported as not examined, with this as the reason.
#[derive(Debug, Error)]
pub enum ExtractError {
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
    #[error("corrupt {format}: {message}")]
    Corrupt {
        format: &'static str,
        message: String,
    },
    #[error("limit reached: {0}")]
    Limit(String),
    #[error("encrypted")]
    Encrypted,
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Images that need OCR, and no engine to read them.
    #[error("ocr unavailable: {0}")]
    OcrUnavailable(String),
    /// Images not read because OCR is turned off (`--ocr off`).
    #[error("ocr off: {0}")]
    OcrOff(String),
    /// The OCR engine crashed, was killed or gave no text.
    #[error("ocr failed: {0}")]
    OcrFailed(String),
}
