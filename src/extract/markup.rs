//! RTF and HTML: markup removed, text streamed to the matcher (bounded
//! memory whatever the size).
//!
//! - HTML: tags removed, entities decoded, `<style>` dropped; script text,
//!   comments and the `value`/`alt`/`title`/`content`/`placeholder`
//!   attributes are kept as text (PHI sits there too). Every newline of the
//!   source is kept and none added, so `line` is the line in the HTML file.
//! - RTF: control words and groups removed, `\'hh` and `\uN` decoded,
//!   font/colour/style tables, pictures, objects and field instructions
//!   dropped. `\par`, `\line`, `\row`, `\page` end a line, so `line` is the
//!   line in the extracted text (the source's own newlines mean nothing
//!   in RTF).

use super::{text, Ctx};
use crate::error::ExtractError;
use std::io::{self, BufRead, BufReader, Cursor, Read};

/// Output produced per refill of a converter.
const OUT_BATCH: usize = 16 << 10;
/// Deepest RTF group nesting tracked; deeper groups share the last state.
const MAX_GROUP_DEPTH: usize = 1024;
/// Longest tag (with attributes) kept for attribute extraction.
const MAX_TAG: usize = 16 << 10;

/// The bytes after a UTF-8 byte-order mark and leading whitespace.
pub fn skip_bom_and_space(head: &[u8]) -> &[u8] {
    let head = head.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    &head[start..]
}

/// HTML by content (`<!DOCTYPE html`, `<html`, XHTML after an XML
/// declaration); by name only when the content starts with a tag.
pub fn looks_like_html(start: &[u8], name: &str) -> bool {
    let lead: Vec<u8> = start
        .iter()
        .take(1024)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    if lead.starts_with(b"<!doctype html") || lead.starts_with(b"<html") {
        return true;
    }
    if lead.starts_with(b"<?xml") && memchr::memmem::find(&lead, b"<html").is_some() {
        return true;
    }
    let lower = name.to_ascii_lowercase();
    let html_name = [".html", ".htm", ".xhtml"]
        .iter()
        .any(|s| lower.ends_with(s));
    html_name && lead.starts_with(b"<") && !lead.starts_with(b"<?xml")
}

/// Streams `head` + `rest` through `convert` into the text matcher.
fn scan_converted<C: Convert>(
    ctx: &mut Ctx,
    head: &[u8],
    rest: &mut dyn Read,
    convert: C,
) -> Result<(), ExtractError> {
    let source: Source = BufReader::new(Box::new(Cursor::new(head).chain(rest)));
    let mut reader = Converted {
        source,
        convert,
        out: Vec::new(),
        pos: 0,
        done: false,
    };
    text::scan_stream(ctx, "", &[], &mut reader)
}

pub fn scan_html(ctx: &mut Ctx, head: &[u8], rest: &mut dyn Read) -> Result<(), ExtractError> {
    let utf8 = crate::decode::sniff(&head[..head.len().min(crate::decode::SNIFF_LEN)])
        != Some(crate::decode::TextEncoding::Windows1252);
    scan_converted(ctx, head, rest, Html::new(utf8))
}

pub fn scan_rtf(ctx: &mut Ctx, head: &[u8], rest: &mut dyn Read) -> Result<(), ExtractError> {
    scan_converted(ctx, head, rest, Rtf::new())
}

/// A markup-to-text converter: consumes some input, appends UTF-8 text.
trait Convert {
    /// Returns false at end of input.
    fn step(&mut self, src: &mut Source, out: &mut Vec<u8>) -> io::Result<bool>;
}

type Source<'a> = BufReader<Box<dyn Read + 'a>>;

fn next_byte(src: &mut Source) -> io::Result<Option<u8>> {
    let b = peek_byte(src)?;
    if b.is_some() {
        src.consume(1);
    }
    Ok(b)
}

