//! One file's work spread over the threads of the current rayon pool:
//! this thread reads the file and cuts it into jobs (rounds of text,
//! batches of records), the pool matches them, and their findings are sent
//! in file order, as one thread would send them.

use super::{Budget, Ctx};
use crate::matcher::{Matcher, Scratch};
use crate::report::{Event, EventSink};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Jobs read but not yet matched, per worker thread: one being matched and
/// one ready to start, so that no thread waits on the reader. It bounds
/// the memory too, at about two jobs' input per thread.
const UNMATCHED_JOBS_PER_THREAD: usize = 2;

/// Jobs read but whose findings are not yet sent, per worker thread: the
/// jobs after one that is still being matched wait with their findings for
/// it. Larger than [`UNMATCHED_JOBS_PER_THREAD`] so that the reader keeps
/// reading (and matching) while another thread finishes an older job,
/// instead of waiting for that job alone.
const UNSENT_JOBS_PER_THREAD: usize = 6;

/// Bytes held by jobs read but not yet matched, at most (past it, one job
/// at a time): a batch holds its records whole, and a record may be tens
/// of MiB, where a round of text is 2 MiB.
const UNMATCHED_BYTES: usize = 16 << 20;

/// Whether this thread is a worker of a pool with other threads: a source
/// on a thread of its own (an FTP crawl) keeps to it rather than take the
/// global pool's threads.
pub fn pooled() -> bool {
    rayon::current_thread_index().is_some() && rayon::current_num_threads() > 1
}

/// Runs the jobs `next_job` gives (each with the bytes it holds and
/// whether it is the last) with `work` on the threads of the current rayon
/// pool, and hands each result to `deliver` in the order of the jobs.
/// `next_job` runs on this thread, between deliveries, so it sees what was
/// delivered before it. While enough jobs are in flight, this thread runs
/// jobs too rather than wait.
pub fn run_in_order<J: Send, R: Send>(
    mut next_job: impl FnMut() -> Option<(J, usize, bool)>,
    work: impl Fn(J) -> R + Sync,
    mut deliver: impl FnMut(R),
) {
    let threads = rayon::current_num_threads();
    let (unmatched_limit, unsent_limit) = (
        UNMATCHED_JOBS_PER_THREAD * threads,
        UNSENT_JOBS_PER_THREAD * threads,
    );
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<(usize, R)>();
    let mut ready: BTreeMap<usize, R> = BTreeMap::new();
    let mut next_sent = 0usize;
    // Bytes held by the jobs spawned and not yet matched.
    let unmatched_bytes = AtomicUsize::new(0);
    let mut send_ready = |ready: &mut BTreeMap<usize, R>, next_sent: &mut usize| {
        while let Some(result) = ready.remove(&*next_sent) {
            deliver(result);
            *next_sent += 1;
        }
    };
    rayon::in_place_scope_fifo(|scope| {
        let (work, unmatched_bytes) = (&work, &unmatched_bytes);
        for index in 0.. {
            // Jobs read but not matched, and jobs whose findings are not
            // yet sent, stay below their limits: wait, running this file's
            // jobs meanwhile. Jobs matched are those sent and those
            // waiting in `ready`.
            let over = |ready: &BTreeMap<usize, R>, next_sent: usize| {
                index - (next_sent + ready.len()) >= unmatched_limit
                    || index - next_sent >= unsent_limit
                    || unmatched_bytes.load(Ordering::Acquire) >= UNMATCHED_BYTES
            };
            while over(&ready, next_sent) {
                ready.extend(done_rx.try_iter());
                send_ready(&mut ready, &mut next_sent);
                if !over(&ready, next_sent) {
                    break;
                }
                // The newest jobs on this thread's own deque are this
                // file's (spawned after anything an outer job left there);
                // when none is left, other threads hold them.
                match rayon::yield_local() {
                    Some(rayon::Yield::Executed) => {}
                    _ => {
                        if let Ok(done) = done_rx.recv() {
                            ready.insert(done.0, done.1);
                        }
                    }
                }
            }
            let Some((job, bytes, last)) = next_job() else {
                break;
            };
            let done = done_tx.clone();
            unmatched_bytes.fetch_add(bytes, Ordering::AcqRel);
            scope.spawn_fifo(move |_| {
                let result = work(job);
                unmatched_bytes.fetch_sub(bytes, Ordering::AcqRel);
                let _ = done.send((index, result));
            });
            if last {
                break;
            }
            ready.extend(done_rx.try_iter());
            send_ready(&mut ready, &mut next_sent);
        }
    });
    drop(done_tx);
    ready.extend(done_rx.try_iter());
    send_ready(&mut ready, &mut next_sent);
}

