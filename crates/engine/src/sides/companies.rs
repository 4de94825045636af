//! The Sellsy company directory the sync keeps (who is whose main contact, ids by
//! name) and moving a contact to a company.

use futures::TryStreamExt;
use hlbridge_sellsy::CallInput;
use serde_json::{json, Value};

use super::sellsy::{data, id_param, CompanyDirectory, SellsySide};
use crate::error::{EngineError, Result};

impl SellsySide {
    /// Read the companies (id, name, main contact): all of them when `full` or on the
    /// first call (one call per 100 companies), else only those updated since the last
    /// read (`filters.updated_at`, usually one call).
    pub async fn refresh_companies(&self, full: bool) -> Result<()> {
        let op = hlbridge_sellsy::operation("companies.search-companies")
            .map_err(EngineError::sellsy)?;
        let since = if full {
            None
        } else {
            self.directory().since.clone()
        };
        let filters = match &since {
            Some(s) => json!({ "updated_at": { "start": s } }),
            None => json!({}),
        };
        let input = CallInput::new()
            .param("order", "id")
            .param("field", "id")
            .param("field", "name")
            .param("field", "main_contact_id")
            .param("field", "updated_at")
            .body(json!({ "filters": filters }));
        let items: Vec<Value> = self
            .client
            .stream(op, input, hlbridge_sellsy::PagingMode::Seek)
            .try_collect()
            .await
            .map_err(EngineError::sellsy)?;
        let mut dir = if since.is_none() {
            CompanyDirectory::default()
        } else {
            self.directory().clone()
        };
        let mut max = since.clone();
        for c in items {
            let (Some(id), Some(name)) = (
                c.get("id").and_then(Value::as_i64),
                c.get("name").and_then(Value::as_str),
            ) else {
                continue;
            };
            if let Some(u) = c.get("updated_at").and_then(Value::as_str) {
                if crate::intake::later(u, max.as_deref()) {
                    max = Some(u.to_string());
                }
            }
            if since.is_some() {
                // A company read again replaces what was known of it.
                dir.by_name.retain(|_, v| *v != id);
                dir.by_contact.retain(|_, n| !n.eq_ignore_ascii_case(name));
            }
            dir.by_name.entry(name.to_lowercase()).or_insert(id);
            if let Some(contact) = c.get("main_contact_id").and_then(Value::as_i64) {
                dir.by_contact.insert(contact, name.to_string());
            }
        }
        dir.since = max;
        dir.complete = true;
        *self.directory() = dir;
        Ok(())
    }

    /// Create a prospect company called `name`; its id.
    async fn create_company(&self, name: &str) -> Result<i64> {
        let _one = self.company_lock.lock().await;
        if let Some(id) = self.directory().by_name.get(&name.to_lowercase()).copied() {
            return Ok(id);
        }
        let created = self
            .call(
                "companies.create-new-company",
                CallInput::new().body(json!({ "name": name, "type": "prospect" })),
            )
            .await;
        let created = match created {
            Ok(v) => v,
            Err(e) => {
                // The answer may have been lost after the company was made: look first.
                match self.find_company(name).await? {
                    Some(id) => {
                        self.directory().by_name.insert(name.to_lowercase(), id);
                        return Ok(id);
                    }
                    None => return Err(e),
                }
            }
        };
        let id = created
            .get("id")
            .and_then(Value::as_i64)
            .ok_or_else(|| EngineError::Data("Sellsy company create returned no id".into()))?;
        self.directory().by_name.insert(name.to_lowercase(), id);
        Ok(id)
    }

    /// The id of the company called exactly `name`, asked of Sellsy (one request).
    async fn find_company(&self, name: &str) -> Result<Option<i64>> {
        let found = data(
            self.call(
                "companies.search-companies",
                CallInput::new()
                    .param("limit", 1)
                    .body(json!({ "filters": { "name": name } })),
            )
            .await?,
        );
        Ok(found
            .first()
            .and_then(|c| c.get("id"))
            .and_then(Value::as_i64))
    }

    /// The company a contact is main contact of, from the directory.
    pub fn company_of(&self, contact_id: &str) -> Option<String> {
        let id = contact_id.parse::<i64>().ok()?;
        self.directory().by_contact.get(&id).cloned()
    }

    /// Move the contact to the company called `name` (created as a prospect if
    /// absent): linked, made its main contact, and unlinked from the company it was
    /// main contact of before (`previous`), so reads give `name` from now on.
    pub async fn link_company(
        &self,
        contact_id: &str,
        name: &str,
        previous: Option<&str>,
    ) -> Result<()> {
        let cid = id_param(contact_id)?;
        let (known, complete) = {
            let dir = self.directory();
            (dir.by_name.get(&name.to_lowercase()).copied(), dir.complete)
        };
        let company_id = match known {
            Some(id) => id,
            None if complete => self.create_company(name).await?,
            None => match self.find_company(name).await? {
                Some(id) => id,
                None => self.create_company(name).await?,
            },
        };
        self.directory()
            .by_name
            .insert(name.to_lowercase(), company_id);
        self.call(
            "companies.link-contact",
            CallInput::new()
                .param("companyId", company_id)
                .param("contactId", cid)
                .body(json!({ "contact_type_main": true })),
        )
        .await?;
        self.directory().by_contact.insert(cid, name.to_string());
        let Some(previous) = previous.filter(|p| !p.eq_ignore_ascii_case(name)) else {
            return Ok(());
        };
        let linked = data(
            self.call("contacts.get-companies", CallInput::new().param("id", cid))
                .await?,
        );
        for company in linked {
            let same = company
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n == previous);
            let Some(old_id) = company.get("id").and_then(Value::as_i64) else {
                continue;
            };
            if same && old_id != company_id {
                self.call(
                    "companies.unlink-contact",
                    CallInput::new()
                        .param("companyId", old_id)
                        .param("contactId", cid),
                )
                .await?;
            }
        }
        Ok(())
    }
}
