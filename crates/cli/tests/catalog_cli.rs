//! All 124 operations of the catalog (aliases included) through the `hlbridge` binary
//! against one in-process GHL emulator, in walk order (creates, then the rest, then
//! deletes), with the input `hlbridge-testkit` generates from the operation table.
//!
//! Each call must either succeed (exit 0, a JSON body conforming to the operation's
//! response schema) or be refused by the emulator with a 4xx (exit 1) for a generated
//! value it rejects on a rule of its own (an unknown pipeline, a slot that is not
//! free). Exit 2 would mean the CLI refused input the table calls valid, and a 5xx a
//! broken emulator: both fail. Writes that succeeded are checked through the binary
//! too: a create is followed by a read of the created id, an update by a read showing
//! the new value, a delete by a read that fails.

mod common;

use common::{config, run_with_env, Env, Out, LOCATION, TOKEN};
use hlbridge_core::optable::{Method, Operation, Table, TokenType, Ty};
use hlbridge_core::schema_check::{check_value, Strictness};
use hlbridge_emulator::ghl::generic::resources::{role, Role};
use hlbridge_emulator::ghl::GhlConfig;
use hlbridge_testkit::{find_id, needs_agency, order, phase, read_of, Phase, Walk};
use serde_json::{json, Value};

const AGENCY_TOKEN: &str = "pit-agency-catalog-cli";
const TABLE: &Table = &hlbridge_ghl::TABLE;
/// Processes run at once for independent reads.
const BATCH: usize = 4;
/// The value an update writes, looked for in the read that follows.
const UPDATED: &str = "catalog-cli updated";

/// Response-schema mismatches known and reported to the emulator's owners, waived here
/// only where the mismatch names the part given (op id, part, why). A 5xx or an exit 2
/// still fails, and so does any other mismatch of the same operation.
const REPORTED_ELSEWHERE: &[(&str, &str, &str)] = &[];

/// One invocation of `hlbridge ghl`.
#[derive(Clone)]
struct Call {
    op: &'static Operation,
    params: Vec<(String, String)>,
    body: Option<Value>,
    /// Send the agency token even though the operation also takes a location one.
    agency: bool,
}

impl Call {
    /// Path and query parameters of a valid call of `op` in the walk's current state.
    fn new(walk: &Walk, op: &'static Operation) -> Call {
        let mut params: Vec<(String, String)> = walk
            .path_values(op)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        params.extend(walk.query(op));
        Call {
            op,
            params,
            body: walk.body(op),
            agency: needs_agency(op),
        }
    }

    /// Set parameter `name` (replacing any value the generator gave it).
    fn set(&mut self, name: &str, value: impl Into<String>) {
        self.params.retain(|(n, _)| n != name);
        self.params.push((name.to_string(), value.into()));
    }

    /// Set top-level body field `name`.
    fn field(&mut self, name: &str, value: Value) {
        if let Some(Value::Object(map)) = self.body.as_mut() {
            map.insert(name.to_string(), value);
        }
    }

    fn args(&self, extra: &[String]) -> Vec<String> {
        let mut args: Vec<String> = vec!["ghl".into(), self.op.id.into(), "--json".into()];
        for (k, v) in &self.params {
            args.push("--param".into());
            args.push(format!("{k}={v}"));
        }
        if let Some(b) = &self.body {
            args.push("--body".into());
            args.push(b.to_string());
        }
        if self.agency {
            args.push("--agency".into());
        }
        args.extend(extra.iter().cloned());
        args
    }

    fn describe(&self) -> String {
        format!(
            "{} ({} {} {:?} {})",
            self.op.id,
            self.op.method,
            self.op.path,
            self.params,
            self.body.as_ref().map(Value::to_string).unwrap_or_default()
        )
    }

