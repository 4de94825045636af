//! Checking a response body against an operation's response type in a table.
//!
//! The counterpart of [`crate::validate`] for the other direction: where `validate`
//! applies NestJS's request rules (unknown properties refused, `null` accepted for
//! optional fields), this applies the spec's response contract as a schema-driven
//! client or fuzzer reads it:
//! - required properties must be present, and not `null` unless the field is nullable;
//! - an optional property may be absent, but when present and `null` it must be
//!   nullable;
//! - properties the schema does not declare are allowed (OpenAPI's default), unless
//!   [`Strictness::Closed`] is asked for;
//! - `integer` needs an integral number, `number` any number, enums one of their values;
//! - `Ty::Any` and free-form objects (`Ty::Object(None)`, or a name the table does not
//!   hold) accept anything of the right outer type.

use serde_json::Value;

use crate::optable::{Table, Ty};
use crate::validate::json_kind;

/// Whether undeclared properties of a non-open schema are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// OpenAPI semantics: extra properties are fine.
    Open,
    /// Every property must be declared (open schemas excepted).
    Closed,
}

/// One mismatch: where (`$.contact.tags[0]`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub path: String,
    pub problem: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

/// Deepest nesting followed (self-referencing schemas).
const MAX_DEPTH: usize = 48;

/// Check `value` against `ty`; an empty list means it conforms.
pub fn check_value(table: &Table, ty: &Ty, value: &Value, strictness: Strictness) -> Vec<Mismatch> {
    let mut out = Vec::new();
    Checker {
        table,
        strictness,
        out: &mut out,
    }
    .check(ty, value, "$", 0);
    out
}

/// True when `value` conforms to `ty` (open semantics).
pub fn conforms(table: &Table, ty: &Ty, value: &Value) -> bool {
    check_value(table, ty, value, Strictness::Open).is_empty()
}

struct Checker<'a> {
    table: &'a Table,
    strictness: Strictness,
    out: &'a mut Vec<Mismatch>,
}

impl Checker<'_> {
    fn push(&mut self, path: &str, problem: String) {
        self.out.push(Mismatch {
            path: path.to_string(),
            problem,
        });
    }

    fn wrong(&mut self, ty: &Ty, value: &Value, path: &str) {
        self.push(
            path,
            format!("expected {}, got {}", ty.describe(), json_kind(value)),
        );
    }

    fn check(&mut self, ty: &Ty, value: &Value, path: &str, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match ty {
            Ty::Any => {}
            Ty::String | Ty::Integer | Ty::Number | Ty::Boolean => {
                if ty.scalar_accepts(value) == Some(false) {
                    self.wrong(ty, value, path)
                }
            }
            Ty::Enum(values) => match value.as_str() {
                Some(s) if values.contains(&s) => {}
                _ => self.push(
                    path,
                    format!("expected one of {}, got {value}", values.join("|")),
                ),
            },
            Ty::Array(inner) => match value.as_array() {
                None => self.wrong(ty, value, path),
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check(inner, item, &format!("{path}[{i}]"), depth + 1);
                    }
                }
            },
            Ty::Object(None) => {
                if !value.is_object() {
                    self.wrong(ty, value, path)
                }
            }
            Ty::Object(Some(name)) => {
                let Some(map) = value.as_object() else {
                    self.wrong(ty, value, path);
                    return;
                };
                let Some(schema) = self.table.schema(name) else {
                    return;
                };
                if self.strictness == Strictness::Closed && !schema.open {
                    for key in map.keys() {
                        if !schema.fields.iter().any(|f| f.name == key.as_str()) {
                            self.push(&format!("{path}.{key}"), "not declared".into());
                        }
                    }
                }
                for field in schema.fields {
                    let field_path = format!("{path}.{}", field.name);
                    match map.get(field.name) {
                        None if field.required => {
                            self.push(&field_path, "required but missing".into())
                        }
                        None => {}
                        Some(Value::Null) if field.nullable || field.ty == Ty::Any => {}
                        Some(Value::Null) => self.push(&field_path, "null but not nullable".into()),
                        Some(v) => self.check(&field.ty, v, &field_path, depth + 1),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optable::{App, Field, Schema};
    use serde_json::json;

    static STR: Ty = Ty::String;
    static ITEM: Ty = Ty::Object(Some("Item"));
    static FIELDS: [Field; 4] = [
        Field {
            name: "items",
            ty: Ty::Array(&ITEM),
            required: true,
            nullable: false,
        },
        Field {
            name: "total",
            ty: Ty::Integer,
            required: true,
            nullable: false,
        },
        Field {
            name: "next",
            ty: Ty::String,
            required: false,
            nullable: true,
        },
        Field {
            name: "tags",
            ty: Ty::Array(&STR),
            required: false,
            nullable: false,
        },
    ];
    static ITEM_FIELDS: [Field; 2] = [
        Field {
            name: "id",
            ty: Ty::String,
            required: true,
            nullable: false,
        },
        Field {
            name: "status",
            ty: Ty::Enum(&["open", "won"]),
            required: false,
            nullable: false,
        },
    ];
    static SCHEMAS: [Schema; 2] = [
        Schema {
            name: "List",
            fields: &FIELDS,
            open: false,
        },
        Schema {
            name: "Item",
            fields: &ITEM_FIELDS,
            open: false,
        },
    ];
    static TABLE: Table = Table {
        app: App::Ghl,
        operations: &[],
        schemas: &SCHEMAS,
    };
    static LIST: Ty = Ty::Object(Some("List"));

    #[test]
    fn conforming_bodies_pass() {
        let v =
            json!({"items": [{"id": "a", "status": "won", "extra": 1}], "total": 1, "next": null});
        assert!(conforms(&TABLE, &LIST, &v));
        let closed = check_value(&TABLE, &LIST, &v, Strictness::Closed);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].path, "$.items[0].extra");
    }

    #[test]
    fn mismatches_are_located() {
        let v = json!({"items": [{"status": "lost"}, 3], "total": 1.5, "tags": [null]});
        let got: Vec<String> = check_value(&TABLE, &LIST, &v, Strictness::Open)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            vec![
                "$.items[0].id: required but missing",
                "$.items[0].status: expected one of open|won, got \"lost\"",
                "$.items[1]: expected object (Item), got integer",
                "$.total: expected integer, got number",
                "$.tags[0]: expected string, got null",
            ]
        );
    }
}
