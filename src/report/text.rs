//! The human view (`--format text`, and the default on a terminal): findings
//! grouped by file — the file once as a heading, then one line per finding
//! with `line:column`, entity, confidence, the masked value and a short
//! context — coloured by confidence as ripgrep and gitleaks do.
//!
//! It shows what every other format shows: the `Finding` is already masked
//! and cleaned (see `shown.rs`). Every text is cleaned once more here, so
//! that the only escape sequences that reach a terminal are this writer's
//! own colours, whatever a file, folder or server name holds.
//!
//! Rows stream as they come: a file's heading is written when its first
//! row arrives and again if another file's rows came in between.

use super::{Finding, HeldRows, ReportWriter, Summary};
use crate::entity::Confidence;
use crate::mask::push_visible;
use std::io::{self, Write};
use std::sync::Arc;

/// `--color`: when the text view is coloured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    /// Only on a terminal, and not when `NO_COLOR` is set.
    #[default]
    Auto,
    Always,
    Never,
}

/// What phiscan knows of where its output goes, for [`stdout_view`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Terminal {
    /// Standard output is a terminal.
    pub stdout_is_tty: bool,
    /// `NO_COLOR` is set to a non-empty value (no-color.org).
    pub no_color: bool,
}

impl Terminal {
    /// This process's standard output and environment.
    pub fn detect() -> Terminal {
        use std::io::IsTerminal;
        Terminal {
            stdout_is_tty: io::stdout().is_terminal(),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        }
    }
}

/// How the scan's report is shown, decided from the terminal and the flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    /// No `--format` given: the report is the text view (else CSV).
    pub default_is_text: bool,
    /// The text view, wherever it goes, is coloured.
    pub color: bool,
}

/// The text view is the default only when a person reads stdout: no
/// `--format`, no `-o`/`--output-dir`, and stdout a terminal. CSV stays for
/// pipes and files. Colour: `--color always` anywhere; `auto` only for the
/// view on a terminal's stdout and when `NO_COLOR` is unset or empty.
pub fn stdout_view(
    terminal: Terminal,
    color: ColorChoice,
    formats_given: bool,
    output_given: bool,
) -> View {
    let to_stdout = !output_given;
    View {
        default_is_text: !formats_given && to_stdout && terminal.stdout_is_tty,
        color: match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => to_stdout && terminal.stdout_is_tty && !terminal.no_color,
        },
    }
}

/// Longest context shown, in characters: one line on a terminal.
const CONTEXT_CHARS: usize = 72;

pub struct TextReport<W: Write> {
    out: W,
    color: bool,
    /// The heading written last: (target, path).
    heading: Option<(Arc<str>, String)>,
    line: String,
    held: HeldRows,
}

impl<W: Write> TextReport<W> {
    pub fn new(out: W, color: bool) -> Self {
        TextReport {
            out,
            color,
            heading: None,
            line: String::new(),
            held: HeldRows::default(),
        }
    }

    fn paint(&mut self, code: &str, text: &str) {
        if self.color {
            self.line.push_str("\x1b[");
            self.line.push_str(code);
            self.line.push('m');
            self.line.push_str(text);
            self.line.push_str("\x1b[0m");
        } else {
            self.line.push_str(text);
        }
    }
}

/// `text` with every control character (ESC, CR, LF, C1) shown as U+FFFD
/// and bidi controls by name.
fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_visible(&mut out, c, '\u{fffd}');
    }
    out
}

/// The context on one line: line breaks and tabs (written `\n`, `\r`,
/// `\t` in the reports) and whitespace runs made one space, at most
/// [`CONTEXT_CHARS`] characters, cut evenly at both ends so that the value,
/// in the middle, stays.
fn one_line(context: &str) -> String {
    let spaced = context
        .replace("\\n", " ")
        .replace("\\r", " ")
        .replace("\\t", " ");
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let joined: Vec<char> = visible(&words.join(" ")).chars().collect();
    if joined.len() <= CONTEXT_CHARS {
        return joined.into_iter().collect();
    }
    let keep = CONTEXT_CHARS - 2;
    let start = (joined.len() - keep) / 2;
    let mut cut = String::from("…");
    cut.extend(&joined[start..start + keep]);
    cut.push('…');
    cut
}

/// The heading of a file's rows: the target joined with the path; a
/// server-level row (exposure, inventory) sits under its target alone.
pub(super) fn heading(target: &str, path: &str) -> String {
    if path.is_empty() {
        format!("{} (server)", visible(target))
    } else if target.is_empty() || target.ends_with('/') {
        format!("{}{}", visible(target), visible(path))
    } else {
        format!("{}/{}", visible(target), visible(path))
    }
}

fn confidence_style(c: Confidence) -> &'static str {
    match c {
        Confidence::High => "1;31",
        Confidence::Medium => "33",
        Confidence::Low => "2",
    }
}

