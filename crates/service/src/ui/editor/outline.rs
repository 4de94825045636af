//! Where a `LINE:COL` of a flow file lies in the flow: the path of keys and list
//! indexes (as a JSON pointer, `/steps/4/action/params/limit`) of the value written
//! there. Block YAML is followed by indentation; one-line flow collections
//! (`{ value: x, op: equals }`, `[a, b]`) by column. Block scalars (`|`, `>`) belong to
//! their key. Anchors, aliases, tags and multi-line flow collections are not followed
//! (their lines map to the enclosing key).

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn pointer(segs: &[Seg]) -> String {
    let mut out = String::new();
    for s in segs {
        out.push('/');
        match s {
            Seg::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
            Seg::Index(i) => out.push_str(&i.to_string()),
        }
    }
    out
}

/// `key:` at the start of `s` (plain or quoted): the key and the byte length up to and
/// including the colon.
fn leading_key(s: &str) -> Option<(String, usize)> {
    let bytes = s.as_bytes();
    let (key, end) = match bytes.first()? {
        q @ (b'"' | b'\'') => {
            let close = s[1..].find(*q as char)? + 1;
            (s[1..close].to_string(), close + 1)
        }
        _ => {
            let mut end = None;
            for (i, c) in s.char_indices() {
                if c == '#' || c == '{' || c == '[' || c == ',' {
                    return None;
                }
                if c == ':' && s[i + 1..].chars().next().is_none_or(char::is_whitespace) {
                    end = Some(i);
                    break;
                }
            }
            let end = end?;
            (s[..end].trim_end().to_string(), end)
        }
    };
    (s[end..].starts_with(':') && !key.is_empty()).then(|| (key, end + 1))
}

