//! The location's workflows and campaigns and the agency's snapshots: read-only lists
//! of what the account was set up with (seeded in [`super::crm`]; the API has no
//! endpoints to create them). Contacts are enrolled in workflows and campaigns by the
//! contact endpoints ([`super::campaigns`]).

use serde_json::{json, Value};

use super::context::{Ctx, Reply};
use super::crm::crm;
use super::errors::ApiError;
use super::ids::iso;
use super::store::Store;

/// `GET /workflows/?locationId=…`.
pub fn list_workflows(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let location = store.location_id.clone();
    let list: Vec<Value> = crm(store, ctx)
        .workflows
        .iter()
        .map(|w| {
            json!({
                "id": w.id,
                "name": w.name,
                "status": w.status,
                "version": w.version,
                "createdAt": iso(w.created_at),
                "updatedAt": iso(w.updated_at),
                "locationId": location,
            })
        })
        .collect();
    Ok(Reply::ok(ctx, json!({ "workflows": list })))
}

/// `GET /campaigns/?locationId=…[&status=…]`.
pub fn list_campaigns(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let location = store.location_id.clone();
    let status = ctx.query("status");
    let list: Vec<Value> = crm(store, ctx)
        .campaigns
        .iter()
        .filter(|c| status.is_none_or(|s| c.status == s))
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.name,
                "status": c.status,
                "locationId": location,
            })
        })
        .collect();
    Ok(Reply::ok(ctx, json!({ "campaigns": list })))
}

/// `GET /snapshots/?companyId=…` (agency token): the company's snapshots. Another
/// company's id answers 400.
pub fn list_snapshots(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let company = ctx.query("companyId").unwrap_or_default();
    let own = ctx
        .grant
        .as_ref()
        .map(|g| g.company_id.clone())
        .unwrap_or_else(|| store.company_id.clone());
    if company != own || company != store.company_id {
        return Err(ApiError::bad_request(
            "companyId does not match the token's company",
        ));
    }
    let list: Vec<Value> = crm(store, ctx)
        .snapshots
        .iter()
        .map(|s| json!({ "id": s.id, "name": s.name, "type": s.kind }))
        .collect();
    Ok(Reply::ok(ctx, json!({ "snapshots": list })))
}

// Read access for tests (kept with this module so the shared state file stays as is).
impl super::state::GhlState {
    /// Workflow ids the contact is enrolled in, with their event start times.
    pub fn workflows_of(&self, contact_id: &str) -> Vec<(String, Option<String>)> {
        super::state::lock(&self.store)
            .workflows
            .get(contact_id)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// The location's "Allow duplicate opportunities" setting.
    pub fn set_allow_duplicate_opportunities(&self, allow: bool) {
        super::state::lock(&self.store)
            .crm
            .allow_duplicate_opportunities = allow;
    }
}
