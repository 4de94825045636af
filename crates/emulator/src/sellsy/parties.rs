//! Contacts, companies and individuals: list, search, get, create, update, delete.
//!
//! The three share their mechanics; [`Party`] says which one a request is about.

use std::sync::Arc;

use axum::body::Bytes;
use serde_json::{json, Map, Value};

use super::embed;
use super::error::ApiError;
use super::filter::{ids, in_date_range, in_time_range, same_string, same_text, strings};
use super::paging::{id_key, time_key, Row, SortValue};
use super::party_rules::*;
use super::query::{json_body, json_body_or, Embeds, QueryParams};
use super::respond::{self, parse_id, Reply};
use super::state::ME;
use super::store::Pointer;
use super::store::{Owner, Record, Store};
use super::validation::{check_object, copy_all, Rule};
use super::webhooks::delivery::Change;
use super::{clock, SellsyState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Contact,
    Company,
    Individual,
}

const CONTACT_EMBEDS: &[&str] = &[
    "invoicing_address",
    "delivery_address",
    "opportunities",
    "estimates",
    "invoices",
    "orders",
    "deliveries",
    "acl",
    "smart_tags",
];
const THIRD_EMBEDS: &[&str] = &[
    "invoicing_address",
    "delivery_address",
    "main_contact",
    "dunning_contact",
    "invoicing_contact",
    "opportunities",
    "estimates",
    "invoices",
    "orders",
    "deliveries",
    "acl",
    "smart_tags",
];

/// Business segments and workforce brackets companies refer to by id.
const BUSINESS_SEGMENTS: &[(i64, &str)] = &[
    (1, "Industry"),
    (2, "Services"),
    (3, "Retail"),
    (4, "Public sector"),
];
const EMPLOYEE_BRACKETS: &[(i64, &str)] = &[(1, "1-9"), (2, "10-49"), (3, "50-249"), (4, "250+")];

impl Party {
    pub fn owner(self) -> Owner {
        match self {
            Party::Contact => Owner::Contact,
            Party::Company => Owner::Company,
            Party::Individual => Owner::Individual,
        }
    }

