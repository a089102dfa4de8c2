//! Directory listings: MLSD facts, and LIST output in Unix (`ls -l`) or DOS
//! (IIS) style. Lines that parse as none of these are counted, never turned
//! into paths.

use super::{session, wire};
use suppaftp::list::ListParser;

/// What a listed name is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// A symbolic link (its target, when the listing says).
    Link,
}

/// One listed name. `name` is in wire form: one `char` per byte, as the
/// server sent it, so it can be sent back unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub kind: EntryKind,
    pub size: Option<u64>,
    /// The listing shows write permission for others (`o+w`).
    pub world_writable: bool,
    /// Permission bits as listed (`drwxrwxrwx` or `unix.mode=0777`), for reports.
    pub mode: Option<String>,
}

/// The outcome of parsing one line.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Entry(Entry),
    /// `.`, `..`, `cdir`/`pdir`, `total N`: nothing to do.
    Skip,
    /// Not a listing line we understand.
    Unparsed,
}

/// Parses one MLSD line (RFC 3659: `fact=value;fact=value; name`).
pub fn parse_mlsd(line: &str) -> Line {
    let Some((facts, name)) = line.split_once(' ') else {
        return Line::Unparsed;
    };
    let mut kind = None;
    let mut size = None;
    let mut mode = None;
    for fact in facts.split(';').filter(|f| !f.is_empty()) {
        let Some((key, value)) = fact.split_once('=') else {
            return Line::Unparsed;
        };
        match key.to_ascii_lowercase().as_str() {
            "type" => {
                let v = value.to_ascii_lowercase();
                kind = Some(match v.as_str() {
                    "file" => Some(EntryKind::File),
                    "dir" => Some(EntryKind::Dir),
                    "cdir" | "pdir" => None,
                    // OS.unix=slink:target, OS.unix=symlink, link
                    _ if v.contains("link") => Some(EntryKind::Link),
                    // Devices and other specials are not files to read.
                    _ => None,
                });
            }
            "size" | "sizd" => size = value.parse::<u64>().ok(),
            "unix.mode" => mode = u32::from_str_radix(value, 8).ok(),
            _ => {}
        }
    }
    let Some(kind) = kind else {
        // No type fact: not a line we can act on safely; cdir/pdir/specials: skip.
        return if facts.to_ascii_lowercase().contains("type=") {
            Line::Skip
        } else {
            Line::Unparsed
        };
    };
    let Some(kind) = kind else {
        return Line::Skip;
    };
    entry(
        name,
        kind,
        size,
        mode.map(|m| m & 0o002 != 0),
        mode.map(|m| format!("{m:04o}")),
    )
}

/// Parses one LIST line: Unix `ls -l` style, then DOS style.
pub fn parse_list(line: &str) -> Line {
    let trimmed = line.trim_end();
    if trimmed.is_empty() || is_total_line(trimmed) {
        return Line::Skip;
    }
    // `drwxr-xr-x+` (ACL) or `drwxr-xr-x.` (SELinux): the marker after the
    // ten mode characters is not understood by the parser; drop it.
    let normalized;
    let posix_line = match trimmed.as_bytes().get(10) {
        Some(b'+' | b'.' | b'@')
            if trimmed.is_char_boundary(10) && trimmed.is_char_boundary(11) =>
        {
            normalized = format!("{}{}", &trimmed[..10], &trimmed[11..]);
            normalized.as_str()
        }
        _ => trimmed,
    };
    if let Ok(f) = ListParser::parse_posix(posix_line) {
        let kind = if f.is_directory() {
            EntryKind::Dir
        } else if f.is_symlink() {
            EntryKind::Link
        } else {
            EntryKind::File
        };
        let mode = posix_line.get(..10).map(str::to_string);
        let world_writable = posix_line.as_bytes().get(8) == Some(&b'w');
        return entry(
            f.name(),
            kind,
            Some(f.size() as u64),
            Some(world_writable),
            mode,
        );
    }
    if let Ok(f) = ListParser::parse_dos(trimmed) {
        let kind = if f.is_directory() {
            EntryKind::Dir
        } else {
            EntryKind::File
        };
        let size = (kind == EntryKind::File).then_some(f.size() as u64);
        return entry(f.name(), kind, size, None, None);
    }
    Line::Unparsed
}

fn is_total_line(line: &str) -> bool {
    let mut words = line.split_whitespace();
    matches!(words.next(), Some(w) if w.eq_ignore_ascii_case("total"))
        && words
            .next()
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
        && words.next().is_none()
}

fn entry(
    name: &str,
    kind: EntryKind,
    size: Option<u64>,
    world_writable: Option<bool>,
    mode: Option<String>,
) -> Line {
    if name == "." || name == ".." {
        return Line::Skip;
    }
    // A name with a separator, a line break or NUL would address something
    // other than what was listed (or inject a command): refuse it. `\` is
    // an ordinary character on Unix servers but a separator on Windows
    // ones, so only a `..` step between backslashes is refused.
    if name.is_empty()
        || name.contains(['/', '\r', '\n', '\0'])
        || name.split('\\').any(|step| step == "..")
    {
        return Line::Unparsed;
    }
    Line::Entry(Entry {
        name: name.to_string(),
        kind,
        size,
        world_writable: world_writable.unwrap_or(false),
        mode,
    })
}

