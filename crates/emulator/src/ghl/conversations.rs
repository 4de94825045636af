//! Conversations and their messages: `/conversations/...`.
//!
//! A conversation belongs to one contact; its messages are kept in creation order.
//! Seeded contacts get deterministic conversations (SMS, email and call messages, some
//! calls with a recording and a transcription, some outbound SMS sent through a custom
//! conversation provider so Update Message Status has something to act on).
//!
//! - Search Conversations pages with `startAfterDate` = the `sort` value (ms) of the
//!   last conversation of the previous page; every result carries `sort: [ms]`.
//! - Get Messages answers the nested `{messages: {lastMessageId, nextPage, messages}}`
//!   (newest first), paging with `lastMessageId`.
//! - Recording and transcription download answer files (`audio/x-wav`, `text/plain`)
//!   with a `Content-Disposition`, not JSON.
//! - Unknown ids answer 400 (the routes document no 404).
//! - Webhooks: `InboundMessage` / `OutboundMessage` for messages written through the
//!   API.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use super::context::{Ctx, Reply};
use super::errors::ApiError;
use super::ids::{iso, new_id};
use super::store::Store;
use super::webhooks::Event;

/// Seed of the conversation demo data (independent of the contacts' generator).
const SEED: u64 = 0x636f_6e76_6572_7361;

/// The conversations of the location.
#[derive(Debug, Default)]
pub struct Conversations {
    /// In creation order.
    pub items: Vec<Conversation>,
    /// Every message, in creation order (strictly increasing `date_added`).
    pub messages: Vec<Message>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: String,
    pub contact_id: String,
    pub date_added: DateTime<Utc>,
    pub date_updated: DateTime<Utc>,
    pub unread_count: i64,
    pub starred: bool,
    pub inbox: bool,
    pub assigned_to: Option<String>,
    pub followers: Vec<String>,
    /// Whether an agent is typing (live chat, set by the typing indicator).
    pub agent_typing: bool,
}

/// A call's recording and transcription.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub duration_s: u32,
    pub status: &'static str,
    pub recording: bool,
    /// `(channel, start s, end s, text, confidence)`.
    pub transcript: Vec<(u8, f64, f64, String, f64)>,
}

/// The email part of an email message (served by Get Email by ID).
#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    pub id: String,
    pub thread_id: String,
    pub subject: String,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub reply_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    pub contact_id: String,
    /// `TYPE_SMS`, `TYPE_EMAIL`, `TYPE_CALL`, …
    pub message_type: &'static str,
    pub direction: &'static str,
    pub status: String,
    pub body: String,
    pub content_type: &'static str,
    pub attachments: Vec<String>,
    pub source: &'static str,
    pub user_id: Option<String>,
    pub provider_id: Option<String>,
    pub date_added: DateTime<Utc>,
    pub email: Option<Email>,
    pub call: Option<Call>,
    /// Last error reported by the provider (Update Message Status).
    pub error: Option<Value>,
}

/// GHL's numeric message types (`type` of a message).
fn type_number(message_type: &str) -> i64 {
    match message_type {
        "TYPE_CALL" => 1,
        "TYPE_SMS" => 2,
        "TYPE_EMAIL" => 3,
        "TYPE_WEBCHAT" => 5,
        "TYPE_FACEBOOK" => 11,
        "TYPE_GMB" => 15,
        "TYPE_INSTAGRAM" => 18,
        "TYPE_WHATSAPP" => 19,
        "TYPE_CUSTOM_SMS" => 20,
        "TYPE_CUSTOM_EMAIL" => 21,
        "TYPE_CUSTOM_PROVIDER_SMS" => 22,
        "TYPE_CUSTOM_PROVIDER_EMAIL" => 23,
        "TYPE_LIVE_CHAT" => 29,
        "TYPE_TIKTOK" => 38,
        _ => 2,
    }
}

/// Conversation channel (`type`): string in search results, number in Get Conversation.
fn conversation_type(last: Option<&Message>) -> (&'static str, i64) {
    match last.map(|m| m.message_type) {
        Some("TYPE_EMAIL" | "TYPE_CUSTOM_EMAIL" | "TYPE_CUSTOM_PROVIDER_EMAIL") => {
            ("TYPE_EMAIL", 2)
        }
        Some("TYPE_FACEBOOK" | "TYPE_INSTAGRAM") => ("TYPE_FB_MESSENGER", 3),
        _ => ("TYPE_PHONE", 1),
    }
}

