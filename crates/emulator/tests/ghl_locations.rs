//! Several locations under one company: isolated data, routing by token, installed
//! locations, location tokens minted by the agency, and the consent page's choice.

#[path = "ghl_support.rs"]
mod support;

use hlbridge_emulator::ghl::{GhlConfig, GhlEmulator, LocationSpec};
use serde_json::{json, Value};
use support::{client, emulator, roomy, Api, VERSION};

const REDIRECT: &str = "http://localhost:9999/callback";

fn two_locations() -> GhlConfig {
    GhlConfig {
        agency_token: Some("pit-agency".into()),
        extra_locations: vec![LocationSpec::new("loc-b").with_name("Bakery")],
        ..roomy()
    }
}

fn api_for(emu: &GhlEmulator, token: &str, location: &str) -> Api {
    let mut api = Api::new(emu).with_token(token);
    api.location = location.to_string();
    api
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn search_email(api: &Api, email: &str) -> (u16, Value) {
    api.post(
        "/contacts/search",
        json!({"locationId": api.location, "pageLimit": 100, "query": email}),
    )
    .await
}

async fn mint_location_token(emu: &GhlEmulator, agency: &str, location: &str) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/oauth/locationToken", emu.base_url))
        .bearer_auth(agency)
        .header("Version", VERSION)
        .form(&[("companyId", "company-emulator"), ("locationId", location)])
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn two_locations_keep_their_data_apart() {
    let emu = emulator(two_locations()).await;
    let a = Api::new(&emu);
    let b = api_for(&emu, "pit-loc-b", "loc-b");

    let in_a = a
        .create_contact(json!({"firstName": "Ada", "email": "ada@a.example"}))
        .await;
    let in_b = b
        .create_contact(json!({"firstName": "Bob", "email": "bob@b.example"}))
        .await;
    assert_ne!(in_a, in_b, "ids never repeat across locations");

    // Search: each location sees only its own contact.
    let (status, found) = search_email(&b, "ada@a.example").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["total"], 0, "{found}");
    let (_, found) = search_email(&a, "ada@a.example").await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["contacts"][0]["id"], in_a.as_str());
    let (_, found) = search_email(&a, "bob@b.example").await;
    assert_eq!(found["total"], 0, "{found}");

    // Get by id: a foreign id is GHL's 400, as for any unknown contact.
    let (status, body) = b.get(&format!("/contacts/{in_a}")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], "Contact not found");
    let (status, body) = b.get(&format!("/contacts/{in_b}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["contact"]["locationId"], "loc-b");

    // The deprecated list of each location.
    let (status, list) = b.get("/contacts/?locationId=loc-b").await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, vec![in_b.as_str()]);

    // A location token naming another location: 403, with the existing wording.
    let (status, body) = b.get("/contacts/?locationId=loc-emulator").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["message"],
        "The token does not have access to this location."
    );
    let (status, _) = a.get("/contacts/?locationId=loc-b").await;
    assert_eq!(status, 403);

    // Tasks stay with their location too.
    let (status, _) = b
        .post(
            &format!("/contacts/{in_a}/tasks"),
            json!({"title": "t", "dueDate": "2030-01-01T00:00:00Z", "completed": false}),
        )
        .await;
    assert_eq!(status, 400, "B cannot add a task to A's contact");

    // Direct state: one contact each; the primary's counters are the primary's.
    let state = emu.state();
    assert_eq!(state.contact_count(), 1);
    assert_eq!(state.with_location("loc-b", |s| s.contacts.len()), Some(1));
    assert_eq!(state.with_location("loc-z", |s| s.contacts.len()), None);
    // Custom fields are per location (their ids differ).
    let fields_a: Vec<Value> = state.custom_fields();
    let first_b = state
        .with_location("loc-b", |s| s.custom_fields[0].id.clone())
        .unwrap();
    assert_ne!(fields_a[0]["id"], first_b.as_str());

    // Webhook events name the location the change happened in.
    let located: Vec<(String, String)> = state
        .webhook_records()
        .iter()
        .filter(|r| r.event_type == "ContactCreate")
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).unwrap();
            (
                body["id"].as_str().unwrap().to_string(),
                body["locationId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(located.contains(&(in_a.clone(), "loc-emulator".into())));
    assert!(located.contains(&(in_b.clone(), "loc-b".into())));
}

#[tokio::test]
async fn rate_budgets_are_per_location_for_one_app() {
    let emu = emulator(GhlConfig {
        rate_max: 2,
        ..two_locations()
    })
    .await;
    let (_, a) = mint_location_token(&emu, "pit-agency", "loc-emulator").await;
    let (_, b) = mint_location_token(&emu, "pit-agency", "loc-b").await;
    let a = api_for(&emu, a["access_token"].as_str().unwrap(), "loc-emulator");
    let b = api_for(&emu, b["access_token"].as_str().unwrap(), "loc-b");
    for _ in 0..2 {
        assert_eq!(a.get("/contacts/?locationId=loc-emulator").await.0, 200);
    }
    assert_eq!(a.get("/contacts/?locationId=loc-emulator").await.0, 429);
    assert_eq!(b.get("/contacts/?locationId=loc-b").await.0, 200);
}

#[tokio::test]
async fn installed_locations_and_minted_location_tokens() {
    let emu = emulator(GhlConfig {
        extra_locations: vec![
            LocationSpec::new("loc-b").with_name("Bakery"),
            LocationSpec::new("loc-c").with_token("secret-c"),
        ],
        ..two_locations()
    })
    .await;
    let agency = Api::new(&emu).with_token("pit-agency");
    let (status, body) = agency
        .get("/oauth/installedLocations?companyId=company-emulator&appId=emulatorapp000000000")
        .await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["loc-emulator", "loc-b", "loc-c"]);
    assert_eq!(body["count"], 3);
    for l in body["locations"].as_array().unwrap() {
        assert_eq!(l["isInstalled"], true, "{l}");
        assert!(l["name"].is_string() && l["address"].is_string(), "{l}");
        assert!(l["installedAt"].is_string(), "{l}");
    }
    assert_eq!(body["locations"][1]["name"], "Bakery");

    // Paging with skip/limit; count stays the total.
    let (_, page) = agency
        .get("/oauth/installedLocations?companyId=company-emulator&appId=a&skip=1&limit=1")
        .await;
    assert_eq!(page["locations"].as_array().unwrap().len(), 1);
    assert_eq!(page["locations"][0]["_id"], "loc-b");
    assert_eq!(page["count"], 3);
    let (_, named) = agency
        .get("/oauth/installedLocations?companyId=company-emulator&appId=a&query=bak")
        .await;
    assert_eq!(named["count"], 1, "{named}");

    // A token minted for B works on B only.
    let (status, minted) = mint_location_token(&emu, "pit-agency", "loc-b").await;
    assert_eq!(status, 200, "{minted}");
    assert_eq!(minted["locationId"], "loc-b");
    let b = api_for(&emu, minted["access_token"].as_str().unwrap(), "loc-b");
    let in_b = b.create_contact(json!({"firstName": "Minted"})).await;
    assert_eq!(
        emu.state().contact_count(),
        0,
        "nothing landed in the primary"
    );
    let (status, _) = b.get("/contacts/?locationId=loc-emulator").await;
    assert_eq!(status, 403);
    let (status, _) = Api::new(&emu).get(&format!("/contacts/{in_b}")).await;
    assert_eq!(status, 400, "the primary does not see B's contact");
    let (status, _) = api_for(&emu, "secret-c", "loc-c")
        .get(&format!("/contacts/{in_b}"))
        .await;
    assert_eq!(status, 400, "C does not see B's contact");

    // A location that is not the company's is refused with the current wording.
    let (status, body) = mint_location_token(&emu, "pit-agency", "loc-zzz").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["message"],
        "Location not found or the app is not installed on it"
    );

    // The private integration token of an extra location is its own.
    assert_eq!(
        api_for(&emu, "pit-loc-c", "loc-c")
            .get("/contacts/?locationId=loc-c")
            .await
            .0,
        401,
        "loc-c was given its own token"
    );
}

