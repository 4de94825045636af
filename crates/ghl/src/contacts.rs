//! Typed calls for contacts, their tasks, notes and tags.

use futures::{Stream, StreamExt};
use hlbridge_core::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::client::{operation, CallInput, GhlClient};
use crate::models::{Contact, ContactInput, Note, Task, TaskInput};

/// Contacts of the client's location.
#[derive(Debug, Clone, Copy)]
pub struct Contacts<'a> {
    client: &'a GhlClient,
}

/// A `POST /contacts/search` query: filters and sort as GHL takes them.
#[derive(Debug, Clone, Default)]
pub struct ContactSearch {
    pub filters: Vec<Value>,
    pub sort: Vec<Value>,
    pub query: Option<String>,
    /// Page size (GHL allows up to 500).
    pub page_limit: u32,
    /// Resume after this cursor (the `searchAfter` of the last contact seen).
    pub search_after: Option<Value>,
}

impl ContactSearch {
    /// Everything, oldest change first: the order incremental readers want.
    pub fn by_date_updated() -> Self {
        ContactSearch {
            sort: vec![json!({"field": "dateUpdated", "direction": "asc"})],
            page_limit: 100,
            ..Default::default()
        }
    }

    fn body(&self) -> Value {
        let mut body = json!({ "pageLimit": self.page_limit.max(1) });
        if !self.filters.is_empty() {
            body["filters"] = Value::Array(self.filters.clone());
        }
        if !self.sort.is_empty() {
            body["sort"] = Value::Array(self.sort.clone());
        }
        if let Some(q) = &self.query {
            body["query"] = Value::String(q.clone());
        }
        if let Some(after) = &self.search_after {
            body["searchAfter"] = after.clone();
        }
        body
    }
}

fn field<T: DeserializeOwned>(body: &Value, key: &str) -> Result<T> {
    let v = body
        .get(key)
        .ok_or_else(|| Error::Decode(format!("response has no `{key}`")))?;
    serde_json::from_value(v.clone()).map_err(|e| Error::Decode(format!("`{key}`: {e}")))
}

fn to_body<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::InvalidInput(e.to_string()))
}

impl GhlClient {
    pub fn contacts(&self) -> Contacts<'_> {
        Contacts { client: self }
    }
}

impl<'a> Contacts<'a> {
    async fn call(&self, id: &str, input: CallInput) -> Result<Value> {
        self.client.call(id, input).await
    }

    pub async fn get(&self, id: &str) -> Result<Contact> {
        let body = self
            .call(
                "contacts.get-contact",
                CallInput::new().param("contactId", id),
            )
            .await?;
        field(&body, "contact")
    }

    pub async fn create(&self, input: &ContactInput) -> Result<Contact> {
        let body = self
            .call(
                "contacts.create-contact",
                CallInput::new().body(to_body(input)?),
            )
            .await?;
        field(&body, "contact")
    }

    pub async fn update(&self, id: &str, input: &ContactInput) -> Result<Contact> {
        let mut patch = input.clone();
        patch.location_id = None;
        let call = CallInput::new()
            .param("contactId", id)
            .body(to_body(&patch)?);
        let body = self.call("contacts.update-contact", call).await?;
        field(&body, "contact")
    }

    /// Returns whether a new contact was created, and the contact.
    pub async fn upsert(&self, input: &ContactInput) -> Result<(bool, Contact)> {
        let body = self
            .call(
                "contacts.upsert-contact",
                CallInput::new().body(to_body(input)?),
            )
            .await?;
        Ok((
            body.get("new").and_then(Value::as_bool).unwrap_or(false),
            field(&body, "contact")?,
        ))
    }

    pub async fn delete(&self, id: &str) -> Result<()> {
        self.call(
            "contacts.delete-contact",
            CallInput::new().param("contactId", id),
        )
        .await?;
        Ok(())
    }

    pub async fn add_tags(&self, id: &str, tags: &[&str]) -> Result<Vec<String>> {
        let call = CallInput::new()
            .param("contactId", id)
            .body(json!({ "tags": tags }));
        let body = self.call("contacts.add-tags", call).await?;
        field(&body, "tags")
    }

