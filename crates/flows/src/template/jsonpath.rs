//! A small JSONPath: `$`, `.key`, `['key']` / `["key"]`, `[n]`, `[-n]` and `[*]`.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

#[derive(Debug, PartialEq)]
enum Seg {
    Key(String),
    Index(i64),
    All,
}

fn invalid(path: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("filter `json_path`: expected a path such as \"$.items[0].name\", {path:?} {why}"),
    )
}

fn parse(path: &str) -> Result<Vec<Seg>, Error> {
    let p = path.trim();
    let rest = p
        .strip_prefix('$')
        .ok_or_else(|| invalid(path, "does not start with `$`"))?;
    let chars: Vec<char> = rest.chars().collect();
    let mut segs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && chars[j] != '.' && chars[j] != '[' {
                    j += 1;
                }
                let key: String = chars[start..j].iter().collect();
                if key.is_empty() {
                    return Err(invalid(path, "has an empty key after `.`"));
                }
                segs.push(if key == "*" { Seg::All } else { Seg::Key(key) });
                i = j;
            }
            '[' => {
                let close = chars[i..]
                    .iter()
                    .position(|c| *c == ']')
                    .ok_or_else(|| invalid(path, "has an unclosed `[`"))?
                    + i;
                let inner: String = chars[i + 1..close].iter().collect();
                let inner = inner.trim();
                let quoted = (inner.starts_with('\'') && inner.ends_with('\''))
                    || (inner.starts_with('"') && inner.ends_with('"'));
                segs.push(if inner == "*" {
                    Seg::All
                } else if quoted && inner.len() >= 2 {
                    Seg::Key(inner[1..inner.len() - 1].to_string())
                } else {
                    Seg::Index(inner.parse().map_err(|_| {
                        invalid(
                            path,
                            "has a `[...]` that is neither an index, `*` nor a quoted key",
                        )
                    })?)
                });
                i = close + 1;
            }
            _ => return Err(invalid(path, "has a step not starting with `.` or `[`")),
        }
    }
    Ok(segs)
}

fn step(v: &Value, seg: &Seg) -> Vec<Value> {
    match seg {
        Seg::Key(k) if v.kind() == ValueKind::Map => v
            .get_attr(k)
            .ok()
            .filter(|x| !x.is_undefined())
            .into_iter()
            .collect(),
        Seg::Index(n) if v.kind() == ValueKind::Seq => {
            let len = v.len().unwrap_or(0) as i64;
            let idx = if *n < 0 { len + n } else { *n };
            if (0..len).contains(&idx) {
                v.get_item_by_index(idx as usize).ok().into_iter().collect()
            } else {
                Vec::new()
            }
        }
        Seg::All => match v.kind() {
            ValueKind::Seq => v.try_iter().map(|i| i.collect()).unwrap_or_default(),
            ValueKind::Map => v
                .try_iter()
                .map(|keys| keys.filter_map(|k| v.get_item(&k).ok()).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// `json_path(path)`: the value at `path`; a list when the path has `[*]`; `none` when absent.
pub(crate) fn json_path(v: Value, path: String) -> Result<Value, Error> {
    let segs = parse(&path)?;
    let many = segs.contains(&Seg::All);
    let mut cur = vec![v];
    for s in &segs {
        cur = cur.iter().flat_map(|x| step(x, s)).collect();
    }
    Ok(if many {
        Value::from(cur)
    } else {
        cur.into_iter().next().unwrap_or(Value::from(()))
    })
}
