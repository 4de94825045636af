//! `flow validate --online`: what only the connected accounts know. The custom fields
//! a flow names (`ghl_custom_field('KEY')`, `sellsy_custom_field('CODE')`, GHL
//! `customFields: [{id: …}]`) must exist, and the literal pipeline and stage ids it
//! writes (`pipelineId`, `pipelineStageId`, `pipeline_id`, `stage_id`) must be the
//! location's. The caller fetches the [`Facts`]; an app it could not reach is `None`
//! and is not checked.

use serde_json::Value;

use super::{nearest, Problem};
use crate::model::{Flow, Step, StepKind, Trigger};

/// What the connected accounts have.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// GHL custom fields: (id, fieldKey such as `contact.budget`).
    pub ghl_fields: Option<Vec<(String, String)>>,
    /// GHL pipelines: (id, name, stage ids).
    pub pipelines: Option<Vec<(String, String, Vec<String>)>>,
    /// Sellsy custom fields: (id, code).
    pub sellsy_fields: Option<Vec<(String, String)>>,
}

struct Finder<'a> {
    file: &'a str,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Finder<'_> {
    fn push(&mut self, needle: &str, message: String) {
        let offset = self.text.match_indices(needle).map(|(i, _)| i).find(|i| {
            let start = self.text[..*i].rfind('\n').map_or(0, |n| n + 1);
            !self.text[start..*i].trim_start().starts_with('#')
        });
        let (line, col) = offset.map_or((1, 1), |o| {
            let before = &self.text[..o];
            (
                before.matches('\n').count() + 1,
                before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
            )
        });
        self.problems.push(Problem {
            file: self.file.to_string(),
            line,
            col,
            message,
        });
    }
}

/// The quoted first arguments of `name(...)` calls in `text`.
fn call_args(text: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let pat = format!("{name}(");
    for (i, _) in text.match_indices(&pat) {
        let rest = text[i + pat.len()..].trim_start();
        let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            continue;
        };
        if let Some(end) = rest[1..].find(q) {
            out.push(rest[1..1 + end].to_string());
        }
    }
    out
}

fn literal(v: &Value) -> Option<&str> {
    v.as_str()
        .filter(|s| !s.is_empty() && !s.contains("{{") && !s.contains("{%"))
}

/// Every (key, value) of the objects in the flow's values, recursively.
fn walk<'v>(v: &'v Value, out: &mut Vec<(&'v str, &'v Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.push((k.as_str(), x));
                walk(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
        _ => {}
    }
}

fn step_values<'f>(
    steps: &'f [Step],
    out: &mut Vec<&'f Value>,
    maps: &mut Vec<(&'f str, &'f Value)>,
) {
    for s in steps {
        let calls: Vec<&crate::model::Call> = match &s.kind {
            StepKind::Action(c) => vec![c],
            StepKind::FindOrCreate(f) => vec![&f.find, &f.create],
            StepKind::Map(m) => {
                maps.extend(m.iter().map(|(k, v)| (k.as_str(), v)));
                m.values().for_each(|v| out.push(v));
                vec![]
            }
            StepKind::Branch(b) => {
                b.cases
                    .iter()
                    .for_each(|c| step_values(&c.steps, out, maps));
                step_values(&b.otherwise, out, maps);
                vec![]
            }
            StepKind::ForEach(f) => {
                step_values(&f.steps, out, maps);
                vec![]
            }
            StepKind::CallFlow(c) => {
                c.input.values().for_each(|v| out.push(v));
                vec![]
            }
            _ => vec![],
        };
        for c in calls {
            maps.extend(c.params.iter().map(|(k, v)| (k.as_str(), v)));
            c.params.values().for_each(|v| out.push(v));
            if let Some(b) = &c.body {
                out.push(b);
            }
        }
        if let Some(crate::model::OnError::Steps { steps }) = &s.on_error {
            step_values(steps, out, maps);
        }
    }
}

