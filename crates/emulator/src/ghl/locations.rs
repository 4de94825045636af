//! Locations (sub-accounts) and the location's custom fields.
//!
//! The emulator serves one location, the configured one, with its data; Create Location
//! (agency token) adds more locations that List Locations and Find Location by ID show
//! (their records only: contacts and the rest live in the configured location). A
//! Location token sees only its own location (another id → 403); an agency token sees
//! every location of its company. Unknown ids → 400 `Location not found`.
//!
//! Custom fields: `/locations/{locationId}/customFields[/{id}]` list (`model`
//! filter), get, create, update and delete the definitions contacts validate their
//! `customFields` values against (new fields are usable in contact writes at once).
//!
//! [`OtherData`] is this category's part of the store: conversations, created locations,
//! associations and blogs.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::associations::Associations;
use super::blogs::Blogs;
use super::context::{Ctx, Reply};
use super::conversations::Conversations;
use super::custom_fields::{CustomFieldDef, FieldType};
use super::errors::ApiError;
use super::ids::iso;
use super::store::Store;
use super::webhooks::Event;

/// The store's data for the conversations and "other" catalog categories.
#[derive(Debug, Default)]
pub struct OtherData {
    pub conversations: Conversations,
    /// Locations created through Create Location, in creation order.
    pub locations: Vec<Location>,
    pub associations: Associations,
    pub blogs: Blogs,
}

/// A location record.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub id: String,
    pub company_id: String,
    pub date_added: DateTime<Utc>,
    /// `name, phone, email, address, city, state, country, postalCode, website,
    /// timezone, firstName, lastName`.
    pub fields: Map<String, Value>,
    pub settings: Map<String, Value>,
    pub social: Map<String, Value>,
}

const TEXT_FIELDS: &[&str] = &[
    "name",
    "phone",
    "address",
    "city",
    "state",
    "country",
    "postalCode",
    "website",
    "timezone",
];

impl Location {
    fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    fn settings(&self) -> Value {
        let mut s = self.settings.clone();
        for key in [
            "allowDuplicateContact",
            "allowDuplicateOpportunity",
            "allowFacebookNameMerge",
            "disableContactTimezone",
        ] {
            s.entry(key).or_insert(Value::Bool(false));
        }
        Value::Object(s)
    }

    fn base(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        for (k, v) in &self.fields {
            if !matches!(k.as_str(), "firstName" | "lastName") {
                m.insert(k.clone(), v.clone());
            }
        }
        m.insert("settings".into(), self.settings());
        m.insert("social".into(), Value::Object(self.social.clone()));
        m
    }

    /// An item of List Locations (`GetLocationSchema`).
    pub fn render_listed(&self) -> Value {
        Value::Object(self.base())
    }

    /// Find Location by ID (`GetLocationByIdSchema`).
    pub fn render_full(&self) -> Value {
        let mut m = self.base();
        m.insert("companyId".into(), json!(self.company_id));
        m.insert("domain".into(), json!(""));
        for k in ["firstName", "lastName"] {
            if let Some(v) = self.fields.get(k) {
                m.insert(k.into(), v.clone());
            }
        }
        let mut business = Map::new();
        for k in [
            "name",
            "address",
            "city",
            "state",
            "country",
            "postalCode",
            "website",
            "timezone",
        ] {
            if let Some(v) = self.fields.get(k) {
                business.insert(k.into(), v.clone());
            }
        }
        m.insert("business".into(), Value::Object(business));
        Value::Object(m)
    }

    /// Create Location's answer (`CreateLocationSuccessfulResponseDto`).
    fn render_created(&self) -> Value {
        let mut m = self.base();
        m.insert("companyId".into(), json!(self.company_id));
        m.insert("domain".into(), json!(""));
        Value::Object(m)
    }
}

