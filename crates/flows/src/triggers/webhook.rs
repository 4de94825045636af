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
/// be the trigger's and the event's name one of its `events` (compared exactly).
pub fn webhook_matches(t: &WebhookTrigger, app: &str, event: &Value) -> bool {
    if t.app != app {
        return false;
    }
    webhook_event_name(app, event).is_some_and(|name| t.events.contains(&name))
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
