//! The shape of an operation table.
//!
//! Each app (GHL, Sellsy) has one table, generated from the official spec files by
//! `cargo xtask gen` and committed. The client, the CLI, the emulator's routing and the
//! flows all read these tables instead of hard-coding paths or parameters.
//!
//! Everything here is `'static` data so a table is a plain `static` array with no
//! start-up cost.

use std::fmt;

/// Which API an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum App {
    Ghl,
    Sellsy,
}

impl App {
    pub fn as_str(self) -> &'static str {
        match self {
            App::Ghl => "ghl",
            App::Sellsy => "sellsy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Safe to send twice without changing the outcome (RFC 9110 §9.2.2).
    pub fn is_idempotent(self) -> bool {
        matches!(self, Method::Get | Method::Put | Method::Delete)
    }

    pub fn parse(s: &str) -> Option<Method> {
        match s.to_ascii_uppercase().as_str() {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "PATCH" => Some(Method::Patch),
            "DELETE" => Some(Method::Delete),
            _ => None,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Trigger = a read, pollable. Action = a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Trigger,
    Action,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Trigger => "trigger",
            Kind::Action => "action",
        }
    }
}

/// Where a parameter travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamIn {
    Path,
    Query,
    Header,
}

impl ParamIn {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamIn::Path => "path",
            ParamIn::Query => "query",
            ParamIn::Header => "header",
        }
    }
}

/// A JSON type, as far as validation needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ty {
    String,
    Integer,
    Number,
    Boolean,
    /// A string restricted to these values.
    Enum(&'static [&'static str]),
    /// An object; `Some(name)` points into the table's schema list.
    Object(Option<&'static str>),
    Array(&'static Ty),
    /// Anything (`oneOf`, untyped, free-form).
    Any,
}

impl Ty {
    /// For the scalar types (string, integer, number, boolean): whether `value` has that
    /// type (an integer may be written `3.0`). `None` for enums, objects, arrays and any.
    pub fn scalar_accepts(&self, value: &serde_json::Value) -> Option<bool> {
        use serde_json::Value;
        Some(match self {
            Ty::String => value.is_string(),
            Ty::Integer => match value {
                Value::Number(n) => {
                    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
                }
                _ => false,
            },
            Ty::Number => value.is_number(),
            Ty::Boolean => value.is_boolean(),
            _ => return None,
        })
    }

    /// Short human description, used in error messages ("expected integer").
    pub fn describe(&self) -> String {
        match self {
            Ty::String => "string".into(),
            Ty::Integer => "integer".into(),
            Ty::Number => "number".into(),
            Ty::Boolean => "boolean".into(),
            Ty::Enum(values) => format!("one of {}", values.join("|")),
            Ty::Object(Some(name)) => format!("object ({name})"),
            Ty::Object(None) => "object".into(),
            Ty::Array(inner) => format!("array of {}", inner.describe()),
            Ty::Any => "any value".into(),
        }
    }
}

/// A path, query or header parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Param {
    pub name: &'static str,
    pub location: ParamIn,
    pub ty: Ty,
    pub required: bool,
}

/// One property of an object schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
    pub nullable: bool,
}

/// A named object schema (a DTO) referenced from bodies and responses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schema {
    pub name: &'static str,
    pub fields: &'static [Field],
    /// True when the spec allows properties beyond `fields` (free-form objects).
    pub open: bool,
}

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEncoding {
    Json,
    Form,
    Multipart,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Body {
    pub encoding: BodyEncoding,
    pub required: bool,
    /// The body's type (usually `Ty::Object(Some(schema))`).
    pub ty: Ty,
}

/// Which kind of token an operation accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// Sub-account (location) OAuth token or sub-account private integration token.
    Location,
    /// Agency (company) OAuth token or agency private integration token.
    Agency,
    /// No authentication (OAuth token endpoint).
    None,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Location => "Location",
            TokenType::Agency => "Agency",
            TokenType::None => "None",
        }
    }
}

