//! Fast in-process seeding and inspection for `hlbridge bench sync`.
//!
//! Seeding 100,000 contacts through HTTP would take longer than the sync being
//! measured, so the bench writes straight into the emulators' state: GHL contacts,
//! tasks and notes into the location's [`Store`](crate::ghl::store::Store), Sellsy
//! contacts, companies, smart tags, tasks and comments into the Sellsy
//! [`Store`](crate::sellsy::Store), in the shapes the handlers store them.
//!
//! Also here, because they need the emulator's internals or its HTTP stack:
//! - [`serve_sellsy`]: the Sellsy emulator served behind a counting layer, so requests
//!   are counted at the emulator (by operation id and status), not by the client;
//! - [`fetch_json`]: a GET on an emulator control endpoint;
//! - [`ghl_census`], [`sellsy_census`]: what each side holds (duplicates, e-mails).
//!
//! Everything is deterministic: the same [`SeedMix`] gives the same data.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::ghl::contact::Contact;
use crate::ghl::notes::Note;
use crate::ghl::state::{lock, GhlState};
use crate::ghl::tasks::Task;
use crate::sellsy::{Owner, Record, SellsyConfig, SellsyState};

/// The staff member Sellsy objects belong to (the emulator's `ME`).
const SELLSY_STAFF: i64 = 1;

const FIRST: &[&str] = &[
    "Alice", "Bruno", "Chloe", "David", "Emma", "Farid", "Gabriel", "Helene", "Ines", "Julien",
    "Karim", "Louise", "Mathis", "Nadia", "Olivia", "Pauline", "Quentin", "Rose", "Samuel", "Theo",
    "Liam", "Noah", "Priya", "Kenji",
];
const LAST: &[&str] = &[
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Smith", "Johnson", "Garcia", "Nguyen", "Khan", "Tanaka",
    "Rossi",
];
const TAGS: &[&str] = &[
    "lead",
    "customer",
    "vip",
    "newsletter",
    "webinar",
    "partner",
    "trial",
    "salon",
];

/// What to seed on each side.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedMix {
    /// Contacts that exist only in GHL.
    pub ghl_contacts: usize,
    /// Contacts that exist only in Sellsy.
    pub sellsy_contacts: usize,
    /// Every contact gets 1 ..= `max_tags` tags (0 = none).
    pub max_tags: usize,
    /// Contacts sharing one company (0 = no companies): in Sellsy one company per
    /// group (the first contact its main contact, all linked), in GHL one
    /// `companyName` per group.
    pub contacts_per_company: usize,
    /// Tasks per contact on average (spread evenly, deterministic).
    pub tasks_per_contact: f64,
    /// Notes (GHL) / comments (Sellsy) per contact on average.
    pub notes_per_contact: f64,
}

impl Default for SeedMix {
    fn default() -> Self {
        SeedMix {
            ghl_contacts: 500,
            sellsy_contacts: 500,
            max_tags: 2,
            contacts_per_company: 5,
            tasks_per_contact: 0.2,
            notes_per_contact: 0.2,
        }
    }
}

/// What one side received.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Seeded {
    pub contacts: usize,
    pub tasks: usize,
    pub notes: usize,
    pub tag_links: usize,
    /// Distinct companies (Sellsy company records, or distinct GHL `companyName`s).
    pub companies: usize,
    /// E-mails (lower case) of the seeded contacts.
    #[serde(skip)]
    pub emails: Vec<String>,
    /// Ids of the seeded contacts, in seeding order.
    #[serde(skip)]
    pub ids: Vec<String>,
}

/// How many of something item `i` gets at an average `rate` per item: the totals
/// over `0..n` are `floor(n * rate)`, spread evenly.
fn share(i: usize, rate: f64, phase: usize) -> usize {
    if rate <= 0.0 {
        return 0;
    }
    let at = |k: usize| (k as f64 * rate + 1e-9).floor() as usize;
    at(i + phase + 1) - at(i + phase)
}

fn tags_for(i: usize, max_tags: usize) -> Vec<&'static str> {
    if max_tags == 0 {
        return Vec::new();
    }
    let count = 1 + i % max_tags.min(TAGS.len());
    let mut tags: Vec<&str> = (0..count).map(|k| TAGS[(i + k * 3) % TAGS.len()]).collect();
    tags.sort_unstable();
    tags.dedup();
    tags
}

