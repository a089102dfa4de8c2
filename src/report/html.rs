//! The HTML report: one self-contained page an auditor can hand to a
//! client (inline CSS, JS and SVG; a Content-Security-Policy forbids every
//! fetch and allows only the page's own style and script, by hash). First
//! a plain-language summary of risks and what to do about each exposure
//! kind found (`rules/ftp/remediation.toml`), then the run's facts, per
//! target its exposure status, counts by entity and by directory as bar
//! charts, the files with the most findings, what was not examined and
//! why, and the masked findings grouped by target and file, most certain
//! first. The page reads fully without its script, which only adds
//! filtering and sorting.
//!
//! Findings are folded into counters as they come; the table keeps at most
//! [`MAX_TABLE_ROWS`] rows, the most certain ones (the page says so when
//! there are more), so memory stays bounded whatever the number of
//! findings.

use super::remediation::{self, Advice};
use super::summary::TargetSummary;
use super::{Finding, ReportWriter, Summary};
use crate::entity::{Confidence, Entity};
use crate::fail_on::is_exposure as is_exposure_entity;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, Write};

/// Findings listed in the page's table; the CSV/JSONL have them all.
pub const MAX_TABLE_ROWS: usize = 10_000;
/// Bars in the per-directory chart and rows in the top-files list.
const TOP_N: usize = 15;
/// Distinct files/directories counted (beyond this, counted as "other").
const MAX_TRACKED: usize = 100_000;

pub struct HtmlReport<W: Write> {
    out: W,
    /// The rows the table lists, by confidence (LOW, MEDIUM, HIGH): when
    /// more than [`MAX_TABLE_ROWS`] come, the most confident are kept.
    rows: [Vec<Finding>; 3],
    total: u64,
    by_dir: HashMap<String, u64>,
    by_file: HashMap<(String, String), u64>,
    /// Per file (target, path): the highest confidence of its PHI/PII
    /// findings (exposure rows left out), for the risk summary.
    file_confidence: HashMap<(String, String), Confidence>,
    /// PHI/PII findings in files beyond the [`MAX_TRACKED`] ones counted.
    untracked_file_findings: u64,
    /// Findings in directories beyond the [`MAX_TRACKED`] counted.
    other_dirs: u64,
    exposure: BTreeMap<String, Vec<Entity>>,
}

impl<W: Write> HtmlReport<W> {
    pub fn new(out: W) -> Self {
        HtmlReport {
            out,
            rows: Default::default(),
            total: 0,
            by_dir: HashMap::new(),
            by_file: HashMap::new(),
            file_confidence: HashMap::new(),
            untracked_file_findings: 0,
            other_dirs: 0,
            exposure: BTreeMap::new(),
        }
    }
}

/// HTML-escapes text for element content and quoted attributes.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Directory of a report path (the archive's directory for members).
fn dir_of(path: &str) -> &str {
    let outer = path.split('!').next().unwrap_or(path);
    match outer.rfind('/') {
        Some(i) => outer.get(..i).unwrap_or(""),
        None => "",
    }
}

/// Counts one more for `key`; false when `map` is full and `key` not in it.
fn bump<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u64>, key: K) -> bool {
    if let Some(n) = map.get_mut(&key) {
        *n += 1;
    } else if map.len() < MAX_TRACKED {
        map.insert(key, 1);
    } else {
        return false;
    }
    true
}

