//! The agency: `GET /companies/{companyId}` (agency token only).
//!
//! The emulator's one company is the configured `company_id`; `locationCount` counts
//! the configured location plus those created through Create Location. Another id
//! answers 400 `Company not found`.

use serde_json::json;

use super::context::{Ctx, Reply};
use super::errors::ApiError;
use super::store::Store;

pub fn get(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("companyId");
    let own = ctx
        .grant
        .as_ref()
        .map(|g| g.company_id.as_str())
        .unwrap_or(store.company_id.as_str());
    if id != store.company_id || id != own {
        return Err(ApiError::bad_request("Company not found"));
    }
    let locations = 1 + store
        .other
        .locations
        .iter()
        .filter(|l| l.company_id == id)
        .count();
    Ok(Reply::ok(
        ctx,
        json!({
            "company": {
                "id": id,
                "name": "Emulator Agency",
                "email": "agency@emulator.example",
                "phone": "+15550000001",
                "website": "https://agency.emulator.example",
                "domain": "app.emulator.example",
                "address": "1 Market Street",
                "city": "Austin",
                "state": "TX",
                "postalCode": "73301",
                "country": "US",
                "timezone": "America/Chicago",
                "subdomain": "emulator",
                "plan": 297,
                "currency": "USD",
                "customerType": "agency",
                "isReselling": false,
                "twilioTrialMode": false,
                "premiumUpgraded": false,
                "status": "active",
                "locationCount": locations,
                "isEnterpriseAccount": false,
                "isSandboxAccount": true,
            }
        }),
    ))
}