/// How a list is paged through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pagination {
    None,
    /// GHL `POST /contacts/search`: body `page`/`pageLimit` or `searchAfter` copied from the last record.
    SearchAfter,
    /// GHL `startAfter` + `startAfterId` query, `meta` in the response.
    StartAfter,
    /// `skip` + `limit` query.
    SkipLimit,
    /// `offset` + `limit` query (numeric).
    OffsetLimit,
    /// `page` + `limit` query.
    PageLimit,
    /// GHL conversations messages: `lastMessageId`, nested `messages{lastMessageId,nextPage,messages}`.
    LastMessageId,
    /// GHL conversations search: `startAfterDate` = sort value of the last item.
    StartAfterDate,
    /// A time window (`startTime`/`endTime`), not paged.
    TimeWindow,
    /// Sellsy: opaque seek token in `pagination.offset`, or a numeric `offset`.
    Seek,
}

impl Pagination {
    pub fn as_str(self) -> &'static str {
        match self {
            Pagination::None => "none",
            Pagination::SearchAfter => "searchAfter",
            Pagination::StartAfter => "startAfter",
            Pagination::SkipLimit => "skip/limit",
            Pagination::OffsetLimit => "offset/limit",
            Pagination::PageLimit => "page/limit",
            Pagination::LastMessageId => "lastMessageId",
            Pagination::StartAfterDate => "startAfterDate",
            Pagination::TimeWindow => "timeWindow",
            Pagination::Seek => "seek",
        }
    }
}

/// One operation of an API, as the generator read it from the spec (plus overrides).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Operation {
    /// Stable id, `group.operation-id`, e.g. `contacts.create-contact`.
    pub id: &'static str,
    pub app: App,
    /// The spec file's group, e.g. `contacts`, `calendars`.
    pub group: &'static str,
    /// Catalog category (`contacts`, `calendars`, `workflows-campaigns`, …) for catalog
    /// operations; the group for the rest.
    pub category: &'static str,
    pub kind: Kind,
    /// Catalog name where one exists, else the spec's summary.
    pub name: &'static str,
    /// True for the named operations of our catalog.
    pub catalog: bool,
    /// Set on catalog entries that are a second name for another operation (same method
    /// and path), e.g. "Find Contact" for "Search Contacts".
    pub alias_of: Option<&'static str>,
    /// The spec's operationId.
    pub operation_id: &'static str,
    pub method: Method,
    /// Path template with `{name}` placeholders.
    pub path: &'static str,
    pub params: &'static [Param],
    pub body: Option<Body>,
    /// Required `Version` header value (GHL), if any.
    pub version: Option<&'static str>,
    pub token_types: &'static [TokenType],
    pub scopes: &'static [&'static str],
    pub pagination: Pagination,
    /// Key of the main payload in the success body (`contact`, `contacts`, `tasks`, …).
    pub response_key: Option<&'static str>,
    /// Documented success status.
    pub success_status: u16,
    /// Success response schema, if the spec names one.
    pub response: Option<Ty>,
    pub deprecated: bool,
}

impl Operation {
    pub fn path_params(&self) -> impl Iterator<Item = &'static Param> {
        self.params.iter().filter(|p| p.location == ParamIn::Path)
    }

    pub fn query_params(&self) -> impl Iterator<Item = &'static Param> {
        self.params.iter().filter(|p| p.location == ParamIn::Query)
    }

    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Fill the path template. Values are percent-encoded as one path segment; empty,
    /// `.` and `..` values are refused. The error says which parameter is wrong.
    pub fn render_path(
        &self,
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<String, String> {
        let mut out = String::with_capacity(self.path.len() + 16);
        let mut rest = self.path;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| format!("bad path template {}", self.path))?
                + start;
            let name = &rest[start + 1..end];
            let value = lookup(name).ok_or_else(|| format!("missing path parameter {name:?}"))?;
            if value.is_empty() || value == "." || value == ".." {
                // A dot segment would be resolved away by URL normalisation and reach
                // another endpoint (e.g. `/contacts/X/tasks/..` → `/contacts/X`).
                return Err(format!("path parameter {name:?} cannot be {value:?}"));
            }
            out.push_str(&encode_segment(&value));
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Match a concrete path against this operation's template; returns the path params.
    pub fn match_path(&self, path: &str) -> Option<Vec<(&'static str, String)>> {
        match_template(self.path, path)
    }
}

