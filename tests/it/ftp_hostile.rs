//! A hostile FTP server: the scripted server of `common` misbehaving on
//! purpose, one test per misbehaviour. Each test states what phiscan must
//! do: which paths are scanned, which are reported as not examined and why,
//! and that the crawl ends (hangs are bounded by the scan's own `--timeout`
//! of 2 s and a generous outer limit; nothing here asserts speed).

use crate::common;

use common::{start_scripted, AuthTls, DataFault, Misreply, Node, Script};
use std::time::{Duration, Instant};

const SSN_TEXT: &[u8] = b"SSN 536-22-8145\n";

/// A hang would fail the test rather than block the suite forever: every
/// case here ends within seconds when phiscan behaves.
const OUTER_LIMIT: Duration = Duration::from_secs(120);

fn url(port: u16) -> String {
    format!("ftp://127.0.0.1:{port}/")
}

/// Scans with a 2 s timeout and `retries` retries, checking the outer limit.
fn scan_quick(
    target: &str,
    retries: u32,
    tweak: impl FnOnce(&mut phiscan::config::ScanConfig),
) -> common::Outcome {
    let started = Instant::now();
    let out = common::scan(&[target], |c| {
        c.ftp.timeout_secs = 2;
        c.ftp.retries = retries;
        tweak(c);
    });
    assert!(
        started.elapsed() < OUTER_LIMIT,
        "the scan took {:?}",
        started.elapsed()
    );
    out
}

fn sorted(mut v: Vec<(String, String, String)>) -> Vec<(String, String, String)> {
    v.sort();
    v
}

/// Lines the server logged for commands starting with `prefix`.
fn logged(log: &common::Log, prefix: &[u8]) -> Vec<Vec<u8>> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with(prefix))
        .cloned()
        .collect()
}

fn list_line(name: &[u8], size: usize) -> Vec<u8> {
    let mut line =
        format!("-rw-r--r--    1 ftp      ftp      {size:>10} Mar 14  2024 ").into_bytes();
    line.extend_from_slice(name);
    line.extend_from_slice(b"\r\n");
    line
}

// ---------------------------------------------------------------- names

