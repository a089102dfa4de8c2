//! Masking, so that the report does not itself become a leak. Only what
//! identifies nobody on its own survives: the last 4 digits of an SSN, card
//! or phone number, the year of a birth date, the domain of an e-mail.
//! Separators are kept so that the shape of the value stays readable.

use crate::entity::Entity;

const MASK: char = '*';

/// Masks a matched value: keeps only what identifies nothing on its own.
pub fn mask_value(entity: Entity, value: &str) -> String {
    let kept = match entity {
        Entity::Ssn | Entity::CreditCard | Entity::Phone => last_digits(value, 4),
        Entity::Dob => year(value),
        Entity::Email => return mask_email(value),
        _ => Kept::Nothing,
    };
    value
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if !kept.has(i, c) && c.is_alphanumeric() {
                MASK
            } else {
                c
            }
        })
        .collect()
}

/// The characters of a value that stay visible, by character position:
/// worked out without a vector per value, since a scan dense in findings
/// masks hundreds of thousands of them.
#[derive(Clone, Copy)]
enum Kept {
    Nothing,
    /// The ASCII digits from this position on.
    DigitsFrom(usize),
    /// The characters in `start..end`.
    Span(usize, usize),
}

impl Kept {
    fn has(self, i: usize, c: char) -> bool {
        match self {
            Kept::Nothing => false,
            Kept::DigitsFrom(from) => i >= from && c.is_ascii_digit(),
            Kept::Span(start, end) => (start..end).contains(&i),
        }
    }
}

/// The last `n` ASCII digits (all of them when there are fewer).
fn last_digits(value: &str, n: usize) -> Kept {
    if n == 0 {
        return Kept::Nothing;
    }
    let count = value.chars().count();
    let mut seen = 0;
    for (back, c) in value.chars().rev().enumerate() {
        if c.is_ascii_digit() {
            seen += 1;
            if seen == n {
                return Kept::DigitsFrom(count - 1 - back);
            }
        }
    }
    Kept::DigitsFrom(0)
}

/// The year of a date: a 4-digit run (`01/02/1980`, `1980-01-02`,
/// `January 2, 1980`), the first 4 digits of a `YYYYMMDD[hhmm…]` run, or
/// the last of several runs when the year has 2 digits (`01/02/80`).
fn year(value: &str) -> Kept {
    let (mut four, mut long, mut last) = (None, None, None);
    let (mut runs, mut month_name) = (0usize, false);
    let mut run_start: Option<usize> = None;
    // A trailing NUL (neither digit nor letter) closes the last run.
    for (i, c) in value.chars().chain(std::iter::once('\0')).enumerate() {
        month_name |= c.is_alphabetic();
        if c.is_ascii_digit() {
            run_start.get_or_insert(i);
            continue;
        }
        if let Some(start) = run_start.take() {
            runs += 1;
            if i - start == 4 && four.is_none() {
                four = Some(start);
            }
            if i - start >= 8 && long.is_none() {
                long = Some(start);
            }
            last = Some((start, i));
        }
    }
    match (four.or(long), last) {
        (Some(start), _) => Kept::Span(start, start + 4),
        (None, Some((start, end))) if end - start == 2 && (runs >= 3 || month_name) => {
            Kept::Span(start, end)
        }
        _ => Kept::Nothing,
    }
}

/// Everything before the `@` masked (dots too: they say how many names
/// there are), the domain kept.
fn mask_email(value: &str) -> String {
    match value.rfind('@') {
        Some(at) => {
            let local = value.get(..at).unwrap_or("");
            let domain = value.get(at..).unwrap_or("");
            let mut out: String = local.chars().map(|_| MASK).collect();
            out.push_str(domain);
            out
        }
        None => value
            .chars()
            .map(|c| if c.is_alphanumeric() { MASK } else { c })
            .collect(),
    }
}