fn name(i: usize) -> (&'static str, &'static str) {
    (
        FIRST[i % FIRST.len()],
        LAST[(i / FIRST.len() + i * 7) % LAST.len()],
    )
}

/// When seeded record `i` of `count` was last changed: spread over the 30 days that
/// end 2 hours ago (older than any look-back window of the sync).
fn stamp(i: usize, count: usize) -> DateTime<Utc> {
    let end = Utc::now() - Duration::hours(2);
    let span_ms: i64 = 30 * 24 * 3600 * 1000;
    let step = span_ms / (count.max(1) as i64);
    end - Duration::milliseconds(span_ms) + Duration::milliseconds(step * i as i64)
}

fn sellsy_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn object(value: Value) -> Record {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Seed `mix.ghl_contacts` GHL-only contacts (with tags, `companyName`, tasks, notes).
pub fn seed_ghl(state: &GhlState, mix: &SeedMix) -> Seeded {
    let mut store = lock(&state.store);
    let count = mix.ghl_contacts;
    let mut out = Seeded::default();
    let mut companies = HashSet::new();
    store.contacts.reserve(count);
    for i in 0..count {
        let (first, last) = name(i);
        let updated = stamp(i, count);
        let added = updated - Duration::days(1);
        let email = format!(
            "{}.{}.g{i}@bench.example",
            first.to_lowercase(),
            last.to_lowercase()
        );
        let mut fields = Map::new();
        fields.insert("firstName".into(), json!(first));
        fields.insert("lastName".into(), json!(last));
        fields.insert("email".into(), json!(email));
        fields.insert("phone".into(), json!(format!("+14152{:06}", i)));
        fields.insert("source".into(), json!("bench"));
        if let Some(group) = i.checked_div(mix.contacts_per_company) {
            let company = format!("Bench Company G{}", group + 1);
            fields.insert("companyName".into(), json!(company));
            companies.insert(company);
        }
        let id = store.new_id();
        let mut contact = Contact::new(id.clone(), added);
        contact.date_updated = updated;
        contact.fields = fields;
        contact.tags = tags_for(i, mix.max_tags)
            .into_iter()
            .map(str::to_string)
            .collect();
        out.tag_links += contact.tags.len();
        store.observe_timestamp(updated);
        for k in 0..share(i, mix.tasks_per_contact, 0) {
            let task_id = store.new_id();
            store.tasks.entry(id.clone()).or_default().push(Task {
                id: task_id,
                contact_id: id.clone(),
                title: format!("Bench task {i}.{k}: call {first} {last}"),
                body: Some(format!("Follow-up with {first} {last}")),
                assigned_to: None,
                due_date: updated + Duration::days(7),
                completed: false,
                date_added: added,
                date_updated: added,
            });
            out.tasks += 1;
        }
        for k in 0..share(i, mix.notes_per_contact, 2) {
            let note_id = store.new_id();
            store.notes.entry(id.clone()).or_default().push(Note {
                id: note_id,
                contact_id: id.clone(),
                body: format!("Bench note {i}.{k}: {first} asked for the annual pricing."),
                user_id: None,
                title: None,
                color: None,
                pinned: Some(false),
                date_added: added,
            });
            out.notes += 1;
        }
        store.contacts.insert(id.clone(), contact);
        out.emails.push(email);
        out.ids.push(id);
    }
    out.contacts = count;
    out.companies = companies.len();
    out
}

/// Seed `mix.sellsy_contacts` Sellsy-only contacts (with smart tags, companies, tasks
/// related to the contact, comments).
pub fn seed_sellsy(state: &SellsyState, mix: &SeedMix) -> Seeded {
    let mut store = state.store();
    let count = mix.sellsy_contacts;
    let mut out = Seeded::default();
    let label = store
        .task_labels
        .rows
        .values()
        .next()
        .cloned()
        .map(Value::Object)
        .unwrap_or(Value::Null);
    let mut tag_ids: HashMap<&str, i64> = HashMap::new();
    for tag in TAGS {
        let existing = store
            .smart_tags
            .rows
            .iter()
            .find(|(_, t)| {
                t.get("value")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.eq_ignore_ascii_case(tag))
            })
            .map(|(id, _)| *id);
        let id = existing.unwrap_or_else(|| {
            store
                .smart_tags
                .insert(object(json!({"id": 0, "value": tag})))
        });
        tag_ids.insert(tag, id);
    }
    let mut company: Option<i64> = None;
    for i in 0..count {
        let (first, last) = name(i + 7);
        let updated = sellsy_time(stamp(i, count));
        let email = format!(
            "{}.{}.s{i}@bench.example",
            first.to_lowercase(),
            last.to_lowercase()
        );
        let mut contact = sellsy_blank_contact(&updated);
        for (k, v) in [
            ("first_name", json!(first)),
            ("last_name", json!(last)),
            ("email", json!(email)),
            ("mobile_number", json!(format!("+336{:08}", i))),
            ("position", json!("Buyer")),
        ] {
            contact.insert(k.into(), v);
        }
        let contact_id = store.contacts.insert(contact);
        for tag in tags_for(i, mix.max_tags) {
            if let Some(tag_id) = tag_ids.get(tag) {
                store
                    .tag_links
                    .insert((Owner::Contact, contact_id, *tag_id));
                out.tag_links += 1;
            }
        }
        if let Some(group) = i.checked_div(mix.contacts_per_company) {
            let main = i.is_multiple_of(mix.contacts_per_company);
            if main {
                let mut record = sellsy_blank_company(&updated);
                record.insert(
                    "name".into(),
                    json!(format!("Bench Company S{}", group + 1)),
                );
                record.insert("main_contact_id".into(), json!(contact_id));
                company = Some(store.companies.insert(record));
                out.companies += 1;
            }
            if let Some(company_id) = company {
                store.company_contacts.insert(
                    (company_id, contact_id),
                    json!({ "contact_type_main": main }),
                );
            }
        }
        let related = json!([{ "id": contact_id, "type": "contact" }]);
        for k in 0..share(i, mix.tasks_per_contact, 0) {
            let task = object(json!({
                "id": 0, "title": format!("Bench task {i}.{k}: meet {first} {last}"),
                "description": format!("Prepare the offer for {first} {last}"),
                "status": "todo", "is_private": false,
                "due_date": sellsy_time(stamp(i, count) + Duration::days(7)),
                "assigned_staff_ids": [], "label": label, "updated": updated, "created": updated,
                "related": related, "owner": { "type": "staff", "id": SELLSY_STAFF },
                "company_id": null, "individual_id": null, "contact_id": contact_id, "priority": 0,
            }));
            store.tasks.insert(task);
            out.tasks += 1;
        }
        for k in 0..share(i, mix.notes_per_contact, 2) {
            let comment = object(json!({
                "id": 0,
                "description": format!("<p>Bench comment {i}.{k}: {first} wants a demo.</p>"),
                "owner": { "id": SELLSY_STAFF, "type": "staff" }, "updated": updated,
                "created": updated, "parent_id": null, "related": related, "company_id": null,
                "individual_id": null, "contact_id": contact_id, "timetracking": null,
            }));
            store.comments.insert(comment);
            out.notes += 1;
        }
        out.emails.push(email);
        out.ids.push(contact_id.to_string());
    }
    out.contacts = count;
    out
}

