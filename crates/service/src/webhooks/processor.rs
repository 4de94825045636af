//! The task that works through the queue: woken by the notifier (or when a retry is
//! due), it claims queued events in order, hands each to the [`EventHandler`] with
//! bounded concurrency and records the result. On start it requeues events a stopped
//! process left in flight; on shutdown it lets in-flight events finish.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::store::{self, StoredEvent};
use crate::AppState;

/// What a handler did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Acted on (status `done`).
    Done,
    /// Nothing to do for it, e.g. no pair for its location (status `ignored`).
    Ignored,
}

/// Processes stored webhook events. An `Err` is retried with backoff, then the event
/// is marked `failed` with the message.
pub trait EventHandler: Send + Sync + 'static {
    fn handle<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Result<Outcome, String>>;
}

/// How the processor runs.
#[derive(Debug, Clone)]
pub struct ProcessorOptions {
    /// Events handled at the same time.
    pub concurrency: usize,
    /// Attempts before an event is marked `failed`.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled on each further one.
    pub retry_base: Duration,
}

impl Default for ProcessorOptions {
    fn default() -> Self {
        ProcessorOptions {
            concurrency: 4,
            max_attempts: 5,
            retry_base: Duration::from_secs(2),
        }
    }
}

/// The running processor.
pub struct ProcessorHandle {
    stop: watch::Sender<bool>,
    join: JoinHandle<()>,
}

impl ProcessorHandle {
    /// Stop claiming events, wait for the in-flight ones, and return.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.join.await {
            tracing::error!(error = %e, "webhook processor task failed");
        }
    }
}

/// Start the processor on `state`'s database, notifier and metrics.
pub fn spawn_processor(
    state: &AppState,
    handler: Arc<dyn EventHandler>,
    options: ProcessorOptions,
) -> ProcessorHandle {
    let (stop, stop_rx) = watch::channel(false);
    let join = tokio::spawn(run(state.clone(), handler, options, stop_rx));
    ProcessorHandle { stop, join }
}

async fn run(
    state: AppState,
    handler: Arc<dyn EventHandler>,
    options: ProcessorOptions,
    mut stop: watch::Receiver<bool>,
) {
    let concurrency = options.concurrency.max(1);
    match state.db.call(|c| store::requeue_interrupted(c)).await {
        Ok(n) if n > 0 => tracing::info!(events = n, "requeued webhook events left in flight"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "cannot requeue interrupted webhook events"),
    }
    let mut inflight: JoinSet<()> = JoinSet::new();
    loop {
        if *stop.borrow() {
            break;
        }
        let free = concurrency - inflight.len();
        let mut claimed = 0;
        if free > 0 {
            match state.db.call(move |c| store::claim(c, free)).await {
                Ok(events) => {
                    claimed = events.len();
                    for ev in events {
                        inflight.spawn(process(
                            state.clone(),
                            handler.clone(),
                            options.clone(),
                            ev,
                        ));
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot claim webhook events"),
            }
        }
        update_depth(&state).await;
        if claimed > 0 && claimed == free {
            continue;
        }
        let wait = if inflight.len() < concurrency {
            match state.db.call(|c| store::next_due_in_ms(c)).await {
                Ok(Some(ms)) => Duration::from_millis(ms.clamp(10, 60_000) as u64),
                _ => Duration::from_secs(60),
            }
        } else {
            Duration::from_secs(60)
        };
        tokio::select! {
            _ = stop.changed() => {}
            _ = state.events.notified() => {}
            Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    while inflight.join_next().await.is_some() {}
    update_depth(&state).await;
}

async fn update_depth(state: &AppState) {
    if let Ok(depth) = state.db.call(|c| store::depth(c)).await {
        state.metrics.set_queue_depth(depth);
    }
}

async fn process(
    state: AppState,
    handler: Arc<dyn EventHandler>,
    options: ProcessorOptions,
    ev: StoredEvent,
) {
    let result = AssertUnwindSafe(handler.handle(&ev))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err("the event handler panicked".to_string()));
    let app = ev.app.clone();
    let (id, attempts) = (ev.id, ev.attempts);
    let outcome = match &result {
        Ok(Outcome::Done) => "done",
        Ok(Outcome::Ignored) => "ignored",
        Err(_) if attempts >= options.max_attempts => "failed",
        Err(_) => "retry",
    };
    let delay_ms = options
        .retry_base
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(16))
        .as_millis() as i64;
    let saved = state
        .db
        .call(move |c| match result {
            Ok(Outcome::Done) => store::finish(c, id, "done", None),
            Ok(Outcome::Ignored) => store::finish(c, id, "ignored", None),
            Err(e) if outcome == "failed" => store::finish(c, id, "failed", Some(&e)),
            Err(e) => store::retry_later(c, id, &e, delay_ms),
        })
        .await;
    if let Err(e) = saved {
        tracing::error!(event = id, error = %e, "cannot record a webhook event's result");
    }
    if outcome == "failed" || outcome == "retry" {
        tracing::warn!(event = id, app = %app, attempts, outcome, "webhook event handler failed");
    }
    state.metrics.record_webhook(&app, outcome);
    // A retry or a freed slot may make more work claimable.
    state.events.notify_one();
}
