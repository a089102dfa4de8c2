//! Generates the benchmark matrix's content kinds (`scripts/bench.sh
//! matrix`): one folder per kind, each holding files of one shape of
//! content, so that each kind is timed on its own against ripgrep.
//!
//! Usage: cargo run --release --example gen_kinds -- DIR KIND MIB [DENSITY] [FILES]
//!
//! KIND is one of the names `gen_kinds list` prints. DENSITY (default 1.0)
//! scales how often values (dates, phones, record numbers ...) occur; the
//! words around them (labels, keywords) keep their own rates, which are
//! part of the kind. FILES (default 8) is how many files share the MIB;
//! `huge` always writes one file. Every value is made up; identifiers are
//! shaped to pass the validators, so the scan does real work on them.
//! Sentences, lines and records are drawn from many templates with random
//! lengths, so that no kind is one repeated line.

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
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    /// True with probability `p` (clamped to 0..=1).
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

const FILLER: &[&str] = &[
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
    "was",
    "is",
    "for",
    "a",
    "on",
    "by",
    "to",
    "her",
    "his",
    "their",
    "daughter",
    "son",
    "nurse",
    "front",
    "desk",
    "voicemail",
    "left",
    "message",
    "scheduled",
    "confirmed",
    "rescheduled",
    "cancelled",
    "notes",
    "chart",
    "updated",
];
const FIRST: &[&str] = &[
    "James", "Maria", "Robert", "Linda", "Michael", "Ana", "David", "Susan", "José", "Chen",
    "Fatima", "Olu", "Ingrid", "Pavel", "Aiko", "Liam",
];
const LAST: &[&str] = &[
    "Smith", "Garcia", "Johnson", "Nguyen", "Brown", "Müller", "Davis", "Lopez", "Wilson", "Kim",
    "O'Brien", "Kowalski", "Haddad", "Okafor",
];
const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn ssn(r: &mut Rng) -> String {
    format!(
        "{:03}-{:02}-{:04}",
        100 + r.below(565),
        1 + r.below(98),
        1 + r.below(9998)
    )
}

