//! Splitting one scan among N processes (`--shard I/N`), with no seed to
//! share: masscan and zmap users met gaps and overlaps when shards were
//! started with different seeds; a fixed hash of what is split cannot
//! disagree.
//!
//! The partition. Every report path belongs to one *unit*, named by the
//! key `TARGET \0 PREFIX`: `TARGET` is the target as reports show it (the
//! URL without its password, or the local path as given) and `PREFIX` the
//! first `D` folder levels of the path (`--split-depth D`), taken from the
//! part of the path before the first `!` (archive members belong with their
//! archive). A file at most `D` levels down is a unit of its own; a folder
//! at level `D` is one unit with everything below it; `D = 0` makes the
//! whole target one unit. A unit belongs to shard
//! `FNV-1a-64(key) mod N` (FNV-1a 64 over the key's UTF-8 bytes, offset
//! basis `0xcbf29ce484222325`, prime `0x100000001b3`).
//!
//! Every shard lists the folders above the split depth; each reads only
//! the units that are its own. A row is written by the shard that owns its
//! path (server-level rows have the empty path, so they belong to the
//! shard that owns the target's unit `TARGET \0`), so names and exposure
//! rows of the folders every shard lists are written once.
//!
//! A sweep (`discover --shard`, `scan BLOCK --shard`) is split by
//! address:port instead: `FNV-1a-64("ADDRESS:PORT") mod N` (see
//! [`sweep_key`] and `discover::sweep::SweepPart`). The servers it finds
//! are claimed by URL ([`ShardScan::claim_swept`]): their server-level
//! rows (and with `D = 0` all their rows) belong to the shard of their
//! address:port; their files below the split depth to their units' owners.
//!
//! Each shard digests what it listed above the split depth (an
//! order-independent sum of the entries' hashes), so that `phiscan merge`
//! can tell when shards saw different trees.

use crate::report::Event;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Most shards: far more than any scheduler runs at once, small enough
/// that a mistyped count is caught.
pub const MAX_SHARDS: u32 = 1_000_000;

/// The split depth when `--split-depth` is not given: each top-level
/// folder and file of a target is one unit. One level costs every shard a
/// single listing per target, and the top level of a share is where its
/// size is spread (one folder per department, year or client); deeper
/// splits cost every shard more listings for little better balance.
pub const DEFAULT_SPLIT_DEPTH: u32 = 1;

/// One shard of N: `index` from 0, as Kubernetes Indexed Jobs count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    #[error("a shard is written I/N (I from 0 to N-1), e.g. 0/4; got {0:?}")]
    Syntax(String),
    #[error("shard index {index} is not below the shard count {count} (I counts from 0)")]
    IndexTooLarge { index: u32, count: u32 },
    #[error("the shard count must be between 1 and {MAX_SHARDS}; got {0}")]
    Count(u32),
}

impl FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax(s.to_string());
        let (i, n) = s.trim().split_once('/').ok_or_else(syntax)?;
        let index: u32 = i.trim().parse().map_err(|_| syntax())?;
        let count: u32 = n.trim().parse().map_err(|_| syntax())?;
        if count == 0 || count > MAX_SHARDS {
            return Err(ShardError::Count(count));
        }
        if index >= count {
            return Err(ShardError::IndexTooLarge { index, count });
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The shard a key belongs to.
    pub fn of_key(key: &str, count: u32) -> u32 {
        (fnv1a64(key.as_bytes()) % u64::from(count.max(1))) as u32
    }

    pub fn owns_key(&self, key: &str) -> bool {
        Shard::of_key(key, self.count) == self.index
    }

    /// Whether an address:port of a sweep is this shard's to probe.
    pub fn owns_service(&self, addr: SocketAddr) -> bool {
        self.owns_key(&sweep_key(addr))
    }
}

/// The key of one address:port of a sweep: the socket address as URLs
/// write it (`10.0.0.5:21`, `[fd00::5]:21`). A host name given to the
/// sweep is keyed by the address it resolved to: the name is not known to
/// every shard the same way, the address is.
pub fn sweep_key(addr: SocketAddr) -> String {
    addr.to_string()
}

/// FNV-1a, 64 bits: tiny, fixed, and documented everywhere, so any other
/// tool can compute the same partition.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The key of the unit a report path belongs to (see the module docs).
pub fn unit_key(target: &str, path: &str, depth: u32) -> String {
    let outer = path.split('!').next().unwrap_or("");
    let prefix: Vec<&str> = outer
        .split('/')
        .filter(|c| !c.is_empty())
        .take(depth as usize)
        .collect();
    format!("{target}\0{}", prefix.join("/"))
}

