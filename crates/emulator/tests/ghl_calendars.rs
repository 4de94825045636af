//! Calendars & Appointments: groups, calendars, computed free slots, appointments,
//! blocked slots, appointment notes, notifications and resources. Every catalog
//! operation is checked through the state it leaves behind.

#[path = "ghl_support.rs"]
mod support;

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use hlbridge_core::schema_check::{check_value, Strictness};
use serde_json::{json, Value};
use support::{emulator, roomy, Api};

/// Assert `v` matches the operation's documented success response (as a
/// schema-driven client reads it: undeclared properties allowed).
#[track_caller]
fn conforms(op_id: &str, v: &Value) {
    let table = &hlbridge_ghl::TABLE;
    let op = table.get(op_id).expect("operation");
    let ty = op.response.expect("response type");
    let bad = check_value(table, &ty, v, Strictness::Open);
    assert!(bad.is_empty(), "{op_id}: {bad:?} in {v}");
}

/// A Monday at least a week ahead (slots in the past are never free).
fn monday() -> NaiveDate {
    let mut d = Utc::now().date_naive() + Duration::days(7);
    while d.weekday() != Weekday::Mon {
        d += Duration::days(1);
    }
    d
}

fn millis(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis()
}

/// The location's time zone (the one its location record reports).
const LOCATION_TZ: Tz = chrono_tz::America::Chicago;

