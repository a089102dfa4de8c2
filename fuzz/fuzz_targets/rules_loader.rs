#![no_main]
//! Fuzzes the rule-file loader: arbitrary bytes as a TOML rule file are
//! parsed, checked against the pattern limits and compiled. Bad input must
//! be an error, never a panic, a hang or unbounded memory.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Rule files are read as UTF-8 text; other bytes are a read error.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Parsed and checked against the pattern limits, as `--rules` loads.
    let Ok(pack) = phiscan::rules::RulePack::parse("fuzz.toml", text) else {
        return;
    };
    if let Ok(matcher) = phiscan::matcher::Matcher::new(&pack) {
        // The rules' own examples run through the compiled pack.
        let _ = phiscan::rules::check::check(&matcher);
    }
});
