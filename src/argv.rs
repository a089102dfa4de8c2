//! Overwrites secrets in the process's own argument vector, so that `ps`
//! and `/proc/PID/cmdline` stop showing a password typed in a URL
//! (`ftp://user:PASSWORD@host/`) or a `--fingerprint-key` value, as curl
//! and mysql do. It narrows the window to the moment between exec and the
//! overwrite; a password in `PHISCAN_FTP_PASSWORD` or a netrc file never
//! appears there at all (README says so).
//!
//! `/proc/PID/cmdline` reads the argument strings where the kernel placed
//! them, so they must be overwritten in place. glibc hands `argc`/`argv`
//! to every `.init_array` function (the Rust standard library captures
//! its arguments the same way); on other platforms this is a no-op.

/// Options whose next argument (or `=value`) is a secret.
const SECRET_OPTIONS: &[&str] = &["--fingerprint-key", "--anon-password"];

/// Byte ranges of `args[i]` that hold a secret, for each argument.
pub fn secret_spans(args: &[&[u8]]) -> Vec<(usize, std::ops::Range<usize>)> {
    let mut spans = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let Ok(text) = std::str::from_utf8(arg) else {
            continue;
        };
        let after_option = i > 0 && SECRET_OPTIONS.iter().any(|o| args[i - 1] == o.as_bytes());
        if after_option {
            spans.push((i, 0..arg.len()));
        } else if let Some(o) = SECRET_OPTIONS
            .iter()
            .find(|o| text.strip_prefix(**o).is_some_and(|r| r.starts_with('=')))
        {
            spans.push((i, o.len() + 1..arg.len()));
        } else if let Some(r) = crate::source::ftp::url::password_span(text) {
            spans.push((i, r));
        }
    }
    spans.retain(|(_, r)| !r.is_empty());
    spans
}

/// Overwrites every secret in this process's arguments with `*`. Call it
/// once the arguments are parsed. Returns whether anything was hidden.
pub fn hide_secrets() -> bool {
    imp::hide_secrets()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod imp {
    use std::ffi::{c_char, c_int, CStr};
    use std::sync::atomic::{AtomicIsize, AtomicPtr, Ordering};

    static ARGC: AtomicIsize = AtomicIsize::new(0);
    static ARGV: AtomicPtr<*mut c_char> = AtomicPtr::new(std::ptr::null_mut());

    /// Runs before `main`: glibc calls `.init_array` functions with
    /// `(argc, argv, envp)`.
    extern "C" fn capture(argc: c_int, argv: *mut *mut c_char, _envp: *mut *mut c_char) {
        ARGC.store(argc as isize, Ordering::Relaxed);
        ARGV.store(argv, Ordering::Relaxed);
    }

    #[used]
    #[link_section = ".init_array.00099"]
    static CAPTURE: extern "C" fn(c_int, *mut *mut c_char, *mut *mut c_char) = capture;

    pub fn hide_secrets() -> bool {
        let argc = ARGC.load(Ordering::Relaxed);
        let argv = ARGV.load(Ordering::Relaxed);
        if argv.is_null() || argc <= 0 {
            return false;
        }
        // SAFETY: glibc passed `argv` with `argc` valid pointers to
        // NUL-terminated strings that live for the whole process; nothing
        // else writes them (std copies them when `env::args` is called).
        let ptrs: Vec<*mut c_char> = (0..argc).map(|i| unsafe { *argv.offset(i) }).collect();
        let bytes: Vec<&[u8]> = ptrs
            .iter()
            .map(|&p| {
                if p.is_null() {
                    &[][..]
                } else {
                    // SAFETY: see above; each is a NUL-terminated string.
                    unsafe { CStr::from_ptr(p) }.to_bytes()
                }
            })
            .collect();
        let spans = super::secret_spans(&bytes);
        drop(bytes);
        for (i, range) in &spans {
            let p = ptrs[*i];
            for k in range.clone() {
                // SAFETY: `k` lies within the string's length (the span
                // came from its bytes), so the write stays in its buffer.
                unsafe { *p.add(k) = b'*' as c_char };
            }
        }
        !spans.is_empty()
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub fn hide_secrets() -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_url_passwords_and_secret_options() {
        let args: Vec<&[u8]> = vec![
            b"phiscan",
            b"scan",
            b"ftp://alice:1234/S3cr3tPW@127.0.0.1/",
            b"--fingerprint-key",
            b"0123456789abcdef0123",
            b"--anon-password=me@x",
            b"/srv/mirror",
            b"ftp://bob@h/",
        ];
        let spans = secret_spans(&args);
        let shown: Vec<&[u8]> = spans.iter().map(|(i, r)| &args[*i][r.clone()]).collect();
        assert_eq!(
            shown,
            vec![
                &b"1234/S3cr3tPW"[..],
                &b"0123456789abcdef0123"[..],
                &b"me@x"[..]
            ]
        );
    }
}