/// Match `path` against a `{param}` template. Trailing slashes are significant only
/// when both sides have more than one segment; `/contacts` and `/contacts/` match.
pub fn match_template(template: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let t = template.trim_end_matches('/');
    let p = path.trim_end_matches('/');
    let mut t_parts = t.split('/');
    let mut p_parts = p.split('/');
    let mut params = Vec::new();
    loop {
        match (t_parts.next(), p_parts.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) => {
                if ts.starts_with('{') && ts.ends_with('}') {
                    if ps.is_empty() {
                        return None;
                    }
                    params.push((&ts[1..ts.len() - 1], decode_segment(ps)));
                } else if ts != ps {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// How specific a template is: literal segments count more than placeholders. Used to
/// pick `/contacts/search` over `/contacts/{contactId}`.
pub fn template_specificity(template: &str) -> (usize, usize) {
    let segs: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let literal = segs.iter().filter(|s| !s.starts_with('{')).count();
    (segs.len(), literal)
}

fn encode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn decode_segment(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// An app's generated table: operations and the schemas they reference.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub app: App,
    pub operations: &'static [Operation],
    pub schemas: &'static [Schema],
}

impl Table {
    pub fn get(&self, id: &str) -> Option<&'static Operation> {
        self.operations.iter().find(|op| op.id == id)
    }

    pub fn schema(&self, name: &str) -> Option<&'static Schema> {
        self.schemas.iter().find(|s| s.name == name)
    }

    /// Operations of the spec, one per method+path (catalog aliases left out).
    pub fn distinct(&self) -> impl Iterator<Item = &'static Operation> {
        self.operations.iter().filter(|op| op.alias_of.is_none())
    }

    /// The catalog's named operations, aliases included.
    pub fn catalog(&self) -> impl Iterator<Item = &'static Operation> {
        self.operations.iter().filter(|op| op.catalog)
    }

    /// Find the operation serving `method path`, preferring the most specific template.
    pub fn route(
        &self,
        method: Method,
        path: &str,
    ) -> Option<(&'static Operation, Vec<(&'static str, String)>)> {
        let mut best: Option<(&'static Operation, Vec<(&'static str, String)>)> = None;
        for op in self.distinct().filter(|op| op.method == method) {
            if let Some(params) = op.match_path(path) {
                let better = match &best {
                    None => true,
                    Some((b, _)) => {
                        template_specificity(op.path).1 > template_specificity(b.path).1
                    }
                };
                if better {
                    best = Some((op, params));
                }
            }
        }
        best
    }

    /// Whether any operation serves this path with another method (for 404 vs 405).
    pub fn path_known(&self, path: &str) -> bool {
        self.distinct().any(|op| op.match_path(path).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_matching_extracts_params() {
        let got = match_template(
            "/contacts/{contactId}/notes/{id}",
            "/contacts/abc/notes/n%201",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![("contactId", "abc".to_string()), ("id", "n 1".to_string())]
        );
        assert!(match_template("/contacts/", "/contacts").is_some());
        assert!(match_template("/contacts/{id}", "/contacts/").is_none());
        assert!(match_template("/contacts/{id}", "/contacts/a/b").is_none());
    }

    #[test]
    fn specificity_prefers_literals() {
        assert!(
            template_specificity("/contacts/search").1
                > template_specificity("/contacts/{contactId}").1
        );
    }
}