impl Message {
    pub fn render(&self, location_id: &str) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("type".into(), json!(type_number(self.message_type)));
        m.insert("messageType".into(), json!(self.message_type));
        m.insert("locationId".into(), json!(location_id));
        m.insert("contactId".into(), json!(self.contact_id));
        m.insert("conversationId".into(), json!(self.conversation_id));
        m.insert("dateAdded".into(), json!(iso(self.date_added)));
        m.insert("body".into(), json!(self.body));
        m.insert("direction".into(), json!(self.direction));
        m.insert("status".into(), json!(self.status));
        m.insert("contentType".into(), json!(self.content_type));
        m.insert("attachments".into(), json!(self.attachments));
        let mut meta = Map::new();
        if let Some(call) = &self.call {
            meta.insert("callDuration".into(), json!(call.duration_s.to_string()));
            meta.insert("callStatus".into(), json!(call.status));
        }
        if let Some(email) = &self.email {
            meta.insert("email".into(), json!({ "messageIds": [email.id] }));
        }
        m.insert("meta".into(), Value::Object(meta));
        m.insert("source".into(), json!(self.source));
        if let Some(u) = &self.user_id {
            m.insert("userId".into(), json!(u));
        }
        if let Some(p) = &self.provider_id {
            m.insert("conversationProviderId".into(), json!(p));
        }
        Value::Object(m)
    }

    fn render_email(&self, email: &Email, location_id: &str) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(email.id));
        m.insert("altId".into(), json!(self.id));
        m.insert("threadId".into(), json!(email.thread_id));
        m.insert("locationId".into(), json!(location_id));
        m.insert("contactId".into(), json!(self.contact_id));
        m.insert("conversationId".into(), json!(self.conversation_id));
        m.insert("dateAdded".into(), json!(iso(self.date_added)));
        m.insert("subject".into(), json!(email.subject));
        m.insert("body".into(), json!(self.body));
        m.insert("direction".into(), json!(self.direction));
        if let Some(status) = email_status(&self.status) {
            m.insert("status".into(), json!(status));
        }
        m.insert("contentType".into(), json!(self.content_type));
        m.insert("attachments".into(), json!(self.attachments));
        m.insert(
            "provider".into(),
            json!(if self.provider_id.is_some() {
                "custom"
            } else {
                "leadconnector"
            }),
        );
        m.insert("from".into(), json!(email.from));
        m.insert("to".into(), json!(email.to));
        m.insert("cc".into(), json!(email.cc));
        m.insert("bcc".into(), json!(email.bcc));
        if let Some(r) = &email.reply_to {
            m.insert("replyToMessageId".into(), json!(r));
        }
        m.insert("source".into(), json!(self.source));
        if let Some(p) = &self.provider_id {
            m.insert("conversationProviderId".into(), json!(p));
        }
        Value::Object(m)
    }

    fn webhook_fields(&self, conversation: &Conversation) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("contactId".into(), json!(self.contact_id));
        m.insert("conversationId".into(), json!(self.conversation_id));
        m.insert("messageId".into(), json!(self.id));
        m.insert("dateAdded".into(), json!(iso(self.date_added)));
        m.insert("body".into(), json!(self.body));
        m.insert("direction".into(), json!(self.direction));
        m.insert(
            "messageType".into(),
            json!(self.message_type.trim_start_matches("TYPE_")),
        );
        m.insert("contentType".into(), json!(self.content_type));
        m.insert("status".into(), json!(self.status));
        m.insert("attachments".into(), json!(self.attachments));
        if let Some(a) = &conversation.assigned_to {
            m.insert("userId".into(), json!(a));
        }
        m
    }
}

/// The email DTO's status enum is narrower than the message's.
fn email_status(status: &str) -> Option<&str> {
    const EMAIL: &[&str] = &[
        "pending",
        "scheduled",
        "sent",
        "delivered",
        "read",
        "undelivered",
        "connected",
        "failed",
        "opened",
    ];
    EMAIL.contains(&status).then_some(status)
}

impl Conversations {
    pub fn conversation(&self, id: &str) -> Result<&Conversation, ApiError> {
        self.items
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(conversation_not_found)
    }

    pub fn message(&self, id: &str) -> Result<&Message, ApiError> {
        self.messages
            .iter()
            .find(|m| m.id == id)
            .ok_or_else(message_not_found)
    }

    fn last_message(&self, conversation_id: &str, manual_only: bool) -> Option<&Message> {
        self.messages
            .iter()
            .rev()
            .filter(|m| !manual_only || m.source == "app" || m.source == "api")
            .find(|m| m.conversation_id == conversation_id)
    }

    /// Drop every conversation and message of a deleted contact.
    pub fn forget_contact(&mut self, contact_id: &str) {
        self.items.retain(|c| c.contact_id != contact_id);
        self.messages.retain(|m| m.contact_id != contact_id);
    }
}

fn conversation_not_found() -> ApiError {
    ApiError::bad_request("Conversation not found")
}

fn message_not_found() -> ApiError {
    ApiError::bad_request("Message not found")
}

/// Path `locationId` of the recording/transcription routes: the token's location only.
fn own_location(store: &Store, ctx: &Ctx) -> Result<(), ApiError> {
    if ctx.path("locationId") == store.location_id {
        Ok(())
    } else {
        Err(ApiError::LocationForbidden)
    }
}

