//! Model-based test: random sequences of operations on a connection, its clones and its
//! listener (reads and writes of random sizes, every shutdown, deadlines past, future and
//! cleared, the clock advanced, clones dropped, futures polled once and dropped while pending,
//! dials queued, dropped, accepted and refused by a closing listener), polled by hand and
//! checked after every step against a model of the contract (`tests/model/mod.rs`).
//!
//! Each sequence is seeded. A failure names its seed; `CHANSTREAM_MODEL_SEED=N` replays that one
//! sequence, and `CHANSTREAM_MODEL_SEQUENCES=N` runs more (the default is 10 000).

mod model;

use model::{run, Seeded};

const STEPS: usize = 200;

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

fn check(seed: u64) {
    if let Err(msg) = run(&mut Seeded(seed), STEPS) {
        panic!(
            "sequence {seed} departs from the model (replay: CHANSTREAM_MODEL_SEED={seed}): {msg}"
        );
    }
}

#[test]
fn random_operation_sequences_match_the_model_of_the_contract() {
    if let Some(seed) = env("CHANSTREAM_MODEL_SEED") {
        return check(seed);
    }
    let sequences = env("CHANSTREAM_MODEL_SEQUENCES").unwrap_or(10_000);
    for seed in 0..sequences {
        check(seed);
    }
}

#[test]
fn the_same_seed_gives_the_same_sequence() {
    let trace = |seed| {
        let mut r = model::Run::new();
        let mut c = Seeded(seed);
        for _ in 0..STEPS {
            r.step(&mut c);
        }
        r.trace
    };
    assert_eq!(trace(7), trace(7));
    assert_ne!(trace(7), trace(8));
}

/// Inputs the `model` fuzz target found failing, kept in `fuzz/regressions/model/` (one file
/// each), replayed as the fuzzer replays them.
#[test]
fn fuzzer_found_sequences_match_the_model() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/model");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    inputs.sort();
    // And a few fixed byte strings, so the byte-driven path runs even with no file kept.
    let fixed: Vec<Vec<u8>> = vec![vec![], vec![0; 64], (0..=255).collect(), vec![0xff; 512]];
    let kept = inputs
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()));
    let fixed = fixed
        .into_iter()
        .enumerate()
        .map(|(i, d)| (format!("fixed input {i}"), d));
    for (name, data) in fixed.chain(kept) {
        if let Err(msg) = model::run(&mut model::Bytes(&data), 400) {
            panic!("{name} departs from the model: {msg}");
        }
    }
}
