//! What an anonymous user can see and do: a bounded walk of the tree
//! (world-writable folders, names drop sites use), write probes in the
//! folders that look writable (`--check-write`), executables in writable
//! folders, and the bounce check.

use super::control::{self, Control, ControlError};
use super::login::Session;
use super::{Check, ExposureOptions, Reporter, ServiceReport, Verdict};
use crate::entity::{Confidence, Entity};
use crate::source::ftp::listing::{self, EntryKind, Line};
use crate::source::ftp::wire;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

/// Most folders listed.
const MAX_FOLDERS: usize = 40;
/// Most entries kept over the whole walk.
const MAX_ENTRIES: usize = 5_000;
/// Deepest folder level listed below the login folder.
const MAX_DEPTH: u32 = 6;
/// Most bytes of one listing read.
const MAX_LISTING_BYTES: usize = 4 << 20;
/// Most folders write-probed.
const MAX_WRITE_PROBES: usize = 8;
/// Most files whose first bytes are read for the executable check.
const MAX_HEADS: usize = 16;
/// Bytes read from the start of each such file.
const HEAD_BYTES: usize = 64;
/// Folder names that usually take uploads.
const UPLOAD_NAMES: [&str; 9] = [
    "incoming", "upload", "uploads", "inbox", "dropbox", "drop", "public", "tmp", "temp",
];

/// One listed entry, with its paths.
struct Seen {
    /// Absolute path, wire form.
    abs: String,
    /// Path below the login folder, wire form ("" for the login folder).
    rel: String,
    name: String,
    kind: EntryKind,
    world_writable: bool,
    mode: Option<String>,
    /// MLSD `perm` shows create/make-folder/append rights for this user.
    perm_writable: bool,
    depth: u32,
}

fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn shown(rel: &str) -> String {
    wire::to_report(rel)
}

/// The quoted path of a 257 reply (`"` doubled inside).
fn quoted_path(wire_text: &str) -> Option<String> {
    let start = wire_text.find('"')? + 1;
    let mut out = String::new();
    let mut chars = wire_text[start..].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                out.push('"');
                continue;
            }
            return Some(out);
        }
        out.push(c);
    }
    None
}

/// The MLSD `perm` fact of a raw line grants c (create), m (make folder)
/// or a (append).
fn mlsd_perm_writable(line: &str) -> bool {
    let facts = line.split_once(' ').map_or("", |(f, _)| f);
    facts.split(';').any(|f| {
        f.split_once('=').is_some_and(|(k, v)| {
            k.eq_ignore_ascii_case("perm") && v.chars().any(|c| matches!(c, 'c' | 'm' | 'a'))
        })
    })
}

/// The `unix.mode` fact of a raw MLSD line, octal, with or without `0o`.
fn mlsd_mode(line: &str) -> Option<u32> {
    let facts = line.split_once(' ').map_or("", |(f, _)| f);
    facts.split(';').find_map(|f| {
        let (k, v) = f.split_once('=')?;
        if !k.eq_ignore_ascii_case("unix.mode") {
            return None;
        }
        let v = v.strip_prefix("0o").unwrap_or(v);
        u32::from_str_radix(v, 8).ok()
    })
}

fn list(
    c: &mut Control,
    dir: &str,
    mlsd: bool,
) -> Result<Result<Vec<(listing::Entry, bool)>, control::Reply>, ControlError> {
    let r = c.cmd(&format!("CWD {dir}"))?;
    if !r.positive() {
        return Ok(Err(r));
    }
    let mut raw = Vec::new();
    let command = if mlsd { "MLSD" } else { "LIST" };
    if let Err(r) = c.read_transfer(command, MAX_LISTING_BYTES, &mut raw)? {
        return Ok(Err(r));
    }
    let mut out = Vec::new();
    for line in raw.split(|&b| b == b'\n') {
        let line = wire::from_bytes(line.strip_suffix(b"\r").unwrap_or(line));
        if line.is_empty() {
            continue;
        }
        let parsed = if mlsd {
            listing::parse_mlsd(&line)
        } else {
            listing::parse_list(&line)
        };
        if let Line::Entry(mut e) = parsed {
            if mlsd && e.mode.is_none() {
                // pyftpdlib writes the mode the Python way (`0o777`).
                if let Some(m) = mlsd_mode(&line) {
                    e.world_writable = m & 0o002 != 0;
                    e.mode = Some(format!("{m:04o}"));
                }
            }
            out.push((e, mlsd && mlsd_perm_writable(&line)));
        }
    }
    Ok(Ok(out))
}