/// A Sellsy contact with every property present (the shape of a created contact).
fn sellsy_blank_contact(now: &str) -> Record {
    object(json!({
        "id": 0, "civility": null, "first_name": null, "last_name": "", "email": null,
        "website": null, "phone_number": null, "mobile_number": null, "fax_number": null,
        "position": null, "birth_date": null, "avatar": null, "note": "",
        "invoicing_address_id": null, "delivery_address_id": null,
        "social": {"twitter": null, "facebook": null, "linkedin": null, "viadeo": null},
        "sync": {"mailchimp": false, "mailjet": false, "simplemail": false},
        "owner": {"id": SELLSY_STAFF, "type": "staff"}, "created": now, "updated": now,
        "is_archived": false, "marketing_campaigns_subscriptions": [],
    }))
}

/// A Sellsy company (prospect) with every property present.
fn sellsy_blank_company(now: &str) -> Record {
    object(json!({
        "id": 0, "type": "prospect", "name": "", "email": null, "website": null,
        "phone_number": null, "mobile_number": null, "fax_number": null,
        "legal_france": {"siret": null, "siren": null, "vat": null, "ape_naf_code": null,
                         "company_type": null, "rcs_immatriculation": null},
        "capital": null, "reference": null, "note": "", "auxiliary_code": null,
        "social": {"twitter": null, "facebook": null, "linkedin": null, "viadeo": null},
        "rate_category_id": null, "main_contact_id": null, "dunning_contact_id": null,
        "invoicing_contact_id": null, "invoicing_address_id": null, "delivery_address_id": null,
        "accounting_code_id": null, "accounting_purchase_code_id": null,
        "owner": {"id": SELLSY_STAFF, "type": "staff"}, "created": now, "updated_at": now,
        "is_archived": false, "business_segment": null, "number_of_employees": null,
        "marketing_campaigns_subscriptions": [],
    }))
}

