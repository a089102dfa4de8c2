//! Finding fingerprints: stable identities for findings that reveal nothing
//! about the value.
//!
//! A fingerprint is HMAC-SHA256 over (path, rule, normalized value), keyed
//! with a secret. It does not depend on the line or column, so a finding
//! keeps its fingerprint when lines are added above it, and it is the same
//! on every machine and run that uses the same key.
//!
//! Why keyed: an SSN has only 10^9 possible values, so a plain hash of one
//! is reversed by trying them all in minutes. With a keyed hash, whoever
//! holds a report or baseline but not the key learns nothing from the
//! fingerprints. The trade-off: the key must be kept as well as kept
//! secret. It comes from `--fingerprint-key` / `PHISCAN_FINGERPRINT_KEY`
//! (a CI secret: best), or it is generated for a scan and stored in the
//! baseline file (convenient, but then the baseline file must be treated as
//! sensitive as the reports: with the key and a masked report's last four
//! digits an SSN is 10^5 guesses away). Changing the key changes every
//! fingerprint, so baselines and value allowlists made with another key no
//! longer match (phiscan refuses a baseline whose key id differs).
//!
//! Two fingerprints exist per finding: the finding's own (path + rule +
//! value, used by baselines) and the value's alone (used by allowlists "by
//! exact value", which hold these instead of plain values).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Prefix that marks the fingerprint scheme, so a later scheme can coexist.
const VERSION: &str = "v1";
/// Hex digits kept of the 256-bit MAC: 128 bits, ample for identity.
const HEX_LEN: usize = 32;
/// Shortest key accepted from the user, in bytes.
pub const MIN_KEY_LEN: usize = 16;

/// The secret key. Never printed: `Debug` shows only its public id.
#[derive(Clone)]
pub struct FingerprintKey {
    secret: Vec<u8>,
    /// HMAC state with the key taken in, cloned for each MAC: keying
    /// anew took two of the four SHA-256 blocks of every fingerprint.
    keyed: HmacSha256,
}

impl PartialEq for FingerprintKey {
    fn eq(&self, other: &Self) -> bool {
        self.secret == other.secret
    }
}

impl Eq for FingerprintKey {}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("fingerprint key is too short: at least {MIN_KEY_LEN} bytes are needed")]
    TooShort,
    #[error("cannot generate a fingerprint key: {0}")]
    Random(String),
}

impl FingerprintKey {
    /// A key from user input (any text of at least [`MIN_KEY_LEN`] bytes).
    pub fn from_secret(secret: &str) -> Result<FingerprintKey, KeyError> {
        let secret = secret.trim();
        if secret.len() < MIN_KEY_LEN {
            return Err(KeyError::TooShort);
        }
        Ok(FingerprintKey::with_secret(secret.as_bytes().to_vec()))
    }

    /// A new random key (256 bits from the OS), as 64 hex digits.
    pub fn generate() -> Result<FingerprintKey, KeyError> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
        let mut secret = String::with_capacity(bytes.len() * 2);
        hex_into(&bytes, &mut secret);
        Ok(FingerprintKey::with_secret(secret.into_bytes()))
    }

    fn with_secret(secret: Vec<u8>) -> FingerprintKey {
        // HMAC accepts keys of any length: this cannot fail.
        let keyed = HmacSha256::new_from_slice(&secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        FingerprintKey { secret, keyed }
    }

    /// The key as text, for storing it in a baseline or key file.
    pub fn secret(&self) -> String {
        String::from_utf8_lossy(&self.secret).into_owned()
    }

    /// A public identifier of the key (not the key): lets a scan tell that
    /// a baseline was made with another key. Safe to print and store.
    pub fn id(&self) -> String {
        self.mac(&[b"phiscan key id"])
    }

    fn mac(&self, parts: &[&[u8]]) -> String {
        let mut s = String::with_capacity(HEX_LEN);
        self.mac_into(parts, &mut s);
        s
    }

    /// `VERSION:` and the MAC, in one allocation (two per finding).
    fn versioned_mac(&self, parts: &[&[u8]]) -> String {
        let mut s = String::with_capacity(VERSION.len() + 1 + HEX_LEN);
        s.push_str(VERSION);
        s.push(':');
        self.mac_into(parts, &mut s);
        s
    }

    /// Appends the first HEX_LEN hex digits of the MAC of `parts`.
    fn mac_into(&self, parts: &[&[u8]], out: &mut String) {
        let mut mac = self.keyed.clone();
        // Each part is length-prefixed, so ("ab", "c") and ("a", "bc")
        // cannot collide.
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        let digest = mac.finalize().into_bytes();
        hex_into(&digest[..HEX_LEN / 2], out);
    }
}

