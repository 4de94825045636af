//! Tasks and notes in canonical form: one converter per API shape, the merge specs
//! and the content match used to pair unlinked items (same title and due date, or
//! the same note text).

use serde_json::Value;

use crate::canonical::{FieldKind, Fields};
use crate::config::{ConflictPolicy, Direction};
use crate::merge::MergeField;
use crate::store::Kind;

/// Plain text of an HTML fragment (Sellsy comments are HTML).
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

/// `YYYY-MM-DDTHH:MM:SSZ` of any RFC 3339 time.
pub fn utc_seconds(s: &str) -> Option<String> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| {
        t.with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    })
}

fn text(v: Option<&str>) -> Option<Value> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(s.to_string()))
}

pub(crate) fn task_fields(
    title: Option<&str>,
    description: Option<&str>,
    due: Option<&str>,
    done: bool,
) -> Fields {
    let mut f = Fields::new();
    if let Some(v) = text(title) {
        f.insert("title".into(), v);
    }
    if let Some(v) = description
        .map(plain_text)
        .as_deref()
        .and_then(|d| text(Some(d)))
    {
        f.insert("description".into(), v);
    }
    if let Some(v) = due.and_then(utc_seconds) {
        f.insert("due".into(), Value::String(v));
    }
    f.insert("done".into(), Value::Bool(done));
    f
}

pub(crate) fn note_fields(body: Option<&str>) -> Fields {
    let mut f = Fields::new();
    if let Some(v) = body.map(plain_text).as_deref().and_then(|b| text(Some(b))) {
        f.insert("body".into(), v);
    }
    f
}

pub(crate) fn ghl_task_fields(t: &hlbridge_ghl::Task) -> Fields {
    task_fields(
        t.title.as_deref(),
        t.body.as_deref(),
        t.due_date.as_deref(),
        t.completed,
    )
}

pub(crate) fn sellsy_task_fields(t: &hlbridge_sellsy::Task) -> Fields {
    task_fields(
        t.title.as_deref(),
        t.description.as_deref(),
        t.due_date.as_deref(),
        t.is_done(),
    )
}

pub(crate) fn comment_fields(c: &hlbridge_sellsy::Comment) -> Fields {
    note_fields(c.description.as_deref())
}

pub(crate) fn ghl_note_fields(n: &hlbridge_ghl::Note) -> Fields {
    note_fields(n.body.as_deref())
}

/// Merge specs of a kind of item: every field both ways, newest wins.
pub(crate) fn specs(kind: Kind) -> Vec<MergeField> {
    let f = |name: &str, kind| MergeField {
        name: name.into(),
        kind,
        direction: Direction::Both,
        conflict: ConflictPolicy::NewestWins,
    };
    match kind {
        Kind::Task => vec![
            f("title", FieldKind::Text),
            f("description", FieldKind::Text),
            f("due", FieldKind::Text),
            f("done", FieldKind::Bool),
        ],
        _ => vec![f("body", FieldKind::Text)],
    }
}

pub(crate) fn get<'a>(f: &'a Fields, k: &str) -> Option<&'a str> {
    f.get(k).and_then(Value::as_str)
}

/// Whether two unlinked items are the same one (created on both sides, or a create
/// whose answer was lost).
pub(crate) fn same_item(kind: Kind, a: &Fields, b: &Fields) -> bool {
    match kind {
        Kind::Task => get(a, "title") == get(b, "title") && get(a, "due") == get(b, "due"),
        _ => get(a, "body") == get(b, "body"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_and_times_normalise() {
        assert_eq!(
            plain_text("<p>First meeting &amp; demo</p>"),
            "First meeting & demo"
        );
        assert_eq!(
            utc_seconds("2024-01-08T10:00:00.000Z").as_deref(),
            Some("2024-01-08T10:00:00Z")
        );
        assert_eq!(
            utc_seconds("2024-01-08T11:00:00+01:00").as_deref(),
            Some("2024-01-08T10:00:00Z")
        );
    }
}