fn peek_byte(src: &mut Source) -> io::Result<Option<u8>> {
    loop {
        match src.fill_buf() {
            Ok(buf) => return Ok(buf.first().copied()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

struct Converted<'a, C> {
    source: Source<'a>,
    convert: C,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<C: Convert> Read for Converted<'_, C> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.out.clear();
            self.pos = 0;
            while self.out.len() < OUT_BATCH {
                if !self.convert.step(&mut self.source, &mut self.out)? {
                    self.done = true;
                    break;
                }
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut tmp = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
}

/// A byte of Windows-1252 as a character.
fn cp1252(b: u8) -> char {
    if b < 0x80 {
        return char::from(b);
    }
    let bytes = [b];
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&bytes);
    text.chars().next().unwrap_or('\u{FFFD}')
}

// ---------------------------------------------------------------- HTML

#[derive(Clone, Copy, PartialEq, Eq)]
enum HtmlState {
    Text,
    /// Inside `<style>`: dropped up to `</style`.
    Style,
    /// Inside `<script>`: kept as text up to `</script`.
    Script,
}

struct Html {
    utf8: bool,
    state: HtmlState,
}

impl Html {
    fn new(utf8: bool) -> Self {
        Html {
            utf8,
            state: HtmlState::Text,
        }
    }

    fn raw_byte(&self, b: u8, out: &mut Vec<u8>) {
        if self.utf8 || b < 0x80 {
            out.push(b);
        } else {
            push_char(out, cp1252(b));
        }
    }
}

/// Inline elements run into the text around them; every other tag
/// separates words.
fn is_inline(name: &[u8]) -> bool {
    matches!(
        name,
        b"a" | b"b"
            | b"i"
            | b"u"
            | b"s"
            | b"em"
            | b"strong"
            | b"span"
            | b"font"
            | b"sub"
            | b"sup"
            | b"small"
            | b"big"
            | b"abbr"
            | b"code"
            | b"mark"
            | b"q"
            | b"tt"
            | b"wbr"
            | b"nobr"
    )
}

impl Convert for Html {
    fn step(&mut self, src: &mut Source, out: &mut Vec<u8>) -> io::Result<bool> {
        // Fast path: plain UTF-8 text up to the next markup byte is copied
        // as a run.
        if self.utf8 && self.state == HtmlState::Text {
            let run = {
                let buf = src.fill_buf()?;
                let end = memchr::memchr3(b'<', b'&', b'\n', buf).unwrap_or(buf.len());
                out.extend_from_slice(&buf[..end]);
                end
            };
            if run > 0 {
                src.consume(run);
                return Ok(true);
            }
        }
        let Some(b) = next_byte(src)? else {
            return Ok(false);
        };
        match (self.state, b) {
            (_, b'<') => {
                let next = peek_byte(src)?;
                match next {
                    Some(n) if n.is_ascii_alphabetic() || n == b'/' || n == b'!' || n == b'?' => {
                        self.tag(src, out)?
                    }
                    _ if self.state == HtmlState::Style => {}
                    _ => out.push(b'<'),
                }
            }
            (_, b'\n') => out.push(b'\n'),
            (HtmlState::Style, _) => {}
            (HtmlState::Script, _) => self.raw_byte(b, out),
            (HtmlState::Text, b'&') => decode_entity(src, out)?,
            (HtmlState::Text, _) => self.raw_byte(b, out),
        }
        Ok(true)
    }
}

impl Html {
    /// After `<`: reads the tag (or comment, or declaration) to its end,
    /// keeping its newlines and the text of telling attributes.
    fn tag(&mut self, src: &mut Source, out: &mut Vec<u8>) -> io::Result<()> {
        let mut raw = Vec::new();
        // Comments: `<!--` … `-->`, text kept (it is in the file).
        if peek_byte(src)? == Some(b'!') {
            src.consume(1);
            let mut lead = Vec::new();
            while lead.len() < 2 && peek_byte(src)? == Some(b'-') {
                src.consume(1);
                lead.push(b'-');
            }
            if lead.len() == 2 {
                out.push(b' ');
                let mut dashes = 0;
                while let Some(c) = next_byte(src)? {
                    if c == b'>' && dashes >= 2 {
                        // Drop the `--` written before the `>`.
                        out.truncate(out.len().saturating_sub(2));
                        break;
                    }
                    dashes = if c == b'-' { dashes + 1 } else { 0 };
                    if self.state != HtmlState::Style {
                        self.raw_byte(c, out);
                    } else if c == b'\n' {
                        out.push(b'\n');
                    }
                }
                out.push(b' ');
                return Ok(());
            }
        }
        let mut quote: Option<u8> = None;
        while let Some(c) = next_byte(src)? {
            match (quote, c) {
                (None, b'>') => break,
                (None, b'"' | b'\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                _ => {}
            }
            if c == b'\n' {
                out.push(b'\n');
            }
            if raw.len() < MAX_TAG {
                raw.push(c);
            }
        }
        let closing = raw.first() == Some(&b'/');
        let name: Vec<u8> = raw
            .iter()
            .skip(usize::from(closing))
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match (self.state, closing, name.as_slice()) {
            (HtmlState::Style, true, b"style") | (HtmlState::Script, true, b"script") => {
                self.state = HtmlState::Text;
                out.push(b' ');
                return Ok(());
            }
            // Inside style or script only their own end tag counts.
            (HtmlState::Style, _, _) => return Ok(()),
            (HtmlState::Script, _, _) => {
                out.push(b'<');
                out.extend(raw.iter().filter(|&&c| c != b'\n'));
                out.push(b'>');
                return Ok(());
            }
            (HtmlState::Text, false, b"style") => self.state = HtmlState::Style,
            (HtmlState::Text, false, b"script") => self.state = HtmlState::Script,
            _ => {}
        }
        if !is_inline(&name) {
            out.push(b' ');
        }
        if !closing {
            self.attribute_text(&raw, out);
        }
        Ok(())
    }

    /// Appends the values of attributes that hold text a person reads or
    /// typed (`value`, `alt`, `title`, `content`, `placeholder`).
    fn attribute_text(&self, raw: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < raw.len() {
            let Some(eq) = raw[i..].iter().position(|&c| c == b'=').map(|p| p + i) else {
                break;
            };
            let name_end = raw[..eq]
                .iter()
                .rposition(|c| !c.is_ascii_whitespace())
                .map_or(0, |p| p + 1);
            let name_start = raw[..name_end]
                .iter()
                .rposition(|c| c.is_ascii_whitespace() || *c == b'"' || *c == b'\'')
                .map_or(0, |p| p + 1);
            let name = raw[name_start..name_end].to_ascii_lowercase();
            let mut v = eq + 1;
            while raw.get(v).is_some_and(|c| c.is_ascii_whitespace()) {
                v += 1;
            }
            let (value_start, value_end, next) = match raw.get(v) {
                Some(&q @ (b'"' | b'\'')) => {
                    let end = raw[v + 1..]
                        .iter()
                        .position(|&c| c == q)
                        .map_or(raw.len(), |p| p + v + 1);
                    (v + 1, end, end + 1)
                }
                _ => {
                    let end = raw[v..]
                        .iter()
                        .position(|c| c.is_ascii_whitespace() || *c == b'/')
                        .map_or(raw.len(), |p| p + v);
                    (v, end, end)
                }
            };
            if matches!(
                name.as_slice(),
                b"value" | b"alt" | b"title" | b"content" | b"placeholder"
            ) {
                let value = raw.get(value_start..value_end).unwrap_or_default();
                let mut value_src: Source = BufReader::new(Box::new(Cursor::new(value)));
                let mut decoded = Vec::new();
                // Entities inside attribute values decode like text.
                while let Ok(Some(c)) = next_byte(&mut value_src) {
                    match c {
                        b'&' => {
                            let _ = decode_entity(&mut value_src, &mut decoded);
                        }
                        b'\n' => decoded.push(b' '),
                        c => self.raw_byte(c, &mut decoded),
                    }
                }
                out.extend_from_slice(&decoded);
                out.push(b' ');
            }
            i = next.max(eq + 1);
        }
    }
}

/// After `&`: decodes `&name;`, `&#N;`, `&#xH;`; anything else is kept as
/// written.
fn decode_entity(src: &mut Source, out: &mut Vec<u8>) -> io::Result<()> {
    let mut name = Vec::new();
    while name.len() < 32 {
        match peek_byte(src)? {
            Some(c) if c.is_ascii_alphanumeric() || c == b'#' => {
                src.consume(1);
                name.push(c);
            }
            _ => break,
        }
    }
    let terminated = peek_byte(src)? == Some(b';');
    if terminated {
        src.consume(1);
    }
    let decoded = if let Some(num) = name.strip_prefix(b"#") {
        let text = String::from_utf8_lossy(num);
        let code = match text.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => text.parse::<u32>().ok(),
        };
        code.and_then(char::from_u32)
    } else {
        named_entity(&name)
    };
    match decoded {
        Some(c) => push_char(out, if c == '\u{a0}' { ' ' } else { c }),
        None => {
            out.push(b'&');
            out.extend_from_slice(&name);
            if terminated {
                out.push(b';');
            }
        }
    }
    Ok(())
}

fn named_entity(name: &[u8]) -> Option<char> {
    Some(match name {
        b"amp" | b"AMP" => '&',
        b"lt" | b"LT" => '<',
        b"gt" | b"GT" => '>',
        b"quot" | b"QUOT" => '"',
        b"apos" => '\'',
        b"nbsp" => '\u{a0}',
        b"ndash" => '–',
        b"mdash" => '—',
        b"hyphen" | b"dash" => '-',
        b"minus" => '−',
        b"lsquo" => '‘',
        b"rsquo" => '’',
        b"ldquo" => '“',
        b"rdquo" => '”',
        b"commat" => '@',
        b"period" => '.',
        b"colon" => ':',
        b"num" => '#',
        b"sol" => '/',
        b"lpar" => '(',
        b"rpar" => ')',
        b"copy" => '©',
        b"reg" => '®',
        b"eacute" => 'é',
        b"egrave" => 'è',
        b"aacute" => 'á',
        b"iacute" => 'í',
        b"oacute" => 'ó',
        b"uacute" => 'ú',
        b"ntilde" => 'ñ',
        b"Ntilde" => 'Ñ',
        b"ouml" => 'ö',
        b"uuml" => 'ü',
        b"auml" => 'ä',
        b"szlig" => 'ß',
        b"ccedil" => 'ç',
        _ => return None,
    })
}

// ----------------------------------------------------------------- RTF

#[derive(Clone, Copy)]
struct Group {
    /// Inside a destination whose text is not document text.
    skip: bool,
    /// Fallback characters after `\uN` (`\ucN`).
    uc: u32,
}

struct Rtf {
    groups: Vec<Group>,
    current: Group,
    /// Fallback characters still to drop after a `\uN`.
    pending_skip: u32,
}

impl Rtf {
    fn new() -> Self {
        Rtf {
            groups: Vec::new(),
            current: Group { skip: false, uc: 1 },
            pending_skip: 0,
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, c: char) {
        if self.pending_skip > 0 {
            self.pending_skip -= 1;
            return;
        }
        if !self.current.skip {
            push_char(out, c);
        }
    }

    fn control_word(
        &mut self,
        src: &mut Source,
        word: &[u8],
        param: Option<i64>,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        match word {
            b"par" | b"line" | b"sect" | b"page" | b"row" => {
                self.pending_skip = 0;
                if !self.current.skip {
                    out.push(b'\n');
                }
            }
            b"tab" | b"cell" => self.emit(out, '\t'),
            b"emdash" | b"endash" => self.emit(out, '-'),
            b"lquote" | b"rquote" => self.emit(out, '\''),
            b"ldblquote" | b"rdblquote" => self.emit(out, '"'),
            b"bullet" => self.emit(out, '•'),
            b"uc" => self.current.uc = param.unwrap_or(1).clamp(0, 8) as u32,
            b"u" => {
                if let Some(p) = param {
                    let code = if p < 0 { p + 65536 } else { p };
                    let c = u32::try_from(code)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or('\u{FFFD}');
                    if !self.current.skip {
                        push_char(out, c);
                    }
                    self.pending_skip = self.current.uc;
                }
            }
            // Binary data of the given length follows: never text.
            b"bin" => {
                let mut left = param.unwrap_or(0).max(0) as u64;
                while left > 0 {
                    let n = {
                        let buf = src.fill_buf()?;
                        if buf.is_empty() {
                            break;
                        }
                        buf.len().min(usize::try_from(left).unwrap_or(usize::MAX))
                    };
                    src.consume(n);
                    left -= n as u64;
                }
            }
            b"fonttbl"
            | b"colortbl"
            | b"stylesheet"
            | b"pict"
            | b"object"
            | b"objdata"
            | b"themedata"
            | b"colorschememapping"
            | b"datastore"
            | b"latentstyles"
            | b"listtable"
            | b"listoverridetable"
            | b"rsidtbl"
            | b"generator"
            | b"xmlnstbl"
            | b"fldinst"
            | b"filetbl"
            | b"revtbl"
            | b"operator"
            | b"mmathPr"
            | b"pgdsctbl"
            | b"protusertbl"
            | b"wgrffmtfilter" => self.current.skip = true,
            _ => {}
        }
        Ok(())
    }
}

impl Convert for Rtf {
    fn step(&mut self, src: &mut Source, out: &mut Vec<u8>) -> io::Result<bool> {
        // Fast path: a run of plain ASCII text is copied (or dropped inside
        // a skipped destination) in one go.
        if self.pending_skip == 0 {
            let run = {
                let buf = src.fill_buf()?;
                let end = buf
                    .iter()
                    .position(|&b| matches!(b, b'\\' | b'{' | b'}' | b'\r' | b'\n') || b >= 0x80)
                    .unwrap_or(buf.len());
                if !self.current.skip {
                    out.extend_from_slice(&buf[..end]);
                }
                end
            };
            if run > 0 {
                src.consume(run);
                return Ok(true);
            }
        }
        let Some(b) = next_byte(src)? else {
            return Ok(false);
        };
        match b {
            b'{' => {
                if self.groups.len() < MAX_GROUP_DEPTH {
                    self.groups.push(self.current);
                }
            }
            b'}' => {
                if let Some(g) = self.groups.pop() {
                    self.current = g;
                }
                self.pending_skip = 0;
            }
            b'\r' | b'\n' => {}
            b'\\' => match next_byte(src)? {
                None => return Ok(false),
                Some(c) if c.is_ascii_alphabetic() => {
                    let mut word = vec![c];
                    while word.len() < 32 {
                        match peek_byte(src)? {
                            Some(c) if c.is_ascii_alphabetic() => {
                                src.consume(1);
                                word.push(c);
                            }
                            _ => break,
                        }
                    }
                    let mut digits = Vec::new();
                    if peek_byte(src)? == Some(b'-') {
                        src.consume(1);
                        digits.push(b'-');
                    }
                    while digits.len() < 11 {
                        match peek_byte(src)? {
                            Some(c) if c.is_ascii_digit() => {
                                src.consume(1);
                                digits.push(c);
                            }
                            _ => break,
                        }
                    }
                    // One space ends a control word and is part of it.
                    if peek_byte(src)? == Some(b' ') {
                        src.consume(1);
                    }
                    let param = std::str::from_utf8(&digits)
                        .ok()
                        .and_then(|d| d.parse::<i64>().ok());
                    self.control_word(src, &word, param, out)?;
                }
                Some(b'\'') => {
                    let hi = next_byte(src)?;
                    let lo = next_byte(src)?;
                    let value = match (hi, lo) {
                        (Some(h), Some(l)) => {
                            let hex = [h, l];
                            std::str::from_utf8(&hex)
                                .ok()
                                .and_then(|h| u8::from_str_radix(h, 16).ok())
                        }
                        _ => None,
                    };
                    if let Some(v) = value {
                        self.emit(out, cp1252(v));
                    }
                }
                Some(b'*') => self.current.skip = true,
                Some(b'~') => self.emit(out, ' '),
                Some(b'_') => self.emit(out, '-'),
                Some(b'\r' | b'\n') => {
                    if !self.current.skip {
                        out.push(b'\n');
                    }
                }
                Some(c @ (b'\\' | b'{' | b'}')) => self.emit(out, char::from(c)),
                Some(_) => {}
            },
            _ => {
                let c = cp1252(b);
                self.emit(out, c);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::config::ExtractLimits;
    use crate::entity::Entity;
    use crate::report::Event;

    fn lines(events: &[Event]) -> Vec<(u64, u64)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Finding(f) => Some((f.line.unwrap_or(0), f.column.unwrap_or(0))),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn html_markup_removed_entities_decoded_lines_kept() {
        let html = b"<!DOCTYPE html>\n<html><head><style>\n.ssn { content: '219-45-6781' }\n</style></head>\n<body><p>SSN:&nbsp;<b>219</b>-45-6780</p>\n<p\n class=x>DOB&#58; 03&#x2F;14/1962</p>\n<input value=\"NPI 1234567893\"><!-- old SSN 219-45-6782 -->\n<script>var s = '219-45-6783';</script></body></html>";
        let events = scan("c.html", html);
        assert_eq!(
            findings(&events),
            vec![
                finding("c.html", Entity::Ssn, "", "219-45-6780"),
                finding("c.html", Entity::Dob, "", "03/14/1962"),
                finding("c.html", Entity::Npi, "", "1234567893"),
                finding("c.html", Entity::Ssn, "", "219-45-6782"),
                finding("c.html", Entity::Ssn, "", "219-45-6783"),
            ]
        );
        // Lines are the HTML file's own lines.
        let got: Vec<u64> = lines(&events).into_iter().map(|(l, _)| l).collect();
        assert_eq!(got, vec![5, 7, 8, 8, 9]);
    }

    #[test]
    fn html_is_recognised_by_content_and_fragments_by_name() {
        assert!(super::looks_like_html(b"<!doctype HTML><p>", "x.dat"));
        assert!(super::looks_like_html(
            b"<?xml version='1.0'?><html xmlns=''>",
            "x"
        ));
        assert!(super::looks_like_html(b"<table><tr>", "report.htm"));
        assert!(!super::looks_like_html(b"<table><tr>", "report.txt"));
        assert!(!super::looks_like_html(
            b"<?xml version='1.0'?><ClinicalDocument>",
            "a.html"
        ));
    }

    #[test]
    fn rtf_control_words_groups_and_escapes() {
        let rtf = br"{\rtf1\ansi{\fonttbl{\f0 Arial 219-45-6781;}}{\*\generator x 219-45-6782;}{\info{\author Dr}}\pard Letter\par DOB: 03/14/\'31962\par SSN:\~219\u45?45-6780\par{\pict 0123456789abcdef}\par NPI \{1234567893\}}";
        let events = scan("l.rtf", rtf);
        assert_eq!(
            findings(&events),
            vec![
                finding("l.rtf", Entity::Dob, "", "03/14/1962"),
                finding("l.rtf", Entity::Ssn, "", "219-45-6780"),
                finding("l.rtf", Entity::Npi, "", "1234567893"),
            ]
        );
        let got: Vec<u64> = lines(&events).into_iter().map(|(l, _)| l).collect();
        assert_eq!(got, vec![2, 3, 5]);
    }

    #[test]
    fn rtf_binary_data_is_skipped() {
        let mut rtf = br"{\rtf1 {\bin12 ".to_vec();
        rtf.extend_from_slice(b"219-45-6780}");
        rtf.extend_from_slice(br" SSN 219-45-6781}");
        let events = scan("b.rtf", &rtf);
        assert_eq!(
            findings(&events),
            vec![finding("b.rtf", Entity::Ssn, "", "219-45-6781")]
        );
    }

    #[test]
    fn hostile_markup_never_panics() {
        let engine = engine(ExtractLimits::default());
        let cases: Vec<Vec<u8>> = vec![
            b"{\\rtf".to_vec(),
            b"{\\rtf1 \\u-99999999999999999999 \\'zz \\bin-5 \\uc99999 \\'".to_vec(),
            [b"{\\rtf1".as_slice(), &vec![b'{'; 100_000]].concat(),
            b"<html><!-- never closed".to_vec(),
            b"<html>&#xFFFFFFFFFF; &#99999999; &; &#; <a href='".to_vec(),
            [b"<html><p title=\"".as_slice(), &vec![b'a'; 100_000]].concat(),
            b"<html><script>".to_vec(),
            b"<html>\xff\xfe\x80 <".to_vec(),
        ];
        for case in cases {
            let name = if case.starts_with(b"{") {
                "x.rtf"
            } else {
                "x.html"
            };
            let _ = scan_using(&engine, name, &case);
        }
    }
}
