//! Test helpers shared by the crates' integration tests: valid input for any operation
//! of the GHL table and the order to walk them in against the emulator.
//!
//! Valid input: required path, query and body values of the declared types (enums'
//! first value, `locationId` = the token's location, ids of records created earlier in
//! the walk where the resource is created through the API, stable GHL-shaped ids
//! otherwise), the agency token for Agency-only operations. The walk creates first
//! (parents before children), then reads, updates and acts, and deletes last (children
//! first).

use std::collections::HashMap;
use std::time::Duration;

use hlbridge_core::optable::{BodyEncoding, Method, Operation, Table, TokenType, Ty};
use hlbridge_emulator::ghl::generic::resources::{role, trimmed, Role};
use hlbridge_emulator::ghl::generic::{self, resources};
use hlbridge_emulator::ghl::GhlEmulator;
use rand::Rng;
use serde_json::{json, Map, Value};

/// The `Version` header sent when an operation documents none.
pub const VERSION: &str = "2021-07-28";

const TABLE: &Table = &hlbridge_ghl::TABLE;

/// A random GHL-shaped id (20 alphanumerics).
pub fn random_id() -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALNUM[rng.gen_range(0..ALNUM.len())] as char)
        .collect()
}

/// The same GHL-shaped id for a name every time (a parent id used twice must match).
pub fn stable_id(name: &str) -> String {
    let letters: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("{letters}{}", "0".repeat(20))[..20].to_string()
}

/// True when `op` accepts only an agency token (the walk then sends the agency one).
pub fn needs_agency(op: &Operation) -> bool {
    !(op.token_types.contains(&TokenType::Location) || op.token_types.is_empty())
}

/// An HTTP client that follows no redirects and gives up after 30 s.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Walk state: the emulator's credentials and the ids created so far.
pub struct Walk {
    pub base: String,
    pub token: String,
    /// Sent for Agency-only operations.
    pub agency_token: String,
    pub location: String,
    pub company: String,
    /// Collection template (`/products`) → id of a record created in it.
    pub created: HashMap<&'static str, String>,
    /// Id parameter name (`productId`) → a created id, for parameters outside a path
    /// position (`contactId` in a body).
    pub by_name: HashMap<String, String>,
    pub client: reqwest::Client,
}

