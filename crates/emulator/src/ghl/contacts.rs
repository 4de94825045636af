//! Contact CRUD, upsert, duplicates, tags (single and bulk), business links, followers.
//!
//! Semantics worth knowing:
//! - `tags` in create/update/upsert **replace** the whole set; `POST`/`DELETE
//!   /contacts/{id}/tags` and the bulk endpoint patch it. Tags are stored lower-cased.
//! - With duplicates disallowed (the default), a create whose email (case-insensitive)
//!   or phone matches an existing contact answers 400 with `meta.{contactId,
//!   contactName, matchingField}`; an update that would make a duplicate is refused the
//!   same way.
//! - Upsert matches by email first, then phone. When the email matches one contact and
//!   the phone another, the email match is updated and the phone silently ignored. On
//!   an existing contact `gender` is silently dropped (a known GHL quirk). With
//!   duplicates allowed and `createNewIfDuplicateAllowed: true` it always creates. It
//!   answers 201 when it created and 200 when it updated, with `{new, contact, traceId}`.
//! - An unknown contact id answers 400 `Contact not found`.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::contact::{
    normalize_phone, normalize_props, normalize_tags, Contact, CustomFieldValue, View,
};
use super::context::{Ctx, Reply};
use super::custom_fields;
use super::errors::ApiError;
use super::ids::is_ghl_id;
use super::store::Store;
use super::webhooks::Event;

/// A parsed contact write body.
#[derive(Debug, Default)]
struct ContactWrite {
    props: Map<String, Value>,
    tags: Option<Vec<String>>,
    custom_fields: Option<Vec<CustomFieldValue>>,
}

fn parse_write(store: &Store, body: &Map<String, Value>) -> Result<ContactWrite, ApiError> {
    let mut problems = Vec::new();
    let props = match normalize_props(body) {
        Ok(p) => p,
        Err(ApiError::Unprocessable(m)) => {
            problems.extend(m);
            Map::new()
        }
        Err(other) => return Err(other),
    };
    let custom = match body.get("customFields") {
        None | Some(Value::Null) => None,
        Some(v) => match custom_fields::parse_input(&store.custom_fields, v) {
            Ok(c) => Some(c),
            Err(ApiError::Unprocessable(m)) => {
                problems.extend(m);
                None
            }
            Err(other) => return Err(other),
        },
    };
    let tags = body
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| normalize_tags(a.iter().filter_map(Value::as_str)));
    if !problems.is_empty() {
        return Err(ApiError::Unprocessable(problems));
    }
    Ok(ContactWrite {
        props,
        tags,
        custom_fields: custom,
    })
}

fn duplicate_error(existing: &Contact, field: &'static str) -> ApiError {
    ApiError::DuplicateContact {
        contact_id: existing.id.clone(),
        contact_name: existing.display_name().unwrap_or_default(),
        matching_field: field,
    }
}

/// Refuse a write that would duplicate another contact's email or phone.
fn check_duplicates(
    store: &Store,
    props: &Map<String, Value>,
    except: Option<&str>,
) -> Result<(), ApiError> {
    if store.allow_duplicates {
        return Ok(());
    }
    if let Some(email) = props.get("email").and_then(Value::as_str) {
        if let Some(existing) = store.find_by_email(email, except) {
            return Err(duplicate_error(existing, "email"));
        }
    }
    if let Some(phone) = props.get("phone").and_then(Value::as_str) {
        if let Some(existing) = store.find_by_phone(phone, except) {
            return Err(duplicate_error(existing, "phone"));
        }
    }
    Ok(())
}

