//! Webhook triggers: which events start a flow, and the item each event becomes.

use serde_json::Value;

use crate::model::WebhookTrigger;
use crate::run::TriggerItem;

/// The event's name as flows write it: GHL `type` (`ContactCreate`); Sellsy
/// `eventType` (`people.created`), else `object` + `.` + `type`.
pub fn webhook_event_name(app: &str, event: &Value) -> Option<String> {
    let text = |k: &str| {
        event
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match app {
        "ghl" => text("type").map(str::to_string),
        "sellsy" => text("eventType")
            .map(str::to_string)
            .or_else(|| Some(format!("{}.{}", text("object")?, text("type")?))),
        _ => None,
    }
}

/// Whether `event`, received from `app`, starts a flow with trigger `t`: the app must
/// be the trigger's and the event's name one of its `events` (compared exactly). For
/// Sellsy, `company.ACTION` stands for any company: `client.`, `prospect.` and
/// `supplier.ACTION`.
pub fn webhook_matches(t: &WebhookTrigger, app: &str, event: &Value) -> bool {
    if t.app != app {
        return false;
    }
    let Some(name) = webhook_event_name(app, event) else {
        return false;
    };
    if t.events.contains(&name) {
        return true;
    }
    let company = ["client.", "prospect.", "supplier."]
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .map(|action| format!("company.{action}"));
    app == "sellsy" && company.is_some_and(|c| t.events.contains(&c))
}

/// The trigger item of a webhook event: key `webhook:<webhookId>` (the receiver's
/// delivery id, so a re-delivered event is the same run), payload the event itself.
/// `_app` is the sending app, as for [`webhook_matches`]: the key does not depend on
/// it because webhook ids are unique per receiver.
pub fn webhook_item(_app: &str, event: &Value, webhook_id: &str) -> TriggerItem {
    TriggerItem {
        key: format!("webhook:{webhook_id}"),
        payload: event.clone(),
        previous: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn company_events_stand_for_every_kind_of_company() {
        let t = WebhookTrigger {
            app: "sellsy".into(),
            events: vec!["company.updated".into()],
        };
        for kind in ["client", "prospect", "supplier"] {
            let e = json!({"eventType": format!("{kind}.updated")});
            assert!(webhook_matches(&t, "sellsy", &e), "{kind}");
        }
        assert!(!webhook_matches(
            &t,
            "sellsy",
            &json!({"eventType": "client.created"})
        ));
        assert!(!webhook_matches(
            &t,
            "sellsy",
            &json!({"eventType": "people.updated"})
        ));
        assert!(!webhook_matches(
            &t,
            "ghl",
            &json!({"eventType": "client.updated"})
        ));
    }
}
