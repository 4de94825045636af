//! Paging, ordering, embeds and projections for list calls, and the typed search
//! filters of the objects the sync reads.

use chrono::{DateTime, SecondsFormat, TimeZone};
use serde::Serialize;

use crate::client::{CallInput, PagingMode};

/// `direction` of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// How to page through a list or search: mode, page size, order, `embed[]`, `field[]`.
#[derive(Debug, Clone)]
pub struct ListOptions {
    pub mode: PagingMode,
    /// Page size (Sellsy allows 0..=100; streams default to 100).
    pub limit: Option<u32>,
    pub order: Option<String>,
    pub direction: Option<Direction>,
    pub embed: Vec<String>,
    pub fields: Vec<String>,
}

impl Default for ListOptions {
    fn default() -> Self {
        ListOptions {
            mode: PagingMode::Seek,
            limit: None,
            order: None,
            direction: None,
            embed: Vec::new(),
            fields: Vec::new(),
        }
    }
}

impl ListOptions {
    pub fn new() -> Self {
        ListOptions::default()
    }

    /// Page with numeric offsets instead of seek tokens (first 100 000 results only).
    pub fn numeric_offsets(mut self) -> Self {
        self.mode = PagingMode::Offset;
        self
    }

    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    pub fn order(mut self, field: &str, direction: Direction) -> Self {
        self.order = Some(field.to_string());
        self.direction = Some(direction);
        self
    }

    /// `embed[]=name`; for custom-field values use `cf.{id}`.
    pub fn embed(mut self, name: &str) -> Self {
        self.embed.push(name.to_string());
        self
    }

    /// `field[]=path`. With embeds, `_embed` is added for you.
    pub fn field(mut self, path: &str) -> Self {
        self.fields.push(path.to_string());
        self
    }

    /// The query parameters these options stand for, added to `input`.
    pub fn apply(&self, mut input: CallInput) -> CallInput {
        if let Some(limit) = self.limit {
            input.set("limit", limit);
        }
        if let Some(order) = &self.order {
            input.set("order", order);
        }
        if let Some(direction) = self.direction {
            input.set(
                "direction",
                if direction == Direction::Asc {
                    "asc"
                } else {
                    "desc"
                },
            );
        }
        for name in &self.embed {
            input = input.param("embed", name);
        }
        for path in &self.fields {
            input = input.param("field", path);
        }
        if !self.fields.is_empty()
            && !self.embed.is_empty()
            && !self.fields.iter().any(|f| f.starts_with("_embed"))
        {
            input = input.param("field", "_embed");
        }
        input
    }
}

/// `{start, end}`, ISO-8601 with an offset, both ends optional and inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DateRange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

fn iso<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

impl DateRange {
    /// From `start` on.
    pub fn since<Tz: TimeZone>(start: &DateTime<Tz>) -> Self
    where
        Tz::Offset: std::fmt::Display,
    {
        DateRange {
            start: Some(iso(start)),
            end: None,
        }
    }

    pub fn between<Tz: TimeZone>(start: &DateTime<Tz>, end: &DateTime<Tz>) -> Self
    where
        Tz::Offset: std::fmt::Display,
    {
        DateRange {
            start: Some(iso(start)),
            end: Some(iso(end)),
        }
    }
}

/// `POST /contacts/search` filters. `email`, `phone_number`, `mobile_number` and
/// `last_name` are exact matches.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContactFilters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<DateRange>,
    /// Contacts changed in this range (incremental reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateRange>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub companies: Vec<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub individuals: Vec<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub id: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_linked: Option<bool>,
}

/// `POST /companies/search` filters (also the shape individuals take, minus
/// `contacts` and `siret`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ThirdFilters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<DateRange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateRange>,
    /// `prospect`, `client`, `supplier`.
    #[serde(rename = "type", skip_serializing_if = "Vec::is_empty")]
    pub kind: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_archived: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub id: Vec<i64>,
}

/// Wrap filters as a search body: `{"filters": {...}}`.
pub fn search_body<T: Serialize>(filters: &T) -> serde_json::Value {
    serde_json::json!({ "filters": serde_json::to_value(filters).unwrap_or_default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_leave_out_what_is_unset() {
        let f = ContactFilters {
            email: Some("a@b.c".into()),
            ..ContactFilters::default()
        };
        assert_eq!(
            search_body(&f),
            serde_json::json!({"filters": {"email": "a@b.c"}})
        );
        let t = chrono::DateTime::parse_from_rfc3339("2024-01-02T03:04:05+01:00").unwrap();
        assert_eq!(
            DateRange::since(&t).start.as_deref(),
            Some("2024-01-02T03:04:05+01:00")
        );
    }

    #[test]
    fn embeds_bring_their_projection() {
        let input = ListOptions::new()
            .embed("cf.3")
            .field("id")
            .apply(CallInput::new());
        assert_eq!(
            input.params["field"],
            vec!["id".to_string(), "_embed".to_string()]
        );
        assert_eq!(input.params["embed"], vec!["cf.3".to_string()]);
    }
}
