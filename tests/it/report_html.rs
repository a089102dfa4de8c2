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
/// Fails when the browser's log shows the page breaking its own
/// Content-Security-Policy (a style or script whose hash is not the
/// policy's would be refused, and the console says so).
fn run_chromium(bin: &Path, profile: &Path, url: &str, extra: &[String]) -> String {
    let log = profile.with_extension("log");
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
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
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
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            let violations: Vec<&str> = log
                .lines()
                .filter(|l| l.contains("Content Security Policy"))
                .collect();
            assert!(violations.is_empty(), "CSP violated: {violations:#?}");
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

    // The risk summary comes first and counts what the CSV holds.
    assert!(dom.find("id=\"risk-summary\"").unwrap() < dom.find("<table").unwrap());
    assert!(dom.contains("<li id=\"risk-files\">Files with personal or health data: <b>2</b>"));
    assert!(dom.contains("No FTP server was scanned."));
    assert!(dom.contains("id=\"fix-PHI\""));
    // The script ran: the controls show (html.js), each file is a group.
    assert!(
        dom.contains("<html lang=\"en\" class=\" js\">"),
        "no js class"
    );
    assert_eq!(dom.matches("<tbody class=\"file\"").count(), 2);

    // Without scripts the page still holds every row, in the server's
    // order (headless chromium cannot dump a page with scripts off, so
    // this reads the file), and its controls show only once the script
    // ran (`.js #controls`).
    let file = std::fs::read_to_string(&page).unwrap();
    assert_eq!(file.matches("<tr data-entity=").count(), csv_rows);
    assert!(file.contains("#controls{margin:.5em 0;display:none}.js #controls{display:block}"));

    // Sorting from the address: staff.csv's rows by line, descending.
    let dom = run_chromium(
        &bin,
        &d.join("profile6"),
        &format!("{url}#sort=-line"),
        &["--dump-dom".into()],
    );
    let staff = &dom[dom.find("data-path=\"hr/staff.csv\"").unwrap()..];
    let staff = &staff[..staff.find("</tbody>").unwrap()];
    let lines: Vec<&str> = staff
        .split("<td class=\"num\">")
        .skip(1)
        .step_by(2)
        .map(|c| &c[..c.find('<').unwrap()])
        .collect();
    assert_eq!(lines, ["4", "2"], "{staff}");
    assert!(dom.contains("aria-sort=\"descending\""));

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
        assert!(
            std::env::var_os("PHISCAN_REQUIRE_CHROMIUM").is_none(),
            "pdftotext (poppler-utils) is needed to read the printed pages back"
        );
        eprintln!("SKIPPED: pdftotext not installed; the PDF was written");
        return;
    };
    let text = String::from_utf8_lossy(&text.stdout);
    let pages = text.matches('\x0c').count();
    assert!((1..=6).contains(&pages), "{pages} pages");
    // The filter controls are for the screen, not the paper.
    assert!(!text.contains("Filter by path"), "{text}");
    for needle in [
        "phiscan report",
        "Summary of risks",
        "What to do",
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

/// Hostile file and folder names land in every new part of the page (risk
/// summary, advice, group headers, data attributes) as text, never as
/// markup: the page keeps exactly its own style and script, the policy's
/// hashes still match them, and nothing reorders text (bidi overrides) or
/// breaks a line inside a header. Needs no browser.
#[test]
fn hostile_names_stay_text_in_every_part_of_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("t\"><i>x");
    std::fs::create_dir_all(&target).unwrap();
    let names = [
        "<script>alert(1)<script>.txt",
        "\"><img src=x onerror=alert(1)>.txt",
        "a\u{202e}txt.exe\nb<style>x.txt",
        "' onmouseover='alert(1).txt",
    ];
    for (i, name) in names.iter().enumerate() {
        std::fs::write(target.join(name), format!("SSN 219-45-678{i}\n")).unwrap();
    }
    let page = dir.path().join("r.html");
    let out = Command::cargo_bin("phiscan")
        .unwrap()
        .args(["scan", "-q", "--format", "html", "-o"])
        .arg(&page)
        .arg(&target)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let p = std::fs::read_to_string(&page).unwrap();
    assert_eq!(p.matches("<tr data-entity=").count(), names.len());
    assert_eq!(p.matches("<tbody class=\"file\"").count(), names.len());
    assert_eq!(p.matches("<script").count(), 1, "a script broke out");
    assert_eq!(p.matches("<style").count(), 1, "a style broke out");
    // (An attribute such as onerror= may appear as escaped text.)
    for bad in ["<img", "<i>", "' onmouseover='", "\u{202e}"] {
        assert!(!p.contains(bad), "{bad:?} in the page");
    }
    // Every line of the table is one element: no name's newline split it.
    for l in p.lines().filter(|l| l.starts_with("<tbody class=\"file\"")) {
        assert!(l.ends_with("</th></tr>"), "{l}");
    }
    // The risk summary and advice name the target, escaped.
    let escaped = "t&quot;&gt;&lt;i&gt;x";
    let risk = &p[p.find("<li id=\"risk-phi-local\"").unwrap()..];
    assert!(
        risk[..risk.find("</li>").unwrap()].contains(escaped),
        "{risk}"
    );
    assert!(p[p.find("id=\"fix-PHI\"").unwrap()..].contains(escaped));
    // The values stay masked.
    assert!(!p.contains("219-45-678"));
    // The policy still allows the page's own script: the hostile names did
    // not change the script's text.
    let csp_at = p.find("script-src 'sha256-").unwrap();
    assert!(!p[..csp_at + 200].contains("unsafe-inline"));
}
