//! Helpers shared by the field-aware extractors (HL7, X12, DICOM, C-CDA,
//! tables): decoding a field's bytes, reporting a value found in a known
//! field, matching a field's text with a label built only when needed.

use super::{Ctx, Location};
use crate::entity::Entity;
use base64::Engine;
use std::borrow::Cow;

/// Bytes as text: UTF-8 when valid, else Windows-1252 (covers Latin-1,
/// the usual encoding of HL7 and X12 feeds).
pub(crate) fn decode_text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            text
        }
    }
}

/// 1-based character column of byte offset `offset` in `text`.
pub(crate) fn char_column(text: &str, offset: usize) -> u64 {
    let prefix = text.get(..offset).unwrap_or(text);
    if prefix.is_ascii() {
        prefix.len() as u64 + 1
    } else {
        prefix.chars().count() as u64 + 1
    }
}

/// Values that stand for "no data" in de-identified or incomplete records
/// (`ANONYMOUS`, `UNKNOWN`, `N/A` ...), compared without punctuation.
pub(crate) fn is_placeholder(value: &str) -> bool {
    // Every field value comes here: ASCII ones without an allocation.
    const LONGEST: usize = "DEIDENTIFIED".len();
    let mut key = [0u8; LONGEST];
    let mut len = 0;
    for c in value.chars() {
        if !c.is_ascii() {
            // Some letters upper-case to ASCII ones (`ı` to `I`).
            let key: String = value
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_uppercase)
                .collect();
            return is_placeholder_key(key.as_bytes());
        }
        if c.is_ascii_alphanumeric() {
            if len == LONGEST {
                return false;
            }
            key[len] = c.to_ascii_uppercase() as u8;
            len += 1;
        }
    }
    is_placeholder_key(&key[..len])
}

/// `key`: a value's letters and digits, upper case.
fn is_placeholder_key(key: &[u8]) -> bool {
    matches!(
        key,
        b"" | b"ANON"
            | b"ANONYMOUS"
            | b"ANONYMIZED"
            | b"UNKNOWN"
            | b"UNK"
            | b"NONE"
            | b"NULL"
            | b"NA"
            | b"REMOVED"
            | b"REDACTED"
            | b"DEIDENTIFIED"
            | b"XXX"
            | b"XXXX"
            | b"TEST"
            | b"0"
    )
}

/// Reports a value found in a known field ([`Ctx::field_value`]), unless it
/// is a placeholder: then it is only matched as text.
pub(crate) fn report_field(
    ctx: &mut Ctx,
    rule: &str,
    field: &str,
    entity: Entity,
    value: &str,
    at: Location,
) {
    if is_placeholder(value) {
        ctx.text(field, value, at);
    } else {
        ctx.field_value(rule, field, entity, value, at);
    }
}

/// Matches `text` as [`Ctx::text`] does, building its field label only when
/// something matched: structured formats have many short values, and
/// formatting a label for each would cost more than matching it.
pub(crate) fn text_labelled(
    ctx: &mut Ctx,
    label: impl FnOnce() -> String,
    text: &str,
    at: Location,
) {
    let mut hits = Vec::new();
    ctx.matcher
        .find(text.as_bytes(), 0..text.len(), ctx.scratch, &mut hits);
    // The hits found are reported as they are: matching the text again
    // (as `ctx.text` would) doubled the matching of every field that holds
    // something.
    if !hits.is_empty() && !ctx.out_of_time() {
        super::text::report_block_hits(ctx, &label(), text.as_bytes(), at, &mut hits);
    }
}

/// Base64 as HL7 senders write it: escape sequences (`\.br\`, `\X0D\`) and
/// whitespace may sit between the characters; padding may be missing.
pub(crate) fn decode_base64(data: &str) -> Result<Vec<u8>, String> {
    let mut clean = Vec::with_capacity(data.len());
    let mut in_escape = false;
    for b in data.bytes() {
        if b == b'\\' {
            in_escape = !in_escape;
        } else if !in_escape && (b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) {
            clean.push(b);
        }
    }
    while clean.last() == Some(&b'=') {
        clean.pop();
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    engine
        .decode(&clean)
        .map_err(|e| format!("Base64 data could not be decoded: {e}"))
}

#[cfg(test)]
mod tests {
    use super::is_placeholder;

    #[test]
    fn placeholders_are_compared_without_punctuation_or_case() {
        for v in [
            "",
            "N/A",
            "n.a.",
            " Unknown ",
            "ANONYMOUS",
            "de-identified",
            "0",
            "xxx",
        ] {
            assert!(is_placeholder(v), "{v:?}");
        }
        // `ı` upper-cases to `I`: the same word as the ASCII one.
        assert!(is_placeholder("anonymızed"));
        for v in [
            "SMITH",
            "000",
            "anonymous patient",
            "DEIDENTIFIEDX",
            "N/A 12",
            "ünknown",
        ] {
            assert!(!is_placeholder(v), "{v:?}");
        }
    }
}
