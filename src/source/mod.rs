//! Where files come from: local trees (`local`) and FTP/FTPS servers (`ftp`).
//! A source lists files, applies the path filter, and hands each file's bytes
//! to the [`Engine`].

pub mod ftp;
pub mod local;

use crate::config::ScanConfig;
use crate::engine::Engine;
use crate::error::ConfigError;
use crate::report::Event;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::path::PathBuf;
use std::sync::Arc;

/// A scan target, parsed.
#[derive(Debug)]
pub enum Target {
    Local {
        display: Arc<str>,
        path: PathBuf,
    },
    Ftp(ftp::FtpTarget),
    /// An address, block or range (`10.20.0.0/22`): discovered, then every
    /// FTP server that lets us in is crawled (`discover::crawl`).
    Network(String),
}

/// Parses a target as the user wrote it: `ftp://…`/`ftps://…`/`ftpes://…`
/// URLs or a local path (which must exist).
pub fn parse_target(s: &str) -> Result<Target, ConfigError> {
    let lower = s.get(..6).unwrap_or(s).to_ascii_lowercase();
    // `ftp:`/`ftps:`/`ftpes:` with a mistyped `//` is still a URL (whose
    // password must not reach an error message), not a local path.
    if ["ftp:", "ftps:", "ftpes:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
    {
        return ftp::FtpTarget::parse(s).map(Target::Ftp);
    }
    let path = PathBuf::from(s);
    if std::fs::symlink_metadata(&path).is_err() {
        if crate::discover::crawl::is_network_target(s) {
            return Ok(Target::Network(s.to_string()));
        }
        return Err(ConfigError::MissingTarget(path));
    }
    Ok(Target::Local {
        display: s.into(),
        path,
    })
}

/// `--include` / `--exclude` globs over target-relative, `/`-separated paths.
#[derive(Debug)]
pub struct PathFilter {
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl PathFilter {
    pub fn new(include: &[String], exclude: &[String]) -> Result<PathFilter, ConfigError> {
        let build = |globs: &[String]| -> Result<GlobSet, ConfigError> {
            let mut b = GlobSetBuilder::new();
            for g in globs {
                let glob = Glob::new(g).map_err(|e| ConfigError::BadGlob {
                    glob: g.clone(),
                    message: e.kind().to_string(),
                })?;
                b.add(glob);
            }
            b.build().map_err(|e| ConfigError::BadGlob {
                glob: globs.join(","),
                message: e.to_string(),
            })
        };
        Ok(PathFilter {
            include: if include.is_empty() {
                None
            } else {
                Some(build(include)?)
            },
            exclude: build(exclude)?,
        })
    }

    /// Whether a file at `rel` (relative, `/`-separated) is scanned. A glob
    /// matches the whole relative path or the file name alone.
    pub fn allows_file(&self, rel: &str) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let hit = |set: &GlobSet| set.is_match(rel) || set.is_match(name);
        !hit(&self.exclude) && self.include.as_ref().is_none_or(hit)
    }

    /// Whether a directory at `rel` is entered (only excludes prune).
    pub fn allows_dir(&self, rel: &str) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        !(self.exclude.is_match(rel) || self.exclude.is_match(name))
    }
}

/// What a source needs to run.
pub struct ScanEnv<'a> {
    pub engine: &'a Engine,
    pub config: &'a ScanConfig,
    pub filter: &'a PathFilter,
    pub events: &'a crossbeam_channel::Sender<Event>,
    pub pool: &'a rayon::ThreadPool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_matches_path_or_name() {
        let f = PathFilter::new(&["*.csv".into()], &["archive/**".into(), "tmp".into()]).unwrap();
        assert!(f.allows_file("exports/a.csv"));
        assert!(!f.allows_file("exports/a.txt"));
        assert!(!f.allows_file("archive/old.csv"));
        assert!(!f.allows_dir("x/tmp"));
        assert!(f.allows_dir("exports"));
    }

    #[test]
    fn bad_glob_is_a_config_error() {
        assert!(PathFilter::new(&["a[".into()], &[]).is_err());
    }

    #[test]
    fn missing_local_target_is_reported() {
        assert!(matches!(
            parse_target("/nonexistent/phiscan/target"),
            Err(ConfigError::MissingTarget(_))
        ));
    }
}
