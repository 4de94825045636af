//! GHL (LeadConnector API v2): `apps/*.json` + `common/common-schemas.json` + the catalog
//! TSV → `crates/ghl/src/generated/ops.rs`.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::ghl_overrides as ov;
use crate::ir::{
    kebab, template_params, AppIr, KindIr, Loc, OpIr, Paging, ParamIr, TableIr, Token, TyIr,
};
use crate::spec::Specs;

/// What the generic rules had to fill in; the overrides file asserts these match its lists.
#[derive(Debug, Default)]
pub struct Findings {
    /// `(METHOD, path, param)` path placeholders the spec did not declare.
    pub undeclared_path_params: BTreeSet<(String, String, String)>,
    /// `(METHOD, path)` operations without a `Version` header parameter.
    pub missing_version: BTreeSet<(String, String)>,
    /// `(METHOD, path)` operations without `security`.
    pub missing_security: BTreeSet<(String, String)>,
}

/// One row of `ghl-operations.tsv`.
#[derive(Debug, Clone)]
pub struct CatalogRow {
    pub category: String,
    pub kind: KindIr,
    pub name: String,
    pub method: String,
    pub path: String,
    pub scopes: String,
    pub spec_file: String,
    pub operation_id: String,
}

pub fn read_catalog(tsv: &str) -> Result<Vec<CatalogRow>> {
    let mut rows = Vec::new();
    for (i, line) in tsv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 8 {
            bail!(
                "ghl-operations.tsv line {}: expected at least 8 columns",
                i + 1
            );
        }
        let kind = match cols[1] {
            "trigger" => KindIr::Trigger,
            "action" => KindIr::Action,
            other => bail!("ghl-operations.tsv line {}: unknown kind {other}", i + 1),
        };
        rows.push(CatalogRow {
            category: cols[0].to_string(),
            kind,
            name: cols[2].to_string(),
            method: cols[3].to_ascii_uppercase(),
            path: cols[4].to_string(),
            scopes: cols[5].to_string(),
            spec_file: cols[6].to_string(),
            operation_id: cols[7].to_string(),
        });
    }
    Ok(rows)
}

/// Catalog category → slug.
pub fn category_slug(category: &str) -> Result<&'static str> {
    Ok(match category {
        "Contacts" => "contacts",
        "Calendars" => "calendars",
        "Opportunities" => "opportunities",
        "Users" => "users",
        "Conversations" => "conversations",
        "Businesses" => "businesses",
        "Workflows & Campaigns" => "workflows-campaigns",
        "Other" => "other",
        other => bail!("unknown catalog category {other:?}"),
    })
}

fn scheme_token(scheme: &str) -> Option<Option<Token>> {
    match scheme {
        "bearer" | "Location-Access" | "Location-Access-Only" => Some(Some(Token::Location)),
        "Agency-Access" | "Agency-Access-Only" => Some(Some(Token::Agency)),
        _ => None,
    }
}

/// Kind for operations outside the catalog: reads are triggers.
pub fn default_kind(method: &str, path: &str, operation_id: &str) -> KindIr {
    let opid = operation_id.to_ascii_lowercase();
    let read = method == "GET"
        || (method == "POST"
            && (path.trim_end_matches('/').ends_with("/search")
                || ["search", "get", "list"]
                    .iter()
                    .any(|p| opid.starts_with(p))));
    if read {
        KindIr::Trigger
    } else {
        KindIr::Action
    }
}

fn version_of(param: &Value) -> Option<String> {
    let schema = param.get("schema");
    schema
        .and_then(|s| s.get("enum"))
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .or_else(|| schema.and_then(|s| s.get("example")))
        .or_else(|| schema.and_then(|s| s.get("default")))
        .or_else(|| param.get("example"))
        .and_then(Value::as_str)
        .map(String::from)
}

