//! Template variables offered while editing (`<datalist>` suggestions): `trigger.*`
//! from a sample item, `steps.ID.output.*` of the steps before (a map's keys, an
//! operation's response fields), `pair`, `now`, and `item`/`index`/`error`/`find`
//! where they exist.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Serialize;
use serde_json::Value;

use hlbridge_flows::model::{Step, StepKind};

use crate::api::flow_forms::{item_fields, op_meta};

/// One `<datalist>`.
#[derive(Debug, Clone, Serialize)]
pub struct DataList {
    pub id: String,
    pub options: Vec<String>,
}

const MAX: usize = 200;

/// The variables a part of the flow sees; lists are made on demand and shared.
#[derive(Debug, Clone)]
pub struct Scope {
    vars: Vec<String>,
    current: RefCell<Option<String>>,
    lists: Rc<RefCell<Vec<DataList>>>,
}

fn flatten(prefix: &str, v: &Value, depth: usize, out: &mut Vec<String>) {
    if out.len() >= MAX {
        return;
    }
    if let Value::Object(o) = v {
        for (k, x) in o {
            let ok = k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                continue;
            }
            let p = format!("{prefix}.{k}");
            out.push(p.clone());
            if depth > 0 {
                flatten(&p, x, depth - 1, out);
            }
        }
    }
}

impl Scope {
    /// The top of a flow: `trigger` (and its fields: those of `sample`, else those of
    /// the items of the polled operation `poll`), `pair`, `now`.
    pub fn new(sample: Option<&Value>, poll: Option<&str>) -> Scope {
        let mut vars = vec!["trigger".to_string()];
        match (sample, poll) {
            (Some(s), _) => flatten("trigger", s, 2, &mut vars),
            (None, Some(op)) => {
                vars.extend(item_fields(op).into_iter().map(|f| format!("trigger.{f}")))
            }
            (None, None) => {}
        }
        vars.push("pair".into());
        vars.push("now".into());
        Scope {
            vars,
            current: RefCell::new(None),
            lists: Rc::new(RefCell::new(Vec::new())),
        }
    }

    /// The id of the `<datalist>` of these variables.
    pub fn list(&self) -> String {
        if let Some(id) = self.current.borrow().as_ref() {
            return id.clone();
        }
        let mut lists = self.lists.borrow_mut();
        let id = format!("vars-{}", lists.len());
        lists.push(DataList {
            id: id.clone(),
            options: self.vars.iter().map(|v| format!("{{{{ {v} }}}}")).collect(),
        });
        *self.current.borrow_mut() = Some(id.clone());
        id
    }

    /// A copy for a nested part, with these roots added.
    pub fn with(&self, roots: &[&str]) -> Scope {
        let mut s = self.child();
        *s.current.borrow_mut() = None;
        for r in roots {
            s.vars.insert(0, r.to_string());
        }
        s
    }

    /// A copy for a nested part (its steps do not show outside it).
    pub fn child(&self) -> Scope {
        Scope {
            vars: self.vars.clone(),
            current: RefCell::new(self.current.borrow().clone()),
            lists: self.lists.clone(),
        }
    }

    fn push(&mut self, v: String) {
        if self.vars.len() < MAX {
            self.vars.push(v);
        }
    }

    fn op_output(&mut self, prefix: &str, operation: &str) {
        if let Some(m) = op_meta(operation) {
            for p in m.response {
                self.push(format!("{prefix}.{p}"));
            }
        }
    }

    /// `step` ran: its output is now visible.
    pub fn add_step(&mut self, step: &Step) {
        *self.current.borrow_mut() = None;
        let out = format!("steps.{}.output", step.id);
        self.push(out.clone());
        match &step.kind {
            StepKind::Map(m) => {
                for k in m.keys() {
                    self.push(format!("{out}.{k}"));
                }
            }
            StepKind::Action(c) => self.op_output(&out, &c.operation),
            StepKind::FindOrCreate(f) => {
                self.push(format!("{out}.created"));
                self.push(format!("{out}.record"));
                self.op_output(&format!("{out}.record"), &f.create.operation);
            }
            _ => {}
        }
    }

    /// Every list made so far.
    pub fn lists(&self) -> Vec<DataList> {
        self.lists.borrow().clone()
    }
}