/// A Luhn check digit over `digits` with the NPI prefix 80840.
fn npi(r: &mut Rng) -> String {
    let mut d: Vec<u32> = vec![1];
    for _ in 0..8 {
        d.push(r.below(10) as u32);
    }
    let mut full = vec![8, 0, 8, 4, 0];
    full.extend(&d);
    let mut sum = 0;
    for (i, v) in full.iter().rev().enumerate() {
        let mut v = *v;
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    d.push((10 - sum % 10) % 10);
    d.iter().map(|x| char::from(b'0' + *x as u8)).collect()
}

fn ymd(r: &mut Rng, from: u64, span: u64) -> (u64, u64, u64) {
    (from + r.below(span), 1 + r.below(12), 1 + r.below(28))
}

/// A date in one of the shapes people write.
fn any_date(r: &mut Rng, from: u64, span: u64) -> String {
    let (y, m, d) = ymd(r, from, span);
    match r.below(6) {
        0 => format!("{m:02}/{d:02}/{y}"),
        1 => format!("{m}/{d}/{}", y % 100),
        2 => format!("{y}-{m:02}-{d:02}"),
        3 => format!("{} {d}, {y}", MONTHS[m as usize - 1]),
        4 => format!("{d} {} {y}", MONTHS[m as usize - 1]),
        _ => format!("{m:02}-{d:02}-{y}"),
    }
}

fn phone(r: &mut Rng) -> String {
    let (a, b, c) = (201 + r.below(700), 201 + r.below(700), r.below(10000));
    match r.below(4) {
        0 => format!("({a}) {b}-{c:04}"),
        1 => format!("{a}-{b}-{c:04}"),
        2 => format!("{a}.{b}.{c:04}"),
        _ => format!("{a}{b}{c:04}"),
    }
}

fn mrn(r: &mut Rng) -> String {
    match r.below(3) {
        0 => format!("{:08}", r.below(100_000_000)),
        1 => format!("MR-{:06}", r.below(1_000_000)),
        _ => format!("{}", 100_000 + r.below(9_000_000)),
    }
}

/// `least` to `least + span - 1` filler words, each after a space.
fn filler(r: &mut Rng, out: &mut String, least: u64, span: u64) {
    let n = least + r.below(span);
    for _ in 0..n {
        out.push(' ');
        out.push_str(r.pick(FILLER));
    }
}

/// Clinical prose where the words patient, phone, date, appointment, dob
/// and mrn occur in every sentence (the shape of real visit notes and
/// call logs); `density` scales how many sentences also carry a value.
fn prose(r: &mut Rng, size: usize, density: f64, out: &mut String) {
    while out.len() < size {
        let name = format!("{} {}", r.pick(FIRST), r.pick(LAST));
        let p = 0.35 * density;
        // Each sentence names at least three of the six words.
        let s = match r.below(10) {
            0 => {
                let date = if r.chance(p) {
                    any_date(r, 2023, 3)
                } else {
                    "the date given".into()
                };
                format!("Patient {name} called by phone to move the appointment date to {date}; DOB and MRN verified")
            }
            1 => {
                let dob = if r.chance(p) {
                    format!("DOB {}", any_date(r, 1935, 80))
                } else {
                    "dob on file".into()
                };
                format!("Appointment date confirmed with the patient by phone, {dob}, MRN checked")
            }
            2 => {
                let value = if r.chance(p) { mrn(r) } else { "pending".into() };
                format!("MRN {value} for patient {name}; phone and date of the next appointment noted, dob matches")
            }
            3 => {
                let ph = if r.chance(p) { phone(r) } else { "the number on file".into() };
                format!("Left a message on the patient phone {ph} about the appointment date; dob and mrn not given")
            }
            4 => format!(
                "The patient asked whether the appointment date could change; phone call logged, mrn and dob confirmed{}",
                if r.chance(p) {
                    format!(" ({})", any_date(r, 2023, 3))
                } else {
                    String::new()
                }
            ),
            5 => {
                let when = if r.chance(p) {
                    format!("on {}", any_date(r, 2024, 1))
                } else {
                    "today".into()
                };
                format!("Phone reminder sent {when}: appointment date, patient MRN and dob listed in the portal")
            }
            6 => {
                let v = if r.chance(p * 0.3) {
                    format!("date of birth {}", any_date(r, 1940, 70))
                } else {
                    "dob".into()
                };
                format!("Front desk matched the patient by {v}, phone and MRN before the appointment date was set")
            }
            7 => {
                let v = if r.chance(p * 0.2) {
                    format!(" SSN {}", ssn(r))
                } else {
                    String::new()
                };
                format!("Patient registration: phone, dob, mrn and appointment date entered{v}")
            }
            8 => {
                let v = if r.chance(p * 0.3) {
                    format!(" NPI {}", npi(r))
                } else {
                    String::new()
                };
                format!("Referring provider{v} asked for the patient appointment date by phone; MRN and DOB sent")
            }
            _ => {
                let mut s = String::from("Patient");
                filler(r, &mut s, 3, 8);
                s.push_str(" phone");
                filler(r, &mut s, 2, 6);
                s.push_str(" appointment date");
                filler(r, &mut s, 1, 5);
                s.push_str(" dob mrn");
                s
            }
        };
        out.push_str(&s);
        if r.chance(0.5) {
            filler(r, out, 0, 12);
        }
        out.push_str(if r.chance(0.3) { ".\n" } else { ". " });
        if r.chance(0.05) {
            out.push('\n');
        }
    }
}

/// Application logs of several shapes, each line timestamped.
fn logs(r: &mut Rng, size: usize, density: f64, out: &mut String) {
    while out.len() < size {
        let (y, m, d) = ymd(r, 2024, 2);
        let (hh, mm, ss) = (r.below(24), r.below(60), r.below(60));
        let line = match r.below(5) {
            0 => format!(
                "{y}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{:03}Z INFO [worker-{}] GET /api/v{}/claims/{} 200 {}ms req={:016x}",
                r.below(1000),
                r.below(16),
                r.below(3),
                r.below(1_000_000_000),
                r.below(900),
                r.next()
            ),
            1 => format!(
                "{} {d:2} {hh:02}:{mm:02}:{ss:02} app{} sshd[{}]: Accepted publickey for deploy from 10.{}.{}.{} port {} ssh2",
                MONTHS[m as usize - 1],
                r.below(9),
                r.below(65536),
                r.below(256),
                r.below(256),
                r.below(256),
                1024 + r.below(60000)
            ),
            2 => format!(
                "10.{}.{}.{} - - [{d:02}/{}/{y}:{hh:02}:{mm:02}:{ss:02} +0000] \"GET /portal/{}?page={} HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0\"",
                r.below(256),
                r.below(256),
                r.below(256),
                MONTHS[m as usize - 1],
                r.pick(&["appointments", "messages", "billing", "labs"]),
                r.below(50),
                r.below(100_000)
            ),
            3 => format!(
                "{{\"ts\":\"{y}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}\",\"level\":\"debug\",\"svc\":\"sched\",\"msg\":\"slot {} booked\",\"dur_ms\":{}}}",
                r.below(10_000),
                r.below(5000)
            ),
            _ => format!(
                "{y}/{m:02}/{d:02} {hh:02}:{mm:02}:{ss:02} WARN retry {} of job {} after {}ms",
                r.below(5),
                r.below(100_000_000),
                r.below(10_000)
            ),
        };
        out.push_str(&line);
        out.push('\n');
        if r.chance(0.002 * density) {
            out.push_str(&format!(
                "{y}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} ERROR payload dump: patient {} {} dob {} phone {} ssn {}\n",
                r.pick(FIRST),
                r.pick(LAST),
                any_date(r, 1940, 70),
                phone(r),
                ssn(r)
            ));
        }
    }
}

/// CSV rows with ISO dates and datetimes in several columns; the header
/// names no PHI, and some notes carry values.
fn csv_dates(r: &mut Rng, size: usize, density: f64, out: &mut String) {
    out.push_str(
        "record_id,created_at,updated_at,service_date,location,code,amount,status,notes\n",
    );
    while out.len() < size {
        let (y, m, d) = ymd(r, 2020, 5);
        let (y2, m2, d2) = ymd(r, 2020, 5);
        let notes = if r.chance(0.01 * density) {
            match r.below(4) {
                0 => format!("\"pt phone {}\"", phone(r)),
                1 => format!("\"DOB {} verified\"", any_date(r, 1940, 70)),
                2 => format!("\"MRN: {}\"", mrn(r)),
                _ => format!("\"ssn {} on file\"", ssn(r)),
            }
        } else {
            r.pick(&["", "ok", "\"late, resubmitted\"", "n/a", "see ticket"])
                .to_string()
        };
        out.push_str(&format!(
            "{},{y}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z,{y2}-{m2:02}-{d2:02} {:02}:{:02},{y}-{m:02}-{d:02},{},{}{:04},{}.{:02},{},{}\n",
            r.below(10_000_000_000),
            r.below(24),
            r.below(60),
            r.below(60),
            r.below(24),
            r.below(60),
            r.pick(&["north", "south", "main campus", "annex"]),
            r.pick(&["A", "B", "D", "J"]),
            r.below(10000),
            r.below(5000),
            r.below(100),
            r.pick(&["open", "closed", "void", "hold"]),
            notes
        ));
    }
}

/// HL7 v2 messages: ADT and ORU, a PID in most messages (as in real
/// feeds), OBX results.
fn hl7(r: &mut Rng, size: usize, density: f64, out: &mut String) {
    let mut n = 0u64;
    while out.len() < size {
        n += 1;
        let (y, m, d) = ymd(r, 2021, 4);
        let adt = r.chance(0.4);
        out.push_str(&format!(
            "MSH|^~\\&|{}|HOSP|EHR|HOSP|{y}{m:02}{d:02}{:02}{:02}||{}|MSG{n:09}|P|2.5.1\r",
            r.pick(&["LAB", "ADT", "RAD"]),
            r.below(24),
            r.below(60),
            if adt { "ADT^A08" } else { "ORU^R01" }
        ));
        if r.chance(0.8 * density) {
            let (by, bm, bd) = ymd(r, 1935, 80);
            out.push_str(&format!(
                "PID|1||{}^^^HOSP^MR||{}^{}||{by}{bm:02}{bd:02}|{}|||{} Main St^^Springfield^IL^627{:02}||{}|||||||{}\r",
                r.below(100_000_000),
                r.pick(LAST),
                r.pick(FIRST),
                r.pick(&["F", "M", "U"]),
                1 + r.below(999),
                r.below(100),
                phone(r),
                if r.chance(0.3) { ssn(r) } else { String::new() }
            ));
        }
        out.push_str(&format!(
            "PV1|1|{}|{}^{}^1||||{}^{}^{}|||||||||||V{:08}\r",
            r.pick(&["O", "I", "E"]),
            r.pick(&["MED", "SURG", "ER"]),
            r.below(500),
            npi(r),
            r.pick(LAST),
            r.pick(FIRST),
            r.below(100_000_000)
        ));
        if !adt {
            out.push_str(&format!(
                "OBR|1|ORD{:07}||{}|||{y}{m:02}{d:02}0800\r",
                r.below(10_000_000),
                r.pick(&[
                    "CBC^Complete blood count",
                    "BMP^Basic panel",
                    "LIPID^Lipid panel"
                ])
            ));
            for i in 1..2 + r.below(8) {
                out.push_str(&format!(
                    "OBX|{i}|NM|{}^{}||{}.{}|{}|{}|N|||F|||{y}{m:02}{d:02}{:02}{:02}\r",
                    r.below(100_000),
                    r.pick(&["WBC", "HGB", "PLT", "NA", "K", "GLU"]),
                    r.below(200),
                    r.below(10),
                    r.pick(&["10*3/uL", "g/dL", "mmol/L", "mg/dL"]),
                    r.pick(&["4.0-10.0", "12-16", "135-145", "70-99"]),
                    r.below(24),
                    r.below(60)
                ));
            }
        }
        if r.chance(0.5) {
            out.push('\n');
        }
    }
}

/// X12 837 claims: subscribers with names, member ids, birth dates,
/// service lines with dates.
fn x12(r: &mut Rng, size: usize, density: f64, out: &mut String) {
    let newline = r.chance(0.5);
    let term = if newline { "~\n" } else { "~" };
    let mut n = 0u64;
    while out.len() < size {
        n += 1;
        let (y, m, d) = ymd(r, 2022, 3);
        out.push_str(&format!(
            "ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *{:02}{m:02}{d:02}*1200*^*00501*{n:09}*0*P*:{term}",
            y % 100
        ));
        out.push_str(&format!(
            "GS*HC*SUBMITTER*RECEIVER*{y}{m:02}{d:02}*1200*{n}*X*005010X222A1{term}"
        ));
        out.push_str(&format!("ST*837*{:04}*005010X222A1{term}", n % 10000));
        out.push_str(&format!(
            "BHT*0019*00*{n:010}*{y}{m:02}{d:02}*1200*CH{term}"
        ));
        out.push_str(&format!(
            "NM1*85*2*CLINIC {}*****XX*{}{term}",
            r.pick(LAST).to_uppercase(),
            npi(r)
        ));
        for _ in 0..1 + r.below(6) {
            let (by, bm, bd) = ymd(r, 1935, 80);
            out.push_str(&format!("HL*{}*1*22*0{term}", r.below(1000)));
            out.push_str(&format!(
                "SBR*P*18*GRP{:06}******CI{term}",
                r.below(1_000_000)
            ));
            out.push_str(&format!(
                "NM1*IL*1*{}*{}****MI*{}{:08}{term}",
                r.pick(LAST).to_uppercase(),
                r.pick(FIRST).to_uppercase(),
                r.pick(&["W", "X", "H"]),
                r.below(100_000_000)
            ));
            out.push_str(&format!("N3*{} MAIN ST{term}", 1 + r.below(9999)));
            out.push_str(&format!("N4*SPRINGFIELD*IL*627{:02}{term}", r.below(100)));
            if r.chance(0.9 * density) {
                out.push_str(&format!(
                    "DMG*D8*{by}{bm:02}{bd:02}*{}{term}",
                    r.pick(&["F", "M"])
                ));
            }
            out.push_str(&format!(
                "CLM*{:08}*{}.{:02}***11:B:1*Y*A*Y*Y{term}",
                r.below(100_000_000),
                r.below(5000),
                r.below(100)
            ));
            for k in 1..1 + r.below(5) {
                let (sy, sm, sd) = ymd(r, 2022, 3);
                out.push_str(&format!("LX*{k}{term}"));
                out.push_str(&format!(
                    "SV1*HC:{}*{}.00*UN*1***1{term}DTP*472*D8*{sy}{sm:02}{sd:02}{term}",
                    99_200 + r.below(100),
                    r.below(500)
                ));
            }
        }
        out.push_str(&format!(
            "SE*{}*{:04}{term}GE*1*{n}{term}IEA*1*{n:09}{term}",
            20 + r.below(50),
            n % 10000
        ));
    }
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// MIME-like messages whose bodies are base64 blobs (attachments), with a
/// few header lines between them.
fn base64(r: &mut Rng, size: usize, density: f64, out: &mut String) {
    while out.len() < size {
        out.push_str(&format!(
            "--boundary{:x}\nContent-Type: application/pdf; name=\"scan{}.pdf\"\nContent-Transfer-Encoding: base64\n",
            r.next() & 0xffff,
            r.below(10_000)
        ));
        if r.chance(0.05 * density) {
            out.push_str(&format!("X-Patient-Phone: {}\n", phone(r)));
        }
        out.push('\n');
        for _ in 0..20 + r.below(400) {
            for _ in 0..76 {
                out.push(B64[r.below(64) as usize] as char);
            }
            out.push('\n');
        }
    }
}

/// Minified JSON: records on one line per file part (a few MiB per line),
/// keys named patient, dob, mrn, phone, appointment, date.
fn json(r: &mut Rng, size: usize, density: f64, out: &mut String) {
    let mut line_len = 0;
    out.push('[');
    while out.len() < size {
        let p = 0.5 * density;
        let start = out.len();
        out.push_str(&format!(
            "{{\"id\":{},\"patient\":{{\"name\":\"{} {}\",\"dob\":\"{}\",\"mrn\":\"{}\",\"phone\":\"{}\"}},\"appointment\":{{\"date\":\"{}\",\"slot\":{},\"status\":\"{}\",\"room\":\"{}{}\"}},\"updated\":\"{}\",\"flags\":[{},{}]}},",
            r.below(100_000_000),
            r.pick(FIRST),
            r.pick(LAST),
            if r.chance(p) { any_date(r, 1940, 70) } else { String::new() },
            if r.chance(p) { mrn(r) } else { String::new() },
            if r.chance(p) { phone(r) } else { String::new() },
            any_date(r, 2024, 1),
            r.below(40),
            r.pick(&["booked", "cancelled", "done"]),
            r.pick(&["A", "B", "C"]),
            r.below(400),
            {
                let (y, m, d) = ymd(r, 2024, 1);
                format!("{y}-{m:02}-{d:02}T{:02}:{:02}:00Z", r.below(24), r.below(60))
            },
            r.below(2) == 0,
            r.below(2) == 0
        ));
        line_len += out.len() - start;
        if line_len > (3 << 20) {
            out.push('\n');
            line_len = 0;
        }
    }
    out.push_str("{}]\n");
}

/// Notes and messages with accented names, in UTF-16LE with a BOM.
fn utf16_text(r: &mut Rng, size: usize, density: f64) -> Vec<u8> {
    let mut text = String::new();
    // Half the bytes: UTF-16 doubles ASCII.
    while text.len() < size / 2 {
        let mut s = String::new();
        filler(r, &mut s, 6, 20);
        text.push_str(s.trim_start());
        if r.chance(0.2 * density) {
            match r.below(4) {
                0 => text.push_str(&format!(
                    " Patient {} {} DOB {}",
                    r.pick(FIRST),
                    r.pick(LAST),
                    any_date(r, 1940, 70)
                )),
                1 => text.push_str(&format!(" phone {}", phone(r))),
                2 => text.push_str(&format!(" MRN {}", mrn(r))),
                _ => text.push_str(&format!(" seen {}", any_date(r, 2023, 2))),
            }
        }
        text.push_str(if r.chance(0.4) { ".\r\n" } else { ". " });
    }
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
    out
}

/// One text of the kind, about `size` bytes.
fn body(kind: &str, r: &mut Rng, size: usize, density: f64) -> Option<Vec<u8>> {
    let mut s = String::with_capacity(size + 4096);
    match kind {
        "prose" => prose(r, size, density, &mut s),
        "logs" => logs(r, size, density, &mut s),
        "csv" => csv_dates(r, size, density, &mut s),
        "hl7" => hl7(r, size, density, &mut s),
        "x12" => x12(r, size, density, &mut s),
        "base64" => base64(r, size, density, &mut s),
        "json" => json(r, size, density, &mut s),
        "utf16" => return Some(utf16_text(r, size, density)),
        // A stretch of the one large text file: prose or logs.
        "huge" if r.chance(0.5) => prose(r, size, density, &mut s),
        "huge" => logs(r, size, density, &mut s),
        _ => return None,
    }
    Some(s.into_bytes())
}

const KINDS: &[(&str, &str)] = &[
    ("prose", "txt"),
    ("logs", "log"),
    ("csv", "csv"),
    ("hl7", "hl7"),
    ("x12", "x12"),
    ("base64", "eml"),
    ("json", "json"),
    ("utf16", "txt"),
    ("huge", "txt"),
];

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("list") {
        for (kind, _) in KINDS {
            println!("{kind}");
        }
        return Ok(());
    }
    if args.len() < 4 {
        eprintln!("usage: gen_kinds DIR KIND MIB [DENSITY] [FILES] | gen_kinds list");
        std::process::exit(2);
    }
    let dir = Path::new(&args[1]);
    let kind = args[2].as_str();
    let Some(&(_, ext)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        eprintln!("unknown kind {kind:?}; see `gen_kinds list`");
        std::process::exit(2);
    };
    let total: usize = args[3].parse::<usize>().expect("MIB is a number") << 20;
    let density: f64 = args
        .get(4)
        .map_or(1.0, |d| d.parse().expect("DENSITY is a number"));
    let files: usize = if kind == "huge" {
        1
    } else {
        args.get(5)
            .map_or(8, |f| f.parse().expect("FILES is a number"))
    };
    // The seed depends on the kind and density, so kinds differ.
    let mut seed = 0x5eed_1234_abcd_ef01u64 ^ (density * 1000.0) as u64;
    for b in kind.bytes() {
        seed = seed.rotate_left(7) ^ u64::from(b);
    }
    let mut r = Rng(seed | 1);
    fs::create_dir_all(dir)?;
    let mut written = 0;
    for i in 0..files {
        let size = (total - written) / (files - i);
        let path = dir.join(format!("{kind}{i:03}.{ext}"));
        let mut out = BufWriter::new(File::create(&path)?);
        // The large file is written in stretches of 2–8 MiB.
        let mut left = size;
        while left > 0 {
            let part = if kind == "huge" {
                ((2 << 20) + r.below(6 << 20) as usize).min(left)
            } else {
                left
            };
            let bytes = body(kind, &mut r, part, density).expect("known kind");
            out.write_all(&bytes)?;
            written += bytes.len();
            left = left.saturating_sub(bytes.len());
        }
        out.flush()?;
    }
    eprintln!(
        "{kind}: {files} files, about {written} bytes in {}",
        dir.display()
    );
    Ok(())
}
