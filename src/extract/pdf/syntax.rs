//! PDF syntax: objects and the tokenizer shared by the file's objects and
//! content streams.

use super::MAX_NESTING;

/// Bytes kept of one string (escapes decoded); the rest is read and dropped.
pub(super) const MAX_STRING: usize = 16 << 20;
/// Items kept per array or dictionary; more are read and dropped, so a
/// hostile million-item array costs time, not memory.
pub(super) const MAX_ITEMS: usize = 1 << 18;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Obj {
    Null,
    Bool(bool),
    Num(f64),
    Str(Vec<u8>),
    Name(Vec<u8>),
    Array(Vec<Obj>),
    Dict(Vec<(Vec<u8>, Obj)>),
    Ref(u32),
    /// A bare keyword: an operator in a content stream.
    Op(Vec<u8>),
}

impl Obj {
    pub(super) fn get(&self, key: &[u8]) -> Option<&Obj> {
        match self {
            Obj::Dict(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(super) fn name_is(&self, key: &[u8], value: &[u8]) -> bool {
        matches!(self.get(key), Some(Obj::Name(n)) if n == value)
    }

    pub(super) fn as_num(&self) -> Option<f64> {
        match self {
            Obj::Num(n) => Some(*n),
            _ => None,
        }
    }
}

/// A tokenizer and parser over PDF syntax (objects and content streams).
pub(super) struct Lexer<'d> {
    data: &'d [u8],
    pub(super) pos: usize,
    /// `data` is a window on a longer stream: running into its end sets
    /// `starved` instead of meaning the end of input.
    partial: bool,
    pub(super) starved: bool,
}

pub(super) fn is_white(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

pub(super) fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

impl<'d> Lexer<'d> {
    pub(super) fn new(data: &'d [u8], pos: usize) -> Self {
        Lexer {
            data,
            pos,
            partial: false,
            starved: false,
        }
    }

    /// A lexer on a window of a stream that goes on past `data`.
    pub(super) fn partial(data: &'d [u8]) -> Self {
        Lexer {
            partial: true,
            ..Lexer::new(data, 0)
        }
    }

    fn peek(&mut self) -> Option<u8> {
        let b = self.data.get(self.pos).copied();
        if b.is_none() && self.partial {
            self.starved = true;
        }
        b
    }

    pub(super) fn skip_space(&mut self) {
        while let Some(b) = self.peek() {
            if is_white(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\n' || c == b'\r' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn regular_run(&mut self) -> &'d [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_white(b) || is_delim(b) {
                break;
            }
            self.pos += 1;
        }
        &self.data[start..self.pos]
    }

    /// The next object; `None` at end of data. `N G R` becomes a reference.
    pub(super) fn object(&mut self, depth: u32) -> Option<Obj> {
        self.skip_space();
        let b = self.peek()?;
        // Too deep: the opener is dropped and what follows reads flat, so
        // hostile nesting costs no stack.
        if depth >= MAX_NESTING && (b == b'[' || b == b'<') {
            self.pos += 1;
            return Some(Obj::Null);
        }
        match b {
            b'/' => {
                self.pos += 1;
                Some(Obj::Name(decode_name(self.regular_run())))
            }
            b'(' => {
                self.pos += 1;
                Some(Obj::Str(self.literal_string()))
            }
            b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                self.pos += 2;
                let mut entries = Vec::new();
                loop {
                    self.skip_space();
                    match self.peek() {
                        None => break,
                        Some(b'>') => {
                            self.pos += 1;
                            if self.peek() == Some(b'>') {
                                self.pos += 1;
                            }
                            break;
                        }
                        _ => {}
                    }
                    let key = match self.object(depth + 1) {
                        Some(Obj::Name(n)) => n,
                        Some(_) => continue,
                        None => break,
                    };
                    if depth >= MAX_NESTING {
                        continue;
                    }
                    let value = self.value(depth + 1).unwrap_or(Obj::Null);
                    if entries.len() < MAX_ITEMS {
                        entries.push((key, value));
                    }
                }
                Some(Obj::Dict(entries))
            }
            b'<' => {
                self.pos += 1;
                Some(Obj::Str(self.hex_string()))
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_space();
                    match self.peek() {
                        None => break,
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        _ => {}
                    }
                    let Some(item) = self.object(depth + 1) else {
                        break;
                    };
                    if depth < MAX_NESTING && items.len() < MAX_ITEMS {
                        items.push(item);
                    }
                }
                Some(Obj::Array(collapse_refs(items)))
            }
            b')' | b'>' | b']' | b'{' | b'}' => {
                self.pos += 1;
                Some(Obj::Op(vec![b]))
            }
            _ => {
                let word = self.regular_run();
                if word.is_empty() {
                    self.pos += 1;
                    return Some(Obj::Null);
                }
                Some(match word {
                    b"true" => Obj::Bool(true),
                    b"false" => Obj::Bool(false),
                    b"null" => Obj::Null,
                    w => match std::str::from_utf8(w)
                        .ok()
                        .and_then(|s| s.parse::<f64>().ok())
                    {
                        Some(n) if w.iter().all(|c| c.is_ascii_digit() || b"+-.".contains(c)) => {
                            Obj::Num(n)
                        }
                        _ => Obj::Op(w.to_vec()),
                    },
                })
            }
        }
    }

    /// Like [`Lexer::object`], but `N G R` (three tokens) becomes one
    /// reference, as in dictionary values and object bodies.
    pub(super) fn value(&mut self, depth: u32) -> Option<Obj> {
        let first = self.object(depth)?;
        if let Obj::Num(num) = first {
            let save = self.pos;
            if let Some(Obj::Num(_)) = self.object(depth) {
                if let Some(Obj::Op(op)) = self.object(depth) {
                    if op == b"R" && num >= 0.0 && num <= f64::from(u32::MAX) {
                        return Some(Obj::Ref(num as u32));
                    }
                }
            }
            self.pos = save;
        }
        Some(first)
    }

    /// After `(`: the string's bytes, escapes decoded, to the matching `)`.
    fn literal_string(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        fn push(out: &mut Vec<u8>, b: u8) {
            if out.len() < MAX_STRING {
                out.push(b);
            }
        }
        let mut depth = 1u32;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'(' => {
                    depth += 1;
                    push(&mut out, b);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                    push(&mut out, b);
                }
                b'\\' => {
                    let Some(e) = self.peek() else { break };
                    self.pos += 1;
                    match e {
                        b'n' => push(&mut out, b'\n'),
                        b'r' => push(&mut out, b'\r'),
                        b't' => push(&mut out, b'\t'),
                        b'b' => push(&mut out, 8),
                        b'f' => push(&mut out, 12),
                        b'0'..=b'7' => {
                            let mut value = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        value = value * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            push(&mut out, (value & 0xFF) as u8);
                        }
                        // A backslash before an end of line continues the string.
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        other => push(&mut out, other),
                    }
                }
                _ => push(&mut out, b),
            }
        }
        out
    }

    /// After `<`: hex digits to `>`, whitespace ignored, odd digit padded.
    fn hex_string(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut high: Option<u8> = None;
        while let Some(b) = self.peek() {
            self.pos += 1;
            if b == b'>' {
                break;
            }
            let Some(v) = (b as char).to_digit(16) else {
                continue;
            };
            let v = v as u8;
            match high.take() {
                Some(h) if out.len() < MAX_STRING => out.push(h << 4 | v),
                Some(_) => {}
                None => high = Some(v),
            }
        }
        if let Some(h) = high {
            out.push(h << 4);
        }
        out
    }
}

/// `#xx` escapes in names.
pub(super) fn decode_name(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'#' {
            if let Some(v) = raw
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// `[1 0 R 2 0 R]` parses as numbers and `R` operators: fold them into
/// references.
fn collapse_refs(items: Vec<Obj>) -> Vec<Obj> {
    let mut out: Vec<Obj> = Vec::with_capacity(items.len());
    for item in items {
        if item == Obj::Op(b"R".to_vec()) && out.len() >= 2 {
            if let (Some(Obj::Num(gen)), Some(Obj::Num(num))) = (out.last(), out.get(out.len() - 2))
            {
                if *gen >= 0.0 && *num >= 0.0 && *num <= f64::from(u32::MAX) {
                    let num = *num as u32;
                    out.truncate(out.len() - 2);
                    out.push(Obj::Ref(num));
                    continue;
                }
            }
        }
        out.push(item);
    }
    out
}
