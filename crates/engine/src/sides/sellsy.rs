//! Sellsy reads and writes for the sync.

use futures::TryStreamExt;
use hlbridge_sellsy::{CallInput, Comment, CustomFieldDefinition, Related, SellsyClient, Task};
use serde_json::{json, Map, Value};

use crate::error::{EngineError, Result};

/// Sellsy as the sync sees it.
#[derive(Debug)]
pub struct SellsySide {
    pub client: SellsyClient,
    /// Companies by main contact and by name, refreshed once per cycle.
    pub companies: std::sync::Mutex<CompanyDirectory>,
    /// One company create at a time, so two contacts never create the same company.
    pub(super) company_lock: tokio::sync::Mutex<()>,
}

/// Who is whose main contact, and company ids by (lower-cased) name.
#[derive(Debug, Default, Clone)]
pub struct CompanyDirectory {
    pub by_contact: std::collections::HashMap<i64, String>,
    pub by_name: std::collections::HashMap<String, i64>,
    /// The largest `updated_at` read: the next refresh reads only what changed since.
    pub since: Option<String>,
    /// Read this cycle: a name it does not hold is a company that does not exist yet.
    pub complete: bool,
}

pub struct SellsyPage {
    pub contacts: Vec<Value>,
    /// The seek token of the next page, when there is one.
    pub next: Option<String>,
}

const PAGE: usize = 100;

fn not_found(e: &hlbridge_core::Error) -> bool {
    matches!(e, hlbridge_core::Error::NotFound { .. })
}

