//! Generates the synthetic benchmark corpus: clinical notes, CSV exports,
//! HL7 messages and server logs, with PHI at a realistic low density.
//! Every value is made up; identifiers are shaped to pass the validators so
//! the scan does real work on them.
//!
//! Usage: cargo run --release --example gen_corpus -- DIR TOTAL_MIB [SINGLE_FILE_MIB]
//! With SINGLE_FILE_MIB, also writes DIR/../single.txt of that size (for the
//! peak-memory measurement on one large file).

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "patient",
    "reports",
    "mild",
    "pain",
    "in",
    "the",
    "left",
    "knee",
    "since",
    "last",
    "week",
    "denies",
    "fever",
    "chills",
    "history",
    "of",
    "hypertension",
    "controlled",
    "with",
    "lisinopril",
    "follow",
    "up",
    "in",
    "two",
    "weeks",
    "labs",
    "ordered",
    "CBC",
    "BMP",
    "lipid",
    "panel",
    "advised",
    "rest",
    "ice",
    "and",
    "elevation",
    "no",
    "known",
    "drug",
    "allergies",
    "vitals",
    "stable",
    "blood",
    "pressure",
    "heart",
    "rate",
    "normal",
    "exam",
    "unremarkable",
    "plan",
    "continue",
    "current",
    "medication",
    "return",
    "if",
    "symptoms",
    "worsen",
    "tooth",
    "extraction",
    "molar",
    "crown",
    "cleaning",
    "x-ray",
    "reviewed",
    "insurance",
    "claim",
    "submitted",
    "copay",
    "collected",
];
const FIRST: &[&str] = &[
    "James", "Maria", "Robert", "Linda", "Michael", "Ana", "David", "Susan", "José", "Chen",
];
const LAST: &[&str] = &[
    "Smith", "Garcia", "Johnson", "Nguyen", "Brown", "Müller", "Davis", "Lopez", "Wilson", "Kim",
];

fn ssn(r: &mut Rng) -> String {
    format!(
        "{:03}-{:02}-{:04}",
        100 + r.below(565),
        1 + r.below(98),
        1 + r.below(9998)
    )
}

fn luhn_digit(digits: &[u8]) -> u8 {
    // Check digit for `digits` (most significant first).
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d);
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    ((10 - sum % 10) % 10) as u8
}

fn npi(r: &mut Rng) -> String {
    let mut d: Vec<u8> = vec![1];
    for _ in 0..8 {
        d.push(r.below(10) as u8);
    }
    let mut full = vec![8, 0, 8, 4, 0];
    full.extend(&d);
    d.push(luhn_digit(&full));
    d.iter().map(|x| char::from(b'0' + x)).collect()
}

fn date(r: &mut Rng, from: u64, span: u64) -> (u64, u64, u64) {
    (from + r.below(span), 1 + r.below(12), 1 + r.below(28))
}

fn phone(r: &mut Rng) -> String {
    format!(
        "({}) {}-{:04}",
        201 + r.below(700),
        201 + r.below(700),
        r.below(10000)
    )
}

fn sentence(r: &mut Rng, out: &mut String) {
    let n = 8 + r.below(14);
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(r.pick(WORDS));
    }
    out.push_str(". ");
}

/// One PHI statement, roughly one per `PHI_EVERY` bytes of text.
fn phi(r: &mut Rng, out: &mut String) {
    let name = format!("{} {}", r.pick(FIRST), r.pick(LAST));
    let (y, m, d) = date(r, 1930, 80);
    match r.below(6) {
        0 => out.push_str(&format!("Patient {name}, DOB: {m:02}/{d:02}/{y}. ")),
        1 => out.push_str(&format!("SSN {} on file. ", ssn(r))),
        2 => out.push_str(&format!("MRN: {:08}. ", r.below(100_000_000))),
        3 => out.push_str(&format!("Referring provider NPI {}. ", npi(r))),
        4 => out.push_str(&format!("Call back at {}. ", phone(r))),
        _ => out.push_str(&format!(
            "Email {}.{}@example.org. ",
            r.pick(FIRST).to_lowercase(),
            y
        )),
    }
}

const PHI_EVERY: u64 = 20_000;

fn note(r: &mut Rng, size: usize) -> String {
    let mut s = String::with_capacity(size + 512);
    while s.len() < size {
        let (y, m, d) = date(r, 2019, 6);
        s.push_str(&format!("Visit date: {m:02}/{d:02}/{y}\n"));
        for _ in 0..3 + r.below(6) {
            sentence(r, &mut s);
            if r.below(PHI_EVERY / 120) == 0 {
                phi(r, &mut s);
            }
            if r.below(4) == 0 {
                s.push('\n');
            }
        }
        s.push_str("\n\n");
    }
    s
}

