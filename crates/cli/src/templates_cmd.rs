//! `hlbridge templates list [--json]` and `hlbridge templates use NAME [--out FILE]
//! [--force]`: the flow template gallery ([`hlbridge_flows::catalog`]).
//!
//! `use` writes the template's flow file (default `NAME.flow.yaml` in the current
//! directory) and, for the two-part templates, its companion flow next to it
//! (`FILE-reverse.flow.yaml`, …). Nothing is overwritten without `--force`.
//!
//! Exit codes: 0 written/listed, 1 a file could not be written, 2 unknown template or
//! a file that already exists.

use std::path::{Path, PathBuf};

use hlbridge_flows::catalog;
use serde_json::json;

use crate::sync_cmd::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct TemplatesArgs {
    #[command(subcommand)]
    pub command: TemplatesCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TemplatesCommand {
    /// The templates: name, title and what each does.
    List {
        /// A JSON array of {name, title, description}.
        #[arg(long)]
        json: bool,
    },
    /// Write a template's flow file, ready to edit (`hlbridge flow validate` accepts it
    /// as written).
    Use {
        /// The template (`hlbridge templates list`).
        name: String,
        /// Where to write it (default NAME.flow.yaml in the current directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(args: TemplatesArgs) -> i32 {
    match args.command {
        TemplatesCommand::List { json } => list(json),
        TemplatesCommand::Use { name, out, force } => use_template(&name, out, force),
    }
}

fn list(as_json: bool) -> i32 {
    let all = catalog::list();
    if as_json {
        let items: Vec<_> = all
            .iter()
            .map(|t| json!({"name": t.name, "title": t.title, "description": t.description}))
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into())
        );
        return EXIT_OK;
    }
    let width = all.iter().map(|t| t.name.len()).max().unwrap_or(0);
    for t in &all {
        outln!("{:width$}  {}", t.name, t.title);
    }
    outln!("");
    outln!("Write one with: hlbridge templates use NAME [--out FILE]");
    EXIT_OK
}

fn use_template(name: &str, out: Option<PathBuf>, force: bool) -> i32 {
    let Some(template) = catalog::get(name) else {
        let hint = catalog::suggest(name)
            .map(|n| format!("; did you mean {n}?"))
            .unwrap_or_default();
        eprintln!("error: no template {name:?}{hint} (see `hlbridge templates list`)");
        return EXIT_USAGE;
    };
    let path = out.unwrap_or_else(|| PathBuf::from(format!("{}.flow.yaml", template.name)));
    let mut files = vec![(path.clone(), template.text)];
    if let Some(companion) = catalog::companion_of(template.name) {
        let other = catalog::companion_path(&path, template.name, companion.name);
        files.push((other, companion.text));
    }
    if !force {
        let existing: Vec<&Path> = files
            .iter()
            .map(|(p, _)| p.as_path())
            .filter(|p| p.exists())
            .collect();
        if !existing.is_empty() {
            for p in existing {
                eprintln!(
                    "error: {} already exists; give another --out FILE or add --force to overwrite it",
                    p.display()
                );
            }
            return EXIT_USAGE;
        }
    }
    for (p, text) in &files {
        if let Err(e) = std::fs::write(p, text) {
            eprintln!("error: cannot write {}: {e}", p.display());
            return EXIT_FAILED;
        }
        outln!("wrote {}", p.display());
    }
    if files.len() > 1 {
        outln!(
            "{} comes in {} flows (one per direction or app): edit and deploy each (`hlbridge flow deploy FILE`).",
            template.name,
            files.len()
        );
    }
    EXIT_OK
}
