//! Typed calls for a contact's addresses and smart tags.

use hlbridge_core::error::Result;
use serde_json::{json, Value};

use crate::client::{CallInput, SellsyClient};
use crate::models::{Address, SmartTag};
use crate::resources::{parse, parse_data, to_body};

impl SellsyClient {
    pub async fn contact_addresses(&self, contact: i64) -> Result<Vec<Address>> {
        let input = CallInput::new().param("contactId", contact);
        parse_data(self.call("contacts.get-addresses", input).await?)
    }

    /// Add an address (`name`, `address_line_1`, `postal_code`, `city`, `country_code` needed).
    pub async fn create_address(&self, contact: i64, address: &Address) -> Result<Address> {
        let mut body = to_body(address)?;
        if let Value::Object(map) = &mut body {
            map.remove("country");
        }
        let input = CallInput::new().param("contactId", contact).body(body);
        parse(self.call("contacts.create-address", input).await?)
    }

    pub async fn update_address(&self, contact: i64, id: i64, patch: &Value) -> Result<Address> {
        let input = CallInput::new()
            .param("contactId", contact)
            .param("id", id)
            .body(patch.clone());
        parse(self.call("contacts.update-address", input).await?)
    }

    pub async fn delete_address(&self, contact: i64, id: i64) -> Result<()> {
        let input = CallInput::new().param("contactId", contact).param("id", id);
        self.call("contacts.delete-address", input).await?;
        Ok(())
    }

    /// Every smart tag of a contact (the `smart_tags` embed shows only the first 20).
    pub async fn contact_smart_tags(&self, contact: i64) -> Result<Vec<SmartTag>> {
        let input = CallInput::new().param("contactId", contact);
        parse_data(self.call("contacts.get-smart-tags", input).await?)
    }

    /// Link tags by value, creating the missing ones (matching ignores case and accents).
    /// Returns the contact's tags afterwards.
    pub async fn add_smart_tags(&self, contact: i64, values: &[&str]) -> Result<Vec<SmartTag>> {
        let body = Value::Array(values.iter().map(|v| json!({ "value": v })).collect());
        let input = CallInput::new().param("contactId", contact).body(body);
        parse_data(self.call("contacts.link-smart-tags", input).await?)
    }
}