    pub fn what(self) -> &'static str {
        match self {
            Party::Contact => "Contact",
            Party::Company => "Company",
            Party::Individual => "Individual",
        }
    }

    /// Accepted `order` values, the default first.
    fn orders(self) -> &'static [&'static str] {
        match self {
            Party::Contact => &["id", "name", "created_at"],
            _ => &["id", "name", "created_at", "updated_at"],
        }
    }

    pub fn embeds(self) -> &'static [&'static str] {
        match self {
            Party::Contact => CONTACT_EMBEDS,
            _ => THIRD_EMBEDS,
        }
    }

    fn updated_key(self) -> &'static str {
        match self {
            Party::Contact => "updated",
            _ => "updated_at",
        }
    }

    fn create_rules(self) -> [&'static [Rule]; 3] {
        match self {
            Party::Contact => [CONTACT_COMMON, CONTACT_CREATE, &[]],
            Party::Company => [THIRD_COMMON, COMPANY_COMMON, COMPANY_CREATE],
            Party::Individual => [THIRD_COMMON, INDIVIDUAL_COMMON, INDIVIDUAL_CREATE],
        }
    }

    fn update_rules(self) -> [&'static [Rule]; 3] {
        match self {
            Party::Contact => [CONTACT_COMMON, CONTACT_UPDATE, &[]],
            Party::Company => [THIRD_COMMON, COMPANY_COMMON, COMPANY_UPDATE],
            Party::Individual => [THIRD_COMMON, INDIVIDUAL_COMMON, INDIVIDUAL_UPDATE],
        }
    }

    fn filter_rules(self) -> &'static [Rule] {
        match self {
            Party::Contact => CONTACT_FILTERS,
            Party::Company => COMPANY_FILTERS,
            Party::Individual => INDIVIDUAL_FILTERS,
        }
    }

    /// A new record with every property present.
    pub fn blank(self, now: &str) -> Record {
        let social = json!({"twitter": null, "facebook": null, "linkedin": null, "viadeo": null});
        let sync = json!({"mailchimp": false, "mailjet": false, "simplemail": false});
        let owner = json!({"id": ME, "type": "staff"});
        let value = match self {
            Party::Contact => json!({
                "id": 0, "civility": null, "first_name": null, "last_name": "", "email": null,
                "website": null, "phone_number": null, "mobile_number": null, "fax_number": null,
                "position": null, "birth_date": null, "avatar": null, "note": "",
                "invoicing_address_id": null, "delivery_address_id": null, "social": social,
                "sync": sync, "owner": owner, "created": now, "updated": now, "is_archived": false,
                "marketing_campaigns_subscriptions": [],
            }),
            Party::Company => json!({
                "id": 0, "type": "prospect", "name": "", "email": null, "website": null,
                "phone_number": null, "mobile_number": null, "fax_number": null,
                "legal_france": {"siret": null, "siren": null, "vat": null, "ape_naf_code": null,
                                 "company_type": null, "rcs_immatriculation": null},
                "capital": null, "reference": null, "note": "", "auxiliary_code": null, "social": social,
                "rate_category_id": null, "main_contact_id": null, "dunning_contact_id": null,
                "invoicing_contact_id": null, "invoicing_address_id": null, "delivery_address_id": null,
                "accounting_code_id": null, "accounting_purchase_code_id": null, "owner": owner,
                "created": now, "updated_at": now, "is_archived": false, "business_segment": null,
                "number_of_employees": null, "marketing_campaigns_subscriptions": [],
            }),
            Party::Individual => json!({
                "id": 0, "type": "prospect", "last_name": "", "first_name": null, "civility": null,
                "email": null, "website": null, "phone_number": null, "mobile_number": null,
                "fax_number": null, "reference": null, "note": "", "auxiliary_code": null,
                "social": social, "rate_category_id": null, "main_contact_id": null,
                "dunning_contact_id": null, "invoicing_contact_id": null, "invoicing_address_id": null,
                "delivery_address_id": null, "accounting_code_id": null,
                "accounting_purchase_code_id": null, "owner": owner, "created": now, "updated_at": now,
                "is_archived": false, "marketing_campaigns_subscriptions": [], "sync": sync,
            }),
        };
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// The webhook change describing an event on `record`.
    pub fn change(self, record: &Record, action: &'static str) -> Change {
        let id = record.get("id").and_then(Value::as_i64).unwrap_or_default();
        let third_type = record
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("prospect")
            .to_string();
        let object = Value::Object(record.clone());
        match self {
            Party::Contact => Change::new("people", "people", action, id, object),
            Party::Company => {
                Change::new(&third_type, "third", action, id, object).third(&third_type, false)
            }
            Party::Individual => {
                Change::new(&third_type, "third", action, id, object).third(&third_type, true)
            }
        }
    }
}

pub fn sort_key(party: Party, record: &Record, order: &str) -> SortValue {
    match order {
        "name" => {
            let text = |k: &str| {
                record
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_lowercase()
            };
            SortValue::Text(match party {
                Party::Company => text("name"),
                _ => format!("{} {}", text("last_name"), text("first_name"))
                    .trim()
                    .to_string(),
            })
        }
        "created_at" => time_key(record, "created"),
        "updated_at" => time_key(record, party.updated_key()),
        _ => id_key(record),
    }
}

/// A record with its `_embed`, ready to project.
pub fn render(store: &Store, party: Party, record: &Record, embeds: &Embeds) -> Value {
    embed::attach(
        record.clone(),
        embed::party(store, party.owner(), record, embeds),
    )
}

/// Contacts linked to a company or an individual.
fn is_linked(store: &Store, contact: i64) -> bool {
    store.company_contacts.keys().any(|(_, c)| *c == contact)
        || store.individual_contacts.iter().any(|(_, c)| *c == contact)
}

/// The address a contact's "main address" filters look at (its invoicing address).
fn main_address<'a>(store: &'a Store, record: &Record) -> Option<&'a Record> {
    let id = record.get("invoicing_address_id").and_then(Value::as_i64)?;
    store.addresses.get(id)
}