/// Contacts deleted since a conversation was written no longer show it.
fn live(store: &Store) -> impl Fn(&&Conversation) -> bool + '_ {
    |c| store.contacts.contains_key(&c.contact_id)
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// One search result (`ConversationSchema` plus the fields GHL adds, `sort` included).
fn render_listed(store: &Store, c: &Conversation, sort_value: i64) -> Value {
    let convs = &store.other.conversations;
    let last = convs.last_message(&c.id, false);
    let last_manual = convs.last_message(&c.id, true);
    let contact = store.contacts.get(&c.contact_id);
    let name = contact.and_then(|k| k.display_name()).unwrap_or_default();
    let email = contact.and_then(|k| k.str_field("email")).unwrap_or("");
    let phone = contact.and_then(|k| k.phone()).unwrap_or("");
    let tags = contact.map(|k| k.tags.clone()).unwrap_or_default();
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("contactId".into(), json!(c.contact_id));
    m.insert("locationId".into(), json!(store.location_id));
    m.insert(
        "lastMessageBody".into(),
        json!(last.map(|l| l.body.as_str()).unwrap_or("")),
    );
    if let Some(l) = last {
        m.insert("lastMessageType".into(), json!(l.message_type));
        m.insert("lastMessageDirection".into(), json!(l.direction));
        m.insert("lastMessageDate".into(), json!(ms(l.date_added)));
    } else {
        // `lastMessageType` is required in search results; a conversation with no
        // message yet is a phone conversation (see `conversation_type`), whose
        // default message type is SMS.
        m.insert("lastMessageType".into(), json!("TYPE_SMS"));
    }
    if let Some(l) = last_manual {
        m.insert("lastManualMessageDate".into(), json!(ms(l.date_added)));
    }
    m.insert("type".into(), json!(conversation_type(last).0));
    m.insert("unreadCount".into(), json!(c.unread_count));
    m.insert("fullName".into(), json!(name));
    m.insert("contactName".into(), json!(name));
    m.insert("email".into(), json!(email));
    m.insert("phone".into(), json!(phone));
    m.insert("tags".into(), json!(tags));
    m.insert("inbox".into(), json!(c.inbox));
    m.insert("starred".into(), json!(c.starred));
    m.insert("followers".into(), json!(c.followers));
    if let Some(a) = &c.assigned_to {
        m.insert("assignedTo".into(), json!(a));
    }
    m.insert("dateAdded".into(), json!(ms(c.date_added)));
    m.insert("dateUpdated".into(), json!(ms(c.date_updated)));
    m.insert("sort".into(), json!([sort_value]));
    Value::Object(m)
}

fn render_one(store: &Store, c: &Conversation) -> Value {
    let last = store.other.conversations.last_message(&c.id, false);
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("contactId".into(), json!(c.contact_id));
    m.insert("locationId".into(), json!(store.location_id));
    m.insert("deleted".into(), json!(false));
    m.insert("inbox".into(), json!(c.inbox));
    m.insert("type".into(), json!(conversation_type(last).1));
    m.insert("unreadCount".into(), json!(c.unread_count));
    if let Some(a) = &c.assigned_to {
        m.insert("assignedTo".into(), json!(a));
    }
    m.insert("starred".into(), json!(c.starred));
    Value::Object(m)
}

/// A query parameter that must be a whole number (the table checks it parses as one).
fn query_ms(ctx: &Ctx, name: &str) -> Result<Option<i64>, ApiError> {
    match ctx.query(name) {
        None => Ok(None),
        Some(raw) => raw
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            // Saturating cast of a finite value.
            .map(|f| Some(f as i64))
            .ok_or_else(|| ApiError::unprocessable(format!("{name} must be a number"))),
    }
}

/// `GET /conversations/search`.
pub fn search(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let limit = ctx.query_number("limit", 20, 1, Some(100))?;
    let desc = ctx.query("sort") != Some("asc");
    // No score profiles or due dates exist here: those orders fall back to the last
    // message date, the default order.
    let manual = ctx.query("sortBy") == Some("last_manual_message_date");
    let after = query_ms(ctx, "startAfterDate")?;
    let start = query_ms(ctx, "startDate")?;
    let end = query_ms(ctx, "endDate")?;
    let status = ctx.query("status").unwrap_or("all");
    let text = ctx.query("query").map(str::to_lowercase);
    let convs = &store.other.conversations;
    let mut rows: Vec<(i64, &Conversation)> = convs
        .items
        .iter()
        .filter(live(store))
        .filter(|c| ctx.query("id").is_none_or(|id| c.id == id))
        .filter(|c| ctx.query("contactId").is_none_or(|id| c.contact_id == id))
        .filter(|c| {
            ctx.query("assignedTo").is_none_or(|a| {
                a.split(',').any(|a| {
                    c.assigned_to.as_deref() == Some(a)
                        || (a == "unassigned" && c.assigned_to.is_none())
                })
            })
        })
        .filter(|c| {
            ctx.query("followers")
                .is_none_or(|f| f.split(',').any(|f| c.followers.iter().any(|x| x == f)))
        })
        .filter(|c| match status {
            "read" => c.unread_count == 0,
            "unread" => c.unread_count > 0,
            "starred" => c.starred,
            _ => true,
        })
        .filter(|c| {
            let last = convs.last_message(&c.id, false);
            ctx.query("lastMessageType")
                .is_none_or(|t| last.is_some_and(|l| l.message_type == t))
                && ctx
                    .query("lastMessageDirection")
                    .is_none_or(|d| last.is_some_and(|l| l.direction == d))
                && ctx.query("lastMessageAction").is_none_or(|a| {
                    last.is_some_and(|l| {
                        (a == "manual") == (l.source == "app" || l.source == "api")
                    })
                })
        })
        .filter(|c| {
            let Some(q) = &text else { return true };
            let contact = store.contacts.get(&c.contact_id);
            let hay = [
                contact.and_then(|k| k.display_name()),
                contact.and_then(|k| k.str_field("email").map(str::to_string)),
                contact.and_then(|k| k.phone().map(str::to_string)),
                convs.last_message(&c.id, false).map(|l| l.body.clone()),
            ];
            hay.iter()
                .flatten()
                .any(|h| h.to_lowercase().contains(q.as_str()))
        })
        .map(|c| {
            let last = convs.last_message(&c.id, manual);
            let value = last.map_or(ms(c.date_added), |l| ms(l.date_added));
            (value, c)
        })
        .filter(|(v, _)| start.is_none_or(|s| *v >= s) && end.is_none_or(|e| *v <= e))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
    if desc {
        rows.reverse();
    }
    let total = rows.len();
    let page: Vec<Value> = rows
        .iter()
        .filter(|(v, _)| after.is_none_or(|a| if desc { *v < a } else { *v > a }))
        .take(usize::try_from(limit).unwrap_or(20))
        .map(|(v, c)| render_listed(store, c, *v))
        .collect();
    Ok(Reply::ok(
        ctx,
        json!({ "conversations": page, "total": total }),
    ))
}