    /// Run it; a binary file answer (a recording, written raw to the pipe) is fetched
    /// again with `--output`, and the file's size reported on stdout as `{"bytes": n}`.
    async fn run(&self, env: &Env) -> Out {
        let out = self.run_with(env, &[]).await;
        if out.code != 0 || !out.stdout.contains('\u{FFFD}') {
            return out;
        }
        let file = std::env::temp_dir().join(format!(
            "hlbridge-catalog-cli-{}-{}",
            std::process::id(),
            self.op.operation_id
        ));
        let mut saved = self
            .run_with(env, &["--output".into(), file.display().to_string()])
            .await;
        let bytes = std::fs::read(&file).map(|b| b.len()).unwrap_or(0);
        let _ = std::fs::remove_file(&file);
        if saved.code == 0 {
            if bytes == 0 {
                saved.code = -1;
                saved.stderr = format!("--output wrote an empty file: {}", saved.stderr);
            }
            saved.stdout = json!({ "bytes": bytes }).to_string();
        }
        saved
    }

    async fn run_with(&self, env: &Env, extra: &[String]) -> Out {
        let token = if self.agency { AGENCY_TOKEN } else { TOKEN };
        let args = self.args(extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run_with_env(
            &refs,
            &[
                ("HLBRIDGE_GHL_BASE_URL", env.emu.base_url.as_str()),
                ("HLBRIDGE_GHL_TOKEN", token),
                ("HLBRIDGE_GHL_LOCATION_ID", LOCATION),
            ],
        )
        .await
    }
}

/// How a call ended, when it ended acceptably.
enum Verdict {
    /// Exit 0 with this body (`Null` for an empty one).
    Done(Value),
    /// Exit 1: the emulator refused with this 4xx and message.
    Refused(u16, String),
}

/// Whether a mismatch is one of [`REPORTED_ELSEWHERE`].
fn waived(op: &str, mismatch: &str) -> bool {
    REPORTED_ELSEWHERE
        .iter()
        .any(|(id, part, _)| *id == op && mismatch.contains(part))
}

/// Judge one run: `Err` says what is wrong.
fn judge(call: &Call, out: &Out) -> Result<Verdict, String> {
    let op = call.op;
    match out.code {
        0 => {
            let text = out.stdout.trim();
            if text.is_empty() {
                return if op.success_status == 204 || op.response.is_none() {
                    Ok(Verdict::Done(Value::Null))
                } else {
                    Err(format!("exit 0 with no body: {out:?}"))
                };
            }
            let body: Value = match serde_json::from_str(text) {
                Ok(body) => body,
                // A text file (a transcription download) is printed as it is.
                Err(_) if op.response.is_none() => Value::String(text.to_string()),
                Err(e) => return Err(format!("exit 0 but stdout is not JSON ({e}): {out:?}")),
            };
            if let Some(ty) = op.response {
                let bad: Vec<_> = check_value(TABLE, &ty, &body, Strictness::Open)
                    .into_iter()
                    .filter(|m| !waived(op.id, &m.to_string()))
                    .collect();
                if !bad.is_empty() {
                    let list: Vec<String> = bad.iter().take(5).map(ToString::to_string).collect();
                    return Err(format!("response violates its schema: {list:?} in {text}"));
                }
            }
            Ok(Verdict::Done(body))
        }
        1 => {
            let err = serde_json::from_str::<Value>(out.stderr.trim())
                .map_err(|e| format!("exit 1 without a JSON error ({e}): {out:?}"))?;
            match err["error"]["status"].as_u64() {
                Some(s @ 400..=499) => Ok(Verdict::Refused(
                    s as u16,
                    err["error"]["message"].as_str().unwrap_or_default().into(),
                )),
                _ => Err(format!("exit 1 not from a 4xx: {}", out.stderr.trim())),
            }
        }
        2 => Err(format!(
            "exit 2: the CLI refused input the table calls valid: {}",
            out.stderr.trim()
        )),
        code => Err(format!("exit {code}: {out:?}")),
    }
}

/// What the walk learnt beyond created ids: values the emulator checks against real
/// records or rules the table leaves open.
#[derive(Default)]
struct Context {
    /// A free slot of the created calendar (ISO time).
    slot: Option<String>,
    /// `startDate`/`endDate` (ms) of the window the slot was found in.
    window: (i64, i64),
    /// A seeded answered call (it has a recording and a transcription).
    call_message: Option<String>,
    /// A seeded outbound message of a custom provider (its status can be updated).
    provider_message: Option<String>,
}

const ASSOCIATION_KEY: &str = "catalog_cli_link";

/// Give generated input the values the emulator checks beyond the table: existing
/// records, enums the spec types as free strings, one-of-several requirements.
fn hint(walk: &Walk, cx: &Context, call: &mut Call) {
    let created = |c: &str| walk.created.get(c).cloned().unwrap_or_default();
    let calendar = created("/calendars");
    match call.op.id {
        "users.create-user" => {
            call.field("type", json!("account"));
            call.field("role", json!("admin"));
            call.field("locationIds", json!([LOCATION]));
            call.field("email", json!("catalog-cli-user@example.com"));
        }
        "contacts.create-contact" => {
            call.field("email", json!("catalog-contact@example.com"));
            call.field("phone", json!("+15555550142"));
        }
        "conversations.send-a-new-message" => {
            call.field("type", json!("Email"));
            call.field("message", json!("Hello from the catalog walk"));
            call.field("subject", json!("Catalog walk"));
            call.field("html", json!("<p>Hello from the catalog walk</p>"));
        }
        "conversations.live-chat-agent-typing" => call.field("isTyping", json!("true")),
        "calendars.create-calendar" => {
            call.field("slotDuration", json!(30));
            call.field("slotInterval", json!(30));
            let hours =
                json!([{"openHour": 0, "openMinute": 0, "closeHour": 23, "closeMinute": 30}]);
            call.field(
                "openHours",
                json!([{"daysOfTheWeek": [0, 1, 2, 3, 4, 5, 6], "hours": hours}]),
            );
        }
        "calendars.create-block-slot" | "calendars.edit-block-slot" => {
            call.field("calendarId", json!(calendar));
            call.field("startTime", json!("2030-01-07T08:00:00.000Z"));
            call.field("endTime", json!("2030-01-07T08:30:00.000Z"));
        }
        "calendars.get-calendar-events" | "calendars.get-blocked-slots" => {
            call.set("calendarId", calendar);
            call.set("startTime", cx.window.0.to_string());
            call.set("endTime", cx.window.1.to_string());
        }
        "calendars.get-slots" => {
            call.set("startDate", cx.window.0.to_string());
            call.set("endDate", cx.window.1.to_string());
        }
        "calendars.create-appointment" | "calendars.edit-appointment" => {
            if let Some(slot) = &cx.slot {
                call.field("startTime", json!(slot));
            }
        }
        "opportunities.upsert-opportunity" => call.field("contactId", json!(created("/contacts"))),
        "conversations.get-message-recording"
        | "conversations.get-message-transcription"
        | "conversations.download-message-transcription" => {
            if let Some(id) = &cx.call_message {
                call.set("messageId", id.clone());
            }
        }
        "conversations.update-message-status" => {
            if let Some(id) = &cx.provider_message {
                call.set("messageId", id.clone());
            }
        }
        "blogs.create-blog-post" | "blogs.update-blog-post" => {
            call.field("urlSlug", json!("catalog-cli-post"));
        }
        "calendars.create-calendar-resource" => call.field("calendarIds", json!([calendar])),
        "contacts.get-duplicate-contact" => call.set("email", "surface@example.com"),
        "associations.create-association" => {
            call.field("key", json!(ASSOCIATION_KEY));
            call.field("firstObjectKey", json!("contact"));
            call.field("firstObjectLabel", json!("member"));
            call.field("secondObjectKey", json!("opportunity"));
            call.field("secondObjectLabel", json!("deal"));
        }
        "associations.update-association" => {
            call.field("firstObjectLabel", json!(UPDATED));
            call.field("secondObjectLabel", json!("deal"));
        }
        "associations.create-relation" => {
            call.field("firstRecordId", json!(created("/contacts")));
            call.field("secondRecordId", json!(created("/opportunities")));
        }
        "associations.get-association-key-by-key-name" => call.set("key_name", ASSOCIATION_KEY),
        "associations.get-association-by-object-keys" => call.set("objectKey", "contact"),
        _ => {}
    }
}

/// The first id in a list answer (`{"pipelines":[{"id":…}]}`, a bare array…).
fn first_id(body: &Value) -> Option<String> {
    match body {
        Value::Array(items) => items.first().and_then(|v| find_id(v, "id", 0)),
        Value::Object(map) => map.values().find_map(|v| match v {
            Value::Array(items) => items.first().and_then(|v| find_id(v, "id", 0)),
            _ => None,
        }),
        _ => None,
    }
}

/// The first ISO date-time string anywhere in `v`.
fn first_time(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.len() >= 19 && s.as_bytes().get(10) == Some(&b'T') => Some(s.clone()),
        Value::Array(items) => items.iter().find_map(first_time),
        Value::Object(map) => map.values().find_map(first_time),
        _ => None,
    }
}