fn matches(store: &Store, party: Party, record: &Record, filters: &Map<String, Value>) -> bool {
    let id = record.get("id").and_then(Value::as_i64).unwrap_or_default();
    filters.iter().all(|(key, wanted)| {
        if wanted.as_array().is_some_and(Vec::is_empty) {
            return true;
        }
        match (party, key.as_str()) {
            (_, "id") => ids(wanted).contains(&id),
            (_, "created") => in_time_range(record.get("created"), wanted),
            (Party::Contact, "updated") => in_time_range(record.get("updated"), wanted),
            (Party::Company | Party::Individual, "updated_at") => {
                in_time_range(record.get("updated_at"), wanted)
            }
            (_, "email") => same_text(record.get("email"), wanted),
            (Party::Contact, "last_name") => same_text(record.get("last_name"), wanted),
            (Party::Contact, "phone_number" | "mobile_number") => {
                same_string(record.get(key.as_str()), wanted)
            }
            (Party::Contact, "birth_date") => in_date_range(record.get("birth_date"), wanted),
            (Party::Contact, "companies") => {
                let wanted = ids(wanted);
                store
                    .company_contacts
                    .keys()
                    .any(|(co, c)| *c == id && wanted.contains(co))
            }
            (Party::Contact, "individuals") => {
                let wanted = ids(wanted);
                store
                    .individual_contacts
                    .iter()
                    .any(|(ind, c)| *c == id && wanted.contains(ind))
            }
            (Party::Contact, "is_linked") => wanted.as_bool() == Some(is_linked(store, id)),
            (Party::Contact, "country_code") => main_address(store, record)
                .is_some_and(|a| same_text(a.get("country_code"), wanted)),
            (Party::Contact, "postal_code") => main_address(store, record)
                .and_then(|a| a.get("postal_code").and_then(Value::as_str))
                .is_some_and(|pc| strings(wanted).contains(&pc)),
            (Party::Company, "name") => same_text(record.get("name"), wanted),
            (Party::Individual, "name") => {
                same_text(record.get("last_name"), wanted)
                    || wanted
                        .as_str()
                        .is_some_and(|w| embed::display_name(record).eq_ignore_ascii_case(w))
            }
            (Party::Company | Party::Individual, "type") => record
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| strings(wanted).contains(&t)),
            (Party::Company | Party::Individual, "is_archived") => {
                record.get("is_archived") == Some(wanted)
            }
            (Party::Company, "contacts") => {
                let wanted = ids(wanted);
                store
                    .company_contacts
                    .keys()
                    .any(|(co, c)| *co == id && wanted.contains(c))
            }
            (Party::Company, "siret") => same_string(record.pointer("/legal_france/siret"), wanted),
            (Party::Company, "country_code" | "postal_code") => false,
            // favourite_filter and unknown keys do not narrow the search.
            _ => true,
        }
    })
}

pub async fn list(party: Party, state: Arc<SellsyState>, raw: Option<String>) -> Reply {
    search_rows(party, &state, raw, None)
}

pub async fn search(
    party: Party,
    state: Arc<SellsyState>,
    raw: Option<String>,
    body: Bytes,
) -> Reply {
    let body = json_body_or(&body, json!({ "filters": {} }))?;
    let object = check_object(&body, &[party.filter_rules()])?;
    let filters = object
        .get("filters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    search_rows(party, &state, raw, Some(&filters))
}

fn search_rows(
    party: Party,
    state: &SellsyState,
    raw: Option<String>,
    filters: Option<&Map<String, Value>>,
) -> Reply {
    let q = QueryParams::parse(raw.as_deref());
    let list = q.list(party.orders())?;
    let embeds = q.embeds(party.embeds(), true)?;
    let fields = q.fields()?;
    let store = state.store();
    let rows = store
        .owner_table(party.owner())
        .rows
        .iter()
        .filter(|(_, r)| filters.is_none_or(|f| matches(&store, party, r, f)))
        .map(|(id, r)| Row {
            key: sort_key(party, r, list.order),
            id: *id,
            item: r,
        })
        .collect();
    respond::list(rows, &list, &fields, |r| render(&store, party, r, &embeds))
}

pub async fn get(party: Party, state: Arc<SellsyState>, id: String, raw: Option<String>) -> Reply {
    let id = parse_id(&id, party.what())?;
    let q = QueryParams::parse(raw.as_deref());
    let embeds = q.embeds(party.embeds(), true)?;
    let fields = q.fields()?;
    let store = state.store();
    let record = store
        .owner_table(party.owner())
        .get(id)
        .ok_or_else(|| ApiError::not_found(party.what(), id))?;
    respond::ok(super::projection::project(
        render(&store, party, record, &embeds),
        &fields,
    ))
}

/// `owner_id`, when given, must name a staff member.
fn check_owner(store: &Store, body: &Map<String, Value>) -> Result<(), ApiError> {
    match body.get("owner_id").and_then(Value::as_i64) {
        Some(id) if !store.staffs.contains(id) => {
            Err(ApiError::invalid_field("owner_id", "no staff with this id"))
        }
        _ => Ok(()),
    }
}

fn labelled(table: &[(i64, &str)], id: i64) -> Value {
    let label = table
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, l)| l.to_string())
        .unwrap_or_else(|| format!("#{id}"));
    json!({ "id": id, "label": label })
}

