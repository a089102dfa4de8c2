//! Applies a compiled rule pack to text.
//!
//! Candidates first, as in ripgrep, so that the cost is one pass over the
//! text plus a little per candidate, whatever words the text is full of:
//!
//! 1. One lazy DFA over every free rule's pattern and every gate word (a
//!    keyword, or a required context word) finds where each of them ends,
//!    walking the text in interleaved lanes ([`crate::lanes`]).
//! 2. A free rule runs on the lines around its candidates; a gated rule
//!    (keywords, required context) only within reach of its gate words.
//! 3. Context and exclude words are looked for around matches that need
//!    them, with one Aho-Corasick automaton (case variants listed
//!    explicitly).
//! 4. A match must stand alone (not be part of a longer identifier or
//!    number), pass its validator and its context conditions.

use crate::entity::{Confidence, Entity};
use crate::error::ConfigError;
use crate::lanes::{self, End, EndCache, EndFinder};
use crate::rules::{self, ContextSpec, RulePack, RuleSpec, MAX_COMPILED_PATTERN_BYTES};
use crate::validators::{self, Validator};
use crate::word_starts::{is_word_byte, WordStarts};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex_automata::meta::{self, Regex};
use regex_automata::util::captures::Captures;
use regex_automata::Input;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

/// Longest match expected; regions extend this far past their end so a
/// match that starts inside a region is found whole.
const MAX_MATCH: usize = 256;
// A keyword-led rule is tried for matches up to MAX_MATCH bytes past the
// keyword's first byte, and skipped where the gated end finder saw none
// end: its lanes must see matches that long whole.
const _: () = assert!(lanes::WARM_UP > MAX_MATCH);
/// A candidate's region is its line, but at most this many bytes either side.
const MAX_LINE_REACH: usize = 2048;
/// Candidate lines closer than BLOCK_GAP are handled together, in blocks of
/// up to about BLOCK bytes.
const BLOCK: usize = 4096;
const BLOCK_GAP: usize = 512;
/// Largest block [`Matcher::enter_block`] copies.
const MAX_QUIET_BLOCK: usize = 1 << 20;
/// Context words are searched in blocks of this many bytes, each once per
/// buffer: the words around dense matches came from one search per match
/// over its whole window, so that each byte of keyword-dense text was
/// searched five to ten times over.
const WORD_BLOCK: usize = 512;
/// Largest compiled form of the candidate finder's patterns together (free
/// rules' patterns and gate words).
const JOINED_NFA_LIMIT: usize = 64 << 20;
/// Memory each thread's lazy DFA for [`EndFinder`] may keep (the default
/// pack needs under 2 MiB of states).
const END_CACHE_BYTES: usize = 16 << 20;

/// What a pattern of the [`EndFinder`] stands for.
#[derive(Clone, Copy)]
enum EndKind {
    /// A free rule's pattern (rule index).
    Rule(usize),
    /// A case variant of a gate word, `len` bytes long.
    Word { word: u32, len: usize },
}

/// A rule ready to run.
pub struct CompiledRule {
    pub id: Arc<str>,
    pub entity: Entity,
    pub confidence: Confidence,
    pub spec: RuleSpec,
    regex: Regex,
    value_group: Option<usize>,
    validator: Option<Validator>,
    /// Word ids; empty = the rule always runs.
    gate: Vec<u32>,
    /// How far from a gate word a match of this rule can start or end.
    gate_reach: usize,
    /// Every match starts with one of the keywords: the rule is tried only
    /// where a gate word starts, anchored there.
    keyword_led: bool,
    /// The longest match of the pattern, when it is at most
    /// [`lanes::WARM_UP`] bytes: then an end finder over the pattern sees
    /// every match whole, and the rule is tried only around the ends it
    /// reports ([`Matcher::run_rule_at_ends`]).
    ends_len: Option<usize>,
    context: Option<Context>,
}

struct Context {
    words: Vec<u32>,
    /// `words` and the exclude words as bit sets: a lookup per word near
    /// every match, where a search of the id lists was a few percent of
    /// keyword-dense text.
    is_word: WordSet,
    exclude: WordSet,
    window: usize,
    required: bool,
    confidence: Option<Confidence>,
}

/// A match of one rule: the value's byte span in the searched buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub rule: usize,
    pub start: usize,
    pub end: usize,
    pub confidence: Confidence,
}

/// A block of [`WORD_BLOCK`] bytes: the range of `Scratch::words` that
/// start in it once it is searched.
#[derive(Clone, Copy, Debug)]
struct WordBlock {
    words: (usize, usize),
}

impl WordBlock {
    /// Not searched yet.
    const UNSEARCHED: WordBlock = WordBlock {
        words: (usize::MAX, 0),
    };

    fn is_searched(&self) -> bool {
        self.words.0 != usize::MAX
    }
}

#[derive(Clone, Copy, Debug)]
struct WordHit {
    word: u32,
    start: usize,
    end: usize,
}

/// Per-thread working memory for [`Matcher::find`], reused across calls so
/// the hot loop does not allocate.
pub struct Scratch {
    caches: Vec<meta::Cache>,
    captures: Vec<Captures>,
    /// Boxed: taken out and put back on every `find`, which extractors call
    /// per field; moving the caches themselves was 39% of an HL7 scan.
    end_cache: Box<EndCache>,
    ends: Vec<End>,
    /// Free rules to run on the current region.
    region_rules: Vec<usize>,
    words: Vec<WordHit>,
    /// (rule, start, end) areas around gate words, for gated rules.
    gate_regions: Vec<(usize, usize, usize)>,
    /// The same areas while they are found, one list per rule.
    gate_buckets: GateBuckets,
    /// The gated end finder's cache (made on first use), the stretches it
    /// walks and the ends it found; one rule's ends.
    gated_cache: Option<Box<EndCache>>,
    gated_spans: Vec<Range<usize>>,
    gated_found: Vec<End>,
    rule_ends: Vec<usize>,
    /// Per block of [`WORD_BLOCK`] bytes of the current buffer, the range
    /// of `words` that start in it, or [`WordBlock::UNSEARCHED`]; empty until the
    /// first search of the buffer. Indexed, not searched: a binary search
    /// per match was 3% of keyword-dense JSON.
    word_blocks: Vec<WordBlock>,
    /// Addresses of a block known to hold no candidate, and a copy of its
    /// bytes (see [`Matcher::enter_block`]).
    quiet: Option<Range<usize>>,
    quiet_bytes: Vec<u8>,
}

/// Gate regions while they are found: per rule, merged regions in order
/// of start, and the rules that have any.
#[derive(Default)]
struct GateBuckets {
    by_rule: Vec<Vec<(usize, usize)>>,
    /// Whether a rule's list got a region out of order (then it is sorted
    /// and merged at the end).
    unsorted: Vec<bool>,
    touched: Vec<usize>,
}

/// Whether a region starting at `from` joins one ending at `end` that
/// starts no later: keyword-led rules are tried at each keyword on its own
/// (merged, they would search the text in between too); others join when
/// they overlap or lie within BLOCK_GAP.
fn joins(keyword_led: bool, from: usize, end: usize) -> bool {
    if keyword_led {
        from < end
    } else {
        from <= end + BLOCK_GAP
    }
}

impl GateBuckets {
    fn start(&mut self, rules: usize) {
        for &rule in &self.touched {
            self.by_rule[rule].clear();
            self.unsorted[rule] = false;
        }
        self.touched.clear();
        self.by_rule.resize_with(rules, Vec::new);
        self.unsorted.resize(rules, false);
    }

    fn add(&mut self, rule: usize, from: usize, to: usize, keyword_led: bool) {
        let list = &mut self.by_rule[rule];
        let Some(&(last_from, last_to)) = list.last() else {
            self.touched.push(rule);
            list.push((from, to));
            return;
        };
        if self.unsorted[rule] || to < last_to || (keyword_led && from < last_from) {
            // Not in order of end (never expected from ordered ends):
            // sorted and merged at the end.
            self.unsorted[rule] = true;
            list.push((from, to));
            return;
        }
        // Ends no earlier than the last region: it starts after it, or
        // joins it (whichever of the two starts first, the other starts
        // before the first one's end plus the gap).
        if !joins(keyword_led, from, last_to) {
            list.push((from, to));
            return;
        }
        let mut merged = (from.min(last_from), to);
        list.pop();
        while let Some(&(prev_from, prev_to)) = list.last() {
            if !joins(keyword_led, merged.0, prev_to) {
                break;
            }
            merged.0 = merged.0.min(prev_from);
            merged.1 = merged.1.max(prev_to);
            list.pop();
        }
        list.push(merged);
    }

    /// Appends every rule's regions to `regions`, in order of rule.
    fn finish(
        &mut self,
        regions: &mut Vec<(usize, usize, usize)>,
        keyword_led: impl Fn(usize) -> bool,
    ) {
        self.touched.sort_unstable();
        for &rule in &self.touched {
            let list = &mut self.by_rule[rule];
            if self.unsorted[rule] {
                merge_sorted_regions(list, keyword_led(rule));
            }
            regions.extend(list.iter().map(|&(from, to)| (rule, from, to)));
        }
    }
}

/// Sorts one rule's regions by start and merges those that join, in place.
fn merge_sorted_regions(list: &mut Vec<(usize, usize)>, keyword_led: bool) {
    list.sort_unstable();
    let mut kept: usize = 0;
    for i in 0..list.len() {
        let (from, to) = list[i];
        match kept.checked_sub(1).map(|k| &mut list[k]) {
            Some((_, end)) if joins(keyword_led, from, *end) => *end = (*end).max(to),
            _ => {
                list[kept] = (from, to);
                kept += 1;
            }
        }
    }
    list.truncate(kept);
}

/// Keyword/context words: one automaton, with per-pattern word ids and
/// whether a word boundary is required at each edge.
struct Words {
    search: WordSearch,
    /// Automaton pattern → word id.
    word_of: Vec<u32>,
    /// Automaton pattern → (boundary needed at start, at end).
    edges: Vec<(bool, bool)>,
    /// Automaton pattern → shorter patterns that are its prefixes (a
    /// leftmost-first match of the longer one hides them).
    prefixes: Vec<Vec<usize>>,
    pattern_len: Vec<usize>,
    longest: usize,
    /// How far before a block its search starts: a leftmost-first search
    /// that starts inside a word, or inside a run of overlapping words,
    /// may see other words there than one from further back.
    lead: usize,
}

/// How words are looked for. One per matcher, so its size is no matter
/// (boxed, the search took 1% more instructions on prose).
#[allow(clippy::large_enum_variant)]
enum WordSearch {
    /// The automaton (anchored, leftmost-first) run from each place a word
    /// can be found: a word start for the words that start with a word
    /// byte (found elsewhere, they are rejected), and any byte that starts
    /// one of the others (the "@" of e-mail). A few steps
    /// at each such place instead of one dependent lookup per byte.
    Starts {
        dfa: aho_corasick::dfa::DFA,
        starts: WordStarts,
    },
    /// One unanchored leftmost-first walk over every byte, restarted after
    /// each word: what `Starts` must find, kept as the tests' reference.
    Anywhere(AhoCorasick),
}

