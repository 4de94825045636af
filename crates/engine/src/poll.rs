//! Incremental change reads. Each page is stored (changed records become dirty) in
//! the same transaction as the cursor, so a crash never skips a change: the cursor
//! is the last item seen, never the wall clock.
//!
//! - GHL: `POST /contacts/search` sorted by `dateUpdated` asc; cursor = the last
//!   contact's `searchAfter`.
//! - Sellsy: `POST /contacts/search` with `filters.updated.start` = the largest
//!   `updated` seen by the previous scan (inclusive: same-second changes are read
//!   again and dropped as unchanged); the seek token is kept per page so a crash
//!   resumes the scan where it was.

use futures::{StreamExt, TryStreamExt};
use hlbridge_ghl::Contact;
use serde_json::{json, Value};

use crate::canonical::{self, Fields};
use crate::engine::{Engine, ProgressFn};
use crate::error::Result;
use crate::report::{CycleReport, Progress};
use crate::store::{Kind, Record, Side};

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

impl Engine {
    pub(crate) fn ghl_record(&self, c: &Contact) -> Record {
        let fields = crate::mapping::ghl::read(c, &self.mapping);
        record(
            Side::Ghl,
            &c.id,
            &fields,
            Value::Null,
            c.date_updated.clone(),
        )
    }

    /// Read the company and build the record of a Sellsy contact JSON.
    pub(crate) async fn sellsy_record(&self, c: &Value) -> Result<Record> {
        let id = c
            .get("id")
            .and_then(Value::as_i64)
            .unwrap_or_default()
            .to_string();
        let company = if self.mapping.field("company").is_some() {
            self.sellsy.company_of(&id)
        } else {
            None
        };
        let fields = crate::mapping::sellsy::read(c, company.as_deref(), &self.mapping);
        let meta = json!({
            "mobile": c.get("mobile_number").cloned().unwrap_or(Value::Null),
            "phone": c.get("phone_number").cloned().unwrap_or(Value::Null),
            "address": c.pointer("/_embed/invoicing_address").cloned().unwrap_or(Value::Null),
            "archived": c.get("is_archived").cloned().unwrap_or(Value::Null),
        });
        Ok(record(
            Side::Sellsy,
            &id,
            &fields,
            meta,
            c.get("updated").and_then(Value::as_str).map(str::to_string),
        ))
    }

    pub(crate) async fn poll_ghl(
        &self,
        report: &mut CycleReport,
        progress: ProgressFn<'_>,
    ) -> Result<()> {
        let mut cursor = self.store.cursor(GHL_CURSOR)?.filter(|c| !c.is_null());
        loop {
            let page = self.ghl.changes_page(cursor.as_ref(), &[]).await?;
            let records: Vec<Record> = page.contacts.iter().map(|c| self.ghl_record(c)).collect();
            report.ghl.read += records.len() as u64;
            let next = page.last.clone().or(cursor.clone());
            let cursor_value = next.clone().unwrap_or(Value::Null);
            self.store
                .put_seen(&records, Some((GHL_CURSOR, &cursor_value)))?;
            progress(Progress::Read {
                side: "GHL",
                count: report.ghl.read,
            });
            if !page.full || page.last.is_none() {
                return Ok(());
            }
            cursor = next;
        }
    }

    pub(crate) async fn poll_sellsy(
        &self,
        report: &mut CycleReport,
        progress: ProgressFn<'_>,
    ) -> Result<()> {
        if self.mapping.field("company").is_some() {
            self.sellsy.refresh_companies().await?;
        }
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
            let records: Vec<Record> = futures::stream::iter(page.contacts)
                .map(|c: Value| async move { self.sellsy_record(&c).await })
                .buffered(self.cfg.sync.concurrency.max(1))
                .try_collect()
                .await?;
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
            self.store
                .put_seen(&records, Some((SELLSY_CURSOR, &cursor)))?;
            progress(Progress::Read {
                side: "Sellsy",
                count: report.sellsy.read,
            });
            match page.next {
                Some(next) => offset = Some(next),
                None => return Ok(()),
            }
        }
    }
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
