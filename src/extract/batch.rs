//! Records read ahead in batches, so one matcher pass judges many.

use super::Ctx;

/// Records (CSV rows, HL7 segments) read ahead and joined into one text,
/// each followed by a newline, so that one pass of
/// [`crate::matcher::Matcher::quiet_parts`] tells which of them hold no
/// candidate at all (most records), instead of one search per record.
///
/// Records are read as bytes into `raw` ([`RecordBatch::end_raw_record`]
/// after each), then [`RecordBatch::decode`] makes them the text: without
/// a copy when the whole batch is UTF-8 (the usual case).
#[derive(Default)]
pub struct RecordBatch {
    /// The records as read, each followed by `\n`.
    pub raw: Vec<u8>,
    raw_records: Vec<std::ops::Range<usize>>,
    /// The records' texts, after `decode`.
    pub text: String,
    records: Vec<std::ops::Range<usize>>,
    quiet: Vec<bool>,
}

impl RecordBatch {
    /// Records read ahead at most, and about how many bytes of them. A
    /// batch of HL7 segments or CSV rows should hold a few rounds of the
    /// end finder (`lanes`): 2048 against 512 made both 3–5% faster.
    const MAX_RECORDS: usize = 2048;
    const MAX_BYTES: usize = 256 << 10;

    pub fn clear(&mut self) {
        self.raw.clear();
        self.raw_records.clear();
        self.text.clear();
        self.records.clear();
        self.quiet.clear();
    }

    /// Bytes the batch's buffers hold.
    pub fn held_bytes(&self) -> usize {
        self.raw.capacity()
            + self.text.capacity()
            + (self.raw_records.capacity() + self.records.capacity())
                * std::mem::size_of::<std::ops::Range<usize>>()
            + self.quiet.capacity()
    }

    /// Whether enough records were read for one batch.
    pub fn is_full(&self) -> bool {
        self.raw_records.len() >= Self::MAX_RECORDS || self.raw.len() >= Self::MAX_BYTES
    }

    /// Ends the record appended to `raw` from `start` on (the length `raw`
    /// had before it). Records are cut by a non-word byte: see
    /// `quiet_parts`.
    pub fn end_raw_record(&mut self, start: usize) {
        self.raw_records.push(start..self.raw.len());
        self.raw.push(b'\n');
    }

    /// Makes the records read the text. When some record is not UTF-8,
    /// each is passed to `decode_record` (its index, its bytes, where they
    /// start in `raw`), which appends its text to the `String` given.
    pub fn decode(&mut self, mut decode_record: impl FnMut(usize, &[u8], usize, &mut String)) {
        let raw = std::mem::take(&mut self.raw);
        match String::from_utf8(raw) {
            Ok(text) => {
                // The old text's buffer is kept for the next batch's bytes.
                self.raw = std::mem::replace(&mut self.text, text).into_bytes();
                self.raw.clear();
                self.records.clone_from(&self.raw_records);
            }
            Err(e) => {
                let raw = e.into_bytes();
                self.text.clear();
                self.records.clear();
                for (i, range) in self.raw_records.iter().enumerate() {
                    let start = self.text.len();
                    decode_record(i, &raw[range.clone()], range.start, &mut self.text);
                    self.records.push(start..self.text.len());
                    self.text.push('\n');
                }
                self.raw = raw;
            }
        }
        self.quiet.clear();
    }

    /// Judges every record; then [`RecordBatch::record`] tells.
    pub fn judge(&mut self, ctx: &mut Ctx) {
        self.quiet.clear();
        ctx.matcher.quiet_parts(
            self.text.as_bytes(),
            &self.records,
            ctx.scratch,
            &mut self.quiet,
        );
    }

    /// Record `i`: its text range in `text`, and whether it is quiet.
    pub fn record(&self, i: usize) -> (std::ops::Range<usize>, bool) {
        (self.records[i].clone(), self.quiet.get(i) == Some(&true))
    }
}