/// Collects a job's events in order, findings past the row cap of one
/// kind counted in one event as the output does (see
/// [`crate::report::push_past_row_cap`]).
struct Collect(Mutex<Vec<Event>>);

impl EventSink for Collect {
    fn send(&self, event: Event) {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        crate::report::push_event(&mut held, event);
    }

    fn past_row_cap(&self, found: crate::report::PastCap) {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        crate::report::push_past_row_cap(&mut held, found);
    }
}

/// What a job did: its events, in order, and its budget afterwards.
pub struct JobEvents {
    pub events: Vec<Event>,
    pub budget: Budget,
}

/// What a job needs of its file's [`Ctx`], shared by the threads that run
/// the file's jobs.
pub struct JobCtx<'a> {
    matcher: &'a Matcher,
    options: &'a super::ScanOptions,
    target: &'a Arc<str>,
    path: &'a str,
    depth: u32,
    /// Matcher scratch for the jobs, one per thread at a time; `true`
    /// marks the one the file lent ([`JobCtx::new`]).
    scratches: Mutex<Vec<(bool, Scratch)>>,
    /// The file's findings sent so far ([`JobCtx::sent`]).
    sent_findings: AtomicU64,
}

impl<'a> JobCtx<'a> {
    /// The jobs of `ctx`'s file, which lends them its scratch (`lent`, in
    /// `ctx.scratch`'s place meanwhile) until [`JobCtx::give_back`]: its
    /// automata have states built on the files before, which a new scratch
    /// builds again (for the end finder's union of patterns, about a tenth
    /// of a 32 MB file's instructions).
    pub fn new(ctx: &'a Ctx, lent: Scratch) -> JobCtx<'a> {
        JobCtx {
            matcher: ctx.matcher,
            options: ctx.options,
            target: ctx.target,
            path: &ctx.path,
            depth: ctx.depth,
            scratches: Mutex::new(vec![(true, lent)]),
            sent_findings: AtomicU64::new(ctx.budget.findings.get()),
        }
    }

    /// Notes that the file's findings sent so far are `findings`: a job
    /// that starts later counts its own on from there.
    pub fn sent(&self, findings: u64) {
        self.sent_findings.fetch_max(findings, Ordering::AcqRel);
    }

    /// The scratch the file lent, once no job runs.
    pub fn give_back(self) -> Scratch {
        let scratches = self
            .scratches
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        scratches
            .into_iter()
            .find_map(|(lent, scratch)| lent.then_some(scratch))
            .unwrap_or_else(|| self.matcher.new_scratch())
    }

    /// Runs `f` with a context of the file whose events are collected and
    /// whose budget is `budget`; gives `f`'s result and what it did.
    pub fn run<T>(&self, budget: Budget, f: impl FnOnce(&mut Ctx) -> T) -> (T, JobEvents) {
        budget.count_on_from(self.sent_findings.load(Ordering::Acquire));
        let lock = || self.scratches.lock().unwrap_or_else(|e| e.into_inner());
        let popped = lock().pop();
        let (lent, mut scratch) = popped.unwrap_or_else(|| (false, self.matcher.new_scratch()));
        let collect = Collect(Mutex::new(Vec::new()));
        let result = {
            let mut ctx = Ctx {
                matcher: self.matcher,
                options: self.options,
                events: &collect,
                target: self.target,
                path: self.path.to_string(),
                depth: self.depth,
                budget: &budget,
                scratch: &mut scratch,
                matched_whole: true,
            };
            f(&mut ctx)
        };
        lock().push((lent, scratch));
        let events = collect.0.into_inner().unwrap_or_else(|e| e.into_inner());
        (result, JobEvents { events, budget })
    }
}

/// Records read ahead by a structured extractor, matched as one job.
pub trait Batch: Default + Send {
    /// Empties the batch for the next records, keeping its allocations.
    fn clear(&mut self);
    /// Bytes the batch holds (its buffers' capacities).
    fn held_bytes(&self) -> usize;
}

/// A batch done with is kept for the next records while it holds at most
/// this many bytes: one that grew for a huge record is let go.
const KEPT_BATCH_BYTES: usize = 4 << 20;

/// `batch` emptied for the next records, unless it grew too large to keep.
fn emptied<B: Batch>(mut batch: B) -> Option<B> {
    batch.clear();
    (batch.held_bytes() <= KEPT_BATCH_BYTES).then_some(batch)
}

/// Runs `work` on each batch `next_batch` reads from one file (each with
/// whether it is the last), as if one after the other on `ctx`: on the
/// threads of the current pool when there are several batches, with each
/// batch's events sent in order. `work` must depend on its batch alone
/// (whatever state a batch needs from the ones before, `next_batch` puts
/// in it), so that batches can be matched in any order. `next_batch` is
/// given an empty batch to fill: a new one or one done with, so that
/// batches keep their allocations.
///
/// A batch is matched whole once read (see `Ctx::matched_whole`): the
/// file's time limit stops the reading, between batches and in its reads.
/// It starts from the file's budget as last sent: its findings count on
/// from those sent before it (so the row cap never drops a finding the
/// output would write, see `ScanOptions::rows_per_file`), and its
/// expanded bytes from those of the batches sent (on many threads that
/// bound may be passed by what the batches in flight expand, a few at
/// most).
pub fn batches_in_order<B: Batch>(
    ctx: &mut Ctx,
    mut next_batch: impl FnMut(B) -> Option<(B, bool)>,
    work: impl Fn(&mut Ctx, &mut B) + Sync,
) {
    let Some((mut batch, mut last)) = next_batch(B::default()) else {
        return;
    };
    if last || !pooled() {
        loop {
            let budget = ctx.budget.for_job();
            let mut batch_ctx = Ctx {
                matcher: ctx.matcher,
                options: ctx.options,
                events: ctx.events,
                target: ctx.target,
                path: ctx.path.clone(),
                depth: ctx.depth,
                budget: &budget,
                scratch: &mut *ctx.scratch,
                matched_whole: true,
            };
            work(&mut batch_ctx, &mut batch);
            ctx.budget.absorb(&budget);
            if last || ctx.budget.check_time_now() {
                return;
            }
            (batch, last) = match next_batch(emptied(batch).unwrap_or_default()) {
                Some(next) => next,
                None => return,
            };
        }
    }
    let lent = std::mem::replace(&mut *ctx.scratch, ctx.matcher.new_scratch());
    let jobs = JobCtx::new(ctx, lent);
    let (events, budget) = (ctx.events, ctx.budget);
    let mut first = Some((batch, last));
    // Batches done with, for the next ones to be read into.
    let (spare_tx, spare_rx) = crossbeam_channel::unbounded::<B>();
    run_in_order(
        || {
            let (batch, last) = match first.take() {
                Some(first) => first,
                None if budget.check_time_now() => return None,
                None => next_batch(spare_rx.try_recv().unwrap_or_default())?,
            };
            let bytes = batch.held_bytes();
            Some(((batch, budget.for_job()), bytes, last))
        },
        |(mut batch, job_budget): (B, Budget)| {
            let done = jobs.run(job_budget, |ctx| work(ctx, &mut batch)).1;
            if let Some(batch) = emptied(batch) {
                let _ = spare_tx.send(batch);
            }
            done
        },
        |done: JobEvents| {
            for event in done.events {
                events.send(event);
            }
            budget.absorb(&done.budget);
            jobs.sent(budget.findings.get());
        },
    );
    *ctx.scratch = jobs.give_back();
}

#[cfg(test)]
mod tests {
    use super::super::testkit::events_on_threads;
    use crate::engine::Engine;
    use crate::extract::ScanOptions;
    use crate::matcher::Matcher;
    use crate::rules::RulePack;
    use crate::test_rng::Rng;

