//! The HTML report in a real browser: headless Debian `chromium` loads the
//! page from disk (no network), runs its script, and the numbers it shows
//! must be the report's; a filter given in the address must filter. A
//! screenshot goes to `$PHISCAN_ARTIFACTS` (CI uploads it).
//!
//! Without chromium the test says so and passes, unless
//! `PHISCAN_REQUIRE_CHROMIUM=1` (set by scripts/html-check.sh, which
//! installs chromium first).

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
    })
}

/// Runs headless chromium on `url` with `extra` flags; returns stdout.
fn run_chromium(bin: &Path, profile: &Path, url: &str, extra: &[String]) -> String {
    let mut child = std::process::Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    // Bounded wait: a hung browser fails the test instead of hanging it.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            use std::io::Read;
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            assert!(status.success(), "chromium failed: {status}");
            return out;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The text of the element with this id in a dumped DOM.
fn by_id<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("id=\"{id}\"");
    let at = dom.find(&open).unwrap_or_else(|| panic!("no #{id}"));
    let rest = &dom[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap() + start;
    &rest[start..end]
}

#[test]
fn html_report_in_headless_chromium() {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var_os("PHISCAN_REQUIRE_CHROMIUM").is_none(),
            "PHISCAN_REQUIRE_CHROMIUM is set but chromium is not installed"
        );
        eprintln!("SKIPPED: chromium not installed (scripts/html-check.sh installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let share = d.join("share");
    std::fs::create_dir_all(share.join("hr")).unwrap();
    std::fs::write(
        share.join("hr/staff.csv"),
        "staff,ssn\nJane,219-45-6780\n-- filler that keeps the values apart from each other --\nRick,457-55-5462\n",
    )
    .unwrap();
    std::fs::write(share.join("contacts.txt"), "mail jane.doe@example.org\n").unwrap();
    std::fs::write(
        d.join("rules.toml"),
        r#"
[[rules]]
id = "test.ssn"
entity = "SSN"
description = "Dashed SSN (test pack)."
pattern = '\b(?P<value>\d{3}-\d{2}-\d{4})\b'
confidence = "HIGH"

[[rules]]
id = "test.email"
entity = "EMAIL"
description = "E-mail address (test pack)."
pattern = '\b(?P<value>[a-z0-9._-]+@[a-z0-9.-]+\.[a-z]{2,})\b'
confidence = "MEDIUM"
"#,
    )
    .unwrap();
    let out = Command::cargo_bin("phiscan")
        .unwrap()
        .current_dir(d)
        .args([
            "scan",
            "--no-default-rules",
            "--rules",
            "rules.toml",
            "--format",
            "html,csv",
            "--output-dir",
            "out",
            "--fingerprint-key",
            "html-test-key-0123456789",
            "-q",
            "share",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let csv_rows = std::fs::read_to_string(d.join("out/phiscan.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(csv_rows, 3);
    let page = d.join("out/phiscan.html");
    let url = format!("file://{}", page.display());

    let dom = run_chromium(&bin, &d.join("profile1"), &url, &["--dump-dom".into()]);
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page's script did not run"
    );
    assert_eq!(by_id(&dom, "total-findings"), csv_rows.to_string());
    assert_eq!(by_id(&dom, "shown-count"), csv_rows.to_string());
    assert_eq!(by_id(&dom, "files-scanned"), "2");
    assert!(!dom.contains("219-45-6780") && !dom.contains("jane.doe"));
    // When, which phiscan, masked: the page says so.
    let started = by_id(&dom, "started-at");
    assert!(
        started.len() == 20 && started.ends_with('Z') && started.as_bytes()[10] == b'T',
        "{started}"
    );
    assert_eq!(by_id(&dom, "version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(by_id(&dom, "masking"), "masked");
    assert!(!dom.contains("unmasked-banner"));

    // A filter from the address is applied by the script.
    let dom = run_chromium(
        &bin,
        &d.join("profile2"),
        &format!("{url}#entity=SSN"),
        &["--dump-dom".into()],
    );
    assert_eq!(by_id(&dom, "shown-count"), "2");
    let dom = run_chromium(
        &bin,
        &d.join("profile3"),
        &format!("{url}#q=contacts"),
        &["--dump-dom".into()],
    );
    assert_eq!(by_id(&dom, "shown-count"), "1");

    // Screenshot for CI artifacts.
    let shots = std::env::var_os("PHISCAN_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| d.join("artifacts"));
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("phiscan-report.png");
    run_chromium(
        &bin,
        &d.join("profile4"),
        &url,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,1800".into(),
            "--hide-scrollbars".into(),
        ],
    );
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    assert!(bytes.len() > 10_000, "screenshot suspiciously small");

    // Printed to PDF (what an auditor hands over): pages, and the text
    // readable from them, masked.
    let pdf = shots.join("phiscan-report.pdf");
    run_chromium(
        &bin,
        &d.join("profile5"),
        &url,
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".into(),
        ],
    );
    let bytes = std::fs::read(&pdf).expect("PDF written");
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let Ok(text) = Command::new("pdftotext")
        .args([pdf.as_os_str(), "-".as_ref()])
        .output()
    else {
        eprintln!("SKIPPED: pdftotext not installed; the PDF was written");
        return;
    };
    let text = String::from_utf8_lossy(&text.stdout);
    let pages = text.matches('\x0c').count();
    assert!((1..=6).contains(&pages), "{pages} pages");
    for needle in [
        "phiscan report",
        "Targets",
        "Findings",
        "staff.csv",
        "Started",
    ] {
        assert!(
            text.contains(needle),
            "{needle} not in the PDF's text:\n{text}"
        );
    }
    assert!(!text.contains("219-45-6780") && !text.contains("jane.doe"));
}
