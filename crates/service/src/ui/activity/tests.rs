//! Paging and filters of the activity timeline on an in-memory database.

use super::*;

fn db() -> rusqlite::Connection {
    let c = rusqlite::Connection::open_in_memory().unwrap();
    crate::db::migrate(&c).unwrap();
    c.execute_batch(
        "CREATE TABLE flow_runs (id INTEGER PRIMARY KEY, flow TEXT, started TEXT,
         status TEXT, error TEXT, failed_step TEXT)",
    )
    .unwrap();
    // 70 cycles and 70 runs, five entries of each kind per timestamp.
    for i in 0..70 {
        let at = format!("2026-12-07T10:{:02}:00.000Z", i / 5);
        c.execute(
            "INSERT INTO service_sync_cycles (pair, started, finished, targeted, status, summary, report)
             VALUES (?1, ?2, ?2, 0, ?3, 's', '{}')",
            rusqlite::params![if i % 2 == 0 { "p1" } else { "p2" }, at, "ok"],
        )
        .unwrap();
        c.execute(
            "INSERT INTO flow_runs (flow, started, status) VALUES ('f', ?1, ?2)",
            rusqlite::params![at, if i % 7 == 0 { "failed" } else { "ok" }],
        )
        .unwrap();
    }
    c
}

fn all_pages(c: &rusqlite::Connection, mut q: ActivityQuery) -> Vec<(String, &'static str, i64)> {
    let mut seen = Vec::new();
    loop {
        // No flow is deployed for any pair here.
        let pair_flows = (!q.pair.is_empty()).then(Vec::new);
        let mut page = load(c, &q, pair_flows).unwrap();
        let more = page.len() > PAGE;
        page.truncate(PAGE);
        seen.extend(page.iter().map(|e| (e.at.clone(), e.kind, e.id)));
        if !more {
            return seen;
        }
        let last = page.last().unwrap();
        q.before = format!("{}~{}~{}", last.at, last.kind, last.id);
    }
}

#[test]
fn pages_cover_every_entry_once_in_order_despite_equal_times() {
    let c = db();
    let seen = all_pages(&c, ActivityQuery::default());
    assert_eq!(seen.len(), 140);
    let unique: std::collections::BTreeSet<_> = seen.iter().map(|(_, k, i)| (*k, *i)).collect();
    assert_eq!(unique.len(), 140, "no entry twice");
    for pair in seen.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            a.0 > b.0 || (a.0 == b.0 && (a.1 < b.1 || (a.1 == b.1 && a.2 > b.2))),
            "out of order: {a:?} then {b:?}"
        );
    }
}

#[test]
fn filters_narrow_both_sources() {
    let c = db();
    let q = |f: fn(&mut ActivityQuery)| {
        let mut q = ActivityQuery::default();
        f(&mut q);
        all_pages(&c, q)
    };
    assert_eq!(q(|q| q.kind = "cycle".into()).len(), 70);
    assert_eq!(
        q(|q| q.pair = "p1".into()).len(),
        35,
        "pair: its cycles only"
    );
    assert_eq!(q(|q| q.status = "failed".into()).len(), 10);
    assert_eq!(q(|q| q.flow = "f".into()).len(), 70, "flow: runs only");
    let from = q(|q| q.from = "2026-12-07T10:10".into());
    assert_eq!(from.len(), 4 * 5 * 2);
    let to = q(|q| q.to = "2026-12-07T10:02".into());
    assert_eq!(to.len(), 2 * 5 * 2);
    assert!(load(
        &c,
        &ActivityQuery {
            from: "soon".into(),
            ..Default::default()
        },
        None
    )
    .unwrap_err()
    .contains("from="));
}

/// With 10k runs and 10k cycles, every filter reads through an index in timeline
/// order: no full scan sorted afterwards (a "TEMP B-TREE" in the plan).
#[test]
fn every_filter_reads_by_index_without_sorting() {
    let c = db();
    c.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
         INSERT INTO flow_runs (flow, started, status)
           SELECT 'f' || (i % 20), printf('2026-11-%02dT10:00:00.000Z', 1 + i % 28), 'ok' FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
         INSERT INTO service_sync_cycles (pair, started, finished, targeted, status, summary, report)
           SELECT 'p' || (i % 5), printf('2026-11-%02dT10:00:00.000Z', 1 + i % 28), '', 0, 'ok', '', '{}' FROM n;
         ANALYZE;",
    )
    .unwrap();
    assert!(ensure_run_indexes(&c).unwrap());
    let cursor = || {
        Some(Cursor {
            at: "2026-11-20T10:00:00.000Z".into(),
            kind: "run".into(),
            id: 5000,
        })
    };
    let spans = [
        Span {
            from: None,
            to: None,
            cursor: None,
        },
        Span {
            from: Some("2026-11-03T00:00:00.000Z".into()),
            to: Some("2026-11-09T00:00:00.000Z".into()),
            cursor: None,
        },
        Span {
            from: None,
            to: None,
            cursor: cursor(),
        },
    ];
    let text = |v: &str| vec![Sql::Text(v.into())];
    for span in &spans {
        for (kind, select, conds, args) in [
            ("run", "SELECT id FROM flow_runs", vec![], vec![]),
            (
                "run",
                "SELECT id FROM flow_runs",
                vec!["status = ?".to_string()],
                text("ok"),
            ),
            (
                "run",
                "SELECT id FROM flow_runs",
                vec!["flow = ?".to_string()],
                text("f3"),
            ),
            (
                "cycle",
                "SELECT id FROM service_sync_cycles",
                vec![],
                vec![],
            ),
            (
                "cycle",
                "SELECT id FROM service_sync_cycles",
                vec!["pair = ?".to_string()],
                text("p1"),
            ),
            (
                "cycle",
                "SELECT id FROM service_sync_cycles",
                vec!["status = ?".to_string()],
                text("ok"),
            ),
        ] {
            let (sql, args) = source_sql(kind, select, conds, args, span);
            let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan: Vec<String> = stmt
                .query_map(params_from_iter(args.iter()), |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = plan.join(" | ");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
            assert!(plan.contains("INDEX"), "{sql}: {plan}");
        }
    }
}
