//! Users (`/users/...`): search, filter by email, get, list by location, create,
//! update, delete.
//!
//! Semantics:
//! - `companyId` must be the token's company (400 otherwise) and every `locationIds`
//!   entry the emulated location (403 otherwise).
//! - `type` is `account` (a location user; needs at least one location) or `agency`;
//!   `role` is `admin` or `user` (422 otherwise).
//! - Emails are unique among live users, case-insensitively (400
//!   `User with this email already exists`).
//! - Delete is a soft delete: the user disappears from get (400 `User not found`),
//!   search and location lists, and is found by filter-by-email with `deleted: true`
//!   (the filter matches users whose `deleted` flag equals the one sent, default false).
//! - `permissions` are rendered over the spec's defaults; `password` is never rendered.
//! - Webhook: UserCreate.

use serde_json::{json, Map, Value};

use super::context::{Ctx, Reply};
use super::crm::{crm, fresh_id, User};
use super::errors::ApiError;
use super::store::Store;
use super::webhooks::Event;

/// `PermissionsDto` defaults from the spec.
const PERMISSION_DEFAULTS: &[(&str, bool)] = &[
    ("campaignsEnabled", true),
    ("campaignsReadOnly", false),
    ("contactsEnabled", true),
    ("workflowsEnabled", true),
    ("workflowsReadOnly", false),
    ("triggersEnabled", true),
    ("funnelsEnabled", true),
    ("websitesEnabled", false),
    ("opportunitiesEnabled", true),
    ("dashboardStatsEnabled", true),
    ("bulkRequestsEnabled", true),
    ("appointmentsEnabled", true),
    ("reviewsEnabled", true),
    ("onlineListingsEnabled", true),
    ("phoneCallEnabled", true),
    ("conversationsEnabled", true),
    ("assignedDataOnly", false),
    ("adwordsReportingEnabled", false),
    ("membershipEnabled", false),
    ("facebookAdsReportingEnabled", false),
    ("attributionsReportingEnabled", false),
    ("settingsEnabled", true),
    ("tagsEnabled", true),
    ("leadValueEnabled", true),
    ("marketingEnabled", true),
    ("agentReportingEnabled", true),
    ("botService", false),
    ("socialPlanner", true),
    ("bloggingEnabled", true),
    ("invoiceEnabled", true),
    ("affiliateManagerEnabled", true),
    ("contentAiEnabled", true),
    ("refundsEnabled", true),
    ("recordPaymentEnabled", true),
    ("cancelSubscriptionEnabled", true),
    ("paymentsEnabled", true),
    ("communitiesEnabled", true),
    ("exportPaymentsEnabled", true),
];

fn not_found() -> ApiError {
    ApiError::bad_request("User not found")
}

fn permissions_of(u: &User) -> Map<String, Value> {
    let mut m: Map<String, Value> = PERMISSION_DEFAULTS
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::Bool(*v)))
        .collect();
    for (k, v) in &u.permissions {
        m.insert(k.clone(), v.clone());
    }
    m
}

fn full_name(u: &User) -> String {
    format!("{} {}", u.first_name, u.last_name)
        .trim()
        .to_string()
}

/// The user as `UserSuccessfulResponseDto` (`listed` adds `deleted`, as `UserSchema`).
fn render(u: &User, listed: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("name".into(), json!(full_name(u)));
    m.insert("firstName".into(), json!(u.first_name));
    m.insert("lastName".into(), json!(u.last_name));
    m.insert("email".into(), json!(u.email));
    if let Some(p) = &u.phone {
        m.insert("phone".into(), json!(p));
    }
    if let Some(e) = &u.extension {
        m.insert("extension".into(), json!(e));
    }
    m.insert("permissions".into(), Value::Object(permissions_of(u)));
    m.insert("scopes".into(), json!(u.scopes));
    m.insert(
        "roles".into(),
        json!({
            "type": u.kind,
            "role": u.role,
            "locationIds": u.location_ids,
            "restrictSubAccount": false,
        }),
    );
    if listed {
        m.insert("deleted".into(), json!(u.deleted));
    }
    if let Some(p) = &u.lc_phone {
        m.insert("lcPhone".into(), Value::Object(p.clone()));
    }
    if let Some(l) = &u.platform_language {
        m.insert("platformLanguage".into(), json!(l));
    }
    Value::Object(m)
}

