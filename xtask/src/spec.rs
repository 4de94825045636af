//! Walks OpenAPI 3 documents held as `serde_json::Value` (YAML is parsed into the same
//! shape) and turns operations and schemas into the generator's IR.

use std::collections::{BTreeMap, HashSet};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::ir::{BodyIr, Encoding, FieldIr, Loc, ParamIr, SchemaIr, Token, TyIr};

pub const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// A set of documents that may reference each other, each known by the prefix its schemas
/// get in the table (`contacts`, `common`, `sellsy`).
pub struct Specs {
    docs: BTreeMap<String, Value>,
    /// File name of a referenced document (as written in `$ref`, last path segment) → prefix.
    files: BTreeMap<String, String>,
    /// Schemas built so far, by qualified name.
    pub schemas: BTreeMap<String, SchemaIr>,
    /// Named schemas already resolved (qualified name → the type a reference to it means).
    named: BTreeMap<String, TyIr>,
    in_progress: HashSet<String>,
}

/// A raw operation as found in a document.
pub struct RawOp<'a> {
    pub method: &'static str,
    pub path: &'a str,
    pub op: &'a Value,
    pub path_item: &'a Value,
}

impl Specs {
    pub fn new() -> Specs {
        Specs {
            docs: BTreeMap::new(),
            files: BTreeMap::new(),
            schemas: BTreeMap::new(),
            named: BTreeMap::new(),
            in_progress: HashSet::new(),
        }
    }

    pub fn add(&mut self, prefix: &str, file_name: &str, doc: Value) {
        self.docs.insert(prefix.to_string(), doc);
        self.files.insert(file_name.to_string(), prefix.to_string());
    }

    pub fn doc(&self, prefix: &str) -> &Value {
        &self.docs[prefix]
    }

