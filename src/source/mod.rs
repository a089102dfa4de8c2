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
    let path = match url_scheme(s) {
        Some(scheme) if scheme.eq_ignore_ascii_case("file") => file_url_path(s)?,
        Some(scheme) => {
            return Err(ConfigError::UnsupportedScheme {
                target: crate::secret::redact(s),
                scheme: scheme.to_ascii_lowercase(),
            })
        }
        None => PathBuf::from(s),
    };
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

/// The scheme of `scheme://…` (letters, digits, `+`, `-`, `.`, starting
/// with a letter, as RFC 3986 has it); `None` for a local path. A Windows
/// drive (`C:\\`) has no `//` and stays a path.
fn url_scheme(s: &str) -> Option<&str> {
    let (scheme, _) = s.split_once("://")?;
    let mut chars = scheme.chars();
    (chars.next()?.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// The local path of `file:///path` or `file://localhost/path`.
fn file_url_path(s: &str) -> Result<PathBuf, ConfigError> {
    let rest = &s["file://".len()..];
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return Err(ConfigError::BadTarget {
            target: s.to_string(),
            message: "a file:// URL names a local path: file:///path".into(),
        });
    }
    Ok(PathBuf::from(path))
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
    /// `--shard`: which folders and files are this shard's.
    pub shard: Option<&'a crate::shard::ShardScan>,
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
    fn other_schemes_are_refused_by_name_and_file_urls_are_paths() {
        for (url, scheme) in [
            ("sftp://user:pw@host/x", "sftp"),
            ("HTTP://host/", "http"),
            ("https://host/a", "https"),
            ("smb://server/share", "smb"),
        ] {
            match parse_target(url) {
                Err(e @ ConfigError::UnsupportedScheme { .. }) => {
                    let text = e.to_string();
                    assert!(
                        text.contains(&format!("{scheme}:// is not supported")),
                        "{text}"
                    );
                    assert!(text.contains("ftp, ftps, ftpes, file"), "{text}");
                    assert!(!text.contains("pw"), "{text}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        let dir = env!("CARGO_MANIFEST_DIR");
        for url in [format!("file://{dir}"), format!("file://localhost{dir}")] {
            match parse_target(&url) {
                Ok(Target::Local { path, .. }) => assert_eq!(path, PathBuf::from(dir)),
                other => panic!("{url}: {other:?}"),
            }
        }
        assert!(matches!(
            parse_target("file://host/x"),
            Err(ConfigError::BadTarget { .. })
        ));
    }

    #[test]
    fn missing_local_target_is_reported() {
        assert!(matches!(
            parse_target("/nonexistent/phiscan/target"),
            Err(ConfigError::MissingTarget(_))
        ));
    }
}