/// The checks an anonymous session runs; fills their verdicts.
pub fn anonymous_checks(
    s: &mut Session,
    mlsd: bool,
    ask_mode: bool,
    opts: &ExposureOptions,
    rep: &Reporter,
    report: &mut ServiceReport,
) {
    let c = &mut s.control;
    let prepared = (|| -> Result<String, ControlError> {
        if c.is_tls() {
            c.protect_data()?;
        }
        let _ = c.cmd("TYPE I")?;
        if mlsd && ask_mode {
            // Ask for the mode bits too: some servers (pyftpdlib) send only
            // type, size, perm and modify unless asked (RFC 3659 7.9).
            let _ = c.cmd("OPTS MLST type;size;perm;unix.mode;")?;
        }
        let r = c.cmd("PWD")?;
        Ok(quoted_path(&r.wire).unwrap_or_else(|| "/".into()))
    })();
    let home = match prepared {
        Ok(h) => h,
        Err(e) => {
            rep.not_examined("", format!("after the anonymous login: {e}"));
            for check in [
                Check::WorldWritable,
                Check::AnonymousWrite,
                Check::AbuseSigns,
            ] {
                report.verdicts.insert(
                    check,
                    Verdict::NotTested(format!("the session failed: {e}")),
                );
            }
            return;
        }
    };

    // The walk, breadth first, bounded.
    let mut seen: Vec<Seen> = Vec::new();
    let mut queue = std::collections::VecDeque::from([(home.clone(), String::new(), 0u32)]);
    let mut listed = 0usize;
    let mut walk_error: Option<String> = None;
    let mut cut = false;
    while let Some((dir, rel, depth)) = queue.pop_front() {
        if listed >= MAX_FOLDERS || seen.len() >= MAX_ENTRIES {
            cut = true;
            break;
        }
        listed += 1;
        match list(c, &dir, mlsd) {
            Ok(Ok(entries)) => {
                for (e, perm_writable) in entries {
                    if seen.len() >= MAX_ENTRIES {
                        cut = true;
                        break;
                    }
                    let abs = join(&dir, &e.name);
                    let erel = if rel.is_empty() {
                        e.name.clone()
                    } else {
                        join(&rel, &e.name)
                    };
                    if e.kind == EntryKind::Dir && depth < MAX_DEPTH {
                        queue.push_back((abs.clone(), erel.clone(), depth + 1));
                    }
                    seen.push(Seen {
                        abs,
                        rel: erel,
                        name: e.name,
                        kind: e.kind,
                        world_writable: e.world_writable,
                        mode: e.mode,
                        perm_writable,
                        depth: depth + 1,
                    });
                }
            }
            // A folder we may not enter or list: not an error of the check.
            Ok(Err(_)) => {}
            Err(e) => {
                walk_error = Some(e.to_string());
                break;
            }
        }
    }
    if let Some(e) = &walk_error {
        rep.not_examined("", format!("listing as the anonymous user failed: {e}"));
    }
    let scope = if cut || walk_error.is_some() {
        format!("{listed} folders listed (the walk stops at {MAX_FOLDERS} folders, {MAX_ENTRIES} entries or {MAX_DEPTH} levels)")
    } else {
        format!("{listed} folders listed")
    };

    // World-writable folders, whatever --check-write says.
    let writable_listed: Vec<&Seen> = seen
        .iter()
        .filter(|e| e.kind == EntryKind::Dir && e.world_writable)
        .collect();
    for e in &writable_listed {
        rep.row(
            Entity::FtpWorldWritable,
            "ftp-world-writable",
            Confidence::Medium,
            &shown(&e.rel),
            e.mode.as_deref().unwrap_or(""),
            "the anonymous user's listing shows this folder writable by everyone",
        );
    }
    report.verdicts.insert(
        Check::WorldWritable,
        if writable_listed.is_empty() {
            if walk_error.is_some() && listed <= 1 {
                Verdict::NotTested("the listing failed".into())
            } else {
                Verdict::NotFound(scope.clone())
            }
        } else {
            Verdict::Found(writable_listed.len() as u32)
        },
    );

    // Write probes.
    let mut written: Vec<String> = Vec::new();
    if opts.check_write {
        let mut candidates: Vec<(String, String)> = vec![(home.clone(), String::new())];
        let upload_named = |e: &Seen| {
            let lower = e.name.to_ascii_lowercase();
            UPLOAD_NAMES.contains(&lower.as_str())
        };
        for pass in 0..2 {
            for e in seen.iter().filter(|e| e.kind == EntryKind::Dir) {
                let wanted = match pass {
                    0 => e.world_writable || e.perm_writable,
                    _ => upload_named(e),
                };
                if wanted && !candidates.iter().any(|(a, _)| *a == e.abs) {
                    candidates.push((e.abs.clone(), e.rel.clone()));
                }
            }
        }
        let skipped = candidates.len().saturating_sub(MAX_WRITE_PROBES);
        candidates.truncate(MAX_WRITE_PROBES);
        let mut failure = None;
        for (abs, rel) in &candidates {
            match write_probe(c, abs, rel, rep) {
                Ok(true) => written.push(rel.clone()),
                Ok(false) => {}
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            }
        }
        let verdict = match (&failure, written.len()) {
            (_, n) if n > 0 => Verdict::Found(n as u32),
            (Some(e), _) => {
                rep.not_examined("", format!("write check failed: {e}"));
                Verdict::NotTested(format!("the write probe failed: {e}"))
            }
            (None, _) => Verdict::NotFound(format!(
                "MKD and STOR refused in {} folder{} that looked writable{}",
                candidates.len(),
                if candidates.len() == 1 { "" } else { "s" },
                if skipped > 0 {
                    format!(" ({skipped} more not probed)")
                } else {
                    String::new()
                }
            )),
        };
        report.verdicts.insert(Check::AnonymousWrite, verdict);
    } else {
        report.verdicts.insert(
            Check::AnonymousWrite,
            Verdict::NotTested("needs --check-write".into()),
        );
    }

    // Signs of abuse, where anonymous users can write.
    let writable: Vec<&str> = written
        .iter()
        .map(String::as_str)
        .chain(writable_listed.iter().map(|e| e.rel.as_str()))
        .collect();
    if writable.is_empty() {
        let why = if opts.check_write {
            "anonymous users cannot write here (MKD/STOR refused, no folder listed writable)"
        } else {
            "not known to be anonymously writable (no folder listed writable; --check-write tests it)"
        };
        report
            .verdicts
            .insert(Check::AbuseSigns, Verdict::NotTested(why.into()));
        return;
    }
    let mut rows = 0u32;
    for e in &seen {
        if let Some(why) = drop_site_name(e) {
            rows += 1;
            rep.row(
                Entity::FtpAbuseSigns,
                "ftp-abuse-name",
                Confidence::Medium,
                &shown(&e.rel),
                &shown(&e.name),
                &format!("{why}, on a server anonymous users can write to"),
            );
        }
    }
    // Executables and scripts in the writable folders, by their first bytes.
    let in_writable = |e: &&Seen| {
        e.kind == EntryKind::File
            && writable.iter().any(|w| {
                let parent = e.rel.rsplit_once('/').map_or("", |(p, _)| p);
                parent == *w || parent.starts_with(&format!("{w}/")) || w.is_empty()
            })
    };
    let mut heads_read = 0;
    let mut head_error = None;
    for e in seen.iter().filter(in_writable).take(MAX_HEADS) {
        let mut head = Vec::new();
        match c.read_transfer(&format!("RETR {}", e.abs), HEAD_BYTES, &mut head) {
            Ok(Ok(())) => {
                heads_read += 1;
                if let Some(kind) = executable_kind(&head) {
                    rows += 1;
                    rep.row(
                        Entity::FtpAbuseSigns,
                        "ftp-abuse-executable",
                        Confidence::High,
                        &shown(&e.rel),
                        kind,
                        &format!(
                            "{kind} (by its first bytes) in a folder anonymous users can write to"
                        ),
                    );
                }
            }
            Ok(Err(_)) => {}
            Err(err) => {
                head_error = Some(err.to_string());
                break;
            }
        }
    }
    if let Some(e) = &head_error {
        rep.not_examined("", format!("reading files for the abuse check failed: {e}"));
    }
    let verdict = if rows > 0 {
        Verdict::Found(rows)
    } else if let Some(e) = head_error {
        Verdict::NotTested(format!("reading files failed: {e}"))
    } else {
        Verdict::NotFound(format!(
            "{} names looked at, the first bytes of {heads_read} files in writable folders read",
            seen.len()
        ))
    };
    report.verdicts.insert(Check::AbuseSigns, verdict);
}

