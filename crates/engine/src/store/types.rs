//! Rows of the state store.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a link or record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Contact,
    Task,
    Note,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Contact => "contact",
            Kind::Task => "task",
            Kind::Note => "note",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "contact" => Some(Kind::Contact),
            "task" => Some(Kind::Task),
            "note" => Some(Kind::Note),
            _ => None,
        }
    }
}

/// One of the two systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Ghl,
    Sellsy,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Ghl => "ghl",
            Side::Sellsy => "sellsy",
        }
    }

    pub fn parse(s: &str) -> Option<Side> {
        match s {
            "ghl" => Some(Side::Ghl),
            "sellsy" => Some(Side::Sellsy),
            _ => None,
        }
    }

    pub fn other(self) -> Side {
        match self {
            Side::Ghl => Side::Sellsy,
            Side::Sellsy => Side::Ghl,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Side::Ghl => "GHL",
            Side::Sellsy => "Sellsy",
        }
    }
}

/// An id pair and what each side last looked like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub kind: Kind,
    pub ghl_id: String,
    pub sellsy_id: String,
    /// For tasks and notes: the GHL id of the contact they hang on.
    pub parent_ghl_id: Option<String>,
    pub ghl_hash: Option<String>,
    pub sellsy_hash: Option<String>,
    pub ghl_updated: Option<String>,
    pub sellsy_updated: Option<String>,
    /// `active`, or `archived` once one side was deleted.
    pub state: String,
}

impl Link {
    pub fn new(kind: Kind, ghl_id: &str, sellsy_id: &str) -> Self {
        Link {
            kind,
            ghl_id: ghl_id.to_string(),
            sellsy_id: sellsy_id.to_string(),
            parent_ghl_id: None,
            ghl_hash: None,
            sellsy_hash: None,
            ghl_updated: None,
            sellsy_updated: None,
            state: "active".into(),
        }
    }

    pub fn id_of(&self, side: Side) -> &str {
        match side {
            Side::Ghl => &self.ghl_id,
            Side::Sellsy => &self.sellsy_id,
        }
    }
}

/// The canonical content last seen of one record on one side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub side: Side,
    pub kind: Kind,
    pub id: String,
    /// For tasks and notes: the contact id on the same side.
    pub parent: Option<String>,
    /// Canonical fields (object).
    pub data: Value,
    pub hash: String,
    /// The side's own update time (RFC 3339).
    pub updated: Option<String>,
    pub dirty: bool,
}

/// The result of reconciling one record: applied in one transaction.
#[derive(Debug, Default, Clone)]
pub struct Commit {
    pub links: Vec<Link>,
    /// Replace the shadow of (kind, GHL id) with these fields.
    pub shadows: Vec<(Kind, String, std::collections::BTreeMap<String, Value>)>,
    /// Records to store as seen, clean (our own writes: what the side now holds).
    pub records: Vec<Record>,
    /// Records to mark clean, if their hash is still this one.
    pub clean: Vec<(Side, Kind, String, String)>,
    /// Records to forget (deleted on their side).
    pub forget: Vec<(Side, Kind, String)>,
    pub outbox_done: Vec<i64>,
}

/// A write to record before it is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbox {
    /// Unique per intended change: repeated planning of the same change reuses it.
    pub key: String,
    pub target: Side,
    pub kind: Kind,
    /// create | update | archive | delete
    pub op: String,
    pub target_id: Option<String>,
    pub source_id: String,
    pub payload: Value,
    /// What the history records of this write once its outcome is known.
    pub context: Option<super::history::WriteContext>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub key: String,
    pub target: Side,
    pub kind: Kind,
    pub op: String,
    pub target_id: Option<String>,
    pub source_id: String,
    pub payload: Value,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// When the intent was recorded and last touched (RFC 3339).
    pub created: String,
    pub updated: String,
}

/// How far the rotating GHL notes sweep has got.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NotesCoverage {
    /// Linked contacts whose GHL notes were read at least once.
    pub covered: u64,
    /// Linked contacts in all.
    pub total: u64,
    /// When the least recently read of the covered contacts was read (RFC 3339).
    pub oldest: Option<String>,
}

/// How a sent write ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// Sent and confirmed.
    Done,
    /// Not sent by this attempt: what it was to make is already there (an earlier
    /// attempt whose answer was lost, the record GHL's duplicate answer names, or a
    /// pair linked another way).
    Found,
    /// Will be tried again (kept pending, attempts counted).
    Retry(&'a str),
    /// Given up on (needs a human: bad data the API refuses).
    Failed(&'a str),
    /// Replaced by a fresh plan after a restart.
    Superseded,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewConflict {
    pub kind: Kind,
    pub ghl_id: String,
    pub sellsy_id: String,
    pub field: String,
    pub ghl_value: Value,
    pub sellsy_value: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub id: i64,
    pub kind: Kind,
    pub ghl_id: String,
    pub sellsy_id: String,
    pub field: String,
    pub ghl_value: Value,
    pub sellsy_value: Value,
    pub status: String,
    pub resolution: Option<String>,
    pub created: String,
}

/// A note or comment as archived.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchivedNote {
    pub side: Side,
    pub note_id: String,
    pub ghl_contact_id: Option<String>,
    pub sellsy_contact_id: Option<String>,
    pub body: String,
    pub updated: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoteHit {
    pub side: Side,
    pub note_id: String,
    pub ghl_contact_id: Option<String>,
    pub sellsy_contact_id: Option<String>,
    pub body: String,
    pub snippet: String,
}