impl Words {
    /// One leftmost-first automaton over the case variants of `words`
    /// (lowercase word, id); walked unanchored if `reference`.
    fn build<'a>(
        words: impl Iterator<Item = (&'a str, u32)>,
        reference: bool,
    ) -> Result<Option<Words>, ConfigError> {
        let mut patterns: Vec<(String, u32)> = Vec::new();
        for (word, id) in words {
            for v in variants(word) {
                patterns.push((v, id));
            }
        }
        if patterns.is_empty() {
            return Ok(None);
        }
        // Longest first, so that leftmost-first prefers "date of birth"
        // over a shorter word starting at the same place.
        patterns.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        patterns.dedup_by(|a, b| a.0 == b.0);
        let longest = patterns.iter().map(|(p, _)| p.len()).max().unwrap_or(0);
        let edges: Vec<(bool, bool)> = patterns
            .iter()
            .map(|(p, _)| {
                let b = p.as_bytes();
                (
                    b.first().is_some_and(|&c| is_word_byte(c)),
                    b.last().is_some_and(|&c| is_word_byte(c)),
                )
            })
            .collect();
        let bytes = patterns.iter().map(|(p, _)| p.as_bytes());
        let error = |e: aho_corasick::BuildError| ConfigError::Invalid(format!("rule words: {e}"));
        let search = if !reference {
            let dfa = aho_corasick::dfa::DFA::builder()
                .match_kind(MatchKind::LeftmostFirst)
                .start_kind(aho_corasick::StartKind::Anchored)
                .build(bytes)
                .map_err(error)?;
            let starts = WordStarts::new(patterns.iter().filter_map(|(p, _)| p.bytes().next()));
            WordSearch::Starts { dfa, starts }
        } else {
            let automaton = AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostFirst)
                // A full DFA is the fastest per byte, and a few hundred
                // short words keep it small.
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(bytes)
                .map_err(error)?;
            WordSearch::Anywhere(automaton)
        };
        let prefixes = patterns
            .iter()
            .map(|(long, _)| {
                patterns
                    .iter()
                    .enumerate()
                    .filter(|(_, (short, _))| {
                        short.len() < long.len() && long.starts_with(short.as_str())
                    })
                    .map(|(j, _)| j)
                    .collect()
            })
            .collect();
        Ok(Some(Words {
            search,
            word_of: patterns.iter().map(|(_, id)| *id).collect(),
            edges,
            prefixes,
            pattern_len: patterns.iter().map(|(p, _)| p.len()).collect(),
            longest,
            lead: (2 * longest).max(64),
        }))
    }

    /// Calls `found(word, start, end)` for each word in `buf[area]` with
    /// the word boundaries its edges need (checked against all of `buf`).
    ///
    /// A word found whole hides the words inside it ("birth" in "date of
    /// birth") but not the shorter ones it starts with. One that fails a
    /// boundary hides nothing: the search goes on from the byte after its
    /// start, so "update of birth" still has "birth", and "birth dates"
    /// still has "birth" though "birth date" ends inside a word.
    fn each(&self, buf: &[u8], area: Range<usize>, mut found: impl FnMut(u32, usize, usize)) {
        let mut from = area.start;
        // The block of word starts last looked at, kept between words.
        let mut block = (1, 0);
        while from < area.end {
            let next = match &self.search {
                WordSearch::Starts { dfa, starts } => {
                    word_from_starts(dfa, starts, &mut block, buf, from..area.end)
                }
                WordSearch::Anywhere(automaton) => {
                    let input = aho_corasick::Input::new(buf).span(from..area.end);
                    match automaton.try_find(input) {
                        Ok(Some(m)) => Some((m.pattern().as_usize(), m.start(), m.end())),
                        _ => None,
                    }
                }
            };
            let Some((pid, start, end)) = next else {
                return;
            };
            let (start_edge, end_edge) = self.edges[pid];
            let starts_word = !(start_edge && start > 0 && is_word_byte(buf[start - 1]));
            let ends_word = !(end_edge && end < buf.len() && is_word_byte(buf[end]));
            if starts_word && ends_word {
                found(self.word_of[pid], start, end);
            }
            if starts_word {
                for &j in &self.prefixes[pid] {
                    let end = start + self.pattern_len[j];
                    if self.edges[j].1 && end < buf.len() && is_word_byte(buf[end]) {
                        continue;
                    }
                    found(self.word_of[j], start, end);
                }
            }
            from = if starts_word && ends_word {
                end
            } else {
                start + 1
            };
        }
    }
}

/// The first word (pattern, start, end) in `buf[area]` that starts where
/// a word can ([`WordStarts`]), as the leftmost-first automaton picks it
/// there; `block` as [`WordStarts::next`] keeps it.
fn word_from_starts(
    dfa: &aho_corasick::dfa::DFA,
    starts: &WordStarts,
    block: &mut (usize, u64),
    buf: &[u8],
    area: Range<usize>,
) -> Option<(usize, usize, usize)> {
    use aho_corasick::automaton::Automaton;
    let anchored = aho_corasick::Anchored::Yes;
    let start_state = dfa.start_state(anchored).ok()?;
    let mut from = area.start;
    while let Some(start) = starts.next(buf, from, area.end, block) {
        // As the automaton's own anchored search: on to the dead state,
        // the last match seen the one its priorities pick. A match starts
        // its word's length before its end (as the crate's search reckons
        // it): one that would start after `start` is not a match here.
        let mut sid = start_state;
        let mut found = None;
        for (at, &b) in buf[start..area.end].iter().enumerate() {
            sid = dfa.next_state(anchored, sid, b);
            if dfa.is_special(sid) {
                if dfa.is_dead(sid) {
                    break;
                }
                if dfa.is_match(sid) {
                    let pid = dfa.match_pattern(sid, 0);
                    if dfa.pattern_len(pid) == at + 1 {
                        found = Some((pid.as_usize(), start, start + at + 1));
                    }
                }
            }
        }
        if found.is_some() {
            return found;
        }
        from = start + 1;
    }
    None
}

impl Scratch {
    /// Forgets any block left entered (a file's scan ended early).
    pub fn leave_blocks(&mut self) {
        self.quiet = None;
    }
}

pub struct Matcher {
    rules: Vec<CompiledRule>,
    /// Where free rules' patterns and gate words end, in one pass; what
    /// each of its patterns is.
    ends: EndFinder,
    end_kinds: Vec<EndKind>,
    words: Option<Words>,
    /// Word id → gated rules it opens.
    gated_by_word: Vec<Vec<usize>>,
    /// Where the patterns of gated rules with `ends_len` or keyword-led
    /// end, and rule index → its pattern there.
    gated: Option<EndFinder>,
    gated_pattern: Vec<Option<u32>>,
    /// Widest gate reach of any rule.
    max_gate_reach: usize,
    /// No pattern is anchored to the start or end of a text or line, so a
    /// text without candidates has none in any of its parts either (cut at
    /// non-word bytes). See [`Matcher::enter_block`].
    parts_follow_whole: bool,
}

/// Whether `pattern` asserts the start or end of a text or line anywhere.
fn is_anchored(pattern: &str) -> Result<bool, String> {
    use regex_automata::nfa::thompson;
    use regex_automata::util::look::Look;
    let nfa = thompson::Compiler::new()
        .syntax(rules::pattern_syntax())
        .configure(thompson::Config::new().nfa_size_limit(Some(MAX_COMPILED_PATTERN_BYTES)))
        .build(pattern)
        .map_err(|e| e.to_string())?;
    let looks = nfa.look_set_any();
    Ok([
        Look::Start,
        Look::End,
        Look::StartLF,
        Look::EndLF,
        Look::StartCRLF,
        Look::EndCRLF,
    ]
    .into_iter()
    .any(|l| looks.contains(l)))
}

/// Case variants of a word, listed explicitly for the automaton.
fn variants(word: &str) -> Vec<String> {
    let lower = word.to_lowercase();
    let upper = word.to_uppercase();
    let mut title = String::new();
    let mut chars = lower.chars();
    if let Some(first) = chars.next() {
        title.extend(first.to_uppercase());
        title.push_str(chars.as_str());
    }
    // "Social Security" as well as "Social security".
    let title_words: String = lower
        .split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut v = vec![word.to_string(), lower, upper, title, title_words];
    v.sort();
    v.dedup();
    v
}

/// Ids of the rules' keywords, context and exclude words: one per word,
/// whatever its case, numbered in the order rules name them.
#[derive(Default)]
struct WordIds(HashMap<String, u32>);

impl WordIds {
    fn intern(&mut self, word: &str) -> u32 {
        let next = self.0.len() as u32;
        *self.0.entry(word.to_lowercase()).or_insert(next)
    }

    fn intern_all(&mut self, words: &[String]) -> Vec<u32> {
        words.iter().map(|w| self.intern(w)).collect()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// (lowercase word, id) pairs, in no particular order.
    fn iter(&self) -> impl Iterator<Item = (&str, u32)> {
        self.0.iter().map(|(w, &id)| (w.as_str(), id))
    }
}

impl CompiledRule {
    /// Compiles one rule of a loaded pack; its words get ids from `word_ids`.
    fn new(spec: &RuleSpec, word_ids: &mut WordIds) -> Result<CompiledRule, ConfigError> {
        let (regex, value_group) = compile_rule_pattern(spec)?;
        let validator = validator_of(spec)?;
        check_words(spec, &spec.keywords, "keyword")?;
        let keywords = word_ids.intern_all(&spec.keywords);
        let context = match &spec.context {
            Some(c) => Some(Context::new(spec, c, word_ids)?),
            None => None,
        };
        // Required context words act as keywords: without one the rule
        // cannot report anything.
        let gate = match &context {
            Some(c) if c.required && keywords.is_empty() => c.words.clone(),
            _ => keywords,
        };
        Ok(CompiledRule {
            id: spec.id.as_str().into(),
            entity: spec.entity,
            confidence: spec.confidence,
            regex,
            value_group,
            validator,
            keyword_led: starts_with_keyword(&spec.pattern, &spec.keywords),
            ends_len: longest_match(&spec.pattern).filter(|&n| n <= lanes::WARM_UP),
            gate,
            // Known once every rule's words are (see `set_gate_reach`).
            gate_reach: 0,
            context,
            spec: spec.clone(),
        })
    }
}

/// A rule's regex, and the index of its `value` group if it has one.
fn compile_rule_pattern(spec: &RuleSpec) -> Result<(Regex, Option<usize>), ConfigError> {
    let regex = rules::compile_pattern(&spec.pattern)
        .map_err(|e| spec.error(format!("bad pattern: {e}")))?;
    if regex.is_match(Input::new("")) {
        return Err(spec.error("pattern matches the empty string".into()));
    }
    let value_group = regex
        .group_info()
        .to_index(regex_automata::PatternID::ZERO, "value")
        // A value that is the whole match (but for word boundaries) needs
        // no capture: the search alone is cheaper, no capture engine runs.
        .filter(|_| !value_is_whole_match(&spec.pattern));
    Ok((regex, value_group))
}

/// A rule pattern's syntax tree, parsed as the matcher compiles it
/// (bytes, not Unicode); `None` when it does not parse.
fn pattern_hir(pattern: &str) -> Option<regex_syntax::hir::Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()
}