/// Why a name looks like a drop site's, if it does.
fn drop_site_name(e: &Seen) -> Option<&'static str> {
    let name = e.name.as_str();
    if !name.is_empty() && name.chars().all(|c| c == ' ' || c == '.') {
        return Some(
            "a name of only spaces and dots (hidden from casual listings; drop sites use them)",
        );
    }
    if e.kind == EntryKind::Dir && name.starts_with(' ') {
        return Some("a folder name starting with a space (drop sites use them to hide)");
    }
    let stem = name
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_uppercase();
    let device = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit()
            && stem.as_bytes()[3] != b'0');
    if device {
        return Some(
            "a Windows device name (Windows tools cannot open or delete it; drop sites use them)",
        );
    }
    if e.kind == EntryKind::Dir {
        let parts: Vec<&str> = e.rel.split('/').collect();
        let under_upload = parts
            .iter()
            .position(|p| UPLOAD_NAMES.contains(&p.to_ascii_lowercase().as_str()));
        if let Some(i) = under_upload {
            if name.starts_with('~') {
                return Some("a '~' folder under an upload folder (a drop-site pattern)");
            }
            if e.depth >= 4 && parts.len() - i > 3 {
                return Some("a deep folder tree under an upload folder (a drop-site pattern)");
            }
        }
    }
    None
}

