//! What a stored webhook event does: GHL `INSTALL` / `UNINSTALL` add and remove
//! location connections; record events become targeted syncs of the pairs using that
//! GHL location or Sellsy account. Events are hints: the record is read again from the
//! API before anything is written, and polling catches up with any event lost.

use std::sync::Arc;

use futures::future::BoxFuture;
use hlbridge_engine::webhooks::{ghl_hint, sellsy_hint};
use serde_json::Value;

use crate::api::Lead;
use crate::webhooks::{EventHandler, Outcome, StoredEvent};

pub struct Events {
    pub lead: Arc<Lead>,
    /// Deployed flows with a webhook trigger get a run per matching event.
    pub flows: Option<Arc<crate::flows::Flows>>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Events {
    async fn ghl(&self, event: &Value) -> Result<Outcome, String> {
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let location = text(event, "locationId");
        let company = text(event, "companyId");
        let accounts = &self.lead.accounts;
        match kind {
            "INSTALL" => {
                let Some(company) = company else {
                    return Ok(Outcome::Ignored);
                };
                let mut locations: Vec<String> = location.into_iter().collect();
                if let Some(ids) = event.get("locationIds").and_then(Value::as_array) {
                    locations.extend(ids.iter().filter_map(|v| v.as_str().map(str::to_string)));
                }
                let mut added = 0;
                for loc in locations {
                    if accounts
                        .on_install(&company, &loc)
                        .await
                        .map_err(|e| e.to_string())?
                        .is_some()
                    {
                        added += 1;
                    }
                }
                Ok(if added > 0 {
                    Outcome::Done
                } else {
                    Outcome::Ignored
                })
            }
            "UNINSTALL" => {
                let removed = accounts
                    .on_uninstall(location.as_deref(), company.as_deref())
                    .map_err(|e| e.to_string())?;
                let _ = self.lead.runner.reload();
                Ok(if removed.is_empty() {
                    Outcome::Ignored
                } else {
                    Outcome::Done
                })
            }
            _ => {
                let (Some(hint), Some(loc)) = (ghl_hint(event), location) else {
                    return Ok(Outcome::Ignored);
                };
                let sent = self
                    .lead
                    .runner
                    .route_hint(Some(&loc), None, hint)
                    .map_err(|e| e.to_string())?;
                Ok(if sent > 0 {
                    Outcome::Done
                } else {
                    Outcome::Ignored
                })
            }
        }
    }

    fn sellsy(&self, body: &str, event: &Value) -> Result<Outcome, String> {
        let Some(hint) = sellsy_hint(body.as_bytes()) else {
            return Ok(Outcome::Ignored);
        };
        let Some(corp) = text(event, "corpid").or_else(|| text(event, "corpId")) else {
            return Ok(Outcome::Ignored);
        };
        let sent = self
            .lead
            .runner
            .route_hint(None, Some(&corp), hint)
            .map_err(|e| e.to_string())?;
        Ok(if sent > 0 {
            Outcome::Done
        } else {
            Outcome::Ignored
        })
    }
}

impl EventHandler for Events {
    fn handle<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Result<Outcome, String>> {
        Box::pin(async move {
            let json = event.json();
            // The same stored event feeds the flows (a run per matching flow, keyed by
            // the event id) and the sync (a targeted cycle).
            let runs = match &self.flows {
                Some(flows) => flows.on_event(&event.app, &json, &event.webhook_id)?,
                None => 0,
            };
            let outcome = match event.app.as_str() {
                "ghl" => self.ghl(&json).await,
                "sellsy" => self.sellsy(&event.body, &json),
                _ => Ok(Outcome::Ignored),
            }?;
            Ok(if runs > 0 { Outcome::Done } else { outcome })
        })
    }
}