fn check_company(store: &Store, company: Option<&str>) -> Result<(), ApiError> {
    match company {
        Some(c) if c != store.company_id => Err(ApiError::bad_request(
            "companyId does not match the token's company",
        )),
        _ => Ok(()),
    }
}

fn looks_like_email(e: &str) -> bool {
    let mut parts = e.splitn(2, '@');
    let local = parts.next().unwrap_or_default();
    let domain = parts.next().unwrap_or_default();
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(char::is_whitespace)
}

fn email_taken(store: &Store, email: &str, except: Option<&str>) -> bool {
    let email = email.to_lowercase();
    store
        .crm
        .users
        .values()
        .any(|u| !u.deleted && Some(u.id.as_str()) != except && u.email.to_lowercase() == email)
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

/// Apply a create/update body to `u`, checking what the table cannot.
fn apply(store: &Store, u: &mut User, body: &Map<String, Value>) -> Result<(), ApiError> {
    let mut problems = Vec::new();
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    for k in ["firstName", "lastName"] {
        if text(k).is_some_and(|s| s.trim().is_empty()) {
            problems.push(format!("{k} should not be empty"));
        }
    }
    if let Some(e) = text("email") {
        if !looks_like_email(e.trim()) {
            problems.push("email must be an email".to_string());
        }
    }
    if let Some(t) = text("type") {
        if !matches!(t.as_str(), "account" | "agency") {
            problems.push("type must be one of the following values: account, agency".into());
        }
    }
    if let Some(r) = text("role") {
        if !matches!(r.as_str(), "admin" | "user") {
            problems.push("role must be one of the following values: admin, user".into());
        }
    }
    if text("password").is_some_and(|p| p.is_empty()) {
        problems.push("password should not be empty".into());
    }
    if !problems.is_empty() {
        return Err(ApiError::Unprocessable(problems));
    }
    check_company(store, body.get("companyId").and_then(Value::as_str))?;
    if let Some(ids) = strings(body.get("locationIds")) {
        if ids.iter().any(|l| *l != store.location_id) {
            return Err(ApiError::LocationForbidden);
        }
        let mut unique: Vec<String> = Vec::new();
        for l in ids {
            if !unique.contains(&l) {
                unique.push(l);
            }
        }
        u.location_ids = unique;
    }
    if let Some(e) = text("email") {
        let e = e.trim().to_string();
        if email_taken(store, &e, Some(&u.id)) {
            return Err(ApiError::bad_request("User with this email already exists"));
        }
        u.email = e;
    }
    if let Some(v) = text("firstName") {
        u.first_name = v.trim().to_string();
    }
    if let Some(v) = text("lastName") {
        u.last_name = v.trim().to_string();
    }
    if let Some(v) = text("phone") {
        u.phone = Some(v).filter(|p| !p.is_empty());
    }
    if let Some(v) = text("type") {
        u.kind = v;
    }
    if let Some(v) = text("role") {
        u.role = v;
    }
    if let Some(Value::Object(p)) = body.get("permissions") {
        for (k, v) in p {
            u.permissions.insert(k.clone(), v.clone());
        }
    }
    if let Some(s) = strings(body.get("scopes")) {
        u.scopes = s;
    }
    if let Some(s) = strings(body.get("scopesAssignedToOnly")) {
        u.scopes_assigned_to_only = s;
    }
    if let Some(v) = text("profilePhoto") {
        u.profile_photo = Some(v);
    }
    if let Some(v) = text("platformLanguage") {
        u.platform_language = Some(v);
    }
    if let Some(Value::Object(p)) = body.get("twilioPhone") {
        u.lc_phone = Some(p.clone());
    }
    if u.kind == "account" && u.location_ids.is_empty() {
        return Err(ApiError::unprocessable("locationIds should not be empty"));
    }
    Ok(())
}

fn webhook_fields(u: &User, store: &Store) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("companyId".into(), json!(store.company_id));
    m.insert("id".into(), json!(u.id));
    m.insert("firstName".into(), json!(u.first_name));
    m.insert("lastName".into(), json!(u.last_name));
    m.insert("email".into(), json!(u.email));
    if let Some(p) = &u.phone {
        m.insert("phone".into(), json!(p));
    }
    m.insert("role".into(), json!(u.role));
    m.insert("permissions".into(), Value::Object(permissions_of(u)));
    m.insert("locations".into(), json!(u.location_ids));
    m
}

