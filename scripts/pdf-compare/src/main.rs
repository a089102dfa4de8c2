//! Extracts the text of each PDF given with pdf-extract (lopdf underneath)
//! and writes it to OUT/<name>.txt, for phiscan to match. One line per
//! file on stdout: name, outcome (ok, error, panic), milliseconds.
//!
//!     pdf-compare OUT FILE...

use std::io::Write;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let out = args.next().expect("usage: pdf-compare OUT FILE...");
    std::fs::create_dir_all(&out).expect("create OUT");
    // Panics are counted, not printed.
    std::panic::set_hook(Box::new(|_| {}));
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    for path in args {
        let name = std::path::Path::new(&path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                writeln!(stdout, "{name}\tunreadable: {e}\t0").ok();
                continue;
            }
        };
        let start = Instant::now();
        let result = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(&bytes));
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let outcome = match result {
            Ok(Ok(text)) => {
                std::fs::write(format!("{out}/{name}.txt"), text).expect("write text");
                "ok".to_string()
            }
            Ok(Err(e)) => format!("error: {}", e.to_string().replace(['\t', '\n'], " ")),
            Err(_) => "panic".to_string(),
        };
        writeln!(stdout, "{name}\t{outcome}\t{ms:.1}").ok();
        stdout.flush().ok();
    }
}
