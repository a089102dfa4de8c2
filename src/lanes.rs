//! Finds where any of many patterns end, in one pass over a text.
//!
//! A lazy DFA walks one byte per step, and each step waits on the last
//! (the next state is a table load that depends on the current one), so a
//! single walk runs at a few cycles per byte however simple the patterns.
//! Here the text is cut into lanes walked in lockstep: the steps of
//! different lanes do not depend on each other, so the processor overlaps
//! them. Four lanes ran about 3.8× as fast as one on this project's bench
//! corpus, six at fixed distances faster still (BENCHMARKS.md).
//!
//! The DFA has `MatchKind::All` semantics and an unanchored start: after
//! each byte its state says which patterns have a match ending there, so
//! the result is every (end, pattern) pair, overlapping matches included.
//! Each lane starts [`WARM_UP`] bytes before the first end it reports, so a
//! match of up to that length that starts in the previous lane is seen.

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind};
use std::ops::Range;

/// Bytes a lane walks before it reports: the longest match it must find
/// whole when the match starts in the lane before. The matcher's longest is
/// 257 bytes (a keyword-led rule tried for its MAX_MATCH past the
/// keyword's first byte); 264 keeps the round's window a multiple of 8.
pub const WARM_UP: usize = 264;
/// Lanes of any length (texts shorter than a round, and what rounds
/// leave): four, each reached by its own pointer; the fast run is written
/// for exactly four.
const LANES: usize = 4;
/// Below this many bytes per lane, one lane does it: the warm-up would cost
/// more than the overlap gains.
const MIN_LANE: usize = 4 * WARM_UP;
/// Long texts are walked in rounds of ROUND_LANES lanes of ROUND_LEN ends
/// each. Their lanes lie at fixed distances, so one pointer reaches all
/// their bytes and six states fit in registers: six such lanes ran 6–13%
/// faster than four of any length on notes and logs; eight spilled and
/// were slower (BENCHMARKS.md).
const ROUND_LANES: usize = 6;
const ROUND_LEN: usize = 8192;
const ROUND: usize = ROUND_LANES * ROUND_LEN;

/// Where patterns end in a text: built once, shared by threads.
pub struct EndFinder {
    dfa: DFA,
}

/// A pattern's match ends at `end` (exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct End {
    pub end: usize,
    pub pattern: u32,
}

/// Per-thread state of an [`EndFinder`].
pub struct EndCache {
    cache: Cache,
    /// Ends found by each lane of a lockstep walk, before they are joined
    /// in order.
    lanes: [Vec<End>; ROUND_LANES],
}

impl EndCache {
    /// The ends of the last lockstep walk, lane after lane (so in order),
    /// appended to `ends` when the walk held (`kept`). When it did not (the
    /// cache was cleared while lanes held states in it: those are void),
    /// they are dropped, and the caller walks again in one lane, which
    /// survives clears.
    fn take_lanes(&mut self, kept: bool, ends: &mut Vec<End>) {
        for lane in &mut self.lanes {
            if kept {
                ends.append(lane);
            } else {
                lane.clear();
            }
        }
    }
}

/// The search could not run (it never should: the DFA has no quit bytes
/// and never gives up its cache). Callers treat every place as a match.
#[derive(Debug)]
pub struct GaveUp;

impl EndFinder {
    /// `patterns` as in [`regex_automata`] syntax, bytes not Unicode (so
    /// `\b` is the ASCII word boundary). `cache_bytes` bounds the memory the
    /// lazy DFA keeps per thread.
    pub fn new(
        patterns: &[&str],
        nfa_limit: usize,
        cache_bytes: usize,
    ) -> Result<EndFinder, String> {
        use regex_automata::nfa::thompson;
        let dfa = DFA::builder()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .thompson(thompson::Config::new().nfa_size_limit(Some(nfa_limit)))
            .configure(
                DFA::config()
                    .match_kind(MatchKind::All)
                    .cache_capacity(cache_bytes)
                    .skip_cache_capacity_check(true),
            )
            .build_many(patterns)
            .map_err(|e| e.to_string())?;
        Ok(EndFinder { dfa })
    }