/// Run a set-up call through the binary and require success.
async fn setup(env: &Env, walk: &Walk, cx: &Context, id: &str) -> Value {
    let op = TABLE.get(id).expect("set-up operation");
    let mut call = Call::new(walk, op);
    hint(walk, cx, &mut call);
    let out = call.run(env).await;
    match judge(&call, &out) {
        Ok(Verdict::Done(body)) => body,
        _ => panic!("set-up {} failed: {out:?}", call.describe()),
    }
}

/// Whether a name looks like it holds an id, a location or a typed string, which an
/// update should leave alone.
fn plain_text_field(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !(lower.ends_with("id")
        || lower.ends_with("ids")
        || [
            "email", "phone", "date", "time", "url", "slug", "type", "status",
        ]
        .iter()
        .any(|w| lower.contains(w))
        || lower.ends_with("at")
        || lower == "website")
}

/// For an update (`PUT`/`PATCH` on a created item): the body with its first plain text
/// field set to [`UPDATED`], and that field's name.
fn with_update(op: &Operation, body: Option<Value>) -> (Option<Value>, Option<&'static str>) {
    let schema = match op.body.map(|b| b.ty) {
        Some(Ty::Object(Some(name))) => TABLE.schema(name),
        _ => None,
    };
    let (Some(schema), Some(Value::Object(mut map))) = (schema, body.clone()) else {
        return (body, None);
    };
    let Some(field) = schema
        .fields
        .iter()
        .find(|f| f.ty == Ty::String && plain_text_field(f.name))
    else {
        return (body, None);
    };
    map.insert(field.name.into(), Value::String(UPDATED.into()));
    (Some(Value::Object(map)), Some(field.name))
}

