//! Plan: decide what to write from change records, shadows and links, and hand every
//! write to the outbox. Matching before any create (links → GHL `source` marker →
//! e-mail → phone; same title and due date or same text for items), the three-way
//! merge per field against the shadow (echoes and no-ops write nothing), conflicts,
//! direction and scope rules, and the mass-deletion guard.

pub mod contacts;
pub mod guard;
pub mod items;
pub(crate) mod landed;
pub(crate) mod tally;

use crate::context::Ctx;

/// The plan stage.
pub(crate) struct Planner<'a> {
    pub cx: &'a Ctx,
}

impl std::ops::Deref for Planner<'_> {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        self.cx
    }
}

impl Ctx {
    pub fn plan(&self) -> Planner<'_> {
        Planner { cx: self }
    }
}