/// `GET /conversations/{conversationId}`.
pub fn get(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let c = store
        .other
        .conversations
        .conversation(ctx.path("conversationId"))?;
    if !store.contacts.contains_key(&c.contact_id) {
        return Err(conversation_not_found());
    }
    Ok(Reply::ok(ctx, render_one(store, c)))
}

/// `POST /conversations/`: one conversation per contact (a second create answers 400).
pub fn create(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact_id = ctx.body_str("contactId").unwrap_or_default().to_string();
    store.contact(&contact_id)?;
    if store
        .other
        .conversations
        .items
        .iter()
        .any(|c| c.contact_id == contact_id)
    {
        return Err(ApiError::bad_request("Conversation already exists"));
    }
    let now = store.now();
    let id = store.new_id();
    let c = Conversation {
        id,
        contact_id,
        date_added: now,
        date_updated: now,
        unread_count: 0,
        starred: false,
        inbox: true,
        assigned_to: store
            .contacts
            .get(ctx.body_str("contactId").unwrap_or_default())
            .and_then(|k| k.str_field("assignedTo"))
            .map(str::to_string),
        followers: Vec::new(),
        agent_typing: false,
    };
    let mut body = json!({
        "id": c.id,
        "dateUpdated": iso(now),
        "dateAdded": iso(now),
        "deleted": false,
        "contactId": c.contact_id,
        "locationId": store.location_id,
        "lastMessageDate": iso(now),
    });
    if let Some(a) = &c.assigned_to {
        body["assignedTo"] = json!(a);
    }
    store.other.conversations.items.push(c);
    Ok(Reply::ok(
        ctx,
        json!({ "success": true, "conversation": body }),
    ))
}

/// `PUT /conversations/{conversationId}`: unread count and star.
pub fn update(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("conversationId").to_string();
    let unread = match ctx.body.get("unreadCount") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0)
                // Checked above: a finite non-negative whole number.
                .map(|f| f as i64)
                .ok_or_else(|| ApiError::unprocessable("unreadCount must not be less than 0"))?,
        ),
    };
    let now = store.now();
    let contacts = &store.contacts;
    let c = store
        .other
        .conversations
        .items
        .iter_mut()
        .find(|c| c.id == id && contacts.contains_key(&c.contact_id))
        .ok_or_else(conversation_not_found)?;
    if let Some(n) = unread {
        c.unread_count = n;
    }
    if let Some(b) = ctx.body.get("starred").and_then(Value::as_bool) {
        c.starred = b;
    }
    c.date_updated = now;
    let c = c.clone();
    let last = store.other.conversations.last_message(&c.id, false);
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("locationId".into(), json!(store.location_id));
    m.insert("contactId".into(), json!(c.contact_id));
    if let Some(a) = &c.assigned_to {
        m.insert("assignedTo".into(), json!(a));
    }
    if let Some(l) = last {
        m.insert("lastMessageBody".into(), json!(l.body));
        m.insert("lastMessageDate".into(), json!(iso(l.date_added)));
        m.insert("lastMessageType".into(), json!(l.message_type));
    }
    m.insert("unreadCount".into(), json!(c.unread_count));
    m.insert("inbox".into(), json!(c.inbox));
    m.insert("starred".into(), json!(c.starred));
    m.insert("deleted".into(), json!(false));
    Ok(Reply::ok(
        ctx,
        json!({ "success": true, "conversation": Value::Object(m) }),
    ))
}

/// `DELETE /conversations/{conversationId}`: the conversation and its messages.
pub fn delete(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("conversationId");
    let convs = &mut store.other.conversations;
    let pos = convs
        .items
        .iter()
        .position(|c| c.id == id)
        .ok_or_else(conversation_not_found)?;
    convs.items.remove(pos);
    convs.messages.retain(|m| m.conversation_id != id);
    Ok(Reply::ok(ctx, json!({ "success": true })))
}

