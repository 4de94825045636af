//! The contacts search-backed reads see: GHL's search index is eventually consistent.
//!
//! With a lag of `N` ms (`GhlConfig::search_lag`, `--search-lag-ms`, or
//! `searchLagMs` in `POST /emulator/settings`), a write reaches search `N` ms after it
//! happened: until then `POST /contacts/search`, the deprecated `GET /contacts/`,
//! `GET /contacts/business/{businessId}` and `GET /contacts/search/duplicate` show the
//! contact as it was before the write, or not at all if the write created it (and still
//! show a deleted contact). Direct reads (`GET /contacts/{id}`) and duplicate checks on
//! create are immediate, as in GHL, where they read the database.
//!
//! The index keeps, per contact, the version search shows and the versions waiting to
//! become visible, each with the instant it does. After every write the dispatcher
//! hands it the store's contacts ([`SearchIndex::observe`]): each contact that differs
//! from the newest version known is queued to appear `lag` later; each one gone is
//! queued to disappear. With no lag (the default) the index holds nothing and search
//! reads the store directly.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::contact::Contact;

#[derive(Debug, Default)]
struct Entry {
    /// The version search shows now (`None`: not visible).
    visible: Option<Contact>,
    /// Newer versions (`None`: deleted) and when each becomes visible, oldest first.
    pending: VecDeque<(Instant, Option<Contact>)>,
}

impl Entry {
    /// The newest version known (pending or visible).
    fn latest(&self) -> Option<&Contact> {
        match self.pending.back() {
            Some((_, c)) => c.as_ref(),
            None => self.visible.as_ref(),
        }
    }

    fn advance(&mut self, now: Instant) {
        while self.pending.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, version)) = self.pending.pop_front() {
                self.visible = version;
            }
        }
    }
}

/// Per-contact snapshots behind search; see the module documentation.
#[derive(Debug, Default)]
pub struct SearchIndex {
    lag: Duration,
    entries: HashMap<String, Entry>,
}

impl SearchIndex {
    pub fn lag(&self) -> Duration {
        self.lag
    }

    /// Change the lag. Whatever the store holds now is visible at once; later writes
    /// reach search `lag` after they happen.
    pub fn set_lag(&mut self, lag: Duration, contacts: &HashMap<String, Contact>) {
        self.lag = lag;
        self.entries.clear();
        if lag.is_zero() {
            return;
        }
        for c in contacts.values() {
            self.entries.insert(
                c.id.clone(),
                Entry {
                    visible: Some(c.clone()),
                    pending: VecDeque::new(),
                },
            );
        }
    }

    /// Take in the store's contacts after a write made at `now`.
    pub fn observe(&mut self, contacts: &HashMap<String, Contact>, now: Instant) {
        if self.lag.is_zero() {
            return;
        }
        let due = now + self.lag;
        for c in contacts.values() {
            match self.entries.get_mut(&c.id) {
                Some(entry) if entry.latest() == Some(c) => {}
                Some(entry) => entry.pending.push_back((due, Some(c.clone()))),
                None => {
                    let mut entry = Entry::default();
                    entry.pending.push_back((due, Some(c.clone())));
                    self.entries.insert(c.id.clone(), entry);
                }
            }
        }
        for (id, entry) in self.entries.iter_mut() {
            if entry.latest().is_some() && !contacts.contains_key(id) {
                entry.pending.push_back((due, None));
            }
        }
    }

    /// The contacts search sees at `now` (the store's own with no lag).
    pub fn visible<'a>(
        &'a mut self,
        contacts: &'a HashMap<String, Contact>,
        now: Instant,
    ) -> Vec<&'a Contact> {
        if self.lag.is_zero() {
            return contacts.values().collect();
        }
        for entry in self.entries.values_mut() {
            entry.advance(now);
        }
        self.entries
            .retain(|_, e| e.visible.is_some() || !e.pending.is_empty());
        self.entries
            .values()
            .filter_map(|e| e.visible.as_ref())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn contact(id: &str, name: &str) -> Contact {
        let mut c = Contact::new(id.into(), Utc::now());
        c.fields.insert("firstName".into(), name.into());
        c
    }

    fn names(
        index: &mut SearchIndex,
        store: &HashMap<String, Contact>,
        at: Instant,
    ) -> Vec<String> {
        let mut v: Vec<String> = index
            .visible(store, at)
            .iter()
            .map(|c| format!("{}={}", c.id, c.str_field("firstName").unwrap_or_default()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_reach_search_after_the_lag_in_order() {
        let t0 = Instant::now();
        let lag = Duration::from_millis(100);
        let mut store = HashMap::new();
        store.insert("a".to_string(), contact("a", "Ada"));
        let mut index = SearchIndex::default();
        index.set_lag(lag, &store);
        assert_eq!(names(&mut index, &store, t0), vec!["a=Ada"]);

        store.insert("b".to_string(), contact("b", "Bob"));
        index.observe(&store, t0);
        store.insert("a".to_string(), contact("a", "Ann"));
        index.observe(&store, t0 + Duration::from_millis(50));
        store.remove("b");
        index.observe(&store, t0 + Duration::from_millis(60));

        assert_eq!(
            names(&mut index, &store, t0 + Duration::from_millis(99)),
            vec!["a=Ada"]
        );
        assert_eq!(
            names(&mut index, &store, t0 + Duration::from_millis(100)),
            vec!["a=Ada", "b=Bob"]
        );
        assert_eq!(
            names(&mut index, &store, t0 + Duration::from_millis(155)),
            vec!["a=Ann", "b=Bob"]
        );
        assert_eq!(
            names(&mut index, &store, t0 + Duration::from_millis(160)),
            vec!["a=Ann"]
        );
    }

    #[test]
    fn no_lag_reads_the_store() {
        let mut store = HashMap::new();
        store.insert("a".to_string(), contact("a", "Ada"));
        let mut index = SearchIndex::default();
        index.observe(&store, Instant::now());
        assert_eq!(names(&mut index, &store, Instant::now()), vec!["a=Ada"]);
        assert!(index.entries.is_empty());
    }
}