/// What one side holds, for the duplicate and loss checks.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Census {
    /// Contacts (Sellsy: not archived).
    pub contacts: usize,
    /// Contacts whose e-mail another contact of the same side already has.
    pub duplicate_emails: usize,
    pub without_email: usize,
    pub tasks: usize,
    /// GHL notes / Sellsy comments.
    pub notes: usize,
    /// Every contact e-mail, lower case.
    #[serde(skip)]
    pub emails: HashSet<String>,
}

impl Census {
    fn add_email(&mut self, email: Option<&str>) {
        match email.map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) => {
                if !self.emails.insert(e.to_lowercase()) {
                    self.duplicate_emails += 1;
                }
            }
            None => self.without_email += 1,
        }
    }
}

pub fn ghl_census(state: &GhlState) -> Census {
    let store = lock(&state.store);
    let mut census = Census {
        contacts: store.contacts.len(),
        tasks: store.task_count(),
        notes: store.note_count(),
        ..Census::default()
    };
    for c in store.contacts.values() {
        census.add_email(c.str_field("email"));
    }
    census
}

pub fn sellsy_census(state: &SellsyState) -> Census {
    let store = state.store();
    let mut census = Census {
        tasks: store.tasks.len(),
        notes: store.comments.len(),
        ..Census::default()
    };
    for c in store.contacts.rows.values() {
        if c.get("is_archived").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        census.contacts += 1;
        census.add_email(c.get("email").and_then(Value::as_str));
    }
    census
}