pub fn generate(shared: &Path) -> Result<TableIr> {
    let ghl = shared.join("specs/ghl");
    let mut specs = Specs::new();
    let common_path = ghl.join("common/common-schemas.json");
    let common: Value = serde_json::from_str(
        &fs::read_to_string(&common_path)
            .with_context(|| format!("reading {}", common_path.display()))?,
    )?;
    specs.add("common", "common-schemas.json", common);

    let mut groups = Vec::new();
    let apps = ghl.join("apps");
    let mut entries: Vec<_> = fs::read_dir(&apps)
        .with_context(|| format!("reading {}", apps.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
        .collect();
    entries.sort();
    for path in entries {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .context("bad file name")?
            .to_string();
        let doc: Value = serde_json::from_str(&fs::read_to_string(&path)?)
            .with_context(|| format!("parsing {}", path.display()))?;
        specs.add(&stem, &format!("{stem}.json"), doc);
        groups.push(stem);
    }

    let mut findings = Findings::default();
    let mut ops: Vec<OpIr> = Vec::new();
    for group in &groups {
        let raws: Vec<(String, String, Value, Value)> = specs
            .operations(group)
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
        let doc_security = specs.doc(group).get("security").cloned();
        for (m, path, op_v, item_v) in raws {
            let raw = crate::spec::RawOp {
                method: leak_method(&m),
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
            let kid = kebab(&operation_id);
            let id = format!("{group}.{kid}");
            let hint = id.clone();

            let mut version = None;
            let mut params: Vec<ParamIr> = Vec::new();
            for (p, raw_p) in specs.params(group, &raw, &hint)? {
                if p.location == Loc::Header && p.name.eq_ignore_ascii_case("Version") {
                    version = version_of(&raw_p);
                    continue;
                }
                if p.location == Loc::Header && p.name.eq_ignore_ascii_case("Authorization") {
                    continue;
                }
                params.push(p);
            }
            add_undeclared_path_params(&method, &path, &mut params, &mut findings);
            if version.is_none() {
                findings
                    .missing_version
                    .insert((method.clone(), path.clone()));
                version = ov::default_version(group, &method, &path).map(String::from);
            }

            let body = specs.body(group, &raw, &format!("{hint}.body"))?;
            let (success_status, response) =
                specs.response(group, &raw, &format!("{hint}.response"))?;
            let (token_types, scopes) = match specs.security(
                &raw,
                doc_security.as_ref(),
                scheme_token,
            )? {
                Some(sec) if !sec.0.is_empty() => sec,
                _ => {
                    findings
                        .missing_security
                        .insert((method.clone(), path.clone()));
                    let (t, s) = ov::missing_security(&method, &path)
                        .with_context(|| format!("{method} {path} declares no security and the overrides file has no entry for it"))?;
                    (t.to_vec(), s.iter().map(|x| x.to_string()).collect())
                }
            };
            let summary = op_v
                .get("summary")
                .and_then(Value::as_str)
                .unwrap_or(&operation_id)
                .trim()
                .to_string();
            ops.push(OpIr {
                id,
                group: group.clone(),
                category: group.clone(),
                kind: default_kind(&method, &path, &operation_id),
                name: summary,
                catalog: false,
                alias_of: None,
                operation_id,
                method,
                path,
                params,
                body,
                version,
                token_types,
                scopes,
                pagination: Paging::None,
                response_key: None,
                success_status,
                response,
                deprecated: op_v
                    .get("deprecated")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            });
        }
    }

    let mut table = TableIr {
        app: AppIr::Ghl,
        ops,
        schemas: std::mem::take(&mut specs.schemas),
    };
    ov::check_findings(&findings)?;
    ov::apply(&mut table)?;

    let tsv_path = shared.join("specs/ghl-operations.tsv");
    let tsv =
        fs::read_to_string(&tsv_path).with_context(|| format!("reading {}", tsv_path.display()))?;
    apply_catalog(&mut table, &read_catalog(&tsv)?)?;

    for op in &mut table.ops {
        op.pagination = pagination(op);
    }
    finish(&mut table)?;
    Ok(table)
}

fn leak_method(m: &str) -> &'static str {
    crate::spec::METHODS
        .iter()
        .copied()
        .find(|x| *x == m)
        .unwrap_or("get")
}

/// Every `{name}` in the template must be a declared path parameter; add what is missing.
pub fn add_undeclared_path_params(
    method: &str,
    path: &str,
    params: &mut Vec<ParamIr>,
    findings: &mut Findings,
) {
    for name in template_params(path) {
        if params
            .iter()
            .any(|p| p.location == Loc::Path && p.name == name)
        {
            continue;
        }
        findings.undeclared_path_params.insert((
            method.to_string(),
            path.to_string(),
            name.clone(),
        ));
        let at = params
            .iter()
            .rposition(|p| p.location == Loc::Path)
            .map(|i| i + 1)
            .unwrap_or(0);
        params.insert(
            at,
            ParamIr {
                name,
                location: Loc::Path,
                ty: TyIr::String,
                required: true,
            },
        );
    }
}

fn apply_catalog(table: &mut TableIr, rows: &[CatalogRow]) -> Result<()> {
    for row in rows {
        let slug = category_slug(&row.category)?;
        let Some(pos) = table
            .ops
            .iter()
            .position(|o| o.alias_of.is_none() && o.is(&row.method, &row.path))
        else {
            bail!(
                "catalog row {:?}: no operation {} {}",
                row.name,
                row.method,
                row.path
            );
        };
        let file_stem = row
            .spec_file
            .trim_start_matches("apps/")
            .trim_end_matches(".json");
        let op = &table.ops[pos];
        if op.group != file_stem || op.operation_id != row.operation_id {
            bail!(
                "catalog row {:?}: {} {} is {}/{} in the spec, the TSV says {}/{}",
                row.name,
                row.method,
                row.path,
                op.group,
                op.operation_id,
                file_stem,
                row.operation_id
            );
        }
        if op.catalog {
            let mut alias = op.clone();
            alias.id = format!("{}.{}", op.group, kebab(&row.name));
            alias.alias_of = Some(op.id.clone());
            alias.name = row.name.clone();
            alias.kind = row.kind;
            alias.category = slug.to_string();
            let after = table.ops[pos + 1..]
                .iter()
                .take_while(|o| o.alias_of.as_deref() == Some(&op.id))
                .count();
            table.ops.insert(pos + 1 + after, alias);
        } else {
            let op = &mut table.ops[pos];
            op.catalog = true;
            op.name = row.name.clone();
            op.kind = row.kind;
            op.category = slug.to_string();
        }
        let op = &table.ops[pos];
        let tsv_scope = row.scopes.split_whitespace().next().unwrap_or("");
        if op.scopes.is_empty() {
            bail!(
                "catalog op {} ({} {}) has no scopes; add it to ghl_overrides::CATALOG_SCOPES",
                op.id,
                op.method,
                op.path
            );
        }
        if !tsv_scope.is_empty() && !op.scopes.iter().any(|s| s == tsv_scope) {
            eprintln!(
                "note: {} {}: spec scopes {:?}, catalog says {tsv_scope}",
                op.method, op.path, op.scopes
            );
        }
    }
    Ok(())
}

/// Pagination style from the query parameters.
pub fn pagination(op: &OpIr) -> Paging {
    let q = |n: &str| op.has_query(n);
    if op.is("POST", "/contacts/search") {
        Paging::SearchAfter
    } else if q("startAfterId") || q("startAfter") {
        Paging::StartAfter
    } else if q("lastMessageId") {
        Paging::LastMessageId
    } else if q("startAfterDate") {
        Paging::StartAfterDate
    } else if q("skip") {
        Paging::SkipLimit
    } else if q("offset") {
        Paging::OffsetLimit
    } else if q("page") && q("limit") {
        Paging::PageLimit
    } else if (q("startTime") && q("endTime")) || (q("startDate") && q("endDate")) {
        Paging::TimeWindow
    } else {
        Paging::None
    }
}

/// Response keys, unreachable-schema pruning and the table-wide checks shared by both apps.
pub fn finish(table: &mut TableIr) -> Result<()> {
    finish_with(table, &ENVELOPE_KEYS)
}

/// `finish` with the app's list of envelope keys (not the payload).
pub fn finish_with(table: &mut TableIr, envelope: &[&str]) -> Result<()> {
    for i in 0..table.ops.len() {
        if table.ops[i].response_key.is_none() {
            let key = response_key(table, table.ops[i].response.as_ref(), envelope);
            table.ops[i].response_key = key;
        }
    }
    prune(table);
    validate(table)
}

const ENVELOPE_KEYS: [&str; 7] = [
    "traceId", "total", "count", "meta", "succeded", "success", "message",
];

fn response_key(table: &TableIr, response: Option<&TyIr>, envelope: &[&str]) -> Option<String> {
    let Some(TyIr::Object(Some(name))) = response else {
        return None;
    };
    let schema = table.schemas.get(name)?;
    let mut keys = schema
        .fields
        .iter()
        .filter(|f| !envelope.contains(&f.name.as_str()));
    match (keys.next(), keys.next()) {
        (Some(k), None) => Some(k.name.clone()),
        _ => None,
    }
}

fn refs(t: &TyIr, out: &mut Vec<String>) {
    match t {
        TyIr::Object(Some(n)) => out.push(n.clone()),
        TyIr::Array(inner) => refs(inner, out),
        _ => {}
    }
}

fn prune(table: &mut TableIr) {
    let mut todo: Vec<String> = Vec::new();
    for op in &table.ops {
        for p in &op.params {
            refs(&p.ty, &mut todo);
        }
        if let Some(b) = &op.body {
            refs(&b.ty, &mut todo);
        }
        if let Some(r) = &op.response {
            refs(r, &mut todo);
        }
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    while let Some(n) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        if let Some(s) = table.schemas.get(&n) {
            for f in &s.fields {
                refs(&f.ty, &mut todo);
            }
        }
    }
    table.schemas.retain(|k, _| seen.contains(k));
}

fn validate(table: &TableIr) -> Result<()> {
    let mut ids = BTreeSet::new();
    for op in &table.ops {
        if !ids.insert(op.id.as_str()) {
            let others: Vec<String> = table
                .ops
                .iter()
                .filter(|o| o.id == op.id)
                .map(|o| format!("{} {}", o.method, o.path))
                .collect();
            bail!(
                "duplicate operation id {} ({}); add a rename to the overrides",
                op.id,
                others.join(", ")
            );
        }
        for name in template_params(&op.path) {
            if !op
                .params
                .iter()
                .any(|p| p.location == Loc::Path && p.name == name)
            {
                bail!("{}: path param {name} not declared", op.id);
            }
        }
    }
    let mut distinct = BTreeSet::new();
    for op in table.ops.iter().filter(|o| o.alias_of.is_none()) {
        if !distinct.insert((op.method.as_str(), op.path.as_str())) {
            bail!("two operations serve {} {}", op.method, op.path);
        }
    }
    let mut all = Vec::new();
    for op in &table.ops {
        op.params.iter().for_each(|p| refs(&p.ty, &mut all));
        if let Some(b) = &op.body {
            refs(&b.ty, &mut all);
        }
        if let Some(r) = &op.response {
            refs(r, &mut all);
        }
    }
    for s in table.schemas.values() {
        s.fields.iter().for_each(|f| refs(&f.ty, &mut all));
    }
    for n in all {
        if !table.schemas.contains_key(&n) {
            bail!("schema {n} is referenced but not defined");
        }
    }
    Ok(())
}
