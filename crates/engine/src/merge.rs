//! The three-way, per-field merge of a linked pair: each side's current value against
//! the shadow (what both sides last agreed on). Pure: no I/O.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::canonical::{is_empty, FieldKind, Fields};
use crate::config::{ConflictPolicy, Direction};
use crate::mapping::ghl::Changes;
use crate::store::Side;

/// A field as the merge sees it.
#[derive(Debug, Clone)]
pub struct MergeField {
    pub name: String,
    pub kind: FieldKind,
    pub direction: Direction,
    pub conflict: ConflictPolicy,
}

/// One side of the pair.
#[derive(Debug, Clone, Copy)]
pub struct SideView<'a> {
    pub fields: &'a Fields,
    /// The side's update time (RFC 3339), for newest-wins.
    pub updated: Option<&'a str>,
}

/// What to do.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Plan {
    pub to_ghl: Changes,
    pub to_sellsy: Changes,
    /// The shadow after the writes succeed.
    pub shadow: BTreeMap<String, Value>,
    /// Fields left for a human: (field, GHL value, Sellsy value).
    pub manual: Vec<(String, Value, Value)>,
}

impl Plan {
    pub fn is_noop(&self) -> bool {
        self.to_ghl.is_empty() && self.to_sellsy.is_empty()
    }
}

/// Shadow key of the tags Sellsy keeps although GHL removed them (no unlink API).
pub const STUCK_TAGS: &str = "tags#sellsy_only";

fn newer(a: Option<&str>, b: Option<&str>) -> Ordering {
    let parse = |s: Option<&str>| s.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    match (parse(a), parse(b)) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => Ordering::Equal,
    }
}