/// The read of the item `op` writes, when the item comes from a create.
fn item_read(op: &Operation) -> Option<&'static Operation> {
    match role(op) {
        Role::Item {
            collection,
            creatable: true,
            ..
        } => read_of(collection),
        _ => None,
    }
}

/// A read of record `id` of `collection` after a write, with the token that can see it.
fn read_back(walk: &Walk, create: &Operation, read: &'static Operation, id: &str) -> Call {
    let mut call = Call::new(walk, read);
    call.agency = needs_agency(create) && read.token_types.contains(&TokenType::Agency);
    if read.id == "associations.get-relations-by-record-id" {
        // Relations are read by one of their records, not by their own id.
        let contact = walk.created.get("/contacts").cloned().unwrap_or_default();
        call.set("recordId", contact);
        call.set("skip", "0");
        call.set("limit", "100");
    } else if let Role::Item { id_param, .. } = role(read) {
        call.set(id_param, id);
    }
    call
}

/// The value of the item id of a call on one record (`DELETE /users/{userId}`).
fn item_id(call: &Call) -> Option<String> {
    let Role::Item { id_param, .. } = role(call.op) else {
        return None;
    };
    call.params
        .iter()
        .find(|(n, _)| n == id_param)
        .map(|(_, v)| v.clone())
}