/// What the first bytes of a file say it is, for executables and scripts.
pub fn executable_kind(head: &[u8]) -> Option<&'static str> {
    const KINDS: [(&[u8], &str); 8] = [
        (b"MZ", "Windows executable (MZ/PE)"),
        (b"\x7fELF", "ELF executable"),
        (b"\xcf\xfa\xed\xfe", "Mach-O executable"),
        (b"\xce\xfa\xed\xfe", "Mach-O executable"),
        (b"\xfe\xed\xfa\xcf", "Mach-O executable"),
        (b"\xfe\xed\xfa\xce", "Mach-O executable"),
        (b"\xca\xfe\xba\xbe", "Mach-O universal binary or Java class"),
        (b"#!", "script (#!)"),
    ];
    KINDS
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|(_, kind)| *kind)
}

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("phiscan-probe-{}-{nanos:09}", std::process::id())
}

/// MKD and STOR of a uniquely named probe in `dir`, each removed again.
/// `Ok(true)` when either was accepted; rows say what and what was left.
fn write_probe(
    c: &mut Control,
    dir: &str,
    rel: &str,
    rep: &Reporter,
) -> Result<bool, ControlError> {
    let name = unique_name();
    let folder = join(dir, &name);
    let file = join(dir, &format!("{name}.txt"));
    let where_ = if rel.is_empty() {
        "the login folder".to_string()
    } else {
        shown(rel)
    };
    let mut leftovers = Vec::new();
    let mkd = c.cmd(&format!("MKD {folder}"))?;
    let made = mkd.positive();
    if made {
        let r = c.cmd(&format!("RMD {folder}"))?;
        if !r.positive() {
            leftovers.push((folder.clone(), r.shown()));
        }
    }
    let stored = c.store_empty(&file)?.is_ok();
    let mut deleted = true;
    if stored {
        let r = c.cmd(&format!("DELE {file}"))?;
        if !r.positive() {
            deleted = false;
            leftovers.push((file.clone(), r.shown()));
        }
    }
    if made || stored {
        let what = match (made, stored) {
            (true, true) => "MKD, STOR",
            (true, false) => "MKD",
            _ => "STOR",
        };
        let context = if stored && !made && !deleted {
            format!("in {where_} an anonymous user can upload files (STOR) but not create folders or delete: an upload-only drop folder, the classic abused setup")
        } else {
            format!(
                "in {where_} an anonymous user created a {} (a uniquely named empty probe)",
                match (made, stored) {
                    (true, true) => "folder (MKD) and a file (STOR)",
                    (true, false) => "folder (MKD)",
                    _ => "file (STOR)",
                }
            )
        };
        rep.row(
            Entity::FtpAnonymousWrite,
            "ftp-anonymous-write",
            Confidence::High,
            &shown(rel),
            what,
            &context,
        );
    }
    for (path, reply) in leftovers {
        rep.row(
            Entity::FtpAnonymousWrite,
            "ftp-write-probe-left-behind",
            Confidence::High,
            &shown(path.trim_start_matches('/')),
            &wire::to_report(&path),
            &format!(
                "the write probe could not be removed ({reply}): delete {} on the server",
                wire::to_report(&path)
            ),
        );
    }
    Ok(made || stored)
}