pub(super) fn data(body: Value) -> Vec<Value> {
    body.get("data")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

pub(super) fn id_param(id: &str) -> Result<i64> {
    id.parse()
        .map_err(|_| EngineError::Data(format!("`{id}` is not a Sellsy id")))
}

impl SellsySide {
    pub fn new(client: SellsyClient) -> Self {
        SellsySide {
            client,
            companies: std::sync::Mutex::new(CompanyDirectory::default()),
            company_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub(super) fn directory(&self) -> std::sync::MutexGuard<'_, CompanyDirectory> {
        self.companies.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) async fn call(&self, op: &str, input: CallInput) -> Result<Value> {
        self.client
            .call(op, input)
            .await
            .map_err(EngineError::sellsy)
    }

    /// Contacts updated at or after `since` (all when `None`), by id, one page.
    pub async fn changes_page(
        &self,
        since: Option<&str>,
        offset: Option<&str>,
        embeds: &[String],
    ) -> Result<SellsyPage> {
        let mut input = CallInput::new()
            .param("order", "id")
            .param("direction", "asc")
            .param("limit", PAGE);
        for e in embeds {
            input = input.param("embed", e);
        }
        if let Some(o) = offset {
            input = input.param("offset", o);
        }
        let mut filters = Map::new();
        if let Some(s) = since {
            filters.insert("updated".into(), json!({ "start": s }));
        }
        let body = self
            .call(
                "contacts.search-contacts",
                input.body(json!({ "filters": filters })),
            )
            .await?;
        let next = body
            .pointer("/pagination/offset")
            .and_then(Value::as_str)
            .map(str::to_string);
        let contacts = data(body);
        let next = next.filter(|_| contacts.len() >= PAGE);
        Ok(SellsyPage { contacts, next })
    }

    /// Every contact id (for deletion detection).
    pub async fn all_ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let mut offset: Option<String> = None;
        loop {
            let mut input = CallInput::new()
                .param("order", "id")
                .param("limit", PAGE)
                .param("field", "id");
            if let Some(o) = &offset {
                input = input.param("offset", o);
            }
            let body = self
                .call(
                    "contacts.search-contacts",
                    input.body(json!({"filters": {}})),
                )
                .await?;
            let next = body
                .pointer("/pagination/offset")
                .and_then(Value::as_str)
                .map(str::to_string);
            let page = data(body);
            ids.extend(
                page.iter()
                    .filter_map(|c| c.get("id").and_then(Value::as_i64))
                    .map(|i| i.to_string()),
            );
            match next {
                Some(n) if page.len() >= PAGE => offset = Some(n),
                _ => return Ok(ids),
            }
        }
    }

    pub async fn get(&self, id: &str, embeds: &[String]) -> Result<Option<Value>> {
        let mut input = CallInput::new().param("id", id_param(id)?);
        for e in embeds {
            input = input.param("embed", e);
        }
        match self.client.call("contacts.get-informations", input).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(EngineError::sellsy(e)),
        }
    }

    /// The name of the contact's company: the one it is main contact of, else the first.
    pub async fn company_name(&self, contact_id: &str) -> Result<Option<String>> {
        let id = id_param(contact_id)?;
        let body = match self
            .client
            .call("contacts.get-companies", CallInput::new().param("id", id))
            .await
        {
            Ok(b) => b,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(EngineError::sellsy(e)),
        };
        let companies = data(body);
        let main = companies
            .iter()
            .find(|c| c.get("main_contact_id").and_then(Value::as_i64) == Some(id))
            .or_else(|| companies.first());
        Ok(main
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string))
    }

    /// Contacts whose `field` (email, mobile_number, phone_number) equals `value`.
    pub async fn find_by(&self, field: &str, value: &str, embeds: &[String]) -> Result<Vec<Value>> {
        let mut input = CallInput::new().param("limit", 20);
        for e in embeds {
            input = input.param("embed", e);
        }
        let body = self
            .call(
                "contacts.search-contacts",
                input.body(json!({ "filters": { field: value } })),
            )
            .await?;
        Ok(data(body))
    }

    /// Contacts matching `filters` (first page of 100).
    pub async fn search(&self, filters: Value, embeds: &[String]) -> Result<Vec<Value>> {
        let mut input = CallInput::new().param("limit", 100);
        for e in embeds {
            input = input.param("embed", e);
        }
        let body = self
            .call(
                "contacts.search-contacts",
                input.body(json!({ "filters": filters })),
            )
            .await?;
        Ok(data(body))
    }

    pub async fn create(&self, body: &Map<String, Value>) -> Result<Value> {
        self.call(
            "contacts.create-contact",
            CallInput::new().body(Value::Object(body.clone())),
        )
        .await
    }

    pub async fn update(&self, id: &str, body: &Map<String, Value>) -> Result<Value> {
        self.call(
            "contacts.update-contact-info",
            CallInput::new()
                .param("id", id_param(id)?)
                .body(Value::Object(body.clone())),
        )
        .await
    }

    pub async fn delete(&self, id: &str) -> Result<()> {
        match self
            .client
            .call(
                "contacts.remove-contact",
                CallInput::new().param("id", id_param(id)?),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(EngineError::sellsy(e)),
        }
    }

    pub async fn link_tags(&self, id: &str, tags: &[String]) -> Result<()> {
        if tags.is_empty() {
            return Ok(());
        }
        let body: Vec<Value> = tags.iter().map(|t| json!({ "value": t })).collect();
        self.call(
            "contacts.link-smart-tags",
            CallInput::new()
                .param("contactId", id_param(id)?)
                .body(Value::Array(body)),
        )
        .await
        .map(|_| ())
    }

    /// Write the invoicing address: update it when the contact has one, else create it
    /// (Sellsy needs line 1, postal code, city and country to create one: returns
    /// `false` without writing when a part is missing).
    pub async fn set_address(
        &self,
        contact_id: &str,
        current: Option<&Value>,
        parts: &Map<String, Value>,
    ) -> Result<bool> {
        let cid = id_param(contact_id)?;
        if let Some(addr_id) = current.and_then(|a| a.get("id")).and_then(Value::as_i64) {
            let mut body = parts.clone();
            // Required parts cannot be emptied: keep what is there.
            body.retain(|_, v| !v.is_null());
            if body.is_empty() {
                return Ok(false);
            }
            self.call(
                "contacts.update-address",
                CallInput::new()
                    .param("contactId", cid)
                    .param("id", addr_id)
                    .body(Value::Object(body)),
            )
            .await?;
            return Ok(true);
        }
        let mut body = Map::new();
        body.insert("name".into(), json!("Main address"));
        for key in ["address_line_1", "postal_code", "city", "country_code"] {
            match parts
                .get(key)
                .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            {
                Some(v) => {
                    body.insert(key.into(), v.clone());
                }
                None => return Ok(false),
            }
        }
        body.insert("is_invoicing_address".into(), json!(true));
        self.call(
            "contacts.create-address",
            CallInput::new()
                .param("contactId", cid)
                .body(Value::Object(body)),
        )
        .await?;
        Ok(true)
    }

    pub async fn set_custom(&self, contact_id: &str, items: &[Value]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.call(
            "contacts.update-custom-fields",
            CallInput::new()
                .param("contactId", id_param(contact_id)?)
                .body(Value::Array(items.to_vec())),
        )
        .await
        .map(|_| ())
    }

    pub async fn custom_fields(&self) -> Result<Vec<CustomFieldDefinition>> {
        self.client
            .stream_typed("custom-fields.get-list", CallInput::new())
            .try_collect()
            .await
            .map_err(EngineError::sellsy)
    }

    /// Task labels: `(id, name)`.
    pub async fn task_labels(&self) -> Result<Vec<(i64, String)>> {
        let items: Vec<Value> = self
            .client
            .stream_typed("tasks.get-labels", CallInput::new())
            .try_collect()
            .await
            .map_err(EngineError::sellsy)?;
        Ok(items
            .iter()
            .filter_map(|l| {
                Some((
                    l.get("id")?.as_i64()?,
                    l.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                ))
            })
            .collect())
    }

    pub async fn tasks_of(&self, contact_id: &str) -> Result<Vec<Task>> {
        let id = id_param(contact_id)?;
        self.listing("tasks.search-tasks", json!({ "contacts": [id] }))
            .await
    }

    /// Every item of a search operation with these filters (paged).
    async fn listing<T: serde::de::DeserializeOwned>(
        &self,
        op: &str,
        filters: Value,
    ) -> Result<Vec<T>> {
        self.client
            .stream_typed(op, CallInput::new().body(json!({ "filters": filters })))
            .try_collect()
            .await
            .map_err(EngineError::sellsy)
    }

    /// Tasks related to any of `contacts` (one search, paged).
    pub async fn tasks_of_many(&self, contacts: &[String]) -> Result<Vec<Task>> {
        let ids: Vec<i64> = contacts.iter().filter_map(|c| c.parse().ok()).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.listing("tasks.search-tasks", json!({ "contacts": ids }))
            .await
    }

    /// Comments updated since `since` (inclusive; every comment when `None`).
    pub async fn comments_since(&self, since: Option<&str>) -> Result<Vec<Comment>> {
        let filters = match since {
            Some(s) => json!({ "updated": { "start": s } }),
            None => json!({}),
        };
        self.listing("comments.search-comments", json!(filters))
            .await
    }

    /// Tasks created since `since` (inclusive).
    pub async fn tasks_created_since(&self, since: &str) -> Result<Vec<Task>> {
        self.listing(
            "tasks.search-tasks",
            json!({ "created": { "start": since } }),
        )
        .await
    }

    pub async fn comments_of(&self, contact_id: &str) -> Result<Vec<Comment>> {
        let id = id_param(contact_id)?;
        self.listing("comments.search-comments", json!({ "contacts": [id] }))
            .await
    }

    pub async fn create_task(&self, contact_id: &str, body: &Map<String, Value>) -> Result<Task> {
        let mut body = body.clone();
        body.insert(
            "related".into(),
            json!([Related::contact(id_param(contact_id)?)]),
        );
        let v = self
            .call(
                "tasks.create-task",
                CallInput::new().body(Value::Object(body)),
            )
            .await?;
        serde_json::from_value(v).map_err(|e| EngineError::Data(format!("Sellsy task: {e}")))
    }

    pub async fn update_task(&self, id: &str, body: &Map<String, Value>) -> Result<Task> {
        self.client
            .update_task(id_param(id)?, &Value::Object(body.clone()))
            .await
            .map_err(EngineError::sellsy)
    }

    pub async fn delete_task(&self, id: &str) -> Result<()> {
        match self.client.delete_task(id_param(id)?).await {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(EngineError::sellsy(e)),
        }
    }

    pub async fn create_comment(&self, contact_id: &str, text: &str) -> Result<Comment> {
        self.client
            .create_comment(text, Related::contact(id_param(contact_id)?))
            .await
            .map_err(EngineError::sellsy)
    }

    pub async fn update_comment(&self, id: &str, text: &str) -> Result<Comment> {
        self.client
            .update_comment(id_param(id)?, text)
            .await
            .map_err(EngineError::sellsy)
    }

    pub async fn delete_comment(&self, id: &str) -> Result<()> {
        match self.client.delete_comment(id_param(id)?).await {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(EngineError::sellsy(e)),
        }
    }
}
