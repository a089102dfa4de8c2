//! phiscan: finds PHI/PII on FTP shares and local mirrors of them.
//!
//! Data flows one way: [`source`] (local walk, FTP crawl) → [`engine`] (one
//! file at a time) → [`extract`] (bytes → text and fields) → [`matcher`]
//! (rule pack → hits) → [`report`] (CSV/JSONL/SARIF/HTML and the summary).
//! [`plan`] resolves a configuration once; [`scan::run`] starts the threads.

// `unsafe` is allowed in one module only: `lanes`, the end finder's inner
// loop, where each use carries its SAFETY argument.
#![deny(unsafe_code)]

pub mod allowlist;
pub mod baseline;
pub mod config;
pub mod decode;
pub mod discover;
pub mod engine;
pub mod entity;
pub mod error;
pub mod exposure;
pub mod extract;
#[allow(unsafe_code)]
pub mod lanes;
pub mod mask;
pub mod matcher;
pub mod outfile;
pub mod plan;
pub mod report;
pub mod resume;
pub mod rules;
pub mod scan;
pub mod secret;
pub mod settings;
pub mod source;
#[cfg(test)]
mod test_rng;
pub mod validators;