/// What one call answered.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Walk {
    /// A fresh walk against `emu`, with its configured tokens, location and company.
    pub fn new(emu: &GhlEmulator) -> Walk {
        let config = emu.state().config().clone();
        Walk {
            base: emu.base_url.clone(),
            token: config.token.clone(),
            agency_token: config.agency_token.clone().unwrap_or_default(),
            location: config.location_id.clone(),
            company: config.company_id.clone(),
            created: HashMap::new(),
            by_name: HashMap::new(),
            client: http_client(),
        }
    }

    pub fn token_for(&self, op: &Operation) -> &str {
        if needs_agency(op) {
            &self.agency_token
        } else {
            &self.token
        }
    }

    pub fn string_for(&self, name: &str) -> String {
        let lower = name.to_ascii_lowercase();
        match name {
            "locationId" | "altId" | "location_id" => return self.location.clone(),
            "companyId" => return self.company.clone(),
            "altType" => return "location".into(),
            _ => {}
        }
        if let Some(id) = self.by_name.get(name) {
            return id.clone();
        }
        if lower == "id" || lower.ends_with("id") || lower.ends_with("_id") {
            stable_id(name)
        } else if lower.contains("email") {
            "surface@example.com".into()
        } else if lower.contains("phone") {
            "+15555550100".into()
        } else if lower.contains("date") || lower.ends_with("time") || lower.ends_with("at") {
            "2026-01-05T10:00:00.000Z".into()
        } else if lower.ends_with("url") || lower == "website" {
            "https://example.com".into()
        } else {
            format!("surface {name}")
        }
    }

    /// A valid value of `ty` for the field or parameter `name`.
    pub fn value(&self, ty: &Ty, name: &str, depth: usize) -> Value {
        match ty {
            Ty::String | Ty::Any => Value::String(self.string_for(name)),
            Ty::Integer | Ty::Number => json!(1),
            Ty::Boolean => json!(true),
            Ty::Enum(values) => json!(values.first().copied().unwrap_or_default()),
            Ty::Array(inner) if depth < 6 => json!([self.value(inner, name, depth + 1)]),
            Ty::Array(_) => json!([]),
            Ty::Object(None) => json!({}),
            Ty::Object(Some(schema)) => {
                let mut map = Map::new();
                if let (Some(schema), true) = (TABLE.schema(schema), depth < 8) {
                    for f in schema.fields.iter().filter(|f| f.required) {
                        map.insert(f.name.into(), self.value(&f.ty, f.name, depth + 1));
                    }
                }
                Value::Object(map)
            }
        }
    }

    /// A query/path value as text.
    pub fn text(&self, ty: &Ty, name: &str) -> String {
        match ty {
            Ty::Integer | Ty::Number => "1".into(),
            Ty::Boolean => "true".into(),
            Ty::Enum(values) => values.first().copied().unwrap_or_default().into(),
            Ty::Array(inner) => self.text(inner, name),
            _ => self.string_for(name),
        }
    }

    /// Path parameter values: created ids where a collection sits before them.
    pub fn path_value(&self, op: &Operation, name: &str) -> String {
        if name == "locationId" {
            return self.location.clone();
        }
        let t = trimmed(op.path);
        let placeholder = format!("{{{name}}}");
        if let Some(at) = t.find(&placeholder) {
            let collection = t[..at].trim_end_matches('/');
            if let Some(id) = self.created.get(collection) {
                return id.clone();
            }
        }
        let param = op.param(name);
        match param.map(|p| p.ty) {
            Some(ty @ (Ty::Enum(_) | Ty::Integer | Ty::Number | Ty::Boolean)) => {
                self.text(&ty, name)
            }
            _ => self.string_for(name),
        }
    }

    /// Every path parameter of `op` with its value.
    pub fn path_values(&self, op: &Operation) -> Vec<(&'static str, String)> {
        op.path_params()
            .map(|p| (p.name, self.path_value(op, p.name)))
            .collect()
    }

    /// The query: required parameters plus the location ones.
    pub fn query(&self, op: &Operation) -> Vec<(String, String)> {
        let mut query = Vec::new();
        for p in op.query_params() {
            let wanted =
                p.required || matches!(p.name, "locationId" | "altId" | "altType" | "location_id");
            if wanted {
                query.push((p.name.to_string(), self.text(&p.ty, p.name)));
            }
        }
        query
    }

    /// The body, when the operation takes one.
    pub fn body(&self, op: &Operation) -> Option<Value> {
        op.body.map(|b| self.value(&b.ty, "body", 0))
    }

    /// Rendered path, query and body of a valid call of `op`.
    pub fn request(&self, op: &Operation) -> (String, Vec<(String, String)>, Option<Value>) {
        let path = op
            .render_path(|name| Some(self.path_value(op, name)))
            .expect("path renders");
        (path, self.query(op), self.body(op))
    }

    /// Send a request for `op` over HTTP with the right token and `Version` header.
    pub async fn send(
        &self,
        op: &Operation,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(op.method.as_str().as_bytes()).expect("method");
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path))
            .query(query)
            .bearer_auth(self.token_for(op))
            .header("Version", op.version.unwrap_or(VERSION));
        if let Some(b) = body {
            let form = op.body.is_some_and(|s| s.encoding == BodyEncoding::Form);
            req = match (form, b) {
                (true, Value::Object(map)) => {
                    let pairs: Vec<(String, String)> = map
                        .iter()
                        .map(|(k, v)| {
                            let text = match v {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            (k.clone(), text)
                        })
                        .collect();
                    req.form(&pairs)
                }
                _ => req.json(b),
            };
        }
        let resp = req.send().await.expect("a complete response");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, body, text }
    }

    /// Remember the id a create answered in `body` (or the generic store holds).
    /// Returns the collection and id learnt, if any.
    pub fn learn(
        &mut self,
        emu: &GhlEmulator,
        op: &Operation,
        body: &Value,
    ) -> Option<(&'static str, String)> {
        let Role::Create {
            collection,
            id_param,
        } = role(op)
        else {
            return None;
        };
        let params = self.path_values(op);
        let id = find_id(body, id_param, 0).or_else(|| {
            generic::ids(&emu.state(), &resources::concrete(collection, &params))
                .last()
                .cloned()
        })?;
        self.created.insert(collection, id.clone());
        self.by_name
            .entry(id_param.to_string())
            .or_insert(id.clone());
        Some((collection, id))
    }
}