    /// Operations of a document in document order.
    pub fn operations<'a>(&'a self, prefix: &str) -> Vec<RawOp<'a>> {
        let mut out = Vec::new();
        if let Some(paths) = self.docs[prefix].get("paths").and_then(Value::as_object) {
            for (path, item) in paths {
                for m in METHODS {
                    if let Some(op) = item.get(m) {
                        out.push(RawOp {
                            method: m,
                            path,
                            op,
                            path_item: item,
                        });
                    }
                }
            }
        }
        out
    }

    /// Follow `$ref` chains; returns the prefix of the document holding the target.
    pub fn deref<'a>(&'a self, prefix: &str, v: &'a Value) -> Result<(String, &'a Value)> {
        let mut prefix = prefix.to_string();
        let mut v = v;
        for _ in 0..32 {
            let Some(r) = v.get("$ref").and_then(Value::as_str) else {
                return Ok((prefix, v));
            };
            let (p, target) = self.lookup(&prefix, r)?;
            prefix = p;
            v = target;
        }
        bail!("$ref loop at {prefix}")
    }

    fn lookup<'a>(&'a self, prefix: &str, r: &str) -> Result<(String, &'a Value)> {
        let (file, pointer) = r
            .split_once('#')
            .ok_or_else(|| anyhow!("unsupported $ref {r}"))?;
        let target_prefix = if file.is_empty() {
            prefix.to_string()
        } else {
            let name = file.rsplit('/').next().unwrap_or(file);
            self.files
                .get(name)
                .cloned()
                .ok_or_else(|| anyhow!("$ref to unknown document {file}"))?
        };
        let doc = self
            .docs
            .get(&target_prefix)
            .ok_or_else(|| anyhow!("no document {target_prefix}"))?;
        let v = doc
            .pointer(pointer)
            .ok_or_else(|| anyhow!("dangling $ref {r} in {prefix}"))?;
        Ok((target_prefix, v))
    }

    /// The type of a schema; inline objects are hoisted under `hint`.
    pub fn ty(&mut self, prefix: &str, schema: &Value, hint: &str) -> Result<TyIr> {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let name = r
                .strip_prefix("#/components/schemas/")
                .or_else(|| r.split_once("#/components/schemas/").map(|(_, n)| n));
            let (target_prefix, _) = self.lookup(prefix, r)?;
            return match name {
                Some(name) if !name.contains('/') => self.named_ty(&target_prefix, name),
                _ => {
                    let (p, v) = self.deref(prefix, schema)?;
                    let v = v.clone();
                    self.ty(&p, &v, hint)
                }
            };
        }
        if let Some(alts) = schema
            .get("oneOf")
            .or_else(|| schema.get("anyOf"))
            .and_then(Value::as_array)
        {
            if alts.len() == 1 && schema.get("properties").is_none() {
                let alt = alts[0].clone();
                return self.ty(prefix, &alt, hint);
            }
            return Ok(TyIr::Any);
        }
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            if parts.len() == 1 && schema.get("properties").is_none() {
                let part = parts[0].clone();
                return self.ty(prefix, &part, hint);
            }
            return self.hoist(prefix, schema, hint);
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            if !values.is_empty() && values.iter().all(Value::is_string) {
                return Ok(TyIr::Enum(
                    values
                        .iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect(),
                ));
            }
        }
        let ty = schema.get("type").and_then(Value::as_str);
        match ty {
            Some("string") => Ok(TyIr::String),
            Some("integer") => Ok(TyIr::Integer),
            Some("number") => Ok(TyIr::Number),
            Some("boolean") => Ok(TyIr::Boolean),
            Some("array") => {
                let inner = match schema.get("items") {
                    Some(items) => {
                        let items = items.clone();
                        self.ty(prefix, &items, hint)?
                    }
                    None => TyIr::Any,
                };
                Ok(TyIr::Array(Box::new(inner)))
            }
            Some("object") | None if has_properties(schema) => self.hoist(prefix, schema, hint),
            Some("object") => Ok(TyIr::Object(None)),
            _ => Ok(TyIr::Any),
        }
    }

    /// A reference to `#/components/schemas/{name}` in document `prefix`.
    fn named_ty(&mut self, prefix: &str, name: &str) -> Result<TyIr> {
        let qualified = format!("{prefix}.{name}");
        if let Some(t) = self.named.get(&qualified) {
            return Ok(t.clone());
        }
        let pointer = format!(
            "#/components/schemas/{}",
            name.replace('~', "~0").replace('/', "~1")
        );
        let (_, schema) = self.lookup(prefix, &pointer)?;
        let schema = schema.clone();
        if is_object_like(&schema) {
            let t = TyIr::Object(Some(qualified.clone()));
            self.named.insert(qualified.clone(), t.clone());
            self.build_schema(prefix, &schema, &qualified)?;
            Ok(t)
        } else {
            if !self.in_progress.insert(qualified.clone()) {
                return Ok(TyIr::Any);
            }
            let t = self.ty(prefix, &schema, &qualified)?;
            self.in_progress.remove(&qualified);
            self.named.insert(qualified, t.clone());
            Ok(t)
        }
    }

    fn hoist(&mut self, prefix: &str, schema: &Value, hint: &str) -> Result<TyIr> {
        if self.schemas.contains_key(hint) {
            bail!("two inline schemas would both be named {hint}");
        }
        self.build_schema(prefix, schema, hint)?;
        Ok(TyIr::Object(Some(hint.to_string())))
    }

    fn build_schema(&mut self, prefix: &str, schema: &Value, name: &str) -> Result<()> {
        // Reserve the name first so recursive references see it.
        self.schemas.insert(
            name.to_string(),
            SchemaIr {
                name: name.to_string(),
                fields: vec![],
                open: false,
            },
        );
        let mut props: Vec<(String, String, Value)> = Vec::new(); // (prefix, name, schema)
        let mut required: HashSet<String> = HashSet::new();
        let mut open = false;
        self.collect(prefix, schema, &mut props, &mut required, &mut open, 0)?;
        if props.is_empty() {
            open = true;
        }
        let mut fields: Vec<FieldIr> = Vec::new();
        for (p, prop_name, prop) in props {
            let ty = self.ty(&p, &prop, &format!("{name}.{prop_name}"))?;
            let nullable = prop
                .get("nullable")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let field = FieldIr {
                required: required.contains(&prop_name),
                name: prop_name,
                ty,
                nullable,
            };
            if let Some(existing) = fields.iter_mut().find(|f| f.name == field.name) {
                *existing = field;
            } else {
                fields.push(field);
            }
        }
        self.schemas.insert(
            name.to_string(),
            SchemaIr {
                name: name.to_string(),
                fields,
                open,
            },
        );
        Ok(())
    }

    fn collect(
        &self,
        prefix: &str,
        schema: &Value,
        props: &mut Vec<(String, String, Value)>,
        required: &mut HashSet<String>,
        open: &mut bool,
        depth: usize,
    ) -> Result<()> {
        if depth > 16 {
            bail!("allOf nesting too deep in {prefix}");
        }
        let (prefix, schema) = self.deref(prefix, schema)?;
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            for part in parts {
                self.collect(&prefix, part, props, required, open, depth + 1)?;
            }
        }
        if let Some(map) = schema.get("properties").and_then(Value::as_object) {
            for (k, v) in map {
                props.push((prefix.clone(), k.clone(), v.clone()));
            }
        }
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            required.extend(req.iter().filter_map(|r| r.as_str().map(String::from)));
        }
        match schema.get("additionalProperties") {
            Some(Value::Bool(true)) | Some(Value::Object(_)) => *open = true,
            _ => {}
        }
        Ok(())
    }

    /// Path-item and operation parameters, `$ref`s resolved, operation ones winning.
    pub fn params(
        &mut self,
        prefix: &str,
        raw: &RawOp<'_>,
        hint: &str,
    ) -> Result<Vec<(ParamIr, Value)>> {
        let mut list: Vec<Value> = Vec::new();
        for src in [raw.path_item.get("parameters"), raw.op.get("parameters")] {
            if let Some(arr) = src.and_then(Value::as_array) {
                list.extend(arr.iter().cloned());
            }
        }
        let mut out: Vec<(ParamIr, Value)> = Vec::new();
        for p in list {
            let (pp, p) = self.deref(prefix, &p)?;
            let p = p.clone();
            let name = p
                .get("name")
                .and_then(Value::as_str)
                .context("parameter without name")?
                .to_string();
            let location = match p.get("in").and_then(Value::as_str) {
                Some("path") => Loc::Path,
                Some("query") => Loc::Query,
                Some("header") => Loc::Header,
                _ => continue,
            };
            let ty = match p.get("schema") {
                Some(s) => self.ty(&pp, s, &format!("{hint}.{name}"))?,
                None => TyIr::String,
            };
            let required = location == Loc::Path
                || p.get("required").and_then(Value::as_bool).unwrap_or(false);
            let param = ParamIr {
                name,
                location,
                ty,
                required,
            };
            if let Some(i) = out
                .iter()
                .position(|(q, _)| q.name == param.name && q.location == param.location)
            {
                out[i] = (param, p);
            } else {
                out.push((param, p));
            }
        }
        Ok(out)
    }

    pub fn body(&mut self, prefix: &str, raw: &RawOp<'_>, hint: &str) -> Result<Option<BodyIr>> {
        let Some(rb) = raw.op.get("requestBody") else {
            return Ok(None);
        };
        let (pp, rb) = self.deref(prefix, rb)?;
        let rb = rb.clone();
        let required = rb.get("required").and_then(Value::as_bool).unwrap_or(false);
        let Some(content) = rb.get("content").and_then(Value::as_object) else {
            return Ok(Some(BodyIr {
                encoding: Encoding::Json,
                required,
                ty: TyIr::Any,
            }));
        };
        let pick = |want: &str| content.iter().find(|(k, _)| k.starts_with(want));
        let (encoding, media) = if let Some((_, m)) = pick("application/json") {
            (Encoding::Json, m)
        } else if let Some((_, m)) = pick("application/x-www-form-urlencoded") {
            (Encoding::Form, m)
        } else if let Some((_, m)) = pick("multipart/form-data") {
            (Encoding::Multipart, m)
        } else if let Some((k, _)) = content.iter().next() {
            bail!(
                "unsupported request content type {k} at {} {}",
                raw.method,
                raw.path
            );
        } else {
            return Ok(Some(BodyIr {
                encoding: Encoding::Json,
                required,
                ty: TyIr::Any,
            }));
        };
        let ty = match media.get("schema") {
            Some(s) => self.ty(&pp, s, hint)?,
            None => TyIr::Any,
        };
        Ok(Some(BodyIr {
            encoding,
            required,
            ty,
        }))
    }

    /// `(success status, response type)`: the lowest 2xx with JSON content, else the lowest 2xx.
    pub fn response(
        &mut self,
        prefix: &str,
        raw: &RawOp<'_>,
        hint: &str,
    ) -> Result<(u16, Option<TyIr>)> {
        let mut codes: Vec<(u16, Value)> = Vec::new();
        if let Some(map) = raw.op.get("responses").and_then(Value::as_object) {
            for (code, r) in map {
                if let Ok(c) = code.parse::<u16>() {
                    if (200..300).contains(&c) {
                        codes.push((c, r.clone()));
                    }
                }
            }
        }
        codes.sort_by_key(|(c, _)| *c);
        for (code, r) in &codes {
            let (pp, r) = self.deref(prefix, r)?;
            let r = r.clone();
            let json = r.get("content").and_then(Value::as_object).and_then(|c| {
                c.iter()
                    .find(|(k, _)| k.contains("json"))
                    .map(|(_, m)| m.clone())
            });
            if let Some(schema) = json.and_then(|m| m.get("schema").cloned()) {
                let ty = self.ty(&pp, &schema, hint)?;
                return Ok((*code, Some(ty)));
            }
        }
        Ok((codes.first().map(|(c, _)| *c).unwrap_or(200), None))
    }

    /// Token types and scopes from a `security` requirement list; `map` names the token
    /// type of each scheme (None = unknown scheme, an error).
    pub fn security(
        &self,
        raw: &RawOp<'_>,
        doc_security: Option<&Value>,
        map: impl Fn(&str) -> Option<Option<Token>>,
    ) -> Result<Option<(Vec<Token>, Vec<String>)>> {
        let Some(reqs) = raw
            .op
            .get("security")
            .or(doc_security)
            .and_then(Value::as_array)
        else {
            return Ok(None);
        };
        let mut tokens: Vec<Token> = Vec::new();
        let mut scopes: Vec<String> = Vec::new();
        for req in reqs {
            let Some(obj) = req.as_object() else { continue };
            for (scheme, list) in obj {
                match map(scheme) {
                    Some(Some(t)) => {
                        if !tokens.contains(&t) {
                            tokens.push(t);
                        }
                    }
                    Some(None) => {}
                    None => bail!(
                        "unknown security scheme {scheme} at {} {}",
                        raw.method,
                        raw.path
                    ),
                }
                for s in list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if !scopes.iter().any(|x| x == s) {
                        scopes.push(s.to_string());
                    }
                }
            }
        }
        tokens.sort();
        Ok(Some((tokens, scopes)))
    }

    /// True when a qualified schema name exists.
    pub fn has_schema(&self, name: &str) -> bool {
        self.schemas.contains_key(name)
    }
}

impl Default for Specs {
    fn default() -> Self {
        Specs::new()
    }
}

fn has_properties(schema: &Value) -> bool {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
}

/// Whether a named schema becomes a `Schema` (vs. an alias of a scalar/array/enum type).
fn is_object_like(schema: &Value) -> bool {
    if schema.get("$ref").is_some()
        || schema.get("oneOf").is_some()
        || schema.get("anyOf").is_some()
    {
        return false;
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => true,
        Some(_) => false,
        None => schema.get("properties").is_some() || schema.get("allOf").is_some(),
    }
}
