//! `/quotas`, `/staffs/{id}`, and the staff members every emulator starts with.

use std::sync::Arc;

use serde_json::{json, Value};

use super::error::ApiError;
use super::respond::{self, Reply};
use super::state::ME;
use super::store::Store;
use super::{clock, SellsyState};

/// Staff members: `ME` first.
pub fn seed_staffs(store: &mut Store) {
    let created = "2023-01-02T09:00:00+00:00";
    let people = [
        ("Martin", "Camille", "ms", "Sales manager"),
        ("Bernard", "Hugo", "mr", "Account executive"),
        ("Petit", "Léa", "ms", "Customer success"),
    ];
    for (last, first, civility, position) in people {
        let email = format!(
            "{}.{}@emulated-corp.example",
            super::smart_tags::fold(first),
            super::smart_tags::fold(last)
        );
        let staff = json!({
            "id": 0, "lastname": last, "firstname": first, "email": email, "avatar": null, "status": "ok",
            "position": position, "phone_number": null, "mobile_number": null, "civility": civility,
            "timezone": "Europe/Paris", "language": "fr", "created": created,
        });
        store
            .staffs
            .insert(staff.as_object().cloned().unwrap_or_default());
    }
}

/// `GET /staffs/{id}` (`me` is the token's staff member).
pub async fn staff(state: Arc<SellsyState>, id: String) -> Reply {
    let staff_id = if id == "me" {
        ME
    } else if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) {
        id.parse::<i64>()
            .map_err(|_| ApiError::not_found("Staff", &id))?
    } else {
        return Err(ApiError::invalid_field("id", "must be a staff id or `me`"));
    };
    let store = state.store();
    let staff = store
        .staffs
        .get(staff_id)
        .ok_or_else(|| ApiError::not_found("Staff", staff_id))?;
    respond::ok(Value::Object(staff.clone()))
}

/// `GET /quotas`.
pub async fn quotas(state: Arc<SellsyState>) -> Reply {
    let mut report = state.quotas.report(clock::now());
    let fields = state.store().custom_fields.len();
    report["custom_fields"] = json!({ "limit": null, "used": fields });
    respond::ok(report)
}