fn csv_export(r: &mut Rng, size: usize) -> String {
    let mut s = String::from(
        "appointment_id,appointment_date,provider,procedure_code,amount,status,notes\n",
    );
    while s.len() < size {
        let (y, m, d) = date(r, 2019, 6);
        let notes = if r.below(PHI_EVERY / 80) == 0 {
            let mut n = String::new();
            phi(r, &mut n);
            n
        } else {
            r.pick(&[
                "paid",
                "pending review",
                "resubmitted",
                "denied - code 97",
                "",
            ])
            .to_string()
        };
        s.push_str(&format!(
            "A{:09},{y}-{m:02}-{d:02},DR {},D{:04},{}.{:02},{},\"{}\"\n",
            r.below(1_000_000_000),
            r.pick(LAST),
            r.below(10000),
            r.below(5000),
            r.below(100),
            r.pick(&["closed", "open", "void"]),
            notes.trim()
        ));
    }
    s
}

fn hl7(r: &mut Rng, size: usize) -> String {
    let mut s = String::new();
    let mut n = 0;
    while s.len() < size {
        n += 1;
        let (y, m, d) = date(r, 2020, 5);
        s.push_str(&format!(
            "MSH|^~\\&|LAB|CLINIC|EHR|CLINIC|{y}{m:02}{d:02}1200||ORU^R01|MSG{n:08}|P|2.5.1\r"
        ));
        s.push_str(&format!(
            "OBR|1|ORD{:07}||CBC^Complete blood count|||{y}{m:02}{d:02}0800\r",
            r.below(10_000_000)
        ));
        for i in 1..6 {
            s.push_str(&format!(
                "OBX|{i}|NM|{}^Result||{}.{}|10*3/uL|4.0-10.0|N|||F\r",
                r.below(100000),
                r.below(20),
                r.below(10)
            ));
        }
        if r.below(PHI_EVERY / 400) == 0 {
            let (by, bm, bd) = date(r, 1940, 60);
            s.push_str(&format!(
                "PID|1||{:08}^^^CLINIC^MR||{}^{}||{by}{bm:02}{bd:02}|F|||1 Main St^^Springfield^IL^62701||{}|||||||{}\r",
                r.below(100_000_000),
                r.pick(LAST),
                r.pick(FIRST),
                phone(r),
                ssn(r)
            ));
        }
        s.push('\n');
    }
    s
}

fn log(r: &mut Rng, size: usize) -> String {
    let mut s = String::new();
    while s.len() < size {
        let (y, m, d) = date(r, 2024, 2);
        s.push_str(&format!(
            "{y}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z INFO [worker-{}] 10.{}.{}.{} GET /api/v{}.{}.{}/claims/{} 200 {}ms req={:016x}\n",
            r.below(24),
            r.below(60),
            r.below(60),
            r.below(1000),
            r.below(16),
            r.below(256),
            r.below(256),
            r.below(256),
            r.below(3),
            r.below(20),
            r.below(100),
            r.below(1_000_000_000),
            r.below(900),
            r.next()
        ));
        if r.below(PHI_EVERY / 30) == 0 {
            let mut p = String::new();
            phi(r, &mut p);
            s.push_str(&format!("WARN debug dump: {p}\n"));
        }
    }
    s
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: gen_corpus DIR TOTAL_MIB [SINGLE_FILE_MIB]");
        std::process::exit(2);
    }
    let dir = Path::new(&args[1]);
    let total: usize = args[2].parse::<usize>().expect("TOTAL_MIB is a number") << 20;
    let mut r = Rng(0x5eed_1234_abcd_ef01);
    let mut written = 0usize;
    let mut i = 0;
    while written < total {
        let kind = i % 4;
        // Mostly 256 KiB – 8 MiB files, like practice exports.
        let size = (256 << 10) + r.below(8 << 20) as usize;
        let size = size.min(total - written).max(1024);
        let (sub, ext, body) = match kind {
            0 => ("notes", "txt", note(&mut r, size)),
            1 => ("exports", "csv", csv_export(&mut r, size)),
            2 => ("hl7", "hl7", hl7(&mut r, size)),
            _ => ("logs", "log", log(&mut r, size)),
        };
        let folder = dir.join(sub).join(format!("{:03}", i / 40));
        fs::create_dir_all(&folder)?;
        fs::write(folder.join(format!("file{i:05}.{ext}")), &body)?;
        written += body.len();
        i += 1;
    }
    eprintln!("wrote {i} files, {written} bytes to {}", dir.display());
    if let Some(single) = args.get(3) {
        let want: usize = single
            .parse::<usize>()
            .expect("SINGLE_FILE_MIB is a number")
            << 20;
        let path = dir.parent().unwrap_or(Path::new(".")).join("single.txt");
        let mut out = BufWriter::new(File::create(&path)?);
        let mut n = 0usize;
        while n < want {
            let body = match n / (64 << 20) % 3 {
                0 => note(&mut r, 8 << 20),
                1 => log(&mut r, 8 << 20),
                _ => csv_export(&mut r, 8 << 20),
            };
            out.write_all(body.as_bytes())?;
            n += body.len();
        }
        out.flush()?;
        eprintln!("wrote {n} bytes to {}", path.display());
    }
    Ok(())
}