/// The Sellsy contact with this e-mail (case-insensitive), as stored.
pub fn sellsy_contact_by_email(state: &SellsyState, email: &str) -> Option<Record> {
    let store = state.store();
    store
        .contacts
        .rows
        .values()
        .find(|c| {
            c.get("email")
                .and_then(Value::as_str)
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
        .cloned()
}

/// Requests counted at the Sellsy listener, shaped like GHL's `GET /emulator/stats`
/// (`requests`, `byStatus`, `byOperation`, `rateLimited`).
#[derive(Debug, Default)]
pub struct RequestCounts {
    total: AtomicU64,
    by_status: Mutex<BTreeMap<u16, u64>>,
    by_operation: Mutex<BTreeMap<String, u64>>,
}

impl RequestCounts {
    fn record(&self, operation: String, status: u16) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut by_status = self.by_status.lock().unwrap_or_else(|p| p.into_inner());
        *by_status.entry(status).or_default() += 1;
        drop(by_status);
        let mut by_op = self.by_operation.lock().unwrap_or_else(|p| p.into_inner());
        *by_op.entry(operation).or_default() += 1;
    }

    pub fn snapshot(&self) -> Value {
        let by_status = self
            .by_status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let by_operation = self
            .by_operation
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        json!({
            "requests": self.total.load(Ordering::Relaxed),
            "rateLimited": by_status.get(&429).copied().unwrap_or(0),
            "byStatus": by_status,
            "byOperation": by_operation,
        })
    }
}

/// The operation id of a request to the Sellsy emulator (`/v2/...` routed by the
/// generated table; the OAuth endpoints as `oauth2 <path>`).
fn sellsy_operation(method: &str, path: &str) -> String {
    if let Some(api) = path.strip_prefix("/v2") {
        let routed = hlbridge_core::optable::Method::parse(method)
            .and_then(|m| hlbridge_sellsy::TABLE.route(m, api));
        return match routed {
            Some((op, _)) => op.id.to_string(),
            None => format!("(unrouted) {method} {api}"),
        };
    }
    format!("oauth2 {path}")
}

async fn count_requests(
    State(counts): State<Arc<RequestCounts>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    if path.starts_with("/emulator/") {
        return next.run(request).await;
    }
    let operation = sellsy_operation(request.method().as_str(), &path);
    let response = next.run(request).await;
    let dropped = response.headers().get("x-emulator-fault").is_some_and(|v| {
        v.to_str()
            .is_ok_and(|s| s == "drop" || s.starts_with("commit"))
    });
    counts.record(
        operation,
        if dropped {
            0
        } else {
            response.status().as_u16()
        },
    );
    response
}

/// A Sellsy emulator served by [`serve_sellsy`].
pub struct SellsyBench {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:P/v2`
    pub base_url: String,
    /// `http://127.0.0.1:P`
    pub root_url: String,
    pub state: Arc<SellsyState>,
    pub counts: Arc<RequestCounts>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SellsyBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SellsyBench")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SellsyBench {
    /// Stop serving and wait for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Build the Sellsy state from `config`, let `seed` fill it, and serve it on `addr`
/// (the emulator's own router, wrapped in a layer that counts every request). Call it
/// on the runtime that should run the emulator.
pub async fn serve_sellsy(
    config: SellsyConfig,
    addr: SocketAddr,
    seed: impl FnOnce(&SellsyState),
) -> std::io::Result<SellsyBench> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let state = SellsyState::new(config);
    seed(&state);
    let counts = Arc::new(RequestCounts::default());
    let app = crate::sellsy::router(state.clone()).layer(axum::middleware::from_fn_with_state(
        counts.clone(),
        count_requests,
    ));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = served.await {
            tracing::warn!(error = %e, "bench Sellsy emulator stopped");
        }
    });
    Ok(SellsyBench {
        addr,
        base_url: format!("http://{addr}/v2"),
        root_url: format!("http://{addr}"),
        state,
        counts,
        stop: Some(stop),
        task: Some(task),
    })
}

/// GET `url` and parse the JSON answer; `None` when it does not answer 200 with JSON.
pub async fn fetch_json(url: &str) -> Option<Value> {
    let response = reqwest::get(url).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_spread_evenly() {
        let total: usize = (0..1000).map(|i| share(i, 0.2, 0)).sum();
        assert_eq!(total, 200);
        let total: usize = (0..1000).map(|i| share(i, 1.5, 2)).sum();
        assert_eq!(total, 1500);
        assert_eq!((0..10).map(|i| share(i, 0.0, 0)).sum::<usize>(), 0);
        assert!((0..100).all(|i| (1..=2).contains(&tags_for(i, 2).len())));
    }

    #[test]
    fn both_sides_seed_what_they_report() {
        let mix = SeedMix {
            ghl_contacts: 50,
            sellsy_contacts: 40,
            ..SeedMix::default()
        };
        let ghl = GhlState::new(crate::ghl::GhlConfig::default());
        let g = seed_ghl(&ghl, &mix);
        assert_eq!(g.contacts, 50);
        assert_eq!(g.tasks, 10);
        assert_eq!(g.notes, 10);
        assert_eq!(g.companies, 10);
        let census = ghl_census(&ghl);
        assert_eq!(census.contacts, 50);
        assert_eq!(census.duplicate_emails, 0);
        assert_eq!(census.tasks, 10);

        let sellsy = SellsyState::new(SellsyConfig::default());
        let s = seed_sellsy(&sellsy, &mix);
        assert_eq!(s.contacts, 40);
        assert_eq!(s.companies, 8);
        let census = sellsy_census(&sellsy);
        assert_eq!(census.contacts, 40);
        assert_eq!(census.duplicate_emails, 0);
        assert_eq!(census.tasks, 8);
        assert_eq!(census.notes, 8);
        assert!(g.emails.iter().all(|e| !census.emails.contains(e)));
        assert!(sellsy_contact_by_email(&sellsy, &s.emails[3]).is_some());
    }
}
