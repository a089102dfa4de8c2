//! Local files and folders (mirrors of shares).

use super::ScanEnv;
use crate::engine::FileMeta;
use crate::report::SkipReason;
use crate::report::{Event, EventSink};
use rayon::prelude::*;
use std::path::Path;
use std::sync::Arc;
use walkdir::WalkDir;

/// Scans a local file or folder. File names are matched too.
pub fn scan(env: &ScanEnv, target: &Arc<str>, root: &Path) {
    let max_bytes = env.config.max_bytes.unwrap_or(0);
    let root_is_file = root.is_file();
    let walker = WalkDir::new(root).follow_links(false).into_iter();
    let filter = env.filter;
    let walker = walker.filter_entry(move |e| {
        e.depth() == 0
            || !e.file_type().is_dir()
            || filter.allows_dir(&rel_path(root, e.path(), false))
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
                        .map(|p| rel_path(root, p, root_is_file))
                        .unwrap_or_default();
                    EventSink::send(
                        env.events,
                        Event::not_examined(target, path, SkipReason::Unreadable, e.to_string()),
                    );
                    return;
                }
            };
            if entry.depth() == 0 && entry.file_type().is_dir() {
                return;
            }
            let rel = rel_path(root, entry.path(), root_is_file);
            if entry.file_type().is_dir() {
                env.engine.scan_name(target, &rel, env.events);
                return;
            }
            if !entry.file_type().is_file() || !env.filter.allows_file(&rel) {
                // Symlinks are not followed; sockets, devices and FIFOs are
                // not files to read.
                return;
            }
            env.engine.scan_name(target, &rel, env.events);
            match std::fs::File::open(entry.path()) {
                Ok(mut file) => {
                    let meta = file.metadata().ok();
                    let size = meta.as_ref().map(|m| m.len());
                    // For `--resume`: a file changed since is scanned again.
                    let mtime = meta
                        .and_then(|m| m.modified().ok())
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_secs() as i64);
                    let meta = FileMeta {
                        target,
                        path: &rel,
                        size,
                        mtime,
                    };
                    env.engine
                        .scan_file(&meta, &mut file, max_bytes, env.events);
                }
                Err(e) => EventSink::send(
                    env.events,
                    Event::not_examined(target, rel, SkipReason::Unreadable, e.to_string()),
                ),
            }
        });
    });
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