fn set_of(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn set_value(s: &BTreeSet<String>) -> Option<Value> {
    (!s.is_empty()).then(|| Value::Array(s.iter().cloned().map(Value::String).collect()))
}

/// Merge `ghl` and `sellsy` field by field. `shadow` empty = first sight of the pair.
/// `blocked` fields (open manual conflicts) are left alone.
pub fn merge(
    fields: &[MergeField],
    ghl: SideView<'_>,
    sellsy: SideView<'_>,
    shadow: &BTreeMap<String, Value>,
    empty_overwrites: bool,
    blocked: &[String],
) -> Plan {
    let mut plan = Plan::default();
    let first_sight = shadow.is_empty();
    for f in fields {
        if f.kind == FieldKind::Tags {
            merge_tags(f, ghl, sellsy, shadow, &mut plan);
            continue;
        }
        let g = ghl.fields.get(&f.name);
        let s = sellsy.fields.get(&f.name);
        let sh = shadow.get(&f.name);
        if g == s {
            if let Some(v) = g {
                plan.shadow.insert(f.name.clone(), v.clone());
            }
            continue;
        }
        let keep_shadow = |plan: &mut Plan| {
            if let Some(v) = sh {
                plan.shadow.insert(f.name.clone(), v.clone());
            }
        };
        if blocked.contains(&f.name) {
            keep_shadow(&mut plan);
            continue;
        }
        let g_changed = first_sight || g != sh;
        let s_changed = first_sight || s != sh;
        let winner = match f.direction {
            Direction::ToGhl => s_changed.then_some(Side::Sellsy),
            Direction::ToSellsy => g_changed.then_some(Side::Ghl),
            Direction::Both => match (g_changed, s_changed) {
                (true, false) => Some(Side::Ghl),
                (false, true) => Some(Side::Sellsy),
                (false, false) => None,
                (true, true) => {
                    if first_sight && is_empty(g) != is_empty(s) {
                        // First link: fill the gaps from whichever side has a value.
                        Some(if is_empty(g) { Side::Sellsy } else { Side::Ghl })
                    } else {
                        match f.conflict {
                            ConflictPolicy::GhlWins => Some(Side::Ghl),
                            ConflictPolicy::SellsyWins => Some(Side::Sellsy),
                            ConflictPolicy::NewestWins => {
                                match newer(ghl.updated, sellsy.updated) {
                                    Ordering::Less => Some(Side::Sellsy),
                                    _ => Some(Side::Ghl),
                                }
                            }
                            ConflictPolicy::Manual => {
                                plan.manual.push((
                                    f.name.clone(),
                                    g.cloned().unwrap_or(Value::Null),
                                    s.cloned().unwrap_or(Value::Null),
                                ));
                                None
                            }
                        }
                    }
                }
            },
        };
        let Some(winner) = winner else {
            keep_shadow(&mut plan);
            continue;
        };
        let (value, loser_value) = match winner {
            Side::Ghl => (g, s),
            Side::Sellsy => (s, g),
        };
        if is_empty(value) && !is_empty(loser_value) && !empty_overwrites {
            keep_shadow(&mut plan);
            continue;
        }
        let target = match winner {
            Side::Ghl => &mut plan.to_sellsy,
            Side::Sellsy => &mut plan.to_ghl,
        };
        target.insert(f.name.clone(), value.cloned());
        if let Some(v) = value {
            plan.shadow.insert(f.name.clone(), v.clone());
        }
    }
    plan
}

/// Tags merge as sets: additions and removals of each side since the shadow are
/// applied to the shadow. Sellsy tags cannot be unlinked, so the ones GHL dropped
/// are remembered (`STUCK_TAGS`) and ignored on the Sellsy side afterwards.
fn merge_tags(
    f: &MergeField,
    ghl: SideView<'_>,
    sellsy: SideView<'_>,
    shadow: &BTreeMap<String, Value>,
    plan: &mut Plan,
) {
    let stuck = set_of(shadow.get(STUCK_TAGS));
    let g = set_of(ghl.fields.get(&f.name));
    let s: BTreeSet<String> = set_of(sellsy.fields.get(&f.name))
        .difference(&stuck)
        .cloned()
        .collect();
    let sh = set_of(shadow.get(&f.name));
    let to_ghl = f.direction != Direction::ToSellsy;
    let to_sellsy = f.direction != Direction::ToGhl;
    let mut result: BTreeSet<String> = sh.clone();
    if to_sellsy {
        result.extend(g.difference(&sh).cloned());
        for gone in sh.difference(&g) {
            result.remove(gone);
        }
    }
    if to_ghl {
        result.extend(s.difference(&sh).cloned());
        if shadow.contains_key(&f.name) {
            for gone in sh.difference(&s) {
                result.remove(gone);
            }
        }
    }
    if !to_sellsy {
        // Only Sellsy feeds GHL: GHL's own tags stay as they are.
        result = result.union(&g).cloned().collect();
    }
    if to_ghl && result != g {
        plan.to_ghl.insert(f.name.clone(), set_value(&result));
    }
    if to_sellsy && !result.is_subset(&s) {
        plan.to_sellsy.insert(f.name.clone(), set_value(&result));
    }
    let now_stuck: BTreeSet<String> = stuck
        .union(&s.difference(&result).cloned().collect())
        .filter(|t| !result.contains(*t))
        .cloned()
        .collect();
    if let Some(v) = set_value(&result) {
        plan.shadow.insert(f.name.clone(), v);
    } else if !shadow.is_empty() || !g.is_empty() || !s.is_empty() {
        plan.shadow.insert(f.name.clone(), Value::Array(vec![]));
    }
    if let Some(v) = set_value(&now_stuck) {
        plan.shadow.insert(STUCK_TAGS.to_string(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str, kind: FieldKind, conflict: ConflictPolicy) -> MergeField {
        MergeField {
            name: name.into(),
            kind,
            direction: Direction::Both,
            conflict,
        }
    }

    fn fields(v: Value) -> Fields {
        crate::canonical::from_value(&v)
    }

    #[test]
    fn one_sided_change_flows_and_echo_is_a_noop() {
        let specs = [field("city", FieldKind::Text, ConflictPolicy::NewestWins)];
        let sh = fields(json!({"city": "Paris"}));
        let g = fields(json!({"city": "Lyon"}));
        let s = fields(json!({"city": "Paris"}));
        let view = |f| SideView {
            fields: f,
            updated: None,
        };
        let p = merge(&specs, view(&g), view(&s), &sh, false, &[]);
        assert_eq!(p.to_sellsy.get("city"), Some(&Some(json!("Lyon"))));
        assert!(p.to_ghl.is_empty());
        let p = merge(&specs, view(&g), view(&g), &p.shadow, false, &[]);
        assert!(p.is_noop());
    }

    #[test]
    fn both_changed_follow_the_policy() {
        let sh = fields(json!({"city": "Paris"}));
        let g = fields(json!({"city": "Lyon"}));
        let s = fields(json!({"city": "Nice"}));
        let gv = SideView {
            fields: &g,
            updated: Some("2026-01-01T10:00:00Z"),
        };
        let sv = SideView {
            fields: &s,
            updated: Some("2026-01-01T11:00:00+00:00"),
        };
        let p = merge(
            &[field("city", FieldKind::Text, ConflictPolicy::NewestWins)],
            gv,
            sv,
            &sh,
            false,
            &[],
        );
        assert_eq!(p.to_ghl.get("city"), Some(&Some(json!("Nice"))));
        let p = merge(
            &[field("city", FieldKind::Text, ConflictPolicy::GhlWins)],
            gv,
            sv,
            &sh,
            false,
            &[],
        );
        assert_eq!(p.to_sellsy.get("city"), Some(&Some(json!("Lyon"))));
        let p = merge(
            &[field("city", FieldKind::Text, ConflictPolicy::Manual)],
            gv,
            sv,
            &sh,
            false,
            &[],
        );
        assert!(p.is_noop());
        assert_eq!(p.manual.len(), 1);
    }

    #[test]
    fn empty_never_overwrites_unless_configured() {
        let sh = fields(json!({"city": "Paris"}));
        let g = fields(json!({}));
        let s = fields(json!({"city": "Paris"}));
        let view = |f| SideView {
            fields: f,
            updated: None,
        };
        let specs = [field("city", FieldKind::Text, ConflictPolicy::NewestWins)];
        assert!(merge(&specs, view(&g), view(&s), &sh, false, &[]).is_noop());
        let p = merge(&specs, view(&g), view(&s), &sh, true, &[]);
        assert_eq!(p.to_sellsy.get("city"), Some(&None));
    }

    #[test]
    fn tags_merge_as_sets_and_removed_tags_stuck_in_sellsy_do_not_come_back() {
        let specs = [field("tags", FieldKind::Tags, ConflictPolicy::NewestWins)];
        let view = |f| SideView {
            fields: f,
            updated: None,
        };
        let g = fields(json!({"tags": ["a", "b"]}));
        let s = fields(json!({"tags": ["c"]}));
        let p = merge(&specs, view(&g), view(&s), &BTreeMap::new(), false, &[]);
        assert_eq!(p.to_ghl.get("tags"), Some(&Some(json!(["a", "b", "c"]))));
        assert_eq!(p.shadow.get("tags"), Some(&json!(["a", "b", "c"])));
        // GHL drops `a`; Sellsy cannot unlink it.
        let g2 = fields(json!({"tags": ["b", "c"]}));
        let s2 = fields(json!({"tags": ["a", "b", "c"]}));
        let p2 = merge(&specs, view(&g2), view(&s2), &p.shadow, false, &[]);
        assert!(p2.is_noop(), "{p2:?}");
        let p3 = merge(&specs, view(&g2), view(&s2), &p2.shadow, false, &[]);
        assert!(p3.is_noop(), "{p3:?}");
    }
}