/// `POST /conversations/messages/inbound`: a message a (custom) provider received.
pub fn inbound(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact_id = ctx.body_str("contactId").unwrap_or_default().to_string();
    store.contact(&contact_id)?;
    let conversation_id = ctx
        .body_str("conversationId")
        .unwrap_or_default()
        .to_string();
    let conv = store
        .other
        .conversations
        .conversation(&conversation_id)?
        .clone();
    if conv.contact_id != contact_id {
        return Err(ApiError::bad_request(
            "The conversation does not belong to this contact",
        ));
    }
    let kind = ctx.body_str("type").unwrap_or("SMS");
    let message_type = match kind {
        "Email" => "TYPE_EMAIL",
        "WhatsApp" => "TYPE_WHATSAPP",
        "GMB" => "TYPE_GMB",
        "IG" => "TYPE_INSTAGRAM",
        "FB" => "TYPE_FACEBOOK",
        "WebChat" => "TYPE_WEBCHAT",
        "Live_Chat" => "TYPE_LIVE_CHAT",
        "Call" | "IVR_Call" | "Campaign_Call" | "Campaign_VoiceMail" => "TYPE_CALL",
        "TIKTOK" => "TYPE_TIKTOK",
        "Custom" => "TYPE_CUSTOM_SMS",
        _ => "TYPE_SMS",
    };
    let is_email = message_type == "TYPE_EMAIL";
    let text = ctx
        .body_str("message")
        .or_else(|| ctx.body_str("html"))
        .unwrap_or_default()
        .to_string();
    let attachments: Vec<String> = ctx.body_strings("attachments");
    let date =
        match ctx.body_str("date") {
            Some(raw) => Some(super::tasks::parse_due_date(raw).ok_or_else(|| {
                ApiError::unprocessable("date must be a valid ISO 8601 date string")
            })?),
            None => None,
        };
    let now = store.now();
    let id = store.new_id();
    let email = if is_email {
        let email_id = ctx
            .body_str("emailMessageId")
            .map(str::to_string)
            .unwrap_or_else(|| id.clone());
        let list = |name: &str| -> Vec<String> {
            ctx.body
                .get(name)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Some(Email {
            id: email_id.clone(),
            thread_id: email_id,
            subject: ctx.body_str("subject").unwrap_or_default().to_string(),
            from: ctx.body_str("emailFrom").unwrap_or_default().to_string(),
            to: ctx
                .body_str("emailTo")
                .map(str::to_string)
                .into_iter()
                .collect(),
            cc: list("emailCc"),
            bcc: list("emailBcc"),
            reply_to: None,
        })
    } else {
        None
    };
    let message = Message {
        id: id.clone(),
        conversation_id: conversation_id.clone(),
        contact_id,
        message_type,
        direction: "inbound",
        status: "delivered".into(),
        body: text,
        content_type: if ctx.body_str("html").is_some() {
            "text/html"
        } else {
            "text/plain"
        },
        attachments,
        source: "api",
        user_id: None,
        provider_id: ctx.body_str("conversationProviderId").map(str::to_string),
        // Messages stay in creation order; a back-dated `date` is kept as given.
        date_added: date.unwrap_or(now),
        email,
        call: None,
        error: None,
    };
    let email_id = message.email.as_ref().map(|e| e.id.clone());
    let date_added = iso(message.date_added);
    let contact_id = message.contact_id.clone();
    let event = Event::new("InboundMessage", message.webhook_fields(&conv));
    store.other.conversations.messages.push(message);
    if let Some(c) = store
        .other
        .conversations
        .items
        .iter_mut()
        .find(|c| c.id == conversation_id)
    {
        c.unread_count += 1;
        c.date_updated = now;
    }
    let mut body = json!({
        "success": true,
        "conversationId": conversation_id,
        "messageId": id,
        "message": "Message received",
        "contactId": contact_id,
        "dateAdded": date_added,
    });
    if let Some(e) = email_id {
        body["emailMessageId"] = json!(e);
    }
    Ok(Reply::ok(ctx, body).with_events(vec![event]))
}

/// The contact's conversation, created on first message.
fn conversation_for(store: &mut Store, contact_id: &str, now: DateTime<Utc>) -> String {
    if let Some(c) = store
        .other
        .conversations
        .items
        .iter()
        .find(|c| c.contact_id == contact_id)
    {
        return c.id.clone();
    }
    let id = store.new_id();
    store.other.conversations.items.push(Conversation {
        id: id.clone(),
        contact_id: contact_id.to_string(),
        date_added: now,
        date_updated: now,
        unread_count: 0,
        starred: false,
        inbox: true,
        assigned_to: None,
        followers: Vec::new(),
        agent_typing: false,
    });
    id
}

/// `POST /conversations/messages`: an outbound message to a contact (SMS, Email, …).
pub fn send(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let contact_id = ctx.body_str("contactId").unwrap_or_default().to_string();
    let contact = store.contact(&contact_id)?;
    let kind = ctx.body_str("type").unwrap_or("SMS");
    let email_to = contact.str_field("email").map(str::to_string);
    let has_phone = contact.phone().is_some();
    let text = ctx
        .body_str("message")
        .or_else(|| ctx.body_str("html"))
        .unwrap_or_default()
        .to_string();
    let attachments: Vec<String> = ctx.body_strings("attachments");
    if text.is_empty() && attachments.is_empty() {
        return Err(ApiError::bad_request("message or attachments are required"));
    }
    let provider = ctx.body_str("conversationProviderId").map(str::to_string);
    let message_type = match kind {
        "Email" if provider.is_some() => "TYPE_CUSTOM_PROVIDER_EMAIL",
        "Email" => "TYPE_EMAIL",
        "WhatsApp" => "TYPE_WHATSAPP",
        "IG" => "TYPE_INSTAGRAM",
        "FB" => "TYPE_FACEBOOK",
        "Live_Chat" => "TYPE_LIVE_CHAT",
        "TIKTOK" => "TYPE_TIKTOK",
        "Custom" => "TYPE_CUSTOM_PROVIDER_SMS",
        _ if provider.is_some() => "TYPE_CUSTOM_PROVIDER_SMS",
        _ => "TYPE_SMS",
    };
    let is_email = message_type.contains("EMAIL");
    if message_type == "TYPE_CUSTOM_PROVIDER_SMS" && provider.is_none() {
        return Err(ApiError::bad_request(
            "conversationProviderId is required for Custom messages",
        ));
    }
    let to = ctx.body_str("emailTo").map(str::to_string).or(email_to);
    if is_email && to.is_none() {
        return Err(ApiError::bad_request("Contact has no email address"));
    }
    if !is_email && matches!(message_type, "TYPE_SMS" | "TYPE_WHATSAPP") && !has_phone {
        return Err(ApiError::bad_request("Contact has no phone number"));
    }
    let now = store.now();
    let conversation_id = conversation_for(store, &contact_id, now);
    let id = store.new_id();
    let email = if is_email {
        let email_id = store.new_id();
        let thread = ctx
            .body_str("threadId")
            .map(str::to_string)
            .unwrap_or_else(|| email_id.clone());
        let strings = |name: &str| -> Vec<String> {
            ctx.body
                .get(name)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Some(Email {
            id: email_id,
            thread_id: thread,
            subject: ctx.body_str("subject").unwrap_or_default().to_string(),
            from: ctx
                .body_str("emailFrom")
                .unwrap_or("no-reply@emulator.example")
                .to_string(),
            to: to.into_iter().collect(),
            cc: strings("emailCc"),
            bcc: strings("emailBcc"),
            reply_to: ctx.body_str("replyMessageId").map(str::to_string),
        })
    } else {
        None
    };
    let scheduled = ctx
        .body
        .get("scheduledTimestamp")
        .and_then(Value::as_f64)
        .is_some_and(|t| t > now.timestamp() as f64);
    let status = if scheduled {
        "scheduled".to_string()
    } else if provider.is_some() {
        "pending".to_string()
    } else {
        "sent".to_string()
    };
    let message = Message {
        id: id.clone(),
        conversation_id: conversation_id.clone(),
        contact_id,
        message_type,
        direction: "outbound",
        status: status.clone(),
        body: text,
        content_type: if ctx.body_str("html").is_some() {
            "text/html"
        } else {
            "text/plain"
        },
        attachments,
        source: "api",
        user_id: ctx.grant.as_ref().map(|g| g.user_id.clone()),
        provider_id: provider,
        date_added: now,
        email,
        call: None,
        error: None,
    };
    let email_id = message.email.as_ref().map(|e| e.id.clone());
    let event = {
        let conv = store.other.conversations.conversation(&conversation_id)?;
        Event::new("OutboundMessage", message.webhook_fields(conv))
    };
    store.other.conversations.messages.push(message);
    if let Some(c) = store
        .other
        .conversations
        .items
        .iter_mut()
        .find(|c| c.id == conversation_id)
    {
        c.date_updated = now;
    }
    let mut body = json!({
        "conversationId": conversation_id,
        "messageId": id,
        "msg": "Message queued successfully.",
        // The response DTO's status enum has no `sent`/`scheduled`: a just-sent
        // message is reported as pending delivery.
        "status": "pending",
    });
    if let Some(e) = email_id {
        body["emailMessageId"] = json!(e);
    }
    Ok(Reply::ok(ctx, body).with_events(vec![event]))
}

/// `GET /conversations/messages/{id}`.
pub fn get_message(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let m = store.other.conversations.message(ctx.path("id"))?;
    if !store.contacts.contains_key(&m.contact_id) {
        return Err(message_not_found());
    }
    Ok(Reply::ok(ctx, m.render(&store.location_id)))
}

/// `GET /conversations/messages/email/{id}`: by email message id (the message's
/// `meta.email.messageIds`).
pub fn get_email(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("id");
    let (m, e) = store
        .other
        .conversations
        .messages
        .iter()
        .filter(|m| store.contacts.contains_key(&m.contact_id))
        .find_map(|m| m.email.as_ref().filter(|e| e.id == id).map(|e| (m, e)))
        .ok_or_else(|| ApiError::bad_request("Email message not found"))?;
    Ok(Reply::ok(ctx, m.render_email(e, &store.location_id)))
}

/// `GET /conversations/{conversationId}/messages`: newest first, `lastMessageId` cursor.
pub fn list_messages(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let conv = store
        .other
        .conversations
        .conversation(ctx.path("conversationId"))?;
    if !store.contacts.contains_key(&conv.contact_id) {
        return Err(conversation_not_found());
    }
    let limit = usize::try_from(ctx.query_number("limit", 20, 1, Some(100))?).unwrap_or(20);
    let types: Option<Vec<&str>> = ctx
        .query("type")
        .map(|t| t.split(',').map(str::trim).collect());
    let all: Vec<&Message> = store
        .other
        .conversations
        .messages
        .iter()
        .rev()
        .filter(|m| m.conversation_id == conv.id)
        .filter(|m| types.as_ref().is_none_or(|t| t.contains(&m.message_type)))
        .collect();
    let start = match ctx.query("lastMessageId") {
        None => 0,
        Some(last) => {
            all.iter().position(|m| m.id == last).ok_or_else(|| {
                ApiError::bad_request("lastMessageId is not a message of this conversation")
            })? + 1
        }
    };
    let page: Vec<&Message> = all.iter().skip(start).take(limit).copied().collect();
    let next_page = start + page.len() < all.len();
    let last_id = page.last().map(|m| m.id.clone()).unwrap_or_default();
    let rendered: Vec<Value> = page.iter().map(|m| m.render(&store.location_id)).collect();
    Ok(Reply::ok(
        ctx,
        json!({ "messages": { "lastMessageId": last_id, "nextPage": next_page, "messages": rendered } }),
    ))
}

/// `PUT /conversations/messages/{messageId}/status`: a custom provider reports delivery.
pub fn update_status(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.path("messageId").to_string();
    let status = ctx.body_str("status").unwrap_or_default().to_string();
    let m = store
        .other
        .conversations
        .messages
        .iter_mut()
        .find(|m| m.id == id)
        .ok_or_else(message_not_found)?;
    if m.provider_id.is_none() || m.direction != "outbound" {
        return Err(ApiError::bad_request(
            "Only outbound messages sent through a custom conversation provider can have their status updated",
        ));
    }
    if let Some(e) = ctx.body_str("emailMessageId") {
        if m.email.as_ref().is_none_or(|x| x.id != e) {
            return Err(ApiError::bad_request(
                "emailMessageId does not belong to this message",
            ));
        }
    }
    m.status = status.clone();
    m.error = if status == "failed" {
        ctx.body.get("error").cloned()
    } else {
        None
    };
    let mut body = json!({
        "conversationId": m.conversation_id,
        "messageId": m.id,
        "status": status,
    });
    if let Some(e) = &m.email {
        body["emailMessageId"] = json!(e.id);
    }
    Ok(Reply::ok(ctx, body))
}

fn call_message<'a>(store: &'a Store, ctx: &Ctx) -> Result<&'a Message, ApiError> {
    own_location(store, ctx)?;
    let m = store.other.conversations.message(ctx.path("messageId"))?;
    if !store.contacts.contains_key(&m.contact_id) {
        return Err(message_not_found());
    }
    Ok(m)
}