/// Whether `pattern` is its `value` group with at most zero-width
/// assertions (such as `\b`) around it: then every match is its value.
fn value_is_whole_match(pattern: &str) -> bool {
    use regex_syntax::hir::HirKind;
    let Some(hir) = pattern_hir(pattern) else {
        return false;
    };
    let is_value = |h: &regex_syntax::hir::Hir| matches!(h.kind(), HirKind::Capture(c) if c.name.as_deref() == Some("value"));
    match hir.kind() {
        HirKind::Capture(_) => is_value(&hir),
        HirKind::Concat(parts) => {
            parts.iter().filter(|h| is_value(h)).count() == 1
                && parts
                    .iter()
                    .all(|h| is_value(h) || matches!(h.kind(), HirKind::Look(_)))
        }
        _ => false,
    }
}

fn validator_of(spec: &RuleSpec) -> Result<Option<Validator>, ConfigError> {
    let Some(name) = &spec.validator else {
        return Ok(None);
    };
    match validators::by_name(name) {
        Some(v) => Ok(Some(v)),
        None => Err(spec.error(format!(
            "unknown validator {name:?} (known: {})",
            validators::names().join(", ")
        ))),
    }
}

fn check_words(spec: &RuleSpec, words: &[String], what: &str) -> Result<(), ConfigError> {
    match words.iter().find(|w| w.trim().is_empty()) {
        Some(_) => Err(spec.error(format!("empty {what}"))),
        None => Ok(()),
    }
}

impl Context {
    fn new(
        spec: &RuleSpec,
        c: &ContextSpec,
        word_ids: &mut WordIds,
    ) -> Result<Context, ConfigError> {
        check_words(spec, &c.words, "context word")?;
        check_words(spec, &c.exclude, "exclude word")?;
        if c.words.is_empty() && c.required {
            return Err(spec.error("required context has no words".into()));
        }
        let words = word_ids.intern_all(&c.words);
        Ok(Context {
            is_word: WordSet::of(&words),
            words,
            exclude: WordSet::of(&word_ids.intern_all(&c.exclude)),
            window: c.window,
            required: c.required,
            confidence: c.confidence,
        })
    }
}

/// A set of word ids.
#[derive(Clone, Debug, Default)]
struct WordSet(Vec<u64>);

impl WordSet {
    fn of(ids: &[u32]) -> WordSet {
        let mut bits = Vec::new();
        for &id in ids {
            let (word, bit) = (id as usize / 64, id % 64);
            if bits.len() <= word {
                bits.resize(word + 1, 0);
            }
            bits[word] |= 1u64 << bit;
        }
        WordSet(bits)
    }

    fn contains(&self, id: u32) -> bool {
        self.0
            .get(id as usize / 64)
            .is_some_and(|bits| bits & (1u64 << (id % 64)) != 0)
    }
}

/// Word id → the gated rules it opens.
fn gated_by_word(rules: &[CompiledRule], word_count: usize) -> Vec<Vec<usize>> {
    let mut gated: Vec<Vec<usize>> = vec![Vec::new(); word_count];
    for (index, rule) in rules.iter().enumerate() {
        for &w in &rule.gate {
            if !gated[w as usize].contains(&index) {
                gated[w as usize].push(index);
            }
        }
    }
    gated
}

/// The candidate finder: one [`EndFinder`] over every free rule's pattern,
/// then each gate word's case variants with the word boundaries their
/// edges need; and what each of its patterns stands for.
///
/// Gated rules stay off it: they are searched only around their gate
/// words, which are rare, while their patterns (dates, bare 9-digit
/// numbers) match on nearly every line of logs and exports.
fn candidate_finder(
    rules: &[CompiledRule],
    word_ids: &WordIds,
    gated_by_word: &[Vec<usize>],
) -> Result<(EndFinder, Vec<EndKind>), ConfigError> {
    let mut patterns: Vec<String> = Vec::new();
    let mut kinds: Vec<EndKind> = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        if rule.gate.is_empty() {
            patterns.push(rule.spec.pattern.clone());
            kinds.push(EndKind::Rule(i));
        }
    }
    let mut gate_words: Vec<(&str, u32)> = word_ids
        .iter()
        .filter(|&(_, id)| !gated_by_word[id as usize].is_empty())
        .collect();
    gate_words.sort();
    for (word, id) in gate_words {
        for v in variants(word) {
            let edge = |b: Option<&u8>| {
                if b.is_some_and(|&b| is_word_byte(b)) {
                    r"\b"
                } else {
                    ""
                }
            };
            patterns.push(format!(
                "{}{}{}",
                edge(v.as_bytes().first()),
                regex::escape(&v),
                edge(v.as_bytes().last())
            ));
            kinds.push(EndKind::Word {
                word: id,
                len: v.len(),
            });
        }
    }
    let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
    let finder = EndFinder::new(&refs, JOINED_NFA_LIMIT, END_CACHE_BYTES).map_err(|e| {
        ConfigError::Invalid(format!(
            "the rule pack's patterns together are too large: {e}"
        ))
    })?;
    Ok((finder, kinds))
}

/// The end finder over the patterns of gated rules tried around their
/// ends (`ends_len`) or at keywords that lead a match (keyword-led), and
/// each rule's pattern there.
fn gated_finder(
    rules: &[CompiledRule],
) -> Result<(Option<EndFinder>, Vec<Option<u32>>), ConfigError> {
    let mut patterns: Vec<&str> = Vec::new();
    let mut of_rule = vec![None; rules.len()];
    for (i, rule) in rules.iter().enumerate() {
        if !rule.gate.is_empty() && (rule.keyword_led || rule.ends_len.is_some()) {
            of_rule[i] = Some(patterns.len() as u32);
            patterns.push(&rule.spec.pattern);
        }
    }
    if patterns.is_empty() {
        return Ok((None, of_rule));
    }
    let finder = EndFinder::new(&patterns, JOINED_NFA_LIMIT, END_CACHE_BYTES).map_err(|e| {
        ConfigError::Invalid(format!(
            "the rule pack's gated patterns together are too large: {e}"
        ))
    })?;
    Ok((Some(finder), of_rule))
}

/// How far from a gate word each rule's matches can be: a required context
/// word labels matches within its window; a plain keyword opens the text
/// around it as far as any label can reach.
fn set_gate_reach(rules: &mut [CompiledRule], words: Option<&Words>) {
    let longest_word = words.map_or(0, |w| w.longest);
    let widest_window = rules
        .iter()
        .filter_map(|r| r.context.as_ref().map(|c| c.window))
        .max()
        .unwrap_or(0);
    let word_reach = widest_window + longest_word;
    for rule in rules {
        rule.gate_reach = match &rule.context {
            Some(c) if c.required && rule.spec.keywords.is_empty() => c.window,
            _ => word_reach,
        };
    }
}

impl Matcher {
    /// Compiles a loaded pack's rules (rule by rule, in pack order, so the
    /// first bad rule is the one reported), then the automata over them.
    pub fn new(pack: &RulePack) -> Result<Matcher, ConfigError> {
        let mut word_ids = WordIds::default();
        let mut rules = pack
            .rules()
            .iter()
            .map(|spec| CompiledRule::new(spec, &mut word_ids))
            .collect::<Result<Vec<_>, _>>()?;
        let words = Words::build(word_ids.iter(), false)?;
        let gated_by_word = gated_by_word(&rules, word_ids.len());
        let (ends, end_kinds) = candidate_finder(&rules, &word_ids, &gated_by_word)?;
        set_gate_reach(&mut rules, words.as_ref());
        let max_gate_reach = rules
            .iter()
            .filter(|r| !r.gate.is_empty())
            .map(|r| r.gate_reach)
            .max()
            .unwrap_or(0);
        let parts_follow_whole = rules
            .iter()
            .all(|r| !is_anchored(&r.spec.pattern).unwrap_or(true));
        let (gated, gated_pattern) = gated_finder(&rules)?;
        Ok(Matcher {
            gated,
            gated_pattern,
            parts_follow_whole,
            rules,
            ends,
            end_kinds,
            words,
            gated_by_word,
            max_gate_reach,
        })
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
        Scratch {
            caches: self.rules.iter().map(|r| r.regex.create_cache()).collect(),
            // Groups only for rules whose value is a group of the match
            // (see `take_match`); the others never capture.
            captures: self
                .rules
                .iter()
                .map(|r| match r.value_group {
                    Some(_) => r.regex.create_captures(),
                    None => Captures::matches(r.regex.group_info().clone()),
                })
                .collect(),
            end_cache: Box::new(self.ends.new_cache()),
            ends: Vec::new(),
            region_rules: Vec::new(),
            words: Vec::new(),
            gate_regions: Vec::new(),
            gate_buckets: GateBuckets::default(),
            gated_cache: None,
            gated_spans: Vec::new(),
            gated_found: Vec::new(),
            rule_ends: Vec::new(),
            word_blocks: Vec::new(),
            quiet: None,
            quiet_bytes: Vec::new(),
        }
    }

    /// Starts a block: until [`Matcher::leave_block`], `find` skips every
    /// text that is a part of `block` (a sub-slice of it whose neighbouring
    /// bytes in `block` cannot touch a match or word), when `quiet` says
    /// that `block` holds no candidate at all ([`Matcher::quiet_parts`]).
    /// Structured formats match many short fields (cells, HL7 components),
    /// and most records hold nothing: one verdict over the record then
    /// replaces one search per field. `block` must not change until the
    /// block is left (callers pass a borrowed record). Returns whether the
    /// block was entered; pass that to `leave_block`.
    pub fn enter_block(&self, block: &[u8], quiet: bool, scratch: &mut Scratch) -> bool {
        if !quiet
            || !self.parts_follow_whole
            || scratch.quiet.is_some()
            || block.len() > MAX_QUIET_BLOCK
        {
            return false;
        }
        let at = block.as_ptr() as usize;
        scratch.quiet = Some(at..at + block.len());
        scratch.quiet_bytes.clear();
        scratch.quiet_bytes.extend_from_slice(block);
        true
    }

    /// Which `parts` of `buf` hold no candidate at all, in one pass over
    /// `buf` instead of one search per part: pushes one verdict per part
    /// to `quiet`. `parts` must be in order, not overlapping, and each
    /// must have non-word bytes (or the edge of `buf`) either side. Then a
    /// match in a part alone is one in `buf` too (no pattern is anchored,
    /// and word boundaries fall alike), ending inside the part.
    pub fn quiet_parts(
        &self,
        buf: &[u8],
        parts: &[Range<usize>],
        scratch: &mut Scratch,
        quiet: &mut Vec<bool>,
    ) {
        let ends = if self.parts_follow_whole {
            self.ends_in(buf, 0..buf.len(), scratch)
        } else {
            None
        };
        let Some(ends) = ends else {
            quiet.extend(parts.iter().map(|_| false));
            return;
        };
        let mut next = 0;
        for part in parts {
            while next < ends.len() && ends[next].end <= part.start {
                next += 1;
            }
            quiet.push(ends.get(next).is_none_or(|e| e.end > part.end));
        }
        scratch.ends = ends;
    }

