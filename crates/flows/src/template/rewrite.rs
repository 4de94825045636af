//! Source-level helpers over minijinja's tokenizer:
//!
//! - `default` over a lookup chain (`trigger.a.b | default("x")`): under strict undefined
//!   minijinja fails on `.b` when `a` is missing, before `default` runs. The chain is
//!   rewritten into a call of [`DIG`], which walks it and yields undefined at the first
//!   missing link, so `default` applies. Only template source is rewritten, never data.
//! - the single-expression form (`"{{ expr }}"`), rendered typed.

use std::borrow::Cow;

use minijinja::machinery::{tokenize, Span, Token, WhitespaceConfig};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Rest, Value};

/// The internal function a `default` chain is rewritten into.
pub(crate) const DIG: &str = "__hlbridge_dig";

fn tokens(src: &str) -> Option<Vec<(Token<'_>, Span)>> {
    tokenize(src, false, SyntaxConfig, WhitespaceConfig::default())
        .collect::<Result<Vec<_>, _>>()
        .ok()
}

const KEYWORDS: &[&str] = &[
    "in",
    "not",
    "and",
    "or",
    "is",
    "if",
    "else",
    "for",
    "recursive",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "with",
    "set",
];

/// Walk `base[k1][k2]…`; undefined at the first missing link.
pub(crate) fn dig(base: Value, keys: Rest<Value>) -> Value {
    let mut cur = base;
    for k in keys.iter() {
        if cur.is_undefined() || cur.is_none() {
            return Value::UNDEFINED;
        }
        cur = match cur.get_item(k) {
            Ok(v) => v,
            Err(_) => return Value::UNDEFINED,
        };
    }
    cur
}

/// Rewrite every `chain | default` / `chain | d` whose chain is a plain lookup path.
pub(crate) fn defaults(src: &str) -> Cow<'_, str> {
    if !src.contains("default") && !src.contains("| d") && !src.contains("|d") {
        return Cow::Borrowed(src);
    }
    let Some(toks) = tokens(src) else {
        return Cow::Borrowed(src);
    };
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for i in 1..toks.len().saturating_sub(1) {
        let is_default = matches!(toks[i].0, Token::Pipe)
            && matches!(toks[i + 1].0, Token::Ident("default") | Token::Ident("d"));
        if !is_default {
            continue;
        }
        if let Some((start, end, text)) = chain_before(src, &toks, i) {
            edits.push((start, end, text));
        }
    }
    if edits.is_empty() {
        return Cow::Borrowed(src);
    }
    edits.sort_by_key(|e| e.0);
    let mut out = String::with_capacity(src.len() + 32 * edits.len());
    let mut pos = 0;
    for (start, end, text) in edits {
        if start < pos {
            continue; // nested inside an earlier (outer) chain
        }
        out.push_str(&src[pos..start]);
        out.push_str(&text);
        pos = end;
    }
    out.push_str(&src[pos..]);
    Cow::Owned(out)
}

/// The lookup chain ending just before the pipe at `pipe`: (start, end, replacement).
fn chain_before(
    src: &str,
    toks: &[(Token<'_>, Span)],
    pipe: usize,
) -> Option<(usize, usize, String)> {
    let end = toks[pipe - 1].1.end_offset as usize;
    let mut keys: Vec<String> = Vec::new();
    let mut j = pipe - 1;
    let base;
    loop {
        match &toks[j].0 {
            Token::BracketClose => {
                let close = j;
                let mut depth = 0usize;
                let mut k = j;
                loop {
                    match toks[k].0 {
                        Token::BracketClose | Token::ParenClose | Token::BraceClose => depth += 1,
                        Token::BracketOpen | Token::ParenOpen | Token::BraceOpen => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Token::Colon if depth == 1 => return None, // a slice
                        _ => {}
                    }
                    if k == 0 {
                        return None;
                    }
                    k -= 1;
                }
                if !matches!(toks[k].0, Token::BracketOpen) || k == 0 {
                    return None;
                }
                let inner =
                    &src[toks[k].1.end_offset as usize..toks[close].1.start_offset as usize];
                keys.push(format!("({inner})"));
                j = k - 1;
            }
            Token::Ident(name) => {
                if j > 0 && matches!(toks[j - 1].0, Token::Dot) {
                    keys.push(format!("{name:?}"));
                    j = j.checked_sub(2)?;
                } else {
                    if KEYWORDS.contains(name) || keys.is_empty() {
                        return None;
                    }
                    base = *name;
                    break;
                }
            }
            Token::Int(n) if j > 0 && matches!(toks[j - 1].0, Token::Dot) => {
                keys.push(n.to_string());
                j = j.checked_sub(2)?;
            }
            _ => return None,
        }
    }
    keys.reverse();
    let start = toks[j].1.start_offset as usize;
    Some((start, end, format!("{DIG}({base}, {})", keys.join(", "))))
}

/// When `src` is exactly one `{{ expr }}`, the expression's source.
pub(crate) fn single_expression(src: &str) -> Option<&str> {
    let t = src.trim_start();
    if !t.starts_with("{{") || !src.trim_end().ends_with("}}") {
        return None;
    }
    let toks = tokens(src)?;
    let (first, rest) = toks.split_first()?;
    let (last, middle) = rest.split_last()?;
    if !matches!(first.0, Token::VariableStart) || !matches!(last.0, Token::VariableEnd) {
        return None;
    }
    if middle.iter().any(|(t, _)| {
        matches!(
            t,
            Token::VariableStart
                | Token::VariableEnd
                | Token::BlockStart
                | Token::BlockEnd
                | Token::TemplateData(_)
        )
    }) {
        return None;
    }
    // Whitespace outside the tag would be part of the rendered string.
    if src.len() != src.trim().len() {
        return None;
    }
    let inner = &src[first.1.end_offset as usize..last.1.start_offset as usize];
    if inner.trim().is_empty() {
        return None;
    }
    Some(inner)
}
