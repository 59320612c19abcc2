//! The address parser never panics, and what it accepts prints back to an address that
//! parses to the same thing.
#![no_main]

use chanstream::net::Addr;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(addr) = text.parse::<Addr>() {
        let printed = addr.to_string();
        let again: Addr = printed.parse().unwrap_or_else(|e| {
            panic!("{text:?} parsed, but its display {printed:?} does not: {e}")
        });
        assert_eq!(again, addr, "{text:?} -> {printed:?}");
    }
});
