//! The flow file format (`NAME.flow.yaml`), as plain serde types: the parser
//! ([`crate::parse`]) reads them, the JSON Schema (`hlbridge flow schema`) is generated
//! from them, the runtime ([`crate::run`]) executes them.
//!
//! ```yaml
//! schema_version: 1
//! name: sellsy-contact-to-ghl
//! title: Sellsy contacts into GHL
//! trigger:
//!   poll: { operation: "sellsy:contacts.get-list", every: 5m, on: updated }
//! steps:
//!   - id: has_email
//!     filter: { all: [ { value: "{{ trigger.email }}", op: exists } ] }
//!   - id: contact
//!     find_or_create:
//!       find: { operation: "ghl:contacts.search-contacts-advanced", body: { ... } }
//!       found: "{{ steps.contact.find.contacts | first }}"
//!       create: { operation: "ghl:contacts.create-contact", body: { ... } }
//! ```
//!
//! Every string value of `params`, `body`, `map`, conditions and loops is a template
//! (sandboxed minijinja, [`crate::template`]) seeing `trigger`, `steps.ID.output`, `pair`,
//! `now` and, inside `for_each`, `item` and `index`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The only version of the format so far.
pub const SCHEMA_VERSION: u32 = 1;

/// A whole flow file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Format version: 1.
    pub schema_version: u32,
    /// Unique name: lower-case letters, digits and `-` (the file is `NAME.flow.yaml`).
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub trigger: Trigger,
    pub steps: Vec<Step>,
    /// Steps run once when the run fails for good, with `error` = {step, message}.
    #[serde(default)]
    pub on_failure: Vec<Step>,
}

/// What starts a run: each item of a poll, each webhook event, each schedule slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// Poll a read operation of either app every 1–15 minutes.
    Poll(PollTrigger),
    /// A webhook event of either app, received by `hlbridge serve`.
    Webhook(WebhookTrigger),
    /// A cron schedule (5 fields, POSIX) in a time zone.
    Schedule(ScheduleTrigger),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PollTrigger {
    /// `ghl:OP` or `sellsy:OP`, a read operation (`hlbridge ops list --kind trigger`).
    pub operation: String,
    /// Interval, 1m..15m (e.g. `5m`, `90s`).
    #[serde(default = "default_every")]
    pub every: String,
    /// `new`: each item once; `updated`: again on every real change.
    #[serde(default)]
    pub on: PollMode,
    /// Path and query parameters (templates seeing `now` only).
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// Request body of search operations.
    #[serde(default)]
    pub body: Option<Value>,
}