/// Positions (1-based columns) where a path starts in a one-line flow collection
/// beginning at `start_col`, relative to `base`.
fn inline_events(text: &str, start_col: usize, base: &[Seg], out: &mut Vec<(usize, String)>) {
    enum C {
        Map(Option<String>),
        Seq(usize),
    }
    let mut stack: Vec<C> = Vec::new();
    let path = |stack: &[C]| -> Vec<Seg> {
        let mut p = base.to_vec();
        for c in stack {
            match c {
                C::Map(Some(k)) => p.push(Seg::Key(k.clone())),
                C::Seq(i) => p.push(Seg::Index(*i)),
                C::Map(None) => {}
            }
        }
        p
    };
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let col = start_col + i;
        match chars[i] {
            '{' => stack.push(C::Map(None)),
            '[' => {
                stack.push(C::Seq(0));
                out.push((col + 1, pointer(&path(&stack))));
            }
            '}' | ']' => {
                stack.pop();
            }
            ',' => match stack.last_mut() {
                Some(C::Seq(n)) => {
                    *n += 1;
                    out.push((col + 1, pointer(&path(&stack))));
                }
                Some(C::Map(k)) => *k = None,
                None => {}
            },
            '"' | '\'' => {
                let q = chars[i];
                let close = chars[i + 1..].iter().position(|c| *c == q);
                let end = close.map_or(chars.len(), |c| i + 1 + c);
                let after: String = chars[end.min(chars.len())..].iter().collect();
                if matches!(stack.last(), Some(C::Map(None))) && after.starts_with(&format!("{q}:"))
                {
                    let key: String = chars[i + 1..end].iter().collect();
                    if let Some(C::Map(k)) = stack.last_mut() {
                        *k = Some(key);
                    }
                    out.push((col, pointer(&path(&stack))));
                }
                i = end;
            }
            c if !c.is_whitespace() && matches!(stack.last(), Some(C::Map(None))) => {
                let rest: String = chars[i..].iter().collect();
                if let Some((key, len)) = leading_key(&rest) {
                    if let Some(C::Map(k)) = stack.last_mut() {
                        *k = Some(key);
                    }
                    out.push((col, pointer(&path(&stack))));
                    i += rest[..len].chars().count();
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// The JSON pointer of what `line`:`col` (1-based) of `text` points at; "" for the
/// whole file (comments, blank lines before any key, lines past the end).
pub fn path_at(text: &str, line: usize, col: usize) -> String {
    // (indent, segment) frames of the current block context.
    let mut stack: Vec<(usize, Seg)> = Vec::new();
    // Inside a block scalar whose key sits at this indent.
    let mut block: Option<usize> = None;
    for (n, raw) in text.lines().enumerate() {
        let is_target = n + 1 == line;
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        let trimmed = raw.trim();
        if let Some(b) = block {
            if trimmed.is_empty() || indent > b {
                if is_target {
                    return pointer(&stack.iter().map(|f| f.1.clone()).collect::<Vec<_>>());
                }
                continue;
            }
            block = None;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" {
            if is_target {
                return String::new();
            }
            continue;
        }
        // Events of this line: (1-based column, path) in order.
        let mut events: Vec<(usize, String)> = Vec::new();
        let mut at = indent;
        let mut rest = &raw[indent..];
        loop {
            if rest == "-" || rest.starts_with("- ") {
                let mut next = 0;
                while let Some((i, _)) = stack.last() {
                    if *i > at {
                        stack.pop();
                    } else if *i == at && matches!(stack.last(), Some((_, Seg::Index(_)))) {
                        if let Some((_, Seg::Index(k))) = stack.pop() {
                            next = k + 1;
                        }
                    } else {
                        break;
                    }
                }
                stack.push((at, Seg::Index(next)));
                let segs: Vec<Seg> = stack.iter().map(|f| f.1.clone()).collect();
                events.push((at + 1, pointer(&segs)));
                let after = rest[1..].trim_start_matches(' ');
                at += rest.len() - after.len();
                rest = after;
                continue;
            }
            break;
        }
        if let Some((key, len)) = leading_key(rest) {
            while stack.last().is_some_and(|(i, _)| *i >= at) {
                stack.pop();
            }
            stack.push((at, Seg::Key(key)));
            let segs: Vec<Seg> = stack.iter().map(|f| f.1.clone()).collect();
            events.push((at + 1, pointer(&segs)));
            let value = &rest[len..];
            let v = value.trim_start();
            let vcol = at + len + (value.len() - v.len()) + 1;
            if v.starts_with('|') || v.starts_with('>') {
                block = Some(at);
            } else if v.starts_with('{') || v.starts_with('[') {
                inline_events(v, vcol, &segs, &mut events);
            }
        } else if rest.starts_with('{') || rest.starts_with('[') {
            let segs: Vec<Seg> = stack.iter().map(|f| f.1.clone()).collect();
            inline_events(rest, at + 1, &segs, &mut events);
        }
        if is_target {
            let pick = events
                .iter()
                .rev()
                .find(|(c, _)| *c <= col)
                .or(events.first());
            return match pick {
                Some((_, p)) => p.clone(),
                None => pointer(&stack.iter().map(|f| f.1.clone()).collect::<Vec<_>>()),
            };
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::path_at;

    const YAML: &str = "schema_version: 1\nname: demo\ntrigger:\n  webhook:\n    app: ghl\n    events: [ContactCreate, NoteCreate]\nsteps:\n  # a comment\n  - id: only\n    filter:\n      all:\n        - { value: \"{{ trigger.x }}\", op: equals, arg: won }\n  - id: call\n    action:\n      operation: \"ghl:contacts.get-contact\"\n      params:\n        contactId: \"{{ trigger.id }}\"\n        bogus: 1\n    retry: { attempts: 3 }\n  - id: top\n    map:\n      text: >\n        folded\n        text\n      after: 2\n";

    #[test]
    fn lines_and_columns_map_to_paths() {
        assert_eq!(path_at(YAML, 2, 1), "/name");
        assert_eq!(path_at(YAML, 5, 5), "/trigger/webhook/app");
        assert_eq!(path_at(YAML, 6, 20), "/trigger/webhook/events/0");
        assert_eq!(path_at(YAML, 6, 35), "/trigger/webhook/events/1");
        assert_eq!(path_at(YAML, 8, 3), "");
        assert_eq!(path_at(YAML, 9, 3), "/steps/0");
        assert_eq!(path_at(YAML, 9, 7), "/steps/0/id");
        assert_eq!(path_at(YAML, 12, 40), "/steps/0/filter/all/0/op");
        assert_eq!(path_at(YAML, 12, 52), "/steps/0/filter/all/0/arg");
        assert_eq!(path_at(YAML, 12, 13), "/steps/0/filter/all/0/value");
        assert_eq!(path_at(YAML, 15, 7), "/steps/1/action/operation");
        assert_eq!(path_at(YAML, 18, 9), "/steps/1/action/params/bogus");
        assert_eq!(path_at(YAML, 19, 18), "/steps/1/retry/attempts");
        assert_eq!(path_at(YAML, 20, 5), "/steps/2/id");
        assert_eq!(path_at(YAML, 23, 7), "/steps/2/map/text");
        assert_eq!(path_at(YAML, 25, 5), "/steps/2/map/after");
        assert_eq!(path_at(YAML, 99, 1), "");
    }
}