#[test]
fn hostile_names_are_only_names() {
    let long_name = format!("{}.txt", "n".repeat(10_000));
    let overlong_name = "m".repeat(20_000);
    // Files that exist on the server under the names a client must use.
    let mut root = Node::dir();
    for name in [
        &b"back\\slash.txt"[..],
        b"bell\x07\x1b[31mred.txt",
        b"bad\xff\xfe.txt",
        long_name.as_bytes(),
    ] {
        root.add(name, SSN_TEXT);
    }
    // Targets a traversal would reach (must never be requested).
    root.add(b"a/b.txt", SSN_TEXT);
    root.add(b"escape.txt", SSN_TEXT);
    let mut listing = Vec::new();
    listing.extend_from_slice(b"drwxr-xr-x    2 ftp      ftp            4096 Mar 14  2024 .\r\n");
    listing.extend_from_slice(b"drwxr-xr-x    2 ftp      ftp            4096 Mar 14  2024 ..\r\n");
    for name in [
        &b"../escape.txt"[..],
        b"a/b.txt",
        b"..\\win.txt",
        b"back\\slash.txt",
        b"cr\rmid.txt",
        // A line feed inside a name: two lines, "first" and "second.txt".
        b"first\nsecond.txt",
        b"nul\0.txt",
        b"bell\x07\x1b[31mred.txt",
        b"bad\xff\xfe.txt",
        long_name.as_bytes(),
        overlong_name.as_bytes(),
    ] {
        listing.extend_from_slice(&list_line(name, SSN_TEXT.len()));
    }
    let mut script = Script::new(root);
    script.raw_listing = vec![(b"/".to_vec(), listing)];
    let (port, log) = start_scripted(script);

    // Through the binary, from an empty working directory: nothing but the
    // report may be written.
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path().join("cwd");
    let out_dir = work.path().join("out");
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::create_dir_all(&out_dir).unwrap();
    let report = out_dir.join("r.csv");
    let started = Instant::now();
    let output = assert_cmd::Command::cargo_bin("phiscan")
        .unwrap()
        .current_dir(&cwd)
        .env("NO_COLOR", "1")
        .args(["scan", &url(port), "--timeout", "2", "-o"])
        .arg(&report)
        .timeout(OUTER_LIMIT)
        .output()
        .unwrap();
    assert!(started.elapsed() < OUTER_LIMIT);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // Findings were made: exit 1 (it outranks "incomplete").
    assert_eq!(output.status.code(), Some(1), "{stderr}");

    // The report is valid CSV; paths hold no control characters.
    let csv_text = std::fs::read(&report).unwrap();
    let mut reader = csv::ReaderBuilder::new().from_reader(csv_text.as_slice());
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("valid CSV").iter().map(str::to_string).collect())
        .collect();
    let mut ssn_paths: Vec<String> = rows
        .iter()
        .filter(|r| r[2] == "SSN" && r[7] != "path")
        .map(|r| r[1].clone())
        .collect();
    ssn_paths.sort();
    let mut expected = vec![
        "back\\slash.txt".to_string(),
        "badÿþ.txt".to_string(),
        "bell\u{fffd}\u{fffd}[31mred.txt".to_string(),
        long_name.clone(),
    ];
    expected.sort();
    assert_eq!(ssn_paths, expected, "{rows:?}");
    assert!(
        rows.iter()
            .flatten()
            .all(|f| !f.chars().any(|c| c.is_control() && c != '\n')),
        "control characters in the report"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "escape sequence on the terminal"
    );

    // Names with '/', '..\', CR, LF or NUL are never requested; the server
    // only ever sees paths inside the listed folder.
    for l in log.lock().unwrap().iter() {
        if l.starts_with(b"RETR") || l.starts_with(b"CWD") || l.starts_with(b"SIZE") {
            let arg = &l[l.iter().position(|&b| b == b' ').unwrap() + 1..];
            assert!(
                !arg.windows(2).any(|w| w == b"..") && !arg[1..].contains(&b'/'),
                "requested outside the listed folder: {:?}",
                String::from_utf8_lossy(l)
            );
            assert!(!arg.contains(&0) && !arg.contains(&b'\r'));
        }
    }
    assert!(logged(&log, b"RETR /a").is_empty());
    assert!(logged(&log, b"RETR /escape").is_empty());
    // "first" (the part before the line feed) is asked for and is not there.
    assert_eq!(logged(&log, b"RETR /first"), vec![b"RETR /first".to_vec()]);
    assert!(
        stderr.contains("first [unreadable] cannot retrieve: 550"),
        "{stderr}"
    );
    // Seven lines not understood: ../escape.txt, a/b.txt, ..\win.txt,
    // cr<CR>mid.txt, second.txt, nul<NUL>.txt and the 20,000-byte name.
    assert!(
        stderr.contains("7 line(s) of the LIST listing of / not understood"),
        "{stderr}"
    );
    // Nothing written anywhere but the report.
    assert_eq!(std::fs::read_dir(&cwd).unwrap().count(), 0);
    let written: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    // The report and its fingerprint key.
    assert!(
        written
            .iter()
            .all(|n| n.to_str().is_some_and(|n| n.starts_with("r.csv"))),
        "{written:?}"
    );
    assert!(!work.path().join("escape.txt").exists());
}

// ---------------------------------------------------------------- loops

#[test]
fn folders_that_contain_themselves_are_crawled_once() {
    let mut root = Node::dir();
    root.add(b"a.txt", SSN_TEXT);
    root.add(b"docs/b.txt", SSN_TEXT);
    // /loop/loop/loop... are all /loop (a server following a link loop
    // and presenting it as folders).
    root.add(b"loop/data.txt", SSN_TEXT);
    root.add_dir(b"loop/loop");
    // With --follow-links: a link back to the root.
    root.add_link(b"docs/up", b"/");
    let mut script = Script::new(root);
    script.fold = Some(b"/loop".to_vec());
    // /docs lists itself and its parent besides its content.
    let mut docs = Vec::new();
    docs.extend_from_slice(b"drwxr-xr-x    2 ftp      ftp            4096 Mar 14  2024 .\r\n");
    docs.extend_from_slice(b"drwxr-xr-x    2 ftp      ftp            4096 Mar 14  2024 ..\r\n");
    docs.extend_from_slice(&list_line(b"b.txt", SSN_TEXT.len()));
    docs.extend_from_slice(
        b"lrwxrwxrwx    1 ftp      ftp               1 Mar 14  2024 up -> /\r\n",
    );
    script.raw_listing = vec![(b"/docs".to_vec(), docs)];
    let (port, log) = start_scripted(script);
    let out = scan_quick(&url(port), 1, |c| c.ftp.follow_links = true);

    let mut scanned: Vec<String> = out
        .entity("SSN")
        .iter()
        .filter(|r| r[7] != "path")
        .map(|r| r[1].clone())
        .collect();
    scanned.sort();
    assert_eq!(scanned, ["a.txt", "docs/b.txt", "loop/data.txt"]);
    assert_eq!(out.summary.files_scanned, 3);
    let skipped = out.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(
        (skipped[0].0.as_str(), skipped[0].1.as_str()),
        ("loop/loop", "limit")
    );
    assert!(
        skipped[0].2.contains("lists the same entries as loop"),
        "{skipped:?}"
    );
    // Each real file fetched once.
    assert_eq!(logged(&log, b"RETR /loop/data.txt").len(), 1);
    assert_eq!(logged(&log, b"RETR /a.txt").len(), 1);
}

