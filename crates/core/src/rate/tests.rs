use super::*;

#[tokio::test(start_paused = true)]
async fn never_exceeds_a_window() {
    let budget =
        RateBudget::new(vec![Window::new(5, Duration::from_secs(1))]).with_margin(Duration::ZERO);
    let start = Instant::now();
    let mut times = Vec::new();
    for _ in 0..12 {
        budget.acquire("k").await.unwrap();
        times.push(start.elapsed());
    }
    for (i, t) in times.iter().enumerate() {
        let in_window = times
            .iter()
            .filter(|u| **u <= *t && *t - **u < Duration::from_secs(1))
            .count();
        assert!(
            in_window <= 5,
            "request {i} at {t:?} saw {in_window} in its window"
        );
    }
    assert!(times[11] >= Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn learns_from_server_remaining() {
    let budget = RateBudget::new(vec![Window::new(10, Duration::from_secs(10))]);
    budget.observe(
        "k",
        0,
        Observation {
            limit: Some(10),
            remaining: Some(0),
            interval: None,
        },
    );
    let start = Instant::now();
    budget.acquire("k").await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(10));
}

#[tokio::test]
async fn exhausted_daily_fails_fast() {
    let budget = RateBudget::ghl_default();
    budget.mark_exhausted("k", Duration::from_secs(60), RateLimitInfo::default());
    assert!(matches!(
        budget.acquire("k").await,
        Err(Error::DailyLimitReached { .. })
    ));
    assert!(budget.acquire("other").await.is_ok());
}

fn entries(budget: &RateBudget, key: &str) -> Vec<usize> {
    budget.with_key(key, |st| st.windows.iter().map(|w| w.log.len()).collect())
}

fn sellsy_like() -> RateBudget {
    RateBudget::new(vec![
        Window::new(5, Duration::from_secs(1)),
        Window::new(150, Duration::from_secs(60)),
        Window::new(50_000, Duration::from_secs(86_400)),
        Window::new(1_000_000, Duration::from_secs(30 * 86_400)),
    ])
}

fn remaining(n: u32) -> Observation {
    Observation {
        remaining: Some(n),
        ..Observation::default()
    }
}

#[tokio::test(start_paused = true)]
async fn spent_second_with_room_in_the_minute_waits_for_the_next_second() {
    let budget = sellsy_like();
    for _ in 0..3 {
        budget.acquire("k").await.unwrap();
    }
    budget.observe("k", 0, remaining(0));
    budget.observe("k", 1, remaining(100));
    budget.observe("k", 2, remaining(40_000));
    budget.observe("k", 3, remaining(900_000));
    let wait = budget.next_slot_in("k");
    assert!(wait > Duration::ZERO, "the second is spent");
    assert!(wait <= Duration::from_millis(1_050), "{wait:?}");
    let start = Instant::now();
    budget.acquire("k").await.unwrap();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(1) - Duration::from_millis(5)
            && took <= Duration::from_millis(1_050),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn spent_minute_with_known_limit_waits_for_its_oldest_request() {
    let budget = RateBudget::new(vec![
        Window::new(5, Duration::from_secs(1)),
        Window::new(150, Duration::from_secs(60)),
    ])
    .with_margin(Duration::ZERO);
    budget.observe(
        "k",
        1,
        Observation {
            limit: Some(10),
            ..Observation::default()
        },
    );
    // Ten requests, one every 2 s: the oldest is 18 s old after the last one.
    for i in 0..10 {
        if i > 0 {
            tokio::time::advance(Duration::from_secs(2)).await;
        }
        budget.acquire("k").await.unwrap();
    }
    budget.observe("k", 0, remaining(4));
    budget.observe("k", 1, remaining(0));
    let wait = budget.next_slot_in("k");
    assert_eq!(
        wait,
        Duration::from_secs(42),
        "60 s after the oldest, not a full minute"
    );
}

#[tokio::test(start_paused = true)]
async fn spent_minute_with_a_guessed_limit_waits_at_most_the_minute() {
    let budget = sellsy_like();
    budget.acquire("k").await.unwrap();
    tokio::time::advance(Duration::from_secs(20)).await;
    budget.observe("k", 1, remaining(0));
    let wait = budget.next_slot_in("k");
    assert!(
        wait >= Duration::from_secs(40) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    let start = Instant::now();
    budget.acquire("k").await.unwrap();
    assert!(start.elapsed() <= Duration::from_secs(60) + Duration::from_millis(50));
}

#[tokio::test(start_paused = true)]
async fn the_wait_is_the_longest_over_spent_windows_only() {
    let budget = RateBudget::new(vec![
        Window::new(2, Duration::from_secs(1)),
        Window::new(3, Duration::from_secs(10)),
    ])
    .with_margin(Duration::ZERO);
    budget.acquire("k").await.unwrap();
    budget.acquire("k").await.unwrap();
    // Only the second is spent: next second.
    assert_eq!(budget.next_slot_in("k"), Duration::from_secs(1));
    tokio::time::advance(Duration::from_secs(1)).await;
    budget.acquire("k").await.unwrap();
    // Both spent now: the 10 s window frees when the first request turns 10 s old.
    assert_eq!(budget.next_slot_in("k"), Duration::from_secs(9));
}

#[tokio::test(start_paused = true)]
async fn a_spent_day_or_month_stops_instead_of_sleeping() {
    for index in [2, 3] {
        let budget = sellsy_like();
        budget.acquire("k").await.unwrap();
        budget.observe("k", index, remaining(0));
        let start = Instant::now();
        let err = budget.acquire("k").await.unwrap_err();
        assert!(matches!(err, Error::DailyLimitReached { .. }), "{err}");
        assert_eq!(start.elapsed(), Duration::ZERO, "no sleep");
        assert_eq!(budget.next_slot_in("k"), Duration::MAX);
    }
    // Learned from the account's quotas: the day's limit used up locally.
    let budget = RateBudget::new(vec![Window::new(3, Duration::from_secs(86_400))]);
    for _ in 0..3 {
        budget.acquire("k").await.unwrap();
    }
    assert!(matches!(
        budget.acquire("k").await,
        Err(Error::DailyLimitReached { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_huge_limit_or_padding_never_grows_the_log() {
    let budget = RateBudget::new(vec![Window::new(u32::MAX, Duration::from_secs(10))]);
    // The server reports almost all of four billion requests spent by others.
    budget.observe("k", 0, remaining(1));
    assert_eq!(entries(&budget, "k"), vec![1]);
    assert!(budget.try_acquire("k").unwrap().is_zero());
    assert!(!budget.try_acquire("k").unwrap().is_zero(), "now spent");

    // 200 000 real sends spread over the window: coalesced into slices.
    let budget = RateBudget::new(vec![Window::new(1_000_000, Duration::from_secs(10))]);
    for _ in 0..200_000 {
        budget.acquire("k").await.unwrap();
        tokio::time::advance(Duration::from_micros(50)).await;
    }
    let n = entries(&budget, "k")[0];
    assert!(n <= LOG_BUCKETS as usize + 2, "{n} entries");
    assert_eq!(budget.with_key("k", |st| st.windows[0].total), 200_000);
}

#[tokio::test(start_paused = true)]
async fn absurd_inputs_are_clamped() {
    let budget = RateBudget::ghl_default();
    budget.observe(
        "k",
        0,
        Observation {
            limit: Some(u32::MAX),
            remaining: Some(0),
            interval: Some(Duration::MAX),
        },
    );
    assert_eq!(
        budget.windows("k"),
        vec![Window::new(
            max_learned_limit(MAX_LEARNED_INTERVAL),
            MAX_LEARNED_INTERVAL
        )]
    );
    assert_eq!(max_learned_limit(Duration::from_secs(10)), 100_000);
    assert_eq!(max_learned_limit(Duration::from_nanos(1)), 1);
    budget.observe(
        "k",
        0,
        Observation {
            limit: Some(0),
            remaining: None,
            interval: Some(Duration::ZERO),
        },
    );
    assert_eq!(
        budget.windows("k")[0].interval,
        MAX_LEARNED_INTERVAL,
        "0 keeps what was known"
    );
    // Pauses and exhaustion far in the future do not overflow the clock.
    let other = RateBudget::ghl_default();
    other.on_rejected("k", Duration::MAX);
    let start = Instant::now();
    other.acquire("k").await.unwrap();
    assert!(start.elapsed() <= MAX_RETRY_AFTER + Duration::from_millis(1));
    other.mark_exhausted("k", Duration::MAX, RateLimitInfo::default());
    assert!(other.try_acquire("k").is_err());
    // A window configured with no room at all fails instead of panicking.
    let none = RateBudget::new(vec![Window::new(0, Duration::from_secs(1))]);
    assert!(none.try_acquire("k").is_err());
}

#[tokio::test(start_paused = true)]
async fn try_acquire_takes_nothing_when_it_says_wait() {
    let budget = RateBudget::new(vec![Window::new(1, Duration::from_secs(1))]);
    assert!(budget.try_acquire("k").unwrap().is_zero());
    let first = budget.newest_slot("k").unwrap();
    tokio::time::advance(Duration::from_millis(300)).await;
    assert!(!budget.try_acquire("k").unwrap().is_zero());
    assert_eq!(budget.newest_slot("k"), Some(first));
    assert_eq!(budget.stats().acquired, 1);
    assert_eq!(budget.usage("k")[0].left(), 0);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(budget.usage("k")[0].left(), 1, "the send aged out");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn observation() -> impl Strategy<Value = Observation> {
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(prop_oneof![
                any::<u64>().prop_map(Duration::from_millis),
                any::<u64>().prop_map(Duration::from_nanos),
                Just(Duration::MAX),
                Just(Duration::ZERO),
            ]),
        )
            .prop_map(|(limit, remaining, interval)| Observation {
                limit,
                remaining,
                interval,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever servers report, the budget stays usable: a slot within the
        /// longest bounded wait, or an immediate `DailyLimitReached` only when a
        /// learned window is longer than the budget will sleep.
        #[test]
        fn learning_keeps_the_budget_usable(
            steps in proptest::collection::vec(
                (0usize..3, observation(), proptest::option::of(any::<u64>())),
                1..12,
            ),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            rt.block_on(async {
                let budget = RateBudget::new(vec![
                    Window::new(5, Duration::from_secs(1)),
                    Window::new(100, Duration::from_secs(10)),
                ]);
                for (index, obs, pause) in steps {
                    budget.observe("k", index, obs);
                    if let Some(ms) = pause {
                        budget.on_rejected("k", Duration::from_millis(ms));
                    }
                }
                for w in budget.windows("k") {
                    prop_assert!(w.interval <= MAX_LEARNED_INTERVAL);
                    prop_assert!(w.limit >= 1);
                    prop_assert!(w.limit <= max_learned_limit(w.interval).max(100));
                }
                for n in entries(&budget, "k") {
                    prop_assert!(n <= 1, "{n} entries");
                }
                let long = budget
                    .windows("k")
                    .iter()
                    .any(|w| w.interval + Duration::from_millis(50) > MAX_WINDOW_WAIT);
                let start = Instant::now();
                match budget.acquire("k").await {
                    Ok(()) => {
                        let took = start.elapsed();
                        prop_assert!(
                            took <= MAX_WINDOW_WAIT.max(MAX_RETRY_AFTER),
                            "{took:?}"
                        );
                    }
                    Err(Error::DailyLimitReached { .. }) => {
                        prop_assert!(long, "stopped though every window frees soon");
                        prop_assert_eq!(start.elapsed(), Duration::ZERO);
                    }
                    Err(e) => prop_assert!(false, "{e}"),
                }
                Ok(())
            })?;
        }
    }
}