impl Default for FingerprintKey {
    /// A one-off random key: fingerprints are only comparable within one
    /// run. A scan always uses the key its plan resolved instead.
    fn default() -> Self {
        FingerprintKey::generate().unwrap_or_else(|_| {
            // No OS randomness: derive a per-process key from time and
            // addresses. Only used for one-off fingerprints.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let local = 0u8;
            let seed = format!("{now}:{}:{:p}", std::process::id(), &local);
            FingerprintKey::with_secret(seed.into_bytes())
        })
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FingerprintKey(id {})", self.id())
    }
}

/// The two fingerprints of a finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprints {
    /// Path + rule + value: the finding's identity (CSV `fingerprint`).
    pub finding: String,
    /// The value alone: what value allowlists hold.
    pub value: String,
}

/// Normal form of a value: case and separators do not change identity
/// (`123-45-6789` = `123 45 6789`, `A@B.com` = `a@b.com`).
pub fn normalize_value(value: &str) -> String {
    // ASCII (nearly every value): the same result byte by byte, without
    // the char decoding and the lower-case iterator of the general case,
    // which were a few percent of a scan with many findings.
    if value.is_ascii() {
        let mut out = String::with_capacity(value.len());
        out.extend(
            value
                .bytes()
                .filter(|b| b.is_ascii_alphanumeric() || *b == b'@')
                .map(|b| char::from(b.to_ascii_lowercase())),
        );
        return out;
    }
    value
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '@')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The key of a completed file in a `--resume` state file: keyed like the
/// fingerprints, so the state file reveals no name to whoever lacks the
/// key (a salt stored beside the hashes did not: names could be guessed).
pub fn resume_entry(key: &FingerprintKey, target: &str, path: &str) -> String {
    key.mac(&[b"resume entry", target.as_bytes(), path.as_bytes()])
}

/// Fingerprint of a value alone (for allowlists by exact value).
pub fn value_fingerprint(key: &FingerprintKey, value: &str) -> String {
    let norm = normalize_value(value);
    key.versioned_mac(&[b"value", norm.as_bytes()])
}

/// Both fingerprints of a finding at `path` (target-relative) by `rule`
/// over the raw `value`. The target itself is left out so that the same
/// share mirrored to another place keeps its fingerprints.
pub fn compute(key: &FingerprintKey, path: &str, rule: &str, value: &str) -> Fingerprints {
    let norm = normalize_value(value);
    Fingerprints {
        finding: key.versioned_mac(&[
            b"finding",
            path.as_bytes(),
            rule.as_bytes(),
            norm.as_bytes(),
        ]),
        value: key.versioned_mac(&[b"value", norm.as_bytes()]),
    }
}

fn hex_into(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> FingerprintKey {
        FingerprintKey::from_secret(s).unwrap()
    }

    #[test]
    fn same_inputs_same_fingerprint_and_separators_do_not_matter() {
        let k = key("0123456789abcdef-test-key");
        let a = compute(&k, "hr/staff.csv", "ssn", "219-45-6780");
        let b = compute(&k, "hr/staff.csv", "ssn", "219 45 6780");
        assert_eq!(a, b);
        assert!(a.finding.starts_with("v1:") && a.finding.len() == 3 + HEX_LEN);
        assert_ne!(a.finding, a.value);
    }

    #[test]
    fn path_rule_value_and_key_all_change_it() {
        let k = key("0123456789abcdef-test-key");
        let base = compute(&k, "a.txt", "ssn", "219-45-6780").finding;
        assert_ne!(base, compute(&k, "b.txt", "ssn", "219-45-6780").finding);
        assert_ne!(
            base,
            compute(&k, "a.txt", "ssn.nodash", "219-45-6780").finding
        );
        assert_ne!(base, compute(&k, "a.txt", "ssn", "219-45-6781").finding);
        let other = key("another-key-0123456789");
        assert_ne!(base, compute(&other, "a.txt", "ssn", "219-45-6780").finding);
        // The value fingerprint ignores the path.
        assert_eq!(
            compute(&k, "a.txt", "ssn", "219-45-6780").value,
            compute(&k, "b/c.txt", "x", "219456780").value
        );
        assert_eq!(
            value_fingerprint(&k, "219-45-6780"),
            compute(&k, "a.txt", "ssn", "219-45-6780").value
        );
    }

    #[test]
    fn parts_are_length_prefixed_so_boundaries_cannot_shift() {
        let k = key("0123456789abcdef-test-key");
        assert_ne!(
            compute(&k, "ab", "c", "1").finding,
            compute(&k, "a", "bc", "1").finding
        );
    }

    #[test]
    fn key_is_not_printed_and_short_keys_are_refused() {
        let k = key("super-secret-key-material");
        let shown = format!("{k:?}");
        assert!(!shown.contains("super-secret"));
        assert!(shown.contains(&k.id()));
        assert!(matches!(
            FingerprintKey::from_secret("short"),
            Err(KeyError::TooShort)
        ));
        let g = FingerprintKey::generate().unwrap();
        assert_eq!(g.secret().len(), 64);
        assert_ne!(g, FingerprintKey::generate().unwrap());
        assert_eq!(FingerprintKey::from_secret(&g.secret()).unwrap(), g);
    }
}
