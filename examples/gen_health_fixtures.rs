//! Writes the healthcare-format fixtures into `fixtures/formats/health/`
//! (or the folder given as the first argument). All data is synthetic:
//! SSNs in issued-looking ranges but made up, NPIs with a valid check digit
//! (1234567893, 1987654328), names and addresses invented.
//!
//! `cargo run --example gen_health_fixtures`

use base64::Engine;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

fn main() -> io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("fixtures/formats/health"));
    fs::create_dir_all(&dir)?;
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("hl7/adt_a01.hl7", adt_a01().into_bytes()),
        ("hl7/oru_batch.hl7", oru_batch().into_bytes()),
        ("hl7/adt_lf.hl7", adt_a01().replace('\r', "\n").into_bytes()),
        ("hl7/feed.mllp", mllp()),
        ("hl7/bad_no_msh2.hl7", bad_hl7().into_bytes()),
        ("x12/claim_837p.x12", x12_837p()),
        ("x12/remit_835.edi", x12_835()),
        ("x12/enroll_834.edi", x12_834()),
        ("x12/eligibility_270_271.edi", x12_270_271()),
        (
            "x12/short_isa.x12",
            b"ISA*00*          *00*    ~GS*HC~".to_vec(),
        ),
        ("dicom/ct_explicit_le.dcm", dicom(EXPLICIT_LE, true)),
        ("dicom/mr_implicit_le.dcm", dicom(IMPLICIT_LE, true)),
        ("dicom/us_explicit_be.dcm", dicom(EXPLICIT_BE, true)),
        ("dicom/old_no_preamble.dcm", dicom(IMPLICIT_LE, false)),
        ("dicom/truncated.dcm", truncated_dicom()),
        ("ccda/ccd.xml", ccd().into_bytes()),
        ("tabular/patients.csv", patients_csv().into_bytes()),
        ("tabular/labs.tsv", labs_tsv().into_bytes()),
        ("tabular/roster_export", roster().into_bytes()),
    ];
    for (name, bytes) in files {
        write(&dir, name, &bytes)?;
    }
    Ok(())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(&path, bytes)?;
    println!("{} ({} bytes)", path.display(), bytes.len());
    Ok(())
}

// ---------------------------------------------------------------- HL7 v2

fn adt_a01() -> String {
    let note = base64::engine::general_purpose::STANDARD
        .encode("Discharge summary\nPatient SSN: 523-41-8765\nFollow up in two weeks.\n");
    [
        "MSH|^~\\&|ADT1|GOOD HEALTH HOSPITAL|GHH LAB|GHH|20240101120000||ADT^A01^ADT_A01|MSG00001|P|2.5.1",
        "EVN|A01|20240101120000",
        "PID|1||4455667^^^GHH^MR~412-56-7890^^^SSA^SS||EVERYMAN^ADAM^A||19610615|M|||2222 HOME STREET^^GREENSBORO^NC^27401||(555)555-2004^PRN^PH|(555)555-2005^WPN^PH||||AC555444444|412-56-7890",
        "NK1|1|EVERYMAN^EVE|SPO^Spouse|2222 HOME STREET^^GREENSBORO^NC^27401|(555)555-2006",
        "GT1|1|G8890|EVERYMAN^EVE||2222 HOME STREET^^GREENSBORO^NC^27401|(555)555-2006||19630312|F||SPO|287-65-4321",
        "PV1|1|I|2000^2012^01||||004777^ATTEND^AARON^A",
        "OBX|1|TX|NOTE^Nursing note||Patient resting comfortably.||||||F",
        &format!("OBX|2|ED|DISCH^Discharge summary||^TEXT^plain^Base64^{note}||||||F"),
    ]
    .join("\r")
        + "\r"
}

fn oru(control: u32, mrn: &str, name: &str, dob: &str, ssn: &str) -> String {
    [
        format!("MSH|^~\\&|LAB|GHH|EHR|GHH|20240102083000||ORU^R01^ORU_R01|LAB{control}|P|2.5.1"),
        format!("PID|1||{mrn}^^^GHH^MR||{name}||{dob}|F|||||||||||{ssn}"),
        "OBR|1|||CBC^Complete blood count".to_string(),
        "OBX|1|NM|WBC^Leukocytes||7.2|10*3/uL|4.0-11.0|N|||F".to_string(),
        "NTE|1||Specimen slightly hemolyzed.".to_string(),
    ]
    .join("\r")
}

