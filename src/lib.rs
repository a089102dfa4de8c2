//! phiscan: finds PHI/PII on FTP shares and local mirrors of them.
//!
//! Data flows one way: [`source`] (local walk, FTP crawl) → [`extract`]
//! (bytes → text and fields) → [`matcher`] (rule pack → hits) → [`report`]
//! (CSV and summary). [`scan::run`] ties them together.

// `unsafe` is allowed in one module only: `lanes`, the end finder's inner
// loop, where each use carries its SAFETY argument.
#![deny(unsafe_code)]

pub mod allowlist;
pub mod baseline;
pub mod config;
pub mod config_file;
pub mod decode;
pub mod entity;
pub mod error;
pub mod extract;
#[allow(unsafe_code)]
pub mod lanes;
pub mod mask;
pub mod matcher;
pub mod report;
pub mod resume;
pub mod rules;
pub mod scan;
pub mod source;
#[cfg(test)]
mod test_rng;
pub mod validators;
