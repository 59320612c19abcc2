//! What every model shares.

/// Runs `body` under every interleaving loom explores, up to `LOOM_MAX_PREEMPTIONS`
/// preemptions (2 unless set).
pub fn model(body: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(body);
}
