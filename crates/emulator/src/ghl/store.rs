//! The emulated location's data: contacts, their tasks, notes, campaign and workflow
//! memberships, appointments, and the location's custom fields.
//!
//! One `Store` per location (see [`super::tenants`]), each behind its own mutex in
//! [`super::state::GhlState`]; handlers are plain
//! synchronous functions over `&mut Store`, so every write is immediately visible to
//! every direct read. Search-backed reads go through [`Store::search_index`], which is
//! immediate too unless a search lag is configured (see [`super::search_index`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;

use super::contact::Contact;
use super::custom_fields::{default_definitions, CustomFieldDef};
use super::errors::ApiError;
use super::ids::new_id;
use super::notes::Note;
use super::tasks::Task;

/// Seed of the generator behind ids and demo data: runs are reproducible.
pub const STORE_SEED: u64 = 0x6768_6c65_6d75;

#[derive(Debug)]
pub struct Store {
    pub location_id: String,
    /// The location's display name (`GET /locations/{id}`).
    pub location_name: String,
    pub company_id: String,
    pub contacts: HashMap<String, Contact>,
    /// Ids of deleted contacts (bulk operations report them as deleted).
    pub deleted: HashSet<String>,
    /// Tasks by contact id, in creation order.
    pub tasks: HashMap<String, Vec<Task>>,
    /// Notes by contact id, in creation order.
    pub notes: HashMap<String, Vec<Note>>,
    /// Campaign ids by contact id.
    pub campaigns: HashMap<String, BTreeSet<String>>,
    /// Workflow enrolments by contact id: workflow id → event start time.
    pub workflows: HashMap<String, BTreeMap<String, Option<String>>>,
    /// Appointments by contact id (no calendar emulation yet: stays empty unless seeded).
    pub appointments: HashMap<String, Vec<Value>>,
    pub custom_fields: Vec<CustomFieldDef>,
    /// Calendars, groups, appointments, blocked slots, notes, notifications, resources.
    pub calendars: super::calendars::Calendars,
    /// Pipelines, opportunities, users, businesses, workflows, campaigns, snapshots.
    pub crm: super::crm::Crm,
    pub allow_duplicates: bool,
    /// Conversations, created locations, associations and blogs (see [`super::locations`]).
    pub other: super::locations::OtherData,
    /// Records of the operations served by the generic layer.
    pub generic: super::generic::GenericStore,
    /// What search-backed reads see (eventually consistent when a lag is set).
    pub search_index: super::search_index::SearchIndex,
    /// `POST /emulator/truncate`: listings end after this many items in total.
    pub truncate_after: Option<usize>,
    pub rng: StdRng,
    last_timestamp: DateTime<Utc>,
}

impl Store {
    pub fn new(location_id: &str, company_id: &str, allow_duplicates: bool) -> Self {
        Store::with_seed(location_id, company_id, allow_duplicates, STORE_SEED)
    }

    /// A store whose ids and demo data come from `seed` (each location of a company
    /// gets its own, so ids never repeat across locations).
    pub fn with_seed(
        location_id: &str,
        company_id: &str,
        allow_duplicates: bool,
        seed: u64,
    ) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let custom_fields = default_definitions(&mut rng);
        Store {
            location_id: location_id.to_string(),
            location_name: "Emulator Location".to_string(),
            company_id: company_id.to_string(),
            contacts: HashMap::new(),
            deleted: HashSet::new(),
            tasks: HashMap::new(),
            notes: HashMap::new(),
            campaigns: HashMap::new(),
            workflows: HashMap::new(),
            appointments: HashMap::new(),
            custom_fields,
            calendars: Default::default(),
            crm: super::crm::Crm::default(),
            allow_duplicates,
            other: Default::default(),
            generic: Default::default(),
            search_index: Default::default(),
            truncate_after: None,
            rng,
            last_timestamp: DateTime::<Utc>::MIN_UTC,
        }
    }

    /// The current time, strictly increasing across calls (1 ms steps at least), so
    /// `dateAdded`/`dateUpdated` orderings are total and cursors never tie by accident.
    pub fn now(&mut self) -> DateTime<Utc> {
        let mut now = Utc::now();
        if now <= self.last_timestamp {
            now = self.last_timestamp + Duration::milliseconds(1);
        }
        self.last_timestamp = now;
        now
    }

    /// Record a timestamp used for seeded data so later writes sort after it.
    pub fn observe_timestamp(&mut self, t: DateTime<Utc>) {
        if t > self.last_timestamp {
            self.last_timestamp = t;
        }
    }

    pub fn new_id(&mut self) -> String {
        loop {
            let id = new_id(&mut self.rng);
            if !self.contacts.contains_key(&id) && !self.deleted.contains(&id) {
                return id;
            }
        }
    }

    pub fn contact(&self, id: &str) -> Result<&Contact, ApiError> {
        self.contacts.get(id).ok_or_else(contact_not_found)
    }

    pub fn contact_mut(&mut self, id: &str) -> Result<&mut Contact, ApiError> {
        self.contacts.get_mut(id).ok_or_else(contact_not_found)
    }

    /// Contact matching `email` (case-insensitive), if any, other than `except`.
    pub fn find_by_email(&self, email: &str, except: Option<&str>) -> Option<&Contact> {
        let email = email.to_lowercase();
        self.contacts
            .values()
            .filter(|c| Some(c.id.as_str()) != except)
            .filter(|c| {
                // Compared without allocating: this runs over every contact per write.
                c.str_field("email").is_some_and(|e| {
                    e.eq_ignore_ascii_case(&email) || (!e.is_ascii() && e.to_lowercase() == email)
                })
            })
            .min_by_key(|c| (c.date_added, c.id.clone()))
    }

    /// Contact with this (normalised) phone, if any, other than `except`.
    pub fn find_by_phone(&self, phone: &str, except: Option<&str>) -> Option<&Contact> {
        self.contacts
            .values()
            .filter(|c| Some(c.id.as_str()) != except)
            .filter(|c| c.phone() == Some(phone))
            .min_by_key(|c| (c.date_added, c.id.clone()))
    }

    pub fn task_count(&self) -> usize {
        self.tasks.values().map(Vec::len).sum()
    }

    pub fn note_count(&self) -> usize {
        self.notes.values().map(Vec::len).sum()
    }

    /// Remove a contact and everything hanging off it.
    pub fn remove_contact(&mut self, id: &str) -> Option<Contact> {
        let contact = self.contacts.remove(id)?;
        self.deleted.insert(id.to_string());
        self.tasks.remove(id);
        self.notes.remove(id);
        self.campaigns.remove(id);
        self.workflows.remove(id);
        self.appointments.remove(id);
        Some(contact)
    }
}

/// Cut a sorted listing to the truncation set by `POST /emulator/truncate` (no-op
/// when none is set). Call before paging, so totals and next-page links follow.
pub fn cut_listing<T>(after: Option<usize>, items: &mut Vec<T>) {
    if let Some(n) = after {
        items.truncate(n);
    }
}

/// GHL answers an unknown contact id with a 400 (the v2 spec documents no 404 for the
/// contact routes; 404 only arrives with the v3 DTOs).
pub fn contact_not_found() -> ApiError {
    ApiError::bad_request("Contact not found")
}
