//! What must never be shown: passwords and keys ([`Secret`]), and the
//! password inside an `ftp://user:password@host/` target ([`redact`]).
//! Below every other module, so that settings, sources and reports can all
//! hold secrets without importing each other.

use std::fmt;

/// A password or key. Its `Debug` never shows it, so it cannot leak through
/// a `{:?}` of a target or a configuration; it has no `Display`. The value
/// is read with [`Secret::expose`], where it is used.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// So that clap can parse a flag into a `Secret`.
impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_string())
    }
}

/// The target with any password removed. Works on strings that do not
/// parse, so that error messages about them are safe too.
pub fn redact(s: &str) -> String {
    // After `scheme://`, or after `scheme:` when the slashes are mistyped.
    let start = match s.find("://") {
        Some(i) => i + 3,
        None => match s.find(':') {
            Some(i) if i > 0 && s[..i].bytes().all(|b| b.is_ascii_alphabetic()) => {
                i + 1 + s[i + 1..].bytes().take_while(|&b| b == b'/').count()
            }
            _ => return s.to_string(),
        },
    };
    // The last '@' anywhere: a password may hold unencoded '/' or '@'.
    match s.rfind('@') {
        Some(at) if at > start => {
            let userinfo = &s[start..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let user = user.split('/').next().unwrap_or("");
            format!("{}{}@{}", &s[..start], user, &s[at + 1..])
        }
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::new("Hunter-Two-Walrus");
        let text = format!("{s:?} {s:#?} {:?}", Some(s.clone()));
        assert!(!text.contains("Walrus"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
        assert_eq!(s.expose(), "Hunter-Two-Walrus");
    }

    #[test]
    fn redact_removes_passwords() {
        assert_eq!(redact("ftp://u:p@h/x"), "ftp://u@h/x");
        assert_eq!(redact("ftp://u:p/q@r@h/x"), "ftp://u@h/x");
        assert_eq!(redact("ftp://h/x"), "ftp://h/x");
        assert_eq!(redact("/local/path@x"), "/local/path@x");
        assert_eq!(redact("ftp:/u:pw@h/x"), "ftp:/u@h/x");
        assert_eq!(redact("ftp:u:pw@h"), "ftp:u@h");
    }
}