/// A sharded scan: which shard this is, the split depth, and the digest of
/// what was listed above the split depth.
#[derive(Debug)]
pub struct ShardScan {
    pub shard: Shard,
    pub split_depth: u32,
    listed_sum: AtomicU64,
    listed_count: AtomicU64,
    /// Servers found by a sweep (`scan BLOCK`), by URL: `true` for those
    /// whose address:port is this shard's (it judged them). Their
    /// server-level rows, and with a split depth of 0 all their rows,
    /// follow the sweep's partition rather than the URL's unit key.
    swept: Arc<RwLock<HashMap<String, bool>>>,
}

/// `--shard I/N --split-depth D` as given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardSpec {
    pub shard: Shard,
    pub split_depth: u32,
}

impl ShardScan {
    pub fn new(spec: ShardSpec) -> ShardScan {
        ShardScan {
            shard: spec.shard,
            split_depth: spec.split_depth,
            listed_sum: AtomicU64::new(0),
            listed_count: AtomicU64::new(0),
            swept: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// Whether the unit of `path` in `target` is this shard's.
    pub fn owns(&self, target: &str, path: &str) -> bool {
        let key = unit_key(target, path, self.split_depth);
        if let Some(mine) = self.swept_here(target) {
            // The server's own unit (and with D = 0 everything on it)
            // belongs to the shard whose address:port it is.
            if key.len() == target.len() + 1 {
                return mine;
            }
        }
        self.shard.owns_key(&key)
    }

    /// Records a server found by a sweep at `url`, and whether this shard
    /// judged it (its address:port is this shard's). Called before any of
    /// its rows are sent.
    pub fn claim_swept(&self, url: &str, mine: bool) {
        self.swept
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(url.to_string(), mine);
    }

    /// The same shard for a sweep that runs inside this scan: the servers
    /// it claims are claimed here at once (one shared record), before
    /// their rows reach the output.
    pub fn for_sweep(&self) -> ShardScan {
        ShardScan {
            swept: self.swept.clone(),
            ..ShardScan::new(ShardSpec {
                shard: self.shard,
                split_depth: self.split_depth,
            })
        }
    }

    /// `Some(judged here)` for a server found by a sweep.
    pub fn swept_here(&self, target: &str) -> Option<bool> {
        self.swept
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(target)
            .copied()
    }

    /// Whether the target is looked at at all: with a split depth of 0 only
    /// by the shard that owns it; otherwise by every shard (each lists it
    /// down to the split depth).
    pub fn visits_target(&self, target: &str) -> bool {
        self.split_depth > 0 || self.owns(target, "")
    }

    /// Whether the server-level checks (login exposure, `--check-write`)
    /// run here: once per server, by the shard that owns the target.
    pub fn checks_server(&self, target: &str) -> bool {
        self.owns(target, "")
    }

    /// Whether a folder at `depth` (1 = top level) is entered: above the
    /// split depth by every shard, from there by its unit's owner only.
    pub fn enters_dir(&self, target: &str, rel: &str, depth: u32) -> bool {
        depth < self.split_depth || self.owns(target, rel)
    }

    /// Whether a file is read here.
    pub fn reads_file(&self, target: &str, rel: &str) -> bool {
        self.owns(target, rel)
    }

    /// Records an entry listed at most `split_depth` levels down (every
    /// shard lists those, so every shard's digest should agree).
    pub fn listed(&self, target: &str, rel: &str, is_dir: bool) {
        let kind = if is_dir { "d" } else { "f" };
        let h = fnv1a64(format!("{target}\0{rel}\0{kind}").as_bytes());
        self.listed_sum.fetch_add(h, Ordering::Relaxed);
        self.listed_count.fetch_add(1, Ordering::Relaxed);
    }

    /// The listing digest: entries counted, and the wrapping sum of their
    /// hashes (independent of the order the workers listed them in).
    pub fn listing_digest(&self) -> String {
        format!(
            "{}:{:016x}",
            self.listed_count.load(Ordering::Relaxed),
            self.listed_sum.load(Ordering::Relaxed)
        )
    }

    /// Whether an event is this shard's to report: a row by the owner of
    /// its path, server facts by the owner of the target. Events with no
    /// path (a file skipped by `--resume`, a sweep's counts) only ever come
    /// from the shard that owns them.
    pub fn keeps(&self, event: &Event) -> bool {
        let target = match event {
            Event::Finding(f) => Some(&*f.target),
            Event::FileScanned { target, .. }
            | Event::NotExamined { target, .. }
            | Event::PastRowCap { target, .. }
            | Event::TargetInfo { target, .. }
            | Event::ServerAccess { target, .. } => Some(&**target),
            _ => None,
        };
        if target.is_some_and(|t| self.swept_here(t).is_some()) {
            // Servers found by a sweep: the sweep sends only its own
            // services' rows, and the crawl of them is filtered where it
            // runs (`discover::crawl`), by [`ShardScan::owns`].
            return true;
        }
        match event {
            Event::Finding(f) => self.owns(&f.target, &f.path),
            Event::FileScanned { target, path, .. }
            | Event::NotExamined { target, path, .. }
            | Event::PastRowCap { target, path, .. } => self.owns(target, path),
            Event::TargetInfo { target, .. } | Event::ServerAccess { target, .. } => {
                self.owns(target, "")
            }
            // OCR work is only done on files this shard reads.
            // Files listed are filtered by shard before they are listed.
            Event::AlreadyScanned { .. }
            | Event::Discovery(_)
            | Event::Ocr { .. }
            | Event::Listed { .. } => true,
        }
    }
}

/// The name of a shard's manifest in its output folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The name of a shard's summary in its output folder.
pub const SUMMARY_FILE: &str = "summary.json";
/// The servers a `discover` shard could log in to, one URL a line (as
/// `--targets-out` writes them), in its output folder; `merge` joins the
/// shards' lists into one for `phiscan scan --targets`.
pub const TARGETS_FILE: &str = "targets.txt";

/// What a shard ran: written to `manifest.json` in its output folder, so
/// that `phiscan merge` can refuse shards that do not belong together.
/// Digests are SHA-256 (hex) of the canonical text named beside each.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub phiscan_version: String,
    /// What the shard ran: `scan` or `discover` (manifests written before
    /// discover could be sharded have no field: scans).
    #[serde(default)]
    pub kind: ShardKind,
    pub shard: Shard,
    pub split_depth: u32,
    /// The targets as reports show them, sorted, one a line.
    pub targets_digest: String,
    /// The settings that change what is found or written (see
    /// [`settings_digest`]).
    pub settings_digest: String,
    /// The rule pack as loaded (built-in and `--rules` files).
    pub rules_digest: String,
    /// The fingerprint key's public id (never the key).
    pub fingerprint_key_id: String,
    /// What this shard listed above the split depth (see
    /// [`ShardScan::listing_digest`]).
    pub listing_digest: String,
    /// The scan was stopped before its end (SIGINT/SIGTERM): rerun the
    /// shard with `--resume` before merging.
    pub interrupted: bool,
}

/// The command a shard ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShardKind {
    #[default]
    Scan,
    Discover,
}

