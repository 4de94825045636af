//! The declarative field mapping: the default table, the user's overrides from
//! `hlbridge.toml`, and validation against both accounts at start.
//!
//! | canonical | GHL | Sellsy |
//! |---|---|---|
//! | first_name | firstName | first_name |
//! | last_name | lastName | last_name (required: falls back to the e-mail local part) |
//! | email | email | email |
//! | phone | phone (E.164) | mobile_number, else phone_number |
//! | company | companyName | name of the linked company (main contact first) |
//! | address, city, postal_code, country | address1, city, postalCode, country | invoicing address line 1, city, postal_code, country_code |
//! | website | website | website |
//! | tags | tags | smart tags (added; the API cannot unlink them) |
//! | birth_date | dateOfBirth | birth_date |
//! | dnd | dnd | no marketing subscription |
//! | custom.KEY | custom field KEY | custom field with the configured code |

pub mod ghl;
pub mod sellsy;

use hlbridge_sellsy::CustomFieldDefinition;
use serde_json::Value;

use crate::canonical::{FieldKind, FIELDS};
use crate::config::{ConflictPolicy, Direction, EngineConfig, Transform};
use crate::error::{EngineError, Result};
use crate::phone::Region;

/// One synced field and how it behaves.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub name: String,
    pub kind: FieldKind,
    pub direction: Direction,
    pub conflict: ConflictPolicy,
    pub transform: Option<Transform>,
    pub custom: Option<CustomPair>,
}

impl FieldSpec {
    pub fn flows_to(&self, side: crate::store::Side) -> bool {
        use crate::store::Side;
        matches!(
            (self.direction, side),
            (Direction::Both, _)
                | (Direction::ToGhl, Side::Ghl)
                | (Direction::ToSellsy, Side::Sellsy)
        )
    }
}

/// A custom field known on both accounts.
#[derive(Debug, Clone)]
pub struct CustomPair {
    pub ghl_id: String,
    pub ghl_key: String,
    pub ghl_type: String,
    pub ghl_options: Vec<String>,
    pub sellsy_id: i64,
    pub sellsy_code: String,
    pub sellsy_type: String,
    pub sellsy_choices: Vec<(i64, String)>,
}

/// The validated mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub fields: Vec<FieldSpec>,
    pub empty_overwrites: bool,
    /// The region phone numbers without a country code are read in (both sides):
    /// `sync.default_phone_region`, else FR until the engine applies the GHL
    /// location's country ([`Mapping::set_phone_region`]).
    pub phone_region: Region,
}

/// A GHL custom field definition as `GET /locations/{id}/customFields` returns it.
#[derive(Debug, Clone)]
pub struct GhlFieldDef {
    pub id: String,
    pub key: String,
    pub data_type: String,
    pub options: Vec<String>,
}

