//! Operation sequences read from the fuzzer's bytes, checked against the model of the
//! contract that `tests/model_based.rs` runs with seeded sequences.
#![no_main]

#[path = "../../tests/model/mod.rs"]
#[allow(dead_code)]
mod model;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(msg) = model::run(&mut model::Bytes(data), 400) {
        panic!("{msg}");
    }
});
