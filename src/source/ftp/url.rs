//! `ftp://` / `ftps://` / `ftpes://` targets: parsing, password redaction,
//! and where a password comes from (URL, `PHISCAN_FTP_PASSWORD`, a
//! netrc-style file).
//!
//! Schemes: `ftp://` is plain FTP. `ftpes://` is explicit TLS (a plain
//! greeting, then AUTH TLS), as FileZilla writes it. `ftps://` is TLS
//! either way: curl, lftp and FileZilla read it as implicit TLS (TLS from
//! the first byte, usually port 990), while phiscan read it as explicit
//! until implicit TLS was supported; so for `ftps://` the server decides —
//! one that greets in plain text is explicit, one that stays silent waits
//! for the client's TLS hello (see `session::Connector`).

use crate::error::ConfigError;
use std::path::Path;
use std::sync::Arc;

/// Environment variable a password may come from.
pub const PASSWORD_ENV: &str = "PHISCAN_FTP_PASSWORD";

pub use crate::secret::{redact, Secret};

/// How a target's connections are secured, as its scheme says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsScheme {
    /// `ftp://`: no TLS.
    None,
    /// `ftpes://`: explicit TLS (AUTH TLS after a plain greeting).
    Explicit,
    /// `ftps://`: implicit or explicit TLS, whichever the server speaks.
    ImplicitOrExplicit,
}

/// An `ftp://`, `ftps://` or `ftpes://` target.
#[derive(Debug)]
pub struct FtpTarget {
    /// The URL without its password, as written to reports.
    pub display: Arc<str>,
    /// TLS on the control and data connections (`ftps://`, `ftpes://`):
    /// `tls` is not [`TlsScheme::None`].
    pub secure: bool,
    pub tls: TlsScheme,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// User name from the URL, percent-decoded.
    pub user: Option<String>,
    /// Password from the URL, percent-decoded.
    pub password: Option<Secret>,
    /// Path from the URL, percent-decoded, as raw bytes (file names on the
    /// server need not be UTF-8). Empty: the login directory.
    pub path: Vec<u8>,
    /// The path starts with `//`: absolute on the server rather than
    /// relative to the login directory.
    pub absolute: bool,
}

fn bad(s: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::BadTarget {
        target: redact(s),
        message: message.into(),
    }
}

impl FtpTarget {
    pub fn parse(s: &str) -> Result<FtpTarget, ConfigError> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| bad(s, "expected ftp://host/, ftps://host/ or ftpes://host/"))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "ftp" => TlsScheme::None,
            "ftps" => TlsScheme::ImplicitOrExplicit,
            "ftpes" => TlsScheme::Explicit,
            _ => return Err(bad(s, "the scheme must be ftp, ftps or ftpes")),
        };
        // The authority ends at the first '/' after the last '@' of the
        // userinfo; an unencoded '/' in a password still ends it, which
        // then fails below as a bad host rather than leaking anything.
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (user_raw, user, password) = match userinfo {
            None => (None, None, None),
            Some(ui) => {
                let (u, p) = match ui.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (ui, None),
                };
                let user = String::from_utf8(percent_decode(u).map_err(|m| bad(s, m))?)
                    .map_err(|_| bad(s, "the user name is not valid UTF-8"))?;
                if user.is_empty() {
                    return Err(bad(s, "empty user name"));
                }
                let password = match p {
                    Some(p) => Some(Secret::new(
                        String::from_utf8(percent_decode(p).map_err(|m| bad(s, m))?)
                            .map_err(|_| bad(s, "the password is not valid UTF-8"))?,
                    )),
                    None => None,
                };
                (Some(u), Some(user), password)
            }
        };
        let (host, port_raw) = split_host_port(hostport).ok_or_else(|| bad(s, "bad host"))?;
        if host.is_empty() {
            return Err(bad(s, "missing host name"));
        }
        if host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@' || c == '/')
        {
            return Err(bad(s, "bad host name"));
        }
        let port = match port_raw {
            None => 21,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(bad(s, "bad port number")),
            },
        };
        // A `;type=i` suffix (RFC 1738) says how to transfer; we always use binary.
        let path_only = match path.to_ascii_lowercase().rfind(";type=") {
            Some(i) => &path[..i],
            None => path,
        };
        let absolute = path_only.starts_with("//");
        let decoded = percent_decode(path_only.trim_start_matches('/')).map_err(|m| bad(s, m))?;
        let decoded = trim_slashes(&decoded);
        if decoded.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(bad(s, "the path holds a line break or NUL"));
        }
        let mut display = format!("{}://", scheme.to_ascii_lowercase());
        if let Some(u) = user_raw {
            display.push_str(u);
            display.push('@');
        }
        display.push_str(hostport);
        display.push_str(if path_only.is_empty() { "/" } else { path_only });
        Ok(FtpTarget {
            display: display.into(),
            secure: tls != TlsScheme::None,
            tls,
            host: host.to_string(),
            port,
            user,
            password,
            path: decoded.to_vec(),
            absolute,
        })
    }
}