/// `POST /users/`.
pub fn create(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    crm(store, ctx);
    let now = store.now();
    let id = fresh_id(store);
    let mut u = User {
        id,
        first_name: String::new(),
        last_name: String::new(),
        email: String::new(),
        phone: None,
        extension: None,
        kind: "account".into(),
        role: "user".into(),
        location_ids: Vec::new(),
        permissions: Map::new(),
        scopes: Vec::new(),
        scopes_assigned_to_only: Vec::new(),
        profile_photo: None,
        platform_language: None,
        lc_phone: None,
        deleted: false,
        created_at: now,
    };
    apply(store, &mut u, &ctx.body_object())?;
    let events = vec![Event::new("UserCreate", webhook_fields(&u, store))];
    let body = render(&u, false);
    store.crm.users.insert(u.id.clone(), u);
    Ok(Reply::ok(ctx, body).with_events(events))
}

/// `GET /users/{userId}`.
pub fn get(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let u = crm(store, ctx)
        .user(ctx.path("userId"))
        .ok_or_else(not_found)?;
    Ok(Reply::ok(ctx, render(u, false)))
}

/// `PUT /users/{userId}`.
pub fn update(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let mut u = crm(store, ctx)
        .user(ctx.path("userId"))
        .ok_or_else(not_found)?
        .clone();
    apply(store, &mut u, &ctx.body_object())?;
    let body = render(&u, false);
    store.crm.users.insert(u.id.clone(), u);
    Ok(Reply::ok(ctx, body))
}

/// `DELETE /users/{userId}` (soft delete).
pub fn delete(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let crm = crm(store, ctx);
    let u = crm
        .users
        .get_mut(ctx.path("userId"))
        .filter(|u| !u.deleted)
        .ok_or_else(not_found)?;
    u.deleted = true;
    let message = format!("User {} ({}) deleted.", full_name(u), u.email);
    Ok(Reply::ok(
        ctx,
        json!({ "succeded": true, "message": message }),
    ))
}

/// `GET /users/` (deprecated): the location's users.
pub fn by_location(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let location = ctx.query("locationId").unwrap_or_default().to_string();
    let crm = crm(store, ctx);
    let mut users: Vec<&User> = crm
        .users
        .values()
        .filter(|u| !u.deleted && u.location_ids.contains(&location))
        .collect();
    users.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let list: Vec<Value> = users.iter().map(|u| render(u, true)).collect();
    Ok(Reply::ok(ctx, json!({ "users": list })))
}

fn matches_query(u: &User, q: &str) -> bool {
    if q.is_empty() {
        return true;
    }
    let q = q.to_lowercase();
    [
        full_name(u),
        u.email.clone(),
        u.phone.clone().unwrap_or_default(),
    ]
    .iter()
    .any(|h| h.to_lowercase().contains(&q))
}

/// A skip/limit pair given as strings (query or body).
fn number_of(raw: Option<&str>, name: &str, default: usize) -> Result<usize, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => s.parse::<usize>().map_err(|_| {
            ApiError::unprocessable(format!("{name} must be a non-negative integer string"))
        }),
    }
}