/// The configured location as a record (its settings follow the store).
pub fn configured(store: &Store) -> Location {
    let mut fields = Map::new();
    for (k, v) in [
        ("phone", "+15550000000"),
        ("email", "owner@emulator.example"),
        ("address", "1 Market Street"),
        ("city", "Austin"),
        ("state", "TX"),
        ("country", "US"),
        ("postalCode", "73301"),
        ("website", "https://emulator.example"),
        ("timezone", "America/Chicago"),
        ("firstName", "Emma"),
        ("lastName", "Owner"),
    ] {
        fields.insert(k.into(), json!(v));
    }
    fields.insert("name".into(), json!(store.location_name));
    let mut settings = Map::new();
    settings.insert(
        "allowDuplicateContact".into(),
        json!(store.allow_duplicates),
    );
    Location {
        id: store.location_id.clone(),
        company_id: store.company_id.clone(),
        date_added: DateTime::<Utc>::UNIX_EPOCH,
        fields,
        settings,
        social: Map::new(),
    }
}

fn location_not_found() -> ApiError {
    ApiError::bad_request("Location not found")
}

/// The locations the caller may see: its own (Location token) or every location of the
/// company (agency token).
fn visible(store: &Store, ctx: &Ctx) -> Vec<Location> {
    let own = ctx.grant.as_ref().and_then(|g| g.location_id.clone());
    let mut all = vec![configured(store)];
    all.extend(store.other.locations.iter().cloned());
    match own {
        Some(own) => all.into_iter().filter(|l| l.id == own).collect(),
        None => all,
    }
}

/// `GET /locations/search` over every location of the company (an agency token sees
/// them all, a Location token its own).
pub fn search_company(state: &super::state::GhlState, ctx: &Ctx) -> Result<Reply, ApiError> {
    let mut rows: Vec<Location> = Vec::new();
    for store in state.tenants.stores() {
        let store = super::state::lock(&store);
        for l in visible(&store, ctx) {
            if !rows.iter().any(|r| r.id == l.id) {
                rows.push(l);
            }
        }
    }
    search_rows(rows, ctx)
}

/// `GET /locations/search` over one store's locations.
pub fn search(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    search_rows(visible(store, ctx), ctx)
}

fn search_rows(rows: Vec<Location>, ctx: &Ctx) -> Result<Reply, ApiError> {
    let skip = usize::try_from(ctx.query_number("skip", 0, 0, None)?).unwrap_or(0);
    let limit = usize::try_from(ctx.query_number("limit", 10, 1, Some(1000))?).unwrap_or(10);
    let order = ctx.query("order").unwrap_or("asc");
    if !matches!(order, "asc" | "desc") {
        return Err(ApiError::unprocessable(
            "order must be one of the following values: asc, desc",
        ));
    }
    let email = ctx.query("email").map(str::to_lowercase);
    let mut rows: Vec<Location> = rows
        .into_iter()
        .filter(|l| ctx.query("companyId").is_none_or(|c| l.company_id == c))
        .filter(|l| {
            email
                .as_ref()
                .is_none_or(|e| l.text("email").is_some_and(|x| x.to_lowercase() == *e))
        })
        .collect();
    rows.sort_by(|a, b| {
        a.date_added
            .cmp(&b.date_added)
            .then_with(|| a.id.cmp(&b.id))
    });
    if order == "desc" {
        rows.reverse();
    }
    let page: Vec<Value> = rows
        .iter()
        .skip(skip)
        .take(limit)
        .map(Location::render_listed)
        .collect();
    Ok(Reply::ok(ctx, json!({ "locations": page })))
}

/// `GET /locations/{locationId}`.
pub fn get(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("locationId");
    if let Some(own) = ctx.grant.as_ref().and_then(|g| g.location_id.as_deref()) {
        if own != id {
            return Err(ApiError::LocationForbidden);
        }
    }
    let location = visible(store, ctx)
        .into_iter()
        .find(|l| l.id == id)
        .ok_or_else(location_not_found)?;
    Ok(Reply::ok(
        ctx,
        json!({ "location": location.render_full() }),
    ))
}

