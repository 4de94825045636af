//! The stored contact and how it is written and rendered.
//!
//! A contact keeps its writable properties as JSON (so every field of the write DTOs
//! round-trips), plus the parts the emulator reasons about: id, timestamps, tags,
//! custom-field values and followers. Rendering adds what GHL derives
//! (`name`, `*LowerCase`, `type`, …).

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Map, Value};

use super::errors::ApiError;
use super::ids::iso;

/// Write-DTO properties stored as given (after normalisation). `locationId`, `tags` and
/// `customFields` are handled separately.
pub const WRITABLE: &[&str] = &[
    "firstName",
    "lastName",
    "name",
    "email",
    "gender",
    "phone",
    "address1",
    "city",
    "state",
    "postalCode",
    "website",
    "timezone",
    "dnd",
    "dndSettings",
    "inboundDndSettings",
    "source",
    "dateOfBirth",
    "country",
    "companyName",
    "assignedTo",
];

/// A contact's value for one custom field.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomFieldValue {
    pub id: String,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: String,
    pub date_added: DateTime<Utc>,
    pub date_updated: DateTime<Utc>,
    pub tags: Vec<String>,
    pub custom_fields: Vec<CustomFieldValue>,
    pub followers: Vec<String>,
    pub business_id: Option<String>,
    /// Writable properties (see [`WRITABLE`]), normalised.
    pub fields: Map<String, Value>,
}

/// Which flavour of the contact object to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `GET /contacts/{id}`, update and upsert responses.
    Full,
    /// The create response (adds `deleted`, `bounceEmail`, … like `CreateContactSchema`).
    Created,
    /// Search and list results (add `followers`, `attributions`).
    Listed,
}

impl Contact {
    pub fn new(id: String, now: DateTime<Utc>) -> Self {
        Contact {
            id,
            date_added: now,
            date_updated: now,
            tags: Vec::new(),
            custom_fields: Vec::new(),
            followers: Vec::new(),
            business_id: None,
            fields: Map::new(),
        }
    }

    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn email_lower(&self) -> Option<String> {
        self.str_field("email").map(str::to_lowercase)
    }

    pub fn phone(&self) -> Option<&str> {
        self.str_field("phone")
    }

    /// The display name: `name` if set, else first and last name joined.
    pub fn display_name(&self) -> Option<String> {
        if let Some(n) = self.str_field("name") {
            return Some(n.to_string());
        }
        let joined = [self.str_field("firstName"), self.str_field("lastName")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!joined.is_empty()).then_some(joined)
    }

    /// Value of a property as search filters and sorts see it.
    pub fn lookup(&self, field: &str) -> Option<Value> {
        match field {
            "id" => Some(Value::String(self.id.clone())),
            "dateAdded" => Some(Value::String(iso(self.date_added))),
            "dateUpdated" => Some(Value::String(iso(self.date_updated))),
            "tags" => Some(json!(self.tags)),
            "businessId" => self.business_id.clone().map(Value::String),
            "name" | "fullName" | "contactName" => self.display_name().map(Value::String),
            "followers" => Some(json!(self.followers)),
            _ => {
                if let Some(cf) = field.strip_prefix("customFields.") {
                    return self
                        .custom_fields
                        .iter()
                        .find(|c| c.id == cf)
                        .map(|c| c.value.clone());
                }
                self.fields.get(field).filter(|v| !v.is_null()).cloned()
            }
        }
    }

    /// Apply normalised writable properties. Returns the names that changed.
    pub fn apply(&mut self, props: &Map<String, Value>) -> Vec<String> {
        let mut changed = Vec::new();
        for (k, v) in props {
            let before = self.fields.get(k).cloned();
            if v.is_null() {
                if self.fields.remove(k).is_some() {
                    changed.push(k.clone());
                }
            } else if before.as_ref() != Some(v) {
                self.fields.insert(k.clone(), v.clone());
                changed.push(k.clone());
            }
        }
        changed
    }

    /// Set custom-field values (merging by id). Returns whether anything changed.
    pub fn apply_custom_fields(&mut self, values: Vec<CustomFieldValue>) -> bool {
        let mut changed = false;
        for v in values {
            match self.custom_fields.iter_mut().find(|c| c.id == v.id) {
                Some(existing) if existing.value == v.value => {}
                Some(existing) => {
                    existing.value = v.value;
                    changed = true;
                }
                None => {
                    self.custom_fields.push(v);
                    changed = true;
                }
            }
        }
        self.custom_fields.retain(|c| !is_empty_value(&c.value));
        changed
    }

