//! Deletions in: complete id listings (contacts of both sides, and the full task and
//! comment listings of [`super::items`]) compared with the links. A linked record
//! missing from a complete listing is a deletion candidate ([`Gone`]); candidates go
//! to the plan's mass-deletion guard before anything is applied. Records of unlinked
//! ids that vanished are forgotten.

use std::collections::HashSet;

use super::Intake;
use crate::error::Result;
use crate::store::{Commit, Kind, Link, Side};

/// A linked record that vanished from `side`.
#[derive(Debug, Clone, PartialEq)]
pub struct Gone {
    pub kind: Kind,
    pub side: Side,
    pub link: Link,
}

impl Intake<'_> {
    /// Both sides' contact id listings against the contact links.
    pub async fn contact_deletions(&self) -> Result<Vec<Gone>> {
        let ghl_ids: HashSet<String> = self.ghl.all_ids().await?.into_iter().collect();
        let sellsy_ids: HashSet<String> = self.sellsy.all_ids().await?.into_iter().collect();
        let mut gone = Vec::new();
        for link in self.store.links(Kind::Contact, None)? {
            if link.state != "active" {
                continue;
            }
            let side = if !ghl_ids.contains(&link.ghl_id) {
                Side::Ghl
            } else if !sellsy_ids.contains(&link.sellsy_id) {
                Side::Sellsy
            } else {
                continue;
            };
            gone.push(Gone {
                kind: Kind::Contact,
                side,
                link,
            });
        }
        self.forget_unlinked(Kind::Contact, Side::Ghl, &ghl_ids)?;
        self.forget_unlinked(Kind::Contact, Side::Sellsy, &sellsy_ids)?;
        Ok(gone)
    }

    /// Item links of `kind` whose id on `side` is not in a complete listing `seen`
    /// (only links under `parents`, GHL contact ids, when given).
    pub fn item_deletions(
        &self,
        kind: Kind,
        side: Side,
        seen: &HashSet<String>,
        parents: Option<&[String]>,
    ) -> Result<Vec<Gone>> {
        let links = match parents {
            Some(ps) => {
                let mut all = Vec::new();
                for p in ps {
                    all.extend(self.store.links(kind, Some(p))?);
                }
                all
            }
            None => self.store.links(kind, None)?,
        };
        let gone = links
            .into_iter()
            .filter(|l| l.state == "active" && !seen.contains(l.id_of(side)))
            .map(|link| Gone { kind, side, link })
            .collect();
        if parents.is_none() {
            self.forget_unlinked(kind, side, seen)?;
        }
        Ok(gone)
    }

    /// Forget records of `side` that a complete listing no longer shows and no
    /// active link holds (a linked one is handled as a deletion).
    fn forget_unlinked(&self, kind: Kind, side: Side, seen: &HashSet<String>) -> Result<()> {
        let mut forget = Vec::new();
        for id in self.store.record_ids(side, kind)? {
            if seen.contains(&id) {
                continue;
            }
            let linked = self
                .store
                .link_by(kind, side, &id)?
                .is_some_and(|l| l.state == "active");
            if !linked {
                forget.push((side, kind, id));
            }
        }
        if !forget.is_empty() {
            self.store.commit(&Commit {
                forget,
                ..Commit::default()
            })?;
        }
        Ok(())
    }
}