/// A small valid WAV file (8 kHz, 8-bit mono) lasting `seconds` (capped), silent but for
/// a deterministic low hum so players show a waveform.
fn wav(seconds: u32) -> Vec<u8> {
    let rate: u32 = 8000;
    let samples = rate * seconds.clamp(1, 5);
    let mut out = Vec::with_capacity(44 + samples as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + samples).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&samples.to_le_bytes());
    out.extend((0..samples).map(|i| if (i / 40) % 2 == 0 { 132u8 } else { 124u8 }));
    out
}

/// `GET /conversations/messages/{messageId}/locations/{locationId}/recording`.
pub fn recording(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let m = call_message(store, ctx)?;
    let call = m
        .call
        .as_ref()
        .filter(|c| c.recording)
        .ok_or_else(|| ApiError::bad_request("No recording found for this message"))?;
    Ok(Reply::ok(ctx, Value::Null).file(
        "audio/x-wav",
        "attachment; filename=audio.wav",
        wav(call.duration_s),
    ))
}

fn transcript_of<'a>(store: &'a Store, ctx: &Ctx) -> Result<&'a Call, ApiError> {
    let m = call_message(store, ctx)?;
    m.call
        .as_ref()
        .filter(|c| !c.transcript.is_empty())
        .ok_or_else(|| ApiError::bad_request("No transcription found for this message"))
}

