//! Calendar groups: `/calendars/groups[/validate-slug | /{groupId}[/status]]`.
//!
//! Slugs are unique within the location (compared case-insensitively, as GHL slugs
//! are lowercase URLs): `validate-slug` answers `{available}`, and creating or
//! renaming a group onto a taken slug is a 400. Deleting a group detaches its calendars
//! (they keep existing without a `groupId`).

use serde_json::{json, Value};

use super::super::context::{Ctx, Reply};
use super::super::errors::ApiError;
use super::super::store::Store;
use super::{new_id, not_blank, not_found};

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: String,
    pub location_id: String,
    pub name: String,
    pub description: String,
    pub slug: String,
    pub is_active: bool,
}

impl Group {
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "locationId": self.location_id,
            "name": self.name,
            "description": self.description,
            "slug": self.slug,
            "isActive": self.is_active,
        })
    }
}

/// The message of the 400 for a slug another group already uses.
pub const SLUG_TAKEN: &str = "Group slug is already taken";

fn slug_taken(store: &Store, slug: &str, except: Option<&str>) -> bool {
    let slug = slug.trim().to_lowercase();
    store
        .calendars
        .groups
        .iter()
        .filter(|g| Some(g.id.as_str()) != except)
        .any(|g| g.slug.to_lowercase() == slug)
}

fn group_mut<'a>(store: &'a mut Store, id: &str) -> Result<&'a mut Group, ApiError> {
    store
        .calendars
        .groups
        .iter_mut()
        .find(|g| g.id == id)
        .ok_or_else(|| not_found("Group"))
}

fn text(ctx: &Ctx, name: &str) -> String {
    ctx.body_str(name).unwrap_or_default().to_string()
}

/// `GET /calendars/groups`.
pub fn list(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let groups: Vec<Value> = store.calendars.groups.iter().map(Group::render).collect();
    Ok(Reply::ok(ctx, json!({ "groups": groups })))
}

/// `POST /calendars/groups` → 201 `{group}`.
pub fn create(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    not_blank(&ctx.body, &["name", "slug"])?;
    let slug = text(ctx, "slug");
    if slug_taken(store, &slug, None) {
        return Err(ApiError::bad_request(SLUG_TAKEN));
    }
    let group = Group {
        id: new_id(store),
        location_id: store.location_id.clone(),
        name: text(ctx, "name"),
        description: text(ctx, "description"),
        slug,
        is_active: ctx
            .body
            .get("isActive")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    };
    let rendered = group.render();
    store.calendars.groups.push(group);
    Ok(Reply::ok(ctx, json!({ "group": rendered })))
}

/// `POST /calendars/groups/validate-slug` → `{available}`.
pub fn validate_slug(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    not_blank(&ctx.body, &["slug"])?;
    let available = !slug_taken(store, ctx.body_str("slug").unwrap_or_default(), None);
    Ok(Reply::ok(ctx, json!({ "available": available })))
}

/// `PUT /calendars/groups/{groupId}` → `{group}`.
pub fn update(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("groupId").to_string();
    store.calendars.group(&id)?;
    not_blank(&ctx.body, &["name", "slug"])?;
    let slug = text(ctx, "slug");
    if slug_taken(store, &slug, Some(&id)) {
        return Err(ApiError::bad_request(SLUG_TAKEN));
    }
    let group = group_mut(store, &id)?;
    group.name = text(ctx, "name");
    group.description = text(ctx, "description");
    group.slug = slug;
    Ok(Reply::ok(ctx, json!({ "group": group.render() })))
}

/// `PUT /calendars/groups/{groupId}/status` → `{success}`.
pub fn set_status(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let group = group_mut(store, ctx.path("groupId"))?;
    if let Some(active) = ctx.body.get("isActive").and_then(Value::as_bool) {
        group.is_active = active;
    }
    Ok(Reply::ok(ctx, json!({ "success": true })))
}

/// `DELETE /calendars/groups/{groupId}` → `{success}`.
pub fn delete(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("groupId");
    let pos = store
        .calendars
        .groups
        .iter()
        .position(|g| g.id == id)
        .ok_or_else(|| not_found("Group"))?;
    store.calendars.groups.remove(pos);
    for cal in store.calendars.calendars.iter_mut() {
        if cal.group_id() == Some(id) {
            cal.data.remove("groupId");
        }
    }
    Ok(Reply::ok(ctx, json!({ "success": true })))
}
