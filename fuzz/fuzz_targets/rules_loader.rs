#![no_main]
//! Fuzzes the rule-file loader: arbitrary bytes as a TOML rule file are
//! parsed, checked against the pattern limits and compiled. Bad input must
//! be an error, never a panic, a hang or unbounded memory.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Rule files are read as UTF-8 text; other bytes are a read error.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(specs) = phiscan::rules::parse_rule_file("fuzz.toml", text) else {
        return;
    };
    for spec in &specs {
        if phiscan::rules::check_pattern(spec).is_err() {
            return;
        }
    }
    if let Ok(matcher) = phiscan::matcher::Matcher::new(specs) {
        // The rules' own examples run through the compiled pack.
        let _ = phiscan::rules::check::check(&matcher);
    }
});