    pub fn new_cache(&self) -> EndCache {
        EndCache {
            cache: self.dfa.create_cache(),
            lanes: Default::default(),
        }
    }

    /// Appends to `ends`, in order of `end`, every match end in
    /// `(area.start, area.end]` (ends at `area.start` have no byte of the
    /// area in them). Bytes before `area` are looked at as warm-up and for
    /// word boundaries; the byte after it for word boundaries.
    pub fn find(
        &self,
        buf: &[u8],
        area: Range<usize>,
        cache: &mut EndCache,
        ends: &mut Vec<End>,
    ) -> Result<(), GaveUp> {
        let area = area.start.min(buf.len())..area.end.min(buf.len());
        if area.is_empty() {
            return Ok(());
        }
        // The match ending at `e` shows when byte `e` is read (the DFA
        // reports one byte late), or at the end of input when e == len.
        let mut ends_wanted = area.start + 1..area.end + 1;
        // Whole rounds first, each with every lane's warm-up in the text;
        // ends before the first warm-up is possible by one lane.
        if ends_wanted.len() >= ROUND + WARM_UP {
            if ends_wanted.start < WARM_UP {
                self.one_lane(buf, ends_wanted.start..WARM_UP, cache, ends)?;
                ends_wanted.start = WARM_UP;
            }
            // No round reads the last byte, so none reads the end of input.
            while ends_wanted.start + ROUND < ends_wanted.end.min(buf.len()) {
                let kept = self.round(buf, ends_wanted.start, cache);
                cache.take_lanes(kept, ends);
                if !kept {
                    let round = ends_wanted.start..ends_wanted.start + ROUND;
                    self.one_lane(buf, round, cache, ends)?;
                }
                ends_wanted.start += ROUND;
            }
        }
        let per_lane = ends_wanted.len() / LANES;
        if per_lane >= MIN_LANE {
            let reports = std::array::from_fn(|k| {
                let from = ends_wanted.start + k * per_lane;
                let to = if k + 1 == LANES {
                    ends_wanted.end
                } else {
                    from + per_lane
                };
                from..to
            });
            let kept = self.lanes(buf, reports, cache).is_ok();
            cache.take_lanes(kept, ends);
            if kept {
                return Ok(());
            }
        }
        self.one_lane(buf, ends_wanted, cache, ends)
    }

    /// [`EndFinder::find`] over each of `areas` (in order, apart), their
    /// ends appended in order. Short areas, which one walk each would read
    /// a byte per step waiting on the last, are walked four at a time in
    /// lockstep, one lane each.
    pub fn find_in_areas(
        &self,
        buf: &[u8],
        areas: &[Range<usize>],
        cache: &mut EndCache,
        ends: &mut Vec<End>,
    ) -> Result<(), GaveUp> {
        // As in `find`: the ends wanted are read one byte later.
        let wanted = |area: &Range<usize>| {
            let area = area.start.min(buf.len())..area.end.min(buf.len());
            area.start + 1..area.end + 1
        };
        let short = |area: &Range<usize>| {
            let w = wanted(area);
            !w.is_empty() && w.len() < LANES * MIN_LANE
        };
        let mut i = 0;
        while i < areas.len() {
            if i + LANES <= areas.len() && areas[i..i + LANES].iter().all(short) {
                let reports: [Range<usize>; LANES] = std::array::from_fn(|k| wanted(&areas[i + k]));
                let kept = self.lanes(buf, reports.clone(), cache).is_ok();
                cache.take_lanes(kept, ends);
                if !kept {
                    for report in reports {
                        self.one_lane(buf, report, cache, ends)?;
                    }
                }
                i += LANES;
            } else {
                self.find(buf, areas[i].clone(), cache, ends)?;
                i += 1;
            }
        }
        Ok(())
    }

