//! Did-you-mean for every name a user writes (operations, parameters, fields, events,
//! steps, filters, templates): one edit distance and one closeness rule.

/// Levenshtein distance.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate within a third of the longer name (at least 2 edits).
pub(crate) fn nearest<'x>(
    want: &str,
    candidates: impl Iterator<Item = &'x str>,
) -> Option<&'x str> {
    candidates
        .map(|c| (distance(want, c), c))
        .filter(|(d, c)| *d <= (want.len().max(c.len()) / 3).max(2))
        .min()
        .map(|(_, c)| c)
}
