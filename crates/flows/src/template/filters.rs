//! The flow-specific filters: people, text, app data, JSON.

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use super::dates::shown;

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("e164", e164);
    env.add_filter("first_name", first_name);
    env.add_filter("last_name", last_name);
    env.add_filter("join_name", join_name);
    env.add_filter("slug", slug);
    env.add_filter("ghl_custom_field", ghl_custom_field);
    env.add_filter("sellsy_custom_field", sellsy_custom_field);
    env.add_filter("choice_label", choice_label);
    env.add_filter("choice_id", choice_id);
    env.add_filter("json_path", super::jsonpath::json_path);
    env.add_filter("fromjson", fromjson);
}

pub(crate) fn bad(filter: &str, expected: &str, got: &Value) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("filter `{filter}`: expected {expected}, got {}", shown(got)),
    )
}

fn string_in(filter: &str, v: &Value) -> Result<String, Error> {
    match v.kind() {
        ValueKind::String => Ok(v.as_str().unwrap_or_default().to_string()),
        ValueKind::Number => Ok(v.to_string()),
        _ => Err(bad(filter, "a string", v)),
    }
}

fn e164(v: Value, positional: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let region: Option<String> = positional.or(kwargs.get("region")?);
    kwargs.assert_all_used()?;
    let region = region
        .unwrap_or_else(|| "FR".to_string())
        .to_ascii_uppercase();
    let id = region.parse::<phonenumber::country::Id>().map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("filter `e164`: unknown region {region:?} (use a two-letter country code such as \"FR\" or \"US\")"),
        )
    })?;
    let raw = string_in("e164", &v)?;
    let expected = format!("a phone number valid in region {region}");
    let n = phonenumber::parse(Some(id), raw.trim()).map_err(|_| bad("e164", &expected, &v))?;
    if !n.is_valid() {
        return Err(bad("e164", &expected, &v));
    }
    Ok(n.format().mode(phonenumber::Mode::E164).to_string())
}

/// (first, last) of a full name; `Last, First` is read as such.
fn split_name(filter: &str, v: &Value) -> Result<(String, String), Error> {
    let s = match v.kind() {
        ValueKind::String => v.as_str().unwrap_or_default().trim().to_string(),
        ValueKind::None => String::new(),
        _ => return Err(bad(filter, "a full name (a string)", v)),
    };
    if let Some((last, first)) = s.split_once(',') {
        return Ok((first.trim().to_string(), last.trim().to_string()));
    }
    let mut words = s.split_whitespace();
    let first = words.next().unwrap_or_default().to_string();
    let last = words.collect::<Vec<_>>().join(" ");
    Ok((first, last))
}

fn first_name(v: Value) -> Result<String, Error> {
    Ok(split_name("first_name", &v)?.0)
}

fn last_name(v: Value) -> Result<String, Error> {
    Ok(split_name("last_name", &v)?.1)
}

fn join_name(first: Value, last: Value) -> Result<String, Error> {
    let part = |v: &Value| -> Result<String, Error> {
        match v.kind() {
            ValueKind::None | ValueKind::Undefined => Ok(String::new()),
            _ => string_in("join_name", v).map(|s| s.trim().to_string()),
        }
    };
    let (f, l) = (part(&first)?, part(&last)?);
    Ok([f, l]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" "))
}

fn fold(c: char) -> &'static str {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'ī' => "i",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => "o",
        'œ' => "oe",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' => "u",
        'ý' | 'ÿ' => "y",
        'ß' => "ss",
        'ś' | 'š' => "s",
        'ź' | 'ż' | 'ž' => "z",
        'ł' => "l",
        'ř' => "r",
        'ť' => "t",
        'ď' => "d",
        _ => "",
    }
}

fn slug(v: Value) -> Result<String, Error> {
    let s = string_in("slug", &v)?;
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for c in s.chars().flat_map(char::to_lowercase) {
        let piece: String = if c.is_ascii_alphanumeric() {
            c.to_string()
        } else {
            fold(c).to_string()
        };
        if piece.is_empty() {
            dash = !out.is_empty();
            continue;
        }
        if dash {
            out.push('-');
            dash = false;
        }
        out.push_str(&piece);
    }
    Ok(out)
}

fn field(v: &Value, name: &str) -> Option<Value> {
    v.get_attr(name).ok().filter(|x| !x.is_undefined())
}

fn key_eq(v: &Value, name: &str, want: &str) -> bool {
    field(v, name).is_some_and(|x| match x.as_str() {
        Some(s) => s == want,
        None => x.to_string() == want,
    })
}

fn entries(filter: &str, v: &Value, path: &[&str], expected: &str) -> Result<Vec<Value>, Error> {
    let mut list = v.clone();
    if v.kind() == ValueKind::Map {
        let mut cur = Some(v.clone());
        for p in path {
            cur = cur.and_then(|c| field(&c, p));
        }
        list = match cur {
            Some(l) => l,
            None => return Ok(Vec::new()),
        };
    }
    if list.kind() != ValueKind::Seq {
        return Err(bad(filter, expected, v));
    }
    Ok(list.try_iter()?.collect())
}

