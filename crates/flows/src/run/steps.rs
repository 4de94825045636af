//! The step kinds. Every step is recorded under its path (`loop[3].create`); a step
//! recorded `ok` is not run again on resume: its output is reused, so a resumed run
//! takes the same branches and loop items.

use std::future::Future;
use std::pin::Pin;

use serde_json::{json, Map, Value};

use super::call;
use super::exec::{kind_name, object, Ctx, Executor, Failure, Stop};
use crate::model::{Delay, ErrorMode, OnError, Step, StepKind};
use crate::template::eval_conditions;

type StepsFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<Stop>, Failure>> + Send + 'a>>;

/// A loop's `max` is at most this.
pub const FOR_EACH_LIMIT: usize = 1000;
/// A loop without `max` takes at most this many items (more fails the step).
pub const FOR_EACH_DEFAULT: usize = 100;

fn fail(path: &str, message: impl Into<String>) -> Failure {
    Failure {
        path: path.to_string(),
        message: message.into(),
        unknown: false,
    }
}

/// Every step id path of `steps`, loop indexes left out (`loop.create`).
pub fn step_paths(steps: &[Step]) -> Vec<String> {
    let mut out = Vec::new();
    collect(steps, "", &mut out);
    out
}

fn collect(steps: &[Step], prefix: &str, out: &mut Vec<String>) {
    for s in steps {
        let path = format!("{prefix}{}", s.id);
        out.push(path.clone());
        match &s.kind {
            StepKind::Branch(b) => {
                for c in &b.cases {
                    collect(&c.steps, &format!("{path}."), out);
                }
                collect(&b.otherwise, &format!("{path}."), out);
            }
            StepKind::ForEach(f) => collect(&f.steps, &format!("{path}."), out),
            _ => {}
        }
        if let Some(OnError::Steps { steps }) = &s.on_error {
            collect(steps, &format!("{path}.on_error."), out);
        }
    }
}

/// `loop[3].create` → `loop.create`.
pub fn strip_indexes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

