//! Deterministic start-up data: staff, task labels, custom-field definitions, and N
//! contacts of which some work for a company, have an address, tags, tasks and comments.

use serde_json::{json, Map, Value};

use super::parties::Party;
use super::store::{Owner, Record, Store};
use super::{addresses, comments, custom_fields, smart_tags, system, tasks};

const FIRST_NAMES: &[&str] = &[
    "Alice",
    "Bruno",
    "Chloé",
    "David",
    "Emma",
    "François",
    "Gabrielle",
    "Hélène",
    "Inès",
    "Julien",
    "Karim",
    "Louise",
    "Mathis",
    "Nadia",
    "Olivier",
    "Pauline",
    "Quentin",
    "Rose",
    "Samuel",
    "Théo",
];
const LAST_NAMES: &[&str] = &[
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel",
];
const COMPANIES: &[&str] = &[
    "Atelier Lumière",
    "Boulangerie Dupain",
    "Cabinet Verdier",
    "Domaine des Pins",
    "Éditions Azur",
    "Fromagerie Alpine",
    "Garage du Centre",
    "Hôtel Bellevue",
    "Imprimerie Moderne",
    "Jardins de Provence",
];
const CITIES: &[(&str, &str)] = &[
    ("Paris", "75011"),
    ("Lyon", "69003"),
    ("Marseille", "13001"),
    ("Bordeaux", "33000"),
    ("Lille", "59000"),
    ("Nantes", "44000"),
];
const TAGS: &[&str] = &[
    "vip",
    "newsletter",
    "prospect-2024",
    "salon",
    "partenaire",
    "relance",
];
const POSITIONS: &[&str] = &[
    "Gérant",
    "Directrice commerciale",
    "Comptable",
    "Acheteur",
    "Assistante",
];

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// A fixed, plausible timestamp for the n-th seeded object.
fn stamp(n: usize) -> String {
    let day = 1 + n % 28;
    let month = 1 + (n / 28) % 12;
    let hour = 8 + n % 10;
    format!(
        "2024-{month:02}-{day:02}T{hour:02}:{:02}:00+00:00",
        (n * 7) % 60
    )
}

pub fn seed(store: &mut Store, contacts: usize) {
    system::seed_staffs(store);
    tasks::seed_labels(store);
    custom_fields::seed_definitions(store);
    for i in 0..contacts {
        seed_contact(store, i);
    }
}

fn seed_contact(store: &mut Store, i: usize) {
    let first = FIRST_NAMES[i % FIRST_NAMES.len()];
    let last = LAST_NAMES[(i * 7 + i / FIRST_NAMES.len()) % LAST_NAMES.len()];
    let folded = |s: &str| smart_tags::fold(s).replace(' ', "-");
    let created = stamp(i);
    let mut contact: Record = Party::Contact.blank(&created);
    for (k, v) in [
        (
            "civility",
            json!(if i.is_multiple_of(2) { "ms" } else { "mr" }),
        ),
        ("first_name", json!(first)),
        ("last_name", json!(last)),
        (
            "email",
            json!(format!(
                "{}.{}.{i}@example.com",
                folded(first),
                folded(last)
            )),
        ),
        ("phone_number", json!(format!("+3314{:07}", 1_000_000 + i))),
        ("mobile_number", json!(format!("+3366{:07}", 2_000_000 + i))),
        ("position", json!(POSITIONS[i % POSITIONS.len()])),
        (
            "marketing_campaigns_subscriptions",
            json!(if i.is_multiple_of(4) {
                json!([])
            } else {
                json!(["email", "sms"])
            }),
        ),
    ] {
        contact.insert(k.into(), v);
    }
    let contact_id = store.contacts.insert(contact);

    if i.is_multiple_of(2) {
        let (city, postal_code) = CITIES[i % CITIES.len()];
        let address = object(json!({
            "name": "Bureau", "address_line_1": format!("{} rue de la République", 1 + i % 120),
            "postal_code": postal_code, "city": city, "country_code": "FR",
        }));
        addresses::insert(store, contact_id, &address);
    }
    if i.is_multiple_of(3) {
        let name = COMPANIES[(i / 3) % COMPANIES.len()];
        let mut company = Party::Company.blank(&created);
        company.insert(
            "name".into(),
            json!(format!("{name} {}", i / 3 / COMPANIES.len() + 1)),
        );
        company.insert(
            "type".into(),
            json!(["client", "prospect", "supplier"][(i / 3) % 3]),
        );
        company.insert("main_contact_id".into(), json!(contact_id));
        let company_id = store.companies.insert(company);
        store.company_contacts.insert(
            (company_id, contact_id),
            json!({ "contact_type_main": true }),
        );
        let task = object(json!({
            "title": format!("Call {first} {last}"), "label_id": 1 + (i % 4) as i64,
            "due_date": stamp(i + 30), "related": [{ "type": "company", "id": company_id }],
        }));
        tasks::insert(store, &task);
    }
    if i.is_multiple_of(5) {
        let comment = object(json!({
            "description": format!("<p>First meeting with {first} went well.</p>"),
            "related": [{ "type": "contact", "id": contact_id }],
            "created": created,
        }));
        comments::insert(store, &comment);
    }
    if i % 4 == 1 {
        let tag = smart_tags::tag_id(store, TAGS[i % TAGS.len()]);
        store.tag_links.insert((Owner::Contact, contact_id, tag));
    }
}