fn default_every() -> String {
    "5m".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PollMode {
    #[default]
    New,
    Updated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookTrigger {
    /// `ghl` or `sellsy`.
    pub app: String,
    /// Event types: GHL `type` (`ContactCreate`, `OpportunityStatusUpdate`, …), Sellsy
    /// `eventType` (`people.created`, …). Any of them starts a run.
    pub events: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleTrigger {
    /// 5-field cron expression, e.g. `0 9 * * 1-5`.
    pub cron: String,
    /// IANA time zone, e.g. `Europe/Paris` (default UTC).
    #[serde(default)]
    pub tz: Option<String>,
}

/// One step: an `id`, what it does, and how failures are handled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Unique within the flow: lower-case letters, digits and `_`.
    pub id: String,
    #[serde(flatten)]
    pub kind: StepKind,
    #[serde(default)]
    pub retry: Option<Retry>,
    #[serde(default)]
    pub on_error: Option<OnError>,
}

/// What a step does (exactly one key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Stop the run (status `skipped`) unless the conditions hold.
    Filter(Conditions),
    /// Build an object: each value a template. Output: the object.
    Map(BTreeMap<String, Value>),
    /// Call any operation of either table. Output: the response body.
    Action(Call),
    /// Look a record up; create it when the lookup finds nothing.
    FindOrCreate(FindOrCreate),
    /// Ordered cases, the first whose conditions hold runs; else `otherwise`.
    Branch(Branch),
    /// Run steps for each element of a list (bounded).
    ForEach(ForEach),
    /// Wait a duration or until a time (the run is parked, not a sleeping process).
    Delay(Delay),
    /// Run another deployed flow with an input, and take its result.
    CallFlow(CallFlow),
}

/// An operation call: `ghl:contacts.create-contact` or `sellsy:tasks.create-task`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Call {
    pub operation: String,
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    #[serde(default)]
    pub body: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindOrCreate {
    /// The lookup (a search or a get).
    pub find: Call,
    /// Template picking the found record out of the lookup's response (`find`); empty or
    /// undefined = not found. E.g. `{{ find.contacts | first }}`.
    pub found: String,
    /// The create, when nothing was found.
    pub create: Call,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    pub cases: Vec<Case>,
    #[serde(default)]
    pub otherwise: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub when: Conditions,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForEach {
    /// Template giving a list, e.g. `{{ trigger.tags }}`.
    pub items: String,
    /// At most this many elements (default 100, at most 1000); more fails the step.
    #[serde(default)]
    pub max: Option<u32>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Delay {
    /// A duration: `30s`, `10m`, `2h`, `3d`.
    For(String),
    /// A time (template giving RFC 3339).
    Until(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallFlow {
    pub name: String,
    #[serde(default)]
    pub input: BTreeMap<String, Value>,
}

/// Conditions combined with `all` (every one) or `any` (at least one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Conditions {
    All(Vec<Condition>),
    Any(Vec<Condition>),
}

/// One test, or a nested group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Condition {
    Group(Box<Conditions>),
    Test(Test),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Test {
    /// Template giving the value tested, e.g. `{{ trigger.email }}`.
    pub value: String,
    pub op: Op,
    /// The operand (`equals`, `contains`, `in`, `greater_than`, …; for `changed`, the
    /// `from`/`to` object).
    #[serde(default)]
    pub arg: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Equals,
    NotEquals,
    Contains,
    StartsWith,
    Exists,
    Empty,
    GreaterThan,
    LessThan,
    In,
    /// A tag present in the value's list of tags (case-insensitive).
    TagPresent,
    /// The field changed since the trigger's previous item (`arg: {from, to}`, each
    /// optional).
    Changed,
}

/// Retries of a failing step (429, 5xx, timeouts; never other 4xx).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all, first included (1..10).
    pub attempts: u32,
    #[serde(default)]
    pub backoff: Backoff,
    /// First wait, e.g. `2s` (default 1s).
    #[serde(default)]
    pub base: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    Constant,
    #[default]
    Exponential,
}

/// What a step's final failure does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OnError {
    /// `fail` (the default: the run fails) or `continue` (the step's output is
    /// `{"error": message}` and the run goes on).
    Mode(ErrorMode),
    /// Run these steps (they see `error`), then go on.
    Steps { steps: Vec<Step> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorMode {
    Fail,
    Continue,
}

/// The app half of an `app:operation` id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    Ghl,
    Sellsy,
}

/// Split `ghl:contacts.create-contact` into its app and operation id.
pub fn split_operation(s: &str) -> Option<(App, &str)> {
    let (app, op) = s.split_once(':')?;
    let app = match app {
        "ghl" => App::Ghl,
        "sellsy" => App::Sellsy,
        _ => return None,
    };
    (!op.is_empty()).then_some((app, op))
}

/// The JSON Schema of the format (`hlbridge flow schema`).
pub fn json_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(Flow)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_reads_from_json_and_the_schema_names_its_parts() {
        let flow: Flow = serde_json::from_value(serde_json::json!({
            "schema_version": 1,
            "name": "demo",
            "trigger": {"webhook": {"app": "ghl", "events": ["ContactCreate"]}},
            "steps": [
                {"id": "only_vip", "filter": {"all": [{"value": "{{ trigger.tags }}", "op": "tag_present", "arg": "vip"}]}},
                {"id": "task", "action": {"operation": "sellsy:tasks.create-task", "body": {"title": "Call"}},
                 "retry": {"attempts": 3}, "on_error": "continue"},
                {"id": "loop", "for_each": {"items": "{{ trigger.tags }}", "steps": [
                    {"id": "inner", "map": {"tag": "{{ item }}"}}]}}
            ]
        }))
        .unwrap();
        assert_eq!(flow.steps.len(), 3);
        assert!(matches!(flow.steps[1].kind, StepKind::Action(_)));
        assert_eq!(
            flow.steps[1].on_error,
            Some(OnError::Mode(ErrorMode::Continue))
        );
        let schema = json_schema().to_string();
        for word in [
            "find_or_create",
            "for_each",
            "call_flow",
            "schedule",
            "tag_present",
        ] {
            assert!(schema.contains(word), "{word} in the schema");
        }
        assert_eq!(
            split_operation("sellsy:tasks.create-task"),
            Some((App::Sellsy, "tasks.create-task"))
        );
        assert_eq!(split_operation("zoho:x"), None);
    }
}
