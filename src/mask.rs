//! Masking, so that the report does not itself become a leak.
//! (Skeleton: filled in by the masking change.)

use crate::entity::Entity;

/// Masks a matched value: keeps only what identifies nothing on its own.
pub fn mask_value(_entity: Entity, value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_alphanumeric() { '*' } else { c })
        .collect()
}

/// Context snippet: `before` + `value` (already in output form) + `after`.
pub fn render_context(before: &str, value: &str, after: &str, _unmask: bool) -> String {
    format!("{before}{value}{after}").replace('\n', "\\n")
}
