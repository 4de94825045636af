//! A contact's campaigns, workflows and appointments.
//!
//! Campaign and workflow membership is recorded per contact and answered with
//! `{succeded: true}` as the spec shows. There is no calendar emulation yet, so a
//! contact's appointments are whatever the store holds (empty unless seeded) — a real
//! read of state, never invented data.

use serde_json::{json, Value};

use super::context::{Ctx, Reply};
use super::errors::ApiError;
use super::store::Store;

pub fn add(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact_id = ctx.path("contactId").to_string();
    store.contact(&contact_id)?;
    store
        .campaigns
        .entry(contact_id)
        .or_default()
        .insert(ctx.path("campaignId").to_string());
    Ok(Reply::ok(ctx, json!({ "succeded": true })))
}

pub fn remove(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact_id = ctx.path("contactId");
    store.contact(contact_id)?;
    if let Some(set) = store.campaigns.get_mut(contact_id) {
        set.remove(ctx.path("campaignId"));
    }
    Ok(Reply::ok(ctx, json!({ "succeded": true })))
}

pub fn remove_all(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact_id = ctx.path("contactId");
    store.contact(contact_id)?;
    store.campaigns.remove(contact_id);
    Ok(Reply::ok(ctx, json!({ "succeded": true })))
}

pub fn add_workflow(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact_id = ctx.path("contactId").to_string();
    store.contact(&contact_id)?;
    let start = ctx.body_str("eventStartTime").map(str::to_string);
    store
        .workflows
        .entry(contact_id)
        .or_default()
        .insert(ctx.path("workflowId").to_string(), start);
    Ok(Reply::ok(ctx, json!({ "succeded": true })))
}

pub fn remove_workflow(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact_id = ctx.path("contactId");
    store.contact(contact_id)?;
    if let Some(map) = store.workflows.get_mut(contact_id) {
        map.remove(ctx.path("workflowId"));
    }
    Ok(Reply::ok(ctx, json!({ "succeded": true })))
}

pub fn appointments(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact_id = ctx.path("contactId");
    store.contact(contact_id)?;
    // The contact's appointments come from the calendars' state (see `calendars/`).
    let events: Vec<Value> = store.calendars.contact_appointments(contact_id);
    Ok(Reply::ok(ctx, json!({ "events": events })))
}

/// `GET /locations/{locationId}/customFields`: the location's custom fields.
pub fn custom_fields(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    if ctx.path("locationId") != store.location_id {
        return Err(ApiError::LocationForbidden);
    }
    let model = ctx.query("model").unwrap_or("all");
    let fields: Vec<Value> = if model == "opportunity" {
        Vec::new()
    } else {
        store
            .custom_fields
            .iter()
            .enumerate()
            .map(|(i, d)| d.render(&store.location_id, i))
            .collect()
    };
    Ok(Reply::ok(ctx, json!({ "customFields": fields })))
}
