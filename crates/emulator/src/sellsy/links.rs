//! The many-to-many links between contacts and companies or individuals.
//!
//! Linking answers 201 when the link is new and 200 when it already existed. A company
//! link body may carry roles (`contact_type_main`, `contact_type_invoicing`,
//! `contact_type_dunning`), which set the company's `*_contact_id`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::paging::{Row, SortValue};
use super::parties::{render, sort_key, touch, Party};
use super::query::{optional_json, ListQuery, QueryParams};
use super::respond::{self, parse_id, Reply};
use super::store::Store;
use super::SellsyState;

const ROLES: &[(&str, &str)] = &[
    ("contact_type_main", "main_contact_id"),
    ("contact_type_invoicing", "invoicing_contact_id"),
    ("contact_type_dunning", "dunning_contact_id"),
];

fn ids(store: &Store, party: Party, third: &str, contact: &str) -> Result<(i64, i64), ApiError> {
    let third = parse_id(third, party.what())?;
    let contact = parse_id(contact, "Contact")?;
    if !store.owner_table(party.owner()).contains(third) {
        return Err(ApiError::not_found(party.what(), third));
    }
    if !store.contacts.contains(contact) {
        return Err(ApiError::not_found("Contact", contact));
    }
    Ok((third, contact))
}

fn link_body(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match optional_json(bytes)? {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => {
            for (flag, _) in ROLES {
                if m.get(*flag)
                    .is_some_and(|v| !v.is_boolean() && !v.is_null())
                {
                    return Err(ApiError::invalid_field(flag, "must be a boolean"));
                }
            }
            Ok(m)
        }
        Some(_) => Err(ApiError::invalid_field("body", "must be a JSON object")),
    }
}

/// Apply role flags of a link body to the company.
fn apply_roles(
    store: &mut Store,
    company: i64,
    contact: i64,
    body: &Map<String, Value>,
) -> Result<(), ApiError> {
    if ROLES
        .iter()
        .all(|(flag, _)| body.get(*flag).and_then(Value::as_bool).is_none())
    {
        return Ok(());
    }
    touch(store, Party::Company, company, |record| {
        for (flag, field) in ROLES {
            match body.get(*flag).and_then(Value::as_bool) {
                Some(true) => {
                    record.insert(field.to_string(), Value::from(contact));
                }
                Some(false) if record.get(*field).and_then(Value::as_i64) == Some(contact) => {
                    record.insert(field.to_string(), Value::Null);
                }
                _ => {}
            }
        }
    })
    .map(|_| ())
}

pub async fn link_company(
    state: Arc<SellsyState>,
    company: String,
    contact: String,
    body: Bytes,
) -> Reply {
    let body = link_body(&body)?;
    let mut store = state.store();
    let (company, contact) = ids(&store, Party::Company, &company, &contact)?;
    let created = store
        .company_contacts
        .insert((company, contact), Value::Object(body.clone()))
        .is_none();
    apply_roles(&mut store, company, contact, &body)?;
    let record = touch(&mut store, Party::Company, company, |_| {})?;
    state.notify(&store, Party::Company.change(&record, "updated"));
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(status.into_response())
}

pub async fn update_company_link(
    state: Arc<SellsyState>,
    company: String,
    contact: String,
    body: Bytes,
) -> Reply {
    let body = link_body(&body)?;
    let mut store = state.store();
    let (company, contact) = ids(&store, Party::Company, &company, &contact)?;
    match store.company_contacts.get_mut(&(company, contact)) {
        Some(link) => *link = Value::Object(body.clone()),
        None => return Err(ApiError::not_found("Link to contact", contact)),
    }
    apply_roles(&mut store, company, contact, &body)?;
    let record = touch(&mut store, Party::Company, company, |_| {})?;
    state.notify(&store, Party::Company.change(&record, "updated"));
    Ok(StatusCode::OK.into_response())
}

