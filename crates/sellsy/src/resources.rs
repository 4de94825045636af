//! Typed calls for contacts, tasks and comments.

use futures::{Stream, StreamExt};
use hlbridge_core::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::client::{operation, CallInput, SellsyClient};
use crate::models::{Comment, Contact, Related, Task};
use crate::options::{search_body, ContactFilters, ListOptions};

pub(crate) fn parse<T: DeserializeOwned>(v: Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| Error::Decode(e.to_string()))
}

/// The `data` array of a list body, typed.
pub(crate) fn parse_data<T: DeserializeOwned>(body: Value) -> Result<Vec<T>> {
    parse(body.get("data").cloned().unwrap_or(Value::Array(vec![])))
}

pub(crate) fn to_body<T: serde::Serialize>(v: &T) -> Result<Value> {
    let mut body = serde_json::to_value(v).map_err(|e| Error::InvalidInput(e.to_string()))?;
    if let Value::Object(map) = &mut body {
        // Read-only fields are not sent back.
        for key in [
            "id",
            "created",
            "updated",
            "updated_at",
            "invoicing_address_id",
            "delivery_address_id",
            "owner",
            "_embed",
            "main_contact_id",
            "dunning_contact_id",
            "invoicing_contact_id",
        ] {
            map.remove(key);
        }
    }
    Ok(body)
}

impl SellsyClient {
    /// A typed stream of every item of a list or search operation (seek paging).
    pub fn stream_typed<'a, T: DeserializeOwned + 'a>(
        &'a self,
        id: &str,
        input: CallInput,
    ) -> impl Stream<Item = Result<T>> + 'a {
        self.list_typed(id, input, &ListOptions::default())
    }

    /// A typed stream of every item of a list or search operation, paged and projected
    /// as `options` say.
    pub fn list_typed<'a, T: DeserializeOwned + 'a>(
        &'a self,
        id: &str,
        input: CallInput,
        options: &ListOptions,
    ) -> impl Stream<Item = Result<T>> + 'a {
        let input = options.apply(input);
        let mode = options.mode;
        match operation(id) {
            Ok(op) => self
                .stream(op, input, mode)
                .map(|item| item.and_then(parse))
                .left_stream(),
            Err(e) => futures::stream::once(async move { Err(e) }).right_stream(),
        }
    }

    /// Every contact.
    pub fn contacts<'a>(
        &'a self,
        options: &ListOptions,
    ) -> impl Stream<Item = Result<Contact>> + 'a {
        self.list_typed("contacts.get-list", CallInput::new(), options)
    }

    /// Every contact matching `filters` (e.g. `updated` since the last sync).
    pub fn search_contacts<'a>(
        &'a self,
        filters: &ContactFilters,
        options: &ListOptions,
    ) -> impl Stream<Item = Result<Contact>> + 'a {
        self.list_typed(
            "contacts.search-contacts",
            CallInput::new().body(search_body(filters)),
            options,
        )
    }

    /// One contact with the embeds and projection of `options`.
    pub async fn get_contact_with(&self, id: i64, options: &ListOptions) -> Result<Contact> {
        let input = options.apply(CallInput::new().param("id", id));
        parse(self.call("contacts.get-informations", input).await?)
    }

    pub async fn create_contact(&self, contact: &Contact) -> Result<Contact> {
        parse(
            self.call(
                "contacts.create-contact",
                CallInput::new().body(to_body(contact)?),
            )
            .await?,
        )
    }

    pub async fn get_contact(&self, id: i64) -> Result<Contact> {
        parse(
            self.call(
                "contacts.get-informations",
                CallInput::new().param("id", id),
            )
            .await?,
        )
    }

    /// Partial update: only the fields present in `patch` change.
    pub async fn update_contact(&self, id: i64, patch: &Value) -> Result<Contact> {
        let call = CallInput::new().param("id", id).body(patch.clone());
        parse(self.call("contacts.update-contact-info", call).await?)
    }

    pub async fn delete_contact(&self, id: i64) -> Result<()> {
        self.call("contacts.remove-contact", CallInput::new().param("id", id))
            .await?;
        Ok(())
    }

    /// Contacts whose email is exactly `email`.
    pub async fn find_contacts_by_email(&self, email: &str) -> Result<Vec<Contact>> {
        let call = CallInput::new().body(json!({"filters": {"email": email}}));
        let body = self.call("contacts.search-contacts", call).await?;
        parse(body.get("data").cloned().unwrap_or(Value::Array(vec![])))
    }

    pub async fn create_task(
        &self,
        title: &str,
        due_date: &str,
        label_id: i64,
        related: Related,
    ) -> Result<Task> {
        let body = json!({
            "title": title,
            "due_date": due_date,
            "label_id": label_id,
            "related": [related],
        });
        parse(
            self.call("tasks.create-task", CallInput::new().body(body))
                .await?,
        )
    }

    pub async fn get_task(&self, id: i64) -> Result<Task> {
        parse(
            self.call("tasks.get-by-id", CallInput::new().param("id", id))
                .await?,
        )
    }

    pub async fn update_task(&self, id: i64, patch: &Value) -> Result<Task> {
        let call = CallInput::new().param("id", id).body(patch.clone());
        parse(self.call("tasks.update-task-by-id", call).await?)
    }

    pub async fn delete_task(&self, id: i64) -> Result<()> {
        self.call("tasks.remove-task", CallInput::new().param("id", id))
            .await?;
        Ok(())
    }

    pub async fn create_comment(&self, description: &str, related: Related) -> Result<Comment> {
        let body = json!({ "description": description, "related": [related] });
        parse(
            self.call("comments.create-comment", CallInput::new().body(body))
                .await?,
        )
    }

    pub async fn update_comment(&self, id: i64, description: &str) -> Result<Comment> {
        let call = CallInput::new()
            .param("id", id)
            .body(json!({ "description": description }));
        parse(self.call("comments.update-comment", call).await?)
    }

    pub async fn delete_comment(&self, id: i64) -> Result<()> {
        self.call("comments.remove-comment", CallInput::new().param("id", id))
            .await?;
        Ok(())
    }
}