/// `POST /locations/` (agency token).
pub fn create(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let company = ctx.body_str("companyId").unwrap_or_default();
    let own_company = ctx
        .grant
        .as_ref()
        .map(|g| g.company_id.as_str())
        .unwrap_or(store.company_id.as_str());
    if company != own_company {
        return Err(ApiError::bad_request(
            "companyId does not match the token's company",
        ));
    }
    let name = ctx.body_str("name").unwrap_or_default().trim().to_string();
    if name.is_empty() {
        return Err(ApiError::unprocessable("name should not be empty"));
    }
    let mut fields = Map::new();
    for k in TEXT_FIELDS {
        if let Some(v) = ctx.body_str(k) {
            fields.insert((*k).into(), json!(if *k == "name" { &name } else { v }));
        }
    }
    if let Some(p) = ctx.body.get("prospectInfo").and_then(Value::as_object) {
        for (from, to) in [
            ("firstName", "firstName"),
            ("lastName", "lastName"),
            ("email", "email"),
        ] {
            if let Some(v) = p.get(from).and_then(Value::as_str) {
                fields.insert(to.into(), json!(v));
            }
        }
    }
    let object = |k: &str| {
        ctx.body
            .get(k)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let now = store.now();
    let location = Location {
        id: store.new_id(),
        company_id: company.to_string(),
        date_added: now,
        fields,
        settings: object("settings"),
        social: object("social"),
    };
    let mut event = Map::new();
    event.insert("id".into(), json!(location.id));
    event.insert("companyId".into(), json!(location.company_id));
    event.insert("name".into(), json!(name));
    if let Some(e) = location.text("email") {
        event.insert("email".into(), json!(e));
    }
    event.insert("dateAdded".into(), json!(iso(now)));
    let body = location.render_created();
    store.other.locations.push(location);
    Ok(Reply::ok(ctx, body).with_events(vec![Event::new("LocationCreate", event)]))
}

// --- custom fields ---------------------------------------------------------------

/// The path's `locationId` must be the token's (configured) location.
fn own_location(store: &Store, ctx: &Ctx) -> Result<(), ApiError> {
    if ctx.path("locationId") == store.location_id {
        Ok(())
    } else {
        Err(ApiError::LocationForbidden)
    }
}

fn field_not_found() -> ApiError {
    ApiError::bad_request("Custom field not found")
}

/// `GET /locations/{locationId}/customFields?model=contact|opportunity|all`.
pub fn list_custom_fields(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    own_location(store, ctx)?;
    let model = ctx.query("model").unwrap_or("all");
    let mut defs: Vec<&CustomFieldDef> = store
        .custom_fields
        .iter()
        .filter(|d| model == "all" || d.model == model)
        .collect();
    defs.sort_by_key(|d| d.position);
    let fields: Vec<Value> = defs
        .iter()
        .enumerate()
        .map(|(i, d)| d.render(&store.location_id, i))
        .collect();
    Ok(Reply::ok(ctx, json!({ "customFields": fields })))
}

/// `GET /locations/{locationId}/customFields/{id}`.
pub fn get_custom_field(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    own_location(store, ctx)?;
    let def = store
        .custom_fields
        .iter()
        .find(|d| d.id == ctx.path("id"))
        .ok_or_else(field_not_found)?;
    Ok(Reply::ok(
        ctx,
        json!({ "customField": def.render(&store.location_id, 0) }),
    ))
}

/// Options of a picklist field: `textBoxListOptions` labels (strings or `{label}`).
fn options_of(body: &Value) -> Option<Vec<String>> {
    let items = body.get("textBoxListOptions")?.as_array()?;
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let label = match item {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o
                .get("label")
                .or_else(|| o.get("prefillValue"))
                .and_then(Value::as_str)
                .map(str::to_string),
            _ => None,
        };
        if let Some(l) = label
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
        {
            if !out.contains(&l) {
                out.push(l);
            }
        }
    }
    Some(out)
}

/// `snake_case` key from a field name (`Lead Score` → `lead_score`).
fn key_from_name(name: &str) -> String {
    let mut key = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.ends_with('_') && !key.is_empty() {
            key.push('_');
        }
    }
    let key = key.trim_end_matches('_').to_string();
    if key.is_empty() {
        "field".into()
    } else {
        key
    }
}

fn position_of(body: &Value) -> Option<i64> {
    body.get("position")
        .and_then(Value::as_f64)
        .filter(|f| f.is_finite())
        // Saturating cast of a finite value.
        .map(|f| f as i64)
}

