//! The engine's futures are `Send`: `hlbridge up` (or any caller) can `tokio::spawn`
//! a continuous sync next to other work. This file fails to compile otherwise.

fn assert_send<T: Send>(_: &T) {}
#[allow(dead_code)]
async fn check(engine: std::sync::Arc<hlbridge_engine::Engine>) {
    let progress = |_p: hlbridge_engine::Progress| {};
    let f = async move { engine.run_continuous(&progress, async {}).await };
    assert_send(&f);
}
#[test]
fn engine_futures_are_send() {
    // The check is the compilation of `check` above.
}
