//! Pagination: seek tokens by default, numeric offsets on request, 1,000 contacts with
//! no gaps or repeats either way.

mod sellsy_support;

use std::collections::HashSet;

use sellsy_support::Api;
use serde_json::{json, Value};

async fn walk(api: &Api, path: &str, numeric: bool, search: bool) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut offset: Option<Value> = if numeric { Some(json!(0)) } else { None };
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{path}{sep}limit=100");
        if let Some(o) = &offset {
            let o = o
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| o.to_string());
            url.push_str(&format!("&offset={}", urlencode(&o)));
        }
        let page = if search {
            api.post(&url, json!({"filters": {}})).await
        } else {
            api.get(&url).await
        };
        assert_eq!(page.status, 200, "{:?}", page.body);
        let p = &page.body["pagination"];
        let data = page.body["data"].as_array().unwrap();
        assert_eq!(p["count"].as_u64().unwrap() as usize, data.len());
        assert_eq!(p["limit"], 100);
        ids.extend(data.iter().map(|c| c["id"].as_i64().unwrap()));
        if data.len() < 100 {
            break;
        }
        offset = Some(if numeric {
            assert_eq!(
                p["offset"].as_u64(),
                offset.as_ref().and_then(Value::as_u64)
            );
            json!(ids.len())
        } else {
            assert!(p["offset"].is_string());
            p["offset"].clone()
        });
    }
    ids
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn assert_complete(ids: &[i64], expected: usize) {
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), expected, "no gaps");
    assert_eq!(unique.len(), expected, "no repeats");
}

#[tokio::test]
async fn thousand_contacts_by_seek_and_by_offset() {
    let api = Api::with_seed(1_000).await;
    let seek = walk(&api, "/contacts", false, false).await;
    assert_complete(&seek, 1_000);
    assert!(seek.windows(2).all(|w| w[0] < w[1]), "ordered by id");
    let numeric = walk(&api, "/contacts", true, false).await;
    assert_eq!(seek, numeric);
    let searched = walk(&api, "/contacts/search", false, true).await;
    assert_eq!(seek, searched);
    let by_name = walk(&api, "/contacts?order=name&direction=desc", false, false).await;
    assert_complete(&by_name, 1_000);
}

#[tokio::test]
async fn defaults_limits_and_bad_offsets() {
    let api = Api::with_seed(60).await;
    let first = api.get("/contacts").await;
    assert_eq!(first.body["pagination"]["limit"], 25);
    assert_eq!(first.body["pagination"]["count"], 25);
    assert_eq!(first.body["pagination"]["total"], 60);
    assert_eq!(api.get("/contacts?limit=101").await.status, 400);
    assert_eq!(api.get("/contacts?limit=-1").await.status, 400);
    assert_eq!(api.get("/contacts?offset=100001").await.status, 400);
    assert_eq!(api.get("/contacts?offset=SoIxNyJd").await.status, 400);
    assert_eq!(api.get("/contacts?order=updated").await.status, 400);
    assert_eq!(api.get("/contacts?direction=up").await.status, 400);
    let zero = api.get("/contacts?limit=0").await;
    assert_eq!(zero.body["pagination"]["count"], 0);
    assert_eq!(zero.body["pagination"]["total"], 60);
}