/// The id in a create's answer: `id`, `_id` or the id parameter, at the top or one
/// wrapper down.
pub fn find_id(body: &Value, id_param: &str, depth: usize) -> Option<String> {
    let map = body.as_object()?;
    for key in [id_param, "id", "_id"] {
        if let Some(Value::String(s)) = map.get(key) {
            if !s.is_empty() {
                return Some(s.clone());
            }
        }
    }
    if depth < 2 {
        for v in map.values() {
            if let Some(id) = find_id(v, id_param, depth + 1) {
                return Some(id);
            }
        }
    }
    None
}

/// How deep a template is (segments after the first).
pub fn depth_of(op: &Operation) -> usize {
    trimmed(op.path).matches('/').count()
}

/// Where an operation stands in a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Create,
    Middle,
    Delete,
}

/// The phase of `op`: a create of a creatable collection, a `DELETE`, or the rest.
pub fn phase(op: &Operation) -> Phase {
    match (role(op), op.method) {
        (Role::Create { .. }, _) => Phase::Create,
        (_, Method::Delete) => Phase::Delete,
        _ => Phase::Middle,
    }
}

/// `ops` in walk order: creates (parents first), then everything else in the given
/// order, then deletes (children first).
pub fn order(ops: impl IntoIterator<Item = &'static Operation>) -> Vec<&'static Operation> {
    let mut creates: Vec<&'static Operation> = Vec::new();
    let mut middle = Vec::new();
    let mut deletes = Vec::new();
    for op in ops {
        match phase(op) {
            Phase::Create => creates.push(op),
            Phase::Delete => deletes.push(op),
            Phase::Middle => middle.push(op),
        }
    }
    creates.sort_by_key(|op| depth_of(op));
    deletes.sort_by_key(|op| std::cmp::Reverse(depth_of(op)));
    creates.into_iter().chain(middle).chain(deletes).collect()
}

/// The whole table (one operation per method and path) in walk order.
pub fn walk_order() -> Vec<&'static Operation> {
    order(TABLE.distinct())
}

/// The `GET` of one item of `collection` (`/products` → `GET /products/{productId}`).
pub fn read_of(collection: &str) -> Option<&'static Operation> {
    TABLE.distinct().find(|op| {
        op.method == Method::Get
            && matches!(role(op), Role::Item { collection: c, .. } if c == collection)
    })
}

// ----- the emulators' `/emulator/*` control endpoints, for tests in other crates -----
//
// `root` is the emulator's root URL: `GhlEmulator::base_url`, or `http://{addr}` for
// Sellsy (its `base_url` ends in `/v2`, the control endpoints sit beside it). The
// in-process equivalents are `GhlState::{set_truncate_after, sign_webhook, stats}`
// and `SellsyState::{set_truncate_after, sign_webhook, stats}`.

/// `POST /emulator/truncate`: every list and search stops after `after` items in
/// total (`None` lifts it). Panics unless the emulator accepts it.
pub async fn truncate_listings(root: &str, after: Option<usize>) {
    let resp = http_client()
        .post(format!("{}/emulator/truncate", root.trim_end_matches('/')))
        .json(&json!({ "after": after }))
        .send()
        .await
        .expect("truncate request sent");
    assert!(
        resp.status().is_success(),
        "truncate refused: {}",
        resp.status()
    );
}

/// `GET /emulator/stats` (`requests`, `byStatus`, `byOperation`, `rateLimited`, …).
pub async fn emulator_stats(root: &str) -> Value {
    http_client()
        .get(format!("{}/emulator/stats", root.trim_end_matches('/')))
        .send()
        .await
        .expect("stats request sent")
        .json()
        .await
        .expect("stats are JSON")
}

/// `POST /emulator/webhooks/sign`: the signature the emulator would send with `body`
/// (`x-ghl-signature` for GHL, `X-Webhook-Signature` for Sellsy).
pub async fn sign_webhook_body(root: &str, body: &[u8]) -> String {
    let answer: Value = http_client()
        .post(format!(
            "{}/emulator/webhooks/sign",
            root.trim_end_matches('/')
        ))
        .body(body.to_vec())
        .send()
        .await
        .expect("sign request sent")
        .json()
        .await
        .expect("signature is JSON");
    answer["signature"]
        .as_str()
        .expect("a signature")
        .to_string()
}
