//! Validation of parameters and bodies against an operation table.
//!
//! One pure entry point, [`validate_request`], used twice: by the CLI before it sends a
//! request (so a typo is caught locally with a readable message) and by the emulators
//! (so they reject what the real API rejects, with the same message text).
//!
//! The rules follow what a NestJS `ValidationPipe` with `whitelist` +
//! `forbidNonWhitelisted` does, since that is what GHL runs:
//! - unknown body properties are errors, recursively into nested known schemas and
//!   array items (unless the schema is `open`);
//! - unknown query parameters are errors;
//! - a `null` or absent optional property is accepted (`@IsOptional` semantics, so a
//!   `null` is fine even where the spec forgets `nullable`); a `null` required property is
//!   reported as missing unless the field is `nullable`;
//! - query, path and form values are strings on the wire: they are checked to *parse* as
//!   the declared type;
//! - `Ty::Object(None)` (a free-form "object" in the spec) accepts any non-null value: the
//!   specs use it for values that are strings or numbers in practice (e.g. GHL
//!   `dateOfBirth`, numeric custom-field values).
//!
//! [`Violation::nest_message`] renders the class-validator text GHL puts in its 422
//! `message` array; [`Violation::describe`] renders a one-line human text for the CLI.

use std::fmt;

use serde_json::Value;

use crate::optable::{BodyEncoding, Operation, ParamIn, Schema, Table, Ty};

/// Where the offending value travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    Path,
    Query,
    Header,
    Body,
}

impl Location {
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Header => "header",
            Location::Body => "body",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Location::Path => "path parameter",
            Location::Query => "query parameter",
            Location::Header => "header",
            Location::Body => "body field",
        }
    }
}

impl From<ParamIn> for Location {
    fn from(p: ParamIn) -> Self {
        match p {
            ParamIn::Path => Location::Path,
            ParamIn::Query => Location::Query,
            ParamIn::Header => Location::Header,
        }
    }
}

/// What is wrong with the value.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// Not declared by the operation or schema (and the schema is not open).
    Unknown,
    /// Required but absent, empty or null.
    Missing,
    /// Present with the wrong type. `expected` is [`Ty::describe`] text, `got` a short
    /// description of what was sent (`number`, `"abc"`, …).
    WrongType { expected: String, got: String },
    /// A string outside the allowed values.
    NotInEnum { allowed: Vec<String> },
    /// A number above the allowed maximum (operation-specific rules, e.g. `pageLimit`).
    TooLarge { max: i64 },
    /// A number below the allowed minimum.
    TooSmall { min: i64 },
    /// Anything else; the text is used as-is after the field name.
    Invalid { reason: String },
}

/// One problem with one value of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub location: Location,
    /// Dotted path with array indexes, e.g. `firstName`, `customFields[0].id`; empty for
    /// the body as a whole.
    pub path: String,
    pub problem: Problem,
}

/// A parsed piece of a [`Violation::path`].
#[derive(Debug, Clone, PartialEq)]
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        // A key possibly followed by one or more `[n]`.
        let key_end = rest.find('[').unwrap_or(rest.len());
        if key_end > 0 {
            out.push(Segment::Key(&rest[..key_end]));
        }
        rest = &rest[key_end..];
        while let Some(stripped) = rest.strip_prefix('[') {
            let Some(close) = stripped.find(']') else {
                break;
            };
            match stripped[..close].parse::<usize>() {
                Ok(i) => out.push(Segment::Index(i)),
                Err(_) => out.push(Segment::Key(&stripped[..close])),
            }
            rest = &stripped[close + 1..];
        }
    }
    out
}

