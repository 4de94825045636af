//! Typed calls for companies, individuals and their links to contacts.

use futures::Stream;
use hlbridge_core::error::Result;
use serde_json::Value;

use crate::client::{CallInput, SellsyClient};
use crate::models::{Company, Contact, Individual};
use crate::options::{search_body, ListOptions, ThirdFilters};
use crate::resources::{parse, parse_data, to_body};

/// What a link call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    /// 201: the link is new.
    Created,
    /// 200: the contact was linked already.
    AlreadyLinked,
}

impl LinkOutcome {
    fn from_status(status: u16) -> Self {
        if status == 201 {
            LinkOutcome::Created
        } else {
            LinkOutcome::AlreadyLinked
        }
    }
}

impl SellsyClient {
    pub async fn create_company(&self, company: &Company) -> Result<Company> {
        let input = CallInput::new().body(to_body(company)?);
        parse(self.call("companies.create-new-company", input).await?)
    }

    pub async fn get_company(&self, id: i64, options: &ListOptions) -> Result<Company> {
        let input = options.apply(CallInput::new().param("id", id));
        parse(self.call("companies.get-informations", input).await?)
    }

    /// Partial update: only the fields present in `patch` change.
    pub async fn update_company(&self, id: i64, patch: &Value) -> Result<Company> {
        let input = CallInput::new().param("id", id).body(patch.clone());
        parse(self.call("companies.update-information", input).await?)
    }

    pub async fn delete_company(&self, id: i64) -> Result<()> {
        self.call("companies.remove-company", CallInput::new().param("id", id))
            .await?;
        Ok(())
    }

    pub fn companies<'a>(
        &'a self,
        options: &ListOptions,
    ) -> impl Stream<Item = Result<Company>> + 'a {
        self.list_typed("companies.get-list", CallInput::new(), options)
    }

    pub fn search_companies<'a>(
        &'a self,
        filters: &ThirdFilters,
        options: &ListOptions,
    ) -> impl Stream<Item = Result<Company>> + 'a {
        self.list_typed(
            "companies.search-companies",
            CallInput::new().body(search_body(filters)),
            options,
        )
    }

    pub async fn create_individual(&self, individual: &Individual) -> Result<Individual> {
        let input = CallInput::new().body(to_body(individual)?);
        parse(
            self.call("individuals.create-new-individual", input)
                .await?,
        )
    }

    pub async fn get_individual(&self, id: i64, options: &ListOptions) -> Result<Individual> {
        let input = options.apply(CallInput::new().param("id", id));
        parse(self.call("individuals.get-info", input).await?)
    }

    pub async fn update_individual(&self, id: i64, patch: &Value) -> Result<Individual> {
        let input = CallInput::new().param("id", id).body(patch.clone());
        parse(self.call("individuals.update-info", input).await?)
    }

    pub async fn delete_individual(&self, id: i64) -> Result<()> {
        self.call(
            "individuals.remove-individual",
            CallInput::new().param("id", id),
        )
        .await?;
        Ok(())
    }

    pub fn individuals<'a>(
        &'a self,
        options: &ListOptions,
    ) -> impl Stream<Item = Result<Individual>> + 'a {
        self.list_typed("individuals.get-list", CallInput::new(), options)
    }

    /// Link a contact to a company; `roles` may carry `contact_type_main`,
    /// `contact_type_invoicing`, `contact_type_dunning` (or be `Value::Null`).
    pub async fn link_contact_to_company(
        &self,
        company: i64,
        contact: i64,
        roles: &Value,
    ) -> Result<LinkOutcome> {
        let mut input = CallInput::new()
            .param("companyId", company)
            .param("contactId", contact);
        if !roles.is_null() {
            input = input.body(roles.clone());
        }
        let op = crate::client::operation("companies.link-contact")?;
        Ok(LinkOutcome::from_status(
            self.call_op(op, &input).await?.status,
        ))
    }

    pub async fn unlink_contact_from_company(&self, company: i64, contact: i64) -> Result<()> {
        let input = CallInput::new()
            .param("companyId", company)
            .param("contactId", contact);
        self.call("companies.unlink-contact", input).await?;
        Ok(())
    }

    pub async fn link_contact_to_individual(
        &self,
        individual: i64,
        contact: i64,
    ) -> Result<LinkOutcome> {
        let input = CallInput::new()
            .param("individualId", individual)
            .param("contactId", contact);
        let op = crate::client::operation("individuals.link-contact-to-individual")?;
        Ok(LinkOutcome::from_status(
            self.call_op(op, &input).await?.status,
        ))
    }

    pub async fn unlink_contact_from_individual(
        &self,
        individual: i64,
        contact: i64,
    ) -> Result<()> {
        let input = CallInput::new()
            .param("individualId", individual)
            .param("contactId", contact);
        self.call(
            "individuals.delete-link-between-contact-and-individual",
            input,
        )
        .await?;
        Ok(())
    }

    /// The companies a contact is linked to.
    pub async fn contact_companies(&self, contact: i64) -> Result<Vec<Company>> {
        parse_data(
            self.call(
                "contacts.get-companies",
                CallInput::new().param("id", contact),
            )
            .await?,
        )
    }

    /// The contacts linked to a company.
    pub fn company_contacts<'a>(
        &'a self,
        company: i64,
        options: &ListOptions,
    ) -> impl Stream<Item = Result<Contact>> + 'a {
        self.list_typed(
            "companies.get-contacts",
            CallInput::new().param("id", company),
            options,
        )
    }
}
