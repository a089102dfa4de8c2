//! Local files and folders (mirrors of shares).
//!
//! A mirror may hold what a hostile share put there, and may change while
//! it is walked: files are opened without following links and without
//! blocking (`O_NOFOLLOW | O_NONBLOCK`), and what was opened is checked to
//! be a regular file before anything is read, so a file swapped for a link
//! or a FIFO between listing and opening is reported, never followed or
//! waited on. Links, FIFOs, sockets and devices met in the walk are named
//! in the not-examined list (they make the scan incomplete).

use super::ScanEnv;
use crate::engine::Incomplete;
use crate::report::{Event, EventSink, SkipReason};
use rayon::prelude::*;
use std::fs::{File, FileType};
use std::path::Path;
use std::sync::Arc;
use walkdir::WalkDir;

/// Scans a local file or folder. File and folder names are matched too.
pub fn scan(env: &ScanEnv, target: &Arc<str>, root: &Path) {
    let max_bytes = env.config.max_bytes.unwrap_or(0);
    let root_is_dir = root.is_dir();
    let walker = WalkDir::new(root).follow_links(false).into_iter();
    let filter = env.filter;
    let shard = env.shard;
    let walker = walker.filter_entry(move |e| {
        if e.depth() == 0 {
            return true;
        }
        let is_dir = e.file_type().is_dir();
        let Some(shard) = shard else {
            return !is_dir || filter.allows_dir(&rel_path(root, e.path(), false));
        };
        // Every shard walks the levels above the split depth (and digests
        // them); a folder at the split depth is entered by its owner only.
        let rel = rel_path(root, e.path(), false);
        let depth = e.depth() as u32;
        if depth <= shard.split_depth {
            shard.listed(target, &rel, is_dir);
        }
        !is_dir || (filter.allows_dir(&rel) && shard.enters_dir(target, &rel, depth))
    });
    env.pool.install(|| {
        // `take_while`: an interrupted scan stops walking.
        let walker = walker.take_while(|_| !env.engine.stopped());
        walker.par_bridge().for_each(|entry| {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = e
                        .path()
                        .map(|p| rel_path(root, p, !root_is_dir))
                        .unwrap_or_default();
                    EventSink::send(
                        env.events,
                        Event::not_examined(target, path, SkipReason::Unreadable, e.to_string()),
                    );
                    return;
                }
            };
            let kind = entry.file_type();
            if entry.depth() == 0 && kind.is_dir() {
                return;
            }
            let rel = rel_path(root, entry.path(), !root_is_dir);
            if kind.is_dir() {
                env.engine.scan_name(target, &rel, env.events);
                return;
            }
            if !env.filter.allows_file(&rel)
                || env.shard.is_some_and(|s| !s.reads_file(target, &rel))
            {
                return;
            }
            env.engine.scan_name(target, &rel, env.events);
            if !kind.is_file() {
                let detail = format!("{}, not read", describe(kind));
                EventSink::send(
                    env.events,
                    Event::not_examined(target, rel, SkipReason::Unsupported, detail),
                );
                return;
            }
            let path = entry.path();
            env.engine
                .scan_opened(target, &rel, || open(path), max_bytes, env.events);
        });
    });
}

/// Opens a file listed as a regular file: not through a link, not waiting
/// on a FIFO, and only if it is still a regular file once opened.
fn open(path: &Path) -> Result<(File, Option<u64>, Option<i64>), Incomplete> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    }
    let unreadable = |detail: String| Incomplete {
        reason: SkipReason::Unreadable,
        detail,
    };
    let file = opts.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return Incomplete {
                reason: SkipReason::Unsupported,
                detail: "a symbolic link (it replaced the file listed), not followed".into(),
            };
        }
        unreadable(e.to_string())
    })?;
    let meta = file.metadata().map_err(|e| unreadable(e.to_string()))?;
    if !meta.is_file() {
        return Err(Incomplete {
            reason: SkipReason::Unsupported,
            detail: format!(
                "{} (it replaced the file listed), not read",
                describe(meta.file_type())
            ),
        });
    }
    // For `--resume`: a file changed since is scanned again.
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64);
    Ok((file, Some(meta.len()), mtime))
}

/// What a walk entry that is not a regular file is, in words.
fn describe(kind: FileType) -> &'static str {
    if kind.is_symlink() {
        return "a symbolic link (not followed)";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO, not a regular file";
        }
        if kind.is_socket() {
            return "a socket, not a regular file";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device, not a regular file";
        }
    }
    if kind.is_dir() {
        return "a folder";
    }
    "not a regular file"
}

/// `path` relative to `root`, `/`-separated; for a file target, its name.
fn rel_path(root: &Path, path: &Path, root_is_file: bool) -> String {
    let rel = if root_is_file {
        Path::new(path.file_name().unwrap_or(path.as_os_str()))
    } else {
        path.strip_prefix(root).unwrap_or(path)
    };
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}