fn oru_batch() -> String {
    [
        "FHS|^~\\&|LAB|GHH|EHR|GHH|20240102083000".to_string(),
        "BHS|^~\\&|LAB|GHH|EHR|GHH|20240102083000".to_string(),
        oru(1, "7001001", "ROE^MARY", "19720214", "341-22-9087"),
        oru(2, "7001002", "POE^EDGAR^A", "19550119", "356-12-4455"),
        oru(3, "7001003", "DOE^JOHN", "19900704", ""),
        "BTS|3".to_string(),
        "FTS|1".to_string(),
    ]
    .join("\r")
        + "\r"
}

fn mllp() -> Vec<u8> {
    let mut out = Vec::new();
    for msg in [
        oru(10, "8002001", "GREEN^ALICE", "19811130", "468-30-2211"),
        oru(11, "8002002", "BLACK^BOB", "19790625", ""),
    ] {
        out.push(0x0B);
        out.extend_from_slice(msg.as_bytes());
        out.extend_from_slice(b"\r\x1c\r");
    }
    out
}

fn bad_hl7() -> String {
    "MSH||LAB|GHH|EHR|GHH|20240102083000||ORU^R01|X1|P|2.5.1\rPID|1||9990001^^^GHH^MR||WHITE^WALTER||19580907\r"
        .to_string()
}

// ---------------------------------------------------------------- X12

fn isa(element: char, component: char, terminator: char, control: &str) -> String {
    format!(
        "ISA*00*          *00*          *ZZ*SUBMITTER01    *ZZ*RECEIVER01     *240105*1030*^*00501*{control}*0*P*{component}{terminator}"
    )
    .replace('*', &element.to_string())
}

/// An interchange from `*`-separated segments, re-separated as asked.
fn x12(element: char, component: char, terminator: char, newline: &str, body: &[&str]) -> Vec<u8> {
    let mut out = isa(element, component, terminator, "000000101");
    out.push_str(newline);
    for segment in body {
        out.push_str(
            &segment
                .replace('*', &element.to_string())
                .replace(':', &component.to_string()),
        );
        out.push(terminator);
        out.push_str(newline);
    }
    out.into_bytes()
}

fn x12_837p() -> Vec<u8> {
    x12(
        '*',
        ':',
        '~',
        "\n",
        &[
            "GS*HC*SUBMITTER01*RECEIVER01*20240105*1030*1*X*005010X222A1",
            "ST*837*0001*005010X222A1",
            "BHT*0019*00*REF47517*20240105*1030*CH",
            "NM1*41*2*GOOD HEALTH CLINIC*****46*TGJ23",
            "PER*IC*BILLING DEPT*TE*5555551234*EM*billing@goodhealth.example",
            "NM1*85*2*GOOD HEALTH CLINIC*****XX*1234567893",
            "N3*123 CLINIC WAY",
            "N4*GREENSBORO*NC*27401",
            "REF*EI*561234567",
            "HL*2*1*22*0",
            "SBR*P*18*******CI",
            "NM1*IL*1*SMITH*JANE*Q***MI*JS00012345",
            "N3*236 N MAIN ST",
            "N4*MIAMI*FL*33413",
            "DMG*D8*19430501*F",
            "REF*SY*523-41-8765",
            "CLM*26463774*100***11:B:1*Y*A*Y*I",
            "DTP*472*D8*20240103",
            "HI*ABK:J449",
            "NM1*82*1*KILDARE*JAMES****XX*1987654328",
            "SE*21*0001",
            "GE*1*1",
            "IEA*1*000000101",
        ],
    )
}

fn x12_835() -> Vec<u8> {
    // One line, no newlines between segments.
    x12(
        '*',
        ':',
        '~',
        "",
        &[
            "GS*HP*PAYER01*RECEIVER01*20240106*0800*2*X*005010X221A1",
            "ST*835*0002",
            "BPR*I*150*C*ACH*CCP*01*999999992*DA*123456*1512345678**01*999988880*DA*98765*20240106",
            "N1*PR*HEALTH PLAN INC",
            "N1*PE*GOOD HEALTH CLINIC*XX*1234567893",
            "CLP*26463774*1*100*80*20*12*ABC123",
            "NM1*QC*1*SMITH*JANE****MR*MRN00442211",
            "NM1*82*1*KILDARE*JAMES****XX*1987654328",
            "SVC*HC:99213*100*80",
            "DTM*472*20240103",
            "SE*10*0002",
            "GE*1*2",
            "IEA*1*000000101",
        ],
    )
}

fn x12_834() -> Vec<u8> {
    // Unusual separators: `!` between elements, `>` between components,
    // newline as the segment terminator.
    x12(
        '!',
        '>',
        '\n',
        "",
        &[
            "GS*BE*SPONSOR01*PAYER01*20240107*0900*3*X*005010X220A1",
            "ST*834*0003*005010X220A1",
            "BGN*00*12456*20240107*0900****2",
            "INS*Y*18*021*28*A***FT",
            "REF*0F*412567891",
            "NM1*IL*1*BROWN*CHARLES*M***34*412-56-7891",
            "PER*IP**TE*5555553344*EM*cbrown@example.net",
            "N3*742 EVERGREEN TERRACE",
            "DMG*D8*19700815*M",
            "SE*9*0003",
            "GE*1*3",
            "IEA*1*000000101",
        ],
    )
}

