//! The editor's form, generated from a flow: a tree of groups (the flow, the trigger,
//! each step, its calls and conditions) holding typed fields. Every field and group
//! names the JSON pointer of the value it edits (`data-path`); the page's script sets
//! the value there in the flow's JSON and asks the server for the YAML.

use serde::Serialize;
use serde_json::Value;

use hlbridge_flows::model::{Call, Condition, Conditions};

mod steps;
mod trigger;

pub use trigger::build;

use super::vars::Scope;
use crate::api::flow_forms::{op_meta, FieldMeta};

#[derive(Debug, Clone, Serialize)]
pub struct Opt {
    pub value: String,
    pub label: String,
}

fn opts(values: &[&str]) -> Vec<Opt> {
    values
        .iter()
        .map(|v| Opt {
            value: v.to_string(),
            label: if v.is_empty() {
                "(not set)".into()
            } else {
                v.to_string()
            },
        })
        .collect()
}

/// One control.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Field {
    pub id: String,
    pub path: String,
    pub label: String,
    /// `text`, `textarea` or `select`.
    pub control: &'static str,
    /// How the script reads the value: `string`, `number`, `boolean`, `json`, `csv`.
    pub vtype: &'static str,
    pub value: String,
    pub required: bool,
    pub options: Vec<Opt>,
    /// The `<datalist>` of template variables.
    pub list: Option<String>,
    pub hint: Option<String>,
    /// An empty value removes this pointer from the flow.
    pub remove_empty: Option<String>,
    /// A "Remove" button (a key not in the operation's table, a map row).
    pub removable: bool,
    /// An operation picker for `trigger` (reads) or `action`.
    pub op_kind: Option<&'static str>,
    /// A structural change (kind, operation) handled by the script: re-render the form.
    pub action: Option<&'static str>,
    pub inputmode: Option<&'static str>,
    pub problems: Vec<String>,
}

/// A button acting on the flow's structure (add, remove, move).
#[derive(Debug, Clone, Serialize)]
pub struct Act {
    pub action: &'static str,
    pub path: String,
    pub text: String,
    pub label: String,
    /// A control beside the button giving its argument (a step kind, a key name).
    pub input: Option<Field>,
}

/// A group of fields (a `<fieldset>`).
#[derive(Debug, Clone, Serialize, Default)]
pub struct Node {
    pub path: String,
    pub legend: String,
    pub testid: Option<String>,
    pub fields: Vec<Field>,
    pub children: Vec<Node>,
    pub actions: Vec<Act>,
    pub problems: Vec<String>,
}

pub const STEP_KINDS: &[&str] = &[
    "filter",
    "map",
    "action",
    "find_or_create",
    "branch",
    "for_each",
    "delay",
    "call_flow",
];

const OPS: &[&str] = &[
    "equals",
    "not_equals",
    "contains",
    "starts_with",
    "exists",
    "empty",
    "greater_than",
    "less_than",
    "in",
    "tag_present",
    "changed",
];