    /// Ends a block started by [`Matcher::enter_block`].
    pub fn leave_block(&self, entered: bool, scratch: &mut Scratch) {
        if entered {
            scratch.quiet = None;
        }
    }

    /// Whether `buf` is a part of the current quiet block whose neighbours
    /// there are non-word bytes: then word boundaries fall alike in both,
    /// every match or gate word in `buf` is one in the block too (see
    /// [`Matcher::quiet_parts`]), and the block has none.
    fn in_quiet_block(&self, buf: &[u8], scratch: &Scratch) -> bool {
        let Some(quiet) = &scratch.quiet else {
            return false;
        };
        let at = buf.as_ptr() as usize;
        if at < quiet.start || at + buf.len() > quiet.end {
            return false;
        }
        let offset = at - quiet.start;
        let block = &scratch.quiet_bytes;
        let edge_safe = |b: u8| !is_word_byte(b);
        (offset == 0 || edge_safe(block[offset - 1]))
            && block.get(offset + buf.len()).is_none_or(|&b| edge_safe(b))
    }

    /// Every (end, pattern) of the end finder in `area` of `buf`, in the
    /// scratch's vector (give it back: `scratch.ends = ends`); `None` when
    /// the search gave up.
    fn ends_in(&self, buf: &[u8], area: Range<usize>, scratch: &mut Scratch) -> Option<Vec<End>> {
        let mut ends = std::mem::take(&mut scratch.ends);
        ends.clear();
        match self.ends.find(buf, area, &mut scratch.end_cache, &mut ends) {
            Ok(()) => Some(ends),
            Err(_) => {
                scratch.ends = ends;
                None
            }
        }
    }

    /// Whether any rule could match somewhere in `buf` searched alone: the
    /// reference the batch verdicts are tested against.
    #[cfg(test)]
    fn has_candidates(&self, buf: &[u8], scratch: &mut Scratch) -> bool {
        match self.ends_in(buf, 0..buf.len(), scratch) {
            Some(ends) => {
                let found = !ends.is_empty();
                scratch.ends = ends;
                found
            }
            None => true,
        }
    }

    /// Appends to `hits` every match in `buf` whose value starts inside
    /// `owned`. Bytes outside `owned` are context only: they are searched for
    /// context words and looked at by word boundaries, never reported.
    pub fn find(
        &self,
        buf: &[u8],
        owned: Range<usize>,
        scratch: &mut Scratch,
        hits: &mut Vec<Hit>,
    ) {
        let owned = owned.start.min(buf.len())..owned.end.min(buf.len());
        if self.in_quiet_block(buf, scratch) {
            return;
        }
        // Words are looked for lazily, around matches; none are known yet
        // in this buffer.
        scratch.words.clear();
        scratch.word_blocks.clear();
        // One pass finds where free rules' matches and gate words end:
        // free matches that start in `owned` end at most MAX_MATCH past
        // it; gate words count as far as any gated rule reaches.
        // A gate word after a match starts within reach of its end, and
        // ends up to a word's length further.
        let reach = self.max_gate_reach + MAX_MATCH + self.longest_word();
        let area = owned.start.saturating_sub(reach)..(owned.end + reach).min(buf.len());
        let Some(ends) = self.ends_in(buf, area, scratch) else {
            // Never expected (see `GaveUp`): then every rule runs
            // everywhere, which finds a superset of what gates allow.
            for index in 0..self.rules.len() {
                self.run_rule(index, buf, owned.clone(), false, scratch, hits);
            }
            return;
        };
        self.find_free(buf, owned.clone(), &ends, scratch, hits);
        self.find_gated(buf, owned, &ends, scratch, hits);
        scratch.ends = ends;
    }

    /// Rules without a gate, on the lines around their candidates: each
    /// candidate's match ends at a known place and starts at most
    /// MAX_MATCH before it. Nearby candidates share one region.
    fn find_free(
        &self,
        buf: &[u8],
        owned: Range<usize>,
        ends: &[End],
        scratch: &mut Scratch,
        hits: &mut Vec<Hit>,
    ) {
        let free_end = |e: &End| matches!(self.end_kinds[e.pattern as usize], EndKind::Rule(_));
        let mut rules = std::mem::take(&mut scratch.region_rules);
        let mut at = owned.start;
        let mut next = 0;
        while let Some(i) = (next..ends.len()).find(|&i| ends[i].end > at && free_end(&ends[i])) {
            let e = ends[i].end;
            let earliest = e.saturating_sub(MAX_MATCH).max(at);
            if earliest >= owned.end {
                break;
            }
            let (region_start, mut region_end) = line_around(buf, earliest, e, at);
            // The lines of nearby candidates too, so that dense text is
            // handled in blocks, not line by line.
            let mut j = i + 1;
            while region_end - region_start < BLOCK && region_end < owned.end {
                match ends[j.min(ends.len())..]
                    .iter()
                    .position(|x| x.end > region_end && free_end(x))
                {
                    Some(k) if ends[j + k].end - region_end <= BLOCK_GAP => {
                        let e2 = ends[j + k].end;
                        region_end = line_around(buf, e2 - 1, e2, region_end).1;
                        j += k + 1;
                    }
                    _ => break,
                }
            }
            // Rules with a match ending where one that starts in the region
            // can end.
            rules.clear();
            let last_end = region_end + MAX_MATCH;
            for x in &ends[i..] {
                if x.end > last_end {
                    break;
                }
                if let EndKind::Rule(r) = self.end_kinds[x.pattern as usize] {
                    rules.push(r);
                }
            }
            rules.sort_unstable();
            rules.dedup();
            let accept = region_start.max(owned.start)..region_end.min(owned.end);
            for &rule in &rules {
                if self.rules[rule].ends_len.is_none() {
                    self.run_rule(rule, buf, accept.clone(), false, scratch, hits);
                    continue;
                }
                // Every match that starts at `accept.start` or later ends
                // after it, among the ends from `i` on (those before end
                // at or before `at`).
                let mut rule_ends = std::mem::take(&mut scratch.rule_ends);
                rule_ends.clear();
                rule_ends.extend(
                    ends[i..]
                        .iter()
                        .take_while(|x| x.end <= last_end)
                        .filter(|x| matches!(self.end_kinds[x.pattern as usize], EndKind::Rule(r) if r == rule))
                        .map(|x| x.end),
                );
                self.run_rule_at_ends(rule, buf, accept.clone(), &rule_ends, scratch, hits);
                scratch.rule_ends = rule_ends;
            }
            at = at.max(region_end);
            next = i + 1;
        }
        scratch.region_rules = rules;
    }

    /// Makes sure `scratch.words` holds every keyword and context word that
    /// starts in `need`: the words of each block of [`WORD_BLOCK`] bytes
    /// that `need` touches, found once per buffer. Consecutive blocks not
    /// searched yet are searched in one walk, which starts a little before
    /// the first (`Words::lead`), so that a word across its start is found
    /// as a search from further back finds it.
    fn ensure_words(&self, buf: &[u8], need: Range<usize>, scratch: &mut Scratch) {
        let Some(words) = &self.words else { return };
        let need = need.start..need.end.min(buf.len());
        if need.is_empty() {
            return;
        }
        let blocks = &mut scratch.word_blocks;
        if blocks.is_empty() {
            blocks.resize(buf.len().div_ceil(WORD_BLOCK), WordBlock::UNSEARCHED);
        }
        let last = (need.end - 1) / WORD_BLOCK;
        let mut index = need.start / WORD_BLOCK;
        while index <= last {
            if blocks[index].is_searched() {
                index += 1;
                continue;
            }
            let mut run_end = index + 1;
            while run_end <= last && !blocks[run_end].is_searched() {
                run_end += 1;
            }
            let start = index * WORD_BLOCK;
            let end = (run_end * WORD_BLOCK).min(buf.len());
            let area = start.saturating_sub(words.lead)..(end + words.longest).min(buf.len());
            let found = &mut scratch.words;
            let first = found.len();
            words.each(buf, area, |word, s, e| {
                if (start..end).contains(&s) {
                    found.push(WordHit {
                        word,
                        start: s,
                        end: e,
                    });
                }
            });
            // Words come in order of their starts: split them by block.
            let mut from = first;
            for (b, slot) in blocks[index..run_end].iter_mut().enumerate() {
                let block_end = (index + b + 1) * WORD_BLOCK;
                let to = from + found[from..].partition_point(|w| w.start < block_end);
                *slot = WordBlock { words: (from, to) };
                from = to;
            }
            index = run_end;
        }
    }

