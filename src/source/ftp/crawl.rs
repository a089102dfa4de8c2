//! The crawl: a pool of workers, one control connection each, sharing
//! one [`Queue`] of folders to list and files to fetch. Listings are parsed
//! as they arrive; names, links, loops, depth and counts are bounded here
//! (see the module docs of [`super`]). Files are fetched by [`super::fetch`].

use super::exposure;
use super::listing::{self, EntryKind, Parsed};
use super::queue::{DirJob, FileJob, Job, Queue};
use super::session::{backoff, Connector, Cut, Failure, Session};
use super::url::{self, Credentials, FtpTarget};
use super::wire;
use crate::config::{FtpOptions, FTP_DEFAULT_MAX_BYTES};
use crate::report::{Event, EventSink, SkipReason};
use crate::source::ScanEnv;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use suppaftp::TlsStream;

/// Most entries read from one directory listing.
pub(super) const MAX_DIR_ENTRIES: usize = 500_000;
/// Most symbolic links followed along one path (loop protection).
pub(super) const MAX_LINK_HOPS: u32 = 8;
/// Most directories listed on one server: a hostile server can present an
/// endless tree (every CWD succeeds, every folder lists two more).
pub(super) const MAX_DIRS: u64 = 1_000_000;
/// Deepest directory level crawled when `--max-depth` is not given.
pub(super) const HARD_MAX_DEPTH: u32 = 256;

/// One server's crawl: what every worker shares.
pub(super) struct Crawl<'a, T: TlsStream> {
    pub(super) env: &'a ScanEnv<'a>,
    pub(super) opts: &'a FtpOptions,
    pub(super) display: Arc<str>,
    pub(super) connector: Connector<T>,
    pub(super) creds: Credentials,
    pub(super) queue: Queue,
    pub(super) max_bytes: u64,
    pub(super) files_queued: AtomicU64,
    pub(super) max_files_reported: AtomicBool,
    pub(super) dirs_queued: AtomicU64,
    pub(super) max_dirs_reported: AtomicBool,
    /// Directories already listed (wire paths, and PWD of linked ones).
    pub(super) visited: Mutex<HashSet<String>>,
    /// Workers still holding or able to get a connection.
    pub(super) live: AtomicUsize,
    /// Strings that must never appear in a message (the password).
    pub(super) secrets: Vec<String>,
    pub(super) max_depth: u32,
    /// How folders were listed, for the summary.
    pub(super) listed: Listed,
}

/// How a crawl listed its folders.
#[derive(Default)]
pub(super) struct Listed {
    /// Folders listed with MLSD.
    pub mlsd: AtomicU64,
    /// Folders listed with LIST.
    pub list: AtomicU64,
    /// The server's reply when it refused MLSD though FEAT offered it.
    pub mlsd_refused: Mutex<Option<String>>,
    /// The URL named a file, not a folder.
    pub root_is_file: AtomicBool,
}

impl<'a, T: TlsStream + Send + 'static> Crawl<'a, T> {
    pub(super) fn new(
        env: &'a ScanEnv<'a>,
        display: Arc<str>,
        connector: Connector<T>,
        creds: Credentials,
        secrets: Vec<String>,
    ) -> Crawl<'a, T> {
        let opts = &env.config.ftp;
        Crawl {
            env,
            opts,
            display,
            connector,
            creds,
            queue: Queue::default(),
            max_bytes: env.config.max_bytes.unwrap_or(FTP_DEFAULT_MAX_BYTES),
            files_queued: AtomicU64::new(0),
            max_files_reported: AtomicBool::new(false),
            dirs_queued: AtomicU64::new(0),
            max_dirs_reported: AtomicBool::new(false),
            visited: Mutex::new(HashSet::new()),
            live: AtomicUsize::new(opts.connections.clamp(1, 64)),
            secrets,
            max_depth: opts.max_depth.unwrap_or(HARD_MAX_DEPTH).min(HARD_MAX_DEPTH),
            listed: Listed::default(),
        }
    }

    /// Crawls from `root` (wire form) with `--connections` workers, the
    /// first on the connection already open; returns when all are done.
    pub(super) fn run(&self, root: String, first: Session<T>) {
        let connections = self.opts.connections.clamp(1, 64);
        self.queue.push_dir(DirJob {
            wire: root,
            rel: String::new(),
            depth: 0,
            links: 0,
            via_link: false,
            ancestors: Arc::new(Vec::new()),
        });
        let mut first = Some(first);
        std::thread::scope(|scope| {
            for i in 0..connections {
                let session = if i == 0 { first.take() } else { None };
                let spawned = std::thread::Builder::new()
                    .name(format!("phiscan-ftp-{i}"))
                    .spawn_scoped(scope, move || self.worker(session));
                if spawned.is_err() {
                    self.live.fetch_sub(1, Ordering::SeqCst);
                }
            }
        });
    }
}

