//! `hlbridge flow validate FILE [--online]`: the file alone, then with `--online` what
//! the connected accounts know (custom fields of both apps, GHL pipelines and stages),
//! through the connections `sync` uses. Exit 0, or 2 with `FILE:LINE:COL: message`.

use std::path::PathBuf;

use hlbridge_core::call::CallInput;
use hlbridge_flows::validate::online::{self, Facts};
use serde_json::Value;

use crate::sync_cmd::{load_config, EXIT_FAILED, EXIT_OK, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    pub file: PathBuf,
    /// Also check custom fields and pipelines against the connected accounts.
    #[arg(long)]
    pub online: bool,
    /// The configuration file (connections as for `sync`), for `--online`.
    #[arg(long, default_value = "hlbridge.toml")]
    pub config: PathBuf,
}

fn text(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Fetch what the accounts have; an app that is not connected is left unchecked.
async fn facts(config: &std::path::Path) -> Result<(Facts, Vec<String>), String> {
    let cfg = load_config(config).map_err(|e| e.to_string())?;
    let apps = crate::flow_run::apps(&cfg, false).await?;
    let mut facts = Facts::default();
    let mut skipped = Vec::new();
    match &apps.ghl {
        Some(ghl) => {
            let fields = ghl
                .call("locations.get-custom-fields", CallInput::new())
                .await
                .map_err(|e| format!("GHL custom fields: {e}"))?;
            facts.ghl_fields = Some(
                fields["customFields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| Some((text(f, "id")?, text(f, "fieldKey").unwrap_or_default())))
                    .collect(),
            );
            let pipelines = ghl
                .call("opportunities.get-pipelines", CallInput::new())
                .await
                .map_err(|e| format!("GHL pipelines: {e}"))?;
            facts.pipelines = Some(
                pipelines["pipelines"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| {
                        let stages = p["stages"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|s| text(s, "id"))
                            .collect();
                        Some((text(p, "id")?, text(p, "name").unwrap_or_default(), stages))
                    })
                    .collect(),
            );
        }
        None => skipped.push("GHL (not connected)".to_string()),
    }
    match &apps.sellsy {
        Some(sellsy) => {
            let op =
                hlbridge_sellsy::operation("custom-fields.get-list").map_err(|e| e.to_string())?;
            let items = hlbridge_engine::triggers::sellsy_fetch(sellsy, op, &CallInput::new())
                .await
                .map_err(|e| format!("Sellsy custom fields: {e}"))?;
            let all: Vec<(String, String)> = items
                .iter()
                .filter_map(|f| Some((text(f, "id")?, text(f, "code").unwrap_or_default())))
                .collect();
            facts.sellsy_fields = Some(all);
        }
        None => skipped.push("Sellsy (not connected)".to_string()),
    }
    Ok((facts, skipped))
}

pub async fn run(args: ValidateArgs) -> i32 {
    let (flow, text) = match hlbridge_flows::validate::load(&args.file) {
        Ok(x) => x,
        Err(problems) => {
            for p in problems {
                eprintln!("{p}");
            }
            return EXIT_USAGE;
        }
    };
    if args.online {
        let (facts, skipped) = match facts(&args.config).await {
            Ok(f) => f,
            Err(e) => {
                eprintln!("flow validate --online: {e}");
                return EXIT_FAILED;
            }
        };
        let problems = online::check(&args.file.display().to_string(), &text, &flow, &facts);
        if !problems.is_empty() {
            for p in problems {
                eprintln!("{p}");
            }
            return EXIT_USAGE;
        }
        for s in skipped {
            eprintln!("--online: {s}: its fields were not checked");
        }
    }
    outln!("{}: ok", args.file.display());
    EXIT_OK
}
