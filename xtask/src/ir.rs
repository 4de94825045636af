//! The generator's in-memory form of a table, mirroring `hlbridge_core::optable` with owned
//! data. `emit` turns it into Rust source.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum TyIr {
    String,
    Integer,
    Number,
    Boolean,
    Enum(Vec<String>),
    Object(Option<String>),
    Array(Box<TyIr>),
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Loc {
    Path,
    Query,
    Header,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParamIr {
    pub name: String,
    pub location: Loc,
    pub ty: TyIr,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldIr {
    pub name: String,
    pub ty: TyIr,
    pub required: bool,
    pub nullable: bool,
}

impl FieldIr {
    pub fn new(name: &str, ty: TyIr, required: bool) -> FieldIr {
        FieldIr {
            name: name.to_string(),
            ty,
            required,
            nullable: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SchemaIr {
    pub name: String,
    pub fields: Vec<FieldIr>,
    pub open: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Form,
    Multipart,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BodyIr {
    pub encoding: Encoding,
    pub required: bool,
    pub ty: TyIr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Token {
    Location,
    Agency,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindIr {
    Trigger,
    Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    None,
    SearchAfter,
    StartAfter,
    SkipLimit,
    OffsetLimit,
    PageLimit,
    LastMessageId,
    StartAfterDate,
    TimeWindow,
    Seek,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpIr {
    pub id: String,
    pub group: String,
    pub category: String,
    pub kind: KindIr,
    pub name: String,
    pub catalog: bool,
    pub alias_of: Option<String>,
    pub operation_id: String,
    /// Upper-case HTTP method.
    pub method: String,
    pub path: String,
    pub params: Vec<ParamIr>,
    pub body: Option<BodyIr>,
    pub version: Option<String>,
    pub token_types: Vec<Token>,
    pub scopes: Vec<String>,
    pub pagination: Paging,
    pub response_key: Option<String>,
    pub success_status: u16,
    pub response: Option<TyIr>,
    pub deprecated: bool,
}

impl OpIr {
    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == path
    }

    pub fn has_query(&self, name: &str) -> bool {
        self.params
            .iter()
            .any(|p| p.location == Loc::Query && p.name == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppIr {
    Ghl,
    Sellsy,
}

#[derive(Debug, Clone)]
pub struct TableIr {
    pub app: AppIr,
    pub ops: Vec<OpIr>,
    pub schemas: BTreeMap<String, SchemaIr>,
}

impl TableIr {
    pub fn op_mut(&mut self, method: &str, path: &str) -> Option<&mut OpIr> {
        self.ops
            .iter_mut()
            .find(|o| o.alias_of.is_none() && o.is(method, path))
    }
}

/// `camelCase`, `snake_case`, `Mixed-Case` → `kebab-case`. Acronym runs stay together
/// (`get-association-by-ID` → `get-association-by-id`).
pub fn kebab(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == ' ' || c == '-' || c == '.' || c == '/' {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let boundary = prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower);
            if boundary && !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The `{name}` placeholders of a path template, in order.
pub fn template_params(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        match rest[start..].find('}') {
            Some(end) => {
                out.push(rest[start + 1..start + end].to_string());
                rest = &rest[start + end + 1..];
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_cases() {
        assert_eq!(
            kebab("get-contacts-by-businessId"),
            "get-contacts-by-business-id"
        );
        assert_eq!(kebab("get-association-by-ID"), "get-association-by-id");
        assert_eq!(kebab("Upsert-opportunity"), "upsert-opportunity");
        assert_eq!(kebab("getList"), "get-list");
        assert_eq!(kebab("createContact"), "create-contact");
        assert_eq!(kebab("HTMLParser_v2"), "html-parser-v2");
        assert_eq!(kebab("delete-Business"), "delete-business");
    }

    #[test]
    fn template_placeholders() {
        assert_eq!(template_params("/a/{b}/c/{d}"), vec!["b", "d"]);
        assert!(template_params("/a").is_empty());
    }
}
