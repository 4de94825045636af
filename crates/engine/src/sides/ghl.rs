//! GHL reads and writes for the sync.

use hlbridge_ghl::{
    CallInput, Contact, ContactInput, ContactSearch, GhlClient, Note, Task, TaskInput,
};
use serde_json::{json, Value};

use crate::error::{EngineError, Result};

/// GHL as the sync sees it.
#[derive(Debug)]
pub struct GhlSide {
    pub client: GhlClient,
    pub location_id: String,
}

/// One page of changed contacts and the cursor after it.
pub struct GhlPage {
    pub contacts: Vec<Contact>,
    /// `searchAfter` of the last contact (`None` when the page was empty).
    pub last: Option<Value>,
    pub full: bool,
}

const PAGE: u32 = 500;
/// Tasks per page of the location-wide task search.
pub const TASK_PAGE: u64 = 100;

impl GhlSide {
    /// Contacts changed after `after` (a `searchAfter` cursor), oldest change first.
    pub async fn changes_page(&self, after: Option<&Value>, filters: &[Value]) -> Result<GhlPage> {
        let search = ContactSearch {
            filters: filters.to_vec(),
            search_after: after.cloned(),
            page_limit: PAGE,
            ..ContactSearch::by_date_updated()
        };
        let (contacts, _) = self
            .client
            .contacts()
            .search_page(&search)
            .await
            .map_err(EngineError::ghl)?;
        let last = contacts
            .last()
            .and_then(|c| c.extra.get("searchAfter").cloned());
        let full = contacts.len() as u32 >= PAGE;
        Ok(GhlPage {
            contacts,
            last,
            full,
        })
    }

