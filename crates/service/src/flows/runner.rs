//! The flows' background loop in `serve`. At start, runs a crash left `running` are
//! resumed (a recorded write is never sent again). Then every tick, for each enabled
//! deployed flow: a poll trigger is polled when its interval is over (each item
//! recorded as a run before it is remembered by the trigger, then executed), a
//! schedule fires the slots that came since the last check (the check time is kept in
//! the state database, so a restart neither loses nor repeats a slot: the slot is the
//! run's key), and delayed runs whose time came are continued.
//!
//! A poll that reads exactly what the pair's sync intake reads (GHL contacts search,
//! Sellsy contacts; `hlbridge_flows::triggers::intake_source`) sends no request of its
//! own: every tick it walks the items the sync's cycles read (the pair's intake feed)
//! with its own trigger state. Until the sync's first whole read of the source is in
//! the feed, such a flow waits (at most its interval, then polls by itself meanwhile).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hlbridge_flows::deploy::Deployed;
use hlbridge_flows::model::{Flow, Trigger};
use hlbridge_flows::run::TriggerItem;
use rusqlite::OptionalExtension;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{parse, Flows};

/// Poll flows reading the same thing for the same pair: (pair, shared read key).
type ReadKey = (Option<String>, String);

/// How often the loop looks at the flows.
pub const TICK: Duration = Duration::from_secs(5);

pub struct FlowLoop {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl FlowLoop {
    /// Stop the loop (runs in flight finish on their own tasks or resume next start).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Start the loop; `poll_every` overrides every poll interval (tests, `up`).
pub fn spawn(flows: Arc<Flows>, tick: Duration, poll_every: Option<Duration>) -> FlowLoop {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        resume_interrupted(&flows);
        let mut last_poll: HashMap<String, Instant> = HashMap::new();
        loop {
            once(&flows, &mut last_poll, poll_every).await;
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = stopped.changed() => break,
            }
        }
    });
    FlowLoop { stop, task }
}

/// Runs left `running` (by a crash, or recorded by a poll just before one).
fn resume_interrupted(flows: &Arc<Flows>) {
    let Ok(deployed) = flows.registry.deployed() else {
        return;
    };
    for d in deployed {
        match flows.runs.ids_of_flow(&d.name, "running") {
            Ok(ids) => ids.into_iter().for_each(|(id, _)| flows.spawn_run(&d, id)),
            Err(e) => tracing::warn!(flow = %d.name, error = %e, "runs not readable"),
        }
    }
}

/// One tick over every enabled deployed flow.
pub async fn once(
    flows: &Arc<Flows>,
    last_poll: &mut HashMap<String, Instant>,
    poll_every: Option<Duration>,
) {
    let deployed = match flows.registry.deployed() {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "flow registry not readable");
            return;
        }
    };
    // Poll flows due now, grouped by what they read (and for which pair): flows reading
    // the same thing share one fetch.
    let mut groups: HashMap<ReadKey, Vec<(Deployed, Flow)>> = HashMap::new();
    for d in deployed {
        let flow = match parse(&d) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(flow = %d.name, error = %e, "deployed flow does not parse");
                continue;
            }
        };
        match &flow.trigger {
            Trigger::Poll(_) if hlbridge_flows::triggers::intake_source(&flow).is_some() => {
                match from_intake(flows, &d, &flow) {
                    Ok(Intake::Served) => {}
                    Ok(Intake::Waiting) => {
                        // Waiting for the sync's first whole read, at most one interval:
                        // then the flow polls by itself until the feed can serve it.
                        last_poll.entry(d.name.clone()).or_insert_with(Instant::now);
                        poll_or_group(&mut groups, last_poll, poll_every, &d, &flow)
                    }
                    Ok(Intake::NoPair) => {
                        poll_or_group(&mut groups, last_poll, poll_every, &d, &flow)
                    }
                    Err(e) => tracing::warn!(flow = %d.name, error = %e, "flow poll failed"),
                }
            }
            Trigger::Poll(_) => poll_or_group(&mut groups, last_poll, poll_every, &d, &flow),
            Trigger::Schedule(s) => {
                if let Err(e) = schedule(flows, &d, &flow, &s.cron, s.tz.as_deref()) {
                    tracing::warn!(flow = %d.name, error = %e, "flow schedule failed");
                }
            }
            Trigger::Webhook(_) => {}
        }
        due_delays(flows, &d);
    }
    for ((pair, _), group) in groups {
        let result = if group.len() == 1 {
            poll(flows, &group[0].0, &group[0].1).await
        } else {
            poll_group(flows, pair.as_deref(), &group).await
        };
        if let Err(e) = result {
            let names: Vec<&str> = group.iter().map(|(d, _)| d.name.as_str()).collect();
            tracing::warn!(flows = ?names, error = %e, "flow poll failed");
        }
    }
}

/// Put a due poll flow in its read group (flows reading the same thing share a fetch).
fn poll_or_group(
    groups: &mut HashMap<ReadKey, Vec<(Deployed, Flow)>>,
    last_poll: &mut HashMap<String, Instant>,
    poll_every: Option<Duration>,
    d: &Deployed,
    flow: &Flow,
) {
    let Trigger::Poll(p) = &flow.trigger else {
        return;
    };
    let every = poll_every.unwrap_or_else(|| {
        Duration::from_secs(hlbridge_flows::validate::parse_interval(&p.every).unwrap_or(300))
    });
    let due = last_poll
        .get(&d.name)
        .is_none_or(|at| at.elapsed() >= every);
    if due {
        last_poll.insert(d.name.clone(), Instant::now());
        let read = hlbridge_flows::triggers::shared_read_key(flow)
            .unwrap_or_else(|| format!("own:{}", d.name));
        groups
            .entry((d.pair.clone(), read))
            .or_default()
            .push((d.clone(), flow.clone()));
    }
}