/// Where the crawl starts: the URL path under the login directory, or
/// absolute for `ftp://host//path`.
pub(super) fn root_path(home: &str, target: &FtpTarget) -> String {
    let path = wire::from_bytes(&target.path);
    let base = if target.absolute || !home.starts_with('/') {
        "/"
    } else {
        home
    };
    wire::join(base, &path)
}

/// What a listing holds (names, kinds, sizes; not dates, which change), as
/// a hash; `None` for a listing without folders, which cannot loop.
pub(super) fn listing_shape(entries: &[listing::Entry]) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    if !entries
        .iter()
        .any(|e| matches!(e.kind, EntryKind::Dir | EntryKind::Link))
    {
        return None;
    }
    let mut keys: Vec<(&str, u8, Option<u64>)> = entries
        .iter()
        .map(|e| {
            let kind = match e.kind {
                EntryKind::File => 0,
                EntryKind::Dir => 1,
                EntryKind::Link => 2,
            };
            (
                e.name.as_str(),
                kind,
                e.size.filter(|_| e.kind == EntryKind::File),
            )
        })
        .collect();
    keys.sort_unstable();
    // Fixed keys: the same listing always gives the same hash.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    keys.hash(&mut h);
    Some(h.finish())
}

impl<T: TlsStream + Send + 'static> Crawl<'_, T> {
    pub(super) fn scrub(&self, s: &str) -> String {
        url::scrub(s, &self.secrets)
    }

    pub(super) fn skip(&self, path: &str, reason: SkipReason, detail: String) {
        EventSink::send(
            self.env.events,
            Event::not_examined(&self.display, path, reason, self.scrub(&detail)),
        );
    }

    fn worker(&self, mut session: Option<Session<T>>) {
        while let Some(job) = self.queue.next() {
            // Interrupted (SIGINT/SIGTERM): drain the queue without
            // listing or fetching anything more.
            if self.env.engine.stopped() {
                self.queue.done();
                continue;
            }
            if session.is_none() {
                let mut info = None;
                match self
                    .connector
                    .open_with_retries(&self.creds, self.opts.retries, &mut info)
                {
                    Ok(s) => session = Some(s),
                    // Another worker still has a connection (the server may
                    // cap connections per client): leave the job to it.
                    Err(_) if self.leave_if_others_remain() => {
                        self.queue.requeue(job);
                        self.queue.done();
                        return;
                    }
                    Err(_) => {}
                }
            }
            match job {
                Job::Dir(d) => self.list_dir(&mut session, d),
                Job::File(f) => self.fetch(&mut session, f),
            }
            self.queue.done();
        }
        if let Some(s) = session {
            s.quit();
        }
    }

