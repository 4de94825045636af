use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::rate::{Acquired, RateBudget, Window};

/// Two budgets on one database file through two connections: two processes.
fn two(windows: Vec<Window>, probe_ttl: Duration) -> (RateBudget, RateBudget, PathBuf) {
    let dir = crate::fsutil::test_dir("shared-slots");
    let path = dir.join("state.sqlite");
    let a = RateBudget::new(windows.clone())
        .with_shared(SharedSlots::open_with(&path, probe_ttl).unwrap());
    let b = RateBudget::new(windows).with_shared(SharedSlots::open_with(&path, probe_ttl).unwrap());
    (a, b, dir)
}

fn learned(limit: u32, remaining: u32, interval: Duration) -> Observation {
    Observation {
        limit: Some(limit),
        remaining: Some(remaining),
        interval: Some(interval),
    }
}

#[test]
fn slots_taken_by_one_process_count_for_the_other() {
    let minute = Duration::from_secs(60);
    let (a, b, dir) = two(vec![Window::new(100, minute)], PROBE_TTL);
    // The probe: one request goes out; the other process waits for its answer.
    assert!(a.try_acquire("k").unwrap().is_zero());
    let wait = b.try_acquire("k").unwrap();
    assert!(wait > Duration::ZERO && wait <= PROBE_POLL, "{wait:?}");
    // The answer teaches both: 5 a minute, 4 left.
    a.observe("k", 0, learned(5, 4, minute));
    assert_eq!(b.windows("k"), vec![Window::new(5, minute)]);
    let mut taken = 1;
    for round in 0..6 {
        for budget in [&a, &b] {
            if budget.try_acquire("k").unwrap().is_zero() {
                taken += 1;
            }
        }
        assert!(taken <= 5, "round {round}: {taken} slots of 5");
    }
    assert_eq!(taken, 5);
    let usage = b.usage("k");
    assert_eq!(usage.len(), 1);
    assert_eq!((usage[0].used, usage[0].left()), (5, 0));
    let wait = b.next_slot_in("k");
    assert!(wait > Duration::from_secs(50) && wait <= minute + Duration::from_millis(100));
    assert_eq!(a.stats().acquired + b.stats().acquired, 5);
    assert!(b.newest_slot("k").is_some());
    // Other keys are untouched, and a fresh process on the same file sees it all.
    assert!(b.try_acquire("other").unwrap().is_zero());
    let c = RateBudget::new(vec![Window::new(100, minute)])
        .with_shared(SharedSlots::open(&dir.join("state.sqlite")).unwrap());
    assert!(!c.try_acquire("k").unwrap().is_zero());
    assert_eq!(c.windows("k"), vec![Window::new(5, minute)]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn requests_the_server_counted_elsewhere_are_shared() {
    let minute = Duration::from_secs(60);
    let (a, b, dir) = two(vec![Window::new(10, minute)], PROBE_TTL);
    assert!(a.try_acquire("k").unwrap().is_zero());
    // The server counted 8 of 10: 7 were sent by a program that shares no database.
    a.observe("k", 0, learned(10, 2, minute));
    assert!(b.try_acquire("k").unwrap().is_zero());
    assert!(a.try_acquire("k").unwrap().is_zero());
    assert!(!b.try_acquire("k").unwrap().is_zero(), "10 of 10 spent");
    // An answer that teaches nothing new writes nothing.
    let conn = Connection::open(dir.join("state.sqlite")).unwrap();
    let updated = || -> i64 {
        conn.query_row(
            "SELECT updated_ms FROM rate_limits WHERE key = 'k'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let before = updated();
    std::thread::sleep(Duration::from_millis(5));
    b.observe("k", 0, learned(10, 0, minute));
    assert_eq!(updated(), before);
    b.observe("k", 0, learned(8, 0, minute));
    assert_ne!(updated(), before, "a new limit is stored");
    assert_eq!(a.windows("k"), vec![Window::new(8, minute)]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_429_pause_and_a_spent_day_hold_every_process() {
    let (a, b, dir) = two(vec![Window::new(100, Duration::from_secs(10))], PROBE_TTL);
    a.on_rejected("k", Duration::from_secs(30));
    let wait = b.try_acquire("k").unwrap();
    assert!(
        wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
    assert_eq!(a.stats().observed_429, 1);
    let info = RateLimitInfo {
        daily_limit: Some(200_000),
        daily_remaining: Some(0),
        ..RateLimitInfo::default()
    };
    a.mark_exhausted("day", Duration::from_secs(3600), info);
    match b.try_acquire("day") {
        Err(Error::DailyLimitReached { key, limits }) => {
            assert_eq!(key, "day");
            assert_eq!(limits.daily_limit, Some(200_000));
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_probe_without_an_answer_expires() {
    let ttl = Duration::from_millis(100);
    let (a, b, dir) = two(vec![Window::new(100, Duration::from_secs(10))], ttl);
    assert!(a.try_acquire("k").unwrap().is_zero());
    // a's request never got an answer (the process died): b probes after the ttl.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let wait = b.try_acquire("k").unwrap();
        if wait.is_zero() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the probe never expired"
        );
        std::thread::sleep(wait);
    }
    assert!(!a.shared().unwrap().observed("k").unwrap());
    b.observe("k", 0, Observation::default());
    assert!(a.shared().unwrap().observed("k").unwrap());
    assert!(a.try_acquire("k").unwrap().is_zero(), "observed: no probe");
    assert!(b.try_acquire("k").unwrap().is_zero());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn racing_processes_never_take_more_than_the_window() {
    let dir = crate::fsutil::test_dir("shared-race");
    let path = dir.join("state.sqlite");
    let minute = Duration::from_secs(60);
    let first = RateBudget::new(vec![Window::new(100, minute)])
        .with_shared(SharedSlots::open(&path).unwrap());
    assert!(first.try_acquire("k").unwrap().is_zero());
    first.observe("k", 0, learned(12, 11, minute));
    let taken = Arc::new(std::sync::atomic::AtomicU32::new(1));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let path = path.clone();
            let taken = taken.clone();
            std::thread::spawn(move || {
                let budget = RateBudget::new(vec![Window::new(100, minute)])
                    .with_shared(SharedSlots::open(&path).unwrap());
                for _ in 0..5 {
                    if budget.try_acquire("k").unwrap().is_zero() {
                        taken.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(taken.load(std::sync::atomic::Ordering::SeqCst), 12);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn long_windows_keep_few_rows_and_refuse_instead_of_sleeping() {
    let (a, _b, dir) = two(
        vec![
            Window::new(1_000, Duration::from_secs(1)),
            Window::new(3, Duration::from_secs(86_400)),
        ],
        PROBE_TTL,
    );
    a.observe("k", 0, Observation::default());
    for _ in 0..3 {
        assert!(a.try_acquire("k").unwrap().is_zero());
    }
    assert!(matches!(
        a.try_acquire("k"),
        Err(Error::DailyLimitReached { .. })
    ));
    assert_eq!(a.next_slot_in("k"), Duration::MAX);
    let conn = Connection::open(dir.join("state.sqlite")).unwrap();
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM rate_slots WHERE win = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(rows <= 3, "{rows} rows for 3 sends in one slice of a day");
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(unix)]
#[test]
fn the_database_is_created_private() {
    let dir = crate::fsutil::test_dir("shared-mode");
    let path = dir.join("new.sqlite");
    let budget = RateBudget::ghl_shared(&path).unwrap();
    assert!(budget.try_acquire("k").unwrap().is_zero());
    for file in ["new.sqlite", "new.sqlite-wal", "new.sqlite-shm"] {
        assert_eq!(
            crate::fsutil::mode_of(&dir.join(file)).unwrap(),
            0o600,
            "{file}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_lazy_store_creates_nothing_until_a_slot_is_taken() {
    let dir = crate::fsutil::test_dir("shared-lazy");
    let path = dir.join("later.sqlite");
    let budget = RateBudget::ghl_default().with_shared(SharedSlots::lazy(&path));
    assert!(!path.exists());
    assert!(budget.try_acquire("k").unwrap().is_zero());
    assert!(path.exists());
    // A path that cannot be a database: the slot is refused, nothing is sent uncounted.
    let bad = RateBudget::ghl_default().with_shared(SharedSlots::lazy(&dir));
    let err = bad.try_acquire("k").unwrap_err().to_string();
    assert!(err.contains(&dir.display().to_string()), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_slot_counts_from_its_answer() {
    let minute = Duration::from_secs(60);
    let (a, b, dir) = two(vec![Window::new(1, minute)], PROBE_TTL);
    a.observe("k", 0, Observation::default());
    let Acquired::Taken(slot) = a.try_take("k").unwrap() else {
        panic!("the window has room");
    };
    // The request took 300 ms to be answered (a busy machine, a slow network).
    std::thread::sleep(Duration::from_millis(300));
    // In flight: it counts until answered, even past its window.
    assert!(b.next_slot_in("k") > minute + PENDING_MAX - Duration::from_secs(1));
    a.settle("k", slot);
    // Answered: it counts for a window from the answer, not from when it was taken.
    let after = b.next_slot_in("k");
    assert!(
        after > minute - Duration::from_millis(150) && after <= minute + Duration::from_millis(50),
        "{after:?}"
    );
    assert!(
        !b.try_acquire("k").unwrap().is_zero(),
        "still one slot, not two"
    );
    let conn = Connection::open(dir.join("state.sqlite")).unwrap();
    let total: i64 = conn
        .query_row("SELECT SUM(count) FROM rate_slots", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, 1);
    std::fs::remove_dir_all(&dir).ok();
}