/// `GET /conversations/locations/{locationId}/messages/{messageId}/transcription`: the
/// sentences (an array, as the API answers; the spec documents one object).
pub fn transcription(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let call = transcript_of(store, ctx)?;
    let sentences: Vec<Value> = call
        .transcript
        .iter()
        .enumerate()
        .map(|(i, (channel, start, end, text, confidence))| {
            json!({
                "mediaChannel": channel,
                "sentenceIndex": i,
                "startTime": start,
                "endTime": end,
                "transcript": text,
                "confidence": confidence,
            })
        })
        .collect();
    Ok(Reply::ok(ctx, Value::Array(sentences)))
}

/// `.../transcription/download`: the transcript as a text file.
pub fn download_transcription(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let call = transcript_of(store, ctx)?;
    let text: String = call
        .transcript
        .iter()
        .map(|(channel, start, end, line, _)| {
            let who = if *channel == 1 { "Agent" } else { "Contact" };
            format!("[{start:06.2} - {end:06.2}] {who}: {line}\n")
        })
        .collect();
    Ok(Reply::ok(ctx, Value::Null).file(
        "text/plain",
        "attachment; filename=\"transcription.txt\"",
        text.into_bytes(),
    ))
}

/// `POST /conversations/providers/live-chat/typing`.
pub fn agent_typing(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let typing = match ctx.body_str("isTyping") {
        Some("true") => true,
        Some("false") => false,
        _ => {
            return Err(ApiError::unprocessable(
                "isTyping must be one of the following values: true, false",
            ))
        }
    };
    let id = ctx.body_str("conversationId").unwrap_or_default();
    let contacts = &store.contacts;
    let c = store
        .other
        .conversations
        .items
        .iter_mut()
        .find(|c| c.id == id && contacts.contains_key(&c.contact_id))
        .ok_or_else(conversation_not_found)?;
    c.agent_typing = typing;
    Ok(Reply::ok(ctx, json!({ "success": true })))
}

const SMS_IN: &[&str] = &[
    "Hi, is the annual plan still discounted?",
    "Can we move our call to Thursday?",
    "Thanks, received the invoice.",
    "Who should I talk to about an upgrade?",
];
const SMS_OUT: &[&str] = &[
    "Hello! Yes, until the end of the month.",
    "Sure, Thursday 10am works for us.",
    "Great, thank you!",
    "I'll put you in touch with our account manager.",
];
const TRANSCRIPT: &[(u8, &str)] = &[
    (1, "Hello, thanks for calling, how can I help?"),
    (2, "Hi, I'd like to know more about the partner programme."),
    (1, "Of course, I'll send you the details by email."),
    (2, "Perfect, thank you."),
];