    pub fn custom_fields_json(&self) -> Value {
        Value::Array(
            self.custom_fields
                .iter()
                .map(|c| json!({"id": c.id, "value": c.value}))
                .collect(),
        )
    }

    /// The contact object as GHL renders it.
    pub fn render(&self, location_id: &str, view: View) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id));
        out.insert("locationId".into(), json!(location_id));
        for key in WRITABLE {
            if let Some(v) = self.fields.get(*key) {
                if !v.is_null() {
                    out.insert((*key).to_string(), v.clone());
                }
            }
        }
        if let Some(name) = self.display_name() {
            out.insert("contactName".into(), json!(name));
            out.insert("fullNameLowerCase".into(), json!(name.to_lowercase()));
            if view != View::Created {
                out.insert("name".into(), json!(name));
            }
        }
        if let Some(first) = self.str_field("firstName") {
            out.insert("firstNameLowerCase".into(), json!(first.to_lowercase()));
        }
        if let Some(last) = self.str_field("lastName") {
            out.insert("lastNameLowerCase".into(), json!(last.to_lowercase()));
        }
        if let Some(email) = self.email_lower() {
            out.insert("emailLowerCase".into(), json!(email));
        }
        out.entry("dnd").or_insert(json!(false));
        out.insert("type".into(), json!("lead"));
        out.insert("tags".into(), json!(self.tags));
        out.insert("customFields".into(), self.custom_fields_json());
        // Read-only in GHL (writing it is a 422); never populated here.
        out.insert("additionalEmails".into(), json!([]));
        if let Some(b) = &self.business_id {
            out.insert("businessId".into(), json!(b));
        }
        out.insert("dateAdded".into(), json!(iso(self.date_added)));
        out.insert("dateUpdated".into(), json!(iso(self.date_updated)));
        match view {
            View::Full => {}
            View::Created => {
                out.insert("deleted".into(), json!(false));
                out.insert("bounceEmail".into(), json!(false));
                out.insert("unsubscribeEmail".into(), json!(false));
                out.insert("offers".into(), json!([]));
                out.insert("products".into(), json!([]));
                if let Some((month, day)) = self.birth_month_day() {
                    out.insert("birthMonth".into(), json!(month));
                    out.insert("birthDay".into(), json!(day));
                }
            }
            View::Listed => {
                out.insert("followers".into(), json!(self.followers));
                out.insert("attributions".into(), json!([]));
            }
        }
        Value::Object(out)
    }

    /// The flat payload of contact webhook events (fields listed in the event docs).
    pub fn webhook_fields(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id));
        for key in [
            "address1",
            "city",
            "state",
            "companyName",
            "country",
            "source",
            "dateOfBirth",
            "dnd",
            "email",
            "firstName",
            "lastName",
            "phone",
            "postalCode",
            "website",
            "assignedTo",
        ] {
            if let Some(v) = self.fields.get(key).filter(|v| !v.is_null()) {
                out.insert(key.into(), v.clone());
            }
        }
        if let Some(name) = self.display_name() {
            out.insert("name".into(), json!(name));
        }
        out.entry("dnd").or_insert(json!(false));
        out.insert("dateAdded".into(), json!(iso(self.date_added)));
        out.insert("tags".into(), json!(self.tags));
        out.insert("attachments".into(), json!([]));
        out.insert("customFields".into(), self.custom_fields_json());
        out
    }

    fn birth_month_day(&self) -> Option<(u32, u32)> {
        use chrono::Datelike;
        let dob = self.str_field("dateOfBirth")?;
        let date = DateTime::parse_from_rfc3339(dob).ok()?;
        Some((date.month(), date.day()))
    }
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Lowercase, trim and de-duplicate tags, keeping first-seen order (GHL stores tags in
/// lower case).
pub fn normalize_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_lowercase();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Normalise a phone number to E.164-like form: keep digits, a leading `+`; a bare
/// 10-digit number is taken as North American (`+1`).
pub fn normalize_phone(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.chars().any(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 5 || digits.len() > 15 {
        return None;
    }
    if trimmed.starts_with('+') {
        return Some(format!("+{digits}"));
    }
    if let Some(rest) = digits.strip_prefix("00") {
        return Some(format!("+{rest}"));
    }
    match digits.len() {
        10 => Some(format!("+1{digits}")),
        11 if digits.starts_with('1') => Some(format!("+{digits}")),
        _ => Some(format!("+{digits}")),
    }
}

/// A loose email check (something@something.tld), as class-validator's `IsEmail` would
/// refuse obvious garbage.
pub fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

/// Parse a date of birth in one of the formats GHL documents (year first or month
/// first, separated by `/`, `-`, `.` or `_`) or ISO 8601; render as
/// `YYYY-MM-DDT00:00:00.000Z`.
pub fn normalize_date_of_birth(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(raw) {
        return Some(format!("{}T00:00:00.000Z", dt.date_naive()));
    }
    let parts: Vec<&str> = raw.split(['/', '-', '.', '_']).collect();
    if parts.len() != 3 {
        return None;
    }
    let nums: Vec<u32> = parts
        .iter()
        .map(|p| p.parse::<u32>())
        .collect::<Result<_, _>>()
        .ok()?;
    let date = if parts[0].len() == 4 {
        NaiveDate::from_ymd_opt(i32::try_from(nums[0]).ok()?, nums[1], nums[2])?
    } else if parts[2].len() == 4 {
        NaiveDate::from_ymd_opt(i32::try_from(nums[2]).ok()?, nums[0], nums[1])?
    } else {
        return None;
    };
    Some(format!("{date}T00:00:00.000Z"))
}

/// Normalise the writable properties of a contact write body (create, update, upsert).
/// Returns the properties to apply (nulls mean "clear") or the 422 messages.
pub fn normalize_props(body: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    let mut problems = Vec::new();
    for key in WRITABLE {
        let Some(v) = body.get(*key) else { continue };
        let normalized = match (*key, v) {
            (_, Value::Null) => Value::Null,
            ("email", Value::String(s)) if s.trim().is_empty() => Value::Null,
            ("email", Value::String(s)) => {
                let s = s.trim();
                if looks_like_email(s) {
                    json!(s)
                } else {
                    problems.push("email must be an email".to_string());
                    continue;
                }
            }
            ("phone", Value::String(s)) if s.trim().is_empty() => Value::Null,
            ("phone", Value::String(s)) => match normalize_phone(s) {
                Some(p) => json!(p),
                None => {
                    problems.push("phone must be a valid phone number".to_string());
                    continue;
                }
            },
            ("dateOfBirth", Value::String(s)) if s.trim().is_empty() => Value::Null,
            ("dateOfBirth", Value::String(s)) => match normalize_date_of_birth(s) {
                Some(d) => json!(d),
                None => {
                    problems.push("dateOfBirth must be a valid date".to_string());
                    continue;
                }
            },
            ("dateOfBirth", _) => {
                problems.push("dateOfBirth must be a valid date".to_string());
                continue;
            }
            ("country", Value::String(s)) => json!(s.trim().to_uppercase()),
            (_, other) => other.clone(),
        };
        out.insert((*key).to_string(), normalized);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::Unprocessable(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_become_e164() {
        assert_eq!(
            normalize_phone("+1 888-888-8888").as_deref(),
            Some("+18888888888")
        );
        assert_eq!(
            normalize_phone("(555) 010-1234").as_deref(),
            Some("+15550101234")
        );
        assert_eq!(
            normalize_phone("0033 6 12 34 56 78").as_deref(),
            Some("+33612345678")
        );
        assert_eq!(normalize_phone("call me"), None);
    }

    #[test]
    fn dates_of_birth_in_documented_formats() {
        for s in [
            "1990/09/25",
            "09/25/1990",
            "1990-09-25",
            "09-25-1990",
            "1990.09.25",
            "09_25_1990",
        ] {
            assert_eq!(
                normalize_date_of_birth(s).as_deref(),
                Some("1990-09-25T00:00:00.000Z"),
                "{s}"
            );
        }
        assert_eq!(normalize_date_of_birth("25/25/1990"), None);
        assert_eq!(normalize_date_of_birth("soon"), None);
    }

    #[test]
    fn tags_are_normalised() {
        assert_eq!(
            normalize_tags(["VIP", " vip ", "Lead", ""]),
            vec!["vip", "lead"]
        );
    }

    #[test]
    fn render_derives_names_and_lowercase() {
        let mut c = Contact::new("c1".into(), Utc::now());
        let props = normalize_props(
            json!({"firstName": "Ada", "lastName": "Lovelace", "email": "Ada@Example.com"})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        c.apply(&props);
        let v = c.render("loc", View::Full);
        assert_eq!(v["name"], "Ada Lovelace");
        assert_eq!(v["emailLowerCase"], "ada@example.com");
        assert_eq!(v["firstNameLowerCase"], "ada");
        assert!(normalize_props(json!({"email": "nope"}).as_object().unwrap()).is_err());
    }
}