/// Turn write-only inputs into their read shape (`owner_id` → `owner`, segment ids → objects).
fn normalise(record: &mut Record) {
    if let Some(owner) = record.remove("owner_id") {
        if let Some(id) = owner.as_i64() {
            record.insert("owner".into(), json!({ "id": id, "type": "staff" }));
        }
    }
    for (key, table) in [
        ("business_segment", BUSINESS_SEGMENTS),
        ("number_of_employees", EMPLOYEE_BRACKETS),
    ] {
        if let Some(id) = record.get(key).and_then(Value::as_i64) {
            record.insert(key.into(), labelled(table, id));
        }
    }
}

pub async fn create(
    party: Party,
    state: Arc<SellsyState>,
    raw: Option<String>,
    body: Bytes,
) -> Reply {
    let q = QueryParams::parse(raw.as_deref());
    let verify = q.verify()?;
    let embeds = q.embeds(party.embeds(), true)?;
    let fields = q.fields()?;
    let body = json_body(&body)?;
    let rules = party.create_rules();
    let object = check_object(&body, &rules)?;
    let mut store = state.store();
    check_owner(&store, object)?;
    if verify {
        return respond::no_content();
    }
    let now = clock::now_string();
    let mut record = party.blank(&now);
    copy_all(object, &rules, &mut record);
    normalise(&mut record);
    let id = store.owner_table_mut(party.owner()).insert(record);
    let record = store
        .owner_table(party.owner())
        .get(id)
        .cloned()
        .unwrap_or_default();
    state.notify(&store, party.change(&record, "created"));
    let rendered = render(&store, party, &record, &embeds);
    respond::created(super::projection::project(rendered, &fields))
}

pub async fn update(
    party: Party,
    state: Arc<SellsyState>,
    id: String,
    raw: Option<String>,
    body: Bytes,
) -> Reply {
    let id = parse_id(&id, party.what())?;
    let q = QueryParams::parse(raw.as_deref());
    let verify = q.verify()?;
    let embeds = q.embeds(party.embeds(), true)?;
    let fields = q.fields()?;
    let body = json_body_or(&body, json!({}))?;
    let rules = party.update_rules();
    let mut store = state.store();
    if !store.owner_table(party.owner()).contains(id) {
        return Err(ApiError::not_found(party.what(), id));
    }
    let object = check_object(&body, &rules)?;
    check_owner(&store, object)?;
    if verify {
        return respond::no_content();
    }
    let mut writable = object.clone();
    writable.remove("created");
    let record = touch(&mut store, party, id, |record| {
        copy_all(&writable, &rules, record);
        normalise(record);
    })?;
    state.notify(&store, party.change(&record, "updated"));
    let rendered = render(&store, party, &record, &embeds);
    respond::ok(super::projection::project(rendered, &fields))
}

/// Apply `change` to a stored party, stamp its update time, and return the new record.
pub fn touch(
    store: &mut Store,
    party: Party,
    id: i64,
    change: impl FnOnce(&mut Record),
) -> Result<Record, ApiError> {
    let record = store
        .owner_table_mut(party.owner())
        .get_mut(id)
        .ok_or_else(|| ApiError::not_found(party.what(), id))?;
    change(record);
    record.insert(
        party.updated_key().into(),
        Value::String(clock::now_string()),
    );
    Ok(record.clone())
}

pub async fn delete(party: Party, state: Arc<SellsyState>, id: String) -> Reply {
    let id = parse_id(&id, party.what())?;
    let mut store = state.store();
    let record = store
        .owner_table_mut(party.owner())
        .remove(id)
        .ok_or_else(|| ApiError::not_found(party.what(), id))?;
    store.forget_owner(party.owner(), id);
    state.notify(&store, party.change(&record, "deleted"));
    respond::no_content()
}
