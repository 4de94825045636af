//! Sellsy API v2: `specs/sellsy/sellsy-v2-subset.yaml` → `crates/sellsy/src/generated/ops.rs`.
//!
//! Sellsy has a single kind of token (an OAuth2 access token for one account), so every
//! operation's `token_types` is empty; `scopes` come from the `oauth2` requirement.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::ghl::{add_undeclared_path_params, default_kind, finish_with, Findings};
use crate::ir::{kebab, AppIr, Loc, OpIr, Paging, ParamIr, TableIr};
use crate::spec::{RawOp, Specs, METHODS};

/// Keys besides the payload in Sellsy bodies (`{data, pagination}` lists).
const ENVELOPE_KEYS: [&str; 8] = [
    "traceId",
    "total",
    "count",
    "meta",
    "succeded",
    "success",
    "message",
    "pagination",
];

pub fn generate(shared: &Path) -> Result<TableIr> {
    let path = shared.join("specs/sellsy/sellsy-v2-subset.yaml");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let doc: Value =
        serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut specs = Specs::new();
    specs.add("sellsy", "sellsy-v2-subset.yaml", doc);
    let doc_security = specs.doc("sellsy").get("security").cloned();

    let raws: Vec<(String, String, Value, Value)> = specs
        .operations("sellsy")
        .into_iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.path.to_string(),
                r.op.clone(),
                r.path_item.clone(),
            )
        })
        .collect();
    let mut findings = Findings::default();
    let mut ops = Vec::new();
    for (m, path, op_v, item_v) in raws {
        let method_lc: &'static str = METHODS.iter().copied().find(|x| *x == m).unwrap_or("get");
        let raw = RawOp {
            method: method_lc,
            path: &path,
            op: &op_v,
            path_item: &item_v,
        };
        let method = m.to_ascii_uppercase();
        let operation_id = op_v
            .get("operationId")
            .and_then(Value::as_str)
            .context("operation without operationId")?
            .to_string();
        let segment = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        if segment.is_empty() || segment.starts_with('{') {
            bail!("{method} {path}: no leading path segment to group by");
        }
        // Konfig-style operationIds are `{Tag}_{name}`; keep the name.
        let short = operation_id
            .split_once('_')
            .map(|(_, n)| n)
            .unwrap_or(&operation_id);
        let id = format!("{segment}.{}", kebab(short));
        let hint = format!("sellsy.{id}");

        let mut params: Vec<ParamIr> = specs
            .params("sellsy", &raw, &hint)?
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| {
                !(p.location == Loc::Header && p.name.eq_ignore_ascii_case("Authorization"))
            })
            .collect();
        add_undeclared_path_params(&method, &path, &mut params, &mut findings);
        let body = specs.body("sellsy", &raw, &format!("{hint}.body"))?;
        let (success_status, response) =
            specs.response("sellsy", &raw, &format!("{hint}.response"))?;
        let scopes = match specs.security(&raw, doc_security.as_ref(), |s| {
            (s == "oauth2").then_some(None)
        })? {
            Some((_, scopes)) => scopes,
            None => Vec::new(),
        };
        let is_search = method == "POST" && path.trim_end_matches('/').ends_with("/search");
        let has_q = |n: &str| {
            params
                .iter()
                .any(|p| p.location == Loc::Query && p.name == n)
        };
        let pagination = if is_search || has_q("offset") || has_q("limit") {
            Paging::Seek
        } else {
            Paging::None
        };
        let summary = op_v
            .get("summary")
            .and_then(Value::as_str)
            .unwrap_or(&operation_id)
            .trim()
            .to_string();
        ops.push(OpIr {
            id,
            group: segment.clone(),
            category: segment,
            kind: default_kind(&method, &path, short),
            name: summary,
            catalog: false,
            alias_of: None,
            operation_id,
            method,
            path,
            params,
            body,
            version: None,
            token_types: Vec::new(),
            scopes,
            pagination,
            response_key: None,
            success_status,
            response,
            deprecated: op_v
                .get("deprecated")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        });
    }
    if !findings.undeclared_path_params.is_empty() {
        eprintln!(
            "note: Sellsy spec leaves path params undeclared: {:?}",
            findings.undeclared_path_params
        );
    }
    let mut table = TableIr {
        app: AppIr::Sellsy,
        ops,
        schemas: std::mem::take(&mut specs.schemas),
    };
    finish_with(&mut table, &ENVELOPE_KEYS)?;
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_drop_the_tag_prefix() {
        let short = |s: &'static str| kebab(s.split_once('_').map(|(_, n)| n).unwrap_or(s));
        assert_eq!(short("Contacts_getList"), "get-list");
        assert_eq!(short("Contacts_createContact"), "create-contact");
    }
}