fn dotted(segs: &[Segment<'_>]) -> String {
    segs.iter()
        .map(|s| match s {
            Segment::Key(k) => (*k).to_string(),
            Segment::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

impl Violation {
    pub fn new(location: Location, path: impl Into<String>, problem: Problem) -> Self {
        Violation {
            location,
            path: path.into(),
            problem,
        }
    }

    /// The text NestJS/class-validator puts in a 422 `message` array, e.g.
    /// `property gender should not exist`, `locationId should not be empty`,
    /// `dndSettings.Call.status must be one of the following values: active, inactive`.
    /// Nested errors are prefixed with the parent path in dotted form, as NestJS does.
    pub fn nest_message(&self) -> String {
        let segs = segments(&self.path);
        let (parent, leaf) = match segs.split_last() {
            Some((last, parent)) => (parent.to_vec(), Some(last.clone())),
            None => (Vec::new(), None),
        };
        // An array element of a primitive array: class-validator's `each: true` wording.
        if let Some(Segment::Index(_)) = leaf {
            let owner = dotted(&parent);
            return match &self.problem {
                Problem::WrongType { expected, .. } => {
                    format!("each value in {owner} {}", type_phrase(expected))
                }
                Problem::NotInEnum { allowed } => format!(
                    "each value in {owner} must be one of the following values: {}",
                    allowed.join(", ")
                ),
                Problem::Missing => format!("each value in {owner} should not be empty"),
                other => format!("each value in {owner} {}", problem_phrase(other)),
            };
        }
        let name = match &leaf {
            Some(Segment::Key(k)) => (*k).to_string(),
            _ => String::new(),
        };
        let text = match &self.problem {
            Problem::Unknown => format!("property {name} should not exist"),
            Problem::Missing if name.is_empty() => "request body should not be empty".to_string(),
            other => format!("{name} {}", problem_phrase(other)),
        };
        if parent.is_empty() {
            text
        } else {
            format!("{}.{text}", dotted(&parent))
        }
    }

    /// One-line human text naming the field and what was expected, e.g.
    /// `body field "firstName": expected string, got number`.
    pub fn describe(&self) -> String {
        let what = if self.path.is_empty() {
            match self.location {
                Location::Body => "request body".to_string(),
                other => other.noun().to_string(),
            }
        } else {
            format!("{} \"{}\"", self.location.noun(), self.path)
        };
        let detail = match &self.problem {
            Problem::Unknown => "not accepted by this operation (unknown)".to_string(),
            Problem::Missing => "required but missing".to_string(),
            Problem::WrongType { expected, got } => format!("expected {expected}, got {got}"),
            Problem::NotInEnum { allowed } => format!("expected one of {}", allowed.join(", ")),
            Problem::TooLarge { max } => format!("must be at most {max}"),
            Problem::TooSmall { min } => format!("must be at least {min}"),
            Problem::Invalid { reason } => reason.clone(),
        };
        format!("{what}: {detail}")
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// class-validator wording for a type constraint, keyed by [`Ty::describe`] text.
fn type_phrase(expected: &str) -> String {
    match expected {
        "string" => "must be a string".into(),
        "integer" => "must be an integer number".into(),
        "number" => "must be a number conforming to the specified constraints".into(),
        "boolean" => "must be a boolean value".into(),
        "object" => "must be an object".into(),
        e if e.starts_with("array") => "must be an array".into(),
        e if e.starts_with("object") => "must be an object".into(),
        e if e.starts_with("one of ") => format!(
            "must be one of the following values: {}",
            e.trim_start_matches("one of ").replace('|', ", ")
        ),
        other => format!("must be {other}"),
    }
}

fn problem_phrase(problem: &Problem) -> String {
    match problem {
        Problem::Unknown => "should not exist".into(),
        Problem::Missing => "should not be empty".into(),
        Problem::WrongType { expected, .. } => type_phrase(expected),
        Problem::NotInEnum { allowed } => {
            format!(
                "must be one of the following values: {}",
                allowed.join(", ")
            )
        }
        Problem::TooLarge { max } => format!("must not be greater than {max}"),
        Problem::TooSmall { min } => format!("must not be less than {min}"),
        Problem::Invalid { reason } => reason.clone(),
    }
}

/// Short description of a JSON value's type for [`Problem::WrongType::got`].
pub fn json_kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "boolean".into(),
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer".into(),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
    }
}

fn quoted(s: &str) -> String {
    let mut short: String = s.chars().take(40).collect();
    if short.len() < s.len() {
        short.push('…');
    }
    format!("\"{short}\"")
}

/// Check one request against `op`: path params, query pairs and the body. Header
/// parameters are not checked here (the `Version` header is the transport's business).
///
/// `body` is the decoded body: JSON as-is, or a form body as an object of strings (set
/// `op.body.encoding` to `Form` and the values are parsed like query values).
pub fn validate_request(
    table: &Table,
    op: &Operation,
    path_params: &[(&str, String)],
    query: &[(String, String)],
    body: Option<&Value>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    validate_path(op, path_params, &mut out);
    validate_query(op, query, &mut out);
    validate_body(table, op, body, &mut out);
    out
}

fn validate_path(op: &Operation, path_params: &[(&str, String)], out: &mut Vec<Violation>) {
    for p in op.path_params() {
        match path_params.iter().find(|(n, _)| *n == p.name) {
            None => out.push(Violation::new(Location::Path, p.name, Problem::Missing)),
            Some((_, v)) if v.is_empty() => {
                out.push(Violation::new(Location::Path, p.name, Problem::Missing))
            }
            Some((_, v)) => check_string_value(&p.ty, v, Location::Path, p.name, out),
        }
    }
}

fn validate_query(op: &Operation, query: &[(String, String)], out: &mut Vec<Violation>) {
    for (name, _) in query {
        let base = name.strip_suffix("[]").unwrap_or(name);
        let known = op
            .query_params()
            .any(|p| p.name == name.as_str() || p.name == base);
        if !known
            && !out
                .iter()
                .any(|v| v.location == Location::Query && v.path == *name)
        {
            out.push(Violation::new(
                Location::Query,
                name.clone(),
                Problem::Unknown,
            ));
        }
    }
    for p in op.query_params() {
        let values: Vec<&String> = query
            .iter()
            .filter(|(n, _)| n == p.name || n.strip_suffix("[]") == Some(p.name))
            .map(|(_, v)| v)
            .collect();
        if values.is_empty() {
            if p.required {
                out.push(Violation::new(Location::Query, p.name, Problem::Missing));
            }
            continue;
        }
        if values.len() > 1 && !matches!(p.ty, Ty::Array(_) | Ty::Any) {
            out.push(Violation::new(
                Location::Query,
                p.name,
                Problem::WrongType {
                    expected: p.ty.describe(),
                    got: "repeated parameter".into(),
                },
            ));
            continue;
        }
        for v in values {
            if v.is_empty() && p.required {
                out.push(Violation::new(Location::Query, p.name, Problem::Missing));
            } else if !v.is_empty() {
                check_string_value(&p.ty, v, Location::Query, p.name, out);
            }
        }
    }
}

/// Check a wire string against a declared type.
fn check_string_value(ty: &Ty, v: &str, location: Location, path: &str, out: &mut Vec<Violation>) {
    let wrong = |out: &mut Vec<Violation>| {
        out.push(Violation::new(
            location,
            path,
            Problem::WrongType {
                expected: ty.describe(),
                got: quoted(v),
            },
        ))
    };
    match ty {
        Ty::String | Ty::Any | Ty::Object(None) => {}
        Ty::Integer => {
            if v.trim().parse::<i64>().is_err() {
                wrong(out)
            }
        }
        Ty::Number => {
            if !v.trim().parse::<f64>().is_ok_and(f64::is_finite) {
                wrong(out)
            }
        }
        Ty::Boolean => {
            if !matches!(v, "true" | "false") {
                wrong(out)
            }
        }
        Ty::Enum(values) => {
            if !values.contains(&v) {
                out.push(Violation::new(
                    location,
                    path,
                    Problem::NotInEnum {
                        allowed: values.iter().map(|s| s.to_string()).collect(),
                    },
                ))
            }
        }
        // Comma-separated lists are the common wire form for arrays in a single value.
        Ty::Array(inner) => {
            for item in v.split(',') {
                check_string_value(inner, item, location, path, out);
            }
        }
        Ty::Object(Some(_)) => wrong(out),
    }
}

fn validate_body(table: &Table, op: &Operation, body: Option<&Value>, out: &mut Vec<Violation>) {
    let Some(spec) = op.body else {
        // NestJS ignores a body the route does not declare.
        return;
    };
    // Form and multipart values are strings on the wire.
    let form = matches!(spec.encoding, BodyEncoding::Form | BodyEncoding::Multipart);
    let empty = Value::Object(Default::default());
    let value = match body {
        Some(v) => v,
        None if spec.required => &empty,
        None => return,
    };
    let mut checker = BodyChecker {
        table,
        form,
        out,
        depth: 0,
    };
    if let (Ty::Object(_), false) = (&spec.ty, value.is_object()) {
        checker.out.push(Violation::new(
            Location::Body,
            "",
            Problem::WrongType {
                expected: spec.ty.describe(),
                got: json_kind(value),
            },
        ));
        return;
    }
    checker.check(&spec.ty, value, "");
}

/// Deepest nesting followed, so a self-referencing schema cannot loop.
const MAX_DEPTH: usize = 32;

struct BodyChecker<'a> {
    table: &'a Table,
    /// Values are strings on the wire (form bodies).
    form: bool,
    out: &'a mut Vec<Violation>,
    depth: usize,
}

impl BodyChecker<'_> {
    fn push(&mut self, path: &str, problem: Problem) {
        self.out.push(Violation::new(Location::Body, path, problem));
    }

    fn wrong(&mut self, ty: &Ty, value: &Value, path: &str) {
        let got = match value {
            Value::String(s) if self.form => quoted(s),
            other => json_kind(other),
        };
        self.push(
            path,
            Problem::WrongType {
                expected: ty.describe(),
                got,
            },
        );
    }

    fn check(&mut self, ty: &Ty, value: &Value, path: &str) {
        if self.depth > MAX_DEPTH {
            return;
        }
        if let (true, Value::String(s)) = (self.form, value) {
            check_string_value(ty, s, Location::Body, path, self.out);
            return;
        }
        match ty {
            Ty::Any => {}
            Ty::Object(None) => {}
            Ty::String | Ty::Integer | Ty::Number | Ty::Boolean => {
                if ty.scalar_accepts(value) == Some(false) {
                    self.wrong(ty, value, path)
                }
            }
            Ty::Enum(values) => match value.as_str() {
                Some(s) if values.contains(&s) => {}
                _ => self.push(
                    path,
                    Problem::NotInEnum {
                        allowed: values.iter().map(|s| s.to_string()).collect(),
                    },
                ),
            },
            Ty::Array(inner) => match value.as_array() {
                None => self.wrong(ty, value, path),
                Some(items) => {
                    self.depth += 1;
                    for (i, item) in items.iter().enumerate() {
                        let item_path = format!("{path}[{i}]");
                        if item.is_null() && **inner != Ty::Any {
                            self.push(&item_path, Problem::Missing);
                        } else {
                            self.check(inner, item, &item_path);
                        }
                    }
                    self.depth -= 1;
                }
            },
            Ty::Object(Some(name)) => match (value.as_object(), self.table.schema(name)) {
                (None, _) => self.wrong(ty, value, path),
                // A schema the table does not hold: accept, as an open object.
                (Some(_), None) => {}
                (Some(map), Some(schema)) => {
                    self.depth += 1;
                    self.check_object(schema, map, path);
                    self.depth -= 1;
                }
            },
        }
    }

    fn check_object(&mut self, schema: &Schema, map: &serde_json::Map<String, Value>, path: &str) {
        let join = |name: &str| {
            if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}.{name}")
            }
        };
        if !schema.open {
            for key in map.keys() {
                if !schema.fields.iter().any(|f| f.name == key.as_str()) {
                    self.push(&join(key), Problem::Unknown);
                }
            }
        }
        for field in schema.fields {
            let field_path = join(field.name);
            match map.get(field.name) {
                None => {
                    if field.required {
                        self.push(&field_path, Problem::Missing)
                    }
                }
                Some(Value::Null) => {
                    if field.required && !field.nullable {
                        self.push(&field_path, Problem::Missing)
                    }
                }
                Some(Value::String(s))
                    if s.is_empty() && field.required && field.ty == Ty::String =>
                {
                    self.push(&field_path, Problem::Missing)
                }
                Some(v) => self.check(&field.ty, v, &field_path),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optable::{App, Body, Field, Kind, Method, Pagination, Param, TokenType};
    use serde_json::json;

    static DND_FIELDS: [Field; 2] = [
        Field {
            name: "status",
            ty: Ty::Enum(&["active", "inactive"]),
            required: true,
            nullable: false,
        },
        Field {
            name: "message",
            ty: Ty::String,
            required: false,
            nullable: false,
        },
    ];
    static CF_FIELDS: [Field; 3] = [
        Field {
            name: "id",
            ty: Ty::String,
            required: false,
            nullable: false,
        },
        Field {
            name: "key",
            ty: Ty::String,
            required: false,
            nullable: false,
        },
        Field {
            name: "field_value",
            ty: Ty::Object(None),
            required: false,
            nullable: false,
        },
    ];
    static CF_TY: Ty = Ty::Object(Some("CustomField"));
    static STRING_TY: Ty = Ty::String;
    static CREATE_FIELDS: [Field; 7] = [
        Field {
            name: "locationId",
            ty: Ty::String,
            required: true,
            nullable: false,
        },
        Field {
            name: "firstName",
            ty: Ty::String,
            required: false,
            nullable: true,
        },
        Field {
            name: "dnd",
            ty: Ty::Boolean,
            required: false,
            nullable: false,
        },
        Field {
            name: "tags",
            ty: Ty::Array(&STRING_TY),
            required: false,
            nullable: false,
        },
        Field {
            name: "customFields",
            ty: Ty::Array(&CF_TY),
            required: false,
            nullable: false,
        },
        Field {
            name: "inbound",
            ty: Ty::Object(Some("Dnd")),
            required: false,
            nullable: false,
        },
        Field {
            name: "extra",
            ty: Ty::Object(Some("Free")),
            required: false,
            nullable: false,
        },
    ];
    static SCHEMAS: [Schema; 4] = [
        Schema {
            name: "Create",
            fields: &CREATE_FIELDS,
            open: false,
        },
        Schema {
            name: "Dnd",
            fields: &DND_FIELDS,
            open: false,
        },
        Schema {
            name: "CustomField",
            fields: &CF_FIELDS,
            open: false,
        },
        Schema {
            name: "Free",
            fields: &[],
            open: true,
        },
    ];
    static PARAMS: [Param; 4] = [
        Param {
            name: "type",
            location: ParamIn::Path,
            ty: Ty::Enum(&["add", "remove"]),
            required: true,
        },
        Param {
            name: "locationId",
            location: ParamIn::Query,
            ty: Ty::String,
            required: true,
        },
        Param {
            name: "limit",
            location: ParamIn::Query,
            ty: Ty::Number,
            required: false,
        },
        Param {
            name: "Version",
            location: ParamIn::Header,
            ty: Ty::String,
            required: true,
        },
    ];
    static OPS: [Operation; 1] = [Operation {
        id: "t.create",
        app: App::Ghl,
        group: "t",
        category: "t",
        kind: Kind::Action,
        name: "Create",
        catalog: true,
        alias_of: None,
        operation_id: "create",
        method: Method::Post,
        path: "/t/{type}",
        params: &PARAMS,
        body: Some(Body {
            encoding: BodyEncoding::Json,
            required: true,
            ty: Ty::Object(Some("Create")),
        }),
        version: Some("2021-07-28"),
        token_types: &[TokenType::Location],
        scopes: &["t.write"],
        pagination: Pagination::None,
        response_key: None,
        success_status: 201,
        response: None,
        deprecated: false,
    }];
    static TABLE: Table = Table {
        app: App::Ghl,
        operations: &OPS,
        schemas: &SCHEMAS,
    };

    fn run(path: &str, query: &[(&str, &str)], body: Option<Value>) -> Vec<Violation> {
        let q: Vec<(String, String)> = query
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        validate_request(
            &TABLE,
            &OPS[0],
            &[("type", path.to_string())],
            &q,
            body.as_ref(),
        )
    }

    fn messages(v: &[Violation]) -> Vec<String> {
        v.iter().map(Violation::nest_message).collect()
    }

    #[test]
    fn valid_request_has_no_violations() {
        let v = run(
            "add",
            &[("locationId", "loc"), ("limit", "20")],
            Some(
                json!({"locationId": "loc", "firstName": null, "tags": ["a"],
                "customFields": [{"id": "x", "field_value": 3}], "extra": {"any": 1}}),
            ),
        );
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn unknown_and_missing_body_properties() {
        let v = run(
            "add",
            &[("locationId", "l")],
            Some(json!({"gender": "male"})),
        );
        assert_eq!(
            messages(&v),
            vec![
                "property gender should not exist",
                "locationId should not be empty"
            ]
        );
        assert_eq!(
            v[1].describe(),
            "body field \"locationId\": required but missing"
        );
    }

    #[test]
    fn wrong_types_use_class_validator_wording() {
        let v = run(
            "add",
            &[("locationId", "l")],
            Some(json!({"locationId": "l", "firstName": 5, "dnd": "yes", "tags": [1, "b"]})),
        );
        assert_eq!(
            messages(&v),
            vec![
                "firstName must be a string",
                "dnd must be a boolean value",
                "each value in tags must be a string"
            ]
        );
        assert_eq!(
            v[0].describe(),
            "body field \"firstName\": expected string, got integer"
        );
        assert_eq!(v[2].path, "tags[0]");
    }

    #[test]
    fn nested_schemas_are_checked_recursively() {
        let v = run(
            "add",
            &[("locationId", "l")],
            Some(
                json!({"locationId": "l", "customFields": [{"id": "a", "bogus": 1}],
                "inbound": {"status": "maybe"}}),
            ),
        );
        assert_eq!(v[0].path, "customFields[0].bogus");
        assert_eq!(
            v[0].nest_message(),
            "customFields.0.property bogus should not exist"
        );
        assert_eq!(
            v[1].nest_message(),
            "inbound.status must be one of the following values: active, inactive"
        );
    }

    #[test]
    fn query_values_must_parse() {
        let v = run(
            "add",
            &[("limit", "ten"), ("nope", "1")],
            Some(json!({"locationId": "l"})),
        );
        assert_eq!(
            messages(&v),
            vec![
                "property nope should not exist",
                "locationId should not be empty",
                "limit must be a number conforming to the specified constraints"
            ]
        );
        assert_eq!(
            v[2].describe(),
            "query parameter \"limit\": expected number, got \"ten\""
        );
    }

    #[test]
    fn path_enum_and_missing_body() {
        let v = run("swap", &[("locationId", "l")], None);
        assert_eq!(
            messages(&v),
            vec![
                "type must be one of the following values: add, remove",
                "locationId should not be empty"
            ]
        );
        let v = run("add", &[("locationId", "l")], Some(json!([1])));
        assert_eq!(v[0].path, "");
        assert!(v[0].describe().starts_with("request body: expected object"));
    }

    #[test]
    fn segments_parse_indexes() {
        assert_eq!(
            segments("a[0].b[12][3].c"),
            vec![
                Segment::Key("a"),
                Segment::Index(0),
                Segment::Key("b"),
                Segment::Index(12),
                Segment::Index(3),
                Segment::Key("c")
            ]
        );
        let v = Violation::new(Location::Body, "pageLimit", Problem::TooLarge { max: 500 });
        assert_eq!(v.nest_message(), "pageLimit must not be greater than 500");
    }
}
