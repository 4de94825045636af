//! Webhook event names of both apps, for validation with a did-you-mean.

use super::nearest;

/// GHL webhook event types (the `type` field of the event), as the v2 docs list them.
pub const GHL_EVENTS: &[&str] = &[
    "AppInstall",
    "AppUninstall",
    "AppointmentCreate",
    "AppointmentDelete",
    "AppointmentUpdate",
    "AssociationCreate",
    "AssociationDelete",
    "AssociationUpdate",
    "CampaignStatusUpdate",
    "ContactCreate",
    "ContactDelete",
    "ContactDndUpdate",
    "ContactTagUpdate",
    "ContactUpdate",
    "ConversationUnreadWebhook",
    "InboundMessage",
    "InvoiceCreate",
    "InvoiceDelete",
    "InvoicePaid",
    "InvoicePartiallyPaid",
    "InvoiceSent",
    "InvoiceUpdate",
    "InvoiceVoid",
    "LCEmailStats",
    "LocationCreate",
    "LocationUpdate",
    "NoteCreate",
    "NoteDelete",
    "NoteUpdate",
    "ObjectSchemaCreate",
    "ObjectSchemaUpdate",
    "OpportunityAssignedToUpdate",
    "OpportunityCreate",
    "OpportunityDelete",
    "OpportunityMonetaryValueUpdate",
    "OpportunityStageUpdate",
    "OpportunityStatusUpdate",
    "OpportunityUpdate",
    "OrderCreate",
    "OrderStatusUpdate",
    "OutboundMessage",
    "PlanChange",
    "PriceCreate",
    "PriceDelete",
    "PriceUpdate",
    "ProductCreate",
    "ProductDelete",
    "ProductUpdate",
    "ProviderOutboundMessage",
    "RecordCreate",
    "RecordDelete",
    "RecordUpdate",
    "RelationCreate",
    "RelationDelete",
    "TaskComplete",
    "TaskCreate",
    "TaskDelete",
    "UserCreate",
    // The app's install events, as delivered to the app's webhook.
    "INSTALL",
    "UNINSTALL",
];

/// Sellsy webhook entities (`<entity>.<action>`); `company` stands for clients,
/// prospects and suppliers alike.
pub const SELLSY_ENTITIES: &[&str] = &[
    "people",
    "client",
    "prospect",
    "supplier",
    "company",
    "task",
    "comment",
    "opportunity",
];
pub const SELLSY_ACTIONS: &[&str] = &["created", "updated", "deleted"];

/// Why `event` is not an event of `app`, with a did-you-mean; None when it is one.
pub fn unknown_event(app: &str, event: &str) -> Option<String> {
    match app {
        "ghl" => {
            if GHL_EVENTS.contains(&event) {
                return None;
            }
            let hint = nearest(event, GHL_EVENTS.iter().copied())
                .map(|n| format!("; did you mean {n}?"))
                .unwrap_or_default();
            Some(format!("{event:?} is not a GHL webhook event{hint}"))
        }
        "sellsy" => {
            let (entity, action) = event.split_once('.').unwrap_or((event, ""));
            if SELLSY_ENTITIES.contains(&entity) && SELLSY_ACTIONS.contains(&action) {
                return None;
            }
            let all = SELLSY_ENTITIES
                .iter()
                .flat_map(|e| SELLSY_ACTIONS.iter().map(move |a| format!("{e}.{a}")))
                .collect::<Vec<_>>();
            let hint = nearest(event, all.iter().map(String::as_str))
                .map(|n| format!("; did you mean {n}?"))
                .unwrap_or_default();
            Some(format!(
                "{event:?} is not a Sellsy webhook event (ENTITY.ACTION: {} . {}){hint}",
                SELLSY_ENTITIES.join("|"),
                SELLSY_ACTIONS.join("|")
            ))
        }
        _ => None,
    }
}
