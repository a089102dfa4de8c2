//! Logging in the way servers really answer: USER; 331 → PASS; 332 →
//! ACCT; 2xx logged in; 530 refused; 421 back off and try again later; a
//! refusal that speaks of TLS → AUTH TLS and retry (or, when a TLS session
//! refuses anonymous users, plain FTP again).

use super::control::{Channel, Control, ControlError, Reply};
use super::Service;
use std::time::Duration;

/// What one login attempt came to.
#[derive(Debug)]
pub enum Attempt {
    LoggedIn(Reply),
    /// The password (or account) was refused.
    PasswordRefused(Reply),
    /// The user name itself was refused.
    UserRefused(Reply),
    /// The refusal speaks of TLS: on a plain connection, TLS is required;
    /// on a TLS one, this user may not use it.
    TlsWanted(Reply),
    /// 421: the server asks us to come back later.
    BackOff(Reply),
}

/// Sends USER/PASS/ACCT on an open connection.
pub fn attempt(c: &mut Control, user: &str, password: &str) -> Result<Attempt, ControlError> {
    let refused = |r: Reply, user_step: bool| {
        if r.code == 421 {
            Attempt::BackOff(r)
        } else if r.mentions_tls() {
            Attempt::TlsWanted(r)
        } else if user_step {
            Attempt::UserRefused(r)
        } else {
            Attempt::PasswordRefused(r)
        }
    };
    use crate::source::ftp::wire::from_text;
    let r = c.cmd(&format!("USER {}", from_text(user)))?;
    let r = match r.code {
        200..=299 => return Ok(Attempt::LoggedIn(r)),
        331 => c.cmd(&format!("PASS {}", from_text(password)))?,
        332 => r,
        _ => return Ok(refused(r, true)),
    };
    let r = match r.code {
        200..=299 => return Ok(Attempt::LoggedIn(r)),
        332 => c.cmd(&format!("ACCT {}", from_text(password)))?,
        _ => return Ok(refused(r, false)),
    };
    Ok(match r.code {
        200..=299 => Attempt::LoggedIn(r),
        _ => refused(r, false),
    })
}

/// A logged-in connection and how it was reached.
pub struct Session {
    pub control: Control,
    pub user: String,
    pub channel: Channel,
    pub reply: Reply,
}

/// Why no login was had.
#[derive(Debug)]
pub enum NoLogin {
    /// Every login tried was refused: a verdict.
    Refused(String),
    /// The server could not be asked (network, 421 to the end): no verdict.
    Untested(String),
}

/// How many times a 421 is waited out before the check gives up.
const MAX_BACKOFFS: u32 = 2;

/// Tries `logins` (user, password) in order on `channels` (the first
/// that connects; a TLS refusal switches to the other), stopping at the
/// first success. One attempt per pair, plus the retries a 421 asks for.
pub fn first_login(
    svc: &Service,
    first: Channel,
    logins: &[(&str, &str)],
    backoff: Duration,
) -> Result<Session, NoLogin> {
    let mut channel = first;
    let mut conn: Option<Control> = None;
    let mut last_refusal: Option<String> = None;
    let mut refused_users: Vec<&str> = Vec::new();
    let mut switched = false;
    let mut backoffs = 0;
    let mut reconnects = 0;
    let mut i = 0;
    while i < logins.len() {
        let (user, password) = logins[i];
        if refused_users.contains(&user) {
            i += 1;
            continue;
        }
        let mut c = match conn.take() {
            Some(c) => c,
            None => match svc.open(channel) {
                Ok((c, g)) if g.code == 220 => c,
                Ok((_, g)) if g.code == 421 && backoffs < MAX_BACKOFFS => {
                    backoffs += 1;
                    std::thread::sleep(backoff * backoffs);
                    continue;
                }
                Ok((_, g)) => return Err(NoLogin::Untested(format!("greeting {}", g.shown()))),
                Err(e) => return Err(NoLogin::Untested(e.to_string())),
            },
        };
        match attempt(&mut c, user, password) {
            Ok(Attempt::LoggedIn(reply)) => {
                return Ok(Session {
                    control: c,
                    user: user.to_string(),
                    channel,
                    reply,
                })
            }
            Ok(Attempt::PasswordRefused(r)) => {
                last_refusal = Some(format!("{user}: {}", r.shown()));
                conn = Some(c);
                i += 1;
            }
            Ok(Attempt::UserRefused(r)) => {
                last_refusal = Some(format!("{user}: {}", r.shown()));
                refused_users.push(user);
                conn = Some(c);
                i += 1;
            }
            Ok(Attempt::TlsWanted(r)) => {
                c.quit();
                let other = match channel {
                    Channel::Plain => Some(Channel::Explicit),
                    Channel::Explicit => Some(Channel::Plain),
                    Channel::Implicit => None,
                };
                match other {
                    // Once each way: a server refusing both says no.
                    Some(o) if !switched => {
                        switched = true;
                        channel = o;
                    }
                    _ => {
                        last_refusal = Some(format!("{user}: {}", r.shown()));
                        i += 1;
                    }
                }
            }
            Ok(Attempt::BackOff(r)) => {
                c.quit();
                if backoffs >= MAX_BACKOFFS {
                    return Err(NoLogin::Untested(format!(
                        "the server kept answering {} (asked to come back later)",
                        r.shown()
                    )));
                }
                backoffs += 1;
                std::thread::sleep(backoff * backoffs);
            }
            // The server closed after a refusal (some allow one attempt per
            // connection): the same login again on a new connection, once.
            Err(ControlError::Closed) if last_refusal.is_some() && reconnects < logins.len() => {
                reconnects += 1;
            }
            Err(e) => return Err(NoLogin::Untested(e.to_string())),
        }
    }
    Err(NoLogin::Refused(
        last_refusal.unwrap_or_else(|| "no login to try".to_string()),
    ))
}
