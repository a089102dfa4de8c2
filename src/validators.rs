//! Validators: checks a candidate value must pass to be reported.
//! (Skeleton: filled in by the validators change.)

use crate::entity::Entity;

/// A validator takes the matched value as found (separators included).
pub type Validator = fn(&str) -> bool;

/// Every validator a rule file may name.
pub fn names() -> &'static [&'static str] {
    &[]
}

pub fn by_name(_name: &str) -> Option<Validator> {
    None
}

/// The validator applied to values found in fields known to hold `entity`.
pub fn for_entity(_entity: Entity) -> Option<Validator> {
    None
}