impl ShardKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ShardKind::Scan => "scan",
            ShardKind::Discover => "discover",
        }
    }
}

/// SHA-256 of `text`, hex.
pub fn sha256_hex(text: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The digest of a target set: the targets as reports show them, sorted
/// and without repeats (order on the command line changes nothing).
pub fn targets_digest<'a>(targets: impl IntoIterator<Item = &'a str>) -> String {
    let mut all: Vec<&str> = targets.into_iter().collect();
    all.sort_unstable();
    all.dedup();
    sha256_hex(all.join("\n").as_bytes())
}

/// The digest of the settings that change what a scan finds or writes:
/// bytes read, globs, masking, extraction limits, the FTP crawl's bounds,
/// allowlists, the baseline (its content), the split depth. Not threads,
/// connections, rates, timeouts, output places or progress: shards may
/// differ in those and still add up to one scan.
pub fn settings_digest(config: &crate::config::ScanConfig) -> String {
    let ftp = &config.ftp;
    let baseline = config
        .baseline
        .as_ref()
        .map(|p| std::fs::read(p).map(|b| sha256_hex(&b)).unwrap_or_default());
    let text = format!(
        "max_bytes={:?}\ninclude={:?}\nexclude={:?}\nunmask={}\nlimits={:?}\n\
         follow_links={} max_depth={:?} max_files={:?} skip_larger_than={:?} \
         sample_tail={:?} check_write={} anon_check={}\nallow={:?}\nbaseline={:?}\n\
         split_depth={:?}\n",
        config.max_bytes,
        config.include,
        config.exclude,
        config.unmask,
        config.limits,
        ftp.follow_links,
        ftp.max_depth,
        ftp.max_files,
        ftp.skip_larger_than,
        ftp.sample_tail,
        ftp.check_write,
        ftp.anon_check,
        config.allow,
        baseline,
        config.shard.map(|s| s.split_depth),
    );
    sha256_hex(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use std::collections::HashMap;

    #[test]
    fn parses_i_of_n() {
        assert_eq!("0/4".parse(), Ok(Shard { index: 0, count: 4 }));
        assert_eq!(" 3 / 4 ".parse(), Ok(Shard { index: 3, count: 4 }));
        assert_eq!(
            "4/4".parse::<Shard>(),
            Err(ShardError::IndexTooLarge { index: 4, count: 4 })
        );
        assert_eq!("0/0".parse::<Shard>(), Err(ShardError::Count(0)));
        for bad in ["", "1", "a/2", "1/b", "-1/2", "1/2/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fnv1a64_is_the_published_function() {
        // Test vectors of the FNV reference (isthe.com/chongo/tech/comp/fnv).
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn unit_keys_follow_the_split_depth_and_archives() {
        assert_eq!(unit_key("t", "a/b/c.txt", 1), "t\0a");
        assert_eq!(unit_key("t", "a/b/c.txt", 2), "t\0a/b");
        assert_eq!(unit_key("t", "a/b/c.txt", 0), "t\0");
        assert_eq!(unit_key("t", "x.zip!in/deep.txt", 1), "t\0x.zip");
        assert_eq!(unit_key("t", "", 3), "t\0");
    }

    /// A random relative path: 1..=5 levels of short names, some with `!`.
    fn random_path(rng: &mut Rng) -> String {
        let levels = 1 + rng.below(5);
        let names = ["a", "b", "c", "d!e", "f.zip", "g h", "é"];
        (0..levels)
            .map(|_| names[rng.below(names.len())])
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Walks a tree the way the sources do (every shard enters folders
    /// above the split depth, the owner the rest; files read by their
    /// owner) and checks that each file is read by exactly one shard, and
    /// that the one reading it is the one that keeps its rows.
    #[test]
    fn every_file_of_random_trees_lands_in_exactly_one_shard() {
        let mut rng = Rng::new(16);
        for _ in 0..200 {
            let count = 1 + rng.below(9) as u32;
            let depth = rng.below(4) as u32;
            let targets: Vec<String> = (0..1 + rng.below(4))
                .map(|i| format!("ftp://127.0.0.{i}:2121/"))
                .collect();
            let mut files: Vec<(String, String)> = Vec::new();
            for _ in 0..rng.below(60) {
                let t = targets[rng.below(targets.len())].clone();
                files.push((t, random_path(&mut rng)));
            }
            files.sort();
            files.dedup();
            let mut read_by: HashMap<(String, String), Vec<u32>> = HashMap::new();
            for index in 0..count {
                let s = ShardScan::new(ShardSpec {
                    shard: Shard { index, count },
                    split_depth: depth,
                });
                for (t, path) in &files {
                    if !s.visits_target(t) {
                        continue;
                    }
                    let parts: Vec<&str> = path.split('/').collect();
                    let entered =
                        (1..parts.len()).all(|d| s.enters_dir(t, &parts[..d].join("/"), d as u32));
                    if entered && s.reads_file(t, path) {
                        read_by
                            .entry((t.clone(), path.clone()))
                            .or_default()
                            .push(index);
                        let member = format!("{path}!inner/x.txt");
                        assert!(s.owns(t, &member), "member rows stay with the reader");
                    }
                }
            }
            for f in &files {
                let shards = read_by.get(f).cloned().unwrap_or_default();
                assert_eq!(
                    shards.len(),
                    1,
                    "{f:?} read by {shards:?} (N={count}, D={depth})"
                );
            }
        }
    }

    #[test]
    fn every_target_lands_in_exactly_one_shard() {
        let mut rng = Rng::new(7);
        for _ in 0..200 {
            let count = 1 + rng.below(16) as u32;
            let targets: Vec<String> = (0..rng.below(50))
                .map(|_| {
                    format!(
                        "ftp://10.{}.{}.{}/",
                        rng.below(256),
                        rng.below(256),
                        rng.below(256)
                    )
                })
                .collect();
            for t in &targets {
                let owners: Vec<u32> = (0..count)
                    .filter(|&index| {
                        ShardScan::new(ShardSpec {
                            shard: Shard { index, count },
                            split_depth: 0,
                        })
                        .visits_target(t)
                    })
                    .collect();
                assert_eq!(owners.len(), 1, "{t} N={count}: {owners:?}");
            }
        }
    }

    #[test]
    fn listing_digest_ignores_order() {
        let spec = ShardSpec {
            shard: Shard { index: 0, count: 2 },
            split_depth: 1,
        };
        let (a, b) = (ShardScan::new(spec), ShardScan::new(spec));
        a.listed("t", "x", true);
        a.listed("t", "y.txt", false);
        b.listed("t", "y.txt", false);
        b.listed("t", "x", true);
        assert_eq!(a.listing_digest(), b.listing_digest());
        b.listed("t", "z", false);
        assert_ne!(a.listing_digest(), b.listing_digest());
    }
}