    /// Ends in `report` by one walk, which survives cache clears.
    fn one_lane(
        &self,
        buf: &[u8],
        report: Range<usize>,
        cache: &mut EndCache,
        ends: &mut Vec<End>,
    ) -> Result<(), GaveUp> {
        let mut lane = Lane::start(&self.dfa, &mut cache.cache, buf, report)?;
        while lane.at < lane.last_byte {
            lane.step(&self.dfa, &mut cache.cache, buf, ends)?;
        }
        lane.finish(&self.dfa, &mut cache.cache, buf, ends)
    }

    /// One round: the ends in `from..from + ROUND` into `cache.lanes`, each
    /// lane reading the WARM_UP bytes before its ends too. `false` (and
    /// the lanes' ends void) when the cache was cleared meanwhile or the
    /// search gave up. Needs `from >= WARM_UP` and `from + ROUND <
    /// buf.len()`.
    fn round(&self, buf: &[u8], from: usize, cache: &mut EndCache) -> bool {
        const STEPS: usize = WARM_UP + ROUND_LEN;
        let dfa = &self.dfa;
        let EndCache { cache, lanes } = cache;
        let base = from - WARM_UP;
        let Some(window) = buf
            .get(base..base + WARM_UP + ROUND)
            .and_then(|w| <&[u8; WARM_UP + ROUND]>::try_from(w).ok())
        else {
            return false;
        };
        // Counted before the lanes start: a clear while starting one voids
        // the start states of those before it.
        let clears = cache.clear_count();
        let mut state = [LazyStateID::default(); ROUND_LANES];
        for (k, s) in state.iter_mut().enumerate() {
            let input = Input::new(buf).range(base + k * ROUND_LEN..);
            match dfa.start_state_forward(cache, &input) {
                Ok(sid) => *s = sid,
                Err(_) => return false,
            }
        }
        for lane in lanes.iter_mut() {
            lane.clear();
        }
        let mut j = 0;
        while j < STEPS && cache.clear_count() == clears {
            if !state.iter().any(|s| s.is_tagged()) {
                // SAFETY: no state is tagged (just checked), and all came
                // from this cache since `clears` (checked at each step).
                j = unsafe { walk_round(dfa, cache, window, &mut state, j) };
                if j == STEPS {
                    break;
                }
            }
            // Slow path: every lane by the checked transition, which
            // computes missing states (and may clear the cache: then the
            // other lanes' states are void) and reports matches.
            for k in 0..ROUND_LANES {
                let at = k * ROUND_LEN + j;
                let Ok(sid) = dfa.next_state(cache, state[k], window[at]) else {
                    return false;
                };
                if cache.clear_count() != clears {
                    return false;
                }
                state[k] = sid;
                if sid.is_match() && j >= WARM_UP {
                    push_ends(dfa, cache, sid, base + at, &mut lanes[k]);
                }
            }
            j += 1;
        }
        cache.clear_count() == clears
    }