/// Context snippet: `before` + `value` (already in output form) + `after`,
/// on one line (`\n`, `\r`, `\t` written as escapes, other control
/// characters as spaces). Unless `unmask`, the neighbours of the value are
/// masked too, since they are often other people's identifiers: every
/// number with 4+ digits (letters and digits together, as in `1EG4TE5MK73`,
/// count as one), any number cut by the snippet's edge (it may be the tail
/// of a longer one), and the local part of e-mail addresses.
pub fn render_context(before: &str, value: &str, after: &str, unmask: bool) -> String {
    let mut out = String::with_capacity(before.len() + value.len() + after.len() + 8);
    if unmask {
        push_escaped_str(&mut out, before);
        push_escaped_str(&mut out, value);
        push_escaped_str(&mut out, after);
    } else {
        push_masked_side(&mut out, before, true, false);
        push_escaped_str(&mut out, value);
        push_masked_side(&mut out, after, false, true);
    }
    out
}

/// One side of a snippet with its neighbours masked (see
/// [`mask_neighbours`]). A side with no digit and no `@` (most, in prose)
/// is shown as it is; an ASCII side (most of the rest) is masked as bytes
/// in a buffer on the stack. A scan dense in findings renders hundreds of
/// thousands of sides, and a vector of `char`s each was a tenth of it.
fn push_masked_side(out: &mut String, side: &str, open_start: bool, open_end: bool) {
    if !side.chars().any(|c| c.is_numeric() || c == '@') {
        push_escaped_str(out, side);
        return;
    }
    const ON_STACK: usize = 256;
    if side.is_ascii() && side.len() <= ON_STACK {
        let mut bytes = [0u8; ON_STACK];
        let bytes = &mut bytes[..side.len()];
        bytes.copy_from_slice(side.as_bytes());
        mask_neighbours(bytes, open_start, open_end);
        // Masking turns ASCII letters and digits into `*`: still ASCII.
        match std::str::from_utf8(bytes) {
            Ok(masked) => push_escaped_str(out, masked),
            Err(_) => push_escaped(out, bytes.iter().map(|&b| char::from(b))),
        }
    } else {
        let mut chars: Vec<char> = side.chars().collect();
        mask_neighbours(&mut chars, open_start, open_end);
        push_escaped(out, chars.into_iter());
    }
}

/// [`push_escaped`] for a string: printable ASCII (most snippets) needs
/// no look at each character.
fn push_escaped_str(out: &mut String, s: &str) {
    if s.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        out.push_str(s);
    } else {
        push_escaped(out, s.chars());
    }
}

fn push_escaped(out: &mut String, chars: impl Iterator<Item = char>) {
    for c in chars {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => push_visible(out, c, ' '),
        }
    }
}

/// Whether `c` changes the direction text is shown in (Unicode bidi
/// embeddings, overrides, isolates and marks): a name holding U+202E shows
/// `invoice\u{202e}fdp.zip` as `invoicepiz.pdf`.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Pushes `c` as reports show it: a control character becomes `control`,
/// a bidi control its visible name (`<U+202E>`).
pub fn push_visible(out: &mut String, c: char, control: char) {
    if c.is_control() {
        out.push(control);
    } else if is_bidi_control(c) {
        use std::fmt::Write;
        let _ = write!(out, "<U+{:04X}>", c as u32);
    } else {
        out.push(c);
    }
}

/// A character of a snippet side as [`mask_neighbours`] sees it: a `char`,
/// or a byte of a side known to be ASCII (where both agree).
trait Glyph: Copy + PartialEq {
    const MASK: Self;
    fn of(c: char) -> Self;
    fn is_alphanumeric(self) -> bool;
    fn is_numeric(self) -> bool;
}

impl Glyph for char {
    const MASK: char = MASK;
    fn of(c: char) -> char {
        c
    }
    fn is_alphanumeric(self) -> bool {
        char::is_alphanumeric(self)
    }
    fn is_numeric(self) -> bool {
        char::is_numeric(self)
    }
}

impl Glyph for u8 {
    const MASK: u8 = MASK as u8;
    /// Only called with ASCII characters.
    fn of(c: char) -> u8 {
        c as u8
    }
    fn is_alphanumeric(self) -> bool {
        self.is_ascii_alphanumeric()
    }
    fn is_numeric(self) -> bool {
        self.is_ascii_digit()
    }
}

/// Characters that join digit-bearing tokens into one number
/// (`123-45-6789`, `01/02/1980`, `1,234,567`, `555 0147`) when single.
fn is_joiner<G: Glyph>(c: G) -> bool {
    ['-', '.', '/', ' ', ','].iter().any(|&j| c == G::of(j))
}

