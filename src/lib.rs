//! phiscan: finds PHI/PII on FTP shares and local mirrors of them.
//!
//! Data flows one way: [`source`] (local walk, FTP crawl) → [`engine`] (one
//! file at a time) → [`extract`] (bytes → text and fields) → [`matcher`]
//! (rule pack → hits) → [`report`] (CSV/JSONL/SARIF/HTML and the summary).
//! [`plan`] resolves a configuration once; [`scan::run`] starts the threads.

// `unsafe` is allowed in three modules only: `lanes`, the end finder's
// inner loop, `word_starts`, its SIMD loads, and `argv`, which overwrites
// passwords in the process's arguments; each use carries its SAFETY
// argument.
#![deny(unsafe_code)]

pub mod allowlist;
#[allow(unsafe_code)]
pub mod argv;
pub mod baseline;
pub mod config;
pub mod decode;
pub mod discover;
pub mod engine;
pub mod entity;
pub mod error;
pub mod exposure;
pub mod extract;
pub mod fail_on;
#[allow(unsafe_code)]
pub mod lanes;
pub mod mask;
pub mod matcher;
pub mod merge;
pub mod outfile;
pub mod plan;
pub mod report;
pub mod resume;
pub mod rules;
pub mod scan;
pub mod secret;
pub mod settings;
pub mod shard;
pub mod source;
#[cfg(test)]
mod test_rng;
pub mod trust;
pub mod validators;
#[allow(unsafe_code)]
pub mod word_starts;