    /// Lanes in lockstep; `Err` when a cache clear voided their states.
    fn lanes(
        &self,
        buf: &[u8],
        reports: [Range<usize>; LANES],
        cache: &mut EndCache,
    ) -> Result<(), GaveUp> {
        let dfa = &self.dfa;
        let EndCache { cache, lanes } = cache;
        // Counted before the lanes start: a clear while starting one voids
        // the start states of those before it.
        let clears = cache.clear_count();
        let mut lane: [Lane; LANES] = Default::default();
        for (k, (l, report)) in lane.iter_mut().zip(reports).enumerate() {
            *l = Lane::start(dfa, cache, buf, report)?;
            lanes[k].clear();
        }
        if cache.clear_count() != clears {
            return Err(GaveUp);
        }
        // Every lane has at least `common` bytes to read: the warm-up of
        // lane 0 may be shorter, the last lane longer.
        let common = lane.iter().map(|l| l.last_byte - l.at).min().unwrap_or(0);
        // Bytes from four slices of equal length; matches handled out of
        // the fast run.
        let bytes: [&[u8]; LANES] = std::array::from_fn(|k| &buf[lane[k].at..lane[k].at + common]);
        let mut state: [LazyStateID; LANES] = std::array::from_fn(|k| lane[k].state);
        let base: [usize; LANES] = std::array::from_fn(|k| lane[k].at);
        let [b0, b1, b2, b3] = bytes;
        let (b0, b1, b2, b3) = (&b0[..common], &b1[..common], &b2[..common], &b3[..common]);
        let mut i = 0;
        while i < common {
            if !state.iter().any(|s| s.is_tagged()) {
                // SAFETY: no state is tagged (just checked), and all came
                // from this cache since `clears` (a clear returns below).
                i = unsafe { walk_untagged(dfa, cache, [b0, b1, b2, b3], &mut state, i) };
                if i == common {
                    break;
                }
            }
            // Slow path: every lane by the checked transition, which
            // computes missing states (and may clear the cache: then the
            // other lanes' states are void) and reports matches.
            let input = [b0[i], b1[i], b2[i], b3[i]];
            for k in 0..LANES {
                let sid = dfa
                    .next_state(cache, state[k], input[k])
                    .map_err(|_| GaveUp)?;
                if cache.clear_count() != clears {
                    return Err(GaveUp);
                }
                state[k] = sid;
                note_matches(dfa, cache, sid, base[k] + i, &lane[k].report, &mut lanes[k]);
            }
            i += 1;
        }
        for k in 0..LANES {
            lane[k].state = state[k];
            lane[k].at = base[k] + common;
        }
        for k in 0..LANES {
            let l = &mut lane[k];
            while l.at < l.last_byte {
                l.step(dfa, cache, buf, &mut lanes[k])?;
            }
            l.finish(dfa, cache, buf, &mut lanes[k])?;
            if cache.clear_count() != clears {
                return Err(GaveUp);
            }
        }
        Ok(())
    }
}

/// The fast run of the lanes: while every state is untagged its
/// transitions are in the table, read without a check. Returns where a
/// lane would reach a tagged state (or the end); `state` holds the states
/// before that byte. Out of line, so that its few values stay in
/// registers (inlined, its byte pointers were spilled: 2–6% of a scan,
/// BENCHMARKS.md).
///
/// # Safety
///
/// Every state in `state` must be untagged and have come from `table`
/// since its last clear: then each is valid for the unchecked transition,
/// and so is each untagged state it gives.
#[inline(never)]
unsafe fn walk_untagged(
    dfa: &DFA,
    table: &Cache,
    bytes: [&[u8]; LANES],
    state: &mut [LazyStateID; LANES],
    mut i: usize,
) -> usize {
    let n = bytes[0].len();
    let [b0, b1, b2, b3] = bytes;
    let (b0, b1, b2, b3) = (&b0[..n], &b1[..n], &b2[..n], &b3[..n]);
    let mut s = *state;
    while i < n {
        // SAFETY: valid untagged states by the caller's promise, then by
        // the check below (the table is not changed meanwhile).
        let next = unsafe {
            [
                dfa.next_state_untagged_unchecked(table, s[0], b0[i]),
                dfa.next_state_untagged_unchecked(table, s[1], b1[i]),
                dfa.next_state_untagged_unchecked(table, s[2], b2[i]),
                dfa.next_state_untagged_unchecked(table, s[3], b3[i]),
            ]
        };
        if next.iter().any(|s| s.is_tagged()) {
            break;
        }
        s = next;
        i += 1;
    }
    *state = s;
    i
}

