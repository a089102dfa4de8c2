//! Every text a report shows, as it shows it. Unless `--unmask`, values the
//! rules find in folder, file, member and sheet names and in field labels
//! (a CSV header such as `ssn 536-22-1234`) are masked as in the `match`
//! column; in every column, control characters are replaced (a hostile
//! name must not carry terminal escapes or line breaks into a report or
//! onto a terminal) and bidirectional-override characters are shown as
//! `<U+202E>` (else `invoice\u{202e}fdp.zip` would read `invoicepiz.pdf`).
//! The values themselves stay exact in every format; the CSV writer
//! additionally neutralises cells a spreadsheet would evaluate.

use super::{Event, PathMask};
use crate::mask::{is_bidi_control, push_visible};
use std::collections::HashMap;

/// Texts as shown, remembered: one file's rows share a path and field
/// labels repeat, so most lookups find them without allocating.
pub(super) struct Shown<'a> {
    mask: Option<&'a PathMask<'a>>,
    /// Paths and field labels: masked; control characters become U+FFFD.
    names: Memo,
    /// Details of not-examined lines: masked; control characters become
    /// spaces.
    details: Memo,
}

#[derive(Default)]
struct Memo {
    seen: HashMap<String, Option<String>>,
}

impl Memo {
    /// Most texts remembered; then the memory starts over.
    const MAX: usize = 10_000;

    fn apply(&mut self, mask: Option<&PathMask<'_>>, control: char, text: &mut String) {
        if let Some(shown) = self.seen.get(text.as_str()) {
            if let Some(shown) = shown {
                text.clone_from(shown);
            }
            return;
        }
        let masked = mask.and_then(|m| m(text));
        let base = masked.as_deref().unwrap_or(text);
        let shown = cleaned(base, control).or(masked);
        if self.seen.len() >= Self::MAX {
            self.seen.clear();
        }
        self.seen.insert(text.clone(), shown.clone());
        if let Some(shown) = shown {
            *text = shown;
        }
    }
}

/// `text` with control and bidi characters made visible, or `None` when
/// it has none (the usual case, told by a byte test).
fn cleaned(text: &str, control: char) -> Option<String> {
    let plain = text.bytes().all(|b| (0x20..0x7f).contains(&b));
    if plain || !text.chars().any(needs_cleaning) {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_visible(&mut out, c, control);
    }
    Some(out)
}

fn needs_cleaning(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// Cleans `text` in place (no masking).
fn clean(text: &mut String, control: char) {
    if let Some(shown) = cleaned(text, control) {
        *text = shown;
    }
}

impl<'a> Shown<'a> {
    pub(super) fn new(mask: Option<&'a PathMask<'a>>) -> Shown<'a> {
        Shown {
            mask,
            names: Memo::default(),
            details: Memo::default(),
        }
    }

    /// A path as the reports show it (masked, cleaned), for lines that
    /// name files without changing the event (`--resume` records the
    /// real path).
    pub(super) fn name(&mut self, path: &str) -> String {
        let mut shown = path.to_string();
        self.names.apply(self.mask, '\u{fffd}', &mut shown);
        shown
    }

    /// Makes every text of `event` what the reports show.
    pub(super) fn event(&mut self, event: &mut Event) {
        match event {
            Event::Finding(f) => {
                self.names.apply(self.mask, '\u{fffd}', &mut f.path);
                if !f.field.is_empty() {
                    self.names.apply(self.mask, '\u{fffd}', &mut f.field);
                }
                clean(&mut f.matched, '\u{fffd}');
                clean(&mut f.context, ' ');
            }
            Event::NotExamined { path, detail, .. } => {
                self.names.apply(self.mask, '\u{fffd}', path);
                self.details.apply(self.mask, ' ', detail);
            }
            Event::TargetInfo { value, .. } => clean(value, ' '),
            Event::Listed { folder, .. } => self.names.apply(self.mask, '\u{fffd}', folder),
            // Never shown: its path only decides the shard.
            Event::PastRowCap { .. }
            | Event::FileScanned { .. }
            | Event::AlreadyScanned { .. }
            | Event::Discovery(_)
            | Event::Ocr { .. }
            | Event::ServerAccess { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_made_visible() {
        assert_eq!(cleaned("plain/name.txt", '?'), None);
        assert_eq!(cleaned("café", '?'), None);
        assert_eq!(
            cleaned("invoice\u{202e}fdp.zip", '?').as_deref(),
            Some("invoice<U+202E>fdp.zip")
        );
        assert_eq!(
            cleaned("a\u{2066}b\u{2069}\u{200f}", '?').as_deref(),
            Some("a<U+2066>b<U+2069><U+200F>")
        );
        assert_eq!(cleaned("a\x1b[31mb\r\n", '?').as_deref(), Some("a?[31mb??"));
    }

    #[test]
    fn field_labels_are_masked_and_cleaned() {
        let mask: &PathMask = &|t: &str| {
            t.contains("536-22-1234")
                .then(|| t.replace("536-22-1234", "***-**-1234"))
        };
        let mut shown = Shown::new(Some(mask));
        let mut f = crate::report::test_support::sample_findings().remove(0);
        f.field = "column \"ssn 536-22-1234\u{7}\" row 2".into();
        let mut event = Event::Finding(f);
        shown.event(&mut event);
        let Event::Finding(f) = event else {
            unreachable!()
        };
        assert_eq!(f.field, "column \"ssn ***-**-1234\u{fffd}\" row 2");
    }
}