// ---------------------------------------------------------------- huge and endless listings

#[test]
fn a_million_entries_in_one_folder_are_capped_and_reported() {
    let mut root = Node::dir();
    root.add_dir(b"huge");
    let mut script = Script::new(root);
    script.huge_dir = Some((b"/huge".to_vec(), 1_000_000));
    let (port, log) = start_scripted(script);
    let out = scan_quick(&url(port), 1, |c| {
        c.ftp.max_files = Some(10);
        c.ftp.connections = 1;
    });
    assert_eq!(out.summary.files_scanned, 10);
    let skipped = sorted(out.skipped());
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(
        (skipped[0].0.as_str(), skipped[0].1.as_str()),
        ("", "limit")
    );
    assert!(skipped[0].2.contains("--max-files 10"), "{skipped:?}");
    assert_eq!(
        (skipped[1].0.as_str(), skipped[1].1.as_str()),
        ("huge", "limit")
    );
    assert!(
        skipped[1].2.contains("exceeds 500000 entries"),
        "{skipped:?}"
    );
    assert_eq!(logged(&log, b"RETR").len(), 10);
}

#[test]
fn a_listing_that_never_ends_is_cut_and_the_crawl_goes_on() {
    let mut root = Node::dir();
    root.add(b"a.txt", SSN_TEXT);
    root.add(b"good/b.txt", SSN_TEXT);
    root.add(b"endless/same.txt", SSN_TEXT);
    let mut script = Script::new(root);
    // The same entry, again and again, as fast as the client reads.
    let line = String::from_utf8(list_line(b"same.txt", SSN_TEXT.len())).unwrap();
    script.endless_listing = Some((
        b"/endless".to_vec(),
        line.trim_end().to_string(),
        Duration::ZERO,
    ));
    let (port, log) = start_scripted(script);
    let out = scan_quick(&url(port), 1, |_| {});
    // a.txt, good/b.txt, and endless/same.txt once.
    assert_eq!(out.summary.files_scanned, 3);
    assert_eq!(logged(&log, b"RETR /endless/same.txt").len(), 1);
    let skipped = sorted(out.skipped());
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(skipped[0].0, "endless");
    assert_eq!(skipped[0].1, "bad_listing");
    assert!(
        skipped[0].2.contains("listed more than once"),
        "{skipped:?}"
    );
    assert_eq!(skipped[1].0, "endless");
    assert_eq!(skipped[1].1, "limit");
    assert!(
        skipped[1].2.contains("exceeds 500000 entries"),
        "{skipped:?}"
    );
}

#[test]
fn a_listing_dripped_line_by_line_is_cut_and_what_arrived_is_crawled() {
    let mut root = Node::dir();
    root.add(b"a.txt", SSN_TEXT);
    for i in 0..3 {
        root.add(format!("slow/f{i}.txt").as_bytes(), SSN_TEXT);
    }
    let mut script = Script::new(root);
    // f0.txt, f1.txt, f2.txt, f3.txt... one line every 500 ms: each read
    // comes well within the 2 s timeout, but the listing never ends.
    let line = String::from_utf8(list_line(b"f{n}.txt", SSN_TEXT.len())).unwrap();
    script.endless_listing = Some((
        b"/slow".to_vec(),
        line.trim_end().to_string(),
        Duration::from_millis(500),
    ));
    let (port, _) = start_scripted(script);
    let out = scan_quick(&url(port), 1, |_| {});
    let skipped = out.skipped();
    let limit: Vec<_> = skipped.iter().filter(|s| s.1 == "limit").collect();
    assert_eq!(limit.len(), 1, "{skipped:?}");
    assert_eq!(limit[0].0, "slow");
    assert!(limit[0].2.contains("too slowly"), "{skipped:?}");
    // The entries that did arrive were crawled: f0..f2 exist, later ones
    // are reported as vanished (550), never silently dropped.
    assert!(out.summary.files_scanned >= 4, "{:?}", out.summary);
    assert!(skipped
        .iter()
        .filter(|s| s.1 != "limit")
        .all(|s| s.1 == "unreadable" && s.0.starts_with("slow/f")));
}

