//! Deterministic demo data: `seed_contacts` realistic contacts (names, emails, E.164
//! phones, tags, companies, some custom-field values), every 4th with a task and every
//! 6th with a note. The same count always yields the same data (ids included).

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Map, Value};

use super::contact::{Contact, CustomFieldValue};
use super::custom_fields::FieldType;
use super::notes::Note;
use super::store::Store;
use super::tasks::Task;

const FIRST: &[&str] = &[
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "Lucas", "Mia", "Mateo", "Amelia",
    "Hugo", "Chloé", "Louis", "Inès", "Jules", "Léa", "Gabriel", "Zoé", "Arthur", "Priya", "Kenji",
    "Fatima", "Omar", "Sara",
];
const LAST: &[&str] = &[
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Lopez",
    "Nguyen", "Khan", "Tanaka", "Rossi",
];
const COMPANIES: &[&str] = &[
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Retail",
    "Stark Solar",
    "Wayne Logistics",
    "Hooli",
    "Vandelay Imports",
];
const TAGS: &[&str] = &[
    "lead",
    "customer",
    "vip",
    "newsletter",
    "webinar",
    "partner",
    "cold",
    "trial",
];
const SOURCES: &[&str] = &[
    "website form",
    "public api",
    "import",
    "referral",
    "facebook ad",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("Paris", "IDF", "FR"),
    ("Lyon", "ARA", "FR"),
    ("Austin", "TX", "US"),
    ("Denver", "CO", "US"),
    ("Toronto", "ON", "CA"),
    ("London", "LND", "GB"),
];
const TASK_TITLES: &[&str] = &[
    "Call back",
    "Send proposal",
    "Follow up on demo",
    "Check renewal",
    "Book onboarding",
];
const NOTE_BODIES: &[&str] = &[
    "Asked for pricing of the annual plan.",
    "Prefers to be contacted by email.",
    "Met at the spring trade show.",
    "Interested in the partner programme.",
];

fn ascii_lower(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'é' | 'è' => 'e',
            'ï' => 'i',
            other => other,
        })
        .collect::<String>()
        .to_lowercase()
}

/// Add `count` demo contacts to `store`.
pub fn seed(store: &mut Store, count: usize) {
    if count == 0 {
        return;
    }
    // Spread creation over the last year, oldest first, ending an hour ago.
    let end = Utc::now() - Duration::hours(1);
    let span_ms: i64 = 365 * 24 * 3600 * 1000;
    let step = (span_ms / i64::try_from(count).unwrap_or(1).max(1)).max(1);
    let start = end - Duration::milliseconds(span_ms);
    for i in 0..count {
        let rng = &mut store.rng;
        let first = *FIRST.choose(rng).unwrap_or(&"Alex");
        let last = *LAST.choose(rng).unwrap_or(&"Doe");
        let offset = step * i64::try_from(i).unwrap_or(0) + rng.gen_range(0..step.max(2) / 2);
        let added: DateTime<Utc> = Utc
            .timestamp_millis_opt(start.timestamp_millis() + offset)
            .single()
            .unwrap_or(start);
        let updated = added + Duration::milliseconds(rng.gen_range(0..3_600_000));
        let (city, state, country) = *CITIES.choose(rng).unwrap_or(&("Paris", "IDF", "FR"));
        let mut fields = Map::new();
        fields.insert("firstName".into(), json!(first));
        fields.insert("lastName".into(), json!(last));
        fields.insert(
            "email".into(),
            json!(format!(
                "{}.{}{}@example.com",
                ascii_lower(first),
                ascii_lower(last),
                i + 1
            )),
        );
        fields.insert("phone".into(), json!(format!("+1555{:07}", 1_000_000 + i)));
        fields.insert("city".into(), json!(city));
        fields.insert("state".into(), json!(state));
        fields.insert("country".into(), json!(country));
        fields.insert(
            "source".into(),
            json!(*SOURCES.choose(rng).unwrap_or(&"import")),
        );
        fields.insert("timezone".into(), json!("Europe/Paris"));
        if rng.gen_bool(0.6) {
            fields.insert(
                "companyName".into(),
                json!(*COMPANIES.choose(rng).unwrap_or(&"Acme Corp")),
            );
        }
        if rng.gen_bool(0.3) {
            let year = rng.gen_range(1960..2004);
            let month = rng.gen_range(1..=12);
            let day = rng.gen_range(1..=28);
            fields.insert(
                "dateOfBirth".into(),
                json!(format!("{year:04}-{month:02}-{day:02}T00:00:00.000Z")),
            );
        }
        let tag_count = rng.gen_range(0..=3);
        let mut tags: Vec<String> = TAGS
            .choose_multiple(rng, tag_count)
            .map(|t| t.to_string())
            .collect();
        tags.sort();
        let mut custom = Vec::new();
        if let Some(def) = store
            .custom_fields
            .iter()
            .find(|d| d.data_type == FieldType::Numerical)
        {
            if store.rng.gen_bool(0.5) {
                custom.push(CustomFieldValue {
                    id: def.id.clone(),
                    value: json!(store.rng.gen_range(0..100)),
                });
            }
        }
        if let Some(def) = store
            .custom_fields
            .iter()
            .find(|d| d.data_type == FieldType::SingleOptions)
        {
            if store.rng.gen_bool(0.3) {
                let value = def
                    .options
                    .choose(&mut store.rng)
                    .cloned()
                    .unwrap_or_default();
                custom.push(CustomFieldValue {
                    id: def.id.clone(),
                    value: Value::String(value),
                });
            }
        }
        let id = store.new_id();
        let mut contact = Contact::new(id.clone(), added);
        contact.date_updated = updated;
        contact.fields = fields;
        contact.tags = tags;
        contact.custom_fields = custom;
        store.observe_timestamp(updated);
        if i % 4 == 0 {
            let task_id = store.new_id();
            let title = TASK_TITLES[i % TASK_TITLES.len()].to_string();
            store.tasks.entry(id.clone()).or_default().push(Task {
                id: task_id,
                contact_id: id.clone(),
                title,
                body: Some(format!("Regarding {first} {last}")),
                assigned_to: None,
                due_date: added + Duration::days(7),
                completed: i % 8 == 0,
                date_added: added,
                date_updated: added,
            });
        }
        if i % 6 == 0 {
            let note_id = store.new_id();
            store.notes.entry(id.clone()).or_default().push(Note {
                id: note_id,
                contact_id: id.clone(),
                body: NOTE_BODIES[i % NOTE_BODIES.len()].to_string(),
                user_id: None,
                title: None,
                color: None,
                pinned: Some(false),
                date_added: added,
            });
        }
        store.contacts.insert(id, contact);
    }
    super::conversations::seed(store);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_is_deterministic_and_complete() {
        let mut a = Store::new("loc", "co", false);
        let mut b = Store::new("loc", "co", false);
        seed(&mut a, 50);
        seed(&mut b, 50);
        assert_eq!(a.contacts.len(), 50);
        let mut ids_a: Vec<_> = a.contacts.keys().cloned().collect();
        let mut ids_b: Vec<_> = b.contacts.keys().cloned().collect();
        ids_a.sort();
        ids_b.sort();
        assert_eq!(ids_a, ids_b);
        assert_eq!(a.task_count(), 13);
        assert_eq!(a.note_count(), 9);
        let emails: std::collections::HashSet<_> = a
            .contacts
            .values()
            .filter_map(|c| c.email_lower())
            .collect();
        assert_eq!(emails.len(), 50, "emails are unique");
        assert!(a
            .contacts
            .values()
            .all(|c| c.phone().is_some_and(|p| p.starts_with("+1555"))));
    }
}
