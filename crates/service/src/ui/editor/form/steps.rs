//! The steps of a flow in the form: each step's id, kind and kind's fields, nested
//! step lists (branch, for_each, on_error), retry and on_error.

use hlbridge_flows::model::{Delay, ErrorMode, OnError, Step, StepKind};

use super::{
    call, conditions, opts, remove, rows, select, template, text, text_of, Act, Field, Node, Opt,
    STEP_KINDS,
};
use crate::ui::editor::vars::Scope;

/// The steps of the list at `path`, with an "add step" control.
pub fn steps(path: &str, legend: &str, list: &[Step], scope: &mut Scope) -> Node {
    let mut n = Node {
        path: path.to_string(),
        legend: legend.to_string(),
        ..Node::default()
    };
    for (i, s) in list.iter().enumerate() {
        n.children
            .push(step(&format!("{path}/{i}"), i, list.len(), s, scope));
        scope.add_step(s);
    }
    n.actions.push(Act {
        action: "add-step",
        path: path.to_string(),
        text: "Add step".into(),
        label: format!("Add step to {legend}"),
        input: Some(Field {
            vtype: "string",
            ..select(
                format!("{path}/new-kind"),
                "New step kind",
                "map",
                opts(STEP_KINDS),
            )
        }),
    });
    n
}

fn kind_name(k: &StepKind) -> &'static str {
    match k {
        StepKind::Filter(_) => "filter",
        StepKind::Map(_) => "map",
        StepKind::Action(_) => "action",
        StepKind::FindOrCreate(_) => "find_or_create",
        StepKind::Branch(_) => "branch",
        StepKind::ForEach(_) => "for_each",
        StepKind::Delay(_) => "delay",
        StepKind::CallFlow(_) => "call_flow",
    }
}