impl<W: Write + Send> ReportWriter for TextReport<W> {
    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        self.line.clear();
        let same_file = self
            .heading
            .as_ref()
            .is_some_and(|(t, p)| *t == f.target && *p == f.path);
        if !same_file {
            if self.heading.is_some() {
                self.line.push('\n');
            }
            let title = heading(&f.target, &f.path);
            self.paint("1;35", &title);
            self.line.push('\n');
            self.heading = Some((f.target.clone(), f.path.clone()));
        }
        let position = match (f.line, f.column) {
            (Some(l), Some(c)) => format!("{l}:{c}"),
            (Some(l), None) => l.to_string(),
            _ => "-".to_string(),
        };
        self.line.push_str("  ");
        self.paint("32", &format!("{position:>9}"));
        self.line.push_str("  ");
        let style = confidence_style(f.confidence);
        self.paint(style, &format!("{:<6}", f.confidence.as_str()));
        self.line.push_str("  ");
        self.paint("1", &format!("{:<11}", visible(f.entity.as_str())));
        self.line.push_str("  ");
        self.paint(style, &visible(&f.matched));
        if !f.field.is_empty() {
            self.line.push_str("  [");
            self.line.push_str(&visible(&f.field));
            self.line.push(']');
        }
        let context = one_line(&f.context);
        if !context.is_empty() {
            self.line.push_str("\n             ");
            self.paint("2", &context);
        }
        self.line.push('\n');
        let line = std::mem::take(&mut self.line);
        let result = self.held.push(line.as_bytes(), &mut self.out);
        self.line = line;
        result
    }

    fn flush_rows(&mut self) -> io::Result<()> {
        self.held.write_to(&mut self.out)
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        // The summary goes to stderr, as for every format.
        self.held.write_to(&mut self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::{sample_findings, sample_summary};

    const TTY: Terminal = Terminal {
        stdout_is_tty: true,
        no_color: false,
    };
    const PIPE: Terminal = Terminal {
        stdout_is_tty: false,
        no_color: false,
    };

    #[test]
    fn the_text_view_is_the_default_only_on_a_terminal_without_format_or_output() {
        use ColorChoice::*;
        let view = |t, c, formats, output| stdout_view(t, c, formats, output);
        assert_eq!(
            view(TTY, Auto, false, false),
            View {
                default_is_text: true,
                color: true
            }
        );
        // NO_COLOR: text, not coloured; `always` still colours.
        let no_color = Terminal {
            no_color: true,
            ..TTY
        };
        assert_eq!(
            view(no_color, Auto, false, false),
            View {
                default_is_text: true,
                color: false
            }
        );
        assert!(view(no_color, Always, false, false).color);
        assert!(!view(TTY, Never, false, false).color);
        // A pipe: CSV, no colour unless asked.
        assert_eq!(
            view(PIPE, Auto, false, false),
            View {
                default_is_text: false,
                color: false
            }
        );
        assert!(view(PIPE, Always, false, false).color);
        // -o / --output-dir at a terminal: CSV in the file; a text view
        // written to a file is plain unless `always`.
        assert_eq!(
            view(TTY, Auto, false, true),
            View {
                default_is_text: false,
                color: false
            }
        );
        assert!(view(TTY, Always, true, true).color);
        // --format given: that format (text only when it is text).
        assert!(!view(TTY, Auto, true, false).default_is_text);
        assert!(view(TTY, Auto, true, false).color);
    }

    fn render(findings: &[Finding], color: bool) -> String {
        let mut out = Vec::new();
        {
            let mut w = TextReport::new(&mut out, color);
            for f in findings {
                w.finding(f).unwrap();
            }
            w.finish(&sample_summary()).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rows_are_grouped_under_their_file_with_position_entity_and_masked_value() {
        let text = render(&sample_findings(), false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "share/hr/staff.csv");
        assert!(
            lines[1].contains("3:7") && lines[1].contains("HIGH") && lines[1].contains("SSN"),
            "{text}"
        );
        assert!(lines[1].ends_with("***-**-6780"), "{text}");
        assert!(
            lines[2].trim_start().starts_with("id ***-**-6780"),
            "{text}"
        );
        // The second row of the same file gets no second heading.
        assert_eq!(text.matches("share/hr/staff.csv").count(), 1, "{text}");
        assert!(text.contains("\nshare/notes/<script>alert(1)</script>.txt\n"));
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn colours_by_confidence_and_nothing_else_reaches_the_terminal() {
        let mut findings = sample_findings();
        findings[0].path = "evil\x1b]0;title\x07\x1b[2J.txt".into();
        findings[0].target = "t\u{9b}31m".into();
        findings[0].context = "a\x1b[31mb\r\nc\u{202e}d".into();
        findings[0].matched = "***\x1b[1m".into();
        findings[1].confidence = Confidence::Medium;
        findings[2].confidence = Confidence::Low;
        let text = render(&findings, true);
        assert!(text.contains("\x1b[1;31mHIGH"), "{text:?}");
        assert!(text.contains("\x1b[33mMEDIUM"), "{text:?}");
        assert!(text.contains("\x1b[2mLOW"), "{text:?}");
        // Every ESC is one of ours: `ESC [ digits/; m`.
        let ours = regex::Regex::new(r"\x1b\[[0-9;]*m").unwrap();
        let rest = ours.replace_all(&text, "");
        assert!(
            !rest.chars().any(|c| c.is_control() && c != '\n'),
            "{rest:?}"
        );
        assert!(rest.contains("<U+202E>"), "{rest:?}");
        assert!(!rest.contains('\u{9b}'));
    }

    #[test]
    fn server_rows_sit_under_their_target() {
        let mut f = sample_findings().remove(0);
        f.target = "ftp://127.0.0.1:2121/".into();
        f.path = String::new();
        f.line = None;
        f.column = None;
        f.context = "plain FTP: logins and files cross the network in clear".into();
        let text = render(&[f], false);
        assert!(
            text.starts_with("ftp://127.0.0.1:2121/ (server)\n"),
            "{text}"
        );
        assert!(text.lines().nth(1).unwrap().trim_start().starts_with("- "));
    }

    #[test]
    fn long_contexts_are_one_short_line() {
        let long = format!("{}\n\n\t{}", "x ".repeat(60), "y".repeat(80));
        let shown = one_line(&long);
        assert!(!shown.contains('\n') && !shown.contains('\t'));
        assert_eq!(shown.chars().count(), CONTEXT_CHARS);
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        // Line breaks as the reports write them.
        assert_eq!(
            one_line("a\\nDOB:\\t**/**/1980\\r\\nb"),
            "a DOB: **/**/1980 b"
        );
    }
}
