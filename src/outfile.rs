//! Files phiscan writes: reports, the summary JSON, key files, the resume
//! state, baselines. They hold masked PHI (with `--unmask`, PHI) or secrets,
//! so each is created readable by its owner only (0600, and an existing
//! file is tightened to 0600), and none is ever written through a link: a
//! symbolic link planted where a report goes (`ln -s victim report.csv`)
//! is refused, not followed (`O_NOFOLLOW`), and so is a file with other
//! hard links. Besides regular files only character devices are written
//! to (`-o /dev/null`, a terminal), and they are neither emptied nor
//! re-moded; a FIFO is refused before it is opened (opening it would wait
//! for a reader).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// How a file is opened for writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Created, or emptied when it exists.
    Truncate,
    /// Written at its end; created when missing.
    Append,
    /// Read and written at its end; created when missing.
    ReadAppend,
}

/// Creates `path` (emptying it when it exists) for writing.
pub fn create(path: &Path) -> io::Result<File> {
    open(path, Mode::Truncate)
}

/// Opens `path` for appending, creating it when missing.
pub fn append(path: &Path) -> io::Result<File> {
    open(path, Mode::Append)
}

/// Opens `path` for reading and appending, creating it when missing.
pub fn read_append(path: &Path) -> io::Result<File> {
    open(path, Mode::ReadAppend)
}

/// Writes `bytes` as the whole content of `path`.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    create(path)?.write_all(bytes)
}

/// Opens an existing report to cut a partial last row off it.
pub fn existing_for_truncation(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true);
    no_follow(&mut opts);
    let file = opts.open(path).map_err(|e| explain(path, e))?;
    if check_regular(path, &file)? != Kind::Regular {
        return Err(not_regular(path));
    }
    Ok(file)
}

fn open(path: &Path, mode: Mode) -> io::Result<File> {
    refuse_fifo(path)?;
    let mut opts = OpenOptions::new();
    match mode {
        Mode::Truncate => opts.write(true).create(true),
        Mode::Append => opts.append(true).create(true),
        Mode::ReadAppend => opts.read(true).append(true).create(true),
    };
    no_follow(&mut opts);
    let file = opts.open(path).map_err(|e| explain(path, e))?;
    if check_regular(path, &file)? == Kind::Regular {
        if mode == Mode::Truncate {
            // Emptied only once it is known to be ours to empty.
            file.set_len(0)?;
        }
        owner_only(&file)?;
    }
    Ok(file)
}

/// What an opened output is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Regular,
    CharDevice,
}

/// A FIFO where an output goes is refused before `open` waits on it.
fn refuse_fifo(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo()) {
            return Err(not_regular(path));
        }
    }
    let _ = path;
    Ok(())
}

#[cfg(unix)]
fn no_follow(opts: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    opts.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(0o600);
}

#[cfg(not(unix))]
fn no_follow(_opts: &mut OpenOptions) {}

fn explain(path: &Path, e: io::Error) -> io::Error {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link: phiscan does not write through links (remove it or \
                 choose another path)",
                path.display()
            ),
        );
    }
    let _ = path;
    e
}

fn not_regular(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is not a regular file: phiscan writes its outputs to regular files (or a \
             character device such as /dev/null)",
            path.display()
        ),
    )
}

fn check_regular(path: &Path, file: &File) -> io::Result<Kind> {
    let meta = file.metadata()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if meta.file_type().is_char_device() {
            return Ok(Kind::CharDevice);
        }
    }
    if !meta.is_file() {
        return Err(not_regular(path));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} has other hard links: phiscan does not write to a file shared with \
                     another name (remove it or choose another path)",
                    path.display()
                ),
            ));
        }
    }
    Ok(Kind::Regular)
}

/// Tightens the file to owner-only: `mode` applies to new files only.
fn owner_only(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn outputs_are_private_and_never_written_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report.csv");
        write(&report, b"rows\n").unwrap();
        let mode = std::fs::metadata(&report).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        // An existing world-readable file is tightened.
        let loose = dir.path().join("loose.json");
        std::fs::write(&loose, "{}").unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&loose, b"{\"a\":1}").unwrap();
        let mode = std::fs::metadata(&loose).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        // A symbolic link is refused, and its target left alone.
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious").unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        for result in [
            create(&link).map(drop),
            append(&link).map(drop),
            read_append(&link).map(drop),
        ] {
            let err = result.unwrap_err().to_string();
            assert!(err.contains("symbolic link"), "{err}");
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

        // So is a second name of the victim.
        let hard = dir.path().join("hard.csv");
        std::fs::hard_link(&victim, &hard).unwrap();
        let err = create(&hard).unwrap_err().to_string();
        assert!(err.contains("hard links"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

        // And a FIFO, without blocking.
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let err = create(&fifo).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");

        // /dev/null takes output, and is left as it is.
        let before = std::fs::metadata("/dev/null").unwrap().permissions().mode();
        write(Path::new("/dev/null"), b"discarded").unwrap();
        let after = std::fs::metadata("/dev/null").unwrap().permissions().mode();
        assert_eq!(before, after);
    }
}