/// `GET /users/search`: `{users, count}` with skip/limit.
pub fn search(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    check_company(store, ctx.query("companyId"))?;
    let skip = number_of(ctx.query("skip"), "skip", 0)?;
    let limit = number_of(ctx.query("limit"), "limit", 25)?;
    let descending = match ctx.query("sortDirection").unwrap_or("asc") {
        "asc" => false,
        "desc" => true,
        _ => {
            return Err(ApiError::unprocessable(
                "sortDirection must be one of the following values: asc, desc",
            ))
        }
    };
    let sort = ctx.query("sort").unwrap_or("dateAdded");
    if !matches!(
        sort,
        "dateAdded" | "firstName" | "lastName" | "name" | "email"
    ) {
        return Err(ApiError::unprocessable(
            "sort must be one of the following values: dateAdded, firstName, lastName, name, email",
        ));
    }
    let ids: Option<Vec<&str>> = ctx.query("ids").map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    });
    let query = ctx.query("query").unwrap_or_default();
    // Users carry no two-way calendar sync here: asking for synced users finds none.
    let want_sync = ctx.query("enabled2waySync") == Some("true");
    let crm = crm(store, ctx);
    let mut users: Vec<&User> = crm
        .users
        .values()
        .filter(|u| !u.deleted)
        .filter(|u| {
            ctx.query("locationId")
                .is_none_or(|l| u.location_ids.iter().any(|x| x == l))
        })
        .filter(|u| ctx.query("type").is_none_or(|t| u.kind == t))
        .filter(|u| ctx.query("role").is_none_or(|r| u.role == r))
        .filter(|u| ids.as_ref().is_none_or(|ids| ids.contains(&u.id.as_str())))
        .filter(|u| matches_query(u, query))
        .filter(|_| !want_sync)
        .collect();
    users.sort_by(|a, b| {
        let ord = match sort {
            "firstName" => a
                .first_name
                .to_lowercase()
                .cmp(&b.first_name.to_lowercase()),
            "lastName" => a.last_name.to_lowercase().cmp(&b.last_name.to_lowercase()),
            "name" => full_name(a)
                .to_lowercase()
                .cmp(&full_name(b).to_lowercase()),
            "email" => a.email.to_lowercase().cmp(&b.email.to_lowercase()),
            _ => a.created_at.cmp(&b.created_at),
        }
        .then_with(|| a.id.cmp(&b.id));
        if descending {
            ord.reverse()
        } else {
            ord
        }
    });
    let count = users.len();
    let list: Vec<Value> = users
        .iter()
        .skip(skip)
        .take(limit)
        .map(|u| render(u, true))
        .collect();
    Ok(Reply::ok(ctx, json!({ "users": list, "count": count })))
}

/// `POST /users/search/filter-by-email`: `{users, count}`; `projection` is `all` or a
/// comma list of fields (default `id,email`).
pub fn filter_by_email(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    check_company(store, ctx.body_str("companyId"))?;
    let skip = number_of(ctx.body_str("skip"), "skip", 0)?;
    let limit = number_of(ctx.body_str("limit"), "limit", 25)?;
    let deleted = ctx
        .body
        .get("deleted")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let emails: Vec<String> = ctx
        .body_str("emails")
        .unwrap_or_default()
        .split(',')
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .collect();
    if emails.is_empty() {
        return Err(ApiError::unprocessable("emails should not be empty"));
    }
    let projection: Option<Vec<String>> = match ctx.body_str("projection").map(str::trim) {
        Some("all") => None,
        Some(p) if !p.is_empty() => Some(p.split(',').map(|f| f.trim().to_string()).collect()),
        _ => Some(vec!["id".into(), "email".into()]),
    };
    let crm = crm(store, ctx);
    let mut users: Vec<&User> = crm
        .users
        .values()
        .filter(|u| u.deleted == deleted && emails.contains(&u.email.to_lowercase()))
        .collect();
    users.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let count = users.len();
    let list: Vec<Value> = users
        .iter()
        .skip(skip)
        .take(limit)
        .map(|u| {
            let full = render(u, true);
            match &projection {
                None => full,
                Some(fields) => {
                    let mut m = Map::new();
                    m.insert("id".into(), json!(u.id));
                    if let Value::Object(all) = full {
                        for f in fields {
                            if let Some(v) = all.get(f) {
                                m.insert(f.clone(), v.clone());
                            }
                        }
                    }
                    Value::Object(m)
                }
            }
        })
        .collect();
    Ok(Reply::ok(ctx, json!({ "users": list, "count": count })))
}
