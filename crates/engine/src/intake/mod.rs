//! Intake: changes in. Every source (polls, bulk listings, webhooks) ends as change
//! records in the store's `records` table (side, kind, id, parent, canonical content,
//! hash, dirty), each page saved in the same transaction as its cursor, so a crash
//! never skips a change: the cursor is the last item seen, never the wall clock.
//! A record whose content hash did not change is not queued: our own writes coming
//! back, and items re-read by a lookback window, do nothing downstream.
//!
//! - GHL contacts: `POST /contacts/search` sorted by `dateUpdated` from the cursor;
//!   each new scan starts `sync.lookback_minutes` before the last item seen, because
//!   GHL's search index is eventually consistent.
//! - Sellsy contacts: `POST /contacts/search` with `filters.updated` from the largest
//!   `updated` of the previous scan (inclusive), the seek token kept per page.
//! - Tasks and notes: [`items`]. Deletions: [`deletions`].
//! - The contacts as read (raw items) also go to the [`feed`], before the cursor moves
//!   on, so flows watching the same read use this poll instead of sending their own.
//!
//! Intake never writes to an API and knows nothing of the sync's decisions: flows can
//! read the same change records.

pub mod deletions;
pub mod feed;
pub mod items;

use futures::StreamExt;
use serde_json::{json, Value};

use crate::canonical::{self, Fields};
use crate::context::Ctx;
use crate::engine::ProgressFn;
use crate::error::Result;
use crate::report::{CycleReport, Progress};
use crate::store::{Kind, Record, Side};
use feed::{FeedSource, IntakeFeed};

pub const GHL_CURSOR: &str = "ghl.contacts";
pub const SELLSY_CURSOR: &str = "sellsy.contacts";

/// A record of canonical `fields` plus side-specific `meta` (not hashed).
pub fn record(
    side: Side,
    id: &str,
    fields: &Fields,
    meta: Value,
    updated: Option<String>,
) -> Record {
    let f = canonical::to_value(fields);
    Record {
        side,
        kind: Kind::Contact,
        id: id.to_string(),
        parent: None,
        hash: canonical::hash(&f),
        data: json!({ "f": f, "m": meta }),
        updated,
        dirty: false,
    }
}

pub fn fields_of(rec: &Record) -> Fields {
    canonical::from_value(rec.data.get("f").unwrap_or(&Value::Null))
}

pub fn meta_of(rec: &Record) -> &Value {
    rec.data.get("m").unwrap_or(&Value::Null)
}

/// Whether RFC 3339 time `a` is after `b` (or `b` is unknown).
pub fn later(a: &str, b: Option<&str>) -> bool {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (parse(a), b.and_then(parse)) {
        (Some(a), Some(b)) => a > b,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The intake stage.
pub(crate) struct Intake<'a> {
    pub cx: &'a Ctx,
}

impl std::ops::Deref for Intake<'_> {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        self.cx
    }
}

impl Ctx {
    pub fn intake(&self) -> Intake<'_> {
        Intake { cx: self }
    }
}

/// Rewind a `searchAfter` cursor (`[dateUpdated ms, id]`) by `ms`.
fn rewind(after: &Value, ms: i64) -> Option<Value> {
    let t = after.get(0)?.as_i64()?;
    Some(json!([t.saturating_sub(ms), ""]))
}

