//! Finding again what a create may have made when its answer was lost (applied by the
//! server, connection dropped), before it is sent again:
//!
//! - on GHL, by the `source` marker every contact the sync creates carries
//!   (`hlbridge sellsy:<id>`), then e-mail, then phone; GHL's search index lags
//!   writes, so while `sync.lookback_minutes` has not passed since the attempt, a
//!   miss means "wait", not "create again";
//! - on Sellsy (whose search does not lag), by e-mail, mobile, phone, and for a
//!   contact with none of them by last name among the contacts created since the
//!   intent, with the same first name;
//! - tasks and notes: the target contact's items, by content.

use serde_json::{json, Value};

use super::Outbox;
use crate::context::ghl_marker;
use crate::error::Result;
use crate::intake::fields_of;
use crate::store::{Kind, OutboxEntry, Record, Side};

impl Outbox<'_> {
    /// The contact an earlier attempt to create `rec` on `target` made, if any.
    pub async fn find_contact(
        &self,
        target: Side,
        rec: &Record,
        entry: &OutboxEntry,
    ) -> Result<Option<Record>> {
        let fields = fields_of(rec);
        let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_string);
        let email = text("email");
        let phone = text("phone");
        match target {
            Side::Ghl => {
                let marker = Some(ghl_marker(&rec.id));
                for (key, v) in [("source", marker), ("email", email), ("phone", phone)] {
                    let Some(v) = v else { continue };
                    for c in self.ghl.find_by(key, &v).await? {
                        if self.free(Side::Ghl, &c.id)? {
                            return Ok(Some(self.ghl_record(&c)));
                        }
                    }
                }
            }
            Side::Sellsy => {
                let keys = [
                    ("email", email.clone()),
                    ("mobile_number", phone.clone()),
                    ("phone_number", phone.clone()),
                ];
                for (key, v) in keys {
                    let Some(v) = v else { continue };
                    for c in self.sellsy.find_by(key, &v, &self.sellsy_embeds).await? {
                        if let Some(r) = self.free_sellsy(&c)? {
                            return Ok(Some(r));
                        }
                    }
                }
                if email.is_none() && phone.is_none() {
                    // No e-mail: the placeholder Sellsy required was "—".
                    let last = text("last_name").unwrap_or_else(|| "—".to_string());
                    let since = chrono::DateTime::parse_from_rfc3339(&entry.created)
                        .map(|t| (t - chrono::Duration::minutes(1)).to_rfc3339())
                        .unwrap_or_else(|_| entry.created.clone());
                    let found = self
                        .sellsy
                        .search(
                            json!({ "last_name": last, "created": { "start": since } }),
                            &self.sellsy_embeds,
                        )
                        .await?;
                    for c in found {
                        let same_first = c.get("first_name").and_then(Value::as_str)
                            == fields.get("first_name").and_then(Value::as_str);
                        if !same_first {
                            continue;
                        }
                        if let Some(r) = self.free_sellsy(&c)? {
                            return Ok(Some(r));
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    fn free(&self, side: Side, id: &str) -> Result<bool> {
        Ok(self.store.link_by(Kind::Contact, side, id)?.is_none())
    }

    fn free_sellsy(&self, c: &Value) -> Result<Option<Record>> {
        let id = c
            .get("id")
            .and_then(Value::as_i64)
            .unwrap_or_default()
            .to_string();
        if self.free(Side::Sellsy, &id)? {
            return Ok(Some(self.sellsy_record(c)?));
        }
        Ok(None)
    }
}