    /// Every contact id (for deletion detection), or an error.
    pub async fn all_ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let mut after: Option<Value> = None;
        loop {
            let page = self.changes_page(after.as_ref(), &[]).await?;
            ids.extend(page.contacts.iter().map(|c| c.id.clone()));
            if !page.full || page.last.is_none() {
                return Ok(ids);
            }
            after = page.last;
        }
    }

    pub async fn get(&self, id: &str) -> Result<Option<Contact>> {
        match self.client.contacts().get(id).await {
            Ok(c) => Ok(Some(c)),
            Err(hlbridge_core::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(EngineError::ghl(e)),
        }
    }

    /// Contacts whose `field` equals `value` exactly.
    pub async fn find_by(&self, field: &str, value: &str) -> Result<Vec<Contact>> {
        let search = ContactSearch {
            filters: vec![json!({"field": field, "operator": "eq", "value": value})],
            page_limit: 20,
            ..ContactSearch::by_date_updated()
        };
        Ok(self
            .client
            .contacts()
            .search_page(&search)
            .await
            .map_err(EngineError::ghl)?
            .0)
    }

    pub async fn create(&self, input: &ContactInput) -> Result<Contact> {
        let mut input = input.clone();
        input.location_id = Some(self.location_id.clone());
        self.client
            .contacts()
            .create(&input)
            .await
            .map_err(EngineError::ghl)
    }

    pub async fn update(&self, id: &str, input: &ContactInput) -> Result<Contact> {
        self.client
            .contacts()
            .update(id, input)
            .await
            .map_err(EngineError::ghl)
    }

    /// Set `companyName`, which the update operation does not take: an upsert keyed
    /// on the contact's own e-mail. Refuses (returns `false`) when the upsert would
    /// land on another contact.
    pub async fn set_company(&self, id: &str, email: &str, company: &str) -> Result<bool> {
        let input = ContactInput {
            location_id: Some(self.location_id.clone()),
            email: Some(email.to_string()),
            company_name: Some(company.to_string()),
            ..ContactInput::default()
        };
        let (created, contact) = self
            .client
            .contacts()
            .upsert(&input)
            .await
            .map_err(EngineError::ghl)?;
        if created || contact.id != id {
            tracing::warn!(contact = id, "company upsert matched another contact");
            return Ok(false);
        }
        Ok(true)
    }

    pub async fn delete(&self, id: &str) -> Result<()> {
        match self.client.contacts().delete(id).await {
            Ok(()) | Err(hlbridge_core::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(EngineError::ghl(e)),
        }
    }

    pub async fn add_tag(&self, id: &str, tag: &str) -> Result<()> {
        self.client
            .contacts()
            .add_tags(id, &[tag])
            .await
            .map(|_| ())
            .map_err(EngineError::ghl)
    }

    /// `None` when the contact no longer exists.
    pub async fn tasks(&self, contact: &str) -> Result<Option<Vec<Task>>> {
        match self.client.contacts().tasks(contact).await {
            Ok(t) => Ok(Some(t)),
            Err(hlbridge_core::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(EngineError::ghl(e)),
        }
    }

    pub async fn notes(&self, contact: &str) -> Result<Option<Vec<Note>>> {
        match self.client.contacts().notes(contact).await {
            Ok(t) => Ok(Some(t)),
            Err(hlbridge_core::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(EngineError::ghl(e)),
        }
    }

    pub async fn create_task(&self, contact: &str, task: &TaskInput) -> Result<Task> {
        self.client
            .contacts()
            .create_task(contact, task)
            .await
            .map_err(EngineError::ghl)
    }

    pub async fn update_task(&self, contact: &str, id: &str, task: &TaskInput) -> Result<Task> {
        self.client
            .contacts()
            .update_task(contact, id, task)
            .await
            .map_err(EngineError::ghl)
    }

    pub async fn delete_task(&self, contact: &str, id: &str) -> Result<()> {
        match self.client.contacts().delete_task(contact, id).await {
            Ok(()) | Err(hlbridge_core::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(EngineError::ghl(e)),
        }
    }

    pub async fn create_note(&self, contact: &str, body: &str) -> Result<Note> {
        self.client
            .contacts()
            .create_note(contact, body)
            .await
            .map_err(EngineError::ghl)
    }

    pub async fn update_note(&self, contact: &str, id: &str, body: &str) -> Result<Note> {
        self.client
            .contacts()
            .update_note(contact, id, body)
            .await
            .map_err(EngineError::ghl)
    }

    pub async fn delete_note(&self, contact: &str, id: &str) -> Result<()> {
        match self.client.contacts().delete_note(contact, id).await {
            Ok(()) | Err(hlbridge_core::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(EngineError::ghl(e)),
        }
    }

    /// One page of the location-wide task search, `skip` tasks in (only the tasks of
    /// `contacts` when given); the page is full when it holds `TASK_PAGE` tasks.
    async fn task_page(&self, contacts: Option<&[String]>, skip: u64) -> Result<Vec<Task>> {
        let mut body = json!({ "limit": TASK_PAGE, "skip": skip });
        if let Some(c) = contacts {
            body["contactId"] = json!(c);
        }
        let body = self
            .client
            .call(
                "locations.task-search",
                CallInput::new()
                    .param("locationId", &self.location_id)
                    .body(body),
            )
            .await
            .map_err(EngineError::ghl)?;
        body.get("tasks")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|t| {
                serde_json::from_value(t)
                    .map_err(|e| EngineError::Data(format!("GHL task search: {e}")))
            })
            .collect()
    }

    /// One page of every contact's tasks.
    pub async fn location_tasks(&self, skip: u64) -> Result<Vec<Task>> {
        self.task_page(None, skip).await
    }

    /// The tasks of some contacts through the location-wide search, every page.
    pub async fn tasks_of_many(&self, contacts: &[String]) -> Result<Vec<Task>> {
        let mut out = Vec::new();
        let mut skip = 0u64;
        loop {
            let page = self.task_page(Some(contacts), skip).await?;
            let n = page.len() as u64;
            out.extend(page);
            if n < TASK_PAGE {
                return Ok(out);
            }
            skip += n;
        }
    }

    /// The location's custom field definitions.
    pub async fn custom_fields(&self) -> Result<Vec<Value>> {
        let body = self
            .client
            .call(
                "locations.get-custom-fields",
                CallInput::new().param("locationId", &self.location_id),
            )
            .await
            .map_err(EngineError::ghl)?;
        Ok(body
            .get("customFields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }
}