impl GhlFieldDef {
    pub fn from_json(v: &Value) -> Option<Self> {
        Some(GhlFieldDef {
            id: v.get("id")?.as_str()?.to_string(),
            key: v.get("fieldKey")?.as_str()?.to_string(),
            data_type: v
                .get("dataType")
                .and_then(Value::as_str)
                .unwrap_or("TEXT")
                .to_string(),
            options: v
                .get("picklistOptions")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|o| o.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    fn matches(&self, key: &str) -> bool {
        self.key == key || self.key.strip_prefix("contact.") == Some(key)
    }
}

/// The canonical kind shared by a GHL and a Sellsy custom field type, if they fit.
fn custom_kind(ghl: &str, sellsy: &str) -> Option<FieldKind> {
    let ghl_kind = match ghl {
        "TEXT" | "LARGE_TEXT" | "PHONE" | "EMAIL" => FieldKind::Text,
        "NUMERICAL" | "MONETORY" => FieldKind::Number,
        "SINGLE_OPTIONS" | "RADIO" => FieldKind::Choice,
        "MULTIPLE_OPTIONS" | "CHECKBOX" => FieldKind::Choices,
        "DATE" => FieldKind::Date,
        _ => return None,
    };
    let sellsy_kind = match sellsy {
        "simple-text" | "rich-text" | "email" | "url" => FieldKind::Text,
        "numeric" => FieldKind::Number,
        "radio" | "select" => FieldKind::Choice,
        "checkbox" => FieldKind::Choices,
        "date" => FieldKind::Date,
        "boolean" => FieldKind::Bool,
        _ => return None,
    };
    match (ghl_kind, sellsy_kind) {
        (a, b) if a == b => Some(a),
        // Free text takes numbers and dates as they are written.
        (FieldKind::Text, FieldKind::Number | FieldKind::Date) => Some(FieldKind::Text),
        (FieldKind::Choice, FieldKind::Bool) => None,
        _ => None,
    }
}

impl Mapping {
    /// The default mapping with `config`'s overrides, checked against the accounts'
    /// custom field definitions.
    pub fn build(
        config: &EngineConfig,
        ghl_defs: &[GhlFieldDef],
        sellsy_defs: &[CustomFieldDefinition],
    ) -> Result<Mapping> {
        let known: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
        for name in config.fields.keys() {
            if !known.contains(&name.as_str()) {
                return Err(EngineError::Mapping(format!(
                    "unknown field `{name}` in [fields.{name}]: the fields are {}; custom fields go under [custom_fields.\"<GHL key>\"] with sellsy = \"<code>\"",
                    known.join(", ")
                )));
            }
        }
        let mut fields = Vec::new();
        for (name, kind) in FIELDS {
            let rule = config.fields.get(*name).cloned().unwrap_or_default();
            if rule.enabled == Some(false) {
                continue;
            }
            if rule.transform.is_some()
                && !matches!(
                    kind,
                    FieldKind::Text | FieldKind::Email | FieldKind::Country
                )
            {
                return Err(EngineError::Mapping(format!(
                    "[fields.{name}] transform: `{name}` is not a text field; remove the transform"
                )));
            }
            fields.push(FieldSpec {
                name: name.to_string(),
                kind: *kind,
                direction: rule.direction.unwrap_or_default(),
                conflict: rule.conflict.unwrap_or_default(),
                transform: rule.transform,
                custom: None,
            });
        }
        for (key, rule) in &config.custom_fields {
            let ghl = ghl_defs.iter().find(|d| d.matches(key)).ok_or_else(|| {
                EngineError::Mapping(format!(
                    "[custom_fields.\"{key}\"]: GHL has no custom field with key `{key}`; create it in GHL (Settings → Custom Fields) or fix the key (known: {})",
                    ghl_defs.iter().map(|d| d.key.as_str()).collect::<Vec<_>>().join(", ")
                ))
            })?;
            let sellsy = sellsy_defs
                .iter()
                .find(|d| d.code == rule.sellsy)
                .ok_or_else(|| {
                    EngineError::Mapping(format!(
                        "[custom_fields.\"{key}\"] sellsy = \"{}\": Sellsy has no custom field with this code; create it in Sellsy (Settings → Custom fields) or fix the code",
                        rule.sellsy
                    ))
                })?;
            if !sellsy.related_object.is_empty()
                && !sellsy.related_object.iter().any(|r| r == "contact")
            {
                return Err(EngineError::Mapping(format!(
                    "[custom_fields.\"{key}\"]: Sellsy field `{}` does not apply to contacts; enable it for contacts in Sellsy",
                    sellsy.code
                )));
            }
            let kind = custom_kind(&ghl.data_type, &sellsy.kind).ok_or_else(|| {
                EngineError::Mapping(format!(
                    "[custom_fields.\"{key}\"]: incompatible types, GHL {} vs Sellsy {} (`{}`); pair it with a field of a matching type",
                    ghl.data_type, sellsy.kind, sellsy.code
                ))
            })?;
            if rule.transform.is_some() && kind != FieldKind::Text {
                return Err(EngineError::Mapping(format!(
                    "[custom_fields.\"{key}\"] transform: GHL {} / Sellsy {} is not a pair of text fields; remove the transform",
                    ghl.data_type, sellsy.kind
                )));
            }
            fields.push(FieldSpec {
                name: format!("custom.{}", ghl.key),
                kind,
                direction: rule.direction.unwrap_or_default(),
                conflict: rule.conflict.unwrap_or_default(),
                transform: rule.transform,
                custom: Some(CustomPair {
                    ghl_id: ghl.id.clone(),
                    ghl_key: ghl.key.clone(),
                    ghl_type: ghl.data_type.clone(),
                    ghl_options: ghl.options.clone(),
                    sellsy_id: sellsy.id,
                    sellsy_code: sellsy.code.clone(),
                    sellsy_type: sellsy.kind.clone(),
                    sellsy_choices: sellsy.choices(),
                }),
            });
        }
        let phone_region = match config.sync.default_phone_region.as_deref() {
            Some(code) if !code.trim().is_empty() => {
                crate::phone::parse_region(code).map_err(EngineError::Mapping)?
            }
            _ => Region::default(),
        };
        Ok(Mapping {
            fields,
            empty_overwrites: config.sync.empty_overwrites,
            phone_region,
        })
    }

    /// Read phone numbers without a country code in `region` from now on. At connect
    /// time: `phone::resolve_region(cfg.sync.default_phone_region, location country)`.
    pub fn set_phone_region(&mut self, region: Region) {
        self.phone_region = region;
    }

    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Sellsy custom field ids to embed when reading contacts.
    pub fn sellsy_custom_ids(&self) -> Vec<i64> {
        self.fields
            .iter()
            .filter_map(|f| f.custom.as_ref().map(|c| c.sellsy_id))
            .collect()
    }

    /// Apply per-field transforms to a freshly read record.
    pub fn transform(&self, fields: &mut crate::canonical::Fields) {
        for spec in &self.fields {
            let Some(t) = spec.transform else { continue };
            if let Some(Value::String(s)) = fields.get_mut(&spec.name) {
                *s = match t {
                    Transform::Lowercase => s.to_lowercase(),
                    Transform::Uppercase => s.to_uppercase(),
                    Transform::Trim => s.trim().to_string(),
                    Transform::Capitalize => {
                        let mut c = s.chars();
                        match c.next() {
                            Some(f) => f.to_uppercase().chain(c).collect(),
                            None => String::new(),
                        }
                    }
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ghl_defs() -> Vec<GhlFieldDef> {
        vec![
            GhlFieldDef::from_json(&json!({"id": "f1", "fieldKey": "contact.lead_score", "dataType": "NUMERICAL"})).unwrap(),
            GhlFieldDef::from_json(&json!({"id": "f2", "fieldKey": "contact.colour", "dataType": "SINGLE_OPTIONS", "picklistOptions": ["red"]})).unwrap(),
            GhlFieldDef::from_json(&json!({"id": "f3", "fieldKey": "contact.tier", "dataType": "TEXT"})).unwrap(),
        ]
    }

    fn sellsy_defs() -> Vec<CustomFieldDefinition> {
        serde_json::from_value(json!([
            {"id": 9, "name": "Score", "code": "score", "type": "numeric", "related_object": ["contact"]},
            {"id": 10, "name": "Anniversary", "code": "anniversary", "type": "date", "related_object": ["contact"]},
            {"id": 11, "name": "Tier", "code": "tier", "type": "simple-text", "related_object": ["contact"]}
        ]))
        .unwrap()
    }

    fn build(toml: &str) -> Result<Mapping> {
        Mapping::build(
            &EngineConfig::from_toml(toml).unwrap(),
            &ghl_defs(),
            &sellsy_defs(),
        )
    }

    #[test]
    fn default_mapping_and_valid_custom_pair() {
        let m = build("[custom_fields.\"contact.lead_score\"]\nsellsy = \"score\"\n").unwrap();
        assert!(m.field("email").is_some());
        assert_eq!(
            m.field("custom.contact.lead_score").unwrap().kind,
            FieldKind::Number
        );
        let m = build("[fields.website]\nenabled = false\n").unwrap();
        assert!(m.field("website").is_none());
    }

    #[test]
    fn transforms_and_directions_apply() {
        let m = build(
            "[fields.email]\ntransform = \"uppercase\"\n[fields.city]\ndirection = \"to_ghl\"\n",
        )
        .unwrap();
        let mut f = crate::canonical::Fields::new();
        f.insert("email".into(), json!("a@x.io"));
        m.transform(&mut f);
        assert_eq!(f["email"], json!("A@X.IO"));
        let city = m.field("city").unwrap();
        assert!(
            city.flows_to(crate::store::Side::Ghl) && !city.flows_to(crate::store::Side::Sellsy)
        );
        assert!(build("[fields.tags]\ntransform = \"lowercase\"\n").is_err());
        // A pair of custom text fields takes a transform; other custom pairs do not.
        let m =
            build("[custom_fields.\"contact.tier\"]\nsellsy = \"tier\"\ntransform = \"trim\"\n")
                .unwrap();
        let mut f = crate::canonical::Fields::new();
        f.insert("custom.contact.tier".into(), json!("  Gold "));
        m.transform(&mut f);
        assert_eq!(f["custom.contact.tier"], json!("Gold"));
        let e = build(
            "[custom_fields.\"contact.lead_score\"]\nsellsy = \"score\"\ntransform = \"trim\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not a pair of text fields"), "{e}");
    }

    #[test]
    fn invalid_mappings_name_the_field_and_the_fix() {
        let e = build("[fields.nickname]\ndirection = \"both\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `nickname`"), "{e}");
        let e = build("[custom_fields.\"contact.nope\"]\nsellsy = \"score\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no custom field with key `contact.nope`"), "{e}");
        let e = build("[custom_fields.\"contact.lead_score\"]\nsellsy = \"nope\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sellsy = \"nope\""), "{e}");
        let e = build("[custom_fields.\"contact.colour\"]\nsellsy = \"anniversary\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("incompatible types"), "{e}");
    }

    #[test]
    fn phone_region_comes_from_the_config_else_fr() {
        assert_eq!(build("").unwrap().phone_region, Region::FR);
        let mut m = build("[sync]\ndefault_phone_region = \"us\"\n").unwrap();
        assert_eq!(m.phone_region, Region::US);
        m.set_phone_region(Region::GB);
        assert_eq!(m.phone_region, Region::GB);
        let e = build("[sync]\ndefault_phone_region = \"XX\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sync.default_phone_region"), "{e}");
    }

    #[test]
    fn both_sides_read_phones_in_the_mapping_region() {
        let mut m = build("[sync]\ndefault_phone_region = \"US\"\n").unwrap();
        let ghl: hlbridge_ghl::Contact =
            serde_json::from_value(json!({"id": "g1", "phone": "+1 415-555-2671"})).unwrap();
        let sellsy = json!({"id": 1, "mobile_number": "(415) 555-2671"});
        let g = ghl::read(&ghl, &m);
        let s = sellsy::read(&sellsy, None, &m);
        assert_eq!(g["phone"], json!("+14155552671"));
        assert_eq!(g["phone"], s["phone"]);
        m.set_phone_region(Region::FR);
        let s = sellsy::read(
            &json!({"id": 1, "phone_number": "01 42 68 53 00"}),
            None,
            &m,
        );
        assert_eq!(s["phone"], json!("+33142685300"));
    }
}
