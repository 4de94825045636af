//! Account-level calls: the connected staff member, task labels and webhooks.

use hlbridge_core::error::Result;
use serde_json::{json, Value};

use crate::client::{CallInput, SellsyClient};
use crate::models::{Staff, TaskLabel, Webhook};
use crate::resources::{parse, parse_data};

impl SellsyClient {
    /// The staff member the token acts as.
    pub async fn me(&self) -> Result<Staff> {
        parse(
            self.call("staffs.get-staff", CallInput::new().param("id", "me"))
                .await?,
        )
    }

    /// Task labels; creating a task needs one.
    pub async fn task_labels(&self) -> Result<Vec<TaskLabel>> {
        parse_data(
            self.call("tasks.get-labels", CallInput::new().param("limit", 100))
                .await?,
        )
    }

    /// Register an http webhook for `events` (`people.created`, `client.updated`, ...).
    /// `json_body` asks for a JSON body rather than the form-encoded `notif=` one.
    pub async fn create_webhook(
        &self,
        endpoint: &str,
        events: &[&str],
        json_body: bool,
    ) -> Result<Webhook> {
        let configuration: Vec<Value> = events
            .iter()
            .map(|e| json!({ "id": e, "is_enabled": true }))
            .collect();
        let body = json!({
            "type": "http",
            "is_enabled": true,
            "endpoint": endpoint,
            "configuration": configuration,
            "json_content_type": json_body,
        });
        parse(
            self.call("webhooks.create-webhook", CallInput::new().body(body))
                .await?,
        )
    }

    pub async fn webhooks(&self) -> Result<Vec<Webhook>> {
        parse_data(
            self.call("webhooks.get-list", CallInput::new().param("limit", 100))
                .await?,
        )
    }

    pub async fn delete_webhook(&self, id: i64) -> Result<()> {
        self.call("webhooks.delete-webhook", CallInput::new().param("id", id))
            .await?;
        Ok(())
    }
}
