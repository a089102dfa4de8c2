#![no_main]
//! Fuzzes the FTP listing parsers (LIST in Unix and DOS style, MLSD) and
//! the wire-form name handling on arbitrary bytes, as a hostile server
//! could send them. Beyond "never panics", it checks what the crawler
//! relies on: a parsed name is only ever a name in the listed folder.

use phiscan::source::ftp::listing::{self, Line};
use phiscan::source::ftp::{session, wire};

fn check(line: &str, parsed: Line) {
    let Line::Entry(e) = parsed else {
        return;
    };
    let name = e.name.as_str();
    assert!(!name.is_empty(), "empty name from {line:?}");
    assert!(name != "." && name != "..", "dot entry from {line:?}");
    assert!(
        !name.contains(['/', '\r', '\n', '\0']),
        "separator or line break in {name:?}"
    );
    assert!(
        !name.split('\\').any(|step| step == ".."),
        "backslash traversal in {name:?}"
    );
    // Wire form: every char is one byte, so the name goes back unchanged.
    let bytes = wire::to_bytes(name).expect("a listed name is in wire form");
    assert_eq!(wire::from_bytes(&bytes), name);
    assert!(!wire::to_report(name).chars().any(char::is_control));
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Wire form round-trips any bytes.
    let text = wire::from_bytes(data);
    assert_eq!(wire::to_bytes(&text).as_deref(), Some(data));
    let report = wire::to_report(&text);
    assert!(!report.chars().any(char::is_control));
    let shown = session::printable(&text, 120);
    assert!(shown.chars().count() <= 121);
    // Each line as the crawler cuts them: at LF, one CR stripped.
    for raw in data.split(|&b| b == b'\n') {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = wire::from_bytes(raw);
        check(&line, listing::parse_list(&line));
        check(&line, listing::parse_mlsd(&line));
    }
});