/// Follow the consent shortcut for `location` and return the code.
async fn authorize_for(emu: &GhlEmulator, location: Option<&str>) -> String {
    authorize_with(
        emu,
        location
            .map(|l| format!("&locationId={l}"))
            .unwrap_or_default(),
    )
    .await
}

/// Follow the consent shortcut with `extra` query parameters and return the code.
async fn authorize_with(emu: &GhlEmulator, extra: String) -> String {
    let config = emu.state().config().clone();
    let mut url = format!(
        "{}/oauth/chooselocation?response_type=code&client_id={}&redirect_uri={}&scope={}&approve=true",
        emu.base_url,
        config.client_id,
        urlencode(REDIRECT),
        urlencode("contacts.readonly contacts.write oauth.readonly oauth.write"),
    );
    url.push_str(&extra);
    let resp = client().get(url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap();
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code")
}

async fn exchange(emu: &GhlEmulator, code: &str, user_type: &str) -> (u16, Value) {
    let config = emu.state().config().clone();
    let resp = client()
        .post(format!("{}/oauth/token", emu.base_url))
        .form(&[
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("user_type", user_type),
        ])
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn consent_page_chooses_the_location() {
    let emu = emulator(two_locations()).await;
    let config = emu.state().config().clone();
    let page = client()
        .get(format!(
            "{}/oauth/chooselocation?response_type=code&client_id={}&redirect_uri={}&locationId=loc-b",
            emu.base_url,
            config.client_id,
            urlencode(REDIRECT)
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<option value="loc-emulator">"#), "{page}");
    assert!(
        page.contains(r#"<option value="loc-b" selected>"#),
        "{page}"
    );
    assert!(page.contains("locationId=loc-b"), "the link approves loc-b");

    let code = authorize_for(&emu, Some("loc-b")).await;
    let (status, token) = exchange(&emu, &code, "Location").await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["locationId"], "loc-b");
    assert!(token["refresh_token"].is_string());
    let b = api_for(&emu, token["access_token"].as_str().unwrap(), "loc-b");
    let id = b.create_contact(json!({"firstName": "Consented"})).await;
    assert_eq!(
        emu.state()
            .with_location("loc-b", |s| s.contacts.contains_key(&id)),
        Some(true)
    );
    assert_eq!(emu.state().contact_count(), 0);
    assert_eq!(b.get("/contacts/?locationId=loc-emulator").await.0, 403);

    // The form posts the chosen location too.
    let resp = client()
        .post(format!("{}/oauth/chooselocation/approve", emu.base_url))
        .form(&[
            ("client_id", config.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("locationId", "loc-nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "an unknown location is refused");

    // A Company-level install: agency token with refresh token and every location.
    let code = authorize_for(&emu, None).await;
    let (status, agency) = exchange(&emu, &code, "Company").await;
    assert_eq!(status, 200, "{agency}");
    assert_eq!(agency["userType"], "Company");
    assert_eq!(agency["companyId"], "company-emulator");
    assert!(agency["refresh_token"].is_string());
    assert!(agency.get("locationId").is_none());
    assert_eq!(
        agency["approvedLocations"],
        json!(["loc-emulator", "loc-b"])
    );
    let (status, minted) =
        mint_location_token(&emu, agency["access_token"].as_str().unwrap(), "loc-b").await;
    assert_eq!(status, 200, "{minted}");
    assert_eq!(minted["locationId"], "loc-b");

    // An agency install chosen on the consent page: the exchange needs no user_type.
    let code = authorize_with(&emu, "&user_type=Company".into()).await;
    let config = emu.state().config().clone();
    let resp = client()
        .post(format!("{}/oauth/token", emu.base_url))
        .form(&[
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let agency: Value = resp.json().await.unwrap();
    assert_eq!(agency["userType"], "Company", "{agency}");
    assert_eq!(
        agency["approvedLocations"],
        json!(["loc-emulator", "loc-b"])
    );
    let page = client()
        .get(format!(
            "{}/oauth/chooselocation?client_id={}&redirect_uri={}&user_type=Company",
            emu.base_url,
            config.client_id,
            urlencode(REDIRECT)
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Agency install"), "{page}");
    assert!(
        page.contains(r#"name="user_type" value="Company""#),
        "{page}"
    );
    let bad = client()
        .get(format!(
            "{}/oauth/chooselocation?client_id={}&redirect_uri={}&user_type=Root",
            emu.base_url,
            config.client_id,
            urlencode(REDIRECT)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn agency_requests_are_served_from_the_named_location() {
    let emu = emulator(two_locations()).await;
    let b = api_for(&emu, "pit-loc-b", "loc-b");
    let id = b.create_contact(json!({"firstName": "Routed"})).await;
    let agency = Api::new(&emu).with_token("pit-agency");
    // Agency-only operations over a location's data name it with `locationId`.
    let (status, body) = agency.get("/locations/loc-b").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["location"]["id"], "loc-b");
    assert_eq!(body["location"]["name"], "Bakery");
    let (status, body) = agency.get("/locations/loc-emulator").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["location"]["id"], "loc-emulator");
    // The agency's location search spans the company; a Location token sees its own.
    let (status, body) = agency
        .get("/locations/search?companyId=company-emulator")
        .await;
    assert_eq!(status, 200, "{body}");
    let mut ids: Vec<&str> = body["locations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["id"].as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["loc-b", "loc-emulator"]);
    let (status, body) = b.get("/locations/search").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["locations"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["locations"][0]["id"], "loc-b");
    assert_eq!(
        emu.state().with_location("loc-b", |s| s.contacts.len()),
        Some(1)
    );
    assert!(emu.state().contact(&id).is_none(), "not in the primary");
}

#[tokio::test]
async fn config_validation_names_the_problem() {
    let bad = |config: GhlConfig| config.validate().unwrap_err();
    let dup = bad(GhlConfig {
        extra_locations: vec![LocationSpec::new("loc-emulator")],
        ..GhlConfig::default()
    });
    assert!(
        dup.contains("loc-emulator") && dup.contains("twice"),
        "{dup}"
    );
    let shared = bad(GhlConfig {
        extra_locations: vec![LocationSpec::new("loc-b").with_token("pit-emulator")],
        ..GhlConfig::default()
    });
    assert!(shared.contains("same token"), "{shared}");
    let malformed = bad(GhlConfig {
        extra_locations: vec![LocationSpec::new("loc b")],
        ..GhlConfig::default()
    });
    assert!(malformed.contains("extra_locations"), "{malformed}");
    assert!(GhlConfig::default().validate().is_ok());
    assert!(two_locations().validate().is_ok());
    let refused = hlbridge_emulator::ghl::start(
        GhlConfig {
            extra_locations: vec![LocationSpec::new("loc-b"), LocationSpec::new("loc-b")],
            ..GhlConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await;
    assert!(refused.is_err());
}