    /// The words found so far that start in `from..=to`, in order.
    fn words_between<'s>(
        &self,
        scratch: &'s Scratch,
        from: usize,
        to: usize,
    ) -> impl Iterator<Item = &'s WordHit> {
        let blocks = &scratch.word_blocks;
        let first = (from / WORD_BLOCK).min(blocks.len());
        let last = (to / WORD_BLOCK + 1).min(blocks.len()).max(first);
        // A block's words are in order of start: each block's slice is
        // cut to the span by bisection rather than filtered word by word
        // (dense text has dozens of words per block and a lookup per match).
        blocks[first..last]
            .iter()
            .filter(|b| b.is_searched())
            .flat_map(move |b| {
                let words = &scratch.words[b.words.0..b.words.1];
                let lo = words.partition_point(|w| w.start < from);
                let hi = lo + words[lo..].partition_point(|w| w.start <= to);
                &words[lo..hi]
            })
    }

    /// Gated rules: only around their gate words, each rule within its
    /// reach of one, merged into as few regions as possible. Where gate
    /// words are dense (every sentence of clinical notes names a patient,
    /// a phone, a date of birth) the regions cover the text: then the
    /// rules whose matches the gated end finder sees whole are not each
    /// run across it, but tried around the ends of their matches, found
    /// for all of them in one pass.
    fn find_gated(
        &self,
        buf: &[u8],
        owned: Range<usize>,
        ends: &[End],
        scratch: &mut Scratch,
        hits: &mut Vec<Hit>,
    ) {
        let mut regions = std::mem::take(&mut scratch.gate_regions);
        regions.clear();
        self.gate_regions(owned, ends, &mut scratch.gate_buckets, &mut regions);
        let gated_ends = self.gated_ends_in(buf, &regions, scratch);
        let mut rule_ends = std::mem::take(&mut scratch.rule_ends);
        // Per rule, the first of its ends not yet behind its regions.
        let mut cursor = (usize::MAX, 0);
        for &(rule, from, to) in &regions {
            let compiled = &self.rules[rule];
            if compiled.keyword_led {
                // Tried only where the gated end finder saw a match of the
                // rule's pattern end within reach of the keyword: a keyword
                // in every sentence mostly leads no value.
                let led_ends = match (&gated_ends, self.gated_pattern[rule]) {
                    (Some(found), Some(pattern)) => {
                        if cursor.0 != rule {
                            // The rule's first region: its ends from here on,
                            // once for all its regions.
                            cursor = (rule, 0);
                            rule_ends.clear();
                            rule_ends.extend(
                                found
                                    .iter()
                                    .filter(|x| x.end > from && x.pattern == pattern)
                                    .map(|x| x.end),
                            );
                        }
                        Some(&rule_ends)
                    }
                    _ => None,
                };
                for at in from..to {
                    if let Some(ends) = led_ends {
                        while ends.get(cursor.1).is_some_and(|&e| e <= at) {
                            cursor.1 += 1;
                        }
                        let search_end = (at + 1 + MAX_MATCH).min(buf.len());
                        if ends.get(cursor.1).is_none_or(|&e| e > search_end) {
                            continue;
                        }
                    }
                    self.run_rule(rule, buf, at..at + 1, true, scratch, hits);
                }
                continue;
            }
            let (Some(found), Some(pattern)) = (&gated_ends, self.gated_pattern[rule]) else {
                self.run_rule(rule, buf, from..to, false, scratch, hits);
                continue;
            };
            if cursor.0 != rule {
                cursor = (rule, 0);
            }
            let search_end = (to + MAX_MATCH).min(buf.len());
            while found.get(cursor.1).is_some_and(|x| x.end <= from) {
                cursor.1 += 1;
            }
            rule_ends.clear();
            rule_ends.extend(
                found[cursor.1..]
                    .iter()
                    .take_while(|x| x.end <= search_end)
                    .filter(|x| x.pattern == pattern)
                    .map(|x| x.end),
            );
            self.run_rule_at_ends(rule, buf, from..to, &rule_ends, scratch, hits);
        }
        scratch.rule_ends = rule_ends;
        if let Some(found) = gated_ends {
            scratch.gated_found = found;
        }
        scratch.gate_regions = regions;
    }

    /// Every (end, pattern) of the gated end finder where the regions of
    /// the rules it serves can hold a match: one pass over their union.
    /// `None` without such rules or regions, or when the search gave up
    /// (then the rules run across their regions).
    fn gated_ends_in(
        &self,
        buf: &[u8],
        regions: &[(usize, usize, usize)],
        scratch: &mut Scratch,
    ) -> Option<Vec<End>> {
        let finder = self.gated.as_ref()?;
        let spans = &mut scratch.gated_spans;
        spans.clear();
        // Regions come by rule, each rule's in order of start: a rule's
        // spans are joined as they come (keyword-led rules have one region
        // per keyword, in prose one per sentence), so that few are sorted.
        let mut last_rule = usize::MAX;
        for &(rule, from, to) in regions {
            if self.gated_pattern[rule].is_none() {
                continue;
            }
            let span = from..(to + MAX_MATCH).min(buf.len());
            match spans.last_mut() {
                Some(last) if last_rule == rule && span.start <= last.end => {
                    last.start = last.start.min(span.start);
                    last.end = last.end.max(span.end);
                }
                _ => spans.push(span),
            }
            last_rule = rule;
        }
        if spans.is_empty() {
            return None;
        }
        spans.sort_unstable_by_key(|r| r.start);
        let mut found = std::mem::take(&mut scratch.gated_found);
        found.clear();
        let cache = scratch
            .gated_cache
            .get_or_insert_with(|| Box::new(finder.new_cache()));
        // Their union, in place: stretches in order, apart.
        let mut kept: usize = 0;
        for i in 0..spans.len() {
            let span = spans[i].clone();
            match kept.checked_sub(1).map(|k| &mut spans[k]) {
                Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
                _ => {
                    spans[kept] = span;
                    kept += 1;
                }
            }
        }
        spans.truncate(kept);
        if finder.find_in_areas(buf, spans, cache, &mut found).is_err() {
            scratch.gated_found = found;
            return None;
        }
        Some(found)
    }

    /// (rule, from, to) for each gate word among `ends` and each rule it
    /// opens, cut to `owned`: where a match of that rule can start. A
    /// keyword-led rule is tried only right where its keyword starts. In
    /// order of rule and start, each rule's regions merged where they
    /// overlap or lie within BLOCK_GAP of each other.
    ///
    /// Merged as they are found, per rule, not sorted afterwards: `ends`
    /// come in order of their end, so a rule's regions come in order of
    /// their end too, and each new one either extends the last (and maybe
    /// reaches back over earlier ones) or starts after it. Where words are
    /// in every sentence, sorting them all was a fifth of a scan.
    fn gate_regions(
        &self,
        owned: Range<usize>,
        ends: &[End],
        buckets: &mut GateBuckets,
        regions: &mut Vec<(usize, usize, usize)>,
    ) {
        buckets.start(self.rules.len());
        for x in ends {
            let EndKind::Word { word, len } = self.end_kinds[x.pattern as usize] else {
                continue;
            };
            let (start, end) = (x.end - len, x.end);
            for &rule in &self.gated_by_word[word as usize] {
                let keyword_led = self.rules[rule].keyword_led;
                let (from, to) = if keyword_led {
                    (start, start + 1)
                } else {
                    let r = self.rules[rule].gate_reach;
                    (
                        start.saturating_sub(r + MAX_MATCH).max(owned.start),
                        // A match may start `r` bytes after the word: the
                        // context window counts that far.
                        (end + r + 1).min(owned.end),
                    )
                };
                if from < to && (!keyword_led || (owned.start..owned.end).contains(&start)) {
                    buckets.add(rule, from, to, keyword_led);
                }
            }
        }
        buckets.finish(regions, |rule| self.rules[rule].keyword_led);
    }

    /// Runs one rule over matches that start inside `accept` (they may end
    /// up to MAX_MATCH bytes past it); `anchored`: only a match that starts
    /// right at `accept.start`.
    fn run_rule(
        &self,
        index: usize,
        buf: &[u8],
        accept: Range<usize>,
        anchored: bool,
        scratch: &mut Scratch,
        hits: &mut Vec<Hit>,
    ) {
        let rule = &self.rules[index];
        let search_end = (accept.end + MAX_MATCH).min(buf.len());
        let mut at = accept.start;
        while at < accept.end {
            let mut input = Input::new(buf).range(at..search_end);
            if anchored {
                input = input.anchored(regex_automata::Anchored::Yes);
            }
            let Some(m) = rule.regex.search_with(&mut scratch.caches[index], &input) else {
                break;
            };
            if m.start() >= accept.end {
                break;
            }
            at = self.take_match(index, buf, m.range(), scratch, hits);
        }
    }

    /// [`Matcher::run_rule`] (unanchored) for a rule with `ends_len`, given
    /// `ends`: in order, every end of a match of its pattern that starts at
    /// `accept.start` or later and ends by `accept.end + MAX_MATCH` (more
    /// ends do no harm). Finds the same matches, searching only around
    /// those ends: the match a search from `at` finds ends at one of them,
    /// at the first (`e`) or later, so it starts at `e - ends_len` or
    /// later; when it starts by `e`, all its alternatives end by
    /// `e + ends_len`, and a search of that stretch finds it. When that
    /// search finds none starting by `e`, no match starts between `at`
    /// and `e`.
    fn run_rule_at_ends(
        &self,
        index: usize,
        buf: &[u8],
        accept: Range<usize>,
        ends: &[usize],
        scratch: &mut Scratch,
        hits: &mut Vec<Hit>,
    ) {
        let rule = &self.rules[index];
        let Some(len) = rule.ends_len else {
            return self.run_rule(index, buf, accept, false, scratch, hits);
        };
        let search_end = (accept.end + MAX_MATCH).min(buf.len());
        let mut at = accept.start;
        let mut next = 0;
        while at < accept.end {
            while ends.get(next).is_some_and(|&e| e <= at) {
                next += 1;
            }
            let Some(&e) = ends.get(next) else { break };
            if e > search_end {
                break;
            }
            let from = at.max(e.saturating_sub(len));
            if from >= accept.end {
                break;
            }
            let input = Input::new(buf).range(from..(e + len).min(search_end));
            match rule.regex.search_with(&mut scratch.caches[index], &input) {
                Some(m) if m.start() <= e => {
                    if m.start() >= accept.end {
                        break;
                    }
                    at = self.take_match(index, buf, m.range(), scratch, hits);
                }
                _ => at = e + 1,
            }
        }
    }

    /// What [`Matcher::run_rule`] does with a match of rule `index` at
    /// `span`: reports it when it stands alone, passes its validator and
    /// its context; returns where the search goes on.
    ///
    /// The search gives the match's span only: where the value is a group
    /// of it, the capture engine runs on that span once the match stands
    /// alone and its context is known (a bounded backtracker per match
    /// was 6% of date-dense JSON, most of it on dates that context words
    /// then rejected).
    fn take_match(
        &self,
        index: usize,
        buf: &[u8],
        span: Range<usize>,
        scratch: &mut Scratch,
        hits: &mut Vec<Hit>,
    ) -> usize {
        let rule = &self.rules[index];
        let next = if span.end > span.start {
            span.end
        } else {
            span.start + 1
        };
        if !stands_alone(buf, span.start, span.end) {
            // A longer token may still hold a real match further on.
            return span.start + 1;
        }
        let validated = |value: &Range<usize>| {
            !value.is_empty()
                && rule
                    .validator
                    .is_none_or(|validate| validate(&String::from_utf8_lossy(&buf[value.clone()])))
        };
        // A value that is the match is judged before its context (the
        // cheaper check first); a group, once the context lets it through.
        if rule.value_group.is_none() && !validated(&span) {
            return next;
        }
        let confidence = match &rule.context {
            None => rule.confidence,
            Some(ctx) => match self.context_confidence(rule, ctx, buf, span.clone(), scratch) {
                Some(confidence) => confidence,
                None => return next,
            },
        };
        let value = match rule.value_group {
            None => span,
            Some(group) => {
                // The same match again, anchored to its span: the
                // highest-priority match there is the one found.
                let input = Input::new(buf)
                    .span(span.clone())
                    .anchored(regex_automata::Anchored::Yes);
                let caps = &mut scratch.captures[index];
                rule.regex
                    .search_captures_with(&mut scratch.caches[index], &input, caps);
                // A value group left out of the match: the whole match.
                let value = caps
                    .get_group(group)
                    .map_or(span.clone(), |s| s.start..s.end);
                if !validated(&value) {
                    return next;
                }
                value
            }
        };
        hits.push(Hit {
            rule: index,
            start: value.start,
            end: value.end,
            confidence,
        });
        next
    }

    /// Bytes of the longest keyword or context word (any case variant).
    fn longest_word(&self) -> usize {
        self.words.as_ref().map_or(0, |w| w.longest)
    }

    /// The confidence of a match of `rule` at `span` by the words around
    /// it; `None`: not a finding (an exclude word decides, or a required
    /// context word is missing).
    fn context_confidence(
        &self,
        rule: &CompiledRule,
        ctx: &Context,
        buf: &[u8],
        span: Range<usize>,
        scratch: &mut Scratch,
    ) -> Option<Confidence> {
        let need = span.start.saturating_sub(ctx.window + self.longest_word())
            ..(span.end + ctx.window + 1).min(buf.len());
        self.ensure_words(buf, need, scratch);
        match self.judge_context(ctx, buf, scratch, span.start, span.end) {
            ContextVerdict::Rejected => None,
            ContextVerdict::Absent if ctx.required => None,
            ContextVerdict::Absent => Some(rule.confidence),
            ContextVerdict::Present => Some(ctx.confidence.unwrap_or(rule.confidence)),
        }
    }

    /// Decides from the labels around a match. Labels precede values, so
    /// the nearest word before the match (context or exclude) decides; only
    /// when there is none does the nearest word after it.
    fn judge_context(
        &self,
        ctx: &Context,
        buf: &[u8],
        scratch: &Scratch,
        start: usize,
        end: usize,
    ) -> ContextVerdict {
        // A word that ends within the window before the match starts at
        // most its length earlier.
        let from = start.saturating_sub(ctx.window + self.longest_word());
        // (distance, is_exclude) of the nearest word on each side.
        let mut before: Option<(usize, bool)> = None;
        let mut after: Option<(usize, bool)> = None;
        for w in self.words_between(scratch, from, end + ctx.window) {
            let is_context = ctx.is_word.contains(w.word);
            let is_exclude = ctx.exclude.contains(w.word);
            if !is_context && !is_exclude {
                continue;
            }
            let (side, distance) = if w.end <= start {
                if !labels_across_lines(buf, w.end, start) {
                    continue;
                }
                (&mut before, start - w.end)
            } else if w.start >= end {
                if buf
                    .get(end..w.start)
                    .is_some_and(|gap| gap.contains(&b'\n'))
                {
                    continue;
                }
                (&mut after, w.start - end)
            } else {
                // Overlapping the match: not a label for it.
                continue;
            };
            if distance > ctx.window {
                continue;
            }
            // On a tie an exclude word wins: better a missed label than a
            // service date reported as a birth date.
            if side.is_none_or(|(d, ex)| distance < d || (distance == d && is_exclude && !ex)) {
                *side = Some((distance, is_exclude));
            }
        }
        match before.or(after) {
            Some((_, true)) => ContextVerdict::Rejected,
            Some((_, false)) => ContextVerdict::Present,
            None => ContextVerdict::Absent,
        }
    }
}

