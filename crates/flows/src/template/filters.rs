//! The flow-specific filters (people, text, app data, JSON).

use minijinja::Environment;

pub(crate) fn register(_env: &mut Environment<'static>) {}
