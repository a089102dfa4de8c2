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
        // Only numbers and e-mail local parts are masked: a side with no
        // digit and no `@` (most, in prose) is shown as it is.
        let plain = |s: &str| !s.chars().any(|c| c.is_numeric() || c == '@');
        if plain(before) {
            push_escaped_str(&mut out, before);
        } else {
            push_escaped(&mut out, mask_neighbours(before, true, false).into_iter());
        }
        push_escaped_str(&mut out, value);
        if plain(after) {
            push_escaped_str(&mut out, after);
        } else {
            push_escaped(&mut out, mask_neighbours(after, false, true).into_iter());
        }
    }
    out
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

/// Characters that join digit-bearing tokens into one number
/// (`123-45-6789`, `01/02/1980`, `1,234,567`, `555 0147`) when single.
fn is_joiner(c: char) -> bool {
    matches!(c, '-' | '.' | '/' | ' ' | ',')
}

/// Characters of an e-mail local part.
fn is_local_part(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

/// Masks, in a snippet's text around a value: numbers of 4+ digits, numbers
/// touching the start (`open_start`) or end (`open_end`) of `s`, and e-mail
/// local parts.
fn mask_neighbours(s: &str, open_start: bool, open_end: bool) -> Vec<char> {
    let mut chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    // Tokens: maximal alphanumeric runs, with their digit counts.
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
    // Numbers: digit-bearing tokens separated by single joiners.
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
            // A space joins plain numbers only (`555 0147`), not words.
            let all_digits = d2 == e2 - s2;
            let joined = d2 > 0
                && s2 == end + 1
                && chars.get(end).is_some_and(|&c| {
                    is_joiner(c) && (c != ' ' || (last_all_digits && all_digits))
                });
            if !joined {
                break;
            }
            last_all_digits = all_digits;
            end = e2;
            digits += d2;
            next += 1;
        }
        let cut = (open_start && start == 0) || (open_end && end == n);
        if digits >= 4 || cut {
            for c in chars.iter_mut().take(end).skip(start) {
                if c.is_alphanumeric() {
                    *c = MASK;
                }
            }
        }
        t = next;
    }
    // E-mail local parts: the run before an `@` that has a domain after it.
    for at in 0..n {
        if chars[at] != '@' || !chars.get(at + 1).is_some_and(|c| c.is_alphanumeric()) {
            continue;
        }
        let mut k = at;
        while k > 0 && is_local_part(chars[k - 1]) {
            k -= 1;
            chars[k] = MASK;
        }
    }
    chars
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
