//! Delimited tables with a header row (CSV, TSV, semicolon or pipe
//! separated). A column whose header names an entity (`ssn`, `dob`,
//! `patient name` ...) makes each of its values a finding of that entity
//! (validated), even without context words; every cell is matched as text.
//!
//! Report scheme: `field` is `column "<header>" row <n>`, rows numbered as
//! a spreadsheet shows them (the header is row 1); line = the record's line
//! in the file, column = character offset of the cell (quotes not counted).
//! Rows are streamed; one record may hold at most [`MAX_RECORD`] bytes.

use super::delimited::{RecordError, RecordReader};
use super::tables::ColumnNames;
use super::{Ctx, Location};
use crate::entity::Entity;
use crate::error::ExtractError;
use std::io::Read;
use std::sync::Arc;

/// Rule id of findings in classified columns.
pub const RULE: &str = "csv-column";
/// Most bytes one record (row) may take.
pub const MAX_RECORD: u64 = 16 << 20;

const DELIMITERS: [u8; 4] = [b',', b'\t', b';', b'|'];

/// Splits a header into lower-case words: on anything not alphanumeric,
/// at lower→upper case changes (`patientName`) and letter↔digit changes.
fn header_words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut prev: Option<char> = None;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev = None;
            continue;
        }
        let boundary = prev.is_some_and(|p| {
            (p.is_lowercase() && c.is_uppercase()) || (p.is_ascii_digit() != c.is_ascii_digit())
        });
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
        prev = Some(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// The entity a column holds, judged by its header (the table in
/// `rules/fields/columns.toml`); `None` when the header names nothing we
/// report (`appointment_date` is not a birth date).
pub fn classify_header(name: &str) -> Option<Entity> {
    ColumnNames::get().classify(&header_words(name))
}

/// The entities of a table's columns by their headers, with one reading
/// only the whole header row allows: a column headed just `Name` holds
/// patient names when other columns hold MRNs, birth dates or SSNs (in a
/// product or clinic list it does not).
pub fn classify_headers<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<Option<Entity>> {
    let names: Vec<&str> = names.into_iter().collect();
    let mut entities: Vec<Option<Entity>> = names.iter().map(|n| classify_header(n)).collect();
    name_columns_of_patient_tables(&names, &mut entities);
    entities
}

/// See [`classify_headers`].
fn name_columns_of_patient_tables(names: &[&str], entities: &mut [Option<Entity>]) {
    let patients = entities
        .iter()
        .any(|e| matches!(e, Some(Entity::Mrn | Entity::Dob | Entity::Ssn)));
    if !patients {
        return;
    }
    for (name, entity) in names.iter().zip(entities.iter_mut()) {
        if entity.is_none() && header_words(name) == ["name"] {
            *entity = Some(Entity::PersonName);
        }
    }
}

/// The delimiter of a table with a header row, or `None` when `head` is not
/// one. With a `.csv`/`.tsv` name any delimited text qualifies; without
/// one, the first line must be a header naming at least one entity and the
/// next lines must have as many fields.
pub fn looks_like(head: &[u8], name: &str) -> Option<u8> {
    if crate::decode::sniff(head).is_none_or(|e| {
        matches!(
            e,
            crate::decode::TextEncoding::Utf16Le | crate::decode::TextEncoding::Utf16Be
        )
    }) {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let by_name = if lower.ends_with(".csv") {
        Some(b',')
    } else if lower.ends_with(".tsv") || lower.ends_with(".tab") {
        Some(b'\t')
    } else {
        None
    };
    // Only whole lines (the head may end mid-line), at most a few.
    let whole = match memchr::memrchr(b'\n', head) {
        Some(end) if head.len() == super::HEAD_LEN => &head[..=end],
        _ => head,
    };
    let mut candidates = DELIMITERS.iter().filter_map(|&d| {
        let records = sample_records(whole, d);
        let header = records.first()?;
        let consistent = records.iter().all(|r| r.len() == header.len());
        (header.len() >= 2 && consistent).then_some((d, records))
    });
    match by_name {
        Some(default) => Some(candidates.next().map_or(default, |(d, _)| d)),
        None => candidates.find_map(|(d, records)| {
            let header = records.first()?;
            let named = classify_headers(header.iter().map(String::as_str))
                .iter()
                .filter(|e| e.is_some())
                .count();
            let header_like = header
                .iter()
                .all(|h| h.chars().count() <= 64 && h.chars().any(char::is_alphabetic));
            // Two rows of the same shape are weak evidence of a table, unless
            // the header names two identifiers (a one-patient export).
            let enough_rows = records.len() >= 3 || (records.len() == 2 && named >= 2);
            (enough_rows && named >= 1 && header_like).then_some(d)
        }),
    }
}

fn sample_records(bytes: &[u8], delimiter: u8) -> Vec<Vec<String>> {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    reader
        .byte_records()
        .take(6)
        .map_while(Result::ok)
        .map(|r| {
            r.iter()
                .map(|f| super::fields::decode_text(f).trim().to_string())
                .collect()
        })
        .collect()
}

/// Extracts a delimited table: `head` already read, `rest` the remainder.
pub fn scan(
    ctx: &mut Ctx,
    delimiter: u8,
    head: &[u8],
    rest: &mut dyn Read,
) -> Result<(), ExtractError> {
    let body = head.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(head);
    let max_record = usize::try_from(MAX_RECORD).unwrap_or(usize::MAX);
    let mut reader = RecordReader::new(body.chain(rest), delimiter, max_record);
    // The columns, as the header row names them (once it is read).
    let mut headers: Arc<Headers> = Arc::default();
    // Rows read so far.
    let mut row = 0u64;
    let mut outcome: Option<Result<(), ExtractError>> = None;
    // Rows are read in batches (cells cut by newlines): those without a
    // candidate (most) do not have their cells matched one by one. A big
    // file's batches are matched on every thread.
    super::ordered::batches_in_order(
        ctx,
        |mut batch: Batch| {
            if outcome.is_some() {
                return None;
            }
            batch.first_row = row;
            while !batch.records.is_full() {
                let start = batch.records.raw.len();
                let first_cell = batch.cells.len();
                match reader.read_record(&mut batch.records.raw, &mut batch.cells) {
                    Ok(Some(line)) => {
                        batch.records.end_raw_record(start);
                        batch.rows.push(PendingRow {
                            line,
                            cells: first_cell..batch.cells.len(),
                        });
                    }
                    Ok(None) => {
                        outcome = Some(Ok(()));
                        break;
                    }
                    Err(e) => {
                        let row = row + batch.rows.len() as u64;
                        outcome = Some(Err(match e {
                            RecordError::TooLong => ExtractError::Limit(format!(
                                "row {} is longer than {MAX_RECORD} bytes",
                                row + 1
                            )),
                            RecordError::TooManyCells => ExtractError::Limit(format!(
                                "row {} has more than {} cells",
                                row + 1,
                                super::delimited::MAX_CELLS
                            )),
                            RecordError::Io(io) => ExtractError::Io(io),
                        }));
                        break;
                    }
                }
            }
            batch.decode();
            if let (0, Some(first)) = (row, batch.rows.first()) {
                // The header row decides its columns together (see
                // `classify_headers`); its cells are still matched.
                let text = &batch.records.text;
                let names: Vec<&str> = batch.cells[first.cells.clone()]
                    .iter()
                    .map(|r| text[r.clone()].trim())
                    .collect();
                let entities = classify_headers(names.iter().copied());
                headers = Arc::new(names.iter().map(|n| n.to_string()).zip(entities).collect());
            }
            batch.headers = Arc::clone(&headers);
            row += batch.rows.len() as u64;
            Some((batch, outcome.is_some()))
        },
        |ctx, batch| {
            batch.records.judge(ctx);
            let Batch {
                records,
                cells,
                row_cells,
                cell_quiet,
                rows,
                first_row,
                headers,
            } = batch;
            let (headers, mut row) = (&**headers, *first_row);
            // Without classified columns a quiet row has nothing to report.
            let plain = row > 0 && headers.iter().all(|h| h.1.is_none());
            for (i, pending) in rows.iter().enumerate() {
                row += 1;
                let (range, is_quiet) = records.record(i);
                if is_quiet && plain {
                    continue;
                }
                let cells = &cells[pending.cells.clone()];
                let text = &records.text;
                let row_text = text[range.clone()].as_bytes();
                // A row with a candidate: which of its cells hold one (the
                // others need not be matched).
                cell_quiet.clear();
                if is_quiet {
                    cell_quiet.resize(cells.len(), true);
                } else {
                    row_cells.clear();
                    row_cells.extend(
                        cells
                            .iter()
                            .map(|c| c.start - range.start..c.end - range.start),
                    );
                    ctx.matcher
                        .quiet_parts(row_text, row_cells, ctx.scratch, cell_quiet);
                }
                ctx.within_block(row_text, is_quiet, |ctx| {
                    scan_row(ctx, headers, row, pending.line, text, cells, cell_quiet);
                });
            }
        },
    );
    outcome.unwrap_or(Ok(()))
}

/// Each column's header (trimmed) and the entity it names, if any.
type Headers = Vec<(String, Option<Entity>)>;

/// Rows read ahead: their texts (cells joined by newlines), cells and
/// lines.
#[derive(Default)]
struct Batch {
    records: super::RecordBatch,
    /// Every row's cells: ranges of `records.raw`, then (after `decode`)
    /// of `records.text`.
    cells: Vec<std::ops::Range<usize>>,
    /// The cells of the row at hand, as ranges of its text, and their
    /// verdicts (no candidate in the cell).
    row_cells: Vec<std::ops::Range<usize>>,
    cell_quiet: Vec<bool>,
    rows: Vec<PendingRow>,
    /// Rows before this batch.
    first_row: u64,
    headers: Arc<Headers>,
}

struct PendingRow {
    line: u64,
    /// Its cells, in `Batch::cells`.
    cells: std::ops::Range<usize>,
}

impl super::ordered::Batch for Batch {
    fn clear(&mut self) {
        self.records.clear();
        self.cells.clear();
        self.rows.clear();
    }

    fn held_bytes(&self) -> usize {
        use std::mem::size_of;
        self.records.held_bytes()
            + (self.cells.capacity() + self.row_cells.capacity())
                * size_of::<std::ops::Range<usize>>()
            + self.cell_quiet.capacity()
            + self.rows.capacity() * size_of::<PendingRow>()
    }
}

impl Batch {
    /// Makes the rows read the batch's text, moving the cells along. When
    /// some row is not UTF-8, rows are decoded one by one: a UTF-8 row as
    /// it is, any other cell by cell (Windows-1252 where a cell is not
    /// UTF-8).
    fn decode(&mut self) {
        let Batch {
            records,
            cells,
            rows,
            ..
        } = self;
        records.decode(|i, bytes, raw_start, text| {
            let start = text.len();
            let cells = &mut cells[rows[i].cells.clone()];
            match std::str::from_utf8(bytes) {
                Ok(row) => {
                    text.push_str(row);
                    for cell in cells {
                        *cell = cell.start - raw_start + start..cell.end - raw_start + start;
                    }
                }
                Err(_) => {
                    for (k, cell) in cells.iter_mut().enumerate() {
                        if k > 0 {
                            text.push('\n');
                        }
                        let raw_cell = cell.start - raw_start..cell.end - raw_start;
                        let cell_start = text.len();
                        text.push_str(&super::fields::decode_text(&bytes[raw_cell]));
                        *cell = cell_start..text.len();
                    }
                }
            }
        });
    }
}

/// One row: the header row names the columns; in later rows a cell of a
/// classified column is a field value, any other cell is matched as text.
/// A quiet cell (no candidate in it, `cell_quiet`) can give findings only
/// as a field value, so other quiet cells are not matched.
fn scan_row(
    ctx: &mut Ctx,
    headers: &Headers,
    row: u64,
    line: u64,
    text: &str,
    cells: &[std::ops::Range<usize>],
    cell_quiet: &[bool],
) {
    let mut column = 1u64;
    for (index, range) in cells.iter().enumerate() {
        let cell = &text[range.clone()];
        let quiet = cell_quiet.get(index) == Some(&true);
        if quiet && row > 1 && headers.get(index).is_none_or(|h| h.1.is_none()) {
            // Columns are counted in characters, so this cell still moves
            // the next one along.
            column += cell.chars().count() as u64 + 1;
            continue;
        }
        let at = Location { line, column };
        let width = if cell.is_ascii() {
            cell.len()
        } else {
            cell.chars().count()
        };
        column += width as u64 + 1;
        if row == 1 {
            if !quiet && !cell.trim().is_empty() {
                ctx.text("header row", cell, at);
            }
            continue;
        }
        if cell.trim().is_empty() {
            continue;
        }
        let header = headers.get(index).filter(|h| !h.0.is_empty());
        let label = || match header {
            Some((name, _)) => format!("column \"{name}\" row {row}"),
            None => format!("column {} row {row}", index + 1),
        };
        match header.and_then(|h| h.1) {
            // A quiet value is still a field value; only its matching as
            // text is left out.
            Some(entity) => ctx.within_block(cell.as_bytes(), quiet, |ctx| {
                super::fields::report_field(ctx, RULE, &label(), entity, cell, at)
            }),
            None => super::fields::text_labelled(ctx, label, cell, at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{scan_builtin as scan_bytes, value};
    use super::*;
    use crate::report::SkipReason;

    #[test]
    fn classifies_headers() {
        let cases = [
            ("ssn", Some(Entity::Ssn)),
            ("Social Security Number", Some(Entity::Ssn)),
            ("patient_ssn", Some(Entity::Ssn)),
            ("DOB", Some(Entity::Dob)),
            ("birth_date", Some(Entity::Dob)),
            ("DateOfBirth", Some(Entity::Dob)),
            ("date of birth", Some(Entity::Dob)),
            ("appointment_date", None),
            ("visit date", None),
            ("date", None),
            ("MRN", Some(Entity::Mrn)),
            ("medical_record_number", Some(Entity::Mrn)),
            ("Patient ID", Some(Entity::Mrn)),
            ("patientId", Some(Entity::Mrn)),
            ("npi", Some(Entity::Npi)),
            ("provider_npi", Some(Entity::Npi)),
            ("first_name", Some(Entity::PersonName)),
            ("LastName", Some(Entity::PersonName)),
            ("patient name", Some(Entity::PersonName)),
            ("product name", None),
            ("name", None),
            ("phone", Some(Entity::Phone)),
            ("HomePhone", Some(Entity::Phone)),
            ("email", Some(Entity::Email)),
            ("E-mail address", Some(Entity::Email)),
            ("street address", Some(Entity::Address)),
            ("ip_address", None),
            ("amount", None),
            ("", None),
        ];
        for (header, expected) in cases {
            assert_eq!(classify_header(header), expected, "{header:?}");
        }
    }

    #[test]
    fn detects_tables() {
        let csv = b"id,ssn,visit\n1,412-56-7890,a\n2,412-56-7891,b\n";
        assert_eq!(looks_like(csv, "export"), Some(b','));
        assert_eq!(looks_like(b"a\tb\n1\t2\n", "x.tsv"), Some(b'\t'));
        assert_eq!(looks_like(b"a;b\n1;2\n", "x.csv"), Some(b';'));
        // Prose with commas: no header naming an entity.
        assert_eq!(
            looks_like(b"Hello, world\nfoo, bar\nbaz, qux\n", "notes"),
            None
        );
        // Header names an entity but the rows disagree.
        assert_eq!(looks_like(b"ssn,x\n1,2,3\n4\n", "notes"), None);
        assert_eq!(looks_like(b"\x00\x01\x02", "x.csv"), None);
    }

    #[test]
    fn a_one_patient_export_is_a_table_when_its_header_names_two_identifiers() {
        let one_row = b"MRN\tPatient Name\tDOB\n483920\tReid, Morgan\t03/12/1984\n";
        assert_eq!(looks_like(one_row, "export.txt"), Some(b'\t'));
        // One named column and one row: could be two lines of anything.
        assert_eq!(
            looks_like(b"Phone\tnotes\n555-0100\tcall back\n", "notes.txt"),
            None
        );
    }

    #[test]
    fn classified_columns_give_field_values_with_rows() {
        let csv = "id,ssn,dob,appointment_date,Notes\n\
                   1,412-56-7890,1980-01-02,2024-03-04,\"call, later\"\n\
                   2,,1975-12-31,2024-03-05,\n";
        let s = scan_bytes("patients.csv", csv.as_bytes());
        let rows = s.field_rows(RULE);
        let fields: Vec<(Entity, &str)> =
            rows.iter().map(|r| (r.entity, r.field.as_str())).collect();
        assert_eq!(
            fields,
            vec![
                (Entity::Ssn, "column \"ssn\" row 2"),
                (Entity::Dob, "column \"dob\" row 2"),
                (Entity::Dob, "column \"dob\" row 3"),
            ]
        );
        let dob = s.row(Entity::Dob, "column \"dob\" row 3");
        assert_eq!((dob.line, dob.column), (3, 4));
        assert_eq!(
            value(&s, Entity::Ssn, "column \"ssn\" row 2"),
            "412-56-7890"
        );
    }

    #[test]
    fn rows_keep_their_lines_with_crlf_blank_lines_and_quoted_newlines() {
        // Windows line ends, a blank line and a cell over two lines: each
        // finding is on the line its row starts on in the file.
        let csv = "id,ssn,note\r\n\
                   1,412-56-7890,\"two\r\nlines\"\r\n\
                   \r\n\
                   2,412-56-7891,x\r\n";
        let s = scan_bytes("patients.csv", csv.as_bytes());
        let lines: Vec<(String, u64, u64)> = s
            .field_rows(RULE)
            .iter()
            .map(|r| (r.field.clone(), r.line, r.column))
            .collect();
        assert_eq!(
            lines,
            vec![
                ("column \"ssn\" row 2".to_string(), 2, 3),
                ("column \"ssn\" row 3".to_string(), 5, 3),
            ]
        );
    }

    #[test]
    fn a_windows_1252_row_among_utf8_rows_keeps_its_cells_and_columns() {
        // The batch is not UTF-8, so rows are decoded one by one: the UTF-8
        // rows' cells move along, the 1252 row is decoded cell by cell.
        let mut csv = "patient_name,ssn,note\nJosé Ruiz,412-56-7890,ok\n"
            .as_bytes()
            .to_vec();
        csv.extend_from_slice(b"M\xfcller Hans,412-56-7891,\"caf\xe9\"\n");
        csv.extend_from_slice("Zoë Li,412-56-7892,x\n".as_bytes());
        let s = scan_bytes("patients.csv", &csv);
        let name = |row: u64| {
            value(
                &s,
                Entity::PersonName,
                &format!("column \"patient_name\" row {row}"),
            )
        };
        assert_eq!(name(2), "José Ruiz");
        assert_eq!(name(3), "Müller Hans");
        assert_eq!(name(4), "Zoë Li");
        let ssn = |row: u64| s.row(Entity::Ssn, &format!("column \"ssn\" row {row}"));
        assert_eq!(
            value(&s, Entity::Ssn, "column \"ssn\" row 3"),
            "412-56-7891"
        );
        // Columns count characters: after "Müller Hans," and "Zoë Li,".
        assert_eq!((ssn(3).line, ssn(3).column), (3, 13));
        assert_eq!((ssn(4).line, ssn(4).column), (4, 8));
    }

    #[test]
    fn over_long_record_is_a_limit_not_an_allocation() {
        let mut big = b"ssn,notes\n1,".to_vec();
        // The parser reads ahead one buffer, so go well past the cap.
        big.resize(big.len() + MAX_RECORD as usize + (64 << 10), b'x');
        let s = scan_bytes("big.csv", &big);
        let skipped = s.not_examined();
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(skipped[0].1, SkipReason::Limit);
    }
}