/// Characters of an e-mail local part.
fn is_local_part<G: Glyph>(c: G) -> bool {
    c.is_alphanumeric() || ['.', '_', '%', '+', '-'].iter().any(|&j| c == G::of(j))
}

/// Masks, in a snippet's text around a value: numbers of 4+ digits, numbers
/// touching the start (`open_start`) or end (`open_end`) of `chars`, and
/// e-mail local parts.
///
/// Tokens are maximal alphanumeric runs; a number is a run of
/// digit-bearing tokens each joined to the last by a single joiner (a
/// space joins plain numbers only: `555 0147`, not words). Tokens are
/// taken as they come, one number open at a time.
fn mask_neighbours<G: Glyph>(chars: &mut [G], open_start: bool, open_end: bool) {
    let n = chars.len();
    // The number being read: (start, end, digits, last token all digits).
    let mut number: Option<(usize, usize, usize, bool)> = None;
    let close = |chars: &mut [G], (start, end, digits, _): (usize, usize, usize, bool)| {
        let cut = (open_start && start == 0) || (open_end && end == n);
        if digits >= 4 || cut {
            for c in &mut chars[start..end] {
                if c.is_alphanumeric() {
                    *c = G::MASK;
                }
            }
        }
    };
    let mut i = 0;
    while i < n {
        if !chars[i].is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = 0;
        while i < n && chars[i].is_alphanumeric() {
            digits += usize::from(chars[i].is_numeric());
            i += 1;
        }
        let all_digits = digits == i - start;
        if let Some((_, end, _, last_all_digits)) = number {
            let joined = digits > 0
                && start == end + 1
                && is_joiner(chars[end])
                && (chars[end] != G::of(' ') || (last_all_digits && all_digits));
            if joined {
                if let Some(open) = &mut number {
                    open.1 = i;
                    open.2 += digits;
                    open.3 = all_digits;
                }
                continue;
            }
            if let Some(open) = number.take() {
                close(chars, open);
            }
        }
        if digits > 0 {
            number = Some((start, i, digits, all_digits));
        }
    }
    if let Some(open) = number {
        close(chars, open);
    }
    // E-mail local parts: the run before an `@` that has a domain after it.
    for at in 0..n {
        if chars[at] != G::of('@') || !chars.get(at + 1).is_some_and(|c| c.is_alphanumeric()) {
            continue;
        }
        let mut k = at;
        while k > 0 && is_local_part(chars[k - 1]) {
            k -= 1;
            chars[k] = G::MASK;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_ascii_shortcut_escapes_as_the_general_case() {
        for s in [
            "MRN 00482913, phone (312) 555-0147 ~ ok",
            "tab\there\nnew line\r",
            "delete \u{7f} and bell \u{7}",
            "Jos\u{e9} M\u{fc}ller \u{202e}fdp.zip",
            " ",
            "",
        ] {
            let (mut fast, mut general) = (String::new(), String::new());
            push_escaped_str(&mut fast, s);
            push_escaped(&mut general, s.chars());
            assert_eq!(fast, general, "{s:?}");
        }
    }

    #[test]
    fn keeps_last_four_of_numbers() {
        assert_eq!(mask_value(Entity::Ssn, "123-45-6789"), "***-**-6789");
        assert_eq!(mask_value(Entity::Ssn, "123 45 6789"), "*** ** 6789");
        assert_eq!(mask_value(Entity::Ssn, "123456789"), "*****6789");
        assert_eq!(
            mask_value(Entity::CreditCard, "4111 1111 1111 1234"),
            "**** **** **** 1234"
        );
        assert_eq!(
            mask_value(Entity::Phone, "(212) 555-0147"),
            "(***) ***-0147"
        );
        assert_eq!(
            mask_value(Entity::Phone, "+1 212.555.0147"),
            "+* ***.***.0147"
        );
    }

    #[test]
    fn keeps_year_of_dates() {
        assert_eq!(mask_value(Entity::Dob, "01/02/1980"), "**/**/1980");
        assert_eq!(mask_value(Entity::Dob, "1980-01-02"), "1980-**-**");
        assert_eq!(mask_value(Entity::Dob, "19800102"), "1980****");
        assert_eq!(mask_value(Entity::Dob, "198001021230"), "1980********");
        assert_eq!(
            mask_value(Entity::Dob, "January 2, 1980"),
            "******* *, 1980"
        );
        assert_eq!(mask_value(Entity::Dob, "Jan. 2, 1980"), "***. *, 1980");
        assert_eq!(mask_value(Entity::Dob, "2 Jan 1980"), "* *** 1980");
        assert_eq!(mask_value(Entity::Dob, "02-JAN-80"), "**-***-80");
        assert_eq!(mask_value(Entity::Dob, "01/02/80"), "**/**/80");
        assert_eq!(mask_value(Entity::Dob, "12/25"), "**/**");
    }

    #[test]
    fn keeps_domain_of_email() {
        assert_eq!(
            mask_value(Entity::Email, "john.doe@example.com"),
            "********@example.com"
        );
        assert_eq!(mask_value(Entity::Email, "no-at-sign"), "**-**-****");
    }

    #[test]
    fn masks_everything_else() {
        assert_eq!(mask_value(Entity::Npi, "1234567893"), "**********");
        assert_eq!(mask_value(Entity::Mrn, "MRN-00123456"), "***-********");
        assert_eq!(mask_value(Entity::Mbi, "1EG4-TE5-MK73"), "****-***-****");
        assert_eq!(mask_value(Entity::Dea, "AP5836727"), "*********");
        assert_eq!(mask_value(Entity::PersonName, "José Núñez"), "**** *****");
        assert_eq!(mask_value(Entity::Address, "12 Elm St."), "** *** **.");
    }

    #[test]
    fn context_escapes_and_masks_other_numbers() {
        assert_eq!(
            render_context("SSN: ", "***-**-6789", "\r\nDOB\t01/02/1980", false),
            "SSN: ***-**-6789\\r\\nDOB\\t**/**/****"
        );
        // Short numbers stay, long ones and ones cut by the edge go.
        assert_eq!(
            render_context(
                "56789 room 12, MRN 0012345 ",
                "x",
                " age 44 zip 12345-6789",
                false
            ),
            "***** room 12, MRN ******* x age 44 zip *****-****"
        );
        assert_eq!(render_context("12 a", "v", "b 7", false), "** avb *");
        assert_eq!(
            render_context("call 212-555-0147 ", "v", "", false),
            "call ***-***-**** v"
        );
        // Decimal amounts of 4+ digits are masked too; that costs nothing.
        assert_eq!(
            render_context("paid 12.50 ", "v", "", false),
            "paid **.** v"
        );
    }

    #[test]
    fn context_unmasked_keeps_digits() {
        assert_eq!(
            render_context("SSN 512-34-7890 ", "v", "\n", true),
            "SSN 512-34-7890 v\\n"
        );
    }

    /// Deterministic pseudo-random strings mixing ASCII digits, letters,
    /// separators, multi-byte letters and digits, and control characters.
    fn random_strings(count: usize) -> Vec<String> {
        const ALPHABET: &[char] = &[
            '0', '1', '5', '9', 'a', 'Z', '@', '.', '-', '/', ' ', ',', '\n', '\r', '\t', '\u{0}',
            'é', 'ß', '١', '𝟙', '*', '(', ')', '+', '_',
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count)
            .map(|_| {
                let len = (next() % 24) as usize;
                (0..len)
                    .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    /// The masking of a snippet side as first written: tokens collected,
    /// then joined into numbers, on a vector of `char`s. The reference for
    /// the streaming, byte-or-char [`mask_neighbours`].
    fn reference_mask_neighbours(s: &str, open_start: bool, open_end: bool) -> String {
        let mut chars: Vec<char> = s.chars().collect();
        let n = chars.len();
        let mut tokens: Vec<(usize, usize, usize)> = Vec::new();
        let mut i = 0;
        while i < n {
            if chars[i].is_alphanumeric() {
                let start = i;
                let mut digits = 0;
                while i < n && chars[i].is_alphanumeric() {
                    digits += usize::from(chars[i].is_numeric());
                    i += 1;
                }
                tokens.push((start, i, digits));
            } else {
                i += 1;
            }
        }
        let mut t = 0;
        while t < tokens.len() {
            let (start, mut end, mut digits) = tokens[t];
            if digits == 0 {
                t += 1;
                continue;
            }
            let mut next = t + 1;
            let mut last_all_digits = digits == end - start;
            while let Some(&(s2, e2, d2)) = tokens.get(next) {
                let all_digits = d2 == e2 - s2;
                let joined = d2 > 0
                    && s2 == end + 1
                    && chars.get(end).is_some_and(|&c| {
                        matches!(c, '-' | '.' | '/' | ' ' | ',')
                            && (c != ' ' || (last_all_digits && all_digits))
                    });
                if !joined {
                    break;
                }
                last_all_digits = all_digits;
                end = e2;
                digits += d2;
                next += 1;
            }
            if digits >= 4 || (open_start && start == 0) || (open_end && end == n) {
                for c in chars.iter_mut().take(end).skip(start) {
                    if c.is_alphanumeric() {
                        *c = MASK;
                    }
                }
            }
            t = next;
        }
        for at in 0..n {
            if chars[at] != '@' || !chars.get(at + 1).is_some_and(|c| c.is_alphanumeric()) {
                continue;
            }
            let mut k = at;
            while k > 0
                && (chars[k - 1].is_alphanumeric()
                    || matches!(chars[k - 1], '.' | '_' | '%' | '+' | '-'))
            {
                k -= 1;
                chars[k] = MASK;
            }
        }
        chars.into_iter().collect()
    }

    #[test]
    fn neighbours_masked_as_bytes_or_chars_as_the_reference_does() {
        let mut ascii_only = 0;
        for s in random_strings(20_000) {
            // The same string with its non-ASCII characters replaced, so
            // that the byte path is taken as often as the char path.
            let ascii: String = s
                .chars()
                .map(|c| if c.is_ascii() { c } else { '7' })
                .collect();
            for text in [&s, &ascii] {
                ascii_only += usize::from(text.is_ascii());
                for (open_start, open_end) in [(true, false), (false, true), (false, false)] {
                    let expected = reference_mask_neighbours(text, open_start, open_end);
                    let mut chars: Vec<char> = text.chars().collect();
                    mask_neighbours(&mut chars, open_start, open_end);
                    assert_eq!(chars.iter().collect::<String>(), expected, "{text:?}");
                    if text.is_ascii() {
                        let mut bytes = text.as_bytes().to_vec();
                        mask_neighbours(&mut bytes, open_start, open_end);
                        assert_eq!(String::from_utf8(bytes).unwrap(), expected, "{text:?}");
                    }
                }
                let mut escaped = String::new();
                let sides = (
                    reference_mask_neighbours(text, true, false),
                    reference_mask_neighbours(text, false, true),
                );
                push_escaped(&mut escaped, sides.0.chars());
                escaped.push('v');
                push_escaped(&mut escaped, sides.1.chars());
                assert_eq!(render_context(text, "v", text, false), escaped, "{text:?}");
            }
        }
        assert!(ascii_only > 20_000, "{ascii_only}");
    }

    #[test]
    fn random_input_never_panics_and_keeps_length() {
        for s in random_strings(5000) {
            for e in crate::entity::Entity::ALL {
                let masked = mask_value(e, &s);
                // One output character per input character.
                assert_eq!(masked.chars().count(), s.chars().count(), "{s:?}");
            }
            let rendered = render_context(&s, "v", &s, false);
            assert!(
                !rendered.contains('\n') && !rendered.contains('\r'),
                "{s:?}"
            );
            for v in crate::validators::names() {
                let validate = crate::validators::by_name(v).unwrap();
                let _ = validate(&s);
            }
        }
    }

    #[test]
    fn never_panics() {
        for s in [
            "",
            "é",
            "\u{0}",
            "1",
            "١٢٣٤٥",
            "a-",
            "-1",
            "1-",
            "𝟙𝟚𝟛𝟜",
            "@",
            "@@",
        ] {
            for e in crate::entity::Entity::ALL {
                let _ = mask_value(e, s);
            }
            let _ = render_context(s, s, s, false);
            let _ = render_context(s, s, s, true);
        }
        assert_eq!(render_context("١٢٣٤٥ x", "", "", false), "***** x");
    }
}