/// Which webhook events a change to a contact warrants.
fn change_events(
    contact: &Contact,
    changed_props: &[String],
    tags_changed: bool,
    custom_changed: bool,
) -> Vec<Event> {
    let mut events = Vec::new();
    if !changed_props.is_empty() || custom_changed {
        events.push(Event::new("ContactUpdate", contact.webhook_fields()));
    }
    if changed_props
        .iter()
        .any(|p| p == "dnd" || p == "dndSettings")
    {
        let mut fields = contact.webhook_fields();
        if let Some(d) = contact.fields.get("dndSettings") {
            fields.insert("dndSettings".into(), d.clone());
        }
        events.push(Event::new("ContactDndUpdate", fields));
    }
    if tags_changed {
        events.push(Event::new("ContactTagUpdate", contact.webhook_fields()));
    }
    events
}

fn create_contact(store: &mut Store, write: ContactWrite) -> (Contact, Vec<Event>) {
    let now = store.now();
    let mut contact = Contact::new(store.new_id(), now);
    contact.apply(&write.props);
    if let Some(tags) = write.tags {
        contact.tags = tags;
    }
    if let Some(custom) = write.custom_fields {
        contact.apply_custom_fields(custom);
    }
    let events = vec![Event::new("ContactCreate", contact.webhook_fields())];
    store.contacts.insert(contact.id.clone(), contact.clone());
    (contact, events)
}

/// Apply a write to an existing contact; returns the events.
fn update_contact(
    store: &mut Store,
    id: &str,
    write: ContactWrite,
) -> Result<(Contact, Vec<Event>), ApiError> {
    let now = store.now();
    let contact = store.contact_mut(id)?;
    let changed = contact.apply(&write.props);
    let tags_changed = match write.tags {
        Some(tags) if tags != contact.tags => {
            contact.tags = tags;
            true
        }
        _ => false,
    };
    let custom_changed = write
        .custom_fields
        .is_some_and(|c| contact.apply_custom_fields(c));
    contact.date_updated = now;
    let events = change_events(contact, &changed, tags_changed, custom_changed);
    Ok((contact.clone(), events))
}

pub fn get(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact = store.contact(ctx.path("contactId"))?;
    Ok(Reply::ok(
        ctx,
        json!({ "contact": contact.render(&store.location_id, View::Full) }),
    ))
}

pub fn create(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let write = parse_write(store, &ctx.body_object())?;
    check_duplicates(store, &write.props, None)?;
    let (contact, events) = create_contact(store, write);
    let body = json!({ "contact": contact.render(&store.location_id, View::Created) });
    Ok(Reply::ok(ctx, body).with_events(events))
}

pub fn update(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("contactId").to_string();
    store.contact(&id)?;
    let write = parse_write(store, &ctx.body_object())?;
    check_duplicates(store, &write.props, Some(&id))?;
    let (contact, events) = update_contact(store, &id, write)?;
    let body =
        json!({ "succeded": true, "contact": contact.render(&store.location_id, View::Full) });
    Ok(Reply::ok(ctx, body).with_events(events))
}

pub fn delete(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("contactId");
    store.contact(id)?;
    let contact = store
        .remove_contact(id)
        .ok_or_else(super::store::contact_not_found)?;
    Ok(Reply::ok(ctx, json!({ "succeded": true }))
        .with_events(vec![Event::new("ContactDelete", contact.webhook_fields())]))
}