/// `POST /locations/{locationId}/customFields`.
pub fn create_custom_field(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    own_location(store, ctx)?;
    let name = ctx.body_str("name").unwrap_or_default().trim().to_string();
    if name.is_empty() {
        return Err(ApiError::unprocessable("name should not be empty"));
    }
    let raw_type = ctx.body_str("dataType").unwrap_or_default();
    let data_type = FieldType::parse(raw_type).ok_or_else(|| {
        ApiError::unprocessable(format!(
            "dataType must be one of the following values: {}",
            FieldType::ALL.map(FieldType::as_str).join(", ")
        ))
    })?;
    let model: &'static str = match ctx.body_str("model") {
        Some("opportunity") => "opportunity",
        _ => "contact",
    };
    let options = options_of(&ctx.body).unwrap_or_default();
    if data_type.has_options() && options.is_empty() {
        return Err(ApiError::unprocessable(format!(
            "textBoxListOptions should not be empty for a {} field",
            data_type.as_str()
        )));
    }
    let base = key_from_name(&name);
    let mut key = format!("{model}.{base}");
    let mut n = 1;
    while store.custom_fields.iter().any(|d| d.key == key) {
        n += 1;
        key = format!("{model}.{base}_{n}");
    }
    if store
        .custom_fields
        .iter()
        .any(|d| d.model == model && d.name.eq_ignore_ascii_case(&name))
    {
        return Err(ApiError::bad_request(format!(
            "A custom field named {name} already exists"
        )));
    }
    let position = position_of(&ctx.body).unwrap_or_else(|| {
        store
            .custom_fields
            .iter()
            .map(|d| d.position + 50)
            .max()
            .unwrap_or(0)
    });
    let def = CustomFieldDef {
        id: store.new_id(),
        key,
        name,
        data_type,
        options: if data_type.has_options() {
            options
        } else {
            Vec::new()
        },
        placeholder: ctx.body_str("placeholder").unwrap_or_default().to_string(),
        position,
        model,
    };
    let body = json!({ "customField": def.render(&store.location_id, 0) });
    store.custom_fields.push(def);
    Ok(Reply::ok(ctx, body))
}

/// `PUT /locations/{locationId}/customFields/{id}`: name, placeholder, position,
/// options (the key and type never change).
pub fn update_custom_field(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    own_location(store, ctx)?;
    let id = ctx.path("id").to_string();
    let name = ctx.body_str("name").unwrap_or_default().trim().to_string();
    if name.is_empty() {
        return Err(ApiError::unprocessable("name should not be empty"));
    }
    let options = options_of(&ctx.body);
    let position = position_of(&ctx.body);
    let location_id = store.location_id.clone();
    let def = store
        .custom_fields
        .iter_mut()
        .find(|d| d.id == id)
        .ok_or_else(field_not_found)?;
    if let Some(model) = ctx.body_str("model") {
        if model != def.model {
            return Err(ApiError::bad_request(
                "The model of a custom field cannot be changed",
            ));
        }
    }
    if let Some(options) = options {
        if def.data_type.has_options() {
            if options.is_empty() {
                return Err(ApiError::unprocessable(
                    "textBoxListOptions should not be empty",
                ));
            }
            def.options = options;
        }
    }
    def.name = name;
    if let Some(p) = ctx.body_str("placeholder") {
        def.placeholder = p.to_string();
    }
    if let Some(p) = position {
        def.position = p;
    }
    Ok(Reply::ok(
        ctx,
        json!({ "customField": def.render(&location_id, 0) }),
    ))
}

/// `DELETE /locations/{locationId}/customFields/{id}`: the definition and every
/// contact's value for it.
pub fn delete_custom_field(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    own_location(store, ctx)?;
    let id = ctx.path("id");
    let pos = store
        .custom_fields
        .iter()
        .position(|d| d.id == id)
        .ok_or_else(field_not_found)?;
    store.custom_fields.remove(pos);
    for contact in store.contacts.values_mut() {
        contact.custom_fields.retain(|v| v.id != id);
    }
    Ok(Reply::ok(ctx, json!({ "succeded": true })))
}
