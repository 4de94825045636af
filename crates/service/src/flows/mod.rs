//! Deployed flows inside `hlbridge serve`: the registry and run store in the state
//! database, the connections each flow runs with, webhook events turned into runs
//! ([`Flows::on_event`]), and the background loop ([`runner`]) that polls, fires
//! schedules, continues delayed runs and resumes runs a crash interrupted.
//!
//! A flow deployed for a pair runs with that pair's connections and writes through the
//! pair's outbox (so its writes are in the pair's history); a flow without a pair uses
//! the only pair when there is exactly one, else the only GHL location and the only
//! Sellsy connection (its writes are then recorded in its runs only).

pub mod api;
pub mod runner;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hlbridge_accounts::{Accounts, App, Connection, Pair};
use hlbridge_flows::deploy::{Deployed, FlowRegistry};
use hlbridge_flows::model::{Flow, Trigger};
use hlbridge_flows::run::{Apps, Executor, RunStore, TriggerItem};
use hlbridge_flows::template::Templates;
use serde_json::Value;
use tokio::sync::Semaphore;

/// What a deployed flow runs with.
pub struct Resolved {
    pub pair: Option<Pair>,
    pub ghl: Option<Connection>,
    pub sellsy: Option<Connection>,
}

/// The flows of one `serve` process.
pub struct Flows {
    pub accounts: Accounts,
    pub registry: Arc<FlowRegistry>,
    pub runs: Arc<RunStore>,
    pub templates: Arc<Templates>,
    pub db_path: PathBuf,
    /// Runs executing at once.
    permits: Arc<Semaphore>,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Parse a stored flow version (validated when it was stored).
pub fn parse(d: &Deployed) -> Result<Flow, String> {
    hlbridge_flows::validate::parse(&format!("{}.flow.yaml", d.name), &d.text).map_err(|p| {
        p.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

impl Flows {
    pub fn open(accounts: Accounts, db_path: &Path, max_runs: usize) -> Result<Arc<Flows>, String> {
        Ok(Arc::new(Flows {
            registry: Arc::new(FlowRegistry::open(db_path).map_err(err)?),
            runs: Arc::new(RunStore::open(db_path).map_err(err)?),
            templates: Arc::new(Templates::new()),
            accounts,
            db_path: db_path.to_path_buf(),
            permits: Arc::new(Semaphore::new(max_runs.max(1))),
        }))
    }

    /// The connections (and pair) `pair` names, or the defaults when none is named.
    pub fn resolve(&self, pair: Option<&str>) -> Result<Resolved, String> {
        let reg = &self.accounts.registry;
        let pair = match pair {
            Some(id) => Some(
                reg.pair(id)
                    .map_err(err)?
                    .ok_or_else(|| format!("pair {id} does not exist (`hlbridge pairs list`)"))?,
            ),
            None => {
                let mut pairs = reg.pairs().map_err(err)?;
                (pairs.len() == 1).then(|| pairs.remove(0))
            }
        };
        if let Some(p) = pair {
            return Ok(Resolved {
                ghl: Some(reg.require(&p.ghl).map_err(err)?),
                sellsy: Some(reg.require(&p.sellsy).map_err(err)?),
                pair: Some(p),
            });
        }
        let conns = reg.list().map_err(err)?;
        let only = |app: App| {
            let mut of: Vec<Connection> = conns
                .iter()
                .filter(|c| c.app == app && (app != App::Ghl || c.kind.is_location()))
                .cloned()
                .collect();
            (of.len() == 1).then(|| of.remove(0))
        };
        Ok(Resolved {
            pair: None,
            ghl: only(App::Ghl),
            sellsy: only(App::Sellsy),
        })
    }

    /// The clients and outbox of a flow deployed for `pair`.
    pub fn apps(&self, pair: Option<&str>) -> Result<Apps, String> {
        let r = self.resolve(pair)?;
        let ghl = r
            .ghl
            .as_ref()
            .map(|c| self.accounts.ghl_client(c))
            .transpose()
            .map_err(err)?;
        let sellsy = r
            .sellsy
            .as_ref()
            .map(|c| self.accounts.sellsy_client(c))
            .transpose()
            .map_err(err)?;
        let outbox = match &r.pair {
            Some(p) => {
                let path = self.accounts.registry.pair_state_path(&p.id);
                Some(
                    hlbridge_engine::store::open(&format!("sqlite://{}", path.display()))
                        .map_err(err)?,
                )
            }
            None => None,
        };
        Ok(Apps {
            ghl,
            sellsy,
            outbox,
            pair: r.pair.map(|p| p.id),
        })
    }

    /// An executor for a flow deployed for `pair`; `call_flow` reaches the deployed
    /// flows.
    pub fn executor(&self, pair: Option<&str>) -> Result<Executor, String> {
        let registry = self.registry.clone();
        let lookup = move |name: &str| {
            let d = registry.get(name).ok().flatten()?;
            Some((parse(&d).ok()?, d.version))
        };
        Ok(
            Executor::new(self.apps(pair)?, self.runs.clone(), self.templates.clone())
                .with_flows(Box::new(lookup)),
        )
    }

    /// The flow of a run: the version the run was started with.
    pub fn flow_version(&self, name: &str, version: i64) -> Result<Flow, String> {
        let d = self
            .registry
            .version(name, version)
            .map_err(err)?
            .ok_or_else(|| format!("flow {name} has no version {version}"))?;
        parse(&d)
    }

    /// Execute the recorded run `id` of `d` in the background (bounded).
    pub fn spawn_run(self: &Arc<Self>, d: &Deployed, id: i64) {
        let flows = self.clone();
        let d = d.clone();
        tokio::spawn(async move {
            let Ok(_permit) = flows.permits.clone().acquire_owned().await else {
                return;
            };
            if let Err(e) = flows.execute(&d, id).await {
                tracing::warn!(flow = %d.name, run = id, error = %e, "flow run could not be executed");
            }
        });
    }

    /// Execute (or continue) run `id` with the version it was recorded with.
    pub async fn execute(&self, d: &Deployed, id: i64) -> Result<String, String> {
        let run = self
            .runs
            .get(id)
            .map_err(err)?
            .ok_or_else(|| format!("no run {id}"))?;
        let flow = self.flow_version(&run.flow, run.version)?;
        let exec = self.executor(d.pair.as_deref())?;
        let out = match exec.resume(id, &flow).await {
            Ok(out) => out,
            // Another process (or task) holds the run's lease: it executes it.
            Err(e @ hlbridge_flows::run::RunError::Leased { .. }) => {
                tracing::info!(flow = %d.name, run = id, "{e}");
                return Ok("leased".into());
            }
            Err(e) => return Err(err(e)),
        };
        tracing::info!(flow = %d.name, run = id, status = %out.status, "flow run");
        Ok(out.status)
    }

    /// Does the event come from the accounts the flow runs with?
    fn event_is_for(&self, d: &Deployed, app: &str, event: &Value) -> bool {
        let Ok(r) = self.resolve(d.pair.as_deref()) else {
            return false;
        };
        let field = |keys: &[&str]| {
            keys.iter().find_map(|k| match event.get(*k) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
        };
        match app {
            "ghl" => match (field(&["locationId"]), r.ghl) {
                (Some(loc), Some(c)) => c.account == loc,
                // An event without a location (agency events) reaches every flow.
                (None, _) => true,
                (Some(_), None) => false,
            },
            "sellsy" => match (field(&["corpid", "corpId"]), r.sellsy) {
                (Some(corp), Some(c)) => c.account == corp,
                (None, _) => true,
                (Some(_), None) => false,
            },
            _ => false,
        }
    }

    /// A stored webhook event: a run for each enabled flow whose trigger matches it
    /// (keyed by the event's id, so a re-delivered event starts nothing twice).
    /// Returns how many runs were started.
    pub fn on_event(
        self: &Arc<Self>,
        app: &str,
        event: &Value,
        webhook_id: &str,
    ) -> Result<usize, String> {
        let mut started = 0;
        for d in self.registry.deployed().map_err(err)? {
            let flow = match parse(&d) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(flow = %d.name, error = %e, "deployed flow does not parse");
                    continue;
                }
            };
            let Trigger::Webhook(w) = &flow.trigger else {
                continue;
            };
            if !hlbridge_flows::triggers::webhook_matches(w, app, event)
                || !self.event_is_for(&d, app, event)
            {
                continue;
            }
            let item: TriggerItem = hlbridge_flows::triggers::webhook_item(app, event, webhook_id);
            if let Ok(id) = self.enqueue(&d, &flow, &item)? {
                self.spawn_run(&d, id);
                started += 1;
            }
        }
        Ok(started)
    }

    /// Record a run of `d` for `item` without executing it: Ok(new id) / Err(existing).
    pub fn enqueue(
        &self,
        d: &Deployed,
        flow: &Flow,
        item: &TriggerItem,
    ) -> Result<Result<i64, i64>, String> {
        self.runs.enqueue(&flow.name, d.version, item).map_err(err)
    }
}