fn html_id(path: &str) -> String {
    let s: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("f{s}")
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn esc(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn text(path: String, label: &str, value: &str) -> Field {
    Field {
        id: html_id(&path),
        label: label.to_string(),
        control: "text",
        vtype: "string",
        value: value.to_string(),
        path,
        ..Field::default()
    }
}

fn select(path: String, label: &str, value: &str, options: Vec<Opt>) -> Field {
    Field {
        control: "select",
        options,
        ..text(path, label, value)
    }
}

fn template(path: String, label: &str, value: &str, scope: &Scope) -> Field {
    Field {
        list: Some(scope.list()),
        ..text(path, label, value)
    }
}

/// A field for a value of the user's data: strings as templates, anything else as
/// JSON (the value keeps its type).
fn data_field(path: String, label: &str, v: &Value, scope: &Scope) -> Field {
    match v {
        Value::String(s) => template(path, label, s, scope),
        other => Field {
            vtype: "json",
            control: if matches!(other, Value::Object(_) | Value::Array(_)) {
                "textarea"
            } else {
                "text"
            },
            ..text(path, label, &other.to_string())
        },
    }
}

/// A field typed from the operation table.
fn typed(path: String, meta: &FieldMeta, v: Option<&Value>, scope: &Scope) -> Field {
    let value = v.map(text_of).unwrap_or_default();
    let is_tpl = v.is_some_and(|v| {
        v.as_str()
            .is_some_and(|s| s.contains("{{") || s.contains("{%"))
    });
    let label = format!("{} ({})", meta.name, meta.ty);
    let mut f = match meta.input.as_str() {
        "enum" if !is_tpl && (value.is_empty() || meta.options.contains(&value)) => {
            let mut o = vec![""];
            o.extend(meta.options.iter().map(String::as_str));
            select(path.clone(), &label, &value, opts(&o))
        }
        "boolean" if !is_tpl && matches!(value.as_str(), "" | "true" | "false") => Field {
            vtype: "boolean",
            ..select(path.clone(), &label, &value, opts(&["", "true", "false"]))
        },
        "integer" | "number" => Field {
            vtype: "number",
            inputmode: Some("decimal"),
            hint: Some("a number, or a template".into()),
            ..template(path.clone(), &label, &value, scope)
        },
        "json" if v.is_some_and(|v| !v.is_string()) => {
            data_field(path.clone(), &label, v.unwrap_or(&Value::Null), scope)
        }
        _ => template(path.clone(), &label, &value, scope),
    };
    f.required = meta.required;
    f.remove_empty = Some(path);
    f
}

fn extra(path: String, name: &str, what: &str, v: &Value, scope: &Scope) -> Field {
    Field {
        removable: true,
        remove_empty: Some(path.clone()),
        hint: Some(format!("not a {what} of this operation")),
        ..data_field(path, name, v, scope)
    }
}

/// The fields of an operation call at `path` (`operation`, `params`, `body`).
fn call(path: &str, legend: &str, c: &Call, op_kind: &'static str, scope: &Scope) -> Node {
    let op_path = format!("{path}/operation");
    let mut n = Node {
        path: path.to_string(),
        legend: legend.to_string(),
        ..Node::default()
    };
    let meta = op_meta(&c.operation);
    n.fields.push(Field {
        op_kind: Some(op_kind),
        action: Some("operation"),
        required: true,
        hint: Some(match &meta {
            Some(m) => format!("{} — {} {}", m.name, m.method, m.path),
            None => "ghl:OPERATION or sellsy:OPERATION: search with Pick".into(),
        }),
        ..text(op_path, "Operation", &c.operation)
    });
    let params = meta.as_ref().map(|m| m.params.clone()).unwrap_or_default();
    for p in &params {
        let p_path = format!("{path}/params/{}", esc(&p.name));
        n.fields
            .push(typed(p_path, p, c.params.get(&p.name), scope));
    }
    for (k, v) in &c.params {
        if !params.iter().any(|p| &p.name == k) {
            n.fields.push(extra(
                format!("{path}/params/{}", esc(k)),
                k,
                "parameter",
                v,
                scope,
            ));
        }
    }
    let body_meta = meta.as_ref().and_then(|m| m.body.clone());
    match (&body_meta, &c.body) {
        (Some(b), None | Some(Value::Object(_))) if !b.fields.is_empty() => {
            let given = c.body.as_ref().and_then(Value::as_object);
            for f in &b.fields {
                let f_path = format!("{path}/body/{}", esc(&f.name));
                n.fields
                    .push(typed(f_path, f, given.and_then(|g| g.get(&f.name)), scope));
            }
            for (k, v) in given.into_iter().flatten() {
                if !b.fields.iter().any(|f| &f.name == k) {
                    n.fields.push(extra(
                        format!("{path}/body/{}", esc(k)),
                        k,
                        "body field",
                        v,
                        scope,
                    ));
                }
            }
        }
        (None, None) if meta.is_some() => {}
        (_, body) => {
            let b_path = format!("{path}/body");
            n.fields.push(Field {
                vtype: "json",
                control: "textarea",
                remove_empty: Some(b_path.clone()),
                hint: Some("the request body as JSON (or a template giving it)".into()),
                ..text(
                    b_path,
                    "Body",
                    &body
                        .as_ref()
                        .map(|b| serde_json::to_string_pretty(b).unwrap_or_default())
                        .unwrap_or_default(),
                )
            });
        }
    }
    n
}

fn conditions(path: &str, legend: &str, c: &Conditions, scope: &Scope) -> Node {
    let (mode, list) = match c {
        Conditions::All(l) => ("all", l),
        Conditions::Any(l) => ("any", l),
    };
    let list_path = format!("{path}/{mode}");
    let mut n = Node {
        path: path.to_string(),
        legend: legend.to_string(),
        ..Node::default()
    };
    n.fields.push(Field {
        action: Some("cond-mode"),
        ..select(
            format!("{path}/mode"),
            "Combine",
            mode,
            vec![
                Opt {
                    value: "all".into(),
                    label: "all must hold".into(),
                },
                Opt {
                    value: "any".into(),
                    label: "any may hold".into(),
                },
            ],
        )
    });
    for (i, cond) in list.iter().enumerate() {
        let c_path = format!("{list_path}/{i}");
        match cond {
            Condition::Group(g) => {
                let mut child = conditions(&c_path, &format!("Group {}", i + 1), g, scope);
                child.actions.push(remove(&c_path, "group"));
                n.children.push(child);
            }
            Condition::Test(t) => {
                let mut child = Node {
                    path: c_path.clone(),
                    legend: format!("Condition {}", i + 1),
                    ..Node::default()
                };
                child.fields.push(template(
                    format!("{c_path}/value"),
                    "Value",
                    &t.value,
                    scope,
                ));
                let op = serde_json::to_value(t.op)
                    .map(|v| text_of(&v))
                    .unwrap_or_default();
                child
                    .fields
                    .push(select(format!("{c_path}/op"), "Test", &op, opts(OPS)));
                let arg_path = format!("{c_path}/arg");
                let mut arg = match &t.arg {
                    Some(v) => data_field(arg_path.clone(), "Argument", v, scope),
                    None => template(arg_path.clone(), "Argument", "", scope),
                };
                arg.remove_empty = Some(arg_path);
                child.fields.push(arg);
                child.actions.push(remove(&c_path, "condition"));
                n.children.push(child);
            }
        }
    }
    n.actions.push(Act {
        action: "add-cond",
        path: list_path.clone(),
        text: "Add condition".into(),
        label: format!("Add condition to {legend}"),
        input: None,
    });
    n.actions.push(Act {
        action: "add-group",
        path: list_path,
        text: "Add group".into(),
        label: format!("Add group to {legend}"),
        input: None,
    });
    n
}

fn remove(path: &str, what: &str) -> Act {
    Act {
        action: "remove",
        path: path.to_string(),
        text: "Remove".into(),
        label: format!("Remove this {what}"),
        input: None,
    }
}

fn rows(
    path: &str,
    legend: &str,
    map: &std::collections::BTreeMap<String, Value>,
    scope: &Scope,
) -> Node {
    let mut n = Node {
        path: path.to_string(),
        legend: legend.to_string(),
        ..Node::default()
    };
    for (k, v) in map {
        n.fields.push(Field {
            removable: true,
            ..data_field(format!("{path}/{}", esc(k)), k, v, scope)
        });
    }
    let key_id = format!("{}-newkey", html_id(path));
    n.actions.push(Act {
        action: "add-key",
        path: path.to_string(),
        text: "Add field".into(),
        label: format!("Add field to {legend}"),
        input: Some(Field {
            id: key_id,
            label: "New field name".into(),
            control: "text",
            ..Field::default()
        }),
    });
    n
}

/// Every path a problem can be shown at (fields and groups).
pub fn targets(nodes: &[Node], out: &mut Vec<String>) {
    for n in nodes {
        out.push(n.path.clone());
        out.extend(n.fields.iter().map(|f| f.path.clone()));
        targets(&n.children, out);
    }
}

/// Attach `message` to the field or group at `path`.
pub fn attach(nodes: &mut [Node], path: &str, message: &str) -> bool {
    for n in nodes.iter_mut() {
        if let Some(f) = n.fields.iter_mut().find(|f| f.path == path) {
            f.problems.push(message.to_string());
            return true;
        }
        if attach(&mut n.children, path, message) {
            return true;
        }
        if n.path == path {
            n.problems.push(message.to_string());
            return true;
        }
    }
    false
}
