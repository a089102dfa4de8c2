//! Per-file limits that bound time, and what a stream that fails or never
//! ends leaves in the report: what was read before is still matched, and
//! the file is reported as not examined with the reason.

use phiscan::config::ScanConfig;
use phiscan::engine::FileMeta;
use phiscan::plan::build_engine;
use phiscan::report::{Event, SkipReason};
use std::io::{self, Read};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Text first, then one byte every `drip` forever (a server that never
/// ends a transfer), or an error once the text is out.
struct Stream {
    text: Vec<u8>,
    at: usize,
    then: Then,
}

enum Then {
    Drip(Duration),
    Fail(io::ErrorKind),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at < self.text.len() {
            let n = buf.len().min(self.text.len() - self.at).min(4096);
            buf[..n].copy_from_slice(&self.text[self.at..self.at + n]);
            self.at += n;
            return Ok(n);
        }
        match self.then {
            Then::Drip(pause) => {
                std::thread::sleep(pause);
                buf[0] = b'x';
                Ok(1)
            }
            Then::Fail(kind) => Err(io::Error::new(kind, "connection reset by peer")),
        }
    }
}

/// A top-level file of unknown size.
fn file<'a>(target: &'a Arc<str>, path: &'a str) -> FileMeta<'a> {
    FileMeta {
        target,
        path,
        size: None,
        mtime: None,
    }
}

/// Scans `stream` as one file on another thread; the events, or a failure
/// if it has not finished within a minute (a hang).
fn scan_stream(config: ScanConfig, stream: Stream) -> (Vec<Event>, bool, Duration) {
    scan_stream_on(config, stream, "notes.txt", 1)
}

/// [`scan_stream`] of a file named `name`, on a pool of `threads` threads
/// when more than one (where a big file's work is spread over them).
fn scan_stream_on(
    config: ScanConfig,
    mut stream: Stream,
    name: &'static str,
    threads: usize,
) -> (Vec<Event>, bool, Duration) {
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let engine = build_engine(&config).unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        let target: Arc<str> = Arc::from("stream");
        let started = Instant::now();
        let mut scan = || engine.scan_file(&file(&target, name), &mut stream, 0, &tx);
        let outcome = if threads > 1 {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(scan)
        } else {
            scan()
        };
        let took = started.elapsed();
        drop(tx);
        let events: Vec<Event> = rx.iter().collect();
        let _ = done_tx.send((events, outcome.failed, took));
    });
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the scan of a never-ending stream did not stop")
}

fn notes() -> Vec<u8> {
    let mut text = b"Patient intake\nSSN: 412-56-7890\n".to_vec();
    text.extend(b"unremarkable line of notes\n".repeat(4000));
    text
}

fn ssn_rows(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Finding(f) if f.entity.to_string() == "SSN" => Some(f.matched.as_str()),
            _ => None,
        })
        .collect()
}

fn not_examined(events: &[Event]) -> Vec<(SkipReason, &str)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::NotExamined { reason, detail, .. } => Some((*reason, detail.as_str())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_transfer_that_never_ends_stops_at_the_time_limit_and_keeps_what_was_read() {
    let mut config = ScanConfig::default();
    config.limits.max_seconds = 1;
    let stream = Stream {
        text: notes(),
        at: 0,
        then: Then::Drip(Duration::from_millis(20)),
    };
    let (events, failed, took) = scan_stream(config, stream);
    // The SSN read before the stream stalled is reported, masked.
    assert_eq!(ssn_rows(&events), vec!["***-**-7890"]);
    let skipped = not_examined(&events);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].0, SkipReason::Limit);
    assert!(skipped[0].1.contains("time limit per file"), "{skipped:?}");
    assert!(failed);
    // Stopped by the limit, not by the one-minute guard above.
    assert!(took >= Duration::from_secs(1), "{took:?}");
}

#[test]
fn a_big_structured_transfer_that_stalls_stops_at_the_time_limit_and_keeps_what_was_read() {
    // Many batches of records (on two threads, matched on both) with an
    // SSN in the first and in the last, then a server that stops sending:
    // the last batch, read before the limit, is matched whole.
    let hl7 = [
        b"MSH|^~\\&|A|B|||2024||ADT^A01|1|P|2.5\rPID|1||123456^^^H^MR||DOE^JANE||||||||||||412-56-7890\r"
            .to_vec(),
        b"OBX|1|TX|N||unremarkable\r".repeat(20_000),
        b"PID|2||654321^^^H^MR||DOE^JOHN||||||||||||412-56-7891\r".to_vec(),
    ]
    .concat();
    let csv = [
        b"id,ssn,notes\n1,412-56-7890,first\n".to_vec(),
        b"2,,unremarkable\n".repeat(40_000),
        b"3,412-56-7891,last\n".to_vec(),
    ]
    .concat();
    for (name, text, threads) in [
        ("feed.hl7", &hl7, 1),
        ("feed.hl7", &hl7, 2),
        ("table.csv", &csv, 2),
    ] {
        let mut config = ScanConfig::default();
        config.limits.max_seconds = 1;
        let stream = Stream {
            text: text.clone(),
            at: 0,
            then: Then::Drip(Duration::from_millis(20)),
        };
        let (events, failed, took) = scan_stream_on(config, stream, name, threads);
        assert_eq!(
            ssn_rows(&events),
            vec!["***-**-7890", "***-**-7891"],
            "{name}"
        );
        let skipped = not_examined(&events);
        assert_eq!(skipped.len(), 1, "{name}: {skipped:?}");
        assert_eq!(skipped[0].0, SkipReason::Limit, "{name}");
        assert!(
            skipped[0].1.contains("time limit per file"),
            "{name}: {skipped:?}"
        );
        assert!(failed, "{name}");
        assert!(took >= Duration::from_secs(1), "{name}: {took:?}");
    }
}

#[test]
fn a_read_error_mid_file_still_matches_the_text_read_before_it() {
    let stream = Stream {
        text: notes(),
        at: 0,
        then: Then::Fail(io::ErrorKind::ConnectionReset),
    };
    let (events, failed, _) = scan_stream(ScanConfig::default(), stream);
    assert_eq!(ssn_rows(&events), vec!["***-**-7890"]);
    let skipped = not_examined(&events);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].0, SkipReason::Network);
    assert!(skipped[0].1.contains("connection reset"), "{skipped:?}");
    assert!(failed);
}

#[test]
fn no_time_limit_means_a_slow_stream_is_read_to_its_end() {
    // A stream that ends after a few slow bytes is read whole when the
    // limit is off (0), and nothing is reported as not examined.
    struct Slow(usize);
    impl Read for Slow {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let text = b"DOB: 01/02/1980\n";
            if self.0 >= text.len() {
                return Ok(0);
            }
            std::thread::sleep(Duration::from_millis(5));
            buf[0] = text[self.0];
            self.0 += 1;
            Ok(1)
        }
    }
    let mut config = ScanConfig::default();
    config.limits.max_seconds = 0;
    let engine = build_engine(&config).unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    let target: Arc<str> = Arc::from("stream");
    let outcome = engine.scan_file(&file(&target, "a.txt"), &mut Slow(0), 0, &tx);
    drop(tx);
    let events: Vec<Event> = rx.iter().collect();
    assert!(!outcome.failed);
    assert!(not_examined(&events).is_empty());
    let dob: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Finding(f) => Some((f.entity.to_string(), f.matched.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(dob, vec![("DOB".to_string(), "**/**/1980".to_string())]);
}
