//! Operations of either table (and the built-in `hlbridge:` actions): the id, the path
//! and query parameters, and the body's fields and literal types.

use std::collections::BTreeMap;

use hlbridge_core::optable::{Kind, Operation, ParamIn, Table, Ty};
use serde_json::Value;

use super::{nearest, Checker};
use crate::model::{split_operation, App, Call};

/// A built-in action of hlbridge itself: its id, required and optional body fields.
pub struct Builtin {
    pub id: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

/// The built-in actions (`hlbridge:…`), run by hlbridge rather than sent to an app.
pub const BUILTINS: &[Builtin] = &[Builtin {
    id: "hlbridge:notes.archive",
    required: &["side", "note_id", "body"],
    optional: &["ghl_contact_id", "sellsy_contact_id", "updated"],
}];

/// What an operation id names.
pub enum Target {
    Op(&'static Operation, &'static Table),
    Builtin(&'static Builtin),
}

/// A string holding template syntax: its type is only known once rendered.
pub fn is_template(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.contains("{{") || s.contains("{%"))
}

impl Checker<'_> {
    pub(super) fn operation(&mut self, id: &str) -> Option<Target> {
        if id.starts_with("hlbridge:") {
            if let Some(b) = BUILTINS.iter().find(|b| b.id == id) {
                return Some(Target::Builtin(b));
            }
            let hint = nearest(id, BUILTINS.iter().map(|b| b.id))
                .map(|n| format!("; did you mean {n}?"))
                .unwrap_or_default();
            self.problem(id, format!("unknown built-in action {id}{hint}"));
            return None;
        }
        let Some((app, op_id)) = split_operation(id) else {
            self.problem(
                id,
                format!("operation {id:?}: write ghl:OPERATION or sellsy:OPERATION"),
            );
            return None;
        };
        let table: &'static Table = match app {
            App::Ghl => &hlbridge_ghl::TABLE,
            App::Sellsy => &hlbridge_sellsy::TABLE,
        };
        match table.get(op_id) {
            Some(op) => Some(Target::Op(op, table)),
            None => {
                let prefix = if app == App::Ghl { "ghl" } else { "sellsy" };
                let hint = nearest(op_id, table.operations.iter().map(|o| o.id))
                    .map(|n| format!("; did you mean {prefix}:{n}?"))
                    .unwrap_or_default();
                self.problem(id, format!("unknown operation {id}{hint}"));
                None
            }
        }
    }

    /// A poll trigger's operation: a read of either table.
    pub(super) fn poll_operation(&mut self, id: &str, params: &BTreeMap<String, Value>) {
        match self.operation(id) {
            Some(Target::Op(op, table)) => {
                if op.kind != Kind::Trigger {
                    self.problem(
                        id,
                        format!(
                            "{id} is a write (action); a polling trigger needs a read operation (`hlbridge ops list --kind trigger`)"
                        ),
                    );
                }
                self.params(id, op, params);
                let _ = table;
            }
            Some(Target::Builtin(b)) => self.problem(
                id,
                format!("{} is a built-in action; a polling trigger needs a read operation of ghl or sellsy", b.id),
            ),
            None => {}
        }
    }

    pub(super) fn params(
        &mut self,
        op_name: &str,
        op: &Operation,
        given: &BTreeMap<String, Value>,
    ) {
        for (name, value) in given {
            match op
                .params
                .iter()
                .find(|p| p.name == name.as_str() && p.location != ParamIn::Header)
            {
                Some(p) => self.literal(op_name, &format!("parameter {name}"), name, &p.ty, value),
                None => {
                    let hint = nearest(name, op.params.iter().map(|p| p.name))
                        .map(|n| format!("; did you mean {n}?"))
                        .unwrap_or_default();
                    self.problem(name, format!("{op_name} has no parameter {name}{hint}"));
                }
            }
        }
        for p in op.params.iter().filter(|p| p.required) {
            // locationId is filled from the connection, as the clients do.
            if p.location == ParamIn::Header || p.name == "locationId" {
                continue;
            }
            if !given.contains_key(p.name) {
                self.problem(
                    op_name,
                    format!(
                        "{op_name} needs the parameter {} ({})",
                        p.name,
                        p.location.as_str()
                    ),
                );
            }
        }
    }

    /// A literal (non-template) value must have the declared type.
    fn literal(&mut self, op_name: &str, what: &str, near: &str, ty: &Ty, value: &Value) {
        if is_template(value) {
            return;
        }
        let ok = match ty {
            Ty::Enum(values) => value.as_str().is_none_or(|s| values.contains(&s)),
            Ty::Object(_) => value.is_object(),
            Ty::Array(_) => value.is_array(),
            Ty::Any => true,
            scalar => {
                let direct = scalar.scalar_accepts(value).unwrap_or(true);
                // Path and query parameters travel as text: "25" is a fine integer.
                let as_text = what.starts_with("parameter")
                    && value.is_string()
                    && scalar.scalar_accepts(&parse_scalar(value)).unwrap_or(false);
                direct || as_text
            }
        };
        if !ok {
            self.problem(
                near,
                format!(
                    "{op_name} {what}: expected {}, got {}",
                    ty.describe(),
                    describe(value)
                ),
            );
        }
    }

    pub(super) fn call(&mut self, call: &Call) {
        match self.operation(&call.operation) {
            Some(Target::Op(op, table)) => {
                self.params(&call.operation, op, &call.params);
                self.body(&call.operation, op, table, call.body.as_ref());
            }
            Some(Target::Builtin(b)) => self.builtin(b, call),
            None => {}
        }
        for v in call.params.values() {
            self.refs(v);
        }
        if let Some(b) = &call.body {
            self.refs(b);
        }
    }

    fn body(&mut self, op_name: &str, op: &Operation, table: &Table, body: Option<&Value>) {
        let Some(spec) = op.body else {
            if body.is_some_and(|b| !b.is_null()) {
                self.problem(op_name, format!("{op_name} takes no body: remove `body`"));
            }
            return;
        };
        let Some(Value::Object(given)) = body else {
            // Absent (a required body is checked by the client with the rendered
            // value) or a template building the whole object.
            return;
        };
        if let Ty::Object(Some(name)) = spec.ty {
            self.object(op_name, table, name, given, "");
        }
    }

    /// The fields of a literal object against schema `name`, nested objects included.
    fn object(
        &mut self,
        op_name: &str,
        table: &Table,
        name: &str,
        given: &serde_json::Map<String, Value>,
        prefix: &str,
    ) {
        let Some(schema) = table.schema(name) else {
            return;
        };
        for (key, value) in given {
            let path = format!("{prefix}{key}");
            match schema.fields.iter().find(|f| f.name == key.as_str()) {
                Some(f) => {
                    if f.nullable && value.is_null() {
                        continue;
                    }
                    self.literal(op_name, &format!("body field {path}"), key, &f.ty, value);
                    self.nested(op_name, table, &f.ty, value, &path);
                }
                None if !schema.open => {
                    let hint = nearest(key, schema.fields.iter().map(|f| f.name))
                        .map(|n| format!("; did you mean {n}?"))
                        .unwrap_or_default();
                    self.problem(key, format!("{op_name} body has no field {path}{hint}"));
                }
                None => {}
            }
        }
        for f in schema.fields.iter().filter(|f| f.required) {
            if (prefix.is_empty() && f.name == "locationId") || given.contains_key(f.name) {
                continue;
            }
            self.problem(
                op_name,
                format!(
                    "{op_name} body needs the field {prefix}{} ({})",
                    f.name,
                    f.ty.describe()
                ),
            );
        }
    }

    fn nested(&mut self, op_name: &str, table: &Table, ty: &Ty, value: &Value, path: &str) {
        match (ty, value) {
            (Ty::Object(Some(name)), Value::Object(map)) => {
                self.object(op_name, table, name, map, &format!("{path}."))
            }
            (Ty::Array(inner), Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if !is_template(item) {
                        self.literal(
                            op_name,
                            &format!("body field {path}[{i}]"),
                            path,
                            inner,
                            item,
                        );
                        self.nested(op_name, table, inner, item, &format!("{path}[{i}]"));
                    }
                }
            }
            _ => {}
        }
    }

    fn builtin(&mut self, b: &Builtin, call: &Call) {
        if let Some(p) = call.params.keys().next() {
            self.problem(
                p,
                format!("{} takes no parameters: put {p} in `body`", b.id),
            );
        }
        let Some(Value::Object(given)) = &call.body else {
            if call.body.as_ref().is_none_or(|v| !is_template(v)) {
                self.problem(
                    b.id,
                    format!("{} needs a body with {}", b.id, b.required.join(", ")),
                );
            }
            return;
        };
        for key in given.keys() {
            if !b.required.contains(&key.as_str()) && !b.optional.contains(&key.as_str()) {
                let hint = nearest(key, b.required.iter().chain(b.optional).copied())
                    .map(|n| format!("; did you mean {n}?"))
                    .unwrap_or_default();
                self.problem(key, format!("{} body has no field {key}{hint}", b.id));
            }
        }
        for f in b.required.iter().filter(|f| !given.contains_key(**f)) {
            self.problem(b.id, format!("{} body needs the field {f}", b.id));
        }
        if let Some(side) = given.get("side").filter(|v| !is_template(v)) {
            if !matches!(side.as_str(), Some("ghl" | "sellsy")) {
                self.problem("side", format!("{} side: write ghl or sellsy", b.id));
            }
        }
    }
}

fn parse_scalar(v: &Value) -> Value {
    let s = v.as_str().unwrap_or_default();
    serde_json::from_str::<Value>(s).unwrap_or(Value::Null)
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}
