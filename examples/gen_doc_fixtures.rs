//! Writes the container and document fixtures into `fixtures/formats/docs/`
//! with real encoders (zip, flate2, tar crates) and hand-written but valid
//! OOXML, OpenDocument, PDF, RTF and HTML. All personal data is synthetic:
//! SSN 219-45-6780 (area 219, group 45, serial 6780: issuable, not a known
//! sample), NPI 1234567893 (Luhn-valid with the 80840 prefix), DOB
//! 03/14/1962.
//!
//! Run: `cargo run --example gen_doc_fixtures` (deterministic output).

use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;
use std::io::{Cursor, Write};
use std::path::Path;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const SSN: &str = "219-45-6780";
const NPI: &str = "1234567893";
const DOB: &str = "03/14/1962";

fn options(method: CompressionMethod) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(zip::DateTime::default())
}

/// A zip of (name, bytes), deflated.
fn zip_of(members: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in members {
        writer.start_file(*name, options(CompressionMethod::Deflated))?;
        writer.write_all(data)?;
    }
    Ok(writer.finish()?.into_inner())
}

fn gzip_of(data: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

fn tar_of(members: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, *data)?;
    }
    Ok(builder.into_inner()?)
}

fn zlib(data: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/></Types>"#;

fn docx() -> Result<Vec<u8>> {
    let w = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main""#;
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document {w}><w:body>
<w:p><w:r><w:t>Intake form</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">Patient SSN: </w:t></w:r><w:r><w:t>{SSN}</w:t></w:r></w:p>
<w:tbl><w:tr><w:tc><w:p><w:r><w:t>DOB:</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>{DOB}</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
<w:p><w:r><w:t>Notes &amp; plans</w:t></w:r></w:p>
</w:body></w:document>"#
    );
    let header = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:hdr {w}><w:p><w:r><w:t>Provider NPI: {NPI}</w:t></w:r></w:p></w:hdr>"#
    );
    zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("word/document.xml", document.as_bytes()),
        ("word/header1.xml", header.as_bytes()),
    ])
}

fn xlsx() -> Result<Vec<u8>> {
    let workbook = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Patients" sheetId="1" r:id="rId1"/><sheet name="Providers" sheetId="2" r:id="rId2"/></sheets></workbook>"#;
    let rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="/xl/worksheets/sheet2.xml"/></Relationships>"#;
    let shared = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="3" uniqueCount="3"><si><t>Name</t></si><si><t>Notes</t></si><si><r><t xml:space="preserve">SSN: </t></r><r><t>{SSN}</t></r></si></sst>"#
    );
    let sheet1 = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>
<row r="7"><c r="A7"><v>42</v></c><c r="C7" t="s"><v>2</v></c><c r="D7" t="inlineStr"><is><t>DOB: {DOB}</t></is></c></row>
</sheetData></worksheet>"#
    );
    let sheet2 = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="2"><c r="B2" t="inlineStr"><is><t>NPI {NPI}</t></is></c></row>
</sheetData></worksheet>"#
    );
    zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("xl/workbook.xml", workbook.as_bytes()),
        ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
        ("xl/sharedStrings.xml", shared.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet1.as_bytes()),
        ("xl/worksheets/sheet2.xml", sheet2.as_bytes()),
    ])
}

fn pptx() -> Result<Vec<u8>> {
    let presentation = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><p:sldIdLst><p:sldId id="256" r:id="rId7"/><p:sldId id="257" r:id="rId8"/></p:sldIdLst></p:presentation>"#;
    // Slide order comes from sldIdLst, not from the part names.
    let rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide2.xml"/><Relationship Id="rId8" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide1.xml"/></Relationships>"#;
    let slide = |text: &str| {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>Case review</a:t></a:r></a:p><a:p><a:r><a:t>{text}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#
        )
    };
    let first = slide("Agenda");
    let second = slide(&format!("Patient SSN: {SSN}"));
    zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("ppt/presentation.xml", presentation.as_bytes()),
        ("ppt/_rels/presentation.xml.rels", rels.as_bytes()),
        ("ppt/slides/slide2.xml", first.as_bytes()),
        ("ppt/slides/slide1.xml", second.as_bytes()),
    ])
}

fn odt() -> Result<Vec<u8>> {
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text><text:h>Referral</text:h><text:p>Patient DOB:<text:s/>{DOB}</text:p></office:text></office:body></office:document-content>"#
    );
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    // OpenDocument wants `mimetype` first and stored.
    writer.start_file("mimetype", options(CompressionMethod::Stored))?;
    writer.write_all(b"application/vnd.oasis.opendocument.text")?;
    writer.start_file("content.xml", options(CompressionMethod::Deflated))?;
    writer.write_all(content.as_bytes())?;
    Ok(writer.finish()?.into_inner())
}

/// A PDF from object bodies (1-based numbering), with a correct xref
/// unless `break_xref`.
fn pdf_of(objects: &[Vec<u8>], break_xref: bool) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref_at = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        // A broken table points every object at a wrong place.
        let offset = if break_xref { offset + 7 } else { offset };
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    let startxref = if break_xref { xref_at + 1000 } else { xref_at };
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{startxref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn stream_object(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut body = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(b"\nendstream");
    body
}

fn text_pdf(break_xref: bool) -> Result<Vec<u8>> {
    let page1 =
        b"BT /F1 12 Tf 72 720 Td (Discharge summary) Tj 0 -16 Td (Name: O\\(Brien\\)) Tj ET";
    // Page 2: a TJ array with kerning, a hex string, and `'`.
    let page2 = format!(
        "BT /F1 12 Tf 72 720 Td [(SSN: 219-45-)-20(6780)] TJ 0 -16 Td <4E50493A20{}> Tj (DOB: {DOB}) ' ET",
        NPI.bytes().map(|b| format!("{b:02X}")).collect::<String>()
    );
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /Resources << /Font << /F1 7 0 R >> >> >>"
            .to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R >>".to_vec(),
        stream_object("/Filter /FlateDecode", &zlib(page1)?),
        stream_object("/Filter /FlateDecode", &zlib(page2.as_bytes())?),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    Ok(pdf_of(&objects, break_xref))
}

fn image_pdf() -> Result<Vec<u8>> {
    let pixels = vec![0x80u8; 16 * 16];
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>".to_vec(),
        stream_object("/Filter /FlateDecode", &zlib(b"q 612 0 0 792 0 0 cm /Im1 Do Q")?),
        stream_object(
            "/Type /XObject /Subtype /Image /Width 16 /Height 16 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode",
            &zlib(&pixels)?,
        ),
    ];
    Ok(pdf_of(&objects, false))
}

