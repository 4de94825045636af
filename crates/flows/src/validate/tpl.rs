//! Template strings: syntax, filters, tests and root variables, checked with the
//! runtime's own environment ([`crate::template::Templates::check`]) and placed at the
//! character of the file where the problem is.

use super::{Checker, Problem};

/// What every step's templates see.
pub const STEP_ROOTS: &[&str] = &["trigger", "previous", "steps", "pair", "now"];

impl Checker<'_> {
    /// Check `s` when it holds template syntax, with the variables in scope.
    pub(super) fn template(&mut self, s: &str) {
        if !(s.contains("{{") || s.contains("{%") || s.contains("{#")) {
            return;
        }
        let roots: Vec<&str> = self.roots.clone();
        let Err(e) = self.templates.check(s, &roots) else {
            return;
        };
        let first_line = s.lines().next().unwrap_or(s);
        let start = self
            .find_from(self.from, first_line)
            .or_else(|| self.find_from(0, first_line));
        let offset = match (start, e.offset) {
            // Inside the first line, the template's text is the file's text.
            (Some(o), Some(k)) if k <= first_line.len() && first_line.is_char_boundary(k) => {
                Some(o + k)
            }
            (o, _) => o,
        };
        let (line, col) = offset.map_or((1, 1), |o| self.position(o));
        self.problems.push(Problem {
            file: self.file.to_string(),
            line,
            col,
            message: format!("template: {}", e.message),
        });
    }

    /// Run `f` with `extra` variables in scope (`item`/`index` in a loop, `error` in
    /// error handlers, `find` in a lookup's `found`).
    pub(super) fn with_roots(&mut self, extra: &[&'static str], f: impl FnOnce(&mut Self)) {
        let before = self.roots.len();
        self.roots.extend_from_slice(extra);
        f(self);
        self.roots.truncate(before);
    }
}
