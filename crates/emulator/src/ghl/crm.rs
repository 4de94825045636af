//! The location's CRM data beyond contacts: pipelines and opportunities, users,
//! businesses, and the workflows, campaigns and snapshots the account was set up with.
//!
//! It lives in one [`Crm`] value on [`Store::crm`]. Pipelines, workflows, campaigns,
//! snapshots and two users are seeded the first time any of these handlers runs (with
//! the location and company of the store, and the calling token's user as the first
//! admin), from a fixed random seed so ids are the same from run to run.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Number, Value};

use super::context::Ctx;
use super::ids::{is_ghl_id, new_id};
use super::store::Store;

/// Seed of the CRM fixtures (independent of the contacts' generator).
const CRM_SEED: u64 = 0x0063_726d_5f67_686c;

/// A pipeline stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub id: String,
    pub name: String,
    pub position: u32,
    pub show_in_funnel: bool,
    pub show_in_pie_chart: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub id: String,
    pub name: String,
    pub stages: Vec<Stage>,
    pub show_in_funnel: bool,
    pub show_in_pie_chart: bool,
}

impl Pipeline {
    pub fn stage(&self, id: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }
}

/// An opportunity (a deal of a contact in a pipeline).
#[derive(Debug, Clone, PartialEq)]
pub struct Opportunity {
    pub id: String,
    pub name: String,
    /// Kept exactly as sent (integer or decimal).
    pub monetary_value: Option<Number>,
    pub pipeline_id: String,
    pub pipeline_stage_id: String,
    pub assigned_to: Option<String>,
    pub status: String,
    pub source: Option<String>,
    pub contact_id: String,
    pub lost_reason_id: Option<String>,
    /// `[{id, fieldValue}]` in input order, one entry per field id.
    pub custom_fields: Vec<(String, Value)>,
    pub followers: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_status_change_at: DateTime<Utc>,
    pub last_stage_change_at: DateTime<Utc>,
}

/// A user of the agency or of the location.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub extension: Option<String>,
    /// `account` (location user) or `agency`.
    pub kind: String,
    /// `admin` or `user`.
    pub role: String,
    pub location_ids: Vec<String>,
    pub permissions: Map<String, Value>,
    pub scopes: Vec<String>,
    pub scopes_assigned_to_only: Vec<String>,
    pub profile_photo: Option<String>,
    pub platform_language: Option<String>,
    pub lc_phone: Option<Map<String, Value>>,
    pub deleted: bool,
    pub created_at: DateTime<Utc>,
}

/// A business (company record contacts link to with `businessId`).
#[derive(Debug, Clone, PartialEq)]
pub struct Business {
    pub id: String,
    /// Writable properties (name, phone, email, website, address, city, state,
    /// postalCode, country) as sent.
    pub fields: Map<String, Value>,
    pub created_by: String,
    pub updated_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub version: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: String,
    pub name: String,
    pub status: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
}

/// Everything this module family keeps for the location.
#[derive(Debug, Default)]
pub struct Crm {
    seeded: bool,
    pub pipelines: Vec<Pipeline>,
    pub opportunities: HashMap<String, Opportunity>,
    pub users: HashMap<String, User>,
    pub businesses: HashMap<String, Business>,
    pub workflows: Vec<Workflow>,
    pub campaigns: Vec<Campaign>,
    pub snapshots: Vec<Snapshot>,
    /// The location's "Allow duplicate opportunities" setting (off by default, as in
    /// GHL: one opportunity per contact and pipeline).
    pub allow_duplicate_opportunities: bool,
}

impl Crm {
    pub fn pipeline(&self, id: &str) -> Option<&Pipeline> {
        self.pipelines.iter().find(|p| p.id == id)
    }

    /// A live (not deleted) user.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.get(id).filter(|u| !u.deleted)
    }
}

/// The CRM data of `store`, seeded on first use (the calling token's user becomes the
/// location's first admin).
pub fn crm<'a>(store: &'a mut Store, ctx: &Ctx) -> &'a mut Crm {
    if !store.crm.seeded {
        let owner = ctx
            .grant
            .as_ref()
            .map(|g| g.user_id.clone())
            .filter(|id| is_ghl_id(id));
        let location = store.location_id.clone();
        seed(&mut store.crm, &location, owner);
    }
    // Opportunities go with their contact (GHL deletes a contact's opportunities
    // with the contact).
    let contacts = &store.contacts;
    store
        .crm
        .opportunities
        .retain(|_, o| contacts.contains_key(&o.contact_id));
    &mut store.crm
}

