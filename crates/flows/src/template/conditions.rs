//! Evaluating a step's conditions (`filter` steps, `branch` cases).
//!
//! The tested value renders leniently: a missing value (undefined at any depth) counts as
//! absent, not as an error. Arguments are templates too and render strictly.

use minijinja::ErrorKind;
use serde_json::Value;

use super::{dates, TemplateError, Templates};
use crate::model::{Condition, Conditions, Op, Test};

/// True when the conditions hold for `scope`.
pub fn eval_conditions(
    t: &Templates,
    c: &Conditions,
    scope: &Value,
) -> Result<bool, TemplateError> {
    let ctx = minijinja::Value::from_serialize(scope);
    eval_group(t, c, scope, &ctx)
}

fn eval_group(
    t: &Templates,
    c: &Conditions,
    scope: &Value,
    ctx: &minijinja::Value,
) -> Result<bool, TemplateError> {
    match c {
        Conditions::All(list) => {
            for item in list {
                if !eval_one(t, item, scope, ctx)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Conditions::Any(list) => {
            for item in list {
                if eval_one(t, item, scope, ctx)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
    }
}

fn eval_one(
    t: &Templates,
    c: &Condition,
    scope: &Value,
    ctx: &minijinja::Value,
) -> Result<bool, TemplateError> {
    match c {
        Condition::Group(g) => eval_group(t, g, scope, ctx),
        Condition::Test(test) => eval_test(t, test, scope, ctx).map_err(|e| TemplateError {
            message: format!(
                "condition `{}` {}: {}",
                test.value,
                op_name(test.op),
                e.message
            ),
            offset: e.offset,
        }),
    }
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Equals => "equals",
        Op::NotEquals => "not_equals",
        Op::Contains => "contains",
        Op::StartsWith => "starts_with",
        Op::Exists => "exists",
        Op::Empty => "empty",
        Op::GreaterThan => "greater_than",
        Op::LessThan => "less_than",
        Op::In => "in",
        Op::TagPresent => "tag_present",
        Op::Changed => "changed",
    }
}

/// Render leniently: `None` when the value is missing.
fn lenient(
    t: &Templates,
    src: &str,
    ctx: &minijinja::Value,
) -> Result<Option<Value>, TemplateError> {
    match t.typed(src, ctx) {
        Ok(v) => Ok(Some(v)),
        Err(f) if f.kind == Some(ErrorKind::UndefinedError) => Ok(None),
        Err(f) => Err(f.error),
    }
}

fn arg(t: &Templates, test: &Test, scope: &Value) -> Result<Value, TemplateError> {
    match &test.arg {
        Some(a) => t.render(a, scope),
        None => Err(TemplateError {
            message: format!(
                "`{}` needs an `arg` (the value to compare with)",
                op_name(test.op)
            ),
            offset: None,
        }),
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Equality as a user means it: same JSON, or same number, or same text.
pub(crate) fn loose_eq(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => false,
        _ => match (as_number(a), as_number(b)) {
            (Some(x), Some(y)) => x == y,
            _ => text(a) == text(b),
        },
    }
}

fn is_empty(v: &Option<Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

fn compare(op: Op, v: &Value, a: &Value) -> Result<bool, TemplateError> {
    let ord = match (as_number(v), as_number(a)) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => match (dates::parse(v), dates::parse(a)) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => {
                return Err(TemplateError {
                    message: format!(
                        "cannot compare {v} with {a}: they must both be numbers or both dates"
                    ),
                    offset: None,
                })
            }
        },
    };
    Ok(match op {
        Op::GreaterThan => ord == Some(std::cmp::Ordering::Greater),
        _ => ord == Some(std::cmp::Ordering::Less),
    })
}

fn tags(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().map(|t| text(t).trim().to_lowercase()).collect(),
        Value::String(s) => s
            .split(',')
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty())
            .collect(),
        other => vec![text(other).to_lowercase()],
    }
}

fn eval_test(
    t: &Templates,
    test: &Test,
    scope: &Value,
    ctx: &minijinja::Value,
) -> Result<bool, TemplateError> {
    let value = lenient(t, &test.value, ctx)?;
    Ok(match test.op {
        Op::Exists => !matches!(value, None | Some(Value::Null)),
        Op::Empty => is_empty(&value),
        Op::Equals => loose_eq(
            value.as_ref().unwrap_or(&Value::Null),
            &arg(t, test, scope)?,
        ),
        Op::NotEquals => !loose_eq(
            value.as_ref().unwrap_or(&Value::Null),
            &arg(t, test, scope)?,
        ),
        Op::Contains => {
            let a = arg(t, test, scope)?;
            match value {
                None | Some(Value::Null) => false,
                Some(Value::Array(items)) => items.iter().any(|i| loose_eq(i, &a)),
                Some(Value::Object(o)) => o.contains_key(&text(&a)),
                Some(v) => text(&v).contains(&text(&a)),
            }
        }
        Op::StartsWith => {
            let a = arg(t, test, scope)?;
            match value {
                None | Some(Value::Null) => false,
                Some(v) => text(&v).starts_with(&text(&a)),
            }
        }
        Op::GreaterThan | Op::LessThan => {
            let a = arg(t, test, scope)?;
            match value {
                None | Some(Value::Null) => false,
                Some(v) => compare(test.op, &v, &a)?,
            }
        }
        Op::In => {
            let a = arg(t, test, scope)?;
            let options: Vec<Value> = match a {
                Value::Array(items) => items,
                Value::String(s) => s
                    .split(',')
                    .map(|p| Value::String(p.trim().to_string()))
                    .collect(),
                other => vec![other],
            };
            match value {
                None | Some(Value::Null) => false,
                Some(v) => options.iter().any(|o| loose_eq(&v, o)),
            }
        }
        Op::TagPresent => {
            let a = arg(t, test, scope)?;
            match value {
                None | Some(Value::Null) => false,
                Some(v) => {
                    let have = tags(&v);
                    tags(&a).iter().any(|want| have.contains(want))
                }
            }
        }
        Op::Changed => changed(t, test, scope, value)?,
    })
}

/// The same template over `previous` (as `trigger`) gives a different value.
fn changed(
    t: &Templates,
    test: &Test,
    scope: &Value,
    now: Option<Value>,
) -> Result<bool, TemplateError> {
    let previous = match scope.get("previous") {
        None | Some(Value::Null) => return Ok(false),
        Some(p) => p.clone(),
    };
    let mut before_scope = scope.clone();
    if let Value::Object(o) = &mut before_scope {
        o.insert("trigger".to_string(), previous);
    }
    let before = lenient(
        t,
        &test.value,
        &minijinja::Value::from_serialize(&before_scope),
    )?;
    let norm = |v: &Option<Value>| v.clone().unwrap_or(Value::Null);
    let (b, n) = (norm(&before), norm(&now));
    if loose_eq(&b, &n) {
        return Ok(false);
    }
    if let Some(a) = &test.arg {
        let a = t.render(a, scope)?;
        let Value::Object(spec) = a else {
            return Err(TemplateError {
                message: format!("`changed` takes an optional `arg: {{from, to}}`, got {a}"),
                offset: None,
            });
        };
        for k in spec.keys() {
            if k != "from" && k != "to" {
                return Err(TemplateError {
                    message: format!("`changed` arg has unknown key `{k}`: use `from` and/or `to`"),
                    offset: None,
                });
            }
        }
        if spec.get("from").is_some_and(|f| !loose_eq(&b, f)) {
            return Ok(false);
        }
        if spec.get("to").is_some_and(|to| !loose_eq(&n, to)) {
            return Ok(false);
        }
    }
    Ok(true)
}