pub fn upsert(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let body = ctx.body_object();
    let mut write = parse_write(store, &body)?;
    let always_create = store.allow_duplicates
        && body
            .get("createNewIfDuplicateAllowed")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let email = write
        .props
        .get("email")
        .and_then(Value::as_str)
        .map(str::to_string);
    let phone = write
        .props
        .get("phone")
        .and_then(Value::as_str)
        .map(str::to_string);
    let by_email = email
        .as_deref()
        .and_then(|e| store.find_by_email(e, None))
        .map(|c| c.id.clone());
    let by_phone = phone
        .as_deref()
        .and_then(|p| store.find_by_phone(p, None))
        .map(|c| c.id.clone());
    let matched = if always_create {
        None
    } else {
        by_email.clone().or(by_phone.clone())
    };
    match matched {
        Some(id) => {
            // Email won; a phone belonging to another contact is ignored, not merged.
            if by_email.as_deref() == Some(id.as_str())
                && by_phone.as_deref().is_some_and(|p| p != id)
            {
                write.props.remove("phone");
            }
            write.props.remove("gender");
            let (contact, events) = update_contact(store, &id, write)?;
            let body =
                json!({ "new": false, "contact": contact.render(&store.location_id, View::Full) });
            Ok(Reply::ok(ctx, body)
                .with_status(StatusCode::OK)
                .with_events(events)
                .traced())
        }
        None => {
            if !always_create {
                // Nothing matched by email or phone, so no duplicate can exist.
                check_duplicates(store, &write.props, None)?;
            }
            let (contact, events) = create_contact(store, write);
            let body =
                json!({ "new": true, "contact": contact.render(&store.location_id, View::Full) });
            Ok(Reply::ok(ctx, body)
                .with_status(StatusCode::CREATED)
                .with_events(events)
                .traced())
        }
    }
}

pub fn duplicate(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let email = ctx.query("email");
    let number = ctx.query("number");
    if email.is_none() && number.is_none() {
        return Err(ApiError::bad_request("Either email or number is required"));
    }
    // Search-backed: sees writes through the (possibly lagging) search index.
    let visible = store
        .search_index
        .visible(&store.contacts, std::time::Instant::now());
    let oldest = |hit: &dyn Fn(&Contact) -> bool| {
        visible
            .iter()
            .copied()
            .filter(|c| hit(c))
            .min_by_key(|c| (c.date_added, c.id.clone()))
    };
    let found = email
        .map(|e| e.trim().to_lowercase())
        .and_then(|e| oldest(&|c| c.email_lower().as_deref() == Some(e.as_str())))
        .or_else(|| {
            number
                .and_then(normalize_phone)
                .and_then(|p| oldest(&|c| c.phone() == Some(p.as_str())))
        });
    let contact = found
        .map(|c| c.render(&store.location_id, View::Full))
        .unwrap_or(Value::Null);
    Ok(Reply::ok(ctx, json!({ "contact": contact })).traced())
}

fn body_tags(ctx: &Ctx) -> Vec<String> {
    ctx.body
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| normalize_tags(a.iter().filter_map(Value::as_str)))
        .unwrap_or_default()
}

/// Apply a tag patch to one contact; returns (old tags, added, removed).
fn patch_tags(
    contact: &mut Contact,
    add: &[String],
    remove: &[String],
    remove_all: bool,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let old = contact.tags.clone();
    let mut added = Vec::new();
    let mut removed = Vec::new();
    if remove_all {
        removed = std::mem::take(&mut contact.tags);
    }
    for t in remove {
        if let Some(pos) = contact.tags.iter().position(|x| x == t) {
            removed.push(contact.tags.remove(pos));
        }
    }
    for t in add {
        if !contact.tags.contains(t) {
            contact.tags.push(t.clone());
            added.push(t.clone());
        }
    }
    (old, added, removed)
}

fn tag_endpoint(store: &mut Store, ctx: &Ctx, adding: bool) -> Result<Reply, ApiError> {
    let tags = body_tags(ctx);
    let now = store.now();
    let contact = store.contact_mut(ctx.path("contactId"))?;
    let (add, remove) = if adding {
        (tags, Vec::new())
    } else {
        (Vec::new(), tags)
    };
    let (_, added, removed) = patch_tags(contact, &add, &remove, false);
    let mut events = Vec::new();
    if !added.is_empty() || !removed.is_empty() {
        contact.date_updated = now;
        events.push(Event::new("ContactTagUpdate", contact.webhook_fields()));
    }
    Ok(Reply::ok(ctx, json!({ "tags": contact.tags })).with_events(events))
}

pub fn add_tags(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    tag_endpoint(store, ctx, true)
}

