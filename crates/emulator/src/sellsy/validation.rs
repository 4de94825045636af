//! A small schema checker for request bodies, driven by per-resource rule lists.
//!
//! The rules in the resource modules transcribe the Sellsy spec's write schemas
//! (types, enums, lengths, required lists, nullability). Unknown properties are
//! ignored, as the spec does not close its objects.

use serde_json::{Map, Value};

use super::clock;
use super::error::{ApiError, Problems};

/// The accepted shape of one value.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A string of `min..=max` characters.
    Str {
        min: usize,
        max: usize,
    },
    /// An e-mail address.
    Email,
    /// An ISO-8601 date-time with an offset.
    DateTime,
    /// `YYYY-MM-DD`.
    Date,
    /// An integer within bounds.
    Int {
        min: i64,
        max: i64,
    },
    /// Any JSON number.
    Number,
    Bool,
    Enum(&'static [&'static str]),
    /// One of the values, or an array of them.
    EnumOrList(&'static [&'static str]),
    Object(&'static [Rule]),
    /// An array of items, at most `max` long; `unique` forbids repeated items.
    Array {
        item: &'static Kind,
        max: usize,
        unique: bool,
    },
}

pub const TEXT: Kind = Kind::Str {
    min: 0,
    max: usize::MAX,
};
pub const ID: Kind = Kind::Int {
    min: 1,
    max: i64::MAX,
};
pub const INT: Kind = Kind::Int {
    min: i64::MIN,
    max: i64::MAX,
};
pub const IDS: Kind = Kind::Array {
    item: &INT,
    max: usize::MAX,
    unique: false,
};

/// One property of an object.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub nullable: bool,
}

/// An optional, non-nullable property.
pub const fn field(name: &'static str, kind: Kind) -> Rule {
    Rule {
        name,
        kind,
        required: false,
        nullable: false,
    }
}

/// An optional property that may be `null`.
pub const fn nullable(name: &'static str, kind: Kind) -> Rule {
    Rule {
        name,
        kind,
        required: false,
        nullable: true,
    }
}

/// A required, non-nullable property.
pub const fn required(name: &'static str, kind: Kind) -> Rule {
    Rule {
        name,
        kind,
        required: true,
        nullable: false,
    }
}

/// Check a JSON object body against groups of rules; answers 400 with `details` naming
/// every bad field.
pub fn check_object<'a>(
    body: &'a Value,
    groups: &[&[Rule]],
) -> Result<&'a Map<String, Value>, ApiError> {
    let Some(object) = body.as_object() else {
        return Err(ApiError::invalid_field("body", "must be a JSON object"));
    };
    let mut problems = Problems::default();
    for rules in groups {
        check_rules(object, rules, "", &mut problems);
    }
    problems.into_result()?;
    Ok(object)
}

/// Check one value against a kind, adding problems under `path`.
pub fn check_value(value: &Value, kind: &Kind, path: &str, problems: &mut Problems) {
    match kind {
        Kind::Str { min, max } => match value.as_str() {
            Some(s) => {
                let n = s.chars().count();
                if n < *min {
                    problems.add(path, format!("must be at least {min} characters"));
                } else if n > *max {
                    problems.add(path, format!("must be at most {max} characters"));
                }
            }
            None => problems.add(path, "must be a string"),
        },
        Kind::Email => match value.as_str() {
            Some(s) if is_email(s) => {}
            Some(_) => problems.add(path, "must be a valid e-mail address"),
            None => problems.add(path, "must be a string"),
        },
        Kind::DateTime => match value.as_str() {
            Some(s) if clock::parse(s).is_some() => {}
            Some(_) => problems.add(path, "must be an ISO-8601 date-time with an offset"),
            None => problems.add(path, "must be a string"),
        },
        Kind::Date => match value.as_str() {
            Some(s) if clock::parse_date(s).is_some() => {}
            Some(_) => problems.add(path, "must be a date YYYY-MM-DD"),
            None => problems.add(path, "must be a string"),
        },
        Kind::Int { min, max } => match value.as_i64() {
            Some(n) if n < *min => problems.add(path, format!("must be at least {min}")),
            Some(n) if n > *max => problems.add(path, format!("must be at most {max}")),
            Some(_) => {}
            None => problems.add(path, "must be an integer"),
        },
        Kind::Number => {
            if !value.is_number() {
                problems.add(path, "must be a number");
            }
        }
        Kind::Bool => {
            if !value.is_boolean() {
                problems.add(path, "must be a boolean");
            }
        }
        Kind::Enum(values) => match value.as_str() {
            Some(s) if values.contains(&s) => {}
            _ => problems.add(path, format!("must be one of {}", values.join(", "))),
        },
        Kind::EnumOrList(values) => match value {
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let at = format!("{path}[{i}]");
                    check_value(v, &Kind::Enum(values), &at, problems);
                    if items[..i].contains(v) {
                        problems.add(at, "duplicate item");
                    }
                }
            }
            single => check_value(single, &Kind::Enum(values), path, problems),
        },
        Kind::Object(rules) => match value.as_object() {
            Some(object) => check_rules(object, rules, path, problems),
            None => problems.add(path, "must be an object"),
        },
        Kind::Array { item, max, unique } => match value.as_array() {
            Some(items) => {
                if items.len() > *max {
                    problems.add(path, format!("must have at most {max} items"));
                }
                for (i, v) in items.iter().enumerate() {
                    check_value(v, item, &format!("{path}[{i}]"), problems);
                    if *unique && items[..i].contains(v) {
                        problems.add(format!("{path}[{i}]"), "duplicate item");
                    }
                }
            }
            None => problems.add(path, "must be an array"),
        },
    }
}

fn check_rules(object: &Map<String, Value>, rules: &[Rule], prefix: &str, problems: &mut Problems) {
    for rule in rules {
        let path = if prefix.is_empty() {
            rule.name.to_string()
        } else {
            format!("{prefix}.{}", rule.name)
        };
        match object.get(rule.name) {
            None if rule.required => problems.add(path, "is required"),
            None => {}
            Some(Value::Null) if rule.nullable && !rule.required => {}
            Some(Value::Null) => problems.add(path, "must not be null"),
            Some(value) => check_value(value, &rule.kind, &path, problems),
        }
    }
}

/// Loose e-mail check: one `@`, something on both sides, a dot in the domain, no spaces.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

/// Copy the properties named by the rule groups from a validated body into a stored record.
pub fn copy_all(body: &Map<String, Value>, groups: &[&[Rule]], record: &mut Map<String, Value>) {
    for rules in groups {
        copy_writable(body, rules, record);
    }
}

/// Copy the properties named by `rules` from a validated body into a stored record.
pub fn copy_writable(body: &Map<String, Value>, rules: &[Rule], record: &mut Map<String, Value>) {
    for rule in rules {
        if let Some(value) = body.get(rule.name) {
            match (&rule.kind, value, record.get_mut(rule.name)) {
                // Sub-objects (social, sync, legal_france) merge property by property.
                (Kind::Object(inner), Value::Object(incoming), Some(Value::Object(existing))) => {
                    copy_writable(incoming, inner, existing);
                }
                _ => {
                    record.insert(rule.name.to_string(), value.clone());
                }
            }
        }
    }
}