/// An address of this machine for the bounce listener, other than the
/// control connection's: `via`, or for a server on loopback a second
/// loopback address.
fn bounce_address(c: &Control, via: Option<IpAddr>) -> Option<IpAddr> {
    if via.is_some() {
        return via;
    }
    if !c.peer.ip().is_loopback() || !c.peer.is_ipv4() {
        return None;
    }
    ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        .iter()
        .filter_map(|a| a.parse::<Ipv4Addr>().ok().map(IpAddr::V4))
        .find(|a| *a != c.local.ip() && *a != c.peer.ip())
}

/// PORT (or EPRT) naming a listener on another address of this machine,
/// then LIST: found only when the server really connects there.
pub fn bounce(s: &mut Session, opts: &ExposureOptions, rep: &Reporter) -> Verdict {
    let c = &mut s.control;
    let Some(via) = bounce_address(c, opts.bounce_via) else {
        return Verdict::NotTested(
            "needs --bounce-via ADDR: an address of this machine, other than the one used to reach the server, that the server can connect to".into(),
        );
    };
    let listener = match TcpListener::bind((via, 0)) {
        Ok(l) => l,
        Err(e) => return Verdict::NotTested(format!("cannot listen on {via}: {e}")),
    };
    let port = match listener.local_addr() {
        Ok(a) => a.port(),
        Err(e) => return Verdict::NotTested(format!("cannot listen on {via}: {e}")),
    };
    let _ = listener.set_nonblocking(true);
    let result = (|| -> Result<Verdict, ControlError> {
        let mut command = match via {
            IpAddr::V4(v4) => format!("PORT {}", control::port_arg(v4, port)),
            IpAddr::V6(_) => format!("EPRT {}", control::eprt_arg(via, port)),
        };
        let mut r = c.cmd(&command)?;
        if !r.positive() && via.is_ipv4() {
            command = format!("EPRT {}", control::eprt_arg(via, port));
            r = c.cmd(&command)?;
        }
        if !r.positive() {
            return Ok(Verdict::NotFound(format!(
                "PORT naming {via} (not this client's {}) refused: {}",
                c.local.ip(),
                r.shown()
            )));
        }
        let accepted_reply = r.shown();
        c.send("LIST")?;
        let deadline = Instant::now() + c.timeout;
        let mut connected = None;
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((_stream, peer)) => {
                    connected = Some(peer);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(_) => break,
            }
        }
        // The LIST replies (150 then 226/425/426), whatever they are.
        let _ = c.read_reply().and_then(|r| {
            if matches!(r.code, 125 | 150) {
                c.read_reply()
            } else {
                Ok(r)
            }
        });
        Ok(match connected {
            Some(peer) => {
                rep.row(
                    Entity::FtpBounce,
                    "ftp-bounce",
                    Confidence::High,
                    "",
                    &command,
                    &format!(
                        "the server accepted {command} naming {via}:{port}, not this client's address {}, and connected there from {}: it can be made to scan or send data to third parties (FTP bounce)",
                        c.local.ip(),
                        peer.ip()
                    ),
                );
                Verdict::Found(1)
            }
            None => Verdict::NotFound(format!(
                "the server answered {accepted_reply} to PORT naming {via} but never connected there"
            )),
        })
    })();
    result.unwrap_or_else(|e| {
        rep.not_examined("", format!("bounce check failed: {e}"));
        Verdict::NotTested(format!("the session failed: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(rel: &str, kind: EntryKind) -> Seen {
        let name = rel.rsplit('/').next().unwrap().to_string();
        Seen {
            abs: format!("/{rel}"),
            rel: rel.into(),
            name,
            kind,
            world_writable: false,
            mode: None,
            perm_writable: false,
            depth: rel.split('/').count() as u32,
        }
    }

    #[test]
    fn drop_site_names() {
        let dir = |r| drop_site_name(&seen(r, EntryKind::Dir)).is_some();
        let file = |r| drop_site_name(&seen(r, EntryKind::File)).is_some();
        assert!(dir("incoming/..."));
        assert!(dir("incoming/. ."));
        assert!(dir("incoming/   "));
        assert!(dir("incoming/ hidden"));
        assert!(file("pub/COM1"));
        assert!(file("pub/lpt9.txt"));
        assert!(file("pub/nul"));
        assert!(dir("incoming/~tag"));
        assert!(dir("incoming/a/b/c/d"));
        assert!(!dir("incoming/a/b"));
        assert!(!file("pub/COM10"));
        assert!(!file("pub/COM0"));
        assert!(!file("pub/computer.txt"));
        assert!(!dir("pub/reports"));
        assert!(!dir("home/~user"));
    }

    #[test]
    fn executables_by_magic_not_name() {
        assert_eq!(
            executable_kind(b"MZ\x90\x00"),
            Some("Windows executable (MZ/PE)")
        );
        assert_eq!(executable_kind(b"\x7fELF\x02\x01"), Some("ELF executable"));
        assert_eq!(executable_kind(b"#!/bin/sh\n"), Some("script (#!)"));
        assert_eq!(executable_kind(b"name,dob\n"), None);
        assert_eq!(executable_kind(b""), None);
    }

    #[test]
    fn pwd_and_perm() {
        assert_eq!(
            quoted_path("\"/pub\" is the current directory").as_deref(),
            Some("/pub")
        );
        assert_eq!(
            quoted_path("\"/a \"\"b\"\"\" ok").as_deref(),
            Some("/a \"b\"")
        );
        assert_eq!(quoted_path("no quotes"), None);
        assert!(mlsd_perm_writable("type=dir;perm=flcdmpe; incoming"));
        assert!(!mlsd_perm_writable("type=dir;perm=el; pub"));
        assert!(!mlsd_perm_writable("type=dir; cm"));
        assert_eq!(
            mlsd_mode("perm=el;type=dir;unix.mode=0o777; incoming"),
            Some(0o777)
        );
        assert_eq!(mlsd_mode("type=dir;UNIX.mode=0755; pub"), Some(0o755));
        assert_eq!(mlsd_mode("type=dir; pub"), None);
    }
}