/// Deterministic conversations for the seeded contacts: every second contact (by
/// creation date) has one, with 2–6 messages.
pub fn seed(store: &mut Store) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut contacts: Vec<(DateTime<Utc>, String, Option<String>)> = store
        .contacts
        .values()
        .map(|c| {
            (
                c.date_added,
                c.id.clone(),
                c.str_field("email").map(str::to_string),
            )
        })
        .collect();
    contacts.sort();
    let provider = new_id(&mut rng);
    // Seeded history ends before now (contacts are seeded up to an hour ago).
    let end = Utc::now() - Duration::minutes(10);
    for (i, (added, contact_id, email)) in contacts.into_iter().enumerate() {
        if i % 2 == 1 {
            continue;
        }
        let conversation_id = new_id(&mut rng);
        let count = 2 + (i / 2) % 5;
        let first = added + Duration::minutes(5);
        let span = (end - first).num_milliseconds().max(1);
        let gap = (span / i64::try_from(count + 1).unwrap_or(1)).max(1);
        let mut at = first;
        for k in 0..count {
            let step = gap / 2 + rng.gen_range(0..gap.max(2) / 2);
            at = Utc
                .timestamp_millis_opt(at.timestamp_millis() + step.max(1))
                .single()
                .unwrap_or(at);
            let date = at;
            let inbound = k % 2 == 0;
            let id = new_id(&mut rng);
            let mut m = Message {
                id,
                conversation_id: conversation_id.clone(),
                contact_id: contact_id.clone(),
                message_type: "TYPE_SMS",
                direction: if inbound { "inbound" } else { "outbound" },
                status: if inbound { "delivered" } else { "sent" }.to_string(),
                body: if inbound {
                    SMS_IN[(i + k) % SMS_IN.len()]
                } else {
                    SMS_OUT[(i + k) % SMS_OUT.len()]
                }
                .to_string(),
                content_type: "text/plain",
                attachments: Vec::new(),
                source: if inbound { "app" } else { "workflow" },
                user_id: None,
                provider_id: None,
                date_added: date,
                email: None,
                call: None,
                error: None,
            };
            match (i / 2 + k) % 4 {
                1 if email.is_some() => {
                    m.message_type = "TYPE_EMAIL";
                    m.content_type = "text/html";
                    m.body = format!("<p>{}</p>", m.body);
                    let email_id = new_id(&mut rng);
                    let contact_email = email.clone().unwrap_or_default();
                    let (from, to) = if inbound {
                        (contact_email, "sales@emulator.example".to_string())
                    } else {
                        ("sales@emulator.example".to_string(), contact_email)
                    };
                    m.email = Some(Email {
                        id: email_id.clone(),
                        thread_id: email_id,
                        subject: "About your account".into(),
                        from,
                        to: vec![to],
                        cc: Vec::new(),
                        bcc: Vec::new(),
                        reply_to: None,
                    });
                }
                2 => {
                    let duration = rng.gen_range(20..400);
                    let answered = rng.gen_bool(0.7);
                    m.message_type = "TYPE_CALL";
                    m.body = String::new();
                    m.status = if answered { "connected" } else { "failed" }.to_string();
                    let mut t = 0.0;
                    let transcript = if answered {
                        TRANSCRIPT
                            .iter()
                            .map(|(ch, line)| {
                                let start = t;
                                t += 2.5 + f64::from(rng.gen_range(0..30u8)) / 10.0;
                                let conf = 0.8 + f64::from(rng.gen_range(0..20u8)) / 100.0;
                                (*ch, start, t, line.to_string(), conf)
                            })
                            .collect()
                    } else {
                        Vec::new()
                    };
                    m.call = Some(Call {
                        duration_s: if answered { duration } else { 0 },
                        status: if answered { "completed" } else { "no-answer" },
                        recording: answered,
                        transcript,
                    });
                }
                3 if !inbound => {
                    m.message_type = "TYPE_CUSTOM_PROVIDER_SMS";
                    m.provider_id = Some(provider.clone());
                    m.status = "pending".into();
                    m.source = "api";
                }
                _ => {}
            }
            store.other.conversations.messages.push(m);
        }
        let unread = if i % 3 == 0 { 1 } else { 0 };
        store.other.conversations.items.push(Conversation {
            id: conversation_id,
            contact_id,
            date_added: first,
            date_updated: at,
            unread_count: unread,
            starred: i % 5 == 0,
            inbox: true,
            assigned_to: None,
            followers: Vec::new(),
            agent_typing: false,
        });
    }
    let messages = &mut store.other.conversations.messages;
    messages.sort_by(|a, b| {
        a.date_added
            .cmp(&b.date_added)
            .then_with(|| a.id.cmp(&b.id))
    });
    // Distinct timestamps: `startAfterDate` cursors never tie.
    for i in 1..messages.len() {
        if messages[i].date_added <= messages[i - 1].date_added {
            messages[i].date_added = messages[i - 1].date_added + Duration::milliseconds(1);
        }
    }
    if let Some(last) = messages.last().map(|m| m.date_added) {
        store.observe_timestamp(last);
    }
}