/// A fresh id not used by any CRM record.
pub fn fresh_id(store: &mut Store) -> String {
    loop {
        let id = store.new_id();
        let c = &store.crm;
        if !c.opportunities.contains_key(&id)
            && !c.users.contains_key(&id)
            && !c.businesses.contains_key(&id)
            && !c.pipelines.iter().any(|p| p.id == id)
        {
            return id;
        }
    }
}

fn uuid_from(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.gen())
        .into_uuid()
        .to_string()
}

fn seed(crm: &mut Crm, location_id: &str, owner: Option<String>) {
    let mut rng = StdRng::seed_from_u64(CRM_SEED);
    let base = Utc
        .with_ymd_and_hms(2024, 1, 15, 9, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let pipelines: [(&str, &[&str]); 2] = [
        (
            "Sales Pipeline",
            &[
                "New Lead",
                "Contacted",
                "Proposal Sent",
                "Negotiation",
                "Closed",
            ],
        ),
        ("Onboarding", &["Kickoff", "Setup", "Live"]),
    ];
    for (name, stages) in pipelines {
        let id = new_id(&mut rng);
        let stages = stages
            .iter()
            .zip(0u32..)
            .map(|(s, position)| Stage {
                id: uuid_from(&mut rng),
                name: (*s).to_string(),
                position,
                show_in_funnel: true,
                show_in_pie_chart: true,
            })
            .collect();
        crm.pipelines.push(Pipeline {
            id,
            name: name.to_string(),
            stages,
            show_in_funnel: true,
            show_in_pie_chart: true,
        });
    }
    let workflows = [
        ("New lead nurture", "published", 4),
        ("Appointment reminders", "published", 2),
        ("Win-back (draft)", "draft", 1),
    ];
    for (i, (name, status, version)) in workflows.into_iter().enumerate() {
        let created = base + Duration::days(i as i64 * 7);
        crm.workflows.push(Workflow {
            id: uuid_from(&mut rng),
            name: name.to_string(),
            status,
            version,
            created_at: created,
            updated_at: created + Duration::days(3),
        });
    }
    let campaigns = [
        ("Spring newsletter", "published"),
        ("Webinar follow-up", "published"),
        ("Holiday promo", "draft"),
    ];
    for (name, status) in campaigns {
        crm.campaigns.push(Campaign {
            id: new_id(&mut rng),
            name: name.to_string(),
            status,
        });
    }
    let snapshots = [
        ("Agency starter kit", "own"),
        ("Dental clinic template", "imported"),
    ];
    for (name, kind) in snapshots {
        crm.snapshots.push(Snapshot {
            id: new_id(&mut rng),
            name: name.to_string(),
            kind,
        });
    }
    let owner_id = owner.unwrap_or_else(|| new_id(&mut rng));
    let team = [
        (owner_id, "Alex", "Owner", "owner@emulator.example", "admin"),
        (
            new_id(&mut rng),
            "Sam",
            "Seller",
            "sam.seller@emulator.example",
            "user",
        ),
    ];
    for (i, (id, first, last, email, role)) in team.into_iter().enumerate() {
        crm.users.insert(
            id.clone(),
            User {
                id,
                first_name: first.to_string(),
                last_name: last.to_string(),
                email: email.to_string(),
                phone: None,
                extension: None,
                kind: "account".to_string(),
                role: role.to_string(),
                location_ids: vec![location_id.to_string()],
                permissions: Map::new(),
                scopes: Vec::new(),
                scopes_assigned_to_only: Vec::new(),
                profile_photo: None,
                platform_language: None,
                lc_phone: None,
                deleted: false,
                created_at: base + Duration::minutes(i as i64),
            },
        );
    }
    crm.seeded = true;
}

/// The `[{id, key, field_value}]` custom-field input of opportunities as `(id, value)`
/// pairs (`key` stands in for `id` when no id is given). Problems are class-validator
/// style messages.
pub fn parse_custom_fields(v: &Value) -> Result<Vec<(String, Value)>, Vec<String>> {
    let Some(items) = v.as_array() else {
        return Err(vec!["customFields must be an array".into()]);
    };
    let mut out: Vec<(String, Value)> = Vec::new();
    let mut problems = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            problems.push(format!("customFields.{i} must be an object"));
            continue;
        };
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .or_else(|| obj.get("key").and_then(Value::as_str))
            .filter(|s| !s.trim().is_empty());
        let Some(id) = id else {
            problems.push(format!("customFields.{i}.id should not be empty"));
            continue;
        };
        let value = obj
            .get("field_value")
            .or_else(|| obj.get("fieldValue"))
            .or_else(|| obj.get("value"))
            .cloned()
            .unwrap_or(Value::Null);
        match out.iter_mut().find(|(k, _)| k == id) {
            Some(entry) => entry.1 = value,
            None => out.push((id.to_string(), value)),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}