/// Hour `h` of `d` on the location's wall clock, e.g. `2030-01-07T10:00:00-06:00`.
fn at(d: NaiveDate, h: u32) -> String {
    let naive = d.and_hms_opt(h, 0, 0).unwrap();
    let t = LOCATION_TZ.from_local_datetime(&naive).single().unwrap();
    t.fixed_offset().to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Monday 09:00–12:00, hour-long slots every hour.
fn calendar_body(api: &Api, extra: Value) -> Value {
    let mut body = json!({
        "locationId": api.location,
        "name": "Consultations",
        "slotDuration": 60,
        "slotInterval": 60,
        "openHours": [{"daysOfTheWeek": [1], "hours": [{"openHour": 9, "openMinute": 0, "closeHour": 12, "closeMinute": 0}]}],
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    body
}

async fn create_calendar(api: &Api, extra: Value) -> String {
    let (status, v) = api.post("/calendars/", calendar_body(api, extra)).await;
    assert_eq!(status, 200, "{v}");
    v["calendar"]["id"].as_str().unwrap().to_string()
}

async fn slots(api: &Api, cal: &str, day: NaiveDate, tz: Option<&str>) -> Value {
    let mut path = format!(
        "/calendars/{cal}/free-slots?startDate={}&endDate={}",
        millis(day),
        millis(day + Duration::days(1)) - 1
    );
    if let Some(tz) = tz {
        path.push_str(&format!("&timezone={tz}"));
    }
    let (status, v) = api.get(&path).await;
    assert_eq!(status, 200, "{v}");
    v
}

fn day_slots(v: &Value, day: NaiveDate) -> Vec<String> {
    v[day.format("%Y-%m-%d").to_string()]["slots"]
        .as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

async fn book(api: &Api, cal: &str, contact: &str, start: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({
        "locationId": api.location, "calendarId": cal, "contactId": contact, "startTime": start,
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    api.post("/calendars/events/appointments", body).await
}

#[tokio::test]
async fn groups_have_unique_slugs() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let list = || async {
        api.get(&format!("/calendars/groups?locationId={}", api.location))
            .await
            .1
    };
    let group = |slug: &str| json!({"locationId": api.location, "name": "Sales", "description": "d", "slug": slug});

    let (status, v) = api.post("/calendars/groups", group("sales")).await;
    assert_eq!(status, 201, "{v}");
    conforms("calendars.create-calendar-group", &v);
    let id = v["group"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["group"]["isActive"], true);
    assert_eq!(list().await["groups"], json!([v["group"].clone()]));
    conforms("calendars.get-groups", &list().await);

    // Validate Group Slug.
    let validate = |slug: &str| {
        api.post(
            "/calendars/groups/validate-slug",
            json!({"locationId": api.location, "slug": slug}),
        )
    };
    assert_eq!(validate("sales").await, (200, json!({"available": false})));
    conforms("calendars.validate-groups-slug", &validate("sales").await.1);
    assert_eq!(validate("support").await, (200, json!({"available": true})));

    // A duplicate slug is refused and nothing is created.
    let (status, v) = api.post("/calendars/groups", group("sales")).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(list().await["groups"].as_array().unwrap().len(), 1);
    let (status, v) = api.post("/calendars/groups", group("support")).await;
    assert_eq!(status, 201);
    let other = v["group"]["id"].as_str().unwrap().to_string();

    // Update Calendar Group (onto a taken slug: 400; else renamed).
    let edit = |slug: &str| json!({"name": "Sales EU", "description": "e", "slug": slug});
    let (status, _) = api
        .put(&format!("/calendars/groups/{id}"), edit("support"))
        .await;
    assert_eq!(status, 400);
    let (status, v) = api
        .put(&format!("/calendars/groups/{id}"), edit("sales-eu"))
        .await;
    assert_eq!(status, 200, "{v}");
    conforms("calendars.edit-group", &v);
    let groups = list().await["groups"].clone();
    assert_eq!(groups[0]["name"], "Sales EU");
    assert_eq!(groups[0]["slug"], "sales-eu");
    assert_eq!(validate("sales").await.1["available"], true);

    // Update Group Status.
    let (status, v) = api
        .put(
            &format!("/calendars/groups/{id}/status"),
            json!({"isActive": false}),
        )
        .await;
    assert_eq!((status, v), (200, json!({"success": true})));
    assert_eq!(list().await["groups"][0]["isActive"], false);

    // Delete Calendar Group: its calendars are detached.
    let cal = create_calendar(&api, json!({"groupId": id})).await;
    let (status, v) = api.delete(&format!("/calendars/groups/{id}"), None).await;
    assert_eq!((status, v), (200, json!({"success": true})));
    let groups = list().await["groups"].clone();
    assert_eq!(groups.as_array().unwrap().len(), 1);
    assert_eq!(groups[0]["id"], other.as_str());
    let (_, v) = api.get(&format!("/calendars/{cal}")).await;
    assert!(v["calendar"].get("groupId").is_none(), "{v}");
    let (status, _) = api.delete(&format!("/calendars/groups/{id}"), None).await;
    assert_eq!(status, 400);
    let (status, _) = api
        .put(
            &format!("/calendars/groups/{id}/status"),
            json!({"isActive": true}),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn calendar_lifecycle() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let (_, v) = api
        .post(
            "/calendars/groups",
            json!({"locationId": api.location, "name": "G", "description": "d", "slug": "g"}),
        )
        .await;
    let group = v["group"]["id"].as_str().unwrap().to_string();

    // Create Calendar: echoes what was given, documented defaults for the rest.
    let (status, v) = api
        .post(
            "/calendars/",
            calendar_body(&api, json!({"groupId": group, "calendarType": "event", "teamMembers": [{"userId": "user1"}]})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    conforms("calendars.create-calendar", &v);
    let cal = v["calendar"].clone();
    let id = cal["id"].as_str().unwrap().to_string();
    assert_eq!(cal["locationId"], api.location.as_str());
    assert_eq!(cal["slotDuration"], 60);
    assert_eq!(cal["appoinmentPerSlot"], 1);
    assert_eq!(cal["autoConfirm"], true);
    assert_eq!(cal["isActive"], true);
    assert_eq!(cal["teamMembers"][0]["userId"], "user1");

    // Get Calendar by ID / List Calendars.
    let (status, v) = api.get(&format!("/calendars/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(v["calendar"], cal);
    conforms("calendars.get-calendar", &v);
    let all = format!("/calendars/?locationId={}", api.location);
    let (_, v) = api.get(&all).await;
    assert_eq!(v["calendars"], json!([cal.clone()]));
    conforms("calendars.get-calendars", &v);
    let (_, v) = api.get(&format!("{all}&groupId={group}")).await;
    assert_eq!(v["calendars"].as_array().unwrap().len(), 1);
    let (_, v) = api
        .get(&format!("{all}&groupId=otherGroup0000000000"))
        .await;
    assert_eq!(v["calendars"], json!([]));

    // Update Calendar.
    let (status, v) = api
        .put(
            &format!("/calendars/{id}"),
            json!({"name": "Renamed", "slotDuration": 30, "isActive": false}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    conforms("calendars.update-calendar", &v);
    let (_, v) = api.get(&format!("/calendars/{id}")).await;
    assert_eq!(v["calendar"]["name"], "Renamed");
    assert_eq!(v["calendar"]["slotDuration"], 30);
    assert_eq!(v["calendar"]["slotInterval"], 60);
    // Inactive = drafted: hidden with showDrafted=false.
    let (_, v) = api.get(&format!("{all}&showDrafted=false")).await;
    assert_eq!(v["calendars"], json!([]));

    // Bad input: open hours out of range (422), unknown group (400), unknown field (422).
    let (status, v) = api
        .post(
            "/calendars/",
            calendar_body(&api, json!({"openHours": [{"daysOfTheWeek": [7], "hours": [{"openHour": 25, "openMinute": 0, "closeHour": 12, "closeMinute": 0}]}]})),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    let messages = v["message"].as_array().unwrap();
    assert!(
        messages.contains(&json!(
            "openHours.0.hours.0.openHour must not be greater than 23"
        )),
        "{v}"
    );
    assert!(
        messages.contains(&json!(
            "openHours.0.daysOfTheWeek.0 must not be greater than 6"
        )),
        "{v}"
    );
    let (status, _) = api
        .post(
            "/calendars/",
            calendar_body(&api, json!({"groupId": "missingGroup00000000"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .post("/calendars/", calendar_body(&api, json!({"colour": "red"})))
        .await;
    assert_eq!(status, 422);
    let (_, v) = api.get(&all).await;
    assert_eq!(v["calendars"].as_array().unwrap().len(), 1);

    // Delete Calendar.
    let (status, v) = api.delete(&format!("/calendars/{id}"), None).await;
    assert_eq!((status, v), (200, json!({"success": true})));
    let (status, v) = api.get(&format!("/calendars/{id}")).await;
    assert_eq!(status, 400, "{v}");
    let (_, v) = api.get(&all).await;
    assert_eq!(v["calendars"], json!([]));
    let (status, _) = api
        .put(&format!("/calendars/{id}"), json!({"name": "x"}))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn free_slots_are_computed_and_taken_slots_refused() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let contact = api.create_contact(json!({"firstName": "Ada"})).await;
    let cal = create_calendar(&api, json!({})).await;
    let day = monday();

    // Open hours 09–12, 60-min slots: three free slots, nothing on other days.
    let v = slots(&api, &cal, day, None).await;
    conforms("calendars.get-slots", &v);
    assert_eq!(day_slots(&v, day), [at(day, 9), at(day, 10), at(day, 11)]);
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    let v = slots(&api, &cal, day + Duration::days(1), None).await;
    assert_eq!(v, json!({}));
    // Rendered in the requested time zone (keys are local dates there).
    let v = slots(&api, &cal, day, Some("Asia/Kolkata")).await;
    let key = day.format("%Y-%m-%d").to_string();
    let nine = DateTime::parse_from_rfc3339(&at(day, 9)).unwrap();
    let kolkata = nine.with_timezone(&chrono_tz::Asia::Kolkata);
    assert_eq!(
        v[&key]["slots"][0],
        kolkata
            .fixed_offset()
            .to_rfc3339_opts(SecondsFormat::Secs, false)
    );

    // Book 10:00: the slot disappears; booking it again is refused.
    let (status, v) = book(&api, &cal, &contact, &at(day, 10), json!({})).await;
    assert_eq!(status, 200, "{v}");
    conforms("calendars.create-appointment", &v);
    assert_eq!(v["appointmentStatus"], "confirmed");
    assert_eq!(v["endTime"], at(day, 11));
    assert_eq!(v["title"], "Ada");
    assert_eq!(
        day_slots(&slots(&api, &cal, day, None).await, day),
        [at(day, 9), at(day, 11)]
    );
    let (status, v) = book(&api, &cal, &contact, &at(day, 10), json!({})).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(
        v["message"],
        "The slot you have selected is no longer available."
    );
    // Outside open hours and in the past: refused too.
    let (status, _) = book(&api, &cal, &contact, &at(day, 14), json!({})).await;
    assert_eq!(status, 400);
    let past = monday() - Duration::days(28);
    let (status, _) = book(&api, &cal, &contact, &at(past, 9), json!({})).await;
    assert_eq!(status, 400);
    // ignoreFreeSlotValidation books anyway.
    let (status, v) = book(
        &api,
        &cal,
        &contact,
        &at(day, 10),
        json!({"ignoreFreeSlotValidation": true}),
    )
    .await;
    assert_eq!(status, 200, "{v}");

    // A blocked slot takes 11:00.
    let (status, v) = api
        .post(
            "/calendars/events/block-slots",
            json!({"locationId": api.location, "calendarId": cal, "startTime": at(day, 11), "endTime": at(day, 12)}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        day_slots(&slots(&api, &cal, day, None).await, day),
        [at(day, 9)]
    );

    // Capacity: appoinmentPerSlot 2 lets two bookings share a slot, not three.
    let group_cal = create_calendar(&api, json!({"appoinmentPerSlot": 2})).await;
    for expected in [200, 200, 400] {
        let (status, v) = book(&api, &group_cal, &contact, &at(day, 9), json!({})).await;
        assert_eq!(status, expected, "{v}");
    }
    assert_eq!(
        day_slots(&slots(&api, &group_cal, day, None).await, day),
        [at(day, 10), at(day, 11)]
    );

    // A cancelled appointment frees its slot.
    let (_, v) = book(&api, &cal, &contact, &at(day, 9), json!({})).await;
    let appt = v["id"].as_str().unwrap().to_string();
    assert!(day_slots(&slots(&api, &cal, day, None).await, day).is_empty());
    let (status, _) = api
        .put(
            &format!("/calendars/events/appointments/{appt}"),
            json!({"appointmentStatus": "cancelled"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        day_slots(&slots(&api, &cal, day, None).await, day),
        [at(day, 9)]
    );

    // Range and input checks.
    let long = format!(
        "/calendars/{cal}/free-slots?startDate={}&endDate={}",
        millis(day),
        millis(day + Duration::days(32))
    );
    let (status, v) = api.get(&long).await;
    assert_eq!(status, 400, "{v}");
    let (status, _) = api
        .get(&format!(
            "/calendars/{cal}/free-slots?startDate=x&endDate=1"
        ))
        .await;
    assert_eq!(status, 422);
    let (status, _) = api
        .get(&format!(
            "/calendars/{cal}/free-slots?startDate=1&endDate=2&timezone=Mars/Base"
        ))
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .get("/calendars/missingCalendar00000/free-slots?startDate=1&endDate=2")
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn appointment_lifecycle_events_and_contact_view() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let contact = api.create_contact(json!({"firstName": "Bo"})).await;
    let (_, v) = api
        .post(
            "/calendars/groups",
            json!({"locationId": api.location, "name": "G", "description": "d", "slug": "g"}),
        )
        .await;
    let group = v["group"]["id"].as_str().unwrap().to_string();
    let cal = create_calendar(&api, json!({"groupId": group, "teamMembers": [{"userId": "userA"}, {"userId": "userB", "isPrimary": true}]})).await;
    let day = monday();

    // Create Appointment: assigned to the primary team member.
    let (status, v) = book(
        &api,
        &cal,
        &contact,
        &at(day, 9),
        json!({"title": "Intro", "address": "Zoom"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["assignedUserId"], "userB");
    assert_eq!(v["calendarId"], cal.as_str());
    assert_eq!(v["contactId"], contact.as_str());

    // Get Appointment.
    let (status, v) = api
        .get(&format!("/calendars/events/appointments/{id}"))
        .await;
    assert_eq!(status, 200, "{v}");
    conforms("calendars.get-appointment", &v);
    let event = &v["event"];
    assert_eq!(event["title"], "Intro");
    assert_eq!(event["groupId"], group.as_str());
    assert_eq!(event["startTime"], at(day, 9));
    assert_eq!(event["users"], json!(["userB"]));

    // Update Appointment: move to 11:00 (free), then onto a blocked time (refused).
    let (status, v) = api
        .put(
            &format!("/calendars/events/appointments/{id}"),
            json!({"startTime": at(day, 11), "title": "Moved"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    conforms("calendars.edit-appointment", &v);
    assert_eq!(v["endTime"], at(day, 12));
    let (_, v) = api
        .get(&format!("/calendars/events/appointments/{id}"))
        .await;
    assert_eq!(v["event"]["startTime"], at(day, 11));
    assert_eq!(v["event"]["title"], "Moved");
    let v = slots(&api, &cal, day, None).await;
    assert_eq!(day_slots(&v, day), [at(day, 9), at(day, 10)]);

    // List Calendar Events: by calendar, user and group, within the window only.
    let window = format!(
        "locationId={}&startTime={}&endTime={}",
        api.location,
        millis(day),
        millis(day + Duration::days(1))
    );
    for filter in [
        format!("calendarId={cal}"),
        "userId=userB".to_string(),
        format!("groupId={group}"),
    ] {
        let (status, v) = api
            .get(&format!("/calendars/events?{window}&{filter}"))
            .await;
        assert_eq!(status, 200, "{v}");
        conforms("calendars.get-calendar-events", &v);
        let events = v["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{filter}: {v}");
        assert_eq!(events[0]["id"], id.as_str());
    }
    let (_, v) = api
        .get(&format!("/calendars/events?{window}&userId=userA"))
        .await;
    assert_eq!(v["events"], json!([]));
    let later = format!(
        "locationId={}&startTime={}&endTime={}&calendarId={cal}",
        api.location,
        millis(day + Duration::days(1)),
        millis(day + Duration::days(2))
    );
    let (_, v) = api.get(&format!("/calendars/events?{later}")).await;
    assert_eq!(v["events"], json!([]));
    let (status, _) = api.get(&format!("/calendars/events?{window}")).await;
    assert_eq!(status, 400);

    // The contact's appointments (Contacts API) come from the same state.
    let (status, v) = api.get(&format!("/contacts/{contact}/appointments")).await;
    assert_eq!(status, 200);
    conforms("contacts.get-appointments-for-contact", &v);
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["id"], id.as_str());
    assert_eq!(
        events[0]["startTime"],
        format!("{} 11:00:00", day.format("%Y-%m-%d"))
    );

    // Delete Event: 201 {succeeded}; gone everywhere.
    let (status, v) = api
        .delete(&format!("/calendars/events/{id}"), Some(json!({})))
        .await;
    assert_eq!((status, v), (201, json!({"succeeded": true})));
    let (status, _) = api
        .get(&format!("/calendars/events/appointments/{id}"))
        .await;
    assert_eq!(status, 400);
    let (_, v) = api
        .get(&format!("/calendars/events?{window}&calendarId={cal}"))
        .await;
    assert_eq!(v["events"], json!([]));
    let (_, v) = api.get(&format!("/contacts/{contact}/appointments")).await;
    assert_eq!(v["events"], json!([]));
    let (status, _) = api
        .delete(&format!("/calendars/events/{id}"), Some(json!({})))
        .await;
    assert_eq!(status, 400);

    // Unknown calendar or contact.
    let (status, _) = book(
        &api,
        "missingCalendar00000",
        &contact,
        &at(day, 9),
        json!({}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, v) = book(&api, &cal, "missingContact000000", &at(day, 9), json!({})).await;
    assert_eq!(
        (status, v["message"].clone()),
        (400, json!("Contact not found"))
    );

    // Webhooks: create, update (twice), delete.
    let kinds: Vec<String> = emu
        .state()
        .webhook_records()
        .iter()
        .map(|r| r.event_type.clone())
        .filter(|k| k.starts_with("Appointment"))
        .collect();
    assert_eq!(
        kinds,
        [
            "AppointmentCreate",
            "AppointmentUpdate",
            "AppointmentDelete"
        ]
    );
    let created: Value = serde_json::from_str(
        &emu.state()
            .webhook_records()
            .iter()
            .find(|r| r.event_type == "AppointmentCreate")
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(created["appointment"]["id"], id.as_str());
}

#[tokio::test]
async fn blocked_slots() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let cal = create_calendar(&api, json!({})).await;
    let day = monday();
    let window = format!(
        "/calendars/blocked-slots?locationId={}&startTime={}&endTime={}&calendarId={cal}",
        api.location,
        millis(day),
        millis(day + Duration::days(1))
    );

    // Create Block Slot → 201.
    let (status, v) = api
        .post(
            "/calendars/events/block-slots",
            json!({"locationId": api.location, "calendarId": cal, "title": "Lunch", "startTime": at(day, 9), "endTime": at(day, 10), "assignedUserId": "userA"}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    conforms("calendars.create-block-slot", &v);
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["startTime"], at(day, 9));

    // List Blocked Slots (appointments are not listed there, nor blocks in events).
    let (status, v) = api.get(&window).await;
    assert_eq!(status, 200, "{v}");
    conforms("calendars.get-blocked-slots", &v);
    assert_eq!(v["events"].as_array().unwrap().len(), 1);
    assert_eq!(v["events"][0]["title"], "Lunch");
    let (_, v) = api.get(&window.replace("blocked-slots", "events")).await;
    assert_eq!(v["events"], json!([]));
    assert_eq!(
        day_slots(&slots(&api, &cal, day, None).await, day),
        [at(day, 10), at(day, 11)]
    );

    // Update Block Slot → 201 (sic).
    let (status, v) = api
        .put(
            &format!("/calendars/events/block-slots/{id}"),
            json!({"locationId": api.location, "calendarId": cal, "startTime": at(day, 10), "endTime": at(day, 11)}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let (_, v) = api.get(&window).await;
    assert_eq!(v["events"][0]["startTime"], at(day, 10));
    assert_eq!(v["events"][0]["title"], "Lunch");
    assert_eq!(
        day_slots(&slots(&api, &cal, day, None).await, day),
        [at(day, 9), at(day, 11)]
    );

    // Bad input.
    let (status, _) = api
        .put(
            "/calendars/events/block-slots/missingBlock00000000",
            json!({"locationId": api.location, "calendarId": cal}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .post(
            "/calendars/events/block-slots",
            json!({"locationId": api.location, "calendarId": cal, "startTime": at(day, 10), "endTime": at(day, 9)}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .post(
            "/calendars/events/block-slots",
            json!({"locationId": api.location, "calendarId": cal}),
        )
        .await;
    assert_eq!(status, 422);

    // Delete Event removes a blocked slot too.
    let (status, _) = api
        .delete(&format!("/calendars/events/{id}"), Some(json!({})))
        .await;
    assert_eq!(status, 201);
    let (_, v) = api.get(&window).await;
    assert_eq!(v["events"], json!([]));
    assert_eq!(
        slots(&api, &cal, day, None)
            .await
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()["slots"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn appointment_notes() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let contact = api.create_contact(json!({"firstName": "Cy"})).await;
    let cal = create_calendar(&api, json!({})).await;
    let (_, v) = book(&api, &cal, &contact, &at(monday(), 9), json!({})).await;
    let appt = v["id"].as_str().unwrap().to_string();
    let base = format!("/calendars/appointments/{appt}/notes");

    // Create Appointment Note ×2 → 201 {note}.
    let mut ids = Vec::new();
    for text in ["first", "second"] {
        let (status, v) = api
            .post(&base, json!({"body": text, "userId": "userA"}))
            .await;
        assert_eq!(status, 201, "{v}");
        conforms("calendars.create-appointment-note", &v);
        assert_eq!(v["note"]["contactId"], contact.as_str());
        ids.push(v["note"]["id"].as_str().unwrap().to_string());
    }

    // List Appointment Notes: newest first, offset paging with hasMore.
    let (status, v) = api.get(&format!("{base}?limit=10&offset=0")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["hasMore"], false);
    conforms("calendars.get-appointment-notes", &v);
    let bodies: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["second", "first"]);
    let (_, v) = api.get(&format!("{base}?limit=1&offset=0")).await;
    assert_eq!(
        (v["notes"].as_array().unwrap().len(), v["hasMore"].clone()),
        (1, json!(true))
    );
    let (_, v) = api.get(&format!("{base}?limit=1&offset=1")).await;
    assert_eq!(v["notes"][0]["body"], "first");
    assert_eq!(v["hasMore"], false);
    let (status, _) = api.get(&format!("{base}?limit=21&offset=0")).await;
    assert_eq!(status, 422);
    let (status, _) = api.get(&format!("{base}?limit=5")).await;
    assert_eq!(status, 422);

    // Update Appointment Note.
    let (status, v) = api
        .put(&format!("{base}/{}", ids[0]), json!({"body": "edited"}))
        .await;
    assert_eq!(status, 200, "{v}");
    let (_, v) = api.get(&format!("{base}?limit=10&offset=0")).await;
    assert_eq!(v["notes"][1]["body"], "edited");
    let (status, _) = api
        .put(
            &format!("{base}/{}", ids[0]),
            json!({"body": "x".repeat(5001)}),
        )
        .await;
    assert_eq!(status, 422);

    // Delete Appointment Note.
    let (status, v) = api.delete(&format!("{base}/{}", ids[0]), None).await;
    assert_eq!((status, v), (200, json!({"success": true})));
    let (_, v) = api.get(&format!("{base}?limit=10&offset=0")).await;
    assert_eq!(v["notes"].as_array().unwrap().len(), 1);
    let (status, _) = api.delete(&format!("{base}/{}", ids[0]), None).await;
    assert_eq!(status, 400);
    let (status, _) = api
        .post(
            "/calendars/appointments/missingAppt000000000/notes",
            json!({"body": "x"}),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn calendar_notifications() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let cal = create_calendar(&api, json!({})).await;
    let base = format!("/calendars/{cal}/notifications");

    // Create Calendar Notification: an array in, an array out.
    let (status, v) = api
        .post(
            &base,
            json!([
                {"receiverType": "contact", "channel": "email", "notificationType": "booked", "subject": "Booked"},
                {"receiverType": "assignedUser", "channel": "sms", "notificationType": "reminder", "isActive": false,
                 "beforeTime": [{"timeOffset": 1, "unit": "hours"}]}
            ]),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    conforms("calendars.create-event-notification", &v);
    let created = v.as_array().unwrap().clone();
    assert_eq!(created.len(), 2);
    assert_eq!(created[0]["isActive"], true);
    let first = created[0]["_id"].as_str().unwrap().to_string();

    // List Calendar Notifications: a bare array, filters and paging.
    let (status, v) = api.get(&base).await;
    assert_eq!(status, 200);
    assert_eq!(v, Value::Array(created.clone()));
    conforms("calendars.get-event-notification", &v);
    let (_, v) = api.get(&format!("{base}?isActive=false")).await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["channel"], "sms");
    let (_, v) = api.get(&format!("{base}?skip=1&limit=1")).await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["notificationType"], "reminder");

    // Get Calendar Notification.
    let one = format!("{base}/{first}");
    let (status, v) = api.get(&one).await;
    assert_eq!(status, 200);
    assert_eq!(v, created[0]);
    conforms("calendars.find-event-notification", &v);

    // Update Notification.
    let (status, v) = api
        .put(&one, json!({"subject": "Confirmed!", "isActive": false}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["message"].is_string());
    let (_, v) = api.get(&one).await;
    assert_eq!(v["subject"], "Confirmed!");
    assert_eq!(v["isActive"], false);

    // Delete Notification: leaves the default list, listed under deleted=true.
    let (status, v) = api.delete(&one, None).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["message"].is_string());
    let (_, v) = api.get(&base).await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    let (_, v) = api.get(&format!("{base}?deleted=true")).await;
    assert_eq!(v[0]["_id"], first.as_str());
    let (_, v) = api.get(&one).await;
    assert_eq!(v["deleted"], true);
    let (status, _) = api.delete(&one, None).await;
    assert_eq!(status, 400);

    // Validation and unknown ids.
    let (status, _) = api
        .post(
            &base,
            json!([{"receiverType": "nobody", "channel": "email", "notificationType": "booked"}]),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = api.get(&format!("{base}/missingNotification0")).await;
    assert_eq!(status, 400);
    let (status, _) = api
        .get("/calendars/missingCalendar00000/notifications")
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn calendar_resources() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let cal = create_calendar(&api, json!({})).await;
    let list = |ty: &str| {
        format!(
            "/calendars/resources/{ty}?locationId={}&limit=10&skip=0",
            api.location
        )
    };

    // Create Calendar Resource → 201.
    let (status, v) = api
        .post(
            "/calendars/resources/rooms",
            json!({"locationId": api.location, "name": "Yoga room", "description": "2nd floor",
                   "quantity": 1, "outOfService": 0, "capacity": 12, "calendarIds": [cal]}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    conforms("calendars.create-calendar-resource", &v);
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["resourceType"], "rooms");
    assert_eq!(v["isActive"], true);

    // List Calendar Resources: a bare array per type.
    let (status, v) = api.get(&list("rooms")).await;
    assert_eq!(status, 200);
    assert_eq!(v.as_array().unwrap().len(), 1);
    conforms("calendars.fetch-calendar-resources", &v);
    assert_eq!(v[0]["calendarIds"], json!([cal.clone()]));
    let (_, v) = api.get(&list("equipments")).await;
    assert_eq!(v, json!([]));

    // Get Calendar Resource (only under its own type).
    let one = format!("/calendars/resources/rooms/{id}");
    let (status, v) = api.get(&one).await;
    assert_eq!(status, 200);
    assert_eq!(v["name"], "Yoga room");
    conforms("calendars.get-calendar-resource", &v);
    let (status, _) = api
        .get(&format!("/calendars/resources/equipments/{id}"))
        .await;
    assert_eq!(status, 400);

    // Update Calendar Resource.
    let (status, v) = api
        .put(&one, json!({"capacity": 20, "isActive": false}))
        .await;
    assert_eq!(status, 200, "{v}");
    conforms("calendars.update-calendar-resource", &v);
    let (_, v) = api.get(&one).await;
    assert_eq!(v["capacity"], 20);
    assert_eq!(v["isActive"], false);
    let (status, _) = api
        .put(&one, json!({"calendarIds": ["missingCalendar00000"]}))
        .await;
    assert_eq!(status, 400);

    // Deleting the calendar unlinks it.
    api.delete(&format!("/calendars/{cal}"), None).await;
    let (_, v) = api.get(&one).await;
    assert_eq!(v["calendarIds"], json!([]));

    // Delete Calendar Resource.
    let (status, v) = api.delete(&one, None).await;
    assert_eq!((status, v), (200, json!({"success": true})));
    let (status, _) = api.get(&one).await;
    assert_eq!(status, 400);
    let (_, v) = api.get(&list("rooms")).await;
    assert_eq!(v, json!([]));
    let (status, _) = api.get(&list("desks")).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn hostile_input_is_refused_or_served_never_a_5xx() {
    let emu = emulator(roomy()).await;
    let api = Api::new(&emu);
    let contact = api.create_contact(json!({"firstName": "Hal"})).await;
    let extreme = json!({
        "slotDuration": 1e308, "slotInterval": 1.4, "slotBuffer": -1e308, "preBuffer": 1e308,
        "appoinmentPerSlot": 1e308, "appoinmentPerDay": 1e308,
        "allowBookingAfter": 1e308, "allowBookingAfterUnit": "months",
        "allowBookingFor": 1e308, "allowBookingForUnit": "months",
        "availabilityType": 1,
        "availabilities": [{"date": "9999-12-31T00:00:00.000Z", "hours": [{"openHour": 0, "openMinute": 0, "closeHour": 0, "closeMinute": 0}]}],
    });
    let (status, v) = api.post("/calendars/", calendar_body(&api, extreme)).await;
    assert_eq!(status, 200, "{v}");
    let cal = v["calendar"]["id"].as_str().unwrap().to_string();
    let tiny = create_calendar(
        &api,
        json!({"slotDuration": 1, "slotInterval": 1, "openHours": [{"daysOfTheWeek": [0,1,2,3,4,5,6], "hours": [{"openHour": 0, "openMinute": 0, "closeHour": 0, "closeMinute": 0}]}]}),
    )
    .await;
    let big = 8_000_000_000_000_000i64;
    for (c, from, to) in [
        (&cal, 0, 31 * 86_400_000),
        (&cal, big - 86_400_000, big),
        (&cal, -big, -big + 1),
        (&tiny, millis(monday()), millis(monday()) + 31 * 86_400_000),
    ] {
        let (status, v) = api
            .get(&format!("/calendars/{c}/free-slots?startDate={from}&endDate={to}&timezone=Pacific/Kiritimati"))
            .await;
        assert!(status < 500, "{status} {v}");
    }
    let (status, _) = api
        .get(&format!(
            "/calendars/{cal}/free-slots?startDate=1e300&endDate=1e301"
        ))
        .await;
    assert_eq!(status, 422);
    for start in [
        "9999-12-31T23:59:59Z",
        "+275760-09-13T00:00:00Z",
        "0001-01-01T00:00:00+14:00",
        "2030-13-45",
    ] {
        for extra in [
            json!({}),
            json!({"ignoreFreeSlotValidation": true, "endTime": "9999-12-31T23:59:59-14:00"}),
        ] {
            let (status, v) = book(&api, &cal, &contact, start, extra).await;
            assert!(status < 500, "{start}: {status} {v}");
        }
    }
    for q in [
        "startTime=-8e15&endTime=8e15",
        "startTime=9999-12-31&endTime=0001-01-01",
        "startTime=x&endTime=y",
    ] {
        let (status, v) = api
            .get(&format!(
                "/calendars/events?locationId={}&calendarId={cal}&{q}",
                api.location
            ))
            .await;
        assert!(status < 500, "{q}: {status} {v}");
    }
    let (status, _) = api
        .get(&format!(
            "/calendars/{cal}/notifications?limit=1e300&skip=-1"
        ))
        .await;
    assert_eq!(status, 422);
}
