//! Which table operations are served, and by which handler. Everything else in
//! `hlbridge_ghl::TABLE` answers 501 (see [`super::dispatch`]).

use super::context::{Ctx, Reply};
use super::errors::ApiError;
use super::state::GhlState;
use super::store::Store;
use super::{campaigns, contacts, notes, oauth, search, tasks};

type StoreFn = fn(&mut Store, &Ctx) -> Result<Reply, ApiError>;
type StateFn = fn(&GhlState, &Ctx) -> Result<Reply, ApiError>;

/// A handler: over the location's data, or over the whole state (OAuth).
#[derive(Clone, Copy)]
pub enum Handler {
    Store(StoreFn),
    State(StateFn),
}

/// Every served operation id with its handler.
pub const SERVED: &[(&str, Handler)] = &[
    // contacts
    ("contacts.get-contact", Handler::Store(contacts::get)),
    ("contacts.create-contact", Handler::Store(contacts::create)),
    ("contacts.update-contact", Handler::Store(contacts::update)),
    ("contacts.delete-contact", Handler::Store(contacts::delete)),
    ("contacts.upsert-contact", Handler::Store(contacts::upsert)),
    (
        "contacts.get-duplicate-contact",
        Handler::Store(contacts::duplicate),
    ),
    ("contacts.add-tags", Handler::Store(contacts::add_tags)),
    (
        "contacts.remove-tags",
        Handler::Store(contacts::remove_tags),
    ),
    (
        "contacts.bulk-update-tags",
        Handler::Store(contacts::bulk_tags),
    ),
    (
        "contacts.add-remove-contact-from-business",
        Handler::Store(contacts::bulk_business),
    ),
    (
        "contacts.add-followers-contact",
        Handler::Store(contacts::add_followers),
    ),
    (
        "contacts.remove-followers-contact",
        Handler::Store(contacts::remove_followers),
    ),
    (
        "contacts.search-contacts-advanced",
        Handler::Store(search::search),
    ),
    ("contacts.find-contact", Handler::Store(search::search)),
    ("contacts.get-contacts", Handler::Store(search::list)),
    (
        "contacts.get-contacts-by-business-id",
        Handler::Store(search::by_business),
    ),
    // tasks
    ("contacts.get-all-tasks", Handler::Store(tasks::list)),
    ("contacts.get-task", Handler::Store(tasks::get)),
    ("contacts.create-task", Handler::Store(tasks::create)),
    ("contacts.update-task", Handler::Store(tasks::update)),
    (
        "contacts.update-task-completed",
        Handler::Store(tasks::complete),
    ),
    ("contacts.delete-task", Handler::Store(tasks::delete)),
    (
        "locations.task-search",
        Handler::Store(super::task_search::search),
    ),
    // notes
    ("contacts.get-all-notes", Handler::Store(notes::list)),
    ("contacts.get-note", Handler::Store(notes::get)),
    ("contacts.create-note", Handler::Store(notes::create)),
    ("contacts.update-note", Handler::Store(notes::update)),
    ("contacts.delete-note", Handler::Store(notes::delete)),
    // campaigns, workflows, appointments
    (
        "contacts.add-contact-to-campaign",
        Handler::Store(campaigns::add),
    ),
    (
        "contacts.remove-contact-from-campaign",
        Handler::Store(campaigns::remove),
    ),
    (
        "contacts.remove-contact-from-every-campaign",
        Handler::Store(campaigns::remove_all),
    ),
    (
        "contacts.add-contact-to-workflow",
        Handler::Store(campaigns::add_workflow),
    ),
    (
        "contacts.delete-contact-from-workflow",
        Handler::Store(campaigns::remove_workflow),
    ),
    (
        "contacts.get-appointments-for-contact",
        Handler::Store(campaigns::appointments),
    ),
    // conversations & other: locations, custom fields, companies, associations, blogs
    // (see conversations.rs, locations.rs, companies.rs, associations.rs, blogs.rs)
    (
        "conversations.search-conversation",
        Handler::Store(super::conversations::search),
    ),
    (
        "conversations.get-conversation",
        Handler::Store(super::conversations::get),
    ),
    (
        "conversations.create-conversation",
        Handler::Store(super::conversations::create),
    ),
    (
        "conversations.update-conversation",
        Handler::Store(super::conversations::update),
    ),
    (
        "conversations.delete-conversation",
        Handler::Store(super::conversations::delete),
    ),
    (
        "conversations.add-an-inbound-message",
        Handler::Store(super::conversations::inbound),
    ),
    (
        "conversations.get-email-by-id",
        Handler::Store(super::conversations::get_email),
    ),
    (
        "conversations.get-message",
        Handler::Store(super::conversations::get_message),
    ),
    (
        "conversations.get-messages",
        Handler::Store(super::conversations::list_messages),
    ),
    (
        "conversations.send-a-new-message",
        Handler::Store(super::conversations::send),
    ),
    (
        "conversations.update-message-status",
        Handler::Store(super::conversations::update_status),
    ),
    (
        "conversations.get-message-recording",
        Handler::Store(super::conversations::recording),
    ),
    (
        "conversations.get-message-transcription",
        Handler::Store(super::conversations::transcription),
    ),
    (
        "conversations.download-message-transcription",
        Handler::Store(super::conversations::download_transcription),
    ),
    (
        "conversations.live-chat-agent-typing",
        Handler::Store(super::conversations::agent_typing),
    ),
    (
        "locations.search-locations",
        Handler::State(super::locations::search_company),
    ),
    (
        "locations.get-location",
        Handler::Store(super::locations::get),
    ),
    (
        "locations.create-location",
        Handler::Store(super::locations::create),
    ),
    (
        "locations.get-custom-fields",
        Handler::Store(super::locations::list_custom_fields),
    ),
    (
        "locations.get-custom-field",
        Handler::Store(super::locations::get_custom_field),
    ),
    (
        "locations.create-custom-field",
        Handler::Store(super::locations::create_custom_field),
    ),
    (
        "locations.update-custom-field",
        Handler::Store(super::locations::update_custom_field),
    ),
    (
        "locations.delete-custom-field",
        Handler::Store(super::locations::delete_custom_field),
    ),
    (
        "companies.get-company",
        Handler::Store(super::companies::get),
    ),
    (
        "associations.find-associations",
        Handler::Store(super::associations::find),
    ),
    (
        "associations.get-association-by-id",
        Handler::Store(super::associations::get),
    ),
    (
        "associations.get-association-key-by-key-name",
        Handler::Store(super::associations::get_by_key),
    ),
    (
        "associations.get-association-by-object-keys",
        Handler::Store(super::associations::get_by_object_key),
    ),
    (
        "associations.create-association",
        Handler::Store(super::associations::create),
    ),
    (
        "associations.update-association",
        Handler::Store(super::associations::update),
    ),
    (
        "associations.delete-association",
        Handler::Store(super::associations::delete),
    ),
    (
        "associations.create-relation",
        Handler::Store(super::associations::create_relation),
    ),
    (
        "associations.get-relations-by-record-id",
        Handler::Store(super::associations::relations_of),
    ),
    (
        "associations.delete-relation",
        Handler::Store(super::associations::delete_relation),
    ),
    (
        "blogs.check-url-slug-exists",
        Handler::Store(super::blogs::slug_exists),
    ),
    (
        "blogs.get-all-blog-authors-by-location",
        Handler::Store(super::blogs::authors),
    ),
    (
        "blogs.get-all-categories-by-location",
        Handler::Store(super::blogs::categories),
    ),
    ("blogs.get-blog-post", Handler::Store(super::blogs::posts)),
    ("blogs.get-blogs", Handler::Store(super::blogs::sites)),
    (
        "blogs.create-blog-post",
        Handler::Store(super::blogs::create_post),
    ),
    (
        "blogs.update-blog-post",
        Handler::Store(super::blogs::update_post),
    ),
    // opportunities, users, businesses, workflows & campaigns (see crm.rs)
    (
        "opportunities.search-opportunity",
        Handler::Store(super::opportunities::search),
    ),
    (
        "opportunities.get-pipelines",
        Handler::Store(super::opportunities::pipelines),
    ),
    (
        "opportunities.search-opportunities-advanced",
        Handler::Store(super::opportunities::search_advanced),
    ),
    (
        "opportunities.get-opportunity",
        Handler::Store(super::opportunities::get),
    ),
    (
        "opportunities.create-opportunity",
        Handler::Store(super::opportunities::create),
    ),
    (
        "opportunities.update-opportunity",
        Handler::Store(super::opportunities::update),
    ),
    (
        "opportunities.delete-opportunity",
        Handler::Store(super::opportunities::delete),
    ),
    (
        "opportunities.update-opportunity-status",
        Handler::Store(super::opportunities::update_status),
    ),
    (
        "opportunities.upsert-opportunity",
        Handler::Store(super::opportunities::upsert),
    ),
    (
        "opportunities.add-followers-opportunity",
        Handler::Store(super::opportunities::add_followers),
    ),
    (
        "opportunities.remove-followers-opportunity",
        Handler::Store(super::opportunities::remove_followers),
    ),
    ("users.search-users", Handler::Store(super::users::search)),
    (
        "users.filter-users-by-email",
        Handler::Store(super::users::filter_by_email),
    ),
    ("users.get-user", Handler::Store(super::users::get)),
    (
        "users.get-user-by-location",
        Handler::Store(super::users::by_location),
    ),
    ("users.create-user", Handler::Store(super::users::create)),
    ("users.update-user", Handler::Store(super::users::update)),
    ("users.delete-user", Handler::Store(super::users::delete)),
    (
        "businesses.get-business",
        Handler::Store(super::businesses::get),
    ),
    (
        "businesses.get-businesses-by-location",
        Handler::Store(super::businesses::list),
    ),
    (
        "businesses.create-business",
        Handler::Store(super::businesses::create),
    ),
    (
        "businesses.update-business",
        Handler::Store(super::businesses::update),
    ),
    (
        "businesses.delete-business",
        Handler::Store(super::businesses::delete),
    ),
    (
        "workflows.get-workflow",
        Handler::Store(super::workflows::list_workflows),
    ),
    (
        "campaigns.get-campaigns",
        Handler::Store(super::workflows::list_campaigns),
    ),
    (
        "snapshots.get-custom-snapshots",
        Handler::Store(super::workflows::list_snapshots),
    ),
    // calendars & appointments (see calendars/)
    (
        "calendars.get-groups",
        Handler::Store(super::calendars::groups::list),
    ),
    (
        "calendars.create-calendar-group",
        Handler::Store(super::calendars::groups::create),
    ),
    (
        "calendars.validate-groups-slug",
        Handler::Store(super::calendars::groups::validate_slug),
    ),
    (
        "calendars.edit-group",
        Handler::Store(super::calendars::groups::update),
    ),
    (
        "calendars.disable-group",
        Handler::Store(super::calendars::groups::set_status),
    ),
    (
        "calendars.delete-group",
        Handler::Store(super::calendars::groups::delete),
    ),
    (
        "calendars.get-calendars",
        Handler::Store(super::calendars::calendar::list),
    ),
    (
        "calendars.create-calendar",
        Handler::Store(super::calendars::calendar::create),
    ),
    (
        "calendars.get-calendar",
        Handler::Store(super::calendars::calendar::get),
    ),
    (
        "calendars.update-calendar",
        Handler::Store(super::calendars::calendar::update),
    ),
    (
        "calendars.delete-calendar",
        Handler::Store(super::calendars::calendar::delete),
    ),
    (
        "calendars.get-slots",
        Handler::Store(super::calendars::slots::get),
    ),
    (
        "calendars.get-calendar-events",
        Handler::Store(super::calendars::events::list_events),
    ),
    (
        "calendars.get-blocked-slots",
        Handler::Store(super::calendars::events::list_blocked_slots),
    ),
    (
        "calendars.create-appointment",
        Handler::Store(super::calendars::events::create_appointment),
    ),
    (
        "calendars.get-appointment",
        Handler::Store(super::calendars::events::get_appointment),
    ),
    (
        "calendars.edit-appointment",
        Handler::Store(super::calendars::events::edit_appointment),
    ),
    (
        "calendars.create-block-slot",
        Handler::Store(super::calendars::events::create_block_slot),
    ),
    (
        "calendars.edit-block-slot",
        Handler::Store(super::calendars::events::edit_block_slot),
    ),
    (
        "calendars.delete-event",
        Handler::Store(super::calendars::events::delete_event),
    ),
    (
        "calendars.get-appointment-notes",
        Handler::Store(super::calendars::notes::list),
    ),
    (
        "calendars.create-appointment-note",
        Handler::Store(super::calendars::notes::create),
    ),
    (
        "calendars.update-appointment-note",
        Handler::Store(super::calendars::notes::update),
    ),
    (
        "calendars.delete-appointment-note",
        Handler::Store(super::calendars::notes::delete),
    ),
    (
        "calendars.get-event-notification",
        Handler::Store(super::calendars::notifications::list),
    ),
    (
        "calendars.create-event-notification",
        Handler::Store(super::calendars::notifications::create),
    ),
    (
        "calendars.find-event-notification",
        Handler::Store(super::calendars::notifications::get),
    ),
    (
        "calendars.update-event-notification",
        Handler::Store(super::calendars::notifications::update),
    ),
    (
        "calendars.delete-event-notification",
        Handler::Store(super::calendars::notifications::delete),
    ),
    (
        "calendars.fetch-calendar-resources",
        Handler::Store(super::calendars::resources::list),
    ),
    (
        "calendars.create-calendar-resource",
        Handler::Store(super::calendars::resources::create),
    ),
    (
        "calendars.get-calendar-resource",
        Handler::Store(super::calendars::resources::get),
    ),
    (
        "calendars.update-calendar-resource",
        Handler::Store(super::calendars::resources::update),
    ),
    (
        "calendars.delete-calendar-resource",
        Handler::Store(super::calendars::resources::delete),
    ),
    // oauth
    ("oauth.get-access-token", Handler::State(oauth::token)),
    (
        "oauth.get-location-access-token",
        Handler::State(oauth::location_token),
    ),
    (
        "oauth.get-installed-location",
        Handler::State(oauth::installed_locations),
    ),
];

pub fn handler_for(op_id: &str) -> Option<Handler> {
    SERVED.iter().find(|(id, _)| *id == op_id).map(|(_, h)| *h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_id_is_a_table_operation() {
        for (id, _) in SERVED {
            assert!(
                hlbridge_ghl::TABLE.get(id).is_some(),
                "{id} is not in the table"
            );
        }
    }

    #[test]
    fn every_contacts_catalog_operation_is_served() {
        let missing: Vec<&str> = hlbridge_ghl::TABLE
            .catalog()
            .filter(|op| op.category == "contacts")
            .map(|op| op.id)
            .filter(|id| handler_for(id).is_none())
            .collect();
        assert!(missing.is_empty(), "not served: {missing:?}");
        assert_eq!(
            hlbridge_ghl::TABLE
                .catalog()
                .filter(|op| op.category == "contacts")
                .count(),
            28
        );
    }
}