fn x12_270_271() -> Vec<u8> {
    // `|` elements, `:` components, 0x1D (group separator) as terminator,
    // CRLF after each segment.
    x12(
        '|',
        ':',
        '\u{1d}',
        "\r\n",
        &[
            "GS*HS*PROVIDER01*PAYER01*20240108*1000*4*X*005010X279A1",
            "ST*270*0004*005010X279A1",
            "BHT*0022*13*10001234*20240108*1000",
            "HL*1**20*1",
            "NM1*PR*2*HEALTH PLAN INC*****PI*842610001",
            "HL*2*1*21*1",
            "NM1*1P*1*WELBY*MARCUS****XX*1987654328",
            "HL*3*2*22*0",
            "NM1*IL*1*GREEN*ALICE****MI*W99887766",
            "REF*EA*MRN7788990",
            "DMG*D8*19811130",
            "EQ*30",
            "SE*12*0004",
            "ST*271*0005*005010X279A1",
            "NM1*IL*1*GREEN*ALICE****MI*W99887766",
            "DMG*D8*19811130*F",
            "EB*1*IND*30",
            "SE*4*0005",
            "GE*2*4",
            "IEA*1*000000101",
        ],
    )
}

// ---------------------------------------------------------------- DICOM

#[derive(Clone, Copy)]
struct Syntax {
    explicit: bool,
    big_endian: bool,
    uid: &'static str,
}

const EXPLICIT_LE: Syntax = Syntax {
    explicit: true,
    big_endian: false,
    uid: "1.2.840.10008.1.2.1",
};
const IMPLICIT_LE: Syntax = Syntax {
    explicit: false,
    big_endian: false,
    uid: "1.2.840.10008.1.2",
};
const EXPLICIT_BE: Syntax = Syntax {
    explicit: true,
    big_endian: true,
    uid: "1.2.840.10008.1.2.2",
};

struct DicomWriter {
    out: Vec<u8>,
    syntax: Syntax,
}

impl DicomWriter {
    fn u16(&mut self, v: u16) {
        let bytes = if self.syntax.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend_from_slice(&bytes);
    }

    fn u32(&mut self, v: u32) {
        let bytes = if self.syntax.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend_from_slice(&bytes);
    }

    fn element(&mut self, group: u16, element: u16, vr: &[u8; 2], value: &[u8]) {
        let mut value = value.to_vec();
        if value.len() % 2 == 1 {
            value.push(if vr == b"UI" || vr == b"OB" { 0 } else { b' ' });
        }
        self.u16(group);
        self.u16(element);
        let len = value.len() as u32;
        if self.syntax.explicit {
            self.out.extend_from_slice(vr);
            if [b"OB", b"OW", b"SQ", b"UN", b"UT", b"UC", b"UR"].contains(&vr) {
                self.out.extend_from_slice(&[0, 0]);
                self.u32(len);
            } else {
                self.u16(len as u16);
            }
        } else {
            self.u32(len);
        }
        self.out.extend_from_slice(&value);
    }
}

