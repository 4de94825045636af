//! Paging 1,000 contacts through the client's streams, by seek token and by numeric
//! offset, with no gaps or repeats; searching with typed filters.

mod support;

use std::collections::HashSet;

use futures::TryStreamExt;
use hlbridge_sellsy::{Contact, ContactFilters, DateRange, Direction, ListOptions};
use serde_json::json;

fn ids(contacts: &[Contact]) -> Vec<i64> {
    contacts.iter().map(|c| c.id).collect()
}

#[tokio::test]
async fn thousand_contacts_by_seek_and_by_offset() {
    let emu = support::emulator(support::quick(1_000)).await;
    let client = support::client(&emu).await;

    let by_seek: Vec<Contact> = client
        .contacts(&ListOptions::new())
        .try_collect()
        .await
        .unwrap();
    let by_offset: Vec<Contact> = client
        .contacts(&ListOptions::new().numeric_offsets())
        .try_collect()
        .await
        .unwrap();
    for run in [&by_seek, &by_offset] {
        assert_eq!(run.len(), 1_000, "no gaps");
        assert_eq!(
            ids(run).into_iter().collect::<HashSet<_>>().len(),
            1_000,
            "no repeats"
        );
    }
    assert_eq!(ids(&by_seek), ids(&by_offset));

    let by_name: Vec<Contact> = client
        .contacts(&ListOptions::new().order("name", Direction::Desc).limit(37))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        ids(&by_name).into_iter().collect::<HashSet<_>>().len(),
        1_000
    );
    let names: Vec<String> = by_name
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c.last_name.clone().unwrap_or_default(),
                c.first_name.clone().unwrap_or_default()
            )
            .to_lowercase()
        })
        .collect();
    assert!(names.windows(2).all(|w| w[0] >= w[1]), "descending by name");
}

#[tokio::test]
async fn created_contact_is_found_by_email_and_by_updated_range() {
    let emu = support::emulator(support::quick(50)).await;
    let client = support::client(&emu).await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    let created = client
        .create_contact(&Contact {
            last_name: Some("Nouveau".into()),
            email: Some("nouveau@example.org".into()),
            ..Contact::default()
        })
        .await
        .unwrap();

    let by_email = ContactFilters {
        email: Some("nouveau@example.org".into()),
        ..ContactFilters::default()
    };
    let found: Vec<Contact> = client
        .search_contacts(&by_email, &ListOptions::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids(&found), vec![created.id]);

    let recent = ContactFilters {
        updated: Some(DateRange::since(&since)),
        ..ContactFilters::default()
    };
    let changed: Vec<Contact> = client
        .search_contacts(&recent, &ListOptions::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids(&changed), vec![created.id]);

    let raw = client
        .call(
            "contacts.search-contacts",
            hlbridge_sellsy::CallInput::new()
                .body(json!({"filters": {"email": "nouveau@example.org"}})),
        )
        .await
        .unwrap();
    for key in ["limit", "count", "total", "offset"] {
        assert!(raw["pagination"].get(key).is_some(), "pagination.{key}");
    }
}

#[tokio::test]
async fn embeds_and_projection_travel_as_php_arrays() {
    let emu = support::emulator(support::quick(0)).await;
    let client = support::client(&emu).await;
    let contact = client
        .create_contact(&Contact {
            last_name: Some("Embed".into()),
            ..Contact::default()
        })
        .await
        .unwrap();
    client
        .add_smart_tags(contact.id, &["alpha", "beta"])
        .await
        .unwrap();
    let got = client
        .get_contact_with(
            contact.id,
            &ListOptions::new()
                .embed("smart_tags")
                .embed("acl")
                .field("id")
                .field("last_name"),
        )
        .await
        .unwrap();
    assert_eq!(got.id, contact.id);
    assert_eq!(got.email, None, "projected away");
    let embed = &got.extra["_embed"];
    assert_eq!(embed["smart_tags"].as_array().unwrap().len(), 2);
    assert_eq!(embed["acl"]["can_be_deleted"], true);

    let op = hlbridge_sellsy::operation("contacts.get-informations").unwrap();
    let input = ListOptions::new()
        .embed("acl")
        .field("id")
        .apply(hlbridge_sellsy::CallInput::new().param("id", 1));
    let request = client.prepare(op, &input).unwrap();
    let names: Vec<&str> = request.query.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, vec!["embed[]", "field[]", "field[]"]);
}
