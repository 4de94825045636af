//! `POST /locations/{locationId}/tasks/search`: every task of the location, across
//! contacts, from the same records the per-contact task endpoints write.
//!
//! Body (`TaskSearchParamsDto`, every field optional): `contactId` (ids; any of them),
//! `completed` (true = completed, false = pending), `assignedTo` (user ids; any of
//! them), `query` (case-insensitive text in the title or body), `businessId` (tasks of
//! that business's contacts), `limit` (default 25) and `skip` (default 0). The spec
//! documents no sort parameter and no maximum `limit`; decisions:
//! - tasks come oldest first (`dateAdded`, then id), so `skip` paging is stable while
//!   tasks are added;
//! - `limit` must be ≥ 1 and `skip` ≥ 0 (422 otherwise, class-validator style);
//! - the answer is `{tasks: [task…], traceId}` with each task as the per-contact
//!   endpoints render it (`id`, `title`, `body`, `assignedTo`, `dueDate`, `completed`,
//!   `contactId`, `dateAdded`, `dateUpdated`). The spec types `tasks` as an array of
//!   arrays, which no client can use; the records themselves are what GHL answers.
//!
//! The listing stops at the truncation set by `POST /emulator/truncate`.

use serde_json::{json, Value};

use super::context::{Ctx, Reply};
use super::errors::ApiError;
use super::store::{cut_listing, Store};
use super::tasks::Task;

/// `limit` when the body gives none.
pub const DEFAULT_LIMIT: usize = 25;

fn count(ctx: &Ctx, name: &str, default: usize, min: usize) -> Result<usize, ApiError> {
    let Some(v) = ctx.body.get(name).filter(|v| !v.is_null()) else {
        return Ok(default);
    };
    let n = v
        .as_f64()
        .filter(|f| f.is_finite() && f.fract() == 0.0)
        .ok_or_else(|| ApiError::unprocessable(format!("{name} must be an integer number")))?;
    if n < min as f64 {
        return Err(ApiError::unprocessable(format!(
            "{name} must not be less than {min}"
        )));
    }
    // Finite, integral and non-negative: the cast saturates.
    Ok(n as usize)
}

pub fn search(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    if ctx.path("locationId") != store.location_id {
        return Err(ApiError::LocationForbidden);
    }
    let limit = count(ctx, "limit", DEFAULT_LIMIT, 1)?;
    let skip = count(ctx, "skip", 0, 0)?;
    let contact_ids = ctx.body_strings("contactId");
    let assigned = ctx.body_strings("assignedTo");
    let completed = ctx.body.get("completed").and_then(Value::as_bool);
    let query = ctx
        .body_str("query")
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    let business = ctx.body_str("businessId").filter(|b| !b.is_empty());

    let in_business = |t: &Task| {
        business.is_none_or(|b| {
            store
                .contacts
                .get(&t.contact_id)
                .is_some_and(|c| c.business_id.as_deref() == Some(b))
        })
    };
    let text_matches = |t: &Task| {
        query.as_deref().is_none_or(|q| {
            t.title.to_lowercase().contains(q)
                || t.body
                    .as_deref()
                    .is_some_and(|b| b.to_lowercase().contains(q))
        })
    };
    let mut all: Vec<&Task> = store
        .tasks
        .values()
        .flatten()
        .filter(|t| contact_ids.is_empty() || contact_ids.contains(&t.contact_id))
        .filter(|t| {
            assigned.is_empty() || t.assigned_to.as_ref().is_some_and(|a| assigned.contains(a))
        })
        .filter(|t| completed.is_none_or(|c| t.completed == c))
        .filter(|t| text_matches(t))
        .filter(|t| in_business(t))
        .collect();
    all.sort_by(|a, b| (a.date_added, &a.id).cmp(&(b.date_added, &b.id)));
    cut_listing(store.truncate_after, &mut all);
    let tasks: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(limit)
        .map(|t| t.render())
        .collect();
    Ok(Reply::ok(ctx, json!({ "tasks": tasks })).traced())
}