// ---------------------------------------------------------------- control replies

/// A share where only `CWD /bad` is answered wrongly.
fn misreply_case(m: Misreply) -> (common::Outcome, common::Log) {
    let mut root = Node::dir();
    root.add(b"a.txt", SSN_TEXT);
    root.add(b"good/b.txt", SSN_TEXT);
    root.add(b"bad/c.txt", SSN_TEXT);
    let mut script = Script::new(root);
    script.misreply = vec![(b"CWD /bad".to_vec(), m)];
    let (port, log) = start_scripted(script);
    (scan_quick(&url(port), 1, |_| {}), log)
}

/// The rest of the share is scanned; `bad` alone is reported, as a
/// network failure whose detail contains `why`.
fn assert_only_bad_is_lost(out: &common::Outcome, why: &str) {
    assert_eq!(out.summary.files_scanned, 2);
    let skipped = out.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(
        (skipped[0].0.as_str(), skipped[0].1.as_str()),
        ("bad", "network")
    );
    assert!(
        skipped[0].2.starts_with("cannot list directory bad: ") && skipped[0].2.contains(why),
        "{skipped:?}"
    );
    assert!(out.summary.incomplete());
}

#[test]
fn garbage_reply_is_a_network_error_for_that_folder_only() {
    let (out, _) = misreply_case(Misreply::Garbage);
    assert_only_bad_is_lost(&out, "malformed reply");
}

#[test]
fn truncated_reply_then_close_is_a_network_error_for_that_folder_only() {
    let (out, _) = misreply_case(Misreply::Truncated);
    assert_only_bad_is_lost(&out, "malformed reply");
}

#[test]
fn multiline_reply_without_its_closing_line_times_out() {
    let (out, _) = misreply_case(Misreply::OpenMultiline);
    assert_only_bad_is_lost(&out, "timed out");
}

#[test]
fn out_of_sequence_reply_drops_the_connection_and_blames_no_other_path() {
    let (out, log) = misreply_case(Misreply::OutOfSequence);
    assert_only_bad_is_lost(&out, "out of sequence");
    // Two attempts (one retry), each on a fresh connection.
    assert_eq!(logged(&log, b"CWD /bad").len(), 2);
}

#[test]
fn reply_dripped_byte_by_byte_is_stopped_by_the_reply_deadline() {
    // One byte every 300 ms: no read ever waits the 2 s timeout; only an
    // overall deadline per reply ends it.
    let (out, _) = misreply_case(Misreply::Drip);
    assert_only_bad_is_lost(&out, "no complete reply within");
}

#[test]
fn control_connection_closed_mid_command_is_reported_and_the_crawl_goes_on() {
    let (out, log) = misreply_case(Misreply::Close);
    assert_only_bad_is_lost(&out, "connection closed by the server");
    assert_eq!(logged(&log, b"CWD /bad").len(), 2);
}

// ---------------------------------------------------------------- data connections

/// `a.txt` plus `victim.txt` (holding `content`) with the fault on RETR.
fn data_fault_case(
    fault: DataFault,
    content: &[u8],
    tweak: impl FnOnce(&mut phiscan::config::ScanConfig),
) -> common::Outcome {
    let mut root = Node::dir();
    root.add(b"a.txt", SSN_TEXT);
    root.add(b"victim.txt", content);
    let mut script = Script::new(root);
    script.data_fault = vec![(b"/victim.txt".to_vec(), fault)];
    let (port, _) = start_scripted(script);
    scan_quick(&url(port), 0, |c| {
        c.ftp.connections = 1;
        tweak(c);
    })
}

fn only_victim(out: &common::Outcome) -> (String, String) {
    let skipped = out.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].0, "victim.txt", "{skipped:?}");
    (skipped[0].1.clone(), skipped[0].2.clone())
}

