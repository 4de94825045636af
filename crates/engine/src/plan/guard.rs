//! The mass-deletion guard: a cycle that would archive or delete more than a share
//! (default 10 %) of the linked records of a kind, or more than a count (default 50),
//! applies none of that kind's deletions and says why. A truncated listing, an API
//! answering an empty page, or a bulk delete by mistake on one side then costs a
//! confirmation (`hlbridge sync --once --confirm-deletions`), not the other side's data.

use std::collections::BTreeMap;

use crate::intake::deletions::Gone;
use crate::store::Kind;

/// What the guard let through and what it held.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Guarded {
    pub apply: Vec<Gone>,
    pub held: u64,
    /// One sentence per kind held.
    pub reasons: Vec<String>,
}

/// Sort deletion candidates into applied and held, per kind. `linked(kind)` is the
/// number of active links of that kind before the cycle.
pub fn guard(
    gone: Vec<Gone>,
    linked: impl Fn(Kind) -> u64,
    share: f64,
    max: u64,
    confirmed: bool,
) -> Guarded {
    let mut by_kind: BTreeMap<Kind, Vec<Gone>> = BTreeMap::new();
    for g in gone {
        by_kind.entry(g.kind).or_default().push(g);
    }
    let mut out = Guarded::default();
    for (kind, items) in by_kind {
        let n = items.len() as u64;
        let total = linked(kind);
        let too_many = n > max || (n as f64) > share * total as f64;
        if too_many && !confirmed {
            out.held += n;
            out.reasons.push(format!(
                "{n} linked {kind}s of {total} vanished from one side this cycle (more than {}% or {max}): \
                 none archived or deleted; check the accounts, then run `hlbridge sync --once --confirm-deletions`",
                (share * 100.0).round(),
                kind = kind.as_str(),
            ));
        } else {
            out.apply.extend(items);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Link, Side};

    fn gone(kind: Kind, n: usize) -> Vec<Gone> {
        (0..n)
            .map(|i| Gone {
                kind,
                side: Side::Ghl,
                link: Link::new(kind, &format!("g{i}"), &format!("s{i}")),
            })
            .collect()
    }

    #[test]
    fn holds_a_kind_over_the_share_or_the_count() {
        let linked = |k: Kind| if k == Kind::Contact { 1000 } else { 20 };
        // 60 contacts > 50; 2 tasks of 20 = 10 %: not more than 10 %.
        let mut all = gone(Kind::Contact, 60);
        all.extend(gone(Kind::Task, 2));
        let g = guard(all.clone(), linked, 0.10, 50, false);
        assert_eq!(g.held, 60);
        assert_eq!(g.apply.len(), 2);
        assert!(g.reasons[0].contains("60 linked contacts of 1000"));
        // 3 tasks of 20 = 15 %: held.
        let g = guard(gone(Kind::Task, 3), linked, 0.10, 50, false);
        assert_eq!((g.held, g.apply.len()), (3, 0));
        // Confirmed: everything applies.
        let g = guard(all, linked, 0.10, 50, true);
        assert_eq!((g.held, g.apply.len()), (0, 62));
    }
}
