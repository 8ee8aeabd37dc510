//! Any text as a URI: never panics; an accepted URI writes back to text that parses again
//! to an equal URI.
#![no_main]

use callcomp_sip::uri::Uri;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(uri) = Uri::parse(text) {
        let written = uri.to_string();
        let again = Uri::parse(&written).expect("a written URI must parse");
        assert_eq!(again.to_string(), written);
    }
});
