//! Whether a `phiscan.toml` found by itself may steer the scan.
//!
//! A mirror of a hostile share can hold a `phiscan.toml`; an administrator
//! who runs `cd mirror && phiscan scan .` would otherwise let the share
//! turn off the built-in rules, allowlist its own findings, send the FTP
//! password to another host, enable writes, or write the report outside
//! the folder. So a settings file that phiscan found on its own (not named
//! with `--config`) and that lies inside a scanned local target keeps only
//! the settings that cannot weaken the audit or reach elsewhere; the rest
//! are ignored and named on stderr and in the summary.

use std::path::{Component, Path, PathBuf};

/// File keys an untrusted settings file keeps: how the report looks and
/// how fast the scan goes, nothing about what is found, where it is
/// written or which servers are contacted. Output paths are kept too when
/// they stay inside the working folder ([`stays_inside`]).
pub const KEPT_WHEN_UNTRUSTED: &[&str] = &[
    "formats",
    "format",
    "progress",
    "threads",
    "ftp.connections",
    "ftp.timeout",
    "ftp.timeout_secs",
    "ftp.rate",
    "ftp.retries",
];

/// Output keys kept when their path stays inside the working folder.
pub const OUTPUT_KEYS: &[&str] = &["output", "output_dir", "summary_json"];

/// A settings file that was not trusted, and what it was not allowed to set.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Distrusted {
    /// The settings file.
    pub path: PathBuf,
    /// The scanned target it lies in.
    pub inside_target: String,
    /// Its keys that were ignored (`ftp.insecure`, `default_rules`, …).
    pub ignored: Vec<String>,
}

impl Distrusted {
    /// The warning printed on stderr.
    pub fn warning(&self) -> String {
        format!(
            "{} lies inside the scanned target {}, so it was not trusted: ignored {} \
             (name it with --config to use all of it)",
            self.path.display(),
            self.inside_target,
            self.ignored.join(", ")
        )
    }
}

/// Every key of a TOML document, tables flattened as `table.key`.
pub fn keys_of(text: &str) -> Vec<String> {
    let Ok(table) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for (k, v) in &table {
        match v {
            toml::Value::Table(t) => keys.extend(t.keys().map(|sub| format!("{k}.{sub}"))),
            _ => keys.push(k.clone()),
        }
    }
    keys
}

/// The local target (of `targets`) that holds `file`, if any: the file's
/// folder is the target or lies below it. Paths that do not resolve hold
/// nothing.
pub fn target_holding<'a>(
    file: &Path,
    targets: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let folder = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let folder = folder.canonicalize().ok()?;
    targets.into_iter().find_map(|t| {
        let canonical = Path::new(t).canonicalize().ok()?;
        folder.starts_with(&canonical).then(|| t.to_string())
    })
}

/// Whether `path` (as the file gave it, already joined to the file's
/// folder) stays inside `root`: no `..` climbing out, no absolute path
/// elsewhere, and no symbolic link on the way that leads out.
pub fn stays_inside(path: &Path, root: &Path) -> bool {
    let Ok(root) = root.canonicalize() else {
        return false;
    };
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    };
    // Lexically first: `..` must not climb above the root.
    let mut normal = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                if !normal.pop() {
                    return false;
                }
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    if !normal.starts_with(&root) {
        return false;
    }
    // Then the deepest folder that exists, resolved: a link inside the
    // root may point out of it.
    let mut existing = normal.as_path();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return real.starts_with(&root);
        }
        match existing.parent() {
            Some(p) => existing = p,
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_flattened() {
        let keys =
            keys_of("default_rules = false\n[ftp]\ninsecure = true\n[[allow]]\nvalue = \"x\"\n");
        assert!(keys.contains(&"default_rules".to_string()));
        assert!(keys.contains(&"ftp.insecure".to_string()));
        assert!(keys.contains(&"allow".to_string()));
    }

    #[test]
    fn a_file_in_a_target_is_held_by_it() {
        let dir = tempfile::tempdir().unwrap();
        let share = dir.path().join("share");
        std::fs::create_dir_all(share.join("sub")).unwrap();
        let file = share.join("sub/phiscan.toml");
        let s = share.display().to_string();
        assert_eq!(target_holding(&file, [s.as_str()]), Some(s.clone()));
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        let o = other.display().to_string();
        assert_eq!(target_holding(&file, [o.as_str()]), None);
        assert_eq!(target_holding(&file, ["ftp://h/", "/nonexistent/x"]), None);
    }

    #[test]
    fn outputs_must_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("reports")).unwrap();
        assert!(stays_inside(Path::new("report.csv"), root));
        assert!(stays_inside(Path::new("reports/new/x.csv"), root));
        assert!(stays_inside(&root.join("a/../b.csv"), root));
        assert!(!stays_inside(Path::new("../hijacked-output.txt"), root));
        assert!(!stays_inside(Path::new("a/../../x"), root));
        assert!(!stays_inside(Path::new("/tmp/x.csv"), root));
        std::os::unix::fs::symlink("/tmp", root.join("out")).unwrap();
        assert!(!stays_inside(Path::new("out/x.csv"), root));
    }
}