#[test]
fn data_connection_that_never_opens_times_out() {
    let out = data_fault_case(DataFault::NeverOpens, SSN_TEXT, |_| {});
    let (reason, detail) = only_victim(&out);
    assert_eq!(reason, "network");
    assert!(detail.contains("after 0 bytes: timed out"), "{detail}");
    // a.txt was still fetched (over a new connection).
    assert_eq!(
        out.entity("SSN").iter().filter(|r| r[1] == "a.txt").count(),
        1
    );
}

#[test]
fn data_connection_that_never_closes_keeps_what_arrived_and_is_reported() {
    let out = data_fault_case(DataFault::NeverCloses, SSN_TEXT, |_| {});
    let (reason, detail) = only_victim(&out);
    assert_eq!(reason, "network");
    assert_eq!(detail, "transfer failed after 16 bytes: timed out");
    // All 16 listed bytes came and were matched: the SSN is reported, but
    // the file counts as not examined, not as scanned.
    assert_eq!(
        out.entity("SSN")
            .iter()
            .filter(|r| r[1] == "victim.txt")
            .count(),
        1
    );
    assert_eq!(out.summary.files_scanned, 1);
}

#[test]
fn endless_file_with_max_bytes_0_is_bounded_by_skip_larger_than() {
    // Listed as 16 bytes, sent without end; the user asked for whole files.
    let out = data_fault_case(DataFault::Endless, SSN_TEXT, |c| {
        c.max_bytes = Some(0);
        c.ftp.skip_larger_than = Some(1 << 20);
    });
    let (reason, detail) = only_victim(&out);
    assert_eq!(reason, "too_large");
    assert!(
        detail.contains("more than --skip-larger-than 1048576"),
        "{detail}"
    );
    // Only a.txt counts as scanned: the victim's verdict is "too large".
    assert_eq!(out.summary.files_scanned, 1);
    assert_eq!(out.summary.bytes_read, 16);
}

#[test]
fn endless_file_with_max_bytes_0_is_bounded_by_its_listed_size() {
    let out = data_fault_case(DataFault::Endless, SSN_TEXT, |c| c.max_bytes = Some(0));
    let (reason, detail) = only_victim(&out);
    assert_eq!(reason, "limit");
    assert!(detail.contains("more than the 16 bytes listed"), "{detail}");
    // Only a.txt counts as scanned: the victim's verdict is "limit".
    assert_eq!(out.summary.files_scanned, 1);
    assert_eq!(out.summary.bytes_read, 16);
}

#[test]
fn endless_file_without_a_listed_size_is_bounded_by_skip_larger_than() {
    // MLSD without a size fact: nothing to skip the file on beforehand.
    let mut root = Node::dir();
    root.add(b"a.txt", SSN_TEXT);
    root.add(b"victim.txt", SSN_TEXT);
    let mut script = Script::new(root);
    script.mlsd = true;
    script.raw_listing = vec![(
        b"/".to_vec(),
        b"type=file;size=16; a.txt\r\ntype=file;modify=20240101000000; victim.txt\r\n".to_vec(),
    )];
    script.data_fault = vec![(b"/victim.txt".to_vec(), DataFault::Endless)];
    let (port, log) = start_scripted(script);
    let out = scan_quick(&url(port), 0, |c| {
        c.max_bytes = Some(0);
        c.ftp.skip_larger_than = Some(1 << 20);
    });
    assert!(!logged(&log, b"MLSD").is_empty());
    let (reason, detail) = only_victim(&out);
    assert_eq!(reason, "too_large");
    assert!(
        detail.contains("more than --skip-larger-than 1048576"),
        "{detail}"
    );
    assert_eq!(out.summary.bytes_read, 16);
}

#[test]
fn active_mode_data_connection_that_stalls_times_out() {
    // In active mode the server opens the data connection; it must get the
    // same read timeout as a passive one.
    let mut root = Node::dir();
    root.add(b"a.txt", SSN_TEXT);
    root.add(b"victim.txt", &[b'x'; 100]);
    let mut script = Script::new(root);
    script.stall = Some(b"/victim.txt".to_vec());
    let (port, log) = start_scripted(script);
    let out = scan_quick(&url(port), 0, |c| {
        c.ftp.active = true;
        c.ftp.connections = 1;
    });
    assert!(!logged(&log, b"PORT ").is_empty());
    let (reason, detail) = only_victim(&out);
    assert_eq!(reason, "network");
    assert!(detail.contains("after 50 bytes: timed out"), "{detail}");
    assert_eq!(out.summary.files_scanned, 1);
}