fn top<K: Clone + Ord>(map: &HashMap<K, u64>) -> Vec<(K, u64)> {
    let mut v: Vec<(K, u64)> = map.iter().map(|(k, n)| (k.clone(), *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(TOP_N);
    v
}

/// A horizontal bar chart as inline SVG. `id` names it for tests.
fn bar_chart(id: &str, bars: &[(String, u64)]) -> String {
    if bars.is_empty() {
        return "<p class=\"muted\">None.</p>".to_string();
    }
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    let row_h = 22;
    let label_w = 260;
    let bar_w = 420;
    let height = bars.len() * row_h + 4;
    let mut s = format!(
        "<svg id=\"{id}\" class=\"chart\" role=\"img\" width=\"{w}\" height=\"{height}\" \
         viewBox=\"0 0 {w} {height}\" xmlns=\"http://www.w3.org/2000/svg\">",
        w = label_w + bar_w + 80
    );
    for (i, (label, n)) in bars.iter().enumerate() {
        let y = i * row_h + 2;
        let len = ((*n as f64 / max as f64) * bar_w as f64).round().max(1.0);
        let shown: String = if label.chars().count() > 40 {
            let tail: String = label
                .chars()
                .rev()
                .take(39)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("…{tail}")
        } else {
            label.clone()
        };
        let _ = write!(
            s,
            "<g data-label=\"{l}\" data-count=\"{n}\"><title>{l}: {n}</title>\
             <text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{short}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{len}\" height=\"{bh}\"></rect>\
             <text x=\"{nx}\" y=\"{ty}\">{n}</text></g>",
            l = esc(label),
            short = esc(&shown),
            tx = label_w - 6,
            ty = y + 15,
            bh = row_h - 6,
            nx = label_w as f64 + len + 6.0,
        );
    }
    s.push_str("</svg>");
    s
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right}.muted{color:#777}
.bad{color:#b00020;font-weight:bold}.ok{color:#1b7a1b}.untested{color:#8a5a00;font-style:italic}
.chart rect{fill:#4a78c2}.chart text{font-size:12px;fill:#222}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.cards{display:flex;gap:1em;flex-wrap:wrap;margin-top:1em}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:9em}
.card b{display:block;font-size:1.5em}
#controls{margin:.5em 0;display:none}.js #controls{display:block}#controls input{width:20em}
.hide{display:none}
#findings{table-layout:fixed}#findings col.c-entity{width:9em}#findings col.c-conf{width:8em}
#findings col.c-rule{width:11em}#findings col.c-num{width:5.5em}#findings col.c-field{width:7em}#findings col.c-match{width:11em}
.js #findings thead th[data-sort]{cursor:pointer}.js #findings thead th[data-sort]:after{content:" \2195";color:#999}
tbody.server th{background:#e4e9f2;font-size:1.05em}tbody.file th{background:#fafafa;font-weight:normal}
td.HIGH{color:#b00020;font-weight:bold}td.MEDIUM{color:#8a5a00}
.banner{background:#b00020;color:#fff;padding:.5em 1em;font-weight:bold;border-radius:4px}
table.facts{width:auto}table.facts th{width:9em}
td{overflow-wrap:anywhere;word-break:break-word}
.esc{color:#8a5a00;background:#fff3d6;border-radius:2px}
#risk-summary ul{padding-left:1.2em}#risk-summary li{margin:.3em 0}
.advice{border-left:4px solid #b00020;padding:.1em 1em;margin:.8em 0;break-inside:avoid}
.advice h3{font-size:1.05em;margin:.4em 0}.advice p{margin:.3em 0}
@media print{body{margin:0;max-width:none}#controls,.js #controls{display:none}tr{break-inside:avoid}tbody.server th,tbody.file th{break-after:avoid}
body{font-size:11px}#findings col.c-entity,#findings col.c-rule{width:7em}#findings col.c-conf{width:6.5em}
#findings col.c-num{width:4.5em}#findings col.c-field{width:5em}#findings col.c-match{width:8em}
.js #findings thead th[data-sort]:after{content:none}}
"#;

/// Filters the findings table by text, entity and confidence (also from
/// the address's `#entity=…&confidence=…&q=…`), keeps `#shown-count`, and
/// sorts the rows of each file by a column when its header is clicked (or
/// as the address's `sort=line` / `sort=-line` says).
/// The page reads fully without it: grouping and order are the server's;
/// the controls show only when it runs (`html.js`). Rows are hidden by a
/// class, never an inline style (the policy forbids inline styles).
const SCRIPT: &str = r#"
(function(){
  var doc=document,root=doc.documentElement;
  root.className+=' js';
  var q=doc.getElementById('filter'),e=doc.getElementById('entity-filter'),
      c=doc.getElementById('confidence-filter'),n=doc.getElementById('shown-count'),
      groups=[].slice.call(doc.querySelectorAll('#findings tbody.file')),
      heads=[].slice.call(doc.querySelectorAll('#findings tbody.server'));
  function rowsOf(g){return [].slice.call(g.querySelectorAll('tr[data-entity]'));}
  function hide(el,h){if(h)el.classList.add('hide');else el.classList.remove('hide');}
  function apply(){
    var t=(q.value||'').toLowerCase(),ev=e.value,cv=c.value,shown=0,perTarget={};
    groups.forEach(function(g){
      var where=((g.getAttribute('data-target')||'')+' '+(g.getAttribute('data-path')||'')).toLowerCase(),vis=0;
      rowsOf(g).forEach(function(r){
        var ok=(!ev||r.getAttribute('data-entity')===ev)&&(!cv||r.getAttribute('data-confidence')===cv)&&
               (!t||where.indexOf(t)>=0||r.textContent.toLowerCase().indexOf(t)>=0);
        hide(r,!ok); if(ok){shown++;vis++;}
      });
      hide(g,!vis);
      var k=g.getAttribute('data-target');perTarget[k]=(perTarget[k]||0)+vis;
    });
    heads.forEach(function(h){hide(h,!perTarget[h.getAttribute('data-target')]);});
    n.textContent=String(shown);
  }
  q.addEventListener('input',apply);e.addEventListener('change',apply);c.addEventListener('change',apply);
  // Sorting: within each file, by the clicked column; again: reversed.
  var rank={HIGH:0,MEDIUM:1,LOW:2},sorters={};
  [].slice.call(doc.querySelectorAll('#findings thead th[data-sort]')).forEach(function(th){
    th.tabIndex=0;
    function sort(want){
      var kind=th.getAttribute('data-sort'),col=th.cellIndex,
          dir=want||(th.getAttribute('aria-sort')==='ascending'?-1:1);
      [].slice.call(th.parentNode.children).forEach(function(o){o.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',dir===1?'ascending':'descending');
      function key(r){
        var v=r.cells[col].textContent;
        if(kind==='num')return v===''?Infinity:Number(v);
        if(kind==='confidence')return rank[v];
        return v.toLowerCase();
      }
      groups.forEach(function(g){
        rowsOf(g).map(function(r,j){return [key(r),j,r];}).sort(function(a,b){
          return a[0]<b[0]?-dir:a[0]>b[0]?dir:a[1]-b[1];
        }).forEach(function(x){g.appendChild(x[2]);});
      });
    }
    th.addEventListener('click',function(){sort();});
    th.addEventListener('keydown',function(ev){if(ev.key==='Enter'||ev.key===' '){ev.preventDefault();sort();}});
    sorters[th.textContent.toLowerCase()]=sort;
  });
  // A filter and an order can come in the address:
  // #entity=SSN&confidence=HIGH&q=text&sort=line (sort=-line: descending)
  (location.hash||'').replace(/^#/,'').split('&').forEach(function(kv){
    var i=kv.indexOf('='); if(i<0)return;
    var k=kv.slice(0,i),v=decodeURIComponent(kv.slice(i+1));
    if(k==='entity')e.value=v; else if(k==='confidence')c.value=v; else if(k==='q')q.value=v;
    else if(k==='sort'){var d=v.charAt(0)==='-'?-1:1,s=sorters[v.replace(/^-/,'').toLowerCase()];if(s)s(d);}
  });
  apply();
  doc.body.setAttribute('data-ready','1');
})();
"#;

/// `'sha256-…'`: a Content-Security-Policy source that allows exactly this
/// inline element's text, so the policy needs no `'unsafe-inline'`.
fn csp_hash(text: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The page's policy: nothing fetched, nothing inline but the page's own
/// style and script (by hash).
fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src {}; script-src {}; img-src data:; \
         base-uri 'none'; form-action 'none'",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    )
}

impl<W: Write> HtmlReport<W> {
    /// The page, section by section.
    fn render(&self, summary: &Summary) -> String {
        let mut h = String::with_capacity(64 * 1024);
        page_head(&mut h);
        banners(&mut h, summary);
        self.risk_summary(&mut h, summary);
        remediation(&mut h, summary);
        run_facts(&mut h, summary);
        self.overview(&mut h, summary);
        self.targets(&mut h, summary);
        self.charts(&mut h, summary);
        self.top_files(&mut h);
        not_examined(&mut h, summary);
        self.findings(&mut h, summary);
        page_end(&mut h);
        h
    }

    /// Cards with the totals, then the scan's status.
    fn overview(&self, h: &mut String, summary: &Summary) {
        let total = summary.total_findings();
        let _ = write!(
            h,
            "<div class=\"cards\">\
             <div class=\"card\">Findings<b id=\"total-findings\" class=\"{cls}\">{total}</b></div>\
             <div class=\"card\">Files scanned<b id=\"files-scanned\">{files}</b></div>\
             <div class=\"card\">Not examined<b id=\"not-examined\">{skipped}</b></div>\
             <div class=\"card\">Baselined<b id=\"baselined\">{baselined}</b></div>\
             <div class=\"card\">Allowed<b id=\"allowed\">{allowed}</b></div>\
             <div class=\"card\">Bytes read<b id=\"bytes-read\">{bytes}</b></div>\
             </div>\n<p class=\"muted\">Status: {status}. Elapsed {elapsed:.2}s.</p>\n",
            cls = if total > 0 { "bad" } else { "ok" },
            files = summary.files_scanned,
            skipped = summary.total_not_examined(),
            baselined = summary.total_baselined(),
            allowed = summary.total_allowed(),
            bytes = human_bytes(summary.bytes_read),
            status = if summary.interrupted {
                "interrupted"
            } else if summary.incomplete() {
                "incomplete (see Not examined)"
            } else {
                "complete"
            },
            elapsed = summary.elapsed_secs,
        );
    }

    /// One row per target: its counts and its exposure.
    fn targets(&self, h: &mut String, summary: &Summary) {
        h.push_str("<h2>Targets</h2>\n<table id=\"targets\"><thead><tr><th>Target</th>\
                    <th>Files scanned</th><th>Findings</th><th>Not examined</th>\
                    <th>Anonymous login</th><th>Anonymous write</th><th>TLS</th><th>Certificate</th><th>Other facts</th>\
                    </tr></thead><tbody>\n");
        for (name, target) in &summary.targets {
            let exposure = self.exposure.get(name).map_or(&[][..], Vec::as_slice);
            target_row(h, name, target, exposure);
        }
        h.push_str("</tbody></table>\n");
    }

    /// Findings by entity and by directory, as bar charts.
    fn charts(&self, h: &mut String, summary: &Summary) {
        h.push_str("<h2>Findings by entity</h2>\n");
        let by_entity: Vec<(String, u64)> = summary
            .findings_by_entity
            .iter()
            .map(|(e, n)| (e.as_str().to_string(), *n))
            .collect();
        h.push_str(&bar_chart("chart-entity", &by_entity));
        h.push_str("\n<h2>Findings by directory</h2>\n");
        let mut dirs: Vec<(String, u64)> = top(&self.by_dir)
            .into_iter()
            .map(|(d, n)| {
                (
                    if d.is_empty() {
                        "(top level)".into()
                    } else {
                        d
                    },
                    n,
                )
            })
            .collect();
        if self.other_dirs > 0 {
            dirs.push(("(other directories)".into(), self.other_dirs));
        }
        h.push_str(&bar_chart("chart-directory", &dirs));
    }

    fn top_files(&self, h: &mut String) {
        h.push_str(
            "\n<h2>Files with the most findings</h2>\n<table id=\"top-files\"><thead><tr>\
                    <th>Target</th><th>File</th><th>Findings</th></tr></thead><tbody>\n",
        );
        for ((target, path), n) in top(&self.by_file) {
            let _ = writeln!(
                h,
                "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"num\">{n}</td></tr>",
                esc(&target),
                esc(&path)
            );
        }
        h.push_str("</tbody></table>\n");
    }

    /// The findings table: grouped by target, then by file (files with
    /// the most certain findings first), rows HIGH first; the script adds
    /// filtering and sorting by column.
    fn findings(&self, h: &mut String, summary: &Summary) {
        let listed: usize = self.rows.iter().map(Vec::len).sum();
        let _ = write!(
            h,
            "<h2>Findings</h2>\n<div id=\"controls\"><input id=\"filter\" type=\"search\" \
             placeholder=\"Filter by path, rule, context…\"> <select id=\"entity-filter\">\
             <option value=\"\">All entities</option>"
        );
        for e in summary.findings_by_entity.keys() {
            let _ = write!(h, "<option value=\"{e}\">{e}</option>", e = e.as_str());
        }
        h.push_str(
            "</select> <select id=\"confidence-filter\"><option value=\"\">All confidences</option>\
             <option>HIGH</option><option>MEDIUM</option><option>LOW</option></select> \
             <span><span id=\"shown-count\">",
        );
        let _ = writeln!(
            h,
            "{listed}</span> of <span id=\"table-rows\">{listed}</span> shown; \
             click a column's header to sort each file's rows by it</span></div>",
        );
        if self.total > listed as u64 {
            let _ = writeln!(
                h,
                "<p id=\"table-truncated\">The table lists {listed} of {} findings (the most \
                 certain ones); the CSV and JSONL reports hold them all.</p>",
                self.total
            );
        }
        h.push_str(
            "<table id=\"findings\"><colgroup><col class=\"c-entity\"><col class=\"c-conf\">\
             <col class=\"c-rule\"><col class=\"c-num\"><col class=\"c-num\"><col class=\"c-field\">\
             <col class=\"c-match\"><col></colgroup><thead><tr>\
             <th data-sort=\"text\">Entity</th><th data-sort=\"confidence\">Confidence</th>\
             <th data-sort=\"text\">Rule</th><th data-sort=\"num\">Line</th>\
             <th data-sort=\"num\">Column</th><th data-sort=\"text\">Field</th>\
             <th data-sort=\"text\">Match</th><th data-sort=\"text\">Context</th></tr></thead>\n",
        );
        for (target, files) in self.grouped() {
            let n: usize = files.iter().map(|(_, rows)| rows.len()).sum();
            let _ = writeln!(
                h,
                "<tbody class=\"server\" data-target=\"{t}\"><tr><th colspan=\"8\" scope=\"colgroup\">\
                 Target <span class=\"mono\">{t}</span>: {}</th></tr></tbody>",
                count_of(n, "finding", "findings"),
                t = esc(target),
            );
            for (path, rows) in files {
                let _ = writeln!(
                    h,
                    "<tbody class=\"file\" data-target=\"{t}\" data-path=\"{p}\">\
                     <tr><th colspan=\"8\" scope=\"colgroup\"><span class=\"mono\">{shown}</span> \
                     <span class=\"muted\">({})</span></th></tr>",
                    count_of(rows.len(), "finding", "findings"),
                    t = esc(target),
                    p = esc(path),
                    shown = if path.is_empty() {
                        "(the server itself)".to_string()
                    } else {
                        esc_visible(path)
                    },
                );
                for f in rows {
                    finding_row(h, f);
                }
                h.push_str("</tbody>\n");
            }
        }
        h.push_str("</table>\n");
    }

    /// Keeps `f` for the table: while there is room, or in place of a
    /// row less certain than it.
    fn keep_row(&mut self, f: &Finding) {
        let listed: usize = self.rows.iter().map(Vec::len).sum();
        if listed >= MAX_TABLE_ROWS {
            let Some(lower) = (0..conf_index(f.confidence)).find(|i| !self.rows[*i].is_empty())
            else {
                return;
            };
            self.rows[lower].pop();
        }
        self.rows[conf_index(f.confidence)].push(f.clone());
    }

    /// The listed rows by target (in name order), then by file (the file
    /// with the most certain finding first, then the most findings, then
    /// the path), each file's rows HIGH first, then by position.
    #[allow(clippy::type_complexity)]
    fn grouped(&self) -> Vec<(&str, Vec<(&str, Vec<&Finding>)>)> {
        let mut by_target: BTreeMap<&str, BTreeMap<&str, Vec<&Finding>>> = BTreeMap::new();
        for f in self.rows.iter().flatten() {
            by_target
                .entry(&f.target)
                .or_default()
                .entry(&f.path)
                .or_default()
                .push(f);
        }
        by_target
            .into_iter()
            .map(|(target, files)| {
                let mut files: Vec<(&str, Vec<&Finding>)> = files
                    .into_iter()
                    .map(|(path, mut rows)| {
                        rows.sort_by(|a, b| {
                            b.confidence
                                .cmp(&a.confidence)
                                .then(a.line.cmp(&b.line))
                                .then(a.column.cmp(&b.column))
                                .then(a.entity.cmp(&b.entity))
                        });
                        (path, rows)
                    })
                    .collect();
                files.sort_by(|a, b| {
                    let top = |rows: &[&Finding]| rows.first().map(|f| f.confidence);
                    top(&b.1)
                        .cmp(&top(&a.1))
                        .then(b.1.len().cmp(&a.1.len()))
                        .then(a.0.cmp(b.0))
                });
                (target, files)
            })
            .collect()
    }
}

/// A confidence's slot in [`HtmlReport::rows`].
fn conf_index(c: Confidence) -> usize {
    match c {
        Confidence::Low => 0,
        Confidence::Medium => 1,
        Confidence::High => 2,
    }
}

/// Everything up to the page's first heading: the policy that forbids
/// every fetch, and the style.
fn page_head(h: &mut String) {
    h.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"",
    );
    h.push_str(&content_security_policy());
    h.push_str(
        "\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>phiscan report</title><style>",
    );
    h.push_str(STYLE);
    h.push_str("</style></head><body>\n<h1>phiscan report</h1>\n");
}

/// The filtering script, and the end of the page.
fn page_end(h: &mut String) {
    h.push_str("<script>");
    h.push_str(SCRIPT);
    h.push_str("</script>\n</body></html>\n");
}

/// A check's state in a cell: "yes" when a row showed it, else the verdict
/// the scan recorded (found / not found: why / not tested: why), else "not
/// tested" for a server (no verdict means no check ran) and "n/a" for a
/// local target. Never "not found" without a check that said so.
fn check_cell(found: bool, verdict: Option<&String>, server: bool) -> String {
    if found {
        return "<span class=\"bad\">yes</span>".to_string();
    }
    match verdict {
        Some(v) if v.starts_with("found") => format!("<span class=\"bad\">{}</span>", esc(v)),
        Some(v) if v.starts_with("not tested") => {
            format!("<span class=\"untested\">{}</span>", esc(v))
        }
        Some(v) => format!("<span class=\"ok\">{}</span>", esc(v)),
        None if server => "<span class=\"untested\">not tested</span>".to_string(),
        None => "<span class=\"muted\">n/a</span>".to_string(),
    }
}

/// Facts shown in their own columns, not among the others.
const COLUMN_FACTS: [&str; 6] = [
    "tls",
    "check tls",
    "check tls_cert",
    "check anonymous_login",
    "check anonymous_write",
    "write_check",
];

/// A target's row: its counts, then each check's state (see
/// [`check_cell`]).
fn target_row(h: &mut String, name: &str, target: &TargetSummary, exposure: &[Entity]) {
    let has = |e: Entity| exposure.contains(&e);
    let fact = |k: &str| target.info.get(k);
    let server = target.access.is_some() || target.info.contains_key("banner");
    let tls = {
        let cell = check_cell(has(Entity::FtpNoTls), fact("check tls"), server);
        match fact("tls") {
            Some(how) => format!("{cell}<br><span class=\"muted\">{}</span>", esc(how)),
            None => cell,
        }
    };
    let others: Vec<String> = target
        .info
        .iter()
        .filter(|(k, _)| !COLUMN_FACTS.contains(&k.as_str()))
        .map(|(k, v)| format!("{}: {}", esc(k), esc(v)))
        .collect();
    let write_note = fact("write_check")
        .map(|v| format!("<br>{}", esc(v)))
        .unwrap_or_default();
    let _ = writeln!(
        h,
        "<tr data-target=\"{tn}\"><td class=\"mono\">{tn}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}{write_note}</td>\
         <td>{}</td><td>{}</td><td>{}</td></tr>",
        target.files_scanned,
        target.findings,
        target.not_examined,
        check_cell(
            has(Entity::FtpAnonymousLogin),
            fact("check anonymous_login"),
            server
        ),
        check_cell(
            has(Entity::FtpAnonymousWrite) || has(Entity::FtpWorldWritable),
            fact("check anonymous_write"),
            server
        ),
        tls,
        check_cell(has(Entity::FtpTlsCert), fact("check tls_cert"), server),
        others.join("<br>"),
        tn = esc(name),
    );
}

/// The marks a reader must not miss (values unmasked, certificates not
/// verified), first on the page.
fn banners(h: &mut String, summary: &Summary) {
    let run = &summary.run;
    if run.unmasked {
        h.push_str(
            "<p id=\"unmasked-banner\" class=\"banner\">UNMASKED: this report shows matched \
             values as found (--unmask). It holds the personal data itself: store and share \
             it accordingly.</p>\n",
        );
    }
    if run.insecure {
        h.push_str(
            "<p id=\"insecure-banner\" class=\"banner\">Certificate checks were off \
             (--insecure): an FTPS server's identity was not verified.</p>\n",
        );
    }
}

/// When and how the scan ran.
fn run_facts(h: &mut String, summary: &Summary) {
    let run = &summary.run;
    h.push_str("<h2>About this scan</h2>\n");
    let targets: Vec<String> = run
        .targets_given
        .iter()
        .map(|t| format!("<code>{}</code>", esc(t)))
        .collect();
    let settings: Vec<String> = run
        .settings
        .iter()
        .map(|(k, v)| {
            format!(
                "<code>{}</code>: <code>{}</code>",
                esc(k),
                esc(&v.to_string())
            )
        })
        .collect();
    let _ = writeln!(
        h,
        "<table id=\"run\" class=\"facts\"><tbody>\
         <tr><th>Started</th><td id=\"started-at\">{}</td></tr>\
         <tr><th>Ended</th><td id=\"ended-at\">{}</td></tr>\
         <tr><th>phiscan</th><td id=\"version\">{}</td></tr>\
         <tr><th>Targets</th><td>{}</td></tr>\
         <tr><th>Matched values</th><td id=\"masking\">{}</td></tr>\
         <tr><th>Settings</th><td class=\"settings\">{}</td></tr>\
         </tbody></table>",
        esc(&run.started_at),
        esc(&run.ended_at),
        esc(env!("CARGO_PKG_VERSION")),
        targets.join(" "),
        if run.unmasked {
            "<span class=\"bad\">unmasked (--unmask)</span>"
        } else {
            "masked"
        },
        settings.join("<br>"),
    );
}

/// `1536` → `1.5 KiB`; bytes as a person reads them (exact counts stay in
/// the JSON summary).
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Control characters and bidi overrides as visible escapes (`\n`, `\t`,
/// `\u{202e}`), each in a marked span, so context reads as one line and
/// never reorders.
fn esc_visible(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        let shown = match c {
            '\n' => Some("\\n".to_string()),
            '\r' => Some("\\r".to_string()),
            '\t' => Some("\\t".to_string()),
            c if c.is_control()
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                Some(format!("\\u{{{:x}}}", c as u32))
            }
            _ => None,
        };
        match shown {
            Some(e) => {
                let _ = write!(o, "<span class=\"esc\">{e}</span>");
            }
            None => o.push_str(&esc(c.encode_utf8(&mut [0; 4]))),
        }
    }
    o
}

/// Counts by reason, then the examples the summary kept.
fn not_examined(h: &mut String, summary: &Summary) {
    h.push_str(
        "<h2>Not examined</h2>\n<table id=\"not-examined-reasons\"><thead><tr>\
                <th>Reason</th><th>Count</th></tr></thead><tbody>\n",
    );
    for (reason, n) in &summary.not_examined {
        let _ = writeln!(
            h,
            "<tr data-reason=\"{r}\"><td>{r}</td><td class=\"num\">{n}</td></tr>",
            r = reason.as_str()
        );
    }
    h.push_str("</tbody></table>\n");
    if summary.not_examined_examples.is_empty() {
        return;
    }
    h.push_str(
        "<table id=\"not-examined-list\"><thead><tr><th>Target</th><th>Path</th>\
                <th>Reason</th><th>Detail</th></tr></thead><tbody>\n",
    );
    for ex in &summary.not_examined_examples {
        let _ = writeln!(
            h,
            "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&ex.target),
            esc(&ex.path),
            ex.reason.as_str(),
            esc(&ex.detail)
        );
    }
    h.push_str("</tbody></table>\n");
}

/// A finding's row in its file's group (target and path are the group's).
fn finding_row(h: &mut String, f: &Finding) {
    let _ = writeln!(
        h,
        "<tr data-entity=\"{e}\" data-confidence=\"{c}\"><td>{e}</td><td class=\"{c}\">{c}</td>\
         <td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td>\
         <td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
        esc(&f.rule),
        f.line.map(|n| n.to_string()).unwrap_or_default(),
        f.column.map(|n| n.to_string()).unwrap_or_default(),
        esc(&f.field),
        esc_visible(&f.matched),
        esc_visible(&f.context),
        e = f.entity.as_str(),
        c = f.confidence.as_str(),
    );
}

/// Names shown in a sentence of the risk summary; the targets table has
/// them all.
const MAX_NAMED: usize = 25;

/// Whether a target is a server (it has an access state or greeted).
fn is_server(t: &TargetSummary) -> bool {
    t.access.is_some() || t.info.contains_key("banner")
}

/// PHI/PII findings of a target (exposure rows left out).
fn phi_findings(t: &TargetSummary) -> u64 {
    t.findings_by_entity
        .iter()
        .filter(|(e, _)| !is_exposure_entity(**e) && !e.is_inventory())
        .map(|(_, n)| n)
        .sum()
}

/// `1 server` / `3 servers`.
fn count_of(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A list of names as `<code>` items, at most [`MAX_NAMED`], then how
/// many more.
fn name_list(names: &[String]) -> String {
    let mut s: Vec<String> = names
        .iter()
        .take(MAX_NAMED)
        .map(|n| format!("<code>{}</code>", esc(n)))
        .collect();
    if names.len() > MAX_NAMED {
        s.push(format!(
            "and {} more (see Targets)",
            names.len() - MAX_NAMED
        ));
    }
    s.join(", ")
}

/// `3 HIGH, 1 MEDIUM` (HIGH first, zero counts left out), or `none`.
fn by_confidence(counts: &BTreeMap<Confidence, u64>) -> String {
    let parts: Vec<String> = counts
        .iter()
        .rev()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| format!("<b>{n}</b> {}", c.as_str()))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

impl<W: Write> HtmlReport<W> {
    fn note_file_confidence(&mut self, f: &Finding) {
        let key = (f.target.to_string(), f.path.clone());
        if let Some(c) = self.file_confidence.get_mut(&key) {
            *c = (*c).max(f.confidence);
        } else if self.file_confidence.len() < MAX_TRACKED {
            self.file_confidence.insert(key, f.confidence);
        } else {
            self.untracked_file_findings += 1;
        }
    }

    /// What an auditor reads to the client before any table: who can get
    /// in anonymously, which servers hold PHI, the exposure rows by
    /// severity, the files with findings by confidence, and what was not
    /// examined. Each sentence says only what a check or a count showed.
    fn risk_summary(&self, h: &mut String, summary: &Summary) {
        h.push_str("<section id=\"risk-summary\"><h2>Summary of risks</h2>\n<ul>\n");
        let servers: Vec<(&String, &TargetSummary)> = summary
            .targets
            .iter()
            .filter(|(_, t)| is_server(t))
            .collect();
        let locals: Vec<(&String, &TargetSummary)> = summary
            .targets
            .iter()
            .filter(|(_, t)| !is_server(t))
            .collect();
        if servers.is_empty() {
            h.push_str("<li id=\"risk-anonymous\">No FTP server was scanned.</li>\n");
        } else {
            let anonymous: Vec<String> = servers
                .iter()
                .filter(|(_, t)| {
                    t.findings_by_entity
                        .get(&Entity::FtpAnonymousLogin)
                        .is_some_and(|n| *n > 0)
                        || t.info
                            .get("check anonymous_login")
                            .is_some_and(|v| v.starts_with("found"))
                })
                .map(|(n, _)| (*n).clone())
                .collect();
            let untested: Vec<String> = servers
                .iter()
                .filter(|(n, t)| {
                    !anonymous.contains(n)
                        && t.info
                            .get("check anonymous_login")
                            .is_none_or(|v| v.starts_with("not tested"))
                })
                .map(|(n, _)| (*n).clone())
                .collect();
            let _ = write!(
                h,
                "<li id=\"risk-anonymous\">Servers that let anyone log in without a password \
                 (anonymous login): <b>{}</b> of {}",
                anonymous.len(),
                count_of(servers.len(), "server", "servers"),
            );
            if anonymous.is_empty() {
                h.push('.');
            } else {
                let _ = write!(h, ": {}.", name_list(&anonymous));
            }
            if !untested.is_empty() {
                let _ = write!(
                    h,
                    " Not tested on {}: {}.",
                    count_of(untested.len(), "server", "servers"),
                    name_list(&untested)
                );
            }
            h.push_str("</li>\n");
            let with_phi: Vec<String> = servers
                .iter()
                .filter(|(_, t)| phi_findings(t) > 0)
                .map(|(n, t)| format!("{n} ({})", phi_findings(t)))
                .collect();
            let not_read: Vec<String> = servers
                .iter()
                .filter(|(_, t)| t.access.is_some_and(|a| a != super::ServerAccess::LoggedIn))
                .map(|(n, t)| format!("{n} ({})", t.access.map_or("", |a| a.as_str())))
                .collect();
            let _ = write!(
                h,
                "<li id=\"risk-phi-servers\">Servers holding personal or health data \
                 (PHI/PII): <b>{}</b> of {}",
                with_phi.len(),
                count_of(servers.len(), "server", "servers"),
            );
            if with_phi.is_empty() {
                h.push('.');
            } else {
                let _ = write!(h, ": {}.", name_list(&with_phi));
            }
            if !not_read.is_empty() {
                let _ = write!(h, " Not read, so not known: {}.", name_list(&not_read));
            }
            h.push_str("</li>\n");
        }
        if !locals.is_empty() {
            let with_phi: Vec<String> = locals
                .iter()
                .filter(|(_, t)| phi_findings(t) > 0)
                .map(|(n, t)| format!("{n} ({})", phi_findings(t)))
                .collect();
            let _ = write!(
                h,
                "<li id=\"risk-phi-local\">Local folders holding personal or health data \
                 (PHI/PII): <b>{}</b> of {}",
                with_phi.len(),
                count_of(locals.len(), "local folder", "local folders"),
            );
            if with_phi.is_empty() {
                h.push_str(".</li>\n");
            } else {
                let _ = writeln!(h, ": {}.</li>", name_list(&with_phi));
            }
        }
        let mut exposure: BTreeMap<Confidence, u64> = BTreeMap::new();
        for t in summary.targets.values() {
            for (c, n) in &t.exposure_by_confidence {
                *exposure.entry(*c).or_default() += n;
            }
        }
        let exposure_total: u64 = exposure.values().sum();
        let _ = writeln!(
            h,
            "<li id=\"risk-exposure\">Server weaknesses found (exposure rows): <b>{exposure_total}</b>, \
             by severity: {}.</li>",
            by_confidence(&exposure),
        );
        let mut files: BTreeMap<Confidence, u64> = BTreeMap::new();
        for c in self.file_confidence.values() {
            *files.entry(*c).or_default() += 1;
        }
        let files_total: u64 = files.values().sum();
        let _ = write!(
            h,
            "<li id=\"risk-files\">Files with personal or health data: <b>{files_total}</b>, \
             by their most certain finding: {}.",
            by_confidence(&files),
        );
        if self.untracked_file_findings > 0 {
            let _ = write!(
                h,
                " Only the first {MAX_TRACKED} files are counted here; {} findings are in \
                 further files.",
                self.untracked_file_findings
            );
        }
        if summary.rows_not_written > 0 {
            let _ = write!(
                h,
                " {} findings were counted but not written (row limits), so their files \
                 may be missing from this count.",
                summary.rows_not_written
            );
        }
        h.push_str("</li>\n");
        let not_examined = summary.total_not_examined();
        let _ = write!(
            h,
            "<li id=\"risk-not-examined\">Files not examined: <b>{not_examined}</b>"
        );
        if not_examined > 0 {
            let reasons: Vec<String> = summary
                .not_examined
                .iter()
                .map(|(r, n)| format!("{n} {}", r.as_str()))
                .collect();
            let _ = write!(
                h,
                " ({}); what they hold is not known (see Not examined).",
                reasons.join(", ")
            );
        } else {
            h.push('.');
        }
        h.push_str("</li>\n");
        if summary.interrupted {
            h.push_str(
                "<li id=\"risk-interrupted\" class=\"bad\">The scan was interrupted: \
                 what was not reached is not covered by this report.</li>\n",
            );
        }
        h.push_str("</ul>\n</section>\n");
    }
}

/// One block of advice: the weakness, where it was found, why it matters,
/// what to do.
fn advice_block(h: &mut String, id: &str, advice: &Advice, found_on: &[String]) {
    let _ = writeln!(
        h,
        "<div class=\"advice\" id=\"fix-{id}\"><h3>{}</h3>\
         <p><b>Found on:</b> {}</p><p><b>Why it matters:</b> {}</p>\
         <p><b>What to do:</b> {}</p></div>",
        esc(&advice.title),
        name_list(found_on),
        esc(&advice.risk),
        esc(&advice.fix),
    );
}

/// Advice for each exposure kind found (most urgent first, as
/// `rules/ftp/remediation.toml` orders them), then for
/// PHI where it was found. Nothing when nothing was found.
fn remediation(h: &mut String, summary: &Summary) {
    let mut kinds: BTreeMap<Entity, Vec<String>> = BTreeMap::new();
    for (name, t) in &summary.targets {
        for (e, n) in &t.findings_by_entity {
            if *n > 0 && is_exposure_entity(*e) {
                kinds.entry(*e).or_default().push(format!("{name} ({n})"));
            }
        }
    }
    let phi: Vec<String> = summary
        .targets
        .iter()
        .filter(|(_, t)| phi_findings(t) > 0)
        .map(|(n, t)| format!("{n} ({})", phi_findings(t)))
        .collect();
    if kinds.is_empty() && phi.is_empty() {
        return;
    }
    h.push_str("<section id=\"remediation\"><h2>What to do</h2>\n");
    let mut order: Vec<(Entity, Vec<String>)> = kinds.into_iter().collect();
    order.sort_by_key(|(e, _)| (remediation::urgency_rank(*e), *e));
    for (entity, on) in &order {
        match remediation::for_entity(*entity) {
            Some(advice) => advice_block(h, entity.as_str(), advice, on),
            // A test holds the built-in advice to every exposure entity;
            // this is only a guard.
            None => {
                let _ = writeln!(
                    h,
                    "<div class=\"advice\" id=\"fix-{e}\"><h3>{e}</h3><p><b>Found on:</b> {}</p></div>",
                    name_list(on),
                    e = entity.as_str()
                );
            }
        }
    }
    if let (false, Some(advice)) = (phi.is_empty(), remediation::for_phi()) {
        advice_block(h, "PHI", advice, &phi);
    }
    h.push_str("</section>\n");
}

impl<W: Write + Send> ReportWriter for HtmlReport<W> {
    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        self.total += 1;
        if is_exposure_entity(f.entity) {
            let list = self.exposure.entry(f.target.to_string()).or_default();
            if !list.contains(&f.entity) {
                list.push(f.entity);
            }
        }
        if !f.path.is_empty() {
            let dir = match dir_of(&f.path) {
                "" => f.target.to_string(),
                d => format!("{}/{d}", f.target.trim_end_matches('/')),
            };
            if !bump(&mut self.by_dir, dir) {
                self.other_dirs += 1;
            }
            // Files beyond the tracked ones are left out of the top list,
            // which has no "other" line.
            bump(&mut self.by_file, (f.target.to_string(), f.path.clone()));
            if !is_exposure_entity(f.entity) {
                self.note_file_confidence(f);
            }
        }
        self.keep_row(f);
        Ok(())
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        let page = self.render(summary);
        self.out.write_all(page.as_bytes())?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::{sample_findings, sample_summary};

    fn page() -> String {
        let mut buf = Vec::new();
        {
            let mut w = HtmlReport::new(&mut buf);
            for f in sample_findings() {
                w.finding(&f).unwrap();
            }
            w.finish(&sample_summary()).unwrap();
        }
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn page_is_self_contained_and_escaped() {
        let p = page();
        assert!(p.contains("<b id=\"total-findings\" class=\"bad\">3</b>"));
        assert!(p.contains("<span id=\"shown-count\">3</span>"));
        // No external resources of any kind.
        for needle in ["src=", "href=", "@import", "url("] {
            assert!(!p.contains(needle), "page references {needle}");
        }
        // Hostile path is escaped, never markup.
        assert!(!p.contains("<script>alert"));
        assert!(p.contains("&lt;script&gt;alert(1)&lt;/script&gt;.txt"));
        assert!(p.contains("data-reason=\"corrupt\""));
        assert!(p.contains("<g data-label=\"SSN\" data-count=\"1\">"));
        assert!(p.contains("<g data-label=\"share/hr\" data-count=\"2\">"));
    }

    #[test]
    fn server_exposure_is_shown_per_target() {
        let mut anon = sample_findings().remove(0);
        anon.target = "ftp://files.test/".into();
        anon.path = String::new();
        anon.entity = Entity::FtpAnonymousLogin;
        anon.rule = "ftp-anonymous-login".into();
        anon.line = None;
        anon.column = None;
        let mut summary = sample_summary();
        summary.record(&crate::report::Event::Finding(anon.clone()));
        for (key, value) in [("banner", "220 test"), ("tls", "not offered")] {
            summary.record(&crate::report::Event::TargetInfo {
                target: "ftp://files.test/".into(),
                key,
                value: value.into(),
            });
        }
        let mut buf = Vec::new();
        {
            let mut w = HtmlReport::new(&mut buf);
            w.finding(&anon).unwrap();
            w.finish(&summary).unwrap();
        }
        let p = String::from_utf8(buf).unwrap();
        let row = p
            .lines()
            .find(|l| l.starts_with("<tr data-target=\"ftp://files.test/\""))
            .unwrap();
        // Anonymous login: yes; anonymous write: no verdict, so not
        // tested (never "not found"); TLS: no verdict, the fact beside it.
        assert!(
            row.contains(
                "<td><span class=\"bad\">yes</span></td>\
                 <td><span class=\"untested\">not tested</span></td>\
                 <td><span class=\"untested\">not tested</span><br>\
                 <span class=\"muted\">not offered</span></td>"
            ),
            "{row}"
        );
        assert!(!row.contains("not found"), "{row}");
        let local = p
            .lines()
            .find(|l| l.starts_with("<tr data-target=\"share\""))
            .unwrap();
        assert!(local.contains("n/a"), "{local}");
    }

    #[test]
    fn unmask_and_insecure_are_banners_and_context_shows_escapes() {
        let mut summary = sample_summary();
        summary.run.unmasked = true;
        summary.run.insecure = true;
        let mut f = sample_findings().remove(0);
        f.context = "a\tb\nc\u{202e}d".into();
        let mut buf = Vec::new();
        {
            let mut w = HtmlReport::new(&mut buf);
            w.finding(&f).unwrap();
            w.finish(&summary).unwrap();
        }
        let p = String::from_utf8(buf).unwrap();
        assert!(p.contains("<p id=\"unmasked-banner\""));
        assert!(p.contains("<p id=\"insecure-banner\""));
        assert!(p.contains("unmasked (--unmask)"));
        assert!(p.contains(
            "a<span class=\"esc\">\\t</span>b<span class=\"esc\">\\n</span>c\
             <span class=\"esc\">\\u{202e}</span>d"
        ));
        assert!(!p.contains('\u{202e}'));
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }

    /// A server with an anonymous login and PHI, a server not tested, a
    /// local folder; one HIGH and one MEDIUM file.
    fn risk_page() -> String {
        use crate::report::{Event, ServerAccess};
        let mut summary = sample_summary();
        let mut rows = sample_findings();
        rows[1].confidence = Confidence::Medium;
        rows[1].path = "hr/other.csv".into();
        let mut anon = sample_findings().remove(0);
        anon.target = "ftp://open.test/".into();
        anon.path = String::new();
        anon.entity = Entity::FtpAnonymousLogin;
        let mut phi = sample_findings().remove(0);
        phi.target = "ftp://open.test/".into();
        phi.path = "pub/<b>x</b>.csv".into();
        let mut weak = anon.clone();
        weak.entity = Entity::FtpTlsCert;
        weak.confidence = Confidence::Medium;
        for f in [&anon, &phi, &weak] {
            summary.record(&Event::Finding(f.clone()));
        }
        rows.extend([anon, phi, weak]);
        for (t, access) in [
            ("ftp://open.test/", ServerAccess::LoggedIn),
            ("ftp://shut.test/", ServerAccess::LoginFailed),
        ] {
            summary.record(&Event::ServerAccess {
                target: t.into(),
                access,
            });
        }
        let mut buf = Vec::new();
        {
            let mut w = HtmlReport::new(&mut buf);
            for f in &rows {
                w.finding(f).unwrap();
            }
            w.finish(&summary).unwrap();
        }
        String::from_utf8(buf).unwrap()
    }

    fn item<'a>(page: &'a str, id: &str) -> &'a str {
        let at = page
            .find(&format!("<li id=\"{id}\""))
            .unwrap_or_else(|| panic!("no {id}"));
        let rest = &page[at..];
        &rest[..rest.find("</li>").unwrap()]
    }

    #[test]
    fn risk_summary_comes_first_and_says_what_was_shown() {
        let p = risk_page();
        let summary_at = p.find("id=\"risk-summary\"").unwrap();
        assert!(
            summary_at < p.find("<table").unwrap(),
            "summary after a table"
        );
        let anon = item(&p, "risk-anonymous");
        assert!(
            anon.contains("(anonymous login): <b>1</b> of 2 servers: ")
                && anon.contains("<code>ftp://open.test/</code>.")
                && anon.contains("Not tested on 1 server: <code>ftp://shut.test/</code>"),
            "{anon}"
        );
        let phi = item(&p, "risk-phi-servers");
        assert!(
            phi.contains("(PHI/PII): <b>1</b> of 2 servers: ")
                && phi.contains("<code>ftp://open.test/ (1)</code>")
                && phi.contains(
                    "Not read, so not known: <code>ftp://shut.test/ (login failed)</code>"
                ),
            "{phi}"
        );
        let local = item(&p, "risk-phi-local");
        assert!(
            local.contains("(PHI/PII): <b>1</b> of 1 local folder: <code>share (3)</code>."),
            "{local}"
        );
        let exposure = item(&p, "risk-exposure");
        assert!(
            exposure.contains("<b>2</b>, by severity: <b>1</b> HIGH, <b>1</b> MEDIUM"),
            "{exposure}"
        );
        // Files: share's staff.csv (HIGH), other.csv (MEDIUM), the hostile
        // name (HIGH); open.test's file (HIGH). Exposure rows are no file.
        let files = item(&p, "risk-files");
        assert!(
            files.contains(
                "<b>4</b>, by their most certain finding: <b>3</b> HIGH, <b>1</b> MEDIUM"
            ),
            "{files}"
        );
        let skipped = item(&p, "risk-not-examined");
        assert!(skipped.contains("<b>1</b> (1 corrupt)"), "{skipped}");
        assert!(!p.contains("<b>x</b>"));
    }

    #[test]
    fn advice_for_each_kind_found_most_urgent_first() {
        let p = risk_page();
        let section = &p[p.find("<section id=\"remediation\">").unwrap()..];
        let section = &section[..section.find("</section>").unwrap()];
        let anon = section.find("id=\"fix-FTP_ANONYMOUS_LOGIN\"").unwrap();
        let cert = section.find("id=\"fix-FTP_TLS_CERT\"").unwrap();
        let phi = section.find("id=\"fix-PHI\"").unwrap();
        assert!(anon < cert && cert < phi, "{section}");
        // Only the kinds found.
        assert_eq!(section.matches("class=\"advice\"").count(), 3, "{section}");
        let block = &section[anon..cert];
        assert!(
            block.contains("<b>Found on:</b> <code>ftp://open.test/ (1)</code>")
                && block.contains(&esc(&remediation::for_entity(Entity::FtpAnonymousLogin)
                    .unwrap()
                    .fix)),
            "{block}"
        );
        assert!(section[phi..].contains("<code>share (3)</code>"));
        // No exposure and no PHI: no section.
        let mut buf = Vec::new();
        HtmlReport::new(&mut buf)
            .finish(&Summary::default())
            .unwrap();
        assert!(!String::from_utf8(buf)
            .unwrap()
            .contains("id=\"remediation\""));
    }

    #[test]
    fn risk_summary_without_servers_says_so() {
        let p = page();
        assert!(item(&p, "risk-anonymous").contains("No FTP server was scanned."));
        assert!(!p.contains("risk-phi-servers"));
        assert!(item(&p, "risk-exposure").contains("<b>0</b>, by severity: none."));
    }

    #[test]
    fn findings_grouped_by_target_and_file_high_first() {
        let p = risk_page();
        let table = &p[p.find("<table id=\"findings\">").unwrap()..];
        let table = &table[..table.find("</table>").unwrap()];
        let order: Vec<&str> = table
            .lines()
            .filter(|l| l.starts_with("<tbody"))
            .map(|l| &l[..l.find('>').unwrap()])
            .collect();
        assert_eq!(
            order,
            [
                "<tbody class=\"server\" data-target=\"ftp://open.test/\"",
                // Both HIGH with one row: by path ("" before "pub/…").
                "<tbody class=\"file\" data-target=\"ftp://open.test/\" data-path=\"\"",
                "<tbody class=\"file\" data-target=\"ftp://open.test/\" data-path=\"pub/&lt;b&gt;x&lt;/b&gt;.csv\"",
                "<tbody class=\"server\" data-target=\"share\"",
                // HIGH files first, the MEDIUM one last.
                "<tbody class=\"file\" data-target=\"share\" data-path=\"hr/staff.csv\"",
                "<tbody class=\"file\" data-target=\"share\" data-path=\"notes/&lt;script&gt;alert(1)&lt;/script&gt;.txt\"",
                "<tbody class=\"file\" data-target=\"share\" data-path=\"hr/other.csv\"",
            ],
            "{table}"
        );
        // Within the server's own group: HIGH (anonymous login) first.
        let own = &table[table.find("data-path=\"\"").unwrap()..];
        let rows: Vec<&str> = own
            .lines()
            .take_while(|l| !l.starts_with("</tbody>"))
            .filter(|l| l.starts_with("<tr data-entity"))
            .collect();
        assert!(rows[0].contains("FTP_ANONYMOUS_LOGIN") && rows[1].contains("FTP_TLS_CERT"));
        assert!(table.contains("(the server itself)"));
        assert_eq!(table.matches("<tr data-entity=").count(), 6);
    }

    #[test]
    fn policy_allows_only_the_pages_own_style_and_script() {
        let p = page();
        let csp = &p[p.find("Content-Security-Policy\" content=\"").unwrap()..];
        let csp = &csp[csp.find("content=\"").unwrap() + 9..];
        let csp = &csp[..csp.find('"').unwrap()];
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        // The hashes are of the elements' exact text.
        let between = |open: &str, close: &str| {
            let a = p.find(open).unwrap() + open.len();
            p[a..a + p[a..].find(close).unwrap()].to_string()
        };
        let style = between("<style>", "</style>");
        let script = between("<script>", "</script>");
        assert!(
            csp.contains(&format!("style-src {};", csp_hash(&style))),
            "{csp}"
        );
        assert!(
            csp.contains(&format!("script-src {};", csp_hash(&script))),
            "{csp}"
        );
        assert_eq!(p.matches("<style").count(), 1);
        assert_eq!(p.matches("<script").count(), 1);
        // No inline style attribute or event handler the policy would block.
        assert!(!p.contains(" style=") && !p.contains(" onclick="));
        // sha256 of "" is well known: the encoding is the one CSP reads.
        assert_eq!(
            csp_hash(""),
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
        );
    }

    #[test]
    fn a_full_table_keeps_the_most_certain_rows() {
        let mut w = HtmlReport::new(Vec::new());
        let mut f = sample_findings().remove(0);
        f.confidence = Confidence::Low;
        for _ in 0..MAX_TABLE_ROWS {
            w.finding(&f).unwrap();
        }
        f.confidence = Confidence::High;
        w.finding(&f).unwrap();
        f.confidence = Confidence::Low;
        w.finding(&f).unwrap();
        assert_eq!(w.rows[2].len(), 1);
        assert_eq!(w.rows[0].len(), MAX_TABLE_ROWS - 1);
        let mut summary = Summary::default();
        summary.record(&crate::report::Event::Finding(f));
        w.finish(&summary).unwrap();
        let p = String::from_utf8(w.out).unwrap();
        assert!(p.contains(&format!(
            "The table lists {MAX_TABLE_ROWS} of {} findings (the most certain ones)",
            MAX_TABLE_ROWS + 2
        )));
    }

    #[test]
    fn dir_of_uses_the_outer_archive() {
        assert_eq!(dir_of("a/b/c.zip!x/y.csv"), "a/b");
        assert_eq!(dir_of("top.txt"), "");
    }
}