/// The fast run of a round ([`walk_untagged`] for its lanes): returns
/// where a lane would reach a tagged state (or the end of the round);
/// `state` holds the states before that step.
///
/// # Safety
///
/// As for [`walk_untagged`].
#[inline(never)]
unsafe fn walk_round(
    dfa: &DFA,
    table: &Cache,
    window: &[u8; WARM_UP + ROUND],
    state: &mut [LazyStateID; ROUND_LANES],
    mut j: usize,
) -> usize {
    const STEPS: usize = WARM_UP + ROUND_LEN;
    let mut s = *state;
    while j < STEPS {
        // SAFETY: as in `walk_untagged`. The byte indexes are below
        // (ROUND_LANES - 1) * ROUND_LEN + STEPS, the window's length, so
        // they are checked at compile time.
        let next: [LazyStateID; ROUND_LANES] = std::array::from_fn(|k| unsafe {
            dfa.next_state_untagged_unchecked(table, s[k], window[k * ROUND_LEN + j])
        });
        if next.iter().any(|s| s.is_tagged()) {
            break;
        }
        s = next;
        j += 1;
    }
    *state = s;
    j
}

/// One walk of the DFA that reports ends in `report`.
#[derive(Default)]
struct Lane {
    state: LazyStateID,
    /// The next byte to read.
    at: usize,
    /// Bytes are read up to here (exclusive); the end of input after.
    last_byte: usize,
    report: Range<usize>,
}

impl Lane {
    /// Starts WARM_UP bytes before the first end to report (or at the
    /// text's start), with the word-boundary context of the byte before.
    fn start(
        dfa: &DFA,
        cache: &mut Cache,
        buf: &[u8],
        report: Range<usize>,
    ) -> Result<Lane, GaveUp> {
        let at = report.start.saturating_sub(WARM_UP);
        let state = dfa
            .start_state_forward(cache, &Input::new(buf).range(at..))
            .map_err(|_| GaveUp)?;
        Ok(Lane {
            state,
            at,
            last_byte: report.end.min(buf.len()),
            report,
        })
    }

    /// Reads the next byte.
    #[inline(always)]
    fn step(
        &mut self,
        dfa: &DFA,
        cache: &mut Cache,
        buf: &[u8],
        ends: &mut Vec<End>,
    ) -> Result<(), GaveUp> {
        let pos = self.at;
        self.read(dfa, cache, Some(buf[pos]), pos, ends)?;
        self.at = pos + 1;
        Ok(())
    }

    /// Reads the end of input when this lane reports the end at `len`.
    fn finish(
        &mut self,
        dfa: &DFA,
        cache: &mut Cache,
        buf: &[u8],
        ends: &mut Vec<End>,
    ) -> Result<(), GaveUp> {
        if self.report.end <= buf.len() {
            return Ok(());
        }
        self.read(dfa, cache, None, buf.len(), ends)
    }

    /// One transition (a byte, or the end of input), which reveals the
    /// matches ending at `end`.
    #[inline(always)]
    fn read(
        &mut self,
        dfa: &DFA,
        cache: &mut Cache,
        byte: Option<u8>,
        end: usize,
        ends: &mut Vec<End>,
    ) -> Result<(), GaveUp> {
        self.state = match byte {
            Some(b) => dfa.next_state(cache, self.state, b),
            None => dfa.next_eoi_state(cache, self.state),
        }
        .map_err(|_| GaveUp)?;
        note_matches(dfa, cache, self.state, end, &self.report, ends);
        Ok(())
    }
}

/// Records the matches ending at `end` when `sid` (the state after reading
/// byte `end`, or the end of input) is a match state and `end` is one the
/// lane reports.
#[inline(always)]
fn note_matches(
    dfa: &DFA,
    cache: &Cache,
    sid: LazyStateID,
    end: usize,
    report: &Range<usize>,
    ends: &mut Vec<End>,
) {
    if sid.is_match() && end >= report.start {
        push_ends(dfa, cache, sid, end, ends);
    }
}

