//! Flow templates: sandboxed [minijinja](https://docs.rs/minijinja) expressions over a
//! run's scope (`trigger`, `steps`, `pair`, `now`, `item`, `index`, `error`, `previous`).
//!
//! The sandbox: one environment built from `Environment::empty()` with only the filters,
//! tests and functions listed here (no loader, no includes), strict undefined (printing or
//! iterating a missing value is an error), a per-render fuel limit, a low recursion limit
//! and a cap on the rendered size ([`MAX_OUTPUT`]). Data from either app is only ever
//! passed as context, never spliced into template source.
//!
//! Typed rendering: a string that is exactly one `{{ expr }}` keeps the expression's JSON
//! type (`"{{ trigger.amount }}"` gives `12.5`, a list gives a list); any other string
//! renders to a string.
//!
//! # Filters
//!
//! Dates (input: RFC 3339, `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS`, `DD/MM/YYYY`, epoch
//! seconds or milliseconds, GHL's and Sellsy's timestamps; output RFC 3339 in UTC):
//! - `date`: `{{ "2024-05-01 10:00:00" | date }}` → `2024-05-01T10:00:00Z`
//! - `format_date(fmt, tz=...)`: `{{ t | format_date("%d/%m/%Y %H:%M", tz="Europe/Paris") }}`
//!   → `01/05/2024 12:00` (chrono `strftime` syntax; `tz` defaults to UTC)
//! - `to_tz(tz)`: `{{ "2024-05-01T10:00:00Z" | to_tz("Europe/Paris") }}` →
//!   `2024-05-01T12:00:00+02:00`
//! - `add_days(n, tz=...)`, `add_hours(n)`, `add_minutes(n)`: `{{ now | add_days(7) }}`;
//!   with `tz`, days are calendar days in that zone (same wall-clock time across DST)
//!
//! People and text:
//! - `e164(region="FR")`: `{{ "06 12 34 56 78" | e164 }}` → `+33612345678`
//! - `first_name` / `last_name`: `{{ "Marie Curie" | first_name }}` → `Marie`
//!   (`"Curie, Marie"` is read as last, first)
//! - `join_name(last)`: `{{ "Marie" | join_name("Curie") }}` → `Marie Curie`
//! - `slug`: `{{ "Été à Paris!" | slug }}` → `ete-a-paris`
//! - `lower`, `upper`, `title`, `capitalize`, `trim`, `replace(a, b)`
//! - `split(sep)`, `join(sep)`, `first`, `last`, `length`
//! - `default(x)`: `{{ trigger.missing.deep | default("x") }}` → `x` (missing keys at any
//!   depth; `default(x, true)` also replaces `none`, `""` and `false`)
//!
//! App data:
//! - `ghl_custom_field(key)`: `{{ trigger | ghl_custom_field("contact.budget") }}` — the
//!   value of a GHL contact's `customFields` entry by key (with or without `contact.`) or
//!   id; takes the contact or the list; `none` when absent
//! - `sellsy_custom_field(code)`: `{{ trigger | sellsy_custom_field("budget") }}` — from
//!   `_embed.custom_fields` (or the list) by `code`; `none` when absent
//! - `choice_label(options)` / `choice_id(options)`: `{{ "2" | choice_label([{"id": "2",
//!   "label": "Gold"}]) }}` → `Gold`; options a list of `{id, label}` or a map id → label
//! - `json_path(path)`: `{{ trigger | json_path("$.items[0].name") }}` (`.key`, `[n]`,
//!   `[-1]`, `['key']`, `[*]`); `none` when absent
//! - `tojson`, `fromjson`: `{{ '{"a":1}' | fromjson }}` → `{"a": 1}`
//!
//! Also: `count`, `dictsort`, `items`, `reverse`, `lines`, `round`, `abs`, `int`, `float`,
//! `attr`, `min`, `max`, `sort`, `list`, `string`, `bool`, `batch`, `slice`, `sum`,
//! `indent`, `select`, `reject`, `selectattr`, `rejectattr`, `map`, `groupby`, `unique`,
//! `chain`, `zip`, `format`. A filter given the wrong kind of input fails with an error
//! naming the filter and what it expected.
//!
//! # Conditions
//!
//! [`eval_conditions`] evaluates `all`/`any` groups of tests. The tested `value` renders
//! leniently (missing at any depth counts as absent, not an error); `arg` renders
//! strictly. Ops: `equals` / `not_equals` (numbers and text compare loosely: `3` equals
//! `"3"`), `contains` (substring, list element, or map key), `starts_with`, `exists`
//! (defined and not null), `empty` (absent, null, `""`, `[]`, `{}`), `greater_than` /
//! `less_than` (numbers, or dates when both parse), `in` (a list, or a comma-separated
//! string), `tag_present` (case-insensitive; tags as a list or `"a, b"`), `changed` (the
//! same template over `previous` as `trigger` differs; `arg: {from, to}` optional;
//! false when there is no previous item).
//!
//! Memory: output is capped while it is written; minijinja itself bounds a repeated
//! string at 100 MB, so a single expression can still allocate that much before failing.