/// The problems the accounts reveal in `flow` (whose file text is `text`).
pub fn check(file: &str, text: &str, flow: &Flow, facts: &Facts) -> Vec<Problem> {
    let mut f = Finder {
        file,
        text,
        problems: Vec::new(),
    };
    if let Some(fields) = &facts.ghl_fields {
        for key in call_args(text, "ghl_custom_field") {
            let bare = key.strip_prefix("contact.").unwrap_or(&key);
            let known = fields
                .iter()
                .any(|(id, k)| *id == key || k == &key || k.strip_prefix("contact.") == Some(bare));
            if !known {
                let hint = nearest(
                    bare,
                    fields
                        .iter()
                        .map(|(_, k)| k.strip_prefix("contact.").unwrap_or(k)),
                )
                .map(|n| format!("; did you mean {n}?"))
                .unwrap_or_default();
                f.push(
                    &key,
                    format!("ghl_custom_field({key:?}): the GHL location has no such custom field{hint} (`hlbridge ghl locations.get-custom-fields`)"),
                );
            }
        }
    }
    if let Some(fields) = &facts.sellsy_fields {
        for code in call_args(text, "sellsy_custom_field") {
            if !fields.iter().any(|(id, c)| *c == code || *id == code) {
                let hint = nearest(&code, fields.iter().map(|(_, c)| c.as_str()))
                    .map(|n| format!("; did you mean {n}?"))
                    .unwrap_or_default();
                f.push(
                    &code,
                    format!("sellsy_custom_field({code:?}): the Sellsy account has no custom field with this code{hint}"),
                );
            }
        }
    }
    let mut values = Vec::new();
    let mut pairs = Vec::new();
    step_values(&flow.steps, &mut values, &mut pairs);
    step_values(&flow.on_failure, &mut values, &mut pairs);
    if let Trigger::Poll(p) = &flow.trigger {
        pairs.extend(p.params.iter().map(|(k, v)| (k.as_str(), v)));
        if let Some(b) = &p.body {
            values.push(b);
        }
    }
    for v in &values {
        walk(v, &mut pairs);
    }
    if let Some(pipelines) = &facts.pipelines {
        for (k, v) in &pairs {
            let Some(id) = literal(v) else { continue };
            match *k {
                "pipelineId" | "pipeline_id" if !pipelines.iter().any(|(p, _, _)| p == id) => {
                    let names: Vec<String> = pipelines
                        .iter()
                        .map(|(p, n, _)| format!("{p} ({n})"))
                        .collect();
                    f.push(
                        id,
                        format!(
                            "{k} {id:?} is not a pipeline of the GHL location; it has {}",
                            names.join(", ")
                        ),
                    );
                }
                "pipelineStageId" | "pipeline_stage_id" | "stage_id"
                    if !pipelines.iter().any(|(_, _, s)| s.iter().any(|x| x == id)) =>
                {
                    f.push(id, format!("{k} {id:?} is not a stage of any pipeline of the GHL location (`hlbridge ghl opportunities.get-pipelines`)"));
                }
                _ => {}
            }
        }
    }
    if let Some(fields) = &facts.ghl_fields {
        for (k, v) in &pairs {
            if *k != "customFields" && *k != "customField" {
                continue;
            }
            let entries = v.as_array().cloned().unwrap_or_default();
            for e in entries {
                for key in ["id", "key"] {
                    let Some(x) = e.get(key).and_then(literal) else {
                        continue;
                    };
                    let bare = x.strip_prefix("contact.").unwrap_or(x);
                    if !fields
                        .iter()
                        .any(|(id, fk)| id == x || fk.strip_prefix("contact.") == Some(bare))
                    {
                        f.push(x, format!("customFields {key} {x:?}: the GHL location has no such custom field (`hlbridge ghl locations.get-custom-fields`)"));
                    }
                }
            }
        }
    }
    f.problems.sort();
    f.problems.dedup();
    f.problems
}