/// A word ending at `label_end` labels a value at `value_start`: on the same
/// line, or on the next line when the word ends its own line (a form's
/// `Date of birth` above its value), not when other text follows it.
fn labels_across_lines(buf: &[u8], label_end: usize, value_start: usize) -> bool {
    let Some(gap) = buf.get(label_end..value_start) else {
        return false;
    };
    match memchr::memchr(b'\n', gap) {
        None => true,
        Some(nl) => {
            !gap[nl + 1..].contains(&b'\n')
                && gap[..nl].iter().all(|b| b" \t\r:#=-.()[]|*".contains(b))
        }
    }
}

enum ContextVerdict {
    Present,
    Absent,
    Rejected,
}

/// The line around `start..end`, bounded to MAX_LINE_REACH either side and
/// never starting before `floor`.
fn line_around(buf: &[u8], start: usize, end: usize, floor: usize) -> (usize, usize) {
    // Newlines are looked for within reach only: in a long line (minified
    // JSON) a search to the line's ends read megabytes per candidate.
    let reach_start = start.saturating_sub(MAX_LINE_REACH).max(floor);
    let region_start = match buf.get(reach_start..start) {
        Some(before) => memchr::memrchr(b'\n', before).map_or(reach_start, |i| reach_start + i + 1),
        None => reach_start,
    };
    let reach_end = (end + MAX_LINE_REACH).min(buf.len());
    let line_end = memchr::memchr(b'\n', &buf[end..reach_end]).map_or(reach_end, |i| end + i);
    let region_end = line_end.max(start + 1);
    (region_start, region_end)
}

/// A match stands alone when it is not part of a longer identifier or number:
/// no word character directly before or after it (where its own edge is a
/// word character), and no digit group joined to it by `.`, `-` or `/`
/// (decimals, IP addresses, versions, longer dashed numbers).
fn stands_alone(buf: &[u8], start: usize, end: usize) -> bool {
    let (Some(&first), Some(&last)) = (buf.get(start), buf.get(end.wrapping_sub(1))) else {
        return true;
    };
    // Not ',': it separates CSV fields far more often than it groups digits.
    let joiner = |b: u8| matches!(b, b'.' | b'-' | b'/');
    if start > 0 {
        let before = buf[start - 1];
        if is_word_byte(first) && is_word_byte(before) {
            return false;
        }
        if first.is_ascii_digit() && joiner(before) && start > 1 && buf[start - 2].is_ascii_digit()
        {
            return false;
        }
    }
    if let Some(&after) = buf.get(end) {
        if is_word_byte(last) && is_word_byte(after) {
            return false;
        }
        if last.is_ascii_digit()
            && joiner(after)
            && buf.get(end + 1).is_some_and(|b| b.is_ascii_digit())
        {
            return false;
        }
    }
    true
}

/// Whether every match of `pattern` starts with one of `keywords` (ASCII
/// case ignored): then a keyword-gated rule need only be tried where a
/// keyword starts, not across the text around it. Judged from the
/// pattern's prefix literals; `false` when they cannot be listed.
fn starts_with_keyword(pattern: &str, keywords: &[String]) -> bool {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    if keywords.is_empty() {
        return false;
    }
    let Some(hir) = pattern_hir(pattern) else {
        return false;
    };
    let longest = keywords.iter().map(String::len).max().unwrap_or(0);
    let mut extractor = Extractor::new();
    extractor
        .kind(ExtractKind::Prefix)
        .limit_literal_len(longest.max(1))
        .limit_class(64)
        .limit_total(4096);
    let seq = extractor.extract(&hir);
    let Some(literals) = seq.literals() else {
        return false;
    };
    !literals.is_empty()
        && literals.iter().all(|lit| {
            let bytes = lit.as_bytes();
            keywords.iter().any(|k| {
                let k = k.as_bytes();
                !k.is_empty() && bytes.len() >= k.len() && bytes[..k.len()].eq_ignore_ascii_case(k)
            })
        })
}

