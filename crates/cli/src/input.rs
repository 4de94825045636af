//! Reading `--param k=v` and `--body JSON|@file` into a call, with one-line errors.

use std::collections::BTreeMap;

use serde_json::Value;

/// A mistake in what the user typed: exit code 2, nothing sent.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn parse_params(raw: &[String]) -> Result<BTreeMap<String, Vec<String>>, UsageError> {
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for item in raw {
        let Some((k, v)) = item.split_once('=') else {
            return Err(UsageError(format!(
                "--param expects NAME=VALUE, got {item:?}"
            )));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(UsageError(format!(
                "--param {item:?} has an empty name; write NAME=VALUE"
            )));
        }
        params.entry(k.to_string()).or_default().push(v.to_string());
    }
    Ok(params)
}

/// `--body '{"a":1}'` or `--body @file.json` (`@-` reads standard input).
pub fn parse_body(raw: Option<&str>) -> Result<Option<Value>, UsageError> {
    let Some(raw) = raw else { return Ok(None) };
    let (text, source) = if let Some(path) = raw.strip_prefix('@') {
        let text = if path == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| UsageError(format!("--body @-: cannot read standard input: {e}")))?;
            s
        } else {
            std::fs::read_to_string(path)
                .map_err(|e| UsageError(format!("--body @{path}: cannot read the file: {e}")))?
        };
        (text, format!("--body @{path}"))
    } else {
        (raw.to_string(), "--body".to_string())
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        UsageError(format!(
            "{source} is not valid JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_and_body_errors_are_one_line() {
        assert!(parse_params(&["a=1".into(), "a=2".into(), "b=x=y".into()]).is_ok());
        let e = parse_params(&["novalue".into()]).unwrap_err();
        assert!(e.0.contains("NAME=VALUE"));
        let e = parse_body(Some("{bad")).unwrap_err();
        assert!(e.0.contains("not valid JSON") && !e.0.contains('\n'));
        assert_eq!(parse_body(Some("{\"a\":1}")).unwrap().unwrap()["a"], 1);
    }
}