impl Intake<'_> {
    /// The pair's intake feed when a reader wants `source` (`None` otherwise: nothing
    /// is published), and whether this scan of `source` fills it from the start (the
    /// feed is not complete and no fill is under way: the source's cursor is reset so
    /// the scan reads every item once).
    fn feed(&self, source: FeedSource, cursor: &str) -> Result<Option<(IntakeFeed, bool)>> {
        let Some(feed) = IntakeFeed::for_url(&self.cfg.database_url()) else {
            return Ok(None);
        };
        if !feed.wanted(source)? {
            feed.abandon(source)?;
            return Ok(None);
        }
        if feed.complete(source)? {
            return Ok(Some((feed, false)));
        }
        if !feed.filling(source)? {
            self.store.set_cursor(cursor, &Value::Null)?;
            feed.start_filling(source)?;
        }
        Ok(Some((feed, true)))
    }

    pub async fn ghl_contacts(
        &self,
        report: &mut CycleReport,
        progress: ProgressFn<'_>,
    ) -> Result<()> {
        let feed = self.feed(FeedSource::GhlContacts, GHL_CURSOR)?;
        let state = self.store.cursor(GHL_CURSOR)?.unwrap_or(Value::Null);
        // {"after": searchAfter, "done": bool}; a bare array is a scan in progress.
        let (saved, done) = match &state {
            Value::Array(_) => (Some(state.clone()), false),
            Value::Object(o) => (
                o.get("after").filter(|a| !a.is_null()).cloned(),
                o.get("done").and_then(Value::as_bool).unwrap_or(true),
            ),
            _ => (None, true),
        };
        let lookback_ms = (self.cfg.sync.lookback_minutes.max(0.0) * 60_000.0) as i64;
        let mut cursor = match (&saved, done) {
            (Some(a), true) => rewind(a, lookback_ms),
            (a, _) => a.clone(),
        };
        let mut last_seen = saved.clone();
        loop {
            let page = self.ghl.changes_page(cursor.as_ref(), &[]).await?;
            let records: Vec<Record> = page.contacts.iter().map(|c| self.ghl_record(c)).collect();
            report.ghl.read += records.len() as u64;
            if page.last.is_some() {
                last_seen = page.last.clone();
            }
            let more = page.full && page.last.is_some();
            let value = json!({ "after": last_seen, "done": !more });
            let mid = json!({ "after": page.last.clone().or(cursor.clone()), "done": false });
            let saved_value = if more { mid } else { value };
            if let Some((f, _)) = &feed {
                let items: Vec<_> = page.contacts.iter().filter_map(feed::ghl_item).collect();
                f.publish(FeedSource::GhlContacts, &items)?;
            }
            self.store
                .put_seen(&records, Some((GHL_CURSOR, &saved_value)))?;
            progress(Progress::Read {
                side: "GHL",
                count: report.ghl.read,
            });
            if !more {
                if let Some((f, true)) = &feed {
                    f.mark_complete(FeedSource::GhlContacts)?;
                }
                return Ok(());
            }
            cursor = page.last;
        }
    }

    /// Sellsy contacts changed since the cursor; the company directory first (all of
    /// it on listing cycles, `full`; else what changed).
    pub async fn sellsy_contacts(
        &self,
        report: &mut CycleReport,
        progress: ProgressFn<'_>,
        full: bool,
    ) -> Result<()> {
        if self.mapping.field("company").is_some() {
            self.sellsy.refresh_companies(full).await?;
        }
        let feed = self.feed(FeedSource::SellsyContacts, SELLSY_CURSOR)?;
        let state = self.store.cursor(SELLSY_CURSOR)?.unwrap_or(Value::Null);
        let since = state
            .get("since")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut offset = state
            .get("offset")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut max = state.get("max").and_then(Value::as_str).map(str::to_string);
        loop {
            let page = self
                .sellsy
                .changes_page(since.as_deref(), offset.as_deref(), &self.sellsy_embeds)
                .await?;
            let records: Vec<Record> = page
                .contacts
                .iter()
                .map(|c| self.sellsy_record(c))
                .collect::<Result<_>>()?;
            for rec in &records {
                if let Some(u) = &rec.updated {
                    if later(u, max.as_deref()) {
                        max = Some(u.clone());
                    }
                }
            }
            report.sellsy.read += records.len() as u64;
            let cursor = match &page.next {
                Some(next) => json!({ "since": since, "offset": next, "max": max }),
                None => {
                    json!({ "since": max.clone().or(since.clone()), "offset": null, "max": null })
                }
            };
            if let Some((f, _)) = &feed {
                let items: Vec<_> = page.contacts.iter().filter_map(feed::sellsy_item).collect();
                f.publish(FeedSource::SellsyContacts, &items)?;
            }
            self.store
                .put_seen(&records, Some((SELLSY_CURSOR, &cursor)))?;
            progress(Progress::Read {
                side: "Sellsy",
                count: report.sellsy.read,
            });
            match page.next {
                Some(next) => offset = Some(next),
                None => {
                    if let Some((f, true)) = &feed {
                        f.mark_complete(FeedSource::SellsyContacts)?;
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Re-read one contact (a webhook hint, or a record whose cache is missing).
    pub async fn contact(&self, side: Side, id: &str) -> Result<Option<Record>> {
        let fetched = match side {
            Side::Ghl => self.ghl.get(id).await?.map(|c| self.ghl_record(&c)),
            Side::Sellsy => match self.sellsy.get(id, &self.sellsy_embeds).await? {
                Some(c) => Some(self.sellsy_record(&c)?),
                None => None,
            },
        };
        if let Some(r) = &fetched {
            self.store.put_seen(std::slice::from_ref(r), None)?;
        }
        Ok(fetched)
    }
}

/// Run `f` over `items` with bounded concurrency, collecting results in order.
pub(crate) async fn bounded<T, F, Fut, R>(items: Vec<T>, n: usize, f: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = R>,
{
    futures::stream::iter(items)
        .map(f)
        .buffered(n.max(1))
        .collect()
        .await
}
