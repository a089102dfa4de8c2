//! Extraction errors: the reason each is reported with, and how they travel
//! through `Read` adapters (decompressors, archive readers) that can only
//! fail with an `io::Error`.

use crate::error::ExtractError;
use crate::report::SkipReason;
use std::io;

/// Maps an extraction error to the reason reported for it.
pub fn reason_of(e: &ExtractError) -> SkipReason {
    match e {
        // A data connection that broke or timed out (FTP sources).
        ExtractError::Io(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut
                    | io::ErrorKind::WouldBlock
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::NotConnected
            ) =>
        {
            SkipReason::Network
        }
        ExtractError::Io(_) => SkipReason::Unreadable,
        ExtractError::Corrupt { .. } => SkipReason::Corrupt,
        ExtractError::Limit(_) => SkipReason::Limit,
        ExtractError::Encrypted => SkipReason::Encrypted,
        ExtractError::Unsupported(_) => SkipReason::Unsupported,
        ExtractError::OcrUnavailable(_) => SkipReason::OcrUnavailable,
        ExtractError::OcrOff(_) => SkipReason::OcrOff,
        ExtractError::OcrFailed(_) => SkipReason::OcrFailed,
    }
}

/// Wraps an extraction error in an `io::Error`, for the `Read` adapters
/// (decompressors, archive readers) that can only fail with one.
pub fn carry(e: ExtractError) -> io::Error {
    io::Error::other(e)
}

/// Recovers an error [`carry`]-ed through `Read` adapters, possibly wrapped
/// again by a library (the tar crate does), so that the reason reported is
/// the real one (a limit, corruption) and not "read error".
pub fn uncarry(e: ExtractError) -> ExtractError {
    let ExtractError::Io(io_err) = &e else {
        return e;
    };
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(io_err);
    // Bounded: error chains are short, and a cycle must not hang us.
    for _ in 0..16 {
        let Some(err) = current else { break };
        if let Some(found) = err.downcast_ref::<ExtractError>() {
            match found {
                ExtractError::Io(inner) => {
                    current = Some(inner);
                    continue;
                }
                ExtractError::Corrupt { format, message } => {
                    return ExtractError::Corrupt {
                        format,
                        message: message.clone(),
                    }
                }
                ExtractError::Limit(m) => return ExtractError::Limit(m.clone()),
                ExtractError::Encrypted => return ExtractError::Encrypted,
                ExtractError::Unsupported(m) => return ExtractError::Unsupported(m.clone()),
                ExtractError::OcrUnavailable(m) => return ExtractError::OcrUnavailable(m.clone()),
                ExtractError::OcrOff(m) => return ExtractError::OcrOff(m.clone()),
                ExtractError::OcrFailed(m) => return ExtractError::OcrFailed(m.clone()),
            }
        }
        if let Some(inner) = err
            .downcast_ref::<io::Error>()
            .and_then(|io_err| io_err.get_ref())
        {
            current = Some(inner);
            continue;
        }
        // quick-xml shares its I/O errors (`Error::Io(Arc<io::Error>)`),
        // and gives the Arc as their source.
        if let Some(inner) = err
            .downcast_ref::<std::sync::Arc<io::Error>>()
            .and_then(|io_err| io_err.get_ref())
        {
            current = Some(inner);
            continue;
        }
        current = err.source();
    }
    e
}