/// What the intake feed did for a flow.
enum Intake {
    /// The flow walked the feed.
    Served,
    /// The sync's first whole read of the source is not in the feed yet.
    Waiting,
    /// The flow has no pair (no sync reads for it): it polls by itself.
    NoPair,
}

/// Serve a poll the pair's sync intake already reads from the pair's intake feed: the
/// items read since the flow's last walk become its recorded runs, then run.
fn from_intake(flows: &Arc<Flows>, d: &Deployed, flow: &Flow) -> Result<Intake, String> {
    let Some(pair) = flows.resolve(d.pair.as_deref())?.pair else {
        return Ok(Intake::NoPair);
    };
    let path = flows.accounts.registry.pair_state_path(&pair.id);
    let Some(feed) = hlbridge_engine::intake::feed::IntakeFeed::open_existing(&path)
        .map_err(|e| e.to_string())?
    else {
        // The pair's sync has not run yet: its first cycle fills the feed.
        return Ok(Intake::Waiting);
    };
    let mut ids = Vec::new();
    let mut emit = |item: TriggerItem| -> Result<(), String> {
        if let Ok(id) = flows.enqueue(d, flow, &item)? {
            ids.push(id);
        }
        Ok(())
    };
    let walked = hlbridge_flows::triggers::poll_feed(&flows.db_path, &feed, flow, false, &mut emit)
        .map_err(|e| e.to_string());
    for id in ids {
        flows.spawn_run(d, id);
    }
    walked.map(|w| match w {
        Some(_) => Intake::Served,
        None => Intake::Waiting,
    })
}

/// Poll flows that read the same thing with one fetch; each flow's items become its
/// recorded runs, then run.
async fn poll_group(
    flows: &Arc<Flows>,
    pair: Option<&str>,
    group: &[(Deployed, Flow)],
) -> Result<(), String> {
    let apps = flows.apps(pair)?;
    let list: Vec<Flow> = group.iter().map(|(_, f)| f.clone()).collect();
    let mut ids: Vec<(usize, i64)> = Vec::new();
    let mut emit = |i: usize, item: TriggerItem| -> Result<(), String> {
        let (d, flow) = &group[i];
        if let Ok(id) = flows.enqueue(d, flow, &item)? {
            ids.push((i, id));
        }
        Ok(())
    };
    let results =
        hlbridge_flows::triggers::poll_shared(&apps, &flows.db_path, &list, false, &mut emit)
            .await
            .map_err(|e| e.to_string());
    for (i, id) in ids {
        flows.spawn_run(&group[i].0, id);
    }
    for (r, (d, _)) in results?.into_iter().zip(group) {
        if let Err(e) = r {
            tracing::warn!(flow = %d.name, error = %e, "flow poll failed");
        }
    }
    Ok(())
}

/// Poll the flow's trigger once; each item becomes a recorded run, then runs.
async fn poll(flows: &Arc<Flows>, d: &Deployed, flow: &Flow) -> Result<(), String> {
    let apps = flows.apps(d.pair.as_deref())?;
    let mut ids = Vec::new();
    let mut emit = |item: TriggerItem| -> Result<(), String> {
        if let Ok(id) = flows.enqueue(d, flow, &item)? {
            ids.push(id);
        }
        Ok(())
    };
    let summary =
        hlbridge_flows::triggers::poll_once(&apps, &flows.db_path, flow, false, &mut emit)
            .await
            .map_err(|e| e.to_string());
    for id in ids {
        flows.spawn_run(d, id);
    }
    summary.map(|_| ())
}

/// Fire the slots of `cron` that came since the last check.
fn schedule(
    flows: &Arc<Flows>,
    d: &Deployed,
    flow: &Flow,
    cron: &str,
    tz: Option<&str>,
) -> Result<(), String> {
    let now = Utc::now();
    let db = rusqlite::Connection::open(&flows.db_path).map_err(|e| e.to_string())?;
    db.busy_timeout(Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS flow_schedule_checks (flow TEXT PRIMARY KEY, checked TEXT NOT NULL)",
    )
    .map_err(|e| e.to_string())?;
    let checked: Option<String> = db
        .query_row(
            "SELECT checked FROM flow_schedule_checks WHERE flow = ?1",
            [&d.name],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| e.to_string())?;
    // First check after a deploy: from the deploy time (no slot before it fires).
    let since = checked
        .or_else(|| Some(d.deployed_at.clone()))
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    for slot in hlbridge_flows::triggers::due_slots(cron, tz, since, now)? {
        let item = hlbridge_flows::triggers::schedule_item(flow, slot);
        if let Ok(id) = flows.enqueue(d, flow, &item)? {
            flows.spawn_run(d, id);
        }
    }
    db.execute(
        "INSERT INTO flow_schedule_checks (flow, checked) VALUES (?1, ?2)
         ON CONFLICT(flow) DO UPDATE SET checked = excluded.checked",
        rusqlite::params![d.name, now.to_rfc3339()],
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// Delayed runs of `d` whose time came.
fn due_delays(flows: &Arc<Flows>, d: &Deployed) {
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let Ok(ids) = flows.runs.ids_with_status("waiting", Some(&now)) else {
        return;
    };
    for id in ids {
        if let Ok(Some(run)) = flows.runs.get(id) {
            if run.flow == d.name {
                // Marked running first so the next tick does not start it again.
                if flows.runs.finish_run(id, "running", None, None).is_ok() {
                    flows.spawn_run(d, id);
                }
            }
        }
    }
}