fn step(path: &str, i: usize, len: usize, s: &Step, scope: &mut Scope) -> Node {
    let kind = kind_name(&s.kind);
    let mut n = Node {
        path: path.to_string(),
        legend: format!("Step {}: {} ({kind})", i + 1, s.id),
        testid: Some(format!("step-{}", s.id)),
        ..Node::default()
    };
    n.fields.push(Field {
        required: true,
        ..text(format!("{path}/id"), "Step id", &s.id)
    });
    n.fields.push(Field {
        action: Some("step-kind"),
        ..select(format!("{path}/kind"), "Kind", kind, opts(STEP_KINDS))
    });
    let k = format!("{path}/{kind}");
    match &s.kind {
        StepKind::Filter(c) => n.children.push(conditions(&k, "Conditions", c, scope)),
        StepKind::Map(m) => n.children.push(rows(&k, "Fields", m, scope)),
        StepKind::Action(c) => n.children.push(call(&k, "Call", c, "action", scope)),
        StepKind::FindOrCreate(f) => {
            n.children
                .push(call(&format!("{k}/find"), "Find", &f.find, "any", scope));
            let inner = scope.with(&["find"]);
            n.fields.push(template(
                format!("{k}/found"),
                "Found (template picking the record out of `find`)",
                &f.found,
                &inner,
            ));
            n.children.push(call(
                &format!("{k}/create"),
                "Create when not found",
                &f.create,
                "action",
                scope,
            ));
        }
        StepKind::Branch(b) => {
            for (c, case) in b.cases.iter().enumerate() {
                let c_path = format!("{k}/cases/{c}");
                let mut case_node = Node {
                    path: c_path.clone(),
                    legend: format!("Case {}", c + 1),
                    ..Node::default()
                };
                case_node.children.push(conditions(
                    &format!("{c_path}/when"),
                    "When",
                    &case.when,
                    scope,
                ));
                let mut inner = scope.child();
                case_node.children.push(steps(
                    &format!("{c_path}/steps"),
                    "Then",
                    &case.steps,
                    &mut inner,
                ));
                case_node.actions.push(remove(&c_path, "case"));
                n.children.push(case_node);
            }
            n.actions.push(Act {
                action: "add-case",
                path: format!("{k}/cases"),
                text: "Add case".into(),
                label: format!("Add case to step {}", s.id),
                input: None,
            });
            let mut inner = scope.child();
            n.children.push(steps(
                &format!("{k}/otherwise"),
                "Otherwise",
                &b.otherwise,
                &mut inner,
            ));
        }
        StepKind::ForEach(f) => {
            n.fields.push(template(
                format!("{k}/items"),
                "Items (template giving a list)",
                &f.items,
                scope,
            ));
            n.fields.push(Field {
                vtype: "number",
                inputmode: Some("numeric"),
                remove_empty: Some(format!("{k}/max")),
                hint: Some("at most this many elements (default 100, at most 1000)".into()),
                ..text(
                    format!("{k}/max"),
                    "Max",
                    &f.max.map(|m| m.to_string()).unwrap_or_default(),
                )
            });
            let mut inner = scope.with(&["item", "index"]);
            n.children.push(steps(
                &format!("{k}/steps"),
                "For each item",
                &f.steps,
                &mut inner,
            ));
        }
        StepKind::Delay(d) => {
            let (mode, v) = match d {
                Delay::For(v) => ("for", v),
                Delay::Until(v) => ("until", v),
            };
            n.fields.push(Field {
                action: Some("delay-mode"),
                ..select(
                    format!("{k}/mode"),
                    "Wait",
                    mode,
                    vec![
                        Opt {
                            value: "for".into(),
                            label: "for a duration".into(),
                        },
                        Opt {
                            value: "until".into(),
                            label: "until a time".into(),
                        },
                    ],
                )
            });
            n.fields.push(Field {
                hint: Some(if mode == "for" {
                    "30s, 10m, 2h, 3d".into()
                } else {
                    "a template giving RFC 3339".into()
                }),
                ..template(format!("{k}/{mode}"), "Delay", v, scope)
            });
        }
        StepKind::CallFlow(c) => {
            n.fields.push(Field {
                required: true,
                ..text(format!("{k}/name"), "Flow name", &c.name)
            });
            n.children
                .push(rows(&format!("{k}/input"), "Input", &c.input, scope));
        }
    }
    let r = format!("{path}/retry");
    n.fields.push(Field {
        vtype: "number",
        inputmode: Some("numeric"),
        remove_empty: Some(r.clone()),
        hint: Some("attempts in all, 1 to 10 (empty: no retry)".into()),
        ..text(
            format!("{r}/attempts"),
            "Retry attempts",
            &s.retry
                .as_ref()
                .map(|r| r.attempts.to_string())
                .unwrap_or_default(),
        )
    });
    if let Some(retry) = &s.retry {
        let b = serde_json::to_value(retry.backoff)
            .map(|v| text_of(&v))
            .unwrap_or_default();
        n.fields.push(select(
            format!("{r}/backoff"),
            "Backoff",
            &b,
            opts(&["exponential", "constant"]),
        ));
        n.fields.push(Field {
            remove_empty: Some(format!("{r}/base")),
            hint: Some("first wait, e.g. 2s (default 1s)".into()),
            ..text(
                format!("{r}/base"),
                "First wait",
                retry.base.as_deref().unwrap_or(""),
            )
        });
    }
    let on_error = match &s.on_error {
        None => "",
        Some(OnError::Mode(ErrorMode::Fail)) => "fail",
        Some(OnError::Mode(ErrorMode::Continue)) => "continue",
        Some(OnError::Steps { .. }) => "steps",
    };
    n.fields.push(Field {
        action: Some("on-error"),
        ..select(
            format!("{path}/on_error"),
            "On error",
            on_error,
            vec![
                Opt {
                    value: "".into(),
                    label: "fail the run (default)".into(),
                },
                Opt {
                    value: "fail".into(),
                    label: "fail".into(),
                },
                Opt {
                    value: "continue".into(),
                    label: "continue".into(),
                },
                Opt {
                    value: "steps".into(),
                    label: "run steps".into(),
                },
            ],
        )
    });
    if let Some(OnError::Steps { steps: list }) = &s.on_error {
        let mut inner = scope.with(&["error"]);
        n.children.push(steps(
            &format!("{path}/on_error/steps"),
            "On error, run",
            list,
            &mut inner,
        ));
    }
    if i > 0 {
        n.actions.push(Act {
            action: "up",
            path: path.to_string(),
            text: "Move up".into(),
            label: format!("Move up: step {}", s.id),
            input: None,
        });
    }
    if i + 1 < len {
        n.actions.push(Act {
            action: "down",
            path: path.to_string(),
            text: "Move down".into(),
            label: format!("Move down: step {}", s.id),
            input: None,
        });
    }
    n.actions.push(Act {
        action: "remove",
        path: path.to_string(),
        text: "Remove step".into(),
        label: format!("Remove step {}", s.id),
        input: None,
    });
    n
}
