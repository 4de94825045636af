//! `hlbridge ops list`: the operation catalog.

use hlbridge_core::optable::{Kind, Operation, Table};
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Which API: ghl (default) or sellsy.
    #[arg(long, default_value = "ghl", value_parser = ["ghl", "sellsy"])]
    pub app: String,
    /// Only this category (e.g. contacts, calendars, workflows-campaigns).
    #[arg(long)]
    pub category: Option<String>,
    /// Only triggers (reads) or actions (writes).
    #[arg(long, value_parser = ["trigger", "action"])]
    pub kind: Option<String>,
    /// Only the named operations of the hlbridge catalog, grouped by category.
    #[arg(long)]
    pub catalog: bool,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn table_for(app: &str) -> &'static Table {
    match app {
        "sellsy" => &hlbridge_sellsy::TABLE,
        _ => &hlbridge_ghl::TABLE,
    }
}

/// The entries a listing shows. Without filters: one entry per operation of the
/// spec. With `--category`, `--kind` or `--catalog`: catalog entries, where an
/// operation may stand under two names (Search Contacts / Find Contact).
pub fn select<'t>(table: &'t Table, args: &ListArgs) -> Vec<&'t Operation> {
    let by_entry = args.catalog || args.category.is_some() || args.kind.is_some();
    table
        .operations
        .iter()
        .filter(|op| {
            if by_entry {
                true
            } else {
                op.alias_of.is_none()
            }
        })
        .filter(|op| !args.catalog || op.catalog)
        .filter(|op| {
            args.category
                .as_deref()
                .is_none_or(|c| op.category.eq_ignore_ascii_case(c))
        })
        .filter(|op| args.kind.as_deref().is_none_or(|k| op.kind.as_str() == k))
        .collect()
}

pub fn to_json(op: &Operation) -> Value {
    json!({
        "id": op.id,
        "app": op.app.as_str(),
        "category": op.category,
        "kind": op.kind.as_str(),
        "name": op.name,
        "method": op.method.as_str(),
        "path": op.path,
        "scopes": op.scopes,
        "tokenTypes": op.token_types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "version": op.version,
        "pagination": op.pagination.as_str(),
        "catalog": op.catalog,
        "aliasOf": op.alias_of,
        "deprecated": op.deprecated,
        "params": op.params.iter().map(|p| json!({
            "name": p.name, "in": p.location.as_str(), "type": p.ty.describe(), "required": p.required,
        })).collect::<Vec<_>>(),
    })
}

pub fn run(args: &ListArgs) -> i32 {
    let table = table_for(&args.app);
    let ops = select(table, args);
    if args.json {
        let list: Vec<Value> = ops.iter().map(|op| to_json(op)).collect();
        outln!("{}", Value::Array(list));
        return 0;
    }
    let mut categories: Vec<&str> = Vec::new();
    for op in &ops {
        if !categories.contains(&op.category) {
            categories.push(op.category);
        }
    }
    for category in categories {
        let in_cat: Vec<&&Operation> = ops.iter().filter(|op| op.category == category).collect();
        let triggers = in_cat.iter().filter(|op| op.kind == Kind::Trigger).count();
        outln!(
            "{category} ({} operations: {triggers} triggers, {} actions)",
            in_cat.len(),
            in_cat.len() - triggers
        );
        for op in in_cat {
            outln!(
                "  {:<7} {:<48} {:<6} {:<44} {}",
                op.kind.as_str(),
                op.id,
                op.method.as_str(),
                op.path,
                op.name
            );
        }
    }
    outln!("{} operations", ops.len());
    0
}
