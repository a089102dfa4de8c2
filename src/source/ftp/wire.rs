//! File names as the server sends them. FTP names are bytes in whatever
//! encoding the server uses (UTF-8 today, Latin-1 on old servers). Inside the
//! crawler a name is kept in "wire form": one `char` (U+0000..U+00FF) per
//! byte, so a listed name goes back in RETR/CWD byte for byte. Reports get
//! the display form: UTF-8 when the bytes are UTF-8, else Latin-1.

use std::io;

/// The suppaftp encoding for wire form: bytes ↔ chars U+0000..U+00FF.
#[derive(Debug, Clone, Copy)]
pub struct WireEncoding;

impl suppaftp::Encoding for WireEncoding {
    fn decode(&self, bytes: &[u8]) -> String {
        from_bytes(bytes)
    }

    fn encode(&self, text: &str) -> io::Result<Vec<u8>> {
        to_bytes(text)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "name is not in wire form"))
    }
}

pub fn from_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Wire form back to bytes; `None` if `s` holds a char above U+00FF.
pub fn to_bytes(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// Text typed by the user (UTF-8) in wire form: its UTF-8 bytes.
pub fn from_text(s: &str) -> String {
    from_bytes(s.as_bytes())
}

/// Wire form for reports: UTF-8 if the bytes are UTF-8, else Latin-1.
pub fn to_display(s: &str) -> String {
    match to_bytes(s) {
        Some(bytes) => match String::from_utf8(bytes) {
            Ok(utf8) => utf8,
            Err(_) => s.to_string(),
        },
        None => s.to_string(),
    }
}

/// Wire form for report paths: [`to_display`] with control characters
/// (C0, DEL, C1) replaced by U+FFFD, so a hostile name cannot carry
/// terminal escapes or line breaks into a report or onto a terminal.
pub fn to_report(s: &str) -> String {
    to_display(s)
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// `name` inside the folder `dir` (both wire form).
pub fn join(dir: &str, name: &str) -> String {
    if name.is_empty() {
        return dir.to_string();
    }
    let dir = dir.trim_end_matches('/');
    format!("{dir}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use suppaftp::Encoding;

    #[test]
    fn latin1_and_utf8_names_round_trip() {
        let latin1 = b"caf\xe9 r\xe9sum\xe9.txt";
        let w = WireEncoding.decode(latin1);
        assert_eq!(WireEncoding.encode(&w).unwrap(), latin1);
        assert_eq!(to_display(&w), "café résumé.txt");
        let utf8 = "café.txt".as_bytes();
        let w = WireEncoding.decode(utf8);
        assert_eq!(WireEncoding.encode(&w).unwrap(), utf8);
        assert_eq!(to_display(&w), "café.txt");
        assert!(WireEncoding.encode("日本").is_err());
        assert_eq!(
            to_bytes(&from_text("pässword")).unwrap(),
            "pässword".as_bytes()
        );
    }

    #[test]
    fn report_form_has_no_control_characters() {
        assert_eq!(
            to_report(&from_bytes(b"bell\x07\x1b[31mred\x7f\xc2\x9b.txt")),
            "bell\u{fffd}\u{fffd}[31mred\u{fffd}\u{fffd}.txt"
        );
        assert_eq!(to_report(&from_bytes(b"caf\xe9")), "café");
    }
}