#[test]
fn data_dripped_byte_by_byte_is_cut_by_the_rate_floor() {
    let content = vec![b'x'; 100_000];
    let out = data_fault_case(DataFault::Drip, &content, |_| {});
    let (reason, detail) = only_victim(&out);
    assert_eq!(reason, "network");
    assert!(detail.contains("too slowly"), "{detail}");
    // A failed read does not count as scanned: only a.txt.
    assert_eq!(out.summary.files_scanned, 1);
}

// ---------------------------------------------------------------- addresses

fn three_files() -> Node {
    let mut root = Node::dir();
    root.add(b"a.txt", SSN_TEXT);
    root.add(b"docs/b.txt", SSN_TEXT);
    root.add(b"docs/c.txt", SSN_TEXT);
    root
}

#[test]
fn pasv_reply_naming_another_address_is_not_followed() {
    let mut script = Script::new(three_files());
    script.no_epsv = true;
    script.pasv_host = Some("127,0,0,2".into());
    let (port, log) = start_scripted(script);
    let out = scan_quick(&url(port), 1, |_| {});
    assert_eq!(out.skipped(), vec![]);
    assert_eq!(out.summary.files_scanned, 3);
    assert!(!logged(&log, b"PASV").is_empty(), "PASV was used");
    // Every data connection came from the client to the server's own
    // address; the decoy on 127.0.0.2 (where the replies pointed) saw none.
    assert!(logged(&log, b"!DECOY").is_empty(), "connected to 127.0.0.2");
    let data = logged(&log, b"!DATA FROM");
    assert_eq!(data.len(), 2 + 3, "two listings, three files");
    assert!(data.iter().all(|l| l == b"!DATA FROM 127.0.0.1"));
}

#[test]
fn epsv_replies_with_impossible_ports_are_clear_errors() {
    for reply in [
        "229 Entering Extended Passive Mode (|||0|)",
        "229 Entering Extended Passive Mode (|||65536|)",
        "229 Entering Extended Passive Mode (|||99999999999999999999999|)",
        "229 Entering Extended Passive Mode (|||-21|)",
        "229 Entering Extended Passive Mode (|||{control}|)",
        "229 Entering Extended Passive Mode",
    ] {
        let mut script = Script::new(three_files());
        script.epsv_reply = Some(reply.into());
        let (port, log) = start_scripted(script);
        let out = scan_quick(&url(port), 0, |_| {});
        assert_eq!(out.summary.files_scanned, 0, "{reply}");
        let skipped = out.skipped();
        assert_eq!(skipped.len(), 1, "{reply}: {skipped:?}");
        assert_eq!(
            (skipped[0].0.as_str(), skipped[0].1.as_str()),
            ("", "network"),
            "{reply}"
        );
        assert!(
            skipped[0].2.starts_with("cannot list directory /: "),
            "{reply}: {skipped:?}"
        );
        assert!(logged(&log, b"RETR").is_empty());
    }
}

#[test]
fn active_mode_ignores_data_connections_from_another_address() {
    let mut script = Script::new(three_files());
    script.active_from = Some("127.0.0.2".into());
    let (port, log) = start_scripted(script);
    let out = scan_quick(&url(port), 0, |c| c.ftp.active = true);
    // The PORT command names the client's own address.
    let ports = logged(&log, b"PORT ");
    assert!(!ports.is_empty());
    assert!(ports.iter().all(|l| l.starts_with(b"PORT 127,0,0,1,")));
    // The connection from 127.0.0.2 is not taken as the data connection.
    assert_eq!(out.summary.files_scanned, 0);
    let skipped = out.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].1, "network");
    assert!(
        skipped[0].2.starts_with("cannot list directory /: ") && skipped[0].2.contains("timed out"),
        "{skipped:?}"
    );
}

// ---------------------------------------------------------------- TLS

