//! Reading and checking a flow file, every problem as `FILE:LINE:COL: message`.
//!
//! - YAML syntax and shape (unknown key, wrong type, missing field, duplicate key) come
//!   from serde-saphyr with the parser's line and column.
//! - Then the flow itself: the name and step ids, duplicate ids, operations of either
//!   table (`ghl:OP`, `sellsy:OP`, with a did-you-mean), a write used as a polling
//!   trigger, unknown or missing path and query parameters, the poll interval (1–15 min),
//!   retry attempts (1..10), `for_each.max` (≤ 1000), and a `steps.ID` reference to a
//!   step that does not come before. A semantic problem points at the first place the
//!   offending text appears in the file.
//!
//! - Operations: body fields against the operation's schema (unknown field with a
//!   did-you-mean, missing required field, a literal of the wrong type or outside an
//!   enum), the built-in `hlbridge:` actions ([`BUILTINS`]); webhook event names of
//!   either app ([`GHL_EVENTS`], Sellsy `ENTITY.ACTION`).

use std::collections::BTreeSet;
use std::path::Path;

use crate::model::{self, Flow, Step, StepKind, Trigger};

use crate::did_you_mean::nearest;

mod names;
pub mod online;
mod ops;
mod tpl;

pub use names::{GHL_EVENTS, SELLSY_ACTIONS, SELLSY_ENTITIES};
pub use ops::{Builtin, BUILTINS};

/// One problem of a flow file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// YAML syntax and shape only.
pub fn parse(file: &str, text: &str) -> Result<Flow, Vec<Problem>> {
    serde_saphyr::from_str::<Flow>(text).map_err(|e| {
        let (line, col) = e
            .location()
            .map(|l| (l.line() as usize, l.column() as usize))
            .unwrap_or((1, 1));
        let message = e.without_snippet().to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .trim()
            .to_string();
        let message = if message.contains("untagged enum Condition") {
            "a condition is {value, op, arg} with op one of equals, not_equals, contains, starts_with, exists, empty, greater_than, less_than, in, tag_present, changed; or a group {all: [...]} / {any: [...]}".to_string()
        } else if message.contains("enum StepKind") {
            "a step needs exactly one of filter, map, action, find_or_create, branch, for_each, delay, call_flow beside its id".to_string()
        } else if message.contains("untagged enum OnError") {
            "on_error: write fail, continue, or {steps: [...]}".to_string()
        } else {
            message
        };
        let (line, col, message) = bad_op(text, line, &message).unwrap_or((line, col, message));
        vec![Problem {
            file: file.to_string(),
            line: line.max(1),
            col: col.max(1),
            message,
        }]
    })
}

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

/// A condition that failed to parse because of its `op`: point at that `op:` (the
/// parser can only name the enclosing mapping) and say which ops exist.
fn bad_op(text: &str, from_line: usize, message: &str) -> Option<(usize, usize, String)> {
    if !message.starts_with("a condition is") {
        return None;
    }
    for (i, l) in text.lines().enumerate().skip(from_line.saturating_sub(1)) {
        let t = l.trim_start().trim_start_matches("- ");
        if let Some(op) = t.strip_prefix("op:") {
            let op = op.trim().trim_matches('"').trim_matches('\'');
            if !OPS.contains(&op) {
                let col = l.find("op:").unwrap_or(0) + 1;
                let hint = nearest(op, OPS.iter().copied())
                    .map(|n| format!(" (did you mean {n}?)"))
                    .unwrap_or_default();
                return Some((
                    i + 1,
                    col,
                    format!(
                        "condition op {op:?} is not known{hint}: op one of {}",
                        OPS.join(", ")
                    ),
                ));
            }
        }
    }
    None
}

/// Read `path` and [`validate`] it.
pub fn load(path: &Path) -> Result<(Flow, String), Vec<Problem>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Problem {
            file: file.clone(),
            line: 1,
            col: 1,
            message: format!("cannot read the file: {e}"),
        }]
    })?;
    validate(&file, &text).map(|f| (f, text))
}