    pub async fn remove_tags(&self, id: &str, tags: &[&str]) -> Result<Vec<String>> {
        let call = CallInput::new()
            .param("contactId", id)
            .body(json!({ "tags": tags }));
        let body = self.call("contacts.remove-tags", call).await?;
        field(&body, "tags")
    }

    /// Every contact matching `search`, following `searchAfter` across pages.
    pub fn search(&self, search: &ContactSearch) -> impl Stream<Item = Result<Contact>> + 'a {
        match operation("contacts.search-contacts-advanced") {
            Ok(op) => crate::pages::stream(self.client, op, CallInput::new().body(search.body()))
                .map(|item| {
                    item.and_then(|v| {
                        serde_json::from_value(v).map_err(|e| Error::Decode(e.to_string()))
                    })
                })
                .left_stream(),
            Err(e) => futures::stream::once(async move { Err(e) }).right_stream(),
        }
    }

    /// One page of a search: the contacts and the total.
    pub async fn search_page(&self, search: &ContactSearch) -> Result<(Vec<Contact>, u64)> {
        let body = self
            .call(
                "contacts.search-contacts-advanced",
                CallInput::new().body(search.body()),
            )
            .await?;
        Ok((
            field(&body, "contacts")?,
            body.get("total").and_then(Value::as_u64).unwrap_or(0),
        ))
    }

    pub async fn tasks(&self, contact_id: &str) -> Result<Vec<Task>> {
        let body = self
            .call(
                "contacts.get-all-tasks",
                CallInput::new().param("contactId", contact_id),
            )
            .await?;
        field(&body, "tasks")
    }

    pub async fn create_task(&self, contact_id: &str, task: &TaskInput) -> Result<Task> {
        let call = CallInput::new()
            .param("contactId", contact_id)
            .body(to_body(task)?);
        field(&self.call("contacts.create-task", call).await?, "task")
    }

    pub async fn update_task(
        &self,
        contact_id: &str,
        task_id: &str,
        task: &TaskInput,
    ) -> Result<Task> {
        let call = CallInput::new()
            .param("contactId", contact_id)
            .param("taskId", task_id)
            .body(to_body(task)?);
        field(&self.call("contacts.update-task", call).await?, "task")
    }

    pub async fn complete_task(
        &self,
        contact_id: &str,
        task_id: &str,
        completed: bool,
    ) -> Result<Task> {
        let call = CallInput::new()
            .param("contactId", contact_id)
            .param("taskId", task_id)
            .body(json!({ "completed": completed }));
        field(
            &self.call("contacts.update-task-completed", call).await?,
            "task",
        )
    }

    pub async fn delete_task(&self, contact_id: &str, task_id: &str) -> Result<()> {
        let call = CallInput::new()
            .param("contactId", contact_id)
            .param("taskId", task_id);
        self.call("contacts.delete-task", call).await?;
        Ok(())
    }

    pub async fn notes(&self, contact_id: &str) -> Result<Vec<Note>> {
        let body = self
            .call(
                "contacts.get-all-notes",
                CallInput::new().param("contactId", contact_id),
            )
            .await?;
        field(&body, "notes")
    }

    pub async fn create_note(&self, contact_id: &str, body_text: &str) -> Result<Note> {
        let call = CallInput::new()
            .param("contactId", contact_id)
            .body(json!({ "body": body_text }));
        field(&self.call("contacts.create-note", call).await?, "note")
    }

    pub async fn update_note(
        &self,
        contact_id: &str,
        note_id: &str,
        body_text: &str,
    ) -> Result<Note> {
        let call = CallInput::new()
            .param("contactId", contact_id)
            .param("id", note_id)
            .body(json!({ "body": body_text }));
        field(&self.call("contacts.update-note", call).await?, "note")
    }

    pub async fn delete_note(&self, contact_id: &str, note_id: &str) -> Result<()> {
        let call = CallInput::new()
            .param("contactId", contact_id)
            .param("id", note_id);
        self.call("contacts.delete-note", call).await?;
        Ok(())
    }
}