/// Scans a scripted server that offers AUTH TLS and answers it as `auth`
/// says; checks that nothing was scanned or sent in clear text and that the
/// server is reported once as not examined (network); returns the detail.
fn tls_failure(auth: AuthTls) -> String {
    let mut script = Script::new(three_files());
    script.advertise_tls = true;
    script.auth_tls = auth.clone();
    let (port, log) = start_scripted(script);
    let out = scan_quick(&format!("ftps://127.0.0.1:{port}/"), 1, |_| {});
    // No login was attempted in clear text after TLS failed.
    assert!(logged(&log, b"USER").is_empty());
    assert!(logged(&log, b"PASS").is_empty());
    // A handshake that broke off is tried again (`retries` is 1); a refusal
    // of AUTH TLS is final.
    let attempts = if auth == AuthTls::Refuse { 1 } else { 2 };
    assert_eq!(logged(&log, b"AUTH").len(), attempts);
    assert_eq!(out.summary.files_scanned, 0);
    let mut skipped = out.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    let (_, reason, detail) = skipped.remove(0);
    assert_eq!(reason, "network");
    detail
}

#[test]
fn server_that_refuses_auth_tls_is_reported_and_not_asked_again() {
    let detail = tls_failure(AuthTls::Refuse);
    assert!(
        detail.starts_with("TLS failed: the server refused AUTH TLS: 534"),
        "{detail}"
    );
}

#[test]
fn server_that_drops_the_connection_after_auth_tls_is_refused_clearly() {
    let detail = tls_failure(AuthTls::AcceptThenClose);
    assert!(detail.starts_with("TLS failed: "), "{detail}");
}

#[test]
fn server_that_answers_auth_tls_with_plain_text_is_refused_clearly() {
    let detail = tls_failure(AuthTls::AcceptThenPlaintext);
    assert!(detail.starts_with("TLS failed: "), "{detail}");
}

/// A test CA, and a certificate for 127.0.0.1 it signed, valid or expired.
fn ca_and_server_cert(
    dir: &std::path::Path,
    expired: bool,
) -> (std::path::PathBuf, (std::path::PathBuf, std::path::PathBuf)) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "phiscan test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![
        SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
        SanType::DnsName("localhost".try_into().unwrap()),
    ];
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let ca_path = dir.join("ca.pem");
    let cert_path = dir.join(if expired { "expired.pem" } else { "valid.pem" });
    let key_path = dir.join(if expired { "expired.key" } else { "valid.key" });
    std::fs::write(&ca_path, ca.pem()).unwrap();
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (ca_path, (cert_path, key_path))
}

/// `phiscan scan` trusting only `ca` (SSL_CERT_FILE, read by the system
/// certificate loader): exit status and stderr.
fn scan_trusting(ca: &std::path::Path, target: &str) -> (Option<i32>, String) {
    let out_dir = tempfile::tempdir().unwrap();
    let output = assert_cmd::Command::cargo_bin("phiscan")
        .unwrap()
        .env("SSL_CERT_FILE", ca)
        .env_remove("SSL_CERT_DIR")
        .env("NO_COLOR", "1")
        .args(["scan", target, "--timeout", "5", "-o"])
        .arg(out_dir.path().join("r.csv"))
        .timeout(OUTER_LIMIT)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn expired_certificate_is_refused_with_a_clear_error() {
    let share = tempfile::tempdir().unwrap();
    std::fs::write(share.path().join("a.txt"), SSN_TEXT).unwrap();
    let certs = tempfile::tempdir().unwrap();
    // Control: the same CA's valid certificate is accepted, so what fails
    // below is the expiry, nothing else.
    let valid_dir = certs.path().join("valid");
    std::fs::create_dir_all(&valid_dir).unwrap();
    let (ca, valid) = ca_and_server_cert(&valid_dir, false);
    let port = common::start_unftp(share.path(), Some(valid));
    let (code, stderr) = scan_trusting(&ca, &format!("ftps://127.0.0.1:{port}/"));
    assert_eq!(code, Some(1), "the SSN is found: {stderr}");
    assert!(stderr.contains("not examined: 0"), "{stderr}");

    let expired_dir = certs.path().join("expired");
    std::fs::create_dir_all(&expired_dir).unwrap();
    let (ca, expired) = ca_and_server_cert(&expired_dir, true);
    let port = common::start_unftp(share.path(), Some(expired));
    let (code, stderr) = scan_trusting(&ca, &format!("ftps://127.0.0.1:{port}/"));
    // No FTP session (TLS failed), nothing found: a server not read (exit 4).
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("[network] TLS failed: "), "{stderr}");
    assert!(stderr.to_lowercase().contains("expired"), "{stderr}");
    assert!(stderr.contains("--insecure"), "{stderr}");
}