impl Executor {
    pub(crate) fn run_steps<'a>(
        &'a self,
        ctx: &'a mut Ctx,
        steps: &'a [Step],
        prefix: String,
    ) -> StepsFuture<'a> {
        Box::pin(async move {
            for step in steps {
                let path = format!("{prefix}{}", step.id);
                if let Some(stop) = self.run_step(ctx, step, &path).await? {
                    return Ok(Some(stop));
                }
            }
            Ok(None)
        })
    }

    async fn run_step(
        &self,
        ctx: &mut Ctx,
        step: &Step,
        path: &str,
    ) -> Result<Option<Stop>, Failure> {
        let store = ctx.store.clone();
        let recorded = store
            .step(ctx.run_id, path)
            .map_err(|e| fail(path, e.to_string()))?;
        if let Some(rec) = &recorded {
            match rec.status.as_str() {
                "ok" => {
                    let out = rec.output.clone().unwrap_or(Value::Null);
                    // Containers re-enter to reach their recorded children; others reuse.
                    if !matches!(step.kind, StepKind::Branch(_) | StepKind::ForEach(_)) {
                        ctx.set_step(&step.id, &out);
                        return Ok(None);
                    }
                }
                "skipped" => return Ok(Some(Stop::Skipped(path.to_string()))),
                "continued" => {
                    let out = json!({"error": rec.error});
                    ctx.set_step(&step.id, &out);
                    return Ok(None);
                }
                _ => {}
            }
        }
        let attempt = recorded.as_ref().map(|r| r.attempt + 1).unwrap_or(1);
        let mut requests = Vec::new();
        let result = self
            .exec_kind(ctx, step, path, recorded.as_ref(), attempt, &mut requests)
            .await;
        let requests = Value::Array(requests);
        let db = |e: super::StoreError| fail(path, e.to_string());
        match result {
            Ok(Exit::Output(out)) => {
                store
                    .end_step(ctx.run_id, path, "ok", Some(&out), None, &requests)
                    .map_err(db)?;
                if ctx.dry {
                    ctx.trace
                        .push(json!({"step": path, "kind": kind_name(step), "output": out}));
                }
                ctx.set_step(&step.id, &out);
                Ok(None)
            }
            Ok(Exit::Stop(stop)) => {
                let status = match stop {
                    Stop::Skipped(_) => "skipped",
                    Stop::Waiting(_) => "waiting",
                };
                store
                    .end_step(ctx.run_id, path, status, None, None, &requests)
                    .map_err(db)?;
                if ctx.dry {
                    ctx.trace
                        .push(json!({"step": path, "kind": kind_name(step), "status": status}));
                }
                Ok(Some(stop))
            }
            Err(f) if dry_unresolved(ctx, step, &f) => {
                // A dry run sends no write, so a later template needing a write's
                // output cannot render: the step is shown unresolved, the run goes on.
                let out = json!({"dry_run": true, "unresolved": f.message});
                let operation = match &step.kind {
                    StepKind::Action(c) => Some(c.operation.clone()),
                    StepKind::FindOrCreate(f) => Some(f.create.operation.clone()),
                    _ => None,
                };
                if let Some(op) = operation {
                    ctx.writes
                        .push(json!({"step": path, "operation": op, "unresolved": f.message}));
                }
                store
                    .end_step(ctx.run_id, path, "ok", Some(&out), None, &requests)
                    .map_err(db)?;
                ctx.trace
                    .push(json!({"step": path, "kind": kind_name(step), "output": out}));
                ctx.set_step(&step.id, &out);
                Ok(None)
            }
            Err(f) if f.unknown => {
                store
                    .end_step(
                        ctx.run_id,
                        path,
                        "unknown",
                        None,
                        Some(&f.message),
                        &requests,
                    )
                    .map_err(db)?;
                Err(f)
            }
            Err(f) => {
                store
                    .end_step(
                        ctx.run_id,
                        path,
                        "failed",
                        None,
                        Some(&f.message),
                        &requests,
                    )
                    .map_err(db)?;
                if ctx.dry {
                    ctx.trace
                        .push(json!({"step": path, "kind": kind_name(step), "error": f.message}));
                }
                match &step.on_error {
                    None | Some(OnError::Mode(ErrorMode::Fail)) => Err(f),
                    Some(OnError::Mode(ErrorMode::Continue)) => {
                        store
                            .end_step(
                                ctx.run_id,
                                path,
                                "continued",
                                Some(&json!({"error": f.message})),
                                Some(&f.message),
                                &requests,
                            )
                            .map_err(db)?;
                        ctx.set_step(&step.id, &json!({"error": f.message}));
                        Ok(None)
                    }
                    Some(OnError::Steps { steps }) => {
                        if let Some(scope) = ctx.scope.as_object_mut() {
                            scope.insert(
                                "error".into(),
                                json!({"message": f.message, "step": f.path}),
                            );
                        }
                        let stop = self
                            .run_steps(ctx, steps, format!("{path}.on_error."))
                            .await?;
                        if stop.is_some() {
                            // The handler is parked (a delay): the step stays failed
                            // until the handler has run to its end.
                            return Ok(stop);
                        }
                        store
                            .end_step(
                                ctx.run_id,
                                path,
                                "continued",
                                Some(&json!({"error": f.message})),
                                Some(&f.message),
                                &requests,
                            )
                            .map_err(db)?;
                        ctx.set_step(&step.id, &json!({"error": f.message}));
                        Ok(None)
                    }
                }
            }
        }
    }

    pub(crate) fn render(
        &self,
        ctx: &Ctx,
        path: &str,
        what: &str,
        v: &Value,
    ) -> Result<Value, Failure> {
        self.templates
            .render(v, &ctx.scope)
            .map_err(|e| fail(path, format!("{path}: {what}: {e}")))
    }

    async fn exec_kind(
        &self,
        ctx: &mut Ctx,
        step: &Step,
        path: &str,
        recorded: Option<&super::StepRecord>,
        attempt: i64,
        requests: &mut Vec<Value>,
    ) -> Result<Exit, Failure> {
        let store = ctx.store.clone();
        let db = |e: super::StoreError| fail(path, e.to_string());
        match &step.kind {
            StepKind::Filter(c) => {
                store
                    .begin_step(ctx.run_id, path, attempt, &Value::Null)
                    .map_err(db)?;
                let pass = eval_conditions(&self.templates, c, &ctx.scope)
                    .map_err(|e| fail(path, format!("{path}: filter: {e}")))?;
                Ok(if pass {
                    Exit::Output(json!(true))
                } else {
                    Exit::Stop(Stop::Skipped(path.into()))
                })
            }
            StepKind::Map(m) => {
                let input = Value::Object(m.clone().into_iter().collect());
                store
                    .begin_step(ctx.run_id, path, attempt, &input)
                    .map_err(db)?;
                Ok(Exit::Output(self.render(ctx, path, "map", &input)?))
            }
            StepKind::Action(c) => {
                let out = self
                    .action(ctx, step, path, attempt, c, requests, None)
                    .await?;
                Ok(Exit::Output(out))
            }
            StepKind::FindOrCreate(f) => {
                store
                    .begin_step(
                        ctx.run_id,
                        path,
                        attempt,
                        &json!({"find": f.find.operation}),
                    )
                    .map_err(db)?;
                let find_path = format!("{path}.find");
                // Failures of the find or the create are the step's own.
                let at_step = |mut f: Failure| {
                    f.path = path.to_string();
                    f
                };
                let found = self
                    .call_step(ctx, step, &find_path, &f.find, requests)
                    .await
                    .map_err(at_step)?;
                let mut partial = Map::new();
                partial.insert("find".into(), found.clone());
                ctx.set_step(&step.id, &object(partial.clone()));
                // `found` sees the lookup's response as `find` (and as steps.ID.output.find).
                let mut scope = ctx.scope.clone();
                if let Some(o) = scope.as_object_mut() {
                    o.insert("find".into(), found.clone());
                }
                // Undefined (`first` of an empty list, a missing key) means not found.
                let hit = match self.templates.render_str(&f.found, &scope) {
                    Ok(v) => v,
                    Err(e) if is_undefined(&e.message) => Value::Null,
                    Err(e) => return Err(fail(path, format!("{path}: found: {e}"))),
                };
                if !is_empty(&hit) {
                    return Ok(Exit::Output(
                        json!({"find": found, "record": hit, "created": false}),
                    ));
                }
                let create_path = format!("{path}.create");
                let created = self
                    .action(
                        ctx,
                        step,
                        &create_path,
                        attempt,
                        &f.create,
                        requests,
                        Some(path),
                    )
                    .await
                    .map_err(at_step)?;
                Ok(Exit::Output(
                    json!({"find": found, "record": created, "created": true}),
                ))
            }
            StepKind::Branch(b) => {
                // The chosen case is recorded as the step's input so a resume takes it again.
                let chosen = match recorded
                    .and_then(|r| r.input.get("case"))
                    .and_then(Value::as_i64)
                {
                    Some(i) => i,
                    None => {
                        let mut pick = -1;
                        for (i, c) in b.cases.iter().enumerate() {
                            if eval_conditions(&self.templates, &c.when, &ctx.scope)
                                .map_err(|e| fail(path, format!("{path}: cases[{i}].when: {e}")))?
                            {
                                pick = i as i64;
                                break;
                            }
                        }
                        pick
                    }
                };
                store
                    .begin_step(ctx.run_id, path, attempt, &json!({"case": chosen}))
                    .map_err(db)?;
                let steps = match usize::try_from(chosen) {
                    Ok(i) => &b.cases[i.min(b.cases.len().saturating_sub(1))].steps,
                    Err(_) => &b.otherwise,
                };
                match self.run_steps(ctx, steps, format!("{path}.")).await? {
                    Some(stop) => Ok(Exit::Stop(stop)),
                    None => Ok(Exit::Output(json!({"case": chosen}))),
                }
            }
            StepKind::ForEach(f) => {
                let items = match recorded.and_then(|r| r.input.get("items")).cloned() {
                    Some(items) => items,
                    None => {
                        let v = self
                            .templates
                            .render_str(&f.items, &ctx.scope)
                            .map_err(|e| fail(path, format!("{path}: items: {e}")))?;
                        let Value::Array(list) = v else {
                            return Err(fail(
                                path,
                                format!("{path}: items must render to a list, got {v}"),
                            ));
                        };
                        let max = f
                            .max
                            .map(|m| m as usize)
                            .unwrap_or(FOR_EACH_DEFAULT)
                            .min(FOR_EACH_LIMIT);
                        if list.len() > max {
                            // Never a silent cut: the rest of the list would be lost.
                            return Err(fail(
                                path,
                                format!(
                                    "{path}: items has {} elements, over the loop's max of {max}: raise `max` (at most {FOR_EACH_LIMIT}) or filter the list",
                                    list.len()
                                ),
                            ));
                        }
                        Value::Array(list)
                    }
                };
                store
                    .begin_step(ctx.run_id, path, attempt, &json!({"items": items}))
                    .map_err(db)?;
                let list = items.as_array().cloned().unwrap_or_default();
                let mut outputs = Vec::new();
                for (index, item) in list.iter().enumerate() {
                    if let Some(scope) = ctx.scope.as_object_mut() {
                        scope.insert("item".into(), item.clone());
                        scope.insert("index".into(), json!(index));
                    }
                    let stop = self
                        .run_steps(ctx, &f.steps, format!("{path}[{index}]."))
                        .await?;
                    if let Some(stop) = stop {
                        return Ok(Exit::Stop(stop));
                    }
                    let mut iteration = Map::new();
                    for s in &f.steps {
                        let out = ctx.scope["steps"]
                            .get(&s.id)
                            .and_then(|v| v.get("output"))
                            .cloned();
                        iteration.insert(s.id.clone(), out.unwrap_or(Value::Null));
                    }
                    outputs.push(Value::Object(iteration));
                }
                if let Some(scope) = ctx.scope.as_object_mut() {
                    scope.remove("item");
                    scope.remove("index");
                }
                Ok(Exit::Output(Value::Array(outputs)))
            }
            StepKind::Delay(d) => {
                let resume_at = match recorded
                    .and_then(|r| r.input.get("resume_at"))
                    .and_then(Value::as_str)
                {
                    Some(at) => at.to_string(),
                    None => {
                        let at = match d {
                            Delay::For(text) => {
                                let dur = call::parse_duration(text).ok_or_else(|| {
                                    fail(path, format!("{path}: delay for `{text}`: write it like 30s, 5m, 2h or 1d"))
                                })?;
                                chrono::Utc::now()
                                    + chrono::Duration::from_std(dur).unwrap_or_default()
                            }
                            Delay::Until(t) => {
                                let v = self
                                    .templates
                                    .render_str(t, &ctx.scope)
                                    .map_err(|e| fail(path, format!("{path}: until: {e}")))?;
                                let s = v
                                    .as_str()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| v.to_string());
                                chrono::DateTime::parse_from_rfc3339(&s)
                                    .map_err(|e| {
                                        fail(
                                            path,
                                            format!(
                                                "{path}: until `{s}` is not an RFC 3339 time: {e}"
                                            ),
                                        )
                                    })?
                                    .with_timezone(&chrono::Utc)
                            }
                        };
                        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                    }
                };
                store
                    .begin_step(ctx.run_id, path, attempt, &json!({"resume_at": resume_at}))
                    .map_err(db)?;
                let due = chrono::DateTime::parse_from_rfc3339(&resume_at)
                    .map(|t| t <= chrono::Utc::now())
                    .unwrap_or(true);
                if due || ctx.dry {
                    Ok(Exit::Output(
                        json!({"resumed_at": chrono::Utc::now().to_rfc3339(), "resume_at": resume_at}),
                    ))
                } else {
                    Ok(Exit::Stop(Stop::Waiting(resume_at)))
                }
            }
            StepKind::CallFlow(c) => {
                let input = Value::Object(c.input.clone().into_iter().collect());
                store
                    .begin_step(
                        ctx.run_id,
                        path,
                        attempt,
                        &json!({"flow": c.name, "input": input}),
                    )
                    .map_err(db)?;
                let input = self.render(ctx, path, "input", &input)?;
                match self
                    .call_flow(ctx, path, &c.name, input)
                    .await
                    .map_err(|m| fail(path, m))?
                {
                    Ok(out) => Ok(Exit::Output(out)),
                    Err(at) => Ok(Exit::Stop(Stop::Waiting(at))),
                }
            }
        }
    }
}

pub(crate) enum Exit {
    Output(Value),
    Stop(Stop),
}

/// A dry run's step that failed only because a template needs the output of a write
/// the dry run did not send.
fn dry_unresolved(ctx: &Ctx, step: &Step, f: &Failure) -> bool {
    ctx.dry
        && !ctx.writes.is_empty()
        && is_undefined(&f.message)
        && !matches!(step.kind, StepKind::Branch(_) | StepKind::ForEach(_))
}

/// Whether a template error is an undefined value (a missing variable or attribute).
fn is_undefined(message: &str) -> bool {
    message.contains("undefined value")
}

/// Null, `""`, `[]`, `{}` and `false` mean "not found".
pub(crate) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    }
}
