//! Contact writes: creates (idempotent: a retry first finds what an earlier attempt
//! may have made; GHL's "duplicated contact" answer links to the existing contact),
//! updates of a linked pair, and the Sellsy sub-writes (tags, address, company link,
//! custom fields) under the same intent.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::history::Intent;
use super::Outbox;
use crate::canonical::{self, Fields};
use crate::context::ghl_marker;
use crate::error::{EngineError, Result};
use crate::intake::{fields_of, meta_of, record};
use crate::mapping::ghl::Changes;
use crate::merge::Plan;
use crate::plan::tally::{changes_json, Tally};
use crate::store::{Commit, Kind, Link, NewOutbox, Outcome, Record, Side};

/// How a create ended.
pub(crate) enum Created {
    /// Created now: the record as it stands, the outbox entry, and whether the
    /// Sellsy sub-writes all went through.
    New((Record, i64, bool)),
    /// The record exists already on the target (found again, or named by GHL's
    /// duplicate answer).
    Existing(Record),
    /// Not this time: failed (kept for retry or given up), capped, or waiting for the
    /// target's search to show a create whose answer was lost.
    NotNow,
}

/// GHL's 400 "This location does not allow duplicated contacts": the existing id.
fn duplicate_of(e: &EngineError) -> Option<String> {
    match e {
        EngineError::Api { source, .. } => source
            .body()?
            .pointer("/meta/contactId")
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

impl Outbox<'_> {
    pub async fn create_contact(
        &self,
        rec: &Record,
        wanted: &Changes,
        tally: &Tally,
    ) -> Result<Created> {
        let target = rec.side.other();
        if !self.take_write(tally) {
            return Ok(Created::NotNow);
        }
        let context = self.context(Intent {
            kind: Kind::Contact,
            target,
            target_id: None,
            source_id: &rec.id,
            changes: wanted.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            winner: rec.side.as_str(),
            contact_ghl_id: None,
        })?;
        let entry = self.intend(NewOutbox {
            key: format!(
                "create:{}:{}:{}",
                target.as_str(),
                rec.side.as_str(),
                rec.id
            ),
            target,
            kind: Kind::Contact,
            op: "create".into(),
            target_id: None,
            source_id: rec.id.clone(),
            payload: changes_json(wanted),
            context: Some(context),
        })?;
        if self.tried_before(&entry) {
            if let Some(found) = self.find_contact(target, rec, &entry).await? {
                self.store.finish(entry.id, Outcome::Found)?;
                return Ok(Created::Existing(found));
            }
            if target == Side::Ghl && !self.settled(&entry) {
                // GHL's search may not show it yet: wait rather than risk a double.
                tally
                    .waiting
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(Created::NotNow);
            }
        }
        let created = match target {
            Side::Ghl => {
                let mut input = crate::mapping::ghl::write(wanted, &self.mapping);
                input.source = Some(ghl_marker(&rec.id));
                self.ghl.create(&input).await.map(|c| self.ghl_record(&c))
            }
            Side::Sellsy => self.create_sellsy(&rec.id, wanted).await,
        };
        let mut created = match created {
            Ok(c) => c,
            Err(e) => {
                if let Some(existing) = duplicate_of(&e) {
                    if let Some(c) = self.ghl.get(&existing).await? {
                        let found = self.ghl_record(&c);
                        let free = self
                            .store
                            .link_by(Kind::Contact, Side::Ghl, &found.id)?
                            .is_none();
                        if free {
                            self.store.finish(entry.id, Outcome::Found)?;
                            return Ok(Created::Existing(found));
                        }
                    }
                }
                self.failed(entry.id, target, Some(rec), e, tally)?;
                return Ok(Created::NotNow);
            }
        };
        tally.created(target);
        // What the Sellsy create body cannot carry (tags, address, company, custom
        // fields) follows under the same intent; a failure leaves the source dirty and
        // the next round merges the pair.
        let mut complete = true;
        if target == Side::Sellsy {
            let extras: Changes = wanted
                .iter()
                .filter(|(k, _)| {
                    ![
                        "first_name",
                        "last_name",
                        "email",
                        "phone",
                        "website",
                        "birth_date",
                        "dnd",
                    ]
                    .contains(&k.as_str())
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !extras.is_empty() {
                match self.send_sellsy(&created.id, &created, &extras).await {
                    Ok(r) => created = r,
                    Err(e) if e.is_daily_limit() => return Err(e),
                    Err(e) => {
                        complete = false;
                        tally.error(format!("Sellsy extras for {}: {e}", created.id));
                    }
                }
            }
        }
        Ok(Created::New((created, entry.id, complete)))
    }

    /// Create a Sellsy contact. Sellsy requires a last name: when the source has
    /// none, a placeholder (the e-mail's local part) is written and remembered, so it
    /// is never read back as a real last name (nor written to GHL).
    async fn create_sellsy(&self, source_id: &str, wanted: &Changes) -> Result<Record> {
        let w = crate::mapping::sellsy::write(wanted, &Fields::new(), None, &self.mapping);
        let mut body: Map<String, Value> = w.contact;
        body.retain(|_, v| !v.is_null());
        let mut placeholder = None;
        if body
            .get("last_name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            let fallback = wanted
                .get("email")
                .and_then(|v| v.as_ref())
                .and_then(Value::as_str)
                .and_then(|e| e.split('@').next())
                .filter(|s| !s.is_empty())
                .unwrap_or("—")
                .to_string();
            body.insert("last_name".into(), Value::String(fallback.clone()));
            placeholder = Some(fallback);
        }
        let _ = source_id;
        let created = self.sellsy.create(&body).await?;
        let id = created
            .get("id")
            .and_then(Value::as_i64)
            .unwrap_or_default()
            .to_string();
        if let Some(p) = &placeholder {
            self.store
                .set_meta(&format!("placeholder:{id}"), &json!(p))?;
        }
        let mut fields = crate::mapping::sellsy::read(&created, None, &self.mapping);
        if placeholder.is_some() {
            fields.remove("last_name");
        }
        let meta = json!({
            "mobile": created.get("mobile_number").cloned().unwrap_or(Value::Null),
            "phone": created.get("phone_number").cloned().unwrap_or(Value::Null),
            "address": Value::Null,
            "placeholder": placeholder,
        });
        Ok(record(
            Side::Sellsy,
            &id,
            &fields,
            meta,
            created
                .get("updated")
                .and_then(Value::as_str)
                .map(str::to_string),
        ))
    }

    /// Apply a merge plan to a linked pair and save links, shadow and records.
    #[allow(clippy::too_many_arguments)]
    pub async fn apply_pair(
        &self,
        link: &Link,
        g: &Record,
        s: &Record,
        gf: &Fields,
        plan: Plan,
        old_shadow: &BTreeMap<String, Value>,
        tally: &Tally,
    ) -> Result<()> {
        let mut commit = Commit::default();
        let mut shadow = plan.shadow.clone();
        if shadow.is_empty() {
            shadow.insert("_linked".into(), Value::Bool(true));
        }
        let mut all_ok = true;
        let mut concurrent_ghl_edit = false;
        let mut new_g = g.clone();
        let mut new_s = s.clone();
        let mut plan = plan;
        // Sellsy creates an address only with line 1, postal code, city and country:
        // parts that cannot make one yet are not sent and not agreed (they go with the
        // rest once it exists), instead of an update that writes nothing.
        let address_keys = ["address", "city", "postal_code", "country"];
        let has_address = meta_of(s).get("address").is_some_and(Value::is_object);
        if !has_address
            && plan
                .to_sellsy
                .keys()
                .any(|k| address_keys.contains(&k.as_str()))
        {
            let mut merged = fields_of(s);
            crate::context::apply(&mut merged, &plan.to_sellsy);
            if address_keys.iter().any(|k| !merged.contains_key(*k)) {
                let held: Changes = plan
                    .to_sellsy
                    .iter()
                    .filter(|(k, _)| address_keys.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                restore(&mut shadow, old_shadow, &held);
                plan.to_sellsy
                    .retain(|k, _| !address_keys.contains(&k.as_str()));
            }
        }
        // Each write carries the other side's values; a pair where both sides won
        // fields is a merge.
        let merged = !plan.to_ghl.is_empty() && !plan.to_sellsy.is_empty();
        let winner = |side: Side| if merged { "merge" } else { side.as_str() };
        if !plan.to_ghl.is_empty() {
            match self
                .update_contact(
                    Side::Ghl,
                    link,
                    s,
                    &plan.to_ghl,
                    winner(Side::Sellsy),
                    tally,
                )
                .await?
            {
                Some((rec, entry)) => {
                    Tally::add(&tally.ghl_updated);
                    // The answer shows the whole contact: a field we did not write that
                    // changed meanwhile (a concurrent edit) must still be merged.
                    let mut expected = gf.clone();
                    crate::context::apply(&mut expected, &plan.to_ghl);
                    concurrent_ghl_edit = fields_of(&rec) != expected;
                    new_g = rec;
                    commit.outbox_done.push(entry);
                }
                None => {
                    all_ok = false;
                    restore(&mut shadow, old_shadow, &plan.to_ghl);
                }
            }
        }
        if !plan.to_sellsy.is_empty() {
            match self
                .update_contact(
                    Side::Sellsy,
                    link,
                    s,
                    &plan.to_sellsy,
                    winner(Side::Ghl),
                    tally,
                )
                .await?
            {
                Some((rec, entry)) => {
                    Tally::add(&tally.sellsy_updated);
                    // A part Sellsy could not take (an incomplete address) is not
                    // agreed: its shadow stays as it was, so it is not recorded as done.
                    let now = fields_of(&rec);
                    let unwritten: Changes = plan
                        .to_sellsy
                        .iter()
                        .filter(|(k, v)| k.as_str() != "tags" && now.get(*k) != v.as_ref())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    restore(&mut shadow, old_shadow, &unwritten);
                    new_s = rec;
                    commit.outbox_done.push(entry);
                }
                None => {
                    all_ok = false;
                    restore(&mut shadow, old_shadow, &plan.to_sellsy);
                }
            }
        }
        let mut link = link.clone();
        link.ghl_hash = Some(new_g.hash.clone());
        link.sellsy_hash = Some(new_s.hash.clone());
        link.ghl_updated = new_g.updated.clone();
        link.sellsy_updated = new_s.updated.clone();
        commit.links.push(link.clone());
        commit
            .shadows
            .push((Kind::Contact, link.ghl_id.clone(), shadow));
        if all_ok {
            new_g.dirty = concurrent_ghl_edit;
            new_s.dirty = false;
            if new_g.hash != g.hash {
                commit.records.push(new_g);
            }
            if new_s.hash != s.hash {
                commit.records.push(new_s);
            }
            commit
                .clean
                .push((Side::Ghl, Kind::Contact, g.id.clone(), g.hash.clone()));
            commit
                .clean
                .push((Side::Sellsy, Kind::Contact, s.id.clone(), s.hash.clone()));
        }
        self.store.commit(&commit)
    }

    /// Send changes to one side of a pair through the outbox; `None` when the write
    /// failed (kept for retry) or the run's cap was reached.
    async fn update_contact(
        &self,
        target: Side,
        link: &Link,
        sellsy_now: &Record,
        changes: &Changes,
        winner: &str,
        tally: &Tally,
    ) -> Result<Option<(Record, i64)>> {
        if !self.take_write(tally) {
            return Ok(None);
        }
        let payload = changes_json(changes);
        let target_id = link.id_of(target).to_string();
        let source_id = link.id_of(target.other()).to_string();
        let context = self.context(Intent {
            kind: Kind::Contact,
            target,
            target_id: Some(&target_id),
            source_id: &source_id,
            changes: changes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            winner,
            contact_ghl_id: None,
        })?;
        let entry = self.intend(NewOutbox {
            key: format!(
                "update:{}:{target_id}:{}",
                target.as_str(),
                canonical::hash(&payload)
            ),
            target,
            kind: Kind::Contact,
            op: "update".into(),
            target_id: Some(target_id.clone()),
            source_id: source_id.clone(),
            payload,
            context: Some(context),
        })?;
        let sent = match target {
            Side::Ghl => self.send_ghl(&target_id, changes).await,
            Side::Sellsy => self.send_sellsy(&target_id, sellsy_now, changes).await,
        };
        match sent {
            Ok(rec) => Ok(Some((rec, entry.id))),
            Err(e) => {
                let src = self
                    .store
                    .record(target.other(), Kind::Contact, &source_id)?;
                self.failed(entry.id, target, src.as_ref(), e, tally)?;
                Ok(None)
            }
        }
    }

    /// Update a GHL contact; `companyName` goes through an upsert on the contact's
    /// e-mail (the update operation does not take it).
    async fn send_ghl(&self, id: &str, changes: &Changes) -> Result<Record> {
        let mut rest = changes.clone();
        let company = rest.remove("company");
        let mut contact = None;
        if !rest.is_empty() || company.is_none() {
            let input = crate::mapping::ghl::write(&rest, &self.mapping);
            contact = Some(self.ghl.update(id, &input).await?);
        }
        if let Some(company) = company {
            let email = match &contact {
                Some(c) => c.email.clone(),
                None => self.ghl.get(id).await?.and_then(|c| c.email),
            };
            let name = company.as_ref().and_then(Value::as_str).unwrap_or("");
            if let Some(email) = email.filter(|e| !e.is_empty()) {
                self.ghl.set_company(id, &email, name).await?;
            }
            contact = self.ghl.get(id).await?;
        }
        let contact = contact.ok_or_else(|| {
            EngineError::Data(format!("GHL contact {id} vanished during the update"))
        })?;
        Ok(self.ghl_record(&contact))
    }

    /// Apply changes to a Sellsy contact (body, tags, address, company, custom
    /// fields); returns the record as it now stands. A company link Sellsy refuses
    /// is an error (reported, the write kept for retry or given up), never dropped.
    pub(crate) async fn send_sellsy(
        &self,
        id: &str,
        current: &Record,
        changes: &Changes,
    ) -> Result<Record> {
        let cur_fields = fields_of(current);
        let meta = meta_of(current).clone();
        let raw = json!({ "mobile_number": meta.get("mobile"), "phone_number": meta.get("phone") });
        let w = crate::mapping::sellsy::write(changes, &cur_fields, Some(&raw), &self.mapping);
        let mut meta = meta;
        if !w.contact.is_empty() {
            let updated = self.sellsy.update(id, &w.contact).await?;
            meta["mobile"] = updated.get("mobile_number").cloned().unwrap_or(Value::Null);
            meta["phone"] = updated.get("phone_number").cloned().unwrap_or(Value::Null);
        }
        self.sellsy.link_tags(id, &w.tags_add).await?;
        let address = meta.get("address").filter(|a| a.is_object()).cloned();
        let address_written = if w.address.is_empty() {
            true
        } else {
            self.sellsy
                .set_address(id, address.as_ref(), &w.address)
                .await?
        };
        if let Some(name) = w.company.as_deref().filter(|n| !n.is_empty()) {
            let previous = cur_fields.get("company").and_then(Value::as_str);
            self.sellsy.link_company(id, name, previous).await?;
        }
        self.sellsy.set_custom(id, &w.custom).await?;
        let mut fields = cur_fields;
        for (k, v) in changes {
            if !address_written
                && ["address", "city", "postal_code", "country"].contains(&k.as_str())
            {
                continue;
            }
            if k == "company" && v.is_none() {
                continue;
            }
            match (k.as_str(), v) {
                ("tags", Some(Value::Array(add))) => {
                    let mut all: Vec<Value> = fields
                        .get("tags")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    all.extend(add.iter().cloned());
                    if let Some(v) =
                        canonical::normalise(canonical::FieldKind::Tags, &Value::Array(all))
                    {
                        fields.insert(k.clone(), v);
                    }
                }
                ("tags", None) => {}
                (_, Some(v)) => {
                    fields.insert(k.clone(), v.clone());
                }
                (_, None) => {
                    fields.remove(k);
                }
            }
        }
        if address_written && !w.address.is_empty() && address.is_none() {
            // A new address: its id is learnt at the next read.
            meta["address"] = Value::Null;
        }
        Ok(record(
            Side::Sellsy,
            id,
            &fields,
            meta,
            current.updated.clone(),
        ))
    }
}

/// Undo the shadow update of fields whose write failed.
fn restore(shadow: &mut BTreeMap<String, Value>, old: &BTreeMap<String, Value>, changes: &Changes) {
    for k in changes.keys() {
        match old.get(k) {
            Some(v) => {
                shadow.insert(k.clone(), v.clone());
            }
            None => {
                shadow.remove(k);
            }
        }
    }
}