fn trim_slashes(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&c| c != b'/').unwrap_or(b.len());
    let end = b.iter().rposition(|&c| c != b'/').map_or(start, |i| i + 1);
    b.get(start..end.max(start)).unwrap_or(&[])
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let close = rest.find(']')?;
        let host = &rest[..close];
        let after = &rest[close + 1..];
        return match after.strip_prefix(':') {
            Some(p) => Some((host, Some(p))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h, Some(p))),
        Some(_) => None,
        None => Some((s, None)),
    }
}

fn percent_decode(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "bad %-escape".to_string())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

/// `s` with every secret (a password, as typed or in wire form) replaced
/// by `***`: server replies may echo what was sent.
pub fn scrub(s: &str, secrets: &[String]) -> String {
    let mut out = s.to_string();
    for secret in secrets {
        if !secret.is_empty() && out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// Who to log in as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: Secret,
    pub anonymous: bool,
    /// A password came from somewhere (URL, environment, netrc, or the
    /// anonymous default); `false`: an empty one is sent.
    pub password_given: bool,
}

/// Picks the login for a target: the URL's user and password; a password
/// from `PHISCAN_FTP_PASSWORD` or the netrc file when the URL has none; the
/// netrc login for the host when the URL names no user; else anonymous.
pub fn credentials(
    target: &FtpTarget,
    env_password: Option<String>,
    netrc: Option<&str>,
    anonymous_password: &str,
) -> Credentials {
    let entries = netrc.map(parse_netrc).unwrap_or_default();
    let for_host = |user: Option<&str>| {
        let machine = entries.iter().find(|e| {
            e.machine.as_deref() == Some(target.host.as_str())
                && user.is_none_or(|u| e.login.as_deref().is_none_or(|l| l == u))
        });
        machine.or_else(|| {
            entries.iter().find(|e| {
                e.machine.is_none()
                    && user.is_none_or(|u| e.login.as_deref().is_none_or(|l| l == u))
            })
        })
    };
    // `None`: no password from anywhere (an anonymous user gets the
    // anonymous default, anyone else an empty one).
    let login = |user: &str, password: Option<Secret>| {
        let anonymous = is_anonymous(user);
        let password_given = password.is_some() || anonymous;
        let password = password
            .unwrap_or_else(|| Secret::new(if anonymous { anonymous_password } else { "" }));
        Credentials {
            anonymous,
            user: user.to_string(),
            password,
            password_given,
        }
    };
    match &target.user {
        Some(user) => {
            let password = target
                .password
                .clone()
                .or_else(|| env_password.map(Secret::new))
                .or_else(|| for_host(Some(user)).and_then(|e| e.password.clone()));
            login(user, password)
        }
        None => match for_host(None).and_then(|e| e.login.clone().map(|l| (l, e.password.clone())))
        {
            Some((user, password)) => login(&user, env_password.map(Secret::new).or(password)),
            None => login("anonymous", Some(Secret::new(anonymous_password))),
        },
    }
}

pub fn is_anonymous(user: &str) -> bool {
    user.eq_ignore_ascii_case("anonymous") || user.eq_ignore_ascii_case("ftp")
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetrcEntry {
    /// `None` for the `default` entry.
    pub machine: Option<String>,
    pub login: Option<String>,
    pub password: Option<Secret>,
}

/// Parses a netrc-style file: `machine HOST login USER password PASS`,
/// `default ...`; `macdef` bodies (up to a blank line) are skipped.
pub fn parse_netrc(text: &str) -> Vec<NetrcEntry> {
    let mut entries: Vec<NetrcEntry> = Vec::new();
    let mut lines = text.lines();
    let mut tokens: Vec<String> = Vec::new();
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        for w in line.split_whitespace() {
            if w == "macdef" {
                // The macro body runs to the next blank line.
                for l in lines.by_ref() {
                    if l.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            tokens.push(w.to_string());
        }
    }
    let mut it = tokens.into_iter();
    while let Some(tok) = it.next() {
        match tok.as_str() {
            "machine" => entries.push(NetrcEntry {
                machine: it.next(),
                ..NetrcEntry::default()
            }),
            "default" => entries.push(NetrcEntry::default()),
            "login" | "password" | "account" => {
                let value = it.next();
                if let Some(e) = entries.last_mut() {
                    match tok.as_str() {
                        "login" => e.login = value,
                        "password" => e.password = value.map(Secret::new),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    entries
}

/// Reads the netrc file, if one is configured. Errors name the file only.
pub fn read_netrc(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| {
        ConfigError::Invalid(format!("cannot read netrc file {}: {e}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_url_and_hides_password() {
        let t = FtpTarget::parse("ftp://alice:s3cr%40t@files.example.com:2121/pub/exp%20orts/")
            .unwrap();
        assert_eq!(
            &*t.display,
            "ftp://alice@files.example.com:2121/pub/exp%20orts/"
        );
        assert!(!t.secure);
        assert_eq!(t.host, "files.example.com");
        assert_eq!(t.port, 2121);
        assert_eq!(t.user.as_deref(), Some("alice"));
        assert_eq!(t.password.as_ref().map(Secret::expose), Some("s3cr@t"));
        assert_eq!(t.path, b"pub/exp orts");
        assert!(!format!("{t:?}").contains("s3cr"));
    }

    #[test]
    fn defaults_and_ipv6() {
        let t = FtpTarget::parse("ftps://[::1]").unwrap();
        assert!(t.secure);
        assert_eq!((t.host.as_str(), t.port), ("::1", 21));
        assert_eq!(&*t.display, "ftps://[::1]/");
        assert!(t.path.is_empty() && t.user.is_none());
        let t = FtpTarget::parse("FTP://h//srv/data;type=i").unwrap();
        assert!(t.absolute);
        assert_eq!(t.path, b"srv/data");
    }

    #[test]
    fn rejects_bad_targets_without_leaking() {
        for s in [
            "ftp://",
            "ftp://u:pw-XYZZY@:21/",
            "ftp://u:pw-XYZZY@host:99999/",
            "ftp://u:pw-XYZZY@host:abc/",
            "ftp://u:pw/XYZZY@host/",
            "ftp://u:pw-XYZZY@host/%zz",
            "sftp://u:pw-XYZZY@host/",
            "ftp:/u:pw-XYZZY@host/",
            "ftp:u:pw-XYZZY@host",
        ] {
            let err = FtpTarget::parse(s).expect_err(s).to_string();
            assert!(!err.contains("XYZZY"), "{s} -> {err}");
        }
    }

    #[test]
    fn scrub_hides_secrets() {
        let secrets = vec!["hunter2-Zq".to_string()];
        assert_eq!(
            scrub("530 bad pass hunter2-Zq", &secrets),
            "530 bad pass ***"
        );
    }

    #[test]
    fn credentials_come_from_url_env_netrc_or_anonymous() {
        let netrc = "# comment\nmachine h login bob password fromnetrc\nmacdef init\ncd /\n\ndefault login anonymous password guest@\n";
        let t = FtpTarget::parse("ftp://h/").unwrap();
        let c = credentials(&t, None, Some(netrc), "anonymous@");
        assert_eq!(
            (c.user.as_str(), c.password.expose(), c.anonymous),
            ("bob", "fromnetrc", false)
        );
        let c = credentials(&t, Some("fromenv".into()), Some(netrc), "anonymous@");
        assert_eq!(c.password.expose(), "fromenv");
        let t = FtpTarget::parse("ftp://bob:fromurl@h/").unwrap();
        let c = credentials(&t, Some("fromenv".into()), Some(netrc), "anonymous@");
        assert_eq!(c.password.expose(), "fromurl");
        let t = FtpTarget::parse("ftp://other/").unwrap();
        let c = credentials(&t, None, Some(netrc), "x@");
        assert_eq!(
            (c.user.as_str(), c.password.expose(), c.anonymous),
            ("anonymous", "guest@", true)
        );
        let c = credentials(&t, None, None, "x@");
        assert_eq!(
            (c.user.as_str(), c.password.expose(), c.anonymous),
            ("anonymous", "x@", true)
        );
        assert!(c.password_given);
    }

    #[test]
    fn a_user_without_a_password_from_anywhere_is_marked() {
        let t = FtpTarget::parse("ftp://bob@h/").unwrap();
        let c = credentials(&t, None, None, "x@");
        assert_eq!((c.password.expose(), c.password_given), ("", false));
        let c = credentials(&t, Some("pw".into()), None, "x@");
        assert!(c.password_given);
        let netrc = "machine h login bob password pw\n";
        assert!(credentials(&t, None, Some(netrc), "x@").password_given);
        // An empty password in the URL was given on purpose.
        let t = FtpTarget::parse("ftp://bob:@h/").unwrap();
        assert!(credentials(&t, None, None, "x@").password_given);
    }

    #[test]
    fn schemes_say_how_tls_is_used() {
        let tls = |s: &str| FtpTarget::parse(s).map(|t| (t.tls, t.secure)).unwrap();
        assert_eq!(tls("ftp://h/"), (TlsScheme::None, false));
        assert_eq!(tls("ftps://h:990/"), (TlsScheme::ImplicitOrExplicit, true));
        assert_eq!(tls("FTPES://h/"), (TlsScheme::Explicit, true));
        let t = FtpTarget::parse("ftpes://u:pw@h/x").unwrap();
        assert_eq!((&*t.display, t.port), ("ftpes://u@h/x", 21));
        assert!(FtpTarget::parse("ftpx://h/").is_err());
    }
}
