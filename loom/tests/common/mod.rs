//! What every model shares.

/// Runs `body` under every interleaving loom explores, up to `LOOM_MAX_PREEMPTIONS`
/// preemptions (2 unless set).
pub fn model(body: impl Fn() + Sync + Send + 'static) {
    model_within(2, body);
}

/// [`model`] for a model too large for the usual bound: `preemptions` unless
/// `LOOM_MAX_PREEMPTIONS` is set.
pub fn model_within(preemptions: usize, body: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    builder.check(body);
}
