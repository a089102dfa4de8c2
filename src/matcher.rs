//! Applies a compiled rule pack to text.
//! (Skeleton: the engine lands in the matcher change.)

use crate::entity::{Confidence, Entity};
use crate::error::ConfigError;
use crate::rules::RuleSpec;
use std::ops::Range;
use std::sync::Arc;

/// A rule ready to run.
pub struct CompiledRule {
    pub id: Arc<str>,
    pub entity: Entity,
    pub confidence: Confidence,
    pub spec: RuleSpec,
}

/// A match of one rule: the value's byte span in the searched buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub rule: usize,
    pub start: usize,
    pub end: usize,
    pub confidence: Confidence,
}

/// Per-thread working memory for [`Matcher::find`].
#[derive(Default)]
pub struct Scratch {}

pub struct Matcher {
    rules: Vec<CompiledRule>,
}

impl Matcher {
    pub fn new(specs: Vec<RuleSpec>) -> Result<Matcher, ConfigError> {
        let rules = specs
            .into_iter()
            .map(|spec| CompiledRule {
                id: spec.id.as_str().into(),
                entity: spec.entity,
                confidence: spec.confidence,
                spec,
            })
            .collect();
        Ok(Matcher { rules })
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    pub fn rule(&self, index: usize) -> &CompiledRule {
        &self.rules[index]
    }

    /// The shared id of a rule by name (or a new one for field rules).
    pub fn rule_id_arc(&self, id: &str) -> Arc<str> {
        self.rules
            .iter()
            .find(|r| &*r.id == id)
            .map(|r| r.id.clone())
            .unwrap_or_else(|| id.into())
    }

    pub fn new_scratch(&self) -> Scratch {
        Scratch::default()
    }

    /// Appends to `hits` every match in `buf` whose value starts inside
    /// `owned`. Bytes outside `owned` are context only.
    pub fn find(
        &self,
        _buf: &[u8],
        _owned: Range<usize>,
        _scratch: &mut Scratch,
        _hits: &mut Vec<Hit>,
    ) {
    }
}