/// The most bytes a match of `pattern` can take, when that is bounded and
/// every match takes at least one.
fn longest_match(pattern: &str) -> Option<usize> {
    let hir = pattern_hir(pattern)?;
    // A pattern that can match nothing is left to the plain search: an
    // empty match has no end after its start to be found by.
    let props = hir.properties();
    if props.minimum_len().is_none_or(|n| n == 0) {
        return None;
    }
    props.maximum_len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    fn matcher(toml: &str) -> Matcher {
        Matcher::new(&RulePack::parse("test.toml", toml).unwrap()).unwrap()
    }

    fn values(m: &Matcher, text: &str) -> Vec<(String, String, Confidence)> {
        let mut scratch = m.new_scratch();
        let mut hits = Vec::new();
        m.find(text.as_bytes(), 0..text.len(), &mut scratch, &mut hits);
        hits.sort_by_key(|h| (h.start, h.rule));
        hits.iter()
            .map(|h| {
                (
                    m.rule(h.rule).id.to_string(),
                    text[h.start..h.end].to_string(),
                    h.confidence,
                )
            })
            .collect()
    }

    const PACK: &str = r#"
[[rules]]
id = "dashed"
entity = "SSN"
description = "dashed"
pattern = '\d{3}-\d{2}-\d{4}'
confidence = "HIGH"

[[rules]]
id = "ten"
entity = "NPI"
description = "ten digits, more sure with a label"
pattern = '\d{10}'
confidence = "LOW"
[rules.context]
words = ["npi", "provider"]
confidence = "HIGH"

[[rules]]
id = "bare"
entity = "SSN"
description = "nine digits with a label"
pattern = '\d{9}'
confidence = "MEDIUM"
[rules.context]
words = ["ssn", "ss#", "social security"]
required = true

[[rules]]
id = "dob"
entity = "DOB"
description = "date near a birth label"
pattern = '(?P<value>\d{2}/\d{2}/\d{4})'
confidence = "HIGH"
[rules.context]
words = ["dob", "date of birth"]
required = true
window = 30
exclude = ["visit", "invoice"]
"#;

    #[test]
    fn ungated_rules_find_every_match_on_a_line() {
        let m = matcher(PACK);
        let got = values(&m, "a 111-22-3333 b 1234567890 c\nnext 444-55-6666");
        assert_eq!(
            got,
            vec![
                ("dashed".into(), "111-22-3333".into(), Confidence::High),
                ("ten".into(), "1234567890".into(), Confidence::Low),
                ("dashed".into(), "444-55-6666".into(), Confidence::High),
            ]
        );
    }

    #[test]
    fn context_raises_confidence_and_is_case_insensitive() {
        let m = matcher(PACK);
        assert_eq!(values(&m, "NPI: 1234567890")[0].2, Confidence::High);
        assert_eq!(values(&m, "Provider 1234567890")[0].2, Confidence::High);
        assert_eq!(values(&m, "order 1234567890")[0].2, Confidence::Low);
    }

    #[test]
    fn required_context_gates_the_rule() {
        let m = matcher(PACK);
        assert_eq!(values(&m, "ref 123456789"), vec![]);
        assert_eq!(values(&m, "SS# 123456789").len(), 1);
        assert_eq!(values(&m, "social security: 123456789").len(), 1);
        // Word boundaries: "ssn" inside a longer word is not context.
        assert_eq!(values(&m, "classname 123456789"), vec![]);
    }

    #[test]
    fn a_value_group_around_the_whole_pattern_is_the_match() {
        for whole in [
            r"\b(?P<value>\d{9})\b",
            r"(?P<value>(?:\+?1)?[2-9]\d{2}[2-9]\d{6})\b",
            r"(?i)\b(?P<value>jan|feb)\b",
            r"(?P<value>x|y)",
        ] {
            assert!(value_is_whole_match(whole), "{whole}");
        }
        for part in [
            r"\b(?P<value>\d{4}-\d{2}-\d{2})(?:T\d{2}:\d{2})?\b",
            r"(?i)\bmrn\s*(?P<value>\d{5,12})",
            r"(?P<value>a)b",
            r"(?P<value>a)|b",
            r"(?P<other>a)",
            r"\b\d{9}\b",
        ] {
            assert!(!value_is_whole_match(part), "{part}");
        }
        // Found the same either way: the value is the match.
        let m = matcher(PACK);
        assert_eq!(
            values(&m, "ssn 123-45-6789."),
            vec![("dashed".into(), "123-45-6789".into(), Confidence::High)]
        );
    }

    /// A value that is part of its match is found after the context: the
    /// group of that very match, validated, whatever the context decided
    /// first; a group left out of the match gives the whole match.
    #[test]
    fn a_value_group_is_taken_from_the_match_the_context_let_through() {
        let m = matcher(
            r#"
[[rules]]
id = "born"
entity = "DOB"
description = "a date, its time left out of the value"
pattern = '\b(?P<value>\d{4}-\d{2}-\d{2})(?:T\d{2}:\d{2})?\b'
validator = "date"
confidence = "HIGH"
[rules.context]
words = ["dob"]
exclude = ["visit"]
required = true
window = 12

[[rules]]
id = "tagged"
entity = "MRN"
description = "digits, with an optional tag that is the value when present"
pattern = '\b(?:(?P<value>[a-z]{2})-)?\d{3}x\b'
confidence = "LOW"
"#,
        );
        let born = |v: &str| ("born".to_string(), v.to_string(), Confidence::High);
        assert_eq!(
            values(&m, "dob 1980-01-02T10:30 then"),
            vec![born("1980-01-02")]
        );
        assert!(values(&m, "visit 1980-01-02T10:30").is_empty());
        // The validator sees the group: a date in the future is no DOB.
        assert!(values(&m, "dob 2999-01-02T10:30").is_empty());
        assert_eq!(
            values(&m, "dob 1980-01-02, dob 2999-01-02; dob 1975-05-06T01:02"),
            vec![born("1980-01-02"), born("1975-05-06")]
        );
        let tagged = |v: &str| ("tagged".to_string(), v.to_string(), Confidence::Low);
        assert_eq!(
            values(&m, "ab-123x and 456x"),
            vec![tagged("ab"), tagged("456x")]
        );
    }

    /// A context word counts up to the window's last byte before or after
    /// the match, however long the word, wherever the word blocks are cut.
    #[test]
    fn the_longest_word_counts_to_the_edge_of_the_window() {
        let m = matcher(PACK);
        for lead in (0..700).step_by(13) {
            for (gap, found) in [(30, 1), (31, 0)] {
                let (lead, gap) = ("q".repeat(lead) + " ", " ".repeat(gap));
                for text in [
                    format!("{lead}date of birth{gap}01/02/1980"),
                    format!("{lead}01/02/1980{gap}date of birth"),
                ] {
                    let got = values(&m, &text);
                    assert_eq!(got.len(), found, "{text:?}: {got:?}");
                }
            }
        }
    }

    /// Words looked for block by block, in runs of blocks, in any order of
    /// needs, are the words one walk over the whole buffer finds in those
    /// blocks: the run's lead stands in for the text before it.
    #[test]
    fn words_found_in_runs_of_blocks_are_those_of_one_walk() {
        // The default pack: words that hold other words at a word boundary
        // ("date of birth", "birth"), which a walk started inside the
        // longer one would report on their own.
        let m = Matcher::new(&RulePack::load(true, &[]).unwrap()).unwrap();
        let words = m.words.as_ref().unwrap();
        let pieces = [
            "date of birth",
            "Date of Birth",
            "birth",
            "date of service",
            "service",
            "credit card",
            "card",
            "national provider",
            "provider",
            "dob",
            "ssn",
            "x",
            " ",
            " ",
            "\n",
            ":",
            "of ",
            "date ",
        ];
        let mut rng = Rng::new(0x3c6e_f372);
        for round in 0..300 {
            let mut text = String::new();
            let len = 1 + rng.below(6000);
            while text.len() < len {
                text.push_str(pieces[rng.below(pieces.len())]);
            }
            let buf = text.as_bytes();
            let mut whole = Vec::new();
            words.each(buf, 0..buf.len(), |word, start, end| {
                whole.push((word, start, end))
            });
            let mut scratch = m.new_scratch();
            for _ in 0..1 + rng.below(12) {
                let start = rng.below(buf.len());
                let end = start + 1 + rng.below(1500);
                m.ensure_words(buf, start..end, &mut scratch);
            }
            let searched = |at: usize| scratch.word_blocks[at / WORD_BLOCK].is_searched();
            // Asked for any stretch of searched text, from any byte or a
            // block's first.
            for ask in 0..20 {
                let from = match ask % 2 {
                    0 => rng.below(buf.len()),
                    _ => rng.below(buf.len()) / WORD_BLOCK * WORD_BLOCK,
                };
                let to = from + rng.below(1200);
                let got: Vec<_> = m
                    .words_between(&scratch, from, to)
                    .map(|w| (w.word, w.start, w.end))
                    .collect();
                let expected: Vec<_> = whole
                    .iter()
                    .copied()
                    .filter(|&(_, start, _)| (from..=to).contains(&start) && searched(start))
                    .collect();
                assert_eq!(got, expected, "round {round}, {from}..={to}: {text:?}");
            }
        }
    }

    /// Words looked for from word starts only are the words the
    /// unanchored walk finds, for any text and any area (one that starts
    /// or ends inside a word too); and a pack with a word that starts with
    /// another byte is walked unanchored.
    #[test]
    fn words_from_word_starts_are_those_of_the_unanchored_walk() {
        let pack = RulePack::load(true, &[]).unwrap();
        let mut ids = WordIds::default();
        for spec in pack.rules() {
            ids.intern_all(&spec.keywords);
            if let Some(c) = &spec.context {
                ids.intern_all(&c.words);
                ids.intern_all(&c.exclude);
            }
        }
        // Words that start with other bytes too: the pack's "@", and two
        // of a custom pack's.
        let mut list = ids.iter().collect::<Vec<_>>();
        assert!(list.iter().any(|(w, _)| *w == "@"));
        list.extend([("#mrn", 90_000), ("(dob)", 90_001)]);
        let starts = Words::build(list.iter().copied(), false).unwrap().unwrap();
        let anywhere = Words::build(list.iter().copied(), true).unwrap().unwrap();
        assert!(matches!(starts.search, WordSearch::Starts { .. }));
        assert!(matches!(anywhere.search, WordSearch::Anywhere(_)));

        let mut words: Vec<String> = list.iter().map(|(w, _)| w.to_string()).collect();
        words.sort();
        let glue = [
            " ", " ", ": ", "\n", "x", "e", "s", "up", "_", "-", "3", "é", ".", "(", "@", "#",
        ];
        let mut rng = Rng::new(0x51ed_270b);
        for round in 0..2000 {
            let mut text = String::new();
            while text.len() < 1 + rng.below(300) {
                let word = &words[rng.below(words.len())];
                let piece = match rng.below(4) {
                    0 => word.to_uppercase(),
                    1 => variants(word)[rng.below(variants(word).len())].clone(),
                    _ => word.clone(),
                };
                text.push_str(&piece);
                text.push_str(glue[rng.below(glue.len())]);
                if rng.below(3) == 0 {
                    text.push_str(glue[rng.below(glue.len())]);
                }
            }
            let buf = text.as_bytes();
            let from = rng.below(buf.len());
            let to = from + rng.below(buf.len() - from + 1);
            for area in [0..buf.len(), from..to] {
                let walk = |w: &Words| {
                    let mut found = Vec::new();
                    w.each(buf, area.clone(), |word, s, e| found.push((word, s, e)));
                    found
                };
                assert_eq!(
                    walk(&starts),
                    walk(&anywhere),
                    "round {round}, area {area:?}: {text:?}"
                );
            }
        }
    }

    /// A word that fails a word boundary hides no other word: "date of
    /// birth" inside "update of birth" leaves "birth" a birth label, and
    /// "birth date" ending inside "dates" leaves "birth". Found whole, a
    /// longer word still stands for the words inside it.
    #[test]
    fn a_word_cut_by_a_boundary_hides_no_other_word() {
        let m = Matcher::new(&RulePack::load(true, &[]).unwrap()).unwrap();
        let dob = |text: &str| {
            values(&m, text)
                .iter()
                .any(|(rule, value, _)| rule == "dob-numeric" && value == "01/02/1980")
        };
        for text in [
            "Filed: update of birth 01/02/1980.",
            "Filed: birth dates 01/02/1980.",
            "Filed: BIRTH DATES 01/02/1980.",
            "Filed: date of birth 01/02/1980.",
        ] {
            assert!(dob(text), "{text}: {:?}", values(&m, text));
        }
        for text in ["Filed: update 01/02/1980.", "Filed: births 01/02/1980."] {
            assert!(!dob(text), "{text}: {:?}", values(&m, text));
        }
        let words = m.words.as_ref().unwrap();
        let found = |text: &str| {
            let mut found = Vec::new();
            words.each(text.as_bytes(), 0..text.len(), |_, start, end| {
                found.push(text[start..end].to_string())
            });
            found
        };
        assert_eq!(found("update of birth"), ["birth"]);
        assert_eq!(found("birth dates"), ["birth"]);
        assert_eq!(found("date of birth"), ["date of birth"]);
        assert_eq!(found("birth date:"), ["birth date", "birth"]);
    }

    #[test]
    fn nearer_exclude_word_rejects() {
        let m = matcher(PACK);
        let got = values(&m, "DOB: 01/02/1980 Visit: 03/04/2020");
        assert_eq!(
            got,
            vec![("dob".into(), "01/02/1980".into(), Confidence::High)]
        );
        assert_eq!(values(&m, "Invoice date 03/04/2020"), vec![]);
    }

    #[test]
    fn matches_inside_longer_tokens_are_not_reported() {
        let m = matcher(PACK);
        for text in [
            "SN1234567890x",
            "v3.1234567890",
            "1234567890.5",
            "10.111-22-3333",
            "999-111-22-3333",
            "abc_1234567890",
        ] {
            assert_eq!(values(&m, text), vec![], "{text}");
        }
        // Sentence punctuation is fine.
        assert_eq!(values(&m, "call 1234567890.").len(), 1);
    }

    #[test]
    fn only_owned_starts_are_reported() {
        let m = matcher(PACK);
        let text = b"111-22-3333 and 444-55-6666";
        let mut scratch = m.new_scratch();
        let mut hits = Vec::new();
        m.find(text, 5..text.len(), &mut scratch, &mut hits);
        assert_eq!(hits.len(), 1);
        assert_eq!(&text[hits[0].start..hits[0].end], b"444-55-6666");
        // Context words in the non-owned part still count.
        let text = b"SSN: 123456789";
        hits.clear();
        m.find(text, 4..text.len(), &mut scratch, &mut hits);
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn long_lines_are_searched_whole() {
        let m = matcher(PACK);
        let mut text = "x ".repeat(5000);
        text.push_str("111-22-3333 ");
        text.push_str(&"y ".repeat(3000));
        text.push_str("444-55-6666");
        assert_eq!(values(&m, &text).len(), 2);
    }

    #[test]
    fn gated_rules_match_only_within_reach_of_their_words() {
        let m = matcher(PACK);
        let near = format!("DOB:{}01/02/1980", " ".repeat(20));
        assert_eq!(values(&m, &near).len(), 1);
        let far = format!("DOB:{}01/02/1980", " ".repeat(60));
        assert_eq!(values(&m, &far), vec![]);
        // Each gate word opens its own stretch; both dates are found.
        let two = format!("DOB 01/02/1980{}dob 03/04/1990", " ".repeat(5000));
        assert_eq!(values(&m, &two).len(), 2);
    }

    fn default_matcher() -> Matcher {
        Matcher::new(&RulePack::load(true, &[]).unwrap()).unwrap()
    }

    /// Every (cell, cut) of the records, matched with and without the
    /// record entered as a block, must give the same hits.
    #[test]
    fn blocks_skip_only_texts_that_cannot_match() {
        let m = default_matcher();
        let tokens = [
            "412-56-7890",
            "412567890",
            "ssn",
            "SS#",
            "DOB",
            "date of birth",
            "01/02/1980",
            "1980-01-02",
            "pt",
            "patient id",
            "4455667",
            "MRN",
            "1234567893",
            "npi",
            "jane@example.org",
            "e-mail",
            "555-867-5309",
            "tel",
            "x",
            "order 77",
            "visa",
            "4111 1111 1111 1111",
            "1EG4-TE5-MK73",
            "abc",
            "2024-05-06",
            " ",
            "",
        ];
        let mut rng = Rng::new(0x9e37_79b9);
        let mut next = |n| rng.below(n);
        let mut plain = m.new_scratch();
        let mut blocked = m.new_scratch();
        let mut entered = 0;
        for _ in 0..3000 {
            let mut record = String::new();
            for c in 0..1 + next(6) {
                if c > 0 {
                    record.push(['|', '^', '\n', ' ', '-'][next(5)]);
                }
                for _ in 0..next(3) {
                    record.push_str(tokens[next(tokens.len())]);
                    if next(2) == 0 {
                        record.push(' ');
                    }
                }
            }
            let bytes = record.as_bytes();
            let mut parts = Vec::new();
            for _ in 0..8 {
                let a = next(bytes.len() + 1);
                let b = a + next(bytes.len() - a + 1);
                parts.push(a..b);
            }
            parts.push(0..bytes.len());
            let mut quiet = Vec::new();
            let whole = std::iter::once(0..bytes.len()).collect::<Vec<_>>();
            m.quiet_parts(bytes, &whole, &mut blocked, &mut quiet);
            let is_entered = m.enter_block(bytes, quiet[0], &mut blocked);
            entered += usize::from(is_entered);
            for part in parts {
                let text = &bytes[part.clone()];
                let (mut want, mut got) = (Vec::new(), Vec::new());
                m.find(text, 0..text.len(), &mut plain, &mut want);
                m.find(text, 0..text.len(), &mut blocked, &mut got);
                let key = |h: &Hit| (h.rule, h.start, h.end, h.confidence);
                assert_eq!(
                    want.iter().map(key).collect::<Vec<_>>(),
                    got.iter().map(key).collect::<Vec<_>>(),
                    "{record:?} {part:?}"
                );
            }
            m.leave_block(is_entered, &mut blocked);
        }
        // The records were a mix: some blocks held nothing and were skipped.
        assert!(entered > 100, "{entered}");
    }

    /// Records joined by newlines and judged in one pass get the verdict a
    /// search of each record alone gives, in batches large enough for the
    /// lanes.
    #[test]
    fn quiet_parts_agree_with_one_search_per_part() {
        let m = default_matcher();
        let tokens = [
            "412-56-7890",
            "ssn",
            "DOB",
            "01/02/1980",
            "patient id",
            "4455667",
            "MRN",
            "1234567893",
            "jane@example.org",
            "555-867-5309",
            "tel",
            "x",
            "order 77",
            "2024-05-06",
            "abc",
            " ",
            "|",
            "A12345",
            "",
        ];
        let mut rng = Rng::new(0x2545_f491);
        let mut next = |n| rng.below(n);
        let mut scratch = m.new_scratch();
        for batch in 0..20 {
            let mut text = String::new();
            let mut parts = Vec::new();
            for _ in 0..(if batch % 2 == 0 { 40 } else { 2000 }) {
                let start = text.len();
                // Mostly quiet records, as in real exports.
                let n = if next(4) == 0 { 1 + next(4) } else { 0 };
                for _ in 0..n {
                    text.push_str(tokens[next(tokens.len())]);
                    text.push(',');
                }
                text.push_str("void,paid 12.50");
                parts.push(start..text.len());
                text.push('\n');
            }
            let mut quiet = Vec::new();
            m.quiet_parts(text.as_bytes(), &parts, &mut scratch, &mut quiet);
            assert_eq!(quiet.len(), parts.len());
            let mut seen = [0usize; 2];
            let mut cautious = 0;
            for (part, q) in parts.iter().zip(&quiet) {
                let alone = !m.has_candidates(text[part.clone()].as_bytes(), &mut scratch);
                // Quiet only when alone it is; a match across the cut may
                // make a quiet part look busy, which only costs time.
                assert!(!*q || alone, "{:?}", &text[part.clone()]);
                cautious += usize::from(alone && !*q);
                seen[usize::from(*q)] += 1;
            }
            assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}");
            assert!(
                cautious * 100 <= parts.len(),
                "{cautious} of {}",
                parts.len()
            );
        }
    }

    /// The same matcher with every rule run across its regions, as before
    /// rules were tried around the ends of their matches.
    fn without_end_runs(mut m: Matcher) -> Matcher {
        for rule in &mut m.rules {
            rule.ends_len = None;
        }
        m.gated = None;
        m
    }

    /// Rules tried around their ends find what a search across their
    /// regions finds, in texts dense with values, gate words and near
    /// misses (longer numbers, dates inside tokens).
    #[test]
    fn rules_tried_at_their_ends_find_what_a_search_across_finds() {
        let fast = default_matcher();
        let slow = without_end_runs(default_matcher());
        assert!(fast.rules.iter().filter(|r| r.ends_len.is_some()).count() >= 8);
        assert!(fast.gated.is_some());
        let tokens = [
            "412-56-7890",
            "412567890",
            "4125678901",
            "1412-56-7890",
            "ssn",
            "DOB",
            "dob:",
            "born",
            "date of birth",
            "01/02/1980",
            "1/2/80",
            "1980-01-02",
            "1980-01-02T10:11:12Z",
            "19800102",
            "March 3, 1975",
            "3 Mar 1975",
            "12/31/1999.5",
            "appointment",
            "visit",
            "phone",
            "tel",
            "(555) 867-5309",
            "555-867-5309",
            "5558675309",
            "15558675309",
            "patient id",
            "MRN",
            "4455667",
            // Keyword-led rules, tried only where the gated finder saw
            // their match end: their keywords alone, with values, and far
            // from one.
            "patient",
            "Patient #",
            "chart no.",
            "pt. id:",
            "MR#",
            "Medical Record Number",
            "mrn:",
            "AB-1234567",
            "12-3456",
            "                                                                ",
            "1234567893",
            "npi",
            "jane@example.org",
            "x",
            "-",
            "/",
            ".",
            ",",
            " ",
            " ",
            "\n",
            "\n",
        ];
        let mut rng = Rng::new(0x51ed_2701);
        let mut next = |n| rng.below(n);
        let (mut a, mut b) = (fast.new_scratch(), slow.new_scratch());
        let (mut total, mut led) = (0, 0);
        for round in 0..500 {
            let mut text = String::new();
            let len = if round % 10 == 0 { 20_000 } else { 600 };
            while text.len() < len {
                text.push_str(tokens[next(tokens.len())]);
                if next(3) > 0 {
                    text.push(' ');
                }
            }
            let bytes = text.as_bytes();
            let owned = next(bytes.len() / 4)..bytes.len() - next(bytes.len() / 4);
            let (mut want, mut got) = (Vec::new(), Vec::new());
            slow.find(bytes, owned.clone(), &mut b, &mut want);
            fast.find(bytes, owned.clone(), &mut a, &mut got);
            let key = |h: &Hit| (h.start, h.rule, h.end, h.confidence);
            want.sort_by_key(key);
            got.sort_by_key(key);
            assert_eq!(got, want, "{text:?} {owned:?}");
            total += want.len();
            led += want
                .iter()
                .filter(|h| fast.rules[h.rule].keyword_led)
                .count();
        }
        assert!(total > 10_000, "{total}");
        assert!(led > 500, "{led}");
    }

    #[test]
    fn keyword_led_patterns_are_recognised() {
        let pack = RulePack::load(true, &[]).unwrap();
        let led: Vec<&str> = pack
            .rules()
            .iter()
            .filter(|s| starts_with_keyword(&s.pattern, &s.keywords))
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(led, ["mrn-labeled", "mrn-patient-id"]);
        let kw = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(starts_with_keyword(r"(?i)\bdob:\s*\d+", &kw(&["dob"])));
        // A match may start before the keyword, or without it.
        assert!(!starts_with_keyword(r"\d+\s*dob", &kw(&["dob"])));
        assert!(!starts_with_keyword(r"(?:dob|birth)\d", &kw(&["dob"])));
        assert!(!starts_with_keyword(r"(?i)\bd\w*", &kw(&["dob"])));
        assert!(!starts_with_keyword(r"x", &[]));
    }

    /// What only compiling a rule tells (its pattern's syntax and size
    /// are the pack's checks, see `rules`).
    #[test]
    fn bad_rules_are_clear_config_errors() {
        let bad = |rest: &str| {
            let toml = format!(
                "[[rules]]\nid = \"r\"\nentity = \"SSN\"\ndescription = \"d\"\n\
                 confidence = \"LOW\"\n{rest}"
            );
            match Matcher::new(&RulePack::parse("bad.toml", &toml).unwrap()) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("accepted: {toml}"),
            }
        };
        assert_eq!(
            bad("pattern = '\\d*'"),
            "bad.toml:2: rule \"r\": pattern matches the empty string"
        );
        assert!(bad("pattern = '\\d'\nvalidator = \"nope\"")
            .starts_with("bad.toml:2: rule \"r\": unknown validator \"nope\" (known: "));
        assert!(bad("pattern = '\\d'\nkeywords = [\" \"]").ends_with("empty keyword"));
        let context = "pattern = '\\d'\n[rules.context]\n";
        assert!(bad(&format!("{context}words = [\"\"]")).ends_with("empty context word"));
        assert!(bad(&format!("{context}words = [\"a\"]\nexclude = [\"\"]"))
            .ends_with("empty exclude word"));
        assert!(bad(&format!("{context}words = []\nrequired = true"))
            .ends_with("required context has no words"));
    }

    /// Gate regions merged as they come (in order of their words' ends)
    /// are the regions that sorting all of them and merging gives, for
    /// words of different lengths, reaches cut at the edges of `owned`,
    /// keyword-led rules, and regions out of order.
    #[test]
    fn gate_regions_merged_as_found_equal_sorting_them_all() {
        let mut rng = Rng::new(0x6a09_e667);
        let mut buckets = GateBuckets::default();
        for round in 0..4000 {
            let rules = 1 + rng.below(4);
            let keyword_led: Vec<bool> = (0..rules).map(|_| rng.below(3) == 0).collect();
            let reach: Vec<usize> = (0..rules).map(|_| rng.below(700)).collect();
            let owned = rng.below(300)..300 + rng.below(6000);
            let in_order = round % 5 != 0;
            let mut raw = Vec::new();
            let mut end = 0;
            buckets.start(rules);
            for _ in 0..rng.below(60) {
                end += rng.below(900);
                let len = 1 + rng.below(25);
                let word_end = if in_order { end } else { rng.below(8000) };
                let start = word_end.saturating_sub(len);
                for rule in (0..rules).filter(|_| rng.below(3) != 0) {
                    let (from, to) = if keyword_led[rule] {
                        (start, start + 1)
                    } else {
                        let r = reach[rule];
                        (
                            start.saturating_sub(r + MAX_MATCH).max(owned.start),
                            (word_end + r).min(owned.end),
                        )
                    };
                    if from < to {
                        raw.push((rule, from, to));
                        buckets.add(rule, from, to, keyword_led[rule]);
                    }
                }
            }
            let mut want = Vec::new();
            for (rule, &led) in keyword_led.iter().enumerate() {
                let mut list: Vec<_> = raw
                    .iter()
                    .filter(|r| r.0 == rule)
                    .map(|r| (r.1, r.2))
                    .collect();
                merge_sorted_regions(&mut list, led);
                want.extend(list.into_iter().map(|(from, to)| (rule, from, to)));
            }
            let mut got = Vec::new();
            buckets.finish(&mut got, |rule| keyword_led[rule]);
            assert_eq!(got, want, "round {round}");
        }
    }
}