pub async fn unlink_company(state: Arc<SellsyState>, company: String, contact: String) -> Reply {
    let mut store = state.store();
    let (company, contact) = ids(&store, Party::Company, &company, &contact)?;
    if store.company_contacts.remove(&(company, contact)).is_none() {
        return Err(ApiError::not_found("Link to contact", contact));
    }
    let record = touch(&mut store, Party::Company, company, |c| {
        for (_, field) in ROLES {
            if c.get(*field).and_then(Value::as_i64) == Some(contact) {
                c.insert(field.to_string(), Value::Null);
            }
        }
    })?;
    state.notify(&store, Party::Company.change(&record, "updated"));
    respond::no_content()
}

pub async fn link_individual(
    state: Arc<SellsyState>,
    individual: String,
    contact: String,
) -> Reply {
    let mut store = state.store();
    let (individual, contact) = ids(&store, Party::Individual, &individual, &contact)?;
    let created = store.individual_contacts.insert((individual, contact));
    let record = touch(&mut store, Party::Individual, individual, |_| {})?;
    state.notify(&store, Party::Individual.change(&record, "updated"));
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(status.into_response())
}

pub async fn unlink_individual(
    state: Arc<SellsyState>,
    individual: String,
    contact: String,
) -> Reply {
    let mut store = state.store();
    let (individual, contact) = ids(&store, Party::Individual, &individual, &contact)?;
    if !store.individual_contacts.remove(&(individual, contact)) {
        return Err(ApiError::not_found("Link to contact", contact));
    }
    let record = touch(&mut store, Party::Individual, individual, |_| {})?;
    state.notify(&store, Party::Individual.change(&record, "updated"));
    respond::no_content()
}

/// `GET /companies/{id}/contacts` and `GET /individuals/{id}/contacts`.
pub async fn contacts_of(
    party: Party,
    state: Arc<SellsyState>,
    id: String,
    raw: Option<String>,
) -> Reply {
    let id = parse_id(&id, party.what())?;
    let q = QueryParams::parse(raw.as_deref());
    let list = q.list_any_order(&["id", "name", "created_at"])?;
    let embeds = q.embeds(Party::Contact.embeds(), true)?;
    let fields = q.fields()?;
    let store = state.store();
    if !store.owner_table(party.owner()).contains(id) {
        return Err(ApiError::not_found(party.what(), id));
    }
    let contacts: Vec<i64> = match party {
        Party::Company => store
            .company_contacts
            .keys()
            .filter(|(c, _)| *c == id)
            .map(|(_, k)| *k)
            .collect(),
        _ => store
            .individual_contacts
            .iter()
            .filter(|(i, _)| *i == id)
            .map(|(_, k)| *k)
            .collect(),
    };
    let rows = contacts
        .into_iter()
        .filter_map(|k| store.contacts.get(k).map(|r| (k, r)))
        .map(|(k, r)| Row {
            key: sort_key(Party::Contact, r, list.order),
            id: k,
            item: r,
        })
        .collect();
    respond::list(rows, &list, &fields, |r| {
        render(&store, Party::Contact, r, &embeds)
    })
}

/// `GET /contacts/{id}/companies`.
pub async fn companies_of(state: Arc<SellsyState>, contact: String, raw: Option<String>) -> Reply {
    let contact = parse_id(&contact, "Contact")?;
    let fields = QueryParams::parse(raw.as_deref()).fields()?;
    let store = state.store();
    if !store.contacts.contains(contact) {
        return Err(ApiError::not_found("Contact", contact));
    }
    let no_embeds = Default::default();
    let rows: Vec<_> = store
        .company_contacts
        .keys()
        .filter(|(_, k)| *k == contact)
        .filter_map(|(c, _)| {
            store.companies.get(*c).map(|r| Row {
                key: SortValue::Int(*c),
                id: *c,
                item: r,
            })
        })
        .collect();
    let list = ListQuery::everything(rows.len());
    respond::list(rows, &list, &fields, |r| {
        render(&store, Party::Company, r, &no_embeds)
    })
}
