//! The template gallery: ready-made flow files (`hlbridge templates list|use`,
//! `/api/templates`), embedded in the binary from `crates/flows/templates/`.
//!
//! A flow has one trigger, so a template that moves data both ways (or reads both apps)
//! is shipped as two flows: the template itself (one direction) and its *companion*
//! (the other), written together by `hlbridge templates use`. Each file validates as
//! written; its `title` and `description` (read from the file itself) say what it does
//! and which settings to edit.

use crate::did_you_mean::distance;
use crate::validate;

/// One template: its name, what it does, and the flow file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: &'static str,
    pub title: String,
    pub description: String,
    pub text: &'static str,
}

macro_rules! file {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../templates/", $name, ".flow.yaml")),
        )
    };
}

/// Every template, in gallery order: (name, flow file text).
const TEMPLATES: &[(&str, &str)] = &[
    file!("contact-sync-realtime"),
    file!("contact-two-way"),
    file!("task-sync-two-way"),
    file!("notes-centralized"),
    file!("task-on-contact-event"),
    file!("notes-archive"),
    file!("sellsy-company-to-ghl-business"),
    file!("ghl-opportunity-won-to-sellsy-task"),
    file!("ghl-appointment-to-sellsy-comment"),
    file!("sellsy-tag-to-ghl-workflow"),
    file!("ghl-new-contact-to-sellsy-prospect"),
];

/// The second flow of two-part templates: (template, companion name, its text).
const COMPANIONS: &[(&str, &str, &str)] = &[
    companion("contact-two-way", file!("contact-two-way-reverse")),
    companion("task-sync-two-way", file!("task-sync-two-way-reverse")),
    companion("notes-centralized", file!("notes-centralized-reverse")),
    companion("notes-archive", file!("notes-archive-sellsy")),
];

const fn companion(
    of: &'static str,
    (name, text): (&'static str, &'static str),
) -> (&'static str, &'static str, &'static str) {
    (of, name, text)
}

fn template(name: &'static str, text: &'static str) -> Template {
    // The files are checked by the catalog tests; a broken one still lists, untitled.
    let (title, description) = match validate::parse(name, text) {
        Ok(flow) => (
            flow.title.unwrap_or_default(),
            flow.description.unwrap_or_default(),
        ),
        Err(_) => (String::new(), String::new()),
    };
    Template {
        name,
        title,
        description: description.trim().to_string(),
        text,
    }
}

/// Every template, in gallery order.
pub fn list() -> Vec<Template> {
    TEMPLATES.iter().map(|(n, t)| template(n, t)).collect()
}

/// The template called `name`.
pub fn get(name: &str) -> Option<Template> {
    TEMPLATES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, t)| template(n, t))
}

/// The companion flow written with template `name` (the other direction, or the other
/// app), when the template has one.
pub fn companion_of(name: &str) -> Option<Template> {
    COMPANIONS
        .iter()
        .find(|(of, _, _)| *of == name)
        .map(|(_, n, t)| template(n, t))
}

/// The names of every template.
pub fn names() -> Vec<&'static str> {
    TEMPLATES.iter().map(|(n, _)| *n).collect()
}

/// The template name closest to `name` (for did-you-mean), when one is close enough:
/// the nearest by edit distance, or one containing `name`.
pub fn suggest(name: &str) -> Option<&'static str> {
    let want = name.trim().to_ascii_lowercase();
    if want.is_empty() {
        return None;
    }
    let best = TEMPLATES
        .iter()
        .map(|(n, _)| (distance(&want, n), *n))
        .min()
        .filter(|(d, n)| *d <= (want.len().max(n.len()) / 3).max(2))
        .map(|(_, n)| n);
    best.or_else(|| {
        TEMPLATES
            .iter()
            .map(|(n, _)| *n)
            .find(|n| n.contains(want.as_str()))
    })
}

/// Where the companion of a template written to `path` goes: `x.flow.yaml` →
/// `x-reverse.flow.yaml` (the suffix is the companion name's part after the
/// template's name).
pub fn companion_path(
    path: &std::path::Path,
    template: &str,
    companion: &str,
) -> std::path::PathBuf {
    let suffix = companion
        .strip_prefix(template)
        .unwrap_or(companion)
        .trim_start_matches('-');
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = file
        .strip_suffix(".flow.yaml")
        .or_else(|| file.strip_suffix(".yaml"))
        .or_else(|| file.strip_suffix(".yml"))
        .unwrap_or(&file);
    path.with_file_name(format!("{stem}-{suffix}.flow.yaml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_and_companion_paths() {
        assert_eq!(suggest("notes-archiv"), Some("notes-archive"));
        assert_eq!(suggest("contact-two"), Some("contact-two-way"));
        assert_eq!(suggest("zzzzzzzzzzzzzzzzzzzzzz"), None);
        assert_eq!(
            companion_path(
                std::path::Path::new("dir/mine.flow.yaml"),
                "contact-two-way",
                "contact-two-way-reverse"
            ),
            std::path::PathBuf::from("dir/mine-reverse.flow.yaml")
        );
        assert!(get("nope").is_none());
        assert!(companion_of("contact-two-way").is_some());
        assert!(companion_of("notes-archive").is_some());
        assert!(companion_of("contact-sync-realtime").is_none());
    }
}