/// A zip whose first member has the "encrypted" flag (bit 0) set in both
/// its local and central headers, the way ZipCrypto marks members.
fn encrypted_zip() -> Result<Vec<u8>> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    writer.start_file("secret.txt", options(CompressionMethod::Stored))?;
    writer.write_all(b"\x8a\x11\x42 ciphertext stand-in \x90\x07")?;
    writer.start_file("readme.txt", options(CompressionMethod::Deflated))?;
    writer.write_all(format!("Contact SSN: {SSN}\n").as_bytes())?;
    let mut data = writer.finish()?.into_inner();
    // Local header of the first member is at offset 0: flags at +6.
    data[6] |= 1;
    let central = data
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .ok_or("no central directory")?;
    data[central + 8] |= 1;
    Ok(data)
}

/// Eight members of 8 MiB of zeros each: ~1000:1, far past the ratio limit.
fn bomb_zip() -> Result<Vec<u8>> {
    let zeros = vec![0u8; 8 << 20];
    let names: Vec<String> = (1..=8).map(|i| format!("zeros{i}.txt")).collect();
    let members: Vec<(&str, &[u8])> = names
        .iter()
        .map(|n| (n.as_str(), zeros.as_slice()))
        .collect();
    zip_of(&members)
}

/// Six zips inside one another; the text at the bottom is deeper than the
/// default depth limit (4).
fn deep_zip() -> Result<Vec<u8>> {
    let mut data = zip_of(&[("secret.txt", format!("SSN: {SSN}\n").as_bytes())])?;
    for level in (1..=5).rev() {
        let name = format!("level{level}.zip");
        data = zip_of(&[(name.as_str(), &data)])?;
    }
    Ok(data)
}

fn main() -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/formats/docs");
    std::fs::create_dir_all(&dir)?;
    let write = |name: &str, data: &[u8]| std::fs::write(dir.join(name), data);

    let note = format!("Visit note\nPatient SSN: {SSN}\nDOB: {DOB}\n");
    write("visit_note.txt.gz", &gzip_of(note.as_bytes())?)?;

    let claims = zip_of(&[(
        "claims/provider.txt",
        format!("Billing NPI: {NPI}\n").as_bytes(),
    )])?;
    let tar = tar_of(&[
        ("notes/visit.txt", note.as_bytes()),
        ("exports/batch.zip", &claims),
    ])?;
    write("records.tgz", &gzip_of(&tar)?)?;

    let backup = zip_of(&[
        (
            "patients/intake.txt",
            format!("Intake\nSSN: {SSN}\n").as_bytes(),
        ),
        ("readme.txt", b"Nothing personal here.\n"),
    ])?;
    write("backup.zip", &backup)?;

    // Cut before the central directory: the first member is whole.
    let two = zip_of(&[
        ("first.txt", format!("SSN: {SSN}\n").as_bytes()),
        ("second.txt", &vec![b'x'; 4000]),
    ])?;
    let cut = two
        .windows(4)
        .rposition(|w| w == b"PK\x03\x04")
        .ok_or("no second member")?;
    write("truncated.zip", &two[..cut + 20])?;

    write("bomb.zip", &bomb_zip()?)?;
    write("deep.zip", &deep_zip()?)?;
    write("encrypted.zip", &encrypted_zip()?)?;
    write("intake.docx", &docx()?)?;
    write("roster.xlsx", &xlsx()?)?;
    write("case.pptx", &pptx()?)?;
    write("referral.odt", &odt()?)?;
    write("discharge.pdf", &text_pdf(false)?)?;
    write("broken_xref.pdf", &text_pdf(true)?)?;
    write("scanned.pdf", &image_pdf()?)?;

    let rtf = concat!(
        r"{\rtf1\ansi\deff0{\fonttbl{\f0 Times New Roman;}}{\colortbl;\red0\green0\blue0;}",
        "\n",
        r"{\*\generator Hand;}\pard Letter to patient\par",
        "\n",
        r"DOB: 03/14/\'31962\par",
        "\n",
        r"SSN:\~219\u45?45-6780\par",
        "\n}"
    );
    write("letter.rtf", rtf.as_bytes())?;

    let html = format!(
        "<!DOCTYPE html>\n<html><head><title>Chart</title><style>p {{ color: red }}</style></head>\n\
         <body>\n<p>Patient SSN:&nbsp;<b>{SSN}</b></p>\n<p>DOB&#58; {DOB}</p>\n\
         <input name=\"npi\" value=\"NPI {NPI}\">\n</body></html>\n"
    );
    write("chart.html", html.as_bytes())?;

    // A gzip cut in the middle of its deflate data.
    let long: String = (0..200)
        .map(|i| format!("line {i}: nothing to see\n"))
        .collect();
    let gz = gzip_of(long.as_bytes())?;
    write("truncated.log.gz", &gz[..gz.len() / 2])?;
    Ok(())
}