mod builtin;
mod check;
mod conditions;
mod dates;
mod filters;
mod jsonpath;
mod rewrite;

use std::fmt;

use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::Value;

pub use builtin::{FUNCTIONS, TESTS};
pub use conditions::eval_conditions;

/// Instructions one render may execute.
pub const FUEL: u64 = 100_000;
/// Nesting depth allowed (macros, nested loops, deep expressions).
pub const RECURSION_LIMIT: usize = 32;
/// Largest rendered output, in bytes.
pub const MAX_OUTPUT: usize = 1024 * 1024;

/// Every filter name flows can use (for did-you-mean suggestions).
pub const FILTERS: &[&str] = &[
    "add_days",
    "add_hours",
    "add_minutes",
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "choice_id",
    "choice_label",
    "count",
    "d",
    "date",
    "default",
    "dictsort",
    "e164",
    "first",
    "first_name",
    "float",
    "format",
    "format_date",
    "fromjson",
    "ghl_custom_field",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "join_name",
    "json_path",
    "last",
    "last_name",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "select",
    "selectattr",
    "sellsy_custom_field",
    "slice",
    "slug",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "to_tz",
    "tojson",
    "trim",
    "unique",
    "upper",
    "zip",
];

/// A template that failed to compile, check or render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    /// Byte offset into the template source, when known.
    pub offset: Option<usize>,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TemplateError {}

impl TemplateError {
    fn new(message: impl Into<String>, offset: Option<usize>) -> TemplateError {
        TemplateError {
            message: message.into(),
            offset,
        }
    }
}

/// An error with the minijinja kind kept (conditions treat undefined as "absent").
pub(crate) struct Failure {
    pub(crate) kind: Option<ErrorKind>,
    pub(crate) error: TemplateError,
}

impl From<Failure> for TemplateError {
    fn from(f: Failure) -> TemplateError {
        f.error
    }
}

fn line_offset(src: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    src.match_indices('\n')
        .nth(line - 2)
        .map(|(i, _)| i + 1)
        .unwrap_or(src.len())
}

/// Convert a minijinja error; `exact` when `src` is the user's own source (offsets valid).
fn convert(e: &minijinja::Error, src: &str, exact: bool) -> Failure {
    let kind = e.kind();
    let mut message = match kind {
        ErrorKind::OutOfFuel => {
            format!("template ran out of fuel: it may execute at most {FUEL} steps per render")
        }
        _ => match e.detail() {
            Some(d) => format!("{kind}: {d}"),
            None => kind.to_string(),
        },
    };
    if kind == ErrorKind::UndefinedError && e.detail().is_none() {
        message.push_str(" (a missing value; use `| default(...)` to give one)");
    }
    let offset = match (exact, e.range()) {
        (true, Some(r)) => Some(r.start),
        _ => e.line().map(|l| line_offset(src, l)),
    };
    Failure {
        kind: Some(kind),
        error: TemplateError::new(message, offset),
    }
}

/// An error in the single expression `expr` (a slice of `src`): offsets moved to `src`.
fn in_expression(
    e: &minijinja::Error,
    original: &str,
    exact: bool,
    expr: &str,
    src: &str,
) -> Failure {
    let mut f = convert(e, original, false);
    let base = expr.as_ptr() as usize - src.as_ptr() as usize;
    f.error.offset = match (exact, e.range()) {
        (true, Some(r)) => Some(base + r.start),
        _ => None,
    };
    f
}