/// Whether a read after a delete shows the record gone: refused, absent from a list
/// answer, or soft-deleted (`"deleted": true`, as calendar notifications are).
fn shows_gone(read: &Call, out: &Out, id: &str) -> bool {
    match judge(read, out) {
        Ok(Verdict::Refused(..)) => true,
        Ok(Verdict::Done(body)) => !out.stdout.contains(id) || body["deleted"] == json!(true),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_catalog_operation_runs_through_the_binary() {
    let env = Env::start_with(GhlConfig {
        agency_token: Some(AGENCY_TOKEN.into()),
        rate_max: 1_000_000,
        daily_limit: 10_000_000,
        seed_contacts: 5,
        ..config()
    })
    .await;
    let mut walk = Walk::new(&env.emu);
    let day = 86_400_000;
    let today = chrono::Utc::now().timestamp_millis() / day * day;
    let mut cx = Context {
        window: (today + day, today + 8 * day),
        ..Context::default()
    };
    // Records the location starts with, which the walk cannot create through the catalog.
    let pipelines = setup(&env, &walk, &cx, "opportunities.get-pipelines").await;
    if let Some(id) = first_id(&pipelines) {
        walk.by_name.insert("pipelineId".into(), id);
    }
    if let Some(stage) = pipelines["pipelines"][0]["stages"][0]["id"].as_str() {
        walk.by_name
            .insert("pipelineStageId".into(), stage.to_string());
    }
    let blogs = setup(&env, &walk, &cx, "blogs.get-blogs").await;
    if let Some(id) = first_id(&blogs) {
        walk.by_name.insert("blogId".into(), id);
    }
    for (list, name) in [
        ("blogs.get-all-blog-authors-by-location", "author"),
        ("blogs.get-all-categories-by-location", "categories"),
    ] {
        let body = setup(&env, &walk, &cx, list).await;
        if let Some(id) = first_id(&body) {
            walk.by_name.insert(name.into(), id);
        }
    }
    let mut conversation_ready = false;
    let mut ops = order(TABLE.catalog());
    // A contact's opportunities go with it: delete the contact after everything else.
    let contact_delete = ops
        .iter()
        .position(|op| op.id == "contacts.delete-contact")
        .expect("contacts.delete-contact");
    let last = ops.remove(contact_delete);
    ops.push(last);
    assert_eq!(ops.len(), 124, "the catalog's named operations");
    let mut failures: Vec<String> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    let mut succeeded = 0;
    let mut checked_writes = 0;
    let mut i = 0;
    while i < ops.len() {
        let op = ops[i];
        if phase(op) != Phase::Create && !conversation_ready {
            // Conversations and messages are created outside the catalog.
            conversation_ready = true;
            for id in [
                "conversations.create-conversation",
                "conversations.send-a-new-message",
            ] {
                let body = setup(&env, &walk, &cx, id).await;
                let op = TABLE.get(id).expect("operation");
                walk.learn(&env.emu, op, &body);
                // A sent message answers `messageId` (and `emailMessageId` for an email).
                for (key, collection) in [
                    ("messageId", "/conversations/messages"),
                    ("emailMessageId", "/conversations/messages/email"),
                ] {
                    if let Some(id) = body[key].as_str() {
                        walk.created.insert(collection, id.to_string());
                    }
                }
                if let Some(id) = body["messageId"].as_str() {
                    walk.by_name.insert("messageId".into(), id.to_string());
                }
            }
            // Calls with recordings and provider messages come with the seeded contacts.
            let found = setup(&env, &walk, &cx, "conversations.search-conversation").await;
            for conversation in found["conversations"].as_array().into_iter().flatten() {
                let Some(id) = conversation["id"].as_str() else {
                    continue;
                };
                let op = TABLE.get("conversations.get-messages").expect("operation");
                let mut call = Call::new(&walk, op);
                call.set("conversationId", id);
                call.set("limit", "100");
                let Ok(Verdict::Done(page)) = judge(&call, &call.run(&env).await) else {
                    continue;
                };
                for m in page["messages"]["messages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let id = m["id"].as_str().map(str::to_string);
                    match (m["messageType"].as_str(), m["status"].as_str()) {
                        (Some("TYPE_CALL"), Some("connected")) if cx.call_message.is_none() => {
                            cx.call_message = id
                        }
                        (Some("TYPE_CUSTOM_PROVIDER_SMS"), _)
                            if m["direction"] == "outbound" && cx.provider_message.is_none() =>
                        {
                            cx.provider_message = id
                        }
                        _ => {}
                    }
                }
            }
        }
        if op.id == "calendars.create-appointment" && cx.slot.is_none() {
            let slots = setup(&env, &walk, &cx, "calendars.get-slots").await;
            cx.slot = first_time(&slots);
        }
        // Independent reads run in small concurrent batches.
        if phase(op) == Phase::Middle && op.method == Method::Get {
            let batch: Vec<Call> = ops[i..]
                .iter()
                .take(BATCH)
                .take_while(|o| phase(o) == Phase::Middle && o.method == Method::Get)
                .map(|o| {
                    let mut call = Call::new(&walk, o);
                    hint(&walk, &cx, &mut call);
                    call
                })
                .collect();
            i += batch.len();
            let outs = futures::future::join_all(batch.iter().map(|c| c.run(&env))).await;
            for (call, out) in batch.iter().zip(outs) {
                match judge(call, &out) {
                    Ok(Verdict::Done(_)) => succeeded += 1,
                    Ok(Verdict::Refused(s, m)) => {
                        refused.push(format!("{} → {s} {m}", call.describe()))
                    }
                    Err(e) => failures.push(format!("{} → {e}", call.describe())),
                }
            }
            continue;
        }
        i += 1;
        let mut call = Call::new(&walk, op);
        hint(&walk, &cx, &mut call);
        let mut updated_field = None;
        if matches!(op.method, Method::Put | Method::Patch) && item_read(op).is_some() {
            (call.body, updated_field) = with_update(op, call.body.take());
        }
        let out = call.run(&env).await;
        let body = match judge(&call, &out) {
            Ok(Verdict::Done(body)) => body,
            Ok(Verdict::Refused(s, m)) => {
                refused.push(format!("{} → {s} {m}", call.describe()));
                continue;
            }
            Err(e) => {
                failures.push(format!("{} → {e}", call.describe()));
                continue;
            }
        };
        succeeded += 1;
        match phase(op) {
            Phase::Create => {
                // A create taking a list answers a list (calendar notifications).
                let first = body.as_array().and_then(|a| a.first()).unwrap_or(&body);
                let Some((collection, id)) = walk.learn(&env.emu, op, first) else {
                    failures.push(format!("{}: created, but no id learnt", call.describe()));
                    continue;
                };
                if collection == "/calendars/events/appointments" {
                    // Appointment notes name it `appointmentId` under another path.
                    walk.by_name.insert("appointmentId".into(), id.clone());
                }
                let Some(read) = read_of(collection) else {
                    continue;
                };
                let read_call = read_back(&walk, op, read, &id);
                let out = read_call.run(&env).await;
                checked_writes += 1;
                if out.code != 0 || !out.stdout.contains(&id) {
                    failures.push(format!(
                        "{}: created {id}, but {} does not show it: {out:?}",
                        op.id,
                        read_call.describe()
                    ));
                }
            }
            Phase::Delete => {
                let (Some(read), Some(id)) = (item_read(op), item_id(&call)) else {
                    continue;
                };
                let read_call = read_back(&walk, op, read, &id);
                let out = read_call.run(&env).await;
                checked_writes += 1;
                if !shows_gone(&read_call, &out, &id) {
                    failures.push(format!(
                        "{}: deleted, but {} still answers: {out:?}",
                        call.describe(),
                        read_call.describe()
                    ));
                }
            }
            Phase::Middle => {
                let (Some(field), Some(read)) = (updated_field, item_read(op)) else {
                    continue;
                };
                let read_call = Call::new(&walk, read);
                let out = read_call.run(&env).await;
                checked_writes += 1;
                if out.code != 0 || !out.stdout.contains(UPDATED) {
                    failures.push(format!(
                        "{}: set {field} to {UPDATED:?}, but {} does not show it: {out:?}",
                        call.describe(),
                        read_call.describe()
                    ));
                }
            }
        }
    }
    for line in &refused {
        eprintln!("refused by the emulator (allowed): {line}");
    }
    eprintln!(
        "{succeeded} succeeded, {} refused with a 4xx, {checked_writes} writes checked by a read",
        refused.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