fn ghl_custom_field(v: Value, key: String) -> Result<Value, Error> {
    const EXPECTED: &str = "a GHL contact (with `customFields`) or its list of `{id, key, value}`";
    let mut list = entries("ghl_custom_field", &v, &["customFields"], EXPECTED)?;
    if list.is_empty() && v.kind() == ValueKind::Map {
        list = entries("ghl_custom_field", &v, &["customField"], EXPECTED)?;
    }
    let bare = key.strip_prefix("contact.").unwrap_or(&key);
    let long = format!("contact.{bare}");
    for e in &list {
        if key_eq(e, "id", &key)
            || key_eq(e, "key", bare)
            || key_eq(e, "key", &long)
            || key_eq(e, "fieldKey", &long)
        {
            for name in ["value", "field_value", "fieldValue"] {
                if let Some(x) = field(e, name) {
                    return Ok(x);
                }
            }
            return Ok(Value::from(()));
        }
    }
    Ok(Value::from(()))
}

fn sellsy_custom_field(v: Value, code: String) -> Result<Value, Error> {
    const EXPECTED: &str =
        "a Sellsy object (with `_embed.custom_fields`) or its list of custom fields";
    let list = entries(
        "sellsy_custom_field",
        &v,
        &["_embed", "custom_fields"],
        EXPECTED,
    )?;
    for e in &list {
        if key_eq(e, "code", &code) || key_eq(e, "id", &code) {
            return Ok(field(e, "value").unwrap_or(Value::from(())));
        }
    }
    Ok(Value::from(()))
}

/// Options as (id, label) pairs.
fn options(filter: &str, o: &Value) -> Result<Vec<(Value, Value)>, Error> {
    const EXPECTED: &str = "options as a list of `{id, label}` or a map id → label";
    match o.kind() {
        ValueKind::Map => o
            .try_iter()?
            .map(|k| Ok((k.clone(), o.get_item(&k)?)))
            .collect::<Result<_, Error>>(),
        ValueKind::Seq => o
            .try_iter()?
            .map(|e| match (field(&e, "id"), field(&e, "label")) {
                (Some(id), Some(label)) => Ok((id, label)),
                _ => Err(bad(filter, EXPECTED, o)),
            })
            .collect(),
        _ => Err(bad(filter, EXPECTED, o)),
    }
}

fn same(a: &Value, b: &Value, fold_case: bool) -> bool {
    let (x, y) = (
        a.as_str().map(str::to_string).unwrap_or(a.to_string()),
        b.as_str().map(str::to_string).unwrap_or(b.to_string()),
    );
    if fold_case {
        x.trim().to_lowercase() == y.trim().to_lowercase()
    } else {
        x == y
    }
}

fn choice(filter: &str, v: &Value, opts: &Value, to_label: bool) -> Result<Value, Error> {
    let opts = options(filter, opts)?;
    let one = |x: &Value| -> Result<Value, Error> {
        let hit = opts.iter().find(|(id, label)| {
            if to_label {
                same(id, x, false)
            } else {
                same(label, x, true)
            }
        });
        match hit {
            Some((id, label)) => Ok(if to_label { label.clone() } else { id.clone() }),
            None => {
                let known: Vec<String> = opts
                    .iter()
                    .map(|(id, l)| {
                        if to_label {
                            id.to_string()
                        } else {
                            l.to_string()
                        }
                    })
                    .collect();
                Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "filter `{filter}`: {} is not among the option {} ({})",
                        shown(x),
                        if to_label { "ids" } else { "labels" },
                        known.join(", ")
                    ),
                ))
            }
        }
    };
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => Ok(Value::from(())),
        ValueKind::Seq => Ok(Value::from(
            v.try_iter()?
                .map(|x| one(&x))
                .collect::<Result<Vec<_>, _>>()?,
        )),
        ValueKind::String | ValueKind::Number => one(v),
        _ => Err(bad(filter, "an option id or label (or a list of them)", v)),
    }
}

fn choice_label(v: Value, opts: Value) -> Result<Value, Error> {
    choice("choice_label", &v, &opts, true)
}

fn choice_id(v: Value, opts: Value) -> Result<Value, Error> {
    choice("choice_id", &v, &opts, false)
}

fn fromjson(v: Value) -> Result<Value, Error> {
    let s = v
        .as_str()
        .ok_or_else(|| bad("fromjson", "a string of JSON", &v))?;
    let parsed: serde_json::Value = serde_json::from_str(s).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("filter `fromjson`: expected a string of JSON, the text is not JSON ({e})"),
        )
    })?;
    Ok(Value::from_serialize(&parsed))
}
