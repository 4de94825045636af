//! The flow's head (name, title, description) and trigger in the form, and the whole
//! form.

use hlbridge_flows::model::{Call, Flow, Trigger};

use super::steps::steps;
use super::{call, opts, select, text, text_of, Act, Field, Node, Opt};
use crate::ui::editor::vars::Scope;

fn trigger(t: &Trigger, scope: &Scope) -> Node {
    let kind = match t {
        Trigger::Poll(_) => "poll",
        Trigger::Webhook(_) => "webhook",
        Trigger::Schedule(_) => "schedule",
    };
    let mut n = Node {
        path: "/trigger".into(),
        legend: "Trigger".into(),
        testid: Some("trigger".into()),
        ..Node::default()
    };
    n.fields.push(Field {
        action: Some("trigger-kind"),
        ..select(
            "/trigger/kind".into(),
            "Trigger kind",
            kind,
            opts(&["poll", "webhook", "schedule"]),
        )
    });
    match t {
        Trigger::Poll(p) => {
            let c = Call {
                operation: p.operation.clone(),
                params: p.params.clone(),
                body: p.body.clone(),
            };
            let mut inner = call("/trigger/poll", "Polled operation", &c, "trigger", scope);
            inner.fields.insert(
                1,
                Field {
                    hint: Some("1m to 15m, e.g. 5m or 90s".into()),
                    required: true,
                    ..text("/trigger/poll/every".into(), "Every", &p.every)
                },
            );
            let on = serde_json::to_value(p.on)
                .map(|v| text_of(&v))
                .unwrap_or_default();
            inner.fields.insert(
                2,
                select(
                    "/trigger/poll/on".into(),
                    "Run for",
                    &on,
                    vec![
                        Opt {
                            value: "new".into(),
                            label: "each new item once".into(),
                        },
                        Opt {
                            value: "updated".into(),
                            label: "each real change".into(),
                        },
                    ],
                ),
            );
            n.children.push(inner);
        }
        Trigger::Webhook(w) => {
            n.fields.push(Field {
                action: Some("structural"),
                ..select(
                    "/trigger/webhook/app".into(),
                    "App",
                    &w.app,
                    opts(&["ghl", "sellsy"]),
                )
            });
            let known = if w.app == "sellsy" {
                "ENTITY.ACTION, e.g. people.created, company.updated".to_string()
            } else {
                format!(
                    "e.g. {}",
                    hlbridge_flows::validate::GHL_EVENTS
                        .iter()
                        .take(8)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            n.fields.push(Field {
                vtype: "csv",
                required: true,
                hint: Some(format!("comma-separated; {known}")),
                ..text(
                    "/trigger/webhook/events".into(),
                    "Events",
                    &w.events.join(", "),
                )
            });
            n.actions.push(event_picker(&w.app, &w.events));
        }
        Trigger::Schedule(s) => {
            n.fields.push(Field {
                required: true,
                hint: Some("5 fields: minute hour day month weekday, e.g. 0 9 * * 1-5".into()),
                ..text("/trigger/schedule/cron".into(), "Cron", &s.cron)
            });
            n.fields.push(Field {
                remove_empty: Some("/trigger/schedule/tz".into()),
                hint: Some("IANA time zone, e.g. Europe/Paris (default UTC)".into()),
                ..text(
                    "/trigger/schedule/tz".into(),
                    "Time zone",
                    s.tz.as_deref().unwrap_or(""),
                )
            });
        }
    }
    n
}

/// "Add event": a list of the app's events not chosen yet (GHL's event types, Sellsy's
/// `ENTITY.ACTION`s) and a button that appends the one picked to the trigger's events.
fn event_picker(app: &str, chosen: &[String]) -> Act {
    let all: Vec<String> = if app == "sellsy" {
        hlbridge_flows::validate::SELLSY_ENTITIES
            .iter()
            .flat_map(|e| {
                hlbridge_flows::validate::SELLSY_ACTIONS
                    .iter()
                    .map(move |a| format!("{e}.{a}"))
            })
            .collect()
    } else {
        hlbridge_flows::validate::GHL_EVENTS
            .iter()
            .map(|e| e.to_string())
            .collect()
    };
    let options: Vec<Opt> = all
        .into_iter()
        .filter(|e| !chosen.contains(e))
        .map(|e| Opt {
            value: e.clone(),
            label: e,
        })
        .collect();
    Act {
        action: "add-event",
        path: "/trigger/webhook/events".into(),
        text: "Add event".into(),
        label: "Add event to the trigger".into(),
        input: Some(Field {
            id: "trigger-event-pick".into(),
            label: "Event to add".into(),
            control: "select",
            value: options.first().map(|o| o.value.clone()).unwrap_or_default(),
            options,
            ..Field::default()
        }),
    }
}

/// The whole form of `flow`.
pub fn build(flow: &Flow, scope: &mut Scope) -> Vec<Node> {
    let mut head = Node {
        path: String::new(),
        legend: "Flow".into(),
        testid: Some("flow".into()),
        ..Node::default()
    };
    head.fields.push(Field {
        required: true,
        hint: Some("lower-case letters, digits and -".into()),
        ..text("/name".into(), "Name", &flow.name)
    });
    head.fields.push(Field {
        remove_empty: Some("/title".into()),
        ..text(
            "/title".into(),
            "Title",
            flow.title.as_deref().unwrap_or(""),
        )
    });
    head.fields.push(Field {
        control: "textarea",
        remove_empty: Some("/description".into()),
        ..text(
            "/description".into(),
            "Description",
            flow.description.as_deref().unwrap_or(""),
        )
    });
    let trig = trigger(&flow.trigger, scope);
    let main = steps("/steps", "Steps", &flow.steps, scope);
    let mut fail_scope = scope.with(&["error"]);
    let failure = steps(
        "/on_failure",
        "When the run fails for good",
        &flow.on_failure,
        &mut fail_scope,
    );
    vec![head, trig, main, failure]
}
