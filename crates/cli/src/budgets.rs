//! Rate budgets shared by every process using the same state database: the CLI,
//! `watch`, `sync` and `serve` together stay within each GHL location's windows and
//! each Sellsy account's quotas.

use std::sync::Arc;

use hlbridge_accounts::Budgets;
use hlbridge_core::rate::{RateBudget, SharedSlots};

/// Budgets backed by the state database at `database_url` (`sqlite://PATH`). When it
/// cannot be opened, each process paces alone (and says so once).
pub fn shared_for(database_url: &str) -> Budgets {
    let Ok(path) = hlbridge_accounts::sqlite_path(database_url) else {
        return Budgets::default();
    };
    match SharedSlots::open(&path) {
        Ok(slots) => Budgets {
            ghl: Some(Arc::new(
                RateBudget::ghl_default().with_shared(slots.clone()),
            )),
            sellsy: Some(Arc::new(
                hlbridge_sellsy::flavor::default_budget().with_shared(slots),
            )),
        },
        Err(e) => {
            tracing::warn!("shared rate budget unavailable ({e}); pacing this process alone");
            Budgets::default()
        }
    }
}