    fn leave_if_others_remain(&self) -> bool {
        self.live
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n > 1).then(|| n - 1)
            })
            .is_ok()
    }

    /// Runs `op` on a connection, reconnecting after connection failures and
    /// retrying transient ones with backoff, a bounded number of times.
    pub(super) fn with_retries<R>(
        &self,
        slot: &mut Option<Session<T>>,
        mut op: impl FnMut(&mut Session<T>) -> Result<R, Failure>,
    ) -> Result<R, Failure> {
        let mut attempt = 0;
        loop {
            let result = match slot {
                Some(s) => op(s),
                None => {
                    let mut info = None;
                    match self.connector.open(&self.creds, &mut info) {
                        Ok(s) => op(slot.insert(s)),
                        Err(f) => Err(f),
                    }
                }
            };
            match result {
                Ok(r) => return Ok(r),
                Err(f) => {
                    if f.breaks_connection() {
                        *slot = None;
                    }
                    if !f.is_retryable() || attempt >= self.opts.retries {
                        return Err(f);
                    }
                    backoff(attempt);
                    attempt += 1;
                }
            }
        }
    }

    fn list_dir(&self, slot: &mut Option<Session<T>>, job: DirJob) {
        // The root by its server path (what the URL named); folders below
        // it by their report paths.
        let where_ = if job.rel.is_empty() {
            wire::to_report(&job.wire)
        } else {
            job.rel.clone()
        };
        let fresh = self
            .visited
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job.wire.clone());
        if !fresh {
            return;
        }
        let via_link = job.via_link;
        // Whether the last attempt failed at CWD (rather than listing).
        let mut cwd_refused = false;
        let listed = self.with_retries(slot, |s| {
            cwd_refused = false;
            // A folder found in a listing is listed by its path (`MLSD
            // folder`), sparing a CWD round trip. Not the root (CWD tells
            // a folder from a file), nor a folder reached by a link (PWD
            // after CWD tells where it leads), nor on LIST servers.
            let by_path = s.mlsd && s.mlsd_takes_path && job.depth > 0 && !via_link;
            if by_path {
                let mut parsed = Parsed::default();
                match s.mlsd_path(&job.wire, MAX_DIR_ENTRIES, |line| parsed.add(line, true)) {
                    // Refused with an argument, or at all: CWD, then MLSD
                    // (or LIST) below tells which.
                    Err(Failure::Permanent {
                        code: 500..=502 | 504,
                        ..
                    }) => {}
                    other => return other.map(|l| Some((l, parsed, true))),
                }
            }
            if let Err(f) = s.cwd(&job.wire) {
                cwd_refused = true;
                return Err(f);
            }
            if via_link {
                // A link back to a folder already crawled would loop.
                if let Ok(real) = s.pwd() {
                    let mut visited = self.visited.lock().unwrap_or_else(|p| p.into_inner());
                    if real != job.wire && !visited.insert(real) {
                        return Ok(None);
                    }
                }
            }
            // Lines are parsed as they arrive (not kept), afresh for each attempt.
            let mut parsed = Parsed::default();
            let mlsd = s.mlsd;
            match s.list_cwd(MAX_DIR_ENTRIES, |line| parsed.add(line, mlsd)) {
                Err(Failure::Permanent {
                    code: 500..=502,
                    detail,
                }) if s.mlsd => {
                    // Advertised MLST but no MLSD: fall back to LIST.
                    s.mlsd = false;
                    self.listed
                        .mlsd_refused
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(detail);
                    let mut parsed = Parsed::default();
                    s.list_cwd(MAX_DIR_ENTRIES, |line| parsed.add(line, false))
                        .map(|l| Some((l, parsed, false)))
                }
                other => {
                    if by_path && mlsd && other.is_ok() {
                        // MLSD works, but not with a folder named.
                        s.mlsd_takes_path = false;
                    }
                    other.map(|l| Some((l, parsed, mlsd)))
                }
            }
        });
        let (raw, parsed, mlsd) = match listed {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(f @ Failure::Permanent { .. }) if job.depth == 0 && cwd_refused => {
                // The URL names no folder the server will enter: a file?
                self.root_file(slot, job, &f);
                return;
            }
            Err(Failure::Permanent { code: 550, .. }) if via_link => {
                // A link to a file: CWD refuses it.
                self.fetch(
                    slot,
                    FileJob {
                        wire: job.wire,
                        rel: job.rel,
                        size: None,
                    },
                );
                return;
            }
            Err(f) => {
                let reason = match f {
                    Failure::Permanent { .. } => SkipReason::Unreadable,
                    _ => SkipReason::Network,
                };
                self.skip(
                    &job.rel,
                    reason,
                    format!("cannot list directory {where_}: {}", f.detail()),
                );
                return;
            }
        };
        match &raw.cut {
            None => {}
            Some(Cut::TooLong) => self.skip(
                &job.rel,
                SkipReason::Limit,
                format!("the listing of {where_} exceeds {MAX_DIR_ENTRIES} entries or 64 MiB; the rest was not examined"),
            ),
            Some(Cut::TooSlow(how)) => self.skip(
                &job.rel,
                SkipReason::Limit,
                format!("the listing of {where_} {how}; it was cut there and the rest was not examined"),
            ),
        }
        if mlsd {
            self.listed.mlsd.fetch_add(1, Ordering::Relaxed);
        } else {
            self.listed.list.fetch_add(1, Ordering::Relaxed);
        }
        let (entries, unparsed, example, repeated) = parsed.finish();
        let unparsed = unparsed + raw.overlong;
        if unparsed > 0 {
            self.skip(
                &job.rel,
                SkipReason::BadListing,
                format!(
                    "{unparsed} line(s) of the {} listing of {where_} not understood{}",
                    if mlsd { "MLSD" } else { "LIST" },
                    example.map(|e| format!(", e.g. {e:?}")).unwrap_or_default()
                ),
            );
        }
        if repeated > 0 {
            self.skip(
                &job.rel,
                SkipReason::BadListing,
                format!("{repeated} name(s) in the listing of {where_} listed more than once; each name was examined once"),
            );
        }
        // A folder that lists exactly what one of the folders above it
        // listed is that folder again (a server-side link loop shown as a
        // folder, or a hostile server): going on would never end.
        let shape = listing_shape(&entries);
        if let Some(shape) = shape {
            if let Some((_, same)) = job.ancestors.iter().find(|(h, _)| *h == shape) {
                let same = if same.is_empty() { "/" } else { same.as_str() };
                self.skip(
                    &job.rel,
                    SkipReason::Limit,
                    format!("{where_} lists the same entries as {same} (a loop?); it was not crawled further"),
                );
                return;
            }
        }
        let ancestors = match shape {
            Some(shape) => {
                let mut chain = Vec::with_capacity(job.ancestors.len() + 1);
                chain.extend(job.ancestors.iter().cloned());
                chain.push((shape, job.rel.clone()));
                Arc::new(chain)
            }
            None => job.ancestors.clone(),
        };
        for e in entries {
            self.entry(&job, &ancestors, e);
        }
    }

    fn entry(&self, parent: &DirJob, ancestors: &Arc<Vec<(u64, String)>>, e: listing::Entry) {
        let name = wire::to_report(&e.name);
        let rel = if parent.rel.is_empty() {
            name
        } else {
            format!("{}/{}", parent.rel, name)
        };
        let wire_path = wire::join(&parent.wire, &e.name);
        let env = self.env;
        if let Some(shard) = env.shard.filter(|s| parent.depth < s.split_depth) {
            // Every shard lists this folder: the digest of what it held
            // tells `merge` whether the shards saw the same tree.
            shard.listed(&self.display, &rel, e.kind != EntryKind::File);
        }
        match e.kind {
            EntryKind::Dir | EntryKind::Link => {
                let is_link = e.kind == EntryKind::Link;
                if is_link && !self.opts.follow_links {
                    return;
                }
                if !env.filter.allows_dir(&rel) {
                    return;
                }
                let depth = parent.depth.saturating_add(1);
                if env
                    .shard
                    .is_some_and(|s| !s.enters_dir(&self.display, &rel, depth))
                {
                    return;
                }
                env.engine.scan_name(&self.display, &rel, env.events);
                if !is_link {
                    exposure::listed_folder(env, &self.display, &rel, &e);
                }
                let links = parent.links + u32::from(is_link);
                if links > MAX_LINK_HOPS {
                    return;
                }
                if depth > self.max_depth {
                    self.skip(
                        &rel,
                        SkipReason::Limit,
                        format!("deeper than --max-depth {}", self.max_depth),
                    );
                    return;
                }
                if self.dirs_queued.fetch_add(1, Ordering::SeqCst) >= MAX_DIRS {
                    if !self.max_dirs_reported.swap(true, Ordering::SeqCst) {
                        self.skip(
                            &rel,
                            SkipReason::Limit,
                            format!("more than {MAX_DIRS} folders on this server; the rest were not examined"),
                        );
                    }
                    return;
                }
                self.queue.push_dir(DirJob {
                    wire: wire_path,
                    rel,
                    depth,
                    links,
                    via_link: is_link,
                    ancestors: ancestors.clone(),
                });
            }
            EntryKind::File => self.take_file(rel, wire_path, e.size),
        }
    }

    /// A file found (listed, or named by the URL): filtered, its name
    /// matched, and queued.
    fn take_file(&self, rel: String, wire: String, size: Option<u64>) {
        let env = self.env;
        if !env.filter.allows_file(&rel)
            || env
                .shard
                .is_some_and(|s| !s.reads_file(&self.display, &rel))
        {
            return;
        }
        env.engine.scan_name(&self.display, &rel, env.events);
        crate::report::EventSink::send(
            env.events,
            crate::report::Event::Listed {
                target: self.display.clone(),
                folder: rel.rsplit_once('/').map_or("", |(dir, _)| dir).to_string(),
                size,
            },
        );
        self.queue_file(FileJob { wire, rel, size });
    }

    /// The URL's path is no folder the server lets us enter: scanned as a
    /// file when SIZE says it is one (or cannot say); otherwise reported
    /// with the path and both replies.
    fn root_file(&self, slot: &mut Option<Session<T>>, job: DirJob, cwd: &Failure) {
        let shown = wire::to_report(&job.wire);
        let name = job.wire.rsplit('/').next().unwrap_or(&job.wire);
        // The file's report path is its name, as for a local file target.
        let rel = wire::to_report(name);
        match self.with_retries(slot, |s| s.size(&job.wire)) {
            Ok(size) => {
                self.listed.root_is_file.store(true, Ordering::Relaxed);
                self.take_file(rel, job.wire, Some(size));
            }
            // SIZE not supported: try to read it.
            Err(Failure::Permanent {
                code: 500..=502, ..
            }) if !name.is_empty() => {
                self.listed.root_is_file.store(true, Ordering::Relaxed);
                self.take_file(rel, job.wire, None);
            }
            Err(f @ Failure::Permanent { .. }) => self.skip(
                "",
                SkipReason::Unreadable,
                format!(
                    "cannot open {shown} as a folder or a file: CWD: {}; SIZE: {}",
                    cwd.detail(),
                    f.detail()
                ),
            ),
            Err(f) => self.skip(
                "",
                SkipReason::Network,
                format!("cannot open {shown}: {}", f.detail()),
            ),
        }
    }

    fn queue_file(&self, job: FileJob) {
        if let (Some(limit), Some(size)) = (self.opts.skip_larger_than, job.size) {
            if size > limit {
                self.skip(
                    &job.rel,
                    SkipReason::TooLarge,
                    format!("{size} bytes, larger than --skip-larger-than {limit}"),
                );
                return;
            }
        }
        if let Some(max) = self.opts.max_files {
            if self.files_queued.fetch_add(1, Ordering::SeqCst) >= max {
                if !self.max_files_reported.swap(true, Ordering::SeqCst) {
                    self.skip(
                        "",
                        SkipReason::Limit,
                        format!("--max-files {max} reached; further files were not examined"),
                    );
                }
                return;
            }
        }
        self.queue.push_file(job);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_under_home_unless_absolute() {
        let t = FtpTarget::parse("ftp://h/pub/data").unwrap();
        assert_eq!(root_path("/home/bob", &t), "/home/bob/pub/data");
        assert_eq!(root_path("/", &t), "/pub/data");
        let t = FtpTarget::parse("ftp://h//srv").unwrap();
        assert_eq!(root_path("/home/bob", &t), "/srv");
        let t = FtpTarget::parse("ftp://h").unwrap();
        assert_eq!(root_path("/", &t), "/");
    }

    fn entry(name: &str, kind: EntryKind, size: u64) -> listing::Entry {
        listing::Entry {
            name: name.into(),
            kind,
            size: Some(size),
            world_writable: false,
            mode: None,
        }
    }

    #[test]
    fn listing_shape_ignores_order_and_folder_sizes_and_needs_a_folder() {
        let a = [
            entry("x.txt", EntryKind::File, 5),
            entry("sub", EntryKind::Dir, 4096),
        ];
        let b = [
            entry("sub", EntryKind::Dir, 512),
            entry("x.txt", EntryKind::File, 5),
        ];
        assert!(listing_shape(&a).is_some());
        assert_eq!(listing_shape(&a), listing_shape(&b));
        let grown = [
            entry("x.txt", EntryKind::File, 6),
            entry("sub", EntryKind::Dir, 4096),
        ];
        assert_ne!(listing_shape(&a), listing_shape(&grown));
        // Folders without subfolders cannot loop: empty or files only.
        assert_eq!(listing_shape(&[]), None);
        assert_eq!(listing_shape(&[entry("x", EntryKind::File, 1)]), None);
    }
}