/// A listing parsed line by line as it arrives.
#[derive(Default)]
pub(crate) struct Parsed {
    entries: Vec<Entry>,
    unparsed: u64,
    /// The first line not understood, for the report.
    example: Option<String>,
}

impl Parsed {
    pub(crate) fn add(&mut self, line: &[u8], mlsd: bool) {
        let line = wire::from_bytes(line);
        let parsed = if mlsd {
            parse_mlsd(&line)
        } else {
            parse_list(&line)
        };
        match parsed {
            Line::Skip => {}
            Line::Unparsed => {
                self.unparsed += 1;
                if self.example.is_none() {
                    self.example = Some(session::printable(&wire::to_display(&line), 120));
                }
            }
            Line::Entry(e) => self.entries.push(e),
        }
    }

    /// The entries in name order, each name once (the first listed), and
    /// how many repeats were dropped.
    pub(crate) fn finish(self) -> (Vec<Entry>, u64, Option<String>, u64) {
        let mut entries = self.entries;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let listed = entries.len();
        entries.dedup_by(|later, first| later.name == first.name);
        let repeated = (listed - entries.len()) as u64;
        (entries, self.unparsed, self.example, repeated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(line: Line) -> Entry {
        match line {
            Line::Entry(e) => e,
            other => panic!("not an entry: {other:?}"),
        }
    }

    #[test]
    fn mlsd_lines() {
        let f = e(parse_mlsd(
            "type=file;size=1234;modify=20240101000000;unix.mode=0644; notes 1;x.txt",
        ));
        assert_eq!(
            (f.name.as_str(), f.kind, f.size),
            ("notes 1;x.txt", EntryKind::File, Some(1234))
        );
        assert!(!f.world_writable);
        let d = e(parse_mlsd(
            "Type=dir;Modify=20240101000000;UNIX.mode=0777; incoming",
        ));
        assert_eq!(d.kind, EntryKind::Dir);
        assert!(d.world_writable);
        assert_eq!(
            parse_mlsd("type=cdir;modify=20240101000000; /pub"),
            Line::Skip
        );
        assert_eq!(parse_mlsd("type=pdir; .."), Line::Skip);
        assert_eq!(parse_mlsd("type=OS.unix=chr-1/3; null"), Line::Skip);
        assert_eq!(
            e(parse_mlsd("type=OS.unix=slink:/etc; etc")).kind,
            EntryKind::Link
        );
        assert_eq!(parse_mlsd("garbage without facts"), Line::Unparsed);
        assert_eq!(parse_mlsd("nospace"), Line::Unparsed);
        assert_eq!(parse_mlsd("type=file; a/../../b"), Line::Unparsed);
        assert_eq!(parse_mlsd("type=file; ..\\win.ini"), Line::Unparsed);
        assert_eq!(parse_mlsd("type=file; a\0b"), Line::Unparsed);
        assert_eq!(
            e(parse_mlsd("type=file; back\\slash.txt")).name,
            "back\\slash.txt"
        );
    }

    #[test]
    fn unix_list_lines() {
        let f = e(parse_list(
            "-rw-r--r--    1 ftp      ftp          2048 Mar 01  2024 patients export.csv",
        ));
        assert_eq!(
            (f.name.as_str(), f.kind, f.size),
            ("patients export.csv", EntryKind::File, Some(2048))
        );
        let d = e(parse_list(
            "drwxrwxrwx    2 0        0            4096 Jan 02 10:00 incoming",
        ));
        assert!(d.world_writable && d.kind == EntryKind::Dir);
        assert_eq!(d.mode.as_deref(), Some("drwxrwxrwx"));
        let d = e(parse_list(
            "drwxr-xr-x+   2 0        0            4096 Jan 02 10:00 acl",
        ));
        assert!(!d.world_writable && d.name == "acl");
        let l = e(parse_list(
            "lrwxrwxrwx    1 0        0               4 Jan 02 10:00 up -> ..",
        ));
        assert_eq!((l.name.as_str(), l.kind), ("up", EntryKind::Link));
        assert_eq!(parse_list("total 12"), Line::Skip);
        assert_eq!(
            parse_list("drwxr-xr-x    2 0  0  4096 Jan 02 10:00 .."),
            Line::Skip
        );
    }

    #[test]
    fn dos_list_lines() {
        let f = e(parse_list(
            "03-14-24  09:15AM                 1,024 Claims 2024.txt",
        ));
        assert_eq!(
            (f.name.as_str(), f.kind, f.size),
            ("Claims 2024.txt", EntryKind::File, Some(1024))
        );
        let d = e(parse_list("03-14-24  09:15PM       <DIR>          Archive"));
        assert_eq!((d.name.as_str(), d.kind), ("Archive", EntryKind::Dir));
    }

    #[test]
    fn garbage_is_counted_not_a_path() {
        for line in [
            "hello world",
            "<html><body>502 Bad Gateway</body></html>",
            "-rw-r--r-- 1 a b notanumber Jan 01 2024 x",
            "\u{fffd}\u{fffd}\u{fffd}",
            "drwxr-xr-x 2 0 0 4096 Jan 02 10:00 a/b",
            "-rw-r--r-- 1 a b 10 Jan 01 2024 ..\\..\\boot.ini",
            "-rw-r--r-- 1 a b 10 Jan 01 2024 x\\..",
        ] {
            assert_eq!(parse_list(line), Line::Unparsed, "{line}");
        }
    }
}