pub fn remove_tags(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    tag_endpoint(store, ctx, false)
}

/// `POST /contacts/bulk/tags/update/{type}`: per-contact results, never all-or-nothing.
pub fn bulk_tags(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let adding = match ctx.path("type") {
        "add" => true,
        "remove" => false,
        _ => {
            return Err(ApiError::unprocessable(
                "type must be one of the following values: add, remove",
            ))
        }
    };
    let remove_all = ctx
        .body
        .get("removeAllTags")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if remove_all && adding {
        return Err(ApiError::bad_request(
            "removeAllTags can only be used with the remove type",
        ));
    }
    let tags = body_tags(ctx);
    let ids: Vec<String> = ctx.body_strings("contacts");
    let mut responses = Vec::new();
    let mut events = Vec::new();
    let mut errors = 0;
    for id in ids {
        let error = if !is_ghl_id(&id) {
            Some("contact id is not a valid firebase id")
        } else if store.deleted.contains(&id) {
            Some("contact is deleted")
        } else if !store.contacts.contains_key(&id) {
            Some("contact does not belong to location")
        } else {
            None
        };
        if let Some(message) = error {
            errors += 1;
            responses.push(json!({"contactId": id, "message": message, "type": "error"}));
            continue;
        }
        let now = store.now();
        let Ok(contact) = store.contact_mut(&id) else {
            continue;
        };
        let (add, remove) = if adding {
            (tags.clone(), Vec::new())
        } else {
            (Vec::new(), tags.clone())
        };
        let (old, added, removed) = patch_tags(contact, &add, &remove, remove_all);
        if !added.is_empty() || !removed.is_empty() {
            contact.date_updated = now;
            events.push(Event::new("ContactTagUpdate", contact.webhook_fields()));
        }
        responses.push(json!({
            "contactId": id,
            "message": "Tags updated",
            "type": "success",
            "oldTags": old,
            "tagsAdded": added,
            "tagsRemoved": removed,
        }));
    }
    let body = json!({ "succeded": errors == 0, "errorCount": errors, "responses": responses });
    Ok(Reply::ok(ctx, body).with_events(events))
}

/// `POST /contacts/bulk/business`: link (or unlink with `businessId: null`) contacts.
pub fn bulk_business(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let business = ctx
        .body
        .get("businessId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let ids: Vec<String> = ctx.body_strings("ids");
    let mut updated = Vec::new();
    let mut events = Vec::new();
    for id in ids {
        let now = store.now();
        if let Ok(contact) = store.contact_mut(&id) {
            if contact.business_id != business {
                contact.business_id = business.clone();
                contact.date_updated = now;
                events.push(Event::new("ContactUpdate", contact.webhook_fields()));
            }
            updated.push(id);
        }
    }
    Ok(Reply::ok(ctx, json!({ "success": true, "ids": updated })).with_events(events))
}

fn body_followers(ctx: &Ctx) -> Vec<String> {
    let set: BTreeSet<String> = ctx.body_strings("followers").into_iter().collect();
    set.into_iter().collect()
}

pub fn add_followers(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let wanted = body_followers(ctx);
    let contact = store.contact_mut(ctx.path("contactId"))?;
    let mut added = Vec::new();
    for f in wanted {
        if !contact.followers.contains(&f) {
            contact.followers.push(f.clone());
            added.push(f);
        }
    }
    Ok(Reply::ok(
        ctx,
        json!({ "followers": contact.followers, "followersAdded": added }),
    ))
}

pub fn remove_followers(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let unwanted = body_followers(ctx);
    let contact = store.contact_mut(ctx.path("contactId"))?;
    let mut removed = Vec::new();
    contact.followers.retain(|f| {
        let drop = unwanted.contains(f);
        if drop {
            removed.push(f.clone());
        }
        !drop
    });
    Ok(Reply::ok(
        ctx,
        json!({ "followers": contact.followers, "followersRemoved": removed }),
    ))
}