    /// Makes a file of about the length asked.
    type Generator = fn(&mut Rng, usize) -> Vec<u8>;

    fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
        items[rng.below(items.len())]
    }

    fn ssn(rng: &mut Rng) -> String {
        let area = 100 + rng.below(560);
        format!(
            "{area:03}-{:02}-{:04}",
            1 + rng.below(98),
            1 + rng.below(9998)
        )
    }

    /// `n` random digits, or 1 to `-n` of them when `n` is negative.
    fn digits(rng: &mut Rng, n: isize) -> String {
        let n = match n {
            0.. => n as usize,
            _ => 1 + rng.below(n.unsigned_abs()),
        };
        (0..n)
            .map(|_| char::from(b'0' + rng.below(10) as u8))
            .collect()
    }

    /// HL7 v2 messages with what moves the parsing state from one batch
    /// to the next: headers (some with unusable encoding characters),
    /// repeated segments, MLLP framing, lines that are not segments, blank
    /// lines, CR, LF and CRLF, bytes that are not UTF-8, OBX documents.
    fn random_hl7(rng: &mut Rng, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 512);
        let mut message = 0;
        while out.len() < len {
            let end = pick(rng, &["\r", "\n", "\r\n", "\r"]).as_bytes();
            let segment = match rng.below(40) {
                0 => {
                    message += 1;
                    if rng.below(3) == 0 {
                        out.push(0x0B);
                    }
                    match rng.below(12) {
                        // MSH-2 unusable: the message is plain text.
                        0 => format!("MSH|^^|APP|FAC|||2024||ADT^A01|{message}|P|2.5"),
                        1 => "FHS|^~\\&|APP".to_string(),
                        _ => format!("MSH|^~\\&|APP|FAC|||20240102||ADT^A01|{message}|P|2.5"),
                    }
                }
                1 => "\x1c".to_string(),
                2 => String::new(),
                3 => format!("NOTE: call back, SSN {}", ssn(rng)),
                4 => format!(
                    "PID|1||{}^^^HOSP^MR||DOE^JANE||19{}0102|F|||1 Main^^Town||(214) 555-{}|||||{}|{}",
                    digits(rng, 7),
                    rng.below(10),
                    digits(rng, 4),
                    digits(rng, 9),
                    ssn(rng)
                ),
                5 => format!("NK1|1|DOE^JOHN|SPO||(972) 555-{}", digits(rng, 4)),
                6 => "OBX|1|ED|PDF||^text^plain^Base64^UGF0aWVudCBTU046IDUxMi0zNC03ODkwLCBNUk4gNDQ1NTY2Nw==".to_string(),
                7 => format!("ZZZ|custom|{}|MRN: {}", ssn(rng), digits(rng, 7)),
                8 => format!("NTE|1||caf\u{e9} DOB 01/0{}/1980", 1 + rng.below(9)),
                9 => format!("AL1|1||\u{ff}{}|", ssn(rng)),
                _ => format!(
                    "OBX|{}|{}|GLU||{}|mg/dL|{}",
                    rng.below(30),
                    pick(rng, &["NM", "TX", "ST"]),
                    digits(rng, -10),
                    pick(rng, &["", "patient phone", "ssn", "date"]),
                ),
            };
            // Latin-1 where the generator wrote U+00FF: a segment that is
            // not UTF-8.
            let bytes = segment.replace('\u{ff}', "\u{1}");
            let mut bytes = bytes.into_bytes();
            if let Some(at) = bytes.iter().position(|&b| b == 1) {
                bytes[at] = 0xE9;
            }
            out.extend_from_slice(&bytes);
            out.extend_from_slice(end);
        }
        out
    }

    /// X12 segments (terminator `~`, sometimes a newline after it, blank
    /// segments between) with identifiers in known and unknown elements.
    fn random_x12(rng: &mut Rng, len: usize) -> Vec<u8> {
        let mut out = b"ISA*00*          *00*          *ZZ*SUBMITTERID    *ZZ*RECEIVERID     *240101*1200*^*00501*000000001*0*P*:~".to_vec();
        while out.len() < len {
            let segment = match rng.below(12) {
                0 => format!("NM1*IL*1*DOE*JANE****MI*{}", digits(rng, 9)),
                1 => format!("NM1*85*2*CLINIC*****XX*1{}", digits(rng, 9)),
                2 => format!("NM1*QC*1*DOE*JOHN****34*{}", digits(rng, 9)),
                3 => format!("DMG*D8*19{}0102*F", rng.below(10)),
                4 => format!("REF*SY*{}", ssn(rng)),
                5 => format!("PER*IC*JANE*TE*214555{}", digits(rng, 4)),
                6 => format!("NTE*ADD*patient SSN {}", ssn(rng)),
                7 => String::new(),
                8 => "  ".to_string(),
                _ => format!("HL*{}**20*1", rng.below(100)),
            };
            out.extend_from_slice(segment.as_bytes());
            out.push(b'~');
            if rng.below(4) == 0 {
                out.push(b'\n');
            }
        }
        out
    }

    /// A table whose header names some columns, with quoted cells over
    /// several lines, empty cells and cells that are not UTF-8.
    fn random_csv(rng: &mut Rng, len: usize) -> Vec<u8> {
        let mut out = b"id,ssn,date_of_birth,notes,phone,amount\n".to_vec();
        while out.len() < len {
            let notes = match rng.below(6) {
                0 => format!("\"called, SSN {}\nand left a message\"", ssn(rng)),
                1 => format!("MRN: {}", digits(rng, 7)),
                2 => "caf\u{1}".to_string(),
                3 => String::new(),
                _ => pick(rng, &["ok", "patient dob", "no show"]).to_string(),
            };
            let row = format!(
                "{},{},{},{},{},{}\n",
                digits(rng, -8),
                if rng.below(5) == 0 {
                    String::new()
                } else {
                    ssn(rng)
                },
                pick(rng, &["01/02/1980", "1975-12-31", "", "n/a"]),
                notes,
                pick(rng, &["(214) 555-0134", "", "555"]),
                digits(rng, 3),
            );
            out.extend(row.bytes().map(|b| if b == 1 { 0xE9 } else { b }));
        }
        out
    }

    /// The records of a generated file by line number as each format counts
    /// them (X12: segments that are not blank; HL7: every record, a CRLF
    /// pair ending one; CSV: lines), so that findings' lines can be checked
    /// against the file itself rather than against another scan.
    fn records_of(name: &str, data: &[u8]) -> Vec<String> {
        let text = String::from_utf8_lossy(data);
        match name {
            "f.x12" => text
                .split('~')
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string)
                .collect(),
            "f.hl7" => text
                .replace("\r\n", "\n")
                .split(['\r', '\n'])
                .map(str::to_string)
                .collect(),
            _ => text.split('\n').map(str::to_string).collect(),
        }
    }

    /// Every finding of the file itself (not of a member) is on the line
    /// it names, and an HL7 field's label names the message it is in.
    fn check_lines(name: &str, data: &[u8], events: &[crate::report::Event]) {
        let records = records_of(name, data);
        let mut checked = 0;
        for event in events {
            let crate::report::Event::Finding(f) = event else {
                continue;
            };
            // Values with digits (names are reported with their
            // components joined), compared by their letters and digits
            // (phones and dates may be reported normalized).
            let alnum =
                |s: &str| -> String { s.chars().filter(char::is_ascii_alphanumeric).collect() };
            if f.path != name
                || !f.matched.is_ascii()
                || !f.matched.bytes().any(|b| b.is_ascii_digit())
            {
                continue;
            }
            let line = f.line.expect("a line") as usize;
            // A CSV row may go on to the next line (a quoted cell).
            let around = records[line - 1..records.len().min(line + 1)].join("\n");
            let on_line = if name == "f.csv" {
                &around
            } else {
                &records[line - 1]
            };
            assert!(
                alnum(on_line).contains(&alnum(&f.matched)),
                "{name}: {f:?} not on line {line}: {on_line:?}"
            );
            // Field labels (`msg 2 PID-19`); segments of a broken message are
            // labelled by their id alone.
            if name == "f.hl7" && f.field.contains('-') {
                let messages = records[..line]
                    .iter()
                    .filter(|r| {
                        r.trim_start_matches(['\x0b', '\x1c', ' '])
                            .starts_with("MSH")
                    })
                    .count();
                let label = match f.field.strip_prefix("msg ") {
                    Some(rest) => rest.split(' ').next().unwrap().parse().unwrap(),
                    None => 1,
                };
                assert_eq!(messages.max(1), label, "{name}: {f:?}");
            }
            checked += 1;
        }
        assert!(checked > 1_000, "{name}: {checked} findings checked");
    }

    /// A file of several batches gives, on a pool of 2 or 3 threads, the
    /// events one thread gives, in the same order, positions and labels
    /// included; with a row cap, the rows the output writes are the same.
    #[test]
    fn batches_on_many_threads_report_what_one_thread_does() {
        let pack = RulePack::load(true, &[]).unwrap();
        let mut rng = Rng::new(0x17_2612);
        let generators: [(&str, Generator); 3] = [
            ("f.hl7", random_hl7),
            ("f.x12", random_x12),
            ("f.csv", random_csv),
        ];
        for (name, generate) in generators {
            // Several batches of either bound (records or bytes).
            let len = (1 << 20) + rng.below(1 << 19);
            let data = generate(&mut rng, len);
            let unmasked = Engine::new(
                Matcher::new(&pack).unwrap(),
                ScanOptions {
                    unmask: true,
                    ..ScanOptions::default()
                },
            );
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let (_, events) = pool.install(|| {
                    super::super::testkit::scan_reader(&unmasked, name, &mut &data[..], None)
                });
                check_lines(name, &data, &events);
            }
            for rows_per_file in [None, Some(50)] {
                let engine = Engine::new(
                    Matcher::new(&pack).unwrap(),
                    ScanOptions {
                        rows_per_file,
                        ..ScanOptions::default()
                    },
                );
                let serial = events_on_threads(&engine, 1, name, &data);
                let findings = serial.iter().filter(|e| e.starts_with("Finding")).count();
                let skipped = serial
                    .iter()
                    .filter(|e| e.starts_with("NotExamined"))
                    .count();
                if rows_per_file.is_none() {
                    assert!(findings > 5_000, "{name}: {findings} findings");
                }
                if name == "f.hl7" {
                    // Broken headers, and members read from OBX-5.
                    assert!(skipped > 10, "{name}: {skipped} not examined");
                    assert!(serial.iter().any(|e| e.contains("OBX-5.txt")), "{name}");
                }
                for threads in [2, 3] {
                    let parallel = events_on_threads(&engine, threads, name, &data);
                    assert_eq!(parallel.len(), serial.len(), "{name} on {threads} threads");
                    for (i, (p, s)) in parallel.iter().zip(&serial).enumerate() {
                        if rows_per_file.is_some()
                            && (p.starts_with("PastRowCap") || s.starts_with("PastRowCap"))
                        {
                            // A batch counts on from the findings sent
                            // before it: it may build a finding one thread
                            // would only count, never the other way.
                            assert!(s.starts_with("PastRowCap"), "{name} event {i}");
                            continue;
                        }
                        assert_eq!(
                            p,
                            s,
                            "{name} event {i} of {} on {threads} threads",
                            serial.len()
                        );
                    }
                }
            }
        }
    }
}
