//! Where a context word can start: a word byte after a byte that is not
//! one, or one of the few other bytes that start a word (the "@" of
//! e-mail). Found 64 bytes at a time as a bit mask, so the matcher's word
//! walk starts its automaton at those places without reading every byte
//! on its own (on clinical prose a word starts every six bytes, and one
//! table lookup per byte was a tenth of a scan).

/// A word byte, as `\b` sees it in ASCII: `[0-9A-Za-z_]`.
pub fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Finds the places where words can start.
#[derive(Clone, Debug)]
pub struct WordStarts {
    /// Bytes that are not word bytes but start a word.
    others: Vec<u8>,
}

impl WordStarts {
    /// `others`: the first bytes of words that do not start with a word
    /// byte (word bytes among them are ignored).
    pub fn new(others: impl IntoIterator<Item = u8>) -> WordStarts {
        let mut others: Vec<u8> = others.into_iter().filter(|&b| !is_word_byte(b)).collect();
        others.sort_unstable();
        others.dedup();
        WordStarts { others }
    }

    /// Bit `k` set when a word can start at `buf[base + k]`: it is a word
    /// byte and the byte before it (if any) is not, or it is one of the
    /// other bytes. No bits past the end of `buf`.
    #[inline(never)]
    pub fn block(&self, buf: &[u8], base: usize) -> u64 {
        let Some(rest) = buf.get(base..) else {
            return 0;
        };
        let after_word = base > 0 && is_word_byte(buf[base - 1]);
        let (words, others) = match rest.first_chunk::<64>() {
            Some(chunk) => masks(chunk, &self.others),
            None => {
                let mut chunk = [0u8; 64];
                chunk[..rest.len()].copy_from_slice(rest);
                let (w, o) = masks(&chunk, &self.others);
                let keep = (1u64 << rest.len()) - 1;
                (w & keep, o & keep)
            }
        };
        (words & !((words << 1) | u64::from(after_word))) | others
    }

    /// The first place in `from..end` where a word can start, with
    /// `block` the last block looked at (kept by the caller between calls
    /// as `(base, bits)`; `base` not a multiple of 64 means none yet).
    /// Inlined: called once per word start, it cost more out of line than
    /// its work.
    #[inline]
    pub fn next(
        &self,
        buf: &[u8],
        from: usize,
        end: usize,
        block: &mut (usize, u64),
    ) -> Option<usize> {
        let mut from = from;
        while from < end {
            let base = from & !63;
            if block.0 != base {
                *block = (base, self.block(buf, base));
            }
            let bits = block.1 & (u64::MAX << (from - base));
            if bits != 0 {
                let at = base + bits.trailing_zeros() as usize;
                return (at < end).then_some(at);
            }
            from = base + 64;
        }
        None
    }
}

/// (word bytes, other bytes) of `chunk`, one bit per byte.
#[cfg(target_arch = "x86_64")]
fn masks(chunk: &[u8; 64], others: &[u8]) -> (u64, u64) {
    // SAFETY: SSE2 is part of every x86_64 target.
    unsafe { sse2_masks(chunk, others) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn sse2_masks(chunk: &[u8; 64], others: &[u8]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8,
        _mm_or_si128, _mm_set1_epi8,
    };
    /// A byte in lo..=hi: shifted so that lo is i8::MIN, below MIN + span
    /// as a signed byte (SSE2 compares signed bytes only).
    #[target_feature(enable = "sse2")]
    fn in_range(v: __m128i, lo: u8, hi: u8) -> __m128i {
        let shifted = _mm_add_epi8(v, _mm_set1_epi8(0x80u8.wrapping_sub(lo) as i8));
        _mm_cmplt_epi8(shifted, _mm_set1_epi8((0x80u8 + (hi - lo) + 1) as i8))
    }
    let mut words = 0u64;
    let mut other = 0u64;
    for (k, part) in chunk.chunks_exact(16).enumerate() {
        // SAFETY: `part` is 16 readable bytes; the load is unaligned.
        let v = unsafe { _mm_loadu_si128(part.as_ptr().cast::<__m128i>()) };
        // ASCII letters, either case: a letter with bit 5 set is lower case.
        let lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
        let w = _mm_or_si128(
            _mm_or_si128(in_range(lower, b'a', b'z'), in_range(v, b'0', b'9')),
            _mm_cmpeq_epi8(v, _mm_set1_epi8(b'_' as i8)),
        );
        words |= u64::from(_mm_movemask_epi8(w) as u16) << (16 * k);
        if let Some((&first, rest)) = others.split_first() {
            let mut o = _mm_cmpeq_epi8(v, _mm_set1_epi8(first as i8));
            for &b in rest {
                o = _mm_or_si128(o, _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8)));
            }
            other |= u64::from(_mm_movemask_epi8(o) as u16) << (16 * k);
        }
    }
    (words, other)
}

#[cfg(not(target_arch = "x86_64"))]
fn masks(chunk: &[u8; 64], others: &[u8]) -> (u64, u64) {
    scalar_masks(chunk, others)
}

/// [`masks`] one byte at a time: the other targets' code, and the tests'
/// reference.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn scalar_masks(chunk: &[u8; 64], others: &[u8]) -> (u64, u64) {
    let mut words = 0u64;
    let mut other = 0u64;
    for (k, &b) in chunk.iter().enumerate() {
        words |= u64::from(is_word_byte(b)) << k;
        other |= u64::from(others.contains(&b)) << k;
    }
    (words, other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    /// Every byte value, in every position of a block, against the byte
    /// at a time definition.
    #[test]
    fn masks_agree_with_one_byte_at_a_time() {
        let others = [b'@', b'#', 0x80, 0xff, 0];
        for first in (0..=255u8).step_by(64) {
            for shift in 0..64u8 {
                let chunk: [u8; 64] =
                    std::array::from_fn(|k| first.wrapping_add(shift).wrapping_add(k as u8));
                for n in 0..=others.len() {
                    assert_eq!(
                        masks(&chunk, &others[..n]),
                        scalar_masks(&chunk, &others[..n]),
                        "{chunk:?}"
                    );
                }
            }
        }
    }

    /// The starts found block by block are those of a walk over every
    /// byte, from any place, to any end, near the end of the buffer too.
    #[test]
    fn starts_are_those_of_a_walk_over_every_byte() {
        let starts = WordStarts::new([b'@', b'a', b'(']);
        let bytes = b"ab_9 -@(\n\xc3\xa9Z";
        let mut rng = Rng::new(0x3c0d_e5a1);
        for round in 0..3000 {
            let len = rng.below(300);
            let buf: Vec<u8> = (0..len).map(|_| bytes[rng.below(bytes.len())]).collect();
            let is_start = |i: usize| {
                (is_word_byte(buf[i]) && (i == 0 || !is_word_byte(buf[i - 1])))
                    || buf[i] == b'@'
                    || buf[i] == b'('
            };
            let from = rng.below(len + 1);
            let end = from + rng.below(len - from + 1);
            let mut block = (1, 0);
            let mut at = from;
            loop {
                let expected = (at..end).find(|&i| is_start(i));
                let found = starts.next(&buf, at, end, &mut block);
                assert_eq!(found, expected, "round {round}: {buf:?} at {at}, end {end}");
                let Some(i) = found else { break };
                // Sometimes past a few starts, as after a word found.
                at = i + 1 + rng.below(3) * rng.below(8);
                if rng.below(4) == 0 {
                    block = (1, 0);
                }
            }
        }
    }
}