fn too_large(n: usize) -> Failure {
    Failure {
        kind: None,
        error: TemplateError::new(
            format!(
                "rendered output reached {n} bytes, over the cap of {MAX_OUTPUT} bytes (1 MiB)"
            ),
            None,
        ),
    }
}

/// A buffer refusing to grow past [`MAX_OUTPUT`].
struct Capped {
    buf: Vec<u8>,
    /// The size the output would have reached, once over the cap.
    over: Option<usize>,
}

impl std::io::Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let total = self.buf.len() + data.len();
        if total > MAX_OUTPUT {
            self.over = Some(total);
            return Err(std::io::Error::other("rendered output over the cap"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The sandboxed template engine (one per process, shared in an `Arc`).
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

impl Templates {
    pub fn new() -> Templates {
        let mut env = Environment::empty();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(RECURSION_LIMIT);
        env.set_debug(true);
        builtin::register(&mut env);
        filters::register(&mut env);
        dates::register(&mut env);
        env.add_function(rewrite::DIG, rewrite::dig);
        Templates { env }
    }

    /// Render a JSON value: every string in it (at any depth) is a template.
    pub fn render(&self, value: &Value, scope: &Value) -> Result<Value, TemplateError> {
        let ctx = minijinja::Value::from_serialize(scope);
        self.render_value(value, &ctx).map_err(TemplateError::from)
    }

    fn render_value(&self, value: &Value, ctx: &minijinja::Value) -> Result<Value, Failure> {
        Ok(match value {
            Value::String(s) => self.typed(s, ctx)?,
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|v| self.render_value(v, ctx))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| Ok((k.clone(), self.render_value(v, ctx)?)))
                    .collect::<Result<_, Failure>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Render one template string (typed when it is exactly one `{{ expr }}`).
    pub fn render_str(&self, t: &str, scope: &Value) -> Result<Value, TemplateError> {
        let ctx = minijinja::Value::from_serialize(scope);
        self.typed(t, &ctx).map_err(TemplateError::from)
    }

    pub(crate) fn typed(&self, t: &str, ctx: &minijinja::Value) -> Result<Value, Failure> {
        if !t.contains("{{") && !t.contains("{%") && !t.contains("{#") {
            return Ok(Value::String(t.to_string()));
        }
        let src = rewrite::defaults(t);
        let exact = matches!(src, std::borrow::Cow::Borrowed(_));
        if let Some(expr) = rewrite::single_expression(&src) {
            let compiled = self
                .env
                .compile_expression(expr)
                .map_err(|e| in_expression(&e, t, exact, expr, &src))?;
            let v = compiled
                .eval(ctx)
                .map_err(|e| in_expression(&e, t, exact, expr, &src))?;
            if !v.is_undefined() {
                let json = serde_json::to_value(&v).map_err(|e| Failure {
                    kind: None,
                    error: TemplateError::new(
                        format!("the value is not representable as JSON: {e}"),
                        None,
                    ),
                })?;
                let size = match &json {
                    Value::String(s) => s.len(),
                    Value::Array(_) | Value::Object(_) => json.to_string().len(),
                    _ => 0,
                };
                if size > MAX_OUTPUT {
                    return Err(too_large(size));
                }
                return Ok(json);
            }
            // Undefined: render as text so strict mode reports it with its position.
        }
        self.text(&src, t, exact, ctx).map(Value::String)
    }

    fn text(
        &self,
        src: &str,
        original: &str,
        exact: bool,
        ctx: &minijinja::Value,
    ) -> Result<String, Failure> {
        let env: &Environment<'_> = &self.env;
        let tmpl = env
            .template_from_str(src)
            .map_err(|e| convert(&e, original, exact))?;
        // Written through a capped buffer: output stops at the cap instead of growing.
        let mut out = Capped {
            buf: Vec::new(),
            over: None,
        };
        if let Err(e) = tmpl.render_captured_to(ctx, &mut out) {
            return Err(match out.over {
                Some(n) => too_large(n),
                None => convert(&e, original, exact),
            });
        }
        String::from_utf8(out.buf).map_err(|_| Failure {
            kind: None,
            error: TemplateError::new("rendered output is not valid UTF-8", None),
        })
    }

    /// Check a template without rendering it: syntax, unknown filters and tests, and root
    /// variables outside `roots`.
    pub fn check(&self, t: &str, roots: &[&str]) -> Result<(), TemplateError> {
        check::check(&self.env, t, roots)
    }
}