fn dicom(syntax: Syntax, preamble: bool) -> Vec<u8> {
    let mut w = DicomWriter {
        out: Vec::new(),
        syntax: EXPLICIT_LE,
    };
    if preamble {
        w.out.extend_from_slice(&[0u8; 128]);
        w.out.extend_from_slice(b"DICM");
        let mut meta = DicomWriter {
            out: Vec::new(),
            syntax: EXPLICIT_LE,
        };
        meta.element(0x0002, 0x0001, b"OB", &[0, 1]);
        meta.element(0x0002, 0x0002, b"UI", b"1.2.840.10008.5.1.4.1.1.2");
        meta.element(0x0002, 0x0003, b"UI", b"1.2.826.0.1.3680043.2.1125.1.1");
        meta.element(0x0002, 0x0010, b"UI", syntax.uid.as_bytes());
        meta.element(0x0002, 0x0012, b"UI", b"1.2.826.0.1.3680043.2.1125.9");
        w.element(
            0x0002,
            0x0000,
            b"UL",
            &(meta.out.len() as u32).to_le_bytes(),
        );
        w.out.extend_from_slice(&meta.out);
    }
    w.syntax = syntax;
    w.element(0x0008, 0x0005, b"CS", b"ISO_IR 100");
    w.element(0x0008, 0x0020, b"DA", b"20240110");
    w.element(0x0008, 0x0060, b"CS", b"CT");
    w.element(0x0008, 0x0080, b"LO", b"GOOD HEALTH HOSPITAL");
    w.element(0x0008, 0x0090, b"PN", b"WELBY^MARCUS");
    w.element(0x0008, 0x1030, b"LO", b"CT HEAD W/O CONTRAST");
    w.element(0x0010, 0x0010, b"PN", b"SMITH^JANE^Q");
    w.element(0x0010, 0x0020, b"LO", b"MRN00442211");
    w.element(0x0010, 0x0030, b"DA", b"19430501");
    w.element(0x0010, 0x0040, b"CS", b"F");
    w.element(0x0010, 0x1000, b"LO", b"ALT-55102\\ALT-55103");
    w.element(0x0010, 0x1040, b"LO", b"236 N MAIN ST^^MIAMI^FL^33413");
    w.element(0x0010, 0x2154, b"SH", b"5555550142");
    w.element(0x0020, 0x000D, b"UI", b"1.2.826.0.1.3680043.2.1125.2.1");
    w.element(0x0028, 0x0010, b"US", &64u16.to_le_bytes());
    // Pixel data holding text that must never be reported: reading stops
    // before it.
    let mut pixels = b"SSN 287-65-4321 DOB 01/02/1950 ".repeat(8);
    pixels.resize(256, 0x7F);
    w.element(0x7FE0, 0x0010, b"OW", &pixels);
    w.out
}

fn truncated_dicom() -> Vec<u8> {
    let mut bytes = dicom(EXPLICIT_LE, true);
    // Cut inside the PatientID value.
    let at = bytes
        .windows(6)
        .position(|w| w == b"MRN004")
        .unwrap_or(bytes.len());
    bytes.truncate(at + 3);
    bytes
}

// ---------------------------------------------------------------- C-CDA

fn ccd() -> String {
    r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="US"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.10.20.22.1.2" extension="2015-08-01"/>
  <id root="2.16.840.1.113883.19.5.99999.1" extension="TT988"/>
  <code code="34133-9" codeSystem="2.16.840.1.113883.6.1" displayName="Summarization of Episode Note"/>
  <title>Continuity of Care Document</title>
  <effectiveTime value="20240111093000-0500"/>
  <recordTarget>
    <patientRole>
      <id root="2.16.840.1.113883.4.1" extension="468-30-2211"/>
      <id root="2.16.840.1.113883.19.5.99999.2" extension="MRN8002001"/>
      <addr use="HP">
        <streetAddressLine>1357 Amber Drive</streetAddressLine>
        <city>Beaverton</city>
        <state>OR</state>
        <postalCode>97006</postalCode>
      </addr>
      <telecom value="tel:+1(555)555-2003" use="HP"/>
      <patient>
        <name use="L">
          <given>Alice</given>
          <family>Green</family>
        </name>
        <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>
        <birthTime value="19811130"/>
      </patient>
    </patientRole>
  </recordTarget>
  <author>
    <time value="20240111093000-0500"/>
    <assignedAuthor>
      <id root="2.16.840.1.113883.4.6" extension="1987654328"/>
      <assignedPerson><name><given>Marcus</given><family>Welby</family></name></assignedPerson>
    </assignedAuthor>
  </author>
  <component>
    <structuredBody>
      <component>
        <section>
          <title>Problems</title>
          <text>Asthma, mild intermittent.</text>
        </section>
      </component>
    </structuredBody>
  </component>
</ClinicalDocument>
"#
    .to_string()
}

// ---------------------------------------------------------------- tables

fn patients_csv() -> String {
    "id,ssn,dob,mrn,npi,patient name,phone,email,appointment_date\n\
     1,412-56-7890,1961-06-15,MRN4455667,1234567893,Adam Everyman,(555) 555-2004,adam@example.com,2024-02-01\n\
     2,523-41-8765,1943-05-01,MRN00442211,1987654328,\"Smith, Jane\",555-555-0142,jsmith@example.org,2024-02-02\n\
     3,,1990-07-04,MRN7001003,,John Doe,,,2024-02-03\n"
        .to_string()
}

fn labs_tsv() -> String {
    "Patient ID\tLast Name\tFirst Name\tBirth Date\tTest\tResult\n\
     7001001\tRoe\tMary\t02/14/1972\tWBC\t7.2\n\
     7001002\tPoe\tEdgar\t01/19/1955\tHGB\t13.1\n"
        .to_string()
}

/// A table without an extension: recognised by its header.
fn roster() -> String {
    "member_name;date_of_birth;plan\n\
     Charles Brown;1970-08-15;GOLD\n\
     Alice Green;1981-11-30;SILVER\n"
        .to_string()
}