#[cold]
fn push_ends(dfa: &DFA, cache: &Cache, sid: LazyStateID, end: usize, ends: &mut Vec<End>) {
    for i in 0..dfa.match_len(cache, sid) {
        ends.push(End {
            end,
            pattern: dfa.match_pattern(cache, sid, i).as_u32(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    const PATTERNS: &[&str] = &[
        r"\b\d{3}-\d{2}-\d{4}\b",
        r"\bdob\b",
        r"\bDOB\b",
        r"[a-z]+@[a-z]+\.com\b",
        r"\d{4}",
        r"x{1,3}",
    ];

    fn finder() -> EndFinder {
        EndFinder::new(PATTERNS, 1 << 20, 4 << 20).unwrap()
    }

    /// Every (end, pattern) by brute force: whether each pattern matches
    /// exactly `buf[s..e]`, for every s and e, with the word boundaries of
    /// the whole text at the edges.
    fn brute(buf: &[u8], area: Range<usize>) -> Vec<End> {
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let boundary = |at: usize| {
            let before = at > 0 && word(buf[at - 1]);
            let after = at < buf.len() && word(buf[at]);
            before != after
        };
        let mut out = Vec::new();
        for (p, pat) in PATTERNS.iter().enumerate() {
            let re = regex::bytes::Regex::new(&format!(r"(?-u)\A(?:{pat})\z")).unwrap();
            for s in 0..buf.len() {
                for e in s + 1..=buf.len() {
                    let exact = re.is_match(&buf[s..e])
                        && (!pat.starts_with(r"\b") || boundary(s))
                        && (!pat.ends_with(r"\b") || boundary(e));
                    if exact && e > area.start && e <= area.end {
                        out.push(End {
                            end: e,
                            pattern: p as u32,
                        });
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn found(f: &EndFinder, buf: &[u8], area: Range<usize>) -> Vec<End> {
        let mut cache = f.new_cache();
        let mut ends = Vec::new();
        f.find(buf, area, &mut cache, &mut ends).unwrap();
        ends.sort();
        ends.dedup();
        ends
    }

    fn random_text(rng: &mut Rng, len: usize) -> Vec<u8> {
        const PIECES: &[&[u8]] = &[
            b"123-45-6789",
            b"dob",
            b"DOB",
            b"a@b.com",
            b"xx",
            b" ",
            b"\n",
            b"7",
            b"q",
            b"-",
            b"@",
            b".com",
        ];
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            out.extend_from_slice(PIECES[rng.below(PIECES.len())]);
        }
        out.truncate(len);
        out
    }

    #[test]
    fn one_lane_finds_every_end_brute_force_does() {
        let f = finder();
        let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
        for len in [0, 1, 5, 40, 300] {
            let buf = random_text(&mut rng, len);
            for area in [0..len, len / 3..len, 0..len / 2, len / 4..len / 4 + len / 3] {
                assert_eq!(
                    found(&f, &buf, area.clone()),
                    brute(&buf, area),
                    "len {len}"
                );
            }
        }
    }

    #[test]
    fn lanes_find_what_one_walk_finds() {
        let f = finder();
        let mut rng = Rng::new(0x2545_F491_4F6C_DD1D);
        // Four lanes of any length; rounds and their tails.
        for len in [4 * MIN_LANE * LANES, 40_000, 100_003, 3 * ROUND + 777] {
            let buf = random_text(&mut rng, len);
            for area in [0..len, 17..len - 5, 4096..len, 1..len / 2 + 1] {
                // The reference: one lane from the start of the text, no
                // warm-up cut, kept to the same area.
                let mut cache = f.new_cache();
                let mut whole = Vec::new();
                let mut lane = Lane::start(&f.dfa, &mut cache.cache, &buf, 1..len + 1).unwrap();
                lane.report = 1..len + 1;
                lane.at = 0;
                while lane.at < lane.last_byte {
                    lane.step(&f.dfa, &mut cache.cache, &buf, &mut whole)
                        .unwrap();
                }
                lane.finish(&f.dfa, &mut cache.cache, &buf, &mut whole)
                    .unwrap();
                whole.retain(|e| e.end > area.start && e.end <= area.end);
                let got = found(&f, &buf, area.clone());
                assert!(!got.is_empty());
                assert_eq!(got, whole, "len {len} area {area:?}");
            }
        }
    }

    /// A match as long as the warm-up is found whole wherever it ends,
    /// right at the first end a round's lane or a tail's lane reports too
    /// (the matcher relies on it for matches up to MAX_MATCH + 1 bytes).
    #[test]
    fn a_match_as_long_as_the_warm_up_is_found_across_lane_starts() {
        let pattern = format!("q {{{}}}q", WARM_UP - 2);
        let f = EndFinder::new(&[pattern.as_str()], 1 << 20, 4 << 20).unwrap();
        let len = 3 * ROUND + 5 * MIN_LANE;
        let mut lane_starts: Vec<usize> = (0..3)
            .flat_map(|r| (0..ROUND_LANES).map(move |k| WARM_UP + r * ROUND + k * ROUND_LEN))
            .collect();
        // The tail after the rounds, in four lanes.
        let tail = WARM_UP + 3 * ROUND..len + 1;
        lane_starts.extend((0..LANES).map(|k| tail.start + k * (tail.len() / LANES)));
        let mut rng = Rng::new(0x6a09_e667);
        lane_starts.extend((0..20).map(|_| WARM_UP + rng.below(len - WARM_UP)));
        for start in lane_starts {
            for end in [start - 1, start, start + 1] {
                if end < WARM_UP || end > len {
                    continue;
                }
                let mut buf = vec![b' '; len];
                buf[end - WARM_UP] = b'q';
                buf[end - 1] = b'q';
                let want = vec![End { end, pattern: 0 }];
                assert_eq!(found(&f, &buf, 0..len), want, "end {end}");
            }
        }
    }

    #[test]
    fn a_tiny_cache_falls_back_to_one_lane_with_the_same_ends() {
        let small = EndFinder::new(PATTERNS, 1 << 20, 0).unwrap();
        let f = finder();
        let mut rng = Rng::new(7);
        // Long enough for rounds, which give way to one lane too.
        let buf = random_text(&mut rng, 2 * ROUND + 5000);
        assert_eq!(
            found(&small, &buf, 0..buf.len()),
            found(&f, &buf, 0..buf.len())
        );
    }

    /// Areas walked four at a time give, in order, what each area searched
    /// alone gives: short and long areas, at the text's edges, and with a
    /// cache so small that the lockstep walks give way to single ones.
    #[test]
    fn areas_in_lockstep_find_what_each_area_alone_finds() {
        let f = finder();
        let small = EndFinder::new(PATTERNS, 1 << 20, 0).unwrap();
        let mut rng = Rng::new(0x5851_F42D_4C95_7F2D);
        for round in 0..60 {
            let len = 2000 + rng.below(40_000);
            let buf = random_text(&mut rng, len);
            let mut areas = Vec::new();
            let mut at = if round % 3 == 0 { 0 } else { rng.below(600) };
            while at < len {
                let width = if rng.below(8) == 0 {
                    rng.below(6000)
                } else {
                    1 + rng.below(900)
                };
                let end = (at + width).min(len);
                if end > at {
                    areas.push(at..end);
                }
                at = end + 1 + rng.below(700);
            }
            for finder in [&f, &small] {
                let mut want = Vec::new();
                let mut cache = finder.new_cache();
                for area in &areas {
                    finder
                        .find(&buf, area.clone(), &mut cache, &mut want)
                        .unwrap();
                }
                let mut got = Vec::new();
                let mut cache = finder.new_cache();
                finder
                    .find_in_areas(&buf, &areas, &mut cache, &mut got)
                    .unwrap();
                assert_eq!(got, want, "round {round}");
            }
        }
    }
}