/// Syntax, shape and the flow's own rules; all problems at once, in file order.
pub fn validate(file: &str, text: &str) -> Result<Flow, Vec<Problem>> {
    let flow = parse(file, text)?;
    let mut v = Checker {
        file,
        text,
        problems: Vec::new(),
        seen: BTreeSet::new(),
        from: 0,
        templates: crate::template::Templates::new(),
        roots: tpl::STEP_ROOTS.to_vec(),
    };
    v.flow(&flow);
    if v.problems.is_empty() {
        Ok(flow)
    } else {
        v.problems.sort();
        v.problems.dedup();
        Err(v.problems)
    }
}

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    problems: Vec<Problem>,
    /// Step ids defined so far (in order).
    seen: BTreeSet<String>,
    /// Byte offset of the part being checked (the trigger, the current step).
    from: usize,
    templates: crate::template::Templates,
    /// Variables the templates being checked may use.
    roots: Vec<&'static str>,
}

fn valid_name(s: &str, extra: char) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == extra)
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
}

impl Checker<'_> {
    /// Byte offset of `needle` at or after `from`, outside comment lines.
    fn find_from(&self, from: usize, needle: &str) -> Option<usize> {
        if needle.is_empty() {
            return None;
        }
        let mut start = from.min(self.text.len());
        while let Some(i) = self.text.get(start..)?.find(needle) {
            let at = start + i;
            let line_start = self.text[..at].rfind('\n').map_or(0, |n| n + 1);
            if !self.text[line_start..at].trim_start().starts_with('#') {
                return Some(at);
            }
            start = at + needle.len();
        }
        None
    }

    fn position(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// Where `needle` appears: first in the part of the file being checked (the
    /// current step or the trigger), else anywhere; comments are skipped; (1, 1) when
    /// absent.
    fn at(&self, needle: &str) -> (usize, usize) {
        self.find_from(self.from, needle)
            .or_else(|| self.find_from(0, needle))
            .map_or((1, 1), |o| self.position(o))
    }

    /// Enter the part of the file that starts with `needle` (searched after the
    /// current place, so steps are found in order even when ids repeat).
    fn enter(&mut self, needle: &str) {
        if let Some(o) = self
            .find_from(self.from, needle)
            .or_else(|| self.find_from(0, needle))
        {
            self.from = o;
        }
    }

    fn problem(&mut self, near: &str, message: String) {
        let (line, col) = self.at(near);
        self.problems.push(Problem {
            file: self.file.to_string(),
            line,
            col,
            message,
        });
    }

    fn flow(&mut self, flow: &Flow) {
        if flow.schema_version != model::SCHEMA_VERSION {
            self.problem(
                "schema_version",
                format!(
                    "schema_version {} is not known; use {}",
                    flow.schema_version,
                    model::SCHEMA_VERSION
                ),
            );
        }
        if !valid_name(&flow.name, '-') {
            self.problem(
                &flow.name,
                format!(
                    "name {:?}: use lower-case letters, digits and '-', starting with a letter",
                    flow.name
                ),
            );
        }
        self.enter("trigger:");
        self.trigger(&flow.trigger);
        if flow.steps.is_empty() {
            self.problem("steps", "the flow has no steps".into());
        }
        self.steps(&flow.steps);
        self.with_roots(&["error"], |c| c.steps(&flow.on_failure));
    }

    fn trigger(&mut self, t: &Trigger) {
        match t {
            Trigger::Poll(p) => {
                self.poll_operation(&p.operation, &p.params);
                // A poll's parameters are rendered with `now` only.
                let saved = std::mem::replace(&mut self.roots, vec!["now"]);
                p.params.values().for_each(|v| self.refs(v));
                if let Some(b) = &p.body {
                    self.refs(b);
                }
                self.roots = saved;
                match parse_interval(&p.every) {
                    Some(secs) if (60..=900).contains(&secs) => {}
                    _ => self.problem(
                        &p.every,
                        format!("every: {:?}: give 1m to 15m (e.g. 5m, 90s)", p.every),
                    ),
                }
            }
            Trigger::Webhook(w) => {
                if w.app != "ghl" && w.app != "sellsy" {
                    self.problem(
                        &w.app,
                        format!("webhook app {:?}: use ghl or sellsy", w.app),
                    );
                }
                if w.events.is_empty() {
                    self.problem("events", "webhook: name at least one event".into());
                }
                for e in &w.events {
                    if let Some(why) = names::unknown_event(&w.app, e) {
                        self.problem(e, why);
                    }
                }
            }
            Trigger::Schedule(s) => {
                if s.cron.split_whitespace().count() != 5 {
                    self.problem(
                        &s.cron,
                        format!(
                            "cron {:?}: give 5 fields (minute hour day month weekday)",
                            s.cron
                        ),
                    );
                }
                if let Some(tz) = &s.tz {
                    if tz.parse::<chrono_tz::Tz>().is_err() {
                        self.problem(
                            tz,
                            format!("tz {tz:?}: not an IANA time zone (e.g. Europe/Paris)"),
                        );
                    }
                }
            }
        }
    }

    /// `steps.ID` references in the templates of `v` must name an earlier step.
    fn refs(&mut self, v: &serde_json::Value) {
        match v {
            serde_json::Value::String(s) => self.refs_in(s),
            serde_json::Value::Array(a) => a.iter().for_each(|x| self.refs(x)),
            serde_json::Value::Object(o) => o.values().for_each(|x| self.refs(x)),
            _ => {}
        }
    }

    fn refs_in(&mut self, s: &str) {
        self.template(s);
        let mut rest = s;
        while let Some(i) = rest.find("steps.") {
            let after = &rest[i + 6..];
            let id: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let inside = rest[..i]
                .rfind("{{")
                .is_some_and(|o| !rest[o..i].contains("}}"))
                || rest[..i]
                    .rfind("{%")
                    .is_some_and(|o| !rest[o..i].contains("%}"));
            if inside && !id.is_empty() && !self.seen.contains(&id) {
                let hint = nearest(&id, self.seen.iter().map(String::as_str))
                    .map(|n| format!("; did you mean {n}?"))
                    .unwrap_or_default();
                let near = format!("steps.{id}");
                self.problem(
                    &near,
                    format!("steps.{id}: no step {id} comes before this one{hint}"),
                );
            }
            rest = &after[id.len()..];
        }
    }

    fn steps(&mut self, steps: &[Step]) {
        for step in steps {
            self.step(step);
        }
    }

    fn step(&mut self, step: &Step) {
        self.enter(&format!("id: {}", step.id));
        if !valid_name(&step.id, '_') {
            self.problem(
                &format!("id: {}", step.id),
                format!(
                    "step id {:?}: use lower-case letters, digits and '_', starting with a letter",
                    step.id
                ),
            );
        }
        if self.seen.contains(&step.id) {
            let (line, col) = self.position(self.from);
            self.problems.push(Problem {
                file: self.file.to_string(),
                line,
                col,
                message: format!("step id {} is used twice", step.id),
            });
        }
        if let Some(r) = &step.retry {
            if !(1..=10).contains(&r.attempts) {
                self.problem(
                    "attempts",
                    format!(
                        "step {}: retry attempts {}: give 1 to 10",
                        step.id, r.attempts
                    ),
                );
            }
        }
        match &step.kind {
            StepKind::Filter(c) => self.conditions(c),
            StepKind::Map(m) => m.values().for_each(|v| self.refs(v)),
            StepKind::Action(call) => self.call(call),
            StepKind::FindOrCreate(f) => {
                self.call(&f.find);
                self.call(&f.create);
                self.with_roots(&["find"], |c| c.refs_in(&f.found));
            }
            StepKind::Branch(b) => {
                for case in &b.cases {
                    self.conditions(&case.when);
                    self.steps(&case.steps);
                }
                self.steps(&b.otherwise);
            }
            StepKind::ForEach(f) => {
                self.refs_in(&f.items);
                if f.max.is_some_and(|m| m == 0 || m > 1000) {
                    self.problem(
                        "max",
                        format!("step {}: for_each max: give 1 to 1000", step.id),
                    );
                }
                self.with_roots(&["item", "index"], |c| c.steps(&f.steps));
            }
            StepKind::Delay(model::Delay::For(d)) => {
                if parse_interval(d).is_none() {
                    self.problem(
                        d,
                        format!("step {}: delay {d:?}: give e.g. 30s, 10m, 2h, 3d", step.id),
                    );
                }
            }
            StepKind::Delay(model::Delay::Until(t)) => self.refs_in(t),
            StepKind::CallFlow(c) => c.input.values().for_each(|v| self.refs(v)),
        }
        if let Some(model::OnError::Steps { steps }) = &step.on_error {
            self.with_roots(&["error"], |c| c.steps(steps));
        }
        self.seen.insert(step.id.clone());
    }

    fn conditions(&mut self, c: &model::Conditions) {
        let list = match c {
            model::Conditions::All(l) | model::Conditions::Any(l) => l,
        };
        for cond in list {
            match cond {
                model::Condition::Group(g) => self.conditions(g),
                model::Condition::Test(t) => {
                    self.refs_in(&t.value);
                    if let Some(arg) = &t.arg {
                        self.refs(arg);
                    }
                }
            }
        }
    }
}

/// `90s`, `5m`, `2h`, `3d` → seconds.
pub fn parse_interval(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}
