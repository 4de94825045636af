//! Custom fields: definitions, and the values contacts, companies and individuals carry.

use futures::Stream;
use hlbridge_core::error::Result;
use serde_json::{json, Value};

use crate::client::{CallInput, SellsyClient};
use crate::models::{CustomFieldDefinition, CustomFieldEntry, CustomFieldValue};
use crate::options::ListOptions;
use crate::resources::parse;

/// The kind of object whose custom fields are read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomFieldOwner {
    Contact,
    Company,
    Individual,
}

impl CustomFieldOwner {
    /// (read operation, write operation, path parameter).
    fn operations(self) -> (&'static str, &'static str, &'static str) {
        match self {
            CustomFieldOwner::Contact => (
                "contacts.get-custom-fields",
                "contacts.update-custom-fields",
                "contactId",
            ),
            CustomFieldOwner::Company => (
                "companies.get-custom-fields-list",
                "companies.update-custom-fields",
                "id",
            ),
            CustomFieldOwner::Individual => (
                "individuals.get-custom-fields",
                "individuals.update-custom-fields",
                "id",
            ),
        }
    }
}

impl SellsyClient {
    /// Every custom-field definition of the account.
    pub fn custom_field_definitions<'a>(
        &'a self,
    ) -> impl Stream<Item = Result<CustomFieldDefinition>> + 'a {
        self.list_typed(
            "custom-fields.get-list",
            CallInput::new(),
            &ListOptions::default(),
        )
    }

    /// The definitions that apply to an object type (`contact`, `client`, `prospect`, ...).
    pub fn custom_field_definitions_for<'a>(
        &'a self,
        related_object: &str,
    ) -> impl Stream<Item = Result<CustomFieldDefinition>> + 'a {
        let body = json!({ "filters": { "related_object": related_object } });
        self.list_typed(
            "custom-fields.search",
            CallInput::new().body(body),
            &ListOptions::default(),
        )
    }

    pub async fn custom_field_definition(&self, id: i64) -> Result<CustomFieldDefinition> {
        parse(
            self.call(
                "custom-fields.get-information",
                CallInput::new().param("id", id),
            )
            .await?,
        )
    }

    /// An object's custom fields with their values (unset ones come back `Null`).
    pub async fn custom_fields_of(
        &self,
        owner: CustomFieldOwner,
        id: i64,
    ) -> Result<Vec<CustomFieldEntry>> {
        let (read, _, param) = owner.operations();
        let mut entries = Vec::new();
        let mut offset = 0usize;
        loop {
            let input = CallInput::new()
                .param(param, id)
                .param("limit", 100)
                .param("offset", offset);
            let body = self.call(read, input).await?;
            let items = body
                .get("data")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for item in &items {
                let entry = CustomFieldEntry::from_json(item).ok_or_else(|| {
                    hlbridge_core::error::Error::Decode(format!(
                        "custom field value does not match its type: {item}"
                    ))
                })?;
                entries.push(entry);
            }
            if items.len() < 100 {
                return Ok(entries);
            }
            offset += items.len();
        }
    }

    /// Write values by field id (`Null` clears a value). Sellsy type-checks each value
    /// against its field; a mismatch comes back as a validation error naming `[i].value`.
    pub async fn set_custom_fields(
        &self,
        owner: CustomFieldOwner,
        id: i64,
        values: &[(i64, CustomFieldValue)],
    ) -> Result<()> {
        let (_, write, param) = owner.operations();
        let body = Value::Array(
            values
                .iter()
                .map(|(field, value)| json!({ "id": field, "value": value.to_write_json() }))
                .collect(),
        );
        self.call(write, CallInput::new().param(param, id).body(body))
            .await?;
        Ok(())
    }
}
